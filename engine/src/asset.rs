//! Who and what is traded: [`AccountId`] (an Ed25519 public key, written as a `G…` strkey),
//! asset codes ([`AssetCode4`], [`AssetCode12`]), [`Asset`] (`native` or `CODE:ISSUER`) and
//! [`Pair`] (`SELLING/BUYING`, the CLI's `--pair`).
//!
//! Asset codes are stored as in XDR: fixed byte arrays, ASCII letters and digits, zero-padded.
//! A code of 1–4 characters is always alphanum4 and one of 5–12 always alphanum12, as
//! stellar-core requires, so each asset has exactly one text form and one value.

use core::fmt;
use core::str::FromStr;

use stellar_strkey::DecodeError;
use stellar_strkey::ed25519::PublicKey;

use crate::decimal;
use crate::error::{ParseError, ParseErrorKind, Subject};

/// Length of an account id strkey (`G` + 55 base32 characters).
pub const ACCOUNT_ID_CHARS: usize = 56;
/// Shortest asset code, in characters.
pub const ASSET_CODE_CHARS_MIN: usize = 1;
/// Longest alphanum4 code, in characters.
pub const ASSET_CODE4_CHARS_MAX: usize = 4;
/// Shortest alphanum12 code, in characters (stellar-core rejects shorter ones).
pub const ASSET_CODE12_CHARS_MIN: usize = 5;
/// Longest asset code, in characters.
pub const ASSET_CODE12_CHARS_MAX: usize = 12;
/// How a native asset (XLM) is written.
pub const NATIVE_TEXT: &str = "native";

/// A Stellar account: the 32 bytes of its Ed25519 public key. Written as a `G…` strkey.
///
/// Parsing accepts only `G…` keys: muxed accounts (`M…`), contracts (`C…`) and other strkeys
/// are rejected, and a secret seed (`S…`) is rejected without being echoed in the error.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId([u8; 32]);

impl AccountId {
    pub const fn from_bytes(bytes: [u8; 32]) -> AccountId {
        AccountId(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for AccountId {
    /// The `G…` strkey. Honours width and alignment flags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(PublicKey(self.0).to_string().as_str())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({self})")
    }
}

impl FromStr for AccountId {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<AccountId, ParseError> {
        parse_account_id(input).map_err(|kind| ParseError::new(Subject::AccountId, kind, input))
    }
}

fn parse_account_id(input: &str) -> Result<AccountId, ParseErrorKind> {
    decimal::check_nonempty_no_whitespace(input)?;
    match input.as_bytes().first() {
        Some(b'S' | b's') => return Err(ParseErrorKind::AccountIdSecretSeed),
        Some(b'M' | b'm') => return Err(ParseErrorKind::AccountIdMuxed),
        // Lower case is checked below and reported as an encoding error.
        Some(b'G' | b'g') => {}
        _ => return Err(ParseErrorKind::AccountIdWrongKind),
    }
    if input.len() != ACCOUNT_ID_CHARS {
        return Err(ParseErrorKind::AccountIdLength { len: input.len() });
    }
    match PublicKey::from_string(input) {
        Ok(key) => Ok(AccountId(key.0)),
        Err(DecodeError::ChecksumMismatch) => Err(ParseErrorKind::AccountIdChecksum),
        // `G` then a character that changes the version byte, with a valid checksum.
        Err(DecodeError::UnsupportedVersion) => Err(ParseErrorKind::AccountIdWrongKind),
        Err(_) => Err(ParseErrorKind::AccountIdEncoding),
    }
}

/// An asset code of 1–4 characters, as in XDR `AssetCode4`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetCode4([u8; 4]);

/// An asset code of 5–12 characters, as in XDR `AssetCode12`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetCode12([u8; 12]);

macro_rules! asset_code_impl {
    ($name:ident, $len:expr, $chars_min:expr) => {
        impl $name {
            /// The code of `text`: ASCII letters and digits, of the length this type holds.
            pub fn new(text: &str) -> Result<$name, ParseError> {
                code_from_str::<$len>(text, $chars_min)
                    .map($name)
                    .map_err(|kind| ParseError::new(Subject::AssetCode, kind, text))
            }

            /// Validates XDR bytes: ASCII letters and digits, then only zero padding.
            pub fn from_xdr_bytes(bytes: [u8; $len]) -> Result<$name, ParseError> {
                code_from_xdr(&bytes, $chars_min)
                    .map(|()| $name(bytes))
                    .map_err(|kind| ParseError::new(Subject::AssetCode, kind, &String::from_utf8_lossy(&bytes)))
            }

            /// The zero-padded bytes, as in XDR.
            pub const fn to_xdr_bytes(self) -> [u8; $len] {
                self.0
            }

            /// The code without padding, e.g. `USDC`.
            pub fn as_str(&self) -> &str {
                code_as_str(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseError;

            fn from_str(text: &str) -> Result<$name, ParseError> {
                $name::new(text)
            }
        }
    };
}

asset_code_impl!(AssetCode4, ASSET_CODE4_CHARS_MAX, ASSET_CODE_CHARS_MIN);
asset_code_impl!(AssetCode12, ASSET_CODE12_CHARS_MAX, ASSET_CODE12_CHARS_MIN);

/// Checks `text` as an asset code of `chars_min..=N` characters; returns it zero-padded.
fn code_from_str<const N: usize>(text: &str, chars_min: usize) -> Result<[u8; N], ParseErrorKind> {
    check_code_chars(text)?;
    let len = text.len();
    if !(chars_min..=N).contains(&len) {
        return Err(ParseErrorKind::AssetCodeLength { len, min: chars_min, max: N });
    }
    let mut bytes = [0u8; N];
    for (dst, src) in bytes.iter_mut().zip(text.bytes()) {
        *dst = src;
    }
    Ok(bytes)
}

fn check_code_chars(text: &str) -> Result<(), ParseErrorKind> {
    match text.chars().find(|ch| !ch.is_ascii_alphanumeric()) {
        Some(ch) => Err(ParseErrorKind::AssetCodeChar { ch }),
        None => Ok(()),
    }
}

fn code_from_xdr(bytes: &[u8], chars_min: usize) -> Result<(), ParseErrorKind> {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let (code, padding) = bytes.split_at_checked(len).unwrap_or((bytes, &[]));
    let canonical = code.iter().all(u8::is_ascii_alphanumeric) && padding.iter().all(|&b| b == 0) && len >= chars_min;
    if canonical { Ok(()) } else { Err(ParseErrorKind::AssetCodeNotCanonical) }
}

fn code_as_str(bytes: &[u8]) -> &str {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let code = bytes.get(..len).unwrap_or(&[]);
    debug_assert!(!code.is_empty() && code.iter().all(u8::is_ascii_alphanumeric));
    core::str::from_utf8(code).unwrap_or("")
}

/// A Stellar asset: XLM, or a code issued by an account.
///
/// `Ord`: by asset type in XDR discriminant order (native, alphanum4, alphanum12), then by
/// code bytes, then by issuer bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Asset {
    /// Lumens (XLM), written `native`.
    Native,
    CreditAlphanum4 {
        code: AssetCode4,
        issuer: AccountId,
    },
    CreditAlphanum12 {
        code: AssetCode12,
        issuer: AccountId,
    },
}

impl Asset {
    /// A credit asset; alphanum4 or alphanum12 by the length of `code`.
    pub fn credit(code: &str, issuer: AccountId) -> Result<Asset, ParseError> {
        CreditCode::parse(code)
            .map(|code| code.issued_by(issuer))
            .map_err(|kind| ParseError::new(Subject::AssetCode, kind, code))
    }

    pub const fn is_native(&self) -> bool {
        matches!(self, Asset::Native)
    }

    /// The code of a credit asset; `None` for native.
    pub fn code(&self) -> Option<&str> {
        match self {
            Asset::Native => None,
            Asset::CreditAlphanum4 { code, .. } => Some(code.as_str()),
            Asset::CreditAlphanum12 { code, .. } => Some(code.as_str()),
        }
    }

    /// The issuer of a credit asset; `None` for native.
    pub const fn issuer(&self) -> Option<AccountId> {
        match self {
            Asset::Native => None,
            Asset::CreditAlphanum4 { issuer, .. } | Asset::CreditAlphanum12 { issuer, .. } => Some(*issuer),
        }
    }
}

/// A validated credit asset code, before its issuer is known.
#[derive(Clone, Copy, Debug)]
enum CreditCode {
    Alphanum4(AssetCode4),
    Alphanum12(AssetCode12),
}

impl CreditCode {
    /// ASCII letters and digits; 1–4 characters are alphanum4, 5–12 alphanum12.
    fn parse(code: &str) -> Result<CreditCode, ParseErrorKind> {
        check_code_chars(code)?;
        let parsed = if code.len() <= ASSET_CODE4_CHARS_MAX {
            code_from_str(code, ASSET_CODE_CHARS_MIN).map(|c| CreditCode::Alphanum4(AssetCode4(c)))
        } else {
            code_from_str(code, ASSET_CODE12_CHARS_MIN).map(|c| CreditCode::Alphanum12(AssetCode12(c)))
        };
        // Report a wrong length against the full range 1..=12, not one variant's.
        parsed.map_err(|kind| match kind {
            ParseErrorKind::AssetCodeLength { len, .. } => {
                ParseErrorKind::AssetCodeLength { len, min: ASSET_CODE_CHARS_MIN, max: ASSET_CODE12_CHARS_MAX }
            }
            other => other,
        })
    }

    const fn issued_by(self, issuer: AccountId) -> Asset {
        match self {
            CreditCode::Alphanum4(code) => Asset::CreditAlphanum4 { code, issuer },
            CreditCode::Alphanum12(code) => Asset::CreditAlphanum12 { code, issuer },
        }
    }
}

impl fmt::Display for Asset {
    /// `native` or `CODE:ISSUER`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Asset::Native => f.write_str(NATIVE_TEXT),
            Asset::CreditAlphanum4 { code, issuer } => write!(f, "{code}:{issuer}"),
            Asset::CreditAlphanum12 { code, issuer } => write!(f, "{code}:{issuer}"),
        }
    }
}

impl FromStr for Asset {
    type Err = ParseError;

    /// `native` (exactly, lower case) or `CODE:ISSUER`.
    fn from_str(input: &str) -> Result<Asset, ParseError> {
        parse_asset(input).map_err(|kind| ParseError::new(Subject::Asset, kind, input))
    }
}

fn parse_asset(input: &str) -> Result<Asset, ParseErrorKind> {
    decimal::check_nonempty_no_whitespace(input)?;
    if input == NATIVE_TEXT {
        return Ok(Asset::Native);
    }
    let Some((code, issuer)) = input.split_once(':') else {
        return Err(ParseErrorKind::AssetFormat);
    };
    // The code first: `USD$:G…` is about the code whatever the issuer.
    let code = CreditCode::parse(code)?;
    Ok(code.issued_by(parse_account_id(issuer)?))
}

/// What a market maker quotes: sell `selling`, buy `buying`. The two always differ.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Pair {
    selling: Asset,
    buying: Asset,
}

impl Pair {
    /// A pair; an error if `selling == buying`.
    pub fn new(selling: Asset, buying: Asset) -> Result<Pair, ParseError> {
        if selling == buying {
            let text = format!("{selling}/{buying}");
            return Err(ParseError::new(Subject::Pair, ParseErrorKind::PairSameAsset, &text));
        }
        Ok(Pair { selling, buying })
    }

    pub const fn selling(&self) -> Asset {
        self.selling
    }

    pub const fn buying(&self) -> Asset {
        self.buying
    }

    /// The same market seen from the other side: buying/selling swapped.
    pub const fn inverse(&self) -> Pair {
        Pair { selling: self.buying, buying: self.selling }
    }
}

impl fmt::Display for Pair {
    /// `SELLING/BUYING`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.selling, self.buying)
    }
}

impl FromStr for Pair {
    type Err = ParseError;

    /// `SELLING/BUYING`, each side an [`Asset`]; errors in a side name that side.
    fn from_str(input: &str) -> Result<Pair, ParseError> {
        let whole = |kind| ParseError::new(Subject::Pair, kind, input);
        decimal::check_nonempty_no_whitespace(input).map_err(whole)?;
        let Some((selling, buying)) = input.split_once('/') else {
            return Err(whole(ParseErrorKind::PairFormat));
        };
        if buying.contains('/') {
            return Err(whole(ParseErrorKind::PairFormat));
        }
        let selling: Asset = selling.parse().map_err(|e: ParseError| e.with_subject(Subject::SellingAsset))?;
        let buying: Asset = buying.parse().map_err(|e: ParseError| e.with_subject(Subject::BuyingAsset))?;
        if selling == buying {
            return Err(whole(ParseErrorKind::PairSameAsset));
        }
        Ok(Pair { selling, buying })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind as K;

    const ZERO_KEY: &str = "GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWHF";
    const SEQ_KEY: &str = "GAAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB7JZX";
    const USDC_ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
    const MUXED: &str = "MAAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB6AAAAAAAAAAAA6X66";
    const CONTRACT: &str = "CAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABSC4";

    fn account_kind(s: &str) -> K {
        s.parse::<AccountId>().unwrap_err().kind()
    }

    fn asset_kind(s: &str) -> K {
        s.parse::<Asset>().unwrap_err().kind()
    }

    fn seq_bytes() -> [u8; 32] {
        core::array::from_fn(|i| u8::try_from(i).unwrap())
    }

    #[test]
    fn account_id_round_trip() {
        let zero: AccountId = ZERO_KEY.parse().unwrap();
        assert_eq!(zero.as_bytes(), &[0; 32]);
        assert_eq!(zero.to_string(), ZERO_KEY);
        let seq: AccountId = SEQ_KEY.parse().unwrap();
        assert_eq!(seq, AccountId::from_bytes(seq_bytes()));
        assert_eq!(seq.to_string(), SEQ_KEY);
        let usdc: AccountId = USDC_ISSUER.parse().unwrap();
        assert_eq!(usdc.as_bytes()[..4], [0x3b, 0x99, 0x11, 0x38]);
        assert_eq!(format!("{zero:?}"), format!("AccountId({ZERO_KEY})"));
    }

    #[test]
    fn account_id_errors() {
        assert_eq!(account_kind(""), K::Empty);
        assert_eq!(account_kind(&format!(" {ZERO_KEY}")), K::Whitespace);
        assert_eq!(account_kind(&format!("S{}", &ZERO_KEY[1..])), K::AccountIdSecretSeed);
        assert_eq!(account_kind(MUXED), K::AccountIdMuxed);
        assert_eq!(account_kind(CONTRACT), K::AccountIdWrongKind);
        assert_eq!(account_kind("native"), K::AccountIdWrongKind);
        assert_eq!(account_kind("GABC"), K::AccountIdLength { len: 4 });
        assert_eq!(account_kind(&format!("{ZERO_KEY}A")), K::AccountIdLength { len: 57 });
        assert_eq!(account_kind(&ZERO_KEY.to_lowercase()), K::AccountIdEncoding);
        assert_eq!(account_kind(&ZERO_KEY.replace('W', "1")), K::AccountIdEncoding);
        assert_eq!(account_kind(&ZERO_KEY.replace("WHF", "WHG")), K::AccountIdChecksum);
        // A `G…` strkey with a valid checksum but version byte 49, not 48 (public key).
        assert_eq!(account_kind("GEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABBDI"), K::AccountIdWrongKind);
        // Non-ASCII input of the right byte length must not panic.
        let wide = format!("G{}", "é".repeat(27)) + "A";
        assert_eq!(wide.len(), 56);
        assert_eq!(account_kind(&wide), K::AccountIdEncoding);
    }

    #[test]
    fn secret_seed_is_never_echoed() {
        let seed = format!("S{}", &SEQ_KEY[1..]);
        for input in [seed.clone(), format!("USD:{seed}"), format!("native/USD:{seed}")] {
            let shown = [
                input.parse::<AccountId>().map(|_| ()).unwrap_err().to_string(),
                input.parse::<Asset>().map(|_| ()).unwrap_err().to_string(),
                input.parse::<Pair>().map(|_| ()).unwrap_err().to_string(),
            ];
            for message in shown {
                assert!(!message.contains(&seed[1..20]), "{message}");
            }
        }
        assert_eq!(
            seed.parse::<AccountId>().unwrap_err().to_string(),
            "account id <redacted>: looks like a secret seed (S...), not an account id (G...)"
        );
    }

    #[test]
    fn asset_codes() {
        let usd = AssetCode4::new("USD").unwrap();
        assert_eq!(usd.to_xdr_bytes(), *b"USD\0");
        assert_eq!(usd.as_str(), "USD");
        assert_eq!(usd.to_string(), "USD");
        assert_eq!(format!("{usd:?}"), "AssetCode4(USD)");
        assert_eq!("A".parse::<AssetCode4>().unwrap().to_xdr_bytes(), *b"A\0\0\0");
        assert_eq!(AssetCode4::new("ABCD").unwrap().to_xdr_bytes(), *b"ABCD");
        let long = AssetCode12::new("yXLM12345678").unwrap();
        assert_eq!(long.to_xdr_bytes(), *b"yXLM12345678");
        assert_eq!(AssetCode12::new("ABCDE").unwrap().to_xdr_bytes(), *b"ABCDE\0\0\0\0\0\0\0");
        let kind = |r: Result<AssetCode4, ParseError>| r.unwrap_err().kind();
        assert_eq!(kind(AssetCode4::new("")), K::AssetCodeLength { len: 0, min: 1, max: 4 });
        assert_eq!(kind(AssetCode4::new("ABCDE")), K::AssetCodeLength { len: 5, min: 1, max: 4 });
        assert_eq!(kind(AssetCode4::new("U-D")), K::AssetCodeChar { ch: '-' });
        assert_eq!(kind(AssetCode4::new("€")), K::AssetCodeChar { ch: '€' });
        assert_eq!(kind(AssetCode4::new("A\0")), K::AssetCodeChar { ch: '\0' });
        assert_eq!(AssetCode12::new("ABCD").unwrap_err().kind(), K::AssetCodeLength { len: 4, min: 5, max: 12 });
        assert_eq!(
            AssetCode12::new("ABCDEFGHIJKLM").unwrap_err().to_string(),
            "asset code \"ABCDEFGHIJKLM\": asset code must have 5 to 12 characters, not 13"
        );
    }

    #[test]
    fn asset_codes_from_xdr() {
        assert_eq!(AssetCode4::from_xdr_bytes(*b"USD\0").unwrap().as_str(), "USD");
        assert_eq!(AssetCode4::from_xdr_bytes(*b"USDC").unwrap().as_str(), "USDC");
        for bad in [*b"\0\0\0\0", *b"U\0D\0", *b"US-\0", *b"\0USD"] {
            assert_eq!(AssetCode4::from_xdr_bytes(bad).unwrap_err().kind(), K::AssetCodeNotCanonical, "{bad:?}");
        }
        assert_eq!(AssetCode12::from_xdr_bytes(*b"ABCDE\0\0\0\0\0\0\0").unwrap().as_str(), "ABCDE");
        assert_eq!(AssetCode12::from_xdr_bytes(*b"ABCD\0\0\0\0\0\0\0\0").unwrap_err().kind(), K::AssetCodeNotCanonical);
        assert_eq!(
            AssetCode4::from_xdr_bytes(*b"U\0D\0").unwrap_err().to_string(),
            "asset code \"U\\0D\\0\": asset code bytes are not ASCII letters and digits followed by \
             zero padding"
        );
    }

    #[test]
    fn asset_parse_and_display() {
        assert_eq!("native".parse::<Asset>().unwrap(), Asset::Native);
        assert_eq!(Asset::Native.to_string(), "native");
        let usdc: Asset = format!("USDC:{USDC_ISSUER}").parse().unwrap();
        assert!(matches!(usdc, Asset::CreditAlphanum4 { .. }));
        assert_eq!(usdc.to_string(), format!("USDC:{USDC_ISSUER}"));
        assert_eq!(usdc.code(), Some("USDC"));
        assert_eq!(usdc.issuer(), Some(USDC_ISSUER.parse().unwrap()));
        assert!(!usdc.is_native() && Asset::Native.is_native());
        assert_eq!(Asset::Native.code(), None);
        assert_eq!(Asset::Native.issuer(), None);
        let long: Asset = format!("ABCDE:{ZERO_KEY}").parse().unwrap();
        assert!(matches!(long, Asset::CreditAlphanum12 { .. }));
        assert_eq!(long.to_string(), format!("ABCDE:{ZERO_KEY}"));
        let twelve: Asset = format!("abcdefghijkl:{ZERO_KEY}").parse().unwrap();
        assert_eq!(twelve.code(), Some("abcdefghijkl"));
        // Codes are case-sensitive, as on the ledger.
        assert_ne!(
            format!("usd:{ZERO_KEY}").parse::<Asset>().unwrap(),
            format!("USD:{ZERO_KEY}").parse::<Asset>().unwrap()
        );
        // XDR order: native < alphanum4 < alphanum12.
        assert!(Asset::Native < usdc && usdc < long);
        let issuer: AccountId = ZERO_KEY.parse().unwrap();
        assert_eq!(Asset::credit("ABCDE", issuer), Ok(long));
        assert_eq!(Asset::credit("", issuer).unwrap_err().kind(), K::AssetCodeLength { len: 0, min: 1, max: 12 });
    }

    #[test]
    fn asset_errors() {
        assert_eq!(asset_kind(""), K::Empty);
        assert_eq!(asset_kind("Native"), K::AssetFormat);
        assert_eq!(asset_kind("XLM"), K::AssetFormat);
        assert_eq!(asset_kind(" native"), K::Whitespace);
        assert_eq!(asset_kind(&format!("USD: {ZERO_KEY}")), K::Whitespace);
        assert_eq!(asset_kind(&format!(":{ZERO_KEY}")), K::AssetCodeLength { len: 0, min: 1, max: 12 });
        assert_eq!(asset_kind(&format!("ABCDEFGHIJKLM:{ZERO_KEY}")), K::AssetCodeLength { len: 13, min: 1, max: 12 });
        assert_eq!(asset_kind(&format!("US$:{ZERO_KEY}")), K::AssetCodeChar { ch: '$' });
        assert_eq!(asset_kind("US$:nobody"), K::AssetCodeChar { ch: '$' });
        assert_eq!(asset_kind("USD:"), K::Empty);
        assert_eq!(asset_kind("USD:GABC"), K::AccountIdLength { len: 4 });
        assert_eq!(asset_kind(&format!("USD:{MUXED}")), K::AccountIdMuxed);
        assert_eq!(asset_kind(&format!("USD:{ZERO_KEY}:x")), K::AccountIdLength { len: 58 });
        assert_eq!(
            format!("USD:{}", ZERO_KEY.replace("WHF", "WHG")).parse::<Asset>().unwrap_err().to_string(),
            format!("asset \"USD:{}\": account id checksum does not match (a typo?)", ZERO_KEY.replace("WHF", "WHG"))
        );
    }

    #[test]
    fn pairs() {
        let pair: Pair = format!("native/USDC:{USDC_ISSUER}").parse().unwrap();
        assert_eq!(pair.selling(), Asset::Native);
        assert_eq!(pair.buying().code(), Some("USDC"));
        assert_eq!(pair.to_string(), format!("native/USDC:{USDC_ISSUER}"));
        assert_eq!(pair.inverse().to_string(), format!("USDC:{USDC_ISSUER}/native"));
        assert_eq!(Pair::new(pair.selling(), pair.buying()), Ok(pair));
        assert_eq!(
            Pair::new(Asset::Native, Asset::Native).unwrap_err().to_string(),
            "pair \"native/native\": selling and buying are the same asset"
        );
        let kind = |s: &str| s.parse::<Pair>().unwrap_err().kind();
        assert_eq!(kind(""), K::Empty);
        assert_eq!(kind("native"), K::PairFormat);
        assert_eq!(kind("native/native/native"), K::PairFormat);
        assert_eq!(kind("native/native"), K::PairSameAsset);
        assert_eq!(kind("native / native"), K::Whitespace);
        let e = "native/XLM".parse::<Pair>().unwrap_err();
        assert_eq!(e.subject(), Subject::BuyingAsset);
        assert_eq!(e.to_string(), "buying asset \"XLM\": expected `native` or CODE:ISSUER");
        let e = "USD:GABC/native".parse::<Pair>().unwrap_err();
        assert_eq!(e.subject(), Subject::SellingAsset);
        assert_eq!(e.kind(), K::AccountIdLength { len: 4 });
        assert_eq!(kind("/native"), K::Empty);
    }
}
