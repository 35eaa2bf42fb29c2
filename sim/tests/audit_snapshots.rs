//! Audit queries over a session with snapshots: `state --at` gives the same state JSON from a
//! snapshot as from a full replay, at every seq; and every snapshot is checked against a full
//! replay, so a snapshot of another history is reported even though it restores cleanly.

mod session;

use session::{config_text, record};
use starlog_adapters::core_loop::CoreLoop;
use starlog_adapters::snapshots::{self, SNAPSHOT_DIR, SnapshotPolicy};
use starlog_journal::Durability;
use starlog_sim::audit::{engine_at_with, state_at_with, verify_snapshots};
use starlog_sim::replay::{Alterations, engine_for};

#[test]
fn state_at_is_the_same_from_snapshots_and_from_a_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let head = record(dir.path(), 30, 0);
    let found = snapshots::list(dir.path()).unwrap();
    assert!(found.len() >= 5, "snapshots were written: {found:?}");
    let with_orders = engine_at_with(dir.path(), head, false).unwrap();
    assert!(with_orders.orders().any(|o| !o.status.is_terminal()), "the session has open orders");
    for at in 1..=head + 2 {
        let fast = state_at_with(dir.path(), at, true).unwrap();
        let full = state_at_with(dir.path(), at, false).unwrap();
        assert_eq!(fast, full, "state at {at}");
    }
    let checks = verify_snapshots(dir.path()).unwrap();
    assert_eq!(checks.len(), found.len());
    assert!(checks.iter().all(|c| c.problem.is_none()), "{checks:?}");
}

#[test]
fn a_snapshot_of_another_history_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    record(dir.path(), 20, 0);
    record(other.path(), 20, 5);
    // The other session's snapshot at the same seq: sound, same configuration, wrong state.
    let (seq, path) = snapshots::list(other.path()).unwrap().into_iter().nth(2).unwrap();
    let target = dir.path().join(SNAPSHOT_DIR).join(snapshots::file_name(seq));
    std::fs::copy(&path, &target).unwrap();
    let checks = verify_snapshots(dir.path()).unwrap();
    let bad: Vec<_> = checks.iter().filter(|c| c.problem.is_some()).collect();
    assert_eq!(bad.len(), 1, "{checks:?}");
    assert_eq!(bad[0].seq, seq);
    assert!(bad[0].problem.as_ref().unwrap().contains("full replay"), "{bad:?}");
    // Queries do not use it either: it is bound to the other journal's chain, not this one's.
    assert_eq!(state_at_with(dir.path(), seq, true).unwrap(), state_at_with(dir.path(), seq, false).unwrap());
    // Nor does a restart, once it is the newest snapshot there is.
    for (s, p) in snapshots::list(dir.path()).unwrap() {
        if s > seq {
            std::fs::remove_file(p).unwrap();
        }
    }
    let engine = engine_for(&config_text(), Alterations::default()).unwrap();
    let reopened =
        CoreLoop::open_with(dir.path(), engine, Durability::None, 1 << 20, SnapshotPolicy::default()).unwrap();
    assert_ne!(reopened.restored_from(), seq, "the foreign snapshot was skipped");
    let head = reopened.engine().last_seq();
    assert_eq!(reopened.engine().state_hash(), engine_at_with(dir.path(), head, false).unwrap().state_hash());
    drop(reopened);
    // A snapshot past the end of the journal is reported too.
    std::fs::copy(&path, dir.path().join(SNAPSHOT_DIR).join(snapshots::file_name(10_000))).unwrap();
    let checks = verify_snapshots(dir.path()).unwrap();
    assert!(checks.last().unwrap().problem.as_ref().unwrap().contains("past the input journal's end"));
}
