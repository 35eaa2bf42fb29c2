//! The engine's orders by id: every order of the session, kept in id order in one vector.
//!
//! Ids are handed out in increasing order, so a new order always goes at the end and the
//! vector stays sorted without ever moving an element; a lookup is a branch-free binary search
//! over a contiguous array (no tree nodes to chase, no mispredicted early exits), and the
//! orders strategies look at (the newest) sit in the last few cache lines.

use crate::engine::Order;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct OrderTable {
    /// Strictly increasing ids.
    orders: Vec<Order>,
}

impl OrderTable {
    pub(crate) fn new() -> OrderTable {
        OrderTable::default()
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.orders.binary_search_by_key(&id, |o| o.id).ok()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Order> {
        self.position(id).and_then(|i| self.orders.get(i))
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Order> {
        self.position(id).and_then(|i| self.orders.get_mut(i))
    }

    /// Add an order whose id is above every id held; `false` (and nothing added) otherwise.
    #[must_use]
    pub(crate) fn push(&mut self, order: Order) -> bool {
        if self.orders.last().is_some_and(|last| last.id >= order.id) {
            return false;
        }
        self.orders.push(order);
        true
    }

    /// The order with the highest id.
    pub(crate) fn last(&self) -> Option<&Order> {
        self.orders.last()
    }

    pub(crate) fn len(&self) -> usize {
        self.orders.len()
    }

    /// Every order, in id order.
    pub(crate) fn values(&self) -> core::slice::Iter<'_, Order> {
        self.orders.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::Amount;
    use crate::asset::Asset;
    use crate::lifecycle::OrderStatus;
    use crate::price::Price;
    use crate::reserves::Commitment;
    use crate::risk::Side;

    fn order(id: u64) -> Order {
        Order {
            id,
            pair: 0,
            side: Side::Buy,
            amount: Amount::ZERO,
            price: Price::new(1, 1).unwrap(),
            filled: Amount::ZERO,
            status: OrderStatus::PendingSubmit,
            resting: OrderStatus::Open,
            offer_id: 0,
            accepted_ledger: 0,
            intent: 0,
            commitment: Commitment {
                selling: Asset::Native,
                buying: Asset::Native,
                selling_liabilities: Amount::ZERO,
                buying_liabilities: Amount::ZERO,
                subentries: 0,
            },
        }
    }

    proptest::proptest! {
        /// Against a BTreeMap: increasing ids (with gaps, as rejected orders leave) are all
        /// found, nothing else is, and an id not above the last is refused.
        #[test]
        fn finds_exactly_what_was_pushed(gaps in proptest::collection::vec(1u64..5, 0..200), probe in 0u64..1000) {
            let mut t = OrderTable::new();
            let mut model = std::collections::BTreeMap::new();
            let mut id = 0;
            for g in gaps {
                id += g;
                proptest::prop_assert!(t.push(order(id)));
                model.insert(id, order(id));
                proptest::prop_assert!(!t.push(order(id)), "a repeated id is refused");
            }
            proptest::prop_assert_eq!(t.len(), model.len());
            proptest::prop_assert_eq!(t.get(probe), model.get(&probe));
            proptest::prop_assert!(t.values().map(|o| o.id).eq(model.keys().copied()));
            if let Some(o) = t.get_mut(probe) {
                o.filled = Amount::from_stroops(7).unwrap();
                proptest::prop_assert_eq!(t.get(probe).map(|o| o.filled.stroops()), Some(7));
            }
        }
    }
}
