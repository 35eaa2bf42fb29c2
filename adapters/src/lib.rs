//! starlog-adapters: the I/O side — the core loop that joins journal and engine, key stores and
//! signers, Stellar transactions (XDR build, hash, sign, result parsing) and the signing policy.
#![forbid(unsafe_code)]

pub mod core_loop;
pub mod keys;
pub mod policy;
pub mod stellar;
