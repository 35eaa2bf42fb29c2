//! A blocking Horizon client: REST reads with retries, transaction submission without them,
//! and event streams that resume from the last paging token. One [`RateBudget`] is shared by
//! every call made through clones of a client.
//!
//! Threads, not async: the live process has a handful of streams and one submission pipeline,
//! each on its own thread feeding the single-threaded core through a channel; ureq (rustls for
//! https) keeps the build lean.
//!
//! Errors are grouped by who is to blame: [`HorizonError::Transport`] (I/O, retried),
//! [`HorizonError::Problem`] (Horizon answered with a problem document), [`HorizonError::Decode`]
//! (Horizon sent something that is not what it documents), and [`HorizonError::Timeout`] for a
//! submission whose fate is unknown (the caller must look the hash up, never rebuild).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::decode::{self, DecodeError, Problem};
use super::sse;

/// How the client behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// e.g. `https://horizon-testnet.stellar.org` (no trailing slash needed).
    pub base_url: String,
    /// Client-side request budget across all calls (0 = none beyond the server's headers).
    pub requests_per_s_max: u32,
    /// Attempts of an idempotent read before giving up.
    pub attempts_max: u32,
    /// Backoff between attempts: doubled from the minimum up to the maximum, with full jitter.
    pub backoff_ms_min: u64,
    pub backoff_ms_max: u64,
    /// A stream that delivers nothing for this long is reconnected (Horizon sends nothing on a
    /// quiet stream, so this is also the longest silence tolerated).
    pub stall_ms: u64,
    /// Connect and response timeout of a request.
    pub timeout_ms: u64,
}

impl ClientConfig {
    pub fn new(base_url: &str) -> ClientConfig {
        ClientConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            requests_per_s_max: 20,
            attempts_max: 5,
            backoff_ms_min: 100,
            backoff_ms_max: 10_000,
            stall_ms: 60_000,
            timeout_ms: 30_000,
        }
    }
}

/// See the module doc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HorizonError {
    /// Could not talk to Horizon (connection, timeout, 5xx after retries).
    Transport(String),
    /// Horizon answered with a problem document.
    Problem(Problem),
    /// Horizon's answer is not what it documents.
    Decode(DecodeError),
    /// A submission timed out (504, or the connection dropped after sending): the transaction
    /// may be in a ledger. Look the hash up; do not build another one.
    Timeout,
}

impl std::fmt::Display for HorizonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HorizonError::Transport(why) => write!(f, "Horizon unreachable: {why}"),
            HorizonError::Problem(p) => write!(f, "Horizon answered {} {}", p.status, p.kind),
            HorizonError::Decode(e) => e.fmt(f),
            HorizonError::Timeout => f.write_str("transaction submission timed out; its fate is unknown"),
        }
    }
}

impl std::error::Error for HorizonError {}

impl From<DecodeError> for HorizonError {
    fn from(e: DecodeError) -> HorizonError {
        HorizonError::Decode(e)
    }
}

/// The request budget shared by every call: a client-side token bucket, plus whatever the
/// server said (`X-Ratelimit-Remaining: 0` until `X-Ratelimit-Reset`, `Retry-After` of a 429).
#[derive(Debug)]
pub struct RateBudget {
    state: Mutex<BudgetState>,
    per_s: u32,
}

#[derive(Debug)]
struct BudgetState {
    tokens: f64,
    refilled: Instant,
    blocked_until: Option<Instant>,
    waits: u64,
}

impl RateBudget {
    fn new(per_s: u32) -> RateBudget {
        let state = BudgetState { tokens: f64::from(per_s), refilled: Instant::now(), blocked_until: None, waits: 0 };
        RateBudget { state: Mutex::new(state), per_s }
    }

    /// Waits until a request may go out, then takes one token.
    fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().expect("budget lock");
                let now = Instant::now();
                if let Some(until) = s.blocked_until.filter(|until| *until > now) {
                    until - now
                } else if self.per_s == 0 {
                    return;
                } else {
                    let per_s = f64::from(self.per_s);
                    s.tokens = (s.tokens + now.duration_since(s.refilled).as_secs_f64() * per_s).min(per_s);
                    s.refilled = now;
                    if s.tokens >= 1.0 {
                        s.tokens -= 1.0;
                        return;
                    }
                    Duration::from_secs_f64((1.0 - s.tokens) / per_s)
                }
            };
            self.state.lock().expect("budget lock").waits += 1;
            std::thread::sleep(wait);
        }
    }

    /// No request before `after` from now.
    fn block_for(&self, after: Duration) {
        let mut s = self.state.lock().expect("budget lock");
        let until = Instant::now() + after;
        s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// Times a caller had to wait for the budget.
    pub fn waits(&self) -> u64 {
        self.state.lock().expect("budget lock").waits
    }
}

/// A Horizon client; clones share the connection pool, the [`RateBudget`] and the
/// [`ClientStats`].
#[derive(Clone, Debug)]
pub struct HorizonClient {
    config: ClientConfig,
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
    budget: Arc<RateBudget>,
    stats: Arc<ClientStats>,
}

/// What every clone of a client did, for the metrics endpoint (relaxed atomics: counts, not
/// synchronisation).
#[derive(Debug)]
pub struct ClientStats {
    /// Answers received (any status).
    pub requests: AtomicU64,
    /// Transport failures and answers with a status of 400 or more.
    pub errors: AtomicU64,
    /// 429 answers.
    pub rate_limited: AtomicU64,
    /// The last `X-RateLimit-Remaining` seen (-1: none yet).
    pub rate_limit_remaining: AtomicI64,
    /// Streams reconnected after a goodbye, a drop or a stall.
    pub stream_reconnects: AtomicU64,
}

impl Default for ClientStats {
    fn default() -> ClientStats {
        ClientStats {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            rate_limit_remaining: AtomicI64::new(-1),
            stream_reconnects: AtomicU64::new(0),
        }
    }
}

/// A successful read: the body and the `Latest-Ledger` header (0 when absent).
#[derive(Clone, Debug)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub latest_ledger: u32,
}

/// What a submission came to, when Horizon gave an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// In a ledger, successful.
    Applied(decode::Transaction),
    /// `transaction_failed`: rejected, or applied with a failed operation (the result XDR says
    /// which; `txFAILED` consumed the sequence number and the fee).
    Failed(Problem),
}

/// Full jitter: uniform in `0..=cap`, from the OS random source (backoff is outside the
/// deterministic core).
fn jitter(cap_ms: u64) -> Duration {
    let mut bytes = [0u8; 8];
    let random = getrandom::fill(&mut bytes).map_or(cap_ms / 2, |()| u64::from_le_bytes(bytes));
    Duration::from_millis(random % (cap_ms + 1))
}

fn header_u64(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

impl HorizonClient {
    pub fn new(config: ClientConfig) -> HorizonClient {
        let timeout = Some(Duration::from_millis(config.timeout_ms));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(timeout)
            .timeout_global(timeout)
            .user_agent("starlog")
            .build()
            .into();
        let stream_agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(timeout)
            .timeout_recv_response(timeout)
            .timeout_per_read(Some(Duration::from_millis(config.stall_ms)))
            .user_agent("starlog")
            .build()
            .into();
        let budget = Arc::new(RateBudget::new(config.requests_per_s_max));
        HorizonClient { config, agent, stream_agent, budget, stats: Arc::default() }
    }

    pub fn budget(&self) -> &RateBudget {
        &self.budget
    }

    /// Counts shared by every clone of this client.
    pub fn stats(&self) -> &Arc<ClientStats> {
        &self.stats
    }

    fn transport_error(&self) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Learns from the rate-limit headers of any answer (and counts it).
    fn observe(&self, response: &ureq::http::Response<ureq::Body>) {
        let stats = &self.stats;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if response.status().as_u16() >= 400 {
            stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(remaining) = header_u64(response, "x-ratelimit-remaining") {
            stats.rate_limit_remaining.store(i64::try_from(remaining).unwrap_or(i64::MAX), Ordering::Relaxed);
        }
        if response.status().as_u16() == 429 {
            stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let retry_s = header_u64(response, "retry-after").unwrap_or(1);
            self.budget.block_for(Duration::from_secs(retry_s.max(1)));
        } else if header_u64(response, "x-ratelimit-remaining") == Some(0) {
            let reset_s = header_u64(response, "x-ratelimit-reset").unwrap_or(1);
            self.budget.block_for(Duration::from_secs(reset_s.max(1)));
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.config.backoff_ms_min.saturating_mul(1 << attempt.min(16)).min(self.config.backoff_ms_max);
        jitter(cap)
    }

    /// `GET path` (with query), retried on transport errors, 429 and 5xx with backoff. A
    /// problem answer (4xx) is returned at once.
    pub fn get(&self, path: &str) -> Result<Body, HorizonError> {
        let url = format!("{}{path}", self.config.base_url);
        let mut last_error = String::new();
        for attempt in 0..self.config.attempts_max.max(1) {
            if attempt > 0 {
                std::thread::sleep(self.backoff(attempt));
            }
            self.budget.acquire();
            let mut response = match self.agent.get(&url).header("accept", "application/hal+json").call() {
                Ok(response) => response,
                Err(e) => {
                    self.transport_error();
                    last_error = e.to_string();
                    continue;
                }
            };
            self.observe(&response);
            let status = response.status().as_u16();
            let latest_ledger = header_u64(&response, "latest-ledger").and_then(|l| u32::try_from(l).ok()).unwrap_or(0);
            let bytes = match response.body_mut().with_config().limit(16 << 20).read_to_vec() {
                Ok(bytes) => bytes,
                Err(e) => {
                    last_error = e.to_string();
                    continue;
                }
            };
            match status {
                200..=299 => return Ok(Body { bytes, latest_ledger }),
                429 | 500..=599 => last_error = format!("HTTP {status}"),
                _ => return Err(HorizonError::Problem(decode::problem(&bytes, status)?)),
            }
        }
        Err(HorizonError::Transport(format!("GET {path}: {last_error} ({} attempts)", self.config.attempts_max)))
    }

    /// `POST /transactions`, once: resubmitting is the caller's decision (same envelope only).
    pub fn submit(&self, envelope_base64: &str) -> Result<Submitted, HorizonError> {
        self.budget.acquire();
        let url = format!("{}/transactions", self.config.base_url);
        let mut response = match self.agent.post(&url).send_form([("tx", envelope_base64)]) {
            Ok(response) => response,
            // Whether the request reached Horizon is unknown: treat as a timeout.
            Err(ureq::Error::Timeout(_)) | Err(ureq::Error::Io(_)) => {
                self.transport_error();
                return Err(HorizonError::Timeout);
            }
            Err(e) => {
                self.transport_error();
                return Err(HorizonError::Transport(e.to_string()));
            }
        };
        self.observe(&response);
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().map_err(|_| HorizonError::Timeout)?;
        match status {
            200..=299 => Ok(Submitted::Applied(decode::transaction(&bytes)?)),
            504 => Err(HorizonError::Timeout),
            _ => {
                let problem = decode::problem(&bytes, status)?;
                if problem.kind == "transaction_failed" {
                    Ok(Submitted::Failed(problem))
                } else if status >= 500 {
                    // A 5xx other than 504 was answered before core saw the envelope.
                    Err(HorizonError::Transport(format!("HTTP {status} {}", problem.kind)))
                } else {
                    Err(HorizonError::Problem(problem))
                }
            }
        }
    }

    /// `GET /transactions/{hash}`: `None` when Horizon does not know it (yet).
    pub fn transaction(&self, hash: &[u8; 32]) -> Result<Option<decode::Transaction>, HorizonError> {
        match self.get(&format!("/transactions/{}", crate::stellar::hex(hash))) {
            Ok(body) => Ok(Some(decode::transaction(&body.bytes)?)),
            Err(HorizonError::Problem(p)) if p.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A stream of `path` (e.g. `/trades?base_asset_type=native&…`) from `cursor`.
    pub fn stream(&self, path: &str, cursor: &str) -> EventStream {
        EventStream {
            client: self.clone(),
            path: path.to_owned(),
            last_id: cursor.to_owned(),
            reader: None,
            parser: sse::Parser::new(),
            pending: std::collections::VecDeque::new(),
            failures: 0,
            reconnects: 0,
            connected_once: false,
        }
    }
}

/// A resumable event stream: [`EventStream::next_event`] returns data events in order, across
/// reconnects (after Horizon's goodbye, a dropped connection or a stall), resuming with
/// `Last-Event-ID` so that no record is missed or repeated.
pub struct EventStream {
    client: HorizonClient,
    path: String,
    last_id: String,
    reader: Option<Box<dyn std::io::Read + Send>>,
    parser: sse::Parser,
    pending: std::collections::VecDeque<sse::Event>,
    failures: u32,
    reconnects: u64,
    connected_once: bool,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").field("path", &self.path).field("last_id", &self.last_id).finish_non_exhaustive()
    }
}

impl EventStream {
    /// Connections made after the first.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// The paging token of the last record delivered (what a restart resumes from).
    pub fn last_id(&self) -> &str {
        &self.last_id
    }

    /// The next record (or object) event; blocks. Gives up only after `attempts_max`
    /// consecutive failed connections (a transport error: calling again starts a new round of
    /// attempts, resuming from the last id), or on a problem answer (4xx) or a malformed stream.
    pub fn next_event(&mut self) -> Result<sse::Event, HorizonError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if event.event == "open" || event.event == "close" {
                    continue;
                }
                if !event.id.is_empty() {
                    event.id.clone_into(&mut self.last_id);
                }
                return Ok(event);
            }
            let Some(reader) = self.reader.as_mut() else {
                self.connect()?;
                continue;
            };
            let mut buffer = [0u8; 16 * 1024];
            match reader.read(&mut buffer) {
                Ok(0) | Err(_) => {
                    // Goodbye, a dropped connection or a stall: resume from the last id.
                    self.reader = None;
                    self.parser = sse::Parser::new();
                }
                Ok(n) => {
                    let mut events = Vec::new();
                    self.parser.feed(&buffer[..n], &mut events).map_err(|e| {
                        HorizonError::Decode(DecodeError {
                            resource: "event stream",
                            field: self.path.clone(),
                            reason: e.to_string(),
                        })
                    })?;
                    self.failures = 0;
                    self.pending.extend(events);
                }
            }
        }
    }

    fn connect(&mut self) -> Result<(), HorizonError> {
        let client = &self.client;
        loop {
            if self.failures >= client.config.attempts_max.max(1) {
                let failures = std::mem::take(&mut self.failures);
                return Err(HorizonError::Transport(format!("stream {}: {failures} failed connections", self.path)));
            }
            if self.failures > 0 {
                std::thread::sleep(client.backoff(self.failures));
            }
            client.budget.acquire();
            let url = format!("{}{}", client.config.base_url, self.path);
            let mut request = client.stream_agent.get(&url).header("accept", "text/event-stream");
            if !self.last_id.is_empty() {
                request = request.header("last-event-id", &self.last_id);
            }
            let response = match request.call() {
                Ok(response) => response,
                Err(_) => {
                    client.transport_error();
                    self.failures += 1;
                    continue;
                }
            };
            client.observe(&response);
            let status = response.status().as_u16();
            if status == 200 {
                if self.connected_once {
                    self.reconnects += 1;
                    client.stats.stream_reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.connected_once = true;
                self.reader = Some(Box::new(response.into_body().into_reader()));
                return Ok(());
            }
            if status == 429 || status >= 500 {
                self.failures += 1;
                continue;
            }
            let mut response = response;
            let bytes = response.body_mut().read_to_vec().unwrap_or_default();
            return Err(HorizonError::Problem(decode::problem(&bytes, status)?));
        }
    }
}
