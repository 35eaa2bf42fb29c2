//! `pkcs11:` key store — Ed25519 keys inside an HSM token, signing with CKM_EDDSA (pure Ed25519).
//!
//! Owns: loading a PKCS#11 module once per process ([`context`]), finding a token by label and
//! logging in, finding a key pair by label, generating and importing key pairs, listing keys, and
//! [`Pkcs11Signer`]. A private key is created sensitive and non-extractable: its bytes never leave
//! the token, and nothing here ever asks for them. The PIN is used for `C_Login` and dropped.
//!
//! One `C_Initialize` per process and module: every caller shares one [`Pkcs11`] context per
//! module path. A token's login state is shared by all of this process's sessions on it, so
//! nothing here ever calls `C_Logout` (that would log out every other signer on the token);
//! closing the last session on a token ends its login. For the same reason a second login while
//! one is live answers `CKR_USER_ALREADY_LOGGED_IN` whatever the PIN: that is accepted, so a
//! token this process has already unlocked does not check the PIN again.

use core::fmt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use starlog_engine::AccountId;
use zeroize::Zeroize;

use super::{KeyError, KeyErrorKind, KeyUri, Pkcs11Uri, Secret, SecretSource, Seed, Signer, StoreKind, verify};

/// `CKA_EC_PARAMS` of an Ed25519 key: the DER of OID 1.3.101.112 (id-Ed25519, RFC 8410).
pub const ED25519_EC_PARAMS: [u8; 5] = [0x06, 0x03, 0x2B, 0x65, 0x70];

/// The message every key signs once, checked against its public key, before a signer is returned.
const SELF_TEST_MESSAGE: &[u8] = b"starlog pkcs11 self-test";

/// DER header of an OCTET STRING of 32 bytes: how `CKA_EC_POINT` wraps an Ed25519 public key.
const EC_POINT_DER_HEADER: [u8; 2] = [0x04, 0x20];

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (`CKA_PUBLIC_KEY_INFO`); the key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Length of the random `CKA_ID` given to a generated key pair.
const KEY_ID_BYTES: usize = 16;

/// Longest token or object label echoed in an error, in characters.
const LABEL_ECHO_CHARS_MAX: usize = 64;

/// The process's module contexts, one per module path (see the module doc).
static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

/// The initialized context of the module at `module_path`, loading and initializing it on first
/// use. A missing or unloadable module is [`KeyErrorKind::Unreachable`]. Anything else in the
/// process that needs the module (a test, a token set-up tool) must take it from here: a second
/// `C_Initialize` fails.
pub fn context(module_path: &Path) -> Result<Pkcs11, KeyError> {
    let contexts = CONTEXTS.get_or_init(Default::default);
    let mut contexts = contexts.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pkcs11) = contexts.get(module_path) {
        return Ok(pkcs11.clone());
    }
    let module = module_path.display();
    if !module_path.is_file() {
        return Err(KeyError::new(KeyErrorKind::Unreachable, format!("pkcs11: no PKCS#11 module at {module}")));
    }
    let pkcs11 = Pkcs11::new(module_path).map_err(|e| {
        KeyError::new(KeyErrorKind::Unreachable, one_line(&format!("pkcs11: cannot load the module {module}: {e}")))
    })?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Already initialized: the same library reached through another path (a symlink).
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(KeyError::new(
                KeyErrorKind::Unreachable,
                one_line(&format!("pkcs11: the module {module} failed to initialize: {}", describe(&e))),
            ));
        }
    }
    contexts.insert(module_path.to_owned(), pkcs11.clone());
    Ok(pkcs11)
}

/// Signs with a private key object inside a PKCS#11 token.
///
/// Owns one logged-in session. Every signature is verified against the public key before it is
/// returned, so a faulty token cannot hand out a bad (or key-leaking) signature.
pub struct Pkcs11Signer {
    session: Session,
    key: ObjectHandle,
    public_key: AccountId,
    uri: String,
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer").field("public_key", &self.public_key).field("uri", &self.uri).finish()
    }
}

impl Pkcs11Signer {
    /// Opens the key `uri` names. The PIN comes from the URI's `pin-source` if it has one, else
    /// from `pin`. The key signs a test message, checked against its public key, before this returns.
    pub fn open(uri: &Pkcs11Uri, pin: &SecretSource) -> Result<Pkcs11Signer, KeyError> {
        let token = Token::login(&uri.module_path, &uri.token, uri.pin_source.as_ref().unwrap_or(pin), false)?;
        let key = token.find_key(ObjectClass::PRIVATE_KEY, &uri.object)?.ok_or_else(|| {
            KeyError::new(
                KeyErrorKind::NotFound,
                format!(
                    "pkcs11: no Ed25519 private key labelled {:?} in token {:?}",
                    echo(&uri.object),
                    echo(&uri.token)
                ),
            )
        })?;
        let public_key = token.public_key_of(key, &uri.object)?;
        let mut signer =
            Pkcs11Signer { session: token.session, key, public_key, uri: KeyUri::Pkcs11(uri.clone()).to_string() };
        signer.sign(SELF_TEST_MESSAGE)?;
        Ok(signer)
    }
}

impl Signer for Pkcs11Signer {
    fn public_key(&self) -> AccountId {
        self.public_key
    }

    fn store(&self) -> StoreKind {
        StoreKind::Pkcs11
    }

    fn uri(&self) -> &str {
        &self.uri
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        let signature = eddsa_sign(&self.session, self.key, message)
            .map_err(|e| hsm_error(&e, format_args!("pkcs11: signing with {} failed", self.uri)))?;
        let signature: [u8; 64] = signature.try_into().map_err(|bytes: Vec<u8>| {
            KeyError::new(
                KeyErrorKind::BadSignature,
                format!("pkcs11: {} returned a {}-byte signature, not 64", self.uri, bytes.len()),
            )
        })?;
        if !verify(&self.public_key, message, &signature) {
            return Err(KeyError::new(
                KeyErrorKind::BadSignature,
                format!(
                    "pkcs11: a signature from {} does not verify against its public key {}",
                    self.uri, self.public_key
                ),
            ));
        }
        Ok(signature)
    }
}

/// Signs `message` with `key` (CKM_EDDSA without parameters: pure Ed25519, what Stellar verifies).
fn eddsa_sign(session: &Session, key: ObjectHandle, message: &[u8]) -> Result<Vec<u8>, CkError> {
    session.sign(&Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)), key, message)
}

/// Generates an Ed25519 key pair inside the token, labelled `uri.object`, and returns its public
/// key. The private key is a token object, private, sensitive and non-extractable. Refuses
/// ([`KeyErrorKind::AlreadyExists`]) if a key with that label exists.
pub fn generate(uri: &Pkcs11Uri, pin: &SecretSource) -> Result<AccountId, KeyError> {
    let token = Token::login(&uri.module_path, &uri.token, uri.pin_source.as_ref().unwrap_or(pin), true)?;
    token.refuse_existing(&uri.object)?;
    let label = uri.object.as_bytes().to_vec();
    // The same CKA_ID on both halves, as other PKCS#11 tools pair keys by it.
    let mut id = vec![0u8; KEY_ID_BYTES];
    getrandom::fill(&mut id)
        .map_err(|_| KeyError::new(KeyErrorKind::Io, "the operating system's random source failed"))?;
    let public_template = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(ED25519_EC_PARAMS.to_vec()),
        Attribute::Label(label.clone()),
        Attribute::Id(id.clone()),
    ];
    let mut private_template = private_key_attributes(label);
    private_template.push(Attribute::Id(id));
    let (public, private) = token
        .session
        .generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public_template, &private_template)
        .map_err(|e| token.error(&e, "generating an Ed25519 key pair"))?;
    token.check_new_pair(public, private, &uri.object, None)
}

/// Imports `seed` as an Ed25519 key pair labelled `uri.object` and returns its public key. The
/// private key object is created sensitive and non-extractable; the seed is not kept. Refuses
/// ([`KeyErrorKind::AlreadyExists`]) if a key with that label exists.
pub fn import(uri: &Pkcs11Uri, pin: &SecretSource, seed: &Seed) -> Result<AccountId, KeyError> {
    let token = Token::login(&uri.module_path, &uri.token, uri.pin_source.as_ref().unwrap_or(pin), true)?;
    token.refuse_existing(&uri.object)?;
    let public_key = seed.public_key();
    let label = uri.object.as_bytes().to_vec();
    let mut private_template = private_key_attributes(label.clone());
    private_template.extend([
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::EC_EDWARDS),
        Attribute::EcParams(ED25519_EC_PARAMS.to_vec()),
        Attribute::Id(public_key.as_bytes().to_vec()),
        Attribute::Value(seed.as_bytes().to_vec()),
    ]);
    let created = token.session.create_object(&private_template);
    for attribute in &mut private_template {
        if let Attribute::Value(bytes) = attribute {
            bytes.zeroize();
        }
    }
    let private = created.map_err(|e| token.error(&e, "creating the private key object"))?;
    let mut ec_point = EC_POINT_DER_HEADER.to_vec();
    ec_point.extend_from_slice(public_key.as_bytes());
    let public_template = [
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC_EDWARDS),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(ED25519_EC_PARAMS.to_vec()),
        Attribute::EcPoint(ec_point),
        Attribute::Label(label),
        Attribute::Id(public_key.as_bytes().to_vec()),
    ];
    let public = match token.session.create_object(&public_template) {
        Ok(public) => public,
        Err(e) => {
            // Leave no half key pair behind; a failure to clean up is reported as the first error.
            let _ = token.session.destroy_object(private);
            return Err(token.error(&e, "creating the public key object"));
        }
    };
    token.check_new_pair(public, private, &uri.object, Some(&public_key))
}

/// The labels and public keys of the Ed25519 private keys in the token, sorted by label. Only
/// public attributes are read.
pub fn list(module_path: &Path, token: &str, pin: &SecretSource) -> Result<Vec<(String, AccountId)>, KeyError> {
    let token = Token::login(module_path, token, pin, false)?;
    let template = [Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::KeyType(KeyType::EC_EDWARDS)];
    let keys = token.session.find_objects(&template).map_err(|e| token.error(&e, "listing private keys"))?;
    let mut listed = Vec::with_capacity(keys.len());
    for key in keys {
        let attributes = token
            .session
            .get_attributes(key, &[AttributeType::Label])
            .map_err(|e| token.error(&e, "reading a key label"))?;
        let label = attributes.iter().find_map(|a| match a {
            Attribute::Label(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        });
        let label = label.unwrap_or_default();
        // Ed448 and keys without a readable public half are not Stellar keys: leave them out.
        if let Ok(public_key) = token.public_key_of(key, &label) {
            listed.push((label, public_key));
        }
    }
    listed.sort();
    Ok(listed)
}

/// The attributes every private key this module creates has.
fn private_key_attributes(label: Vec<u8>) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Derive(false),
        Attribute::Label(label),
    ]
}

/// A logged-in session on a token found by label.
struct Token {
    session: Session,
    label: String,
}

impl Token {
    fn login(module_path: &Path, label: &str, pin: &SecretSource, read_write: bool) -> Result<Token, KeyError> {
        let pkcs11 = context(module_path)?;
        let slot = find_token(&pkcs11, module_path, label)?;
        let token = Token { session: open_session(&pkcs11, slot, read_write, label)?, label: label.to_owned() };
        let pin: Secret = pin.read("PIN")?;
        let auth = AuthPin::from(pin.expose().to_owned());
        drop(pin);
        match token.session.login(UserType::User, Some(&auth)) {
            // Another session of this process already logged in to this token.
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(token),
            Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange, _)) => Err(
                KeyError::new(KeyErrorKind::WrongPin, format!("pkcs11: token {:?} refused the user PIN", echo(label))),
            ),
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(KeyError::new(
                KeyErrorKind::StoreError,
                format!(
                    "pkcs11: the user PIN of token {:?} is locked after too many wrong tries; \
                     its security officer must unlock it",
                    echo(label)
                ),
            )),
            Err(CkError::Pkcs11(RvError::PinExpired, _)) => Err(KeyError::new(
                KeyErrorKind::StoreError,
                format!("pkcs11: the user PIN of token {:?} has expired; change it first", echo(label)),
            )),
            Err(e) => Err(token.error(&e, "logging in")),
        }
    }

    /// The private or public Ed25519 key object labelled `label`, if there is one.
    fn find_key(&self, class: ObjectClass, label: &str) -> Result<Option<ObjectHandle>, KeyError> {
        let template = [
            Attribute::Class(class),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let found = self.session.find_objects(&template).map_err(|e| self.error(&e, "searching for a key"))?;
        match found.as_slice() {
            [] => Ok(None),
            [object] => Ok(Some(*object)),
            several => Err(KeyError::new(
                KeyErrorKind::StoreError,
                format!(
                    "pkcs11: {} {class} objects labelled {:?} in token {:?}; give each key its own label",
                    several.len(),
                    echo(label),
                    echo(&self.label)
                ),
            )),
        }
    }

    fn refuse_existing(&self, label: &str) -> Result<(), KeyError> {
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            if self.find_key(class, label)?.is_some() {
                return Err(KeyError::new(
                    KeyErrorKind::AlreadyExists,
                    format!("pkcs11: token {:?} already has a key labelled {:?}", echo(&self.label), echo(label)),
                ));
            }
        }
        Ok(())
    }

    /// The public key of `private`: `CKA_EC_POINT` of the public key object with the same label,
    /// else the private key's `CKA_PUBLIC_KEY_INFO`.
    fn public_key_of(&self, private: ObjectHandle, label: &str) -> Result<AccountId, KeyError> {
        if let Some(public) = self.find_key(ObjectClass::PUBLIC_KEY, label)? {
            let attributes = self
                .session
                .get_attributes(public, &[AttributeType::EcPoint])
                .map_err(|e| self.error(&e, "reading CKA_EC_POINT"))?;
            let point = attributes.iter().find_map(|a| match a {
                Attribute::EcPoint(bytes) => Some(bytes.as_slice()),
                _ => None,
            });
            return point.and_then(ed25519_from_ec_point).map(AccountId::from_bytes).ok_or_else(|| {
                KeyError::new(
                    KeyErrorKind::StoreError,
                    format!("pkcs11: the public key labelled {:?} is not an Ed25519 point", echo(label)),
                )
            });
        }
        let attributes = self.session.get_attributes(private, &[AttributeType::PublicKeyInfo]).unwrap_or_default();
        let info = attributes.iter().find_map(|a| match a {
            Attribute::PublicKeyInfo(bytes) => bytes.strip_prefix(&ED25519_SPKI_PREFIX[..]),
            _ => None,
        });
        info.and_then(|key| <[u8; 32]>::try_from(key).ok()).map(AccountId::from_bytes).ok_or_else(|| {
            KeyError::new(
                KeyErrorKind::NotFound,
                format!(
                    "pkcs11: no Ed25519 public key labelled {:?} in token {:?} (needed to check signatures)",
                    echo(label),
                    echo(&self.label)
                ),
            )
        })
    }

    /// The public key of a key pair just made, after a self-test (and, for an import, a check
    /// that the token holds the `expected` public key). A pair that fails is destroyed, so that
    /// no broken key is left under the label.
    fn check_new_pair(
        &self,
        public: ObjectHandle,
        private: ObjectHandle,
        label: &str,
        expected: Option<&AccountId>,
    ) -> Result<AccountId, KeyError> {
        let checked = self.public_key_of(private, label).and_then(|public_key| match expected {
            Some(expected) if *expected != public_key => Err(KeyError::new(
                KeyErrorKind::StoreError,
                format!("pkcs11: token {:?} stored public key {public_key}, not {expected}", echo(&self.label)),
            )),
            _ => self.self_test(private, &public_key).map(|()| public_key),
        });
        if checked.is_err() {
            let _ = self.session.destroy_object(private);
            let _ = self.session.destroy_object(public);
        }
        checked
    }

    /// Signs the self-test message with `private` and checks it against `public_key`.
    fn self_test(&self, private: ObjectHandle, public_key: &AccountId) -> Result<(), KeyError> {
        let signature = eddsa_sign(&self.session, private, SELF_TEST_MESSAGE)
            .map_err(|e| self.error(&e, "signing the self-test message"))?;
        match <[u8; 64]>::try_from(signature) {
            Ok(signature) if verify(public_key, SELF_TEST_MESSAGE, &signature) => Ok(()),
            _ => Err(KeyError::new(
                KeyErrorKind::BadSignature,
                format!(
                    "pkcs11: the self-test signature from token {:?} does not verify against {public_key}",
                    echo(&self.label)
                ),
            )),
        }
    }

    fn error(&self, e: &CkError, doing: &str) -> KeyError {
        hsm_error(e, format_args!("pkcs11: {doing} in token {:?} failed", echo(&self.label)))
    }
}

fn find_token(pkcs11: &Pkcs11, module_path: &Path, label: &str) -> Result<Slot, KeyError> {
    let module = module_path.display();
    let slots = pkcs11
        .get_slots_with_token()
        .map_err(|e| hsm_error(&e, format_args!("pkcs11: listing the slots of {module} failed")))?;
    for slot in slots {
        // A slot whose token cannot be read (removed meanwhile) is not the one asked for.
        if pkcs11.get_token_info(slot).is_ok_and(|info| info.label() == label) {
            return Ok(slot);
        }
    }
    Err(KeyError::new(KeyErrorKind::NotFound, format!("pkcs11: no token labelled {:?} in {module}", echo(label))))
}

fn open_session(pkcs11: &Pkcs11, slot: Slot, read_write: bool, label: &str) -> Result<Session, KeyError> {
    let session = if read_write { pkcs11.open_rw_session(slot) } else { pkcs11.open_ro_session(slot) };
    session.map_err(|e| hsm_error(&e, format_args!("pkcs11: opening a session on token {:?} failed", echo(label))))
}

/// The 32-byte key in a `CKA_EC_POINT`: DER-wrapped (`04 20 || key`, as the standard says) or raw.
fn ed25519_from_ec_point(point: &[u8]) -> Option<[u8; 32]> {
    let key = point.strip_prefix(&EC_POINT_DER_HEADER[..]).filter(|key| key.len() == 32).unwrap_or(point);
    key.try_into().ok()
}

/// A [`KeyError`] for a failed PKCS#11 call: `context`, then what the module returned.
fn hsm_error(e: &CkError, context: fmt::Arguments<'_>) -> KeyError {
    let kind = match e {
        CkError::Pkcs11(
            RvError::DeviceRemoved | RvError::TokenNotPresent | RvError::DeviceError | RvError::SessionClosed,
            _,
        ) => KeyErrorKind::Unreachable,
        CkError::Pkcs11(RvError::UserNotLoggedIn | RvError::SessionHandleInvalid, _) => KeyErrorKind::Unreachable,
        _ => KeyErrorKind::StoreError,
    };
    KeyError::new(kind, one_line(&format!("{context}: {}", describe(e))))
}

/// A PKCS#11 error in a few words: the function and return value names, not cryptoki's
/// paragraph-long descriptions.
fn describe(e: &CkError) -> String {
    match e {
        // `Function` prints as `Function::Login`; PKCS#11 calls it `C_Login`.
        CkError::Pkcs11(rv, function) => {
            format!("C_{} returned {rv:?}", function.to_string().trim_start_matches("Function::"))
        }
        other => other.to_string(),
    }
}

/// `text` on one line, for messages that quote a library.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A label as echoed in an error: at most [`LABEL_ECHO_CHARS_MAX`] characters.
fn echo(label: &str) -> String {
    let mut out: String = label.chars().take(LABEL_ECHO_CHARS_MAX).collect();
    if label.chars().count() > LABEL_ECHO_CHARS_MAX {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_decode_wrapped_or_raw() {
        let key = [9u8; 32];
        let mut wrapped = EC_POINT_DER_HEADER.to_vec();
        wrapped.extend_from_slice(&key);
        assert_eq!(ed25519_from_ec_point(&wrapped), Some(key));
        assert_eq!(ed25519_from_ec_point(&key), Some(key));
        assert_eq!(ed25519_from_ec_point(&wrapped[..33]), None);
        assert_eq!(ed25519_from_ec_point(&[0x04, 0x39, 1, 2, 3]), None);
    }

    #[test]
    fn errors_are_one_line() {
        assert_eq!(one_line("a\nb\r\n c \n"), "a b c");
        let e = CkError::Pkcs11(RvError::PinIncorrect, cryptoki::context::Function::Login);
        assert_eq!(describe(&e), "C_Login returned PinIncorrect");
    }
}
