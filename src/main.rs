//! The `starlog` command line: argument parsing and wiring only. Every failure ends as one line
//! on standard error and a non-zero exit status.
#![forbid(unsafe_code)]

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use starlog_adapters::logging::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(name = "starlog", version, about = "Event-sourced trading engine for the Stellar DEX")]
struct Cli {
    /// How log lines on standard error are written: text or json (one object per line). The
    /// level is set by the STARLOG_LOG environment variable (error|warn|info|debug|trace).
    #[arg(long, global = true, value_name = "text|json", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole system in one command: simulated venue, live market making, verify, replay.
    Demo(cmd::demo::DemoArgs),
    /// Forensic audit of a recorded session.
    #[command(subcommand)]
    Audit(cmd::audit::Audit),
    /// Build and sign offer transactions offline.
    #[command(subcommand)]
    Tx(cmd::tx::Tx),
    /// Key management: SEP-5 derivation, key files, HSM tokens, Vault transit keys.
    #[command(subcommand)]
    Keys(cmd::keys::Keys),
    /// The live trading process: Horizon in, journal, engine, signer, Horizon out.
    Run(cmd::run::RunArgs),
    /// Operate a running session through its admin API; make operator credentials.
    Ctl(cmd::ctl::CtlArgs),
    /// Replay a recorded session's market data against a strategy with new parameters.
    Backtest(cmd::backtest::BacktestArgs),
    /// Re-run a recorded session and compare every output with the recorded one.
    Replay(cmd::replay::ReplayArgs),
    /// Record market data (order books, trades) from Horizon into a session journal.
    Record(cmd::record::RecordArgs),
    /// The simulated Stellar venue: a ledger with an SDEX order book behind Horizon's API.
    #[command(subcommand)]
    Sim(cmd::sim::Sim),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cmd::usage_error(e),
    };
    logging::init(cli.log_format);
    let result = match cli.command {
        Command::Audit(a) => cmd::audit::run(a),
        Command::Demo(d) => cmd::demo::run(d),
        Command::Tx(t) => cmd::tx::run(t),
        Command::Keys(k) => cmd::keys::run(k),
        Command::Run(r) => cmd::run::run(r),
        Command::Ctl(c) => cmd::ctl::run(c),
        Command::Record(r) => cmd::record::run(r),
        Command::Replay(r) => cmd::replay::run(r),
        Command::Backtest(b) => cmd::backtest::run(b),
        Command::Sim(s) => cmd::sim::run(s),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("starlog: {e}");
            ExitCode::FAILURE
        }
    }
}
