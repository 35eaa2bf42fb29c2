//! The incident classifier: turns security observations into numbered incidents with a
//! priority (the seed's P0–P3) and an automatic response, and keeps the resulting *posture*
//! (locked down, cancel-only, key rotation required, open incidents) that the engine enforces.
//!
//! It is a pure, deterministic state machine in the style of the rest of the core: time is only
//! the `now_ns` ingress timestamp passed in, arithmetic is exact integer arithmetic, memory is
//! bounded after [`IncidentClassifier::new`], and [`IncidentClassifier::state_hash_into`] is
//! written by hand.
//!
//! # Inputs
//!
//! - [`IncidentClassifier::observe`]: a journaled [`SecurityEvent`] (read in place as
//!   [`ArchivedSecurityEvent`]). Every security event yields exactly one [`Incident`].
//! - [`IncidentClassifier::throttle_rejected`]: the engine's own throttler refused an order.
//!   Single rejects are normal back-pressure and are only *counted* (`None`); the reject that
//!   completes a storm yields an incident.
//! - [`IncidentClassifier::order_rejected_by_venue`]: the network refused one of our operations.
//!   Only [`RejectCode::VenueCrossSelf`] and [`RejectCode::VenueUnderfunded`] matter (both mean
//!   our view of our own account was wrong: a resting offer we did not know of, or funds we
//!   thought we had); every other code is ignored entirely (`None`, no state change).
//!
//! # Classification
//!
//! A kind always has the same priority ([`IncidentKind::priority`]) and a priority always asks
//! for the same [`Response`]. "Within the window" means: counting this observation, at least
//! `*_max` observations of the same counter have effective times `t` with
//! `now - t < *_window_ns` (so two observations exactly one window apart are *not* in the same
//! window). Counters are global, not per operator or per key store: an attacker rotating names
//! must not evade them, and a per-name map would grow without bound.
//!
//! | code | kind | priority | raised by | response |
//! | --- | --- | --- | --- | --- |
//! | 100 | `SignerCompromise` | P0 | every `SecurityEvent::SignerCompromise` | lockdown |
//! | 200 | `UnexpectedTransaction` | P0 | every `SecurityEvent::UnexpectedTransaction` | lockdown |
//! | 201 | `UnknownOffer` | P0 | every `SecurityEvent::UnknownOffer` | lockdown |
//! | 202 | `UnexplainedBalanceChange` | P0 | every `SecurityEvent::UnexplainedBalanceChange` (any delta, even 0: fail closed) | lockdown |
//! | 102 | `RepeatedSignerFailures` | P1 | a `SignerFailure` with `signer_failures_max` within `signer_failure_window_ns` | cancel-only |
//! | 103 | `PolicyViolation` | P1 | every `SecurityEvent::PolicyViolation` (the engine asked for a signature the policy refused: a bug or an attack) | cancel-only |
//! | 301 | `RepeatedAuthFailures` | P1 | an `AuthFailure` with `auth_failures_max` within `auth_failure_window_ns` | cancel-only |
//! | 401 | `RateLimitStorm` | P1 | a `RateLimited` with `rate_limits_max` within `rate_limit_window_ns` | cancel-only |
//! | 403 | `SustainedThrottleStorm` | P1 | a throttle storm with `throttle_storms_max` storms (itself included) within `throttle_storm_window_ns` | cancel-only |
//! | 101 | `SignerFailure` | P2 | a `SignerFailure` below its threshold | alert |
//! | 300 | `AuthFailure` | P2 | an `AuthFailure` below its threshold | alert |
//! | 400 | `RateLimited` | P2 | a `RateLimited` below its threshold | alert |
//! | 402 | `ThrottleStorm` | P2 | the throttle reject that makes `throttle_rejects_max` rejects within `throttle_reject_window_ns` since the last storm, unless that storm is sustained (above) | alert |
//! | 205 | `RepeatedVenueMismatches` | P2 | a venue cross-self/underfunded reject with `venue_mismatches_max` such rejects within `venue_mismatch_window_ns` | alert |
//! | 203 | `VenueCrossSelf` | P3 | a venue cross-self reject below that threshold | record |
//! | 204 | `VenueUnderfunded` | P3 | a venue underfunded reject below that threshold | record |
//! | — | none (`None`) | — | a throttle reject that does not complete a storm; a venue reject with any other code | — |
//!
//! Throttle rejects differ from the other counters in one way: when a storm is raised the
//! reject counter is emptied, so a runaway strategy yields one storm per `throttle_rejects_max`
//! rejects rather than one incident per reject. Storms themselves are counted like the other
//! counters (never emptied), and a storm that completes `throttle_storms_max` storms within
//! their window is raised as `SustainedThrottleStorm` (P1) instead of `ThrottleStorm` (P2).
//! The other counters are never emptied: every observation at or above the threshold is
//! escalated, and each one extends the cancel-only cooldown, so a sustained attack keeps the
//! restriction in force; once the window slides past the burst, observations are P2 again.
//!
//! # Responses and posture
//!
//! | priority | [`Response`] | what it asks the engine to do | posture change |
//! | --- | --- | --- | --- |
//! | P0 | `Lockdown` | cancel all our offers, refuse every new order, alert, rotate the signing key | `locked_down` and `key_rotation_required` set |
//! | P1 | `CancelOnly { until_ns }` | refuse new orders (cancels still go) until `until_ns`, alert | `cancel_only_until_ns = at_ns + cancel_only_cooldown_ns` |
//! | P2 | `Alert` | alert | none |
//! | P3 | `Record` | nothing beyond the incident itself | none |
//!
//! The response is what *this* incident asks for; the posture is what *all* of them add up to,
//! and it only ever tightens on its own:
//!
//! - A P0 locks down whatever the current posture (also during cancel-only). Lockdown lasts
//!   until an admin's [`IncidentClassifier::unlock`]; later P1/P2/P3 incidents never lift or
//!   weaken it (a P1 during lockdown still extends cancel-only, which then outlasts an unlock
//!   if its cooldown has not ended).
//! - Cancel-only ends exactly at `cancel_only_until_ns`: [`IncidentClassifier::is_cancel_only`]
//!   is true for `now < cancel_only_until_ns`. It is independent of lockdown (the engine checks
//!   lockdown first; see [`crate::risk::check_order`]).
//! - `key_rotation_required` stays set until [`IncidentClassifier::key_rotated`], not by
//!   `unlock`: unlocking trading does not make a possibly exposed key safe again.
//! - Every P0–P2 incident is *open* until [`IncidentClassifier::acknowledge`]d; P3 incidents
//!   are records and never open. Acknowledging changes no posture (acknowledging the P0 does
//!   not unlock), and `unlock` acknowledges nothing.
//!
//! The open set is bounded by `open_incidents_max`. When it is full, a new open incident
//! evicts the least severe open incident (the oldest among equals) if that one is no more
//! severe than the new one; otherwise the new one is not kept open. Either way
//! [`IncidentClassifier::open_incidents_dropped`] counts it. Nothing is lost for the audit:
//! every incident is also in the output journal; a flood of P2 alerts can never push a P0
//! out of the open set.
//!
//! # Time
//!
//! The classifier's clock ([`IncidentClassifier::clock_ns`]) is the latest effective time it
//! has seen (`i64::MIN` before any). Every observation is evaluated at
//! `max(now_ns, clock_ns)`: a timestamp that goes backwards is treated as the clock. So the
//! timestamps in every window are non-decreasing, a window can never be "refilled" or a
//! cooldown shortened by going back in time, and [`Incident::at_ns`] never decreases. Queries
//! ([`IncidentClassifier::is_cancel_only`]) evaluate at `max(now_ns, clock_ns)` too and do
//! not advance the clock. All time sums are done in `i128` and saturate at `i64::MAX`.
//!
//! # Memory
//!
//! Each counter is a ring of at most `*_max` timestamps (a `VecDeque` allocated at full
//! capacity up front), so "are the last `max` observations within the window" is one
//! comparison of the newest with the oldest. With non-decreasing timestamps that is exactly
//! "at least `max` observations within the window". Thresholds are capped at
//! [`THRESHOLD_MAX`] and the open set at [`OPEN_INCIDENTS_MAX_LIMIT`].
//!
//! # State hash
//!
//! [`IncidentClassifier::state_hash_into`] feeds a canonical, platform-independent encoding
//! (a version tag, then fixed-width little-endian integers) to a [`Hasher`]: the config, the
//! clock, the last id, the posture, the counts, every counter's timestamps that are still
//! within their window as of the clock (older ones can never count again), and the open
//! incidents by id. The classifier does not derive `Hash`: derived hashes write
//! native-endian integers and `usize` length prefixes, which differ across machines.

use core::cmp::Reverse;
use core::fmt;
use core::hash::Hasher;
use std::collections::{BTreeMap, VecDeque};

use crate::events::{ArchivedSecurityEvent, SecurityEvent};
use crate::risk::RejectCode;

/// Largest accepted `*_max` threshold (the ring of a counter holds that many timestamps).
pub const THRESHOLD_MAX: u32 = 1024;

/// Longest accepted window or cooldown (one week): longer is almost surely a unit mistake.
pub const DURATION_NS_MAX: u64 = 7 * 24 * 3600 * 1_000_000_000;

/// Largest accepted `open_incidents_max`.
pub const OPEN_INCIDENTS_MAX_LIMIT: u32 = 1 << 16;

/// Domain separation for [`IncidentClassifier::state_hash_into`]; bump the version if the
/// encoding changes.
const STATE_HASH_TAG: &[u8] = b"starlog.incident.v1\0";

const SECOND_NS: u64 = 1_000_000_000;
const MINUTE_NS: u64 = 60 * SECOND_NS;

/// How urgent an incident is. Stable codes; a smaller code is more severe (`P0 < P1` in the
/// derived order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Priority {
    /// Critical: key compromise, unauthorized trading. Lockdown.
    P0 = 0,
    /// High: repeated failures, suspicious activity. Cancel-only for a cooldown.
    P1 = 1,
    /// Medium: single failures, anomalies. Alert.
    P2 = 2,
    /// Low: informational. Record.
    P3 = 3,
}

impl Priority {
    /// How many priorities there are.
    pub const COUNT: usize = 4;

    /// Every priority, most severe first.
    pub const ALL: [Priority; Priority::COUNT] = [Priority::P0, Priority::P1, Priority::P2, Priority::P3];

    /// The stable code (the discriminant).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The priority with stable code `code`, if any.
    pub const fn from_code(code: u8) -> Option<Priority> {
        match code {
            0 => Some(Priority::P0),
            1 => Some(Priority::P1),
            2 => Some(Priority::P2),
            3 => Some(Priority::P3),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::P0 => "P0",
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        }
    }

    /// `0..COUNT`, for per-priority counts.
    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of incident. The discriminants are stable codes grouped by source (100 keys and
/// signing, 200 our account and orders, 300 operator authentication, 400 rate limits): never
/// renumber, only append within a group. See the module docs for the classification table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum IncidentKind {
    // 100–199: keys and signing.
    /// A key store reports its key may be exposed. P0.
    SignerCompromise = 100,
    /// A signer failed to sign, below the threshold. P2.
    SignerFailure = 101,
    /// Signer failures at or above the threshold within the window. P1.
    RepeatedSignerFailures = 102,
    /// The signing policy refused to sign an intent of ours. P1.
    PolicyViolation = 103,
    // 200–299: our account and orders.
    /// A transaction from our account that we did not build. P0.
    UnexpectedTransaction = 200,
    /// An offer on our account that we did not place. P0.
    UnknownOffer = 201,
    /// A balance change none of our transactions explains. P0.
    UnexplainedBalanceChange = 202,
    /// The venue refused an operation of ours as crossing our own offer, below the threshold. P3.
    VenueCrossSelf = 203,
    /// The venue refused an operation of ours as underfunded, below the threshold. P3.
    VenueUnderfunded = 204,
    /// Cross-self/underfunded venue rejects at or above the threshold within the window. P2.
    RepeatedVenueMismatches = 205,
    // 300–399: operator authentication.
    /// An operator authentication failed, below the threshold. P2.
    AuthFailure = 300,
    /// Authentication failures at or above the threshold within the window. P1.
    RepeatedAuthFailures = 301,
    // 400–499: rate limits.
    /// Horizon rate-limited us, below the threshold. P2.
    RateLimited = 400,
    /// Horizon rate limits at or above the threshold within the window. P1.
    RateLimitStorm = 401,
    /// Our own throttler refused `throttle_rejects_max` orders within the window. P2.
    ThrottleStorm = 402,
    /// Throttle storms at or above the threshold within the window. P1.
    SustainedThrottleStorm = 403,
}

impl IncidentKind {
    /// How many kinds there are.
    pub const COUNT: usize = 16;

    /// Every kind, in code order.
    pub const ALL: [IncidentKind; IncidentKind::COUNT] = [
        IncidentKind::SignerCompromise,
        IncidentKind::SignerFailure,
        IncidentKind::RepeatedSignerFailures,
        IncidentKind::PolicyViolation,
        IncidentKind::UnexpectedTransaction,
        IncidentKind::UnknownOffer,
        IncidentKind::UnexplainedBalanceChange,
        IncidentKind::VenueCrossSelf,
        IncidentKind::VenueUnderfunded,
        IncidentKind::RepeatedVenueMismatches,
        IncidentKind::AuthFailure,
        IncidentKind::RepeatedAuthFailures,
        IncidentKind::RateLimited,
        IncidentKind::RateLimitStorm,
        IncidentKind::ThrottleStorm,
        IncidentKind::SustainedThrottleStorm,
    ];

    /// The stable code (the discriminant).
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The kind with stable code `code`, if any.
    pub const fn from_code(code: u16) -> Option<IncidentKind> {
        match code {
            100 => Some(IncidentKind::SignerCompromise),
            101 => Some(IncidentKind::SignerFailure),
            102 => Some(IncidentKind::RepeatedSignerFailures),
            103 => Some(IncidentKind::PolicyViolation),
            200 => Some(IncidentKind::UnexpectedTransaction),
            201 => Some(IncidentKind::UnknownOffer),
            202 => Some(IncidentKind::UnexplainedBalanceChange),
            203 => Some(IncidentKind::VenueCrossSelf),
            204 => Some(IncidentKind::VenueUnderfunded),
            205 => Some(IncidentKind::RepeatedVenueMismatches),
            300 => Some(IncidentKind::AuthFailure),
            301 => Some(IncidentKind::RepeatedAuthFailures),
            400 => Some(IncidentKind::RateLimited),
            401 => Some(IncidentKind::RateLimitStorm),
            402 => Some(IncidentKind::ThrottleStorm),
            403 => Some(IncidentKind::SustainedThrottleStorm),
            _ => None,
        }
    }

    /// The kind's priority (the module's classification table).
    pub const fn priority(self) -> Priority {
        match self {
            IncidentKind::SignerCompromise
            | IncidentKind::UnexpectedTransaction
            | IncidentKind::UnknownOffer
            | IncidentKind::UnexplainedBalanceChange => Priority::P0,
            IncidentKind::RepeatedSignerFailures
            | IncidentKind::PolicyViolation
            | IncidentKind::RepeatedAuthFailures
            | IncidentKind::RateLimitStorm
            | IncidentKind::SustainedThrottleStorm => Priority::P1,
            IncidentKind::SignerFailure
            | IncidentKind::AuthFailure
            | IncidentKind::RateLimited
            | IncidentKind::ThrottleStorm
            | IncidentKind::RepeatedVenueMismatches => Priority::P2,
            IncidentKind::VenueCrossSelf | IncidentKind::VenueUnderfunded => Priority::P3,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            IncidentKind::SignerCompromise => "signer_compromise",
            IncidentKind::SignerFailure => "signer_failure",
            IncidentKind::RepeatedSignerFailures => "repeated_signer_failures",
            IncidentKind::PolicyViolation => "policy_violation",
            IncidentKind::UnexpectedTransaction => "unexpected_transaction",
            IncidentKind::UnknownOffer => "unknown_offer",
            IncidentKind::UnexplainedBalanceChange => "unexplained_balance_change",
            IncidentKind::VenueCrossSelf => "venue_cross_self",
            IncidentKind::VenueUnderfunded => "venue_underfunded",
            IncidentKind::RepeatedVenueMismatches => "repeated_venue_mismatches",
            IncidentKind::AuthFailure => "auth_failure",
            IncidentKind::RepeatedAuthFailures => "repeated_auth_failures",
            IncidentKind::RateLimited => "rate_limited",
            IncidentKind::RateLimitStorm => "rate_limit_storm",
            IncidentKind::ThrottleStorm => "throttle_storm",
            IncidentKind::SustainedThrottleStorm => "sustained_throttle_storm",
        }
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.code())
    }
}

/// The automatic response an incident asks for (one per priority; see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Response {
    /// P0: cancel all our offers, refuse every new order until an admin unlocks, alert, and
    /// mark the signing key for rotation.
    Lockdown,
    /// P1: refuse new orders (cancels still go) while `now < until_ns`, and alert.
    CancelOnly { until_ns: i64 },
    /// P2: alert.
    Alert,
    /// P3: nothing beyond recording the incident.
    Record,
}

impl Response {
    /// A stable code: the code of the priority that asks for this response.
    pub const fn code(self) -> u8 {
        match self {
            Response::Lockdown => 0,
            Response::CancelOnly { .. } => 1,
            Response::Alert => 2,
            Response::Record => 3,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Response::Lockdown => "lockdown",
            Response::CancelOnly { .. } => "cancel_only",
            Response::Alert => "alert",
            Response::Record => "record",
        }
    }

    /// Whether the engine must cancel every offer of ours now.
    pub const fn cancels_all(self) -> bool {
        matches!(self, Response::Lockdown)
    }

    /// Whether the engine must alert people (every response but [`Response::Record`]).
    pub const fn alerts(self) -> bool {
        !matches!(self, Response::Record)
    }

    /// The end of a cancel-only restriction (exclusive), if this response is one.
    pub const fn until_ns(self) -> Option<i64> {
        match self {
            Response::CancelOnly { until_ns } => Some(until_ns),
            _ => None,
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Response::CancelOnly { until_ns } => write!(f, "cancel_only until {until_ns} ns"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// One incident: what was classified, how urgent it is, what it asks for, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Incident {
    /// Sequential from 1 in the order incidents are raised; deterministic.
    pub id: u64,
    pub kind: IncidentKind,
    /// Always `kind.priority()`.
    pub priority: Priority,
    pub response: Response,
    /// The effective time: `max(now_ns, clock_ns)` (see the module docs on time).
    pub at_ns: i64,
}

impl fmt::Display for Incident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "incident #{} {} {} at {} ns: {}", self.id, self.priority, self.kind, self.at_ns, self.response)
    }
}

/// Thresholds, windows and the cooldown; units are the last word of each name.
/// [`IncidentConfig::DEFAULT`] documents the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IncidentConfig {
    /// Authentication failures within the window that make a P1.
    pub auth_failures_max: u32,
    pub auth_failure_window_ns: u64,
    /// Signer failures within the window that make a P1.
    pub signer_failures_max: u32,
    pub signer_failure_window_ns: u64,
    /// Horizon rate limits within the window that make a P1.
    pub rate_limits_max: u32,
    pub rate_limit_window_ns: u64,
    /// Throttle rejects within the window (since the last storm) that make a storm (P2).
    pub throttle_rejects_max: u32,
    pub throttle_reject_window_ns: u64,
    /// Storms within the window that make a sustained storm (P1).
    pub throttle_storms_max: u32,
    pub throttle_storm_window_ns: u64,
    /// Venue cross-self/underfunded rejects within the window that make a P2.
    pub venue_mismatches_max: u32,
    pub venue_mismatch_window_ns: u64,
    /// How long a P1 restricts trading to cancels.
    pub cancel_only_cooldown_ns: u64,
    /// How many open (unacknowledged) incidents are kept.
    pub open_incidents_max: u32,
}

impl IncidentConfig {
    /// The defaults:
    ///
    /// | counter | max | window |
    /// | --- | --- | --- |
    /// | authentication failures | 5 | 15 min |
    /// | signer failures | 3 | 1 min |
    /// | Horizon rate limits | 3 | 1 min |
    /// | throttle rejects (→ storm) | 100 | 5 s (one ledger) |
    /// | throttle storms (→ sustained) | 3 | 1 min |
    /// | venue cross-self/underfunded | 3 | 1 min |
    ///
    /// cancel-only cooldown 5 min; at most 1024 open incidents.
    ///
    /// - Authentication, 5 in 15 min: one or two typos are P2 alerts; five within a quarter of
    ///   an hour is guessing (stricter than PCI DSS 8.3.4's lockout after at most 10).
    /// - Signer, 3 in 1 min: one failed signature is a blip (a Vault timeout, a retried HSM
    ///   session); three within a minute means the signer is down or someone is trying PINs.
    /// - Rate limits, 3 in 1 min: Horizon's limit is per hour (3600 requests by default), so
    ///   being refused three times a minute means we keep hammering it.
    /// - Throttle, 100 rejects in one ledger: a well-behaved strategy sees a few rejects a
    ///   ledger (the default per-account budget is 120 ops a ledger); 100 means it is looping.
    ///   Three such storms within a minute means it does not stop by itself: cancel-only.
    /// - Venue, 3 in 1 min: a single cross-self or underfunded refusal can be a race with an
    ///   in-flight cancel or fill; three within a minute (12 ledgers) means our view of our
    ///   own offers or balances is wrong.
    /// - Cooldown, 5 min (60 ledgers): long enough for a person to look, short enough that a
    ///   false positive costs little; each further P1 extends it.
    pub const DEFAULT: IncidentConfig = IncidentConfig {
        auth_failures_max: 5,
        auth_failure_window_ns: 15 * MINUTE_NS,
        signer_failures_max: 3,
        signer_failure_window_ns: MINUTE_NS,
        rate_limits_max: 3,
        rate_limit_window_ns: MINUTE_NS,
        throttle_rejects_max: 100,
        throttle_reject_window_ns: 5 * SECOND_NS,
        throttle_storms_max: 3,
        throttle_storm_window_ns: MINUTE_NS,
        venue_mismatches_max: 3,
        venue_mismatch_window_ns: MINUTE_NS,
        cancel_only_cooldown_ns: 5 * MINUTE_NS,
        open_incidents_max: 1024,
    };

    /// The counters' `(max, window_ns)` with the names of both fields, in a fixed order.
    const fn counters(&self) -> [(u32, &'static str, u64, &'static str); 6] {
        [
            (self.auth_failures_max, "auth_failures_max", self.auth_failure_window_ns, "auth_failure_window_ns"),
            (
                self.signer_failures_max,
                "signer_failures_max",
                self.signer_failure_window_ns,
                "signer_failure_window_ns",
            ),
            (self.rate_limits_max, "rate_limits_max", self.rate_limit_window_ns, "rate_limit_window_ns"),
            (
                self.throttle_rejects_max,
                "throttle_rejects_max",
                self.throttle_reject_window_ns,
                "throttle_reject_window_ns",
            ),
            (
                self.throttle_storms_max,
                "throttle_storms_max",
                self.throttle_storm_window_ns,
                "throttle_storm_window_ns",
            ),
            (
                self.venue_mismatches_max,
                "venue_mismatches_max",
                self.venue_mismatch_window_ns,
                "venue_mismatch_window_ns",
            ),
        ]
    }

    /// Checks, in field order, that every `*_max` is in `1..=THRESHOLD_MAX`, every window and
    /// the cooldown in `1..=DURATION_NS_MAX`, and `open_incidents_max` in
    /// `1..=OPEN_INCIDENTS_MAX_LIMIT`; reports the first problem.
    pub fn validate(&self) -> Result<(), IncidentConfigError> {
        fn check(field: &'static str, value: u64, max: u64) -> Result<(), IncidentConfigError> {
            if value == 0 {
                Err(IncidentConfigError::Zero { field })
            } else if value > max {
                Err(IncidentConfigError::TooLarge { field, value, max })
            } else {
                Ok(())
            }
        }
        for (max, max_field, window_ns, window_field) in self.counters() {
            check(max_field, u64::from(max), u64::from(THRESHOLD_MAX))?;
            check(window_field, window_ns, DURATION_NS_MAX)?;
        }
        check("cancel_only_cooldown_ns", self.cancel_only_cooldown_ns, DURATION_NS_MAX)?;
        check("open_incidents_max", u64::from(self.open_incidents_max), u64::from(OPEN_INCIDENTS_MAX_LIMIT))
    }
}

impl Default for IncidentConfig {
    fn default() -> IncidentConfig {
        IncidentConfig::DEFAULT
    }
}

/// An invalid [`IncidentConfig`] (misuse: the configuration is to blame); `field` is the
/// field's name as written in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncidentConfigError {
    /// The field is 0: a threshold of 0 or an empty window or cooldown means nothing.
    Zero { field: &'static str },
    /// The field is above its maximum.
    TooLarge { field: &'static str, value: u64, max: u64 },
}

impl fmt::Display for IncidentConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IncidentConfigError::Zero { field } => write!(f, "incident config: {field} = 0; it must be at least 1"),
            IncidentConfigError::TooLarge { field, value, max } => {
                write!(f, "incident config: {field} = {value}, more than the maximum {max}")
            }
        }
    }
}

impl std::error::Error for IncidentConfigError {}

/// A sliding window in event time: the effective times of the last `max` observations,
/// oldest first (non-decreasing, because effective time never goes back).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Window {
    max: u32,
    window_ns: u64,
    times: VecDeque<i64>,
}

impl Window {
    fn new(max: u32, window_ns: u64) -> Window {
        // max <= THRESHOLD_MAX (validated): a small, bounded allocation.
        let capacity = usize::try_from(max).unwrap_or(0);
        Window { max, window_ns, times: VecDeque::with_capacity(capacity) }
    }

    /// Whether an observation at `at_ns` is in the same window as the current time `now_ns`.
    fn within(&self, at_ns: i64, now_ns: i64) -> bool {
        i128::from(now_ns) - i128::from(at_ns) < i128::from(self.window_ns)
    }

    /// Records an observation at `now_ns` (not before any recorded one) and says whether
    /// there are now at least `max` observations within the window.
    fn push(&mut self, now_ns: i64) -> bool {
        debug_assert!(self.times.back().is_none_or(|&last| last <= now_ns), "window timestamps went backwards");
        let max = usize::try_from(self.max).unwrap_or(usize::MAX);
        while self.times.len() >= max {
            self.times.pop_front();
        }
        self.times.push_back(now_ns);
        debug_assert!(self.times.len() <= max);
        // The ring holds the last `max` times, oldest first: all of them are within the
        // window iff the oldest is.
        self.times.len() >= max && self.times.front().is_some_and(|&oldest| self.within(oldest, now_ns))
    }

    fn clear(&mut self) {
        self.times.clear();
    }

    /// Feeds the times still within the window as of `clock_ns` (a count, then each).
    fn hash_into(&self, h: &mut impl Hasher, clock_ns: i64) {
        h.write(&self.max.to_le_bytes());
        h.write(&self.window_ns.to_le_bytes());
        let live = self.times.iter().filter(|&&t| self.within(t, clock_ns));
        h.write(&u64::try_from(live.clone().count()).unwrap_or(u64::MAX).to_le_bytes());
        for t in live {
            h.write(&t.to_le_bytes());
        }
    }
}

/// A security event, reduced to what classification needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Observation {
    SignerFailure,
    SignerCompromise,
    AuthFailure,
    PolicyViolation,
    UnexpectedTransaction,
    UnknownOffer,
    UnexplainedBalanceChange,
    RateLimited,
}

impl Observation {
    fn of_archived(event: &ArchivedSecurityEvent) -> Observation {
        match event {
            ArchivedSecurityEvent::SignerFailure { .. } => Observation::SignerFailure,
            ArchivedSecurityEvent::SignerCompromise { .. } => Observation::SignerCompromise,
            ArchivedSecurityEvent::AuthFailure { .. } => Observation::AuthFailure,
            ArchivedSecurityEvent::PolicyViolation { .. } => Observation::PolicyViolation,
            ArchivedSecurityEvent::UnexpectedTransaction { .. } => Observation::UnexpectedTransaction,
            ArchivedSecurityEvent::UnknownOffer { .. } => Observation::UnknownOffer,
            ArchivedSecurityEvent::UnexplainedBalanceChange { .. } => Observation::UnexplainedBalanceChange,
            ArchivedSecurityEvent::RateLimited { .. } => Observation::RateLimited,
        }
    }

    fn of(event: &SecurityEvent) -> Observation {
        match event {
            SecurityEvent::SignerFailure { .. } => Observation::SignerFailure,
            SecurityEvent::SignerCompromise { .. } => Observation::SignerCompromise,
            SecurityEvent::AuthFailure { .. } => Observation::AuthFailure,
            SecurityEvent::PolicyViolation { .. } => Observation::PolicyViolation,
            SecurityEvent::UnexpectedTransaction { .. } => Observation::UnexpectedTransaction,
            SecurityEvent::UnknownOffer { .. } => Observation::UnknownOffer,
            SecurityEvent::UnexplainedBalanceChange { .. } => Observation::UnexplainedBalanceChange,
            SecurityEvent::RateLimited { .. } => Observation::RateLimited,
        }
    }
}

/// The incident classifier and the posture it maintains. No allocation after
/// [`IncidentClassifier::new`] except for the open-incident map (bounded by
/// `open_incidents_max`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentClassifier {
    config: IncidentConfig,
    /// Latest effective time seen; `i64::MIN` before any.
    clock_ns: i64,
    /// Id of the last incident raised; 0 before any.
    last_id: u64,
    locked_down: bool,
    key_rotation_required: bool,
    /// Cancel-only while the effective time is below this; `i64::MIN` = never restricted.
    cancel_only_until_ns: i64,
    auth_failures: Window,
    signer_failures: Window,
    rate_limits: Window,
    throttle_rejects: Window,
    throttle_storms: Window,
    venue_mismatches: Window,
    /// Open (unacknowledged) P0–P2 incidents by id.
    open: BTreeMap<u64, Incident>,
    open_dropped: u64,
    /// Incidents raised, by priority index.
    counts: [u64; Priority::COUNT],
}

impl IncidentClassifier {
    /// A classifier with `config` (validated): unlocked, unrestricted, nothing counted.
    pub fn new(config: IncidentConfig) -> Result<IncidentClassifier, IncidentConfigError> {
        config.validate()?;
        Ok(IncidentClassifier {
            config,
            clock_ns: i64::MIN,
            last_id: 0,
            locked_down: false,
            key_rotation_required: false,
            cancel_only_until_ns: i64::MIN,
            auth_failures: Window::new(config.auth_failures_max, config.auth_failure_window_ns),
            signer_failures: Window::new(config.signer_failures_max, config.signer_failure_window_ns),
            rate_limits: Window::new(config.rate_limits_max, config.rate_limit_window_ns),
            throttle_rejects: Window::new(config.throttle_rejects_max, config.throttle_reject_window_ns),
            throttle_storms: Window::new(config.throttle_storms_max, config.throttle_storm_window_ns),
            venue_mismatches: Window::new(config.venue_mismatches_max, config.venue_mismatch_window_ns),
            open: BTreeMap::new(),
            open_dropped: 0,
            counts: [0; Priority::COUNT],
        })
    }

    pub const fn config(&self) -> &IncidentConfig {
        &self.config
    }

    /// Latest effective time seen; `i64::MIN` before any observation.
    pub const fn clock_ns(&self) -> i64 {
        self.clock_ns
    }

    /// Classifies a journaled security event at `now_ns` (see the module's table), applies
    /// its response to the posture, and returns the incident.
    #[must_use = "the engine must carry out the incident's response"]
    pub fn observe(&mut self, event: &ArchivedSecurityEvent, now_ns: i64) -> Incident {
        self.observe_security(Observation::of_archived(event), now_ns)
    }

    /// [`IncidentClassifier::observe`] for an event that is not (yet) archived, e.g. in
    /// tools and tests; same classification.
    #[must_use = "the engine must carry out the incident's response"]
    pub fn observe_event(&mut self, event: &SecurityEvent, now_ns: i64) -> Incident {
        self.observe_security(Observation::of(event), now_ns)
    }

    fn observe_security(&mut self, observation: Observation, now_ns: i64) -> Incident {
        let at_ns = self.advance(now_ns);
        let kind = match observation {
            Observation::SignerCompromise => IncidentKind::SignerCompromise,
            Observation::UnexpectedTransaction => IncidentKind::UnexpectedTransaction,
            Observation::UnknownOffer => IncidentKind::UnknownOffer,
            Observation::UnexplainedBalanceChange => IncidentKind::UnexplainedBalanceChange,
            Observation::PolicyViolation => IncidentKind::PolicyViolation,
            Observation::SignerFailure => {
                if self.signer_failures.push(at_ns) {
                    IncidentKind::RepeatedSignerFailures
                } else {
                    IncidentKind::SignerFailure
                }
            }
            Observation::AuthFailure => {
                if self.auth_failures.push(at_ns) {
                    IncidentKind::RepeatedAuthFailures
                } else {
                    IncidentKind::AuthFailure
                }
            }
            Observation::RateLimited => {
                if self.rate_limits.push(at_ns) {
                    IncidentKind::RateLimitStorm
                } else {
                    IncidentKind::RateLimited
                }
            }
        };
        self.raise(kind, at_ns)
    }

    /// Counts one reject of our own throttler at `now_ns`; returns the storm it completes, if
    /// any (`ThrottleStorm`, P2, or `SustainedThrottleStorm`, P1). A storm empties the reject
    /// counter.
    #[must_use = "the engine must carry out the incident's response"]
    pub fn throttle_rejected(&mut self, now_ns: i64) -> Option<Incident> {
        let at_ns = self.advance(now_ns);
        if !self.throttle_rejects.push(at_ns) {
            return None;
        }
        self.throttle_rejects.clear();
        let kind = if self.throttle_storms.push(at_ns) {
            IncidentKind::SustainedThrottleStorm
        } else {
            IncidentKind::ThrottleStorm
        };
        Some(self.raise(kind, at_ns))
    }

    /// Counts a venue refusal of one of our operations at `now_ns`. For
    /// [`RejectCode::VenueCrossSelf`] and [`RejectCode::VenueUnderfunded`] (one shared
    /// counter) it returns a P3 record of that reject, or a P2 `RepeatedVenueMismatches` at the
    /// threshold; every other code is ignored: `None`, and nothing changes (not even the clock).
    #[must_use = "the engine must carry out the incident's response"]
    pub fn order_rejected_by_venue(&mut self, code: RejectCode, now_ns: i64) -> Option<Incident> {
        let single = match code {
            RejectCode::VenueCrossSelf => IncidentKind::VenueCrossSelf,
            RejectCode::VenueUnderfunded => IncidentKind::VenueUnderfunded,
            _ => return None,
        };
        let at_ns = self.advance(now_ns);
        let kind = if self.venue_mismatches.push(at_ns) { IncidentKind::RepeatedVenueMismatches } else { single };
        Some(self.raise(kind, at_ns))
    }

    /// Moves the clock to `max(now_ns, clock_ns)` and returns it.
    fn advance(&mut self, now_ns: i64) -> i64 {
        self.clock_ns = self.clock_ns.max(now_ns);
        self.clock_ns
    }

    /// Numbers the incident, applies its response to the posture, and files it.
    fn raise(&mut self, kind: IncidentKind, at_ns: i64) -> Incident {
        debug_assert_eq!(at_ns, self.clock_ns);
        let priority = kind.priority();
        let response = match priority {
            Priority::P0 => {
                self.locked_down = true;
                self.key_rotation_required = true;
                Response::Lockdown
            }
            Priority::P1 => {
                // at_ns + cooldown fits in i128; saturate to "until the end of time".
                let until_ns = i64::try_from(i128::from(at_ns) + i128::from(self.config.cancel_only_cooldown_ns))
                    .unwrap_or(i64::MAX);
                self.cancel_only_until_ns = self.cancel_only_until_ns.max(until_ns);
                Response::CancelOnly { until_ns: self.cancel_only_until_ns }
            }
            Priority::P2 => Response::Alert,
            Priority::P3 => Response::Record,
        };
        // 2^64 incidents cannot happen; saturate rather than wrap to a reused id.
        self.last_id = self.last_id.saturating_add(1);
        let incident = Incident { id: self.last_id, kind, priority, response, at_ns };
        if let Some(count) = self.counts.get_mut(priority.index()) {
            *count = count.saturating_add(1);
        }
        if priority != Priority::P3 {
            self.open_incident(incident);
        }
        debug_assert!(priority != Priority::P0 || self.locked_down);
        incident
    }

    /// Adds `incident` to the open set, evicting the least severe (oldest among equals) open
    /// incident if the set is full and that one is no more severe than `incident`.
    fn open_incident(&mut self, incident: Incident) {
        let max = usize::try_from(self.config.open_incidents_max).unwrap_or(usize::MAX);
        if self.open.len() >= max {
            self.open_dropped = self.open_dropped.saturating_add(1);
            let victim = self.open.values().max_by_key(|open| (open.priority, Reverse(open.id))).copied();
            match victim {
                Some(victim) if victim.priority >= incident.priority => {
                    self.open.remove(&victim.id);
                }
                _ => return,
            }
        }
        self.open.insert(incident.id, incident);
        debug_assert!(self.open.len() <= max);
    }

    /// Whether a P0 locked the engine down (until [`IncidentClassifier::unlock`]).
    pub const fn is_locked_down(&self) -> bool {
        self.locked_down
    }

    /// Whether new orders are restricted to cancels at `max(now_ns, clock_ns)`: true while
    /// that is strictly below [`IncidentClassifier::cancel_only_until_ns`]. Independent of
    /// lockdown.
    pub fn is_cancel_only(&self, now_ns: i64) -> bool {
        now_ns.max(self.clock_ns) < self.cancel_only_until_ns
    }

    /// The end of the cancel-only restriction (exclusive); `i64::MIN` if there never was one.
    pub const fn cancel_only_until_ns(&self) -> i64 {
        self.cancel_only_until_ns
    }

    /// Whether a P0 asked for the signing key to be rotated and that is not done yet.
    pub const fn key_rotation_required(&self) -> bool {
        self.key_rotation_required
    }

    /// Lifts a lockdown (an admin's command). Acknowledges nothing, leaves cancel-only and
    /// key rotation as they are. Returns whether the classifier was locked down.
    pub fn unlock(&mut self) -> bool {
        core::mem::replace(&mut self.locked_down, false)
    }

    /// Records that the signing key was rotated. Returns whether a rotation was required.
    pub fn key_rotated(&mut self) -> bool {
        core::mem::replace(&mut self.key_rotation_required, false)
    }

    /// Acknowledges the open incident `id`: it leaves the open set; the posture is unchanged.
    /// `false` if `id` is not open (unknown, P3, already acknowledged, or dropped from a full
    /// open set).
    pub fn acknowledge(&mut self, id: u64) -> bool {
        self.open.remove(&id).is_some()
    }

    /// The open incidents, by id.
    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> + '_ {
        self.open.values()
    }

    /// The open incident `id`, if it is open.
    pub fn open_incident_by_id(&self, id: u64) -> Option<&Incident> {
        self.open.get(&id)
    }

    /// How many incidents were not kept open, or evicted, because the open set was full.
    pub const fn open_incidents_dropped(&self) -> u64 {
        self.open_dropped
    }

    /// How many incidents were raised so far (the id of the last one).
    pub const fn incidents_count(&self) -> u64 {
        self.last_id
    }

    /// How many incidents of `priority` were raised so far.
    pub fn incidents_count_by_priority(&self, priority: Priority) -> u64 {
        self.counts.get(priority.index()).copied().unwrap_or(0)
    }

    fn windows(&self) -> [&Window; 6] {
        [
            &self.auth_failures,
            &self.signer_failures,
            &self.rate_limits,
            &self.throttle_rejects,
            &self.throttle_storms,
            &self.venue_mismatches,
        ]
    }

    /// Snapshot encoding (see [`crate::snapshot`]): clock, last id, posture, every counter's
    /// timestamps as kept (oldest first), the open incidents by id, the dropped count and the
    /// counts by priority. The config is the engine's.
    pub(crate) fn encode_snapshot(&self, out: &mut Vec<u8>) {
        use crate::snapshot::{put_bool, put_i64, put_len, put_u8, put_u16, put_u64};
        put_i64(out, self.clock_ns);
        put_u64(out, self.last_id);
        put_bool(out, self.locked_down);
        put_bool(out, self.key_rotation_required);
        put_i64(out, self.cancel_only_until_ns);
        for window in self.windows() {
            put_len(out, window.times.len());
            for &t in &window.times {
                put_i64(out, t);
            }
        }
        put_len(out, self.open.len());
        for incident in self.open.values() {
            put_u64(out, incident.id);
            put_u16(out, incident.kind.code());
            put_u8(out, incident.response.code());
            put_i64(out, incident.response.until_ns().unwrap_or(0));
            put_i64(out, incident.at_ns);
        }
        put_u64(out, self.open_dropped);
        for count in self.counts {
            put_u64(out, count);
        }
    }

    /// The classifier [`IncidentClassifier::encode_snapshot`] wrote, under `config`: every
    /// counter within its threshold, its times in order and none after the clock; open
    /// incidents in id order, numbered at most the last id, each with its kind's priority and
    /// that priority's response (what classification relies on).
    pub(crate) fn decode_snapshot(
        config: IncidentConfig,
        r: &mut crate::snapshot::Reader<'_>,
    ) -> Result<IncidentClassifier, crate::snapshot::SnapshotError> {
        use crate::snapshot::corrupt;
        let mut c = IncidentClassifier::new(config).map_err(|_| corrupt("incident config"))?;
        c.clock_ns = r.i64()?;
        c.last_id = r.u64()?;
        c.locked_down = r.bool()?;
        c.key_rotation_required = r.bool()?;
        c.cancel_only_until_ns = r.i64()?;
        let clock_ns = c.clock_ns;
        for window in [
            &mut c.auth_failures,
            &mut c.signer_failures,
            &mut c.rate_limits,
            &mut c.throttle_rejects,
            &mut c.throttle_storms,
            &mut c.venue_mismatches,
        ] {
            let n = r.len(8)?;
            if n > usize::try_from(window.max).unwrap_or(usize::MAX) {
                return Err(corrupt("an incident counter holds more than its threshold"));
            }
            for _ in 0..n {
                let t = r.i64()?;
                if t > clock_ns || window.times.back().is_some_and(|&last| last > t) {
                    return Err(corrupt("incident counter times out of order or ahead of the clock"));
                }
                window.times.push_back(t);
            }
        }
        let n = r.len(27)?;
        if n > usize::try_from(config.open_incidents_max).unwrap_or(usize::MAX) {
            return Err(corrupt("more open incidents than the limit"));
        }
        for _ in 0..n {
            let id = r.u64()?;
            let kind = IncidentKind::from_code(r.u16()?).ok_or(corrupt("an incident kind"))?;
            let (response_code, until_ns, at_ns) = (r.u8()?, r.i64()?, r.i64()?);
            let priority = kind.priority();
            let response = match (priority, response_code, until_ns) {
                (Priority::P0, 0, 0) => Response::Lockdown,
                (Priority::P1, 1, until_ns) => Response::CancelOnly { until_ns },
                (Priority::P2, 2, 0) => Response::Alert,
                _ => return Err(corrupt("an open incident's response is not its priority's")),
            };
            if id == 0 || id > c.last_id || at_ns > clock_ns || c.open.last_key_value().is_some_and(|(&k, _)| k >= id) {
                return Err(corrupt("open incidents out of order or numbered past the last"));
            }
            c.open.insert(id, Incident { id, kind, priority, response, at_ns });
        }
        c.open_dropped = r.u64()?;
        for count in &mut c.counts {
            *count = r.u64()?;
        }
        Ok(c)
    }

    /// Feeds the state to `h` in a canonical, platform-independent encoding (see the module
    /// docs), all little-endian, fixed widths.
    pub fn state_hash_into(&self, h: &mut impl Hasher) {
        h.write(STATE_HASH_TAG);
        for (max, _, window_ns, _) in self.config.counters() {
            h.write(&max.to_le_bytes());
            h.write(&window_ns.to_le_bytes());
        }
        h.write(&self.config.cancel_only_cooldown_ns.to_le_bytes());
        h.write(&self.config.open_incidents_max.to_le_bytes());
        h.write(&self.clock_ns.to_le_bytes());
        h.write(&self.last_id.to_le_bytes());
        h.write(&[u8::from(self.locked_down), u8::from(self.key_rotation_required)]);
        h.write(&self.cancel_only_until_ns.to_le_bytes());
        for count in self.counts {
            h.write(&count.to_le_bytes());
        }
        for window in self.windows() {
            window.hash_into(h, self.clock_ns);
        }
        h.write(&self.open_dropped.to_le_bytes());
        h.write(&u64::try_from(self.open.len()).unwrap_or(u64::MAX).to_le_bytes());
        for incident in self.open.values() {
            h.write(&incident.id.to_le_bytes());
            h.write(&incident.kind.code().to_le_bytes());
            h.write(&[incident.priority.code(), incident.response.code()]);
            h.write(&incident.response.until_ns().unwrap_or(0).to_le_bytes());
            h.write(&incident.at_ns.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(IncidentConfig::default().validate(), Ok(()));
    }

    #[test]
    fn codes_round_trip_and_priorities_match_the_table() {
        for kind in IncidentKind::ALL {
            assert_eq!(IncidentKind::from_code(kind.code()), Some(kind));
        }
        for priority in Priority::ALL {
            assert_eq!(Priority::from_code(priority.code()), Some(priority));
        }
        let p0: Vec<_> = IncidentKind::ALL.into_iter().filter(|k| k.priority() == Priority::P0).collect();
        assert_eq!(p0.len(), 4);
    }

    #[test]
    fn window_is_exact_at_its_edge() {
        let mut w = Window::new(2, 10);
        assert!(!w.push(0));
        assert!(!w.push(10), "exactly one window apart: not in the same window");
        assert!(w.push(19));
        assert!(!w.push(29));
    }
}
