//! The official Python stellar-sdk (PyPI, installed by `.ci/deps`) trades on `starlog sim
//! serve`, unchanged: see `tests/sdk/trade_on_sim.py` for what it does and checks.

use std::process::Command;

#[path = "../adapters/tests/harness/mod.rs"]
mod harness;
mod support;

use support::SimProcess;

#[test]
fn python_stellar_sdk_trades_on_the_simulated_venue() {
    let python = harness::find_tool("STARLOG_PYTHON", "python", "run `bash .ci/deps` to install stellar-sdk");
    let sim = SimProcess::start(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/trade_on_sim.py");
    let output = Command::new(python)
        .arg(script)
        .env("HORIZON_URL", &sim.url)
        .env("NETWORK_PASSPHRASE", &sim.passphrase)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[test]
fn serve_rejects_bad_flags_with_one_line() {
    for args in [
        &["sim", "serve", "--listen", "nowhere"][..],
        &["sim", "serve", "--ledger-ms", "-5"],
        &["sim", "serve", "--fault", "timeout_pct=300"],
        &["sim", "serve", "--fault", "unknown=1"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_starlog")).args(args).output().expect("run starlog");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} must fail");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line, got {stderr:?}");
        assert!(stderr.starts_with("starlog: "), "{stderr}");
    }
}
