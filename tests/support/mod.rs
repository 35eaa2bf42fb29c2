//! Shared by the CLI's integration tests: `starlog sim serve` as a child process.
#![allow(dead_code, reason = "each test binary uses the part it needs")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// `starlog sim serve` on a free loopback port (ledgers every 200 ms), with what its ready line
/// said; killed on drop.
pub struct SimProcess {
    child: Child,
    pub url: String,
    pub passphrase: String,
    /// The background market's asset, `CODE:ISSUER` (none with `--no-market`).
    pub market_asset: Option<String>,
}

impl SimProcess {
    pub fn start(extra: &[&str]) -> SimProcess {
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
        SimProcess {
            child,
            url: ready["horizon_url"].as_str().expect("horizon_url").to_owned(),
            passphrase: ready["network_passphrase"].as_str().expect("network_passphrase").to_owned(),
            market_asset: ready["market_asset"].as_str().map(str::to_owned),
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
