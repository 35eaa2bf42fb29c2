//! The simulated ledger: accounts, trustlines, data entries, the order book ([`sdex::Book`]),
//! and transaction application with stellar-core's validation order and real result XDR.
//!
//! Sans-IO and deterministic: state is in `BTreeMap`s, time is an argument, nothing is random.
//! Two ledgers fed the same calls produce byte-identical results and histories.
//!
//! # When transactions apply
//!
//! [`Ledger::submit`] validates *and* applies a transaction at once, into the ledger being built
//! (sequence [`Ledger::ledger_seq`]); [`Ledger::close_ledger`] seals that ledger and opens the
//! next. stellar-core validates at submission (against the last closed ledger) and applies at
//! close; doing both at submission means a client sees the final result immediately (as Horizon's
//! synchronous `POST /transactions` promises) and no queue is needed, while the order of
//! application is still the order of submission, deterministic. A transaction that passes
//! validation cannot fail validation again at apply time here, so the cases where stellar-core
//! charges a fee for a transaction that became invalid between submission and close do not arise.
//!
//! Rejected transactions (validation failed: `txBAD_SEQ`, `txTOO_EARLY`, `txBAD_AUTH`, a
//! malformed operation, …) are not in any ledger: no fee, no sequence bump, no history record.
//! Their result carries `fee_charged` = the transaction's fee bid, as stellar-core reports it.
//! Applied transactions pay `base_fee × operations` into the fee pool and consume their sequence
//! number even when an operation fails (`txFAILED`, all operations undone).
//!
//! # What is modelled, and what is simplified
//!
//! - Envelopes: v1 only. v0 and fee-bump envelopes are rejected with `txNOT_SUPPORTED`.
//! - Preconditions: time bounds, ledger bounds and `min_seq_num`. `min_seq_age`,
//!   `min_seq_ledger_gap` and extra signers are rejected with `txNOT_SUPPORTED`.
//! - Signers: the master key and extra ed25519 signers (set with [`Ledger::configure_account`],
//!   a simulator control: there is no SetOptions operation). Signature checking is
//!   stellar-core's `SignatureChecker` (signatures in order, each signer counted once, weights
//!   capped at 255, stop as soon as the threshold is met; unused signatures are
//!   `txBAD_AUTH_EXTRA`).
//! - Operations: CreateAccount, Payment, ChangeTrust (credit assets; pool shares are
//!   `opNOT_SUPPORTED`), ManageData, ManageSellOffer, ManageBuyOffer, CreatePassiveSellOffer.
//!   Every other type is `opNOT_SUPPORTED`, which stellar-core checks at validation, so such a
//!   transaction is rejected.
//! - Protocol ≥ 13 semantics: payments never return `PAYMENT_NO_ISSUER` (stellar-core dropped
//!   the issuer check in protocol 13); self-trust is `CHANGE_TRUST_MALFORMED` (protocol 16).
//! - Offer operations are [`sdex::manage_offer`]'s. Their `doCheckValid` (malformed) is checked
//!   at validation by running them against an empty book and an [`Accounts`] that holds
//!   nothing: `manage_offer` checks well-formedness before it reads any state, so `Malformed`
//!   comes back exactly for malformed operations. An account's 1000-subentry limit makes a new
//!   offer fail `LOW_RESERVE` (the `Accounts` seam has one answer), where stellar-core says
//!   `opTOO_MANY_SUBENTRIES`; trustlines and data entries do give `opTOO_MANY_SUBENTRIES`.
//! - No sponsorship, clawback, account merge or liquidity pools. Trustline authorization is one
//!   flag (authorized or not), set by the issuer's AUTH_REQUIRED flag at creation and by
//!   [`Ledger::set_authorized`] (offers of a deauthorized line stay on the book; stellar-core
//!   would remove them).
//! - [`Ledger::fund`] (friendbot) is a real transaction from the root, signed with the root's
//!   key (SHA-256 of the passphrase as its seed): it is in the history and the root pays its fee.
//! - Undecodable bytes are `Err` from [`Ledger::submit`] (Horizon's `transaction_malformed`):
//!   there is no hash and no result to give.
//!
//! # Effects
//!
//! Each successful operation of a successful transaction leaves Horizon's effects in
//! [`History::effects`] ([`EffectRecord`]), in Horizon's order (its ingestion's
//! `effects_processor.go`): they are recorded as the operation applies, where the prior state
//! is known (a trustline or data entry created, updated or removed). A `txFAILED` transaction
//! has none, as in Horizon. No sponsorship effects arise (nothing is sponsored), and offer
//! operations give only `trade` effects (Horizon emits no offer created/updated/removed).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use starlog_adapters::keys::{self, Seed, SeedSigner, StoreKind};
use starlog_adapters::stellar::tx::{self as stx, DecodeError};
use starlog_adapters::stellar::{
    Network, account_from_xdr, account_to_xdr, asset_from_xdr, asset_to_xdr, muxed_from_xdr,
};
use starlog_engine::{AccountId, Asset};
use stellar_xdr::{self as xdr, ReadXdr, WriteXdr};

use crate::sdex::{self, Accounts, OfferEffect, OfferFailure, OfferOp, OfferOpKind};
use crate::sdex::{Book, manage_offer};

/// The passphrase of a standalone stellar-core network (the default here).
pub const STANDALONE_PASSPHRASE: &str = "Standalone Network ; February 2017";
/// Default base reserve, in stroops (0.5 XLM).
pub const BASE_RESERVE_STROOPS_DEFAULT: i64 = 5_000_000;
/// Default base fee per operation, in stroops.
pub const BASE_FEE_STROOPS_DEFAULT: i64 = 100;
/// Total supply at genesis, in stroops (100 billion XLM, as stellar-core's genesis).
pub const TOTAL_COINS_STROOPS_DEFAULT: i64 = 1_000_000_000_000_000_000;
/// Most subentries an account may have (stellar-core's `ACCOUNT_SUBENTRY_LIMIT`).
pub const SUBENTRIES_PER_ACCOUNT_MAX: u32 = 1000;
/// The weight of a new account's master key in its `signer_created` effect (the Go SDK's
/// `keypair.DefaultSignerWeight`).
const SIGNER_WEIGHT_DEFAULT: u32 = 1;
/// Most extra signers an account may have (stellar-core's `MAX_SIGNERS`).
pub const SIGNERS_PER_ACCOUNT_MAX: usize = 20;
/// The account flag that makes new trustlines to the account's assets unauthorized.
pub const AUTH_REQUIRED_FLAG: u32 = 0x1;
/// The offer-entry flag of passive offers.
pub const PASSIVE_FLAG: u32 = 0x1;
/// The sequence number of the genesis ledger; the first open ledger is the next one.
pub const GENESIS_LEDGER_SEQ: u32 = 1;
/// Largest signer weight that counts (stellar-core caps at `UINT8_MAX` from protocol 10).
const SIGNER_WEIGHT_MAX: u32 = 255;

/// The ledger's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerConfig {
    /// Transaction hashes commit to SHA-256 of it; the root account's seed is the same hash.
    pub network_passphrase: String,
    pub base_reserve_stroops: i64,
    pub base_fee_stroops: i64,
    /// Native coins at genesis, all held by the root account.
    pub total_coins_stroops: i64,
}

impl Default for LedgerConfig {
    fn default() -> LedgerConfig {
        LedgerConfig {
            network_passphrase: STANDALONE_PASSPHRASE.to_owned(),
            base_reserve_stroops: BASE_RESERVE_STROOPS_DEFAULT,
            base_fee_stroops: BASE_FEE_STROOPS_DEFAULT,
            total_coins_stroops: TOTAL_COINS_STROOPS_DEFAULT,
        }
    }
}

/// One account entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountEntry {
    pub balance: i64,
    pub seq_num: i64,
    /// Trustlines, offers, data entries and extra signers.
    pub num_subentries: u32,
    /// Master weight, low, medium and high thresholds (XDR `Thresholds` order).
    pub thresholds: [u8; 4],
    /// Extra ed25519 signers and their weights, in key order (as stellar-core keeps them).
    pub signers: BTreeMap<AccountId, u32>,
    pub flags: u32,
    /// Data entries, name → value.
    pub data: BTreeMap<Vec<u8>, Vec<u8>>,
    pub selling_liabilities: i64,
    pub buying_liabilities: i64,
}

impl AccountEntry {
    fn new(balance: i64, seq_num: i64) -> AccountEntry {
        AccountEntry {
            balance,
            seq_num,
            num_subentries: 0,
            thresholds: [1, 0, 0, 0],
            signers: BTreeMap::new(),
            flags: 0,
            data: BTreeMap::new(),
            selling_liabilities: 0,
            buying_liabilities: 0,
        }
    }
}

/// One trustline entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustLine {
    pub balance: i64,
    pub limit: i64,
    pub authorized: bool,
    pub selling_liabilities: i64,
    pub buying_liabilities: i64,
}

/// The ledger entries. Cloned before each transaction's operations for atomicity.
#[derive(Clone, Debug)]
struct State {
    accounts: BTreeMap<AccountId, AccountEntry>,
    trustlines: BTreeMap<(AccountId, Asset), TrustLine>,
    book: Book,
    /// The last offer id handed out.
    id_pool: i64,
    fee_pool: i64,
    base_reserve: i64,
}

impl State {
    /// `(2 + subentries) × base reserve`.
    fn min_balance(&self, account: &AccountEntry) -> i64 {
        (2 + i64::from(account.num_subentries)).saturating_mul(self.base_reserve)
    }

    /// Native balance above the reserve and selling liabilities (may be negative).
    fn native_available(&self, account: &AccountEntry) -> i64 {
        account.balance.saturating_sub(self.min_balance(account)).saturating_sub(account.selling_liabilities)
    }

    fn account(&self, id: &AccountId) -> &AccountEntry {
        self.accounts.get(id).expect("the account exists")
    }

    fn account_mut(&mut self, id: &AccountId) -> &mut AccountEntry {
        self.accounts.get_mut(id).expect("the account exists")
    }

    fn is_issuer(account: &AccountId, asset: &Asset) -> bool {
        asset.issuer() == Some(*account)
    }

    /// Whether the account can take one more subentry: under the count limit and with a base
    /// reserve of available native balance.
    fn subentry_room(&self, id: &AccountId) -> Result<(), SubentryError> {
        let account = self.account(id);
        if account.num_subentries >= SUBENTRIES_PER_ACCOUNT_MAX {
            return Err(SubentryError::TooMany);
        }
        if self.native_available(account) < self.base_reserve {
            return Err(SubentryError::LowReserve);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SubentryError {
    TooMany,
    LowReserve,
}

impl Accounts for State {
    fn holds(&self, account: &AccountId, asset: &Asset) -> bool {
        asset.is_native() || State::is_issuer(account, asset) || self.trustlines.contains_key(&(*account, *asset))
    }

    fn authorized(&self, account: &AccountId, asset: &Asset) -> bool {
        asset.is_native()
            || State::is_issuer(account, asset)
            || self.trustlines.get(&(*account, *asset)).is_some_and(|line| line.authorized)
    }

    fn balance(&self, account: &AccountId, asset: &Asset) -> Option<i64> {
        if asset.is_native() {
            return self.accounts.get(account).map(|a| a.balance);
        }
        if State::is_issuer(account, asset) {
            return Some(i64::MAX);
        }
        self.trustlines.get(&(*account, *asset)).map(|line| line.balance)
    }

    fn available_to_sell(&self, account: &AccountId, asset: &Asset) -> Option<i64> {
        if asset.is_native() {
            return self.accounts.get(account).map(|a| self.native_available(a).max(0));
        }
        if State::is_issuer(account, asset) {
            return Some(i64::MAX);
        }
        let line = self.trustlines.get(&(*account, *asset))?;
        Some(if line.authorized { (line.balance - line.selling_liabilities).max(0) } else { 0 })
    }

    fn available_to_buy(&self, account: &AccountId, asset: &Asset) -> Option<i64> {
        if asset.is_native() {
            return self.accounts.get(account).map(|a| (i64::MAX - a.balance - a.buying_liabilities).max(0));
        }
        if State::is_issuer(account, asset) {
            return Some(i64::MAX);
        }
        let line = self.trustlines.get(&(*account, *asset))?;
        Some(if line.authorized { (line.limit - line.balance - line.buying_liabilities).max(0) } else { 0 })
    }

    fn transfer(&mut self, account: &AccountId, asset: &Asset, delta: i64) {
        if asset.is_native() {
            let entry = self.account_mut(account);
            entry.balance = entry.balance.checked_add(delta).expect("native balance stays in range");
            assert!(entry.balance >= 0, "native balance stays non-negative");
        } else if !State::is_issuer(account, asset) {
            let line = self.trustlines.get_mut(&(*account, *asset)).expect("the trustline exists");
            line.balance = line.balance.checked_add(delta).expect("trustline balance stays in range");
            assert!(0 <= line.balance && line.balance <= line.limit, "trustline balance stays within its limit");
        }
    }

    fn add_liabilities(&mut self, account: &AccountId, asset: &Asset, selling_delta: i64, buying_delta: i64) {
        let (selling, buying) = if asset.is_native() {
            let entry = self.account_mut(account);
            (&mut entry.selling_liabilities, &mut entry.buying_liabilities)
        } else if State::is_issuer(account, asset) {
            return;
        } else {
            let line = self.trustlines.get_mut(&(*account, *asset)).expect("the trustline exists");
            (&mut line.selling_liabilities, &mut line.buying_liabilities)
        };
        *selling = selling.checked_add(selling_delta).expect("liabilities stay in range");
        *buying = buying.checked_add(buying_delta).expect("liabilities stay in range");
        assert!(*selling >= 0 && *buying >= 0, "liabilities stay non-negative");
    }

    fn can_add_subentry(&self, account: &AccountId) -> bool {
        self.subentry_room(account).is_ok()
    }

    fn add_subentries(&mut self, account: &AccountId, delta: i32) {
        let entry = self.account_mut(account);
        entry.num_subentries = entry.num_subentries.checked_add_signed(delta).expect("subentries stay non-negative");
    }

    fn next_offer_id(&mut self) -> i64 {
        self.id_pool = self.id_pool.checked_add(1).expect("offer ids do not run out");
        self.id_pool
    }
}

/// Holds nothing: offer operations checked against it fail, and fail `Malformed` exactly when
/// they are malformed (stellar-core's `doCheckValid`, which comes before any state is read).
struct NoAccounts;

impl Accounts for NoAccounts {
    fn holds(&self, _: &AccountId, asset: &Asset) -> bool {
        asset.is_native()
    }
    fn authorized(&self, _: &AccountId, _: &Asset) -> bool {
        true
    }
    fn balance(&self, _: &AccountId, asset: &Asset) -> Option<i64> {
        asset.is_native().then_some(0)
    }
    fn available_to_sell(&self, _: &AccountId, asset: &Asset) -> Option<i64> {
        asset.is_native().then_some(0)
    }
    fn available_to_buy(&self, _: &AccountId, asset: &Asset) -> Option<i64> {
        asset.is_native().then_some(0)
    }
    fn transfer(&mut self, _: &AccountId, _: &Asset, _: i64) {}
    fn add_liabilities(&mut self, _: &AccountId, _: &Asset, _: i64, _: i64) {}
    fn can_add_subentry(&self, _: &AccountId) -> bool {
        false
    }
    fn add_subentries(&mut self, _: &AccountId, _: i32) {}
    fn next_offer_id(&mut self) -> i64 {
        1
    }
}

/// What happened to a submitted transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// In ledger `ledger` at position `order` (1-based): fee charged, sequence consumed.
    /// The result is `txSUCCESS` or `txFAILED`.
    Applied { ledger: u32, order: u32 },
    /// Rejected at validation: in no ledger, no fee, no sequence bump.
    Rejected,
}

/// The answer to [`Ledger::submit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// The transaction hash for the configured network.
    pub hash: [u8; 32],
    pub disposition: Disposition,
    /// The real `TransactionResult`; its `fee_charged` is the fee bid when rejected (as
    /// stellar-core reports it), the fee paid when applied.
    pub result: xdr::TransactionResult,
    /// `result` as XDR, and as base64 (Horizon's `result_xdr`).
    pub result_xdr: Vec<u8>,
    pub result_base64: String,
    /// What was actually debited from the source: 0 when rejected.
    pub fee_charged_stroops: i64,
}

impl Submission {
    pub fn applied(&self) -> bool {
        matches!(self.disposition, Disposition::Applied { .. })
    }

    /// Applied with every operation successful.
    pub fn succeeded(&self) -> bool {
        self.applied() && matches!(self.result.result, xdr::TransactionResultResult::TxSuccess(_))
    }
}

/// Horizon's TOID: `ledger << 32 | tx_order << 12 | op_index` (tx order and op index 1-based;
/// op index 0 for the transaction itself).
pub fn toid(ledger: u32, tx_order: u32, op_index: u32) -> i64 {
    assert!(tx_order < (1 << 20) && op_index < (1 << 12), "TOID fields in range");
    (i64::from(ledger) << 32) | (i64::from(tx_order) << 12) | i64::from(op_index)
}

/// One applied transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRecord {
    pub ledger: u32,
    /// 1-based position in the ledger.
    pub order: u32,
    pub hash: [u8; 32],
    pub source: AccountId,
    pub seq_num: i64,
    pub max_fee_stroops: i64,
    pub fee_charged_stroops: i64,
    pub operation_count: u32,
    pub successful: bool,
    /// The envelope as submitted.
    pub envelope_xdr: Vec<u8>,
    pub result: xdr::TransactionResult,
    pub result_xdr: Vec<u8>,
    /// The close time of the transaction's ledger; until the ledger closes, the time given
    /// to [`Ledger::submit`].
    pub close_time: u64,
    /// Accounts the transaction involves, sorted (Horizon's transaction participants): the
    /// source, operation sources, and the destinations of CreateAccount and Payment.
    pub participants: Vec<AccountId>,
}

impl TxRecord {
    /// Horizon's transaction id and paging token.
    pub fn toid(&self) -> i64 {
        toid(self.ledger, self.order, 0)
    }
}

/// One trade: a resting offer (the maker's) crossed by an offer operation (the taker's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradeRecord {
    pub ledger: u32,
    pub tx_order: u32,
    /// 0-based index of the operation in its transaction.
    pub op_index: u32,
    /// 0-based index of the trade within its operation.
    pub trade_index: u32,
    pub maker: AccountId,
    pub maker_offer_id: i64,
    pub taker: AccountId,
    /// The taker's own offer if it rests (created or updated) after the operation.
    pub taker_offer_id: Option<i64>,
    /// What the maker sold (the taker bought), and how much.
    pub sold_asset: Asset,
    pub sold_amount: i64,
    /// What the maker bought (the taker sold), and how much.
    pub bought_asset: Asset,
    pub bought_amount: i64,
    /// The close time of the trade's ledger (see [`TxRecord::close_time`]).
    pub close_time: u64,
}

impl TradeRecord {
    /// The TOID of the trade's operation.
    pub fn operation_id(&self) -> i64 {
        toid(self.ledger, self.tx_order, self.op_index + 1)
    }

    /// Horizon's trade paging token: `<operation id>-<trade index>`.
    pub fn paging_token(&self) -> String {
        format!("{}-{}", self.operation_id(), self.trade_index)
    }

    /// The price the maker got, `bought/sold` reduced (units of the bought asset per unit of
    /// the sold asset).
    pub fn price(&self) -> (i64, i64) {
        let g = gcd(self.bought_amount, self.sold_amount).max(1);
        (self.bought_amount / g, self.sold_amount / g)
    }
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// What an effect says, per Horizon effect type (the types the simulated operations produce).
/// Amounts and limits are in stroops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EffectKind {
    /// The effect's account was created (CreateAccount).
    AccountCreated { starting_balance: i64 },
    /// The account received `amount` of `asset` (Payment: the destination).
    AccountCredited { asset: Asset, amount: i64 },
    /// The account sent `amount` of `asset` (Payment and CreateAccount: the source).
    AccountDebited { asset: Asset, amount: i64 },
    /// A signer was added to the account (CreateAccount: the new account's master key).
    SignerCreated { public_key: AccountId, weight: u32 },
    /// ChangeTrust made a new trustline; `limit` is the operation's.
    TrustlineCreated { asset: Asset, limit: i64 },
    /// ChangeTrust with limit 0 removed the trustline (`limit` is then 0).
    TrustlineRemoved { asset: Asset, limit: i64 },
    /// ChangeTrust set the limit of an existing trustline.
    TrustlineUpdated { asset: Asset, limit: i64 },
    /// One side of a claim of an offer operation, from the effect account's point of view:
    /// it sold `sold_amount` of `sold_asset` and bought `bought_amount` of `bought_asset`, with
    /// `seller` as its counterparty. `offer_id` is the crossed (maker's) offer for both sides,
    /// as Horizon's `tradeDetails` gives it.
    Trade {
        seller: AccountId,
        offer_id: i64,
        sold_asset: Asset,
        sold_amount: i64,
        bought_asset: Asset,
        bought_amount: i64,
    },
    /// ManageData made a new entry.
    DataCreated { name: String, value: Vec<u8> },
    /// ManageData deleted the entry.
    DataRemoved { name: String },
    /// ManageData replaced the value of an existing entry.
    DataUpdated { name: String, value: Vec<u8> },
}

impl EffectKind {
    /// Horizon's `type`, e.g. `account_created`.
    pub fn type_name(&self) -> &'static str {
        match self {
            EffectKind::AccountCreated { .. } => "account_created",
            EffectKind::AccountCredited { .. } => "account_credited",
            EffectKind::AccountDebited { .. } => "account_debited",
            EffectKind::SignerCreated { .. } => "signer_created",
            EffectKind::TrustlineCreated { .. } => "trustline_created",
            EffectKind::TrustlineRemoved { .. } => "trustline_removed",
            EffectKind::TrustlineUpdated { .. } => "trustline_updated",
            EffectKind::Trade { .. } => "trade",
            EffectKind::DataCreated { .. } => "data_created",
            EffectKind::DataRemoved { .. } => "data_removed",
            EffectKind::DataUpdated { .. } => "data_updated",
        }
    }

    /// Horizon's `type_i` (`history.EffectType`).
    pub fn type_i(&self) -> i32 {
        match self {
            EffectKind::AccountCreated { .. } => 0,
            EffectKind::AccountCredited { .. } => 2,
            EffectKind::AccountDebited { .. } => 3,
            EffectKind::SignerCreated { .. } => 10,
            EffectKind::TrustlineCreated { .. } => 20,
            EffectKind::TrustlineRemoved { .. } => 21,
            EffectKind::TrustlineUpdated { .. } => 22,
            EffectKind::Trade { .. } => 33,
            EffectKind::DataCreated { .. } => 40,
            EffectKind::DataRemoved { .. } => 41,
            EffectKind::DataUpdated { .. } => 42,
        }
    }
}

/// One Horizon effect: something an operation of a successful transaction did to an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectRecord {
    pub ledger: u32,
    pub tx_order: u32,
    /// 1-based index of the operation in its transaction (the TOID's operation field).
    pub op_index: u32,
    /// 1-based index of the effect within its operation (Horizon's effect `order`).
    pub index: u32,
    /// The account the effect is about (Horizon's `account`).
    pub account: AccountId,
    pub kind: EffectKind,
    /// The close time of the effect's ledger (see [`TxRecord::close_time`]).
    pub close_time: u64,
}

impl EffectRecord {
    /// The TOID of the effect's operation.
    pub fn operation_id(&self) -> i64 {
        toid(self.ledger, self.tx_order, self.op_index)
    }

    /// Horizon's effect paging token: `<operation id>-<index>`.
    pub fn paging_token(&self) -> String {
        format!("{}-{}", self.operation_id(), self.index)
    }

    /// Horizon's effect id: the operation id and index zero-padded to 19 and 10 digits, so
    /// that ids sort as text in paging order.
    pub fn id(&self) -> String {
        format!("{:019}-{:010}", self.operation_id(), self.index)
    }
}

/// One closed ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRecord {
    pub sequence: u32,
    pub close_time: u64,
    pub successful_tx_count: u32,
    pub failed_tx_count: u32,
    /// Operations of all applied transactions.
    pub operation_count: u32,
    pub total_coins_stroops: i64,
    pub fee_pool_stroops: i64,
    pub base_fee_stroops: i64,
    pub base_reserve_stroops: i64,
}

/// What the Horizon layer reads: applied transactions, trades, effects and closed ledgers, in
/// order (trades and effects in paging-token order). Records of the open ledger are at the
/// end of `transactions`, `trades` and `effects`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub transactions: Vec<TxRecord>,
    pub trades: Vec<TradeRecord>,
    /// Effects of the successful transactions' operations.
    pub effects: Vec<EffectRecord>,
    pub ledgers: Vec<LedgerRecord>,
}

/// Account settings changed by the simulator itself (a stand-in for SetOptions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountConfig {
    pub master_weight: u8,
    pub low_threshold: u8,
    pub med_threshold: u8,
    pub high_threshold: u8,
    /// Extra ed25519 signers and their weights (1..=255); each is a subentry.
    pub signers: Vec<(AccountId, u8)>,
    pub auth_required: bool,
}

/// Why [`Ledger::configure_account`] or [`Ledger::set_authorized`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    NoAccount,
    NoTrustLine,
    /// More signers than allowed, a weight of 0, or the account itself as a signer.
    BadSigners,
    /// The account cannot afford the subentries of its new signers.
    LowReserve,
}

/// The simulated ledger. See the module doc. `Clone` gives an independent copy (a fork).
#[derive(Clone, Debug)]
pub struct Ledger {
    config: LedgerConfig,
    network: Network,
    root_seed: [u8; 32],
    root: AccountId,
    state: State,
    /// The open ledger's sequence.
    ledger_seq: u32,
    last_close_time: u64,
    /// Latest time given to `submit` (or the last close time).
    now: u64,
    /// Applied transactions in the open ledger so far.
    open_tx_count: u32,
    open_first_tx: usize,
    open_first_trade: usize,
    open_first_effect: usize,
    history: History,
}

/// Working context of one transaction's operations.
struct TxContext {
    tx_source: AccountId,
    ledger_seq: u32,
}

/// An operation applied: its result, the trades it made and its effects (account, what), in
/// Horizon's order.
struct OpOutcome {
    result: xdr::OperationResult,
    success: bool,
    fills: Vec<sdex::Fill>,
    taker_offer_id: Option<i64>,
    effects: Vec<(AccountId, EffectKind)>,
}

impl OpOutcome {
    fn ok(result: xdr::OperationResultTr, effects: Vec<(AccountId, EffectKind)>) -> OpOutcome {
        OpOutcome {
            result: xdr::OperationResult::OpInner(result),
            success: true,
            fills: Vec::new(),
            taker_offer_id: None,
            effects,
        }
    }

    fn failed(result: xdr::OperationResult) -> OpOutcome {
        OpOutcome { result, success: false, fills: Vec::new(), taker_offer_id: None, effects: Vec::new() }
    }

    fn failed_inner(result: xdr::OperationResultTr) -> OpOutcome {
        OpOutcome::failed(xdr::OperationResult::OpInner(result))
    }
}

impl Ledger {
    /// Genesis: ledger 1 is closed at time 0 with the root account holding all coins; ledger 2
    /// is open. The root's seed is SHA-256 of the passphrase (as stellar-core's standalone root).
    pub fn new(config: LedgerConfig) -> Ledger {
        assert!(config.base_reserve_stroops > 0 && config.base_fee_stroops > 0, "positive reserve and fee");
        assert!(config.total_coins_stroops > 0, "positive supply");
        let network = Network::from_passphrase(&config.network_passphrase);
        let root_seed: [u8; 32] = Sha256::digest(config.network_passphrase.as_bytes()).into();
        let root = Seed::from_bytes(root_seed).public_key();
        let mut accounts = BTreeMap::new();
        accounts.insert(root, AccountEntry::new(config.total_coins_stroops, 0));
        let state = State {
            accounts,
            trustlines: BTreeMap::new(),
            book: Book::new(),
            id_pool: 0,
            fee_pool: 0,
            base_reserve: config.base_reserve_stroops,
        };
        let genesis = LedgerRecord {
            sequence: GENESIS_LEDGER_SEQ,
            close_time: 0,
            successful_tx_count: 0,
            failed_tx_count: 0,
            operation_count: 0,
            total_coins_stroops: config.total_coins_stroops,
            fee_pool_stroops: 0,
            base_fee_stroops: config.base_fee_stroops,
            base_reserve_stroops: config.base_reserve_stroops,
        };
        let history = History { ledgers: vec![genesis], ..History::default() };
        Ledger {
            config,
            network,
            root_seed,
            root,
            state,
            ledger_seq: GENESIS_LEDGER_SEQ + 1,
            last_close_time: 0,
            now: 0,
            open_tx_count: 0,
            open_first_tx: 0,
            open_first_trade: 0,
            open_first_effect: 0,
            history,
        }
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The root account (holds the supply at genesis; friendbot's source).
    pub fn root(&self) -> AccountId {
        self.root
    }

    /// The open ledger's sequence number.
    pub fn ledger_seq(&self) -> u32 {
        self.ledger_seq
    }

    pub fn last_close_time(&self) -> u64 {
        self.last_close_time
    }

    pub fn account(&self, id: &AccountId) -> Option<&AccountEntry> {
        self.state.accounts.get(id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = (&AccountId, &AccountEntry)> {
        self.state.accounts.iter()
    }

    pub fn trustline(&self, account: &AccountId, asset: &Asset) -> Option<&TrustLine> {
        self.state.trustlines.get(&(*account, *asset))
    }

    /// An account's trustlines, in asset order.
    pub fn trustlines_of(&self, account: &AccountId) -> impl Iterator<Item = (&Asset, &TrustLine)> {
        let account = *account;
        self.state
            .trustlines
            .range((account, Asset::Native)..)
            .take_while(move |((a, _), _)| *a == account)
            .map(|((_, asset), line)| (asset, line))
    }

    /// The balance of `asset` held by `account` (issuers: `None`, they hold unlimited amounts).
    pub fn balance(&self, account: &AccountId, asset: &Asset) -> Option<i64> {
        if asset.is_native() {
            self.account(account).map(|a| a.balance)
        } else {
            self.trustline(account, asset).map(|l| l.balance)
        }
    }

    pub fn book(&self) -> &Book {
        &self.state.book
    }

    pub fn fee_pool_stroops(&self) -> i64 {
        self.state.fee_pool
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Seals the open ledger at `close_time` and opens the next. Records of the sealed ledger
    /// take its close time.
    pub fn close_ledger(&mut self, close_time: u64) -> &LedgerRecord {
        assert!(close_time >= self.now, "close time {close_time} is before a submission at {}", self.now);
        let (mut ok, mut failed, mut ops) = (0, 0, 0);
        for record in &mut self.history.transactions[self.open_first_tx..] {
            record.close_time = close_time;
            if record.successful {
                ok += 1;
            } else {
                failed += 1;
            }
            ops += record.operation_count;
        }
        for record in &mut self.history.trades[self.open_first_trade..] {
            record.close_time = close_time;
        }
        for record in &mut self.history.effects[self.open_first_effect..] {
            record.close_time = close_time;
        }
        self.history.ledgers.push(LedgerRecord {
            sequence: self.ledger_seq,
            close_time,
            successful_tx_count: ok,
            failed_tx_count: failed,
            operation_count: ops,
            total_coins_stroops: self.config.total_coins_stroops,
            fee_pool_stroops: self.state.fee_pool,
            base_fee_stroops: self.config.base_fee_stroops,
            base_reserve_stroops: self.config.base_reserve_stroops,
        });
        self.ledger_seq = self.ledger_seq.checked_add(1).expect("ledger sequence does not run out");
        self.last_close_time = close_time;
        self.now = close_time;
        self.open_tx_count = 0;
        self.open_first_tx = self.history.transactions.len();
        self.open_first_trade = self.history.trades.len();
        self.open_first_effect = self.history.effects.len();
        self.history.ledgers.last().expect("just pushed")
    }

    /// Friendbot: a CreateAccount of `amount` from the root, signed with the root's key and
    /// submitted like any transaction (it is in the history; the root pays the fee).
    pub fn fund(&mut self, account: &AccountId, amount: i64) -> Submission {
        let root_seq = self.state.account(&self.root).seq_num;
        let op = xdr::Operation {
            source_account: None,
            body: xdr::OperationBody::CreateAccount(xdr::CreateAccountOp {
                destination: account_to_xdr(account),
                starting_balance: amount,
            }),
        };
        let tx = xdr::Transaction {
            source_account: starlog_adapters::stellar::muxed_to_xdr(&self.root),
            fee: u32::try_from(self.config.base_fee_stroops).unwrap_or(u32::MAX),
            seq_num: xdr::SequenceNumber(root_seq + 1),
            cond: xdr::Preconditions::None,
            memo: xdr::Memo::None,
            operations: vec![op].try_into().expect("one operation"),
            ext: xdr::TransactionExt::V0,
        };
        let mut signer = SeedSigner::new(&Seed::from_bytes(self.root_seed), StoreKind::Env, "sim:root".into());
        let signed = stx::sign(tx, &self.network, &mut [&mut signer]).expect("an in-process key signs");
        let now = self.now;
        self.submit(&signed.to_xdr(), now).expect("a built envelope decodes")
    }

    /// Sets an account's signers, thresholds and AUTH_REQUIRED flag (a simulator control,
    /// standing in for SetOptions: no transaction, no fee).
    pub fn configure_account(&mut self, account: &AccountId, config: &AccountConfig) -> Result<(), ControlError> {
        let entry = self.state.accounts.get(account).ok_or(ControlError::NoAccount)?;
        let signers: BTreeMap<AccountId, u32> = config.signers.iter().map(|(k, w)| (*k, u32::from(*w))).collect();
        if signers.len() != config.signers.len()
            || signers.len() > SIGNERS_PER_ACCOUNT_MAX
            || signers.values().any(|w| *w == 0)
            || signers.contains_key(account)
        {
            return Err(ControlError::BadSigners);
        }
        let old = entry.signers.len() as u32;
        let new = signers.len() as u32;
        let subentries = entry.num_subentries - old + new;
        let mut probe = entry.clone();
        probe.num_subentries = subentries;
        if new > old && self.state.native_available(&probe) < 0 {
            return Err(ControlError::LowReserve);
        }
        let entry = self.state.account_mut(account);
        entry.num_subentries = subentries;
        entry.signers = signers;
        entry.thresholds = [config.master_weight, config.low_threshold, config.med_threshold, config.high_threshold];
        entry.flags =
            if config.auth_required { entry.flags | AUTH_REQUIRED_FLAG } else { entry.flags & !AUTH_REQUIRED_FLAG };
        Ok(())
    }

    /// Moves the source account's sequence number of `envelope` on by one, as a transaction
    /// from a competing submitter would have (a simulator control for the `bad_seq_pct`
    /// fault: no transaction, no fee). Does nothing to bytes that are not a v1 envelope from an
    /// existing account, or to a transaction already applied (its resubmission is answered
    /// from the history).
    pub fn skew_sequence(&mut self, envelope: &[u8]) {
        let Ok(xdr::TransactionEnvelope::Tx(v1)) = stx::decode_envelope(envelope) else { return };
        let source = muxed_from_xdr(&v1.tx.source_account);
        let Some(account) = self.state.accounts.get(&source) else { return };
        if v1.tx.seq_num.0 == account.seq_num + 1 {
            self.state.account_mut(&source).seq_num += 1;
        }
    }

    /// Authorizes or deauthorizes a trustline (a simulator control standing in for
    /// SetTrustLineFlags; offers of a deauthorized line stay on the book).
    pub fn set_authorized(&mut self, trustor: &AccountId, asset: &Asset, authorized: bool) -> Result<(), ControlError> {
        let line = self.state.trustlines.get_mut(&(*trustor, *asset)).ok_or(ControlError::NoTrustLine)?;
        line.authorized = authorized;
        Ok(())
    }

    /// Validates and applies a transaction envelope (XDR bytes) at `close_time` (the time of
    /// the ledger being built: time bounds are checked against it). `Err` when the bytes are not
    /// an envelope (Horizon's `transaction_malformed`).
    pub fn submit(&mut self, envelope: &[u8], close_time: u64) -> Result<Submission, DecodeError> {
        assert!(close_time >= self.last_close_time, "submission at {close_time} before the last close");
        let decoded = stx::decode_envelope(envelope)?;
        self.now = self.now.max(close_time);
        let hash = decoded.hash(self.network.id()).expect("hashing writes XDR to memory");
        let v1 = match &decoded {
            xdr::TransactionEnvelope::Tx(v1) => v1,
            xdr::TransactionEnvelope::TxV0(v0) => {
                return Ok(rejected(hash, i64::from(v0.tx.fee), xdr::TransactionResultResult::TxNotSupported));
            }
            xdr::TransactionEnvelope::TxFeeBump(bump) => {
                return Ok(rejected(hash, bump.tx.fee, xdr::TransactionResultResult::TxNotSupported));
            }
        };
        let fee_bid = i64::from(v1.tx.fee);
        match self.validate(v1, hash, close_time) {
            Err(code) => Ok(rejected(hash, fee_bid, code)),
            Ok(()) => Ok(self.apply(v1, envelope, hash, close_time)),
        }
    }

    /// stellar-core's `checkValid`: `commonValidPreSeqNum`, `commonValid`, each operation's
    /// `checkValid` (not for apply), then all signatures used.
    fn validate(
        &self,
        v1: &xdr::TransactionV1Envelope,
        hash: [u8; 32],
        close_time: u64,
    ) -> Result<(), xdr::TransactionResultResult> {
        use xdr::TransactionResultResult as R;
        let tx = &v1.tx;
        let ops = tx.operations.as_slice();
        if ops.is_empty() {
            return Err(R::TxMissingOperation);
        }
        let (time_bounds, ledger_bounds, min_seq_num) = match &tx.cond {
            xdr::Preconditions::None => (None, None, None),
            xdr::Preconditions::Time(tb) => (Some(tb), None, None),
            xdr::Preconditions::V2(v2) => {
                if v2.min_seq_age.0 != 0 || v2.min_seq_ledger_gap != 0 || !v2.extra_signers.is_empty() {
                    return Err(R::TxNotSupported);
                }
                (v2.time_bounds.as_ref(), v2.ledger_bounds.as_ref(), v2.min_seq_num.as_ref().map(|s| s.0))
            }
        };
        if time_bounds.is_some_and(|tb| tb.min_time.0 > close_time)
            || ledger_bounds.is_some_and(|lb| lb.min_ledger > self.ledger_seq)
        {
            return Err(R::TxTooEarly);
        }
        if time_bounds.is_some_and(|tb| tb.max_time.0 != 0 && tb.max_time.0 < close_time)
            || ledger_bounds.is_some_and(|lb| lb.max_ledger != 0 && lb.max_ledger <= self.ledger_seq)
        {
            return Err(R::TxTooLate);
        }
        let fee_bid = i64::from(tx.fee);
        if fee_bid < self.min_fee(ops.len()) {
            return Err(R::TxInsufficientFee);
        }
        let source = muxed_from_xdr(&tx.source_account);
        let Some(account) = self.state.accounts.get(&source) else {
            return Err(R::TxNoAccount);
        };
        let seq = tx.seq_num.0;
        let bad_seq = seq == i64::from(self.ledger_seq) << 32
            || match min_seq_num {
                Some(min) => account.seq_num < min || account.seq_num >= seq,
                None => account.seq_num == i64::MAX || account.seq_num + 1 != seq,
            };
        if bad_seq {
            return Err(R::TxBadSeq);
        }
        let signatures = v1.signatures.as_slice();
        let mut used = vec![false; signatures.len()];
        if !check_signature(
            &signers_of(&source, account),
            u32::from(account.thresholds[1]),
            signatures,
            &mut used,
            &hash,
        ) {
            return Err(R::TxBadAuth);
        }
        if self.state.native_available(account) < fee_bid {
            return Err(R::TxInsufficientBalance);
        }
        for (index, op) in ops.iter().enumerate() {
            if let Some(failure) = self.check_op(source, op, signatures, &mut used, &hash) {
                let mut results: Vec<xdr::OperationResult> =
                    ops.iter().map(|o| default_result(o.body.discriminant())).collect();
                results[index] = failure;
                return Err(R::TxFailed(results.try_into().expect("one result per operation")));
            }
        }
        if used.iter().any(|u| !u) {
            return Err(R::TxBadAuthExtra);
        }
        Ok(())
    }

    /// `OperationFrame::checkValid` for validation: supported, signed for its source, well
    /// formed. The failure, if any.
    fn check_op(
        &self,
        tx_source: AccountId,
        op: &xdr::Operation,
        signatures: &[xdr::DecoratedSignature],
        used: &mut [bool],
        hash: &[u8; 32],
    ) -> Option<xdr::OperationResult> {
        if !supported(&op.body) {
            return Some(xdr::OperationResult::OpNotSupported);
        }
        let source = op.source_account.as_ref().map_or(tx_source, muxed_from_xdr);
        match self.state.accounts.get(&source) {
            Some(account) => {
                // Every supported operation needs the medium threshold.
                let needed = u32::from(account.thresholds[2]);
                if !check_signature(&signers_of(&source, account), needed, signatures, used, hash) {
                    return Some(xdr::OperationResult::OpBadAuth);
                }
            }
            None if op.source_account.is_none() => return Some(xdr::OperationResult::OpNoAccount),
            // An operation source created earlier in the same transaction: its key must sign.
            None => {
                if !check_signature(&[(source, 0)], 0, signatures, used, hash) {
                    return Some(xdr::OperationResult::OpBadAuth);
                }
            }
        }
        check_op_form(source, &op.body)
    }

    fn min_fee(&self, ops: usize) -> i64 {
        self.config.base_fee_stroops.saturating_mul(ops.max(1) as i64)
    }

    /// Charges the fee, consumes the sequence number, applies the operations atomically, and
    /// records the transaction, its trades and (when it succeeds) its effects.
    fn apply(
        &mut self,
        v1: &xdr::TransactionV1Envelope,
        envelope: &[u8],
        hash: [u8; 32],
        close_time: u64,
    ) -> Submission {
        let tx = &v1.tx;
        let ops = tx.operations.as_slice();
        let source = muxed_from_xdr(&tx.source_account);
        // stellar-core charges min(bid, base fee × operations); validation checked the source
        // can pay its whole bid above its reserve.
        let fee = i64::from(tx.fee).min(self.min_fee(ops.len()));
        {
            let account = self.state.account_mut(&source);
            assert!(account.balance >= fee, "validation checked the fee is available");
            account.balance -= fee;
            account.seq_num = tx.seq_num.0;
            self.state.fee_pool += fee;
        }
        let ctx = TxContext { tx_source: source, ledger_seq: self.ledger_seq };
        // Every operation leaves the state unchanged when it fails, so a one-operation
        // transaction needs no copy to be atomic; longer ones restore this one on failure.
        let before = (ops.len() > 1).then(|| self.state.clone());
        let mut results = Vec::with_capacity(ops.len());
        let mut trades = Vec::new();
        let mut effects = Vec::new();
        let mut success = true;
        for (index, op) in ops.iter().enumerate() {
            let outcome = if success {
                // Every operation leaves the state unchanged when it fails (`manage_offer` too),
                // so later operations see the state before the failure, as in stellar-core.
                let outcome = apply_op(&mut self.state, &ctx, op);
                success = outcome.success;
                outcome
            } else {
                // stellar-core applies the operations after a failure too, each against the
                // state before the failure, and discards them.
                let mut scratch = self.state.clone();
                apply_op(&mut scratch, &ctx, op)
            };
            if success {
                let taker = op.source_account.as_ref().map_or(source, muxed_from_xdr);
                // Horizon's trade processor: a claim that moved nothing (core garbage-collects
                // an offer whose seller can no longer pay) is no trade; the others keep their
                // index among the claims as their order.
                for (trade_index, fill) in outcome.fills.iter().enumerate() {
                    if fill.amount_sold == 0 && fill.amount_bought == 0 {
                        continue;
                    }
                    trades.push(TradeRecord {
                        ledger: self.ledger_seq,
                        tx_order: self.open_tx_count + 1,
                        op_index: index as u32,
                        trade_index: trade_index as u32,
                        maker: fill.seller,
                        maker_offer_id: fill.offer_id,
                        taker,
                        taker_offer_id: outcome.taker_offer_id,
                        sold_asset: fill.asset_sold,
                        sold_amount: fill.amount_sold,
                        bought_asset: fill.asset_bought,
                        bought_amount: fill.amount_bought,
                        close_time,
                    });
                }
                for (effect_index, (account, kind)) in outcome.effects.into_iter().enumerate() {
                    effects.push(EffectRecord {
                        ledger: self.ledger_seq,
                        tx_order: self.open_tx_count + 1,
                        op_index: index as u32 + 1,
                        index: effect_index as u32 + 1,
                        account,
                        kind,
                        close_time,
                    });
                }
            }
            results.push(outcome.result);
        }
        let results: xdr::VecM<xdr::OperationResult> = results.try_into().expect("one result per operation");
        let code = if success {
            xdr::TransactionResultResult::TxSuccess(results)
        } else {
            if let Some(before) = before {
                self.state = before;
            }
            trades.clear();
            effects.clear();
            xdr::TransactionResultResult::TxFailed(results)
        };
        let result = xdr::TransactionResult { fee_charged: fee, result: code, ext: xdr::TransactionResultExt::V0 };
        let result_xdr = result.to_xdr(xdr::Limits::none()).expect("encoding to memory cannot fail");
        self.open_tx_count += 1;
        let order = self.open_tx_count;
        self.history.transactions.push(TxRecord {
            ledger: self.ledger_seq,
            order,
            hash,
            source,
            seq_num: tx.seq_num.0,
            max_fee_stroops: i64::from(tx.fee),
            fee_charged_stroops: fee,
            operation_count: ops.len() as u32,
            successful: success,
            envelope_xdr: envelope.to_vec(),
            result: result.clone(),
            result_xdr: result_xdr.clone(),
            close_time,
            participants: participants(&source, ops),
        });
        self.history.trades.extend(trades);
        self.history.effects.extend(effects);
        Submission {
            hash,
            disposition: Disposition::Applied { ledger: self.ledger_seq, order },
            result_base64: base64(&result_xdr),
            result,
            result_xdr,
            fee_charged_stroops: fee,
        }
    }

    /// The ledger's invariants: native coins conserved (balances + fee pool = total), balances
    /// and liabilities in range, liabilities equal to the sums over the owner's offers,
    /// subentry counts matching the entries, offers owned by existing accounts with trustlines.
    pub fn check_invariants(&self) -> Result<(), String> {
        let state = &self.state;
        let mut native: i128 = i128::from(state.fee_pool);
        let mut offers: BTreeMap<AccountId, u32> = BTreeMap::new();
        let mut lines: BTreeMap<AccountId, u32> = BTreeMap::new();
        // Liabilities each (account, asset) should carry: the sum over its resting offers.
        let mut owed: BTreeMap<(AccountId, Asset), (i64, i64)> = BTreeMap::new();
        for offer in state.book.iter() {
            if !state.accounts.contains_key(&offer.seller) || offer.amount <= 0 {
                return Err(format!("offer {} of {} is inconsistent", offer.id, offer.seller));
            }
            *offers.entry(offer.seller).or_default() += 1;
            let (selling, buying) = sdex::offer_liabilities(offer.amount, offer.price);
            for (asset, (s, b)) in [(offer.selling, (selling, 0)), (offer.buying, (0, buying))] {
                if State::is_issuer(&offer.seller, &asset) {
                    continue;
                }
                if !asset.is_native() && !state.trustlines.contains_key(&(offer.seller, asset)) {
                    return Err(format!("offer {} of {} without a trustline to {asset}", offer.id, offer.seller));
                }
                let entry = owed.entry((offer.seller, asset)).or_default();
                *entry = (entry.0.saturating_add(s), entry.1.saturating_add(b));
            }
        }
        for ((account, asset), line) in &state.trustlines {
            if !state.accounts.contains_key(account) {
                return Err(format!("trustline {asset} of missing account {account}"));
            }
            if line.balance < 0 || line.balance > line.limit {
                return Err(format!(
                    "trustline {asset} of {account}: balance {} outside 0..={}",
                    line.balance, line.limit
                ));
            }
            if line.selling_liabilities < 0
                || line.buying_liabilities < 0
                || line.selling_liabilities > line.balance
                || line.buying_liabilities > line.limit - line.balance
            {
                return Err(format!("trustline {asset} of {account}: liabilities out of range"));
            }
            if owed.get(&(*account, *asset)).copied().unwrap_or((0, 0))
                != (line.selling_liabilities, line.buying_liabilities)
            {
                return Err(format!("trustline {asset} of {account}: liabilities differ from its offers'"));
            }
            *lines.entry(*account).or_default() += 1;
        }
        for (id, account) in &state.accounts {
            if account.balance < 0 || account.selling_liabilities < 0 || account.buying_liabilities < 0 {
                return Err(format!("account {id}: negative balance or liabilities"));
            }
            if account.selling_liabilities > account.balance || account.buying_liabilities > i64::MAX - account.balance
            {
                return Err(format!("account {id}: liabilities out of range"));
            }
            if owed.get(&(*id, Asset::Native)).copied().unwrap_or((0, 0))
                != (account.selling_liabilities, account.buying_liabilities)
            {
                return Err(format!("account {id}: native liabilities differ from its offers'"));
            }
            native += i128::from(account.balance);
            let expected = lines.get(id).copied().unwrap_or(0)
                + offers.get(id).copied().unwrap_or(0)
                + account.data.len() as u32
                + account.signers.len() as u32;
            if account.num_subentries != expected {
                return Err(format!("account {id}: {} subentries, {expected} entries", account.num_subentries));
            }
        }
        if native != i128::from(self.config.total_coins_stroops) {
            return Err(format!("native coins {native} != total {}", self.config.total_coins_stroops));
        }
        Ok(())
    }
}

fn rejected(hash: [u8; 32], fee_bid: i64, code: xdr::TransactionResultResult) -> Submission {
    let result = xdr::TransactionResult { fee_charged: fee_bid, result: code, ext: xdr::TransactionResultExt::V0 };
    let result_xdr = result.to_xdr(xdr::Limits::none()).expect("encoding to memory cannot fail");
    Submission {
        hash,
        disposition: Disposition::Rejected,
        result_base64: base64(&result_xdr),
        result,
        result_xdr,
        fee_charged_stroops: 0,
    }
}

/// See [`TxRecord::participants`].
fn participants(source: &AccountId, ops: &[xdr::Operation]) -> Vec<AccountId> {
    let mut accounts = vec![*source];
    for op in ops {
        accounts.extend(op.source_account.as_ref().map(muxed_from_xdr));
        match &op.body {
            xdr::OperationBody::CreateAccount(create) => accounts.push(account_from_xdr(&create.destination)),
            xdr::OperationBody::Payment(payment) => accounts.push(muxed_from_xdr(&payment.destination)),
            _ => {}
        }
    }
    accounts.sort_unstable();
    accounts.dedup();
    accounts
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The account's signers in stellar-core's order: the master key (if its weight is not 0),
/// then the extra signers in key order.
fn signers_of(id: &AccountId, account: &AccountEntry) -> Vec<(AccountId, u32)> {
    let mut signers = Vec::with_capacity(1 + account.signers.len());
    if account.thresholds[0] > 0 {
        signers.push((*id, u32::from(account.thresholds[0])));
    }
    signers.extend(account.signers.iter().map(|(k, w)| (*k, *w)));
    signers
}

/// stellar-core's `SignatureChecker::checkSignature` for ed25519 signers: signatures in order,
/// each matched against the remaining signers by hint and verified over `hash`; a matching
/// signature is marked used and its signer's weight (capped at 255) counted once; true as soon
/// as the total reaches `needed` (so later signatures stay unused).
fn check_signature(
    signers: &[(AccountId, u32)],
    needed: u32,
    signatures: &[xdr::DecoratedSignature],
    used: &mut [bool],
    hash: &[u8; 32],
) -> bool {
    let mut remaining = signers.to_vec();
    let mut total = 0u32;
    for (index, signature) in signatures.iter().enumerate() {
        let Some(position) = remaining.iter().position(|(key, _)| signature_verifies(signature, key, hash)) else {
            continue;
        };
        used[index] = true;
        total += remaining[position].1.min(SIGNER_WEIGHT_MAX);
        if total >= needed {
            return true;
        }
        remaining.remove(position);
    }
    false
}

fn signature_verifies(signature: &xdr::DecoratedSignature, key: &AccountId, hash: &[u8; 32]) -> bool {
    if signature.hint.0 != stx::hint(key) {
        return false;
    }
    let Ok(bytes) = <[u8; 64]>::try_from(signature.signature.0.as_slice()) else {
        return false;
    };
    keys::verify(key, hash, &bytes)
}

fn supported(body: &xdr::OperationBody) -> bool {
    use xdr::OperationBody as B;
    match body {
        B::ChangeTrust(op) => !matches!(op.line, xdr::ChangeTrustAsset::PoolShare(_)),
        B::CreateAccount(_)
        | B::Payment(_)
        | B::ManageData(_)
        | B::ManageSellOffer(_)
        | B::ManageBuyOffer(_)
        | B::CreatePassiveSellOffer(_) => true,
        _ => false,
    }
}

/// What stellar-core leaves in the result of an operation that was not (or not yet) checked:
/// `opINNER` with the operation's type and a zero-initialized result (code 0, success).
fn default_result(kind: xdr::OperationType) -> xdr::OperationResult {
    let mut bytes = (kind as i32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0; 256]);
    let mut reader = xdr::Limited::new(std::io::Cursor::new(bytes), xdr::Limits::none());
    xdr::OperationResult::OpInner(
        xdr::OperationResultTr::read_xdr(&mut reader).expect("a zero result of every type decodes"),
    )
}

fn change_trust_asset(line: &xdr::ChangeTrustAsset) -> Option<xdr::Asset> {
    match line {
        xdr::ChangeTrustAsset::Native => Some(xdr::Asset::Native),
        xdr::ChangeTrustAsset::CreditAlphanum4(a) => Some(xdr::Asset::CreditAlphanum4(a.clone())),
        xdr::ChangeTrustAsset::CreditAlphanum12(a) => Some(xdr::Asset::CreditAlphanum12(a.clone())),
        xdr::ChangeTrustAsset::PoolShare(_) => None,
    }
}

/// The offer operation in the SDEX's terms; `None` when an asset is not canonical (malformed).
fn offer_op(body: &xdr::OperationBody) -> Option<Result<OfferOp, ()>> {
    let (kind, selling, buying, amount, price, offer_id) = match body {
        xdr::OperationBody::ManageSellOffer(op) => {
            (OfferOpKind::ManageSell, &op.selling, &op.buying, op.amount, &op.price, op.offer_id)
        }
        xdr::OperationBody::ManageBuyOffer(op) => {
            (OfferOpKind::ManageBuy, &op.selling, &op.buying, op.buy_amount, &op.price, op.offer_id)
        }
        xdr::OperationBody::CreatePassiveSellOffer(op) => {
            (OfferOpKind::CreatePassiveSell, &op.selling, &op.buying, op.amount, &op.price, 0)
        }
        _ => return None,
    };
    let (Ok(selling), Ok(buying)) = (asset_from_xdr(selling), asset_from_xdr(buying)) else {
        return Some(Err(()));
    };
    Some(Ok(OfferOp { kind, selling, buying, amount, price_n: price.n, price_d: price.d, offer_id }))
}

/// The result of a failed offer operation (`opEXCEEDED_WORK_LIMIT` is operation-level).
fn offer_failure_result(body: &xdr::OperationBody, failure: OfferFailure) -> xdr::OperationResult {
    use xdr::ManageBuyOfferResult as B;
    use xdr::ManageSellOfferResult as S;
    let sell = match failure {
        OfferFailure::ExceededWorkLimit => return xdr::OperationResult::OpExceededWorkLimit,
        OfferFailure::Malformed => S::Malformed,
        OfferFailure::SellNoTrust => S::SellNoTrust,
        OfferFailure::BuyNoTrust => S::BuyNoTrust,
        OfferFailure::SellNotAuthorized => S::SellNotAuthorized,
        OfferFailure::BuyNotAuthorized => S::BuyNotAuthorized,
        OfferFailure::LineFull => S::LineFull,
        OfferFailure::Underfunded => S::Underfunded,
        OfferFailure::CrossSelf => S::CrossSelf,
        OfferFailure::SellNoIssuer => S::SellNoIssuer,
        OfferFailure::BuyNoIssuer => S::BuyNoIssuer,
        OfferFailure::NotFound => S::NotFound,
        OfferFailure::LowReserve => S::LowReserve,
    };
    xdr::OperationResult::OpInner(match body {
        xdr::OperationBody::ManageSellOffer(_) => xdr::OperationResultTr::ManageSellOffer(sell),
        xdr::OperationBody::CreatePassiveSellOffer(_) => xdr::OperationResultTr::CreatePassiveSellOffer(sell),
        _ => xdr::OperationResultTr::ManageBuyOffer(match failure {
            OfferFailure::ExceededWorkLimit => unreachable!("returned above"),
            OfferFailure::Malformed => B::Malformed,
            OfferFailure::SellNoTrust => B::SellNoTrust,
            OfferFailure::BuyNoTrust => B::BuyNoTrust,
            OfferFailure::SellNotAuthorized => B::SellNotAuthorized,
            OfferFailure::BuyNotAuthorized => B::BuyNotAuthorized,
            OfferFailure::LineFull => B::LineFull,
            OfferFailure::Underfunded => B::Underfunded,
            OfferFailure::CrossSelf => B::CrossSelf,
            OfferFailure::SellNoIssuer => B::SellNoIssuer,
            OfferFailure::BuyNoIssuer => B::BuyNoIssuer,
            OfferFailure::NotFound => B::NotFound,
            OfferFailure::LowReserve => B::LowReserve,
        }),
    })
}

fn offer_entry(offer: &sdex::Offer) -> xdr::OfferEntry {
    xdr::OfferEntry {
        seller_id: account_to_xdr(&offer.seller),
        offer_id: offer.id,
        selling: asset_to_xdr(&offer.selling),
        buying: asset_to_xdr(&offer.buying),
        amount: offer.amount,
        price: xdr::Price { n: offer.price.n(), d: offer.price.d() },
        flags: if offer.passive { PASSIVE_FLAG } else { 0 },
        ext: xdr::OfferEntryExt::V0,
    }
}

fn offer_success_result(body: &xdr::OperationBody, success: &sdex::OfferSuccess) -> xdr::OperationResultTr {
    let claims: Vec<xdr::ClaimAtom> = success
        .fills
        .iter()
        .map(|fill| {
            xdr::ClaimAtom::OrderBook(xdr::ClaimOfferAtom {
                seller_id: account_to_xdr(&fill.seller),
                offer_id: fill.offer_id,
                asset_sold: asset_to_xdr(&fill.asset_sold),
                amount_sold: fill.amount_sold,
                asset_bought: asset_to_xdr(&fill.asset_bought),
                amount_bought: fill.amount_bought,
            })
        })
        .collect();
    let offer = match &success.effect {
        OfferEffect::Created(offer) => xdr::ManageOfferSuccessResultOffer::Created(offer_entry(offer)),
        OfferEffect::Updated(offer) => xdr::ManageOfferSuccessResultOffer::Updated(offer_entry(offer)),
        OfferEffect::Deleted => xdr::ManageOfferSuccessResultOffer::Deleted,
    };
    let result = xdr::ManageOfferSuccessResult {
        offers_claimed: claims.try_into().expect("claim atoms fit an XDR vector"),
        offer,
    };
    match body {
        xdr::OperationBody::ManageSellOffer(_) => {
            xdr::OperationResultTr::ManageSellOffer(xdr::ManageSellOfferResult::Success(result))
        }
        xdr::OperationBody::CreatePassiveSellOffer(_) => {
            xdr::OperationResultTr::CreatePassiveSellOffer(xdr::ManageSellOfferResult::Success(result))
        }
        _ => xdr::OperationResultTr::ManageBuyOffer(xdr::ManageBuyOfferResult::Success(result)),
    }
}

/// stellar-core's `isStringValid`: no control characters, nothing outside ASCII.
fn data_name_valid(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| *b >= 0x20 && *b < 0x7f)
}

/// Each operation's `doCheckValid`: malformed regardless of the ledger state. The failure,
/// if any.
fn check_op_form(source: AccountId, body: &xdr::OperationBody) -> Option<xdr::OperationResult> {
    use xdr::OperationResultTr as T;
    let inner = xdr::OperationResult::OpInner;
    match body {
        xdr::OperationBody::CreateAccount(op) => {
            if op.starting_balance < 0 || account_from_xdr(&op.destination) == source {
                return Some(inner(T::CreateAccount(xdr::CreateAccountResult::Malformed)));
            }
        }
        xdr::OperationBody::Payment(op) => {
            if op.amount <= 0 || asset_from_xdr(&op.asset).is_err() {
                return Some(inner(T::Payment(xdr::PaymentResult::Malformed)));
            }
        }
        xdr::OperationBody::ChangeTrust(op) => {
            let malformed = inner(T::ChangeTrust(xdr::ChangeTrustResult::Malformed));
            let asset = change_trust_asset(&op.line).and_then(|a| asset_from_xdr(&a).ok());
            match asset {
                _ if op.limit < 0 => return Some(malformed),
                None | Some(Asset::Native) => return Some(malformed),
                Some(asset) if State::is_issuer(&source, &asset) => return Some(malformed),
                Some(_) => {}
            }
        }
        xdr::OperationBody::ManageData(op) => {
            if !data_name_valid(op.data_name.0.as_slice()) {
                return Some(inner(T::ManageData(xdr::ManageDataResult::InvalidName)));
            }
        }
        _ => {
            let failure = match offer_op(body) {
                Some(Ok(op)) => match manage_offer(&mut Book::new(), &mut NoAccounts, &source, &op) {
                    Err(OfferFailure::Malformed) => Some(OfferFailure::Malformed),
                    _ => None,
                },
                Some(Err(())) => Some(OfferFailure::Malformed),
                None => None,
            };
            if let Some(failure) = failure {
                return Some(offer_failure_result(body, failure));
            }
        }
    }
    None
}

/// `OperationFrame::apply`: the source must exist, the operation be well formed, then
/// `doApply`. Failures leave `state` unchanged.
fn apply_op(state: &mut State, ctx: &TxContext, op: &xdr::Operation) -> OpOutcome {
    let source = op.source_account.as_ref().map_or(ctx.tx_source, muxed_from_xdr);
    if !state.accounts.contains_key(&source) {
        return OpOutcome::failed(xdr::OperationResult::OpNoAccount);
    }
    if let Some(result) = check_op_form(source, &op.body) {
        return OpOutcome::failed(result);
    }
    match &op.body {
        xdr::OperationBody::CreateAccount(body) => create_account(state, ctx, source, body),
        xdr::OperationBody::Payment(body) => payment(state, source, body),
        xdr::OperationBody::ChangeTrust(body) => change_trust(state, source, body),
        xdr::OperationBody::ManageData(body) => manage_data(state, source, body),
        body => {
            let Some(Ok(offer)) = offer_op(body) else { unreachable!("checked well formed and supported") };
            // The book moves out while the SDEX works on it and the entries.
            let mut book = std::mem::replace(&mut state.book, Book::new());
            let outcome = manage_offer(&mut book, state, &source, &offer);
            state.book = book;
            match outcome {
                Ok(success) => {
                    let taker_offer_id = match &success.effect {
                        OfferEffect::Created(o) | OfferEffect::Updated(o) => Some(o.id),
                        OfferEffect::Deleted => None,
                    };
                    OpOutcome {
                        result: xdr::OperationResult::OpInner(offer_success_result(body, &success)),
                        success: true,
                        effects: trade_effects(source, &success.fills),
                        fills: success.fills,
                        taker_offer_id,
                    }
                }
                Err(failure) => OpOutcome::failed(offer_failure_result(body, failure)),
            }
        }
    }
}

/// Horizon's `addIngestTradeEffects`: for each claim (except one that moved nothing), a
/// `trade` effect for the taker (`source`), then one for the maker, each from its own side.
fn trade_effects(source: AccountId, fills: &[sdex::Fill]) -> Vec<(AccountId, EffectKind)> {
    let mut effects = Vec::with_capacity(2 * fills.len());
    for fill in fills.iter().filter(|f| f.amount_sold != 0 || f.amount_bought != 0) {
        effects.push((
            source,
            EffectKind::Trade {
                seller: fill.seller,
                offer_id: fill.offer_id,
                sold_asset: fill.asset_bought,
                sold_amount: fill.amount_bought,
                bought_asset: fill.asset_sold,
                bought_amount: fill.amount_sold,
            },
        ));
        effects.push((
            fill.seller,
            EffectKind::Trade {
                seller: source,
                offer_id: fill.offer_id,
                sold_asset: fill.asset_sold,
                sold_amount: fill.amount_sold,
                bought_asset: fill.asset_bought,
                bought_amount: fill.amount_bought,
            },
        ));
    }
    effects
}

fn create_account(state: &mut State, ctx: &TxContext, source: AccountId, op: &xdr::CreateAccountOp) -> OpOutcome {
    use xdr::CreateAccountResult as C;
    let wrap = xdr::OperationResultTr::CreateAccount;
    let destination = account_from_xdr(&op.destination);
    if state.accounts.contains_key(&destination) {
        return OpOutcome::failed_inner(wrap(C::AlreadyExist));
    }
    if op.starting_balance < 2 * state.base_reserve {
        return OpOutcome::failed_inner(wrap(C::LowReserve));
    }
    if state.native_available(state.account(&source)) < op.starting_balance {
        return OpOutcome::failed_inner(wrap(C::Underfunded));
    }
    state.account_mut(&source).balance -= op.starting_balance;
    state.accounts.insert(destination, AccountEntry::new(op.starting_balance, i64::from(ctx.ledger_seq) << 32));
    let effects = vec![
        (destination, EffectKind::AccountCreated { starting_balance: op.starting_balance }),
        (source, EffectKind::AccountDebited { asset: Asset::Native, amount: op.starting_balance }),
        (destination, EffectKind::SignerCreated { public_key: destination, weight: SIGNER_WEIGHT_DEFAULT }),
    ];
    OpOutcome::ok(wrap(C::Success), effects)
}

/// A payment as stellar-core makes it (a path payment with an empty path): the destination is
/// credited first, then the source debited. The effects say so in that order, whatever moved
/// (a native payment to oneself moves nothing and still has both).
fn payment(state: &mut State, source: AccountId, op: &xdr::PaymentOp) -> OpOutcome {
    use xdr::PaymentResult as P;
    let fail = |code| OpOutcome::failed_inner(xdr::OperationResultTr::Payment(code));
    let asset = asset_from_xdr(&op.asset).expect("checked well formed");
    let destination = muxed_from_xdr(&op.destination);
    let amount = op.amount;
    let success = || {
        let effects = vec![
            (destination, EffectKind::AccountCredited { asset, amount }),
            (source, EffectKind::AccountDebited { asset, amount }),
        ];
        OpOutcome::ok(xdr::OperationResultTr::Payment(P::Success), effects)
    };
    if asset.is_native() && destination == source {
        return success();
    }
    let bypass_issuer_check = State::is_issuer(&destination, &asset);
    if !bypass_issuer_check && !state.accounts.contains_key(&destination) {
        return fail(P::NoDestination);
    }
    // The destination side.
    if asset.is_native() {
        let dest = state.account(&destination);
        match dest.balance.checked_add(amount) {
            Some(balance) if balance <= i64::MAX - dest.buying_liabilities => {}
            _ => return fail(P::LineFull),
        }
    } else if !State::is_issuer(&destination, &asset) {
        let Some(line) = state.trustlines.get(&(destination, asset)) else {
            return fail(P::NoTrust);
        };
        if !line.authorized {
            return fail(P::NotAuthorized);
        }
        match line.balance.checked_add(amount) {
            Some(balance) if balance <= line.limit - line.buying_liabilities => {}
            _ => return fail(P::LineFull),
        }
    }
    state.transfer(&destination, &asset, amount);
    // The source side, against the state with the destination credited (they may be the same).
    let source_failure = if asset.is_native() {
        (state.native_available(state.account(&source)) < amount).then_some(P::Underfunded)
    } else if State::is_issuer(&source, &asset) {
        None
    } else {
        match state.trustlines.get(&(source, asset)) {
            None => Some(P::SrcNoTrust),
            Some(line) if !line.authorized => Some(P::SrcNotAuthorized),
            Some(line) if line.balance - amount < line.selling_liabilities => Some(P::Underfunded),
            Some(_) => None,
        }
    };
    if let Some(code) = source_failure {
        state.transfer(&destination, &asset, -amount);
        return fail(code);
    }
    state.transfer(&source, &asset, -amount);
    success()
}

fn change_trust(state: &mut State, source: AccountId, op: &xdr::ChangeTrustOp) -> OpOutcome {
    use xdr::ChangeTrustResult as C;
    let wrap = xdr::OperationResultTr::ChangeTrust;
    let asset = change_trust_asset(&op.line).and_then(|a| asset_from_xdr(&a).ok()).expect("checked well formed");
    let key = (source, asset);
    if let Some(line) = state.trustlines.get_mut(&key) {
        // A limit below what the line holds or is committed to buy is invalid.
        if op.limit < line.balance.saturating_add(line.buying_liabilities) {
            return OpOutcome::failed_inner(wrap(C::InvalidLimit));
        }
        let effect = if op.limit == 0 {
            state.trustlines.remove(&key);
            state.add_subentries(&source, -1);
            EffectKind::TrustlineRemoved { asset, limit: op.limit }
        } else {
            line.limit = op.limit;
            EffectKind::TrustlineUpdated { asset, limit: op.limit }
        };
        return OpOutcome::ok(wrap(C::Success), vec![(source, effect)]);
    }
    if op.limit == 0 {
        return OpOutcome::failed_inner(wrap(C::InvalidLimit));
    }
    let issuer = asset.issuer().expect("credit asset");
    let Some(issuer_entry) = state.accounts.get(&issuer) else {
        return OpOutcome::failed_inner(wrap(C::NoIssuer));
    };
    let authorized = issuer_entry.flags & AUTH_REQUIRED_FLAG == 0;
    match state.subentry_room(&source) {
        Err(SubentryError::TooMany) => return OpOutcome::failed(xdr::OperationResult::OpTooManySubentries),
        Err(SubentryError::LowReserve) => return OpOutcome::failed_inner(wrap(C::LowReserve)),
        Ok(()) => {}
    }
    state.trustlines.insert(
        key,
        TrustLine { balance: 0, limit: op.limit, authorized, selling_liabilities: 0, buying_liabilities: 0 },
    );
    state.add_subentries(&source, 1);
    OpOutcome::ok(wrap(C::Success), vec![(source, EffectKind::TrustlineCreated { asset, limit: op.limit })])
}

fn manage_data(state: &mut State, source: AccountId, op: &xdr::ManageDataOp) -> OpOutcome {
    use xdr::ManageDataResult as M;
    let wrap = xdr::OperationResultTr::ManageData;
    let name = op.data_name.0.as_slice().to_vec();
    // Checked valid (printable ASCII), so the conversion is exact.
    let effect_name = String::from_utf8_lossy(&name).into_owned();
    let exists = state.account(&source).data.contains_key(&name);
    let effect = match &op.data_value {
        Some(value) => {
            if !exists {
                match state.subentry_room(&source) {
                    Err(SubentryError::TooMany) => return OpOutcome::failed(xdr::OperationResult::OpTooManySubentries),
                    Err(SubentryError::LowReserve) => return OpOutcome::failed_inner(wrap(M::LowReserve)),
                    Ok(()) => state.add_subentries(&source, 1),
                }
            }
            let value = value.0.as_slice().to_vec();
            state.account_mut(&source).data.insert(name, value.clone());
            if exists {
                EffectKind::DataUpdated { name: effect_name, value }
            } else {
                EffectKind::DataCreated { name: effect_name, value }
            }
        }
        None => {
            if !exists {
                return OpOutcome::failed_inner(wrap(M::NameNotFound));
            }
            state.account_mut(&source).data.remove(&name);
            state.add_subentries(&source, -1);
            EffectKind::DataRemoved { name: effect_name }
        }
    };
    OpOutcome::ok(wrap(M::Success), vec![(source, effect)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_type_has_a_zero_result() {
        for kind in xdr::OperationType::VARIANTS {
            let xdr::OperationResult::OpInner(tr) = default_result(kind) else { panic!("{kind:?}") };
            assert_eq!(tr.discriminant(), kind);
        }
    }

    #[test]
    fn toids_are_horizons() {
        assert_eq!(toid(2, 1, 0), 8_589_938_688);
        assert_eq!(toid(123, 5, 3), (123 << 32) | (5 << 12) | 3);
    }
}
