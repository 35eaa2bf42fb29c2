//! Fuzzes the simulated Horizon's request handling: routing, query strings, cursors, asset
//! parameters, form bodies and envelopes, through [`starlog_sim::server::Service`] (the
//! server's handler without a socket) on a venue with funded accounts and a resting offer.
//!
//! Input: first byte picks the method (and whether to ask for a stream), then the path and
//! query up to the first newline, then the body.
//!
//! Properties: no panic; every answer is 2xx, or a problem document (4xx/5xx with
//! `application/problem+json` and a `type`/`title`/`status` matching the HTTP status); the venue's
//! invariants hold afterwards.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use starlog_sim::server::{ServerConfig, Service};
use starlog_sim::venue::{Venue, VenueConfig};

const NOW: u64 = 1_700_000_000;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

fn config() -> ServerConfig {
    let mut venue = VenueConfig::new(NOW);
    venue.ledger_ms = 0;
    venue.market = Some(starlog_sim::market::MarketConfig::default());
    let mut config = ServerConfig::new(venue);
    config.rate_limit_per_hour = 0;
    config.body_bytes_max = 16 * 1024;
    config
}

/// A venue with a market (accounts, trustlines, offers, trades), built once and forked per input.
fn service() -> Service {
    static TEMPLATE: OnceLock<Venue> = OnceLock::new();
    let venue = TEMPLATE.get_or_init(|| {
        let mut venue = Venue::new(config().venue).expect("venue");
        for _ in 0..3 {
            venue.close_ledger();
        }
        venue
    });
    Service::from_venue(&config(), venue.clone())
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else { return };
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let (target, body) = (&rest[..split], rest.get(split + 1..).unwrap_or(&[]));
    let Ok(target) = std::str::from_utf8(target) else { return };
    let uri = format!("/{}", target.trim_start_matches('/'));
    let method = match mode % 4 {
        0 | 1 => Method::GET,
        2 => Method::POST,
        _ => Method::DELETE,
    };
    let mut request = Request::builder().method(method).uri(uri.as_str());
    request = request.header("content-type", "application/x-www-form-urlencoded");
    if mode & 0x80 != 0 {
        request = request.header("accept", "text/event-stream");
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else { return };
    let service = service();
    let response = runtime().block_on(service.call(IpAddr::V4(Ipv4Addr::LOCALHOST), request));
    let status = response.status();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if status.is_success() {
        assert!(
            content_type.starts_with("application/hal+json") || content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
    } else {
        assert_eq!(content_type, "application/problem+json; charset=utf-8", "{status}");
        let bytes = runtime().block_on(axum::body::to_bytes(response.into_body(), 1 << 20)).expect("body");
        let problem: serde_json::Value = serde_json::from_slice(&bytes).expect("problem JSON");
        assert_eq!(problem["status"], status.as_u16());
        assert!(problem["type"].as_str().is_some_and(|t| t.starts_with("https://stellar.org/horizon-errors/")));
    }
    service.with_venue(|v| v.ledger().check_invariants().expect("invariants hold"));
});
