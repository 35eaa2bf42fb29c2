//! `JournalReader::read_ahead`: the records `iter` yields, in the same order, with the checking
//! on a helper thread — across segment rolls and chunk boundaries, stopped early, and up to a
//! damaged record, whose error it returns after handing over every record before it.

mod common;

use std::ops::ControlFlow;

use common::*;
use starlog_journal::JournalReader;

type Owned = (u64, u16, i64, Vec<u8>);

/// Everything `read_ahead` hands over, and how it ended.
fn read_ahead_all(r: &JournalReader) -> (Vec<Owned>, Result<(), String>) {
    let mut seen = Vec::new();
    let ended = r.read_ahead(|rec| {
        seen.push((rec.seq, rec.kind, rec.timestamp_ns, rec.payload.to_vec()));
        ControlFlow::<()>::Continue(())
    });
    let ended = match ended {
        Ok(ControlFlow::Continue(())) => Ok(()),
        Ok(ControlFlow::Break(())) => unreachable!("never breaks"),
        Err(e) => Err(e.to_string()),
    };
    (seen, ended)
}

/// Everything `iter` yields before its first error, and that error.
fn iter_all(r: &JournalReader) -> (Vec<Owned>, Result<(), String>) {
    let mut seen = Vec::new();
    for rec in r.iter() {
        match rec {
            Ok(rec) => seen.push((rec.seq, rec.kind, rec.timestamp_ns, rec.payload.to_vec())),
            Err(e) => return (seen, Err(e.to_string())),
        }
    }
    (seen, Ok(()))
}

#[test]
fn read_ahead_hands_over_what_iter_yields_across_rolls_and_chunks() {
    let dir = tempfile::tempdir().unwrap();
    // 1300 records: more than five chunks of 256, over many 64 KiB segments.
    let written = write_records(dir.path(), 16 * SMALL_SEGMENT, 1300, 200, 37);
    assert!(segment_files(dir.path()).len() > 3, "expected several segment rolls");
    let r = JournalReader::open(dir.path()).unwrap();
    let (seen, ended) = read_ahead_all(&r);
    assert_eq!(ended, Ok(()));
    assert_eq!(seen, written);
    assert_eq!((seen, ended), iter_all(&r));
}

#[test]
fn read_ahead_of_a_journal_without_records_hands_over_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), SMALL_SEGMENT, 0, 10, 1);
    let r = JournalReader::open(dir.path()).unwrap();
    assert_eq!(read_ahead_all(&r), (vec![], Ok(())));
}

#[test]
fn a_break_stops_the_walk_and_is_returned() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 16 * SMALL_SEGMENT, 2000, 64, 100);
    let r = JournalReader::open(dir.path()).unwrap();
    let mut seqs = Vec::new();
    let ended = r
        .read_ahead(|rec| {
            seqs.push(rec.seq);
            if rec.seq == 700 { ControlFlow::Break(rec.seq * 2) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert_eq!(ended, ControlFlow::Break(1400));
    assert_eq!(seqs, (1..=700).collect::<Vec<_>>());
}

#[test]
fn damage_is_reported_after_every_record_before_it() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 16 * SMALL_SEGMENT, 1300, 200, 37);
    // Flip one payload byte of a record in the second segment (not the last: the reader opens).
    let seg = segment_files(dir.path())[1].clone();
    let mut bytes = std::fs::read(&seg).unwrap();
    let (start, _, _) = frame_offsets(&bytes).iter().filter(|f| f.2 != 0xFF01).nth(40).copied().unwrap();
    bytes[start + 40] ^= 0x10;
    std::fs::write(&seg, &bytes).unwrap();
    let r = JournalReader::open(dir.path()).unwrap();
    let (seen, ended) = read_ahead_all(&r);
    let e = ended.clone().expect_err("the damaged record is an error");
    assert!(e.contains("checksum"), "{e}");
    assert!(seen.len() > 256, "records of earlier chunks were handed over first: {}", seen.len());
    assert_eq!((seen, ended), iter_all(&r), "the same records, then the same error, as iter");
}
