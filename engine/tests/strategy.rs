//! The market maker inside the engine: quotes around the mid through every check, refreshes
//! when the mid moves beyond tolerance, skews sizes against inventory, and is deterministic.

use starlog_engine::events::{BookSnapshot, Input, Level, OfferEffect, OpResult, Timer, TxSucceeded, WirePrice};
use starlog_engine::risk::Side;
use starlog_engine::strategy::{MarketMaker, MarketMakerParams};
use starlog_engine::{Amount, OrderStatus, Price};

mod support;

use support::{H, account, engine_with, intents, session};

fn params() -> MarketMakerParams {
    MarketMakerParams {
        pair: 0,
        spread_bps: 100,
        levels: 2,
        level_spacing_bps: 50,
        order_amount: "10".parse().unwrap(),
        refresh_tolerance_bps: 20,
        inventory_skew_pct: 0,
    }
}

fn book(bid: i32, ask: i32) -> Input {
    Input::Book(BookSnapshot {
        pair: 0,
        bids: vec![Level { price: WirePrice { n: bid, d: 10_000 }, amount_stroops: 100_000_000_000 }],
        asks: vec![Level { price: WirePrice { n: ask, d: 10_000 }, amount_stroops: 100_000_000_000 }],
    })
}

fn started(p: MarketMakerParams, xlm: &str, usd_amount: &str) -> H {
    let mut h = H::new(engine_with(Box::new(MarketMaker::new(p))));
    h.feed(1, &session());
    h.feed(2, &account(xlm, usd_amount));
    h
}

/// The new offers of `placed` land on the book in ledger 1, as offers 100, 101, …
fn land(h: &mut H, placed: &[starlog_engine::outputs::Intent]) {
    for (k, i) in placed.iter().enumerate() {
        h.feed(
            4 + k as i64,
            &Input::TxSucceeded(TxSucceeded {
                intent: i.id,
                hash: [k as u8; 32],
                ledger: 1,
                fee_charged_stroops: 100,
                ops: vec![OpResult {
                    effect: OfferEffect::Created,
                    offer_id: 100 + k as i64,
                    remaining_stroops: 1,
                    claims: vec![],
                }],
            }),
        );
    }
}

#[test]
fn quotes_both_sides_around_the_mid() {
    let mut h = started(params(), "1000", "1000");
    let out = h.feed(3, &book(990, 1010)); // mid 0.1
    let placed: Vec<(Side, Price, Amount)> = h.e.orders().map(|o| (o.side, o.price, o.amount)).collect();
    let ten: Amount = "10".parse().unwrap();
    let p = |s: &str| s.parse::<Price>().unwrap();
    assert_eq!(
        placed,
        vec![
            (Side::Buy, p("0.0995"), ten),
            (Side::Buy, p("0.099"), ten),
            (Side::Sell, p("0.1005"), ten),
            (Side::Sell, p("0.101"), ten)
        ]
    );
    assert_eq!(intents(&out).len(), 4);
    // Nothing new while the quotes stand.
    assert!(intents(&h.feed(4, &Input::Timer(Timer {}))).is_empty());
}

#[test]
fn refreshes_when_the_mid_moves_beyond_tolerance() {
    let mut h = started(params(), "1000", "1000");
    let out = h.feed(3, &book(990, 1010));
    // The offers land on the book.
    land(&mut h, &intents(&out));
    assert!(h.e.orders().all(|o| o.status == OrderStatus::Open));
    // A 0.1 % move is within the 0.2 % tolerance: nothing happens.
    assert!(intents(&h.feed(10, &book(991, 1011))).is_empty());
    // A 1 % move: every quote is cancelled (one cancel per order), none placed until they land.
    let out = h.feed(11, &book(1000, 1020));
    let cancels = intents(&out);
    assert_eq!(cancels.len(), 4);
    assert!(cancels.iter().all(|i| i.ops.len() == 1 && i.ops[0].amount_stroops == 0 && i.ops[0].offer_id >= 100));
    assert!(h.e.orders().all(|o| o.status == OrderStatus::PendingCancel));
    // The cancels land: the next input re-quotes around the new mid (0.101).
    for (k, i) in cancels.iter().enumerate() {
        h.feed(
            12 + k as i64,
            &Input::TxSucceeded(TxSucceeded {
                intent: i.id,
                hash: [50 + k as u8; 32],
                ledger: 2,
                fee_charged_stroops: 100,
                ops: vec![OpResult {
                    effect: OfferEffect::Deleted,
                    offer_id: i.ops[0].offer_id,
                    remaining_stroops: 0,
                    claims: vec![],
                }],
            }),
        );
    }
    let live: Vec<Price> = h.e.orders().filter(|o| !o.status.is_terminal()).map(|o| o.price).collect();
    assert_eq!(live.len(), 4);
    assert!(!live.contains(&"0.0995".parse::<Price>().unwrap()), "the old quotes are gone");
    assert!(live.contains(&Price::approximate(101 * 9_950, 1000 * 10_000).unwrap()));
}

#[test]
fn inventory_skew_sizes_against_the_position() {
    // All base (XLM) and no counter: buy nothing, sell double.
    let skewed = MarketMakerParams { inventory_skew_pct: 100, ..params() };
    let mut h = started(skewed, "10000", "0");
    h.feed(3, &book(990, 1010));
    let sizes: Vec<(Side, Amount)> = h.e.orders().map(|o| (o.side, o.amount)).collect();
    assert!(sizes.iter().all(|(s, a)| *s == Side::Sell && *a == "20".parse::<Amount>().unwrap()), "{sizes:?}");
    // Balanced: no skew.
    let mut h = started(MarketMakerParams { inventory_skew_pct: 100, ..params() }, "1000", "100");
    h.feed(3, &book(990, 1010));
    assert!(h.e.orders().all(|o| o.amount == "10".parse::<Amount>().unwrap()));
}

#[test]
fn the_same_inputs_give_the_same_quotes() {
    let run = || {
        let mut h = started(MarketMakerParams { inventory_skew_pct: 40, ..params() }, "1000", "77");
        for i in 0..50 {
            let bid = 980 + (i * 7 % 23);
            h.feed(3 + i as i64, &book(bid, bid + 15 + (i % 5)));
        }
        (h.out, h.e.state_hash())
    };
    assert_eq!(run(), run());
}

#[test]
fn parameters_are_set_by_name() {
    let mut p = params();
    p.set("spread_bps", "30").unwrap();
    p.set("levels", "3").unwrap();
    p.set("order_amount", "2.5").unwrap();
    p.set("inventory_skew", "150").unwrap();
    assert_eq!((p.spread_bps, p.levels, p.order_amount, p.inventory_skew_pct), (30, 3, "2.5".parse().unwrap(), 100));
    assert!(p.set("levels", "0").is_err());
    assert!(p.set("spread", "1").unwrap_err().contains("unknown market-maker parameter"));
    assert!(p.set("levels", "x").unwrap_err().contains("not a whole number"));
}

/// Decisions among `out`: (accepted, refused).
fn decisions(out: &[starlog_engine::outputs::Output]) -> (usize, usize) {
    use starlog_engine::outputs::Output;
    out.iter().fold((0, 0), |(ok, no), o| match o {
        Output::Decision(d) if d.reject_code == 0 => (ok + 1, no),
        Output::Decision(_) => (ok, no + 1),
        _ => (ok, no),
    })
}

#[test]
fn a_refused_quote_is_not_retried_until_the_mid_moves() {
    // Orders larger than the engine's order amount limit: every quote is refused.
    let big = MarketMakerParams { order_amount: "200000".parse().unwrap(), ..params() };
    let mut h = started(big, "1000000", "1000000");
    let first = h.feed(3, &book(990, 1010));
    assert_eq!(decisions(&first), (0, 4), "each quote tried once and refused");
    // Timers with the mid unchanged: no new attempt, no new refusal.
    for ts in 4..20 {
        assert_eq!(decisions(&h.feed(ts, &Input::Timer(Timer {}))), (0, 0), "at {ts}");
    }
    // The mid moves: the strategy looks again (the refused ones are tried once more).
    let moved = h.feed(20, &book(1000, 1020));
    assert_eq!(decisions(&moved), (0, 4), "tried again after the mid moved");
}

#[test]
fn a_halted_engine_is_asked_nothing_and_quotes_resume_after() {
    use starlog_engine::events::{Command, OperatorCommand};
    let mut h = started(params(), "1000", "1000");
    let operator = |command| Input::Operator(OperatorCommand { operator: "op".into(), command });
    h.feed(3, &operator(Command::Halt));
    for (ts, input) in [(4, book(990, 1010)), (5, Input::Timer(Timer {})), (6, book(1000, 1020))] {
        assert_eq!(decisions(&h.feed(ts, &input)), (0, 0), "halted: no placement is even tried");
    }
    h.feed(7, &operator(Command::Resume));
    let resumed = h.feed(8, &Input::Timer(Timer {}));
    assert_eq!(decisions(&resumed), (4, 0), "quotes both sides once resumed");
}

/// With no refresh tolerance, a quote at the price its target rounds to stands: one side empty
/// (all inventory in XLM, full skew) makes every input re-check the other side, and its quotes
/// must not be cancelled and placed again at the same price. (The mid's targets here do not fit
/// an `i32` fraction, so the quotes are rounded.)
#[test]
fn with_no_tolerance_a_quote_at_its_rounded_target_stands() {
    let p = MarketMakerParams { refresh_tolerance_bps: 0, inventory_skew_pct: 100, ..params() };
    let mut h = started(p, "1000", "0");
    let level = |n, d| Level { price: WirePrice { n, d }, amount_stroops: 100_000_000_000 };
    let out = h.feed(
        3,
        &Input::Book(BookSnapshot {
            pair: 0,
            bids: vec![level(199_999_991, 1_999_999_973)],
            asks: vec![level(100_000_037, 999_999_937)],
        }),
    );
    let placed = intents(&out);
    assert!(!placed.is_empty() && h.e.orders().all(|o| o.side == Side::Sell), "asks only");
    land(&mut h, &placed);
    for t in 10..20 {
        assert!(intents(&h.feed(t, &Input::Timer(Timer {}))).is_empty(), "no churn at {t}");
    }
    assert!(h.e.orders().all(|o| o.status == OrderStatus::Open));
}
