//! The audit timeline and state of a session with operator commands: each command and who gave
//! it, the refusals a tightened limit causes with their reject codes by name, and the state
//! before and after a halt.

mod session;

use session::{book, config_text, start_inputs};
use starlog_adapters::core_loop::CoreLoop;
use starlog_engine::events::{Command, Input, OperatorCommand};
use starlog_journal::Durability;
use starlog_sim::audit::{state_at, timeline};
use starlog_sim::replay::{Alterations, engine_for};

#[test]
fn an_operator_halt_shows_with_its_operator_its_refusals_and_the_state_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_for(&config_text(), Alterations::default()).unwrap();
    let mut core = CoreLoop::open(dir.path(), engine, Durability::None, 1 << 20).unwrap();
    let mut inputs = start_inputs();
    inputs.extend([
        // An order amount limit of one stroop: the market maker's quotes on the book are refused.
        Input::Operator(OperatorCommand { operator: "bob".into(), command: Command::SetLimit { limit: 1, value: 1 } }),
        book(990),
        Input::Operator(OperatorCommand { operator: "alice".into(), command: Command::Halt }),
    ]);
    let mut intents = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        core.process_batch([input], 1_000_000_000 * (i as i64 + 1), &mut intents).unwrap();
    }
    assert!(intents.is_empty(), "nothing was sent: {intents:?}");
    drop(core);

    let all = timeline(dir.path(), 1, u64::MAX, &[]).unwrap();
    let operator: Vec<_> = all.iter().filter(|e| e.kind == "operator").collect();
    assert_eq!(operator.len(), 2, "{all:?}");
    assert_eq!((operator[0].seq, operator[0].source, operator[1].seq), (3, "input", 5));
    assert!(operator[0].detail.starts_with("bob: SetLimit"), "{:?}", operator[0]);
    assert!(operator[1].detail.starts_with("alice: Halt"), "{:?}", operator[1]);
    let refused: Vec<_> = all.iter().filter(|e| e.kind == "decision").collect();
    assert!(!refused.is_empty(), "the quotes were decided: {all:?}");
    assert!(
        refused
            .iter()
            .all(|e| e.seq == 4 && e.source == "output" && e.detail.ends_with("rejected order_amount_max (300)")),
        "{refused:?}"
    );
    // Only the kinds asked for, and only the seqs asked for.
    let only = timeline(dir.path(), 1, u64::MAX, &["operator".into()]).unwrap();
    assert_eq!(only.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 5]);
    let window = timeline(dir.path(), 4, 4, &[]).unwrap();
    assert!(window.iter().all(|e| e.seq == 4) && window.len() == 1 + refused.len(), "{window:?}");
    assert!(timeline(dir.path(), 1, u64::MAX, &["nonsense".into()]).is_err());

    // The state just before the halt and just after it.
    let (before, after) = (state_at(dir.path(), 4).unwrap(), state_at(dir.path(), 5).unwrap());
    assert_eq!((before["halted"].clone(), after["halted"].clone()), (false.into(), true.into()), "{before} {after}");
    assert_eq!(after["locked_down"], false);
}
