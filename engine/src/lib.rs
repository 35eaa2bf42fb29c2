//! starlog-engine: the deterministic, single-threaded core (domain types, events, order
//! lifecycle, risk and security checks). It never reads a clock, a socket or a random source.
#![forbid(unsafe_code)]
