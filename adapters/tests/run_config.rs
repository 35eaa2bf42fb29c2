//! `starlog run`'s configuration: a good file parses into what it says; every bad field is one
//! clear error naming the field.

use starlog_adapters::live::config::{RunConfig, StrategyConfig};

const GOOD: &str = r#"
horizon_url = "http://127.0.0.1:8000/"
network = "testnet"
account = "GBLD7NSGWYT2KRFTYMRJGQ42SNTGDXMZYNQUE3H7N2VEMARIQYKBB4JJ"
signer = "env:SEED"
journal_dir = "/tmp/s"
durability = "always"
validation_level = "STRICT"
seed = 9
cancel_on_exit = false

[[pairs]]
selling = "native"
buying = "USD:GBLD7NSGWYT2KRFTYMRJGQ42SNTGDXMZYNQUE3H7N2VEMARIQYKBB4JJ"

[strategy]
name = "market-maker"
params = { spread_bps = 60, levels = 3, order_amount = "12.5" }

[risk]
order_amount_stroops_max = 5000000000
price_band_bps_max = 300

[fees]
fee_per_op_stroops_max = 2000
validity_secs = 60
"#;

#[test]
fn a_good_file() {
    let c = RunConfig::parse(GOOD).unwrap();
    assert_eq!(c.horizon_url, "http://127.0.0.1:8000");
    assert_eq!(c.network.passphrase(), "Test SDF Network ; September 2015");
    assert_eq!((c.seed, c.cancel_on_exit, c.validity_secs, c.fee_per_op_stroops_max), (9, false, 60, 2000));
    assert_eq!(c.engine.risk.order_amount_stroops_max, 5_000_000_000);
    assert_eq!(c.engine.risk.price_band_bps_max, 300);
    let StrategyConfig::MarketMaker(mm) = c.strategy else { panic!("market maker") };
    assert_eq!((mm.spread_bps, mm.levels, mm.order_amount.stroops()), (60, 3, 125_000_000));
    assert_eq!(c.text, GOOD, "kept verbatim for the session start");
}

#[test]
fn every_bad_field_is_named() {
    let cases = [
        ("network = \"testnet\"", "network = \"\"", "network"),
        ("account = \"GBLD", "account = \"GXLD", "account"),
        ("signer = \"env:SEED\"", "signer = \"pkcs11:token=x;pin-value=1234\"", "signer"),
        ("durability = \"always\"", "durability = \"sometimes\"", "durability"),
        ("validation_level = \"STRICT\"", "validation_level = \"LAX\"", "validation_level"),
        ("selling = \"native\"", "selling = \"XLM\"", "pairs[0].selling"),
        ("name = \"market-maker\"", "name = \"martingale\"", "strategy.name"),
        ("levels = 3", "levels = 0", "strategy.params.levels"),
        ("price_band_bps_max = 300", "price_band_bps_max = 30000", "risk.price_band_bps_max"),
        ("price_band_bps_max = 300", "price_band_bps = 3", "risk.price_band_bps"),
        ("validity_secs = 60", "validity_secs = 0", "fees.validity_secs"),
        ("horizon_url = \"http://127.0.0.1:8000/\"", "horizon_url = \"ftp://x\"", "horizon_url"),
        ("seed = 9", "seed = 9\nsecret = \"SA...\"", "unknown field `secret`"),
    ];
    for (from, to, field) in cases {
        assert!(GOOD.contains(from), "{from}");
        let error = RunConfig::parse(&GOOD.replacen(from, to, 1)).unwrap_err().to_string();
        assert!(error.contains(field), "{to:?}: {error}");
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(!error.contains("1234"), "a PIN never reaches an error: {error}");
    }
}

/// An `[admin]` and `[alerts]` section after the good file.
fn with_ops(extra: &str) -> Result<RunConfig, String> {
    RunConfig::parse(&format!("{GOOD}\n{extra}")).map_err(|e| e.to_string())
}

const HASH: &str = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

#[test]
fn the_admin_and_alerts_sections() {
    let good = format!(
        r#"[admin]
listen = "127.0.0.1:9100"
token_ttl_secs = 600
scrape_token_sha256 = "{digest}"

[[admin.operators]]
name = "ada"
role = "admin"
password_hash = "{HASH}"
totp_secret = "env:ADA_TOTP"

[alerts]
webhook = "http://127.0.0.1:9000/hook"
min_priority = "P1"
"#,
        digest = "ab".repeat(32)
    );
    let c = with_ops(&good).unwrap();
    let admin = c.admin.expect("an admin section");
    assert_eq!((admin.listen.port(), admin.limits.token_ttl_secs, admin.operators.len()), (9100, 600, 1));
    assert_eq!(admin.scrape_token_sha256, Some([0xab; 32]));
    assert_eq!(c.alerts.webhook_url.as_deref(), Some("http://127.0.0.1:9000/hook"));
    assert_eq!(c.alerts.min_priority, starlog_engine::incident::Priority::P1);
    assert!(with_ops("").unwrap().admin.is_none(), "no [admin]: no API");

    let operator = |role: &str, totp: &str| {
        format!("[admin]\n[[admin.operators]]\nname = \"ada\"\nrole = \"{role}\"\npassword_hash = \"{HASH}\"\n{totp}")
    };
    for (text, field) in [
        (operator("admin", ""), "an admin needs totp_secret"),
        (operator("root", ""), "operators[0].role"),
        (operator("viewer", "totp_secret = \"JBSWY3DPEHPK3PXP\""), "file:/path or env:NAME, not the secret"),
        (operator("viewer", "").replace(HASH, "$2b$10$bcrypt"), "password_hash"),
        (
            operator("viewer", "").replace("[admin]", "[admin]\nlisten = \"0.0.0.0:8700\""),
            "tls_cert and tls_key are required",
        ),
        (operator("viewer", "").replace("[admin]", "[admin]\nlisten = \"localhost\""), "admin.listen"),
        (operator("viewer", "").replace("[admin]", "[admin]\nscrape_token_sha256 = \"xyz\""), "scrape_token_sha256"),
        ("[admin]\n".to_owned(), "at least one operator"),
        ("[alerts]\nmin_priority = \"P9\"".to_owned(), "alerts.min_priority"),
        ("[alerts]\nwebhook = \"ftp://x\"".to_owned(), "alerts.webhook"),
        ("[alerts]\nsurprise = 1".to_owned(), "surprise"),
    ] {
        let e = with_ops(&text).expect_err(&text);
        assert!(e.contains(field), "{text}\n→ {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(!e.contains("JBSWY3DPEHPK3PXP"), "a TOTP secret written inline is not repeated: {e}");
    }
}
