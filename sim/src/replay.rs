//! Replay: a recorded session's inputs through a fresh engine, every output compared byte for
//! byte with the recorded output journal. The engine is rebuilt from the session-start record
//! (the configuration text journaled there), so a replay needs nothing but the directory.
//!
//! Zero-copy: inputs are applied as archives read in place from the journal's memory map, and
//! outputs are compared as serialized bytes; no I/O per event.

use std::fmt;
use std::ops::ControlFlow;
use std::path::Path;

use rkyv::util::AlignedVec;
use starlog_adapters::core_loop::{INPUT_DIR, OUTPUT_DIR, check_wire};
use starlog_adapters::live::config::{RISK_DEFAULT, RunConfig, StrategyConfig};
use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{self, ArchivedInput};
use starlog_engine::incident::IncidentConfig;
use starlog_engine::outputs::{self, Output, OutputRecord};
use starlog_engine::risk::ValidationLevel;
use starlog_engine::throttle::ThrottleConfig;
use starlog_journal::{JournalReader, Record};

/// What a replay found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    pub inputs: u64,
    pub outputs: u64,
    /// The engine's state hash after the last input.
    pub state_hash: [u8; 16],
    /// The replayed engine's marked profit or loss, in stroops of the counter asset.
    pub pnl_stroops: i128,
    /// Orders the engine accepted, and refusals by reject code.
    pub orders: u64,
    pub rejects: std::collections::BTreeMap<u16, u64>,
    /// Incidents raised.
    pub incidents: u64,
    /// The first output that differs, if any.
    pub divergence: Option<Divergence>,
}

/// The first difference between the recorded and the replayed outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The input whose outputs differ.
    pub input_seq: u64,
    /// Which output of that input (0-based).
    pub output_index: usize,
    /// Debug renderings (`None`: no such output on that side).
    pub expected: Option<String>,
    pub actual: Option<String>,
}

/// Why a replay could not run (as opposed to running and finding a divergence).
#[derive(Debug)]
pub enum ReplayError {
    /// The journals cannot be read (I/O, corruption).
    Journal(starlog_journal::Error),
    /// A record is not a valid archive, or the session has no start.
    Corrupt(String),
    /// The journaled configuration does not make an engine.
    Config(String),
    /// The query itself is wrong (an unknown kind, an empty range).
    Misuse(String),
    /// The session holds records of another wire format than this build reads.
    Wire(starlog_adapters::core_loop::WireMismatch),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Journal(e) => write!(f, "{e}"),
            ReplayError::Corrupt(why) => write!(f, "corrupt session: {why}"),
            ReplayError::Config(why) => write!(f, "journaled configuration: {why}"),
            ReplayError::Misuse(why) => f.write_str(why),
            ReplayError::Wire(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<starlog_adapters::core_loop::WireMismatch> for ReplayError {
    fn from(e: starlog_adapters::core_loop::WireMismatch) -> ReplayError {
        ReplayError::Wire(e)
    }
}

impl From<starlog_journal::Error> for ReplayError {
    fn from(e: starlog_journal::Error) -> ReplayError {
        ReplayError::Journal(e)
    }
}

/// Deliberate changes to the replayed code path, for tests that prove replay catches them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alterations {
    /// Widen the market maker's spread by this many basis points.
    pub spread_bps: u32,
}

/// The engine configuration and strategy a session's start record describes: `starlog run`'s
/// configuration, or, for a `starlog record` session, defaults and no strategy.
pub fn session_config(config_text: &str) -> Result<(EngineConfig, Option<StrategyConfig>), ReplayError> {
    if config_text.starts_with("# starlog record") {
        let engine = EngineConfig {
            risk: RISK_DEFAULT,
            throttle: ThrottleConfig::DEFAULT,
            validation: ValidationLevel::Standard,
            incidents: IncidentConfig::DEFAULT,
        };
        return Ok((engine, None));
    }
    let config = RunConfig::parse(config_text).map_err(|e| ReplayError::Config(e.to_string()))?;
    Ok((config.engine, Some(config.strategy)))
}

/// The engine a session's start record describes (see [`session_config`]), its strategy
/// altered as asked.
pub fn engine_for(config_text: &str, alter: Alterations) -> Result<Engine, ReplayError> {
    let (config, strategy) = session_config(config_text)?;
    let mut engine = Engine::new(config).map_err(|e| ReplayError::Config(e.to_string()))?;
    if let Some(mut strategy) = strategy {
        if let StrategyConfig::MarketMaker(params) = &mut strategy {
            params.spread_bps += alter.spread_bps;
        }
        engine.set_strategy(strategy.build());
    }
    Ok(engine)
}

/// Replays the session in `dir`. See the module doc.
///
/// The input journal is read and checked one chunk ahead on a helper thread
/// ([`JournalReader::read_ahead`]); the engine applies the inputs on this thread, in seq order,
/// exactly as it would from a plain iteration.
pub fn replay(dir: &Path, alter: Alterations) -> Result<ReplayReport, ReplayError> {
    check_wire(dir)?;
    let inputs = JournalReader::open(dir.join(INPUT_DIR))?;
    let recorded = JournalReader::open(dir.join(OUTPUT_DIR))?;
    let mut replayer = Replayer {
        alter,
        engine: None,
        recorded: recorded.iter().peekable(),
        report: ReplayReport {
            inputs: 0,
            outputs: 0,
            state_hash: [0; 16],
            pnl_stroops: 0,
            orders: 0,
            rejects: std::collections::BTreeMap::new(),
            incidents: 0,
            divergence: None,
        },
        out: Vec::new(),
        buf: AlignedVec::new(),
    };
    let walked = inputs.read_ahead(|record| match replayer.input(record) {
        Ok(true) => ControlFlow::Continue(()),
        Ok(false) => ControlFlow::Break(None),
        Err(e) => ControlFlow::Break(Some(e)),
    })?;
    match walked {
        ControlFlow::Break(Some(e)) => return Err(e),
        ControlFlow::Break(None) => return Ok(replayer.report),
        ControlFlow::Continue(()) => {}
    }
    let Replayer { engine, mut recorded, mut report, .. } = replayer;
    if let Some(extra) = recorded.next().transpose()? {
        let seq = outputs::access(extra.payload).map(|r| r.input_seq.to_native()).unwrap_or(0);
        report.divergence =
            Some(Divergence { input_seq: seq, output_index: 0, expected: Some(render(extra.payload)), actual: None });
    }
    report.state_hash = engine.as_ref().map_or([0; 16], Engine::state_hash);
    report.pnl_stroops = engine.as_ref().map_or(0, Engine::pnl_stroops);
    Ok(report)
}

/// A replay in progress: the engine (built from the first input), the recorded outputs still to
/// compare, and the report so far.
struct Replayer<'r> {
    alter: Alterations,
    engine: Option<Engine>,
    recorded: std::iter::Peekable<starlog_journal::Iter<'r>>,
    report: ReplayReport,
    out: Vec<Output>,
    buf: AlignedVec,
}

impl Replayer<'_> {
    /// Apply one input and compare its outputs with the recorded ones: `false` once they diverge
    /// (the divergence and the state hash at it are in the report).
    fn input(&mut self, record: Record<'_>) -> Result<bool, ReplayError> {
        let input = events::access(record.payload)
            .map_err(|_| ReplayError::Corrupt(format!("input record {} is not a valid archive", record.seq)))?;
        let engine = match &mut self.engine {
            Some(engine) => engine,
            None => {
                let ArchivedInput::SessionStart(start) = input else {
                    return Err(ReplayError::Corrupt("the first input is not a session start".into()));
                };
                self.engine.insert(engine_for(start.config.as_str(), self.alter)?)
            }
        };
        let report = &mut self.report;
        self.out.clear();
        engine.apply(record.seq, record.timestamp_ns, input, &mut self.out);
        report.inputs += 1;
        for (index, output) in self.out.drain(..).enumerate() {
            match &output {
                Output::Decision(d) if d.reject_code == 0 => report.orders += 1,
                Output::Decision(d) => *report.rejects.entry(d.reject_code).or_default() += 1,
                Output::Incident(_) => report.incidents += 1,
                _ => {}
            }
            let replayed = OutputRecord { input_seq: record.seq, output };
            self.buf = outputs::to_bytes_in(&replayed, std::mem::take(&mut self.buf))
                .map_err(|e| ReplayError::Corrupt(format!("cannot serialize an output: {e}")))?;
            let expected = self.recorded.next().transpose()?;
            if expected.as_ref().is_some_and(|e| e.payload == &self.buf[..]) {
                report.outputs += 1;
                continue;
            }
            report.divergence = Some(Divergence {
                input_seq: record.seq,
                output_index: index,
                expected: expected.map(|e| render(e.payload)),
                actual: Some(format!("{:?}", replayed.output)),
            });
            report.state_hash = engine.state_hash();
            return Ok(false);
        }
        // The recorded journal must not have more outputs for this input.
        if let Some(Ok(extra)) = self.recorded.peek() {
            let seq = outputs::access(extra.payload).map(|r| r.input_seq.to_native()).unwrap_or(0);
            if seq <= record.seq {
                report.divergence = Some(Divergence {
                    input_seq: record.seq,
                    output_index: usize::MAX,
                    expected: Some(render(extra.payload)),
                    actual: None,
                });
                report.state_hash = engine.state_hash();
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn render(payload: &[u8]) -> String {
    match outputs::access(payload) {
        Ok(record) => format!("{:?}", record.output),
        Err(_) => "(not a valid output archive)".into(),
    }
}
