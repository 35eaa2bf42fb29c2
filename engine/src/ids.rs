//! Identifiers of orders: [`OfferId`] (an offer on the ledger, always positive),
//! [`OfferRef`] (the `offerID` field of ManageSellOffer/ManageBuyOffer, where 0 means
//! "create a new offer") and [`ClientOrderId`] (our own id for an order, any `u64`).

use core::fmt;
use core::str::FromStr;

use crate::decimal;
use crate::error::{ParseError, ParseErrorKind, Subject};

const OFFER_ID_MAX_TEXT: &str = "9223372036854775807";
const CLIENT_ORDER_ID_MAX_TEXT: &str = "18446744073709551615";

/// The id stellar-core gave an offer when it was created: `1..=i64::MAX`.
///
/// 0 is not an offer id: see [`OfferRef::New`]. New offers appear with `offer_id: 0` in
/// Horizon's operation records; their real id is in the transaction result.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OfferId(i64);

impl OfferId {
    /// The offer id `id`; an error for 0 and negative values.
    pub fn new(id: i64) -> Result<OfferId, ParseError> {
        match OfferRef::from_xdr(id)? {
            OfferRef::Existing(id) => Ok(id),
            OfferRef::New => Err(offer_error(ParseErrorKind::OfferIdZero, &id.to_string())),
        }
    }

    pub const fn get(self) -> i64 {
        debug_assert!(self.0 > 0);
        self.0
    }
}

impl fmt::Display for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OfferId({})", self.0)
    }
}

impl FromStr for OfferId {
    type Err = ParseError;

    /// A positive decimal integer up to `i64::MAX`.
    fn from_str(input: &str) -> Result<OfferId, ParseError> {
        match input.parse::<OfferRef>()? {
            OfferRef::Existing(id) => Ok(id),
            OfferRef::New => Err(offer_error(ParseErrorKind::OfferIdZero, input)),
        }
    }
}

/// Which offer a ManageSellOffer/ManageBuyOffer operation acts on: its `offerID` field.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum OfferRef {
    /// `offerID = 0`: create a new offer.
    New,
    /// Update the offer, or delete it if the operation's amount is 0.
    Existing(OfferId),
}

impl OfferRef {
    /// From the XDR `offerID` (`int64`): 0 is [`OfferRef::New`]; negative is an error.
    pub fn from_xdr(id: i64) -> Result<OfferRef, ParseError> {
        match id {
            0 => Ok(OfferRef::New),
            1.. => Ok(OfferRef::Existing(OfferId(id))),
            _ => Err(offer_error(ParseErrorKind::Negative, &id.to_string())),
        }
    }

    /// The XDR `offerID`: 0 for [`OfferRef::New`].
    pub const fn to_xdr(self) -> i64 {
        match self {
            OfferRef::New => 0,
            OfferRef::Existing(id) => id.get(),
        }
    }
}

impl fmt::Display for OfferRef {
    /// The XDR number, as the CLI's `--offer-id` takes it: `0` for a new offer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_xdr(), f)
    }
}

impl FromStr for OfferRef {
    type Err = ParseError;

    /// A decimal integer `0..=i64::MAX`; `0` is [`OfferRef::New`].
    fn from_str(input: &str) -> Result<OfferRef, ParseError> {
        let value = parse_u64(input, OFFER_ID_MAX_TEXT)
            .and_then(|value| i64::try_from(value).map_err(|_| too_large(OFFER_ID_MAX_TEXT)))
            .map_err(|kind| offer_error(kind, input))?;
        OfferRef::from_xdr(value)
    }
}

fn offer_error(kind: ParseErrorKind, input: &str) -> ParseError {
    ParseError::new(Subject::OfferId, kind, input)
}

/// Our own id for an order, chosen by the engine or strategy; any `u64`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientOrderId(u64);

impl ClientOrderId {
    pub const fn new(id: u64) -> ClientOrderId {
        ClientOrderId(id)
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientOrderId({})", self.0)
    }
}

impl FromStr for ClientOrderId {
    type Err = ParseError;

    /// A decimal integer `0..=u64::MAX`.
    fn from_str(input: &str) -> Result<ClientOrderId, ParseError> {
        parse_u64(input, CLIENT_ORDER_ID_MAX_TEXT)
            .map(ClientOrderId)
            .map_err(|kind| ParseError::new(Subject::ClientOrderId, kind, input))
    }
}

fn too_large(max: &'static str) -> ParseErrorKind {
    ParseErrorKind::TooLarge { max }
}

fn parse_u64(input: &str, max_text: &'static str) -> Result<u64, ParseErrorKind> {
    let digits = decimal::lex_integer(input)?;
    decimal::digits_value(digits).and_then(|value| u64::try_from(value).ok()).ok_or(too_large(max_text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind as K;

    #[test]
    fn offer_ids() {
        assert_eq!("1".parse::<OfferId>().map(OfferId::get), Ok(1));
        assert_eq!(OfferId::new(i64::MAX).map(OfferId::get), Ok(i64::MAX));
        assert_eq!(OfferId::new(7).unwrap().to_string(), "7");
        assert_eq!(format!("{:?}", OfferId::new(7).unwrap()), "OfferId(7)");
        assert_eq!(OfferId::new(0).unwrap_err().kind(), K::OfferIdZero);
        assert_eq!(OfferId::new(-1).unwrap_err().kind(), K::Negative);
        assert_eq!("0".parse::<OfferId>().unwrap_err().kind(), K::OfferIdZero);
        assert_eq!(
            "0".parse::<OfferId>().unwrap_err().to_string(),
            "offer id \"0\": 0 is not an offer id (in ManageOffer operations it means \
             \"create a new offer\")"
        );
        let kind = |s: &str| s.parse::<OfferId>().unwrap_err().kind();
        assert_eq!(kind("9223372036854775808"), K::TooLarge { max: OFFER_ID_MAX_TEXT });
        assert_eq!(kind("99999999999999999999999"), K::TooLarge { max: OFFER_ID_MAX_TEXT });
        assert_eq!(kind("-1"), K::SignNotAllowed);
        assert_eq!(kind(""), K::Empty);
        assert_eq!(kind("01"), K::LeadingZero);
        assert_eq!(kind("1.0"), K::UnexpectedChar { ch: '.', at: 1 });
        assert_eq!(kind("1e3"), K::Exponent);
        assert_eq!(kind(" 1"), K::Whitespace);
    }

    #[test]
    fn offer_refs() {
        assert_eq!(OfferRef::from_xdr(0), Ok(OfferRef::New));
        assert_eq!(OfferRef::from_xdr(5), Ok(OfferRef::Existing(OfferId::new(5).unwrap())));
        assert_eq!(OfferRef::from_xdr(i64::MIN).unwrap_err().kind(), K::Negative);
        assert_eq!(OfferRef::New.to_xdr(), 0);
        assert_eq!(OfferRef::from_xdr(42).unwrap().to_xdr(), 42);
        assert_eq!("0".parse::<OfferRef>(), Ok(OfferRef::New));
        assert_eq!("42".parse::<OfferRef>().map(OfferRef::to_xdr), Ok(42));
        assert_eq!(OfferRef::New.to_string(), "0");
        assert_eq!(
            "-1".parse::<OfferRef>().unwrap_err().to_string(),
            "offer id \"-1\": has a sign; write it without one"
        );
    }

    #[test]
    fn client_order_ids() {
        assert_eq!("0".parse::<ClientOrderId>(), Ok(ClientOrderId::new(0)));
        assert_eq!("18446744073709551615".parse::<ClientOrderId>().map(ClientOrderId::get), Ok(u64::MAX));
        assert_eq!(
            "18446744073709551616".parse::<ClientOrderId>().unwrap_err().kind(),
            K::TooLarge { max: CLIENT_ORDER_ID_MAX_TEXT }
        );
        assert_eq!(ClientOrderId::new(9).to_string(), "9");
        assert_eq!(format!("{:?}", ClientOrderId::new(9)), "ClientOrderId(9)");
        assert_eq!("x".parse::<ClientOrderId>().unwrap_err().kind(), K::UnexpectedChar { ch: 'x', at: 0 });
    }
}
