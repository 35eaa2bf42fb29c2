//! Fuzzes reading a transaction result (Horizon's `result_xdr`), as bytes and as base64.
//!
//! Properties: no panic, no unbounded allocation (the decoder's limits are the input's
//! length), every error renders as one line, and what reads as an outcome has no more
//! entries than the input has bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_adapters::stellar::result::{self, ResultError, TxOutcome};

fn check(outcome: Result<TxOutcome, ResultError>, input_bytes: usize) {
    match outcome {
        Ok(TxOutcome::Success { ops, .. }) => {
            assert!(ops.len() <= input_bytes);
            assert!(ops.iter().all(|op| op.claims.len() <= input_bytes));
        }
        Ok(TxOutcome::Failed { op_codes, .. }) => assert!(op_codes.len() <= input_bytes),
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    check(result::parse(data), data.len());
    if let Ok(text) = std::str::from_utf8(data) {
        check(result::parse_base64(text), data.len());
    }
});
