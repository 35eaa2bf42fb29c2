//! The reference strategy `twap`: a time-weighted seller in the style of Hummingbot's TWAP
//! executor. It sells `total_amount` of a pair's base asset over `duration_ns` of event time in
//! `slices` equal slices (the last also takes the remainder of the division), one limit sell per
//! slice, spaced `duration_ns / slices` apart.
//!
//! Semantics (every time is event time, [`Engine::now_ns`]: the journal's stamps, never a clock):
//! - The schedule starts at the first input at or after `start_ns` (`0`: the first input the
//!   strategy sees). Slice `k` falls due at `start + k · (duration_ns / slices)`, slice 0 at the
//!   start; the window is `[start, start + duration_ns)`.
//! - Slices fall due when an input arrives: an input after several due times releases them all
//!   at once (one order for their sum), so sparse inputs never lose amount.
//! - Price: with `aggressiveness_bps > 0`, the best bid less `aggressiveness_bps` (the nearest
//!   Stellar price to `bid · (1 − bps/10⁴)`): the order crosses and takes the bids down to it.
//!   With `0`, the best ask: it joins the sellers and waits (passive). Then, if `limit_price`
//!   is set and the price is below it, the price is raised to it: the floor holds exactly.
//! - One order out at a time. A slice that falls due while the previous slice's order is still
//!   out marks that order *stale*: once it rests on the book it is cancelled, and when the
//!   cancel lands its unfilled remainder is added to the amount owed and goes out with the new
//!   slice as one order (the roll-over). Nothing is placed while an order is out (in flight,
//!   resting or being cancelled): the strategy never has two offers on the book, and it knows
//!   the exact remainder before offering it again.
//! - Amount owed but not placed — no book to price from (no best bid when aggressive, no best
//!   ask when passive), or the order refused by a check — is kept and placed on a later input.
//! - From the end of the window on, nothing is released or placed, and the order out is
//!   cancelled (one in flight, once it rests). The strategy has nothing more to do once the
//!   whole total is sold.
//! - An order that ends `Filled` sold its whole amount (the network deleted the offer because
//!   it was taken; dust the network drops when rounding is not offered again, so the strategy
//!   never sells more than the total). One that ends otherwise (cancelled, rejected, expired)
//!   sold what the engine counts as `filled`; the rest is owed again.

use core::hash::Hash;

use crate::amount::Amount;
use crate::book::Book;
use crate::engine::Engine;
use crate::lifecycle::OrderStatus;
use crate::price::Price;
use crate::risk::Side;
use crate::snapshot;
use crate::state_hash::StateHasher;
use crate::strategy::{Action, Strategy};

/// Nanoseconds per second (`duration_s` is configured in seconds).
const NS_PER_S: i64 = 1_000_000_000;

/// Parameters of the TWAP seller; units last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TwapParams {
    pub pair: u16,
    /// Base amount to sell in all.
    pub total_amount: Amount,
    /// Number of slices (at least 1); the last slice also takes the remainder.
    pub slices: u32,
    /// Length of the window, in event time (more than 0).
    pub duration_ns: i64,
    /// The window starts at the first input at or after this time; 0: at the first input.
    pub start_ns: i64,
    /// 0: sell at the best ask (passive); otherwise this far below the best bid (below 10 000).
    pub aggressiveness_bps: u32,
    /// No order is priced below this (`None`: no floor).
    pub limit_price: Option<Price>,
}

impl TwapParams {
    /// Set a parameter by its configuration name (`total_amount`, `slices`, `duration_s`,
    /// `start_ns`, `aggressiveness_bps`, `limit_price`) from text. The value is checked before
    /// it is stored, so an error leaves the parameters as they were; [`TwapParams::validate`]
    /// checks them all together.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let int = |v: &str| v.parse::<u32>().map_err(|_| format!("{key}: {v:?} is not a whole number"));
        let long = |v: &str| v.parse::<i64>().map_err(|_| format!("{key}: {v:?} is not a whole number"));
        match key {
            "total_amount" => {
                let amount: Amount = value.parse().map_err(|e| format!("{e}"))?;
                if amount.is_zero() {
                    return Err("total_amount must be more than 0".into());
                }
                self.total_amount = amount;
            }
            "slices" => {
                let slices = int(value)?;
                if slices == 0 {
                    return Err("slices must be at least 1".into());
                }
                self.slices = slices;
            }
            "duration_s" => {
                let seconds = long(value)?;
                if seconds <= 0 {
                    return Err("duration_s must be more than 0".into());
                }
                self.duration_ns =
                    seconds.checked_mul(NS_PER_S).ok_or_else(|| format!("duration_s: {value} is too long"))?;
            }
            "start_ns" => {
                let start = long(value)?;
                if start < 0 {
                    return Err("start_ns must not be negative".into());
                }
                self.start_ns = start;
            }
            "aggressiveness_bps" => {
                let bps = int(value)?;
                if bps >= 10_000 {
                    return Err("aggressiveness_bps must be between 0 and 9999".into());
                }
                self.aggressiveness_bps = bps;
            }
            "limit_price" => {
                self.limit_price = match value {
                    "" | "none" => None,
                    v => Some(v.parse().map_err(|e| format!("{e}"))?),
                };
            }
            _ => return Err(format!("unknown twap parameter {key:?}")),
        }
        Ok(())
    }

    /// Are the parameters consistent (slices ≥ 1, duration > 0, total > 0, aggressiveness
    /// below 10 000 bps, start not negative)?
    pub fn validate(&self) -> Result<(), String> {
        if self.total_amount.is_zero() {
            return Err("total_amount must be more than 0".into());
        }
        if self.slices == 0 {
            return Err("slices must be at least 1".into());
        }
        if self.duration_ns <= 0 {
            return Err("duration_s must be more than 0".into());
        }
        if self.start_ns < 0 {
            return Err("start_ns must not be negative".into());
        }
        if self.aggressiveness_bps >= 10_000 {
            return Err("aggressiveness_bps must be between 0 and 9999".into());
        }
        Ok(())
    }
}

/// The TWAP seller. Amounts are accounted so that, at every input,
/// `sold + owed + (the order out's amount) + (not yet released) == total_amount`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Twap {
    params: TwapParams,
    /// Event time the window started at (`None` before it starts).
    start_ns: Option<i64>,
    /// Slices released so far (`0..=slices`).
    released: u32,
    /// Released and not on the book: skipped for want of a book, refused, or rolled back from
    /// an order that ended unfilled.
    owed: Amount,
    /// Sold by the orders that ended.
    sold: Amount,
    /// The order out (placed, not ended).
    order: Option<u64>,
    /// A slice fell due after `order` was placed: cancel it once it rests, roll its remainder.
    stale: bool,
    /// Amounts of the places pushed by the last `on_input`, by action index (`None`: a cancel).
    pending: Vec<Option<Amount>>,
    /// What the last placement was decided with: slices released, price, balance of the base.
    tried: (u32, Price, i64),
    /// The last refused placement's [`Twap::tried`]: not tried again until a slice falls due,
    /// the price moves or the balance changes (a refused order is not retried on every input).
    refused: Option<(u32, Price, i64)>,
}

impl Twap {
    pub fn new(params: TwapParams) -> Twap {
        Twap {
            params,
            start_ns: None,
            released: 0,
            owed: Amount::ZERO,
            sold: Amount::ZERO,
            order: None,
            stale: false,
            pending: Vec::new(),
            tried: (0, Price::ONE, 0),
            refused: None,
        }
    }

    /// Base amount sold by the orders that ended.
    pub fn sold(&self) -> Amount {
        self.sold
    }

    /// Base amount released and waiting to be placed.
    pub fn owed(&self) -> Amount {
        self.owed
    }

    /// Slices released so far.
    pub fn released(&self) -> u32 {
        self.released
    }

    /// Total amount of the first `k` slices: `k · ⌊total / slices⌋`, and the whole total once
    /// `k` reaches `slices` (the last slice takes the remainder).
    fn cumulative(&self, k: u32) -> Amount {
        let slices = self.params.slices.max(1);
        if k >= slices {
            return self.params.total_amount;
        }
        let each = self.params.total_amount.stroops() / i64::from(slices);
        // k < slices, so k · each ≤ total: no overflow.
        Amount::from_stroops(each.saturating_mul(i64::from(k))).unwrap_or(Amount::ZERO)
    }

    /// How many slices are due at `now` in the window that started at `start`.
    fn due(&self, start: i64, now: i64) -> u32 {
        let slices = self.params.slices.max(1);
        let interval = self.params.duration_ns.max(0) / i64::from(slices);
        if interval == 0 {
            return slices;
        }
        let elapsed = now.saturating_sub(start).max(0);
        let due = (elapsed / interval).saturating_add(1);
        u32::try_from(due).map_or(slices, |d| d.min(slices))
    }

    /// The price of a slice on `book`, or `None` without the book side it is priced from.
    fn price(&self, book: &Book) -> Option<Price> {
        let bps = self.params.aggressiveness_bps;
        let price = if bps == 0 {
            book.best_ask()?
        } else {
            let bid = book.best_bid()?;
            let factor = 10_000u128.checked_sub(u128::from(bps)).filter(|f| *f > 0)?;
            let (n, d) = (u128::try_from(bid.n()).ok()?, u128::try_from(bid.d()).ok()?);
            Price::approximate(n.checked_mul(factor)?, d.checked_mul(10_000)?).ok()?
        };
        Some(match self.params.limit_price {
            Some(floor) if price < floor => floor,
            _ => price,
        })
    }
}

impl Strategy for Twap {
    fn name(&self) -> &'static str {
        "twap"
    }

    fn on_input(&mut self, engine: &Engine, actions: &mut Vec<Action>) {
        self.pending.clear();
        let now = engine.now_ns();
        let start = match self.start_ns {
            Some(start) => start,
            None if self.params.start_ns == 0 || now >= self.params.start_ns => {
                self.start_ns = Some(now);
                now
            }
            None => return,
        };
        // Settle the order out if it ended: what it sold counts, the rest is owed again.
        if let Some(id) = self.order {
            match engine.order(id) {
                Some(o) if o.status.is_terminal() => {
                    let sold = if o.status == OrderStatus::Filled { o.amount } else { o.filled.min(o.amount) };
                    self.sold = self.sold.checked_add(sold).unwrap_or(Amount::MAX);
                    let rest = o.amount.checked_sub(sold).unwrap_or(Amount::ZERO);
                    self.owed = self.owed.checked_add(rest).unwrap_or(Amount::MAX);
                    self.order = None;
                    self.stale = false;
                }
                Some(_) => {}
                // The engine keeps every order it placed; were one gone, offering its amount
                // again could sell more than the total, so it is forgotten instead.
                None => {
                    self.order = None;
                    self.stale = false;
                }
            }
        }
        // Release the slices that fell due (only inside the window).
        let end = start.saturating_add(self.params.duration_ns);
        if now < end {
            let due = self.due(start, now);
            if due > self.released {
                let amount = self.cumulative(due).checked_sub(self.cumulative(self.released)).unwrap_or(Amount::ZERO);
                self.owed = self.owed.checked_add(amount).unwrap_or(Amount::MAX);
                self.released = due;
                self.stale |= self.order.is_some();
            }
        }
        // An order is out: cancel it if it rests and is stale or the window is over; place
        // nothing until it ends.
        if let Some(o) = self.order.and_then(|id| engine.order(id)) {
            let resting = matches!(o.status, OrderStatus::Open | OrderStatus::PartiallyFilled);
            if resting && (self.stale || now >= end) {
                actions.push(Action::Cancel { order: o.id });
                self.pending.push(None);
            }
            return;
        }
        if now >= end || self.owed.is_zero() {
            return;
        }
        // The engine places nothing now (halted, locked down, cancel-only): nothing to ask.
        if engine.is_halted() || engine.is_locked_down() || engine.is_cancel_only() {
            return;
        }
        let pair = self.params.pair;
        let Some(price) = engine.book(pair).and_then(|b| self.price(b)) else { return };
        let base = engine.pair(pair).map(|p| p.selling());
        let balance =
            base.and_then(|a| engine.balances().and_then(|b| b.line(&a)).map(|l| l.balance.stroops())).unwrap_or(0);
        let tried = (self.released, price, balance);
        if self.refused == Some(tried) {
            return;
        }
        self.tried = tried;
        actions.push(Action::Place { pair, side: Side::Sell, amount: self.owed, price });
        self.pending.push(Some(self.owed));
    }

    fn placed(&mut self, index: usize, order: Option<u64>) {
        let Some(Some(amount)) = self.pending.get(index).copied() else { return };
        let Some(id) = order else {
            self.refused = Some(self.tried);
            return;
        };
        self.order = Some(id);
        self.owed = self.owed.checked_sub(amount).unwrap_or(Amount::ZERO);
    }

    fn state_hash_into(&self, h: &mut StateHasher) {
        self.name().hash(h);
        self.params.hash(h);
        self.start_ns.hash(h);
        self.released.hash(h);
        self.owed.hash(h);
        self.sold.hash(h);
        self.order.hash(h);
        self.stale.hash(h);
        self.pending.hash(h);
        self.tried.hash(h);
        self.refused.hash(h);
    }

    fn encode_setup(&self, out: &mut Vec<u8>) {
        use snapshot::{put_amount, put_i64, put_opt_price, put_u8, put_u16, put_u32};
        let p = &self.params;
        put_u8(out, snapshot::STRATEGY_TWAP);
        put_u16(out, p.pair);
        put_amount(out, p.total_amount);
        put_u32(out, p.slices);
        put_i64(out, p.duration_ns);
        put_i64(out, p.start_ns);
        put_u32(out, p.aggressiveness_bps);
        put_opt_price(out, p.limit_price);
    }

    fn encode_state(&self, out: &mut Vec<u8>) {
        use snapshot::{put_amount, put_bool, put_i64, put_len, put_opt_i64, put_opt_u64, put_price, put_u32};
        put_opt_i64(out, self.start_ns);
        put_u32(out, self.released);
        put_amount(out, self.owed);
        put_amount(out, self.sold);
        put_opt_u64(out, self.order);
        put_bool(out, self.stale);
        put_len(out, self.pending.len());
        for p in &self.pending {
            put_bool(out, p.is_some());
            put_amount(out, p.unwrap_or(Amount::ZERO));
        }
        for (released, price, balance) in [self.tried, self.refused.unwrap_or((0, Price::ONE, 0))] {
            put_u32(out, released);
            put_price(out, price);
            put_i64(out, balance);
        }
        put_bool(out, self.refused.is_some());
    }
}

impl Twap {
    /// The TWAP seller [`Strategy::encode_setup`] and [`Strategy::encode_state`] wrote (after
    /// the kind tag); released slices at most `slices`.
    pub(crate) fn decode_snapshot(r: &mut snapshot::Reader<'_>) -> Result<Twap, snapshot::SnapshotError> {
        use snapshot::corrupt;
        let params = TwapParams {
            pair: r.u16()?,
            total_amount: r.amount()?,
            slices: r.u32()?,
            duration_ns: r.i64()?,
            start_ns: r.i64()?,
            aggressiveness_bps: r.u32()?,
            limit_price: r.opt_price()?,
        };
        let start_ns = r.opt_i64()?;
        let released = r.u32()?;
        if released > params.slices.max(1) {
            return Err(corrupt("twap released more slices than it has"));
        }
        let (owed, sold, order, stale) = (r.amount()?, r.amount()?, r.opt_u64()?, r.bool()?);
        let n = r.len(9)?;
        let mut pending = Vec::with_capacity(n);
        for _ in 0..n {
            pending.push(match (r.bool()?, r.amount()?) {
                (true, a) => Some(a),
                (false, a) if a.is_zero() => None,
                (false, _) => return Err(corrupt("a value after an empty option")),
            });
        }
        let tried = (r.u32()?, r.price()?, r.i64()?);
        let refused = (r.u32()?, r.price()?, r.i64()?);
        let refused = match r.bool()? {
            true => Some(refused),
            false if refused == (0, Price::ONE, 0) => None,
            false => return Err(corrupt("a value after an empty option")),
        };
        Ok(Twap { params, start_ns, released, owed, sold, order, stale, pending, tried, refused })
    }
}
