//! Writes a journal of synthetic market-data-sized records, the way the core loop will: batches
//! appended and group-committed. `cargo run --release --example write_journal -- DIR [RECORDS] [none|batch|always]`,
//! then `starlog audit verify DIR`.

use std::time::Instant;

use starlog_journal::{Durability, JournalOptions, JournalWriter, hex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: write_journal DIR [RECORDS] [none|batch|always]")?;
    let records: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let durability: Durability = args.next().map(|s| s.parse()).transpose()?.unwrap_or(Durability::Batch);
    let opts = JournalOptions { durability, ..JournalOptions::default() };
    let (mut w, recovery) = JournalWriter::open(&dir, opts)?;
    if !recovery.created {
        println!("continuing the journal in {dir} at seq {}", recovery.next_seq);
    }
    let started = Instant::now();
    let mut payload = [0u8; 64];
    let mut ts = 1_700_000_000_000_000_000i64;
    for i in 0..records {
        payload[..8].copy_from_slice(&i.to_le_bytes());
        ts += 1_000;
        w.append(1, ts, &payload)?;
        if (i + 1) % 4096 == 0 {
            w.commit()?;
        }
    }
    let head = w.commit()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {records} records of 64 bytes to {dir} in {secs:.3} s ({:.2} M records/s, commit every 4096 under durability {durability:?}); chain head {} at seq {}",
        records as f64 / secs / 1e6,
        hex(&head.chain_head),
        head.last_seq
    );
    Ok(())
}
