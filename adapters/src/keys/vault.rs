//! `vault:` key store — Ed25519 transit keys in Vault or OpenBao. Work in progress.

use starlog_engine::AccountId;

use super::{KeyError, KeyErrorKind, Signer, StoreKind, VaultUri};

/// Signs with a transit key.
#[derive(Debug)]
pub struct VaultSigner {
    public_key: AccountId,
    uri: String,
}

impl VaultSigner {
    pub fn open(uri: &VaultUri) -> Result<VaultSigner, KeyError> {
        let _ = uri;
        Err(KeyError::new(KeyErrorKind::Unsupported, "vault: key store not built yet"))
    }
}

impl Signer for VaultSigner {
    fn public_key(&self) -> AccountId {
        self.public_key
    }

    fn store(&self) -> StoreKind {
        StoreKind::Vault
    }

    fn uri(&self) -> &str {
        &self.uri
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        let _ = message;
        Err(KeyError::new(KeyErrorKind::Unsupported, "vault: key store not built yet"))
    }
}
