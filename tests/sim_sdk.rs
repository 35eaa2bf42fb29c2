//! The official Python stellar-sdk (PyPI, installed by `.ci/deps`) trades on `starlog sim
//! serve`, unchanged: see `tests/sdk/trade_on_sim.py` for what it does and checks.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

#[path = "../adapters/tests/harness/mod.rs"]
mod harness;

/// `starlog sim serve` on a free loopback port; killed on drop.
struct Sim {
    child: Child,
    url: String,
    passphrase: String,
}

impl Sim {
    fn start(extra: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_starlog"))
            .args(["sim", "serve", "--listen", "127.0.0.1:0", "--ledger-ms", "200", "--seconds", "300"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run starlog sim serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("read ready line");
        let ready: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
        Sim {
            child,
            url: ready["horizon_url"].as_str().expect("horizon_url").to_owned(),
            passphrase: ready["network_passphrase"].as_str().expect("network_passphrase").to_owned(),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn python_stellar_sdk_trades_on_the_simulated_venue() {
    let python = harness::find_tool("STARLOG_PYTHON", "python", "run `bash .ci/deps` to install stellar-sdk");
    let sim = Sim::start(&[]);
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
