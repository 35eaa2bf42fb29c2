//! A synthetic market-maker session, the one the simulator's tests and the benchmarks record:
//! its configuration (the market maker on native/USD, 3 levels a side), its first inputs (the
//! session's start and the account), and the venue's answer to an intent when every operation
//! succeeds (new offers rest, cancels land). Recorded through the core loop like a live session,
//! so replay, audit and snapshots read it as they read one.

use std::path::Path;

use starlog_adapters::core_loop::{CoreError, CoreLoop};
use starlog_adapters::snapshots::SnapshotPolicy;
use starlog_engine::events::{
    AccountSnapshot, Balance, BookSnapshot, Input, Level, OfferEffect, OpResult, SessionStart, Timer, Trade,
    TxSucceeded, WireAsset, WirePrice,
};
use starlog_engine::outputs::Intent;
use starlog_engine::{AccountId, Asset, Pair};
use starlog_journal::Durability;

use crate::replay::{Alterations, engine_for};

/// The session's account (and the USD issuer).
pub const ACCOUNT: &str = "GBLD7NSGWYT2KRFTYMRJGQ42SNTGDXMZYNQUE3H7N2VEMARIQYKBB4JJ";

/// The session's configuration, as `starlog run` reads it: the market maker quoting native/USD
/// at 60 bps, 3 levels of 12.5 XLM a side, STRICT validation, a 10 % price band.
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

/// The account: `balance_stroops` of XLM and of USD, nothing on offer, at ledger 1.
pub fn account(balance_stroops: i64) -> Input {
    let (account, usd) = account_and_usd();
    let line = |asset: Asset| Balance {
        asset: WireAsset::from(asset),
        balance_stroops,
        buying_liabilities_stroops: 0,
        selling_liabilities_stroops: 0,
        limit_stroops: i64::MAX,
    };
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
    })
}

/// The first inputs: the session's start (the configuration of [`config_text`]) and
/// [`account`] with `balance_stroops` of each asset.
pub fn start_inputs(balance_stroops: i64) -> Vec<Input> {
    let (account_id, usd) = account_and_usd();
    let pair = Pair::new(Asset::Native, usd).expect("native/USD is a pair");
    vec![
        Input::SessionStart(SessionStart {
            config_hash: [0; 32],
            config: config_text(),
            security_level: 1,
            validation_level: 3,
            seed: 9,
            account: *account_id.as_bytes(),
            pairs: vec![pair.into()],
        }),
        account(balance_stroops),
    ]
}

/// The venue's answer to `intent` when every operation succeeds in `ledger`: each new offer
/// rests whole (with the next id after `last_offer`), each cancel lands (a deleted offer's
/// result names no offer, as stellar-core's).
pub fn success(intent: &Intent, ledger: u32, last_offer: &mut i64) -> Input {
    let ops = intent
        .ops
        .iter()
        .map(|op| {
            *last_offer += 1;
            let cancel = op.amount_stroops == 0;
            OpResult {
                effect: if cancel { OfferEffect::Deleted } else { OfferEffect::Created },
                offer_id: if cancel { 0 } else { *last_offer },
                remaining_stroops: op.amount_stroops,
                claims: vec![],
            }
        })
        .collect();
    Input::TxSucceeded(TxSucceeded { intent: intent.id, hash: [1; 32], ledger, fee_charged_stroops: 100, ops })
}

/// Record a session of at least `n` inputs in `dir` through the core loop (durability `none`,
/// 256 MiB segments, the default snapshot policy): per 100 inputs, 70 book snapshots of 5
/// levels a side drifting over 11 steps, 24 trades (some against our offers), 5 timers and an
/// account snapshot; the market maker quoting, and every intent answered by [`success`] in the
/// next batch (offers rest and refresh). Returns the last input's seq.
pub fn record_mixed(dir: &Path, n: u64) -> Result<u64, CoreError> {
    let engine = engine_for(&config_text(), Alterations::default()).expect("the sample configuration makes an engine");
    let mut core = CoreLoop::open_with(dir, engine, Durability::None, 256 << 20, SnapshotPolicy::default())?;
    let balance = account(1_000_000_000_000);
    // The session's start; the account comes with the first hundred inputs.
    let mut batch = start_inputs(1_000_000_000_000);
    batch.truncate(1);
    let level = |n: i64| Level { price: WirePrice { n: n as i32, d: 100_000 }, amount_stroops: 1_000_000_000 };
    let (mut intents, mut offer, mut i) = (Vec::new(), 1_000i64, 0u64);
    while core.engine().last_seq() < n {
        while batch.len() < 100 {
            i += 1;
            let k = ((i / 50) % 11) as i64;
            batch.push(match i % 100 {
                0 => balance.clone(),
                1..=5 => Input::Timer(Timer {}),
                6..=29 => Input::Trade(Trade {
                    pair: 0,
                    id: u128::from(i),
                    ledger: (i / 50) as u32 + 2,
                    ledger_close_time: 0,
                    price: WirePrice { n: 10_000, d: 100_000 },
                    base_amount_stroops: 10_000_000,
                    counter_amount_stroops: 1_000_000,
                    base_is_seller: i % 2 == 0,
                    base_offer_id: offer - (i % 7) as i64,
                    counter_offer_id: 2_000_000 + i as i64,
                    base_account: [1; 32],
                    counter_account: [2; 32],
                }),
                _ => Input::Book(BookSnapshot {
                    pair: 0,
                    bids: (0..5).map(|j| level(9_990 - j * 3 - k * 5)).collect(),
                    asks: (0..5).map(|j| level(10_010 + j * 3 - k * 5)).collect(),
                }),
            });
        }
        core.process_batch(batch.drain(..), i as i64 * 10_000_000, &mut intents)?;
        let ledger = (i / 50) as u32 + 2;
        for intent in intents.drain(..) {
            batch.push(success(&intent, ledger, &mut offer));
        }
    }
    Ok(core.engine().last_seq())
}

fn account_and_usd() -> (AccountId, Asset) {
    let account: AccountId = ACCOUNT.parse().expect("a valid account id");
    let usd = Asset::credit("USD", account).expect("USD is a valid asset code");
    (account, usd)
}
