//! Journal benchmarks: append throughput per durability policy beside a raw-memcpy baseline
//! (criterion), iterate and verify throughput, recovery time of a 1 GiB journal, and a side-by-side
//! report of the same in one run with hdrhistogram percentiles and ratios.
//!
//! `cargo bench -p starlog-benches --bench journal` (add `-- report` for the report only).
//! `STARLOG_BENCH_PROFILE=append|raw|iterate` runs one workload alone (64-byte payloads), for a
//! profiler.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use memmap2::MmapMut;
use starlog_benches::{Latency, fmt_rate, rate};
use starlog_journal::{Durability, JournalOptions, JournalReader, JournalWriter};

const BATCH: u64 = 4096;
/// Bytes a benchmark journal may reach before it is thrown away and started again (untimed).
const ROTATE_BYTES: u64 = 2 << 30;

/// The raw baseline: copying the same payloads into a pre-faulted memory map, nothing else.
struct Raw {
    map: MmapMut,
    off: usize,
    _dir: tempfile::TempDir,
}

impl Raw {
    fn new() -> Raw {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("raw"))
            .expect("raw file");
        f.set_len(256 << 20).expect("set_len");
        // SAFETY: a private temporary file that nothing else maps or modifies.
        #[allow(unsafe_code)]
        let mut map = unsafe { MmapMut::map_mut(&f) }.expect("map");
        for i in (0..map.len()).step_by(4096) {
            map[i] = 1; // pre-fault every page
        }
        Raw { map, off: 0, _dir: dir }
    }

    fn batch(&mut self, payload: &[u8], n: u64) {
        for _ in 0..n {
            if self.off + payload.len() > self.map.len() {
                self.off = 0;
            }
            self.map[self.off..self.off + payload.len()].copy_from_slice(payload);
            self.off += payload.len();
        }
        black_box(&self.map[0]);
    }
}

/// A journal for append benchmarks, recreated (untimed) when it grows past `ROTATE_BYTES`.
struct Bench {
    dir: tempfile::TempDir,
    w: Option<JournalWriter>,
    durability: Durability,
    bytes: u64,
    ts: i64,
}

impl Bench {
    fn new(durability: Durability) -> Bench {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = Bench { dir, w: None, durability, bytes: 0, ts: 0 };
        b.reopen();
        b
    }

    fn reopen(&mut self) {
        self.w = None;
        let path = self.dir.path().join("j");
        let _ = std::fs::remove_dir_all(&path);
        let opts = JournalOptions { durability: self.durability, ..JournalOptions::default() };
        self.w = Some(JournalWriter::open(&path, opts).expect("open").0);
        self.bytes = 0;
    }

    fn rotate_if_big(&mut self) {
        if self.bytes > ROTATE_BYTES {
            self.reopen();
        }
    }

    /// Append `n` records and commit once (for `Always`, every append commits itself).
    fn batch(&mut self, payload: &[u8], n: u64) {
        let w = self.w.as_mut().expect("open");
        for _ in 0..n {
            self.ts += 1;
            black_box(w.append(1, self.ts, payload).expect("append"));
        }
        w.commit().expect("commit");
        self.bytes += n * (payload.len() as u64 + 48);
    }
}

fn bench_append(c: &mut Criterion) {
    for len in [64usize, 256] {
        let payload = vec![0xA5u8; len];
        let mut g = c.benchmark_group(format!("append_{len}B"));
        g.throughput(Throughput::Elements(BATCH));
        g.bench_function(BenchmarkId::new("raw_memcpy", BATCH), |b| {
            let mut raw = Raw::new();
            b.iter(|| raw.batch(&payload, BATCH));
        });
        for (name, durability) in [("none", Durability::None), ("batch", Durability::Batch)] {
            g.bench_function(BenchmarkId::new(name, BATCH), |b| {
                let mut j = Bench::new(durability);
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        j.rotate_if_big();
                        let t = Instant::now();
                        j.batch(&payload, BATCH);
                        total += t.elapsed();
                    }
                    total
                });
            });
        }
        g.finish();
        let mut g = c.benchmark_group(format!("append_{len}B_always"));
        g.throughput(Throughput::Elements(1)).sample_size(10).measurement_time(Duration::from_secs(3));
        g.bench_function("always", |b| {
            let mut j = Bench::new(Durability::Always);
            b.iter(|| j.batch(&payload, 1));
        });
        g.finish();
    }
}

/// Write `records` records of `len` bytes with no syncs (group commit every 4096).
fn build_journal(dir: &Path, records: u64, len: usize) -> u64 {
    let opts = JournalOptions { durability: Durability::None, ..JournalOptions::default() };
    let (mut w, _) = JournalWriter::open(dir, opts).expect("open");
    let payload = vec![0x5Au8; len];
    for i in 0..records {
        w.append(1, i as i64, &payload).expect("append");
        if (i + 1) % BATCH == 0 {
            w.commit().expect("commit");
        }
    }
    w.commit().expect("commit");
    dir_bytes(dir)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).expect("dir").flatten().map(|e| e.metadata().map(|m| m.len()).unwrap_or(0)).sum()
}

fn iterate(r: &JournalReader) -> u64 {
    let mut n = 0u64;
    let mut acc = 0u8;
    for rec in r.iter() {
        let rec = rec.expect("record");
        acc ^= rec.payload[0];
        n += 1;
    }
    black_box(acc);
    n
}

fn bench_read(c: &mut Criterion) {
    const RECORDS: u64 = 2_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    build_journal(dir.path(), RECORDS, 64);
    let r = JournalReader::open(dir.path()).expect("open");
    let frame_bytes = r.verify().expect("verify").bytes;
    let mut g = c.benchmark_group("read_64B");
    g.throughput(Throughput::Elements(RECORDS)).sample_size(20);
    g.bench_function("iterate", |b| b.iter(|| assert_eq!(iterate(&r), RECORDS)));
    g.throughput(Throughput::Bytes(frame_bytes));
    g.bench_function("verify", |b| b.iter(|| black_box(r.verify().expect("verify"))));
    g.finish();
}

/// A 1 GiB journal: time to open it for writing (recovery scans the last segment), to open a
/// reader (which finds the end of the last segment), and to verify all of it.
fn gib_journal() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("j");
    // 96-byte frames: 1 GiB of segments is about 11 M records of 64 bytes.
    build_journal(&path, (1u64 << 30) / 96 - 30_000, 64);
    (dir, path)
}

fn bench_recovery(c: &mut Criterion) {
    let (_dir, path) = gib_journal();
    let mut g = c.benchmark_group("recovery_1GiB");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("open_writer", |b| {
        b.iter(|| {
            let opts = JournalOptions { durability: Durability::None, ..JournalOptions::default() };
            black_box(JournalWriter::open(&path, opts).expect("open"))
        })
    });
    g.throughput(Throughput::Bytes(dir_bytes(&path)));
    g.bench_function("verify_all", |b| {
        b.iter(|| black_box(JournalReader::open(&path).expect("open").verify().expect("verify")))
    });
    g.finish();
}

/// The side-by-side report: raw, none and batch interleaved round by round in one run, per-record
/// cost distributions, medians and ratios; then iterate/verify/recovery figures.
fn report() {
    println!("\n== journal report (one run; per-record times are batch time / {BATCH}) ==");
    const ROUNDS: usize = 300;
    for len in [64usize, 256] {
        let payload = vec![0xA5u8; len];
        let mut raw = Raw::new();
        let mut none = Bench::new(Durability::None);
        let mut batch = Bench::new(Durability::Batch);
        let mut h_raw = Latency::new(format!("raw memcpy {len}B /record"));
        let mut h_none = Latency::new(format!("append none {len}B /record"));
        let mut h_batch = Latency::new(format!("append batch {len}B /record"));
        let mut h_commit = Latency::new(format!("commit batch {len}B /4096 records"));
        // Batch times too, for medians per record finer than the histograms' whole nanoseconds.
        let (mut b_raw, mut b_none, mut b_batch) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let t = Instant::now();
            raw.batch(&payload, BATCH);
            let raw_ns = t.elapsed().as_nanos() as u64;
            none.rotate_if_big();
            let t = Instant::now();
            none.batch(&payload, BATCH);
            let none_ns = t.elapsed().as_nanos() as u64;
            if round % 3 == 0 {
                batch.rotate_if_big();
                let t = Instant::now();
                batch.batch(&payload, BATCH);
                let batch_ns = t.elapsed().as_nanos() as u64;
                h_batch.record_ns(batch_ns / BATCH);
                h_commit.record_ns(batch_ns);
                b_batch.push(batch_ns);
            }
            h_raw.record_ns(raw_ns / BATCH);
            h_none.record_ns(none_ns / BATCH);
            b_raw.push(raw_ns);
            b_none.push(none_ns);
        }
        let mut always = Bench::new(Durability::Always);
        let mut h_always = Latency::new(format!("append always {len}B /record"));
        for _ in 0..200 {
            let t = Instant::now();
            always.batch(&payload, 1);
            h_always.record(t.elapsed());
        }
        for h in [&h_raw, &h_none, &h_batch, &h_commit, &h_always] {
            println!("{}", h.line());
        }
        let (r, n, b) = (per_record_median(b_raw), per_record_median(b_none), per_record_median(b_batch));
        println!(
            "  {len}B medians: raw {}  none {}  batch {}  always {}   none/raw throughput ratio {:.1} %",
            fmt_rate(1e9 / r),
            fmt_rate(1e9 / n),
            fmt_rate(1e9 / b),
            fmt_rate(rate(1, h_always.median_ns())),
            100.0 * r / n
        );
        if len == 64 {
            hash_floor(r);
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    const RECORDS: u64 = 2_000_000;
    build_journal(dir.path(), RECORDS, 64);
    let r = JournalReader::open(dir.path()).expect("open");
    let bytes = r.verify().expect("verify").bytes;
    let mut h_iter = Latency::new("iterate 2M x 64B");
    let mut h_verify = Latency::new("verify 2M x 64B");
    for _ in 0..15 {
        let t = Instant::now();
        iterate(&r);
        h_iter.record(t.elapsed());
        let t = Instant::now();
        black_box(r.verify().expect("verify"));
        h_verify.record(t.elapsed());
    }
    println!("{}\n{}", h_iter.line(), h_verify.line());
    println!(
        "  iterate {} records/s; verify {:.2} GB/s",
        fmt_rate(rate(RECORDS, h_iter.median_ns())),
        rate(bytes, h_verify.median_ns()) / 1e9
    );
    drop(r);
    drop(dir);

    let (_gib, path) = gib_journal();
    let total = dir_bytes(&path);
    let mut h_open = Latency::new("recovery: open writer on 1 GiB");
    let mut h_ropen = Latency::new("open reader on 1 GiB");
    let mut h_all = Latency::new("verify all of 1 GiB");
    for _ in 0..5 {
        let t = Instant::now();
        let w = JournalWriter::open(&path, JournalOptions { durability: Durability::None, ..Default::default() });
        h_open.record(t.elapsed());
        drop(w);
        let t = Instant::now();
        let r = JournalReader::open(&path).expect("open");
        h_ropen.record(t.elapsed());
        let t = Instant::now();
        black_box(r.verify().expect("verify"));
        h_all.record(t.elapsed());
    }
    println!("{}\n{}\n{}", h_open.line(), h_ropen.line(), h_all.line());
    println!("  1 GiB journal ({total} bytes): verify {:.2} GB/s", rate(total, h_all.median_ns()) / 1e9);
}

/// Median batch time over `BATCH`: ns per record.
fn per_record_median(mut batch_ns: Vec<u64>) -> f64 {
    batch_ns.sort_unstable();
    batch_ns[batch_ns.len() / 2] as f64 / BATCH as f64
}

/// What the checksum and the chain cost alone per 64-byte record (a 96-byte frame), on data
/// already in the cache: the same functions the writer calls, over 4096 frames' worth of bytes.
/// Against the raw median `raw_ns`, the best ratio any append with both could reach.
fn hash_floor(raw_ns: f64) {
    use starlog_journal::format::{chain_next, checksum};
    const FRAME: usize = 96;
    let frames: Vec<u8> = (0..BATCH as usize * FRAME).map(|i| (i * 31 % 251) as u8).collect();
    let (mut chain, mut sums) = (Vec::new(), Vec::new());
    let mut head = [0u8; 32];
    for _ in 0..300 {
        let t = Instant::now();
        head = chain_next(&head, &frames);
        chain.push(t.elapsed().as_nanos() as u64);
        let t = Instant::now();
        let mut acc = 0u32;
        for frame in frames.chunks_exact(FRAME) {
            acc ^= checksum(&frame[4..]);
        }
        black_box(acc);
        sums.push(t.elapsed().as_nanos() as u64);
    }
    black_box(head);
    let (chain, sum) = (per_record_median(chain), per_record_median(sums));
    println!(
        "  floor, in cache, per 96-byte frame: BLAKE3 chain {chain:.1} ns + XXH3 checksum {sum:.1} ns = {:.1} ns: at most {} and {:.1} % of raw",
        chain + sum,
        fmt_rate(1e9 / (chain + sum)),
        100.0 * raw_ns / (chain + sum)
    );
}

/// Profiling mode: one workload on 64-byte payloads, no criterion; the journal, map or file is
/// set up before the clock starts.
fn profile(what: &str) {
    const BATCHES: u64 = 1_000;
    let payload = [7u8; 64];
    let (records, elapsed) = match what {
        "append" => {
            let mut j = Bench::new(Durability::None);
            let mut batch_ns = Vec::with_capacity(BATCHES as usize);
            let started = Instant::now();
            for _ in 0..BATCHES {
                j.rotate_if_big();
                let t = Instant::now();
                j.batch(&payload, BATCH);
                batch_ns.push(t.elapsed().as_nanos() as u64);
            }
            let elapsed = started.elapsed();
            batch_ns.sort_unstable();
            // Segment rolls (and waits for the next segment's pages) land in the slow batches.
            println!("append median batch {:.1} ns/record", batch_ns[batch_ns.len() / 2] as f64 / BATCH as f64);
            (BATCHES * BATCH, elapsed)
        }
        "raw" => {
            let mut raw = Raw::new();
            let started = Instant::now();
            for _ in 0..BATCHES {
                raw.batch(&payload, BATCH);
            }
            (BATCHES * BATCH, started.elapsed())
        }
        "iterate" => {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("j");
            build_journal(&path, 4_000_000, 64);
            let r = JournalReader::open(&path).expect("open");
            let started = Instant::now();
            let n = (0..10).map(|_| iterate(&r)).sum::<u64>();
            (n, started.elapsed())
        }
        other => {
            eprintln!("STARLOG_BENCH_PROFILE={other:?}: expected append, raw or iterate");
            std::process::exit(2);
        }
    };
    println!("{what} {:.1} ns/record", elapsed.as_nanos() as f64 / records as f64);
}

fn main() {
    if let Ok(what) = std::env::var("STARLOG_BENCH_PROFILE") {
        return profile(&what);
    }
    let report_only = std::env::args().any(|a| a == "report");
    // `cargo bench` passes `--bench`; `cargo test` runs benches without it, as a quick check.
    let test_mode = !std::env::args().any(|a| a == "--bench");
    if !report_only {
        let mut c = Criterion::default().configure_from_args();
        bench_append(&mut c);
        bench_read(&mut c);
        if !test_mode {
            bench_recovery(&mut c);
        }
        c.final_summary();
    }
    if !test_mode {
        report();
    }
}
