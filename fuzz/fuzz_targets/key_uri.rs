//! Fuzzes key URI parsing (`--key`, config files).
//!
//! Properties: no panic; errors are one line and never repeat a `pin-value` or a secret seed;
//! whatever parses prints back to a URI that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_adapters::keys::KeyUri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [KeyUri::parse(text), KeyUri::parse_store(text)] {
        match parsed {
            Ok(uri) => {
                let printed = uri.to_string();
                if !matches!(uri, KeyUri::File { .. }) || !printed.contains(char::is_control) {
                    let again = KeyUri::parse_store(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
                    assert_eq!(again, uri, "{printed:?}");
                }
            }
            Err(e) => {
                let message = e.to_string();
                assert!(!message.contains('\n'), "{message}");
                // Whatever follows `pin-value=` in the input never follows it in the message.
                for (at, _) in text.match_indices("pin-value=") {
                    let value: String = text[at + 10..].chars().take_while(|c| !matches!(c, '&' | ';')).collect();
                    if !value.is_empty() && value != "<redacted>" {
                        assert!(!message.contains(&format!("pin-value={value}")), "{message}");
                    }
                }
            }
        }
    }
});
