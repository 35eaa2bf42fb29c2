//! The simulated Horizon over HTTP: problem documents for bad input (and the server keeps
//! serving), rate-limit headers, friendbot, resubmission, SSE framing and resume, injected
//! faults, and determinism of ledgers and streams.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use starlog_adapters::stellar::Network;
use starlog_engine::Asset;
use starlog_sim::faults::FaultConfig;
use starlog_sim::market::MarketConfig;
use starlog_sim::server::{Server, ServerConfig};
use starlog_sim::venue::VenueConfig;
use stellar_xdr as xdr;
use support::*;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// A server that closes ledgers only when asked, starting at [`NOW`].
fn manual(configure: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut venue = VenueConfig::new(NOW);
    venue.ledger_ms = 0;
    let mut config = ServerConfig::new(venue);
    configure(&mut config);
    Server::start(config).expect("start the server")
}

struct Reply {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Value,
}

fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.expect("an HTTP answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.body_mut().read_to_string().expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"));
    Reply { status, headers, body }
}

fn get(server: &Server, path: &str) -> Reply {
    reply(agent().get(format!("{}{path}", server.url())).call())
}

fn post_tx(server: &Server, envelope: &[u8]) -> Reply {
    let tx = BASE64.encode(envelope);
    reply(agent().post(format!("{}/transactions", server.url())).send_form([("tx", tx.as_str())]))
}

fn assert_problem(reply: &Reply, status: u16, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["type"], format!("https://stellar.org/horizon-errors/{kind}"), "{}", reply.body);
    assert_eq!(reply.body["status"], status);
    assert!(reply.body["title"].as_str().is_some_and(|t| !t.is_empty()));
    let content_type = reply.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(content_type, "application/problem+json; charset=utf-8");
}

fn friendbot(server: &Server, k: &Key) -> Reply {
    get(server, &format!("/friendbot?addr={}", k.id))
}

/// An envelope from `source` (next sequence number from the server's ledger) for `network`.
fn envelope(server: &Server, source: &Key, ops: Vec<xdr::Operation>, network: &Network) -> Vec<u8> {
    let tx = server.with_venue(|v| tx(v.ledger(), source, ops));
    sign_for(network, tx, &[source])
}

fn standalone() -> Network {
    Network::from_passphrase(starlog_sim::ledger::STANDALONE_PASSPHRASE)
}

#[test]
fn bad_input_gets_horizon_problems_and_the_server_keeps_serving() {
    let server = manual(|c| c.body_bytes_max = 4096);
    let alice = key(1);
    assert_eq!(friendbot(&server, &alice).status, 200);
    let data = || vec![op(manage_data("k", Some(b"v")))];

    assert_problem(&get(&server, "/no/such/route"), 404, "not_found");
    assert_problem(&reply(agent().delete(format!("{}/accounts", server.url())).call()), 404, "not_found");
    assert_problem(&get(&server, &format!("/accounts/{}", key(9).id)), 404, "not_found");
    let bad = get(&server, "/accounts/GNOTANACCOUNT");
    assert_problem(&bad, 400, "bad_request");
    assert_eq!(bad.body["extras"]["invalid_field"], "account_id");
    for (query, field) in [
        ("/transactions?limit=0", "limit"),
        ("/transactions?limit=201", "limit"),
        ("/transactions?order=sideways", "order"),
        ("/transactions?cursor=x", "cursor"),
        ("/order_book?selling_asset_type=native", "buying"),
        ("/order_book?selling_asset_type=credit_alphanum4&selling_asset_code=USD", "selling_asset_issuer"),
        ("/transactions/abcd", "tx_id"),
        ("/offers/-1", "offer_id"),
        ("/friendbot", "addr"),
    ] {
        let reply = get(&server, query);
        assert_problem(&reply, 400, "bad_request");
        assert_eq!(reply.body["extras"]["invalid_field"], field, "{query}");
    }

    // Not base64; base64 but not an envelope.
    for tx in ["%%%not base64", "AAAA", "AAAAAgAAAAA="] {
        let reply = reply(agent().post(format!("{}/transactions", server.url())).send_form([("tx", tx)]));
        assert_problem(&reply, 400, "transaction_malformed");
        assert_eq!(reply.body["extras"]["envelope_xdr"], tx);
    }
    let missing = reply(agent().post(format!("{}/transactions", server.url())).send_form([("nottx", "1")]));
    assert_problem(&missing, 400, "bad_request");
    let json_body = reply(
        agent().post(format!("{}/transactions", server.url())).header("content-type", "application/json").send("{}"),
    );
    assert_problem(&json_body, 415, "unsupported_media_type");
    let huge = "A".repeat(8192);
    let too_big = reply(agent().post(format!("{}/transactions", server.url())).send_form([("tx", huge.as_str())]));
    assert_problem(&too_big, 413, "request_entity_too_large");

    // Signed for another network, or by the wrong key: tx_bad_auth, nothing applied.
    let testnet = Network::from_passphrase("Test SDF Network ; September 2015");
    let wrong_network = post_tx(&server, &envelope(&server, &alice, data(), &testnet));
    assert_problem(&wrong_network, 400, "transaction_failed");
    assert_eq!(wrong_network.body["extras"]["result_codes"]["transaction"], "tx_bad_auth");
    let forged = sign_for(&standalone(), server.with_venue(|v| tx(v.ledger(), &alice, data())), &[&key(2)]);
    let forged = post_tx(&server, &forged);
    assert_eq!(forged.status, 400);
    assert_eq!(forged.body["extras"]["result_codes"]["transaction"], "tx_bad_auth");
    assert!(forged.body["extras"]["result_xdr"].as_str().is_some_and(|x| !x.is_empty()));

    // Still serving, and nothing above changed the account.
    let account = get(&server, &format!("/accounts/{}", alice.id));
    assert_eq!(account.status, 200);
    assert_eq!(
        account.body["sequence"],
        server.with_venue(|v| v.ledger().account(&alice.id).unwrap().seq_num.to_string())
    );
    let ok = post_tx(&server, &envelope(&server, &alice, data(), &standalone()));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["successful"], true);
}

#[test]
fn headers_rate_limits_and_friendbot() {
    let server = manual(|c| c.rate_limit_per_hour = 4);
    let alice = key(1);
    let first = friendbot(&server, &alice);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["successful"], true);
    assert_eq!(first.headers["x-ratelimit-limit"], "4");
    assert_eq!(first.headers["x-ratelimit-remaining"], "3");
    assert!(first.headers.contains_key("x-ratelimit-reset"));
    assert_eq!(first.headers["latest-ledger"], "1");
    let again = friendbot(&server, &alice);
    assert_problem(&again, 400, "transaction_failed");
    assert_eq!(again.body["extras"]["result_codes"]["operations"][0], "op_already_exists");
    let account = get(&server, &format!("/accounts/{}", alice.id));
    assert_eq!(account.body["balances"][0]["balance"], "10000.0000000");
    get(&server, "/");
    let limited = get(&server, "/");
    assert_problem(&limited, 429, "rate_limit_exceeded");
    assert_eq!(limited.headers["x-ratelimit-remaining"], "0");
    assert!(limited.headers["retry-after"].to_str().unwrap().parse::<u32>().unwrap() >= 1);
}

#[test]
fn resubmitting_an_applied_transaction_returns_its_result_again() {
    let server = manual(|_| {});
    let alice = key(1);
    friendbot(&server, &alice);
    let env = envelope(&server, &alice, vec![op(manage_data("k", Some(b"v")))], &standalone());
    let first = post_tx(&server, &env);
    assert_eq!(first.status, 200);
    server.close_ledger();
    let second = post_tx(&server, &env);
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(first.body["hash"], second.body["hash"]);
    assert_eq!(first.body["ledger"], second.body["ledger"]);
    let txs = get(&server, &format!("/accounts/{}/transactions?limit=200", alice.id));
    let same = txs.body["_embedded"]["records"].as_array().unwrap().iter().filter(|t| t["hash"] == first.body["hash"]);
    assert_eq!(same.count(), 1, "applied once");
}

/// Reads SSE frames (blank-line separated) until `frames` of them or the stream ends.
fn sse(server: &Server, path: &str, last_event_id: Option<&str>, frames: usize) -> Vec<String> {
    let mut request = agent().get(format!("{}{path}", server.url())).header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.call().expect("a stream");
    assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
    read_frames(response.into_body().into_reader(), frames)
}

fn read_frames(reader: impl Read, frames: usize) -> Vec<String> {
    let mut reader = BufReader::new(reader);
    let mut out = Vec::new();
    let mut frame = String::new();
    while out.len() < frames {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line == "\n" {
            if frame != ":\n" {
                out.push(std::mem::take(&mut frame));
            }
            frame.clear();
        } else {
            frame.push_str(&line);
        }
    }
    out
}

const HELLO: &str = "retry: 1000\nevent: open\ndata: \"hello\"\n";
const BYEBYE: &str = "retry: 10\nevent: close\ndata: \"byebye\"\n";

fn frame_id(frame: &str) -> &str {
    frame.lines().find_map(|l| l.strip_prefix("id: ")).expect("an id line")
}

fn frame_data(frame: &str) -> Value {
    let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line");
    serde_json::from_str(data).expect("JSON data")
}

#[test]
fn page_streams_have_the_preamble_paging_tokens_resume_and_goodbye() {
    let server = manual(|_| {});
    for n in 1..=3 {
        friendbot(&server, &key(n));
    }
    server.close_ledger();
    let frames = sse(&server, "/transactions?limit=2", None, 10);
    assert_eq!(frames.len(), 4, "{frames:?}");
    assert_eq!(frames[0], HELLO);
    assert_eq!(frames[3], BYEBYE);
    let first = frame_data(&frames[1]);
    assert_eq!(frame_id(&frames[1]), first["paging_token"].as_str().unwrap());
    // Resume after the first record, by Last-Event-ID (which wins over cursor).
    let resumed = sse(&server, "/transactions?limit=1&cursor=0", Some(frame_id(&frames[1])), 10);
    assert_eq!(frame_id(&resumed[1]), frame_id(&frames[2]));

    // cursor=now: only what happens after the stream opened.
    let url = format!("{}/transactions?cursor=now&limit=1", server.url());
    let reader = std::thread::spawn(move || {
        let response = agent().get(url).header("accept", "text/event-stream").call().expect("stream");
        read_frames(response.into_body().into_reader(), 3)
    });
    std::thread::sleep(Duration::from_millis(300));
    let fresh = friendbot(&server, &key(4));
    let frames = reader.join().unwrap();
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!(frame_data(&frames[1])["hash"], fresh.body["hash"]);
    assert_eq!(frames[2], BYEBYE);
}

#[test]
fn order_book_and_account_streams_send_objects_when_they_change() {
    let server = manual(|_| {});
    let (issuer, alice) = (key(1), key(2));
    friendbot(&server, &issuer);
    friendbot(&server, &alice);
    let usd = Asset::credit("USD", issuer.id).unwrap();
    post_tx(&server, &envelope(&server, &alice, vec![op(change_trust(&usd, 1_000 * XLM))], &standalone()));
    post_tx(&server, &envelope(&server, &issuer, vec![op(payment(&alice.id, &usd, 500 * XLM))], &standalone()));
    let path = format!(
        "{}/order_book?selling_asset_type=credit_alphanum4&selling_asset_code=USD&selling_asset_issuer={}&buying_asset_type=native",
        server.url(),
        issuer.id
    );
    let reader = std::thread::spawn(move || {
        let response = agent().get(path).header("accept", "text/event-stream").call().expect("stream");
        read_frames(response.into_body().into_reader(), 3)
    });
    std::thread::sleep(Duration::from_millis(300));
    let sell = sell_offer(&usd, &Asset::Native, 100 * XLM, 2, 1);
    let placed = post_tx(&server, &envelope(&server, &alice, vec![op(sell)], &standalone()));
    assert_eq!(placed.status, 200, "{}", placed.body);
    let frames = reader.join().unwrap();
    assert_eq!(frames[0], HELLO);
    assert!(!frames[1].contains("id: "), "object streams carry no id");
    assert_eq!(frame_data(&frames[1])["asks"], Value::Array(vec![]));
    let book = frame_data(&frames[2]);
    assert_eq!(book["asks"][0]["amount"], "100.0000000");
    assert_eq!(book["asks"][0]["price_r"], serde_json::json!({"n": 2, "d": 1}));

    let account = sse(&server, &format!("/accounts/{}", alice.id), None, 2);
    assert_eq!(frame_data(&account[1])["id"], alice.id.to_string());
}

#[test]
fn injected_faults() {
    // Every submission times out but is applied: the client must look it up, not rebuild it.
    let server = manual(|c| c.faults = FaultConfig { timeout_pct: 100, ..FaultConfig::default() });
    let alice = key(1);
    friendbot(&server, &alice);
    let env = envelope(&server, &alice, vec![op(manage_data("k", Some(b"v")))], &standalone());
    let timed_out = post_tx(&server, &env);
    assert_problem(&timed_out, 504, "transaction_submission_timeout");
    let hash = starlog_adapters::stellar::hex(&starlog_adapters::stellar::tx::envelope_hash(
        &starlog_adapters::stellar::tx::decode_envelope(&env).unwrap(),
        &standalone(),
    ));
    assert_eq!(timed_out.body["extras"]["hash"], hash.as_str(), "the hash to poll");
    let found = get(&server, &format!("/transactions/{hash}"));
    assert_eq!(found.status, 200);
    assert_eq!(found.body["successful"], true);
    drop(server);

    let server = manual(|c| c.faults = FaultConfig { server_error_pct: 100, ..FaultConfig::default() });
    assert_problem(&friendbot(&server, &alice), 500, "server_error");
    assert!(server.with_venue(|v| v.ledger().account(&alice.id).is_none()), "a 500 applies nothing");
    drop(server);

    let faults = FaultConfig { rate_limit_pct: 100, retry_after_s: 7, ..FaultConfig::default() };
    let server = manual(|c| c.faults = faults);
    let limited = get(&server, "/");
    assert_problem(&limited, 429, "rate_limit_exceeded");
    assert_eq!(limited.headers["retry-after"], "7");
    drop(server);

    // Streams cut after 300 ms, without a goodbye.
    let server = manual(|c| c.faults = FaultConfig { stream_drop_ms: 300, ..FaultConfig::default() });
    let started = std::time::Instant::now();
    let frames = sse(&server, "/transactions", None, 100);
    assert_eq!(frames, vec![HELLO.to_owned()]);
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(server);

    // Stale books: the book as of the previous close.
    let server = manual(|c| c.faults = FaultConfig { stale_book_pct: 100, ..FaultConfig::default() });
    let (issuer, bob) = (key(1), key(2));
    friendbot(&server, &issuer);
    friendbot(&server, &bob);
    let usd = Asset::credit("USD", issuer.id).unwrap();
    let bid = sell_offer(&Asset::Native, &usd, 10 * XLM, 1, 1);
    server.close_ledger();
    let placed =
        post_tx(&server, &envelope(&server, &bob, vec![op(change_trust(&usd, 1000 * XLM)), op(bid)], &standalone()));
    assert_eq!(placed.status, 200, "{}", placed.body);
    let query = format!(
        "/order_book?selling_asset_type=native&buying_asset_type=credit_alphanum4&buying_asset_code=USD&buying_asset_issuer={}",
        issuer.id
    );
    assert_eq!(get(&server, &query).body["asks"], Value::Array(vec![]), "stale until the next close");
    server.close_ledger();
    assert_eq!(get(&server, &query).body["asks"][0]["amount"], "10.0000000");
}

/// One scripted session against a fresh server; returns everything a client saw, with the
/// server's address replaced by `BASE`.
fn session(market: Option<MarketConfig>) -> Vec<String> {
    let server = manual(|c| c.venue.market = market);
    let (issuer, alice, bob) = (key(1), key(2), key(3));
    let usd = Asset::credit("USD", issuer.id).unwrap();
    let mut seen = Vec::new();
    let net = standalone();
    for k in [&issuer, &alice, &bob] {
        seen.push(friendbot(&server, k).body.to_string());
    }
    server.close_ledger();
    for k in [&alice, &bob] {
        seen.push(
            post_tx(&server, &envelope(&server, k, vec![op(change_trust(&usd, 10_000 * XLM))], &net)).body.to_string(),
        );
    }
    seen.push(
        post_tx(&server, &envelope(&server, &issuer, vec![op(payment(&alice.id, &usd, 900 * XLM))], &net))
            .body
            .to_string(),
    );
    server.close_ledger();
    for (price_n, amount) in [(2, 100), (3, 50), (4, 25)] {
        let ask = sell_offer(&usd, &Asset::Native, amount * XLM, price_n, 1);
        seen.push(post_tx(&server, &envelope(&server, &alice, vec![op(ask)], &net)).body.to_string());
    }
    server.close_ledger();
    let take = sell_offer(&Asset::Native, &usd, 400 * XLM, 1, 3);
    seen.push(post_tx(&server, &envelope(&server, &bob, vec![op(take)], &net)).body.to_string());
    server.close_ledger();
    for path in
        ["/transactions?limit=9", "/trades?limit=2", "/transactions?limit=3&cursor=12884905984", "/effects?limit=12"]
    {
        seen.extend(sse(&server, path, None, 20));
    }
    seen.push(get(&server, &format!("/accounts/{}", alice.id)).body.to_string());
    seen.push(get(&server, "/trades?order=desc").body.to_string());
    // The object streams: the book and an account as they stand (hello, then the object).
    let book = format!(
        "/order_book?selling_asset_type=credit_alphanum4&selling_asset_code=USD&selling_asset_issuer={}\
         &buying_asset_type=native",
        issuer.id
    );
    for path in [book, format!("/accounts/{}", alice.id), format!("/accounts/{}", bob.id)] {
        let frames = sse(&server, &path, None, 2);
        assert_eq!(frames.len(), 2, "{path}: {frames:?}");
        seen.extend(frames);
    }
    let base = server.url();
    seen.iter().map(|s| s.replace(&base, "BASE")).collect()
}

#[test]
fn same_submissions_give_identical_ledgers_and_streams() {
    let (a, b) = (session(None), session(None));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    assert!(a.iter().any(|s| s.contains("\"base_is_seller\"")), "the session traded");
}

#[test]
fn same_seed_and_submissions_give_identical_markets_and_streams() {
    let market = |seed| Some(MarketConfig { seed, ..MarketConfig::default() });
    let (a, b, c) = (session(market(7)), session(market(7)), session(market(8)));
    assert_eq!(a, b);
    assert_ne!(a, c, "another seed, another market");
}

#[test]
fn pages_follow_next_and_prev_links_in_both_orders() {
    let server = manual(|_| {});
    for n in 1..=5 {
        friendbot(&server, &key(n));
    }
    server.close_ledger();
    let tokens = |reply: &Reply| -> Vec<String> {
        reply.body["_embedded"]["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["paging_token"].as_str().unwrap().to_owned())
            .collect()
    };
    let path = |href: &Value| href.as_str().unwrap().trim_start_matches(&server.url()).to_owned();
    let all = tokens(&get(&server, "/transactions?limit=200"));
    assert_eq!(all.len(), 5);
    let first = get(&server, "/transactions?limit=2");
    assert_eq!(tokens(&first), all[..2]);
    let second = get(&server, &path(&first.body["_links"]["next"]["href"]));
    assert_eq!(tokens(&second), all[2..4]);
    let back = get(&server, &path(&second.body["_links"]["prev"]["href"]));
    assert_eq!(tokens(&back), vec![all[1].clone(), all[0].clone()], "prev is the page before, descending");
    let desc = get(&server, "/transactions?order=desc&limit=3");
    assert_eq!(tokens(&desc), vec![all[4].clone(), all[3].clone(), all[2].clone()]);
    let effects = get(&server, &format!("/accounts/{}/effects?order=desc", key(3).id));
    let kinds: Vec<&str> =
        effects.body["_embedded"]["records"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["signer_created", "account_created"], "the new account's own effects, newest first");
    assert!(tokens(&get(&server, "/transactions?cursor=now")).is_empty());
}

#[test]
fn latency_is_added_to_every_answer() {
    let server = manual(|c| c.faults = FaultConfig { latency_ms: 150, ..FaultConfig::default() });
    let started = std::time::Instant::now();
    assert_eq!(get(&server, "/").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[test]
fn trades_filtered_by_pair_come_in_the_asked_orientation() {
    let server = manual(|_| {});
    let (issuer, alice, bob) = (key(1), key(2), key(3));
    let usd = Asset::credit("USD", issuer.id).unwrap();
    let net = standalone();
    for k in [&issuer, &alice, &bob] {
        friendbot(&server, k);
    }
    for k in [&alice, &bob] {
        post_tx(&server, &envelope(&server, k, vec![op(change_trust(&usd, 10_000 * XLM))], &net));
    }
    post_tx(&server, &envelope(&server, &issuer, vec![op(payment(&alice.id, &usd, 100 * XLM))], &net));
    post_tx(&server, &envelope(&server, &alice, vec![op(sell_offer(&usd, &Asset::Native, 10 * XLM, 2, 1))], &net));
    let taken =
        post_tx(&server, &envelope(&server, &bob, vec![op(sell_offer(&Asset::Native, &usd, 20 * XLM, 1, 2))], &net));
    assert_eq!(taken.status, 200, "{}", taken.body);
    let native_base = get(
        &server,
        &format!(
            "/trades?base_asset_type=native&counter_asset_type=credit_alphanum4&counter_asset_code=USD&counter_asset_issuer={}",
            issuer.id
        ),
    );
    let usd_base = get(&server, &format!("/trades?base=USD:{}&counter=native", issuer.id));
    let (n, u) = (&native_base.body["_embedded"]["records"][0], &usd_base.body["_embedded"]["records"][0]);
    assert_eq!(n["base_asset_type"], "native");
    assert_eq!(n["base_amount"], "20.0000000");
    assert_eq!(n["price"], serde_json::json!({"n": "1", "d": "2"}), "0.5 USD per XLM");
    assert_eq!(u["base_asset_code"], "USD");
    assert_eq!(u["base_amount"], "10.0000000");
    assert_eq!(u["counter_amount"], "20.0000000");
    assert_eq!(u["price"], serde_json::json!({"n": "2", "d": "1"}), "2 XLM per USD");
    assert_eq!(n["base_is_seller"], !u["base_is_seller"].as_bool().unwrap());
    assert_eq!(n["id"], u["id"]);
    // By account (either side), and by type: order-book trades only, the venue has no pools.
    let count = |path: &str| get(&server, path).body["_embedded"]["records"].as_array().unwrap().len();
    for account in [&alice, &bob] {
        assert_eq!(count(&format!("/trades?account_id={}", account.id)), 1);
    }
    assert_eq!(count(&format!("/trades?account_id={}", issuer.id)), 0);
    assert_eq!(count("/trades?trade_type=orderbook"), 1);
    assert_eq!(count("/trades?trade_type=all"), 1);
    assert_eq!(count("/trades?trade_type=liquidity_pool"), 0);
    assert_eq!(get(&server, "/trades?trade_type=swap").status, 400);
    assert_eq!(get(&server, "/trades?account_id=GBAD").status, 400);
}

#[test]
fn horizon_paging_and_stream_conventions() {
    let server = manual(|c| c.rate_limit_per_hour = 0);
    let alice = key(1);
    let created = friendbot(&server, &alice);
    assert!(!created.headers.contains_key("x-ratelimit-limit"), "no rate-limit headers without a limit");
    // The account's own transactions include the one that created it (a participant).
    let mine = get(&server, &format!("/accounts/{}/transactions", alice.id));
    assert_eq!(mine.body["_embedded"]["records"][0]["hash"], created.body["hash"]);
    // Failed transactions are left out unless asked for.
    let bad = sell_offer(&Asset::Native, &Asset::credit("USD", key(9).id).unwrap(), XLM, 1, 1);
    let failed = post_tx(&server, &envelope(&server, &alice, vec![op(bad)], &standalone()));
    assert_eq!(failed.body["extras"]["result_codes"]["transaction"], "tx_failed");
    let count = |path: &str| get(&server, path).body["_embedded"]["records"].as_array().unwrap().len();
    assert_eq!(count("/transactions"), 1);
    assert_eq!(count("/transactions?include_failed=true"), 2);
    // An empty page's links keep its cursor, so following `next` does not restart.
    let end = get(&server, "/transactions?include_failed=true&cursor=now");
    assert_eq!(count("/transactions?include_failed=true&cursor=now"), 2, "now: after the last closed ledger");
    server.close_ledger();
    let empty = get(&server, "/transactions?cursor=999999999999");
    assert!(empty.body["_links"]["next"]["href"].as_str().unwrap().contains("cursor=999999999999"), "{}", empty.body);
    assert!(end.body["_links"]["self"]["href"].as_str().unwrap().contains("cursor=8589934592"), "{}", end.body);
    // Streams end after `limit` records, 10 by default, with the goodbye.
    for n in 2..=13 {
        friendbot(&server, &key(n));
    }
    let frames = sse(&server, "/transactions", None, 100);
    assert_eq!(frames.len(), 12, "hello, 10 records, byebye");
    assert_eq!(frames[11], BYEBYE);
    // The account stream of a missing account is a plain 404.
    let missing = reply(
        agent().get(format!("{}/accounts/{}", server.url(), key(99).id)).header("accept", "text/event-stream").call(),
    );
    assert_problem(&missing, 404, "not_found");
}
