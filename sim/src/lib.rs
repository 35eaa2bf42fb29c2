//! starlog-sim: the Horizon-compatible simulated venue — SDEX matching ([`sdex`]), the ledger
//! and transaction application with effects ([`ledger`]), the seeded background market
//! ([`market`]), the venue's clock and friendbot ([`venue`]), Horizon's JSON shapes
//! ([`horizon`]) and its HTTP/SSE front ([`server`]) with fault injection ([`faults`]); replay
//! of recorded sessions ([`replay`]) and forensic queries over them ([`audit`]); the
//! one-command demo ([`demo`]); backtests of recorded market data against a strategy with a
//! simulated execution model ([`backtest`]); the synthetic market-maker session tests and
//! benchmarks record ([`sample`]).
#![forbid(unsafe_code)]

pub mod audit;
pub mod backtest;
pub mod demo;
pub mod faults;
pub mod horizon;
pub mod ledger;
pub mod market;
pub mod replay;
pub mod rng;
pub mod sample;
pub mod sdex;
pub mod server;
pub mod venue;
