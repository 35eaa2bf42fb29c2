//! Tests of the incident classifier: one test per incident class and response, the lockdown
//! sequence, escalation and de-escalation at the window's edges, the cancel-only cooldown,
//! config validation, and property tests (determinism, lockdown is sticky, and agreement with
//! a naive reference model that recounts every window from the full history).

use std::hash::{DefaultHasher, Hasher};

use proptest::prelude::*;
use starlog_engine::events::{ArchivedSecurityEvent, SecurityEvent, WireAsset};
use starlog_engine::incident::{
    DURATION_NS_MAX, Incident, IncidentClassifier, IncidentConfig, IncidentConfigError, IncidentKind,
    OPEN_INCIDENTS_MAX_LIMIT, Priority, Response, THRESHOLD_MAX,
};
use starlog_engine::risk::RejectCode;

const S: i64 = 1_000_000_000;

fn classifier() -> IncidentClassifier {
    IncidentClassifier::new(IncidentConfig::DEFAULT).unwrap()
}

/// Observes `event` the way the engine does: serialized, then read in place as an archive.
fn observe(c: &mut IncidentClassifier, event: &SecurityEvent, now_ns: i64) -> Incident {
    let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(event).unwrap();
    let archived = rkyv::access::<ArchivedSecurityEvent, rkyv::rancor::Error>(&bytes).unwrap();
    let incident = c.observe(archived, now_ns);
    assert_eq!(incident.priority, incident.kind.priority());
    incident
}

fn state_hash(c: &IncidentClassifier) -> u64 {
    let mut h = DefaultHasher::new();
    c.state_hash_into(&mut h);
    h.finish()
}

fn auth() -> SecurityEvent {
    SecurityEvent::AuthFailure { operator: "mallory".into() }
}
fn signer() -> SecurityEvent {
    SecurityEvent::SignerFailure { store: "pkcs11:token=a".into() }
}
fn rate_limited() -> SecurityEvent {
    SecurityEvent::RateLimited { retry_after_ms: 1000 }
}
fn policy() -> SecurityEvent {
    SecurityEvent::PolicyViolation { intent: 7, rule: 3 }
}
fn compromise() -> SecurityEvent {
    SecurityEvent::SignerCompromise { store: "file:/k".into() }
}
fn unknown_offer() -> SecurityEvent {
    SecurityEvent::UnknownOffer { offer_id: 99 }
}

fn p0_events() -> [(SecurityEvent, IncidentKind); 4] {
    [
        (compromise(), IncidentKind::SignerCompromise),
        (SecurityEvent::UnexpectedTransaction { hash: [5; 32] }, IncidentKind::UnexpectedTransaction),
        (unknown_offer(), IncidentKind::UnknownOffer),
        (
            SecurityEvent::UnexplainedBalanceChange {
                asset: WireAsset { code: [0; 12], issuer: [0; 32] },
                delta_stroops: -1,
            },
            IncidentKind::UnexplainedBalanceChange,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// One test per class and response.
// ---------------------------------------------------------------------------------------

#[test]
fn every_p0_locks_down_and_requires_key_rotation() {
    for (event, kind) in p0_events() {
        let mut c = classifier();
        let incident = observe(&mut c, &event, 10);
        assert_eq!(
            incident,
            Incident { id: 1, kind, priority: Priority::P0, response: Response::Lockdown, at_ns: 10 },
            "{kind}"
        );
        assert!(incident.response.cancels_all() && incident.response.alerts());
        assert!(c.is_locked_down() && c.key_rotation_required());
        assert!(!c.is_cancel_only(10), "lockdown is its own state, not cancel-only");
        assert_eq!(c.open_incidents().copied().collect::<Vec<_>>(), vec![incident]);
    }
}

#[test]
fn zero_balance_delta_still_fails_closed() {
    let mut c = classifier();
    let event = SecurityEvent::UnexplainedBalanceChange {
        asset: WireAsset { code: [0; 12], issuer: [0; 32] },
        delta_stroops: 0,
    };
    assert_eq!(observe(&mut c, &event, 0).priority, Priority::P0);
}

#[test]
fn policy_violation_is_p1_cancel_only_every_time() {
    let mut c = classifier();
    let cooldown = IncidentConfig::DEFAULT.cancel_only_cooldown_ns as i64;
    let first = observe(&mut c, &policy(), 100);
    assert_eq!((first.kind, first.priority), (IncidentKind::PolicyViolation, Priority::P1));
    assert_eq!(first.response, Response::CancelOnly { until_ns: 100 + cooldown });
    assert!(first.response.alerts() && !first.response.cancels_all());
    assert!(c.is_cancel_only(100) && !c.is_locked_down() && !c.key_rotation_required());
    // No threshold: the second is P1 too, and extends the cooldown.
    let second = observe(&mut c, &policy(), 200);
    assert_eq!(second.response, Response::CancelOnly { until_ns: 200 + cooldown });
    assert_eq!(c.cancel_only_until_ns(), 200 + cooldown);
}

#[test]
fn single_failures_and_rate_limits_are_p2_alerts() {
    for (event, kind) in [
        (auth(), IncidentKind::AuthFailure),
        (signer(), IncidentKind::SignerFailure),
        (rate_limited(), IncidentKind::RateLimited),
    ] {
        let mut c = classifier();
        let incident = observe(&mut c, &event, 5);
        assert_eq!(incident, Incident { id: 1, kind, priority: Priority::P2, response: Response::Alert, at_ns: 5 });
        assert!(!c.is_locked_down() && !c.is_cancel_only(5) && !c.key_rotation_required());
        assert!(c.open_incident_by_id(1).is_some(), "a P2 alert is open until acknowledged");
    }
}

/// For each windowed security counter: P2 below the threshold, P1 at it (and above it while
/// the burst stays within the window), P2 again once the window slides past it.
#[test]
fn escalation_at_the_threshold_and_de_escalation_after_the_window() {
    let d = IncidentConfig::DEFAULT;
    let cases = [
        (
            auth(),
            d.auth_failures_max,
            d.auth_failure_window_ns,
            IncidentKind::AuthFailure,
            IncidentKind::RepeatedAuthFailures,
        ),
        (
            signer(),
            d.signer_failures_max,
            d.signer_failure_window_ns,
            IncidentKind::SignerFailure,
            IncidentKind::RepeatedSignerFailures,
        ),
        (
            rate_limited(),
            d.rate_limits_max,
            d.rate_limit_window_ns,
            IncidentKind::RateLimited,
            IncidentKind::RateLimitStorm,
        ),
    ];
    for (event, max, window_ns, single, repeated) in cases {
        let window = window_ns as i64;
        let mut c = classifier();
        // max - 1 observations at t = 0, 1, …: all P2.
        for t in 0..i64::from(max) - 1 {
            assert_eq!(observe(&mut c, &event, t).kind, single, "{single} at {t}");
        }
        // The max-th, still within the window of the first (window - 1 after it): P1.
        let at = window - 1;
        let escalated = observe(&mut c, &event, at);
        assert_eq!((escalated.kind, escalated.priority), (repeated, Priority::P1));
        assert_eq!(escalated.response, Response::CancelOnly { until_ns: at + d.cancel_only_cooldown_ns as i64 });
        assert!(c.is_cancel_only(at));
        // At window + 1 the observations at 0 and 1 have slid out (1 exactly one window
        // before): 2 ..= max - 2, window - 1 and window + 1 remain, max - 1 of them: P2 again.
        let later = observe(&mut c, &event, window + 1);
        assert_eq!((later.kind, later.response), (single, Response::Alert), "{single}: de-escalated");
        // Long after, alone in its window: P2 again.
        let alone = observe(&mut c, &event, 10 * window);
        assert_eq!((alone.kind, alone.priority, alone.response), (single, Priority::P2, Response::Alert));
    }
}

#[test]
fn observations_exactly_one_window_apart_are_not_in_the_same_window() {
    let config = IncidentConfig { auth_failures_max: 2, auth_failure_window_ns: 100, ..IncidentConfig::DEFAULT };
    let mut c = IncidentClassifier::new(config).unwrap();
    assert_eq!(observe(&mut c, &auth(), 0).kind, IncidentKind::AuthFailure);
    assert_eq!(observe(&mut c, &auth(), 100).kind, IncidentKind::AuthFailure);
    assert_eq!(observe(&mut c, &auth(), 199).kind, IncidentKind::RepeatedAuthFailures);
}

#[test]
fn counters_are_global_across_operators_and_stores() {
    let config = IncidentConfig { auth_failures_max: 2, ..IncidentConfig::DEFAULT };
    let mut c = IncidentClassifier::new(config).unwrap();
    observe(&mut c, &SecurityEvent::AuthFailure { operator: "a".into() }, 0);
    let second = observe(&mut c, &SecurityEvent::AuthFailure { operator: "b".into() }, 1);
    assert_eq!(second.kind, IncidentKind::RepeatedAuthFailures);
    // Different counters do not mix.
    assert_eq!(observe(&mut c, &signer(), 2).kind, IncidentKind::SignerFailure);
}

#[test]
fn throttle_rejects_count_silently_until_a_storm() {
    let config = IncidentConfig {
        throttle_rejects_max: 3,
        throttle_reject_window_ns: 10,
        throttle_storms_max: 2,
        throttle_storm_window_ns: 100,
        ..IncidentConfig::DEFAULT
    };
    let mut c = IncidentClassifier::new(config).unwrap();
    assert_eq!(c.throttle_rejected(0), None);
    assert_eq!(c.throttle_rejected(1), None);
    let storm = c.throttle_rejected(2).unwrap();
    assert_eq!(
        storm,
        Incident {
            id: 1,
            kind: IncidentKind::ThrottleStorm,
            priority: Priority::P2,
            response: Response::Alert,
            at_ns: 2
        }
    );
    // The storm emptied the reject counter: two more are not a storm yet.
    assert_eq!(c.throttle_rejected(3), None);
    assert_eq!(c.throttle_rejected(4), None);
    // Spread out over more than the window: never a storm.
    assert_eq!(c.throttle_rejected(20), None);
    assert_eq!(c.throttle_rejected(40), None);
    // A second storm within the storm window is sustained: P1, cancel-only.
    assert_eq!(c.throttle_rejected(41), None);
    let sustained = c.throttle_rejected(42).unwrap();
    assert_eq!(
        (sustained.id, sustained.kind, sustained.priority),
        (2, IncidentKind::SustainedThrottleStorm, Priority::P1)
    );
    assert_eq!(sustained.response, Response::CancelOnly { until_ns: 42 + config.cancel_only_cooldown_ns as i64 });
    // Long after, a storm alone in its window is P2 again.
    for t in 1000..1002 {
        assert_eq!(c.throttle_rejected(t), None);
    }
    assert_eq!(c.throttle_rejected(1002).unwrap().kind, IncidentKind::ThrottleStorm);
}

#[test]
fn venue_mismatches_are_recorded_then_alerted_and_other_codes_ignored() {
    let config =
        IncidentConfig { venue_mismatches_max: 3, venue_mismatch_window_ns: 60 * S as u64, ..IncidentConfig::DEFAULT };
    let mut c = IncidentClassifier::new(config).unwrap();
    let cross = c.order_rejected_by_venue(RejectCode::VenueCrossSelf, S).unwrap();
    assert_eq!(
        cross,
        Incident {
            id: 1,
            kind: IncidentKind::VenueCrossSelf,
            priority: Priority::P3,
            response: Response::Record,
            at_ns: S
        }
    );
    assert!(!cross.response.alerts());
    assert_eq!(c.open_incident_by_id(1), None, "P3 records are never open");
    assert!(!c.acknowledge(1));
    // Other codes: nothing at all, not even the clock.
    for code in [RejectCode::VenueBadSeq, RejectCode::VenueTooLate, RejectCode::Throttled, RejectCode::Underfunded] {
        assert_eq!(c.order_rejected_by_venue(code, 50 * S), None);
    }
    assert_eq!(c.clock_ns(), S);
    let under = c.order_rejected_by_venue(RejectCode::VenueUnderfunded, 2 * S).unwrap();
    assert_eq!((under.kind, under.priority), (IncidentKind::VenueUnderfunded, Priority::P3));
    // Both codes share one counter: the third within a minute is a P2 pattern.
    let pattern = c.order_rejected_by_venue(RejectCode::VenueCrossSelf, 3 * S).unwrap();
    assert_eq!(
        (pattern.id, pattern.kind, pattern.priority, pattern.response),
        (3, IncidentKind::RepeatedVenueMismatches, Priority::P2, Response::Alert)
    );
    assert!(!c.is_cancel_only(3 * S) && !c.is_locked_down());
}

// ---------------------------------------------------------------------------------------
// Posture.
// ---------------------------------------------------------------------------------------

#[test]
fn full_lockdown_sequence() {
    let mut c = classifier();
    let p0 = observe(&mut c, &unknown_offer(), 10 * S);
    assert_eq!(p0.response, Response::Lockdown);
    assert!(c.is_locked_down() && c.key_rotation_required());

    // Later P1, P2 and P3 events never downgrade it.
    let p1 = observe(&mut c, &policy(), 11 * S);
    assert_eq!(p1.priority, Priority::P1);
    assert!(c.is_locked_down());
    let p2 = observe(&mut c, &auth(), 12 * S);
    assert_eq!(p2.priority, Priority::P2);
    let p3 = c.order_rejected_by_venue(RejectCode::VenueCrossSelf, 13 * S).unwrap();
    assert_eq!(p3.priority, Priority::P3);
    assert_eq!(c.throttle_rejected(14 * S), None);
    assert!(c.is_locked_down() && c.key_rotation_required());

    // Acknowledging every open incident, the P0 included, does not unlock.
    let open: Vec<u64> = c.open_incidents().map(|i| i.id).collect();
    assert_eq!(open, vec![p0.id, p1.id, p2.id]);
    for id in open {
        assert!(c.acknowledge(id));
        assert!(!c.acknowledge(id), "already acknowledged");
    }
    assert!(c.is_locked_down());
    assert_eq!(c.open_incidents().count(), 0);

    // Unlock does; it keeps the record, the key rotation flag and the P1's cancel-only.
    assert!(c.unlock());
    assert!(!c.is_locked_down());
    assert!(!c.unlock(), "not locked any more");
    assert!(c.key_rotation_required(), "unlocking does not make the key safe again");
    assert!(c.is_cancel_only(15 * S), "the P1's cooldown outlasts the unlock");
    assert_eq!(c.incidents_count(), 4);
    assert_eq!(c.incidents_count_by_priority(Priority::P0), 1);
    assert!(c.key_rotated());
    assert!(!c.key_rotation_required() && !c.key_rotated());

    // A new P0 locks down again.
    assert_eq!(observe(&mut c, &compromise(), 16 * S).response, Response::Lockdown);
    assert!(c.is_locked_down() && c.key_rotation_required());
}

#[test]
fn unlock_does_not_clear_open_incidents() {
    let mut c = classifier();
    let p0 = observe(&mut c, &compromise(), 0);
    assert!(c.unlock());
    assert_eq!(c.open_incident_by_id(p0.id), Some(&p0));
    assert!(c.acknowledge(p0.id));
}

#[test]
fn p0_during_cancel_only_still_locks_down() {
    let mut c = classifier();
    observe(&mut c, &policy(), 0);
    assert!(c.is_cancel_only(1) && !c.is_locked_down());
    assert_eq!(observe(&mut c, &unknown_offer(), 1).response, Response::Lockdown);
    assert!(c.is_locked_down() && c.is_cancel_only(1));
}

#[test]
fn cancel_only_ends_exactly_at_until_ns() {
    let config = IncidentConfig { cancel_only_cooldown_ns: 1_000, ..IncidentConfig::DEFAULT };
    let mut c = IncidentClassifier::new(config).unwrap();
    assert!(!c.is_cancel_only(i64::MIN) && !c.is_cancel_only(0));
    assert_eq!(c.cancel_only_until_ns(), i64::MIN);
    let incident = observe(&mut c, &policy(), 500);
    assert_eq!(incident.response.until_ns(), Some(1_500));
    assert!(c.is_cancel_only(500));
    assert!(c.is_cancel_only(1_499));
    assert!(!c.is_cancel_only(1_500), "ends exactly at until_ns");
    assert!(!c.is_cancel_only(i64::MAX));
    // A query with an earlier time is evaluated at the clock (500): still restricted.
    assert!(c.is_cancel_only(0));
    // A later P1 extends, never shortens.
    observe(&mut c, &policy(), 1_200);
    assert!(c.is_cancel_only(1_500) && !c.is_cancel_only(2_200));
}

#[test]
fn cancel_only_saturates_at_the_end_of_time() {
    let mut c = classifier();
    let incident = observe(&mut c, &policy(), i64::MAX - 1);
    assert_eq!(incident.response, Response::CancelOnly { until_ns: i64::MAX });
    assert!(c.is_cancel_only(i64::MAX - 1) && !c.is_cancel_only(i64::MAX));
}

#[test]
fn incident_ids_are_sequential_from_one() {
    let mut c = classifier();
    let mut ids = Vec::new();
    ids.push(observe(&mut c, &auth(), 0).id);
    assert_eq!(c.throttle_rejected(1), None); // no incident, no id
    assert_eq!(c.order_rejected_by_venue(RejectCode::VenueBadSeq, 2), None);
    ids.push(c.order_rejected_by_venue(RejectCode::VenueCrossSelf, 3).unwrap().id);
    ids.push(observe(&mut c, &compromise(), 4).id);
    ids.push(observe(&mut c, &policy(), 5).id);
    c.acknowledge(1);
    c.unlock();
    ids.push(observe(&mut c, &rate_limited(), 6).id);
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(c.incidents_count(), 5);
    let by_priority: Vec<u64> = Priority::ALL.iter().map(|&p| c.incidents_count_by_priority(p)).collect();
    assert_eq!(by_priority, vec![1, 1, 2, 1]);
}

#[test]
fn time_going_backwards_is_treated_as_the_clock() {
    let config = IncidentConfig { auth_failures_max: 2, auth_failure_window_ns: 100, ..IncidentConfig::DEFAULT };
    let mut c = IncidentClassifier::new(config).unwrap();
    assert_eq!(observe(&mut c, &auth(), 1_000).at_ns, 1_000);
    // An earlier timestamp is evaluated at the clock, so it is in the same window.
    let back = observe(&mut c, &auth(), 0);
    assert_eq!((back.kind, back.at_ns), (IncidentKind::RepeatedAuthFailures, 1_000));
    assert_eq!(back.response.until_ns(), Some(1_000 + config.cancel_only_cooldown_ns as i64));
    assert_eq!(c.clock_ns(), 1_000);
    // It cannot shorten a window either: i64::MIN is evaluated at 1_000 too.
    assert_eq!(observe(&mut c, &auth(), i64::MIN).kind, IncidentKind::RepeatedAuthFailures);
    assert_eq!(observe(&mut c, &auth(), 1_099).kind, IncidentKind::RepeatedAuthFailures);
    assert_eq!(observe(&mut c, &auth(), 1_300).kind, IncidentKind::AuthFailure);
}

#[test]
fn a_flood_of_alerts_cannot_push_a_p0_out_of_the_open_set() {
    let config = IncidentConfig { open_incidents_max: 3, ..IncidentConfig::DEFAULT };
    let mut c = IncidentClassifier::new(config).unwrap();
    let p0 = observe(&mut c, &compromise(), 0);
    for t in 1..=10 {
        observe(&mut c, &rate_limited(), t * 100 * S); // P2, far apart
    }
    let open: Vec<(u64, Priority)> = c.open_incidents().map(|i| (i.id, i.priority)).collect();
    // The P0 stays; the newest P2s evicted the oldest ones.
    assert_eq!(open, vec![(p0.id, Priority::P0), (10, Priority::P2), (11, Priority::P2)]);
    assert_eq!(c.open_incidents_dropped(), 8);
    // A P1 evicts the oldest P2; a P2 arriving when only more severe ones are open is dropped.
    let p1 = observe(&mut c, &policy(), 2_000 * S);
    let p1b = observe(&mut c, &policy(), 2_001 * S);
    assert_eq!(c.open_incidents().map(|i| i.id).collect::<Vec<_>>(), vec![p0.id, p1.id, p1b.id]);
    let p2 = observe(&mut c, &auth(), 2_002 * S);
    assert_eq!(c.open_incident_by_id(p2.id), None);
    assert_eq!(c.open_incidents_dropped(), 11);
    assert!(!c.acknowledge(p2.id));
}

// ---------------------------------------------------------------------------------------
// Config.
// ---------------------------------------------------------------------------------------

#[test]
fn config_validation_names_the_field() {
    assert_eq!(IncidentConfig::default(), IncidentConfig::DEFAULT);
    let d = IncidentConfig::DEFAULT;
    let zero = |field| Err(IncidentConfigError::Zero { field });
    assert_eq!(IncidentConfig { auth_failures_max: 0, ..d }.validate(), zero("auth_failures_max"));
    assert_eq!(IncidentConfig { signer_failure_window_ns: 0, ..d }.validate(), zero("signer_failure_window_ns"));
    assert_eq!(IncidentConfig { cancel_only_cooldown_ns: 0, ..d }.validate(), zero("cancel_only_cooldown_ns"));
    assert_eq!(IncidentConfig { open_incidents_max: 0, ..d }.validate(), zero("open_incidents_max"));
    assert_eq!(
        IncidentConfig { throttle_rejects_max: THRESHOLD_MAX + 1, ..d }.validate(),
        Err(IncidentConfigError::TooLarge {
            field: "throttle_rejects_max",
            value: u64::from(THRESHOLD_MAX) + 1,
            max: u64::from(THRESHOLD_MAX)
        })
    );
    assert_eq!(
        IncidentConfig { venue_mismatch_window_ns: DURATION_NS_MAX + 1, ..d }.validate(),
        Err(IncidentConfigError::TooLarge {
            field: "venue_mismatch_window_ns",
            value: DURATION_NS_MAX + 1,
            max: DURATION_NS_MAX
        })
    );
    let limit = OPEN_INCIDENTS_MAX_LIMIT;
    assert!(IncidentConfig { open_incidents_max: limit + 1, ..d }.validate().is_err());
    let edges = IncidentConfig {
        rate_limits_max: 1,
        throttle_storms_max: THRESHOLD_MAX,
        rate_limit_window_ns: 1,
        cancel_only_cooldown_ns: DURATION_NS_MAX,
        open_incidents_max: limit,
        ..d
    };
    assert_eq!(edges.validate(), Ok(()));
    let err = IncidentClassifier::new(IncidentConfig { auth_failures_max: 0, ..d }).unwrap_err();
    assert_eq!(err.to_string(), "incident config: auth_failures_max = 0; it must be at least 1");
}

#[test]
fn threshold_of_one_escalates_every_observation() {
    let config = IncidentConfig { signer_failures_max: 1, ..IncidentConfig::DEFAULT };
    let mut c = IncidentClassifier::new(config).unwrap();
    assert_eq!(observe(&mut c, &signer(), 0).kind, IncidentKind::RepeatedSignerFailures);
}

#[test]
fn codes_are_stable() {
    let codes: Vec<(u16, Priority)> = IncidentKind::ALL.iter().map(|k| (k.code(), k.priority())).collect();
    use Priority::*;
    assert_eq!(
        codes,
        vec![
            (100, P0),
            (101, P2),
            (102, P1),
            (103, P1),
            (200, P0),
            (201, P0),
            (202, P0),
            (203, P3),
            (204, P3),
            (205, P2),
            (300, P2),
            (301, P1),
            (400, P2),
            (401, P1),
            (402, P2),
            (403, P1),
        ]
    );
    let priorities: Vec<u8> = Priority::ALL.iter().map(|p| p.code()).collect();
    assert_eq!(priorities, vec![0, 1, 2, 3]);
    let responses: Vec<u8> =
        [Response::Lockdown, Response::CancelOnly { until_ns: 1 }, Response::Alert, Response::Record]
            .iter()
            .map(|r| r.code())
            .collect();
    assert_eq!(responses, vec![0, 1, 2, 3]);
    assert_eq!(IncidentKind::from_code(0), None);
    assert_eq!(
        Incident {
            id: 3,
            kind: IncidentKind::PolicyViolation,
            priority: P1,
            response: Response::CancelOnly { until_ns: 9 },
            at_ns: 4
        }
        .to_string(),
        "incident #3 P1 policy_violation (103) at 4 ns: cancel_only until 9 ns"
    );
}

#[test]
fn state_hash_tracks_decisions_not_history() {
    let config = IncidentConfig { auth_failures_max: 2, auth_failure_window_ns: 100, ..IncidentConfig::DEFAULT };
    let mut a = IncidentClassifier::new(config).unwrap();
    let fresh = state_hash(&a);
    observe(&mut a, &auth(), 0);
    assert_ne!(state_hash(&a), fresh);
    let b = a.clone();
    assert_eq!(state_hash(&a), state_hash(&b));
    a.acknowledge(1);
    assert_ne!(state_hash(&a), state_hash(&b));
    // A different config hashes differently even with no history.
    let other = IncidentClassifier::new(IncidentConfig { auth_failures_max: 3, ..config }).unwrap();
    assert_ne!(state_hash(&other), fresh);
}

// ---------------------------------------------------------------------------------------
// Property tests against a naive reference model.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Security(SecurityEvent),
    Throttle,
    Venue(RejectCode),
    Acknowledge(u64),
    Unlock,
    KeyRotated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Counter {
    Auth,
    Signer,
    Rate,
    /// Throttle rejects since the last storm.
    Throttle,
    Storm,
    Venue,
}

/// Keeps every observation's effective time and recounts each window from scratch; the
/// open set is a plain list searched linearly.
#[derive(Debug)]
struct Reference {
    config: IncidentConfig,
    clock_ns: i64,
    next_id: u64,
    locked_down: bool,
    key_rotation_required: bool,
    cancel_only_until_ns: i64,
    history: std::collections::BTreeMap<Counter, Vec<i64>>,
    open: Vec<Incident>,
}

impl Reference {
    fn new(config: IncidentConfig) -> Reference {
        Reference {
            config,
            clock_ns: i64::MIN,
            next_id: 1,
            locked_down: false,
            key_rotation_required: false,
            cancel_only_until_ns: i64::MIN,
            history: Default::default(),
            open: Vec::new(),
        }
    }

    fn limits(&self, counter: Counter) -> (u32, u64) {
        let c = &self.config;
        match counter {
            Counter::Auth => (c.auth_failures_max, c.auth_failure_window_ns),
            Counter::Signer => (c.signer_failures_max, c.signer_failure_window_ns),
            Counter::Rate => (c.rate_limits_max, c.rate_limit_window_ns),
            Counter::Throttle => (c.throttle_rejects_max, c.throttle_reject_window_ns),
            Counter::Storm => (c.throttle_storms_max, c.throttle_storm_window_ns),
            Counter::Venue => (c.venue_mismatches_max, c.venue_mismatch_window_ns),
        }
    }

    /// Records an observation now and recounts the whole history of the counter.
    fn count(&mut self, counter: Counter) -> bool {
        let now = self.clock_ns;
        let (max, window_ns) = self.limits(counter);
        let history = self.history.entry(counter).or_default();
        history.push(now);
        let within = history.iter().filter(|&&t| (now as i128 - t as i128) < window_ns as i128).count();
        within >= max as usize
    }

    fn raise(&mut self, kind: IncidentKind) -> Incident {
        let at_ns = self.clock_ns;
        let priority = match kind {
            IncidentKind::SignerCompromise
            | IncidentKind::UnexpectedTransaction
            | IncidentKind::UnknownOffer
            | IncidentKind::UnexplainedBalanceChange => Priority::P0,
            IncidentKind::RepeatedSignerFailures
            | IncidentKind::PolicyViolation
            | IncidentKind::RepeatedAuthFailures
            | IncidentKind::RateLimitStorm
            | IncidentKind::SustainedThrottleStorm => Priority::P1,
            IncidentKind::VenueCrossSelf | IncidentKind::VenueUnderfunded => Priority::P3,
            _ => Priority::P2,
        };
        let response = match priority {
            Priority::P0 => {
                self.locked_down = true;
                self.key_rotation_required = true;
                Response::Lockdown
            }
            Priority::P1 => {
                let until = (at_ns as i128 + self.config.cancel_only_cooldown_ns as i128).min(i64::MAX as i128) as i64;
                self.cancel_only_until_ns = self.cancel_only_until_ns.max(until);
                Response::CancelOnly { until_ns: self.cancel_only_until_ns }
            }
            Priority::P2 => Response::Alert,
            Priority::P3 => Response::Record,
        };
        let incident = Incident { id: self.next_id, kind, priority, response, at_ns };
        self.next_id += 1;
        if priority != Priority::P3 {
            if self.open.len() >= self.config.open_incidents_max as usize {
                // Least severe, oldest among equals.
                let mut victims = self.open.clone();
                victims.sort_by_key(|i| (std::cmp::Reverse(i.priority), i.id));
                let victim = victims[0];
                if victim.priority >= priority {
                    self.open.retain(|i| i.id != victim.id);
                    self.open.push(incident);
                }
            } else {
                self.open.push(incident);
            }
        }
        incident
    }

    fn apply(&mut self, op: &Op, now_ns: i64) -> Option<Incident> {
        let advance = |r: &mut Reference| r.clock_ns = r.clock_ns.max(now_ns);
        match op {
            Op::Security(event) => {
                advance(self);
                let kind = match event {
                    SecurityEvent::SignerCompromise { .. } => IncidentKind::SignerCompromise,
                    SecurityEvent::UnexpectedTransaction { .. } => IncidentKind::UnexpectedTransaction,
                    SecurityEvent::UnknownOffer { .. } => IncidentKind::UnknownOffer,
                    SecurityEvent::UnexplainedBalanceChange { .. } => IncidentKind::UnexplainedBalanceChange,
                    SecurityEvent::PolicyViolation { .. } => IncidentKind::PolicyViolation,
                    SecurityEvent::AuthFailure { .. } if self.count(Counter::Auth) => {
                        IncidentKind::RepeatedAuthFailures
                    }
                    SecurityEvent::AuthFailure { .. } => IncidentKind::AuthFailure,
                    SecurityEvent::SignerFailure { .. } if self.count(Counter::Signer) => {
                        IncidentKind::RepeatedSignerFailures
                    }
                    SecurityEvent::SignerFailure { .. } => IncidentKind::SignerFailure,
                    SecurityEvent::RateLimited { .. } if self.count(Counter::Rate) => IncidentKind::RateLimitStorm,
                    SecurityEvent::RateLimited { .. } => IncidentKind::RateLimited,
                };
                Some(self.raise(kind))
            }
            Op::Throttle => {
                advance(self);
                if !self.count(Counter::Throttle) {
                    return None;
                }
                self.history.remove(&Counter::Throttle);
                let kind = if self.count(Counter::Storm) {
                    IncidentKind::SustainedThrottleStorm
                } else {
                    IncidentKind::ThrottleStorm
                };
                Some(self.raise(kind))
            }
            Op::Venue(code) => {
                let single = match code {
                    RejectCode::VenueCrossSelf => IncidentKind::VenueCrossSelf,
                    RejectCode::VenueUnderfunded => IncidentKind::VenueUnderfunded,
                    _ => return None,
                };
                advance(self);
                let kind = if self.count(Counter::Venue) { IncidentKind::RepeatedVenueMismatches } else { single };
                Some(self.raise(kind))
            }
            Op::Acknowledge(_) | Op::Unlock | Op::KeyRotated => None,
        }
    }
}

/// Applies `op` to the classifier; returns the incident and, for commands, their answer.
fn apply(c: &mut IncidentClassifier, op: &Op, now_ns: i64) -> (Option<Incident>, Option<bool>) {
    match op {
        Op::Security(event) => (Some(observe(c, event, now_ns)), None),
        Op::Throttle => (c.throttle_rejected(now_ns), None),
        Op::Venue(code) => (c.order_rejected_by_venue(*code, now_ns), None),
        Op::Acknowledge(id) => (None, Some(c.acknowledge(*id))),
        Op::Unlock => (None, Some(c.unlock())),
        Op::KeyRotated => (None, Some(c.key_rotated())),
    }
}

fn security_event() -> impl Strategy<Value = SecurityEvent> {
    prop_oneof![
        // Weighted toward the windowed kinds, so thresholds are reached often.
        4 => Just(auth()),
        4 => Just(signer()),
        4 => Just(rate_limited()),
        1 => Just(policy()),
        1 => Just(compromise()),
        1 => Just(SecurityEvent::UnexpectedTransaction { hash: [1; 32] }),
        1 => Just(unknown_offer()),
        1 => any::<i64>().prop_map(|delta_stroops| SecurityEvent::UnexplainedBalanceChange {
            asset: WireAsset { code: [0; 12], issuer: [0; 32] },
            delta_stroops,
        }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => security_event().prop_map(Op::Security),
        6 => Just(Op::Throttle),
        3 => prop::sample::select(vec![
            RejectCode::VenueCrossSelf,
            RejectCode::VenueUnderfunded,
            RejectCode::VenueBadSeq,
            RejectCode::VenueOther,
        ])
        .prop_map(Op::Venue),
        2 => (0u64..40).prop_map(Op::Acknowledge),
        1 => Just(Op::Unlock),
        1 => Just(Op::KeyRotated),
    ]
}

/// Small thresholds and windows, so that escalation, de-escalation and eviction all happen.
fn config() -> impl Strategy<Value = IncidentConfig> {
    (
        (1u32..5, 1u64..40, 1u32..5, 1u64..40, 1u32..5, 1u64..40),
        (1u32..6, 1u64..40, 1u32..4, 1u64..80, 1u32..5, 1u64..40),
        (1u64..100, 1u32..8),
    )
        .prop_map(|((a, aw, s, sw, r, rw), (t, tw, st, stw, v, vw), (cooldown, open))| IncidentConfig {
            auth_failures_max: a,
            auth_failure_window_ns: aw,
            signer_failures_max: s,
            signer_failure_window_ns: sw,
            rate_limits_max: r,
            rate_limit_window_ns: rw,
            throttle_rejects_max: t,
            throttle_reject_window_ns: tw,
            throttle_storms_max: st,
            throttle_storm_window_ns: stw,
            venue_mismatches_max: v,
            venue_mismatch_window_ns: vw,
            cancel_only_cooldown_ns: cooldown,
            open_incidents_max: open,
        })
}

/// Ops with raw timestamps: a random start (including near both ends of time) and steps that
/// are mostly forward, sometimes backward, sometimes far.
fn stream() -> impl Strategy<Value = Vec<(Op, i64)>> {
    let start = prop_oneof![Just(0i64), Just(i64::MIN), Just(i64::MAX - 200), any::<i64>()];
    let step = prop_oneof![6 => 0i64..10, 2 => -30i64..0, 1 => 10i64..200, 1 => any::<i64>()];
    (start, prop::collection::vec((op(), step), 0..200)).prop_map(|(start, steps)| {
        let mut now = start;
        steps
            .into_iter()
            .map(|(op, step)| {
                now = now.saturating_add(step);
                (op, now)
            })
            .collect()
    })
}

type Run = (Vec<(Option<Incident>, Option<bool>)>, u64);

fn run(config: IncidentConfig, ops: &[(Op, i64)]) -> Run {
    let mut c = IncidentClassifier::new(config).unwrap();
    let outputs = ops.iter().map(|(op, now)| apply(&mut c, op, *now)).collect();
    (outputs, state_hash(&c))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn deterministic(config in config(), ops in stream()) {
        let first = run(config, &ops);
        let second = run(config, &ops);
        prop_assert_eq!(first, second);
    }

    #[test]
    fn lockdown_lasts_until_unlock(config in config(), ops in stream()) {
        let mut c = IncidentClassifier::new(config).unwrap();
        for (op, now) in &ops {
            let was_locked = c.is_locked_down();
            let (incident, _) = apply(&mut c, op, *now);
            if was_locked && !matches!(op, Op::Unlock) {
                prop_assert!(c.is_locked_down(), "{:?} at {} lifted a lockdown", op, now);
            }
            if matches!(op, Op::Unlock) {
                prop_assert!(!c.is_locked_down());
            }
            if let Some(incident) = incident {
                prop_assert_eq!(incident.priority == Priority::P0, incident.response == Response::Lockdown);
                if incident.priority == Priority::P0 {
                    prop_assert!(c.is_locked_down() && c.key_rotation_required());
                }
            }
        }
    }

    #[test]
    fn agrees_with_the_naive_reference(config in config(), ops in stream()) {
        let mut c = IncidentClassifier::new(config).unwrap();
        let mut reference = Reference::new(config);
        let mut last_at = i64::MIN;
        for (step, (op, now)) in ops.iter().enumerate() {
            let (incident, answer) = apply(&mut c, op, *now);
            let expected = reference.apply(op, *now);
            prop_assert_eq!(incident, expected, "step {}: {:?} at {}", step, op, now);
            match op {
                Op::Acknowledge(id) => {
                    let was_open = reference.open.iter().any(|i| i.id == *id);
                    reference.open.retain(|i| i.id != *id);
                    prop_assert_eq!(answer, Some(was_open));
                }
                Op::Unlock => prop_assert_eq!(answer, Some(std::mem::replace(&mut reference.locked_down, false))),
                Op::KeyRotated => {
                    prop_assert_eq!(answer, Some(std::mem::replace(&mut reference.key_rotation_required, false)));
                }
                _ => {}
            }
            if let Some(incident) = incident {
                prop_assert!(incident.at_ns >= last_at, "at_ns went backwards");
                last_at = incident.at_ns;
            }
            prop_assert_eq!(c.clock_ns(), reference.clock_ns);
            prop_assert_eq!(c.is_locked_down(), reference.locked_down);
            prop_assert_eq!(c.key_rotation_required(), reference.key_rotation_required);
            prop_assert_eq!(c.cancel_only_until_ns(), reference.cancel_only_until_ns);
            prop_assert_eq!(c.is_cancel_only(*now), (*now).max(reference.clock_ns) < reference.cancel_only_until_ns);
            let mut open: Vec<Incident> = reference.open.clone();
            open.sort_by_key(|i| i.id);
            prop_assert_eq!(c.open_incidents().copied().collect::<Vec<_>>(), open);
            prop_assert_eq!(c.incidents_count(), reference.next_id - 1);
        }
    }
}
