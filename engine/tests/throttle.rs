//! Tests of the hierarchical throttler: unit tests of each limit, config validation, and
//! property tests against a naive reference model that keeps the full history of accepted
//! acquisitions and decides with the sliding-window form of a token bucket.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};

use proptest::prelude::*;
use starlog_engine::throttle::{
    ACCOUNTS_MAX, AccountSlot, INTERVAL_NS_MAX, LEDGER_INTERVAL_NS, LimitConfig, OpLimits, ThrottleConfig,
    ThrottleConfigError, ThrottleLimit, ThrottleOp, ThrottleReject, Throttler,
};

const CHAIN: [ThrottleLimit; 4] =
    [ThrottleLimit::OpAccount, ThrottleLimit::Account, ThrottleLimit::OpGlobal, ThrottleLimit::Global];

/// Every limit so large that it never binds in these tests (1000 tokens a nanosecond).
const HUGE: LimitConfig = LimitConfig::new(1_000_000, 1_000);

fn wide_open() -> ThrottleConfig {
    let op = OpLimits { weight_tokens: 1, per_account: HUGE, global: HUGE };
    ThrottleConfig {
        place: op,
        cancel: op,
        replace: op,
        cancel_all: op,
        submit: op,
        sign: op,
        account: HUGE,
        global: HUGE,
    }
}

fn state_hash(t: &Throttler) -> u64 {
    let mut h = DefaultHasher::new();
    t.state_hash_into(&mut h);
    h.finish()
}

// ---------------------------------------------------------------------------------------
// The naive reference model.
// ---------------------------------------------------------------------------------------

/// Which bucket: (limit, op for per-op limits, slot for per-account limits).
type BucketKey = (ThrottleLimit, Option<ThrottleOp>, Option<u16>);

/// Keeps every accepted acquisition of every bucket and decides from scratch each time.
///
/// A bucket that starts full at `capacity` tokens and refills `capacity` per `interval` can
/// take `w` more tokens at time `t` iff `w <= capacity` and, for every earlier accepted
/// acquisition `j`, the weight accepted in `[t_j, t]` plus `w` is at most
/// `capacity + capacity * (t - t_j) / interval` (multiplied through by `interval` to stay in
/// integers). The earliest retry time is found by binary search over that predicate.
#[derive(Debug)]
struct Reference {
    config: ThrottleConfig,
    accounts_count: usize,
    clock_ns: Option<i64>,
    history: BTreeMap<BucketKey, Vec<(i64, u32)>>,
}

impl Reference {
    fn new(config: ThrottleConfig, accounts_count: usize) -> Reference {
        Reference { config, accounts_count, clock_ns: None, history: BTreeMap::new() }
    }

    fn key(limit: ThrottleLimit, op: ThrottleOp, slot: u16) -> BucketKey {
        match limit {
            ThrottleLimit::OpAccount => (limit, Some(op), Some(slot)),
            ThrottleLimit::Account => (limit, None, Some(slot)),
            ThrottleLimit::OpGlobal => (limit, Some(op), None),
            _ => (limit, None, None),
        }
    }

    /// Could `history` (times non-decreasing) take `weight` more at time `t`?
    fn fits(history: &[(i64, u32)], limit: LimitConfig, weight: u32, t: i128) -> bool {
        let capacity = i128::from(limit.capacity_tokens);
        let interval = i128::from(limit.interval_ns);
        if weight > limit.capacity_tokens {
            return false;
        }
        history.iter().enumerate().all(|(j, &(t_j, _))| {
            let window_weight: i128 =
                history[j..].iter().map(|&(_, w)| i128::from(w)).sum::<i128>() + i128::from(weight);
            interval * window_weight <= capacity * interval + capacity * (t - i128::from(t_j))
        })
    }

    /// Earliest `t >= now` at which the bucket fits `weight` (a bucket is full one interval
    /// after any time, so the answer is at most `now + interval`).
    fn earliest(history: &[(i64, u32)], limit: LimitConfig, weight: u32, now: i64) -> i128 {
        let (mut lo, mut hi) = (i128::from(now), i128::from(now) + i128::from(limit.interval_ns));
        assert!(Self::fits(history, limit, weight, hi));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if Self::fits(history, limit, weight, mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    fn try_acquire(&mut self, op: ThrottleOp, account: AccountSlot, now_ns: i64) -> Result<(), ThrottleReject> {
        if usize::from(account.0) >= self.accounts_count {
            return Err(ThrottleReject { op, account, limit: ThrottleLimit::SlotUnknown, retry_at_ns: i64::MAX });
        }
        let now = self.clock_ns.map_or(now_ns, |clock| clock.max(now_ns));
        let weight = self.config.op(op).weight_tokens;
        let mut binding: Option<(ThrottleLimit, i128)> = None;
        for limit in CHAIN {
            let config = self.config.limit(op, limit).unwrap();
            let history = self.history.get(&Self::key(limit, op, account.0)).map_or(&[][..], Vec::as_slice);
            let at = Self::earliest(history, config, weight, now);
            if at > i128::from(now) && binding.is_none_or(|(_, best)| at > best) {
                binding = Some((limit, at));
            }
        }
        if let Some((limit, at)) = binding {
            let retry_at_ns = i64::try_from(at).unwrap_or(i64::MAX);
            return Err(ThrottleReject { op, account, limit, retry_at_ns });
        }
        for limit in CHAIN {
            self.history.entry(Self::key(limit, op, account.0)).or_default().push((now, weight));
        }
        self.clock_ns = Some(now);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Unit tests.
// ---------------------------------------------------------------------------------------

#[test]
fn op_codes_are_stable() {
    let codes: Vec<(u8, &str)> = ThrottleOp::ALL.iter().map(|op| (op.code(), op.as_str())).collect();
    assert_eq!(codes, [(1, "place"), (2, "cancel"), (3, "replace"), (4, "cancel-all"), (5, "submit"), (6, "sign")]);
    for op in ThrottleOp::ALL {
        assert_eq!(ThrottleOp::from_code(op.code()), Some(op));
    }
    assert_eq!(ThrottleOp::from_code(0), None);
    assert_eq!(ThrottleOp::from_code(7), None);
    let limits = [
        ThrottleLimit::SlotUnknown,
        ThrottleLimit::OpAccount,
        ThrottleLimit::Account,
        ThrottleLimit::OpGlobal,
        ThrottleLimit::Global,
    ];
    assert_eq!(limits.map(ThrottleLimit::code), [1, 2, 3, 4, 5]);
}

#[test]
fn each_op_has_its_own_per_account_limit() {
    for op in ThrottleOp::ALL {
        let mut config = wide_open();
        config.op_mut(op).per_account = LimitConfig::new(3, 1_000);
        let mut t = Throttler::new(config, 2).unwrap();
        let a = AccountSlot(0);
        for _ in 0..3 {
            t.try_acquire(op, a, 50).unwrap();
        }
        let reject = t.try_acquire(op, a, 50).unwrap_err();
        // One token is 1000/3 ns of refill, rounded up: 334 ns after the last acquire.
        assert_eq!(reject, ThrottleReject { op, account: a, limit: ThrottleLimit::OpAccount, retry_at_ns: 384 });
        // Other ops of the same account and the same op of another account are unaffected.
        for other in ThrottleOp::ALL.into_iter().filter(|&other| other != op) {
            t.try_acquire(other, a, 50).unwrap();
        }
        t.try_acquire(op, AccountSlot(1), 50).unwrap();
        assert!(t.try_acquire(op, a, 383).is_err());
        t.try_acquire(op, a, 384).unwrap();
    }
}

#[test]
fn op_limit_with_weight_takes_weight_tokens() {
    let mut config = wide_open();
    config.replace = OpLimits { weight_tokens: 2, per_account: LimitConfig::new(5, 100), global: HUGE };
    let mut t = Throttler::new(config, 1).unwrap();
    t.try_acquire(ThrottleOp::Replace, AccountSlot(0), 0).unwrap();
    t.try_acquire(ThrottleOp::Replace, AccountSlot(0), 0).unwrap();
    // 1 token left, 2 needed: 1 token = 100 token·ns at 5 per ns = 20 ns.
    let reject = t.try_acquire(ThrottleOp::Replace, AccountSlot(0), 0).unwrap_err();
    assert_eq!((reject.limit, reject.retry_at_ns), (ThrottleLimit::OpAccount, 20));
}

#[test]
fn account_limit_exhausted_by_mixed_ops_rejects_that_account_only() {
    let mut config = wide_open();
    config.account = LimitConfig::new(4, 1_000_000);
    let mut t = Throttler::new(config, 3).unwrap();
    let (a, b) = (AccountSlot(1), AccountSlot(2));
    for op in [ThrottleOp::Place, ThrottleOp::Cancel, ThrottleOp::Submit, ThrottleOp::Sign] {
        t.try_acquire(op, a, 10).unwrap();
    }
    for op in ThrottleOp::ALL {
        let reject = t.try_acquire(op, a, 10).unwrap_err();
        assert_eq!(reject.limit, ThrottleLimit::Account, "{op}");
        assert_eq!(reject.retry_at_ns, 10 + 250_000, "{op}");
        assert_eq!(t.check(op, b, 10), Ok(()), "{op}");
    }
    t.try_acquire(ThrottleOp::Replace, b, 10).unwrap();
    t.try_acquire(ThrottleOp::CancelAll, a, 250_010).unwrap();
}

#[test]
fn global_limit_spans_accounts() {
    let mut config = wide_open();
    config.global = LimitConfig::new(5, 5_000);
    let mut t = Throttler::new(config, 5).unwrap();
    for (slot, op) in (0..5).zip(ThrottleOp::ALL) {
        t.try_acquire(op, AccountSlot(slot), 0).unwrap();
    }
    for slot in 0..5 {
        let reject = t.try_acquire(ThrottleOp::Cancel, AccountSlot(slot), 0).unwrap_err();
        assert_eq!((reject.limit, reject.retry_at_ns), (ThrottleLimit::Global, 1_000));
    }
}

#[test]
fn op_global_limit_spans_accounts_but_not_other_ops() {
    let mut config = wide_open();
    config.submit.global = LimitConfig::new(2, 1_000);
    let mut t = Throttler::new(config, 3).unwrap();
    t.try_acquire(ThrottleOp::Submit, AccountSlot(0), 0).unwrap();
    t.try_acquire(ThrottleOp::Submit, AccountSlot(1), 0).unwrap();
    let reject = t.try_acquire(ThrottleOp::Submit, AccountSlot(2), 0).unwrap_err();
    assert_eq!((reject.limit, reject.retry_at_ns), (ThrottleLimit::OpGlobal, 500));
    t.try_acquire(ThrottleOp::Sign, AccountSlot(2), 0).unwrap();
}

#[test]
fn the_binding_limit_is_the_one_that_refills_last() {
    let mut config = wide_open();
    config.place.per_account = LimitConfig::new(1, 100);
    config.global = LimitConfig::new(1, 1_000);
    let mut t = Throttler::new(config, 1).unwrap();
    t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap();
    let reject = t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap_err();
    assert_eq!((reject.limit, reject.retry_at_ns), (ThrottleLimit::Global, 1_000));
    // Ties go to the first limit of the chain.
    config.global = LimitConfig::new(1, 100);
    let mut t = Throttler::new(config, 1).unwrap();
    t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap();
    let reject = t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap_err();
    assert_eq!((reject.limit, reject.retry_at_ns), (ThrottleLimit::OpAccount, 100));
}

#[test]
fn a_reject_consumes_nothing_anywhere() {
    let mut config = wide_open();
    config.global = LimitConfig::new(3, 1_000);
    config.sign.per_account = LimitConfig::new(1, 1_000);
    let mut t = Throttler::new(config, 1).unwrap();
    t.try_acquire(ThrottleOp::Sign, AccountSlot(0), 0).unwrap();
    let before = t.clone();
    // The sign limit rejects; the global bucket, which had room, must not be debited.
    for _ in 0..10 {
        assert_eq!(t.try_acquire(ThrottleOp::Sign, AccountSlot(0), 0).unwrap_err().limit, ThrottleLimit::OpAccount);
    }
    assert_eq!(t, before);
    t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap();
    t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap();
    assert_eq!(t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap_err().limit, ThrottleLimit::Global);
}

#[test]
fn time_going_backwards_mints_no_tokens() {
    let mut config = wide_open();
    config.place.per_account = LimitConfig::new(2, 1_000);
    let mut t = Throttler::new(config, 1).unwrap();
    let a = AccountSlot(0);
    t.try_acquire(ThrottleOp::Place, a, 10_000).unwrap();
    t.try_acquire(ThrottleOp::Place, a, 10_000).unwrap();
    // Earlier timestamps are read as the clock (10 000): still empty.
    for now in [9_999, 0, -1_000_000, i64::MIN] {
        let reject = t.try_acquire(ThrottleOp::Place, a, now).unwrap_err();
        assert_eq!(reject.retry_at_ns, 10_500, "{now}");
    }
    assert_eq!(t.clock_ns(), 10_000);
    t.try_acquire(ThrottleOp::Place, a, 10_500).unwrap();
    // An accepted acquire with an earlier timestamp is charged at the clock.
    t.try_acquire(ThrottleOp::Cancel, a, 5).unwrap();
    assert_eq!(t.clock_ns(), 10_500);
}

#[test]
fn huge_time_gaps_do_not_overflow() {
    let mut config = ThrottleConfig::DEFAULT;
    config.global = LimitConfig::new(1, INTERVAL_NS_MAX);
    config.place.per_account = LimitConfig::new(1, INTERVAL_NS_MAX);
    let mut t = Throttler::new(config, 1).unwrap();
    let a = AccountSlot(0);
    t.try_acquire(ThrottleOp::Place, a, i64::MIN).unwrap();
    let reject = t.try_acquire(ThrottleOp::Place, a, i64::MIN).unwrap_err();
    assert_eq!(reject.retry_at_ns, i64::MIN + i64::try_from(INTERVAL_NS_MAX).unwrap());
    t.try_acquire(ThrottleOp::Place, a, i64::MAX - 10).unwrap();
    // The true retry time is past i64::MAX: it saturates.
    let reject = t.try_acquire(ThrottleOp::Place, a, i64::MAX).unwrap_err();
    assert_eq!(reject.retry_at_ns, i64::MAX);
}

#[test]
fn the_binding_limit_is_chosen_on_exact_times_even_when_retry_at_saturates() {
    let mut config = wide_open();
    config.place.per_account = LimitConfig::new(1, 10);
    config.account = LimitConfig::new(1, 1_000);
    let mut t = Throttler::new(config, 1).unwrap();
    t.try_acquire(ThrottleOp::Place, AccountSlot(0), i64::MAX).unwrap();
    // Both refill after i64::MAX (saturated equal), but the account limit refills later.
    let reject = t.try_acquire(ThrottleOp::Place, AccountSlot(0), i64::MAX).unwrap_err();
    assert_eq!((reject.limit, reject.retry_at_ns), (ThrottleLimit::Account, i64::MAX));
}

#[test]
fn unknown_slots_fail_closed_and_add_account_stops_at_the_maximum() {
    let mut t = Throttler::new(ThrottleConfig::DEFAULT, 2).unwrap();
    let reject = t.try_acquire(ThrottleOp::Cancel, AccountSlot(2), 0).unwrap_err();
    assert_eq!(reject.limit, ThrottleLimit::SlotUnknown);
    assert_eq!(reject.retry_at_ns, i64::MAX);
    assert_eq!(reject.to_string(), "throttled: cancel for account slot 2: the slot was never added");
    assert_eq!(t.add_account(), Some(AccountSlot(2)));
    t.try_acquire(ThrottleOp::Cancel, AccountSlot(2), 0).unwrap();

    let mut t = Throttler::new(ThrottleConfig::DEFAULT, u16::MAX).unwrap();
    assert_eq!(t.add_account(), Some(AccountSlot(u16::MAX)));
    assert_eq!(t.accounts_count(), ACCOUNTS_MAX);
    assert_eq!(t.add_account(), None);
    t.try_acquire(ThrottleOp::Sign, AccountSlot(u16::MAX), 0).unwrap();
}

#[test]
fn reject_display_is_one_line() {
    let mut t = Throttler::new(ThrottleConfig::DEFAULT, 1).unwrap();
    let a = AccountSlot(0);
    t.try_acquire(ThrottleOp::Submit, a, 0).unwrap();
    t.try_acquire(ThrottleOp::Submit, a, 0).unwrap();
    let reject = t.try_acquire(ThrottleOp::Submit, a, 0).unwrap_err();
    assert_eq!(
        reject.to_string(),
        "throttled: submit for account slot 0: the per-account submit limit is exhausted until 2500000000 ns"
    );
}

#[test]
fn default_config_is_valid_and_per_ledger() {
    let config = ThrottleConfig::default();
    assert_eq!(config, ThrottleConfig::DEFAULT);
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(config.submit.global, LimitConfig::new(5, LEDGER_INTERVAL_NS));
    // Horizon's default per-IP limit: 3600 requests an hour.
    let hour_ns = 3_600_000_000_000u64;
    assert_eq!(u64::from(config.submit.global.capacity_tokens) * hour_ns / config.submit.global.interval_ns, 3_600);
}

#[test]
fn config_validation_errors() {
    let check = |edit: &dyn Fn(&mut ThrottleConfig), expected: ThrottleConfigError, message: &str| {
        let mut config = ThrottleConfig::DEFAULT;
        edit(&mut config);
        assert_eq!(config.validate(), Err(expected));
        assert_eq!(Throttler::new(config, 1).unwrap_err(), expected);
        let s = expected.to_string();
        assert_eq!(s, message);
        assert!(!s.contains('\n'));
    };
    check(
        &|c| c.cancel.per_account.capacity_tokens = 0,
        ThrottleConfigError::CapacityZero { limit: ThrottleLimit::OpAccount, op: Some(ThrottleOp::Cancel) },
        "throttle config: the per-account cancel limit has capacity_tokens = 0; it must be at least 1",
    );
    check(
        &|c| c.global.capacity_tokens = 0,
        ThrottleConfigError::CapacityZero { limit: ThrottleLimit::Global, op: None },
        "throttle config: the global limit has capacity_tokens = 0; it must be at least 1",
    );
    check(
        &|c| c.sign.global.interval_ns = 0,
        ThrottleConfigError::IntervalZero { limit: ThrottleLimit::OpGlobal, op: Some(ThrottleOp::Sign) },
        "throttle config: the global sign limit has interval_ns = 0; it must be at least 1",
    );
    check(
        &|c| c.account.interval_ns = 0,
        ThrottleConfigError::IntervalZero { limit: ThrottleLimit::Account, op: None },
        "throttle config: the per-account limit has interval_ns = 0; it must be at least 1",
    );
    check(
        &|c| c.account.interval_ns = INTERVAL_NS_MAX + 1,
        ThrottleConfigError::IntervalTooLong {
            limit: ThrottleLimit::Account,
            op: None,
            interval_ns: INTERVAL_NS_MAX + 1,
        },
        "throttle config: the per-account limit has interval_ns = 604800000000001, \
         more than the maximum 604800000000000 (one week)",
    );
    check(
        &|c| c.replace.weight_tokens = 0,
        ThrottleConfigError::WeightZero { op: ThrottleOp::Replace },
        "throttle config: replace has weight_tokens = 0; it must be at least 1",
    );
    check(
        &|c| c.cancel_all.weight_tokens = 3,
        ThrottleConfigError::WeightAboveCapacity {
            op: ThrottleOp::CancelAll,
            limit: ThrottleLimit::OpAccount,
            weight_tokens: 3,
            capacity_tokens: 2,
        },
        "throttle config: cancel-all has weight_tokens = 3, more than the 2 capacity_tokens of the \
         per-account cancel-all limit, so it could never be acquired",
    );
    check(
        &|c| {
            c.place.weight_tokens = 7;
            c.global.capacity_tokens = 6;
        },
        ThrottleConfigError::WeightAboveCapacity {
            op: ThrottleOp::Place,
            limit: ThrottleLimit::Global,
            weight_tokens: 7,
            capacity_tokens: 6,
        },
        "throttle config: place has weight_tokens = 7, more than the 6 capacity_tokens of the global limit, \
         so it could never be acquired",
    );
    // Interval at the maximum is fine.
    let mut config = ThrottleConfig::DEFAULT;
    config.account.interval_ns = INTERVAL_NS_MAX;
    assert_eq!(config.validate(), Ok(()));
}

#[test]
fn state_hash_tracks_decisions_not_lazy_refills() {
    let mut config = wide_open();
    config.place.per_account = LimitConfig::new(2, 100);
    let mut t = Throttler::new(config, 2).unwrap();
    let fresh = state_hash(&t);
    t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap();
    let after_one = state_hash(&t);
    assert_ne!(fresh, after_one);
    // A reject changes nothing, the hash included.
    t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap();
    let full = state_hash(&t);
    assert!(t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).is_err());
    assert_eq!(state_hash(&t), full);
    // The hash sees levels as of the clock, not when buckets were last (lazily) refilled:
    // v's slot-0 place at 0 has fully refilled by its clock (1000), so v and u differ in
    // representation but not in any future decision, and hash the same.
    let mut u = Throttler::new(config, 2).unwrap();
    u.try_acquire(ThrottleOp::Cancel, AccountSlot(1), 1_000).unwrap();
    let mut v = Throttler::new(config, 2).unwrap();
    v.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap();
    v.try_acquire(ThrottleOp::Cancel, AccountSlot(1), 1_000).unwrap();
    assert_ne!(u, v);
    assert_eq!(state_hash(&u), state_hash(&v));
    // But a bucket that has not refilled yet shows.
    let mut w = Throttler::new(config, 2).unwrap();
    w.try_acquire(ThrottleOp::Place, AccountSlot(0), 990).unwrap();
    w.try_acquire(ThrottleOp::Cancel, AccountSlot(1), 1_000).unwrap();
    assert_ne!(state_hash(&u), state_hash(&w));
}

// ---------------------------------------------------------------------------------------
// Property tests.
// ---------------------------------------------------------------------------------------

fn interval_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        5 => 1..=10u64,
        5 => 1..=1_000u64,
        1 => 1..=1_000_000u64,
        1 => Just(INTERVAL_NS_MAX),
        1 => 1..=INTERVAL_NS_MAX,
    ]
}

/// A limit of `min_capacity + 0..=extra` tokens.
fn limit_strategy(min_capacity: u32, extra: u32) -> impl Strategy<Value = LimitConfig> {
    (0..=extra, interval_strategy())
        .prop_map(move |(more, interval_ns)| LimitConfig { capacity_tokens: min_capacity + more, interval_ns })
}

/// Small, valid configs (weights 1..=3, capacities at least the weights) so that limits bind often.
fn config_strategy() -> impl Strategy<Value = ThrottleConfig> {
    proptest::array::uniform6(1..=3u32).prop_flat_map(|weights| {
        let max_weight = weights.iter().copied().max().unwrap_or(1);
        let op = |weight: u32| {
            (limit_strategy(weight, 4), limit_strategy(weight, 8)).prop_map(move |(per_account, global)| OpLimits {
                weight_tokens: weight,
                per_account,
                global,
            })
        };
        (
            (op(weights[0]), op(weights[1]), op(weights[2]), op(weights[3]), op(weights[4]), op(weights[5])),
            limit_strategy(max_weight, 8),
            limit_strategy(max_weight, 24),
        )
            .prop_map(|((place, cancel, replace, cancel_all, submit, sign), account, global)| ThrottleConfig {
                place,
                cancel,
                replace,
                cancel_all,
                submit,
                sign,
                account,
                global,
            })
    })
}

/// Time steps: equal timestamps, small steps, backwards, long gaps, and (rarely, since time
/// then stays pinned near `i64::MAX`) absurd gaps.
fn step_strategy() -> impl Strategy<Value = i128> {
    prop_oneof![
        60 => Just(0i128),
        80 => 1..=20i128,
        40 => 1..=2_000i128,
        20 => -50..0i128,
        10 => -1_000_000_000_000_000..0i128,
        10 => 1_000_000_000_000..=1_000_000_000_000_000_000i128,
        1 => 0..=i128::from(u64::MAX),
    ]
}

fn start_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => Just(0i64),
        4 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => (i64::MAX - 10_000)..=i64::MAX,
    ]
}

/// (op, slot selector, time step); the slot selector is mapped to a slot by [`slot_of`].
type Step = (ThrottleOp, u8, i128);

fn steps_strategy() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (proptest::sample::select(ThrottleOp::ALL.to_vec()), any::<u8>(), step_strategy()),
        1..150,
    )
}

/// Mostly known slots, about 2% unknown ones.
fn slot_of(selector: u8, accounts_count: u16) -> AccountSlot {
    if selector < 5 {
        AccountSlot(accounts_count + u16::from(selector))
    } else {
        AccountSlot(u16::from(selector) % accounts_count)
    }
}

fn clamp_time(t: i128) -> i64 {
    i64::try_from(t.clamp(i128::from(i64::MIN), i128::from(i64::MAX))).unwrap()
}

/// The accepted acquisitions of every bucket, at their effective times.
type Accepted = BTreeMap<BucketKey, Vec<(i64, u32)>>;

/// Runs `steps` through a fresh throttler, calling `on_step` with the state before and the
/// decision of each step; returns the accepted acquisitions per bucket.
fn run(
    config: ThrottleConfig,
    accounts_count: u16,
    start: i64,
    steps: &[Step],
    mut on_step: impl FnMut(&Throttler, &mut Throttler, ThrottleOp, AccountSlot, i64, Result<(), ThrottleReject>),
) -> Accepted {
    let mut t = Throttler::new(config, accounts_count).unwrap();
    let mut accepted = Accepted::new();
    let mut now = i128::from(start);
    for &(op, selector, step) in steps {
        let now_ns = clamp_time(now + step);
        now = i128::from(now_ns);
        let account = slot_of(selector, accounts_count);
        let before = t.clone();
        let decision = t.try_acquire(op, account, now_ns);
        if decision.is_ok() {
            for limit in CHAIN {
                let weight = config.op(op).weight_tokens;
                accepted.entry(Reference::key(limit, op, account.0)).or_default().push((t.clock_ns(), weight));
            }
        }
        on_step(&before, &mut t, op, account, now_ns, decision);
    }
    accepted
}

fn limit_of(config: &ThrottleConfig, key: &BucketKey) -> LimitConfig {
    let (limit, op, _) = *key;
    config.limit(op.unwrap_or(ThrottleOp::Place), limit).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// The fast throttler and the naive reference give identical decisions, reject
    /// limits and retry times on random op/account/time streams.
    #[test]
    fn differential_fast_matches_naive_reference(
        config in config_strategy(),
        accounts_count in 1..=12u16,
        start in start_strategy(),
        steps in steps_strategy(),
    ) {
        let mut reference = Reference::new(config, usize::from(accounts_count));
        let mut mismatch = None;
        run(config, accounts_count, start, &steps, |_, _, op, account, now_ns, decision| {
            let expected = reference.try_acquire(op, account, now_ns);
            if mismatch.is_none() && decision != expected {
                mismatch = Some((op, account, now_ns, decision, expected));
            }
        });
        prop_assert!(mismatch.is_none(), "fast vs reference: {mismatch:?}");
    }

    /// For every bucket and every window [t0, t1] of effective times, the accepted weight is
    /// at most capacity + floor(capacity * (t1 - t0) / interval).
    #[test]
    fn accepted_weight_never_exceeds_the_limit_in_any_window(
        config in config_strategy(),
        accounts_count in 1..=12u16,
        start in start_strategy(),
        steps in steps_strategy(),
    ) {
        let accepted = run(config, accounts_count, start, &steps, |_, _, _, _, _, _| {});
        for (key, events) in &accepted {
            let limit = limit_of(&config, key);
            let capacity = i128::from(limit.capacity_tokens);
            let interval = i128::from(limit.interval_ns);
            prop_assert!(events.windows(2).all(|w| w[0].0 <= w[1].0), "effective times go backwards");
            for (i, &(t0, _)) in events.iter().enumerate() {
                // All events at times >= t0 (the first event at t0 is i or earlier; the
                // window is [t0, t1], so include the equal-time events before i too).
                let first = events.iter().position(|&(t, _)| t == t0).unwrap();
                debug_assert!(first <= i);
                let mut weight: i128 = 0;
                for &(t1, w) in &events[first..] {
                    weight += i128::from(w);
                    let allowed = capacity + capacity * (i128::from(t1) - i128::from(t0)) / interval;
                    prop_assert!(weight <= allowed, "{key:?} {limit:?}: {weight} in [{t0}, {t1}] > {allowed}");
                }
            }
        }
    }

    /// A reject changes no state (the same acquire rejects the same way again, `check`
    /// agrees); at `retry_at_ns` the acquire succeeds, one nanosecond before it does not.
    #[test]
    fn reject_changes_no_state_and_retry_at_is_exact(
        config in config_strategy(),
        accounts_count in 1..=12u16,
        start in start_strategy(),
        steps in steps_strategy(),
    ) {
        let mut failure: Option<String> = None;
        run(config, accounts_count, start, &steps, |before, t, op, account, now_ns, decision| {
            if failure.is_some() {
                return;
            }
            let Err(reject) = decision else {
                if before.check(op, account, now_ns).is_err() {
                    failure = Some(format!("check disagrees with an accepted acquire at {now_ns}"));
                }
                return;
            };
            let effective_ns = now_ns.max(before.clock_ns());
            let problems = [
                (t != before, "a reject changed the state"),
                (state_hash(t) != state_hash(before), "a reject changed the state hash"),
                (before.check(op, account, now_ns) != Err(reject), "check disagrees"),
                (t.try_acquire(op, account, now_ns) != Err(reject), "a repeated acquire rejects differently"),
                (t != before, "a repeated reject changed the state"),
                (
                    reject.retry_at_ns <= effective_ns && reject.retry_at_ns != i64::MAX,
                    "retry_at_ns is not after the effective time",
                ),
            ];
            if let Some((_, what)) = problems.iter().find(|(bad, _)| *bad) {
                failure = Some(format!("{what}: {op} {account:?} at {now_ns}: {reject:?}"));
                return;
            }
            if reject.limit == ThrottleLimit::SlotUnknown {
                return;
            }
            if reject.retry_at_ns < i64::MAX && t.clone().try_acquire(op, account, reject.retry_at_ns).is_err() {
                failure = Some(format!("{op} {account:?} still rejected at retry_at_ns: {reject:?}"));
            }
            if t.clone().try_acquire(op, account, reject.retry_at_ns - 1).is_ok() {
                failure = Some(format!("{op} {account:?} accepted before retry_at_ns: {reject:?}"));
            }
        });
        prop_assert!(failure.is_none(), "{}", failure.unwrap_or_default());
    }
}
