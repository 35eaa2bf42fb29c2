//! A signing session end to end, through the `starlog` binary and the library, over every key
//! store (env, encrypted file, SoftHSM2 token, OpenBao transit):
//!
//! - the same seed imported into each store signs `starlog tx` envelopes byte-identical to the
//!   Python-SDK vector (Ed25519 is deterministic, so every store's signature equals dalek's);
//! - SEP-5 derivation through `keys derive` matches the spec's vectors;
//! - bad input (wrong passphrase, wrong PIN, missing token, unreachable Vault, malformed URI…)
//!   is one line on stderr and a non-zero exit;
//! - afterwards every byte the session produced — stdout and stderr of every command, every error
//!   message, the journal written from the session's events — is scanned for the seed (raw, hex,
//!   base64, strkey), the passphrase, the PIN and the Vault token, and none is found.

#[path = "../adapters/tests/harness/mod.rs"]
mod harness;

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;
use starlog_adapters::keys::multisig::AccountSigners;
use starlog_adapters::keys::{self, KeyUri, OpenOptions, SecretSource, SecurityLevel, Seed};
use starlog_adapters::policy::{GuardedSigner, Policy};
use starlog_adapters::stellar::Network;
use starlog_adapters::stellar::tx::{self, OfferKind, OfferOp, TxParams};
use starlog_engine::events::{self, Input, SessionStart, TxSubmitted};
use starlog_journal::{Durability, JournalOptions, JournalWriter};
use stellar_xdr::WriteXdr;

const PASSPHRASE: &str = "correct horse battery staple 7741";
const PIN: &str = "pin-836104";
const MNEMONIC: &str = "illness spike retreat truth genius clock brain pass fit cave bargain toe";

/// Everything the session printed or returned, to be scanned at the end.
#[derive(Default)]
struct Transcript {
    text: Vec<String>,
}

impl Transcript {
    fn run(&mut self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_starlog"));
        cmd.args(args).env_remove("VAULT_TOKEN").stdin(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run starlog");
        self.text.push(String::from_utf8_lossy(&out.stdout).into_owned());
        self.text.push(String::from_utf8_lossy(&out.stderr).into_owned());
        out
    }

    fn ok(&mut self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let out = self.run(args, env);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        serde_json::from_str(&stdout).unwrap()
    }

    fn fails(&mut self, args: &[&str], env: &[(&str, &str)], expect: &str) {
        let out = self.run(args, env);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err:?} lacks {expect:?}");
    }
}

fn vector() -> Value {
    let text = include_str!("../adapters/tests/vectors/tx.json");
    serde_json::from_str::<Value>(text).unwrap()["vectors"][0].clone()
}

fn tx_args(v: &Value, key: &str) -> Vec<String> {
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    let mut args = vec!["tx".to_owned(), s("op"), "--key".to_owned(), key.to_owned()];
    for flag in
        ["network", "sequence", "fee", "min_time", "max_time", "selling", "buying", "amount", "price", "offer_id"]
    {
        args.push(format!("--{}", flag.replace('_', "-")));
        args.push(s(flag));
    }
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Every encoding of `secret` bytes a careless log line might carry.
fn encodings(bytes: &[u8]) -> Vec<Vec<u8>> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    vec![bytes.to_vec(), hex.clone().into_bytes(), hex.to_uppercase().into_bytes(), b64.into_bytes()]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn journal_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        all.extend(std::fs::read(entry.path()).unwrap());
    }
    all
}

#[test]
fn a_signing_session_over_every_store_leaks_nothing() {
    let v = vector();
    let seed_text = v["secret"].as_str().unwrap().to_owned();
    let seed = Seed::from_strkey(&seed_text).unwrap();
    let want_envelope = v["envelope_xdr"].as_str().unwrap();
    let mut t = Transcript::default();
    let dir = tempfile::tempdir().unwrap();
    let env_seed = [("SEED", seed_text.as_str())];

    // env: the baseline.
    let out = t.ok(&strs(&tx_args(&v, "env:SEED")), &env_seed);
    assert_eq!(out["envelope_xdr"], want_envelope);

    // file: import the seed, sign, rotate the passphrase, list.
    let key_file = dir.path().join("trader.key");
    let file_uri = format!("file:{}", key_file.display());
    let pass = [("SEED", seed_text.as_str()), ("PASS", PASSPHRASE), ("NEWPASS", "another passphrase 9")];
    let out = t.ok(&["keys", "import", "--store", &file_uri, "--seed-env", "SEED", "--passphrase-env", "PASS"], &pass);
    assert_eq!(out["public_key"], v["public_key"]);
    let mut file_tx = tx_args(&v, &file_uri);
    file_tx.extend(["--passphrase-env".to_owned(), "PASS".to_owned()]);
    assert_eq!(t.ok(&strs(&file_tx), &pass)["envelope_xdr"], want_envelope);
    t.fails(&strs(&file_tx), &[("PASS", "wrong passphrase")], "wrong passphrase");
    t.fails(&strs(&file_tx), &[], "environment variable PASS is not set");
    t.fails(
        &["keys", "import", "--store", &file_uri, "--seed-env", "SEED", "--passphrase-env", "PASS"],
        &pass,
        "exists",
    );
    t.ok(
        &["keys", "rotate", "--store", &file_uri, "--passphrase-env", "PASS", "--new-passphrase-env", "NEWPASS"],
        &pass,
    );
    t.fails(&strs(&file_tx), &pass, "wrong passphrase");
    let listed = t.ok(&["keys", "list", "--store", &format!("file:{}", dir.path().display())], &[]);
    assert_eq!(listed[0]["public_key"], v["public_key"]);
    let mut tampered = std::fs::read(&key_file).unwrap();
    tampered[120] ^= 1;
    let tampered_file = dir.path().join("tampered.key");
    std::fs::write(&tampered_file, &tampered).unwrap();
    let mut tampered_tx = tx_args(&v, &format!("file:{}", tampered_file.display()));
    tampered_tx.extend(["--passphrase-env".to_owned(), "NEWPASS".to_owned()]);
    t.fails(&strs(&tampered_tx), &pass, "tampered");

    // pkcs11: a fresh SoftHSM2 token; import, sign, list; wrong PIN, missing token, missing key.
    let hsm = harness::SoftHsm::shared();
    let token = format!("session-{}", std::process::id());
    hsm.init_token(&token, PIN);
    let module = hsm.module.display().to_string();
    let p11 = |object: &str, token: &str| {
        format!("pkcs11:token={token};object={object}?module-path={module}&pin-source=env:PIN")
    };
    let pin_env = [("SEED", seed_text.as_str()), ("PIN", PIN)];
    let out = t.ok(&["keys", "import", "--store", &p11("trader", &token), "--seed-env", "SEED"], &pin_env);
    assert_eq!(out["public_key"], v["public_key"]);
    assert_eq!(t.ok(&strs(&tx_args(&v, &p11("trader", &token))), &pin_env)["envelope_xdr"], want_envelope);
    let generated = t.ok(&["keys", "generate", "--store", &p11("fresh", &token)], &pin_env);
    let listed = t.ok(
        &["keys", "list", "--store", &format!("pkcs11:token={token}?module-path={module}&pin-source=env:PIN")],
        &pin_env,
    );
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fresh", "trader"]);
    assert!(listed.as_array().unwrap().iter().any(|k| k["public_key"] == generated["public_key"]));
    t.fails(&strs(&tx_args(&v, &p11("trader", &token))), &[("PIN", "pin-000000")], "PIN");
    t.fails(&strs(&tx_args(&v, &p11("trader", "no-such-token"))), &pin_env, "no-such-token");
    t.fails(&strs(&tx_args(&v, &p11("no-such-key", &token))), &pin_env, "no-such-key");
    let missing_module = "pkcs11:token=t;object=o?module-path=/nonexistent/libpkcs11.so&pin-source=env:PIN";
    t.fails(&strs(&tx_args(&v, missing_module)), &pin_env, "/nonexistent/libpkcs11.so");

    // vault: an OpenBao dev server; import, sign, list; unreachable server, bad token.
    let bao = harness::OpenBao::start();
    let vault_uri = format!("vault:{}/transit/keys/trader", bao.address);
    let token_env = [("SEED", seed_text.as_str()), ("VAULT_TOKEN", bao.root_token.as_str())];
    let out = t.ok(&["keys", "import", "--store", &vault_uri, "--seed-env", "SEED"], &token_env);
    assert_eq!(out["public_key"], v["public_key"]);
    assert_eq!(t.ok(&strs(&tx_args(&v, &vault_uri)), &token_env)["envelope_xdr"], want_envelope);
    let listed = t.ok(&["keys", "list", "--store", &format!("vault:{}/transit", bao.address)], &token_env);
    assert_eq!(listed[0]["public_key"], v["public_key"]);
    let closed = format!("vault:http://127.0.0.1:{}/transit/keys/trader", harness::closed_port());
    t.fails(&strs(&tx_args(&v, &closed)), &token_env, "127.0.0.1");
    t.fails(&strs(&tx_args(&v, &vault_uri)), &[("VAULT_TOKEN", "s.not-the-token")], "permission denied");
    t.fails(&strs(&tx_args(&v, &vault_uri)), &[], "VAULT_TOKEN");

    // Malformed URIs and levels.
    for bad in ["", "nope", "pkcs11:object=x", "vault:ftp://h/transit/keys/k", "file:"] {
        t.fails(&strs(&tx_args(&v, bad)), &env_seed, "key URI");
    }
    let mut prod = tx_args(&v, "env:SEED");
    prod.extend(["--security-level".to_owned(), "PRODUCTION".to_owned()]);
    t.fails(&strs(&prod), &env_seed, "not allowed at security level PRODUCTION");

    // SEP-5 through the binary: the spec's first vector, and a bad mnemonic.
    let sep5: Value = serde_json::from_str(include_str!("../adapters/tests/vectors/sep5.json")).unwrap();
    let first = &sep5["vectors"][0];
    for key in first["keys"].as_array().unwrap().iter().take(3) {
        let index = key["index"].to_string();
        let out = t.ok(&["keys", "derive", "--index", &index, "--mnemonic-env", "MN"], &[("MN", MNEMONIC)]);
        assert_eq!(out["public_key"], key["public_key"]);
        assert!(out.get("secret_key").is_none(), "secret printed without --show-secret");
    }
    t.fails(
        &["keys", "derive", "--index", "0", "--mnemonic-env", "MN"],
        &[("MN", "illness spike retreat")],
        "mnemonic",
    );
    t.fails(&["keys", "derive", "--index", "2147483648", "--mnemonic-env", "MN"], &[("MN", MNEMONIC)], "index");

    // The library side of the session: signers opened by URI behind a policy, the events a live
    // process journals (session start with the key URIs, submissions, refusals, failures).
    let policy = Policy::from_toml(&format!(
        "network = \"testnet\"\nsource_accounts = [\"{}\"]\noperations = [\"manage_sell_offer\"]\n\
         fee_stroops_max = 1000\nvalidity_secs_max = 600\n[notional_stroops_max]\nnative = 100000000000\n",
        v["public_key"].as_str().unwrap()
    ))
    .unwrap();
    // Secrets reach the library only through SecretSource: a PIN file here.
    let options = OpenOptions {
        level: SecurityLevel::Staging,
        passphrase: SecretSource::Env("STARLOG_NEVER_SET_PASSPHRASE".into()),
        pin: SecretSource::File(hsm.pin_file("session", PIN)),
    };
    let p11_uri = KeyUri::parse(&format!("pkcs11:token={token};object=trader?module-path={module}")).unwrap();
    let signer = keys::open_signer(&p11_uri, &options).unwrap();
    t.text.push(format!("{signer:?} {options:?} {p11_uri:?} {policy:?}"));
    let account = AccountSigners::master_only(seed.public_key());
    let mut guarded = GuardedSigner::new(policy, vec![signer], &account).unwrap();
    let network = Network::parse("testnet").unwrap();
    let now = 1_700_000_000;
    let journal_dir = dir.path().join("journal");
    let opts = JournalOptions { segment_size_bytes: 1 << 20, durability: Durability::Batch, sync_hook: None };
    let (mut journal, _) = JournalWriter::open(&journal_dir, opts).unwrap();
    let start = Input::SessionStart(SessionStart {
        config_hash: [0; 32],
        config: format!("key = \"{p11_uri}\"\nbackup_key = \"{file_uri}\"\nvault_key = \"{vault_uri}\"\n"),
        security_level: SecurityLevel::Staging.code(),
        validation_level: 2,
        seed: 1,
        account: *seed.public_key().as_bytes(),
        pairs: Vec::new(),
    });
    journal.append(start.kind(), now, &events::to_bytes(&start).unwrap()).unwrap();
    for (intent, amount) in [(1u64, 10_000_000i64), (2, 1_000_000_000_000), (3, 20_000_000)] {
        let op = OfferOp {
            kind: OfferKind::ManageSell,
            selling: starlog_engine::Asset::Native,
            buying: v["buying"].as_str().unwrap().parse().unwrap(),
            amount: starlog_engine::Amount::from_stroops(amount).unwrap(),
            price: "0.1234".parse().unwrap(),
            offer: starlog_engine::OfferRef::New,
        };
        let params = TxParams {
            source: seed.public_key(),
            sequence: 100 + intent as i64,
            fee_stroops: 100,
            min_time: 0,
            max_time: now as u64 + 60,
        };
        let unsigned = stellar_xdr::TransactionEnvelope::Tx(stellar_xdr::TransactionV1Envelope {
            tx: tx::build(&params, &[op]).unwrap(),
            signatures: Default::default(),
        })
        .to_xdr(stellar_xdr::Limits::none())
        .unwrap();
        let input = match guarded.sign(&unsigned, &network, now as u64) {
            Ok(signed) => {
                t.text.push(signed.to_json());
                Input::TxSubmitted(TxSubmitted {
                    intent,
                    hash: signed.hash,
                    sequence: params.sequence,
                    max_time: params.max_time,
                    fee_stroops: 100,
                    signed_by: *seed.public_key().as_bytes(),
                    key_store: starlog_engine::events::key_store::PKCS11,
                })
            }
            Err(e) => {
                t.text.push(format!("{e} {e:?}"));
                Input::Security(e.to_event(intent).expect("a refusal is a security event"))
            }
        };
        journal.append(input.kind(), now, &events::to_bytes(&input).unwrap()).unwrap();
    }
    // A signer failure, as the live process journals it.
    let wrong = OpenOptions { pin: SecretSource::Env("STARLOG_NEVER_SET_PIN".into()), ..options.clone() };
    let err = keys::open_signer(&p11_uri, &wrong).unwrap_err();
    t.text.push(format!("{err} {err:?}"));
    let failure = Input::Security(starlog_engine::events::SecurityEvent::SignerFailure { store: p11_uri.to_string() });
    journal.append(failure.kind(), now, &events::to_bytes(&failure).unwrap()).unwrap();
    journal.commit().unwrap();
    drop(journal);

    // The scan.
    let mut secrets: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, e) in encodings(seed.as_bytes()).into_iter().enumerate() {
        secrets.push((format!("seed encoding {i}"), e));
    }
    secrets.push(("seed strkey".into(), seed_text.clone().into_bytes()));
    secrets.push(("passphrase".into(), PASSPHRASE.as_bytes().to_vec()));
    secrets.push(("new passphrase".into(), b"another passphrase 9".to_vec()));
    secrets.push(("PIN".into(), PIN.as_bytes().to_vec()));
    secrets.push(("vault token".into(), bao.root_token.as_bytes().to_vec()));
    secrets.push(("mnemonic".into(), MNEMONIC.as_bytes().to_vec()));
    // The scanner itself finds what it looks for.
    assert!(contains(format!("log: {seed_text}.").as_bytes(), seed_text.as_bytes()));
    assert!(contains(&[0, 1, seed.as_bytes()[0], seed.as_bytes()[1], 9], &seed.as_bytes()[..2]));
    let journal = journal_bytes(&journal_dir);
    assert!(journal.len() > 1000, "the journal was written");
    assert!(t.text.len() > 40, "the session ran: {} outputs", t.text.len());
    for (name, secret) in &secrets {
        assert!(!contains(&journal, secret), "the journal contains the {name}");
        for (i, text) in t.text.iter().enumerate() {
            assert!(!contains(text.as_bytes(), secret), "output {i} contains the {name}: {text}");
        }
    }
}
