//! `starlog demo` end to end (the README's main job), then its session examined in fresh
//! processes: replay is identical with the same state hash; one byte altered in an input
//! record's payload makes verification fail. Its market data backtested with other parameters:
//! byte-identical reports, a plot, a sweep table, one-line errors.

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
    // A checkpoint at exit at least, and its anchor on the ledger.
    assert!(summary["checkpoints_verified"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["anchors_verified"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["orders"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["open_orders_at_exit"], 0, "{summary}");

    let session = demo_dir.join("session");
    let replay = starlog(&["replay", session.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(report["identical"], true, "{report}");
    assert_eq!(report["state_hash"], summary["state_hash"], "the same state in a fresh process");

    // The session's market data, backtested with other parameters: a report and a plot, the
    // same bytes twice; a sweep tabulates every combination; bad requests are one-line errors.
    let session_arg = session.to_str().unwrap();
    let (report_a, report_b, plot) =
        (dir.path().join("a.json"), dir.path().join("b.json"), dir.path().join("plot.svg"));
    for report in [&report_a, &report_b] {
        let out = starlog(&[
            "backtest",
            session_arg,
            "--param",
            "spread_bps=20",
            "--param",
            "latency_ms=250",
            "--report",
            report.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("backtest: market-maker on native/USD:"), "{text}");
    }
    assert_eq!(std::fs::read(&report_a).unwrap(), std::fs::read(&report_b).unwrap(), "byte-identical reports");
    let backtest: serde_json::Value = serde_json::from_slice(&std::fs::read(&report_a).unwrap()).unwrap();
    assert_eq!(backtest["params"]["spread_bps"], "20", "{}", backtest["params"]);
    assert!(backtest["market"]["books"].as_u64().unwrap() > 0);
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
    let sweep = starlog(&["backtest", session_arg, "--sweep", "spread_bps=10,40", "--sweep", "latency_ms=100,900"]);
    assert!(sweep.status.success(), "{}", String::from_utf8_lossy(&sweep.stderr));
    let table = String::from_utf8_lossy(&sweep.stdout);
    assert_eq!(table.lines().count(), 5, "a header and four runs:\n{table}");
    assert!(table.lines().next().unwrap().split_whitespace().eq([
        "spread_bps",
        "latency_ms",
        "pnl",
        "realised",
        "drawdown",
        "fees_xlm",
        "fills",
        "orders",
        "position"
    ]));
    for bad in [
        vec!["backtest", session_arg, "--param", "spread_bps"],
        vec!["backtest", session_arg, "--strategy", "momentum"],
        vec!["backtest", session_arg, "--sweep", "levels=1,2", "--plot", "x.svg"],
        vec!["backtest", "/nonexistent/session"],
    ] {
        let out = starlog(&bad);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.lines().count() == 1, "{bad:?}: {stderr}");
    }

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
