//! The `pkcs11:` key store against a real SoftHSM2 token: generate and import Ed25519 keys, sign
//! (checked with ed25519-dalek and against `SeedSigner`), open through a key URI, list, and the
//! errors for a wrong PIN and a missing token, module or key — one line each, never the PIN.

mod harness;

use std::path::Path;

use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use harness::{SoftHsm, assert_clean};
use starlog_adapters::keys::pkcs11::{self, Pkcs11Signer};
use starlog_adapters::keys::{
    KeyErrorKind, KeyUri, OpenOptions, Pkcs11Uri, SecretSource, SecurityLevel, Seed, SeedSigner, Signer, StoreKind,
    open_signer, verify,
};

const PIN: &str = "user-pin-2468";
const MESSAGE: &[u8] = b"a transaction hash, 32 bytes of it";

/// A fresh token labelled `token` and the URI of key `object` in it, with its PIN in a file.
fn setup(token: &str, object: &str) -> (Pkcs11Uri, SecretSource) {
    let hsm = SoftHsm::shared();
    hsm.init_token(token, PIN);
    let pin = SecretSource::File(hsm.pin_file(token, PIN));
    let uri = Pkcs11Uri {
        token: token.to_owned(),
        object: object.to_owned(),
        module_path: hsm.module.clone(),
        pin_source: None,
    };
    (uri, pin)
}

/// Checks, with the process's shared module context, that the private key labelled `object` is
/// sensitive and non-extractable and that its value cannot be read.
fn assert_private_key_stays_inside(uri: &Pkcs11Uri) {
    let pkcs11 = pkcs11::context(&uri.module_path).unwrap();
    let slot = pkcs11
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|slot| pkcs11.get_token_info(*slot).unwrap().label() == uri.token)
        .unwrap();
    let session = pkcs11.open_ro_session(slot).unwrap();
    // Another session may hold the login already; that is fine.
    let _ = session.login(UserType::User, Some(&AuthPin::from(PIN)));
    let template = [
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::EC_EDWARDS),
        Attribute::Label(uri.object.as_bytes().to_vec()),
    ];
    let keys = session.find_objects(&template).unwrap();
    assert_eq!(keys.len(), 1);
    let attributes = session
        .get_attributes(
            keys[0],
            &[AttributeType::Sensitive, AttributeType::Extractable, AttributeType::Token, AttributeType::Value],
        )
        .unwrap();
    assert!(attributes.iter().any(|a| matches!(a, Attribute::Sensitive(true))), "{attributes:?}");
    assert!(attributes.iter().any(|a| matches!(a, Attribute::Extractable(false))), "{attributes:?}");
    assert!(attributes.iter().any(|a| matches!(a, Attribute::Token(true))), "{attributes:?}");
    assert!(!attributes.iter().any(|a| matches!(a, Attribute::Value(_))), "the private key's value is readable");
}

#[test]
fn a_generated_key_signs_inside_the_token() {
    let (uri, pin) = setup("gen", "trader");
    let public_key = pkcs11::generate(&uri, &pin).unwrap();
    let err = pkcs11::generate(&uri, &pin).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::AlreadyExists);
    assert_clean(&err, &[PIN]);
    assert_private_key_stays_inside(&uri);

    let mut signer = Pkcs11Signer::open(&uri, &pin).unwrap();
    assert_eq!(signer.public_key(), public_key);
    assert_eq!(signer.store(), StoreKind::Pkcs11);
    let signature = signer.sign(MESSAGE).unwrap();
    assert!(verify(&public_key, MESSAGE, &signature));
    assert!(!verify(&public_key, b"another message", &signature));
    // Pure Ed25519 is deterministic.
    assert_eq!(signer.sign(MESSAGE).unwrap(), signature);
    let debug = format!("{signer:?}");
    assert!(debug.contains(&public_key.to_string()) && !debug.contains(PIN), "{debug}");

    // A signer is Send: a signer thread can own it.
    let signature = std::thread::spawn(move || signer.sign(b"from another thread").unwrap()).join().unwrap();
    assert!(verify(&public_key, b"from another thread", &signature));
}

#[test]
fn an_imported_seed_signs_as_seed_signer_does() {
    let (uri, pin) = setup("import", "imported");
    let seed = Seed::from_strkey("SBGWSG6BTNCKCOB3DIFBGCVMUPQFYPA2G4O34RMTB343OYPXU5DJDVMN").unwrap();
    let public_key = pkcs11::import(&uri, &pin, &seed).unwrap();
    assert_eq!(public_key, seed.public_key());
    assert_eq!(public_key.to_string(), "GDRXE2BQUC3AZNPVFSCEZ76NJ3WWL25FYFK6RGZGIEKWE4SOOHSUJUJ6");
    assert_eq!(pkcs11::import(&uri, &pin, &seed).unwrap_err().kind(), KeyErrorKind::AlreadyExists);
    assert_private_key_stays_inside(&uri);

    let mut in_token = Pkcs11Signer::open(&uri, &pin).unwrap();
    let mut in_process = SeedSigner::new(&seed, StoreKind::Env, "env:SEED".into());
    for message in [MESSAGE, b"", &[0xFF; 300][..]] {
        let signature = in_token.sign(message).unwrap();
        assert!(verify(&public_key, message, &signature));
        assert_eq!(signature, in_process.sign(message).unwrap());
    }
}

#[test]
fn open_signer_takes_a_uri_string_and_the_pin_source_it_names() {
    let (uri, pin) = setup("uri", "by-uri");
    let public_key = pkcs11::generate(&uri, &pin).unwrap();
    let SecretSource::File(pin_path) = &pin else { unreachable!() };
    let text = format!(
        "pkcs11:token=uri;object=by-uri?module-path={}&pin-source=file:{}",
        uri.module_path.display(),
        pin_path.display()
    );
    // The URI's pin-source wins over the options' (a variable that is never set).
    let options = OpenOptions {
        level: SecurityLevel::Production,
        passphrase: SecretSource::Env("STARLOG_TEST_NEVER_SET".into()),
        pin: SecretSource::Env("STARLOG_TEST_NEVER_SET".into()),
    };
    let mut signer = open_signer(&KeyUri::parse(&text).unwrap(), &options).unwrap();
    assert_eq!((signer.public_key(), signer.store(), signer.uri()), (public_key, StoreKind::Pkcs11, text.as_str()));
    let signature = signer.sign(MESSAGE).unwrap();
    assert!(verify(&public_key, MESSAGE, &signature));

    // Without a pin-source in the URI, the options' PIN is used.
    let text = format!("pkcs11:token=uri;object=by-uri?module-path={}", uri.module_path.display());
    let options = OpenOptions { pin: pin.clone(), ..options };
    let mut signer = open_signer(&KeyUri::parse(&text).unwrap(), &options).unwrap();
    assert!(verify(&public_key, MESSAGE, &signer.sign(MESSAGE).unwrap()));
}

#[test]
fn list_shows_labels_and_public_keys_while_signers_are_open() {
    let (uri, pin) = setup("list", "b-generated");
    let generated = pkcs11::generate(&uri, &pin).unwrap();
    let mut first = Pkcs11Signer::open(&uri, &pin).unwrap();
    let seed = Seed::from_bytes([42; 32]);
    let imported_uri = Pkcs11Uri { object: "a-imported".into(), ..uri.clone() };
    let imported = pkcs11::import(&imported_uri, &pin, &seed).unwrap();
    let mut second = Pkcs11Signer::open(&imported_uri, &pin).unwrap();

    let listed = pkcs11::list(&uri.module_path, &uri.token, &pin).unwrap();
    assert_eq!(listed, vec![("a-imported".to_owned(), imported), ("b-generated".to_owned(), generated)]);

    // Two signers on one token share its login; closing one leaves the other signing.
    assert!(verify(&generated, MESSAGE, &first.sign(MESSAGE).unwrap()));
    assert!(verify(&imported, MESSAGE, &second.sign(MESSAGE).unwrap()));
    drop(second);
    assert!(verify(&generated, MESSAGE, &first.sign(MESSAGE).unwrap()));

    let (empty, pin) = setup("list-empty", "none");
    assert_eq!(pkcs11::list(&empty.module_path, &empty.token, &pin).unwrap(), vec![]);
}

#[test]
fn a_wrong_pin_is_refused_and_never_shown() {
    let (uri, pin) = setup("pin", "k");
    pkcs11::generate(&uri, &pin).unwrap();
    let wrong = "wrong-pin-97531";
    let wrong_source = SecretSource::File(SoftHsm::shared().pin_file("pin-wrong", wrong));
    for err in [
        Pkcs11Signer::open(&uri, &wrong_source).unwrap_err(),
        pkcs11::generate(&Pkcs11Uri { object: "other".into(), ..uri.clone() }, &wrong_source).unwrap_err(),
        pkcs11::list(&uri.module_path, &uri.token, &wrong_source).unwrap_err(),
    ] {
        assert_eq!(err.kind(), KeyErrorKind::WrongPin, "{err}");
        assert_clean(&err, &[wrong, PIN]);
    }
    // A PIN source that cannot be read is its own error.
    let err = Pkcs11Signer::open(&uri, &SecretSource::Env("STARLOG_TEST_NEVER_SET".into())).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::MissingSecret);
}

#[test]
fn a_missing_token_module_or_key_is_named() {
    let (uri, pin) = setup("missing", "present");
    pkcs11::generate(&uri, &pin).unwrap();

    let err = Pkcs11Signer::open(&Pkcs11Uri { token: "no-such-token".into(), ..uri.clone() }, &pin).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::NotFound);
    assert!(err.to_string().contains("no-such-token"), "{err}");
    assert_clean(&err, &[PIN]);

    let module = Path::new("/nonexistent/libpkcs11-module.so");
    let err = Pkcs11Signer::open(&Pkcs11Uri { module_path: module.into(), ..uri.clone() }, &pin).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Unreachable);
    assert!(err.to_string().contains("/nonexistent/libpkcs11-module.so"), "{err}");
    assert_clean(&err, &[PIN]);
    // A file that is not a PKCS#11 module.
    let err = pkcs11::list(Path::new("/etc/hostname"), &uri.token, &pin).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Unreachable);
    assert_clean(&err, &[PIN]);

    let err = Pkcs11Signer::open(&Pkcs11Uri { object: "absent".into(), ..uri.clone() }, &pin).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::NotFound);
    assert!(err.to_string().contains("absent"), "{err}");
    assert_clean(&err, &[PIN]);
}
