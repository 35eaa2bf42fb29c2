//! The simulated venue's HTTP front: Horizon's REST API and its SSE streams on loopback, over
//! a [`Venue`] behind one lock (axum on a tokio runtime of its own thread).
//!
//! What is served (Horizon's paths, parameters, JSON shapes, headers and problem documents):
//! `GET /`, `/fee_stats`, `/friendbot?addr=`, `/accounts/{id}` (+ `/offers`, `/trades`,
//! `/transactions`, `/effects`), `/offers`, `/offers/{id}`, `/order_book`, `/trades` (by pair,
//! `offer_id`, `account_id`, `trade_type`), `/transactions`, `/transactions/{hash}`, `/effects`, `POST /transactions`, and the simulator's
//! own `POST /_sim/close` (closes a ledger by hand, like stellar-core's `manualclose`).
//!
//! Collections are pages (`cursor`, `order`, `limit` ≤ 200, `_links.next/prev`; an empty page's
//! links keep the cursor; `cursor=now` is the end of the last closed ledger). With
//! `Accept: text/event-stream` the account, order book and every collection but offers stream
//! as Horizon does: the `hello` preamble; page streams send `id: <paging token>` frames after
//! `cursor` (or `Last-Event-ID`, which wins) and end with `byebye` after `limit` records
//! (default 10); object streams (account, order book) send the object when it changes, without
//! `id:`, and end after 10 frames. Clients reconnect from the last id, as the SDKs do.
//! `/transactions` leaves failed transactions out unless `include_failed=true`; an account's
//! transactions are those it participates in (source, operation source, destination).
//!
//! Every response carries `X-Ratelimit-Limit/Remaining/Reset` (a fixed hourly window per client
//! address, Horizon's default 3600/hour unless configured; none when limiting is off) and
//! `Latest-Ledger`. Bad input gets
//! a problem document with Horizon's type, title and status: unknown routes 404 `not_found`,
//! bad parameters 400 `bad_request` with `extras.invalid_field`, undecodable envelopes 400
//! `transaction_malformed`, failed transactions 400 `transaction_failed`, bodies over the limit
//! 413 `request_entity_too_large`. Injected faults: [`crate::faults`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::serve::ListenerExt as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use starlog_engine::{AccountId, Asset};
use tokio::sync::{mpsc, oneshot, watch};

use crate::faults::{FaultConfig, Faults, RequestFaults};
use crate::horizon;
use crate::ledger::{Disposition, Submission, TradeRecord};
use crate::sdex::Book;
use crate::venue::{FriendbotError, Venue, VenueConfig};

/// Horizon's default per-client request budget.
pub const RATE_LIMIT_PER_HOUR_DEFAULT: u32 = 3600;
/// Largest request body accepted (Horizon's submission limit is in this range; an envelope of
/// 100 operations is ~15 KiB of base64).
pub const BODY_BYTES_MAX_DEFAULT: usize = 100 * 1024;
/// Frames an object stream (account, order book) sends before its goodbye, as Horizon's
/// `defaultObjectStreamLimit`; clients reconnect.
const OBJECT_STREAM_LIMIT: usize = 10;
/// Page size when `limit` is absent (also the events a page stream sends before its goodbye),
/// and its maximum.
const PAGE_LIMIT_DEFAULT: usize = 10;
const PAGE_LIMIT_MAX: usize = 200;
/// Order-book depth when `limit` is absent (Horizon's default is 20).
const BOOK_LIMIT_DEFAULT: usize = 20;
/// An idle stream gets a comment line this often, so proxies and clients see it alive.
const HEARTBEAT_MS: u64 = 5000;
/// Records a stream renders per turn of the venue lock (a long backlog is sent in batches, so
/// submissions are not held up behind one stream).
const STREAM_BATCH_RECORDS: usize = 256;
/// Frames buffered per stream before the producer waits for the client.
const STREAM_BUFFER_FRAMES: usize = 64;
const RATE_WINDOW_S: u64 = 3600;
const HORIZON_VERSION: &str = "starlog-sim";
const PROTOCOL_VERSION: u32 = 23;

const SSE_PREAMBLE: &str = "retry: 1000\nevent: open\ndata: \"hello\"\n\n";
const SSE_GOODBYE: &str = "retry: 10\nevent: close\ndata: \"byebye\"\n\n";
const SSE_HEARTBEAT: &str = ":\n\n";

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub venue: VenueConfig,
    /// Where to listen; loopback unless the operator says otherwise.
    pub listen: SocketAddr,
    /// Requests per client address per hour; 0 = unlimited (headers still sent).
    pub rate_limit_per_hour: u32,
    pub body_bytes_max: usize,
    pub faults: FaultConfig,
}

impl ServerConfig {
    /// Loopback on an ephemeral port, Horizon's defaults, no faults.
    pub fn new(venue: VenueConfig) -> ServerConfig {
        ServerConfig {
            venue,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            rate_limit_per_hour: RATE_LIMIT_PER_HOUR_DEFAULT,
            body_bytes_max: BODY_BYTES_MAX_DEFAULT,
            faults: FaultConfig::default(),
        }
    }
}

/// The Horizon API without a socket: a venue and the request handler, for in-process callers
/// and fuzzing. [`Server`] serves one over TCP. (Streams need a tokio runtime to run on;
/// ledgers close only by [`Service::with_venue`] here.)
#[derive(Clone, Debug)]
pub struct Service {
    shared: Arc<Shared>,
}

impl Service {
    pub fn new(config: &ServerConfig) -> Result<Service, crate::market::MarketError> {
        Ok(Service::from_venue(config, Venue::new(config.venue.clone())?))
    }

    /// Serves an existing venue (`config.venue` is not used).
    pub fn from_venue(config: &ServerConfig, venue: Venue) -> Service {
        let book = venue.ledger().book().clone();
        let (changes, _) = watch::channel(venue.version());
        let shared = Arc::new(Shared {
            venue: Mutex::new(venue),
            changes,
            previous_book: Mutex::new(book),
            limiter: Mutex::new(HashMap::new()),
            faults: Mutex::new(Faults::new(config.faults.clone())),
            rate_limit_per_hour: config.rate_limit_per_hour,
            body_bytes_max: config.body_bytes_max,
            started: Instant::now(),
        });
        Service { shared }
    }

    /// Answers one request from `client` as the server would.
    pub async fn call(&self, client: IpAddr, request: Request) -> Response {
        handle(Arc::clone(&self.shared), client, request).await
    }

    /// Runs `f` on the venue; streams see what it changed.
    pub fn with_venue<R>(&self, f: impl FnOnce(&mut Venue) -> R) -> R {
        self.shared.with_venue(f)
    }
}

/// A running server. Dropping it stops it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    venue: Mutex<Venue>,
    /// The venue's version after each change; streams wait on it.
    changes: watch::Sender<u64>,
    /// The book as of the previous ledger close (for the stale-book fault).
    previous_book: Mutex<Book>,
    limiter: Mutex<HashMap<IpAddr, Window>>,
    faults: Mutex<Faults>,
    rate_limit_per_hour: u32,
    body_bytes_max: usize,
    started: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    used: u32,
}

impl Shared {
    fn venue(&self) -> MutexGuard<'_, Venue> {
        // A panic while holding the lock leaves a venue whose last call did not finish; the
        // ledger's own assertions make that a bug, not a state to serve from.
        self.venue.lock().expect("the venue lock is never poisoned")
    }

    /// Runs `f` on the venue and wakes streams if it changed anything.
    fn with_venue<R>(&self, f: impl FnOnce(&mut Venue) -> R) -> R {
        let mut venue = self.venue();
        let before = venue.version();
        let seq_before = venue.latest_ledger();
        let result = f(&mut venue);
        if venue.latest_ledger() != seq_before {
            *self.previous_book.lock().expect("book lock") = venue.ledger().book().clone();
        }
        let after = venue.version();
        drop(venue);
        if after != before {
            self.changes.send_replace(after);
        }
        result
    }
}

impl Server {
    /// Binds `config.listen` and serves until stopped.
    pub fn start(config: ServerConfig) -> std::io::Result<Server> {
        let service = Service::new(&config).map_err(|e| std::io::Error::other(format!("market setup: {e}")))?;
        let shared = service.shared;
        let listener = std::net::TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("starlog-sim-http")
            .enable_all()
            .build()?;
        let (shutdown, stopped) = oneshot::channel();
        let task_shared = Arc::clone(&shared);
        let ledger_ms = config.venue.ledger_ms;
        let thread = std::thread::Builder::new().name("starlog-sim".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    // Streams write many small frames: no Nagle delay behind the client's
                    // delayed ACKs.
                    Ok(listener) => listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    }),
                    Err(error) => {
                        tracing::error!(%error, "simulated venue cannot listen");
                        return;
                    }
                };
                if ledger_ms > 0 {
                    tokio::spawn(close_ledgers(Arc::clone(&task_shared)));
                }
                let app = axum::Router::new()
                    .fallback(|State(shared), ConnectInfo(peer): ConnectInfo<SocketAddr>, request| {
                        handle(shared, peer.ip(), request)
                    })
                    .with_state(task_shared);
                let service = app.into_make_service_with_connect_info::<SocketAddr>();
                // Stopping drops the accept loop; the runtime's shutdown then cuts open
                // connections (streams never end by themselves, so no graceful wait).
                tokio::select! {
                    served = axum::serve(listener, service) => {
                        if let Err(error) = served {
                            tracing::error!(%error, "simulated venue server stopped");
                        }
                    }
                    _ = stopped => {}
                }
            });
            // Streams still open are cut here: the runtime drops their tasks.
            runtime.shutdown_timeout(Duration::from_millis(100));
        })?;
        Ok(Server { addr, shared, shutdown: Some(shutdown), thread: Some(thread) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs `f` on the venue (setup, inspection); streams see what it changed.
    pub fn with_venue<R>(&self, f: impl FnOnce(&mut Venue) -> R) -> R {
        self.shared.with_venue(f)
    }

    /// Closes the open ledger now; returns its sequence.
    pub fn close_ledger(&self) -> u32 {
        self.shared.with_venue(Venue::close_ledger)
    }

    /// Stops serving (open streams are cut) and waits for the server thread.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Closes ledgers on the wall-clock cadence, catching up if the process was descheduled.
async fn close_ledgers(shared: Arc<Shared>) {
    let ledger_ms = shared.venue().config().ledger_ms;
    let mut tick = tokio::time::interval(Duration::from_millis(ledger_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        tick.tick().await;
        let elapsed_ms = u64::try_from(shared.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        shared.with_venue(|venue| {
            for _ in 0..venue.closes_due(elapsed_ms).max(1) {
                venue.close_ledger();
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Problems

/// A Horizon problem document (RFC 7807), rendered as `support/render/problem` does.
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    extras: Option<Value>,
    retry_after_s: Option<u32>,
}

impl Problem {
    fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: &str) -> Problem {
        Problem { status, kind, title, detail: detail.into(), extras: None, retry_after_s: None }
    }

    fn not_found() -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Resource Missing",
            "The resource at the url requested was not found.  This usually occurs for one of two reasons:  The url \
             requested is not valid, or no data in our database could be found with the parameters provided.",
        )
    }

    fn bad_request(field: &str, reason: &str) -> Problem {
        let mut problem = Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Bad Request",
            "The request you sent was invalid in some way.",
        );
        problem.extras = Some(json!({ "invalid_field": field, "reason": reason }));
        problem
    }

    fn server_error() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal Server Error",
            "An error occurred while processing this request.  This is usually due to a bug within the server \
             software.  Trying this request again may succeed if the bug is transient. Otherwise, please contact the \
             system administrator.",
        )
    }

    /// Horizon's answer when core did not confirm a submission in time; the transaction may
    /// still be (here: was) applied, and `extras.hash` is what to poll.
    fn submission_timeout(hash: &[u8; 32], envelope: &str) -> Problem {
        let mut problem = Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            "transaction_submission_timeout",
            "Transaction Submission Timeout",
            "Your transaction submission request has timed out. This does not necessarily mean the submission has \
             failed. Before resubmitting, please use the transaction hash provided in `extras.hash` to poll the GET \
             /transactions endpoint for sometime and check if it was included in a ledger.",
        );
        problem.extras = Some(json!({ "envelope_xdr": envelope, "hash": starlog_adapters::stellar::hex(hash) }));
        problem
    }

    fn rate_limited(retry_after_s: u32) -> Problem {
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Rate Limit Exceeded",
            "The rate limit for the requesting IP address is over its alloted limit.  The allowed limit and requests \
             left per time period are communicated to clients via the http response headers 'X-RateLimit-*' headers.",
        );
        problem.retry_after_s = Some(retry_after_s);
        problem
    }

    fn malformed(envelope: &str) -> Problem {
        let mut problem = Problem::new(
            StatusCode::BAD_REQUEST,
            "transaction_malformed",
            "Transaction Malformed",
            "Horizon could not decode the transaction envelope in this request. A transaction should be an XDR \
             TransactionEnvelope struct encoded using base64.  The envelope read from this request is echoed in the \
             `extras.envelope_xdr` field of this response for your convenience.",
        );
        problem.extras = Some(json!({ "envelope_xdr": envelope }));
        problem
    }

    fn too_large(limit: usize) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_entity_too_large",
            "Request Entity Too Large",
            &format!("The request body is larger than this server accepts ({limit} bytes)."),
        )
    }

    fn not_acceptable() -> Problem {
        Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "An acceptable response content-type could not be provided for this request",
            "",
        )
    }

    fn unsupported_media_type() -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported Media Type",
            "The request has an unsupported content type. Presently, the only supported content type is \
             application/x-www-form-urlencoded.",
        )
    }

    fn to_json(&self) -> Value {
        let mut body = json!({
            "type": format!("https://stellar.org/horizon-errors/{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(extras) = &self.extras {
            body["extras"] = extras.clone();
        }
        body
    }

    fn into_response(self) -> Response {
        let body = serde_json::to_string_pretty(&self.to_json()).expect("JSON values serialize");
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json; charset=utf-8"));
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let text = serde_json::to_string_pretty(body).expect("JSON values serialize");
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/hal+json; charset=utf-8"));
    response
}

// ---------------------------------------------------------------------------------------------
// Request handling

/// Query parameters, first value wins.
#[derive(Debug)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: Option<&str>) -> Params {
        Params(form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
}

/// What every handler needs besides its parameters.
struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    base: String,
    params: Params,
    headers: &'a HeaderMap,
    faults: RequestFaults,
    stream: bool,
}

async fn handle(shared: Arc<Shared>, client: IpAddr, request: Request) -> Response {
    let (limit, remaining, reset_s) = shared.rate_limit(client);
    let faults = shared.faults.lock().expect("faults lock").draw();
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    let mut response = if remaining.is_none() {
        Problem::rate_limited(reset_s.max(1)).into_response()
    } else if faults.rate_limited {
        let retry = shared.faults.lock().expect("faults lock").config().retry_after_s.max(1);
        Problem::rate_limited(retry).into_response()
    } else if faults.server_error {
        Problem::server_error().into_response()
    } else {
        route(&shared, faults, request).await.unwrap_or_else(Problem::into_response)
    };
    let headers = response.headers_mut();
    // Horizon sends no rate-limit headers when it has no limit.
    if shared.rate_limit_per_hour > 0 {
        headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining.unwrap_or(0)));
        headers.insert("x-ratelimit-reset", HeaderValue::from(reset_s));
    }
    headers.insert("latest-ledger", HeaderValue::from(shared.venue().latest_ledger()));
    response
}

impl Shared {
    /// Counts a request against its client's window: (limit, remaining or `None` when over,
    /// seconds until the window resets).
    fn rate_limit(&self, client: IpAddr) -> (u32, Option<u32>, u32) {
        if self.rate_limit_per_hour == 0 {
            return (0, Some(0), 0);
        }
        let now = Instant::now();
        let mut windows = self.limiter.lock().expect("limiter lock");
        let window = windows.entry(client).or_insert(Window { start: now, used: 0 });
        if now.duration_since(window.start).as_secs() >= RATE_WINDOW_S {
            *window = Window { start: now, used: 0 };
        }
        let reset = RATE_WINDOW_S.saturating_sub(now.duration_since(window.start).as_secs()) as u32;
        if window.used >= self.rate_limit_per_hour {
            return (self.rate_limit_per_hour, None, reset);
        }
        window.used += 1;
        (self.rate_limit_per_hour, Some(self.rate_limit_per_hour - window.used), reset)
    }
}

async fn route(shared: &Arc<Shared>, faults: RequestFaults, request: Request) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let stream = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    let ctx = Ctx {
        shared,
        base: format!("http://{host}"),
        params: Params::parse(parts.uri.query()),
        headers: &parts.headers,
        faults,
        stream,
    };
    let path = parts.uri.path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let get = parts.method == Method::GET;
    let post = parts.method == Method::POST;
    match (segments.as_slice(), get, post) {
        ([] | [""], true, _) => Ok(root(&ctx)),
        (["fee_stats"], true, _) => Ok(fee_stats(&ctx)),
        (["friendbot"], true, _) | (["friendbot"], _, true) => friendbot(&ctx),
        (["accounts", id], true, _) => account(&ctx, id),
        (["accounts", id, "offers"], true, _) => offers(&ctx, Some(parse_account(id, "account_id")?)),
        (["accounts", id, "trades"], true, _) => {
            let account = parse_account(id, "account_id")?;
            trades(
                &ctx,
                &format!("/accounts/{account}/trades"),
                TradeFilter { account: Some(account), ..TradeFilter::default() },
            )
        }
        (["accounts", id, "transactions"], true, _) => transactions(&ctx, Some(parse_account(id, "account_id")?)),
        (["accounts", id, "effects"], true, _) => effects(&ctx, Some(parse_account(id, "account_id")?)),
        (["offers"], true, _) => {
            let seller = ctx.params.get("seller").map(|s| parse_account(s, "seller")).transpose()?;
            offers(&ctx, seller)
        }
        (["offers", id], true, _) => offer(&ctx, id),
        (["offers", id, "trades"], true, _) => {
            let offer_id = parse_offer_id(id)?;
            trades(
                &ctx,
                &format!("/offers/{offer_id}/trades"),
                TradeFilter { offer_id: Some(offer_id), ..TradeFilter::default() },
            )
        }
        (["order_book"], true, _) => order_book(&ctx),
        (["trades"], true, _) => trades(&ctx, "/trades", TradeFilter::from_params(&ctx.params)?),
        (["transactions"], true, _) => transactions(&ctx, None),
        (["transactions"], _, true) => submit(&ctx, &parts.headers, body).await,
        (["transactions", hash], true, _) => transaction(&ctx, hash),
        (["effects"], true, _) => effects(&ctx, None),
        (["_sim", "grant"], _, true) => grant(&ctx),
        (["_sim", "close"], _, true) => {
            let sequence = shared.with_venue(Venue::close_ledger);
            Ok(json_response(StatusCode::OK, &json!({ "ledger": sequence })))
        }
        _ => Err(Problem::not_found()),
    }
}

fn parse_account(text: &str, field: &str) -> Result<AccountId, Problem> {
    text.parse::<AccountId>().map_err(|_| Problem::bad_request(field, "invalid address"))
}

fn link(href: String) -> Value {
    json!({ "href": href })
}

fn templated(href: String) -> Value {
    json!({ "href": href, "templated": true })
}

fn root(ctx: &Ctx<'_>) -> Response {
    let venue = ctx.shared.venue();
    let latest = venue.latest_ledger();
    let closed_at = venue.ledger().history().ledgers.last().map_or(0, |l| l.close_time);
    let base = &ctx.base;
    json_response(
        StatusCode::OK,
        &json!({
            "_links": {
                "account": templated(format!("{base}/accounts/{{account_id}}")),
                "fee_stats": link(format!("{base}/fee_stats")),
                "friendbot": templated(format!("{base}/friendbot{{?addr}}")),
                "offer": templated(format!("{base}/offers/{{offer_id}}")),
                "offers": templated(format!("{base}/offers{{?selling,buying,seller,cursor,limit,order}}")),
                "order_book": templated(format!("{base}/order_book{{?selling_asset_type,selling_asset_code,selling_asset_issuer,buying_asset_type,buying_asset_code,buying_asset_issuer,limit}}")),
                "self": link(format!("{base}/")),
                "trades": templated(format!("{base}/trades{{?base_asset_type,base_asset_code,base_asset_issuer,counter_asset_type,counter_asset_code,counter_asset_issuer,offer_id,cursor,limit,order}}")),
                "transaction": templated(format!("{base}/transactions/{{hash}}")),
                "transactions": templated(format!("{base}/transactions{{?cursor,limit,order}}")),
            },
            "horizon_version": HORIZON_VERSION,
            "core_version": HORIZON_VERSION,
            "ingest_latest_ledger": latest,
            "history_latest_ledger": latest,
            "history_latest_ledger_closed_at": horizon::rfc3339(closed_at),
            "history_elder_ledger": 1,
            "core_latest_ledger": latest,
            "network_passphrase": venue.config().ledger.network_passphrase,
            "current_protocol_version": PROTOCOL_VERSION,
            "supported_protocol_version": PROTOCOL_VERSION,
            "core_supported_protocol_version": PROTOCOL_VERSION,
        }),
    )
}

/// `GET /fee_stats` over the transactions of the last 5 closed ledgers (Horizon's window), or
/// the base fee everywhere when there were none.
fn fee_stats(ctx: &Ctx<'_>) -> Response {
    const WINDOW_LEDGERS: u32 = 5;
    let venue = ctx.shared.venue();
    let latest = venue.latest_ledger();
    let base_fee = venue.config().ledger.base_fee_stroops;
    let first = latest.saturating_sub(WINDOW_LEDGERS - 1);
    let in_window: Vec<_> =
        venue.ledger().history().transactions.iter().filter(|t| (first..=latest).contains(&t.ledger)).collect();
    let per_op = |total: i64, ops: u32| total / i64::from(ops.max(1));
    let mut charged: Vec<i64> = in_window.iter().map(|t| per_op(t.fee_charged_stroops, t.operation_count)).collect();
    let mut bid: Vec<i64> = in_window.iter().map(|t| per_op(t.max_fee_stroops, t.operation_count)).collect();
    let ops: u32 = venue.ledger().history().ledgers.iter().rev().take(1).map(|l| l.operation_count).sum();
    json_response(
        StatusCode::OK,
        &json!({
            "last_ledger": latest.to_string(),
            "last_ledger_base_fee": base_fee.to_string(),
            // The simulator's ledgers have no capacity limit worth modelling: 1000 ops.
            "ledger_capacity_usage": capacity_usage(ops),
            "fee_charged": distribution(&mut charged, base_fee),
            "max_fee": distribution(&mut bid, base_fee),
        }),
    )
}

/// Operations of the last ledger over a nominal 1000-operation capacity, as `"0.42"`.
fn capacity_usage(ops: u32) -> String {
    let hundredths = ops.min(1000) / 10;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Horizon's fee distribution object: max, min, mode and percentiles, as strings.
fn distribution(values: &mut [i64], base_fee: i64) -> Value {
    if values.is_empty() {
        let b = base_fee.to_string();
        return json!({ "max": b, "min": b, "mode": b, "p10": b, "p20": b, "p30": b, "p40": b, "p50": b, "p60": b,
            "p70": b, "p80": b, "p90": b, "p95": b, "p99": b });
    }
    values.sort_unstable();
    let pct = |p: usize| values[(values.len() * p).div_ceil(100).saturating_sub(1).min(values.len() - 1)].to_string();
    let mut mode = (values[0], 0usize);
    let mut run = (values[0], 0usize);
    for v in values.iter() {
        run = if *v == run.0 { (run.0, run.1 + 1) } else { (*v, 1) };
        if run.1 > mode.1 {
            mode = run;
        }
    }
    json!({
        "max": values[values.len() - 1].to_string(), "min": values[0].to_string(), "mode": mode.0.to_string(),
        "p10": pct(10), "p20": pct(20), "p30": pct(30), "p40": pct(40), "p50": pct(50), "p60": pct(60),
        "p70": pct(70), "p80": pct(80), "p90": pct(90), "p95": pct(95), "p99": pct(99),
    })
}

fn friendbot(ctx: &Ctx<'_>) -> Result<Response, Problem> {
    let addr = ctx.params.get("addr").ok_or_else(|| Problem::bad_request("addr", "addr is required"))?;
    let account = parse_account(addr, "addr")?;
    match ctx.shared.with_venue(|venue| venue.friendbot(&account)) {
        Ok(submission) => Ok(json_response(StatusCode::OK, &submitted(ctx, &submission))),
        Err(FriendbotError::AlreadyFunded(submission)) => Err(failed(&submission, "")),
    }
}

/// `POST /_sim/grant?addr=G…&amount=1000.5`: the market's asset for a strategy's account.
fn grant(ctx: &Ctx<'_>) -> Result<Response, Problem> {
    let addr = ctx.params.get("addr").ok_or_else(|| Problem::bad_request("addr", "addr is required"))?;
    let account = parse_account(addr, "addr")?;
    let amount = ctx.params.get("amount").ok_or_else(|| Problem::bad_request("amount", "amount is required"))?;
    let amount = amount
        .parse::<starlog_engine::Amount>()
        .ok()
        .filter(|a| a.stroops() > 0)
        .ok_or_else(|| Problem::bad_request("amount", "a positive amount with at most 7 decimals"))?;
    match ctx.shared.with_venue(|venue| venue.grant(&account, amount.stroops())) {
        Ok(submission) if submission.succeeded() => Ok(json_response(StatusCode::OK, &submitted(ctx, &submission))),
        Ok(submission) => Err(failed(&submission, "")),
        Err(crate::market::MarketError::Failed { what, result }) => {
            Err(Problem::bad_request("addr", &format!("{what} failed: {result}")))
        }
        Err(e) => Err(Problem::bad_request("addr", &e.to_string())),
    }
}

/// The transaction resource of an applied submission.
fn submitted(ctx: &Ctx<'_>, submission: &Submission) -> Value {
    let venue = ctx.shared.venue();
    let record = match submission.disposition {
        Disposition::Applied { ledger, order } => {
            venue.ledger().history().transactions.iter().rev().find(|t| t.ledger == ledger && t.order == order)
        }
        Disposition::Rejected => None,
    };
    record.map_or(Value::Null, |record| with_tx_links(&ctx.base, horizon::transaction(record)))
}

fn failed(submission: &Submission, envelope_base64: &str) -> Problem {
    let problem = horizon::tx_failed_problem(submission, envelope_base64);
    Problem {
        status: StatusCode::BAD_REQUEST,
        kind: "transaction_failed",
        title: "Transaction Failed",
        detail: horizon::TRANSACTION_FAILED_DETAIL.into(),
        extras: problem.get("extras").cloned(),
        retry_after_s: None,
    }
}

async fn submit(ctx: &Ctx<'_>, headers: &HeaderMap, body: Body) -> Result<Response, Problem> {
    let form = headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).is_none_or(|ct| {
        let media = ct.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if !form {
        return Err(Problem::unsupported_media_type());
    }
    let limit = ctx.shared.body_bytes_max;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| Problem::too_large(limit))?;
    let fields = Params::parse(std::str::from_utf8(&bytes).ok());
    let tx = fields.get("tx").ok_or_else(|| Problem::bad_request("tx", "tx is required"))?.to_owned();
    let envelope = BASE64.decode(tx.trim()).map_err(|_| Problem::malformed(&tx))?;
    let submission = ctx
        .shared
        .with_venue(|venue| {
            if ctx.faults.bad_seq {
                venue.ledger_mut().skew_sequence(&envelope);
                venue.touch();
            }
            venue.submit(&envelope)
        })
        .map_err(|_| Problem::malformed(&tx))?;
    if ctx.faults.timeout && submission.applied() {
        return Err(Problem::submission_timeout(&submission.hash, &tx));
    }
    if submission.succeeded() {
        Ok(json_response(StatusCode::OK, &submitted(ctx, &submission)))
    } else {
        Err(failed(&submission, &tx))
    }
}

fn with_tx_links(base: &str, mut record: Value) -> Value {
    let hash = record["hash"].as_str().unwrap_or_default().to_owned();
    let source = record["source_account"].as_str().unwrap_or_default().to_owned();
    let ledger = record["ledger"].as_u64().unwrap_or_default();
    let token = record["paging_token"].as_str().unwrap_or_default().to_owned();
    record["_links"] = json!({
        "self": link(format!("{base}/transactions/{hash}")),
        "account": link(format!("{base}/accounts/{source}")),
        "ledger": link(format!("{base}/ledgers/{ledger}")),
        "operations": templated(format!("{base}/transactions/{hash}/operations{{?cursor,limit,order}}")),
        "effects": templated(format!("{base}/transactions/{hash}/effects{{?cursor,limit,order}}")),
        "precedes": link(format!("{base}/transactions?order=asc&cursor={token}")),
        "succeeds": link(format!("{base}/transactions?order=desc&cursor={token}")),
        "transaction": link(format!("{base}/transactions/{hash}")),
    });
    record
}

fn transaction(ctx: &Ctx<'_>, hash: &str) -> Result<Response, Problem> {
    let bytes = parse_hash(hash).ok_or_else(|| Problem::bad_request("tx_id", "invalid hash format"))?;
    let venue = ctx.shared.venue();
    let record =
        venue.ledger().history().transactions.iter().find(|t| t.hash == bytes).ok_or_else(Problem::not_found)?;
    Ok(json_response(StatusCode::OK, &with_tx_links(&ctx.base, horizon::transaction(record))))
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn account_json(ctx: &Ctx<'_>, venue: &Venue, id: &AccountId) -> Option<Value> {
    let mut record = horizon::account(venue.ledger(), id)?;
    let base = &ctx.base;
    record["_links"] = json!({
        "self": link(format!("{base}/accounts/{id}")),
        "transactions": templated(format!("{base}/accounts/{id}/transactions{{?cursor,limit,order}}")),
        "operations": templated(format!("{base}/accounts/{id}/operations{{?cursor,limit,order}}")),
        "payments": templated(format!("{base}/accounts/{id}/payments{{?cursor,limit,order}}")),
        "effects": templated(format!("{base}/accounts/{id}/effects{{?cursor,limit,order}}")),
        "offers": templated(format!("{base}/accounts/{id}/offers{{?cursor,limit,order}}")),
        "trades": templated(format!("{base}/accounts/{id}/trades{{?cursor,limit,order}}")),
        "data": templated(format!("{base}/accounts/{id}/data/{{key}}")),
    });
    Some(record)
}

fn account(ctx: &Ctx<'_>, id: &str) -> Result<Response, Problem> {
    let id = parse_account(id, "account_id")?;
    if ctx.stream {
        // A missing account is a 404 before the stream starts, as in Horizon.
        if ctx.shared.venue().ledger().account(&id).is_none() {
            return Err(Problem::not_found());
        }
        let base = ctx.base.clone();
        return Ok(object_stream(ctx, move |venue| account_json_base(&base, venue, &id)));
    }
    let venue = ctx.shared.venue();
    let record = account_json(ctx, &venue, &id).ok_or_else(Problem::not_found)?;
    Ok(json_response(StatusCode::OK, &record))
}

fn account_json_base(base: &str, venue: &Venue, id: &AccountId) -> Option<Value> {
    let mut record = horizon::account(venue.ledger(), id)?;
    record["_links"] = json!({ "self": link(format!("{base}/accounts/{id}")) });
    Some(record)
}

fn offer_json(base: &str, offer: &crate::sdex::Offer) -> Value {
    let mut record = horizon::offer(offer);
    record["_links"] = json!({
        "self": link(format!("{base}/offers/{}", offer.id)),
        "offer_maker": link(format!("{base}/accounts/{}", offer.seller)),
    });
    record
}

fn parse_offer_id(text: &str) -> Result<i64, Problem> {
    text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| Problem::bad_request("offer_id", "invalid offer id"))
}

fn offer(ctx: &Ctx<'_>, id: &str) -> Result<Response, Problem> {
    let id = parse_offer_id(id)?;
    let venue = ctx.shared.venue();
    let offer = venue.ledger().book().get(id).ok_or_else(Problem::not_found)?;
    Ok(json_response(StatusCode::OK, &offer_json(&ctx.base, offer)))
}

/// An asset given as `{prefix}_asset_type/_code/_issuer`, or as `{prefix}=native|CODE:ISSUER`.
fn asset_param(params: &Params, prefix: &str) -> Result<Option<Asset>, Problem> {
    if let Some(text) = params.get(prefix) {
        return text.parse::<Asset>().map(Some).map_err(|_| Problem::bad_request(prefix, "invalid asset"));
    }
    let type_field = format!("{prefix}_asset_type");
    let Some(kind) = params.get(&type_field) else {
        return Ok(None);
    };
    if kind == "native" {
        return Ok(Some(Asset::Native));
    }
    if kind != "credit_alphanum4" && kind != "credit_alphanum12" {
        return Err(Problem::bad_request(&type_field, "unknown asset type"));
    }
    let code_field = format!("{prefix}_asset_code");
    let issuer_field = format!("{prefix}_asset_issuer");
    let code = params.get(&code_field).ok_or_else(|| Problem::bad_request(&code_field, "missing asset code"))?;
    let issuer = params.get(&issuer_field).ok_or_else(|| Problem::bad_request(&issuer_field, "missing issuer"))?;
    let issuer = parse_account(issuer, &issuer_field)?;
    let asset = Asset::credit(code, issuer).map_err(|_| Problem::bad_request(&code_field, "invalid asset code"))?;
    let expected = if code.len() <= 4 { "credit_alphanum4" } else { "credit_alphanum12" };
    if kind != expected {
        return Err(Problem::bad_request(&type_field, "asset type does not match the code's length"));
    }
    Ok(Some(asset))
}

fn order_book(ctx: &Ctx<'_>) -> Result<Response, Problem> {
    let selling = asset_param(&ctx.params, "selling")?.ok_or_else(|| Problem::bad_request("selling", "required"))?;
    let buying = asset_param(&ctx.params, "buying")?.ok_or_else(|| Problem::bad_request("buying", "required"))?;
    if selling == buying {
        return Err(Problem::bad_request("buying", "selling and buying must differ"));
    }
    let limit = match ctx.params.get("limit") {
        None => BOOK_LIMIT_DEFAULT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=PAGE_LIMIT_MAX).contains(l))
            .ok_or_else(|| Problem::bad_request("limit", "limit must be in 1..=200"))?,
    };
    if ctx.stream {
        return Ok(object_stream(ctx, move |venue| {
            Some(horizon::order_book(venue.ledger().book(), &selling, &buying, limit))
        }));
    }
    let body = if ctx.faults.stale_book {
        horizon::order_book(&ctx.shared.previous_book.lock().expect("book lock"), &selling, &buying, limit)
    } else {
        horizon::order_book(ctx.shared.venue().ledger().book(), &selling, &buying, limit)
    };
    Ok(json_response(StatusCode::OK, &body))
}

// ---------------------------------------------------------------------------------------------
// Pages and page streams

/// A position in a collection: (id, index within the id), e.g. (operation id, trade index);
/// records with a plain id (transactions, offers) sit at `(id, i64::MAX)`, where a bare cursor
/// `id` points.
type Key = (i64, i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Asc,
    Desc,
}

/// `cursor`, `order` and `limit` of a page request.
#[derive(Debug)]
struct PageQuery {
    /// The cursor as a position (`None`: from the start, or the end going down).
    after: Option<Key>,
    /// The cursor as the links repeat it (`now` resolved to a number).
    cursor: String,
    order: Order,
    limit: usize,
}

impl PageQuery {
    fn from(ctx: &Ctx<'_>) -> Result<PageQuery, Problem> {
        let order = match ctx.params.get("order") {
            None | Some("asc") => Order::Asc,
            Some("desc") => Order::Desc,
            Some(_) => return Err(Problem::bad_request("order", "order must be asc or desc")),
        };
        let limit = match ctx.params.get("limit") {
            None => PAGE_LIMIT_DEFAULT,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=PAGE_LIMIT_MAX).contains(l))
                .ok_or_else(|| Problem::bad_request("limit", "limit must be in 1..=200"))?,
        };
        let last_event_id = if ctx.stream {
            ctx.headers.get("last-event-id").and_then(|h| h.to_str().ok()).filter(|s| !s.is_empty())
        } else {
            None
        };
        let cursor = match last_event_id.or(ctx.params.get("cursor")) {
            None => String::new(),
            // Horizon's `now`: the end of the last closed ledger, as a TOID.
            Some("now") => (i64::from(ctx.shared.venue().latest_ledger() + 1) << 32).to_string(),
            Some(text) => text.to_owned(),
        };
        let after = if cursor.is_empty() {
            None
        } else {
            Some(parse_cursor(&cursor).ok_or_else(|| Problem::bad_request("cursor", "invalid cursor"))?)
        };
        Ok(PageQuery { after, cursor, order, limit })
    }
}

/// `N` or `N-I`; a bare `N` is `(N, i64::MAX)` in both orders, as Horizon's
/// `CursorInt64Pair`.
fn parse_cursor(text: &str) -> Option<Key> {
    let (id, index) = match text.split_once('-') {
        Some((id, index)) => (id.parse::<i64>().ok()?, index.parse::<i64>().ok()?),
        None => (text.parse::<i64>().ok()?, i64::MAX),
    };
    (id >= 0 && index >= 0).then_some((id, index))
}

/// One page of `source` for `query`, with Horizon's `_links`. Only the records on the page are
/// rendered.
fn page(venue: &Venue, base: &str, path: &str, query: &PageQuery, source: &Source) -> Value {
    let keys: Vec<(Key, usize)> = match query.order {
        Order::Asc => source.select(venue, query.after).into_iter().take(query.limit).collect(),
        Order::Desc => source
            .select(venue, None)
            .into_iter()
            .rev()
            .filter(|(key, _)| query.after.is_none_or(|after| *key < after))
            .take(query.limit)
            .collect(),
    };
    let selected: Vec<(String, Value)> = keys.iter().map(|(_, index)| source.render(venue, base, *index)).collect();
    let (order, reverse) = match query.order {
        Order::Asc => ("asc", "desc"),
        Order::Desc => ("desc", "asc"),
    };
    // An empty page's links keep the request's cursor (Horizon's `PopulateLinks`).
    let first = selected.first().map_or_else(|| query.cursor.clone(), |(token, _)| token.clone());
    let last = selected.last().map_or_else(|| query.cursor.clone(), |(token, _)| token.clone());
    let limit = query.limit;
    let this_cursor = &query.cursor;
    let url = format!("{base}{path}");
    json!({
        "_links": {
            "self": link(format!("{url}?cursor={this_cursor}&limit={limit}&order={order}")),
            "next": link(format!("{url}?cursor={last}&limit={limit}&order={order}")),
            "prev": link(format!("{url}?cursor={first}&limit={limit}&order={reverse}")),
        },
        "_embedded": { "records": selected.into_iter().map(|(_, v)| v).collect::<Vec<_>>() },
    })
}

/// Serves a collection as a page, or as a page stream.
fn collection(ctx: &Ctx<'_>, path: &str, source: Source) -> Result<Response, Problem> {
    let query = PageQuery::from(ctx)?;
    if ctx.stream {
        if query.order == Order::Desc {
            return Err(Problem::bad_request("order", "streams are in ascending order"));
        }
        return Ok(page_stream(ctx, query, source));
    }
    let body = page(&ctx.shared.venue(), &ctx.base, path, &query, &source);
    Ok(json_response(StatusCode::OK, &body))
}

/// A collection: which records it holds, and how one is rendered.
#[derive(Clone, Copy, Debug)]
enum Source {
    Transactions { account: Option<AccountId>, include_failed: bool },
    Trades(TradeFilter),
    Effects { account: Option<AccountId> },
    Offers { seller: Option<AccountId>, selling: Option<Asset>, buying: Option<Asset> },
}

/// The records of `items` (sorted by `key`) after `after` that pass `keep`: (key, index).
fn after_key<T>(
    items: &[T],
    after: Option<Key>,
    key: impl Fn(&T) -> Key,
    keep: impl Fn(&T) -> bool,
) -> Vec<(Key, usize)> {
    let start = after.map_or(0, |after| items.partition_point(|item| key(item) <= after));
    items[start..].iter().enumerate().filter(|(_, item)| keep(item)).map(|(i, item)| (key(item), start + i)).collect()
}

impl Source {
    /// Matching records with a key above `after`, ascending: (key, index for `render`). No
    /// JSON is made here, and history before `after` is skipped by binary search.
    fn select(&self, venue: &Venue, after: Option<Key>) -> Vec<(Key, usize)> {
        let history = venue.ledger().history();
        match *self {
            Source::Transactions { account, include_failed } => after_key(
                &history.transactions,
                after,
                |t| (t.toid(), i64::MAX),
                |t| {
                    (include_failed || t.successful) && account.is_none_or(|a| t.participants.binary_search(&a).is_ok())
                },
            ),
            Source::Trades(filter) => {
                after_key(&history.trades, after, |t| (t.operation_id(), i64::from(t.trade_index)), |t| filter.keeps(t))
            }
            Source::Effects { account } => after_key(
                &history.effects,
                after,
                |e| (e.operation_id(), i64::from(e.index)),
                |e| account.is_none_or(|a| e.account == a),
            ),
            Source::Offers { seller, selling, buying } => venue
                .ledger()
                .book()
                .iter()
                .filter(|o| after.is_none_or(|after| (o.id, i64::MAX) > after))
                .filter(|o| seller.is_none_or(|s| o.seller == s))
                .filter(|o| selling.is_none_or(|a| o.selling == a) && buying.is_none_or(|a| o.buying == a))
                .map(|o| ((o.id, i64::MAX), usize::try_from(o.id).unwrap_or(usize::MAX)))
                .collect(),
        }
    }

    /// The paging token and JSON of the record `select` gave `index` for.
    fn render(&self, venue: &Venue, base: &str, index: usize) -> (String, Value) {
        let history = venue.ledger().history();
        match *self {
            Source::Transactions { .. } => {
                let t = &history.transactions[index];
                (t.toid().to_string(), with_tx_links(base, horizon::transaction(t)))
            }
            Source::Trades(filter) => {
                let t = &history.trades[index];
                let mut record = horizon::trade(t);
                if let Some((b, _)) = filter.pair {
                    orient(&mut record, &b);
                }
                let op = t.operation_id();
                let base_account = record["base_account"].as_str().unwrap_or_default().to_owned();
                let counter_account = record["counter_account"].as_str().unwrap_or_default().to_owned();
                record["_links"] = json!({
                    "self": link(String::new()),
                    "base": link(format!("{base}/accounts/{base_account}")),
                    "counter": link(format!("{base}/accounts/{counter_account}")),
                    "operation": link(format!("{base}/operations/{op}")),
                });
                (t.paging_token(), record)
            }
            Source::Effects { .. } => {
                let e = &history.effects[index];
                let mut record = horizon::effect(e);
                let token = e.paging_token();
                record["_links"] = json!({
                    "operation": link(format!("{base}/operations/{}", e.operation_id())),
                    "succeeds": link(format!("{base}/effects?order=desc&cursor={token}")),
                    "precedes": link(format!("{base}/effects?order=asc&cursor={token}")),
                });
                (token, record)
            }
            Source::Offers { .. } => {
                let id = i64::try_from(index).unwrap_or(i64::MAX);
                let offer = venue.ledger().book().get(id).expect("select gave a resting offer's id");
                (id.to_string(), offer_json(base, offer))
            }
        }
    }
}

fn transactions(ctx: &Ctx<'_>, account: Option<AccountId>) -> Result<Response, Problem> {
    let path = account.map_or("/transactions".to_owned(), |a| format!("/accounts/{a}/transactions"));
    let include_failed = match ctx.params.get("include_failed") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(Problem::bad_request("include_failed", "must be true or false")),
    };
    collection(ctx, &path, Source::Transactions { account, include_failed })
}

/// Filters of `GET /trades`.
#[derive(Clone, Copy, Debug, Default)]
struct TradeFilter {
    account: Option<AccountId>,
    offer_id: Option<i64>,
    pair: Option<(Asset, Asset)>,
    /// `trade_type=liquidity_pool`: the venue has no pools, so nothing.
    pools_only: bool,
}

impl TradeFilter {
    fn from_params(params: &Params) -> Result<TradeFilter, Problem> {
        let offer_id = params.get("offer_id").map(parse_offer_id).transpose()?;
        let base = asset_param(params, "base")?;
        let counter = asset_param(params, "counter")?;
        let pair = match (base, counter) {
            (None, None) => None,
            (Some(b), Some(c)) if b != c => Some((b, c)),
            (Some(_), Some(_)) => {
                return Err(Problem::bad_request("counter_asset_type", "base and counter must differ"));
            }
            (None, Some(_)) => {
                return Err(Problem::bad_request("base_asset_type", "base asset is required with counter"));
            }
            (Some(_), None) => {
                return Err(Problem::bad_request("counter_asset_type", "counter asset is required with base"));
            }
        };
        let account = params.get("account_id").map(|a| parse_account(a, "account_id")).transpose()?;
        let pools_only = match params.get("trade_type") {
            None | Some("all" | "orderbook") => false,
            Some("liquidity_pool") => true,
            Some(_) => return Err(Problem::bad_request("trade_type", "must be all, orderbook or liquidity_pool")),
        };
        Ok(TradeFilter { account, offer_id, pair, pools_only })
    }

    fn keeps(&self, t: &TradeRecord) -> bool {
        !self.pools_only
            && self.account.is_none_or(|a| t.maker == a || t.taker == a)
            && self.offer_id.is_none_or(|id| t.maker_offer_id == id || t.taker_offer_id == Some(id))
            && self.pair.is_none_or(|(b, c)| {
                (t.sold_asset == b && t.bought_asset == c) || (t.sold_asset == c && t.bought_asset == b)
            })
    }
}

fn trades(ctx: &Ctx<'_>, path: &str, filter: TradeFilter) -> Result<Response, Problem> {
    collection(ctx, path, Source::Trades(filter))
}

/// Horizon answers a pair query in the asked orientation: swap base and counter (and invert
/// the price) when the record's natural base is the asked counter.
fn orient(record: &mut Value, base: &Asset) {
    let natural_base = horizon::asset(base);
    let matches = ["asset_type", "asset_code", "asset_issuer"]
        .iter()
        .all(|f| record.get(format!("base_{f}")) == natural_base.get(*f));
    if matches {
        return;
    }
    let Value::Object(map) = record else { return };
    let mut swapped = serde_json::Map::new();
    for (key, value) in std::mem::take(map) {
        let key = if key == "base_is_seller" {
            key
        } else if let Some(rest) = key.strip_prefix("base_") {
            format!("counter_{rest}")
        } else if let Some(rest) = key.strip_prefix("counter_") {
            format!("base_{rest}")
        } else {
            key
        };
        swapped.insert(key, value);
    }
    if let Some(seller) = swapped.get("base_is_seller").and_then(Value::as_bool) {
        swapped.insert("base_is_seller".into(), json!(!seller));
    }
    if let Some(price) = swapped.get("price").cloned() {
        swapped.insert("price".into(), json!({ "n": price["d"], "d": price["n"] }));
    }
    *map = swapped;
}

fn effects(ctx: &Ctx<'_>, account: Option<AccountId>) -> Result<Response, Problem> {
    let path = account.map_or("/effects".to_owned(), |a| format!("/accounts/{a}/effects"));
    collection(ctx, &path, Source::Effects { account })
}

fn offers(ctx: &Ctx<'_>, seller: Option<AccountId>) -> Result<Response, Problem> {
    if ctx.stream {
        return Err(Problem::not_acceptable());
    }
    let selling = asset_param(&ctx.params, "selling")?;
    let buying = asset_param(&ctx.params, "buying")?;
    let path = seller.map_or("/offers".to_owned(), |s| format!("/accounts/{s}/offers"));
    collection(ctx, &path, Source::Offers { seller, selling, buying })
}

// ---------------------------------------------------------------------------------------------
// Streams

type Frames = mpsc::Sender<Result<Bytes, Infallible>>;

fn sse_response(receiver: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|frame| (frame, receiver))
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn send(frames: &Frames, text: String) -> bool {
    frames.send(Ok(Bytes::from(text))).await.is_ok()
}

/// What ends a stream besides its client leaving: the drop fault.
fn drop_deadline(ctx: &Ctx<'_>) -> Option<tokio::time::Instant> {
    let drop_ms = ctx.shared.faults.lock().expect("faults lock").config().stream_drop_ms;
    (drop_ms > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(drop_ms))
}

/// Waits for a venue change, a heartbeat time or the drop deadline: `false` when the stream
/// must end (dropped, or the server is stopping).
async fn wait_change(
    changes: &mut watch::Receiver<u64>,
    frames: &Frames,
    deadline: Option<tokio::time::Instant>,
) -> bool {
    let far = tokio::time::Instant::now() + Duration::from_secs(86_400);
    tokio::select! {
        changed = changes.changed() => changed.is_ok(),
        () = tokio::time::sleep(Duration::from_millis(HEARTBEAT_MS)) => send(frames, SSE_HEARTBEAT.into()).await,
        () = tokio::time::sleep_until(deadline.unwrap_or(far)) => false,
    }
}

/// A page stream: records after the cursor, in order, as they appear. Each wake-up renders
/// only the records it has not sent.
fn page_stream(ctx: &Ctx<'_>, query: PageQuery, source: Source) -> Response {
    let (frames, receiver) = mpsc::channel(STREAM_BUFFER_FRAMES);
    let shared = Arc::clone(ctx.shared);
    let base = ctx.base.clone();
    let deadline = drop_deadline(ctx);
    tokio::spawn(async move {
        let mut changes = shared.changes.subscribe();
        if !send(&frames, SSE_PREAMBLE.into()).await {
            return;
        }
        let mut after = query.after;
        let mut sent = 0usize;
        loop {
            changes.borrow_and_update();
            let batch: Vec<(Key, String)> = {
                let venue = shared.venue();
                let budget = query.limit - sent;
                source
                    .select(&venue, after)
                    .into_iter()
                    .take(budget.min(STREAM_BATCH_RECORDS))
                    .map(|(key, index)| {
                        let (token, record) = source.render(&venue, &base, index);
                        let data = serde_json::to_string(&record).expect("JSON values serialize");
                        (key, format!("id: {token}\ndata: {data}\n\n"))
                    })
                    .collect()
            };
            let full = batch.len() == STREAM_BATCH_RECORDS;
            for (key, frame) in batch {
                if !send(&frames, frame).await {
                    return;
                }
                after = Some(key);
                sent += 1;
                if sent >= query.limit {
                    let _ = send(&frames, SSE_GOODBYE.into()).await;
                    return;
                }
            }
            if !full && !wait_change(&mut changes, &frames, deadline).await {
                return;
            }
        }
    });
    sse_response(receiver)
}

/// An object stream: the object now, then again whenever it changes (no `id:`).
fn object_stream(ctx: &Ctx<'_>, render: impl Fn(&Venue) -> Option<Value> + Send + Sync + 'static) -> Response {
    let (frames, receiver) = mpsc::channel(STREAM_BUFFER_FRAMES);
    let shared = Arc::clone(ctx.shared);
    let deadline = drop_deadline(ctx);
    tokio::spawn(async move {
        let mut changes = shared.changes.subscribe();
        if !send(&frames, SSE_PREAMBLE.into()).await {
            return;
        }
        let mut last: Option<Value> = None;
        let mut sent = 0usize;
        loop {
            changes.borrow_and_update();
            let current = render(&shared.venue());
            if let Some(object) = current.filter(|object| last.as_ref() != Some(object)) {
                let data = serde_json::to_string(&object).expect("JSON values serialize");
                if !send(&frames, format!("data: {data}\n\n")).await {
                    return;
                }
                last = Some(object);
                sent += 1;
                if sent >= OBJECT_STREAM_LIMIT {
                    let _ = send(&frames, SSE_GOODBYE.into()).await;
                    return;
                }
            }
            if !wait_change(&mut changes, &frames, deadline).await {
                return;
            }
        }
    });
    sse_response(receiver)
}
