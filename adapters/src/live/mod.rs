//! The live trading process: the submission pipeline ([`pipeline`]) between the engine's
//! intents and Horizon.

pub mod pipeline;
