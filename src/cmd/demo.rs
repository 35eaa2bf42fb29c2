//! `starlog demo`: venue, account, live market making, verification and replay in one command
//! (see `sim::demo`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Args;
use serde_json::json;
use starlog_sim::demo::{self, DemoConfig, DemoSummary};

use super::{CmdError, CmdResult, integer};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to keep the session (default: a new directory under the system's temp dir).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// How long to trade.
    #[arg(long, default_value = "20")]
    seconds: String,
    /// Seed of the market and of the demo's key.
    #[arg(long, default_value = "1")]
    seed: String,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DemoArgs) -> CmdResult {
    let seconds = integer::<u64>("--seconds", &args.seconds)?;
    if seconds == 0 || seconds > 3600 {
        return Err(CmdError::flag("--seconds", "must be 1..=3600").into());
    }
    let seed = integer::<u64>("--seed", &args.seed)?;
    let dir = args.dir.unwrap_or_else(|| {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        std::env::temp_dir().join(format!("starlog-demo-{stamp}"))
    });
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| CmdError::new(format!("cannot install the signal handler: {e}")))?;
    }
    if !args.json {
        tracing::info!(seconds, session = %dir.display(), "demo trading on the simulated venue");
    }
    let summary = demo::run_demo(&DemoConfig { dir, seconds, seed }, stop)?;
    if args.json {
        println!("{}", to_json(&summary));
    } else {
        print_text(&summary);
    }
    Ok(if summary.replay.divergence.is_none() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn to_json(s: &DemoSummary) -> serde_json::Value {
    let rejects: serde_json::Map<String, serde_json::Value> =
        s.replay.rejects.iter().map(|(code, n)| (reject_name(*code), json!(n))).collect();
    json!({
        "dir": s.dir.display().to_string(),
        "account": s.account.to_string(),
        "orders": s.replay.orders,
        "fills": s.fills,
        "rejects": rejects,
        "incidents": s.replay.incidents,
        "transactions": { "submitted": s.run.submitted, "succeeded": s.run.succeeded, "failed": s.run.failed, "expired": s.run.expired },
        "open_orders_at_exit": s.run.open_orders,
        "pnl_stroops": s.replay.pnl_stroops.to_string(),
        "journal": { "inputs": s.input_records, "outputs": s.output_records, "bytes": s.journal_bytes,
                     "input_chain_head": starlog_journal::hex(&s.run.input_head),
                     "output_chain_head": starlog_journal::hex(&s.output_head) },
        "checkpoints_verified": s.checkpoints,
        "anchors_verified": s.anchors,
        "state_hash": starlog_journal::hex(&s.replay.state_hash),
        "replay_identical": s.replay.divergence.is_none(),
    })
}

/// `halted (101)`, or the bare number for a code this build does not know.
fn reject_name(code: u16) -> String {
    starlog_engine::risk::RejectCode::from_code(code).map_or_else(|| code.to_string(), |r| r.to_string())
}

fn print_text(s: &DemoSummary) {
    let rejects: Vec<String> =
        s.replay.rejects.iter().map(|(code, n)| format!("{n}× {}", reject_name(*code))).collect();
    let pnl = s.replay.pnl_stroops;
    println!("session      {}", s.dir.display());
    println!("account      {}", s.account);
    println!(
        "orders       {} accepted; rejects: {}",
        s.replay.orders,
        if rejects.is_empty() { "none".into() } else { rejects.join(", ") }
    );
    println!("fills        {} trades with the market", s.fills);
    println!(
        "transactions {} submitted, {} succeeded, {} failed, {} expired; {} orders open at exit",
        s.run.submitted, s.run.succeeded, s.run.failed, s.run.expired, s.run.open_orders
    );
    println!("incidents    {}", s.replay.incidents);
    println!(
        "pnl          {}{}.{:07} USD (marked)",
        if pnl < 0 { "-" } else { "" },
        pnl.abs() / 10_000_000,
        pnl.abs() % 10_000_000
    );
    println!(
        "journal      {} inputs, {} outputs, {} bytes, verified",
        s.input_records, s.output_records, s.journal_bytes
    );
    println!("chain head   {}", starlog_journal::hex(&s.run.input_head));
    println!(
        "evidence     {} signed checkpoints verified against the trading key; {} anchored on the ledger{}",
        s.checkpoints,
        s.anchors,
        s.anchored_ledger.map(|l| format!(" (latest in ledger {l})")).unwrap_or_default()
    );
    match &s.replay.divergence {
        None => println!("replay:      identical (state hash {})", starlog_journal::hex(&s.replay.state_hash)),
        Some(d) => println!("replay:      DIVERGED at input {} output {}", d.input_seq, d.output_index),
    }
}
