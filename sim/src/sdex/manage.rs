//! ManageSellOffer, ManageBuyOffer and CreatePassiveSellOffer, as stellar-core's
//! `ManageOfferOpFrameBase::doApply` applies them (protocol ≥ 15): validity checks, trustline
//! checks, the old offer's release, the reserve, the liabilities checks, crossing the book
//! (`convertWithOffers` / `crossOfferV10`), the taker's transfers and the fate of its own offer.
//!
//! On failure nothing changes: every change made to the [`Book`] and through [`Accounts`] is
//! undone (the inverse calls, in reverse order) before the error is returned.

use starlog_engine::{AccountId, Asset, Price};

use super::book::Book;
use super::exchange::{Rounding, adjust_offer, buy_offer_liabilities, exchange_v10, offer_liabilities};
use super::{Accounts, Fill, OFFERS_CROSSED_MAX, Offer, OfferEffect, OfferFailure, OfferOp, OfferOpKind, OfferSuccess};

/// One change to undo if the operation fails.
#[derive(Debug)]
enum Undo {
    Transfer(AccountId, Asset, i64),
    Liabilities(AccountId, Asset, i64, i64),
    Subentries(AccountId, i32),
    BookInserted(i64),
    BookRemoved(Offer),
    BookAmount(i64, i64),
}

/// The book and the accounts, with every change logged so that a failure can undo it.
struct Tx<'a, A: Accounts> {
    book: &'a mut Book,
    accounts: &'a mut A,
    undo: Vec<Undo>,
}

impl<A: Accounts> Tx<'_, A> {
    fn transfer(&mut self, account: &AccountId, asset: &Asset, delta: i64) {
        self.accounts.transfer(account, asset, delta);
        self.undo.push(Undo::Transfer(*account, *asset, delta));
    }

    fn add_liabilities(&mut self, account: &AccountId, asset: &Asset, selling: i64, buying: i64) {
        if selling == 0 && buying == 0 {
            return;
        }
        self.accounts.add_liabilities(account, asset, selling, buying);
        self.undo.push(Undo::Liabilities(*account, *asset, selling, buying));
    }

    fn add_subentries(&mut self, account: &AccountId, delta: i32) {
        self.accounts.add_subentries(account, delta);
        self.undo.push(Undo::Subentries(*account, delta));
    }

    /// Commits (`sign` 1) or releases (`sign` −1) the liabilities of an offer.
    fn offer_liabilities(&mut self, offer: &Offer, sign: i64) {
        let (selling, buying) = offer_liabilities(offer.amount, offer.price);
        self.add_liabilities(&offer.seller, &offer.selling, sign * selling, 0);
        self.add_liabilities(&offer.seller, &offer.buying, 0, sign * buying);
    }

    fn book_insert(&mut self, offer: Offer) {
        let id = offer.id;
        self.book.insert(offer);
        self.undo.push(Undo::BookInserted(id));
    }

    fn book_remove(&mut self, id: i64) -> Option<Offer> {
        let offer = self.book.remove(id)?;
        self.undo.push(Undo::BookRemoved(offer.clone()));
        Some(offer)
    }

    fn book_set_amount(&mut self, id: i64, amount: i64) {
        let old = self.book.set_amount(id, amount);
        debug_assert!(old.is_some());
        if let Some(old) = old {
            self.undo.push(Undo::BookAmount(id, old));
        }
    }

    /// `canSellAtMost`: never negative; no trustline is 0.
    fn can_sell_at_most(&self, account: &AccountId, asset: &Asset) -> i64 {
        self.accounts.available_to_sell(account, asset).unwrap_or(0).max(0)
    }

    /// `canBuyAtMost`: never negative; no trustline is 0.
    fn can_buy_at_most(&self, account: &AccountId, asset: &Asset) -> i64 {
        self.accounts.available_to_buy(account, asset).unwrap_or(0).max(0)
    }

    /// Undoes every logged change, newest first.
    fn rollback(mut self) {
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Transfer(account, asset, delta) => self.accounts.transfer(&account, &asset, -delta),
                Undo::Liabilities(account, asset, selling, buying) => {
                    self.accounts.add_liabilities(&account, &asset, -selling, -buying)
                }
                Undo::Subentries(account, delta) => self.accounts.add_subentries(&account, -delta),
                Undo::BookInserted(id) => {
                    let removed = self.book.remove(id);
                    debug_assert!(removed.is_some());
                }
                Undo::BookRemoved(offer) => self.book.insert(offer),
                Undo::BookAmount(id, amount) => {
                    let set = self.book.set_amount(id, amount);
                    debug_assert!(set.is_some());
                }
            }
        }
    }
}

/// How the crossing loop ended (stellar-core's `ConvertResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Convert {
    /// A limit was reached, or the last offer crossed was the larger one: nothing of ours rests.
    Done,
    /// The book ran out of offers at acceptable prices: the remainder rests.
    Partial,
    /// The next offer's price is worse than ours (or equal, for a passive offer).
    StopBadPrice,
    StopCrossSelf,
    CrossedTooMany,
}

/// The taker's side of a crossing, in stellar-core's names: we sell sheep, buy wheat.
struct Taker<'o> {
    source: &'o AccountId,
    sheep: Asset,
    wheat: Asset,
    /// The most we accept to pay per wheat: the inverse of our price.
    max_wheat_price: Price,
    passive: bool,
}

/// Applies an offer operation by `source` to the book and the accounts, as stellar-core's
/// `ManageOfferOpFrameBase::doApply` (with `doCheckValid` first). On `Err` nothing has changed.
pub fn manage_offer(
    book: &mut Book,
    accounts: &mut impl Accounts,
    source: &AccountId,
    op: &OfferOp,
) -> Result<OfferSuccess, OfferFailure> {
    let price = check_valid(op)?;
    let mut tx = Tx { book, accounts, undo: Vec::new() };
    match apply(&mut tx, source, op, price) {
        Ok(success) => Ok(success),
        Err(failure) => {
            tx.rollback();
            Err(failure)
        }
    }
}

/// `doCheckValid`; returns the price of the offer as stored (buying per selling).
fn check_valid(op: &OfferOp) -> Result<Price, OfferFailure> {
    if op.selling == op.buying || op.amount < 0 {
        return Err(OfferFailure::Malformed);
    }
    let price = match op.kind {
        // ManageBuyOffer's price is selling per buying: the stored offer has its inverse.
        OfferOpKind::ManageBuy => Price::new(op.price_d, op.price_n),
        OfferOpKind::ManageSell | OfferOpKind::CreatePassiveSell => Price::new(op.price_n, op.price_d),
    }
    .map_err(|_| OfferFailure::Malformed)?;
    // Deleting needs an id (protocol ≥ 11); ids are never negative (protocol ≥ 15).
    if (op.offer_id == 0 && op.amount == 0) || op.offer_id < 0 {
        return Err(OfferFailure::Malformed);
    }
    // CreatePassiveSellOffer has no offer id in XDR (stellar-core sets 0): one here is malformed.
    if op.kind == OfferOpKind::CreatePassiveSell && op.offer_id != 0 {
        return Err(OfferFailure::Malformed);
    }
    Ok(price)
}

/// `checkOfferValid`: the source's trustlines to both assets (skipped when deleting).
fn check_offer_valid(accounts: &impl Accounts, source: &AccountId, op: &OfferOp) -> Result<(), OfferFailure> {
    if !op.selling.is_native() {
        if !accounts.holds(source, &op.selling) {
            return Err(OfferFailure::SellNoTrust);
        }
        if accounts.balance(source, &op.selling) == Some(0) {
            return Err(OfferFailure::Underfunded);
        }
        if !accounts.authorized(source, &op.selling) {
            return Err(OfferFailure::SellNotAuthorized);
        }
    }
    if !op.buying.is_native() {
        if !accounts.holds(source, &op.buying) {
            return Err(OfferFailure::BuyNoTrust);
        }
        if !accounts.authorized(source, &op.buying) {
            return Err(OfferFailure::BuyNotAuthorized);
        }
    }
    Ok(())
}

fn apply<A: Accounts>(
    tx: &mut Tx<'_, A>,
    source: &AccountId,
    op: &OfferOp,
    price: Price,
) -> Result<OfferSuccess, OfferFailure> {
    let deleting = op.amount == 0;
    if !deleting {
        check_offer_valid(tx.accounts, source, op)?;
    }
    let (sheep, wheat) = (op.selling, op.buying);

    let creating = op.offer_id == 0;
    let passive = if creating {
        if !tx.accounts.can_add_subentry(source) {
            return Err(OfferFailure::LowReserve);
        }
        // As stellar-core ≥ 14: the subentry is counted before crossing, so the reserve for the
        // new offer is not sold.
        tx.add_subentries(source, 1);
        op.kind == OfferOpKind::CreatePassiveSell
    } else {
        // Only the source's own offers can be managed; the assets may change.
        match tx.book.get(op.offer_id) {
            Some(old) if old.seller == *source => {}
            _ => return Err(OfferFailure::NotFound),
        }
        let old = tx.book_remove(op.offer_id).ok_or(OfferFailure::NotFound)?;
        tx.offer_liabilities(&old, -1);
        // A modified offer keeps its passive flag.
        old.passive
    };

    let mut fills = Vec::new();
    let mut amount = 0;
    if !deleting {
        // computeOfferExchangeParameters.
        let available_limit = tx.accounts.available_to_buy(source, &wheat).unwrap_or(0);
        let available_balance = tx.accounts.available_to_sell(source, &sheep).unwrap_or(0);
        let (selling_liabilities, buying_liabilities) = match op.kind {
            OfferOpKind::ManageBuy => buy_offer_liabilities(op.amount, price),
            OfferOpKind::ManageSell | OfferOpKind::CreatePassiveSell => offer_liabilities(op.amount, price),
        };
        if available_limit < buying_liabilities {
            return Err(OfferFailure::LineFull);
        }
        if available_balance < selling_liabilities {
            return Err(OfferFailure::Underfunded);
        }
        let mut max_sheep_send = tx.can_sell_at_most(source, &sheep);
        let mut max_wheat_receive = tx.can_buy_at_most(source, &wheat);
        apply_operation_limits(op, &mut max_sheep_send, 0, &mut max_wheat_receive, 0);
        if max_wheat_receive == 0 {
            return Err(OfferFailure::LineFull);
        }

        let taker = Taker { source, sheep, wheat, max_wheat_price: price.inverse(), passive };
        let (convert, sheep_sent, wheat_received) =
            convert_with_offers(tx, &taker, max_sheep_send, max_wheat_receive, &mut fills);
        let sheep_stays = match convert {
            Convert::Done => false,
            Convert::Partial | Convert::StopBadPrice => true,
            Convert::StopCrossSelf => return Err(OfferFailure::CrossSelf),
            Convert::CrossedTooMany => return Err(OfferFailure::ExceededWorkLimit),
        };

        if wheat_received > 0 {
            tx.transfer(source, &wheat, wheat_received);
            tx.transfer(source, &sheep, -sheep_sent);
        }

        if sheep_stays {
            let mut sheep_send_limit = tx.can_sell_at_most(source, &sheep);
            let mut wheat_receive_limit = tx.can_buy_at_most(source, &wheat);
            apply_operation_limits(op, &mut sheep_send_limit, sheep_sent, &mut wheat_receive_limit, wheat_received);
            amount = adjust_offer(price, sheep_send_limit, wheat_receive_limit);
        }
    }

    let effect = if amount > 0 {
        let id = if creating { tx.accounts.next_offer_id() } else { op.offer_id };
        let offer = Offer { id, seller: *source, selling: sheep, buying: wheat, amount, price, passive };
        tx.book_insert(offer.clone());
        tx.offer_liabilities(&offer, 1);
        if creating { OfferEffect::Created(offer) } else { OfferEffect::Updated(offer) }
    } else {
        // The new offer's subentry (counted above) or the deleted offer's goes.
        tx.add_subentries(source, -1);
        OfferEffect::Deleted
    };
    Ok(OfferSuccess { fills, effect })
}

/// `applyOperationSpecificLimits`: a sell offer sends at most its amount, a buy offer receives
/// at most its amount (less what was already exchanged).
fn apply_operation_limits(
    op: &OfferOp,
    max_sheep_send: &mut i64,
    sheep_sent: i64,
    max_wheat_receive: &mut i64,
    wheat_received: i64,
) {
    match op.kind {
        OfferOpKind::ManageSell | OfferOpKind::CreatePassiveSell => {
            debug_assert!(sheep_sent <= op.amount);
            *max_sheep_send = (op.amount - sheep_sent).min(*max_sheep_send);
        }
        OfferOpKind::ManageBuy => {
            debug_assert!(wheat_received <= op.amount);
            *max_wheat_receive = (op.amount - wheat_received).min(*max_wheat_receive);
        }
    }
}

/// `convertWithOffers` with ManageOffer's filter: crosses the best offers selling wheat for
/// sheep until a limit, a worse price, our own offer, or [`OFFERS_CROSSED_MAX`]. Returns how it
/// ended, the sheep sent and the wheat received.
fn convert_with_offers<A: Accounts>(
    tx: &mut Tx<'_, A>,
    taker: &Taker<'_>,
    mut max_sheep_send: i64,
    mut max_wheat_receive: i64,
    fills: &mut Vec<Fill>,
) -> (Convert, i64, i64) {
    let (mut sheep_sent, mut wheat_received) = (0i64, 0i64);
    let mut need_more = max_wheat_receive > 0 && max_sheep_send > 0;
    while need_more {
        let Some(best) = tx.book.best(&taker.wheat, &taker.sheep).next() else {
            break;
        };
        let worse =
            if taker.passive { best.price >= taker.max_wheat_price } else { best.price > taker.max_wheat_price };
        if worse {
            return (Convert::StopBadPrice, sheep_sent, wheat_received);
        }
        if best.seller == *taker.source {
            return (Convert::StopCrossSelf, sheep_sent, wheat_received);
        }
        if fills.len() >= OFFERS_CROSSED_MAX {
            return (Convert::CrossedTooMany, sheep_sent, wheat_received);
        }
        let best = best.clone();
        let (fill, wheat_stays) = cross_offer_v10(tx, &best, max_wheat_receive, max_sheep_send);
        assert!((0..=max_sheep_send).contains(&fill.amount_bought));
        assert!((0..=max_wheat_receive).contains(&fill.amount_sold));
        sheep_sent += fill.amount_bought;
        max_sheep_send -= fill.amount_bought;
        wheat_received += fill.amount_sold;
        max_wheat_receive -= fill.amount_sold;
        fills.push(fill);
        need_more = !wheat_stays && max_wheat_receive > 0 && max_sheep_send > 0;
    }
    // The book ran out while we still wanted more: the remainder rests.
    let convert = if need_more { Convert::Partial } else { Convert::Done };
    (convert, sheep_sent, wheat_received)
}

/// `crossOfferV10`: crosses the resting offer `offer` (selling wheat for sheep) with a taker
/// who can receive `max_wheat_receive` and send `max_sheep_send`. Settles the owner's side,
/// reduces or removes the offer. Returns the fill and whether the resting offer stays.
fn cross_offer_v10<A: Accounts>(
    tx: &mut Tx<'_, A>,
    offer: &Offer,
    max_wheat_receive: i64,
    max_sheep_send: i64,
) -> (Fill, bool) {
    assert!(max_wheat_receive > 0 && max_sheep_send > 0);
    let (seller, wheat, sheep) = (offer.seller, offer.selling, offer.buying);
    tx.offer_liabilities(offer, -1);

    // Re-adjusted to what the owner can deliver now (a no-op since protocol 10, kept by core).
    let can_sell = tx.can_sell_at_most(&seller, &wheat);
    let can_buy = tx.can_buy_at_most(&seller, &sheep);
    let adjusted = adjust_offer(offer.price, offer.amount.min(can_sell), can_buy);

    let max_wheat_send = adjusted.min(can_sell);
    let ex = exchange_v10(offer.price, max_wheat_send, max_wheat_receive, max_sheep_send, can_buy, Rounding::Normal);
    if ex.sheep_send != 0 {
        tx.transfer(&seller, &sheep, ex.sheep_send);
    }
    if ex.wheat_received != 0 {
        tx.transfer(&seller, &wheat, -ex.wheat_received);
    }

    let remaining = if ex.wheat_stays {
        let can_sell = tx.can_sell_at_most(&seller, &wheat);
        let can_buy = tx.can_buy_at_most(&seller, &sheep);
        adjust_offer(offer.price, (adjusted - ex.wheat_received).min(can_sell), can_buy)
    } else {
        0
    };
    if remaining == 0 {
        let removed = tx.book_remove(offer.id);
        debug_assert!(removed.is_some());
        tx.add_subentries(&seller, -1);
    } else {
        tx.book_set_amount(offer.id, remaining);
        let reduced = Offer { amount: remaining, ..offer.clone() };
        tx.offer_liabilities(&reduced, 1);
    }
    let fill = Fill {
        offer_id: offer.id,
        seller,
        asset_sold: wheat,
        amount_sold: ex.wheat_received,
        asset_bought: sheep,
        amount_bought: ex.sheep_send,
    };
    (fill, ex.wheat_stays)
}
