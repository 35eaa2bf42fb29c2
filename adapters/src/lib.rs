//! starlog-adapters: the I/O side — the core loop that joins journal and engine, key stores and
//! signers, Stellar transactions (XDR build, hash, sign, result parsing), the signing policy,
//! Horizon's event streams and JSON read into engine inputs, and signed checkpoints of the
//! journals' hash chains with their anchors on the ledger; the admin API (operators, roles,
//! tokens), metrics, incident alerts to a webhook, and the process's structured logs.
#![forbid(unsafe_code)]

pub mod admin;
pub mod alerts;
pub mod anchor;
pub mod checkpoint;
pub mod core_loop;
pub mod horizon;
pub mod keys;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod policy;
pub mod snapshots;
pub mod stellar;
