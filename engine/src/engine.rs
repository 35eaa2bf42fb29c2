//! The engine: a pure state machine over journaled inputs. `apply(seq, timestamp, input, out)`
//! changes state and appends outputs to `out`; it reads no clock, socket or random source, so the
//! same inputs give the same outputs and the same [`Engine::state_hash`] on every machine.
//!
//! This is the spine the rest of the core grows on: session start, book mirrors, account
//! snapshots, operator controls, time, and order placement through every pre-trade check
//! (engine state, throttle, risk limits, balances and reserves) into a decision and an intent.
//! Transaction results, fills, incidents and strategies attach here next.
//!
//! The whole state can be written out and read back ([`Engine::snapshot`], [`Engine::restore`];
//! the format is [`crate::snapshot`]'s), so that restarts and audit queries start from a recent
//! state instead of the session's first input.

use std::collections::{BTreeMap, VecDeque};

use crate::amount::{Amount, SignedAmount};
use crate::asset::{AccountId, Pair};
use crate::book::Book;
use crate::events::{
    ArchivedAccountSnapshot, ArchivedCommand, ArchivedInput, ArchivedSessionStart, WireAsset, WirePrice,
};
use crate::id_table::IdTable;
use crate::incident::{Incident, IncidentClassifier, IncidentConfig, IncidentConfigError};
use crate::lifecycle::{OrderEvent, OrderStatus, transition};
use crate::one_or_many::OneOrMany;
use crate::outputs::{Control, Decision, IncidentOut, InputRefused, Intent, LifecycleChange, OfferOp, Output, op_kind};
use crate::price::Price;
use crate::reserves::{Balances, Commitment, Line};
use crate::risk::{
    OrderContext, OrderRequest, RejectCode, RiskLimits, Side, ValidationLevel, check_order, check_state,
};
use crate::snapshot::{
    self, Reader, SnapshotError, corrupt, put_amount, put_asset, put_bool, put_i64, put_i128, put_len, put_opt_price,
    put_pair, put_price, put_u8, put_u16, put_u32, put_u64, put_u128,
};
use crate::state_hash::StateHasher;
use crate::strategy::{Action, Strategy};
use crate::throttle::{AccountSlot, LimitConfig, ThrottleConfig, ThrottleConfigError, ThrottleOp, Throttler};

/// Reasons an input is refused (`InputRefused.reason`); stable codes.
pub mod refused {
    /// An input other than a session start before the session started.
    pub const NO_SESSION: u16 = 1;
    /// A second session start.
    pub const SESSION_AGAIN: u16 = 2;
    /// The session start names an invalid pair or level.
    pub const BAD_SESSION: u16 = 3;
    /// An event names a pair index the session does not have.
    pub const UNKNOWN_PAIR: u16 = 4;
    /// A book snapshot failed validation (the previous book stays).
    pub const BAD_BOOK: u16 = 5;
    /// An account snapshot for another account, or with invalid fields.
    pub const BAD_ACCOUNT: u16 = 6;
    /// An operator command with an invalid value (or an unknown incident, or nothing to unlock).
    pub const BAD_COMMAND: u16 = 7;
    /// A transaction event for an intent the engine never emitted (or already settled).
    pub const UNKNOWN_INTENT: u16 = 9;
    /// A transaction result whose operations do not match its intent's.
    pub const RESULT_MISMATCH: u16 = 10;
    /// The input's timestamp is before the previous input's.
    pub const TIME_BACKWARDS: u16 = 8;
}

/// The session's security level codes: 1 development, 2 testing, 3 staging, 4 production
/// (which key stores the process may sign from is the adapters' business; the engine records
/// the level for the audit and refuses a session start with any other code).
pub const SECURITY_LEVELS: core::ops::RangeInclusive<u8> = 1..=4;

/// `Control.what` codes; stable.
pub mod control {
    pub const HALT: u16 = 1;
    pub const RESUME: u16 = 2;
    pub const SET_LIMIT: u16 = 3;
    pub const SET_VALIDATION_LEVEL: u16 = 4;
    pub const CANCEL_ALL: u16 = 5;
    pub const ACKNOWLEDGE_INCIDENT: u16 = 6;
    pub const UNLOCK: u16 = 7;
}

/// Days for the daily loss limit are UTC days of event time.
pub const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// A transaction carries at most this many operations.
pub const TX_OPS_MAX: usize = 100;

/// Static configuration of an engine (the journaled session start carries the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EngineConfig {
    pub risk: RiskLimits,
    pub throttle: ThrottleConfig,
    /// Level in force until the session start or an operator sets another.
    pub validation: ValidationLevel,
    pub incidents: IncidentConfig,
}

/// Why an engine could not be built from its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    Throttle(ThrottleConfigError),
    Incidents(IncidentConfigError),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::Throttle(e) => write!(f, "throttle: {e}"),
            ConfigError::Incidents(e) => write!(f, "incidents: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// An order the engine placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Order {
    pub id: u64,
    pub pair: u16,
    pub side: Side,
    /// Base amount and price (counter per base).
    pub amount: Amount,
    pub price: Price,
    pub filled: Amount,
    pub status: OrderStatus,
    /// The status a failed cancel or replace returns to.
    pub resting: OrderStatus,
    /// The network's offer id once known (0 before).
    pub offer_id: i64,
    /// The ledger whose result put the order on the book (0 before).
    pub accepted_ledger: u32,
    /// Fills of ledgers up to this one are counted in `filled` (an account snapshot of that
    /// ledger showed the offer): a trade of such a ledger arriving later is not a new fill.
    pub fills_through_ledger: u32,
    /// The ledger whose result took the offer off the book by our cancel (0: not cancelled, or
    /// not known). Trades of ledgers up to it may still arrive: the offer filled in part before
    /// the cancel landed.
    pub cancelled_ledger: u32,
    pub intent: u64,
    /// What the order holds of the account's balances until it ends.
    pub commitment: Commitment,
}

/// Our open orders on one pair, kept up to date on every change so that a check reads them in
/// O(log n) instead of scanning every order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Exposure {
    open: u32,
    /// Base the pair's open orders would add (buys) or remove (sells) were they all filled.
    inventory_stroops: i128,
    /// How many of our open orders rest at each price (counter per base): best bid is the
    /// last bid, best ask the first ask.
    bids: BTreeMap<Price, u32>,
    asks: BTreeMap<Price, u32>,
}

/// Money on one pair since the session started: counter received minus paid, and the base
/// position. Marked at a price, their sum is the profit or loss — whatever the cost method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct PairPnl {
    cash_counter_stroops: i128,
    position_base_stroops: i128,
    /// Last fill price, the mark when the book has no mid.
    last_price: Option<Price>,
    /// Id of the last trade applied from the pair's trades stream (duplicates are ignored).
    last_trade_id: u128,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Session {
    account: AccountId,
    pairs: Vec<Pair>,
    security_level: u8,
    seed: u64,
}

/// The engine's whole state.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    limits: RiskLimits,
    validation: ValidationLevel,
    session: Option<Session>,
    books: Vec<Book>,
    balances: Option<Balances>,
    orders: IdTable<Order>,
    /// Per pair, our open orders' aggregates; and the count of all open orders.
    exposure: Vec<Exposure>,
    open_total: u32,
    pnl: Vec<PairPnl>,
    /// Offer id → our order.
    offers: BTreeMap<i64, u64>,
    /// Offers our cancels took off the book whose last fills the trades stream may still bring
    /// (the streams are not ordered with our results). A trade of ledger `L` on a pair proves
    /// that stream past every earlier ledger, so it drops the pair's entries cancelled before
    /// `L`; at most [`CANCELLED_OFFERS_MAX`] are kept (the oldest go first).
    cancelled_offers: VecDeque<CancelledOffer>,
    /// The UTC day (of event time) and the marked PnL when it began.
    day: i64,
    day_start_pnl_stroops: i128,
    /// Each intent's operations, in order: (order id, whether the operation cancels it).
    intents: IdTable<(u64, IntentOps)>,
    throttler: Throttler,
    incidents: IncidentClassifier,
    strategy: Option<Box<dyn Strategy>>,
    /// Reused buffer for the strategy's actions.
    actions: Vec<Action>,
    halted: bool,
    now_ns: i64,
    last_seq: u64,
    next_order: u64,
    next_intent: u64,
    /// Orders that have ended since this engine value was created or restored: a change tells
    /// a strategy that one of its orders may have ended. Not part of the state (not hashed,
    /// not in snapshots): only whether it changed between two inputs means anything.
    orders_ended: u64,
}

const OUR_SLOT: AccountSlot = AccountSlot(0);

/// Most cancelled offers kept for fills reported late ([`Engine::trade`]): far more than the
/// cancels of the minutes a lagging trades stream might be behind.
pub const CANCELLED_OFFERS_MAX: usize = 4096;

/// An offer of ours our cancel removed, in ledger `ledger`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct CancelledOffer {
    offer_id: i64,
    order: u64,
    pair: u16,
    ledger: u32,
}

/// The operations of one intent, each as (order, is a cancel): a single one inline — a new
/// order, the common case, costs no allocation — or several (cancel-all, a batch of quotes).
type IntentOps = OneOrMany<(u64, bool)>;

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, ConfigError> {
        Ok(Engine {
            config,
            limits: config.risk,
            validation: config.validation,
            session: None,
            books: Vec::new(),
            balances: None,
            orders: IdTable::default(),
            exposure: Vec::new(),
            open_total: 0,
            pnl: Vec::new(),
            offers: BTreeMap::new(),
            // Room for all up front: booking a cancel never allocates.
            cancelled_offers: VecDeque::with_capacity(CANCELLED_OFFERS_MAX),
            day: i64::MIN,
            day_start_pnl_stroops: 0,
            intents: IdTable::default(),
            throttler: Throttler::new(config.throttle, 1).map_err(ConfigError::Throttle)?,
            incidents: IncidentClassifier::new(config.incidents).map_err(ConfigError::Incidents)?,
            strategy: None,
            actions: Vec::new(),
            halted: false,
            now_ns: i64::MIN,
            last_seq: 0,
            next_order: 1,
            orders_ended: 0,
            next_intent: 1,
        })
    }

    /// Apply one journaled input. `seq` and `timestamp_ns` are the journal's.
    pub fn apply(&mut self, seq: u64, timestamp_ns: i64, input: &ArchivedInput, out: &mut Vec<Output>) {
        debug_assert!(seq > self.last_seq, "inputs are applied in journal order");
        self.last_seq = seq;
        if timestamp_ns < self.now_ns {
            out.push(refuse(seq, refused::TIME_BACKWARDS));
            return;
        }
        self.now_ns = timestamp_ns;
        let day = timestamp_ns.div_euclid(NS_PER_DAY);
        if day != self.day {
            self.day = day;
            self.day_start_pnl_stroops = self.pnl_stroops();
        }
        let quote_after = matches!(
            input,
            ArchivedInput::Book(_)
                | ArchivedInput::Timer(_)
                | ArchivedInput::Account(_)
                | ArchivedInput::Trade(_)
                | ArchivedInput::TxSucceeded(_)
                | ArchivedInput::TxFailed(_)
                | ArchivedInput::TxExpired(_)
        );
        self.apply_input(seq, timestamp_ns, input, out);
        if quote_after && self.session.is_some() {
            self.run_strategy(out);
        }
    }

    fn apply_input(&mut self, seq: u64, timestamp_ns: i64, input: &ArchivedInput, out: &mut Vec<Output>) {
        match (input, &self.session) {
            (ArchivedInput::SessionStart(s), None) => self.start_session(seq, s, out),
            (ArchivedInput::SessionStart(_), Some(_)) => out.push(refuse(seq, refused::SESSION_AGAIN)),
            (_, None) => out.push(refuse(seq, refused::NO_SESSION)),
            (ArchivedInput::Book(b), Some(_)) => {
                let Some(book) = self.books.get_mut(usize::from(b.pair.to_native())) else {
                    out.push(refuse(seq, refused::UNKNOWN_PAIR));
                    return;
                };
                if book.apply(b, timestamp_ns).is_err() {
                    out.push(refuse(seq, refused::BAD_BOOK));
                }
            }
            (ArchivedInput::Account(a), Some(_)) => self.account_snapshot(seq, a, out),
            (ArchivedInput::Operator(cmd), Some(_)) => {
                let by = cmd.operator.as_str();
                self.command(seq, by, &cmd.command, out);
            }
            // Time advanced: nothing else changes until strategies and timers attach here.
            (ArchivedInput::Timer(_), Some(_)) => {}
            (ArchivedInput::Security(ev), Some(_)) => {
                let incident = self.incidents.observe(ev, timestamp_ns);
                self.raise(incident, out);
            }
            (ArchivedInput::TxSubmitted(t), Some(_)) => {
                for (order, cancel) in self.intent_ops(seq, t.intent.to_native(), out) {
                    if !cancel {
                        self.order_event(order, OrderEvent::Submit, out);
                    }
                }
            }
            (ArchivedInput::TxSucceeded(t), Some(_)) => self.tx_succeeded(seq, t, out),
            (ArchivedInput::TxFailed(t), Some(_)) => self.tx_failed(seq, t, out),
            (ArchivedInput::TxExpired(t), Some(_)) => {
                self.settle(seq, t.intent.to_native(), OrderEvent::Expire, out);
            }
            (ArchivedInput::Trade(t), Some(_)) => self.trade(seq, t, out),
        }
    }

    fn start_session(&mut self, seq: u64, s: &ArchivedSessionStart, out: &mut Vec<Output>) {
        let pairs: Result<Vec<Pair>, _> = s.pairs.iter().map(|p| p.to_pair()).collect();
        let (Ok(pairs), Some(level)) = (pairs, ValidationLevel::from_code(s.validation_level)) else {
            out.push(refuse(seq, refused::BAD_SESSION));
            return;
        };
        if pairs.is_empty() || pairs.len() > usize::from(u16::MAX) || !SECURITY_LEVELS.contains(&s.security_level) {
            out.push(refuse(seq, refused::BAD_SESSION));
            return;
        }
        self.books = vec![Book::new(); pairs.len()];
        self.exposure = vec![Exposure::default(); pairs.len()];
        self.pnl = vec![PairPnl::default(); pairs.len()];
        self.validation = level;
        self.session = Some(Session {
            account: AccountId::from_bytes(s.account),
            pairs,
            security_level: s.security_level,
            seed: s.seed.to_native(),
        });
    }

    fn account_snapshot(&mut self, seq: u64, a: &ArchivedAccountSnapshot, out: &mut Vec<Output>) {
        let ours = self.session.as_ref().is_some_and(|s| *s.account.as_bytes() == a.account);
        let lines: Option<Vec<Line>> = a
            .balances
            .iter()
            .map(|b| {
                Some(Line {
                    asset: b.asset.to_asset().ok()?,
                    balance: Amount::from_stroops(b.balance_stroops.to_native()).ok()?,
                    buying_liabilities: Amount::from_stroops(b.buying_liabilities_stroops.to_native()).ok()?,
                    selling_liabilities: Amount::from_stroops(b.selling_liabilities_stroops.to_native()).ok()?,
                    limit: Amount::from_stroops(b.limit_stroops.to_native()).ok()?,
                })
            })
            .collect();
        let base_reserve = Amount::from_stroops(a.base_reserve_stroops.to_native()).ok();
        let balances = match (ours, lines, base_reserve) {
            (true, Some(lines), Some(reserve)) => Balances::new(
                reserve,
                a.subentry_count.to_native(),
                a.num_sponsoring.to_native(),
                a.num_sponsored.to_native(),
                lines,
            ),
            _ => None,
        };
        // A snapshot older than the balances in force, or than fills already settled on them
        // (the account poll raced a result or a trade), would bring back what was sold since:
        // its balances are not taken. Its offers still reconcile (they can only show less).
        let ledger = a.ledger.to_native();
        let stale =
            ledger != 0 && self.balances.as_ref().is_some_and(|b| ledger < b.ledger || ledger < b.settled_ledger);
        match balances {
            Some(_) if stale => {}
            // The snapshot already holds the liabilities of offers resting on the book at its
            // ledger; orders it has not seen yet still hold theirs on top: those in flight, and
            // those that reached the book in a later ledger.
            Some(mut b) => {
                b.ledger = ledger;
                for id in self.in_flight_orders() {
                    if let Some(o) = self.orders.get(id) {
                        let _ = b.reserve(&o.commitment);
                    }
                }
                for &id in self.offers.values() {
                    if let Some(o) = self.orders.get(id)
                        && o.accepted_ledger > ledger
                        && o.status.is_on_book()
                    {
                        let _ = b.reserve(&o.commitment);
                    }
                }
                self.balances = Some(b);
            }
            None => {
                out.push(refuse(seq, refused::BAD_ACCOUNT));
                return;
            }
        }
        self.reconcile_offers(a, out);
    }

    /// Orders whose transaction has not settled yet (pending submit or submitted), in id order:
    /// the new-offer operations of the intents still open (a handful, not every order ever).
    fn in_flight_orders(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .intents
            .iter()
            .flat_map(|(_, ops)| ops.iter())
            .filter(|(_, cancel)| !cancel)
            .map(|(order, _)| *order)
            .filter(|id| {
                self.orders
                    .get(*id)
                    .is_some_and(|o| matches!(o.status, OrderStatus::PendingSubmit | OrderStatus::Submitted))
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Compare the offers the network shows with ours:
    /// - an offer of ours shows what remains: anything less than we think is a fill;
    /// - an offer of ours accepted by the snapshot's ledger that is missing filled completely
    ///   (unless a cancel is in flight: its result decides);
    /// - an offer we do not know is a P0 incident — unless one of our transactions is still in
    ///   flight (its result may not have reached us yet), in which case the next snapshot decides.
    fn reconcile_offers(&mut self, a: &ArchivedAccountSnapshot, out: &mut Vec<Output>) {
        let ledger = a.ledger.to_native();
        let in_flight = !self.in_flight_orders().is_empty();
        let mut shown: Vec<(i64, i64)> = Vec::with_capacity(a.offers.len());
        let mut unknown = Vec::new();
        for off in a.offers.iter() {
            let (id, remaining) = (off.offer_id.to_native(), off.amount_stroops.to_native());
            shown.push((id, remaining));
            // Ours on the book are in `offers`; an offer of an order of ours that has ended may
            // still show in a snapshot read before it ended (rare: only then the full scan).
            if !self.offers.contains_key(&id) && !self.orders.iter().any(|o| o.offer_id == id) {
                unknown.push(off);
            }
        }
        shown.sort_unstable();
        // Orders on the book are those in `offers`, in order-id order as before.
        let mut on_book: Vec<Order> = self
            .offers
            .values()
            .filter_map(|id| self.orders.get(*id))
            .filter(|o| o.offer_id != 0 && o.accepted_ledger <= ledger && o.status.is_on_book())
            .copied()
            .collect();
        on_book.sort_unstable_by_key(|o| o.id);
        for o in on_book {
            let remaining_sold =
                shown.binary_search_by_key(&o.offer_id, |x| x.0).ok().and_then(|i| shown.get(i)).map(|x| x.1);
            let filled_base = match remaining_sold {
                None if o.status == OrderStatus::PendingCancel => continue,
                None => o.amount,
                Some(rest) => {
                    // What remains, in base: a sell shows base; a buy shows counter (÷ price).
                    let rest_base = match o.side {
                        Side::Sell => i128::from(rest),
                        Side::Buy => i128::from(rest) * i128::from(o.price.d()) / i128::from(o.price.n()),
                    };
                    let filled = (i128::from(o.amount.stroops()) - rest_base).clamp(0, i128::from(o.amount.stroops()));
                    Amount::from_stroops(i64::try_from(filled).unwrap_or(0)).unwrap_or(Amount::ZERO)
                }
            };
            if let Some(x) = self.orders.get_mut(o.id) {
                x.fills_through_ledger = x.fills_through_ledger.max(ledger);
            }
            if filled_base > o.filled {
                // Fills of a resting offer happen at its price.
                let base = i128::from(filled_base.stroops() - o.filled.stroops());
                let counter = base * i128::from(o.price.n()) / i128::from(o.price.d());
                // The snapshot shows it: its balances already hold this fill.
                self.credit_fill(o.id, base, counter, Some(ledger));
                let event = if filled_base >= o.amount { OrderEvent::FinalFill } else { OrderEvent::PartialFill };
                self.order_event(o.id, event, out);
            }
        }
        if in_flight || unknown.is_empty() {
            return;
        }
        // Unknown offers: the classifier raises P0; the lockdown cancels ours, and theirs too.
        let mut ops = Vec::new();
        for off in unknown {
            let id = off.offer_id.to_native();
            let incident =
                self.incidents.observe_event(&crate::events::SecurityEvent::UnknownOffer { offer_id: id }, self.now_ns);
            self.raise(incident, out);
            ops.push(OfferOp {
                order: 0,
                kind: op_kind::MANAGE_SELL,
                selling: WireAsset { code: off.selling.code, issuer: off.selling.issuer },
                buying: WireAsset { code: off.buying.code, issuer: off.buying.issuer },
                amount_stroops: 0,
                price: WirePrice { n: off.price.n.to_native(), d: off.price.d.to_native() },
                offer_id: id,
            });
        }
        self.emit_cancels(&ops, out);
    }

    fn command(&mut self, seq: u64, by: &str, cmd: &ArchivedCommand, out: &mut Vec<Output>) {
        let control =
            |what: u16, arg: u16, value: i64| Output::Control(Control { by: by.to_owned(), what, arg, value });
        match cmd {
            ArchivedCommand::Halt => {
                self.halted = true;
                out.push(control(control::HALT, 0, 0));
            }
            ArchivedCommand::Resume => {
                self.halted = false;
                out.push(control(control::RESUME, 0, 0));
            }
            ArchivedCommand::SetLimit { limit, value } => {
                let (limit, value) = (limit.to_native(), value.to_native());
                if self.limits.set(limit, value) {
                    out.push(control(control::SET_LIMIT, limit, value));
                } else {
                    out.push(refuse(seq, refused::BAD_COMMAND));
                }
            }
            ArchivedCommand::SetValidationLevel { level } => match ValidationLevel::from_code(*level) {
                Some(l) => {
                    self.validation = l;
                    out.push(control(control::SET_VALIDATION_LEVEL, 0, i64::from(*level)));
                }
                None => out.push(refuse(seq, refused::BAD_COMMAND)),
            },
            ArchivedCommand::CancelAll => {
                out.push(control(control::CANCEL_ALL, 0, 0));
                self.cancel_all(out);
            }
            ArchivedCommand::AcknowledgeIncident { incident } => {
                let id = incident.to_native();
                if self.incidents.acknowledge(id) {
                    out.push(control(control::ACKNOWLEDGE_INCIDENT, 0, i64::try_from(id).unwrap_or(i64::MAX)));
                } else {
                    out.push(refuse(seq, refused::BAD_COMMAND));
                }
            }
            ArchivedCommand::Unlock => {
                if self.incidents.unlock() {
                    out.push(control(control::UNLOCK, 0, 0));
                } else {
                    out.push(refuse(seq, refused::BAD_COMMAND));
                }
            }
        }
    }

    /// [`Engine::place_order`] from outside a strategy: tests and benchmarks only (feature
    /// `direct-orders`; an order placed this way is in no input, so replay would not place it).
    #[cfg(feature = "direct-orders")]
    pub fn place(
        &mut self,
        pair: u16,
        side: Side,
        amount: Amount,
        price: Price,
        out: &mut Vec<Output>,
    ) -> Result<u64, RejectCode> {
        self.place_order(pair, side, amount, price, out)
    }

    /// [`Engine::cancel_order`] from outside a strategy: tests and benchmarks only (feature
    /// `direct-orders`).
    #[cfg(feature = "direct-orders")]
    pub fn cancel(&mut self, order: u64, out: &mut Vec<Output>) {
        self.cancel_order(order, out);
    }

    /// Place an order (the strategy's actions, while an input is applied): every check in
    /// stage order, then a decision, and on acceptance the order (pending submit), its balance
    /// commitment and an intent for the I/O side. Returns the order id, or the reject code.
    fn place_order(
        &mut self,
        pair: u16,
        side: Side,
        amount: Amount,
        price: Price,
        out: &mut Vec<Output>,
    ) -> Result<u64, RejectCode> {
        let id = self.next_order;
        self.next_order += 1;
        let result = self.check(pair, side, amount, price);
        let decision = |reject_code| {
            Output::Decision(Decision {
                order: id,
                pair,
                side: side as u8,
                amount_stroops: amount.stroops(),
                price: price.into(),
                reject_code,
            })
        };
        let (commitment, op) = match result {
            Ok(v) => v,
            Err(code) => {
                out.push(decision(code.code()));
                if code == RejectCode::Throttled
                    && let Some(incident) = self.incidents.throttle_rejected(self.now_ns)
                {
                    self.raise(incident, out);
                }
                return Err(code);
            }
        };
        out.push(decision(0));
        if let Some(b) = self.balances.as_mut() {
            // `check` proved the commitment fits; a failure here is an overflow it also caught.
            let _ = b.reserve(&commitment);
        }
        let intent = self.next_intent;
        let status = OrderStatus::PendingSubmit;
        let order = Order {
            id,
            pair,
            side,
            amount,
            price,
            filled: Amount::ZERO,
            status,
            resting: OrderStatus::Open,
            offer_id: 0,
            accepted_ledger: 0,
            fills_through_ledger: 0,
            cancelled_ledger: 0,
            intent,
            commitment,
        };
        self.track(&order, true);
        let added = self.orders.push(order);
        assert!(added, "order ids are handed out in increasing order");
        out.push(Output::Lifecycle(LifecycleChange { order: id, from: 0, to: status as u8, event: 0 }));
        let emitted = self.emit_intent(OneOrMany::one(OfferOp { order: id, ..op }), false, out);
        debug_assert_eq!(emitted, intent);
        Ok(id)
    }

    /// Every pre-trade check, in stage order; on success the order's commitment and operation.
    fn check(
        &mut self,
        pair: u16,
        side: Side,
        amount: Amount,
        price: Price,
    ) -> Result<(Commitment, OfferOp), RejectCode> {
        let p = self
            .session
            .as_ref()
            .and_then(|s| s.pairs.get(usize::from(pair)))
            .copied()
            .ok_or(RejectCode::UnknownPair)?;
        let book = self.books.get(usize::from(pair)).ok_or(RejectCode::UnknownPair)?;
        let exposure = self.exposure.get(usize::from(pair)).ok_or(RejectCode::UnknownPair)?;
        let ctx = OrderContext {
            level: self.validation,
            locked_down: self.incidents.is_locked_down(),
            halted: self.halted,
            cancel_only: self.incidents.is_cancel_only(self.now_ns),
            best_bid: book.best_bid(),
            best_ask: book.best_ask(),
            own_best_bid: exposure.bids.last_key_value().map(|(p, _)| *p),
            own_best_ask: exposure.asks.first_key_value().map(|(p, _)| *p),
            open_orders_pair: exposure.open,
            open_orders_total: self.open_total,
            inventory_if_filled: SignedAmount::from_stroops(
                i64::try_from(exposure.inventory_stroops).map_err(|_| RejectCode::AmountOverflow)?,
            ),
            loss_today: Amount::from_stroops(
                i64::try_from((self.day_start_pnl_stroops - self.pnl_stroops()).clamp(0, i128::from(i64::MAX)))
                    .unwrap_or(i64::MAX),
            )
            .unwrap_or(Amount::MAX),
        };
        // Engine state first (so a halted engine spends no throttle tokens), then the throttle,
        // then risk (check_order runs its own stages), then balances and reserves.
        check_state(&ctx)?;
        if self.throttler.try_acquire(ThrottleOp::Place, OUR_SLOT, self.now_ns).is_err() {
            return Err(RejectCode::Throttled);
        }
        check_order(&self.limits, &ctx, &OrderRequest { side, amount, price })?;
        // As a sell offer: selling base at counter per base, or selling counter at base per counter.
        let (selling, buying, sell_amount, sell_price) = match side {
            Side::Sell => (p.selling(), p.buying(), amount, price),
            Side::Buy => (
                p.buying(),
                p.selling(),
                price.notional_ceil(amount).map_err(|_| RejectCode::AmountOverflow)?,
                price.inverse(),
            ),
        };
        let balances = self.balances.as_ref().ok_or(RejectCode::NoAccountState)?;
        let commitment = balances.commitment(selling, buying, sell_amount, sell_price, true)?;
        // The operation: a sell sells base; a buy buys base (ManageBuyOffer, at counter per
        // base), so that what it gets on arrival is the amount asked, whatever the prices it
        // crosses at. Either way the offer that rests sells `selling`, as the commitment says.
        let (kind, amount_stroops, op_price) = match side {
            Side::Sell => (op_kind::MANAGE_SELL, sell_amount.stroops(), sell_price),
            Side::Buy => (op_kind::MANAGE_BUY, amount.stroops(), price),
        };
        let op = OfferOp {
            order: 0,
            kind,
            selling: WireAsset::from(selling),
            buying: WireAsset::from(buying),
            amount_stroops,
            price: op_price.into(),
            offer_id: 0,
        };
        Ok((commitment, op))
    }

    /// Run the strategy (if any) on the engine as it now is, and carry out its actions through
    /// the same checks as every order.
    fn run_strategy(&mut self, out: &mut Vec<Output>) {
        let Some(mut strategy) = self.strategy.take() else { return };
        let mut actions = core::mem::take(&mut self.actions);
        actions.clear();
        strategy.on_input(self, &mut actions);
        for (i, action) in actions.iter().enumerate() {
            match *action {
                Action::Place { pair, side, amount, price } => {
                    let placed = self.place_order(pair, side, amount, price, out);
                    strategy.placed(i, placed.ok());
                }
                Action::Cancel { order } => self.cancel_order(order, out),
            }
        }
        self.actions = actions;
        self.strategy = Some(strategy);
    }

    /// Cancel one order resting on the book (throttled like any cancel). Orders not on the book
    /// yet, or already being cancelled, are left alone.
    fn cancel_order(&mut self, order: u64, out: &mut Vec<Output>) {
        let Some(o) = self.orders.get(order).copied() else { return };
        if !matches!(o.status, OrderStatus::Open | OrderStatus::PartiallyFilled) || o.offer_id == 0 {
            return;
        }
        if self.throttler.try_acquire(ThrottleOp::Cancel, OUR_SLOT, self.now_ns).is_err() {
            if let Some(incident) = self.incidents.throttle_rejected(self.now_ns) {
                self.raise(incident, out);
            }
            return;
        }
        self.order_event(order, OrderEvent::CancelRequest, out);
        self.emit_intent(OneOrMany::one(cancel_op(&o)), true, out);
    }

    /// Emit an intent of `ops` (all new orders, or all cancels) and remember which order each
    /// operation serves, for its result. Returns the intent's id.
    fn emit_intent(&mut self, ops: OneOrMany<OfferOp>, cancels: bool, out: &mut Vec<Output>) -> u64 {
        let id = self.next_intent;
        self.next_intent += 1;
        let added = self.intents.push((id, ops.iter().map(|op| (op.order, cancels)).collect()));
        debug_assert!(added, "intent ids are handed out in increasing order");
        out.push(Output::Intent(Intent { id, ops }));
        id
    }

    /// Emit cancels in transactions of at most [`TX_OPS_MAX`] operations.
    fn emit_cancels(&mut self, ops: &[OfferOp], out: &mut Vec<Output>) {
        for chunk in ops.chunks(TX_OPS_MAX) {
            self.emit_intent(chunk.iter().copied().collect(), true, out);
        }
    }

    /// Install the strategy (before the session's first input: replay must install the same).
    pub fn set_strategy(&mut self, strategy: Box<dyn Strategy>) {
        self.strategy = Some(strategy);
    }

    pub fn pair(&self, pair: u16) -> Option<Pair> {
        self.session.as_ref().and_then(|s| s.pairs.get(usize::from(pair))).copied()
    }

    pub fn order(&self, id: u64) -> Option<&Order> {
        self.orders.get(id)
    }

    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// A trade on a pair's stream: if one side is a resting offer of ours (accepted in an earlier
    /// ledger: fills on arrival came with the transaction result), it is a fill at that offer.
    /// Trades already applied (by id) are ignored, so a resumed stream cannot fill twice.
    fn trade(&mut self, seq: u64, t: &crate::events::ArchivedTrade, out: &mut Vec<Output>) {
        let pair = usize::from(t.pair.to_native());
        let id = t.id.to_native();
        let Some(p) = self.pnl.get_mut(pair) else {
            out.push(refuse(seq, refused::UNKNOWN_PAIR));
            return;
        };
        if id <= p.last_trade_id {
            return;
        }
        p.last_trade_id = id;
        let ledger = t.ledger.to_native();
        // No later trade of this pair can be of a ledger before this one.
        if !self.cancelled_offers.is_empty() {
            self.cancelled_offers.retain(|c| usize::from(c.pair) != pair || c.ledger >= ledger);
        }
        for offer in [t.base_offer_id.to_native(), t.counter_offer_id.to_native()] {
            let order = match self.offers.get(&offer) {
                Some(&order) => order,
                None => match self.cancelled_offers.iter().find(|c| c.offer_id == offer) {
                    Some(c) => c.order,
                    None => continue,
                },
            };
            let Some(o) = self.orders.get(order).copied() else { continue };
            // Fills of the ledger that put it on the book came with the result; those of a
            // ledger an account snapshot already showed are counted. A cancelled offer filled
            // only in ledgers up to its cancel's.
            let known = o.accepted_ledger.max(o.fills_through_ledger);
            let live = o.status.is_on_book() || (o.status == OrderStatus::Cancelled && ledger <= o.cancelled_ledger);
            if usize::from(o.pair) != pair || ledger <= known || !live {
                continue;
            }
            let base = i128::from(t.base_amount_stroops.to_native());
            let counter = i128::from(t.counter_amount_stroops.to_native());
            self.credit_fill(order, base, counter, Some(ledger));
            let Some(now) = self.orders.get(order).copied() else { continue };
            if now.filled > o.filled {
                // A cancelled order stays cancelled: the fill is recorded against it.
                let event = if now.filled >= now.amount && o.status != OrderStatus::Cancelled {
                    OrderEvent::FinalFill
                } else {
                    OrderEvent::PartialFill
                };
                self.order_event(order, event, out);
            }
        }
    }

    /// Book a fill of `base` (at most what remains) for `counter` against an order, in `ledger`
    /// (`None`: unknown): its filled amount, its pair's aggregates, the pair's cash and position,
    /// and the account's balances and the order's commitment ([`Balances::fill`]).
    fn credit_fill(&mut self, order: u64, base: i128, counter: i128, ledger: Option<u32>) {
        let Some(o) = self.orders.get(order).copied() else { return };
        let remaining = i128::from(o.amount.stroops()) - i128::from(o.filled.stroops());
        let clamped = base.clamp(0, remaining);
        if clamped == 0 {
            return;
        }
        // A report of more than remains (overlapping sources) is cut to the remainder, its
        // counter amount in proportion.
        let counter = if clamped < base { counter * clamped / base } else { counter };
        let base = clamped;
        let mut now = o;
        let filled = o.filled.stroops().saturating_add(i64::try_from(base).unwrap_or(0));
        now.filled = Amount::from_stroops(filled).unwrap_or(o.amount);
        if let Some(b) = self.balances.as_mut() {
            // A sell sells base for counter; a buy sells counter for base (its commitment's
            // selling asset is the counter asset).
            let amount =
                |x: i128| Amount::from_stroops(i64::try_from(x.max(0)).unwrap_or(i64::MAX)).unwrap_or(Amount::MAX);
            let (sold, received) = match o.side {
                Side::Sell => (amount(base), amount(counter)),
                Side::Buy => (amount(counter), amount(base)),
            };
            b.fill(&mut now.commitment, sold, received, ledger);
        }
        if !o.status.is_terminal() {
            self.track(&o, false);
            self.track(&now, true);
        }
        if let Some(o) = self.orders.get_mut(order) {
            *o = now;
        }
        if let Some(p) = self.pnl.get_mut(usize::from(o.pair)) {
            let counter = counter.max(0);
            match o.side {
                Side::Buy => {
                    p.position_base_stroops += base;
                    p.cash_counter_stroops -= counter;
                }
                Side::Sell => {
                    p.position_base_stroops -= base;
                    p.cash_counter_stroops += counter;
                }
            }
            p.last_price = Price::approximate(counter.unsigned_abs(), base.unsigned_abs()).ok().or(Some(o.price));
        }
    }

    /// A buy (ManageBuyOffer) that crossed on arrival rests for its remaining base at its own
    /// price, whatever the crossing cost: counter held beyond that — saved by crossing at
    /// better prices — is free again, as the network frees it. (Later fills of the resting
    /// offer take exactly what they sell off its hold: the network does not round it again.)
    fn rest_buy_at_its_price(&mut self, order: u64) {
        let (Some(o), Some(b)) = (self.orders.get_mut(order), self.balances.as_mut()) else { return };
        if o.status.is_terminal() {
            return;
        }
        let rest = Amount::from_stroops(o.amount.stroops() - o.filled.stroops()).unwrap_or(Amount::ZERO);
        let Ok(need) = o.price.notional_ceil(rest) else { return };
        // What it holds beyond its rest: counter to sell, and base to receive.
        let beyond = |held: Amount, kept: Amount| held.checked_sub(kept).unwrap_or(Amount::ZERO);
        let (selling, buying) =
            (beyond(o.commitment.selling_liabilities, need), beyond(o.commitment.buying_liabilities, rest));
        if selling.is_zero() && buying.is_zero() {
            return;
        }
        b.release(&Commitment {
            selling_liabilities: selling,
            buying_liabilities: buying,
            subentries: 0,
            ..o.commitment
        });
        o.commitment.selling_liabilities = o.commitment.selling_liabilities.min(need);
        o.commitment.buying_liabilities = o.commitment.buying_liabilities.min(rest);
    }

    /// Profit or loss since the session began, in counter stroops, every position marked at its
    /// book's mid (or the last fill price when there is no two-sided book).
    pub fn pnl_stroops(&self) -> i128 {
        let mut total = 0i128;
        for (i, p) in self.pnl.iter().enumerate() {
            total += p.cash_counter_stroops;
            if p.position_base_stroops == 0 {
                continue;
            }
            let book = self.books.get(i);
            let mark = match (book.and_then(Book::best_bid), book.and_then(Book::best_ask)) {
                (Some(b), Some(a)) => {
                    let (bn, bd) = (i128::from(b.n()), i128::from(b.d()));
                    let (an, ad) = (i128::from(a.n()), i128::from(a.d()));
                    Some((bn * ad + an * bd, 2 * bd * ad))
                }
                _ => p.last_price.map(|x| (i128::from(x.n()), i128::from(x.d()))),
            };
            if let Some((m, d)) = mark {
                // |position| < 2^63 and m < 2^63: the product stays below 2^127.
                total += p.position_base_stroops * m / d;
            }
        }
        total
    }

    /// Add an open order to (or remove it from) its pair's aggregates.
    fn track(&mut self, o: &Order, add: bool) {
        let Some(e) = self.exposure.get_mut(usize::from(o.pair)) else { return };
        let rest = i128::from(o.amount.stroops()) - i128::from(o.filled.stroops());
        let signed = if o.side == Side::Buy { rest } else { -rest };
        let prices = if o.side == Side::Buy { &mut e.bids } else { &mut e.asks };
        if add {
            e.open += 1;
            self.open_total += 1;
            e.inventory_stroops += signed;
            *prices.entry(o.price).or_insert(0) += 1;
        } else {
            debug_assert!(e.open > 0 && self.open_total > 0, "untracking an order that was not tracked");
            e.open = e.open.saturating_sub(1);
            self.open_total = self.open_total.saturating_sub(1);
            e.inventory_stroops -= signed;
            if let Some(n) = prices.get_mut(&o.price) {
                *n -= 1;
                if *n == 0 {
                    prices.remove(&o.price);
                }
            }
        }
    }

    /// A result proves the submission even if its "submitted" record was lost (a crash
    /// between journaling the intent and journaling the send).
    fn implied_submit(&mut self, order: u64, out: &mut Vec<Output>) {
        if self.orders.get(order).is_some_and(|o| o.status == OrderStatus::PendingSubmit) {
            self.order_event(order, OrderEvent::Submit, out);
        }
    }

    /// A transaction that failed or expired: its new orders end with `event`, its cancels fail.
    fn settle(&mut self, seq: u64, intent: u64, event: OrderEvent, out: &mut Vec<Output>) {
        for (order, cancel) in self.intent_ops(seq, intent, out) {
            if cancel {
                self.order_event(order, OrderEvent::CancelReject, out);
            } else {
                self.implied_submit(order, out);
                self.order_event(order, event, out);
            }
        }
        self.intents.remove(intent);
    }

    /// A transaction of ours failed: its new orders are rejected and its cancels fail — except
    /// a cancel that failed because the offer is no longer on the book (`txFAILED` with
    /// `OFFER_NOT_FOUND`): we did not remove it, so it was filled completely, at its price, as
    /// a snapshot missing it would say. Without this, a strategy re-cancelling the order would
    /// keep it pending forever and no snapshot would ever settle it.
    fn tx_failed(&mut self, seq: u64, t: &crate::events::ArchivedTxFailed, out: &mut Vec<Output>) {
        const TX_FAILED: i32 = -1;
        const OFFER_NOT_FOUND: i32 = -11;
        let intent = t.intent.to_native();
        let not_found = |i: usize| {
            t.tx_code.to_native() == TX_FAILED && t.op_codes.get(i).map(|c| c.to_native()) == Some(OFFER_NOT_FOUND)
        };
        for (i, (order, cancel)) in self.intent_ops(seq, intent, out).into_iter().enumerate() {
            if cancel && not_found(i) {
                let Some(o) = self.orders.get(order).copied() else { continue };
                let base = i128::from(o.amount.stroops() - o.filled.stroops());
                if base > 0 {
                    let counter = base * i128::from(o.price.n()) / i128::from(o.price.d());
                    // Gone without our cancel: it filled, at a ledger the result does not say.
                    self.credit_fill(order, base, counter, None);
                }
                self.order_event(order, OrderEvent::FinalFill, out);
            } else if cancel {
                self.order_event(order, OrderEvent::CancelReject, out);
            } else {
                self.implied_submit(order, out);
                // The venue's decision on the order, with its reason, before the status change.
                let code = RejectCode::from_venue(t.tx_code.to_native(), t.op_codes.get(i).map(|c| c.to_native()));
                if let Some(o) = self.orders.get(order) {
                    out.push(Output::Decision(Decision {
                        order,
                        pair: o.pair,
                        side: o.side as u8,
                        amount_stroops: o.amount.stroops(),
                        price: o.price.into(),
                        reject_code: code.code(),
                    }));
                }
                self.order_event(order, OrderEvent::Reject, out);
                // A refusal our checks should have prevented (crossing ourselves, underfunded):
                // recorded, and a pattern of them escalates.
                if let Some(incident) = self.incidents.order_rejected_by_venue(code, self.now_ns) {
                    self.raise(incident, out);
                }
            }
        }
        self.intents.remove(intent);
    }

    /// The operations of an intent; an unknown intent is refused.
    fn intent_ops(&self, seq: u64, intent: u64, out: &mut Vec<Output>) -> IntentOps {
        match self.intents.get(intent) {
            Some((_, ops)) => ops.clone(),
            None => {
                out.push(refuse(seq, refused::UNKNOWN_INTENT));
                IntentOps::from(Vec::new())
            }
        }
    }

    /// A transaction of ours was applied: each operation's result moves its order. What filled
    /// on arrival is read from the claims (our order sold what each crossed offer bought).
    fn tx_succeeded(&mut self, seq: u64, t: &crate::events::ArchivedTxSucceeded, out: &mut Vec<Output>) {
        use crate::events::ArchivedOfferEffect as Effect;
        let intent = t.intent.to_native();
        let ops = self.intent_ops(seq, intent, out);
        if ops.is_empty() {
            return;
        }
        if ops.len() != t.ops.len() {
            out.push(refuse(seq, refused::RESULT_MISMATCH));
            return;
        }
        self.intents.remove(intent);
        for (&(order, cancel), result) in ops.iter().zip(t.ops.iter()) {
            if !cancel {
                self.implied_submit(order, out);
            }
            let Some(o) = self.orders.get(order).copied() else { continue };
            if cancel {
                let ledger = t.ledger.to_native();
                if let Some(x) = self.orders.get_mut(order)
                    && x.status == OrderStatus::PendingCancel
                {
                    x.cancelled_ledger = ledger;
                    if self.cancelled_offers.len() == CANCELLED_OFFERS_MAX {
                        self.cancelled_offers.pop_front();
                    }
                    self.cancelled_offers.push_back(CancelledOffer {
                        offer_id: o.offer_id,
                        order,
                        pair: o.pair,
                        ledger,
                    });
                }
                self.order_event(order, OrderEvent::Cancelled, out);
                continue;
            }
            // What crossed on arrival: our order sold what each crossed offer bought, and got
            // what it sold. In base and counter: a sell sells base, a buy sells counter.
            let (mut base, mut counter) = (0i128, 0i128);
            for c in result.claims.iter() {
                let gave = i128::from(c.amount_bought_stroops.to_native());
                let got = i128::from(c.amount_sold_stroops.to_native());
                let (b, q) = if o.side == Side::Sell { (gave, got) } else { (got, gave) };
                base += b;
                counter += q;
            }
            self.credit_fill(order, base, counter, Some(t.ledger.to_native()));
            if o.side == Side::Buy && base > 0 {
                self.rest_buy_at_its_price(order);
            }
            if let Some(x) = self.orders.get_mut(order) {
                x.offer_id = result.offer_id.to_native();
                x.accepted_ledger = t.ledger.to_native();
            }
            if result.offer_id.to_native() != 0 {
                self.offers.insert(result.offer_id.to_native(), order);
            }
            let filled = self.orders.get(order).map_or(Amount::ZERO, |x| x.filled);
            let event = match (&result.effect, filled.is_zero()) {
                (Effect::Created | Effect::Updated, true) => OrderEvent::AcceptResting,
                (Effect::Created | Effect::Updated, false) => OrderEvent::AcceptPartiallyFilled,
                (Effect::Deleted, _) => OrderEvent::AcceptFilled,
            };
            self.order_event(order, event, out);
        }
        // Locked down while these orders were in flight: cancel them now that they have ids.
        if self.incidents.is_locked_down() {
            self.cancel_all(out);
        }
    }

    /// Record an incident and carry out its automatic response. A lockdown cancels every offer
    /// of ours at once (never throttled: it is the emergency brake); the posture itself (no new
    /// orders while locked down or cancel-only) is read by every later check.
    fn raise(&mut self, incident: Incident, out: &mut Vec<Output>) {
        out.push(Output::Incident(IncidentOut {
            id: incident.id,
            kind: incident.kind.code(),
            priority: incident.priority.code(),
            response: incident.response.code(),
            until_ns: incident.response.until_ns().unwrap_or(0),
        }));
        if incident.response.cancels_all() {
            self.cancel_all(out);
        }
    }

    /// Cancel every offer of ours resting on the book, in transactions of at most
    /// [`TX_OPS_MAX`] operations. Orders still in flight (pending submit, submitted) have no
    /// offer id yet; their results decide what to cancel when they arrive.
    fn cancel_all(&mut self, out: &mut Vec<Output>) {
        let resting: Vec<Order> = self
            .orders
            .iter()
            .filter(|o| matches!(o.status, OrderStatus::Open | OrderStatus::PartiallyFilled) && o.offer_id != 0)
            .copied()
            .collect();
        let mut ops = Vec::with_capacity(resting.len());
        for o in resting {
            self.order_event(o.id, OrderEvent::CancelRequest, out);
            ops.push(cancel_op(&o));
        }
        self.emit_cancels(&ops, out);
    }

    pub fn is_locked_down(&self) -> bool {
        self.incidents.is_locked_down()
    }

    pub fn is_cancel_only(&self) -> bool {
        self.incidents.is_cancel_only(self.now_ns)
    }

    /// Incidents raised and not yet acknowledged (P0–P2), by id.
    pub fn open_incidents(&self) -> impl Iterator<Item = &crate::incident::Incident> + '_ {
        self.incidents.open_incidents()
    }

    /// Move an order through the lifecycle table, recording the change (or the invalid event).
    fn order_event(&mut self, order: u64, event: OrderEvent, out: &mut Vec<Output>) {
        let Some(o) = self.orders.get_mut(order) else { return };
        match transition(o.status, event, o.resting, !o.filled.is_zero()) {
            Ok(to) => {
                if matches!(event, OrderEvent::CancelRequest | OrderEvent::ReplaceRequest) {
                    o.resting = o.status;
                }
                out.push(Output::Lifecycle(LifecycleChange {
                    order,
                    from: o.status as u8,
                    to: to as u8,
                    event: event as u8,
                }));
                let ended = to.is_terminal() && !o.status.is_terminal();
                o.status = to;
                let ended_order = *o;
                // An order that ends gives back what it still held: fills have already settled
                // their part of its commitment ([`Balances::fill`]); the next account snapshot
                // carries the network's exact liabilities.
                if ended {
                    self.orders_ended += 1;
                    // Given back once: a fill reported later (of a cancelled offer) settles the
                    // balances only.
                    o.commitment.selling_liabilities = Amount::ZERO;
                    o.commitment.buying_liabilities = Amount::ZERO;
                    o.commitment.subentries = 0;
                    if let Some(b) = self.balances.as_mut() {
                        b.release(&ended_order.commitment);
                    }
                    self.track(&ended_order, false);
                    self.offers.remove(&ended_order.offer_id);
                }
            }
            Err(e) => out.push(Output::InvalidTransition(crate::outputs::InvalidTransitionOut {
                order,
                from: e.from as u8,
                event: e.event as u8,
            })),
        }
    }

    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.iter()
    }

    pub fn book(&self, pair: u16) -> Option<&Book> {
        self.books.get(usize::from(pair))
    }

    pub fn balances(&self) -> Option<&Balances> {
        self.balances.as_ref()
    }

    /// A counter that moves whenever an order ends (see the field): while it stands still, no
    /// order has become terminal.
    pub fn orders_ended(&self) -> u64 {
        self.orders_ended
    }

    pub fn is_halted(&self) -> bool {
        self.halted
    }

    pub fn validation_level(&self) -> ValidationLevel {
        self.validation
    }

    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Recompute every derived aggregate the slow, obvious way and compare it with the one kept
    /// incrementally (a reference model for tests; O(orders)). `Err` names the first mismatch.
    pub fn check_aggregates(&self) -> Result<(), String> {
        let mut naive = vec![Exposure::default(); self.exposure.len()];
        let mut total = 0u32;
        for o in self.orders.iter().filter(|o| !o.status.is_terminal()) {
            let Some(e) = naive.get_mut(usize::from(o.pair)) else {
                return Err(format!("order {} on unknown pair", o.id));
            };
            let rest = i128::from(o.amount.stroops()) - i128::from(o.filled.stroops());
            e.open += 1;
            total += 1;
            e.inventory_stroops += if o.side == Side::Buy { rest } else { -rest };
            *(if o.side == Side::Buy { &mut e.bids } else { &mut e.asks }).entry(o.price).or_insert(0) += 1;
        }
        if total != self.open_total {
            return Err(format!("open total {} != {}", self.open_total, total));
        }
        for (pair, (kept, naive)) in self.exposure.iter().zip(naive.iter()).enumerate() {
            if kept != naive {
                return Err(format!("pair {pair}: kept {kept:?} != recomputed {naive:?}"));
            }
        }
        Ok(())
    }

    /// A digest of the whole state, the same on every machine for the same inputs.
    pub fn state_hash(&self) -> [u8; 16] {
        use core::hash::Hash;
        let mut h = StateHasher::new();
        self.config.hash(&mut h);
        self.limits.hash(&mut h);
        self.validation.hash(&mut h);
        self.session.hash(&mut h);
        self.books.hash(&mut h);
        self.balances.hash(&mut h);
        self.exposure.hash(&mut h);
        self.open_total.hash(&mut h);
        self.pnl.hash(&mut h);
        self.offers.hash(&mut h);
        self.cancelled_offers.hash(&mut h);
        (self.day, self.day_start_pnl_stroops).hash(&mut h);
        self.orders.len().hash(&mut h);
        for o in self.orders.iter() {
            o.hash(&mut h);
        }
        // The intents still open, and which order each operation serves: what their results
        // will settle.
        self.intents.len().hash(&mut h);
        for (id, ops) in self.intents.iter() {
            (id, ops.len()).hash(&mut h);
            for op in ops.iter() {
                op.hash(&mut h);
            }
        }
        self.throttler.state_hash_into(&mut h);
        self.incidents.state_hash_into(&mut h);
        if let Some(s) = &self.strategy {
            s.state_hash_into(&mut h);
        }
        (self.halted, self.now_ns, self.last_seq, self.next_order, self.next_intent).hash(&mut h);
        h.finish_128()
    }
}

/// Snapshots (the format is [`crate::snapshot`]'s): the whole state out, and back in.
impl Engine {
    /// The configuration the engine was built with.
    pub fn config(&self) -> EngineConfig {
        self.config
    }

    /// The installed strategy, if any.
    pub fn strategy(&self) -> Option<&dyn Strategy> {
        self.strategy.as_deref()
    }

    /// The last input seq applied (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The whole state as a snapshot (see [`crate::snapshot`] for the format).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.snapshot_into(&mut out);
        out
    }

    /// [`Engine::snapshot`] into `out` (cleared first), reusing its allocation.
    pub fn snapshot_into(&self, out: &mut Vec<u8>) {
        snapshot::frame(out, self.last_seq, self.state_hash(), |out| self.encode_body(out));
    }

    /// The engine a snapshot holds, for an engine built with `config` and `strategy` installed
    /// (its parameters; its state comes from the snapshot). Refused: bytes that are not a sound
    /// snapshot of this format version ([`SnapshotError::Corrupt`], [`SnapshotError::Version`]),
    /// including a state whose recomputed hash is not the stored one; and a snapshot of another
    /// configuration or strategy ([`SnapshotError::Mismatch`]). Never panics, whatever the bytes.
    pub fn restore(
        bytes: &[u8],
        config: EngineConfig,
        strategy: Option<&dyn Strategy>,
    ) -> Result<Engine, SnapshotError> {
        let (header, body) = snapshot::open(bytes)?;
        let mut r = Reader::new(body);
        let engine = Engine::decode_body(&mut r, config, strategy)?;
        if !r.is_empty() {
            return Err(corrupt("bytes after the state"));
        }
        if engine.last_seq != header.seq {
            return Err(corrupt("the header's seq is not the state's"));
        }
        engine.check_aggregates().map_err(|_| corrupt("open-order aggregates do not match the orders"))?;
        if engine.state_hash() != header.state_hash {
            return Err(corrupt("the restored state's hash is not the stored one"));
        }
        Ok(engine)
    }

    /// [`Engine::restore`] for an engine set up like this one (its configuration and strategy
    /// parameters; none of its state is used).
    pub fn restore_like(&self, bytes: &[u8]) -> Result<Engine, SnapshotError> {
        Engine::restore(bytes, self.config, self.strategy.as_deref())
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        encode_config(out, &self.config);
        encode_limits(out, &self.limits);
        put_u8(out, self.validation as u8);
        put_bool(out, self.session.is_some());
        if let Some(s) = &self.session {
            out.extend_from_slice(s.account.as_bytes());
            put_len(out, s.pairs.len());
            for p in &s.pairs {
                put_pair(out, *p);
            }
            put_u8(out, s.security_level);
            put_u64(out, s.seed);
        }
        put_len(out, self.books.len());
        for b in &self.books {
            b.encode_snapshot(out);
        }
        put_bool(out, self.balances.is_some());
        if let Some(b) = &self.balances {
            b.encode_snapshot(out);
        }
        put_len(out, self.orders.len());
        for o in self.orders.iter() {
            encode_order(out, o);
        }
        put_len(out, self.exposure.len());
        for e in &self.exposure {
            put_u32(out, e.open);
            put_i128(out, e.inventory_stroops);
            for prices in [&e.bids, &e.asks] {
                put_len(out, prices.len());
                for (p, n) in prices {
                    put_price(out, *p);
                    put_u32(out, *n);
                }
            }
        }
        put_u32(out, self.open_total);
        put_len(out, self.pnl.len());
        for p in &self.pnl {
            put_i128(out, p.cash_counter_stroops);
            put_i128(out, p.position_base_stroops);
            put_opt_price(out, p.last_price);
            put_u128(out, p.last_trade_id);
        }
        put_len(out, self.offers.len());
        for (offer, order) in &self.offers {
            put_i64(out, *offer);
            put_u64(out, *order);
        }
        put_len(out, self.cancelled_offers.len());
        for c in &self.cancelled_offers {
            put_i64(out, c.offer_id);
            put_u64(out, c.order);
            put_u16(out, c.pair);
            put_u32(out, c.ledger);
        }
        put_i64(out, self.day);
        put_i128(out, self.day_start_pnl_stroops);
        put_len(out, self.intents.len());
        for (id, ops) in self.intents.iter() {
            put_u64(out, *id);
            put_len(out, ops.len());
            for (order, cancel) in ops.iter() {
                put_u64(out, *order);
                put_bool(out, *cancel);
            }
        }
        self.throttler.encode_snapshot(out);
        self.incidents.encode_snapshot(out);
        match &self.strategy {
            Some(s) => {
                s.encode_setup(out);
                s.encode_state(out);
            }
            None => put_u8(out, snapshot::STRATEGY_NONE),
        }
        put_bool(out, self.halted);
        put_i64(out, self.now_ns);
        put_u64(out, self.last_seq);
        put_u64(out, self.next_order);
        put_u64(out, self.next_intent);
    }

    fn decode_body(
        r: &mut Reader<'_>,
        config: EngineConfig,
        strategy: Option<&dyn Strategy>,
    ) -> Result<Engine, SnapshotError> {
        if decode_config(r)? != config {
            return Err(SnapshotError::Mismatch { what: "the engine configuration" });
        }
        let limits = decode_limits(r)?;
        let validation = ValidationLevel::from_code(r.u8()?).ok_or(corrupt("a validation level"))?;
        let session = if r.bool()? {
            let account = AccountId::from_bytes(r.array()?);
            let n = r.len(2)?;
            if n == 0 || n > usize::from(u16::MAX) {
                return Err(corrupt("a session without pairs, or with too many"));
            }
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                pairs.push(r.pair()?);
            }
            Some(Session { account, pairs, security_level: r.u8()?, seed: r.u64()? })
        } else {
            None
        };
        let pairs_count = session.as_ref().map_or(0, |s| s.pairs.len());
        let count = |r: &mut Reader<'_>, elem_min_bytes: usize| -> Result<usize, SnapshotError> {
            let n = r.len(elem_min_bytes)?;
            if n != pairs_count {
                return Err(corrupt("per-pair state is not one per session pair"));
            }
            Ok(n)
        };
        let n = count(r, 9)?;
        let mut books = Vec::with_capacity(n);
        for _ in 0..n {
            books.push(Book::decode_snapshot(r)?);
        }
        let balances = if r.bool()? { Some(Balances::decode_snapshot(r)?) } else { None };
        let n = r.len(82)?;
        let mut orders = IdTable::default();
        for _ in 0..n {
            let o = decode_order(r)?;
            if usize::from(o.pair) >= pairs_count || !orders.push(o) {
                return Err(corrupt("orders out of id order, or on a pair the session does not have"));
            }
        }
        let n = count(r, 28)?;
        let mut exposure = Vec::with_capacity(n);
        for _ in 0..n {
            let (open, inventory_stroops) = (r.u32()?, r.i128()?);
            let mut sides = [BTreeMap::new(), BTreeMap::new()];
            for prices in &mut sides {
                let m = r.len(12)?;
                for _ in 0..m {
                    let (p, count) = (r.price()?, r.u32()?);
                    if count == 0 || prices.last_key_value().is_some_and(|(&k, _)| k >= p) {
                        return Err(corrupt("own price levels out of order or empty"));
                    }
                    prices.insert(p, count);
                }
            }
            let [bids, asks] = sides;
            exposure.push(Exposure { open, inventory_stroops, bids, asks });
        }
        let open_total = r.u32()?;
        let n = count(r, 49)?;
        let mut pnl = Vec::with_capacity(n);
        for _ in 0..n {
            let p = PairPnl {
                cash_counter_stroops: r.i128()?,
                position_base_stroops: r.i128()?,
                last_price: r.opt_price()?,
                last_trade_id: r.u128()?,
            };
            // Marking multiplies the position by a price component (< 2^63): keep every
            // product and sum far from i128's edge, as real sessions are.
            if p.position_base_stroops.unsigned_abs() > PNL_STROOPS_MAX
                || p.cash_counter_stroops.unsigned_abs() > PNL_STROOPS_MAX
            {
                return Err(corrupt("a position or cash amount out of range"));
            }
            pnl.push(p);
        }
        let n = r.len(16)?;
        let mut offers = BTreeMap::new();
        for _ in 0..n {
            let (offer, order) = (r.i64()?, r.u64()?);
            if offers.last_key_value().is_some_and(|(&k, _)| k >= offer) {
                return Err(corrupt("offers out of order"));
            }
            offers.insert(offer, order);
        }
        let n = r.len(22)?;
        if n > CANCELLED_OFFERS_MAX {
            return Err(corrupt("more cancelled offers than are kept"));
        }
        let mut cancelled_offers = VecDeque::with_capacity(CANCELLED_OFFERS_MAX);
        for _ in 0..n {
            let c = CancelledOffer { offer_id: r.i64()?, order: r.u64()?, pair: r.u16()?, ledger: r.u32()? };
            // Each names a cancelled order of ours as that order records it: a late trade is
            // booked against the order an entry names.
            let names_its_order = orders.get(c.order).is_some_and(|o| {
                o.status == OrderStatus::Cancelled
                    && o.offer_id == c.offer_id
                    && o.pair == c.pair
                    && o.cancelled_ledger == c.ledger
                    && c.offer_id != 0
            });
            if !names_its_order {
                return Err(corrupt("a cancelled offer that is not its order's"));
            }
            cancelled_offers.push_back(c);
        }
        let day = r.i64()?;
        let day_start_pnl_stroops = r.i128()?;
        if day_start_pnl_stroops.unsigned_abs() > PNL_STROOPS_MAX.saturating_mul(u128::from(u16::MAX) + 1) {
            return Err(corrupt("the day's starting PnL out of range"));
        }
        let n = r.len(12)?;
        let mut intents = IdTable::default();
        for _ in 0..n {
            let id = r.u64()?;
            let m = r.len(9)?;
            if m > TX_OPS_MAX || intents.last_id().is_some_and(|k| k >= id) {
                return Err(corrupt("intents out of order, or with too many operations"));
            }
            let mut ops = Vec::with_capacity(m);
            for _ in 0..m {
                ops.push((r.u64()?, r.bool()?));
            }
            let _ = intents.push((id, ops.into_iter().collect()));
        }
        let throttler = Throttler::decode_snapshot(config.throttle, r)?;
        let incidents = IncidentClassifier::decode_snapshot(config.incidents, r)?;
        let restored = crate::strategy::decode_strategy(r)?;
        let setup = |s: Option<&dyn Strategy>| {
            let mut out = Vec::new();
            match s {
                Some(s) => s.encode_setup(&mut out),
                None => put_u8(&mut out, snapshot::STRATEGY_NONE),
            }
            out
        };
        if setup(restored.as_deref()) != setup(strategy) {
            return Err(SnapshotError::Mismatch { what: "the strategy or its parameters" });
        }
        let (halted, now_ns, last_seq, next_order, next_intent) = (r.bool()?, r.i64()?, r.u64()?, r.u64()?, r.u64()?);
        if orders.last_id().is_some_and(|k| k >= next_order) || intents.last_id().is_some_and(|k| k >= next_intent) {
            return Err(corrupt("ids at or past the next id"));
        }
        Ok(Engine {
            config,
            limits,
            validation,
            session,
            books,
            balances,
            orders,
            exposure,
            open_total,
            pnl,
            offers,
            cancelled_offers,
            day,
            day_start_pnl_stroops,
            intents,
            throttler,
            incidents,
            strategy: restored,
            actions: Vec::new(),
            halted,
            now_ns,
            last_seq,
            next_order,
            next_intent,
            orders_ended: 0,
        })
    }
}

/// Largest |position| or |cash| on one pair a snapshot may hold, in stroops: 2^63 − 1, the
/// bound PnL marking relies on (a real session's sums stay far below it).
const PNL_STROOPS_MAX: u128 = i64::MAX as u128;

fn encode_limits(out: &mut Vec<u8>, l: &RiskLimits) {
    put_i64(out, l.order_amount_stroops_max);
    put_i64(out, l.order_notional_stroops_max);
    put_u32(out, l.price_band_bps_max);
    put_u32(out, l.open_orders_pair_max);
    put_u32(out, l.open_orders_total_max);
    put_i64(out, l.inventory_stroops_max);
    put_i64(out, l.daily_loss_stroops_max);
}

fn decode_limits(r: &mut Reader<'_>) -> Result<RiskLimits, SnapshotError> {
    Ok(RiskLimits {
        order_amount_stroops_max: r.i64()?,
        order_notional_stroops_max: r.i64()?,
        price_band_bps_max: r.u32()?,
        open_orders_pair_max: r.u32()?,
        open_orders_total_max: r.u32()?,
        inventory_stroops_max: r.i64()?,
        daily_loss_stroops_max: r.i64()?,
    })
}

/// The configuration: risk limits, every throttle limit (per op in code order, then the
/// account's and the global), the validation level, the incident thresholds in field order.
fn encode_config(out: &mut Vec<u8>, c: &EngineConfig) {
    encode_limits(out, &c.risk);
    let limit = |out: &mut Vec<u8>, l: LimitConfig| {
        put_u32(out, l.capacity_tokens);
        put_u64(out, l.interval_ns);
    };
    for op in ThrottleOp::ALL {
        let o = c.throttle.op(op);
        put_u32(out, o.weight_tokens);
        limit(out, o.per_account);
        limit(out, o.global);
    }
    limit(out, c.throttle.account);
    limit(out, c.throttle.global);
    put_u8(out, c.validation as u8);
    let i = &c.incidents;
    for (max, window_ns) in [
        (i.auth_failures_max, i.auth_failure_window_ns),
        (i.signer_failures_max, i.signer_failure_window_ns),
        (i.rate_limits_max, i.rate_limit_window_ns),
        (i.throttle_rejects_max, i.throttle_reject_window_ns),
        (i.throttle_storms_max, i.throttle_storm_window_ns),
        (i.venue_mismatches_max, i.venue_mismatch_window_ns),
    ] {
        put_u32(out, max);
        put_u64(out, window_ns);
    }
    put_u64(out, i.cancel_only_cooldown_ns);
    put_u32(out, i.open_incidents_max);
}

fn decode_config(r: &mut Reader<'_>) -> Result<EngineConfig, SnapshotError> {
    let risk = decode_limits(r)?;
    let limit = |r: &mut Reader<'_>| -> Result<LimitConfig, SnapshotError> {
        Ok(LimitConfig { capacity_tokens: r.u32()?, interval_ns: r.u64()? })
    };
    let mut throttle = ThrottleConfig::DEFAULT;
    for op in ThrottleOp::ALL {
        let o = throttle.op_mut(op);
        o.weight_tokens = r.u32()?;
        o.per_account = limit(r)?;
        o.global = limit(r)?;
    }
    throttle.account = limit(r)?;
    throttle.global = limit(r)?;
    let validation = ValidationLevel::from_code(r.u8()?).ok_or(corrupt("a validation level"))?;
    let mut windows = [(0u32, 0u64); 6];
    for w in &mut windows {
        *w = (r.u32()?, r.u64()?);
    }
    let [auth, signer, rate, rejects, storms, venue] = windows;
    let incidents = IncidentConfig {
        auth_failures_max: auth.0,
        auth_failure_window_ns: auth.1,
        signer_failures_max: signer.0,
        signer_failure_window_ns: signer.1,
        rate_limits_max: rate.0,
        rate_limit_window_ns: rate.1,
        throttle_rejects_max: rejects.0,
        throttle_reject_window_ns: rejects.1,
        throttle_storms_max: storms.0,
        throttle_storm_window_ns: storms.1,
        venue_mismatches_max: venue.0,
        venue_mismatch_window_ns: venue.1,
        cancel_only_cooldown_ns: r.u64()?,
        open_incidents_max: r.u32()?,
    };
    Ok(EngineConfig { risk, throttle, validation, incidents })
}

fn encode_order(out: &mut Vec<u8>, o: &Order) {
    put_u64(out, o.id);
    put_u16(out, o.pair);
    put_u8(out, o.side as u8);
    put_amount(out, o.amount);
    put_price(out, o.price);
    put_amount(out, o.filled);
    put_u8(out, o.status as u8);
    put_u8(out, o.resting as u8);
    put_i64(out, o.offer_id);
    put_u32(out, o.accepted_ledger);
    put_u32(out, o.fills_through_ledger);
    put_u32(out, o.cancelled_ledger);
    put_u64(out, o.intent);
    let c = &o.commitment;
    put_asset(out, c.selling);
    put_asset(out, c.buying);
    put_amount(out, c.selling_liabilities);
    put_amount(out, c.buying_liabilities);
    put_u32(out, c.subentries);
}

fn decode_order(r: &mut Reader<'_>) -> Result<Order, SnapshotError> {
    let (id, pair) = (r.u64()?, r.u16()?);
    let side = match r.u8()? {
        1 => Side::Sell,
        2 => Side::Buy,
        _ => return Err(corrupt("a side")),
    };
    let (amount, price, filled) = (r.amount()?, r.price()?, r.amount()?);
    let status = OrderStatus::from_code(r.u8()?).ok_or(corrupt("an order status"))?;
    let resting = OrderStatus::from_code(r.u8()?).ok_or(corrupt("an order status"))?;
    if filled > amount {
        return Err(corrupt("an order filled beyond its amount"));
    }
    let (offer_id, accepted_ledger, fills_through_ledger) = (r.i64()?, r.u32()?, r.u32()?);
    let (cancelled_ledger, intent) = (r.u32()?, r.u64()?);
    let commitment = Commitment {
        selling: r.asset()?,
        buying: r.asset()?,
        selling_liabilities: r.amount()?,
        buying_liabilities: r.amount()?,
        subentries: r.u32()?,
    };
    Ok(Order {
        id,
        pair,
        side,
        amount,
        price,
        filled,
        status,
        resting,
        offer_id,
        accepted_ledger,
        fills_through_ledger,
        cancelled_ledger,
        intent,
        commitment,
    })
}

/// The operation that cancels an order's resting offer (a ManageSellOffer of amount 0, in the
/// terms the offer was placed in: buys were placed as sells of the counter asset).
fn cancel_op(o: &Order) -> OfferOp {
    let sell_price = if o.side == Side::Sell { o.price } else { o.price.inverse() };
    OfferOp {
        order: o.id,
        kind: op_kind::MANAGE_SELL,
        selling: WireAsset::from(o.commitment.selling),
        buying: WireAsset::from(o.commitment.buying),
        amount_stroops: 0,
        price: sell_price.into(),
        offer_id: o.offer_id,
    }
}

fn refuse(seq: u64, reason: u16) -> Output {
    Output::InputRefused(InputRefused { seq, reason })
}
