//! The admin API of `starlog run`: operators log in (password + TOTP), get a short-lived token,
//! and read the session's status and metrics or steer it (halt, resume, cancel all, limits,
//! validation level, incident acknowledgement, unlock), each call checked against the caller's
//! role. Every state-changing call becomes an operator command in the input journal, with who
//! issued it; every failed login becomes a security event there.
//!
//! - [`auth`]: operators, passwords, TOTP, tokens, sessions, login throttling (pure).
//! - [`api`]: routes, request parsing and decisions (pure).
//! - [`server`]: HTTP/1.1 on loopback, or HTTPS (rustls, optional client certificates) beyond.
//!
//! The core is never blocked by the API: requests reach it as messages on its input channel
//! ([`AdminCall`]); it answers on the next turn of its loop.

pub mod api;
pub mod auth;
pub mod client;
pub mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

use crossbeam_channel::Sender;
use starlog_engine::events::Input;

use self::api::Query;
use self::auth::{AuthLimits, Operator, Role, TotpKey};

/// The `[admin]` section of a run configuration (no secrets: TOTP keys by reference).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    pub limits: AuthLimits,
    /// SHA-256 of the bearer credential a Prometheus scraper uses for `/metrics` (only).
    pub scrape_token_sha256: Option<[u8; 32]>,
    /// Server certificate chain and key (PEM); required when `listen` is not loopback.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// CA (PEM) whose client certificates are required, when set.
    pub tls_client_ca: Option<PathBuf>,
    pub operators: Vec<OperatorConfig>,
}

/// One `[[admin.operators]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorConfig {
    pub name: String,
    pub role: Role,
    /// Argon2id PHC string (`starlog ctl hash-password`).
    pub password_hash: String,
    /// Where the TOTP secret (base32) is: `file:/path` or `env:NAME`.
    pub totp_secret: Option<String>,
}

impl AdminConfig {
    /// Checks what can be checked without reading secrets.
    pub fn validate(&self) -> Result<(), String> {
        if self.operators.is_empty() {
            return Err("admin.operators: at least one operator is needed".into());
        }
        if !self.listen.ip().is_loopback() && (self.tls_cert.is_none() || self.tls_key.is_none()) {
            return Err(format!("admin.listen: {} is not loopback: tls_cert and tls_key are required", self.listen));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("admin: tls_cert and tls_key go together".into());
        }
        if self.tls_client_ca.is_some() && self.tls_cert.is_none() {
            return Err("admin.tls_client_ca needs tls_cert and tls_key".into());
        }
        let l = &self.limits;
        if l.token_ttl_secs == 0 || l.idle_timeout_secs == 0 || l.login_failures_max == 0 {
            return Err("admin: token_ttl_secs, idle_timeout_secs and login_failures_max must be positive".into());
        }
        for (i, op) in self.operators.iter().enumerate() {
            if !auth::valid_name(&op.name) {
                return Err(format!("admin.operators[{i}].name: 1-64 of A-Z a-z 0-9 . _ -"));
            }
            auth::check_password_hash(&op.password_hash)
                .map_err(|e| format!("admin.operators[{i}].password_hash: {e}"))?;
            if op.role == Role::Admin && op.totp_secret.is_none() {
                return Err(format!("admin.operators[{i}]: an admin needs totp_secret (a second factor)"));
            }
            if let Some(source) = &op.totp_secret
                && !(source.starts_with("file:") || source.starts_with("env:"))
            {
                return Err(format!("admin.operators[{i}].totp_secret: file:/path or env:NAME, not the secret"));
            }
        }
        Ok(())
    }

    /// The operators with their TOTP keys read from where the configuration says.
    pub fn load_operators(&self) -> Result<Vec<Operator>, String> {
        self.operators
            .iter()
            .map(|op| {
                let totp = match &op.totp_secret {
                    Some(source) => Some(read_totp(source).map_err(|e| format!("operator {}: {e}", op.name))?),
                    None => None,
                };
                Ok(Operator { name: op.name.clone(), role: op.role, password_hash: op.password_hash.clone(), totp })
            })
            .collect()
    }
}

fn read_totp(source: &str) -> Result<TotpKey, String> {
    let text = zeroize::Zeroizing::new(if let Some(path) = source.strip_prefix("file:") {
        std::fs::read_to_string(path).map_err(|e| format!("totp_secret {path}: {e}"))?
    } else if let Some(name) = source.strip_prefix("env:") {
        std::env::var(name).map_err(|_| format!("totp_secret: environment variable {name} is not set"))?
    } else {
        return Err("totp_secret: file:/path or env:NAME".into());
    });
    TotpKey::from_base32(text.trim())
}

/// A request from the API to the core, answered on the core's next turn.
#[derive(Debug)]
pub enum AdminCall {
    /// Render the status (JSON) or the metrics page (Prometheus text).
    Query { query: Query, reply: Sender<String> },
    /// Journal an operator command; reply with its input seq.
    Command { input: Input, reply: Sender<u64> },
    /// Journal a security event (a failed login); no reply.
    Event(Input),
}
