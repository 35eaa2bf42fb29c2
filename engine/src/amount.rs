//! Quantities of an asset in stroops: [`Amount`] (never negative, what Stellar puts on the
//! ledger and in operations) and [`SignedAmount`] (PnL, inventory and balance deltas).
//!
//! Text is exact decimal with at most 7 fractional digits (see `crate::decimal` for the
//! grammar). `Display` always writes 7 decimals, as Horizon does: `100.0000000`.
//! Arithmetic is checked only: there are no `Add`/`Sub` operator impls, so nothing can wrap
//! silently; every operation returns `Result<_, AmountOverflow>`.

use core::fmt;
use core::fmt::Write as _;
use core::str::FromStr;

use crate::decimal::{self, FmtBuf, Sign};
use crate::error::{AmountOverflow, ParseError, ParseErrorKind, Subject};

/// Fractional digits of an amount: 1 unit = 10^7 stroops.
pub const AMOUNT_DECIMALS: u32 = 7;
/// Stroops in one unit of an asset (one XLM, one USDC, ...).
pub const STROOPS_PER_UNIT: i64 = 10_000_000;
/// Largest amount, in stroops (Stellar's `int64`).
pub const AMOUNT_STROOPS_MAX: i64 = i64::MAX;
/// Smallest signed amount, in stroops.
pub const SIGNED_AMOUNT_STROOPS_MIN: i64 = i64::MIN;
/// Longest text `Display` writes: `-922337203685.4775808`.
const AMOUNT_TEXT_BYTES_MAX: usize = 21;

const AMOUNT_MAX_TEXT: &str = "922337203685.4775807";
const SIGNED_AMOUNT_MIN_TEXT: &str = "-922337203685.4775808";

const _: () = {
    assert!(10i64.pow(AMOUNT_DECIMALS) == STROOPS_PER_UNIT);
    assert!(AMOUNT_MAX_TEXT.len() == AMOUNT_TEXT_BYTES_MAX - 1);
    assert!(SIGNED_AMOUNT_MIN_TEXT.len() == AMOUNT_TEXT_BYTES_MAX);
};

/// A non-negative quantity of some asset, in stroops (`0..=AMOUNT_STROOPS_MAX`).
///
/// `Eq`/`Ord` compare stroops. The asset is not part of the type: the caller keeps track.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    /// One stroop, the smallest positive amount.
    pub const STROOP: Amount = Amount(1);
    pub const MAX: Amount = Amount(AMOUNT_STROOPS_MAX);

    /// The amount of `stroops`, or an error if negative.
    pub const fn from_stroops(stroops: i64) -> Result<Amount, AmountOverflow> {
        if stroops < 0 { Err(AmountOverflow) } else { Ok(Amount(stroops)) }
    }

    /// `units` whole units (e.g. `from_units(100)` is `100.0000000`).
    pub const fn from_units(units: i64) -> Result<Amount, AmountOverflow> {
        match units.checked_mul(STROOPS_PER_UNIT) {
            Some(stroops) => Amount::from_stroops(stroops),
            None => Err(AmountOverflow),
        }
    }

    pub const fn stroops(self) -> i64 {
        debug_assert!(self.0 >= 0);
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn checked_add(self, rhs: Amount) -> Result<Amount, AmountOverflow> {
        match self.0.checked_add(rhs.0) {
            Some(stroops) => Ok(Amount(stroops)),
            None => Err(AmountOverflow),
        }
    }

    /// `self - rhs`; an error if `rhs > self` (amounts are never negative).
    pub const fn checked_sub(self, rhs: Amount) -> Result<Amount, AmountOverflow> {
        // Both are non-negative, so the difference cannot overflow an i64.
        Amount::from_stroops(self.0.wrapping_sub(rhs.0))
    }

    /// `self + delta`; an error if the result is negative or above the maximum.
    pub const fn checked_add_signed(self, delta: SignedAmount) -> Result<Amount, AmountOverflow> {
        match self.0.checked_add(delta.0) {
            Some(stroops) => Amount::from_stroops(stroops),
            None => Err(AmountOverflow),
        }
    }

    /// `self - rhs` as a signed amount; exact, never overflows.
    pub const fn signed_diff(self, rhs: Amount) -> SignedAmount {
        debug_assert!(self.0 >= 0 && rhs.0 >= 0);
        SignedAmount(self.0.wrapping_sub(rhs.0))
    }

    pub const fn to_signed(self) -> SignedAmount {
        SignedAmount(self.0)
    }
}

impl fmt::Display for Amount {
    /// Always 7 decimals, like Horizon: `100.0000000`. Honours width and alignment flags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_stroops(self.0, f)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

impl FromStr for Amount {
    type Err = ParseError;

    /// Exact decimal, at most 7 decimal places, no sign: `100`, `0.0000001`,
    /// `922337203685.4775807`. See the module docs of `decimal` for what is rejected.
    fn from_str(input: &str) -> Result<Amount, ParseError> {
        let stroops =
            parse_stroops(input, Sign::Forbidden).map_err(|kind| ParseError::new(Subject::Amount, kind, input))?;
        debug_assert!(stroops >= 0);
        Ok(Amount(stroops))
    }
}

/// A signed quantity of some asset in stroops: any `i64`. For PnL, inventory and balance
/// deltas; convert to an [`Amount`] with [`SignedAmount::to_amount`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SignedAmount(i64);

impl SignedAmount {
    pub const ZERO: SignedAmount = SignedAmount(0);
    pub const MIN: SignedAmount = SignedAmount(SIGNED_AMOUNT_STROOPS_MIN);
    pub const MAX: SignedAmount = SignedAmount(AMOUNT_STROOPS_MAX);

    pub const fn from_stroops(stroops: i64) -> SignedAmount {
        SignedAmount(stroops)
    }

    pub const fn stroops(self) -> i64 {
        self.0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn checked_add(self, rhs: SignedAmount) -> Result<SignedAmount, AmountOverflow> {
        match self.0.checked_add(rhs.0) {
            Some(stroops) => Ok(SignedAmount(stroops)),
            None => Err(AmountOverflow),
        }
    }

    pub const fn checked_sub(self, rhs: SignedAmount) -> Result<SignedAmount, AmountOverflow> {
        match self.0.checked_sub(rhs.0) {
            Some(stroops) => Ok(SignedAmount(stroops)),
            None => Err(AmountOverflow),
        }
    }

    /// `-self`; an error only for [`SignedAmount::MIN`].
    pub const fn checked_neg(self) -> Result<SignedAmount, AmountOverflow> {
        match self.0.checked_neg() {
            Some(stroops) => Ok(SignedAmount(stroops)),
            None => Err(AmountOverflow),
        }
    }

    /// `|self|`; an error only for [`SignedAmount::MIN`].
    pub const fn checked_abs(self) -> Result<Amount, AmountOverflow> {
        match self.0.checked_abs() {
            Some(stroops) => Ok(Amount(stroops)),
            None => Err(AmountOverflow),
        }
    }

    /// The amount, or an error if negative.
    pub const fn to_amount(self) -> Result<Amount, AmountOverflow> {
        Amount::from_stroops(self.0)
    }
}

impl From<Amount> for SignedAmount {
    fn from(amount: Amount) -> SignedAmount {
        amount.to_signed()
    }
}

impl TryFrom<SignedAmount> for Amount {
    type Error = AmountOverflow;

    fn try_from(amount: SignedAmount) -> Result<Amount, AmountOverflow> {
        amount.to_amount()
    }
}

impl fmt::Display for SignedAmount {
    /// Always 7 decimals, `-` for negative values only: `-1.5000000`, `0.0000000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_stroops(self.0, f)
    }
}

impl fmt::Debug for SignedAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedAmount({self})")
    }
}

impl FromStr for SignedAmount {
    type Err = ParseError;

    /// Like [`Amount`]'s grammar with an optional leading `-` (never `+`);
    /// `-922337203685.4775808` is the minimum. `-0` parses as zero.
    fn from_str(input: &str) -> Result<SignedAmount, ParseError> {
        parse_stroops(input, Sign::Allowed)
            .map(SignedAmount)
            .map_err(|kind| ParseError::new(Subject::SignedAmount, kind, input))
    }
}

/// Parses exact decimal text into stroops.
fn parse_stroops(input: &str, sign: Sign) -> Result<i64, ParseErrorKind> {
    let lexed = decimal::lex_decimal(input, sign)?;
    let frac_digits = u32::try_from(lexed.frac.len()).unwrap_or(u32::MAX);
    if frac_digits > AMOUNT_DECIMALS {
        return Err(ParseErrorKind::TooManyDecimals { max: AMOUNT_DECIMALS });
    }
    let out_of_range = if lexed.negative {
        ParseErrorKind::TooSmall { min: SIGNED_AMOUNT_MIN_TEXT }
    } else {
        ParseErrorKind::TooLarge { max: AMOUNT_MAX_TEXT }
    };
    let int = decimal::digits_value(lexed.int).ok_or(out_of_range)?;
    let frac = decimal::digits_value(lexed.frac).ok_or(out_of_range)?;
    // frac_digits <= AMOUNT_DECIMALS, so the scale is at most 10^7.
    let frac_scale = decimal::pow10(AMOUNT_DECIMALS.saturating_sub(frac_digits)).unwrap_or(1);
    let magnitude = int
        .checked_mul(STROOPS_PER_UNIT.unsigned_abs().into())
        .and_then(|stroops| stroops.checked_add(frac.checked_mul(frac_scale)?))
        .ok_or(out_of_range)?;
    let magnitude = i128::try_from(magnitude).map_err(|_| out_of_range)?;
    let value = if lexed.negative { magnitude.checked_neg().ok_or(out_of_range)? } else { magnitude };
    i64::try_from(value).map_err(|_| out_of_range)
}

/// Writes `stroops` with exactly 7 decimals and pads it as the formatter asks.
fn fmt_stroops(stroops: i64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let magnitude = stroops.unsigned_abs();
    let per_unit = STROOPS_PER_UNIT.unsigned_abs();
    let (units, fraction) = (magnitude / per_unit, magnitude % per_unit);
    let sign = if stroops < 0 { "-" } else { "" };
    let mut buf = FmtBuf::<AMOUNT_TEXT_BYTES_MAX>::new();
    write!(buf, "{sign}{units}.{fraction:07}")?;
    f.pad(buf.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind as K;

    fn amount(s: &str) -> Amount {
        s.parse().unwrap()
    }

    fn kind(s: &str) -> K {
        s.parse::<Amount>().unwrap_err().kind()
    }

    fn signed_kind(s: &str) -> K {
        s.parse::<SignedAmount>().unwrap_err().kind()
    }

    #[test]
    fn parse_valid() {
        assert_eq!(amount("100").stroops(), 1_000_000_000);
        assert_eq!(amount("100.0000000").stroops(), 1_000_000_000);
        assert_eq!(amount("0.0000001"), Amount::STROOP);
        assert_eq!(amount("0"), Amount::ZERO);
        assert_eq!(amount("0.0"), Amount::ZERO);
        assert_eq!(amount("1.5").stroops(), 15_000_000);
        assert_eq!(amount("922337203685.4775807"), Amount::MAX);
        assert_eq!(amount("922337203685").stroops(), 9_223_372_036_850_000_000);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(kind("1.12345678"), K::TooManyDecimals { max: 7 });
        assert_eq!(kind("1.00000000"), K::TooManyDecimals { max: 7 });
        assert_eq!(kind("922337203685.4775808"), K::TooLarge { max: AMOUNT_MAX_TEXT });
        assert_eq!(kind("922337203686"), K::TooLarge { max: AMOUNT_MAX_TEXT });
        assert_eq!(kind(&"9".repeat(50)), K::TooLarge { max: AMOUNT_MAX_TEXT });
        assert_eq!(kind(""), K::Empty);
        assert_eq!(kind("-1"), K::SignNotAllowed);
        assert_eq!(kind("+1"), K::SignNotAllowed);
        assert_eq!(kind("-0"), K::SignNotAllowed);
        assert_eq!(kind("1e7"), K::Exponent);
        assert_eq!(kind(" 1"), K::Whitespace);
        assert_eq!(kind("1 "), K::Whitespace);
        assert_eq!(kind("1\n"), K::Whitespace);
        assert_eq!(kind("١"), K::NonAsciiDigit { ch: '١' });
        assert_eq!(kind(".5"), K::LeadingDot);
        assert_eq!(kind("5."), K::TrailingDot);
        assert_eq!(kind("05"), K::LeadingZero);
        assert_eq!(kind("1,000"), K::UnexpectedChar { ch: ',', at: 1 });
        assert_eq!(kind("1.0.0"), K::UnexpectedChar { ch: '.', at: 3 });
    }

    #[test]
    fn error_messages() {
        let e = "1.12345678".parse::<Amount>().unwrap_err();
        assert_eq!(e.to_string(), "amount \"1.12345678\": more than 7 decimal places");
        let e = "922337203685.4775808".parse::<Amount>().unwrap_err();
        assert_eq!(e.to_string(), "amount \"922337203685.4775808\": is greater than the maximum 922337203685.4775807");
        let e = "-922337203685.4775809".parse::<SignedAmount>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "signed amount \"-922337203685.4775809\": \
             is less than the minimum -922337203685.4775808"
        );
    }

    #[test]
    fn signed_parse() {
        let p = |s: &str| s.parse::<SignedAmount>().unwrap().stroops();
        assert_eq!(p("-1.5"), -15_000_000);
        assert_eq!(p("1.5"), 15_000_000);
        assert_eq!(p("-0"), 0);
        assert_eq!(p("-0.0000001"), -1);
        assert_eq!(p("-922337203685.4775808"), i64::MIN);
        assert_eq!(p("922337203685.4775807"), i64::MAX);
        assert_eq!(signed_kind("922337203685.4775808"), K::TooLarge { max: AMOUNT_MAX_TEXT });
        assert_eq!(signed_kind("-922337203685.4775809"), K::TooSmall { min: SIGNED_AMOUNT_MIN_TEXT });
        assert_eq!(signed_kind("+1"), K::PlusSign);
        assert_eq!(signed_kind("-"), K::NoDigits);
        assert_eq!(signed_kind("--1"), K::UnexpectedChar { ch: '-', at: 1 });
        assert_eq!(signed_kind("-1.12345678"), K::TooManyDecimals { max: 7 });
    }

    #[test]
    fn display() {
        assert_eq!(amount("100").to_string(), "100.0000000");
        assert_eq!(Amount::ZERO.to_string(), "0.0000000");
        assert_eq!(Amount::STROOP.to_string(), "0.0000001");
        assert_eq!(Amount::MAX.to_string(), "922337203685.4775807");
        assert_eq!(SignedAmount::MIN.to_string(), "-922337203685.4775808");
        assert_eq!(SignedAmount::from_stroops(-1).to_string(), "-0.0000001");
        assert_eq!(SignedAmount::ZERO.to_string(), "0.0000000");
        assert_eq!(format!("{:>12}|{:<12}|", Amount::STROOP, amount("1")), "   0.0000001|1.0000000   |");
        assert_eq!(format!("{:?}", amount("1.5")), "Amount(1.5000000)");
        assert_eq!(format!("{:?}", SignedAmount::from_stroops(-1)), "SignedAmount(-0.0000001)");
    }

    #[test]
    fn constructors() {
        assert_eq!(Amount::from_stroops(-1), Err(AmountOverflow));
        assert_eq!(Amount::from_stroops(5).map(Amount::stroops), Ok(5));
        assert_eq!(Amount::from_units(100), Ok(amount("100")));
        assert_eq!(Amount::from_units(-1), Err(AmountOverflow));
        assert_eq!(Amount::from_units(922_337_203_685), Ok(amount("922337203685")));
        assert_eq!(Amount::from_units(922_337_203_686), Err(AmountOverflow));
        assert!(Amount::ZERO.is_zero() && !Amount::STROOP.is_zero());
        assert_eq!(Amount::default(), Amount::ZERO);
    }

    #[test]
    fn checked_arithmetic() {
        let one = amount("1");
        assert_eq!(one.checked_add(one), Ok(amount("2")));
        assert_eq!(Amount::MAX.checked_add(Amount::STROOP), Err(AmountOverflow));
        assert_eq!(one.checked_sub(one), Ok(Amount::ZERO));
        assert_eq!(Amount::ZERO.checked_sub(Amount::STROOP), Err(AmountOverflow));
        assert_eq!(Amount::ZERO.checked_sub(Amount::MAX), Err(AmountOverflow));
        assert_eq!(Amount::ZERO.signed_diff(Amount::MAX).stroops(), -i64::MAX);
        assert_eq!(Amount::MAX.signed_diff(Amount::ZERO).stroops(), i64::MAX);
        let minus_one = SignedAmount::from_stroops(-STROOPS_PER_UNIT);
        assert_eq!(one.checked_add_signed(minus_one), Ok(Amount::ZERO));
        assert_eq!(Amount::ZERO.checked_add_signed(minus_one), Err(AmountOverflow));
        assert_eq!(Amount::MAX.checked_add_signed(SignedAmount::from_stroops(1)), Err(AmountOverflow));
        assert_eq!(SignedAmount::MAX.checked_add(SignedAmount::from_stroops(1)), Err(AmountOverflow));
        assert_eq!(SignedAmount::MIN.checked_sub(SignedAmount::from_stroops(1)), Err(AmountOverflow));
        assert_eq!(SignedAmount::MIN.checked_neg(), Err(AmountOverflow));
        assert_eq!(SignedAmount::MIN.checked_abs(), Err(AmountOverflow));
        assert_eq!(minus_one.checked_neg().map(SignedAmount::stroops), Ok(STROOPS_PER_UNIT));
        assert_eq!(minus_one.checked_abs(), Ok(one));
        assert_eq!(minus_one.to_amount(), Err(AmountOverflow));
        assert_eq!(Amount::try_from(one.to_signed()), Ok(one));
        assert_eq!(SignedAmount::from(one), one.to_signed());
        assert!(minus_one.is_negative() && !SignedAmount::ZERO.is_negative());
        assert_eq!(minus_one.checked_sub(minus_one).and_then(|x| x.checked_add(minus_one)), Ok(minus_one));
    }
}
