//! `starlog replay DIR`: re-run a recorded session through a fresh engine and compare every
//! output with the recorded one (see `sim::replay`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use starlog_sim::replay::{self, Alterations, ReplayReport};

use super::{CmdResult, integer};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A session directory (holding `input/` and `output/`).
    dir: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Testing only: replay with the market maker's spread widened by N bps, to show that a
    /// changed code path is caught at its first divergent output.
    #[arg(long, hide = true, value_name = "N")]
    test_alter_spread_bps: Option<String>,
}

pub fn run(args: ReplayArgs) -> CmdResult {
    let spread_bps = match &args.test_alter_spread_bps {
        Some(text) => integer::<u32>("--test-alter-spread-bps", text)?,
        None => 0,
    };
    let report = replay::replay(&args.dir, Alterations { spread_bps })?;
    print(&report, args.json);
    Ok(if report.divergence.is_none() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print(report: &ReplayReport, as_json: bool) {
    let hash = starlog_journal::hex(&report.state_hash);
    match (&report.divergence, as_json) {
        (None, false) => {
            println!("replay: identical ({} inputs, {} outputs), state hash {hash}", report.inputs, report.outputs)
        }
        (None, true) => println!(
            "{}",
            json!({ "identical": true, "inputs": report.inputs, "outputs": report.outputs, "state_hash": hash })
        ),
        (Some(d), false) => println!(
            "replay: DIVERGED at input {} output {}: expected {}, got {}",
            d.input_seq,
            d.output_index,
            d.expected.as_deref().unwrap_or("nothing"),
            d.actual.as_deref().unwrap_or("nothing")
        ),
        (Some(d), true) => println!(
            "{}",
            json!({
                "identical": false,
                "input_seq": d.input_seq,
                "output_index": d.output_index,
                "expected": d.expected,
                "actual": d.actual,
                "inputs": report.inputs,
                "state_hash": hash,
            })
        ),
    }
}
