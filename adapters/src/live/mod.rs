//! The live trading process: the submission pipeline ([`pipeline`]) between the engine's
//! intents and Horizon.

pub mod config;
pub mod pipeline;
pub mod run;
