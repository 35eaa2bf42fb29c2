//! The engine against a naive reference model, on random streams of inputs: book snapshots,
//! operator commands (halt, resume, limits, validation levels, cancel all), placements, cancels,
//! submissions, transaction results (resting, filled on arrival, failed, expired) and trades
//! against our offers.
//!
//! The model is written to be obviously right rather than fast, and differently from the
//! engine:
//! - **risk**: every pre-trade check recomputed from scratch by scanning the model's own orders
//!   (open counts, own best prices, inventory were every order filled), the price band in exact
//!   rational arithmetic on the mid, in the stages' order;
//! - **lifecycle**: an order's status is not kept but *derived* from facts about it (submitted,
//!   on the book, filled amount, cancel pending, cancelled, refused, expired) — where the engine
//!   walks a transition table.
//!
//! After every step the engine's decisions (accept or reject code), the intents it emits
//! (their ids and which orders they serve), and every order's status and filled amount must be
//! the model's.

use std::cmp::Ordering;

mod support;

use proptest::prelude::*;
use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{
    BookSnapshot, Claim, Command, Input, Level, OfferEffect, OpResult, OperatorCommand, Trade, TxExpired, TxFailed,
    TxSubmitted, TxSucceeded, WireAsset, WirePrice,
};
use starlog_engine::incident::IncidentConfig;
use starlog_engine::lifecycle::OrderStatus;
use starlog_engine::outputs::Output;
use starlog_engine::risk::{RejectCode, RiskLimits, Side, ValidationLevel};
use starlog_engine::throttle::ThrottleConfig;
use starlog_engine::{Amount, Asset, Price};

/// Our account in `support::session` and `support::account`.
const ACCOUNT: [u8; 32] = [9; 32];
/// Prices are `n / PRICE_D` counter per base.
const PRICE_D: i32 = 10_000;

const LIMITS: RiskLimits = RiskLimits {
    order_amount_stroops_max: 10_000_000_000,
    order_notional_stroops_max: 1_000_000_000,
    price_band_bps_max: 500,
    open_orders_pair_max: 6,
    open_orders_total_max: 8,
    inventory_stroops_max: 20_000_000_000,
    // Daily loss is its own test's subject (marked PnL); out of the way here.
    daily_loss_stroops_max: i64::MAX,
};

/// Throttles out of the way: they have their own model tests.
fn engine() -> Engine {
    let throttle = ThrottleConfig::unlimited();
    Engine::new(EngineConfig {
        risk: LIMITS,
        throttle,
        validation: ValidationLevel::Strict,
        incidents: IncidentConfig::DEFAULT,
    })
    .unwrap()
}

#[derive(Clone, Debug)]
enum Step {
    Book(i32, i32),
    Halt,
    Resume,
    Level(u8),
    Limit(u16, i64),
    CancelAll,
    /// Sell?, amount in stroops, price numerator.
    Place(bool, i64, i32),
    /// Cancel the n-th order (mod the number of orders).
    Cancel(usize),
    /// The n-th pending intent (mod their number) was sent.
    Submit(usize),
    /// The n-th pending intent's transaction succeeded: new orders rest (or, if the flag, fill
    /// completely on arrival); cancels land.
    Succeed(usize, bool),
    /// Failed: with `op_offer_not_found` per operation (a cancel of an offer already gone:
    /// it filled), or as a whole (`txBAD_SEQ`).
    Fail(usize, bool),
    Expire(usize),
    /// A trade of this many stroops of base against the n-th order's offer.
    Trade(usize, i64),
    /// A trade against the n-th order's offer reported after its cancel landed, of the
    /// cancel's ledger (the trades stream lagging the results): it filled in part before.
    LateTrade(usize, i64),
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    prop_oneof![
        2 => (950i32..1000, 1i32..60).prop_map(|(bid, spread)| Step::Book(bid, bid + spread)),
        1 => Just(Step::Halt),
        2 => Just(Step::Resume),
        1 => (0u8..6).prop_map(Step::Level),
        // Every limit code and some that are none, but 7 (daily loss: marked PnL has its own
        // tests, and the model does not mark positions).
        // Values small (counts, bands) and large (amounts), some out of range.
        1 => (prop::sample::select(vec![0u16, 1, 2, 3, 4, 5, 6, 8]), prop_oneof![-5i64..20, -5i64..30_000_000_000])
            .prop_map(|(l, v)| Step::Limit(l, v)),
        1 => Just(Step::CancelAll),
        8 => (any::<bool>(), 1i64..12_000_000_000, 900i32..1100).prop_map(|(s, a, p)| Step::Place(s, a, p)),
        2 => any::<usize>().prop_map(Step::Cancel),
        2 => any::<usize>().prop_map(Step::Submit),
        5 => (any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(i, f)| Step::Succeed(i, f)),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(i, nf)| Step::Fail(i, nf)),
        1 => any::<usize>().prop_map(Step::Expire),
        4 => (any::<usize>(), 1i64..6_000_000_000).prop_map(|(i, b)| Step::Trade(i, b)),
        2 => (any::<usize>(), 1i64..6_000_000_000).prop_map(|(i, b)| Step::LateTrade(i, b)),
    ]
}

/// What the model knows of an order: facts, from which its status follows.
#[derive(Clone, Debug)]
struct Facts {
    id: u64,
    side: Side,
    amount: i64,
    price: (i32, i32),
    filled: i64,
    submitted: bool,
    /// The result that put it on the book (or filled it on arrival) arrived.
    accepted: bool,
    accepted_ledger: u32,
    offer_id: i64,
    cancel_pending: bool,
    cancelled: bool,
    /// The ledger of the result that cancelled it.
    cancelled_ledger: u32,
    refused: bool,
    expired: bool,
}

impl Facts {
    /// The status the facts add up to.
    fn status(&self) -> OrderStatus {
        use OrderStatus as S;
        let complete = self.filled >= self.amount;
        if self.refused {
            S::Rejected
        } else if self.expired {
            S::Expired
        } else if complete {
            S::Filled
        } else if self.cancelled {
            S::Cancelled
        } else if !self.submitted {
            S::PendingSubmit
        } else if self.cancel_pending {
            S::PendingCancel
        } else if self.filled > 0 {
            S::PartiallyFilled
        } else if self.accepted {
            S::Open
        } else {
            S::Submitted
        }
    }

    fn is_live(&self) -> bool {
        !matches!(
            self.status(),
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected | OrderStatus::Expired
        )
    }

    /// Base the order would add (buy) or remove (sell) were its remainder filled.
    fn signed_rest(&self) -> i128 {
        let rest = i128::from(self.amount - self.filled);
        if self.side == Side::Buy { rest } else { -rest }
    }
}

/// The naive model of the engine's orders, risk checks and intents.
#[derive(Debug)]
struct Model {
    limits: RiskLimits,
    level: u8,
    halted: bool,
    book: Option<((i32, i32), (i32, i32))>,
    orders: Vec<Facts>,
    next_order: u64,
    next_intent: u64,
    /// Intents without a result: id, and (order, is a cancel) per operation.
    intents: Vec<(u64, Vec<(u64, bool)>)>,
}

/// `a/b` against `c/d` (positive denominators).
fn cmp_frac(a: i128, b: i128, c: i128, d: i128) -> Ordering {
    (a * d).cmp(&(c * b))
}

impl Model {
    fn new() -> Model {
        Model {
            limits: LIMITS,
            // `support::session` starts the session at STRICT.
            level: 3,
            halted: false,
            book: None,
            orders: Vec::new(),
            next_order: 1,
            next_intent: 1,
            intents: Vec::new(),
        }
    }

    fn order(&mut self, id: u64) -> &mut Facts {
        self.orders.iter_mut().find(|o| o.id == id).expect("a known order")
    }

    fn set_limit(&mut self, code: u16, value: i64) {
        let l = &mut self.limits;
        let fits_u32 = (0..=i64::from(u32::MAX)).contains(&value);
        match code {
            1 if value >= 0 => l.order_amount_stroops_max = value,
            2 if value >= 0 => l.order_notional_stroops_max = value,
            3 if (0..=10_000).contains(&value) => l.price_band_bps_max = value as u32,
            4 if fits_u32 => l.open_orders_pair_max = value as u32,
            5 if fits_u32 => l.open_orders_total_max = value as u32,
            6 if value >= 0 => l.inventory_stroops_max = value,
            7 if value >= 0 => l.daily_loss_stroops_max = value,
            _ => {}
        }
    }

    /// |price − mid| ≤ mid · band / 10⁴, over fractions with a common denominator.
    fn in_band(&self, (pn, pd): (i32, i32)) -> Option<bool> {
        let ((bn, bd), (an, ad)) = self.book?;
        let (pn, pd, bn, bd, an, ad) = (pn as i128, pd as i128, bn as i128, bd as i128, an as i128, ad as i128);
        // mid = (bn/bd + an/ad) / 2 = (bn·ad + an·bd) / (2·bd·ad)
        let (mn, md) = (bn * ad + an * bd, 2 * bd * ad);
        // |pn/pd − mn/md| = |pn·md − mn·pd| / (pd·md)
        let distance = (pn * md - mn * pd).abs();
        let allowed = mn * pd * i128::from(self.limits.price_band_bps_max);
        Some(distance * 10_000 <= allowed)
    }

    fn check(&self, side: Side, amount: i64, price: (i32, i32)) -> Result<(), RejectCode> {
        if self.halted {
            return Err(RejectCode::Halted);
        }
        if amount > self.limits.order_amount_stroops_max {
            return Err(RejectCode::OrderAmountMax);
        }
        let live: Vec<&Facts> = self.orders.iter().filter(|o| o.is_live()).collect();
        if self.level >= 2 {
            // Notional rounded up: ⌈amount · n / d⌉.
            let (n, d) = (i128::from(price.0), i128::from(price.1));
            let notional = (i128::from(amount) * n + d - 1) / d;
            if notional > i128::from(self.limits.order_notional_stroops_max) {
                return Err(RejectCode::OrderNotionalMax);
            }
            let in_band = match self.in_band(price) {
                Some(ok) => ok,
                None if self.level >= 4 => return Err(RejectCode::NoReferencePrice),
                None => true,
            };
            if !in_band {
                return Err(RejectCode::PriceBand);
            }
            let p = |o: &Facts| (i128::from(o.price.0), i128::from(o.price.1));
            let crosses = live.iter().filter(|o| o.side != side).any(|o| {
                let (on, od) = p(o);
                let c = cmp_frac(i128::from(price.0), i128::from(price.1), on, od);
                if side == Side::Sell { c != Ordering::Greater } else { c != Ordering::Less }
            });
            if crosses {
                return Err(RejectCode::SelfCross);
            }
            if live.len() as u64 >= u64::from(self.limits.open_orders_pair_max) {
                return Err(RejectCode::OpenOrdersPairMax);
            }
            if live.len() as u64 >= u64::from(self.limits.open_orders_total_max) {
                return Err(RejectCode::OpenOrdersTotalMax);
            }
        }
        if self.level >= 3 {
            let before: i128 = live.iter().map(|o| o.signed_rest()).sum();
            let after = if side == Side::Buy { before + i128::from(amount) } else { before - i128::from(amount) };
            if after.abs() > i128::from(self.limits.inventory_stroops_max) && after.abs() > before.abs() {
                return Err(RejectCode::InventoryMax);
            }
        }
        Ok(())
    }

    /// A placement: the predicted decision, and on acceptance the order and its intent.
    fn place(&mut self, side: Side, amount: i64, price: (i32, i32)) -> Result<u64, RejectCode> {
        let id = self.next_order;
        self.next_order += 1;
        self.check(side, amount, price)?;
        self.orders.push(Facts {
            id,
            side,
            amount,
            price,
            filled: 0,
            submitted: false,
            accepted: false,
            accepted_ledger: 0,
            offer_id: 0,
            cancel_pending: false,
            cancelled: false,
            cancelled_ledger: 0,
            refused: false,
            expired: false,
        });
        self.intents.push((self.next_intent, vec![(id, false)]));
        self.next_intent += 1;
        Ok(id)
    }

    fn can_cancel(o: &Facts) -> bool {
        matches!(o.status(), OrderStatus::Open | OrderStatus::PartiallyFilled) && o.offer_id != 0
    }

    fn cancel(&mut self, id: u64) {
        if !Model::can_cancel(self.order(id)) {
            return;
        }
        self.order(id).cancel_pending = true;
        self.intents.push((self.next_intent, vec![(id, true)]));
        self.next_intent += 1;
    }

    fn cancel_all(&mut self) {
        let ids: Vec<u64> = self.orders.iter().filter(|o| Model::can_cancel(o)).map(|o| o.id).collect();
        for chunk in ids.chunks(100) {
            for &id in chunk {
                self.order(id).cancel_pending = true;
            }
            self.intents.push((self.next_intent, chunk.iter().map(|&id| (id, true)).collect()));
            self.next_intent += 1;
        }
    }

    /// A fill of `base` against order `id` in `ledger` (only while on the book, only after the
    /// ledger that put it there, never beyond its amount).
    fn trade(&mut self, id: u64, base: i64, ledger: u32) {
        let o = self.order(id);
        let on_book = o.accepted && o.is_live();
        if on_book && ledger > o.accepted_ledger {
            o.filled += base.min(o.amount - o.filled);
        }
    }

    /// A fill of `base` against cancelled order `id` in `ledger`: booked if the offer was on
    /// the book then (after the ledger that put it there, up to the one that cancelled it).
    fn late_trade(&mut self, id: u64, base: i64, ledger: u32) {
        let o = self.order(id);
        if o.cancelled && ledger > o.accepted_ledger && ledger <= o.cancelled_ledger {
            o.filled += base.min(o.amount - o.filled);
        }
    }
}

fn wire_price((n, d): (i32, i32)) -> WirePrice {
    WirePrice { n, d }
}

struct Run {
    engine: Engine,
    model: Model,
    seq: u64,
    ts: i64,
    ledger: u32,
    next_offer: i64,
    next_trade: u128,
    /// The ledger of the last trade fed (the stream's ledgers never go back).
    last_trade_ledger: u32,
    /// Intents the driver already reported as sent.
    sent: Vec<u64>,
    out: Vec<Output>,
}

impl Run {
    fn feed(&mut self, input: &Input) -> Vec<Output> {
        self.seq += 1;
        self.ts += 1_000_000;
        let bytes = starlog_engine::events::to_bytes(input).unwrap();
        let mut out = Vec::new();
        self.engine.apply(self.seq, self.ts, starlog_engine::events::access(&bytes).unwrap(), &mut out);
        out
    }

    /// The intents among `out`, as (id, [(order, is a cancel)]).
    fn intents(out: &[Output]) -> Vec<(u64, Vec<(u64, bool)>)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Intent(i) => Some((i.id, i.ops.iter().map(|op| (op.order, op.amount_stroops == 0)).collect())),
                _ => None,
            })
            .collect()
    }

    fn operator(&mut self, command: Command) -> Vec<Output> {
        self.feed(&Input::Operator(OperatorCommand { operator: "op".into(), command }))
    }

    fn nth_intent(&self, n: usize) -> Option<(u64, Vec<(u64, bool)>)> {
        (!self.model.intents.is_empty()).then(|| self.model.intents[n % self.model.intents.len()].clone())
    }

    /// Feed the next trade of the stream: `base` of order `o`'s offer in `ledger`, at its price.
    fn trade_against(&mut self, o: &Facts, base: i64, ledger: u32) -> Vec<Output> {
        self.next_trade += 1;
        self.last_trade_ledger = ledger;
        self.feed(&Input::Trade(Trade {
            pair: 0,
            id: self.next_trade,
            ledger,
            ledger_close_time: 0,
            price: wire_price(o.price),
            base_amount_stroops: base,
            counter_amount_stroops: base / 10,
            base_is_seller: o.side == Side::Sell,
            base_offer_id: if o.side == Side::Sell { o.offer_id } else { 4242 },
            counter_offer_id: if o.side == Side::Buy { o.offer_id } else { 4242 },
            base_account: ACCOUNT,
            counter_account: [7; 32],
        }))
    }

    fn settle(&mut self, intent: u64) {
        self.model.intents.retain(|(id, _)| *id != intent);
    }

    fn step(&mut self, s: &Step) {
        let first_new = self.model.next_intent;
        let out = match *s {
            Step::Book(bid, ask) => {
                self.model.book = Some(((bid, PRICE_D), (ask, PRICE_D)));
                let level = |n| Level { price: WirePrice { n, d: PRICE_D }, amount_stroops: 100_000_000 };
                self.feed(&Input::Book(BookSnapshot { pair: 0, bids: vec![level(bid)], asks: vec![level(ask)] }))
            }
            Step::Halt => {
                self.model.halted = true;
                self.operator(Command::Halt)
            }
            Step::Resume => {
                self.model.halted = false;
                self.operator(Command::Resume)
            }
            Step::Level(level) => {
                if (1..=4).contains(&level) {
                    self.model.level = level;
                }
                self.operator(Command::SetValidationLevel { level })
            }
            Step::Limit(limit, value) => {
                self.model.set_limit(limit, value);
                self.operator(Command::SetLimit { limit, value })
            }
            Step::CancelAll => {
                self.model.cancel_all();
                self.operator(Command::CancelAll)
            }
            Step::Place(sell, amount, n) => {
                let side = if sell { Side::Sell } else { Side::Buy };
                let expected = self.model.place(side, amount, (n, PRICE_D));
                let mut out = Vec::new();
                let got = self.engine.place(
                    0,
                    side,
                    Amount::from_stroops(amount).unwrap(),
                    Price::new(n, PRICE_D).unwrap(),
                    &mut out,
                );
                assert_eq!(got, expected, "the decision on {s:?}");
                let decision = out.iter().find_map(|o| match o {
                    Output::Decision(d) => Some(d.reject_code),
                    _ => None,
                });
                assert_eq!(decision, Some(expected.err().map_or(0, RejectCode::code)), "{out:?}");
                out
            }
            Step::Cancel(n) => {
                let mut out = Vec::new();
                if !self.model.orders.is_empty() {
                    let id = self.model.orders[n % self.model.orders.len()].id;
                    self.model.cancel(id);
                    self.engine.cancel(id, &mut out);
                }
                out
            }
            Step::Submit(n) => match self.nth_intent(n) {
                Some((intent, ops)) if !self.sent.contains(&intent) => {
                    self.sent.push(intent);
                    for (order, cancel) in ops {
                        if !cancel {
                            self.model.order(order).submitted = true;
                        }
                    }
                    self.feed(&Input::TxSubmitted(TxSubmitted {
                        intent,
                        hash: [1; 32],
                        sequence: 1,
                        max_time: 1,
                        fee_stroops: 100,
                        signed_by: [9; 32],
                        key_store: 2,
                    }))
                }
                _ => Vec::new(),
            },
            Step::Succeed(n, fill_on_arrival) => match self.nth_intent(n) {
                Some((intent, ops)) => {
                    self.ledger += 1;
                    let ledger = self.ledger;
                    let mut results = Vec::new();
                    for &(order, cancel) in &ops {
                        let o = self.model.order(order);
                        if cancel {
                            o.cancel_pending = false;
                            o.cancelled = true;
                            o.cancelled_ledger = ledger;
                            results.push(OpResult {
                                effect: OfferEffect::Deleted,
                                offer_id: o.offer_id,
                                remaining_stroops: 0,
                                claims: vec![],
                            });
                            continue;
                        }
                        o.submitted = true;
                        o.accepted = true;
                        o.accepted_ledger = ledger;
                        if fill_on_arrival {
                            // Crossed on arrival for its whole remainder: our order sold what the
                            // crossed offer bought.
                            let rest = o.amount - o.filled;
                            let (bought, sold) = if o.side == Side::Sell { (rest, 1) } else { (1, rest) };
                            o.filled = o.amount;
                            results.push(OpResult {
                                effect: OfferEffect::Deleted,
                                offer_id: 0,
                                remaining_stroops: 0,
                                claims: vec![Claim {
                                    seller: [7; 32],
                                    offer_id: 99,
                                    asset_sold: WireAsset::from(Asset::Native),
                                    amount_sold_stroops: sold,
                                    asset_bought: WireAsset::from(support::usd()),
                                    amount_bought_stroops: bought,
                                }],
                            });
                        } else {
                            self.next_offer += 1;
                            o.offer_id = self.next_offer;
                            results.push(OpResult {
                                effect: OfferEffect::Created,
                                offer_id: self.next_offer,
                                remaining_stroops: o.amount - o.filled,
                                claims: vec![],
                            });
                        }
                    }
                    self.settle(intent);
                    self.feed(&Input::TxSucceeded(TxSucceeded {
                        intent,
                        hash: [1; 32],
                        ledger,
                        fee_charged_stroops: 100,
                        ops: results,
                    }))
                }
                None => Vec::new(),
            },
            Step::Fail(n, _) | Step::Expire(n) => match self.nth_intent(n) {
                Some((intent, ops)) => {
                    let expire = matches!(s, Step::Expire(_));
                    let not_found = matches!(s, Step::Fail(_, true));
                    let count = ops.len();
                    let placed: Vec<u64> = ops.iter().filter(|(_, cancel)| !cancel).map(|&(order, _)| order).collect();
                    for (order, cancel) in ops {
                        let o = self.model.order(order);
                        if cancel {
                            o.cancel_pending = false;
                            if not_found {
                                // The offer is gone without our cancel: it filled.
                                o.filled = o.amount;
                            }
                        } else if expire {
                            o.submitted = true;
                            o.expired = true;
                        } else {
                            o.submitted = true;
                            o.refused = true;
                        }
                    }
                    self.settle(intent);
                    if expire {
                        self.feed(&Input::TxExpired(TxExpired { intent, hash: [1; 32] }))
                    } else {
                        let (tx_code, op_codes) = if not_found { (-1, vec![-11; count]) } else { (-5, vec![]) };
                        let out = self.feed(&Input::TxFailed(TxFailed { intent, hash: [1; 32], tx_code, op_codes }));
                        // Each order the venue refused gets its decision, with the venue's code:
                        // a stale sequence number (500), or an offer not found (507).
                        let code = if not_found { 507 } else { 500 };
                        let decided: Vec<(u64, u16)> = out
                            .iter()
                            .filter_map(|o| match o {
                                Output::Decision(d) => Some((d.order, d.reject_code)),
                                _ => None,
                            })
                            .collect();
                        assert_eq!(decided, placed.iter().map(|&o| (o, code)).collect::<Vec<_>>(), "after {s:?}");
                        out
                    }
                }
                None => Vec::new(),
            },
            Step::Trade(n, base) => {
                if self.model.orders.is_empty() {
                    Vec::new()
                } else {
                    let o = self.model.orders[n % self.model.orders.len()].clone();
                    if o.offer_id == 0 {
                        Vec::new()
                    } else {
                        self.ledger += 1;
                        self.model.trade(o.id, base, self.ledger);
                        self.trade_against(&o, base, self.ledger)
                    }
                }
            }
            Step::LateTrade(n, base) => {
                let o = if self.model.orders.is_empty() {
                    None
                } else {
                    Some(self.model.orders[n % self.model.orders.len()].clone())
                };
                // Only of a cancelled offer, of its cancel's ledger, which the stream has not
                // passed; never its whole rest (a cancel of an offer filled completely fails).
                let rest = o.as_ref().map_or(0, |o| o.amount - o.filled);
                match o {
                    Some(o) if o.cancelled && o.cancelled_ledger >= self.last_trade_ledger && rest > 1 => {
                        let (ledger, base) = (o.cancelled_ledger, base.min(rest - 1));
                        self.model.late_trade(o.id, base, ledger);
                        self.trade_against(&o, base, ledger)
                    }
                    _ => Vec::new(),
                }
            }
        };
        // The intents emitted are the ones the model expected, with the same ids and orders.
        let expected_new: Vec<_> = self.model.intents.iter().filter(|(id, _)| *id >= first_new).cloned().collect();
        assert_eq!(Run::intents(&out), expected_new, "intents after {s:?}");
        self.out.extend(out);
        // Every order: the status and fill the model's facts add up to.
        for f in &self.model.orders {
            let o = self.engine.order(f.id).unwrap_or_else(|| panic!("order {} is known to the engine", f.id));
            assert_eq!((o.status, o.filled.stroops()), (f.status(), f.filled), "order {} after {s:?}: {f:?}", f.id);
        }
        let accepted = self.model.orders.len();
        assert_eq!(self.engine.orders().count(), accepted, "the engine holds exactly the accepted orders");
    }
}

/// Reject codes and statuses seen, for the coverage test.
type Seen = (std::collections::BTreeSet<u16>, std::collections::BTreeSet<u8>);

fn run(steps: &[Step]) -> Seen {
    let mut r = Run {
        engine: engine(),
        model: Model::new(),
        seq: 0,
        ts: 1_700_000_000_000_000_000,
        ledger: 1,
        next_offer: 1000,
        next_trade: 0,
        last_trade_ledger: 0,
        sent: Vec::new(),
        out: Vec::new(),
    };
    r.feed(&support::session());
    // Far more than any scenario commits: balances and reserves never decide here.
    r.feed(&support::account("100000000", "100000000"));
    let mut seen = Seen::default();
    for s in steps {
        r.step(s);
        seen.1.extend(r.model.orders.iter().map(|o| o.status() as u8));
    }
    for o in &r.out {
        if let Output::Decision(d) = o {
            seen.0.insert(d.reject_code);
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_agrees_with_the_naive_model(steps in prop::collection::vec(step(), 1..120)) {
        run(&steps);
    }
}

/// The random streams reach every check and every status the model knows (else the
/// differential test could pass by never getting there).
#[test]
fn the_streams_reach_every_decision_and_status() {
    use proptest::strategy::ValueTree as _;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let mut seen = Seen::default();
    let scenarios = prop::collection::vec(step(), 1..120);
    for _ in 0..300 {
        let steps = scenarios.new_tree(&mut runner).unwrap().current();
        let (codes, statuses) = run(&steps);
        seen.0.extend(codes);
        seen.1.extend(statuses);
    }
    use RejectCode as R;
    for code in [
        0,
        R::Halted.code(),
        R::OrderAmountMax.code(),
        R::OrderNotionalMax.code(),
        R::PriceBand.code(),
        R::SelfCross.code(),
        R::OpenOrdersPairMax.code(),
        R::OpenOrdersTotalMax.code(),
        R::InventoryMax.code(),
        R::VenueBadSeq.code(),
    ] {
        assert!(seen.0.contains(&code), "no decision {code} in the random streams: {:?}", seen.0);
    }
    use OrderStatus as S;
    for status in [
        S::PendingSubmit,
        S::Submitted,
        S::Open,
        S::PartiallyFilled,
        S::PendingCancel,
        S::Filled,
        S::Cancelled,
        S::Rejected,
        S::Expired,
    ] {
        assert!(seen.1.contains(&(status as u8)), "no order {status} in the random streams");
    }
}

#[test]
fn the_model_catches_what_it_should() {
    // A hand-made scenario through every stage: the model and the engine agree on each.
    let _ = run(&[
        Step::Place(true, 100, 1000), // no book yet, Standard: no band check
        Step::Book(990, 1010),
        Step::Place(true, 20_000_000_000, 1000), // amount max
        Step::Place(true, 9_000_000_000, 1100),  // notional max (990 000 000 > 1e9? no) / band
        Step::Place(false, 100, 1001),           // crosses our own ask at 0.1000
        Step::Succeed(0, false),
        Step::Trade(0, 40),
        Step::Cancel(0),
        Step::Trade(0, 60),  // fills it while the cancel is in flight
        Step::Fail(0, true), // the cancel fails, the offer is gone: the order stays filled
        Step::Level(3),
        Step::Place(false, 9_000_000_000, 999),
        Step::Place(false, 9_000_000_000, 999),
        Step::Place(false, 9_000_000_000, 999), // inventory
        Step::Halt,
        Step::Place(true, 100, 1000),
    ]);
}
