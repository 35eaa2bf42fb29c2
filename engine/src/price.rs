//! Stellar prices: [`Price`] is the exact rational `n/d` Stellar stores (`i32` each, both > 0),
//! parsing from `N/D` and from decimals (converted exactly like the official SDKs), comparison
//! by value, and notional arithmetic with an explicit rounding direction.
//!
//! Decimal → `n/d` is the SDKs' loop over continued-fraction convergents (Go `price.Parse`,
//! Python `Price.from_raw_price`, JS `best_r`): the last convergent whose `n` and `d` both fit
//! in `i32`, stopping early if the remaining value exceeds `i32::MAX`. For a decimal `p/10^k`
//! that is Euclid's algorithm on `(p, 10^k)`, done here exactly in `i128`; decimals with more
//! than [`PRICE_DECIMALS_MAX`] places are rejected so that the arithmetic stays exact.

use core::cmp::Ordering;
use core::fmt;
use core::fmt::Write as _;
use core::hash::{Hash, Hasher};
use core::str::FromStr;

use crate::amount::Amount;
use crate::decimal::{self, FmtBuf, Sign};
use crate::error::{AmountOverflow, ParseError, ParseErrorKind, Subject};

/// Largest numerator or denominator (Stellar's `int32`).
pub const PRICE_COMPONENT_MAX: i32 = i32::MAX;
/// Most fractional digits accepted in a decimal price: keeps `p` and `i32::MAX * 10^k` within
/// `i128` (`2^31 * 10^28 < 2^127`).
pub const PRICE_DECIMALS_MAX: u32 = 28;
/// Upper bound on continued-fraction steps: denominators of convergents grow at least like
/// Fibonacci numbers, and F(47) > `i32::MAX`, so the loop always ends well before this.
const PRICE_CONVERGENTS_MAX: u32 = 64;
/// Longest text `Display` writes: `2147483647/2147483647`.
const PRICE_TEXT_BYTES_MAX: usize = 21;

const _: () = {
    let bound = match decimal::pow10(PRICE_DECIMALS_MAX) {
        Some(scale) => scale.checked_mul(1 << 31),
        None => None,
    };
    assert!(matches!(bound, Some(b) if b < i128::MAX as u128));
};

/// A price `n/d` with `1 <= n, d <= PRICE_COMPONENT_MAX`, kept as written (not reduced), so
/// that the `n` and `d` that go to and come from the ledger are preserved exactly.
///
/// **Equality, ordering and hashing are by value**: `1/2 == 2/4`, consistent with each other
/// (`Ord` cross-multiplies in `i128`; `Hash` hashes the reduced form). Use [`Price::n`] and
/// [`Price::d`] to compare representations. `Display` writes `n/d` as stored.
///
/// On Stellar, a ManageSellOffer price is units of the buying asset per unit of the selling
/// asset; a ManageBuyOffer price is the inverse (selling per buying): see [`Price::inverse`].
#[derive(Clone, Copy)]
pub struct Price {
    n: i32,
    d: i32,
}

impl Price {
    pub const ONE: Price = Price { n: 1, d: 1 };

    /// `n/d`, e.g. from XDR or Horizon's `price_r`; both must be positive.
    #[inline]
    pub fn new(n: i32, d: i32) -> Result<Price, ParseError> {
        if n > 0 && d > 0 {
            return Ok(Price { n, d });
        }
        Price::invalid(n, d)
    }

    #[cold]
    fn invalid(n: i32, d: i32) -> Result<Price, ParseError> {
        debug_assert!(n <= 0 || d <= 0);
        let kind = if n <= 0 { ParseErrorKind::PriceZero } else { ParseErrorKind::PriceDenominatorZero };
        // Negative components get the same errors as zero ones: neither is a price.
        Err(ParseError::new(Subject::Price, kind, &format!("{n}/{d}")))
    }

    pub const fn n(self) -> i32 {
        debug_assert!(self.n > 0 && self.d > 0);
        self.n
    }

    pub const fn d(self) -> i32 {
        debug_assert!(self.n > 0 && self.d > 0);
        self.d
    }

    /// Parses a decimal (`0.1234`, `100`, at most [`PRICE_DECIMALS_MAX`] places) into the
    /// `n/d` the Stellar SDKs produce for it. Errors: zero, above `i32::MAX`, or so small that
    /// the best approximation is `0/d`.
    pub fn from_decimal_str(input: &str) -> Result<Price, ParseError> {
        parse_decimal(input).map_err(|kind| ParseError::new(Subject::Price, kind, input))
    }

    /// Parses `N/D` (two positive integers up to `i32::MAX`, kept as written).
    pub fn from_ratio_str(input: &str) -> Result<Price, ParseError> {
        parse_ratio(input).map_err(|kind| ParseError::new(Subject::Price, kind, input))
    }

    /// `d/n`: the same exchange rate seen from the other asset.
    pub const fn inverse(self) -> Price {
        Price { n: self.d, d: self.n }
    }

    /// The same value in lowest terms.
    pub fn reduced(self) -> Price {
        let g = gcd(self.n.unsigned_abs(), self.d.unsigned_abs());
        debug_assert!(g >= 1);
        let reduce = |x: i32| i32::try_from(x.unsigned_abs() / g.max(1)).unwrap_or(x);
        Price { n: reduce(self.n), d: reduce(self.d) }
    }

    /// The closest Stellar price to `p/q` (both positive), by the same continued fraction the
    /// SDKs use. Large operands are scaled down first (keeping ~2⁶⁴ of precision, far finer than
    /// any `i32/i32` price can express). For prices computed by the engine (mids, quotes).
    pub fn approximate(mut p: u128, mut q: u128) -> Result<Price, ParseError> {
        const OPERAND_MAX: u128 = 1 << 90;
        while p > OPERAND_MAX || q > OPERAND_MAX {
            p >>= 1;
            q >>= 1;
        }
        let err = |kind| ParseError::new(crate::error::Subject::Price, kind, "(computed)");
        if p == 0 || q == 0 {
            return Err(err(ParseErrorKind::PriceTooSmall));
        }
        best_approximation(p as i128, q as i128).map_err(err)
    }

    /// Compares by value: `n1 * d2` vs `n2 * d1` (exact).
    #[inline]
    pub fn cmp_value(self, other: Price) -> Ordering {
        // Both terms are below 2^31, so each product is below 2^62: exact in i64.
        let lhs = i64::from(self.n) * i64::from(other.d);
        let rhs = i64::from(other.n) * i64::from(self.d);
        lhs.cmp(&rhs)
    }

    /// `amount * n / d` rounded down, in stroops of the other asset: what `amount` of the
    /// asset this price is quoted per is worth. Round down what you receive or may spend
    /// at most; see [`Price::notional_ceil`] for what you must pay or hold at least.
    /// An error if the result exceeds [`Amount::MAX`].
    pub fn notional_floor(self, amount: Amount) -> Result<Amount, AmountOverflow> {
        let (floor, _) = self.notional_div(amount);
        to_amount(floor)
    }

    /// `amount * n / d` rounded up; see [`Price::notional_floor`].
    pub fn notional_ceil(self, amount: Amount) -> Result<Amount, AmountOverflow> {
        let (floor, exact) = self.notional_div(amount);
        to_amount(if exact { floor } else { floor + 1 })
    }

    /// `(floor(amount * n / d), whether the division is exact)`. The product is at most
    /// `2^63 * 2^31`, far inside `i128`; while it fits in 64 bits (any amount below ~4.3e9 units
    /// at any price) one 64-bit division gives quotient and remainder, instead of two 128-bit
    /// library calls.
    fn notional_div(self, amount: Amount) -> (i128, bool) {
        debug_assert!(self.n > 0 && self.d > 0 && amount.stroops() >= 0);
        let (a, n, d) =
            (amount.stroops().unsigned_abs(), u64::from(self.n.unsigned_abs()), u64::from(self.d.unsigned_abs()));
        match a.checked_mul(n) {
            Some(p) if d != 0 => (i128::from(p / d), p % d == 0),
            _ => {
                let (p, d) = (i128::from(amount.stroops()) * i128::from(self.n), i128::from(self.d));
                (p / d, p % d == 0)
            }
        }
    }
}

fn to_amount(stroops: i128) -> Result<Amount, AmountOverflow> {
    i64::try_from(stroops).map_err(|_| AmountOverflow).and_then(Amount::from_stroops)
}

const fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl PartialEq for Price {
    fn eq(&self, other: &Price) -> bool {
        self.cmp_value(*other) == Ordering::Equal
    }
}

impl Eq for Price {}

impl PartialOrd for Price {
    fn partial_cmp(&self, other: &Price) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Price {
    fn cmp(&self, other: &Price) -> Ordering {
        self.cmp_value(*other)
    }
}

impl Hash for Price {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let reduced = self.reduced();
        reduced.n.hash(state);
        reduced.d.hash(state);
    }
}

impl fmt::Display for Price {
    /// `n/d` as stored, e.g. `617/5000`. Honours width and alignment flags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = FmtBuf::<PRICE_TEXT_BYTES_MAX>::new();
        write!(buf, "{}/{}", self.n, self.d)?;
        f.pad(buf.as_str())
    }
}

impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Price({self})")
    }
}

impl FromStr for Price {
    type Err = ParseError;

    /// `N/D` if the input contains a `/`, a decimal otherwise (the CLI's `--price DEC|N/D`).
    fn from_str(input: &str) -> Result<Price, ParseError> {
        if input.contains('/') { Price::from_ratio_str(input) } else { Price::from_decimal_str(input) }
    }
}

fn parse_ratio(input: &str) -> Result<Price, ParseErrorKind> {
    decimal::check_nonempty_no_whitespace(input)?;
    let Some((n_text, d_text)) = input.split_once('/') else {
        return Err(ParseErrorKind::PriceFormat);
    };
    if n_text.is_empty() || d_text.is_empty() || d_text.contains('/') {
        return Err(ParseErrorKind::PriceFormat);
    }
    let d_at = n_text.len().saturating_add(1);
    let n = component_value(decimal::lex_integer_at(n_text, 0)?)?;
    let d = component_value(decimal::lex_integer_at(d_text, d_at)?)?;
    if n == 0 {
        return Err(ParseErrorKind::PriceZero);
    }
    if d == 0 {
        return Err(ParseErrorKind::PriceDenominatorZero);
    }
    Ok(Price { n, d })
}

fn component_value(digits: &str) -> Result<i32, ParseErrorKind> {
    decimal::digits_value(digits)
        .and_then(|value| i32::try_from(value).ok())
        .ok_or(ParseErrorKind::PriceComponentTooLarge)
}

fn parse_decimal(input: &str) -> Result<Price, ParseErrorKind> {
    let lexed = decimal::lex_decimal(input, Sign::Forbidden)?;
    let frac_digits = u32::try_from(lexed.frac.len()).unwrap_or(u32::MAX);
    if frac_digits > PRICE_DECIMALS_MAX {
        return Err(ParseErrorKind::TooManyDecimals { max: PRICE_DECIMALS_MAX });
    }
    let int = decimal::digits_value(lexed.int)
        .and_then(|int| i128::try_from(int).ok())
        .filter(|&int| int <= i128::from(PRICE_COMPONENT_MAX))
        .ok_or(ParseErrorKind::PriceTooLarge)?;
    // At most 28 digits: fits.
    let frac = decimal::digits_value(lexed.frac).and_then(|frac| i128::try_from(frac).ok());
    let scale = decimal::pow10(frac_digits).and_then(|scale| i128::try_from(scale).ok());
    // int <= 2^31 and scale <= 10^28 (see the const assertion above): no overflow.
    let (Some(frac), Some(scale)) = (frac, scale) else {
        return Err(ParseErrorKind::TooManyDecimals { max: PRICE_DECIMALS_MAX });
    };
    let numerator = int * scale + frac;
    if numerator == 0 {
        return Err(ParseErrorKind::PriceZero);
    }
    best_approximation(numerator, scale)
}

/// The SDKs' continued-fraction approximation of `p/q` (`p, q > 0`), exact.
fn best_approximation(mut p: i128, mut q: i128) -> Result<Price, ParseErrorKind> {
    debug_assert!(p > 0 && q > 0);
    let max = i128::from(PRICE_COMPONENT_MAX);
    // The two latest convergents h/k, starting with the conventional 0/1 and 1/0.
    let (mut h_prev, mut k_prev, mut h, mut k): (i128, i128, i128, i128) = (0, 1, 1, 0);
    let mut finished = false;
    for _ in 0..PRICE_CONVERGENTS_MAX {
        // The remaining value x = p/q; the SDKs stop once it exceeds i32::MAX.
        // q <= 10^28 (decimal input) or 2^90 (approximate), so max * q < 2^127.
        if p > max * q {
            finished = true;
            break;
        }
        // Once both operands fit in 64 bits (at once for the engine's quotes) the division is
        // one machine instruction instead of a 128-bit library call.
        let (a, r) = if (p | q) >> 64 == 0 {
            let (p64, q64) = (p as u64, q as u64);
            (i128::from(p64 / q64), i128::from(p64 % q64))
        } else {
            (p / q, p % q)
        };
        // a <= max here, and h, k <= max: the products stay below 2^62.
        let (h_next, k_next) = (a * h + h_prev, a * k + k_prev);
        if h_next > max || k_next > max {
            finished = true;
            break;
        }
        (h_prev, k_prev, h, k) = (h, k, h_next, k_next);
        if r == 0 {
            finished = true;
            break;
        }
        (p, q) = (q, r);
    }
    debug_assert!(finished, "continued fraction did not converge");
    if k == 0 {
        return Err(ParseErrorKind::PriceTooLarge);
    }
    if h == 0 {
        return Err(ParseErrorKind::PriceTooSmall);
    }
    match (i32::try_from(h), i32::try_from(k)) {
        (Ok(n), Ok(d)) => Ok(Price { n, d }),
        // Unreachable: both were checked against max.
        _ => Err(ParseErrorKind::PriceTooLarge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind as K;

    proptest::proptest! {
        /// The notional is the exact `amount·n/d` (floor and ceiling), overflow included.
        #[test]
        fn notionals_are_exact(a in 0i64..=i64::MAX, n in 1i32..=i32::MAX, d in 1i32..=i32::MAX, small in proptest::bool::ANY) {
            let a = if small { a % 1_000_000_000_000 } else { a };
            let price = Price::new(n, d).unwrap();
            let amount = Amount::from_stroops(a).unwrap();
            let exact = i128::from(a) * i128::from(n);
            let (floor, rem) = (exact / i128::from(d), exact % i128::from(d));
            let want = |q: i128| i64::try_from(q).ok().and_then(|q| Amount::from_stroops(q).ok());
            proptest::prop_assert_eq!(price.notional_floor(amount).ok(), want(floor));
            proptest::prop_assert_eq!(price.notional_ceil(amount).ok(), want(floor + i128::from(rem != 0)));
        }

        /// A continued fraction depends only on the value p/q: the same ratio with operands
        /// scaled past 64 bits (the 128-bit division path) gives the same price as the 64-bit
        /// path does.
        #[test]
        fn the_64_bit_division_path_agrees_with_the_128_bit_one(p in 1u64..1 << 60, q in 1u64..1 << 60, k in 5u32..30) {
            let narrow = best_approximation(i128::from(p), i128::from(q));
            let wide = best_approximation(i128::from(p) << k, i128::from(q) << k);
            proptest::prop_assert_eq!(narrow, wide);
        }
    }

    fn nd(s: &str) -> (i32, i32) {
        let p: Price = s.parse().unwrap();
        (p.n(), p.d())
    }

    fn kind(s: &str) -> K {
        s.parse::<Price>().unwrap_err().kind()
    }

    fn price(n: i32, d: i32) -> Price {
        Price::new(n, d).unwrap()
    }

    #[test]
    fn decimal_vectors() {
        assert_eq!(nd("0.1234"), (617, 5000));
        assert_eq!(nd("3.14159265358979"), (1_434_877_259, 456_735_617));
        assert_eq!(kind("2147483648"), K::PriceTooLarge);
        assert_eq!(nd("1"), (1, 1));
        assert_eq!(nd("0.5"), (1, 2));
        assert_eq!(nd("2147483647"), (i32::MAX, 1));
        assert_eq!(nd("100.0000000"), (100, 1));
        assert_eq!(nd("0.0000001"), (1, 10_000_000));
        assert_eq!(nd("0.333333333333333333"), (1, 3));
        // Just above 1/i32::MAX: the best approximation is 1/i32::MAX.
        assert_eq!(nd("0.00000000046566128752457970"), (1, i32::MAX));
        // Between 1/(i32::MAX + 1) and 1/i32::MAX: the SDKs stop because 1/x > i32::MAX.
        assert_eq!(kind("0.0000000004656612874"), K::PriceTooSmall);
        assert_eq!(kind("0.0000000001"), K::PriceTooSmall);
        // Above i32::MAX by a fraction: no n/d.
        assert_eq!(kind("2147483647.5"), K::PriceTooLarge);
        assert_eq!(kind("2147483647.1"), K::PriceTooLarge);
        assert_eq!(nd("2147483646.9999999"), (i32::MAX, 1));
        assert_eq!(nd(&format!("0.{}1", "0".repeat(8))), (1, 1_000_000_000));
    }

    #[test]
    fn decimal_errors() {
        assert_eq!(kind("0"), K::PriceZero);
        assert_eq!(kind("0.0000"), K::PriceZero);
        assert_eq!(kind(&"9".repeat(60)), K::PriceTooLarge);
        assert_eq!(kind(&format!("1.{}", "0".repeat(29))), K::TooManyDecimals { max: 28 });
        assert_eq!(nd(&format!("1.{}", "0".repeat(28))), (1, 1));
        assert_eq!(kind(""), K::Empty);
        assert_eq!(kind("-1"), K::SignNotAllowed);
        assert_eq!(kind("+1"), K::SignNotAllowed);
        assert_eq!(kind("1e3"), K::Exponent);
        assert_eq!(kind(" 1"), K::Whitespace);
        assert_eq!(kind(".5"), K::LeadingDot);
        assert_eq!(kind("5."), K::TrailingDot);
        assert_eq!(kind("05"), K::LeadingZero);
        assert_eq!(kind("٣"), K::NonAsciiDigit { ch: '٣' });
        assert_eq!(kind("1,5"), K::UnexpectedChar { ch: ',', at: 1 });
    }

    #[test]
    fn ratio_parse() {
        assert_eq!(nd("617/5000"), (617, 5000));
        assert_eq!(nd("2/4"), (2, 4));
        assert_eq!(nd("2147483647/2147483647"), (i32::MAX, i32::MAX));
        assert_eq!(kind("0/1"), K::PriceZero);
        assert_eq!(kind("1/0"), K::PriceDenominatorZero);
        assert_eq!(kind("2147483648/1"), K::PriceComponentTooLarge);
        assert_eq!(kind("1/99999999999999999999999999999999999999999"), K::PriceComponentTooLarge);
        assert_eq!(kind("/1"), K::PriceFormat);
        assert_eq!(kind("1/"), K::PriceFormat);
        assert_eq!(kind("/"), K::PriceFormat);
        assert_eq!(kind("1/2/3"), K::PriceFormat);
        assert_eq!(kind("-1/2"), K::SignNotAllowed);
        assert_eq!(kind("1/-2"), K::SignNotAllowed);
        assert_eq!(kind("1.5/2"), K::UnexpectedChar { ch: '.', at: 1 });
        assert_eq!(kind("1/2x"), K::UnexpectedChar { ch: 'x', at: 3 });
        assert_eq!(kind("01/2"), K::LeadingZero);
        assert_eq!(kind("1 /2"), K::Whitespace);
        assert_eq!(Price::from_ratio_str("0.5").unwrap_err().kind(), K::PriceFormat);
        assert_eq!(Price::from_decimal_str("1/2").unwrap_err().kind(), K::UnexpectedChar { ch: '/', at: 1 });
    }

    #[test]
    fn new_checks_signs() {
        assert_eq!(Price::new(0, 1).unwrap_err().kind(), K::PriceZero);
        assert_eq!(Price::new(-1, 1).unwrap_err().kind(), K::PriceZero);
        assert_eq!(Price::new(1, 0).unwrap_err().kind(), K::PriceDenominatorZero);
        assert_eq!(Price::new(1, i32::MIN).unwrap_err().kind(), K::PriceDenominatorZero);
        assert_eq!(Price::new(1, 0).unwrap_err().to_string(), "price \"1/0\": has a zero denominator");
    }

    #[test]
    fn display() {
        assert_eq!(price(617, 5000).to_string(), "617/5000");
        assert_eq!(price(2, 4).to_string(), "2/4");
        assert_eq!(format!("{:>6}", price(1, 2)), "   1/2");
        assert_eq!(format!("{:?}", price(1, 2)), "Price(1/2)");
        assert_eq!(
            "1.12345678901234567890123456789".parse::<Price>().unwrap_err().to_string(),
            "price \"1.12345678901234567890123456789\": more than 28 decimal places"
        );
    }

    #[test]
    fn value_semantics() {
        assert_eq!(price(1, 2), price(2, 4));
        assert_eq!(price(1, 2).cmp(&price(2, 4)), Ordering::Equal);
        assert!(price(1, 3) < price(1, 2));
        assert!(price(i32::MAX, 1) > price(i32::MAX - 1, 1));
        assert!(price(1, i32::MAX) < price(1, i32::MAX - 1));
        assert_eq!(price(i32::MAX, i32::MAX), Price::ONE);
        assert_eq!(price(6, 4).reduced().n(), 3);
        assert_eq!(price(6, 4).reduced().d(), 2);
        assert_eq!(price(3, 7).inverse(), price(7, 3));
        let hash = |p: Price| {
            let mut hasher = std::hash::DefaultHasher::new();
            p.hash(&mut hasher);
            hasher.finish()
        };
        assert_eq!(hash(price(1, 2)), hash(price(2, 4)));
        assert_eq!(hash(price(i32::MAX, i32::MAX)), hash(Price::ONE));
    }

    #[test]
    fn notional() {
        let amount = |s: &str| s.parse::<Amount>().unwrap();
        let p = price(1, 3);
        assert_eq!(p.notional_floor(amount("1")), Ok(amount("0.3333333")));
        assert_eq!(p.notional_ceil(amount("1")), Ok(amount("0.3333334")));
        assert_eq!(price(1, 2).notional_floor(amount("1")), Ok(amount("0.5")));
        assert_eq!(price(1, 2).notional_ceil(amount("1")), Ok(amount("0.5")));
        assert_eq!(p.notional_floor(Amount::ZERO), Ok(Amount::ZERO));
        assert_eq!(p.notional_ceil(Amount::ZERO), Ok(Amount::ZERO));
        assert_eq!(p.notional_ceil(Amount::STROOP), Ok(Amount::STROOP));
        assert_eq!(p.notional_floor(Amount::STROOP), Ok(Amount::ZERO));
        assert_eq!(Price::ONE.notional_floor(Amount::MAX), Ok(Amount::MAX));
        assert_eq!(price(2, 1).notional_floor(Amount::MAX), Err(AmountOverflow));
        assert_eq!(price(i32::MAX, 1).notional_ceil(Amount::MAX), Err(AmountOverflow));
        assert_eq!(price(i32::MAX, i32::MAX - 1).notional_floor(Amount::MAX), Err(AmountOverflow));
        assert_eq!(price(1, i32::MAX).notional_floor(Amount::MAX), Ok(Amount::from_stroops(4_294_967_298).unwrap()));
    }
}
