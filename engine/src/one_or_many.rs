//! `OneOrMany<T>`: a list that holds a single element inline and spills two or more to the heap.
//!
//! Nearly every intent the engine emits carries one operation (a new order, one cancel), so
//! the intent on the wire (`outputs::Intent::ops`) and the engine's own record of it use this
//! type: placing an order allocates nothing for either. Cancel-all and batches spill to a `Vec`.
//!
//! The representation is normalised by construction — exactly one element is always `One` —
//! so two lists with the same elements archive to the same bytes; equality compares elements
//! either way.

use rkyv::{Archive, Deserialize, Serialize};

#[derive(Archive, Serialize, Deserialize, Clone, Debug)]
pub struct OneOrMany<T>(Repr<T>);

#[derive(Archive, Serialize, Deserialize, Clone, Debug)]
enum Repr<T> {
    One([T; 1]),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// A list of exactly `item`, inline.
    pub const fn one(item: T) -> OneOrMany<T> {
        OneOrMany(Repr::One([item]))
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        match &self.0 {
            Repr::One(item) => item,
            Repr::Many(items) => items,
        }
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    /// One element moves inline (the vector is freed); other lengths keep the vector.
    fn from(mut items: Vec<T>) -> OneOrMany<T> {
        match (items.pop(), items.is_empty()) {
            (Some(item), true) => OneOrMany::one(item),
            (Some(item), false) => {
                items.push(item);
                OneOrMany(Repr::Many(items))
            }
            (None, _) => OneOrMany(Repr::Many(items)),
        }
    }
}

impl<T> FromIterator<T> for OneOrMany<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> OneOrMany<T> {
        let mut items = items.into_iter();
        match (items.next(), items.next()) {
            (Some(item), None) => OneOrMany::one(item),
            (first, second) => OneOrMany(Repr::Many(first.into_iter().chain(second).chain(items).collect())),
        }
    }
}

impl<T> core::ops::Deref for OneOrMany<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: PartialEq> PartialEq for OneOrMany<T> {
    fn eq(&self, other: &OneOrMany<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for OneOrMany<T> {}

impl<T> IntoIterator for OneOrMany<T> {
    type Item = T;
    type IntoIter = core::iter::Chain<core::option::IntoIter<T>, std::vec::IntoIter<T>>;
    fn into_iter(self) -> Self::IntoIter {
        match self.0 {
            Repr::One([item]) => Some(item).into_iter().chain(Vec::new()),
            Repr::Many(items) => None.into_iter().chain(items),
        }
    }
}

impl<'a, T> IntoIterator for &'a OneOrMany<T> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<T: Archive> ArchivedOneOrMany<T> {
    /// The archived elements as a slice, read in place.
    pub fn as_slice(&self) -> &[T::Archived] {
        match &self.0 {
            ArchivedRepr::One(item) => item,
            ArchivedRepr::Many(items) => items.as_slice(),
        }
    }
}

impl<T: Archive> core::ops::Deref for ArchivedOneOrMany<T> {
    type Target = [T::Archived];
    fn deref(&self) -> &[T::Archived] {
        self.as_slice()
    }
}

impl<T: Archive> core::fmt::Debug for ArchivedOneOrMany<T>
where
    T::Archived: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every way of building a list keeps every element in order, holds exactly one inline,
        /// and archives to the same bytes whichever way it was built.
        #[test]
        fn lists_keep_their_elements_and_normalise(items in proptest::collection::vec(any::<u64>(), 0..6)) {
            let from_vec = OneOrMany::from(items.clone());
            let from_iter: OneOrMany<u64> = items.iter().copied().collect();
            prop_assert_eq!(from_vec.as_slice(), &items[..]);
            prop_assert_eq!(&from_vec, &from_iter);
            prop_assert_eq!(matches!(from_vec.0, Repr::One(_)), items.len() == 1);
            prop_assert_eq!(matches!(from_iter.0, Repr::One(_)), items.len() == 1);
            prop_assert_eq!(from_vec.clone().into_iter().collect::<Vec<_>>(), items.clone());
            prop_assert_eq!((&from_iter).into_iter().copied().collect::<Vec<_>>(), items.clone());
            let a = rkyv::to_bytes::<rkyv::rancor::Error>(&from_vec).unwrap();
            let b = rkyv::to_bytes::<rkyv::rancor::Error>(&from_iter).unwrap();
            prop_assert_eq!(&a[..], &b[..]);
            let archived = rkyv::access::<ArchivedOneOrMany<u64>, rkyv::rancor::Error>(&a).unwrap();
            prop_assert_eq!(archived.iter().map(|x| x.to_native()).collect::<Vec<_>>(), items.clone());
            let back: OneOrMany<u64> = rkyv::deserialize::<_, rkyv::rancor::Error>(archived).unwrap();
            prop_assert_eq!(back, from_vec);
        }
    }
}
