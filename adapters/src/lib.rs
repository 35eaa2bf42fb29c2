//! starlog-adapters: the I/O side — the core loop that joins journal and engine, and (to come)
//! Stellar XDR, key stores and signers, the Horizon client and the live runner.
#![forbid(unsafe_code)]

pub mod core_loop;
