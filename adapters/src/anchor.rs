//! Chain anchoring: a signed checkpoint's digest (see `checkpoint`) published on the Stellar
//! ledger, where its ledger close time proves the journals stood at those heads by then — to
//! anyone, without trusting us or our keys.
//!
//! An anchor is a transaction from a dedicated **anchor account** (not the trading account, so
//! anchoring never touches the trading sequence numbers, signing policy or intrusion checks):
//! memo hash = the checkpoint digest, and one `ManageData` operation named after the session
//! ([`session_tag`]) holding the same digest. `starlog audit verify --anchors G…` lists the
//! anchor account's transactions on Horizon, keeps the successful ones tagged with the
//! session, and requires every anchored digest to be a checkpoint of the session: a journal or
//! checkpoint rewritten after an anchor was published no longer matches it, even by someone
//! holding the checkpoint key.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use starlog_engine::AccountId;
use starlog_journal::{JournalReader, hex};
use stellar_xdr::{self as xdr, ReadXdr};

use crate::checkpoint::{self, Checkpoint};
use crate::core_loop::INPUT_DIR;
use crate::horizon::client::{HorizonClient, Submitted};
use crate::keys::Signer;
use crate::stellar::{Network, muxed_to_xdr, tx};

/// The `ManageData` name of a session's anchors: `starlog.` and 32 hex digits of the session's
/// identity (SHA-256 of its first input record — the session start — and that record's
/// ingress time): unique per session, computable from the journal alone.
pub fn session_tag(dir: &std::path::Path) -> Result<String, String> {
    let reader = JournalReader::open(dir.join(INPUT_DIR)).map_err(|e| e.to_string())?;
    let first = reader.get(1).map_err(|e| e.to_string())?.ok_or("the session has no inputs")?;
    let mut h = Sha256::new();
    h.update(b"starlog session\0");
    h.update(first.timestamp_ns.to_be_bytes());
    h.update(first.payload);
    let id: [u8; 32] = h.finalize().into();
    Ok(format!("starlog.{}", &hex(&id)[..32]))
}

/// The anchor transaction for `digest`: source `account` at `sequence`, valid until `max_time`.
pub fn build(
    account: &AccountId,
    sequence: i64,
    fee_stroops: u32,
    max_time: u64,
    tag: &str,
    digest: &[u8; 32],
) -> Result<xdr::Transaction, String> {
    let name: xdr::String64 = tag.as_bytes().to_vec().try_into().map_err(|_| "session tag longer than 64 bytes")?;
    let value: xdr::BytesM<64> = digest.to_vec().try_into().map_err(|_| "digest longer than 64 bytes")?;
    let op = xdr::Operation {
        source_account: None,
        body: xdr::OperationBody::ManageData(xdr::ManageDataOp {
            data_name: name,
            data_value: Some(xdr::DataValue(value)),
        }),
    };
    Ok(xdr::Transaction {
        source_account: muxed_to_xdr(account),
        fee: fee_stroops,
        seq_num: xdr::SequenceNumber(sequence),
        cond: xdr::Preconditions::Time(xdr::TimeBounds {
            min_time: xdr::TimePoint(0),
            max_time: xdr::TimePoint(max_time),
        }),
        memo: xdr::Memo::Hash(xdr::Hash(*digest)),
        operations: vec![op].try_into().map_err(|_| "one operation")?,
        ext: xdr::TransactionExt::V0,
    })
}

/// Publishes anchors from one account (one at a time: its sequence number is ours alone).
#[derive(Debug)]
pub struct Anchorer {
    client: HorizonClient,
    signer: Box<dyn Signer>,
    network: Network,
    tag: String,
    /// The next sequence number; `None` until read from Horizon (again after a failure).
    next_sequence: Option<i64>,
    fee_stroops: u32,
    validity_secs: u64,
}

/// A published anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub digest: [u8; 32],
    pub hash: [u8; 32],
    pub ledger: u32,
}

impl Anchorer {
    pub fn new(
        client: HorizonClient,
        signer: Box<dyn Signer>,
        network: Network,
        tag: String,
        fee_stroops: u32,
        validity_secs: u64,
    ) -> Anchorer {
        Anchorer { client, signer, network, tag, next_sequence: None, fee_stroops, validity_secs }
    }

    pub fn account(&self) -> AccountId {
        self.signer.public_key()
    }

    /// Publish `digest` at `now` (Unix seconds) and wait for the ledger's answer.
    pub fn publish(&mut self, digest: &[u8; 32], now: u64) -> Result<Published, String> {
        let account = self.signer.public_key();
        let sequence = match self.next_sequence {
            Some(s) => s,
            None => {
                let body = self.client.get(&format!("/accounts/{account}")).map_err(|e| e.to_string())?;
                let v: serde_json::Value = serde_json::from_slice(&body.bytes).map_err(|e| e.to_string())?;
                let current: i64 = v["sequence"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or("the anchor account's sequence is not a number")?;
                current + 1
            }
        };
        let transaction = build(&account, sequence, self.fee_stroops, now + self.validity_secs, &self.tag, digest)?;
        let signed = tx::sign(transaction, &self.network, &mut [self.signer.as_mut()]).map_err(|e| e.to_string())?;
        let failure = match self.client.submit(&signed.to_base64()) {
            Ok(Submitted::Applied(t)) if t.successful => {
                self.next_sequence = Some(sequence + 1);
                return Ok(Published { digest: *digest, hash: signed.hash, ledger: t.ledger });
            }
            Ok(Submitted::Applied(_)) => "the anchor transaction failed".to_owned(),
            Ok(Submitted::Failed(p)) => {
                format!("the anchor transaction was refused: {}", p.tx_code.as_deref().unwrap_or(&p.kind))
            }
            Err(e) => e.to_string(),
        };
        // Whatever went wrong (a timeout leaves the fate unknown), the next anchor reads the
        // sequence number again.
        self.next_sequence = None;
        Err(failure)
    }
}

/// An anchor found on the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub hash: String,
    pub ledger: u32,
    pub closed_at: String,
    pub digest: [u8; 32],
}

/// Every successful transaction of `account` tagged `tag` (memo hash and matching `ManageData`
/// value), oldest first.
pub fn find(client: &HorizonClient, account: &AccountId, tag: &str) -> Result<Vec<Found>, String> {
    let mut found = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/accounts/{account}/transactions?order=asc&limit=200&cursor={cursor}");
        let body = client.get(&path).map_err(|e| format!("{path}: {e}"))?;
        let page: serde_json::Value = serde_json::from_slice(&body.bytes).map_err(|e| format!("{path}: {e}"))?;
        let records = page["_embedded"]["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            return Ok(found);
        }
        for r in &records {
            cursor = r["paging_token"].as_str().unwrap_or_default().to_owned();
            if r["successful"].as_bool() != Some(true) || r["memo_type"].as_str() != Some("hash") {
                continue;
            }
            let Some(digest) = r["envelope_xdr"].as_str().and_then(|e| tagged_digest(e, tag)) else { continue };
            found.push(Found {
                hash: r["hash"].as_str().unwrap_or_default().to_owned(),
                ledger: r["ledger"].as_u64().and_then(|l| u32::try_from(l).ok()).unwrap_or(0),
                closed_at: r["created_at"].as_str().unwrap_or_default().to_owned(),
                digest,
            });
        }
        if cursor.is_empty() {
            return Ok(found);
        }
    }
}

/// The digest an envelope anchors for `tag`: its memo hash, when a `ManageData` named `tag`
/// sets the same value.
pub fn tagged_digest(envelope_base64: &str, tag: &str) -> Option<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(envelope_base64).ok()?;
    let xdr::TransactionEnvelope::Tx(env) =
        xdr::TransactionEnvelope::from_xdr(bytes, xdr::Limits::len(64 * 1024)).ok()?
    else {
        return None;
    };
    let xdr::Memo::Hash(xdr::Hash(digest)) = env.tx.memo else { return None };
    env.tx
        .operations
        .iter()
        .any(|op| match &op.body {
            xdr::OperationBody::ManageData(d) => {
                d.data_name.as_vec() == tag.as_bytes()
                    && d.data_value.as_ref().is_some_and(|v| v.0.as_slice() == digest)
            }
            _ => false,
        })
        .then_some(digest)
}

/// What checking a session's anchors found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorReport {
    pub tag: String,
    pub anchors: usize,
    /// The latest anchor: its ledger, close time, and the checkpoint (input seq, output seq)
    /// it pins.
    pub latest: Option<(Found, u64, u64)>,
}

/// Check the session in `dir` against the anchors `account` published for it: every anchored
/// digest must be one of the session's checkpoints (which `checkpoint::verify` checks against
/// the journals).
pub fn verify(dir: &std::path::Path, client: &HorizonClient, account: &AccountId) -> Result<AnchorReport, String> {
    let tag = session_tag(dir)?;
    let checkpoints: Vec<Checkpoint> = checkpoint::read_all(dir).map_err(|e| e.to_string())?;
    let found = find(client, account, &tag)?;
    let mut latest = None;
    for anchor in &found {
        let Some(c) = checkpoints.iter().find(|c| c.digest() == anchor.digest) else {
            return Err(format!(
                "anchor {} (ledger {}, {}) pins digest {} which is no checkpoint of this session: the journals or checkpoints changed after it was published",
                anchor.hash,
                anchor.ledger,
                anchor.closed_at,
                hex(&anchor.digest)
            ));
        };
        latest = Some((anchor.clone(), c.input.seq, c.output.seq));
    }
    Ok(AnchorReport { tag, anchors: found.len(), latest })
}
