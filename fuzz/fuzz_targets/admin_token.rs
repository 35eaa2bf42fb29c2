//! Fuzzes admin session token decoding ([`TokenKey::decode`], untrusted `Authorization` text).
//!
//! Input: the text to decode; and, XORed into a valid token's text, a change to it.
//!
//! Properties: no panic; what decodes encodes back to exactly the text given (one spelling per
//! token); a valid token changed anywhere never decodes (the MAC covers every byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_adapters::admin::auth::{Role, Token, TokenKey};

fuzz_target!(|data: &[u8]| {
    let key = TokenKey::from_bytes([5; 32]);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(token) = key.decode(text)
    {
        assert_eq!(key.encode(&token), text, "one spelling per token");
    }
    let valid = key.encode(&Token { session: [7; 16], expires_s: 1_900_000_000, role: Role::Trader });
    let mut changed = valid.clone().into_bytes();
    for (i, b) in data.iter().enumerate() {
        let at = i % changed.len();
        changed[at] ^= b;
    }
    if let Ok(text) = std::str::from_utf8(&changed)
        && text != valid
    {
        assert!(key.decode(text).is_err(), "a changed token decoded: {text:?}");
    }
});
