//! What the admin API reads from a live session, rendered on the core thread: the status
//! document (engine posture, limits, open orders, balances, open incidents, journal position)
//! and the Prometheus page (the core's [`CoreMetrics`] plus the I/O threads' counters).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use starlog_engine::lifecycle::OrderStatus;
use starlog_engine::risk::RiskLimits;

use crate::admin::server::ServerStats;
use crate::alerts::AlertStats;
use crate::core_loop::CoreLoop;
use crate::horizon::client::ClientStats;
use crate::metrics::{CoreMetrics, Page};

/// The risk limits by their configuration names.
pub fn limits_json(limits: &RiskLimits) -> Value {
    json!({
        "order_amount_stroops_max": limits.order_amount_stroops_max,
        "order_notional_stroops_max": limits.order_notional_stroops_max,
        "price_band_bps_max": limits.price_band_bps_max,
        "open_orders_pair_max": limits.open_orders_pair_max,
        "open_orders_total_max": limits.open_orders_total_max,
        "inventory_stroops_max": limits.inventory_stroops_max,
        "daily_loss_stroops_max": limits.daily_loss_stroops_max,
    })
}

/// The status document (`GET /v1/status`).
pub fn status(core: &CoreLoop, account: &str) -> Value {
    let engine = core.engine();
    let orders: Vec<Value> = engine
        .orders()
        .filter(|o| !o.status.is_terminal())
        .map(|o| {
            json!({
                "id": o.id,
                "pair": o.pair,
                "side": if o.side == starlog_engine::risk::Side::Sell { "sell" } else { "buy" },
                "amount": o.amount.to_string(),
                "filled": o.filled.to_string(),
                "price": o.price.to_string(),
                "status": o.status.as_str(),
                "offer_id": o.offer_id,
            })
        })
        .collect();
    let balances: Vec<Value> = engine
        .balances()
        .map(|b| {
            b.lines()
                .iter()
                .map(|l| {
                    json!({
                        "asset": l.asset.to_string(),
                        "balance": l.balance.to_string(),
                        "buying_liabilities": l.buying_liabilities.to_string(),
                        "selling_liabilities": l.selling_liabilities.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let incidents: Vec<Value> = engine
        .open_incidents()
        .map(|i| {
            json!({
                "id": i.id,
                "kind": i.kind.as_str(),
                "priority": i.priority.as_str(),
                "response": i.response.as_str(),
                "at_ns": i.at_ns,
            })
        })
        .collect();
    let (input, output) = (core.input_head(), core.output_head());
    json!({
        "account": account,
        "halted": engine.is_halted(),
        "locked_down": engine.is_locked_down(),
        "cancel_only": engine.is_cancel_only(),
        "validation_level": engine.validation_level() as u8,
        "limits": limits_json(engine.limits()),
        "pnl_stroops": engine.pnl_stroops().to_string(),
        "open_orders": orders,
        "balances": balances,
        "incidents": incidents,
        "journal": {
            "input_seq": input.last_seq,
            "input_head": starlog_journal::hex(&input.chain_head),
            "output_seq": output.last_seq,
            "output_head": starlog_journal::hex(&output.chain_head),
            "engine_seq": engine.last_seq(),
        },
    })
}

/// The I/O threads' counters, read at render time.
#[derive(Clone, Copy, Debug)]
pub struct IoStats<'a> {
    pub horizon: &'a ClientStats,
    pub admin: Option<&'a ServerStats>,
    pub alerts: Option<AlertStats>,
}

/// The metrics page (`GET /metrics`).
pub fn metrics(core: &CoreLoop, io: IoStats<'_>) -> String {
    let mut page = Page::default();
    let mut orders: BTreeMap<OrderStatus, u64> = BTreeMap::new();
    for o in core.engine().orders() {
        *orders.entry(o.status).or_default() += 1;
    }
    let empty = CoreMetrics::default();
    core.metrics().unwrap_or(&empty).render(&mut page, &orders);
    let engine = core.engine();
    page.value(
        "starlog_halted",
        "1 while the engine is halted by an operator.",
        "gauge",
        f64::from(u8::from(engine.is_halted())),
    );
    page.value(
        "starlog_locked_down",
        "1 while a P0 lockdown holds (an admin must unlock).",
        "gauge",
        f64::from(u8::from(engine.is_locked_down())),
    );
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
    let h = io.horizon;
    let mut counters = vec![
        ("starlog_horizon_requests_total", "Answers received from Horizon.", load(&h.requests)),
        (
            "starlog_horizon_errors_total",
            "Horizon calls that failed in transport or answered 400 or more.",
            load(&h.errors),
        ),
        ("starlog_horizon_rate_limited_total", "429 answers from Horizon.", load(&h.rate_limited)),
        ("starlog_stream_reconnects_total", "Horizon event streams reconnected.", load(&h.stream_reconnects)),
    ];
    if let Some(a) = io.admin {
        counters.extend([
            ("starlog_admin_requests_total", "Admin API requests.", load(&a.requests)),
            (
                "starlog_admin_unauthorized_total",
                "Admin API answers 401 (failed logins, refused tokens).",
                load(&a.unauthorized),
            ),
            ("starlog_admin_forbidden_total", "Admin API answers 403 (role too low).", load(&a.forbidden)),
            ("starlog_admin_throttled_total", "Logins refused by the failed-login throttle.", load(&a.throttled)),
            ("starlog_admin_tls_failures_total", "Failed TLS handshakes.", load(&a.tls_failures)),
        ]);
    }
    if let Some(s) = io.alerts {
        counters.extend([
            ("starlog_alerts_raised_total", "Incident alerts raised.", s.raised as f64),
            ("starlog_alerts_delivered_total", "Alerts the webhook accepted.", s.delivered as f64),
            ("starlog_alerts_failed_total", "Alerts the webhook never accepted.", s.failed as f64),
            ("starlog_alerts_dropped_total", "Alerts dropped because the webhook queue was full.", s.dropped as f64),
        ]);
    }
    for (name, help, value) in counters {
        page.value(name, help, "counter", value);
    }
    page.value(
        "starlog_horizon_rate_limit_remaining",
        "The last X-RateLimit-Remaining Horizon sent (-1: none yet).",
        "gauge",
        h.rate_limit_remaining.load(Ordering::Relaxed) as f64,
    );
    page.finish()
}
