//! The engine's hierarchical, event-time throttler: operation-specific rate limits with
//! linked parent limits (the seed's "rate limiting: operation-specific limits with
//! hierarchical throttling", in the spirit of Hummingbot's `AsyncThrottler` linked limits).
//!
//! # Limits and chains
//!
//! Every limit is a token bucket ([`LimitConfig`]): it holds at most `capacity_tokens`
//! tokens, starts full, and refills continuously at `capacity_tokens` per `interval_ns`.
//! An acquire of a [`ThrottleOp`] for an account draws the op's `weight_tokens` from every
//! bucket of its chain, in this order (which is also the order of [`ThrottleLimit`]):
//!
//! 1. [`ThrottleLimit::OpAccount`]: this op, this account;
//! 2. [`ThrottleLimit::Account`]: all ops, this account;
//! 3. [`ThrottleLimit::OpGlobal`]: this op, all accounts;
//! 4. [`ThrottleLimit::Global`]: all ops, all accounts.
//!
//! An acquire is all-or-nothing: either every bucket of the chain has the tokens and all
//! are debited, or nothing changes anywhere (not even the clock) and a [`ThrottleReject`]
//! names the limit that binds and the exact earliest time `retry_at_ns` at which the same
//! acquire succeeds if nothing else is accepted in between.
//!
//! # Arithmetic
//!
//! Integer only. A bucket's level is kept in token·ns: one token is worth `interval_ns`,
//! a full bucket `capacity_tokens * interval_ns`, and `elapsed_ns` of refill adds
//! `elapsed_ns * capacity_tokens`, capped at full. This is exact (no rounding anywhere) and
//! composes: refilling for `a` then `b` nanoseconds equals refilling for `a + b`, so buckets
//! are refilled lazily, only when their chain is used. All of it fits in `u128`
//! (`capacity <= 2^32`, `elapsed <= 2^64`), so no time gap can overflow.
//!
//! # Time
//!
//! Time is only the `now_ns` ingress timestamp passed in; the throttler never reads a clock.
//! Its clock ([`Throttler::clock_ns`]) is the effective time of the last *accepted* acquire
//! (`i64::MIN` before any). An acquire is evaluated at `max(now_ns, clock_ns)`: a timestamp
//! that goes backwards is treated as the clock, so it can never mint tokens. Rejects do not
//! advance the clock (a reject changes no state).
//!
//! `retry_at_ns` saturates at `i64::MAX` (reachable only with timestamps within one interval
//! of the year 2262), and is `i64::MAX` for a slot that was never added.
//!
//! # State hash
//!
//! [`Throttler::state_hash_into`] feeds a canonical, platform-independent encoding
//! (little-endian, fixed widths) to a [`Hasher`]: the config, the clock, and every bucket's
//! level *as of the clock*, so the hash depends on what the throttler will decide, not on
//! when buckets were last lazily refilled. `Throttler` does not derive `Hash`: derived
//! hashes write native-endian integers and `usize` length prefixes, which differ across
//! machines.

use core::fmt;
use core::hash::Hasher;

/// The SDEX ledger close target (5 s), the period of the default limits.
pub const LEDGER_INTERVAL_NS: u64 = 5_000_000_000;

/// Longest accepted `interval_ns` (one week): longer is almost surely a unit mistake.
pub const INTERVAL_NS_MAX: u64 = 7 * 24 * 3600 * 1_000_000_000;

/// How many account slots a throttler can hold (every `u16`).
pub const ACCOUNTS_MAX: usize = 1 << 16;

/// Buckets per scope: one per op, then one shared by all ops.
const BUCKETS_PER_SCOPE: usize = ThrottleOp::COUNT + 1;

/// Index, within a scope, of the bucket shared by all ops.
const ALL_OPS_INDEX: usize = ThrottleOp::COUNT;

/// Domain separation for [`Throttler::state_hash_into`]; bump the version if the encoding changes.
const STATE_HASH_TAG: &[u8] = b"starlog.throttle.v1\0";

/// A throttled operation. The discriminants are stable codes (journals and reason codes
/// store them): never renumber, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ThrottleOp {
    /// Place a new offer (ManageSellOffer/ManageBuyOffer with offer id 0).
    Place = 1,
    /// Cancel one offer.
    Cancel = 2,
    /// Replace (update) an existing offer in place.
    Replace = 3,
    /// Cancel every open offer of the account.
    CancelAll = 4,
    /// Submit a transaction to Horizon.
    Submit = 5,
    /// Ask a key store or HSM for a signature.
    Sign = 6,
}

impl ThrottleOp {
    /// How many ops there are.
    pub const COUNT: usize = 6;

    /// Every op, in code order.
    pub const ALL: [ThrottleOp; ThrottleOp::COUNT] = [
        ThrottleOp::Place,
        ThrottleOp::Cancel,
        ThrottleOp::Replace,
        ThrottleOp::CancelAll,
        ThrottleOp::Submit,
        ThrottleOp::Sign,
    ];

    /// The stable code (the discriminant).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The op with stable code `code`, if any.
    pub const fn from_code(code: u8) -> Option<ThrottleOp> {
        match code {
            1 => Some(ThrottleOp::Place),
            2 => Some(ThrottleOp::Cancel),
            3 => Some(ThrottleOp::Replace),
            4 => Some(ThrottleOp::CancelAll),
            5 => Some(ThrottleOp::Submit),
            6 => Some(ThrottleOp::Sign),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            ThrottleOp::Place => "place",
            ThrottleOp::Cancel => "cancel",
            ThrottleOp::Replace => "replace",
            ThrottleOp::CancelAll => "cancel-all",
            ThrottleOp::Submit => "submit",
            ThrottleOp::Sign => "sign",
        }
    }

    /// `0..COUNT`, for indexing per-op buckets.
    const fn index(self) -> usize {
        match self {
            ThrottleOp::Place => 0,
            ThrottleOp::Cancel => 1,
            ThrottleOp::Replace => 2,
            ThrottleOp::CancelAll => 3,
            ThrottleOp::Submit => 4,
            ThrottleOp::Sign => 5,
        }
    }
}

impl fmt::Display for ThrottleOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which limit rejected an acquire. Stable codes, ordered by precedence (the order of a
/// chain): never renumber, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ThrottleLimit {
    /// Not a limit: the account slot was never added. Fails closed, with no retry time.
    SlotUnknown = 1,
    /// The op's own limit for this account.
    OpAccount = 2,
    /// The account's limit, shared by all its ops.
    Account = 3,
    /// The op's limit across all accounts.
    OpGlobal = 4,
    /// The limit shared by all ops of all accounts.
    Global = 5,
}

impl ThrottleLimit {
    /// The stable code (the discriminant).
    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            ThrottleLimit::SlotUnknown => "slot-unknown",
            ThrottleLimit::OpAccount => "op-account",
            ThrottleLimit::Account => "account",
            ThrottleLimit::OpGlobal => "op-global",
            ThrottleLimit::Global => "global",
        }
    }
}

impl fmt::Display for ThrottleLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A limit named for people: "per-account place limit", "global limit", ….
struct LimitName(ThrottleLimit, Option<ThrottleOp>);

impl fmt::Display for LimitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (ThrottleLimit::SlotUnknown, _) => f.write_str("account slot"),
            (ThrottleLimit::OpAccount, Some(op)) => write!(f, "per-account {op} limit"),
            (ThrottleLimit::OpAccount, None) => f.write_str("per-account op limit"),
            (ThrottleLimit::Account, _) => f.write_str("per-account limit"),
            (ThrottleLimit::OpGlobal, Some(op)) => write!(f, "global {op} limit"),
            (ThrottleLimit::OpGlobal, None) => f.write_str("global op limit"),
            (ThrottleLimit::Global, _) => f.write_str("global limit"),
        }
    }
}

/// One token bucket: at most `capacity_tokens`, refilled continuously at `capacity_tokens`
/// per `interval_ns` (so a burst of `capacity_tokens`, then `capacity_tokens / interval_ns`
/// sustained).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LimitConfig {
    /// Bucket size and tokens added per interval; at least 1.
    pub capacity_tokens: u32,
    /// `1..=INTERVAL_NS_MAX`.
    pub interval_ns: u64,
}

impl LimitConfig {
    pub const fn new(capacity_tokens: u32, interval_ns: u64) -> LimitConfig {
        LimitConfig { capacity_tokens, interval_ns }
    }

    /// `capacity_tokens` per ledger ([`LEDGER_INTERVAL_NS`]).
    pub const fn per_ledger(capacity_tokens: u32) -> LimitConfig {
        LimitConfig::new(capacity_tokens, LEDGER_INTERVAL_NS)
    }

    /// A full bucket, in token·ns.
    const fn full_token_ns(self) -> u128 {
        // <= 2^32 * 2^64: cannot overflow.
        self.capacity_tokens as u128 * self.interval_ns as u128
    }
}

/// An op's weight and its own limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpLimits {
    /// Tokens one acquire takes from every bucket of the op's chain; at least 1 and at most
    /// the capacity of each of them.
    pub weight_tokens: u32,
    /// This op, per account ([`ThrottleLimit::OpAccount`]).
    pub per_account: LimitConfig,
    /// This op, across all accounts ([`ThrottleLimit::OpGlobal`]).
    pub global: LimitConfig,
}

/// All limits of a [`Throttler`]. [`ThrottleConfig::DEFAULT`] documents the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThrottleConfig {
    pub place: OpLimits,
    pub cancel: OpLimits,
    pub replace: OpLimits,
    pub cancel_all: OpLimits,
    pub submit: OpLimits,
    pub sign: OpLimits,
    /// All ops of one account ([`ThrottleLimit::Account`]).
    pub account: LimitConfig,
    /// All ops of all accounts ([`ThrottleLimit::Global`]).
    pub global: LimitConfig,
}

impl ThrottleConfig {
    /// Defaults for SDEX, per ledger (5 s), every op of weight 1 (each op is one Stellar
    /// operation or one request):
    ///
    /// | op | per account | global |
    /// | --- | --- | --- |
    /// | place, cancel, replace | 50 each | 250 each |
    /// | cancel-all | 2 | 10 |
    /// | submit | 2 | 5 |
    /// | sign | 4 | 10 |
    /// | all ops | 120 | 600 |
    ///
    /// - submit, global 5 per 5 s = 1/s sustained: Horizon's default per-IP limit is 3600
    ///   requests an hour (and on SDF's public Horizon, streams count against it too).
    /// - submit, per account 2 per ledger: stellar-core keeps at most one pending transaction
    ///   per source account (`TRY_AGAIN_LATER` otherwise); 2 leaves room for one resubmit.
    /// - place/cancel/replace, 50 per account per ledger: 50 places plus 50 cancels fill one
    ///   transaction (at most 100 operations); per account all ops 120 = that plus submits
    ///   and signatures.
    /// - sign, 4 per account per ledger: two signatures per submit (multisig), no more.
    /// - global: about five such accounts at full rate.
    pub const DEFAULT: ThrottleConfig = ThrottleConfig {
        place: OpLimits {
            weight_tokens: 1,
            per_account: LimitConfig::per_ledger(50),
            global: LimitConfig::per_ledger(250),
        },
        cancel: OpLimits {
            weight_tokens: 1,
            per_account: LimitConfig::per_ledger(50),
            global: LimitConfig::per_ledger(250),
        },
        replace: OpLimits {
            weight_tokens: 1,
            per_account: LimitConfig::per_ledger(50),
            global: LimitConfig::per_ledger(250),
        },
        cancel_all: OpLimits {
            weight_tokens: 1,
            per_account: LimitConfig::per_ledger(2),
            global: LimitConfig::per_ledger(10),
        },
        submit: OpLimits {
            weight_tokens: 1,
            per_account: LimitConfig::per_ledger(2),
            global: LimitConfig::per_ledger(5),
        },
        sign: OpLimits {
            weight_tokens: 1,
            per_account: LimitConfig::per_ledger(4),
            global: LimitConfig::per_ledger(10),
        },
        account: LimitConfig::per_ledger(120),
        global: LimitConfig::per_ledger(600),
    };

    /// Every limit out of reach (a bucket of `u32::MAX` tokens refilled every nanosecond): for
    /// tests and benchmarks of what lies behind the throttle.
    pub const fn unlimited() -> ThrottleConfig {
        let loose = LimitConfig::new(u32::MAX, 1);
        let op = OpLimits { weight_tokens: 1, per_account: loose, global: loose };
        ThrottleConfig {
            place: op,
            cancel: op,
            replace: op,
            cancel_all: op,
            submit: op,
            sign: op,
            account: loose,
            global: loose,
        }
    }

    /// The limits of `op`.
    pub const fn op(&self, op: ThrottleOp) -> &OpLimits {
        match op {
            ThrottleOp::Place => &self.place,
            ThrottleOp::Cancel => &self.cancel,
            ThrottleOp::Replace => &self.replace,
            ThrottleOp::CancelAll => &self.cancel_all,
            ThrottleOp::Submit => &self.submit,
            ThrottleOp::Sign => &self.sign,
        }
    }

    /// The limits of `op`, to change them.
    pub const fn op_mut(&mut self, op: ThrottleOp) -> &mut OpLimits {
        match op {
            ThrottleOp::Place => &mut self.place,
            ThrottleOp::Cancel => &mut self.cancel,
            ThrottleOp::Replace => &mut self.replace,
            ThrottleOp::CancelAll => &mut self.cancel_all,
            ThrottleOp::Submit => &mut self.submit,
            ThrottleOp::Sign => &mut self.sign,
        }
    }

    /// The limit `limit` of `op`'s chain; `None` for [`ThrottleLimit::SlotUnknown`].
    pub const fn limit(&self, op: ThrottleOp, limit: ThrottleLimit) -> Option<LimitConfig> {
        match limit {
            ThrottleLimit::SlotUnknown => None,
            ThrottleLimit::OpAccount => Some(self.op(op).per_account),
            ThrottleLimit::Account => Some(self.account),
            ThrottleLimit::OpGlobal => Some(self.op(op).global),
            ThrottleLimit::Global => Some(self.global),
        }
    }

    /// Checks every limit (capacity and interval at least 1, interval at most
    /// [`INTERVAL_NS_MAX`]), then every op's weight (at least 1, at most the capacity of each
    /// limit of its chain); reports the first problem in that order.
    pub fn validate(&self) -> Result<(), ThrottleConfigError> {
        for op in ThrottleOp::ALL {
            let limits = self.op(op);
            check_limit(limits.per_account, ThrottleLimit::OpAccount, Some(op))?;
            check_limit(limits.global, ThrottleLimit::OpGlobal, Some(op))?;
        }
        check_limit(self.account, ThrottleLimit::Account, None)?;
        check_limit(self.global, ThrottleLimit::Global, None)?;
        for op in ThrottleOp::ALL {
            let weight_tokens = self.op(op).weight_tokens;
            if weight_tokens == 0 {
                return Err(ThrottleConfigError::WeightZero { op });
            }
            for limit in CHAIN {
                if let Some(config) = self.limit(op, limit)
                    && weight_tokens > config.capacity_tokens
                {
                    return Err(ThrottleConfigError::WeightAboveCapacity {
                        op,
                        limit,
                        weight_tokens,
                        capacity_tokens: config.capacity_tokens,
                    });
                }
            }
        }
        Ok(())
    }
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig::DEFAULT
    }
}

/// The limits of a chain, in order.
const CHAIN: [ThrottleLimit; 4] =
    [ThrottleLimit::OpAccount, ThrottleLimit::Account, ThrottleLimit::OpGlobal, ThrottleLimit::Global];

fn check_limit(config: LimitConfig, limit: ThrottleLimit, op: Option<ThrottleOp>) -> Result<(), ThrottleConfigError> {
    if config.capacity_tokens == 0 {
        return Err(ThrottleConfigError::CapacityZero { limit, op });
    }
    if config.interval_ns == 0 {
        return Err(ThrottleConfigError::IntervalZero { limit, op });
    }
    if config.interval_ns > INTERVAL_NS_MAX {
        return Err(ThrottleConfigError::IntervalTooLong { limit, op, interval_ns: config.interval_ns });
    }
    Ok(())
}

/// An invalid [`ThrottleConfig`] (misuse: the configuration is to blame). `op` is `None`
/// for the per-account and global limits shared by all ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleConfigError {
    /// `capacity_tokens = 0`: nothing could ever pass the limit.
    CapacityZero { limit: ThrottleLimit, op: Option<ThrottleOp> },
    /// `interval_ns = 0`: the limit would refill infinitely fast.
    IntervalZero { limit: ThrottleLimit, op: Option<ThrottleOp> },
    /// `interval_ns` above [`INTERVAL_NS_MAX`].
    IntervalTooLong { limit: ThrottleLimit, op: Option<ThrottleOp>, interval_ns: u64 },
    /// `weight_tokens = 0`: the op would not be throttled at all.
    WeightZero { op: ThrottleOp },
    /// The op's weight exceeds the capacity of a limit of its chain: it could never be acquired.
    WeightAboveCapacity { op: ThrottleOp, limit: ThrottleLimit, weight_tokens: u32, capacity_tokens: u32 },
}

impl fmt::Display for ThrottleConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("throttle config: ")?;
        match *self {
            ThrottleConfigError::CapacityZero { limit, op } => {
                write!(f, "the {} has capacity_tokens = 0; it must be at least 1", LimitName(limit, op))
            }
            ThrottleConfigError::IntervalZero { limit, op } => {
                write!(f, "the {} has interval_ns = 0; it must be at least 1", LimitName(limit, op))
            }
            ThrottleConfigError::IntervalTooLong { limit, op, interval_ns } => write!(
                f,
                "the {} has interval_ns = {interval_ns}, more than the maximum {INTERVAL_NS_MAX} (one week)",
                LimitName(limit, op)
            ),
            ThrottleConfigError::WeightZero { op } => {
                write!(f, "{op} has weight_tokens = 0; it must be at least 1")
            }
            ThrottleConfigError::WeightAboveCapacity { op, limit, weight_tokens, capacity_tokens } => write!(
                f,
                "{op} has weight_tokens = {weight_tokens}, more than the {capacity_tokens} capacity_tokens of the {}, \
                 so it could never be acquired",
                LimitName(limit, Some(op))
            ),
        }
    }
}

impl std::error::Error for ThrottleConfigError {}

/// An account's index in the throttler (the engine maps account ids to slots).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountSlot(pub u16);

impl AccountSlot {
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// An acquire that was refused; it consumed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThrottleReject {
    /// The op that was refused.
    pub op: ThrottleOp,
    /// The account it was refused for.
    pub account: AccountSlot,
    /// The binding limit: the exhausted limit of the chain that refills last (the first in
    /// chain order on a tie).
    pub limit: ThrottleLimit,
    /// The earliest time at which the same acquire succeeds if no other acquire is accepted
    /// before: exact, at least one nanosecond after the acquire's effective time. Saturates
    /// at `i64::MAX` (the binding limit is still chosen on exact times; a reject at
    /// `i64::MAX` itself gets `retry_at_ns = i64::MAX`, "never"); `i64::MAX` for
    /// [`ThrottleLimit::SlotUnknown`].
    pub retry_at_ns: i64,
}

impl fmt::Display for ThrottleReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "throttled: {} for account slot {}: ", self.op, self.account.0)?;
        match self.limit {
            ThrottleLimit::SlotUnknown => f.write_str("the slot was never added"),
            limit => {
                write!(f, "the {} is exhausted until {} ns", LimitName(limit, Some(self.op)), self.retry_at_ns)
            }
        }
    }
}

impl std::error::Error for ThrottleReject {}

/// One bucket's state: its level (token·ns) as of `updated_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bucket {
    level_token_ns: u128,
    updated_ns: i64,
}

impl Bucket {
    const fn full(config: LimitConfig, now_ns: i64) -> Bucket {
        Bucket { level_token_ns: config.full_token_ns(), updated_ns: now_ns }
    }

    /// The level at `now_ns >= updated_ns`, refilled and capped; exact.
    fn level_at(self, config: LimitConfig, now_ns: i64) -> u128 {
        let full = config.full_token_ns();
        debug_assert!(now_ns >= self.updated_ns, "bucket refilled backwards in time");
        debug_assert!(self.level_token_ns <= full, "bucket level above capacity");
        // The distance between two i64 fits in u64 (0 if time went backwards, which the
        // caller rules out). elapsed < 2^64 and capacity < 2^32, so the refill is below 2^96:
        // one 64×64-bit multiply. With a level at most full (< 2^96, checked wherever a level
        // comes from) the sum cannot saturate; saturating keeps that true even if it did not.
        let elapsed_ns = if now_ns >= self.updated_ns { now_ns.abs_diff(self.updated_ns) } else { 0 };
        let refill = u128::from(elapsed_ns) * u128::from(config.capacity_tokens);
        self.level_token_ns.saturating_add(refill).min(full)
    }
}

/// One bucket of a chain.
#[derive(Clone, Copy)]
struct Link {
    limit: ThrottleLimit,
    config: LimitConfig,
    bucket_index: usize,
}

/// What an accepted acquire commits: the effective time and each chain bucket's new level.
struct Debit {
    now_ns: i64,
    levels: [(usize, u128); CHAIN.len()],
}

/// The hierarchical throttler: per-account buckets in a `Vec` indexed by slot, global
/// buckets in front. No allocation after setup ([`Throttler::new`], [`Throttler::add_account`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttler {
    config: ThrottleConfig,
    /// Effective time of the last accepted acquire; `i64::MIN` before any.
    clock_ns: i64,
    /// `BUCKETS_PER_SCOPE` global buckets, then `BUCKETS_PER_SCOPE` per account slot; within
    /// a scope, one per op (by [`ThrottleOp::index`]), then the one shared by all ops.
    buckets: Vec<Bucket>,
}

impl Throttler {
    /// A throttler with `config` (validated) and slots `0..accounts_count`, all buckets full.
    pub fn new(config: ThrottleConfig, accounts_count: u16) -> Result<Throttler, ThrottleConfigError> {
        config.validate()?;
        let mut throttler = Throttler { config, clock_ns: i64::MIN, buckets: Vec::new() };
        throttler.buckets.reserve_exact(BUCKETS_PER_SCOPE * (usize::from(accounts_count) + 1));
        throttler.push_scope(ThrottleLimit::OpGlobal, ThrottleLimit::Global);
        for _ in 0..accounts_count {
            throttler.push_scope(ThrottleLimit::OpAccount, ThrottleLimit::Account);
        }
        Ok(throttler)
    }

    /// Adds the next account slot, its buckets full; `None` once [`ACCOUNTS_MAX`] slots exist.
    /// Allocates: call it at setup, not on the hot path.
    pub fn add_account(&mut self) -> Option<AccountSlot> {
        let slot = u16::try_from(self.accounts_count()).ok()?;
        self.push_scope(ThrottleLimit::OpAccount, ThrottleLimit::Account);
        Some(AccountSlot(slot))
    }

    fn push_scope(&mut self, per_op: ThrottleLimit, all_ops: ThrottleLimit) {
        let now_ns = self.clock_ns;
        for op in ThrottleOp::ALL {
            if let Some(config) = self.config.limit(op, per_op) {
                self.buckets.push(Bucket::full(config, now_ns));
            }
        }
        if let Some(config) = self.config.limit(ThrottleOp::Place, all_ops) {
            self.buckets.push(Bucket::full(config, now_ns));
        }
        debug_assert_eq!(self.buckets.len() % BUCKETS_PER_SCOPE, 0);
    }

    pub const fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// How many account slots exist (slots `0..accounts_count()`).
    pub fn accounts_count(&self) -> usize {
        (self.buckets.len() / BUCKETS_PER_SCOPE).saturating_sub(1)
    }

    /// Effective time of the last accepted acquire; `i64::MIN` before any.
    pub const fn clock_ns(&self) -> i64 {
        self.clock_ns
    }

    /// Takes `op`'s weight from every bucket of its chain for `account` at
    /// `max(now_ns, clock_ns)`, or, if any of them lacks it, changes nothing and says which
    /// limit binds and when to retry.
    pub fn try_acquire(&mut self, op: ThrottleOp, account: AccountSlot, now_ns: i64) -> Result<(), ThrottleReject> {
        let debit = self.evaluate(op, account, now_ns)?;
        for (index, level_token_ns) in debit.levels {
            if let Some(bucket) = self.buckets.get_mut(index) {
                debug_assert!(debit.now_ns >= bucket.updated_ns);
                *bucket = Bucket { level_token_ns, updated_ns: debit.now_ns };
            }
        }
        debug_assert!(debit.now_ns >= self.clock_ns);
        self.clock_ns = debit.now_ns;
        Ok(())
    }

    /// What [`Throttler::try_acquire`] would answer, without acquiring anything.
    pub fn check(&self, op: ThrottleOp, account: AccountSlot, now_ns: i64) -> Result<(), ThrottleReject> {
        self.evaluate(op, account, now_ns).map(|_| ())
    }

    fn chain(&self, op: ThrottleOp, account: AccountSlot) -> Option<[Link; CHAIN.len()]> {
        if account.index() >= self.accounts_count() {
            return None;
        }
        let account_base = BUCKETS_PER_SCOPE * (account.index() + 1);
        let limits = self.config.op(op);
        Some([
            Link {
                limit: ThrottleLimit::OpAccount,
                config: limits.per_account,
                bucket_index: account_base + op.index(),
            },
            Link {
                limit: ThrottleLimit::Account,
                config: self.config.account,
                bucket_index: account_base + ALL_OPS_INDEX,
            },
            Link { limit: ThrottleLimit::OpGlobal, config: limits.global, bucket_index: op.index() },
            Link { limit: ThrottleLimit::Global, config: self.config.global, bucket_index: ALL_OPS_INDEX },
        ])
    }

    fn evaluate(&self, op: ThrottleOp, account: AccountSlot, now_ns: i64) -> Result<Debit, ThrottleReject> {
        let reject = |limit, retry_at_ns| ThrottleReject { op, account, limit, retry_at_ns };
        let unknown = reject(ThrottleLimit::SlotUnknown, i64::MAX);
        let chain = self.chain(op, account).ok_or(unknown)?;
        let now_ns = now_ns.max(self.clock_ns);
        let weight_tokens = u128::from(self.config.op(op).weight_tokens);
        let mut debit = Debit { now_ns, levels: [(0, 0); CHAIN.len()] };
        // Retry times are compared exactly (in i128) and saturated only when reported.
        let mut binding: Option<(ThrottleLimit, i128)> = None;
        for (link, slot) in chain.iter().zip(debit.levels.iter_mut()) {
            let bucket = self.buckets.get(link.bucket_index).ok_or(unknown)?;
            let level = bucket.level_at(link.config, now_ns);
            // <= 2^32 * 2^64: cannot overflow.
            let cost = weight_tokens * u128::from(link.config.interval_ns);
            match level.checked_sub(cost) {
                Some(rest) => *slot = (link.bucket_index, rest),
                None => {
                    // Refill runs at `capacity` token·ns per ns; capacity >= 1 (validated),
                    // `max(1)` only keeps the division visibly panic-free.
                    let capacity = u128::from(link.config.capacity_tokens.max(1));
                    let wait_ns = (cost - level).div_ceil(capacity);
                    // wait_ns <= interval_ns < 2^64: no overflow.
                    let retry_at_ns = i128::from(now_ns) + i128::try_from(wait_ns).unwrap_or(i128::MAX);
                    if binding.is_none_or(|(_, at)| retry_at_ns > at) {
                        binding = Some((link.limit, retry_at_ns));
                    }
                }
            }
        }
        match binding {
            Some((limit, retry_at_ns)) => Err(reject(limit, i64::try_from(retry_at_ns).unwrap_or(i64::MAX))),
            None => Ok(debit),
        }
    }

    /// The config of the bucket at `index` (global scope first, then each slot's).
    fn bucket_config(&self, index: usize) -> Option<LimitConfig> {
        let scope_index = index % BUCKETS_PER_SCOPE;
        let (per_op, all_ops) = if index < BUCKETS_PER_SCOPE {
            (ThrottleLimit::OpGlobal, ThrottleLimit::Global)
        } else {
            (ThrottleLimit::OpAccount, ThrottleLimit::Account)
        };
        match ThrottleOp::ALL.get(scope_index) {
            Some(&op) => self.config.limit(op, per_op),
            None => self.config.limit(ThrottleOp::Place, all_ops),
        }
    }

    /// Snapshot encoding (see [`crate::snapshot`]): the clock, then every bucket exactly as
    /// kept (level in token·ns, time of its last update). The config is the engine's.
    pub(crate) fn encode_snapshot(&self, out: &mut Vec<u8>) {
        use crate::snapshot::{put_i64, put_len, put_u128};
        put_i64(out, self.clock_ns);
        put_len(out, self.buckets.len());
        for b in &self.buckets {
            put_u128(out, b.level_token_ns);
            put_i64(out, b.updated_ns);
        }
    }

    /// The throttler [`Throttler::encode_snapshot`] wrote, under `config`: whole scopes only, no
    /// bucket above its capacity or updated after the clock (what the arithmetic relies on).
    pub(crate) fn decode_snapshot(
        config: ThrottleConfig,
        r: &mut crate::snapshot::Reader<'_>,
    ) -> Result<Throttler, crate::snapshot::SnapshotError> {
        use crate::snapshot::corrupt;
        let mut t = Throttler::new(config, 0).map_err(|_| corrupt("throttle config"))?;
        t.clock_ns = r.i64()?;
        let n = r.len(24)?;
        if n % BUCKETS_PER_SCOPE != 0 || n == 0 || n / BUCKETS_PER_SCOPE > ACCOUNTS_MAX + 1 {
            return Err(corrupt("throttle buckets are not whole scopes"));
        }
        t.buckets.clear();
        t.buckets.reserve_exact(n);
        for index in 0..n {
            let bucket = Bucket { level_token_ns: r.u128()?, updated_ns: r.i64()? };
            let full = t.bucket_config(index).map_or(0, LimitConfig::full_token_ns);
            if bucket.level_token_ns > full || bucket.updated_ns > t.clock_ns {
                return Err(corrupt("a throttle bucket above capacity or ahead of the clock"));
            }
            t.buckets.push(bucket);
        }
        Ok(t)
    }

    /// Feeds the state to `h` in a canonical, platform-independent encoding (see the module
    /// docs): a version tag, the config, the clock, the account count, then every bucket's
    /// level as of the clock (global buckets, then each slot's), all little-endian.
    pub fn state_hash_into(&self, h: &mut impl Hasher) {
        h.write(STATE_HASH_TAG);
        fn write_limit(h: &mut impl Hasher, limit: LimitConfig) {
            h.write(&limit.capacity_tokens.to_le_bytes());
            h.write(&limit.interval_ns.to_le_bytes());
        }
        for op in ThrottleOp::ALL {
            let limits = self.config.op(op);
            h.write(&[op.code()]);
            h.write(&limits.weight_tokens.to_le_bytes());
            write_limit(h, limits.per_account);
            write_limit(h, limits.global);
        }
        write_limit(h, self.config.account);
        write_limit(h, self.config.global);
        h.write(&self.clock_ns.to_le_bytes());
        // usize -> u64 is lossless on every supported target; saturate rather than panic.
        h.write(&u64::try_from(self.accounts_count()).unwrap_or(u64::MAX).to_le_bytes());
        for (index, bucket) in self.buckets.iter().enumerate() {
            let config = self.bucket_config(index);
            let level = config.map_or(0, |config| bucket.level_at(config, self.clock_ns));
            h.write(&level.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: LimitConfig = LimitConfig::new(3, 10);

    #[test]
    fn refill_is_exact_capped_and_composes() {
        let empty = Bucket { level_token_ns: 0, updated_ns: 100 };
        // 3 tokens per 10 ns: 3 token·ns per ns, full at 30.
        assert_eq!(empty.level_at(TINY, 100), 0);
        assert_eq!(empty.level_at(TINY, 101), 3);
        assert_eq!(empty.level_at(TINY, 109), 27);
        assert_eq!(empty.level_at(TINY, 110), 30);
        assert_eq!(empty.level_at(TINY, i64::MAX), 30);
        let at_103 = Bucket { level_token_ns: empty.level_at(TINY, 103), updated_ns: 103 };
        assert_eq!(at_103.level_at(TINY, 107), empty.level_at(TINY, 107));
        let ancient = Bucket { level_token_ns: 0, updated_ns: i64::MIN };
        let huge = LimitConfig::new(u32::MAX, INTERVAL_NS_MAX);
        assert_eq!(ancient.level_at(huge, i64::MAX), huge.full_token_ns());
    }

    #[test]
    fn retry_wait_rounds_up_to_the_next_nanosecond() {
        let mut config = ThrottleConfig::DEFAULT;
        config.place.per_account = TINY;
        let mut t = Throttler::new(config, 1).unwrap();
        for _ in 0..3 {
            t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap();
        }
        // One token = 10 token·ns at 3 per ns: ceil(10 / 3) = 4 ns.
        let reject = t.try_acquire(ThrottleOp::Place, AccountSlot(0), 0).unwrap_err();
        assert_eq!((reject.limit, reject.retry_at_ns), (ThrottleLimit::OpAccount, 4));
        assert!(t.check(ThrottleOp::Place, AccountSlot(0), 3).is_err());
        t.try_acquire(ThrottleOp::Place, AccountSlot(0), 4).unwrap();
    }

    #[test]
    fn default_is_valid() {
        assert_eq!(ThrottleConfig::default().validate(), Ok(()));
        assert_eq!(BUCKETS_PER_SCOPE, 7);
    }
}
