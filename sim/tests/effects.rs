//! Horizon effects of the simulated ledger: every effect type the operations produce, with
//! Horizon's fields and in Horizon's order; none for a failed transaction; ids and paging
//! tokens in history order; close times fixed when the ledger closes.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;
use starlog_adapters::stellar::asset_to_xdr;
use starlog_engine::{AccountId, Asset};
use starlog_sim::horizon;
use starlog_sim::ledger::{EffectKind, EffectRecord, Ledger, LedgerConfig, Submission, toid};
use stellar_xdr::{self as xdr, TransactionResultCode as Code};
use support::*;

/// `NOW` as Horizon writes it.
const NOW_RFC3339: &str = "2023-11-14T22:13:20Z";

fn usd(issuer: &Key) -> Asset {
    Asset::credit("USD", issuer.id).unwrap()
}

fn eur(issuer: &Key) -> Asset {
    Asset::credit("EUR", issuer.id).unwrap()
}

fn submit(ledger: &mut Ledger, source: &Key, ops: Vec<xdr::Operation>) -> Submission {
    let t = tx(ledger, source, ops);
    let bytes = sign_for(&ledger.network().clone(), t, &[source]);
    let submission = ledger.submit(&bytes, NOW.max(ledger.last_close_time())).unwrap();
    ledger.check_invariants().unwrap();
    submission
}

fn buy_offer(selling: &Asset, buying: &Asset, buy_amount: i64, n: i32, d: i32) -> xdr::OperationBody {
    xdr::OperationBody::ManageBuyOffer(xdr::ManageBuyOfferOp {
        selling: asset_to_xdr(selling),
        buying: asset_to_xdr(buying),
        buy_amount,
        price: xdr::Price { n, d },
        offer_id: 0,
    })
}

/// A ledger with `accounts` funded with 1000 XLM each.
fn funded(accounts: &[&Key]) -> Ledger {
    let mut ledger = Ledger::new(LedgerConfig::default());
    for k in accounts {
        assert!(ledger.fund(&k.id, 1000 * XLM).succeeded());
    }
    ledger
}

/// The effects recorded from index `from` of the history on.
fn since(ledger: &Ledger, from: usize) -> &[EffectRecord] {
    &ledger.history().effects[from..]
}

fn kinds(effects: &[EffectRecord]) -> Vec<(AccountId, EffectKind)> {
    effects.iter().map(|e| (e.account, e.kind.clone())).collect()
}

/// (operation index, effect index) of each effect.
fn positions(effects: &[EffectRecord]) -> Vec<(u32, u32)> {
    effects.iter().map(|e| (e.op_index, e.index)).collect()
}

/// The position (ledger, order) of the last applied transaction.
fn last_tx(ledger: &Ledger) -> (u32, u32) {
    let record = ledger.history().transactions.last().unwrap();
    (record.ledger, record.order)
}

#[test]
fn create_account_gives_created_debited_and_signer_created() {
    let a = key(2);
    let mut ledger = Ledger::new(LedgerConfig::default());
    let root = ledger.root();
    assert!(ledger.fund(&a.id, 1000 * XLM).succeeded());
    let effects = &ledger.history().effects;
    assert_eq!(
        kinds(effects),
        vec![
            (a.id, EffectKind::AccountCreated { starting_balance: 1000 * XLM }),
            (root, EffectKind::AccountDebited { asset: Asset::Native, amount: 1000 * XLM }),
            (a.id, EffectKind::SignerCreated { public_key: a.id, weight: 1 }),
        ]
    );
    // The first transaction of ledger 2, its first operation.
    let op_id = toid(2, 1, 1);
    assert_eq!(op_id, 8_589_938_689);
    for (i, e) in effects.iter().enumerate() {
        let index = i as u32 + 1;
        assert_eq!((e.ledger, e.tx_order, e.op_index, e.index), (2, 1, 1, index));
        assert_eq!(e.operation_id(), op_id);
        assert_eq!(e.paging_token(), format!("8589938689-{index}"));
        assert_eq!(e.id(), format!("0000000008589938689-000000000{index}"));
    }
    ledger.close_ledger(NOW);
    let effects = &ledger.history().effects;
    assert_eq!(
        horizon::effect(&effects[0]),
        json!({
            "id": "0000000008589938689-0000000001",
            "paging_token": "8589938689-1",
            "account": a.id.to_string(),
            "type": "account_created",
            "type_i": 0,
            "created_at": NOW_RFC3339,
            "starting_balance": "1000.0000000",
        })
    );
    assert_eq!(
        horizon::effect(&effects[1]),
        json!({
            "id": "0000000008589938689-0000000002",
            "paging_token": "8589938689-2",
            "account": root.to_string(),
            "type": "account_debited",
            "type_i": 3,
            "created_at": NOW_RFC3339,
            "asset_type": "native",
            "amount": "1000.0000000",
        })
    );
    assert_eq!(
        horizon::effect(&effects[2]),
        json!({
            "id": "0000000008589938689-0000000003",
            "paging_token": "8589938689-3",
            "account": a.id.to_string(),
            "type": "signer_created",
            "type_i": 10,
            "created_at": NOW_RFC3339,
            "weight": 1,
            "public_key": a.id.to_string(),
            "key": "",
        })
    );
}

#[test]
fn change_trust_gives_trustline_created_updated_removed() {
    let (issuer, a) = (key(1), key(2));
    let mut ledger = funded(&[&issuer, &a]);
    let eur = eur(&issuer);
    let from = ledger.history().effects.len();
    for limit in [1000 * XLM, 500 * XLM, 500 * XLM, 0] {
        assert!(submit(&mut ledger, &a, vec![op(change_trust(&eur, limit))]).succeeded());
    }
    let effects = since(&ledger, from);
    assert_eq!(
        kinds(effects),
        vec![
            (a.id, EffectKind::TrustlineCreated { asset: eur, limit: 1000 * XLM }),
            (a.id, EffectKind::TrustlineUpdated { asset: eur, limit: 500 * XLM }),
            // The same limit again: the line is still written, an update.
            (a.id, EffectKind::TrustlineUpdated { asset: eur, limit: 500 * XLM }),
            (a.id, EffectKind::TrustlineRemoved { asset: eur, limit: 0 }),
        ]
    );
    assert_eq!(positions(effects), vec![(1, 1); 4]);
    let types: Vec<_> = effects.iter().map(|e| (e.kind.type_name(), e.kind.type_i())).collect();
    assert_eq!(
        types,
        vec![
            ("trustline_created", 20),
            ("trustline_updated", 22),
            ("trustline_updated", 22),
            ("trustline_removed", 21)
        ]
    );
    let created = horizon::effect(&effects[0]);
    assert_eq!(created["type"], "trustline_created");
    assert_eq!(created["type_i"], 20);
    assert_eq!(created["asset_type"], "credit_alphanum4");
    assert_eq!(created["asset_code"], "EUR");
    assert_eq!(created["asset_issuer"], issuer.id.to_string());
    assert_eq!(created["limit"], "1000.0000000");
    let removed = horizon::effect(&effects[3]);
    assert_eq!(
        (&removed["type"], &removed["type_i"], &removed["limit"]),
        (&json!("trustline_removed"), &json!(21), &json!("0.0000000"))
    );
    // A failed ChangeTrust (a limit of 0 on no line) has no effect.
    let from = ledger.history().effects.len();
    let s = submit(&mut ledger, &a, vec![op(change_trust(&eur, 0))]);
    assert_eq!((s.applied(), s.succeeded()), (true, false));
    assert!(since(&ledger, from).is_empty());
}

#[test]
fn payment_credits_the_destination_then_debits_the_source() {
    let (issuer, a, b) = (key(1), key(2), key(3));
    let mut ledger = funded(&[&issuer, &a, &b]);
    let usd = usd(&issuer);
    assert!(submit(&mut ledger, &a, vec![op(change_trust(&usd, 1000 * XLM))]).succeeded());
    let from = ledger.history().effects.len();
    assert!(submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd, 100 * XLM))]).succeeded());
    // Two operations: effect indexes restart at 1 for each.
    assert!(
        submit(
            &mut ledger,
            &a,
            vec![op(payment(&b.id, &Asset::Native, 12_345_678)), op(payment(&issuer.id, &usd, XLM))]
        )
        .succeeded()
    );
    let effects = since(&ledger, from);
    assert_eq!(
        kinds(effects),
        vec![
            (a.id, EffectKind::AccountCredited { asset: usd, amount: 100 * XLM }),
            (issuer.id, EffectKind::AccountDebited { asset: usd, amount: 100 * XLM }),
            (b.id, EffectKind::AccountCredited { asset: Asset::Native, amount: 12_345_678 }),
            (a.id, EffectKind::AccountDebited { asset: Asset::Native, amount: 12_345_678 }),
            (issuer.id, EffectKind::AccountCredited { asset: usd, amount: XLM }),
            (a.id, EffectKind::AccountDebited { asset: usd, amount: XLM }),
        ]
    );
    assert_eq!(positions(effects), vec![(1, 1), (1, 2), (1, 1), (1, 2), (2, 1), (2, 2)]);
    let (ledger_seq, order) = last_tx(&ledger);
    assert_eq!(effects[5].operation_id(), toid(ledger_seq, order, 2));
    assert_eq!(effects[5].paging_token(), format!("{}-2", toid(ledger_seq, order, 2)));
    let credited = horizon::effect(&effects[0]);
    assert_eq!(
        credited,
        json!({
            "id": effects[0].id(),
            "paging_token": effects[0].paging_token(),
            "account": a.id.to_string(),
            "type": "account_credited",
            "type_i": 2,
            "created_at": NOW_RFC3339,
            "asset_type": "credit_alphanum4",
            "asset_code": "USD",
            "asset_issuer": issuer.id.to_string(),
            "amount": "100.0000000",
        })
    );
    let debited = horizon::effect(&effects[3]);
    assert_eq!((&debited["type"], &debited["type_i"]), (&json!("account_debited"), &json!(3)));
    assert_eq!((&debited["asset_type"], &debited["amount"]), (&json!("native"), &json!("1.2345678")));
    assert!(debited.get("asset_code").is_none());
}

#[test]
fn manage_data_gives_data_created_updated_removed() {
    let a = key(2);
    let mut ledger = funded(&[&a]);
    let from = ledger.history().effects.len();
    for value in [Some(&b"v1"[..]), Some(&b"second"[..]), None] {
        assert!(submit(&mut ledger, &a, vec![op(manage_data("config", value))]).succeeded());
    }
    let effects = since(&ledger, from);
    let name = || "config".to_owned();
    assert_eq!(
        kinds(effects),
        vec![
            (a.id, EffectKind::DataCreated { name: name(), value: b"v1".to_vec() }),
            (a.id, EffectKind::DataUpdated { name: name(), value: b"second".to_vec() }),
            (a.id, EffectKind::DataRemoved { name: name() }),
        ]
    );
    let rendered: Vec<_> = effects.iter().map(horizon::effect).collect();
    assert_eq!((&rendered[0]["type"], &rendered[0]["type_i"]), (&json!("data_created"), &json!(40)));
    assert_eq!((&rendered[0]["name"], &rendered[0]["value"]), (&json!("config"), &json!(BASE64.encode("v1"))));
    assert_eq!((&rendered[1]["type"], &rendered[1]["type_i"]), (&json!("data_updated"), &json!(42)));
    assert_eq!(rendered[1]["value"], json!("c2Vjb25k"));
    assert_eq!((&rendered[2]["type"], &rendered[2]["type_i"]), (&json!("data_removed"), &json!(41)));
    assert_eq!(rendered[2]["name"], "config");
    assert!(rendered[2].get("value").is_none());
}

#[test]
fn a_crossing_gives_trade_effects_for_the_taker_then_the_maker() {
    let (issuer, a, b) = (key(1), key(2), key(3));
    let mut ledger = funded(&[&issuer, &a, &b]);
    let usd = usd(&issuer);
    for k in [&a, &b] {
        assert!(submit(&mut ledger, k, vec![op(change_trust(&usd, 10_000 * XLM))]).succeeded());
    }
    assert!(submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd, 100 * XLM))]).succeeded());
    // A sells 100 USD at 2 XLM each; it rests, and resting gives no effect.
    let from = ledger.history().effects.len();
    assert!(submit(&mut ledger, &a, vec![op(sell_offer(&usd, &Asset::Native, 100 * XLM, 2, 1))]).succeeded());
    assert!(since(&ledger, from).is_empty());
    let maker_offer = ledger.book().iter().next().unwrap().id;
    // B sells 60 XLM for USD at 0.5 USD per XLM: takes 30 USD of A's offer, and does not rest.
    assert!(submit(&mut ledger, &b, vec![op(sell_offer(&Asset::Native, &usd, 60 * XLM, 1, 2))]).succeeded());
    let effects = since(&ledger, from);
    assert_eq!(
        kinds(effects),
        vec![
            (
                b.id,
                EffectKind::Trade {
                    seller: a.id,
                    offer_id: maker_offer,
                    sold_asset: Asset::Native,
                    sold_amount: 60 * XLM,
                    bought_asset: usd,
                    bought_amount: 30 * XLM,
                }
            ),
            (
                a.id,
                EffectKind::Trade {
                    seller: b.id,
                    offer_id: maker_offer,
                    sold_asset: usd,
                    sold_amount: 30 * XLM,
                    bought_asset: Asset::Native,
                    bought_amount: 60 * XLM,
                }
            ),
        ]
    );
    assert_eq!(positions(effects), vec![(1, 1), (1, 2)]);
    let trade = ledger.history().trades.last().unwrap();
    assert_eq!(effects[0].operation_id(), trade.operation_id());
    let taker = horizon::effect(&effects[0]);
    assert_eq!(
        taker,
        json!({
            "id": effects[0].id(),
            "paging_token": effects[0].paging_token(),
            "account": b.id.to_string(),
            "type": "trade",
            "type_i": 33,
            "created_at": NOW_RFC3339,
            "seller": a.id.to_string(),
            "offer_id": maker_offer.to_string(),
            "sold_amount": "60.0000000",
            "sold_asset_type": "native",
            "bought_amount": "30.0000000",
            "bought_asset_type": "credit_alphanum4",
            "bought_asset_code": "USD",
            "bought_asset_issuer": issuer.id.to_string(),
        })
    );
    let maker = horizon::effect(&effects[1]);
    assert_eq!(
        maker,
        json!({
            "id": effects[1].id(),
            "paging_token": effects[1].paging_token(),
            "account": a.id.to_string(),
            "type": "trade",
            "type_i": 33,
            "created_at": NOW_RFC3339,
            "seller": b.id.to_string(),
            "offer_id": maker_offer.to_string(),
            "sold_amount": "30.0000000",
            "sold_asset_type": "credit_alphanum4",
            "sold_asset_code": "USD",
            "sold_asset_issuer": issuer.id.to_string(),
            "bought_amount": "60.0000000",
            "bought_asset_type": "native",
        })
    );
}

#[test]
fn an_operation_crossing_several_offers_alternates_taker_and_maker_effects() {
    let (issuer, a, b, c) = (key(1), key(2), key(3), key(4));
    let mut ledger = funded(&[&issuer, &a, &b, &c]);
    let usd = usd(&issuer);
    for k in [&a, &b, &c] {
        assert!(submit(&mut ledger, k, vec![op(change_trust(&usd, 10_000 * XLM))]).succeeded());
    }
    for k in [&a, &b] {
        assert!(submit(&mut ledger, &issuer, vec![op(payment(&k.id, &usd, 100 * XLM))]).succeeded());
    }
    // A sells 10 USD at 2 XLM, B 10 USD at 3 XLM.
    assert!(submit(&mut ledger, &a, vec![op(sell_offer(&usd, &Asset::Native, 10 * XLM, 2, 1))]).succeeded());
    assert!(submit(&mut ledger, &b, vec![op(sell_offer(&usd, &Asset::Native, 10 * XLM, 3, 1))]).succeeded());
    // C buys 15 USD paying up to 3 XLM each, and the remainder does not rest: two claims.
    let from = ledger.history().effects.len();
    let trades_from = ledger.history().trades.len();
    assert!(submit(&mut ledger, &c, vec![op(buy_offer(&Asset::Native, &usd, 15 * XLM, 3, 1))]).succeeded());
    let trades = &ledger.history().trades[trades_from..];
    assert_eq!(trades.len(), 2);
    let mut expected = Vec::new();
    for t in trades {
        assert_eq!(t.taker, c.id);
        expected.push((
            c.id,
            EffectKind::Trade {
                seller: t.maker,
                offer_id: t.maker_offer_id,
                sold_asset: t.bought_asset,
                sold_amount: t.bought_amount,
                bought_asset: t.sold_asset,
                bought_amount: t.sold_amount,
            },
        ));
        expected.push((
            t.maker,
            EffectKind::Trade {
                seller: c.id,
                offer_id: t.maker_offer_id,
                sold_asset: t.sold_asset,
                sold_amount: t.sold_amount,
                bought_asset: t.bought_asset,
                bought_amount: t.bought_amount,
            },
        ));
    }
    let effects = since(&ledger, from);
    assert_eq!(kinds(effects), expected);
    assert_eq!((trades[0].maker, trades[1].maker), (a.id, b.id), "best price first");
    assert_eq!((trades[0].sold_amount, trades[0].bought_amount), (10 * XLM, 20 * XLM));
    assert_eq!((trades[1].sold_amount, trades[1].bought_amount), (5 * XLM, 15 * XLM));
    assert_eq!(positions(effects), vec![(1, 1), (1, 2), (1, 3), (1, 4)]);
}

#[test]
fn failed_and_rejected_transactions_have_no_effects() {
    let (issuer, a, b) = (key(1), key(2), key(3));
    let mut ledger = funded(&[&issuer, &a, &b]);
    let usd = usd(&issuer);
    for k in [&a, &b] {
        assert!(submit(&mut ledger, k, vec![op(change_trust(&usd, 10_000 * XLM))]).succeeded());
    }
    assert!(submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd, 100 * XLM))]).succeeded());
    assert!(submit(&mut ledger, &a, vec![op(sell_offer(&usd, &Asset::Native, 10 * XLM, 2, 1))]).succeeded());
    let effects = ledger.history().effects.len();
    let trades = ledger.history().trades.len();
    // Data, a crossing and a payment B cannot make: the transaction fails, all undone.
    let s = submit(
        &mut ledger,
        &b,
        vec![
            op(manage_data("k", Some(b"v"))),
            op(sell_offer(&Asset::Native, &usd, 20 * XLM, 1, 2)),
            op(payment(&a.id, &usd, 1000 * XLM)),
        ],
    );
    assert_eq!((s.result.result.discriminant(), s.applied()), (Code::TxFailed, true));
    assert_eq!(ledger.history().transactions.last().map(|t| t.successful), Some(false));
    assert_eq!((ledger.history().effects.len(), ledger.history().trades.len()), (effects, trades));
    // Rejected (a bad sequence number): in no ledger, no effects.
    let mut t = tx(&ledger, &b, vec![op(manage_data("k", Some(b"v")))]);
    t.seq_num = xdr::SequenceNumber(t.seq_num.0 + 5);
    let bytes = sign_for(&ledger.network().clone(), t, &[&b]);
    let s = ledger.submit(&bytes, NOW).unwrap();
    assert!(!s.applied());
    assert_eq!(ledger.history().effects.len(), effects);
    // The same operations that can succeed do have effects.
    let s = submit(
        &mut ledger,
        &b,
        vec![op(manage_data("k", Some(b"v"))), op(sell_offer(&Asset::Native, &usd, 20 * XLM, 1, 2))],
    );
    assert!(s.succeeded());
    let types: Vec<_> = since(&ledger, effects).iter().map(|e| (e.op_index, e.kind.type_name())).collect();
    assert_eq!(types, vec![(1, "data_created"), (2, "trade"), (2, "trade")]);
}

#[test]
fn ids_increase_through_the_history_and_close_times_are_fixed_at_close() {
    let (issuer, a, b) = (key(1), key(2), key(3));
    let mut ledger = funded(&[&issuer, &a, &b]);
    let usd = usd(&issuer);
    for k in [&a, &b] {
        assert!(submit(&mut ledger, k, vec![op(change_trust(&usd, 10_000 * XLM))]).succeeded());
    }
    assert!(submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd, 100 * XLM))]).succeeded());
    // Until the ledger closes, effects carry their submission's time: friendbot's (at the
    // ledger's time, 0) and the others' (NOW).
    let times: Vec<u64> = ledger.history().effects.iter().map(|e| e.close_time).collect();
    assert_eq!(times, [vec![0; 9], vec![NOW; 4]].concat());
    ledger.close_ledger(NOW + 5);
    let closed = ledger.history().effects.len();
    assert!(ledger.history().effects.iter().all(|e| e.close_time == NOW + 5 && e.ledger == 2));
    // The next ledger: an offer crossing and data, submitted at NOW + 10.
    let submit_at = |ledger: &mut Ledger, k: &Key, ops: Vec<xdr::Operation>| {
        let t = tx(ledger, k, ops);
        let bytes = sign_for(&ledger.network().clone(), t, &[k]);
        assert!(ledger.submit(&bytes, NOW + 10).unwrap().succeeded());
    };
    submit_at(&mut ledger, &a, vec![op(sell_offer(&usd, &Asset::Native, 10 * XLM, 2, 1))]);
    submit_at(
        &mut ledger,
        &b,
        vec![op(sell_offer(&Asset::Native, &usd, 4 * XLM, 1, 2)), op(manage_data("n", Some(b"1")))],
    );
    let open = &ledger.history().effects[closed..];
    assert_eq!(open.len(), 3);
    assert!(open.iter().all(|e| e.close_time == NOW + 10 && e.ledger == 3));
    ledger.close_ledger(NOW + 20);
    let effects = &ledger.history().effects;
    assert!(effects[..closed].iter().all(|e| e.close_time == NOW + 5), "earlier ledgers keep theirs");
    assert!(effects[closed..].iter().all(|e| e.close_time == NOW + 20));
    assert_eq!(horizon::effect(&effects[closed])["created_at"], horizon::rfc3339(NOW + 20));
    // Strictly increasing: (operation id, index), the zero-padded ids as text, and the ids agree
    // with the paging tokens.
    for pair in effects.windows(2) {
        assert!((pair[0].operation_id(), pair[0].index) < (pair[1].operation_id(), pair[1].index), "{pair:?}");
        assert!(pair[0].id() < pair[1].id());
    }
    for e in effects {
        let (op_id, index) = e.paging_token().split_once('-').map(|(o, i)| (o.to_owned(), i.to_owned())).unwrap();
        assert_eq!((op_id.parse::<i64>().unwrap(), index.parse::<u32>().unwrap()), (e.operation_id(), e.index));
        assert_eq!(e.id(), format!("{:019}-{:010}", e.operation_id(), e.index));
        assert!(e.index >= 1 && e.op_index >= 1);
    }
    // Effects and transactions agree on positions.
    for e in effects {
        let t = ledger.history().transactions.iter().find(|t| (t.ledger, t.order) == (e.ledger, e.tx_order)).unwrap();
        assert!(t.successful && e.op_index <= t.operation_count);
    }
}
