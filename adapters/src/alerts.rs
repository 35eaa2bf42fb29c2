//! Incident alert delivery: every incident the engine raises is logged at a level that follows
//! its priority, and those at or above `min_priority` are POSTed as JSON to a webhook by one
//! sender thread, in order, with bounded retries. The core never waits for it: [`Alerter::raise`]
//! only logs and tries a bounded queue; a full queue drops the alert (counted and logged; the
//! incident itself is always in the output journal).
//!
//! Delivery of one alert: HTTP POST with `Content-Type: application/json` and a per-attempt
//! timeout of `timeout_ms`. A 2xx is delivered. Connection errors, timeouts, 5xx and 429 are
//! retried after an exponential backoff (`backoff_initial_ms`, doubling, capped at
//! `backoff_max_ms`, with jitter) until `attempts_max` attempts; anything else (another 4xx, a
//! redirect, a malformed URL) fails at once. Response bodies are never read into logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use serde::Serialize;
use starlog_engine::incident::{IncidentKind, Priority, Response};
use starlog_engine::outputs::IncidentOut;

/// Default [`AlertConfig::queue_max`].
pub const QUEUE_MAX_DEFAULT: usize = 1024;
/// Default [`AlertConfig::attempts_max`].
pub const ATTEMPTS_MAX_DEFAULT: u32 = 6;
/// Default [`AlertConfig::backoff_initial_ms`].
pub const BACKOFF_INITIAL_MS_DEFAULT: u64 = 200;
/// Default [`AlertConfig::backoff_max_ms`].
pub const BACKOFF_MAX_MS_DEFAULT: u64 = 10_000;
/// Default [`AlertConfig::timeout_ms`].
pub const TIMEOUT_MS_DEFAULT: u64 = 3000;

/// Where and how alerts are delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertConfig {
    /// The webhook alerts are POSTed to; `None`: alerts are only logged.
    pub webhook_url: Option<String>,
    /// The least severe priority that is delivered (P2: P0, P1 and P2 are, P3 is not).
    pub min_priority: Priority,
    /// Alerts waiting for the sender at most; more are dropped.
    pub queue_max: usize,
    /// Delivery attempts per alert at most (at least one is made).
    pub attempts_max: u32,
    /// Backoff before the first retry; doubles after each.
    pub backoff_initial_ms: u64,
    /// Longest backoff between two attempts.
    pub backoff_max_ms: u64,
    /// Time limit of one attempt (connect, send, answer).
    pub timeout_ms: u64,
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            webhook_url: None,
            min_priority: Priority::P2,
            queue_max: QUEUE_MAX_DEFAULT,
            attempts_max: ATTEMPTS_MAX_DEFAULT,
            backoff_initial_ms: BACKOFF_INITIAL_MS_DEFAULT,
            backoff_max_ms: BACKOFF_MAX_MS_DEFAULT,
            timeout_ms: TIMEOUT_MS_DEFAULT,
        }
    }
}

/// One incident to alert on, with what a person needs to find it in the journals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// The input journal seq of the input that raised the incident.
    pub seq: u64,
    /// The incident id.
    pub incident: u64,
    /// The [`IncidentKind`] code.
    pub kind: u16,
    /// The [`Priority`] code.
    pub priority: u8,
    /// The [`Response`] code.
    pub response: u8,
    /// When the alert was raised (Unix nanoseconds).
    pub at_ns: i64,
    /// The session directory, for the audit hint.
    pub journal_dir: String,
}

impl Alert {
    /// The alert for the incident `out`, recorded in the output journal for input `seq`.
    pub fn from_output(seq: u64, out: &IncidentOut, at_ns: i64, journal_dir: &str) -> Alert {
        Alert {
            seq,
            incident: out.id,
            kind: out.kind,
            priority: out.priority,
            response: out.response,
            at_ns,
            journal_dir: journal_dir.to_owned(),
        }
    }

    /// The kind's name (`UnexpectedTransaction`), or `unknown` for a code this build does not know.
    pub fn kind_name(&self) -> String {
        IncidentKind::from_code(self.kind).map_or_else(|| "unknown".to_owned(), |kind| format!("{kind:?}"))
    }

    /// `P0`..`P3`, or `unknown`.
    pub fn priority_name(&self) -> &'static str {
        Priority::from_code(self.priority).map_or("unknown", Priority::as_str)
    }

    /// `lockdown`, `cancel_only`, `alert`, `record`, or `unknown`.
    pub fn response_name(&self) -> &'static str {
        match self.response {
            0 => Response::Lockdown.as_str(),
            1 => Response::CancelOnly { until_ns: 0 }.as_str(),
            2 => Response::Alert.as_str(),
            3 => Response::Record.as_str(),
            _ => "unknown",
        }
    }

    /// The command that shows the journals from this incident on.
    pub fn audit_hint(&self) -> String {
        format!("starlog audit show {} --from {}", self.journal_dir, self.seq)
    }

    /// The webhook body: one JSON object.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            seq: u64,
            incident: u64,
            kind: &'a str,
            kind_code: u16,
            priority: &'a str,
            response: &'a str,
            at_ns: i64,
            audit: &'a str,
        }
        let (kind, audit) = (self.kind_name(), self.audit_hint());
        let body = Body {
            seq: self.seq,
            incident: self.incident,
            kind: &kind,
            kind_code: self.kind,
            priority: self.priority_name(),
            response: self.response_name(),
            at_ns: self.at_ns,
            audit: &audit,
        };
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// Unknown priority codes are treated as most severe: an alert nobody understands should
    /// still reach a person.
    fn is_at_least(&self, min_priority: Priority) -> bool {
        Priority::from_code(self.priority).is_none_or(|p| p <= min_priority)
    }
}

/// Counts since [`Alerter::start`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertStats {
    /// Alerts raised (every priority).
    pub raised: u64,
    /// Alerts the webhook accepted (2xx).
    pub delivered: u64,
    /// Attempts that were retried.
    pub retries: u64,
    /// Alerts given up on: a final answer, attempts exhausted, or abandoned at shutdown.
    pub failed: u64,
    /// Alerts not queued: the queue was full (or the sender had stopped).
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    raised: AtomicU64,
    delivered: AtomicU64,
    retries: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn snapshot(&self) -> AlertStats {
        AlertStats {
            raised: self.raised.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The sender thread's handles, present when a webhook is configured.
#[derive(Debug)]
struct Delivery {
    queue: Sender<Alert>,
    /// Dropping it tells the sender to stop (its backoff waits end at once).
    stop: Sender<()>,
    /// Disconnected once the sender thread has ended.
    done: Receiver<()>,
    thread: JoinHandle<()>,
}

/// Logs incidents and hands the severe ones to the webhook sender. See the module docs.
/// Dropping it without [`Alerter::shutdown`] abandons what is still queued.
#[derive(Debug)]
pub struct Alerter {
    min_priority: Priority,
    queue_max: usize,
    counters: Arc<Counters>,
    delivery: Option<Delivery>,
}

/// Logs one incident at `$level` with its structured fields.
macro_rules! incident_event {
    ($level:ident, $alert:expr) => {
        tracing::$level!(
            seq = $alert.seq,
            incident = $alert.incident,
            kind = %$alert.kind_name(),
            kind_code = $alert.kind,
            priority = $alert.priority_name(),
            response = $alert.response_name(),
            audit = %$alert.audit_hint(),
            "incident raised"
        )
    };
}

impl Alerter {
    /// An alerter for `config`; spawns the sender thread if a webhook is set (if the thread
    /// cannot be spawned, alerts are only logged and the error is logged once).
    pub fn start(config: AlertConfig) -> Alerter {
        let counters = Arc::new(Counters::default());
        let queue_max = config.queue_max.max(1);
        let delivery = config.webhook_url.clone().and_then(|url| {
            let (queue, queued) = crossbeam_channel::bounded(queue_max);
            let (stop, stopped) = crossbeam_channel::bounded(0);
            let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
            let worker = Worker { url, config: config.clone(), counters: Arc::clone(&counters), stopped };
            let spawned = std::thread::Builder::new().name("starlog-alerts".into()).spawn(move || {
                let _done = done_tx;
                worker.run(&queued);
            });
            match spawned {
                Ok(thread) => Some(Delivery { queue, stop, done, thread }),
                Err(error) => {
                    tracing::error!(%error, "cannot start the alert sender; alerts are only logged");
                    None
                }
            }
        });
        Alerter { min_priority: config.min_priority, queue_max, counters, delivery }
    }

    /// Logs `alert` and, if it is severe enough and a webhook is set, queues it for delivery.
    /// Never blocks: a full queue drops the alert.
    pub fn raise(&self, alert: &Alert) {
        Counters::add(&self.counters.raised, 1);
        match Priority::from_code(alert.priority) {
            Some(Priority::P2) => incident_event!(warn, alert),
            Some(Priority::P3) => incident_event!(info, alert),
            Some(Priority::P0 | Priority::P1) | None => incident_event!(error, alert),
        }
        let Some(delivery) = &self.delivery else { return };
        if !alert.is_at_least(self.min_priority) {
            return;
        }
        let why = match delivery.queue.try_send(alert.clone()) {
            Ok(()) => return,
            Err(TrySendError::Full(_)) => "the alert queue is full",
            Err(TrySendError::Disconnected(_)) => "the alert sender has stopped",
        };
        Counters::add(&self.counters.dropped, 1);
        tracing::error!(
            seq = alert.seq,
            incident = alert.incident,
            queue_max = self.queue_max,
            "alert not delivered: {why} (the incident is in the output journal)"
        );
    }

    /// The counts so far.
    pub fn stats(&self) -> AlertStats {
        self.counters.snapshot()
    }

    /// Closes the queue and lets the sender deliver what is queued for at most `wait`; then
    /// tells it to stop and returns the counts. A sender stuck in an attempt is left to end on
    /// its own (after at most `timeout_ms`), abandoning what is left.
    pub fn shutdown(self, wait: Duration) -> AlertStats {
        if let Some(Delivery { queue, stop, done, thread }) = self.delivery {
            drop(queue);
            match done.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {
                    drop(stop);
                    tracing::warn!(
                        wait_ms = wait.as_millis() as u64,
                        "alert sender still busy at shutdown; not waiting"
                    );
                }
                Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                    drop(stop);
                    if thread.join().is_err() {
                        tracing::error!("the alert sender panicked");
                    }
                }
            }
        }
        self.counters.snapshot()
    }
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// Worth another attempt (connection error, timeout, 5xx, 429).
    Retry(String),
    /// Not worth another attempt.
    Final(String),
}

/// The sender thread's state.
struct Worker {
    url: String,
    config: AlertConfig,
    counters: Arc<Counters>,
    stopped: Receiver<()>,
}

impl Worker {
    fn run(&self, queued: &Receiver<Alert>) {
        let timeout = Some(Duration::from_millis(self.config.timeout_ms));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(timeout)
            .user_agent("starlog")
            .build()
            .into();
        for alert in queued.iter() {
            if self.is_stopped() {
                let left = 1 + queued.try_iter().count() as u64;
                Counters::add(&self.counters.failed, left);
                tracing::error!(
                    alerts = left,
                    "alerts abandoned at shutdown (the incidents are in the output journal)"
                );
                return;
            }
            self.deliver(&agent, &alert);
        }
    }

    fn is_stopped(&self) -> bool {
        matches!(self.stopped.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// One alert, with retries; counts the outcome.
    fn deliver(&self, agent: &ureq::Agent, alert: &Alert) {
        let body = alert.to_json();
        let attempts_max = self.config.attempts_max.max(1);
        let mut backoff_ms = self.config.backoff_initial_ms.min(self.config.backoff_max_ms);
        for attempt in 1..=attempts_max {
            let why = match self.attempt(agent, &body) {
                Attempt::Delivered => {
                    Counters::add(&self.counters.delivered, 1);
                    tracing::debug!(seq = alert.seq, incident = alert.incident, attempt, "alert delivered");
                    return;
                }
                Attempt::Final(why) => {
                    Counters::add(&self.counters.failed, 1);
                    tracing::error!(seq = alert.seq, incident = alert.incident, url = %self.url, "alert not delivered: {why}");
                    return;
                }
                Attempt::Retry(why) => why,
            };
            if attempt == attempts_max {
                Counters::add(&self.counters.failed, 1);
                tracing::error!(
                    seq = alert.seq,
                    incident = alert.incident,
                    url = %self.url,
                    "alert not delivered after {attempts_max} attempts: {why}"
                );
                return;
            }
            Counters::add(&self.counters.retries, 1);
            let delay_ms = jittered(backoff_ms);
            tracing::warn!(seq = alert.seq, attempt, delay_ms, url = %self.url, "alert delivery failed, retrying: {why}");
            if let Err(RecvTimeoutError::Disconnected) = self.stopped.recv_timeout(Duration::from_millis(delay_ms)) {
                Counters::add(&self.counters.failed, 1);
                tracing::error!(seq = alert.seq, incident = alert.incident, "alert abandoned at shutdown: {why}");
                return;
            }
            backoff_ms = backoff_ms.saturating_mul(2).min(self.config.backoff_max_ms);
        }
    }

    fn attempt(&self, agent: &ureq::Agent, body: &str) -> Attempt {
        let sent = agent.post(&self.url).header("Content-Type", "application/json").send(body);
        match sent {
            Ok(response) => match response.status().as_u16() {
                200..=299 => Attempt::Delivered,
                status @ (429 | 500..=599) => Attempt::Retry(format!("HTTP {status}")),
                status => Attempt::Final(format!("HTTP {status}")),
            },
            Err(
                e @ (ureq::Error::Timeout(_)
                | ureq::Error::Io(_)
                | ureq::Error::HostNotFound
                | ureq::Error::ConnectionFailed
                | ureq::Error::Protocol(_)),
            ) => Attempt::Retry(one_line(&e)),
            Err(e) => Attempt::Final(one_line(&e)),
        }
    }
}

fn one_line(e: &ureq::Error) -> String {
    e.to_string().replace(['\r', '\n'], " ")
}

/// `delay_ms` with jitter: uniform in `[delay_ms / 2, delay_ms]`, so that many engines alerting
/// the same webhook do not retry in step.
fn jittered(delay_ms: u64) -> u64 {
    let half = delay_ms / 2;
    let random = getrandom::u64().unwrap_or(0);
    half + random % (delay_ms - half + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: u16, priority: u8, response: u8) -> Alert {
        let out = IncidentOut { id: 7, kind, priority, response, until_ns: 0 };
        Alert::from_output(42, &out, 1_700_000_000_000_000_000, "/var/starlog/session")
    }

    #[test]
    fn to_json_names_the_kind_priority_response_and_audit_command() {
        let json: serde_json::Value = serde_json::from_str(&alert(200, 0, 0).to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "seq": 42,
                "incident": 7,
                "kind": "UnexpectedTransaction",
                "kind_code": 200,
                "priority": "P0",
                "response": "lockdown",
                "at_ns": 1_700_000_000_000_000_000_i64,
                "audit": "starlog audit show /var/starlog/session --from 42",
            })
        );
        let json: serde_json::Value = serde_json::from_str(&alert(403, 1, 1).to_json()).unwrap();
        assert_eq!(
            (json["kind"].as_str(), json["response"].as_str()),
            (Some("SustainedThrottleStorm"), Some("cancel_only"))
        );
    }

    #[test]
    fn to_json_escapes_the_directory_and_names_unknown_codes() {
        let mut a = alert(999, 9, 9);
        a.journal_dir = "C:\\dir \"x\"".to_owned();
        let json: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(json["audit"], "starlog audit show C:\\dir \"x\" --from 42");
        assert_eq!((json["kind"].as_str(), json["kind_code"].as_u64()), (Some("unknown"), Some(999)));
        assert_eq!((json["priority"].as_str(), json["response"].as_str()), (Some("unknown"), Some("unknown")));
    }

    #[test]
    fn min_priority_keeps_the_more_severe_and_unknown_priorities() {
        assert!(alert(200, 0, 0).is_at_least(Priority::P2));
        assert!(alert(101, 2, 2).is_at_least(Priority::P2));
        assert!(!alert(203, 3, 3).is_at_least(Priority::P2));
        assert!(!alert(101, 2, 2).is_at_least(Priority::P1));
        assert!(alert(1, 200, 0).is_at_least(Priority::P0));
    }

    #[test]
    fn jitter_stays_within_half_and_whole_delay() {
        for delay in [0, 1, 2, 3, 200, 10_000] {
            for _ in 0..100 {
                let d = jittered(delay);
                assert!(delay / 2 <= d && d <= delay, "{d} for {delay}");
            }
        }
    }

    #[test]
    fn without_a_webhook_alerts_are_only_counted() {
        let alerter = Alerter::start(AlertConfig::default());
        alerter.raise(&alert(200, 0, 0));
        alerter.raise(&alert(203, 3, 3));
        assert_eq!(alerter.shutdown(Duration::ZERO), AlertStats { raised: 2, ..AlertStats::default() });
    }
}
