//! Fault injection for the simulated Horizon: what a public Horizon does to its clients, on
//! demand. Everything is off by default; each fault is a named knob, set from the command line
//! as `--fault NAME=VALUE` (repeatable) and drawn from a seeded [`SplitMix64`], so a run with the
//! same seed and the same request order meets the same faults.
//!
//! | knob | effect |
//! |---|---|
//! | `latency_ms=N` | every response is delayed by N ms … |
//! | `jitter_ms=N` | … plus a uniform 0..=N ms |
//! | `rate_limit_pct=P` | P % of requests get 429 `rate_limit_exceeded` with `Retry-After` |
//! | `retry_after_s=N` | the `Retry-After` of injected 429s (default 1) |
//! | `server_error_pct=P` | P % of requests get 500 `server_error` (nothing is applied) |
//! | `timeout_pct=P` | P % of `POST /transactions` are **applied** and then answered 504 `timeout` |
//! | `bad_seq_pct=P` | P % of `POST /transactions` find the source account's sequence number already moved on by one — as a competing submitter would leave it — and fail with `tx_bad_seq` (a client must resync to go on) |
//! | `stream_drop_ms=N` | SSE streams are cut N ms after they open (no goodbye event) |
//! | `stale_book_pct=P` | P % of order-book answers show the book as of the previous ledger close |
//! | `seed=N` | the seed of the fault draws (default 0) |

use std::fmt;

use crate::rng::SplitMix64;

/// See the module doc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultConfig {
    pub seed: u64,
    pub latency_ms: u64,
    pub jitter_ms: u64,
    pub rate_limit_pct: u8,
    pub retry_after_s: u32,
    pub server_error_pct: u8,
    pub timeout_pct: u8,
    pub bad_seq_pct: u8,
    pub stream_drop_ms: u64,
    pub stale_book_pct: u8,
}

/// A `--fault` value that is not `NAME=VALUE` with a known name and a valid value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultParseError(String);

impl fmt::Display for FaultParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FaultParseError {}

impl FaultConfig {
    /// True when no fault is configured.
    pub fn is_off(&self) -> bool {
        *self == FaultConfig { seed: self.seed, retry_after_s: self.retry_after_s, ..FaultConfig::default() }
    }

    /// Applies one `NAME=VALUE` setting.
    pub fn set(&mut self, setting: &str) -> Result<(), FaultParseError> {
        let (name, value) = setting
            .split_once('=')
            .ok_or_else(|| FaultParseError(format!("fault setting {setting:?} is not NAME=VALUE")))?;
        let number =
            |max: u64| -> Result<u64, FaultParseError> {
                value.parse::<u64>().ok().filter(|v| *v <= max).ok_or_else(|| {
                    FaultParseError(format!("fault {name}: {value:?} is not a whole number in 0..={max}"))
                })
            };
        let pct = || number(100).map(|v| v as u8);
        match name {
            "seed" => self.seed = number(u64::MAX)?,
            "latency_ms" => self.latency_ms = number(600_000)?,
            "jitter_ms" => self.jitter_ms = number(600_000)?,
            "rate_limit_pct" => self.rate_limit_pct = pct()?,
            "retry_after_s" => self.retry_after_s = number(3600)? as u32,
            "server_error_pct" => self.server_error_pct = pct()?,
            "timeout_pct" => self.timeout_pct = pct()?,
            "bad_seq_pct" => self.bad_seq_pct = pct()?,
            "stream_drop_ms" => self.stream_drop_ms = number(86_400_000)?,
            "stale_book_pct" => self.stale_book_pct = pct()?,
            _ => {
                return Err(FaultParseError(format!(
                    "unknown fault {name:?} (known: seed, latency_ms, jitter_ms, rate_limit_pct, retry_after_s, \
                     server_error_pct, timeout_pct, bad_seq_pct, stream_drop_ms, stale_book_pct)"
                )));
            }
        }
        Ok(())
    }
}

/// What to do to one request, drawn before it is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestFaults {
    pub delay_ms: u64,
    pub rate_limited: bool,
    pub server_error: bool,
    /// For `POST /transactions`: apply, then answer 504.
    pub timeout: bool,
    /// For the order book: answer from the previous close.
    pub stale_book: bool,
    /// For `POST /transactions`: move the source account's sequence number on by one first.
    pub bad_seq: bool,
}

/// The fault source: the config and its random stream.
#[derive(Clone, Debug)]
pub struct Faults {
    config: FaultConfig,
    rng: SplitMix64,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Faults {
        let rng = SplitMix64::new(config.seed);
        Faults { config, rng }
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Draws the faults of the next request (a fixed number of draws per request, so one
    /// knob's setting does not shift another's sequence).
    pub fn draw(&mut self) -> RequestFaults {
        let jitter = self.rng.below(self.config.jitter_ms + 1);
        let rate_limited = self.rng.percent(self.config.rate_limit_pct);
        let server_error = self.rng.percent(self.config.server_error_pct);
        let timeout = self.rng.percent(self.config.timeout_pct);
        let stale_book = self.rng.percent(self.config.stale_book_pct);
        let bad_seq = self.rng.percent(self.config.bad_seq_pct);
        RequestFaults {
            delay_ms: self.config.latency_ms + jitter,
            rate_limited,
            server_error,
            timeout,
            stale_book,
            bad_seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let mut config = FaultConfig::default();
        assert!(config.is_off());
        config.set("timeout_pct=25").unwrap();
        config.set("latency_ms=5").unwrap();
        assert_eq!((config.timeout_pct, config.latency_ms), (25, 5));
        assert!(!config.is_off());
        assert!(config.set("timeout_pct=101").is_err());
        assert!(config.set("bogus=1").unwrap_err().to_string().contains("unknown fault"));
        assert!(config.set("latency_ms").is_err());
        assert!(config.set("latency_ms=-1").is_err());
    }

    #[test]
    fn same_seed_same_faults() {
        let config = FaultConfig { seed: 9, rate_limit_pct: 30, timeout_pct: 50, jitter_ms: 10, ..Default::default() };
        let a: Vec<_> = (0..100).scan(Faults::new(config.clone()), |f, _| Some(f.draw())).collect();
        let b: Vec<_> = (0..100).scan(Faults::new(config), |f, _| Some(f.draw())).collect();
        assert_eq!(a, b);
        let limited = a.iter().filter(|f| f.rate_limited).count();
        assert!((10..=50).contains(&limited), "about 30 % rate limited, got {limited}");
        assert!(a.iter().all(|f| f.delay_ms <= 10 && !f.server_error));
    }
}
