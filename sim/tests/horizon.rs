//! Horizon JSON rendering against the real responses in `fixtures/horizon/`: every key the
//! fixture record has (except the omissions listed in `OMITTED`) is present with the same JSON
//! type, recursively; plus exact values for amounts, prices, dates and result-code names.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use starlog_engine::Asset;
use starlog_sim::horizon;
use starlog_sim::ledger::{Ledger, LedgerConfig, Submission};
use stellar_xdr::{self as xdr, ReadXdr};
use support::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/horizon");

/// Fixture keys deliberately not rendered, with the reason.
const OMITTED: &[(&str, &str)] = &[
    ("_links", "URLs depend on the HTTP layer's base address; it adds them"),
    ("last_modified_ledger", "the ledger does not track when an entry last changed"),
    ("last_modified_time", "the ledger does not track when an entry last changed"),
    ("sequence_ledger", "omitempty in Horizon; the simulator has no sequence-ledger extension"),
    ("sequence_time", "omitempty in Horizon; the simulator has no sequence-ledger extension"),
    ("result_meta_xdr", "omitempty in Horizon; the ledger keeps no transaction meta"),
    ("fee_meta_xdr", "the ledger records no ledger-entry changes"),
];

/// Signs and submits; returns the submission and the envelope's base64.
fn submit_tx(ledger: &mut Ledger, tx: xdr::Transaction, k: &Key) -> (Submission, String) {
    let bytes = sign_for(&ledger.network().clone(), tx, &[k]);
    let submission = ledger.submit(&bytes, NOW.max(ledger.last_close_time())).unwrap();
    (submission, BASE64.encode(&bytes))
}

fn submit(ledger: &mut Ledger, source: &Key, ops: Vec<xdr::Operation>) -> Submission {
    let t = tx(ledger, source, ops);
    submit_tx(ledger, t, source).0
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn first_record(page: &Value) -> &Value {
    &page["_embedded"]["records"][0]
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `actual` has every key of `expected` (but the `OMITTED` ones) with the same JSON
/// type, recursively. Array elements are compared index by index, extra actual elements
/// against the fixture's last. Returns the mismatches as paths.
fn same_shape(actual: &Value, expected: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    shape_at("$", actual, expected, &mut errors);
    errors
}

fn shape_at(path: &str, actual: &Value, expected: &Value, errors: &mut Vec<String>) {
    if type_name(actual) != type_name(expected) {
        errors.push(format!("{path}: {} where the fixture has {}", type_name(actual), type_name(expected)));
        return;
    }
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                if OMITTED.iter().any(|(name, _)| name == k) || native_has_no(a, k) {
                    continue;
                }
                match a.get(k) {
                    Some(av) => shape_at(&format!("{path}.{k}"), av, ev, errors),
                    None => errors.push(format!("{path}.{k}: missing")),
                }
            }
        }
        (Value::Array(a), Value::Array(e)) if !e.is_empty() => {
            for (i, av) in a.iter().enumerate() {
                let ev = &e[i.min(e.len() - 1)];
                shape_at(&format!("{path}[{i}]"), av, ev, errors);
            }
        }
        _ => {}
    }
}

/// A native asset has no code and issuer: `{prefix}asset_code` and `{prefix}asset_issuer` are
/// absent when `{prefix}asset_type` is `native` (the fixtures' examples may be credit assets).
fn native_has_no(actual: &serde_json::Map<String, Value>, key: &str) -> bool {
    let prefix = key.strip_suffix("asset_code").or_else(|| key.strip_suffix("asset_issuer"));
    prefix.is_some_and(|p| actual.get(&format!("{p}asset_type")).is_some_and(|t| t == "native"))
}

fn assert_shape(actual: &Value, expected: &Value) {
    let errors = same_shape(actual, expected);
    assert!(errors.is_empty(), "shape mismatches: {errors:#?}\nactual: {actual:#}");
}

/// A market: issuer of USD; `a` holds USD, has a data entry and three offers selling USD for
/// XLM (two at 2 XLM/USD, one at 3); `b` sells 150 XLM at 0.5 USD/XLM (memo "Test
/// Transaction"), which takes 75 USD of `a`'s first offer and does not rest, then rests an
/// offer of 10 XLM at 1 USD/XLM. The ledger with all of this is closed at `NOW + 5`.
struct Market {
    ledger: Ledger,
    issuer: Key,
    a: Key,
    b: Key,
    usd: Asset,
    /// The hash of `b`'s transaction with the memo.
    memo_tx: [u8; 32],
}

fn market() -> Market {
    let (issuer, a, b) = (key(1), key(2), key(3));
    let mut ledger = Ledger::new(LedgerConfig::default());
    for k in [&issuer, &a, &b] {
        assert!(ledger.fund(&k.id, 1000 * XLM).succeeded());
    }
    let usd = Asset::credit("USD", issuer.id).unwrap();
    for k in [&a, &b] {
        assert!(submit(&mut ledger, k, vec![op(change_trust(&usd, 10_000 * XLM))]).succeeded());
    }
    assert!(submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd, 500 * XLM))]).succeeded());
    let ops = vec![
        op(manage_data("note", Some(b"hello"))),
        op(sell_offer(&usd, &Asset::Native, 100 * XLM, 2, 1)),
        op(sell_offer(&usd, &Asset::Native, 100 * XLM, 2, 1)),
        op(sell_offer(&usd, &Asset::Native, 50 * XLM, 3, 1)),
    ];
    assert!(submit(&mut ledger, &a, ops).succeeded());
    let mut t = tx(&ledger, &b, vec![op(sell_offer(&Asset::Native, &usd, 150 * XLM, 1, 2))]);
    t.memo = xdr::Memo::Text("Test Transaction".as_bytes().to_vec().try_into().unwrap());
    let (s, _) = submit_tx(&mut ledger, t, &b);
    assert!(s.succeeded());
    let memo_tx = s.hash;
    assert!(submit(&mut ledger, &b, vec![op(sell_offer(&Asset::Native, &usd, 10 * XLM, 1, 1))]).succeeded());
    ledger.close_ledger(NOW + 5);
    Market { ledger, issuer, a, b, usd, memo_tx }
}

#[test]
fn amounts_have_seven_decimals() {
    assert_eq!(horizon::amount_string(0), "0.0000000");
    assert_eq!(horizon::amount_string(1), "0.0000001");
    assert_eq!(horizon::amount_string(10_000_000), "1.0000000");
    assert_eq!(horizon::amount_string(123_456_789), "12.3456789");
    assert_eq!(horizon::amount_string(-1), "-0.0000001");
    assert_eq!(horizon::amount_string(-12_345_678), "-1.2345678");
    assert_eq!(horizon::amount_string(i64::MAX), "922337203685.4775807");
    assert_eq!(horizon::amount_string(i64::MIN), "-922337203685.4775808");
}

#[test]
fn prices_round_like_horizon() {
    // The fixtures' price_r and price pairs.
    assert_eq!(horizon::price_string(15_477, 43_975_000), "0.0003519");
    assert_eq!(horizon::price_string(3157, 8_795_000), "0.0003590");
    assert_eq!(horizon::price_string(48_904, 1_949_839_975), "0.0000251");
    assert_eq!(horizon::price_string(273, 10_917_280), "0.0000250");
    assert_eq!(horizon::price_string(2, 78_125), "0.0000256");
    assert_eq!(horizon::price_string(10_178, 394_234_000), "0.0000258");
    assert_eq!(horizon::price_string(1, 3), "0.3333333");
    assert_eq!(horizon::price_string(2, 3), "0.6666667");
    // Halves round away from zero.
    assert_eq!(horizon::price_string(1, 20_000_000), "0.0000001");
    assert_eq!(horizon::price_string(i64::from(i32::MAX), 1), "2147483647.0000000");
}

#[test]
fn dates_are_rfc3339_utc() {
    for (t, s) in [
        (0, "1970-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (1_616_706_851, "2021-03-25T21:14:11Z"),
        (1_700_000_005, "2023-11-14T22:13:25Z"),
        (4_102_444_800, "2100-01-01T00:00:00Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"),
    ] {
        assert_eq!(horizon::rfc3339(t), s);
    }
}

#[test]
fn account_matches_the_fixture_shape() {
    let m = market();
    let account = horizon::account(&m.ledger, &m.a.id).unwrap();
    assert_shape(&account, &fixture("account.json"));
    assert_eq!(account["id"], m.a.id.to_string());
    let entry = m.ledger.account(&m.a.id).unwrap();
    assert_eq!(account["sequence"], entry.seq_num.to_string());
    assert_eq!(account["subentry_count"], 5, "trustline, data entry, three offers");
    let balances = account["balances"].as_array().unwrap();
    assert_eq!(balances.len(), 2);
    assert_eq!(balances[0]["asset_code"], "USD");
    assert_eq!(balances[0]["asset_issuer"], m.issuer.id.to_string());
    assert_eq!(balances[0]["balance"], "425.0000000");
    assert_eq!(balances[0]["limit"], "10000.0000000");
    assert_eq!(balances[0]["selling_liabilities"], "175.0000000");
    assert_eq!(balances[1]["asset_type"], "native");
    assert_eq!(balances[1]["balance"], horizon::amount_string(entry.balance));
    assert_eq!(balances[1]["buying_liabilities"], horizon::amount_string(entry.buying_liabilities));
    assert_eq!(account["data"]["note"], BASE64.encode(b"hello"));
    assert_eq!(account["signers"][0]["key"], m.a.id.to_string());
    assert_eq!(account["signers"][0]["weight"], 1);
    assert!(horizon::account(&m.ledger, &key(9).id).is_none());
}

#[test]
fn offer_matches_the_fixture_shape() {
    let m = market();
    let offers = m.ledger.book().offers_by(&m.a.id);
    let fixture = fixture("offers.json");
    for o in &offers {
        assert_shape(&horizon::offer(o), first_record(&fixture));
    }
    let first = horizon::offer(offers[0]);
    assert_eq!(first["id"], offers[0].id.to_string());
    assert_eq!(first["paging_token"], offers[0].id.to_string());
    assert_eq!(first["amount"], "25.0000000");
    assert_eq!(first["price_r"], serde_json::json!({ "n": 2, "d": 1 }));
    assert_eq!(first["price"], "2.0000000");
    assert_eq!(first["selling"]["asset_code"], "USD");
    assert_eq!(first["buying"], serde_json::json!({ "asset_type": "native" }));
}

#[test]
fn order_book_aggregates_levels_and_matches_the_fixture_shape() {
    let m = market();
    let book = horizon::order_book(m.ledger.book(), &Asset::Native, &m.usd, 20);
    assert_shape(&book, &fixture("order_book.json"));
    // Bids sell USD for XLM: price inverted to USD per XLM, amounts in USD, best first.
    let bids = book["bids"].as_array().unwrap();
    assert_eq!(bids.len(), 2);
    assert_eq!(bids[0]["price_r"], serde_json::json!({ "n": 1, "d": 2 }));
    assert_eq!(bids[0]["price"], "0.5000000");
    assert_eq!(bids[0]["amount"], "125.0000000", "two offers at one price are one level");
    assert_eq!(bids[1]["price"], "0.3333333");
    assert_eq!(bids[1]["amount"], "50.0000000");
    let asks = book["asks"].as_array().unwrap();
    assert_eq!(asks.len(), 1);
    assert_eq!(asks[0]["price"], "1.0000000");
    assert_eq!(asks[0]["amount"], "10.0000000");
    assert_eq!(book["base"], serde_json::json!({ "asset_type": "native" }));
    assert_eq!(book["counter"]["asset_code"], "USD");
    let limited = horizon::order_book(m.ledger.book(), &Asset::Native, &m.usd, 1);
    assert_eq!(limited["bids"].as_array().unwrap().len(), 1);
}

#[test]
fn trade_matches_the_fixture_shape() {
    let m = market();
    let trades = &m.ledger.history().trades;
    assert_eq!(trades.len(), 1);
    let record = &trades[0];
    let trade = horizon::trade(record);
    assert_shape(&trade, first_record(&fixture("trades.json")));
    assert_eq!(trade["id"], record.paging_token());
    assert_eq!(trade["ledger_close_time"], "2023-11-14T22:13:25Z");
    // Native sorts first, so it is the base: the taker `b` sold it.
    assert_eq!(trade["base_is_seller"], false);
    assert_eq!(trade["base_account"], m.b.id.to_string());
    assert_eq!(trade["base_amount"], "150.0000000");
    assert_eq!(trade["base_asset_type"], "native");
    assert_eq!(trade["counter_account"], m.a.id.to_string());
    assert_eq!(trade["counter_amount"], "75.0000000");
    assert_eq!(trade["counter_offer_id"], record.maker_offer_id.to_string());
    assert_eq!(trade["counter_asset_code"], "USD");
    // The taker's offer did not rest: Horizon's synthetic id.
    assert_eq!(trade["base_offer_id"], (record.operation_id() | (1 << 62)).to_string());
    assert_eq!(trade["price"], serde_json::json!({ "n": "1", "d": "2" }));
}

#[test]
fn transaction_matches_the_fixture_shape() {
    let m = market();
    let txs = &m.ledger.history().transactions;
    let record = txs.iter().find(|t| t.hash == m.memo_tx).unwrap();
    let t = horizon::transaction(record);
    assert_shape(&t, &fixture("tx_success.json"));
    let hash: String = record.hash.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(t["hash"], hash);
    assert_eq!(t["id"], hash);
    assert_eq!(t["paging_token"], record.toid().to_string());
    assert_eq!(t["successful"], true);
    assert_eq!(t["memo_type"], "text");
    assert_eq!(t["memo"], "Test Transaction");
    assert_eq!(t["memo_bytes"], "VGVzdCBUcmFuc2FjdGlvbg==", "the fixture's own memo_bytes");
    assert_eq!(t["fee_charged"], "100");
    assert_eq!(t["max_fee"], "100");
    assert_eq!(t["source_account_sequence"], record.seq_num.to_string());
    assert_eq!(t["created_at"], "2023-11-14T22:13:25Z");
    assert_eq!(t["envelope_xdr"], BASE64.encode(&record.envelope_xdr));
    assert_eq!(t["result_xdr"], BASE64.encode(&record.result_xdr));
    assert_eq!(t["signatures"].as_array().unwrap().len(), 1);
}

#[test]
fn failed_submissions_are_transaction_failed_problems() {
    let mut m = market();
    // A bad sequence number: rejected, no operation results.
    let mut t = tx(&m.ledger, &m.a, vec![op(payment(&m.b.id, &Asset::Native, XLM))]);
    t.seq_num = xdr::SequenceNumber(t.seq_num.0 + 5);
    let (s, envelope) = submit_tx(&mut m.ledger, t, &m.a);
    let problem = horizon::tx_failed_problem(&s, &envelope);
    let fixture_bad_seq = fixture("tx_failed_bad_seq.json");
    assert_shape(&problem, &fixture_bad_seq);
    assert_eq!(problem["type"], "https://stellar.org/horizon-errors/transaction_failed");
    assert_eq!(problem["title"], "Transaction Failed");
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["extras"]["result_codes"], serde_json::json!({ "transaction": "tx_bad_seq" }));
    assert_eq!(problem["extras"]["envelope_xdr"], envelope);
    assert_eq!(problem["extras"]["result_xdr"], s.result_base64);
    // The fixture's own result XDR decodes to the same names.
    let fixture_result = xdr::TransactionResult::from_xdr_base64(
        fixture_bad_seq["extras"]["result_xdr"].as_str().unwrap(),
        xdr::Limits::none(),
    )
    .unwrap();
    assert_eq!(horizon::tx_code(fixture_result.result.discriminant()), "tx_bad_seq");

    // An underfunded payment: applied, txFAILED with op_underfunded.
    let t = tx(&m.ledger, &m.b, vec![op(payment(&m.a.id, &m.usd, 1_000 * XLM))]);
    let (s, envelope) = submit_tx(&mut m.ledger, t, &m.b);
    assert!(s.applied() && !s.succeeded());
    let problem = horizon::tx_failed_problem(&s, &envelope);
    let fixture_op = fixture("tx_failed_op.json");
    assert_shape(&problem, &fixture_op);
    assert_eq!(problem["detail"], fixture_op["detail"]);
    assert_eq!(
        problem["extras"]["result_codes"],
        serde_json::json!({ "transaction": "tx_failed", "operations": ["op_underfunded"] })
    );
    let fixture_result = xdr::TransactionResult::from_xdr_base64(
        fixture_op["extras"]["result_xdr"].as_str().unwrap(),
        xdr::Limits::none(),
    )
    .unwrap();
    assert_eq!(horizon::tx_code(fixture_result.result.discriminant()), "tx_failed");
}

#[test]
fn result_code_names_are_horizons() {
    use xdr::TransactionResultCode as C;
    assert_eq!(horizon::tx_code(C::TxSuccess), "tx_success");
    assert_eq!(horizon::tx_code(C::TxFailed), "tx_failed");
    assert_eq!(horizon::tx_code(C::TxBadSeq), "tx_bad_seq");
    assert_eq!(horizon::tx_code(C::TxNoAccount), "tx_no_source_account");
    assert_eq!(horizon::tx_code(C::TxBadAuthExtra), "tx_bad_auth_extra");
    assert_eq!(horizon::tx_code(C::TxBadMinSeqAgeOrGap), "tx_bad_minseq_age_or_gap");
    let inner = xdr::OperationResult::OpInner;
    use xdr::OperationResultTr as T;
    let cases = [
        (xdr::OperationResult::OpNoAccount, "op_no_source_account"),
        (xdr::OperationResult::OpNotSupported, "op_not_supported"),
        (xdr::OperationResult::OpTooManySubentries, "op_too_many_subentries"),
        (xdr::OperationResult::OpExceededWorkLimit, "op_exceeded_work_limit"),
        (inner(T::Payment(xdr::PaymentResult::Underfunded)), "op_underfunded"),
        (inner(T::Payment(xdr::PaymentResult::NoDestination)), "op_no_destination"),
        (inner(T::Payment(xdr::PaymentResult::SrcNoTrust)), "op_src_no_trust"),
        (inner(T::Payment(xdr::PaymentResult::Success)), "op_success"),
        (inner(T::CreateAccount(xdr::CreateAccountResult::AlreadyExist)), "op_already_exists"),
        (inner(T::ChangeTrust(xdr::ChangeTrustResult::InvalidLimit)), "op_invalid_limit"),
        (inner(T::ManageData(xdr::ManageDataResult::NameNotFound)), "op_data_name_not_found"),
        (inner(T::ManageData(xdr::ManageDataResult::InvalidName)), "op_data_invalid_name"),
        (inner(T::ManageSellOffer(xdr::ManageSellOfferResult::Underfunded)), "op_underfunded"),
        (inner(T::ManageSellOffer(xdr::ManageSellOfferResult::CrossSelf)), "op_cross_self"),
        (inner(T::ManageSellOffer(xdr::ManageSellOfferResult::SellNotAuthorized)), "sell_not_authorized"),
        (inner(T::ManageSellOffer(xdr::ManageSellOfferResult::BuyNoIssuer)), "buy_no_issuer"),
        (inner(T::ManageSellOffer(xdr::ManageSellOfferResult::NotFound)), "op_offer_not_found"),
        (inner(T::CreatePassiveSellOffer(xdr::ManageSellOfferResult::LowReserve)), "op_low_reserve"),
        (inner(T::ManageBuyOffer(xdr::ManageBuyOfferResult::BuyNotAuthorized)), "buy_not_authorized"),
        (inner(T::ManageBuyOffer(xdr::ManageBuyOfferResult::SellNoTrust)), "op_sell_no_trust"),
    ];
    for (result, name) in cases {
        assert_eq!(horizon::op_code(&result), name, "{result:?}");
    }
}

#[test]
fn omissions_are_listed_with_reasons() {
    assert!(OMITTED.iter().all(|(key, reason)| !key.is_empty() && !reason.is_empty()));
}
