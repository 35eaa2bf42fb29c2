//! The engine spine: inputs applied from their archived (journaled) form, order placement
//! through every check, operator controls, and determinism of outputs and state hash.

use proptest::prelude::*;
use starlog_engine::engine::{Engine, EngineConfig, refused};
use starlog_engine::events::{
    AccountSnapshot, Balance, BookSnapshot, Claim, Command, Input, Level, OfferEffect, OfferSnapshot, OpResult,
    OperatorCommand, SecurityEvent, SessionStart, Timer, Trade, TxFailed, TxSubmitted, TxSucceeded, WireAsset,
    WirePrice,
};
use starlog_engine::incident::IncidentConfig;
use starlog_engine::outputs::{Decision, Output, op_kind};
use starlog_engine::risk::{RejectCode, RiskLimits, Side, ValidationLevel};
use starlog_engine::throttle::ThrottleConfig;
use starlog_engine::{Amount, Asset, OrderStatus, Pair, Price};

const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
const ACCOUNT: [u8; 32] = [9; 32];

fn pair() -> Pair {
    format!("native/USD:{ISSUER}").parse().unwrap()
}
fn usd() -> Asset {
    format!("USD:{ISSUER}").parse().unwrap()
}
fn a(s: &str) -> Amount {
    s.parse().unwrap()
}
fn p(s: &str) -> Price {
    s.parse().unwrap()
}

fn config() -> EngineConfig {
    EngineConfig {
        risk: RiskLimits {
            order_amount_stroops_max: a("1000").stroops(),
            order_notional_stroops_max: a("500").stroops(),
            price_band_bps_max: 500,
            open_orders_pair_max: 10,
            open_orders_total_max: 20,
            inventory_stroops_max: a("5000").stroops(),
            daily_loss_stroops_max: a("100").stroops(),
        },
        throttle: ThrottleConfig::DEFAULT,
        validation: ValidationLevel::Strict,
        incidents: IncidentConfig::DEFAULT,
    }
}

fn session() -> Input {
    Input::SessionStart(SessionStart {
        config_hash: [1; 32],
        config: String::new(),
        security_level: 2,
        validation_level: ValidationLevel::Strict as u8,
        seed: 7,
        account: ACCOUNT,
        pairs: vec![pair().into()],
    })
}

fn book(bid: (i32, i32), ask: (i32, i32)) -> Input {
    Input::Book(BookSnapshot {
        pair: 0,
        bids: vec![Level { price: WirePrice { n: bid.0, d: bid.1 }, amount_stroops: 10_000_000_000 }],
        asks: vec![Level { price: WirePrice { n: ask.0, d: ask.1 }, amount_stroops: 10_000_000_000 }],
    })
}

fn account(xlm: i64, usd_stroops: i64) -> Input {
    let line = |asset: Asset, balance: i64, limit: i64| Balance {
        asset: WireAsset::from(asset),
        balance_stroops: balance,
        buying_liabilities_stroops: 0,
        selling_liabilities_stroops: 0,
        limit_stroops: limit,
    };
    Input::Account(AccountSnapshot {
        account: ACCOUNT,
        ledger: 1,
        sequence: 100,
        subentry_count: 1,
        num_sponsoring: 0,
        num_sponsored: 0,
        base_reserve_stroops: 5_000_000,
        balances: vec![line(Asset::Native, xlm, i64::MAX), line(usd(), usd_stroops, i64::MAX / 2)],
        offers: vec![],
    })
}

fn operator(command: Command) -> Input {
    Input::Operator(OperatorCommand { operator: "alice".into(), command })
}

/// Feeds inputs through their journaled (archived) form, as replay does.
struct Harness {
    engine: Engine,
    seq: u64,
    out: Vec<Output>,
}

impl Harness {
    fn new() -> Harness {
        Harness { engine: Engine::new(config()).unwrap(), seq: 0, out: Vec::new() }
    }
    fn feed(&mut self, ts: i64, input: &Input) -> Vec<Output> {
        self.seq += 1;
        let bytes = starlog_engine::events::to_bytes(input).unwrap();
        let archived = starlog_engine::events::access(&bytes).unwrap();
        let mut out = Vec::new();
        self.engine.apply(self.seq, ts, archived, &mut out);
        self.out.extend(out.iter().cloned());
        out
    }
    fn ready() -> Harness {
        let mut h = Harness::new();
        assert!(h.feed(1, &session()).is_empty());
        assert!(h.feed(2, &book((99, 1000), (101, 1000))).is_empty());
        assert!(h.feed(3, &account(a("1000").stroops(), a("1000").stroops())).is_empty());
        h
    }
    fn place(&mut self, side: Side, amount: &str, price: &str) -> Result<u64, RejectCode> {
        let mut out = Vec::new();
        let r = self.engine.place(0, side, a(amount), p(price), &mut out);
        self.out.extend(out);
        r
    }
}

#[test]
fn the_session_comes_first_and_once() {
    let mut h = Harness::new();
    let refused_with =
        |out: Vec<Output>, reason| matches!(out.as_slice(), [Output::InputRefused(r)] if r.reason == reason);
    // A security level that is none of development, testing, staging, production.
    for level in [0, 5, 255] {
        let Input::SessionStart(mut s) = session() else { unreachable!() };
        s.security_level = level;
        assert!(refused_with(h.feed(1, &Input::SessionStart(s)), refused::BAD_SESSION), "level {level}");
    }
    assert!(refused_with(h.feed(1, &book((1, 2), (2, 2))), refused::NO_SESSION));
    assert!(h.feed(2, &session()).is_empty());
    assert!(refused_with(h.feed(3, &session()), refused::SESSION_AGAIN));
    assert!(refused_with(h.feed(2, &Input::Timer(Timer {})), refused::TIME_BACKWARDS));
}

#[test]
fn bad_books_and_accounts_are_refused_and_change_nothing() {
    let mut h = Harness::ready();
    let before = h.engine.state_hash();
    let crossed = book((102, 1000), (101, 1000));
    assert!(matches!(h.feed(4, &crossed).as_slice(), [Output::InputRefused(r)] if r.reason == refused::BAD_BOOK));
    let Input::Book(mut other_pair) = book((99, 1000), (101, 1000)) else { unreachable!() };
    other_pair.pair = 3;
    assert!(
        matches!(h.feed(5, &Input::Book(other_pair)).as_slice(), [Output::InputRefused(r)] if r.reason == refused::UNKNOWN_PAIR)
    );
    let Input::Account(mut foreign) = account(1, 1) else { unreachable!() };
    foreign.account = [3; 32];
    assert!(
        matches!(h.feed(6, &Input::Account(foreign)).as_slice(), [Output::InputRefused(r)] if r.reason == refused::BAD_ACCOUNT)
    );
    assert_eq!(h.engine.book(0).unwrap().best_bid(), Some(p("0.099")));
    // Only the clock and the seq moved.
    assert_ne!(before, h.engine.state_hash());
}

#[test]
fn an_accepted_order_becomes_a_decision_an_order_and_an_intent() {
    let mut h = Harness::ready();
    let id = h.place(Side::Sell, "100", "0.1").unwrap();
    let o = h.engine.orders().find(|o| o.id == id).copied().unwrap();
    assert_eq!(o.status, OrderStatus::PendingSubmit);
    let intent = h.out.iter().find_map(|x| match x {
        Output::Intent(i) => Some(i.clone()),
        _ => None,
    });
    let op = intent.unwrap().ops[0];
    assert_eq!(
        (op.order, op.amount_stroops, op.price, op.offer_id),
        (id, a("100").stroops(), WirePrice { n: 1, d: 10 }, 0)
    );
    assert_eq!(op.selling, WireAsset::from(Asset::Native));
    // Held: 100 XLM of selling liabilities, 10 USD of buying liabilities, one more subentry.
    let b = h.engine.balances().unwrap();
    assert_eq!(b.line(&Asset::Native).unwrap().selling_liabilities, a("100"));
    assert_eq!(b.line(&usd()).unwrap().buying_liabilities, a("10"));
    assert_eq!(b.subentries, 2);
    // A buy is a sell of the counter asset at the inverse price.
    let id = h.place(Side::Buy, "50", "0.098").unwrap();
    let Some(Output::Intent(i)) = h.out.iter().rev().find(|x| matches!(x, Output::Intent(_))) else { panic!() };
    // A buy is a ManageBuyOffer of the base amount, at counter per base, selling the counter.
    assert_eq!((i.ops[0].order, i.ops[0].kind, i.ops[0].amount_stroops), (id, op_kind::MANAGE_BUY, a("50").stroops()));
    assert_eq!(i.ops[0].price, WirePrice { n: 49, d: 500 });
    assert_eq!((i.ops[0].selling, i.ops[0].buying), (WireAsset::from(usd()), WireAsset::from(Asset::Native)));
}

/// A buy that crosses in part at a better price on arrival rests for the rest of its base at
/// its own price: it holds that much counter, no more (the network rests a ManageBuyOffer so),
/// and a cancel gives back exactly that.
#[test]
fn a_buy_resting_after_a_better_price_on_arrival_holds_only_what_its_rest_needs() {
    let mut h = Harness::ready();
    let id = h.place(Side::Buy, "100", "0.1").unwrap();
    let intent = last_intent(&h).id;
    let usd_line = |h: &Harness| {
        let l = *h.engine.balances().unwrap().line(&usd()).unwrap();
        (l.balance, l.selling_liabilities)
    };
    assert_eq!(usd_line(&h), (a("1000"), a("10")));
    h.feed(10, &submitted(intent));
    // 50 XLM at 0.08 cross on arrival, for 4 USD; 50 rest at 0.1, which needs 5 USD.
    h.feed(11, &created(intent, 555, vec![xlm_sold_to_us("50", "4")]));
    assert_eq!(status(&h, id), OrderStatus::PartiallyFilled);
    assert_eq!(usd_line(&h), (a("996"), a("5")), "the 1 USD the better price saved is free");
    let o = h.engine.orders().find(|o| o.id == id).copied().unwrap();
    assert_eq!(o.commitment.selling_liabilities, a("5"));
    // The cancel gives back the 5 it holds.
    let mut out = Vec::new();
    h.engine.cancel(id, &mut out);
    h.feed(12, &cancel_landed(intents_of(&out)[0].id, 9));
    assert_eq!(status(&h, id), OrderStatus::Cancelled);
    assert_eq!(usd_line(&h), (a("996"), a("0")));
}

/// Someone's offer of `xlm` XLM that our buy crossed, for `usd` USD.
fn xlm_sold_to_us(xlm: &str, usd_paid: &str) -> Claim {
    Claim {
        seller: [6; 32],
        offer_id: 9,
        asset_sold: WireAsset::from(Asset::Native),
        amount_sold_stroops: a(xlm).stroops(),
        asset_bought: WireAsset::from(usd()),
        amount_bought_stroops: a(usd_paid).stroops(),
    }
}

/// A buy that crosses at a better price than its own on arrival gets the base it asked for
/// and pays only the counter it crossed for: the rest of its hold is given back at once.
#[test]
fn a_buy_filled_on_arrival_at_a_better_price_pays_what_it_crossed_for() {
    let mut h = Harness::ready();
    let id = h.place(Side::Buy, "50", "0.098").unwrap();
    let intent = last_intent(&h).id;
    assert_eq!(lines(&h).1, (a("1000"), a("0")));
    let usd_free = |h: &Harness| {
        let l = *h.engine.balances().unwrap().line(&usd()).unwrap();
        l.balance.checked_sub(l.selling_liabilities).unwrap()
    };
    assert_eq!(usd_free(&h), a("995.1"), "4.9 USD held for the buy");
    h.feed(10, &submitted(intent));
    // Someone's 50 XLM at 0.09: our buy takes all of it for 4.5 USD.
    let Input::TxSucceeded(mut ok) = created(intent, 0, vec![xlm_sold_to_us("50", "4.5")]) else { unreachable!() };
    ok.ops[0].effect = OfferEffect::Deleted;
    ok.ops[0].remaining_stroops = 0;
    h.feed(11, &Input::TxSucceeded(ok));
    assert_eq!(status(&h, id), OrderStatus::Filled);
    assert_eq!(h.engine.orders().find(|o| o.id == id).unwrap().filled, a("50"));
    let xlm = *h.engine.balances().unwrap().line(&Asset::Native).unwrap();
    assert_eq!((xlm.balance, xlm.buying_liabilities), (a("1050"), a("0")));
    assert_eq!(usd_free(&h), a("995.5"), "4.5 USD paid, the other 0.4 free again");
}

#[test]
fn checks_run_in_stage_order_with_their_codes() {
    let mut h = Harness::new();
    h.feed(1, &session());
    h.feed(2, &book((99, 1000), (101, 1000)));
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::NoAccountState));
    h.feed(3, &account(a("1000").stroops(), a("1000").stroops()));
    assert_eq!(h.place(Side::Sell, "1", "0.2"), Err(RejectCode::PriceBand));
    assert_eq!(h.place(Side::Sell, "1001", "0.1"), Err(RejectCode::OrderAmountMax));
    assert_eq!(h.place(Side::Sell, "999", "0.1"), Err(RejectCode::Underfunded));
    assert_eq!(h.engine.place(7, Side::Sell, a("1"), p("0.1"), &mut h.out), Err(RejectCode::UnknownPair));
    h.place(Side::Buy, "10", "0.099").unwrap();
    assert_eq!(h.place(Side::Sell, "10", "0.099"), Err(RejectCode::SelfCross));
    // Every refusal was recorded as a decision with its code.
    let codes: Vec<u16> = h
        .out
        .iter()
        .filter_map(|x| match x {
            Output::Decision(Decision { reject_code, .. }) => Some(*reject_code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![104, 303, 300, 403, 103, 0, 304]);
}

#[test]
fn operators_halt_resume_and_set_limits_and_levels() {
    let mut h = Harness::ready();
    h.feed(4, &operator(Command::Halt));
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::Halted));
    h.feed(5, &operator(Command::Resume));
    assert!(h.place(Side::Sell, "1", "0.1").is_ok());
    h.feed(6, &operator(Command::SetLimit { limit: 1, value: a("5").stroops() }));
    assert_eq!(h.place(Side::Sell, "6", "0.1"), Err(RejectCode::OrderAmountMax));
    assert!(matches!(
        h.feed(7, &operator(Command::SetLimit { limit: 99, value: 1 })).as_slice(),
        [Output::InputRefused(r)] if r.reason == refused::BAD_COMMAND
    ));
    h.feed(8, &operator(Command::SetValidationLevel { level: ValidationLevel::Basic as u8 }));
    assert_eq!(h.engine.validation_level(), ValidationLevel::Basic);
    assert!(h.place(Side::Sell, "1", "5").is_ok(), "BASIC skips the price band");
    let controls = h.out.iter().filter(|x| matches!(x, Output::Control(c) if c.by == "alice")).count();
    assert_eq!(controls, 4);
}

#[test]
fn the_throttle_limits_places_per_ledger() {
    let mut h = Harness::ready();
    let mut accepted = 0;
    let mut throttled = 0;
    for _ in 0..60 {
        match h.place(Side::Sell, "0.1", "0.1") {
            Ok(_) => accepted += 1,
            Err(RejectCode::Throttled) => throttled += 1,
            Err(RejectCode::OpenOrdersPairMax) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(accepted, 10, "the open-orders limit binds first");
    // Attempts count against the throttle, refused or not (security runs before risk): the
    // 40 refused by the open-orders limit used up the ledger's 50 places.
    assert_eq!(throttled, 10);
    let mut h = Harness::ready();
    h.feed(4, &operator(Command::SetLimit { limit: 4, value: 1000 }));
    h.feed(5, &operator(Command::SetLimit { limit: 5, value: 1000 }));
    let results: Vec<_> = (0..60).map(|_| h.place(Side::Sell, "0.1", "0.1")).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 50, "50 places per account per ledger");
    assert!(results[50..].iter().all(|r| *r == Err(RejectCode::Throttled)));
    // A ledger later the bucket has refilled.
    h.feed(5_000_000_010, &Input::Timer(Timer {}));
    assert!(h.place(Side::Sell, "0.1", "0.1").is_ok());
}

#[derive(Clone, Debug)]
enum Step {
    Book(i32, i32),
    Account(i64),
    Halt,
    Resume,
    Level(u8),
    Limit(u16, i64),
    Timer(i64),
    Place(bool, i64, i32),
    TxOk(i64),
    TxFail,
    Sec(u8),
    /// A trade on the n-th resting offer of ours for this share (‰) of what remains of it.
    Fill(usize, i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (900i32..1000, 1i32..40).prop_map(|(bid, spread)| Step::Book(bid, bid + spread)),
        1 => (0i64..20_000_000_000).prop_map(Step::Account),
        1 => Just(Step::Halt),
        1 => Just(Step::Resume),
        1 => (0u8..6).prop_map(Step::Level),
        1 => (1u16..9, -5i64..20_000_000_000).prop_map(|(l, v)| Step::Limit(l, v)),
        1 => (0i64..10_000_000_000).prop_map(Step::Timer),
        4 => (any::<bool>(), 1i64..20_000_000_000, 850i32..1150).prop_map(|(s, amt, px)| Step::Place(s, amt, px)),
        2 => (1i64..1_000_000).prop_map(Step::TxOk),
        1 => Just(Step::TxFail),
        1 => (0u8..8).prop_map(Step::Sec),
        // Whole fills as often as partial ones: an order ending is where a hold is released.
        2 => (0usize..8, prop_oneof![Just(1000i64), 1i64..1000]).prop_map(|(n, share)| Step::Fill(n, share)),
    ]
}

/// Is every line committed within what it holds (selling liabilities plus, for XLM, the
/// minimum balance)?
fn within_means(h: &Harness) -> bool {
    h.engine.balances().is_none_or(|b| {
        b.lines().iter().all(|l| {
            let reserve = if l.asset.is_native() { b.minimum_balance(0).unwrap().stroops() } else { 0 };
            i128::from(l.selling_liabilities.stroops()) + i128::from(reserve) <= i128::from(l.balance.stroops())
        })
    })
}

/// Runs a scenario; returns every output and the state hash after each step. Panics if a
/// placement takes an account that was within its means beyond them.
fn run(steps: &[Step]) -> (Vec<Output>, Vec<[u8; 16]>, Harness) {
    let mut h = Harness::new();
    h.feed(1, &session());
    let mut ts = 2;
    let mut hashes = Vec::new();
    let mut seen = 0;
    let mut pending = std::collections::VecDeque::new();
    // Trades after every account snapshot's ledger (1) and every result's (7).
    let (mut ledger, mut trade_id) = (100u32, 0u128);
    for s in steps {
        ts += 1;
        for o in &h.out[seen..] {
            if let Output::Intent(i) = o {
                pending.push_back(i.id);
            }
        }
        seen = h.out.len();
        match *s {
            Step::TxOk(offer) => {
                if let Some(i) = pending.pop_front() {
                    drop(h.feed(ts, &created(i, offer, vec![])));
                }
            }
            Step::Fill(n, share) => {
                let resting: Vec<_> =
                    h.engine.orders().filter(|o| o.status.is_on_book() && o.offer_id != 0).copied().collect();
                if !resting.is_empty() {
                    let o = resting[n % resting.len()];
                    let base = ((o.amount.stroops() - o.filled.stroops()) * share / 1000).max(1);
                    let counter = Price::new(o.price.n(), o.price.d())
                        .unwrap()
                        .notional_floor(Amount::from_stroops(base).unwrap())
                        .unwrap();
                    let before = within_means(&h);
                    let selling = if o.side == Side::Sell { Asset::Native } else { usd() };
                    let free = |h: &Harness| h.engine.balances().map(|b| b.available_to_sell(&selling, 0).unwrap());
                    let free_before = free(&h);
                    (ledger, trade_id) = (ledger + 1, trade_id + 1);
                    let (ours, theirs) = (o.offer_id, 4242);
                    drop(h.feed(
                        ts,
                        &Input::Trade(Trade {
                            pair: 0,
                            id: trade_id,
                            ledger,
                            ledger_close_time: 0,
                            price: WirePrice { n: o.price.n(), d: o.price.d() },
                            base_amount_stroops: base,
                            counter_amount_stroops: counter.stroops(),
                            base_is_seller: o.side == Side::Sell,
                            base_offer_id: if o.side == Side::Sell { ours } else { theirs },
                            counter_offer_id: if o.side == Side::Buy { ours } else { theirs },
                            base_account: [9; 32],
                            counter_account: [7; 32],
                        }),
                    ));
                    // What a fill sells leaves the balance and the liabilities alike.
                    assert!(!before || within_means(&h), "a fill left the account overcommitted");
                    let after = h.engine.orders().find(|x| x.id == o.id).unwrap();
                    assert_eq!(after.filled.stroops(), o.filled.stroops() + base, "the fill was booked");
                    // What was sold is gone: never free to sell again. Only an offer that ended
                    // frees what it held beyond its fills (the rounding of its liabilities) and its
                    // subentry's reserve.
                    if let (Some(was), Some(now), Some(b)) = (free_before, free(&h), h.engine.balances()) {
                        let sold = if o.side == Side::Sell { base } else { counter.stroops() };
                        let freed = if after.status.is_terminal() {
                            let rest = (o.commitment.selling_liabilities.stroops() - sold).max(0);
                            rest + if selling.is_native() { b.base_reserve.stroops() } else { 0 }
                        } else {
                            0
                        };
                        assert!(
                            now.stroops() <= was.stroops() + freed,
                            "a fill made sold funds free again: {was} -> {now}"
                        );
                    }
                }
            }
            Step::TxFail => {
                if let Some(i) = pending.pop_front() {
                    drop(h.feed(
                        ts,
                        &Input::TxFailed(TxFailed { intent: i, hash: [1; 32], tx_code: -1, op_codes: vec![-7] }),
                    ));
                }
            }
            Step::Sec(k) => {
                let ev = match k {
                    0 => SecurityEvent::AuthFailure { operator: "x".into() },
                    1 => SecurityEvent::SignerFailure { store: "hsm".into() },
                    2 => SecurityEvent::RateLimited { retry_after_ms: 10 },
                    3 => SecurityEvent::PolicyViolation { intent: 1, rule: 2 },
                    4 => SecurityEvent::UnknownOffer { offer_id: 5 },
                    5 => SecurityEvent::SignerCompromise { store: "file".into() },
                    6 => SecurityEvent::UnexpectedTransaction { hash: [2; 32] },
                    _ => SecurityEvent::UnexplainedBalanceChange {
                        asset: WireAsset::from(Asset::Native),
                        delta_stroops: -1,
                    },
                };
                drop(h.feed(ts, &security(ev)));
            }
            Step::Book(b, a) => drop(h.feed(ts, &book((b, 10_000), (a, 10_000)))),
            Step::Account(x) => drop(h.feed(ts, &account(x, x / 10))),
            Step::Halt => drop(h.feed(ts, &operator(Command::Halt))),
            Step::Resume => drop(h.feed(ts, &operator(Command::Resume))),
            Step::Level(l) => drop(h.feed(ts, &operator(Command::SetValidationLevel { level: l }))),
            Step::Limit(l, v) => drop(h.feed(ts, &operator(Command::SetLimit { limit: l, value: v }))),
            Step::Timer(dt) => {
                ts += dt;
                drop(h.feed(ts, &Input::Timer(Timer {})));
            }
            Step::Place(sell, amount, px) => {
                let side = if sell { Side::Sell } else { Side::Buy };
                let before = within_means(&h);
                let (amount, price) = (Amount::from_stroops(amount).unwrap(), Price::new(px, 10_000).unwrap());
                let accepted = h.engine.place(0, side, amount, price, &mut h.out).is_ok();
                // An account snapshot may show less than is committed (the balance fell); no
                // placement may be what takes it there.
                assert!(!before || within_means(&h), "a placement overcommitted the account");
                // An accepted order is within the limits in force, at the level in force.
                let (limits, level) = (*h.engine.limits(), h.engine.validation_level());
                if accepted {
                    assert!(amount.stroops() <= limits.order_amount_stroops_max, "amount over the limit");
                    if level >= ValidationLevel::Standard {
                        let notional = price.notional_ceil(amount).unwrap().stroops();
                        assert!(notional <= limits.order_notional_stroops_max, "notional over the limit");
                        let open = h.engine.orders().filter(|o| !o.status.is_terminal()).count();
                        assert!(open <= limits.open_orders_pair_max as usize, "open orders over the pair limit");
                        assert!(open <= limits.open_orders_total_max as usize, "open orders over the total limit");
                    }
                }
            }
        }
        if let Err(e) = h.engine.check_aggregates() {
            panic!("aggregates diverged from the orders after {s:?}: {e}");
        }
        hashes.push(h.engine.state_hash());
    }
    (h.out.clone(), hashes, h)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn same_inputs_same_outputs_and_state_hashes(steps in prop::collection::vec(step(), 1..80)) {
        let (out1, hashes1, _) = run(&steps);
        let (out2, hashes2, _) = run(&steps);
        prop_assert_eq!(out1, out2);
        prop_assert_eq!(hashes1, hashes2);
    }

    /// Every accepted order respects the limits in force when it was accepted, and the
    /// account is never committed beyond what it holds.
    #[test]
    fn accepted_orders_never_exceed_limits(steps in prop::collection::vec(step(), 1..80)) {
        let (out, _, h) = run(&steps);
        let limits = *h.engine.limits();
        for o in h.engine.orders() {
            // Limits only ever tighten or loosen by operator command; check against the final
            // amount limit only when no SetLimit for it happened.
            if !steps.iter().any(|s| matches!(s, Step::Limit(1, _))) {
                prop_assert!(o.amount.stroops() <= limits.order_amount_stroops_max);
            }
            prop_assert!(!o.amount.is_zero());
        }
        let accepted = out.iter().filter(|x| matches!(x, Output::Decision(d) if d.reject_code == 0)).count();
        prop_assert_eq!(accepted, h.engine.orders().count());
        // Locked down (a P0 with no unlock in this scenario): nothing was accepted after it.
        if let Some(p0) = out.iter().position(|x| matches!(x, Output::Incident(i) if i.priority == 0)) {
            prop_assert!(out[p0..].iter().all(|x| !matches!(x, Output::Decision(d) if d.reject_code == 0)));
        }
    }
}

fn last_intent(h: &Harness) -> starlog_engine::outputs::Intent {
    h.out
        .iter()
        .rev()
        .find_map(|x| match x {
            Output::Intent(i) => Some(i.clone()),
            _ => None,
        })
        .expect("an intent")
}

fn status(h: &Harness, id: u64) -> OrderStatus {
    h.engine.orders().find(|o| o.id == id).unwrap().status
}

fn submitted(intent: u64) -> Input {
    Input::TxSubmitted(TxSubmitted {
        intent,
        hash: [4; 32],
        sequence: 101,
        max_time: 99,
        fee_stroops: 100,
        signed_by: ACCOUNT,
        key_store: 2,
    })
}

fn created(intent: u64, offer_id: i64, claims: Vec<Claim>) -> Input {
    Input::TxSucceeded(TxSucceeded {
        intent,
        hash: [4; 32],
        ledger: 7,
        fee_charged_stroops: 100,
        ops: vec![OpResult { effect: OfferEffect::Created, offer_id, remaining_stroops: 1, claims }],
    })
}

fn security(ev: SecurityEvent) -> Input {
    Input::Security(ev)
}

#[test]
fn transaction_results_move_orders_and_release_their_holds() {
    let mut h = Harness::ready();
    let id = h.place(Side::Sell, "100", "0.1").unwrap();
    let intent = last_intent(&h).id;
    h.feed(10, &submitted(intent));
    assert_eq!(status(&h, id), OrderStatus::Submitted);
    h.feed(11, &created(intent, 555, vec![]));
    assert_eq!(status(&h, id), OrderStatus::Open);
    assert_eq!(h.engine.orders().next().unwrap().offer_id, 555);
    // A failed submission: rejected, and its hold released.
    let id2 = h.place(Side::Sell, "50", "0.1").unwrap();
    let intent2 = last_intent(&h).id;
    let held = h.engine.balances().unwrap().line(&Asset::Native).unwrap().selling_liabilities;
    assert_eq!(held, a("150"));
    h.feed(12, &submitted(intent2));
    h.feed(13, &Input::TxFailed(TxFailed { intent: intent2, hash: [5; 32], tx_code: -1, op_codes: vec![-7] }));
    assert_eq!(status(&h, id2), OrderStatus::Rejected);
    assert_eq!(h.engine.balances().unwrap().line(&Asset::Native).unwrap().selling_liabilities, a("100"));
    // Partly filled on arrival: the claims say how much.
    let id3 = h.place(Side::Sell, "10", "0.1").unwrap();
    let intent3 = last_intent(&h).id;
    let claim = Claim {
        seller: [6; 32],
        offer_id: 9,
        asset_sold: WireAsset::from(usd()),
        amount_sold_stroops: a("0.4").stroops(),
        asset_bought: WireAsset::from(Asset::Native),
        amount_bought_stroops: a("4").stroops(),
    };
    h.feed(14, &created(intent3, 556, vec![claim]));
    let o = h.engine.orders().find(|o| o.id == id3).copied().unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::PartiallyFilled, a("4")));
    // Results for intents the engine never emitted are refused.
    assert!(
        matches!(h.feed(15, &created(999, 1, vec![])).as_slice(), [Output::InputRefused(r)] if r.reason == refused::UNKNOWN_INTENT)
    );
}

#[test]
fn lockdown_cancels_everything_and_refuses_orders_until_unlocked() {
    let mut h = Harness::ready();
    let a1 = h.place(Side::Sell, "100", "0.1").unwrap();
    let i1 = last_intent(&h).id;
    let a2 = h.place(Side::Buy, "100", "0.098").unwrap();
    let i2 = last_intent(&h).id;
    h.feed(10, &created(i1, 701, vec![]));
    h.feed(11, &created(i2, 702, vec![]));
    let out = h.feed(12, &security(SecurityEvent::UnknownOffer { offer_id: 9999 }));
    // The P0 incident, then one transaction cancelling both offers.
    let Output::Incident(inc) = &out[0] else { panic!("{out:?}") };
    assert_eq!((inc.priority, inc.response), (0, 0));
    let Some(Output::Intent(cancel)) = out.last() else { panic!("{out:?}") };
    let ids: Vec<(u64, i64, i64)> = cancel.ops.iter().map(|o| (o.order, o.offer_id, o.amount_stroops)).collect();
    assert_eq!(ids, vec![(a1, 701, 0), (a2, 702, 0)]);
    assert_eq!((status(&h, a1), status(&h, a2)), (OrderStatus::PendingCancel, OrderStatus::PendingCancel));
    assert!(h.engine.is_locked_down());
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::LockedDown));
    // Later events do not lift it; acknowledging the incident does not either.
    h.feed(13, &operator(Command::Resume));
    h.feed(14, &operator(Command::AcknowledgeIncident { incident: inc.id }));
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::LockedDown));
    // The cancels land.
    h.feed(
        15,
        &Input::TxSucceeded(TxSucceeded {
            intent: cancel.id,
            hash: [8; 32],
            ledger: 9,
            fee_charged_stroops: 200,
            ops: vec![
                OpResult { effect: OfferEffect::Deleted, offer_id: 701, remaining_stroops: 0, claims: vec![] },
                OpResult { effect: OfferEffect::Deleted, offer_id: 702, remaining_stroops: 0, claims: vec![] },
            ],
        }),
    );
    assert_eq!((status(&h, a1), status(&h, a2)), (OrderStatus::Cancelled, OrderStatus::Cancelled));
    // Only an admin's unlock lifts the lockdown.
    let out = h.feed(16, &operator(Command::Unlock));
    assert!(matches!(out.as_slice(), [Output::Control(c)] if c.what == starlog_engine::engine::control::UNLOCK));
    assert!(h.place(Side::Sell, "1", "0.1").is_ok());
    assert!(
        matches!(h.feed(17, &operator(Command::Unlock)).as_slice(), [Output::InputRefused(_)]),
        "nothing to unlock"
    );
}

#[test]
fn repeated_auth_failures_restrict_to_cancel_only_for_a_cooldown() {
    let mut h = Harness::ready();
    let mut priorities = Vec::new();
    for t in 0..5 {
        let out = h.feed(10 + t, &security(SecurityEvent::AuthFailure { operator: "mallory".into() }));
        if let [Output::Incident(i)] = out.as_slice() {
            priorities.push(i.priority);
        }
    }
    assert_eq!(priorities, vec![2, 2, 2, 2, 1], "P2 alerts, then P1 at the threshold");
    assert!(h.engine.is_cancel_only());
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::CancelOnly));
    let until = h.out.iter().rev().find_map(|x| match x {
        Output::Incident(i) if i.priority == 1 => Some(i.until_ns),
        _ => None,
    });
    h.feed(until.unwrap(), &Input::Timer(Timer {}));
    assert!(!h.engine.is_cancel_only());
    assert!(h.place(Side::Sell, "1", "0.1").is_ok());
}

#[test]
fn a_throttle_storm_is_an_incident() {
    let mut h = Harness::ready();
    h.feed(4, &operator(Command::SetLimit { limit: 4, value: 1000 }));
    h.feed(5, &operator(Command::SetLimit { limit: 5, value: 1000 }));
    for _ in 0..200 {
        let _ = h.place(Side::Sell, "0.1", "0.1");
    }
    let storms = h.out.iter().filter(|x| matches!(x, Output::Incident(i) if i.priority == 2)).count();
    assert_eq!(storms, 1, "150 throttled attempts: one storm per 100");
}

fn snapshot(ledger: u32, offers: Vec<OfferSnapshot>) -> Input {
    let Input::Account(mut a) = account(a("1000").stroops(), a("1000").stroops()) else { unreachable!() };
    a.ledger = ledger;
    a.offers = offers;
    Input::Account(a)
}

fn offer(id: i64, amount: &str) -> OfferSnapshot {
    OfferSnapshot {
        offer_id: id,
        selling: WireAsset::from(Asset::Native),
        buying: WireAsset::from(usd()),
        amount_stroops: a(amount).stroops(),
        price: WirePrice { n: 1, d: 10 },
    }
}

#[test]
fn account_snapshots_reconcile_fills_by_ledger() {
    let mut h = Harness::ready();
    let id = h.place(Side::Sell, "100", "0.1").unwrap();
    let i = last_intent(&h).id;
    let Input::TxSucceeded(mut ok) = created(i, 555, vec![]) else { unreachable!() };
    ok.ledger = 7;
    h.feed(10, &Input::TxSucceeded(ok));
    // A snapshot from before the offer was placed says nothing about it.
    h.feed(11, &snapshot(6, vec![]));
    assert_eq!(status(&h, id), OrderStatus::Open);
    // 60 of 100 remain: 40 filled.
    h.feed(12, &snapshot(8, vec![offer(555, "60")]));
    let o = h.engine.orders().find(|o| o.id == id).copied().unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::PartiallyFilled, a("40")));
    // Gone from the book, and no cancel in flight: filled.
    h.feed(13, &snapshot(9, vec![]));
    let o = h.engine.orders().find(|o| o.id == id).copied().unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Filled, a("100")));
    assert!(h.engine.check_aggregates().is_ok());
}

#[test]
fn an_unknown_offer_on_our_account_locks_down_and_is_cancelled() {
    let mut h = Harness::ready();
    let id = h.place(Side::Sell, "100", "0.1").unwrap();
    let i = last_intent(&h).id;
    // While our transaction is in flight an offer we do not know may be ours: no alarm yet.
    h.feed(10, &submitted(i));
    assert!(h.feed(11, &snapshot(7, vec![offer(999, "5")])).iter().all(|o| !matches!(o, Output::Incident(_))));
    h.feed(12, &created(i, 555, vec![]));
    let out = h.feed(13, &snapshot(8, vec![offer(555, "100"), offer(999, "5")]));
    assert!(matches!(out.first(), Some(Output::Incident(inc)) if inc.priority == 0 && inc.kind == 201), "{out:?}");
    assert!(h.engine.is_locked_down());
    let cancelled: Vec<i64> = intents_of(&out).iter().flat_map(|i| i.ops.iter().map(|o| o.offer_id)).collect();
    assert!(cancelled.contains(&555) && cancelled.contains(&999), "{cancelled:?}");
    assert_eq!(status(&h, id), OrderStatus::PendingCancel);
}

fn intents_of(out: &[Output]) -> Vec<starlog_engine::outputs::Intent> {
    out.iter()
        .filter_map(|x| match x {
            Output::Intent(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn trade(id: u128, ledger: u32, offer: i64, base: &str, counter: &str) -> Input {
    Input::Trade(Trade {
        pair: 0,
        id,
        ledger,
        ledger_close_time: 0,
        price: WirePrice { n: 1, d: 10 },
        base_amount_stroops: a(base).stroops(),
        counter_amount_stroops: a(counter).stroops(),
        base_is_seller: true,
        base_offer_id: offer,
        counter_offer_id: 4242,
        base_account: [9; 32],
        counter_account: [7; 32],
    })
}

fn rest_at(h: &mut Harness, ts: i64, side: Side, amount: &str, price: &str, offer_id: i64, ledger: u32) -> u64 {
    let id = h.place(side, amount, price).unwrap();
    let i = last_intent(h).id;
    let Input::TxSucceeded(mut ok) = created(i, offer_id, vec![]) else { unreachable!() };
    ok.ledger = ledger;
    h.feed(ts, &Input::TxSucceeded(ok));
    id
}

#[test]
fn trades_on_our_resting_offers_are_fills_counted_once() {
    let mut h = Harness::ready();
    let id = rest_at(&mut h, 10, Side::Sell, "100", "0.1", 555, 7);
    let filled = |h: &Harness| h.engine.orders().find(|o| o.id == id).map(|o| (o.status, o.filled)).unwrap();
    // The ledger that put it on the book: those crossings came with the result.
    h.feed(11, &trade(10, 7, 555, "30", "3"));
    assert_eq!(filled(&h), (OrderStatus::Open, Amount::ZERO));
    h.feed(12, &trade(11, 8, 555, "30", "3"));
    assert_eq!(filled(&h), (OrderStatus::PartiallyFilled, a("30")));
    // A resumed stream repeats a trade: ignored.
    h.feed(13, &trade(11, 8, 555, "30", "3"));
    assert_eq!(filled(&h).1, a("30"));
    // Someone else's trade.
    h.feed(14, &trade(12, 8, 777, "50", "5"));
    assert_eq!(filled(&h).1, a("30"));
    // More than remains is cut to the remainder.
    h.feed(15, &trade(13, 9, 555, "100", "10"));
    assert_eq!(filled(&h), (OrderStatus::Filled, a("100")));
    // Sold 100 XLM for 3 + 7 USD: short 100 XLM, +10 USD; marked at the 0.1 mid, flat.
    assert_eq!(h.engine.pnl_stroops(), 0);
    assert!(h.engine.check_aggregates().is_ok());
}

#[test]
fn the_daily_loss_limit_uses_marked_pnl_and_resets_each_day() {
    let mut h = Harness::ready();
    let id = rest_at(&mut h, 10, Side::Buy, "1000", "0.1", 600, 7);
    // The offer is gone from the book in ledger 8: bought 1000 XLM for 100 USD.
    h.feed(11, &snapshot(8, vec![]));
    assert_eq!(status(&h, id), OrderStatus::Filled);
    assert_eq!(h.engine.pnl_stroops(), 0, "marked at the 0.1 mid");
    // The market falls to 0.09: 1000 × 0.01 = 10 USD lost.
    h.feed(12, &book((89, 1000), (91, 1000)));
    assert_eq!(h.engine.pnl_stroops(), -a("10").stroops() as i128);
    h.feed(13, &operator(Command::SetLimit { limit: 7, value: a("7").stroops() }));
    assert_eq!(h.place(Side::Sell, "1", "0.09"), Err(RejectCode::DailyLossMax));
    // A new UTC day: the loss so far is yesterday's.
    h.feed(starlog_engine::engine::NS_PER_DAY + 1, &Input::Timer(Timer {}));
    assert!(h.place(Side::Sell, "1", "0.09").is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Once the result of an order's transaction arrives, the order is in exactly the status
    /// the result says: failed → rejected, expired → expired, deleted on arrival → filled,
    /// created → resting (open, or partially filled) — whatever the interleaving with other
    /// orders' results and with submissions.
    #[test]
    fn every_result_settles_its_order(plan in prop::collection::vec((0u8..4, any::<bool>(), 1i64..50), 1..30)) {
        let mut h = Harness::ready();
        let mut expected = Vec::new();
        let mut ts = 10;
        for (k, (outcome, announce, amount)) in plan.iter().enumerate() {
            ts += 1;
            let Ok(id) = h.place(Side::Sell, &format!("{amount}"), "0.1") else { continue };
            let intent = last_intent(&h).id;
            if *announce {
                h.feed(ts, &submitted(intent));
            }
            ts += 1;
            let (input, status) = match outcome {
                0 => (Input::TxFailed(TxFailed { intent, hash: [1; 32], tx_code: -1, op_codes: vec![-7] }), OrderStatus::Rejected),
                1 => (Input::TxExpired(starlog_engine::events::TxExpired { intent, hash: [1; 32] }), OrderStatus::Expired),
                2 => (
                    Input::TxSucceeded(TxSucceeded {
                        intent,
                        hash: [1; 32],
                        ledger: 3,
                        fee_charged_stroops: 100,
                        ops: vec![OpResult {
                            effect: OfferEffect::Deleted,
                            offer_id: 0,
                            remaining_stroops: 0,
                            claims: vec![Claim {
                                seller: [6; 32],
                                offer_id: 1,
                                asset_sold: WireAsset::from(usd()),
                                amount_sold_stroops: amount * 1_000_000,
                                asset_bought: WireAsset::from(Asset::Native),
                                amount_bought_stroops: amount * 10_000_000,
                            }],
                        }],
                    }),
                    OrderStatus::Filled,
                ),
                _ => (created(intent, 10_000 + k as i64, vec![]), OrderStatus::Open),
            };
            h.feed(ts, &input);
            expected.push((id, status));
        }
        for (id, status) in expected {
            prop_assert_eq!(h.engine.orders().find(|o| o.id == id).map(|o| o.status), Some(status));
        }
        prop_assert!(h.engine.check_aggregates().is_ok());
        // Nothing invalid was recorded along the way.
        prop_assert!(!h.out.iter().any(|o| matches!(o, Output::InvalidTransition(_))));
    }
}

#[test]
fn a_cancel_of_an_offer_already_gone_settles_the_order_as_filled() {
    let mut h = Harness::ready();
    let id = rest_at(&mut h, 10, Side::Sell, "100", "0.1", 555, 7);
    // 30 filled (seen on the trades stream), then the rest is taken while our cancel flies.
    h.feed(11, &trade(11, 8, 555, "30", "3"));
    let mut out = Vec::new();
    h.engine.cancel(id, &mut out);
    let cancel = intents_of(&out).pop().unwrap();
    assert_eq!(status(&h, id), OrderStatus::PendingCancel);
    h.feed(12, &submitted(cancel.id));
    h.feed(13, &Input::TxFailed(TxFailed { intent: cancel.id, hash: [6; 32], tx_code: -1, op_codes: vec![-11] }));
    let o = h.engine.orders().find(|o| o.id == id).copied().unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Filled, a("100")), "gone from the book, not by us: filled");
    // A late trade for the same fill is not counted twice.
    h.feed(14, &trade(12, 9, 555, "70", "7"));
    assert_eq!(h.engine.orders().find(|o| o.id == id).unwrap().filled, a("100"));
    assert!(h.engine.check_aggregates().is_ok());

    // Any other failure of a cancel leaves the order resting.
    let other = rest_at(&mut h, 20, Side::Sell, "10", "0.1", 556, 10);
    let mut out = Vec::new();
    h.engine.cancel(other, &mut out);
    let cancel = intents_of(&out).pop().unwrap();
    h.feed(21, &Input::TxFailed(TxFailed { intent: cancel.id, hash: [7; 32], tx_code: -5, op_codes: vec![] }));
    assert_eq!(status(&h, other), OrderStatus::Open);
}

#[test]
fn reject_codes_round_trip_through_their_numbers() {
    use starlog_engine::risk::RejectCode;
    let mut seen = std::collections::BTreeSet::new();
    for r in RejectCode::ALL {
        assert_eq!(RejectCode::from_code(r.code()), Some(r));
        assert!(seen.insert(r.code()), "{r} is unique");
    }
    assert_eq!(RejectCode::from_code(0), None);
    assert_eq!(RejectCode::from_code(101).map(RejectCode::as_str), Some("halted"));
}

#[test]
fn order_statuses_round_trip_through_their_codes() {
    for s in OrderStatus::ALL {
        assert_eq!(OrderStatus::from_code(s as u8), Some(s));
    }
    assert_eq!(OrderStatus::from_code(0), None);
    assert_eq!(OrderStatus::from_code(11), None);
}

/// What the account can still commit to selling XLM, as the engine sees it.
fn free_xlm(h: &Harness) -> Amount {
    h.engine.balances().unwrap().available_to_sell(&Asset::Native, 0).unwrap()
}

/// The network's view at `ledger` after 40 of a resting sell of 100 XLM at 0.1 (offer 555) were
/// sold: 960 XLM with 60 held, 1 004 USD with 6 due.
fn snapshot_after_40_sold(ledger: u32) -> Input {
    let Input::Account(mut snap) = snapshot(ledger, vec![offer(555, "60")]) else { unreachable!() };
    snap.balances[0].balance_stroops = a("960").stroops();
    snap.balances[0].selling_liabilities_stroops = a("60").stroops();
    snap.balances[1].balance_stroops = a("1004").stroops();
    snap.balances[1].buying_liabilities_stroops = a("6").stroops();
    Input::Account(snap)
}

/// (balance, selling liabilities) of native and (balance, buying liabilities) of USD.
fn lines(h: &Harness) -> ((Amount, Amount), (Amount, Amount)) {
    let b = h.engine.balances().unwrap();
    let (x, u) = (b.line(&Asset::Native).unwrap(), b.line(&usd()).unwrap());
    ((x.balance, x.selling_liabilities), (u.balance, u.buying_liabilities))
}

#[test]
fn fills_move_balances_and_an_ended_order_gives_back_only_what_it_still_held() {
    let mut h = Harness::ready();
    // The account snapshot is of ledger 1; the offer rests from ledger 7.
    let id = rest_at(&mut h, 10, Side::Sell, "100", "0.1", 555, 7);
    assert_eq!(lines(&h), ((a("1000"), a("100")), (a("1000"), a("10"))));
    let free_before = free_xlm(&h);
    // 40 sold for 4: as the network books it, off the balance and off the liabilities.
    h.feed(11, &trade(10, 8, 555, "40", "4"));
    assert_eq!(lines(&h), ((a("960"), a("60")), (a("1004"), a("6"))));
    assert_eq!(free_xlm(&h), free_before, "a fill moves nothing from what is free to sell");
    // The rest: the order ends and gives back what it still held — nothing.
    h.feed(12, &trade(11, 9, 555, "60", "6"));
    assert_eq!(status(&h, id), OrderStatus::Filled);
    assert_eq!(lines(&h), ((a("900"), a("0")), (a("1010"), a("0"))));
    // The XLM sold is not free to sell again; only the offer's subentry reserve (0.5) is.
    assert_eq!(free_xlm(&h), free_before.checked_add(a("0.5")).unwrap());
}

#[test]
fn a_fill_the_account_snapshot_already_shows_is_not_booked_twice() {
    let mut h = Harness::ready();
    let id = rest_at(&mut h, 10, Side::Sell, "100", "0.1", 555, 7);
    // The network's view at ledger 8, after 40 were sold: the snapshot is the truth.
    h.feed(11, &snapshot_after_40_sold(8));
    assert_eq!(h.engine.orders().find(|o| o.id == id).unwrap().filled, a("40"));
    assert_eq!(lines(&h), ((a("960"), a("60")), (a("1004"), a("6"))));
    // A later fill of the rest is booked once, and the end gives back nothing more.
    h.feed(12, &trade(12, 9, 555, "60", "6"));
    assert_eq!(status(&h, id), OrderStatus::Filled);
    assert_eq!(lines(&h), ((a("900"), a("0")), (a("1010"), a("0"))));
}

/// A sell of 100 at 0.1 resting as offer 555 from ledger 7, and a cancel of it sent: (order,
/// the cancel's intent).
fn rest_then_cancel(h: &mut Harness) -> (u64, u64) {
    let id = rest_at(h, 10, Side::Sell, "100", "0.1", 555, 7);
    let mut out = Vec::new();
    h.engine.cancel(id, &mut out);
    (id, intents_of(&out)[0].id)
}

/// The cancel `intent` of offer 555 landed in `ledger`.
fn cancel_landed(intent: u64, ledger: u32) -> Input {
    Input::TxSucceeded(TxSucceeded {
        intent,
        hash: [7; 32],
        ledger,
        fee_charged_stroops: 100,
        ops: vec![OpResult { effect: OfferEffect::Deleted, offer_id: 555, remaining_stroops: 0, claims: vec![] }],
    })
}

#[test]
fn an_offer_found_gone_is_sold_at_once_and_credited_by_the_next_snapshot() {
    let mut h = Harness::ready();
    let (id, cancel) = rest_then_cancel(&mut h);
    let free_before = free_xlm(&h);
    h.feed(11, &Input::TxFailed(TxFailed { intent: cancel, hash: [6; 32], tx_code: -1, op_codes: vec![-11] }));
    assert_eq!(status(&h, id), OrderStatus::Filled);
    // Sold at an unknown ledger: off the balance and the liabilities; the USD comes with a snapshot.
    assert_eq!(lines(&h), ((a("900"), a("0")), (a("1000"), a("10"))));
    assert_eq!(free_xlm(&h), free_before.checked_add(a("0.5")).unwrap());
}

#[test]
fn the_venue_refusing_an_order_is_a_decision_with_its_code_and_a_pattern_escalates() {
    let mut h = Harness::ready();
    let refuse = |h: &mut Harness, ts: i64, tx_code: i32, op_codes: Vec<i32>| {
        let id = h.place(Side::Sell, "10", "0.1").unwrap();
        let intent = last_intent(h).id;
        h.feed(ts, &submitted(intent));
        let out = h.feed(ts + 1, &Input::TxFailed(TxFailed { intent, hash: [5; 32], tx_code, op_codes }));
        assert_eq!(status(h, id), OrderStatus::Rejected);
        (id, out)
    };
    // A stale sequence number: the venue's code, no incident (the pipeline resyncs).
    let (id, out) = refuse(&mut h, 10, -5, vec![]);
    let code = |out: &[Output]| {
        out.iter().find_map(|o| match o {
            Output::Decision(d) => Some((d.order, d.reject_code)),
            _ => None,
        })
    };
    assert_eq!(code(&out), Some((id, RejectCode::VenueBadSeq.code())), "{out:?}");
    assert!(!out.iter().any(|o| matches!(o, Output::Incident(_))), "{out:?}");
    // Crossing ourselves is something our checks should have caught: a P3 record of it...
    let (id, out) = refuse(&mut h, 20, -1, vec![-8]);
    assert_eq!(code(&out), Some((id, RejectCode::VenueCrossSelf.code())), "{out:?}");
    let incident = |out: &[Output]| {
        out.iter().find_map(|o| match o {
            Output::Incident(i) => Some((i.priority, i.kind)),
            _ => None,
        })
    };
    let (p3, cross_self) = incident(&out).expect("an incident");
    assert_eq!(p3, 3, "{out:?}");
    // ...and, with underfunded refusals, a pattern of them is a P2 at the classifier's threshold.
    let mut kinds = vec![cross_self];
    let mut escalated = None;
    for round in 0..10 {
        let (id, out) = refuse(&mut h, 30 + 10 * round, -1, vec![-7]);
        assert_eq!(code(&out), Some((id, RejectCode::VenueUnderfunded.code())), "{out:?}");
        let (priority, kind) = incident(&out).expect("each is recorded");
        kinds.push(kind);
        if priority == 2 {
            escalated = Some(kind);
            break;
        }
        assert_eq!(priority, 3);
    }
    let escalated = escalated.expect("repeated venue mismatches escalate");
    assert!(!kinds[..kinds.len() - 1].contains(&escalated), "P2 is its own kind: {kinds:?}");
    // An operation that succeeded in a transaction that failed for another one: `VenueOther`.
    let (id, out) = refuse(&mut h, 200, -1, vec![0]);
    assert_eq!(code(&out), Some((id, RejectCode::VenueOther.code())));
}

/// The balance and reserve refusals, in the network's terms, and the reference-price and
/// overflow refusals, each produced through the engine (not only by the check functions).
#[test]
fn balance_reserve_reference_and_overflow_refusals_through_the_engine() {
    let decided = |h: &Harness| {
        h.out.iter().rev().find_map(|x| match x {
            Output::Decision(d) => Some(d.reject_code),
            _ => None,
        })
    };
    // No USD trustline: selling USD (a buy of XLM sells USD) and buying USD.
    let mut h = Harness::new();
    h.feed(1, &session());
    h.feed(2, &book((99, 1000), (101, 1000)));
    let Input::Account(mut no_usd) = account(a("1000").stroops(), 0) else { unreachable!() };
    no_usd.balances.truncate(1);
    h.feed(3, &Input::Account(no_usd.clone()));
    assert_eq!(h.place(Side::Buy, "1", "0.1"), Err(RejectCode::SellNoTrust));
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::BuyNoTrust));
    assert_eq!(decided(&h), Some(RejectCode::BuyNoTrust.code()));
    // An XLM balance at the minimum: one more offer's subentry reserve does not fit.
    let mut low = no_usd.clone();
    low.balances = match account(a("1.5").stroops(), a("10").stroops()) {
        Input::Account(x) => x.balances,
        _ => unreachable!(),
    };
    h.feed(4, &Input::Account(low));
    assert_eq!(h.place(Side::Buy, "1", "0.1"), Err(RejectCode::LowReserve));
    // A USD line whose limit has no room for what a sell would receive.
    let Input::Account(mut full) = account(a("1000").stroops(), a("1000").stroops()) else { unreachable!() };
    full.balances[1].limit_stroops = a("1000.05").stroops();
    h.feed(5, &Input::Account(full));
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::LineFull));
    assert!(h.place(Side::Sell, "0.5", "0.1").is_ok(), "0.05 USD fits the room left");
    // An amount whose notional does not fit in i64 stroops.
    h.feed(6, &operator(Command::SetValidationLevel { level: ValidationLevel::Standard as u8 }));
    h.feed(7, &operator(Command::SetLimit { limit: 1, value: i64::MAX }));
    h.feed(8, &operator(Command::SetLimit { limit: 2, value: i64::MAX }));
    let huge = Amount::from_stroops(i64::MAX / 2).unwrap();
    assert_eq!(h.engine.place(0, Side::Sell, huge, p("1000"), &mut h.out), Err(RejectCode::AmountOverflow));
    // PARANOID: no order without a two-sided book to check the price against.
    let mut h = Harness::new();
    h.feed(1, &session());
    h.feed(2, &account(a("1000").stroops(), a("1000").stroops()));
    h.feed(3, &operator(Command::SetValidationLevel { level: ValidationLevel::Paranoid as u8 }));
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::NoReferencePrice));
    assert_eq!(decided(&h), Some(RejectCode::NoReferencePrice.code()));
}

/// Locked down while orders are in flight: they have no offer ids yet, so they are cancelled
/// when their results arrive, and nothing new is accepted until the unlock.
#[test]
fn a_lockdown_cancels_orders_in_flight_once_their_results_arrive() {
    let mut h = Harness::ready();
    let id = h.place(Side::Sell, "10", "0.1").unwrap();
    let intent = last_intent(&h).id;
    h.feed(10, &submitted(intent));
    let out = h.feed(11, &security(SecurityEvent::SignerCompromise { store: "file".into() }));
    assert!(out.iter().any(|x| matches!(x, Output::Incident(i) if i.priority == 0)), "{out:?}");
    assert!(intents_of(&out).is_empty(), "nothing to cancel yet: the order has no offer id");
    assert_eq!(h.place(Side::Sell, "1", "0.1"), Err(RejectCode::LockedDown));
    // The order lands on the book: it is cancelled at once.
    let out = h.feed(12, &created(intent, 777, vec![]));
    let cancels = intents_of(&out);
    assert_eq!(cancels.len(), 1, "{out:?}");
    assert_eq!((cancels[0].ops[0].offer_id, cancels[0].ops[0].amount_stroops), (777, 0));
    assert_eq!(status(&h, id), OrderStatus::PendingCancel);
}

/// An account snapshot that shows a fill reaches the engine before the trade that made it
/// (the account and trades streams race): the fill counts once.
#[test]
fn a_fill_seen_in_a_snapshot_first_is_not_counted_again_by_its_trade() {
    let mut h = Harness::ready();
    let id = rest_at(&mut h, 10, Side::Sell, "100", "0.1", 555, 7);
    let filled = |h: &Harness| h.engine.orders().find(|o| o.id == id).unwrap().filled;
    // The snapshot of ledger 9 shows 60 left: 40 sold, in ledger 8 or 9.
    h.feed(11, &snapshot(9, vec![offer(555, "60")]));
    assert_eq!(filled(&h), a("40"));
    // The trade of ledger 8 that sold them arrives now: already counted.
    h.feed(12, &trade(20, 8, 555, "40", "4"));
    assert_eq!(filled(&h), a("40"));
    // A trade of a later ledger is a new fill.
    h.feed(13, &trade(21, 10, 555, "10", "1"));
    assert_eq!(filled(&h), a("50"));
    assert_eq!(status(&h, id), OrderStatus::PartiallyFilled);
}

/// An account snapshot read before a result that filled on arrival, journaled after it: its
/// balances are older than what the engine already settled, and are not taken.
#[test]
fn an_account_snapshot_older_than_a_settled_fill_does_not_bring_back_what_was_sold() {
    let mut h = Harness::ready();
    let id = h.place(Side::Sell, "100", "0.1").unwrap();
    let intent = last_intent(&h).id;
    h.feed(10, &submitted(intent));
    // Ledger 7: 40 of it cross on arrival, 60 rest.
    let claim = Claim {
        seller: [6; 32],
        offer_id: 9,
        asset_sold: WireAsset::from(usd()),
        amount_sold_stroops: a("4").stroops(),
        asset_bought: WireAsset::from(Asset::Native),
        amount_bought_stroops: a("40").stroops(),
    };
    h.feed(11, &created(intent, 555, vec![claim]));
    assert_eq!(h.engine.orders().find(|o| o.id == id).unwrap().filled, a("40"));
    assert_eq!(lines(&h), ((a("960"), a("60")), (a("1004"), a("6"))));
    let settled = free_xlm(&h);
    // The poll of ledger 6 (1000 XLM, no offers) arrives now: stale.
    h.feed(12, &snapshot(6, vec![]));
    assert_eq!(lines(&h), ((a("960"), a("60")), (a("1004"), a("6"))));
    assert_eq!(free_xlm(&h), settled);
    // A snapshot of ledger 7 or later is the truth again.
    h.feed(13, &snapshot_after_40_sold(8));
    assert_eq!(lines(&h).0, (a("960"), a("60")));
    assert_eq!(h.engine.orders().find(|o| o.id == id).unwrap().filled, a("40"));
}

/// The cancel's result for a resting sell reaches the engine before the trade that sold part of
/// the offer in an earlier ledger (the trades stream lags the transaction results): the fill is
/// still booked — off the balance, into the position — and the order stays cancelled.
#[test]
fn a_fill_reported_after_the_cancel_landed_is_booked_and_the_order_stays_cancelled() {
    let mut h = Harness::ready();
    let (id, cancel) = rest_then_cancel(&mut h);
    let free_before = free_xlm(&h);
    h.feed(11, &cancel_landed(cancel, 10));
    assert_eq!(status(&h, id), OrderStatus::Cancelled);
    // Everything the order held is back: 100 XLM and the offer's reserve.
    assert_eq!(lines(&h), ((a("1000"), a("0")), (a("1000"), a("0"))));
    assert_eq!(free_xlm(&h), free_before.checked_add(a("100.5")).unwrap());
    // The trade of ledger 9 that sold 40 for 4 before the cancel: booked, once.
    let out = h.feed(12, &trade(30, 9, 555, "40", "4"));
    let o = h.engine.orders().find(|o| o.id == id).copied().unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Cancelled, a("40")));
    assert!(
        out.iter().any(|x| matches!(x, Output::Lifecycle(l) if l.order == id && l.from == 8 && l.to == 8)),
        "the late fill is recorded against the cancelled order: {out:?}"
    );
    assert_eq!(lines(&h), ((a("960"), a("0")), (a("1004"), a("0"))));
    assert_eq!(free_xlm(&h), free_before.checked_add(a("60.5")).unwrap(), "what was sold is not free to sell");
    h.feed(13, &trade(30, 9, 555, "40", "4"));
    assert_eq!(h.engine.orders().find(|o| o.id == id).unwrap().filled, a("40"), "a repeated trade is ignored");
    // A trade of a ledger after the cancel cannot be of that offer (an id reused elsewhere).
    h.feed(14, &trade(31, 11, 555, "10", "1"));
    assert_eq!(h.engine.orders().find(|o| o.id == id).unwrap().filled, a("40"));
    assert_eq!(lines(&h).0, (a("960"), a("0")));
}

/// An engine restored from a snapshot taken between a cancel's result and a late trade books
/// that trade as the original does: snapshots carry the cancelled offers.
#[test]
fn a_restored_engine_still_books_a_fill_reported_after_the_cancel() {
    let mut h = Harness::ready();
    let (id, cancel) = rest_then_cancel(&mut h);
    h.feed(11, &cancel_landed(cancel, 10));
    let mut restored =
        Harness { engine: h.engine.restore_like(&h.engine.snapshot()).unwrap(), seq: h.seq, out: Vec::new() };
    assert_eq!(restored.engine.state_hash(), h.engine.state_hash());
    for x in [&mut h, &mut restored] {
        x.feed(12, &trade(40, 9, 555, "40", "4"));
        assert_eq!(x.engine.orders().find(|o| o.id == id).unwrap().filled, a("40"));
    }
    assert_eq!(restored.engine.state_hash(), h.engine.state_hash());
}

/// A snapshot whose cancelled offers do not name their orders as the orders record them is
/// refused: a late trade would be booked against whatever order an entry names.
#[test]
fn a_snapshot_with_a_cancelled_offer_its_order_does_not_record_is_refused() {
    let mut h = Harness::ready();
    let (id, cancel) = rest_then_cancel(&mut h);
    h.feed(11, &cancel_landed(cancel, 10));
    let bytes = h.engine.snapshot();
    // The entry: offer 555, the order, pair 0, ledger 10 — claim ledger 12 instead.
    let mut entry = Vec::new();
    entry.extend_from_slice(&555i64.to_le_bytes());
    entry.extend_from_slice(&id.to_le_bytes());
    entry.extend_from_slice(&0u16.to_le_bytes());
    entry.extend_from_slice(&10u32.to_le_bytes());
    let at = bytes.windows(entry.len()).position(|w| w == entry).expect("the entry is in the snapshot");
    let mut forged = bytes[..bytes.len() - 8].to_vec();
    forged[at + 18..at + 22].copy_from_slice(&12u32.to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&forged);
    forged.extend_from_slice(&sum.to_le_bytes());
    let error = h.engine.restore_like(&forged).unwrap_err();
    assert!(error.to_string().contains("a cancelled offer that is not its order's"), "{error}");
    assert!(h.engine.restore_like(&bytes).is_ok());
}
