//! Horizon's JSON resources decoded into the engine's input events (and the few values the
//! submission pipeline needs), strictly: every field the engine relies on must be present and
//! well formed, or the whole resource is refused with an error naming the field. Horizon is a
//! peer: nothing it sends can panic this module or reach the engine unchecked.
//!
//! Shapes (checked against the real responses in `fixtures/horizon/`): amounts are strings with
//! up to 7 decimals; trade prices `n`/`d` are strings (numbers in old responses, both accepted);
//! `price_r` is numbers; offer ids are strings; account ids are `G…` strkeys.

use std::fmt;

use serde_json::Value;
use starlog_engine::events::{
    AccountSnapshot, Balance, BookSnapshot, Level, OfferSnapshot, Trade, WireAsset, WirePrice,
};
use starlog_engine::{AccountId, Amount, Asset};

use crate::stellar::result::{self, ResultError, TxOutcome};

/// A resource that is not what Horizon sends: which resource, which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub resource: &'static str,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Horizon {} response: field {}: {}", self.resource, self.field, self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// Reads fields of one resource, naming it in errors.
struct Reader<'a> {
    resource: &'static str,
    value: &'a Value,
}

impl<'a> Reader<'a> {
    fn new(resource: &'static str, value: &'a Value) -> Reader<'a> {
        Reader { resource, value }
    }

    fn error(&self, field: &str, reason: impl Into<String>) -> DecodeError {
        DecodeError { resource: self.resource, field: field.to_owned(), reason: reason.into() }
    }

    fn field(&self, name: &str) -> Result<&'a Value, DecodeError> {
        self.value.get(name).ok_or_else(|| self.error(name, "missing"))
    }

    fn str(&self, name: &str) -> Result<&'a str, DecodeError> {
        self.field(name)?.as_str().ok_or_else(|| self.error(name, "not a string"))
    }

    fn bool(&self, name: &str) -> Result<bool, DecodeError> {
        self.field(name)?.as_bool().ok_or_else(|| self.error(name, "not a boolean"))
    }

    fn amount(&self, name: &str) -> Result<i64, DecodeError> {
        let text = self.str(name)?;
        text.parse::<Amount>().map(Amount::stroops).map_err(|e| self.error(name, e.to_string()))
    }

    /// An integer given as a JSON number or a decimal string.
    fn int<T: TryFrom<i64> + std::str::FromStr>(&self, name: &str) -> Result<T, DecodeError> {
        let value = self.field(name)?;
        let parsed = match value {
            Value::Number(n) => n.as_i64().and_then(|n| T::try_from(n).ok()),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-') => s.parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| self.error(name, format!("not an integer in range: {}", shown(value))))
    }

    fn account(&self, name: &str) -> Result<[u8; 32], DecodeError> {
        let text = self.str(name)?;
        text.parse::<AccountId>().map(|a| *a.as_bytes()).map_err(|_| self.error(name, "not an account id"))
    }

    /// `{prefix}asset_type`, `{prefix}asset_code`, `{prefix}asset_issuer`.
    fn asset(&self, prefix: &str) -> Result<Asset, DecodeError> {
        let type_field = format!("{prefix}asset_type");
        match self.str(&type_field)? {
            "native" => Ok(Asset::Native),
            kind @ ("credit_alphanum4" | "credit_alphanum12") => {
                let code_field = format!("{prefix}asset_code");
                let code = self.str(&code_field)?;
                let issuer = self.str(&format!("{prefix}asset_issuer"))?;
                let issuer = issuer
                    .parse::<AccountId>()
                    .map_err(|_| self.error(&format!("{prefix}asset_issuer"), "not an account id"))?;
                let asset = Asset::credit(code, issuer).map_err(|e| self.error(&code_field, e.to_string()))?;
                let expected = if matches!(asset, Asset::CreditAlphanum4 { .. }) {
                    "credit_alphanum4"
                } else {
                    "credit_alphanum12"
                };
                if kind != expected {
                    return Err(self.error(&type_field, format!("{kind} does not match code {code:?}")));
                }
                Ok(asset)
            }
            other => Err(self.error(&type_field, format!("unsupported asset type {other:?}"))),
        }
    }

    fn price_r(&self, name: &str) -> Result<WirePrice, DecodeError> {
        let inner = Reader::new(self.resource, self.field(name)?);
        let price = WirePrice { n: inner.int("n")?, d: inner.int("d")? };
        if price.n <= 0 || price.d <= 0 {
            return Err(self.error(name, "not a positive price"));
        }
        Ok(price)
    }
}

/// A short rendering of a bad value for an error message (never a whole response).
fn shown(value: &Value) -> String {
    let text = value.to_string();
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() { format!("{cut}…") } else { cut }
}

fn parse(resource: &'static str, bytes: &[u8]) -> Result<Value, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError {
        resource,
        field: "(document)".into(),
        reason: format!("not JSON: {e}"),
    })
}

/// `GET /order_book` (or one frame of its stream) for configured pair `pair`, whose base is
/// `base` and counter `counter`. Bids' amounts (Horizon gives them in the counter asset) are
/// converted to base at the level's price, rounding down, so every level is in base.
pub fn order_book(bytes: &[u8], pair: u16, base: &Asset, counter: &Asset) -> Result<BookSnapshot, DecodeError> {
    let value = parse("order_book", bytes)?;
    let book = Reader::new("order_book", &value);
    let base_obj = Reader::new("order_book", book.field("base")?);
    let counter_obj = Reader::new("order_book", book.field("counter")?);
    if base_obj.asset("")? != *base || counter_obj.asset("")? != *counter {
        return Err(book.error("base", "the book is for another pair"));
    }
    let levels = |side: &str, bids: bool| -> Result<Vec<Level>, DecodeError> {
        let list = book.field(side)?.as_array().ok_or_else(|| book.error(side, "not an array"))?;
        list.iter()
            .map(|level| {
                let level = Reader::new("order_book", level);
                let price = level.price_r("price_r")?;
                let amount = level.amount("amount")?;
                let amount_stroops = if bids {
                    // counter / (n/d) = counter × d / n, in base.
                    i64::try_from(i128::from(amount) * i128::from(price.d) / i128::from(price.n))
                        .map_err(|_| level.error("amount", "overflows in base"))?
                } else {
                    amount
                };
                Ok(Level { price, amount_stroops })
            })
            .collect()
    };
    Ok(BookSnapshot { pair, bids: levels("bids", true)?, asks: levels("asks", false)? })
}

/// `TOID-INDEX` paging token as `TOID << 32 | INDEX` (the engine's trade id), and the ledger.
fn trade_id(token: &str) -> Option<(u128, u32)> {
    let (toid, index) = token.split_once('-')?;
    let toid: u64 = toid.parse().ok()?;
    let index: u32 = index.parse().ok()?;
    let ledger = u32::try_from(toid >> 32).ok()?;
    Some(((u128::from(toid) << 32) | u128::from(index), ledger))
}

/// One record of `GET /trades` (or of its stream) on configured pair `pair` (base/counter as
/// configured; a record in the other orientation is turned around).
pub fn trade(bytes: &[u8], pair: u16, base: &Asset, counter: &Asset) -> Result<Trade, DecodeError> {
    let value = parse("trade", bytes)?;
    trade_value(&value, pair, base, counter)
}

fn trade_value(value: &Value, pair: u16, base: &Asset, counter: &Asset) -> Result<Trade, DecodeError> {
    let t = Reader::new("trade", value);
    let token = t.str("paging_token")?;
    let (id, ledger) = trade_id(token).ok_or_else(|| t.error("paging_token", "not TOID-INDEX"))?;
    let close_time =
        rfc3339(t.str("ledger_close_time")?).ok_or_else(|| t.error("ledger_close_time", "not RFC 3339"))?;
    let (record_base, record_counter) = (t.asset("base_")?, t.asset("counter_")?);
    let flipped = match (
        record_base == *base && record_counter == *counter,
        record_base == *counter && record_counter == *base,
    ) {
        (true, _) => false,
        (_, true) => true,
        _ => return Err(t.error("base_asset_type", "the trade is on another pair")),
    };
    let price = Reader::new("trade", t.field("price")?);
    let (n, d): (i64, i64) = (price.int("n")?, price.int("d")?);
    if n <= 0 || d <= 0 {
        return Err(t.error("price", "not a positive price"));
    }
    let side = |prefix: &str| -> Result<(i64, i64, [u8; 32]), DecodeError> {
        // Liquidity-pool sides have no offer or account.
        let offer =
            if t.value.get(format!("{prefix}offer_id")).is_some() { t.int(&format!("{prefix}offer_id"))? } else { 0 };
        let account = if t.value.get(format!("{prefix}account")).is_some() {
            t.account(&format!("{prefix}account"))?
        } else {
            [0; 32]
        };
        Ok((t.amount(&format!("{prefix}amount"))?, offer, account))
    };
    let (mut b, mut c) = (side("base_")?, side("counter_")?);
    let mut base_is_seller = t.bool("base_is_seller")?;
    let (mut n, mut d) = (n, d);
    if flipped {
        std::mem::swap(&mut b, &mut c);
        std::mem::swap(&mut n, &mut d);
        base_is_seller = !base_is_seller;
    }
    let (n, d) = reduce_to_i32(n, d).ok_or_else(|| t.error("price", "not representable as n/d in i32"))?;
    Ok(Trade {
        pair,
        id,
        ledger,
        ledger_close_time: close_time,
        price: WirePrice { n, d },
        base_amount_stroops: b.0,
        counter_amount_stroops: c.0,
        base_is_seller,
        base_offer_id: b.1,
        counter_offer_id: c.1,
        base_account: b.2,
        counter_account: c.2,
    })
}

/// Trade prices are reduced `i64` fractions of the amounts; most fit `i32` as they are, the
/// rest are approximated by the nearest fraction with `i32` terms.
fn reduce_to_i32(n: i64, d: i64) -> Option<(i32, i32)> {
    if let (Ok(n), Ok(d)) = (i32::try_from(n), i32::try_from(d)) {
        return Some((n, d));
    }
    let price = starlog_engine::Price::approximate(u128::try_from(n).ok()?, u128::try_from(d).ok()?).ok()?;
    Some((price.n(), price.d()))
}

/// `GET /accounts/{id}` and `GET /accounts/{id}/offers` (one page holding all our offers) into
/// a snapshot as of `ledger` (the `Latest-Ledger` header) with the network's `base_reserve`.
pub fn account(
    account_json: &[u8],
    offers_json: &[u8],
    ledger: u32,
    base_reserve_stroops: i64,
) -> Result<AccountSnapshot, DecodeError> {
    let value = parse("account", account_json)?;
    let a = Reader::new("account", &value);
    let balances = a.field("balances")?.as_array().ok_or_else(|| a.error("balances", "not an array"))?;
    let balances = balances
        .iter()
        .filter(|b| b.get("asset_type").and_then(Value::as_str) != Some("liquidity_pool_shares"))
        .map(|b| {
            let b = Reader::new("account", b);
            let asset = b.asset("")?;
            let limit_stroops = if asset.is_native() { i64::MAX } else { b.amount("limit")? };
            Ok(Balance {
                asset: WireAsset::from(asset),
                balance_stroops: b.amount("balance")?,
                buying_liabilities_stroops: b.amount("buying_liabilities")?,
                selling_liabilities_stroops: b.amount("selling_liabilities")?,
                limit_stroops,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    let offers_value = parse("offers", offers_json)?;
    let page = Reader::new("offers", &offers_value);
    let records = page
        .field("_embedded")?
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| page.error("_embedded.records", "missing"))?;
    let offers = records.iter().map(offer_value).collect::<Result<Vec<_>, DecodeError>>()?;
    let num =
        |name: &str| -> Result<u32, DecodeError> { if a.value.get(name).is_some() { a.int(name) } else { Ok(0) } };
    Ok(AccountSnapshot {
        account: a.account("account_id")?,
        ledger,
        sequence: a.int("sequence")?,
        subentry_count: a.int("subentry_count")?,
        num_sponsoring: num("num_sponsoring")?,
        num_sponsored: num("num_sponsored")?,
        base_reserve_stroops,
        balances,
        offers,
    })
}

fn offer_value(value: &Value) -> Result<OfferSnapshot, DecodeError> {
    let o = Reader::new("offer", value);
    let selling = Reader::new("offer", o.field("selling")?).asset("")?;
    let buying = Reader::new("offer", o.field("buying")?).asset("")?;
    Ok(OfferSnapshot {
        offer_id: o.int("id")?,
        selling: selling.into(),
        buying: buying.into(),
        amount_stroops: o.amount("amount")?,
        price: o.price_r("price_r")?,
    })
}

/// The asset and amount of an `account_credited` / `account_debited` effect.
pub fn balance_effect(bytes: &[u8]) -> Result<(Asset, i64), DecodeError> {
    let value = parse("effect", bytes)?;
    let e = Reader::new("effect", &value);
    Ok((e.asset("")?, e.amount("amount")?))
}

/// What `GET /fee_stats` says, in stroops per operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeStats {
    pub last_ledger: u32,
    pub last_ledger_base_fee: i64,
    /// Fees bid (`max_fee`) at the 50th, 90th and 99th percentile of recent transactions.
    pub max_fee_p50: i64,
    pub max_fee_p90: i64,
    pub max_fee_p99: i64,
    /// Fees charged at the 90th percentile (what surge pricing actually cost).
    pub fee_charged_p90: i64,
}

pub fn fee_stats(bytes: &[u8]) -> Result<FeeStats, DecodeError> {
    let value = parse("fee_stats", bytes)?;
    let f = Reader::new("fee_stats", &value);
    let max_fee = Reader::new("fee_stats", f.field("max_fee")?);
    let charged = Reader::new("fee_stats", f.field("fee_charged")?);
    Ok(FeeStats {
        last_ledger: f.int("last_ledger")?,
        last_ledger_base_fee: f.int("last_ledger_base_fee")?,
        max_fee_p50: max_fee.int("p50")?,
        max_fee_p90: max_fee.int("p90")?,
        max_fee_p99: max_fee.int("p99")?,
        fee_charged_p90: charged.int("p90")?,
    })
}

/// A Horizon problem document (any non-2xx answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    /// The last path segment of `type`, e.g. `transaction_failed`, `rate_limit_exceeded`.
    pub kind: String,
    /// `extras.result_codes.transaction` and `.operations` of a failed submission.
    pub tx_code: Option<String>,
    pub op_codes: Vec<String>,
    /// `extras.result_xdr` of a failed submission.
    pub result_xdr: Option<String>,
}

/// Reads a problem document; `status` is the HTTP status (used when the body has none).
pub fn problem(bytes: &[u8], status: u16) -> Result<Problem, DecodeError> {
    let value = parse("problem", bytes)?;
    let p = Reader::new("problem", &value);
    let kind = p.str("type")?.rsplit('/').next().unwrap_or_default().to_owned();
    let extras = value.get("extras");
    let codes = extras.and_then(|e| e.get("result_codes"));
    let tx_code = codes.and_then(|c| c.get("transaction")).and_then(Value::as_str).map(str::to_owned);
    let op_codes = codes
        .and_then(|c| c.get("operations"))
        .and_then(Value::as_array)
        .map(|ops| ops.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let result_xdr = extras.and_then(|e| e.get("result_xdr")).and_then(Value::as_str).map(str::to_owned);
    let status = if value.get("status").is_some() { p.int("status")? } else { status };
    Ok(Problem { status, kind, tx_code, op_codes, result_xdr })
}

/// A transaction resource (`POST /transactions` success, `GET /transactions/{hash}`): its hash,
/// ledger and result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub hash: [u8; 32],
    pub ledger: u32,
    pub successful: bool,
    /// The result read into engine terms when every operation is an offer operation (what the
    /// live process submits); `None` for other transactions (payments, trustlines, …).
    pub outcome: Option<TxOutcome>,
}

pub fn transaction(bytes: &[u8]) -> Result<Transaction, DecodeError> {
    let value = parse("transaction", bytes)?;
    let t = Reader::new("transaction", &value);
    let hash_text = t.str("hash")?;
    let hash = crate::stellar::unhex::<32>(hash_text).ok_or_else(|| t.error("hash", "not 64 hex digits"))?;
    let outcome = match result::parse_base64(t.str("result_xdr")?) {
        Ok(outcome) => Some(outcome),
        Err(ResultError::NotAnOfferOperation { .. }) => None,
        Err(e) => return Err(t.error("result_xdr", e.to_string())),
    };
    // Old responses have no `successful`: the result says it.
    let successful = if value.get("successful").is_some() {
        t.bool("successful")?
    } else {
        matches!(outcome, Some(TxOutcome::Success { .. }))
    };
    Ok(Transaction { hash, ledger: t.int("ledger")?, successful, outcome })
}

/// `YYYY-MM-DDTHH:MM:SSZ` (Horizon's form; fractional seconds and offsets are refused) as Unix
/// seconds.
pub fn rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month[(month - 1) as usize] {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), March-based years.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}
