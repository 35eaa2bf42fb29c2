//! The on-disk format: byte offsets, the segment header and the frame header, and the pure
//! functions that encode and check them. No I/O here; `journal/FORMAT.md` is the prose version
//! of this file and the two must agree.
//!
//! All integers are little-endian. Offsets are chained constants so that a field can never
//! silently overlap the next one.

/// Magic at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"STARLOGJ";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

// ---- segment header (256 bytes) --------------------------------------------------------
pub const SH_MAGIC: usize = 0;
pub const SH_VERSION: usize = SH_MAGIC + 8;
pub const SH_HEADER_LEN: usize = SH_VERSION + 2;
pub const SH_FLAGS: usize = SH_HEADER_LEN + 2;
pub const SH_SEGMENT_INDEX: usize = SH_FLAGS + 4;
pub const SH_SEGMENT_SIZE: usize = SH_SEGMENT_INDEX + 8;
pub const SH_FIRST_SEQ: usize = SH_SEGMENT_SIZE + 8;
pub const SH_PREV_CHAIN: usize = SH_FIRST_SEQ + 8;
pub const SH_PREV_SUM: usize = SH_PREV_CHAIN + 32;
pub const SH_PREV_TIMESTAMP: usize = SH_PREV_SUM + 4;
pub const SH_RESERVED: usize = SH_PREV_TIMESTAMP + 8;
pub const SH_SUM: usize = 124;
/// Bytes `0..SH_STABLE_LEN` are written once at segment creation and checksummed.
pub const SH_STABLE_LEN: usize = SH_SUM + 4;
/// Volatile area (not checksummed, never trusted by recovery): the commit watermark that
/// tailers poll, and the `closed` flag set when the writer rolls to the next segment.
pub const SH_WATERMARK: usize = SH_STABLE_LEN;
pub const SH_STATE: usize = SH_WATERMARK + 8;
/// The first frame of a segment starts here.
pub const SEGMENT_HEADER_LEN: usize = 256;
const _: () = assert!(SH_RESERVED <= SH_SUM);
const _: () = assert!(SH_STATE + 8 <= SEGMENT_HEADER_LEN);
const _: () = assert!(SH_WATERMARK.is_multiple_of(8) && SH_STATE.is_multiple_of(8));

/// `SH_STATE` bit: the writer has rolled past this segment; nothing more will be appended.
pub const STATE_CLOSED: u64 = 1;

// ---- frame header (32 bytes) -------------------------------------------------------------
// The checksum comes first so that it covers one contiguous run: bytes 4..32 of the header and the
// payload after them.
pub const FH_SUM: usize = 0;
pub const FH_PAYLOAD_LEN: usize = FH_SUM + 4;
pub const FH_KIND: usize = FH_PAYLOAD_LEN + 4;
pub const FH_FLAGS: usize = FH_KIND + 2;
pub const FH_PREV_SUM: usize = FH_FLAGS + 2;
pub const FH_SEQ: usize = FH_PREV_SUM + 4;
pub const FH_TIMESTAMP: usize = FH_SEQ + 8;
pub const FRAME_HEADER_LEN: usize = FH_TIMESTAMP + 8;
const _: () = assert!(FRAME_HEADER_LEN == 32);

/// Frames start, and payloads therefore start, on this alignment (relative to the file, whose
/// mapping is page-aligned), so an rkyv archive can be read in place.
pub const FRAME_ALIGN: usize = 16;
const _: () = assert!(FRAME_HEADER_LEN.is_multiple_of(FRAME_ALIGN) && SEGMENT_HEADER_LEN.is_multiple_of(FRAME_ALIGN));

/// Kinds at or above this value are the journal's own frames; callers may not use them.
pub const KIND_RESERVED_MIN: u16 = 0xFF00;
/// A seal frame closes a commit batch and carries the hash-chain head.
pub const KIND_SEAL: u16 = 0xFF01;

// ---- seal payload (48 bytes) -------------------------------------------------------------
pub const SEAL_CHAIN: usize = 0;
pub const SEAL_FIRST_SEQ: usize = SEAL_CHAIN + 32;
pub const SEAL_BATCH_LEN: usize = SEAL_FIRST_SEQ + 8;
pub const SEAL_PAYLOAD_LEN: usize = SEAL_BATCH_LEN + 8;
/// A seal frame's full length on disk.
pub const SEAL_FRAME_LEN: usize = align_frame(FRAME_HEADER_LEN + SEAL_PAYLOAD_LEN);

/// Chain head before the first record of a journal.
pub const GENESIS_CHAIN: [u8; 32] = [0; 32];

/// Smallest segment size accepted, in bytes (one page).
pub const SEGMENT_SIZE_BYTES_MIN: u64 = 4096;
/// Largest segment size accepted, in bytes: frame offsets are kept in `u32`.
pub const SEGMENT_SIZE_BYTES_MAX: u64 = 1 << 31;

/// Round `len` up to the frame alignment.
pub const fn align_frame(len: usize) -> usize {
    (len + FRAME_ALIGN - 1) & !(FRAME_ALIGN - 1)
}

/// The largest payload that fits in a segment of `segment_size` bytes together with the seal
/// that must close the segment.
pub fn payload_len_max(segment_size: u64) -> usize {
    let usable = segment_size as usize - SEGMENT_HEADER_LEN - SEAL_FRAME_LEN - FRAME_HEADER_LEN;
    usable & !(FRAME_ALIGN - 1)
}

#[inline]
pub fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
#[inline]
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}
#[inline]
pub fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}
#[inline]
pub fn i64_at(b: &[u8], off: usize) -> i64 {
    u64_at(b, off) as i64
}
pub fn hash_at(b: &[u8], off: usize) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(&b[off..off + 32]);
    a
}

/// The checksummed part of a segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub segment_index: u64,
    pub segment_size: u64,
    /// Seq of the first record in this segment (the next seq when it was created).
    pub first_seq: u64,
    /// Chain head after the last seal of the previous segment.
    pub prev_chain: [u8; 32],
    /// Checksum of the last frame of the previous segment (0 for the first segment).
    pub prev_sum: u32,
    /// Timestamp of the last record of the previous segment (`i64::MIN` for the first).
    pub prev_timestamp_ns: i64,
}

/// Why a segment header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFault {
    /// Fewer bytes than a header.
    Truncated,
    /// Every byte is zero: the segment was created but its header never reached the disk.
    Zeroed,
    /// Not a starlog segment.
    BadMagic,
    /// Written by a newer (or unknown) format version.
    Version(u16),
    /// The header's own checksum does not hold, or a field is impossible.
    BadChecksum,
    Invalid(&'static str),
}

impl SegmentHeader {
    pub fn encode(&self, out: &mut [u8]) {
        debug_assert!(out.len() >= SH_STABLE_LEN);
        out[..SH_STABLE_LEN].fill(0);
        out[SH_MAGIC..SH_MAGIC + 8].copy_from_slice(&SEGMENT_MAGIC);
        out[SH_VERSION..SH_VERSION + 2].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[SH_HEADER_LEN..SH_HEADER_LEN + 2].copy_from_slice(&(SEGMENT_HEADER_LEN as u16).to_le_bytes());
        out[SH_SEGMENT_INDEX..SH_SEGMENT_INDEX + 8].copy_from_slice(&self.segment_index.to_le_bytes());
        out[SH_SEGMENT_SIZE..SH_SEGMENT_SIZE + 8].copy_from_slice(&self.segment_size.to_le_bytes());
        out[SH_FIRST_SEQ..SH_FIRST_SEQ + 8].copy_from_slice(&self.first_seq.to_le_bytes());
        out[SH_PREV_CHAIN..SH_PREV_CHAIN + 32].copy_from_slice(&self.prev_chain);
        out[SH_PREV_SUM..SH_PREV_SUM + 4].copy_from_slice(&self.prev_sum.to_le_bytes());
        out[SH_PREV_TIMESTAMP..SH_PREV_TIMESTAMP + 8].copy_from_slice(&self.prev_timestamp_ns.to_le_bytes());
        let sum = checksum(&out[..SH_SUM]);
        out[SH_SUM..SH_SUM + 4].copy_from_slice(&sum.to_le_bytes());
    }

    /// Decode and check the stable part of a header (`b` may be longer).
    pub fn decode(b: &[u8]) -> Result<SegmentHeader, HeaderFault> {
        if b.len() < SH_STABLE_LEN {
            return Err(HeaderFault::Truncated);
        }
        let b = &b[..SH_STABLE_LEN];
        if b.iter().all(|&x| x == 0) {
            return Err(HeaderFault::Zeroed);
        }
        if b[SH_MAGIC..SH_MAGIC + 8] != SEGMENT_MAGIC {
            return Err(HeaderFault::BadMagic);
        }
        let version = u16_at(b, SH_VERSION);
        if version != FORMAT_VERSION {
            return Err(HeaderFault::Version(version));
        }
        if checksum(&b[..SH_SUM]) != u32_at(b, SH_SUM) {
            return Err(HeaderFault::BadChecksum);
        }
        if usize::from(u16_at(b, SH_HEADER_LEN)) != SEGMENT_HEADER_LEN {
            return Err(HeaderFault::Invalid("header length"));
        }
        if u32_at(b, SH_FLAGS) != 0 {
            return Err(HeaderFault::Invalid("unknown header flags"));
        }
        let header = SegmentHeader {
            segment_index: u64_at(b, SH_SEGMENT_INDEX),
            segment_size: u64_at(b, SH_SEGMENT_SIZE),
            first_seq: u64_at(b, SH_FIRST_SEQ),
            prev_chain: hash_at(b, SH_PREV_CHAIN),
            prev_sum: u32_at(b, SH_PREV_SUM),
            prev_timestamp_ns: i64_at(b, SH_PREV_TIMESTAMP),
        };
        if !(SEGMENT_SIZE_BYTES_MIN..=SEGMENT_SIZE_BYTES_MAX).contains(&header.segment_size)
            || !header.segment_size.is_multiple_of(SEGMENT_SIZE_BYTES_MIN)
        {
            return Err(HeaderFault::Invalid("segment size"));
        }
        if header.first_seq == 0 {
            return Err(HeaderFault::Invalid("first seq is 0"));
        }
        Ok(header)
    }
}

/// A decoded frame header whose checksum holds (context not yet checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub payload_len: u32,
    pub kind: u16,
    pub seq: u64,
    pub timestamp_ns: i64,
    pub prev_sum: u32,
    pub sum: u32,
}

impl Frame {
    /// Bytes this frame occupies, padding included.
    pub fn len_on_disk(&self) -> usize {
        align_frame(FRAME_HEADER_LEN + self.payload_len as usize)
    }
}

/// Why the bytes at an offset are not a valid frame. Only the first three may be a torn write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameFault {
    /// All 32 header bytes are zero: nothing was written here (end of data, or a lost page).
    Zero,
    /// The frame would extend past the end of the segment.
    Overrun,
    /// The checksum does not hold.
    BadChecksum,
    /// Checksum holds but padding after the payload is not zero.
    BadPadding,
    /// Checksum holds but a field is impossible (reserved flags, unknown reserved kind).
    Invalid(&'static str),
}

/// Write a frame header for a payload already in place at `buf[FRAME_HEADER_LEN..]`; returns the
/// frame's checksum.
pub fn seal_frame_header(
    buf: &mut [u8],
    kind: u16,
    seq: u64,
    timestamp_ns: i64,
    prev_sum: u32,
    payload_len: u32,
) -> u32 {
    // Assemble the header in a fixed array (constant offsets, no bounds checks), copy it once,
    // then checksum it together with the payload behind it.
    let mut h = [0u8; FRAME_HEADER_LEN];
    h[FH_PAYLOAD_LEN..FH_PAYLOAD_LEN + 4].copy_from_slice(&payload_len.to_le_bytes());
    h[FH_KIND..FH_KIND + 2].copy_from_slice(&kind.to_le_bytes());
    h[FH_PREV_SUM..FH_PREV_SUM + 4].copy_from_slice(&prev_sum.to_le_bytes());
    h[FH_SEQ..FH_SEQ + 8].copy_from_slice(&seq.to_le_bytes());
    h[FH_TIMESTAMP..FH_TIMESTAMP + 8].copy_from_slice(&timestamp_ns.to_le_bytes());
    let end = FRAME_HEADER_LEN + payload_len as usize;
    let frame = &mut buf[..end];
    frame[..FRAME_HEADER_LEN].copy_from_slice(&h);
    let sum = checksum(&frame[FH_SUM + 4..]);
    frame[FH_SUM..FH_SUM + 4].copy_from_slice(&sum.to_le_bytes());
    sum
}

/// Decode and checksum the frame at `b[off..]` (`b` ends at the end of the segment or of the
/// committed region).
#[inline(always)]
pub fn check_frame(b: &[u8], off: usize) -> Result<Frame, FrameFault> {
    debug_assert!(off.is_multiple_of(FRAME_ALIGN));
    let Some(h) = b.get(off..off + FRAME_HEADER_LEN) else {
        return if b[off.min(b.len())..].iter().all(|&x| x == 0) {
            Err(FrameFault::Zero)
        } else {
            Err(FrameFault::Overrun)
        };
    };
    let payload_len = u32_at(h, FH_PAYLOAD_LEN);
    if FRAME_HEADER_LEN + payload_len as usize > b.len() - off {
        return Err(FrameFault::Overrun);
    }
    // Padding past the end of `b` can only be missing from a file cut short, where it reads as
    // zeros (the writer restores the file's length with zeros on recovery).
    let padded_end = (off + align_frame(FRAME_HEADER_LEN + payload_len as usize)).min(b.len());
    let end = off + FRAME_HEADER_LEN + payload_len as usize;
    let sum = u32_at(h, FH_SUM);
    if checksum(&b[off + FH_SUM + 4..end]) != sum {
        // An all-zero header never checksums (XXH3 of 28 zero bytes is not zero), so the common
        // end-of-data case costs nothing on the path of valid frames.
        return Err(if h == [0u8; FRAME_HEADER_LEN] { FrameFault::Zero } else { FrameFault::BadChecksum });
    }
    if b[end..padded_end].iter().any(|&x| x != 0) {
        return Err(FrameFault::BadPadding);
    }
    if u16_at(h, FH_FLAGS) != 0 {
        return Err(FrameFault::Invalid("reserved frame flags set"));
    }
    let kind = u16_at(h, FH_KIND);
    if kind >= KIND_RESERVED_MIN && kind != KIND_SEAL {
        return Err(FrameFault::Invalid("unknown reserved kind"));
    }
    if kind == KIND_SEAL && payload_len as usize != SEAL_PAYLOAD_LEN {
        return Err(FrameFault::Invalid("seal of the wrong length"));
    }
    Ok(Frame {
        payload_len,
        kind,
        seq: u64_at(h, FH_SEQ),
        timestamp_ns: i64_at(h, FH_TIMESTAMP),
        prev_sum: u32_at(h, FH_PREV_SUM),
        sum,
    })
}

/// The frame and header checksum: XXH3-64 of `bytes`, truncated to 32 bits (FORMAT.md says why).
#[inline]
pub fn checksum(bytes: &[u8]) -> u32 {
    xxhash_rust::xxh3::xxh3_64(bytes) as u32
}

/// Chain head after a batch: BLAKE3(previous head ‖ every byte of the batch's frames).
pub fn chain_next(prev: &[u8; 32], batch: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(batch);
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_faults() {
        let h = SegmentHeader {
            segment_index: 3,
            segment_size: 1 << 20,
            first_seq: 77,
            prev_chain: [9; 32],
            prev_sum: 0xdead_beef,
            prev_timestamp_ns: -5,
        };
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        h.encode(&mut b);
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        assert_eq!(SegmentHeader::decode(&b[..100]), Err(HeaderFault::Truncated));
        assert_eq!(SegmentHeader::decode(&[0u8; 256]), Err(HeaderFault::Zeroed));
        let mut v = b;
        v[SH_VERSION] = 2;
        assert_eq!(SegmentHeader::decode(&v), Err(HeaderFault::Version(2)));
        let mut m = b;
        m[0] = b'X';
        assert_eq!(SegmentHeader::decode(&m), Err(HeaderFault::BadMagic));
        let mut c = b;
        c[SH_FIRST_SEQ] ^= 1;
        assert_eq!(SegmentHeader::decode(&c), Err(HeaderFault::BadChecksum));
        // The volatile area is not covered.
        let mut w = b;
        w[SH_WATERMARK] = 0xff;
        assert_eq!(SegmentHeader::decode(&w), Ok(h));
    }

    #[test]
    fn frame_round_trip_and_faults() {
        let mut b = vec![0u8; 128];
        b[FRAME_HEADER_LEN..FRAME_HEADER_LEN + 5].copy_from_slice(b"hello");
        let sum = seal_frame_header(&mut b, 7, 42, 1_000, 0x1234, 5);
        let f = check_frame(&b, 0).expect("valid frame");
        assert_eq!((f.kind, f.seq, f.timestamp_ns, f.prev_sum, f.sum), (7, 42, 1_000, 0x1234, sum));
        assert_eq!(f.len_on_disk(), 48);
        assert_eq!(check_frame(&b, 48), Err(FrameFault::Zero));
        assert_ne!(checksum(&[0u8; FRAME_HEADER_LEN - 4]), 0, "a zero header must never checksum");
        assert_eq!(check_frame(&b[..36], 0), Err(FrameFault::Overrun));
        assert!(check_frame(&b[..40], 0).is_ok(), "padding cut off reads as zeros");
        let mut p = b.clone();
        p[40] = 1;
        assert_eq!(check_frame(&p, 0), Err(FrameFault::BadPadding));
        for bit in 0..(37 * 8) {
            let mut x = b.clone();
            x[bit / 8] ^= 1 << (bit % 8);
            assert!(check_frame(&x, 0).is_err(), "bit {bit} flip undetected");
        }
    }
}
