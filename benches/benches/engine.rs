//! Engine benchmarks: applying book snapshots (read in place from archived bytes, as from the
//! journal), and order placement through every check (state, throttle, risk, balances), with
//! per-event latency percentiles from hdrhistogram.
//!
//! The report adds **tick-to-order**: a market-data event journaled (write-ahead, committed),
//! applied by the engine with the market maker re-quoting, the intent built and signed by the
//! submission pipeline and its `TxSubmitted` journaled — everything before the network.
//!
//! `cargo bench -p starlog-benches --bench engine` (add `-- report` for the report only).
//! `STARLOG_BENCH_PROFILE=mixed|book|place` runs one workload alone, for a profiler
//! (`STARLOG_BENCH_PROFILE_EVENTS` events, a million unless told).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use starlog_adapters::core_loop::CoreLoop;
use starlog_benches::{Latency, fmt_rate, rate};
use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{
    AccountSnapshot, Balance, BookSnapshot, Input, Level, SessionStart, Timer, Trade, WireAsset, WirePrice, access,
    to_bytes,
};
use starlog_engine::outputs::Output;
use starlog_engine::risk::Side;
use starlog_engine::strategy::{MarketMaker, MarketMakerParams};
use starlog_engine::{Amount, Asset, Pair, Price};
use starlog_journal::Durability;

const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

fn engine_fresh() -> Engine {
    Engine::new(engine_config()).expect("valid config")
}

fn engine_config() -> EngineConfig {
    starlog_benches::loose_engine_config()
}

/// An engine with its session started, a book and the account in place.
fn engine() -> Engine {
    let config = engine_config();
    let mut e = Engine::new(config).expect("valid config");
    let mut out = Vec::new();
    for (seq, input) in setup_inputs().into_iter().enumerate() {
        let seq = seq as u64 + 1;
        e.apply(seq, seq as i64, access(&to_bytes(&input).expect("ser")).expect("access"), &mut out);
    }
    e
}

/// Session start, a first book and the account, as a session begins.
fn setup_inputs() -> Vec<Input> {
    let pair: Pair = format!("native/USD:{ISSUER}").parse().expect("pair");
    let usd: Asset = format!("USD:{ISSUER}").parse().expect("asset");
    let session = Input::SessionStart(SessionStart {
        config_hash: [0; 32],
        config: String::new(),
        security_level: 1,
        validation_level: 3,
        seed: 1,
        account: [9; 32],
        pairs: vec![pair.into()],
    });
    let line = |asset: Asset| Balance {
        asset: WireAsset::from(asset),
        balance_stroops: i64::MAX / 4,
        buying_liabilities_stroops: 0,
        selling_liabilities_stroops: 0,
        limit_stroops: i64::MAX,
    };
    let account = Input::Account(AccountSnapshot {
        account: [9; 32],
        ledger: 1,
        sequence: 1,
        subentry_count: 0,
        num_sponsoring: 0,
        num_sponsored: 0,
        base_reserve_stroops: 5_000_000,
        balances: vec![line(Asset::Native), line(usd)],
        offers: vec![],
    });
    vec![session, book_input(0), account]
}

/// A 20-level book around 0.1 USD per XLM, nudged by `i`.
fn book_input(i: u64) -> Input {
    let level = |n: i64, amount: i64| Level { price: WirePrice { n: n as i32, d: 100_000 }, amount_stroops: amount };
    let k = (i % 7) as i64;
    Input::Book(BookSnapshot {
        pair: 0,
        bids: (0..20).map(|j| level(9_990 - j * 3 - k, 1_000_000_000 + j)).collect(),
        asks: (0..20).map(|j| level(10_010 + j * 3 + k, 1_000_000_000 + j)).collect(),
    })
}

fn bench(c: &mut Criterion) {
    let books = Packed::new((0..64).map(|i| to_bytes(&book_input(i)).expect("ser")));
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    g.bench_function("apply_book_snapshot_20x20", |b| {
        let mut e = engine();
        let mut out = Vec::with_capacity(16);
        let mut seq = 10u64;
        b.iter(|| {
            seq += 1;
            let bytes = books.get((seq % 64) as usize);
            e.apply(seq, seq as i64, access(bytes).expect("access"), &mut out);
            out.clear();
        });
    });
    g.bench_function("apply_mixed_mm_quoting", |b| {
        let (mixed, _) = mixed_inputs(100_000);
        let mut e = mixed_engine();
        let mut out = Vec::with_capacity(64);
        let mut i = 0usize;
        b.iter(|| {
            // The recording replays from its start on a fresh engine (once per 100 000 inputs).
            if i == mixed.len() {
                (i, e) = (0, mixed_engine());
            }
            let seq = 10 + i as u64;
            e.apply(seq, seq as i64 * 1_000, access(mixed.get(i)).expect("access"), &mut out);
            out.clear();
            i += 1;
        });
    });
    g.bench_function("place_through_all_checks", |b| {
        let mut e = engine();
        let mut out: Vec<Output> = Vec::with_capacity(16);
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            if i.is_multiple_of(4096) {
                e = engine();
            }
            place_nth(&mut e, i, &mut out);
            out.clear();
        });
    });
    g.finish();
    // The core loop end to end: a batch of 64 book snapshots journaled (write-ahead, committed
    // under `none`), read back in place, applied, and the outputs journaled.
    let mut g = c.benchmark_group("core_loop");
    g.throughput(Throughput::Elements(64));
    g.bench_function("batch_of_64_books_durability_none", |b| {
        let inputs: Vec<Input> = (0..64).map(book_input).collect();
        // A fresh session every 2 000 batches (about 50 MB of journals), set up off the clock.
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut core = CoreLoop::open(dir.path(), engine_fresh(), Durability::None, 64 << 20).expect("open");
                let mut intents = Vec::new();
                core.process_batch(setup_inputs(), 1, &mut intents).expect("setup");
                let n = left.min(2_000);
                let started = Instant::now();
                for step in 0..n {
                    core.process_batch(inputs.iter().cloned(), 10 + step as i64, &mut intents).expect("batch");
                }
                total += started.elapsed();
                left -= n;
            }
            total
        });
    });
    g.finish();
}

/// The engine for the realistic mix: the market maker quoting 3 levels a side.
fn mixed_engine() -> Engine {
    let mut e = engine();
    e.set_strategy(Box::new(MarketMaker::new(MarketMakerParams {
        pair: 0,
        spread_bps: 40,
        levels: 3,
        level_spacing_bps: 10,
        order_amount: Amount::from_stroops(100_000_000).expect("amount"),
        refresh_tolerance_bps: 15,
        inventory_skew_pct: 50,
    })));
    e
}

/// A realistic mix, archived as the journal holds it, recorded in a dry run of the market
/// maker so that the engine's own order flow is in it, as in a live session's input journal:
/// book snapshots of 5 levels a side whose mid walks in steps of 6 bps (the maker re-quotes when
/// it has moved more than its 15 bps tolerance), other people's trades, trades filling our
/// resting offers, timers, account snapshots, and for every intent the engine emits its
/// `TxSubmitted` on the next input and its `TxSucceeded` three inputs later (offers created,
/// cancels done). Input `i` must be applied at seq `10 + i`, time `(10 + i) × 1 µs` on a fresh
/// [`mixed_engine`] — exactly as recorded. Returns the inputs and what share of them each kind is.
fn mixed_inputs(n: u64) -> (Packed, String) {
    use starlog_engine::events::{OfferEffect, OpResult, TxSubmitted, TxSucceeded};
    let mut e = mixed_engine();
    let (mut inputs, mut out) = (Vec::new(), Vec::new());
    // Results waiting for their turn: (index at which they are due, input).
    let mut due: std::collections::VecDeque<(u64, Input)> = std::collections::VecDeque::new();
    let (mut mid_bps, mut walk, mut next_offer, mut trade_id) = (0i64, 0x9E37_79B9_7F4A_7C15u64, 1_000i64, 0u128);
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    let level = |n: i64| Level { price: WirePrice { n: n as i32, d: 100_000 }, amount_stroops: 1_000_000_000 };
    for i in 0..n {
        let seq = 10 + i;
        let ledger = (i / 50) as u32 + 2;
        let input = if due.front().is_some_and(|(at, _)| *at <= i) {
            due.pop_front().expect("due").1
        } else {
            match i % 100 {
                0 => setup_inputs().pop().expect("account"),
                1..=5 => Input::Timer(Timer {}),
                6..=29 => {
                    trade_id += 1;
                    // One trade in six fills one of our resting offers, a small part of it.
                    let ours: Vec<(i64, bool)> = e
                        .orders()
                        .filter(|o| o.status.is_on_book() && o.offer_id != 0 && o.accepted_ledger < ledger)
                        .map(|o| (o.offer_id, o.side == Side::Sell))
                        .collect();
                    let (offer, base_is_seller) = match ours.get(i as usize % ours.len().max(1)) {
                        Some(&(offer, sell)) if i % 6 == 0 => (offer, sell),
                        _ => (1_000_000 + i as i64, i % 2 == 0),
                    };
                    *counts.entry(if offer < 1_000_000 { "our fills" } else { "trades" }).or_default() += 1;
                    Input::Trade(Trade {
                        pair: 0,
                        id: trade_id,
                        ledger,
                        ledger_close_time: 0,
                        price: WirePrice { n: 10_000, d: 100_000 },
                        base_amount_stroops: 1_000_000,
                        counter_amount_stroops: 100_000,
                        base_is_seller,
                        base_offer_id: if base_is_seller { offer } else { 2_000_000 + i as i64 },
                        counter_offer_id: if base_is_seller { 2_000_000 + i as i64 } else { offer },
                        base_account: [1; 32],
                        counter_account: [2; 32],
                    })
                }
                _ => {
                    // The mid takes a step of ±6 bps every 5 books or so.
                    walk = walk.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    if walk >> 61 == 0 {
                        mid_bps += if walk & (1 << 20) == 0 { 6 } else { -6 };
                        mid_bps = mid_bps.clamp(-300, 300);
                    }
                    let mid = 10_000 + mid_bps;
                    Input::Book(BookSnapshot {
                        pair: 0,
                        bids: (0..5).map(|j| level(mid - 10 - j * 3)).collect(),
                        asks: (0..5).map(|j| level(mid + 10 + j * 3)).collect(),
                    })
                }
            }
        };
        *counts
            .entry(match &input {
                Input::Book(_) => "books",
                Input::Timer(_) => "timers",
                Input::Account(_) => "account snapshots",
                Input::TxSubmitted(_) => "tx submitted",
                Input::TxSucceeded(_) => "tx results",
                _ => "",
            })
            .or_default() += u64::from(!matches!(input, Input::Trade(_)));
        let bytes = to_bytes(&input).expect("ser");
        e.apply(seq, seq as i64 * 1_000, access(&bytes).expect("access"), &mut out);
        inputs.push(bytes);
        for o in out.drain(..) {
            let Output::Intent(intent) = o else { continue };
            let submitted = Input::TxSubmitted(TxSubmitted {
                intent: intent.id,
                hash: [3; 32],
                sequence: seq as i64,
                max_time: 0,
                fee_stroops: 100,
                signed_by: [9; 32],
                key_store: starlog_engine::events::key_store::FILE,
            });
            let ops = intent
                .ops
                .iter()
                .map(|op| {
                    let cancel = op.amount_stroops == 0;
                    next_offer += 1;
                    OpResult {
                        effect: if cancel { OfferEffect::Deleted } else { OfferEffect::Created },
                        offer_id: if cancel { op.offer_id } else { next_offer },
                        remaining_stroops: op.amount_stroops,
                        claims: vec![],
                    }
                })
                .collect();
            let result = Input::TxSucceeded(TxSucceeded {
                intent: intent.id,
                hash: [3; 32],
                ledger,
                fee_charged_stroops: 100,
                ops,
            });
            due.push_back((i + 1, submitted));
            due.push_back((i + 3, result));
        }
    }
    let shares: Vec<String> = counts
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| format!("{k} {:.1} %", 100.0 * *v as f64 / n as f64))
        .collect();
    (Packed::new(inputs), shares.join(", "))
}

/// Archived inputs back to back in one buffer, each at a 16-byte boundary: laid out as the
/// journal holds them, so the engine reads them in place and in order as the core loop does.
struct Packed {
    bytes: rkyv::util::AlignedVec,
    spans: Vec<(usize, usize)>,
}

impl Packed {
    fn new(inputs: impl IntoIterator<Item = rkyv::util::AlignedVec>) -> Packed {
        let (mut bytes, mut spans) = (rkyv::util::AlignedVec::new(), Vec::new());
        for input in inputs {
            while !bytes.len().is_multiple_of(16) {
                bytes.push(0);
            }
            spans.push((bytes.len(), bytes.len() + input.len()));
            bytes.extend_from_slice(&input);
        }
        Packed { bytes, spans }
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let (a, b) = self.spans[i];
        &self.bytes[a..b]
    }
}

/// Apply the mixed inputs `rounds` times over, each time on a fresh engine set up outside the
/// timing (each event timed into `h` if given); returns the rate.
fn run_mixed(mixed: &Packed, rounds: u64, mut h: Option<&mut Latency>) -> f64 {
    let mut out = Vec::with_capacity(64);
    let mut elapsed_ns = 0u64;
    for _ in 0..rounds {
        let mut e = mixed_engine();
        let started = Instant::now();
        for i in 0..mixed.len() {
            let seq = 10 + i as u64;
            let t = h.is_some().then(Instant::now);
            e.apply(seq, seq as i64 * 1_000, access(mixed.get(i)).expect("access"), &mut out);
            if let (Some(h), Some(t)) = (h.as_deref_mut(), t) {
                h.record(t.elapsed());
            }
            out.clear();
        }
        elapsed_ns += started.elapsed().as_nanos() as u64;
    }
    rate(rounds * mixed.len() as u64, elapsed_ns)
}

/// Apply `n` book snapshots (cycling through `books`) on a fresh engine; returns the rate.
fn run_books(books: &Packed, n: u64, mut h: Option<&mut Latency>) -> f64 {
    let mut e = engine();
    let mut out = Vec::with_capacity(16);
    let started = Instant::now();
    for seq in 10..10 + n {
        let t = h.is_some().then(Instant::now);
        e.apply(seq, seq as i64, access(books.get(seq as usize % books.len())).expect("access"), &mut out);
        if let (Some(h), Some(t)) = (h.as_deref_mut(), t) {
            h.record(t.elapsed());
        }
        out.clear();
    }
    rate(n, started.elapsed().as_nanos() as u64)
}

/// Place `n` orders through every check; returns the rate. Open orders grow to 4096, then a
/// fresh engine is set up — with the clock stopped (setting one up is not placing).
fn run_places(n: u64, mut h: Option<&mut Latency>) -> f64 {
    let mut out = Vec::with_capacity(16);
    let mut e = engine();
    let (mut started, mut placing_ns) = (Instant::now(), 0u64);
    for i in 1..=n {
        if i % 4096 == 0 {
            placing_ns += started.elapsed().as_nanos() as u64;
            e = engine();
            started = Instant::now();
        }
        let t = h.is_some().then(Instant::now);
        place_nth(&mut e, i, &mut out);
        if let (Some(h), Some(t)) = (h.as_deref_mut(), t) {
            h.record(t.elapsed());
        }
        out.clear();
    }
    rate(n, placing_ns + started.elapsed().as_nanos() as u64)
}

/// The `i`-th placement of the placement workload: 1 XLM, sells above and buys below the mid by
/// turns, none crossing; it must be accepted.
fn place_nth(e: &mut Engine, i: u64, out: &mut Vec<Output>) {
    let side = if i.is_multiple_of(2) { Side::Sell } else { Side::Buy };
    let px = if side == Side::Sell { 10_020 } else { 9_980 };
    let amount = Amount::from_stroops(10_000_000).expect("amount");
    let r = e.place(0, side, amount, Price::new(px, 100_000).expect("price"), out);
    black_box(r.expect("accepted"));
}

fn report() {
    println!("\n== engine report (one run) ==");
    // Each workload runs on a fresh engine once with a timer around every event (the
    // percentiles), then RATE_ROUNDS times with one timer around the whole run (the rate, free of
    // ~40 ns of timer reads per event): the median round and the best one (the least disturbed by
    // the other tenants of a shared machine) are reported.
    let (mixed, mix) = mixed_inputs(100_000);
    let mut h_mixed = Latency::new("apply mixed input (MM quoting)");
    run_mixed(&mixed, 3, Some(&mut h_mixed));
    let mixed_rate = Rates::of(|| run_mixed(&mixed, 3, None));
    println!("{}", h_mixed.line());
    println!("  the mix, recorded with the market maker's own order flow: {mix}");
    let books = Packed::new((0..64).map(|i| to_bytes(&book_input(i)).expect("ser")));
    let n = 200_000u64;
    let mut h_book = Latency::new("apply book snapshot 20x20");
    run_books(&books, n, Some(&mut h_book));
    let book_rate = Rates::of(|| run_books(&books, n, None));
    let mut h_place = Latency::new("place through all checks");
    run_places(n, Some(&mut h_place));
    let place_rate = Rates::of(|| run_places(n, None));
    // The core loop end to end: journal (write-ahead, commit), read back in place, apply,
    // journal the outputs — batches of 64 book snapshots.
    let mut lines = Vec::new();
    for durability in [Durability::None, Durability::Batch] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut core = CoreLoop::open(dir.path(), engine_fresh(), durability, 64 << 20).expect("open");
        let inputs: Vec<Input> = (0..64).map(book_input).collect();
        let mut setup = Vec::new();
        core.process_batch(setup_inputs(), 1, &mut setup).expect("setup");
        let mut h = Latency::new(format!("core loop {durability:?}, batch of 64 / 64"));
        let mut intents = Vec::new();
        let rounds = if durability == Durability::None { 3000 } else { 300 };
        let started = Instant::now();
        for r in 0..rounds {
            let t = Instant::now();
            core.process_batch(inputs.iter().cloned(), 10 + r, &mut intents).expect("batch");
            h.record_ns(t.elapsed().as_nanos() as u64 / 64);
        }
        let total = started.elapsed();
        lines.push((h, rate(rounds as u64 * 64, total.as_nanos() as u64)));
    }
    println!("{}\n{}", h_book.line(), h_place.line());
    for (h, r) in &lines {
        println!("{}   ({} events/s)", h.line(), fmt_rate(*r));
    }
    println!(
        "  rates without per-event timers, median (best) of {RATE_ROUNDS} rounds: mixed {mixed_rate} events/s; book snapshots {book_rate} events/s; places {place_rate} orders/s (open orders grow to 4096, then a fresh engine is set up, outside the timing)"
    );
}

const RATE_ROUNDS: usize = 7;

/// Rates of `RATE_ROUNDS` runs of one workload: displayed as "median (best)".
struct Rates(Vec<f64>);

impl Rates {
    fn of(mut run: impl FnMut() -> f64) -> Rates {
        let mut r: Vec<f64> = (0..RATE_ROUNDS).map(|_| run()).collect();
        r.sort_by(f64::total_cmp);
        Rates(r)
    }
}

impl std::fmt::Display for Rates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let median = self.0.get(self.0.len() / 2).copied().unwrap_or(0.0);
        let best = self.0.last().copied().unwrap_or(0.0);
        write!(f, "{} ({})", fmt_rate(median), fmt_rate(best))
    }
}

/// A book whose mid moves 5 bps a tick (up and down), so that the market maker re-quotes.
fn moving_book(i: u64) -> Input {
    let shift = ((i % 8) as i64 - 4).abs() * 5;
    let level = |n: i64, amount: i64| Level { price: WirePrice { n: n as i32, d: 100_000 }, amount_stroops: amount };
    Input::Book(BookSnapshot {
        pair: 0,
        bids: (0..20).map(|j| level(9_990 + shift - j * 3, 1_000_000_000 + j)).collect(),
        asks: (0..20).map(|j| level(10_010 + shift + j * 3, 1_000_000_000 + j)).collect(),
    })
}

/// Tick-to-order under `durability`: (latency histogram, ticks that produced an order).
fn tick_to_order(durability: Durability, ticks: u64) -> (Latency, u64) {
    use starlog_adapters::keys::{Seed, SeedSigner, StoreKind};
    use starlog_adapters::live::pipeline::{Pipeline, PipelineConfig};
    use starlog_adapters::stellar::Network;
    use starlog_engine::events::{OfferEffect, OpResult, TxSucceeded};

    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = engine_fresh();
    engine.set_strategy(Box::new(MarketMaker::new(MarketMakerParams {
        pair: 0,
        spread_bps: 40,
        levels: 1,
        level_spacing_bps: 10,
        order_amount: Amount::from_stroops(100_000_000).expect("amount"),
        refresh_tolerance_bps: 1,
        inventory_skew_pct: 0,
    })));
    let mut core = CoreLoop::open(dir.path(), engine, durability, 64 << 20).expect("open");
    let seed = Seed::from_bytes([3; 32]);
    let mut signer = SeedSigner::new(&seed, StoreKind::Env, "env:BENCH".into());
    let config = PipelineConfig {
        account: seed.public_key(),
        network: Network::from_passphrase("Test SDF Network ; September 2015"),
        fee_per_op_stroops_max: 1000,
        validity_secs: 30,
        expiry_grace_secs: 10,
    };
    let mut pipeline = Pipeline::new(config, 100);
    let (mut inputs, mut actions, mut intents) = (Vec::new(), Vec::new(), Vec::new());
    assert!(pipeline.sync_sequence(1, 1, &mut signer, &mut inputs, &mut actions).is_empty(), "sync");
    core.process_batch(setup_inputs(), 1, &mut intents).expect("setup");
    let mut h = Latency::new(format!("tick-to-order {durability:?}"));
    let (mut orders, mut next_offer, mut ts) = (0u64, 1i64, 10i64);
    let mut pending = std::mem::take(&mut intents);
    for tick in 0..ticks {
        // Untimed: the previous intents' results (and the orders they lead to, and theirs), so
        // that the quotes rest and move again.
        while let Some(intent) = pending.pop() {
            let ops = intent
                .ops
                .iter()
                .map(|op| {
                    let new = op.offer_id == 0;
                    next_offer += 1;
                    OpResult {
                        effect: if op.amount_stroops == 0 {
                            OfferEffect::Deleted
                        } else if new {
                            OfferEffect::Created
                        } else {
                            OfferEffect::Updated
                        },
                        offer_id: if op.amount_stroops == 0 {
                            op.offer_id
                        } else if new {
                            next_offer
                        } else {
                            op.offer_id
                        },
                        remaining_stroops: op.amount_stroops,
                        claims: vec![],
                    }
                })
                .collect();
            let ok = TxSucceeded { intent: intent.id, hash: [0; 32], ledger: 2, fee_charged_stroops: 100, ops };
            ts += 1;
            core.process_batch([Input::TxSucceeded(ok)], ts, &mut intents).expect("result");
            for intent in &intents {
                pipeline.on_intent(intent, 1_700_000_000, &mut signer, &mut inputs, &mut actions).expect("sign");
            }
            let mut more = Vec::new();
            core.process_batch(inputs.drain(..), ts, &mut more).expect("journal TxSubmitted");
            actions.clear();
            pending.append(&mut intents);
        }
        ts += 1;
        let t = Instant::now();
        core.process_batch([moving_book(tick)], ts, &mut intents).expect("tick");
        if intents.is_empty() {
            continue;
        }
        for intent in &intents {
            pipeline.on_intent(intent, 1_700_000_000, &mut signer, &mut inputs, &mut actions).expect("sign");
        }
        let mut more = Vec::new();
        core.process_batch(inputs.drain(..), ts, &mut more).expect("journal TxSubmitted");
        h.record(t.elapsed());
        orders += 1;
        actions.clear();
        pending.append(&mut intents);
    }
    (h, orders)
}

fn main() {
    // Profiling mode: one workload, 1 M events, no criterion and no per-event timers — for
    // `perf record` or `valgrind --tool=cachegrind` (instruction counts do not care how noisy
    // the machine is).
    if let Ok(what) = std::env::var("STARLOG_BENCH_PROFILE") {
        // STARLOG_BENCH_PROFILE_EVENTS: how many events (a million unless told), for a longer profile.
        let n: u64 =
            std::env::var("STARLOG_BENCH_PROFILE_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
        let rate = match what.as_str() {
            "mixed" => run_mixed(&mixed_inputs(100_000).0, n.div_ceil(100_000), None),
            "book" => run_books(&Packed::new((0..64).map(|i| to_bytes(&book_input(i)).expect("ser"))), n, None),
            "place" => run_places(n, None),
            other => {
                eprintln!("STARLOG_BENCH_PROFILE={other:?}: expected mixed, book or place");
                std::process::exit(2);
            }
        };
        println!("{what} {:.1} ns/event", 1e9 / rate);
        return;
    }
    starlog_benches::bench_main(bench, || {
        report();
        for durability in [Durability::None, Durability::Batch] {
            let (h, orders) = tick_to_order(durability, 2000);
            println!("{}   ({orders} ticks produced orders; excludes the network)", h.line());
        }
    });
}
