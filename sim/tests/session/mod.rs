//! A recorded `starlog run` session for the simulator's integration tests: the market maker on
//! moving books through the core loop, every intent answered with a success, snapshots every 7
//! inputs. Shared by the audit and replay tests.
#![allow(dead_code, reason = "each test binary uses the part it needs")]

use std::path::Path;

use starlog_adapters::core_loop::CoreLoop;
use starlog_adapters::snapshots::SnapshotPolicy;
use starlog_engine::events::{
    AccountSnapshot, Balance, BookSnapshot, Input, Level, OfferEffect, OpResult, SessionStart, Timer, TxSucceeded,
    WireAsset, WirePrice,
};
use starlog_engine::{AccountId, Asset, Pair};
use starlog_journal::Durability;
use starlog_sim::replay::{Alterations, engine_for};

pub const ACCOUNT: &str = "GBLD7NSGWYT2KRFTYMRJGQ42SNTGDXMZYNQUE3H7N2VEMARIQYKBB4JJ";

pub fn config_text() -> String {
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

/// The first inputs of the session: its start (the configuration of [`config_text`]) and the
/// account, 10 000 XLM and 10 000 USD.
pub fn start_inputs() -> Vec<Input> {
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
    vec![
        Input::SessionStart(SessionStart {
            config_hash: [0; 32],
            config: config_text(),
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
    ]
}

/// A book around `bid` / 10 000 USD per XLM, 20 bps wide, 1 000 XLM a side.
pub fn book(bid: i32) -> Input {
    let level = |n| Level { price: WirePrice { n, d: 10_000 }, amount_stroops: 10_000_000_000 };
    Input::Book(BookSnapshot { pair: 0, bids: vec![level(bid)], asks: vec![level(bid + 20)] })
}

/// Records a session of `rounds` book moves in `dir` through the core loop (snapshots every 7
/// inputs), answering each intent with a success so that orders rest. `shift` moves the books.
pub fn record(dir: &Path, rounds: i32, shift: i32) -> u64 {
    let engine = engine_for(&config_text(), Alterations::default()).unwrap();
    let policy = SnapshotPolicy { every_inputs: 7, kept_max: 100 };
    let mut core = CoreLoop::open_with(dir, engine, Durability::None, 1 << 20, policy).unwrap();
    let mut batch = start_inputs();
    let (mut offer, mut intents) = (100i64, Vec::new());
    for round in 0..rounds {
        batch.push(book(990 + (round * 7 + shift) % 13));
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
