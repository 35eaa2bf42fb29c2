//! Simulated venue throughput: signed transactions applied per second by the ledger
//! (decode, signature check, sequence/fee/time checks, operation, result XDR, history).
//!
//! Two flows, each a stream of pre-signed envelopes so that only application is timed:
//! `rest` places offers that do not cross (each adds an offer to a growing book); `cross`
//! sends takers that each fill one resting offer. `cargo bench -p starlog-benches --bench sim`
//! runs criterion and then the report (hdrhistogram per transaction, rates); `-- report` only
//! the report. The HTTP/SSE front is not here yet, so SSE delivery is not measured.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion};
use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind};
use starlog_adapters::stellar::tx::{self, OfferKind, OfferOp, TxParams};
use starlog_adapters::stellar::{asset_to_xdr, muxed_to_xdr};
use starlog_benches::{Latency, fmt_rate, rate};
use starlog_engine::{AccountId, Amount, Asset, OfferRef, Price};
use starlog_sim::ledger::{Ledger, LedgerConfig};
use stellar_xdr as xdr;

const XLM: i64 = 10_000_000;
const NOW: u64 = 1_700_000_000;

struct Party {
    seed: Seed,
    id: AccountId,
}

fn party(n: u8) -> Party {
    let seed = Seed::from_bytes([n; 32]);
    Party { id: seed.public_key(), seed }
}

fn sign(ledger: &Ledger, who: &Party, transaction: xdr::Transaction) -> Vec<u8> {
    let mut signer = SeedSigner::new(&who.seed, StoreKind::Env, "env:BENCH".to_owned());
    tx::sign(transaction, ledger.network(), &mut [&mut signer as &mut dyn Signer]).expect("sign").to_xdr()
}

fn raw_tx(ledger: &Ledger, who: &Party, body: xdr::OperationBody) -> xdr::Transaction {
    let seq = ledger.account(&who.id).expect("account").seq_num + 1;
    xdr::Transaction {
        source_account: muxed_to_xdr(&who.id),
        fee: 100,
        seq_num: xdr::SequenceNumber(seq),
        cond: xdr::Preconditions::None,
        memo: xdr::Memo::None,
        operations: vec![xdr::Operation { source_account: None, body }].try_into().expect("one op"),
        ext: xdr::TransactionExt::V0,
    }
}

fn apply(ledger: &mut Ledger, who: &Party, body: xdr::OperationBody) {
    let envelope = sign(ledger, who, raw_tx(ledger, who, body));
    assert!(ledger.submit(&envelope, NOW).expect("decodes").succeeded(), "setup transaction failed");
}

/// A ledger with an issuer of USD, a maker holding USD and XLM, and a taker holding XLM.
fn market() -> (Ledger, Party, Party, Asset) {
    let mut ledger = Ledger::new(LedgerConfig::default());
    let (issuer, maker, taker) = (party(1), party(2), party(3));
    for p in [&issuer, &maker, &taker] {
        assert!(ledger.fund(&p.id, 1_000_000 * XLM).succeeded());
    }
    let usd = Asset::credit("USD", issuer.id).expect("asset");
    let xdr::Asset::CreditAlphanum4(line) = asset_to_xdr(&usd) else { unreachable!() };
    for p in [&maker, &taker] {
        let limit = i64::MAX;
        apply(
            &mut ledger,
            p,
            xdr::OperationBody::ChangeTrust(xdr::ChangeTrustOp {
                line: xdr::ChangeTrustAsset::CreditAlphanum4(line.clone()),
                limit,
            }),
        );
    }
    apply(
        &mut ledger,
        &issuer,
        xdr::OperationBody::Payment(xdr::PaymentOp {
            destination: muxed_to_xdr(&maker.id),
            asset: asset_to_xdr(&usd),
            amount: 1_000_000_000 * XLM,
        }),
    );
    (ledger, maker, taker, usd)
}

/// `count` envelopes from `who`, with consecutive sequence numbers, each one offer.
fn offers(ledger: &Ledger, who: &Party, count: usize, op: impl Fn(usize) -> OfferOp) -> Vec<Vec<u8>> {
    let first = ledger.account(&who.id).expect("account").seq_num + 1;
    let mut signer = SeedSigner::new(&who.seed, StoreKind::Env, "env:BENCH".to_owned());
    (0..count)
        .map(|i| {
            let params = TxParams {
                source: who.id,
                sequence: first + i as i64,
                fee_stroops: 100,
                min_time: 0,
                max_time: NOW + 3600,
            };
            let built = tx::build(&params, &[op(i)]).expect("build");
            tx::sign(built, ledger.network(), &mut [&mut signer as &mut dyn Signer]).expect("sign").to_xdr()
        })
        .collect()
}

/// The maker sells USD for XLM at rising prices (1.0000, 1.0001, …): nothing crosses.
fn resting(ledger: &Ledger, maker: &Party, usd: Asset, count: usize) -> Vec<Vec<u8>> {
    offers(ledger, maker, count, |i| OfferOp {
        kind: OfferKind::ManageSell,
        selling: usd,
        buying: Asset::Native,
        amount: Amount::from_stroops(10 * XLM).expect("amount"),
        price: Price::new(10_000 + i as i32, 10_000).expect("price"),
        offer: OfferRef::New,
    })
}

/// The taker buys USD with XLM, each taking one whole resting offer.
fn takers(ledger: &Ledger, taker: &Party, usd: Asset, count: usize) -> Vec<Vec<u8>> {
    offers(ledger, taker, count, |_| OfferOp {
        kind: OfferKind::ManageBuy,
        selling: Asset::Native,
        buying: usd,
        amount: Amount::from_stroops(10 * XLM).expect("amount"),
        price: Price::new(2, 1).expect("price"),
        offer: OfferRef::New,
    })
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    g.bench_function("apply 500 resting offers", |b| {
        b.iter_batched(
            || {
                let (ledger, maker, _, usd) = market();
                let envelopes = resting(&ledger, &maker, usd, 500);
                (ledger, envelopes)
            },
            |(mut ledger, envelopes)| {
                for e in &envelopes {
                    black_box(ledger.submit(e, NOW).expect("decodes"));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn report() {
    println!("\n== sim report (one run) ==");
    // An account holds at most 1000 subentries (offers included): rounds of 900 offers, each
    // round on a fresh market.
    let (rounds, n) = (6, 900);
    let mut h_rest = Latency::new("apply: offer that rests");
    let mut h_cross = Latency::new("apply: taker filling one offer");
    let (mut rest_ns, mut cross_ns) = (0u64, 0u64);
    for _ in 0..rounds {
        let (mut ledger, maker, taker, usd) = market();
        let envelopes = resting(&ledger, &maker, usd, n);
        let started = Instant::now();
        for e in &envelopes {
            let t = Instant::now();
            let s = ledger.submit(e, NOW).expect("decodes");
            h_rest.record(t.elapsed());
            assert!(s.succeeded());
        }
        rest_ns += started.elapsed().as_nanos() as u64;
        let envelopes = takers(&ledger, &taker, usd, n);
        let started = Instant::now();
        for e in &envelopes {
            let t = Instant::now();
            let s = ledger.submit(e, NOW).expect("decodes");
            h_cross.record(t.elapsed());
            assert!(s.succeeded());
        }
        cross_ns += started.elapsed().as_nanos() as u64;
        assert_eq!(ledger.history().trades.len(), n, "each taker filled one offer");
        ledger.check_invariants().expect("invariants");
    }
    let total = (rounds * n) as u64;
    println!("{}   ({} transactions)", h_rest.line(), fmt_rate(rate(total, rest_ns)));
    println!("{}   ({} transactions)", h_cross.line(), fmt_rate(rate(total, cross_ns)));
    println!("  (each includes decoding, one Ed25519 verification, the operation, result XDR and history)");
}

fn main() {
    starlog_benches::bench_main(bench, report);
}
