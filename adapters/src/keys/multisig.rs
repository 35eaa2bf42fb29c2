//! Collecting signatures from several stores until an account's threshold is met. Work in progress.
