//! The core loop (the sequencer): the one place where journal and engine meet. Each batch of
//! inputs is stamped with a seq and an ingress time, appended to the input journal and committed
//! (write-ahead, group commit under the session's durability policy); then each committed record
//! is read back *in place from the journal* and applied to the engine — the very bytes replay
//! will read — and the engine's outputs are appended to the output journal, each tagged with the
//! seq of the input that produced it. Intents are handed to the I/O side.
//!
//! Single-threaded, no locks on its path: inputs arrive on a crossbeam channel, intents leave on
//! another. Time enters only through the clock closure the caller supplies, clamped so that it
//! never goes backwards.
//!
//! Restart: opening a session directory that already has journals brings the engine up to the
//! input journal's head and regenerates the outputs of inputs whose outputs were not all
//! journaled before the crash (checking that the ones that were are byte-identical), so nothing
//! is lost and nothing is emitted twice.
//!
//! Snapshots ([`crate::snapshots`]): every [`SnapshotPolicy::every_inputs`] inputs, after the
//! batch's outputs are committed, the loop writes the engine's snapshot to `snapshots/` (so the
//! outputs of every input up to a snapshot's seq are journaled before the snapshot exists), and
//! keeps the newest few. A restart then starts from a snapshot instead of the first input:
//!
//! - Snapshots with a seq past the input journal's head describe inputs the journal no longer
//!   has (a crash lost them): they are deleted, since new inputs will take those seqs.
//! - The divergence check re-applies the last input that has journaled outputs and compares
//!   them. So resume takes the newest snapshot that restores cleanly from those *before* that
//!   input; only if there is none does it take a newer one (up to the head), for which the
//!   check has nothing left to compare (everything up to it was journaled by the code that
//!   wrote the snapshot).
//! - A snapshot that does not restore (corrupt, another format, configuration or strategy) is
//!   skipped with a warning; with none left, the loop replays from the first input as before.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rkyv::util::AlignedVec;
use starlog_engine::engine::Engine;
use starlog_engine::events::{self, Input};
use starlog_engine::outputs::{self, IncidentOut, Intent, Output, OutputRecord};
use starlog_journal::{Durability, JournalOptions, JournalReader, JournalWriter, Tailer};

use crate::metrics::CoreMetrics;
use crate::snapshots::{self, SnapshotPolicy};

/// Subdirectories of a session directory.
pub const INPUT_DIR: &str = "input";
pub const OUTPUT_DIR: &str = "output";
/// The file in a session directory that names the wire format of its journals' records:
/// `starlog-wire N` ([`events::WIRE_VERSION`]).
pub const WIRE_FILE: &str = "WIRE";

/// A session directory that names another wire format than this build's: its records would be
/// read with the wrong layout.
#[derive(Debug)]
pub struct WireMismatch {
    pub dir: PathBuf,
    /// What the session's [`WIRE_FILE`] says (cut short), or why it cannot be read.
    pub found: String,
}

impl fmt::Display for WireMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "incompatible session: {} holds records of {}; this build reads starlog-wire {} (use the build that wrote it)",
            self.dir.display(),
            self.found,
            events::WIRE_VERSION
        )
    }
}

impl std::error::Error for WireMismatch {}

fn wire_line() -> String {
    format!("starlog-wire {}", events::WIRE_VERSION)
}

/// Check that the session in `dir` holds records of this build's wire format. A session without
/// a [`WIRE_FILE`] (written before sessions named their format, or a bare pair of journals) is
/// read as it is.
pub fn check_wire(dir: &Path) -> Result<(), WireMismatch> {
    let path = dir.join(WIRE_FILE);
    let unreadable =
        |why: String| WireMismatch { dir: dir.to_owned(), found: format!("an unreadable {WIRE_FILE} ({why})") };
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(unreadable(e.to_string())),
        // Not a regular file (a FIFO would block the read): not ours.
        Ok(m) if !m.is_file() => return Err(unreadable("not a regular file".into())),
        Ok(_) => {}
    }
    // One short line is all it holds: read no more than that, whatever the file's size.
    let mut bytes = Vec::with_capacity(64);
    std::fs::File::open(&path)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 64), &mut bytes))
        .map_err(|e| unreadable(e.to_string()))?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim_end() == wire_line() {
        return Ok(());
    }
    let shown: String = text.trim().chars().take(40).collect();
    Err(WireMismatch { dir: dir.to_owned(), found: format!("{shown:?}") })
}

/// Name this build's wire format in a new session (no record yet) that names none. Written
/// whole or not at all: a temporary file, synced, renamed, and the directory synced. A session
/// that already has records and no name (written before sessions named their format) is left
/// unnamed: nothing proves which layout its records have.
fn mark_wire(dir: &Path, fresh: bool) -> Result<(), CoreError> {
    let path = dir.join(WIRE_FILE);
    if !fresh || path.exists() {
        return Ok(());
    }
    let io = |e: std::io::Error| CoreError::SessionIo(format!("cannot write {}: {e}", path.display()));
    let tmp = dir.join(format!(".{WIRE_FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    std::io::Write::write_all(&mut file, format!("{}\n", wire_line()).as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

/// What went wrong, by who is to blame.
#[derive(Debug)]
pub enum CoreError {
    /// The journal refused or failed (I/O, corruption, misuse).
    Journal(starlog_journal::Error),
    /// A journaled record is not a valid archive (corruption the checksums did not catch, or a
    /// journal from another program).
    Decode { journal: &'static str, seq: u64 },
    /// Serializing an input or output failed.
    Encode(String),
    /// On restart, the engine did not reproduce an output already journaled: the code that
    /// produced the journal is not the code running now.
    Divergence { input_seq: u64, output_index: usize },
    /// The snapshot directory cannot be listed or cleaned up (I/O).
    Snapshot(String),
    /// The session's wire-format file cannot be written (I/O).
    SessionIo(String),
    /// The session holds records of another wire format.
    Wire(WireMismatch),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Journal(e) => write!(f, "{e}"),
            CoreError::Decode { journal, seq } => write!(f, "{journal} journal record {seq} is not a valid archive"),
            CoreError::Encode(e) => write!(f, "cannot serialize a record: {e}"),
            CoreError::Divergence { input_seq, output_index } => write!(
                f,
                "restart diverged: output {output_index} of input {input_seq} differs from the journaled one (is this the same engine version?)"
            ),
            CoreError::Snapshot(e) => write!(f, "snapshots: {e}"),
            CoreError::SessionIo(e) => write!(f, "session directory: {e}"),
            CoreError::Wire(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CoreError {}

impl From<starlog_journal::Error> for CoreError {
    fn from(e: starlog_journal::Error) -> CoreError {
        CoreError::Journal(e)
    }
}

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    pub inputs: usize,
    pub outputs: usize,
    pub intents: usize,
    /// Seq of the last input of the batch (0 if the batch was empty).
    pub last_input_seq: u64,
}

/// The sequencer over one session directory.
pub struct CoreLoop {
    dir: PathBuf,
    engine: Engine,
    input: JournalWriter,
    inputs: Tailer,
    output: JournalWriter,
    scratch: Vec<Output>,
    buf: AlignedVec,
    last_ts: i64,
    snapshots: SnapshotPolicy,
    /// Seq of the newest snapshot written or found (0: none).
    snapshot_seq: u64,
    /// The input seq the engine was restored from on open (0: replayed from the start).
    restored_from: u64,
    snapshot_buf: Vec<u8>,
    /// Measurements, when asked for ([`CoreLoop::enable_metrics`]).
    metrics: Option<Box<CoreMetrics>>,
    /// Incidents raised since last taken: (input seq, its timestamp, the incident).
    incidents: Vec<(u64, i64, IncidentOut)>,
}

impl fmt::Debug for CoreLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreLoop").field("dir", &self.dir).field("next_input_seq", &self.input.next_seq()).finish()
    }
}

impl CoreLoop {
    /// Open (or create) the session in `dir` with a fresh `engine`; on an existing session,
    /// bring the engine up to date from its snapshots and journals (see the module docs).
    /// Snapshots follow the default [`SnapshotPolicy`].
    pub fn open(
        dir: &Path,
        engine: Engine,
        durability: Durability,
        segment_size_bytes: u64,
    ) -> Result<CoreLoop, CoreError> {
        CoreLoop::open_with(dir, engine, durability, segment_size_bytes, SnapshotPolicy::default())
    }

    /// [`CoreLoop::open`] with a snapshot policy of the caller's.
    pub fn open_with(
        dir: &Path,
        engine: Engine,
        durability: Durability,
        segment_size_bytes: u64,
        snapshots: SnapshotPolicy,
    ) -> Result<CoreLoop, CoreError> {
        check_wire(dir).map_err(CoreError::Wire)?;
        let opts = JournalOptions { segment_size_bytes, durability, sync_hook: None };
        let (input, _) = JournalWriter::open(dir.join(INPUT_DIR), opts.clone())?;
        let (output, _) = JournalWriter::open(dir.join(OUTPUT_DIR), opts)?;
        mark_wire(dir, input.next_seq() == 1)?;
        let inputs = Tailer::open(dir.join(INPUT_DIR), 1)?;
        let mut core = CoreLoop {
            dir: dir.to_owned(),
            engine,
            input,
            inputs,
            output,
            scratch: Vec::new(),
            buf: AlignedVec::new(),
            last_ts: i64::MIN,
            snapshots,
            snapshot_seq: 0,
            restored_from: 0,
            snapshot_buf: Vec::new(),
            metrics: None,
            incidents: Vec::new(),
        };
        core.resume()?;
        Ok(core)
    }

    /// The outputs already journaled for the last input that has any: its seq (0: no outputs),
    /// and their payloads (only the last input's may be incomplete). Found by binary search on
    /// the output journal (outputs are in input order), not by reading all of it.
    fn journaled_tail(&self) -> Result<(u64, Vec<Vec<u8>>), CoreError> {
        let reader = JournalReader::open(self.dir.join(OUTPUT_DIR))?;
        let last_seq = self.output.next_seq().saturating_sub(1);
        let input_seq_of = |seq: u64| -> Result<u64, CoreError> {
            let rec = reader.get(seq)?.ok_or(CoreError::Decode { journal: "output", seq })?;
            Ok(outputs::access(rec.payload)
                .map_err(|_| CoreError::Decode { journal: "output", seq })?
                .input_seq
                .to_native())
        };
        if last_seq < reader.first_seq() || last_seq == 0 {
            return Ok((0, Vec::new()));
        }
        let last = input_seq_of(last_seq)?;
        // The first output record of input `last`.
        let (mut lo, mut hi) = (reader.first_seq(), last_seq);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if input_seq_of(mid)? < last { lo = mid + 1 } else { hi = mid }
        }
        let mut tail = Vec::new();
        for rec in reader.iter_from(lo)? {
            tail.push(rec?.payload.to_vec());
        }
        Ok((last, tail))
    }

    /// Restore the engine from the best snapshot for this journal (see the module docs), if
    /// any; returns the seq it reflects (0: none, replay from the start).
    fn restore_snapshot(&mut self, last_with_outputs: u64) -> Result<u64, CoreError> {
        let head = self.input.next_seq().saturating_sub(1);
        let io = |e: std::io::Error| CoreError::Snapshot(e.to_string());
        for (seq, path) in snapshots::list(&self.dir).map_err(io)? {
            if seq > head {
                tracing::warn!(snapshot = %path.display(), snapshot_seq = seq, journal_head = head, "deleting a snapshot past the end of the input journal");
                std::fs::remove_file(&path).map_err(io)?;
            }
        }
        let before = last_with_outputs.min(head.saturating_add(1)).saturating_sub(1);
        let journal = JournalReader::open(self.dir.join(INPUT_DIR))?;
        let found = match snapshots::restore_newest(&self.dir, &self.engine, &journal, |seq| seq <= before) {
            Some(found) => Some(found),
            None => snapshots::restore_newest(&self.dir, &self.engine, &journal, |seq| seq > before && seq <= head),
        };
        self.snapshot_seq = snapshots::list(&self.dir).map_err(io)?.last().map_or(0, |(seq, _)| *seq);
        let Some((seq, engine)) = found else { return Ok(0) };
        self.engine = engine;
        self.last_ts = self.engine.now_ns();
        self.inputs = Tailer::open(self.dir.join(INPUT_DIR), seq.saturating_add(1))?;
        Ok(seq)
    }

    /// Apply every input already journaled (after the snapshot restored, if any); journal the
    /// outputs that are missing.
    fn resume(&mut self) -> Result<(), CoreError> {
        // Outputs already journaled, per input seq (only the last input's may be incomplete).
        let (last_with_outputs, journaled) = self.journaled_tail()?;
        self.restored_from = self.restore_snapshot(last_with_outputs)?;
        while let Some(rec) = self.inputs.poll()? {
            let (seq, ts) = (rec.seq, rec.timestamp_ns);
            let archived = events::access(rec.payload).map_err(|_| CoreError::Decode { journal: "input", seq })?;
            self.scratch.clear();
            self.engine.apply(seq, ts, archived, &mut self.scratch);
            self.last_ts = self.last_ts.max(ts);
            if seq < last_with_outputs {
                continue;
            }
            let skip = if seq == last_with_outputs { journaled.len() } else { 0 };
            for (i, output) in self.scratch.drain(..).enumerate() {
                let record = OutputRecord { input_seq: seq, output };
                let buf = outputs::to_bytes_in(&record, std::mem::take(&mut self.buf))
                    .map_err(|e| CoreError::Encode(e.to_string()))?;
                if i < skip {
                    if journaled.get(i).map(|b| &b[..]) != Some(&buf[..]) {
                        return Err(CoreError::Divergence { input_seq: seq, output_index: i });
                    }
                } else {
                    self.output.append(record.output.kind(), ts, &buf)?;
                }
                self.buf = buf;
            }
        }
        self.output.commit()?;
        self.maybe_snapshot();
        Ok(())
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The input seq of the snapshot the engine was restored from on open (0: it replayed the
    /// session from the first input, or the session was new).
    pub fn restored_from(&self) -> u64 {
        self.restored_from
    }

    /// Write a snapshot if the policy says one is due (outputs of every input so far are
    /// committed). A snapshot that cannot be written is reported on standard error and the loop
    /// goes on: snapshots only shorten restarts, the journals are the record.
    fn maybe_snapshot(&mut self) {
        let policy = self.snapshots;
        let seq = self.engine.last_seq();
        if policy.every_inputs == 0 || seq < self.snapshot_seq.saturating_add(policy.every_inputs) {
            return;
        }
        self.engine.snapshot_into(&mut self.snapshot_buf);
        // Inputs are committed before they are applied: the input journal's last seal closes the
        // batch that ends at `seq`.
        let head = self.input.chain_head();
        debug_assert_eq!(head.last_seq, seq, "a snapshot is taken at the end of a committed batch");
        let written = snapshots::write(&self.dir, seq, (head.last_seq, head.chain_head), &self.snapshot_buf)
            .and_then(|_| snapshots::prune(&self.dir, policy.kept_max.max(1)));
        if let Err(e) = written {
            tracing::warn!(seq, error = %e, "snapshot not written");
        }
        self.snapshot_seq = seq;
    }

    /// Sequence, journal and apply one batch of inputs stamped at `now_ns` (clamped to never go
    /// backwards). Intents produced are appended to `intents`.
    pub fn process_batch(
        &mut self,
        batch: impl IntoIterator<Item = Input>,
        now_ns: i64,
        intents: &mut Vec<Intent>,
    ) -> Result<BatchStats, CoreError> {
        let ts = now_ns.max(self.last_ts);
        self.last_ts = ts;
        let mut stats = BatchStats::default();
        // 1. Write ahead: every input is journaled and committed before anything acts on it.
        for input in batch {
            let buf = events::to_bytes_in(&input, std::mem::take(&mut self.buf))
                .map_err(|e| CoreError::Encode(e.to_string()))?;
            stats.last_input_seq = self.input.append(input.kind(), ts, &buf)?;
            if let Some(m) = &mut self.metrics {
                m.input_appended(input.kind(), buf.len());
            }
            self.buf = buf;
            stats.inputs += 1;
        }
        if stats.inputs == 0 {
            return Ok(stats);
        }
        self.commit(true)?;
        // 2. Apply what was committed, read in place from the journal, as replay will.
        while let Some(rec) = self.inputs.poll()? {
            let (seq, ts) = (rec.seq, rec.timestamp_ns);
            let archived = events::access(rec.payload).map_err(|_| CoreError::Decode { journal: "input", seq })?;
            self.scratch.clear();
            let started = self.metrics.is_some().then(std::time::Instant::now);
            self.engine.apply(seq, ts, archived, &mut self.scratch);
            if let (Some(m), Some(started)) = (&mut self.metrics, started) {
                m.apply.record_ns(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
                m.input_seq = seq;
            }
            for output in self.scratch.drain(..) {
                match &output {
                    Output::Intent(i) => {
                        intents.push(i.clone());
                        stats.intents += 1;
                    }
                    Output::Incident(incident) if self.metrics.is_some() => self.incidents.push((seq, ts, *incident)),
                    _ => {}
                }
                if let Some(m) = &mut self.metrics {
                    match &output {
                        Output::Decision(d) if d.reject_code != 0 => m.reject(d.reject_code),
                        Output::Incident(i) => m.incident(i.kind, i.priority),
                        _ => {}
                    }
                }
                let record = OutputRecord { input_seq: seq, output };
                let buf = outputs::to_bytes_in(&record, std::mem::take(&mut self.buf))
                    .map_err(|e| CoreError::Encode(e.to_string()))?;
                self.output.append(record.output.kind(), ts, &buf)?;
                if let Some(m) = &mut self.metrics {
                    m.output_appended(record.output.kind(), buf.len());
                }
                self.buf = buf;
                stats.outputs += 1;
            }
        }
        // 3. Outputs are committed with the same policy before intents leave the core.
        self.commit(false)?;
        // 4. Only then, now and then, a snapshot of the engine.
        self.maybe_snapshot();
        Ok(stats)
    }

    /// The live loop's step: wait up to `idle` for the first input, take up to `batch_max`
    /// that are waiting, process them at `clock()`, and send the intents. Returns `None` when
    /// the input channel is closed and drained.
    pub fn step(
        &mut self,
        rx: &Receiver<Input>,
        intents_tx: &Sender<Intent>,
        clock: &mut dyn FnMut() -> i64,
        batch_max: usize,
        idle: Duration,
    ) -> Result<Option<BatchStats>, CoreError> {
        let first = match rx.recv_timeout(idle) {
            Ok(input) => input,
            Err(RecvTimeoutError::Timeout) => return Ok(Some(BatchStats::default())),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
        };
        let batch = std::iter::once(first).chain(rx.try_iter().take(batch_max.saturating_sub(1)));
        let mut intents = Vec::new();
        let stats = self.process_batch(batch, clock(), &mut intents)?;
        for i in intents {
            // The I/O side going away is not the core's failure: the intents are journaled.
            let _ = intents_tx.send(i);
        }
        Ok(Some(stats))
    }

    /// Commits the input (or output) journal, timing it when measuring.
    fn commit(&mut self, input: bool) -> Result<(), CoreError> {
        let started = self.metrics.is_some().then(std::time::Instant::now);
        if input {
            self.input.commit()?
        } else {
            self.output.commit()?
        };
        if let (Some(m), Some(started)) = (&mut self.metrics, started) {
            m.commit.record_ns(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
        Ok(())
    }

    /// Measure from now on (see [`crate::metrics`]): counts by kind, commit and apply latency;
    /// and keep the incidents raised for [`CoreLoop::take_incidents`] (the alerts).
    pub fn enable_metrics(&mut self) {
        if self.metrics.is_none() {
            self.metrics = Some(Box::new(CoreMetrics { input_seq: self.engine.last_seq(), ..CoreMetrics::default() }));
        }
    }

    /// The measurements, if enabled.
    pub fn metrics(&self) -> Option<&CoreMetrics> {
        self.metrics.as_deref()
    }

    pub fn metrics_mut(&mut self) -> Option<&mut CoreMetrics> {
        self.metrics.as_deref_mut()
    }

    /// Incidents the engine raised since the last call, while measuring: (input seq, its
    /// timestamp, incident).
    pub fn take_incidents(&mut self) -> Vec<(u64, i64, IncidentOut)> {
        std::mem::take(&mut self.incidents)
    }

    /// The seq the next input will get.
    pub fn next_input_seq(&self) -> u64 {
        self.input.next_seq()
    }

    /// Chain head of the input journal's last commit.
    pub fn input_head(&self) -> starlog_journal::Commit {
        self.input.chain_head()
    }

    /// The output journal's last commit: its last sealed seq and chain head.
    pub fn output_head(&self) -> starlog_journal::Commit {
        self.output.chain_head()
    }
}
