//! Backtests over hand-made recordings: queue position, latency, crossing without reusing
//! recorded liquidity, fees and atomic failures, determinism, sweeps, and invariants over random
//! markets (every recorded trade and level fills us at most once; balances add up).

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use starlog_engine::events::{self, BookSnapshot, Input, Level, SessionStart, Trade, WirePrice};
use starlog_engine::{AccountId, Asset, Pair, Price};
use starlog_journal::{Durability, JournalOptions, JournalWriter};
use starlog_sim::backtest::{self, BacktestReport, BacktestSpec, Source};
use starlog_sim::rng::SplitMix64;

const UNIT: i64 = 10_000_000;
const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000_000_000_000;

fn usd() -> Asset {
    Asset::credit("USD", AccountId::from_bytes([7; 32])).unwrap()
}

fn price(text: &str) -> Price {
    Price::from_decimal_str(text).unwrap()
}

/// A recording as `starlog record` writes one: a session start, then books and trades.
struct Recording {
    writer: JournalWriter,
    trade_id: u128,
}

impl Recording {
    fn start(dir: &Path) -> Recording {
        let opts = JournalOptions { segment_size_bytes: 1 << 20, durability: Durability::None, sync_hook: None };
        let (writer, _) = JournalWriter::open(dir.join("input"), opts).unwrap();
        let mut r = Recording { writer, trade_id: 1 << 40 };
        let pair = Pair::new(Asset::Native, usd()).unwrap();
        r.append(
            0,
            Input::SessionStart(SessionStart {
                config_hash: [0; 32],
                config: "# starlog record\nhorizon_url = \"http://127.0.0.1:1\"\n".into(),
                security_level: 1,
                validation_level: 2,
                seed: 1,
                account: [9; 32],
                pairs: vec![pair.into()],
            }),
        );
        r
    }

    fn append(&mut self, t_ms: i64, input: Input) -> u64 {
        let bytes = events::to_bytes(&input).unwrap();
        self.writer.append(input.kind(), T0 + t_ms * MS, &bytes).unwrap()
    }

    /// Levels as (price, base units), best first.
    fn book(&mut self, t_ms: i64, bids: &[(&str, i64)], asks: &[(&str, i64)]) -> u64 {
        let level = |&(p, units): &(&str, i64)| Level { price: price(p).into(), amount_stroops: units * UNIT };
        let snapshot =
            BookSnapshot { pair: 0, bids: bids.iter().map(level).collect(), asks: asks.iter().map(level).collect() };
        self.append(t_ms, Input::Book(snapshot))
    }

    fn trade_stroops(&mut self, t_ms: i64, p: &str, base_stroops: i64) -> u64 {
        self.trade_id += 1;
        let p = price(p);
        let counter = i64::try_from(i128::from(base_stroops) * i128::from(p.n()) / i128::from(p.d())).unwrap();
        let trade = Trade {
            pair: 0,
            id: self.trade_id,
            ledger: 10,
            ledger_close_time: T0 / 1_000_000_000,
            price: WirePrice::from(p),
            base_amount_stroops: base_stroops,
            counter_amount_stroops: counter,
            base_is_seller: true,
            base_offer_id: 5,
            counter_offer_id: 6,
            base_account: [1; 32],
            counter_account: [2; 32],
        };
        self.append(t_ms, Input::Trade(trade))
    }

    fn trade(&mut self, t_ms: i64, p: &str, base_units: i64) -> u64 {
        self.trade_stroops(t_ms, p, base_units * UNIT)
    }

    fn finish(mut self) {
        self.writer.commit().unwrap();
    }
}

fn twap(params: &[(&str, &str)]) -> BacktestSpec {
    let mut spec = BacktestSpec { strategy: Some("twap".into()), ..Default::default() };
    for (k, v) in params {
        spec.set(k, v).unwrap();
    }
    spec
}

fn run(dir: &Path, spec: &BacktestSpec) -> BacktestReport {
    backtest::run(dir, spec, &mut |_, _| {}).unwrap()
}

#[test]
fn a_resting_order_waits_for_its_latency_and_the_queue_ahead_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Recording::start(dir.path());
    r.book(1_000, &[("0.105", 1000)], &[("0.11", 100)]);
    // Before the order reaches the venue (latency 500 ms): no fill however much trades.
    r.trade(1_200, "0.11", 500);
    r.book(2_000, &[("0.105", 1000)], &[("0.11", 100)]);
    // 100 units were ahead of us at 0.11: 60, then 45 trade — we get the last 5.
    r.trade(3_000, "0.11", 60);
    let first = r.trade(4_000, "0.11", 45);
    // A trade through our price fills us before anyone at the worse price.
    let second = r.trade(5_000, "0.12", 20);
    r.book(6_000, &[("0.105", 1000)], &[("0.11", 100)]);
    r.finish();
    let spec = twap(&[
        ("total_amount", "10"),
        ("slices", "1"),
        ("duration_s", "60"),
        ("latency_ms", "500"),
        ("timer_ms", "0"),
    ]);
    let report = run(dir.path(), &spec);
    assert_eq!((report.orders, report.rejects.len()), (1, 0), "{:?}", report.rejects);
    let fills: Vec<(i64, i64, Source)> =
        report.fills.iter().map(|f| ((f.time_ns - T0) / MS, f.base_stroops, f.source)).collect();
    assert_eq!(
        fills,
        vec![(4_000, 5 * UNIT, Source::Trade { seq: first }), (5_000, 5 * UNIT, Source::Trade { seq: second })]
    );
    // A maker fill is at our price, rounded in our favour: 10 × 0.11 USD.
    assert!(report.fills.iter().all(|f| f.price == price("0.11")));
    assert_eq!(report.fills.iter().map(|f| f.counter_stroops).sum::<i64>(), 11 * UNIT / 10);
    assert_eq!(report.orders, 1);
    assert_eq!(report.position_base_stroops, -10 * i128::from(UNIT));
    // One transaction, one operation, 100 stroops; XLM down by what was sold and the fee.
    assert_eq!((report.transactions, report.fees_stroops), (1, 100));
    let balance = |a: &Asset| report.final_balances.iter().find(|(x, _)| x == a).unwrap().1;
    assert_eq!(balance(&Asset::Native), 10_000 * UNIT - 10 * UNIT - 100);
    assert_eq!(balance(&usd()), 10_000 * UNIT + 11 * UNIT / 10);
}

/// Two TWAP slices of 10 a second apart, each sold 0.5 % below the best bid (so it crosses).
fn two_aggressive_slices() -> BacktestSpec {
    twap(&[
        ("total_amount", "20"),
        ("slices", "2"),
        ("duration_s", "2"),
        ("aggressiveness_bps", "50"),
        ("latency_ms", "100"),
        ("timer_ms", "500"),
    ])
}

#[test]
fn crossing_orders_never_take_the_same_recorded_liquidity_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Recording::start(dir.path());
    let bids = [("0.1", 15), ("0.099", 100)];
    let asks = [("0.101", 100)];
    let seq = r.book(1_000, &bids, &asks);
    // The same book again and again: the level at 0.1 is still "there" in the recording, but
    // we took it.
    for t in (1_500..=4_000).step_by(500) {
        r.book(t, &bids, &asks);
    }
    r.finish();
    // Two slices of 10, each sold 0.5 % below the best bid: the first takes 10 of the 15 at
    // 0.1, the second the 5 left; its other 5 rest at 0.0995 (crossing nothing at 0.099).
    let spec = two_aggressive_slices();
    let report = run(dir.path(), &spec);
    let taken: i64 = report.fills.iter().filter(|f| f.price == price("0.1")).map(|f| f.base_stroops).sum();
    assert_eq!(taken, 15 * UNIT, "{:?}", report.fills);
    assert!(report.fills.iter().all(|f| matches!(f.source, Source::Book { .. })));
    assert!(report.fills.iter().any(|f| f.source == Source::Book { seq, price: price("0.1") }));
    // Taker fills are at the level's price, rounded against us: 15 × 0.1.
    assert_eq!(report.fills.iter().map(|f| f.counter_stroops).sum::<i64>(), 15 * UNIT / 10);
}

#[test]
fn liquidity_comes_back_when_the_recording_shows_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Recording::start(dir.path());
    r.book(1_000, &[("0.1", 15), ("0.099", 100)], &[("0.101", 100)]);
    // The level at 0.1 goes (someone else took it in the recording), then new bids arrive there.
    r.book(1_600, &[("0.099", 100)], &[("0.101", 100)]);
    r.book(1_700, &[("0.1", 15), ("0.099", 100)], &[("0.101", 100)]);
    for t in (2_000..=4_000).step_by(500) {
        r.book(t, &[("0.1", 15), ("0.099", 100)], &[("0.101", 100)]);
    }
    r.finish();
    let spec = two_aggressive_slices();
    let report = run(dir.path(), &spec);
    let taken: i64 = report.fills.iter().filter(|f| f.price == price("0.1")).map(|f| f.base_stroops).sum();
    assert_eq!(taken, 20 * UNIT, "10 from the first level, 10 from the new one: {:?}", report.fills);
}

/// A recorded book: its seq, time, best bid, and the touch levels (price, base stroops).
type RecordedBook = (u64, i64, Price, Vec<(Price, i64)>);

/// A random market around 0.1 USD per XLM: books every 200 ms, trades at the touch.
fn random_market(dir: &Path, seed: u64, steps: usize) -> Vec<RecordedBook> {
    let mut rng = SplitMix64::new(seed);
    let mut r = Recording::start(dir);
    let mut mid_bps: i64 = 10_000; // 0.1 = 10 000 / 100 000
    let mut books = Vec::new();
    for step in 0..steps {
        let t = 1_000 + step as i64 * 200;
        mid_bps = (mid_bps + rng.symmetric(15)).clamp(9_000, 11_000);
        let half = 5 + rng.below(20) as i64;
        let bid = format!("{:.5}", (mid_bps - half) as f64 / 100_000.0);
        let ask = format!("{:.5}", (mid_bps + half) as f64 / 100_000.0);
        let bid2 = format!("{:.5}", (mid_bps - half - 10) as f64 / 100_000.0);
        let ask2 = format!("{:.5}", (mid_bps + half + 10) as f64 / 100_000.0);
        let (b1, a1) = (10 + rng.below(200) as i64, 10 + rng.below(200) as i64);
        let seq = r.book(t, &[(&bid, b1), (&bid2, 300)], &[(&ask, a1), (&ask2, 300)]);
        books.push((seq, t, price(&bid), vec![(price(&bid), b1 * UNIT), (price(&ask), a1 * UNIT)]));
        for k in 0..rng.below(3) {
            let at_bid = rng.percent(50);
            let p = if at_bid { &bid } else { &ask };
            r.trade_stroops(t + 50 + k as i64 * 10, p, (1 + rng.below(150) as i64) * UNIT / 2);
        }
    }
    r.finish();
    books
}

fn market_maker(params: &[(&str, &str)]) -> BacktestSpec {
    let mut spec = BacktestSpec { strategy: Some("market-maker".into()), ..Default::default() };
    for (k, v) in params {
        spec.set(k, v).unwrap();
    }
    spec
}

#[test]
fn same_recording_and_parameters_give_the_same_report_and_a_sweep_is_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    random_market(dir.path(), 7, 400);
    let spec = market_maker(&[("spread_bps", "20"), ("order_amount", "50"), ("latency_ms", "300")]);
    let a = run(dir.path(), &spec);
    let b = run(dir.path(), &spec);
    assert!(!a.fills.is_empty(), "the market maker trades on this market");
    assert_eq!(a.to_json().to_string(), b.to_json().to_string());
    assert_eq!(backtest::svg(&a), backtest::svg(&b));
    let specs = backtest::grid(&spec, &[("spread_bps".into(), vec!["10".into(), "40".into()])]).unwrap();
    assert_eq!(specs.len(), 2);
    let swept = backtest::sweep(dir.path(), &specs, 2, &|_, _| {});
    for (spec, result) in specs.iter().zip(swept) {
        assert_eq!(result.unwrap().to_json(), run(dir.path(), spec).to_json());
    }
    // Another spread is another result.
    let wider = run(dir.path(), &specs[1]);
    assert_ne!(wider.to_json()["fills"], a.to_json()["fills"]);
}

#[test]
fn bad_requests_are_errors_not_results() {
    let dir = tempfile::tempdir().unwrap();
    random_market(dir.path(), 1, 5);
    let err = |spec: &BacktestSpec| backtest::run(dir.path(), spec, &mut |_, _| {}).unwrap_err().to_string();
    let none = BacktestSpec::default();
    assert!(err(&none).contains("--strategy"), "{}", err(&none));
    let unknown = BacktestSpec { strategy: Some("momentum".into()), ..Default::default() };
    assert!(err(&unknown).contains("unknown strategy"));
    let bad = market_maker(&[("spreadbps", "3")]);
    assert!(err(&bad).contains("spreadbps"));
    let pair = BacktestSpec { pair: 3, ..market_maker(&[]) };
    assert!(err(&pair).contains("no pair 3"));
    assert!(BacktestSpec::default().set("latency_ms", "-1").is_err());
    let empty = tempfile::tempdir().unwrap();
    assert!(backtest::run(empty.path(), &market_maker(&[]), &mut |_, _| {}).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Over any market: a recorded trade fills us at most its volume; a recorded level we cross
    /// gives at most what it showed; balances move by exactly our fills and fees, and never go
    /// negative.
    #[test]
    fn fills_never_exceed_the_recorded_liquidity_and_balances_add_up(
        seed in 0u64..1_000_000,
        spread in prop::sample::select(vec!["4", "10", "30"]),
        latency in prop::sample::select(vec!["0", "200", "1500"]),
        skew in prop::sample::select(vec!["0", "100"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let books = random_market(dir.path(), seed, 150);
        let spec = market_maker(&[("spread_bps", spread), ("order_amount", "40"), ("latency_ms", latency),
                                  ("inventory_skew", skew), ("levels", "3")]);
        let report = run(dir.path(), &spec);
        let recording = starlog_journal::JournalReader::open(dir.path().join("input")).unwrap();
        let mut by_trade: BTreeMap<u64, i64> = BTreeMap::new();
        let mut by_level: BTreeMap<(u64, Price), i64> = BTreeMap::new();
        for f in &report.fills {
            prop_assert!(f.base_stroops > 0 && f.counter_stroops > 0);
            match f.source {
                Source::Trade { seq } => *by_trade.entry(seq).or_default() += f.base_stroops,
                Source::Book { seq, price } => *by_level.entry((seq, price)).or_default() += f.base_stroops,
            }
        }
        for (seq, filled) in by_trade {
            let record = recording.get(seq).unwrap().unwrap();
            let events::ArchivedInput::Trade(t) = events::access(record.payload).unwrap() else { panic!("not a trade") };
            prop_assert!(filled <= t.base_amount_stroops.to_native(), "trade {seq}: {filled} filled");
        }
        for ((seq, p), filled) in by_level {
            let (_, _, _, levels) = books.iter().find(|b| b.0 == seq).expect("a recorded book");
            let shown = levels.iter().find(|l| l.0 == p).map_or(300 * UNIT, |l| l.1);
            prop_assert!(filled <= shown, "level {p} of book {seq}: {filled} of {shown}");
        }
        let (mut base, mut counter) = (10_000 * i128::from(UNIT), 10_000 * i128::from(UNIT));
        for f in &report.fills {
            let (b, c) = (i128::from(f.base_stroops), i128::from(f.counter_stroops));
            if f.side == starlog_engine::risk::Side::Buy { base += b; counter -= c } else { base -= b; counter += c }
        }
        base -= i128::from(report.fees_stroops);
        let balance = |a: &Asset| i128::from(report.final_balances.iter().find(|(x, _)| x == a).unwrap().1);
        prop_assert_eq!(balance(&Asset::Native), base);
        prop_assert_eq!(balance(&usd()), counter);
        prop_assert!(base >= 0 && counter >= 0);
    }
}

/// One slice of 10 sold into the bid at 0.1 on arrival, then the market falls and rises: the
/// report's marked PnL, drawdown and inventory series are those of a short of 10 XLM for 1 USD,
/// worked out by hand.
#[test]
fn marked_pnl_drawdown_and_the_inventory_series_follow_the_mid() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Recording::start(dir.path());
    r.book(1_000, &[("0.1", 15), ("0.099", 100)], &[("0.101", 100)]);
    r.book(1_500, &[("0.1", 15), ("0.099", 100)], &[("0.101", 100)]);
    // Mid 0.09: the short gains. Mid 0.12: it loses.
    r.book(3_000, &[("0.089", 100)], &[("0.091", 100)]);
    r.book(5_000, &[("0.119", 100)], &[("0.121", 100)]);
    r.book(7_000, &[("0.119", 100)], &[("0.121", 100)]);
    r.finish();
    let spec = twap(&[
        ("total_amount", "10"),
        ("slices", "1"),
        ("duration_s", "1"),
        ("aggressiveness_bps", "50"),
        ("latency_ms", "100"),
        ("timer_ms", "500"),
    ]);
    let report = run(dir.path(), &spec);
    let sold: i64 = report.fills.iter().map(|f| f.base_stroops).sum();
    let got: i64 = report.fills.iter().map(|f| f.counter_stroops).sum();
    assert_eq!((sold, got), (10 * UNIT, UNIT), "10 XLM sold at 0.1: {:?}", report.fills);
    let short = -10 * i128::from(UNIT);
    assert_eq!(report.position_base_stroops, short);
    // Marked at the last mid, 0.12: 1 USD received, 1.2 USD to buy it back.
    let marked_at = |mid_milli: i128| i128::from(UNIT) + short * mid_milli / 1000;
    assert_eq!((report.realised_stroops, report.pnl_stroops), (0, marked_at(120)));
    // The best mark was at 0.09 (+0.1 USD); from there to 0.12 (-0.2 USD) is the drawdown.
    assert_eq!(report.max_drawdown_stroops, marked_at(90) - marked_at(120));
    let after_fill: Vec<_> = report.series.iter().filter(|s| s.position_base_stroops != 0).collect();
    assert!(!after_fill.is_empty(), "{:?}", report.series);
    assert!(after_fill.iter().all(|s| s.position_base_stroops == short), "{:?}", report.series);
    assert_eq!(after_fill.iter().map(|s| s.pnl_stroops).max(), Some(marked_at(90)), "{:?}", report.series);
    assert_eq!(report.series.last().map(|s| s.pnl_stroops), Some(marked_at(120)), "{:?}", report.series);
    let json = report.to_json();
    assert_eq!(json["pnl"]["marked_stroops"], serde_json::json!(marked_at(120) as i64), "{json}");
    assert_eq!(json["pnl"]["max_drawdown_stroops"], serde_json::json!((marked_at(90) - marked_at(120)) as i64));
}
