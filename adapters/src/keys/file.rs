//! `file:` key store: one Ed25519 seed in an encrypted key file. Owns the on-disk format
//! (specified in `adapters/KEYFILE.md`), its pure parser [`parse`], and the operations on a file:
//! [`create`], [`open`], [`public_key`] and [`change_passphrase`].
//!
//! The passphrase goes through Argon2id; two keys are drawn from its output by HMAC-SHA256, one
//! for a 16-byte passphrase check value and one for XChaCha20-Poly1305, which encrypts the seed
//! with the whole header (public key included) as associated data. A SHA-256 of everything
//! before it ends the file. Hence one error per cause:
//!
//! | what is wrong                                     | [`KeyErrorKind`]     |
//! |---------------------------------------------------|----------------------|
//! | no starlog magic                                  | `NotAKeyFile`        |
//! | damaged or truncated (checksum fails)             | `Tampered`           |
//! | another format version, KDF or cipher             | `UnsupportedVersion` |
//! | check value differs after Argon2id                | `WrongPassphrase`    |
//! | AEAD fails, or the seed's key is not the header's | `Tampered`           |
//!
//! Writes are atomic: a 0600 temporary file in the same directory, fsync, then a hard link (new
//! file, never overwriting) or a rename (passphrase change), then an fsync of the directory.
//!
//! Secret hygiene: the Argon2id output, both derived keys and the plaintext seed live in
//! `Zeroizing` buffers; errors name the path and what failed, never key material or the
//! passphrase.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Version};
use chacha20poly1305::aead::AeadInOut as _;
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305};
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use starlog_engine::AccountId;
use zeroize::Zeroizing;

use super::{KeyError, KeyErrorKind, Secret, Seed};

/// The first eight bytes of every key file, whatever its version. Like PNG's: a high byte, a
/// name, and CR LF / SUB / LF to catch text-mode transfers.
pub const MAGIC: [u8; 8] = *b"\x89SLK\r\n\x1a\n";
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
/// KDF id for Argon2id (version 0x13).
pub const KDF_ARGON2ID: u8 = 1;
/// AEAD id for XChaCha20-Poly1305.
pub const AEAD_XCHACHA20_POLY1305: u8 = 1;

/// Length of a version 1 key file.
pub const FILE_BYTES: usize = 192;
/// Shortest file of any version: magic, version, trailing checksum.
pub const ENVELOPE_BYTES_MIN: usize = VERSION_END + CHECKSUM_BYTES;
/// Longest file read at all (of any version); longer files are refused before hashing.
pub const FILE_BYTES_MAX: usize = 64 * 1024;

/// Smallest Argon2id memory a file may ask for (8 MiB).
pub const KDF_MEMORY_KIB_MIN: u32 = 8 * 1024;
/// Largest Argon2id memory a file may ask for (4 GiB).
pub const KDF_MEMORY_KIB_MAX: u32 = 4 * 1024 * 1024;
/// Fewest Argon2id passes.
pub const KDF_ITERATIONS_MIN: u32 = 1;
/// Most Argon2id passes.
pub const KDF_ITERATIONS_MAX: u32 = 64;
/// Fewest Argon2id lanes.
pub const KDF_PARALLELISM_MIN: u32 = 1;
/// Most Argon2id lanes.
pub const KDF_PARALLELISM_MAX: u32 = 255;

const SALT_BYTES: usize = 16;
const NONCE_BYTES: usize = 24;
const PUBLIC_KEY_BYTES: usize = 32;
const CHECK_BYTES: usize = 16;
const SEED_BYTES: usize = 32;
const TAG_BYTES: usize = 16;
const CHECKSUM_BYTES: usize = 32;
/// Length of the Argon2id output every other key is drawn from.
const MASTER_BYTES: usize = 32;

// Version 1 layout (all integers little-endian). See KEYFILE.md.
const VERSION_AT: usize = MAGIC.len();
const VERSION_END: usize = VERSION_AT + 2;
const KDF_ID_AT: usize = VERSION_END;
const AEAD_ID_AT: usize = KDF_ID_AT + 1;
const MEMORY_AT: usize = AEAD_ID_AT + 1;
const ITERATIONS_AT: usize = MEMORY_AT + 4;
const PARALLELISM_AT: usize = ITERATIONS_AT + 4;
const SALT_AT: usize = PARALLELISM_AT + 4;
const NONCE_AT: usize = SALT_AT + SALT_BYTES;
const PUBLIC_KEY_AT: usize = NONCE_AT + NONCE_BYTES;
const CHECK_AT: usize = PUBLIC_KEY_AT + PUBLIC_KEY_BYTES;
/// Everything before the ciphertext is the AEAD's associated data.
const CIPHERTEXT_AT: usize = CHECK_AT + CHECK_BYTES;
const TAG_AT: usize = CIPHERTEXT_AT + SEED_BYTES;
const CHECKSUM_AT: usize = TAG_AT + TAG_BYTES;
const _: () = assert!(CHECKSUM_AT + CHECKSUM_BYTES == FILE_BYTES);

/// HMAC-SHA256 labels that draw the check value and the encryption key from the Argon2id output.
const LABEL_CHECK: &[u8] = b"starlog key file v1: passphrase check";
const LABEL_ENCRYPTION: &[u8] = b"starlog key file v1: encryption key";

/// Argon2id cost parameters, stored in the file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes. This build computes them one after the other (the `argon2` crate's `parallel`
    /// feature is off), so more lanes cost no more time and change the result only.
    pub parallelism: u32,
}

impl KdfParams {
    /// RFC 9106's second recommended option (section 4): 64 MiB, 3 passes, 4 lanes. About a
    /// quarter of a second here, once per process start: cheap for an operator, 64 MiB per
    /// guess for an attacker. The first option (2 GiB, t=1) would not fit small hosts.
    pub const DEFAULT: KdfParams = KdfParams { memory_kib: 64 * 1024, iterations: 3, parallelism: 4 };

    /// The cheapest parameters a file may hold (8 MiB, t=1, p=1): for tests only.
    pub const WEAK_FOR_TESTS: KdfParams =
        KdfParams { memory_kib: KDF_MEMORY_KIB_MIN, iterations: KDF_ITERATIONS_MIN, parallelism: KDF_PARALLELISM_MIN };

    /// Why the parameters are outside this build's bounds, if they are.
    fn out_of_bounds(&self) -> Option<String> {
        if !(KDF_MEMORY_KIB_MIN..=KDF_MEMORY_KIB_MAX).contains(&self.memory_kib) {
            return Some(format!(
                "Argon2id memory {} KiB is outside {KDF_MEMORY_KIB_MIN}..={KDF_MEMORY_KIB_MAX} KiB",
                self.memory_kib
            ));
        }
        if !(KDF_ITERATIONS_MIN..=KDF_ITERATIONS_MAX).contains(&self.iterations) {
            return Some(format!(
                "Argon2id iterations {} is outside {KDF_ITERATIONS_MIN}..={KDF_ITERATIONS_MAX}",
                self.iterations
            ));
        }
        if !(KDF_PARALLELISM_MIN..=KDF_PARALLELISM_MAX).contains(&self.parallelism) {
            return Some(format!(
                "Argon2id parallelism {} is outside {KDF_PARALLELISM_MIN}..={KDF_PARALLELISM_MAX}",
                self.parallelism
            ));
        }
        None
    }
}

impl Default for KdfParams {
    fn default() -> KdfParams {
        KdfParams::DEFAULT
    }
}

/// A parsed version 1 key file: the checksum verified, version, algorithms and KDF bounds
/// checked. Borrows the bytes; no KDF work has been done.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyFile<'a> {
    bytes: &'a [u8; FILE_BYTES],
}

impl<'a> KeyFile<'a> {
    pub fn version(&self) -> u16 {
        u16::from_le_bytes(array(self.bytes, VERSION_AT))
    }

    pub fn kdf_params(&self) -> KdfParams {
        KdfParams {
            memory_kib: u32::from_le_bytes(array(self.bytes, MEMORY_AT)),
            iterations: u32::from_le_bytes(array(self.bytes, ITERATIONS_AT)),
            parallelism: u32::from_le_bytes(array(self.bytes, PARALLELISM_AT)),
        }
    }

    /// The public key recorded in clear. Until [`open`] has decrypted the seed and compared,
    /// this is only as trustworthy as an unkeyed checksum: it detects damage, not an attacker.
    pub fn public_key(&self) -> AccountId {
        AccountId::from_bytes(array(self.bytes, PUBLIC_KEY_AT))
    }

    pub fn salt(&self) -> &'a [u8; SALT_BYTES] {
        array_ref(self.bytes, SALT_AT)
    }

    pub fn nonce(&self) -> &'a [u8; NONCE_BYTES] {
        array_ref(self.bytes, NONCE_AT)
    }

    /// The file's bytes, exactly as parsed.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The file encoded afresh from the parsed fields (equal to [`KeyFile::as_bytes`]; the fuzz
    /// target checks that).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(&Fields {
            params: self.kdf_params(),
            salt: self.salt(),
            nonce: self.nonce(),
            public_key: &self.public_key(),
            check: array_ref(self.bytes, CHECK_AT),
            ciphertext: array_ref(self.bytes, CIPHERTEXT_AT),
            tag: array_ref(self.bytes, TAG_AT),
        })
        .to_vec()
    }

    fn check(&self) -> &'a [u8; CHECK_BYTES] {
        array_ref(self.bytes, CHECK_AT)
    }

    fn associated_data(&self) -> &'a [u8] {
        &self.bytes[..CIPHERTEXT_AT]
    }

    fn ciphertext(&self) -> &'a [u8; SEED_BYTES] {
        array_ref(self.bytes, CIPHERTEXT_AT)
    }

    fn tag(&self) -> &'a [u8; TAG_BYTES] {
        array_ref(self.bytes, TAG_AT)
    }
}

impl core::fmt::Debug for KeyFile<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyFile")
            .field("version", &self.version())
            .field("kdf", &self.kdf_params())
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// Parses and checks key file bytes without any KDF work (and without a path: the errors say
/// "key file: …"; [`open`] and [`public_key`] put the path in).
pub fn parse(bytes: &[u8]) -> Result<KeyFile<'_>, KeyError> {
    let prefix = bytes.len().min(MAGIC.len());
    if bytes.is_empty() {
        return Err(parse_error(KeyErrorKind::NotAKeyFile, "empty, not a starlog key file"));
    }
    if bytes[..prefix] != MAGIC[..prefix] {
        // One damaged magic byte in an otherwise intact file is damage, not another format.
        if bytes.len() == FILE_BYTES && checksum_with_magic(bytes) == bytes[CHECKSUM_AT..] {
            return Err(parse_error(KeyErrorKind::Tampered, "damaged magic bytes"));
        }
        return Err(parse_error(KeyErrorKind::NotAKeyFile, "not a starlog key file (no magic bytes)"));
    }
    if bytes.len() < ENVELOPE_BYTES_MIN {
        return Err(parse_error(
            KeyErrorKind::Tampered,
            format!("truncated: {} bytes, a key file has at least {ENVELOPE_BYTES_MIN}", bytes.len()),
        ));
    }
    if bytes.len() > FILE_BYTES_MAX {
        return Err(parse_error(
            KeyErrorKind::Tampered,
            format!("{} bytes, longer than any key file ({FILE_BYTES_MAX} at most)", bytes.len()),
        ));
    }
    // Every version ends with the SHA-256 of all bytes before it, so damage to the version
    // field itself reads as damage, not as an unknown version.
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
    if Sha256::digest(body).as_slice() != sum {
        return Err(parse_error(KeyErrorKind::Tampered, "checksum mismatch: the file is damaged or truncated"));
    }
    let version = u16::from_le_bytes([bytes[VERSION_AT], bytes[VERSION_AT + 1]]);
    if version != VERSION {
        return Err(parse_error(
            KeyErrorKind::UnsupportedVersion,
            format!("format version {version}; this build reads version {VERSION}"),
        ));
    }
    let Ok(bytes) = <&[u8; FILE_BYTES]>::try_from(bytes) else {
        return Err(parse_error(
            KeyErrorKind::Tampered,
            format!("{} bytes, a version {VERSION} key file has {FILE_BYTES}", bytes.len()),
        ));
    };
    if bytes[KDF_ID_AT] != KDF_ARGON2ID {
        return Err(parse_error(
            KeyErrorKind::UnsupportedVersion,
            format!("unknown KDF id {}; this build knows {KDF_ARGON2ID} (Argon2id)", bytes[KDF_ID_AT]),
        ));
    }
    if bytes[AEAD_ID_AT] != AEAD_XCHACHA20_POLY1305 {
        return Err(parse_error(
            KeyErrorKind::UnsupportedVersion,
            format!(
                "unknown cipher id {}; this build knows {AEAD_XCHACHA20_POLY1305} (XChaCha20-Poly1305)",
                bytes[AEAD_ID_AT]
            ),
        ));
    }
    let file = KeyFile { bytes };
    if let Some(why) = file.kdf_params().out_of_bounds() {
        // starlog never writes these (create checks the same bounds), and refusing them here
        // means no time or memory is spent on them.
        return Err(parse_error(KeyErrorKind::Tampered, why));
    }
    Ok(file)
}

/// `body` with the trailing checksum every version ends with (SHA-256 of `body`) appended. For
/// tests and fuzzing: bytes built with it get past the checksum to the checks behind it.
pub fn append_checksum(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + CHECKSUM_BYTES);
    out.extend_from_slice(body);
    out.extend_from_slice(&Sha256::digest(body));
    out
}

/// Writes a new key file at `path` holding `seed`, encrypted under `passphrase`. Refuses an
/// existing file (`AlreadyExists`), an empty passphrase (`MissingSecret`) and parameters outside
/// the reader's bounds (`Unsupported`).
pub fn create(path: &Path, seed: &Seed, passphrase: &Secret, params: KdfParams) -> Result<AccountId, KeyError> {
    check_new_passphrase(path, passphrase)?;
    if let Some(why) = params.out_of_bounds() {
        return Err(error(KeyErrorKind::Unsupported, path, why));
    }
    // Early, before the KDF's time; the link at the end is what makes it race-free.
    if fs::symlink_metadata(path).is_ok() {
        return Err(error(KeyErrorKind::AlreadyExists, path, "already exists; not overwriting a key file"));
    }
    let bytes = seal(path, seed, passphrase, params)?;
    write_new(path, &bytes)?;
    Ok(seed.public_key())
}

/// Decrypts the key file at `path` with `passphrase`.
pub fn open(path: &Path, passphrase: &Secret) -> Result<Seed, KeyError> {
    if passphrase.expose().is_empty() {
        return Err(error(KeyErrorKind::MissingSecret, path, "the passphrase is empty"));
    }
    let bytes = read(path)?;
    let file = parse(&bytes).map_err(|e| at(path, e))?;
    unseal(path, &file, passphrase)
}

/// The public key recorded in the file's header (no passphrase needed; checked against the
/// file's checksum only — [`open`] is what proves it).
pub fn public_key(path: &Path) -> Result<AccountId, KeyError> {
    let bytes = read(path)?;
    let file = parse(&bytes).map_err(|e| at(path, e))?;
    Ok(file.public_key())
}

/// Re-encrypts the key file at `path` under `new`, with a fresh salt and nonce and `params`, and
/// replaces it atomically. The file is untouched unless `old` opens it.
pub fn change_passphrase(path: &Path, old: &Secret, new: &Secret, params: KdfParams) -> Result<AccountId, KeyError> {
    check_new_passphrase(path, new)?;
    if let Some(why) = params.out_of_bounds() {
        return Err(error(KeyErrorKind::Unsupported, path, why));
    }
    let seed = open(path, old)?;
    let bytes = seal(path, &seed, new, params)?;
    write_replacing(path, &bytes)?;
    Ok(seed.public_key())
}

/// The fields of a version 1 file other than magic, version, ids and checksum.
struct Fields<'a> {
    params: KdfParams,
    salt: &'a [u8; SALT_BYTES],
    nonce: &'a [u8; NONCE_BYTES],
    public_key: &'a AccountId,
    check: &'a [u8; CHECK_BYTES],
    ciphertext: &'a [u8; SEED_BYTES],
    tag: &'a [u8; TAG_BYTES],
}

fn encode(fields: &Fields<'_>) -> [u8; FILE_BYTES] {
    let mut out = encode_header(fields.params, fields.salt, fields.nonce, fields.public_key);
    out[CHECK_AT..CIPHERTEXT_AT].copy_from_slice(fields.check);
    out[CIPHERTEXT_AT..TAG_AT].copy_from_slice(fields.ciphertext);
    out[TAG_AT..CHECKSUM_AT].copy_from_slice(fields.tag);
    finish(&mut out);
    out
}

/// Magic through public key; check value, ciphertext, tag and checksum left zero.
fn encode_header(
    params: KdfParams,
    salt: &[u8; SALT_BYTES],
    nonce: &[u8; NONCE_BYTES],
    public_key: &AccountId,
) -> [u8; FILE_BYTES] {
    let mut out = [0u8; FILE_BYTES];
    out[..VERSION_AT].copy_from_slice(&MAGIC);
    out[VERSION_AT..VERSION_END].copy_from_slice(&VERSION.to_le_bytes());
    out[KDF_ID_AT] = KDF_ARGON2ID;
    out[AEAD_ID_AT] = AEAD_XCHACHA20_POLY1305;
    out[MEMORY_AT..ITERATIONS_AT].copy_from_slice(&params.memory_kib.to_le_bytes());
    out[ITERATIONS_AT..PARALLELISM_AT].copy_from_slice(&params.iterations.to_le_bytes());
    out[PARALLELISM_AT..SALT_AT].copy_from_slice(&params.parallelism.to_le_bytes());
    out[SALT_AT..NONCE_AT].copy_from_slice(salt);
    out[NONCE_AT..PUBLIC_KEY_AT].copy_from_slice(nonce);
    out[PUBLIC_KEY_AT..CHECK_AT].copy_from_slice(public_key.as_bytes());
    out
}

/// Sets the trailing checksum.
fn finish(out: &mut [u8; FILE_BYTES]) {
    let sum = Sha256::digest(&out[..CHECKSUM_AT]);
    out[CHECKSUM_AT..].copy_from_slice(&sum);
}

/// The checksum `bytes` (a whole version 1 file) would have with intact magic.
fn checksum_with_magic(bytes: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let mut hasher = Sha256::new();
    hasher.update(MAGIC);
    hasher.update(&bytes[MAGIC.len()..CHECKSUM_AT]);
    hasher.finalize().into()
}

/// The encrypted file bytes for `seed` under `passphrase`, with a fresh salt and nonce.
fn seal(path: &Path, seed: &Seed, passphrase: &Secret, params: KdfParams) -> Result<[u8; FILE_BYTES], KeyError> {
    let mut salt = [0u8; SALT_BYTES];
    let mut nonce = [0u8; NONCE_BYTES];
    random(path, &mut salt)?;
    random(path, &mut nonce)?;
    let mut out = encode_header(params, &salt, &nonce, &seed.public_key());
    let keys = derive_keys(path, passphrase, params, &salt)?;
    out[CHECK_AT..CIPHERTEXT_AT].copy_from_slice(&keys.check[..]);

    let mut buffer = Zeroizing::new(*seed.as_bytes());
    let cipher = XChaCha20Poly1305::new((&*keys.encryption).into());
    let (associated_data, rest) = out.split_at_mut(CIPHERTEXT_AT);
    let tag = cipher
        .encrypt_inout_detached((&nonce).into(), associated_data, (&mut buffer[..]).into())
        .map_err(|_| error(KeyErrorKind::Io, path, "XChaCha20-Poly1305 encryption failed"))?;
    rest[..SEED_BYTES].copy_from_slice(&buffer[..]);
    rest[SEED_BYTES..SEED_BYTES + TAG_BYTES].copy_from_slice(&tag);
    finish(&mut out);
    Ok(out)
}

/// The seed in a parsed file: check value, then AEAD, then the seed's public key.
fn unseal(path: &Path, file: &KeyFile<'_>, passphrase: &Secret) -> Result<Seed, KeyError> {
    let keys = derive_keys(path, passphrase, file.kdf_params(), file.salt())?;
    // Constant-time comparison.
    let mut check = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&keys.master[..]).expect("HMAC takes any key");
    check.update(LABEL_CHECK);
    if check.verify_truncated_left(file.check()).is_err() {
        return Err(error(KeyErrorKind::WrongPassphrase, path, "wrong passphrase"));
    }
    let mut buffer = Zeroizing::new(*file.ciphertext());
    let cipher = XChaCha20Poly1305::new((&*keys.encryption).into());
    if cipher
        .decrypt_inout_detached(
            file.nonce().into(),
            file.associated_data(),
            (&mut buffer[..]).into(),
            file.tag().into(),
        )
        .is_err()
    {
        return Err(error(
            KeyErrorKind::Tampered,
            path,
            "the passphrase is right but the encrypted seed or header fails authentication (tampered)",
        ));
    }
    let seed = Seed::from_bytes(*buffer);
    if seed.public_key() != file.public_key() {
        return Err(error(KeyErrorKind::Tampered, path, "the decrypted seed does not match the header's public key"));
    }
    Ok(seed)
}

/// What Argon2id and HMAC-SHA256 give for one passphrase and salt.
struct Keys {
    master: Zeroizing<[u8; MASTER_BYTES]>,
    check: Zeroizing<[u8; CHECK_BYTES]>,
    encryption: Zeroizing<[u8; 32]>,
}

fn derive_keys(path: &Path, passphrase: &Secret, params: KdfParams, salt: &[u8]) -> Result<Keys, KeyError> {
    let argon_params =
        argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(MASTER_BYTES))
            .map_err(|e| error(KeyErrorKind::Tampered, path, format!("Argon2id parameters refused: {e}")))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut master = Zeroizing::new([0u8; MASTER_BYTES]);
    argon
        .hash_password_into(passphrase.expose().as_bytes(), salt, &mut master[..])
        .map_err(|e| error(KeyErrorKind::Io, path, format!("Argon2id failed: {e}")))?;
    let mut check = Zeroizing::new([0u8; CHECK_BYTES]);
    check.copy_from_slice(&hmac_sha256(&master[..], LABEL_CHECK)[..CHECK_BYTES]);
    let encryption = hmac_sha256(&master[..], LABEL_ENCRYPTION);
    Ok(Keys { master, check, encryption })
}

fn hmac_sha256(key: &[u8], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(label);
    let output = mac.finalize();
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(output.as_bytes());
    out
}

fn check_new_passphrase(path: &Path, passphrase: &Secret) -> Result<(), KeyError> {
    if passphrase.expose().is_empty() {
        return Err(error(KeyErrorKind::MissingSecret, path, "refusing an empty passphrase"));
    }
    Ok(())
}

fn random(path: &Path, out: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(out).map_err(|_| error(KeyErrorKind::Io, path, "the operating system's random source failed"))
}

/// The file's bytes, at most `FILE_BYTES_MAX + 1` of them.
fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    let file = fs::File::open(path).map_err(|e| io_error(path, "cannot open", &e))?;
    let mut bytes = Vec::with_capacity(FILE_BYTES);
    file.take(FILE_BYTES_MAX as u64 + 1).read_to_end(&mut bytes).map_err(|e| io_error(path, "cannot read", &e))?;
    Ok(bytes)
}

/// Puts `bytes` at `path`, which must not exist: temporary file, then a hard link, which fails
/// if `path` appeared meanwhile.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let temp = write_temp(path, bytes)?;
    match fs::hard_link(&temp.path, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(error(KeyErrorKind::AlreadyExists, path, "already exists; not overwriting a key file"));
        }
        // A file system without hard links (EPERM, ENOTSUP): rename, after a last look. The
        // window between the look and the rename is the price of such a file system.
        Err(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::Unsupported) => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(error(KeyErrorKind::AlreadyExists, path, "already exists; not overwriting a key file"));
            }
            fs::rename(&temp.path, path).map_err(|e| io_error(path, "cannot move the new key file into place", &e))?;
        }
        Err(e) => return Err(io_error(path, "cannot link the new key file into place", &e)),
    }
    drop(temp);
    sync_dir(path)
}

/// Replaces `path` with `bytes` atomically (rename over it).
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let temp = write_temp(path, bytes)?;
    fs::rename(&temp.path, path).map_err(|e| io_error(path, "cannot replace the key file", &e))?;
    temp.disarm();
    sync_dir(path)
}

/// A temporary file beside `path`, removed on drop unless disarmed.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to a new mode-0600 file in `path`'s directory and fsyncs it.
fn write_temp(path: &Path, bytes: &[u8]) -> Result<TempFile, KeyError> {
    let Some(name) = path.file_name() else {
        return Err(error(KeyErrorKind::Io, path, "names no file"));
    };
    let mut tag = [0u8; 8];
    random(path, &mut tag)?;
    let temp_name = format!(".{}.{:016x}.tmp", name.to_string_lossy(), u64::from_le_bytes(tag));
    let temp_path = parent_dir(path).join(temp_name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file =
        options.open(&temp_path).map_err(|e| io_error(path, "cannot create a temporary file beside it", &e))?;
    let temp = TempFile { path: temp_path, armed: true };
    file.write_all(bytes).map_err(|e| io_error(path, "cannot write the temporary file", &e))?;
    file.sync_all().map_err(|e| io_error(path, "cannot fsync the temporary file", &e))?;
    Ok(temp)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes the new directory entry durable.
fn sync_dir(path: &Path) -> Result<(), KeyError> {
    let dir = fs::File::open(parent_dir(path)).map_err(|e| io_error(path, "cannot open the directory to fsync", &e))?;
    dir.sync_all().map_err(|e| io_error(path, "cannot fsync the directory", &e))
}

/// A copy of `array`'s `N` bytes at `at`.
fn array<const N: usize>(bytes: &[u8; FILE_BYTES], at: usize) -> [u8; N] {
    *array_ref(bytes, at)
}

fn array_ref<const N: usize>(bytes: &[u8; FILE_BYTES], at: usize) -> &[u8; N] {
    bytes[at..at + N].try_into().expect("offsets are within the file")
}

/// An error from [`parse`], before the path is known.
fn parse_error(kind: KeyErrorKind, what: impl Into<String>) -> KeyError {
    KeyError::new(kind, format!("key file: {}", what.into()))
}

/// A [`parse`] error with the path put in.
fn at(path: &Path, e: KeyError) -> KeyError {
    let text = e.to_string();
    let what = text.strip_prefix("key file: ").unwrap_or(&text);
    error(e.kind(), path, what)
}

fn error(kind: KeyErrorKind, path: &Path, what: impl core::fmt::Display) -> KeyError {
    KeyError::new(kind, one_line(&format!("key file {}: {what}", show(path))))
}

fn io_error(path: &Path, what: &str, e: &io::Error) -> KeyError {
    let kind = if e.kind() == io::ErrorKind::NotFound { KeyErrorKind::NotFound } else { KeyErrorKind::Io };
    error(kind, path, format!("{what}: {e}"))
}

/// `path` for a message: as displayed, or quoted and escaped if it holds control characters.
fn show(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().any(char::is_control) { format!("{text:?}") } else { text }
}

fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(seed: &Seed, passphrase: &str) -> [u8; FILE_BYTES] {
        seal(Path::new("mem"), seed, &Secret::new(passphrase.into()), KdfParams::WEAK_FOR_TESTS).unwrap()
    }

    #[test]
    fn layout_is_192_bytes_and_parses_back() {
        let seed = Seed::from_bytes([3; 32]);
        let bytes = sealed(&seed, "pw");
        assert_eq!(bytes.len(), FILE_BYTES);
        assert_eq!(&bytes[..8], &MAGIC);
        let file = parse(&bytes).unwrap();
        assert_eq!(file.version(), VERSION);
        assert_eq!(file.kdf_params(), KdfParams::WEAK_FOR_TESTS);
        assert_eq!(file.public_key(), seed.public_key());
        assert_eq!(file.to_bytes(), bytes.to_vec());
        let opened = unseal(Path::new("mem"), &file, &Secret::new("pw".into())).unwrap();
        assert_eq!(opened.as_bytes(), seed.as_bytes());
    }

    #[test]
    fn the_seed_is_not_in_the_file_in_clear() {
        let seed = Seed::from_bytes([0x5a; 32]);
        let bytes = sealed(&seed, "pw");
        assert!(!bytes.windows(8).any(|w| w == [0x5a; 8]));
    }

    #[test]
    fn fresh_salt_and_nonce_every_time() {
        let seed = Seed::from_bytes([1; 32]);
        let (a, b) = (sealed(&seed, "pw"), sealed(&seed, "pw"));
        assert_ne!(a[SALT_AT..NONCE_AT], b[SALT_AT..NONCE_AT]);
        assert_ne!(a[NONCE_AT..PUBLIC_KEY_AT], b[NONCE_AT..PUBLIC_KEY_AT]);
        assert_ne!(a[CIPHERTEXT_AT..TAG_AT], b[CIPHERTEXT_AT..TAG_AT]);
    }

    #[test]
    fn wrong_passphrase_is_told_by_the_check_value() {
        let bytes = sealed(&Seed::from_bytes([1; 32]), "right");
        let file = parse(&bytes).unwrap();
        let err = unseal(Path::new("k"), &file, &Secret::new("wrong".into())).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::WrongPassphrase);
        assert_eq!(err.to_string(), "key file k: wrong passphrase");
    }

    #[test]
    fn a_header_field_changed_with_a_fixed_checksum_never_yields_a_seed() {
        // What an attacker who recomputes the (unkeyed) checksum gets, region by region.
        let seed = Seed::from_bytes([9; 32]);
        let bytes = sealed(&seed, "pw");
        let passphrase = Secret::new("pw".into());
        for at in VERSION_AT..CHECKSUM_AT {
            let mut damaged = bytes;
            damaged[at] ^= 0x01;
            finish(&mut damaged);
            let kind = match parse(&damaged) {
                Err(e) => e.kind(),
                Ok(file) => unseal(Path::new("k"), &file, &passphrase).unwrap_err().kind(),
            };
            let expected: &[KeyErrorKind] = match at {
                VERSION_AT..MEMORY_AT => &[KeyErrorKind::UnsupportedVersion],
                MEMORY_AT..SALT_AT => &[KeyErrorKind::Tampered, KeyErrorKind::WrongPassphrase],
                SALT_AT..NONCE_AT | CHECK_AT..CIPHERTEXT_AT => &[KeyErrorKind::WrongPassphrase],
                _ => &[KeyErrorKind::Tampered],
            };
            assert!(expected.contains(&kind), "offset {at}: {kind:?}");
        }
    }

    #[test]
    fn kdf_bounds_are_refused_before_any_work() {
        let mut bytes = sealed(&Seed::from_bytes([1; 32]), "pw");
        bytes[MEMORY_AT..ITERATIONS_AT].copy_from_slice(&u32::MAX.to_le_bytes());
        finish(&mut bytes);
        let err = parse(&bytes).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::Tampered);
        assert!(err.to_string().contains("memory 4294967295 KiB"), "{err}");
        for params in [
            KdfParams { memory_kib: KDF_MEMORY_KIB_MIN - 1, ..KdfParams::DEFAULT },
            KdfParams { iterations: 0, ..KdfParams::DEFAULT },
            KdfParams { iterations: KDF_ITERATIONS_MAX + 1, ..KdfParams::DEFAULT },
            KdfParams { parallelism: 0, ..KdfParams::DEFAULT },
            KdfParams { parallelism: KDF_PARALLELISM_MAX + 1, ..KdfParams::DEFAULT },
        ] {
            assert!(params.out_of_bounds().is_some(), "{params:?}");
        }
        assert_eq!(KdfParams::DEFAULT.out_of_bounds(), None);
        assert_eq!(KdfParams::WEAK_FOR_TESTS.out_of_bounds(), None);
        // Argon2 itself accepts the extremes of the bounds (m >= 8 p).
        assert!(argon2::Params::new(KDF_MEMORY_KIB_MIN, 1, KDF_PARALLELISM_MAX, Some(MASTER_BYTES)).is_ok());
    }

    #[test]
    fn the_default_parameters_work() {
        let seed = Seed::from_bytes([4; 32]);
        let passphrase = Secret::new("default".into());
        let bytes = seal(Path::new("mem"), &seed, &passphrase, KdfParams::DEFAULT).unwrap();
        let file = parse(&bytes).unwrap();
        assert_eq!(file.kdf_params(), KdfParams::DEFAULT);
        assert_eq!(unseal(Path::new("mem"), &file, &passphrase).unwrap().as_bytes(), seed.as_bytes());
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("k.key")), Path::new("."));
        assert_eq!(parent_dir(Path::new("/k.key")), Path::new("/"));
        assert_eq!(parent_dir(Path::new("a/k.key")), Path::new("a"));
    }

    #[test]
    fn paths_with_control_characters_stay_one_line() {
        let err = error(KeyErrorKind::Io, Path::new("a\nb"), "x\ny");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}
