//! SEP-5 key derivation (BIP-39 mnemonic + SLIP-10 Ed25519, path m/44'/148'/x'). Work in progress.

use super::{KeyError, KeyErrorKind, Secret, Seed};

/// The seed of account `index` derived from `mnemonic` and the optional BIP-39 `passphrase`.
pub fn derive(mnemonic: &Secret, passphrase: &Secret, index: u32) -> Result<Seed, KeyError> {
    let _ = (mnemonic, passphrase, index);
    Err(KeyError::new(KeyErrorKind::Unsupported, "SEP-5 not built yet"))
}
