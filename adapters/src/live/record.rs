//! `starlog record`: market data (order books and trades of the given pairs) from Horizon into
//! a session journal, for backtests. The session has the live process's layout (`input/` and
//! `output/`, applied by an engine with no strategy and no account), so replay, backtest and
//! audit read it like any other session. Streams resume from their last paging token after a
//! goodbye, a drop or a stall, as in `starlog run`; a recording into an existing directory
//! continues the same session (same Horizon, same pairs), its trades resuming after the last
//! one journaled.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use sha2::{Digest, Sha256};
use starlog_engine::Pair;
use starlog_engine::engine::{Engine, EngineConfig};
use starlog_engine::events::{Input, SessionStart, WirePair};
use starlog_engine::incident::IncidentConfig;
use starlog_engine::risk::ValidationLevel;
use starlog_engine::throttle::ThrottleConfig;
use starlog_journal::Durability;

use super::config::RISK_DEFAULT;
use super::run::{Msg, RunError, SEGMENT_BYTES, journaled_config_hash, load_books, now_ns, scan, spawn_market_streams};
use crate::core_loop::CoreLoop;
use crate::horizon::client::{ClientConfig, HorizonClient};

/// What to record.
#[derive(Clone, Debug)]
pub struct RecordConfig {
    pub horizon_url: String,
    pub pairs: Vec<Pair>,
    pub dir: PathBuf,
    pub durability: Durability,
}

/// What a recording holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordSummary {
    pub books: u64,
    pub trades: u64,
    pub input_seq: u64,
    pub input_head: [u8; 32],
}

impl RecordConfig {
    /// The session-start configuration text: what was recorded, from where.
    fn text(&self) -> String {
        let mut text = format!("# starlog record\nhorizon_url = \"{}\"\n", self.horizon_url);
        for pair in &self.pairs {
            text.push_str(&format!("\n[[pairs]]\nselling = \"{}\"\nbuying = \"{}\"\n", pair.selling(), pair.buying()));
        }
        text
    }
}

/// Records until `stop` is set or `duration` has passed.
pub fn record(
    config: &RecordConfig,
    stop: &Arc<AtomicBool>,
    duration: Option<Duration>,
) -> Result<RecordSummary, RunError> {
    if config.pairs.is_empty() {
        return Err(RunError::Config("at least one --pair".into()));
    }
    let journaled = scan(&config.dir)?;
    let text = config.text();
    let config_hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    // The session's pairs are its inputs' pair indices: a continuation records the same ones.
    if journaled_config_hash(&config.dir)?.is_some_and(|started| started != config_hash) {
        return Err(RunError::Config(format!(
            "{} holds a recording of other pairs or another Horizon: continue it with the same --horizon and \
             --pair values (in the same order), or record into another directory",
            config.dir.display()
        )));
    }
    std::fs::create_dir_all(&config.dir).map_err(|e| RunError::Config(format!("{}: {e}", config.dir.display())))?;
    let engine = Engine::new(EngineConfig {
        risk: RISK_DEFAULT,
        throttle: ThrottleConfig::DEFAULT,
        validation: ValidationLevel::Standard,
        incidents: IncidentConfig::DEFAULT,
    })
    .map_err(|e| RunError::Config(e.to_string()))?;
    let mut core = CoreLoop::open(&config.dir, engine, config.durability, SEGMENT_BYTES)?;
    let client = HorizonClient::new(ClientConfig::new(&config.horizon_url));
    let mut summary = RecordSummary::default();
    let mut inputs = Vec::new();
    if !journaled.session_started {
        inputs.push(Input::SessionStart(SessionStart {
            config_hash,
            config: text,
            security_level: 1,
            validation_level: ValidationLevel::Standard as u8,
            seed: 0,
            account: [0; 32],
            pairs: config.pairs.iter().map(|p| WirePair::from(*p)).collect(),
        }));
    }
    inputs.extend(load_books(&client, &config.pairs).into_iter().map(Input::Book));
    let (msg_tx, msg_rx) = bounded::<Msg>(4096);
    let streams_stop = Arc::new(AtomicBool::new(false));
    // A continuation's trades resume after the last one journaled: none lost while it was down.
    spawn_market_streams(&client, &config.pairs, &journaled.last_trades, &msg_tx, &streams_stop);
    drop(msg_tx);
    let started = Instant::now();
    let mut intents = Vec::new();
    loop {
        for input in &inputs {
            match input {
                Input::Book(_) => summary.books += 1,
                Input::Trade(_) => summary.trades += 1,
                _ => {}
            }
        }
        if !inputs.is_empty() {
            core.process_batch(inputs.drain(..), now_ns(), &mut intents)?;
            debug_assert!(intents.is_empty(), "an engine without a strategy or account places nothing");
            intents.clear();
        }
        if stop.load(Ordering::Relaxed) || duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        match msg_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(msg) => {
                for msg in std::iter::once(msg).chain(msg_rx.try_iter().take(255)) {
                    if let Msg::Input(input) = msg {
                        inputs.push(input);
                    }
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(RunError::Horizon(crate::horizon::client::HorizonError::Transport(
                    "every stream stopped".into(),
                )));
            }
        }
    }
    streams_stop.store(true, Ordering::Relaxed);
    let head = core.input_head();
    summary.input_seq = head.last_seq;
    summary.input_head = head.chain_head;
    Ok(summary)
}
