//! Outputs: everything the engine decides, as rkyv wire types appended to the output journal
//! by the core loop. Replay compares them byte for byte with a fresh engine's, so each output is
//! a pure function of the inputs before it. Intents leave the core for the I/O side (signing and
//! submission); decisions, lifecycle changes, incidents and refusals are the audit trail that
//! says why.

use rkyv::{Archive, Deserialize, Serialize};

use crate::events::{WireAsset, WirePrice};
use crate::one_or_many::OneOrMany;

/// Journal record kinds of outputs (stable; never renumbered).
pub mod kind {
    pub const DECISION: u16 = 101;
    pub const LIFECYCLE: u16 = 102;
    pub const INVALID_TRANSITION: u16 = 103;
    pub const INTENT: u16 = 104;
    pub const INCIDENT: u16 = 105;
    pub const INPUT_REFUSED: u16 = 106;
    pub const CONTROL: u16 = 107;
}

/// Everything the engine emits.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum Output {
    Decision(Decision),
    Lifecycle(LifecycleChange),
    InvalidTransition(InvalidTransitionOut),
    Intent(Intent),
    Incident(IncidentOut),
    InputRefused(InputRefused),
    Control(Control),
}

impl Output {
    pub fn kind(&self) -> u16 {
        match self {
            Output::Decision(_) => kind::DECISION,
            Output::Lifecycle(_) => kind::LIFECYCLE,
            Output::InvalidTransition(_) => kind::INVALID_TRANSITION,
            Output::Intent(_) => kind::INTENT,
            Output::Incident(_) => kind::INCIDENT,
            Output::InputRefused(_) => kind::INPUT_REFUSED,
            Output::Control(_) => kind::CONTROL,
        }
    }
}

/// An order passed the pre-trade checks, or was refused with a reject code.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Decision {
    /// Client order id.
    pub order: u64,
    pub pair: u16,
    /// `risk::Side` code.
    pub side: u8,
    pub amount_stroops: i64,
    pub price: WirePrice,
    /// 0 when accepted; otherwise the `risk::RejectCode`.
    pub reject_code: u16,
}

/// An order moved from one status to another (`lifecycle` codes).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct LifecycleChange {
    pub order: u64,
    pub from: u8,
    pub to: u8,
    pub event: u8,
}

/// An event that did not apply to an order's status; recorded, not fatal.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct InvalidTransitionOut {
    pub order: u64,
    pub from: u8,
    pub event: u8,
}

/// Which Stellar operation an [`OfferOp`] is (stable: journaled).
pub mod op_kind {
    /// ManageSellOffer: sell `amount_stroops` of `selling` at `price` buying per selling. Our
    /// sells, and every cancel (amount 0).
    pub const MANAGE_SELL: u8 = 0;
    /// ManageBuyOffer: buy `amount_stroops` of `buying` at `price` selling per buying. Our buys:
    /// the base amount is what the order asked for, so a buy crossing at a better price on
    /// arrival gets exactly it, for less counter (a sell of counter would get more base than
    /// asked, and the order's remainder would no longer be the offer's).
    pub const MANAGE_BUY: u8 = 1;
}

/// One operation of an intent.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct OfferOp {
    /// The order this operation serves.
    pub order: u64,
    /// An [`op_kind`] code.
    pub kind: u8,
    pub selling: WireAsset,
    pub buying: WireAsset,
    /// Of `selling` to sell ([`op_kind::MANAGE_SELL`]) or of `buying` to buy
    /// ([`op_kind::MANAGE_BUY`]); 0 cancels the offer named by `offer_id`.
    pub amount_stroops: i64,
    /// Buying per selling ([`op_kind::MANAGE_SELL`]); selling per buying ([`op_kind::MANAGE_BUY`]).
    pub price: WirePrice,
    /// 0 creates a new offer; otherwise modifies or cancels that offer.
    pub offer_id: i64,
}

/// Operations the I/O side must sign and submit, in one transaction (one operation inline:
/// emitting a new order's intent allocates nothing).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Intent {
    pub id: u64,
    pub ops: OneOrMany<OfferOp>,
}

/// An incident raised by the security checks, and the response the engine took.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct IncidentOut {
    pub id: u64,
    pub kind: u16,
    pub priority: u8,
    pub response: u8,
    /// End of a cancel-only restriction (0 if none).
    pub until_ns: i64,
}

/// An input the engine could not use (bad snapshot, unknown pair, invalid field).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct InputRefused {
    /// The journal seq of the input.
    pub seq: u64,
    pub reason: u16,
}

/// A change of the engine's controls: halt, resume, limit, level, lockdown, unlock.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Control {
    /// Who caused it: an operator's name, or `engine` for automatic responses.
    pub by: String,
    /// `engine::control` code.
    pub what: u16,
    /// What it applies to (a limit's code for `SET_LIMIT`), else 0.
    pub arg: u16,
    pub value: i64,
}

/// One record of the output journal: an output and the input (by its journal seq) whose
/// application produced it.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct OutputRecord {
    pub input_seq: u64,
    pub output: Output,
}

/// Serialize an output record for the journal.
pub fn to_bytes(record: &OutputRecord) -> Result<rkyv::util::AlignedVec, rkyv::rancor::Error> {
    rkyv::to_bytes::<rkyv::rancor::Error>(record)
}

/// Serialize an output record into a reused buffer (cleared first).
pub fn to_bytes_in(
    record: &OutputRecord,
    mut buf: rkyv::util::AlignedVec,
) -> Result<rkyv::util::AlignedVec, rkyv::rancor::Error> {
    buf.clear();
    rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(record, buf)
}

/// Read an output record in place from journal payload bytes, validating the archive.
pub fn access(bytes: &[u8]) -> Result<&ArchivedOutputRecord, rkyv::rancor::Error> {
    rkyv::access::<ArchivedOutputRecord, rkyv::rancor::Error>(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_round_trip_and_have_stable_kinds() {
        let all = vec![
            Output::Decision(Decision {
                order: 1,
                pair: 0,
                side: 1,
                amount_stroops: 5,
                price: WirePrice { n: 1, d: 2 },
                reject_code: 303,
            }),
            Output::Lifecycle(LifecycleChange { order: 1, from: 1, to: 2, event: 1 }),
            Output::InvalidTransition(InvalidTransitionOut { order: 1, from: 7, event: 1 }),
            Output::Intent(Intent {
                id: 9,
                ops: OneOrMany::one(OfferOp {
                    order: 1,
                    kind: op_kind::MANAGE_BUY,
                    selling: WireAsset { code: [0; 12], issuer: [0; 32] },
                    buying: WireAsset { code: *b"USD\0\0\0\0\0\0\0\0\0", issuer: [5; 32] },
                    amount_stroops: 0,
                    price: WirePrice { n: 1, d: 1 },
                    offer_id: 77,
                }),
            }),
            Output::Incident(IncidentOut { id: 1, kind: 1, priority: 0, response: 0, until_ns: 0 }),
            Output::InputRefused(InputRefused { seq: 12, reason: 2 }),
            Output::Control(Control { by: "alice".into(), what: 1, arg: 0, value: 0 }),
        ];
        let kinds: Vec<u16> = all.iter().map(Output::kind).collect();
        assert_eq!(kinds, (101..=107).collect::<Vec<u16>>());
        let mut buf = rkyv::util::AlignedVec::new();
        for (i, output) in all.into_iter().enumerate() {
            let record = OutputRecord { input_seq: i as u64 + 1, output };
            let bytes = to_bytes(&record).unwrap();
            let back: OutputRecord =
                rkyv::deserialize::<OutputRecord, rkyv::rancor::Error>(access(&bytes).unwrap()).unwrap();
            assert_eq!(back, record);
            buf = to_bytes_in(&record, buf).unwrap();
            assert_eq!(&buf[..], &bytes[..], "the reused buffer gives the same bytes");
        }
    }
}
