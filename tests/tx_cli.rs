//! `starlog tx` as scripts use it: every Python-SDK vector reproduced byte for byte through the
//! binary (key from an `env:` URI), and each kind of bad input refused with one line and a
//! non-zero exit, without echoing secrets.

use std::process::{Command, Output};

use serde_json::Value;

const SEED_VAR: &str = "STARLOG_TEST_TX_SEED";

fn starlog(args: &[&str], seed: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_starlog"));
    cmd.args(args).env_remove(SEED_VAR);
    if let Some(seed) = seed {
        cmd.env(SEED_VAR, seed);
    }
    cmd.output().expect("run starlog")
}

fn vectors() -> Vec<Value> {
    let text = include_str!("../adapters/tests/vectors/tx.json");
    serde_json::from_str::<Value>(text).unwrap()["vectors"].as_array().unwrap().clone()
}

fn args_of(v: &Value) -> Vec<String> {
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    let mut args = vec!["tx".to_owned(), s("op"), "--key".into(), format!("env:{SEED_VAR}")];
    for flag in
        ["network", "sequence", "fee", "min_time", "max_time", "selling", "buying", "amount", "price", "offer_id"]
    {
        args.push(format!("--{}", flag.replace('_', "-")));
        args.push(s(flag));
    }
    args
}

#[test]
fn every_vector_through_the_binary() {
    for v in vectors() {
        let args = args_of(&v);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = starlog(&args, v["secret"].as_str());
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        let json: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["hash"], v["hash"]);
        assert_eq!(json["envelope_xdr"], v["envelope_xdr"]);
    }
}

fn fails_with(args: &[&str], seed: Option<&str>, expect: &str) {
    let out = starlog(args, seed);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("starlog: "), "{err}");
    assert!(err.contains(expect), "{args:?}: {err:?} lacks {expect:?}");
    if let Some(seed) = seed.filter(|s| s.len() >= 12) {
        assert!(!err.contains(&seed[..12]), "seed echoed: {err}");
    }
}

#[test]
fn bad_input_is_one_line_and_non_zero() {
    let v = &vectors()[0];
    let seed = v["secret"].as_str().unwrap();
    let base = args_of(v);
    let with = |flag: &str, value: &str| -> Vec<String> {
        let mut args = base.clone();
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1] = value.to_owned();
        args
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (with("--amount", "1.12345678"), "more than 7 decimal places"),
        (with("--amount", "-1"), "--amount"),
        (with("--amount", "922337203685.4775808"), "greater than the maximum"),
        (with("--price", "0"), "--price"),
        (with("--price", "1/0"), "zero denominator"),
        (with("--price", "2147483648"), "--price"),
        (with("--selling", "USD"), "--selling"),
        (with("--selling", "USD:GBAD"), "--selling"),
        (with("--buying", "TOOLONGASSETCODE:GA2WKHDELS4ZWAVZTA552UVRNTVAFIARATWQ7ZIBXCOV6JZEZRDTIL5W"), "--buying"),
        (with("--buying", seed), "<redacted>"),
        (with("--sequence", "12x"), "--sequence"),
        (with("--sequence", "0"), "sequence must be a positive integer"),
        (with("--fee", "4294967296"), "--fee"),
        (with("--max-time", "0"), "finite --max-time"),
        (with("--network", ""), "network"),
        (with("--key", "env:"), "key URI"),
        (with("--key", "vault:nope"), "key URI"),
        (with("--key", seed), "key URI"),
        (with("--key", "env:STARLOG_TEST_UNSET_VAR"), "STARLOG_TEST_UNSET_VAR is not set"),
        (with("--offer-id", "-3"), "--offer-id"),
    ];
    for (args, expect) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&args, Some(seed), expect);
    }
    // A seed that is not a seed, in the variable.
    let args: Vec<&str> = base.iter().map(String::as_str).collect();
    fails_with(&args, Some("SNOTASEED"), "does not hold a valid S... secret seed");
    // Production refuses env: keys.
    let mut prod = base.clone();
    prod.extend(["--security-level".to_owned(), "PRODUCTION".to_owned()]);
    let prod: Vec<&str> = prod.iter().map(String::as_str).collect();
    fails_with(&prod, Some(seed), "not allowed at security level PRODUCTION");
}

#[test]
fn a_policy_refuses_what_it_does_not_allow() {
    let v = &vectors()[0];
    let seed = v["secret"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let write = |cap: i64| {
        std::fs::write(
            &policy,
            format!(
                "network = \"testnet\"\nsource_accounts = [\"{}\"]\noperations = [\"manage_sell_offer\"]\n\
                 fee_stroops_max = 100\nvalidity_secs_max = 120\n[notional_stroops_max]\nnative = {cap}\n",
                v["public_key"].as_str().unwrap()
            ),
        )
        .unwrap()
    };
    let mut args = args_of(v);
    let at = args.iter().position(|a| a == "--max-time").unwrap();
    args[at + 1] = (now + 60).to_string();
    args.extend(["--policy".to_owned(), policy.to_str().unwrap().to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    write(1_000_000_000);
    let out = starlog(&args, Some(seed));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    write(999_999_999);
    fails_with(&args, Some(seed), "rule 10 (notional)");
}

#[test]
fn a_seed_given_as_a_stray_argument_is_not_echoed() {
    let seed = vectors()[0]["secret"].as_str().unwrap().to_owned();
    for args in [
        vec!["tx", "manage-sell-offer", seed.as_str()],
        vec![seed.as_str()],
        vec!["keys", "list", "--store", "env:X", seed.as_str()],
    ] {
        let out = starlog(&args, None);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains(&seed[..12]), "{err}");
    }
}
