//! The core loop end to end on real journals: write-ahead order, outputs tagged with their
//! input, replay identity, restart after a crash between the input and output commits, and the
//! refusal to resume with an engine that no longer reproduces the journal.

use std::path::Path;

use starlog_adapters::core_loop::{CoreError, CoreLoop, INPUT_DIR, OUTPUT_DIR, WIRE_FILE, check_wire};
use starlog_adapters::snapshots::{self, SNAPSHOT_DIR, SnapshotPolicy};
use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{
    AccountSnapshot, Balance, BookSnapshot, Command, Input, Level, OperatorCommand, SecurityEvent, SessionStart, Timer,
    WireAsset, WirePrice,
};
use starlog_engine::incident::IncidentConfig;
use starlog_engine::outputs::{self, Output, OutputRecord};
use starlog_engine::risk::{RiskLimits, ValidationLevel};
use starlog_engine::throttle::ThrottleConfig;
use starlog_engine::{Asset, Pair};
use starlog_journal::{Durability, JournalReader};

const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
const SEGMENT: u64 = 64 * 1024;

fn config(incidents: IncidentConfig) -> EngineConfig {
    EngineConfig {
        risk: RiskLimits {
            order_amount_stroops_max: 10_000_000_000,
            order_notional_stroops_max: 10_000_000_000,
            price_band_bps_max: 500,
            open_orders_pair_max: 10,
            open_orders_total_max: 20,
            inventory_stroops_max: 50_000_000_000,
            daily_loss_stroops_max: 1_000_000_000,
        },
        throttle: ThrottleConfig::DEFAULT,
        validation: ValidationLevel::Strict,
        incidents,
    }
}

fn engine() -> Engine {
    Engine::new(config(IncidentConfig::DEFAULT)).unwrap()
}

/// A session's worth of inputs: start, books, account, operator commands, security events.
fn script() -> Vec<Input> {
    let pair: Pair = format!("native/USD:{ISSUER}").parse().unwrap();
    let usd: Asset = format!("USD:{ISSUER}").parse().unwrap();
    let mut v = vec![Input::SessionStart(SessionStart {
        config_hash: [1; 32],
        config: "validation_level = \"strict\"\n".into(),
        security_level: 2,
        validation_level: 3,
        seed: 11,
        account: [9; 32],
        pairs: vec![pair.into()],
    })];
    for i in 0..30 {
        v.push(Input::Book(BookSnapshot {
            pair: 0,
            bids: vec![Level { price: WirePrice { n: 990 - i, d: 10_000 }, amount_stroops: 5_000_000 }],
            asks: vec![Level { price: WirePrice { n: 1010 + i, d: 10_000 }, amount_stroops: 5_000_000 }],
        }));
        if i % 7 == 0 {
            v.push(Input::Timer(Timer {}));
        }
    }
    let line = |asset: Asset| Balance {
        asset: WireAsset::from(asset),
        balance_stroops: 10_000_000_000,
        buying_liabilities_stroops: 0,
        selling_liabilities_stroops: 0,
        limit_stroops: i64::MAX,
    };
    v.push(Input::Account(AccountSnapshot {
        account: [9; 32],
        ledger: 1,
        sequence: 5,
        subentry_count: 1,
        num_sponsoring: 0,
        num_sponsored: 0,
        base_reserve_stroops: 5_000_000,
        balances: vec![line(Asset::Native), line(usd)],
        offers: vec![],
    }));
    v.push(Input::Operator(OperatorCommand { operator: "ops".into(), command: Command::Halt }));
    v.push(Input::Operator(OperatorCommand { operator: "ops".into(), command: Command::Resume }));
    for _ in 0..3 {
        v.push(Input::Security(SecurityEvent::AuthFailure { operator: "mallory".into() }));
    }
    v.push(Input::Book(BookSnapshot { pair: 0, bids: vec![], asks: vec![] }));
    v
}

/// Run `inputs` through a core loop in batches of `batch`, one time step per batch.
fn run(dir: &Path, engine: Engine, inputs: &[Input], batch: usize) -> CoreLoop {
    let mut core = CoreLoop::open(dir, engine, Durability::None, SEGMENT).unwrap();
    let mut intents = Vec::new();
    for (i, chunk) in inputs.chunks(batch).enumerate() {
        core.process_batch(chunk.iter().cloned(), 1_000 + i as i64 * 1_000_000, &mut intents).unwrap();
    }
    core
}

fn output_records(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    let r = JournalReader::open(dir.join(OUTPUT_DIR)).unwrap();
    r.iter().map(|x| x.unwrap()).map(|x| (x.seq, x.payload.to_vec())).collect()
}

#[test]
fn inputs_are_journaled_before_they_act_and_outputs_name_their_input() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = script();
    let core = run(dir.path(), engine(), &inputs, 4);
    // The input journal holds exactly the inputs, in order, with non-decreasing times.
    let r = JournalReader::open(dir.path().join(INPUT_DIR)).unwrap();
    let journaled: Vec<Input> = r
        .iter()
        .map(|x| x.unwrap())
        .map(|x| {
            rkyv::deserialize::<Input, rkyv::rancor::Error>(starlog_engine::events::access(x.payload).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(journaled, inputs);
    // Outputs: refused inputs (the empty book is fine; nothing is refused here), controls for
    // the halt and resume, P2 incidents for the auth failures; each names its input.
    let outs: Vec<OutputRecord> = output_records(dir.path())
        .iter()
        .map(|(_, b)| rkyv::deserialize::<OutputRecord, rkyv::rancor::Error>(outputs::access(b).unwrap()).unwrap())
        .collect();
    let halt_seq = inputs.iter().position(|i| matches!(i, Input::Operator(_))).unwrap() as u64 + 1;
    assert!(
        matches!(&outs[0], OutputRecord { input_seq, output: Output::Control(c) } if *input_seq == halt_seq && c.by == "ops")
    );
    assert_eq!(outs.iter().filter(|o| matches!(o.output, Output::Incident(_))).count(), 3);
    assert!(outs.windows(2).all(|w| w[0].input_seq <= w[1].input_seq));
    assert!(core.engine().book(0).unwrap().best_bid().is_none());
}

#[test]
fn replay_of_the_input_journal_reproduces_outputs_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let live = run(dir.path(), engine(), &script(), 3);
    let live_hash = live.engine().state_hash();
    drop(live);
    // A fresh engine fed the journaled inputs, in place, outside the core loop.
    let mut fresh = engine();
    let r = JournalReader::open(dir.path().join(INPUT_DIR)).unwrap();
    let mut regenerated = Vec::new();
    for rec in r.iter() {
        let rec = rec.unwrap();
        let mut out = Vec::new();
        fresh.apply(rec.seq, rec.timestamp_ns, starlog_engine::events::access(rec.payload).unwrap(), &mut out);
        for output in out {
            regenerated.push(outputs::to_bytes(&OutputRecord { input_seq: rec.seq, output }).unwrap().to_vec());
        }
    }
    let journaled: Vec<Vec<u8>> = output_records(dir.path()).into_iter().map(|(_, b)| b).collect();
    assert_eq!(regenerated, journaled, "byte-identical outputs");
    assert_eq!(fresh.state_hash(), live_hash);
}

#[test]
fn a_restart_resumes_with_the_same_state_and_continues_the_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = script();
    let (first, second) = inputs.split_at(20);
    let whole = tempfile::tempdir().unwrap();
    let uninterrupted = run(whole.path(), engine(), &inputs, 5);
    drop(run(dir.path(), engine(), first, 5));
    let mut core = CoreLoop::open(dir.path(), engine(), Durability::Batch, SEGMENT).unwrap();
    let mut intents = Vec::new();
    for (i, chunk) in second.chunks(5).enumerate() {
        core.process_batch(chunk.iter().cloned(), 1_000 + (i as i64 + 4) * 1_000_000, &mut intents).unwrap();
    }
    assert_eq!(core.engine().state_hash(), uninterrupted.engine().state_hash());
    assert_eq!(output_records(dir.path()), output_records(whole.path()));
}

#[test]
fn outputs_lost_in_a_crash_are_regenerated_once() {
    let dir = tempfile::tempdir().unwrap();
    drop(run(dir.path(), engine(), &script(), 50));
    let complete = output_records(dir.path());
    assert!(complete.len() >= 4);
    // The crash: the last two output records never reached the journal.
    let cut = crashed_copy(dir.path(), complete.len() - 2);
    let core = CoreLoop::open(cut.path(), engine(), Durability::None, SEGMENT).unwrap();
    drop(core);
    assert_eq!(output_records(cut.path()), complete, "regenerated exactly the missing outputs");
    // Opening again adds nothing.
    drop(CoreLoop::open(cut.path(), engine(), Durability::None, SEGMENT).unwrap());
    assert_eq!(output_records(cut.path()), complete);
}

#[test]
fn resuming_with_an_engine_that_disagrees_with_the_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(run(dir.path(), engine(), &script(), 50));
    // Keep all but the last output, so that resuming re-derives the last input's outputs and
    // compares them with the journaled ones: an engine whose incident thresholds differ
    // classifies the auth failures differently.
    let complete = output_records(dir.path());
    let cut = crashed_copy(dir.path(), complete.len() - 1);
    let strict = IncidentConfig { auth_failures_max: 2, ..IncidentConfig::DEFAULT };
    let err = CoreLoop::open(cut.path(), Engine::new(config(strict)).unwrap(), Durability::None, SEGMENT).unwrap_err();
    assert!(matches!(err, CoreError::Divergence { .. }), "{err}");
    assert!(err.to_string().contains("restart diverged"), "{err}");
}

/// A copy of the session in `dir` as a crash would leave it: every input, but only the first
/// `keep` output records.
fn crashed_copy(dir: &Path, keep: usize) -> tempfile::TempDir {
    let cut = tempfile::tempdir().unwrap();
    copy_dir(&dir.join(INPUT_DIR), &cut.path().join(INPUT_DIR));
    let opts =
        starlog_journal::JournalOptions { segment_size_bytes: SEGMENT, durability: Durability::None, sync_hook: None };
    let (mut w, _) = starlog_journal::JournalWriter::open(cut.path().join(OUTPUT_DIR), opts).unwrap();
    let r = JournalReader::open(dir.join(OUTPUT_DIR)).unwrap();
    for rec in r.iter().map(|x| x.unwrap()).take(keep) {
        w.append(rec.kind, rec.timestamp_ns, rec.payload).unwrap();
    }
    w.commit().unwrap();
    cut
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "seg") {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// Signed checkpoints pin both chains: they verify as written; a key other than the trusted one
/// is refused; a journal cut back to an earlier, perfectly valid state — which its own
/// verification cannot notice — no longer matches what was signed.
#[test]
fn signed_checkpoints_pin_both_chains_against_truncation_and_other_keys() {
    use starlog_adapters::checkpoint::{self, Checkpoint, CheckpointError, Head};
    use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind};
    let signer = |b: u8| SeedSigner::new(&Seed::from_bytes([b; 32]), StoreKind::Env, "test".into());
    let (mut ours, mut theirs) = (signer(1), signer(2));
    let head = |c: starlog_journal::Commit| Head { seq: c.last_seq, chain: c.chain_head };
    let dir = tempfile::tempdir().unwrap();
    let early = tempfile::tempdir().unwrap();
    let inputs = script();
    let (first, second) = inputs.split_at(inputs.len() / 2);
    let mut core = run(dir.path(), engine(), first, 4);
    // The journal as it was half way, copied aside (a valid journal in its own right).
    copy_dir(&dir.path().join(INPUT_DIR), &early.path().join(INPUT_DIR));
    let c1 = Checkpoint::sign(&mut ours, 1, head(core.input_head()), head(core.output_head())).unwrap();
    checkpoint::append(dir.path(), &c1).unwrap();
    let mut intents = Vec::new();
    for (i, chunk) in second.chunks(4).enumerate() {
        core.process_batch(chunk.iter().cloned(), 50_000_000 + i as i64, &mut intents).unwrap();
    }
    let c2 = Checkpoint::sign(&mut ours, 2, head(core.input_head()), head(core.output_head())).unwrap();
    checkpoint::append(dir.path(), &c2).unwrap();
    drop(core);

    let report = checkpoint::verify(dir.path(), Some(&ours.public_key())).unwrap();
    assert_eq!((report.checkpoints, report.keys.clone()), (2, vec![ours.public_key()]));
    assert_eq!(report.last, Some((c2.input, c2.output)));
    assert!(matches!(
        checkpoint::verify(dir.path(), Some(&theirs.public_key())),
        Err(CheckpointError::BadSignature { line: 1, .. })
    ));
    // Someone who can edit the files can add checkpoints of their own: only the trusted key
    // tells them apart.
    let forged = Checkpoint::sign(&mut theirs, 3, c2.input, c2.output).unwrap();
    checkpoint::append(dir.path(), &forged).unwrap();
    assert!(checkpoint::verify(dir.path(), None).is_ok());
    assert!(matches!(
        checkpoint::verify(dir.path(), Some(&ours.public_key())),
        Err(CheckpointError::BadSignature { line: 3, .. })
    ));
    let text = std::fs::read_to_string(dir.path().join(checkpoint::CHECKPOINTS_FILE)).unwrap();
    let honest: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(dir.path().join(checkpoint::CHECKPOINTS_FILE), honest.join("\n") + "\n").unwrap();

    // The input journal cut back to its half-way state: it verifies on its own ...
    std::fs::remove_dir_all(dir.path().join(INPUT_DIR)).unwrap();
    copy_dir(&early.path().join(INPUT_DIR), &dir.path().join(INPUT_DIR));
    JournalReader::open(dir.path().join(INPUT_DIR)).unwrap().verify().unwrap();
    // ... but not against the second checkpoint.
    assert_eq!(
        checkpoint::verify(dir.path(), Some(&ours.public_key())),
        Err(CheckpointError::Mismatch { line: 2, journal: "input", seq: c2.input.seq })
    );
    // A malformed line is named.
    std::fs::write(dir.path().join(checkpoint::CHECKPOINTS_FILE), "{\"time_ns\": 1}\n").unwrap();
    assert!(matches!(checkpoint::verify(dir.path(), None), Err(CheckpointError::Malformed { line: 1, .. })));
}

/// Whoever can write the files can edit a record and rebuild the whole chain after it: the
/// journal then verifies on its own. Only a chain head signed before the edit, with a key the
/// editor does not hold, tells — at the first checkpoint past the edit.
#[test]
fn an_edited_journal_rechained_verifies_alone_but_not_against_a_signed_checkpoint() {
    use starlog_adapters::checkpoint::{self, Checkpoint, CheckpointError, Head};
    use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind};
    use starlog_journal::{JournalOptions, JournalWriter};
    let mut key = SeedSigner::new(&Seed::from_bytes([1; 32]), StoreKind::Env, "test".into());
    let head = |c: starlog_journal::Commit| Head { seq: c.last_seq, chain: c.chain_head };
    let dir = tempfile::tempdir().unwrap();
    let core = run(dir.path(), engine(), &script(), 4);
    let signed = Checkpoint::sign(&mut key, 1, head(core.input_head()), head(core.output_head())).unwrap();
    checkpoint::append(dir.path(), &signed).unwrap();
    drop(core);
    assert!(checkpoint::verify(dir.path(), Some(&key.public_key())).is_ok());

    // One byte of one input's payload changed, every record written again: a fresh chain.
    let input = dir.path().join(INPUT_DIR);
    let records: Vec<(u16, i64, Vec<u8>)> = JournalReader::open(&input)
        .unwrap()
        .iter()
        .map(|r| r.unwrap())
        .map(|r| (r.kind, r.timestamp_ns, r.payload.to_vec()))
        .collect();
    std::fs::remove_dir_all(&input).unwrap();
    let opts = JournalOptions { segment_size_bytes: SEGMENT, durability: Durability::None, sync_hook: None };
    let (mut w, _) = JournalWriter::open(&input, opts).unwrap();
    let edited = records.len() / 2;
    for (i, (kind, ts, mut payload)) in records.into_iter().enumerate() {
        if i == edited {
            let last = payload.len() - 1;
            payload[last] ^= 0x01;
        }
        w.append(kind, ts, &payload).unwrap();
        if i % 4 == 3 {
            w.commit().unwrap();
        }
    }
    let rechained = w.commit().unwrap();
    drop(w);
    assert_eq!(rechained.last_seq, signed.input.seq, "the same records, seq for seq");
    assert_ne!(rechained.chain_head, signed.input.chain, "another history");
    let alone = JournalReader::open(&input).unwrap().verify().unwrap();
    assert_eq!(alone.chain_head, rechained.chain_head, "the edited journal verifies on its own");
    assert_eq!(
        checkpoint::verify(dir.path(), Some(&key.public_key())),
        Err(CheckpointError::Mismatch { line: 1, journal: "input", seq: signed.input.seq })
    );
}

fn copy_snapshots(from: &Path, to: &Path) {
    let dir = to.join(SNAPSHOT_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    for (_, p) in snapshots::list(from).unwrap() {
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
}

const EVERY_5: SnapshotPolicy = SnapshotPolicy { every_inputs: 5, kept_max: 3 };

/// Like [`run`], with a snapshot policy.
fn run_with(dir: &Path, policy: SnapshotPolicy, inputs: &[Input], batch: usize, first_step: i64) -> CoreLoop {
    let mut core = CoreLoop::open_with(dir, engine(), Durability::None, SEGMENT, policy).unwrap();
    let mut intents = Vec::new();
    for (i, chunk) in inputs.chunks(batch).enumerate() {
        core.process_batch(chunk.iter().cloned(), 1_000 + (i as i64 + first_step) * 1_000_000, &mut intents).unwrap();
    }
    core
}

/// The engine a full replay of the session's first `seq` inputs gives.
fn replayed_to(dir: &Path, seq: u64) -> Engine {
    let mut e = engine();
    let r = JournalReader::open(dir.join(INPUT_DIR)).unwrap();
    for rec in r.iter().map(|x| x.unwrap()).take_while(|x| x.seq <= seq) {
        e.apply(rec.seq, rec.timestamp_ns, starlog_engine::events::access(rec.payload).unwrap(), &mut Vec::new());
    }
    e
}

#[test]
fn snapshots_are_written_every_n_inputs_kept_bounded_and_match_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = script();
    let core = run_with(dir.path(), EVERY_5, &inputs, 4, 0);
    let head = core.engine().last_seq();
    drop(core);
    let found = snapshots::list(dir.path()).unwrap();
    assert_eq!(found.len(), 3, "the newest three are kept: {found:?}");
    // Batches of 4: the first batch ending at or after each 5 inputs since the last snapshot.
    let seqs: Vec<u64> = found.iter().map(|(s, _)| *s).collect();
    assert!(seqs.windows(2).all(|w| w[1] - w[0] >= 5 && w[1] - w[0] < 9), "{seqs:?}");
    assert!(*seqs.last().unwrap() > head - 9);
    for (seq, path) in &found {
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), format!("{seq:020}.snap"));
        let journal = JournalReader::open(dir.path().join(INPUT_DIR)).unwrap();
        let restored = snapshots::load(path, *seq, &engine(), &journal).unwrap();
        assert_eq!(restored.state_hash(), replayed_to(dir.path(), *seq).state_hash());
    }
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path().join(SNAPSHOT_DIR)).unwrap().count(), 3);
}

#[test]
fn a_restart_from_a_snapshot_continues_exactly_like_an_uninterrupted_run() {
    let inputs = script();
    let (first, second) = inputs.split_at(20);
    let whole = tempfile::tempdir().unwrap();
    let uninterrupted = run(whole.path(), engine(), &inputs, 5);
    let dir = tempfile::tempdir().unwrap();
    drop(run_with(dir.path(), EVERY_5, first, 5, 0));
    let core = run_with(dir.path(), EVERY_5, second, 5, 4);
    assert_eq!(core.restored_from(), 20, "no outputs yet: the newest snapshot is used");
    assert_eq!(core.engine().state_hash(), uninterrupted.engine().state_hash());
    assert_eq!(core.engine().snapshot(), uninterrupted.engine().snapshot());
    drop(core);
    assert_eq!(output_records(dir.path()), output_records(whole.path()));
}

#[test]
fn bad_snapshots_are_skipped_and_stale_ones_deleted() {
    let inputs = script();
    let (first, second) = inputs.split_at(20);
    let whole = tempfile::tempdir().unwrap();
    let uninterrupted = run(whole.path(), engine(), &inputs, 5);
    let dir = tempfile::tempdir().unwrap();
    drop(run_with(dir.path(), EVERY_5, first, 5, 0));
    let snaps = dir.path().join(SNAPSHOT_DIR);
    // The newest is damaged (one flipped bit), a copy of it claims a seq the journal does not
    // have, and a stray file is not a snapshot at all.
    let newest = snaps.join(snapshots::file_name(20));
    let mut bytes = std::fs::read(&newest).unwrap();
    std::fs::write(snaps.join(snapshots::file_name(999)), &bytes).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&newest, &bytes).unwrap();
    std::fs::write(snaps.join("notes.txt"), b"hello").unwrap();
    let core = run_with(dir.path(), EVERY_5, second, 5, 4);
    assert_eq!(core.restored_from(), 15, "the damaged newest is skipped for the one before");
    assert!(!snaps.join(snapshots::file_name(999)).exists(), "a snapshot past the journal's head is deleted");
    assert_eq!(core.engine().state_hash(), uninterrupted.engine().state_hash());
    drop(core);
    assert_eq!(output_records(dir.path()), output_records(whole.path()));
    // Every snapshot unusable (another configuration): a full replay, the same state.
    let again = CoreLoop::open_with(
        dir.path(),
        Engine::new(config(IncidentConfig { auth_failures_max: 4, ..IncidentConfig::DEFAULT })).unwrap(),
        Durability::None,
        SEGMENT,
        SnapshotPolicy { every_inputs: 0, kept_max: 3 },
    );
    // (The script's three auth failures are P2 alerts under either threshold: the same
    // outputs, so the replay agrees with the journal and the session opens.)
    let again = again.unwrap();
    assert_eq!(again.restored_from(), 0);
}

#[test]
fn resume_keeps_the_divergence_check_by_restoring_before_the_last_outputs() {
    let dir = tempfile::tempdir().unwrap();
    drop(run_with(dir.path(), EVERY_5, &script(), 5, 0));
    let complete = output_records(dir.path());
    // The last output was lost in a crash: its input is re-applied from an older snapshot.
    let cut = crashed_copy(dir.path(), complete.len() - 1);
    copy_snapshots(dir.path(), cut.path());
    let last_input = script().len() as u64;
    let core = CoreLoop::open_with(cut.path(), engine(), Durability::None, SEGMENT, EVERY_5).unwrap();
    let from = core.restored_from();
    assert!(from > 0 && from < last_input, "restored from {from}");
    drop(core);
    assert_eq!(output_records(cut.path()), complete, "regenerated exactly the missing output");
    // And an engine that disagrees is still caught (its snapshots do not match its config, so
    // it replays everything, and the last input's outputs differ).
    let cut = crashed_copy(dir.path(), complete.len() - 1);
    copy_snapshots(dir.path(), cut.path());
    let strict = IncidentConfig { auth_failures_max: 2, ..IncidentConfig::DEFAULT };
    let err = CoreLoop::open_with(cut.path(), Engine::new(config(strict)).unwrap(), Durability::None, SEGMENT, EVERY_5)
        .unwrap_err();
    assert!(matches!(err, CoreError::Divergence { .. }), "{err}");
}

/// A session names the wire format of its records; a build refuses to append to a session of
/// another (it would mix layouts in one journal), with one line saying why.
#[test]
fn a_session_of_another_wire_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(run(dir.path(), engine(), &script(), 4));
    let wire = dir.path().join(WIRE_FILE);
    let named = std::fs::read_to_string(&wire).unwrap();
    assert_eq!(named, format!("starlog-wire {}\n", starlog_engine::events::WIRE_VERSION));
    check_wire(dir.path()).unwrap();
    // Reopened by the same build: fine, and the file is left as it was.
    drop(CoreLoop::open(dir.path(), engine(), Durability::None, SEGMENT).unwrap());
    assert_eq!(std::fs::read_to_string(&wire).unwrap(), named);
    // A session written by another format.
    std::fs::write(&wire, "starlog-wire 999\n").unwrap();
    let error = CoreLoop::open(dir.path(), engine(), Durability::None, SEGMENT).unwrap_err();
    assert!(matches!(error, CoreError::Wire(_)), "{error}");
    let line = error.to_string();
    assert!(line.contains("\"starlog-wire 999\"") && line.contains("this build reads starlog-wire"), "{line}");
    assert!(!line.contains('\n'));
    assert!(check_wire(dir.path()).is_err());
    // A huge file is read no further than a line's worth, and named cut short.
    std::fs::write(&wire, "x".repeat(1 << 20)).unwrap();
    let line = check_wire(dir.path()).unwrap_err().to_string();
    assert!(line.len() < 300 && line.contains("\"xxxx"), "{line}");
    // Nothing journaled was touched.
    std::fs::write(&wire, &named).unwrap();
    let core = CoreLoop::open(dir.path(), engine(), Durability::None, SEGMENT).unwrap();
    assert_eq!(core.engine().last_seq(), script().len() as u64);
    drop(core);
    // A session with records and no name (from before sessions named their format) is read
    // as it is, and not named: nothing proves which layout its records have.
    std::fs::remove_file(&wire).unwrap();
    drop(CoreLoop::open(dir.path(), engine(), Durability::None, SEGMENT).unwrap());
    assert!(!wire.exists());
}
