//! Engine snapshot benchmarks: writing and restoring the snapshot of an engine with a realistic
//! amount of state (1000 open orders resting on the book, their offers and a 20-level book), the
//! atomic write to disk the core loop does (temporary file, fsync, rename, directory fsync), and
//! `starlog audit state --at SEQ` on a long recorded session with and without snapshots.
//!
//! `cargo bench -p starlog-benches --bench snapshot` (add `-- report` for the report only; the
//! report's session has `SESSION_INPUTS` inputs and takes a few seconds to record).

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use starlog_adapters::snapshots;
use starlog_benches::{Latency, fmt_ns};
use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{
    AccountSnapshot, Balance, BookSnapshot, Input, Level, OfferEffect, OpResult, SessionStart, TxSucceeded, WireAsset,
    WirePrice, access, to_bytes,
};
use starlog_engine::outputs::Output;
use starlog_engine::risk::Side;
use starlog_engine::{AccountId, Amount, Asset, Pair, Price};
use starlog_sim::audit::state_at_with;
use starlog_sim::replay::{Alterations, engine_for};

/// Open orders in the snapshot benchmarks' engine.
const ORDERS_OPEN: u64 = 1000;

/// Inputs in the report's recorded session (snapshots every 100 000, as by default).
const SESSION_INPUTS: u64 = 250_000;

use starlog_sim::sample::ACCOUNT;

fn engine_config() -> EngineConfig {
    starlog_benches::loose_engine_config()
}

fn apply(e: &mut Engine, seq: u64, input: &Input, out: &mut Vec<Output>) {
    e.apply(seq, seq as i64 * 1_000_000, access(&to_bytes(input).expect("ser")).expect("access"), out);
}

/// An engine in session with a 20-level book and `ORDERS_OPEN` orders resting on it (each
/// placed through every check, its transaction's result applied: an offer id, a ledger).
fn busy_engine() -> Engine {
    let account: AccountId = ACCOUNT.parse().expect("account");
    let usd = Asset::credit("USD", account).expect("asset");
    let pair = Pair::new(Asset::Native, usd).expect("pair");
    let mut e = Engine::new(engine_config()).expect("valid config");
    let mut out = Vec::new();
    let level = |n: i64| Level { price: WirePrice { n: n as i32, d: 100_000 }, amount_stroops: 1_000_000_000 };
    let line = |asset: Asset| Balance {
        asset: WireAsset::from(asset),
        balance_stroops: i64::MAX / 4,
        buying_liabilities_stroops: 0,
        selling_liabilities_stroops: 0,
        limit_stroops: i64::MAX,
    };
    let setup = [
        Input::SessionStart(SessionStart {
            config_hash: [0; 32],
            config: String::new(),
            security_level: 1,
            validation_level: 3,
            seed: 1,
            account: *account.as_bytes(),
            pairs: vec![pair.into()],
        }),
        Input::Book(BookSnapshot {
            pair: 0,
            bids: (0..20).map(|j| level(9_990 - j * 3)).collect(),
            asks: (0..20).map(|j| level(10_010 + j * 3)).collect(),
        }),
        Input::Account(AccountSnapshot {
            account: *account.as_bytes(),
            ledger: 1,
            sequence: 1,
            subentry_count: 0,
            num_sponsoring: 0,
            num_sponsored: 0,
            base_reserve_stroops: 5_000_000,
            balances: vec![line(Asset::Native), line(usd)],
            offers: vec![],
        }),
    ];
    let mut seq = 0;
    for input in &setup {
        seq += 1;
        apply(&mut e, seq, input, &mut out);
    }
    out.clear();
    for i in 0..ORDERS_OPEN {
        let (side, px) = if i % 2 == 0 { (Side::Sell, 10_020 + i / 2) } else { (Side::Buy, 9_980 - i / 2) };
        let amount = Amount::from_stroops(10_000_000 + i as i64).expect("amount");
        e.place(0, side, amount, Price::new(px as i32, 100_000).expect("price"), &mut out).expect("accepted");
    }
    let intents: Vec<u64> = out
        .iter()
        .filter_map(|o| match o {
            Output::Intent(i) => Some(i.id),
            _ => None,
        })
        .collect();
    for (k, intent) in intents.into_iter().enumerate() {
        seq += 1;
        let ops = vec![OpResult {
            effect: OfferEffect::Created,
            offer_id: 50_000 + k as i64,
            remaining_stroops: 1,
            claims: vec![],
        }];
        let result =
            Input::TxSucceeded(TxSucceeded { intent, hash: [3; 32], ledger: 2, fee_charged_stroops: 100, ops });
        apply(&mut e, seq, &result, &mut out);
    }
    assert_eq!(e.orders().filter(|o| o.offer_id != 0).count() as u64, ORDERS_OPEN, "every order rests");
    e
}

fn bench(c: &mut Criterion) {
    let e = busy_engine();
    let bytes = e.snapshot();
    let mut g = c.benchmark_group("snapshot_1000_orders");
    g.bench_function("write", |b| {
        let mut buf = Vec::with_capacity(bytes.len());
        b.iter(|| {
            e.snapshot_into(&mut buf);
            black_box(buf.len());
        });
    });
    g.bench_function("restore", |b| {
        b.iter(|| black_box(e.restore_like(&bytes).expect("restores").last_seq()));
    });
    g.finish();
}

fn report() {
    let e = busy_engine();
    let bytes = e.snapshot();
    println!(
        "snapshot of an engine with {ORDERS_OPEN} resting orders, a 20x20 book: {} bytes ({:.0} bytes an order)",
        bytes.len(),
        bytes.len() as f64 / ORDERS_OPEN as f64
    );
    let (mut write, mut restore, mut disk) = (
        Latency::new("snapshot write (encode)"),
        Latency::new("snapshot restore (verify+hash)"),
        Latency::new("snapshot to disk (tmp+fsync+rename)"),
    );
    let mut buf = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..200u64 {
        let t = Instant::now();
        e.snapshot_into(&mut buf);
        write.record(t.elapsed());
        let t = Instant::now();
        black_box(e.restore_like(&buf).expect("restores"));
        restore.record(t.elapsed());
        if i < 50 {
            let t = Instant::now();
            snapshots::write(dir.path(), i + 1, (i + 1, [0; 32]), &buf).expect("written");
            disk.record(t.elapsed());
        }
    }
    for l in [&write, &restore, &disk] {
        println!("{}", l.line());
    }

    let session = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let head = starlog_sim::sample::record_mixed(session.path(), SESSION_INPUTS).expect("recorded");
    let found = snapshots::list(session.path()).expect("list");
    println!(
        "recorded a session of {head} inputs in {} (snapshots at seq {:?})",
        fmt_ns(t.elapsed().as_nanos() as u64),
        found.iter().map(|(s, _)| *s).collect::<Vec<_>>()
    );
    // Loading the newest snapshot from disk: read, check its binding to the journal (the seal
    // that covers its seq), verify and restore.
    if let Some((seq, path)) = found.last() {
        let journal = starlog_journal::JournalReader::open(session.path().join(starlog_adapters::core_loop::INPUT_DIR))
            .expect("journal");
        let template = engine_for(&starlog_sim::sample::config_text(), Alterations::default()).expect("engine");
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        let mut load = Latency::new(format!("snapshot load from disk (seq {seq}, {bytes} bytes)"));
        for _ in 0..50 {
            let t = Instant::now();
            black_box(snapshots::load(path, *seq, &template, &journal).expect("loads"));
            load.record(t.elapsed());
        }
        println!("{}", load.line());
    }
    for at in [head, head / 2] {
        let (mut fast, mut full) = (
            Latency::new(format!("state --at {at} (snapshots)")),
            Latency::new(format!("state --at {at} (--no-snapshots)")),
        );
        for _ in 0..7 {
            let t = Instant::now();
            let a = state_at_with(session.path(), at, true).expect("state");
            fast.record(t.elapsed());
            let t = Instant::now();
            let b = state_at_with(session.path(), at, false).expect("state");
            full.record(t.elapsed());
            assert_eq!(a, b, "the same state either way");
        }
        println!("{}\n{}", fast.line(), full.line());
    }
}

fn main() {
    starlog_benches::bench_main(bench, report);
}
