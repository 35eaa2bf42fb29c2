//! The admin API's decisions (sans I/O): every role against every endpoint, token expiry, idle
//! timeout, logout and rotation, forged and altered tokens, TOTP (wrong codes, replay), the
//! failed-login throttle, the scrape credential, and error answers that never repeat a secret.

use std::net::{IpAddr, Ipv4Addr};

use sha2::Digest as _;
use starlog_adapters::admin::api::{AdminApi, Outcome, Query, Request};
use starlog_adapters::admin::auth::{AuthLimits, Authenticator, Operator, Role, TokenKey, TotpKey};
use starlog_engine::events::{Command, Input, OperatorCommand, SecurityEvent};

const T0: u64 = 1_900_000_020; // a TOTP step boundary
const PASSWORD: &str = "correct horse battery";
const TOTP_B32: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const SCRAPE: &str = "scrape-credential-of-forty-characters-xx";
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Cheap Argon2id parameters: the tests check the logic, not the cost.
fn hash(password: &str) -> String {
    starlog_adapters::admin::auth::hash_password_cost(password.as_bytes(), 8, 1).unwrap()
}

fn totp() -> TotpKey {
    TotpKey::from_base32(TOTP_B32).unwrap()
}

fn code(at_s: u64) -> String {
    format!("{:06}", totp().code_at(at_s))
}

fn api() -> AdminApi {
    api_with(AuthLimits::default())
}

fn api_with(limits: AuthLimits) -> AdminApi {
    let h = hash(PASSWORD);
    let operators = vec![
        Operator { name: "vera".into(), role: Role::Viewer, password_hash: h.clone(), totp: None },
        Operator { name: "tom".into(), role: Role::Trader, password_hash: h.clone(), totp: None },
        Operator { name: "ada".into(), role: Role::Admin, password_hash: h, totp: Some(totp()) },
    ];
    let auth = Authenticator::new(operators, limits, TokenKey::from_bytes([9; 32])).unwrap();
    AdminApi::new(auth, Some(sha2::Sha256::digest(SCRAPE.as_bytes()).into()))
}

fn request<'a>(method: &'a str, path: &'a str, bearer: Option<&'a str>, body: &'a [u8]) -> Request<'a> {
    Request { method, path, bearer, body, peer: PEER }
}

fn login_body(operator: &str, password: &str, totp: Option<&str>) -> Vec<u8> {
    serde_json::json!({ "operator": operator, "password": password, "totp": totp }).to_string().into_bytes()
}

/// Logs in and returns the token (panics on failure).
fn login(api: &mut AdminApi, operator: &str, totp: Option<&str>, now: u64) -> String {
    let body = login_body(operator, PASSWORD, totp);
    match api.handle(&request("POST", "/v1/login", None, &body), now) {
        Outcome::Reply(r) if r.status == 200 => {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            v["token"].as_str().unwrap().to_owned()
        }
        other => panic!("login of {operator} failed: {other:?}"),
    }
}

fn status_of(outcome: &Outcome) -> u16 {
    match outcome {
        Outcome::Reply(r) => r.status,
        Outcome::Journal { reply, .. } => reply.status,
        Outcome::Query(_) | Outcome::Command { .. } => 200,
    }
}

fn error_of(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Reply(r) | Outcome::Journal { reply: r, .. } => {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["error"].as_str().unwrap_or("").to_owned()
        }
        other => panic!("not an error: {other:?}"),
    }
}

/// Every endpoint but login and logout: (method, path, body, least role, what the core gets).
fn endpoints() -> Vec<(&'static str, &'static str, &'static str, Role, Option<Command>)> {
    vec![
        ("GET", "/v1/status", "", Role::Viewer, None),
        ("GET", "/metrics", "", Role::Viewer, None),
        ("POST", "/v1/halt", "", Role::Trader, Some(Command::Halt)),
        ("POST", "/v1/resume", "", Role::Trader, Some(Command::Resume)),
        ("POST", "/v1/cancel-all", "", Role::Trader, Some(Command::CancelAll)),
        ("POST", "/v1/incidents/7/ack", "", Role::Trader, Some(Command::AcknowledgeIncident { incident: 7 })),
        (
            "POST",
            "/v1/limits",
            r#"{"limit":"order_amount_stroops_max","value":50000000}"#,
            Role::Admin,
            Some(Command::SetLimit { limit: 1, value: 50_000_000 }),
        ),
        (
            "POST",
            "/v1/validation-level",
            r#"{"level":"STRICT"}"#,
            Role::Admin,
            Some(Command::SetValidationLevel { level: 3 }),
        ),
        ("POST", "/v1/unlock", "", Role::Admin, Some(Command::Unlock)),
    ]
}

#[test]
fn every_role_against_every_endpoint() {
    let mut api = api();
    let mut now = T0;
    for (operator, role, totp) in
        [("vera", Role::Viewer, None), ("tom", Role::Trader, None), ("ada", Role::Admin, Some(code(T0)))]
    {
        let mut token = login(&mut api, operator, totp.as_deref(), now);
        for (method, path, body, least, command) in endpoints() {
            now += 1;
            let outcome = api.handle(&request(method, path, Some(&token), body.as_bytes()), now);
            if role < least {
                assert_eq!(status_of(&outcome), 403, "{operator} ({role}) on {path}: {outcome:?}");
                continue;
            }
            match (outcome, command) {
                (Outcome::Query(q), None) => {
                    assert_eq!(q, if path == "/metrics" { Query::Metrics } else { Query::Status });
                }
                (Outcome::Command { input, operator: by, token: rotated }, Some(expected)) => {
                    assert_eq!(by, operator);
                    assert_eq!(
                        input,
                        Input::Operator(OperatorCommand { operator: operator.into(), command: expected })
                    );
                    // Privilege use rotates the token: the old one is revoked.
                    let rotated = rotated.expect("a rotated token");
                    let old = api.handle(&request("GET", "/v1/status", Some(&token), b""), now);
                    assert_eq!((status_of(&old), error_of(&old).as_str()), (401, "token revoked"));
                    token = rotated;
                }
                (other, command) => panic!("{operator} on {path}: {other:?} (expected {command:?})"),
            }
        }
        // Without a token, or with a wrong method, nothing is allowed.
        for (method, path, body, _, _) in endpoints() {
            let outcome = api.handle(&request(method, path, None, body.as_bytes()), now);
            assert_eq!((status_of(&outcome), error_of(&outcome).as_str()), (401, "authentication required"), "{path}");
            let other = if method == "GET" { "POST" } else { "GET" };
            assert_eq!(status_of(&api.handle(&request(other, path, Some(&token), b""), now)), 405, "{path}");
        }
        let out = api.handle(&request("POST", "/v1/logout", Some(&token), b""), now);
        assert_eq!(status_of(&out), 200);
        let after = api.handle(&request("GET", "/v1/status", Some(&token), b""), now);
        assert_eq!((status_of(&after), error_of(&after).as_str()), (401, "token revoked"), "logged out");
    }
    assert_eq!(status_of(&api.handle(&request("GET", "/v1/nothing", None, b""), now)), 404);
}

#[test]
fn tokens_expire_idle_out_and_cannot_be_forged_or_altered() {
    let mut api = api();
    let limits = AuthLimits::default();
    let status = |api: &mut AdminApi, token: &str, at: u64| {
        let o = api.handle(&request("GET", "/v1/status", Some(token), b""), at);
        (status_of(&o), if status_of(&o) == 200 { String::new() } else { error_of(&o) })
    };
    // Used often enough never to idle out, it still ends at its absolute expiry.
    let token = login(&mut api, "vera", None, T0);
    let mut at = T0;
    while at + limits.idle_timeout_secs / 2 < T0 + limits.token_ttl_secs {
        at += limits.idle_timeout_secs / 2;
        assert_eq!(status(&mut api, &token, at).0, 200, "at +{}", at - T0);
    }
    assert_eq!(status(&mut api, &token, T0 + limits.token_ttl_secs), (401, "token expired".into()));
    // Idle for longer than the idle timeout.
    let token = login(&mut api, "vera", None, T0);
    assert_eq!(status(&mut api, &token, T0 + limits.idle_timeout_secs).0, 200);
    let idle_from = T0 + limits.idle_timeout_secs;
    assert_eq!(
        status(&mut api, &token, idle_from + limits.idle_timeout_secs + 1),
        (401, "session idle for too long".into())
    );

    // Altered anywhere, or signed with another key, or not a token at all: invalid.
    let token = login(&mut api, "tom", None, T0);
    for i in 5..token.len() {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert_eq!(status(&mut api, &altered, T0), (401, "invalid token".into()), "byte {i}");
    }
    let other_key = TokenKey::from_bytes([10; 32]);
    let forged = other_key.encode(&TokenKey::from_bytes([9; 32]).decode(&token).unwrap());
    assert_eq!(status(&mut api, &forged, T0), (401, "invalid token".into()), "another key's MAC");
    // A token raised to admin with a recomputed MAC under a guessed key is still not ours.
    let mut raised = TokenKey::from_bytes([9; 32]).decode(&token).unwrap();
    raised.role = Role::Admin;
    assert_eq!(status(&mut api, &other_key.encode(&raised), T0).0, 401);
    for junk in ["", "slt1_", "Bearer", "slt1_!!!!", &"A".repeat(10_000)] {
        assert_eq!(status(&mut api, junk, T0), (401, "invalid token".into()), "{junk:.20}");
    }
    // The untouched token still works.
    assert_eq!(status(&mut api, &token, T0).0, 200);
}

#[test]
fn an_admin_needs_a_fresh_totp_code_and_a_code_cannot_be_replayed() {
    // More failures here than the throttle allows by default: that is the next test's subject.
    let mut api = api_with(AuthLimits { login_failures_max: 100, ..AuthLimits::default() });
    let attempt = |api: &mut AdminApi, totp: Option<&str>, at: u64| {
        status_of(&api.handle(&request("POST", "/v1/login", None, &login_body("ada", PASSWORD, totp)), at))
    };
    assert_eq!(attempt(&mut api, None, T0), 401, "no code");
    let right = code(T0);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(attempt(&mut api, Some(&wrong), T0), 401, "a wrong code");
    assert_eq!(attempt(&mut api, Some("12345"), T0), 401, "five digits");
    assert_eq!(attempt(&mut api, Some(&code(T0 - 90)), T0), 401, "three steps old");
    assert_eq!(attempt(&mut api, Some(&right), T0), 200, "the current code");
    assert_eq!(attempt(&mut api, Some(&right), T0 + 1), 401, "the same code again: a replay");
    assert_eq!(attempt(&mut api, Some(&code(T0 - 30)), T0 + 1), 401, "an older step after a newer one");
    assert_eq!(attempt(&mut api, Some(&code(T0 + 30)), T0 + 2), 200, "the next step (clock skew)");
    // The right code with a wrong password is no login.
    let wrong_password = login_body("ada", "not the password", Some(&code(T0 + 60)));
    assert_eq!(status_of(&api.handle(&request("POST", "/v1/login", None, &wrong_password), T0 + 60)), 401);
}

#[test]
fn failed_logins_are_journaled_and_throttled() {
    let mut api = api();
    let limits = AuthLimits::default();
    for i in 0..limits.login_failures_max {
        let body = login_body("tom", &format!("guess {i}"), None);
        match api.handle(&request("POST", "/v1/login", None, &body), T0 + u64::from(i)) {
            Outcome::Journal { event, reply } => {
                assert_eq!(event, Input::Security(SecurityEvent::AuthFailure { operator: "tom".into() }));
                assert_eq!(reply.status, 401);
                assert_eq!(error_of(&Outcome::Reply(reply)), "invalid credentials");
            }
            other => panic!("{other:?}"),
        }
    }
    // Locked: even the right password is refused, unchecked and unjournaled.
    let right = login_body("tom", PASSWORD, None);
    match api.handle(&request("POST", "/v1/login", None, &right), T0 + 10) {
        Outcome::Reply(r) => {
            assert_eq!(r.status, 429);
            assert!(r.retry_after_s.unwrap() > 0);
        }
        other => panic!("{other:?}"),
    }
    // The address is locked too: another name from it is refused.
    assert_eq!(
        status_of(&api.handle(&request("POST", "/v1/login", None, &login_body("vera", PASSWORD, None)), T0 + 10)),
        429
    );
    // From another address, vera may log in; tom may not (his name is locked).
    let elsewhere =
        |method, path, body| Request { method, path, bearer: None, body, peer: "10.0.0.2".parse().unwrap() };
    let vera = login_body("vera", PASSWORD, None);
    assert_eq!(status_of(&api.handle(&elsewhere("POST", "/v1/login", &vera), T0 + 11)), 200);
    assert_eq!(status_of(&api.handle(&elsewhere("POST", "/v1/login", &right), T0 + 11)), 429);
    // After the lockout, tom logs in.
    let after = T0 + 10 + limits.login_lockout_secs;
    assert_eq!(status_of(&api.handle(&request("POST", "/v1/login", None, &right), after)), 200);
    // Unknown names are journaled as tried, when they could be names; anything else is not copied.
    match api.handle(&request("POST", "/v1/login", None, &login_body("mallory", "x", None)), after) {
        Outcome::Journal { event, .. } => {
            assert_eq!(event, Input::Security(SecurityEvent::AuthFailure { operator: "mallory".into() }));
        }
        other => panic!("{other:?}"),
    }
    match api.handle(&request("POST", "/v1/login", None, &login_body("<script>\n", "x", None)), after) {
        Outcome::Journal { event, .. } => {
            assert_eq!(event, Input::Security(SecurityEvent::AuthFailure { operator: "(invalid name)".into() }));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_scrape_credential_reads_metrics_and_nothing_else() {
    let mut api = api();
    assert_eq!(api.handle(&request("GET", "/metrics", Some(SCRAPE), b""), T0), Outcome::Query(Query::Metrics));
    for (method, path, body, _, _) in endpoints().into_iter().filter(|e| e.1 != "/metrics") {
        let outcome = api.handle(&request(method, path, Some(SCRAPE), body.as_bytes()), T0);
        assert_eq!(status_of(&outcome), 401, "{path}");
    }
    assert_eq!(status_of(&api.handle(&request("GET", "/metrics", Some("scrape-credential-wrong"), b""), T0)), 401);
}

#[test]
fn bad_requests_get_one_line_that_never_repeats_the_request() {
    let mut api = api();
    let secret = "hunter2-the-password";
    let token = login(&mut api, "ada", Some(&code(T0)), T0);
    let bodies: Vec<(&str, String)> = vec![
        ("/v1/login", format!(r#"{{"operator":"tom","password":"{secret}","extra":1}}"#)),
        ("/v1/login", format!(r#"{{"operator":"tom","password":["{secret}"]}}"#)),
        ("/v1/login", format!(r#"{{"operator":"tom","password":"{secret}""#)),
        ("/v1/login", format!(r#"{{"operator":"{secret}","password":"x","totp":"{secret}{secret}"}}"#)),
        ("/v1/limits", format!(r#"{{"limit":"{secret}","value":1}}"#)),
        ("/v1/limits", format!(r#"{{"limit":"order_amount_stroops_max","value":"{secret}"}}"#)),
        ("/v1/limits", r#"{"limit":"order_amount_stroops_max","value":-5}"#.to_owned()),
        ("/v1/validation-level", format!(r#"{{"level":"{secret}"}}"#)),
        ("/v1/halt", format!(r#"{{"why":"{secret}"}}"#)),
        ("/v1/incidents/x/ack", String::new()),
    ];
    for (path, body) in bodies {
        let outcome = api.handle(&request("POST", path, Some(&token), body.as_bytes()), T0 + 1);
        let status = status_of(&outcome);
        assert!(status == 400 || status == 401, "{path} {body}: {outcome:?}");
        let message = error_of(&outcome);
        assert!(!message.contains(secret) && !message.contains('\n'), "{message}");
        if let Outcome::Journal { event, .. } = &outcome {
            assert!(!format!("{event:?}").contains(secret), "{event:?}");
        }
    }
    let huge = vec![b' '; 20_000];
    assert_eq!(status_of(&api.handle(&request("POST", "/v1/halt", Some(&token), &huge), T0 + 1)), 413);
}
