//! Fuzzes every text parser of the engine's domain types (amounts, prices, account ids,
//! assets, pairs, offer and client order ids) with the same input.
//!
//! Properties: no parser panics; every error renders as one line; and whatever parses
//! round-trips: `parse(value.to_string()) == value` (and for prices, the same `n/d`).
#![no_main]

use std::fmt::{Debug, Display};
use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use starlog_engine::{
    AccountId, Amount, Asset, ClientOrderId, OfferId, OfferRef, Pair, ParseError, Price, SignedAmount,
};

/// Parses `input` as a `T`; returns the value if it parsed and round-tripped.
fn check<T>(input: &str) -> Option<T>
where
    T: FromStr<Err = ParseError> + Display + Debug + PartialEq,
{
    match input.parse::<T>() {
        Ok(value) => {
            let text = value.to_string();
            match text.parse::<T>() {
                Ok(again) => assert_eq!(again, value, "{input:?} -> {text:?} -> {again:?}"),
                Err(e) => panic!("{input:?} parsed as {value:?}, but its text {text:?} did not: {e}"),
            }
            // Display is canonical: printing the re-parsed value gives the same text.
            assert_eq!(text.parse::<T>().map(|v| v.to_string()).as_deref(), Ok(text.as_str()));
            Some(value)
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains(['\n', '\r']), "multi-line error: {message:?}");
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    check::<Amount>(input);
    check::<SignedAmount>(input);
    if let Some(price) = check::<Price>(input) {
        // Prices compare by value; the representation must survive too.
        let again: Price = price.to_string().parse().expect("checked above");
        assert_eq!((again.n(), again.d()), (price.n(), price.d()));
    }
    check::<AccountId>(input);
    check::<Asset>(input);
    check::<Pair>(input);
    check::<OfferId>(input);
    check::<OfferRef>(input);
    check::<ClientOrderId>(input);
});
