//! starlog-adapters: the I/O side — Stellar XDR, key stores and signers, the Horizon client and
//! the live runner. Nothing here yet: it arrives with the signing and live-process issues.
#![forbid(unsafe_code)]
