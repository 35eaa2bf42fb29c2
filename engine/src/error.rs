//! Errors of the domain types: [`ParseError`] for every parser and checked constructor of
//! untrusted text or XDR fields, and [`AmountOverflow`] for checked arithmetic.
//!
//! Every `Display` is one line: `SUBJECT "INPUT": REASON`, e.g.
//! `amount "1.12345678": more than 7 decimal places`. The input is echoed escaped (control
//! characters and quotes cannot break the line) and cut at [`ECHO_CHARS_MAX`] characters.
//! An input that looks like it contains a Stellar secret seed (`S…`) is never echoed: it is
//! shown as `<redacted>` instead, so a seed pasted into the wrong flag does not end up in logs.

use core::fmt;

/// How many characters of the offending input an error message repeats.
pub const ECHO_CHARS_MAX: usize = 80;

/// Shortest run of strkey characters starting with `S` that is treated as a possible secret
/// seed and redacted (a seed is 56 characters; shorter runs catch truncated copies).
const SECRET_SEED_RUN_CHARS_MIN: usize = 40;

/// What was being parsed; the first word(s) of an error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    Amount,
    SignedAmount,
    Price,
    AccountId,
    AssetCode,
    Asset,
    /// The selling side of a [`crate::Pair`].
    SellingAsset,
    /// The buying side of a [`crate::Pair`].
    BuyingAsset,
    Pair,
    OfferId,
    ClientOrderId,
}

impl Subject {
    const fn as_str(self) -> &'static str {
        match self {
            Subject::Amount => "amount",
            Subject::SignedAmount => "signed amount",
            Subject::Price => "price",
            Subject::AccountId => "account id",
            Subject::AssetCode => "asset code",
            Subject::Asset => "asset",
            Subject::SellingAsset => "selling asset",
            Subject::BuyingAsset => "buying asset",
            Subject::Pair => "pair",
            Subject::OfferId => "offer id",
            Subject::ClientOrderId => "client order id",
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a parse failed. Each variant has exactly one message (see `Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// The input is the empty string.
    Empty,
    /// Any Unicode whitespace, anywhere (inputs are never trimmed).
    Whitespace,
    /// A sign where none is allowed (amounts, prices, ids).
    SignNotAllowed,
    /// A `+` sign on a signed quantity: only `-` is written.
    PlusSign,
    /// A sign and nothing else, e.g. `-`.
    NoDigits,
    /// Scientific notation, e.g. `1e7`.
    Exponent,
    /// A digit outside `0-9`, e.g. Arabic-Indic `٣` or fullwidth `１`.
    NonAsciiDigit { ch: char },
    /// Any other character that does not belong at byte offset `at`.
    UnexpectedChar { ch: char, at: usize },
    /// `.5`: write `0.5`.
    LeadingDot,
    /// `1.`: write `1` or `1.0`.
    TrailingDot,
    /// `01`, `00.5`: a redundant leading zero.
    LeadingZero,
    /// More fractional digits than the type allows (counted as written, trailing zeros too).
    TooManyDecimals { max: u32 },
    /// Above the type's maximum, given as text.
    TooLarge { max: &'static str },
    /// Below the type's minimum, given as text.
    TooSmall { min: &'static str },
    /// A price or its numerator is zero.
    PriceZero,
    /// The denominator of `N/D` is zero.
    PriceDenominatorZero,
    /// A decimal price above `i32::MAX`: no `n/d` can hold it.
    PriceTooLarge,
    /// A decimal price so small that its best approximation has `n = 0`.
    PriceTooSmall,
    /// `N` or `D` of `N/D` above `i32::MAX`.
    PriceComponentTooLarge,
    /// A price is not `N/D` or a decimal with a `/` in the wrong place, e.g. `1/2/3`.
    PriceFormat,
    /// An asset code with a number of characters (`len`, in bytes) outside `min..=max`.
    AssetCodeLength { len: usize, min: usize, max: usize },
    /// An asset code character outside `A-Z a-z 0-9`.
    AssetCodeChar { ch: char },
    /// XDR asset code bytes that are not ASCII alphanumerics followed by zero padding, or an
    /// alphanum12 code shorter than 5 characters.
    AssetCodeNotCanonical,
    /// Neither `native` nor `CODE:ISSUER`.
    AssetFormat,
    /// Looks like a secret seed (`S…`); the input is redacted from the message.
    AccountIdSecretSeed,
    /// A muxed account (`M…`); only plain `G…` account ids are accepted.
    AccountIdMuxed,
    /// A strkey of another kind (contract `C…`, pre-auth `T…`, …) or not a strkey at all.
    AccountIdWrongKind,
    /// A `G…` string that is not 56 characters long (`len` in bytes).
    AccountIdLength { len: usize },
    /// Characters outside the strkey base32 alphabet `A-Z 2-7`.
    AccountIdEncoding,
    /// The CRC16 checksum of the strkey does not match: a typo.
    AccountIdChecksum,
    /// Not `SELLING/BUYING` with exactly one `/`.
    PairFormat,
    /// Selling and buying are the same asset.
    PairSameAsset,
    /// A negative id (from XDR).
    Negative,
    /// Offer id 0, which in ManageOffer operations means "create a new offer".
    OfferIdZero,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ParseErrorKind::Empty => f.write_str("is empty"),
            ParseErrorKind::Whitespace => f.write_str("contains whitespace"),
            ParseErrorKind::SignNotAllowed => f.write_str("has a sign; write it without one"),
            ParseErrorKind::PlusSign => f.write_str("has a '+' sign; only '-' is written, for negative values"),
            ParseErrorKind::NoDigits => f.write_str("has no digits"),
            ParseErrorKind::Exponent => f.write_str("has an exponent; write plain decimal digits, e.g. 0.0000001"),
            ParseErrorKind::NonAsciiDigit { ch } => {
                write!(f, "has the non-ASCII digit '{}'; use 0-9", ch.escape_debug())
            }
            ParseErrorKind::UnexpectedChar { ch, at } => {
                write!(f, "unexpected character '{}' at byte {at}", ch.escape_debug())
            }
            ParseErrorKind::LeadingDot => f.write_str("starts with '.'; write 0.5, not .5"),
            ParseErrorKind::TrailingDot => f.write_str("ends with '.'; write 1 or 1.0, not 1."),
            ParseErrorKind::LeadingZero => f.write_str("has a redundant leading zero"),
            ParseErrorKind::TooManyDecimals { max } => write!(f, "more than {max} decimal places"),
            ParseErrorKind::TooLarge { max } => write!(f, "is greater than the maximum {max}"),
            ParseErrorKind::TooSmall { min } => write!(f, "is less than the minimum {min}"),
            ParseErrorKind::PriceZero => f.write_str("must be greater than zero"),
            ParseErrorKind::PriceDenominatorZero => f.write_str("has a zero denominator"),
            ParseErrorKind::PriceTooLarge => {
                f.write_str("is greater than 2147483647, the largest price n/d can express")
            }
            ParseErrorKind::PriceTooSmall => {
                f.write_str("is too small: its best approximation n/d with n, d <= 2147483647 has n = 0")
            }
            ParseErrorKind::PriceComponentTooLarge => {
                f.write_str("has a numerator or denominator greater than 2147483647")
            }
            ParseErrorKind::PriceFormat => f.write_str("expected N/D or a decimal"),
            ParseErrorKind::AssetCodeLength { len, min, max } => {
                write!(f, "asset code must have {min} to {max} characters, not {len}")
            }
            ParseErrorKind::AssetCodeChar { ch } => {
                write!(f, "asset code has '{}', which is not an ASCII letter or digit", ch.escape_debug())
            }
            ParseErrorKind::AssetCodeNotCanonical => {
                f.write_str("asset code bytes are not ASCII letters and digits followed by zero padding")
            }
            ParseErrorKind::AssetFormat => f.write_str("expected `native` or CODE:ISSUER"),
            ParseErrorKind::AccountIdSecretSeed => {
                f.write_str("looks like a secret seed (S...), not an account id (G...)")
            }
            ParseErrorKind::AccountIdMuxed => f.write_str("is a muxed account (M...); use the plain G... account id"),
            ParseErrorKind::AccountIdWrongKind => f.write_str("is not a G... account id"),
            ParseErrorKind::AccountIdLength { len } => {
                write!(f, "account id must have 56 characters, not {len}")
            }
            ParseErrorKind::AccountIdEncoding => {
                f.write_str("account id has characters outside the strkey alphabet A-Z 2-7")
            }
            ParseErrorKind::AccountIdChecksum => f.write_str("account id checksum does not match (a typo?)"),
            ParseErrorKind::PairFormat => f.write_str("expected SELLING/BUYING"),
            ParseErrorKind::PairSameAsset => f.write_str("selling and buying are the same asset"),
            ParseErrorKind::Negative => f.write_str("is negative"),
            ParseErrorKind::OfferIdZero => {
                f.write_str("0 is not an offer id (in ManageOffer operations it means \"create a new offer\")")
            }
        }
    }
}

/// The offending input, as an error message shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Echo {
    /// Up to [`ECHO_CHARS_MAX`] characters of the input, unescaped; `truncated` if it was longer.
    Text { prefix: Box<str>, truncated: bool },
    /// The input looked like it contained a secret seed.
    Redacted,
}

/// A parse or validation failure: what was parsed, the input, and why it was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    subject: Subject,
    kind: ParseErrorKind,
    echo: Echo,
}

impl ParseError {
    /// Builds an error for `input`; allocates a copy of at most [`ECHO_CHARS_MAX`] characters.
    pub fn new(subject: Subject, kind: ParseErrorKind, input: &str) -> ParseError {
        let echo = if kind == ParseErrorKind::AccountIdSecretSeed || looks_like_secret_seed(input) {
            Echo::Redacted
        } else {
            let end = input.char_indices().nth(ECHO_CHARS_MAX).map_or(input.len(), |(at, _)| at);
            let (prefix, rest) = input.split_at_checked(end).unwrap_or((input, ""));
            Echo::Text { prefix: prefix.into(), truncated: !rest.is_empty() }
        };
        ParseError { subject, kind, echo }
    }

    pub const fn subject(&self) -> Subject {
        self.subject
    }

    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The same error, reported as a parse of `subject` (e.g. the buying side of a pair).
    pub(crate) fn with_subject(mut self, subject: Subject) -> ParseError {
        self.subject = subject;
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.echo {
            Echo::Text { prefix, truncated } => {
                write!(f, "{} \"{}\"", self.subject, prefix.escape_debug())?;
                if *truncated {
                    f.write_str("...")?;
                }
            }
            Echo::Redacted => write!(f, "{} <redacted>", self.subject)?,
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for ParseError {}

/// Checked arithmetic on amounts overflowed: the result does not fit in an
/// [`crate::Amount`] (or is negative where only non-negative amounts exist).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AmountOverflow;

impl fmt::Display for AmountOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("amount arithmetic overflow: the result is outside 0..=922337203685.4775807")
    }
}

impl std::error::Error for AmountOverflow {}

/// True if `input` contains a run of at least [`SECRET_SEED_RUN_CHARS_MIN`] strkey characters
/// (`A-Z`, `2-7`) that starts with `S`: a possible Stellar secret seed, to be kept out of logs.
/// Errs on the side of redacting.
fn looks_like_secret_seed(input: &str) -> bool {
    let mut run_chars: usize = 0;
    let mut run_starts_with_s = false;
    for byte in input.bytes() {
        if byte.is_ascii_uppercase() || (b'2'..=b'7').contains(&byte) {
            if run_chars == 0 {
                run_starts_with_s = byte == b'S';
            }
            run_chars = run_chars.saturating_add(1);
            if run_starts_with_s && run_chars >= SECRET_SEED_RUN_CHARS_MIN {
                return true;
            }
        } else {
            run_chars = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_subject_input_reason() {
        let e = ParseError::new(Subject::Amount, ParseErrorKind::TooManyDecimals { max: 7 }, "1.12345678");
        assert_eq!(e.to_string(), "amount \"1.12345678\": more than 7 decimal places");
        assert_eq!(e.subject(), Subject::Amount);
        assert_eq!(e.kind(), ParseErrorKind::TooManyDecimals { max: 7 });
    }

    #[test]
    fn echo_is_escaped_and_single_line() {
        let e = ParseError::new(Subject::Price, ParseErrorKind::Whitespace, "1\n\"2\"\t\u{7}");
        let s = e.to_string();
        assert!(!s.contains('\n') && !s.contains('\t') && !s.contains('\u{7}'), "{s}");
        assert_eq!(s, r#"price "1\n\"2\"\t\u{7}": contains whitespace"#);
    }

    #[test]
    fn echo_is_truncated() {
        let long = "9".repeat(1000);
        let s = ParseError::new(Subject::Amount, ParseErrorKind::TooLarge { max: "x" }, &long).to_string();
        assert_eq!(s, format!("amount \"{}\"...: is greater than the maximum x", "9".repeat(80)));
        // Multi-byte characters are cut at a character boundary.
        let wide = "é".repeat(100);
        let s = ParseError::new(Subject::Asset, ParseErrorKind::AssetFormat, &wide).to_string();
        assert!(s.starts_with(&format!("asset \"{}\"...", "é".repeat(80))), "{s}");
    }

    #[test]
    fn secret_seeds_are_redacted() {
        // A syntactically valid-looking seed (not a real key).
        let seed = format!("S{}", "A".repeat(55));
        for input in [seed.clone(), format!("USD:{seed}"), format!("native/USD:{seed}")] {
            let s = ParseError::new(Subject::Asset, ParseErrorKind::AccountIdChecksum, &input).to_string();
            assert!(!s.contains(&seed), "{s}");
            assert!(s.contains("<redacted>"), "{s}");
        }
        let s = ParseError::new(Subject::AccountId, ParseErrorKind::AccountIdSecretSeed, "Sx").to_string();
        assert_eq!(s, "account id <redacted>: looks like a secret seed (S...), not an account id (G...)");
        // Ordinary inputs are not redacted.
        assert!(!looks_like_secret_seed("USD:GABC"));
        assert!(!looks_like_secret_seed(&format!("G{}", "S".repeat(55))));
        assert!(!looks_like_secret_seed(&"S".repeat(39)));
        assert!(looks_like_secret_seed(&"S".repeat(40)));
    }

    #[test]
    fn every_kind_has_a_single_line_message() {
        let kinds = [
            ParseErrorKind::Empty,
            ParseErrorKind::Whitespace,
            ParseErrorKind::SignNotAllowed,
            ParseErrorKind::PlusSign,
            ParseErrorKind::NoDigits,
            ParseErrorKind::Exponent,
            ParseErrorKind::NonAsciiDigit { ch: '٣' },
            ParseErrorKind::UnexpectedChar { ch: '\n', at: 3 },
            ParseErrorKind::LeadingDot,
            ParseErrorKind::TrailingDot,
            ParseErrorKind::LeadingZero,
            ParseErrorKind::TooManyDecimals { max: 7 },
            ParseErrorKind::TooLarge { max: "1" },
            ParseErrorKind::TooSmall { min: "-1" },
            ParseErrorKind::PriceZero,
            ParseErrorKind::PriceDenominatorZero,
            ParseErrorKind::PriceTooLarge,
            ParseErrorKind::PriceTooSmall,
            ParseErrorKind::PriceComponentTooLarge,
            ParseErrorKind::PriceFormat,
            ParseErrorKind::AssetCodeLength { len: 13, min: 1, max: 12 },
            ParseErrorKind::AssetCodeChar { ch: '\r' },
            ParseErrorKind::AssetCodeNotCanonical,
            ParseErrorKind::AssetFormat,
            ParseErrorKind::AccountIdSecretSeed,
            ParseErrorKind::AccountIdMuxed,
            ParseErrorKind::AccountIdWrongKind,
            ParseErrorKind::AccountIdLength { len: 3 },
            ParseErrorKind::AccountIdEncoding,
            ParseErrorKind::AccountIdChecksum,
            ParseErrorKind::PairFormat,
            ParseErrorKind::PairSameAsset,
            ParseErrorKind::Negative,
            ParseErrorKind::OfferIdZero,
        ];
        for kind in kinds {
            let s = ParseError::new(Subject::Pair, kind, "x").to_string();
            let prefix = if kind == ParseErrorKind::AccountIdSecretSeed { "pair <redacted>: " } else { "pair \"x\": " };
            assert!(s.starts_with(prefix), "{s}");
            assert!(s.len() > prefix.len() + 5, "{s}");
            assert!(!s.chars().any(char::is_control), "{s}");
        }
    }

    #[test]
    fn overflow_display() {
        assert!(AmountOverflow.to_string().starts_with("amount arithmetic overflow"));
    }
}
