//! starlog-journal: the append-only, memory-mapped, checksummed and hash-chained journal that is
//! starlog's single source of truth. It stores opaque payloads tagged with a `kind`, a gap-free
//! `seq` and a caller-stamped timestamp; it never reads a clock and knows nothing of the engine.
//!
//! - [`JournalWriter`]: the single writer (append, group commit, crash recovery).
//! - [`JournalReader`]: zero-copy snapshot reads, random access by seq, [`JournalReader::verify`].
//! - [`Tailer`]: follows a live writer in another thread or process, lock-free.
//!
//! The byte format is specified in `journal/FORMAT.md`; [`format`] is its code.
#![deny(unsafe_code)]

mod error;
pub mod format;
mod mmap;
mod reader;
mod segment;
mod tail;
mod writer;

pub use error::{Error, Location, Result};
pub use reader::{Iter, JournalReader, Record, VerifyReport};
pub use tail::Tailer;
pub use writer::{Commit, Durability, JournalOptions, JournalWriter, Recovery, SyncHook};

/// Lower-case hex of a chain head, for display.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
