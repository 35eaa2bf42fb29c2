//! What operating a live session costs the core thread: raising an incident alert (no webhook;
//! a webhook that answers; a dead one that never accepts — the core must not notice the
//! difference) and the measurements the core loop keeps for the metrics page (batches of timer
//! inputs with measuring off and on), plus rendering the metrics page.
//!
//! `cargo bench -p starlog-benches --bench ops` (add `-- report` for the report only).

#[path = "../../adapters/tests/harness/webhook.rs"]
mod webhook;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use starlog_adapters::alerts::{Alert, AlertConfig, Alerter};
use starlog_adapters::core_loop::CoreLoop;
use starlog_adapters::horizon::client::ClientStats;
use starlog_adapters::live::ops::{self, IoStats};
use starlog_adapters::snapshots::SnapshotPolicy;
use starlog_benches::{Latency, fmt_ns};
use starlog_engine::engine::Engine;
use starlog_engine::events::{Input, Timer};
use starlog_engine::incident::IncidentKind;
use starlog_engine::outputs::IncidentOut;
use starlog_journal::Durability;

const BATCH: usize = 64;

fn alert(seq: u64) -> Alert {
    let kind = IncidentKind::UnexpectedTransaction;
    let out = IncidentOut { id: seq, kind: kind.code(), priority: 0, response: 0, until_ns: 0 };
    Alert::from_output(seq, &out, 1_700_000_000_000_000_000, "/srv/starlog/session")
}

/// A listener that never accepts: connections queue in the kernel and then hang.
fn dead_webhook() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    (listener, url)
}

fn alerter(url: Option<String>) -> Alerter {
    Alerter::start(AlertConfig { webhook_url: url, timeout_ms: 60_000, ..AlertConfig::default() })
}

fn engine() -> Engine {
    Engine::new(starlog_benches::loose_engine_config()).expect("engine")
}

fn core(dir: &std::path::Path, measure: bool) -> CoreLoop {
    let policy = SnapshotPolicy { every_inputs: 0, ..SnapshotPolicy::default() };
    let mut core = CoreLoop::open_with(dir, engine(), Durability::None, 64 << 20, policy).expect("core loop");
    if measure {
        core.enable_metrics();
    }
    core
}

fn batch(core: &mut CoreLoop, now: &mut i64, intents: &mut Vec<starlog_engine::outputs::Intent>) {
    *now += 1_000_000;
    core.process_batch((0..BATCH).map(|_| Input::Timer(Timer {})), *now, intents).expect("batch");
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("alerts_raise");
    let (_listener, dead) = dead_webhook();
    let (live, _requests) = webhook::receiver(vec![200]);
    for (name, url) in [("no_webhook", None), ("live_webhook", Some(live)), ("dead_webhook", Some(dead))] {
        let alerter = alerter(url);
        let mut seq = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                seq += 1;
                alerter.raise(black_box(&alert(seq)));
            })
        });
        black_box(alerter.shutdown(Duration::from_millis(10)));
    }
    g.finish();

    let mut g = c.benchmark_group("core_loop_timer_batch_64");
    for (name, measure) in [("metrics_off", false), ("metrics_on", true)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut core = core(dir.path(), measure);
        let (mut now, mut intents) = (1_700_000_000_000_000_000i64, Vec::new());
        g.bench_function(name, |b| b.iter(|| batch(&mut core, &mut now, &mut intents)));
    }
    g.finish();
}

fn report() {
    println!("\n== ops report (one run; medians and ratios are what to quote) ==");
    let (_listener, dead) = dead_webhook();
    let (live, _requests) = webhook::receiver(vec![200]);
    let mut medians = Vec::new();
    for (name, url) in
        [("raise, no webhook", None), ("raise, live webhook", Some(live)), ("raise, dead webhook", Some(dead))]
    {
        let alerter = alerter(url);
        let mut l = Latency::new(name);
        for seq in 0..100_000 {
            let a = alert(seq);
            let t = Instant::now();
            alerter.raise(black_box(&a));
            l.record(t.elapsed());
        }
        let stats = alerter.shutdown(Duration::from_millis(10));
        println!("{}   (delivered {}, dropped {})", l.line(), stats.delivered, stats.dropped);
        medians.push(l.median_ns());
    }
    println!(
        "dead/no-webhook median ratio: {:.2}; live/no-webhook: {:.2}",
        medians[2] as f64 / medians[0].max(1) as f64,
        medians[1] as f64 / medians[0].max(1) as f64
    );
    let mut per_input = Vec::new();
    for (name, measure) in [("timer batch of 64, metrics off", false), ("timer batch of 64, metrics on", true)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut core = core(dir.path(), measure);
        let (mut now, mut intents) = (1_700_000_000_000_000_000i64, Vec::new());
        let mut l = Latency::new(name);
        for _ in 0..20_000 {
            let t = Instant::now();
            batch(&mut core, &mut now, &mut intents);
            l.record(t.elapsed());
        }
        println!("{}", l.line());
        per_input.push(l.median_ns() / BATCH as u64);
        if measure {
            let horizon = ClientStats::default();
            let mut render = Latency::new("metrics page render");
            for _ in 0..1000 {
                let t = Instant::now();
                black_box(ops::metrics(&core, IoStats { horizon: &horizon, admin: None, alerts: None }));
                render.record(t.elapsed());
            }
            println!("{}", render.line());
        }
    }
    println!(
        "per input: {} off, {} on (ratio {:.2})",
        fmt_ns(per_input[0]),
        fmt_ns(per_input[1]),
        per_input[1] as f64 / per_input[0].max(1) as f64
    );
}

fn main() {
    starlog_benches::bench_main(bench, report);
}
