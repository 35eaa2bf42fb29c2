//! `starlog audit` on a session with engine snapshots: `audit state --at` answers the same with
//! and without them, and `audit verify` checks each against a full replay — a snapshot of
//! another history fails it with one line naming the snapshot.

use std::path::Path;
use std::process::{Command, Output};

use starlog_adapters::core_loop::CoreLoop;
use starlog_adapters::snapshots::{self, SNAPSHOT_DIR, SnapshotPolicy};
use starlog_engine::events::WirePrice;
use starlog_engine::events::{BookSnapshot, Command as OpCommand, Input, Level, OperatorCommand, SessionStart, Timer};
use starlog_engine::{Asset, Pair};
use starlog_journal::Durability;
use starlog_sim::replay::{Alterations, engine_for};

const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

fn starlog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_starlog")).args(args).output().expect("run starlog")
}

/// A `starlog record`-style session of 41 inputs with a snapshot every 7; `shift` moves the books.
fn record(dir: &Path, shift: i32) {
    let text = "# starlog record session\n";
    let engine = engine_for(text, Alterations::default()).unwrap();
    let policy = SnapshotPolicy { every_inputs: 7, kept_max: 3 };
    let mut core = CoreLoop::open_with(dir, engine, Durability::None, 1 << 20, policy).unwrap();
    let usd: Asset = format!("USD:{ISSUER}").parse().unwrap();
    let pair = Pair::new(Asset::Native, usd).unwrap();
    let mut inputs = vec![Input::SessionStart(SessionStart {
        config_hash: [0; 32],
        config: text.into(),
        security_level: 1,
        validation_level: 2,
        seed: 0,
        account: [9; 32],
        pairs: vec![pair.into()],
    })];
    for i in 0..40 {
        let level = |n| Level { price: WirePrice { n, d: 10_000 }, amount_stroops: 1_000_000 };
        inputs.push(match i % 10 {
            3 => Input::Timer(Timer {}),
            7 => Input::Operator(OperatorCommand {
                operator: "ops".into(),
                command: if i % 20 == 7 { OpCommand::Halt } else { OpCommand::Resume },
            }),
            _ => Input::Book(BookSnapshot {
                pair: 0,
                bids: vec![level(990 - i - shift)],
                asks: vec![level(1010 + i + shift)],
            }),
        });
    }
    for (i, chunk) in inputs.chunks(3).enumerate() {
        core.process_batch(chunk.iter().cloned(), 1_000 + i as i64 * 1_000_000, &mut Vec::new()).unwrap();
    }
}

#[test]
fn audit_uses_and_verifies_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("a");
    record(&session, 0);
    let path = session.to_str().unwrap();
    let found = snapshots::list(&session).unwrap();
    assert_eq!(found.len(), 3, "{found:?}");

    let out = starlog(&["audit", "verify", path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[2], "checkpoints: none", "{text}");
    assert!(lines[3].starts_with("snapshots: ok: 3 snapshots (seq "), "{text}");

    for at in ["5", "29", "41"] {
        let fast = starlog(&["audit", "state", path, "--at", at]);
        let full = starlog(&["audit", "state", path, "--at", at, "--no-snapshots"]);
        assert!(fast.status.success() && full.status.success(), "{fast:?} {full:?}");
        assert_eq!(fast.stdout, full.stdout, "state at {at}");
    }

    // The other session's snapshot at the same seq: sound, but of another history.
    let other = dir.path().join("b");
    record(&other, 3);
    let (seq, from) = snapshots::list(&other).unwrap().into_iter().next().unwrap();
    std::fs::copy(from, session.join(SNAPSHOT_DIR).join(snapshots::file_name(seq))).unwrap();
    let out = starlog(&["audit", "verify", path]);
    assert!(!out.status.success(), "a snapshot that disagrees with the replay must fail verification");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("snapshots:") && err.contains(&snapshots::file_name(seq)) && err.contains("full replay"),
        "{err}"
    );
}
