//! Signed chain checkpoints: evidence, kept beside a session's journals, that both journals'
//! hash chains stood at given heads at a given time.
//!
//! The journal's chain is unkeyed (journal/FORMAT.md): whoever can rewrite the files can
//! recompute it. A checkpoint pins it: the live process signs, every `checkpoint_secs` and at
//! exit, the input and output journals' last sealed seq and chain head with an Ed25519 key, and
//! appends the result as one JSON line to `DIR/checkpoints` (synced). `starlog audit verify`
//! checks each line's signature — against the key the operator names, since a key read from
//! the same files proves nothing — and that each journal has a seal with that seq and head.
//! Rewriting any record a checkpoint covers then needs the signing key.
//!
//! The signed message is the SHA-256 [`digest`] of a domain-separated encoding (never a
//! Stellar transaction hash, which hashes the network id and an envelope type first); the same
//! digest is what a ledger anchor publishes as a memo hash.

use std::fmt;
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use starlog_engine::AccountId;
use starlog_journal::{JournalReader, hex};

use crate::core_loop::{INPUT_DIR, OUTPUT_DIR};
use crate::keys::{KeyError, Signer};

/// The checkpoints file of a session directory.
pub const CHECKPOINTS_FILE: &str = "checkpoints";

/// Domain separation of the signed digest (format version 1).
const DOMAIN: &[u8] = b"starlog chain checkpoint v1\0";

/// A journal's position: its last sealed seq (0: nothing yet) and the chain head there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub chain: [u8; 32],
}

/// One signed checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Wall-clock time it was taken (ns since the epoch): informative, signed.
    pub time_ns: i64,
    pub input: Head,
    pub output: Head,
    pub key: AccountId,
    pub signature: [u8; 64],
}

/// What is signed: SHA-256 over the domain, the time and both heads.
pub fn digest(time_ns: i64, input: &Head, output: &Head) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(time_ns.to_be_bytes());
    for head in [input, output] {
        h.update(head.seq.to_be_bytes());
        h.update(head.chain);
    }
    h.finalize().into()
}

impl Checkpoint {
    /// Sign both heads now.
    pub fn sign(signer: &mut dyn Signer, time_ns: i64, input: Head, output: Head) -> Result<Checkpoint, KeyError> {
        let signature = signer.sign(&digest(time_ns, &input, &output))?;
        Ok(Checkpoint { time_ns, input, output, key: signer.public_key(), signature })
    }

    pub fn digest(&self) -> [u8; 32] {
        digest(self.time_ns, &self.input, &self.output)
    }

    /// Does the signature hold for the key the checkpoint names?
    pub fn signature_holds(&self) -> bool {
        crate::keys::verify(&self.key, &self.digest(), &self.signature)
    }

    /// One line of the checkpoints file.
    pub fn to_line(&self) -> String {
        json!({
            "time_ns": self.time_ns,
            "input_seq": self.input.seq,
            "input_head": hex(&self.input.chain),
            "output_seq": self.output.seq,
            "output_head": hex(&self.output.chain),
            "key": self.key.to_string(),
            "signature": hex(&self.signature),
        })
        .to_string()
    }

    /// Read one line back. Errors say which field is wrong.
    pub fn parse_line(line: &str) -> Result<Checkpoint, String> {
        let v: Value = serde_json::from_str(line).map_err(|_| "not a JSON object".to_owned())?;
        let int = |k: &str| v[k].as_u64().ok_or_else(|| format!("{k}: not an unsigned integer"));
        let time_ns = v["time_ns"].as_i64().ok_or_else(|| "time_ns: not an integer".to_owned())?;
        let input = Head { seq: int("input_seq")?, chain: hex_field(&v, "input_head")? };
        let output = Head { seq: int("output_seq")?, chain: hex_field(&v, "output_head")? };
        let key = v["key"]
            .as_str()
            .and_then(|k| k.parse::<AccountId>().ok())
            .ok_or_else(|| "key: not a G… account id".to_owned())?;
        let signature = hex_field(&v, "signature")?;
        Ok(Checkpoint { time_ns, input, output, key, signature })
    }
}

fn hex_field<const N: usize>(v: &Value, key: &str) -> Result<[u8; N], String> {
    let text = v[key].as_str().ok_or_else(|| format!("{key}: not a string"))?;
    crate::stellar::unhex(text).ok_or_else(|| format!("{key}: not {} hex digits", 2 * N))
}

/// Append a checkpoint to `dir`'s checkpoints file and sync it.
pub fn append(dir: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(CHECKPOINTS_FILE))?;
    file.write_all(format!("{}\n", checkpoint.to_line()).as_bytes())?;
    file.sync_data()
}

/// Every checkpoint of `dir` (none when there is no file), or the first malformed line.
pub fn read_all(dir: &Path) -> Result<Vec<Checkpoint>, CheckpointError> {
    let text = match std::fs::read_to_string(dir.join(CHECKPOINTS_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CheckpointError::Io(e.to_string())),
    };
    let mut all = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        all.push(Checkpoint::parse_line(line).map_err(|why| CheckpointError::Malformed { line: i + 1, why })?);
    }
    Ok(all)
}

/// Why the checkpoints of a session do not hold, by who is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// The file cannot be read, or a journal cannot be.
    Io(String),
    /// A line is not a checkpoint.
    Malformed { line: usize, why: String },
    /// A signature does not hold, or was made by another key than the trusted one.
    BadSignature { line: usize, key: String },
    /// A journal has no seal with the checkpoint's seq and head: it was altered, or truncated
    /// below what was signed.
    Mismatch { line: usize, journal: &'static str, seq: u64 },
    /// Checkpoints go back in time or in seq.
    OutOfOrder { line: usize },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io(e) => write!(f, "checkpoints: {e}"),
            CheckpointError::Malformed { line, why } => write!(f, "checkpoints line {line}: {why}"),
            CheckpointError::BadSignature { line, key } => {
                write!(f, "checkpoints line {line}: the signature does not hold for key {key}")
            }
            CheckpointError::Mismatch { line, journal, seq } => write!(
                f,
                "checkpoints line {line}: the {journal} journal's chain at seq {seq} is not the one signed (altered or truncated)"
            ),
            CheckpointError::OutOfOrder { line } => {
                write!(f, "checkpoints line {line}: goes back from the line before")
            }
        }
    }
}

impl std::error::Error for CheckpointError {}

/// What checking a session's checkpoints found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointReport {
    pub checkpoints: usize,
    /// The keys that signed them (one, normally).
    pub keys: Vec<AccountId>,
    /// The last checkpoint's heads: everything up to them is pinned.
    pub last: Option<(Head, Head)>,
}

/// Check every checkpoint of the session in `dir`: signatures (by `trusted`, when given), order,
/// and that both journals have a seal with each signed seq and head.
pub fn verify(dir: &Path, trusted: Option<&AccountId>) -> Result<CheckpointReport, CheckpointError> {
    let all = read_all(dir)?;
    let mut keys: Vec<AccountId> = Vec::new();
    for (i, c) in all.iter().enumerate() {
        let line = i + 1;
        if trusted.is_some_and(|k| *k != c.key) || !c.signature_holds() {
            return Err(CheckpointError::BadSignature { line, key: c.key.to_string() });
        }
        if !keys.contains(&c.key) {
            keys.push(c.key);
        }
        if i > 0 {
            let p = &all[i - 1];
            if c.time_ns < p.time_ns || c.input.seq < p.input.seq || c.output.seq < p.output.seq {
                return Err(CheckpointError::OutOfOrder { line });
            }
        }
    }
    for (journal, sub, pick) in [
        ("input", INPUT_DIR, (|c: &Checkpoint| c.input) as fn(&Checkpoint) -> Head),
        ("output", OUTPUT_DIR, |c: &Checkpoint| c.output),
    ] {
        if all.is_empty() {
            break;
        }
        let mut seals = std::collections::BTreeMap::new();
        let reader = JournalReader::open(dir.join(sub)).map_err(|e| CheckpointError::Io(e.to_string()))?;
        reader
            .verify_with(|seq, head| {
                seals.insert(seq, head);
            })
            .map_err(|e| CheckpointError::Io(e.to_string()))?;
        for (i, c) in all.iter().enumerate() {
            let head = pick(c);
            if seals.get(&head.seq) != Some(&head.chain) {
                return Err(CheckpointError::Mismatch { line: i + 1, journal, seq: head.seq });
            }
        }
    }
    Ok(CheckpointReport { checkpoints: all.len(), keys, last: all.last().map(|c| (c.input, c.output)) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Seed, SeedSigner, StoreKind};

    fn signer(byte: u8) -> SeedSigner {
        SeedSigner::new(&Seed::from_bytes([byte; 32]), StoreKind::Env, "test".into())
    }

    #[test]
    fn lines_round_trip_and_signatures_bind_every_field() {
        let mut s = signer(3);
        let (input, output) = (Head { seq: 10, chain: [1; 32] }, Head { seq: 7, chain: [2; 32] });
        let c = Checkpoint::sign(&mut s, 123, input, output).unwrap();
        assert!(c.signature_holds());
        assert_eq!(Checkpoint::parse_line(&c.to_line()).unwrap(), c);
        let mut altered = c;
        altered.input.seq = 11;
        assert!(!altered.signature_holds());
        let mut altered = c;
        altered.output.chain[31] ^= 1;
        assert!(!altered.signature_holds());
        let mut altered = c;
        altered.key = signer(4).public_key();
        assert!(!altered.signature_holds());
        assert_eq!(Checkpoint::parse_line("{}").unwrap_err(), "time_ns: not an integer");
        assert!(Checkpoint::parse_line(&c.to_line().replace("\"key\":\"G", "\"key\":\"X")).is_err());
    }
}
