//! Reading a `TransactionResult` (Horizon's `result_xdr`): whether the transaction applied, the
//! fee charged, and per offer operation the offers it crossed (claim atoms, order book and
//! liquidity pool) and what became of its own offer (created, updated, deleted, with its id).
//!
//! The output is the engine's own event types ([`OpResult`], [`Claim`]), so a result from
//! Horizon or the simulator becomes a `TxSucceeded`/`TxFailed` input without another mapping.
//! Fee-bump results are read through to the inner transaction's.
//!
//! Operation codes of a failed transaction are the XDR codes of each operation's own result
//! (`ManageSellOfferResultCode` etc.; 0 for an operation that succeeded). An operation that
//! failed before its own code was reached (`OperationResultCode`: `opBAD_AUTH`, `opNO_ACCOUNT`,
//! …) is reported as [`OP_OUTER_CODE_BASE`] plus that code, e.g. `opBAD_AUTH` (-1) as -1001,
//! so the two code spaces never collide.

use core::fmt;

use starlog_engine::events::{Claim, OfferEffect, OpResult, WireAsset};
use stellar_xdr::{self as xdr, ReadXdr, WriteXdr};

use super::{asset_from_xdr, decode_limits};

/// Offset added to an `OperationResultCode` (all negative) in `op_codes`.
pub const OP_OUTER_CODE_BASE: i32 = -1000;
/// Longest result XDR accepted, in bytes (100 operations each crossing many offers fit easily).
pub const RESULT_BYTES_MAX: usize = 1 << 20;

/// What a transaction result says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Applied: one [`OpResult`] per operation, in order.
    Success { fee_charged_stroops: i64, ops: Vec<OpResult> },
    /// Not applied. `tx_code` is the XDR `TransactionResultCode` (e.g. -1 `txFAILED`, -5
    /// `txBAD_SEQ`); `op_codes` has one code per operation when `tx_code` is `txFAILED`.
    Failed { fee_charged_stroops: i64, tx_code: i32, op_codes: Vec<i32> },
}

/// A result that cannot be read: not XDR, or a successful operation that is not an offer
/// operation (starlog only submits offer operations, so that is someone else's transaction).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultError {
    TooLarge {
        bytes: usize,
    },
    Base64,
    Xdr(String),
    /// Operation `op` succeeded but is not ManageSellOffer, ManageBuyOffer or CreatePassiveSellOffer.
    NotAnOfferOperation {
        op: usize,
    },
    /// An asset or price inside the result is not canonical.
    Malformed {
        op: usize,
    },
}

impl fmt::Display for ResultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultError::TooLarge { bytes } => {
                write!(f, "transaction result of {bytes} bytes is larger than the {RESULT_BYTES_MAX}-byte limit")
            }
            ResultError::Base64 => f.write_str("transaction result is not valid base64"),
            ResultError::Xdr(why) => write!(f, "transaction result is not valid XDR: {why}"),
            ResultError::NotAnOfferOperation { op } => {
                write!(f, "transaction result: operation {op} is not an offer operation")
            }
            ResultError::Malformed { op } => write!(f, "transaction result: operation {op} has a malformed asset"),
        }
    }
}

impl std::error::Error for ResultError {}

/// Reads a `TransactionResult` from XDR bytes of an untrusted source.
pub fn parse(bytes: &[u8]) -> Result<TxOutcome, ResultError> {
    if bytes.len() > RESULT_BYTES_MAX {
        return Err(ResultError::TooLarge { bytes: bytes.len() });
    }
    let result = xdr::TransactionResult::from_xdr(bytes, decode_limits(bytes.len()))
        .map_err(|e| ResultError::Xdr(e.to_string()))?;
    outcome(&result)
}

/// Reads a base64 `TransactionResult` (Horizon's `result_xdr`).
pub fn parse_base64(text: &str) -> Result<TxOutcome, ResultError> {
    use base64::Engine as _;
    if text.len() > RESULT_BYTES_MAX / 3 * 4 + 4 {
        return Err(ResultError::TooLarge { bytes: text.len() / 4 * 3 });
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| ResultError::Base64)?;
    parse(&bytes)
}

/// The outcome of a decoded result.
pub fn outcome(result: &xdr::TransactionResult) -> Result<TxOutcome, ResultError> {
    use xdr::TransactionResultResult as R;
    let fee = result.fee_charged;
    match &result.result {
        R::TxSuccess(ops) => success(fee, ops),
        R::TxFailed(ops) => Ok(failed(fee, -1, ops)),
        R::TxFeeBumpInnerSuccess(pair) | R::TxFeeBumpInnerFailed(pair) => {
            use xdr::InnerTransactionResultResult as I;
            match &pair.result.result {
                I::TxSuccess(ops) => success(fee, ops),
                I::TxFailed(ops) => Ok(failed(fee, -1, ops)),
                other => Ok(TxOutcome::Failed {
                    fee_charged_stroops: fee,
                    tx_code: other.discriminant() as i32,
                    op_codes: Vec::new(),
                }),
            }
        }
        other => Ok(TxOutcome::Failed {
            fee_charged_stroops: fee,
            tx_code: other.discriminant() as i32,
            op_codes: Vec::new(),
        }),
    }
}

fn success(fee: i64, ops: &[xdr::OperationResult]) -> Result<TxOutcome, ResultError> {
    let mut out = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let success = match op {
            xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageSellOffer(
                xdr::ManageSellOfferResult::Success(s),
            ))
            | xdr::OperationResult::OpInner(xdr::OperationResultTr::CreatePassiveSellOffer(
                xdr::ManageSellOfferResult::Success(s),
            ))
            | xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageBuyOffer(
                xdr::ManageBuyOfferResult::Success(s),
            )) => s,
            _ => return Err(ResultError::NotAnOfferOperation { op: index }),
        };
        out.push(offer_result(index, success)?);
    }
    Ok(TxOutcome::Success { fee_charged_stroops: fee, ops: out })
}

fn offer_result(index: usize, success: &xdr::ManageOfferSuccessResult) -> Result<OpResult, ResultError> {
    let malformed = |_| ResultError::Malformed { op: index };
    let asset = |a: &xdr::Asset| asset_from_xdr(a).map(WireAsset::from).map_err(malformed);
    let mut claims = Vec::with_capacity(success.offers_claimed.len());
    for atom in success.offers_claimed.iter() {
        claims.push(match atom {
            xdr::ClaimAtom::V0(c) => Claim {
                seller: c.seller_ed25519.0,
                offer_id: c.offer_id,
                asset_sold: asset(&c.asset_sold)?,
                amount_sold_stroops: c.amount_sold,
                asset_bought: asset(&c.asset_bought)?,
                amount_bought_stroops: c.amount_bought,
            },
            xdr::ClaimAtom::OrderBook(c) => Claim {
                seller: *super::account_from_xdr(&c.seller_id).as_bytes(),
                offer_id: c.offer_id,
                asset_sold: asset(&c.asset_sold)?,
                amount_sold_stroops: c.amount_sold,
                asset_bought: asset(&c.asset_bought)?,
                amount_bought_stroops: c.amount_bought,
            },
            // A pool has no seller account and no offer id: both are zero.
            xdr::ClaimAtom::LiquidityPool(c) => Claim {
                seller: [0; 32],
                offer_id: 0,
                asset_sold: asset(&c.asset_sold)?,
                amount_sold_stroops: c.amount_sold,
                asset_bought: asset(&c.asset_bought)?,
                amount_bought_stroops: c.amount_bought,
            },
        });
    }
    let (effect, offer_id, remaining_stroops) = match &success.offer {
        xdr::ManageOfferSuccessResultOffer::Created(o) => (OfferEffect::Created, o.offer_id, o.amount),
        xdr::ManageOfferSuccessResultOffer::Updated(o) => (OfferEffect::Updated, o.offer_id, o.amount),
        xdr::ManageOfferSuccessResultOffer::Deleted => (OfferEffect::Deleted, 0, 0),
    };
    Ok(OpResult { effect, offer_id, remaining_stroops, claims })
}

fn failed(fee: i64, tx_code: i32, ops: &[xdr::OperationResult]) -> TxOutcome {
    TxOutcome::Failed { fee_charged_stroops: fee, tx_code, op_codes: ops.iter().map(op_code).collect() }
}

/// The code of one operation's result (see the module doc).
pub fn op_code(op: &xdr::OperationResult) -> i32 {
    match op {
        xdr::OperationResult::OpInner(tr) => match tr {
            xdr::OperationResultTr::ManageSellOffer(r) | xdr::OperationResultTr::CreatePassiveSellOffer(r) => {
                r.discriminant() as i32
            }
            xdr::OperationResultTr::ManageBuyOffer(r) => r.discriminant() as i32,
            // Every operation's result is a union switched on its int32 code: encoded, `tr` is
            // the operation type (4 bytes) followed by that code.
            other => {
                let bytes = other.to_xdr(xdr::Limits::none()).expect("encoding to memory cannot fail");
                bytes.get(4..8).map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            }
        },
        outer => OP_OUTER_CODE_BASE + outer.discriminant() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_results_are_errors() {
        assert_eq!(parse_base64("%%%"), Err(ResultError::Base64));
        assert!(matches!(parse(&[0; 3]), Err(ResultError::Xdr(_))));
        assert!(matches!(parse(&vec![0; RESULT_BYTES_MAX + 1]), Err(ResultError::TooLarge { .. })));
    }

    #[test]
    fn pool_claims_and_updated_offers_read_through_xdr() {
        let usd = xdr::Asset::CreditAlphanum4(xdr::AlphaNum4 {
            asset_code: xdr::AssetCode4(*b"USD\0"),
            issuer: super::super::account_to_xdr(&starlog_engine::AccountId::from_bytes([5; 32])),
        });
        let offer = xdr::OfferEntry {
            seller_id: super::super::account_to_xdr(&starlog_engine::AccountId::from_bytes([6; 32])),
            offer_id: 77,
            selling: xdr::Asset::Native,
            buying: usd.clone(),
            amount: 1_234,
            price: xdr::Price { n: 1, d: 4 },
            flags: 0,
            ext: xdr::OfferEntryExt::V0,
        };
        let success = xdr::ManageOfferSuccessResult {
            offers_claimed: vec![xdr::ClaimAtom::LiquidityPool(xdr::ClaimLiquidityAtom {
                liquidity_pool_id: xdr::PoolId(xdr::Hash([9; 32])),
                asset_sold: usd,
                amount_sold: 250,
                asset_bought: xdr::Asset::Native,
                amount_bought: 1_000,
            })]
            .try_into()
            .unwrap(),
            offer: xdr::ManageOfferSuccessResultOffer::Updated(offer),
        };
        let result = xdr::TransactionResult {
            fee_charged: 300,
            result: xdr::TransactionResultResult::TxSuccess(
                vec![xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageBuyOffer(
                    xdr::ManageBuyOfferResult::Success(success),
                ))]
                .try_into()
                .unwrap(),
            ),
            ext: xdr::TransactionResultExt::V0,
        };
        let bytes = result.to_xdr(xdr::Limits::none()).unwrap();
        let TxOutcome::Success { fee_charged_stroops, ops } = parse(&bytes).unwrap() else { panic!() };
        assert_eq!(fee_charged_stroops, 300);
        assert_eq!((ops[0].effect, ops[0].offer_id, ops[0].remaining_stroops), (OfferEffect::Updated, 77, 1_234));
        let claim = ops[0].claims[0];
        assert_eq!((claim.seller, claim.offer_id), ([0; 32], 0));
        assert_eq!((claim.amount_sold_stroops, claim.amount_bought_stroops), (250, 1_000));
        // A transaction of other operations is not ours to read as offers.
        let payment = xdr::TransactionResult {
            fee_charged: 100,
            result: xdr::TransactionResultResult::TxSuccess(
                vec![xdr::OperationResult::OpInner(xdr::OperationResultTr::Payment(xdr::PaymentResult::Success))]
                    .try_into()
                    .unwrap(),
            ),
            ext: xdr::TransactionResultExt::V0,
        };
        let bytes = payment.to_xdr(xdr::Limits::none()).unwrap();
        assert_eq!(parse(&bytes), Err(ResultError::NotAnOfferOperation { op: 0 }));
    }

    #[test]
    fn outer_codes_do_not_collide_with_inner_ones() {
        assert_eq!(op_code(&xdr::OperationResult::OpBadAuth), -1001);
        assert_eq!(op_code(&xdr::OperationResult::OpNoAccount), -1002);
        let underfunded = xdr::OperationResult::OpInner(xdr::OperationResultTr::ManageSellOffer(
            xdr::ManageSellOfferResult::Underfunded,
        ));
        assert_eq!(op_code(&underfunded), -7);
        let payment = xdr::OperationResult::OpInner(xdr::OperationResultTr::Payment(xdr::PaymentResult::Underfunded));
        assert_eq!(op_code(&payment), -2);
    }
}
