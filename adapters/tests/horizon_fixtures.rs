//! The Horizon decoders and the SSE parser against real Horizon responses
//! (`fixtures/horizon/`, see its README for where each came from).

use starlog_adapters::horizon::decode::{self, DecodeError};
use starlog_adapters::horizon::sse::{Event, Parser};
use starlog_adapters::stellar::result::TxOutcome;
use starlog_engine::{AccountId, Asset};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/horizon").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn asset(text: &str) -> Asset {
    text.parse().unwrap()
}

fn records(name: &str) -> Vec<Vec<u8>> {
    let page: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
    page["_embedded"]["records"].as_array().unwrap().iter().map(|r| serde_json::to_vec(r).unwrap()).collect()
}

#[test]
fn order_book_levels_in_base() {
    let btc = asset("BTC:GBVOL67TMUQBGL4TZYNMY3ZQ5WGQYFPFD5VJRWXR72VA33VFNL225PL5");
    let book = decode::order_book(&fixture("order_book.json"), 3, &Asset::Native, &btc).unwrap();
    assert_eq!((book.pair, book.bids.len(), book.asks.len()), (3, 2, 2));
    assert_eq!((book.asks[0].price.n, book.asks[0].price.d), (2, 78125));
    assert_eq!(book.asks[0].amount_stroops, 33_547_460_938);
    // 0.0841405 BTC at 48904/1949839975 BTC per XLM: 3354.7… XLM, rounded down.
    assert_eq!(book.bids[0].amount_stroops, 841_405 * 1_949_839_975 / 48_904);
    let other = decode::order_book(&fixture("order_book.json"), 3, &btc, &Asset::Native).unwrap_err();
    assert!(other.to_string().contains("another pair"), "{other}");
}

#[test]
fn trades_modern_legacy_and_pool() {
    let test = asset("TEST:GB7DCP4SQBU3XZIJTJ55WEEVRBLSGT3ILJD2VUDMCTSZ4JVS2AUHTEST");
    let t = decode::trade(&records("trades.json")[0], 1, &test, &Asset::Native).unwrap();
    assert_eq!(t.id, 6_816_113_102_849u128 << 32, "trade index 0");
    assert_eq!(t.ledger, (6_816_113_102_849u64 >> 32) as u32);
    assert_eq!(t.ledger_close_time, 1_755_200_123, "2025-08-14T19:35:23Z");
    assert_eq!((t.price.n, t.price.d), (9, 100));
    assert_eq!((t.base_amount_stroops, t.counter_amount_stroops), (22_222_222_211, 1_999_999_999));
    assert!(t.base_is_seller);
    assert_eq!(t.base_offer_id, 24);
    let base: AccountId = "GBLD7NSGWYT2KRFTYMRJGQ42SNTGDXMZYNQUE3H7N2VEMARIQYKBB4JJ".parse().unwrap();
    assert_eq!(t.base_account, *base.as_bytes());
    // The same trade asked for as native/TEST: turned around.
    let flipped = decode::trade(&records("trades.json")[0], 1, &Asset::Native, &test).unwrap();
    assert_eq!((flipped.price.n, flipped.price.d), (100, 9));
    assert_eq!(flipped.base_amount_stroops, t.counter_amount_stroops);
    assert!(!flipped.base_is_seller);
    assert_eq!(flipped.counter_offer_id, 24);

    let dsq = asset("DSQ:GBDQPTQJDATT7Z7EO4COS4IMYXH44RDLLI6N6WIL5BZABGMUOVMLWMQF");
    let usd = asset("USD:GAA4MFNZGUPJAVLWWG6G5XZJFZDHLKQNG3Q6KB24BAD6JHNNVXDCF4XG");
    let legacy = decode::trade(&records("trades_legacy_int_price.json")[0], 0, &dsq, &usd).unwrap();
    assert_eq!((legacy.price.n, legacy.price.d), (2_000_000, 49_525_693), "numbers, not strings");
    assert_eq!(legacy.counter_offer_id, 3_698_823);

    let pool_asset = asset("TEST:GC6ZBHGJGGTPVLYALOKQNQSQUXHJUYDZ7VLMAPU2MERVTYMKVL2GTEST");
    let pool = decode::trade(&records("trades_liquidity_pool.json")[0], 0, &Asset::Native, &pool_asset).unwrap();
    assert_eq!((pool.counter_offer_id, pool.counter_account), (0, [0; 32]), "a pool side has no offer or account");
    assert_eq!((pool.price.n, pool.price.d), (1_055_177_194, 100_000_000));
}

#[test]
fn account_and_offers_into_a_snapshot() {
    let s = decode::account(&fixture("account.json"), &fixture("offers.json"), 1600, 5_000_000).unwrap();
    assert_eq!(s.sequence, 6_588_479_832_090);
    assert_eq!((s.subentry_count, s.ledger, s.base_reserve_stroops), (23, 1600, 5_000_000));
    assert_eq!(s.balances.len(), 2);
    let test = &s.balances[0];
    assert_eq!(test.balance_stroops, 99_977_777_777_789);
    assert_eq!(
        (test.buying_liabilities_stroops, test.selling_liabilities_stroops),
        (3_695_838_267_026, 51_077_777_777_789)
    );
    assert_eq!(test.limit_stroops, i64::MAX, "922337203685.4775807 is the largest amount");
    assert_eq!(s.balances[1].asset.code, [0; 12], "native last, as Horizon lists it");
    assert_eq!(s.offers.len(), 2);
    assert_eq!(s.offers[0].offer_id, 2_946_580);
    assert_eq!(s.offers[0].amount_stroops, 337_252_478);
    assert_eq!((s.offers[0].price.n, s.offers[0].price.d), (15_477, 43_975_000));
}

#[test]
fn fee_stats_problems_and_transactions() {
    let f = decode::fee_stats(&fixture("fee_stats.json")).unwrap();
    assert_eq!((f.last_ledger, f.last_ledger_base_fee), (43_277_313, 100));
    assert_eq!((f.max_fee_p50, f.max_fee_p90, f.max_fee_p99, f.fee_charged_p90), (20_005, 500_000, 1_490_000, 5500));

    let bad_seq = decode::problem(&fixture("tx_failed_bad_seq.json"), 400).unwrap();
    assert_eq!(
        (bad_seq.status, bad_seq.kind.as_str(), bad_seq.tx_code.as_deref()),
        (400, "transaction_failed", Some("tx_bad_seq"))
    );
    assert!(bad_seq.op_codes.is_empty() && bad_seq.result_xdr.is_some());
    let op = decode::problem(&fixture("tx_failed_op.json"), 400).unwrap();
    assert_eq!(op.op_codes, ["op_underfunded"]);
    let limited = decode::problem(&fixture("rate_limited.json"), 429).unwrap();
    assert_eq!((limited.status, limited.kind.as_str(), limited.tx_code), (429, "rate_limit_exceeded", None));

    for (name, ledger) in [
        ("tx_success.json", 139_575),
        ("tx_success_no_result_meta.json", 220),
        ("tx_success_offer_partial_fill.json", 22_896_525),
    ] {
        let t = decode::transaction(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.ledger, ledger, "{name}");
        assert!(t.successful, "{name}");
    }
    let plain = decode::transaction(&fixture("tx_success.json")).unwrap();
    assert_eq!(plain.outcome, None, "not an offer transaction");
    let partial = decode::transaction(&fixture("tx_success_offer_partial_fill.json")).unwrap();
    assert!(matches!(partial.outcome, Some(TxOutcome::Success { .. })));
    assert_eq!(
        starlog_adapters::stellar::hex(&partial.hash),
        "28552ba6a70ab74f6de05319950e2ddad94491159ebc97b14cfcde2d3c7e70a1"
    );
}

#[test]
fn bad_documents_name_the_field() {
    let cases: [(&[u8], &str); 5] = [
        (b"not json", "(document)"),
        (br#"{"base":{"asset_type":"native"},"counter":{"asset_type":"native"},"bids":[],"asks":[{"price_r":{"n":1,"d":0},"amount":"1"}]}"#, "price_r"),
        (br#"{"base":{"asset_type":"native"},"counter":{"asset_type":"native"},"bids":[{"price_r":{"n":1,"d":1},"amount":"1.00000001"}],"asks":[]}"#, "amount"),
        (br#"{"base":{"asset_type":"credit_alphanum4","asset_code":"TOOLONGCODE","asset_issuer":"GBLD7NSGWYT2KRFTYMRJGQ42SNTGDXMZYNQUE3H7N2VEMARIQYKBB4JJ"},"counter":{"asset_type":"native"},"bids":[],"asks":[]}"#, "asset_type"),
        (br#"{"counter":{"asset_type":"native"},"bids":[],"asks":[]}"#, "base"),
    ];
    for (body, field) in cases {
        let e: DecodeError = decode::order_book(body, 0, &Asset::Native, &Asset::Native).unwrap_err();
        assert_eq!(e.field, field, "{e}");
    }
    assert_eq!(decode::rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(decode::rfc3339("2000-02-29T23:59:59Z"), Some(951_868_799));
    for bad in [
        "2001-02-29T00:00:00Z",
        "2021-13-01T00:00:00Z",
        "2021-01-01T00:00:00+01:00",
        "2021-01-01 00:00:00Z",
        "+021-01-01T00:00:00Z",
    ] {
        assert_eq!(decode::rfc3339(bad), None, "{bad}");
    }
}

fn events(name: &str) -> Vec<Event> {
    let mut parser = Parser::new();
    let mut out = Vec::new();
    for chunk in fixture(name).chunks(7) {
        parser.feed(chunk, &mut out).unwrap();
    }
    out
}

#[test]
fn sse_transcripts() {
    let book = events("order_book_stream.sse");
    assert_eq!(book[0].data, "\"hello\"");
    assert_eq!(book[0].event, "open");
    assert_eq!(book.len(), 2);
    assert_eq!(book[1].id, "", "object streams have no id");
    let frame: serde_json::Value = serde_json::from_str(&book[1].data).unwrap();
    let side = |v: &serde_json::Value| match v["asset_type"].as_str().unwrap() {
        "native" => Asset::Native,
        _ => asset(&format!("{}:{}", v["asset_code"].as_str().unwrap(), v["asset_issuer"].as_str().unwrap())),
    };
    let snapshot =
        decode::order_book(book[1].data.as_bytes(), 0, &side(&frame["base"]), &side(&frame["counter"])).unwrap();
    assert!(!snapshot.bids.is_empty() && !snapshot.asks.is_empty());

    let trades = events("trades_stream.sse");
    assert_eq!(trades.len(), 5, "hello, 3 records, byebye");
    assert_eq!(trades[1].id, "6816113102849-0");
    assert_eq!(trades[4].event, "close");
    assert_eq!(trades[4].data, "\"byebye\"");
    let test = asset("TEST:GB7DCP4SQBU3XZIJTJ55WEEVRBLSGT3ILJD2VUDMCTSZ4JVS2AUHTEST");
    let first = decode::trade(trades[1].data.as_bytes(), 0, &test, &Asset::Native).unwrap();
    assert_eq!(first.base_offer_id, 24);
}
