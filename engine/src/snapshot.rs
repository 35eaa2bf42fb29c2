//! Engine snapshots: the engine's whole state as bytes ([`crate::engine::Engine::snapshot`]) and
//! back ([`crate::engine::Engine::restore`]), so that a restart or an audit query starts from a
//! recent state instead of replaying a long session from its first input. This module owns the
//! format: the header, the checksum, the primitive encodings and [`SnapshotError`]; each state
//! type encodes and decodes its own private fields next to its definition (`encode_snapshot` /
//! `decode_snapshot`), with the primitives here.
//!
//! A snapshot is derived data: the input journal stays the source of truth, and a snapshot is
//! only ever a shortcut to the state a replay up to its seq would give. So a snapshot is never
//! trusted: restore checks its framing and checksum, decodes every field through the same
//! validating constructors as the engine's own inputs (prices, amounts, assets, status codes),
//! checks the invariants the engine relies on (ordering of keyed collections, bucket levels
//! within capacity, timestamps not after their clock), recomputes the state hash and compares it
//! with the stored one, and refuses a snapshot of another configuration or strategy. Bytes that
//! fail any of this are an error, never a partly restored engine, and never a panic.
//!
//! # Why a hand-written encoding, not rkyv
//!
//! Journal records are rkyv archives because they are read in place, millions of times, and
//! their types are plain wire structs. A snapshot is read once per restart or query, and its
//! types are the engine's private state (the throttler's buckets, the classifier's windows, the
//! strategies' slots): archiving them with rkyv would put derive attributes and archived twins
//! on every internal type, tie the format to rkyv's layout rules, and still need a semantic
//! validation pass after `bytecheck` (a structurally valid archive can hold a price of `0/0`
//! or a bucket above its capacity). A versioned, little-endian, fixed-width encoding written by
//! hand is short, documented below byte for byte, independent of any crate's layout, decoded
//! with the validating constructors directly, and canonical: the same state always gives the
//! same bytes (restore then snapshot is the identity on bytes), which makes snapshots
//! comparable and testable.
//!
//! # Format (version 3)
//!
//! ```text
//!   0        8        12       16       24                40       48
//!   +--------+--------+--------+--------+-----------------+--------+---------------+--------+
//!   | magic  |version |reserved| seq    | state hash (16) |body len| body …        |checksum|
//!   +--------+--------+--------+--------+-----------------+--------+---------------+--------+
//! ```
//!
//! - `magic` = `STLGSNAP`; `version` (u32) = [`SNAPSHOT_VERSION`]; `reserved` (u32) = 0.
//! - `seq` (u64): the last input seq the state reflects (the engine's `last_seq`).
//! - `state hash`: [`crate::engine::Engine::state_hash`] of the state; restore recomputes it.
//! - `body len` (u64), then the body: every field of the engine in declaration order (see
//!   `Engine::encode_body`), integers little-endian and fixed-width, `bool` and `Option` tags as
//!   one byte (0 or 1, anything else is corrupt), collections as a `u32` count then the
//!   elements, maps in ascending key order, prices as stored `n`, `d` (`i32` each, not reduced).
//! - `checksum` (u64): XXH3-64 of every byte before it. The state hash covers the state that
//!   decides outputs, the open intents' operations included; the checksum also covers what the
//!   hash leaves out (the strategies' scratch lists), so no flipped bit goes unnoticed.
//!
//! A change to the body's layout bumps [`SNAPSHOT_VERSION`]; a snapshot of another version is
//! refused ([`SnapshotError::Version`]) and the caller replays instead. Snapshots are cheap to
//! rebuild, so there is no migration. Versions: 1, the first; 2, the strategies' states
//! gained their last refusal (the market maker's mid, the TWAP's released slices); 3, the
//! balances gained the ledger of the account snapshot they come from, and each order the
//! ledger through which its fills are counted.

use core::fmt;

use xxhash_rust::xxh3::xxh3_64;

use crate::amount::Amount;
use crate::asset::{AccountId, Asset, AssetCode4, AssetCode12, Pair};
use crate::price::Price;

/// The first 8 bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"STLGSNAP";

/// The body layout this code writes and reads.
pub const SNAPSHOT_VERSION: u32 = 4;

/// Bytes before the body: magic, version, reserved, seq, state hash, body length.
pub const SNAPSHOT_HEADER_LEN: usize = 48;

/// Bytes after the body: the checksum.
pub const SNAPSHOT_TRAILER_LEN: usize = 8;

const OFF_VERSION: usize = 8;
const OFF_RESERVED: usize = OFF_VERSION + 4;
const OFF_SEQ: usize = OFF_RESERVED + 4;
const OFF_HASH: usize = OFF_SEQ + 8;
const OFF_BODY_LEN: usize = OFF_HASH + 16;
const _: () = assert!(OFF_BODY_LEN + 8 == SNAPSHOT_HEADER_LEN);

/// Strategy kinds in a snapshot (the tag before a strategy's parameters). Stable: never
/// renumber, only append.
pub(crate) const STRATEGY_NONE: u8 = 0;
pub(crate) const STRATEGY_MARKET_MAKER: u8 = 1;
pub(crate) const STRATEGY_TWAP: u8 = 2;

/// Why bytes could not be restored into an engine, by who is to blame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// Corrupt data (the bytes are to blame): not a snapshot, cut short, a bad checksum, a field
    /// out of range or an invariant broken, or a state whose recomputed hash is not the stored
    /// one. `what` names the first problem found.
    Corrupt { what: &'static str },
    /// A snapshot in a format version this code does not read (another starlog wrote it).
    Version { found: u32 },
    /// Misuse (the caller is to blame): a sound snapshot of an engine with another configuration
    /// or another strategy than the one it is restored for; replaying with this configuration
    /// would not give its state.
    Mismatch { what: &'static str },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Corrupt { what } => write!(f, "corrupt snapshot: {what}"),
            SnapshotError::Version { found } => {
                write!(f, "snapshot format version {found}, this build reads version {SNAPSHOT_VERSION}")
            }
            SnapshotError::Mismatch { what } => write!(f, "snapshot of another setup: {what} differs"),
        }
    }
}

impl std::error::Error for SnapshotError {}

pub(crate) const fn corrupt(what: &'static str) -> SnapshotError {
    SnapshotError::Corrupt { what }
}

/// The header fields of a snapshot, read without decoding (or trusting) its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub version: u32,
    /// The last input seq the state reflects.
    pub seq: u64,
    pub state_hash: [u8; 16],
}

/// Check a snapshot's framing (magic, version, length, checksum) and return its header and body.
pub(crate) fn open(bytes: &[u8]) -> Result<(SnapshotHeader, &[u8]), SnapshotError> {
    let header = read_header(bytes)?;
    if header.version != SNAPSHOT_VERSION {
        return Err(SnapshotError::Version { found: header.version });
    }
    let mut r = Reader::new(bytes);
    r.skip(OFF_RESERVED)?;
    if r.u32()? != 0 {
        return Err(corrupt("reserved header bytes are not zero"));
    }
    r.skip(OFF_BODY_LEN - OFF_SEQ)?;
    let body_len = usize::try_from(r.u64()?).map_err(|_| corrupt("body length"))?;
    let expected_len = SNAPSHOT_HEADER_LEN
        .checked_add(body_len)
        .and_then(|n| n.checked_add(SNAPSHOT_TRAILER_LEN))
        .ok_or(corrupt("body length"))?;
    if bytes.len() != expected_len {
        return Err(corrupt("length is not the header's body length"));
    }
    let (covered, trailer) = bytes.split_at(SNAPSHOT_HEADER_LEN + body_len);
    let stored = Reader::new(trailer).u64()?;
    if xxh3_64(covered) != stored {
        return Err(corrupt("checksum"));
    }
    let body = covered.get(SNAPSHOT_HEADER_LEN..).ok_or(corrupt("truncated"))?;
    Ok((header, body))
}

/// The header of `bytes` (magic checked; nothing else trusted).
pub fn read_header(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotError> {
    let mut r = Reader::new(bytes);
    if r.array::<8>()? != SNAPSHOT_MAGIC {
        return Err(corrupt("not a snapshot (bad magic)"));
    }
    let version = r.u32()?;
    let _reserved = r.u32()?;
    let seq = r.u64()?;
    let state_hash = r.array::<16>()?;
    Ok(SnapshotHeader { version, seq, state_hash })
}

/// Frame `body` as a snapshot into `out` (cleared first).
pub(crate) fn frame(out: &mut Vec<u8>, seq: u64, state_hash: [u8; 16], body: impl FnOnce(&mut Vec<u8>)) {
    out.clear();
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    put_u32(out, SNAPSHOT_VERSION);
    put_u32(out, 0);
    put_u64(out, seq);
    out.extend_from_slice(&state_hash);
    put_u64(out, 0); // body length, patched below
    body(out);
    let body_len = (out.len() - SNAPSHOT_HEADER_LEN) as u64;
    if let Some(slot) = out.get_mut(OFF_BODY_LEN..SNAPSHOT_HEADER_LEN) {
        slot.copy_from_slice(&body_len.to_le_bytes());
    }
    let sum = xxh3_64(out);
    put_u64(out, sum);
}

/// Frame an arbitrary `body` as a snapshot claiming `seq` and `state_hash`, with a correct
/// checksum. For tests and fuzzing only: it lets them reach the body decoder and the state-hash
/// check past the checksum; nothing in the engine calls it.
pub fn seal(seq: u64, state_hash: [u8; 16], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_LEN + body.len() + SNAPSHOT_TRAILER_LEN);
    frame(&mut out, seq, state_hash, |out| out.extend_from_slice(body));
    out
}

/// The body of a snapshot (between header and checksum), unchecked; empty if too short.
pub fn body(bytes: &[u8]) -> &[u8] {
    bytes.get(SNAPSHOT_HEADER_LEN..bytes.len().saturating_sub(SNAPSHOT_TRAILER_LEN)).unwrap_or(&[])
}

// Writing: infallible appends.

pub(crate) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}
pub(crate) fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(u8::from(v));
}
pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u128(out: &mut Vec<u8>, v: u128) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_i128(out: &mut Vec<u8>, v: i128) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// A collection's length. Engine collections are bounded far below `u32::MAX` (orders by ids
/// handed out one per input, books by 200 levels, pairs by `u16`); saturating keeps this total.
pub(crate) fn put_len(out: &mut Vec<u8>, len: usize) {
    put_u32(out, u32::try_from(len).unwrap_or(u32::MAX));
}
pub(crate) fn put_amount(out: &mut Vec<u8>, v: Amount) {
    put_i64(out, v.stroops());
}
pub(crate) fn put_price(out: &mut Vec<u8>, v: Price) {
    put_i32(out, v.n());
    put_i32(out, v.d());
}
pub(crate) fn put_opt_price(out: &mut Vec<u8>, v: Option<Price>) {
    put_bool(out, v.is_some());
    if let Some(p) = v {
        put_price(out, p);
    }
}
pub(crate) fn put_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    put_bool(out, v.is_some());
    put_i64(out, v.unwrap_or(0));
}
pub(crate) fn put_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    put_bool(out, v.is_some());
    put_u64(out, v.unwrap_or(0));
}
/// An asset: 0 native; 1 alphanum4 (4 code bytes, 32 issuer bytes); 2 alphanum12 (12, 32).
pub(crate) fn put_asset(out: &mut Vec<u8>, a: Asset) {
    match a {
        Asset::Native => put_u8(out, 0),
        Asset::CreditAlphanum4 { code, issuer } => {
            put_u8(out, 1);
            out.extend_from_slice(&code.to_xdr_bytes());
            out.extend_from_slice(issuer.as_bytes());
        }
        Asset::CreditAlphanum12 { code, issuer } => {
            put_u8(out, 2);
            out.extend_from_slice(&code.to_xdr_bytes());
            out.extend_from_slice(issuer.as_bytes());
        }
    }
}
pub(crate) fn put_pair(out: &mut Vec<u8>, p: Pair) {
    put_asset(out, p.selling());
    put_asset(out, p.buying());
}

/// A bounds-checked cursor over untrusted bytes: every read either succeeds or says the bytes
/// ran out; nothing here can panic or allocate more than the input's length allows.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.bytes.len() < n {
            return Err(corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn skip(&mut self, n: usize) -> Result<(), SnapshotError> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        self.take(N)?.try_into().map_err(|_| corrupt("truncated"))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(u8::from_le_bytes(self.array()?))
    }
    pub(crate) fn bool(&mut self) -> Result<bool, SnapshotError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(corrupt("a flag is neither 0 nor 1")),
        }
    }
    pub(crate) fn u16(&mut self) -> Result<u16, SnapshotError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn i32(&mut self) -> Result<i32, SnapshotError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub(crate) fn u128(&mut self) -> Result<u128, SnapshotError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    pub(crate) fn i128(&mut self) -> Result<i128, SnapshotError> {
        Ok(i128::from_le_bytes(self.array()?))
    }

    /// A collection's length, refused if even `elem_min_bytes` per element would not fit in
    /// what is left (so a forged count cannot make restore allocate).
    pub(crate) fn len(&mut self, elem_min_bytes: usize) -> Result<usize, SnapshotError> {
        let n = usize::try_from(self.u32()?).map_err(|_| corrupt("a count"))?;
        if n.saturating_mul(elem_min_bytes.max(1)) > self.bytes.len() {
            return Err(corrupt("a count runs past the end"));
        }
        Ok(n)
    }

    pub(crate) fn amount(&mut self) -> Result<Amount, SnapshotError> {
        Amount::from_stroops(self.i64()?).map_err(|_| corrupt("a negative amount"))
    }
    pub(crate) fn price(&mut self) -> Result<Price, SnapshotError> {
        let (n, d) = (self.i32()?, self.i32()?);
        Price::new(n, d).map_err(|_| corrupt("an invalid price"))
    }
    pub(crate) fn opt_price(&mut self) -> Result<Option<Price>, SnapshotError> {
        if self.bool()? { self.price().map(Some) } else { Ok(None) }
    }
    /// `Option<i64>` as a flag and a value; the value of `None` must be 0 (one encoding per state).
    pub(crate) fn opt_i64(&mut self) -> Result<Option<i64>, SnapshotError> {
        let (some, v) = (self.bool()?, self.i64()?);
        match (some, v) {
            (true, v) => Ok(Some(v)),
            (false, 0) => Ok(None),
            (false, _) => Err(corrupt("a value after an empty option")),
        }
    }
    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, SnapshotError> {
        let (some, v) = (self.bool()?, self.u64()?);
        match (some, v) {
            (true, v) => Ok(Some(v)),
            (false, 0) => Ok(None),
            (false, _) => Err(corrupt("a value after an empty option")),
        }
    }
    pub(crate) fn asset(&mut self) -> Result<Asset, SnapshotError> {
        match self.u8()? {
            0 => Ok(Asset::Native),
            1 => {
                let code = AssetCode4::from_xdr_bytes(self.array()?).map_err(|_| corrupt("an asset code"))?;
                Ok(Asset::CreditAlphanum4 { code, issuer: AccountId::from_bytes(self.array()?) })
            }
            2 => {
                let code = AssetCode12::from_xdr_bytes(self.array()?).map_err(|_| corrupt("an asset code"))?;
                Ok(Asset::CreditAlphanum12 { code, issuer: AccountId::from_bytes(self.array()?) })
            }
            _ => Err(corrupt("an asset type")),
        }
    }
    pub(crate) fn pair(&mut self) -> Result<Pair, SnapshotError> {
        let (selling, buying) = (self.asset()?, self.asset()?);
        Pair::new(selling, buying).map_err(|_| corrupt("a pair of one asset"))
    }
}
