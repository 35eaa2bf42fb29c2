//! The venue: one [`Ledger`] plus its clock, friendbot and the ledger-close cadence, sans IO.
//!
//! The HTTP front ([`crate::server`]) holds a `Venue` behind a lock and calls it; everything
//! that decides what the ledger contains happens here, so a venue driven with the same calls
//! produces the same ledgers whatever thread or timer drove it.
//!
//! # Time
//!
//! Ledger close times are virtual and fixed in advance: the `k`-th close (k = 1, 2, …) happens
//! at `start_time + k × period` seconds, period = `ledger_ms` (or 1 s when ledgers close by
//! hand, `ledger_ms = 0`). Wall-clock time only decides *when* the server triggers a close, never
//! *what time* a ledger carries. A submission is applied into the open ledger at that ledger's
//! future close time, so a record's `created_at` never changes once it is visible, and two
//! venues fed the same submissions between the same closes are identical.

use std::collections::HashMap;

use starlog_adapters::stellar::tx::DecodeError;
use starlog_engine::AccountId;

use crate::ledger::{Disposition, Ledger, LedgerConfig, Submission};
use crate::market::{Market, MarketConfig, MarketError};

/// Friendbot's grant, as on testnet: 10 000 XLM.
pub const FRIENDBOT_STROOPS_DEFAULT: i64 = 10_000 * 10_000_000;
/// Ledger cadence of a real network.
pub const LEDGER_MS_DEFAULT: u64 = 5000;

/// How the venue is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueConfig {
    pub ledger: LedgerConfig,
    /// Ledger close period; 0 = ledgers close only when [`Venue::close_ledger`] is called by
    /// an operator (the server's `POST /_sim/close`), each one virtual second after the last.
    pub ledger_ms: u64,
    /// Unix seconds of genesis (ledger 1's close).
    pub start_time: u64,
    pub friendbot_stroops: i64,
    /// Background traders ([`crate::market`]); `None` for an empty venue.
    pub market: Option<MarketConfig>,
}

impl VenueConfig {
    /// A venue on the standalone network starting at `start_time`.
    pub fn new(start_time: u64) -> VenueConfig {
        VenueConfig {
            ledger: LedgerConfig::default(),
            ledger_ms: LEDGER_MS_DEFAULT,
            start_time,
            friendbot_stroops: FRIENDBOT_STROOPS_DEFAULT,
            market: None,
        }
    }

    /// The virtual length of one ledger, in milliseconds.
    pub fn period_ms(&self) -> u64 {
        if self.ledger_ms == 0 { 1000 } else { self.ledger_ms }
    }
}

/// Why friendbot refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FriendbotError {
    /// The account exists already (Horizon's friendbot answers 400 `op_already_exists`).
    AlreadyFunded(Box<Submission>),
}

/// See the module doc. `Clone` forks the whole venue (ledger, market, clock).
#[derive(Clone, Debug)]
pub struct Venue {
    config: VenueConfig,
    ledger: Ledger,
    /// Ledgers closed since genesis.
    closes: u64,
    /// Bumped on every change of ledger state (a submission or a close): streams wait on it.
    version: u64,
    /// Hash → index in the history's transactions, for the first `indexed` of them.
    applied: HashMap<[u8; 32], usize>,
    indexed: usize,
    market: Option<Market>,
}

impl Venue {
    /// Genesis, then the market's setup transactions (its accounts, trustlines and asset) in
    /// ledger 2 when a market is configured.
    pub fn new(config: VenueConfig) -> Result<Venue, MarketError> {
        let ledger = Ledger::new(config.ledger.clone());
        let mut venue =
            Venue { config, ledger, closes: 0, version: 0, applied: HashMap::new(), indexed: 0, market: None };
        if let Some(market) = venue.config.market.clone() {
            let at = venue.open_close_time();
            venue.market = Some(Market::new(market, &mut venue.ledger, at)?);
        }
        Ok(venue)
    }

    /// The background market, when configured.
    pub fn market(&self) -> Option<&Market> {
        self.market.as_ref()
    }

    /// Pays `amount` of the market's asset to `account` (which must trust it): the venue's
    /// friendbot for the credit side.
    pub fn grant(&mut self, account: &AccountId, amount_stroops: i64) -> Result<Submission, MarketError> {
        let at = self.open_close_time();
        let market = self.market.as_mut().ok_or_else(|| MarketError::Config("this venue runs no market".into()))?;
        let submission = market.grant(&mut self.ledger, account, amount_stroops, at)?;
        self.version += 1;
        Ok(submission)
    }

    pub fn config(&self) -> &VenueConfig {
        &self.config
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The ledger itself, for setup outside the HTTP API (tests, the market generator).
    /// Callers must submit at [`Venue::open_close_time`] and call [`Venue::touch`] after.
    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// Marks a change made through [`Venue::ledger_mut`].
    pub fn touch(&mut self) {
        self.version += 1;
    }

    /// A counter bumped by every state change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The last closed ledger's sequence.
    pub fn latest_ledger(&self) -> u32 {
        self.ledger.ledger_seq() - 1
    }

    /// The close time the open ledger will have.
    pub fn open_close_time(&self) -> u64 {
        self.close_time_of(self.closes + 1)
    }

    fn close_time_of(&self, close: u64) -> u64 {
        self.config.start_time + close * self.config.period_ms() / 1000
    }

    /// Applies an envelope (XDR bytes) into the open ledger.
    ///
    /// A transaction already in the history (a client resubmitting after a timeout) gets its
    /// recorded result again, as Horizon answers a resubmission from its database, instead of
    /// the `txBAD_SEQ` that applying it twice would give.
    pub fn submit(&mut self, envelope: &[u8]) -> Result<Submission, DecodeError> {
        let at = self.open_close_time();
        let submission = self.ledger.submit(envelope, at)?;
        if submission.applied() {
            self.version += 1;
            return Ok(submission);
        }
        Ok(self.recorded(&submission.hash).unwrap_or(submission))
    }

    /// The submission of an applied transaction, from the history.
    pub fn recorded(&mut self, hash: &[u8; 32]) -> Option<Submission> {
        let transactions = &self.ledger.history().transactions;
        for (index, record) in transactions.iter().enumerate().skip(self.indexed) {
            self.applied.insert(record.hash, index);
        }
        self.indexed = transactions.len();
        let record = &transactions[*self.applied.get(hash)?];
        Some(Submission {
            hash: record.hash,
            disposition: Disposition::Applied { ledger: record.ledger, order: record.order },
            result: record.result.clone(),
            result_xdr: record.result_xdr.clone(),
            result_base64: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &record.result_xdr),
            fee_charged_stroops: record.fee_charged_stroops,
        })
    }

    /// Friendbot: creates and funds `account` with the configured grant.
    pub fn friendbot(&mut self, account: &AccountId) -> Result<Submission, FriendbotError> {
        if self.ledger.account(account).is_some() {
            let submission = self.ledger.fund(account, self.config.friendbot_stroops);
            self.version += u64::from(submission.applied());
            return Err(FriendbotError::AlreadyFunded(Box::new(submission)));
        }
        let submission = self.ledger.fund(account, self.config.friendbot_stroops);
        self.version += 1;
        Ok(submission)
    }

    /// Lets the market trade in the open ledger, then closes it at its fixed close time;
    /// returns the closed sequence.
    pub fn close_ledger(&mut self) -> u32 {
        let at = self.open_close_time();
        if let Some(market) = &mut self.market {
            market.step(&mut self.ledger, at);
        }
        let sequence = self.ledger.close_ledger(at).sequence;
        self.closes += 1;
        self.version += 1;
        sequence
    }

    /// Ledgers that should have closed by `elapsed_ms` of wall time since the venue started
    /// and have not (always 0 in manual mode).
    pub fn closes_due(&self, elapsed_ms: u64) -> u64 {
        if self.config.ledger_ms == 0 {
            return 0;
        }
        (elapsed_ms / self.config.ledger_ms).saturating_sub(self.closes)
    }
}
