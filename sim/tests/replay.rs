//! Replay against its recording. Unaltered: identical, every input and output accounted for.
//! With the engine's code path altered (the test-only wider spread), the divergence replay
//! reports is the first output that differs — found independently here by applying the recorded
//! inputs to the recorded and to the altered engine side by side — with the recorded and the
//! replayed output rendered. An output journal that lost its last record, or holds one more, is
//! a divergence too.

mod session;

use std::path::Path;

use session::record;
use starlog_adapters::core_loop::{INPUT_DIR, OUTPUT_DIR};
use starlog_engine::events::{self, ArchivedInput};
use starlog_engine::outputs::{self, Output};
use starlog_journal::{Durability, JournalOptions, JournalReader, JournalWriter};
use starlog_sim::replay::{Alterations, engine_for, replay};

/// Each recorded output record's payload, in order.
fn recorded_outputs(dir: &Path) -> Vec<(u16, i64, Vec<u8>)> {
    let r = JournalReader::open(dir.join(OUTPUT_DIR)).unwrap();
    r.iter().map(|x| x.unwrap()).map(|x| (x.kind, x.timestamp_ns, x.payload.to_vec())).collect()
}

/// The first place where the engine altered by `alter` departs from the unaltered one on the
/// recorded inputs: (input seq, output index, unaltered output, altered output), an output being
/// `None` where that engine made fewer.
fn first_difference(dir: &Path, alter: Alterations) -> Option<(u64, usize, Option<Output>, Option<Output>)> {
    let inputs = JournalReader::open(dir.join(INPUT_DIR)).unwrap();
    let mut engines = None;
    for record in inputs.iter() {
        let record = record.unwrap();
        let input = events::access(record.payload).unwrap();
        let (plain, altered) = engines.get_or_insert_with(|| {
            let ArchivedInput::SessionStart(start) = input else { panic!("a session starts with its start") };
            let text = start.config.as_str();
            (engine_for(text, Alterations::default()).unwrap(), engine_for(text, alter).unwrap())
        });
        let (mut expected, mut actual) = (Vec::new(), Vec::new());
        plain.apply(record.seq, record.timestamp_ns, input, &mut expected);
        altered.apply(record.seq, record.timestamp_ns, input, &mut actual);
        if let Some(i) = (0..expected.len().max(actual.len())).find(|&i| expected.get(i) != actual.get(i)) {
            return Some((record.seq, i, expected.get(i).cloned(), actual.get(i).cloned()));
        }
    }
    None
}

#[test]
fn an_unaltered_replay_is_identical_and_accounts_for_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let head = record(dir.path(), 30, 0);
    let report = replay(dir.path(), Alterations::default()).unwrap();
    assert_eq!(report.divergence, None);
    assert_eq!(report.inputs, head, "every input applied");
    assert_eq!(report.outputs as usize, recorded_outputs(dir.path()).len(), "every recorded output matched");
    assert!(report.orders > 0, "the session placed orders: {report:?}");
    assert_eq!(first_difference(dir.path(), Alterations::default()), None);
}

#[test]
fn an_altered_code_path_is_reported_at_its_first_divergent_output() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), 30, 0);
    let recorded = recorded_outputs(dir.path());
    // (One basis point more moves no quote: refresh tolerance and price rounding absorb it.)
    assert_eq!(replay(dir.path(), Alterations { spread_bps: 1 }).unwrap().divergence, None);
    for spread_bps in [7, 40, 100] {
        let alter = Alterations { spread_bps };
        let (seq, index, expected, actual) = first_difference(dir.path(), alter).expect("the alteration shows");
        let report = replay(dir.path(), alter).unwrap();
        let d = report.divergence.clone().expect("a divergence");
        assert_eq!(d.input_seq, seq, "the first divergent input (spread +{spread_bps} bps)");
        assert_eq!(d.output_index, index, "the first divergent output of that input");
        // Every output before it matched; the one replay compared it with is the next recorded.
        let compared = &recorded[report.outputs as usize].2;
        let as_recorded = format!("{:?}", outputs::access(compared).unwrap().output);
        assert_eq!(d.expected.as_deref(), Some(as_recorded.as_str()));
        assert_eq!(d.actual, actual.as_ref().map(|o| format!("{o:?}")));
        assert!(expected.is_some() && actual.is_some(), "a quote moved, not one missing");
        assert!(report.inputs >= 2 && report.inputs <= seq, "replay stopped at the divergence");
    }
}

/// Rewrites the output journal with the first `keep` of `records`, then `extra` more copies of
/// the last one.
fn rewrite_outputs(dir: &Path, records: &[(u16, i64, Vec<u8>)], keep: usize, extra: usize) {
    let out = dir.join(OUTPUT_DIR);
    std::fs::remove_dir_all(&out).unwrap();
    let opts = JournalOptions { segment_size_bytes: 1 << 20, durability: Durability::None, sync_hook: None };
    let (mut w, _) = JournalWriter::open(&out, opts).unwrap();
    let last = records.last().unwrap();
    for (kind, ts, payload) in records.iter().take(keep).chain(std::iter::repeat_n(last, extra)) {
        w.append(*kind, *ts, payload).unwrap();
    }
    w.commit().unwrap();
}

#[test]
fn a_lost_or_an_added_output_record_is_a_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let head = record(dir.path(), 12, 0);
    let records = recorded_outputs(dir.path());
    let n = records.len();
    let last_seq = outputs::access(&records[n - 1].2).unwrap().input_seq.to_native();

    rewrite_outputs(dir.path(), &records, n - 1, 0);
    let report = replay(dir.path(), Alterations::default()).unwrap();
    let d = report.divergence.expect("lost output");
    assert_eq!((d.input_seq, d.expected, d.actual.is_some()), (last_seq, None, true), "replayed, not recorded");
    assert_eq!(report.outputs as usize, n - 1, "every output before it matched");

    rewrite_outputs(dir.path(), &records, n, 1);
    let report = replay(dir.path(), Alterations::default()).unwrap();
    let d = report.divergence.expect("an output no input made");
    assert_eq!((d.input_seq, d.output_index, d.actual), (last_seq, usize::MAX, None), "recorded, not replayed");
    assert!(d.expected.is_some());
    assert_eq!(report.outputs as usize, n, "every real output matched");
    assert!(report.inputs <= head);
}

/// Replay and audit refuse a session that names another wire format: they would read its
/// records with the wrong layout.
#[test]
fn replay_and_audit_refuse_a_session_of_another_wire_format() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), 3, 0);
    std::fs::write(dir.path().join(starlog_adapters::core_loop::WIRE_FILE), "starlog-wire 0\n").unwrap();
    let error = replay(dir.path(), Alterations::default()).unwrap_err();
    assert!(error.to_string().contains("incompatible session"), "{error}");
    let error = starlog_sim::audit::timeline(dir.path(), 1, u64::MAX, &[]).unwrap_err();
    assert!(error.to_string().contains("incompatible session"), "{error}");
    assert!(starlog_sim::audit::engine_at(dir.path(), 1).is_err());
}

/// The market maker's sample session the benchmarks replay: recorded through the core loop, its
/// orders are accepted and produce outputs, and it replays identically.
#[test]
fn the_sample_trading_session_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let head = starlog_sim::sample::record_mixed(dir.path(), 3_000).unwrap();
    assert!(head >= 3_000);
    let report = replay(dir.path(), Alterations::default()).unwrap();
    assert_eq!((&report.divergence, report.inputs), (&None, head));
    assert!(report.orders > 10 && report.outputs > report.orders, "{report:?}");
}
