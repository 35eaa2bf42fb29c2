//! Strategies: deterministic functions of what the engine has applied. After each input that
//! can change what to quote (books, timers, account and transaction results) the engine shows
//! its strategy a read-only view of itself; the strategy answers with actions — place, cancel —
//! which go through exactly the same checks as any other order. No clock, no randomness (a
//! strategy that wants randomness seeds it from the session's journaled seed), integers only.
//!
//! The reference strategy here is `market-maker`: a two-sided quoter in the style of
//! Hummingbot's pure market making and Kelp's buysell — `levels` orders a side around the book's
//! mid at `spread_bps` (plus `level_spacing_bps` per level), refreshed when the mid moves more
//! than `refresh_tolerance_bps` from a quote, with order sizes skewed against inventory.

use core::fmt;
use core::hash::Hash;

use crate::amount::Amount;
use crate::asset::Asset;
use crate::engine::Engine;
use crate::lifecycle::OrderStatus;
use crate::price::Price;
use crate::risk::Side;
use crate::snapshot::{self, Reader, SnapshotError};
use crate::state_hash::StateHasher;

/// What a strategy asks the engine to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Place { pair: u16, side: Side, amount: Amount, price: Price },
    Cancel { order: u64 },
}

/// A strategy the engine runs inside `apply`.
pub trait Strategy: fmt::Debug + Send {
    /// The name configuration and the CLI use (`market-maker`, `twap`).
    fn name(&self) -> &'static str;

    /// Look at the engine after an input was applied and push the actions to take. Orders the
    /// strategy places get ids from `Engine::place`; it learns them through `placed`.
    fn on_input(&mut self, engine: &Engine, actions: &mut Vec<Action>);

    /// The engine tells the strategy the id its `index`-th action's order got (or that it was
    /// refused: `None`).
    fn placed(&mut self, index: usize, order: Option<u64>);

    /// Fold the strategy's state into the engine's state hash.
    fn state_hash_into(&self, h: &mut StateHasher);

    /// Engine snapshots (see [`crate::snapshot`]): the strategy's kind tag and its parameters.
    /// A snapshot is restored only for an engine configured with a strategy whose setup encodes
    /// to the same bytes: the state of another strategy is no shortcut to this one's replay.
    fn encode_setup(&self, out: &mut Vec<u8>);

    /// Engine snapshots: the rest of the strategy's state (after its setup), everything
    /// `on_input` and `placed` read, so that a restored strategy decides exactly as the original.
    fn encode_state(&self, out: &mut Vec<u8>);
}

/// Decode a strategy written by [`Strategy::encode_setup`] then [`Strategy::encode_state`]: the
/// kind tag picks one of the known strategies (`market-maker`, `twap`); `None` for the tag of an
/// engine without a strategy.
pub(crate) fn decode_strategy(r: &mut Reader<'_>) -> Result<Option<Box<dyn Strategy>>, SnapshotError> {
    Ok(match r.u8()? {
        snapshot::STRATEGY_NONE => None,
        snapshot::STRATEGY_MARKET_MAKER => Some(Box::new(MarketMaker::decode_snapshot(r)?)),
        snapshot::STRATEGY_TWAP => Some(Box::new(crate::twap::Twap::decode_snapshot(r)?)),
        _ => return Err(snapshot::corrupt("an unknown strategy kind")),
    })
}

fn put_side(out: &mut Vec<u8>, side: Side) {
    snapshot::put_u8(out, side as u8);
}

fn side(r: &mut Reader<'_>) -> Result<Side, SnapshotError> {
    match r.u8()? {
        1 => Ok(Side::Sell),
        2 => Ok(Side::Buy),
        _ => Err(snapshot::corrupt("a side")),
    }
}

/// Parameters of the market maker; units last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MarketMakerParams {
    pub pair: u16,
    /// Distance of the first bid and first ask from the mid, together (half each side).
    pub spread_bps: u32,
    /// Orders per side.
    pub levels: u32,
    /// Extra distance of each further level.
    pub level_spacing_bps: u32,
    /// Base amount of each order before inventory skew.
    pub order_amount: Amount,
    /// A quote is replaced when its target moved further than this from its price.
    pub refresh_tolerance_bps: u32,
    /// 0 disables skew; 100 scales a side's sizes to zero when the inventory is all on one
    /// side (base value vs. counter value at the mid, around a 50 % target).
    pub inventory_skew_pct: u32,
}

/// Is `price` further than `tolerance_bps` from the target `tn/td` (relative to the target)?
/// Exact while the products fit: with `tn`, `td` below 2^79 (any offset below 55 000 bps) and
/// `price`'s terms below 2^31, every product is below 2^124. Never panics: beyond that a
/// target too large to compare counts as met, a distance too large as exceeded, and a
/// tolerance too large to multiply out is never exceeded.
fn off_target(price: Price, tn: u128, td: u128, tolerance_bps: u128) -> bool {
    let (pn, pd) = (u128::from(price.n().unsigned_abs()), u128::from(price.d().unsigned_abs()));
    let (Some(lhs), Some(rhs)) = (pn.checked_mul(td), tn.checked_mul(pd)) else { return false };
    let Some(distance) = lhs.abs_diff(rhs).checked_mul(10_000) else { return true };
    match rhs.checked_mul(tolerance_bps) {
        Some(allowed) => distance > allowed,
        None => false,
    }
}

impl MarketMakerParams {
    /// Set a parameter by its configuration name (`spread_bps`, `levels`, …) from text.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let int = |v: &str| v.parse::<u32>().map_err(|_| format!("{key}: {v:?} is not a whole number"));
        match key {
            "spread_bps" => self.spread_bps = int(value)?,
            "levels" => self.levels = int(value)?,
            "level_spacing_bps" => self.level_spacing_bps = int(value)?,
            "refresh_tolerance_bps" => self.refresh_tolerance_bps = int(value)?,
            "inventory_skew" | "inventory_skew_pct" => self.inventory_skew_pct = int(value)?.min(100),
            "order_amount" => self.order_amount = value.parse().map_err(|e| format!("{e}"))?,
            _ => return Err(format!("unknown market-maker parameter {key:?}")),
        }
        if self.spread_bps == 0 || self.spread_bps >= 20_000 {
            return Err("spread_bps must be between 1 and 19999".into());
        }
        if self.levels == 0 || self.levels > 50 {
            return Err("levels must be between 1 and 50".into());
        }
        Ok(())
    }
}

/// The two-sided quoter. Each level of each side is a slot holding at most one live order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MarketMaker {
    params: MarketMakerParams,
    bids: Vec<Option<u64>>,
    asks: Vec<Option<u64>>,
    /// Slots of the actions pushed by the last `on_input`, in order.
    pending: Vec<(Side, usize)>,
    /// The mid (m, d) the quotes were last checked against: with every slot filled and the mid
    /// unchanged there is nothing to do, and the targets are not recomputed.
    checked_mid: Option<(u128, u128)>,
    /// The pair's two balances when placements were last considered (some slot was empty).
    checked_funds: (i64, i64),
    /// The mid and balances at which a placement was last refused: not tried again until one
    /// of them changes (a refused order is not retried on every input).
    refused: Option<((u128, u128), (i64, i64))>,
    /// [`Engine::orders_ended`] when the slots were last checked for ended orders (a cache:
    /// not part of the state, `None` after a restore).
    ended_seen: Option<u64>,
}

impl MarketMaker {
    pub fn new(params: MarketMakerParams) -> MarketMaker {
        let levels = params.levels as usize;
        MarketMaker {
            params,
            bids: vec![None; levels],
            asks: vec![None; levels],
            pending: Vec::new(),
            checked_mid: None,
            checked_funds: (0, 0),
            refused: None,
            ended_seen: None,
        }
    }

    /// The target price of `level` on `side` around `mid = m/d`.
    fn target(&self, side: Side, level: u32, m: u128, d: u128) -> Option<Price> {
        let (num, den) = self.target_exact(side, level, m, d)?;
        Price::approximate(num, den).ok()
    }

    /// The target of [`MarketMaker::target`] as the exact fraction `num/den` it approximates:
    /// `mid × (1 ∓ offset)`. With `m`, `d` below 2^64 and the offset below 2^32 bps, both are
    /// below 2^97 (below 2^79 for offsets under 55 000 bps).
    fn target_exact(&self, side: Side, level: u32, m: u128, d: u128) -> Option<(u128, u128)> {
        let spacing = level.saturating_mul(self.params.level_spacing_bps);
        let offset = u128::from((self.params.spread_bps / 2).saturating_add(spacing));
        let factor = match side {
            Side::Buy => 10_000u128.checked_sub(offset).filter(|f| *f > 0)?,
            Side::Sell => 10_000 + offset,
        };
        Some((m.checked_mul(factor)?, d.checked_mul(10_000)?))
    }

    /// The account's balances of the pair's base and counter (0 when unknown).
    fn funds(&self, engine: &Engine) -> (i64, i64) {
        let Some(pair) = engine.pair(self.params.pair) else { return (0, 0) };
        let balance = |a: &Asset| engine.balances().and_then(|b| b.line(a)).map_or(0, |l| l.balance.stroops());
        (balance(&pair.selling()), balance(&pair.buying()))
    }

    /// Order sizes for (bid, ask) after inventory skew, from the pair's balances `funds` (base,
    /// counter) and the mid `m/d`.
    fn sizes(&self, funds: (i64, i64), m: u128, d: u128) -> (Amount, Amount) {
        let base = self.params.order_amount;
        let skew = i128::from(self.params.inventory_skew_pct);
        // Values in counter stroops at the mid.
        let base_value = i128::from(funds.0) * m as i128 / (d.max(1) as i128);
        let counter_value = i128::from(funds.1);
        let total = base_value + counter_value;
        if skew == 0 || total <= 0 {
            return (base, base);
        }
        let deviation_bps = base_value * 10_000 / total - 5_000; // −5000 (all counter) ..= 5000 (all base)
        let scale = |mult_bps: i128| {
            let stroops = i128::from(base.stroops()) * mult_bps.clamp(0, 20_000) / 10_000;
            Amount::from_stroops(i64::try_from(stroops).unwrap_or(0)).unwrap_or(Amount::ZERO)
        };
        // Long base: buy less, sell more; and the other way round.
        (scale(10_000 - deviation_bps * skew / 50), scale(10_000 + deviation_bps * skew / 50))
    }
}

impl Strategy for MarketMaker {
    fn name(&self) -> &'static str {
        "market-maker"
    }

    fn on_input(&mut self, engine: &Engine, actions: &mut Vec<Action>) {
        self.pending.clear();
        let pair = self.params.pair;
        // Forget orders that have ended (only worth looking when some order has).
        if self.ended_seen != Some(engine.orders_ended()) {
            self.ended_seen = Some(engine.orders_ended());
            for slot in self.bids.iter_mut().chain(self.asks.iter_mut()) {
                if slot.is_some_and(|id| engine.order(id).is_none_or(|o| o.status.is_terminal())) {
                    *slot = None;
                }
            }
        }
        // The engine places nothing now (halted, locked down, cancel-only): nothing to ask, and
        // nothing to pull either — a halt leaves resting quotes where they are.
        if engine.is_halted() || engine.is_locked_down() || engine.is_cancel_only() {
            return;
        }
        let Some(book) = engine.book(pair) else { return };
        let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else { return };
        // mid = (bn/bd + an/ad) / 2 = (bn·ad + an·bd) / (2·bd·ad), exact in u128.
        let (bn, bd, an, ad) = (bid.n() as u128, bid.d() as u128, ask.n() as u128, ask.d() as u128);
        let (m, d) = (bn * ad + an * bd, 2 * bd * ad);
        let all_quoted = self.bids.iter().chain(self.asks.iter()).all(Option::is_some);
        let mid_unchanged = self.checked_mid == Some((m, d));
        if mid_unchanged && all_quoted {
            return;
        }
        // Funds and sizes matter only to placements, into empty slots: with every slot quoted,
        // a moved mid only asks which quotes to replace.
        let (bid_size, ask_size) = if all_quoted {
            (Amount::ZERO, Amount::ZERO)
        } else {
            let funds = self.funds(engine);
            if mid_unchanged && self.refused == Some(((m, d), funds)) {
                return;
            }
            self.checked_funds = funds;
            self.sizes(funds, m, d)
        };
        self.checked_mid = Some((m, d));
        let tolerance = u128::from(self.params.refresh_tolerance_bps);
        for (side, size) in [(Side::Buy, bid_size), (Side::Sell, ask_size)] {
            for level in 0..self.params.levels {
                let slots = if side == Side::Buy { &self.bids } else { &self.asks };
                let Some(&slot) = slots.get(level as usize) else { continue };
                let order = slot.and_then(|id| engine.order(id));
                // A quote on its way in or out cannot be acted on: no target needed.
                if order.is_some_and(|o| !matches!(o.status, OrderStatus::Open | OrderStatus::PartiallyFilled)) {
                    continue;
                }
                match order {
                    Some(o) => {
                        // |price − target| / target > tolerance → replace (cancel now; the slot
                        // frees when the cancel lands and a new quote goes in then). Against the
                        // exact target: no price needs approximating to keep a quote.
                        let Some((tn, td)) = self.target_exact(side, level, m, d) else { continue };
                        // A quote at the price the target rounds to is on target, whatever the
                        // tolerance (with none, only that price is). Only asked when the mid has
                        // not moved (an empty slot makes every input look again): when it has,
                        // an off quote is replaced without rounding anything.
                        let off = off_target(o.price, tn, td, tolerance)
                            && (!mid_unchanged || self.target(side, level, m, d) != Some(o.price));
                        if off {
                            actions.push(Action::Cancel { order: o.id });
                            self.pending.push((side, level as usize));
                        }
                    }
                    None if !size.is_zero() => {
                        let Some(target) = self.target(side, level, m, d) else { continue };
                        actions.push(Action::Place { pair, side, amount: size, price: target });
                        self.pending.push((side, level as usize));
                    }
                    None => {}
                }
            }
        }
    }

    fn placed(&mut self, index: usize, order: Option<u64>) {
        let Some(&(side, level)) = self.pending.get(index) else { return };
        let slots = if side == Side::Buy { &mut self.bids } else { &mut self.asks };
        match (slots.get_mut(level), order) {
            (Some(slot), Some(id)) => *slot = Some(id),
            (Some(_), None) => self.refused = self.checked_mid.map(|mid| (mid, self.checked_funds)),
            (None, _) => {}
        }
    }

    fn state_hash_into(&self, h: &mut StateHasher) {
        self.name().hash(h);
        self.params.hash(h);
        self.bids.hash(h);
        self.asks.hash(h);
        self.checked_mid.hash(h);
        self.checked_funds.hash(h);
        self.refused.hash(h);
    }

    fn encode_setup(&self, out: &mut Vec<u8>) {
        use snapshot::{put_amount, put_u8, put_u16, put_u32};
        let p = &self.params;
        put_u8(out, snapshot::STRATEGY_MARKET_MAKER);
        put_u16(out, p.pair);
        put_u32(out, p.spread_bps);
        put_u32(out, p.levels);
        put_u32(out, p.level_spacing_bps);
        put_amount(out, p.order_amount);
        put_u32(out, p.refresh_tolerance_bps);
        put_u32(out, p.inventory_skew_pct);
    }

    fn encode_state(&self, out: &mut Vec<u8>) {
        use snapshot::{put_bool, put_i64, put_len, put_opt_u64, put_u64, put_u128};
        for slots in [&self.bids, &self.asks] {
            put_len(out, slots.len());
            for &slot in slots {
                put_opt_u64(out, slot);
            }
        }
        put_len(out, self.pending.len());
        for &(side, level) in &self.pending {
            put_side(out, side);
            put_u64(out, level as u64);
        }
        let refused_mid = self.refused.map(|(mid, _)| mid);
        let refused_funds = self.refused.map_or((0, 0), |(_, funds)| funds);
        for mid in [self.checked_mid, refused_mid] {
            put_bool(out, mid.is_some());
            let (m, d) = mid.unwrap_or((0, 0));
            put_u128(out, m);
            put_u128(out, d);
        }
        for (a, b) in [self.checked_funds, refused_funds] {
            put_i64(out, a);
            put_i64(out, b);
        }
    }
}

impl MarketMaker {
    /// The market maker [`Strategy::encode_setup`] and [`Strategy::encode_state`] wrote (after
    /// the kind tag): one slot per level on each side, pending slots among them.
    fn decode_snapshot(r: &mut Reader<'_>) -> Result<MarketMaker, SnapshotError> {
        use snapshot::corrupt;
        let params = MarketMakerParams {
            pair: r.u16()?,
            spread_bps: r.u32()?,
            levels: r.u32()?,
            level_spacing_bps: r.u32()?,
            order_amount: r.amount()?,
            refresh_tolerance_bps: r.u32()?,
            inventory_skew_pct: r.u32()?,
        };
        let levels = usize::try_from(params.levels).map_err(|_| corrupt("market-maker levels"))?;
        let mut sides = [Vec::new(), Vec::new()];
        for slots in &mut sides {
            let n = r.len(9)?;
            if n != levels {
                return Err(corrupt("market-maker slots are not one per level"));
            }
            slots.reserve_exact(n);
            for _ in 0..n {
                slots.push(r.opt_u64()?);
            }
        }
        let [bids, asks] = sides;
        let n = r.len(9)?;
        let mut pending = Vec::with_capacity(n);
        for _ in 0..n {
            let side = side(r)?;
            let level = usize::try_from(r.u64()?).ok().filter(|l| *l < levels).ok_or(corrupt("a pending level"))?;
            pending.push((side, level));
        }
        let mut mid = || match (r.bool()?, r.u128()?, r.u128()?) {
            (true, m, d) => Ok(Some((m, d))),
            (false, 0, 0) => Ok(None),
            (false, _, _) => Err(corrupt("a value after an empty option")),
        };
        let checked_mid = mid()?;
        let refused_mid = mid()?;
        let checked_funds = (r.i64()?, r.i64()?);
        let refused_funds = (r.i64()?, r.i64()?);
        let refused = match refused_mid {
            Some(mid) => Some((mid, refused_funds)),
            None if refused_funds == (0, 0) => None,
            None => return Err(corrupt("a value after an empty option")),
        };
        Ok(MarketMaker { params, bids, asks, pending, checked_mid, checked_funds, refused, ended_seen: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_is_off_target_only_beyond_the_tolerance() {
        let p = |n, d| Price::new(n, d).unwrap();
        // Target 1/10 exactly (as m·factor / d·10 000 would give it); tolerance 15 bps.
        let (tn, td) = (1_000u128, 10_000u128);
        assert!(!off_target(p(1, 10), tn, td, 15));
        // 0.15 % away: on the line, kept; a hair further: replaced. Both directions.
        assert!(!off_target(p(10_015, 100_000), tn, td, 15));
        assert!(!off_target(p(9_985, 100_000), tn, td, 15));
        assert!(off_target(p(100_151, 1_000_000), tn, td, 15));
        assert!(off_target(p(99_849, 1_000_000), tn, td, 15));
        // The same target in other terms, and the largest terms a mid can give.
        assert!(!off_target(p(10_015, 100_000), tn * 7, td * 7, 15));
        let big = 1u128 << 78;
        assert!(!off_target(p(1, 1), big, big, 0));
        assert!(off_target(p(2, 1), big, big, 0));
        // A tolerance too large to multiply out is never exceeded.
        assert!(!off_target(p(i32::MAX, 1), big, big, u128::MAX));
    }
}
