//! Segment files in a journal directory (naming, listing, opening with a checked header) and
//! the frame walk shared by recovery, readers, tailers and `verify`: one step decodes the next
//! frame and checks it against the running context (seq, previous checksum, timestamps, and
//! optionally the hash chain).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Location, Result};
use crate::format::{
    FH_KIND, FH_PAYLOAD_LEN, FORMAT_VERSION, FRAME_ALIGN, FRAME_HEADER_LEN, Frame, FrameFault, HeaderFault, KIND_SEAL,
    SEAL_BATCH_LEN, SEAL_CHAIN, SEAL_FIRST_SEQ, SEAL_FRAME_LEN, SEAL_PAYLOAD_LEN, SEGMENT_HEADER_LEN, SH_STABLE_LEN,
    SegmentHeader, chain_next, check_frame, hash_at, u64_at,
};
use crate::mmap::SegmentMap;

/// File name of segment `index`.
pub(crate) fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:012}.seg"))
}

/// The name of the advisory lock file the single writer holds.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// Segment files in `dir`, sorted by index; their indexes must be contiguous.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    let mut segs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".seg") else { continue };
        if stem.len() != 12 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(index) = stem.parse::<u64>() else { continue };
        segs.push((index, entry.path()));
    }
    segs.sort();
    for pair in segs.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            return Err(Error::corrupt(
                segment_path(dir, pair[0].0 + 1),
                0,
                None,
                "segment file missing (segment indexes are not contiguous)",
            ));
        }
    }
    Ok(segs)
}

/// Turn a header fault into the error a user sees.
pub(crate) fn header_error(path: &Path, fault: HeaderFault) -> Error {
    match fault {
        HeaderFault::Version(version) => {
            Error::Incompatible { segment: path.to_owned(), version, supported: FORMAT_VERSION }
        }
        HeaderFault::BadMagic => Error::corrupt(path, 0, None, "not a starlog journal segment (bad magic)"),
        HeaderFault::Truncated => Error::corrupt(path, 0, None, "truncated segment header"),
        HeaderFault::Zeroed => Error::corrupt(path, 0, None, "segment header is all zeros"),
        HeaderFault::BadChecksum => Error::corrupt(path, 0, None, "segment header checksum mismatch"),
        HeaderFault::Invalid(what) => Error::corrupt(path, 0, None, format!("segment header: invalid {what}")),
    }
}

/// Read and check just the header of a segment file (no map), for listing and bad-input checks.
pub(crate) fn read_header(path: &Path) -> std::result::Result<SegmentHeader, HeaderFault> {
    let mut buf = [0u8; SH_STABLE_LEN];
    let mut f = fs::File::open(path).map_err(|_| HeaderFault::Truncated)?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return Err(HeaderFault::Truncated),
        }
    }
    SegmentHeader::decode(&buf[..n])
}

/// Map a segment and check its header against its file name and size. `short_ok` accepts a
/// file cut shorter than its header says (the last segment of a copied or cut journal): the
/// missing bytes read as an end of data.
pub(crate) fn open_segment(
    path: &Path,
    index: u64,
    writable: bool,
    short_ok: bool,
) -> Result<(SegmentMap, SegmentHeader)> {
    let len = fs::metadata(path).map_err(|e| Error::io("stat segment", path, e))?.len();
    if len < SEGMENT_HEADER_LEN as u64 {
        return Err(Error::corrupt(path, 0, None, "truncated segment header"));
    }
    let map = SegmentMap::open(path, writable).map_err(|e| Error::io("map segment", path, e))?;
    let header = SegmentHeader::decode(map.header()).map_err(|f| header_error(path, f))?;
    if header.segment_index != index {
        return Err(Error::corrupt(
            path,
            0,
            None,
            format!("header says segment {}, file name says {index}", header.segment_index),
        ));
    }
    let short = short_ok && (map.len() as u64) < header.segment_size;
    if header.segment_size != map.len() as u64 && !short {
        return Err(Error::corrupt(
            path,
            0,
            None,
            format!("header says {} bytes, file has {}", header.segment_size, map.len()),
        ));
    }
    Ok((map, header))
}

/// Running context of a walk through frames, carried across segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub next_seq: u64,
    pub prev_sum: u32,
    pub last_ts: i64,
    /// Chain head as of the last seal.
    pub chain: [u8; 32],
    /// File offset of the first frame not yet covered by a seal (in the current segment).
    pub batch_start: usize,
    pub batch_first_seq: u64,
}

impl Cursor {
    pub fn at_segment_start(h: &SegmentHeader) -> Cursor {
        Cursor {
            next_seq: h.first_seq,
            prev_sum: h.prev_sum,
            last_ts: h.prev_timestamp_ns,
            chain: h.prev_chain,
            batch_start: SEGMENT_HEADER_LEN,
            batch_first_seq: h.first_seq,
        }
    }

    /// Does the segment header continue the walk that ended with `self`?
    pub fn check_continues(&self, path: &Path, h: &SegmentHeader, check_chain: bool) -> Result<()> {
        let what = if h.first_seq != self.next_seq {
            format!("segment starts at seq {}, expected {}", h.first_seq, self.next_seq)
        } else if h.prev_sum != self.prev_sum || h.prev_timestamp_ns != self.last_ts {
            "segment header does not continue the previous segment's last frame".to_owned()
        } else if check_chain && h.prev_chain != self.chain {
            "hash chain broken: segment header's chain head differs from the previous segment's".to_owned()
        } else {
            return Ok(());
        };
        Err(Error::corrupt(path, 0, Some(self.next_seq), what))
    }
}

/// One step of a walk.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step {
    /// A data record at this file offset.
    Record { off: usize, frame: Frame },
    /// A seal at this file offset.
    Seal,
    /// Nothing more at this offset: zero header, or the end of the readable range.
    End { off: usize },
    /// The bytes at this offset are not a valid frame (maybe a torn write).
    Fault { off: usize, fault: FrameFault },
}

/// Decode the frame at file offset `off` of `frames` (= file bytes `SEGMENT_HEADER_LEN..limit`)
/// and check it against `cur`; on success advance `cur` and return the step. Context errors (a
/// checksum-valid frame in the wrong place) are corruption, never a torn write.
#[inline(always)]
pub(crate) fn step(path: &Path, frames: &[u8], off: &mut usize, cur: &mut Cursor, verify_chain: bool) -> Result<Step> {
    let here = *off;
    let rel = here - SEGMENT_HEADER_LEN;
    if rel >= frames.len() {
        return Ok(Step::End { off: here });
    }
    let frame = match check_frame(frames, rel) {
        Ok(f) => f,
        Err(FrameFault::Zero) => return Ok(Step::End { off: here }),
        Err(fault) => return Ok(Step::Fault { off: here, fault }),
    };
    let bad = |seq: u64, what: String| Err(Error::corrupt(path, here, Some(seq), what));
    if frame.prev_sum != cur.prev_sum {
        return bad(cur.next_seq, format!("frame does not follow the previous frame (seq {} found here)", frame.seq));
    }
    if frame.kind == KIND_SEAL {
        let payload = &frames[rel + FRAME_HEADER_LEN..rel + FRAME_HEADER_LEN + SEAL_PAYLOAD_LEN];
        let first_seq = u64_at(payload, SEAL_FIRST_SEQ);
        let batch_len = u64_at(payload, SEAL_BATCH_LEN);
        let chain = hash_at(payload, SEAL_CHAIN);
        if cur.batch_start == here {
            return bad(cur.next_seq, "seal with no records before it".to_owned());
        }
        if frame.seq + 1 != cur.next_seq || frame.timestamp_ns != cur.last_ts {
            return bad(frame.seq, "seal does not follow the record before it".to_owned());
        }
        // A walk that jumped into the middle of a batch (by the sparse index) does not know the
        // batch's start; only a verifying walk, which starts at a segment start, checks it.
        if verify_chain {
            if first_seq != cur.batch_first_seq || batch_len != (here - cur.batch_start) as u64 {
                return bad(frame.seq, "seal does not describe the batch before it".to_owned());
            }
            let batch = &frames[cur.batch_start - SEGMENT_HEADER_LEN..rel];
            if chain_next(&cur.chain, batch) != chain {
                return Err(Error::corrupt(
                    path,
                    cur.batch_start,
                    Some(first_seq),
                    format!(
                        "hash chain broken in the batch of seqs {first_seq}..={} (sealed at offset {here})",
                        frame.seq
                    ),
                ));
            }
        }
        cur.chain = chain;
        cur.prev_sum = frame.sum;
        *off = here + frame.len_on_disk();
        cur.batch_start = *off;
        cur.batch_first_seq = cur.next_seq;
        return Ok(Step::Seal);
    }
    if frame.seq != cur.next_seq {
        return bad(cur.next_seq, format!("found seq {} where seq {} belongs", frame.seq, cur.next_seq));
    }
    if frame.timestamp_ns < cur.last_ts {
        return bad(
            frame.seq,
            format!("timestamp {} is before the previous record's {}", frame.timestamp_ns, cur.last_ts),
        );
    }
    cur.next_seq += 1;
    cur.prev_sum = frame.sum;
    cur.last_ts = frame.timestamp_ns;
    *off = here + frame.len_on_disk();
    Ok(Step::Record { off: here, frame })
}

/// What follows the first invalid frame of a last segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Only zeros: a clean end.
    Clean,
    /// Garbage up to file offset `end` and no valid seal in it: a torn, uncommitted tail.
    Torn { end: usize },
    /// A valid seal at this file offset lies beyond the bad frame: a committed batch is damaged.
    SealAfter { seal_off: usize },
}

/// Classify the bytes from file offset `from` to the end of `frames` (see FORMAT.md, recovery).
pub(crate) fn classify_tail(frames: &[u8], from: usize) -> Tail {
    let rel = from - SEGMENT_HEADER_LEN;
    if rel >= frames.len() {
        return Tail::Clean;
    }
    let Some(last_nonzero) = last_nonzero(&frames[rel..]) else {
        return Tail::Clean;
    };
    let end_rel = rel + last_nonzero + 1;
    let mut probe = rel + FRAME_ALIGN;
    while probe + FRAME_HEADER_LEN + SEAL_PAYLOAD_LEN <= end_rel {
        // Cheap filter on kind and length before the checksum.
        if frames[probe + FH_KIND..probe + FH_KIND + 2] == KIND_SEAL.to_le_bytes()
            && frames[probe + FH_PAYLOAD_LEN..probe + FH_PAYLOAD_LEN + 4] == (SEAL_PAYLOAD_LEN as u32).to_le_bytes()
            && check_frame(frames, probe).is_ok()
        {
            return Tail::SealAfter { seal_off: probe + SEGMENT_HEADER_LEN };
        }
        probe += FRAME_ALIGN;
    }
    Tail::Torn { end: end_rel + SEGMENT_HEADER_LEN }
}

/// Index of the last non-zero byte (a segment's unused tail is usually megabytes of zeros: scan
/// it a page at a time with an OR that vectorizes).
pub(crate) fn last_nonzero(bytes: &[u8]) -> Option<usize> {
    const CHUNK: usize = 4096;
    let mut end = bytes.len();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        if bytes[start..end].iter().fold(0u8, |acc, &b| acc | b) != 0 {
            return bytes[start..end].iter().rposition(|&b| b != 0).map(|i| start + i);
        }
        end = start;
    }
    None
}

/// The end of a last segment's frames by recovery's rules (FORMAT.md, "Recovery").
#[derive(Debug)]
pub(crate) struct LastSegment {
    /// File offset where valid frames end (appending resumes here).
    pub end: usize,
    /// The walk's state at `end`.
    pub cur: Cursor,
    /// A torn tail: where it starts (= `end`) and the offset just past its last non-zero byte.
    pub torn: Option<(Location, usize)>,
}

/// Walk the frames of a last segment that lie within `scan_len` bytes of the file, then decide
/// what the bytes after the walk's end are: a clean end, a torn tail (reported, not changed), or
/// damage before the tail (an error naming segment, offset and seq).
pub(crate) fn scan_last_segment(
    path: &Path,
    map: &SegmentMap,
    scan_len: usize,
    header: &SegmentHeader,
    verify_chain: bool,
) -> Result<LastSegment> {
    scan_last_segment_from(path, map, scan_len, SEGMENT_HEADER_LEN, Cursor::at_segment_start(header), verify_chain)
}

/// [`scan_last_segment`] from a point the walk `cur` reached at file offset `off`.
pub(crate) fn scan_last_segment_from(
    path: &Path,
    map: &SegmentMap,
    scan_len: usize,
    mut off: usize,
    mut cur: Cursor,
    verify_chain: bool,
) -> Result<LastSegment> {
    let frames = map.bytes(SEGMENT_HEADER_LEN, scan_len);
    let (stop, fault) = loop {
        match step(path, frames, &mut off, &mut cur, verify_chain)? {
            Step::Record { .. } | Step::Seal => {}
            Step::End { off } => break (off, None),
            Step::Fault { off, fault } => break (off, Some(fault)),
        }
    };
    if let Some(fault) = fault
        && !maybe_torn(fault)
    {
        return Err(Error::corrupt(path, stop, Some(cur.next_seq), fault_text(fault)));
    }
    // A frame whose padding was cut off with the end of a short file ends past the file.
    let end = stop.min(map.len());
    let torn = match classify_tail(map.bytes(SEGMENT_HEADER_LEN, map.len()), end) {
        Tail::Clean => None,
        Tail::Torn { end: torn_end } => {
            Some((Location { segment: path.to_owned(), offset: end as u64, seq: Some(cur.next_seq) }, torn_end))
        }
        Tail::SealAfter { seal_off } => {
            let what = fault.map_or_else(|| "missing frame".to_owned(), fault_text);
            return Err(Error::corrupt(
                path,
                end,
                Some(cur.next_seq),
                format!("{what}, but a committed batch follows (seal at offset {seal_off}): damage before the tail"),
            ));
        }
    };
    Ok(LastSegment { end, cur, torn })
}

/// Where a reader may start its scan of a last segment without checksumming the committed
/// frames again (iteration checks each one as it reads it): just past the seal that ends at the
/// header's commit watermark, with the walk's state that seal records. `None` — scan from the
/// start — unless a checksum-valid seal frame ends exactly there.
pub(crate) fn resume_at_watermark(map: &SegmentMap, header: &SegmentHeader) -> Option<(usize, Cursor)> {
    let watermark = map.watermark();
    if watermark < SEGMENT_HEADER_LEN + SEAL_FRAME_LEN || watermark > map.len() {
        return None;
    }
    let frames = map.bytes(SEGMENT_HEADER_LEN, watermark);
    let rel = watermark - SEGMENT_HEADER_LEN - SEAL_FRAME_LEN;
    if !rel.is_multiple_of(FRAME_ALIGN) {
        return None;
    }
    let seal = check_frame(frames, rel).ok()?;
    if seal.kind != KIND_SEAL || seal.len_on_disk() != SEAL_FRAME_LEN || seal.seq < header.first_seq {
        return None;
    }
    let payload = &frames[rel + FRAME_HEADER_LEN..rel + FRAME_HEADER_LEN + SEAL_PAYLOAD_LEN];
    let cur = Cursor {
        next_seq: seal.seq + 1,
        prev_sum: seal.sum,
        last_ts: seal.timestamp_ns,
        chain: hash_at(payload, SEAL_CHAIN),
        batch_start: watermark,
        batch_first_seq: seal.seq + 1,
    };
    Some((watermark, cur))
}

/// Human-readable reason for a frame fault.
pub(crate) fn fault_text(fault: FrameFault) -> String {
    match fault {
        FrameFault::Zero => "no frame here".to_owned(),
        FrameFault::Overrun => "frame length runs past the end of the segment".to_owned(),
        FrameFault::BadChecksum => "frame checksum mismatch".to_owned(),
        FrameFault::BadPadding => "non-zero bytes in frame padding".to_owned(),
        FrameFault::Invalid(what) => format!("invalid frame: {what}"),
    }
}

/// Can this fault be a write that was cut short (as opposed to damage to finished bytes)?
pub(crate) fn maybe_torn(fault: FrameFault) -> bool {
    matches!(fault, FrameFault::Overrun | FrameFault::BadChecksum)
}
