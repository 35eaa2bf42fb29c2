//! Shared helpers for starlog's criterion benchmarks: latency histograms (hdrhistogram) printed as
//! percentiles, throughput formatting, and an engine configuration with its limits out of the
//! way. Criterion measures; these summarise the distribution of the same kind of samples in one
//! run so that ratios come from one machine state.

use std::time::Duration;

use hdrhistogram::Histogram;
use starlog_engine::engine::EngineConfig;
use starlog_engine::incident::IncidentConfig;
use starlog_engine::risk::{RiskLimits, ValidationLevel};
use starlog_engine::throttle::ThrottleConfig;

/// An engine configuration whose limits are out of the way (no throttle, unbounded amounts and
/// counts, a 10 % band) at STRICT: a benchmark measures the checks' cost, not their refusals.
pub fn loose_engine_config() -> EngineConfig {
    EngineConfig {
        risk: RiskLimits {
            order_amount_stroops_max: i64::MAX,
            order_notional_stroops_max: i64::MAX,
            price_band_bps_max: 1000,
            open_orders_pair_max: u32::MAX,
            open_orders_total_max: u32::MAX,
            inventory_stroops_max: i64::MAX,
            daily_loss_stroops_max: i64::MAX,
        },
        throttle: ThrottleConfig::unlimited(),
        validation: ValidationLevel::Strict,
        incidents: IncidentConfig::DEFAULT,
    }
}

/// A latency histogram in nanoseconds (3 significant figures, up to 100 s).
#[derive(Debug)]
pub struct Latency {
    name: String,
    h: Histogram<u64>,
}

impl Latency {
    pub fn new(name: impl Into<String>) -> Latency {
        Latency {
            name: name.into(),
            h: Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds"),
        }
    }

    /// Record one sample, in nanoseconds.
    pub fn record_ns(&mut self, ns: u64) {
        self.h.saturating_record(ns.max(1));
    }

    pub fn record(&mut self, d: Duration) {
        self.record_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn len(&self) -> u64 {
        self.h.len()
    }

    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }

    pub fn median_ns(&self) -> u64 {
        self.h.value_at_quantile(0.5)
    }

    pub fn quantile_ns(&self, q: f64) -> u64 {
        self.h.value_at_quantile(q)
    }

    /// `name: p50 … p90 … p99 … p99.9 … max …` with adaptive units.
    pub fn line(&self) -> String {
        format!(
            "{:<34} n={:<7} p50 {:>9}  p90 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}",
            self.name,
            self.h.len(),
            fmt_ns(self.h.value_at_quantile(0.5)),
            fmt_ns(self.h.value_at_quantile(0.9)),
            fmt_ns(self.h.value_at_quantile(0.99)),
            fmt_ns(self.h.value_at_quantile(0.999)),
            fmt_ns(self.h.max()),
        )
    }
}

/// Nanoseconds with a unit that keeps 3–4 significant digits.
pub fn fmt_ns(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{ns} ns"),
        10_000..=9_999_999 => format!("{:.1} µs", ns as f64 / 1e3),
        10_000_000..=9_999_999_999 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// Items per second given a median time for `items` items.
pub fn rate(items: u64, ns: u64) -> f64 {
    items as f64 / (ns.max(1) as f64 / 1e9)
}

/// `12.3 M/s`-style rate.
pub fn fmt_rate(per_s: f64) -> String {
    if per_s >= 1e6 { format!("{:.1} M/s", per_s / 1e6) } else { format!("{:.1} k/s", per_s / 1e3) }
}

/// A benchmark binary's `main`: criterion's groups (skipped when only `report` is asked for),
/// then the one-run report with percentiles — only under `cargo bench` (which passes `--bench`),
/// not when `cargo test` runs the binary as a quick check.
pub fn bench_main(bench: impl FnOnce(&mut criterion::Criterion), report: impl FnOnce()) {
    let report_only = std::env::args().any(|a| a == "report");
    let test_mode = !std::env::args().any(|a| a == "--bench");
    if !report_only {
        let mut c = criterion::Criterion::default().configure_from_args();
        bench(&mut c);
        c.final_summary();
    }
    if !test_mode {
        report();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_formatting() {
        let mut l = Latency::new("x");
        for ns in 1..=1000 {
            l.record_ns(ns);
        }
        assert_eq!(l.len(), 1000);
        assert!((495..=505).contains(&l.median_ns()), "{}", l.median_ns());
        assert!(l.quantile_ns(0.99) >= 985);
        assert_eq!(fmt_ns(950), "950 ns");
        assert_eq!(fmt_ns(12_345), "12.3 µs");
        assert_eq!(fmt_rate(rate(4096, 100_000)), "41.0 M/s");
    }
}
