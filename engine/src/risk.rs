//! Pre-trade checks: the stable reject codes, the named risk limits, the validation levels that
//! decide which checks run, and `check_order`, a pure function from an order and the engine's
//! view of the world to accept-or-reject-with-a-code.
//!
//! Reject codes are grouped by stage in the order the stages run — engine state, security, risk,
//! balance and reserve, then the venue's own refusals — and ordered by precedence inside a stage.
//! They are journaled and reported: **never renumber one**; add new codes at the end of a stage.
//!
//! Validation levels (the seed's BASIC → PARANOID):
//!
//! | check | BASIC | STANDARD | STRICT | PARANOID |
//! | --- | --- | --- | --- | --- |
//! | halted / locked down / cancel-only | ✓ | ✓ | ✓ | ✓ |
//! | balance, reserve, trustlines | ✓ | ✓ | ✓ | ✓ |
//! | order amount max | ✓ | ✓ | ✓ | ✓ |
//! | order notional max | | ✓ | ✓ | ✓ |
//! | price band vs. the book (when there is a book) | | ✓ | ✓ | ✓ |
//! | self-cross | | ✓ | ✓ | ✓ |
//! | open orders per pair and in total | | ✓ | ✓ | ✓ |
//! | inventory max, daily loss max | | | ✓ | ✓ |
//! | no order without a two-sided book to check the price against | | | | ✓ |
//!
//! The throttler (see [`crate::throttle`]) runs at every level.

use core::cmp::Ordering;
use core::fmt;

use crate::amount::{Amount, SignedAmount};
use crate::price::Price;

/// Why an order was refused. Stable codes, grouped by stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum RejectCode {
    // 100–199: engine state.
    /// A P0 incident locked the engine down; only an admin's unlock lifts it.
    LockedDown = 100,
    /// Halted by an operator (kill switch).
    Halted = 101,
    /// Restricted to cancels after a P1 incident, until its cooldown ends.
    CancelOnly = 102,
    /// The order names a pair the session does not trade.
    UnknownPair = 103,
    /// No account snapshot yet: balances and reserves are unknown.
    NoAccountState = 104,
    // 200–299: security.
    /// A rate limit of the throttler is exhausted.
    Throttled = 200,
    // 300–399: risk limits.
    OrderAmountMax = 300,
    OrderNotionalMax = 301,
    /// No book to check the price against (PARANOID).
    NoReferencePrice = 302,
    /// The price is further from the book's mid than the band allows (fat finger).
    PriceBand = 303,
    /// The order would cross one of our own resting offers.
    SelfCross = 304,
    OpenOrdersPairMax = 305,
    OpenOrdersTotalMax = 306,
    /// Filled completely, the order would take the position beyond the limit.
    InventoryMax = 307,
    /// Today's realised plus marked loss has reached the limit.
    DailyLossMax = 308,
    // 400–499: balance and reserve, as the network would refuse.
    SellNoTrust = 400,
    BuyNoTrust = 401,
    LowReserve = 402,
    Underfunded = 403,
    LineFull = 404,
    /// An amount computation overflowed `i64` stroops.
    AmountOverflow = 405,
    // 500–599: the venue refused the transaction or operation.
    VenueBadSeq = 500,
    VenueInsufficientFee = 501,
    VenueTooLate = 502,
    VenueUnderfunded = 503,
    VenueCrossSelf = 504,
    VenueLowReserve = 505,
    VenueLineFull = 506,
    VenueOfferNotFound = 507,
    VenueNoTrust = 508,
    /// Any other failure code; the raw codes are in the journaled result.
    VenueOther = 599,
}

impl RejectCode {
    /// Every code, in declaration order.
    pub const ALL: [RejectCode; 31] = [
        RejectCode::LockedDown,
        RejectCode::Halted,
        RejectCode::CancelOnly,
        RejectCode::UnknownPair,
        RejectCode::NoAccountState,
        RejectCode::Throttled,
        RejectCode::OrderAmountMax,
        RejectCode::OrderNotionalMax,
        RejectCode::NoReferencePrice,
        RejectCode::PriceBand,
        RejectCode::SelfCross,
        RejectCode::OpenOrdersPairMax,
        RejectCode::OpenOrdersTotalMax,
        RejectCode::InventoryMax,
        RejectCode::DailyLossMax,
        RejectCode::SellNoTrust,
        RejectCode::BuyNoTrust,
        RejectCode::LowReserve,
        RejectCode::Underfunded,
        RejectCode::LineFull,
        RejectCode::AmountOverflow,
        RejectCode::VenueBadSeq,
        RejectCode::VenueInsufficientFee,
        RejectCode::VenueTooLate,
        RejectCode::VenueUnderfunded,
        RejectCode::VenueCrossSelf,
        RejectCode::VenueLowReserve,
        RejectCode::VenueLineFull,
        RejectCode::VenueOfferNotFound,
        RejectCode::VenueNoTrust,
        RejectCode::VenueOther,
    ];

    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The reject with stable code `code`, if there is one.
    pub fn from_code(code: u16) -> Option<RejectCode> {
        RejectCode::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The venue's refusal of one of our offer operations: the transaction's XDR result code and,
    /// when that is `txFAILED`, the operation's `ManageSellOfferResultCode` (`None`: not given).
    /// An operation that succeeded in a transaction that failed for another operation is
    /// [`RejectCode::VenueOther`], as is every code with no code of its own here.
    pub const fn from_venue(tx_code: i32, op_code: Option<i32>) -> RejectCode {
        // TransactionResultCode
        const TX_FAILED: i32 = -1;
        const TX_TOO_LATE: i32 = -3;
        const TX_BAD_SEQ: i32 = -5;
        const TX_INSUFFICIENT_FEE: i32 = -9;
        match (tx_code, op_code) {
            (TX_BAD_SEQ, _) => RejectCode::VenueBadSeq,
            (TX_INSUFFICIENT_FEE, _) => RejectCode::VenueInsufficientFee,
            (TX_TOO_LATE, _) => RejectCode::VenueTooLate,
            // ManageSellOfferResultCode: SELL_NO_TRUST, BUY_NO_TRUST, LINE_FULL, UNDERFUNDED,
            // CROSS_SELF, NOT_FOUND, LOW_RESERVE.
            (TX_FAILED, Some(-2 | -3)) => RejectCode::VenueNoTrust,
            (TX_FAILED, Some(-6)) => RejectCode::VenueLineFull,
            (TX_FAILED, Some(-7)) => RejectCode::VenueUnderfunded,
            (TX_FAILED, Some(-8)) => RejectCode::VenueCrossSelf,
            (TX_FAILED, Some(-11)) => RejectCode::VenueOfferNotFound,
            (TX_FAILED, Some(-12)) => RejectCode::VenueLowReserve,
            _ => RejectCode::VenueOther,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            RejectCode::LockedDown => "locked_down",
            RejectCode::Halted => "halted",
            RejectCode::CancelOnly => "cancel_only",
            RejectCode::UnknownPair => "unknown_pair",
            RejectCode::NoAccountState => "no_account_state",
            RejectCode::Throttled => "throttled",
            RejectCode::OrderAmountMax => "order_amount_max",
            RejectCode::OrderNotionalMax => "order_notional_max",
            RejectCode::NoReferencePrice => "no_reference_price",
            RejectCode::PriceBand => "price_band",
            RejectCode::SelfCross => "self_cross",
            RejectCode::OpenOrdersPairMax => "open_orders_pair_max",
            RejectCode::OpenOrdersTotalMax => "open_orders_total_max",
            RejectCode::InventoryMax => "inventory_max",
            RejectCode::DailyLossMax => "daily_loss_max",
            RejectCode::SellNoTrust => "sell_no_trust",
            RejectCode::BuyNoTrust => "buy_no_trust",
            RejectCode::LowReserve => "low_reserve",
            RejectCode::Underfunded => "underfunded",
            RejectCode::LineFull => "line_full",
            RejectCode::AmountOverflow => "amount_overflow",
            RejectCode::VenueBadSeq => "venue_bad_seq",
            RejectCode::VenueInsufficientFee => "venue_insufficient_fee",
            RejectCode::VenueTooLate => "venue_too_late",
            RejectCode::VenueUnderfunded => "venue_underfunded",
            RejectCode::VenueCrossSelf => "venue_cross_self",
            RejectCode::VenueLowReserve => "venue_low_reserve",
            RejectCode::VenueLineFull => "venue_line_full",
            RejectCode::VenueOfferNotFound => "venue_offer_not_found",
            RejectCode::VenueNoTrust => "venue_no_trust",
            RejectCode::VenueOther => "venue_other",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.code())
    }
}

impl From<crate::reserves::Shortfall> for RejectCode {
    fn from(s: crate::reserves::Shortfall) -> RejectCode {
        use crate::reserves::Shortfall as S;
        match s {
            S::SellNoTrust => RejectCode::SellNoTrust,
            S::BuyNoTrust => RejectCode::BuyNoTrust,
            S::LowReserve { .. } => RejectCode::LowReserve,
            S::Underfunded { .. } => RejectCode::Underfunded,
            S::LineFull { .. } => RejectCode::LineFull,
            S::Overflow => RejectCode::AmountOverflow,
        }
    }
}

/// Which checks run (see the module table). Codes are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ValidationLevel {
    Basic = 1,
    Standard = 2,
    Strict = 3,
    Paranoid = 4,
}

impl ValidationLevel {
    pub const fn from_code(code: u8) -> Option<ValidationLevel> {
        match code {
            1 => Some(ValidationLevel::Basic),
            2 => Some(ValidationLevel::Standard),
            3 => Some(ValidationLevel::Strict),
            4 => Some(ValidationLevel::Paranoid),
            _ => None,
        }
    }
}

/// The named risk limits; units are the last word of each name. The `u16` codes (for operator
/// `SetLimit` commands) are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RiskLimits {
    /// Code 1: largest order, in stroops of the base (selling side of the pair).
    pub order_amount_stroops_max: i64,
    /// Code 2: largest order value, in stroops of the counter asset (amount × price, rounded up).
    pub order_notional_stroops_max: i64,
    /// Code 3: furthest an order's price may be from the book's mid, in basis points of the mid.
    pub price_band_bps_max: u32,
    /// Code 4: open orders per pair.
    pub open_orders_pair_max: u32,
    /// Code 5: open orders in total.
    pub open_orders_total_max: u32,
    /// Code 6: largest absolute position in the base asset, in stroops, were every order filled.
    pub inventory_stroops_max: i64,
    /// Code 7: largest loss today (realised + marked), in stroops of the counter asset.
    pub daily_loss_stroops_max: i64,
}

impl RiskLimits {
    /// Set a limit by its stable code; `false` if the code is unknown or the value out of range.
    pub fn set(&mut self, code: u16, value: i64) -> bool {
        let as_u32 = u32::try_from(value).ok();
        match (code, value >= 0) {
            (1, true) => self.order_amount_stroops_max = value,
            (2, true) => self.order_notional_stroops_max = value,
            (3, _) if as_u32.is_some_and(|v| v <= 10_000) => self.price_band_bps_max = as_u32.unwrap_or(0),
            (4, _) if as_u32.is_some() => self.open_orders_pair_max = as_u32.unwrap_or(0),
            (5, _) if as_u32.is_some() => self.open_orders_total_max = as_u32.unwrap_or(0),
            (6, true) => self.inventory_stroops_max = value,
            (7, true) => self.daily_loss_stroops_max = value,
            _ => return false,
        }
        true
    }
}

/// Whether an order sells or buys the pair's base asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Side {
    /// Sell base for counter (an ask).
    Sell = 1,
    /// Buy base with counter (a bid).
    Buy = 2,
}

/// The engine's state as far as one order's checks need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderContext {
    pub level: ValidationLevel,
    pub locked_down: bool,
    pub halted: bool,
    pub cancel_only: bool,
    /// Best bid and best ask of the pair's book (counter per base), if any.
    pub best_bid: Option<Price>,
    pub best_ask: Option<Price>,
    /// Our own best resting prices on each side of this pair (counter per base).
    pub own_best_bid: Option<Price>,
    pub own_best_ask: Option<Price>,
    pub open_orders_pair: u32,
    pub open_orders_total: u32,
    /// Our base position were every open order filled (positive: long base).
    pub inventory_if_filled: SignedAmount,
    /// Today's realised plus marked loss (zero when in profit), in counter stroops.
    pub loss_today: Amount,
}

/// A new order on a pair: `amount` of base at `price` counter per base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    pub side: Side,
    pub amount: Amount,
    pub price: Price,
}

/// Run every check the validation level asks for, in stage order; the first failure decides.
/// Balance and reserve checks are the caller's (they need the account; see [`crate::reserves`]).
pub fn check_order(limits: &RiskLimits, ctx: &OrderContext, order: &OrderRequest) -> Result<(), RejectCode> {
    use ValidationLevel as V;
    check_state(ctx)?;
    if order.amount.stroops() > limits.order_amount_stroops_max {
        return Err(RejectCode::OrderAmountMax);
    }
    if ctx.level >= V::Standard {
        let notional = order.price.notional_ceil(order.amount).map_err(|_| RejectCode::AmountOverflow)?;
        if notional.stroops() > limits.order_notional_stroops_max {
            return Err(RejectCode::OrderNotionalMax);
        }
        let band = limits.price_band_bps_max;
        let in_band = match (ctx.best_bid, ctx.best_ask) {
            (Some(bid), Some(ask)) => within_band(order.price, bid, ask, band),
            (Some(one), None) | (None, Some(one)) if ctx.level < V::Paranoid => {
                within_band(order.price, one, one, band)
            }
            _ if ctx.level >= V::Paranoid => return Err(RejectCode::NoReferencePrice),
            _ => true,
        };
        if !in_band {
            return Err(RejectCode::PriceBand);
        }
        let crosses_own = match order.side {
            Side::Sell => ctx.own_best_bid.is_some_and(|b| order.price.cmp_value(b) != Ordering::Greater),
            Side::Buy => ctx.own_best_ask.is_some_and(|a| order.price.cmp_value(a) != Ordering::Less),
        };
        if crosses_own {
            return Err(RejectCode::SelfCross);
        }
        if ctx.open_orders_pair >= limits.open_orders_pair_max {
            return Err(RejectCode::OpenOrdersPairMax);
        }
        if ctx.open_orders_total >= limits.open_orders_total_max {
            return Err(RejectCode::OpenOrdersTotalMax);
        }
    }
    if ctx.level >= V::Strict {
        let before = i128::from(ctx.inventory_if_filled.stroops());
        let delta = i128::from(order.amount.stroops());
        let after = if order.side == Side::Buy { before + delta } else { before - delta };
        // An order that reduces exposure is always allowed.
        if after.abs() > i128::from(limits.inventory_stroops_max) && after.abs() > before.abs() {
            return Err(RejectCode::InventoryMax);
        }
        if ctx.loss_today.stroops() >= limits.daily_loss_stroops_max {
            return Err(RejectCode::DailyLossMax);
        }
    }
    Ok(())
}

/// The first stage on its own: may the engine place anything at all?
pub fn check_state(ctx: &OrderContext) -> Result<(), RejectCode> {
    if ctx.locked_down {
        return Err(RejectCode::LockedDown);
    }
    if ctx.halted {
        return Err(RejectCode::Halted);
    }
    if ctx.cancel_only {
        return Err(RejectCode::CancelOnly);
    }
    Ok(())
}

/// Is `price` within `band_bps` basis points of the mid of `bid` and `ask`? Exact in `i128`:
/// with mid = M / D, M = bn·ad + an·bd and D = 2·bd·ad, the test |pn/pd − M/D| ≤ (M/D)·b/10⁴
/// becomes |pn·D − M·pd| · 10⁴ ≤ M·pd·b, all terms below 2¹¹⁰.
pub fn within_band(price: Price, bid: Price, ask: Price, band_bps: u32) -> bool {
    let (pn, pd) = (i128::from(price.n()), i128::from(price.d()));
    let (bn, bd) = (i128::from(bid.n()), i128::from(bid.d()));
    let (an, ad) = (i128::from(ask.n()), i128::from(ask.d()));
    let m = bn * ad + an * bd;
    let d = 2 * bd * ad;
    let distance = (pn * d - m * pd).abs();
    distance * 10_000 <= m * pd * i128::from(band_bps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        s.parse().unwrap()
    }
    fn a(s: &str) -> Amount {
        s.parse().unwrap()
    }
    fn limits() -> RiskLimits {
        RiskLimits {
            order_amount_stroops_max: a("1000").stroops(),
            order_notional_stroops_max: a("500").stroops(),
            price_band_bps_max: 500,
            open_orders_pair_max: 4,
            open_orders_total_max: 6,
            inventory_stroops_max: a("2000").stroops(),
            daily_loss_stroops_max: a("100").stroops(),
        }
    }
    fn ctx() -> OrderContext {
        OrderContext {
            level: ValidationLevel::Strict,
            locked_down: false,
            halted: false,
            cancel_only: false,
            best_bid: Some(p("0.099")),
            best_ask: Some(p("0.101")),
            own_best_bid: None,
            own_best_ask: None,
            open_orders_pair: 0,
            open_orders_total: 0,
            inventory_if_filled: SignedAmount::ZERO,
            loss_today: Amount::ZERO,
        }
    }
    fn sell(amount: &str, price: &str) -> OrderRequest {
        OrderRequest { side: Side::Sell, amount: a(amount), price: p(price) }
    }
    fn buy(amount: &str, price: &str) -> OrderRequest {
        OrderRequest { side: Side::Buy, amount: a(amount), price: p(price) }
    }

    #[test]
    fn venue_refusals_map_to_their_codes() {
        let cases = [
            ((-5, None), 500),
            ((-9, None), 501),
            ((-3, None), 502),
            ((-1, Some(-7)), 503),
            ((-1, Some(-8)), 504),
            ((-1, Some(-12)), 505),
            ((-1, Some(-6)), 506),
            ((-1, Some(-11)), 507),
            ((-1, Some(-2)), 508),
            ((-1, Some(-3)), 508),
            // An operation that succeeded in a failed transaction, an unknown code, a missing one.
            ((-1, Some(0)), 599),
            ((-1, Some(-1)), 599),
            ((-1, None), 599),
            ((-2, None), 599),
            ((-7, Some(-7)), 599),
        ];
        for ((tx, op), code) in cases {
            assert_eq!(RejectCode::from_venue(tx, op).code(), code, "tx {tx} op {op:?}");
        }
    }

    #[test]
    fn each_check_by_its_code() {
        let l = limits();
        assert_eq!(check_order(&l, &ctx(), &sell("100", "0.1")), Ok(()));
        assert_eq!(
            check_order(&l, &OrderContext { locked_down: true, halted: true, ..ctx() }, &sell("1", "0.1")),
            Err(RejectCode::LockedDown)
        );
        assert_eq!(
            check_order(&l, &OrderContext { halted: true, ..ctx() }, &sell("1", "0.1")),
            Err(RejectCode::Halted)
        );
        assert_eq!(
            check_order(&l, &OrderContext { cancel_only: true, ..ctx() }, &sell("1", "0.1")),
            Err(RejectCode::CancelOnly)
        );
        assert_eq!(check_order(&l, &ctx(), &sell("1000.0000001", "0.1")), Err(RejectCode::OrderAmountMax));
        // 1000 × 0.5 = 500 is the notional limit exactly; the band is checked after it.
        assert_eq!(check_order(&l, &ctx(), &sell("1000", "0.5000001")), Err(RejectCode::OrderNotionalMax));
        // Mid 0.1, band 5 %: 0.105 is in, 0.1051 is out; 0.095 in, 0.0949 out.
        assert_eq!(check_order(&l, &ctx(), &sell("1", "0.105")), Ok(()));
        assert_eq!(check_order(&l, &ctx(), &sell("1", "0.1051")), Err(RejectCode::PriceBand));
        assert_eq!(check_order(&l, &ctx(), &buy("1", "0.095")), Ok(()));
        assert_eq!(check_order(&l, &ctx(), &buy("1", "0.0949")), Err(RejectCode::PriceBand));
        let own = OrderContext { own_best_bid: Some(p("0.1")), own_best_ask: Some(p("0.102")), ..ctx() };
        assert_eq!(check_order(&l, &own, &sell("1", "0.1")), Err(RejectCode::SelfCross));
        assert_eq!(check_order(&l, &own, &sell("1", "0.1001")), Ok(()));
        assert_eq!(check_order(&l, &own, &buy("1", "0.102")), Err(RejectCode::SelfCross));
        assert_eq!(
            check_order(&l, &OrderContext { open_orders_pair: 4, ..ctx() }, &sell("1", "0.1")),
            Err(RejectCode::OpenOrdersPairMax)
        );
        assert_eq!(
            check_order(&l, &OrderContext { open_orders_total: 6, ..ctx() }, &sell("1", "0.1")),
            Err(RejectCode::OpenOrdersTotalMax)
        );
        let long = OrderContext { inventory_if_filled: SignedAmount::from_stroops(a("1500").stroops()), ..ctx() };
        assert_eq!(check_order(&l, &long, &buy("600", "0.1")), Err(RejectCode::InventoryMax));
        assert_eq!(check_order(&l, &long, &sell("1000", "0.1")), Ok(()), "reducing exposure is allowed");
        assert_eq!(
            check_order(&l, &OrderContext { loss_today: a("100"), ..ctx() }, &sell("1", "0.1")),
            Err(RejectCode::DailyLossMax)
        );
    }

    #[test]
    fn validation_levels_decide_which_checks_run() {
        let l = limits();
        let fat_finger = sell("10", "5");
        assert_eq!(check_order(&l, &OrderContext { level: ValidationLevel::Basic, ..ctx() }, &fat_finger), Ok(()));
        assert_eq!(
            check_order(&l, &OrderContext { level: ValidationLevel::Standard, ..ctx() }, &fat_finger),
            Err(RejectCode::PriceBand)
        );
        let huge_loss = OrderContext { loss_today: a("1000"), ..ctx() };
        assert_eq!(
            check_order(&l, &OrderContext { level: ValidationLevel::Standard, ..huge_loss }, &sell("1", "0.1")),
            Ok(())
        );
        assert_eq!(check_order(&l, &huge_loss, &sell("1", "0.1")), Err(RejectCode::DailyLossMax));
        let no_book = OrderContext { best_bid: None, best_ask: None, ..ctx() };
        assert_eq!(check_order(&l, &no_book, &sell("1", "0.1")), Ok(()));
        assert_eq!(
            check_order(&l, &OrderContext { level: ValidationLevel::Paranoid, ..no_book }, &sell("1", "0.1")),
            Err(RejectCode::NoReferencePrice)
        );
        let one_sided = OrderContext { level: ValidationLevel::Paranoid, best_ask: None, ..ctx() };
        assert_eq!(check_order(&l, &one_sided, &sell("1", "0.099")), Err(RejectCode::NoReferencePrice));
    }

    #[test]
    fn band_arithmetic_holds_at_the_extremes() {
        let max = Price::new(i32::MAX, 1).unwrap();
        let min = Price::new(1, i32::MAX).unwrap();
        assert!(within_band(max, max, max, 0));
        assert!(within_band(min, min, min, 0));
        assert!(!within_band(min, max, max, 10_000 - 1));
        assert!(within_band(min, max, max, 10_000), "a 100 % band admits any positive price below the mid");
    }

    #[test]
    fn codes_are_stable_and_grouped() {
        assert_eq!(RejectCode::LockedDown.code(), 100);
        assert_eq!(RejectCode::Throttled.code(), 200);
        assert_eq!(RejectCode::OrderAmountMax.code(), 300);
        assert_eq!(RejectCode::DailyLossMax.code(), 308);
        assert_eq!(RejectCode::Underfunded.code(), 403);
        assert_eq!(RejectCode::VenueOther.code(), 599);
        assert_eq!(RejectCode::PriceBand.to_string(), "price_band (303)");
    }

    #[test]
    fn limits_are_set_by_code() {
        let mut l = limits();
        assert!(l.set(3, 250) && l.price_band_bps_max == 250);
        assert!(l.set(1, 5) && l.order_amount_stroops_max == 5);
        assert!(!l.set(3, 10_001) && !l.set(1, -1) && !l.set(99, 1) && !l.set(4, -1));
        assert_eq!(l.price_band_bps_max, 250);
    }

    /// The naive band: compute the band's two edges as fractions and compare against each.
    fn within_band_naive(price: Price, bid: Price, ask: Price, band_bps: u32) -> bool {
        let mid_num = i128::from(bid.n()) * i128::from(ask.d()) + i128::from(ask.n()) * i128::from(bid.d());
        let mid_den = 2 * i128::from(bid.d()) * i128::from(ask.d());
        let b = i128::from(band_bps);
        let (lo_num, hi_num, den) = (mid_num * (10_000 - b), mid_num * (10_000 + b), mid_den * 10_000);
        let (pn, pd) = (i128::from(price.n()), i128::from(price.d()));
        // lo_num/den <= pn/pd <= hi_num/den
        lo_num * pd <= pn * den && pn * den <= hi_num * pd
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 20_000, ..Default::default() })]
        #[test]
        fn band_agrees_with_the_naive_edges(
            pn in 1i32..=i32::MAX, pd in 1i32..=i32::MAX,
            bn in 1i32..=i32::MAX, bd in 1i32..=i32::MAX,
            an in 1i32..=i32::MAX, ad in 1i32..=i32::MAX,
            band in 0u32..=10_000,
        ) {
            let (price, bid, ask) = (Price::new(pn, pd).unwrap(), Price::new(bn, bd).unwrap(), Price::new(an, ad).unwrap());
            proptest::prop_assert_eq!(within_band(price, bid, ask, band), within_band_naive(price, bid, ask, band));
        }

        #[test]
        fn near_the_mid_band_agrees(m in 1i32..100_000, k in 1i32..100_000, off in -2000i32..2000, band in 0u32..3000) {
            // Prices close to a mid, where the edges matter.
            let bid = Price::new(m, k).unwrap();
            let ask = Price::new(m + 1, k).unwrap();
            let price = Price::new((2 * m + 1) * 10_000 + off * m / 1000, 2 * k * 10_000).unwrap();
            proptest::prop_assert_eq!(within_band(price, bid, ask, band), within_band_naive(price, bid, ask, band));
        }
    }
}
