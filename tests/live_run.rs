//! `starlog run` against `starlog sim serve` (with its background market): the market maker
//! quotes, gets filled, journals everything, and cancels its offers on the way out; a second
//! client trading from our account is an intrusion (P0 lockdown); operators steer a session
//! through the admin API, its metrics match its journal, and a P0 reaches the alert webhook.

mod support;
#[path = "../adapters/tests/harness/webhook.rs"]
mod webhook;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind};
use starlog_adapters::stellar::tx::{self, OfferKind, OfferOp, TxParams};
use starlog_adapters::stellar::{Network, asset_to_xdr, muxed_to_xdr};
use starlog_engine::{AccountId, Amount, Asset, OfferRef, Price};
use stellar_xdr as xdr;
use support::SimProcess;

const SEED: [u8; 32] = [42; 32];

/// The simulated venue, and the client calls the tests make on it.
struct Sim {
    /// Held for its `Drop`: the venue lives as long as the test's `Sim`.
    _process: SimProcess,
    url: String,
    passphrase: String,
    usd: Asset,
}

impl Sim {
    fn start() -> Sim {
        Sim::start_with(&[])
    }

    /// GET, retried through injected 429s and 5xx (the faults test turns them on).
    fn get(&self, path: &str) -> serde_json::Value {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Sim::retried(|| agent.get(format!("{}{path}", self.url)).call().unwrap())
    }

    /// POST, retried likewise: a resubmitted transaction gets its recorded result.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Sim::retried(|| agent.post(format!("{}{path}", self.url)).send_form(form.iter().copied()).unwrap())
    }

    fn retried(mut call: impl FnMut() -> ureq::http::Response<ureq::Body>) -> serde_json::Value {
        for _ in 0..50 {
            let mut response = call();
            let status = response.status().as_u16();
            let body: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
            if status != 429 && status < 500 {
                return body;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the simulated venue kept failing");
    }

    fn network(&self) -> Network {
        Network::from_passphrase(&self.passphrase)
    }

    fn sequence(&self, account: &AccountId) -> i64 {
        self.get(&format!("/accounts/{account}"))["sequence"].as_str().unwrap().parse().unwrap()
    }

    fn submit(&self, transaction: xdr::Transaction) -> serde_json::Value {
        let mut signer = SeedSigner::new(&Seed::from_bytes(SEED), StoreKind::Env, "env:TEST".into());
        let signed = tx::sign(transaction, &self.network(), &mut [&mut signer as &mut dyn Signer]).unwrap();
        self.post("/transactions", &[("tx", &base64::engine::general_purpose::STANDARD.encode(signed.to_xdr()))])
    }

    /// A funded trader with a USD trustline and 500 USD.
    fn trader(&self) -> AccountId {
        let account = Seed::from_bytes(SEED).public_key();
        self.get(&format!("/friendbot?addr={account}"));
        let xdr::Asset::CreditAlphanum4(line) = asset_to_xdr(&self.usd) else { panic!("USD is alphanum4") };
        // Rebuilt on a fresh sequence number if a `bad_seq_pct` fault moved it on.
        let trusted = (0..20).any(|_| {
            let trust = xdr::Transaction {
                source_account: muxed_to_xdr(&account),
                fee: 100,
                seq_num: xdr::SequenceNumber(self.sequence(&account) + 1),
                cond: xdr::Preconditions::None,
                memo: xdr::Memo::None,
                operations: vec![xdr::Operation {
                    source_account: None,
                    body: xdr::OperationBody::ChangeTrust(xdr::ChangeTrustOp {
                        line: xdr::ChangeTrustAsset::CreditAlphanum4(line.clone()),
                        limit: i64::MAX,
                    }),
                }]
                .try_into()
                .unwrap(),
                ext: xdr::TransactionExt::V0,
            };
            self.submit(trust)["successful"] == true
        });
        assert!(trusted, "the trustline went in");
        let granted = self.post(&format!("/_sim/grant?addr={account}&amount=500"), &[]);
        assert_eq!(granted["successful"], true, "{granted}");
        account
    }

    /// A new account (seed `[77; 32]`) pays `to` one XLM.
    fn stranger_pays(&self, to: &AccountId) -> serde_json::Value {
        let payment = xdr::OperationBody::Payment(xdr::PaymentOp {
            destination: muxed_to_xdr(to),
            asset: xdr::Asset::Native,
            amount: 10_000_000,
        });
        self.stranger_submits(77, xdr::Operation { source_account: None, body: payment }, false)
    }

    /// A stranger's transaction with one operation sourced from our account (a data entry on
    /// it), signed by the stranger and by our key: no offer, no balance of ours moves.
    fn stranger_uses_our_account(&self, ours: &AccountId) -> serde_json::Value {
        let data = xdr::OperationBody::ManageData(xdr::ManageDataOp {
            data_name: "note".as_bytes().to_vec().try_into().unwrap(),
            data_value: Some(b"hi".to_vec().try_into().unwrap()),
        });
        self.stranger_submits(78, xdr::Operation { source_account: Some(muxed_to_xdr(ours)), body: data }, true)
    }

    /// A new account (seed `[seed; 32]`, funded by friendbot) submits one operation in a
    /// transaction of its own, signed by its key and, with `cosigned`, by ours too.
    fn stranger_submits(&self, seed: u8, operation: xdr::Operation, cosigned: bool) -> serde_json::Value {
        let seed = Seed::from_bytes([seed; 32]);
        let from = seed.public_key();
        self.get(&format!("/friendbot?addr={from}"));
        let transaction = xdr::Transaction {
            source_account: muxed_to_xdr(&from),
            fee: 100,
            seq_num: xdr::SequenceNumber(self.sequence(&from) + 1),
            cond: xdr::Preconditions::None,
            memo: xdr::Memo::None,
            operations: vec![operation].try_into().unwrap(),
            ext: xdr::TransactionExt::V0,
        };
        let mut stranger = SeedSigner::new(&seed, StoreKind::Env, "env:STRANGER".into());
        let mut us = SeedSigner::new(&Seed::from_bytes(SEED), StoreKind::Env, "env:TEST".into());
        let mut signers: Vec<&mut dyn Signer> = vec![&mut stranger];
        if cosigned {
            signers.push(&mut us);
        }
        let signed = tx::sign(transaction, &self.network(), &mut signers).unwrap();
        self.post("/transactions", &[("tx", &base64::engine::general_purpose::STANDARD.encode(signed.to_xdr()))])
    }

    /// An offer placed from our account by someone else (our key, not our process): sells 1
    /// USD at 1000 XLM. Its transaction resource.
    fn rogue_offer(&self, account: &AccountId) -> serde_json::Value {
        let rogue = OfferOp {
            kind: OfferKind::ManageSell,
            selling: self.usd,
            buying: Asset::Native,
            amount: Amount::from_units(1).unwrap(),
            price: Price::new(1000, 1).unwrap(),
            offer: OfferRef::New,
        };
        // A live process may be submitting too: on tx_bad_seq, read the sequence again.
        let mut answer = serde_json::Value::Null;
        for _ in 0..20 {
            let params = TxParams {
                source: *account,
                sequence: self.sequence(account) + 1,
                fee_stroops: 100,
                min_time: 0,
                max_time: u64::MAX / 2,
            };
            answer = self.submit(tx::build(&params, &[rogue]).unwrap());
            if answer["successful"] == true {
                return answer;
            }
        }
        panic!("the rogue offer did not go in: {answer}");
    }

    /// The ids of every trade of the pair (native/USD) on the venue, oldest first.
    fn pair_trades(&self) -> Vec<u128> {
        let usd = self.usd.to_string();
        let (code, issuer) = usd.split_once(':').unwrap();
        let mut path = format!(
            "/trades?base_asset_type=native&counter_asset_type=credit_alphanum4&counter_asset_code={code}\
             &counter_asset_issuer={issuer}&order=asc&limit=200"
        );
        let mut ids = Vec::new();
        loop {
            let page = self.get(&path);
            let records = page["_embedded"]["records"].as_array().unwrap().clone();
            for r in &records {
                let token = r["paging_token"].as_str().unwrap();
                let (toid, index) = token.split_once('-').unwrap();
                ids.push((toid.parse::<u128>().unwrap() << 32) | index.parse::<u128>().unwrap());
            }
            if records.len() < 200 {
                return ids;
            }
            let next = page["_links"]["next"]["href"].as_str().unwrap();
            path = next[self.url.len()..].to_owned();
        }
    }

    fn offers_of(&self, account: &AccountId) -> usize {
        self.get(&format!("/accounts/{account}/offers?limit=200"))["_embedded"]["records"].as_array().unwrap().len()
    }
}

impl Sim {
    fn start_with(extra: &[&str]) -> Sim {
        let process = SimProcess::start(extra);
        let usd = process.market_asset.as_deref().expect("a market").parse().unwrap();
        Sim { url: process.url.clone(), passphrase: process.passphrase.clone(), usd, _process: process }
    }
}

/// Every intent of the session's journal: how many `TxSubmitted` and how many results each got.
fn settlements(session: &Path) -> std::collections::BTreeMap<u64, (u32, u32)> {
    use starlog_engine::events::{self, ArchivedInput};
    let reader = starlog_journal::JournalReader::open(session.join("input")).unwrap();
    let mut per_intent: std::collections::BTreeMap<u64, (u32, u32)> = std::collections::BTreeMap::new();
    for record in reader.iter() {
        let record = record.unwrap();
        let (intent, submitted) = match events::access(record.payload).unwrap() {
            ArchivedInput::TxSubmitted(t) => (t.intent.to_native(), true),
            ArchivedInput::TxSucceeded(t) => (t.intent.to_native(), false),
            ArchivedInput::TxFailed(t) => (t.intent.to_native(), false),
            ArchivedInput::TxExpired(t) => (t.intent.to_native(), false),
            _ => continue,
        };
        let entry = per_intent.entry(intent).or_default();
        if submitted {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    per_intent
}

fn assert_each_intent_settled_once(session: &Path) {
    let settlements = settlements(session);
    assert!(!settlements.is_empty());
    for (intent, (submitted, results)) in &settlements {
        assert!(*submitted <= 1, "intent {intent} submitted {submitted} times");
        assert_eq!(*results, 1, "intent {intent} has {results} results");
    }
}

fn config(sim: &Sim, account: &AccountId, dir: &Path) -> std::path::PathBuf {
    let text = format!(
        r#"horizon_url = "{url}"
network = "{passphrase}"
account = "{account}"
signer = "env:STARLOG_TEST_SEED"
journal_dir = "{dir}"
durability = "batch"
seed = 7

[[pairs]]
selling = "native"
buying = "{usd}"

[strategy]
name = "market-maker"
params = {{ spread_bps = 30, levels = 2, level_spacing_bps = 20, order_amount = "20", refresh_tolerance_bps = 15 }}

[risk]
price_band_bps_max = 2000

[timing]
timer_ms = 200
account_poll_ms = 500
"#,
        url = sim.url,
        passphrase = sim.passphrase,
        dir = dir.join("session").display(),
        usd = sim.usd,
    );
    let path = dir.join("run.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits until the session's input journal holds a security event whose description contains
/// `what` (up to a minute: a loaded machine is slow, a missing event still fails).
fn wait_for_security_event(session: &Path, what: &str) {
    use starlog_engine::events::{self, ArchivedInput};
    let started = std::time::Instant::now();
    loop {
        if let Ok(reader) = starlog_journal::JournalReader::open(session.join("input")) {
            let seen = reader.iter().filter_map(Result::ok).any(|r| {
                matches!(events::access(r.payload), Ok(ArchivedInput::Security(e)) if format!("{e:?}").contains(what))
            });
            if seen {
                return;
            }
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "no {what} journaled");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A market-making run on a fresh venue: once it quotes, `act` happens; once the journal holds
/// the security event `event`, the run is stopped. The venue, our account, the session's
/// directory and the run's summary.
fn quoting_run_meets(
    event: &str,
    act: impl FnOnce(&Sim, &AccountId),
) -> (Sim, AccountId, tempfile::TempDir, serde_json::Value) {
    let sim = Sim::start();
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let run = run_in_background(&config, "120");
    wait_for_offers(&sim, &account);
    act(&sim, &account);
    wait_for_security_event(&dir.path().join("session"), event);
    let summary = interrupt(run);
    (sim, account, dir, summary)
}

/// SIGINT to a background run, and its summary.
fn interrupt(run: std::process::Child) -> serde_json::Value {
    let killed = Command::new("kill").args(["-INT", &run.id().to_string()]).status().unwrap();
    assert!(killed.success());
    summary(&run.wait_with_output().unwrap())
}

/// `starlog run` on `config` for `seconds`, in the background, its output captured.
fn run_in_background(config: &Path, seconds: &str) -> std::process::Child {
    starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", seconds])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn starlog(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_starlog"));
    command.args(args).env("STARLOG_TEST_SEED", Seed::from_bytes(SEED).to_strkey().as_str());
    command
}

fn summary(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "starlog run failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    eprintln!("summary: {stdout}stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn the_market_maker_quotes_gets_filled_and_cancels_on_exit() {
    let sim = Sim::start();
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let output = starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", "10"]).output().unwrap();
    let s = summary(&output);
    assert!(s["submitted"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["succeeded"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(s["intrusions"], 0, "{s}");
    assert_eq!(s["locked_down"], false, "no false alarm from our own trading: {s}");
    assert_eq!(s["open_orders"], 0, "everything cancelled on exit: {s}");
    assert_eq!(sim.offers_of(&account), 0, "no offer of ours left on the venue");
    let trades = sim.get(&format!("/accounts/{account}/trades?limit=200"));
    assert!(!trades["_embedded"]["records"].as_array().unwrap().is_empty(), "the market traded with us: {s}");
    // The journals verify, and so does the chain checkpoint the run signed at exit with our key.
    let session = dir.path().join("session");
    let key = account.to_string();
    let verify = starlog(&["audit", "verify", session.to_str().unwrap(), "--key", &key]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(text.contains(&format!("checkpoints: ok: 1 signed by {key} (the key given)")), "{text}");
    let other = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
    let verify = starlog(&["audit", "verify", session.to_str().unwrap(), "--key", other]).output().unwrap();
    assert!(!verify.status.success(), "another key must not verify");
    assert!(String::from_utf8_lossy(&verify.stderr).contains("does not hold for key"));
    assert_each_intent_settled_once(&session);
    assert_replays_identically(&session);
    // Every fill of ours on the venue is in the journal, as the trade the stream delivered (up
    // to the last trade journaled: one in the last moments may arrive after the loop ended).
    let journaled = journaled_trades(&session);
    let last = *journaled.last().expect("trades journaled");
    for record in trades["_embedded"]["records"].as_array().unwrap() {
        let (toid, index) = record["paging_token"].as_str().unwrap().split_once('-').unwrap();
        let id = (toid.parse::<u128>().unwrap() << 32) | index.parse::<u128>().unwrap();
        assert!(id > last || journaled.contains(&id), "our trade {record} is journaled");
    }
    // The session resumes only under the configuration it started with.
    let changed = std::fs::read_to_string(&config).unwrap().replace("spread_bps = 30", "spread_bps = 31");
    std::fs::write(&config, changed).unwrap();
    let inputs_before = starlog_journal::JournalReader::open(session.join("input")).unwrap().iter().count();
    let refused = starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", "5"]).output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("holds a session started with another configuration"), "{stderr}");
    let inputs_after = starlog_journal::JournalReader::open(session.join("input")).unwrap().iter().count();
    assert_eq!(inputs_before, inputs_after, "nothing journaled");
}

/// Checkpoints anchored on the ledger from a second account: `audit verify --anchors` finds
/// them through Horizon and matches each to a checkpoint of the session; a checkpoints file
/// rewritten afterwards (the anchored checkpoint gone) no longer matches the ledger.
#[test]
fn checkpoints_are_anchored_on_the_ledger_and_a_rewrite_is_caught() {
    let sim = Sim::start();
    let account = sim.trader();
    let anchor_seed = Seed::from_bytes([0xA5; 32]);
    let anchor_account = anchor_seed.public_key();
    sim.get(&format!("/friendbot?addr={anchor_account}"));
    let dir = tempfile::tempdir().unwrap();
    let path = config(&sim, &account, dir.path());
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[audit]\ncheckpoint_secs = 1\nanchor_key = \"env:STARLOG_TEST_ANCHOR\"\nanchor_secs = 2\n");
    std::fs::write(&path, text).unwrap();
    // Anchoring from the trading account itself is refused (its sequence numbers are the
    // pipeline's), in one line.
    let same = starlog(&["run", "--config", path.to_str().unwrap(), "--seconds", "5"])
        .env("STARLOG_TEST_ANCHOR", Seed::from_bytes(SEED).to_strkey().as_str())
        .output()
        .unwrap();
    assert!(!same.status.success());
    let stderr = String::from_utf8_lossy(&same.stderr);
    assert!(stderr.contains("anchor_key must be another account's key") && stderr.lines().count() == 1, "{stderr}");
    assert!(!dir.path().join("session").exists(), "refused before anything was journaled");
    let output = starlog(&["run", "--config", path.to_str().unwrap(), "--seconds", "5"])
        .env("STARLOG_TEST_ANCHOR", anchor_seed.to_strkey().as_str())
        .output()
        .unwrap();
    let s = summary(&output);
    assert!(s["checkpoints"].as_u64().unwrap() >= 3, "{s}");
    assert!(s["anchors"].as_u64().unwrap() >= 2, "{s}");
    let session = dir.path().join("session");
    let (session_arg, key, anchors) = (session.to_str().unwrap(), account.to_string(), anchor_account.to_string());
    let verify = |extra: &[&str]| {
        let mut args =
            vec!["audit", "verify", session_arg, "--key", &key, "--anchors", &anchors, "--horizon", &sim.url];
        args.extend_from_slice(extra);
        starlog(&args).output().unwrap()
    };
    let ok = verify(&[]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let text = String::from_utf8_lossy(&ok.stdout);
    let anchored = s["anchors"].as_u64().unwrap();
    assert!(text.contains(&format!("anchors: ok: {anchored} on the ledger by {anchors}")), "{text}");
    // The anchor account is not ours to trade with, and the trading account saw no intrusion.
    assert_eq!(s["intrusions"], 0, "{s}");
    // The checkpoints file rewritten without its last line (the exit checkpoint, anchored):
    // the file still verifies by itself, but the ledger says otherwise.
    let file = session.join("checkpoints");
    let lines: Vec<String> = std::fs::read_to_string(&file).unwrap().lines().map(str::to_owned).collect();
    std::fs::write(&file, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let alone = starlog(&["audit", "verify", session_arg, "--key", &key]).output().unwrap();
    assert!(alone.status.success(), "{}", String::from_utf8_lossy(&alone.stderr));
    let caught = verify(&[]);
    assert!(!caught.status.success());
    let stderr = String::from_utf8_lossy(&caught.stderr);
    assert!(stderr.contains("which is no checkpoint of this session"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // The trading account published no anchors for this session: that is an error, not a pass.
    let none = starlog(&["audit", "verify", session_arg, "--anchors", &key, "--horizon", &sim.url]).output().unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("published none for this session"));
}

/// `starlog replay` in a fresh process reproduces every output; an altered code path is caught
/// at its first divergent output.
fn assert_replays_identically(session: &Path) {
    let session = session.to_str().unwrap();
    let same = starlog(&["replay", session, "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&same.stdout).unwrap();
    assert!(same.status.success(), "{report}");
    assert_eq!(report["identical"], true, "{report}");
    assert!(report["outputs"].as_u64().unwrap() > 0);
    let altered = starlog(&["replay", session, "--json", "--test-alter-spread-bps", "7"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&altered.stdout).unwrap();
    assert!(!altered.status.success());
    assert_eq!(report["identical"], false, "{report}");
    assert!(report["input_seq"].as_u64().unwrap() > 1, "{report}");
}

/// Every fault at once: a storm of 429s, 504s on transactions that did apply, 500s, streams
/// cut every 1.5 s, and submissions meeting a sequence number moved on by a competing
/// submitter (`tx_bad_seq`). The run must settle every intent exactly once, journal every
/// trade of the pair once and in order with none missing, and leave nothing on the book.
#[test]
fn faults_on_the_venue_neither_lose_nor_double_orders() {
    let sim = Sim::start_with(&[
        "--fault",
        "timeout_pct=20",
        "--fault",
        "rate_limit_pct=30",
        "--fault",
        "server_error_pct=5",
        "--fault",
        "bad_seq_pct=10",
        "--fault",
        "stream_drop_ms=1500",
        "--fault",
        "seed=11",
    ]);
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let s = summary(&starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", "12"]).output().unwrap());
    assert!(s["rate_limited"].as_u64().unwrap() >= 5, "a storm of 429s met: {s}");
    assert_eq!(s["open_orders"], 0, "{s}");
    assert_eq!(sim.offers_of(&account), 0);
    let session = dir.path().join("session");
    assert_each_intent_settled_once(&session);
    // The pair's trades, as the venue has them between the first and the last one journaled:
    // each journaled once, in order.
    let journaled = journaled_trades(&session);
    assert!(journaled.len() >= 2, "the market traded during the run");
    assert!(journaled.windows(2).all(|w| w[0] < w[1]), "journaled trades are in order, none twice");
    let (first, last) = (journaled[0], *journaled.last().unwrap());
    let venue: Vec<u128> = sim.pair_trades().into_iter().filter(|id| (first..=last).contains(id)).collect();
    let missing: Vec<&u128> = venue.iter().filter(|id| !journaled.contains(id)).collect();
    let extra: Vec<&u128> = journaled.iter().filter(|id| !venue.contains(id)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "every trade of the pair from the first journaled to the last, none missing: missing {missing:?}, \
         not on the venue {extra:?}, of {} journaled",
        journaled.len()
    );
    let verify = starlog(&["audit", "verify", session.to_str().unwrap()]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}

/// Stellar's `txBAD_SEQ`.
const TX_BAD_SEQ: i32 = -5;

/// `tx_bad_seq` (a competing submitter moved our sequence number on, 40 % of submissions):
/// after it nothing goes out until the number is read again, and then trading goes on — a
/// transaction submitted after the first `tx_bad_seq` (so built on a resynced number)
/// succeeds; every intent settles once.
#[test]
fn tx_bad_seq_is_followed_by_a_resync_and_trading_goes_on() {
    use starlog_engine::events::{self, ArchivedInput};
    let sim = Sim::start_with(&["--fault", "bad_seq_pct=40", "--fault", "seed=5"]);
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let s = summary(&starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", "10"]).output().unwrap());
    assert_eq!(s["open_orders"], 0, "{s}");
    let session = dir.path().join("session");
    assert_each_intent_settled_once(&session);
    let reader = starlog_journal::JournalReader::open(session.join("input")).unwrap();
    let (mut bad_seq_seen, mut submitted_after, mut succeeded) = (false, Vec::new(), Vec::new());
    for record in reader.iter() {
        match events::access(record.unwrap().payload).unwrap() {
            ArchivedInput::TxFailed(t) if t.tx_code == TX_BAD_SEQ => bad_seq_seen = true,
            ArchivedInput::TxSubmitted(t) if bad_seq_seen => submitted_after.push(t.intent.to_native()),
            ArchivedInput::TxSucceeded(t) => succeeded.push(t.intent.to_native()),
            _ => {}
        }
    }
    assert!(bad_seq_seen, "a tx_bad_seq was met: {s}");
    assert!(submitted_after.iter().any(|i| succeeded.contains(i)), "a resynced transaction succeeded: {s}");
}

/// The ids (paging tokens as `TOID << 32 | INDEX`) of the trades journaled from the stream.
fn journaled_trades(session: &Path) -> Vec<u128> {
    use starlog_engine::events::{self, ArchivedInput};
    let reader = starlog_journal::JournalReader::open(session.join("input")).unwrap();
    let mut ids = Vec::new();
    for record in reader.iter() {
        if let ArchivedInput::Trade(t) = events::access(record.unwrap().payload).unwrap() {
            ids.push(t.id.to_native());
        }
    }
    ids
}

#[test]
fn a_kill_9_mid_session_then_a_restart_loses_and_doubles_nothing() {
    let sim = Sim::start();
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let mut first = starlog(&["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_offers(&sim, &account);
    std::thread::sleep(std::time::Duration::from_secs(2));
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let resting = sim.offers_of(&account);
    // Orders of ours were open (resting, or in flight) when it died, as its journal has it.
    let session = dir.path().join("session");
    let last = starlog_journal::JournalReader::open(session.join("input")).unwrap().iter().last().unwrap().unwrap().seq;
    let state = starlog(&["audit", "state", session.to_str().unwrap(), "--at", &last.to_string()]).output().unwrap();
    assert!(state.status.success(), "{}", String::from_utf8_lossy(&state.stderr));
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert!(!state["open_orders"].as_array().unwrap().is_empty(), "orders open at the crash: {state}");
    let s = summary(&starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", "6"]).output().unwrap());
    assert_eq!(s["intrusions"], 0, "our own offers from before the crash are not intruders: {s}");
    assert_eq!(s["locked_down"], false, "{s}");
    assert_eq!(s["open_orders"], 0, "{s}");
    assert_eq!(sim.offers_of(&account), 0, "the {resting} offers left by the crash were cancelled on exit");
    assert_each_intent_settled_once(&dir.path().join("session"));
    assert_replays_identically(&dir.path().join("session"));
    let verify = starlog(&["audit", "verify", dir.path().join("session").to_str().unwrap()]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}

/// The crash window between the two journals: an input is committed, then the process dies
/// before the outputs it causes are. Made on disk exactly: after a kill -9 with offers resting,
/// an operator's cancel-all is appended to the input journal alone. A restart regenerates its
/// cancel intents — and must send them: every intent gets its result, and no offer is left.
#[test]
fn intents_regenerated_on_restart_from_a_crash_between_the_journals_are_sent() {
    use starlog_engine::events::{Command as EngineCommand, Input, OperatorCommand, to_bytes};
    let sim = Sim::start();
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let mut first = starlog(&["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_offers(&sim, &account);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    assert!(sim.offers_of(&account) > 0, "offers rest at the crash");
    let inputs = dir.path().join("session").join("input");
    let last_ts = {
        let reader = starlog_journal::JournalReader::open(&inputs).unwrap();
        reader.iter().map(|r| r.unwrap().timestamp_ns).max().unwrap()
    };
    let cancel_all = Input::Operator(OperatorCommand { operator: "ops".into(), command: EngineCommand::CancelAll });
    let opts = starlog_journal::JournalOptions {
        segment_size_bytes: 64 << 20,
        durability: starlog_journal::Durability::Batch,
        sync_hook: None,
    };
    let (mut writer, _) = starlog_journal::JournalWriter::open(&inputs, opts).unwrap();
    let seq = writer.append(cancel_all.kind(), last_ts + 1, &to_bytes(&cancel_all).unwrap()).unwrap();
    writer.commit().unwrap();
    drop(writer);
    let s = summary(&starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", "6"]).output().unwrap());
    assert_eq!(s["open_orders"], 0, "{s}");
    assert_eq!(sim.offers_of(&account), 0, "the cancel-all's cancels reached the venue");
    let settlements = settlements(&dir.path().join("session"));
    let output = starlog_journal::JournalReader::open(dir.path().join("session").join("output")).unwrap();
    let regenerated: Vec<u64> = output
        .iter()
        .filter_map(|r| {
            let r = r.unwrap();
            match starlog_engine::outputs::access(r.payload).unwrap() {
                a if a.input_seq.to_native() == seq => match &a.output {
                    starlog_engine::outputs::ArchivedOutput::Intent(i) => Some(i.id.to_native()),
                    _ => None,
                },
                _ => None,
            }
        })
        .collect();
    assert!(!regenerated.is_empty(), "the cancel-all made intents on restart");
    for intent in regenerated {
        assert_eq!(settlements.get(&intent).map(|s| s.1), Some(1), "intent {intent} of the cancel-all settled");
    }
    assert_each_intent_settled_once(&dir.path().join("session"));
    assert_replays_identically(&dir.path().join("session"));
}

/// Wait until offers of ours rest on the venue (the market maker cancels and replaces, so
/// look a few times).
fn wait_for_offers(sim: &Sim, account: &AccountId) {
    let started = std::time::Instant::now();
    while sim.offers_of(account) == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "never quoted");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn sigint_stops_quoting_and_cancels_our_offers() {
    let sim = Sim::start();
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let child = starlog(&["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_offers(&sim, &account);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let s = summary(&child.wait_with_output().unwrap());
    assert_eq!(s["halted"], true, "{s}");
    assert_eq!(s["open_orders"], 0, "{s}");
    assert_eq!(sim.offers_of(&account), 0);
}

#[test]
fn a_second_client_trading_from_our_account_locks_down() {
    let sim = Sim::start();
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let (hook_url, hooks) = webhook::receiver(vec![200]);
    let text = std::fs::read_to_string(&config).unwrap() + &format!("\n[alerts]\nwebhook = \"{hook_url}\"\n");
    std::fs::write(&config, text).unwrap();
    let run = run_in_background(&config, "120");
    // Let it quote, then trade from our account behind its back.
    wait_for_offers(&sim, &account);
    let answer = sim.rogue_offer(&account);
    wait_for_security_event(&dir.path().join("session"), "UnexpectedTransaction");
    // The lockdown cancels ours at once, and the intruder's once an account snapshot shows it.
    let started = std::time::Instant::now();
    while sim.offers_of(&account) > 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "offers left after the lockdown");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let s = interrupt(run);
    assert!(s["intrusions"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["locked_down"], true, "{s}");
    let ours: Vec<serde_json::Value> =
        sim.get(&format!("/accounts/{account}/offers?limit=200"))["_embedded"]["records"].as_array().unwrap().clone();
    assert!(ours.is_empty(), "the lockdown cancelled our offers, and the intruder's too: {ours:?}");
    let rogue_offer = match starlog_adapters::stellar::result::parse_base64(answer["result_xdr"].as_str().unwrap()) {
        Ok(starlog_adapters::stellar::result::TxOutcome::Success { ops, .. }) => ops[0].offer_id,
        other => panic!("the intruder's offer rested: {other:?}"),
    };
    assert_ne!(rogue_offer, 0, "the intruder's offer rested");
    let outputs = starlog_journal::JournalReader::open(dir.path().join("session").join("output")).unwrap();
    let cancelled_rogue =
        outputs.iter().any(|r| match &starlog_engine::outputs::access(r.unwrap().payload).unwrap().output {
            starlog_engine::outputs::ArchivedOutput::Intent(i) => {
                i.ops.as_slice().iter().any(|op| op.offer_id == rogue_offer && op.amount_stroops == 0)
            }
            _ => false,
        });
    assert!(cancelled_rogue, "the journal holds our cancel of the intruder's offer {rogue_offer}");

    // The forensic view of it: the security input, the P0 incident and the lockdown response.
    let session = dir.path().join("session");
    let session = session.to_str().unwrap();
    let shown = starlog(&["audit", "show", session, "--kind", "security", "--kind", "incident", "--format", "json"])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&shown.stdout).unwrap();
    let security = entries.iter().find(|e| e["kind"] == "security").expect("the security event is journaled");
    assert!(security["detail"].as_str().unwrap().contains("UnexpectedTransaction"), "{security}");
    let incident = entries.iter().find(|e| e["kind"] == "incident").expect("an incident");
    assert!(incident["detail"].as_str().unwrap().contains("P0"), "{incident}");
    // The first P0 came from the transactions stream or from an account snapshot showing the
    // intruder's offer, whichever arrived first: the state flips at that input.
    let seq = incident["seq"].as_u64().unwrap();
    let state = |at: u64| -> serde_json::Value {
        let out = starlog(&["audit", "state", session, "--at", &at.to_string()]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The P0 reached the webhook, naming that input.
    let alert = std::iter::from_fn(|| hooks.recv_timeout(std::time::Duration::from_secs(10)).ok())
        .map(|request| request.json())
        .find(|alert| alert["priority"] == "P0")
        .expect("the P0 alert reaches the webhook");
    assert_eq!(alert["seq"].as_u64(), Some(seq), "{alert}");
    assert!(s["alerts_delivered"].as_u64().unwrap() >= 1, "{s}");
    let (before, after) = (state(seq - 1), state(seq));
    let full = starlog(&["audit", "state", session, "--at", &seq.to_string(), "--no-snapshots"]).output().unwrap();
    assert!(full.status.success(), "{}", String::from_utf8_lossy(&full.stderr));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&full.stdout).unwrap(), after, "a full replay agrees");
    assert_eq!(before["locked_down"], false, "{before}");
    assert!(!before["open_orders"].as_array().unwrap().is_empty(), "quoting before: {before}");
    assert_eq!(after["locked_down"], true, "{after}");
    let csv = starlog(&["audit", "show", session, "--to", "20", "--format", "csv"]).output().unwrap();
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(text.starts_with("seq,timestamp_ns,source,kind,detail\n"), "{text}");
    assert!(text.contains(",input,session_start,"), "{text}");
    let seqs: Vec<u64> = text.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert!(seqs.iter().all(|&s| s <= 20) && seqs.contains(&20), "--to 20 ends at 20: {seqs:?}");

    // Every signature made, and by which store: each submission names the key and its store.
    let show = |args: &[&str]| -> Vec<serde_json::Value> {
        let out = starlog(&[&["audit", "show", session][..], args, &["--format", "json"]].concat()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let submitted = show(&["--kind", "tx_submitted"]);
    assert!(!submitted.is_empty(), "the session submitted transactions");
    for e in &submitted {
        let detail = e["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("signed by {account} with a env key")), "{detail}");
    }
    // Decisions with their reject codes by name, and the lockdown's cancels among the intents.
    let decisions = show(&["--kind", "decision"]);
    assert!(decisions.iter().any(|e| e["detail"].as_str().unwrap().contains("accepted")), "{decisions:?}");
    // A window: --from and --to bound it on both sides, outputs carrying their input's seq.
    let window = show(&["--from", &(seq - 2).to_string(), "--to", &seq.to_string()]);
    assert!(window.iter().all(|e| (seq - 2..=seq).contains(&e["seq"].as_u64().unwrap())), "{window:?}");
    assert!(window.iter().any(|e| e["kind"] == "incident" && e["seq"] == seq), "the P0 is in its window");
    // The table: one line per entry, inputs marked `>` and outputs `<`.
    let table =
        starlog(&["audit", "show", session, "--from", &seq.to_string(), "--to", &seq.to_string()]).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), window.iter().filter(|e| e["seq"] == seq).count(), "{text}");
    assert!(lines[0].contains(" > ") && lines.iter().skip(1).all(|l| l.contains(" < ")), "{text}");
    assert!(lines.iter().any(|l| l.contains("incident") && l.contains("P0")), "{text}");
}

#[test]
fn record_journals_books_and_trades_of_a_pair() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("rec");
    let pair = format!("native/{}", sim.usd);
    let args = ["record", "--horizon", &sim.url, "--pair", &pair, "--dir", session.to_str().unwrap(), "--seconds", "4"];
    let first = summary(&starlog(&args).output().unwrap());
    assert!(first["books"].as_u64().unwrap() >= 2, "the book moves every ledger: {first}");
    assert!(first["trades"].as_u64().unwrap() >= 1, "the market trades: {first}");
    // The market trades on while nothing records; a second recording continues the same
    // session, and its trades resume after the last one journaled: none missing, none twice.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let second = summary(&starlog(&args).output().unwrap());
    assert!(second["input_seq"].as_u64().unwrap() > first["input_seq"].as_u64().unwrap());
    let verify = starlog(&["audit", "verify", session.to_str().unwrap()]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let journaled = journaled_trades(&session);
    assert!(journaled.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    let (from, to) = (journaled[0], *journaled.last().unwrap());
    let venue: Vec<u128> = sim.pair_trades().into_iter().filter(|id| (from..=to).contains(id)).collect();
    assert_eq!(journaled, venue, "every trade of the pair across both recordings and the pause between");
    // Other pairs into the same session would mislabel its inputs: refused, nothing journaled.
    let reversed = format!("{}/native", sim.usd);
    let mut other = args;
    other[4] = &reversed;
    let refused = starlog(&other).output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.trim().lines().count() == 1 && stderr.contains("other pairs"), "{stderr}");
    let last = starlog_journal::JournalReader::open(session.join("input")).unwrap().iter().last().unwrap().unwrap().seq;
    assert_eq!(last, second["input_seq"].as_u64().unwrap(), "nothing journaled by the refused recording");
    let bad = starlog(&["record", "--horizon", &sim.url, "--pair", "native", "--dir", "/tmp/x"]).output().unwrap();
    assert!(!bad.status.success());
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
}

/// A transaction from our account sent while `starlog run` was down is found when it starts
/// again (the account's sequence number is past the highest the journal knows): P0, lockdown,
/// the intruder's offer cancelled.
#[test]
fn a_transaction_from_our_account_while_we_were_down_locks_down_at_restart() {
    let sim = Sim::start();
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sim, &account, dir.path());
    let first = summary(&starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", "4"]).output().unwrap());
    assert_eq!(first["locked_down"], false, "{first}");
    let answer = sim.rogue_offer(&account);
    let s = summary(&starlog(&["run", "--config", config.to_str().unwrap(), "--seconds", "4"]).output().unwrap());
    assert!(s["intrusions"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["locked_down"], true, "{s}");
    assert_eq!(sim.offers_of(&account), 0, "the intruder's offer was cancelled: {answer}");
    let session = dir.path().join("session");
    let shown = starlog(&["audit", "show", session.to_str().unwrap(), "--kind", "security", "--format", "json"])
        .output()
        .unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&shown.stdout).unwrap();
    let hash = answer["hash"].as_str().unwrap();
    let unexpected = entries
        .iter()
        .find(|e| e["detail"].as_str().unwrap().contains("UnexpectedTransaction"))
        .unwrap_or_else(|| panic!("the intruder's transaction {hash} is journaled as unexpected: {entries:?}"));
    // Found by the start-up check: the restart's first input, before its account snapshot.
    assert_eq!(unexpected["seq"].as_u64(), first["input_seq"].as_u64().map(|seq| seq + 1), "{unexpected}");
    assert_replays_identically(&session);
}

/// Our key signed for an operation in someone else's transaction: an intrusion too, though
/// the transaction's source, sequence number and fee are theirs.
#[test]
fn an_operation_from_our_account_in_a_strangers_transaction_locks_down() {
    let (sim, account, _dir, s) = quoting_run_meets("UnexpectedTransaction", |sim, account| {
        let answer = sim.stranger_uses_our_account(account);
        assert_eq!(answer["successful"], true, "{answer}");
    });
    assert!(s["intrusions"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["locked_down"], true, "{s}");
    assert_eq!(sim.offers_of(&account), 0, "{s}");
}

#[test]
fn a_balance_change_we_did_not_cause_locks_down() {
    let (_sim, _account, dir, s) = quoting_run_meets("UnexplainedBalanceChange", |sim, account| {
        assert_eq!(sim.stranger_pays(account)["successful"], true);
    });
    assert_eq!(s["locked_down"], true, "an incoming payment is a balance change we did not cause: {s}");
    assert_eq!(s["intrusions"], 0, "no transaction from our account was forged: {s}");
    let session = dir.path().join("session");
    let shown = starlog(&["audit", "show", session.to_str().unwrap(), "--kind", "security", "--format", "json"])
        .output()
        .unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(entries.iter().any(|e| e["detail"].as_str().unwrap().contains("UnexplainedBalanceChange")), "{entries:?}");
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

const OPS_PASSWORD: &str = "operators-password-for-tests";
const ADA_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// `name{labels}` → value, from a Prometheus text page.
fn parse_metrics(page: &str) -> std::collections::BTreeMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {l}"));
            (key.to_owned(), value.parse::<f64>().unwrap_or_else(|_| panic!("a value: {l}")))
        })
        .collect()
}

#[test]
fn operators_steer_a_session_through_the_admin_api_and_its_metrics_match_the_journal() {
    use starlog_engine::events::{self, ArchivedCommand, ArchivedInput};
    use starlog_engine::outputs::{self, ArchivedOutput};

    let sim = Sim::start();
    let account = sim.trader();
    let dir = tempfile::tempdir().unwrap();
    let (hook_url, hooks) = webhook::receiver(vec![200]);
    let hashed =
        starlog(&["ctl", "hash-password", "--password-env", "OPS_PW"]).env("OPS_PW", OPS_PASSWORD).output().unwrap();
    assert!(hashed.status.success(), "{}", String::from_utf8_lossy(&hashed.stderr));
    let hash = String::from_utf8(hashed.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let totp_file = dir.path().join("ada.totp");
    std::fs::write(&totp_file, ADA_TOTP).unwrap();
    let scrape_file = dir.path().join("scrape.token");
    let digest = starlog(&["ctl", "scrape-token", "--out", scrape_file.to_str().unwrap()]).output().unwrap();
    assert!(digest.status.success());
    let digest = String::from_utf8(digest.stdout).unwrap().trim().to_owned();
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    let config = config(&sim, &account, dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += &format!(
        r#"
[admin]
listen = "127.0.0.1:{port}"
scrape_token_sha256 = "{digest}"

[[admin.operators]]
name = "vera"
role = "viewer"
password_hash = "{hash}"

[[admin.operators]]
name = "tom"
role = "trader"
password_hash = "{hash}"

[[admin.operators]]
name = "ada"
role = "admin"
password_hash = "{hash}"
totp_secret = "file:{totp}"

[alerts]
webhook = "{hook_url}"
"#,
        totp = totp_file.display(),
    );
    std::fs::write(&config, text).unwrap();
    // Stopped by SIGINT once the test is done (the minute is a backstop on a slow machine).
    let run = starlog(&["--log-format", "json", "run", "--config", config.to_str().unwrap(), "--seconds", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let token_file = dir.path().join("token");
    let ctl = |args: &[&str]| -> Output {
        starlog(&["ctl", "--api", &api, "--token-file", token_file.to_str().unwrap()])
            .args(args)
            .env("OPS_PW", OPS_PASSWORD)
            .output()
            .unwrap()
    };
    let ok = |out: &Output| -> serde_json::Value {
        assert!(out.status.success(), "ctl failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    };
    let refused = |out: &Output, status: &str| {
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(status), "{err}");
    };
    // The API comes up with the session.
    let login = |operator: &str, totp: Option<String>| {
        let mut args = vec!["login", "--operator", operator, "--password-env", "OPS_PW"];
        if let Some(code) = &totp {
            args.extend(["--totp", code.as_str()]);
        }
        ctl(&args)
    };
    let mut waited = 0;
    let first = loop {
        let out = login("vera", None);
        if out.status.success() || waited > 100 {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    };
    assert_eq!(ok(&first)["role"], "viewer");
    let status = ok(&ctl(&["status"]));
    assert_eq!(status["account"], account.to_string());
    assert!(status["journal"]["input_seq"].as_u64().unwrap() >= 1, "{status}");
    refused(&ctl(&["halt"]), "HTTP 403");

    // A trader halts and resumes; each command is journaled with who issued it.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(ok(&login("tom", None))["role"], "trader");
    let halt = ok(&ctl(&["halt"]));
    assert_eq!(halt["operator"], "tom");
    assert!(halt.get("token").is_none(), "tokens are not printed");
    assert_eq!(ok(&ctl(&["status"]))["halted"], true);
    let resume = ok(&ctl(&["resume"]));
    refused(&ctl(&["set-limit", "order_amount_stroops_max", "300000000"]), "HTTP 403");

    // An admin, with the second factor, sets a limit.
    refused(&login("ada", None), "HTTP 401");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code = format!("{:06}", starlog_adapters::admin::auth::TotpKey::from_base32(ADA_TOTP).unwrap().code_at(now));
    assert_eq!(ok(&login("ada", Some(code.clone())))["role"], "admin");
    refused(&login("ada", Some(code)), "HTTP 401"); // the same code again
    let limit = ok(&ctl(&["set-limit", "order_amount_stroops_max", "300000000"]));
    assert_eq!(ok(&ctl(&["status"]))["limits"]["order_amount_stroops_max"], 300_000_000);

    // A P0 (a payment we did not cause) reaches the webhook with its seq.
    assert_eq!(sim.stranger_pays(&account)["successful"], true);
    // (Ada's failed login before it was a P2: alerted too, first.)
    let mut delivered = Vec::new();
    let alert = loop {
        let alert =
            hooks.recv_timeout(std::time::Duration::from_secs(30)).expect("the P0 alert reaches the webhook").json();
        if alert["priority"] == "P0" {
            break alert;
        }
        delivered.push(alert);
    };
    assert!(delivered.iter().any(|a| a["kind"] == "AuthFailure"), "{delivered:?}");
    let alert_seq = alert["seq"].as_u64().unwrap();
    assert_eq!(
        alert["audit"],
        format!("starlog audit show {} --from {alert_seq}", dir.path().join("session").display())
    );

    // Scraped mid-run with the scrape credential.
    let scrape = std::fs::read_to_string(&scrape_file).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut response =
        agent.get(format!("{api}/metrics")).header("authorization", format!("Bearer {scrape}")).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page = response.body_mut().read_to_string().unwrap();
    let metrics = parse_metrics(&page);
    // The P0 locked the engine down; only an admin lifts it.
    assert_eq!(ok(&ctl(&["status"]))["locked_down"], true);
    let unlock = ok(&ctl(&["unlock"]));
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(ok(&ctl(&["logout"]))["logged_out"], "ada");
    refused(&ctl(&["status"]), "HTTP 401");
    let stopped = Command::new("kill").args(["-INT", &run.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let output = run.wait_with_output().unwrap();
    // No secret reached the logs: passwords, the TOTP secret, tokens, the scrape credential.
    let logs = String::from_utf8_lossy(&output.stderr);
    for secret in [OPS_PASSWORD, ADA_TOTP, token.trim(), scrape.trim(), &hash] {
        assert!(!logs.contains(secret), "a secret in the logs: {secret:.12}…");
    }
    assert!(logs.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "JSON logs: {logs}");
    assert!(logs.contains("operator command journaled"), "{logs}");
    let s = summary(&output);
    assert!(s["alerts_delivered"].as_u64().unwrap() >= 1, "{s}");

    // The journal says the same: who did what, at the seqs the API answered.
    let session = dir.path().join("session");
    let inputs = starlog_journal::JournalReader::open(session.join("input")).unwrap();
    let mut commands = std::collections::BTreeMap::new();
    let scraped_seq = metrics["starlog_input_seq"] as u64;
    let mut kinds: std::collections::BTreeMap<u16, u64> = std::collections::BTreeMap::new();
    for record in inputs.iter() {
        let record = record.unwrap();
        if record.seq <= scraped_seq {
            *kinds.entry(record.kind).or_default() += 1;
        }
        if let ArchivedInput::Operator(op) = events::access(record.payload).unwrap() {
            let what = match op.command {
                ArchivedCommand::Halt => "halt".to_owned(),
                ArchivedCommand::Resume => "resume".to_owned(),
                ArchivedCommand::SetLimit { limit, value } => format!("limit {limit}={value}"),
                ArchivedCommand::Unlock => "unlock".to_owned(),
                _ => "other".to_owned(),
            };
            commands.insert(record.seq, (op.operator.as_str().to_owned(), what));
        }
    }
    let at = |v: &serde_json::Value| v["seq"].as_u64().unwrap();
    assert_eq!(commands[&at(&halt)], ("tom".to_owned(), "halt".to_owned()));
    assert_eq!(commands[&at(&resume)], ("tom".to_owned(), "resume".to_owned()));
    assert_eq!(commands[&at(&limit)], ("ada".to_owned(), "limit 1=300000000".to_owned()));
    assert_eq!(commands[&at(&unlock)], ("ada".to_owned(), "unlock".to_owned()));
    let outputs = starlog_journal::JournalReader::open(session.join("output")).unwrap();
    let (mut p0_at_alert, mut rejects, mut incidents) = (false, 0u64, 0u64);
    for record in outputs.iter() {
        let record = record.unwrap();
        let out = outputs::access(record.payload).unwrap();
        let input_seq = out.input_seq.to_native();
        match &out.output {
            ArchivedOutput::Incident(i) => {
                p0_at_alert |= input_seq == alert_seq && i.priority == 0;
                incidents += u64::from(input_seq <= scraped_seq);
            }
            ArchivedOutput::Decision(d) if d.reject_code.to_native() != 0 => {
                rejects += u64::from(input_seq <= scraped_seq)
            }
            _ => {}
        }
    }
    assert!(p0_at_alert, "the alert's seq is the input that raised the P0 (seq {alert_seq})");
    // The page, as scraped, matches the journal up to the seq it reports.
    assert_eq!(metrics["starlog_events_processed_total"] as u64, scraped_seq, "a fresh session: every input so far");
    let named = |kind: u16| match kind {
        1 => "session_start",
        2 => "book",
        3 => "trade",
        4 => "account",
        5 => "tx_submitted",
        6 => "tx_succeeded",
        7 => "tx_failed",
        8 => "tx_expired",
        9 => "operator",
        10 => "timer",
        _ => "security",
    };
    for (kind, count) in &kinds {
        let key = format!("starlog_journal_records_total{{journal=\"input\",kind=\"{}\"}}", named(*kind));
        assert_eq!(metrics.get(&key).copied(), Some(*count as f64), "{key}\n{page}");
    }
    let sum = |prefix: &str| metrics.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| *v as u64).sum::<u64>();
    assert_eq!(sum("starlog_rejects_total{"), rejects, "{page}");
    assert_eq!(sum("starlog_incidents_total{"), incidents, "{page}");
    assert!(metrics["starlog_horizon_requests_total"] > 0.0);
    assert!(metrics["starlog_admin_forbidden_total"] >= 2.0, "{page}");
    assert!(metrics.contains_key("starlog_engine_apply_seconds{quantile=\"0.5\"}"), "{page}");
    assert!(metrics["starlog_engine_apply_seconds_count"] as u64 >= scraped_seq.saturating_sub(1));
    assert!(metrics["starlog_tick_to_order_seconds_count"] >= 1.0, "{page}");
    assert!(metrics.contains_key("starlog_signer_seconds_count{store=\"env\"}"), "{page}");
}
