//! `vault:` key store — Ed25519 keys in a Vault or OpenBao transit engine, over its HTTP API.
//!
//! Owns: [`VaultClient`] (one server address and token, explicit timeouts, no redirects, bounded
//! replies), reading, creating, importing (transit's "bring your own key" wrapping: RSA-OAEP-SHA256
//! over an ephemeral AES-256 key, AES-KWP over the PKCS#8 key) and listing transit keys, and
//! [`VaultSigner`], which pins the key version it opened and checks every signature.
//!
//! The token comes from `VAULT_TOKEN` into a [`Secret`] and is sent only in the `X-Vault-Token`
//! header, only to the address of the key's URI. Errors name the address, mount and key, the HTTP
//! status and at most a short, sanitized `errors[0]` of the reply — never a reply body wholesale.

use core::fmt;
use std::time::Duration;

use aes_kw::{KeyInit, KwpAes256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::Sha256;
use starlog_engine::AccountId;
use ureq::Agent;
use ureq::http::HeaderValue;
use zeroize::Zeroizing;

use super::{KeyError, KeyErrorKind, Secret, SecretSource, Seed, Signer, StoreKind, VaultUri, verify};

/// The environment variable the token is read from.
pub const VAULT_TOKEN_VAR: &str = "VAULT_TOKEN";
/// Longest wait for a TCP (and TLS) connection to the server.
pub const VAULT_CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Longest wait for one whole request, connection included.
pub const VAULT_TIMEOUT_MS: u64 = 10_000;
/// Longest reply read; a longer one is an error.
pub const VAULT_REPLY_BYTES_MAX: u64 = 1 << 20;

/// Longest part of a server's error message quoted in a [`KeyError`], in characters.
const VAULT_ERROR_CHARS_MAX: usize = 160;
/// Size of transit's RSA-4096 wrapping key, and so of the OAEP-wrapped ephemeral key.
const WRAPPING_KEY_BYTES: usize = 512;
/// The PKCS#8 (RFC 8410) DER of an Ed25519 private key up to its 32-byte seed: SEQUENCE { version
/// 0, AlgorithmIdentifier { id-Ed25519 }, OCTET STRING { OCTET STRING (32 bytes) } }.
const PKCS8_ED25519_PREFIX: [u8; 16] =
    [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
/// PKCS#8 Ed25519 private key length.
const PKCS8_ED25519_BYTES: usize = PKCS8_ED25519_PREFIX.len() + 32;
/// AES-KWP output for the PKCS#8 key: padded to 8 bytes, plus the 8-byte integrity block.
const WRAPPED_PKCS8_BYTES: usize = PKCS8_ED25519_BYTES.div_ceil(8) * 8 + 8;
/// The message every key signs once, checked against its public key, after open/generate/import.
const SELF_TEST_MESSAGE: &[u8] = b"starlog vault self-test";
/// What a transit signature starts with, before the key version.
const SIGNATURE_PREFIX: &str = "vault:v";

/// A client for one Vault/OpenBao server and token.
pub struct VaultClient {
    address: String,
    token: Secret,
    agent: Agent,
}

impl fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultClient").field("address", &self.address).finish_non_exhaustive()
    }
}

/// The latest version of an Ed25519 transit key and its public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransitKey {
    pub version: u64,
    pub public_key: AccountId,
}

impl VaultClient {
    /// A client for `address` (`http(s)://host:port`) that sends `token`.
    pub fn new(address: &str, token: Secret) -> Result<VaultClient, KeyError> {
        check_address(address)?;
        if token.expose().is_empty() {
            return Err(KeyError::new(KeyErrorKind::MissingSecret, "vault: the token is empty"));
        }
        let config = Agent::config_builder()
            .http_status_as_error(false)
            // A redirect could carry the token to another host; transit does not need one.
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_millis(VAULT_CONNECT_TIMEOUT_MS)))
            .timeout_global(Some(Duration::from_millis(VAULT_TIMEOUT_MS)))
            .build();
        Ok(VaultClient { address: address.to_owned(), token, agent: Agent::new_with_config(config) })
    }

    /// A client for `address` with the token in `VAULT_TOKEN` ([`KeyErrorKind::MissingSecret`] if unset).
    pub fn from_env(address: &str) -> Result<VaultClient, KeyError> {
        let token = SecretSource::Env(VAULT_TOKEN_VAR.to_owned()).read("vault token")?;
        if token.expose().is_empty() {
            return Err(KeyError::new(
                KeyErrorKind::MissingSecret,
                format!("vault token: environment variable {VAULT_TOKEN_VAR} is empty"),
            ));
        }
        VaultClient::new(address, token)
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// The latest version of transit key `key` under `mount`, which must be a non-derived Ed25519 key.
    pub fn key(&self, mount: &str, key: &str) -> Result<TransitKey, KeyError> {
        check_name(mount, key)?;
        let doing = format!("reading transit key {mount}/keys/{key}");
        let answer = self.get(&format!("{mount}/keys/{key}"), &[])?;
        if answer.status == 404 {
            return Err(self.not_found(mount, key));
        }
        let data = self.data(answer, &doing)?;
        let kind = data["type"].as_str().unwrap_or("(no type)");
        if kind != "ed25519" {
            return Err(KeyError::new(
                KeyErrorKind::Unsupported,
                format!("vault: transit key {mount}/keys/{key} is {:?}, not ed25519", sanitize(kind)),
            ));
        }
        if data["derived"].as_bool() == Some(true) {
            return Err(KeyError::new(
                KeyErrorKind::Unsupported,
                format!("vault: transit key {mount}/keys/{key} derives a key per context; Stellar needs one key"),
            ));
        }
        let malformed = || self.malformed(&doing);
        let version = data["latest_version"].as_u64().filter(|v| *v > 0).ok_or_else(malformed)?;
        let public_key = data["keys"][version.to_string()]["public_key"].as_str().ok_or_else(malformed)?;
        let public_key =
            BASE64.decode(public_key).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(malformed)?;
        Ok(TransitKey { version, public_key: AccountId::from_bytes(public_key) })
    }

    /// Signs `message` with version `version` of `key` (not checked: see [`VaultSigner`]).
    pub fn sign(&self, mount: &str, key: &str, version: u64, message: &[u8]) -> Result<[u8; 64], KeyError> {
        check_name(mount, key)?;
        let doing = format!("signing with transit key {mount}/keys/{key}");
        let body = json!({ "input": BASE64.encode(message), "key_version": version });
        let answer = self.post(&format!("{mount}/sign/{key}"), &body)?;
        if answer.status == 404 {
            return Err(self.not_found(mount, key));
        }
        let data = self.data(answer, &doing)?;
        let bad =
            |why: String| KeyError::new(KeyErrorKind::BadSignature, format!("vault: {} {doing}: {why}", self.address));
        let text = data["signature"].as_str().ok_or_else(|| bad("no signature in the reply".to_owned()))?;
        let (signed_version, signature) = text
            .strip_prefix(SIGNATURE_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .ok_or_else(|| bad("the signature is not vault:vN:BASE64".to_owned()))?;
        if signed_version.parse::<u64>().ok() != Some(version) {
            return Err(bad(format!("signed with key version {:?}, not {version}", sanitize(signed_version))));
        }
        let signature = BASE64.decode(signature).map_err(|_| bad("the signature is not base64".to_owned()))?;
        <[u8; 64]>::try_from(signature).map_err(|s| bad(format!("a {}-byte signature, not 64", s.len())))
    }

    /// Creates an Ed25519 transit key `key` under `mount` (not exportable) and returns its public
    /// key. Refuses ([`KeyErrorKind::AlreadyExists`]) if `key` exists.
    pub fn generate(&self, mount: &str, key: &str) -> Result<AccountId, KeyError> {
        self.refuse_existing(mount, key)?;
        let answer = self.post(&format!("{mount}/keys/{key}"), &json!({ "type": "ed25519" }))?;
        self.data(answer, &format!("creating transit key {mount}/keys/{key}"))?;
        let created = self.key(mount, key)?;
        self.self_test(mount, key, created)?;
        Ok(created.public_key)
    }

    /// Imports `seed` as Ed25519 transit key `key` under `mount` (not exportable) and returns its
    /// public key. Refuses ([`KeyErrorKind::AlreadyExists`]) if `key` exists.
    pub fn import(&self, mount: &str, key: &str, seed: &Seed) -> Result<AccountId, KeyError> {
        self.refuse_existing(mount, key)?;
        let doing = format!("reading the wrapping key of {mount}");
        let answer = self.get(&format!("{mount}/wrapping_key"), &[])?;
        let data = self.data(answer, &doing)?;
        let pem = data["public_key"].as_str().ok_or_else(|| self.malformed(&doing))?;
        let wrapping_key = rsa::PublicKey::from_public_key_pem(pem).map_err(|_| self.malformed(&doing))?;
        if wrapping_key.size() != WRAPPING_KEY_BYTES {
            return Err(KeyError::new(
                KeyErrorKind::StoreError,
                format!(
                    "vault: the wrapping key of {}/{mount} has {} bits, not {}",
                    self.address,
                    wrapping_key.size() * 8,
                    WRAPPING_KEY_BYTES * 8
                ),
            ));
        }
        let ciphertext = wrap_for_import(&wrapping_key, seed)?;
        let body = json!({ "ciphertext": ciphertext, "type": "ed25519", "hash_function": "SHA256" });
        let answer = self.post(&format!("{mount}/keys/{key}/import"), &body)?;
        self.data(answer, &format!("importing transit key {mount}/keys/{key}"))?;
        let imported = self.key(mount, key)?;
        if imported.public_key != seed.public_key() {
            return Err(KeyError::new(
                KeyErrorKind::StoreError,
                format!(
                    "vault: imported transit key {mount}/keys/{key} has public key {}, not the seed's {}",
                    imported.public_key,
                    seed.public_key()
                ),
            ));
        }
        self.self_test(mount, key, imported)?;
        Ok(imported.public_key)
    }

    /// The names and public keys of the Ed25519 keys under `mount`, sorted by name. Keys of other
    /// types (and derived keys) are left out.
    pub fn list(&self, mount: &str) -> Result<Vec<(String, AccountId)>, KeyError> {
        check_mount(mount)?;
        let doing = format!("listing the keys of {mount}");
        let answer = self.get(&format!("{mount}/keys"), &[("list", "true")])?;
        if answer.status == 404 {
            // No keys yet answers 404 with no error; a mount without a transit engine names the route.
            return match first_error(&answer.body) {
                None => Ok(Vec::new()),
                Some(_) => Err(KeyError::new(
                    KeyErrorKind::NotFound,
                    format!("vault: no transit engine at {}/{mount}", self.address),
                )),
            };
        }
        let data = self.data(answer, &doing)?;
        let names = data["keys"].as_array().ok_or_else(|| self.malformed(&doing))?;
        let mut listed = Vec::with_capacity(names.len());
        for name in names.iter().filter_map(Value::as_str).filter(|name| name_ok(name)) {
            match self.key(mount, name) {
                Ok(key) => listed.push((name.to_owned(), key.public_key)),
                // Deleted meanwhile, or not an Ed25519 key.
                Err(e) if matches!(e.kind(), KeyErrorKind::NotFound | KeyErrorKind::Unsupported) => {}
                Err(e) => return Err(e),
            }
        }
        listed.sort();
        Ok(listed)
    }

    fn refuse_existing(&self, mount: &str, key: &str) -> Result<(), KeyError> {
        check_name(mount, key)?;
        let answer = self.get(&format!("{mount}/keys/{key}"), &[])?;
        if answer.status == 404 {
            return Ok(());
        }
        self.data(answer, &format!("reading transit key {mount}/keys/{key}"))?;
        Err(KeyError::new(
            KeyErrorKind::AlreadyExists,
            format!("vault: transit key {mount}/keys/{key} already exists at {}", self.address),
        ))
    }

    fn self_test(&self, mount: &str, key: &str, transit: TransitKey) -> Result<(), KeyError> {
        let signature = self.sign(mount, key, transit.version, SELF_TEST_MESSAGE)?;
        if !verify(&transit.public_key, SELF_TEST_MESSAGE, &signature) {
            return Err(KeyError::new(
                KeyErrorKind::BadSignature,
                format!(
                    "vault: the self-test signature of transit key {mount}/keys/{key} at {} does not verify",
                    self.address
                ),
            ));
        }
        Ok(())
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Answer, KeyError> {
        let mut request = self.agent.get(format!("{}/v1/{path}", self.address)).header("X-Vault-Token", self.header()?);
        for (name, value) in query {
            request = request.query(*name, *value);
        }
        self.answer(request.call())
    }

    fn post(&self, path: &str, body: &Value) -> Result<Answer, KeyError> {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        let request = self
            .agent
            .post(format!("{}/v1/{path}", self.address))
            .header("X-Vault-Token", self.header()?)
            .content_type("application/json");
        self.answer(request.send(&body[..]))
    }

    fn header(&self) -> Result<HeaderValue, KeyError> {
        let mut value = HeaderValue::from_str(self.token.expose()).map_err(|_| {
            KeyError::new(KeyErrorKind::MissingSecret, "vault: the token has characters an HTTP header cannot carry")
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn answer(&self, reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Answer, KeyError> {
        let mut reply = reply.map_err(|e| self.transport_error(&e))?;
        let status = reply.status().as_u16();
        let bytes = reply.body_mut().with_config().limit(VAULT_REPLY_BYTES_MAX).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => KeyError::new(
                KeyErrorKind::StoreError,
                format!("vault: {} sent a reply longer than {VAULT_REPLY_BYTES_MAX} bytes", self.address),
            ),
            other => self.transport_error(&other),
        })?;
        // An empty reply (204) or a non-JSON error page is `Null`; callers that need data say so.
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    /// The `data` of a successful answer; an error for any other status.
    fn data(&self, answer: Answer, doing: &str) -> Result<Value, KeyError> {
        let address = &self.address;
        let quoted = first_error(&answer.body).map(|e| format!(": {e}")).unwrap_or_default();
        match answer.status {
            200..=299 => Ok(match answer.body {
                Value::Object(mut reply) => reply.remove("data").unwrap_or(Value::Null),
                _ => Value::Null,
            }),
            // Transit has no key-level permissions to tell apart: this is the token or its policy.
            403 => Err(KeyError::new(
                KeyErrorKind::PermissionDenied,
                format!("vault: {address} refused {doing}: permission denied (check {VAULT_TOKEN_VAR} and its policy)"),
            )),
            status => Err(KeyError::new(
                KeyErrorKind::StoreError,
                format!("vault: {address} answered HTTP {status} to {doing}{quoted}"),
            )),
        }
    }

    fn not_found(&self, mount: &str, key: &str) -> KeyError {
        KeyError::new(
            KeyErrorKind::NotFound,
            format!("vault: no transit key {mount}/keys/{key} at {} (or no transit engine at {mount})", self.address),
        )
    }

    fn malformed(&self, doing: &str) -> KeyError {
        KeyError::new(KeyErrorKind::StoreError, format!("vault: {} sent an unexpected reply to {doing}", self.address))
    }

    fn transport_error(&self, e: &ureq::Error) -> KeyError {
        let address = &self.address;
        let why = match e {
            ureq::Error::Timeout(_) => "timed out".to_owned(),
            ureq::Error::HostNotFound => "host not found".to_owned(),
            ureq::Error::ConnectionFailed => "connection failed".to_owned(),
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                _ => sanitize(&io.to_string()),
            },
            other => {
                return KeyError::new(
                    KeyErrorKind::StoreError,
                    format!("vault: talking to {address} failed: {}", sanitize(&other.to_string())),
                );
            }
        };
        KeyError::new(KeyErrorKind::Unreachable, format!("vault: cannot reach {address}: {why}"))
    }
}

/// A status and its parsed JSON body (`Null` if none).
struct Answer {
    status: u16,
    body: Value,
}

/// Signs with a transit key, pinned to the key version current when it was opened: a rotation
/// in Vault does not change the account a signer signs for. Every signature is checked against
/// the public key before it is returned.
pub struct VaultSigner {
    client: VaultClient,
    mount: String,
    key: String,
    version: u64,
    public_key: AccountId,
    uri: String,
}

impl fmt::Debug for VaultSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSigner")
            .field("public_key", &self.public_key)
            .field("uri", &self.uri)
            .field("version", &self.version)
            .finish()
    }
}

impl VaultSigner {
    /// Opens the key `uri` names, with the token in `VAULT_TOKEN`. The key signs a test message,
    /// checked against its public key, before this returns.
    pub fn open(uri: &VaultUri) -> Result<VaultSigner, KeyError> {
        VaultSigner::with_client(VaultClient::from_env(&uri.address)?, &uri.mount, &uri.key)
    }

    /// As [`VaultSigner::open`], with a client made by the caller (a token from elsewhere).
    pub fn with_client(client: VaultClient, mount: &str, key: &str) -> Result<VaultSigner, KeyError> {
        let transit = client.key(mount, key)?;
        client.self_test(mount, key, transit)?;
        Ok(VaultSigner {
            uri: format!("vault:{}/{mount}/keys/{key}", client.address),
            client,
            mount: mount.to_owned(),
            key: key.to_owned(),
            version: transit.version,
            public_key: transit.public_key,
        })
    }

    /// The key version this signer signs with.
    pub fn version(&self) -> u64 {
        self.version
    }
}

impl Signer for VaultSigner {
    fn public_key(&self) -> AccountId {
        self.public_key
    }

    fn store(&self) -> StoreKind {
        StoreKind::Vault
    }

    fn uri(&self) -> &str {
        &self.uri
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        let signature = self.client.sign(&self.mount, &self.key, self.version, message)?;
        if !verify(&self.public_key, message, &signature) {
            return Err(KeyError::new(
                KeyErrorKind::BadSignature,
                format!(
                    "vault: a signature from {} does not verify against its public key {}",
                    self.uri, self.public_key
                ),
            ));
        }
        Ok(signature)
    }
}

/// Creates Ed25519 transit key `uri` (token from `VAULT_TOKEN`); see [`VaultClient::generate`].
pub fn generate(uri: &VaultUri) -> Result<AccountId, KeyError> {
    VaultClient::from_env(&uri.address)?.generate(&uri.mount, &uri.key)
}

/// Imports `seed` as transit key `uri` (token from `VAULT_TOKEN`); see [`VaultClient::import`].
pub fn import(uri: &VaultUri, seed: &Seed) -> Result<AccountId, KeyError> {
    VaultClient::from_env(&uri.address)?.import(&uri.mount, &uri.key, seed)
}

/// The Ed25519 keys under `mount` at `address` (token from `VAULT_TOKEN`); see [`VaultClient::list`].
pub fn list(address: &str, mount: &str) -> Result<Vec<(String, AccountId)>, KeyError> {
    check_address(address)?;
    check_mount(mount)?;
    VaultClient::from_env(address)?.list(mount)
}

/// The import ciphertext for `seed`: RSA-OAEP-SHA256(ephemeral AES-256 key) || AES-KWP(ephemeral
/// key, PKCS#8 Ed25519 private key), base64. The ephemeral key and the PKCS#8 bytes are zeroized.
fn wrap_for_import(wrapping_key: &rsa::PublicKey, seed: &Seed) -> Result<String, KeyError> {
    let failed =
        |what: &str| KeyError::new(KeyErrorKind::StoreError, format!("vault: wrapping the key for import: {what}"));
    let mut ephemeral = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut ephemeral[..])
        .map_err(|_| KeyError::new(KeyErrorKind::Io, "the operating system's random source failed"))?;
    let mut pkcs8 = Zeroizing::new([0u8; PKCS8_ED25519_BYTES]);
    pkcs8[..PKCS8_ED25519_PREFIX.len()].copy_from_slice(&PKCS8_ED25519_PREFIX);
    pkcs8[PKCS8_ED25519_PREFIX.len()..].copy_from_slice(seed.as_bytes());
    let mut ciphertext = wrapping_key.oaep_encrypt::<Sha256>(&ephemeral[..]).map_err(|_| failed("RSA-OAEP failed"))?;
    let kwp = KwpAes256::new_from_slice(&ephemeral[..]).map_err(|_| failed("AES key setup failed"))?;
    let mut wrapped = [0u8; WRAPPED_PKCS8_BYTES];
    kwp.wrap_key(&pkcs8[..], &mut wrapped).map_err(|_| failed("AES-KWP failed"))?;
    ciphertext.extend_from_slice(&wrapped);
    Ok(BASE64.encode(ciphertext))
}

/// The first of the reply's `errors`, sanitized; `None` if there is none.
fn first_error(body: &Value) -> Option<String> {
    body["errors"].as_array()?.first()?.as_str().map(sanitize).filter(|e| !e.is_empty())
}

/// At most [`VAULT_ERROR_CHARS_MAX`] characters of `text`, control characters made spaces.
fn sanitize(text: &str) -> String {
    let mut out: String =
        text.chars().take(VAULT_ERROR_CHARS_MAX).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().count() > VAULT_ERROR_CHARS_MAX {
        out.push_str("...");
    }
    out.trim().to_owned()
}

/// A key name or mount segment: letters, digits, `-`, `_` and `.` (as `vault:` URIs allow).
fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn check_mount(mount: &str) -> Result<(), KeyError> {
    if mount.split('/').all(name_ok) {
        Ok(())
    } else {
        Err(KeyError::misuse(format!(
            "vault: mount {:?} is not letters, digits, '-', '_', '.' and '/'",
            sanitize(mount)
        )))
    }
}

fn check_name(mount: &str, key: &str) -> Result<(), KeyError> {
    check_mount(mount)?;
    if name_ok(key) {
        Ok(())
    } else {
        Err(KeyError::misuse(format!("vault: key name {:?} is not letters, digits, '-', '_' and '.'", sanitize(key))))
    }
}

/// `http(s)://host[:port]`, with nothing after the authority.
fn check_address(address: &str) -> Result<(), KeyError> {
    let authority = address.strip_prefix("http://").or_else(|| address.strip_prefix("https://"));
    match authority {
        Some(authority)
            if !authority.is_empty()
                && !authority.contains(['/', '?', '#', '@'])
                && !authority.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(KeyError::misuse(format!(
            "vault: address {:?} is not http(s)://HOST:PORT (no path, query or credentials)",
            sanitize(address)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_prefix_and_wrapped_length_match_rfc_8410_and_5649() {
        // The PKCS#8 SEQUENCE holds everything after its 2-byte header.
        assert_eq!(usize::from(PKCS8_ED25519_PREFIX[1]), PKCS8_ED25519_BYTES - 2);
        assert_eq!((PKCS8_ED25519_BYTES, WRAPPED_PKCS8_BYTES), (48, 56));
    }

    #[test]
    fn addresses_and_names_are_checked() {
        for ok in ["http://127.0.0.1:8200", "https://vault.example:8200", "http://[::1]:8200"] {
            assert!(check_address(ok).is_ok(), "{ok}");
        }
        for bad in ["127.0.0.1:8200", "http://", "http://h/v1", "http://u:p@h", "ftp://h", "http://h ?"] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
        assert!(check_name("transit", "trader-1.a_b").is_ok());
        assert!(check_name("a/transit", "k").is_ok());
        for (mount, key) in [("transit", "a/b"), ("transit", ""), ("", "k"), ("t//x", "k"), ("transit", "k?x")] {
            assert!(check_name(mount, key).is_err(), "{mount} {key}");
        }
    }

    #[test]
    fn errors_quote_little_and_on_one_line() {
        let body = json!({ "errors": [format!("bad\nthing {}", "x".repeat(500))] });
        let quoted = first_error(&body).unwrap();
        assert!(!quoted.contains('\n') && quoted.chars().count() <= VAULT_ERROR_CHARS_MAX + 3, "{quoted}");
        assert_eq!(first_error(&json!({ "errors": [] })), None);
        assert_eq!(first_error(&Value::Null), None);
    }
}
