//! starlog-sim: the Horizon-compatible simulated venue — SDEX matching ([`sdex`]), the ledger
//! and transaction application ([`ledger`]) — and, to come, its HTTP/SSE front, the market
//! generator, replay, backtests and audit queries.
#![forbid(unsafe_code)]

pub mod ledger;
pub mod sdex;
