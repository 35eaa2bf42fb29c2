//! No allocation per event on the hot path: once warm, applying book snapshots, trades that are
//! not ours and timers — with the market maker running and its quotes standing — allocates
//! nothing; a whole order round trip (placed through every check, submitted, resting,
//! cancelled, gone) allocates nothing but, once per 512 orders, a new chunk of the order table.
//! Counted by a global allocator that wraps the system one.
#![allow(unsafe_code)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use starlog_engine::engine::Engine;
use starlog_engine::events::{
    BookSnapshot, Input, Level, OfferEffect, OpResult, Timer, Trade, TxSubmitted, TxSucceeded, WirePrice,
};
use starlog_engine::outputs::Output;
use starlog_engine::risk::Side;
use starlog_engine::strategy::{MarketMaker, MarketMakerParams};
use starlog_engine::{Amount, Price};
use support::{H, account, engine_with, loose_config, session};

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counter is a thread-local Cell touched without allocating.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn book(k: i32) -> Input {
    let level = |n: i32| Level { price: WirePrice { n, d: 100_000 }, amount_stroops: 1_000_000_000 };
    Input::Book(BookSnapshot {
        pair: 0,
        bids: (0..5).map(|j| level(9_990 - j * 3 - k)).collect(),
        asks: (0..5).map(|j| level(10_010 + j * 3 + k)).collect(),
    })
}

#[test]
fn the_hot_path_does_not_allocate() {
    let mm = MarketMaker::new(MarketMakerParams {
        pair: 0,
        spread_bps: 40,
        levels: 2,
        level_spacing_bps: 10,
        order_amount: "1".parse().unwrap(),
        refresh_tolerance_bps: 1_000,
        inventory_skew_pct: 0,
    });
    let mut h = H::new(engine_with(Box::new(mm)));
    h.feed(1, &session());
    h.feed(2, &account("1000", "1000"));
    // Inputs archived up front, as the journal holds them.
    let inputs: Vec<_> = (0..64)
        .map(|i| {
            let input = match i % 4 {
                0 => Input::Timer(Timer {}),
                1 => Input::Trade(Trade {
                    pair: 0,
                    id: 1_000 + i as u128,
                    ledger: 5,
                    ledger_close_time: 0,
                    price: WirePrice { n: 1, d: 10 },
                    base_amount_stroops: 10,
                    counter_amount_stroops: 1,
                    base_is_seller: true,
                    base_offer_id: 77,
                    counter_offer_id: 78,
                    base_account: [1; 32],
                    counter_account: [2; 32],
                }),
                // Small moves, inside the refresh tolerance: the quotes stand.
                _ => book(i % 3),
            };
            starlog_engine::events::to_bytes(&input).unwrap()
        })
        .collect();
    let mut out: Vec<Output> = Vec::with_capacity(64);
    let mut seq = 10;
    let mut run = |h: &mut H, out: &mut Vec<Output>| {
        for bytes in &inputs {
            seq += 1;
            h.e.apply(seq, seq as i64, starlog_engine::events::access(bytes).unwrap(), out);
            out.clear();
        }
    };
    // Warm up: the first book places the quotes (that allocates: orders, intents) — which
    // also shows the counter counts.
    let start = allocations();
    run(&mut h, &mut out);
    assert!(allocations() > start, "placing orders allocates, and the counter sees it");
    assert_eq!(h.e.orders().count(), 4, "the market maker quoted");
    let before = allocations();
    run(&mut h, &mut out);
    run(&mut h, &mut out);
    assert_eq!(allocations() - before, 0, "allocations while applying 128 warm inputs");
}

/// The inputs that carry intent `intent` through submission to its result `effect` on `offer_id`.
fn settle(intent: u64, effect: OfferEffect, offer_id: i64) -> [Vec<u8>; 2] {
    let submitted = Input::TxSubmitted(TxSubmitted {
        intent,
        hash: [4; 32],
        sequence: 1,
        max_time: 0,
        fee_stroops: 100,
        signed_by: [9; 32],
        key_store: 2,
    });
    let result = Input::TxSucceeded(TxSucceeded {
        intent,
        hash: [4; 32],
        ledger: 7,
        fee_charged_stroops: 100,
        ops: vec![OpResult { effect, offer_id, remaining_stroops: 10_000_000, claims: vec![] }],
    });
    [submitted, result].map(|i| starlog_engine::events::to_bytes(&i).unwrap().to_vec())
}

#[test]
fn an_order_round_trip_allocates_only_a_chunk_per_512_orders() {
    const ROUND_TRIPS: u64 = 2048;
    let mut h = H::new(Engine::new(loose_config()).unwrap());
    h.feed(1, &session());
    h.feed(2, &book(0));
    h.feed(3, &account("100000", "100000"));
    let amount = Amount::from_stroops(10_000_000).unwrap();
    let mut out: Vec<Output> = Vec::with_capacity(16);
    let intent_of = |out: &[Output]| match out.last() {
        Some(Output::Intent(i)) => i.id,
        other => panic!("expected an intent, got {other:?}"),
    };
    // Intent ids run on by one per intent (a placement, then its cancel): the first placement
    // shows where they start, so every result can be archived before the counting begins.
    let first = h.e.place(0, Side::Sell, amount, Price::new(10_020, 100_000).unwrap(), &mut out).unwrap();
    let first_intent = intent_of(&out);
    h.e.cancel(first, &mut out); // not on the book yet: nothing to cancel
    out.clear();
    let results: Vec<[[Vec<u8>; 2]; 2]> = (0..ROUND_TRIPS)
        .map(|k| {
            let (place, cancel, offer) = (first_intent + 2 * k, first_intent + 2 * k + 1, 1_000 + k as i64);
            [settle(place, OfferEffect::Created, offer), settle(cancel, OfferEffect::Deleted, offer)]
        })
        .collect();
    let (mut seq, mut ts) = (10u64, 1_000_000_000i64);
    let mut apply = |e: &mut Engine, bytes: &[u8], out: &mut Vec<Output>| {
        seq += 1;
        ts += 100_000_000; // 10 inputs a second: well inside the throttles
        e.apply(seq, ts, starlog_engine::events::access(bytes).unwrap(), out);
    };
    let before = allocations();
    let mut order = first;
    for (k, [placed, cancelled]) in results.iter().enumerate() {
        if k > 0 {
            let (side, px) = if k % 2 == 0 { (Side::Sell, 10_020) } else { (Side::Buy, 9_980) };
            order = h.e.place(0, side, amount, Price::new(px, 100_000).unwrap(), &mut out).unwrap();
        }
        for bytes in placed {
            apply(&mut h.e, bytes, &mut out);
        }
        h.e.cancel(order, &mut out);
        assert!(matches!(out.last(), Some(Output::Intent(_))), "the cancel went out: {out:?}");
        for bytes in cancelled {
            apply(&mut h.e, bytes, &mut out);
        }
        assert_eq!(h.e.order(order).map(|o| o.status), Some(starlog_engine::OrderStatus::Cancelled));
        out.clear();
    }
    let allocated = allocations() - before;
    // The order table keeps ended orders, in chunks of 512: a new chunk per 512 orders, and
    // now and then a longer list of chunks. Nothing per order.
    assert!(allocated <= ROUND_TRIPS / 512 + 2, "{allocated} allocations in {ROUND_TRIPS} order round trips");
    assert_eq!(h.e.orders().count() as u64, ROUND_TRIPS);
}
