//! The state hasher: a `core::hash::Hasher` whose output is the same on every machine, so that
//! "replay gives the same state hash" holds across platforms. It feeds XXH3-128 with every
//! integer as fixed-width little-endian bytes (including `usize` lengths, as `u64`), so a
//! `#[derive(Hash)]` on plain state is portable; the standard `DefaultHasher` is neither stable
//! across Rust versions nor seeded the same in every process. How std's own types feed a hasher
//! (an `Option`'s discriminant, a `str`'s terminator) is not promised across Rust versions
//! either: the test below pins it, so a toolchain that changes it fails here first.

use core::hash::Hasher;

use xxhash_rust::xxh3::Xxh3;

/// Portable hasher for engine state. `finish` gives 64 bits; `finish_128` the full digest.
#[derive(Clone)]
pub struct StateHasher(Xxh3);

impl core::fmt::Debug for StateHasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StateHasher")
    }
}

impl Default for StateHasher {
    fn default() -> StateHasher {
        StateHasher::new()
    }
}

impl StateHasher {
    pub fn new() -> StateHasher {
        StateHasher(Xxh3::new())
    }

    /// The 128-bit digest, as 16 little-endian bytes.
    pub fn finish_128(&self) -> [u8; 16] {
        self.0.digest128().to_le_bytes()
    }
}

impl Hasher for StateHasher {
    fn finish(&self) -> u64 {
        self.0.digest()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.0.update(&[i]);
    }
    fn write_u16(&mut self, i: u16) {
        self.0.update(&i.to_le_bytes());
    }
    fn write_u32(&mut self, i: u32) {
        self.0.update(&i.to_le_bytes());
    }
    fn write_u64(&mut self, i: u64) {
        self.0.update(&i.to_le_bytes());
    }
    fn write_u128(&mut self, i: u128) {
        self.0.update(&i.to_le_bytes());
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8);
    }
    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16);
    }
    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_i128(&mut self, i: i128) {
        self.write_u128(i as u128);
    }
    fn write_isize(&mut self, i: isize) {
        self.write_i64(i as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::Hash;

    #[derive(Hash)]
    struct State {
        a: i64,
        b: Vec<u32>,
        c: Option<u16>,
        d: &'static str,
    }

    #[test]
    fn digests_are_fixed_across_runs_and_machines() {
        let mut h = StateHasher::new();
        State { a: -1, b: vec![1, 2, 3], c: Some(7), d: "x" }.hash(&mut h);
        // Pinned: a change here means replays of existing journals report different hashes.
        assert_eq!(h.finish(), {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&(-1i64).to_le_bytes());
            bytes.extend_from_slice(&3u64.to_le_bytes());
            for x in [1u32, 2, 3] {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            bytes.extend_from_slice(&1u64.to_le_bytes()); // Some's discriminant, as isize
            bytes.extend_from_slice(&7u16.to_le_bytes());
            bytes.extend_from_slice(b"x");
            bytes.push(0xff); // str's terminator
            xxhash_rust::xxh3::xxh3_64(&bytes)
        });
        let mut h2 = StateHasher::new();
        State { a: -1, b: vec![1, 2, 3], c: Some(7), d: "x" }.hash(&mut h2);
        assert_eq!(h.finish_128(), h2.finish_128());
        let mut h3 = StateHasher::new();
        State { a: -1, b: vec![1, 2, 3], c: Some(8), d: "x" }.hash(&mut h3);
        assert_ne!(h.finish_128(), h3.finish_128());
    }
}
