//! `starlog backtest DIR`: a recorded session's market data against a strategy with new
//! parameters, through the simulated execution model (see `sim::backtest`); a report (text or
//! JSON), an SVG plot, and parameter sweeps run in parallel over the machine's cores.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};
use starlog_sim::backtest::{self, BacktestReport, BacktestSpec, units};

use super::{CmdError, CmdResult, integer};

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// A session directory (from `starlog record`, `starlog run` or the demo).
    dir: PathBuf,
    /// market-maker or twap (default: the strategy the session ran).
    #[arg(long, value_name = "NAME")]
    strategy: Option<String>,
    /// Index of the traded pair in the session's pairs.
    #[arg(long, value_name = "N", default_value = "0")]
    pair: String,
    /// A strategy parameter (e.g. spread_bps=30) or an execution-model one (latency_ms,
    /// fee_per_op_stroops, timer_ms, ledger_ms, sample_ms, start_base, start_counter).
    #[arg(long = "param", value_name = "K=V")]
    params: Vec<String>,
    /// Run every combination of these values (repeat for a grid), in parallel.
    #[arg(long = "sweep", value_name = "K=V1,V2,...")]
    sweeps: Vec<String>,
    /// Worker threads for a sweep (default: the machine's cores).
    #[arg(long, value_name = "N")]
    threads: Option<String>,
    /// Write the report (a sweep: every run's) as JSON to this file.
    #[arg(long, value_name = "FILE.json")]
    report: Option<PathBuf>,
    /// Draw PnL and inventory over time into this SVG file (one run only).
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Print the report as JSON on standard output instead of a summary.
    #[arg(long)]
    json: bool,
}

fn key_value<'a>(flag: &str, text: &'a str) -> Result<(&'a str, &'a str), CmdError> {
    text.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| CmdError::flag(flag, format!("{text:?} is not KEY=VALUE")))
}

pub fn run(args: BacktestArgs) -> CmdResult {
    let mut spec =
        BacktestSpec { strategy: args.strategy.clone(), pair: integer("--pair", &args.pair)?, ..Default::default() };
    for param in &args.params {
        let (k, v) = key_value("--param", param)?;
        spec.set(k, v).map_err(|e| CmdError::flag("--param", e))?;
    }
    let mut sweep = Vec::new();
    for s in &args.sweeps {
        let (k, values) = key_value("--sweep", s)?;
        sweep.push((k.to_owned(), values.split(',').map(str::to_owned).collect::<Vec<_>>()));
    }
    let terminal = std::io::stderr().is_terminal();
    if sweep.is_empty() {
        return single(&args, &spec, terminal);
    }
    if args.plot.is_some() {
        return Err(CmdError::flag("--plot", "draws one run; not with --sweep").into());
    }
    let specs = backtest::grid(&spec, &sweep).map_err(|e| CmdError::flag("--sweep", e))?;
    let threads = match &args.threads {
        Some(t) => integer::<usize>("--threads", t)?.max(1),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let progress = |done: usize, total: usize| {
        if terminal {
            eprint!("\r  backtest: {done}/{total} runs");
            if done == total {
                eprint!("\r\x1b[2K");
            }
            let _ = std::io::stderr().flush();
        }
    };
    let results = backtest::sweep(&args.dir, &specs, threads, &progress);
    let mut reports = Vec::with_capacity(results.len());
    for result in results {
        reports.push(result?);
    }
    let keys: Vec<&str> = sweep.iter().map(|(k, _)| k.as_str()).collect();
    if args.json {
        println!("{}", json!(reports.iter().map(summary).collect::<Vec<_>>()));
    } else {
        print_table(&keys, &reports);
    }
    if let Some(path) = &args.report {
        let all = json!({ "sweep": sweep.iter().map(|(k, v)| json!({ "key": k, "values": v })).collect::<Vec<_>>(),
                          "runs": reports.iter().map(BacktestReport::to_json).collect::<Vec<_>>() });
        write(path, &pretty(&all), "--report")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn single(args: &BacktestArgs, spec: &BacktestSpec, terminal: bool) -> CmdResult {
    let mut progress = |done: u64, total: u64| {
        if terminal && total > 0 {
            let pct = done * 100 / total;
            let bar = usize::try_from(done * 30 / total).unwrap_or(30);
            eprint!(
                "\r  backtest [{}{}] {pct:>3}% {done}/{total} records",
                "#".repeat(bar),
                " ".repeat(30 - bar.min(30))
            );
            if done == total {
                eprint!("\r\x1b[2K");
            }
            let _ = std::io::stderr().flush();
        }
    };
    let report = backtest::run(&args.dir, spec, &mut progress)?;
    let text = pretty(&report.to_json());
    if args.json {
        print!("{text}");
    } else {
        print_summary(&report);
    }
    if let Some(path) = &args.report {
        write(path, &text, "--report")?;
    }
    if let Some(path) = &args.plot {
        write(path, &backtest::svg(&report), "--plot")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn write(path: &std::path::Path, text: &str, flag: &str) -> Result<(), CmdError> {
    std::fs::write(path, text).map_err(|e| CmdError::flag(flag, format!("cannot write {}: {e}", path.display())))
}

/// One line of a sweep, as JSON: the parameters and the headline numbers.
fn summary(r: &BacktestReport) -> Value {
    let json = r.to_json();
    json!({ "params": json["params"], "pnl": json["pnl"], "counts": json["counts"] })
}

fn print_summary(r: &BacktestReport) {
    let seconds = (r.last_ns - r.first_ns) / 1_000_000_000;
    println!(
        "backtest: {} on {}/{} (pair {}), {} books, {} trades over {seconds} s",
        r.strategy,
        r.pair.selling(),
        r.pair.buying(),
        r.spec.pair,
        r.books,
        r.trades
    );
    let rejects: u64 = r.rejects.values().sum();
    let failed: u64 = r.failures.values().sum();
    println!(
        "  orders {}, rejected {rejects}, cancels {}, transactions {} ({failed} failed), incidents {}",
        r.orders, r.cancels, r.transactions, r.incidents
    );
    let makers = r.maker_fills();
    println!(
        "  fills {} ({makers} maker, {} taker), volume {} base / {} counter",
        r.fills.len(),
        r.fills.len() - makers,
        units(r.volume_base_stroops),
        units(r.volume_counter_stroops)
    );
    println!(
        "  pnl {} counter marked ({} realised), max drawdown {}, fees {} XLM, position {} base",
        units(r.pnl_stroops),
        units(r.realised_stroops),
        units(r.max_drawdown_stroops),
        units(i128::from(r.fees_stroops)),
        units(r.position_base_stroops)
    );
}

fn print_table(keys: &[&str], reports: &[BacktestReport]) {
    let mut header: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    header.extend(["pnl", "realised", "drawdown", "fees_xlm", "fills", "orders", "position"].map(str::to_owned));
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let params = r.spec.describe();
            let mut row: Vec<String> = keys
                .iter()
                .map(|k| params.iter().rev().find(|(pk, _)| pk == k).map_or_else(String::new, |(_, v)| v.clone()))
                .collect();
            row.extend([
                units(r.pnl_stroops),
                units(r.realised_stroops),
                units(r.max_drawdown_stroops),
                units(i128::from(r.fees_stroops)),
                r.fills.len().to_string(),
                r.orders.to_string(),
                units(r.position_base_stroops),
            ]);
            row
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line =
        |cells: &[String]| cells.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect::<Vec<_>>().join("  ");
    println!("{}", line(&header));
    for row in &rows {
        println!("{}", line(row));
    }
}
