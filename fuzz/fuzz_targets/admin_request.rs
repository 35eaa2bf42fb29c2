//! Fuzzes the admin API's request handling ([`AdminApi::handle`]: routing, JSON bodies, login,
//! bearer tokens) without a socket, on an API with a viewer, a trader and an admin (TOTP).
//!
//! Input: first byte picks the method and whether to send the trader's token, a mangled one or
//! none; then the path up to the first newline, then the body.
//!
//! Properties: no panic; every answer has a known status; every error body is JSON whose
//! `error` is one of the API's fixed messages (so it can never repeat what the request sent: a
//! password must not come back); a state-changing call is one a trader may make, journaled under
//! the trader's name.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use starlog_adapters::admin::api::{AdminApi, Outcome, Request};
use starlog_adapters::admin::auth::{self, AuthLimits, Authenticator, Operator, Role, TokenKey, TotpKey};
use starlog_engine::events::{Command, Input};

const NOW: u64 = 1_900_000_000;

fn api() -> &'static Mutex<(AdminApi, String)> {
    static API: OnceLock<Mutex<(AdminApi, String)>> = OnceLock::new();
    API.get_or_init(|| {
        let hash = auth::hash_password_cost(b"fuzz-password", 8, 1).expect("hash");
        let totp = TotpKey::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").expect("key");
        let operators = vec![
            Operator { name: "vera".into(), role: Role::Viewer, password_hash: hash.clone(), totp: None },
            Operator { name: "tom".into(), role: Role::Trader, password_hash: hash.clone(), totp: None },
            Operator { name: "ada".into(), role: Role::Admin, password_hash: hash, totp: Some(totp) },
        ];
        // No lockouts and long sessions: the fuzzer keeps one trader session for its whole run.
        let limits = AuthLimits {
            login_failures_max: u32::MAX,
            token_ttl_secs: u64::MAX / 4,
            idle_timeout_secs: u64::MAX / 4,
            ..AuthLimits::default()
        };
        let auth = Authenticator::new(operators, limits, TokenKey::from_bytes([3; 32])).expect("authenticator");
        let mut api = AdminApi::new(auth, None);
        let body = br#"{"operator":"tom","password":"fuzz-password"}"#;
        let login = Request { method: "POST", path: "/v1/login", bearer: None, body, peer: IpAddr::V4(Ipv4Addr::LOCALHOST) };
        let Outcome::Reply(reply) = api.handle(&login, NOW) else { panic!("login") };
        let token = serde_json::from_str::<serde_json::Value>(&reply.body).expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned();
        Mutex::new((api, token))
    })
}

/// Every error message the API can give: fixed texts, so none can carry what a request sent.
fn known(message: &str) -> bool {
    const FIXED: [&str; 18] = [
        "authentication required",
        "invalid token",
        "token expired",
        "session idle for too long",
        "token revoked",
        "invalid credentials",
        "too many failed logins; try later",
        "no such endpoint",
        "method not allowed",
        "this endpoint takes no body",
        "the body is too large",
        "totp: at most 16 characters",
        "limit: not a risk limit's name",
        "value: out of range for this limit",
        "level: BASIC, STANDARD, STRICT or PARANOID",
        "the incident id must be a decimal integer",
        r#"the body must be {"limit": NAME, "value": INTEGER}"#,
        r#"the body must be {"level": "BASIC|STANDARD|STRICT|PARANOID"}"#,
    ];
    const LOGIN_SHAPE: &str = r#"the body must be {"operator": NAME, "password": TEXT, "totp": "123456"}"#;
    let roles = ["viewer", "trader", "admin"];
    FIXED.contains(&message)
        || message == LOGIN_SHAPE
        || roles.iter().any(|a| roles.iter().any(|b| message == format!("{a} may not do this ({b} required)")))
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let (line, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(path) = std::str::from_utf8(line) else { return };
    let method = ["GET", "POST", "PUT", "DELETE"][usize::from(first & 3)];
    let mut guard = api().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (api, token) = &mut *guard;
    let mangled = format!("{}x", &token[..token.len() - 1]);
    let bearer = match (first >> 2) & 3 {
        0 => None,
        1 => Some(mangled.as_str()),
        _ => Some(token.as_str()),
    };
    let request = Request { method, path, bearer, body, peer: IpAddr::V4(Ipv4Addr::LOCALHOST) };
    let outcome = api.handle(&request, NOW);
    let reply = match &outcome {
        Outcome::Reply(r) | Outcome::Journal { reply: r, .. } => r,
        Outcome::Query(_) => return,
        Outcome::Command { input, operator, token: rotated } => {
            assert_eq!(operator, "tom", "only the trader has a session");
            let Input::Operator(op) = input else { panic!("a command journals an operator command") };
            assert_eq!(op.operator, "tom");
            assert!(
                matches!(
                    op.command,
                    Command::Halt | Command::Resume | Command::CancelAll | Command::AcknowledgeIncident { .. }
                ),
                "a trader's command: {input:?}"
            );
            // Privilege use rotated the token: keep the new one.
            *token = rotated.clone().expect("a rotated token");
            return;
        }
    };
    assert!(
        [200, 400, 401, 403, 404, 405, 413, 429].contains(&reply.status),
        "status {} for {method} {path:?}",
        reply.status
    );
    let v: serde_json::Value = serde_json::from_str(&reply.body).expect("a JSON body");
    if reply.status != 200 {
        let error = v["error"].as_str().expect("an error message");
        assert!(known(error), "an error message that is not one of the fixed texts: {error:?}");
    }
});
