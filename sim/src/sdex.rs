//! SDEX semantics as stellar-core has them (protocol ≥ 10, with liabilities): the exchange
//! arithmetic of one crossing (`exchangeV10` with its price-error thresholds and rounding in the
//! resting offer's favour), offer adjustment, the order book in price-then-id priority, and the
//! ManageSellOffer / ManageBuyOffer / CreatePassiveSellOffer operations on top of an
//! [`Accounts`] view of the ledger. Specification and sources: `sim/MATCHING.md`.
//!
//! Sans-IO and deterministic: no clock, no randomness, no hash-map iteration.

use starlog_engine::{AccountId, Asset, Price};

mod book;
mod exchange;
mod manage;

pub use book::{Book, PriceKey};
pub use exchange::{
    Exchange, Rounding, adjust_offer, apply_price_error_thresholds, buy_offer_liabilities, check_price_error_bound,
    exchange_v10, exchange_v10_without_price_error_thresholds, offer_liabilities,
};
pub use manage::manage_offer;

/// Most offers one operation may cross (stellar-core's `MAX_OFFERS_TO_CROSS`).
pub const OFFERS_CROSSED_MAX: usize = 1000;

/// An offer resting on the book. Every offer is stored as a sell offer, as in stellar-core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Assigned at creation, never reused; lower ids have time priority at equal prices.
    pub id: i64,
    pub seller: AccountId,
    pub selling: Asset,
    pub buying: Asset,
    /// Amount of `selling` on offer, in stroops; always > 0 on the book.
    pub amount: i64,
    /// Units of `buying` per unit of `selling`.
    pub price: Price,
    /// Created by CreatePassiveSellOffer: does not take offers at exactly its price.
    pub passive: bool,
}

/// One resting offer crossed by an operation, from that offer's owner's point of view (as the
/// XDR `ClaimOfferAtom`): they sold `amount_sold` of `asset_sold` and bought `amount_bought`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub offer_id: i64,
    pub seller: AccountId,
    pub asset_sold: Asset,
    pub amount_sold: i64,
    pub asset_bought: Asset,
    pub amount_bought: i64,
}

/// Which offer operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferOpKind {
    ManageSell,
    ManageBuy,
    CreatePassiveSell,
}

/// An offer operation as submitted (XDR fields, already decoded into domain types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferOp {
    pub kind: OfferOpKind,
    pub selling: Asset,
    pub buying: Asset,
    /// ManageSell/Passive: amount of `selling`; ManageBuy: amount of `buying` to buy.
    pub amount: i64,
    /// ManageSell/Passive: buying per selling; ManageBuy: selling per buying. As in the XDR,
    /// it may be non-positive (then the operation is malformed).
    pub price_n: i32,
    pub price_d: i32,
    /// 0 creates a new offer.
    pub offer_id: i64,
}

/// What became of the operation's own offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfferEffect {
    /// A new offer rests on the book (`ManageOfferSuccessResult.offer = Created`).
    Created(Offer),
    /// The named offer was modified and rests (`Updated`).
    Updated(Offer),
    /// Nothing rests: cancelled, or filled on arrival (`Deleted`).
    Deleted,
}

/// A successful offer operation: the offers it crossed, in order, and its own offer's fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferSuccess {
    pub fills: Vec<Fill>,
    pub effect: OfferEffect,
}

/// Failure codes of offer operations, with their XDR values (`ManageSellOfferResultCode`;
/// ManageBuyOffer's codes have the same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum OfferFailure {
    Malformed = -1,
    SellNoTrust = -2,
    BuyNoTrust = -3,
    SellNotAuthorized = -4,
    BuyNotAuthorized = -5,
    LineFull = -6,
    Underfunded = -7,
    CrossSelf = -8,
    SellNoIssuer = -9,
    BuyNoIssuer = -10,
    NotFound = -11,
    LowReserve = -12,
    /// More than [`OFFERS_CROSSED_MAX`] offers would be crossed. Not a `ManageSellOfferResultCode`:
    /// stellar-core fails the operation with the operation-level `opEXCEEDED_WORK_LIMIT`
    /// (`OperationResultCode` −5), so this discriminant (−1005) is not an XDR value of the
    /// offer result; map it to `OperationResult::OpExceededWorkLimit`.
    ExceededWorkLimit = -1005,
}

/// The ledger as offer operations see it. The simulator's ledger implements it; the reference
/// model in the tests implements it naively. Amounts are stroops. "No trustline" is `None`.
///
/// Native balances and liabilities count against the account's reserve: `available_to_sell`
/// of native is `balance - reserve - selling liabilities`, never negative.
pub trait Accounts {
    /// Whether `account` may hold `asset` at all: native always; a credit asset when the account
    /// is its issuer or has a trustline to it.
    fn holds(&self, account: &AccountId, asset: &Asset) -> bool;
    /// Whether the account's trustline to `asset` is authorized (issuers and native: true).
    fn authorized(&self, account: &AccountId, asset: &Asset) -> bool;
    /// The account's balance of `asset` (native: the whole balance, reserve included; issuers:
    /// `i64::MAX`; no trustline: `None`). stellar-core fails an offer with `Underfunded` when
    /// the selling trustline's balance is 0, before looking at authorization or liabilities.
    fn balance(&self, account: &AccountId, asset: &Asset) -> Option<i64>;
    /// How much of `asset` the account can still commit to sell (issuers: `i64::MAX`).
    fn available_to_sell(&self, account: &AccountId, asset: &Asset) -> Option<i64>;
    /// How much more of `asset` the account can still receive (limit − balance − buying
    /// liabilities; issuers: `i64::MAX`).
    fn available_to_buy(&self, account: &AccountId, asset: &Asset) -> Option<i64>;
    /// Adds `delta` (may be negative) to the account's balance of `asset` (issuers: no-op).
    fn transfer(&mut self, account: &AccountId, asset: &Asset, delta: i64);
    /// Adds to the account's selling and buying liabilities in `asset` (may be negative).
    fn add_liabilities(&mut self, account: &AccountId, asset: &Asset, selling_delta: i64, buying_delta: i64);
    /// Whether the account can afford one more subentry (the reserve for it).
    fn can_add_subentry(&self, account: &AccountId) -> bool;
    /// Adds to the account's subentry count (+1 for a new offer, −1 for a removed one).
    fn add_subentries(&mut self, account: &AccountId, delta: i32);
    /// The next offer id (the ledger's id pool, incremented).
    fn next_offer_id(&mut self) -> i64;
}
