//! `file:` key store — an encrypted key file (format in `adapters/KEYFILE.md`). Work in progress.

use std::path::Path;

use starlog_engine::AccountId;

use super::{KeyError, KeyErrorKind, Secret, Seed};

/// Decrypts the key file at `path` with `passphrase`.
pub fn open(path: &Path, passphrase: &Secret) -> Result<Seed, KeyError> {
    let _ = (path, passphrase);
    Err(KeyError::new(KeyErrorKind::Unsupported, "file: key store not built yet"))
}

/// The public key recorded in the file's header (no passphrase needed).
pub fn public_key(path: &Path) -> Result<AccountId, KeyError> {
    let _ = path;
    Err(KeyError::new(KeyErrorKind::Unsupported, "file: key store not built yet"))
}
