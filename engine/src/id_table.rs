//! Tables of entries by id, for ids the engine hands out in increasing order (orders, intents).
//!
//! A new entry always goes at the end, so the table stays sorted without moving anything; a
//! lookup is two branch-free binary searches (over the chunks' first ids, then within one
//! chunk), and the newest entries — the ones strategies and results look at — sit in the last
//! chunk, which is searched first. Entries live in chunks of [`CHUNK_ENTRIES`] allocated whole:
//! a growing table adds one chunk and never copies what it holds (a vector doubling a table of
//! a million orders would stall the core for the copy). Removing an entry shifts the ones after
//! it within its chunk only; a chunk left empty is kept as the spare for the next one needed, so
//! a table whose entries come and go (intents) allocates nothing in a steady state.

use crate::engine::Order;

/// Entries per chunk.
pub(crate) const CHUNK_ENTRIES: usize = 512;

/// An entry's id.
pub(crate) trait Keyed {
    fn key(&self) -> u64;
}

impl Keyed for Order {
    fn key(&self) -> u64 {
        self.id
    }
}

/// An id paired with what it identifies.
impl<T> Keyed for (u64, T) {
    fn key(&self) -> u64 {
        self.0
    }
}

#[derive(Debug)]
pub(crate) struct IdTable<T> {
    /// In id order; each non-empty, with room for [`CHUNK_ENTRIES`]; ids strictly increasing
    /// across all of them. Only the last one takes new entries.
    chunks: Vec<Vec<T>>,
    len: usize,
    /// A chunk emptied by removals, kept with its room for the next chunk needed.
    spare: Option<Vec<T>>,
}

impl<T> Default for IdTable<T> {
    fn default() -> IdTable<T> {
        IdTable { chunks: Vec::new(), len: 0, spare: None }
    }
}

/// A copy has the same entries in chunks with the same room (a clone of a `Vec` would have
/// none to spare, and the next push would reallocate).
impl<T: Clone> Clone for IdTable<T> {
    fn clone(&self) -> IdTable<T> {
        let chunks = self
            .chunks
            .iter()
            .map(|chunk| {
                let mut copy = Vec::with_capacity(CHUNK_ENTRIES);
                copy.extend_from_slice(chunk);
                copy
            })
            .collect();
        IdTable { chunks, len: self.len, spare: None }
    }
}

impl<T: Keyed> IdTable<T> {
    /// The chunk that would hold `id`, and its index there.
    fn position(&self, id: u64) -> Option<(usize, usize)> {
        let first_id = |c: &Vec<T>| c.first().map_or(u64::MAX, Keyed::key);
        let newest = self.chunks.len().checked_sub(1)?;
        let chunk = if self.chunks.last().is_some_and(|c| first_id(c) <= id) {
            newest
        } else {
            self.chunks.partition_point(|c| first_id(c) <= id).checked_sub(1)?
        };
        let entries = self.chunks.get(chunk)?;
        // Ids are handed out in order, so a chunk usually holds a run of consecutive ids: try the
        // entry at the id's offset from the chunk's first before searching.
        let guess = id.checked_sub(first_id(entries)).and_then(|d| usize::try_from(d).ok());
        if let Some(guess) = guess
            && entries.get(guess).is_some_and(|e| e.key() == id)
        {
            return Some((chunk, guess));
        }
        let index = entries.binary_search_by_key(&id, Keyed::key).ok()?;
        Some((chunk, index))
    }

    pub(crate) fn get(&self, id: u64) -> Option<&T> {
        let (c, i) = self.position(id)?;
        self.chunks.get(c)?.get(i)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let (c, i) = self.position(id)?;
        self.chunks.get_mut(c)?.get_mut(i)
    }

    /// Add an entry whose id is above every id held; `false` (and nothing added) otherwise.
    #[must_use]
    pub(crate) fn push(&mut self, entry: T) -> bool {
        if self.last_id().is_some_and(|last| last >= entry.key()) {
            return false;
        }
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK_ENTRIES => {
                debug_assert!(last.len() < last.capacity(), "a push never reallocates a chunk");
                last.push(entry);
            }
            _ => {
                let mut chunk = self.spare.take().unwrap_or_else(|| Vec::with_capacity(CHUNK_ENTRIES));
                debug_assert!(chunk.is_empty() && chunk.capacity() >= CHUNK_ENTRIES);
                chunk.push(entry);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        true
    }

    /// Remove the entry `id`, if held.
    pub(crate) fn remove(&mut self, id: u64) {
        let Some((c, i)) = self.position(id) else { return };
        let Some(chunk) = self.chunks.get_mut(c) else { return };
        chunk.remove(i);
        self.len -= 1;
        if chunk.is_empty() {
            let empty = self.chunks.remove(c);
            if self.spare.is_none() {
                self.spare = Some(empty);
            }
        }
    }

    /// The entry with the highest id.
    pub(crate) fn last(&self) -> Option<&T> {
        self.chunks.last().and_then(|c| c.last())
    }

    /// The highest id held.
    pub(crate) fn last_id(&self) -> Option<u64> {
        self.last().map(Keyed::key)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every entry, in id order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + Clone + '_ {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Model = std::collections::BTreeMap<u64, u64>;

    fn agrees(
        t: &IdTable<(u64, u64)>,
        model: &Model,
        probes: &[u64],
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        proptest::prop_assert_eq!(t.len(), model.len());
        for &probe in probes {
            proptest::prop_assert_eq!(t.get(probe).map(|e| e.1), model.get(&probe).copied());
        }
        proptest::prop_assert!(t.iter().map(|e| e.0).eq(model.keys().copied()));
        proptest::prop_assert!(t.iter().rev().map(|e| e.0).eq(model.keys().rev().copied()));
        proptest::prop_assert_eq!(t.last().map(|e| e.0), model.keys().last().copied());
        // Every chunk non-empty, none over its room, every one but the last full unless
        // removals thinned it.
        proptest::prop_assert!(t.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK_ENTRIES));
        Ok(())
    }

    proptest::proptest! {
        /// Against a BTreeMap, across several chunks: increasing ids (with gaps, as rejected
        /// orders leave) are all found, nothing else is, an id not above the last is refused;
        /// removals (single ids, held or not, and whole runs that empty chunks) take out exactly
        /// those entries; pushes after removals go on at the end; a clone is equal and pushes
        /// without reallocating its chunks.
        #[test]
        fn behaves_as_an_ordered_map(
            gaps in proptest::collection::vec(1u64..5, 0..1600),
            removals in proptest::collection::vec(0u64..7000, 0..200),
            run in (0u64..7000, 0u64..1500),
            more in proptest::collection::vec(1u64..5, 0..700),
            probes in proptest::collection::vec(0u64..10_000, 8),
        ) {
            let mut t = IdTable::default();
            let mut model = Model::new();
            let mut id = 0;
            for g in gaps {
                id += g;
                proptest::prop_assert!(t.push((id, id * 10)));
                model.insert(id, id * 10);
                proptest::prop_assert!(!t.push((id, 0)), "a repeated id is refused");
            }
            agrees(&t, &model, &probes)?;
            if let Some(&first) = model.keys().next() {
                t.remove(first);
                model.remove(&first);
            }
            for r in removals.into_iter().chain(run.0..run.0 + run.1) {
                t.remove(r);
                model.remove(&r);
            }
            agrees(&t, &model, &probes)?;
            for g in more {
                id += g;
                proptest::prop_assert!(t.push((id, id * 10)));
                model.insert(id, id * 10);
            }
            agrees(&t, &model, &probes)?;
            let mut copy = t.clone();
            agrees(&copy, &model, &probes)?;
            proptest::prop_assert!(copy.chunks.iter().all(|c| c.capacity() >= CHUNK_ENTRIES));
            proptest::prop_assert!(copy.push((id + 1, 0)));
            for &probe in &probes {
                if let Some(e) = t.get_mut(probe) {
                    e.1 = 7;
                    proptest::prop_assert_eq!(t.get(probe).map(|e| e.1), Some(7));
                }
            }
        }
    }

    /// A table whose entries come and go (intents: a window of them in flight, here a little
    /// more than a chunk's worth) works in at most three chunks, an emptied one coming back as
    /// the spare.
    #[test]
    fn entries_that_come_and_go_reuse_the_spare_chunk() {
        let window = CHUNK_ENTRIES as u64 + 10;
        let mut t = IdTable::default();
        for id in 1..=(10 * CHUNK_ENTRIES as u64) {
            assert!(t.push((id, ())));
            t.remove(id.saturating_sub(window));
            assert!(t.chunks.len() <= 3, "{} chunks at {id}", t.chunks.len());
        }
        assert_eq!(t.len() as u64, window);
        assert!(t.spare.is_some(), "an emptied chunk is kept");
    }
}
