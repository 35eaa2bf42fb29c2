//! The signing policy: the last check before any signature, made on the decoded envelope that
//! is about to be signed (not on the intent that asked for it), and [`GuardedSigner`], the only
//! way the live process signs.
//!
//! A policy pins the network, lists our source accounts, the operation types we may sign, the
//! largest fee, how far ahead a transaction may stay valid, and per selling asset the largest
//! amount one transaction may put on offer. Assets without a cap may not be sold at all.
//!
//! A refusal is a [`Violation`] with a stable numeric [`Rule`] code (never renumbered), which
//! becomes a `SecurityEvent::PolicyViolation` in the journal. The rules are checked in code
//! order and the first one broken is reported.
//!
//! Policy files are TOML:
//!
//! ```toml
//! network = "testnet"                 # testnet, public, or a passphrase
//! source_accounts = ["GA5Z…"]
//! operations = ["manage_sell_offer", "manage_buy_offer", "create_passive_sell_offer"]
//! fee_stroops_max = 10000             # per transaction
//! validity_secs_max = 300             # max_time may be at most this far past now
//!
//! [notional_stroops_max]              # per transaction, in stroops of the selling asset
//! native = 10000000000
//! "USD:GA5Z…" = 5000000000
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use starlog_engine::events::SecurityEvent;
use starlog_engine::{AccountId, Asset};
use stellar_xdr as xdr;

use crate::keys::multisig::AccountSigners;
use crate::keys::{KeyError, Signer};
use crate::stellar::tx::{self, DecodeError, SignedTx};
use crate::stellar::{Network, asset_from_xdr, muxed_from_xdr};

/// Which rule a transaction broke. Codes are stable: never renumber, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum Rule {
    /// Asked to sign for a network other than the pinned one.
    Network = 1,
    /// A fee-bump or legacy v0 envelope.
    EnvelopeType = 2,
    /// The transaction's source, or an operation's, is not one of ours.
    SourceAccount = 3,
    /// An operation of a type the policy does not list.
    OperationType = 4,
    /// The fee is above `fee_stroops_max`.
    Fee = 5,
    /// No time bounds, no upper bound, or preconditions other than time bounds.
    TimeBounds = 6,
    /// `max_time` is further than `validity_secs_max` past now.
    Validity = 7,
    /// `max_time` has already passed.
    Expired = 8,
    /// An operation sells an asset the policy gives no cap.
    Asset = 9,
    /// The amount offered of one selling asset is above its cap.
    Notional = 10,
    /// The envelope already carries signatures (we sign what we built, unsigned).
    PresignedEnvelope = 11,
    /// A memo (starlog builds none; a memo is how payments get routed elsewhere).
    Memo = 12,
}

impl Rule {
    pub const fn code(self) -> u16 {
        self as u16
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Rule::Network => "network",
            Rule::EnvelopeType => "envelope type",
            Rule::SourceAccount => "source account",
            Rule::OperationType => "operation type",
            Rule::Fee => "fee",
            Rule::TimeBounds => "time bounds",
            Rule::Validity => "validity window",
            Rule::Expired => "expired",
            Rule::Asset => "asset",
            Rule::Notional => "notional",
            Rule::PresignedEnvelope => "presigned envelope",
            Rule::Memo => "memo",
        }
    }
}

/// A refusal to sign: the rule and what broke it (no secrets: accounts, amounts, times).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub detail: String,
}

impl Violation {
    fn new(rule: Rule, detail: impl Into<String>) -> Violation {
        Violation { rule, detail: detail.into() }
    }

    /// The security event the refusal journals.
    pub fn to_event(&self, intent: u64) -> SecurityEvent {
        SecurityEvent::PolicyViolation { intent, rule: self.rule.code() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signing policy rule {} ({}) refused: {}", self.rule.code(), self.rule.as_str(), self.detail)
    }
}

impl std::error::Error for Violation {}

/// The operation types a policy can allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationType {
    ManageSellOffer,
    ManageBuyOffer,
    CreatePassiveSellOffer,
}

/// A signing policy. See the module doc for the file format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub network: Network,
    pub source_accounts: Vec<AccountId>,
    pub operations: Vec<OperationType>,
    pub fee_stroops_max: u32,
    pub validity_secs_max: u64,
    /// Per selling asset: the most one transaction may offer, in stroops.
    pub notional_stroops_max: BTreeMap<Asset, i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    network: String,
    source_accounts: Vec<String>,
    operations: Vec<OperationType>,
    fee_stroops_max: u32,
    validity_secs_max: u64,
    notional_stroops_max: BTreeMap<String, i64>,
}

/// A policy file that cannot be used; one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signing policy: {}", self.0)
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    /// Parses a policy file's text.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError(e.message().replace('\n', " ").trim().to_owned()))?;
        let network = Network::parse(&file.network).map_err(|e| PolicyError(e.to_string()))?;
        if file.source_accounts.is_empty() {
            return Err(PolicyError("source_accounts is empty".into()));
        }
        let source_accounts = file
            .source_accounts
            .iter()
            .map(|a| a.parse().map_err(|e: starlog_engine::ParseError| PolicyError(format!("source_accounts: {e}"))))
            .collect::<Result<Vec<AccountId>, _>>()?;
        let mut notional_stroops_max = BTreeMap::new();
        for (asset, cap) in &file.notional_stroops_max {
            let parsed: Asset = asset.parse().map_err(|e| PolicyError(format!("notional_stroops_max: {e}")))?;
            if *cap < 0 {
                return Err(PolicyError(format!("notional_stroops_max for {asset} is negative")));
            }
            notional_stroops_max.insert(parsed, *cap);
        }
        if file.validity_secs_max == 0 {
            return Err(PolicyError("validity_secs_max must be at least 1".into()));
        }
        Ok(Policy {
            network,
            source_accounts,
            operations: file.operations,
            fee_stroops_max: file.fee_stroops_max,
            validity_secs_max: file.validity_secs_max,
            notional_stroops_max,
        })
    }

    /// Reads and parses a policy file.
    pub fn load(path: &std::path::Path) -> Result<Policy, PolicyError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| PolicyError(format!("cannot read {}: {e}", path.display())))?;
        Policy::from_toml(&text)
    }

    /// Checks `envelope`, to be signed for `network` at UNIX time `now_secs`.
    pub fn check(
        &self,
        envelope: &xdr::TransactionEnvelope,
        network: &Network,
        now_secs: u64,
    ) -> Result<(), Violation> {
        if network != &self.network {
            return Err(Violation::new(
                Rule::Network,
                format!("asked to sign for {network}, policy pins {}", self.network),
            ));
        }
        let Ok(v1) = tx::v1_transaction(envelope) else {
            return Err(Violation::new(Rule::EnvelopeType, "only v1 transaction envelopes are signed"));
        };
        let tx = &v1.tx;
        let source = muxed_from_xdr(&tx.source_account);
        if !self.source_accounts.contains(&source) {
            return Err(Violation::new(Rule::SourceAccount, format!("transaction source {source} is not ours")));
        }
        for (index, op) in tx.operations.iter().enumerate() {
            if let Some(op_source) = &op.source_account {
                let op_source = muxed_from_xdr(op_source);
                if !self.source_accounts.contains(&op_source) {
                    return Err(Violation::new(
                        Rule::SourceAccount,
                        format!("operation {index} source {op_source} is not ours"),
                    ));
                }
            }
            let kind = match &op.body {
                xdr::OperationBody::ManageSellOffer(_) => Some(OperationType::ManageSellOffer),
                xdr::OperationBody::ManageBuyOffer(_) => Some(OperationType::ManageBuyOffer),
                xdr::OperationBody::CreatePassiveSellOffer(_) => Some(OperationType::CreatePassiveSellOffer),
                _ => None,
            };
            if !kind.is_some_and(|k| self.operations.contains(&k)) {
                return Err(Violation::new(
                    Rule::OperationType,
                    format!("operation {index} is {}, which the policy does not allow", op.body.name()),
                ));
            }
        }
        if tx.fee > self.fee_stroops_max {
            return Err(Violation::new(
                Rule::Fee,
                format!("fee {} stroops > {} allowed", tx.fee, self.fee_stroops_max),
            ));
        }
        let max_time = match &tx.cond {
            xdr::Preconditions::Time(bounds) if bounds.max_time.0 != 0 => bounds.max_time.0,
            xdr::Preconditions::Time(_) => return Err(Violation::new(Rule::TimeBounds, "no max time")),
            xdr::Preconditions::None => return Err(Violation::new(Rule::TimeBounds, "no time bounds")),
            xdr::Preconditions::V2(_) => {
                return Err(Violation::new(Rule::TimeBounds, "preconditions other than time bounds"));
            }
        };
        if max_time > now_secs.saturating_add(self.validity_secs_max) {
            return Err(Violation::new(
                Rule::Validity,
                format!("max time {max_time} is more than {} s past now ({now_secs})", self.validity_secs_max),
            ));
        }
        if max_time < now_secs {
            return Err(Violation::new(Rule::Expired, format!("max time {max_time} is before now ({now_secs})")));
        }
        let offered = self.offered(tx)?;
        for (asset, total) in &offered {
            let cap = self.notional_stroops_max[asset];
            if *total > i128::from(cap) {
                return Err(Violation::new(
                    Rule::Notional,
                    format!("offers {total} stroops of {asset}, more than the {cap} allowed per transaction"),
                ));
            }
        }
        if !v1.signatures.is_empty() {
            return Err(Violation::new(Rule::PresignedEnvelope, "the envelope already carries signatures"));
        }
        if tx.memo != xdr::Memo::None {
            return Err(Violation::new(Rule::Memo, "the transaction carries a memo"));
        }
        Ok(())
    }

    /// The amount of each selling asset the transaction puts on offer (a ManageBuyOffer offers
    /// `buy_amount × price` of its selling asset, rounded up). Errors on uncapped assets.
    fn offered(&self, tx: &xdr::Transaction) -> Result<BTreeMap<Asset, i128>, Violation> {
        let mut offered = BTreeMap::new();
        for (index, op) in tx.operations.iter().enumerate() {
            let (selling, amount) = match &op.body {
                xdr::OperationBody::ManageSellOffer(o) => (&o.selling, i128::from(o.amount)),
                xdr::OperationBody::CreatePassiveSellOffer(o) => (&o.selling, i128::from(o.amount)),
                xdr::OperationBody::ManageBuyOffer(o) => {
                    let (n, d) = (i128::from(o.price.n), i128::from(o.price.d));
                    if n <= 0 || d <= 0 {
                        return Err(Violation::new(
                            Rule::Notional,
                            format!("operation {index} has a non-positive price"),
                        ));
                    }
                    (&o.selling, (i128::from(o.buy_amount) * n + d - 1) / d)
                }
                _ => unreachable!("operation types are checked first"),
            };
            let asset = asset_from_xdr(selling)
                .map_err(|e| Violation::new(Rule::Asset, format!("operation {index} sells a malformed asset: {e}")))?;
            if !self.notional_stroops_max.contains_key(&asset) {
                return Err(Violation::new(Rule::Asset, format!("operation {index} sells {asset}, which has no cap")));
            }
            if amount < 0 {
                return Err(Violation::new(Rule::Notional, format!("operation {index} has a negative amount")));
            }
            *offered.entry(asset).or_insert(0) += amount;
        }
        Ok(offered)
    }
}

/// Why [`GuardedSigner::sign`] did not sign.
#[derive(Debug)]
pub enum SignError {
    /// The envelope bytes do not decode.
    Decode(DecodeError),
    /// The policy refused; journal [`Violation::to_event`].
    Policy(Violation),
    /// A store failed; journal a `SignerFailure`.
    Key { store: String, error: KeyError },
}

impl SignError {
    /// The security event to journal for this refusal or failure, if any.
    pub fn to_event(&self, intent: u64) -> Option<SecurityEvent> {
        match self {
            SignError::Decode(_) => None,
            SignError::Policy(v) => Some(v.to_event(intent)),
            SignError::Key { store, .. } => Some(SecurityEvent::SignerFailure { store: store.clone() }),
        }
    }
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Decode(e) => e.fmt(f),
            SignError::Policy(v) => v.fmt(f),
            SignError::Key { store, error } => write!(f, "signer {store}: {error}"),
        }
    }
}

impl std::error::Error for SignError {}

/// Signers behind a policy: every signature goes through [`GuardedSigner::sign`], which decodes
/// the envelope, checks it, hashes it for the pinned network and collects signatures from the
/// stores the account's threshold needs ([`AccountSigners::plan`]) and from no others.
#[derive(Debug)]
pub struct GuardedSigner {
    policy: Policy,
    signers: Vec<Box<dyn Signer>>,
    /// Indices into `signers` of the stores that sign, in order.
    plan: Vec<usize>,
}

impl GuardedSigner {
    /// Our stores, in preference order, for an account with `account` signers and threshold.
    pub fn new(
        policy: Policy,
        signers: Vec<Box<dyn Signer>>,
        account: &AccountSigners,
    ) -> Result<GuardedSigner, KeyError> {
        let keys: Vec<AccountId> = signers.iter().map(|s| s.public_key()).collect();
        let plan = account.plan(&keys)?;
        assert!(plan.len() <= tx::SIGNATURES_PER_TX_MAX);
        Ok(GuardedSigner { policy, signers, plan })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Signs the unsigned envelope `envelope_xdr` for `network` at UNIX time `now_secs`.
    pub fn sign(&mut self, envelope_xdr: &[u8], network: &Network, now_secs: u64) -> Result<SignedTx, SignError> {
        let envelope = tx::decode_envelope(envelope_xdr).map_err(SignError::Decode)?;
        self.policy.check(&envelope, network, now_secs).map_err(SignError::Policy)?;
        let xdr::TransactionEnvelope::Tx(v1) = envelope else { unreachable!("the policy admits only v1 envelopes") };
        let hash = tx::hash(&v1.tx, network);
        let mut signatures = Vec::with_capacity(self.plan.len());
        for &index in &self.plan {
            let signer = &mut self.signers[index];
            let signature =
                signer.sign(&hash).map_err(|error| SignError::Key { store: signer.uri().to_owned(), error })?;
            signatures.push(tx::decorated(&signer.public_key(), signature));
        }
        let signatures = signatures.try_into().expect("at most 20 signatures");
        Ok(SignedTx {
            hash,
            envelope: xdr::TransactionEnvelope::Tx(xdr::TransactionV1Envelope { tx: v1.tx, signatures }),
        })
    }
}
