//! The order lifecycle: every status an order can be in, every event that moves it, and the one
//! `match (status, event)` table that says where each event takes each status. An event that
//! does not apply is an [`InvalidTransition`] the engine records; it is never a panic.
//!
//! Stellar specifics the table encodes:
//! - An order reaches the venue inside a transaction; the transaction's result says whether the
//!   offer rests (`Created`), was filled completely on arrival (`Deleted` with claims), or
//!   partially filled and rests (`Created` with claims).
//! - Trades can be seen (order-book and trades streams) before the transaction result arrives:
//!   fills are accepted while the order is still `Submitted`.
//! - A cancel is itself a transaction (ManageOffer with amount 0): the offer may fill before it
//!   lands, so a fill during `PendingCancel` is normal, and a cancel that fails because the offer
//!   is gone (`op_offer_not_found`) after the order filled is not an error.
//! - A submission whose transaction's time bounds passed without inclusion is `Expired`.

use core::fmt;

/// Where an order is. The discriminants are stable (they appear in journals and reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum OrderStatus {
    /// Accepted by the engine's checks; its transaction is not yet sent.
    PendingSubmit = 1,
    /// Its transaction was sent; no result yet.
    Submitted = 2,
    /// Resting on the book with nothing filled.
    Open = 3,
    /// Resting on the book, partly filled.
    PartiallyFilled = 4,
    /// A cancel was sent; the offer may still fill until it lands.
    PendingCancel = 5,
    /// A modification (new amount or price) was sent.
    PendingReplace = 6,
    /// Terminal: everything filled.
    Filled = 7,
    /// Terminal: removed from the book before it filled completely.
    Cancelled = 8,
    /// Terminal: refused by the engine or by the network.
    Rejected = 9,
    /// Terminal: its transaction's time bounds passed without inclusion.
    Expired = 10,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 10] = [
        OrderStatus::PendingSubmit,
        OrderStatus::Submitted,
        OrderStatus::Open,
        OrderStatus::PartiallyFilled,
        OrderStatus::PendingCancel,
        OrderStatus::PendingReplace,
        OrderStatus::Filled,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
        OrderStatus::Expired,
    ];

    /// No event moves an order out of a terminal status.
    pub const fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected | OrderStatus::Expired)
    }

    /// Resting on the venue's book (or possibly so: a cancel or replace is in flight).
    pub const fn is_on_book(self) -> bool {
        matches!(
            self,
            OrderStatus::Open | OrderStatus::PartiallyFilled | OrderStatus::PendingCancel | OrderStatus::PendingReplace
        )
    }

    /// The status with wire code `code` (as in lifecycle outputs), if there is one.
    pub const fn from_code(code: u8) -> Option<OrderStatus> {
        Some(match code {
            1 => OrderStatus::PendingSubmit,
            2 => OrderStatus::Submitted,
            3 => OrderStatus::Open,
            4 => OrderStatus::PartiallyFilled,
            5 => OrderStatus::PendingCancel,
            6 => OrderStatus::PendingReplace,
            7 => OrderStatus::Filled,
            8 => OrderStatus::Cancelled,
            9 => OrderStatus::Rejected,
            10 => OrderStatus::Expired,
            _ => return None,
        })
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingSubmit => "pending_submit",
            OrderStatus::Submitted => "submitted",
            OrderStatus::Open => "open",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::PendingCancel => "pending_cancel",
            OrderStatus::PendingReplace => "pending_replace",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an order. Fill events say whether the order is now completely filled; the
/// engine computes that from amounts before it asks the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum OrderEvent {
    /// Its transaction was handed to the submitter.
    Submit = 1,
    /// Refused: by a pre-trade check (before submit) or by the network (transaction failed).
    Reject = 2,
    /// The transaction succeeded and the offer rests with nothing filled.
    AcceptResting = 3,
    /// The transaction succeeded; part filled on arrival, the rest rests.
    AcceptPartiallyFilled = 4,
    /// The transaction succeeded; filled completely on arrival (offer `Deleted`).
    AcceptFilled = 5,
    /// A trade against the offer; it still has an unfilled remainder.
    PartialFill = 6,
    /// A trade against the offer that filled its remainder.
    FinalFill = 7,
    /// A cancel was sent.
    CancelRequest = 8,
    /// The cancel landed: the offer is gone.
    Cancelled = 9,
    /// The cancel failed (e.g. `op_offer_not_found`).
    CancelReject = 10,
    /// A modification was sent.
    ReplaceRequest = 11,
    /// The modification landed; the offer rests with its new terms.
    Replaced = 12,
    /// The modification failed; the old terms stand.
    ReplaceReject = 13,
    /// The submission's time bounds passed without inclusion.
    Expire = 14,
}

/// An event that does not apply to the order's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: OrderStatus,
    pub event: OrderEvent,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order event {:?} does not apply to an order that is {}", self.event, self.from)
    }
}

impl std::error::Error for InvalidTransition {}

/// Where `event` takes an order that is `from`. `resting` is the status the order had before a
/// cancel or replace was requested (`Open` or `PartiallyFilled`), to which a failed cancel or
/// replace returns (as `PartiallyFilled` if it filled in the meantime); `filled_any` says
/// whether anything has filled, which decides between `Open` and `PartiallyFilled` after a
/// replace lands.
pub fn transition(
    from: OrderStatus,
    event: OrderEvent,
    resting: OrderStatus,
    filled_any: bool,
) -> Result<OrderStatus, InvalidTransition> {
    use OrderEvent as E;
    use OrderStatus as S;
    debug_assert!(matches!(resting, S::Open | S::PartiallyFilled), "an order rests as open or partially filled");
    let after_replace = if filled_any { S::PartiallyFilled } else { S::Open };
    // A failed cancel or replace returns the order to the book as it rested — unless it filled
    // while the request was in flight (found by the reference model's differential test).
    let back = if filled_any { S::PartiallyFilled } else { resting };
    let to = match (from, event) {
        (S::PendingSubmit, E::Submit) => S::Submitted,
        (S::PendingSubmit, E::Reject) => S::Rejected,

        (S::Submitted, E::AcceptResting) => S::Open,
        (S::Submitted, E::AcceptPartiallyFilled) => S::PartiallyFilled,
        (S::Submitted, E::AcceptFilled) => S::Filled,
        (S::Submitted, E::Reject) => S::Rejected,
        (S::Submitted, E::Expire) => S::Expired,
        // Trades can be streamed before the transaction result arrives.
        (S::Submitted, E::PartialFill) => S::PartiallyFilled,
        (S::Submitted, E::FinalFill) => S::Filled,

        // The result of a submission whose fills were already seen.
        (S::PartiallyFilled, E::AcceptResting | E::AcceptPartiallyFilled) => S::PartiallyFilled,
        (S::Filled, E::AcceptFilled | E::AcceptPartiallyFilled) => S::Filled,

        (S::Open | S::PartiallyFilled, E::PartialFill) => S::PartiallyFilled,
        (S::Open | S::PartiallyFilled, E::FinalFill) => S::Filled,
        (S::Open | S::PartiallyFilled, E::CancelRequest) => S::PendingCancel,
        (S::Open | S::PartiallyFilled, E::ReplaceRequest) => S::PendingReplace,

        (S::PendingCancel, E::PartialFill) => S::PendingCancel,
        (S::PendingCancel, E::FinalFill) => S::Filled,
        (S::PendingCancel, E::Cancelled) => S::Cancelled,
        (S::PendingCancel, E::CancelReject) => back,

        (S::PendingReplace, E::PartialFill) => S::PendingReplace,
        (S::PendingReplace, E::FinalFill) => S::Filled,
        (S::PendingReplace, E::Replaced) => after_replace,
        (S::PendingReplace, E::ReplaceReject) => back,

        // The race every SDEX client meets: the offer filled before the cancel landed, so the
        // cancel fails with op_offer_not_found. The order stays filled.
        (S::Filled, E::CancelReject | E::ReplaceReject) => S::Filled,
        // Its other side: the offer filled in part before the cancel landed, and the trade is
        // reported after the cancel's result. The order stays cancelled, with that fill.
        (S::Cancelled, E::PartialFill) => S::Cancelled,

        (from, event) => return Err(InvalidTransition { from, event }),
    };
    debug_assert!(!from.is_terminal() || to == from, "terminal statuses never change");
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderEvent as E;
    use OrderStatus as S;

    const EVENTS: [OrderEvent; 14] = [
        E::Submit,
        E::Reject,
        E::AcceptResting,
        E::AcceptPartiallyFilled,
        E::AcceptFilled,
        E::PartialFill,
        E::FinalFill,
        E::CancelRequest,
        E::Cancelled,
        E::CancelReject,
        E::ReplaceRequest,
        E::Replaced,
        E::ReplaceReject,
        E::Expire,
    ];

    fn go(path: &[OrderEvent]) -> Result<OrderStatus, InvalidTransition> {
        let mut s = S::PendingSubmit;
        let mut resting = S::Open;
        let mut filled = false;
        for &e in path {
            if matches!(e, E::CancelRequest | E::ReplaceRequest) {
                resting = s;
            }
            s = transition(s, e, resting, filled)?;
            filled |= matches!(e, E::PartialFill | E::FinalFill | E::AcceptPartiallyFilled | E::AcceptFilled);
        }
        Ok(s)
    }

    #[test]
    fn the_usual_paths() {
        assert_eq!(go(&[E::Submit, E::AcceptResting, E::PartialFill, E::FinalFill]), Ok(S::Filled));
        assert_eq!(go(&[E::Submit, E::AcceptFilled]), Ok(S::Filled));
        assert_eq!(go(&[E::Submit, E::AcceptPartiallyFilled, E::CancelRequest, E::Cancelled]), Ok(S::Cancelled));
        assert_eq!(go(&[E::Reject]), Ok(S::Rejected));
        assert_eq!(go(&[E::Submit, E::Reject]), Ok(S::Rejected));
        assert_eq!(go(&[E::Submit, E::Expire]), Ok(S::Expired));
        assert_eq!(go(&[E::Submit, E::AcceptResting, E::ReplaceRequest, E::Replaced]), Ok(S::Open));
        assert_eq!(
            go(&[E::Submit, E::AcceptResting, E::PartialFill, E::ReplaceRequest, E::Replaced]),
            Ok(S::PartiallyFilled)
        );
    }

    #[test]
    fn fills_before_the_submit_ack() {
        assert_eq!(go(&[E::Submit, E::PartialFill, E::AcceptPartiallyFilled]), Ok(S::PartiallyFilled));
        assert_eq!(go(&[E::Submit, E::FinalFill, E::AcceptFilled]), Ok(S::Filled));
        assert_eq!(go(&[E::Submit, E::PartialFill, E::AcceptResting, E::FinalFill]), Ok(S::Filled));
    }

    #[test]
    fn cancel_of_an_offer_that_already_filled() {
        assert_eq!(go(&[E::Submit, E::AcceptResting, E::CancelRequest, E::FinalFill, E::CancelReject]), Ok(S::Filled));
        assert_eq!(
            go(&[E::Submit, E::AcceptResting, E::CancelRequest, E::PartialFill, E::Cancelled]),
            Ok(S::Cancelled)
        );
        // A cancel that fails for another reason returns the order to where it rested.
        assert_eq!(
            go(&[E::Submit, E::AcceptPartiallyFilled, E::CancelRequest, E::CancelReject]),
            Ok(S::PartiallyFilled)
        );
        assert_eq!(go(&[E::Submit, E::AcceptResting, E::ReplaceRequest, E::ReplaceReject]), Ok(S::Open));
        // Filled in part while the request was in flight: back as partially filled.
        assert_eq!(
            go(&[E::Submit, E::AcceptResting, E::CancelRequest, E::PartialFill, E::CancelReject]),
            Ok(S::PartiallyFilled)
        );
        assert_eq!(
            go(&[E::Submit, E::AcceptResting, E::ReplaceRequest, E::PartialFill, E::ReplaceReject]),
            Ok(S::PartiallyFilled)
        );
    }

    #[test]
    fn invalid_transitions_are_errors_not_panics() {
        let e = go(&[E::Submit, E::AcceptResting, E::Submit]).unwrap_err();
        assert_eq!(e, InvalidTransition { from: S::Open, event: E::Submit });
        assert_eq!(e.to_string(), "order event Submit does not apply to an order that is open");
        assert!(go(&[E::Cancelled]).is_err());
        assert!(go(&[E::Submit, E::AcceptResting, E::Cancelled]).is_err(), "cancelled without a request");
    }

    #[test]
    fn terminal_statuses_never_change_and_every_pair_is_decided() {
        for from in S::ALL {
            for event in EVENTS {
                for resting in [S::Open, S::PartiallyFilled] {
                    for filled in [false, true] {
                        match transition(from, event, resting, filled) {
                            Ok(to) if from.is_terminal() => assert_eq!(to, from, "{from} --{event:?}-->"),
                            Ok(to) => assert!(to != S::PendingSubmit, "{from} --{event:?}--> {to}"),
                            Err(e) => assert_eq!((e.from, e.event), (from, event)),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn statuses_have_stable_codes_and_names() {
        let codes: Vec<u8> = S::ALL.iter().map(|&s| s as u8).collect();
        assert_eq!(codes, (1..=10).collect::<Vec<u8>>());
        assert_eq!(S::PartiallyFilled.to_string(), "partially_filled");
        assert!(S::PendingCancel.is_on_book() && !S::Submitted.is_on_book() && S::Expired.is_terminal());
    }
}
