//! Crash consistency through the storage seam: the writer's sync hook tells the test which file
//! was just made durable, so the test keeps a "durable image" of every segment alongside the
//! live one. A crash during sync number `r` (or after the last operation) leaves the durable
//! image as it was before that sync plus an arbitrary subset of the 512-byte sectors the live
//! image has changed since — the disk may write back dirty pages in any order. Recovery from
//! every such image must succeed and keep every record acknowledged by a commit, and nothing
//! but whole records, in order.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use proptest::prelude::*;
use starlog_journal::{Durability, JournalOptions, JournalWriter};

const SECTOR: usize = 512;
const PAGE: usize = 4096;
const SEGMENT: u64 = 8192;

type Images = BTreeMap<PathBuf, Vec<u8>>;

/// The last seq a commit acknowledged, and the chain head it returned.
#[derive(Clone, Copy, Debug, Default)]
struct Acked {
    seq: u64,
    chain: [u8; 32],
}

/// The chain head stored in the seal that covers exactly up to `seq`, if any.
fn seal_chain_at(dir: &Path, seq: u64) -> Option<[u8; 32]> {
    for f in segment_files(dir) {
        let b = std::fs::read(&f).unwrap();
        for (start, _, kind) in frame_offsets(&b) {
            let s = u64::from_le_bytes(b[start + 16..start + 24].try_into().unwrap());
            if kind == 0xFF01 && s == seq {
                return Some(b[start + 32..start + 64].try_into().unwrap());
            }
        }
    }
    None
}

struct Disk {
    dir: PathBuf,
    /// Each segment file as of its last completed sync.
    durable: Images,
    syncs: u32,
    crash_at_sync: u32,
    rng: u64,
    /// The crash image, once taken, and the last commit acknowledged before it.
    crashed: Option<(Images, Acked)>,
    acked: Acked,
}

impl Disk {
    fn next_bit(&mut self) -> bool {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng & 1 == 1
    }

    /// Durable images plus a random subset of the sectors live files have changed since.
    fn crash_image(&mut self) -> Images {
        let mut out = Images::new();
        for path in segment_files(&self.dir) {
            let live = std::fs::read(&path).unwrap();
            let mut img = match self.durable.get(&path) {
                Some(d) => d.clone(),
                None => {
                    // Never synced: its directory entry may not have reached the disk either.
                    if self.next_bit() {
                        continue;
                    }
                    vec![0; live.len()]
                }
            };
            for s in (0..live.len()).step_by(SECTOR) {
                let e = (s + SECTOR).min(live.len());
                if img[s..e] != live[s..e] && self.next_bit() {
                    img[s..e].copy_from_slice(&live[s..e]);
                }
            }
            out.insert(path, img);
        }
        out
    }
}

fn check_recovery(image: &Images, acked: Acked, appended: &[(u64, u16, i64, Vec<u8>)]) -> Result<(), TestCaseError> {
    let work = tempfile::tempdir().unwrap();
    for (path, bytes) in image {
        std::fs::write(work.path().join(path.file_name().unwrap()), bytes).unwrap();
    }
    let opened = JournalWriter::open(work.path(), opts(SEGMENT, Durability::None));
    prop_assert!(opened.is_ok(), "recovery failed: {}", opened.unwrap_err());
    drop(opened);
    let got = read_all(work.path());
    prop_assert!(got.len() as u64 >= acked.seq, "lost acknowledged records: kept {} of {}", got.len(), acked.seq);
    if acked.seq > 0 {
        // The chain head a commit returned is in the journal for good (it may have been
        // checkpointed or anchored elsewhere).
        prop_assert_eq!(seal_chain_at(work.path(), acked.seq), Some(acked.chain), "acknowledged chain head lost");
    }
    prop_assert_eq!(&got[..], &appended[..got.len()], "kept records must be a prefix of what was appended");
    let report = starlog_journal::JournalReader::open(work.path()).unwrap().verify().unwrap();
    prop_assert_eq!(report.records, got.len() as u64);
    Ok(())
}

fn hooked_opts(disk: &Arc<Mutex<Disk>>, durability: Durability) -> JournalOptions {
    let d = Arc::clone(disk);
    let hook = Arc::new(move |path: &Path, range: std::ops::Range<usize>| {
        let mut disk = d.lock().unwrap();
        disk.syncs += 1;
        if disk.syncs == disk.crash_at_sync && disk.crashed.is_none() {
            // The crash happens while this sync is in flight: before it, the durable image.
            let acked = disk.acked;
            let img = disk.crash_image();
            disk.crashed = Some((img, acked));
        }
        // msync writes back whole pages around the range, and nothing else for certain.
        let now = std::fs::read(path).unwrap();
        let (start, end) = (range.start / PAGE * PAGE, range.end.div_ceil(PAGE) * PAGE);
        let img = disk.durable.entry(path.to_owned()).or_insert_with(|| vec![0; now.len()]);
        img[start..end].copy_from_slice(&now[start..end]);
        Ok(())
    });
    JournalOptions { segment_size_bytes: SEGMENT, durability, sync_hook: Some(hook) }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn committed_records_survive_any_crash(
        lens in prop::collection::vec((0usize..400, any::<bool>()), 1..60),
        crash_at_sync in 1u32..80,
        seed in 1u64..u64::MAX,
        always in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let disk = Arc::new(Mutex::new(Disk {
            dir: tmp.path().to_owned(),
            durable: Images::new(),
            syncs: 0,
            crash_at_sync,
            rng: seed,
            crashed: None,
            acked: Acked::default(),
        }));
        let durability = if always { Durability::Always } else { Durability::Batch };
        let (mut w, _) = JournalWriter::open(tmp.path(), hooked_opts(&disk, durability)).unwrap();
        let mut appended = Vec::new();
        for (i, (len, commit)) in lens.iter().enumerate() {
            let seq = w.next_seq();
            let p = payload(seq, *len);
            w.append(1, i as i64, &p).unwrap();
            appended.push((seq, 1u16, i as i64, p));
            if always || *commit {
                let c = w.commit().unwrap();
                assert_eq!(c.last_seq, seq);
                disk.lock().unwrap().acked = Acked { seq: c.last_seq, chain: c.chain_head };
            }
        }
        // A crash after the last operation, with whatever was appended since the last commit.
        let (img, acked) = {
            let mut d = disk.lock().unwrap();
            let acked = d.acked;
            (d.crash_image(), acked)
        };
        std::mem::forget(w);
        check_recovery(&img, acked, &appended)?;
        let during = disk.lock().unwrap().crashed.take();
        if let Some((img, acked)) = during {
            check_recovery(&img, acked, &appended)?;
        }
    }
}
