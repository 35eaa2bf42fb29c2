//! The `file:` key store from the outside: round trips, one clear error per kind of damage,
//! atomic and non-clobbering writes, re-keying, and errors that never carry the passphrase.
//! All files use `KdfParams::WEAK_FOR_TESTS` (8 MiB, t=1) so that Argon2id stays fast.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sha2::{Digest as _, Sha256};
use starlog_adapters::keys::file::{self, FILE_BYTES, KdfParams, MAGIC};
use starlog_adapters::keys::{KeyErrorKind, Secret, Seed};

const PASSPHRASE: &str = "correct horse battery staple 7Qx";
const WEAK: KdfParams = KdfParams::WEAK_FOR_TESTS;

fn secret(text: &str) -> Secret {
    Secret::new(text.to_owned())
}

fn seed() -> Seed {
    Seed::from_strkey("SBGWSG6BTNCKCOB3DIFBGCVMUPQFYPA2G4O34RMTB343OYPXU5DJDVMN").unwrap()
}

/// A key file for `seed()` under `PASSPHRASE` in a fresh directory.
fn key_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trader.key");
    file::create(&path, &seed(), &secret(PASSPHRASE), WEAK).unwrap();
    (dir, path)
}

/// Re-seals `bytes` with a correct trailing checksum, as an attacker (or a future version) would.
fn with_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 32;
    let sum = Sha256::digest(&bytes[..body]);
    bytes[body..].copy_from_slice(&sum);
    assert_eq!(file::append_checksum(&bytes[..body]), bytes);
    bytes
}

/// Checks an error message for things it must never contain.
fn assert_clean(message: &str) {
    assert!(!message.contains(PASSPHRASE), "{message}");
    assert!(!message.contains("correct horse"), "{message}");
    assert!(!message.contains("SBGWSG6"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

fn open_kind(path: &Path, passphrase: &str) -> KeyErrorKind {
    let err = file::open(path, &secret(passphrase)).expect_err("must not open");
    assert_clean(&err.to_string());
    assert!(err.to_string().contains(&path.display().to_string()), "names the path: {err}");
    err.kind()
}

#[test]
fn round_trip() {
    let (_dir, path) = key_file();
    let opened = file::open(&path, &secret(PASSPHRASE)).unwrap();
    assert_eq!(opened.as_bytes(), seed().as_bytes());
    assert_eq!(file::public_key(&path).unwrap(), seed().public_key());
    assert_eq!(fs::read(&path).unwrap().len(), FILE_BYTES);
}

#[test]
fn create_returns_the_account_and_writes_mode_0600_without_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let account = file::create(&path, &seed(), &secret(PASSPHRASE), WEAK).unwrap();
    assert_eq!(account, seed().public_key());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("k")], "no temporary file left behind");
}

#[test]
fn wrong_passphrase() {
    let (_dir, path) = key_file();
    assert_eq!(open_kind(&path, "correct horse battery staple 7Qy"), KeyErrorKind::WrongPassphrase);
    assert_eq!(open_kind(&path, "x"), KeyErrorKind::WrongPassphrase);
}

#[test]
fn one_byte_flipped_at_every_offset_is_tampering() {
    let (dir, path) = key_file();
    let bytes = fs::read(&path).unwrap();
    let damaged = dir.path().join("damaged.key");
    for at in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut copy = bytes.clone();
            copy[at] ^= mask;
            fs::write(&damaged, &copy).unwrap();
            assert_eq!(open_kind(&damaged, PASSPHRASE), KeyErrorKind::Tampered, "offset {at} mask {mask:#x}");
            let err = file::public_key(&damaged).unwrap_err();
            assert_eq!(err.kind(), KeyErrorKind::Tampered, "offset {at} mask {mask:#x}");
            assert!(file::parse(&copy).is_err());
        }
    }
}

#[test]
fn truncation_at_every_length_and_extension() {
    let (dir, path) = key_file();
    let bytes = fs::read(&path).unwrap();
    let cut = dir.path().join("cut.key");
    for len in 0..bytes.len() {
        fs::write(&cut, &bytes[..len]).unwrap();
        let expected = if len == 0 { KeyErrorKind::NotAKeyFile } else { KeyErrorKind::Tampered };
        assert_eq!(open_kind(&cut, PASSPHRASE), expected, "length {len}");
    }
    for extra in [&[0u8][..], b"\n", &[0u8; 4096]] {
        let mut longer = bytes.clone();
        longer.extend_from_slice(extra);
        fs::write(&cut, &longer).unwrap();
        assert_eq!(open_kind(&cut, PASSPHRASE), KeyErrorKind::Tampered, "{} extra bytes", extra.len());
    }
    let mut huge = bytes.clone();
    huge.resize(file::FILE_BYTES_MAX + 10, 0);
    fs::write(&cut, &huge).unwrap();
    assert_eq!(open_kind(&cut, PASSPHRASE), KeyErrorKind::Tampered);
}

#[test]
fn another_version_is_unsupported() {
    let (dir, path) = key_file();
    let bytes = fs::read(&path).unwrap();
    let other = dir.path().join("v2.key");
    for version in [0u16, 2, 0x0100, u16::MAX] {
        let mut copy = bytes.clone();
        copy[8..10].copy_from_slice(&version.to_le_bytes());
        fs::write(&other, with_checksum(copy.clone())).unwrap();
        assert_eq!(open_kind(&other, PASSPHRASE), KeyErrorKind::UnsupportedVersion, "version {version}");
        let err = file::public_key(&other).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::UnsupportedVersion);
        assert!(err.to_string().contains(&format!("format version {version}")), "{err}");
        // Without a matching checksum the same bytes are damage, not a version.
        fs::write(&other, &copy).unwrap();
        assert_eq!(open_kind(&other, PASSPHRASE), KeyErrorKind::Tampered, "version {version}");
    }
    // A future version may be longer: the version is read before the length is judged.
    let mut v2 = MAGIC.to_vec();
    v2.extend_from_slice(&2u16.to_le_bytes());
    v2.extend_from_slice(&[7; 300]);
    v2.extend_from_slice(&[0; 32]);
    fs::write(&other, with_checksum(v2)).unwrap();
    assert_eq!(open_kind(&other, PASSPHRASE), KeyErrorKind::UnsupportedVersion);
}

#[test]
fn unknown_algorithms_are_unsupported() {
    let (dir, path) = key_file();
    let bytes = fs::read(&path).unwrap();
    let other = dir.path().join("alg.key");
    for at in [10, 11] {
        let mut copy = bytes.clone();
        copy[at] = 2;
        fs::write(&other, with_checksum(copy)).unwrap();
        assert_eq!(open_kind(&other, PASSPHRASE), KeyErrorKind::UnsupportedVersion, "offset {at}");
    }
}

#[test]
fn absurd_kdf_parameters_are_refused_without_running_them() {
    let (dir, path) = key_file();
    let bytes = fs::read(&path).unwrap();
    let other = dir.path().join("kdf.key");
    // memory 5 GiB; memory 1 MiB; 1000 passes; 0 lanes.
    for (at, value) in [(12, 5u32 * 1024 * 1024), (12, 1024), (16, 1000), (20, 0)] {
        let mut copy = bytes.clone();
        copy[at..at + 4].copy_from_slice(&value.to_le_bytes());
        let copy = with_checksum(copy);
        assert_eq!(file::parse(&copy).unwrap_err().kind(), KeyErrorKind::Tampered);
        fs::write(&other, &copy).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(open_kind(&other, PASSPHRASE), KeyErrorKind::Tampered, "offset {at} value {value}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}

#[test]
fn a_swapped_public_key_or_ciphertext_never_opens() {
    // Two files under the same passphrase; graft parts of one onto the other and fix the
    // checksum, as an attacker could. The result must never be a seed.
    let (dir, path) = key_file();
    let other_path = dir.path().join("other.key");
    file::create(&other_path, &Seed::from_bytes([42; 32]), &secret(PASSPHRASE), WEAK).unwrap();
    let (a, b) = (fs::read(&path).unwrap(), fs::read(&other_path).unwrap());
    let graft = dir.path().join("graft.key");
    // public key; ciphertext + tag.
    for range in [64..96, 112..160] {
        let mut copy = a.clone();
        copy[range.clone()].copy_from_slice(&b[range.clone()]);
        fs::write(&graft, with_checksum(copy)).unwrap();
        assert_eq!(open_kind(&graft, PASSPHRASE), KeyErrorKind::Tampered, "{range:?}");
    }
}

#[test]
fn not_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other");
    let text = b"SBGWSG6BTNCKCOB3DIFBGCVMUPQFYPA2G4O34RMTB343OYPXU5DJDVMN\n".to_vec();
    for bytes in [Vec::new(), b"hello".to_vec(), vec![0u8; FILE_BYTES], vec![0xffu8; 10_000], text] {
        fs::write(&path, &bytes).unwrap();
        assert_eq!(open_kind(&path, PASSPHRASE), KeyErrorKind::NotAKeyFile, "{} bytes", bytes.len());
        assert_eq!(file::public_key(&path).unwrap_err().kind(), KeyErrorKind::NotAKeyFile);
    }
}

#[test]
fn missing_file_and_unreadable_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.key");
    assert_eq!(open_kind(&missing, PASSPHRASE), KeyErrorKind::NotFound);
    assert_eq!(file::public_key(&missing).unwrap_err().kind(), KeyErrorKind::NotFound);
    assert_eq!(open_kind(dir.path(), PASSPHRASE), KeyErrorKind::Io);
    let err = file::change_passphrase(&missing, &secret(PASSPHRASE), &secret("new one"), WEAK).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::NotFound);
    assert!(!missing.exists());
}

#[test]
fn existing_file_is_never_overwritten() {
    let (dir, path) = key_file();
    let before = fs::read(&path).unwrap();
    let err = file::create(&path, &Seed::from_bytes([1; 32]), &secret("other passphrase"), WEAK).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::AlreadyExists);
    assert_clean(&err.to_string());
    assert_eq!(fs::read(&path).unwrap(), before);
    // Not even a file that is not a key file.
    let plain = dir.path().join("notes.txt");
    fs::write(&plain, b"keep me").unwrap();
    let err = file::create(&plain, &seed(), &secret(PASSPHRASE), WEAK).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::AlreadyExists);
    assert_eq!(fs::read(&plain).unwrap(), b"keep me");
}

#[test]
fn empty_passphrases_and_out_of_bounds_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let err = file::create(&path, &seed(), &secret(""), WEAK).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::MissingSecret);
    let weaker = KdfParams { memory_kib: 1024, ..WEAK };
    assert_eq!(
        file::create(&path, &seed(), &secret(PASSPHRASE), weaker).unwrap_err().kind(),
        KeyErrorKind::Unsupported
    );
    assert!(!path.exists());
    file::create(&path, &seed(), &secret(PASSPHRASE), WEAK).unwrap();
    assert_eq!(open_kind(&path, ""), KeyErrorKind::MissingSecret);
    let err = file::change_passphrase(&path, &secret(PASSPHRASE), &secret(""), WEAK).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::MissingSecret);
    file::open(&path, &secret(PASSPHRASE)).unwrap();
}

#[test]
fn change_passphrase_re_encrypts_with_fresh_salt_and_nonce() {
    let (dir, path) = key_file();
    let before = fs::read(&path).unwrap();
    let new = "a new passphrase";
    let account = file::change_passphrase(&path, &secret(PASSPHRASE), &secret(new), WEAK).unwrap();
    assert_eq!(account, seed().public_key());
    let after = fs::read(&path).unwrap();
    assert_ne!(before[24..40], after[24..40], "salt");
    assert_ne!(before[40..64], after[40..64], "nonce");
    assert_eq!(before[64..96], after[64..96], "public key");
    assert_eq!(open_kind(&path, PASSPHRASE), KeyErrorKind::WrongPassphrase);
    assert_eq!(file::open(&path, &secret(new)).unwrap().as_bytes(), seed().as_bytes());
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "no temporary file left behind: {names:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // The stronger parameters of the new file are recorded.
    let stronger = KdfParams { memory_kib: 16 * 1024, iterations: 2, parallelism: 2 };
    file::change_passphrase(&path, &secret(new), &secret(PASSPHRASE), stronger).unwrap();
    assert_eq!(file::parse(&fs::read(&path).unwrap()).unwrap().kdf_params(), stronger);
    assert_eq!(file::open(&path, &secret(PASSPHRASE)).unwrap().as_bytes(), seed().as_bytes());
}

#[test]
fn change_passphrase_with_the_wrong_old_one_changes_nothing() {
    let (_dir, path) = key_file();
    let before = fs::read(&path).unwrap();
    let err = file::change_passphrase(&path, &secret("wrong"), &secret("new"), WEAK).unwrap_err();
    assert_eq!(err.kind(), KeyErrorKind::WrongPassphrase);
    assert_clean(&err.to_string());
    assert!(!err.to_string().contains("new"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Any seed under any non-empty passphrase (any Unicode) comes back; no error ever carries
    /// the passphrase.
    #[test]
    fn any_seed_and_passphrase_round_trip(
        bytes in any::<[u8; 32]>(),
        passphrase in proptest::collection::vec(any::<char>(), 1..48).prop_map(|c| c.into_iter().collect::<String>()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let seed = Seed::from_bytes(bytes);
        let account = file::create(&path, &seed, &secret(&passphrase), WEAK).unwrap();
        prop_assert_eq!(account, seed.public_key());
        let opened = file::open(&path, &secret(&passphrase)).unwrap();
        prop_assert_eq!(opened.as_bytes(), &bytes);
        let wrong = format!("{passphrase}!");
        let err = file::open(&path, &secret(&wrong)).unwrap_err();
        prop_assert_eq!(err.kind(), KeyErrorKind::WrongPassphrase);
        let message = err.to_string();
        prop_assert!(passphrase.chars().count() < 4 || !message.contains(&passphrase), "{}", message);
    }
}
