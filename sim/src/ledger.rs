//! The simulated ledger. Work in progress.
