//! Helpers shared by the journal's integration tests.
#![allow(dead_code)]

use std::path::Path;

use starlog_journal::{Durability, JournalOptions, JournalReader, JournalWriter};

pub const SMALL_SEGMENT: u64 = 4096;

pub fn opts(segment: u64, durability: Durability) -> JournalOptions {
    JournalOptions { segment_size_bytes: segment, durability, sync_hook: None }
}

/// A deterministic payload for `seq`, of `len` bytes.
pub fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every record of the journal in `dir` as owned tuples (seq, kind, ts, payload).
pub fn read_all(dir: &Path) -> Vec<(u64, u16, i64, Vec<u8>)> {
    let r = JournalReader::open(dir).expect("open reader");
    r.iter().map(|x| x.expect("record")).map(|x| (x.seq, x.kind, x.timestamp_ns, x.payload.to_vec())).collect()
}

/// Write `n` records of `len` bytes, committing every `batch`; returns the dir's records.
pub fn write_records(dir: &Path, segment: u64, n: u64, len: usize, batch: u64) -> Vec<(u64, u16, i64, Vec<u8>)> {
    let (mut w, _) = JournalWriter::open(dir, opts(segment, Durability::None)).expect("open writer");
    let mut out = Vec::new();
    for i in 0..n {
        let seq = w.next_seq();
        let p = payload(seq, len);
        let ts = 1_000 + i as i64 * 10;
        assert_eq!(w.append((i % 7) as u16, ts, &p).expect("append"), seq);
        out.push((seq, (i % 7) as u16, ts, p));
        if (i + 1) % batch == 0 {
            w.commit().expect("commit");
        }
    }
    w.commit().expect("commit");
    out
}

/// Segment files of a journal dir, sorted.
pub fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// Copy a journal directory's segment files (not its lock) into `to`.
pub fn copy_journal(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for f in segment_files(from) {
        std::fs::copy(&f, to.join(f.file_name().expect("name"))).expect("copy");
    }
}

/// Offsets (start, end-of-frame incl. padding) of every frame in a segment file, walking the
/// framing directly (independent of the library's walker).
pub fn frame_offsets(bytes: &[u8]) -> Vec<(usize, usize, u16)> {
    let mut v = Vec::new();
    let mut off = 256;
    while off + 32 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[off + 4..off + 8].try_into().expect("4")) as usize;
        let kind = u16::from_le_bytes(bytes[off + 8..off + 10].try_into().expect("2"));
        if bytes[off..off + 32].iter().all(|&b| b == 0) {
            break;
        }
        let end = off + (32 + len).div_ceil(16) * 16;
        v.push((off, end, kind));
        off = end;
    }
    v
}
