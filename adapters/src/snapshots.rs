//! A session directory's `snapshots/`: engine snapshots on disk (the format is
//! `starlog_engine::snapshot`'s), written by the core loop every so many inputs and read back by
//! restarts ([`crate::core_loop::CoreLoop::open`]) and audit queries so that they replay only the
//! inputs after the newest snapshot instead of the whole session.
//!
//! This module owns the directory: file names (`{seq:020}.snap`, the seq of the last input the
//! state reflects, zero-padded so names sort by seq), the atomic write (a temporary file, fsync,
//! rename, fsync of the directory: a reader sees a whole snapshot or none), pruning to the newest
//! few, and choosing the newest snapshot that restores cleanly.
//!
//! A file is a 48-byte binding, then the engine's snapshot: `STLGBND1`, then the seq and the
//! chain head (u64 little-endian, 32 bytes) of the input journal's seal that closed the batch
//! ending at the snapshot's seq. A snapshot is used only while the journal still has that seal
//! with that head ([`starlog_journal::JournalReader::seal_covering`]): one copied from another
//! session, or left from a history that was cut back and rewritten, is not this journal's.
//!
//! Snapshots are derived data, never trusted: one that does not restore (corrupt, of another
//! format version, of another configuration or strategy, claiming a seq its file name does not
//! say, or bound to another journal) is skipped with a one-line warning on standard error, and
//! the caller falls back to an older one or to a full replay. Deleting the directory is always
//! safe.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use starlog_engine::engine::Engine;
use starlog_engine::snapshot;
use starlog_journal::JournalReader;

/// The subdirectory of a session directory holding snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Snapshot file extension.
pub const SNAPSHOT_EXT: &str = "snap";

/// How often the core loop writes a snapshot, by default: every this many inputs. At the
/// engine's replay speed that bounds a restart's replay to well under a second, for a
/// snapshot of a few hundred kilobytes.
pub const SNAPSHOT_EVERY_INPUTS_DEFAULT: u64 = 100_000;

/// How many snapshots the core loop keeps by default (older ones are deleted): the newest, and
/// two to fall back on should it be damaged.
pub const SNAPSHOTS_KEPT_MAX_DEFAULT: usize = 3;

/// When the core loop writes snapshots and how many it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Write a snapshot once this many inputs were applied since the last one; 0: never write.
    pub every_inputs: u64,
    /// Keep at most this many snapshot files (at least 1 when writing).
    pub kept_max: usize,
}

impl Default for SnapshotPolicy {
    fn default() -> SnapshotPolicy {
        SnapshotPolicy { every_inputs: SNAPSHOT_EVERY_INPUTS_DEFAULT, kept_max: SNAPSHOTS_KEPT_MAX_DEFAULT }
    }
}

/// The file name of the snapshot at `seq`.
pub fn file_name(seq: u64) -> String {
    format!("{seq:020}.{SNAPSHOT_EXT}")
}

/// The snapshots of the session in `session_dir`, oldest first, as (seq, path). A missing
/// directory is no snapshots; files that are not named like a snapshot are ignored.
pub fn list(session_dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let dir = session_dir.join(SNAPSHOT_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(&format!(".{SNAPSHOT_EXT}")))
            .filter(|stem| stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(seq) = seq {
            found.push((seq, path));
        }
    }
    found.sort();
    Ok(found)
}

/// The binding's magic (version 1).
const BIND_MAGIC: &[u8; 8] = b"STLGBND1";
/// Bytes of the binding before the engine's snapshot.
pub const BIND_LEN: usize = 48;

/// Where a snapshot sits in the input journal: the seal closing its batch (last seq covered,
/// chain head).
pub type Binding = (u64, [u8; 32]);

/// The binding and the engine snapshot of a snapshot file's bytes.
pub fn split(file: &[u8]) -> Result<(Binding, &[u8]), String> {
    let (bind, engine) = file.split_at_checked(BIND_LEN).ok_or("shorter than its binding")?;
    if &bind[..8] != BIND_MAGIC {
        return Err("not a starlog snapshot file (bad binding magic)".into());
    }
    let seq = u64::from_le_bytes(bind[8..16].try_into().expect("8 bytes"));
    let chain: [u8; 32] = bind[16..48].try_into().expect("32 bytes");
    Ok(((seq, chain), engine))
}

/// Write `bytes` (an engine snapshot) as the snapshot at `seq`, bound to the input journal's
/// seal `binding`, atomically: a temporary file in the same directory, synced, renamed over the
/// final name, then the directory synced. Returns the path.
pub fn write(session_dir: &Path, seq: u64, binding: Binding, bytes: &[u8]) -> io::Result<PathBuf> {
    let dir = session_dir.join(SNAPSHOT_DIR);
    fs::create_dir_all(&dir)?;
    let path = dir.join(file_name(seq));
    // A leading dot and another extension: never listed as a snapshot, even if left behind.
    let tmp = dir.join(format!(".{}.tmp", file_name(seq)));
    {
        let mut f = File::create(&tmp)?;
        let mut bind = [0u8; BIND_LEN];
        bind[..8].copy_from_slice(BIND_MAGIC);
        bind[8..16].copy_from_slice(&binding.0.to_le_bytes());
        bind[16..].copy_from_slice(&binding.1);
        f.write_all(&bind)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    File::open(&dir)?.sync_all()?;
    Ok(path)
}

/// Delete all but the newest `kept_max` snapshots (and temporary files a crash left behind).
pub fn prune(session_dir: &Path, kept_max: usize) -> io::Result<()> {
    let all = list(session_dir)?;
    for (_, path) in all.iter().take(all.len().saturating_sub(kept_max)) {
        fs::remove_file(path)?;
    }
    for entry in fs::read_dir(session_dir.join(SNAPSHOT_DIR))? {
        let path = entry?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp")) {
            fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// Read and restore the snapshot at `path`, expected to hold the state after input `seq` of
/// the input journal `journal`, for an engine set up like `template`.
pub fn load(path: &Path, seq: u64, template: &Engine, journal: &JournalReader) -> Result<Engine, String> {
    let file = fs::read(path).map_err(|e| e.to_string())?;
    let ((bound_seq, bound_chain), bytes) = split(&file)?;
    let header = snapshot::read_header(bytes).map_err(|e| e.to_string())?;
    if header.seq != seq || bound_seq != seq {
        return Err(format!("it holds seq {} (bound to {bound_seq}) but is named for seq {seq}", header.seq));
    }
    match journal.seal_covering(seq).map_err(|e| e.to_string())? {
        Some(seal) if seal == (bound_seq, bound_chain) => {}
        _ => return Err(format!("it is bound to another journal (no seal at seq {seq} with its chain head)")),
    }
    template.restore_like(bytes).map_err(|e| e.to_string())
}

/// The newest snapshot whose seq is `usable` that restores cleanly for an engine set up like
/// `template`, as (seq, engine); `None` if there is none (replay from the start). Every
/// snapshot skipped on the way is reported on standard error, one line each.
pub fn restore_newest(
    session_dir: &Path,
    template: &Engine,
    journal: &JournalReader,
    usable: impl Fn(u64) -> bool,
) -> Option<(u64, Engine)> {
    let all = match list(session_dir) {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(dir = %session_dir.display(), error = %e, "cannot list snapshots; replaying from the start");
            return None;
        }
    };
    for (seq, path) in all.into_iter().rev().filter(|(seq, _)| usable(*seq)) {
        match load(&path, seq, template, journal) {
            Ok(engine) => return Some((seq, engine)),
            Err(e) => tracing::warn!(snapshot = %path.display(), error = %e, "skipping an unusable snapshot"),
        }
    }
    None
}
