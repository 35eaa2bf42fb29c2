//! Fuzzes restoring an engine from snapshot bytes (`Engine::restore`): the bytes of a snapshot
//! file are untrusted (a disk can flip bits, a directory can be tampered with), and restore is
//! the one parser of them.
//!
//! Three ways in, by the first byte: the bytes as they are (framing, magic, version, checksum);
//! the bytes as a body sealed with a correct checksum (the decoder from its first field); and a
//! real snapshot of a busy engine with the fuzz bytes written over its body at a fuzzed offset,
//! resealed (the decoder deep inside a plausible state, and the state-hash check).
//!
//! Properties: no panic; a snapshot that restores snapshots back to the very same bytes, and the
//! restored engine applies further inputs without panicking, its aggregates consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{self, AccountSnapshot, Balance, BookSnapshot, Input, Level, SessionStart, Timer};
use starlog_engine::events::{WireAsset, WirePrice};
use starlog_engine::incident::IncidentConfig;
use starlog_engine::risk::{RiskLimits, ValidationLevel};
use starlog_engine::snapshot;
use starlog_engine::strategy::{MarketMaker, MarketMakerParams};
use starlog_engine::throttle::ThrottleConfig;
use starlog_engine::{Amount, Asset, Pair};

const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

fn fresh() -> Engine {
    let mut e = Engine::new(EngineConfig {
        risk: RiskLimits {
            order_amount_stroops_max: i64::MAX,
            order_notional_stroops_max: i64::MAX,
            price_band_bps_max: 500,
            open_orders_pair_max: 100,
            open_orders_total_max: 100,
            inventory_stroops_max: i64::MAX,
            daily_loss_stroops_max: i64::MAX,
        },
        throttle: ThrottleConfig::DEFAULT,
        validation: ValidationLevel::Strict,
        incidents: IncidentConfig::DEFAULT,
    })
    .expect("valid config");
    e.set_strategy(Box::new(MarketMaker::new(MarketMakerParams {
        pair: 0,
        spread_bps: 100,
        levels: 3,
        level_spacing_bps: 50,
        order_amount: "10".parse().expect("amount"),
        refresh_tolerance_bps: 20,
        inventory_skew_pct: 30,
    })));
    e
}

fn feed(e: &mut Engine, seq: u64, input: &Input) {
    let bytes = events::to_bytes(input).expect("serializes");
    let mut out = Vec::new();
    e.apply(seq, seq as i64 * 1_000_000, events::access(&bytes).expect("valid"), &mut out);
}

/// A snapshot of an engine in session, with balances, a book and quotes in flight.
fn busy_snapshot() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let usd: Asset = format!("USD:{ISSUER}").parse().expect("asset");
        let pair = Pair::new(Asset::Native, usd).expect("pair");
        let mut e = fresh();
        feed(
            &mut e,
            1,
            &Input::SessionStart(SessionStart {
                config_hash: [0; 32],
                config: String::new(),
                security_level: 1,
                validation_level: 3,
                seed: 1,
                account: [9; 32],
                pairs: vec![pair.into()],
            }),
        );
        let line = |asset: Asset| Balance {
            asset: WireAsset::from(asset),
            balance_stroops: Amount::from_units(1000).expect("amount").stroops(),
            buying_liabilities_stroops: 0,
            selling_liabilities_stroops: 0,
            limit_stroops: i64::MAX,
        };
        feed(
            &mut e,
            2,
            &Input::Account(AccountSnapshot {
                account: [9; 32],
                ledger: 1,
                sequence: 1,
                subentry_count: 1,
                num_sponsoring: 0,
                num_sponsored: 0,
                base_reserve_stroops: 5_000_000,
                balances: vec![line(Asset::Native), line(usd)],
                offers: vec![],
            }),
        );
        let level = |n| Level { price: WirePrice { n, d: 10_000 }, amount_stroops: 10_000_000_000 };
        feed(&mut e, 3, &Input::Book(BookSnapshot { pair: 0, bids: vec![level(990)], asks: vec![level(1010)] }));
        e.snapshot()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let bytes = match mode % 3 {
        0 => rest.to_vec(),
        1 => snapshot::seal(0, [0; 16], rest),
        _ => {
            let base = busy_snapshot();
            let header = snapshot::read_header(base).expect("own snapshot");
            let mut body = snapshot::body(base).to_vec();
            let Some((offset, patch)) = rest.split_first_chunk::<2>() else { return };
            let at = usize::from(u16::from_le_bytes(*offset)) % body.len().max(1);
            let end = (at + patch.len()).min(body.len());
            body[at..end].copy_from_slice(&patch[..end - at]);
            snapshot::seal(header.seq, header.state_hash, &body)
        }
    };
    let Ok(mut engine) = fresh().restore_like(&bytes) else { return };
    assert_eq!(engine.snapshot(), bytes, "a restored snapshot re-encodes to the same bytes");
    assert!(engine.check_aggregates().is_ok());
    let seq = engine.last_seq() + 1;
    let ts = engine.now_ns().max(0).saturating_add(5_000_000_000);
    let timer = events::to_bytes(&Input::Timer(Timer {})).expect("serializes");
    let mut out = Vec::new();
    engine.apply(seq, ts, events::access(&timer).expect("valid"), &mut out);
    assert!(engine.check_aggregates().is_ok());
});
