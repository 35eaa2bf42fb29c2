//! Shared by the simulator's integration tests: test keys, XDR operation builders, and signing
//! transactions for a ledger.
#![allow(dead_code, reason = "each test binary uses the part it needs")]

use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind};
use starlog_adapters::stellar::tx as stx;
use starlog_adapters::stellar::{Network, account_to_xdr, asset_to_xdr, muxed_to_xdr};
use starlog_engine::{AccountId, Asset};
use starlog_sim::ledger::Ledger;
use stellar_xdr as xdr;

pub const XLM: i64 = 10_000_000;
/// The base fee per operation.
pub const FEE: i64 = 100;
/// Close time of the tests' ledgers.
pub const NOW: u64 = 1_700_000_000;

/// A test account: its seed and its id.
pub struct Key {
    pub seed: Seed,
    pub id: AccountId,
}

pub fn key(n: u8) -> Key {
    let seed = Seed::from_bytes([n; 32]);
    let id = seed.public_key();
    Key { seed, id }
}

pub fn signer(k: &Key) -> SeedSigner {
    SeedSigner::new(&k.seed, StoreKind::Env, "env:TEST".into())
}

pub fn op(body: xdr::OperationBody) -> xdr::Operation {
    xdr::Operation { source_account: None, body }
}

pub fn op_from(source: &Key, body: xdr::OperationBody) -> xdr::Operation {
    xdr::Operation { source_account: Some(muxed_to_xdr(&source.id)), body }
}

pub fn create_account(dest: &AccountId, amount: i64) -> xdr::OperationBody {
    xdr::OperationBody::CreateAccount(xdr::CreateAccountOp {
        destination: account_to_xdr(dest),
        starting_balance: amount,
    })
}

pub fn payment(dest: &AccountId, asset: &Asset, amount: i64) -> xdr::OperationBody {
    xdr::OperationBody::Payment(xdr::PaymentOp { destination: muxed_to_xdr(dest), asset: asset_to_xdr(asset), amount })
}

pub fn change_trust(asset: &Asset, limit: i64) -> xdr::OperationBody {
    let line = match asset_to_xdr(asset) {
        xdr::Asset::Native => xdr::ChangeTrustAsset::Native,
        xdr::Asset::CreditAlphanum4(a) => xdr::ChangeTrustAsset::CreditAlphanum4(a),
        xdr::Asset::CreditAlphanum12(a) => xdr::ChangeTrustAsset::CreditAlphanum12(a),
    };
    xdr::OperationBody::ChangeTrust(xdr::ChangeTrustOp { line, limit })
}

pub fn manage_data(name: &str, value: Option<&[u8]>) -> xdr::OperationBody {
    xdr::OperationBody::ManageData(xdr::ManageDataOp {
        data_name: xdr::String64(name.as_bytes().to_vec().try_into().unwrap()),
        data_value: value.map(|v| xdr::DataValue(v.to_vec().try_into().unwrap())),
    })
}

/// A new ManageSellOffer of `amount` at `n/d` units of `buying` per unit of `selling`.
pub fn sell_offer(selling: &Asset, buying: &Asset, amount: i64, n: i32, d: i32) -> xdr::OperationBody {
    xdr::OperationBody::ManageSellOffer(xdr::ManageSellOfferOp {
        selling: asset_to_xdr(selling),
        buying: asset_to_xdr(buying),
        amount,
        price: xdr::Price { n, d },
        offer_id: 0,
    })
}

/// A transaction from `source` with the next sequence number, the minimum fee, no bounds.
pub fn tx(ledger: &Ledger, source: &Key, ops: Vec<xdr::Operation>) -> xdr::Transaction {
    let seq = ledger.account(&source.id).map_or(1, |a| a.seq_num + 1);
    xdr::Transaction {
        source_account: muxed_to_xdr(&source.id),
        fee: u32::try_from(FEE * ops.len() as i64).unwrap(),
        seq_num: xdr::SequenceNumber(seq),
        cond: xdr::Preconditions::None,
        memo: xdr::Memo::None,
        operations: ops.try_into().unwrap(),
        ext: xdr::TransactionExt::V0,
    }
}

/// The envelope of `tx` for `network`, signed by each of `signers` in order.
pub fn sign_for(network: &Network, tx: xdr::Transaction, signers: &[&Key]) -> Vec<u8> {
    let mut owned: Vec<SeedSigner> = signers.iter().map(|k| signer(k)).collect();
    let mut refs: Vec<&mut dyn Signer> = owned.iter_mut().map(|s| s as &mut dyn Signer).collect();
    stx::sign(tx, network, &mut refs).unwrap().to_xdr()
}
