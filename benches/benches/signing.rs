//! Signing throughput: build + hash + sign one offer transaction, per key store, side by side
//! with raw ed25519-dalek signing of a 32-byte hash in the same run.
//!
//! Stores: `env:` (an in-process key, as a decrypted `file:` key is too), `pkcs11:` on a
//! SoftHSM2 token, `vault:` on an OpenBao dev server over loopback HTTP. Remote signers verify
//! each signature before returning it; that is part of what is measured, as it is part of
//! every real signature.
//!
//! `cargo bench -p starlog-benches --bench signing` runs criterion, then the report; `-- report`
//! runs only the report: interleaved rounds, hdrhistogram percentiles, rates and the ratio of the
//! in-process store to raw dalek (target ≥ 80 %). Needs `bash .ci/deps` (SoftHSM2, OpenBao).

#[path = "../../adapters/tests/harness/mod.rs"]
mod harness;

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use ed25519_dalek::{Signer as _, SigningKey};
use starlog_adapters::keys::pkcs11::{self, Pkcs11Signer};
use starlog_adapters::keys::vault::VaultSigner;
use starlog_adapters::keys::{Pkcs11Uri, SecretSource, Seed, SeedSigner, Signer, StoreKind};
use starlog_adapters::stellar::Network;
use starlog_adapters::stellar::tx::{self, OfferKind, OfferOp, SignedTx, TxParams};
use starlog_benches::{Latency, fmt_rate, rate};
use starlog_engine::{Amount, Asset, OfferRef};

const PIN: &str = "bench-pin-4410";

fn seed() -> Seed {
    Seed::from_bytes([42; 32])
}

/// Build, hash and sign the `n`-th transaction of a stream (a fresh sequence number each time,
/// as the live process does).
fn build_hash_sign(signer: &mut dyn Signer, network: &Network, n: i64) -> SignedTx {
    let op = OfferOp {
        kind: OfferKind::ManageSell,
        selling: Asset::Native,
        buying: "USD:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN".parse().expect("asset"),
        amount: Amount::from_stroops(100_000_000 + n).expect("amount"),
        price: "0.1234".parse().expect("price"),
        offer: OfferRef::New,
    };
    let params = TxParams {
        source: signer.public_key(),
        sequence: 1 + n,
        fee_stroops: 100,
        min_time: 0,
        max_time: 1_800_000_000,
    };
    let built = tx::build(&params, &[op]).expect("build");
    tx::sign(built, network, &mut [signer]).expect("sign")
}

/// The stores under test, each holding the same seed.
struct Stores {
    dalek: SigningKey,
    env: SeedSigner,
    pkcs11: Pkcs11Signer,
    vault: VaultSigner,
    _bao: harness::OpenBao,
}

fn stores() -> Stores {
    use std::sync::atomic::{AtomicU32, Ordering};
    // Criterion and the report each set up their own stores in one process: distinct names.
    static SETUPS: AtomicU32 = AtomicU32::new(0);
    let setup = SETUPS.fetch_add(1, Ordering::Relaxed);
    let seed = seed();
    let hsm = harness::SoftHsm::shared();
    let token = format!("bench-{}-{setup}", std::process::id());
    hsm.init_token(&token, PIN);
    let uri = Pkcs11Uri {
        token,
        object: "bench".to_owned(),
        module_path: hsm.module.clone(),
        pin_source: Some(SecretSource::File(hsm.pin_file("bench", PIN))),
    };
    pkcs11::import(&uri, &SecretSource::File(hsm.pin_file("bench", PIN)), &seed).expect("import into SoftHSM2");
    let pkcs11 = Pkcs11Signer::open(&uri, &SecretSource::Prompt(String::new())).expect("open the token key");
    let bao = harness::OpenBao::start();
    let client = bao.client();
    client.import("transit", "bench", &seed).expect("import into OpenBao");
    let vault = VaultSigner::with_client(bao.client(), "transit", "bench").expect("open the transit key");
    Stores {
        dalek: SigningKey::from_bytes(seed.as_bytes()),
        env: SeedSigner::new(&seed, StoreKind::Env, "env:BENCH".to_owned()),
        pkcs11,
        vault,
        _bao: bao,
    }
}

fn bench(c: &mut Criterion) {
    let mut s = stores();
    let network = Network::parse("testnet").expect("network");
    let hash = [7u8; 32];
    let mut g = c.benchmark_group("signing");
    g.bench_function("raw dalek sign (32-byte hash)", |b| b.iter(|| black_box(s.dalek.sign(black_box(&hash)))));
    let mut n = 0;
    g.bench_function("env: build+hash+sign", |b| {
        b.iter(|| {
            n += 1;
            black_box(build_hash_sign(&mut s.env, &network, n))
        })
    });
    g.sample_size(20);
    g.bench_function("pkcs11 (SoftHSM2): build+hash+sign", |b| {
        b.iter(|| {
            n += 1;
            black_box(build_hash_sign(&mut s.pkcs11, &network, n))
        })
    });
    g.bench_function("vault (OpenBao, loopback): build+hash+sign", |b| {
        b.iter(|| {
            n += 1;
            black_box(build_hash_sign(&mut s.vault, &network, n))
        })
    });
    g.finish();
}

fn report() {
    println!("\n== signing report (one run) ==");
    let mut s = stores();
    let network = Network::parse("testnet").expect("network");
    let mut h_raw = Latency::new("raw dalek sign (32-byte hash)");
    let mut h_env = Latency::new("env: build+hash+sign");
    let mut h_p11 = Latency::new("pkcs11 SoftHSM2: build+hash+sign");
    let mut h_vault = Latency::new("vault OpenBao: build+hash+sign");
    // Interleaved rounds, so that the in-process figures and their ratio see the same machine.
    let mut n = 0i64;
    for round in 0..10 {
        for _ in 0..2_000 {
            n += 1;
            let hash = [
                round as u8,
                (n & 0xff) as u8,
                3,
                4,
                5,
                6,
                7,
                8,
                9,
                10,
                11,
                12,
                13,
                14,
                15,
                16,
                17,
                18,
                19,
                20,
                21,
                22,
                23,
                24,
                25,
                26,
                27,
                28,
                29,
                30,
                31,
                32,
            ];
            let t = Instant::now();
            black_box(s.dalek.sign(&hash));
            h_raw.record(t.elapsed());
            let t = Instant::now();
            black_box(build_hash_sign(&mut s.env, &network, n));
            h_env.record(t.elapsed());
        }
        for _ in 0..200 {
            n += 1;
            let t = Instant::now();
            black_box(build_hash_sign(&mut s.pkcs11, &network, n));
            h_p11.record(t.elapsed());
        }
        for _ in 0..50 {
            n += 1;
            let t = Instant::now();
            black_box(build_hash_sign(&mut s.vault, &network, n));
            h_vault.record(t.elapsed());
        }
    }
    for h in [&h_raw, &h_env, &h_p11, &h_vault] {
        println!("{}   ({} at the median)", h.line(), fmt_rate(rate(1, h.median_ns())));
    }
    println!(
        "  env: build+hash+sign runs at {:.0} % of raw dalek signing (median vs median; target >= 80 %)",
        100.0 * h_raw.median_ns() as f64 / h_env.median_ns().max(1) as f64
    );
}

fn main() {
    starlog_benches::bench_main(bench, report);
}
