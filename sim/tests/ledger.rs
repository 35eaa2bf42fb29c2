//! The simulated ledger against stellar-core's rules: genesis and friendbot, trustlines and
//! issuing, offers crossing, every transaction-level and operation-level code it produces,
//! atomicity, multisig thresholds, determinism and conservation of native coins.

mod support;

use sha2::{Digest, Sha256};
use starlog_adapters::keys::Seed;
use starlog_adapters::stellar::tx::{self as stx, OfferKind, TxParams};
use starlog_adapters::stellar::{Network, asset_to_xdr, muxed_to_xdr};
use starlog_engine::{AccountId, Amount, Asset, OfferRef};
use starlog_sim::ledger::{AccountConfig, Disposition, Ledger, LedgerConfig, STANDALONE_PASSPHRASE, Submission};
use stellar_xdr::{self as xdr, ReadXdr, TransactionResultCode as Code};
use support::*;

fn usd(issuer: &Key) -> Asset {
    Asset::credit("USD", issuer.id).unwrap()
}

fn submit_tx(ledger: &mut Ledger, tx: xdr::Transaction, signers: &[&Key]) -> Submission {
    let bytes = sign_for(&ledger.network().clone(), tx, signers);
    let submission = ledger.submit(&bytes, NOW.max(ledger.last_close_time())).unwrap();
    ledger.check_invariants().unwrap();
    submission
}

/// Submits `ops` from `source`, signed by `source`.
fn submit(ledger: &mut Ledger, source: &Key, ops: Vec<xdr::Operation>) -> Submission {
    let tx = tx(ledger, source, ops);
    submit_tx(ledger, tx, &[source])
}

fn code(s: &Submission) -> Code {
    s.result.result.discriminant()
}

fn op_results(s: &Submission) -> Vec<xdr::OperationResult> {
    match &s.result.result {
        xdr::TransactionResultResult::TxSuccess(r) | xdr::TransactionResultResult::TxFailed(r) => r.to_vec(),
        _ => Vec::new(),
    }
}

fn inner(tr: xdr::OperationResultTr) -> xdr::OperationResult {
    xdr::OperationResult::OpInner(tr)
}

fn pay_result(r: xdr::PaymentResult) -> xdr::OperationResult {
    inner(xdr::OperationResultTr::Payment(r))
}

fn create_result(r: xdr::CreateAccountResult) -> xdr::OperationResult {
    inner(xdr::OperationResultTr::CreateAccount(r))
}

fn trust_result(r: xdr::ChangeTrustResult) -> xdr::OperationResult {
    inner(xdr::OperationResultTr::ChangeTrust(r))
}

fn data_result(r: xdr::ManageDataResult) -> xdr::OperationResult {
    inner(xdr::OperationResultTr::ManageData(r))
}

fn ledger() -> Ledger {
    Ledger::new(LedgerConfig::default())
}

/// A ledger with `accounts` funded with 1000 XLM each.
fn funded(accounts: &[&Key]) -> Ledger {
    let mut ledger = ledger();
    for k in accounts {
        assert!(ledger.fund(&k.id, 1000 * XLM).succeeded());
    }
    ledger
}

/// Asserts that the submission was rejected with `expected` and changed nothing.
fn assert_rejected(ledger: &mut Ledger, source: &Key, tx: xdr::Transaction, signers: &[&Key], expected: Code) {
    let before = ledger.account(&source.id).cloned();
    let history = ledger.history().transactions.len();
    let s = submit_tx(ledger, tx.clone(), signers);
    assert_eq!(code(&s), expected);
    assert_eq!(s.disposition, Disposition::Rejected);
    assert_eq!(s.fee_charged_stroops, 0);
    assert_eq!(s.result.fee_charged, i64::from(tx.fee), "stellar-core reports the fee bid");
    assert_eq!(ledger.account(&source.id).cloned(), before, "no fee, no sequence bump");
    assert_eq!(ledger.history().transactions.len(), history, "rejected transactions are in no ledger");
    let decoded = xdr::TransactionResult::from_xdr_base64(&s.result_base64, xdr::Limits::none()).unwrap();
    assert_eq!(decoded, s.result);
}

#[test]
fn genesis_root_holds_the_supply_and_its_key_comes_from_the_passphrase() {
    let ledger = ledger();
    let seed: [u8; 32] = Sha256::digest(STANDALONE_PASSPHRASE.as_bytes()).into();
    assert_eq!(ledger.root(), Seed::from_bytes(seed).public_key());
    let config = ledger.config().clone();
    assert_eq!(ledger.balance(&ledger.root(), &Asset::Native), Some(config.total_coins_stroops));
    assert_eq!((config.base_reserve_stroops, config.base_fee_stroops), (5_000_000, 100));
    assert_eq!(ledger.ledger_seq(), 2);
    assert_eq!(ledger.history().ledgers.len(), 1);
    ledger.check_invariants().unwrap();
}

#[test]
fn fund_creates_an_account_from_the_root_and_the_fee_goes_to_the_pool() {
    let a = key(1);
    let mut ledger = ledger();
    let s = ledger.fund(&a.id, 1000 * XLM);
    assert!(s.succeeded(), "{:?}", s.result);
    assert_eq!(s.disposition, Disposition::Applied { ledger: 2, order: 1 });
    assert_eq!(s.fee_charged_stroops, FEE);
    assert_eq!(op_results(&s), vec![create_result(xdr::CreateAccountResult::Success)]);
    let account = ledger.account(&a.id).unwrap();
    assert_eq!(account.balance, 1000 * XLM);
    assert_eq!(account.seq_num, 2 << 32, "new accounts start at ledger << 32");
    let root = ledger.root();
    assert_eq!(ledger.balance(&root, &Asset::Native), Some(ledger.config().total_coins_stroops - 1000 * XLM - FEE));
    assert_eq!(ledger.account(&root).unwrap().seq_num, 1);
    assert_eq!(ledger.fee_pool_stroops(), FEE);
    let record = &ledger.history().transactions[0];
    assert_eq!((record.ledger, record.order, record.source, record.hash), (2, 1, root, s.hash));
    assert_eq!(record.toid(), (2 << 32) | (1 << 12));
}

#[test]
fn an_issuer_issues_by_payment_to_a_trustline() {
    let (issuer, a) = (key(1), key(2));
    let mut ledger = funded(&[&issuer, &a]);
    let s = submit(&mut ledger, &a, vec![op(change_trust(&usd(&issuer), 1000 * XLM))]);
    assert_eq!(op_results(&s), vec![trust_result(xdr::ChangeTrustResult::Success)]);
    assert_eq!(ledger.account(&a.id).unwrap().num_subentries, 1);
    let s = submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd(&issuer), 500 * XLM))]);
    assert!(s.succeeded(), "{:?}", s.result);
    assert_eq!(ledger.balance(&a.id, &usd(&issuer)), Some(500 * XLM));
    // Paying back to the issuer burns.
    let s = submit(&mut ledger, &a, vec![op(payment(&issuer.id, &usd(&issuer), 100 * XLM))]);
    assert!(s.succeeded(), "{:?}", s.result);
    assert_eq!(ledger.balance(&a.id, &usd(&issuer)), Some(400 * XLM));
    // Native payments move lumens.
    let s = submit(&mut ledger, &a, vec![op(payment(&issuer.id, &Asset::Native, 10 * XLM))]);
    assert!(s.succeeded());
    assert_eq!(ledger.balance(&a.id, &Asset::Native), Some(990 * XLM - 3 * FEE));
    assert_eq!(ledger.balance(&issuer.id, &Asset::Native), Some(1010 * XLM - FEE));
}

#[test]
fn offers_between_two_accounts_cross_and_move_balances() {
    let (issuer, a, b) = (key(1), key(2), key(3));
    let mut ledger = funded(&[&issuer, &a, &b]);
    let usd = usd(&issuer);
    for k in [&a, &b] {
        assert!(submit(&mut ledger, k, vec![op(change_trust(&usd, 10_000 * XLM))]).succeeded());
    }
    assert!(submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd, 100 * XLM))]).succeeded());
    let offer = |selling: Asset, buying: Asset, amount: i64, price: &str| stx::OfferOp {
        kind: OfferKind::ManageSell,
        selling,
        buying,
        amount: Amount::from_stroops(amount).unwrap(),
        price: price.parse().unwrap(),
        offer: OfferRef::New,
    };
    let offer_tx = |ledger: &Ledger, k: &Key, o: stx::OfferOp| {
        let params = TxParams {
            source: k.id,
            sequence: ledger.account(&k.id).unwrap().seq_num + 1,
            fee_stroops: 100,
            min_time: 0,
            max_time: NOW + 60,
        };
        stx::build(&params, &[o]).unwrap()
    };
    // A sells 100 USD at 2 XLM each; it rests.
    let t = offer_tx(&ledger, &a, offer(usd, Asset::Native, 100 * XLM, "2"));
    let s = submit_tx(&mut ledger, t, &[&a]);
    assert!(s.succeeded(), "{:?}", s.result);
    let resting = match &op_results(&s)[0] {
        xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageSellOffer(
            xdr::ManageSellOfferResult::Success(r),
        )) => match &r.offer {
            xdr::ManageOfferSuccessResultOffer::Created(o) => o.offer_id,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(ledger.book().len(), 1);
    // B sells 60 XLM for USD at 0.5 USD per XLM: takes 30 USD of A's offer.
    let t = offer_tx(&ledger, &b, offer(Asset::Native, usd, 60 * XLM, "0.5"));
    let s = submit_tx(&mut ledger, t, &[&b]);
    assert!(s.succeeded(), "{:?}", s.result);
    let claims = match &op_results(&s)[0] {
        xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageSellOffer(
            xdr::ManageSellOfferResult::Success(r),
        )) => {
            assert_eq!(r.offer, xdr::ManageOfferSuccessResultOffer::Deleted, "filled at once");
            r.offers_claimed.to_vec()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(claims.len(), 1);
    let xdr::ClaimAtom::OrderBook(claim) = &claims[0] else { panic!("{claims:?}") };
    assert_eq!((claim.offer_id, claim.amount_sold, claim.amount_bought), (resting, 30 * XLM, 60 * XLM));
    assert_eq!(ledger.balance(&a.id, &usd), Some(70 * XLM));
    assert_eq!(ledger.balance(&b.id, &usd), Some(30 * XLM));
    assert_eq!(ledger.balance(&a.id, &Asset::Native), Some(1060 * XLM - 2 * FEE));
    assert_eq!(ledger.balance(&b.id, &Asset::Native), Some(940 * XLM - 2 * FEE));
    let trade = ledger.history().trades.last().unwrap().clone();
    assert_eq!((trade.maker, trade.taker, trade.maker_offer_id, trade.taker_offer_id), (a.id, b.id, resting, None));
    assert_eq!((trade.sold_amount, trade.bought_amount, trade.price()), (30 * XLM, 60 * XLM, (2, 1)));
    let order = ledger.history().transactions.last().unwrap().order;
    assert_eq!(trade.paging_token(), format!("{}-0", (2i64 << 32) | (i64::from(order) << 12) | 1));
    ledger.close_ledger(NOW + 5);
    assert_eq!(ledger.history().trades.last().unwrap().close_time, NOW + 5);
    // One stroop of XLM is worth half a stroop of USD: the crossing moves nothing. The claim is
    // in the result (as stellar-core has it); Horizon records no trade for it.
    let trades_before = ledger.history().trades.len();
    let t = offer_tx(&ledger, &b, offer(Asset::Native, usd, 1, "0.5"));
    let s = submit_tx(&mut ledger, t, &[&b]);
    assert!(s.succeeded(), "{:?}", s.result);
    let claims = match &op_results(&s)[0] {
        xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageSellOffer(
            xdr::ManageSellOfferResult::Success(r),
        )) => r.offers_claimed.to_vec(),
        other => panic!("{other:?}"),
    };
    let [xdr::ClaimAtom::OrderBook(claim)] = &claims[..] else { panic!("{claims:?}") };
    assert_eq!((claim.offer_id, claim.amount_sold, claim.amount_bought), (resting, 0, 0));
    assert_eq!(ledger.history().trades.len(), trades_before, "no trade for a claim that moved nothing");
}

#[test]
fn transaction_level_codes_reject_without_fee_or_sequence() {
    let (a, stranger) = (key(1), key(2));
    let mut ledger = funded(&[&a]);
    let pay = || vec![op(payment(&key(9).id, &Asset::Native, XLM))];

    let mut t = tx(&ledger, &a, pay());
    t.seq_num.0 += 1;
    assert_rejected(&mut ledger, &a, t, &[&a], Code::TxBadSeq);

    let mut t = tx(&ledger, &a, pay());
    t.cond =
        xdr::Preconditions::Time(xdr::TimeBounds { min_time: xdr::TimePoint(NOW + 1), max_time: xdr::TimePoint(0) });
    assert_rejected(&mut ledger, &a, t, &[&a], Code::TxTooEarly);

    let mut t = tx(&ledger, &a, pay());
    t.cond =
        xdr::Preconditions::Time(xdr::TimeBounds { min_time: xdr::TimePoint(0), max_time: xdr::TimePoint(NOW - 1) });
    assert_rejected(&mut ledger, &a, t, &[&a], Code::TxTooLate);

    let mut t = tx(&ledger, &a, vec![op(manage_data("x", Some(b"1"))), op(manage_data("y", Some(b"2")))]);
    t.fee = 199;
    assert_rejected(&mut ledger, &a, t, &[&a], Code::TxInsufficientFee);

    let t = tx(&ledger, &a, pay());
    assert_rejected(&mut ledger, &a, t, &[&stranger], Code::TxBadAuth);

    let t = tx(&ledger, &a, pay());
    assert_rejected(&mut ledger, &a, t, &[&a, &stranger], Code::TxBadAuthExtra);

    let t = tx(&ledger, &stranger, pay());
    let s = submit_tx(&mut ledger, t, &[&stranger]);
    assert_eq!((code(&s), s.disposition), (Code::TxNoAccount, Disposition::Rejected));

    // Signed for another network: the hash differs, so the signature does not verify.
    let t = tx(&ledger, &a, pay());
    let bytes = sign_for(&Network::parse("testnet").unwrap(), t, &[&a]);
    let s = ledger.submit(&bytes, NOW).unwrap();
    assert_eq!((code(&s), s.disposition), (Code::TxBadAuth, Disposition::Rejected));

    let mut t = tx(&ledger, &a, pay());
    t.operations = Vec::new().try_into().unwrap();
    assert_rejected(&mut ledger, &a, t, &[&a], Code::TxMissingOperation);

    // An account at its minimum balance cannot pay the fee.
    let poor = key(3);
    assert!(submit(&mut ledger, &a, vec![op(create_account(&poor.id, 2 * 5_000_000))]).succeeded());
    let t = tx(&ledger, &poor, vec![op(manage_data("x", Some(b"1")))]);
    assert_rejected(&mut ledger, &poor, t, &[&poor], Code::TxInsufficientBalance);

    // Fee-bump envelopes are not supported here.
    let inner = tx(&ledger, &a, pay());
    let inner_bytes = sign_for(ledger.network(), inner, &[&a]);
    let xdr::TransactionEnvelope::Tx(v1) =
        xdr::TransactionEnvelope::from_xdr(&inner_bytes, xdr::Limits::none()).unwrap()
    else {
        panic!()
    };
    let bump = xdr::TransactionEnvelope::TxFeeBump(xdr::FeeBumpTransactionEnvelope {
        tx: xdr::FeeBumpTransaction {
            fee_source: muxed_to_xdr(&a.id),
            fee: 1000,
            inner_tx: xdr::FeeBumpTransactionInnerTx::Tx(v1),
            ext: xdr::FeeBumpTransactionExt::V0,
        },
        signatures: Vec::new().try_into().unwrap(),
    });
    let s = ledger.submit(&stellar_xdr::WriteXdr::to_xdr(&bump, xdr::Limits::none()).unwrap(), NOW).unwrap();
    assert_eq!((code(&s), s.disposition), (Code::TxNotSupported, Disposition::Rejected));

    // Not an envelope at all.
    assert!(ledger.submit(&[0, 0, 0, 2, 0xff], NOW).is_err());
    ledger.check_invariants().unwrap();
}

#[test]
fn malformed_and_unsupported_operations_are_rejected_at_validation() {
    let (issuer, a) = (key(1), key(2));
    let mut ledger = funded(&[&issuer, &a]);
    let cases: Vec<(xdr::OperationBody, xdr::OperationResult)> = vec![
        (create_account(&a.id, 10 * XLM), create_result(xdr::CreateAccountResult::Malformed)),
        (create_account(&key(7).id, -1), create_result(xdr::CreateAccountResult::Malformed)),
        (payment(&issuer.id, &Asset::Native, 0), pay_result(xdr::PaymentResult::Malformed)),
        (change_trust(&Asset::Native, 1), trust_result(xdr::ChangeTrustResult::Malformed)),
        (change_trust(&usd(&issuer), -1), trust_result(xdr::ChangeTrustResult::Malformed)),
        (change_trust(&usd(&a), 1), trust_result(xdr::ChangeTrustResult::Malformed)),
        (manage_data("", Some(b"1")), data_result(xdr::ManageDataResult::InvalidName)),
        (manage_data("a\nb", Some(b"1")), data_result(xdr::ManageDataResult::InvalidName)),
        (xdr::OperationBody::Inflation, xdr::OperationResult::OpNotSupported),
    ];
    for (body, expected) in cases {
        // A good operation first: its result is the zero (success) result stellar-core leaves.
        let t = tx(&ledger, &a, vec![op(manage_data("ok", Some(b"1"))), op(body)]);
        let s = submit_tx(&mut ledger, t.clone(), &[&a]);
        assert_eq!(code(&s), Code::TxFailed);
        assert_eq!(s.disposition, Disposition::Rejected);
        assert_eq!(op_results(&s), vec![data_result(xdr::ManageDataResult::Success), expected]);
        assert_rejected(&mut ledger, &a, t, &[&a], Code::TxFailed);
    }
}

#[test]
fn create_account_codes() {
    let (a, b) = (key(1), key(2));
    let mut ledger = funded(&[&a, &b]);
    let s = submit(&mut ledger, &a, vec![op(create_account(&b.id, 10 * XLM))]);
    assert_eq!(op_results(&s), vec![create_result(xdr::CreateAccountResult::AlreadyExist)]);
    let s = submit(&mut ledger, &a, vec![op(create_account(&key(3).id, XLM - 1))]);
    assert_eq!(op_results(&s), vec![create_result(xdr::CreateAccountResult::LowReserve)]);
    let s = submit(&mut ledger, &a, vec![op(create_account(&key(3).id, 999 * XLM))]);
    assert_eq!(op_results(&s), vec![create_result(xdr::CreateAccountResult::Underfunded)]);
    assert_eq!((code(&s), s.applied(), s.fee_charged_stroops), (Code::TxFailed, true, FEE));
    assert_eq!(ledger.balance(&a.id, &Asset::Native), Some(1000 * XLM - 3 * FEE));
    assert!(ledger.account(&key(3).id).is_none());
}

#[test]
fn payment_codes() {
    let (issuer, a, b, gated) = (key(1), key(2), key(3), key(4));
    let mut ledger = funded(&[&issuer, &a, &b, &gated]);
    let usd = usd(&issuer);
    let nowhere = key(9);
    let p = |ledger: &mut Ledger, from: &Key, to: &AccountId, asset: &Asset, amount: i64| {
        let s = submit(ledger, from, vec![op(payment(to, asset, amount))]);
        op_results(&s).remove(0)
    };
    assert_eq!(p(&mut ledger, &a, &nowhere.id, &Asset::Native, XLM), pay_result(xdr::PaymentResult::NoDestination));
    assert_eq!(p(&mut ledger, &a, &b.id, &Asset::Native, 2000 * XLM), pay_result(xdr::PaymentResult::Underfunded));
    assert_eq!(p(&mut ledger, &issuer, &a.id, &usd, XLM), pay_result(xdr::PaymentResult::NoTrust));
    assert!(submit(&mut ledger, &a, vec![op(change_trust(&usd, 100 * XLM))]).succeeded());
    assert_eq!(p(&mut ledger, &issuer, &a.id, &usd, 101 * XLM), pay_result(xdr::PaymentResult::LineFull));
    assert_eq!(p(&mut ledger, &b, &a.id, &usd, XLM), pay_result(xdr::PaymentResult::SrcNoTrust));
    assert!(submit(&mut ledger, &b, vec![op(change_trust(&usd, 100 * XLM))]).succeeded());
    assert_eq!(p(&mut ledger, &b, &a.id, &usd, XLM), pay_result(xdr::PaymentResult::Underfunded));
    assert_eq!(p(&mut ledger, &issuer, &a.id, &usd, 10 * XLM), pay_result(xdr::PaymentResult::Success));
    ledger.set_authorized(&a.id, &usd, false).unwrap();
    assert_eq!(p(&mut ledger, &a, &b.id, &usd, XLM), pay_result(xdr::PaymentResult::SrcNotAuthorized));
    assert_eq!(p(&mut ledger, &issuer, &a.id, &usd, XLM), pay_result(xdr::PaymentResult::NotAuthorized));
    // An issuer with AUTH_REQUIRED: new trustlines start unauthorized.
    let config = AccountConfig {
        master_weight: 1,
        low_threshold: 0,
        med_threshold: 0,
        high_threshold: 0,
        signers: Vec::new(),
        auth_required: true,
    };
    ledger.configure_account(&gated.id, &config).unwrap();
    let gusd = Asset::credit("GUSD", gated.id).unwrap();
    assert!(submit(&mut ledger, &b, vec![op(change_trust(&gusd, 100 * XLM))]).succeeded());
    assert!(!ledger.trustline(&b.id, &gusd).unwrap().authorized);
    assert_eq!(p(&mut ledger, &gated, &b.id, &gusd, XLM), pay_result(xdr::PaymentResult::NotAuthorized));
    ledger.set_authorized(&b.id, &gusd, true).unwrap();
    assert_eq!(p(&mut ledger, &gated, &b.id, &gusd, XLM), pay_result(xdr::PaymentResult::Success));
}

#[test]
fn change_trust_codes_and_subentries() {
    let (issuer, a) = (key(1), key(2));
    let mut ledger = funded(&[&issuer, &a]);
    let usd = usd(&issuer);
    let ct = |ledger: &mut Ledger, k: &Key, asset: &Asset, limit: i64| {
        op_results(&submit(ledger, k, vec![op(change_trust(asset, limit))])).remove(0)
    };
    assert_eq!(ct(&mut ledger, &a, &usd, 0), trust_result(xdr::ChangeTrustResult::InvalidLimit));
    let ghost = Asset::credit("EUR", key(9).id).unwrap();
    assert_eq!(ct(&mut ledger, &a, &ghost, XLM), trust_result(xdr::ChangeTrustResult::NoIssuer));
    assert_eq!(ct(&mut ledger, &a, &usd, 100 * XLM), trust_result(xdr::ChangeTrustResult::Success));
    assert!(submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd, 50 * XLM))]).succeeded());
    assert_eq!(ct(&mut ledger, &a, &usd, 49 * XLM), trust_result(xdr::ChangeTrustResult::InvalidLimit));
    assert_eq!(ct(&mut ledger, &a, &usd, 50 * XLM), trust_result(xdr::ChangeTrustResult::Success));
    assert_eq!(ledger.trustline(&a.id, &usd).unwrap().limit, 50 * XLM);
    assert!(submit(&mut ledger, &a, vec![op(payment(&issuer.id, &usd, 50 * XLM))]).succeeded());
    assert_eq!(ct(&mut ledger, &a, &usd, 0), trust_result(xdr::ChangeTrustResult::Success));
    assert!(ledger.trustline(&a.id, &usd).is_none());
    assert_eq!(ledger.account(&a.id).unwrap().num_subentries, 0);
    // Low reserve: 1 XLM minimum plus a little for fees.
    let poor = key(3);
    assert!(submit(&mut ledger, &a, vec![op(create_account(&poor.id, XLM + 10 * FEE))]).succeeded());
    assert_eq!(ct(&mut ledger, &poor, &usd, XLM), trust_result(xdr::ChangeTrustResult::LowReserve));
}

#[test]
fn manage_data_codes() {
    let a = key(1);
    let mut ledger = funded(&[&a]);
    let md = |ledger: &mut Ledger, k: &Key, name: &str, value: Option<&[u8]>| {
        op_results(&submit(ledger, k, vec![op(manage_data(name, value))])).remove(0)
    };
    assert_eq!(md(&mut ledger, &a, "k", None), data_result(xdr::ManageDataResult::NameNotFound));
    assert_eq!(md(&mut ledger, &a, "k", Some(b"v1")), data_result(xdr::ManageDataResult::Success));
    assert_eq!(md(&mut ledger, &a, "k", Some(b"v2")), data_result(xdr::ManageDataResult::Success));
    let account = ledger.account(&a.id).unwrap();
    assert_eq!((account.num_subentries, account.data[b"k".as_slice()].as_slice()), (1, b"v2".as_slice()));
    assert_eq!(md(&mut ledger, &a, "k", None), data_result(xdr::ManageDataResult::Success));
    assert_eq!(ledger.account(&a.id).unwrap().num_subentries, 0);
    let poor = key(3);
    assert!(submit(&mut ledger, &a, vec![op(create_account(&poor.id, XLM + 10 * FEE))]).succeeded());
    assert_eq!(md(&mut ledger, &poor, "k", Some(b"v")), data_result(xdr::ManageDataResult::LowReserve));
}

#[test]
fn a_failing_operation_undoes_the_others_but_the_fee_and_sequence_are_consumed() {
    let (a, b) = (key(1), key(2));
    let mut ledger = funded(&[&a, &b]);
    let seq = ledger.account(&a.id).unwrap().seq_num;
    let s = submit(
        &mut ledger,
        &a,
        vec![
            op(payment(&b.id, &Asset::Native, 10 * XLM)),
            op(payment(&b.id, &Asset::Native, 5000 * XLM)),
            op(manage_data("k", None)),
        ],
    );
    assert_eq!((code(&s), s.applied(), s.fee_charged_stroops), (Code::TxFailed, true, 3 * FEE));
    assert_eq!(
        op_results(&s),
        vec![
            pay_result(xdr::PaymentResult::Success),
            pay_result(xdr::PaymentResult::Underfunded),
            data_result(xdr::ManageDataResult::NameNotFound),
        ]
    );
    assert_eq!(ledger.balance(&a.id, &Asset::Native), Some(1000 * XLM - 3 * FEE));
    assert_eq!(ledger.balance(&b.id, &Asset::Native), Some(1000 * XLM));
    assert_eq!(ledger.account(&a.id).unwrap().seq_num, seq + 1);
    let record = ledger.history().transactions.last().unwrap();
    assert!(!record.successful);
    assert_eq!(record.result_xdr, s.result_xdr);
}

#[test]
fn multisig_thresholds_and_operation_sources() {
    let (a, b, c) = (key(1), key(2), key(3));
    let mut ledger = funded(&[&a, &b, &c]);
    let config = AccountConfig {
        master_weight: 1,
        low_threshold: 1,
        med_threshold: 2,
        high_threshold: 3,
        signers: vec![(b.id, 1)],
        auth_required: false,
    };
    ledger.configure_account(&a.id, &config).unwrap();
    assert_eq!(ledger.account(&a.id).unwrap().num_subentries, 1, "a signer is a subentry");
    let data = || vec![op(manage_data("k", Some(b"v")))];
    // Low threshold met by the master key; the medium one is not: the operation fails auth.
    let t = tx(&ledger, &a, data());
    let s = submit_tx(&mut ledger, t.clone(), &[&a]);
    assert_eq!((code(&s), s.disposition), (Code::TxFailed, Disposition::Rejected));
    assert_eq!(op_results(&s), vec![xdr::OperationResult::OpBadAuth]);
    let s = submit_tx(&mut ledger, t, &[&a, &b]);
    assert!(s.succeeded(), "{:?}", s.result);
    // The master key at weight 0 no longer signs.
    let config = AccountConfig { master_weight: 0, low_threshold: 1, med_threshold: 1, ..config };
    ledger.configure_account(&a.id, &config).unwrap();
    let t = tx(&ledger, &a, data());
    let s = submit_tx(&mut ledger, t.clone(), &[&a]);
    assert_eq!((code(&s), s.disposition), (Code::TxBadAuth, Disposition::Rejected));
    assert!(submit_tx(&mut ledger, t, &[&b]).succeeded());
    // An operation with another source needs that account's signature too.
    let t = tx(&ledger, &b, vec![op_from(&c, manage_data("k", Some(b"v")))]);
    let s = submit_tx(&mut ledger, t.clone(), &[&b]);
    assert_eq!(op_results(&s), vec![xdr::OperationResult::OpBadAuth]);
    let s = submit_tx(&mut ledger, t, &[&b, &c]);
    assert!(s.succeeded(), "{:?}", s.result);
    assert_eq!(ledger.account(&c.id).unwrap().num_subentries, 1);
    // A source created earlier in the same transaction signs with its own key.
    let d = key(4);
    let t = tx(&ledger, &b, vec![op(create_account(&d.id, 10 * XLM)), op_from(&d, manage_data("k", Some(b"v")))]);
    let s = submit_tx(&mut ledger, t, &[&b, &d]);
    assert!(s.succeeded(), "{:?}", s.result);
}

/// A fixed script of submissions, some failing; returns every result.
fn script(ledger: &mut Ledger) -> Vec<Vec<u8>> {
    let (issuer, a, b) = (key(1), key(2), key(3));
    let mut results = Vec::new();
    for k in [&issuer, &a, &b] {
        results.push(ledger.fund(&k.id, 1000 * XLM).result_xdr);
    }
    let usd = usd(&issuer);
    for k in [&a, &b] {
        results.push(submit(ledger, k, vec![op(change_trust(&usd, 10_000 * XLM))]).result_xdr);
    }
    results.push(submit(ledger, &issuer, vec![op(payment(&a.id, &usd, 500 * XLM))]).result_xdr);
    ledger.close_ledger(NOW + 5);
    results.push(submit(ledger, &a, vec![op(payment(&b.id, &usd, 800 * XLM))]).result_xdr);
    results.push(submit(ledger, &b, vec![op(manage_data("k", Some(b"v")))]).result_xdr);
    let sell = xdr::OperationBody::ManageSellOffer(xdr::ManageSellOfferOp {
        selling: asset_to_xdr(&usd),
        buying: xdr::Asset::Native,
        amount: 10 * XLM,
        price: xdr::Price { n: 3, d: 2 },
        offer_id: 0,
    });
    results.push(submit(ledger, &a, vec![op(sell)]).result_xdr);
    let buy = xdr::OperationBody::ManageBuyOffer(xdr::ManageBuyOfferOp {
        selling: xdr::Asset::Native,
        buying: asset_to_xdr(&usd),
        buy_amount: 4 * XLM,
        price: xdr::Price { n: 3, d: 2 },
        offer_id: 0,
    });
    results.push(submit(ledger, &b, vec![op(buy)]).result_xdr);
    ledger.close_ledger(NOW + 10);
    results
}

#[test]
fn two_ledgers_fed_the_same_submissions_agree_byte_for_byte() {
    let (mut one, mut two) = (ledger(), ledger());
    assert_eq!(script(&mut one), script(&mut two));
    assert_eq!(one.history(), two.history());
    let accounts = |l: &Ledger| l.accounts().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    assert_eq!(accounts(&one), accounts(&two));
    assert_eq!(one.history().ledgers.len(), 3);
    assert_eq!(one.history().ledgers[2].close_time, NOW + 10);
    assert!(one.history().transactions.iter().all(|t| t.close_time == NOW + 5 || t.close_time == NOW + 10));
}

#[test]
fn native_coins_are_conserved_and_fees_accounted() {
    let mut ledger = ledger();
    script(&mut ledger);
    ledger.check_invariants().unwrap();
    let fees: i64 = ledger.history().transactions.iter().map(|t| t.fee_charged_stroops).sum();
    assert_eq!(ledger.fee_pool_stroops(), fees);
    let held: i64 = ledger.accounts().map(|(_, a)| a.balance).sum();
    assert_eq!(held + fees, ledger.config().total_coins_stroops);
    assert_eq!(ledger.history().ledgers.last().unwrap().fee_pool_stroops, fees);
}

#[test]
fn v2_preconditions_ledger_bounds_and_min_seq_num() {
    let a = key(1);
    let mut ledger = funded(&[&a]);
    let v2 = |min_ledger: u32, max_ledger: u32, min_seq: Option<i64>| {
        xdr::Preconditions::V2(xdr::PreconditionsV2 {
            time_bounds: None,
            ledger_bounds: Some(xdr::LedgerBounds { min_ledger, max_ledger }),
            min_seq_num: min_seq.map(xdr::SequenceNumber),
            min_seq_age: xdr::Duration(0),
            min_seq_ledger_gap: 0,
            extra_signers: Vec::new().try_into().unwrap(),
        })
    };
    let data = || vec![op(manage_data("k", Some(b"v")))];
    let open = ledger.ledger_seq();
    let mut t = tx(&ledger, &a, data());
    t.cond = v2(open + 1, 0, None);
    assert_rejected(&mut ledger, &a, t, &[&a], Code::TxTooEarly);
    let mut t = tx(&ledger, &a, data());
    t.cond = v2(0, open, None);
    assert_rejected(&mut ledger, &a, t, &[&a], Code::TxTooLate);
    // With min_seq_num, the sequence may jump ahead of current + 1.
    let current = ledger.account(&a.id).unwrap().seq_num;
    let mut t = tx(&ledger, &a, data());
    t.seq_num = xdr::SequenceNumber(current + 10);
    assert_rejected(&mut ledger, &a, t.clone(), &[&a], Code::TxBadSeq);
    t.cond = v2(0, open + 1, Some(current));
    assert!(submit_tx(&mut ledger, t, &[&a]).succeeded());
    assert_eq!(ledger.account(&a.id).unwrap().seq_num, current + 10);
}

#[test]
fn offer_operation_codes_atomicity_and_passive_flags() {
    let (issuer, a, b) = (key(1), key(2), key(3));
    let mut ledger = funded(&[&issuer, &a, &b]);
    let usd = usd(&issuer);
    // Malformed offers are rejected at validation.
    let t = tx(&ledger, &a, vec![op(sell_offer(&Asset::Native, &usd, XLM, 0, 1))]);
    let s = submit_tx(&mut ledger, t, &[&a]);
    assert_eq!((code(&s), s.disposition), (Code::TxFailed, Disposition::Rejected));
    assert_eq!(
        op_results(&s),
        vec![inner(xdr::OperationResultTr::ManageSellOffer(xdr::ManageSellOfferResult::Malformed))]
    );
    // Without a trustline: applied and failed, with the buy operation's own result type.
    let s = submit(&mut ledger, &a, vec![op(sell_offer(&Asset::Native, &usd, XLM, 1, 1))]);
    assert_eq!(
        op_results(&s),
        vec![inner(xdr::OperationResultTr::ManageSellOffer(xdr::ManageSellOfferResult::BuyNoTrust))]
    );
    let buy = xdr::OperationBody::ManageBuyOffer(xdr::ManageBuyOfferOp {
        selling: asset_to_xdr(&usd),
        buying: xdr::Asset::Native,
        buy_amount: XLM,
        price: xdr::Price { n: 1, d: 1 },
        offer_id: 0,
    });
    let s = submit(&mut ledger, &a, vec![op(buy)]);
    assert_eq!(
        op_results(&s),
        vec![inner(xdr::OperationResultTr::ManageBuyOffer(xdr::ManageBuyOfferResult::SellNoTrust))]
    );
    // A passive offer rests with the passive flag.
    for k in [&a, &b] {
        assert!(submit(&mut ledger, k, vec![op(change_trust(&usd, 10_000 * XLM))]).succeeded());
    }
    assert!(submit(&mut ledger, &issuer, vec![op(payment(&a.id, &usd, 100 * XLM))]).succeeded());
    let passive = xdr::OperationBody::CreatePassiveSellOffer(xdr::CreatePassiveSellOfferOp {
        selling: asset_to_xdr(&usd),
        buying: xdr::Asset::Native,
        amount: 10 * XLM,
        price: xdr::Price { n: 2, d: 1 },
    });
    let s = submit(&mut ledger, &a, vec![op(passive)]);
    let xdr::OperationResult::OpInner(xdr::OperationResultTr::CreatePassiveSellOffer(
        xdr::ManageSellOfferResult::Success(success),
    )) = &op_results(&s)[0]
    else {
        panic!("{:?}", s.result)
    };
    let xdr::ManageOfferSuccessResultOffer::Created(entry) = &success.offer else { panic!("{success:?}") };
    assert_eq!((entry.flags, entry.amount, entry.price.n, entry.price.d), (1, 10 * XLM, 2, 1));
    assert_eq!(ledger.account(&a.id).unwrap().num_subentries, 2);
    // A crossing undone by a later failure: no trade recorded, book and balances as before.
    let trades = ledger.history().trades.len();
    let b_native = ledger.balance(&b.id, &Asset::Native).unwrap();
    let s = submit(
        &mut ledger,
        &b,
        vec![op(sell_offer(&Asset::Native, &usd, 20 * XLM, 1, 2)), op(payment(&a.id, &usd, 1000 * XLM))],
    );
    assert_eq!((code(&s), s.applied()), (Code::TxFailed, true));
    let results = op_results(&s);
    let xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageSellOffer(xdr::ManageSellOfferResult::Success(
        crossed,
    ))) = &results[0]
    else {
        panic!("{results:?}")
    };
    assert_eq!(crossed.offers_claimed.len(), 1, "the result shows the crossing that was undone");
    assert_eq!(results[1], pay_result(xdr::PaymentResult::Underfunded));
    assert_eq!(ledger.history().trades.len(), trades);
    assert_eq!(ledger.book().get(entry.offer_id).unwrap().amount, 10 * XLM);
    assert_eq!(ledger.balance(&b.id, &usd), Some(0));
    assert_eq!(ledger.balance(&b.id, &Asset::Native), Some(b_native - 2 * FEE));
}
