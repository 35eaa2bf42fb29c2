//! Fuzzes the journal's readers of untrusted bytes: segment headers, frame framing and
//! checksums, the walk, torn-tail classification, recovery, iteration, random access, tailing
//! and `verify`, on a segment file built from the input in one of three ways:
//!
//! - mode 0: the input is the whole segment file (header parser first);
//! - mode 1: a valid header followed by the input as the frame area;
//! - mode 2: a real journal written from the input's record specs, then damaged at offsets the
//!   input names (reaches the deep paths: valid frames, seals, chain, recovery decisions).
//!
//! Properties: nothing panics; every error is one line; a journal that opens and verifies
//! iterates exactly the records `verify` counted, in seq order, and `get` agrees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_journal::format::{GENESIS_CHAIN, SEGMENT_HEADER_LEN, SegmentHeader};
use starlog_journal::{Durability, JournalOptions, JournalReader, JournalWriter, Tailer};

const SEGMENT: usize = 8192;

fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("tempdir")
}

fn one_line(e: &starlog_journal::Error) {
    let s = e.to_string();
    assert!(!s.contains('\n'), "multi-line error: {s:?}");
}

fn build(mode: u8, rest: &[u8], path: &std::path::Path) -> Option<Vec<u8>> {
    match mode % 3 {
        0 => Some(rest.to_vec()),
        1 => {
            let mut file = vec![0u8; SEGMENT];
            let header = SegmentHeader {
                segment_index: 0,
                segment_size: SEGMENT as u64,
                first_seq: 1,
                prev_chain: GENESIS_CHAIN,
                prev_sum: 0,
                prev_timestamp_ns: i64::MIN,
            };
            header.encode(&mut file[..SEGMENT_HEADER_LEN]);
            let n = rest.len().min(SEGMENT - SEGMENT_HEADER_LEN);
            file[SEGMENT_HEADER_LEN..SEGMENT_HEADER_LEN + n].copy_from_slice(&rest[..n]);
            Some(file)
        }
        _ => {
            // Record specs (kind, len, commit?) from pairs of bytes until a 0xFF, then damage
            // triples (offset hi, offset lo, xor).
            let split = rest.iter().position(|&b| b == 0xFF).unwrap_or(rest.len());
            let (specs, damage) = rest.split_at(split);
            let dir = path.join("w");
            let opts =
                JournalOptions { segment_size_bytes: SEGMENT as u64, durability: Durability::None, sync_hook: None };
            let (mut w, _) = JournalWriter::open(&dir, opts).ok()?;
            for (i, pair) in specs.chunks_exact(2).take(64).enumerate() {
                let len = usize::from(pair[1] % 120);
                w.append(u16::from(pair[0]), i as i64, &vec![pair[0]; len]).ok()?;
                if pair[1] & 0x80 != 0 {
                    w.commit().ok()?;
                }
            }
            drop(w);
            let mut file = std::fs::read(dir.join("000000000000.seg")).ok()?;
            for t in damage.get(1..).unwrap_or(&[]).chunks_exact(3) {
                let off = usize::from(u16::from_be_bytes([t[0], t[1]])) % file.len();
                file[off] ^= t[2];
            }
            Some(file)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let tmp = scratch();
    let Some(file) = build(mode, rest, tmp.path()) else { return };
    let dir = tmp.path().join("j");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("000000000000.seg"), &file).expect("write");

    match JournalReader::open(&dir) {
        Err(e) => one_line(&e),
        Ok(reader) => {
            let verified = reader.verify();
            let mut seqs = Vec::new();
            let mut iter_error = false;
            for r in reader.iter() {
                match r {
                    Ok(r) => seqs.push(r.seq),
                    Err(e) => {
                        one_line(&e);
                        iter_error = true;
                    }
                }
            }
            assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "seqs out of order: {seqs:?}");
            match verified {
                Ok(report) => {
                    assert!(!iter_error, "verify passed but iteration failed");
                    assert_eq!(report.records, seqs.len() as u64);
                    for &s in seqs.iter().step_by(5) {
                        assert_eq!(reader.get(s).expect("get").map(|r| r.seq), Some(s));
                    }
                }
                Err(e) => one_line(&e),
            }
        }
    }
    if let Ok(mut t) = Tailer::open(&dir, 1) {
        for _ in 0..200 {
            match t.poll() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    one_line(&e);
                    break;
                }
            }
        }
    }
    // Recovery: either a clear error, or a journal that then verifies cleanly.
    let opts = JournalOptions { segment_size_bytes: SEGMENT as u64, durability: Durability::None, sync_hook: None };
    match JournalWriter::open(&dir, opts) {
        Err(e) => one_line(&e),
        Ok((w, _)) => {
            drop(w);
            let report = JournalReader::open(&dir).and_then(|r| r.verify()).expect("recovered journal verifies");
            assert!(report.torn_tail.is_none() && report.unsealed_records == 0);
        }
    }
});
