//! Readers over a snapshot of a journal: zero-copy iteration from any seq, random access by seq
//! through a sparse index, and `verify` (every checksum, every seq, the whole hash chain).
//!
//! The snapshot is taken at `open`: with a live writer it ends at the writer's published commit
//! watermark; with none it ends where recovery would cut the journal (a torn tail is reported,
//! not returned). Opening checks only what lies past the last commit; every record before it is
//! checked when it is read (iteration, `get`, `verify`), so damage there is reported then, with
//! the same segment, offset and seq.

use std::fs::{File, TryLockError};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc;

use crate::error::{Error, Location, Result};
use crate::format::{SEGMENT_HEADER_LEN, SegmentHeader};
use crate::mmap::SegmentMap;
use crate::segment::{
    Cursor, LOCK_FILE, Step, fault_text, list_segments, open_segment, resume_at_watermark, scan_last_segment_from, step,
};

/// One record, borrowed from the journal's memory map. `payload` starts 16-byte aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: u64,
    pub kind: u16,
    pub timestamp_ns: i64,
    pub payload: &'a [u8],
}

/// Every this many records a segment's sparse index keeps an entry.
const INDEX_STRIDE_RECORDS: u64 = 64;

/// [`JournalReader::read_ahead`] hands records over in chunks of this many, with at most
/// `READ_AHEAD_CHUNKS` checked chunks waiting: a few hundred KiB of frames, so that what the
/// helper checked is still in a cache the caller shares when the caller reads it.
const READ_AHEAD_CHUNK_RECORDS: usize = 256;
const READ_AHEAD_CHUNKS: usize = 4;

#[derive(Debug)]
struct SegView {
    path: PathBuf,
    map: SegmentMap,
    header: SegmentHeader,
    /// File offset where the readable frames end.
    limit: usize,
    /// (seq, file offset, previous checksum, previous timestamp) of every `INDEX_STRIDE_RECORDS`th record.
    sparse: OnceLock<Vec<(u64, usize, u32, i64)>>,
}

impl SegView {
    fn frames(&self) -> &[u8] {
        self.map.bytes(SEGMENT_HEADER_LEN, self.limit)
    }
}

/// What `verify` proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub segments: u64,
    pub records: u64,
    pub seals: u64,
    /// Bytes of frames checked (headers, payloads, padding, seals).
    pub bytes: u64,
    /// Seq of the first record (the first segment's start), and of the last one (0 if none).
    pub first_seq: u64,
    pub last_seq: u64,
    /// Chain head after the last seal, and the last seq it covers.
    pub chain_head: [u8; 32],
    pub chain_seq: u64,
    /// The first segment starts at the genesis chain head (not a pruned journal).
    pub from_genesis: bool,
    /// Whole records after the last seal (a crashed writer's; recovery seals them).
    pub unsealed_records: u64,
    /// A torn tail recovery would cut off, and its length.
    pub torn_tail: Option<(Location, u64)>,
    /// A writer held the journal open; the snapshot ends at its last commit.
    pub live_writer: bool,
}

/// A read-only snapshot of a journal.
#[derive(Debug)]
pub struct JournalReader {
    dir: PathBuf,
    segs: Vec<SegView>,
    live_writer: bool,
    torn_tail: Option<(Location, u64)>,
}

impl JournalReader {
    pub fn open(dir: impl AsRef<Path>) -> Result<JournalReader> {
        let dir = dir.as_ref().to_owned();
        let meta = std::fs::metadata(&dir).map_err(|e| Error::io("open journal directory", &dir, e))?;
        if !meta.is_dir() {
            return Err(Error::Misuse(format!("{} is not a directory", dir.display())));
        }
        // Hold a shared lock while we look, if no writer holds the exclusive one.
        let lock = File::open(dir.join(LOCK_FILE)).ok();
        let live_writer = match &lock {
            Some(f) => match f.try_lock_shared() {
                Ok(()) => false,
                Err(TryLockError::WouldBlock) => true,
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", dir.join(LOCK_FILE), e)),
            },
            None => false,
        };
        let list = list_segments(&dir)?;
        if list.is_empty() {
            return Err(Error::Misuse(format!("{}: no journal segments here", dir.display())));
        }
        let mut segs = Vec::with_capacity(list.len());
        let mut torn_tail = None;
        let last = list.len() - 1;
        for (i, (index, path)) in list.into_iter().enumerate() {
            let (map, header) = open_segment(&path, index, false, i == last)?;
            let limit = if i < last {
                map.len()
            } else if live_writer {
                map.watermark().clamp(SEGMENT_HEADER_LEN, map.len())
            } else {
                // No writer: the journal ends where recovery would end it. The frames up to the
                // commit watermark were sealed; iteration checks each of them as it reads it, so
                // the scan starts there (from the segment start if the watermark is not usable).
                let (off, cur) = resume_at_watermark(&map, &header)
                    .unwrap_or((SEGMENT_HEADER_LEN, Cursor::at_segment_start(&header)));
                let last = scan_last_segment_from(&path, &map, map.len(), off, cur, false)?;
                torn_tail = last.torn.map(|(at, torn_end)| (at, (torn_end - last.end) as u64));
                last.end
            };
            segs.push(SegView { path, map, header, limit, sparse: OnceLock::new() });
        }
        drop(lock);
        Ok(JournalReader { dir, segs, live_writer, torn_tail })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn segment_count(&self) -> usize {
        self.segs.len()
    }

    pub fn first_seq(&self) -> u64 {
        self.segs[0].header.first_seq
    }

    /// Iterate every record from the first.
    pub fn iter(&self) -> Iter<'_> {
        Iter::start(self, 0, SEGMENT_HEADER_LEN, Cursor::at_segment_start(&self.segs[0].header), 0)
    }

    /// Every record in order, as [`JournalReader::iter`] yields them, but read and checked
    /// (checksums, seqs, links, segment boundaries) on a helper thread, a few chunks ahead of
    /// `each`, which runs on the calling thread in seq order. For a caller whose own work per
    /// record is of the same order as the checking (replay: decoding and applying to an engine),
    /// the two overlap on two cores; the order and the records are exactly those of `iter`.
    ///
    /// `each` returning [`ControlFlow::Break`] stops the walk early (the helper stops at its next
    /// chunk) and is returned. A journal error is returned after every record before it has been
    /// handed to `each`, as `iter` would yield them.
    pub fn read_ahead<B>(&self, mut each: impl FnMut(Record<'_>) -> ControlFlow<B>) -> Result<ControlFlow<B>> {
        std::thread::scope(|scope| {
            let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<Record<'_>>, Option<Error>)>(READ_AHEAD_CHUNKS);
            let (empty_tx, empty_rx) = mpsc::channel::<Vec<Record<'_>>>();
            let checker = std::thread::Builder::new().name("journal-read-ahead".into());
            let spawned = checker.spawn_scoped(scope, move || {
                let mut records = self.iter();
                loop {
                    let mut chunk =
                        empty_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(READ_AHEAD_CHUNK_RECORDS));
                    chunk.clear();
                    let mut end = None;
                    while chunk.len() < READ_AHEAD_CHUNK_RECORDS {
                        match records.next() {
                            Some(Ok(r)) => chunk.push(r),
                            Some(Err(e)) => {
                                end = Some(Some(e));
                                break;
                            }
                            None => {
                                end = Some(None);
                                break;
                            }
                        }
                    }
                    let last = end.is_some();
                    // A send fails only once the caller stopped: nothing left to do.
                    if full_tx.send((chunk, end.flatten())).is_err() || last {
                        return;
                    }
                }
            });
            if let Err(e) = spawned {
                return Err(Error::io("start the read-ahead thread", &self.dir, e));
            }
            for (chunk, error) in full_rx.iter() {
                for &record in &chunk {
                    if let ControlFlow::Break(b) = each(record) {
                        return Ok(ControlFlow::Break(b));
                    }
                }
                if let Some(e) = error {
                    return Err(e);
                }
                let _ = empty_tx.send(chunk);
            }
            Ok(ControlFlow::Continue(()))
        })
    }

    /// Iterate from the first record with seq ≥ `seq`.
    pub fn iter_from(&self, seq: u64) -> Result<Iter<'_>> {
        let si = self.segs.partition_point(|s| s.header.first_seq <= seq).saturating_sub(1);
        let seg = &self.segs[si];
        let sparse = self.sparse_index(si)?;
        let mut cur = Cursor::at_segment_start(&seg.header);
        let mut off = SEGMENT_HEADER_LEN;
        let at = sparse.partition_point(|e| e.0 <= seq);
        if at > 0 {
            let (s, o, prev_sum, prev_ts) = sparse[at - 1];
            cur.next_seq = s;
            cur.prev_sum = prev_sum;
            cur.last_ts = prev_ts;
            // The walk only needs seqs and checksums here; batch bounds are verify's business.
            cur.batch_start = o;
            cur.batch_first_seq = s;
            off = o;
        }
        Ok(Iter::start(self, si, off, cur, seq))
    }

    /// The seal that closes the batch holding record `seq`: the last seq it covers and the chain
    /// head it records, as written (the chain itself is `verify`'s to check). `None` when the
    /// journal has no such record or no seal after it yet. What a derived file bound to a point
    /// of the journal (an engine snapshot) is checked against: another history has another head.
    pub fn seal_covering(&self, seq: u64) -> Result<Option<(u64, [u8; 32])>> {
        if seq < self.first_seq() {
            return Ok(None);
        }
        let mut it = self.iter_from(seq)?;
        let seg = &self.segs[it.seg];
        let frames = seg.frames();
        loop {
            match step(&seg.path, frames, &mut it.off, &mut it.cur, false)? {
                Step::Record { .. } => {}
                // Every batch ends with a seal in its own segment: one covering `seq` closes it.
                Step::Seal if it.cur.next_seq > seq => {
                    return Ok(Some((it.cur.next_seq - 1, it.cur.chain)));
                }
                Step::Seal => {}
                Step::End { off } => {
                    self.check_end(it.seg, off, it.cur.next_seq)?;
                    return Ok(None);
                }
                Step::Fault { off, fault } => {
                    return Err(Error::corrupt(&seg.path, off, Some(it.cur.next_seq), fault_text(fault)));
                }
            }
        }
    }

    /// The record with this seq, if the snapshot has it.
    pub fn get(&self, seq: u64) -> Result<Option<Record<'_>>> {
        match self.iter_from(seq)?.next() {
            Some(Ok(r)) if r.seq == seq => Ok(Some(r)),
            Some(Err(e)) => Err(e),
            _ => Ok(None),
        }
    }

    /// A walk of segment `si` found no frame at `off`. In the last segment that must be where
    /// its committed frames end (`limit`); earlier, committed frames are missing (the segments
    /// before it end wherever their last seal is, and the next header is checked against it).
    fn check_end(&self, si: usize, off: usize, seq: u64) -> Result<()> {
        let seg = &self.segs[si];
        if si + 1 == self.segs.len() && off < seg.limit {
            return Err(Error::corrupt(
                &seg.path,
                off,
                Some(seq),
                format!("no frame here, but committed frames run to offset {}", seg.limit),
            ));
        }
        Ok(())
    }

    fn sparse_index(&self, si: usize) -> Result<&Vec<(u64, usize, u32, i64)>> {
        let seg = &self.segs[si];
        if let Some(v) = seg.sparse.get() {
            return Ok(v);
        }
        let mut v = Vec::new();
        let mut cur = Cursor::at_segment_start(&seg.header);
        let mut off = SEGMENT_HEADER_LEN;
        let frames = seg.frames();
        loop {
            let (prev_sum, prev_ts) = (cur.prev_sum, cur.last_ts);
            match step(&seg.path, frames, &mut off, &mut cur, false)? {
                Step::Record { off, frame } => {
                    if (frame.seq - seg.header.first_seq).is_multiple_of(INDEX_STRIDE_RECORDS) {
                        v.push((frame.seq, off, prev_sum, prev_ts));
                    }
                }
                Step::Seal => {}
                Step::End { off } => {
                    self.check_end(si, off, cur.next_seq)?;
                    break;
                }
                Step::Fault { off, fault } => {
                    return Err(Error::corrupt(&seg.path, off, Some(cur.next_seq), fault_text(fault)));
                }
            }
        }
        Ok(seg.sparse.get_or_init(|| v))
    }

    /// Check every frame's checksum and place, every segment header, and the whole hash chain.
    /// The first problem is returned as `Error::Corrupt` naming segment, offset and seq.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.verify_with(|_, _| {})
    }

    /// [`JournalReader::verify`], telling `on_seal` each seal's chain head and the last seq it
    /// covers, in order (the first call is for the chain head the first segment starts from,
    /// with the seq before its first record): what a signed checkpoint or a ledger anchor of a
    /// chain head is checked against.
    pub fn verify_with(&self, mut on_seal: impl FnMut(u64, [u8; 32])) -> Result<VerifyReport> {
        let first = &self.segs[0].header;
        let mut cur = Cursor::at_segment_start(first);
        let mut report = VerifyReport {
            segments: self.segs.len() as u64,
            records: 0,
            seals: 0,
            bytes: 0,
            first_seq: first.first_seq,
            last_seq: 0,
            chain_head: first.prev_chain,
            chain_seq: first.first_seq - 1,
            from_genesis: first.segment_index == 0 && first.prev_chain == crate::format::GENESIS_CHAIN,
            unsealed_records: 0,
            torn_tail: self.torn_tail.clone(),
            live_writer: self.live_writer,
        };
        on_seal(report.chain_seq, report.chain_head);
        for (i, seg) in self.segs.iter().enumerate() {
            if i > 0 {
                cur.check_continues(&seg.path, &seg.header, true)?;
                cur.batch_start = SEGMENT_HEADER_LEN;
                cur.batch_first_seq = cur.next_seq;
            }
            let frames = seg.frames();
            let mut off = SEGMENT_HEADER_LEN;
            let end = loop {
                match step(&seg.path, frames, &mut off, &mut cur, true)? {
                    Step::Record { .. } => report.records += 1,
                    Step::Seal => {
                        report.seals += 1;
                        on_seal(cur.batch_first_seq - 1, cur.chain);
                    }
                    Step::End { off } => {
                        self.check_end(i, off, cur.next_seq)?;
                        break off;
                    }
                    Step::Fault { off, fault } => {
                        return Err(Error::corrupt(&seg.path, off, Some(cur.next_seq), fault_text(fault)));
                    }
                }
            };
            report.bytes += (end - SEGMENT_HEADER_LEN) as u64;
            let unsealed = cur.next_seq - cur.batch_first_seq;
            if i + 1 < self.segs.len() {
                if unsealed > 0 {
                    return Err(Error::corrupt(
                        &seg.path,
                        end,
                        Some(cur.next_seq),
                        "segment ends with records no seal covers",
                    ));
                }
                let rest = seg.map.bytes(end, seg.map.len());
                if let Some(p) = crate::segment::last_nonzero(rest) {
                    return Err(Error::corrupt(
                        &seg.path,
                        end + p,
                        Some(cur.next_seq),
                        "non-zero bytes after the last frame of a closed segment",
                    ));
                }
            } else {
                report.unsealed_records = unsealed;
            }
        }
        report.last_seq = cur.next_seq - 1;
        report.chain_head = cur.chain;
        report.chain_seq = cur.batch_first_seq - 1;
        Ok(report)
    }
}

/// Zero-copy iterator over a reader's records. Stops after the first error.
#[derive(Debug)]
pub struct Iter<'a> {
    reader: &'a JournalReader,
    seg: usize,
    off: usize,
    cur: Cursor,
    min_seq: u64,
    done: bool,
}

impl<'a> Iter<'a> {
    fn start(reader: &'a JournalReader, seg: usize, off: usize, cur: Cursor, min_seq: u64) -> Iter<'a> {
        Iter { reader, seg, off, cur, min_seq, done: false }
    }

    fn advance(&mut self) -> Result<Option<Record<'a>>> {
        loop {
            let seg = &self.reader.segs[self.seg];
            let frames = seg.frames();
            match step(&seg.path, frames, &mut self.off, &mut self.cur, false)? {
                Step::Record { off, frame } => {
                    if frame.seq < self.min_seq {
                        continue;
                    }
                    let start = off - SEGMENT_HEADER_LEN + crate::format::FRAME_HEADER_LEN;
                    return Ok(Some(Record {
                        seq: frame.seq,
                        kind: frame.kind,
                        timestamp_ns: frame.timestamp_ns,
                        payload: &frames[start..start + frame.payload_len as usize],
                    }));
                }
                Step::Seal => {}
                Step::End { off } => {
                    if self.seg + 1 >= self.reader.segs.len() {
                        self.reader.check_end(self.seg, off, self.cur.next_seq)?;
                        return Ok(None);
                    }
                    self.seg += 1;
                    let next = &self.reader.segs[self.seg];
                    self.cur.check_continues(&next.path, &next.header, false)?;
                    self.cur.batch_start = SEGMENT_HEADER_LEN;
                    self.cur.batch_first_seq = self.cur.next_seq;
                    self.off = SEGMENT_HEADER_LEN;
                }
                Step::Fault { off, fault } => {
                    return Err(Error::corrupt(&seg.path, off, Some(self.cur.next_seq), fault_text(fault)));
                }
            }
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
