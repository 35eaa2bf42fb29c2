//! `starlog run`'s configuration: one TOML file, parsed strictly (unknown keys are errors, every
//! value is checked), kept verbatim with its SHA-256 for the session-start record. It names
//! keys by URI only: no secret is ever in it.
//!
//! ```toml
//! horizon_url = "http://127.0.0.1:8000"
//! network = "standalone"            # testnet, public, standalone or a passphrase
//! account = "GA…"
//! signer = "file:/keys/trader.key"  # a key URI (see the README's key stores)
//! journal_dir = "/var/lib/starlog/session-1"
//! durability = "batch"              # none, batch, always
//! security_level = "STAGING"        # DEVELOPMENT, TESTING, STAGING, PRODUCTION
//! validation_level = "STANDARD"     # BASIC, STANDARD, STRICT, PARANOID
//! seed = 1
//! cancel_on_exit = true
//! policy = "/etc/starlog/policy.toml" # optional: the signing policy (README)
//!
//! [[pairs]]
//! selling = "native"                # the base
//! buying = "USD:GB…"                # the counter
//!
//! [strategy]
//! name = "market-maker"             # or "twap"
//! params = { spread_bps = 40, levels = 2, order_amount = "25" }
//!
//! [risk]                            # any of the engine's limits, by name
//! order_amount_stroops_max = 10000000000
//!
//! [audit]
//! checkpoint_secs = 60              # signed chain checkpoints (and one at exit)
//! anchor_key = "file:/keys/anchor.key" # optional: publish checkpoints on the ledger from this account
//! anchor_secs = 300
//!
//! [admin]                           # optional: the admin API (README: operating a session)
//! listen = "127.0.0.1:8700"         # beyond loopback, tls_cert and tls_key are required
//! token_ttl_secs = 900              # session tokens: absolute lifetime, and idle timeout
//! idle_timeout_secs = 300
//! login_failures_max = 5            # per name and per address, within the window
//! login_failure_window_secs = 300
//! login_lockout_secs = 300
//! scrape_token_sha256 = "…"         # optional: SHA-256 (hex) of a bearer credential for /metrics
//! tls_cert = "/etc/starlog/admin.crt"      # optional PEM chain and key
//! tls_key = "/etc/starlog/admin.key"
//! tls_client_ca = "/etc/starlog/ops-ca.crt" # optional: require client certificates from this CA
//!
//! [[admin.operators]]
//! name = "alice"
//! role = "admin"                    # viewer, trader or admin
//! password_hash = "$argon2id$v=19$…" # `starlog ctl hash-password`
//! totp_secret = "file:/etc/starlog/alice.totp" # or env:NAME; required for admins
//!
//! [alerts]                          # optional: incidents P0–P2 go to the log, and to a webhook
//! webhook = "https://ops.example/starlog" # JSON POST, retried with backoff, never blocking the core
//! min_priority = "P2"
//!
//! [fees]
//! fee_per_op_stroops_max = 10000
//! validity_secs = 30
//!
//! [timing]
//! timer_ms = 1000
//! account_poll_ms = 2000
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use starlog_engine::engine::EngineConfig;
use starlog_engine::incident::{IncidentConfig, Priority};
use starlog_engine::risk::{RiskLimits, ValidationLevel};
use starlog_engine::strategy::{MarketMaker, MarketMakerParams, Strategy};
use starlog_engine::throttle::ThrottleConfig;
use starlog_engine::twap::{Twap, TwapParams};
use starlog_engine::{AccountId, Amount, Asset, Pair};
use starlog_journal::Durability;

use crate::admin::auth::AuthLimits;
use crate::admin::{AdminConfig, OperatorConfig};
use crate::alerts::AlertConfig;
use crate::keys::{KeyUri, SecurityLevel};
use crate::policy::Policy;
use crate::stellar::Network;

/// A configuration that cannot be used: the file, and what is wrong (one line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    horizon_url: String,
    network: String,
    account: String,
    signer: String,
    journal_dir: PathBuf,
    #[serde(default)]
    durability: Option<String>,
    #[serde(default)]
    security_level: Option<String>,
    #[serde(default)]
    validation_level: Option<String>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    policy: Option<PathBuf>,
    #[serde(default)]
    cancel_on_exit: Option<bool>,
    pairs: Vec<RawPair>,
    strategy: RawStrategy,
    #[serde(default)]
    risk: BTreeMap<String, i64>,
    #[serde(default)]
    fees: RawFees,
    #[serde(default)]
    timing: RawTiming,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    admin: Option<RawAdmin>,
    #[serde(default)]
    alerts: Option<RawAlerts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    #[serde(default)]
    webhook: Option<String>,
    #[serde(default)]
    min_priority: Option<String>,
    #[serde(default)]
    queue_max: Option<usize>,
    #[serde(default)]
    attempts_max: Option<u32>,
    #[serde(default)]
    backoff_initial_ms: Option<u64>,
    #[serde(default)]
    backoff_max_ms: Option<u64>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

fn alerts(raw: &RawAlerts) -> Result<AlertConfig, ConfigError> {
    let bad = |field: &str, why: &dyn std::fmt::Display| ConfigError(format!("alerts.{field}: {why}"));
    let d = AlertConfig::default();
    if let Some(url) = &raw.webhook
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(bad("webhook", &"must start with http:// or https://"));
    }
    let min_priority = match raw.min_priority.as_deref() {
        None => d.min_priority,
        Some(text) => Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| bad("min_priority", &"P0, P1, P2 or P3"))?,
    };
    let config = AlertConfig {
        webhook_url: raw.webhook.clone(),
        min_priority,
        queue_max: raw.queue_max.unwrap_or(d.queue_max),
        attempts_max: raw.attempts_max.unwrap_or(d.attempts_max),
        backoff_initial_ms: raw.backoff_initial_ms.unwrap_or(d.backoff_initial_ms),
        backoff_max_ms: raw.backoff_max_ms.unwrap_or(d.backoff_max_ms),
        timeout_ms: raw.timeout_ms.unwrap_or(d.timeout_ms),
    };
    if config.queue_max == 0 || config.attempts_max == 0 || config.timeout_ms == 0 {
        return Err(bad("queue_max/attempts_max/timeout_ms", &"must be positive"));
    }
    Ok(config)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    #[serde(default = "default_admin_listen")]
    listen: String,
    #[serde(default)]
    token_ttl_secs: Option<u64>,
    #[serde(default)]
    idle_timeout_secs: Option<u64>,
    #[serde(default)]
    login_failures_max: Option<u32>,
    #[serde(default)]
    login_failure_window_secs: Option<u64>,
    #[serde(default)]
    login_lockout_secs: Option<u64>,
    #[serde(default)]
    scrape_token_sha256: Option<String>,
    #[serde(default)]
    tls_cert: Option<PathBuf>,
    #[serde(default)]
    tls_key: Option<PathBuf>,
    #[serde(default)]
    tls_client_ca: Option<PathBuf>,
    #[serde(default)]
    operators: Vec<RawOperator>,
}

fn default_admin_listen() -> String {
    "127.0.0.1:8700".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    name: String,
    role: String,
    password_hash: String,
    #[serde(default)]
    totp_secret: Option<String>,
}

fn admin(raw: &RawAdmin) -> Result<AdminConfig, ConfigError> {
    let bad = |field: &str, why: &dyn std::fmt::Display| ConfigError(format!("admin.{field}: {why}"));
    let listen = raw.listen.parse().map_err(|_| bad("listen", &"an IP:PORT address, e.g. 127.0.0.1:8700"))?;
    let defaults = AuthLimits::default();
    let limits = AuthLimits {
        token_ttl_secs: raw.token_ttl_secs.unwrap_or(defaults.token_ttl_secs),
        idle_timeout_secs: raw.idle_timeout_secs.unwrap_or(defaults.idle_timeout_secs),
        login_failures_max: raw.login_failures_max.unwrap_or(defaults.login_failures_max),
        login_failure_window_secs: raw.login_failure_window_secs.unwrap_or(defaults.login_failure_window_secs),
        login_lockout_secs: raw.login_lockout_secs.unwrap_or(defaults.login_lockout_secs),
        sessions_max: defaults.sessions_max,
    };
    let scrape_token_sha256 = match &raw.scrape_token_sha256 {
        Some(hex) => {
            Some(crate::stellar::unhex::<32>(hex).ok_or_else(|| bad("scrape_token_sha256", &"64 hex digits"))?)
        }
        None => None,
    };
    let operators = raw
        .operators
        .iter()
        .enumerate()
        .map(|(i, op)| {
            Ok(OperatorConfig {
                name: op.name.clone(),
                role: op.role.parse().map_err(|e| bad(&format!("operators[{i}].role"), &e))?,
                password_hash: op.password_hash.clone(),
                totp_secret: op.totp_secret.clone(),
            })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let config = AdminConfig {
        listen,
        limits,
        scrape_token_sha256,
        tls_cert: raw.tls_cert.clone(),
        tls_key: raw.tls_key.clone(),
        tls_client_ca: raw.tls_client_ca.clone(),
        operators,
    };
    config.validate().map_err(ConfigError)?;
    Ok(config)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAudit {
    /// Sign both journals' chain heads this often (0: never; one is always taken at exit).
    checkpoint_secs: u64,
    /// The anchor account's key (a key URI): anchoring is on when it is set.
    anchor_key: Option<String>,
    /// Publish the latest checkpoint on the ledger this often (0: only at exit).
    anchor_secs: u64,
}

impl Default for RawAudit {
    fn default() -> RawAudit {
        RawAudit { checkpoint_secs: 60, anchor_key: None, anchor_secs: 300 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    selling: String,
    buying: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStrategy {
    name: String,
    #[serde(default)]
    pair: u16,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFees {
    fee_per_op_stroops_max: i64,
    validity_secs: u64,
}

impl Default for RawFees {
    fn default() -> RawFees {
        RawFees { fee_per_op_stroops_max: 10_000, validity_secs: 30 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTiming {
    timer_ms: u64,
    account_poll_ms: u64,
    fee_poll_ms: u64,
    /// How long an exit waits for cancels to settle.
    exit_wait_ms: u64,
}

impl Default for RawTiming {
    fn default() -> RawTiming {
        RawTiming { timer_ms: 1000, account_poll_ms: 2000, fee_poll_ms: 10_000, exit_wait_ms: 20_000 }
    }
}

/// Which strategy runs, with its parameters checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrategyConfig {
    MarketMaker(MarketMakerParams),
    Twap(TwapParams),
}

impl StrategyConfig {
    /// The named strategy (`market-maker`, `twap`) on configured pair `pair`, with the defaults
    /// `starlog run` and `starlog backtest` share.
    pub fn defaults(name: &str, pair: u16) -> Result<StrategyConfig, String> {
        match name {
            "market-maker" => Ok(StrategyConfig::MarketMaker(MarketMakerParams {
                pair,
                spread_bps: 40,
                levels: 2,
                level_spacing_bps: 20,
                order_amount: Amount::from_units(10).expect("10 units"),
                refresh_tolerance_bps: 10,
                inventory_skew_pct: 50,
            })),
            "twap" => Ok(StrategyConfig::Twap(TwapParams {
                pair,
                total_amount: Amount::from_units(100).expect("100 units"),
                slices: 10,
                duration_ns: 600 * 1_000_000_000,
                start_ns: 0,
                aggressiveness_bps: 0,
                limit_price: None,
            })),
            other => Err(format!("unknown strategy {other:?} (market-maker, twap)")),
        }
    }

    /// The strategy's name, as configured.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::MarketMaker(_) => "market-maker",
            StrategyConfig::Twap(_) => "twap",
        }
    }

    /// Set one parameter by its configuration name from text (see each strategy's `set`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match self {
            StrategyConfig::MarketMaker(p) => p.set(key, value),
            StrategyConfig::Twap(p) => p.set(key, value),
        }
    }

    /// Are the parameters consistent together?
    pub fn validate(&self) -> Result<(), String> {
        match self {
            StrategyConfig::MarketMaker(_) => Ok(()),
            StrategyConfig::Twap(p) => p.validate(),
        }
    }

    pub fn build(&self) -> Box<dyn Strategy> {
        match self {
            StrategyConfig::MarketMaker(p) => Box::new(MarketMaker::new(*p)),
            StrategyConfig::Twap(p) => Box::new(Twap::new(*p)),
        }
    }
}

/// A checked configuration. See the module doc.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The file's text, exactly as read, and its SHA-256.
    pub text: String,
    pub hash: [u8; 32],
    pub horizon_url: String,
    pub network: Network,
    pub account: AccountId,
    pub signer: KeyUri,
    pub journal_dir: PathBuf,
    pub durability: Durability,
    pub security_level: SecurityLevel,
    pub validation_level: ValidationLevel,
    pub seed: u64,
    /// The signing policy every new transaction must pass (`policy = "FILE"`), if any.
    pub policy: Option<Policy>,
    pub cancel_on_exit: bool,
    pub pairs: Vec<Pair>,
    pub strategy: StrategyConfig,
    pub engine: EngineConfig,
    pub fee_per_op_stroops_max: i64,
    pub validity_secs: u64,
    pub timer_ms: u64,
    pub account_poll_ms: u64,
    pub fee_poll_ms: u64,
    pub exit_wait_ms: u64,
    /// Signed chain checkpoints every this many seconds (0: only at exit).
    pub checkpoint_secs: u64,
    /// Chain anchoring on the ledger from this account's key (`None`: off), every
    /// `anchor_secs` (0: only at exit).
    pub anchor_key: Option<KeyUri>,
    pub anchor_secs: u64,
    /// The admin API (`[admin]`; `None`: not served).
    pub admin: Option<AdminConfig>,
    /// Where incidents are alerted (`[alerts]`; by default, the log only).
    pub alerts: AlertConfig,
}

/// Risk limits when the file sets none: small, so that a fresh configuration cannot trade big.
pub const RISK_DEFAULT: RiskLimits = RiskLimits {
    order_amount_stroops_max: 1_000 * 10_000_000,
    order_notional_stroops_max: 1_000 * 10_000_000,
    price_band_bps_max: 500,
    open_orders_pair_max: 20,
    open_orders_total_max: 50,
    inventory_stroops_max: 10_000 * 10_000_000,
    daily_loss_stroops_max: 100 * 10_000_000,
};

pub fn risk_code(name: &str) -> Option<u16> {
    Some(match name {
        "order_amount_stroops_max" => 1,
        "order_notional_stroops_max" => 2,
        "price_band_bps_max" => 3,
        "open_orders_pair_max" => 4,
        "open_orders_total_max" => 5,
        "inventory_stroops_max" => 6,
        "daily_loss_stroops_max" => 7,
        _ => return None,
    })
}

impl RunConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<RunConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        RunConfig::parse(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    /// Checks a configuration's text.
    pub fn parse(text: &str) -> Result<RunConfig, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            // toml's message spans lines (a source excerpt); keep its first line.
            let message = e.message().lines().next().unwrap_or("invalid TOML").to_owned();
            let at = e.span().map(|span| format!(" (at byte {})", span.start)).unwrap_or_default();
            ConfigError(format!("{message}{at}"))
        })?;
        let bad = |field: &str, why: &dyn std::fmt::Display| ConfigError(format!("{field}: {why}"));
        let url = raw.horizon_url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(bad("horizon_url", &"must start with http:// or https://"));
        }
        let network = match raw.network.as_str() {
            "standalone" => Network::from_passphrase("Standalone Network ; February 2017"),
            other => Network::parse(other).map_err(|e| bad("network", &e))?,
        };
        let account: AccountId = raw.account.parse().map_err(|e| bad("account", &e))?;
        let signer = KeyUri::parse(&raw.signer).map_err(|e| bad("signer", &e))?;
        let anchor_key =
            raw.audit.anchor_key.as_deref().map(KeyUri::parse).transpose().map_err(|e| bad("audit.anchor_key", &e))?;
        let security_level: SecurityLevel =
            raw.security_level.as_deref().unwrap_or("DEVELOPMENT").parse().map_err(|e| bad("security_level", &e))?;
        let validation_level = match raw.validation_level.as_deref().unwrap_or("STANDARD") {
            "BASIC" => ValidationLevel::Basic,
            "STANDARD" => ValidationLevel::Standard,
            "STRICT" => ValidationLevel::Strict,
            "PARANOID" => ValidationLevel::Paranoid,
            other => {
                return Err(bad("validation_level", &format!("{other:?} is not BASIC, STANDARD, STRICT or PARANOID")));
            }
        };
        let durability = match raw.durability.as_deref().unwrap_or("batch") {
            "none" => Durability::None,
            "batch" => Durability::Batch,
            "always" => Durability::Always,
            other => return Err(bad("durability", &format!("{other:?} is not none, batch or always"))),
        };
        if raw.pairs.is_empty() {
            return Err(bad("pairs", &"at least one [[pairs]] is needed"));
        }
        let pairs = raw
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let selling: Asset = p.selling.parse().map_err(|e| bad(&format!("pairs[{i}].selling"), &e))?;
                let buying: Asset = p.buying.parse().map_err(|e| bad(&format!("pairs[{i}].buying"), &e))?;
                Pair::new(selling, buying).map_err(|e| bad(&format!("pairs[{i}]"), &e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if usize::from(raw.strategy.pair) >= pairs.len() {
            return Err(bad("strategy.pair", &format!("there are {} pairs", pairs.len())));
        }
        let strategy = strategy(&raw.strategy)?;
        let mut risk = RISK_DEFAULT;
        for (name, value) in &raw.risk {
            let code = risk_code(name).ok_or_else(|| bad(&format!("risk.{name}"), &"unknown limit"))?;
            if !risk.set(code, *value) {
                return Err(bad(&format!("risk.{name}"), &format!("{value} is out of range")));
            }
        }
        if raw.fees.fee_per_op_stroops_max < 100 {
            return Err(bad("fees.fee_per_op_stroops_max", &"must be at least the network minimum, 100"));
        }
        if raw.fees.validity_secs == 0 || raw.fees.validity_secs > 3600 {
            return Err(bad("fees.validity_secs", &"must be 1..=3600 (every transaction has a finite max time)"));
        }
        for (field, value) in [
            ("timing.timer_ms", raw.timing.timer_ms),
            ("timing.account_poll_ms", raw.timing.account_poll_ms),
            ("timing.fee_poll_ms", raw.timing.fee_poll_ms),
        ] {
            if !(10..=3_600_000).contains(&value) {
                return Err(bad(field, &"must be 10..=3600000 ms"));
            }
        }
        let policy = match &raw.policy {
            Some(path) => Some(Policy::load(path).map_err(|e| bad("policy", &e))?),
            None => None,
        };
        Ok(RunConfig {
            text: text.to_owned(),
            hash: Sha256::digest(text.as_bytes()).into(),
            horizon_url: url,
            network,
            account,
            signer,
            journal_dir: raw.journal_dir,
            durability,
            security_level,
            validation_level,
            seed: raw.seed,
            policy,
            cancel_on_exit: raw.cancel_on_exit.unwrap_or(true),
            pairs,
            strategy,
            engine: EngineConfig {
                risk,
                throttle: ThrottleConfig::DEFAULT,
                validation: validation_level,
                incidents: IncidentConfig::DEFAULT,
            },
            fee_per_op_stroops_max: raw.fees.fee_per_op_stroops_max,
            validity_secs: raw.fees.validity_secs,
            timer_ms: raw.timing.timer_ms,
            account_poll_ms: raw.timing.account_poll_ms,
            fee_poll_ms: raw.timing.fee_poll_ms,
            exit_wait_ms: raw.timing.exit_wait_ms,
            checkpoint_secs: raw.audit.checkpoint_secs,
            anchor_key,
            anchor_secs: raw.audit.anchor_secs,
            admin: raw.admin.as_ref().map(admin).transpose()?,
            alerts: raw.alerts.as_ref().map(alerts).transpose()?.unwrap_or_default(),
        })
    }
}

fn param_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn strategy(raw: &RawStrategy) -> Result<StrategyConfig, ConfigError> {
    let mut config =
        StrategyConfig::defaults(&raw.name, raw.pair).map_err(|e| ConfigError(format!("strategy.name: {e}")))?;
    for (key, value) in &raw.params {
        let text =
            param_text(value).ok_or_else(|| ConfigError(format!("strategy.params.{key}: a string or an integer")))?;
        config.set(key, &text).map_err(|e| ConfigError(format!("strategy.params.{key}: {e}")))?;
    }
    config.validate().map_err(|e| ConfigError(format!("strategy.params: {e}")))?;
    Ok(config)
}
