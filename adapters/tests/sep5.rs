//! SEP-5 derivation against the spec's own test cases (`tests/vectors/sep5.json`, copied from
//! SEP-0005's "Test Cases": 12-, 15- and 24-word mnemonics, one with a BIP-39 passphrase, keys
//! m/44'/148'/0' … 9'), plus mnemonic generation and the errors.

use serde_json::Value;
use starlog_adapters::keys::sep5::{self, ACCOUNT_INDEX_MAX};
use starlog_adapters::keys::{KeyErrorKind, Secret, Seed};

fn secret(text: &str) -> Secret {
    Secret::new(text.to_owned())
}

fn vectors() -> Vec<Value> {
    let doc: Value = serde_json::from_str(include_str!("vectors/sep5.json")).expect("sep5.json parses");
    doc["vectors"].as_array().expect("vectors").clone()
}

#[test]
fn spec_test_vectors_public_keys_and_secrets() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 5, "SEP-5 has five test cases");
    let mut checked = 0;
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let mnemonic = secret(v["mnemonic"].as_str().unwrap());
        let passphrase = secret(v["passphrase"].as_str().unwrap());
        let keys = v["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 10, "{name}: indices 0..9");
        for (i, key) in keys.iter().enumerate() {
            let index = u32::try_from(key["index"].as_u64().unwrap()).unwrap();
            assert_eq!(index as usize, i);
            let seed = sep5::derive(&mnemonic, &passphrase, index).unwrap();
            assert_eq!(seed.public_key().to_string(), key["public_key"].as_str().unwrap(), "{name} index {index}");
            assert_eq!(seed.to_strkey().as_str(), key["secret_seed"].as_str().unwrap(), "{name} index {index}");
            checked += 1;
        }
    }
    assert_eq!(checked, 50);
}

#[test]
fn the_passphrase_changes_every_key() {
    let v = &vectors()[3];
    assert_eq!(v["passphrase"], "p4ssphr4se");
    let mnemonic = secret(v["mnemonic"].as_str().unwrap());
    let with = sep5::derive(&mnemonic, &secret("p4ssphr4se"), 0).unwrap();
    let without = sep5::derive(&mnemonic, &secret(""), 0).unwrap();
    assert_ne!(with.as_bytes(), without.as_bytes());
    assert_eq!(with.public_key().to_string(), v["keys"][0]["public_key"].as_str().unwrap());
}

#[test]
fn extra_whitespace_between_words_is_ignored() {
    let v = &vectors()[0];
    let spaced = v["mnemonic"].as_str().unwrap().replace(' ', "  \t");
    let seed = sep5::derive(&secret(&format!(" {spaced}\n")), &secret(""), 0).unwrap();
    assert_eq!(seed.to_strkey().as_str(), v["keys"][0]["secret_seed"].as_str().unwrap());
}

#[test]
fn indices_at_and_above_two_to_the_31_are_refused() {
    let v = &vectors()[0];
    let mnemonic = secret(v["mnemonic"].as_str().unwrap());
    assert_eq!(ACCOUNT_INDEX_MAX, (1 << 31) - 1);
    sep5::derive(&mnemonic, &secret(""), ACCOUNT_INDEX_MAX).unwrap();
    for index in [1u32 << 31, (1 << 31) + 1, u32::MAX] {
        let err = sep5::derive(&mnemonic, &secret(""), index).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::Unsupported, "{index}");
    }
}

#[test]
fn bad_mnemonics_are_refused_without_echoing_them() {
    let good = vectors()[2]["mnemonic"].as_str().unwrap().to_owned();
    let words: Vec<&str> = good.split_whitespace().collect();
    let mut swapped = words.clone();
    swapped.swap(0, 1);
    let cases = [
        words[..23].join(" "),                         // 23 words
        format!("{} abandon", good),                   // 25 words
        format!("{} bitcoinz", words[..23].join(" ")), // unknown word
        swapped.join(" "),                             // checksum
        good.to_uppercase(),                           // the list is lower case
        String::new(),
    ];
    for text in &cases {
        let err = sep5::derive(&secret(text), &secret("p4ssphr4se"), 0).unwrap_err();
        assert_eq!(err.kind(), KeyErrorKind::BadMnemonic, "{text:?}");
        let message = err.to_string();
        assert!(!message.contains('\n'));
        assert!(!message.contains("p4ssphr4se"), "{message}");
        for word in text.split_whitespace().filter(|w| w.len() > 3) {
            assert!(!message.to_lowercase().contains(&word.to_lowercase()), "{message} echoes {word}");
        }
    }
}

#[test]
fn generated_mnemonics_are_valid_and_fresh() {
    for words in [12, 24] {
        let a = sep5::generate_mnemonic(words).unwrap();
        let b = sep5::generate_mnemonic(words).unwrap();
        assert_eq!(a.expose().split(' ').count(), words);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().len() <= sep5::MNEMONIC_CHARS_MAX);
        // Derivable, and deterministic.
        let x: Seed = sep5::derive(&a, &secret(""), 0).unwrap();
        let y: Seed = sep5::derive(&a, &secret(""), 0).unwrap();
        assert_eq!(x.as_bytes(), y.as_bytes());
        assert_eq!(format!("{a:?}"), "Secret(<redacted>)");
    }
    for words in [0, 11, 15, 18, 21, 25] {
        assert_eq!(sep5::generate_mnemonic(words).unwrap_err().kind(), KeyErrorKind::Unsupported, "{words}");
    }
}
