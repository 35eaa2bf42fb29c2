//! The submission pipeline, sans IO: engine intents in, signed envelopes and journal inputs
//! out, Horizon's answers folded back into `TxSucceeded` / `TxFailed` / `TxExpired` inputs.
//!
//! The rules that keep orders from being lost or doubled:
//!
//! - **Write-ahead.** An intent becomes a `TxSubmitted` input (hash, sequence, max time) that the
//!   driver journals *before* it sends the envelope.
//! - **One transaction per intent until it is known dead.** On a timeout, a 5xx or a dropped
//!   connection the fate is unknown: the pipeline asks for a lookup by hash, then resubmits the
//!   *identical* envelope while the max time has not passed, and declares `TxExpired` only once
//!   Horizon does not know the hash after the max time (plus a grace period for ingestion).
//! - **Sequence numbers** are a local counter, synced from the account before the first intent
//!   and again after a `tx_bad_seq` or an expiry (a sequence number that was not consumed). A
//!   resync waits until no transaction is in flight: one that is may still consume its number
//!   (or fail for the same reason), so the account's number read before it settles would be
//!   reused.
//! - **Finite time bounds** on every transaction: `max_time = now + validity_secs`.
//! - **The signing policy**, when configured, is checked on every new transaction before it is
//!   signed; a refusal journals a `PolicyViolation` security event and a `TxFailed`.
//! - **Fees** per operation: the network's base fee, or `/fee_stats`' p90 bid under surge
//!   pricing, never above the configured cap.
//!
//! Ed25519 signatures are deterministic, so an intent rebuilt with the same sequence, fee and
//! max time gives the same envelope and hash: after a restart, an envelope whose submission was
//! journaled is rebuilt from its intent ([`Pipeline::restore`]) rather than stored.

use std::collections::BTreeMap;

use starlog_engine::events::{Input, SecurityEvent, TxExpired, TxFailed, TxSubmitted, TxSucceeded};
use starlog_engine::outputs::{Intent, op_kind};
use starlog_engine::{AccountId, Amount, OfferRef, Price};
use stellar_xdr as xdr;

use crate::horizon::client::{HorizonError, Submitted};
use crate::horizon::decode::Transaction;
use crate::keys::Signer;
use crate::policy::{Policy, Violation};
use crate::stellar::Network;
use crate::stellar::result::{self, TxOutcome};
use crate::stellar::tx::{self, OfferKind, OfferOp, TxParams};

/// `txFAILED` and `txMALFORMED` as XDR `TransactionResultCode`s.
const TX_FAILED: i32 = -1;
const TX_MALFORMED: i32 = -16;

/// How the pipeline builds transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineConfig {
    pub account: AccountId,
    pub network: Network,
    /// The fee bid per operation will never exceed this.
    pub fee_per_op_stroops_max: i64,
    /// `max_time` is this far after the submission time.
    pub validity_secs: u64,
    /// After `max_time`, how long Horizon may take to show an included transaction before it
    /// is declared expired.
    pub expiry_grace_secs: u64,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this envelope (after journaling the inputs produced with it).
    Submit { hash: [u8; 32], envelope: String },
    /// Ask Horizon for this transaction (its submission's fate is unknown).
    Lookup { hash: [u8; 32] },
    /// Load the account's sequence number and call [`Pipeline::sync_sequence`].
    ResyncSequence,
}

/// Why an intent could not become a signed transaction. [`PipelineError::inputs`] is what the
/// driver journals for it: a `TxFailed` (`txMALFORMED`: nothing was sent) and, for a policy
/// refusal or a signer failure, the security event.
#[derive(Debug)]
pub enum PipelineError {
    /// The intent does not make a valid transaction (a bug, or a misconfiguration).
    Build(String),
    /// The signing policy refused the transaction.
    Policy(Violation),
    /// The key store failed to sign.
    Signer { store: String, message: String },
}

impl PipelineError {
    /// The inputs to journal for intent `intent`.
    pub fn inputs(&self, intent: u64) -> Vec<Input> {
        let failed = Input::TxFailed(TxFailed { intent, hash: [0; 32], tx_code: TX_MALFORMED, op_codes: Vec::new() });
        match self {
            PipelineError::Build(_) => vec![failed],
            PipelineError::Policy(v) => vec![Input::Security(v.to_event(intent)), failed],
            PipelineError::Signer { store, .. } => {
                vec![Input::Security(SecurityEvent::SignerFailure { store: store.clone() }), failed]
            }
        }
    }
}

impl std::fmt::Display for PipelineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineError::Build(why) => f.write_str(why),
            PipelineError::Policy(v) => write!(f, "signing policy: {v}"),
            PipelineError::Signer { store, message } => write!(f, "signer {store}: {message}"),
        }
    }
}

impl std::error::Error for PipelineError {}

#[derive(Clone, Debug)]
struct Pending {
    intent: u64,
    envelope: String,
    max_time: u64,
}

/// See the module doc.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    /// The next sequence number to use; `None` until synced.
    next_sequence: Option<i64>,
    /// A `ResyncSequence` is out and its answer not yet in.
    resync_asked: bool,
    fee_per_op_stroops: i64,
    pending: BTreeMap<[u8; 32], Pending>,
    /// Intents waiting for a sequence number.
    waiting: Vec<Intent>,
    /// Checked before every signature of a new transaction.
    policy: Option<Policy>,
}

impl Pipeline {
    pub fn new(config: PipelineConfig, base_fee_stroops: i64) -> Pipeline {
        let fee = base_fee_stroops.clamp(1, config.fee_per_op_stroops_max.max(1));
        Pipeline {
            config,
            next_sequence: None,
            resync_asked: false,
            fee_per_op_stroops: fee,
            pending: BTreeMap::new(),
            waiting: Vec::new(),
            policy: None,
        }
    }

    /// Every new transaction must pass `policy` before it is signed (a rebuilt one, at restore,
    /// was approved when first signed and is identical).
    pub fn with_policy(mut self, policy: Policy) -> Pipeline {
        self.policy = Some(policy);
        self
    }

    /// Transactions sent and not yet settled.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing is pending or waiting.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.waiting.is_empty()
    }

    /// The fee per operation from `/fee_stats`: the p90 bid when the last ledger's base fee is
    /// surging above the network minimum, else the base fee; capped.
    pub fn set_fees(&mut self, last_ledger_base_fee: i64, max_fee_p90: i64) {
        let wanted = if max_fee_p90 > last_ledger_base_fee { max_fee_p90 } else { last_ledger_base_fee };
        self.fee_per_op_stroops = wanted.clamp(1, self.config.fee_per_op_stroops_max.max(1));
    }

    pub fn fee_per_op_stroops(&self) -> i64 {
        self.fee_per_op_stroops
    }

    /// The account's current sequence number (from Horizon): the next transaction uses the one
    /// after it. Ignored while a transaction is in flight (read before it settled, the number
    /// may be stale): asked for again once none is. Builds the intents that were waiting for
    /// it, at `now` (they may have waited a while; their time bounds start now). One that
    /// cannot be built or signed gets its failure inputs ([`PipelineError::inputs`]) and the
    /// others still go; the errors are returned, for the log.
    pub fn sync_sequence(
        &mut self,
        account_sequence: i64,
        now: u64,
        signer: &mut dyn Signer,
        inputs: &mut Vec<Input>,
        actions: &mut Vec<Action>,
    ) -> Vec<(u64, PipelineError)> {
        self.resync_asked = false;
        if !self.pending.is_empty() {
            return Vec::new();
        }
        self.next_sequence = Some(account_sequence + 1);
        let mut errors = Vec::new();
        for intent in std::mem::take(&mut self.waiting) {
            if let Err(e) = self.on_intent(&intent, now, signer, inputs, actions) {
                inputs.extend(e.inputs(intent.id));
                errors.push((intent.id, e));
            }
        }
        errors
    }

    /// An intent from the engine at `now` (Unix seconds).
    pub fn on_intent(
        &mut self,
        intent: &Intent,
        now: u64,
        signer: &mut dyn Signer,
        inputs: &mut Vec<Input>,
        actions: &mut Vec<Action>,
    ) -> Result<(), PipelineError> {
        let Some(sequence) = self.next_sequence else {
            self.waiting.push(intent.clone());
            self.resync_when_quiet(actions);
            return Ok(());
        };
        let max_time = now + self.config.validity_secs;
        let fee = self.fee_per_op_stroops;
        let (hash, envelope) = self.build(intent, sequence, fee, max_time, signer, Some(now))?;
        self.next_sequence = Some(sequence + 1);
        inputs.push(Input::TxSubmitted(TxSubmitted {
            intent: intent.id,
            hash,
            sequence,
            max_time,
            fee_stroops: fee * intent.ops.len() as i64,
            signed_by: *signer.public_key().as_bytes(),
            key_store: signer.store().code(),
        }));
        self.pending.insert(hash, Pending { intent: intent.id, envelope: envelope.clone(), max_time });
        actions.push(Action::Submit { hash, envelope });
        Ok(())
    }

    fn build(
        &self,
        intent: &Intent,
        sequence: i64,
        fee_per_op: i64,
        max_time: u64,
        signer: &mut dyn Signer,
        check_at: Option<u64>,
    ) -> Result<([u8; 32], String), PipelineError> {
        let ops = intent
            .ops
            .iter()
            .map(|op| {
                let asset = |w: &starlog_engine::events::WireAsset| {
                    w.to_asset().map_err(|_| PipelineError::Build(format!("intent {}: bad asset", intent.id)))
                };
                let kind = match op.kind {
                    op_kind::MANAGE_SELL => OfferKind::ManageSell,
                    op_kind::MANAGE_BUY => OfferKind::ManageBuy,
                    other => {
                        return Err(PipelineError::Build(format!(
                            "intent {}: unknown operation kind {other}",
                            intent.id
                        )));
                    }
                };
                Ok(OfferOp {
                    kind,
                    selling: asset(&op.selling)?,
                    buying: asset(&op.buying)?,
                    amount: Amount::from_stroops(op.amount_stroops)
                        .map_err(|_| PipelineError::Build(format!("intent {}: bad amount", intent.id)))?,
                    price: Price::new(op.price.n, op.price.d)
                        .map_err(|_| PipelineError::Build(format!("intent {}: bad price", intent.id)))?,
                    offer: OfferRef::from_xdr(op.offer_id)
                        .map_err(|_| PipelineError::Build(format!("intent {}: bad offer id", intent.id)))?,
                })
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        let fee =
            u32::try_from(fee_per_op * ops.len() as i64).map_err(|_| PipelineError::Build("fee overflows".into()))?;
        let signer_uri = signer.uri().to_owned();
        let params = TxParams { source: self.config.account, sequence, fee_stroops: fee, min_time: 0, max_time };
        let built = tx::build(&params, &ops).map_err(|e| PipelineError::Build(format!("intent {}: {e}", intent.id)))?;
        if let (Some(policy), Some(now)) = (&self.policy, check_at) {
            let unsigned = xdr::TransactionEnvelope::Tx(xdr::TransactionV1Envelope {
                tx: built.clone(),
                signatures: xdr::VecM::default(),
            });
            policy.check(&unsigned, &self.config.network, now).map_err(PipelineError::Policy)?;
        }
        let signed = tx::sign(built, &self.config.network, &mut [signer])
            .map_err(|e| PipelineError::Signer { store: signer_uri.clone(), message: e.to_string() })?;
        Ok((signed.hash, signed.to_base64()))
    }

    /// After a restart: an intent whose `TxSubmitted` was journaled but whose result was not.
    /// Rebuilds the identical envelope (checked against the journaled hash) and asks for a
    /// lookup: the transaction may be in a ledger already.
    pub fn restore(
        &mut self,
        intent: &Intent,
        submitted: &TxSubmitted,
        signer: &mut dyn Signer,
        actions: &mut Vec<Action>,
    ) -> Result<(), PipelineError> {
        let fee_per_op = submitted.fee_stroops / (intent.ops.len().max(1) as i64);
        let (hash, envelope) = self.build(intent, submitted.sequence, fee_per_op, submitted.max_time, signer, None)?;
        if hash != submitted.hash {
            return Err(PipelineError::Build(format!(
                "intent {}: the rebuilt envelope's hash differs from the journaled one (another key or code?)",
                intent.id
            )));
        }
        self.pending.insert(hash, Pending { intent: intent.id, envelope, max_time: submitted.max_time });
        actions.push(Action::Lookup { hash });
        Ok(())
    }

    /// Horizon's answer to `Submit`.
    pub fn on_submitted(
        &mut self,
        hash: [u8; 32],
        answer: Result<Submitted, HorizonError>,
        inputs: &mut Vec<Input>,
        actions: &mut Vec<Action>,
    ) {
        let Some(pending) = self.pending.get(&hash) else { return };
        let intent = pending.intent;
        match answer {
            Ok(Submitted::Applied(t)) => self.settle(hash, &t, inputs, actions),
            Ok(Submitted::Failed(problem)) => {
                let (tx_code, op_codes) = match problem.result_xdr.as_deref().map(result::parse_base64) {
                    Some(Ok(TxOutcome::Failed { tx_code, op_codes, .. })) => (tx_code, op_codes),
                    _ => (TX_MALFORMED, Vec::new()),
                };
                self.fail(hash, intent, tx_code, op_codes, inputs, actions);
            }
            // Unknown fate: look it up before anything else.
            Err(HorizonError::Timeout | HorizonError::Transport(_)) => actions.push(Action::Lookup { hash }),
            Err(HorizonError::Problem(p)) if p.status == 429 => actions.push(Action::Lookup { hash }),
            // Horizon refused the envelope itself (malformed): it never reached a ledger.
            Err(HorizonError::Problem(_) | HorizonError::Decode(_)) => {
                self.fail(hash, intent, TX_MALFORMED, Vec::new(), inputs, actions);
            }
        }
    }

    /// Horizon's answer to `Lookup` at `now`.
    pub fn on_lookup(
        &mut self,
        hash: [u8; 32],
        found: Result<Option<Transaction>, HorizonError>,
        now: u64,
        inputs: &mut Vec<Input>,
        actions: &mut Vec<Action>,
    ) {
        let Some(pending) = self.pending.get(&hash).cloned() else { return };
        match found {
            Ok(Some(t)) if t.successful => self.settle(hash, &t, inputs, actions),
            Ok(Some(t)) => {
                let (tx_code, op_codes) = match t.outcome {
                    Some(TxOutcome::Failed { tx_code, op_codes, .. }) => (tx_code, op_codes),
                    _ => (TX_MALFORMED, Vec::new()),
                };
                self.fail(hash, pending.intent, tx_code, op_codes, inputs, actions);
            }
            Ok(None) if now > pending.max_time + self.config.expiry_grace_secs => {
                self.pending.remove(&hash);
                inputs.push(Input::TxExpired(TxExpired { intent: pending.intent, hash }));
                // Its sequence number was never consumed: the counter is wrong now.
                self.next_sequence = None;
                self.resync_when_quiet(actions);
            }
            // Not in a ledger yet and still valid: the identical envelope again.
            Ok(None) if now <= pending.max_time => actions.push(Action::Submit { hash, envelope: pending.envelope }),
            // Past its max time but within the grace period, or Horizon unreachable: ask again.
            Ok(None) | Err(_) => actions.push(Action::Lookup { hash }),
        }
    }

    fn settle(&mut self, hash: [u8; 32], t: &Transaction, inputs: &mut Vec<Input>, actions: &mut Vec<Action>) {
        let Some(pending) = self.pending.remove(&hash) else { return };
        match &t.outcome {
            Some(TxOutcome::Success { fee_charged_stroops, ops }) => {
                inputs.push(Input::TxSucceeded(TxSucceeded {
                    intent: pending.intent,
                    hash,
                    ledger: t.ledger,
                    fee_charged_stroops: *fee_charged_stroops,
                    ops: ops.clone(),
                }));
                self.resync_when_quiet(actions);
            }
            Some(TxOutcome::Failed { tx_code, op_codes, .. }) => {
                self.pending.insert(hash, pending.clone());
                self.fail(hash, pending.intent, *tx_code, op_codes.clone(), inputs, actions);
            }
            None => {
                self.pending.insert(hash, pending.clone());
                self.fail(hash, pending.intent, TX_MALFORMED, Vec::new(), inputs, actions);
            }
        }
    }

    fn fail(
        &mut self,
        hash: [u8; 32],
        intent: u64,
        tx_code: i32,
        op_codes: Vec<i32>,
        inputs: &mut Vec<Input>,
        actions: &mut Vec<Action>,
    ) {
        self.pending.remove(&hash);
        inputs.push(Input::TxFailed(TxFailed { intent, hash, tx_code, op_codes }));
        // Anything but txFAILED was rejected before a ledger (`tx_bad_seq` among them): its
        // sequence number was not consumed and later ones built on it fail too. Resync.
        if tx_code != TX_FAILED {
            self.next_sequence = None;
        }
        self.resync_when_quiet(actions);
    }

    /// Ask for the account's sequence number when the counter is unknown, nothing is in flight
    /// and no answer is awaited.
    fn resync_when_quiet(&mut self, actions: &mut Vec<Action>) {
        if self.next_sequence.is_none() && self.pending.is_empty() && !self.resync_asked {
            self.resync_asked = true;
            actions.push(Action::ResyncSequence);
        }
    }
}
