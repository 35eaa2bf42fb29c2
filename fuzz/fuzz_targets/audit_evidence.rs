//! Fuzzes what `starlog audit verify` reads as evidence: lines of a session's checkpoints file
//! and transaction envelopes from Horizon that may anchor a session.
//!
//! Properties: no panic; a line that parses prints back to a line that parses to the same
//! checkpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_adapters::anchor;
use starlog_adapters::checkpoint::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if mode % 2 == 0 {
        if let Ok(c) = Checkpoint::parse_line(text) {
            assert_eq!(Checkpoint::parse_line(&c.to_line()), Ok(c));
            let _ = c.signature_holds();
        }
    } else {
        let (tag, envelope) = text.split_once('\n').unwrap_or(("starlog.x", text));
        let _ = anchor::tagged_digest(envelope, tag);
    }
});
