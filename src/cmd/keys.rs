//! `starlog keys derive | generate | import | list | rotate`: key management over the stores.
//!
//! Secrets (mnemonics, seeds, passphrases, PINs) come from environment variables the user
//! names or from a prompt on the terminal, never from a flag. Output is one JSON value on
//! stdout; secret keys are printed only by `derive --show-secret`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use starlog_adapters::keys::{KeyError, KeyErrorKind, KeyUri, Secret, SecretSource, Seed, file, pkcs11, sep5, vault};

use super::{CmdError, CmdResult, SecretArgs};

#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Derive a SEP-5 account key (m/44'/148'/INDEX') from a BIP-39 mnemonic.
    Derive {
        /// The account index.
        #[arg(long, value_name = "N")]
        index: String,
        /// Read the mnemonic from this environment variable (default: a prompt).
        #[arg(long, value_name = "VAR")]
        mnemonic_env: Option<String>,
        /// Read the optional BIP-39 passphrase from this environment variable (default: none).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
        /// Also print the S… secret seed.
        #[arg(long)]
        show_secret: bool,
    },
    /// Create a new key inside a store (file:, pkcs11: or vault:).
    Generate {
        #[arg(long, value_name = "URI")]
        store: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Put an existing key (an S… seed, or a SEP-5 derived key) into a store.
    Import {
        #[arg(long, value_name = "URI")]
        store: String,
        /// Read the S… seed from this environment variable (default: a prompt).
        #[arg(long, value_name = "VAR", conflicts_with = "mnemonic_env")]
        seed_env: Option<String>,
        /// Import the SEP-5 key derived from the mnemonic in this environment variable.
        #[arg(long, value_name = "VAR", requires = "index")]
        mnemonic_env: Option<String>,
        /// With --mnemonic-env: the account index.
        #[arg(long, value_name = "N")]
        index: Option<String>,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Public keys in a store: a key file or a directory of them, a token, a transit mount.
    List {
        #[arg(long, value_name = "URI")]
        store: String,
        #[command(flatten)]
        secrets: SecretArgs,
    },
    /// Re-encrypt a key file under a new passphrase (fresh salt and nonce).
    Rotate {
        #[arg(long, value_name = "URI")]
        store: String,
        /// Read the new passphrase from this environment variable (default: a prompt).
        #[arg(long, value_name = "VAR")]
        new_passphrase_env: Option<String>,
        #[command(flatten)]
        secrets: SecretArgs,
    },
}

pub fn run(cmd: Keys) -> CmdResult {
    match cmd {
        Keys::Derive { index, mnemonic_env, passphrase_env, show_secret } => {
            let index = super::integer::<u32>("--index", &index)?;
            let seed = derive(mnemonic_env.as_deref(), passphrase_env.as_deref(), index)?;
            let mut out = json!({"index": index, "public_key": seed.public_key().to_string()});
            if show_secret {
                out["secret_key"] = json!(seed.to_strkey().as_str());
            }
            println!("{out}");
        }
        Keys::Generate { store, secrets } => {
            let uri = KeyUri::parse(&store)?;
            allowed(&uri, &secrets)?;
            let public_key = match &uri {
                KeyUri::Env { .. } => {
                    return Err(unsupported(
                        "env: holds a seed set outside starlog; generate into file:, pkcs11: or vault:",
                    ));
                }
                KeyUri::File { path } => {
                    let passphrase = new_passphrase(&secrets.passphrase("new key file passphrase: "))?;
                    file::create(path, &Seed::generate()?, &passphrase, file::KdfParams::DEFAULT)?
                }
                KeyUri::Pkcs11(p11) => pkcs11::generate(p11, &pin(&secrets))?,
                KeyUri::Vault(v) => vault::generate(v)?,
            };
            println!("{}", json!({"store": uri.to_string(), "public_key": public_key.to_string()}));
        }
        Keys::Import { store, seed_env, mnemonic_env, index, secrets } => {
            let uri = KeyUri::parse(&store)?;
            allowed(&uri, &secrets)?;
            let seed = match (&mnemonic_env, &index) {
                (Some(var), Some(index)) => {
                    let index = super::integer::<u32>("--index", index)?;
                    derive(Some(var), None, index)?
                }
                _ => {
                    let source = match seed_env {
                        Some(var) => SecretSource::Env(var),
                        None => SecretSource::Prompt("secret seed (S...): ".to_owned()),
                    };
                    Seed::from_strkey(source.read("secret seed")?.expose())?
                }
            };
            let public_key = match &uri {
                KeyUri::Env { .. } => return Err(unsupported("env: cannot be written; set the variable yourself")),
                KeyUri::File { path } => {
                    let passphrase = new_passphrase(&secrets.passphrase("new key file passphrase: "))?;
                    file::create(path, &seed, &passphrase, file::KdfParams::DEFAULT)?
                }
                KeyUri::Pkcs11(p11) => pkcs11::import(p11, &pin(&secrets), &seed)?,
                KeyUri::Vault(v) => vault::import(v, &seed)?,
            };
            println!("{}", json!({"store": uri.to_string(), "public_key": public_key.to_string()}));
        }
        Keys::List { store, secrets } => {
            let uri = KeyUri::parse_store(&store)?;
            let keys = match &uri {
                KeyUri::Env { var } => {
                    let seed = Seed::from_strkey(SecretSource::Env(var.clone()).read("secret seed")?.expose())?;
                    vec![(format!("env:{var}"), seed.public_key())]
                }
                KeyUri::File { path } => list_files(path)?,
                KeyUri::Pkcs11(p11) => {
                    let pin = p11.pin_source.clone().unwrap_or_else(|| pin(&secrets));
                    pkcs11::list(&p11.module_path, &p11.token, &pin)?
                }
                KeyUri::Vault(v) => vault::list(&v.address, &v.mount)?,
            };
            let keys: Vec<_> =
                keys.iter().map(|(name, key)| json!({"name": name, "public_key": key.to_string()})).collect();
            println!("{}", serde_json::Value::Array(keys));
        }
        Keys::Rotate { store, new_passphrase_env, secrets } => {
            let uri = KeyUri::parse(&store)?;
            let KeyUri::File { path } = &uri else {
                return Err(unsupported(
                    "rotate re-encrypts a key file; keys in an HSM or Vault never leave it, so there is nothing to re-encrypt",
                ));
            };
            let old = secrets.passphrase("current key file passphrase: ").read("passphrase")?;
            let new_source = match new_passphrase_env {
                Some(var) => SecretSource::Env(var),
                None => SecretSource::Prompt("new key file passphrase: ".to_owned()),
            };
            let new = new_passphrase(&new_source)?;
            let public_key = file::change_passphrase(path, &old, &new, file::KdfParams::DEFAULT)?;
            println!("{}", json!({"store": uri.to_string(), "public_key": public_key.to_string()}));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn derive(mnemonic_env: Option<&str>, passphrase_env: Option<&str>, index: u32) -> Result<Seed, KeyError> {
    let mnemonic = match mnemonic_env {
        Some(var) => SecretSource::Env(var.to_owned()),
        None => SecretSource::Prompt("BIP-39 mnemonic: ".to_owned()),
    }
    .read("mnemonic")?;
    let passphrase = match passphrase_env {
        Some(var) => SecretSource::Env(var.to_owned()).read("BIP-39 passphrase")?,
        None => Secret::new(String::new()),
    };
    sep5::derive(&mnemonic, &passphrase, index)
}

fn allowed(uri: &KeyUri, secrets: &SecretArgs) -> Result<(), Box<dyn std::error::Error>> {
    Ok(secrets.level()?.check(uri.store())?)
}

fn pin(secrets: &SecretArgs) -> SecretSource {
    secrets.open_options().map(|o| o.pin).unwrap_or(SecretSource::Prompt("token user PIN: ".to_owned()))
}

/// A new passphrase: from the environment as is, or typed twice at a prompt.
fn new_passphrase(source: &SecretSource) -> Result<Secret, Box<dyn std::error::Error>> {
    let first = source.read("passphrase")?;
    if let SecretSource::Prompt(_) = source {
        let again = SecretSource::Prompt("again: ".to_owned()).read("passphrase")?;
        if again.expose() != first.expose() {
            return Err(Box::new(CmdError::new("the two passphrases differ")));
        }
    }
    Ok(first)
}

fn unsupported(why: &str) -> Box<dyn std::error::Error> {
    Box::new(KeyError::new(KeyErrorKind::Unsupported, why))
}

/// The key file at `path`, or every key file directly inside the directory `path`.
fn list_files(path: &Path) -> Result<Vec<(String, starlog_engine::AccountId)>, KeyError> {
    if !path.is_dir() {
        return Ok(vec![(format!("file:{}", path.display()), file::public_key(path)?)]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| KeyError::new(KeyErrorKind::Io, format!("cannot list {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_file() {
            // Other files in the directory are not key files; skip them silently.
            if let Ok(key) = file::public_key(&p) {
                out.push((format!("file:{}", p.display()), key));
            }
        }
    }
    out.sort();
    Ok(out)
}
