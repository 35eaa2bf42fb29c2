//! Fuzzes reading an input event in place from journal payload bytes (rkyv validation), and the
//! conversion of its wire fields into validated domain types. A journal is checksummed and
//! chained, but a reader must still never misbehave on bytes it did not write.
//!
//! Properties: no panic; whatever validates re-serializes to an archive that reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_engine::events::{self, ArchivedInput, Input};

fuzz_target!(|data: &[u8]| {
    // Journal payloads are 16-byte aligned.
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    aligned.extend_from_slice(data);
    let Ok(archived) = events::access(&aligned) else { return };
    if let ArchivedInput::SessionStart(s) = archived {
        for p in s.pairs.iter() {
            let _ = p.to_pair();
        }
    }
    if let ArchivedInput::Book(b) = archived {
        for l in b.bids.iter().chain(b.asks.iter()) {
            let _ = l.price.to_price();
        }
    }
    let input: Input = rkyv::deserialize::<Input, rkyv::rancor::Error>(archived).expect("validated archive deserializes");
    let again = events::to_bytes(&input).expect("serializes");
    let back: Input = rkyv::deserialize::<Input, rkyv::rancor::Error>(events::access(&again).expect("reads back"))
        .expect("deserializes");
    assert_eq!(back, input);
});
