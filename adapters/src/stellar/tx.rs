//! Offer transactions: [`build`] a `Transaction` of ManageSellOffer, ManageBuyOffer and
//! CreatePassiveSellOffer operations, [`sign`] it (hash with the network id, one decorated
//! signature per signer), and encode or decode envelopes.
//!
//! The output must be byte-identical to what the official SDKs build from the same inputs:
//! `tests/tx_vectors.rs` checks it against envelopes made by the Python `stellar-sdk`.

use core::fmt;

use starlog_engine::{AccountId, Amount, Asset, OfferRef, Price};
use stellar_xdr::{self as xdr, ReadXdr, WriteXdr};

use super::{Network, asset_to_xdr, decode_limits, hex, muxed_to_xdr, price_to_xdr};
use crate::keys::{KeyError, Signer};

/// Most operations one transaction may carry (stellar-core's `MAX_OPS_PER_TX`).
pub const OPS_PER_TX_MAX: usize = 100;
/// Most signatures one envelope may carry.
pub const SIGNATURES_PER_TX_MAX: usize = 20;
/// Longest envelope accepted for decoding, in bytes (a 100-operation offer transaction with 20
/// signatures is about 12 KiB).
pub const ENVELOPE_BYTES_MAX: usize = 64 * 1024;

/// Which offer operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OfferKind {
    /// Sell `amount` of `selling` at `price` units of buying per unit of selling.
    ManageSell,
    /// Buy `amount` of `buying` at `price` units of selling per unit of buying.
    ManageBuy,
    /// Like `ManageSell`, but does not take offers at exactly its price; always new.
    CreatePassiveSell,
}

/// One offer operation, in the engine's types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferOp {
    pub kind: OfferKind,
    pub selling: Asset,
    pub buying: Asset,
    /// `ManageSell`/`CreatePassiveSell`: amount of `selling` to sell. `ManageBuy`: amount of
    /// `buying` to buy. Zero deletes the offer named by `offer`.
    pub amount: Amount,
    /// As the operation's XDR carries it (see `amount` for the direction).
    pub price: Price,
    /// The offer to update or delete, or a new one. Always new for `CreatePassiveSell`.
    pub offer: OfferRef,
}

/// The transaction-level fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxParams {
    /// The source account: pays the fee, owns the offers, and its sequence number is used.
    pub source: AccountId,
    /// The transaction's sequence number: the account's current one plus one.
    pub sequence: i64,
    /// The transaction's total fee, in stroops (the SDKs' base fee times the operation count).
    pub fee_stroops: u32,
    /// Not valid before this UNIX time (seconds; 0 for no lower bound).
    pub min_time: u64,
    /// Not valid after this UNIX time (seconds). Never 0: starlog builds no transaction that
    /// could sit valid forever.
    pub max_time: u64,
}

/// Why [`build`] refused: each is a transaction stellar-core would reject as malformed, or one
/// starlog will not build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuildError {
    NoOperations,
    TooManyOperations {
        count: usize,
    },
    SequenceNotPositive,
    /// `max_time` is 0 (no upper bound).
    NoMaxTime,
    MaxTimeBeforeMinTime,
    /// Operation `op` sells and buys the same asset.
    SameAsset {
        op: usize,
    },
    /// Operation `op` has amount 0 and no offer id: there is nothing to delete.
    ZeroAmountNewOffer {
        op: usize,
    },
    /// Operation `op` is a passive offer with an offer id (passive offers are always new).
    PassiveWithOfferId {
        op: usize,
    },
    /// Operation `op` is a passive offer with amount 0.
    PassiveZeroAmount {
        op: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BuildError::NoOperations => f.write_str("transaction has no operations"),
            BuildError::TooManyOperations { count } => {
                write!(f, "transaction has {count} operations; at most {OPS_PER_TX_MAX} are allowed")
            }
            BuildError::SequenceNotPositive => f.write_str("sequence must be a positive integer"),
            BuildError::NoMaxTime => f.write_str("max time 0 means no expiry; give a finite --max-time"),
            BuildError::MaxTimeBeforeMinTime => f.write_str("max time is before min time"),
            BuildError::SameAsset { op } => write!(f, "operation {op}: selling and buying are the same asset"),
            BuildError::ZeroAmountNewOffer { op } => {
                write!(f, "operation {op}: amount 0 deletes an offer, but no offer id was given")
            }
            BuildError::PassiveWithOfferId { op } => {
                write!(f, "operation {op}: a passive sell offer is always new; it takes no offer id")
            }
            BuildError::PassiveZeroAmount { op } => write!(f, "operation {op}: a passive sell offer needs an amount"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds the transaction, checking what stellar-core would reject as malformed.
pub fn build(params: &TxParams, ops: &[OfferOp]) -> Result<xdr::Transaction, BuildError> {
    if ops.is_empty() {
        return Err(BuildError::NoOperations);
    }
    if ops.len() > OPS_PER_TX_MAX {
        return Err(BuildError::TooManyOperations { count: ops.len() });
    }
    if params.sequence <= 0 {
        return Err(BuildError::SequenceNotPositive);
    }
    if params.max_time == 0 {
        return Err(BuildError::NoMaxTime);
    }
    if params.max_time < params.min_time {
        return Err(BuildError::MaxTimeBeforeMinTime);
    }
    let mut operations = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        operations.push(operation(index, op)?);
    }
    let operations = operations.try_into().expect("at most OPS_PER_TX_MAX operations");
    Ok(xdr::Transaction {
        source_account: muxed_to_xdr(&params.source),
        fee: params.fee_stroops,
        seq_num: xdr::SequenceNumber(params.sequence),
        cond: xdr::Preconditions::Time(xdr::TimeBounds {
            min_time: xdr::TimePoint(params.min_time),
            max_time: xdr::TimePoint(params.max_time),
        }),
        memo: xdr::Memo::None,
        operations,
        ext: xdr::TransactionExt::V0,
    })
}

fn operation(index: usize, op: &OfferOp) -> Result<xdr::Operation, BuildError> {
    if op.selling == op.buying {
        return Err(BuildError::SameAsset { op: index });
    }
    let (selling, buying, price) = (asset_to_xdr(&op.selling), asset_to_xdr(&op.buying), price_to_xdr(op.price));
    let amount = op.amount.stroops();
    if amount == 0 && op.offer == OfferRef::New && op.kind != OfferKind::CreatePassiveSell {
        return Err(BuildError::ZeroAmountNewOffer { op: index });
    }
    let body = match op.kind {
        OfferKind::ManageSell => xdr::OperationBody::ManageSellOffer(xdr::ManageSellOfferOp {
            selling,
            buying,
            amount,
            price,
            offer_id: op.offer.to_xdr(),
        }),
        OfferKind::ManageBuy => xdr::OperationBody::ManageBuyOffer(xdr::ManageBuyOfferOp {
            selling,
            buying,
            buy_amount: amount,
            price,
            offer_id: op.offer.to_xdr(),
        }),
        OfferKind::CreatePassiveSell => {
            if op.offer != OfferRef::New {
                return Err(BuildError::PassiveWithOfferId { op: index });
            }
            if amount == 0 {
                return Err(BuildError::PassiveZeroAmount { op: index });
            }
            xdr::OperationBody::CreatePassiveSellOffer(xdr::CreatePassiveSellOfferOp { selling, buying, amount, price })
        }
    };
    Ok(xdr::Operation { source_account: None, body })
}

/// The transaction's hash: SHA-256 of the signature payload (network id, envelope type, tx).
pub fn hash(tx: &xdr::Transaction, network: &Network) -> [u8; 32] {
    tx.hash(network.id()).expect("hashing a transaction writes XDR to memory, which cannot fail")
}

/// The hash of the transaction inside any envelope (v0, v1 or fee bump).
pub fn envelope_hash(envelope: &xdr::TransactionEnvelope, network: &Network) -> [u8; 32] {
    envelope.hash(network.id()).expect("hashing a transaction writes XDR to memory, which cannot fail")
}

/// The signature hint: the last 4 bytes of the public key.
pub fn hint(public_key: &AccountId) -> [u8; 4] {
    let key = public_key.as_bytes();
    [key[28], key[29], key[30], key[31]]
}

/// A signature decorated with its key's hint, as envelopes carry it.
pub fn decorated(public_key: &AccountId, signature: [u8; 64]) -> xdr::DecoratedSignature {
    xdr::DecoratedSignature {
        hint: xdr::SignatureHint(hint(public_key)),
        signature: xdr::Signature(signature.to_vec().try_into().expect("64 bytes fit a signature")),
    }
}

/// A signed transaction envelope and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    pub hash: [u8; 32],
    pub envelope: xdr::TransactionEnvelope,
}

impl SignedTx {
    /// The envelope's XDR bytes.
    pub fn to_xdr(&self) -> Vec<u8> {
        self.envelope.to_xdr(xdr::Limits::none()).expect("encoding to memory cannot fail")
    }

    /// The envelope as Horizon's `POST /transactions` takes it (`tx=` form field).
    pub fn to_base64(&self) -> String {
        self.envelope.to_xdr_base64(xdr::Limits::none()).expect("encoding to memory cannot fail")
    }

    /// `{"hash": "<hex>", "envelope_xdr": "<base64>"}`, what `starlog tx` prints.
    pub fn to_json(&self) -> String {
        format!("{{\"hash\": \"{}\", \"envelope_xdr\": \"{}\"}}", hex(&self.hash), self.to_base64())
    }
}

/// Signs `tx` for `network` with each signer in turn, in the order given.
pub fn sign(tx: xdr::Transaction, network: &Network, signers: &mut [&mut dyn Signer]) -> Result<SignedTx, KeyError> {
    assert!(signers.len() <= SIGNATURES_PER_TX_MAX, "at most {SIGNATURES_PER_TX_MAX} signatures");
    let hash = hash(&tx, network);
    let mut signatures = Vec::with_capacity(signers.len());
    for signer in signers.iter_mut() {
        let signature = signer.sign(&hash)?;
        signatures.push(decorated(&signer.public_key(), signature));
    }
    let signatures = signatures.try_into().expect("at most 20 signatures");
    Ok(SignedTx { hash, envelope: xdr::TransactionEnvelope::Tx(xdr::TransactionV1Envelope { tx, signatures }) })
}

/// Why an envelope from outside could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge {
        bytes: usize,
    },
    Base64,
    Xdr(String),
    /// A fee-bump or legacy v0 envelope where a plain v1 transaction was expected.
    NotV1,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { bytes } => {
                write!(f, "envelope of {bytes} bytes is larger than the {ENVELOPE_BYTES_MAX}-byte limit")
            }
            DecodeError::Base64 => f.write_str("envelope is not valid base64"),
            DecodeError::Xdr(why) => write!(f, "envelope is not valid XDR: {why}"),
            DecodeError::NotV1 => f.write_str("envelope is not a v1 transaction envelope"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes envelope XDR bytes from an untrusted source, within [`ENVELOPE_BYTES_MAX`].
pub fn decode_envelope(bytes: &[u8]) -> Result<xdr::TransactionEnvelope, DecodeError> {
    if bytes.len() > ENVELOPE_BYTES_MAX {
        return Err(DecodeError::TooLarge { bytes: bytes.len() });
    }
    xdr::TransactionEnvelope::from_xdr(bytes, decode_limits(bytes.len())).map_err(|e| DecodeError::Xdr(e.to_string()))
}

/// Decodes a base64 envelope (as Horizon and the SDKs write it) from an untrusted source.
pub fn decode_envelope_base64(text: &str) -> Result<xdr::TransactionEnvelope, DecodeError> {
    use base64::Engine as _;
    if text.len() > ENVELOPE_BYTES_MAX * 4 / 3 + 4 {
        return Err(DecodeError::TooLarge { bytes: text.len() * 3 / 4 });
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| DecodeError::Base64)?;
    decode_envelope(&bytes)
}

/// The v1 transaction inside an envelope, or [`DecodeError::NotV1`].
pub fn v1_transaction(envelope: &xdr::TransactionEnvelope) -> Result<&xdr::TransactionV1Envelope, DecodeError> {
    match envelope {
        xdr::TransactionEnvelope::Tx(v1) => Ok(v1),
        xdr::TransactionEnvelope::TxV0(_) | xdr::TransactionEnvelope::TxFeeBump(_) => Err(DecodeError::NotV1),
    }
}

/// How `account` takes part in a transaction as a source, the roles its key must sign for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sourced {
    /// The transaction's source (its sequence number and, without a fee bump, its fee).
    pub transaction: bool,
    /// An operation's source, or a fee bump's fee source.
    pub other: bool,
}

/// Where `account` is a source in `envelope` (v0, v1 or fee bump; muxed ids count as the
/// account they wrap).
pub fn sourced_by(envelope: &xdr::TransactionEnvelope, account: &AccountId) -> Sourced {
    let ours = |muxed: &xdr::MuxedAccount| super::muxed_from_xdr(muxed) == *account;
    let ops_ours = |ops: &[xdr::Operation]| ops.iter().any(|op| op.source_account.as_ref().is_some_and(ours));
    let inner = |v1: &xdr::TransactionV1Envelope| Sourced {
        transaction: ours(&v1.tx.source_account),
        other: ops_ours(&v1.tx.operations),
    };
    match envelope {
        xdr::TransactionEnvelope::Tx(v1) => inner(v1),
        xdr::TransactionEnvelope::TxV0(v0) => Sourced {
            transaction: AccountId::from_bytes(v0.tx.source_account_ed25519.0) == *account,
            other: ops_ours(&v0.tx.operations),
        },
        xdr::TransactionEnvelope::TxFeeBump(bump) => {
            let xdr::FeeBumpTransactionInnerTx::Tx(v1) = &bump.tx.inner_tx;
            let sourced = inner(v1);
            Sourced { other: sourced.other || ours(&bump.tx.fee_source), ..sourced }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Seed, SeedSigner, StoreKind};

    #[test]
    fn sourced_by_finds_the_account_as_transaction_operation_and_fee_source() {
        let (us, them) = (AccountId::from_bytes([1; 32]), AccountId::from_bytes([2; 32]));
        let mut tx = build(&params(them), &[op(OfferKind::ManageSell), op(OfferKind::ManageSell)]).unwrap();
        let v1 = |tx: &xdr::Transaction| {
            xdr::TransactionEnvelope::Tx(xdr::TransactionV1Envelope { tx: tx.clone(), signatures: Default::default() })
        };
        assert_eq!(sourced_by(&v1(&tx), &us), Sourced::default(), "theirs alone");
        assert_eq!(sourced_by(&v1(&tx), &them), Sourced { transaction: true, other: false });
        let with_op_source = |tx: &mut xdr::Transaction, source: Option<xdr::MuxedAccount>| {
            let mut ops = tx.operations.to_vec();
            ops[1].source_account = source;
            tx.operations = ops.try_into().unwrap();
        };
        with_op_source(&mut tx, Some(muxed_to_xdr(&us)));
        assert_eq!(sourced_by(&v1(&tx), &us), Sourced { transaction: false, other: true }, "one operation of ours");
        let bump = |fee_source: &AccountId, tx: &xdr::Transaction| {
            let xdr::TransactionEnvelope::Tx(inner) = v1(tx) else { unreachable!() };
            xdr::TransactionEnvelope::TxFeeBump(xdr::FeeBumpTransactionEnvelope {
                tx: xdr::FeeBumpTransaction {
                    fee_source: muxed_to_xdr(fee_source),
                    fee: 400,
                    inner_tx: xdr::FeeBumpTransactionInnerTx::Tx(inner),
                    ext: xdr::FeeBumpTransactionExt::V0,
                },
                signatures: Default::default(),
            })
        };
        with_op_source(&mut tx, None);
        assert_eq!(sourced_by(&bump(&us, &tx), &us), Sourced { transaction: false, other: true }, "our fees");
        assert_eq!(sourced_by(&bump(&them, &tx), &us), Sourced::default());
    }

    fn params(source: AccountId) -> TxParams {
        TxParams { source, sequence: 5, fee_stroops: 100, min_time: 0, max_time: 1_700_000_000 }
    }

    fn op(kind: OfferKind) -> OfferOp {
        OfferOp {
            kind,
            selling: Asset::Native,
            buying: "USD:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN".parse().unwrap(),
            amount: Amount::from_units(10).unwrap(),
            price: "0.25".parse().unwrap(),
            offer: OfferRef::New,
        }
    }

    #[test]
    fn builds_reject_what_core_would() {
        let p = params(AccountId::from_bytes([1; 32]));
        assert_eq!(build(&p, &[]), Err(BuildError::NoOperations));
        assert_eq!(build(&p, &vec![op(OfferKind::ManageSell); 101]), Err(BuildError::TooManyOperations { count: 101 }));
        assert_eq!(build(&p, &vec![op(OfferKind::ManageSell); 100]).unwrap().operations.len(), 100);
        assert_eq!(build(&TxParams { max_time: 0, ..p }, &[op(OfferKind::ManageSell)]), Err(BuildError::NoMaxTime));
        assert_eq!(
            build(&TxParams { sequence: 0, ..p }, &[op(OfferKind::ManageBuy)]),
            Err(BuildError::SequenceNotPositive)
        );
        let mut same = op(OfferKind::ManageSell);
        same.buying = Asset::Native;
        assert_eq!(build(&p, &[op(OfferKind::ManageSell), same]), Err(BuildError::SameAsset { op: 1 }));
        let mut zero = op(OfferKind::ManageBuy);
        zero.amount = Amount::ZERO;
        assert_eq!(build(&p, &[zero]), Err(BuildError::ZeroAmountNewOffer { op: 0 }));
        let mut passive = op(OfferKind::CreatePassiveSell);
        passive.offer = "7".parse().unwrap();
        assert_eq!(build(&p, &[passive]), Err(BuildError::PassiveWithOfferId { op: 0 }));
    }

    #[test]
    fn signed_envelopes_decode_and_verify() {
        let seed = Seed::from_bytes([3; 32]);
        let mut a = SeedSigner::new(&seed, StoreKind::Env, "env:A".into());
        let mut b = SeedSigner::new(&Seed::from_bytes([4; 32]), StoreKind::Env, "env:B".into());
        let network = Network::parse("testnet").unwrap();
        let tx =
            build(&params(seed.public_key()), &[op(OfferKind::ManageSell), op(OfferKind::CreatePassiveSell)]).unwrap();
        let signed = sign(tx.clone(), &network, &mut [&mut a, &mut b]).unwrap();
        let decoded = decode_envelope_base64(&signed.to_base64()).unwrap();
        assert_eq!(decoded, signed.envelope);
        let v1 = v1_transaction(&decoded).unwrap();
        assert_eq!(v1.tx, tx);
        assert_eq!(v1.signatures.len(), 2);
        for (sig, signer) in v1.signatures.iter().zip([a.public_key(), b.public_key()]) {
            assert_eq!(sig.hint.0, hint(&signer));
            let bytes: [u8; 64] = sig.signature.0.as_slice().try_into().unwrap();
            assert!(crate::keys::verify(&signer, &signed.hash, &bytes));
        }
        // A different network gives a different hash: signatures do not replay across networks.
        assert_ne!(hash(&tx, &Network::parse("public").unwrap()), signed.hash);
    }

    #[test]
    fn hostile_envelopes_are_errors() {
        assert_eq!(decode_envelope_base64("not base64!"), Err(DecodeError::Base64));
        assert!(matches!(decode_envelope(&[0, 0, 0, 2, 0xff]), Err(DecodeError::Xdr(_))));
        assert!(matches!(decode_envelope(&vec![0; ENVELOPE_BYTES_MAX + 1]), Err(DecodeError::TooLarge { .. })));
    }
}
