//! Input events: everything the engine is told, in the form they are journaled. These are wire
//! types (rkyv archives read in place from the journal) with primitive fields — stroops as
//! `i64`, prices as `n`/`d`, assets as code and issuer bytes — not domain types: the engine
//! converts each field into its domain type (with validation) when it applies an event, so a
//! value in the journal can never bypass a domain invariant.
//!
//! Each input is one journal record whose kind is [`Input::kind`]; the kinds are stable.
//! Adapters build these from Horizon responses, transaction results, operator commands, timers
//! and their own security observations; the engine never sees anything else.

use rkyv::{Archive, Deserialize, Serialize};

use crate::asset::{AccountId, Asset, AssetCode4, AssetCode12, Pair};
use crate::error::ParseError;
use crate::price::Price;

/// Journal record kinds of input events (stable; never renumbered).
pub mod kind {
    pub const SESSION_START: u16 = 1;
    pub const BOOK: u16 = 2;
    pub const TRADE: u16 = 3;
    pub const ACCOUNT: u16 = 4;
    pub const TX_SUBMITTED: u16 = 5;
    pub const TX_SUCCEEDED: u16 = 6;
    pub const TX_FAILED: u16 = 7;
    pub const TX_EXPIRED: u16 = 8;
    pub const OPERATOR: u16 = 9;
    pub const TIMER: u16 = 10;
    pub const SECURITY: u16 = 11;
}

/// An asset on the wire: `code` all zero means native; otherwise the code's bytes, zero-padded
/// (1–4 significant bytes: alphanum4; 5–12: alphanum12), and the issuer's public key.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct WireAsset {
    pub code: [u8; 12],
    pub issuer: [u8; 32],
}

impl From<Asset> for WireAsset {
    fn from(asset: Asset) -> WireAsset {
        let mut code = [0u8; 12];
        let issuer = match asset {
            Asset::Native => return WireAsset { code, issuer: [0; 32] },
            Asset::CreditAlphanum4 { code: c, issuer } => {
                code[..4].copy_from_slice(&c.to_xdr_bytes());
                issuer
            }
            Asset::CreditAlphanum12 { code: c, issuer } => {
                code = c.to_xdr_bytes();
                issuer
            }
        };
        WireAsset { code, issuer: *issuer.as_bytes() }
    }
}

impl ArchivedWireAsset {
    /// The domain asset, validated (code characters, length, padding).
    pub fn to_asset(&self) -> Result<Asset, ParseError> {
        WireAsset { code: self.code, issuer: self.issuer }.to_asset()
    }
}

impl WireAsset {
    /// The domain asset, validated (code characters, length, padding).
    pub fn to_asset(&self) -> Result<Asset, ParseError> {
        let code = self.code;
        let issuer = AccountId::from_bytes(self.issuer);
        if code == [0u8; 12] {
            return Ok(Asset::Native);
        }
        let significant = code.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if significant <= 4 {
            let mut four = [0u8; 4];
            four.copy_from_slice(&code[..4]);
            Ok(Asset::CreditAlphanum4 { code: AssetCode4::from_xdr_bytes(four)?, issuer })
        } else {
            Ok(Asset::CreditAlphanum12 { code: AssetCode12::from_xdr_bytes(code)?, issuer })
        }
    }
}

/// A price on the wire: `n/d`, validated into a [`Price`] when applied.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct WirePrice {
    pub n: i32,
    pub d: i32,
}

impl From<Price> for WirePrice {
    fn from(p: Price) -> WirePrice {
        WirePrice { n: p.n(), d: p.d() }
    }
}

impl ArchivedWirePrice {
    #[inline]
    pub fn to_price(&self) -> Result<Price, ParseError> {
        Price::new(self.n.to_native(), self.d.to_native())
    }
}

/// A traded pair, as configured for the session (events refer to it by its index).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct WirePair {
    pub selling: WireAsset,
    pub buying: WireAsset,
}

impl From<Pair> for WirePair {
    fn from(p: Pair) -> WirePair {
        WirePair { selling: p.selling().into(), buying: p.buying().into() }
    }
}

impl ArchivedWirePair {
    pub fn to_pair(&self) -> Result<Pair, ParseError> {
        Pair::new(self.selling.to_asset()?, self.buying.to_asset()?)
    }
}

/// One price level of an order book.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Level {
    /// Counter (buying asset) per unit of base (selling asset), as Horizon's `price_r`.
    pub price: WirePrice,
    /// Amount of base at this level, in stroops.
    pub amount_stroops: i64,
}

/// Every input the engine accepts.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum Input {
    SessionStart(SessionStart),
    Book(BookSnapshot),
    Trade(Trade),
    Account(AccountSnapshot),
    TxSubmitted(TxSubmitted),
    TxSucceeded(TxSucceeded),
    TxFailed(TxFailed),
    TxExpired(TxExpired),
    Operator(OperatorCommand),
    Timer(Timer),
    Security(SecurityEvent),
}

impl Input {
    /// The journal record kind for this input.
    pub fn kind(&self) -> u16 {
        match self {
            Input::SessionStart(_) => kind::SESSION_START,
            Input::Book(_) => kind::BOOK,
            Input::Trade(_) => kind::TRADE,
            Input::Account(_) => kind::ACCOUNT,
            Input::TxSubmitted(_) => kind::TX_SUBMITTED,
            Input::TxSucceeded(_) => kind::TX_SUCCEEDED,
            Input::TxFailed(_) => kind::TX_FAILED,
            Input::TxExpired(_) => kind::TX_EXPIRED,
            Input::Operator(_) => kind::OPERATOR,
            Input::Timer(_) => kind::TIMER,
            Input::Security(_) => kind::SECURITY,
        }
    }
}

/// The first record of a session: the configuration in force and where it came from.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct SessionStart {
    /// SHA-256 of `config`, as the operator can recompute it from the file.
    pub config_hash: [u8; 32],
    /// The configuration text (TOML) exactly as loaded; never contains secrets (key URIs only).
    pub config: String,
    /// `SecurityLevel` code (DEVELOPMENT=1 … PRODUCTION=4).
    pub security_level: u8,
    /// `ValidationLevel` code (BASIC=1 … PARANOID=4).
    pub validation_level: u8,
    /// Seed for any randomness a strategy uses.
    pub seed: u64,
    /// Our trading account.
    pub account: [u8; 32],
    /// The traded pairs; other events name a pair by its index here.
    pub pairs: Vec<WirePair>,
}

/// An order-book snapshot for one pair (Horizon `/order_book`, or a frame of its stream).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct BookSnapshot {
    pub pair: u16,
    /// Best first: bids by price descending.
    pub bids: Vec<Level>,
    /// Best first: asks by price ascending.
    pub asks: Vec<Level>,
}

/// A trade on a pair (Horizon `/trades`), possibly against one of our offers.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Trade {
    pub pair: u16,
    /// Horizon's paging token `TOID-INDEX` as `TOID << 32 | INDEX`: unique, increasing per stream.
    pub id: u128,
    /// The ledger the trade happened in.
    pub ledger: u32,
    pub ledger_close_time: i64,
    /// Counter per base.
    pub price: WirePrice,
    pub base_amount_stroops: i64,
    pub counter_amount_stroops: i64,
    /// The base side sold (the base offer was the maker selling base).
    pub base_is_seller: bool,
    /// Offer ids of either side; 0 when that side is a liquidity pool or has no offer.
    pub base_offer_id: i64,
    pub counter_offer_id: i64,
    pub base_account: [u8; 32],
    pub counter_account: [u8; 32],
}

/// One balance line of an account.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Balance {
    pub asset: WireAsset,
    pub balance_stroops: i64,
    pub buying_liabilities_stroops: i64,
    pub selling_liabilities_stroops: i64,
    /// Trustline limit (`i64::MAX` for native).
    pub limit_stroops: i64,
}

/// One of our offers as Horizon lists it.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct OfferSnapshot {
    pub offer_id: i64,
    pub selling: WireAsset,
    pub buying: WireAsset,
    pub amount_stroops: i64,
    /// Buying per selling.
    pub price: WirePrice,
}

/// Our account's state (Horizon `/accounts/{id}` and `/accounts/{id}/offers`).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct AccountSnapshot {
    pub account: [u8; 32],
    /// The ledger the snapshot reflects (Horizon's `Latest-Ledger` when it was read): results of
    /// later ledgers are not in it.
    pub ledger: u32,
    pub sequence: i64,
    pub subentry_count: u32,
    pub num_sponsoring: u32,
    pub num_sponsored: u32,
    /// The network's base reserve at the time, in stroops (0.5 XLM on pubnet today).
    pub base_reserve_stroops: i64,
    pub balances: Vec<Balance>,
    pub offers: Vec<OfferSnapshot>,
}

/// A transaction carrying one of our intents was signed and sent to the network.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct TxSubmitted {
    pub intent: u64,
    pub hash: [u8; 32],
    pub sequence: i64,
    pub max_time: u64,
    pub fee_stroops: i64,
    /// The public key that signed it (all zero: nothing was signed, a simulated submission).
    pub signed_by: [u8; 32],
    /// The kind of store that holds that key: a [`key_store`] code.
    pub key_store: u8,
}

/// Codes of the kinds of key store a transaction is signed from ([`TxSubmitted::key_store`]).
/// Stable: journaled.
pub mod key_store {
    /// Not signed (a backtest's simulated submission).
    pub const NONE: u8 = 0;
    /// A seed in an environment variable (development and testing only).
    pub const ENV: u8 = 1;
    /// An encrypted key file.
    pub const FILE: u8 = 2;
    /// A PKCS#11 token (an HSM).
    pub const PKCS11: u8 = 3;
    /// A Vault (OpenBao) transit key.
    pub const VAULT: u8 = 4;

    /// The store's name, as key URIs spell it.
    pub const fn name(code: u8) -> &'static str {
        match code {
            NONE => "none",
            ENV => "env",
            FILE => "file",
            PKCS11 => "pkcs11",
            VAULT => "vault",
            _ => "unknown",
        }
    }
}

/// What a ManageOffer operation did to the offer it named or created.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
#[repr(u8)]
pub enum OfferEffect {
    /// A new offer rests on the book (`ManageOfferSuccessResult.offer = Created`).
    Created = 0,
    /// An existing offer was modified and rests (`Updated`).
    Updated = 1,
    /// No offer rests: it was cancelled, or filled completely on arrival (`Deleted`).
    Deleted = 2,
}

/// An offer of someone else's that our operation crossed (XDR `ClaimAtom`), from that
/// offer's owner's point of view: they sold `asset_sold` and bought `asset_bought`.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Claim {
    /// The offer's owner (all zero for a liquidity pool).
    pub seller: [u8; 32],
    pub offer_id: i64,
    pub asset_sold: WireAsset,
    pub amount_sold_stroops: i64,
    pub asset_bought: WireAsset,
    pub amount_bought_stroops: i64,
}

/// The result of one ManageSellOffer/ManageBuyOffer/CreatePassiveSellOffer operation.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct OpResult {
    pub effect: OfferEffect,
    /// The offer's id (assigned by the network for `Created`; 0 for `Deleted` of a new offer).
    pub offer_id: i64,
    /// Amount still resting after the operation, in stroops of the selling asset.
    pub remaining_stroops: i64,
    pub claims: Vec<Claim>,
}

/// A transaction of ours was applied.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct TxSucceeded {
    pub intent: u64,
    pub hash: [u8; 32],
    pub ledger: u32,
    pub fee_charged_stroops: i64,
    /// One result per operation, in order.
    pub ops: Vec<OpResult>,
}

/// A transaction of ours failed (it consumed its sequence number only if it reached a ledger).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct TxFailed {
    pub intent: u64,
    pub hash: [u8; 32],
    /// XDR `TransactionResultCode` (e.g. -5 `txBAD_SEQ`, -1 `txFAILED`).
    pub tx_code: i32,
    /// XDR operation result codes, one per operation when `tx_code` is `txFAILED`
    /// (e.g. ManageSellOffer -7 `UNDERFUNDED`, -8 `CROSS_SELF`, -11 `NOT_FOUND`).
    pub op_codes: Vec<i32>,
}

/// A transaction of ours can no longer be included: its max time has passed.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct TxExpired {
    pub intent: u64,
    pub hash: [u8; 32],
}

/// An operator's command, with who issued it.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct OperatorCommand {
    pub operator: String,
    pub command: Command,
}

#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum Command {
    /// Stop placing orders; resting ones stay.
    Halt,
    Resume,
    /// Cancel every offer of ours.
    CancelAll,
    /// Set a risk limit (by its stable limit code) to a value in the limit's unit.
    SetLimit {
        limit: u16,
        value: i64,
    },
    /// Set the validation level (BASIC=1 … PARANOID=4).
    SetValidationLevel {
        level: u8,
    },
    /// Acknowledge an incident by its id.
    AcknowledgeIncident {
        incident: u64,
    },
    /// Lift a P0 lockdown (admin only).
    Unlock,
}

/// A timer tick: time advances to the record's timestamp (throttles refill, TWAP slices fire).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct Timer {}

/// Something an adapter observed that bears on security.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum SecurityEvent {
    /// A signer failed to sign (HSM error, Vault unreachable, wrong PIN).
    SignerFailure { store: String },
    /// A signer or key store reports its key may be exposed.
    SignerCompromise { store: String },
    /// An operator authentication failed.
    AuthFailure { operator: String },
    /// The signing policy refused to sign an intent.
    PolicyViolation { intent: u64, rule: u16 },
    /// A transaction from our account that we did not build.
    UnexpectedTransaction { hash: [u8; 32] },
    /// An offer on our account we did not place.
    UnknownOffer { offer_id: i64 },
    /// A balance changed in a way none of our transactions explains.
    UnexplainedBalanceChange { asset: WireAsset, delta_stroops: i64 },
    /// Horizon rate-limited us.
    RateLimited { retry_after_ms: u32 },
}

/// The wire format of journaled records: the archived layout of [`Input`] and of
/// [`crate::outputs::OutputRecord`]. Any change to either layout bumps it. A session directory
/// names the format its journals hold (`starlog_adapters::core_loop::WIRE_FILE`), and a build
/// refuses to read or append to a session of another: rkyv would read its bytes with the wrong
/// layout.
pub const WIRE_VERSION: u32 = 1;

/// Serialize an input for the journal (allocates; the core loop reuses a buffer instead).
pub fn to_bytes(input: &Input) -> Result<rkyv::util::AlignedVec, rkyv::rancor::Error> {
    rkyv::to_bytes::<rkyv::rancor::Error>(input)
}

/// Serialize an input into a reused buffer (cleared first): the core loop's path.
pub fn to_bytes_in(
    input: &Input,
    mut buf: rkyv::util::AlignedVec,
) -> Result<rkyv::util::AlignedVec, rkyv::rancor::Error> {
    buf.clear();
    rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(input, buf)
}

/// Read an input in place from journal payload bytes (16-byte aligned), validating the archive.
pub fn access(bytes: &[u8]) -> Result<&ArchivedInput, rkyv::rancor::Error> {
    rkyv::access::<ArchivedInput, rkyv::rancor::Error>(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Asset {
        "USD:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN".parse().unwrap()
    }

    fn samples() -> Vec<Input> {
        let pair: Pair = "native/USD:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN".parse().unwrap();
        let level = Level { price: WirePrice { n: 617, d: 5000 }, amount_stroops: 1_000_000_000 };
        vec![
            Input::SessionStart(SessionStart {
                config_hash: [7; 32],
                config: "[risk]\norder_amount_stroops_max = 1\n".into(),
                security_level: 2,
                validation_level: 3,
                seed: 42,
                account: [9; 32],
                pairs: vec![pair.into()],
            }),
            Input::Book(BookSnapshot { pair: 0, bids: vec![level; 3], asks: vec![level] }),
            Input::TxSucceeded(TxSucceeded {
                intent: 5,
                hash: [1; 32],
                ledger: 99,
                fee_charged_stroops: 100,
                ops: vec![OpResult {
                    effect: OfferEffect::Created,
                    offer_id: 12345,
                    remaining_stroops: 10,
                    claims: vec![Claim {
                        seller: [3; 32],
                        offer_id: 77,
                        asset_sold: usd().into(),
                        amount_sold_stroops: 5,
                        asset_bought: Asset::Native.into(),
                        amount_bought_stroops: 6,
                    }],
                }],
            }),
            Input::TxFailed(TxFailed { intent: 6, hash: [2; 32], tx_code: -1, op_codes: vec![-7] }),
            Input::Operator(OperatorCommand {
                operator: "alice".into(),
                command: Command::SetLimit { limit: 3, value: -1 },
            }),
            Input::Timer(Timer {}),
            Input::Security(SecurityEvent::UnknownOffer { offer_id: 4 }),
        ]
    }

    #[test]
    fn inputs_round_trip_and_read_in_place() {
        for input in samples() {
            let bytes = to_bytes(&input).unwrap();
            let archived = access(&bytes).unwrap();
            let back: Input = rkyv::deserialize::<Input, rkyv::rancor::Error>(archived).unwrap();
            assert_eq!(back, input);
        }
    }

    #[test]
    fn wire_assets_and_prices_convert_back_with_validation() {
        for asset in [
            Asset::Native,
            usd(),
            "LONGERCODE12:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN".parse().unwrap(),
        ] {
            let w = WireAsset::from(asset);
            let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&w).unwrap();
            let a = rkyv::access::<ArchivedWireAsset, rkyv::rancor::Error>(&bytes).unwrap();
            assert_eq!(a.to_asset().unwrap(), asset);
        }
        let bad = WireAsset { code: *b"U$D\0\0\0\0\0\0\0\0\0", issuer: [0; 32] };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&bad).unwrap();
        assert!(rkyv::access::<ArchivedWireAsset, rkyv::rancor::Error>(&bytes).unwrap().to_asset().is_err());
        let zero = rkyv::to_bytes::<rkyv::rancor::Error>(&WirePrice { n: 1, d: 0 }).unwrap();
        assert!(rkyv::access::<ArchivedWirePrice, rkyv::rancor::Error>(&zero).unwrap().to_price().is_err());
    }

    #[test]
    fn garbage_is_refused_not_misread() {
        let bytes = to_bytes(&samples()[2]).unwrap();
        let mut aligned = rkyv::util::AlignedVec::<16>::new();
        aligned.extend_from_slice(&bytes[..bytes.len() / 2]);
        assert!(access(&aligned).is_err());
        assert!(access(&[]).is_err());
    }

    #[test]
    fn kinds_are_stable() {
        let kinds: Vec<u16> = samples().iter().map(Input::kind).collect();
        assert_eq!(kinds, vec![1, 2, 6, 7, 9, 10, 11]);
    }
}
