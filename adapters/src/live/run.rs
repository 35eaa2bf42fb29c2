//! `starlog run`: the live process. Horizon in (streams and polls, each on its own thread),
//! the journal and the engine (the core loop, on the calling thread), the submission pipeline
//! (on the core thread, so that every `TxSubmitted` is journaled before its envelope leaves),
//! and Horizon out (one submitter thread).
//!
//! ```text
//!  order book / trades streams ─┐
//!  account + offers poll ───────┤                         ┌──────────────┐
//!  our transactions stream ─────┼─► Msg channel ─► core ─►│  submitter   │─► POST /transactions
//!  timer, fee stats ────────────┤   (journal, engine,     │ (lookups,    │   GET /transactions/{h}
//!  submitter's answers ─────────┘    pipeline)            │  sequence)   │   GET /accounts/{id}
//!                                                         └──────────────┘
//! ```
//!
//! Start-up: open (or resume) the session's journals; journal the session start if there is
//! none; re-arm every intent the journal shows unsettled (rebuilt identically and looked up if
//! its `TxSubmitted` was journaled, built now if not); then load the account (a snapshot is the
//! engine's reconciliation: unknown offers and unexplained balances become incidents).
//! Intrusion: a transaction from our account whose hash we never journaled is a security
//! event (`UnexpectedTransaction`, P0: lockdown) — seen by the transactions stream while we
//! run, and at start-up for those sent while we were down (the account's sequence number
//! past the highest the journal knows).
//!
//! Stop (the flag, or `--seconds`): journal an operator `CancelAll` (if configured), keep
//! running until every transaction settles or `exit_wait_ms` passes, commit, sign a final chain
//! checkpoint, return. Checkpoints (see `checkpoint`) are also signed every `checkpoint_secs`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use starlog_engine::engine::Engine;
use starlog_engine::events::{
    self, ArchivedInput, Command, Input, OperatorCommand, SecurityEvent, SessionStart, Timer, TxSubmitted, WirePair,
};
use starlog_engine::outputs::{self, ArchivedOutput, Intent};
use starlog_engine::{AccountId, Asset, Pair};
use starlog_journal::JournalReader;

use super::config::RunConfig;
use super::ops::{self, IoStats};
use super::pipeline::{Action, Pipeline, PipelineConfig};
use crate::admin::AdminCall;
use crate::admin::api::{AdminApi, Query};
use crate::admin::auth::{Authenticator, TokenKey};
use crate::admin::server::{AdminServer, CoreLink, ServerStats};
use crate::alerts::{Alert, Alerter};
use crate::anchor::{self, Anchorer};
use crate::checkpoint::{self, Checkpoint, Head};
use crate::core_loop::{CoreError, CoreLoop, INPUT_DIR, OUTPUT_DIR, check_wire};
use crate::horizon::client::{ClientConfig, ClientStats, HorizonClient, HorizonError, Submitted};
use crate::horizon::decode::{self, FeeStats, Transaction};
use crate::keys::{self, KeyError, OpenOptions, Signer};

/// How many of our account's transactions a start-up looks through for ones sent while it
/// was down.
const TRANSACTIONS_SCANNED_MAX: usize = 10_000;
/// The pause before a stream that failed a whole round of connection attempts tries again.
const STREAM_RETRY_MS: u64 = 1_000;
/// How often a sequence number that could not be loaded is asked for again.
const SEQUENCE_RETRY_MS: u64 = 1_000;
/// Journal segment size of a live session.
pub const SEGMENT_BYTES: u64 = 64 << 20;
/// The network's base reserve (0.5 XLM since protocol 10; Horizon's root does not report it).
pub const BASE_RESERVE_STROOPS: i64 = 5_000_000;
/// Inputs the core takes per batch.
const BATCH_MAX: usize = 256;
/// A lookup after an unknown fate waits this long first (ingestion lag).
const LOOKUP_DELAY_MS: u64 = 500;

/// How a run is controlled from outside.
#[derive(Debug)]
pub struct RunOptions {
    /// Set by a signal handler (or a test) to stop.
    pub stop: Arc<AtomicBool>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Where the signer's secrets come from.
    pub open: OpenOptions,
    /// A signer opened by the caller (the demo's in-process key) instead of `config.signer`.
    pub signer: Option<Box<dyn Signer>>,
    /// An anchor account's signer opened by the caller: anchoring on, whatever the config says.
    pub anchor_signer: Option<Box<dyn Signer>>,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub inputs: u64,
    pub outputs: u64,
    pub intents: u64,
    pub submitted: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub expired: u64,
    pub intrusions: u64,
    /// Our orders still open when the run ended.
    pub open_orders: usize,
    pub halted: bool,
    pub locked_down: bool,
    pub input_head: [u8; 32],
    pub input_seq: u64,
    /// Signed chain checkpoints written (see `checkpoint`), and anchors of them published on
    /// the ledger (see `anchor`).
    pub checkpoints: u64,
    pub anchors: u64,
    /// Incident alerts raised (logged), and delivered to the webhook.
    pub alerts_raised: u64,
    pub alerts_delivered: u64,
    /// What Horizon did to us: answers with a status of 400 or more (or no answer), 429s among
    /// them, and stream reconnects.
    pub horizon_errors: u64,
    pub rate_limited: u64,
    pub stream_reconnects: u64,
}

/// Why a run stopped with an error, by who is to blame.
#[derive(Debug)]
pub enum RunError {
    /// The signer could not be opened, or is not the account's key.
    Signer(String),
    /// The journal or the engine (corruption, I/O, divergence on resume).
    Core(CoreError),
    /// Horizon could not be used at start-up.
    Horizon(HorizonError),
    /// The configuration does not make an engine.
    Config(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Signer(e) => write!(f, "signer: {e}"),
            RunError::Core(e) => write!(f, "journal: {e}"),
            RunError::Horizon(e) => write!(f, "{e}"),
            RunError::Config(e) => write!(f, "config: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<CoreError> for RunError {
    fn from(e: CoreError) -> RunError {
        RunError::Core(e)
    }
}

impl From<KeyError> for RunError {
    fn from(e: KeyError) -> RunError {
        RunError::Signer(e.to_string())
    }
}

/// What the other threads tell the core.
#[derive(Debug)]
pub(super) enum Msg {
    Input(Input),
    Submitted {
        hash: [u8; 32],
        answer: Result<Submitted, HorizonError>,
    },
    Looked {
        hash: [u8; 32],
        found: Result<Option<Transaction>, HorizonError>,
    },
    Sequence(i64),
    Fees(FeeStats),
    /// A transaction our key signed for, seen on the network: with its sequence number when
    /// our account is its source, without when only an operation (or a fee bump's fee) is.
    OurAccountTx {
        hash: [u8; 32],
        sequence: Option<i64>,
    },
    /// The admin API asks.
    Admin(AdminCall),
}

pub(super) fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Horizon's query parameters of an asset, e.g. `selling_asset_type=native`.
pub fn asset_query(prefix: &str, asset: &Asset) -> String {
    match (asset.code(), asset.issuer()) {
        (Some(code), Some(issuer)) => {
            let kind = if code.len() <= 4 { "credit_alphanum4" } else { "credit_alphanum12" };
            format!("{prefix}_asset_type={kind}&{prefix}_asset_code={code}&{prefix}_asset_issuer={issuer}")
        }
        _ => format!("{prefix}_asset_type=native"),
    }
}

/// The configuration hash of the session in `dir` (its first input, the session start), if a
/// session was started there.
pub(super) fn journaled_config_hash(dir: &Path) -> Result<Option<[u8; 32]>, RunError> {
    if !dir.join(INPUT_DIR).exists() {
        return Ok(None);
    }
    check_wire(dir).map_err(CoreError::Wire)?;
    let inputs = JournalReader::open(dir.join(INPUT_DIR)).map_err(CoreError::from)?;
    let Some(first) = inputs.iter().next() else { return Ok(None) };
    let first = first.map_err(CoreError::from)?;
    match events::access(first.payload).map_err(|_| CoreError::Decode { journal: "input", seq: first.seq })? {
        ArchivedInput::SessionStart(start) => Ok(Some(start.config_hash)),
        _ => Err(RunError::Core(CoreError::Decode { journal: "input", seq: first.seq })),
    }
}

/// The paging token of the newest record of a collection (a path ending in `?` or in query
/// parameters); `None` if it has none or cannot be read.
fn newest_token(client: &HorizonClient, collection: &str) -> Option<String> {
    let separator = if collection.ends_with('?') { "" } else { "&" };
    client
        .get(&format!("{collection}{separator}order=desc&limit=1"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b.bytes).ok())
        .and_then(|v| v["_embedded"]["records"][0]["paging_token"].as_str().map(str::to_owned))
}

/// A stream of `path` (with a `?`) resuming after `cursor`, or from now: the path with
/// `cursor=now` and no `Last-Event-ID` (which only takes paging tokens), and the cursor.
fn stream_from(path: &str, cursor: Option<String>) -> (String, String) {
    let (bare, separator) = match path.strip_suffix('?') {
        Some(bare) => (bare, "?"),
        None => (path, "&"),
    };
    match cursor {
        Some(token) => (bare.to_owned(), token),
        None => (format!("{bare}{separator}cursor=now"), String::new()),
    }
}

/// Pages through our account's transactions, newest first, for those it sourced with a
/// sequence number above `known` (at most `TRANSACTIONS_SCANNED_MAX` of them are looked at).
fn transactions_after(client: &HorizonClient, account: &AccountId, known: i64) -> Result<Vec<[u8; 32]>, HorizonError> {
    let me = account.to_string();
    let mut found = Vec::new();
    let mut path = format!("/accounts/{me}/transactions?include_failed=true&order=desc&limit=200");
    let mut scanned = 0usize;
    loop {
        let page = client.get(&path)?;
        let page: serde_json::Value = serde_json::from_slice(&page.bytes).map_err(|e| {
            HorizonError::Decode(decode::DecodeError {
                resource: "transactions page",
                field: "(document)".into(),
                reason: e.to_string(),
            })
        })?;
        let records = page["_embedded"]["records"].as_array().cloned().unwrap_or_default();
        for record in &records {
            scanned += 1;
            if record["source_account"].as_str() != Some(&me) {
                continue;
            }
            let sequence = record["source_account_sequence"].as_str().and_then(|s| s.parse::<i64>().ok());
            if sequence.is_some_and(|s| s <= known) {
                return Ok(found);
            }
            let t = decode::transaction(serde_json::to_vec(record).unwrap_or_default().as_slice())?;
            found.push(t.hash);
        }
        let token = records.last().and_then(|r| r["paging_token"].as_str());
        match token {
            Some(token) if records.len() == 200 && scanned < TRANSACTIONS_SCANNED_MAX => {
                path = format!("/accounts/{me}/transactions?include_failed=true&order=desc&limit=200&cursor={token}");
            }
            _ => return Ok(found),
        }
    }
}

/// What the journals say is unsettled, and every hash we submitted.
pub(super) struct Journaled {
    pub(super) session_started: bool,
    ours: HashSet<[u8; 32]>,
    /// Our account's sequence number in the journal's last account snapshot. Transactions
    /// from our account past it are ours (journaled submissions) or someone else's. (Not our
    /// submissions' numbers: one may never have been used — expired, refused, or lost in a
    /// crash before it was sent — and an intruder's transaction could have taken it.)
    sequence_known: Option<i64>,
    /// Per pair index, the paging token of the last trade journaled.
    pub(super) last_trades: std::collections::BTreeMap<u16, String>,
    /// Intents without a result, in order, with their `TxSubmitted` if one was journaled.
    unsettled: Vec<(Intent, Option<TxSubmitted>)>,
}

pub(super) fn scan(dir: &Path) -> Result<Journaled, RunError> {
    let mut journaled = Journaled {
        session_started: false,
        ours: HashSet::new(),
        sequence_known: None,
        last_trades: std::collections::BTreeMap::new(),
        unsettled: Vec::new(),
    };
    check_wire(dir).map_err(CoreError::Wire)?;
    if !dir.join(INPUT_DIR).exists() {
        return Ok(journaled);
    }
    let mut submitted = std::collections::BTreeMap::new();
    let mut settled = HashSet::new();
    let inputs = JournalReader::open(dir.join(INPUT_DIR)).map_err(CoreError::from)?;
    for record in inputs.iter() {
        let record = record.map_err(CoreError::from)?;
        let decode_error = || CoreError::Decode { journal: "input", seq: record.seq };
        match events::access(record.payload).map_err(|_| decode_error())? {
            ArchivedInput::SessionStart(_) => journaled.session_started = true,
            ArchivedInput::Trade(t) => {
                let id = t.id.to_native();
                journaled.last_trades.insert(t.pair.to_native(), format!("{}-{}", id >> 32, id & 0xffff_ffff));
            }
            ArchivedInput::Account(a) => {
                journaled.sequence_known = journaled.sequence_known.max(Some(a.sequence.to_native()));
            }
            ArchivedInput::TxSubmitted(t) => {
                let t: TxSubmitted = rkyv::deserialize::<_, rkyv::rancor::Error>(t).map_err(|_| decode_error())?;
                journaled.ours.insert(t.hash);
                submitted.insert(t.intent, t);
            }
            ArchivedInput::TxSucceeded(t) => {
                settled.insert(t.intent.to_native());
            }
            ArchivedInput::TxFailed(t) => {
                settled.insert(t.intent.to_native());
            }
            ArchivedInput::TxExpired(t) => {
                settled.insert(t.intent.to_native());
            }
            _ => {}
        }
    }
    let outputs = JournalReader::open(dir.join(OUTPUT_DIR)).map_err(CoreError::from)?;
    for record in outputs.iter() {
        let record = record.map_err(CoreError::from)?;
        let archived =
            outputs::access(record.payload).map_err(|_| CoreError::Decode { journal: "output", seq: record.seq })?;
        if let ArchivedOutput::Intent(intent) = &archived.output {
            let intent: Intent = rkyv::deserialize::<_, rkyv::rancor::Error>(intent)
                .map_err(|_| CoreError::Decode { journal: "output", seq: record.seq })?;
            if !settled.contains(&intent.id) {
                let sent = submitted.get(&intent.id).copied();
                journaled.unsettled.push((intent, sent));
            }
        }
    }
    Ok(journaled)
}

/// The live process. See the module doc.
pub fn run(config: &RunConfig, options: RunOptions) -> Result<RunSummary, RunError> {
    let mut signer = match options.signer {
        Some(signer) => signer,
        None => keys::open_signer(&config.signer, &options.open)?,
    };
    if signer.public_key() != config.account {
        return Err(RunError::Signer(format!("{} is not the key of account {}", config.signer, config.account)));
    }
    // The anchor account's key, checked before anything is journaled.
    let anchor_signer = match (options.anchor_signer, &config.anchor_key) {
        (Some(signer), _) => Some(signer),
        (None, Some(uri)) => Some(keys::open_signer(uri, &options.open)?),
        (None, None) => None,
    };
    if anchor_signer.as_ref().is_some_and(|s| s.public_key() == config.account) {
        return Err(RunError::Config(
            "audit.anchor_key must be another account's key than the trading account's".into(),
        ));
    }
    let mut engine = Engine::new(config.engine).map_err(|e| RunError::Config(e.to_string()))?;
    engine.set_strategy(config.strategy.build());
    // A session resumes under the configuration it started with: replay and audit rebuild the
    // engine from the one journaled at its start (limits change through operator commands).
    if let Some(started) = journaled_config_hash(&config.journal_dir)?
        && started != config.hash
    {
        return Err(RunError::Config(format!(
            "journal_dir {} holds a session started with another configuration (hash {}…, this one {}…): resume \
             it with that configuration, or start a new session in another journal_dir",
            config.journal_dir.display(),
            &starlog_journal::hex(&started)[..12],
            &starlog_journal::hex(&config.hash)[..12],
        )));
    }
    std::fs::create_dir_all(&config.journal_dir)
        .map_err(|e| RunError::Config(format!("journal_dir {}: {e}", config.journal_dir.display())))?;
    let mut core = CoreLoop::open(&config.journal_dir, engine, config.durability, SEGMENT_BYTES)?;
    // Only now: opening regenerates the outputs of inputs committed before a crash whose
    // outputs were not (intents among them), and those are unsettled too.
    let journaled = scan(&config.journal_dir)?;
    core.enable_metrics();
    // The admin API's operators (their TOTP keys are read now: a missing one stops the start).
    let admin_api = match &config.admin {
        Some(admin) => {
            let operators = admin.load_operators().map_err(RunError::Config)?;
            let auth = Authenticator::new(operators, admin.limits, TokenKey::generate().map_err(RunError::Config)?)
                .map_err(RunError::Config)?;
            Some(AdminApi::new(auth, admin.scrape_token_sha256))
        }
        None => None,
    };
    let client = HorizonClient::new(ClientConfig::new(&config.horizon_url));
    let mut summary = RunSummary::default();
    let mut ours = journaled.ours;
    let mut pipeline = Pipeline::new(
        PipelineConfig {
            account: config.account,
            network: config.network.clone(),
            fee_per_op_stroops_max: config.fee_per_op_stroops_max,
            validity_secs: config.validity_secs,
            expiry_grace_secs: 10,
        },
        100,
    );
    if let Some(policy) = &config.policy {
        pipeline = pipeline.with_policy(policy.clone());
    }
    if let Ok(fees) = client.get("/fee_stats").and_then(|b| Ok(decode::fee_stats(&b.bytes)?)) {
        pipeline.set_fees(fees.last_ledger_base_fee, fees.max_fee_p90);
    }

    let mut inputs: Vec<Input> = Vec::new();
    let mut actions: Vec<Action> = Vec::new();
    if !journaled.session_started {
        inputs.push(Input::SessionStart(SessionStart {
            config_hash: config.hash,
            config: config.text.clone(),
            security_level: config.security_level as u8,
            validation_level: config.validation_level as u8,
            seed: config.seed,
            account: *config.account.as_bytes(),
            pairs: config.pairs.iter().map(|p| WirePair::from(*p)).collect(),
        }));
    }
    // Re-arm what the journal left unsettled.
    let mut fresh = Vec::new();
    for (intent, submitted) in journaled.unsettled {
        match submitted {
            Some(submitted) => pipeline
                .restore(&intent, &submitted, signer.as_mut(), &mut actions)
                .map_err(|e| RunError::Config(e.to_string()))?,
            None => fresh.push(intent),
        }
    }
    // Where our transactions stream starts: the newest transaction before the snapshot below
    // (those up to the snapshot are checked here; later ones by the stream). Failed ones too:
    // a transaction that failed in a ledger still took our sequence number and our signature.
    let transactions_cursor =
        newest_token(&client, &format!("/accounts/{}/transactions?include_failed=true", config.account));
    // The account as Horizon has it now: the engine reconciles it with the journal's state.
    let snapshot = load_account(&client, &config.account).map_err(RunError::Horizon)?;
    let startup_sequence = snapshot.sequence;
    // While we were down: the account's sequence number moved past what the journal knows, so
    // transactions from our account went in that we did not sign unless they are ours.
    if let Some(known) = journaled.sequence_known.filter(|known| startup_sequence > *known) {
        for hash in transactions_after(&client, &config.account, known).map_err(RunError::Horizon)? {
            if !ours.contains(&hash) {
                inputs.push(Input::Security(SecurityEvent::UnexpectedTransaction { hash }));
            }
        }
    }
    let effects_cursor = newest_token(&client, &format!("/accounts/{}/effects?", config.account));
    inputs.push(Input::Account(snapshot));
    inputs.extend(load_books(&client, &config.pairs).into_iter().map(Input::Book));

    let (msg_tx, msg_rx) = bounded::<Msg>(4096);
    let (action_tx, action_rx) = unbounded::<Action>();
    let threads_stop = Arc::new(AtomicBool::new(false));
    spawn_submitter(client.clone(), config.account, action_rx, msg_tx.clone(), Arc::clone(&threads_stop));
    spawn_poller(client.clone(), config, msg_tx.clone(), Arc::clone(&threads_stop));
    spawn_streams(&client, config, &msg_tx, &threads_stop, effects_cursor, transactions_cursor);
    let admin_server = match (admin_api, &config.admin) {
        (Some(api), Some(admin)) => {
            let tx = msg_tx.clone();
            let link: CoreLink = Arc::new(move |call| tx.send(Msg::Admin(call)).is_ok());
            Some(AdminServer::start(admin, api, link).map_err(RunError::Config)?)
        }
        _ => None,
    };
    drop(msg_tx);
    let alerter = Alerter::start(config.alerts.clone());
    let journal_dir = config.journal_dir.display().to_string();

    let mut intents = Vec::new();
    for intent in fresh {
        intents.push(intent);
    }
    let mut c = Core {
        core: &mut core,
        pipeline: &mut pipeline,
        signer: signer.as_mut(),
        summary: &mut summary,
        ours: &mut ours,
        startup_sequence,
        account: config.account.to_string(),
        horizon: Arc::clone(client.stats()),
        admin: admin_server.as_ref().map(|s| Arc::clone(s.stats())),
        alerter: &alerter,
        journal_dir: &journal_dir,
        replies: Vec::new(),
    };
    step(&mut c, &mut inputs, &mut actions, &mut intents, Instant::now())?;
    for action in actions.drain(..) {
        let _ = action_tx.send(action);
    }
    // Anchoring (the session start is journaled now: its tag can be computed).
    let anchors = match anchor_signer {
        Some(signer) => {
            let tag = anchor::session_tag(&config.journal_dir).map_err(RunError::Config)?;
            let fee = u32::try_from(c.pipeline.fee_per_op_stroops()).unwrap_or(u32::MAX);
            let anchorer =
                Anchorer::new(client.clone(), signer, config.network.clone(), tag, fee, config.validity_secs);
            Some(spawn_anchorer(anchorer, config.journal_dir.clone()))
        }
        None => None,
    };
    let mut last_anchor = Instant::now();

    let started = Instant::now();
    let mut stopping: Option<Instant> = None;
    let mut last_cancel_all = Instant::now();
    let mut last_checkpoint = Instant::now();
    loop {
        let anchor_due = anchors.is_some()
            && config.anchor_secs > 0
            && last_anchor.elapsed() >= Duration::from_secs(config.anchor_secs);
        let checkpoint_due =
            config.checkpoint_secs > 0 && last_checkpoint.elapsed() >= Duration::from_secs(config.checkpoint_secs);
        if checkpoint_due || anchor_due {
            last_checkpoint = Instant::now();
            let digest = checkpoint(&config.journal_dir, c.core, c.signer, &mut c.summary.checkpoints);
            if let (true, Some(digest), Some((to_anchor, _))) = (anchor_due, digest, &anchors) {
                last_anchor = Instant::now();
                let _ = to_anchor.send(digest);
            }
        }
        let stop_now = options.stop.load(Ordering::Relaxed) || options.duration.is_some_and(|d| started.elapsed() >= d);
        if stop_now && stopping.is_none() {
            stopping = Some(Instant::now());
            if config.cancel_on_exit {
                inputs.push(Input::Operator(OperatorCommand { operator: "shutdown".into(), command: Command::Halt }));
                inputs.push(Input::Operator(OperatorCommand {
                    operator: "shutdown".into(),
                    command: Command::CancelAll,
                }));
            }
        }
        if let Some(since) = stopping {
            let idle = c.pipeline.is_idle() && inputs.is_empty();
            let open = c.core.engine().orders().any(|o| !o.status.is_terminal());
            if (idle && !(config.cancel_on_exit && open))
                || since.elapsed() >= Duration::from_millis(config.exit_wait_ms)
            {
                break;
            }
            // Orders whose creation was in flight at the first CancelAll rest now: again, at
            // most twice a second.
            if idle && open && last_cancel_all.elapsed() >= Duration::from_millis(500) {
                last_cancel_all = Instant::now();
                inputs.push(Input::Operator(OperatorCommand {
                    operator: "shutdown".into(),
                    command: Command::CancelAll,
                }));
            }
        }
        let mut arrived = Instant::now();
        match msg_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(msg) => {
                arrived = Instant::now();
                handle(msg, &mut c, &mut inputs, &mut actions);
                for msg in msg_rx.try_iter().take(BATCH_MAX) {
                    handle(msg, &mut c, &mut inputs, &mut actions);
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
        step(&mut c, &mut inputs, &mut actions, &mut intents, arrived)?;
        for action in actions.drain(..) {
            let _ = action_tx.send(action);
        }
    }
    threads_stop.store(true, Ordering::Relaxed);
    drop(action_tx);
    // The session's last word: both chains as they end, signed (and anchored).
    let digest = checkpoint(&config.journal_dir, c.core, c.signer, &mut c.summary.checkpoints);
    if let Some((to_anchor, thread)) = anchors {
        if let Some(digest) = digest {
            let _ = to_anchor.send(digest);
        }
        drop(to_anchor);
        c.summary.anchors = thread.join().unwrap_or(0);
    }

    let engine = core.engine();
    summary.open_orders = engine.orders().filter(|o| !o.status.is_terminal()).count();
    summary.halted = engine.is_halted();
    summary.locked_down = engine.is_locked_down();
    let head = core.input_head();
    summary.input_head = head.chain_head;
    summary.input_seq = head.last_seq;
    // The API closes (requests still waiting get a 503); alerts in flight get a moment.
    drop(admin_server);
    let alerts = alerter.shutdown(Duration::from_secs(2));
    summary.alerts_raised = alerts.raised;
    summary.alerts_delivered = alerts.delivered;
    let horizon = client.stats();
    summary.horizon_errors = horizon.errors.load(Ordering::Relaxed);
    summary.rate_limited = horizon.rate_limited.load(Ordering::Relaxed);
    summary.stream_reconnects = horizon.stream_reconnects.load(Ordering::Relaxed);
    Ok(summary)
}

/// Sign both journals' last commits and append the checkpoint to the session's file; its
/// digest. A failure is reported and the session goes on: the journals are intact, only this
/// evidence is missing.
fn checkpoint(dir: &Path, core: &CoreLoop, signer: &mut dyn Signer, count: &mut u64) -> Option<[u8; 32]> {
    let (input, output) = (core.input_head(), core.output_head());
    let head = |c: starlog_journal::Commit| Head { seq: c.last_seq, chain: c.chain_head };
    let signed = Checkpoint::sign(signer, now_ns(), head(input), head(output)).map_err(|e| e.to_string());
    match signed.and_then(|c| checkpoint::append(dir, &c).map(|()| c).map_err(|e| e.to_string())) {
        Ok(c) => {
            *count += 1;
            Some(c.digest())
        }
        Err(e) => {
            tracing::error!(error = %e, "checkpoint not written");
            None
        }
    }
}

/// The anchoring thread: publishes each digest it is sent, in order, and notes each published
/// anchor in `DIR/anchors` (a convenience; the ledger is the evidence). Returns how many were
/// published.
fn spawn_anchorer(mut anchorer: Anchorer, dir: std::path::PathBuf) -> (Sender<[u8; 32]>, std::thread::JoinHandle<u64>) {
    let (tx, rx) = unbounded::<[u8; 32]>();
    let thread = std::thread::spawn(move || {
        let mut published = 0u64;
        for digest in rx {
            match anchorer.publish(&digest, now_s()) {
                Ok(p) => {
                    published += 1;
                    let line = serde_json::json!({
                        "digest": starlog_journal::hex(&p.digest),
                        "hash": starlog_journal::hex(&p.hash),
                        "ledger": p.ledger,
                        "account": anchorer.account().to_string(),
                    })
                    .to_string()
                        + "\n";
                    let noted = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join("anchors"))
                        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
                    if let Err(e) = noted {
                        tracing::warn!(error = %e, "anchor published but not noted in DIR/anchors");
                    }
                }
                Err(e) => tracing::error!(error = %e, "anchor not published"),
            }
        }
        published
    });
    (tx, thread)
}

/// The core's mutable parts, for one step.
struct Core<'a> {
    core: &'a mut CoreLoop,
    pipeline: &'a mut Pipeline,
    signer: &'a mut dyn Signer,
    summary: &'a mut RunSummary,
    ours: &'a mut HashSet<[u8; 32]>,
    /// Our account's sequence number in the start-up snapshot.
    startup_sequence: i64,
    account: String,
    horizon: Arc<ClientStats>,
    admin: Option<Arc<ServerStats>>,
    alerter: &'a Alerter,
    journal_dir: &'a str,
    /// Operator commands waiting for their seq: (index in the pending inputs, reply).
    replies: Vec<(usize, Sender<u64>)>,
}

/// Journal and apply `inputs`; every intent becomes a journaled `TxSubmitted` before its
/// envelope is handed to the submitter (the actions are sent by the caller after this).
fn step(
    c: &mut Core<'_>,
    inputs: &mut Vec<Input>,
    actions: &mut Vec<Action>,
    intents: &mut Vec<Intent>,
    arrived: Instant,
) -> Result<(), RunError> {
    // The inputs now pending take the seqs from here, in order.
    let first_seq = c.core.next_input_seq();
    let result = step_inner(c, inputs, actions, intents, arrived);
    for (index, reply) in c.replies.drain(..) {
        if result.is_ok() {
            let _ = reply.send(first_seq + index as u64);
        }
    }
    for (seq, at_ns, incident) in c.core.take_incidents() {
        c.alerter.raise(&Alert::from_output(seq, &incident, at_ns, c.journal_dir));
    }
    result
}

fn step_inner(
    c: &mut Core<'_>,
    inputs: &mut Vec<Input>,
    actions: &mut Vec<Action>,
    intents: &mut Vec<Intent>,
    arrived: Instant,
) -> Result<(), RunError> {
    while !inputs.is_empty() || !intents.is_empty() {
        for input in inputs.iter() {
            match input {
                Input::TxSubmitted(t) => {
                    c.ours.insert(t.hash);
                    c.summary.submitted += 1;
                }
                Input::TxSucceeded(_) => c.summary.succeeded += 1,
                Input::TxFailed(_) => c.summary.failed += 1,
                Input::TxExpired(_) => c.summary.expired += 1,
                Input::Security(SecurityEvent::UnexpectedTransaction { .. }) => c.summary.intrusions += 1,
                _ => {}
            }
        }
        let stats = c.core.process_batch(inputs.drain(..), now_ns(), intents)?;
        c.summary.inputs += stats.inputs as u64;
        c.summary.outputs += stats.outputs as u64;
        c.summary.intents += stats.intents as u64;
        for intent in std::mem::take(intents) {
            let started = Instant::now();
            let built = c.pipeline.on_intent(&intent, now_s(), c.signer, inputs, actions);
            let done = Instant::now();
            if let Some(m) = c.core.metrics_mut() {
                let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
                m.signer.entry(c.signer.store().as_str()).or_default().record_ns(ns(done - started));
                m.tick_to_order.record_ns(ns(done.saturating_duration_since(arrived)));
            }
            if let Err(e) = built {
                tracing::warn!(intent = intent.id, error = %e, "intent not submitted");
                inputs.extend(e.inputs(intent.id));
            }
        }
    }
    Ok(())
}

fn handle(msg: Msg, c: &mut Core<'_>, inputs: &mut Vec<Input>, actions: &mut Vec<Action>) {
    match msg {
        Msg::Input(input) => inputs.push(input),
        Msg::Submitted { hash, answer } => c.pipeline.on_submitted(hash, answer, inputs, actions),
        Msg::Looked { hash, found } => c.pipeline.on_lookup(hash, found, now_s(), inputs, actions),
        Msg::Sequence(sequence) => {
            for (intent, error) in c.pipeline.sync_sequence(sequence, now_s(), c.signer, inputs, actions) {
                tracing::warn!(intent, %error, "intent not submitted");
            }
        }
        Msg::Fees(fees) => c.pipeline.set_fees(fees.last_ledger_base_fee, fees.max_fee_p90),
        // Transactions up to the start-up snapshot's sequence were checked at start-up; one that
        // only has an operation of ours is in the stream, which starts just before that snapshot.
        Msg::OurAccountTx { hash, sequence }
            if sequence.is_none_or(|s| s > c.startup_sequence) && !c.ours.contains(&hash) =>
        {
            inputs.push(Input::Security(SecurityEvent::UnexpectedTransaction { hash }));
        }
        Msg::OurAccountTx { .. } => {}
        Msg::Admin(AdminCall::Event(input)) => inputs.push(input),
        Msg::Admin(AdminCall::Command { input, reply }) => {
            c.replies.push((inputs.len(), reply));
            inputs.push(input);
        }
        Msg::Admin(AdminCall::Query { query, reply }) => {
            let body = match query {
                Query::Status => ops::status(c.core, &c.account).to_string(),
                Query::Metrics => ops::metrics(
                    c.core,
                    IoStats { horizon: &c.horizon, admin: c.admin.as_deref(), alerts: Some(c.alerter.stats()) },
                ),
            };
            let _ = reply.send(body);
        }
    }
}

/// Each pair's order book now (a pair whose book cannot be read is left to its stream).
pub(super) fn load_books(client: &HorizonClient, pairs: &[Pair]) -> Vec<events::BookSnapshot> {
    let mut books = Vec::new();
    for (index, pair) in pairs.iter().enumerate() {
        let (base, counter) = (pair.selling(), pair.buying());
        let path =
            format!("/order_book?{}&{}&limit=20", asset_query("selling", &base), asset_query("buying", &counter));
        match client.get(&path).and_then(|b| Ok(decode::order_book(&b.bytes, index as u16, &base, &counter)?)) {
            Ok(book) => books.push(book),
            Err(e) => tracing::warn!(pair = index, error = %e, "order book not loaded"),
        }
    }
    books
}

/// How many times the account and its offers are read before a snapshot of one ledger is
/// given up on (a ledger closes every 5 s; two reads a few milliseconds apart almost always
/// see the same one).
const ACCOUNT_READS_MAX: usize = 4;

/// Our account and its offers, as of one ledger. Horizon serves them from two endpoints, so
/// the account is read again until both answers come from the same ledger: offers of a later
/// ledger than the balances would make the engine count that ledger's fills twice (once from
/// the offers, once from the trades stream).
fn load_account(client: &HorizonClient, account: &AccountId) -> Result<events::AccountSnapshot, HorizonError> {
    let mut body = client.get(&format!("/accounts/{account}"))?;
    for _ in 0..ACCOUNT_READS_MAX {
        let offers = client.get(&format!("/accounts/{account}/offers?limit=200"))?;
        if offers.latest_ledger == body.latest_ledger {
            return Ok(decode::account(&body.bytes, &offers.bytes, body.latest_ledger, BASE_RESERVE_STROOPS)?);
        }
        body = client.get(&format!("/accounts/{account}"))?;
    }
    Err(HorizonError::Transport(format!(
        "the account and its offers did not come from one ledger in {ACCOUNT_READS_MAX} reads"
    )))
}

/// Our account's sequence number from Horizon, asked again every `SEQUENCE_RETRY_MS` until an
/// answer comes (`None`: the run is stopping).
fn load_sequence(client: &HorizonClient, account: &AccountId, stop: &AtomicBool) -> Option<i64> {
    loop {
        let answer = client.get(&format!("/accounts/{account}")).map_err(|e| e.to_string()).and_then(|body| {
            serde_json::from_slice::<serde_json::Value>(&body.bytes)
                .ok()
                .and_then(|v| v["sequence"].as_str()?.parse::<i64>().ok())
                .ok_or_else(|| "the account has no sequence number".to_owned())
        });
        match answer {
            Ok(sequence) => return Some(sequence),
            Err(error) => tracing::warn!(%error, "cannot load the sequence number; asking again"),
        }
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(SEQUENCE_RETRY_MS));
    }
}

fn spawn_submitter(
    client: HorizonClient,
    account: AccountId,
    actions: Receiver<Action>,
    msgs: Sender<Msg>,
    stop: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        for action in actions {
            let msg = match action {
                Action::Submit { hash, envelope } => Msg::Submitted { hash, answer: client.submit(&envelope) },
                Action::Lookup { hash } => {
                    std::thread::sleep(Duration::from_millis(LOOKUP_DELAY_MS));
                    Msg::Looked { hash, found: client.transaction(&hash) }
                }
                // Nothing can be submitted until the sequence number is known: keep asking
                // (the client has already retried and backed off) until it is, or the run stops.
                Action::ResyncSequence => match load_sequence(&client, &account, &stop) {
                    Some(sequence) => Msg::Sequence(sequence),
                    None => return,
                },
            };
            if msgs.send(msg).is_err() {
                return;
            }
        }
    });
}

fn spawn_poller(client: HorizonClient, config: &RunConfig, msgs: Sender<Msg>, stop: Arc<AtomicBool>) {
    let (account, timer, poll, fee_poll) = (
        config.account,
        Duration::from_millis(config.timer_ms),
        Duration::from_millis(config.account_poll_ms),
        Duration::from_millis(config.fee_poll_ms),
    );
    std::thread::spawn(move || {
        let (mut next_poll, mut next_fees) = (Instant::now() + poll, Instant::now() + fee_poll);
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(timer);
            if msgs.send(Msg::Input(Input::Timer(Timer {}))).is_err() {
                return;
            }
            if Instant::now() >= next_poll {
                next_poll = Instant::now() + poll;
                match load_account(&client, &account) {
                    Ok(snapshot) => {
                        if msgs.send(Msg::Input(Input::Account(snapshot))).is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "account poll failed"),
                }
            }
            if Instant::now() >= next_fees {
                next_fees = Instant::now() + fee_poll;
                if let Ok(fees) = client.get("/fee_stats").and_then(|b| Ok(decode::fee_stats(&b.bytes)?)) {
                    let _ = msgs.send(Msg::Fees(fees));
                }
            }
        }
    });
}

/// The order book and trades streams of each pair.
/// The order book and trades streams of each pair; a pair's trades start after `trades_after`'s
/// paging token for it, if any (else at the time of connecting).
pub(super) fn spawn_market_streams(
    client: &HorizonClient,
    pairs: &[Pair],
    trades_after: &std::collections::BTreeMap<u16, String>,
    msgs: &Sender<Msg>,
    stop: &Arc<AtomicBool>,
) {
    for (index, pair) in pairs.iter().enumerate() {
        let (base, counter) = (pair.selling(), pair.buying());
        let book_path =
            format!("/order_book?{}&{}&limit=20", asset_query("selling", &base), asset_query("buying", &counter));
        let trades_path =
            format!("/trades?{}&{}&cursor=now", asset_query("base", &base), asset_query("counter", &counter));
        let pair_index = index as u16;
        spawn_stream(client, book_path, msgs, stop, String::new(), move |data| {
            decode::order_book(data.as_bytes(), pair_index, &base, &counter).map(|b| Some(Msg::Input(Input::Book(b))))
        });
        let cursor = trades_after.get(&pair_index).cloned().unwrap_or_default();
        spawn_stream(client, trades_path, msgs, stop, cursor, move |data| {
            decode::trade(data.as_bytes(), pair_index, &base, &counter).map(|t| Some(Msg::Input(Input::Trade(t))))
        });
    }
}

/// Our account's streams: transactions (intrusion: one we did not sign) and effects (a balance
/// change we did not cause: the live process submits offer operations only, so any
/// `account_credited`/`account_debited` effect is someone else's doing). The effects stream
/// starts after the newest effect Horizon had just after the start-up snapshot; the
/// transactions stream after the newest transaction just before it (the start-up check covers
/// those up to the snapshot's sequence number, the stream the ones after).
fn spawn_streams(
    client: &HorizonClient,
    config: &RunConfig,
    msgs: &Sender<Msg>,
    stop: &Arc<AtomicBool>,
    effects_cursor: Option<String>,
    transactions_cursor: Option<String>,
) {
    // Trades start now: fills of ours while we were down are in the start-up account snapshot,
    // and a trade streamed again would count them twice.
    spawn_market_streams(client, &config.pairs, &std::collections::BTreeMap::new(), msgs, stop);
    let account = config.account;
    let (path, cursor) = stream_from(&format!("/accounts/{account}/effects?"), effects_cursor);
    spawn_stream(client, path, msgs, stop, cursor, move |data| {
        let value: serde_json::Value = serde_json::from_str(data).map_err(|e| decode::DecodeError {
            resource: "effect",
            field: "(document)".into(),
            reason: e.to_string(),
        })?;
        let sign = match value["type"].as_str() {
            Some("account_credited") => 1,
            Some("account_debited") => -1,
            _ => return Ok(None),
        };
        let effect = decode::balance_effect(data.as_bytes())?;
        Ok(Some(Msg::Input(Input::Security(SecurityEvent::UnexplainedBalanceChange {
            asset: effect.0.into(),
            delta_stroops: sign * effect.1,
        }))))
    });
    let (path, cursor) =
        stream_from(&format!("/accounts/{account}/transactions?include_failed=true"), transactions_cursor);
    spawn_stream(client, path, msgs, stop, cursor, move |data| {
        let value: serde_json::Value = serde_json::from_str(data).map_err(|e| decode::DecodeError {
            resource: "transaction",
            field: "(document)".into(),
            reason: e.to_string(),
        })?;
        let t = decode::transaction(data.as_bytes())?;
        // The account's stream has every transaction it takes part in (payments to it too):
        // what matters is where our key had to sign, as read from the envelope.
        let envelope = value["envelope_xdr"].as_str().and_then(|e| crate::stellar::tx::decode_envelope_base64(e).ok());
        let sourced = envelope.as_ref().map(|e| crate::stellar::tx::sourced_by(e, &account));
        let source_is_us = value["source_account"].as_str() == Some(&account.to_string());
        let sequence = || value["source_account_sequence"].as_str().and_then(|s| s.parse::<i64>().ok());
        Ok(match sourced {
            _ if source_is_us => {
                Some(Msg::OurAccountTx { hash: t.hash, sequence: Some(sequence().unwrap_or(i64::MAX)) })
            }
            Some(s) if s.transaction || s.other => Some(Msg::OurAccountTx { hash: t.hash, sequence: None }),
            _ => None,
        })
    });
}

fn spawn_stream(
    client: &HorizonClient,
    path: String,
    msgs: &Sender<Msg>,
    stop: &Arc<AtomicBool>,
    cursor: String,
    decode: impl Fn(&str) -> Result<Option<Msg>, decode::DecodeError> + Send + 'static,
) {
    let (client, msgs, stop) = (client.clone(), msgs.clone(), Arc::clone(stop));
    std::thread::spawn(move || {
        let mut stream = client.stream(&path, &cursor);
        while !stop.load(Ordering::Relaxed) {
            match stream.next_event() {
                Ok(event) => match decode(&event.data) {
                    Ok(Some(msg)) => {
                        if msgs.send(msg).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    // One bad record is reported and skipped; the stream goes on.
                    Err(e) => tracing::warn!(stream = %path, error = %e, "bad record skipped"),
                },
                // Horizon unreachable for a while: keep trying, from the last id (a stream
                // that stopped for good would leave the engine on old data).
                Err(e @ HorizonError::Transport(_)) => {
                    tracing::error!(stream = %path, error = %e, "stream down; reconnecting");
                    std::thread::sleep(Duration::from_millis(STREAM_RETRY_MS));
                }
                Err(e) => {
                    tracing::error!(stream = %path, error = %e, "stream stopped");
                    return;
                }
            }
        }
    });
}
