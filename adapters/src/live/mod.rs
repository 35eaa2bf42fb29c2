//! The live trading process: its configuration ([`config`]), the submission pipeline
//! ([`pipeline`]) between the engine's intents and Horizon, the process itself ([`run`]), what
//! its admin API reads from it ([`ops`]: status and metrics), and market-data recording for
//! backtests ([`record`]).

pub mod config;
pub mod ops;
pub mod pipeline;
pub mod record;
pub mod run;
