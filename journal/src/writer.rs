//! The single writer: opening (with crash recovery), appending records, group commit under a
//! durability policy, sealing batches into the hash chain, and rolling to a new segment.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use crate::error::{Error, Location, Result};
use crate::format::{
    FRAME_HEADER_LEN, GENESIS_CHAIN, HeaderFault, KIND_RESERVED_MIN, KIND_SEAL, SEAL_BATCH_LEN, SEAL_CHAIN,
    SEAL_FIRST_SEQ, SEAL_FRAME_LEN, SEAL_PAYLOAD_LEN, SEGMENT_HEADER_LEN, SEGMENT_SIZE_BYTES_MAX,
    SEGMENT_SIZE_BYTES_MIN, STATE_CLOSED, SegmentHeader, align_frame, chain_next, payload_len_max, seal_frame_header,
};
use crate::mmap::SegmentMap;
use crate::segment::{
    Cursor, LOCK_FILE, header_error, list_segments, open_segment, read_header, scan_last_segment, segment_path,
};

/// When appended records become durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Never sync: records survive a process crash (they are in the page cache) but not a
    /// power loss or kernel crash.
    None,
    /// Group commit: each `commit` syncs the batch appended since the previous one.
    Batch,
    /// Every `append` commits (and syncs) before it returns.
    Always,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "none" => Ok(Durability::None),
            "batch" => Ok(Durability::Batch),
            "always" => Ok(Durability::Always),
            other => Err(format!("unknown durability {other:?} (expected none, batch or always)")),
        }
    }
}

/// Called after every sync that completed, with the segment file and the byte range made durable
/// (the kernel syncs whole pages around it). A seam for crash and fault tests: a test can keep a
/// "durable image" of each file from these calls, or return an error, which the writer then
/// treats as that sync's failure.
pub type SyncHook = Arc<dyn Fn(&Path, Range<usize>) -> std::io::Result<()> + Send + Sync>;

/// How to open a journal for writing.
#[derive(Clone)]
pub struct JournalOptions {
    /// Size of each new segment file in bytes: a multiple of 4096, at most 2 GiB.
    pub segment_size_bytes: u64,
    pub durability: Durability,
    /// Crash-test seam; `None` in production.
    pub sync_hook: Option<SyncHook>,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions { segment_size_bytes: 64 << 20, durability: Durability::Batch, sync_hook: None }
    }
}

impl fmt::Debug for JournalOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalOptions")
            .field("segment_size_bytes", &self.segment_size_bytes)
            .field("durability", &self.durability)
            .field("sync_hook", &self.sync_hook.is_some())
            .finish()
    }
}

/// What `JournalWriter::open` found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The journal did not exist and was created.
    pub created: bool,
    pub segments: u64,
    /// The seq the next append will get.
    pub next_seq: u64,
    /// A torn tail that was cut off: where it started and how many bytes were dropped.
    pub truncated: Option<(Location, u64)>,
    /// Whole records found after the last seal, sealed now.
    pub resealed_records: u64,
    /// A segment whose creation never completed (header not on disk), removed.
    pub removed_segment: Option<PathBuf>,
}

/// The result of a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Every record up to and including this seq is committed (0: none yet).
    pub last_seq: u64,
    /// Chain head after that record.
    pub chain_head: [u8; 32],
}

/// The journal's only writer (an advisory lock keeps it that way across processes).
pub struct JournalWriter {
    dir: PathBuf,
    opts: JournalOptions,
    _lock: File,
    index: u64,
    path: PathBuf,
    map: SegmentMap,
    /// File offset where the next frame goes.
    off: usize,
    cur: Cursor,
    poisoned: Option<String>,
    preparer: Preparer,
    /// Once `off` passes this, the next segment is prepared in the background.
    prepare_at: usize,
    /// The largest payload that fits in this segment and in the next ones.
    payload_max: usize,
}

/// Prepares the next segment file on a background thread — create, allocate, map, prefault —
/// so that a roll costs the writer a rename and a header instead of thousands of page faults.
/// The file is named `*.pre` until the roll renames it; recovery deletes leftovers.
struct Preparer {
    size: u64,
    failed: bool,
    req: Option<mpsc::Sender<PathBuf>>,
    done: mpsc::Receiver<(PathBuf, std::io::Result<SegmentMap>)>,
    thread: Option<JoinHandle<()>>,
    in_flight: Option<PathBuf>,
}

impl Preparer {
    fn new(size: u64) -> Preparer {
        let (_, done) = mpsc::channel();
        Preparer { size, req: None, done, thread: None, in_flight: None, failed: false }
    }

    /// The thread starts with the first request (a short-lived writer never needs one).
    fn spawn(&mut self) {
        let (req, req_rx) = mpsc::channel::<PathBuf>();
        let (done_tx, done) = mpsc::channel();
        let size = self.size;
        let thread = std::thread::Builder::new().name("journal-prefault".to_owned()).spawn(move || {
            for path in req_rx {
                let map = SegmentMap::create(&path, size);
                if done_tx.send((path, map)).is_err() {
                    break;
                }
            }
        });
        match thread {
            Ok(t) => {
                self.thread = Some(t);
                self.req = Some(req);
                self.done = done;
            }
            // No thread: segments are created in the foreground instead.
            Err(_) => self.failed = true,
        }
    }

    fn request(&mut self, path: PathBuf) {
        if self.thread.is_none() && !self.failed {
            self.spawn();
        }
        if self.in_flight.is_none()
            && let Some(req) = &self.req
            && req.send(path.clone()).is_ok()
        {
            self.in_flight = Some(path);
        }
    }

    /// The prepared map and its `.pre` path, waiting for the thread if it is still at work.
    fn take(&mut self) -> Option<(PathBuf, SegmentMap)> {
        self.in_flight.take()?;
        match self.done.recv() {
            Ok((path, Ok(map))) => Some((path, map)),
            Ok((path, Err(_))) => {
                // Creating it again in the foreground will report the error properly.
                let _ = fs::remove_file(path);
                None
            }
            Err(_) => None,
        }
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        if let Some((path, map)) = self.take() {
            drop(map);
            let _ = fs::remove_file(path);
        }
        self.req = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// File name of the prepared, not yet used, segment `index`.
fn prepared_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:012}.pre"))
}

impl fmt::Debug for JournalWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalWriter")
            .field("dir", &self.dir)
            .field("segment", &self.index)
            .field("offset", &self.off)
            .field("next_seq", &self.cur.next_seq)
            .finish()
    }
}

impl JournalWriter {
    /// Open the journal in `dir` for appending, creating it if `dir` has no segments, and
    /// recover from a crash: a torn tail is cut off; damage to committed records is an error.
    pub fn open(dir: impl AsRef<Path>, opts: JournalOptions) -> Result<(JournalWriter, Recovery)> {
        let dir = dir.as_ref().to_owned();
        let size = opts.segment_size_bytes;
        if !(SEGMENT_SIZE_BYTES_MIN..=SEGMENT_SIZE_BYTES_MAX).contains(&size)
            || !size.is_multiple_of(SEGMENT_SIZE_BYTES_MIN)
        {
            return Err(Error::Misuse(format!(
                "segment size {size} bytes: must be a multiple of 4096 between {SEGMENT_SIZE_BYTES_MIN} and {SEGMENT_SIZE_BYTES_MAX}"
            )));
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| Error::io("open lock file", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Error::Locked { path: dir }),
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path, e)),
        }
        let mut report = Recovery::default();
        remove_prepared(&dir)?;
        let mut segs = list_segments(&dir)?;
        // A last segment whose header never reached the disk is an interrupted roll (or an
        // interrupted creation of the journal): remove it if nothing else is in it.
        if let Some((_, path)) = segs.last()
            && let Err(HeaderFault::Zeroed | HeaderFault::Truncated) = read_header(path)
        {
            let bytes = fs::read(path).map_err(|e| Error::io("read segment", path, e))?;
            if bytes.iter().all(|&b| b == 0) {
                fs::remove_file(path).map_err(|e| Error::io("remove unfinished segment", path, e))?;
                report.removed_segment = Some(path.clone());
                segs.pop();
            }
        }
        for (index, path) in &segs {
            let h = read_header(path).map_err(|f| header_error(path, f))?;
            if h.segment_index != *index {
                return Err(Error::corrupt(path, 0, None, "segment index does not match its file name"));
            }
        }
        let mut writer = match segs.last() {
            None => {
                report.created = true;
                let header = SegmentHeader {
                    segment_index: 0,
                    segment_size: size,
                    first_seq: 1,
                    prev_chain: GENESIS_CHAIN,
                    prev_sum: 0,
                    prev_timestamp_ns: i64::MIN,
                };
                let map = create_segment(&dir, &header, &opts)?;
                JournalWriter {
                    path: segment_path(&dir, 0),
                    dir,
                    opts,
                    _lock: lock,
                    index: 0,
                    map,
                    off: SEGMENT_HEADER_LEN,
                    cur: Cursor::at_segment_start(&header),
                    poisoned: None,
                    preparer: Preparer::new(size),
                    prepare_at: size as usize / 2,
                    payload_max: 0,
                }
            }
            Some((index, path)) => {
                let (map, header) = open_segment(path, *index, true, true)?;
                // A last segment cut short (a partial copy): give it back its full size.
                let file_len = map.len();
                let mut map = if (map.len() as u64) < header.segment_size {
                    drop(map);
                    crate::mmap::extend_file(path, header.segment_size)
                        .map_err(|e| Error::io("extend segment", path, e))?;
                    open_segment(path, *index, true, false)?.0
                } else {
                    map
                };
                let (off, cur) = recover_segment(path, &mut map, file_len, &header, &opts, &mut report)?;
                if segs.len() >= 2 {
                    // A tailer waits for this flag before moving on; a crash may have lost it.
                    let (prev, _) = open_segment(&segs[segs.len() - 2].1, index - 1, true, false)?;
                    prev.set_state(STATE_CLOSED);
                }
                JournalWriter {
                    path: path.clone(),
                    dir,
                    opts,
                    _lock: lock,
                    index: *index,
                    map,
                    off,
                    cur,
                    poisoned: None,
                    preparer: Preparer::new(size),
                    prepare_at: size as usize / 2,
                    payload_max: 0,
                }
            }
        };
        writer.payload_max = payload_len_max(writer.map.len() as u64).min(payload_len_max(size));
        writer.map.set_state(0);
        writer.map.set_watermark(writer.cur.batch_start);
        report.resealed_records = writer.cur.next_seq - writer.cur.batch_first_seq;
        if report.resealed_records > 0 {
            writer.commit()?;
        }
        report.segments = segs.len().max(1) as u64;
        report.next_seq = writer.cur.next_seq;
        Ok((writer, report))
    }

    /// The seq the next append will get.
    pub fn next_seq(&self) -> u64 {
        self.cur.next_seq
    }

    /// The largest payload one record may carry with this journal's segment size.
    pub fn payload_len_max(&self) -> usize {
        self.payload_max
    }

    /// Chain head and seq of the last committed record.
    pub fn chain_head(&self) -> Commit {
        Commit { last_seq: self.cur.batch_first_seq - 1, chain_head: self.cur.chain }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Append one record; returns its seq. `timestamp_ns` is the ingress time the caller stamped
    /// (the journal never reads a clock) and may not go backwards.
    pub fn append(&mut self, kind: u16, timestamp_ns: i64, payload: &[u8]) -> Result<u64> {
        self.append_with(kind, timestamp_ns, payload.len(), |buf| buf.copy_from_slice(payload))
    }

    /// Append a record of `len` bytes written in place by `fill` (which gets a zeroed,
    /// 16-byte-aligned buffer of exactly `len` bytes): serialize straight into the journal.
    pub fn append_with(
        &mut self,
        kind: u16,
        timestamp_ns: i64,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<u64> {
        self.check_usable()?;
        if kind >= KIND_RESERVED_MIN || timestamp_ns < self.cur.last_ts || len > self.payload_max {
            return Err(self.refuse_append(kind, timestamp_ns, len));
        }
        let frame_len = align_frame(FRAME_HEADER_LEN + len);
        if self.off + frame_len + SEAL_FRAME_LEN > self.map.len() {
            self.roll()?;
        }
        let seq = self.cur.next_seq;
        let start = self.off;
        let buf = self.map.bytes_mut(start, start + FRAME_HEADER_LEN + len);
        fill(&mut buf[FRAME_HEADER_LEN..]);
        let sum = seal_frame_header(buf, kind, seq, timestamp_ns, self.cur.prev_sum, len as u32);
        self.cur.prev_sum = sum;
        self.cur.last_ts = timestamp_ns;
        self.cur.next_seq = seq + 1;
        self.off = start + frame_len;
        if self.off >= self.prepare_at {
            self.prepare_at = usize::MAX;
            self.preparer.request(prepared_path(&self.dir, self.index + 1));
        }
        if self.opts.durability == Durability::Always {
            self.commit()?;
        }
        Ok(seq)
    }

    /// Make every appended record committed: seal the batch into the hash chain, sync it as the
    /// durability policy says, and publish it to readers and tailers.
    pub fn commit(&mut self) -> Result<Commit> {
        self.check_usable()?;
        if self.cur.batch_start == self.off {
            return Ok(self.chain_head());
        }
        let result = self.commit_inner();
        self.latch(result)
    }

    fn commit_inner(&mut self) -> Result<Commit> {
        let sync = self.opts.durability != Durability::None;
        let (batch_start, seal_off) = (self.cur.batch_start, self.off);
        // 1. The records reach the disk before the seal that vouches for them is written.
        if sync {
            self.sync(batch_start, seal_off)?;
        }
        let chain = chain_next(&self.cur.chain, self.map.bytes(batch_start, seal_off));
        let last_seq = self.cur.next_seq - 1;
        let buf = self.map.bytes_mut(seal_off, seal_off + FRAME_HEADER_LEN + SEAL_PAYLOAD_LEN);
        let payload = &mut buf[FRAME_HEADER_LEN..];
        payload[SEAL_CHAIN..SEAL_CHAIN + 32].copy_from_slice(&chain);
        payload[SEAL_FIRST_SEQ..SEAL_FIRST_SEQ + 8].copy_from_slice(&self.cur.batch_first_seq.to_le_bytes());
        payload[SEAL_BATCH_LEN..SEAL_BATCH_LEN + 8].copy_from_slice(&((seal_off - batch_start) as u64).to_le_bytes());
        let sum =
            seal_frame_header(buf, KIND_SEAL, last_seq, self.cur.last_ts, self.cur.prev_sum, SEAL_PAYLOAD_LEN as u32);
        // 2. The seal itself.
        if sync {
            self.sync(seal_off, seal_off + SEAL_FRAME_LEN)?;
        }
        self.off = seal_off + SEAL_FRAME_LEN;
        self.cur.prev_sum = sum;
        self.cur.chain = chain;
        self.cur.batch_start = self.off;
        self.cur.batch_first_seq = self.cur.next_seq;
        self.map.set_watermark(self.off);
        Ok(Commit { last_seq, chain_head: chain })
    }

    fn sync(&self, start: usize, end: usize) -> Result<()> {
        let synced = self.map.sync(start, end).and_then(|()| match &self.opts.sync_hook {
            Some(hook) => hook(&self.path, start..end),
            None => Ok(()),
        });
        synced.map_err(|e| Error::io("sync segment", &self.path, e))
    }

    /// Seal and close the current segment and continue in a new one.
    fn roll(&mut self) -> Result<()> {
        self.commit()?;
        let result = self.roll_inner();
        self.latch(result)
    }

    fn roll_inner(&mut self) -> Result<()> {
        let header = SegmentHeader {
            segment_index: self.index + 1,
            segment_size: self.opts.segment_size_bytes,
            first_seq: self.cur.next_seq,
            prev_chain: self.cur.chain,
            prev_sum: self.cur.prev_sum,
            prev_timestamp_ns: self.cur.last_ts,
        };
        let map = match self.preparer.take() {
            Some((pre, map)) => {
                let path = segment_path(&self.dir, header.segment_index);
                fs::rename(&pre, &path).map_err(|e| Error::io("rename prepared segment", &pre, e))?;
                init_segment(&self.dir, &path, map, &header, &self.opts)?
            }
            None => create_segment(&self.dir, &header, &self.opts)?,
        };
        self.prepare_at = map.len() / 2;
        self.map.set_state(STATE_CLOSED);
        self.index += 1;
        self.path = segment_path(&self.dir, self.index);
        self.map = map;
        self.off = SEGMENT_HEADER_LEN;
        self.cur = Cursor::at_segment_start(&header);
        Ok(())
    }

    /// Why `append_with` refused its arguments (kept off the append path).
    #[cold]
    #[inline(never)]
    fn refuse_append(&self, kind: u16, timestamp_ns: i64, len: usize) -> Error {
        if kind >= KIND_RESERVED_MIN {
            Error::Misuse(format!("record kind {kind:#06x} is reserved for the journal"))
        } else if timestamp_ns < self.cur.last_ts {
            Error::Misuse(format!(
                "timestamp {timestamp_ns} ns is before the previous record's {} ns",
                self.cur.last_ts
            ))
        } else {
            Error::Misuse(format!("payload of {len} bytes exceeds the maximum of {}", self.payload_max))
        }
    }

    fn check_usable(&self) -> Result<()> {
        match &self.poisoned {
            Some(first) => Err(Error::Poisoned { first: first.clone() }),
            None => Ok(()),
        }
    }

    /// The first I/O error latches: the writer refuses further work until reopened, because the
    /// state of the bytes it tried to write is unknown.
    fn latch<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e @ Error::Io { .. }) = &result {
            self.poisoned = Some(e.to_string());
        }
        result
    }
}

impl Drop for JournalWriter {
    /// Records appended but not committed are sealed (best effort; a failure here is what
    /// recovery is for).
    fn drop(&mut self) {
        if self.poisoned.is_none() {
            let _ = self.commit();
        }
    }
}

/// Create, allocate and map segment file, write its header and (unless durability is `None`)
/// make the file and its directory entry durable.
fn create_segment(dir: &Path, header: &SegmentHeader, opts: &JournalOptions) -> Result<SegmentMap> {
    let path = segment_path(dir, header.segment_index);
    let map = SegmentMap::create(&path, header.segment_size).map_err(|e| Error::io("create segment", &path, e))?;
    init_segment(dir, &path, map, header, opts)
}

/// Remove prepared segments a previous writer left behind.
fn remove_prepared(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "pre") {
            fs::remove_file(&path).map_err(|e| Error::io("remove prepared segment", &path, e))?;
        }
    }
    Ok(())
}

/// Write a new segment's header into its map and make the file and its name durable.
fn init_segment(
    dir: &Path,
    path: &Path,
    mut map: SegmentMap,
    header: &SegmentHeader,
    opts: &JournalOptions,
) -> Result<SegmentMap> {
    let path = path.to_owned();
    header.encode(map.bytes_mut(0, crate::format::SH_STABLE_LEN));
    map.set_watermark(SEGMENT_HEADER_LEN);
    if opts.durability != Durability::None {
        map.sync(0, SEGMENT_HEADER_LEN).map_err(|e| Error::io("sync segment", &path, e))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("sync directory", dir, e))?;
        if let Some(hook) = &opts.sync_hook {
            hook(&path, 0..SEGMENT_HEADER_LEN).map_err(|e| Error::io("sync segment", &path, e))?;
        }
    }
    Ok(map)
}

/// Scan the last segment, cut off a torn tail, and return where appending resumes.
fn recover_segment(
    path: &Path,
    map: &mut SegmentMap,
    file_len: usize,
    header: &SegmentHeader,
    opts: &JournalOptions,
    report: &mut Recovery,
) -> Result<(usize, Cursor)> {
    // Frames must lie within the file as it was found (a cut file was just extended).
    let last = scan_last_segment(path, map, file_len, header, true)?;
    if let Some((at, torn_end)) = last.torn {
        // Zero the torn bytes so the invariant "everything past the last frame is zero" holds
        // again, and make that durable before anything is appended after it.
        map.bytes_mut(last.end, torn_end).fill(0);
        if opts.durability != Durability::None {
            map.sync(last.end, torn_end).map_err(|e| Error::io("sync segment", path, e))?;
        }
        report.truncated = Some((at, (torn_end - last.end) as u64));
    }
    Ok((last.end, last.cur))
}
