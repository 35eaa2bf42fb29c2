//! Operator authentication for the admin API: the operators (name, role, Argon2id password hash,
//! TOTP key), RFC 6238 one-time codes with replay refusal, session tokens, and the throttle on
//! failed logins. Pure: time is an argument (`now_s`, UNIX seconds); randomness comes from
//! getrandom only where keys and session ids are minted.
//!
//! **Tokens.** `slt1_` + base64url(session id (16) ‖ expiry (u64 BE, UNIX s) ‖ role (1) ‖
//! HMAC-SHA256(key, "starlog-admin-token-v1" ‖ those 25 bytes)). The key is drawn at start-up
//! and never leaves the process, so tokens die with it. A token is only a handle: the session
//! table decides whether it is still good (absolute expiry, idle timeout, logout, rotation), so
//! a token can be revoked before it expires. A forged or altered token fails the MAC check
//! before anything else looks at it.
//!
//! **Logins.** Password first (Argon2id; unknown operators are checked against a dummy hash so
//! that timing does not tell which names exist), then the TOTP code if the operator has a key
//! (admins must). A code is accepted for the current 30 s step or one step either side, and
//! only for a step later than the operator's last accepted one: a code cannot be used twice.
//! Every failure counts against the operator's name and the peer's address; at
//! `login_failures_max` within `login_failure_window_secs` both are refused for
//! `login_lockout_secs` without checking anything. All failures give the same answer.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac as _};
use sha1::Sha1;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// What an operator may do. Each role may do everything the roles below it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Role {
    /// Read: status, metrics.
    Viewer = 1,
    /// Halt, resume, cancel all, acknowledge incidents.
    Trader = 2,
    /// Limits, validation levels, unlock after a P0 lockdown.
    Admin = 3,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Trader, Role::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Trader => "trader",
            Role::Admin => "admin",
        }
    }

    const fn from_code(code: u8) -> Option<Role> {
        match code {
            1 => Some(Role::Viewer),
            2 => Some(Role::Trader),
            3 => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| format!("{s:?} is not viewer, trader or admin"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 6238 parameters (the ones authenticator apps assume).
pub const TOTP_STEP_SECS: u64 = 30;
pub const TOTP_DIGITS: u32 = 6;
/// Steps accepted either side of the current one (clock skew).
pub const TOTP_SKEW_STEPS: u64 = 1;

/// An operator's TOTP key (RFC 6238, HMAC-SHA1). Never printed.
#[derive(Clone)]
pub struct TotpKey(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpKey(<redacted>)")
    }
}

impl TotpKey {
    /// From the base32 text authenticator apps use (RFC 4648, padding and spaces optional,
    /// case-insensitive); at least 16 bytes (RFC 4226 asks for 128 bits).
    pub fn from_base32(text: &str) -> Result<TotpKey, String> {
        let bytes = base32_decode(text).ok_or("the TOTP secret is not base32 (A-Z, 2-7)")?;
        if bytes.len() < 16 {
            return Err("the TOTP secret is shorter than 128 bits".into());
        }
        Ok(TotpKey(bytes))
    }

    /// A fresh random 160-bit key.
    pub fn generate() -> Result<TotpKey, String> {
        let mut bytes = Zeroizing::new(vec![0u8; 20]);
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        Ok(TotpKey(bytes))
    }

    /// The base32 text of the key (for provisioning an authenticator app).
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32_encode(&self.0))
    }

    /// The code for time step `step` (RFC 4226's HOTP with counter `step`).
    pub fn code_at_step(&self, step: u64) -> u32 {
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[19] & 0x0f);
        let binary = u32::from_be_bytes([digest[offset], digest[offset + 1], digest[offset + 2], digest[offset + 3]])
            & 0x7fff_ffff;
        binary % 10u32.pow(TOTP_DIGITS)
    }

    /// The code at UNIX time `now_s`.
    pub fn code_at(&self, now_s: u64) -> u32 {
        self.code_at_step(now_s / TOTP_STEP_SECS)
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let (mut acc, mut bits) = (0u64, 0u32);
    for c in text.bytes().filter(|c| !matches!(c, b' ' | b'-')) {
        if c == b'=' {
            continue;
        }
        let value = BASE32.iter().position(|&b| b == c.to_ascii_uppercase())? as u64;
        acc = (acc << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    acc.zeroize();
    Some(out)
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u64, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Argon2id hash (PHC string) of a password, with the crate's recommended parameters and a
/// random salt — for the `password_hash` of an operator in the configuration.
pub fn hash_password(password: &[u8]) -> Result<String, String> {
    hash_with(&Argon2::default(), password)
}

/// [`hash_password`] with chosen costs (memory in KiB, passes; one lane): cheap hashes for
/// tests and fuzzing, or dearer ones than the default.
pub fn hash_password_cost(password: &[u8], memory_kib: u32, iterations: u32) -> Result<String, String> {
    let params = argon2::Params::new(memory_kib, iterations, 1, None).map_err(|e| format!("Argon2 parameters: {e}"))?;
    hash_with(&Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params), password)
}

fn hash_with(argon2: &Argon2<'_>, password: &[u8]) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let hash = argon2.hash_password_with_salt(password, &salt).map_err(|e| format!("cannot hash: {e}"))?;
    Ok(hash.to_string())
}

/// Checks that `hash` is an Argon2id PHC string (the only kind an operator may have).
pub fn check_password_hash(hash: &str) -> Result<(), String> {
    let parsed = argon2::password_hash::phc::PasswordHash::new(hash).map_err(|_| "not a PHC password hash string")?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!("{} is not argon2id", parsed.algorithm));
    }
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err("the PHC string has no salt or no hash".into());
    }
    Ok(())
}

fn verify_password(hash: &str, password: &[u8]) -> bool {
    Argon2::default().verify_password(password, hash).is_ok()
}

/// One operator as configured.
#[derive(Clone, Debug)]
pub struct Operator {
    pub name: String,
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Required at login when present; admins must have one.
    pub totp: Option<TotpKey>,
}

impl Operator {
    /// Checks the name (1–64 of `[A-Za-z0-9._-]`), the hash, and that an admin has a TOTP key.
    pub fn validate(&self) -> Result<(), String> {
        if !valid_name(&self.name) {
            return Err(format!("operator name {:?}: 1-64 of A-Z a-z 0-9 . _ -", self.name));
        }
        check_password_hash(&self.password_hash).map_err(|e| format!("operator {}: password_hash: {e}", self.name))?;
        if self.role == Role::Admin && self.totp.is_none() {
            return Err(format!("operator {}: an admin needs a TOTP secret (second factor)", self.name));
        }
        Ok(())
    }
}

/// Operator names as they may appear in the journal (also bounds what a login attempt can put
/// there).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Sessions and throttles; seconds throughout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthLimits {
    /// A session ends this long after login, whatever its use.
    pub token_ttl_secs: u64,
    /// A session not used for this long ends.
    pub idle_timeout_secs: u64,
    /// Failed logins (per operator name, and per peer address) within the window that lock it.
    pub login_failures_max: u32,
    pub login_failure_window_secs: u64,
    pub login_lockout_secs: u64,
    /// Live sessions at most (the oldest is dropped beyond).
    pub sessions_max: usize,
}

impl Default for AuthLimits {
    fn default() -> AuthLimits {
        AuthLimits {
            token_ttl_secs: 900,
            idle_timeout_secs: 300,
            login_failures_max: 5,
            login_failure_window_secs: 300,
            login_lockout_secs: 300,
            sessions_max: 256,
        }
    }
}

/// The fields a token carries (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub session: [u8; 16],
    pub expires_s: u64,
    pub role: Role,
}

const TOKEN_PREFIX: &str = "slt1_";
const TOKEN_DOMAIN: &[u8] = b"starlog-admin-token-v1";
const TOKEN_PAYLOAD_BYTES: usize = 16 + 8 + 1;
const TOKEN_BYTES: usize = TOKEN_PAYLOAD_BYTES + 32;
/// Longer texts are refused before decoding.
pub const TOKEN_TEXT_MAX: usize = 128;

/// A token that is not one of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not the token format at all.
    Malformed,
    /// The format, but the MAC does not hold: forged or altered.
    Forged,
}

/// The key tokens are signed with.
pub struct TokenKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

impl TokenKey {
    pub fn from_bytes(bytes: [u8; 32]) -> TokenKey {
        TokenKey(Zeroizing::new(bytes))
    }

    pub fn generate() -> Result<TokenKey, String> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut bytes[..]).map_err(|e| format!("no randomness: {e}"))?;
        Ok(TokenKey(bytes))
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0[..]).expect("HMAC takes any key");
        mac.update(TOKEN_DOMAIN);
        mac.update(payload);
        mac
    }

    pub fn encode(&self, token: &Token) -> String {
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..16].copy_from_slice(&token.session);
        bytes[16..24].copy_from_slice(&token.expires_s.to_be_bytes());
        bytes[24] = token.role as u8;
        let tag = self.mac(&bytes[..TOKEN_PAYLOAD_BYTES]).finalize().into_bytes();
        bytes[TOKEN_PAYLOAD_BYTES..].copy_from_slice(&tag);
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Decodes and authenticates a token's text (untrusted input).
    pub fn decode(&self, text: &str) -> Result<Token, TokenError> {
        if text.len() > TOKEN_TEXT_MAX {
            return Err(TokenError::Malformed);
        }
        let body = text.strip_prefix(TOKEN_PREFIX).ok_or(TokenError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenError::Malformed)?;
        if bytes.len() != TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = bytes.split_at(TOKEN_PAYLOAD_BYTES);
        self.mac(payload).verify_slice(tag).map_err(|_| TokenError::Forged)?;
        let role = Role::from_code(payload[24]).ok_or(TokenError::Forged)?;
        Ok(Token {
            session: payload[..16].try_into().expect("16 bytes"),
            expires_s: u64::from_be_bytes(payload[16..24].try_into().expect("8 bytes")),
            role,
        })
    }
}

/// Why a request's token was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No token with the request.
    Missing,
    /// Not a token of this process (malformed, forged, altered, or from before a restart).
    Invalid,
    /// Past its absolute expiry.
    Expired,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Logged out, or replaced by rotation.
    Revoked,
}

impl AuthError {
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthError::Missing => "authentication required",
            AuthError::Invalid => "invalid token",
            AuthError::Expired => "token expired",
            AuthError::Idle => "session idle for too long",
            AuthError::Revoked => "token revoked",
        }
    }
}

/// Why a login failed. Every wrong credential is `Invalid` (the answer does not say which).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginError {
    Invalid,
    /// Too many failures for this name or address: retry after this many seconds.
    Throttled {
        retry_after_s: u64,
    },
}

/// A successful login (or rotation): the new token and what it grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    pub token: String,
    pub operator: String,
    pub role: Role,
    pub expires_s: u64,
}

/// Who a request is from, once its token is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub operator: String,
    pub role: Role,
    pub session: [u8; 16],
}

#[derive(Clone, Debug)]
struct Session {
    operator: usize,
    role: Role,
    expires_s: u64,
    last_used_s: u64,
    created_s: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    window_start_s: u64,
    count: u32,
    locked_until_s: u64,
}

/// Failure counters kept at most (the oldest window is dropped beyond).
const FAILURE_KEYS_MAX: usize = 4096;

/// Operators, sessions and login throttles. See the module docs.
pub struct Authenticator {
    operators: Vec<Operator>,
    /// Last accepted TOTP step per operator (replay refusal).
    totp_last_step: Vec<u64>,
    key: TokenKey,
    sessions: HashMap<[u8; 16], Session>,
    failures: HashMap<String, Failures>,
    limits: AuthLimits,
    /// Checked for unknown names, so that they cost what a known name costs.
    dummy_hash: String,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("operators", &self.operators.len())
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl Authenticator {
    pub fn new(operators: Vec<Operator>, limits: AuthLimits, key: TokenKey) -> Result<Authenticator, String> {
        for (i, op) in operators.iter().enumerate() {
            op.validate()?;
            if operators[..i].iter().any(|o| o.name == op.name) {
                return Err(format!("operator {} is configured twice", op.name));
            }
        }
        // The dummy costs what the first operator's hash costs (same parameters).
        let dummy_hash = match operators.first() {
            Some(op) => {
                let parsed = argon2::password_hash::phc::PasswordHash::new(&op.password_hash)
                    .map_err(|_| "password_hash: not a PHC string".to_owned())?;
                let params = argon2::Params::try_from(&parsed).map_err(|e| format!("password_hash: {e}"))?;
                let argon2 = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
                hash_with(&argon2, b"starlog: no such operator")?
            }
            None => String::new(),
        };
        Ok(Authenticator {
            totp_last_step: vec![0; operators.len()],
            operators,
            key,
            sessions: HashMap::new(),
            failures: HashMap::new(),
            limits,
            dummy_hash,
        })
    }

    pub fn limits(&self) -> AuthLimits {
        self.limits
    }

    /// Live sessions (expired ones linger until next touched or swept).
    pub fn sessions_len(&self) -> usize {
        self.sessions.len()
    }

    fn throttled(&self, key: &str, now_s: u64) -> Option<u64> {
        let f = self.failures.get(key)?;
        (f.locked_until_s > now_s).then(|| f.locked_until_s - now_s)
    }

    fn count_failure(&mut self, key: String, now_s: u64) {
        if self.failures.len() >= FAILURE_KEYS_MAX && !self.failures.contains_key(&key) {
            let oldest = self.failures.iter().min_by_key(|(_, f)| f.window_start_s.max(f.locked_until_s));
            if let Some(oldest) = oldest.map(|(k, _)| k.clone()) {
                self.failures.remove(&oldest);
            }
        }
        let limits = self.limits;
        let f = self.failures.entry(key).or_default();
        if now_s.saturating_sub(f.window_start_s) >= limits.login_failure_window_secs {
            f.window_start_s = now_s;
            f.count = 0;
        }
        f.count += 1;
        if f.count >= limits.login_failures_max {
            f.locked_until_s = now_s.saturating_add(limits.login_lockout_secs);
            f.count = 0;
            f.window_start_s = now_s;
        }
    }

    /// Checks a login (see the module docs). `operator` is untrusted text.
    pub fn login(
        &mut self,
        operator: &str,
        password: &[u8],
        totp: Option<&str>,
        peer: IpAddr,
        now_s: u64,
    ) -> Result<Granted, LoginError> {
        let (name_key, peer_key) = (format!("op:{operator}"), format!("ip:{peer}"));
        let wait = self.throttled(&name_key, now_s).max(self.throttled(&peer_key, now_s));
        if let Some(retry_after_s) = wait {
            return Err(LoginError::Throttled { retry_after_s });
        }
        let index = self.operators.iter().position(|o| o.name == operator);
        let ok = match index {
            Some(i) => verify_password(&self.operators[i].password_hash, password) && self.check_totp(i, totp, now_s),
            None => {
                let _ = verify_password(&self.dummy_hash, password);
                false
            }
        };
        let Some(i) = index.filter(|_| ok) else {
            self.count_failure(name_key, now_s);
            self.count_failure(peer_key, now_s);
            return Err(LoginError::Invalid);
        };
        self.failures.remove(&name_key);
        Ok(self.open_session(i, self.operators[i].role, now_s.saturating_add(self.limits.token_ttl_secs), now_s))
    }

    fn check_totp(&mut self, operator: usize, code: Option<&str>, now_s: u64) -> bool {
        let Some(key) = &self.operators[operator].totp else { return true };
        let Some(code) = code.filter(|c| c.len() == TOTP_DIGITS as usize && c.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let Ok(code) = code.parse::<u32>() else { return false };
        let now_step = now_s / TOTP_STEP_SECS;
        let last = self.totp_last_step[operator];
        let first = now_step.saturating_sub(TOTP_SKEW_STEPS).max(last.saturating_add(1));
        match (first..=now_step + TOTP_SKEW_STEPS).find(|&step| key.code_at_step(step) == code) {
            Some(step) => {
                self.totp_last_step[operator] = step;
                true
            }
            None => false,
        }
    }

    fn open_session(&mut self, operator: usize, role: Role, expires_s: u64, now_s: u64) -> Granted {
        self.sweep(now_s);
        if self.sessions.len() >= self.limits.sessions_max.max(1) {
            let oldest = self.sessions.iter().min_by_key(|(_, s)| s.created_s).map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.sessions.remove(&id);
            }
        }
        let mut session = [0u8; 16];
        // Without randomness no session is opened: the token is issued but never accepted.
        if getrandom::fill(&mut session).is_ok() {
            self.sessions.insert(session, Session { operator, role, expires_s, last_used_s: now_s, created_s: now_s });
        }
        Granted {
            token: self.key.encode(&Token { session, expires_s, role }),
            operator: self.operators[operator].name.clone(),
            role,
            expires_s,
        }
    }

    fn sweep(&mut self, now_s: u64) {
        let idle = self.limits.idle_timeout_secs;
        self.sessions.retain(|_, s| now_s < s.expires_s && now_s.saturating_sub(s.last_used_s) <= idle);
    }

    /// Checks a request's token and marks the session used.
    pub fn authenticate(&mut self, token: Option<&str>, now_s: u64) -> Result<Principal, AuthError> {
        let token = self.key.decode(token.ok_or(AuthError::Missing)?).map_err(|_| AuthError::Invalid)?;
        let session = self.sessions.get_mut(&token.session).ok_or(AuthError::Revoked)?;
        if session.role != token.role || session.expires_s != token.expires_s {
            return Err(AuthError::Invalid);
        }
        if now_s >= session.expires_s {
            self.sessions.remove(&token.session);
            return Err(AuthError::Expired);
        }
        if now_s.saturating_sub(session.last_used_s) > self.limits.idle_timeout_secs {
            self.sessions.remove(&token.session);
            return Err(AuthError::Idle);
        }
        session.last_used_s = now_s;
        Ok(Principal {
            operator: self.operators[session.operator].name.clone(),
            role: session.role,
            session: token.session,
        })
    }

    /// Replaces a session by a new one with the same grant and expiry (rotation on privilege
    /// use); the old token is revoked.
    pub fn rotate(&mut self, principal: &Principal, now_s: u64) -> Option<Granted> {
        let old = self.sessions.remove(&principal.session)?;
        Some(self.open_session(old.operator, old.role, old.expires_s, now_s))
    }

    /// Ends a session (its token is revoked).
    pub fn logout(&mut self, principal: &Principal) {
        self.sessions.remove(&principal.session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_matches_rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890", 8 digits; 6 digits are the
        // last six.
        let key = TotpKey(Zeroizing::new(b"12345678901234567890".to_vec()));
        for (t, code8) in [
            (59u64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(key.code_at(t), code8 % 1_000_000, "t={t}");
        }
    }

    #[test]
    fn base32_round_trips_and_refuses_junk() {
        let key = TotpKey::generate().unwrap();
        let text = key.to_base32();
        assert_eq!(TotpKey::from_base32(&text).unwrap().0, key.0);
        assert_eq!(TotpKey::from_base32(&text.to_lowercase()).unwrap().0, key.0);
        // RFC 4648 vector.
        assert_eq!(&base32_decode("MZXW6YTBOI======").unwrap()[..], b"foobar");
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert!(TotpKey::from_base32("not base32 1!").is_err());
        assert!(TotpKey::from_base32("MZXW6YTBOI").is_err(), "too short");
    }

    #[test]
    fn tokens_round_trip_and_refuse_any_change() {
        let key = TokenKey::from_bytes([7; 32]);
        let token = Token { session: [3; 16], expires_s: 1_900_000_000, role: Role::Trader };
        let text = key.encode(&token);
        assert_eq!(key.decode(&text), Ok(token));
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(changed).unwrap();
            if changed != text {
                assert!(key.decode(&changed).is_err(), "byte {i} changed");
            }
        }
        assert_eq!(TokenKey::from_bytes([8; 32]).decode(&text), Err(TokenError::Forged));
        assert_eq!(key.decode("slt1_"), Err(TokenError::Malformed));
        assert_eq!(key.decode(""), Err(TokenError::Malformed));
    }
}
