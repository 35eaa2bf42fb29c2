//! The order-book mirror: the engine's copy of one pair's book, replaced by each journaled
//! snapshot after validation, with the best prices, the mid and depth the risk checks and
//! strategies read. Levels live in vectors that are reused, so applying a snapshot does not
//! allocate once the book has reached its usual depth.

use core::cmp::Ordering;
use core::fmt;

use crate::amount::Amount;
use crate::events::{ArchivedBookSnapshot, ArchivedLevel};
use crate::price::Price;

/// Horizon serves at most 200 levels a side; a snapshot with more is refused.
pub const BOOK_LEVELS_MAX: usize = 200;

/// One level: price (counter per base) and base amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BookLevel {
    pub price: Price,
    pub amount: Amount,
}

/// Why a snapshot was refused (the previous book stays in force).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BookError {
    TooManyLevels,
    /// A level's price is not a valid Stellar price.
    BadPrice,
    /// A level's amount is zero or negative.
    BadAmount,
    /// Bids not strictly descending, or asks not strictly ascending.
    Unordered,
    /// Best bid at or above best ask: not a book the SDEX can have.
    Crossed,
}

impl fmt::Display for BookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BookError::TooManyLevels => "more than 200 levels on a side",
            BookError::BadPrice => "a level has an invalid price",
            BookError::BadAmount => "a level has a zero or negative amount",
            BookError::Unordered => "levels are not in price order",
            BookError::Crossed => "best bid is at or above best ask",
        })
    }
}

/// One pair's book as last seen.
#[derive(Clone, Debug, Default)]
pub struct Book {
    /// Best first (highest price).
    bids: Vec<BookLevel>,
    /// Best first (lowest price).
    asks: Vec<BookLevel>,
    /// Event time of the snapshot in force (`None` before the first).
    updated_ns: Option<i64>,
    /// Where the next snapshot is decoded and checked before it replaces `bids`/`asks` (swapped
    /// in on success): each level is read once and nothing is allocated at a steady depth.
    /// Not part of the book's value (equality, hash and snapshots ignore it).
    spare: [Vec<BookLevel>; 2],
}

impl PartialEq for Book {
    fn eq(&self, other: &Book) -> bool {
        (&self.bids, &self.asks, self.updated_ns) == (&other.bids, &other.asks, other.updated_ns)
    }
}

impl Eq for Book {}

impl core::hash::Hash for Book {
    fn hash<H: core::hash::Hasher>(&self, h: &mut H) {
        (&self.bids, &self.asks, self.updated_ns).hash(h);
    }
}

impl Book {
    pub fn new() -> Book {
        Book::default()
    }

    /// Replace the book with `snap`, or refuse it and keep the current book.
    pub fn apply(&mut self, snap: &ArchivedBookSnapshot, now_ns: i64) -> Result<(), BookError> {
        if snap.bids.len() > BOOK_LEVELS_MAX || snap.asks.len() > BOOK_LEVELS_MAX {
            return Err(BookError::TooManyLevels);
        }
        // Decode and check both sides into the spare vectors; the current book is untouched
        // until everything holds.
        let [spare_bids, spare_asks] = &mut self.spare;
        decode_side(spare_bids, snap.bids.as_slice(), Ordering::Greater)?;
        decode_side(spare_asks, snap.asks.as_slice(), Ordering::Less)?;
        if let (Some(bid), Some(ask)) = (spare_bids.first(), spare_asks.first())
            && bid.price.cmp_value(ask.price) != Ordering::Less
        {
            return Err(BookError::Crossed);
        }
        core::mem::swap(&mut self.bids, spare_bids);
        core::mem::swap(&mut self.asks, spare_asks);
        self.updated_ns = Some(now_ns);
        Ok(())
    }

    pub fn bids(&self) -> &[BookLevel] {
        &self.bids
    }

    pub fn asks(&self) -> &[BookLevel] {
        &self.asks
    }

    pub fn best_bid(&self) -> Option<Price> {
        self.bids.first().map(|l| l.price)
    }

    pub fn best_ask(&self) -> Option<Price> {
        self.asks.first().map(|l| l.price)
    }

    /// When the snapshot in force was applied, if any.
    pub fn updated_ns(&self) -> Option<i64> {
        self.updated_ns
    }

    /// Is the book older than `age_ns_max` at `now_ns` (or empty of any snapshot)?
    pub fn is_stale(&self, now_ns: i64, age_ns_max: i64) -> bool {
        self.updated_ns.is_none_or(|t| now_ns.saturating_sub(t) > age_ns_max)
    }

    /// Base amount available at prices at least as good as `limit` for a taker on `side`:
    /// buying takes asks priced ≤ limit, selling hits bids priced ≥ limit.
    pub fn depth_within(&self, taker_buys: bool, limit: Price) -> Amount {
        let (levels, keep) = if taker_buys { (&self.asks, Ordering::Greater) } else { (&self.bids, Ordering::Less) };
        levels
            .iter()
            .take_while(|l| l.price.cmp_value(limit) != keep)
            .fold(Amount::ZERO, |acc, l| acc.checked_add(l.amount).unwrap_or(Amount::MAX))
    }
}

impl Book {
    /// Snapshot encoding (see [`crate::snapshot`]): each side's levels (count, then price and
    /// amount), then the time of the snapshot in force.
    pub(crate) fn encode_snapshot(&self, out: &mut Vec<u8>) {
        use crate::snapshot::{put_amount, put_len, put_opt_i64, put_price};
        for side in [&self.bids, &self.asks] {
            put_len(out, side.len());
            for l in side {
                put_price(out, l.price);
                put_amount(out, l.amount);
            }
        }
        put_opt_i64(out, self.updated_ns);
    }

    /// The book [`Book::encode_snapshot`] wrote, held to the rules [`Book::apply`] enforces
    /// (at most 200 levels a side, positive amounts, strictly ordered, not crossed).
    pub(crate) fn decode_snapshot(r: &mut crate::snapshot::Reader<'_>) -> Result<Book, crate::snapshot::SnapshotError> {
        use crate::snapshot::corrupt;
        let mut sides = [Vec::new(), Vec::new()];
        for (side, strictly) in sides.iter_mut().zip([Ordering::Greater, Ordering::Less]) {
            let n = r.len(16)?;
            if n > BOOK_LEVELS_MAX {
                return Err(corrupt("a book side has more than 200 levels"));
            }
            side.reserve_exact(n);
            for _ in 0..n {
                let level = BookLevel { price: r.price()?, amount: r.amount()? };
                if level.amount.is_zero() {
                    return Err(corrupt("a book level of amount 0"));
                }
                if side.last().is_some_and(|prev: &BookLevel| prev.price.cmp_value(level.price) != strictly) {
                    return Err(corrupt("book levels out of price order"));
                }
                side.push(level);
            }
        }
        let [bids, asks] = sides;
        if let (Some(bid), Some(ask)) = (bids.first(), asks.first())
            && bid.price.cmp_value(ask.price) != Ordering::Less
        {
            return Err(corrupt("a crossed book"));
        }
        Ok(Book { bids, asks, updated_ns: r.opt_i64()?, spare: Default::default() })
    }
}

/// Decode a side's levels into `side` (cleared first), checking each: a valid price, a positive
/// amount, and `strictly` how each price compares with the next (bids: Greater; asks: Less).
fn decode_side(side: &mut Vec<BookLevel>, levels: &[ArchivedLevel], strictly: Ordering) -> Result<(), BookError> {
    side.clear();
    let mut prev: Option<Price> = None;
    for l in levels {
        let price = l.price.to_price().map_err(|_| BookError::BadPrice)?;
        let amount = l.amount_stroops.to_native();
        if amount <= 0 {
            return Err(BookError::BadAmount);
        }
        if let Some(p) = prev
            && p.cmp_value(price) != strictly
        {
            return Err(BookError::Unordered);
        }
        prev = Some(price);
        side.push(BookLevel { price, amount: Amount::from_stroops(amount).map_err(|_| BookError::BadAmount)? });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{BookSnapshot, Level, WirePrice};

    fn level(n: i32, d: i32, amount: i64) -> Level {
        Level { price: WirePrice { n, d }, amount_stroops: amount }
    }

    fn archived(bids: Vec<Level>, asks: Vec<Level>) -> rkyv::util::AlignedVec {
        rkyv::to_bytes::<rkyv::rancor::Error>(&BookSnapshot { pair: 0, bids, asks }).unwrap()
    }

    fn apply(book: &mut Book, bids: Vec<Level>, asks: Vec<Level>, now: i64) -> Result<(), BookError> {
        let bytes = archived(bids, asks);
        let snap = rkyv::access::<ArchivedBookSnapshot, rkyv::rancor::Error>(&bytes).unwrap();
        book.apply(snap, now)
    }

    #[test]
    fn snapshots_replace_the_book() {
        let mut b = Book::new();
        assert!(b.is_stale(0, 1_000));
        apply(&mut b, vec![level(99, 1000, 5), level(98, 1000, 7)], vec![level(101, 1000, 3)], 10).unwrap();
        assert_eq!(b.best_bid(), Some(Price::new(99, 1000).unwrap()));
        assert_eq!(b.best_ask(), Some(Price::new(101, 1000).unwrap()));
        assert_eq!(b.depth_within(false, Price::new(98, 1000).unwrap()), Amount::from_stroops(12).unwrap());
        assert_eq!(b.depth_within(false, Price::new(985, 10000).unwrap()), Amount::from_stroops(5).unwrap());
        assert_eq!(b.depth_within(true, Price::new(1, 1).unwrap()), Amount::from_stroops(3).unwrap());
        assert!(!b.is_stale(500, 1_000) && b.is_stale(1_011, 1_000));
        apply(&mut b, vec![], vec![level(1, 2, 1)], 20).unwrap();
        assert_eq!((b.best_bid(), b.bids().len(), b.asks().len()), (None, 0, 1));
    }

    #[test]
    fn bad_snapshots_are_refused_and_the_book_kept() {
        let mut b = Book::new();
        apply(&mut b, vec![level(99, 1000, 5)], vec![level(101, 1000, 3)], 1).unwrap();
        let before = b.clone();
        assert_eq!(apply(&mut b, vec![level(98, 1000, 5), level(99, 1000, 5)], vec![], 2), Err(BookError::Unordered));
        assert_eq!(apply(&mut b, vec![level(99, 1000, 5), level(99, 1000, 5)], vec![], 2), Err(BookError::Unordered));
        assert_eq!(apply(&mut b, vec![], vec![level(2, 1, 5), level(1, 1, 5)], 2), Err(BookError::Unordered));
        assert_eq!(apply(&mut b, vec![level(101, 1000, 5)], vec![level(101, 1000, 3)], 2), Err(BookError::Crossed));
        assert_eq!(apply(&mut b, vec![level(1, 0, 5)], vec![], 2), Err(BookError::BadPrice));
        assert_eq!(apply(&mut b, vec![level(1, 1, 0)], vec![], 2), Err(BookError::BadAmount));
        assert_eq!(apply(&mut b, vec![level(1, 1, -4)], vec![], 2), Err(BookError::BadAmount));
        assert_eq!(apply(&mut b, vec![level(1, 1, 1); 201], vec![], 2), Err(BookError::TooManyLevels));
        assert_eq!(b, before);
    }

    #[test]
    fn equal_values_in_other_terms_are_one_price() {
        let mut b = Book::new();
        // 1/2 and 2/4 are the same price: not strictly descending.
        assert_eq!(apply(&mut b, vec![level(1, 2, 1), level(2, 4, 1)], vec![], 1), Err(BookError::Unordered));
    }
}
