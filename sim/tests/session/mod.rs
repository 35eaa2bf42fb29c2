//! A recorded `starlog run` session for the simulator's integration tests: the market maker on
//! moving books through the core loop, every intent answered with a success, snapshots every 7
//! inputs. Shared by the audit and replay tests.
#![allow(dead_code, reason = "each test binary uses the part it needs")]

use std::path::Path;

use starlog_adapters::core_loop::CoreLoop;
use starlog_adapters::snapshots::SnapshotPolicy;
use starlog_engine::events::{BookSnapshot, Input, Level, Timer, WirePrice};
use starlog_journal::Durability;
use starlog_sim::replay::{Alterations, engine_for};
use starlog_sim::sample;

pub use starlog_sim::sample::config_text;

/// The first inputs of the session: its start and the account, 10 000 XLM and 10 000 USD.
pub fn start_inputs() -> Vec<Input> {
    sample::start_inputs(100_000_000_000)
}

/// A book around `bid` / 10 000 USD per XLM, 20 bps wide, 1 000 XLM a side.
pub fn book(bid: i32) -> Input {
    let level = |n| Level { price: WirePrice { n, d: 10_000 }, amount_stroops: 10_000_000_000 };
    Input::Book(BookSnapshot { pair: 0, bids: vec![level(bid)], asks: vec![level(bid + 20)] })
}

/// Records a session of `rounds` book moves in `dir` through the core loop (snapshots every 7
/// inputs), answering each intent with a success so that orders rest. `shift` moves the books.
pub fn record(dir: &Path, rounds: i32, shift: i32) -> u64 {
    let engine = engine_for(&config_text(), Alterations::default()).unwrap();
    let policy = SnapshotPolicy { every_inputs: 7, kept_max: 100 };
    let mut core = CoreLoop::open_with(dir, engine, Durability::None, 1 << 20, policy).unwrap();
    let mut batch = start_inputs();
    let (mut offer, mut intents) = (100i64, Vec::new());
    for round in 0..rounds {
        batch.push(book(990 + (round * 7 + shift) % 13));
        if round % 4 == 3 {
            batch.push(Input::Timer(Timer {}));
        }
        let now = 1_000_000_000 * i64::from(round + 1);
        core.process_batch(batch.drain(..), now, &mut intents).unwrap();
        for intent in intents.drain(..) {
            batch.push(sample::success(&intent, 2 + round as u32, &mut offer));
        }
    }
    core.engine().last_seq()
}
