//! SDEX semantics against stellar-core: `exchangeV10` / `adjustOffer` / `checkPriceErrorBound`
//! vectors from `src/transactions/test/ExchangeTests.cpp`, scenario tests of the offer
//! operations, and a differential property test against a naive reference model (a plain `Vec`
//! of offers scanned linearly, ordered by `f64` quotients exactly as stellar-core's
//! `isBetterOffer`), with ledger invariants checked after every operation.

use std::collections::BTreeMap;

use proptest::prelude::*;
use starlog_engine::{AccountId, Asset, Price};
use starlog_sim::sdex::{
    Accounts, Book, Exchange, Fill, OFFERS_CROSSED_MAX, Offer, OfferEffect, OfferFailure, OfferOp, OfferOpKind,
    OfferSuccess, PriceKey, Rounding, adjust_offer, check_price_error_bound, exchange_v10, manage_offer,
    offer_liabilities,
};

const MAX: i64 = i64::MAX;
const I32_MAX: i64 = i32::MAX as i64;
/// Base reserve of the test ledger, in stroops (0.5 XLM, as on the public network).
const BASE_RESERVE_STROOPS: i64 = 5_000_000;

fn price(n: i32, d: i32) -> Price {
    Price::new(n, d).unwrap()
}

// ---------------------------------------------------------------------------------------------
// ExchangeTests.cpp vectors
// ---------------------------------------------------------------------------------------------

fn check_v10(p: Price, limits: [i64; 4], wheat_receive: i64, sheep_send: i64, wheat_stays: bool) {
    let [mws, mwr, mss, msr] = limits;
    let ex = exchange_v10(p, mws, mwr, mss, msr, Rounding::Normal);
    assert_eq!(ex, Exchange { wheat_received: wheat_receive, sheep_send, wheat_stays }, "{p} {limits:?}");
    let (n, d) = (i128::from(p.n()), i128::from(p.d()));
    let (w, s) = (i128::from(wheat_receive), i128::from(sheep_send));
    // The rounding favours the offer that stays.
    if wheat_stays { assert!(s * d >= w * n) } else { assert!(s * d <= w * n) }
}

#[test]
fn exchange_v10_limited_by_wheat_send_and_sheep_send() {
    let c = |p, mws: i64, mss: i64, w, s| {
        let stays = i128::from(mws) * i128::from(Price::n(p)) > i128::from(mss) * i128::from(Price::d(p));
        check_v10(p, [mws, MAX, mss, MAX], w, s, stays)
    };
    c(price(3, 2), 3000, 4501, 3000, 4500);
    c(price(3, 2), 3000, 4500, 3000, 4500);
    c(price(3, 2), 3000, 4499, 2999, 4499);
    c(price(3, 2), 2999, 4499, 2999, 4498);
    c(price(3, 2), 2999, 4498, 2998, 4497);
    c(price(2, 3), 3000, 2001, 3000, 2000);
    c(price(2, 3), 3000, 2000, 3000, 2000);
    c(price(2, 3), 3000, 1999, 2998, 1999);
    c(price(2, 3), 2999, 2000, 2999, 1999);
    c(price(2, 3), 2999, 1999, 2998, 1999);
}

#[test]
fn exchange_v10_limited_by_wheat_receive_and_sheep_receive() {
    let c = |p, mwr: i64, msr: i64, w, s| {
        let stays = i128::from(msr) * i128::from(Price::d(p)) > i128::from(mwr) * i128::from(Price::n(p));
        check_v10(p, [MAX, mwr, MAX, msr], w, s, stays)
    };
    c(price(3, 2), 3000, 4501, 3000, 4500);
    c(price(3, 2), 3000, 4500, 3000, 4500);
    c(price(3, 2), 3000, 4499, 2999, 4498);
    c(price(3, 2), 2999, 4499, 2999, 4499);
    c(price(3, 2), 2999, 4498, 2998, 4497);
    c(price(2, 3), 3000, 2001, 3000, 2000);
    c(price(2, 3), 3000, 2000, 3000, 2000);
    c(price(2, 3), 3000, 1999, 2999, 1999);
    c(price(2, 3), 2999, 2000, 2998, 1999);
    c(price(2, 3), 2999, 1999, 2999, 1999);
}

#[test]
fn exchange_v10_limited_by_wheat_send_and_wheat_receive() {
    let c = |p, mws: i64, mwr: i64, w, s| check_v10(p, [mws, mwr, MAX, MAX], w, s, mws > mwr);
    c(price(3, 2), 3000, 3001, 3000, 4500);
    c(price(3, 2), 3000, 3000, 3000, 4500);
    c(price(3, 2), 3000, 2999, 2999, 4499);
    c(price(2, 3), 3000, 3001, 3000, 2000);
    c(price(2, 3), 3000, 3000, 3000, 2000);
    c(price(2, 3), 3000, 2999, 2998, 1999);
}

#[test]
fn exchange_v10_limited_by_sheep_send_and_sheep_receive() {
    let c = |p, mss: i64, msr: i64, w, s| check_v10(p, [MAX, MAX, mss, msr], w, s, msr > mss);
    c(price(3, 2), 4500, 4501, 3000, 4500);
    c(price(3, 2), 4500, 4500, 3000, 4500);
    c(price(3, 2), 4500, 4499, 2999, 4498);
    c(price(2, 3), 2000, 2001, 3000, 2000);
    c(price(2, 3), 2000, 2000, 3000, 2000);
    c(price(2, 3), 2000, 1999, 2999, 1999);
}

#[test]
fn exchange_v10_price_error_threshold() {
    // Nothing is exchanged when the rounding error would exceed 1 %.
    check_v10(price(3, 2), [28, 27, MAX, MAX], 0, 0, true);
    check_v10(price(3, 2), [28, 26, MAX, MAX], 26, 39, true);
    // Large enough offers are not affected.
    check_v10(price(3, 2), [52, 51, MAX, MAX], 51, 77, true);
    check_v10(price(3, 2), [52, 50, MAX, MAX], 50, 75, true);
}

#[test]
fn exchange_v10_path_payment_rounding() {
    let c = |p, limits: [i64; 4], round, w, s| {
        let ex = exchange_v10(p, limits[0], limits[1], limits[2], limits[3], round);
        assert_eq!((ex.wheat_received, ex.sheep_send), (w, s), "{p} {limits:?} {round:?}");
    };
    use Rounding::{Normal, PathPaymentStrictReceive as Receive, PathPaymentStrictSend as Send};
    c(price(3, 2), [28, 27, MAX, MAX], Normal, 0, 0);
    c(price(3, 2), [28, 27, MAX, MAX], Receive, 27, 41);
    c(price(3, 2), [150, 101, MAX, MAX], Normal, 101, 152);
    c(price(3, 2), [150, 101, MAX, MAX], Receive, 101, 152);
    c(price(2, 3), [150, 101, MAX, MAX], Normal, 100, 67);
    c(price(2, 3), [150, 101, MAX, MAX], Receive, 101, 68);
    c(price(3, 2), [28, MAX, 41, MAX], Normal, 0, 0);
    c(price(3, 2), [28, MAX, 41, MAX], Send, 27, 41);
    assert_eq!(adjust_offer(price(3, 2), 97, MAX), 97);
    c(price(3, 2), [97, MAX, 145, MAX], Normal, 96, 144);
    c(price(3, 2), [97, MAX, 145, MAX], Send, 96, 145);
    c(price(2, 3), [97, 95, MAX, MAX], Normal, 94, 63);
    c(price(2, 3), [97, 95, MAX, MAX], Send, 95, MAX);
    c(price(2, 1), [1, MAX, 1, MAX], Normal, 0, 0);
    c(price(2, 1), [1, MAX, 1, MAX], Send, 0, 1);
}

#[test]
fn exchange_v10_extreme_prices() {
    // Unlimited taker: the whole offer at the price, rounded in favour of the offer.
    check_v10(price(i32::MAX, 1), [1000, MAX, MAX, MAX], 1000, 1000 * I32_MAX, false);
    check_v10(price(1, i32::MAX), [1000 * I32_MAX, MAX, MAX, MAX], 1000 * I32_MAX, 1000, false);
    check_v10(price(i32::MAX, i32::MAX), [MAX, MAX, MAX, MAX], MAX, MAX, false);
    // Limits near i64::MAX do not overflow (u128 arithmetic).
    let ex = exchange_v10(price(i32::MAX, 1), MAX, MAX, MAX, MAX, Rounding::Normal);
    assert_eq!((ex.wheat_received, ex.sheep_send, ex.wheat_stays), (MAX / I32_MAX, MAX / I32_MAX * I32_MAX, false));
}

#[test]
fn adjust_offer_vectors() {
    let c = |p, mws, msr, expected| assert_eq!(adjust_offer(p, mws, msr), expected, "{p} {mws} {msr}");
    let twice = |p, mws, msr, expected| {
        c(p, mws, msr, expected);
        c(p, expected, msr, expected);
    };
    c(price(1, 1000), 2001, MAX, 2000);
    c(price(1, 1000), 2000, MAX, 2000);
    c(price(1, 1000), 1999, MAX, 1000);
    c(price(1, 1000), 2000, 3, 2000);
    c(price(1, 1000), 2000, 2, 2000);
    c(price(1, 1000), 2000, 1, 1000);
    c(price(1000, 1), 401, MAX, 401);
    c(price(1000, 1), 400, MAX, 400);
    c(price(1000, 1), 399, MAX, 399);
    c(price(1000, 1), 400, 400 * 1000 + 1, 400);
    c(price(1000, 1), 400, 400 * 1000, 400);
    c(price(1000, 1), 400, 400 * 1000 - 1, 399);
    twice(price(7, 3), 429, MAX, 429);
    twice(price(7, 3), 428, MAX, 428);
    twice(price(7, 3), 427, MAX, 427);
    twice(price(7, 3), 428, 999, 428);
    twice(price(7, 3), 428, 998, 427);
    twice(price(7, 3), 428, 997, 427);
    twice(price(3, 7), 1001, MAX, 1001);
    twice(price(3, 7), 1000, MAX, 999);
    twice(price(3, 7), 999, MAX, 999);
    twice(price(3, 7), 1000, 429, 999);
    twice(price(3, 7), 1000, 428, 999);
    twice(price(3, 7), 1000, 427, 997);
    // Thresholds affect some small offers but not all, and not large ones.
    c(price(3, 2), 29, MAX, 0);
    c(price(3, 2), 28, MAX, 28);
    c(price(3, 2), 27, MAX, 0);
    c(price(3, 2), 26, MAX, 26);
    c(price(3, 2), 51, MAX, 51);
    c(price(3, 2), 50, MAX, 50);
}

#[test]
fn price_error_bound_vectors() {
    let bounds = |p, wheat, high: i64, low: i64| {
        for favor in [false, true] {
            assert_eq!(check_price_error_bound(p, wheat, high + 1, favor), favor, "{p} {wheat} {high}");
            assert!(check_price_error_bound(p, wheat, high, favor));
            assert!(check_price_error_bound(p, wheat, low, favor));
            assert!(!check_price_error_bound(p, wheat, low - 1, favor));
        }
    };
    bounds(price(1, 1), 1000, 1010, 990);
    bounds(price(5, 2), 1000, 2525, 2475);
    bounds(price(2, 5), 1000, 404, 396);
    bounds(price(7, 3), 1000, 2356, 2310);
    bounds(price(3, 7), 1000, 432, 425);
}

#[test]
fn liabilities_are_an_unlimited_takers_exchange() {
    assert_eq!(offer_liabilities(1000, price(3, 2)), (1000, 1500));
    assert_eq!(offer_liabilities(1000, price(2, 3)), (999, 666));
    assert_eq!(offer_liabilities(1, price(1, 2)), (0, 0));
    assert_eq!(offer_liabilities(0, price(5, 7)), (0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Properties stellar-core proves for exchangeV10 (Normal rounding): within every limit,
    /// the rounding favours the offer that stays, the error is at most 1 %, and zero on one
    /// side means zero on both. adjustOffer is idempotent.
    #[test]
    fn exchange_v10_properties(
        n in 1..=i32::MAX, d in 1..=i32::MAX,
        limits in proptest::array::uniform4(prop_oneof![0..=10_000i64, 0..=MAX, Just(MAX)]),
        small in 1..=20i32,
    ) {
        for p in [price(n, d), price(small, 21 - small)] {
            let [mws, mwr, mss, msr] = limits;
            let ex = exchange_v10(p, mws, mwr, mss, msr, Rounding::Normal);
            prop_assert!(ex.wheat_received >= 0 && ex.wheat_received <= mws.min(mwr));
            prop_assert!(ex.sheep_send >= 0 && ex.sheep_send <= mss.min(msr));
            prop_assert_eq!(ex.wheat_received == 0, ex.sheep_send == 0);
            let (w, s) = (i128::from(ex.wheat_received), i128::from(ex.sheep_send));
            let (pn, pd) = (i128::from(p.n()), i128::from(p.d()));
            if ex.wheat_stays { prop_assert!(s * pd >= w * pn) } else { prop_assert!(s * pd <= w * pn) }
            if w > 0 { prop_assert!(check_price_error_bound(p, ex.wheat_received, ex.sheep_send, false)) }
            let adjusted = adjust_offer(p, mws, msr);
            prop_assert_eq!(adjust_offer(p, adjusted, msr), adjusted);
        }
    }

    /// The book's price key orders exactly as stellar-core's `double(n) / double(d)`.
    #[test]
    fn price_key_orders_as_f64(a in (1..=i32::MAX, 1..=i32::MAX), b in (1..=i32::MAX, 1..=i32::MAX), k in 1..=1000i32) {
        let f = |(n, d): (i32, i32)| f64::from(n) / f64::from(d);
        let key = |(n, d)| PriceKey::of(price(n, d));
        prop_assert_eq!(key(a).cmp(&key(b)), f(a).partial_cmp(&f(b)).unwrap());
        // Neighbours of a price, where ties in f64 happen.
        let (n, d) = a;
        let near = (n.saturating_sub(k).max(1), d.saturating_sub(k).max(1));
        prop_assert_eq!(key(a).cmp(&key(near)), f(a).partial_cmp(&f(near)).unwrap());
    }
}

#[test]
fn price_key_ties_like_stellar_core() {
    // Different prices whose f64 quotients are equal: stellar-core orders them by id.
    let (a, b) = ((i32::MAX, i32::MAX - 1), (i32::MAX - 1, i32::MAX - 2));
    assert_ne!(price(a.0, a.1), price(b.0, b.1));
    assert_eq!(f64::from(a.0) / f64::from(a.1), f64::from(b.0) / f64::from(b.1));
    assert_eq!(PriceKey::of(price(a.0, a.1)), PriceKey::of(price(b.0, b.1)));
    assert_eq!(PriceKey::of(price(1, 2)), PriceKey::of(price(2, 4)));
    assert!(PriceKey::of(price(1, i32::MAX)) < PriceKey::of(price(1, i32::MAX - 1)));
}

// ---------------------------------------------------------------------------------------------
// Test ledger: balances, limits, liabilities and subentries in BTreeMaps
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    balance: i64,
    limit: i64,
    authorized: bool,
    selling: i64,
    buying: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Ledger {
    /// Native balances are lines with limit `i64::MAX`.
    lines: BTreeMap<(AccountId, Asset), Line>,
    subentries: BTreeMap<AccountId, i32>,
    last_offer_id: i64,
}

fn is_issuer(account: &AccountId, asset: &Asset) -> bool {
    asset.issuer() == Some(*account)
}

impl Ledger {
    fn create_account(&mut self, account: AccountId, native: i64) {
        let line = Line { balance: native, limit: MAX, authorized: true, selling: 0, buying: 0 };
        self.lines.insert((account, Asset::Native), line);
        self.subentries.insert(account, 0);
    }

    fn trust(&mut self, account: AccountId, asset: Asset, balance: i64, limit: i64, authorized: bool) {
        assert!(!asset.is_native() && balance <= limit);
        self.lines.insert((account, asset), Line { balance, limit, authorized, selling: 0, buying: 0 });
        *self.subentries.get_mut(&account).unwrap() += 1;
    }

    fn reserve(&self, account: &AccountId) -> i64 {
        (2 + i64::from(self.subentries[account])) * BASE_RESERVE_STROOPS
    }

    fn line(&self, account: &AccountId, asset: &Asset) -> Option<&Line> {
        self.lines.get(&(*account, *asset))
    }

    fn line_mut(&mut self, account: &AccountId, asset: &Asset) -> &mut Line {
        self.lines.get_mut(&(*account, *asset)).unwrap_or_else(|| panic!("no line {account} {asset}"))
    }

    fn balance_of(&self, account: &AccountId, asset: &Asset) -> i64 {
        self.line(account, asset).map_or(0, |l| l.balance)
    }
}

impl Accounts for Ledger {
    fn holds(&self, account: &AccountId, asset: &Asset) -> bool {
        is_issuer(account, asset) || self.line(account, asset).is_some()
    }

    fn authorized(&self, account: &AccountId, asset: &Asset) -> bool {
        is_issuer(account, asset) || self.line(account, asset).is_some_and(|l| l.authorized)
    }

    fn balance(&self, account: &AccountId, asset: &Asset) -> Option<i64> {
        if is_issuer(account, asset) { Some(MAX) } else { self.line(account, asset).map(|l| l.balance) }
    }

    fn available_to_sell(&self, account: &AccountId, asset: &Asset) -> Option<i64> {
        if is_issuer(account, asset) {
            return Some(MAX);
        }
        let line = self.line(account, asset)?;
        Some(if asset.is_native() {
            (line.balance - self.reserve(account) - line.selling).max(0)
        } else if line.authorized {
            line.balance - line.selling
        } else {
            0
        })
    }

    fn available_to_buy(&self, account: &AccountId, asset: &Asset) -> Option<i64> {
        if is_issuer(account, asset) {
            return Some(MAX);
        }
        let line = self.line(account, asset)?;
        Some(if line.authorized || asset.is_native() { line.limit - line.balance - line.buying } else { 0 })
    }

    fn transfer(&mut self, account: &AccountId, asset: &Asset, delta: i64) {
        if is_issuer(account, asset) {
            return;
        }
        let line = self.line_mut(account, asset);
        line.balance = line.balance.checked_add(delta).unwrap();
        assert!(line.balance >= 0 && line.balance <= line.limit, "{account} {asset} balance {}", line.balance);
    }

    fn add_liabilities(&mut self, account: &AccountId, asset: &Asset, selling_delta: i64, buying_delta: i64) {
        if is_issuer(account, asset) {
            return;
        }
        let line = self.line_mut(account, asset);
        line.selling += selling_delta;
        line.buying += buying_delta;
        assert!(line.selling >= 0 && line.buying >= 0, "{account} {asset} liabilities {line:?}");
    }

    fn can_add_subentry(&self, account: &AccountId) -> bool {
        let native = &self.lines[&(*account, Asset::Native)];
        native.balance - self.reserve(account) - native.selling >= BASE_RESERVE_STROOPS
    }

    fn add_subentries(&mut self, account: &AccountId, delta: i32) {
        let count = self.subentries.get_mut(account).unwrap();
        *count += delta;
        assert!(*count >= 0);
    }

    fn next_offer_id(&mut self) -> i64 {
        self.last_offer_id += 1;
        self.last_offer_id
    }
}

fn account(tag: u8) -> AccountId {
    AccountId::from_bytes([tag; 32])
}

fn issuer() -> AccountId {
    account(0xEE)
}

fn usd() -> Asset {
    Asset::credit("USD", issuer()).unwrap()
}

fn eur() -> Asset {
    Asset::credit("EUR", issuer()).unwrap()
}

const XLM: Asset = Asset::Native;

fn op(kind: OfferOpKind, selling: Asset, buying: Asset, amount: i64, n: i32, d: i32, offer_id: i64) -> OfferOp {
    OfferOp { kind, selling, buying, amount, price_n: n, price_d: d, offer_id }
}

fn sell(selling: Asset, buying: Asset, amount: i64, n: i32, d: i32) -> OfferOp {
    op(OfferOpKind::ManageSell, selling, buying, amount, n, d, 0)
}

/// A book and a ledger; every operation also runs on the reference model and must agree.
#[derive(Clone, Debug)]
struct World {
    book: Book,
    ledger: Ledger,
    reference: Reference,
    supply: BTreeMap<Asset, i128>,
}

impl World {
    /// Traders `1..=traders` with 1000 XLM, trustlines to USD and EUR with 10 000 of each and
    /// a limit of 1 000 000.
    fn new(traders: u8) -> World {
        let mut ledger = Ledger::default();
        ledger.create_account(issuer(), 100_000_000_000);
        for tag in 1..=traders {
            ledger.create_account(account(tag), 10_000_000_000);
            ledger.trust(account(tag), usd(), 100_000_000_000, 10_000_000_000_000, true);
            ledger.trust(account(tag), eur(), 100_000_000_000, 10_000_000_000_000, true);
        }
        World::from_ledger(ledger)
    }

    fn from_ledger(ledger: Ledger) -> World {
        let reference = Reference { offers: Vec::new(), ledger: ledger.clone() };
        let supply = total_supply(&ledger);
        World { book: Book::new(), ledger, reference, supply }
    }

    fn apply(&mut self, source: u8, op: OfferOp) -> Result<OfferSuccess, OfferFailure> {
        self.apply_as(&account(source), op)
    }

    fn apply_as(&mut self, source: &AccountId, op: OfferOp) -> Result<OfferSuccess, OfferFailure> {
        let before = (self.book.clone(), self.ledger.clone());
        let fast = manage_offer(&mut self.book, &mut self.ledger, source, &op);
        let slow = self.reference.manage(source, &op);
        assert_eq!(fast, slow, "fast vs reference result for {op:?}");
        if let (Ok(f), Ok(s)) = (&fast, &slow) {
            assert_eq!(effect_repr(&f.effect), effect_repr(&s.effect));
        }
        if fast.is_err() {
            assert_eq!((&self.book, &self.ledger), (&before.0, &before.1), "a failure changed state");
        }
        assert_same(&self.book, &self.ledger, &self.reference);
        // The issuer's transfers of its own asset mint or burn it: only native is conserved then.
        let issuer_involved = *source == issuer()
            || fast.as_ref().is_ok_and(|success| success.fills.iter().any(|fill| fill.seller == issuer()));
        if issuer_involved {
            let native = self.supply.get(&XLM).copied();
            self.supply = total_supply(&self.ledger);
            assert_eq!(self.supply.get(&XLM).copied(), native, "native supply not conserved");
        }
        check_invariants(&self.book, &self.ledger, &self.supply);
        fast
    }

    fn balance(&self, tag: u8, asset: Asset) -> i64 {
        self.ledger.balance_of(&account(tag), &asset)
    }

    fn line(&self, tag: u8, asset: Asset) -> Line {
        self.ledger.line(&account(tag), &asset).unwrap().clone()
    }

    fn best_ids(&self, selling: Asset, buying: Asset) -> Vec<i64> {
        self.book.best(&selling, &buying).map(|o| o.id).collect()
    }
}

fn effect_repr(effect: &OfferEffect) -> Option<(i64, i64, i32, i32)> {
    match effect {
        OfferEffect::Created(o) | OfferEffect::Updated(o) => Some((o.id, o.amount, o.price.n(), o.price.d())),
        OfferEffect::Deleted => None,
    }
}

fn total_supply(ledger: &Ledger) -> BTreeMap<Asset, i128> {
    let mut supply = BTreeMap::new();
    for ((account, asset), line) in &ledger.lines {
        if !is_issuer(account, asset) {
            *supply.entry(*asset).or_insert(0) += i128::from(line.balance);
        }
    }
    supply
}

/// Offers as comparable tuples, with the price as written.
type OfferRepr = (i64, AccountId, Asset, Asset, i64, i32, i32, bool);

fn repr(o: &Offer) -> OfferRepr {
    (o.id, o.seller, o.selling, o.buying, o.amount, o.price.n(), o.price.d(), o.passive)
}

fn assert_same(book: &Book, ledger: &Ledger, reference: &Reference) {
    let fast: Vec<OfferRepr> = book.iter().map(repr).collect();
    let mut slow: Vec<OfferRepr> = reference.offers.iter().map(repr).collect();
    slow.sort_by_key(|o| o.0);
    assert_eq!(fast, slow, "books differ");
    assert_eq!(book.len(), reference.offers.len());
    assert_eq!(ledger, &reference.ledger, "ledgers differ");
    // Priority order per pair and per-seller listings agree.
    let pairs: std::collections::BTreeSet<(Asset, Asset)> =
        reference.offers.iter().map(|o| (o.selling, o.buying)).collect();
    for (selling, buying) in pairs {
        let fast: Vec<i64> = book.best(&selling, &buying).map(|o| o.id).collect();
        assert_eq!(fast, reference.ordered(&selling, &buying), "priority of {selling}/{buying}");
    }
    let sellers: std::collections::BTreeSet<AccountId> = reference.offers.iter().map(|o| o.seller).collect();
    for seller in sellers {
        let fast: Vec<i64> = book.offers_by(&seller).iter().map(|o| o.id).collect();
        let mut slow: Vec<i64> = reference.offers.iter().filter(|o| o.seller == seller).map(|o| o.id).collect();
        slow.sort_unstable();
        assert_eq!(fast, slow);
    }
}

/// Ledger invariants after every operation.
fn check_invariants(book: &Book, ledger: &Ledger, supply: &BTreeMap<Asset, i128>) {
    // Liabilities are exactly those of the offers on the book.
    let mut expected: BTreeMap<(AccountId, Asset), (i64, i64)> = BTreeMap::new();
    let mut offers_per_account: BTreeMap<AccountId, i32> = BTreeMap::new();
    for offer in book.iter() {
        assert!(offer.amount > 0);
        let (selling, buying) = offer_liabilities(offer.amount, offer.price);
        if !is_issuer(&offer.seller, &offer.selling) {
            expected.entry((offer.seller, offer.selling)).or_default().0 += selling;
        }
        if !is_issuer(&offer.seller, &offer.buying) {
            expected.entry((offer.seller, offer.buying)).or_default().1 += buying;
        }
        *offers_per_account.entry(offer.seller).or_default() += 1;
    }
    for ((account, asset), line) in &ledger.lines {
        assert_eq!((line.selling, line.buying), expected.get(&(*account, *asset)).copied().unwrap_or_default());
        // No negative balances; liabilities within balance (above the reserve) and limit.
        assert!(line.balance >= 0 && line.balance <= line.limit);
        let floor = if asset.is_native() { ledger.reserve(account) } else { 0 };
        assert!(line.balance - floor >= line.selling, "{account} {asset}: selling liabilities exceed balance");
        assert!(line.limit - line.balance >= line.buying, "{account} {asset}: buying liabilities exceed limit");
    }
    // Subentries: trustlines plus offers.
    for (account, count) in &ledger.subentries {
        let lines = ledger.lines.keys().filter(|(a, asset)| a == account && !asset.is_native()).count();
        let offers = offers_per_account.get(account).copied().unwrap_or(0);
        assert_eq!(*count, i32::try_from(lines).unwrap() + offers, "subentries of {account}");
    }
    assert_eq!(&total_supply(ledger), supply, "supply not conserved");
    // No crossed book: for every pair, best ask × best bid >= 1 in exact arithmetic, and
    // equality only where a passive offer rests at the other's price.
    let offers: Vec<&Offer> = book.iter().collect();
    for a in &offers {
        for b in &offers {
            if a.selling == b.buying && a.buying == b.selling {
                let product = i128::from(a.price.n()) * i128::from(b.price.n());
                let unit = i128::from(a.price.d()) * i128::from(b.price.d());
                assert!(product >= unit, "crossed book: {a:?} vs {b:?}");
                if product == unit {
                    assert!(a.passive || b.passive, "unpassive offers rest at equal prices: {a:?} vs {b:?}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reference model: a Vec of offers, scanned linearly; every failure restores a snapshot.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Reference {
    offers: Vec<Offer>,
    ledger: Ledger,
}

impl Reference {
    /// Ids of the offers selling `selling` for `buying`, in stellar-core's order: the f64
    /// quotient `n / d`, then the id (`isBetterOffer`).
    fn ordered(&self, selling: &Asset, buying: &Asset) -> Vec<i64> {
        let mut level: Vec<&Offer> =
            self.offers.iter().filter(|o| o.selling == *selling && o.buying == *buying).collect();
        level.sort_by(|a, b| quotient(a.price).total_cmp(&quotient(b.price)).then(a.id.cmp(&b.id)));
        level.iter().map(|o| o.id).collect()
    }

    /// The best offer by a linear scan.
    fn best(&self, selling: &Asset, buying: &Asset) -> Option<Offer> {
        let mut best: Option<&Offer> = None;
        for offer in self.offers.iter().filter(|o| o.selling == *selling && o.buying == *buying) {
            let better = match best {
                None => true,
                Some(b) => {
                    let (q, qb) = (quotient(offer.price), quotient(b.price));
                    q < qb || (q == qb && offer.id < b.id)
                }
            };
            if better {
                best = Some(offer);
            }
        }
        best.cloned()
    }

    fn manage(&mut self, source: &AccountId, op: &OfferOp) -> Result<OfferSuccess, OfferFailure> {
        let snapshot = self.clone();
        let result = self.apply(source, op);
        if result.is_err() {
            *self = snapshot;
        }
        result
    }

    fn liabilities(&mut self, offer: &Offer, sign: i64) {
        let (selling, buying) = offer_liabilities(offer.amount, offer.price);
        self.ledger.add_liabilities(&offer.seller, &offer.selling, sign * selling, 0);
        self.ledger.add_liabilities(&offer.seller, &offer.buying, 0, sign * buying);
    }

    fn sellable(&self, account: &AccountId, asset: &Asset) -> i64 {
        self.ledger.available_to_sell(account, asset).unwrap_or(0).max(0)
    }

    fn buyable(&self, account: &AccountId, asset: &Asset) -> i64 {
        self.ledger.available_to_buy(account, asset).unwrap_or(0).max(0)
    }

    fn apply(&mut self, source: &AccountId, op: &OfferOp) -> Result<OfferSuccess, OfferFailure> {
        use OfferFailure as F;
        let buy = op.kind == OfferOpKind::ManageBuy;
        // Malformed.
        if op.selling == op.buying || op.amount < 0 || op.price_n <= 0 || op.price_d <= 0 || op.offer_id < 0 {
            return Err(F::Malformed);
        }
        if op.amount == 0 && op.offer_id == 0 {
            return Err(F::Malformed);
        }
        if op.kind == OfferOpKind::CreatePassiveSell && op.offer_id != 0 {
            return Err(F::Malformed);
        }
        let price = if buy { price(op.price_d, op.price_n) } else { price(op.price_n, op.price_d) };
        let (sheep, wheat) = (op.selling, op.buying);
        // Trustlines.
        if op.amount > 0 {
            if !sheep.is_native() {
                if !self.ledger.holds(source, &sheep) {
                    return Err(F::SellNoTrust);
                }
                if self.ledger.balance(source, &sheep) == Some(0) {
                    return Err(F::Underfunded);
                }
                if !self.ledger.authorized(source, &sheep) {
                    return Err(F::SellNotAuthorized);
                }
            }
            if !wheat.is_native() {
                if !self.ledger.holds(source, &wheat) {
                    return Err(F::BuyNoTrust);
                }
                if !self.ledger.authorized(source, &wheat) {
                    return Err(F::BuyNotAuthorized);
                }
            }
        }
        // The old offer, or the reserve for a new one.
        let passive = if op.offer_id != 0 {
            let Some(index) = self.offers.iter().position(|o| o.id == op.offer_id && o.seller == *source) else {
                return Err(F::NotFound);
            };
            let old = self.offers.remove(index);
            self.liabilities(&old, -1);
            old.passive
        } else {
            if !self.ledger.can_add_subentry(source) {
                return Err(F::LowReserve);
            }
            self.ledger.add_subentries(source, 1);
            op.kind == OfferOpKind::CreatePassiveSell
        };
        let mut fills = Vec::new();
        let mut amount = 0;
        if op.amount > 0 {
            let (sell_l, buy_l) = if buy {
                let ex = starlog_sim::sdex::exchange_v10_without_price_error_thresholds(
                    price,
                    MAX,
                    MAX,
                    MAX,
                    op.amount,
                    Rounding::Normal,
                );
                (ex.wheat_received, ex.sheep_send)
            } else {
                offer_liabilities(op.amount, price)
            };
            if self.ledger.available_to_buy(source, &wheat).unwrap_or(0) < buy_l {
                return Err(F::LineFull);
            }
            if self.ledger.available_to_sell(source, &sheep).unwrap_or(0) < sell_l {
                return Err(F::Underfunded);
            }
            let mut max_send = self.sellable(source, &sheep);
            let mut max_receive = self.buyable(source, &wheat);
            if buy {
                max_receive = max_receive.min(op.amount)
            } else {
                max_send = max_send.min(op.amount)
            }
            if max_receive == 0 {
                return Err(F::LineFull);
            }
            let (mut sent, mut received) = (0, 0);
            let limit = price.inverse();
            // Crossing: Some(true) means the remainder rests.
            let rests = loop {
                if max_send == 0 || max_receive == 0 {
                    break false;
                }
                let Some(best) = self.best(&wheat, &sheep) else { break true };
                let too_dear = if passive { best.price >= limit } else { best.price > limit };
                if too_dear {
                    break true;
                }
                if best.seller == *source {
                    return Err(F::CrossSelf);
                }
                if fills.len() >= OFFERS_CROSSED_MAX {
                    return Err(F::ExceededWorkLimit);
                }
                let owner = best.seller;
                self.liabilities(&best, -1);
                let can_sell = self.sellable(&owner, &wheat);
                let can_buy = self.buyable(&owner, &sheep);
                let adjusted = adjust_offer(best.price, best.amount.min(can_sell), can_buy);
                let ex =
                    exchange_v10(best.price, adjusted.min(can_sell), max_receive, max_send, can_buy, Rounding::Normal);
                self.ledger.transfer(&owner, &sheep, ex.sheep_send);
                self.ledger.transfer(&owner, &wheat, -ex.wheat_received);
                let left = if ex.wheat_stays {
                    let can_sell = self.sellable(&owner, &wheat);
                    let can_buy = self.buyable(&owner, &sheep);
                    adjust_offer(best.price, (adjusted - ex.wheat_received).min(can_sell), can_buy)
                } else {
                    0
                };
                let index = self.offers.iter().position(|o| o.id == best.id).unwrap();
                if left == 0 {
                    self.offers.remove(index);
                    self.ledger.add_subentries(&owner, -1);
                } else {
                    self.offers[index].amount = left;
                    let reduced = self.offers[index].clone();
                    self.liabilities(&reduced, 1);
                }
                fills.push(Fill {
                    offer_id: best.id,
                    seller: owner,
                    asset_sold: wheat,
                    amount_sold: ex.wheat_received,
                    asset_bought: sheep,
                    amount_bought: ex.sheep_send,
                });
                sent += ex.sheep_send;
                received += ex.wheat_received;
                max_send -= ex.sheep_send;
                max_receive -= ex.wheat_received;
                if ex.wheat_stays {
                    break false;
                }
            };
            self.ledger.transfer(source, &wheat, received);
            self.ledger.transfer(source, &sheep, -sent);
            if rests {
                let mut send_limit = self.sellable(source, &sheep);
                let mut receive_limit = self.buyable(source, &wheat);
                if buy {
                    receive_limit = receive_limit.min(op.amount - received)
                } else {
                    send_limit = send_limit.min(op.amount - sent)
                }
                amount = adjust_offer(price, send_limit, receive_limit);
            }
        }
        let effect = if amount > 0 {
            let id = if op.offer_id == 0 { self.ledger.next_offer_id() } else { op.offer_id };
            let offer = Offer { id, seller: *source, selling: sheep, buying: wheat, amount, price, passive };
            self.offers.push(offer.clone());
            self.liabilities(&offer, 1);
            if op.offer_id == 0 { OfferEffect::Created(offer) } else { OfferEffect::Updated(offer) }
        } else {
            self.ledger.add_subentries(source, -1);
            OfferEffect::Deleted
        };
        Ok(OfferSuccess { fills, effect })
    }
}

fn quotient(p: Price) -> f64 {
    f64::from(p.n()) / f64::from(p.d())
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

fn created(result: Result<OfferSuccess, OfferFailure>) -> Offer {
    match result {
        Ok(OfferSuccess { effect: OfferEffect::Created(offer), .. }) => offer,
        other => panic!("expected a created offer, got {other:?}"),
    }
}

#[test]
fn taker_trades_at_the_resting_price_and_partial_fills_rest() {
    let mut w = World::new(3);
    // Trader 1 sells 100 USD at 2 XLM per USD.
    let ask = created(w.apply(1, sell(usd(), XLM, 100, 2, 1)));
    assert_eq!((ask.id, ask.amount), (1, 100));
    assert_eq!(w.line(1, usd()).selling, 100);
    assert_eq!(w.line(1, XLM).buying, 200);
    // Trader 2 sells 100 XLM, accepting up to 3 XLM per USD: gets 50 USD at 2 (the resting price).
    let usd2 = w.balance(2, usd());
    let result = w.apply(2, sell(XLM, usd(), 100, 1, 3)).unwrap();
    let fill = Fill {
        offer_id: ask.id,
        seller: account(1),
        asset_sold: usd(),
        amount_sold: 50,
        asset_bought: XLM,
        amount_bought: 100,
    };
    assert_eq!(result, OfferSuccess { fills: vec![fill], effect: OfferEffect::Deleted });
    assert_eq!(w.balance(2, usd()), usd2 + 50);
    assert_eq!(w.book.get(ask.id).unwrap().amount, 50);
    assert_eq!(w.line(1, usd()).selling, 50);
    // Trader 3 sells 300 XLM: takes the remaining 50 USD for 100 XLM; of the other 200 XLM,
    // adjustOffer keeps what 1/3 converts exactly: 66 USD are worth 198 XLM.
    let result = w.apply(3, sell(XLM, usd(), 300, 1, 3)).unwrap();
    assert_eq!(result.fills.len(), 1);
    assert_eq!((result.fills[0].amount_sold, result.fills[0].amount_bought), (50, 100));
    assert!(w.book.get(ask.id).is_none());
    let OfferEffect::Created(rest) = result.effect else { panic!("{:?}", result.effect) };
    assert_eq!((rest.amount, rest.price.n(), rest.price.d()), (198, 1, 3));
    assert_eq!(w.ledger.subentries[&account(1)], 2);
    assert_eq!(w.ledger.subentries[&account(3)], 3);
}

#[test]
fn crossing_walks_the_book_best_price_first() {
    let mut w = World::new(3);
    let a = created(w.apply(1, sell(usd(), XLM, 10, 3, 1)));
    let b = created(w.apply(2, sell(usd(), XLM, 10, 2, 1)));
    let c = created(w.apply(1, sell(usd(), XLM, 10, 2, 1)));
    assert_eq!(w.best_ids(usd(), XLM), vec![b.id, c.id, a.id]);
    // Buy everything up to 2.5: b then c, not a.
    let result = w.apply(3, sell(XLM, usd(), 1000, 2, 5)).unwrap();
    let taken: Vec<(i64, i64, i64)> =
        result.fills.iter().map(|f| (f.offer_id, f.amount_sold, f.amount_bought)).collect();
    assert_eq!(taken, vec![(b.id, 10, 20), (c.id, 10, 20)]);
    assert_eq!(w.best_ids(usd(), XLM), vec![a.id]);
    let OfferEffect::Created(rest) = result.effect else { panic!() };
    assert_eq!(rest.amount, 960);
}

#[test]
fn passive_offers_rest_at_equal_prices_and_take_better_ones() {
    let mut w = World::new(3);
    let ask = created(w.apply(1, sell(usd(), XLM, 100, 2, 1)));
    // Passive at exactly the inverse price: no crossing, it rests.
    let passive = op(OfferOpKind::CreatePassiveSell, XLM, usd(), 100, 1, 2, 0);
    let resting = created(w.apply(2, passive));
    assert!(resting.passive);
    assert_eq!(w.book.get(ask.id).unwrap().amount, 100);
    // A non-passive offer at the passive one's price takes it.
    let result = w.apply(3, sell(usd(), XLM, 10, 2, 1)).unwrap();
    assert_eq!(result.fills.len(), 1);
    assert_eq!(result.fills[0].offer_id, resting.id);
    // A passive offer at a strictly better price crosses.
    let result = w.apply(2, op(OfferOpKind::CreatePassiveSell, XLM, usd(), 20, 1, 3, 0)).unwrap();
    assert_eq!(result.fills.len(), 1);
    assert_eq!(result.fills[0].offer_id, ask.id);
    // Modifying a passive offer keeps it passive.
    let updated = w.apply(2, op(OfferOpKind::ManageSell, XLM, usd(), 50, 1, 2, resting.id)).unwrap();
    let OfferEffect::Updated(updated) = updated.effect else { panic!() };
    assert!(updated.passive);
}

#[test]
fn crossing_ones_own_offer_fails_without_any_change() {
    let mut w = World::new(3);
    created(w.apply(2, sell(usd(), XLM, 10, 1, 1)));
    created(w.apply(1, sell(usd(), XLM, 10, 2, 1)));
    let (book, ledger) = (w.book.clone(), w.ledger.clone());
    // Crosses trader 2's offer first, then meets its own: everything is undone.
    assert_eq!(w.apply(1, sell(XLM, usd(), 100, 1, 3)), Err(OfferFailure::CrossSelf));
    assert_eq!((&w.book, &w.ledger), (&book, &ledger));
    // Stopping at a worse price before reaching the own offer is fine.
    let result = w.apply(1, sell(XLM, usd(), 100, 2, 3)).unwrap();
    assert_eq!(result.fills.len(), 1);
}

#[test]
fn underfunded_line_full_and_low_reserve() {
    let mut ledger = Ledger::default();
    ledger.create_account(issuer(), 100_000_000_000);
    ledger.create_account(account(1), 3 * BASE_RESERVE_STROOPS + 100);
    ledger.trust(account(1), usd(), 0, 1000, true);
    ledger.create_account(account(2), 100_000_000_000);
    ledger.trust(account(2), usd(), 500, 1000, true);
    ledger.trust(account(2), eur(), 900, 1000, true);
    let mut w = World::from_ledger(ledger);
    // A zero balance is underfunded before anything else.
    assert_eq!(w.apply(1, sell(usd(), XLM, 10, 1, 1)), Err(OfferFailure::Underfunded));
    // More than the available balance.
    assert_eq!(w.apply(2, sell(usd(), XLM, 501, 1, 1)), Err(OfferFailure::Underfunded));
    // Buying liabilities beyond the limit: 101 EUR would not fit.
    assert_eq!(w.apply(2, sell(usd(), eur(), 101, 1, 1)), Err(OfferFailure::LineFull));
    assert!(w.apply(2, sell(usd(), eur(), 100, 1, 1)).is_ok());
    // The reserve: trader 1 can afford no new subentry... (3 reserves + 100 stroops, 1 line).
    assert_eq!(w.apply(1, sell(XLM, usd(), 10, 1, 1)), Err(OfferFailure::LowReserve));
    // Native is underfunded when selling into the reserve.
    w.ledger.transfer(&account(1), &XLM, BASE_RESERVE_STROOPS);
    w.reference.ledger.transfer(&account(1), &XLM, BASE_RESERVE_STROOPS);
    w.supply = total_supply(&w.ledger);
    assert_eq!(w.apply(1, sell(XLM, usd(), 101, 1, 1)), Err(OfferFailure::Underfunded));
    assert!(w.apply(1, sell(XLM, usd(), 100, 1, 1)).is_ok());
}

#[test]
fn trustline_checks() {
    let mut ledger = Ledger::default();
    ledger.create_account(issuer(), 100_000_000_000);
    ledger.create_account(account(1), 100_000_000_000);
    ledger.trust(account(1), usd(), 500, 1000, false);
    let mut w = World::from_ledger(ledger);
    assert_eq!(w.apply(1, sell(eur(), XLM, 10, 1, 1)), Err(OfferFailure::SellNoTrust));
    assert_eq!(w.apply(1, sell(XLM, eur(), 10, 1, 1)), Err(OfferFailure::BuyNoTrust));
    assert_eq!(w.apply(1, sell(usd(), XLM, 10, 1, 1)), Err(OfferFailure::SellNotAuthorized));
    assert_eq!(w.apply(1, sell(XLM, usd(), 10, 1, 1)), Err(OfferFailure::BuyNotAuthorized));
    // The issuer holds its own asset without a trustline.
    let offer = created(w.apply_as(&issuer(), sell(usd(), XLM, 10, 1, 1)));
    assert_eq!(offer.seller, issuer());
}

#[test]
fn modify_keeps_priority_and_cancel_releases() {
    let mut w = World::new(3);
    let first = created(w.apply(1, sell(usd(), XLM, 100, 2, 1)));
    let second = created(w.apply(2, sell(usd(), XLM, 100, 2, 1)));
    // A modification with the price written differently (4/2) keeps the id and its priority.
    let result = w.apply(1, op(OfferOpKind::ManageSell, usd(), XLM, 300, 4, 2, first.id)).unwrap();
    let OfferEffect::Updated(updated) = result.effect else { panic!() };
    assert_eq!((updated.id, updated.amount, updated.price.n(), updated.price.d()), (first.id, 300, 4, 2));
    assert_eq!(w.best_ids(usd(), XLM), vec![first.id, second.id]);
    assert_eq!(w.line(1, usd()).selling, 300);
    assert_eq!(w.ledger.subentries[&account(1)], 3);
    // A modification may change the assets.
    let moved = w.apply(1, op(OfferOpKind::ManageSell, usd(), eur(), 10, 1, 1, first.id)).unwrap();
    assert!(matches!(moved.effect, OfferEffect::Updated(ref o) if o.buying == eur()));
    assert_eq!(w.line(1, XLM).buying, 0);
    // Cancel: amount 0.
    let cancelled = w.apply(1, op(OfferOpKind::ManageSell, usd(), XLM, 0, 1, 1, first.id)).unwrap();
    assert_eq!(cancelled, OfferSuccess { fills: vec![], effect: OfferEffect::Deleted });
    assert_eq!(w.line(1, usd()).selling, 0);
    assert_eq!(w.ledger.subentries[&account(1)], 2);
    assert_eq!(w.best_ids(usd(), XLM), vec![second.id]);
    // Not found: gone, someone else's, never existed.
    let not_found = |id| op(OfferOpKind::ManageSell, usd(), XLM, 5, 1, 1, id);
    assert_eq!(w.apply(1, not_found(first.id)), Err(OfferFailure::NotFound));
    assert_eq!(w.apply(1, not_found(second.id)), Err(OfferFailure::NotFound));
    assert_eq!(w.apply(1, not_found(99)), Err(OfferFailure::NotFound));
    assert_eq!(w.apply(1, op(OfferOpKind::ManageBuy, usd(), XLM, 0, 1, 1, 99)), Err(OfferFailure::NotFound));
}

#[test]
fn manage_buy_offer_converts_amount_and_price() {
    let mut w = World::new(3);
    // Buy 100 USD paying at most 2 XLM per USD: rests as a sell offer of 200 XLM at 1/2.
    let result = w.apply(1, op(OfferOpKind::ManageBuy, XLM, usd(), 100, 2, 1, 0)).unwrap();
    let OfferEffect::Created(bid) = result.effect else { panic!() };
    assert_eq!((bid.selling, bid.buying, bid.amount, bid.price.n(), bid.price.d()), (XLM, usd(), 200, 1, 2));
    assert_eq!((w.line(1, XLM).selling, w.line(1, usd()).buying), (200, 100));
    w.apply(1, op(OfferOpKind::ManageBuy, XLM, usd(), 0, 2, 1, bid.id)).unwrap();
    // Against an ask of 50 USD at 1.5: buys those 50 for 75 XLM, rests the other 50 USD's worth.
    let ask = created(w.apply(2, sell(usd(), XLM, 50, 3, 2)));
    let result = w.apply(3, op(OfferOpKind::ManageBuy, XLM, usd(), 100, 2, 1, 0)).unwrap();
    assert_eq!(result.fills.len(), 1);
    assert_eq!(
        (result.fills[0].offer_id, result.fills[0].amount_sold, result.fills[0].amount_bought),
        (ask.id, 50, 75)
    );
    let OfferEffect::Created(rest) = result.effect else { panic!() };
    assert_eq!((rest.amount, rest.price.n(), rest.price.d()), (100, 1, 2));
    // Buying exactly what is on offer leaves nothing to rest.
    let ask = created(w.apply(2, sell(eur(), XLM, 40, 1, 1)));
    let result = w.apply(1, op(OfferOpKind::ManageBuy, XLM, eur(), 40, 1, 1, 0)).unwrap();
    assert_eq!(result.fills[0].offer_id, ask.id);
    assert_eq!(result.effect, OfferEffect::Deleted);
}

#[test]
fn malformed_operations() {
    let mut w = World::new(1);
    let m = |w: &mut World, op| assert_eq!(w.apply(1, op), Err(OfferFailure::Malformed), "{op:?}");
    m(&mut w, sell(usd(), usd(), 10, 1, 1));
    m(&mut w, sell(usd(), XLM, -1, 1, 1));
    m(&mut w, sell(usd(), XLM, 10, 0, 1));
    m(&mut w, sell(usd(), XLM, 10, 1, -1));
    m(&mut w, sell(usd(), XLM, 0, 1, 1));
    m(&mut w, op(OfferOpKind::ManageSell, usd(), XLM, 10, 1, 1, -5));
    m(&mut w, op(OfferOpKind::ManageBuy, usd(), XLM, 0, 1, 1, 0));
    m(&mut w, op(OfferOpKind::CreatePassiveSell, usd(), XLM, 0, 1, 1, 0));
    m(&mut w, op(OfferOpKind::CreatePassiveSell, usd(), XLM, 10, 1, 1, 7));
}

#[test]
fn rounding_threshold_drops_the_smaller_offer() {
    let mut w = World::new(3);
    // An ask of 28 USD at 3/2; a taker who can only take 27 USD would trade 1 % off the price:
    // nothing is exchanged, and the taker's offer (the smaller one) is not placed.
    let ask = created(w.apply(1, sell(usd(), XLM, 28, 3, 2)));
    let result = w.apply(2, op(OfferOpKind::ManageBuy, XLM, usd(), 27, 2, 1, 0)).unwrap();
    let zero = Fill {
        offer_id: ask.id,
        seller: account(1),
        asset_sold: usd(),
        amount_sold: 0,
        asset_bought: XLM,
        amount_bought: 0,
    };
    assert_eq!(result, OfferSuccess { fills: vec![zero], effect: OfferEffect::Deleted });
    assert_eq!(w.book.get(ask.id).unwrap().amount, 28);
}

#[test]
fn crossing_more_than_the_limit_exceeds_the_work_limit() {
    let mut w = World::new(2);
    let count = i64::try_from(OFFERS_CROSSED_MAX).unwrap();
    for _ in 0..=count {
        created(w.apply(1, sell(usd(), XLM, 1, 1, 1)));
    }
    // Taking 1001 offers fails; taking 1000 is fine.
    assert_eq!(w.apply(2, sell(XLM, usd(), count + 1, 1, 1)), Err(OfferFailure::ExceededWorkLimit));
    let result = w.apply(2, sell(XLM, usd(), count, 1, 1)).unwrap();
    assert_eq!(result.fills.len(), OFFERS_CROSSED_MAX);
    assert_eq!(result.effect, OfferEffect::Deleted);
    assert_eq!(w.book.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Differential property test
// ---------------------------------------------------------------------------------------------

fn asset_of(index: u8) -> Asset {
    match index % 3 {
        0 => XLM,
        1 => usd(),
        _ => eur(),
    }
}

/// Which offer an operation refers to; resolved against the book when applied.
#[derive(Clone, Copy, Debug)]
enum Target {
    New,
    /// The k-th (modulo their number) of the source's own offers, or a new one if none.
    Own(usize),
    /// Any id, which may be someone else's or not exist.
    Id(i64),
}

fn op_strategy() -> impl Strategy<Value = (u8, OfferOpKind, u8, u8, i64, i32, i32, Target)> {
    let kind = prop_oneof![
        4 => Just(OfferOpKind::ManageSell),
        3 => Just(OfferOpKind::ManageBuy),
        2 => Just(OfferOpKind::CreatePassiveSell),
    ];
    let amount = prop_oneof![1 => Just(0i64), 2 => 1..=40i64, 6 => 1..=3000i64, 1 => 1..=200_000i64];
    let component = prop_oneof![30 => 1..=4i32, 6 => 1..=12i32, 1 => -1..=0i32, 1 => 1..=i32::MAX];
    let target = prop_oneof![
        12 => Just(Target::New),
        6 => any::<usize>().prop_map(Target::Own),
        2 => (1..=40i64).prop_map(Target::Id),
        1 => Just(Target::Id(-1)),
    ];
    // Same-asset pairs (malformed) about one time in twenty.
    let pair =
        prop_oneof![19 => (0..3u8, 1..3u8).prop_map(|(a, k)| (a, (a + k) % 3)), 1 => (0..3u8).prop_map(|a| (a, a))];
    (prop_oneof![1 => Just(0u8), 6 => 1..=3u8], kind, pair, amount, component.clone(), component, target).prop_map(
        |(source, kind, (selling, buying), amount, n, d, target)| (source, kind, selling, buying, amount, n, d, target),
    )
}

/// The operation for a generated tuple, its offer id resolved against `book`.
fn resolve(book: &Book, generated: (u8, OfferOpKind, u8, u8, i64, i32, i32, Target)) -> (AccountId, OfferOp) {
    let (source, kind, selling, buying, amount, price_n, price_d, target) = generated;
    // Trader 0 is the issuer of USD and EUR.
    let source = if source == 0 { issuer() } else { account(source) };
    let own = book.offers_by(&source);
    let offer_id = match target {
        _ if kind == OfferOpKind::CreatePassiveSell => 0,
        Target::New => 0,
        Target::Own(k) => own.get(k % own.len().max(1)).map_or(0, |o| o.id),
        Target::Id(id) => id,
    };
    (source, OfferOp { kind, selling: asset_of(selling), buying: asset_of(buying), amount, price_n, price_d, offer_id })
}

fn ledger_strategy() -> impl Strategy<Value = Ledger> {
    let line = (0..=20_000i64, 0..=20_000i64, prop::bool::weighted(0.92), prop::bool::weighted(0.95));
    proptest::collection::vec((20_000_000..=200_000_000i64, line.clone(), line), 3).prop_map(|traders| {
        let mut ledger = Ledger::default();
        ledger.create_account(issuer(), 100_000_000_000);
        for (tag, (native, a, b)) in (1u8..).zip(traders) {
            ledger.create_account(account(tag), native);
            for (asset, (balance, headroom, trusts, authorized)) in [(usd(), a), (eur(), b)] {
                if trusts {
                    ledger.trust(account(tag), asset, balance, balance + headroom, authorized);
                }
            }
        }
        ledger
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Random order flow from three accounts and the issuer over XLM, USD and EUR: the fast book and
    /// manage_offer agree with the reference model on every result, fill, book and balance,
    /// and the invariants hold after every operation (checked inside `World::apply`).
    #[test]
    fn differential_against_reference(ledger in ledger_strategy(), ops in proptest::collection::vec(op_strategy(), 1..80)) {
        let mut world = World::from_ledger(ledger);
        for generated in ops {
            let (source, op) = resolve(&world.book, generated);
            let _ = world.apply_as(&source, op);
        }
    }
}
