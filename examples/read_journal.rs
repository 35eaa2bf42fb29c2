//! Reads a journal back: iterates every record (checksums checked) and verifies the hash chain,
//! printing the rate of each. `cargo run --release --example read_journal -- DIR`.

use std::time::Instant;

use starlog_journal::JournalReader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: read_journal DIR")?;
    let reader = JournalReader::open(&dir)?;
    let started = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    for record in reader.iter() {
        let record = record?;
        records += 1;
        bytes += record.payload.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "iterated {records} records ({bytes} payload bytes) in {secs:.3} s: {:.1} M records/s",
        records as f64 / secs / 1e6
    );
    let started = Instant::now();
    let report = reader.verify()?;
    let secs = started.elapsed().as_secs_f64();
    println!("verified {} frame bytes in {secs:.3} s: {:.2} GB/s", report.bytes, report.bytes as f64 / secs / 1e9);
    Ok(())
}
