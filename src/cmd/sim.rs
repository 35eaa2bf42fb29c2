//! `starlog sim serve`: runs the simulated venue (ledger, SDEX, market, Horizon API) until
//! interrupted or for `--seconds`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use starlog_sim::faults::FaultConfig;
use starlog_sim::market::MarketConfig;
use starlog_sim::server::{BODY_BYTES_MAX_DEFAULT, RATE_LIMIT_PER_HOUR_DEFAULT, Server, ServerConfig};
use starlog_sim::venue::{LEDGER_MS_DEFAULT, VenueConfig};

use super::{CmdError, CmdResult, integer, unix_now_secs};

#[derive(Debug, Subcommand)]
pub enum Sim {
    /// Serve Horizon's API for a simulated ledger on loopback. Prints one JSON line with the
    /// URL and network passphrase once listening.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// Ledger close period in milliseconds; 0 closes ledgers only on `POST /_sim/close`.
    #[arg(long, default_value_t = LEDGER_MS_DEFAULT.to_string())]
    ledger_ms: String,
    /// The network passphrase (default: a standalone network's).
    #[arg(long)]
    network_passphrase: Option<String>,
    /// Unix seconds of the genesis ledger (default: now). Fixing it makes runs repeatable.
    #[arg(long)]
    start_time: Option<String>,
    /// Requests per client address per hour; 0 = unlimited.
    #[arg(long, default_value_t = RATE_LIMIT_PER_HOUR_DEFAULT.to_string())]
    rate_limit_per_hour: String,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = BODY_BYTES_MAX_DEFAULT.to_string())]
    body_bytes_max: String,
    /// Inject a fault, NAME=VALUE (repeatable): latency_ms, jitter_ms, rate_limit_pct,
    /// retry_after_s, server_error_pct, timeout_pct, stream_drop_ms, stale_book_pct, seed.
    #[arg(long = "fault", value_name = "NAME=VALUE")]
    faults: Vec<String>,
    /// Seed of the background market (same seed and same submissions → same ledgers).
    #[arg(long, default_value = "1")]
    seed: String,
    /// Run no background market: an empty order book.
    #[arg(long)]
    no_market: bool,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<String>,
}

pub fn run(cmd: Sim) -> CmdResult {
    match cmd {
        Sim::Serve(args) => serve(&args),
    }
}

fn serve(args: &ServeArgs) -> CmdResult {
    let listen: SocketAddr =
        args.listen.parse().map_err(|_| CmdError::flag("--listen", format!("{:?} is not IP:PORT", args.listen)))?;
    let start_time = match &args.start_time {
        Some(text) => integer::<u64>("--start-time", text)?,
        None => unix_now_secs(),
    };
    let mut venue = VenueConfig::new(start_time);
    venue.ledger_ms = integer("--ledger-ms", &args.ledger_ms)?;
    if let Some(passphrase) = &args.network_passphrase {
        if passphrase.is_empty() {
            return Err(CmdError::flag("--network-passphrase", "must not be empty").into());
        }
        venue.ledger.network_passphrase = passphrase.clone();
    }
    if !args.no_market {
        venue.market = Some(MarketConfig { seed: integer("--seed", &args.seed)?, ..MarketConfig::default() });
    }
    let mut faults = FaultConfig::default();
    for setting in &args.faults {
        faults.set(setting).map_err(|e| CmdError::flag("--fault", e))?;
    }
    let mut config = ServerConfig::new(venue);
    config.listen = listen;
    config.rate_limit_per_hour = integer("--rate-limit-per-hour", &args.rate_limit_per_hour)?;
    config.body_bytes_max = integer("--body-bytes-max", &args.body_bytes_max)?;
    config.faults = faults;
    let seconds = args.seconds.as_deref().map(|s| integer::<u64>("--seconds", s)).transpose()?;
    let passphrase = config.venue.ledger.network_passphrase.clone();
    let server = Server::start(config).map_err(|e| CmdError::new(format!("cannot start on {listen}: {e}")))?;
    let market = server.with_venue(|venue| venue.market().map(|m| m.asset().to_string()));
    let ready = json!({ "horizon_url": server.url(), "network_passphrase": passphrase, "market_asset": market });
    println!("{ready}");
    std::io::stdout().flush()?;
    tracing::info!(horizon_url = %server.url(), market = !args.no_market, "simulated venue listening");
    match seconds {
        Some(seconds) => std::thread::sleep(Duration::from_secs(seconds)),
        // SIGINT and SIGTERM end the process: the venue keeps nothing that must be flushed.
        None => loop {
            std::thread::park();
        },
    }
    server.stop();
    tracing::info!("simulated venue stopped");
    Ok(ExitCode::SUCCESS)
}
