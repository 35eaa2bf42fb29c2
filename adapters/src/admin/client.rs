//! The admin API's client side, for `starlog ctl`: requests over HTTP or HTTPS (a private CA,
//! and a client certificate when the server requires one), and the token file that keeps the
//! session token between commands (mode 0600, replaced atomically when the server rotates it).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

/// TLS material of a client (PEM files), all optional.
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    /// Trust this CA (instead of the public roots).
    pub ca: Option<PathBuf>,
    /// Present this certificate chain and key.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// An answer from the API.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// A rotated token (`X-Starlog-Token`).
    pub token: Option<String>,
}

impl Answer {
    /// The `error` field of an error body, or the body.
    pub fn error_message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| self.body.chars().take(200).collect())
    }
}

/// The certificates of a PEM file (at least one).
fn certificates(path: &Path, flag: &str) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let pem = read(path, flag)?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!("{flag} {}: no certificate", path.display()));
    }
    Ok(certs)
}

/// A client of one admin API.
#[derive(Debug)]
pub struct AdminClient {
    base: String,
    agent: ureq::Agent,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

impl AdminClient {
    pub fn new(base_url: &str, tls: &ClientTls) -> Result<AdminClient, String> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("--api {base}: must start with http:// or https://"));
        }
        let mut tls_config = ureq::tls::TlsConfig::builder();
        if let Some(ca) = &tls.ca {
            let certs = certificates(ca, "--ca")?;
            tls_config = tls_config.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => {
                let chain = certificates(cert, "--cert")?;
                let key_pem = Zeroizing::new(read(key, "--key")?);
                let key = ureq::tls::PrivateKey::from_pem(&key_pem)
                    .map_err(|_| format!("--key {}: no PEM private key", key.display()))?;
                tls_config = tls_config.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
            }
            (None, None) => {}
            _ => return Err("--cert and --key go together".into()),
        }
        let timeout = Some(Duration::from_secs(30));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(timeout)
            .user_agent("starlog-ctl")
            .tls_config(tls_config.build())
            .build()
            .into();
        Ok(AdminClient { base, agent })
    }

    /// One request; `body` is JSON.
    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Result<Answer, String> {
        let url = format!("{}{path}", self.base);
        let bearer = token.map(|t| Zeroizing::new(format!("Bearer {t}")));
        let result = match method {
            "GET" => {
                let mut request = self.agent.get(&url);
                if let Some(b) = &bearer {
                    request = request.header("authorization", b.as_str());
                }
                request.call()
            }
            _ => {
                let mut request = self.agent.post(&url).header("content-type", "application/json");
                if let Some(b) = &bearer {
                    request = request.header("authorization", b.as_str());
                }
                request.send(body.unwrap_or("").as_bytes())
            }
        };
        let mut response = result.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let token = response.headers().get("x-starlog-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body =
            response.body_mut().with_config().limit(4 << 20).read_to_string().map_err(|e| format!("{url}: {e}"))?;
        Ok(Answer { status, body, token })
    }
}

/// Reads the saved token, if any.
pub fn load_token(path: &Path) -> Result<Option<Zeroizing<String>>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(Zeroizing::new(text.trim().to_owned()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("token file {}: {e}", path.display())),
    }
}

/// Saves a token (mode 0600; written to a temporary file and renamed over the old one).
pub fn save_token(path: &Path, token: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("token file {}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(token.as_bytes()).and_then(|()| file.sync_all()).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Removes the saved token.
pub fn forget_token(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("token file {}: {e}", path.display())),
    }
}
