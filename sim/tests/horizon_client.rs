//! The live process's Horizon client (`starlog_adapters::horizon::client`) against the
//! simulated Horizon, with its faults: retries through 429 storms, submissions that time out
//! but applied, resubmission of the identical envelope, `tx_bad_seq`, and streams that resume
//! across goodbyes and dropped connections without gaps or duplicates.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use starlog_adapters::horizon::client::{ClientConfig, HorizonClient, HorizonError, Submitted};
use starlog_adapters::horizon::decode;
use starlog_adapters::stellar::Network;
use starlog_engine::Asset;
use starlog_sim::faults::FaultConfig;
use starlog_sim::ledger::STANDALONE_PASSPHRASE;
use starlog_sim::server::{Server, ServerConfig};
use starlog_sim::venue::VenueConfig;
use support::*;

fn server(faults: FaultConfig) -> Server {
    let mut venue = VenueConfig::new(NOW);
    venue.ledger_ms = 0;
    let mut config = ServerConfig::new(venue);
    config.faults = faults;
    Server::start(config).expect("server")
}

fn client(server: &Server) -> HorizonClient {
    let mut config = ClientConfig::new(&server.url());
    config.backoff_ms_min = 5;
    config.backoff_ms_max = 50;
    config.attempts_max = 20;
    config.requests_per_s_max = 0;
    HorizonClient::new(config)
}

fn signed(server: &Server, source: &Key, ops: Vec<stellar_xdr::Operation>) -> String {
    let tx = server.with_venue(|v| tx(v.ledger(), source, ops));
    BASE64.encode(sign_for(&Network::from_passphrase(STANDALONE_PASSPHRASE), tx, &[source]))
}

#[test]
fn account_snapshot_book_and_submission_results() {
    let server = server(FaultConfig::default());
    let horizon = client(&server);
    let (issuer, alice) = (key(1), key(2));
    for k in [&issuer, &alice] {
        horizon.get(&format!("/friendbot?addr={}", k.id)).expect("friendbot");
    }
    let usd = Asset::credit("USD", issuer.id).unwrap();
    let trust = signed(&server, &alice, vec![op(change_trust(&usd, 1000 * XLM))]);
    assert!(matches!(horizon.submit(&trust), Ok(Submitted::Applied(t)) if t.successful));
    let pay = signed(&server, &issuer, vec![op(payment(&alice.id, &usd, 100 * XLM))]);
    horizon.submit(&pay).expect("payment");
    let ask = signed(&server, &alice, vec![op(sell_offer(&usd, &Asset::Native, 10 * XLM, 3, 2))]);
    let Ok(Submitted::Applied(placed)) = horizon.submit(&ask) else { panic!("offer placed") };
    assert!(placed.outcome.is_some(), "an offer transaction's result is read");

    let account = horizon.get(&format!("/accounts/{}", alice.id)).unwrap();
    let offers = horizon.get(&format!("/accounts/{}/offers?limit=200", alice.id)).unwrap();
    let snapshot = decode::account(&account.bytes, &offers.bytes, account.latest_ledger, 5_000_000).unwrap();
    let entry = server.with_venue(|v| v.ledger().account(&alice.id).unwrap().clone());
    assert_eq!(snapshot.sequence, entry.seq_num);
    assert_eq!(snapshot.subentry_count, entry.num_subentries);
    assert_eq!(snapshot.offers.len(), 1);
    assert_eq!((snapshot.offers[0].price.n, snapshot.offers[0].price.d), (3, 2));
    let usd_line = snapshot.balances.iter().find(|b| b.asset == usd.into()).unwrap();
    assert_eq!((usd_line.balance_stroops, usd_line.selling_liabilities_stroops), (100 * XLM, 10 * XLM));

    let path = format!(
        "/order_book?selling_asset_type=credit_alphanum4&selling_asset_code=USD&selling_asset_issuer={}&buying_asset_type=native",
        issuer.id
    );
    let book = decode::order_book(&horizon.get(&path).unwrap().bytes, 0, &usd, &Asset::Native).unwrap();
    assert_eq!(book.asks[0].amount_stroops, 10 * XLM);

    // The same envelope again is answered from the history; a stale sequence is tx_bad_seq.
    assert!(matches!(horizon.submit(&ask), Ok(Submitted::Applied(again)) if again.hash == placed.hash));
    let stale = server.with_venue(|v| {
        let mut t = tx(v.ledger(), &alice, vec![op(manage_data("k", None))]);
        t.seq_num.0 -= 1;
        t
    });
    let stale = BASE64.encode(sign_for(&Network::from_passphrase(STANDALONE_PASSPHRASE), stale, &[&alice]));
    match horizon.submit(&stale) {
        Ok(Submitted::Failed(problem)) => assert_eq!(problem.tx_code.as_deref(), Some("tx_bad_seq")),
        other => panic!("expected tx_bad_seq, got {other:?}"),
    }
    // A 404 is a problem, not a retry.
    assert!(matches!(horizon.get("/nope"), Err(HorizonError::Problem(p)) if p.status == 404));
    assert_eq!(horizon.transaction(&[7; 32]), Ok(None));
}

#[test]
fn reads_get_through_a_429_storm_and_honour_retry_after() {
    let faults = FaultConfig { seed: 3, rate_limit_pct: 60, retry_after_s: 1, ..FaultConfig::default() };
    let server = server(faults);
    let horizon = client(&server);
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let root = horizon.get("/").expect("eventually served");
        assert!(!root.bytes.is_empty());
    }
    assert!(horizon.budget().waits() > 0, "Retry-After blocked later requests");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "at least one Retry-After was honoured");
}

#[test]
fn a_timed_out_submission_is_found_by_hash_and_not_applied_twice() {
    let server = server(FaultConfig { timeout_pct: 100, ..FaultConfig::default() });
    let horizon = client(&server);
    let alice = key(1);
    server.with_venue(|v| v.friendbot(&alice.id).unwrap());
    let envelope = signed(&server, &alice, vec![op(manage_data("k", Some(b"v")))]);
    assert_eq!(horizon.submit(&envelope), Err(HorizonError::Timeout));
    let hash = starlog_adapters::stellar::tx::envelope_hash(
        &starlog_adapters::stellar::tx::decode_envelope_base64(&envelope).unwrap(),
        &Network::from_passphrase(STANDALONE_PASSPHRASE),
    );
    let found = horizon.transaction(&hash).unwrap().expect("applied despite the 504");
    assert!(found.successful);
    // Resubmitting the identical envelope (still answered 504 here) applies nothing new.
    assert_eq!(horizon.submit(&envelope), Err(HorizonError::Timeout));
    let count = server.with_venue(|v| v.ledger().history().transactions.iter().filter(|t| t.hash == hash).count());
    assert_eq!(count, 1);
}

#[test]
fn streams_resume_across_goodbyes_and_drops_without_gaps_or_duplicates() {
    let server = server(FaultConfig { stream_drop_ms: 40, ..FaultConfig::default() });
    let horizon = client(&server);
    for n in 1..=35 {
        server.with_venue(|v| v.friendbot(&key(n).id).unwrap());
    }
    let expected: Vec<String> =
        server.with_venue(|v| v.ledger().history().transactions.iter().map(|t| t.toid().to_string()).collect());
    let mut stream = horizon.stream("/transactions?limit=4", "");
    let writer = std::thread::spawn({
        let url = server.url();
        move || {
            // More records arrive while the stream runs.
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            for n in 36..=45 {
                std::thread::sleep(std::time::Duration::from_millis(15));
                agent.get(format!("{url}/friendbot?addr={}", key(n).id)).call().unwrap();
            }
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 45 {
        let event = stream.next_event().expect("the stream resumes");
        let record: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(record["paging_token"].as_str().unwrap(), event.id);
        seen.push(event.id);
    }
    writer.join().unwrap();
    let all: Vec<String> =
        server.with_venue(|v| v.ledger().history().transactions.iter().map(|t| t.toid().to_string()).collect());
    assert_eq!(seen, all, "every record once, in order");
    assert_eq!(&seen[..35], &expected[..]);
    assert!(stream.reconnects() >= 10, "goodbyes after 4 records and drops forced reconnects: {}", stream.reconnects());
    assert_eq!(stream.last_id(), all.last().unwrap());
}
