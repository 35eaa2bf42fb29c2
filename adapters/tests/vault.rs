//! The `vault:` key store against a real OpenBao dev server on loopback: generate and import
//! (BYOK) Ed25519 transit keys, sign (checked with ed25519-dalek and against `SeedSigner`), open
//! through a key URI with the token from `VAULT_TOKEN`, list, key rotation, and the errors for an
//! unreachable server, a missing or bad token and a missing key — one line each, never the token.

mod harness;

use std::process::Command;

use harness::{OpenBao, assert_clean, closed_port};
use serde_json::json;
use starlog_adapters::keys::vault::{self, VaultClient, VaultSigner};
use starlog_adapters::keys::{
    KeyErrorKind, KeyUri, OpenOptions, Secret, SecurityLevel, Seed, SeedSigner, Signer, StoreKind, open_signer, verify,
};

const MESSAGE: &[u8] = b"a transaction hash, 32 bytes of it";
/// Set in the environment of this binary's child processes: the key URI the child opens.
const CHILD_URI_VAR: &str = "STARLOG_TEST_VAULT_CHILD_URI";
/// What a child prints before its result.
const CHILD_MARK: &str = "VAULT-CHILD ";

#[test]
fn a_generated_key_signs_in_transit() {
    let bao = OpenBao::start();
    let client = bao.client();
    let public_key = client.generate("transit", "trader").unwrap();
    let err = client.generate("transit", "trader").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::AlreadyExists);
    assert_clean(&err, &[&bao.root_token]);
    // Transit keeps it non-exportable.
    let (status, reply) = bao.admin("GET", "transit/keys/trader", None);
    assert_eq!((status, &reply["data"]["exportable"]), (200, &json!(false)));

    let mut signer = VaultSigner::with_client(bao.client(), "transit", "trader").unwrap();
    assert_eq!((signer.public_key(), signer.store(), signer.version()), (public_key, StoreKind::Vault, 1));
    assert_eq!(signer.uri(), format!("vault:{}/transit/keys/trader", bao.address));
    let signature = signer.sign(MESSAGE).unwrap();
    assert!(verify(&public_key, MESSAGE, &signature));
    assert!(!verify(&public_key, b"another message", &signature));
    assert_eq!(signer.sign(MESSAGE).unwrap(), signature);
    for debug in [format!("{signer:?}"), format!("{client:?}")] {
        assert!(!debug.contains(&bao.root_token), "{debug}");
    }

    // A signer is Send: a signer thread can own it.
    let signature = std::thread::spawn(move || signer.sign(b"from another thread").unwrap()).join().unwrap();
    assert!(verify(&public_key, b"from another thread", &signature));
}

#[test]
fn an_imported_seed_signs_as_seed_signer_does() {
    let bao = OpenBao::start();
    let client = bao.client();
    let seed = Seed::from_strkey("SBGWSG6BTNCKCOB3DIFBGCVMUPQFYPA2G4O34RMTB343OYPXU5DJDVMN").unwrap();
    let public_key = client.import("transit", "imported", &seed).unwrap();
    assert_eq!(public_key.to_string(), "GDRXE2BQUC3AZNPVFSCEZ76NJ3WWL25FYFK6RGZGIEKWE4SOOHSUJUJ6");
    assert_eq!(client.import("transit", "imported", &seed).unwrap_err().kind(), KeyErrorKind::AlreadyExists);
    let (status, reply) = bao.admin("GET", "transit/keys/imported", None);
    assert_eq!(
        (status, &reply["data"]["imported_key"], &reply["data"]["exportable"]),
        (200, &json!(true), &json!(false))
    );

    let mut in_transit = VaultSigner::with_client(bao.client(), "transit", "imported").unwrap();
    let mut in_process = SeedSigner::new(&seed, StoreKind::Env, "env:SEED".into());
    for message in [MESSAGE, b"", &[0xFF; 300][..]] {
        let signature = in_transit.sign(message).unwrap();
        assert!(verify(&public_key, message, &signature));
        assert_eq!(signature, in_process.sign(message).unwrap());
    }
}

#[test]
fn list_shows_the_ed25519_keys_only() {
    let bao = OpenBao::start();
    let client = bao.client();
    assert_eq!(client.list("transit").unwrap(), vec![]);
    let generated = client.generate("transit", "b-generated").unwrap();
    let imported = client.import("transit", "a-imported", &Seed::from_bytes([42; 32])).unwrap();
    for (name, kind) in [("symmetric", "aes256-gcm96"), ("p256", "ecdsa-p256")] {
        let (status, _) = bao.admin("POST", &format!("transit/keys/{name}"), Some(json!({ "type": kind })));
        assert!(status == 200 || status == 204, "creating {kind}: {status}");
    }
    let listed = client.list("transit").unwrap();
    assert_eq!(listed, vec![("a-imported".to_owned(), imported), ("b-generated".to_owned(), generated)]);

    let err = client.list("no-such-mount").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::NotFound);
    assert_clean(&err, &[&bao.root_token]);
    let err = VaultSigner::with_client(bao.client(), "transit", "symmetric").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Unsupported);
    assert!(err.to_string().contains("aes256-gcm96"), "{err}");
}

#[test]
fn a_signer_keeps_the_key_version_it_opened_through_a_rotation() {
    let bao = OpenBao::start();
    let client = bao.client();
    let first = client.generate("transit", "rotating").unwrap();
    let mut signer = VaultSigner::with_client(bao.client(), "transit", "rotating").unwrap();
    let (status, _) = bao.admin("POST", "transit/keys/rotating/rotate", None);
    assert!(status == 200 || status == 204, "rotate: {status}");

    let signature = signer.sign(MESSAGE).unwrap();
    assert_eq!(signer.public_key(), first);
    assert!(verify(&first, MESSAGE, &signature));
    let reopened = VaultSigner::with_client(bao.client(), "transit", "rotating").unwrap();
    assert_eq!(reopened.version(), 2);
    assert_ne!(reopened.public_key(), first);
}

#[test]
fn open_signer_takes_the_token_from_vault_token() {
    let bao = OpenBao::start();
    let public_key = bao.client().generate("transit", "from-env").unwrap();
    let uri = format!("vault:{}/transit/keys/from-env", bao.address);

    let reply = run_child(&uri, Some(&bao.root_token));
    let (key, signature) = reply.strip_prefix("ok ").and_then(|r| r.split_once(' ')).expect(&reply);
    assert_eq!(key, public_key.to_string());
    assert!(verify(&public_key, MESSAGE, &hex_signature(signature)));

    let reply = run_child(&uri, None);
    assert!(reply.starts_with("err MissingSecret ") && reply.contains("VAULT_TOKEN"), "{reply}");

    let bad = "hvs.not-a-real-token-86420";
    let reply = run_child(&uri, Some(bad));
    assert!(reply.starts_with("err PermissionDenied ") && reply.contains("permission denied"), "{reply}");
    assert!(!reply.contains(bad), "{reply}");
}

/// The child side of `open_signer_takes_the_token_from_vault_token` (run there, in a process of
/// its own with its own environment): opens the URI in [`CHILD_URI_VAR`] as the CLI would, and
/// prints the result. Does nothing in a plain test run, where that variable is unset.
#[test]
fn child_opens_the_uri_it_is_given() {
    let Ok(text) = std::env::var(CHILD_URI_VAR) else { return };
    let options = OpenOptions::interactive(SecurityLevel::Production);
    match KeyUri::parse(&text).and_then(|uri| open_signer(&uri, &options)) {
        Ok(mut signer) => {
            let signature = signer.sign(MESSAGE).unwrap();
            let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
            println!("{CHILD_MARK}ok {} {hex}", signer.public_key());
        }
        Err(e) => println!("{CHILD_MARK}err {:?} {e}", e.kind()),
    }
}

/// Runs [`child_opens_the_uri_it_is_given`] in a child process with `VAULT_TOKEN` set to `token`
/// (or unset), and returns what it printed after [`CHILD_MARK`].
fn run_child(uri: &str, token: Option<&str>) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", "child_opens_the_uri_it_is_given", "--nocapture", "--test-threads=1"]);
    command.env(CHILD_URI_VAR, uri);
    match token {
        Some(token) => command.env("VAULT_TOKEN", token),
        None => command.env_remove("VAULT_TOKEN"),
    };
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    // libtest may print "test NAME ... " on the same line first.
    stdout
        .lines()
        .find_map(|line| line.split_once(CHILD_MARK))
        .map(|(_, result)| result.to_owned())
        .expect("the child's result line")
}

fn hex_signature(hex: &str) -> [u8; 64] {
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    bytes.try_into().unwrap()
}

#[test]
fn unreachable_servers_bad_tokens_and_missing_keys_are_one_line_errors() {
    let bao = OpenBao::start();
    bao.client().generate("transit", "present").unwrap();

    let closed = format!("http://127.0.0.1:{}", closed_port());
    let client = VaultClient::new(&closed, Secret::new(bao.root_token.clone())).unwrap();
    let err = VaultSigner::with_client(client, "transit", "present").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::Unreachable);
    assert!(err.to_string().contains(&closed), "{err}");
    assert_clean(&err, &[&bao.root_token]);

    let bad = "s.bad-token-13579";
    let client = VaultClient::new(&bao.address, Secret::new(bad.to_owned())).unwrap();
    for err in [
        VaultSigner::with_client(client, "transit", "present").unwrap_err(),
        VaultClient::new(&bao.address, Secret::new(bad.to_owned())).unwrap().list("transit").unwrap_err(),
    ] {
        assert_eq!(err.kind(), KeyErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("permission denied"), "{err}");
        assert_clean(&err, &[bad, &bao.root_token]);
    }

    let err = VaultSigner::with_client(bao.client(), "transit", "absent").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::NotFound);
    assert!(err.to_string().contains("transit/keys/absent"), "{err}");
    assert_clean(&err, &[&bao.root_token]);

    // A token that cannot go in a header, and an address that is not one, are refused up front.
    let client = VaultClient::new(&bao.address, Secret::new("line\nbreak".to_owned())).unwrap();
    let err = client.key("transit", "present").unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::MissingSecret);
    assert_clean(&err, &["line\nbreak"]);
    assert!(VaultClient::new("127.0.0.1:8200", Secret::new("t".into())).is_err());
    assert!(vault::list("http://127.0.0.1:1/x", "transit").is_err());
}
