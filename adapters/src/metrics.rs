//! What the live process measures, and its Prometheus text rendering (exposition format 0.0.4).
//!
//! [`CoreMetrics`] is owned by the core thread (plain counters and hdrhistograms, no atomics
//! or locks on the core's path): inputs and outputs journaled, by kind, with their bytes; journal
//! commit latency; engine apply latency per input; tick-to-order latency (an input's arrival at
//! the core to its intent's envelope handed to the submitter); signer latency per key store;
//! rejects by code; incidents by kind and priority. The I/O threads' counts (Horizon requests,
//! errors, rate limits, stream reconnects; alerts; admin logins) are atomics they own, read when
//! the page is rendered. The page is rendered on the core thread when the admin API asks.
//!
//! Latency histograms are rendered as Prometheus summaries (quantiles 0.5, 0.9, 0.99, 0.999,
//! plus `_sum` and `_count`), in seconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use starlog_engine::incident::{IncidentKind, Priority};
use starlog_engine::lifecycle::OrderStatus;
use starlog_engine::risk::RejectCode;

/// Histograms record nanoseconds from 1 ns to 60 s with 2 significant digits: quantiles
/// within 1 %, and a page rendered on the core thread in a fraction of the time 3 digits take
/// (a quantile walks the histogram's counts; 2 digits have an eighth of them).
const HISTOGRAM_NS_MAX: u64 = 60_000_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_NS_MAX, 2).expect("valid histogram bounds")
}

/// A latency histogram in nanoseconds with its exact sum.
#[derive(Clone, Debug)]
pub struct Latency {
    histogram: Histogram<u64>,
    sum_ns: u128,
}

impl Default for Latency {
    fn default() -> Latency {
        Latency { histogram: histogram(), sum_ns: 0 }
    }
}

impl Latency {
    pub fn record_ns(&mut self, ns: u64) {
        self.histogram.saturating_record(ns.clamp(1, HISTOGRAM_NS_MAX));
        self.sum_ns += u128::from(ns);
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    pub fn quantile_ns(&self, q: f64) -> u64 {
        self.histogram.value_at_quantile(q)
    }
}

/// Journal record kinds' names for labels.
fn input_kind_name(kind: u16) -> &'static str {
    use starlog_engine::events::kind::*;
    match kind {
        SESSION_START => "session_start",
        BOOK => "book",
        TRADE => "trade",
        ACCOUNT => "account",
        TX_SUBMITTED => "tx_submitted",
        TX_SUCCEEDED => "tx_succeeded",
        TX_FAILED => "tx_failed",
        TX_EXPIRED => "tx_expired",
        OPERATOR => "operator",
        TIMER => "timer",
        SECURITY => "security",
        _ => "other",
    }
}

fn output_kind_name(kind: u16) -> &'static str {
    use starlog_engine::outputs::kind::*;
    match kind {
        DECISION => "decision",
        LIFECYCLE => "lifecycle",
        INVALID_TRANSITION => "invalid_transition",
        INTENT => "intent",
        INCIDENT => "incident",
        INPUT_REFUSED => "input_refused",
        CONTROL => "control",
        _ => "other",
    }
}

/// The core thread's measurements. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct CoreMetrics {
    /// Records and payload bytes appended, by record kind.
    pub inputs: BTreeMap<u16, (u64, u64)>,
    pub outputs: BTreeMap<u16, (u64, u64)>,
    pub commit: Latency,
    pub apply: Latency,
    pub tick_to_order: Latency,
    pub signer: BTreeMap<&'static str, Latency>,
    /// Orders refused, by reject code: by the pre-trade checks (100–499) or by the venue (500–599).
    pub rejects: BTreeMap<u16, u64>,
    /// Incidents raised, by (kind code, priority code).
    pub incidents: BTreeMap<(u16, u8), u64>,
    /// The last input applied.
    pub input_seq: u64,
}

impl CoreMetrics {
    pub fn input_appended(&mut self, kind: u16, bytes: usize) {
        let e = self.inputs.entry(kind).or_default();
        e.0 += 1;
        e.1 += bytes as u64;
    }

    pub fn output_appended(&mut self, kind: u16, bytes: usize) {
        let e = self.outputs.entry(kind).or_default();
        e.0 += 1;
        e.1 += bytes as u64;
    }

    pub fn reject(&mut self, code: u16) {
        *self.rejects.entry(code).or_default() += 1;
    }

    pub fn incident(&mut self, kind: u16, priority: u8) {
        *self.incidents.entry((kind, priority)).or_default() += 1;
    }
}

/// A gauge or counter value read from elsewhere at render time.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: &'static str,
    pub help: &'static str,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// Builds one exposition page.
#[derive(Debug, Default)]
pub struct Page {
    text: String,
    /// Families already given their `# HELP`/`# TYPE` lines.
    declared: Vec<&'static str>,
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels(labels: &[(&str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{{{}}}", inner.join(","))
}

impl Page {
    fn declare(&mut self, name: &'static str, help: &str, kind: &str) {
        if !self.declared.contains(&name) {
            self.declared.push(name);
            let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        }
    }

    pub fn sample(&mut self, s: &Sample) {
        self.declare(s.name, s.help, s.kind);
        let _ = writeln!(self.text, "{}{} {}", s.name, labels(&s.labels), s.value);
    }

    pub fn value(&mut self, name: &'static str, help: &'static str, kind: &'static str, value: f64) {
        self.sample(&Sample { name, help, kind, labels: Vec::new(), value });
    }

    /// A latency as a summary in seconds.
    pub fn summary(&mut self, name: &'static str, help: &'static str, extra: &[(&'static str, String)], l: &Latency) {
        self.declare(name, help, "summary");
        for q in [0.5, 0.9, 0.99, 0.999] {
            let mut ls: Vec<(&str, String)> = extra.to_vec();
            ls.push(("quantile", q.to_string()));
            let seconds = if l.count() == 0 { f64::NAN } else { l.quantile_ns(q) as f64 / 1e9 };
            let _ = writeln!(self.text, "{name}{} {seconds}", labels(&ls));
        }
        let _ = writeln!(self.text, "{name}_sum{} {}", labels(extra), l.sum_ns as f64 / 1e9);
        let _ = writeln!(self.text, "{name}_count{} {}", labels(extra), l.count());
    }

    pub fn finish(self) -> String {
        self.text
    }
}

impl CoreMetrics {
    /// Renders the core's part of the page; `orders` counts live orders by status.
    pub fn render(&self, page: &mut Page, orders: &BTreeMap<OrderStatus, u64>) {
        page.value("starlog_input_seq", "Seq of the last input journaled and applied.", "gauge", self.input_seq as f64);
        for (journal, map, name_of) in [
            ("input", &self.inputs, input_kind_name as fn(u16) -> &'static str),
            ("output", &self.outputs, output_kind_name),
        ] {
            for (kind, (records, bytes)) in map {
                let ls = vec![("journal", journal.to_owned()), ("kind", name_of(*kind).to_owned())];
                page.sample(&Sample {
                    name: "starlog_journal_records_total",
                    help: "Records appended to a journal by this process, by record kind.",
                    kind: "counter",
                    labels: ls.clone(),
                    value: *records as f64,
                });
                page.sample(&Sample {
                    name: "starlog_journal_payload_bytes_total",
                    help: "Payload bytes appended to a journal by this process, by record kind.",
                    kind: "counter",
                    labels: ls,
                    value: *bytes as f64,
                });
            }
        }
        let events: u64 = self.inputs.values().map(|(n, _)| n).sum();
        page.value(
            "starlog_events_processed_total",
            "Inputs journaled and applied by the engine.",
            "counter",
            events as f64,
        );
        page.summary(
            "starlog_journal_commit_seconds",
            "Latency of a journal commit (group commit).",
            &[],
            &self.commit,
        );
        page.summary("starlog_engine_apply_seconds", "Latency of the engine applying one input.", &[], &self.apply);
        page.summary(
            "starlog_tick_to_order_seconds",
            "From an input reaching the core to its order's signed envelope leaving for Horizon.",
            &[],
            &self.tick_to_order,
        );
        for (store, l) in &self.signer {
            page.summary(
                "starlog_signer_seconds",
                "Latency of building and signing one transaction, by key store.",
                &[("store", (*store).to_owned())],
                l,
            );
        }
        for (status, n) in orders {
            page.sample(&Sample {
                name: "starlog_orders",
                help: "Orders the engine holds, by status.",
                kind: "gauge",
                labels: vec![("status", status.as_str().to_owned())],
                value: *n as f64,
            });
        }
        for (code, n) in &self.rejects {
            let name = RejectCode::from_code(*code).map_or("unknown", RejectCode::as_str);
            page.sample(&Sample {
                name: "starlog_rejects_total",
                help: "Orders refused by the pre-trade checks (codes 100-499) or by the venue (500-599), by reject code.",
                kind: "counter",
                labels: vec![("code", code.to_string()), ("reason", name.to_owned())],
                value: *n as f64,
            });
        }
        for ((kind, priority), n) in &self.incidents {
            let kind_name = IncidentKind::from_code(*kind).map_or("unknown", IncidentKind::as_str);
            let priority = Priority::from_code(*priority).map_or("unknown", Priority::as_str);
            page.sample(&Sample {
                name: "starlog_incidents_total",
                help: "Incidents raised by the security checks, by kind and priority.",
                kind: "counter",
                labels: vec![("kind", kind_name.to_owned()), ("priority", priority.to_owned())],
                value: *n as f64,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_declares_each_family_once_and_escapes_labels() {
        let mut m = CoreMetrics::default();
        m.input_appended(starlog_engine::events::kind::BOOK, 100);
        m.input_appended(starlog_engine::events::kind::BOOK, 50);
        m.reject(RejectCode::ALL[0].code());
        m.apply.record_ns(1_000);
        m.apply.record_ns(3_000);
        let mut page = Page::default();
        m.render(&mut page, &BTreeMap::from([(OrderStatus::Open, 2)]));
        page.sample(&Sample {
            name: "x_total",
            help: "h",
            kind: "counter",
            labels: vec![("l", "a\"b\\c\nd".into())],
            value: 1.0,
        });
        let text = page.finish();
        assert!(text.contains("starlog_journal_records_total{journal=\"input\",kind=\"book\"} 2\n"), "{text}");
        assert!(text.contains("starlog_journal_payload_bytes_total{journal=\"input\",kind=\"book\"} 150\n"));
        assert!(text.contains("starlog_events_processed_total 2\n"));
        assert!(text.contains("starlog_orders{status=\"open\"} 2\n"));
        assert!(text.contains("starlog_engine_apply_seconds_count 2\n"));
        assert!(text.contains("x_total{l=\"a\\\"b\\\\c\\nd\"} 1\n"));
        assert_eq!(text.matches("# TYPE starlog_journal_records_total counter").count(), 1);
    }
}
