//! The submission pipeline's rules: write-ahead `TxSubmitted`, one transaction per intent
//! until it is known dead (lookup, identical resubmission, expiry only after max time plus
//! grace), sequence resync after rejections, settlement into engine inputs, and restore after a
//! restart by rebuilding the identical envelope.

use starlog_adapters::horizon::client::{HorizonError, Submitted};
use starlog_adapters::horizon::decode::{Problem, Transaction};
use starlog_adapters::keys::{Seed, SeedSigner, StoreKind};
use starlog_adapters::live::pipeline::{Action, Pipeline, PipelineConfig};
use starlog_adapters::stellar::Network;
use starlog_adapters::stellar::result::TxOutcome;
use starlog_engine::events::{Input, OfferEffect, OpResult, WireAsset, WirePrice};
use starlog_engine::one_or_many::OneOrMany;
use starlog_engine::outputs::{Intent, OfferOp, op_kind};
use starlog_engine::{AccountId, Asset};
use stellar_xdr::{self as xdr, WriteXdr};

const NOW: u64 = 1_700_000_000;

fn signer() -> SeedSigner {
    SeedSigner::new(&Seed::from_bytes([5; 32]), StoreKind::Env, "env:TEST".into())
}

fn pipeline() -> Pipeline {
    let config = PipelineConfig {
        account: Seed::from_bytes([5; 32]).public_key(),
        network: Network::from_passphrase("Test SDF Network ; September 2015"),
        fee_per_op_stroops_max: 1000,
        validity_secs: 30,
        expiry_grace_secs: 10,
    };
    Pipeline::new(config, 100)
}

fn intent(id: u64) -> Intent {
    let usd = Asset::credit("USD", AccountId::from_bytes([9; 32])).unwrap();
    Intent {
        id,
        ops: OneOrMany::one(OfferOp {
            order: id,
            kind: op_kind::MANAGE_SELL,
            selling: WireAsset::from(Asset::Native),
            buying: WireAsset::from(usd),
            amount_stroops: 10_000_000,
            price: WirePrice { n: 1, d: 10 },
            offer_id: 0,
        }),
    }
}

fn submit_of(actions: &[Action]) -> ([u8; 32], String) {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Submit { hash, envelope } => Some((*hash, envelope.clone())),
            _ => None,
        })
        .expect("a Submit action")
}

fn result_base64(code: xdr::TransactionResultResult) -> String {
    let result = xdr::TransactionResult { fee_charged: 100, result: code, ext: xdr::TransactionResultExt::V0 };
    result.to_xdr_base64(xdr::Limits::none()).unwrap()
}

fn applied(hash: [u8; 32]) -> Transaction {
    let op = OpResult { effect: OfferEffect::Created, offer_id: 77, remaining_stroops: 10_000_000, claims: vec![] };
    Transaction {
        hash,
        ledger: 9,
        successful: true,
        outcome: Some(TxOutcome::Success { fee_charged_stroops: 100, ops: vec![op] }),
    }
}

/// A pipeline that has sent intent 1; returns (pipeline, hash, envelope).
fn sent() -> (Pipeline, [u8; 32], String) {
    let mut p = pipeline();
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    p.on_intent(&intent(1), NOW, &mut signer(), &mut inputs, &mut actions).unwrap();
    assert_eq!(actions, vec![Action::ResyncSequence], "the first intent waits for a sequence number");
    assert!(inputs.is_empty());
    actions.clear();
    assert!(p.sync_sequence(41, NOW, &mut signer(), &mut inputs, &mut actions).is_empty());
    let (hash, envelope) = submit_of(&actions);
    let [Input::TxSubmitted(s)] = &inputs[..] else { panic!("one TxSubmitted: {inputs:?}") };
    assert_eq!((s.intent, s.hash, s.sequence, s.max_time, s.fee_stroops), (1, hash, 42, NOW + 30, 100));
    (p, hash, envelope)
}

#[test]
fn an_intent_is_journaled_then_sent_then_settled() {
    let (mut p, hash, _) = sent();
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    p.on_submitted(hash, Ok(Submitted::Applied(applied(hash))), &mut inputs, &mut actions);
    let [Input::TxSucceeded(t)] = &inputs[..] else { panic!("{inputs:?}") };
    assert_eq!((t.intent, t.ledger, t.ops[0].offer_id), (1, 9, 77));
    assert!(actions.is_empty() && p.is_idle());
    // The next intent takes the next sequence number without a resync.
    inputs.clear();
    p.on_intent(&intent(2), NOW, &mut signer(), &mut inputs, &mut actions).unwrap();
    let [Input::TxSubmitted(s)] = &inputs[..] else { panic!() };
    assert_eq!(s.sequence, 43);
}

#[test]
fn an_unknown_fate_is_looked_up_and_resubmitted_identically_until_it_expires() {
    let (mut p, hash, envelope) = sent();
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    p.on_submitted(hash, Err(HorizonError::Timeout), &mut inputs, &mut actions);
    assert_eq!(actions, vec![Action::Lookup { hash }]);
    assert!(inputs.is_empty(), "nothing is decided on a timeout");
    actions.clear();
    p.on_lookup(hash, Ok(None), NOW + 5, &mut inputs, &mut actions);
    assert_eq!(actions, vec![Action::Submit { hash, envelope: envelope.clone() }], "the identical envelope");
    actions.clear();
    p.on_lookup(hash, Ok(None), NOW + 35, &mut inputs, &mut actions);
    assert_eq!(actions, vec![Action::Lookup { hash }], "past max time but within the grace: ask again");
    assert!(inputs.is_empty());
    actions.clear();
    p.on_lookup(hash, Err(HorizonError::Transport("down".into())), NOW + 60, &mut inputs, &mut actions);
    assert_eq!(actions, vec![Action::Lookup { hash }], "Horizon unreachable decides nothing");
    actions.clear();
    p.on_lookup(hash, Ok(None), NOW + 41, &mut inputs, &mut actions);
    let [Input::TxExpired(e)] = &inputs[..] else { panic!("{inputs:?}") };
    assert_eq!((e.intent, e.hash), (1, hash));
    assert_eq!(actions, vec![Action::ResyncSequence]);
    assert!(p.is_idle());
}

#[test]
fn a_timed_out_transaction_found_in_a_ledger_settles_once() {
    let (mut p, hash, _) = sent();
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    p.on_submitted(hash, Err(HorizonError::Timeout), &mut inputs, &mut actions);
    p.on_lookup(hash, Ok(Some(applied(hash))), NOW + 3, &mut inputs, &mut actions);
    p.on_submitted(hash, Ok(Submitted::Applied(applied(hash))), &mut inputs, &mut actions);
    assert_eq!(inputs.iter().filter(|i| matches!(i, Input::TxSucceeded(_))).count(), 1, "{inputs:?}");
}

#[test]
fn rejections_resync_the_sequence_and_op_failures_do_not() {
    let (mut p, hash, _) = sent();
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    let bad_seq = Problem {
        status: 400,
        kind: "transaction_failed".into(),
        tx_code: Some("tx_bad_seq".into()),
        op_codes: vec![],
        result_xdr: Some(result_base64(xdr::TransactionResultResult::TxBadSeq)),
    };
    p.on_submitted(hash, Ok(Submitted::Failed(bad_seq)), &mut inputs, &mut actions);
    let [Input::TxFailed(f)] = &inputs[..] else { panic!("{inputs:?}") };
    assert_eq!(f.tx_code, -5);
    assert_eq!(actions, vec![Action::ResyncSequence]);

    let (mut p, hash, _) = sent();
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    let underfunded =
        xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageSellOffer(xdr::ManageSellOfferResult::Underfunded));
    let failed = Problem {
        status: 400,
        kind: "transaction_failed".into(),
        tx_code: Some("tx_failed".into()),
        op_codes: vec!["op_underfunded".into()],
        result_xdr: Some(result_base64(xdr::TransactionResultResult::TxFailed(vec![underfunded].try_into().unwrap()))),
    };
    p.on_submitted(hash, Ok(Submitted::Failed(failed)), &mut inputs, &mut actions);
    let [Input::TxFailed(f)] = &inputs[..] else { panic!("{inputs:?}") };
    assert_eq!((f.tx_code, f.op_codes.as_slice()), (-1, &[-7][..]));
    assert!(actions.is_empty(), "txFAILED consumed its sequence number: no resync");
}

/// Intents 1 and 2 are in flight on sequence numbers 42 and 43 when 42 meets `tx_bad_seq`: 43
/// may still be applied, or fail the same way, so the account's number is asked for only once
/// 43 has settled — an answer read before that would reuse 43 — and a new intent waits for it.
#[test]
fn a_resync_waits_until_nothing_is_in_flight() {
    let (mut p, first, _) = sent();
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    p.on_intent(&intent(2), NOW, &mut signer(), &mut inputs, &mut actions).unwrap();
    let (second, _) = submit_of(&actions);
    let [Input::TxSubmitted(s)] = &inputs[..] else { panic!("{inputs:?}") };
    assert_eq!(s.sequence, 43);
    inputs.clear();
    actions.clear();
    let bad_seq = || Problem {
        status: 400,
        kind: "transaction_failed".into(),
        tx_code: Some("tx_bad_seq".into()),
        op_codes: vec![],
        result_xdr: Some(result_base64(xdr::TransactionResultResult::TxBadSeq)),
    };
    p.on_submitted(first, Ok(Submitted::Failed(bad_seq())), &mut inputs, &mut actions);
    assert!(actions.is_empty(), "intent 2 is in flight: no resync yet ({actions:?})");
    p.on_intent(&intent(3), NOW, &mut signer(), &mut inputs, &mut actions).unwrap();
    assert!(actions.is_empty(), "intent 3 waits, unsent: {actions:?}");
    // An answer to an earlier request, arriving now, is stale: ignored.
    assert!(p.sync_sequence(41, NOW, &mut signer(), &mut inputs, &mut actions).is_empty());
    assert!(actions.is_empty(), "nothing is built on a number read while 43 was in flight: {actions:?}");
    inputs.clear();
    // 43 was applied after all: now the number is asked for, and intent 3 goes out on 44.
    p.on_lookup(second, Ok(Some(applied(second))), NOW, &mut inputs, &mut actions);
    assert_eq!(actions, vec![Action::ResyncSequence]);
    inputs.clear();
    actions.clear();
    // It waited 20 s: its time bounds start when it is built, not when it arrived.
    assert!(p.sync_sequence(43, NOW + 20, &mut signer(), &mut inputs, &mut actions).is_empty());
    let [Input::TxSubmitted(s)] = &inputs[..] else { panic!("{inputs:?}") };
    assert_eq!((s.intent, s.sequence, s.max_time), (3, 44, NOW + 20 + 30));
    assert!(matches!(actions[..], [Action::Submit { .. }]), "{actions:?}");
}

#[test]
fn restore_rebuilds_the_identical_envelope() {
    let (_, hash, _) = sent();
    let submitted = starlog_engine::events::TxSubmitted {
        intent: 1,
        hash,
        sequence: 42,
        max_time: NOW + 30,
        fee_stroops: 100,
        signed_by: *starlog_adapters::keys::Signer::public_key(&signer()).as_bytes(),
        key_store: starlog_engine::events::key_store::ENV,
    };
    let mut fresh = pipeline();
    let mut actions = Vec::new();
    fresh.restore(&intent(1), &submitted, &mut signer(), &mut actions).unwrap();
    assert_eq!(actions, vec![Action::Lookup { hash }]);
    let forged = starlog_engine::events::TxSubmitted { hash: [0; 32], ..submitted };
    let error = pipeline().restore(&intent(1), &forged, &mut signer(), &mut Vec::new()).unwrap_err();
    assert!(error.to_string().contains("differs"), "{error}");
}

#[test]
fn fees_follow_surge_pricing_under_the_cap() {
    let mut p = pipeline();
    p.set_fees(100, 100);
    assert_eq!(p.fee_per_op_stroops(), 100);
    p.set_fees(100, 500);
    assert_eq!(p.fee_per_op_stroops(), 500);
    p.set_fees(100, 50_000);
    assert_eq!(p.fee_per_op_stroops(), 1000, "capped");
}

#[test]
fn the_signing_policy_refuses_before_anything_is_signed_or_sent() {
    use starlog_adapters::live::pipeline::PipelineError;
    use starlog_adapters::policy::Policy;
    use starlog_engine::events::SecurityEvent;
    let account = Seed::from_bytes([5; 32]).public_key();
    let usd = format!("USD:{}", AccountId::from_bytes([9; 32]));
    let policy = |native_max: i64| {
        Policy::from_toml(&format!(
            r#"network = "testnet"
source_accounts = ["{account}"]
operations = ["manage_sell_offer"]
fee_stroops_max = 10000
validity_secs_max = 60
[notional_stroops_max]
native = {native_max}
"{usd}" = 1000000000
"#
        ))
        .unwrap()
    };
    // Within the policy: signed and sent.
    let mut p = pipeline().with_policy(policy(100_000_000));
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    assert!(p.sync_sequence(1, NOW, &mut signer(), &mut inputs, &mut actions).is_empty());
    actions.clear();
    p.on_intent(&intent(1), NOW, &mut signer(), &mut inputs, &mut actions).unwrap();
    assert!(matches!(actions[..], [Action::Submit { .. }]));
    // Over the notional cap: refused, nothing sent, the sequence number not used.
    let mut p = pipeline().with_policy(policy(1));
    assert!(p.sync_sequence(1, NOW, &mut signer(), &mut Vec::new(), &mut Vec::new()).is_empty());
    let mut actions = Vec::new();
    let error = p.on_intent(&intent(7), NOW, &mut signer(), &mut Vec::new(), &mut actions).unwrap_err();
    assert!(matches!(error, PipelineError::Policy(_)), "{error}");
    assert!(actions.is_empty() && p.is_idle());
    let journaled = error.inputs(7);
    assert!(
        matches!(journaled[0], Input::Security(SecurityEvent::PolicyViolation { intent: 7, rule: 10 })),
        "{journaled:?}"
    );
    assert!(matches!(&journaled[1], Input::TxFailed(f) if f.intent == 7 && f.tx_code == -16));
    let mut inputs = Vec::new();
    p.on_intent(&intent(8), NOW, &mut signer(), &mut inputs, &mut actions).unwrap_err();
    assert!(inputs.is_empty());
}

/// Each operation kind the engine emits becomes that Stellar operation: a buy is a
/// ManageBuyOffer of the base amount at counter per base. A kind it does not know is refused
/// before anything is signed.
#[test]
fn a_buy_is_sent_as_a_manage_buy_offer_and_an_unknown_kind_is_refused() {
    use stellar_xdr::ReadXdr;
    let mut p = pipeline();
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    assert!(p.sync_sequence(1, NOW, &mut signer(), &mut inputs, &mut actions).is_empty());
    actions.clear();
    let usd = Asset::credit("USD", AccountId::from_bytes([9; 32])).unwrap();
    let mut buy = intent(1);
    buy.ops = OneOrMany::one(OfferOp {
        order: 1,
        kind: op_kind::MANAGE_BUY,
        selling: WireAsset::from(usd),
        buying: WireAsset::from(Asset::Native),
        amount_stroops: 30_000_000,
        price: WirePrice { n: 1, d: 10 },
        offer_id: 0,
    });
    p.on_intent(&buy, NOW, &mut signer(), &mut inputs, &mut actions).unwrap();
    let (_, envelope) = submit_of(&actions);
    let xdr::TransactionEnvelope::Tx(env) =
        xdr::TransactionEnvelope::from_xdr_base64(&envelope, xdr::Limits::none()).unwrap()
    else {
        panic!("a v1 envelope")
    };
    let [op] = &env.tx.operations[..] else { panic!("one operation") };
    let xdr::OperationBody::ManageBuyOffer(b) = &op.body else { panic!("a ManageBuyOffer: {:?}", op.body) };
    assert_eq!((b.buy_amount, b.price.n, b.price.d, b.offer_id), (30_000_000, 1, 10, 0));
    assert_eq!(b.buying, xdr::Asset::Native);
    let mut odd = intent(2);
    odd.ops = OneOrMany::one(OfferOp { kind: 7, ..buy.ops.iter().copied().next().unwrap() });
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    let error = p.on_intent(&odd, NOW, &mut signer(), &mut inputs, &mut actions).unwrap_err();
    assert!(error.to_string().contains("unknown operation kind 7"), "{error}");
    assert!(actions.is_empty());
}
