//! `starlog record`: market data from Horizon into a session journal (see
//! `adapters::live::record`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use starlog_adapters::live::record::{self, RecordConfig};
use starlog_engine::{Asset, Pair};
use starlog_journal::Durability;

use super::{CmdError, CmdResult, integer};

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Horizon's URL, e.g. http://127.0.0.1:8000.
    #[arg(long, value_name = "URL")]
    horizon: String,
    /// A pair to record, SELLING/BUYING (base/counter), e.g. native/USD:GB…; repeatable.
    #[arg(long = "pair", value_name = "SELLING/BUYING", required = true)]
    pairs: Vec<String>,
    /// The session directory (created, or continued).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Stop after this many seconds (default: until SIGINT or SIGTERM).
    #[arg(long)]
    seconds: Option<String>,
}

fn pair(text: &str) -> Result<Pair, CmdError> {
    let (selling, buying) =
        text.split_once('/').ok_or_else(|| CmdError::flag("--pair", format!("{text:?} is not SELLING/BUYING")))?;
    let selling: Asset = selling.parse().map_err(|e| CmdError::flag("--pair", e))?;
    let buying: Asset = buying.parse().map_err(|e| CmdError::flag("--pair", e))?;
    Pair::new(selling, buying).map_err(|e| CmdError::flag("--pair", e))
}

pub fn run(args: RecordArgs) -> CmdResult {
    if !(args.horizon.starts_with("http://") || args.horizon.starts_with("https://")) {
        return Err(CmdError::flag("--horizon", "must start with http:// or https://").into());
    }
    let pairs = args.pairs.iter().map(|p| pair(p)).collect::<Result<Vec<_>, _>>()?;
    let seconds = args.seconds.as_deref().map(|s| integer::<u64>("--seconds", s)).transpose()?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| CmdError::new(format!("cannot install the signal handler: {e}")))?;
    }
    let config =
        RecordConfig { horizon_url: args.horizon.clone(), pairs, dir: args.dir, durability: Durability::Batch };
    let summary = record::record(&config, &stop, seconds.map(Duration::from_secs))?;
    println!(
        "{}",
        json!({
            "books": summary.books,
            "trades": summary.trades,
            "input_seq": summary.input_seq,
            "chain_head": starlog_journal::hex(&summary.input_head),
        })
    );
    Ok(ExitCode::SUCCESS)
}
