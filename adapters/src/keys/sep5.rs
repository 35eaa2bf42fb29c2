//! SEP-5 key derivation: a BIP-39 mnemonic (English word list) and optional BIP-39 passphrase
//! give a 64-byte seed (PBKDF2-HMAC-SHA512, 2048 rounds, by the `bip39` crate), from which
//! SLIP-10 Ed25519 derivation along `m/44'/148'/index'` gives the account's seed. Also owns
//! [`generate_mnemonic`].
//!
//! SLIP-10 for Ed25519 is hardened-only: the master key and chain code are
//! HMAC-SHA512(key = "ed25519 seed", data = seed), split in halves; a child is
//! HMAC-SHA512(key = chain code, data = 0x00 || key || ser32(i + 2^31)), split the same way.
//!
//! Every intermediate (BIP-39 seed, keys, chain codes, HMAC outputs, entropy) is in a
//! `Zeroizing` buffer; `bip39::Mnemonic` zeroizes itself. Errors never echo words.

use bip39::{Language, Mnemonic};
use hmac::{Hmac, Mac as _};
use sha2::Sha512;
use zeroize::Zeroizing;

use super::{KeyError, KeyErrorKind, Secret, Seed};

/// BIP-44's purpose field.
pub const PURPOSE: u32 = 44;
/// Stellar's coin type in SLIP-44.
pub const COIN_TYPE_STELLAR: u32 = 148;
/// Largest account index: SLIP-10 Ed25519 derives hardened children only, `i + 2^31`.
pub const ACCOUNT_INDEX_MAX: u32 = HARDENED - 1;
/// Longest mnemonic [`generate_mnemonic`] writes: 24 English words of at most 8 letters, spaced.
pub const MNEMONIC_CHARS_MAX: usize = 24 * 9 - 1;

/// 2^31, the hardened-child offset.
const HARDENED: u32 = 0x8000_0000;
/// SLIP-10's HMAC key for the Ed25519 master key.
const SLIP10_ED25519_KEY: &[u8] = b"ed25519 seed";
const BIP39_SEED_BYTES: usize = 64;
/// A SLIP-10 node: 32 bytes of key, then 32 of chain code.
const NODE_BYTES: usize = 64;

/// The seed of account `index` (path `m/44'/148'/index'`) derived from `mnemonic` and the BIP-39
/// `passphrase` (empty for none). The mnemonic is any valid English BIP-39 phrase (12 to 24
/// words); both it and the passphrase are NFKD-normalized as BIP-39 says.
pub fn derive(mnemonic: &Secret, passphrase: &Secret, index: u32) -> Result<Seed, KeyError> {
    if index > ACCOUNT_INDEX_MAX {
        return Err(KeyError::new(
            KeyErrorKind::Unsupported,
            format!("SEP-5: account index {index} is too large (at most {ACCOUNT_INDEX_MAX}, i.e. below 2^31)"),
        ));
    }
    let seed = bip39_seed(mnemonic, passphrase)?;
    let node = derive_path(&seed[..], &[PURPOSE, COIN_TYPE_STELLAR, index]);
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&node[..32]);
    Ok(Seed::from_bytes(*key))
}

/// A fresh English BIP-39 mnemonic of `words` words (12 or 24; SEP-5 recommends 24) from the
/// operating system's random source.
pub fn generate_mnemonic(words: usize) -> Result<Secret, KeyError> {
    let entropy_bytes = match words {
        12 => 16,
        24 => 32,
        _ => {
            return Err(KeyError::new(
                KeyErrorKind::Unsupported,
                format!("SEP-5: a new mnemonic has 12 or 24 words, not {words}"),
            ));
        }
    };
    let mut entropy = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut entropy[..entropy_bytes])
        .map_err(|_| KeyError::new(KeyErrorKind::Io, "the operating system's random source failed"))?;
    let mnemonic = Mnemonic::from_entropy_in(Language::English, &entropy[..entropy_bytes])
        .map_err(|_| KeyError::new(KeyErrorKind::BadMnemonic, "BIP-39 refused the entropy"))?;
    // Capacity for the whole phrase up front, so that no reallocation leaves a copy behind.
    let mut text = String::with_capacity(MNEMONIC_CHARS_MAX);
    for (i, word) in mnemonic.words().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(word);
    }
    debug_assert!(text.len() <= MNEMONIC_CHARS_MAX);
    Ok(Secret::new(text))
}

/// BIP-39: the mnemonic checked against the English word list and its checksum, then
/// PBKDF2-HMAC-SHA512 (2048 rounds, salt "mnemonic" + passphrase).
fn bip39_seed(mnemonic: &Secret, passphrase: &Secret) -> Result<Zeroizing<[u8; BIP39_SEED_BYTES]>, KeyError> {
    let parsed = Mnemonic::parse_in(Language::English, mnemonic.expose()).map_err(|e| bad_mnemonic(&e))?;
    Ok(Zeroizing::new(parsed.to_seed(passphrase.expose())))
}

/// Says what is wrong without repeating any word.
fn bad_mnemonic(e: &bip39::Error) -> KeyError {
    let what = match e {
        bip39::Error::BadWordCount(n) => format!("{n} words; a BIP-39 mnemonic has 12, 15, 18, 21 or 24"),
        bip39::Error::UnknownWord(i) => format!("word {} is not in the English BIP-39 word list", i + 1),
        bip39::Error::InvalidChecksum => "the checksum does not match (a word is wrong or out of place)".to_owned(),
        _ => "not a valid English BIP-39 mnemonic".to_owned(),
    };
    KeyError::new(KeyErrorKind::BadMnemonic, format!("SEP-5: bad mnemonic: {what}"))
}

/// The SLIP-10 Ed25519 node at hardened `path` (each element is `i`, derived as `i + 2^31`).
fn derive_path(seed: &[u8], path: &[u32]) -> Zeroizing<[u8; NODE_BYTES]> {
    let mut node = hmac_sha512(SLIP10_ED25519_KEY, &[seed]);
    for &index in path {
        debug_assert!(index < HARDENED);
        let (key, chain_code) = node.split_at(32);
        node = hmac_sha512(chain_code, &[&[0], key, &(index | HARDENED).to_be_bytes()]);
    }
    node
}

fn hmac_sha512(key: &[u8], data: &[&[u8]]) -> Zeroizing<[u8; NODE_BYTES]> {
    let mut mac = <Hmac<Sha512> as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for part in data {
        mac.update(part);
    }
    let output = mac.finalize();
    let mut out = Zeroizing::new([0u8; NODE_BYTES]);
    out.copy_from_slice(output.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use starlog_journal::hex;

    /// The intermediate values SEP-5's test cases give: the BIP-39 seed and the `m/44'/148'` key.
    #[test]
    fn intermediates_match_the_spec() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/sep5.json")).expect("sep5.json parses");
        let vectors = doc["vectors"].as_array().expect("vectors");
        assert_eq!(vectors.len(), 5);
        for v in vectors {
            let mnemonic = Secret::new(v["mnemonic"].as_str().unwrap().to_owned());
            let passphrase = Secret::new(v["passphrase"].as_str().unwrap().to_owned());
            let seed = bip39_seed(&mnemonic, &passphrase).unwrap();
            assert_eq!(hex(&seed[..]), v["bip39_seed"].as_str().unwrap(), "{}", v["name"]);
            let node = derive_path(&seed[..], &[PURPOSE, COIN_TYPE_STELLAR]);
            assert_eq!(hex(&node[..32]), v["m_44h_148h_key"].as_str().unwrap(), "{}", v["name"]);
        }
    }

    /// SLIP-10's own Ed25519 test vector 1 (seed 000102…0f): chain m and m/0'.
    #[test]
    fn slip10_vector_1() {
        let seed: Vec<u8> = (0u8..16).collect();
        let master = derive_path(&seed, &[]);
        assert_eq!(hex(&master[..32]), "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7");
        assert_eq!(hex(&master[32..]), "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb");
        let child = derive_path(&seed, &[0]);
        assert_eq!(hex(&child[..32]), "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3");
        assert_eq!(hex(&child[32..]), "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69");
    }

    #[test]
    fn bad_mnemonics_are_named_without_their_words() {
        let pass = Secret::new(String::new());
        for (text, says) in [
            ("illness spike retreat truth genius clock brain pass fit cave bargain", "11 words"),
            ("illness spike retreat truth genius clock brain pass fit cave bargain zzzqx", "word 12"),
            ("spike illness retreat truth genius clock brain pass fit cave bargain toe", "checksum"),
            ("", "0 words"),
        ] {
            let err = derive(&Secret::new(text.to_owned()), &pass, 0).unwrap_err();
            assert_eq!(err.kind(), KeyErrorKind::BadMnemonic, "{text:?}");
            assert!(err.to_string().contains(says), "{err}");
            for word in text.split_whitespace() {
                assert!(!err.to_string().contains(word), "{err} echoes {word}");
            }
        }
    }
}
