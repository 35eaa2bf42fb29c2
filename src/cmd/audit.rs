//! `starlog audit …`: read-only examination of recorded journals.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use starlog_adapters::horizon::client::{ClientConfig, HorizonClient};
use starlog_adapters::{anchor, checkpoint};
use starlog_engine::AccountId;
use starlog_journal::{JournalReader, VerifyReport, hex};

use super::{CmdError, CmdResult, integer};

#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Check every checksum and the whole hash chain of a journal (or of a session directory's
    /// `input/` and `output/` journals), a session's signed chain checkpoints (and their anchors
    /// on the ledger), and that every snapshot in the session's `snapshots/` has the state hash
    /// a full replay gives at its seq.
    Verify {
        /// A journal directory, or a session directory holding `input/` and `output/`.
        dir: PathBuf,
        /// The key checkpoints must be signed by (G…); without it a signature is checked only
        /// against the key the checkpoint names, which an editor of the files could replace.
        #[arg(long, value_name = "G...")]
        key: Option<String>,
        /// Also check the session against the anchors this account published on the ledger.
        #[arg(long, value_name = "G...", requires = "horizon")]
        anchors: Option<String>,
        /// The Horizon to read the anchors from (any Horizon of the network).
        #[arg(long, value_name = "URL")]
        horizon: Option<String>,
    },
    /// The timeline of a session: each input, then the outputs it produced (decisions with
    /// reject codes, order changes, intents, incidents and responses, operator controls).
    Show {
        /// A session directory.
        dir: PathBuf,
        /// First input seq shown.
        #[arg(long, default_value = "1")]
        from: String,
        /// Last input seq shown.
        #[arg(long)]
        to: Option<String>,
        /// Only these kinds (repeatable): session_start, book, trade, account, tx_submitted,
        /// tx_succeeded, tx_failed, tx_expired, operator, timer, security, decision, lifecycle,
        /// invalid_transition, intent, incident, input_refused, control.
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// table, json or csv.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// The engine's state just after input SEQ (open orders, balances, limits, halted or
    /// locked down), rebuilt from the newest snapshot at or before it and the inputs after
    /// that. JSON.
    State {
        /// A session directory.
        dir: PathBuf,
        #[arg(long, value_name = "SEQ")]
        at: String,
        /// Ignore snapshots: replay the session from its first input.
        #[arg(long)]
        no_snapshots: bool,
    },
}

pub fn run(cmd: Audit) -> CmdResult {
    match cmd {
        Audit::Verify { dir, key, anchors, horizon } => {
            let key = key.map(|k| k.parse::<AccountId>().map_err(|e| CmdError::flag("--key", e))).transpose()?;
            let anchors =
                anchors.map(|k| k.parse::<AccountId>().map_err(|e| CmdError::flag("--anchors", e))).transpose()?;
            verify(&dir, key.as_ref(), anchors.as_ref().zip(horizon.as_deref()))
        }
        Audit::Show { dir, from, to, kinds, format } => {
            let from = integer::<u64>("--from", &from)?;
            let to = to.as_deref().map(|t| integer::<u64>("--to", t)).transpose()?.unwrap_or(u64::MAX);
            show(&dir, from, to, &kinds, &format)
        }
        Audit::State { dir, at, no_snapshots } => {
            let at = integer::<u64>("--at", &at)?;
            println!("{}", starlog_sim::audit::state_at_with(&dir, at, !no_snapshots)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

fn show(dir: &Path, from: u64, to: u64, kinds: &[String], format: &str) -> CmdResult {
    if !matches!(format, "table" | "json" | "csv") {
        return Err(CmdError::flag("--format", format!("{format:?} is not table, json or csv")).into());
    }
    let entries = starlog_sim::audit::timeline(dir, from, to, kinds)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write as _;
    match format {
        "json" => {
            let all: Vec<serde_json::Value> = entries.iter().map(|e| e.to_json()).collect();
            writeln!(out, "{}", serde_json::Value::Array(all))?;
        }
        "csv" => {
            writeln!(out, "seq,timestamp_ns,source,kind,detail")?;
            for e in &entries {
                writeln!(out, "{},{},{},{},{}", e.seq, e.timestamp_ns, e.source, e.kind, csv_field(&e.detail))?;
            }
        }
        _ => {
            for e in &entries {
                let arrow = if e.source == "input" { ">" } else { "  <" };
                writeln!(out, "{:>8} {:>20} {arrow} {:<18} {}", e.seq, e.timestamp_ns, e.kind, e.detail)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The journals to verify under `dir`: itself, or its `input/` and `output/` journals.
fn journals(dir: &Path) -> Vec<(String, PathBuf)> {
    let subs: Vec<_> =
        ["input", "output"].iter().map(|s| (s.to_string(), dir.join(s))).filter(|(_, p)| has_segments(p)).collect();
    if subs.is_empty() { vec![(String::new(), dir.to_owned())] } else { subs }
}

fn has_segments(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().any(|e| e.path().extension().is_some_and(|x| x == "seg")))
        .unwrap_or(false)
}

fn verify(dir: &Path, key: Option<&AccountId>, anchors: Option<(&AccountId, &str)>) -> CmdResult {
    let mut lines = Vec::new();
    for (name, path) in journals(dir) {
        let label = if name.is_empty() { String::new() } else { format!("{name}: ") };
        let report = JournalReader::open(&path).and_then(|r| r.verify()).map_err(|e| format!("{label}{e}"))?;
        if let Some((at, bytes)) = &report.torn_tail {
            return Err(format!(
                "{label}torn tail at {at}: {bytes} bytes of an uncommitted write (the writer crashed; reopening the journal for writing cuts them off)"
            )
            .into());
        }
        lines.push(format!("{label}{}", summary(&report)));
    }
    let session = journals(dir).iter().any(|(name, _)| !name.is_empty());
    if session {
        let report = checkpoint::verify(dir, key)?;
        match (&report.last, key) {
            (None, Some(_)) => {
                return Err(CmdError::flag("--key", "the session has no signed checkpoints to check").into());
            }
            (None, None) => lines.push("checkpoints: none".to_owned()),
            (Some((input, output)), _) => {
                let keys: Vec<String> = report.keys.iter().map(|k| k.to_string()).collect();
                lines.push(format!(
                    "checkpoints: ok: {} signed by {}{}; the last pins input seq {} and output seq {}",
                    report.checkpoints,
                    keys.join(", "),
                    if key.is_some() { " (the key given)" } else { " (not checked against a trusted key: --key)" },
                    input.seq,
                    output.seq
                ));
            }
        }
    }
    if let Some((account, url)) = anchors {
        if !session {
            return Err(CmdError::flag("--anchors", "takes a session directory").into());
        }
        let client = HorizonClient::new(ClientConfig::new(url));
        let report = anchor::verify(dir, &client, account).map_err(|e| CmdError::new(format!("anchors: {e}")))?;
        match report.latest {
            None => return Err(CmdError::new(format!("anchors: {account} published none for this session ({})", report.tag)).into()),
            Some((found, input_seq, output_seq)) => lines.push(format!(
                "anchors: ok: {} on the ledger by {account}, each a checkpoint of this session; the latest (ledger {}, {}) pins input seq {input_seq} and output seq {output_seq}",
                report.anchors, found.ledger, found.closed_at
            )),
        }
    }
    if let Some(line) = verify_snapshots(dir)? {
        lines.push(line);
    }
    for l in lines {
        println!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Snapshots are derived data: each must agree with a full replay of the journals (after the
/// journals themselves verified). `None` when the directory has no snapshots.
fn verify_snapshots(dir: &Path) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let checks = starlog_sim::audit::verify_snapshots(dir)?;
    if checks.is_empty() {
        return Ok(None);
    }
    let bad: Vec<String> = checks
        .iter()
        .filter_map(|c| c.problem.as_ref().map(|p| format!("snapshot {}: {p}", c.path.display())))
        .collect();
    if !bad.is_empty() {
        return Err(format!("snapshots: {}", bad.join("; ")).into());
    }
    let seqs: Vec<String> = checks.iter().map(|c| c.seq.to_string()).collect();
    Ok(Some(format!(
        "snapshots: ok: {} snapshot{} (seq {}) agree with a full replay",
        checks.len(),
        if checks.len() == 1 { "" } else { "s" },
        seqs.join(", ")
    )))
}

fn summary(r: &VerifyReport) -> String {
    let mut s = format!(
        "ok: {} records (seq {}..={}) in {} segment{}, {} seals, {} bytes; chain head {} at seq {}",
        r.records,
        r.first_seq,
        r.last_seq,
        r.segments,
        if r.segments == 1 { "" } else { "s" },
        r.seals,
        r.bytes,
        hex(&r.chain_head),
        r.chain_seq
    );
    if !r.from_genesis {
        s.push_str("; starts after pruned segments (chain checked from the first segment's header)");
    }
    if r.unsealed_records > 0 {
        s.push_str(&format!("; {} records after the last seal (not yet chained)", r.unsealed_records));
    }
    if r.live_writer {
        s.push_str("; live writer (snapshot at its last commit)");
    }
    s
}
