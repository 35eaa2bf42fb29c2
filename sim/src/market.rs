//! The market generator: background traders that keep a moving order book on the simulated
//! venue, so that a strategy trading there sees fills.
//!
//! It owns an issuer of one credit asset (the *counter*, e.g. `USD`), a few makers and a few
//! takers, all trading that asset against XLM (the *base*) on the simulated [`Ledger`]. Prices
//! are counter per base (e.g. 0.1 USD per XLM). Each ledger ([`Market::step`]):
//!
//! 1. the mid price takes one step of a mean-reverting random walk (integer fixed point);
//! 2. the participants act in a shuffled order: each maker replaces its ladder of `levels` asks
//!    (selling XLM for the asset) and `levels` bids (selling the asset for XLM) around the mid,
//!    skewed against its inventory and sized from its balances; each taker, with probability
//!    `taker_probability_pct`, cancels its leftover offer and sends a marketable offer of random
//!    size and side across the spread;
//! 3. a participant that runs low on either asset is topped up by the issuer (a payment).
//!
//! Everything is a real signed transaction through [`Ledger::submit`]: the market is in the
//! ledger's history like any other client. Makers read their offer ids from [`Ledger::book`].
//!
//! # Determinism
//!
//! Same seed, same configuration, same ledger and same calls → the same transactions, byte for
//! byte, so the same [`Ledger::history`]. It is sans-IO: time is an argument, there are no
//! clocks, threads, hash-map iteration or OS randomness. The randomness is the simulator's own
//! [`SplitMix64`], written out so that the market does not change with a dependency upgrade; keys are SHA-256 of the seed, a role and an index. No floating point:
//! the mid is a fixed-point `i64` ([`MID_SCALE`] per unit), prices are made with
//! [`Price::approximate`].

use core::fmt;

use sha2::{Digest, Sha256};
use starlog_adapters::keys::{Seed, SeedSigner, StoreKind};
use starlog_adapters::stellar::tx::{self as stx, OfferKind, TxParams};
use starlog_adapters::stellar::{asset_to_xdr, muxed_to_xdr};
use starlog_engine::{AccountId, Amount, Asset, OfferRef, Price};
use stellar_xdr as xdr;

use crate::ledger::{Ledger, Submission};
use crate::rng::SplitMix64;
use crate::sdex::Offer;

/// Fixed-point scale of the mid price: the mid is `mid / MID_SCALE` units of the counter asset
/// per unit of XLM.
pub const MID_SCALE: i64 = 1_000_000_000_000;
/// Lowest configurable mid price, in [`MID_SCALE`] units (10⁻⁶ counter per XLM).
pub const MID_SCALED_MIN: i64 = MID_SCALE / 1_000_000;
/// Highest configurable mid price, in [`MID_SCALE`] units (10⁵ counter per XLM).
pub const MID_SCALED_MAX: i64 = MID_SCALE * 100_000;
/// The walk stays within this factor of the starting mid, either way.
pub const MID_RANGE_FACTOR: i64 = 16;
/// Most makers, and most takers.
pub const PARTICIPANTS_MAX: usize = 100;
/// Most price levels per side per maker (2 × levels operations fit a 100-operation transaction).
pub const LEVELS_MAX: usize = 40;
/// Most random-walk volatility per ledger, in basis points.
pub const VOLATILITY_BPS_MAX: u32 = 1_000;
/// The offset of the deepest level (plus the inventory skew) must stay below this, in basis
/// points, so that bids keep a positive price.
pub const LADDER_DEPTH_BPS_MAX: u32 = 5_000;
/// Largest order size: one level, in stroops of XLM (10⁸ XLM).
pub const ORDER_SIZE_STROOPS_MAX: i64 = 1_000_000_000_000_000;
/// Basis points in one.
const BPS: i64 = 10_000;
/// The walk pulls the mid back towards its start by 1/this of the gap per ledger.
const REVERSION_LEDGERS: i64 = 500;
/// Most inventory skew of a maker's ladder, in ticks.
const SKEW_TICKS_MAX: i64 = 2;
/// A maker holds this many full ladders of each asset at the start; a taker this many orders.
const MAKER_FUNDING_LADDERS: i64 = 20;
const TAKER_FUNDING_ORDERS: i64 = 50;
/// The issuer's XLM for fees and top-ups, in maker fundings per participant.
const ISSUER_FUNDING_PER_PARTICIPANT: i64 = 10;
/// Fees kept aside from what a trader sells, in operations' worth of base fees.
const FEE_MARGIN_OPS: i64 = 1_000;
/// Transactions of the market are valid until this long after `now`, in seconds.
const TX_VALIDITY_SECONDS: u64 = 300;
/// The signer label of the market's in-process keys.
const SIGNER_URI: &str = "sim:market";

/// The market's parameters. Amounts are stroops; rates are basis points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketConfig {
    pub seed: u64,
    /// Code of the credit asset the issuer creates (the counter asset).
    pub asset_code: String,
    /// The starting mid, `(n, d)`: `n/d` units of the credit asset per XLM.
    pub mid_price: (i32, i32),
    pub makers: usize,
    pub takers: usize,
    /// Price levels per side per maker.
    pub levels: usize,
    /// Spacing of a maker's levels, and the distance of its first level from its centre.
    pub tick_bps: u32,
    /// Random-walk step per ledger: the sum of two uniform draws in `±volatility_bps`.
    pub volatility_bps: u32,
    /// A maker's mean size of one level, and a taker's mean order size, in stroops of XLM.
    pub order_size_stroops: i64,
    /// Chance that a taker trades in a given ledger, in percent.
    pub taker_probability_pct: u8,
}

impl Default for MarketConfig {
    fn default() -> MarketConfig {
        MarketConfig {
            seed: 0,
            asset_code: "USD".to_owned(),
            mid_price: (1, 10),
            makers: 3,
            takers: 2,
            levels: 5,
            tick_bps: 10,
            volatility_bps: 20,
            order_size_stroops: 100 * 10_000_000,
            taker_probability_pct: 50,
        }
    }
}

/// Why the market could not be set up, or a grant failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarketError {
    /// The configuration is out of range; the text says which field and why.
    Config(String),
    /// `now` is before the ledger's last close time.
    TimeBeforeLastClose { now: u64, last_close_time: u64 },
    /// A needed account does not exist on the ledger.
    NoAccount(AccountId),
    /// A transaction did not succeed: what it was for, and its result.
    Failed { what: String, result: String },
    /// A transaction could not be built, signed or submitted.
    Build { what: String, why: String },
}

impl fmt::Display for MarketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MarketError::Config(why) => write!(f, "invalid market configuration: {why}"),
            MarketError::TimeBeforeLastClose { now, last_close_time } => {
                write!(f, "time {now} is before the ledger's last close time {last_close_time}")
            }
            MarketError::NoAccount(id) => write!(f, "account {id} does not exist"),
            MarketError::Failed { what, result } => write!(f, "{what} failed: {result}"),
            MarketError::Build { what, why } => write!(f, "could not build {what}: {why}"),
        }
    }
}

impl std::error::Error for MarketError {}

/// `percent`% of `value`, with `percent` uniform in `low..=high`.
fn scale_pct(rng: &mut SplitMix64, value: i64, low: u64, high: u64) -> i64 {
    let pct = low + rng.below(high - low + 1);
    mul_div(value, pct as i64, 100)
}

/// `a × b / c` in `i128`, rounded towards zero and saturated to `i64` (0 when `c` is 0).
fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    let q = i128::from(a) * i128::from(b) / i128::from(c);
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `p/q` as the nearest Stellar price (`None` if not positive or not representable).
fn price_of(p: i128, q: i128) -> Option<Price> {
    if p <= 0 || q <= 0 {
        return None;
    }
    Price::approximate(p as u128, q as u128).ok()
}

/// One account the market controls.
#[derive(Clone, Debug)]
struct Trader {
    seed: Seed,
    id: AccountId,
}

impl Trader {
    fn derive(seed: u64, role: &str, index: usize) -> Trader {
        let mut hash = Sha256::new();
        hash.update(b"starlog-sim/market\0");
        hash.update(seed.to_le_bytes());
        hash.update(role.as_bytes());
        hash.update([0]);
        hash.update((index as u64).to_le_bytes());
        let seed = Seed::from_bytes(hash.finalize().into());
        let id = seed.public_key();
        Trader { seed, id }
    }
}

/// Who acts next in a step.
#[derive(Clone, Copy, Debug)]
enum Actor {
    Maker(usize),
    Taker(usize),
}

/// One level of a ladder: the offer's price (as stored: buying per selling) and amount.
#[derive(Clone, Copy, Debug)]
struct Level {
    price: Price,
    amount: i64,
}

/// The background market. See the module doc.
#[derive(Clone, Debug)]
pub struct Market {
    config: MarketConfig,
    rng: SplitMix64,
    asset: Asset,
    issuer: Trader,
    makers: Vec<Trader>,
    takers: Vec<Trader>,
    /// The mid, in [`MID_SCALE`] units, and where it started.
    mid: i64,
    anchor: i64,
    /// What a maker and a taker got at the start (XLM, asset); top-ups give half of it.
    maker_funding: (i64, i64),
    taker_funding: (i64, i64),
}

impl Market {
    /// Sets the market up on `ledger` at `now`: funds the issuer, makers and takers (friendbot),
    /// opens their trustlines to the asset and pays them the asset. The makers' first ladders
    /// come with the first [`Market::step`].
    pub fn new(config: MarketConfig, ledger: &mut Ledger, now: u64) -> Result<Market, MarketError> {
        let mid = validate(&config)?;
        check_time(ledger, now)?;
        let issuer = Trader::derive(config.seed, "issuer", 0);
        let asset = Asset::credit(&config.asset_code, issuer.id)
            .map_err(|e| MarketError::Config(format!("asset_code {:?}: {e}", config.asset_code)))?;
        let makers: Vec<Trader> = (0..config.makers).map(|i| Trader::derive(config.seed, "maker", i)).collect();
        let takers: Vec<Trader> = (0..config.takers).map(|i| Trader::derive(config.seed, "taker", i)).collect();

        let ladder_xlm = config.order_size_stroops.saturating_mul(config.levels as i64);
        let maker_xlm = ladder_xlm.saturating_mul(MAKER_FUNDING_LADDERS);
        let taker_xlm = config.order_size_stroops.saturating_mul(TAKER_FUNDING_ORDERS);
        let to_asset = |xlm: i64| mul_div(xlm, mid, MID_SCALE).max(1);
        let maker_funding = (maker_xlm, to_asset(maker_xlm));
        let taker_funding = (taker_xlm, to_asset(taker_xlm));
        let participants = (config.makers + config.takers) as i64;
        let issuer_xlm = maker_xlm.saturating_mul(participants.saturating_mul(ISSUER_FUNDING_PER_PARTICIPANT));
        if [maker_funding.0, maker_funding.1, taker_funding.0, taker_funding.1, issuer_xlm].contains(&i64::MAX) {
            return Err(MarketError::Config("order_size_stroops × levels is too large to fund".to_owned()));
        }

        let mut market = Market {
            rng: SplitMix64::new(config.seed),
            config,
            asset,
            issuer,
            makers,
            takers,
            mid,
            anchor: mid,
            maker_funding,
            taker_funding,
        };
        let funded = ledger.fund(&market.issuer.id, issuer_xlm);
        expect_success(&funded, "funding the issuer")?;
        let accounts: Vec<(Trader, (i64, i64), String)> = (market.makers.iter().enumerate())
            .map(|(i, t)| (t.clone(), maker_funding, format!("maker {i}")))
            .chain(market.takers.iter().enumerate().map(|(i, t)| (t.clone(), taker_funding, format!("taker {i}"))))
            .collect();
        for (trader, (xlm, units), name) in &accounts {
            let funded = ledger.fund(&trader.id, *xlm);
            expect_success(&funded, &format!("funding {name}"))?;
            let trust = change_trust_op(&market.asset, i64::MAX);
            let submission = submit_raw(ledger, trader, vec![trust], now, &format!("{name}'s trustline"))?;
            expect_success(&submission, &format!("{name}'s trustline"))?;
            let asset = market.asset;
            market.pay(ledger, &trader.id, &asset, *units, now, &format!("paying {name}"))?;
        }
        Ok(market)
    }

    /// The credit asset (the counter asset of the market).
    pub fn asset(&self) -> Asset {
        self.asset
    }

    pub fn issuer(&self) -> AccountId {
        self.issuer.id
    }

    pub fn makers(&self) -> Vec<AccountId> {
        self.makers.iter().map(|t| t.id).collect()
    }

    pub fn takers(&self) -> Vec<AccountId> {
        self.takers.iter().map(|t| t.id).collect()
    }

    pub fn config(&self) -> &MarketConfig {
        &self.config
    }

    /// The current mid as `(numerator, denominator)`: units of the credit asset per XLM. The
    /// denominator is [`MID_SCALE`].
    pub fn mid(&self) -> (i64, i64) {
        (self.mid, MID_SCALE)
    }

    /// The asset friendbot: pays `amount_stroops` of the credit asset from the issuer to `to`,
    /// which must have a trustline to it. `Err` unless the payment succeeded.
    pub fn grant(
        &mut self,
        ledger: &mut Ledger,
        to: &AccountId,
        amount_stroops: i64,
        now: u64,
    ) -> Result<Submission, MarketError> {
        if amount_stroops <= 0 {
            return Err(MarketError::Config(format!("grant amount {amount_stroops} is not positive")));
        }
        check_time(ledger, now)?;
        if ledger.account(to).is_none() {
            return Err(MarketError::NoAccount(*to));
        }
        let asset = self.asset;
        self.pay(ledger, to, &asset, amount_stroops, now, &format!("granting {amount_stroops} to {to}"))
    }

    /// One ledger of trading, at `now` (call once per ledger, before [`Ledger::close_ledger`]).
    /// Returns every submission made, in order; individual transactions may fail (an offer
    /// underfunded after a fill, a top-up the issuer cannot afford) and the market goes on.
    /// Nothing is done when `now` is before the ledger's last close.
    pub fn step(&mut self, ledger: &mut Ledger, now: u64) -> Vec<Submission> {
        let mut out = Vec::new();
        if check_time(ledger, now).is_err() {
            return out;
        }
        self.walk();
        let mut actors: Vec<Actor> =
            (0..self.makers.len()).map(Actor::Maker).chain((0..self.takers.len()).map(Actor::Taker)).collect();
        for i in (1..actors.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            actors.swap(i, j);
        }
        for actor in actors {
            match actor {
                Actor::Maker(i) => self.maker_step(ledger, i, now, &mut out),
                Actor::Taker(i) => self.taker_step(ledger, i, now, &mut out),
            }
        }
        out
    }

    /// One step of the walk: two uniform draws in ±volatility, plus a pull back to the start.
    fn walk(&mut self) {
        let v = i64::from(self.config.volatility_bps);
        let noise_bps = self.rng.symmetric(v) + self.rng.symmetric(v);
        let moved = self.mid.saturating_add(mul_div(self.mid, noise_bps, BPS));
        let pulled = moved.saturating_sub((moved.saturating_sub(self.anchor)) / REVERSION_LEDGERS);
        let low = (self.anchor / MID_RANGE_FACTOR).max(1);
        let high = self.anchor.saturating_mul(MID_RANGE_FACTOR);
        self.mid = pulled.clamp(low, high);
    }

    /// XLM the account can commit to offers: balance less the reserve for `subentries`
    /// subentries and a fee margin.
    fn xlm_spendable(&self, ledger: &Ledger, id: &AccountId, subentries: i64) -> i64 {
        let config = ledger.config();
        let Some(account) = ledger.account(id) else { return 0 };
        let reserve = (2 + subentries).saturating_mul(config.base_reserve_stroops);
        let margin = config.base_fee_stroops.saturating_mul(FEE_MARGIN_OPS);
        account.balance.saturating_sub(reserve).saturating_sub(margin).max(0)
    }

    fn asset_balance(&self, ledger: &Ledger, id: &AccountId) -> i64 {
        ledger.balance(id, &self.asset).unwrap_or(0)
    }

    /// Pays `amount` of `asset` from the issuer; `Err` unless it succeeded.
    fn pay(
        &mut self,
        ledger: &mut Ledger,
        to: &AccountId,
        asset: &Asset,
        amount: i64,
        now: u64,
        what: &str,
    ) -> Result<Submission, MarketError> {
        let op = xdr::OperationBody::Payment(xdr::PaymentOp {
            destination: muxed_to_xdr(to),
            asset: asset_to_xdr(asset),
            amount,
        });
        let issuer = self.issuer.clone();
        let submission = submit_raw(ledger, &issuer, vec![op], now, what)?;
        expect_success(&submission, what)?;
        Ok(submission)
    }

    /// Tops `id` up with half its starting `funding` of each asset it can no longer trade.
    fn top_up(
        &mut self,
        ledger: &mut Ledger,
        id: &AccountId,
        funding: (i64, i64),
        needed: (i64, i64),
        subentries: i64,
        now: u64,
    ) -> Vec<Submission> {
        let mut out = Vec::new();
        if self.xlm_spendable(ledger, id, subentries) < needed.0 {
            out.extend(self.pay_quiet(ledger, id, Asset::Native, funding.0 / 2, now, "topping up XLM"));
        }
        if self.asset_balance(ledger, id) < needed.1 {
            let asset = self.asset;
            out.extend(self.pay_quiet(ledger, id, asset, funding.1 / 2, now, "topping up the asset"));
        }
        out
    }

    /// A payment from the issuer whose submission is kept even when it fails.
    fn pay_quiet(
        &mut self,
        ledger: &mut Ledger,
        to: &AccountId,
        asset: Asset,
        amount: i64,
        now: u64,
        what: &str,
    ) -> Result<Submission, MarketError> {
        if amount <= 0 {
            return Err(MarketError::Config(format!("{what}: nothing to pay")));
        }
        let op = xdr::OperationBody::Payment(xdr::PaymentOp {
            destination: muxed_to_xdr(to),
            asset: asset_to_xdr(&asset),
            amount,
        });
        let issuer = self.issuer.clone();
        submit_raw(ledger, &issuer, vec![op], now, what)
    }

    fn maker_step(&mut self, ledger: &mut Ledger, index: usize, now: u64, out: &mut Vec<Submission>) {
        let maker = self.makers[index].clone();
        let levels = self.config.levels;
        let subentries = 1 + 2 * levels as i64 + 1;
        let ladder_xlm = self.config.order_size_stroops.saturating_mul(levels as i64);
        let needed = (ladder_xlm, mul_div(ladder_xlm, self.mid, MID_SCALE));
        out.extend(self.top_up(ledger, &maker.id, self.maker_funding, needed, subentries, now));

        // Inventory: the asset's value of the XLM held against the asset held.
        let xlm = self.xlm_spendable(ledger, &maker.id, subentries);
        let units = self.asset_balance(ledger, &maker.id);
        let xlm_value = mul_div(xlm, self.mid, MID_SCALE);
        let total = i128::from(xlm_value) + i128::from(units);
        let imbalance_bps =
            if total > 0 { ((i128::from(xlm_value) - i128::from(units)) * 10_000 / total) as i64 } else { 0 };
        let tick = i64::from(self.config.tick_bps);
        // Long XLM: quote lower, to sell XLM and buy the asset back; and the other way round.
        let skew_bps = -imbalance_bps * SKEW_TICKS_MAX * tick / BPS;
        let centre = i128::from(self.mid) * i128::from(BPS + skew_bps) / i128::from(BPS);

        let mut asks = Vec::with_capacity(levels);
        let mut bids = Vec::with_capacity(levels);
        for level in 0..levels as i64 {
            let distance = tick * (level + 1) + self.rng.below((tick / 2 + 1) as u64) as i64;
            let ask_size = scale_pct(&mut self.rng, self.config.order_size_stroops, 50, 150);
            let bid_size = scale_pct(&mut self.rng, self.config.order_size_stroops, 50, 150);
            let ask_quote = centre * i128::from(BPS + distance);
            let bid_quote = centre * i128::from(BPS - distance);
            let scale = i128::from(MID_SCALE) * i128::from(BPS);
            // Asks sell XLM: price in asset per XLM. Bids sell the asset: price in XLM per asset.
            if let Some(price) = price_of(ask_quote, scale) {
                asks.push(Level { price, amount: ask_size });
            }
            if let Some(price) = price_of(scale, bid_quote) {
                let amount = (i128::from(bid_size) * bid_quote / scale).min(i128::from(i64::MAX)) as i64;
                bids.push(Level { price, amount });
            }
        }
        let minimum = (self.config.order_size_stroops / 100).max(1);
        fit_budget(&mut asks, xlm / 10 * 9, minimum);
        fit_budget(&mut bids, units / 10 * 9, mul_div(minimum, self.mid, MID_SCALE).max(1));

        let book = ledger.book();
        let old_asks = own_side(book.offers_by(&maker.id), &Asset::Native, &self.asset);
        let old_bids = own_side(book.offers_by(&maker.id), &self.asset, &Asset::Native);
        // One order of the two sides never crosses the maker's own offers: the side that moves
        // away from the other first (the ladders are each uncrossed).
        let asks_first = match (asks.first(), old_bids.first()) {
            (Some(ask), Some(bid)) => !crosses(ask.price, bid.price),
            _ => true,
        };
        let ask_ops = side_ops(&old_asks, &asks, Asset::Native, self.asset);
        let bid_ops = side_ops(&old_bids, &bids, self.asset, Asset::Native);
        let ops: Vec<stx::OfferOp> = if asks_first {
            ask_ops.into_iter().chain(bid_ops).collect()
        } else {
            bid_ops.into_iter().chain(ask_ops).collect()
        };
        if let Ok(s) = submit_offers(ledger, &maker, &ops, now, "a maker's ladder") {
            out.push(s);
        }
    }

    fn taker_step(&mut self, ledger: &mut Ledger, index: usize, now: u64, out: &mut Vec<Submission>) {
        if self.rng.below(100) >= u64::from(self.config.taker_probability_pct) {
            return;
        }
        let taker = self.takers[index].clone();
        let order = self.config.order_size_stroops;
        let needed = (order, mul_div(order, self.mid, MID_SCALE));
        // A trustline and one offer.
        let subentries = 2;
        out.extend(self.top_up(ledger, &taker.id, self.taker_funding, needed, subentries, now));

        let xlm = self.xlm_spendable(ledger, &taker.id, subentries);
        let units = self.asset_balance(ledger, &taker.id);
        let xlm_value = mul_div(xlm, self.mid, MID_SCALE);
        let total = i128::from(xlm_value) + i128::from(units);
        let xlm_share_pct = if total > 0 { (i128::from(xlm_value) * 100 / total) as u64 } else { 50 };
        let sells_xlm = self.rng.below(100) < xlm_share_pct.clamp(20, 80);
        let levels = self.config.levels as u64;
        let slip = i128::from(self.config.tick_bps) * i128::from(1 + self.rng.below(levels.max(1)));
        let size = scale_pct(&mut self.rng, order, 25, 200);
        let bps = i128::from(BPS);

        let book = ledger.book();
        // Leftovers of earlier orders go first, so that the new one cannot cross them.
        let mut ops: Vec<stx::OfferOp> = book
            .offers_by(&taker.id)
            .into_iter()
            .filter_map(|o| offer_op(o.selling, o.buying, 0, o.price, o.id))
            .collect();
        let new = if sells_xlm {
            // Sell XLM down to `slip` below the best bid (bids are priced in XLM per asset).
            book.best(&self.asset, &Asset::Native).next().and_then(|bid| {
                let (n, d) = (i128::from(bid.price.n()), i128::from(bid.price.d()));
                let price = price_of(d * (bps - slip), n * bps)?;
                offer_op(Asset::Native, self.asset, size.min(xlm / 2), price, 0)
            })
        } else {
            // Buy XLM up to `slip` above the best ask, selling the asset.
            book.best(&Asset::Native, &self.asset).next().and_then(|ask| {
                let (n, d) = (i128::from(ask.price.n()), i128::from(ask.price.d()));
                let price = price_of(d * bps, n * (bps + slip))?;
                let cost = i128::from(size) * n * (bps + slip) / (d * bps);
                let amount = cost.min(i128::from(units / 2)) as i64;
                offer_op(self.asset, Asset::Native, amount, price, 0)
            })
        };
        let Some(new) = new else { return };
        ops.push(new);
        if let Ok(s) = submit_offers(ledger, &taker, &ops, now, "a taker's order") {
            out.push(s);
        }
    }
}

/// The configuration checked; the starting mid in [`MID_SCALE`] units.
fn validate(config: &MarketConfig) -> Result<i64, MarketError> {
    let bad = |why: String| Err(MarketError::Config(why));
    let (n, d) = config.mid_price;
    if n <= 0 || d <= 0 {
        return bad(format!("mid_price {n}/{d} is not positive"));
    }
    let mid = i128::from(n) * i128::from(MID_SCALE) / i128::from(d);
    if mid < i128::from(MID_SCALED_MIN) || mid > i128::from(MID_SCALED_MAX) {
        return bad(format!("mid_price {n}/{d} is outside 10⁻⁶..=10⁵"));
    }
    if !(1..=PARTICIPANTS_MAX).contains(&config.makers) {
        return bad(format!("makers {} is not in 1..={PARTICIPANTS_MAX}", config.makers));
    }
    if config.takers > PARTICIPANTS_MAX {
        return bad(format!("takers {} is more than {PARTICIPANTS_MAX}", config.takers));
    }
    if !(1..=LEVELS_MAX).contains(&config.levels) {
        return bad(format!("levels {} is not in 1..={LEVELS_MAX}", config.levels));
    }
    let depth_bps = u64::from(config.tick_bps) * (config.levels as u64 + 1 + SKEW_TICKS_MAX as u64);
    if config.tick_bps == 0 || depth_bps >= u64::from(LADDER_DEPTH_BPS_MAX) {
        return bad(format!(
            "tick_bps {} with {} levels: the ladder must be 1 bp or more apart and under {LADDER_DEPTH_BPS_MAX} bps deep",
            config.tick_bps, config.levels
        ));
    }
    if config.volatility_bps > VOLATILITY_BPS_MAX {
        return bad(format!("volatility_bps {} is more than {VOLATILITY_BPS_MAX}", config.volatility_bps));
    }
    if config.order_size_stroops < 100 || config.order_size_stroops > ORDER_SIZE_STROOPS_MAX {
        return bad(format!(
            "order_size_stroops {} is not in 100..={ORDER_SIZE_STROOPS_MAX}",
            config.order_size_stroops
        ));
    }
    if config.taker_probability_pct > 100 {
        return bad(format!("taker_probability_pct {} is more than 100", config.taker_probability_pct));
    }
    Ok(mid as i64)
}

fn check_time(ledger: &Ledger, now: u64) -> Result<(), MarketError> {
    let last_close_time = ledger.last_close_time();
    if now < last_close_time {
        return Err(MarketError::TimeBeforeLastClose { now, last_close_time });
    }
    Ok(())
}

fn expect_success(submission: &Submission, what: &str) -> Result<(), MarketError> {
    if submission.succeeded() {
        Ok(())
    } else {
        Err(MarketError::Failed { what: what.to_owned(), result: format!("{:?}", submission.result.result) })
    }
}

fn change_trust_op(asset: &Asset, limit: i64) -> xdr::OperationBody {
    let line = match asset_to_xdr(asset) {
        xdr::Asset::Native => xdr::ChangeTrustAsset::Native,
        xdr::Asset::CreditAlphanum4(a) => xdr::ChangeTrustAsset::CreditAlphanum4(a),
        xdr::Asset::CreditAlphanum12(a) => xdr::ChangeTrustAsset::CreditAlphanum12(a),
    };
    xdr::OperationBody::ChangeTrust(xdr::ChangeTrustOp { line, limit })
}

/// The next sequence number and the minimum fee for `ops` operations.
fn seq_and_fee(ledger: &Ledger, source: &AccountId, ops: usize, what: &str) -> Result<(i64, u32), MarketError> {
    let account = ledger.account(source).ok_or(MarketError::NoAccount(*source))?;
    let fee = ledger.config().base_fee_stroops.saturating_mul(ops as i64);
    let fee = u32::try_from(fee)
        .map_err(|_| MarketError::Build { what: what.to_owned(), why: format!("fee {fee} does not fit 32 bits") })?;
    Ok((account.seq_num.saturating_add(1), fee))
}

fn sign_and_submit(
    ledger: &mut Ledger,
    trader: &Trader,
    tx: xdr::Transaction,
    now: u64,
    what: &str,
) -> Result<Submission, MarketError> {
    let build = |why: String| MarketError::Build { what: what.to_owned(), why };
    let mut signer = SeedSigner::new(&trader.seed, StoreKind::Env, SIGNER_URI.to_owned());
    let signed = stx::sign(tx, ledger.network(), &mut [&mut signer]).map_err(|e| build(e.to_string()))?;
    ledger.submit(&signed.to_xdr(), now).map_err(|e| build(e.to_string()))
}

/// A transaction of `ops` from `trader`, without time bounds.
fn submit_raw(
    ledger: &mut Ledger,
    trader: &Trader,
    ops: Vec<xdr::OperationBody>,
    now: u64,
    what: &str,
) -> Result<Submission, MarketError> {
    let (seq, fee) = seq_and_fee(ledger, &trader.id, ops.len(), what)?;
    let operations: Vec<xdr::Operation> =
        ops.into_iter().map(|body| xdr::Operation { source_account: None, body }).collect();
    let tx = xdr::Transaction {
        source_account: muxed_to_xdr(&trader.id),
        fee,
        seq_num: xdr::SequenceNumber(seq),
        cond: xdr::Preconditions::None,
        memo: xdr::Memo::None,
        operations: operations
            .try_into()
            .map_err(|_| MarketError::Build { what: what.to_owned(), why: "too many operations".to_owned() })?,
        ext: xdr::TransactionExt::V0,
    };
    sign_and_submit(ledger, trader, tx, now, what)
}

/// An offer transaction (built by [`stx::build`]) from `trader`, valid until shortly after
/// `now`. Nothing is submitted for no operations.
fn submit_offers(
    ledger: &mut Ledger,
    trader: &Trader,
    ops: &[stx::OfferOp],
    now: u64,
    what: &str,
) -> Result<Submission, MarketError> {
    let (sequence, fee_stroops) = seq_and_fee(ledger, &trader.id, ops.len(), what)?;
    let params = TxParams {
        source: trader.id,
        sequence,
        fee_stroops,
        min_time: 0,
        max_time: now.saturating_add(TX_VALIDITY_SECONDS).max(1),
    };
    let tx = stx::build(&params, ops).map_err(|e| MarketError::Build { what: what.to_owned(), why: e.to_string() })?;
    sign_and_submit(ledger, trader, tx, now, what)
}

/// A ManageSellOffer (amount 0 deletes `offer_id`; offer id 0 creates).
fn offer_op(selling: Asset, buying: Asset, amount: i64, price: Price, offer_id: i64) -> Option<stx::OfferOp> {
    if amount < 0 || (amount == 0 && offer_id == 0) {
        return None;
    }
    Some(stx::OfferOp {
        kind: OfferKind::ManageSell,
        selling,
        buying,
        amount: Amount::from_stroops(amount).ok()?,
        price,
        offer: OfferRef::from_xdr(offer_id).ok()?,
    })
}

/// Scales the levels down to `budget` in total; drops those under `minimum`.
fn fit_budget(levels: &mut Vec<Level>, budget: i64, minimum: i64) {
    let total: i128 = levels.iter().map(|l| i128::from(l.amount)).sum();
    if total > i128::from(budget) {
        for level in levels.iter_mut() {
            level.amount = (i128::from(level.amount) * i128::from(budget.max(0)) / total) as i64;
        }
    }
    levels.retain(|l| l.amount >= minimum);
}

/// The owner's offers selling `selling` for `buying`, lowest price first (best first).
fn own_side(offers: Vec<&Offer>, selling: &Asset, buying: &Asset) -> Vec<Offer> {
    let mut side: Vec<Offer> =
        offers.into_iter().filter(|o| o.selling == *selling && o.buying == *buying).cloned().collect();
    side.sort_by(|a, b| a.price.cmp_value(b.price).then(a.id.cmp(&b.id)));
    side
}

/// Whether a sell offer at `a` and one the other way at `b` cross (`a × b ≤ 1`).
fn crosses(a: Price, b: Price) -> bool {
    i128::from(a.n()) * i128::from(b.n()) <= i128::from(a.d()) * i128::from(b.d())
}

/// The operations that turn one side of a maker's ladder from `old` into `new`: level `i`
/// modifies the `i`-th best old offer, extra old offers are deleted, missing ones created.
/// Shrinking operations come first, so that the liabilities never exceed the larger ladder.
fn side_ops(old: &[Offer], new: &[Level], selling: Asset, buying: Asset) -> Vec<stx::OfferOp> {
    let mut shrink = Vec::new();
    let mut grow = Vec::new();
    for i in 0..old.len().max(new.len()) {
        match (old.get(i), new.get(i)) {
            (Some(o), Some(l)) => {
                if o.price.n() == l.price.n() && o.price.d() == l.price.d() && o.amount == l.amount {
                    continue;
                }
                let target = if l.amount <= o.amount { &mut shrink } else { &mut grow };
                target.extend(offer_op(selling, buying, l.amount, l.price, o.id));
            }
            (Some(o), None) => shrink.extend(offer_op(selling, buying, 0, o.price, o.id)),
            (None, Some(l)) => grow.extend(offer_op(selling, buying, l.amount, l.price, 0)),
            (None, None) => {}
        }
    }
    shrink.extend(grow);
    shrink
}
