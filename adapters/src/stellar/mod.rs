//! Stellar on the wire: networks and their ids, conversions between the engine's domain types
//! and `stellar-xdr`'s, building and signing offer transactions ([`tx`]), reading
//! transaction results ([`result`]).
//!
//! XDR from outside (Horizon, the simulator, the CLI) is decoded with [`decode_limits`]: a
//! depth limit and a byte limit equal to the input, so hostile input cannot recurse deeply or
//! make the decoder allocate more than it was sent.

pub mod result;
pub mod tx;

use core::fmt;

use sha2::{Digest, Sha256};
use starlog_engine::{AccountId, Asset, AssetCode4, AssetCode12, ParseError, Price};
use stellar_xdr as xdr;

/// Passphrase of the public network ("pubnet").
pub const PUBLIC_PASSPHRASE: &str = "Public Global Stellar Network ; September 2015";
/// Passphrase of the SDF test network.
pub const TESTNET_PASSPHRASE: &str = "Test SDF Network ; September 2015";
/// Longest network passphrase accepted, in bytes.
pub const PASSPHRASE_BYTES_MAX: usize = 256;
/// XDR nesting depth allowed when decoding untrusted input.
pub const XDR_DEPTH_MAX: u32 = 64;

/// A Stellar network, known by its passphrase. Its id (what transaction hashes commit to) is
/// the SHA-256 of the passphrase.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Network {
    passphrase: String,
    id: [u8; 32],
}

impl Network {
    /// `testnet`, `public`, or any other text taken as the passphrase itself (e.g. a private
    /// network's "Standalone Network ; February 2017").
    pub fn parse(text: &str) -> Result<Network, NetworkError> {
        match text {
            "testnet" => Ok(Network::from_passphrase(TESTNET_PASSPHRASE)),
            "public" | "pubnet" | "mainnet" => Ok(Network::from_passphrase(PUBLIC_PASSPHRASE)),
            "" => Err(NetworkError("is empty; expected testnet, public or a network passphrase")),
            _ if text.len() > PASSPHRASE_BYTES_MAX => Err(NetworkError("passphrase is longer than 256 bytes")),
            _ if text.chars().any(char::is_control) => Err(NetworkError("passphrase contains control characters")),
            _ => Ok(Network::from_passphrase(text)),
        }
    }

    pub fn from_passphrase(passphrase: &str) -> Network {
        let id = Sha256::digest(passphrase.as_bytes()).into();
        Network { passphrase: passphrase.to_owned(), id }
    }

    pub fn passphrase(&self) -> &str {
        &self.passphrase
    }

    /// SHA-256 of the passphrase.
    pub const fn id(&self) -> [u8; 32] {
        self.id
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Network({:?})", self.passphrase)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.passphrase.as_str() {
            TESTNET_PASSPHRASE => f.write_str("testnet"),
            PUBLIC_PASSPHRASE => f.write_str("public"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A `--network` value that is not a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkError(&'static str);

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "network {}", self.0)
    }
}

impl std::error::Error for NetworkError {}

/// Limits for decoding `bytes` of untrusted XDR.
pub fn decode_limits(bytes: usize) -> xdr::Limits {
    xdr::Limits { depth: XDR_DEPTH_MAX, len: bytes }
}

pub fn account_to_xdr(account: &AccountId) -> xdr::AccountId {
    xdr::AccountId(xdr::PublicKey::PublicKeyTypeEd25519(xdr::Uint256(*account.as_bytes())))
}

pub fn account_from_xdr(account: &xdr::AccountId) -> AccountId {
    let xdr::PublicKey::PublicKeyTypeEd25519(xdr::Uint256(bytes)) = &account.0;
    AccountId::from_bytes(*bytes)
}

pub fn muxed_to_xdr(account: &AccountId) -> xdr::MuxedAccount {
    xdr::MuxedAccount::Ed25519(xdr::Uint256(*account.as_bytes()))
}

/// The ed25519 account behind a muxed account (the mux id is dropped: it does not sign).
pub fn muxed_from_xdr(account: &xdr::MuxedAccount) -> AccountId {
    match account {
        xdr::MuxedAccount::Ed25519(xdr::Uint256(bytes)) => AccountId::from_bytes(*bytes),
        xdr::MuxedAccount::MuxedEd25519(muxed) => AccountId::from_bytes(muxed.ed25519.0),
    }
}

pub fn asset_to_xdr(asset: &Asset) -> xdr::Asset {
    match asset {
        Asset::Native => xdr::Asset::Native,
        Asset::CreditAlphanum4 { code, issuer } => xdr::Asset::CreditAlphanum4(xdr::AlphaNum4 {
            asset_code: xdr::AssetCode4(code.to_xdr_bytes()),
            issuer: account_to_xdr(issuer),
        }),
        Asset::CreditAlphanum12 { code, issuer } => xdr::Asset::CreditAlphanum12(xdr::AlphaNum12 {
            asset_code: xdr::AssetCode12(code.to_xdr_bytes()),
            issuer: account_to_xdr(issuer),
        }),
    }
}

/// An XDR asset as the engine's; errors on non-canonical codes (stellar-core would too).
pub fn asset_from_xdr(asset: &xdr::Asset) -> Result<Asset, ParseError> {
    Ok(match asset {
        xdr::Asset::Native => Asset::Native,
        xdr::Asset::CreditAlphanum4(a) => Asset::CreditAlphanum4 {
            code: AssetCode4::from_xdr_bytes(a.asset_code.0)?,
            issuer: account_from_xdr(&a.issuer),
        },
        xdr::Asset::CreditAlphanum12(a) => Asset::CreditAlphanum12 {
            code: AssetCode12::from_xdr_bytes(a.asset_code.0)?,
            issuer: account_from_xdr(&a.issuer),
        },
    })
}

pub fn price_to_xdr(price: Price) -> xdr::Price {
    xdr::Price { n: price.n(), d: price.d() }
}

pub fn price_from_xdr(price: &xdr::Price) -> Result<Price, ParseError> {
    Price::new(price.n, price.d)
}

/// Lower-case hex of `bytes` (hashes in JSON and logs): the journal's, re-exported.
pub use starlog_journal::hex;

/// The `N` bytes written as exactly `2N` hex digits (either case), or `None`.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_ids_are_sha256_of_the_passphrase() {
        let testnet = Network::parse("testnet").unwrap();
        assert_eq!(hex(&testnet.id()), "cee0302d59844d32bdca915c8203dd44b33fbb7edc19051ea37abedf28ecd472");
        let public = Network::parse("public").unwrap();
        assert_eq!(hex(&public.id()), "7ac33997544e3175d266bd022439b22cdb16508c01163f26e5cb2a3e1045a979");
        assert_eq!(Network::parse(PUBLIC_PASSPHRASE).unwrap(), public);
        assert_eq!(public.to_string(), "public");
        assert!(Network::parse("").is_err());
        assert!(Network::parse("a\nb").is_err());
    }

    #[test]
    fn assets_round_trip_through_xdr() {
        for text in [
            "native",
            "USD:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
            "ABCDEFGHIJKL:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
        ] {
            let asset: Asset = text.parse().unwrap();
            assert_eq!(asset_from_xdr(&asset_to_xdr(&asset)).unwrap(), asset);
        }
        let bad = xdr::Asset::CreditAlphanum4(xdr::AlphaNum4 {
            asset_code: xdr::AssetCode4(*b"U\0SD"),
            issuer: account_to_xdr(&AccountId::from_bytes([1; 32])),
        });
        assert!(asset_from_xdr(&bad).is_err());
    }
}
