//! starlog-sim: the Horizon-compatible simulated venue, replay, backtests and audit queries.
//! Nothing here yet: it arrives with the simulated-venue and replay issues.
#![forbid(unsafe_code)]
