//! The text grammar shared by amounts, prices and ids: a strict lexer for unsigned or signed
//! decimal numbers and integers, and a stack buffer for padded `Display`.
//!
//! Grammar (ASCII only; nothing is trimmed):
//!
//! ```text
//! decimal = [ "-" ] digits [ "." digits ]     ; "-" only where the caller allows a sign
//! integer = digits
//! digits  = "0" | "1".."9" { "0".."9" }       ; no redundant leading zero
//! ```
//!
//! Rejected, each with its own [`ParseErrorKind`]: empty input, any whitespace, `+`, a sign
//! where none is allowed, exponents (`1e7`), non-ASCII digits, `.5`, `1.`, `01`, and any other
//! character. Leading `.` and trailing `.` are rejected because Horizon never writes them and
//! they are usually typos; write `0.5` and `1` (or `1.0`).

use core::fmt;

use crate::error::ParseErrorKind;

/// Whether a leading `-` is part of the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sign {
    Forbidden,
    Allowed,
}

/// A lexed decimal: `int` and `frac` are non-empty-or-absent runs of ASCII digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decimal<'a> {
    pub(crate) negative: bool,
    /// Integer digits; never empty, no redundant leading zero.
    pub(crate) int: &'a str,
    /// Fraction digits as written (trailing zeros kept); empty when there is no `.`.
    pub(crate) frac: &'a str,
}

/// Checks that `input` is non-empty and has no whitespace; every parser starts with this, so
/// that `" 1"` is reported as whitespace rather than as an unexpected character.
pub(crate) fn check_nonempty_no_whitespace(input: &str) -> Result<(), ParseErrorKind> {
    if input.is_empty() {
        return Err(ParseErrorKind::Empty);
    }
    if input.chars().any(char::is_whitespace) {
        return Err(ParseErrorKind::Whitespace);
    }
    Ok(())
}

/// Lexes `input` as a decimal number.
pub(crate) fn lex_decimal(input: &str, sign: Sign) -> Result<Decimal<'_>, ParseErrorKind> {
    check_nonempty_no_whitespace(input)?;
    let (negative, body, body_at) = split_sign(input, sign)?;
    let (int, frac) = match body.split_once('.') {
        None => (body, None),
        Some((int, frac)) => (int, Some(frac)),
    };
    let int_at = body_at;
    check_digits(int, int_at)?;
    let frac = match frac {
        None => "",
        Some(frac) => {
            // The fraction starts after the integer digits and the dot.
            let frac_at = int_at.saturating_add(int.len()).saturating_add(1);
            check_digits(frac, frac_at)?;
            if int.is_empty() {
                return Err(ParseErrorKind::LeadingDot);
            }
            if frac.is_empty() {
                return Err(ParseErrorKind::TrailingDot);
            }
            frac
        }
    };
    if int.is_empty() {
        return Err(ParseErrorKind::NoDigits);
    }
    check_no_leading_zero(int)?;
    Ok(Decimal { negative, int, frac })
}

/// Lexes `input` as an unsigned integer (no sign, no dot); returns the digits.
pub(crate) fn lex_integer(input: &str) -> Result<&str, ParseErrorKind> {
    lex_integer_at(input, 0)
}

/// [`lex_integer`] for a part of a larger input that starts at byte `at` (for error offsets).
pub(crate) fn lex_integer_at(input: &str, at: usize) -> Result<&str, ParseErrorKind> {
    check_nonempty_no_whitespace(input)?;
    let (_, digits, digits_at) = split_sign(input, Sign::Forbidden)?;
    // A dot is an unexpected character here.
    check_digits(digits, digits_at.saturating_add(at))?;
    check_no_leading_zero(digits)?;
    Ok(digits)
}

/// The value of a run of ASCII digits, or `None` if it does not fit in a `u128`.
pub(crate) fn digits_value(digits: &str) -> Option<u128> {
    debug_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    let mut value: u128 = 0;
    for byte in digits.bytes() {
        let digit = u128::from(byte.wrapping_sub(b'0'));
        value = value.checked_mul(10)?.checked_add(digit)?;
    }
    Some(value)
}

/// `10^exponent`, or `None` if it does not fit in a `u128`.
pub(crate) const fn pow10(exponent: u32) -> Option<u128> {
    10u128.checked_pow(exponent)
}

fn split_sign(input: &str, sign: Sign) -> Result<(bool, &str, usize), ParseErrorKind> {
    let (negative, body) = if let Some(rest) = input.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = input.strip_prefix('+') {
        return Err(match sign {
            Sign::Forbidden => ParseErrorKind::SignNotAllowed,
            Sign::Allowed if rest.is_empty() => ParseErrorKind::NoDigits,
            Sign::Allowed => ParseErrorKind::PlusSign,
        });
    } else {
        (false, input)
    };
    if negative {
        if sign == Sign::Forbidden {
            return Err(ParseErrorKind::SignNotAllowed);
        }
        if body.is_empty() {
            return Err(ParseErrorKind::NoDigits);
        }
    }
    Ok((negative, body, usize::from(negative)))
}

/// Checks that `part` (starting at byte `at` of the input) has only ASCII digits; a `.` is
/// reported as unexpected (callers split at the first one). An `e` or `E` after the first
/// byte of the input is reported as an exponent.
fn check_digits(part: &str, at: usize) -> Result<(), ParseErrorKind> {
    for (offset, ch) in part.char_indices() {
        if ch.is_ascii_digit() {
            continue;
        }
        let at = at.saturating_add(offset);
        return Err(if matches!(ch, 'e' | 'E') && at > 0 {
            ParseErrorKind::Exponent
        } else if ch.is_numeric() {
            ParseErrorKind::NonAsciiDigit { ch }
        } else {
            ParseErrorKind::UnexpectedChar { ch, at }
        });
    }
    Ok(())
}

fn check_no_leading_zero(digits: &str) -> Result<(), ParseErrorKind> {
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(ParseErrorKind::LeadingZero);
    }
    Ok(())
}

/// A fixed-size, stack-allocated `fmt::Write` sink, so that `Display` impls can build their
/// text first and then honour width/alignment flags with `Formatter::pad`.
#[derive(Debug)]
pub(crate) struct FmtBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> FmtBuf<N> {
    pub(crate) const fn new() -> Self {
        FmtBuf { bytes: [0; N], len: 0 }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended, so the prefix is valid UTF-8.
        self.bytes.get(..self.len).and_then(|b| core::str::from_utf8(b).ok()).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for FmtBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind as K;
    use core::fmt::Write as _;

    fn lex(s: &str) -> Result<(bool, &str, &str), K> {
        lex_decimal(s, Sign::Allowed).map(|d| (d.negative, d.int, d.frac))
    }

    #[test]
    fn accepts() {
        assert_eq!(lex("0"), Ok((false, "0", "")));
        assert_eq!(lex("100.0000000"), Ok((false, "100", "0000000")));
        assert_eq!(lex("-0.5"), Ok((true, "0", "5")));
        assert_eq!(lex("10"), Ok((false, "10", "")));
        assert_eq!(lex_integer("1234"), Ok("1234"));
        assert_eq!(lex_integer("0"), Ok("0"));
    }

    #[test]
    fn rejects() {
        assert_eq!(lex(""), Err(K::Empty));
        assert_eq!(lex(" 1"), Err(K::Whitespace));
        assert_eq!(lex("1\u{a0}"), Err(K::Whitespace));
        assert_eq!(lex("+1"), Err(K::PlusSign));
        assert_eq!(lex("+"), Err(K::NoDigits));
        assert_eq!(lex("-"), Err(K::NoDigits));
        assert_eq!(lex("--1"), Err(K::UnexpectedChar { ch: '-', at: 1 }));
        assert_eq!(lex_decimal("-1", Sign::Forbidden), Err(K::SignNotAllowed));
        assert_eq!(lex_decimal("+1", Sign::Forbidden), Err(K::SignNotAllowed));
        assert_eq!(lex("1e7"), Err(K::Exponent));
        assert_eq!(lex("1.5E3"), Err(K::Exponent));
        assert_eq!(lex("e7"), Err(K::UnexpectedChar { ch: 'e', at: 0 }));
        assert_eq!(lex("٣"), Err(K::NonAsciiDigit { ch: '٣' }));
        assert_eq!(lex("1.１"), Err(K::NonAsciiDigit { ch: '１' }));
        assert_eq!(lex(".5"), Err(K::LeadingDot));
        assert_eq!(lex("-.5"), Err(K::LeadingDot));
        assert_eq!(lex("1."), Err(K::TrailingDot));
        assert_eq!(lex("."), Err(K::LeadingDot));
        assert_eq!(lex("1.2.3"), Err(K::UnexpectedChar { ch: '.', at: 3 }));
        assert_eq!(lex("01"), Err(K::LeadingZero));
        assert_eq!(lex("-00.5"), Err(K::LeadingZero));
        assert_eq!(lex("1,5"), Err(K::UnexpectedChar { ch: ',', at: 1 }));
        assert_eq!(lex("0x10"), Err(K::UnexpectedChar { ch: 'x', at: 1 }));
        assert_eq!(lex("NaN"), Err(K::UnexpectedChar { ch: 'N', at: 0 }));
        assert_eq!(lex("inf"), Err(K::UnexpectedChar { ch: 'i', at: 0 }));
        assert_eq!(lex("1_000"), Err(K::UnexpectedChar { ch: '_', at: 1 }));
        assert_eq!(lex_integer("1.0"), Err(K::UnexpectedChar { ch: '.', at: 1 }));
        assert_eq!(lex_integer("1e3"), Err(K::Exponent));
        assert_eq!(lex_integer("-1"), Err(K::SignNotAllowed));
        assert_eq!(lex_integer("007"), Err(K::LeadingZero));
        assert_eq!(lex_integer_at("1x", 4), Err(K::UnexpectedChar { ch: 'x', at: 5 }));
    }

    #[test]
    fn values() {
        assert_eq!(digits_value("0"), Some(0));
        assert_eq!(digits_value("340282366920938463463374607431768211455"), Some(u128::MAX));
        assert_eq!(digits_value("340282366920938463463374607431768211456"), None);
        assert_eq!(pow10(38), Some(10u128.pow(38)));
        assert_eq!(pow10(39), None);
    }

    #[test]
    fn fmt_buf() {
        let mut buf = FmtBuf::<4>::new();
        assert!(write!(buf, "ab").is_ok());
        assert!(write!(buf, "cde").is_err());
        assert_eq!(buf.as_str(), "ab");
        assert!(write!(buf, "cd").is_ok());
        assert_eq!(buf.as_str(), "abcd");
    }
}
