//! Fuzzes reading an input event in place from journal payload bytes (rkyv validation), and the
//! conversion of its wire fields into validated domain types. A journal is checksummed and
//! chained, but a reader must still never misbehave on bytes it did not write.
//!
//! Properties: no panic; whatever validates re-serializes to an archive that reads back equal;
//! and applying it to an engine (fresh, and with a session started) never panics and leaves
//! the engine's derived aggregates consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{self, ArchivedInput, Input, SessionStart};
use starlog_engine::incident::IncidentConfig;
use starlog_engine::risk::{RiskLimits, ValidationLevel};
use starlog_engine::throttle::ThrottleConfig;

fn config() -> EngineConfig {
    EngineConfig {
        risk: RiskLimits {
            order_amount_stroops_max: i64::MAX,
            order_notional_stroops_max: i64::MAX,
            price_band_bps_max: 500,
            open_orders_pair_max: 100,
            open_orders_total_max: 100,
            inventory_stroops_max: i64::MAX,
            daily_loss_stroops_max: i64::MAX,
        },
        throttle: ThrottleConfig::DEFAULT,
        validation: ValidationLevel::Strict,
        incidents: IncidentConfig::DEFAULT,
    }
}

/// The archived bytes of a session start, to put an engine in session before the fuzz input.
fn session_bytes() -> &'static rkyv::util::AlignedVec {
    static BYTES: OnceLock<rkyv::util::AlignedVec> = OnceLock::new();
    BYTES.get_or_init(|| {
        let pair: starlog_engine::Pair =
            "native/USD:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN".parse().expect("pair");
        events::to_bytes(&Input::SessionStart(SessionStart {
            config_hash: [0; 32],
            config: String::new(),
            security_level: 1,
            validation_level: 3,
            seed: 0,
            account: [9; 32],
            pairs: vec![pair.into()],
        }))
        .expect("serializes")
    })
}

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
    for started in [false, true] {
        let mut engine = Engine::new(config()).expect("valid config");
        let mut out = Vec::new();
        if started {
            engine.apply(1, 0, events::access(session_bytes()).expect("session"), &mut out);
        }
        engine.apply(2, 1, archived, &mut out);
        engine.apply(3, 2, archived, &mut out);
        assert!(engine.check_aggregates().is_ok());
        let _ = engine.state_hash();
    }
    let input: Input = rkyv::deserialize::<Input, rkyv::rancor::Error>(archived).expect("validated archive deserializes");
    let again = events::to_bytes(&input).expect("serializes");
    let back: Input = rkyv::deserialize::<Input, rkyv::rancor::Error>(events::access(&again).expect("reads back"))
        .expect("deserializes");
    assert_eq!(back, input);
});
