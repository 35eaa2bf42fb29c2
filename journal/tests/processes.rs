//! Tests with real processes: a writer process and a tailer process sharing a live journal, and
//! a writer killed with SIGKILL mid-write. The test binary re-runs itself as the child, selected
//! by the `STARLOG_TEST_ROLE` environment variable.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use starlog_journal::{Durability, JournalReader, JournalWriter, Tailer};

const RECORDS: u64 = 200_000;

/// Payload length of record `seq`: varied, so frames straddle pages and segments differently.
fn len_of(seq: u64) -> usize {
    (seq % 97) as usize * 3
}

fn spawn_child(role: &str, dir: &Path, durability: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_role", "--exact", "--nocapture", "--test-threads=1"])
        .env("STARLOG_TEST_ROLE", role)
        .env("STARLOG_TEST_DIR", dir)
        .env("STARLOG_TEST_DURABILITY", durability)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Not a test of its own: the entry point of the child processes.
#[test]
fn child_role() {
    let Ok(role) = std::env::var("STARLOG_TEST_ROLE") else { return };
    let dir = std::env::var("STARLOG_TEST_DIR").unwrap();
    let durability: Durability = std::env::var("STARLOG_TEST_DURABILITY").unwrap().parse().unwrap();
    let (mut w, _) = JournalWriter::open(&dir, opts(1 << 20, durability)).unwrap();
    let mut out = std::io::stdout().lock();
    let mut ts = 0i64;
    let limit = if role == "writer" { RECORDS } else { u64::MAX };
    while w.next_seq() <= limit {
        let seq = w.next_seq();
        ts += 7;
        w.append((seq % 5) as u16, ts, &payload(seq, len_of(seq))).unwrap();
        if seq % 61 == 0 || seq == limit {
            let c = w.commit().unwrap();
            writeln!(out, "committed {}", c.last_seq).unwrap();
            out.flush().unwrap();
        }
    }
}

#[test]
fn a_tailer_process_reads_every_record_a_writer_process_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = spawn_child("writer", dir.path(), "none");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut tailer = loop {
        match Tailer::open(dir.path(), 1) {
            Ok(t) => break t,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("tailer never opened: {e}"),
        }
    };
    let mut expected = 1u64;
    let mut idle_polls = 0u64;
    while expected <= RECORDS {
        assert!(Instant::now() < deadline, "tailer stuck at seq {expected}");
        match tailer.poll().unwrap() {
            Some(r) => {
                assert_eq!(r.seq, expected, "records out of order or missing");
                assert_eq!(r.kind, (expected % 5) as u16);
                assert_eq!(r.payload, &payload(expected, len_of(expected))[..], "payload of seq {expected}");
                expected += 1;
            }
            None => {
                idle_polls += 1;
                std::thread::yield_now();
            }
        }
    }
    assert!(writer.wait().unwrap().success());
    assert!(tailer.poll().unwrap().is_none());
    let report = JournalReader::open(dir.path()).unwrap().verify().unwrap();
    assert_eq!(report.records, RECORDS);
    assert!(report.segments > 10, "the writer should have rolled segments while tailed");
    eprintln!("tailer read {RECORDS} records across {} segments ({idle_polls} idle polls)", report.segments);
}

/// kill -9 of a writer in the middle of appending: every record whose commit was acknowledged
/// (printed by the child after `commit` returned) survives; the rest are whole or absent.
#[test]
fn sigkill_mid_write_loses_no_committed_record() {
    for (round, durability) in ["none", "batch", "always", "batch", "none"].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn_child("crash-writer", dir.path(), durability);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = 0u64;
        // Let it run for a while (a different amount each round), then kill it mid-stride.
        let wanted = 50 + round as u64 * 37;
        let mut seen = 0;
        for line in lines.by_ref() {
            if let Some(seq) = line.unwrap().strip_prefix("committed ") {
                acked = seq.parse().unwrap();
                seen += 1;
                if seen == wanted {
                    break;
                }
            }
        }
        child.kill().unwrap();
        // Acknowledgements already in the pipe count too.
        for line in lines {
            if let Some(seq) = line.unwrap().strip_prefix("committed ") {
                acked = seq.parse().unwrap();
            }
        }
        child.wait().unwrap();
        assert!(acked > 0);
        let (w, rec) = JournalWriter::open(dir.path(), opts(1 << 20, Durability::Batch)).unwrap();
        drop(w);
        let got = read_all(dir.path());
        assert!(got.len() as u64 >= acked, "{durability}: kept {} records, {acked} were acknowledged", got.len());
        for (i, (seq, kind, _, p)) in got.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1);
            assert_eq!(*kind, (*seq % 5) as u16);
            assert_eq!(p, &payload(*seq, len_of(*seq)), "{durability}: record {seq} not whole");
        }
        let report = JournalReader::open(dir.path()).unwrap().verify().unwrap();
        assert_eq!(report.records, got.len() as u64);
        eprintln!(
            "{durability}: killed after {acked} acknowledged, recovered {} (resealed {}, cut {:?})",
            got.len(),
            rec.resealed_records,
            rec.truncated.map(|t| t.1)
        );
    }
}
