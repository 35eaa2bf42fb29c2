//! The admin API's routes and decisions, without I/O: [`parse_request`] turns a method, path and
//! body (untrusted bytes) into a [`Call`]; [`AdminApi::handle`] authenticates it, checks the
//! role, and says what to do: answer now, journal a security event and answer, ask the core
//! for its status or metrics, or journal an operator command and answer with its seq.
//!
//! | method | path                          | role    | body                                    |
//! |--------|-------------------------------|---------|-----------------------------------------|
//! | POST   | `/v1/login`                   | —       | `{"operator","password","totp"?}`       |
//! | POST   | `/v1/logout`                  | viewer  |                                         |
//! | GET    | `/v1/status`                  | viewer  |                                         |
//! | GET    | `/metrics`                    | viewer (or the scrape token)              | |
//! | POST   | `/v1/halt`                    | trader  |                                         |
//! | POST   | `/v1/resume`                  | trader  |                                         |
//! | POST   | `/v1/cancel-all`              | trader  |                                         |
//! | POST   | `/v1/incidents/{id}/ack`      | trader  |                                         |
//! | POST   | `/v1/limits`                  | admin   | `{"limit":"order_amount_stroops_max","value":N}` |
//! | POST   | `/v1/validation-level`        | admin   | `{"level":"STRICT"}`                    |
//! | POST   | `/v1/unlock`                  | admin   |                                         |
//!
//! Every state-changing call rotates the caller's token: the answer carries the new one
//! (`token`, and the `X-Starlog-Token` header), the old one is revoked. Error bodies are
//! `{"error": "..."}` and never repeat what the request sent (a password must not come back in
//! an error, nor reach a log).

use std::net::IpAddr;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use starlog_engine::events::{Command, Input, OperatorCommand, SecurityEvent};
use zeroize::Zeroizing;

use super::auth::{Authenticator, LoginError, Role, valid_name};
use crate::live::config::risk_code;

/// Request bodies larger than this are refused (413).
pub const BODY_BYTES_MAX: usize = 16 * 1024;

/// A request, as the server saw it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Path only (the server drops any query).
    pub path: &'a str,
    /// The `Authorization: Bearer` credential, if any.
    pub bearer: Option<&'a str>,
    pub body: &'a [u8],
    pub peer: IpAddr,
}

/// What a request asks for, once parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum Call {
    Login { operator: String, password: Zeroizing<String>, totp: Option<String> },
    Logout,
    Status,
    Metrics,
    Command(Command),
}

impl Call {
    /// The least role allowed (`None`: no session needed).
    pub fn role_required(&self) -> Option<Role> {
        match self {
            Call::Login { .. } => None,
            Call::Logout | Call::Status | Call::Metrics => Some(Role::Viewer),
            Call::Command(c) => Some(match c {
                Command::Halt | Command::Resume | Command::CancelAll | Command::AcknowledgeIncident { .. } => {
                    Role::Trader
                }
                Command::SetLimit { .. } | Command::SetValidationLevel { .. } | Command::Unlock => Role::Admin,
            }),
        }
    }
}

/// A refusal: HTTP status and a one-line message (never echoing the request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    operator: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitBody {
    limit: String,
    value: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelBody {
    level: String,
}

/// A JSON body of type `T`; serde's message is not shown (it may quote the body).
fn body<'a, T: Deserialize<'a>>(bytes: &'a [u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::new(400, format!("the body must be {shape}")))
}

fn no_body(bytes: &[u8]) -> Result<(), ApiError> {
    let blank = bytes.iter().all(u8::is_ascii_whitespace) || bytes == b"{}";
    if blank { Ok(()) } else { Err(ApiError::new(400, "this endpoint takes no body")) }
}

/// Parses a request's method, path and body (untrusted) into a [`Call`].
pub fn parse_request(method: &str, path: &str, bytes: &[u8]) -> Result<Call, ApiError> {
    if bytes.len() > BODY_BYTES_MAX {
        return Err(ApiError::new(413, "the body is too large"));
    }
    let post = method == "POST";
    let get = method == "GET";
    let wrong_method = || ApiError::new(405, "method not allowed");
    let call = match path {
        "/v1/login" if post => {
            let b: LoginBody = body(bytes, r#"{"operator": NAME, "password": TEXT, "totp": "123456"}"#)?;
            if b.totp.as_ref().is_some_and(|t| t.len() > 16) {
                return Err(ApiError::new(400, "totp: at most 16 characters"));
            }
            Call::Login { operator: b.operator, password: Zeroizing::new(b.password), totp: b.totp }
        }
        "/v1/logout" if post => no_body(bytes).map(|()| Call::Logout)?,
        "/v1/status" if get => Call::Status,
        "/metrics" if get => Call::Metrics,
        "/v1/halt" if post => no_body(bytes).map(|()| Call::Command(Command::Halt))?,
        "/v1/resume" if post => no_body(bytes).map(|()| Call::Command(Command::Resume))?,
        "/v1/cancel-all" if post => no_body(bytes).map(|()| Call::Command(Command::CancelAll))?,
        "/v1/unlock" if post => no_body(bytes).map(|()| Call::Command(Command::Unlock))?,
        "/v1/limits" if post => {
            let b: LimitBody = body(bytes, r#"{"limit": NAME, "value": INTEGER}"#)?;
            let limit = risk_code(&b.limit).ok_or_else(|| ApiError::new(400, "limit: not a risk limit's name"))?;
            let mut check = crate::live::config::RISK_DEFAULT;
            if !check.set(limit, b.value) {
                return Err(ApiError::new(400, "value: out of range for this limit"));
            }
            Call::Command(Command::SetLimit { limit, value: b.value })
        }
        "/v1/validation-level" if post => {
            let b: LevelBody = body(bytes, r#"{"level": "BASIC|STANDARD|STRICT|PARANOID"}"#)?;
            let level = match b.level.as_str() {
                "BASIC" => 1,
                "STANDARD" => 2,
                "STRICT" => 3,
                "PARANOID" => 4,
                _ => return Err(ApiError::new(400, "level: BASIC, STANDARD, STRICT or PARANOID")),
            };
            Call::Command(Command::SetValidationLevel { level })
        }
        "/v1/login"
        | "/v1/logout"
        | "/v1/status"
        | "/metrics"
        | "/v1/halt"
        | "/v1/resume"
        | "/v1/cancel-all"
        | "/v1/unlock"
        | "/v1/limits"
        | "/v1/validation-level" => return Err(wrong_method()),
        _ => {
            let id = path.strip_prefix("/v1/incidents/").and_then(|rest| rest.strip_suffix("/ack"));
            let Some(id) = id else { return Err(ApiError::new(404, "no such endpoint")) };
            if !post {
                return Err(wrong_method());
            }
            let incident = (!id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| id.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| ApiError::new(400, "the incident id must be a decimal integer"))?;
            no_body(bytes)?;
            Call::Command(Command::AcknowledgeIncident { incident })
        }
    };
    Ok(call)
}

/// An answer to send now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// JSON (or Prometheus text for metrics).
    pub body: String,
    /// `Retry-After` seconds (429).
    pub retry_after_s: Option<u64>,
    /// A rotated token for `X-Starlog-Token`.
    pub token: Option<String>,
    pub content_type: &'static str,
}

/// Content types of replies.
pub const JSON: &str = "application/json";
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply { status, body: body.to_string(), retry_after_s: None, token: None, content_type: JSON }
    }

    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, serde_json::json!({ "error": message }))
    }
}

/// The digest of a scrape credential, as `scrape_token_sha256` holds it.
pub fn scrape_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh scrape credential: 32 random bytes, base64url.
pub fn new_scrape_token() -> Result<Zeroizing<String>, String> {
    use base64::Engine as _;
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut bytes[..]).map_err(|e| format!("no randomness: {e}"))?;
    Ok(Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..])))
}

/// What the core is asked to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    Status,
    Metrics,
}

/// What to do with a request (see the module docs).
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Reply(Reply),
    /// Journal `event` (fire and forget), then send the reply.
    Journal {
        event: Input,
        reply: Reply,
    },
    /// Ask the core; answer 200 with what it says.
    Query(Query),
    /// Journal the command; answer with its seq and the rotated token.
    Command {
        input: Input,
        operator: String,
        token: Option<String>,
    },
}

/// The admin API's state: the authenticator and the scrape credential.
#[derive(Debug)]
pub struct AdminApi {
    auth: Authenticator,
    /// SHA-256 of a long-lived bearer credential that may read `/metrics` only.
    scrape_token_sha256: Option<[u8; 32]>,
}

impl AdminApi {
    pub fn new(auth: Authenticator, scrape_token_sha256: Option<[u8; 32]>) -> AdminApi {
        AdminApi { auth, scrape_token_sha256 }
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    /// Decides what to do with `request` at UNIX time `now_s`.
    pub fn handle(&mut self, request: &Request<'_>, now_s: u64) -> Outcome {
        let call = match parse_request(request.method, request.path, request.body) {
            Ok(call) => call,
            Err(e) => return Outcome::Reply(Reply::error(e.status, &e.message)),
        };
        let Some(required) = call.role_required() else {
            let Call::Login { operator, password, totp } = call else { unreachable!("only login needs no role") };
            return self.login(&operator, &password, totp.as_deref(), request.peer, now_s);
        };
        if call == Call::Metrics && self.is_scrape_token(request.bearer) {
            return Outcome::Query(Query::Metrics);
        }
        let principal = match self.auth.authenticate(request.bearer, now_s) {
            Ok(p) => p,
            Err(e) => return Outcome::Reply(Reply::error(401, e.as_str())),
        };
        if principal.role < required {
            return Outcome::Reply(Reply::error(
                403,
                &format!("{} may not do this ({} required)", principal.role, required),
            ));
        }
        match call {
            Call::Login { .. } => unreachable!("handled above"),
            Call::Logout => {
                self.auth.logout(&principal);
                Outcome::Reply(Reply::json(200, serde_json::json!({ "logged_out": principal.operator })))
            }
            Call::Status => Outcome::Query(Query::Status),
            Call::Metrics => Outcome::Query(Query::Metrics),
            Call::Command(command) => {
                let token = self.auth.rotate(&principal, now_s).map(|g| g.token);
                Outcome::Command {
                    input: Input::Operator(OperatorCommand { operator: principal.operator.clone(), command }),
                    operator: principal.operator,
                    token,
                }
            }
        }
    }

    fn is_scrape_token(&self, bearer: Option<&str>) -> bool {
        match (self.scrape_token_sha256, bearer) {
            (Some(expected), Some(given)) => {
                let digest = scrape_digest(given);
                // Constant time over the digest.
                digest.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            }
            _ => false,
        }
    }

    fn login(&mut self, operator: &str, password: &str, totp: Option<&str>, peer: IpAddr, now_s: u64) -> Outcome {
        match self.auth.login(operator, password.as_bytes(), totp, peer, now_s) {
            Ok(granted) => Outcome::Reply(Reply {
                token: None,
                ..Reply::json(
                    200,
                    serde_json::json!({
                        "token": granted.token,
                        "operator": granted.operator,
                        "role": granted.role.as_str(),
                        "expires_at": granted.expires_s,
                    }),
                )
            }),
            Err(e) => {
                // The journal names the operator tried, if the name is one an operator could
                // have; anything else is recorded as such, not copied.
                let named = if valid_name(operator) { operator.to_owned() } else { "(invalid name)".to_owned() };
                match e {
                    LoginError::Invalid => Outcome::Journal {
                        event: Input::Security(SecurityEvent::AuthFailure { operator: named }),
                        reply: Reply::error(401, "invalid credentials"),
                    },
                    // Refused unchecked, and not journaled: a flood of these must not fill the
                    // journal (the failures that caused the lockout are there).
                    LoginError::Throttled { retry_after_s } => Outcome::Reply(Reply {
                        retry_after_s: Some(retry_after_s),
                        ..Reply::error(429, "too many failed logins; try later")
                    }),
                }
            }
        }
    }
}
