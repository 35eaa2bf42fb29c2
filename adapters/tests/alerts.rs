//! Incident alerts against a real webhook receiver on loopback (a small HTTP/1.1 server on
//! `std::net::TcpListener`): what is sent, retries, final failures, and a dead webhook that must
//! never hold up the thread that raises alerts.

#[path = "harness/webhook.rs"]
mod webhook;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use starlog_adapters::alerts::{Alert, AlertConfig, AlertStats, Alerter};
use starlog_engine::incident::{IncidentKind, Priority};
use starlog_engine::outputs::IncidentOut;
use webhook::{PATIENCE, Request, receiver};

fn incident(seq: u64, kind: IncidentKind) -> Alert {
    let priority = kind.priority();
    let out = IncidentOut {
        id: seq + 1000,
        kind: kind.code(),
        priority: priority.code(),
        response: priority.code(),
        until_ns: 0,
    };
    Alert::from_output(seq, &out, 1_700_000_000_000_000_000 + seq as i64, "/srv/starlog/session-1")
}

fn config(url: &str) -> AlertConfig {
    AlertConfig {
        webhook_url: Some(url.to_owned()),
        backoff_initial_ms: 1,
        backoff_max_ms: 2,
        ..AlertConfig::default()
    }
}

#[test]
fn a_p0_alert_reaches_the_webhook_and_a_p3_alert_does_not() {
    let (url, requests) = receiver(vec![200]);
    let alerter = Alerter::start(config(&url));
    alerter.raise(&incident(11, IncidentKind::VenueCrossSelf));
    alerter.raise(&incident(12, IncidentKind::UnexpectedTransaction));
    let stats = alerter.shutdown(PATIENCE);
    assert_eq!(stats, AlertStats { raised: 2, delivered: 1, ..AlertStats::default() });

    let got: Vec<Request> = requests.try_iter().collect();
    assert_eq!(got.len(), 1, "only the P0 is sent: {got:?}");
    let request = &got[0];
    assert_eq!(request.request_line, "POST /hooks/starlog HTTP/1.1");
    assert_eq!(request.header("content-type"), ["application/json"]);
    let json = request.json();
    assert_eq!(json["seq"], 12);
    assert_eq!(json["incident"], 1012);
    assert_eq!(json["kind"], "UnexpectedTransaction");
    assert_eq!(json["kind_code"], 200);
    assert_eq!(json["priority"], "P0");
    assert_eq!(json["response"], "lockdown");
    assert_eq!(json["audit"], "starlog audit show /srv/starlog/session-1 --from 12");
}

#[test]
fn alerts_are_delivered_in_order_down_to_min_priority() {
    let (url, requests) = receiver(vec![200]);
    let alerter = Alerter::start(AlertConfig { min_priority: Priority::P1, ..config(&url) });
    alerter.raise(&incident(1, IncidentKind::SignerCompromise));
    alerter.raise(&incident(2, IncidentKind::SignerFailure));
    alerter.raise(&incident(3, IncidentKind::PolicyViolation));
    alerter.raise(&incident(4, IncidentKind::UnknownOffer));
    let stats = alerter.shutdown(PATIENCE);
    assert_eq!(stats, AlertStats { raised: 4, delivered: 3, ..AlertStats::default() });
    let seqs: Vec<u64> = requests.try_iter().map(|r| r.json()["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 3, 4], "the P2 stays out; the rest in order");
}

#[test]
fn server_errors_are_retried_until_delivered() {
    let (url, requests) = receiver(vec![500, 500, 200]);
    let alerter = Alerter::start(config(&url));
    alerter.raise(&incident(5, IncidentKind::UnknownOffer));
    let stats = alerter.shutdown(PATIENCE);
    assert_eq!(stats, AlertStats { raised: 1, delivered: 1, retries: 2, ..AlertStats::default() });
    let got: Vec<Request> = requests.try_iter().collect();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.body == got[0].body), "the same alert each time");
}

#[test]
fn too_many_requests_is_retried_and_attempts_are_bounded() {
    let (url, requests) = receiver(vec![429, 503]);
    let alerter = Alerter::start(AlertConfig { attempts_max: 3, ..config(&url) });
    alerter.raise(&incident(6, IncidentKind::SignerCompromise));
    let stats = alerter.shutdown(PATIENCE);
    assert_eq!(stats, AlertStats { raised: 1, retries: 2, failed: 1, ..AlertStats::default() });
    assert_eq!(requests.try_iter().count(), 3);
}

#[test]
fn a_client_error_is_final_and_not_retried() {
    let (url, requests) = receiver(vec![400, 200]);
    let alerter = Alerter::start(config(&url));
    alerter.raise(&incident(7, IncidentKind::UnknownOffer));
    let stats = alerter.shutdown(PATIENCE);
    assert_eq!(stats, AlertStats { raised: 1, failed: 1, ..AlertStats::default() });
    assert_eq!(requests.try_iter().count(), 1, "one attempt only");
}

/// Waits for `done`, failing the test (not hanging it) after [`PATIENCE`].
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// With the sender stuck on the first alert, `queue_max + 49` more alerts are raised: `queue_max`
/// of them are queued and 49 dropped; no `raise` waits and shutdown returns.
fn raise_past_a_stuck_sender(alerter: Alerter, queue_max: usize) {
    let more = queue_max + 49;
    for seq in 2..2 + more as u64 {
        alerter.raise(&incident(seq, IncidentKind::UnexplainedBalanceChange));
    }
    let during = alerter.stats();
    assert_eq!((during.raised, during.dropped, during.delivered), (1 + more as u64, 49, 0), "{during:?}");
    let stats = alerter.shutdown(Duration::from_millis(100));
    assert_eq!((stats.raised, stats.dropped, stats.delivered), (1 + more as u64, 49, 0), "{stats:?}");
}

#[test]
fn a_webhook_that_never_answers_does_not_hold_up_raise() {
    const QUEUE_MAX: usize = 16;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (accepted_tx, accepted) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept() {
            held.push(stream); // read nothing, answer nothing, close nothing
            let _ = accepted_tx.send(());
        }
    });
    let alerter = Alerter::start(AlertConfig { queue_max: QUEUE_MAX, timeout_ms: 600_000, ..config(&url) });
    alerter.raise(&incident(1, IncidentKind::SignerCompromise));
    // Connected: the sender has taken the first alert off the queue and is stuck on it.
    accepted.recv_timeout(PATIENCE).expect("the sender connects");
    raise_past_a_stuck_sender(alerter, QUEUE_MAX);
}

#[test]
fn a_closed_port_does_not_hold_up_raise() {
    const QUEUE_MAX: usize = 8;
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/");
    let config =
        AlertConfig { queue_max: QUEUE_MAX, backoff_initial_ms: 600_000, backoff_max_ms: 600_000, ..config(&url) };
    let alerter = Alerter::start(config);
    alerter.raise(&incident(1, IncidentKind::SignerCompromise));
    // Refused once: the sender has the first alert and waits out a long backoff.
    wait_for("the first retry", || alerter.stats().retries == 1);
    raise_past_a_stuck_sender(alerter, QUEUE_MAX);
}
