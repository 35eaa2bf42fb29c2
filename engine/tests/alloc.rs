//! No allocation per event on the hot path: once warm, applying book snapshots, trades that are
//! not ours and timers — with the market maker running and its quotes standing — allocates
//! nothing. Counted by a global allocator that wraps the system one.
#![allow(unsafe_code)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use starlog_engine::events::{BookSnapshot, Input, Level, Timer, Trade, WirePrice};
use starlog_engine::outputs::Output;
use starlog_engine::strategy::{MarketMaker, MarketMakerParams};
use support::{H, account, engine_with, session};

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
