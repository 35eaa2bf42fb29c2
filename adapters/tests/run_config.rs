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
