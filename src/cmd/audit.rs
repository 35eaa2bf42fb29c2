//! `starlog audit …`: read-only examination of recorded journals.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use starlog_journal::{JournalReader, VerifyReport, hex};

use super::CmdResult;

#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Check every checksum and the whole hash chain of a journal (or of a session directory's
    /// `input/` and `output/` journals).
    Verify {
        /// A journal directory, or a session directory holding `input/` and `output/`.
        dir: PathBuf,
    },
}

pub fn run(cmd: Audit) -> CmdResult {
    match cmd {
        Audit::Verify { dir } => verify(&dir),
    }
}

/// The journals to verify under `dir`: itself, or its `input/` and `output/` journals.
fn journals(dir: &Path) -> Vec<(String, PathBuf)> {
    let subs: Vec<_> =
        ["input", "output"].iter().map(|s| (s.to_string(), dir.join(s))).filter(|(_, p)| has_segments(p)).collect();
    if subs.is_empty() { vec![(String::new(), dir.to_owned())] } else { subs }
}

fn has_segments(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().any(|e| e.path().extension().is_some_and(|x| x == "seg")))
        .unwrap_or(false)
}

fn verify(dir: &Path) -> CmdResult {
    let mut lines = Vec::new();
    for (name, path) in journals(dir) {
        let label = if name.is_empty() { String::new() } else { format!("{name}: ") };
        let report = JournalReader::open(&path).and_then(|r| r.verify()).map_err(|e| format!("{label}{e}"))?;
        if let Some((at, bytes)) = &report.torn_tail {
            return Err(format!(
                "{label}torn tail at {at}: {bytes} bytes of an uncommitted write (the writer crashed; reopening the journal for writing cuts them off)"
            )
            .into());
        }
        lines.push(format!("{label}{}", summary(&report)));
    }
    for l in lines {
        println!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(r: &VerifyReport) -> String {
    let mut s = format!(
        "ok: {} records (seq {}..={}) in {} segment{}, {} seals, {} bytes; chain head {} at seq {}",
        r.records,
        r.first_seq,
        r.last_seq,
        r.segments,
        if r.segments == 1 { "" } else { "s" },
        r.seals,
        r.bytes,
        hex(&r.chain_head),
        r.chain_seq
    );
    if !r.from_genesis {
        s.push_str("; starts after pruned segments (chain checked from the first segment's header)");
    }
    if r.unsealed_records > 0 {
        s.push_str(&format!("; {} records after the last seal (not yet chained)", r.unsealed_records));
    }
    if r.live_writer {
        s.push_str("; live writer (snapshot at its last commit)");
    }
    s
}
