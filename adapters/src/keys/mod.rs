//! Key stores and the one seam every signature goes through: [`Signer`].
//!
//! A store is named by a URI (DESIGN.md): `env:VAR`, `file:PATH`, `pkcs11:…` (RFC 7512) or
//! `vault:URL/MOUNT/keys/NAME`. [`KeyUri::parse`] turns the text into a [`KeyUri`];
//! [`open_signer`] opens the store under a [`SecurityLevel`] that may refuse it (PRODUCTION and
//! STAGING refuse `env:` keys). Each store lives in its own module:
//!
//! | URI        | module        | where the key is                                      |
//! |------------|---------------|-------------------------------------------------------|
//! | `env:`     | this one      | an `S…` seed in an environment variable (development) |
//! | `file:`    | [`file`]      | an Argon2id + XChaCha20-Poly1305 encrypted key file    |
//! | `pkcs11:`  | [`pkcs11`]    | a non-extractable key in an HSM token (CKM_EDDSA)      |
//! | `vault:`   | [`vault`]     | a Vault/OpenBao transit key                            |
//!
//! Secret hygiene: seeds, passphrases and PINs live only in [`Seed`] and [`Secret`], which
//! zeroize on drop and print as `<redacted>`. A [`KeyError`] is built from non-secret context
//! only (URIs, paths, variable names, store replies stripped of bodies), so an error message can
//! go to a log as it is.

pub mod file;
pub mod multisig;
pub mod pkcs11;
pub mod sep5;
pub mod vault;

use core::fmt;
use std::path::PathBuf;

use ed25519_dalek::{Signer as _, SigningKey};
use starlog_engine::AccountId;
use zeroize::Zeroizing;

/// How strict the session is about where keys may live (seed: DEVELOPMENT … PRODUCTION).
/// The code is what `SessionStart.security_level` journals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum SecurityLevel {
    Development = 1,
    Testing = 2,
    Staging = 3,
    Production = 4,
}

impl SecurityLevel {
    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn from_code(code: u8) -> Option<SecurityLevel> {
        match code {
            1 => Some(SecurityLevel::Development),
            2 => Some(SecurityLevel::Testing),
            3 => Some(SecurityLevel::Staging),
            4 => Some(SecurityLevel::Production),
            _ => None,
        }
    }

    /// Whether keys from `store` may sign at this level. `env:` seeds sit in a process's
    /// environment, readable by anything that can read `/proc/PID/environ`: development and
    /// testing only.
    pub const fn allows(self, store: StoreKind) -> bool {
        match store {
            StoreKind::Env => matches!(self, SecurityLevel::Development | SecurityLevel::Testing),
            StoreKind::File | StoreKind::Pkcs11 | StoreKind::Vault => true,
        }
    }

    /// [`SecurityLevel::allows`] as a result: the error names the store and the level.
    pub fn check(self, store: StoreKind) -> Result<(), KeyError> {
        if self.allows(store) {
            Ok(())
        } else {
            Err(KeyError::new(
                KeyErrorKind::StoreForbidden,
                format!("{store}: keys are not allowed at security level {self}"),
            ))
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::Development => "DEVELOPMENT",
            SecurityLevel::Testing => "TESTING",
            SecurityLevel::Staging => "STAGING",
            SecurityLevel::Production => "PRODUCTION",
        }
    }
}

impl core::str::FromStr for SecurityLevel {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<SecurityLevel, KeyError> {
        match s.to_ascii_uppercase().as_str() {
            "DEVELOPMENT" => Ok(SecurityLevel::Development),
            "TESTING" => Ok(SecurityLevel::Testing),
            "STAGING" => Ok(SecurityLevel::Staging),
            "PRODUCTION" => Ok(SecurityLevel::Production),
            _ => Err(KeyError::misuse(format!(
                "unknown security level {:?}; expected DEVELOPMENT, TESTING, STAGING or PRODUCTION",
                escape(s, 32)
            ))),
        }
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of store a key lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoreKind {
    Env,
    File,
    Pkcs11,
    Vault,
}

impl StoreKind {
    /// The store's journaled code ([`starlog_engine::events::key_store`]).
    pub const fn code(self) -> u8 {
        use starlog_engine::events::key_store;
        match self {
            StoreKind::Env => key_store::ENV,
            StoreKind::File => key_store::FILE,
            StoreKind::Pkcs11 => key_store::PKCS11,
            StoreKind::Vault => key_store::VAULT,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            StoreKind::Env => "env",
            StoreKind::File => "file",
            StoreKind::Pkcs11 => "pkcs11",
            StoreKind::Vault => "vault",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is to blame for a [`KeyError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Blame {
    /// The caller: a malformed URI, a wrong passphrase or PIN, a store the level forbids.
    Misuse,
    /// Stored key material that is damaged, tampered with or of an unknown version.
    Corrupt,
    /// The local system: a file that cannot be read or written.
    Io,
    /// The store on the other side: an HSM error, Vault unreachable or answering an error.
    Peer,
}

/// What went wrong, for callers that act on it (tests, the CLI's exit status, security events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyErrorKind {
    /// A key URI that does not parse.
    MalformedUri,
    /// The session's security level forbids this store.
    StoreForbidden,
    /// An environment variable that should hold a seed, passphrase or PIN is unset or not UTF-8.
    MissingSecret,
    /// Text that should be an `S…` seed is not one.
    BadSeed,
    /// The passphrase does not open the key file.
    WrongPassphrase,
    /// The PIN was refused by the token.
    WrongPin,
    /// The store refused the credentials it was given (a Vault token without the right policy).
    PermissionDenied,
    /// The key file's bytes fail their checksum or authentication.
    Tampered,
    /// The key file has a format version this build does not read.
    UnsupportedVersion,
    /// The file is not a starlog key file at all.
    NotAKeyFile,
    /// The token, object, key or file named does not exist.
    NotFound,
    /// Creating a key where one already exists.
    AlreadyExists,
    /// The store cannot do what was asked (e.g. generate a key in `env:`).
    Unsupported,
    /// The store could not be reached (Vault down, PKCS#11 module missing).
    Unreachable,
    /// The store answered with an error.
    StoreError,
    /// A local read or write failed.
    Io,
    /// A signature from the store does not verify against the store's public key.
    BadSignature,
    /// A mnemonic that is not valid BIP-39 (unknown word, bad checksum, wrong length).
    BadMnemonic,
    /// Signers together do not reach the threshold the transaction needs.
    ThresholdNotMet,
}

impl KeyErrorKind {
    pub const fn blame(self) -> Blame {
        match self {
            KeyErrorKind::MalformedUri
            | KeyErrorKind::StoreForbidden
            | KeyErrorKind::MissingSecret
            | KeyErrorKind::BadSeed
            | KeyErrorKind::WrongPassphrase
            | KeyErrorKind::WrongPin
            | KeyErrorKind::PermissionDenied
            | KeyErrorKind::NotFound
            | KeyErrorKind::AlreadyExists
            | KeyErrorKind::Unsupported
            | KeyErrorKind::BadMnemonic
            | KeyErrorKind::ThresholdNotMet => Blame::Misuse,
            KeyErrorKind::Tampered | KeyErrorKind::UnsupportedVersion | KeyErrorKind::NotAKeyFile => Blame::Corrupt,
            KeyErrorKind::Io => Blame::Io,
            KeyErrorKind::Unreachable | KeyErrorKind::StoreError | KeyErrorKind::BadSignature => Blame::Peer,
        }
    }
}

/// A key store failure: a kind to act on and one line for a human. The message is built from
/// non-secret context only; see the module doc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError {
    kind: KeyErrorKind,
    message: String,
}

impl KeyError {
    pub fn new(kind: KeyErrorKind, message: impl Into<String>) -> KeyError {
        let message = message.into();
        debug_assert!(!message.contains('\n'), "a key error is one line");
        KeyError { kind, message }
    }

    pub fn misuse(message: impl Into<String>) -> KeyError {
        KeyError::new(KeyErrorKind::MalformedUri, message)
    }

    pub const fn kind(&self) -> KeyErrorKind {
        self.kind
    }

    pub const fn blame(&self) -> Blame {
        self.kind.blame()
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KeyError {}

/// Length of an `S…` strkey.
pub const SEED_STRKEY_CHARS: usize = 56;

/// An Ed25519 seed (the 32 bytes an `S…` strkey encodes). Zeroized on drop; never printed.
#[derive(Clone)]
pub struct Seed(Zeroizing<[u8; 32]>);

impl Seed {
    pub fn from_bytes(bytes: [u8; 32]) -> Seed {
        Seed(Zeroizing::new(bytes))
    }

    /// A fresh random seed from the operating system.
    pub fn generate() -> Result<Seed, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut bytes[..])
            .map_err(|_| KeyError::new(KeyErrorKind::Io, "the operating system's random source failed"))?;
        Ok(Seed(bytes))
    }

    /// Parses an `S…` strkey. The error never repeats the input.
    pub fn from_strkey(text: &str) -> Result<Seed, KeyError> {
        match stellar_strkey::ed25519::PrivateKey::from_string(text) {
            // `PrivateKey` zeroizes itself on drop.
            Ok(key) => Ok(Seed::from_bytes(key.0)),
            Err(_) => Err(KeyError::new(KeyErrorKind::BadSeed, "not a valid S... secret seed")),
        }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The `S…` strkey, in a zeroizing string (for `keys derive --show-secret` only).
    pub fn to_strkey(&self) -> Zeroizing<String> {
        let key = stellar_strkey::ed25519::PrivateKey(*self.0);
        // Capacity for the whole strkey up front, so no reallocation leaves a copy behind.
        let mut text = Zeroizing::new(String::with_capacity(SEED_STRKEY_CHARS));
        fmt::Write::write_fmt(&mut *text, format_args!("{}", key.as_unredacted())).expect("writing to a String");
        text
    }

    pub fn public_key(&self) -> AccountId {
        AccountId::from_bytes(SigningKey::from_bytes(&self.0).verifying_key().to_bytes())
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

/// A passphrase, PIN or token: zeroized on drop, printed as `<redacted>`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(text: String) -> Secret {
        Secret(Zeroizing::new(text))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a passphrase or PIN comes from. Never a command-line flag: flags end up in shell
/// history and `ps` output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// The named environment variable.
    Env(String),
    /// The first line of a file (mode 0600 recommended).
    File(PathBuf),
    /// Ask on the controlling terminal, with this prompt.
    Prompt(String),
}

impl SecretSource {
    /// Reads the secret. `what` names it in errors ("passphrase", "PIN").
    pub fn read(&self, what: &str) -> Result<Secret, KeyError> {
        match self {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(value) => Ok(Secret::new(value)),
                Err(_) => Err(KeyError::new(
                    KeyErrorKind::MissingSecret,
                    format!("{what}: environment variable {var} is not set (or is not UTF-8)"),
                )),
            },
            SecretSource::File(path) => {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                    KeyError::new(KeyErrorKind::Io, format!("{what}: cannot read {}: {e}", path.display()))
                })?);
                let line = text.lines().next().unwrap_or("");
                Ok(Secret::new(line.to_owned()))
            }
            SecretSource::Prompt(prompt) => match rpassword::prompt_password(prompt) {
                Ok(value) => Ok(Secret::new(value)),
                Err(e) => Err(KeyError::new(
                    KeyErrorKind::MissingSecret,
                    format!("{what}: cannot prompt on the terminal ({e}); name an environment variable instead"),
                )),
            },
        }
    }
}

/// Signs for one Ed25519 key, wherever the key lives. Stellar signs the 32-byte transaction
/// hash; `sign` takes any message so that tests can check stores against ed25519-dalek.
///
/// `&mut self`: an HSM session serves one request at a time. `Send` so that a signer thread
/// can own it; `Debug` prints the public key and URI, never key material.
pub trait Signer: Send + fmt::Debug {
    /// The key's public half, as the account id it signs for.
    fn public_key(&self) -> AccountId;
    /// Which kind of store holds the key.
    fn store(&self) -> StoreKind;
    /// The key's URI, for logs and security events (never contains a secret).
    fn uri(&self) -> &str;
    /// An Ed25519 signature of `message`.
    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], KeyError>;
}

/// An in-process Ed25519 key (from `env:`, a decrypted key file, or a derived SEP-5 key).
pub struct SeedSigner {
    key: SigningKey,
    store: StoreKind,
    uri: String,
}

impl SeedSigner {
    pub fn new(seed: &Seed, store: StoreKind, uri: String) -> SeedSigner {
        SeedSigner { key: SigningKey::from_bytes(seed.as_bytes()), store, uri }
    }
}

impl fmt::Debug for SeedSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedSigner").field("public_key", &self.public_key()).field("uri", &self.uri).finish()
    }
}

impl Signer for SeedSigner {
    fn public_key(&self) -> AccountId {
        AccountId::from_bytes(self.key.verifying_key().to_bytes())
    }

    fn store(&self) -> StoreKind {
        self.store
    }

    fn uri(&self) -> &str {
        &self.uri
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        Ok(self.key.sign(message).to_bytes())
    }
}

/// Checks `signature` over `message` against `public_key` (strict: rejects small-order keys
/// and non-canonical signatures). Signers from remote stores are checked with it before use.
pub fn verify(public_key: &AccountId, message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key.as_bytes()) else {
        return false;
    };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature)).is_ok()
}

/// A parsed key URI. `Display` gives back a canonical URI, which never contains a secret
/// (a PIN in the URI, RFC 7512's `pin-value`, is refused by the parser).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyUri {
    /// `env:VAR`.
    Env { var: String },
    /// `file:PATH`.
    File { path: PathBuf },
    /// `pkcs11:token=T;object=O?module-path=M&pin-source=S`.
    Pkcs11(Pkcs11Uri),
    /// `vault:URL/MOUNT/keys/NAME`, e.g. `vault:http://127.0.0.1:8200/transit/keys/trader`.
    Vault(VaultUri),
}

/// The attributes of a `pkcs11:` URI (RFC 7512) that starlog uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// Token label (`token=`).
    pub token: String,
    /// Key label (`object=`), shared by the private and the public key object.
    pub object: String,
    /// The PKCS#11 module to load (`module-path=`); SoftHSM2's by default.
    pub module_path: PathBuf,
    /// Where the user PIN comes from (`pin-source=`: `file:PATH` or `env:VAR`); a prompt if absent.
    pub pin_source: Option<SecretSource>,
}

/// The module `pkcs11:` URIs load when they name none.
pub const PKCS11_MODULE_DEFAULT: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A Vault (or OpenBao) transit key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultUri {
    /// `http(s)://host:port`, without a trailing slash.
    pub address: String,
    /// The transit engine's mount path, e.g. `transit`.
    pub mount: String,
    /// The key's name.
    pub key: String,
}

/// Longest key URI accepted, in bytes.
pub const KEY_URI_BYTES_MAX: usize = 4096;

impl KeyUri {
    /// Parses the URI of one key.
    pub fn parse(text: &str) -> Result<KeyUri, KeyError> {
        KeyUri::parse_inner(text, true)
    }

    /// Parses the URI of a store, for listing: as [`KeyUri::parse`], but a `pkcs11:` URI may
    /// omit `object=` and a `vault:` URI may stop at the mount (`vault:URL/MOUNT`); the missing
    /// name is left empty.
    pub fn parse_store(text: &str) -> Result<KeyUri, KeyError> {
        KeyUri::parse_inner(text, false)
    }

    fn parse_inner(text: &str, named: bool) -> Result<KeyUri, KeyError> {
        let bad = |why: &str| KeyError::misuse(format!("key URI {:?}: {why}", escape(&redact(text), 80)));
        if text.len() > KEY_URI_BYTES_MAX {
            return Err(KeyError::misuse(format!("key URI is longer than {KEY_URI_BYTES_MAX} bytes")));
        }
        if text.chars().any(char::is_control) {
            return Err(bad("contains control characters"));
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(bad("expected env:VAR, file:PATH, pkcs11:... or vault:URL/MOUNT/keys/NAME"));
        };
        match scheme {
            "env" => {
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(bad("an environment variable name is letters, digits and '_'"));
                }
                if stellar_strkey::ed25519::PrivateKey::from_string(rest).is_ok() {
                    return Err(bad("this is a secret seed, not a variable name: write env:VAR with the seed in VAR"));
                }
                Ok(KeyUri::Env { var: rest.to_owned() })
            }
            "file" => {
                // Accept both `file:PATH` and `file://PATH` (RFC 8089's local form).
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(bad("no path"));
                }
                Ok(KeyUri::File { path: PathBuf::from(path) })
            }
            "pkcs11" => parse_pkcs11(rest, named).map(KeyUri::Pkcs11).map_err(|why| bad(&why)),
            "vault" => parse_vault(rest, named).map(KeyUri::Vault).map_err(|why| bad(&why)),
            _ => Err(bad("unknown scheme; expected env:, file:, pkcs11: or vault:")),
        }
    }

    pub const fn store(&self) -> StoreKind {
        match self {
            KeyUri::Env { .. } => StoreKind::Env,
            KeyUri::File { .. } => StoreKind::File,
            KeyUri::Pkcs11(_) => StoreKind::Pkcs11,
            KeyUri::Vault(_) => StoreKind::Vault,
        }
    }
}

impl core::str::FromStr for KeyUri {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<KeyUri, KeyError> {
        KeyUri::parse(s)
    }
}

impl fmt::Display for KeyUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyUri::Env { var } => write!(f, "env:{var}"),
            // A path that itself starts with `//` needs the `file://` form to survive a re-parse.
            KeyUri::File { path } if path.to_string_lossy().starts_with("//") => write!(f, "file://{}", path.display()),
            KeyUri::File { path } => write!(f, "file:{}", path.display()),
            KeyUri::Pkcs11(uri) => {
                write!(
                    f,
                    "pkcs11:token={};object={}?module-path={}",
                    pct_encode(&uri.token),
                    pct_encode(&uri.object),
                    pct_encode(&uri.module_path.to_string_lossy())
                )?;
                match &uri.pin_source {
                    Some(SecretSource::File(path)) => {
                        write!(f, "&pin-source=file:{}", pct_encode(&path.to_string_lossy()))
                    }
                    Some(SecretSource::Env(var)) => write!(f, "&pin-source=env:{var}"),
                    Some(SecretSource::Prompt(_)) | None => Ok(()),
                }
            }
            KeyUri::Vault(uri) => write!(f, "vault:{}/{}/keys/{}", uri.address, uri.mount, uri.key),
        }
    }
}

fn parse_pkcs11(rest: &str, named: bool) -> Result<Pkcs11Uri, String> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut token = None;
    let mut object = None;
    for attr in path.split(';').filter(|a| !a.is_empty()) {
        let (name, value) =
            attr.split_once('=').ok_or_else(|| format!("path attribute {:?} has no '='", escape(attr, 40)))?;
        let value = pct_decode(value)?;
        match name {
            "token" => token = Some(value),
            "object" => object = Some(value),
            // Attributes that only narrow the search; starlog finds keys by token and label.
            "type" if value == "private" || value == "public" => {}
            "manufacturer"
            | "model"
            | "serial"
            | "library-manufacturer"
            | "library-description"
            | "library-version"
            | "slot-description"
            | "slot-manufacturer"
            | "slot-id"
            | "id"
            | "type" => {
                return Err(format!("attribute {name:?} is not supported; name the key by token and object"));
            }
            _ => return Err(format!("unknown path attribute {:?}", escape(name, 40))),
        }
    }
    let mut module_path = None;
    let mut pin_source = None;
    for attr in query.split('&').filter(|a| !a.is_empty()) {
        let (name, value) =
            attr.split_once('=').ok_or_else(|| format!("query attribute {:?} has no '='", escape(attr, 40)))?;
        match name {
            "module-path" => module_path = Some(PathBuf::from(pct_decode(value)?)),
            "pin-source" => {
                let value = pct_decode(value)?;
                pin_source = Some(if let Some(var) = value.strip_prefix("env:") {
                    SecretSource::Env(var.to_owned())
                } else if let Some(path) = value.strip_prefix("file:") {
                    SecretSource::File(PathBuf::from(path.strip_prefix("//").unwrap_or(path)))
                } else {
                    return Err("pin-source must be file:PATH or env:VAR".to_owned());
                });
            }
            // Never echo the value: it is a PIN.
            "pin-value" => {
                return Err("pin-value puts the PIN in the URI; use pin-source=file:PATH or env:VAR".to_owned());
            }
            "module-name" => return Err("module-name is not supported; use module-path".to_owned()),
            _ => return Err(format!("unknown query attribute {:?}", escape(name, 40))),
        }
    }
    let token = token.filter(|t| !t.is_empty()).ok_or("missing token=LABEL")?;
    let object = match object.filter(|o| !o.is_empty()) {
        Some(object) => object,
        None if !named => String::new(),
        None => return Err("missing object=LABEL".to_owned()),
    };
    Ok(Pkcs11Uri {
        token,
        object,
        module_path: module_path.unwrap_or_else(|| PathBuf::from(PKCS11_MODULE_DEFAULT)),
        pin_source,
    })
}

fn parse_vault(rest: &str, named: bool) -> Result<VaultUri, String> {
    let (scheme, after) = rest.split_once("://").ok_or("expected vault:http(s)://HOST:PORT/MOUNT/keys/NAME")?;
    if scheme != "http" && scheme != "https" {
        return Err("the address must be http:// or https://".to_owned());
    }
    if after.contains(['?', '#', '@']) {
        return Err("no query, fragment or credentials in a vault URI; the token comes from VAULT_TOKEN".to_owned());
    }
    let (host, path) = after.split_once('/').ok_or("expected /MOUNT/keys/NAME after the host")?;
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    let (mount, key) = match path.rsplit_once("/keys/") {
        Some(split) => split,
        None if !named => (path.strip_suffix("/keys").unwrap_or(path).trim_end_matches('/'), ""),
        None => return Err("expected /MOUNT/keys/NAME after the host".to_owned()),
    };
    let segment_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !mount.split('/').all(segment_ok) {
        return Err("the mount path is letters, digits, '-', '_', '.' and '/'".to_owned());
    }
    if (named || !key.is_empty()) && !segment_ok(key) {
        return Err("the key name is letters, digits, '-', '_' and '.'".to_owned());
    }
    Ok(VaultUri { address: format!("{scheme}://{host}"), mount: mount.to_owned(), key: key.to_owned() })
}

fn pct_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("truncated %-escape")?;
            let hex = core::str::from_utf8(hex).map_err(|_| "bad %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad %-escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a %-escape is not UTF-8".to_owned())
}

fn pct_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_./~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` with anything that may be a secret replaced by `<redacted>`: the value of a
/// `pin-value=` attribute, and any run of 40 or more strkey characters starting with `S`
/// (a secret seed, or most of one).
pub fn redact(text: &str) -> String {
    const SEED_RUN_CHARS_MIN: usize = 40;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("pin-value=") {
            out.push_str("pin-value=<redacted>");
            rest = after.find(['&', ';']).map_or("", |end| &after[end..]);
            continue;
        }
        let run = rest.bytes().take_while(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(b)).count();
        if run >= SEED_RUN_CHARS_MIN && rest.starts_with('S') {
            out.push_str("<redacted>");
            rest = &rest[run..];
            continue;
        }
        let step = run.max(1);
        let step = (step..=rest.len()).find(|&i| rest.is_char_boundary(i)).unwrap_or(rest.len());
        out.push_str(&rest[..step]);
        rest = &rest[step..];
    }
    out
}

/// Up to `max` characters of `text`, for echoing untrusted input in an error.
fn escape(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push_str("...");
    }
    out
}

/// How to open a store: the session's level and where secrets come from.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub level: SecurityLevel,
    /// The key file passphrase (for `file:`).
    pub passphrase: SecretSource,
    /// The user PIN for `pkcs11:` URIs without a `pin-source`.
    pub pin: SecretSource,
}

impl OpenOptions {
    /// Prompts for what is needed, at `level`.
    pub fn interactive(level: SecurityLevel) -> OpenOptions {
        OpenOptions {
            level,
            passphrase: SecretSource::Prompt("key file passphrase: ".to_owned()),
            pin: SecretSource::Prompt("token user PIN: ".to_owned()),
        }
    }
}

/// Opens the store `uri` names and returns a signer for its key.
pub fn open_signer(uri: &KeyUri, options: &OpenOptions) -> Result<Box<dyn Signer>, KeyError> {
    options.level.check(uri.store())?;
    match uri {
        KeyUri::Env { var } => {
            let text = SecretSource::Env(var.clone()).read("secret seed")?;
            let seed = Seed::from_strkey(text.expose()).map_err(|_| {
                KeyError::new(KeyErrorKind::BadSeed, format!("env:{var} does not hold a valid S... secret seed"))
            })?;
            Ok(Box::new(SeedSigner::new(&seed, StoreKind::Env, uri.to_string())))
        }
        KeyUri::File { path } => {
            let passphrase = options.passphrase.read("passphrase")?;
            let seed = file::open(path, &passphrase)?;
            Ok(Box::new(SeedSigner::new(&seed, StoreKind::File, uri.to_string())))
        }
        KeyUri::Pkcs11(p11) => Ok(Box::new(pkcs11::Pkcs11Signer::open(p11, &options.pin)?)),
        KeyUri::Vault(v) => Ok(Box::new(vault::VaultSigner::open(v)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_and_print_back() {
        for text in [
            "env:STARLOG_SEED",
            "file:/var/lib/starlog/trader.key",
            "pkcs11:token=starlog;object=trader?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
            "pkcs11:token=my%20token;object=trader?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:PIN",
            "vault:http://127.0.0.1:8200/transit/keys/trader",
            "vault:https://vault.example:8200/secret/transit/keys/a-b.c",
        ] {
            let uri = KeyUri::parse(text).unwrap();
            assert_eq!(uri.to_string(), text);
            assert_eq!(KeyUri::parse(&uri.to_string()).unwrap(), uri);
        }
        let KeyUri::Pkcs11(p) = KeyUri::parse("pkcs11:token=my%20token;object=k").unwrap() else { panic!() };
        assert_eq!((p.token.as_str(), p.module_path.to_str().unwrap()), ("my token", PKCS11_MODULE_DEFAULT));
        assert_eq!(p.pin_source, None);
    }

    #[test]
    fn store_uris_may_omit_the_key_name() {
        let KeyUri::Pkcs11(p) = KeyUri::parse_store("pkcs11:token=t").unwrap() else { panic!() };
        assert_eq!((p.token.as_str(), p.object.as_str()), ("t", ""));
        for text in ["vault:http://127.0.0.1:8200/transit", "vault:http://127.0.0.1:8200/transit/keys/"] {
            let KeyUri::Vault(v) = KeyUri::parse_store(text).unwrap() else { panic!() };
            assert_eq!((v.mount.as_str(), v.key.as_str()), ("transit", ""), "{text}");
        }
        assert!(KeyUri::parse("pkcs11:token=t").is_err());
        assert!(KeyUri::parse("vault:http://127.0.0.1:8200/transit").is_err());
    }

    #[test]
    fn malformed_uris_are_one_line_errors() {
        for text in [
            "",
            "seed",
            "env:",
            "env:A B",
            "ftp:x",
            "file:",
            "pkcs11:object=k",
            "pkcs11:token=t",
            "pkcs11:token=t;object=k?pin-source=http://x",
            "pkcs11:token=t;object=k;serial=1",
            "pkcs11:token=t%2;object=k",
            "vault:127.0.0.1:8200/transit/keys/k",
            "vault:http://127.0.0.1:8200/transit/k",
            "vault:http://user:pw@127.0.0.1:8200/transit/keys/k",
            "vault:http://127.0.0.1:8200/transit/keys/",
            "vault:http://127.0.0.1:8200//keys/k",
            "file:a\nb",
        ] {
            let err = KeyUri::parse(text).unwrap_err();
            assert_eq!(err.kind(), KeyErrorKind::MalformedUri, "{text:?}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn a_pin_in_the_uri_is_refused_and_not_echoed() {
        let err = KeyUri::parse("pkcs11:token=t;object=k?pin-value=918273").unwrap_err();
        assert!(!err.to_string().contains("918273"), "{err}");
        let err = KeyUri::parse("pkcs11:token=t;object=k?pin-value=918273&bogus").unwrap_err();
        assert!(!err.to_string().contains("918273"), "{err}");
    }

    #[test]
    fn a_seed_in_place_of_a_uri_is_not_echoed() {
        let seed = "SBGWSG6BTNCKCOB3DIFBGCVMUPQFYPA2G4O34RMTB343OYPXU5DJDVMN";
        for text in [format!("env:{seed}"), seed.to_owned(), format!("file:/{seed}\n"), format!("ftp:{seed}")] {
            let err = KeyUri::parse(&text).unwrap_err();
            assert!(!err.to_string().contains(&seed[..20]), "{err}");
        }
    }

    #[test]
    fn levels_restrict_stores() {
        let uri = KeyUri::parse("env:STARLOG_TEST_NEVER_SET").unwrap();
        for level in [SecurityLevel::Staging, SecurityLevel::Production] {
            let err = open_signer(&uri, &OpenOptions::interactive(level)).unwrap_err();
            assert_eq!(err.kind(), KeyErrorKind::StoreForbidden);
        }
        let err = open_signer(&uri, &OpenOptions::interactive(SecurityLevel::Testing)).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::MissingSecret);
    }

    #[test]
    fn seeds_and_secrets_never_print() {
        let seed = Seed::from_strkey("SBGWSG6BTNCKCOB3DIFBGCVMUPQFYPA2G4O34RMTB343OYPXU5DJDVMN").unwrap();
        assert_eq!(format!("{seed:?}"), "Seed(<redacted>)");
        assert_eq!(seed.public_key().to_string(), "GDRXE2BQUC3AZNPVFSCEZ76NJ3WWL25FYFK6RGZGIEKWE4SOOHSUJUJ6");
        assert_eq!(format!("{:?}", Secret::new("hunter2".into())), "Secret(<redacted>)");
        let err = Seed::from_strkey("SBGWSG6BTNCKCOB3DIFBGCVMUPQFYPA2G4O34RMTB343OYPXU5DJDVMX").unwrap_err();
        assert!(!err.to_string().contains("SBGWSG6"), "{err}");
    }

    #[test]
    fn seed_signer_signatures_verify() {
        let seed = Seed::from_bytes([7; 32]);
        let mut signer = SeedSigner::new(&seed, StoreKind::Env, "env:X".into());
        let sig = signer.sign(b"hash").unwrap();
        assert!(verify(&signer.public_key(), b"hash", &sig));
        assert!(!verify(&signer.public_key(), b"hasH", &sig));
    }
}
