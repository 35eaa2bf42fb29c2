//! Simulator state rendered as Horizon's JSON resources (`serde_json::Value`), sans IO.
//!
//! Shapes follow Horizon (`protocols/horizon` in stellar/go) and the real responses in
//! `fixtures/horizon/`: amounts are strings with 7 decimals, `price_r` has number `n`/`d`,
//! trade prices have string `n`/`d`, fee fields and sequence numbers are strings.
//!
//! Left out everywhere: `_links` (the HTTP layer knows its base URL and adds them) and
//! `last_modified_ledger`/`last_modified_time` (the ledger does not track when an entry last
//! changed). Other omissions are listed on each function.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use starlog_engine::{AccountId, Asset, Price};
use stellar_xdr::{self as xdr, ReadXdr};

use crate::ledger::{AUTH_REQUIRED_FLAG, EffectKind, EffectRecord, Ledger, Submission, TradeRecord, TxRecord};
use crate::sdex::{Book, Offer, PriceKey};

/// Stroops per unit.
const STROOPS_PER_UNIT: i64 = 10_000_000;
/// Decimals of amounts and prices in Horizon's strings.
const DECIMALS: usize = 7;
/// The problem type of a failed submission.
pub const TRANSACTION_FAILED_TYPE: &str = "https://stellar.org/horizon-errors/transaction_failed";
/// Horizon's `detail` for `transaction_failed`.
pub const TRANSACTION_FAILED_DETAIL: &str = "The transaction failed when submitted to the stellar network. The \
    `extras.result_codes` field on this response contains further details.  Descriptions of each code can be \
    found at: https://developers.stellar.org/api/errors/http-status-codes/horizon-specific/transaction-failed/";
/// Horizon marks a taker's offer id that never rested with this bit (`EncodeOfferId` with
/// the TOID type): the id is then `operation id | 1 << 62`.
const SYNTHETIC_OFFER_ID_BIT: i64 = 1 << 62;

/// Stroops as Horizon writes an amount: always 7 decimals, e.g. `12.3400000`, `-0.0000001`.
pub fn amount_string(stroops: i64) -> String {
    let sign = if stroops < 0 { "-" } else { "" };
    let abs = stroops.unsigned_abs();
    let unit = STROOPS_PER_UNIT.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / unit, abs % unit, width = DECIMALS)
}

/// `n/d` (both positive) as a decimal string with 7 decimals, the last rounded to nearest with
/// halves away from zero (Go's `big.Rat.FloatString`, which Horizon uses for prices).
pub fn price_string(n: i64, d: i64) -> String {
    let scale = i128::from(STROOPS_PER_UNIT);
    let (n, d) = (i128::from(n), i128::from(d));
    let scaled = n * scale;
    let mut q = scaled / d;
    if 2 * (scaled % d) >= d {
        q += 1;
    }
    let (whole, frac) = (q / scale, q % scale);
    format!("{whole}.{frac:0width$}", width = DECIMALS)
}

/// Horizon's asset fields with a prefix: `{prefix}asset_type`, `{prefix}asset_code`,
/// `{prefix}asset_issuer` (the last two only for credit assets).
fn asset_fields(map: &mut Map<String, Value>, prefix: &str, asset: &Asset) {
    let asset_type = match asset {
        Asset::Native => "native",
        Asset::CreditAlphanum4 { .. } => "credit_alphanum4",
        Asset::CreditAlphanum12 { .. } => "credit_alphanum12",
    };
    map.insert(format!("{prefix}asset_type"), json!(asset_type));
    if let (Some(code), Some(issuer)) = (asset.code(), asset.issuer()) {
        map.insert(format!("{prefix}asset_code"), json!(code));
        map.insert(format!("{prefix}asset_issuer"), json!(issuer.to_string()));
    }
}

/// An asset object: `{"asset_type": …, "asset_code": …, "asset_issuer": …}`.
pub fn asset(asset: &Asset) -> Value {
    let mut map = Map::new();
    asset_fields(&mut map, "", asset);
    Value::Object(map)
}

fn price_r(price: Price) -> Value {
    json!({ "n": price.n(), "d": price.d() })
}

/// `GET /accounts/{id}`; `None` when the account does not exist.
///
/// Omitted: `sequence_ledger` and `sequence_time` (Horizon omits them too when the account has
/// no sequence-ledger extension, as here), `last_modified_*`, `_links`, and the sponsorship
/// fields of balances and signers (no sponsorship is modelled; `num_sponsoring` and
/// `num_sponsored` are given as 0). Balances: trustlines in asset order, native last (as
/// Horizon). Signers: extra signers in key order, then the master key.
pub fn account(ledger: &Ledger, id: &AccountId) -> Option<Value> {
    let entry = ledger.account(id)?;
    let mut balances: Vec<Value> = ledger
        .trustlines_of(id)
        .map(|(asset, line)| {
            let mut map = Map::new();
            map.insert("balance".into(), json!(amount_string(line.balance)));
            map.insert("limit".into(), json!(amount_string(line.limit)));
            map.insert("buying_liabilities".into(), json!(amount_string(line.buying_liabilities)));
            map.insert("selling_liabilities".into(), json!(amount_string(line.selling_liabilities)));
            map.insert("is_authorized".into(), json!(line.authorized));
            map.insert("is_authorized_to_maintain_liabilities".into(), json!(line.authorized));
            asset_fields(&mut map, "", asset);
            Value::Object(map)
        })
        .collect();
    balances.push(json!({
        "balance": amount_string(entry.balance),
        "buying_liabilities": amount_string(entry.buying_liabilities),
        "selling_liabilities": amount_string(entry.selling_liabilities),
        "asset_type": "native",
    }));
    let mut signers: Vec<Value> = entry
        .signers
        .iter()
        .map(|(key, weight)| json!({ "weight": weight, "key": key.to_string(), "type": "ed25519_public_key" }))
        .collect();
    signers.push(json!({ "weight": entry.thresholds[0], "key": id.to_string(), "type": "ed25519_public_key" }));
    let data: Map<String, Value> = entry
        .data
        .iter()
        .map(|(name, value)| (String::from_utf8_lossy(name).into_owned(), json!(BASE64.encode(value))))
        .collect();
    Some(json!({
        "id": id.to_string(),
        "account_id": id.to_string(),
        "sequence": entry.seq_num.to_string(),
        "subentry_count": entry.num_subentries,
        "thresholds": {
            "low_threshold": entry.thresholds[1],
            "med_threshold": entry.thresholds[2],
            "high_threshold": entry.thresholds[3],
        },
        "flags": {
            "auth_required": entry.flags & AUTH_REQUIRED_FLAG != 0,
            "auth_revocable": false,
            "auth_immutable": false,
            "auth_clawback_enabled": false,
        },
        "balances": balances,
        "signers": signers,
        "data": data,
        "num_sponsoring": 0,
        "num_sponsored": 0,
        "paging_token": id.to_string(),
    }))
}

/// `GET /offers/{id}` (and each record of `GET /accounts/{id}/offers`).
///
/// Omitted: `_links`, `last_modified_*`, `sponsor` (Horizon's `omitempty`).
pub fn offer(offer: &Offer) -> Value {
    json!({
        "id": offer.id.to_string(),
        "paging_token": offer.id.to_string(),
        "seller": offer.seller.to_string(),
        "selling": asset(&offer.selling),
        "buying": asset(&offer.buying),
        "amount": amount_string(offer.amount),
        "price_r": price_r(offer.price),
        "price": price_string(i64::from(offer.price.n()), i64::from(offer.price.d())),
    })
}

/// Price levels of the offers selling `sold` for `bought`, best first, at most `limit`: offers
/// whose prices are the same `f64` (the book's [`PriceKey`]) are one level, shown with the
/// first offer's `price_r`. `invert` shows the price as `sold` per `bought` (bids).
fn levels(book: &Book, sold: &Asset, bought: &Asset, invert: bool, limit: usize) -> Vec<Value> {
    let mut out: Vec<(PriceKey, Price, i64)> = Vec::new();
    for offer in book.best(sold, bought) {
        let key = PriceKey::of(offer.price);
        match out.last_mut() {
            Some((last, _, amount)) if *last == key => *amount = amount.saturating_add(offer.amount),
            _ => {
                if out.len() == limit {
                    break;
                }
                out.push((key, offer.price, offer.amount));
            }
        }
    }
    out.into_iter()
        .map(|(_, price, amount)| {
            let (n, d) = if invert { (price.d(), price.n()) } else { (price.n(), price.d()) };
            json!({
                "price_r": { "n": n, "d": d },
                "price": price_string(i64::from(n), i64::from(d)),
                "amount": amount_string(amount),
            })
        })
        .collect()
}

/// `GET /order_book?selling_…=base&buying_…=counter&limit=…`. Asks are offers selling the
/// base for the counter (amount in base, price counter per base), lowest first; bids are
/// offers selling the counter for the base (amount in counter, as Horizon, and the price
/// inverted to counter per base), highest first.
pub fn order_book(book: &Book, selling: &Asset, buying: &Asset, limit: usize) -> Value {
    json!({
        "bids": levels(book, buying, selling, true, limit),
        "asks": levels(book, selling, buying, false, limit),
        "base": asset(selling),
        "counter": asset(buying),
    })
}

/// One record of `GET /trades`.
///
/// Base and counter are the pair in [`Asset`] order (native first), so one pair always has
/// the same base (Horizon orders by its internal asset ids; this is the simulator's
/// equivalent). A taker offer that did not rest gets Horizon's synthetic id (operation id with
/// bit 62 set). `price` is counter per base, reduced. Omitted: `_links`,
/// `liquidity_pool_fee_bp` and the pool fields (no pools).
pub fn trade(trade: &TradeRecord) -> Value {
    let taker_offer_id = trade.taker_offer_id.unwrap_or(trade.operation_id() | SYNTHETIC_OFFER_ID_BIT);
    // The maker sold `sold_asset`: they are the base side when it is the base asset.
    let base_is_seller = trade.sold_asset <= trade.bought_asset;
    let maker = (trade.maker_offer_id, trade.maker, trade.sold_amount, trade.sold_asset);
    let taker = (taker_offer_id, trade.taker, trade.bought_amount, trade.bought_asset);
    let (base, counter) = if base_is_seller { (maker, taker) } else { (taker, maker) };
    let g = gcd(base.2, counter.2).max(1);
    let mut map = Map::new();
    let paging_token = trade.paging_token();
    map.insert("id".into(), json!(paging_token));
    map.insert("paging_token".into(), json!(paging_token));
    map.insert("ledger_close_time".into(), json!(rfc3339(trade.close_time)));
    map.insert("trade_type".into(), json!("orderbook"));
    map.insert("base_offer_id".into(), json!(base.0.to_string()));
    map.insert("base_account".into(), json!(base.1.to_string()));
    map.insert("base_amount".into(), json!(amount_string(base.2)));
    asset_fields(&mut map, "base_", &base.3);
    map.insert("counter_offer_id".into(), json!(counter.0.to_string()));
    map.insert("counter_account".into(), json!(counter.1.to_string()));
    map.insert("counter_amount".into(), json!(amount_string(counter.2)));
    asset_fields(&mut map, "counter_", &counter.3);
    map.insert("base_is_seller".into(), json!(base_is_seller));
    map.insert("price".into(), json!({ "n": (counter.2 / g).to_string(), "d": (base.2 / g).to_string() }));
    Value::Object(map)
}

/// One record of `GET /effects` and `GET /accounts/{id}/effects` (and their streams).
///
/// `id`, `paging_token`, `account`, `type`, `type_i`, `created_at` (the ledger's close time),
/// then the type's fields as Horizon's `protocols/horizon/effects` structs name them: amounts
/// and limits as amount strings, assets as `asset_type`/`asset_code`/`asset_issuer` (prefixed
/// `sold_`/`bought_` in `trade`), `offer_id` as a string, `weight` as a number, data values in
/// base64. `trade` effects of both sides carry the crossed (maker's) offer id, as Horizon's
/// ingestion records them (no synthetic taker id). `signer_created` has `"key": ""`, as
/// Horizon serves it (its `Rehydrate`, which would copy `public_key` into `key`, has a pointer
/// receiver and `NewEffect` tests the value, so it never runs).
///
/// Omitted: `_links` (`operation`, `succeeds`, `precedes`: the HTTP layer adds them), and
/// `account_muxed`/`account_muxed_id`/`seller_muxed`/`seller_muxed_id` (Horizon's
/// `omitempty`; the ledger keeps accounts unmuxed).
pub fn effect(record: &EffectRecord) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), json!(record.id()));
    map.insert("paging_token".into(), json!(record.paging_token()));
    map.insert("account".into(), json!(record.account.to_string()));
    map.insert("type".into(), json!(record.kind.type_name()));
    map.insert("type_i".into(), json!(record.kind.type_i()));
    map.insert("created_at".into(), json!(rfc3339(record.close_time)));
    match &record.kind {
        EffectKind::AccountCreated { starting_balance } => {
            map.insert("starting_balance".into(), json!(amount_string(*starting_balance)));
        }
        EffectKind::AccountCredited { asset, amount } | EffectKind::AccountDebited { asset, amount } => {
            asset_fields(&mut map, "", asset);
            map.insert("amount".into(), json!(amount_string(*amount)));
        }
        EffectKind::SignerCreated { public_key, weight } => {
            map.insert("weight".into(), json!(weight));
            map.insert("public_key".into(), json!(public_key.to_string()));
            map.insert("key".into(), json!(""));
        }
        EffectKind::TrustlineCreated { asset, limit }
        | EffectKind::TrustlineRemoved { asset, limit }
        | EffectKind::TrustlineUpdated { asset, limit } => {
            asset_fields(&mut map, "", asset);
            map.insert("limit".into(), json!(amount_string(*limit)));
        }
        EffectKind::Trade { seller, offer_id, sold_asset, sold_amount, bought_asset, bought_amount } => {
            map.insert("seller".into(), json!(seller.to_string()));
            map.insert("offer_id".into(), json!(offer_id.to_string()));
            map.insert("sold_amount".into(), json!(amount_string(*sold_amount)));
            asset_fields(&mut map, "sold_", sold_asset);
            map.insert("bought_amount".into(), json!(amount_string(*bought_amount)));
            asset_fields(&mut map, "bought_", bought_asset);
        }
        EffectKind::DataCreated { name, value } | EffectKind::DataUpdated { name, value } => {
            map.insert("name".into(), json!(name));
            map.insert("value".into(), json!(BASE64.encode(value)));
        }
        EffectKind::DataRemoved { name } => {
            map.insert("name".into(), json!(name));
        }
    }
    Value::Object(map)
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// `GET /transactions/{hash}` and the body of a successful `POST /transactions`.
///
/// `memo`, `memo_bytes`, `memo_type` and `signatures` come from the envelope (v1 envelopes;
/// anything else gives `memo_type` `none` and no signatures, as the ledger only applies v1).
/// Omitted: `_links`; `result_meta_xdr` (Horizon's `omitempty`, and the ledger keeps no meta)
/// and `fee_meta_xdr` (no ledger-entry changes are recorded); `preconditions`, `valid_after`,
/// `valid_before` (omitempty in Horizon; not rendered here); `fee_account` equals the source
/// (no fee bumps) and is included.
pub fn transaction(record: &TxRecord) -> Value {
    let mut map = Map::new();
    let envelope = xdr::TransactionEnvelope::from_xdr(&record.envelope_xdr, xdr::Limits::none()).ok();
    let (memo, signatures) = match &envelope {
        Some(xdr::TransactionEnvelope::Tx(env)) => (Some(&env.tx.memo), env.signatures.to_vec()),
        _ => (None, Vec::new()),
    };
    let memo_type = match memo {
        Some(xdr::Memo::Text(text)) => {
            map.insert("memo".into(), json!(text.to_utf8_string_lossy()));
            map.insert("memo_bytes".into(), json!(BASE64.encode(text.as_vec())));
            "text"
        }
        Some(xdr::Memo::Id(id)) => {
            map.insert("memo".into(), json!(id.to_string()));
            "id"
        }
        Some(xdr::Memo::Hash(hash)) => {
            map.insert("memo".into(), json!(BASE64.encode(hash.0)));
            "hash"
        }
        Some(xdr::Memo::Return(hash)) => {
            map.insert("memo".into(), json!(BASE64.encode(hash.0)));
            "return"
        }
        Some(xdr::Memo::None) | None => "none",
    };
    let hash = starlog_adapters::stellar::hex(&record.hash);
    map.insert("id".into(), json!(hash));
    map.insert("paging_token".into(), json!(record.toid().to_string()));
    map.insert("successful".into(), json!(record.successful));
    map.insert("hash".into(), json!(hash));
    map.insert("ledger".into(), json!(record.ledger));
    map.insert("created_at".into(), json!(rfc3339(record.close_time)));
    map.insert("source_account".into(), json!(record.source.to_string()));
    map.insert("source_account_sequence".into(), json!(record.seq_num.to_string()));
    map.insert("fee_account".into(), json!(record.source.to_string()));
    map.insert("fee_charged".into(), json!(record.fee_charged_stroops.to_string()));
    map.insert("max_fee".into(), json!(record.max_fee_stroops.to_string()));
    map.insert("operation_count".into(), json!(record.operation_count));
    map.insert("envelope_xdr".into(), json!(BASE64.encode(&record.envelope_xdr)));
    map.insert("result_xdr".into(), json!(BASE64.encode(&record.result_xdr)));
    map.insert("memo_type".into(), json!(memo_type));
    let signatures: Vec<Value> = signatures.iter().map(|s| json!(BASE64.encode(s.signature.0.as_slice()))).collect();
    map.insert("signatures".into(), Value::Array(signatures));
    Value::Object(map)
}

/// The 400 `transaction_failed` problem for a submission that was rejected or failed.
///
/// `envelope_base64` is the submitted envelope (Horizon echoes it in `extras.envelope_xdr`;
/// [`Submission`] does not keep it). `result_codes.operations` is present when the result
/// carries operation results (`tx_failed`), as in Horizon. Omitted: `instance` (older
/// Horizons only).
pub fn tx_failed_problem(submission: &Submission, envelope_base64: &str) -> Value {
    let mut codes = Map::new();
    codes.insert("transaction".into(), json!(tx_code(submission.result.result.discriminant())));
    if let Some(ops) = op_results(&submission.result.result) {
        codes.insert("operations".into(), Value::Array(ops.iter().map(|r| json!(op_code(r))).collect()));
    }
    json!({
        "type": TRANSACTION_FAILED_TYPE,
        "title": "Transaction Failed",
        "status": 400,
        "detail": TRANSACTION_FAILED_DETAIL,
        "extras": {
            "envelope_xdr": envelope_base64,
            "result_codes": codes,
            "result_xdr": submission.result_base64,
        },
    })
}

fn op_results(result: &xdr::TransactionResultResult) -> Option<&[xdr::OperationResult]> {
    match result {
        xdr::TransactionResultResult::TxSuccess(ops) | xdr::TransactionResultResult::TxFailed(ops) => {
            Some(ops.as_slice())
        }
        _ => None,
    }
}

/// Horizon's name of a transaction result code, e.g. `tx_bad_seq`.
pub fn tx_code(code: xdr::TransactionResultCode) -> &'static str {
    use xdr::TransactionResultCode as C;
    match code {
        C::TxFeeBumpInnerSuccess => "tx_fee_bump_inner_success",
        C::TxFeeBumpInnerFailed => "tx_fee_bump_inner_failed",
        C::TxSuccess => "tx_success",
        C::TxFailed => "tx_failed",
        C::TxTooEarly => "tx_too_early",
        C::TxTooLate => "tx_too_late",
        C::TxMissingOperation => "tx_missing_operation",
        C::TxBadSeq => "tx_bad_seq",
        C::TxBadAuth => "tx_bad_auth",
        C::TxInsufficientBalance => "tx_insufficient_balance",
        C::TxNoAccount => "tx_no_source_account",
        C::TxInsufficientFee => "tx_insufficient_fee",
        C::TxBadAuthExtra => "tx_bad_auth_extra",
        C::TxInternalError => "tx_internal_error",
        C::TxNotSupported => "tx_not_supported",
        C::TxBadSponsorship => "tx_bad_sponsorship",
        C::TxBadMinSeqAgeOrGap => "tx_bad_minseq_age_or_gap",
        C::TxMalformed => "tx_malformed",
        C::TxSorobanInvalid => "tx_soroban_invalid",
        C::TxFrozenKeyAccessed => "tx_frozen_key_accessed",
    }
}

/// Horizon's name of an operation result, e.g. `op_underfunded`, for the operation types the
/// simulator applies; other types' inner results (which the ledger never produces: it rejects
/// those operations with `op_not_supported`) are `op_unknown`. Note Horizon's own spellings `sell_not_authorized`, `buy_not_authorized` and
/// `buy_no_issuer` (no `op_` prefix) for offer operations.
pub fn op_code(result: &xdr::OperationResult) -> &'static str {
    use xdr::OperationResultTr as T;
    let tr = match result {
        xdr::OperationResult::OpInner(tr) => tr,
        xdr::OperationResult::OpBadAuth => return "op_bad_auth",
        xdr::OperationResult::OpNoAccount => return "op_no_source_account",
        xdr::OperationResult::OpNotSupported => return "op_not_supported",
        xdr::OperationResult::OpTooManySubentries => return "op_too_many_subentries",
        xdr::OperationResult::OpExceededWorkLimit => return "op_exceeded_work_limit",
        xdr::OperationResult::OpTooManySponsoring => return "op_too_many_sponsoring",
    };
    match tr {
        T::CreateAccount(r) => create_account_code(r.discriminant()),
        T::Payment(r) => payment_code(r.discriminant()),
        T::ChangeTrust(r) => change_trust_code(r.discriminant()),
        T::ManageData(r) => manage_data_code(r.discriminant()),
        T::ManageSellOffer(r) | T::CreatePassiveSellOffer(r) => offer_code(r.discriminant() as i32),
        T::ManageBuyOffer(r) => offer_code(r.discriminant() as i32),
        _ => "op_unknown",
    }
}

fn create_account_code(code: xdr::CreateAccountResultCode) -> &'static str {
    use xdr::CreateAccountResultCode as C;
    match code {
        C::Success => "op_success",
        C::Malformed => "op_malformed",
        C::Underfunded => "op_underfunded",
        C::LowReserve => "op_low_reserve",
        C::AlreadyExist => "op_already_exists",
    }
}

fn payment_code(code: xdr::PaymentResultCode) -> &'static str {
    use xdr::PaymentResultCode as C;
    match code {
        C::Success => "op_success",
        C::Malformed => "op_malformed",
        C::Underfunded => "op_underfunded",
        C::SrcNoTrust => "op_src_no_trust",
        C::SrcNotAuthorized => "op_src_not_authorized",
        C::NoDestination => "op_no_destination",
        C::NoTrust => "op_no_trust",
        C::NotAuthorized => "op_not_authorized",
        C::LineFull => "op_line_full",
        C::NoIssuer => "op_no_issuer",
    }
}

fn change_trust_code(code: xdr::ChangeTrustResultCode) -> &'static str {
    use xdr::ChangeTrustResultCode as C;
    match code {
        C::Success => "op_success",
        C::Malformed => "op_malformed",
        C::NoIssuer => "op_no_issuer",
        C::InvalidLimit => "op_invalid_limit",
        C::LowReserve => "op_low_reserve",
        C::SelfNotAllowed => "op_self_not_allowed",
        C::TrustLineMissing => "op_trust_line_missing",
        C::CannotDelete => "op_cannot_delete",
        C::NotAuthMaintainLiabilities => "op_not_auth_maintain_liabilities",
    }
}

fn manage_data_code(code: xdr::ManageDataResultCode) -> &'static str {
    use xdr::ManageDataResultCode as C;
    match code {
        C::Success => "op_success",
        C::NotSupportedYet => "op_not_supported_yet",
        C::NameNotFound => "op_data_name_not_found",
        C::LowReserve => "op_low_reserve",
        C::InvalidName => "op_data_invalid_name",
    }
}

/// ManageSellOffer, CreatePassiveSellOffer and ManageBuyOffer share their code numbers.
fn offer_code(code: i32) -> &'static str {
    match code {
        0 => "op_success",
        -1 => "op_malformed",
        -2 => "op_sell_no_trust",
        -3 => "op_buy_no_trust",
        -4 => "sell_not_authorized",
        -5 => "buy_not_authorized",
        -6 => "op_line_full",
        -7 => "op_underfunded",
        -8 => "op_cross_self",
        -9 => "op_sell_no_issuer",
        -10 => "buy_no_issuer",
        -11 => "op_offer_not_found",
        -12 => "op_low_reserve",
        _ => "op_unknown",
    }
}

/// Unix seconds as RFC 3339 in UTC, e.g. `2021-03-25T21:14:11Z` (proleptic Gregorian
/// calendar, integer arithmetic: days to civil date by 400-year eras).
pub fn rfc3339(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so that the leap day is the last day of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
