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
                // Every `pin-value=` in the message is followed by `<redacted>` (or by as much of
                // it as fits before the echo is cut short with `...`).
                for (at, _) in message.match_indices("pin-value=") {
                    let rest = &message[at + "pin-value=".len()..];
                    let shown = rest.split("...").next().unwrap_or("");
                    let redacted = rest.starts_with("<redacted>") || (rest.contains("...") && "<redacted>".starts_with(shown));
                    assert!(redacted, "{message}");
                }
            }
        }
    }
});
