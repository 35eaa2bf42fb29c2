//! Engine snapshots: a snapshot taken after any input, restored and fed the rest of the inputs,
//! gives exactly the outputs and the state of one engine fed everything; restore then snapshot
//! is the identity on bytes; and corrupt, forged or mismatched snapshots are refused.

use proptest::prelude::*;
use starlog_engine::Asset;
use starlog_engine::engine::Engine;
use starlog_engine::events::{
    self, Command, Input, OfferEffect, OpResult, OperatorCommand, SecurityEvent, Timer, Trade, TxExpired, TxFailed,
    TxSubmitted, TxSucceeded, WireAsset, WirePrice,
};
use starlog_engine::outputs::Output;
use starlog_engine::snapshot::{SNAPSHOT_HEADER_LEN, SNAPSHOT_VERSION, SnapshotError};
use starlog_engine::strategy::{MarketMaker, MarketMakerParams, Strategy as Trading};
use starlog_engine::twap::{Twap, TwapParams};

mod support;

use support::{account, engine_with, session};

fn market_maker(levels: u32) -> Box<dyn Trading> {
    Box::new(MarketMaker::new(MarketMakerParams {
        pair: 0,
        spread_bps: 100,
        levels,
        level_spacing_bps: 50,
        order_amount: "10".parse().unwrap(),
        refresh_tolerance_bps: 20,
        inventory_skew_pct: 30,
    }))
}

fn twap() -> Box<dyn Trading> {
    Box::new(Twap::new(TwapParams {
        pair: 0,
        total_amount: "500".parse().unwrap(),
        slices: 7,
        duration_ns: 60_000_000_000,
        start_ns: 0,
        aggressiveness_bps: 10,
        limit_price: Some("0.05".parse().unwrap()),
    }))
}

/// A fresh engine with strategy kind `kind` (0 none, 1 market maker, 2 TWAP).
fn fresh(kind: u8) -> Engine {
    match kind {
        // The same limits, without a strategy.
        0 => Engine::new(engine_with(market_maker(1)).config()).unwrap(),
        1 => engine_with(market_maker(3)),
        _ => engine_with(twap()),
    }
}

#[derive(Clone, Debug)]
enum Step {
    Book(i32, i32),
    Account(i64),
    Halt,
    Resume,
    Level(u8),
    Limit(u16, i64),
    Timer(i64),
    Submit,
    Ok,
    Fail(bool),
    Expire,
    Trade(i64),
    Sec(u8),
    CancelAll,
    Unlock,
    Ack(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (900i32..1000, 1i32..40).prop_map(|(bid, spread)| Step::Book(bid, bid + spread)),
        1 => (0i64..20_000).prop_map(Step::Account),
        1 => Just(Step::Halt),
        1 => Just(Step::Resume),
        1 => (0u8..6).prop_map(Step::Level),
        1 => (1u16..9, -5i64..20_000_000_000).prop_map(|(l, v)| Step::Limit(l, v)),
        2 => (0i64..10_000_000_000).prop_map(Step::Timer),
        2 => Just(Step::Submit),
        8 => Just(Step::Ok),
        1 => any::<bool>().prop_map(Step::Fail),
        1 => Just(Step::Expire),
        4 => (1i64..200_000_000).prop_map(Step::Trade),
        1 => (0u8..12).prop_map(|k| Step::Sec(k % 8)),
        1 => Just(Step::CancelAll),
        1 => Just(Step::Unlock),
        1 => (1u64..6).prop_map(Step::Ack),
    ]
}

/// Feeds inputs through their journaled (archived) form, as the core loop and replay do.
fn apply(e: &mut Engine, seq: u64, ts: i64, input: &Input) -> Vec<Output> {
    let bytes = events::to_bytes(input).unwrap();
    let mut out = Vec::new();
    e.apply(seq, ts, events::access(&bytes).unwrap(), &mut out);
    out
}

fn operator(command: Command) -> Input {
    Input::Operator(OperatorCommand { operator: "op".into(), command })
}

/// Runs `steps` on one engine, turning each into a concrete input from what the engine emitted
/// so far (results answer its intents, trades hit its offers). Returns the inputs with their
/// timestamps, the outputs of each, and the engine.
fn run(kind: u8, steps: &[Step]) -> (Vec<(i64, Input)>, Vec<Vec<Output>>, Engine) {
    let mut e = fresh(kind);
    let mut inputs = vec![(1, session()), (2, account("1000", "1000"))];
    let mut outs = Vec::new();
    for (i, (ts, input)) in inputs.iter().enumerate() {
        outs.push(apply(&mut e, i as u64 + 1, *ts, input));
    }
    let mut pending: std::collections::VecDeque<(u64, Vec<(u64, bool)>)> = Default::default();
    let (mut ts, mut ledger, mut next_offer, mut trade_id) = (3i64, 2u32, 1000i64, 0u128);
    let mut offers: Vec<i64> = Vec::new();
    for s in steps {
        for o in outs.last().unwrap() {
            if let Output::Intent(i) = o {
                pending.push_back((i.id, i.ops.iter().map(|op| (op.order, op.amount_stroops == 0)).collect()));
            }
        }
        ts += 1_000_000;
        let input = match *s {
            Step::Book(b, a) => Input::Book(events::BookSnapshot {
                pair: 0,
                bids: vec![events::Level { price: WirePrice { n: b, d: 10_000 }, amount_stroops: 10_000_000_000 }],
                asks: vec![events::Level { price: WirePrice { n: a, d: 10_000 }, amount_stroops: 10_000_000_000 }],
            }),
            Step::Account(x) => account(&x.to_string(), &(x / 10).to_string()),
            Step::Halt => operator(Command::Halt),
            Step::Resume => operator(Command::Resume),
            Step::Level(l) => operator(Command::SetValidationLevel { level: l }),
            Step::Limit(l, v) => operator(Command::SetLimit { limit: l, value: v }),
            Step::Timer(dt) => {
                ts += dt;
                Input::Timer(Timer {})
            }
            Step::CancelAll => operator(Command::CancelAll),
            Step::Unlock => operator(Command::Unlock),
            Step::Ack(id) => operator(Command::AcknowledgeIncident { incident: id }),
            Step::Sec(k) => Input::Security(match k {
                0 => SecurityEvent::AuthFailure { operator: "x".into() },
                1 => SecurityEvent::SignerFailure { store: "hsm".into() },
                2 => SecurityEvent::RateLimited { retry_after_ms: 10 },
                3 => SecurityEvent::PolicyViolation { intent: 1, rule: 2 },
                4 => SecurityEvent::UnknownOffer { offer_id: 5 },
                5 => SecurityEvent::SignerCompromise { store: "file".into() },
                6 => SecurityEvent::UnexpectedTransaction { hash: [2; 32] },
                _ => {
                    SecurityEvent::UnexplainedBalanceChange { asset: WireAsset::from(Asset::Native), delta_stroops: -1 }
                }
            }),
            Step::Submit => match pending.front() {
                Some((intent, _)) => Input::TxSubmitted(TxSubmitted {
                    intent: *intent,
                    hash: [4; 32],
                    sequence: 101,
                    max_time: 99,
                    fee_stroops: 100,
                    signed_by: [9; 32],
                    key_store: 2,
                }),
                None => Input::Timer(Timer {}),
            },
            Step::Ok => match pending.pop_front() {
                Some((intent, ops)) => {
                    ledger += 1;
                    let ops = ops
                        .iter()
                        .map(|&(_, cancel)| {
                            next_offer += 1;
                            if !cancel {
                                offers.push(next_offer);
                            }
                            OpResult {
                                effect: if cancel { OfferEffect::Deleted } else { OfferEffect::Created },
                                offer_id: if cancel { 0 } else { next_offer },
                                remaining_stroops: 1,
                                claims: vec![],
                            }
                        })
                        .collect();
                    Input::TxSucceeded(TxSucceeded { intent, hash: [5; 32], ledger, fee_charged_stroops: 100, ops })
                }
                None => Input::Timer(Timer {}),
            },
            Step::Fail(not_found) => match pending.pop_front() {
                Some((intent, ops)) => Input::TxFailed(TxFailed {
                    intent,
                    hash: [6; 32],
                    tx_code: -1,
                    op_codes: vec![if not_found { -11 } else { -7 }; ops.len()],
                }),
                None => Input::Timer(Timer {}),
            },
            Step::Expire => match pending.pop_front() {
                Some((intent, _)) => Input::TxExpired(TxExpired { intent, hash: [7; 32] }),
                None => Input::Timer(Timer {}),
            },
            Step::Trade(base) => {
                ledger += 1;
                trade_id += 1;
                let offer = offers.get(trade_id as usize % offers.len().max(1)).copied().unwrap_or(0);
                Input::Trade(Trade {
                    pair: 0,
                    id: trade_id,
                    ledger,
                    ledger_close_time: ts,
                    price: WirePrice { n: 1, d: 10 },
                    base_amount_stroops: base,
                    counter_amount_stroops: base / 10,
                    base_is_seller: true,
                    base_offer_id: offer,
                    counter_offer_id: 0,
                    base_account: [9; 32],
                    counter_account: [3; 32],
                })
            }
        };
        let seq = inputs.len() as u64 + 1;
        outs.push(apply(&mut e, seq, ts, &input));
        inputs.push((ts, input));
    }
    (inputs, outs, e)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Snapshot after any input k, restore, feed the rest: the same outputs, the same state
    /// hash, and the same final snapshot as one engine fed everything. And restore then
    /// snapshot gives back the same bytes.
    #[test]
    fn a_restored_snapshot_continues_exactly(
        kind in 0u8..3,
        steps in prop::collection::vec(step(), 1..120),
        cut in any::<prop::sample::Index>(),
    ) {
        let (inputs, outs, whole) = run(kind, &steps);
        let k = cut.index(inputs.len() + 1);
        let mut e = fresh(kind);
        for (i, (ts, input)) in inputs[..k].iter().enumerate() {
            drop(apply(&mut e, i as u64 + 1, *ts, input));
        }
        let bytes = e.snapshot();
        let mut restored = fresh(kind).restore_like(&bytes).unwrap();
        prop_assert_eq!(restored.state_hash(), e.state_hash());
        prop_assert_eq!(restored.snapshot(), bytes, "restore then snapshot is the identity");
        for (i, (ts, input)) in inputs.iter().enumerate().skip(k) {
            let out = apply(&mut restored, i as u64 + 1, *ts, input);
            prop_assert_eq!(&out, &outs[i], "outputs of input {} differ after a restore at {}", i + 1, k);
        }
        prop_assert_eq!(restored.state_hash(), whole.state_hash());
        prop_assert_eq!(restored.snapshot(), whole.snapshot());
    }

    /// Any flipped byte and any cut is refused, never a panic and never a different engine.
    #[test]
    fn damaged_snapshots_are_refused(
        steps in prop::collection::vec(step(), 1..60),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let (_, _, e) = run(1, &steps);
        let bytes = e.snapshot();
        let mut damaged = bytes.clone();
        damaged[at.index(bytes.len())] ^= flip;
        prop_assert!(fresh(1).restore_like(&damaged).is_err());
        prop_assert!(fresh(1).restore_like(&bytes[..cut.index(bytes.len())]).is_err());
    }
}

/// An engine with some state of every kind: orders resting and in flight, fills, incidents.
fn busy() -> Engine {
    let steps = [
        Step::Book(990, 1010),
        Step::Ok,
        Step::Ok,
        Step::Submit,
        Step::Trade(50_000_000),
        Step::Sec(1),
        Step::Book(995, 1012),
        Step::Timer(6_000_000_000),
        Step::Ok,
    ];
    run(1, &steps).2
}

#[test]
fn the_header_names_the_seq_and_the_state_hash() {
    let e = busy();
    let bytes = e.snapshot();
    let header = starlog_engine::snapshot::read_header(&bytes).unwrap();
    assert_eq!((header.version, header.seq, header.state_hash), (SNAPSHOT_VERSION, e.last_seq(), e.state_hash()));
    assert_eq!(&bytes[..8], b"STLGSNAP");
    assert!(e.orders().count() > 0, "the scenario places orders");
}

/// Re-frame a snapshot with a new header hash and a checksum that matches: a forgery only the
/// recomputed state hash can catch.
fn forge(bytes: &[u8], hash: [u8; 16]) -> Vec<u8> {
    let mut f = bytes[..bytes.len() - 8].to_vec();
    f[24..40].copy_from_slice(&hash);
    let sum = xxhash_rust::xxh3::xxh3_64(&f);
    f.extend_from_slice(&sum.to_le_bytes());
    f
}

#[test]
fn a_state_that_does_not_hash_to_its_header_is_refused() {
    let bytes = busy().snapshot();
    let forged = forge(&bytes, [7; 16]);
    assert!(matches!(fresh(1).restore_like(&forged), Err(SnapshotError::Corrupt { .. })));
    // The untouched bytes re-framed the same way restore fine (the forgery helper is right).
    let header = starlog_engine::snapshot::read_header(&bytes).unwrap();
    assert!(fresh(1).restore_like(&forge(&bytes, header.state_hash)).is_ok());
}

#[test]
fn snapshots_of_another_setup_are_refused() {
    let bytes = busy().snapshot();
    let mut config = fresh(1).config();
    config.risk.price_band_bps_max += 1;
    let other_config = Engine::restore(&bytes, config, Some(market_maker(3).as_ref()));
    assert_eq!(other_config.unwrap_err(), SnapshotError::Mismatch { what: "the engine configuration" });
    let other_params = engine_with(market_maker(2)).restore_like(&bytes);
    assert!(matches!(other_params, Err(SnapshotError::Mismatch { .. })));
    assert!(matches!(fresh(2).restore_like(&bytes), Err(SnapshotError::Mismatch { .. })));
    assert!(matches!(fresh(0).restore_like(&bytes), Err(SnapshotError::Mismatch { .. })));
    let mut newer = bytes.clone();
    newer[8] = SNAPSHOT_VERSION as u8 + 1;
    assert_eq!(fresh(1).restore_like(&newer).unwrap_err(), SnapshotError::Version { found: SNAPSHOT_VERSION + 1 });
    assert!(fresh(1).restore_like(&bytes[SNAPSHOT_HEADER_LEN..]).is_err());
}

#[test]
fn a_fresh_engine_round_trips_too() {
    for kind in 0..3 {
        let e = fresh(kind);
        let bytes = e.snapshot();
        let r = fresh(kind).restore_like(&bytes).unwrap();
        assert_eq!(r.snapshot(), bytes);
        assert_eq!(r.last_seq(), 0);
    }
}
