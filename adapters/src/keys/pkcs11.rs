//! `pkcs11:` key store — Ed25519 keys inside an HSM token, signing with CKM_EDDSA. Work in progress.

use starlog_engine::AccountId;

use super::{KeyError, KeyErrorKind, Pkcs11Uri, SecretSource, Signer, StoreKind};

/// Signs with a private key object inside a PKCS#11 token.
#[derive(Debug)]
pub struct Pkcs11Signer {
    public_key: AccountId,
    uri: String,
}

impl Pkcs11Signer {
    pub fn open(uri: &Pkcs11Uri, pin: &SecretSource) -> Result<Pkcs11Signer, KeyError> {
        let _ = (uri, pin);
        Err(KeyError::new(KeyErrorKind::Unsupported, "pkcs11: key store not built yet"))
    }
}

impl Signer for Pkcs11Signer {
    fn public_key(&self) -> AccountId {
        self.public_key
    }

    fn store(&self) -> StoreKind {
        StoreKind::Pkcs11
    }

    fn uri(&self) -> &str {
        &self.uri
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        let _ = message;
        Err(KeyError::new(KeyErrorKind::Unsupported, "pkcs11: key store not built yet"))
    }
}
