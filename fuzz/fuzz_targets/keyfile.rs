//! Fuzzes the key file parser (`starlog_adapters::keys::file::parse`), which reads untrusted
//! bytes before any passphrase or KDF work. The first input byte picks how the file is built:
//!
//! - mode 0: the rest is the whole file (magic and checksum checks first);
//! - mode 1: magic + the rest + a correct checksum (reaches the version and length checks);
//! - mode 2: magic, version 1, known KDF and cipher ids + the rest + a correct checksum
//!   (reaches the KDF bounds and the field accessors).
//!
//! Properties: no panic; every error is one line and one of NotAKeyFile, Tampered or
//! UnsupportedVersion; whatever parses is a version 1 file of exactly `FILE_BYTES`, with KDF
//! parameters within the bounds, that re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starlog_adapters::keys::KeyErrorKind;
use starlog_adapters::keys::file::{self, FILE_BYTES, MAGIC, VERSION};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = match mode % 3 {
        0 => rest.to_vec(),
        1 => file::append_checksum(&[&MAGIC[..], rest].concat()),
        _ => {
            let mut body = MAGIC.to_vec();
            body.extend_from_slice(&VERSION.to_le_bytes());
            body.extend_from_slice(&[file::KDF_ARGON2ID, file::AEAD_XCHACHA20_POLY1305]);
            body.extend_from_slice(rest);
            file::append_checksum(&body)
        }
    };
    match file::parse(&bytes) {
        Ok(parsed) => {
            assert_eq!(bytes.len(), FILE_BYTES);
            assert_eq!(parsed.version(), VERSION);
            assert_eq!(parsed.as_bytes(), &bytes[..]);
            assert_eq!(parsed.to_bytes(), bytes);
            let kdf = parsed.kdf_params();
            assert!((file::KDF_MEMORY_KIB_MIN..=file::KDF_MEMORY_KIB_MAX).contains(&kdf.memory_kib));
            assert!((file::KDF_ITERATIONS_MIN..=file::KDF_ITERATIONS_MAX).contains(&kdf.iterations));
            assert!((file::KDF_PARALLELISM_MIN..=file::KDF_PARALLELISM_MAX).contains(&kdf.parallelism));
            let _ = (parsed.public_key(), parsed.salt(), parsed.nonce(), format!("{parsed:?}"));
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains('\n'), "{message}");
            assert!(
                matches!(
                    e.kind(),
                    KeyErrorKind::NotAKeyFile | KeyErrorKind::Tampered | KeyErrorKind::UnsupportedVersion
                ),
                "{:?}: {message}",
                e.kind()
            );
        }
    }
});
