//! Fuzzes reading an output record in place from journal payload bytes (rkyv validation), as
//! replay, `audit show` and a restarting core loop do with the output journal — including an
//! intent's operations (`OneOrMany`: one inline, or a vector), read as a slice in place.
//!
//! Properties: no panic; whatever validates reads every intent operation, formats, and
//! deserializes to a record that re-serializes to an archive that reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;

use starlog_engine::outputs::{self, ArchivedOutput, OutputRecord};

fuzz_target!(|data: &[u8]| {
    // Journal payloads are 16-byte aligned.
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    aligned.extend_from_slice(data);
    let Ok(archived) = outputs::access(&aligned) else { return };
    if let ArchivedOutput::Intent(intent) = &archived.output {
        let ops = intent.ops.as_slice();
        assert_eq!(ops.len(), intent.ops.iter().count());
        for op in ops {
            let _ = (op.order.to_native(), op.amount_stroops.to_native(), op.offer_id.to_native());
        }
    }
    let _ = format!("{archived:?}");
    let record: OutputRecord =
        rkyv::deserialize::<OutputRecord, rkyv::rancor::Error>(archived).expect("validated archive deserializes");
    let again = outputs::to_bytes(&record).expect("serializes");
    let back: OutputRecord =
        rkyv::deserialize::<OutputRecord, rkyv::rancor::Error>(outputs::access(&again).expect("reads back"))
            .expect("deserializes");
    assert_eq!(back, record);
});
