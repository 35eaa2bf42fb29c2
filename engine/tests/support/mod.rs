//! Test support shared by the strategy tests: an engine with loose limits and a strategy, a
//! harness that feeds inputs through their archived (journaled) form, and input builders.
#![allow(dead_code)]

use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{AccountSnapshot, Balance, Input, SessionStart, WireAsset};
use starlog_engine::incident::IncidentConfig;
use starlog_engine::outputs::{Intent, Output};
use starlog_engine::risk::{RiskLimits, ValidationLevel};
use starlog_engine::strategy::Strategy;
use starlog_engine::throttle::ThrottleConfig;
use starlog_engine::{Amount, Asset, Pair};

pub const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

pub fn usd() -> Asset {
    format!("USD:{ISSUER}").parse().unwrap()
}

/// Limits that leave the strategy's own logic in charge (10 open orders at most).
pub fn engine_with(strategy: Box<dyn Strategy>) -> Engine {
    let mut e = Engine::new(loose_config()).unwrap();
    e.set_strategy(strategy);
    e
}

/// Loose risk limits (10 open orders at most), default throttles, strict validation.
pub fn loose_config() -> EngineConfig {
    EngineConfig {
        risk: RiskLimits {
            order_amount_stroops_max: 1_000_000_000_000,
            order_notional_stroops_max: 1_000_000_000_000,
            price_band_bps_max: 500,
            open_orders_pair_max: 10,
            open_orders_total_max: 10,
            inventory_stroops_max: 1_000_000_000_000,
            daily_loss_stroops_max: 1_000_000_000,
        },
        throttle: ThrottleConfig::DEFAULT,
        validation: ValidationLevel::Strict,
        incidents: IncidentConfig::DEFAULT,
    }
}

/// Feeds inputs in journal order, keeping every output.
pub struct H {
    pub e: Engine,
    pub seq: u64,
    pub out: Vec<Output>,
}

impl H {
    pub fn new(e: Engine) -> H {
        H { e, seq: 0, out: Vec::new() }
    }

    pub fn feed(&mut self, ts: i64, input: &Input) -> Vec<Output> {
        self.seq += 1;
        let bytes = starlog_engine::events::to_bytes(input).unwrap();
        let mut out = Vec::new();
        self.e.apply(self.seq, ts, starlog_engine::events::access(&bytes).unwrap(), &mut out);
        self.out.extend(out.iter().cloned());
        out
    }
}

/// Session start for native/USD, our account `[9; 32]`.
pub fn session() -> Input {
    let pair: Pair = format!("native/USD:{ISSUER}").parse().unwrap();
    Input::SessionStart(SessionStart {
        config_hash: [0; 32],
        config: String::new(),
        security_level: 1,
        validation_level: 3,
        seed: 1,
        account: [9; 32],
        pairs: vec![pair.into()],
    })
}

/// Our account holding `xlm` XLM and `usd_amount` USD, nothing committed, at ledger 1.
pub fn account(xlm: &str, usd_amount: &str) -> Input {
    let line = |asset: Asset, s: &str| Balance {
        asset: WireAsset::from(asset),
        balance_stroops: s.parse::<Amount>().unwrap().stroops(),
        buying_liabilities_stroops: 0,
        selling_liabilities_stroops: 0,
        limit_stroops: i64::MAX,
    };
    Input::Account(AccountSnapshot {
        account: [9; 32],
        ledger: 1,
        sequence: 1,
        subentry_count: 1,
        num_sponsoring: 0,
        num_sponsored: 0,
        base_reserve_stroops: 5_000_000,
        balances: vec![line(Asset::Native, xlm), line(usd(), usd_amount)],
        offers: vec![],
    })
}

/// The intents among `out`.
pub fn intents(out: &[Output]) -> Vec<Intent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Intent(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}
