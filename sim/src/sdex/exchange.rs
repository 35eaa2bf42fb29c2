//! The arithmetic of one crossing, as stellar-core's `exchangeV10` (protocol ≥ 10) computes it:
//! which of the two offers is the larger after all limits ("which stays"), how much of each
//! asset changes hands with the rounding in favour of the offer that stays, the 1 % price-error
//! threshold, `adjustOffer`, and the liabilities an offer commits.
//!
//! Naming follows stellar-core (`src/transactions/OfferExchange.cpp`): the resting offer sells
//! **wheat** and buys **sheep**; `price` is the resting offer's price, sheep per wheat. All
//! arithmetic is exact, in `u128`.

use starlog_engine::Price;

/// The relative price error a normal crossing tolerates, as `1 / PRICE_ERROR_INVERSE` (1 %).
const PRICE_ERROR_INVERSE: u128 = 100;

/// Rounding mode of a crossing (stellar-core's `RoundingType`). Offer operations use `Normal`;
/// the two path-payment modes are modelled for completeness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Offers: the rounding favours the offer that stays, and a crossing whose effective price
    /// is more than 1 % off the offer's price exchanges nothing.
    Normal,
    /// PathPaymentStrictSend: all of `max_sheep_send` (or the sheep limit) is sent when wheat
    /// stays; the wheat seller may be favoured without bound.
    PathPaymentStrictSend,
    /// PathPaymentStrictReceive: when wheat stays, the wheat received is computed first.
    PathPaymentStrictReceive,
}

/// The outcome of one crossing (stellar-core's `ExchangeResultV10`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exchange {
    /// Wheat that leaves the resting offer's owner.
    pub wheat_received: i64,
    /// Sheep that the resting offer's owner receives.
    pub sheep_send: i64,
    /// Whether the resting (wheat) offer is the larger one and stays on the book.
    pub wheat_stays: bool,
}

/// `a * b / c` rounded down or up; `None` if the result exceeds `i64::MAX` (stellar-core's
/// `bigDivide`). Requires `a, b >= 0`, `c > 0`.
fn big_divide(a: i64, b: i64, c: i64, round_up: bool) -> Option<i64> {
    assert!(a >= 0 && b >= 0 && c > 0, "big_divide({a}, {b}, {c})");
    big_divide_128(u128::from(a.unsigned_abs()) * u128::from(b.unsigned_abs()), c, round_up)
}

/// `value / c` rounded down or up; `None` if the result exceeds `i64::MAX`.
fn big_divide_128(value: u128, c: i64, round_up: bool) -> Option<i64> {
    assert!(c > 0, "big_divide_128 by {c}");
    let c = u128::from(c.unsigned_abs());
    let quotient = if round_up { value.div_ceil(c) } else { value / c };
    i64::try_from(quotient).ok()
}

/// As [`big_divide`], for results stellar-core proves in range (its `bigDivideOrThrow`).
fn big_divide_in_range(a: i64, b: i64, c: i64, round_up: bool) -> i64 {
    big_divide(a, b, c, round_up).unwrap_or_else(|| panic!("overflow in {a} * {b} / {c}"))
}

/// As [`big_divide_128`], for results stellar-core proves in range.
fn big_divide_128_in_range(value: u128, c: i64, round_up: bool) -> i64 {
    big_divide_128(value, c, round_up).unwrap_or_else(|| panic!("overflow in {value} / {c}"))
}

fn mul(a: i64, b: i64) -> u128 {
    debug_assert!(a >= 0 && b >= 0);
    u128::from(a.unsigned_abs()) * u128::from(b.unsigned_abs())
}

fn n_d(price: Price) -> (i64, i64) {
    (i64::from(price.n()), i64::from(price.d()))
}

/// `min(max_send * price_n, max_receive * price_d)`: the size of one side in rescaled units
/// (stellar-core's `calculateOfferValue`).
fn offer_value(price_n: i64, price_d: i64, max_send: i64, max_receive: i64) -> u128 {
    mul(max_send, price_n).min(mul(max_receive, price_d))
}

/// Whether `sheep_send / wheat_receive` is within 1 % of `price` (stellar-core's
/// `checkPriceErrorBound`): `|100·n·wheat − 100·d·sheep| <= n·wheat`. With `can_favor_wheat`,
/// any error in the wheat seller's favour (`d·sheep > n·wheat`) is accepted.
pub fn check_price_error_bound(price: Price, wheat_receive: i64, sheep_send: i64, can_favor_wheat: bool) -> bool {
    let (n, d) = n_d(price);
    let lhs = PRICE_ERROR_INVERSE * mul(n, wheat_receive);
    let rhs = PRICE_ERROR_INVERSE * mul(d, sheep_send);
    if can_favor_wheat && rhs > lhs {
        return true;
    }
    lhs.abs_diff(rhs) <= mul(n, wheat_receive)
}

/// `exchangeV10` before the price-error thresholds: the amounts, rounded in favour of the offer
/// that stays. All limits must be `>= 0`.
pub fn exchange_v10_without_price_error_thresholds(
    price: Price,
    max_wheat_send: i64,
    max_wheat_receive: i64,
    max_sheep_send: i64,
    max_sheep_receive: i64,
    round: Rounding,
) -> Exchange {
    assert!(
        max_wheat_send >= 0 && max_wheat_receive >= 0 && max_sheep_send >= 0 && max_sheep_receive >= 0,
        "negative exchange limit"
    );
    let (n, d) = n_d(price);
    let wheat_value = offer_value(n, d, max_wheat_send, max_sheep_receive);
    let sheep_value = offer_value(d, n, max_sheep_send, max_wheat_receive);
    let wheat_stays = wheat_value > sheep_value;

    let (wheat_receive, sheep_send) = if wheat_stays {
        match round {
            Rounding::PathPaymentStrictSend => {
                (big_divide_128_in_range(sheep_value, n, false), max_sheep_send.min(max_sheep_receive))
            }
            // Wheat is worth more (or strict receive): round the wheat down, the sheep up.
            _ if n > d || round == Rounding::PathPaymentStrictReceive => {
                let wheat = big_divide_128_in_range(sheep_value, n, false);
                (wheat, big_divide_in_range(wheat, n, d, true))
            }
            // Sheep is worth more: round the sheep down, then the wheat down.
            _ => {
                let sheep = big_divide_128_in_range(sheep_value, d, false);
                (big_divide_in_range(sheep, d, n, false), sheep)
            }
        }
    } else if n > d {
        let wheat = big_divide_128_in_range(wheat_value, n, false);
        (wheat, big_divide_in_range(wheat, n, d, false))
    } else {
        let sheep = big_divide_128_in_range(wheat_value, d, false);
        (big_divide_in_range(sheep, d, n, true), sheep)
    };

    // stellar-core throws here; its proofs show these bounds always hold.
    assert!(
        (0..=max_wheat_receive.min(max_wheat_send)).contains(&wheat_receive),
        "wheat_receive {wheat_receive} out of bounds"
    );
    assert!((0..=max_sheep_receive.min(max_sheep_send)).contains(&sheep_send), "sheep_send {sheep_send} out of bounds");
    Exchange { wheat_received: wheat_receive, sheep_send, wheat_stays }
}

/// The price-error thresholds of `exchangeV10` (stellar-core's `applyPriceErrorThresholds`):
/// with `Normal` rounding, a crossing more than 1 % off the price exchanges nothing.
///
/// # Panics
/// Where stellar-core throws: the rounding favoured the wrong side, a path-payment crossing
/// exceeds the bound against the wheat seller, or strict send sends no sheep.
pub fn apply_price_error_thresholds(
    price: Price,
    wheat_receive: i64,
    sheep_send: i64,
    wheat_stays: bool,
    round: Rounding,
) -> Exchange {
    let (n, d) = n_d(price);
    let (mut wheat_receive, mut sheep_send) = (wheat_receive, sheep_send);
    if wheat_receive > 0 && sheep_send > 0 {
        let wheat_receive_value = mul(wheat_receive, n);
        let sheep_send_value = mul(sheep_send, d);
        assert!(!wheat_stays || sheep_send_value >= wheat_receive_value, "favored sheep when wheat stays");
        assert!(wheat_stays || sheep_send_value <= wheat_receive_value, "favored wheat when sheep stays");
        if round == Rounding::Normal {
            if !check_price_error_bound(price, wheat_receive, sheep_send, false) {
                (wheat_receive, sheep_send) = (0, 0);
            }
        } else {
            assert!(check_price_error_bound(price, wheat_receive, sheep_send, true), "exceeded price error bound");
        }
    } else if round == Rounding::PathPaymentStrictSend {
        assert!(sheep_send != 0, "invalid amount of sheep sent");
    } else {
        (wheat_receive, sheep_send) = (0, 0);
    }
    Exchange { wheat_received: wheat_receive, sheep_send, wheat_stays }
}

/// One crossing of a resting offer that sells wheat at `price` (sheep per wheat) by a taker,
/// under four limits: what the offer's owner can send (`max_wheat_send`) and receive
/// (`max_sheep_receive`), what the taker can receive (`max_wheat_receive`) and send
/// (`max_sheep_send`). As stellar-core's `exchangeV10` (protocols 10–28; see `sim/MATCHING.md`
/// for protocol 29).
///
/// # Panics
/// If a limit is negative, and where stellar-core throws (see [`apply_price_error_thresholds`]);
/// with `Normal` rounding and non-negative limits it does not panic.
pub fn exchange_v10(
    price: Price,
    max_wheat_send: i64,
    max_wheat_receive: i64,
    max_sheep_send: i64,
    max_sheep_receive: i64,
    round: Rounding,
) -> Exchange {
    let before = exchange_v10_without_price_error_thresholds(
        price,
        max_wheat_send,
        max_wheat_receive,
        max_sheep_send,
        max_sheep_receive,
        round,
    );
    apply_price_error_thresholds(price, before.wheat_received, before.sheep_send, before.wheat_stays, round)
}

/// The amount an offer selling wheat at `price` can really be crossed for, given what its owner
/// can send and receive: the wheat an unlimited taker would get (stellar-core's `adjustOffer`).
/// Idempotent: adjusting an adjusted amount changes nothing.
pub fn adjust_offer(price: Price, max_wheat_send: i64, max_sheep_receive: i64) -> i64 {
    exchange_v10(price, max_wheat_send, i64::MAX, i64::MAX, max_sheep_receive, Rounding::Normal).wheat_received
}

/// The `(selling, buying)` liabilities of an offer of `amount` at `price` (buying per selling):
/// what an unlimited taker would take and pay, before the price-error thresholds (stellar-core's
/// `getOfferSellingLiabilities` / `getOfferBuyingLiabilities`).
pub fn offer_liabilities(amount: i64, price: Price) -> (i64, i64) {
    let ex = exchange_v10_without_price_error_thresholds(price, amount, i64::MAX, i64::MAX, i64::MAX, Rounding::Normal);
    (ex.wheat_received, ex.sheep_send)
}

/// The `(selling, buying)` liabilities ManageBuyOffer checks before crossing: `price` is the
/// offer's price (buying per selling, the inverse of the operation's) and `buy_amount` what the
/// operation wants to buy (stellar-core's `ManageBuyOfferOpFrame::getOffer*Liabilities`).
pub fn buy_offer_liabilities(buy_amount: i64, price: Price) -> (i64, i64) {
    let ex =
        exchange_v10_without_price_error_thresholds(price, i64::MAX, i64::MAX, i64::MAX, buy_amount, Rounding::Normal);
    (ex.wheat_received, ex.sheep_send)
}
