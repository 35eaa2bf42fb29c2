//! Forensic queries over a recorded session: the timeline of inputs and the outputs each one
//! produced ([`timeline`]), and the engine's state as it was just after a given input
//! ([`state_at`], by replaying up to it, from the newest snapshot before it when there is one),
//! and the check of every snapshot against a full replay ([`verify_snapshots`]). Everything is
//! read from the journals and snapshots; nothing is written.

use std::path::Path;

use serde_json::{Value, json};
use starlog_adapters::core_loop::{INPUT_DIR, OUTPUT_DIR, check_wire};
use starlog_adapters::snapshots;
use starlog_engine::AccountId;
use starlog_engine::engine::Engine;
use starlog_engine::events::{self, ArchivedInput, ArchivedWireAsset, ArchivedWirePrice, key_store};
use starlog_engine::incident::{IncidentKind, Priority};
use starlog_engine::lifecycle::OrderStatus;
use starlog_engine::outputs::{self, ArchivedOutput, op_kind};
use starlog_engine::risk::RejectCode;
use starlog_journal::{JournalReader, hex};

use crate::replay::{Alterations, ReplayError, engine_for};

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The input's journal seq (an output carries the seq of the input that produced it).
    pub seq: u64,
    pub timestamp_ns: i64,
    /// `input` or `output`.
    pub source: &'static str,
    pub kind: &'static str,
    pub detail: String,
}

impl Entry {
    pub fn to_json(&self) -> Value {
        json!({ "seq": self.seq, "timestamp_ns": self.timestamp_ns, "source": self.source, "kind": self.kind,
                "detail": self.detail })
    }
}

/// Every kind name `timeline` can filter on.
pub const KINDS: [&str; 18] = [
    "session_start",
    "book",
    "trade",
    "account",
    "tx_submitted",
    "tx_succeeded",
    "tx_failed",
    "tx_expired",
    "operator",
    "timer",
    "security",
    "decision",
    "lifecycle",
    "invalid_transition",
    "intent",
    "incident",
    "input_refused",
    "control",
];

fn asset(a: &ArchivedWireAsset) -> String {
    a.to_asset().map_or_else(|_| "(invalid asset)".into(), |a| a.to_string())
}

fn price(p: &ArchivedWirePrice) -> String {
    format!("{}/{}", p.n.to_native(), p.d.to_native())
}

fn short(hash: &[u8; 32]) -> String {
    hex(&hash[..6])
}

fn input_entry(input: &ArchivedInput) -> (&'static str, String) {
    match input {
        ArchivedInput::SessionStart(s) => (
            "session_start",
            format!(
                "config sha256 {} account {} pairs {} security level {} validation level {}",
                short(&s.config_hash),
                starlog_engine::AccountId::from_bytes(s.account),
                s.pairs.len(),
                s.security_level,
                s.validation_level
            ),
        ),
        ArchivedInput::Book(b) => {
            let best = |levels: &rkyv::vec::ArchivedVec<events::ArchivedLevel>| {
                levels.first().map_or("-".into(), |l| format!("{} x {}", price(&l.price), l.amount_stroops.to_native()))
            };
            ("book", format!("pair {}: bid {} / ask {}", b.pair.to_native(), best(&b.bids), best(&b.asks)))
        }
        ArchivedInput::Trade(t) => (
            "trade",
            format!(
                "pair {} ledger {} price {} base {} counter {} offers {}/{}",
                t.pair.to_native(),
                t.ledger.to_native(),
                price(&t.price),
                t.base_amount_stroops.to_native(),
                t.counter_amount_stroops.to_native(),
                t.base_offer_id.to_native(),
                t.counter_offer_id.to_native()
            ),
        ),
        ArchivedInput::Account(a) => (
            "account",
            format!(
                "ledger {} sequence {} balances {} offers {}",
                a.ledger.to_native(),
                a.sequence.to_native(),
                a.balances.len(),
                a.offers.len()
            ),
        ),
        ArchivedInput::TxSubmitted(t) => (
            "tx_submitted",
            format!(
                "intent {} tx {} sequence {} max_time {} fee {} signed by {} with a {} key",
                t.intent.to_native(),
                short(&t.hash),
                t.sequence.to_native(),
                t.max_time.to_native(),
                t.fee_stroops.to_native(),
                if t.signed_by == [0; 32] {
                    "nobody".to_owned()
                } else {
                    AccountId::from_bytes(t.signed_by).to_string()
                },
                key_store::name(t.key_store)
            ),
        ),
        ArchivedInput::TxSucceeded(t) => {
            let ops: Vec<String> = t
                .ops
                .iter()
                .map(|o| format!("{:?} offer {} claims {}", o.effect, o.offer_id.to_native(), o.claims.len()))
                .collect();
            (
                "tx_succeeded",
                format!(
                    "intent {} tx {} ledger {}: {}",
                    t.intent.to_native(),
                    short(&t.hash),
                    t.ledger.to_native(),
                    ops.join("; ")
                ),
            )
        }
        ArchivedInput::TxFailed(t) => {
            let ops: Vec<i32> = t.op_codes.iter().map(|c| c.to_native()).collect();
            (
                "tx_failed",
                format!(
                    "intent {} tx {} code {} ops {ops:?}",
                    t.intent.to_native(),
                    short(&t.hash),
                    t.tx_code.to_native()
                ),
            )
        }
        ArchivedInput::TxExpired(t) => ("tx_expired", format!("intent {} tx {}", t.intent.to_native(), short(&t.hash))),
        ArchivedInput::Operator(o) => ("operator", format!("{}: {:?}", o.operator, o.command)),
        ArchivedInput::Timer(_) => ("timer", String::new()),
        ArchivedInput::Security(e) => ("security", format!("{e:?}")),
    }
}

/// A lifecycle status code by name; 0 is an order that had no status yet.
fn status(code: u8) -> String {
    if code == 0 {
        return "new".into();
    }
    OrderStatus::from_code(code).map_or_else(|| code.to_string(), |s| s.as_str().to_owned())
}

fn output_entry(output: &ArchivedOutput) -> (&'static str, String) {
    match output {
        ArchivedOutput::Decision(d) => {
            let code = d.reject_code.to_native();
            let verdict = if code == 0 {
                "accepted".to_owned()
            } else {
                RejectCode::from_code(code).map_or_else(|| format!("rejected {code}"), |r| format!("rejected {r}"))
            };
            let side = if d.side == 1 { "sell" } else { "buy" };
            (
                "decision",
                format!(
                    "order {} pair {} {side} {} at {}: {verdict}",
                    d.order.to_native(),
                    d.pair.to_native(),
                    d.amount_stroops.to_native(),
                    price(&d.price)
                ),
            )
        }
        ArchivedOutput::Lifecycle(l) => (
            "lifecycle",
            format!("order {}: {} -> {} (event {})", l.order.to_native(), status(l.from), status(l.to), l.event),
        ),
        ArchivedOutput::InvalidTransition(t) => {
            ("invalid_transition", format!("order {}: {} + event {}", t.order.to_native(), status(t.from), t.event))
        }
        ArchivedOutput::Intent(i) => {
            let ops: Vec<String> = i
                .ops
                .iter()
                .map(|o| {
                    let (order, offer, amount) = (o.order.to_native(), o.offer_id.to_native(), o.amount_stroops);
                    // Each as its operation reads: ManageBuyOffer names what it buys first.
                    match o.kind {
                        op_kind::MANAGE_BUY => format!(
                            "order {order} offer {offer} buy {} {} with {} at {}",
                            amount.to_native(),
                            asset(&o.buying),
                            asset(&o.selling),
                            price(&o.price)
                        ),
                        _ => format!(
                            "order {order} offer {offer} sell {} {} for {} at {}",
                            amount.to_native(),
                            asset(&o.selling),
                            asset(&o.buying),
                            price(&o.price)
                        ),
                    }
                })
                .collect();
            ("intent", format!("intent {}: {}", i.id.to_native(), ops.join("; ")))
        }
        ArchivedOutput::Incident(i) => {
            let kind = IncidentKind::from_code(i.kind.to_native()).map_or("unknown", |k| k.as_str());
            let priority = Priority::from_code(i.priority).map_or("?", |p| p.as_str());
            (
                "incident",
                format!("incident {} {kind} priority {priority} response code {}", i.id.to_native(), i.response),
            )
        }
        ArchivedOutput::InputRefused(r) => {
            ("input_refused", format!("input {} refused, reason {}", r.seq.to_native(), r.reason.to_native()))
        }
        ArchivedOutput::Control(c) => (
            "control",
            format!(
                "by {}: control {} arg {} value {}",
                c.by,
                c.what.to_native(),
                c.arg.to_native(),
                c.value.to_native()
            ),
        ),
    }
}

/// The timeline of inputs with seq in `from..=to`, each followed by its outputs; `kinds`
/// (names from [`KINDS`]) keeps only those kinds when not empty.
pub fn timeline(dir: &Path, from: u64, to: u64, kinds: &[String]) -> Result<Vec<Entry>, ReplayError> {
    check_wire(dir)?;
    if let Some(bad) = kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
        return Err(ReplayError::Misuse(format!("--kind: unknown kind {bad:?} (kinds: {})", KINDS.join(", "))));
    }
    let keep = |kind: &str| kinds.is_empty() || kinds.iter().any(|k| k == kind);
    let inputs = JournalReader::open(dir.join(INPUT_DIR))?;
    let outputs = JournalReader::open(dir.join(OUTPUT_DIR))?;
    let mut outputs = outputs.iter().peekable();
    let mut entries = Vec::new();
    for record in inputs.iter() {
        let record = record?;
        if record.seq > to {
            break;
        }
        let input = events::access(record.payload)
            .map_err(|_| ReplayError::Corrupt(format!("input record {} is not a valid archive", record.seq)))?;
        let in_range = record.seq >= from;
        let (kind, detail) = input_entry(input);
        if in_range && keep(kind) {
            entries.push(Entry { seq: record.seq, timestamp_ns: record.timestamp_ns, source: "input", kind, detail });
        }
        while let Some(Ok(next)) = outputs.peek() {
            let archived = outputs::access(next.payload)
                .map_err(|_| ReplayError::Corrupt(format!("output record {} is not a valid archive", next.seq)))?;
            if archived.input_seq.to_native() > record.seq {
                break;
            }
            let (kind, detail) = output_entry(&archived.output);
            if in_range && keep(kind) {
                entries.push(Entry {
                    seq: record.seq,
                    timestamp_ns: next.timestamp_ns,
                    source: "output",
                    kind,
                    detail,
                });
            }
            outputs.next();
        }
        if let Some(Err(_)) = outputs.peek() {
            return Err(ReplayError::Journal(outputs.next().expect("peeked").expect_err("peeked an error")));
        }
    }
    Ok(entries)
}

/// The engine after applying every input up to and including `seq`: restored from the newest
/// good snapshot at or before `seq` (see [`starlog_adapters::snapshots`]), then the inputs after
/// it replayed.
pub fn engine_at(dir: &Path, seq: u64) -> Result<Engine, ReplayError> {
    engine_at_with(dir, seq, true)
}

/// [`engine_at`]; `use_snapshots = false` replays from the first input whatever snapshots there
/// are (the reference a snapshot must agree with).
pub fn engine_at_with(dir: &Path, seq: u64, use_snapshots: bool) -> Result<Engine, ReplayError> {
    check_wire(dir)?;
    let inputs = JournalReader::open(dir.join(INPUT_DIR))?;
    let no_inputs = || ReplayError::Corrupt("the session has no inputs".into());
    let first = inputs.iter().next().ok_or_else(no_inputs)??;
    if first.seq > seq {
        return Err(no_inputs());
    }
    let template = session_engine(&first)?;
    // A snapshot is only used for an input the journal has (one past its end is stale).
    let in_journal = |s: u64| s <= seq && inputs.get(s).is_ok_and(|r| r.is_some());
    let restored = if use_snapshots { snapshots::restore_newest(dir, &template, &inputs, in_journal) } else { None };
    let (from, mut engine) = match restored {
        Some((at, engine)) => (at + 1, engine),
        None => (first.seq, template),
    };
    let mut out = Vec::new();
    for record in inputs.iter_from(from)? {
        let record = record?;
        if record.seq > seq {
            break;
        }
        let input = events::access(record.payload)
            .map_err(|_| ReplayError::Corrupt(format!("input record {} is not a valid archive", record.seq)))?;
        out.clear();
        engine.apply(record.seq, record.timestamp_ns, input, &mut out);
    }
    Ok(engine)
}

/// The fresh engine a session's first input (its start) describes.
fn session_engine(first: &starlog_journal::Record<'_>) -> Result<Engine, ReplayError> {
    let input = events::access(first.payload)
        .map_err(|_| ReplayError::Corrupt(format!("input record {} is not a valid archive", first.seq)))?;
    let ArchivedInput::SessionStart(start) = input else {
        return Err(ReplayError::Corrupt("the first input is not a session start".into()));
    };
    engine_for(start.config.as_str(), Alterations::default())
}

/// What checking one snapshot against a full replay found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotCheck {
    pub seq: u64,
    pub path: std::path::PathBuf,
    /// `None`: the snapshot restores and its state hash is the replay's at its seq.
    pub problem: Option<String>,
}

/// Check every snapshot of the session in `dir` against one full replay: at each snapshot's seq
/// the replayed state hash must be the snapshot's, and the snapshot must restore. Snapshots are
/// derived data; one that disagrees is wrong, whatever its checksum says.
pub fn verify_snapshots(dir: &Path) -> Result<Vec<SnapshotCheck>, ReplayError> {
    let found = snapshots::list(dir).map_err(|e| ReplayError::Corrupt(format!("cannot list snapshots: {e}")))?;
    let mut checks: Vec<SnapshotCheck> =
        found.into_iter().map(|(seq, path)| SnapshotCheck { seq, path, problem: None }).collect();
    if checks.is_empty() {
        return Ok(checks);
    }
    // Checking a snapshot replays the inputs: only in this build's wire format.
    check_wire(dir)?;
    let inputs = JournalReader::open(dir.join(INPUT_DIR))?;
    let first = inputs.iter().next().ok_or_else(|| ReplayError::Corrupt("the session has no inputs".into()))??;
    let template = session_engine(&first)?;
    let mut engine = session_engine(&first)?;
    let (mut out, mut next, mut head) = (Vec::new(), 0usize, 0u64);
    for record in inputs.iter() {
        let record = record?;
        let input = events::access(record.payload)
            .map_err(|_| ReplayError::Corrupt(format!("input record {} is not a valid archive", record.seq)))?;
        out.clear();
        engine.apply(record.seq, record.timestamp_ns, input, &mut out);
        head = record.seq;
        while let Some(check) = checks.get_mut(next).filter(|c| c.seq <= record.seq) {
            check.problem = if check.seq < record.seq {
                Some("its seq is not an input of the journal".into())
            } else {
                check_snapshot(&check.path, check.seq, &template, &inputs, engine.state_hash())
            };
            next += 1;
        }
    }
    for check in checks.iter_mut().skip(next) {
        check.problem = Some(format!("its seq is past the input journal's end (seq {head})"));
    }
    Ok(checks)
}

fn check_snapshot(
    path: &Path,
    seq: u64,
    template: &Engine,
    journal: &JournalReader,
    replayed: [u8; 16],
) -> Option<String> {
    let file = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Some(e.to_string()),
    };
    let bytes = match snapshots::split(&file) {
        Ok((_, bytes)) => bytes,
        Err(e) => return Some(e),
    };
    match starlog_engine::snapshot::read_header(bytes) {
        Ok(h) if h.state_hash != replayed => {
            return Some(format!(
                "state hash {} but a full replay to seq {seq} gives {}",
                hex(&h.state_hash),
                hex(&replayed)
            ));
        }
        Ok(_) => {}
        Err(e) => return Some(e.to_string()),
    }
    snapshots::load(path, seq, template, journal).err()
}

/// The engine's state at `seq` as JSON: controls, limits, open orders, balances, PnL, hash.
pub fn state_at(dir: &Path, seq: u64) -> Result<Value, ReplayError> {
    state_at_with(dir, seq, true)
}

/// [`state_at`], from snapshots or (`use_snapshots = false`) by a full replay.
pub fn state_at_with(dir: &Path, seq: u64, use_snapshots: bool) -> Result<Value, ReplayError> {
    let engine = engine_at_with(dir, seq, use_snapshots)?;
    let orders: Vec<Value> = engine
        .orders()
        .filter(|o| !o.status.is_terminal())
        .map(|o| {
            json!({ "order": o.id, "pair": o.pair, "side": format!("{:?}", o.side).to_lowercase(),
                    "amount": o.amount.to_string(), "price": o.price.to_string(), "filled": o.filled.to_string(),
                    "status": o.status.as_str(), "offer_id": o.offer_id })
        })
        .collect();
    let balances: Vec<Value> = engine.balances().map_or_else(Vec::new, |b| {
        b.lines()
            .iter()
            .map(|l| {
                json!({ "asset": l.asset.to_string(), "balance": l.balance.to_string(),
                        "selling_liabilities": l.selling_liabilities.to_string(),
                        "buying_liabilities": l.buying_liabilities.to_string() })
            })
            .collect()
    });
    Ok(json!({
        "seq": seq,
        "halted": engine.is_halted(),
        "locked_down": engine.is_locked_down(),
        "cancel_only": engine.is_cancel_only(),
        "validation_level": format!("{:?}", engine.validation_level()).to_uppercase(),
        "limits": starlog_adapters::live::ops::limits_json(engine.limits()),
        "open_orders": orders,
        "balances": balances,
        "pnl_stroops": engine.pnl_stroops().to_string(),
        "state_hash": hex(&engine.state_hash()),
    }))
}
