//! Audit queries over a session with snapshots: `state --at` gives the same state JSON from a
//! snapshot as from a full replay, at every seq; and every snapshot is checked against a full
//! replay, so a snapshot of another history is reported even though it restores cleanly.

use std::path::Path;

use starlog_adapters::core_loop::CoreLoop;
use starlog_adapters::snapshots::{self, SNAPSHOT_DIR, SnapshotPolicy};
use starlog_engine::events::{
    AccountSnapshot, Balance, BookSnapshot, Input, Level, OfferEffect, OpResult, SessionStart, Timer, TxSucceeded,
    WireAsset, WirePrice,
};
use starlog_engine::{AccountId, Asset, Pair};
use starlog_journal::Durability;
use starlog_sim::audit::{engine_at_with, state_at_with, verify_snapshots};
use starlog_sim::replay::{Alterations, engine_for};

const ACCOUNT: &str = "GBLD7NSGWYT2KRFTYMRJGQ42SNTGDXMZYNQUE3H7N2VEMARIQYKBB4JJ";

fn config_text() -> String {
    format!(
        r#"
horizon_url = "http://127.0.0.1:8000/"
network = "testnet"
account = "{ACCOUNT}"
signer = "env:SEED"
journal_dir = "/tmp/s"
durability = "none"
validation_level = "STRICT"
seed = 9
cancel_on_exit = false

[[pairs]]
selling = "native"
buying = "USD:{ACCOUNT}"

[strategy]
name = "market-maker"
params = {{ spread_bps = 60, levels = 3, order_amount = "12.5" }}

[risk]
price_band_bps_max = 1000
"#
    )
}

/// Records a session of `rounds` book moves in `dir` through the core loop (snapshots every 7
/// inputs), answering each intent with a success so that orders rest. `shift` moves the books.
fn record(dir: &Path, rounds: i32, shift: i32) -> u64 {
    let text = config_text();
    let engine = engine_for(&text, Alterations::default()).unwrap();
    let policy = SnapshotPolicy { every_inputs: 7, kept_max: 100 };
    let mut core = CoreLoop::open_with(dir, engine, Durability::None, 1 << 20, policy).unwrap();
    let account: AccountId = ACCOUNT.parse().unwrap();
    let usd = Asset::credit("USD", account).unwrap();
    let pair = Pair::new(Asset::Native, usd).unwrap();
    let line = |asset: Asset| Balance {
        asset: WireAsset::from(asset),
        balance_stroops: 100_000_000_000,
        buying_liabilities_stroops: 0,
        selling_liabilities_stroops: 0,
        limit_stroops: i64::MAX,
    };
    let mut batch = vec![
        Input::SessionStart(SessionStart {
            config_hash: [0; 32],
            config: text,
            security_level: 1,
            validation_level: 3,
            seed: 9,
            account: *account.as_bytes(),
            pairs: vec![pair.into()],
        }),
        Input::Account(AccountSnapshot {
            account: *account.as_bytes(),
            ledger: 1,
            sequence: 1,
            subentry_count: 1,
            num_sponsoring: 0,
            num_sponsored: 0,
            base_reserve_stroops: 5_000_000,
            balances: vec![line(Asset::Native), line(usd)],
            offers: vec![],
        }),
    ];
    let (mut offer, mut intents) = (100i64, Vec::new());
    for round in 0..rounds {
        let bid = 990 + (round * 7 + shift) % 13;
        let level = |n| Level { price: WirePrice { n, d: 10_000 }, amount_stroops: 10_000_000_000 };
        batch.push(Input::Book(BookSnapshot { pair: 0, bids: vec![level(bid)], asks: vec![level(bid + 20)] }));
        if round % 4 == 3 {
            batch.push(Input::Timer(Timer {}));
        }
        let now = 1_000_000_000 * i64::from(round + 1);
        core.process_batch(batch.drain(..), now, &mut intents).unwrap();
        for intent in intents.drain(..) {
            let ops = intent
                .ops
                .iter()
                .map(|op| {
                    offer += 1;
                    let cancel = op.amount_stroops == 0;
                    OpResult {
                        effect: if cancel { OfferEffect::Deleted } else { OfferEffect::Created },
                        offer_id: if cancel { 0 } else { offer },
                        remaining_stroops: op.amount_stroops,
                        claims: vec![],
                    }
                })
                .collect();
            batch.push(Input::TxSucceeded(TxSucceeded {
                intent: intent.id,
                hash: [1; 32],
                ledger: 2 + round as u32,
                fee_charged_stroops: 100,
                ops,
            }));
        }
    }
    core.engine().last_seq()
}

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
