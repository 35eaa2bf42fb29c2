//! The process's structured logs: one global `tracing` subscriber writing to standard error,
//! either human-readable text or one JSON object per line, at the level named by the
//! `STARLOG_LOG` environment variable (`error`, `warn`, `info`, `debug` or `trace`; default
//! `info`). Logs are for operators; a command's own output and its final error line are not logs.

use std::io::IsTerminal as _;
use std::str::FromStr;

use tracing::level_filters::LevelFilter;

/// The environment variable that sets the log level.
pub const LEVEL_VAR: &str = "STARLOG_LOG";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (colored only when standard error is a terminal).
    #[default]
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format {other:?} (expected text or json)")),
        }
    }
}

/// The level named by `value` (a [`LEVEL_VAR`] value, any case); `None` (unset) is `info`.
pub fn parse_level(value: Option<&str>) -> Result<LevelFilter, String> {
    let Some(value) = value else { return Ok(LevelFilter::INFO) };
    match value.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::ERROR),
        "warn" => Ok(LevelFilter::WARN),
        "info" => Ok(LevelFilter::INFO),
        "debug" => Ok(LevelFilter::DEBUG),
        "trace" => Ok(LevelFilter::TRACE),
        _ => Err(format!("{LEVEL_VAR}={value:?} is not a level (expected error, warn, info, debug or trace)")),
    }
}

/// Installs the global subscriber writing `format` to standard error at the level from
/// [`LEVEL_VAR`] (an invalid value logs a warning and uses `info`). Only the first call in a
/// process installs anything; later calls do nothing.
pub fn init(format: LogFormat) {
    let value = std::env::var(LEVEL_VAR).ok();
    let (level, bad_level) = match parse_level(value.as_deref()) {
        Ok(level) => (level, None),
        Err(e) => (LevelFilter::INFO, Some(e)),
    };
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level);
    let installed = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).try_init(),
    };
    if let (Ok(()), Some(e)) = (installed, bad_level) {
        tracing::warn!("{e}; logging at info");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_others_are_refused_in_one_line() {
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        let e = "JSON5".parse::<LogFormat>().unwrap_err();
        assert_eq!(e, "unknown log format \"JSON5\" (expected text or json)");
    }

    #[test]
    fn levels_parse_by_hand() {
        assert_eq!(parse_level(None), Ok(LevelFilter::INFO));
        assert_eq!(parse_level(Some("error")), Ok(LevelFilter::ERROR));
        assert_eq!(parse_level(Some("Warn")), Ok(LevelFilter::WARN));
        assert_eq!(parse_level(Some(" debug ")), Ok(LevelFilter::DEBUG));
        assert_eq!(parse_level(Some("trace")), Ok(LevelFilter::TRACE));
        assert!(parse_level(Some("verbose")).unwrap_err().contains("STARLOG_LOG=\"verbose\" is not a level"));
        assert!(parse_level(Some("")).is_err());
    }

    #[test]
    fn init_twice_does_not_panic() {
        init(LogFormat::Json);
        init(LogFormat::Text);
        tracing::info!(check = 1, "logging initialised twice");
    }
}
