//! `starlog run --config FILE`: the live trading process (see `adapters::live::run`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use starlog_adapters::live::config::RunConfig;
use starlog_adapters::live::run::{self, RunOptions};

use super::{CmdError, CmdResult, SecretArgs, integer};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The session's configuration (TOML; see the README).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Stop after this many seconds (default: until SIGINT or SIGTERM).
    #[arg(long)]
    seconds: Option<String>,
    #[command(flatten)]
    secrets: SecretArgs,
}

pub fn run(args: RunArgs) -> CmdResult {
    let config = RunConfig::load(&args.config)?;
    let seconds = args.seconds.as_deref().map(|s| integer::<u64>("--seconds", s)).transpose()?;
    let mut open = args.secrets.open_options()?;
    // The configuration's level governs; the flag may only be stricter.
    if config.security_level > open.level {
        open.level = config.security_level;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| CmdError::new(format!("cannot install the signal handler: {e}")))?;
    }
    let options =
        RunOptions { stop, duration: seconds.map(Duration::from_secs), open, signer: None, anchor_signer: None };
    let summary = run::run(&config, options)?;
    println!(
        "{}",
        json!({
            "inputs": summary.inputs,
            "outputs": summary.outputs,
            "intents": summary.intents,
            "submitted": summary.submitted,
            "succeeded": summary.succeeded,
            "failed": summary.failed,
            "expired": summary.expired,
            "intrusions": summary.intrusions,
            "open_orders": summary.open_orders,
            "halted": summary.halted,
            "locked_down": summary.locked_down,
            "input_seq": summary.input_seq,
            "checkpoints": summary.checkpoints,
            "anchors": summary.anchors,
            "alerts_raised": summary.alerts_raised,
            "alerts_delivered": summary.alerts_delivered,
            "horizon_errors": summary.horizon_errors,
            "rate_limited": summary.rate_limited,
            "stream_reconnects": summary.stream_reconnects,
            "chain_head": starlog_journal::hex(&summary.input_head),
        })
    );
    Ok(ExitCode::SUCCESS)
}
