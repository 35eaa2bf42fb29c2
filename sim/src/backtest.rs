//! Backtests: the market data of a recorded session (`starlog record`, `starlog run`, the demo)
//! replayed against a strategy with new parameters, through a simulated execution model, into a
//! report that is a pure function of the journal and the parameters (same inputs, same bytes).
//!
//! The engine is the live one: the session's recorded start, then every recorded order-book
//! snapshot, in journal order at its recorded ingress time; everything else the engine would
//! have been told live (transaction results, fills, account snapshots, timer ticks) comes from
//! the execution model ([`Venue`]) instead of the recording.
//!
//! # The execution model
//! - **Latency.** An intent the engine emits at time `t` reaches the venue at
//!   `t + latency_ms`; its result and the account snapshot after it reach the engine then. The
//!   engine hears "submitted" at `t`.
//! - **Transactions** are atomic, as on Stellar: the fee (`fee_per_op_stroops` × operations,
//!   in XLM) and the sequence number are spent even when an operation fails; a failure undoes
//!   the other operations. Codes are Stellar's: `UNDERFUNDED` (−7), `CROSS_SELF` (−8),
//!   `NOT_FOUND` (−11), `LOW_RESERVE` (−12), `MALFORMED` (−1) for modifications (the engine
//!   only creates and cancels).
//! - **Crossing on arrival.** A new order that crosses the recorded book takes its levels best
//!   first, each at the level's price, rounded in the taker's disfavour. Liquidity taken is
//!   remembered per price level: later orders see only what is left, until a snapshot shows the
//!   level smaller than what was taken (then only what the recording still shows counts as taken).
//! - **Resting orders** fill only from recorded trades, never from snapshots (a resting ask of
//!   someone else's that a snapshot shows crossing ours would also appear as a trade): a trade
//!   at a price through ours fills us first; a trade at our price first uses up the volume that
//!   was ahead of us in the queue (the recorded level's amount when we arrived, and never more
//!   than the level shows later), and only the rest fills us. A trade's volume fills our orders
//!   once, best price then earliest first, after the volume our own crossing orders took from
//!   its price level is taken off. Fills are at our order's price, rounded in the maker's favour.
//! - **Accounts.** Balances start from the session's first account snapshot of our account, or
//!   from `start_base` / `start_counter` (10 000 units each by default); reserves and
//!   liabilities follow Stellar's rules (base reserve × (2 + subentries)).
//!
//! The report holds PnL (realised at average cost, and marked at the book's mid), inventory
//! over time, fills with the recorded input each came from, fees, maximum drawdown and counts;
//! [`svg`] draws PnL and inventory over time.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use rkyv::util::AlignedVec;
use serde_json::{Value, json};
use starlog_adapters::core_loop::INPUT_DIR;
use starlog_adapters::live::config::StrategyConfig;
use starlog_engine::amount::Amount;
use starlog_engine::asset::{Asset, Pair};
use starlog_engine::book::Book;
use starlog_engine::engine::Engine;
use starlog_engine::events::{self, ArchivedInput, Input, Timer, TxSubmitted};
use starlog_engine::lifecycle::OrderStatus;
use starlog_engine::outputs::{Intent, Output};
use starlog_engine::price::Price;
use starlog_engine::risk::Side;
use starlog_journal::{JournalReader, hex};

use crate::replay::{ReplayError, session_config};

mod venue;

use venue::{Account, TX_INSUFFICIENT_BALANCE, TxOutcome, Venue, intent_hash};

const NS_PER_MS: i64 = 1_000_000;
const STROOPS_PER_UNIT: i64 = 10_000_000;

/// The execution model's knobs; units last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecParams {
    /// From the engine's intent to the venue, and from the venue's result back to the engine.
    pub latency_ms: u64,
    pub fee_per_op_stroops: i64,
    /// Timer ticks for the strategy (0: none).
    pub timer_ms: u64,
    /// Ledger close cadence: ledger numbers of results and fills.
    pub ledger_ms: u64,
    pub base_reserve_stroops: i64,
    /// How often the PnL and inventory series is sampled, in event time.
    pub sample_ms: u64,
    /// Starting balances (`None`: the session's first account snapshot, else 10 000 units).
    pub start_base_stroops: Option<i64>,
    pub start_counter_stroops: Option<i64>,
}

impl ExecParams {
    pub const DEFAULT: ExecParams = ExecParams {
        latency_ms: 500,
        fee_per_op_stroops: 100,
        timer_ms: 1_000,
        ledger_ms: 5_000,
        base_reserve_stroops: 5_000_000,
        sample_ms: 1_000,
        start_base_stroops: None,
        start_counter_stroops: None,
    };
}

/// What to backtest: a strategy (by name, or the session's own), its parameters, the pair and
/// the execution model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BacktestSpec {
    /// `None`: the strategy the session ran with (a `starlog run` or demo session).
    pub strategy: Option<String>,
    /// Index of the traded pair in the session's pairs.
    pub pair: u16,
    /// Strategy parameters, applied in order over the strategy's defaults (or the session's).
    pub params: Vec<(String, String)>,
    pub exec: ExecParams,
}

impl Default for BacktestSpec {
    fn default() -> BacktestSpec {
        BacktestSpec { strategy: None, pair: 0, params: Vec::new(), exec: ExecParams::DEFAULT }
    }
}

impl BacktestSpec {
    /// Set one parameter: an execution-model knob (`latency_ms`, `fee_per_op_stroops`,
    /// `timer_ms`, `ledger_ms`, `sample_ms`, `start_base`, `start_counter`) or, for any other
    /// key, a strategy parameter (checked when the strategy is built).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let whole = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| format!("{key}: {value:?} is not a whole number up to {max}"))
        };
        let amount = || -> Result<i64, String> {
            value.parse::<Amount>().map(Amount::stroops).map_err(|e| format!("{key}: {e}"))
        };
        match key {
            "latency_ms" => self.exec.latency_ms = whole(3_600_000)?,
            "fee_per_op_stroops" => self.exec.fee_per_op_stroops = whole(10_000_000)? as i64,
            "timer_ms" => self.exec.timer_ms = whole(3_600_000)?,
            "ledger_ms" => self.exec.ledger_ms = whole(3_600_000)?.max(1),
            "sample_ms" => self.exec.sample_ms = whole(86_400_000)?.max(1),
            "start_base" => self.exec.start_base_stroops = Some(amount()?),
            "start_counter" => self.exec.start_counter_stroops = Some(amount()?),
            _ => self.params.push((key.to_owned(), value.to_owned())),
        }
        Ok(())
    }

    /// The parameters as `key=value` text, in order, for reports and tables.
    pub fn describe(&self) -> Vec<(String, String)> {
        let e = &self.exec;
        let mut all = vec![
            ("latency_ms".to_owned(), e.latency_ms.to_string()),
            ("fee_per_op_stroops".to_owned(), e.fee_per_op_stroops.to_string()),
            ("timer_ms".to_owned(), e.timer_ms.to_string()),
            ("ledger_ms".to_owned(), e.ledger_ms.to_string()),
        ];
        all.extend(self.params.iter().cloned());
        all
    }
}

/// Where a fill's liquidity came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A recorded trade (the input's seq in the recorded journal): our resting order filled.
    Trade { seq: u64 },
    /// A level of a recorded book snapshot (the input's seq) our arriving order crossed.
    Book { seq: u64, price: Price },
}

/// One fill of one of our orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub time_ns: i64,
    pub order: u64,
    pub side: Side,
    /// The price it traded at (counter per base).
    pub price: Price,
    pub base_stroops: i64,
    pub counter_stroops: i64,
    pub source: Source,
}

/// One point of the PnL and inventory series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub time_ns: i64,
    /// Marked PnL (realised + unrealised), counter stroops.
    pub pnl_stroops: i128,
    /// Base bought minus base sold since the start.
    pub position_base_stroops: i128,
}

/// What a backtest found. Everything is a function of the journal and the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BacktestReport {
    pub strategy: String,
    pub spec: BacktestSpec,
    pub pair: Pair,
    /// The input journal's chain head: which recording this is a backtest of.
    pub journal_head: [u8; 32],
    pub first_ns: i64,
    pub last_ns: i64,
    pub books: u64,
    pub trades: u64,
    /// Accepted orders, and refusals by reject code: the engine's checks (100–499) and the
    /// venue's (500–599, an order the engine had accepted).
    pub orders: u64,
    pub rejects: BTreeMap<u16, u64>,
    pub cancels: u64,
    pub transactions: u64,
    /// Failed transactions by the first failing operation's code (or the transaction's).
    pub failures: BTreeMap<i32, u64>,
    pub incidents: u64,
    pub fees_stroops: i64,
    pub volume_base_stroops: i128,
    pub volume_counter_stroops: i128,
    pub realised_stroops: i128,
    pub pnl_stroops: i128,
    pub max_drawdown_stroops: i128,
    pub position_base_stroops: i128,
    /// Balances at the end: base, counter (and XLM, when neither is native).
    pub final_balances: Vec<(Asset, i64)>,
    pub fills: Vec<Fill>,
    pub series: Vec<Sample>,
    pub state_hash: [u8; 16],
}

impl BacktestReport {
    pub fn maker_fills(&self) -> usize {
        self.fills.iter().filter(|f| matches!(f.source, Source::Trade { .. })).count()
    }

    /// The report as JSON (stroops as integers; keys sorted, so the text is stable).
    pub fn to_json(&self) -> Value {
        let side = |s: Side| if s == Side::Buy { "buy" } else { "sell" };
        let fills: Vec<Value> = self
            .fills
            .iter()
            .map(|f| {
                let (liquidity, source) = match f.source {
                    Source::Trade { seq } => ("maker", json!({ "trade_seq": seq })),
                    Source::Book { seq, price } => ("taker", json!({ "book_seq": seq, "level": price.to_string() })),
                };
                json!({ "time_ns": f.time_ns, "order": f.order, "side": side(f.side), "price": f.price.to_string(),
                        "base_stroops": f.base_stroops, "counter_stroops": f.counter_stroops,
                        "liquidity": liquidity, "source": source })
            })
            .collect();
        let series: Vec<Value> = self
            .series
            .iter()
            .map(|s| json!([s.time_ns, clamp(s.pnl_stroops), clamp(s.position_base_stroops)]))
            .collect();
        let params: serde_json::Map<String, Value> =
            self.spec.describe().into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        json!({
            "strategy": self.strategy,
            "params": params,
            "pair": { "index": self.spec.pair, "base": self.pair.selling().to_string(), "counter": self.pair.buying().to_string() },
            "journal_head": hex(&self.journal_head),
            "span_ns": [self.first_ns, self.last_ns],
            "market": { "books": self.books, "trades": self.trades },
            "counts": {
                "orders": self.orders,
                "rejects": self.rejects.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "cancels": self.cancels,
                "transactions": self.transactions,
                "failed_transactions": self.failures.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "fills": self.fills.len(),
                "maker_fills": self.maker_fills(),
                "taker_fills": self.fills.len() - self.maker_fills(),
                "incidents": self.incidents,
            },
            "pnl": {
                "realised_stroops": clamp(self.realised_stroops),
                "unrealised_stroops": clamp(self.pnl_stroops - self.realised_stroops),
                "marked_stroops": clamp(self.pnl_stroops),
                "fees_xlm_stroops": self.fees_stroops,
                "max_drawdown_stroops": clamp(self.max_drawdown_stroops),
            },
            "inventory": {
                "position_base_stroops": clamp(self.position_base_stroops),
                "volume_base_stroops": clamp(self.volume_base_stroops),
                "volume_counter_stroops": clamp(self.volume_counter_stroops),
                "final_balances": self.final_balances.iter().map(|(a, b)| (a.to_string(), json!(b))).collect::<serde_json::Map<_, _>>(),
            },
            "fills": fills,
            "series_columns": ["time_ns", "pnl_stroops", "position_base_stroops"],
            "series": series,
            "state_hash": hex(&self.state_hash),
        })
    }
}

fn clamp(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// Average-cost accounting of our fills, independent of the engine's.
#[derive(Clone, Copy, Debug, Default)]
struct Ledger {
    position: i128,
    /// Counter paid for a long position (positive) or received for a short (negative).
    cost: i128,
    realised: i128,
    volume_base: i128,
    volume_counter: i128,
}

impl Ledger {
    fn fill(&mut self, side: Side, base: i64, counter: i64) {
        let (base, counter) = (i128::from(base), i128::from(counter));
        self.volume_base += base;
        self.volume_counter += counter;
        let signed = if side == Side::Buy { base } else { -base };
        let cash = if side == Side::Buy { -counter } else { counter };
        if self.position == 0 || self.position.signum() == signed.signum() {
            self.position += signed;
            self.cost -= cash;
            return;
        }
        let closing = base.min(self.position.abs());
        let basis = self.cost * closing / self.position.abs();
        let cash_closing = cash * closing / base;
        self.realised += cash_closing - basis;
        self.cost -= basis;
        self.position += if side == Side::Buy { closing } else { -closing };
        let rest = base - closing;
        if rest > 0 {
            self.position += if side == Side::Buy { rest } else { -rest };
            self.cost -= cash - cash_closing;
        }
    }

    /// Realised plus the open position marked at `mark = (m, d)` counter per base.
    fn marked(&self, mark: Option<(i128, i128)>) -> i128 {
        match mark {
            Some((m, d)) if self.position != 0 => self.realised + self.position * m / d - self.cost,
            _ => self.realised + if self.position == 0 { -self.cost } else { 0 },
        }
    }
}

fn mid(book: &Book) -> Option<(i128, i128)> {
    let (b, a) = (book.best_bid()?, book.best_ask()?);
    let (bn, bd, an, ad) = (i128::from(b.n()), i128::from(b.d()), i128::from(a.n()), i128::from(a.d()));
    Some((bn * ad + an * bd, 2 * bd * ad))
}

/// The run: the engine, the venue, the pending arrivals and the report being built.
struct Run {
    engine: Engine,
    venue: Venue,
    account: [u8; 32],
    seq: u64,
    out: Vec<Output>,
    buf: AlignedVec,
    /// Intents on their way to the venue, in arrival order (latency is constant).
    in_flight: VecDeque<(i64, Intent)>,
    next_timer_ns: i64,
    next_sample_ns: i64,
    ledger: Ledger,
    last_mark: Option<(i128, i128)>,
    peak: i128,
    report: BacktestReport,
}

impl Run {
    /// Apply a synthetic input at `now_ns` and handle what the engine says.
    fn feed(&mut self, input: &Input, now_ns: i64) -> Result<(), ReplayError> {
        let buf = events::to_bytes_in(input, std::mem::take(&mut self.buf))
            .map_err(|e| ReplayError::Corrupt(format!("cannot serialize an input: {e}")))?;
        let archived =
            events::access(&buf).map_err(|e| ReplayError::Corrupt(format!("cannot read an input back: {e}")))?;
        self.seq += 1;
        self.out.clear();
        self.engine.apply(self.seq, now_ns, archived, &mut self.out);
        self.buf = buf;
        self.handle(now_ns)
    }

    /// Apply a recorded input in place.
    fn feed_archived(&mut self, input: &ArchivedInput, now_ns: i64) -> Result<(), ReplayError> {
        self.seq += 1;
        self.out.clear();
        self.engine.apply(self.seq, now_ns, input, &mut self.out);
        self.handle(now_ns)
    }

    fn handle(&mut self, now_ns: i64) -> Result<(), ReplayError> {
        let latency_ns = i64::try_from(self.venue.exec.latency_ms).unwrap_or(i64::MAX / 2) * NS_PER_MS;
        let mut sent = Vec::new();
        for output in self.out.drain(..) {
            match output {
                Output::Decision(d) if d.reject_code == 0 => {
                    self.report.orders += 1;
                    let side = if d.side == Side::Buy as u8 { Side::Buy } else { Side::Sell };
                    let price = Price::new(d.price.n, d.price.d)
                        .map_err(|_| ReplayError::Corrupt("the engine decided on an invalid price".into()))?;
                    self.venue.orders.insert(d.order, (side, d.amount_stroops, price));
                }
                Output::Decision(d) => *self.report.rejects.entry(d.reject_code).or_default() += 1,
                // A change into Cancelled (not a late fill recorded on a cancelled order).
                Output::Lifecycle(l) if l.to == OrderStatus::Cancelled as u8 && l.from != l.to => {
                    self.report.cancels += 1;
                }
                Output::Incident(_) => self.report.incidents += 1,
                Output::Intent(intent) => {
                    sent.push((intent.id, intent.ops.len()));
                    self.in_flight.push_back((now_ns.saturating_add(latency_ns), intent));
                }
                _ => {}
            }
        }
        for (intent, ops) in sent {
            self.report.transactions += 1;
            let fee = self.venue.exec.fee_per_op_stroops.saturating_mul(ops as i64);
            let submitted = Input::TxSubmitted(TxSubmitted {
                intent,
                hash: intent_hash(intent),
                sequence: self.venue.sequence + 1,
                max_time: u64::try_from(now_ns / 1_000_000_000 + 30).unwrap_or(0),
                fee_stroops: fee,
                signed_by: [0; 32],
                key_store: events::key_store::NONE,
            });
            self.feed(&submitted, now_ns)?;
        }
        Ok(())
    }

    /// Everything due at or before `until_ns`: arrivals, then timer ticks, in time order.
    fn advance(&mut self, until_ns: i64, timers: bool) -> Result<(), ReplayError> {
        loop {
            let arrival = self.in_flight.front().map(|(t, _)| *t).filter(|t| *t <= until_ns);
            let timer = (timers && self.venue.exec.timer_ms > 0 && self.next_timer_ns <= until_ns)
                .then_some(self.next_timer_ns);
            match (arrival, timer) {
                (Some(a), t) if t.is_none_or(|t| a <= t) => {
                    let (at, intent) = self.in_flight.pop_front().expect("peeked");
                    self.arrive(&intent, at)?;
                }
                (_, Some(t)) => {
                    self.next_timer_ns = t + i64::try_from(self.venue.exec.timer_ms).unwrap_or(1) * NS_PER_MS;
                    self.feed(&Input::Timer(Timer {}), t)?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn arrive(&mut self, intent: &Intent, now_ns: i64) -> Result<(), ReplayError> {
        let fee = self.venue.exec.fee_per_op_stroops.saturating_mul(intent.ops.len() as i64);
        match self.venue.execute(intent, now_ns) {
            TxOutcome::Succeeded(result, fills) => {
                self.report.fees_stroops += fee;
                for f in &fills {
                    self.record_fill(*f);
                }
                self.feed(&Input::TxSucceeded(result), now_ns)?;
            }
            TxOutcome::Failed(result) => {
                if result.tx_code != TX_INSUFFICIENT_BALANCE {
                    self.report.fees_stroops += fee;
                }
                let code = result.op_codes.iter().copied().find(|c| *c != 0).unwrap_or(result.tx_code);
                *self.report.failures.entry(code).or_default() += 1;
                self.feed(&Input::TxFailed(result), now_ns)?;
            }
        }
        let snapshot = self.venue.snapshot(self.account, now_ns);
        self.feed(&snapshot, now_ns)
    }

    fn record_fill(&mut self, fill: Fill) {
        self.ledger.fill(fill.side, fill.base_stroops, fill.counter_stroops);
        self.report.fills.push(fill);
    }

    fn trade(&mut self, seq: u64, t: &events::ArchivedTrade, now_ns: i64) -> Result<(), ReplayError> {
        let fills = self.venue.on_trade(seq, t, now_ns);
        if fills.is_empty() {
            return Ok(());
        }
        for (offer, fill) in fills {
            self.record_fill(fill);
            let input = self.venue.trade_input(self.report.spec.pair, &offer, &fill, now_ns, self.account);
            self.feed(&input, now_ns)?;
        }
        let snapshot = self.venue.snapshot(self.account, now_ns);
        self.feed(&snapshot, now_ns)
    }

    /// Mark, track the drawdown and sample the series.
    fn mark(&mut self, now_ns: i64, force_sample: bool) {
        if let Some(m) = mid(&self.venue.book) {
            self.last_mark = Some(m);
        }
        let pnl = self.ledger.marked(self.last_mark);
        self.peak = self.peak.max(pnl);
        self.report.max_drawdown_stroops = self.report.max_drawdown_stroops.max(self.peak - pnl);
        if force_sample || now_ns >= self.next_sample_ns {
            let period = i64::try_from(self.venue.exec.sample_ms).unwrap_or(1).max(1) * NS_PER_MS;
            self.next_sample_ns = (now_ns / period + 1) * period;
            self.report.series.push(Sample {
                time_ns: now_ns,
                pnl_stroops: pnl,
                position_base_stroops: self.ledger.position,
            });
        }
    }
}

/// Progress of a long run: records read of the recording's total.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Run one backtest of the session in `dir`. See the module doc.
pub fn run(dir: &Path, spec: &BacktestSpec, progress: Progress<'_>) -> Result<BacktestReport, ReplayError> {
    starlog_adapters::core_loop::check_wire(dir)?;
    let inputs = JournalReader::open(dir.join(INPUT_DIR))?;
    // The recording is verified first (checksums and chain): a backtest of damaged data is an
    // error, and the chain head names the recording in the report.
    let verified = inputs.verify()?;
    let (total, journal_head) = (verified.records, verified.chain_head);
    let mut records = inputs.iter();
    let first = records.next().transpose()?.ok_or_else(|| ReplayError::Corrupt("the session has no inputs".into()))?;
    let start_input = events::access(first.payload)
        .map_err(|_| ReplayError::Corrupt(format!("input record {} is not a valid archive", first.seq)))?;
    let ArchivedInput::SessionStart(start) = start_input else {
        return Err(ReplayError::Corrupt("the first input is not a session start".into()));
    };
    let (engine_config, recorded_strategy) = session_config(start.config.as_str())?;
    let mut strategy = match (&spec.strategy, recorded_strategy) {
        (Some(name), _) => StrategyConfig::defaults(name, spec.pair).map_err(ReplayError::Misuse)?,
        (None, Some(recorded)) => recorded,
        (None, None) => {
            return Err(ReplayError::Misuse("the session ran no strategy: name one with --strategy".into()));
        }
    };
    for (key, value) in &spec.params {
        strategy.set(key, value).map_err(|e| ReplayError::Misuse(format!("--param {key}: {e}")))?;
    }
    strategy.validate().map_err(|e| ReplayError::Misuse(format!("strategy parameters: {e}")))?;
    let pair = start
        .pairs
        .get(usize::from(spec.pair))
        .ok_or_else(|| ReplayError::Misuse(format!("the session has no pair {}", spec.pair)))?
        .to_pair()
        .map_err(|e| ReplayError::Corrupt(format!("the session's pair: {e}")))?;
    let account = start.account;
    let mut engine = Engine::new(engine_config).map_err(|e| ReplayError::Config(e.to_string()))?;
    engine.set_strategy(strategy.build());

    let lines = starting_lines(&inputs, account, &pair, &spec.exec)?;
    let venue = Venue {
        pair,
        exec: spec.exec,
        account: Account {
            lines,
            offers: BTreeMap::new(),
            taken_bids: BTreeMap::new(),
            taken_asks: BTreeMap::new(),
            next_offer_id: 1,
        },
        book: Book::new(),
        book_seq: 0,
        sequence: 1 << 32,
        orders: BTreeMap::new(),
        next_trade_id: 0,
        first_ns: first.timestamp_ns,
    };
    let mut run = Run {
        engine,
        venue,
        account,
        seq: 0,
        out: Vec::new(),
        buf: AlignedVec::new(),
        in_flight: VecDeque::new(),
        next_timer_ns: i64::MAX,
        next_sample_ns: i64::MIN,
        ledger: Ledger::default(),
        last_mark: None,
        peak: 0,
        report: BacktestReport {
            strategy: strategy.name().to_owned(),
            spec: spec.clone(),
            pair,
            journal_head,
            first_ns: first.timestamp_ns,
            last_ns: first.timestamp_ns,
            books: 0,
            trades: 0,
            orders: 0,
            rejects: BTreeMap::new(),
            cancels: 0,
            transactions: 0,
            failures: BTreeMap::new(),
            incidents: 0,
            fees_stroops: 0,
            volume_base_stroops: 0,
            volume_counter_stroops: 0,
            realised_stroops: 0,
            pnl_stroops: 0,
            max_drawdown_stroops: 0,
            position_base_stroops: 0,
            final_balances: Vec::new(),
            fills: Vec::new(),
            series: Vec::new(),
            state_hash: [0; 16],
        },
    };
    run.feed_archived(start_input, first.timestamp_ns)?;
    let mut started = false;
    let mut done = 1u64;
    let mut now_ns = first.timestamp_ns;
    for record in records {
        let record = record?;
        done += 1;
        if done.is_multiple_of(65_536) {
            progress(done, total);
        }
        if record.kind != events::kind::BOOK && record.kind != events::kind::TRADE {
            continue;
        }
        let input = events::access(record.payload)
            .map_err(|_| ReplayError::Corrupt(format!("input record {} is not a valid archive", record.seq)))?;
        now_ns = now_ns.max(record.timestamp_ns);
        if !started {
            // Our account, as the venue holds it, before the first market event.
            started = true;
            run.report.first_ns = now_ns;
            run.next_timer_ns = now_ns.saturating_add(i64::try_from(spec.exec.timer_ms).unwrap_or(0) * NS_PER_MS);
            let snapshot = run.venue.snapshot(account, now_ns);
            run.feed(&snapshot, now_ns)?;
        }
        run.advance(now_ns, true)?;
        match input {
            ArchivedInput::Book(b) => {
                if b.pair.to_native() == spec.pair {
                    run.report.books += 1;
                    run.venue.on_book(record.seq, b, now_ns);
                }
                run.feed_archived(input, now_ns)?;
            }
            ArchivedInput::Trade(t) if t.pair.to_native() == spec.pair => {
                run.report.trades += 1;
                run.trade(record.seq, t, now_ns)?;
            }
            _ => {}
        }
        run.mark(now_ns, false);
    }
    // Orders still on their way get their results; no more market data, no more ticks.
    run.advance(i64::MAX, false)?;
    let end_ns = run.report.fills.last().map_or(now_ns, |f| f.time_ns.max(now_ns));
    run.mark(end_ns, true);
    progress(total, total);
    let mut report = run.report;
    report.last_ns = end_ns;
    report.realised_stroops = run.ledger.realised;
    report.pnl_stroops = run.ledger.marked(run.last_mark);
    report.position_base_stroops = run.ledger.position;
    report.volume_base_stroops = run.ledger.volume_base;
    report.volume_counter_stroops = run.ledger.volume_counter;
    report.final_balances = run.venue.account.lines.clone();
    report.state_hash = run.engine.state_hash();
    Ok(report)
}

/// Balances at the start: the session's first snapshot of our account, else 10 000 units of
/// base and counter (and 10 000 XLM when neither is XLM); `start_*` override either.
fn starting_lines(
    inputs: &JournalReader,
    account: [u8; 32],
    pair: &Pair,
    exec: &ExecParams,
) -> Result<Vec<(Asset, i64)>, ReplayError> {
    let (base, counter) = (pair.selling(), pair.buying());
    let mut recorded: Option<Vec<(Asset, i64)>> = None;
    for record in inputs.iter() {
        let record = record?;
        if record.kind != events::kind::ACCOUNT {
            continue;
        }
        if let Ok(ArchivedInput::Account(a)) = events::access(record.payload)
            && a.account == account
        {
            recorded = Some(
                a.balances
                    .iter()
                    .filter_map(|b| Some((b.asset.to_asset().ok()?, b.balance_stroops.to_native())))
                    .collect(),
            );
            break;
        }
    }
    let default = 10_000 * STROOPS_PER_UNIT;
    let from_record = |asset: &Asset| recorded.as_ref().and_then(|r| r.iter().find(|(a, _)| a == asset).map(|l| l.1));
    let mut lines = vec![(Asset::Native, from_record(&Asset::Native).unwrap_or(default))];
    for (asset, given) in [(base, exec.start_base_stroops), (counter, exec.start_counter_stroops)] {
        let amount = given.or_else(|| from_record(&asset)).unwrap_or(default);
        match lines.iter_mut().find(|(a, _)| *a == asset) {
            Some(line) => line.1 = amount,
            None => lines.push((asset, amount)),
        }
    }
    Ok(lines)
}

/// Every combination of the sweep's values (the last key varies fastest), each applied over
/// `base`.
pub fn grid(base: &BacktestSpec, sweep: &[(String, Vec<String>)]) -> Result<Vec<BacktestSpec>, String> {
    let mut specs = vec![base.clone()];
    for (key, values) in sweep {
        if values.is_empty() {
            return Err(format!("--sweep {key}: no values"));
        }
        let mut next = Vec::with_capacity(specs.len() * values.len());
        for spec in &specs {
            for value in values {
                let mut s = spec.clone();
                s.set(key, value)?;
                next.push(s);
            }
        }
        specs = next;
    }
    Ok(specs)
}

/// Run every spec, `threads` at a time; results in the specs' order. `progress` hears how many
/// runs are done.
pub fn sweep(
    dir: &Path,
    specs: &[BacktestSpec],
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Result<BacktestReport, ReplayError>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<BacktestReport, ReplayError>>>> =
        Mutex::new((0..specs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, specs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = specs.get(i) else { break };
                    let result = run(dir, spec, &mut |_, _| {});
                    results.lock().expect("no worker panics holding the lock")[i] = Some(result);
                    progress(finished.fetch_add(1, Ordering::Relaxed) + 1, specs.len());
                }
            });
        }
    });
    results
        .into_inner()
        .expect("no worker panics holding the lock")
        .into_iter()
        .map(|r| r.expect("every spec ran"))
        .collect()
}

/// PnL (top) and inventory (bottom) over time as an SVG document; integer coordinates, so the
/// same report draws the same bytes.
pub fn svg(report: &BacktestReport) -> String {
    const W: i64 = 960;
    const PANEL: i64 = 260;
    const LEFT: i64 = 110;
    const RIGHT: i64 = 20;
    const POINTS_MAX: usize = 2_000;
    let step = report.series.len().div_ceil(POINTS_MAX).max(1);
    let mut points: Vec<&Sample> = report.series.iter().step_by(step).collect();
    if let Some(last) = report.series.last()
        && !(report.series.len() - 1).is_multiple_of(step)
    {
        points.push(last);
    }
    let (t0, t1) = (report.first_ns, report.last_ns.max(report.first_ns + 1));
    let x = |t: i64| {
        LEFT + i64::try_from(i128::from(t - t0) * i128::from(W - LEFT - RIGHT) / i128::from(t1 - t0)).unwrap_or(0)
    };
    let mut doc = String::new();
    let height = 2 * PANEL + 90;
    doc.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" viewBox=\"0 0 {W} {height}\" font-family=\"monospace\" font-size=\"12\">\n"
    ));
    doc.push_str(&format!("<rect width=\"{W}\" height=\"{height}\" fill=\"white\"/>\n"));
    let params: Vec<String> = report.spec.describe().iter().map(|(k, v)| format!("{k}={v}")).collect();
    doc.push_str(&format!(
        "<text x=\"10\" y=\"18\" font-size=\"14\">starlog backtest: {} {}</text>\n",
        xml(&report.strategy),
        xml(&params.join(" "))
    ));
    let panels: [Panel; 2] = [
        ("PnL, marked (counter)", "#1f77b4", |s| s.pnl_stroops),
        ("Inventory (base)", "#d62728", |s| s.position_base_stroops),
    ];
    for (i, (title, colour, value)) in panels.into_iter().enumerate() {
        let top = 40 + i as i64 * (PANEL + 25);
        let lo = points.iter().map(|s| value(s)).min().unwrap_or(0).min(0);
        let hi = points.iter().map(|s| value(s)).max().unwrap_or(0).max(0);
        let span = (hi - lo).max(1);
        let y = |v: i128| top + PANEL - i64::try_from((v - lo) * i128::from(PANEL) / span).unwrap_or(0);
        doc.push_str(&format!(
            "<rect x=\"{LEFT}\" y=\"{top}\" width=\"{}\" height=\"{PANEL}\" fill=\"none\" stroke=\"#999\"/>\n",
            W - LEFT - RIGHT
        ));
        doc.push_str(&format!("<text x=\"{}\" y=\"{}\">{}</text>\n", LEFT + 6, top + 14, xml(title)));
        doc.push_str(&format!("<text x=\"4\" y=\"{}\">{}</text>\n", top + 12, units(hi)));
        doc.push_str(&format!("<text x=\"4\" y=\"{}\">{}</text>\n", top + PANEL, units(lo)));
        doc.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#ccc\" stroke-dasharray=\"4 3\"/>\n",
            y(0),
            W - RIGHT
        ));
        let path: Vec<String> = points.iter().map(|s| format!("{},{}", x(s.time_ns), y(value(s)))).collect();
        doc.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
            path.join(" ")
        ));
    }
    let seconds = (t1 - t0) / 1_000_000_000;
    doc.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"{}\">0 s</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{seconds} s</text>\n",
        height - 12,
        W - RIGHT,
        height - 12
    ));
    doc.push_str("</svg>\n");
    doc
}

/// A plot panel: title, colour, and the value it draws.
type Panel = (&'static str, &'static str, fn(&Sample) -> i128);

/// Stroops as units with 7 decimals (`-12.5000000`).
pub fn units(stroops: i128) -> String {
    let sign = if stroops < 0 { "-" } else { "" };
    let abs = stroops.unsigned_abs();
    format!("{sign}{}.{:07}", abs / 10_000_000, abs % 10_000_000)
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_cost_realises_on_reduction_and_flip() {
        let mut l = Ledger::default();
        l.fill(Side::Buy, 10, 100); // long 10 for 100
        l.fill(Side::Sell, 5, 60); // realise 60 − 50
        assert_eq!((l.position, l.cost, l.realised), (5, 50, 10));
        assert_eq!(l.marked(Some((12, 1))), 10 + 60 - 50);
        l.fill(Side::Sell, 10, 110); // close 5 (+55 − 50), open short 5 for 55
        assert_eq!((l.position, l.realised), (-5, 15));
        assert_eq!(l.cost, -55);
        l.fill(Side::Buy, 5, 40); // close the short: +55 − 40
        assert_eq!((l.position, l.cost, l.realised), (0, 0, 30));
        assert_eq!(l.marked(None), 30);
    }

    #[test]
    fn units_have_seven_decimals() {
        assert_eq!(units(-125_000_000), "-12.5000000");
        assert_eq!(units(1), "0.0000001");
    }
}
