//! `starlog demo`: the whole system in one command, on a fresh machine, with no configuration.
//!
//! 1. The simulated venue starts in-process on loopback (a ledger every 500 ms, the seeded
//!    background market trading USD against XLM).
//! 2. A trading account is created through friendbot, trusts the market's USD and is granted
//!    some; its key is derived from the seed and never leaves the process.
//! 3. The live process (`starlog run`'s code: Horizon client, journal, engine, market maker,
//!    submission pipeline) trades on the venue for the given time, then stops as on Ctrl-C:
//!    halt, cancel our offers, wait for them to settle.
//! 4. While it trades, the live process signs checkpoints of both journals' chains and anchors
//!    them on the venue's ledger from a second account (also friendbot-funded).
//! 5. The session is verified (checksums and hash chain, the checkpoints against the trading
//!    key, the anchors on the ledger) and replayed through a fresh engine, and the summary says
//!    what happened and whether the replay was identical.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sha2::{Digest, Sha256};
use starlog_adapters::core_loop::{INPUT_DIR, OUTPUT_DIR};
use starlog_adapters::horizon::client::{ClientConfig, HorizonClient};
use starlog_adapters::keys::{OpenOptions, SecretSource, SecurityLevel, Seed, SeedSigner, Signer, StoreKind};
use starlog_adapters::live::config::RunConfig;
use starlog_adapters::live::run::{self, RunOptions, RunSummary};
use starlog_adapters::stellar::{asset_to_xdr, muxed_to_xdr};
use starlog_adapters::{anchor, checkpoint};
use starlog_engine::AccountId;
use starlog_journal::JournalReader;
use stellar_xdr as xdr;

use crate::market::MarketConfig;
use crate::replay::{self, Alterations, ReplayReport};
use crate::server::{Server, ServerConfig};
use crate::venue::VenueConfig;

/// What to run.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// The session directory (created).
    pub dir: PathBuf,
    pub seconds: u64,
    pub seed: u64,
}

/// What the demo did.
#[derive(Clone, Debug)]
pub struct DemoSummary {
    pub dir: PathBuf,
    pub account: AccountId,
    pub run: RunSummary,
    /// Our trades on the venue.
    pub fills: u64,
    pub replay: ReplayReport,
    /// Records, bytes of frames and the output chain head of the verified journals.
    pub input_records: u64,
    pub output_records: u64,
    pub journal_bytes: u64,
    pub output_head: [u8; 32],
    /// Signed checkpoints verified against the trading key, and anchors of them found on the
    /// ledger (with the latest one's ledger).
    pub checkpoints: usize,
    pub anchors: usize,
    pub anchored_ledger: Option<u32>,
}

/// The demo's trading key: derived from the seed, so a demo run is repeatable.
fn trader_seed(seed: u64) -> Seed {
    let mut h = Sha256::new();
    h.update(b"starlog demo trader");
    h.update(seed.to_le_bytes());
    Seed::from_bytes(h.finalize().into())
}

/// The demo's anchor account key, derived likewise.
fn anchor_seed(seed: u64) -> Seed {
    let mut h = Sha256::new();
    h.update(b"starlog demo anchor");
    h.update(seed.to_le_bytes());
    Seed::from_bytes(h.finalize().into())
}

fn failed(what: &str, detail: impl std::fmt::Debug) -> String {
    format!("demo setup: {what} failed: {detail:?}")
}

/// Friendbot, a USD trustline and a grant of USD, through the venue's own calls.
fn fund(server: &Server, seed: &Seed, grant_stroops: i64) -> Result<AccountId, String> {
    let account = seed.public_key();
    server.with_venue(|venue| -> Result<(), String> {
        venue.friendbot(&account).map_err(|e| failed("friendbot", e))?;
        let market = venue.market().ok_or("the demo venue has no market")?;
        let xdr::Asset::CreditAlphanum4(line) = asset_to_xdr(&market.asset()) else {
            return Err("the market's asset is not alphanum4".into());
        };
        let sequence = venue.ledger().account(&account).map(|a| a.seq_num).ok_or("no account after friendbot")?;
        let trust = xdr::Transaction {
            source_account: muxed_to_xdr(&account),
            fee: 100,
            seq_num: xdr::SequenceNumber(sequence + 1),
            cond: xdr::Preconditions::None,
            memo: xdr::Memo::None,
            operations: vec![xdr::Operation {
                source_account: None,
                body: xdr::OperationBody::ChangeTrust(xdr::ChangeTrustOp {
                    line: xdr::ChangeTrustAsset::CreditAlphanum4(line),
                    limit: i64::MAX,
                }),
            }]
            .try_into()
            .map_err(|e| failed("trustline", e))?,
            ext: xdr::TransactionExt::V0,
        };
        let mut signer = SeedSigner::new(seed, StoreKind::Env, "env:STARLOG_DEMO_SEED".into());
        let network = venue.ledger().network().clone();
        let signed = starlog_adapters::stellar::tx::sign(trust, &network, &mut [&mut signer as &mut dyn Signer])
            .map_err(|e| failed("signing the trustline", e))?;
        let submitted = venue.submit(&signed.to_xdr()).map_err(|e| failed("trustline", e))?;
        if !submitted.succeeded() {
            return Err(failed("trustline", submitted.result.result));
        }
        let granted = venue.grant(&account, grant_stroops).map_err(|e| failed("grant", e))?;
        if !granted.succeeded() {
            return Err(failed("grant", granted.result.result));
        }
        venue.close_ledger();
        Ok(())
    })?;
    Ok(account)
}

fn config_text(server: &Server, account: &AccountId, usd: &str, passphrase: &str, dir: &Path, seed: u64) -> String {
    format!(
        r#"# starlog demo: the market maker on the simulated venue
horizon_url = "{url}"
network = "{passphrase}"
account = "{account}"
signer = "env:STARLOG_DEMO_SEED"
journal_dir = "{dir}"
durability = "batch"
security_level = "DEVELOPMENT"
seed = {seed}
cancel_on_exit = true

[[pairs]]
selling = "native"
buying = "{usd}"

[strategy]
name = "market-maker"
params = {{ spread_bps = 30, levels = 2, level_spacing_bps = 20, order_amount = "50", refresh_tolerance_bps = 15, inventory_skew_pct = 50 }}

[risk]
price_band_bps_max = 1000
order_amount_stroops_max = 2000000000

[timing]
timer_ms = 250
account_poll_ms = 1000

[audit]
checkpoint_secs = 5
anchor_key = "env:STARLOG_DEMO_ANCHOR_SEED"
anchor_secs = 10
"#,
        url = server.url(),
        dir = dir.display(),
    )
}

/// Runs the demo. See the module doc.
pub fn run_demo(config: &DemoConfig, stop: Arc<AtomicBool>) -> Result<DemoSummary, Box<dyn std::error::Error>> {
    if config.dir.join(INPUT_DIR).exists() {
        return Err(format!("{} already holds a session; give a new --dir", config.dir.display()).into());
    }
    let mut venue =
        VenueConfig::new(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    venue.ledger_ms = 500;
    venue.market = Some(MarketConfig { seed: config.seed, ..MarketConfig::default() });
    let mut server_config = ServerConfig::new(venue);
    server_config.rate_limit_per_hour = 0;
    let server = Server::start(server_config)?;
    let seed = trader_seed(config.seed);
    let account = fund(&server, &seed, 2_000 * 10_000_000)?;
    let anchor = anchor_seed(config.seed);
    server.with_venue(|v| v.friendbot(&anchor.public_key())).map_err(|e| failed("friendbot (anchor)", e))?;
    let (usd, passphrase) = server.with_venue(|v| {
        let usd = v.market().map(|m| m.asset().to_string()).unwrap_or_default();
        (usd, v.config().ledger.network_passphrase.clone())
    });
    let session = config.dir.join("session");
    let text = config_text(&server, &account, &usd, &passphrase, &session, config.seed);
    std::fs::create_dir_all(&config.dir)?;
    std::fs::write(config.dir.join("run.toml"), &text)?;
    let run_config = RunConfig::parse(&text)?;
    let options = RunOptions {
        stop,
        duration: Some(Duration::from_secs(config.seconds)),
        open: OpenOptions {
            level: SecurityLevel::Development,
            passphrase: SecretSource::Env("STARLOG_DEMO_UNUSED".into()),
            pin: SecretSource::Env("STARLOG_DEMO_UNUSED".into()),
        },
        signer: Some(Box::new(SeedSigner::new(&seed, StoreKind::Env, "env:STARLOG_DEMO_SEED".into()))),
        anchor_signer: Some(Box::new(SeedSigner::new(&anchor, StoreKind::Env, "env:STARLOG_DEMO_ANCHOR_SEED".into()))),
    };
    let run = run::run(&run_config, options)?;
    let fills = server.with_venue(|v| {
        v.ledger().history().trades.iter().filter(|t| t.maker == account || t.taker == account).count() as u64
    });
    // The evidence, checked as a third party would: checkpoints by the trading key, anchors on
    // the ledger through Horizon.
    let checkpoints = checkpoint::verify(&session, Some(&account))?;
    let client = HorizonClient::new(ClientConfig::new(&server.url()));
    let anchors = anchor::verify(&session, &client, &anchor.public_key())?;
    server.stop();

    let mut records = [0u64; 2];
    let mut output_head = [0; 32];
    let mut journal_bytes = 0;
    for (i, name) in [INPUT_DIR, OUTPUT_DIR].iter().enumerate() {
        let report = JournalReader::open(session.join(name))?.verify()?;
        if let Some((at, bytes)) = report.torn_tail {
            return Err(format!("{name} journal has a torn tail of {bytes} bytes at {at}").into());
        }
        records[i] = report.records;
        journal_bytes += report.bytes;
        if i == 1 {
            output_head = report.chain_head;
        }
    }
    let replay = replay::replay(&session, Alterations::default())?;
    Ok(DemoSummary {
        dir: config.dir.clone(),
        account,
        run,
        fills,
        replay,
        input_records: records[0],
        output_records: records[1],
        journal_bytes,
        output_head,
        checkpoints: checkpoints.checkpoints,
        anchors: anchors.anchors,
        anchored_ledger: anchors.latest.map(|(found, _, _)| found.ledger),
    })
}
