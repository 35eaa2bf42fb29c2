//! The admin API over the wire: plain HTTP on loopback, and HTTPS with client certificates
//! (certificates made by the `openssl` command for each test), against a stand-in core that
//! answers the API's calls the way the live loop does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use starlog_adapters::admin::api::{AdminApi, Query};
use starlog_adapters::admin::auth::{AuthLimits, Authenticator, Role, TokenKey};
use starlog_adapters::admin::client::{AdminClient, ClientTls};
use starlog_adapters::admin::server::{AdminServer, CoreLink};
use starlog_adapters::admin::{AdminCall, AdminConfig, OperatorConfig};
use starlog_engine::events::Input;

const PASSWORD: &str = "a password for the wire tests";

fn hash() -> String {
    starlog_adapters::admin::auth::hash_password_cost(PASSWORD.as_bytes(), 8, 1).unwrap()
}

fn config(listen: &str, tls: Option<(&Path, &Path, Option<&Path>)>) -> AdminConfig {
    AdminConfig {
        listen: listen.parse().unwrap(),
        limits: AuthLimits::default(),
        scrape_token_sha256: None,
        tls_cert: tls.map(|t| t.0.to_owned()),
        tls_key: tls.map(|t| t.1.to_owned()),
        tls_client_ca: tls.and_then(|t| t.2.map(Path::to_owned)),
        operators: vec![OperatorConfig {
            name: "tom".into(),
            role: Role::Trader,
            password_hash: hash(),
            totp_secret: None,
        }],
    }
}

/// A core stand-in: answers queries, numbers commands from 100, keeps what it journaled.
fn core() -> (CoreLink, Arc<Mutex<Vec<Input>>>) {
    let journaled = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = crossbeam_channel::unbounded::<AdminCall>();
    let kept = Arc::clone(&journaled);
    std::thread::spawn(move || {
        for call in rx {
            match call {
                AdminCall::Query { query, reply } => {
                    let _ =
                        reply.send(if query == Query::Status { r#"{"halted":false}"#.into() } else { "x 1\n".into() });
                }
                AdminCall::Command { input, reply } => {
                    let mut kept = kept.lock().unwrap();
                    kept.push(input);
                    let _ = reply.send(99 + kept.len() as u64);
                }
                AdminCall::Event(input) => kept.lock().unwrap().push(input),
            }
        }
    });
    (Arc::new(move |call| tx.send(call).is_ok()), journaled)
}

fn start(config: &AdminConfig) -> (AdminServer, Arc<Mutex<Vec<Input>>>) {
    let operators = config.load_operators().unwrap();
    let auth = Authenticator::new(operators, config.limits, TokenKey::generate().unwrap()).unwrap();
    let (link, journaled) = core();
    (AdminServer::start(config, AdminApi::new(auth, None), link).unwrap(), journaled)
}

fn login_body() -> String {
    serde_json::json!({ "operator": "tom", "password": PASSWORD }).to_string()
}

/// Logs in, halts (the answer carries a rotated token, header and body), reads the status.
fn session(client: &AdminClient) {
    let login = client.request("POST", "/v1/login", None, Some(&login_body())).unwrap();
    assert_eq!(login.status, 200, "{}", login.body);
    let token = serde_json::from_str::<serde_json::Value>(&login.body).unwrap()["token"].as_str().unwrap().to_owned();
    let halt = client.request("POST", "/v1/halt", Some(&token), None).unwrap();
    assert_eq!(halt.status, 200, "{}", halt.body);
    let body: serde_json::Value = serde_json::from_str(&halt.body).unwrap();
    assert_eq!((body["seq"].as_u64(), body["operator"].as_str()), (Some(100), Some("tom")));
    let rotated = halt.token.expect("X-Starlog-Token");
    assert_eq!(body["token"], rotated.as_str());
    assert_eq!(client.request("GET", "/v1/status", Some(&token), None).unwrap().status, 401, "the old token");
    let status = client.request("GET", "/v1/status", Some(&rotated), None).unwrap();
    assert_eq!((status.status, status.body.as_str()), (200, r#"{"halted":false}"#));
}

#[test]
fn plain_http_on_loopback_logs_in_journals_commands_and_failed_logins() {
    let (server, journaled) = start(&config("127.0.0.1:0", None));
    let client = AdminClient::new(&server.url(), &ClientTls::default()).unwrap();
    session(&client);
    let bad = serde_json::json!({ "operator": "tom", "password": "wrong" }).to_string();
    let refused = client.request("POST", "/v1/login", None, Some(&bad)).unwrap();
    assert_eq!((refused.status, refused.error_message().as_str()), (401, "invalid credentials"));
    let big = " ".repeat(64 * 1024);
    assert_eq!(client.request("POST", "/v1/halt", None, Some(&big)).unwrap().status, 413);
    // The failed login's event is sent without waiting for the core: give it a moment.
    for _ in 0..600 {
        if journaled.lock().unwrap().len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let journaled = journaled.lock().unwrap().iter().map(|i| format!("{i:?}")).collect::<Vec<_>>();
    assert_eq!(journaled.len(), 2, "{journaled:?}");
    assert!(journaled[0].contains("operator: \"tom\"") && journaled[0].contains("Halt"), "{journaled:?}");
    assert!(journaled[1].contains("AuthFailure"), "{journaled:?}");
    let stats = server.stats();
    assert_eq!(stats.unauthorized.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[test]
fn beyond_loopback_tls_is_required() {
    let refused = config("0.0.0.0:0", None).validate().unwrap_err();
    assert!(refused.contains("tls_cert and tls_key are required"), "{refused}");
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("the openssl command");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `openssl req` arguments for a new P-256 key, written unencrypted to the file that follows.
const NEW_EC_KEY: [&str; 6] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout"];

/// A CA, and a certificate it signs for `name` with extended key usage `usage`.
fn ca(dir: &Path, ca: &str) {
    let subject = format!("/CN={ca}");
    let (key, crt) = (format!("{ca}.key"), format!("{ca}.crt"));
    let mut args = vec!["req", "-x509"];
    args.extend(NEW_EC_KEY);
    args.extend([&key, "-out", &crt, "-days", "2", "-subj", &subject]);
    args.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &args);
}

fn issue(dir: &Path, ca: &str, name: &str, usage: &str) -> (PathBuf, PathBuf) {
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
    let subject = format!("/CN={name}");
    let mut args = vec!["req"];
    args.extend(NEW_EC_KEY);
    args.extend([&key, "-out", &csr, "-subj", &subject]);
    openssl(dir, &args);
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            ext.to_str().unwrap(),
        ],
    );
    (dir.join(crt), dir.join(key))
}

#[test]
fn https_with_client_certificates_serves_only_clients_the_ca_signed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ca(d, "ops-ca");
    ca(d, "rogue-ca");
    let (server_crt, server_key) = issue(d, "ops-ca", "server", "serverAuth");
    let (client_crt, client_key) = issue(d, "ops-ca", "client", "clientAuth");
    let (rogue_crt, rogue_key) = issue(d, "rogue-ca", "rogue", "clientAuth");
    let ca_crt = d.join("ops-ca.crt");
    let config = config("127.0.0.1:0", Some((&server_crt, &server_key, Some(&ca_crt))));
    let (server, _) = start(&config);
    assert!(server.url().starts_with("https://"));
    let addr: SocketAddr = server.addr();
    let url = format!("https://localhost:{}", addr.port());
    let with = |cert: Option<(&PathBuf, &PathBuf)>| {
        let tls =
            ClientTls { ca: Some(ca_crt.clone()), cert: cert.map(|c| c.0.clone()), key: cert.map(|c| c.1.clone()) };
        AdminClient::new(&url, &tls).unwrap()
    };
    // An operator with a certificate from the operators' CA gets in.
    session(&with(Some((&client_crt, &client_key))));
    // No certificate, or one from another CA: the handshake fails, nothing is served.
    for client in [with(None), with(Some((&rogue_crt, &rogue_key)))] {
        let failed = client.request("POST", "/v1/login", None, Some(&login_body()));
        assert!(failed.is_err(), "{failed:?}");
    }
    // Plain HTTP to the TLS port is not served either.
    let plain = AdminClient::new(&format!("http://127.0.0.1:{}", addr.port()), &ClientTls::default()).unwrap();
    assert!(plain.request("GET", "/v1/status", None, None).map(|a| a.status).is_err_and(|e| !e.is_empty()));
    assert!(server.stats().tls_failures.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    // A server certificate the client's CA did not sign is refused by the client.
    let strict =
        AdminClient::new(&url, &ClientTls { ca: Some(d.join("rogue-ca.crt")), cert: None, key: None }).unwrap();
    assert!(strict.request("GET", "/v1/status", None, None).is_err());
}
