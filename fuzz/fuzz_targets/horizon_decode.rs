//! Fuzzes what the live process reads from Horizon: the SSE parser (fed in fuzzer-chosen
//! chunks, which must not change the events) and the JSON decoders of order books, trades,
//! accounts with offers, fee stats, problems and transactions.
//!
//! Properties: no panic; SSE events are the same however the bytes are split; decoded books
//! have positive prices and non-negative amounts; decoded trades carry the ledger of their id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_adapters::horizon::{decode, sse};
use starlog_engine::{AccountId, Asset};

fn events(chunks: &[&[u8]]) -> Result<Vec<sse::Event>, sse::SseError> {
    let mut parser = sse::Parser::new();
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut out)?;
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let usd = Asset::credit("USD", AccountId::from_bytes([7; 32])).expect("valid code");
    match mode % 7 {
        0 => {
            let split = usize::from(rest.first().copied().unwrap_or(0)).min(rest.len());
            let whole = events(&[rest]);
            let halves = events(&[&rest[..split], &rest[split..]]);
            let bytes: Vec<&[u8]> = rest.chunks(3).collect();
            let small = events(&bytes);
            if let (Ok(a), Ok(b), Ok(c)) = (&whole, &halves, &small) {
                assert_eq!(a, b);
                assert_eq!(a, c);
            }
        }
        1 => {
            if let Ok(book) = decode::order_book(rest, 0, &Asset::Native, &usd) {
                for level in book.bids.iter().chain(&book.asks) {
                    assert!(level.price.n > 0 && level.price.d > 0);
                    assert!(level.amount_stroops >= 0);
                }
            }
        }
        2 => {
            if let Ok(trade) = decode::trade(rest, 0, &Asset::Native, &usd) {
                assert_eq!(u128::from(trade.ledger), trade.id >> 64);
                assert!(trade.price.n > 0 && trade.price.d > 0);
            }
        }
        3 => {
            let split = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let _ = decode::account(&rest[..split], rest.get(split + 1..).unwrap_or(&[]), 1, 5_000_000);
        }
        4 => {
            let _ = decode::fee_stats(rest);
        }
        5 => {
            let _ = decode::problem(rest, 400);
        }
        _ => {
            let _ = decode::transaction(rest);
        }
    }
});
