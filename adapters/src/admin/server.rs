//! The admin API's HTTP server: HTTP/1.1 (hyper) on a tokio runtime of its own thread, plain on
//! loopback, TLS (rustls) when configured — required beyond loopback — with client
//! certificates required when a client CA is configured. Each request is read (body at most
//! [`api::BODY_BYTES_MAX`]), decided by [`AdminApi`] on a blocking thread (password hashing is
//! slow by design), and, when the core must act or answer, passed to it as an [`AdminCall`];
//! a core that does not answer within [`CORE_REPLY_MS`] gets the caller a 503.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::bounded;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;
use tokio_rustls::rustls;

use super::api::{self, AdminApi, Outcome, Query, Reply, Request};
use super::{AdminCall, AdminConfig};

/// How long a request waits for the core's answer.
pub const CORE_REPLY_MS: u64 = 5_000;
/// Connections served at once (beyond: closed at accept).
pub const CONNECTIONS_MAX: usize = 64;
/// A connection that sends no complete request for this long is closed.
const HEADER_READ_TIMEOUT_MS: u64 = 10_000;

/// How the API reaches the core: `false` when the core is gone.
pub type CoreLink = Arc<dyn Fn(AdminCall) -> bool + Send + Sync>;

/// What the server saw, for the metrics page.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub requests: AtomicU64,
    /// 401 answers: failed logins and refused tokens.
    pub unauthorized: AtomicU64,
    /// 403 answers: a role below the one required.
    pub forbidden: AtomicU64,
    /// 429 answers: logins refused by the throttle.
    pub throttled: AtomicU64,
    /// TLS handshakes that failed (no or a bad client certificate, wrong protocol).
    pub tls_failures: AtomicU64,
}

struct Shared {
    api: Mutex<AdminApi>,
    core: CoreLink,
    stats: Arc<ServerStats>,
    connections: Arc<tokio::sync::Semaphore>,
}

/// A running admin server. Dropping it stops it.
#[derive(Debug)]
pub struct AdminServer {
    addr: SocketAddr,
    tls: bool,
    stats: Arc<ServerStats>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The server's TLS configuration from PEM files: its chain and key, and, if given, the CA whose
/// client certificates are required.
pub fn tls_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("admin.tls_cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("admin.tls_cert {}: no certificate", cert.display()));
    }
    // The key's parse error never shows its bytes.
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| format!("admin.tls_key {}: no PEM private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in
                CertificateDer::pem_file_iter(ca).map_err(|e| format!("admin.tls_client_ca {}: {e}", ca.display()))?
            {
                let c = c.map_err(|e| format!("admin.tls_client_ca {}: {e}", ca.display()))?;
                roots.add(c).map_err(|e| format!("admin.tls_client_ca {}: {e}", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("admin.tls_client_ca {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| format!("admin.tls_cert/tls_key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl AdminServer {
    /// Binds `config.listen` and serves `api` until stopped.
    pub fn start(config: &AdminConfig, api: AdminApi, core: CoreLink) -> Result<AdminServer, String> {
        config.validate()?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                Some(tokio_rustls::TlsAcceptor::from(tls_config(cert, key, config.tls_client_ca.as_deref())?))
            }
            _ => None,
        };
        let listener = std::net::TcpListener::bind(config.listen)
            .map_err(|e| format!("admin.listen {}: cannot listen: {e}", config.listen))?;
        listener.set_nonblocking(true).map_err(|e| format!("admin.listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("admin.listen: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .build()
            .map_err(|e| format!("admin server: {e}"))?;
        let stats = Arc::new(ServerStats::default());
        let shared = Arc::new(Shared {
            api: Mutex::new(api),
            core,
            stats: Arc::clone(&stats),
            connections: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX)),
        });
        let (shutdown, stopped) = oneshot::channel();
        let is_tls = tls.is_some();
        let thread = std::thread::Builder::new()
            .name("starlog-admin".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(error) => {
                            tracing::error!(%error, "admin API: cannot listen");
                            return;
                        }
                    };
                    tokio::select! {
                        () = accept_loop(listener, tls, shared) => {}
                        _ = stopped => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .map_err(|e| format!("admin server thread: {e}"))?;
        tracing::info!(%addr, tls = is_tls, "admin API listening");
        Ok(AdminServer { addr, tls: is_tls, stats, shutdown: Some(shutdown), thread: Some(thread) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

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

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, shared: Arc<Shared>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "admin API: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&shared.connections).try_acquire_owned().map_err(drop) else {
            continue; // too many connections: this one is closed by the drop
        };
        let (shared, tls) = (Arc::clone(&shared), tls.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            match tls {
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(Duration::from_millis(HEADER_READ_TIMEOUT_MS), acceptor.accept(stream))
                            .await;
                    match handshake {
                        Ok(Ok(stream)) => serve(TokioIo::new(stream), peer.ip(), shared).await,
                        _ => {
                            shared.stats.tls_failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                None => serve(TokioIo::new(stream), peer.ip(), shared).await,
            }
        });
    }
}

async fn serve<IO>(io: IO, peer: IpAddr, shared: Arc<Shared>)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handle(Arc::clone(&shared), peer, request));
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_millis(HEADER_READ_TIMEOUT_MS))
        .serve_connection(io, service);
    let _ = connection.await;
}

async fn handle(
    shared: Arc<Shared>,
    peer: IpAddr,
    request: HttpRequest<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
        .map(|(_, token)| zeroize::Zeroizing::new(token.trim().to_owned()));
    let body = match Limited::new(request.into_body(), api::BODY_BYTES_MAX).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(response(&Reply::error(413, "the body is too large"))),
    };
    let decided = tokio::task::spawn_blocking(move || {
        let request =
            Request { method: &method, path: &path, bearer: bearer.as_deref().map(|b| b.as_str()), body: &body, peer };
        decide(&shared, &request)
    })
    .await;
    let reply = decided.unwrap_or_else(|_| Reply::error(500, "internal error"));
    Ok(response(&reply))
}

/// Runs the API's decision and, where needed, the core's part.
fn decide(shared: &Shared, request: &Request<'_>) -> Reply {
    let outcome = shared.api.lock().unwrap_or_else(std::sync::PoisonError::into_inner).handle(request, now_s());
    let core_gone = || Reply::error(503, "the core is not answering");
    let wait = Duration::from_millis(CORE_REPLY_MS);
    let reply = match outcome {
        Outcome::Reply(reply) => reply,
        Outcome::Journal { event, reply } => {
            if !(shared.core)(AdminCall::Event(event)) {
                tracing::error!("admin API: a security event could not reach the core");
            }
            reply
        }
        Outcome::Query(query) => {
            let (tx, rx) = bounded(1);
            if !(shared.core)(AdminCall::Query { query, reply: tx }) {
                return core_gone();
            }
            match rx.recv_timeout(wait) {
                Ok(body) => Reply {
                    status: 200,
                    body,
                    retry_after_s: None,
                    token: None,
                    content_type: if query == Query::Metrics { api::PROMETHEUS_TEXT } else { api::JSON },
                },
                Err(_) => core_gone(),
            }
        }
        Outcome::Command { input, operator, token } => {
            let (tx, rx) = bounded(1);
            let what = format!("{input:?}");
            if !(shared.core)(AdminCall::Command { input, reply: tx }) {
                return core_gone();
            }
            match rx.recv_timeout(wait) {
                Ok(seq) => {
                    tracing::info!(operator = %operator, seq, command = %what, "operator command journaled");
                    Reply {
                        token: token.clone(),
                        ..Reply::json(200, serde_json::json!({ "seq": seq, "operator": operator, "token": token }))
                    }
                }
                Err(_) => core_gone(),
            }
        }
    };
    let counter = match reply.status {
        401 => Some(&shared.stats.unauthorized),
        403 => Some(&shared.stats.forbidden),
        429 => Some(&shared.stats.throttled),
        _ => None,
    };
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    reply
}

fn response(reply: &Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body.clone())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(s) = reply.retry_after_s {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    if let Some(token) = reply.token.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert("x-starlog-token", token);
    }
    response
}
