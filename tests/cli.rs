//! The `starlog` binary as users and scripts see it: exit status, one line on stdout when all
//! is well, exactly one line on stderr when it is not.

use std::path::Path;
use std::process::{Command, Output};

use starlog_journal::{Durability, JournalOptions, JournalWriter, hex};

fn starlog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_starlog")).args(args).output().expect("run starlog")
}

fn stderr_line(out: &Output) -> String {
    let err = String::from_utf8(out.stderr.clone()).expect("utf-8");
    assert_eq!(err.lines().count(), 1, "exactly one line on stderr: {err:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    err.trim_end().to_owned()
}

/// A journal of `n` records in `dir`; returns the chain head as hex.
fn journal(dir: &Path, n: u64) -> String {
    let opts = JournalOptions { segment_size_bytes: 8192, durability: Durability::None, sync_hook: None };
    let (mut w, _) = JournalWriter::open(dir, opts).expect("open");
    for i in 0..n {
        w.append(1, i as i64, &[i as u8; 100]).expect("append");
        if i % 10 == 9 {
            w.commit().expect("commit");
        }
    }
    hex(&w.commit().expect("commit").chain_head)
}

#[test]
fn verify_an_intact_journal() {
    let dir = tempfile::tempdir().unwrap();
    let head = journal(dir.path(), 200);
    let out = starlog(&["audit", "verify", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("ok: 200 records (seq 1..=200) in "), "{text}");
    assert!(text.contains(&format!("chain head {head} at seq 200")), "{text}");
}

#[test]
fn verify_a_session_directory_checks_input_and_output() {
    let dir = tempfile::tempdir().unwrap();
    journal(&dir.path().join("input"), 30);
    journal(&dir.path().join("output"), 12);
    let out = starlog(&["audit", "verify", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("input: ok: 30 records") && lines[1].starts_with("output: ok: 12 records"), "{text}");
    assert_eq!(lines[2], "checkpoints: none", "a session with no signed checkpoints says so: {text}");

    // Damage in the output journal alone is found and named just the same.
    let seg = dir.path().join("output").join("000000000000.seg");
    let mut b = std::fs::read(&seg).unwrap();
    b[256 + 2 * 144 + 40] ^= 0x10;
    std::fs::write(&seg, &b).unwrap();
    let out = starlog(&["audit", "verify", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = stderr_line(&out);
    assert!(line.starts_with("starlog: output: corrupt journal: segment "), "{line}");
    assert!(line.contains("output/000000000000.seg offset 544 seq 3"), "{line}");
}

#[test]
fn verify_names_the_first_problem() {
    let dir = tempfile::tempdir().unwrap();
    journal(dir.path(), 50);
    let seg = dir.path().join("000000000000.seg");
    let mut b = std::fs::read(&seg).unwrap();
    // The 3rd record: segment header 256 + 2 frames of 144 bytes (+ no seal yet).
    b[256 + 2 * 144 + 40] ^= 0x10;
    std::fs::write(&seg, &b).unwrap();
    let out = starlog(&["audit", "verify", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let line = stderr_line(&out);
    assert!(line.starts_with("starlog: corrupt journal: segment "), "{line}");
    assert!(line.contains("000000000000.seg offset 544 seq 3"), "{line}");
}

#[test]
fn verify_reports_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    journal(dir.path(), 5);
    let seg = dir.path().join("000000000000.seg");
    let mut b = std::fs::read(&seg).unwrap();
    let end = b.iter().rposition(|&x| x != 0).unwrap() + 1;
    let at = end.div_ceil(16) * 16;
    b[at..at + 20].fill(0x77);
    std::fs::write(&seg, &b).unwrap();
    let out = starlog(&["audit", "verify", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let line = stderr_line(&out);
    assert!(line.contains("torn tail at segment") && line.contains(&format!("offset {at} seq 6")), "{line}");
}

#[test]
fn bad_input_is_one_line_and_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().to_str().unwrap();
    let out = starlog(&["audit", "verify", empty]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("no journal segments here"));

    let out = starlog(&["audit", "verify", "/definitely/not/here"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("No such file or directory"));

    let out = starlog(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("required arguments were not provided: <DIR>"));

    let out = starlog(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("unrecognized subcommand 'frobnicate'"));
}

#[test]
fn help_lists_the_commands() {
    let out = starlog(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("audit"), "{text}");
}
