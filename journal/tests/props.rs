//! Property tests of the journal's invariants: exact round trips across segment rolls, recovery
//! after a cut at every byte offset, detection of every single-bit flip, and a broken chain at a
//! deleted, inserted or swapped record.

mod common;

use std::path::Path;

use common::*;
use proptest::prelude::*;
use starlog_journal::{Durability, JournalReader, JournalWriter};

const SEAL: u16 = 0xFF01;

#[derive(Clone, Debug)]
enum Op {
    Append { kind: u16, ts_step: i64, len: usize },
    Commit,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        8 => (0u16..0xFF00, 0i64..1_000, 0usize..700).prop_map(|(kind, ts_step, len)| Op::Append { kind, ts_step, len }),
        1 => Just(Op::Commit),
    ];
    prop::collection::vec(op, 1..120)
}

type Rec = (u64, u16, i64, Vec<u8>);

/// Run `ops` against a fresh journal in `dir`; returns what was appended.
fn run(dir: &Path, segment: u64, ops: &[Op]) -> Vec<Rec> {
    let (mut w, _) = JournalWriter::open(dir, opts(segment, Durability::None)).unwrap();
    let mut ts = -500;
    let mut out = Vec::new();
    for op in ops {
        match *op {
            Op::Append { kind, ts_step, len } => {
                ts += ts_step;
                let seq = w.next_seq();
                let p = payload(seq, len);
                assert_eq!(w.append(kind, ts, &p).unwrap(), seq);
                out.push((seq, kind, ts, p));
            }
            Op::Commit => {
                w.commit().unwrap();
            }
        }
    }
    w.commit().unwrap();
    out
}

/// Is the journal in `dir` reported as damaged by open + verify (an error, or a torn tail)?
fn detected(dir: &Path) -> Option<Option<u64>> {
    match JournalReader::open(dir).and_then(|r| r.verify()) {
        Err(e) => Some(e.location().map(|l| l.offset)),
        Ok(report) => report.torn_tail.map(|(l, _)| Some(l.offset)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip_across_rolls(ops in ops(), segment in prop::sample::select(vec![4096u64, 8192, 1 << 20])) {
        let dir = tempfile::tempdir().unwrap();
        let written = run(dir.path(), segment, &ops);
        prop_assert_eq!(read_all(dir.path()), written.clone());
        let r = JournalReader::open(dir.path()).unwrap();
        let report = r.verify().unwrap();
        prop_assert_eq!(report.records, written.len() as u64);
        for (seq, kind, ts, p) in written.iter().step_by(7) {
            let rec = r.get(*seq).unwrap().unwrap();
            prop_assert_eq!((rec.kind, rec.timestamp_ns, rec.payload), (*kind, *ts, &p[..]));
        }
        // Reopen and append: the seq and the chain continue.
        drop(r);
        let (mut w, rec) = JournalWriter::open(dir.path(), opts(segment, Durability::None)).unwrap();
        prop_assert_eq!(rec.next_seq, written.len() as u64 + 1);
        prop_assert_eq!(w.chain_head().chain_head, report.chain_head);
        w.append(1, i64::MAX, b"last").unwrap();
        w.commit().unwrap();
        drop(w);
        prop_assert_eq!(JournalReader::open(dir.path()).unwrap().verify().unwrap().records, written.len() as u64 + 1);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Cut the last segment at every byte offset across its last records (both by truncating the
    /// file and by zeroing the rest): recovery keeps exactly the records whose frames were
    /// complete, never a corrupt one.
    #[test]
    fn recovery_after_a_cut_at_every_offset(n in 3u64..12, len in 0usize..90, batch in 1u64..4, zero in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let written = write_records(dir.path(), 8192, n, len, batch);
        let seg = segment_files(dir.path()).pop().unwrap();
        let bytes = std::fs::read(&seg).unwrap();
        let frames = frame_offsets(&bytes);
        let data: Vec<_> = frames.iter().filter(|f| f.2 != SEAL).collect();
        // From the start of the third-to-last record to the end of the data.
        let from = data[data.len().saturating_sub(3)].0;
        let to = frames.last().unwrap().1;
        for cut in from..=to {
            let work = tempfile::tempdir().unwrap();
            copy_journal(dir.path(), work.path());
            let target = work.path().join(seg.file_name().unwrap());
            if zero {
                let mut b = bytes.clone();
                b[cut..].fill(0);
                std::fs::write(&target, &b).unwrap();
            } else {
                std::fs::write(&target, &bytes[..cut]).unwrap();
            }
            // Truncated: the frame's header and payload must lie before the cut. Zeroed: a
            // frame is unharmed if every byte from the cut on was zero already.
            let frame_end = |f: &&(usize, usize, u16)| f.0 + 32 + written[0].3.len();
            let complete = data
                .iter()
                .filter(|f| {
                    frame_end(f) <= cut || (zero && bytes[cut.max(f.0)..frame_end(f)].iter().all(|&b| b == 0))
                })
                .count();
            // A reader without recovery sees the same prefix.
            prop_assert_eq!(read_all(work.path()).len(), complete, "reader, cut at {}", cut);
            let (w, rec) = JournalWriter::open(work.path(), opts(8192, Durability::None)).unwrap();
            prop_assert_eq!(rec.next_seq, complete as u64 + 1, "cut at {}", cut);
            drop(w);
            prop_assert_eq!(read_all(work.path()), written[..complete].to_vec(), "cut at {}", cut);
            let report = JournalReader::open(work.path()).unwrap().verify().unwrap();
            prop_assert!(report.torn_tail.is_none() && report.unsealed_records == 0);
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Flipping any single bit of any frame (records and seals, headers, payloads and padding)
    /// is detected by opening + verifying, at that frame.
    #[test]
    fn every_single_bit_flip_is_detected(ops in ops(), pick in any::<prop::sample::Index>(), bit in any::<prop::sample::Index>()) {
        let dir = tempfile::tempdir().unwrap();
        let written = run(dir.path(), 8192, &ops);
        prop_assume!(!written.is_empty());
        let segs = segment_files(dir.path());
        let all: Vec<_> = segs.iter().flat_map(|s| {
            let b = std::fs::read(s).unwrap();
            frame_offsets(&b).into_iter().map(|f| (s.clone(), f)).collect::<Vec<_>>()
        }).collect();
        let (seg, (start, end, _)) = pick.get(&all).clone();
        let bit = bit.index((end - start) * 8);
        let mut b = std::fs::read(&seg).unwrap();
        b[start + bit / 8] ^= 1 << (bit % 8);
        std::fs::write(&seg, &b).unwrap();
        let found = detected(dir.path());
        prop_assert!(found.is_some(), "flip of bit {} in frame at {} of {:?} went unnoticed", bit, start, seg);
        prop_assert_eq!(found.unwrap(), Some(start as u64));
    }

    /// Deleting, inserting or swapping a whole frame breaks the journal at that frame.
    #[test]
    fn deleted_inserted_or_swapped_records_break_the_chain(n in 4u64..40, len in 0usize..100, batch in 1u64..6, which in any::<prop::sample::Index>(), other in any::<prop::sample::Index>(), how in 0u8..3) {
        let dir = tempfile::tempdir().unwrap();
        write_records(dir.path(), 1 << 20, n, len, batch);
        let seg = dir.path().join("000000000000.seg");
        let b = std::fs::read(&seg).unwrap();
        let frames = frame_offsets(&b);
        let data: Vec<_> = frames.iter().filter(|f| f.2 != SEAL).copied().collect();
        let k = which.index(data.len() - 1);
        let (ks, ke, _) = data[k];
        let mut body: Vec<u8> = b[256..frames.last().unwrap().1].to_vec();
        let (s, e) = (ks - 256, ke - 256);
        let frame_k = body[s..e].to_vec();
        match how {
            0 => { body.drain(s..e); }
            1 => {
                let j = other.index(data.len());
                prop_assume!(j != k);
                let (js, je, _) = data[j];
                let copy = b[js..je].to_vec();
                body.splice(s..s, copy);
            }
            _ => {
                let (ns, ne, _) = data[k + 1];
                let next = b[ns..ne].to_vec();
                // Swap record k with the next record (a seal may sit between them).
                body.splice(ns - 256..ne - 256, frame_k.clone());
                body.splice(s..e, next);
            }
        }
        let mut out = b[..256].to_vec();
        out.extend_from_slice(&body);
        out.resize(b.len(), 0);
        std::fs::write(&seg, &out).unwrap();
        let found = detected(dir.path());
        prop_assert_eq!(found, Some(Some(ks as u64)), "tamper {} of record {} at {}", how, k + 1, ks);
    }
}
