//! `starlog demo` end to end (the README's main job), then its session examined in fresh
//! processes: replay is identical with the same state hash; one byte altered in an input
//! record's payload makes verification fail.

use std::process::Command;

fn starlog(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_starlog")).args(args).output().expect("run starlog")
}

#[test]
fn the_demo_trades_verifies_and_replays_identically_in_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let out = starlog(&["demo", "--seconds", "6", "--seed", "3", "--json", "--dir", demo_dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for key in ["orders", "fills", "rejects", "state_hash", "replay_identical"] {
        assert!(summary.get(key).is_some(), "{key} in {summary}");
    }
    assert_eq!(summary["replay_identical"], true, "{summary}");
    assert!(summary["orders"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["open_orders_at_exit"], 0, "{summary}");

    let session = demo_dir.join("session");
    let replay = starlog(&["replay", session.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(report["identical"], true, "{report}");
    assert_eq!(report["state_hash"], summary["state_hash"], "the same state in a fresh process");

    // One byte of the journaled configuration (an input record's payload), changed in place.
    let segment = std::fs::read_dir(session.join("input"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .expect("a segment");
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.windows(12).position(|w| w == b"market-maker").expect("the config text is in the journal");
    bytes[at + 11] = b's';
    std::fs::write(&segment, &bytes).unwrap();
    let verify = starlog(&["audit", "verify", session.to_str().unwrap()]);
    assert!(!verify.status.success(), "an altered payload must not verify");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let replay = starlog(&["replay", session.to_str().unwrap()]);
    assert!(!replay.status.success(), "nor replay");
}
