//! Every offer on the ledger, indexed as stellar-core loads them: per (selling, buying) pair in
//! priority order — lowest price first, then lowest id — and per seller.
//!
//! stellar-core orders offers by `double(n) / double(d)` (`isBetterOffer` in
//! `src/ledger/LedgerTxn.cpp`, and the `price` column of its offers table), so two different
//! prices whose quotients round to the same `f64` tie and fall back to the id. [`PriceKey`]
//! reproduces that rounding exactly in integers (round-half-even of `n/d` to 53 significant
//! bits), without any floating point.

use std::collections::{BTreeMap, BTreeSet};

use starlog_engine::{AccountId, Asset, Price};

use super::Offer;

/// Significant bits of an IEEE 754 double (its mantissa, hidden bit included).
const DOUBLE_MANTISSA_BITS: u32 = 53;

/// The sort key of a price: the IEEE 754 double nearest `n/d` (ties to even), as
/// `(binary exponent, 53-bit mantissa)`. Ordering the keys orders the doubles, since both
/// components are normalized (`n/d` lies in `[2^-31, 2^31]`, far from subnormals).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PriceKey {
    exponent: i32,
    mantissa: u64,
}

impl PriceKey {
    /// The key of `price`; equal keys ⇔ equal `f64` quotients.
    pub fn of(price: Price) -> PriceKey {
        let n = u128::from(price.n().unsigned_abs());
        let d = u128::from(price.d().unsigned_abs());
        debug_assert!(n > 0 && d > 0);
        let low = 1u128 << (DOUBLE_MANTISSA_BITS - 1);
        let high = 1u128 << DOUBLE_MANTISSA_BITS;
        // Find `shift` with 2^52 <= n * 2^shift / d < 2^53; n, d < 2^31 keep it within 0..=84,
        // and n * 2^shift < 2^116.
        let bits = |x: u128| 128 - x.leading_zeros();
        let mut shift = (DOUBLE_MANTISSA_BITS - 1 + bits(d)).saturating_sub(bits(n));
        while (n << shift) / d >= high {
            shift -= 1;
        }
        while (n << shift) / d < low {
            shift += 1;
        }
        let numerator = n << shift;
        let (mut mantissa, remainder) = (numerator / d, numerator % d);
        let twice = 2 * remainder;
        if twice > d || (twice == d && mantissa % 2 == 1) {
            mantissa += 1;
        }
        let mut exponent = -i32::try_from(shift).unwrap_or(i32::MAX);
        if mantissa == high {
            mantissa = low;
            exponent += 1;
        }
        debug_assert!((low..high).contains(&mantissa));
        PriceKey { exponent, mantissa: u64::try_from(mantissa).unwrap_or(u64::MAX) }
    }
}

/// The order book: every offer, by id, by pair in priority order, and by seller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Book {
    offers: BTreeMap<i64, Offer>,
    by_pair: BTreeMap<(Asset, Asset), BTreeSet<(PriceKey, i64)>>,
    by_seller: BTreeMap<AccountId, BTreeSet<i64>>,
}

impl Book {
    pub fn new() -> Book {
        Book::default()
    }

    /// Adds an offer. Its id must be new and its amount positive.
    pub fn insert(&mut self, offer: Offer) {
        assert!(offer.amount > 0, "offer {} with amount {}", offer.id, offer.amount);
        assert!(offer.selling != offer.buying, "offer {} sells what it buys", offer.id);
        assert!(!self.offers.contains_key(&offer.id), "offer id {} already on the book", offer.id);
        self.by_pair.entry((offer.selling, offer.buying)).or_default().insert((PriceKey::of(offer.price), offer.id));
        self.by_seller.entry(offer.seller).or_default().insert(offer.id);
        self.offers.insert(offer.id, offer);
    }

    /// Removes and returns the offer `id`, if any.
    pub fn remove(&mut self, id: i64) -> Option<Offer> {
        let offer = self.offers.remove(&id)?;
        let pair = (offer.selling, offer.buying);
        if let Some(level) = self.by_pair.get_mut(&pair) {
            let removed = level.remove(&(PriceKey::of(offer.price), id));
            debug_assert!(removed);
            if level.is_empty() {
                self.by_pair.remove(&pair);
            }
        }
        if let Some(ids) = self.by_seller.get_mut(&offer.seller) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_seller.remove(&offer.seller);
            }
        }
        Some(offer)
    }

    /// Sets the amount of offer `id` (positive), keeping its place. Returns the old amount.
    pub fn set_amount(&mut self, id: i64, amount: i64) -> Option<i64> {
        assert!(amount > 0, "offer {id} set to amount {amount}");
        let offer = self.offers.get_mut(&id)?;
        Some(core::mem::replace(&mut offer.amount, amount))
    }

    pub fn get(&self, id: i64) -> Option<&Offer> {
        self.offers.get(&id)
    }

    /// The offers of `seller`, by id.
    pub fn offers_by(&self, seller: &AccountId) -> Vec<&Offer> {
        self.by_seller
            .get(seller)
            .map(|ids| ids.iter().filter_map(|id| self.offers.get(id)).collect())
            .unwrap_or_default()
    }

    /// The offers selling `selling` for `buying`, best first: lowest price (buying per selling,
    /// as stellar-core's double quotient), then lowest id.
    pub fn best(&self, selling: &Asset, buying: &Asset) -> impl Iterator<Item = &Offer> {
        self.by_pair
            .get(&(*selling, *buying))
            .into_iter()
            .flat_map(|level| level.iter())
            .filter_map(|(_, id)| self.offers.get(id))
    }

    /// Every offer, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values()
    }

    pub fn len(&self) -> usize {
        self.offers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }
}
