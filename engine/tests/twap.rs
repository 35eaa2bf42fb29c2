//! The TWAP seller inside the engine: slices fall due at their event times with amounts that sum
//! exactly to the total, are priced by aggressiveness and floor, an unfilled slice is cancelled
//! and rolled into the next, nothing happens after the window or without a book, and the whole
//! thing is deterministic.

use proptest::prelude::*;
use starlog_engine::engine::Engine;
use starlog_engine::events::{
    BookSnapshot, Claim, Input, Level, OfferEffect, OpResult, Timer, TxSucceeded, WireAsset, WirePrice,
};
use starlog_engine::outputs::{Intent, Output};
use starlog_engine::risk::Side;
use starlog_engine::twap::{Twap, TwapParams};
use starlog_engine::{Amount, Asset, OrderStatus, Price};

mod support;

use support::{H, account, engine_with, intents, session, usd};
/// The window of [`params`] starts at the first input at or after this time.
const START: i64 = 1_000;

fn amount(s: &str) -> Amount {
    s.parse().unwrap()
}

fn price(s: &str) -> Price {
    s.parse().unwrap()
}

/// 10.0000003 in 4 slices over 4000 ns from `START`: due at 1000, 2000, 3000, 4000; window
/// ends at 5000. Slices of 2.5 and a last one of 2.5000003.
fn params() -> TwapParams {
    TwapParams {
        pair: 0,
        total_amount: amount("10.0000003"),
        slices: 4,
        duration_ns: 4_000,
        start_ns: START,
        aggressiveness_bps: 50,
        limit_price: None,
    }
}

fn engine(p: TwapParams) -> Engine {
    engine_with(Box::new(Twap::new(p)))
}

trait TwapHarness {
    fn timer(&mut self, ts: i64) -> Vec<Output>;
    /// Our orders, oldest first: (side, amount, price, status).
    fn orders(&self) -> Vec<(Side, Amount, Price, OrderStatus)>;
}

impl TwapHarness for H {
    fn timer(&mut self, ts: i64) -> Vec<Output> {
        self.feed(ts, &Input::Timer(Timer {}))
    }

    fn orders(&self) -> Vec<(Side, Amount, Price, OrderStatus)> {
        self.e.orders().map(|o| (o.side, o.amount, o.price, o.status)).collect()
    }
}

/// A book with a bid and an ask at `n/10000` each (either side may be missing).
fn book(bid: Option<i32>, ask: Option<i32>) -> Input {
    let level = |n: i32| Level { price: WirePrice { n, d: 10_000 }, amount_stroops: 100_000_000_000 };
    Input::Book(BookSnapshot {
        pair: 0,
        bids: bid.into_iter().map(level).collect(),
        asks: ask.into_iter().map(level).collect(),
    })
}

/// The usual book: best bid 0.099, best ask 0.101.
fn usual_book() -> Input {
    book(Some(990), Some(1010))
}

/// Intents that place an order (cancels have amount 0).
fn placements(out: &[Output]) -> Vec<Intent> {
    intents(out).into_iter().filter(|i| i.ops.iter().all(|op| op.amount_stroops > 0)).collect()
}

fn cancels(out: &[Output]) -> Vec<Intent> {
    intents(out).into_iter().filter(|i| i.ops.iter().all(|op| op.amount_stroops == 0)).collect()
}

fn decisions(out: &[Output]) -> usize {
    out.iter().filter(|o| matches!(o, Output::Decision(_))).count()
}

/// The result of a one-operation transaction.
fn result(intent: u64, effect: OfferEffect, offer_id: i64, filled_stroops: i64) -> Input {
    let claims = if filled_stroops > 0 {
        vec![Claim {
            seller: [7; 32],
            offer_id: 555,
            asset_sold: WireAsset::from(usd()),
            amount_sold_stroops: filled_stroops / 10,
            asset_bought: WireAsset::from(Asset::Native),
            amount_bought_stroops: filled_stroops,
        }]
    } else {
        vec![]
    };
    Input::TxSucceeded(TxSucceeded {
        intent,
        hash: [intent as u8; 32],
        ledger: 1,
        fee_charged_stroops: 100,
        ops: vec![OpResult { effect, offer_id, remaining_stroops: 0, claims }],
    })
}

/// The placement filled completely on arrival.
fn filled(i: &Intent) -> Input {
    result(i.id, OfferEffect::Deleted, 0, i.ops[0].amount_stroops)
}

/// The placement rests on the book as `offer_id`, `filled_stroops` filled on arrival.
fn rests(i: &Intent, offer_id: i64, filled_stroops: i64) -> Input {
    result(i.id, OfferEffect::Created, offer_id, filled_stroops)
}

/// The cancel landed.
fn cancelled(i: &Intent) -> Input {
    result(i.id, OfferEffect::Deleted, i.ops[0].offer_id, 0)
}

/// Session, account and book before the window starts: nothing is placed yet.
fn started(p: TwapParams) -> H {
    let mut h = H::new(engine(p));
    h.feed(1, &session());
    h.feed(2, &account("10000", "1000"));
    let out = h.feed(3, &usual_book());
    assert!(intents(&out).is_empty(), "nothing before start_ns");
    h
}

#[test]
fn slices_fall_due_at_their_event_times_and_sum_to_the_total() {
    let mut h = started(params());
    let mut sizes = Vec::new();
    for (t, due) in [(999, false), (1_000, true), (1_500, false), (1_999, false), (2_000, true), (3_000, true)] {
        let out = h.timer(t);
        let placed = placements(&out);
        assert_eq!(placed.len(), usize::from(due), "at {t}");
        for i in &placed {
            sizes.push(i.ops[0].amount_stroops);
            h.feed(t, &filled(i));
        }
    }
    // The last slice falls due at 4000 and takes the remainder.
    let out = h.timer(4_000);
    let last = placements(&out);
    assert_eq!(last.len(), 1);
    sizes.push(last[0].ops[0].amount_stroops);
    h.feed(4_000, &filled(&last[0]));
    assert_eq!(sizes, vec![25_000_000, 25_000_000, 25_000_000, 25_000_003]);
    assert_eq!(sizes.iter().sum::<i64>(), amount("10.0000003").stroops());
    assert!(h.orders().iter().all(|&(side, _, _, s)| side == Side::Sell && s == OrderStatus::Filled));
    // Everything sold: nothing more, even inside the window.
    assert!(h.timer(4_500).is_empty());
    assert!(h.timer(6_000).is_empty());
}

#[test]
fn slices_missed_between_sparse_inputs_go_out_together() {
    let mut h = started(params());
    let out = h.timer(1_000);
    h.feed(1_000, &filled(&placements(&out)[0]));
    // No input at 2000: slices 1 and 2 are both due at 3500.
    let out = h.timer(3_500);
    let placed = placements(&out);
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].ops[0].amount_stroops, 50_000_000);
    h.feed(3_500, &filled(&placed[0]));
    // The first input at 4000 or later (inside the window) brings the last slice.
    let out = h.timer(4_999);
    assert_eq!(placements(&out)[0].ops[0].amount_stroops, 25_000_003);
}

#[test]
fn a_duration_shorter_than_the_slice_count_releases_everything_at_once() {
    let mut h = started(TwapParams { duration_ns: 3, ..params() });
    let out = h.timer(1_000);
    assert_eq!(placements(&out)[0].ops[0].amount_stroops, amount("10.0000003").stroops());
}

#[test]
fn the_price_respects_aggressiveness_and_the_floor() {
    let first_price = |p: TwapParams| {
        let mut h = started(p);
        h.timer(1_000);
        let orders = h.orders();
        assert_eq!(orders.len(), 1, "{orders:?}");
        orders[0].2
    };
    // 50 bps below the best bid 0.099: 0.098505.
    let aggressive = first_price(params());
    assert_eq!(aggressive, price("0.098505"));
    assert!(aggressive < price("0.099"));
    // A floor below that price changes nothing; one above raises the price to the floor.
    assert_eq!(first_price(TwapParams { limit_price: Some(price("0.0985")), ..params() }), price("0.098505"));
    assert_eq!(first_price(TwapParams { limit_price: Some(price("0.0989")), ..params() }), price("0.0989"));
    // Passive: at the best ask; a floor above the ask holds.
    let passive = TwapParams { aggressiveness_bps: 0, ..params() };
    assert_eq!(first_price(passive), price("0.101"));
    assert_eq!(first_price(TwapParams { limit_price: Some(price("0.103")), ..passive }), price("0.103"));
    // 1 bp: the nearest Stellar price to 0.099 · 0.9999, which is exact here.
    let one_bp = first_price(TwapParams { aggressiveness_bps: 1, ..params() });
    assert_eq!(one_bp, Price::approximate(990 * 9_999, 10_000 * 10_000).unwrap());
    assert_eq!(one_bp, price("0.0989901"));
}

#[test]
fn an_unfilled_slice_is_cancelled_and_rolled_into_the_next() {
    let mut h = started(TwapParams { aggressiveness_bps: 0, ..params() });
    let out = h.timer(1_000);
    let first = placements(&out);
    assert_eq!(first.len(), 1);
    // It rests with 1.0 of its 2.5 filled on arrival.
    h.feed(1_100, &rests(&first[0], 100, 10_000_000));
    assert_eq!(h.orders()[0].3, OrderStatus::PartiallyFilled);
    // Nothing while it rests and no slice is due.
    assert!(intents(&h.timer(1_500)).is_empty());
    // Slice 1 falls due: the resting order is cancelled; nothing new until the cancel lands.
    let out = h.timer(2_000);
    let cancel = cancels(&out);
    assert_eq!((cancel.len(), placements(&out).len(), decisions(&out)), (1, 0, 0));
    assert_eq!(cancel[0].ops[0].offer_id, 100);
    assert_eq!(h.orders()[0].3, OrderStatus::PendingCancel);
    assert!(intents(&h.timer(2_100)).is_empty(), "no second cancel, no placement while cancelling");
    // The cancel lands: the next order is slice 1 plus the 1.5 left of slice 0, in one.
    let out = h.feed(2_200, &cancelled(&cancel[0]));
    let next = placements(&out);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].ops[0].amount_stroops, 25_000_000 + 15_000_000);
    let orders = h.orders();
    assert_eq!(orders[0].3, OrderStatus::Cancelled);
    assert_eq!((orders[1].1, orders[1].3), (amount("4"), OrderStatus::PendingSubmit));
    // The rest fill: everything sold adds up to the total.
    h.feed(2_300, &filled(&next[0]));
    for t in [3_000, 4_000] {
        let out = h.timer(t);
        h.feed(t, &filled(&placements(&out)[0]));
    }
    let sold: i64 = h.e.orders().map(|o| o.filled.stroops()).sum();
    assert_eq!(sold, amount("10.0000003").stroops());
}

#[test]
fn a_stale_order_still_in_flight_is_cancelled_once_it_rests() {
    let mut h = started(TwapParams { aggressiveness_bps: 0, ..params() });
    let first = placements(&h.timer(1_000));
    // Slice 1 falls due before the first order's result: nothing can be cancelled yet.
    assert!(intents(&h.timer(2_000)).is_empty());
    // It rests: it is stale, so it is cancelled at once.
    let out = h.feed(2_100, &rests(&first[0], 100, 0));
    assert_eq!(cancels(&out).len(), 1);
    let out = h.feed(2_200, &cancelled(&cancels(&out)[0]));
    assert_eq!(placements(&out)[0].ops[0].amount_stroops, 50_000_000);
}

#[test]
fn nothing_happens_after_the_duration() {
    let mut h = started(TwapParams { aggressiveness_bps: 0, ..params() });
    let first = placements(&h.timer(1_000));
    h.feed(1_100, &rests(&first[0], 100, 0));
    // No input inside the window after slice 0; at its end (5000) the resting order is
    // cancelled and the slices that never fell due are not placed.
    let out = h.timer(5_000);
    let cancel = cancels(&out);
    assert_eq!((cancel.len(), placements(&out).len(), decisions(&out)), (1, 0, 0));
    // The cancel lands: its remainder is not offered again.
    let out = h.feed(5_100, &cancelled(&cancel[0]));
    assert!(intents(&out).is_empty() && decisions(&out) == 0, "{out:?}");
    for t in [6_000, 10_000, 1_000_000] {
        assert!(h.timer(t).is_empty());
    }
    assert!(h.feed(1_000_001, &usual_book()).is_empty());
    assert_eq!(h.orders().len(), 1);
}

#[test]
fn an_order_in_flight_at_the_end_is_cancelled_once_it_rests() {
    let mut h = started(TwapParams { aggressiveness_bps: 0, ..params() });
    let first = placements(&h.timer(1_000));
    assert_eq!(first[0].ops[0].amount_stroops, 25_000_000);
    // The window ends with its result still out: nothing to cancel yet, nothing placed.
    assert!(h.timer(5_000).is_empty());
    let out = h.feed(5_100, &rests(&first[0], 100, 0));
    let out = h.feed(5_200, &cancelled(&cancels(&out)[0]));
    assert!(intents(&out).is_empty());
    assert_eq!(h.orders()[0].3, OrderStatus::Cancelled);
}

#[test]
fn without_a_book_nothing_is_placed_and_nothing_is_lost() {
    let mut h = H::new(engine(params()));
    h.feed(1, &session());
    h.feed(2, &account("10000", "1000"));
    for t in [1_000, 2_000] {
        let out = h.timer(t);
        assert!(intents(&out).is_empty() && decisions(&out) == 0);
    }
    // Only asks: an aggressive seller prices from the bid, so still nothing.
    let out = h.feed(2_500, &book(None, Some(1010)));
    assert!(intents(&out).is_empty() && decisions(&out) == 0);
    // The bid appears: both due slices go out in one order.
    let out = h.feed(2_600, &usual_book());
    assert_eq!(placements(&out)[0].ops[0].amount_stroops, 50_000_000);

    // Passive needs the ask.
    let mut h = H::new(engine(TwapParams { aggressiveness_bps: 0, ..params() }));
    h.feed(1, &session());
    h.feed(2, &account("10000", "1000"));
    h.feed(3, &book(Some(990), None));
    assert!(intents(&h.timer(1_000)).is_empty());
    let out = h.feed(1_200, &book(Some(990), Some(1010)));
    let placed = placements(&out);
    assert_eq!(placed[0].ops[0].amount_stroops, 25_000_000);
    assert_eq!(h.orders()[0].2, price("0.101"));
}

#[test]
fn a_refused_slice_is_kept_and_placed_later() {
    // Not enough XLM for the first slice (2.5 + reserves): refused, kept, placed with the next.
    let mut h = H::new(engine(params()));
    h.feed(1, &session());
    h.feed(2, &account("2", "1000"));
    h.feed(3, &usual_book());
    let out = h.timer(1_000);
    assert_eq!((decisions(&out), intents(&out).len()), (1, 0));
    // Nothing that decided it changed: not tried again on every timer.
    for t in [1_100, 1_200, 1_300] {
        assert_eq!(decisions(&h.timer(t)), 0, "at {t}");
    }
    h.feed(1_500, &account("10000", "1000"));
    // The account snapshot itself is an input the strategy sees: the slice goes out now.
    assert_eq!(h.orders().last().map(|o| (o.1, o.3)), Some((amount("2.5"), OrderStatus::PendingSubmit)));
}

#[test]
fn the_same_inputs_give_the_same_outputs_and_state() {
    let run = |p: TwapParams| {
        let mut h = started(p);
        for k in 0..60i64 {
            let t = 900 + k * 97;
            let bid = 980 + (k * 7 % 23) as i32;
            // Answer every intent at once: placements fill on arrival or rest partly filled (and
            // are cancelled when the next slice falls due); cancels land.
            let mut queue = h.feed(t, &book(Some(bid), Some(bid + 15)));
            while !queue.is_empty() {
                let mut next = Vec::new();
                for i in placements(&queue) {
                    let input = if (k + i.id as i64) % 3 == 0 { filled(&i) } else { rests(&i, 100 + k, 1_000_000) };
                    next.extend(h.feed(t, &input));
                }
                for i in cancels(&queue) {
                    next.extend(h.feed(t, &cancelled(&i)));
                }
                queue = next;
            }
        }
        (h.out, h.e.state_hash())
    };
    let (out, hash) = run(params());
    assert!(!placements(&out).is_empty() && !cancels(&out).is_empty());
    assert_eq!((out.clone(), hash), run(params()));
    // The strategy's own state is in the hash.
    let (_, other) = run(TwapParams { limit_price: Some(price("0.01")), ..params() });
    assert_ne!(hash, other);
}

#[test]
fn parameters_are_set_by_name() {
    let mut p = params();
    p.set("total_amount", "1000.5").unwrap();
    p.set("slices", "12").unwrap();
    p.set("duration_s", "3600").unwrap();
    p.set("start_ns", "1700000000000000000").unwrap();
    p.set("aggressiveness_bps", "25").unwrap();
    p.set("limit_price", "0.095").unwrap();
    assert_eq!(
        (p.total_amount, p.slices, p.duration_ns, p.start_ns, p.aggressiveness_bps, p.limit_price),
        (amount("1000.5"), 12, 3_600_000_000_000, 1_700_000_000_000_000_000, 25, Some(price("0.095")))
    );
    assert!(p.validate().is_ok());
    p.set("limit_price", "none").unwrap();
    assert_eq!(p.limit_price, None);
    let before = p;
    assert!(p.set("slices", "0").is_err());
    assert!(p.set("duration_s", "0").is_err());
    assert!(p.set("duration_s", "9999999999999").unwrap_err().contains("too long"));
    assert!(p.set("total_amount", "0").is_err());
    assert!(p.set("aggressiveness_bps", "10000").is_err());
    assert!(p.set("start_ns", "-1").is_err());
    assert!(p.set("limit_price", "0").is_err());
    assert!(p.set("slices", "x").unwrap_err().contains("not a whole number"));
    assert!(p.set("spread_bps", "1").unwrap_err().contains("unknown twap parameter"));
    assert_eq!(p, before, "a refused value leaves the parameters as they were");
    assert!(TwapParams { slices: 0, ..p }.validate().is_err());
    assert!(TwapParams { duration_ns: 0, ..p }.validate().is_err());
    assert!(TwapParams { total_amount: Amount::ZERO, ..p }.validate().is_err());
}

#[test]
fn its_name_is_twap() {
    use starlog_engine::strategy::Strategy;
    assert_eq!(Twap::new(params()).name(), "twap");
}

/// The model: the amount of the first `k` slices.
fn cumulative(total: i64, slices: u32, k: u32) -> i64 {
    if k >= slices { total } else { total / i64::from(slices) * i64::from(k) }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Every slice fills on arrival: each order is exactly the slices released since the last
    /// one, what is placed never exceeds the total, and once the last slice fell due inside the
    /// window everything placed sums to the total.
    #[test]
    fn placed_amounts_never_exceed_the_total_and_sum_to_it_when_filled(
        slices in 1u32..=16,
        total in 1i64..=10_000_000_000,
        duration_ns in 1i64..=100_000,
        gaps in proptest::collection::vec(0i64..=20_000, 1..40),
        last_in_window in any::<bool>(),
    ) {
        let p = TwapParams { total_amount: Amount::from_stroops(total).unwrap(), slices, duration_ns, ..params() };
        let mut h = started(p);
        let mut times: Vec<i64> = gaps.iter().scan(START, |t, g| { *t += g; Some(*t) }).collect();
        times.insert(0, START); // the window starts at START
        let end = START + duration_ns;
        if last_in_window {
            times.retain(|t| *t < end - 1);
            times.push(end - 1);
        }
        let interval = duration_ns / i64::from(slices);
        let (mut expected, mut released) = (Vec::new(), 0u32);
        for &t in &times {
            if t < end {
                let due = if interval == 0 { slices } else { ((t - START) / interval + 1).min(i64::from(slices)) as u32 };
                let amount = cumulative(total, slices, due) - cumulative(total, slices, released);
                if amount > 0 {
                    expected.push(amount);
                }
                released = released.max(due);
            }
            let out = h.timer(t);
            prop_assert!(cancels(&out).is_empty());
            for i in placements(&out) {
                let out = h.feed(t, &filled(&i));
                prop_assert!(intents(&out).is_empty());
            }
            let placed: i64 = h.e.orders().map(|o| o.amount.stroops()).sum();
            prop_assert!(placed <= total, "placed {placed} > total {total}");
        }
        let placed: Vec<i64> = h.e.orders().map(|o| o.amount.stroops()).collect();
        prop_assert_eq!(&placed, &expected);
        prop_assert!(h.e.orders().all(|o| o.status == OrderStatus::Filled && o.filled == o.amount));
        if last_in_window {
            prop_assert_eq!(placed.iter().sum::<i64>(), total);
        }
    }
}
