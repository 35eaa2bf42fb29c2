//! The one module with `unsafe`: memory maps of segment files, the atomic volatile words in
//! the segment header (commit watermark, closed flag), and `fallocate`.
//!
//! The contract that makes the maps sound is the journal's own: a segment file is written only
//! by the journal writer that holds the directory's lock, and only *beyond* its published
//! watermark (append-only; recovery zeroes a torn tail before publishing anything past it).
//! Readers and tailers, in this process or another, build slices only over bytes below a
//! watermark they loaded with `Acquire`, or over a closed segment, or (with no live writer) over
//! a file nobody writes. The volatile header words are touched only through atomics and are
//! never inside a slice handed out by this module.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{Advice, MmapOptions, MmapRaw};

use crate::format::{SEGMENT_HEADER_LEN, SH_STABLE_LEN, SH_STATE, SH_WATERMARK, STATE_CLOSED};

/// A mapping of one whole segment file.
#[derive(Debug)]
pub(crate) struct SegmentMap {
    raw: MmapRaw,
    len: usize,
    // Kept open so the mapping's file stays the same inode for the map's life.
    _file: File,
}

impl SegmentMap {
    /// Create a new segment file of `size` bytes (must not exist), allocate its blocks and map
    /// it writable with every page faulted in for writing, so that the writer never takes a page
    /// fault (nor waits for the kernel to zero a page) on its path.
    pub fn create(path: &Path, size: u64) -> io::Result<SegmentMap> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        allocate(&file, size)?;
        let map = Self::map(file, size, true)?;
        // MADV_POPULATE_WRITE (Linux 5.14+) prefaults writable without touching the data; on
        // older kernels fall back to read-population (the write fault remains, the zeroing not).
        if map.raw.advise(Advice::PopulateWrite).is_err() {
            let _ = map.raw.advise(Advice::PopulateRead);
        }
        Ok(map)
    }

    /// Map an existing segment file, writable (for the writer) or read-only.
    pub fn open(path: &Path, writable: bool) -> io::Result<SegmentMap> {
        let file = OpenOptions::new().read(true).write(writable).open(path)?;
        let size = file.metadata()?.len();
        Self::map(file, size, writable)
    }

    fn map(file: File, size: u64, writable: bool) -> io::Result<SegmentMap> {
        if size < SEGMENT_HEADER_LEN as u64 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file is shorter than a segment header"));
        }
        let len = usize::try_from(size).map_err(|_| io::Error::other("segment too large"))?;
        let mut opts = MmapOptions::new();
        opts.len(len);
        let raw = if writable { opts.map_raw(&file)? } else { opts.map_raw_read_only(&file)? };
        // The page-aligned base is what makes 16-byte frame alignment in the file an alignment
        // in memory, and the 8-aligned volatile words valid atomics.
        assert!((raw.as_ptr() as usize).is_multiple_of(4096));
        Ok(SegmentMap { raw, len, _file: file })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The stable (checksummed) part of the header.
    pub fn header(&self) -> &[u8] {
        self.bytes(0, SH_STABLE_LEN)
    }

    /// Bytes `start..end` of the file. Callers pass only ranges that no one writes while the
    /// slice lives (see the module contract); the volatile header words are excluded by assertion.
    pub fn bytes(&self, start: usize, end: usize) -> &[u8] {
        assert!(start <= end && end <= self.len);
        assert!(end <= SH_WATERMARK || start >= SEGMENT_HEADER_LEN, "slice over volatile header words");
        // SAFETY: the range is inside the mapping (asserted), the mapping lives as long as
        // `self`, and by the module contract nobody writes these bytes while the slice lives: the
        // writer only writes past its published watermark through `bytes_mut`, which needs
        // `&mut self` on the writer's own map, and callers only ask for committed/closed ranges.
        unsafe { std::slice::from_raw_parts(self.raw.as_ptr().add(start), end - start) }
    }

    /// Writable bytes `start..end`, for the writer only.
    pub fn bytes_mut(&mut self, start: usize, end: usize) -> &mut [u8] {
        assert!(start <= end && end <= self.len);
        assert!(end <= SH_WATERMARK || start >= SEGMENT_HEADER_LEN, "slice over volatile header words");
        // SAFETY: in range (asserted); `&mut self` excludes every other slice of this map in this
        // process; other mappings (readers, tailers, other processes) never view bytes past the
        // watermark, which is the only place the writer writes.
        unsafe { std::slice::from_raw_parts_mut(self.raw.as_mut_ptr().add(start), end - start) }
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        assert!(off.is_multiple_of(8) && off + 8 <= SEGMENT_HEADER_LEN);
        // SAFETY: `off` is 8-aligned inside the page-aligned mapping (asserted here and at map
        // time), the mapping outlives the reference, and these header words are accessed only
        // through atomics, in every process, never through a slice.
        unsafe { AtomicU64::from_ptr(self.raw.as_mut_ptr().add(off).cast::<u64>()) }
    }

    /// The end offset of committed frames, as last published by the writer.
    pub fn watermark(&self) -> usize {
        self.word(SH_WATERMARK).load(Ordering::Acquire) as usize
    }

    pub fn set_watermark(&self, end: usize) {
        self.word(SH_WATERMARK).store(end as u64, Ordering::Release);
    }

    pub fn is_closed(&self) -> bool {
        self.word(SH_STATE).load(Ordering::Acquire) & STATE_CLOSED != 0
    }

    pub fn set_state(&self, state: u64) {
        self.word(SH_STATE).store(state, Ordering::Release);
    }

    /// msync(MS_SYNC) of `start..end` (widened to pages): returns when those bytes are durable.
    pub fn sync(&self, start: usize, end: usize) -> io::Result<()> {
        if end > start { self.raw.flush_range(start, end - start) } else { Ok(()) }
    }
}

/// Grow a file cut short back to `size` bytes, with real blocks.
pub(crate) fn extend_file(path: &Path, size: u64) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(size)?;
    allocate(&file, size)?;
    file.sync_all()
}

/// Give `file` real blocks for `size` bytes (`fallocate`), so later writes through the map
/// neither hit ENOSPC as SIGBUS nor make each sync allocate. Falls back to a sparse `set_len` on
/// filesystems without fallocate.
fn allocate(file: &File, size: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(size).map_err(|_| io::Error::other("segment too large"))?;
    // SAFETY: a plain syscall on a file descriptor we own, with no pointers involved.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(size),
        _ => Err(err),
    }
}
