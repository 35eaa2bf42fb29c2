//! The backtest's execution model: one pair on a simulated venue — our account (balances,
//! reserves, liabilities), our resting offers with their queue positions, the recorded book with
//! the liquidity our crossing orders took from it, and the application of the engine's intents
//! as atomic Stellar transactions. The rules are in the parent module's doc.

use std::collections::BTreeMap;

use starlog_engine::asset::{Asset, Pair};
use starlog_engine::book::Book;
use starlog_engine::events::{
    self, AccountSnapshot, Balance, Claim, Input, OfferEffect, OfferSnapshot, OpResult, Trade, TxFailed, TxSucceeded,
    WireAsset, WirePrice,
};
use starlog_engine::outputs::{Intent, OfferOp};
use starlog_engine::price::Price;
use starlog_engine::risk::Side;

use super::{ExecParams, Fill, NS_PER_MS, Source};
use crate::sdex::{adjust_offer, offer_liabilities};

/// Stellar's operation result codes the venue gives (ManageSellOffer).
mod op_code {
    pub const SUCCESS: i32 = 0;
    pub const MALFORMED: i32 = -1;
    pub const UNDERFUNDED: i32 = -7;
    pub const CROSS_SELF: i32 = -8;
    pub const NOT_FOUND: i32 = -11;
    pub const LOW_RESERVE: i32 = -12;
}
/// `txFAILED`; `txINSUFFICIENT_BALANCE` (the fee cannot be paid).
pub(super) const TX_FAILED: i32 = -1;
pub(super) const TX_INSUFFICIENT_BALANCE: i32 = -7;

/// Our offer resting on the simulated book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Resting {
    pub(super) offer_id: i64,
    pub(super) order: u64,
    pub(super) side: Side,
    /// Counter per base.
    pub(super) price: Price,
    pub(super) remaining_base: i64,
    /// A buy sells counter: what it still holds of it (Stellar's offer amount).
    pub(super) remaining_counter: i64,
    /// Recorded volume at our price that was ahead of us.
    pub(super) queue_ahead_stroops: i64,
}

/// What a transaction may change, copied so that a failed transaction changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Account {
    /// Balances: XLM first, then base and counter when credit assets.
    pub(super) lines: Vec<(Asset, i64)>,
    pub(super) offers: BTreeMap<i64, Resting>,
    /// Base our crossing orders took from recorded levels, per price: bids (we sold into them)
    /// and asks (we bought from them).
    pub(super) taken_bids: BTreeMap<Price, i64>,
    pub(super) taken_asks: BTreeMap<Price, i64>,
    pub(super) next_offer_id: i64,
}

impl Account {
    pub(super) fn balance(&self, asset: &Asset) -> i64 {
        self.lines.iter().find(|(a, _)| a == asset).map_or(0, |l| l.1)
    }

    pub(super) fn add(&mut self, asset: &Asset, delta: i64) {
        if let Some(line) = self.lines.iter_mut().find(|(a, _)| a == asset) {
            line.1 = line.1.saturating_add(delta);
        }
    }

    /// (selling, buying) liabilities of our offers in `asset`.
    pub(super) fn liabilities(&self, asset: &Asset, pair: &Pair) -> (i64, i64) {
        let (mut selling, mut buying) = (0i64, 0i64);
        for o in self.offers.values() {
            let (sell_asset, buy_asset, amount, price) = offer_terms(o, pair);
            let (s, b) = offer_liabilities(amount, price);
            if sell_asset == *asset {
                selling = selling.saturating_add(s);
            }
            if buy_asset == *asset {
                buying = buying.saturating_add(b);
            }
        }
        (selling, buying)
    }

    pub(super) fn subentries(&self) -> u32 {
        let trustlines = self.lines.iter().filter(|(a, _)| !a.is_native()).count();
        u32::try_from(trustlines + self.offers.len()).unwrap_or(u32::MAX)
    }

    /// What may be sold of `asset`: the balance less selling liabilities (and, for XLM, the
    /// minimum balance with `extra_subentries` more entries).
    pub(super) fn available(&self, asset: &Asset, pair: &Pair, reserve: i64, extra_subentries: u32) -> i64 {
        let mut free = self.balance(asset) - self.liabilities(asset, pair).0;
        if asset.is_native() {
            free -= reserve.saturating_mul(2 + i64::from(self.subentries() + extra_subentries));
        }
        free
    }
}

/// An offer as Stellar holds it: (selling, buying, amount of selling, price buying per selling).
pub(super) fn offer_terms(o: &Resting, pair: &Pair) -> (Asset, Asset, i64, Price) {
    match o.side {
        Side::Sell => (pair.selling(), pair.buying(), o.remaining_base, o.price),
        Side::Buy => (pair.buying(), pair.selling(), o.remaining_counter, o.price.inverse()),
    }
}

pub(super) fn mul_floor(amount: i64, p: Price) -> i64 {
    i64::try_from(i128::from(amount) * i128::from(p.n()) / i128::from(p.d())).unwrap_or(i64::MAX)
}

pub(super) fn mul_ceil(amount: i64, p: Price) -> i64 {
    let (num, d) = (i128::from(amount) * i128::from(p.n()), i128::from(p.d()));
    i64::try_from((num + d - 1) / d).unwrap_or(i64::MAX)
}

/// `counter / p` rounded down: the base `counter` buys at `p`.
pub(super) fn div_floor(counter: i64, p: Price) -> i64 {
    i64::try_from(i128::from(counter) * i128::from(p.d()) / i128::from(p.n())).unwrap_or(i64::MAX)
}

/// The simulated venue for one pair: our account, our resting offers, the recorded book.
pub(super) struct Venue {
    pub(super) pair: Pair,
    pub(super) exec: ExecParams,
    pub(super) account: Account,
    pub(super) book: Book,
    pub(super) book_seq: u64,
    pub(super) sequence: i64,
    /// Orders the engine accepted: side, base amount, price.
    pub(super) orders: BTreeMap<u64, (Side, i64, Price)>,
    pub(super) next_trade_id: u128,
    pub(super) first_ns: i64,
}

/// What applying one intent at the venue gave.
#[derive(Debug)]
pub(super) enum TxOutcome {
    Succeeded(TxSucceeded, Vec<Fill>),
    Failed(TxFailed),
}

impl Venue {
    pub(super) fn ledger(&self, now_ns: i64) -> u32 {
        let period = i64::try_from(self.exec.ledger_ms).unwrap_or(i64::MAX).max(1) * NS_PER_MS;
        u32::try_from((now_ns - self.first_ns).max(0) / period + 2).unwrap_or(u32::MAX)
    }

    /// A recorded snapshot of our pair: queues and taken liquidity shrink to what it shows.
    pub(super) fn on_book(&mut self, seq: u64, snap: &events::ArchivedBookSnapshot, now_ns: i64) {
        if self.book.apply(snap, now_ns).is_err() {
            return;
        }
        self.book_seq = seq;
        let level = |levels: &[starlog_engine::book::BookLevel], p: Price| {
            levels.iter().find(|l| l.price == p).map_or(0, |l| l.amount.stroops())
        };
        let (bids, asks) = (self.book.bids().to_vec(), self.book.asks().to_vec());
        for o in self.account.offers.values_mut() {
            let shown = level(if o.side == Side::Buy { &bids } else { &asks }, o.price);
            o.queue_ahead_stroops = o.queue_ahead_stroops.min(shown);
        }
        for (taken, levels) in [(&mut self.account.taken_bids, &bids), (&mut self.account.taken_asks, &asks)] {
            taken.retain(|p, amount| {
                *amount = (*amount).min(level(levels, *p));
                *amount > 0
            });
        }
    }

    /// Apply one intent's operations atomically.
    pub(super) fn execute(&mut self, intent: &Intent, now_ns: i64) -> TxOutcome {
        let ops = intent.ops.len() as i64;
        let fee = self.exec.fee_per_op_stroops.saturating_mul(ops);
        let hash = intent_hash(intent.id);
        // A fee the account cannot pay from what is available (above its reserve and selling
        // liabilities, as stellar-core checks it): refused before it is applied, so nothing is
        // spent, not even the sequence number.
        let reserve = self.exec.base_reserve_stroops;
        if self.account.available(&Asset::Native, &self.pair, reserve, 0) < fee {
            return TxOutcome::Failed(TxFailed {
                intent: intent.id,
                hash,
                tx_code: TX_INSUFFICIENT_BALANCE,
                op_codes: Vec::new(),
            });
        }
        self.sequence += 1;
        self.account.add(&Asset::Native, -fee);
        let before = self.account.clone();
        let mut results = Vec::with_capacity(intent.ops.len());
        let mut codes = Vec::with_capacity(intent.ops.len());
        let mut fills = Vec::new();
        let mut failed = false;
        for op in &intent.ops {
            match self.op(op, now_ns, &mut fills) {
                Ok(result) => {
                    results.push(result);
                    codes.push(op_code::SUCCESS);
                }
                Err(code) => {
                    codes.push(code);
                    failed = true;
                }
            }
        }
        if failed {
            self.account = before;
            return TxOutcome::Failed(TxFailed { intent: intent.id, hash, tx_code: TX_FAILED, op_codes: codes });
        }
        let ledger = self.ledger(now_ns);
        TxOutcome::Succeeded(
            TxSucceeded { intent: intent.id, hash, ledger, fee_charged_stroops: fee, ops: results },
            fills,
        )
    }

    pub(super) fn op(&mut self, op: &OfferOp, now_ns: i64, fills: &mut Vec<Fill>) -> Result<OpResult, i32> {
        let reserve = self.exec.base_reserve_stroops;
        if op.amount_stroops == 0 {
            return match self.account.offers.remove(&op.offer_id) {
                Some(_) => Ok(OpResult {
                    effect: OfferEffect::Deleted,
                    offer_id: op.offer_id,
                    remaining_stroops: 0,
                    claims: Vec::new(),
                }),
                None => Err(op_code::NOT_FOUND),
            };
        }
        if op.offer_id != 0 {
            return Err(op_code::MALFORMED);
        }
        let &(side, amount, price) = self.orders.get(&op.order).ok_or(op_code::MALFORMED)?;
        let crosses_self = self.account.offers.values().any(|o| match (side, o.side) {
            (Side::Buy, Side::Sell) => o.price <= price,
            (Side::Sell, Side::Buy) => o.price >= price,
            _ => false,
        });
        if crosses_self {
            return Err(op_code::CROSS_SELF);
        }
        let (base, counter) = (self.pair.selling(), self.pair.buying());
        // What the offer sells: base for a sell; for a buy, the counter the engine committed.
        let (sell_asset, sell_amount) = match side {
            Side::Sell => (base, amount),
            Side::Buy => (counter, mul_ceil(amount, price)),
        };
        if self.account.available(&sell_asset, &self.pair, reserve, 0) < sell_amount {
            return Err(op_code::UNDERFUNDED);
        }
        // Cross the recorded book, best level first.
        let levels = if side == Side::Buy { self.book.asks().to_vec() } else { self.book.bids().to_vec() };
        let (mut remaining_base, mut budget_counter) = (amount, sell_amount);
        let mut claims = Vec::new();
        for level in levels {
            let crosses = if side == Side::Buy { level.price <= price } else { level.price >= price };
            if !crosses || remaining_base == 0 {
                break;
            }
            let taken = if side == Side::Buy { &mut self.account.taken_asks } else { &mut self.account.taken_bids };
            let left = level.amount.stroops() - taken.get(&level.price).copied().unwrap_or(0);
            let mut q = left.min(remaining_base);
            if side == Side::Buy {
                // Never pay more counter than the offer holds.
                q = q.min(div_floor(budget_counter, level.price));
                while q > 0 && mul_ceil(q, level.price) > budget_counter {
                    q -= 1;
                }
            }
            if q <= 0 {
                continue;
            }
            let c = if side == Side::Buy { mul_ceil(q, level.price) } else { mul_floor(q, level.price) };
            if c <= 0 {
                continue;
            }
            *taken.entry(level.price).or_insert(0) += q;
            remaining_base -= q;
            let (base_w, counter_w) = (WireAsset::from(base), WireAsset::from(counter));
            match side {
                Side::Buy => {
                    budget_counter -= c;
                    self.account.add(&base, q);
                    self.account.add(&counter, -c);
                    claims.push(Claim {
                        seller: [0; 32],
                        offer_id: 0,
                        asset_sold: base_w,
                        amount_sold_stroops: q,
                        asset_bought: counter_w,
                        amount_bought_stroops: c,
                    });
                }
                Side::Sell => {
                    self.account.add(&base, -q);
                    self.account.add(&counter, c);
                    claims.push(Claim {
                        seller: [0; 32],
                        offer_id: 0,
                        asset_sold: counter_w,
                        amount_sold_stroops: c,
                        asset_bought: base_w,
                        amount_bought_stroops: q,
                    });
                }
            }
            fills.push(Fill {
                time_ns: now_ns,
                order: op.order,
                side,
                price: level.price,
                base_stroops: q,
                counter_stroops: c,
                source: Source::Book { seq: self.book_seq, price: level.price },
            });
        }
        // What is left rests: a buy as stellar-core rests a ManageBuyOffer, selling what buys
        // its remaining base at its price (`adjustOffer`), not what is left of its budget; an
        // amount that adjusts to nothing does not rest.
        let resting_counter = match side {
            Side::Sell => 0,
            Side::Buy => adjust_offer(price.inverse(), budget_counter, remaining_base),
        };
        let rests = match side {
            Side::Sell => remaining_base > 0,
            Side::Buy => remaining_base > 0 && resting_counter > 0,
        };
        if !rests {
            return Ok(OpResult { effect: OfferEffect::Deleted, offer_id: 0, remaining_stroops: 0, claims });
        }
        // A new entry needs its reserve.
        if self.account.available(&Asset::Native, &self.pair, reserve, 1)
            < if sell_asset.is_native() {
                match side {
                    Side::Sell => remaining_base,
                    Side::Buy => budget_counter,
                }
            } else {
                0
            }
        {
            return Err(op_code::LOW_RESERVE);
        }
        let same_side = if side == Side::Buy { self.book.bids() } else { self.book.asks() };
        let queue = same_side.iter().find(|l| l.price == price).map_or(0, |l| l.amount.stroops());
        let offer_id = self.account.next_offer_id;
        self.account.next_offer_id += 1;
        let offer = Resting {
            offer_id,
            order: op.order,
            side,
            price,
            remaining_base,
            remaining_counter: resting_counter,
            queue_ahead_stroops: queue,
        };
        self.account.offers.insert(offer_id, offer);
        let remaining_stroops = offer_terms(&offer, &self.pair).2;
        Ok(OpResult { effect: OfferEffect::Created, offer_id, remaining_stroops, claims })
    }

    /// A recorded trade: which of our resting offers it fills, and by how much.
    pub(super) fn on_trade(&mut self, seq: u64, t: &events::ArchivedTrade, now_ns: i64) -> Vec<(Resting, Fill)> {
        let Ok(p) = t.price.to_price() else { return Vec::new() };
        let volume = t.base_amount_stroops.to_native().max(0);
        let mut fills = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            // Volume our crossing orders already took from this level is not there for us again.
            let taken = if side == Side::Buy { &mut self.account.taken_asks } else { &mut self.account.taken_bids };
            let mut left = volume;
            if let Some(amount) = taken.get_mut(&p) {
                let used = (*amount).min(left);
                *amount -= used;
                left -= used;
                if *amount == 0 {
                    taken.remove(&p);
                }
            }
            // Ours that this trade reaches, best price first, then oldest.
            let mut eligible: Vec<Resting> = self
                .account
                .offers
                .values()
                .filter(|o| o.side == side && if side == Side::Buy { o.price >= p } else { o.price <= p })
                .copied()
                .collect();
            eligible.sort_by(|a, b| {
                let by_price = if side == Side::Buy { b.price.cmp(&a.price) } else { a.price.cmp(&b.price) };
                by_price.then(a.offer_id.cmp(&b.offer_id))
            });
            for mut o in eligible {
                if left == 0 {
                    break;
                }
                let mut q = if o.price == p {
                    let ahead = o.queue_ahead_stroops;
                    o.queue_ahead_stroops = (ahead - left).max(0);
                    (left - ahead).max(0).min(o.remaining_base)
                } else {
                    left.min(o.remaining_base)
                };
                let c = match side {
                    Side::Sell => mul_ceil(q, o.price),
                    Side::Buy => {
                        q = q.min(div_floor(o.remaining_counter, o.price));
                        mul_floor(q, o.price)
                    }
                };
                if q <= 0 || c <= 0 {
                    self.account.offers.insert(o.offer_id, o);
                    continue;
                }
                left -= q;
                let (base, counter) = (self.pair.selling(), self.pair.buying());
                match side {
                    Side::Sell => {
                        self.account.add(&base, -q);
                        self.account.add(&counter, c);
                    }
                    Side::Buy => {
                        self.account.add(&base, q);
                        self.account.add(&counter, -c);
                        o.remaining_counter -= c;
                    }
                }
                o.remaining_base -= q;
                let done = o.remaining_base == 0 || (side == Side::Buy && div_floor(o.remaining_counter, o.price) == 0);
                if done {
                    self.account.offers.remove(&o.offer_id);
                } else {
                    self.account.offers.insert(o.offer_id, o);
                }
                let fill = Fill {
                    time_ns: now_ns,
                    order: o.order,
                    side,
                    price: o.price,
                    base_stroops: q,
                    counter_stroops: c,
                    source: Source::Trade { seq },
                };
                fills.push((o, fill));
            }
        }
        fills
    }

    /// The engine's view of a fill of a resting offer: a trade on the pair naming our offer.
    pub(super) fn trade_input(
        &mut self,
        pair: u16,
        offer: &Resting,
        fill: &Fill,
        now_ns: i64,
        account: [u8; 32],
    ) -> Input {
        self.next_trade_id += 1;
        let (base_offer_id, counter_offer_id) =
            if fill.side == Side::Sell { (offer.offer_id, 0) } else { (0, offer.offer_id) };
        let (base_account, counter_account) =
            if fill.side == Side::Sell { (account, [0; 32]) } else { ([0; 32], account) };
        Input::Trade(Trade {
            pair,
            id: self.next_trade_id,
            ledger: self.ledger(now_ns),
            ledger_close_time: now_ns / 1_000_000_000,
            price: WirePrice::from(fill.price),
            base_amount_stroops: fill.base_stroops,
            counter_amount_stroops: fill.counter_stroops,
            base_is_seller: fill.side == Side::Sell,
            base_offer_id,
            counter_offer_id,
            base_account,
            counter_account,
        })
    }

    /// Our account as Horizon would show it now.
    pub(super) fn snapshot(&self, account: [u8; 32], now_ns: i64) -> Input {
        let reserve = self.exec.base_reserve_stroops;
        let balances = self
            .account
            .lines
            .iter()
            .map(|(asset, balance)| {
                let (selling, buying) = self.account.liabilities(asset, &self.pair);
                Balance {
                    asset: WireAsset::from(*asset),
                    balance_stroops: *balance,
                    buying_liabilities_stroops: buying,
                    selling_liabilities_stroops: selling,
                    limit_stroops: i64::MAX,
                }
            })
            .collect();
        let offers = self
            .account
            .offers
            .values()
            .map(|o| {
                let (selling, buying, amount, price) = offer_terms(o, &self.pair);
                OfferSnapshot {
                    offer_id: o.offer_id,
                    selling: selling.into(),
                    buying: buying.into(),
                    amount_stroops: amount,
                    price: price.into(),
                }
            })
            .collect();
        Input::Account(AccountSnapshot {
            account,
            ledger: self.ledger(now_ns),
            sequence: self.sequence,
            subentry_count: self.account.subentries(),
            num_sponsoring: 0,
            num_sponsored: 0,
            base_reserve_stroops: reserve,
            balances,
            offers,
        })
    }
}

pub(super) fn intent_hash(intent: u64) -> [u8; 32] {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(b"backtest");
    hash[24..].copy_from_slice(&intent.to_be_bytes());
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use starlog_engine::AccountId;
    use starlog_engine::outputs::op_kind;

    const UNIT: i64 = 10_000_000;

    /// A venue for XLM/USD with 100 XLM and 100 USD, an empty recorded book, and `orders`
    /// accepted by the engine (id, side, base units, price).
    fn venue(orders: &[(u64, Side, i64, &str)]) -> Venue {
        let usd = Asset::credit("USD", AccountId::from_bytes([7; 32])).unwrap();
        let pair = Pair::new(Asset::Native, usd).unwrap();
        Venue {
            pair,
            exec: ExecParams::DEFAULT,
            account: Account {
                lines: vec![(Asset::Native, 100 * UNIT), (usd, 100 * UNIT)],
                offers: BTreeMap::new(),
                taken_bids: BTreeMap::new(),
                taken_asks: BTreeMap::new(),
                next_offer_id: 1,
            },
            book: Book::new(),
            book_seq: 0,
            sequence: 10,
            orders: orders
                .iter()
                .map(|&(id, side, units, p)| (id, (side, units * UNIT, Price::from_decimal_str(p).unwrap())))
                .collect(),
            next_trade_id: 0,
            first_ns: 0,
        }
    }

    /// An intent creating an offer for each of `orders`.
    fn intent(v: &Venue, id: u64, orders: &[u64]) -> Intent {
        let ops: Vec<OfferOp> = orders
            .iter()
            .map(|o| {
                let (side, amount, price) = v.orders[o];
                let (selling, buying) = match side {
                    Side::Sell => (v.pair.selling(), v.pair.buying()),
                    Side::Buy => (v.pair.buying(), v.pair.selling()),
                };
                let kind = if side == Side::Buy { op_kind::MANAGE_BUY } else { op_kind::MANAGE_SELL };
                OfferOp {
                    order: *o,
                    kind,
                    selling: selling.into(),
                    buying: buying.into(),
                    amount_stroops: amount,
                    price: price.into(),
                    offer_id: 0,
                }
            })
            .collect();
        Intent { id, ops: ops.into() }
    }

    #[test]
    fn the_fee_is_per_operation_and_every_operation_applies() {
        let mut v = venue(&[(1, Side::Sell, 10, "0.2"), (2, Side::Sell, 5, "0.3"), (3, Side::Buy, 10, "0.1")]);
        let i = intent(&v, 7, &[1, 2, 3]);
        let TxOutcome::Succeeded(ok, fills) = v.execute(&i, 1) else { panic!("applies") };
        assert_eq!((ok.fee_charged_stroops, ok.ops.len(), fills.len()), (300, 3, 0));
        assert_eq!(v.account.balance(&Asset::Native), 100 * UNIT - 300);
        assert_eq!((v.account.offers.len(), v.sequence), (3, 11));
    }

    #[test]
    fn a_failed_operation_undoes_the_others_and_the_fee_and_sequence_are_still_spent() {
        // The second sells more XLM than the account holds.
        let mut v = venue(&[(1, Side::Sell, 10, "0.2"), (2, Side::Sell, 500, "0.3")]);
        let i = intent(&v, 7, &[1, 2]);
        let TxOutcome::Failed(failed) = v.execute(&i, 1) else { panic!("fails") };
        assert_eq!(
            (failed.tx_code, failed.op_codes.clone()),
            (TX_FAILED, vec![op_code::SUCCESS, op_code::UNDERFUNDED])
        );
        assert!(v.account.offers.is_empty(), "the first operation was undone with the transaction");
        assert_eq!(v.account.balance(&Asset::Native), 100 * UNIT - 200, "both operations' fees are spent");
        assert_eq!(v.sequence, 11);
        // A buy crossing our own resting sell: CROSS_SELF, the sell left as it was.
        let mut v = venue(&[(1, Side::Sell, 10, "0.2"), (2, Side::Buy, 10, "0.25")]);
        assert!(matches!(v.execute(&intent(&v, 1, &[1]), 1), TxOutcome::Succeeded(..)));
        let TxOutcome::Failed(failed) = v.execute(&intent(&v, 2, &[2]), 2) else { panic!("fails") };
        assert_eq!(failed.op_codes, vec![op_code::CROSS_SELF]);
        assert_eq!(v.account.offers.len(), 1);
        // Cancelling an offer that is not there: NOT_FOUND.
        let cancel = Intent {
            id: 3,
            ops: vec![OfferOp { amount_stroops: 0, offer_id: 99, ..intent(&v, 3, &[1]).ops[0] }].into(),
        };
        let TxOutcome::Failed(failed) = v.execute(&cancel, 3) else { panic!("fails") };
        assert_eq!(failed.op_codes, vec![op_code::NOT_FOUND]);
    }

    #[test]
    fn a_fee_the_account_cannot_pay_is_refused_for_free() {
        let mut v = venue(&[(1, Side::Sell, 10, "0.2")]);
        v.account.lines[0].1 = 50;
        let TxOutcome::Failed(failed) = v.execute(&intent(&v, 7, &[1]), 1) else { panic!("refused") };
        assert_eq!((failed.tx_code, failed.op_codes.len()), (TX_INSUFFICIENT_BALANCE, 0));
        assert_eq!(v.account.balance(&Asset::Native), 50, "no fee taken");
        assert_eq!(v.sequence, 10, "never applied: the sequence number is not used up");
        assert!(v.account.offers.is_empty());
    }

    /// The fee comes out of what is available: a balance held by the reserve and by an offer's
    /// selling liabilities cannot pay it.
    #[test]
    fn a_fee_only_the_reserve_or_liabilities_could_cover_is_refused() {
        let mut v = venue(&[(1, Side::Sell, 10, "0.2"), (2, Side::Sell, 1, "0.3")]);
        let reserve = v.exec.base_reserve_stroops;
        let TxOutcome::Succeeded(..) = v.execute(&intent(&v, 7, &[1]), 1) else { panic!("applies") };
        // The USD trustline and one resting offer (two subentries; 10 XLM of selling
        // liabilities): leave 50 stroops above them, less than the next fee of 100.
        let held = reserve * (2 + 2) + 10 * UNIT;
        v.account.lines[0].1 = held + 50;
        let TxOutcome::Failed(failed) = v.execute(&intent(&v, 8, &[2]), 2) else { panic!("refused") };
        assert_eq!(failed.tx_code, TX_INSUFFICIENT_BALANCE);
        assert_eq!(v.account.balance(&Asset::Native), held + 50, "no fee taken");
        // Exactly the fee available: it is paid, and the transaction applied (its operation
        // then fails for the new offer's reserve, which the fee took).
        v.account.lines[0].1 = held + 100;
        let outcome = v.execute(&intent(&v, 9, &[2]), 3);
        assert!(matches!(&outcome, TxOutcome::Failed(f) if f.tx_code == -1), "applied: {outcome:?}");
        assert_eq!(v.account.balance(&Asset::Native), held, "the fee is taken");
    }
}
