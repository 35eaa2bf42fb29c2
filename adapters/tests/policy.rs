//! The signing policy refuses each kind of transaction it should, with its stable rule code,
//! and never lets through a transaction above its caps (proptest).

use proptest::prelude::*;
use starlog_adapters::keys::multisig::AccountSigners;
use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind, verify};
use starlog_adapters::policy::{GuardedSigner, Policy, Rule, SignError};
use starlog_adapters::stellar::Network;
use starlog_adapters::stellar::tx::{self, OfferKind, OfferOp, TxParams};
use starlog_engine::events::SecurityEvent;
use starlog_engine::{AccountId, Amount, Asset, OfferRef, Price};
use stellar_xdr::{self as xdr, WriteXdr};

const NOW: u64 = 1_700_000_000;
const USD: &str = "USD:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

fn ours() -> Seed {
    Seed::from_bytes([11; 32])
}

fn policy_text(account: &AccountId) -> String {
    format!(
        r#"
network = "testnet"
source_accounts = ["{account}"]
operations = ["manage_sell_offer", "manage_buy_offer"]
fee_stroops_max = 1000
validity_secs_max = 60

[notional_stroops_max]
native = 1000000000
"{USD}" = 500000000
"#
    )
}

fn policy() -> Policy {
    Policy::from_toml(&policy_text(&ours().public_key())).unwrap()
}

fn usd() -> Asset {
    USD.parse().unwrap()
}

fn sell(amount_stroops: i64) -> OfferOp {
    OfferOp {
        kind: OfferKind::ManageSell,
        selling: Asset::Native,
        buying: usd(),
        amount: Amount::from_stroops(amount_stroops).unwrap(),
        price: "0.1".parse().unwrap(),
        offer: OfferRef::New,
    }
}

fn params() -> TxParams {
    TxParams { source: ours().public_key(), sequence: 9, fee_stroops: 100, min_time: 0, max_time: NOW + 30 }
}

fn envelope(tx: xdr::Transaction) -> xdr::TransactionEnvelope {
    xdr::TransactionEnvelope::Tx(xdr::TransactionV1Envelope { tx, signatures: Default::default() })
}

fn rule_of(policy: &Policy, tx: xdr::Transaction) -> Option<Rule> {
    policy.check(&envelope(tx), &Network::parse("testnet").unwrap(), NOW).err().map(|v| v.rule)
}

#[test]
fn each_rule_refuses_what_it_names() {
    let p = policy();
    let good = tx::build(&params(), &[sell(1_000_000_000)]).unwrap();
    assert_eq!(rule_of(&p, good.clone()), None);

    let testnet = Network::parse("testnet").unwrap();
    let public = Network::parse("public").unwrap();
    assert_eq!(p.check(&envelope(good.clone()), &public, NOW).unwrap_err().rule, Rule::Network);
    assert_eq!(p.check(&envelope(good.clone()), &testnet, NOW).map_err(|v| v.rule), Ok(()));

    let stranger = TxParams { source: AccountId::from_bytes([12; 32]), ..params() };
    assert_eq!(rule_of(&p, tx::build(&stranger, &[sell(1)]).unwrap()), Some(Rule::SourceAccount));

    let mut op_source = good.clone();
    let mut ops: Vec<xdr::Operation> = op_source.operations.to_vec();
    ops[0].source_account = Some(xdr::MuxedAccount::Ed25519(xdr::Uint256([12; 32])));
    op_source.operations = ops.try_into().unwrap();
    assert_eq!(rule_of(&p, op_source), Some(Rule::SourceAccount));

    let passive = OfferOp { kind: OfferKind::CreatePassiveSell, ..sell(1) };
    assert_eq!(rule_of(&p, tx::build(&params(), &[passive]).unwrap()), Some(Rule::OperationType));
    let mut payment = good.clone();
    payment.operations = vec![xdr::Operation {
        source_account: None,
        body: xdr::OperationBody::Payment(xdr::PaymentOp {
            destination: xdr::MuxedAccount::Ed25519(xdr::Uint256([12; 32])),
            asset: xdr::Asset::Native,
            amount: 1,
        }),
    }]
    .try_into()
    .unwrap();
    assert_eq!(rule_of(&p, payment), Some(Rule::OperationType));

    let fee = TxParams { fee_stroops: 1001, ..params() };
    assert_eq!(rule_of(&p, tx::build(&fee, &[sell(1)]).unwrap()), Some(Rule::Fee));

    let mut no_bounds = good.clone();
    no_bounds.cond = xdr::Preconditions::None;
    assert_eq!(rule_of(&p, no_bounds), Some(Rule::TimeBounds));
    let mut open_ended = good.clone();
    open_ended.cond =
        xdr::Preconditions::Time(xdr::TimeBounds { min_time: xdr::TimePoint(0), max_time: xdr::TimePoint(0) });
    assert_eq!(rule_of(&p, open_ended), Some(Rule::TimeBounds));

    let long = TxParams { max_time: NOW + 61, ..params() };
    assert_eq!(rule_of(&p, tx::build(&long, &[sell(1)]).unwrap()), Some(Rule::Validity));
    let late = TxParams { max_time: NOW - 1, ..params() };
    assert_eq!(rule_of(&p, tx::build(&late, &[sell(1)]).unwrap()), Some(Rule::Expired));

    let eur =
        OfferOp { selling: "EUR:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN".parse().unwrap(), ..sell(1) };
    assert_eq!(rule_of(&p, tx::build(&params(), &[eur]).unwrap()), Some(Rule::Asset));

    // The cap is per transaction: two operations that each fit add up past it.
    assert_eq!(rule_of(&p, tx::build(&params(), &[sell(600_000_000), sell(400_000_000)]).unwrap()), None);
    assert_eq!(
        rule_of(&p, tx::build(&params(), &[sell(600_000_000), sell(400_000_001)]).unwrap()),
        Some(Rule::Notional)
    );
    // A buy offer puts buy_amount × price of its selling asset on offer: 100 USD at 5 USD/XLM… no:
    // buying 200 XLM at 2.5 USD per XLM offers 500 USD (the USD cap exactly), one stroop more does not fit.
    let buy = |amount| OfferOp {
        kind: OfferKind::ManageBuy,
        selling: usd(),
        buying: Asset::Native,
        amount: Amount::from_stroops(amount).unwrap(),
        price: "2.5".parse().unwrap(),
        offer: OfferRef::New,
    };
    assert_eq!(rule_of(&p, tx::build(&params(), &[buy(200_000_000)]).unwrap()), None);
    assert_eq!(rule_of(&p, tx::build(&params(), &[buy(200_000_001)]).unwrap()), Some(Rule::Notional));

    let mut memo = good.clone();
    memo.memo = xdr::Memo::Text("pay me".as_bytes().to_vec().try_into().unwrap());
    assert_eq!(rule_of(&p, memo), Some(Rule::Memo));

    let mut signer = SeedSigner::new(&ours(), StoreKind::Env, "env:T".into());
    let signed = tx::sign(good, &testnet, &mut [&mut signer]).unwrap();
    assert_eq!(p.check(&signed.envelope, &testnet, NOW).unwrap_err().rule, Rule::PresignedEnvelope);
}

#[test]
fn rule_codes_are_stable() {
    let codes: Vec<u16> = [
        Rule::Network,
        Rule::EnvelopeType,
        Rule::SourceAccount,
        Rule::OperationType,
        Rule::Fee,
        Rule::TimeBounds,
        Rule::Validity,
        Rule::Expired,
        Rule::Asset,
        Rule::Notional,
        Rule::PresignedEnvelope,
        Rule::Memo,
    ]
    .iter()
    .map(|r| r.code())
    .collect();
    assert_eq!(codes, (1..=12).collect::<Vec<u16>>());
}

#[test]
fn bad_policy_files_are_one_line_errors() {
    let account = ours().public_key();
    let good = policy_text(&account);
    for text in [
        good.replace("fee_stroops_max = 1000", "fee_stroops_max = -1"),
        good.replace("testnet", ""),
        good.replace("native = ", "nativ = "),
        good.replace(&account.to_string(), "GBAD"),
        good.replace("validity_secs_max = 60", "validity_secs_max = 0"),
        good.replace("manage_buy_offer", "payment"),
        format!("{good}\nsurprise = 1\n"),
        "not toml at all [".to_owned(),
    ] {
        let err = Policy::from_toml(&text).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.starts_with("signing policy: "), "{err}");
    }
}

#[test]
fn the_guarded_signer_signs_only_what_passes() {
    let seed = ours();
    let signer: Box<dyn Signer> = Box::new(SeedSigner::new(&seed, StoreKind::File, "file:/k".into()));
    let mut guarded =
        GuardedSigner::new(policy(), vec![signer], &AccountSigners::master_only(seed.public_key())).unwrap();
    let testnet = Network::parse("testnet").unwrap();
    let unsigned = |tx| envelope(tx).to_xdr(xdr::Limits::none()).unwrap();

    let signed = guarded.sign(&unsigned(tx::build(&params(), &[sell(5)]).unwrap()), &testnet, NOW).unwrap();
    let xdr::TransactionEnvelope::Tx(v1) = &signed.envelope else { panic!() };
    let signature: [u8; 64] = v1.signatures[0].signature.0.as_slice().try_into().unwrap();
    assert!(verify(&seed.public_key(), &signed.hash, &signature));

    let err =
        guarded.sign(&unsigned(tx::build(&params(), &[sell(1_000_000_001)]).unwrap()), &testnet, NOW).unwrap_err();
    assert!(matches!(err, SignError::Policy(ref v) if v.rule == Rule::Notional), "{err}");
    assert_eq!(err.to_event(42), Some(SecurityEvent::PolicyViolation { intent: 42, rule: Rule::Notional.code() }));
    assert!(matches!(guarded.sign(b"junk", &testnet, NOW), Err(SignError::Decode(_))));
}

fn arb_op() -> impl Strategy<Value = OfferOp> {
    (any::<bool>(), any::<bool>(), 0i64..2_000_000_000, 1i32..1000, 1i32..1000, 0i64..3).prop_map(
        |(buy, usd_selling, amount, n, d, offer)| {
            let (selling, buying) = if usd_selling { (usd(), Asset::Native) } else { (Asset::Native, usd()) };
            OfferOp {
                kind: if buy { OfferKind::ManageBuy } else { OfferKind::ManageSell },
                selling,
                buying,
                amount: Amount::from_stroops(amount).unwrap(),
                price: Price::new(n, d).unwrap(),
                offer: if offer == 0 { OfferRef::New } else { offer.to_string().parse().unwrap() },
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever passes the policy offers at most the cap of each asset, pays at most the fee cap,
    /// and expires within the window.
    #[test]
    fn nothing_above_the_caps_passes(ops in prop::collection::vec(arb_op(), 1..6), fee in 0u32..2000, ttl in 0u64..120) {
        let p = policy();
        let params = TxParams { fee_stroops: fee, max_time: NOW + ttl, ..params() };
        let Ok(tx) = tx::build(&params, &ops) else { return Ok(()) };
        if rule_of(&p, tx).is_none() {
            prop_assert!(fee <= 1000 && ttl <= 60);
            for asset in [Asset::Native, usd()] {
                let offered: i128 = ops.iter().filter(|o| o.selling == asset).map(|o| {
                    let amount = i128::from(o.amount.stroops());
                    match o.kind {
                        OfferKind::ManageBuy => {
                            let (n, d) = (i128::from(o.price.n()), i128::from(o.price.d()));
                            (amount * n + d - 1) / d
                        }
                        _ => amount,
                    }
                }).sum();
                let cap = if asset == Asset::Native { 1_000_000_000 } else { 500_000_000 };
                prop_assert!(offered <= cap, "{asset}: {offered} > {cap}");
            }
        }
    }
}
