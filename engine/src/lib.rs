//! starlog-engine: the deterministic, single-threaded core (domain types, events, order
//! lifecycle, risk and security checks). It never reads a clock, a socket or a random source.
//!
//! Determinism is enforced by `clippy.toml` in this crate (no clocks, sleeps, thread RNGs,
//! `HashMap`/`HashSet`) and by the lints below (no floating point, no `unwrap`/`expect`,
//! no panicking indexing outside tests).
//!
//! ```
//! use starlog_engine::{Amount, Pair, Price};
//!
//! let amount: Amount = "100".parse()?;
//! assert_eq!(amount.to_string(), "100.0000000"); // as Horizon writes it
//! let price: Price = "0.1234".parse()?; // as the Stellar SDKs convert it
//! assert_eq!((price.n(), price.d()), (617, 5000));
//! assert_eq!(price.notional_floor(amount)?.to_string(), "12.3400000");
//! let pair: Pair = "native/USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN".parse()?;
//! assert_eq!(pair.buying().code(), Some("USDC"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(
    clippy::float_arithmetic,
    clippy::float_cmp,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod amount;
pub mod asset;
pub mod book;
mod decimal;
pub mod engine;
pub mod error;
pub mod events;
mod id_table;
pub mod ids;
pub mod incident;
pub mod lifecycle;
pub mod one_or_many;
pub mod outputs;
pub mod price;
pub mod reserves;
pub mod risk;
pub mod snapshot;
pub mod state_hash;
pub mod strategy;
pub mod throttle;
pub mod twap;

pub use amount::{AMOUNT_DECIMALS, AMOUNT_STROOPS_MAX, Amount, STROOPS_PER_UNIT, SignedAmount};
pub use asset::{AccountId, Asset, AssetCode4, AssetCode12, Pair};
pub use error::{AmountOverflow, ParseError, ParseErrorKind, Subject};
pub use ids::{ClientOrderId, OfferId, OfferRef};
pub use lifecycle::{InvalidTransition, OrderEvent, OrderStatus};
pub use price::{PRICE_COMPONENT_MAX, PRICE_DECIMALS_MAX, Price};
