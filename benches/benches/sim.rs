//! Simulated venue throughput: signed transactions applied per second by the ledger
//! (decode, signature check, sequence/fee/time checks, operation, result XDR, history).
//!
//! Two flows, each a stream of pre-signed envelopes so that only application is timed:
//! `rest` places offers that do not cross (each adds an offer to a growing book); `cross`
//! sends takers that each fill one resting offer. `cargo bench -p starlog-benches --bench sim`
//! runs criterion and then the report (hdrhistogram per transaction, rates); `-- report` only
//! the report; `STARLOG_BENCH_PROFILE=replay` only the replay rate, for a profiler.
//!
//! Over HTTP (the [`Server`] on loopback, one client thread): `POST /transactions` of the same
//! resting offers, and SSE delivery: K clients streaming a backlog of M transactions from the
//! start (200 per connection, reconnecting with `Last-Event-ID` as SDKs do), events delivered
//! per second over all streams. And the background market: ledgers per second with its traders acting.
//!
//! Replay and backtest: a recorded market of 1 M book snapshots replayed (and its input journal
//! iterated alone), the market maker's own recorded session replayed with every output compared,
//! and backtests of a recorded market with the market maker.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::time::Instant;

use criterion::{BatchSize, Criterion};
use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind};
use starlog_adapters::stellar::tx::{self, OfferKind, OfferOp, TxParams};
use starlog_adapters::stellar::{asset_to_xdr, muxed_to_xdr};
use starlog_benches::{Latency, fmt_rate, rate};
use starlog_engine::{AccountId, Amount, Asset, OfferRef, Price};
use starlog_sim::ledger::{Ledger, LedgerConfig};
use starlog_sim::market::{Market, MarketConfig};
use starlog_sim::server::{Server, ServerConfig};
use starlog_sim::venue::VenueConfig;
use stellar_xdr as xdr;

const XLM: i64 = 10_000_000;
const NOW: u64 = 1_700_000_000;

struct Party {
    seed: Seed,
    id: AccountId,
}

fn party(n: u8) -> Party {
    let seed = Seed::from_bytes([n; 32]);
    Party { id: seed.public_key(), seed }
}

fn sign(ledger: &Ledger, who: &Party, transaction: xdr::Transaction) -> Vec<u8> {
    let mut signer = SeedSigner::new(&who.seed, StoreKind::Env, "env:BENCH".to_owned());
    tx::sign(transaction, ledger.network(), &mut [&mut signer as &mut dyn Signer]).expect("sign").to_xdr()
}

fn raw_tx(ledger: &Ledger, who: &Party, body: xdr::OperationBody) -> xdr::Transaction {
    let seq = ledger.account(&who.id).expect("account").seq_num + 1;
    xdr::Transaction {
        source_account: muxed_to_xdr(&who.id),
        fee: 100,
        seq_num: xdr::SequenceNumber(seq),
        cond: xdr::Preconditions::None,
        memo: xdr::Memo::None,
        operations: vec![xdr::Operation { source_account: None, body }].try_into().expect("one op"),
        ext: xdr::TransactionExt::V0,
    }
}

fn apply(ledger: &mut Ledger, who: &Party, body: xdr::OperationBody) {
    let envelope = sign(ledger, who, raw_tx(ledger, who, body));
    assert!(ledger.submit(&envelope, NOW).expect("decodes").succeeded(), "setup transaction failed");
}

/// A ledger with an issuer of USD, a maker holding USD and XLM, and a taker holding XLM.
fn market() -> (Ledger, Party, Party, Asset) {
    let mut ledger = Ledger::new(LedgerConfig::default());
    let (issuer, maker, taker) = (party(1), party(2), party(3));
    for p in [&issuer, &maker, &taker] {
        assert!(ledger.fund(&p.id, 1_000_000 * XLM).succeeded());
    }
    let usd = Asset::credit("USD", issuer.id).expect("asset");
    let xdr::Asset::CreditAlphanum4(line) = asset_to_xdr(&usd) else { unreachable!() };
    for p in [&maker, &taker] {
        let limit = i64::MAX;
        apply(
            &mut ledger,
            p,
            xdr::OperationBody::ChangeTrust(xdr::ChangeTrustOp {
                line: xdr::ChangeTrustAsset::CreditAlphanum4(line.clone()),
                limit,
            }),
        );
    }
    apply(
        &mut ledger,
        &issuer,
        xdr::OperationBody::Payment(xdr::PaymentOp {
            destination: muxed_to_xdr(&maker.id),
            asset: asset_to_xdr(&usd),
            amount: 1_000_000_000 * XLM,
        }),
    );
    (ledger, maker, taker, usd)
}

/// `count` envelopes from `who`, with consecutive sequence numbers, each one offer.
fn offers(ledger: &Ledger, who: &Party, count: usize, op: impl Fn(usize) -> OfferOp) -> Vec<Vec<u8>> {
    let first = ledger.account(&who.id).expect("account").seq_num + 1;
    let mut signer = SeedSigner::new(&who.seed, StoreKind::Env, "env:BENCH".to_owned());
    (0..count)
        .map(|i| {
            let params = TxParams {
                source: who.id,
                sequence: first + i as i64,
                fee_stroops: 100,
                min_time: 0,
                max_time: NOW + 3600,
            };
            let built = tx::build(&params, &[op(i)]).expect("build");
            tx::sign(built, ledger.network(), &mut [&mut signer as &mut dyn Signer]).expect("sign").to_xdr()
        })
        .collect()
}

/// The maker sells USD for XLM at rising prices (1.0000, 1.0001, …): nothing crosses.
fn resting(ledger: &Ledger, maker: &Party, usd: Asset, count: usize) -> Vec<Vec<u8>> {
    offers(ledger, maker, count, |i| OfferOp {
        kind: OfferKind::ManageSell,
        selling: usd,
        buying: Asset::Native,
        amount: Amount::from_stroops(10 * XLM).expect("amount"),
        price: Price::new(10_000 + i as i32, 10_000).expect("price"),
        offer: OfferRef::New,
    })
}

/// The taker buys USD with XLM, each taking one whole resting offer.
fn takers(ledger: &Ledger, taker: &Party, usd: Asset, count: usize) -> Vec<Vec<u8>> {
    offers(ledger, taker, count, |_| OfferOp {
        kind: OfferKind::ManageBuy,
        selling: Asset::Native,
        buying: usd,
        amount: Amount::from_stroops(10 * XLM).expect("amount"),
        price: Price::new(2, 1).expect("price"),
        offer: OfferRef::New,
    })
}

/// A server closing ledgers by hand, rate limit off, holding `market()`'s state.
fn server() -> (Server, Party, Asset) {
    let mut venue = VenueConfig::new(NOW);
    venue.ledger_ms = 0;
    let mut config = ServerConfig::new(venue);
    config.rate_limit_per_hour = 0;
    let server = Server::start(config).expect("start");
    let (ledger, maker, _, usd) = market();
    server.with_venue(|v| *v.ledger_mut() = ledger);
    (server, maker, usd)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn post(agent: &ureq::Agent, url: &str, envelope: &[u8]) -> u16 {
    use base64::Engine as _;
    let tx = base64::engine::general_purpose::STANDARD.encode(envelope);
    let mut response = agent.post(url).send_form([("tx", tx.as_str())]).expect("answer");
    let _ = response.body_mut().read_to_string();
    response.status().as_u16()
}

/// Streams `events` records as a client does: 200 per connection (Horizon's maximum `limit`),
/// reconnecting from the last id after each goodbye; returns how many it saw.
fn stream_events(url: &str, events: usize) -> usize {
    let agent = agent();
    let (mut seen, mut last_id) = (0, "0".to_owned());
    while seen < events {
        let response = agent
            .get(url)
            .query("limit", "200")
            .header("accept", "text/event-stream")
            .header("last-event-id", &last_id)
            .call()
            .expect("stream");
        assert_eq!(response.status().as_u16(), 200);
        let reader = BufReader::new(response.into_body().into_reader());
        for line in reader.lines().map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("id: ") {
                last_id = id.to_owned();
                seen += 1;
                if seen == events {
                    break;
                }
            }
        }
    }
    seen
}

/// K streams of the whole backlog at once: (events delivered, elapsed ns).
fn deliver(server: &Server, streams: usize, events: usize) -> (u64, u64) {
    let url = format!("{}/transactions", server.url());
    let started = Instant::now();
    let handles: Vec<_> = (0..streams)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || stream_events(&url, events))
        })
        .collect();
    let delivered: usize = handles.into_iter().map(|h| h.join().expect("reader")).sum();
    assert_eq!(delivered, streams * events, "every stream delivered the backlog");
    (delivered as u64, started.elapsed().as_nanos() as u64)
}

/// A server whose history holds `n` resting offers (plus the setup transactions).
fn server_with_history(n: usize) -> Server {
    let (server, maker, usd) = server();
    let envelopes = server.with_venue(|v| resting(v.ledger(), &maker, usd, n));
    server.with_venue(|v| {
        for e in &envelopes {
            assert!(v.submit(e).expect("decodes").succeeded());
        }
        v.close_ledger();
    });
    server
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    g.bench_function("apply 500 resting offers", |b| {
        b.iter_batched(
            || {
                let (ledger, maker, _, usd) = market();
                let envelopes = resting(&ledger, &maker, usd, 500);
                (ledger, envelopes)
            },
            |(mut ledger, envelopes)| {
                for e in &envelopes {
                    black_box(ledger.submit(e, NOW).expect("decodes"));
                }
            },
            BatchSize::LargeInput,
        )
    });
    let server = server_with_history(500);
    g.bench_function("sse: 500 transactions to 1 stream", |b| b.iter(|| black_box(deliver(&server, 1, 500))));
    g.finish();
}

fn report() {
    println!("\n== sim report (one run) ==");
    // An account holds at most 1000 subentries (offers included): rounds of 900 offers, each
    // round on a fresh market.
    let (rounds, n) = (6, 900);
    let mut h_rest = Latency::new("apply: offer that rests");
    let mut h_cross = Latency::new("apply: taker filling one offer");
    let (mut rest_ns, mut cross_ns) = (0u64, 0u64);
    for _ in 0..rounds {
        let (mut ledger, maker, taker, usd) = market();
        let envelopes = resting(&ledger, &maker, usd, n);
        let started = Instant::now();
        for e in &envelopes {
            let t = Instant::now();
            let s = ledger.submit(e, NOW).expect("decodes");
            h_rest.record(t.elapsed());
            assert!(s.succeeded());
        }
        rest_ns += started.elapsed().as_nanos() as u64;
        let envelopes = takers(&ledger, &taker, usd, n);
        let started = Instant::now();
        for e in &envelopes {
            let t = Instant::now();
            let s = ledger.submit(e, NOW).expect("decodes");
            h_cross.record(t.elapsed());
            assert!(s.succeeded());
        }
        cross_ns += started.elapsed().as_nanos() as u64;
        assert_eq!(ledger.history().trades.len(), n, "each taker filled one offer");
        ledger.check_invariants().expect("invariants");
    }
    let total = (rounds * n) as u64;
    println!("{}   ({} transactions)", h_rest.line(), fmt_rate(rate(total, rest_ns)));
    println!("{}   ({} transactions)", h_cross.line(), fmt_rate(rate(total, cross_ns)));
    println!("  (each includes decoding, one Ed25519 verification, the operation, result XDR and history)");

    // Over HTTP, one client, keep-alive.
    let (server, maker, usd) = server();
    let envelopes = server.with_venue(|v| resting(v.ledger(), &maker, usd, n));
    let (agent, url) = (agent(), format!("{}/transactions", server.url()));
    let mut h_http = Latency::new("POST /transactions: offer that rests");
    let started = Instant::now();
    for e in &envelopes {
        let t = Instant::now();
        assert_eq!(post(&agent, &url, e), 200);
        h_http.record(t.elapsed());
    }
    let http_ns = started.elapsed().as_nanos() as u64;
    println!("{}   ({} transactions)", h_http.line(), fmt_rate(rate(n as u64, http_ns)));
    drop(server);

    // SSE: a backlog of transactions streamed to 1 and to 4 clients at once.
    // One maker's offers: an account holds at most 1000 subentries.
    let events = 900;
    let server = server_with_history(events);
    for streams in [1, 4] {
        let mut best = (0u64, u64::MAX);
        for _ in 0..3 {
            let (delivered, ns) = deliver(&server, streams, events);
            if ns < best.1 {
                best = (delivered, ns);
            }
        }
        println!(
            "  sse: {streams} stream(s) x {events} transaction records: {} events delivered (best of 3)",
            fmt_rate(rate(best.0, best.1))
        );
    }
    drop(server);

    // The background market: ledgers per second with its traders acting in each.
    let mut ledger = Ledger::new(LedgerConfig::default());
    let mut market = Market::new(MarketConfig::default(), &mut ledger, NOW).expect("market");
    let mut h_ledger = Latency::new("market: step + close one ledger");
    let (ledgers, tx_before) = (1000u64, ledger.history().transactions.len());
    let started = Instant::now();
    for i in 1..=ledgers {
        let t = Instant::now();
        market.step(&mut ledger, NOW + i);
        ledger.close_ledger(NOW + i);
        h_ledger.record(t.elapsed());
    }
    let market_ns = started.elapsed().as_nanos() as u64;
    let txs = (ledger.history().transactions.len() - tx_before) as u64;
    println!(
        "{}   ({} ledgers, {} market transactions: {} trades)",
        h_ledger.line(),
        fmt_rate(rate(ledgers, market_ns)),
        fmt_rate(rate(txs, market_ns)),
        ledger.history().trades.len()
    );
}

/// A core loop on a new `starlog record`-style session in `dir` (native/USD, no strategy), its
/// session start journaled: recorded market data goes in with `process_batch`.
fn recording(dir: &std::path::Path) -> (starlog_adapters::core_loop::CoreLoop, Vec<starlog_engine::outputs::Intent>) {
    use starlog_engine::events::{Input, SessionStart, WirePair};
    let usd = Asset::credit("USD", AccountId::from_bytes([9; 32])).expect("asset");
    let pair = starlog_engine::Pair::new(Asset::Native, usd).expect("pair");
    let text = format!(
        "# starlog record\nhorizon_url = \"http://127.0.0.1\"\n\n[[pairs]]\nselling = \"native\"\nbuying = \"{usd}\"\n"
    );
    let engine = starlog_sim::replay::engine_for(&text, starlog_sim::replay::Alterations::default()).expect("engine");
    let mut core = starlog_adapters::core_loop::CoreLoop::open(
        dir,
        engine,
        starlog_journal::Durability::None,
        starlog_adapters::live::run::SEGMENT_BYTES,
    )
    .expect("open");
    let start = Input::SessionStart(SessionStart {
        config_hash: [0; 32],
        config: text,
        security_level: 1,
        validation_level: 2,
        seed: 0,
        account: [0; 32],
        pairs: vec![WirePair::from(pair)],
    });
    let mut intents = Vec::new();
    core.process_batch([start], 1, &mut intents).expect("start");
    (core, intents)
}

/// A recorded-market session of `n` book snapshots (as `starlog record` writes them), then
/// replayed and iterated `rounds` times: (replay events/s with the engine applying them, median
/// and best round; raw journal iterate records/s, median round; mean payload bytes).
fn replay_rates(n: u64, rounds: usize) -> ((f64, f64), f64, u64) {
    let dir = recorded_books(n);
    let (mut replayed, mut iterated, mut payload) = (Vec::new(), Vec::new(), 0);
    for _ in 0..rounds {
        let (r, i, p) = replay_and_iterate(dir.path());
        replayed.push(r);
        iterated.push(i);
        payload = p;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let best = replayed.iter().copied().fold(0.0, f64::max);
    ((median(&mut replayed), best), median(&mut iterated), payload)
}

/// A recorded-market session of `n` book snapshots (10 levels a side), as `starlog record`
/// writes them.
fn recorded_books(n: u64) -> tempfile::TempDir {
    use starlog_engine::events::{BookSnapshot, Input, Level, WirePrice};
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut core, mut intents) = recording(dir.path());
    let book = |i: u64| {
        let k = (i % 13) as i32;
        let level = |n: i32| Level { price: WirePrice { n, d: 100_000 }, amount_stroops: 1_000_000_000 };
        Input::Book(BookSnapshot {
            pair: 0,
            bids: (0..10).map(|j| level(9_990 - 3 * j - k)).collect(),
            asks: (0..10).map(|j| level(10_010 + 3 * j + k)).collect(),
        })
    };
    for batch in 0..n / 1000 {
        core.process_batch((0..1000).map(|i| book(batch * 1000 + i)), 2 + batch as i64, &mut intents).expect("batch");
    }
    drop(core);
    settle(dir.path());
    dir
}

/// The market maker's own session ([`starlog_sim::sample::record_mixed`]: books, trades, timers,
/// account snapshots and its orders' results) of `n` inputs, replayed `rounds` times with every
/// output compared with the journaled one: (replay events/s, median and best round; outputs per
/// input).
fn replay_trading_rates(n: u64, rounds: usize) -> ((f64, f64), f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    starlog_sim::sample::record_mixed(dir.path(), n).expect("recorded");
    settle(dir.path());
    let (mut rates, mut per_input) = (Vec::new(), 0.0);
    for _ in 0..rounds {
        let started = Instant::now();
        let report =
            starlog_sim::replay::replay(dir.path(), starlog_sim::replay::Alterations::default()).expect("replay");
        let ns = started.elapsed().as_nanos() as u64;
        assert!(report.divergence.is_none() && report.orders > 0, "{report:?}");
        rates.push(rate(report.inputs, ns));
        per_input = report.outputs as f64 / report.inputs.max(1) as f64;
    }
    rates.sort_by(f64::total_cmp);
    ((rates[rates.len() / 2], rates[rates.len() - 1]), per_input)
}

/// Make every file of the session durable (untimed) so that the kernel's write-back of the
/// recording is over before a replay is timed: on these two-core machines it would otherwise
/// run beside the replay and halve it, or not, depending on when it starts.
fn settle(dir: &std::path::Path) {
    for journal in ["input", "output"] {
        for entry in std::fs::read_dir(dir.join(journal)).expect("journal dir") {
            let path = entry.expect("entry").path();
            std::fs::File::open(&path).and_then(|f| f.sync_all()).expect("sync");
        }
    }
}

/// Replay the session in `dir`, then iterate its input journal alone: (replay events/s, raw
/// iterate records/s, mean payload bytes per record).
fn replay_and_iterate(dir: &std::path::Path) -> (f64, f64, u64) {
    let started = Instant::now();
    let report = starlog_sim::replay::replay(dir, starlog_sim::replay::Alterations::default()).expect("replay");
    let replay_ns = started.elapsed().as_nanos() as u64;
    assert!(report.divergence.is_none());
    let reader = starlog_journal::JournalReader::open(dir.join("input")).expect("reader");
    let started = Instant::now();
    let mut bytes = 0usize;
    for record in reader.iter() {
        bytes += record.expect("record").payload.len();
    }
    let iterate_ns = started.elapsed().as_nanos() as u64;
    black_box(bytes);
    (rate(report.inputs, replay_ns), rate(report.inputs, iterate_ns), (bytes as u64).div_ceil(report.inputs.max(1)))
}

/// A recorded market of `n` book snapshots, each followed by a trade at the touch, backtested
/// with the market maker: (events/s of one run, runs/s of a 4-run sweep on 1 thread and on 2).
fn backtest_rate(n: u64) -> (f64, f64, f64) {
    use starlog_engine::events::{BookSnapshot, Input, Level, Trade, WirePrice};
    use starlog_sim::backtest::{self, BacktestSpec};
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut core, mut intents) = recording(dir.path());
    // A mid wandering ±20 bps in steps; a trade at the bid or the ask after every book.
    let events = |i: u64| {
        let k = ((i / 7) % 11) as i32 - 5;
        let level = |n: i32| Level { price: WirePrice { n, d: 100_000 }, amount_stroops: 1_000_000_000 };
        let (bid, ask) = (9_995 + 4 * k, 10_005 + 4 * k);
        let book = Input::Book(BookSnapshot {
            pair: 0,
            bids: (0..10).map(|j| level(bid - 3 * j)).collect(),
            asks: (0..10).map(|j| level(ask + 3 * j)).collect(),
        });
        let p = if i.is_multiple_of(2) { bid } else { ask };
        let trade = Input::Trade(Trade {
            pair: 0,
            id: u128::from(i + 1) << 32,
            ledger: 1,
            ledger_close_time: 0,
            price: WirePrice { n: p, d: 100_000 },
            base_amount_stroops: 3_000_000_000,
            counter_amount_stroops: i64::from(p) * 30_000,
            base_is_seller: i.is_multiple_of(2),
            base_offer_id: 1,
            counter_offer_id: 2,
            base_account: [1; 32],
            counter_account: [2; 32],
        });
        [book, trade]
    };
    for batch in 0..n / 500 {
        // 500 books and 500 trades per batch; 100 ms apart in ingress time.
        for i in 0..500 {
            let i = batch * 500 + i;
            core.process_batch(events(i), 1_000_000_000 + i as i64 * 100_000_000, &mut intents).expect("batch");
        }
    }
    drop(core);
    let spec = |spread: &str| {
        let mut s = BacktestSpec { strategy: Some("market-maker".into()), ..Default::default() };
        for (k, v) in [("spread_bps", spread), ("order_amount", "20"), ("levels", "2"), ("latency_ms", "200")] {
            s.set(k, v).expect("param");
        }
        s
    };
    let started = Instant::now();
    let report = backtest::run(dir.path(), &spec("10"), &mut |_, _| {}).expect("backtest");
    let one_ns = started.elapsed().as_nanos() as u64;
    assert!(!report.fills.is_empty(), "the market maker trades");
    let specs: Vec<BacktestSpec> = ["6", "10", "20", "40"].iter().map(|s| spec(s)).collect();
    let mut sweep_ns = [0u64; 2];
    for (threads, ns) in [1usize, 2].into_iter().zip(&mut sweep_ns) {
        let started = Instant::now();
        for r in backtest::sweep(dir.path(), &specs, threads, &|_, _| {}) {
            r.expect("run");
        }
        *ns = started.elapsed().as_nanos() as u64;
    }
    (rate(2 * n, one_ns), rate(specs.len() as u64, sweep_ns[0]), rate(specs.len() as u64, sweep_ns[1]))
}

fn main() {
    // Profiling mode: only the replay of 1 M recorded book snapshots, for a profiler.
    if std::env::var("STARLOG_BENCH_PROFILE").is_ok_and(|w| w == "replay") {
        let dir = recorded_books(1_000_000);
        for _ in 0..5 {
            let (replayed, iterated, _) = replay_and_iterate(dir.path());
            println!("replay {} events/s; iterate {} records/s", fmt_rate(replayed), fmt_rate(iterated));
        }
        return;
    }
    starlog_benches::bench_main(bench, || {
        report();
        let (events, one, two) = backtest_rate(100_000);
        println!(
            "  backtest of 100 k books + 100 k trades with the market maker: {} events/s; a 4-run sweep: {:.2} runs/s on 1 thread, {:.2} on 2",
            fmt_rate(events),
            one,
            two
        );
        let ((replayed, best), iterated, payload) = replay_rates(1_000_000, 5);
        println!(
            "  replay of 1 M recorded book snapshots (10x10, {payload} B payloads), median (best) of 5: {} ({}) events/s with the engine applying them ({:.2} GB/s of payload); raw journal iterate {} records/s (median)",
            fmt_rate(replayed),
            fmt_rate(best),
            replayed * payload as f64 / 1e9,
            fmt_rate(iterated)
        );
        let ((trading, best), per_input) = replay_trading_rates(500_000, 5);
        println!(
            "  replay of a recorded market-maker session (500 k inputs: its own orders and results, {per_input:.2} outputs an input, each compared with the journaled one), median (best) of 5: {} ({}) events/s",
            fmt_rate(trading),
            fmt_rate(best)
        );
    });
}
