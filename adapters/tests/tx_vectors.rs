//! Envelopes and hashes built by starlog equal, byte for byte, those the Python stellar-sdk
//! (an independent SDK, see `vectors/gen_tx_vectors.py`) built from the same inputs; and the
//! result XDR of real transactions reads as the fixture's decoded expectations say.

use serde_json::Value;
use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind};
use starlog_adapters::stellar::result::{self, TxOutcome};
use starlog_adapters::stellar::tx::{self, OfferKind, OfferOp, TxParams};
use starlog_adapters::stellar::{Network, hex};
use starlog_engine::events::OfferEffect;

fn vectors() -> Vec<Value> {
    let text = include_str!("vectors/tx.json");
    let json: Value = serde_json::from_str(text).unwrap();
    json["vectors"].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key}"))
}

#[test]
fn envelopes_match_the_python_sdk() {
    let vectors = vectors();
    assert!(vectors.len() >= 12);
    for v in &vectors {
        let seed = Seed::from_strkey(s(v, "secret")).unwrap();
        let mut signer = SeedSigner::new(&seed, StoreKind::Env, "env:TEST".into());
        assert_eq!(signer.public_key().to_string(), s(v, "public_key"));
        let kind = match s(v, "op") {
            "manage-sell-offer" => OfferKind::ManageSell,
            "manage-buy-offer" => OfferKind::ManageBuy,
            other => panic!("{other}"),
        };
        let op = OfferOp {
            kind,
            selling: s(v, "selling").parse().unwrap(),
            buying: s(v, "buying").parse().unwrap(),
            amount: s(v, "amount").parse().unwrap(),
            price: s(v, "price").parse().unwrap(),
            offer: s(v, "offer_id").parse().unwrap(),
        };
        let params = TxParams {
            source: signer.public_key(),
            sequence: s(v, "sequence").parse().unwrap(),
            fee_stroops: s(v, "fee").parse().unwrap(),
            min_time: s(v, "min_time").parse().unwrap(),
            max_time: s(v, "max_time").parse().unwrap(),
        };
        let network = Network::parse(s(v, "network")).unwrap();
        let built = tx::build(&params, &[op]).unwrap();
        let signed = tx::sign(built, &network, &mut [&mut signer]).unwrap();
        assert_eq!(hex(&signed.hash), s(v, "hash"), "{v}");
        assert_eq!(signed.to_base64(), s(v, "envelope_xdr"), "{v}");
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../shared/fixtures/horizon/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

#[test]
fn real_results_read_as_decoded() {
    let samples = fixture("manage_offer_result_xdr.json");
    let samples = samples["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3);
    for sample in samples {
        let decoded = &sample["decoded"];
        let outcome = result::parse_base64(s(sample, "result_xdr")).unwrap();
        let TxOutcome::Success { fee_charged_stroops, ops } = outcome else { panic!("{outcome:?}") };
        assert_eq!(fee_charged_stroops.to_string(), s(decoded, "fee_charged"));
        let expected = decoded["operations"].as_array().unwrap();
        assert_eq!(ops.len(), expected.len());
        for (op, want) in ops.iter().zip(expected) {
            let claims = want["offers_claimed"].as_array().unwrap();
            assert_eq!(op.claims.len(), claims.len());
            for (claim, want) in op.claims.iter().zip(claims) {
                let seller = starlog_engine::AccountId::from_bytes(claim.seller);
                assert_eq!(seller.to_string(), s(want, "seller"));
                assert_eq!(claim.offer_id.to_string(), s(want, "offer_id"));
                assert_eq!(claim.amount_sold_stroops.to_string(), s(want, "amount_sold_stroops"));
                assert_eq!(claim.amount_bought_stroops.to_string(), s(want, "amount_bought_stroops"));
            }
            let effect = match want["offer_effect"].as_i64().unwrap() {
                0 => OfferEffect::Created,
                1 => OfferEffect::Updated,
                _ => OfferEffect::Deleted,
            };
            assert_eq!(op.effect, effect);
            if effect != OfferEffect::Deleted {
                assert_eq!(op.offer_id.to_string(), s(&want["offer"], "offer_id"));
                assert_eq!(op.remaining_stroops.to_string(), s(&want["offer"], "amount_stroops"));
            }
        }
    }
}

#[test]
fn failed_results_carry_their_codes() {
    let failed = fixture("tx_failed_op.json");
    let outcome = result::parse_base64(s(&failed["extras"], "result_xdr")).unwrap();
    // tx_failed, op_underfunded (a CreateClaimableBalance: its UNDERFUNDED is -5).
    assert_eq!(outcome, TxOutcome::Failed { fee_charged_stroops: 100, tx_code: -1, op_codes: vec![-5] });
    let bad_seq = fixture("tx_failed_bad_seq.json");
    let outcome = result::parse_base64(s(&bad_seq["extras"], "result_xdr")).unwrap();
    let TxOutcome::Failed { tx_code, op_codes, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!((tx_code, op_codes.len()), (-5, 0));
}

#[test]
fn a_horizon_success_reads_its_result() {
    let body = fixture("tx_success_offer_partial_fill.json");
    let outcome = result::parse_base64(s(&body, "result_xdr")).unwrap();
    let TxOutcome::Success { ops, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(ops[0].effect, OfferEffect::Created);
    assert_eq!(ops[0].claims.len(), 1);
    // The envelope Horizon echoes hashes to the transaction's hash on pubnet.
    // (A 2019 transaction: a legacy v0 envelope.)
    let envelope = tx::decode_envelope_base64(s(&body, "envelope_xdr")).unwrap();
    assert!(tx::v1_transaction(&envelope).is_err());
    assert_eq!(hex(&tx::envelope_hash(&envelope, &Network::parse("public").unwrap())), s(&body, "hash"));
}

#[test]
fn multi_operation_envelopes_match_the_python_sdk() {
    let text = include_str!("vectors/tx.json");
    let json: Value = serde_json::from_str(text).unwrap();
    let multi = json["multi_op"].as_array().unwrap();
    assert_eq!(multi.len(), 3);
    for v in multi {
        let seed = Seed::from_strkey(s(v, "secret")).unwrap();
        let mut signer = SeedSigner::new(&seed, StoreKind::Env, "env:TEST".into());
        let ops: Vec<OfferOp> = v["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|op| OfferOp {
                kind: match s(op, "kind") {
                    "sell" => OfferKind::ManageSell,
                    "buy" => OfferKind::ManageBuy,
                    _ => OfferKind::CreatePassiveSell,
                },
                selling: s(op, "selling").parse().unwrap(),
                buying: s(op, "buying").parse().unwrap(),
                amount: s(op, "amount").parse().unwrap(),
                price: s(op, "price").parse().unwrap(),
                offer: s(op, "offer_id").parse().unwrap(),
            })
            .collect();
        let params = TxParams {
            source: signer.public_key(),
            sequence: s(v, "sequence").parse().unwrap(),
            fee_stroops: s(v, "fee").parse().unwrap(),
            min_time: 0,
            max_time: s(v, "max_time").parse().unwrap(),
        };
        let built = tx::build(&params, &ops).unwrap();
        let signed = tx::sign(built, &Network::parse(s(v, "network")).unwrap(), &mut [&mut signer]).unwrap();
        assert_eq!(hex(&signed.hash), s(v, "hash"));
        assert_eq!(signed.to_base64(), s(v, "envelope_xdr"));
    }
}
