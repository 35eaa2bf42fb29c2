//! starlog-sim: the Horizon-compatible simulated venue — SDEX matching ([`sdex`]), the ledger
//! and transaction application ([`ledger`]), Horizon's JSON shapes for its state ([`horizon`]) —
//! and, to come, its HTTP/SSE front, the market generator, replay, backtests and audit queries.
#![forbid(unsafe_code)]

pub mod faults;
pub mod horizon;
pub mod ledger;
pub mod market;
pub mod rng;
pub mod sdex;
pub mod server;
pub mod venue;
