//! The tailer: follows a journal that a writer — in this process or another — is appending to,
//! returning each record once it is committed. It takes no lock and the writer never waits for
//! it: it polls the commit watermark the writer publishes in each segment header (an atomic
//! store with Release; the tailer loads with Acquire) and moves to the next segment when the
//! writer marks the current one closed.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN, SegmentHeader};
use crate::mmap::SegmentMap;
use crate::reader::Record;
use crate::segment::{Cursor, Step, fault_text, list_segments, open_segment, read_header, segment_path, step};

#[derive(Debug)]
pub struct Tailer {
    dir: PathBuf,
    index: u64,
    path: PathBuf,
    map: SegmentMap,
    off: usize,
    cur: Cursor,
    min_seq: u64,
}

impl Tailer {
    /// Follow the journal in `dir`, starting at the first record with seq ≥ `from_seq`.
    pub fn open(dir: impl AsRef<Path>, from_seq: u64) -> Result<Tailer> {
        let dir = dir.as_ref().to_owned();
        let list = list_segments(&dir)?;
        if list.is_empty() {
            return Err(Error::Misuse(format!("{}: no journal segments here", dir.display())));
        }
        // The last segment whose first seq is ≤ from_seq (headers only).
        let mut chosen = list[0].clone();
        for (index, path) in &list {
            match read_header(path) {
                Ok(h) if h.first_seq <= from_seq => chosen = (*index, path.clone()),
                _ => break,
            }
        }
        let (index, path) = chosen;
        let (map, header) = open_segment(&path, index, false, false)?;
        Ok(Tailer {
            dir,
            index,
            path,
            map,
            off: SEGMENT_HEADER_LEN,
            cur: Cursor::at_segment_start(&header),
            min_seq: from_seq,
        })
    }

    /// The seq of the next record this tailer will return.
    pub fn next_seq(&self) -> u64 {
        self.cur.next_seq.max(self.min_seq)
    }

    /// The next committed record, or `None` if the writer has committed nothing more yet.
    pub fn poll(&mut self) -> Result<Option<Record<'_>>> {
        let (off, len, seq, kind, ts) = loop {
            // A watermark past the end of the file (a damaged header word) reads as the end.
            let watermark = self.map.watermark().min(self.map.len());
            if self.off < watermark {
                let frames = self.map.bytes(SEGMENT_HEADER_LEN, watermark);
                match step(&self.path, frames, &mut self.off, &mut self.cur, false)? {
                    Step::Record { off, frame } => {
                        if frame.seq >= self.min_seq {
                            break (off, frame.payload_len as usize, frame.seq, frame.kind, frame.timestamp_ns);
                        }
                    }
                    Step::Seal => {}
                    Step::End { off } => {
                        return Err(Error::corrupt(
                            &self.path,
                            off,
                            Some(self.cur.next_seq),
                            "no frame below the commit watermark",
                        ));
                    }
                    Step::Fault { off, fault } => {
                        return Err(Error::corrupt(&self.path, off, Some(self.cur.next_seq), fault_text(fault)));
                    }
                }
            } else if self.map.is_closed() {
                // The closed flag is stored after the segment's last watermark: re-read it
                // (bounded by the file, like the first read, or a damaged word loops forever).
                if self.map.watermark().min(self.map.len()) > self.off {
                    continue;
                }
                self.next_segment()?;
            } else {
                return Ok(None);
            }
        };
        let start = off + FRAME_HEADER_LEN;
        Ok(Some(Record { seq, kind, timestamp_ns: ts, payload: self.map.bytes(start, start + len) }))
    }

    fn next_segment(&mut self) -> Result<()> {
        let index = self.index + 1;
        let path = segment_path(&self.dir, index);
        let (map, header): (SegmentMap, SegmentHeader) = open_segment(&path, index, false, false)?;
        self.cur.check_continues(&path, &header, true)?;
        self.cur = Cursor::at_segment_start(&header);
        self.index = index;
        self.path = path;
        self.map = map;
        self.off = SEGMENT_HEADER_LEN;
        Ok(())
    }
}
