//! Behaviour of the journal API: appends, commits, rolls, reads, recovery reports, the writer
//! lock, misuse, and bad input on open.

mod common;

use common::*;
use starlog_journal::format::{SEGMENT_HEADER_LEN, SH_VERSION};
use starlog_journal::{Durability, Error, JournalOptions, JournalReader, JournalWriter, Tailer};

#[test]
fn round_trip_across_segments_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_records(dir.path(), SMALL_SEGMENT, 500, 100, 17);
    assert!(segment_files(dir.path()).len() > 5, "expected several segment rolls");
    assert_eq!(read_all(dir.path()), written);

    let r = JournalReader::open(dir.path()).unwrap();
    let report = r.verify().unwrap();
    assert_eq!((report.records, report.first_seq, report.last_seq), (500, 1, 500));
    assert_eq!(report.chain_seq, 500);
    assert!(report.from_genesis && report.torn_tail.is_none() && report.unsealed_records == 0);

    // Random access and iteration from the middle, including segment starts.
    for seq in [1, 2, 63, 64, 65, 129, 250, 499, 500] {
        let rec = r.get(seq).unwrap().expect("present");
        assert_eq!(rec.payload, &written[seq as usize - 1].3[..]);
        assert_eq!(rec.payload.as_ptr() as usize % 16, 0, "payload must be 16-byte aligned");
        let tail: Vec<u64> = r.iter_from(seq).unwrap().map(|x| x.unwrap().seq).collect();
        assert_eq!(tail, (seq..=500).collect::<Vec<_>>());
    }
    assert!(r.get(501).unwrap().is_none());
    drop(r);

    // Reopen the writer: it continues the chain where it stopped.
    let (mut w, rec) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::Batch)).unwrap();
    assert_eq!((rec.next_seq, rec.created, rec.truncated.clone(), rec.resealed_records), (501, false, None, 0));
    let head = w.chain_head();
    assert_eq!(head.last_seq, 500);
    assert_eq!(head.chain_head, report.chain_head);
    assert_eq!(w.append(3, 99_999, b"after reopen").unwrap(), 501);
    let c = w.commit().unwrap();
    assert_eq!(c.last_seq, 501);
    drop(w);
    let report2 = JournalReader::open(dir.path()).unwrap().verify().unwrap();
    assert_eq!((report2.last_seq, report2.chain_head), (501, c.chain_head));
}

#[test]
fn uncommitted_records_are_sealed_on_drop_and_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, _) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::None)).unwrap();
        w.append(1, 5, b"a").unwrap();
        w.append(1, 6, b"b").unwrap();
        // Dropped without commit: sealed by Drop.
    }
    assert_eq!(JournalReader::open(dir.path()).unwrap().verify().unwrap().chain_seq, 2);
    {
        let (mut w, _) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::None)).unwrap();
        w.append(1, 7, b"c").unwrap();
        // The writer vanishes without running Drop (its lock stays held, as if it still ran).
        std::mem::forget(w);
    }
    // Readers of a live journal see what was committed, never the uncommitted record.
    let r = JournalReader::open(dir.path()).unwrap();
    let report = r.verify().unwrap();
    assert!(report.live_writer);
    assert_eq!((report.records, report.last_seq), (2, 2));
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_w, _) = JournalWriter::open(dir.path(), JournalOptions::default()).unwrap();
    let err = JournalWriter::open(dir.path(), JournalOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("open for writing by another"), "{err}");
    // Readers are still welcome, and see the live writer.
    let r = JournalReader::open(dir.path()).unwrap();
    assert!(r.verify().unwrap().live_writer);
}

#[test]
fn misuse_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::None)).unwrap();
    w.append(1, 100, b"x").unwrap();
    let e = w.append(1, 99, b"x").unwrap_err();
    assert!(matches!(e, Error::Misuse(_)) && e.to_string().contains("before the previous record"), "{e}");
    let e = w.append(0xFF01, 100, b"x").unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
    let big = vec![0u8; w.payload_len_max() + 1];
    assert!(w.append(1, 100, &big).unwrap_err().to_string().contains("exceeds the maximum"));
    let max = vec![7u8; w.payload_len_max()];
    let seq = w.append(1, 100, &max).unwrap();
    w.commit().unwrap();
    drop(w);
    assert_eq!(JournalReader::open(dir.path()).unwrap().get(seq).unwrap().unwrap().payload, &max[..]);
    for bad in [0, 1000, 4097, 3 << 31] {
        let e = JournalWriter::open(dir.path().join("other"), opts(bad, Durability::None)).unwrap_err();
        assert!(e.to_string().contains("segment size"), "{e}");
    }
    assert_eq!("batch".parse::<Durability>(), Ok(Durability::Batch));
    assert!("sometimes".parse::<Durability>().is_err());
}

#[test]
fn append_with_serializes_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::None)).unwrap();
    let seq = w
        .append_with(2, 1, 24, |buf| {
            assert!(buf.iter().all(|&b| b == 0));
            assert_eq!(buf.as_ptr() as usize % 16, 0);
            buf[..8].copy_from_slice(&42u64.to_le_bytes());
        })
        .unwrap();
    w.commit().unwrap();
    let r = JournalReader::open(dir.path()).unwrap();
    let rec = r.get(seq).unwrap().unwrap();
    assert_eq!(rec.payload.len(), 24);
    assert_eq!(&rec.payload[..8], &42u64.to_le_bytes());
}

#[test]
fn tailer_in_the_same_process_sees_commits_only() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::None)).unwrap();
    let mut t = Tailer::open(dir.path(), 1).unwrap();
    assert!(t.poll().unwrap().is_none());
    w.append(1, 1, b"one").unwrap();
    assert!(t.poll().unwrap().is_none(), "uncommitted records are invisible");
    w.commit().unwrap();
    assert_eq!(t.poll().unwrap().unwrap().payload, b"one");
    assert!(t.poll().unwrap().is_none());
    // Across many segment rolls.
    for i in 0..300u64 {
        w.append(1, 2, &payload(i + 2, 150)).unwrap();
    }
    w.commit().unwrap();
    for i in 0..300u64 {
        let r = t.poll().unwrap().expect("record");
        assert_eq!((r.seq, r.payload), (i + 2, &payload(i + 2, 150)[..]));
    }
    assert!(t.poll().unwrap().is_none());
    // A tailer may start from any seq.
    let mut t2 = Tailer::open(dir.path(), 250).unwrap();
    assert_eq!(t2.poll().unwrap().unwrap().seq, 250);
}

fn open_err(dir: &std::path::Path) -> String {
    let e = JournalReader::open(dir).unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

#[test]
fn bad_input_gives_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // An empty directory.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(open_err(&empty).contains("no journal segments"));
    // A missing directory, and a file instead of a directory.
    assert!(open_err(&tmp.path().join("missing")).contains("No such file"));
    let file = tmp.path().join("file");
    std::fs::write(&file, b"hello").unwrap();
    assert!(open_err(&file).contains("not a directory"));
    // A file that is not a journal segment.
    let notj = tmp.path().join("notj");
    std::fs::create_dir(&notj).unwrap();
    std::fs::write(notj.join("000000000000.seg"), vec![0x55u8; 8192]).unwrap();
    assert!(open_err(&notj).contains("bad magic"));
    assert!(JournalWriter::open(&notj, JournalOptions::default()).unwrap_err().to_string().contains("bad magic"));
    // A truncated header.
    let trunc = tmp.path().join("trunc");
    write_records(&trunc, SMALL_SEGMENT, 3, 10, 1);
    let seg = trunc.join("000000000000.seg");
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::write(&seg, &bytes[..100]).unwrap();
    assert!(open_err(&trunc).contains("truncated segment header"));
    assert!(JournalWriter::open(&trunc, JournalOptions::default()).unwrap_err().to_string().contains("truncated"));
    // A journal from a future format version.
    let future = tmp.path().join("future");
    write_records(&future, SMALL_SEGMENT, 3, 10, 1);
    let seg = future.join("000000000000.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[SH_VERSION] = 9;
    std::fs::write(&seg, &bytes).unwrap();
    let e = open_err(&future);
    assert!(e.contains("format version 9") && e.contains("reads version 1"), "{e}");
    let e = JournalWriter::open(&future, JournalOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Incompatible { version: 9, .. }), "{e}");
    // A missing segment in the middle.
    let gap = tmp.path().join("gap");
    write_records(&gap, SMALL_SEGMENT, 200, 100, 10);
    std::fs::remove_file(gap.join("000000000002.seg")).unwrap();
    assert!(open_err(&gap).contains("segment file missing"));
}

#[test]
fn interrupted_roll_is_undone() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_records(dir.path(), SMALL_SEGMENT, 100, 100, 10);
    let n = segment_files(dir.path()).len();
    // A segment whose header never reached the disk.
    let extra = dir.path().join(format!("{n:012}.seg"));
    std::fs::write(&extra, vec![0u8; SMALL_SEGMENT as usize]).unwrap();
    let (w, rec) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::Batch)).unwrap();
    assert_eq!(rec.removed_segment.as_deref(), Some(extra.as_path()));
    assert_eq!(w.next_seq(), 101);
    drop(w);
    assert_eq!(read_all(dir.path()), written);
}

#[test]
fn torn_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_records(dir.path(), 1 << 20, 10, 100, 1);
    let seg = dir.path().join("000000000000.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    let frames = frame_offsets(&bytes);
    let end = frames.last().unwrap().1;
    // Half a record after the last seal: a write cut short.
    bytes[end..end + 32].copy_from_slice(&[0xAB; 32]);
    std::fs::write(&seg, &bytes).unwrap();
    let report = JournalReader::open(dir.path()).unwrap().verify().unwrap();
    let (at, len) = report.torn_tail.clone().expect("torn tail reported");
    assert_eq!((at.offset, at.seq, len), (end as u64, Some(11), 32));
    let (_w, rec) = JournalWriter::open(dir.path(), opts(1 << 20, Durability::Batch)).unwrap();
    assert_eq!(rec.truncated.map(|(l, n)| (l.offset, n)), Some((end as u64, 32)));
    drop(_w);
    assert_eq!(read_all(dir.path()), written);
    assert!(JournalReader::open(dir.path()).unwrap().verify().unwrap().torn_tail.is_none());
}

/// A journal of 10 records in committed batches of 2, whose 3rd record's frame (file bytes
/// `start..end`) `damage` changes on disk; returns the dir, the segment file's path and bytes as
/// damaged, and `start`.
fn third_record_damaged(damage: impl FnOnce(&mut [u8])) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>, usize) {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 1 << 20, 10, 100, 2);
    let seg = dir.path().join("000000000000.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    let (start, end, _) = frame_offsets(&bytes).iter().filter(|f| f.2 != 0xFF01).nth(2).copied().unwrap();
    damage(&mut bytes[start..end]);
    std::fs::write(&seg, &bytes).unwrap();
    (dir, seg, bytes, start)
}

/// The writer refuses to open `dir` with damage before the tail at `start` (seq 3), and cuts
/// nothing: the segment still holds `bytes`.
fn writer_refuses_damage_at(dir: &std::path::Path, seg: &std::path::Path, bytes: &[u8], start: usize) {
    let e = JournalWriter::open(dir, JournalOptions::default()).unwrap_err();
    let at = e.location().expect("corruption has a location");
    assert_eq!((at.offset, at.seq), (start as u64, Some(3)), "{e}");
    assert!(e.to_string().contains("damage before the tail"), "{e}");
    assert_eq!(std::fs::read(seg).unwrap(), bytes, "nothing was cut");
}

#[test]
fn damage_before_the_tail_is_an_error_not_a_truncation() {
    // Damage the 3rd record's payload: later committed batches follow it.
    let (dir, seg, bytes, start) = third_record_damaged(|frame| frame[40] ^= 0x01);
    writer_refuses_damage_at(dir.path(), &seg, &bytes, start);
    // A reader checks sealed records as it reads them: iteration, lookup and verify each stop
    // at the damaged record, naming it.
    let r = JournalReader::open(dir.path()).unwrap();
    let e = r.iter().find_map(|x| x.err()).expect("iteration reports the damage");
    assert_eq!((e.location().unwrap().offset, e.location().unwrap().seq), (start as u64, Some(3)), "{e}");
    let e = r.get(3).unwrap_err();
    assert_eq!(e.location().unwrap().offset, start as u64, "{e}");
    let e = r.verify().unwrap_err();
    assert_eq!(e.location().unwrap().offset, start as u64, "{e}");
}

#[test]
fn committed_frames_lost_to_zeros_are_an_error_not_an_end() {
    // Pages that never reached the disk read back as zeros. Zero the 3rd record's frame whole:
    // committed batches follow, so no reader may end the journal there.
    let (dir, seg, bytes, start) = third_record_damaged(|frame| frame.fill(0));
    let r = JournalReader::open(dir.path()).unwrap();
    let e = r.iter().find_map(|x| x.err()).expect("iteration reports the missing frame");
    assert_eq!((e.location().unwrap().offset, e.location().unwrap().seq), (start as u64, Some(3)), "{e}");
    assert_eq!(r.iter().filter_map(|x| x.ok()).count(), 2, "the records before it are read");
    assert_eq!(r.verify().unwrap_err().location().unwrap().offset, start as u64);
    writer_refuses_damage_at(dir.path(), &seg, &bytes, start);
}

#[test]
fn a_tailer_bounds_a_damaged_watermark_by_the_file() {
    // Found by fuzzing: a closed segment whose frames fill it to the last byte, and whose
    // watermark word was damaged to point past the end of the file. The tailer re-read the
    // word unbounded, saw it ahead of its position, and spun forever.
    use starlog_journal::format::{FRAME_HEADER_LEN, SEAL_FRAME_LEN, SH_WATERMARK};
    const SEGMENT: usize = 4096;
    const RECORDS: usize = 5;
    let frame = (SEGMENT - SEGMENT_HEADER_LEN - SEAL_FRAME_LEN) / RECORDS;
    assert_eq!(RECORDS * frame + SEGMENT_HEADER_LEN + SEAL_FRAME_LEN, SEGMENT);
    assert_eq!(frame % 16, 0, "frames fill the segment exactly");
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = JournalWriter::open(dir.path(), opts(SEGMENT as u64, Durability::None)).unwrap();
    for i in 0..=RECORDS as i64 {
        w.append(1, i, &vec![7; frame - FRAME_HEADER_LEN]).unwrap();
        if i + 1 == RECORDS as i64 {
            w.commit().unwrap(); // the seal ends at the last byte of segment 0
        }
    }
    drop(w); // the 6th record went to segment 1
    let seg = dir.path().join("000000000000.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[SH_WATERMARK..SH_WATERMARK + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let path = dir.path().to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut t = Tailer::open(&path, 1).unwrap();
        let mut seqs = Vec::new();
        while let Some(r) = t.poll().unwrap() {
            seqs.push(r.seq);
        }
        tx.send(seqs).unwrap();
    });
    let seqs = rx.recv_timeout(std::time::Duration::from_secs(20)).expect("the tailer returns");
    assert_eq!(seqs, (1..=RECORDS as u64 + 1).collect::<Vec<_>>());
}

#[test]
fn the_first_io_error_latches_until_reopen() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let syncs = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&syncs);
    // The 4th sync fails (the segment header is the 1st; each commit makes 2).
    let hook: starlog_journal::SyncHook = Arc::new(move |_, _| {
        if counter.fetch_add(1, Ordering::SeqCst) == 3 { Err(std::io::Error::other("injected EIO")) } else { Ok(()) }
    });
    let o = JournalOptions { segment_size_bytes: SMALL_SEGMENT, durability: Durability::Batch, sync_hook: Some(hook) };
    let (mut w, _) = JournalWriter::open(dir.path(), o).unwrap();
    w.append(1, 1, b"first").unwrap();
    assert_eq!(w.commit().unwrap().last_seq, 1);
    w.append(1, 2, b"second").unwrap();
    let e = w.commit().unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("injected EIO"), "{e}");
    // Latched: nothing more is accepted, whatever the call.
    for e in [w.append(1, 3, b"third").unwrap_err(), w.commit().unwrap_err()] {
        assert!(matches!(e, Error::Poisoned { .. }) && e.to_string().contains("reopen"), "{e}");
    }
    drop(w);
    // Reopening recovers: the committed record is there, and the whole record whose commit
    // failed is kept (sealed now) — whole or absent, never corrupt.
    let (mut w, rec) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::Batch)).unwrap();
    assert_eq!(rec.next_seq, 3);
    w.append(1, 3, b"third").unwrap();
    w.commit().unwrap();
    drop(w);
    let seqs: Vec<_> = read_all(dir.path()).into_iter().map(|r| (r.0, r.3)).collect();
    assert_eq!(seqs, vec![(1, b"first".to_vec()), (2, b"second".to_vec()), (3, b"third".to_vec())]);
}

#[test]
fn verify_with_reports_every_seal_as_the_writer_committed_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = JournalWriter::open(dir.path(), opts(SMALL_SEGMENT, Durability::None)).unwrap();
    let mut commits = vec![(0, starlog_journal::format::GENESIS_CHAIN)];
    for batch in 0..40u64 {
        for i in 0..(batch % 7 + 1) {
            w.append(1, (batch * 10 + i) as i64, &payload(batch * 10 + i, 90)).unwrap();
        }
        let c = w.commit().unwrap();
        commits.push((c.last_seq, c.chain_head));
    }
    drop(w);
    let mut seen = Vec::new();
    let report = JournalReader::open(dir.path()).unwrap().verify_with(|seq, head| seen.push((seq, head))).unwrap();
    // Segment rolls add seals of their own; every commit's head is among the seals, in order.
    assert!(seen.len() >= commits.len() && report.seals + 1 == seen.len() as u64);
    let mut at = seen.iter();
    for c in &commits {
        assert!(at.any(|s| s == c), "commit {c:?} is a seal");
    }
    assert_eq!(seen.last(), Some(&(report.chain_seq, report.chain_head)));
    // Any record's covering seal is its commit's (segment rolls seal early: then that seal).
    let reader = JournalReader::open(dir.path()).unwrap();
    let seals: Vec<(u64, [u8; 32])> = seen[1..].to_vec();
    for seq in 1..=report.last_seq {
        let covering = seals.iter().find(|(last, _)| *last >= seq).copied();
        assert_eq!(reader.seal_covering(seq).unwrap(), covering, "seq {seq}");
    }
    assert_eq!(reader.seal_covering(0).unwrap(), None);
    assert_eq!(reader.seal_covering(report.last_seq + 1).unwrap(), None);
}
