//! Errors, grouped by who is to blame: the data on disk (`Corrupt`, `Incompatible`), the
//! operating system (`Io`, and `Poisoned` after a latched I/O failure), or the caller (`Misuse`,
//! `Locked`). Every message is one line and names the file, offset and seq where it knows them.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where in a journal a problem was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub segment: PathBuf,
    /// Byte offset in the segment file.
    pub offset: u64,
    /// The seq the record at this offset has, or was expected to have.
    pub seq: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {} offset {}", self.segment.display(), self.offset)?;
        if let Some(seq) = self.seq {
            write!(f, " seq {seq}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub enum Error {
    /// The bytes on disk are not what the writer wrote: a bad checksum before the tail, a broken
    /// hash chain, a gap in seqs, a header that is not a journal's.
    Corrupt { at: Location, what: String },
    /// A journal written by a format version this build does not read.
    Incompatible { segment: PathBuf, version: u16, supported: u16 },
    /// The operating system refused an operation.
    Io { op: &'static str, path: PathBuf, source: io::Error },
    /// An earlier I/O error latched the writer; reopen the journal to recover.
    Poisoned { first: String },
    /// Another process (or handle) holds the journal's writer lock.
    Locked { path: PathBuf },
    /// The caller asked for something the journal does not do.
    Misuse(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io { op, path: path.into(), source }
    }

    pub(crate) fn corrupt(
        segment: impl Into<PathBuf>,
        offset: usize,
        seq: Option<u64>,
        what: impl Into<String>,
    ) -> Error {
        Error::Corrupt { at: Location { segment: segment.into(), offset: offset as u64, seq }, what: what.into() }
    }

    /// The location of a corruption, if this is one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Corrupt { at, .. } => Some(at),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Corrupt { at, what } => write!(f, "corrupt journal: {at}: {what}"),
            Error::Incompatible { segment, version, supported } => write!(
                f,
                "incompatible journal: {} has format version {version}; this build reads version {supported}",
                segment.display()
            ),
            Error::Io { op, path, source } => {
                write!(f, "I/O error: {op} {}: {source}", path.display())
            }
            Error::Poisoned { first } => {
                write!(f, "journal writer stopped after an earlier I/O error ({first}); reopen it")
            }
            Error::Locked { path } => {
                write!(f, "journal {} is open for writing by another process or handle", path.display())
            }
            Error::Misuse(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
