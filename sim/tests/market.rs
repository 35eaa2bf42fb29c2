//! The market generator: determinism, a living book with trades, invariants, grants, bad input.

mod support;

use proptest::prelude::*;
use starlog_engine::{Asset, Price};
use starlog_sim::ledger::{History, Ledger, LedgerConfig};
use starlog_sim::market::{MID_SCALE, Market, MarketConfig, MarketError};
use support::{Key, NOW, XLM, change_trust, key, op, sign_for, tx};

/// Seconds between ledgers.
const CLOSE_SECONDS: u64 = 5;

fn config(seed: u64) -> MarketConfig {
    MarketConfig { seed, ..MarketConfig::default() }
}

/// Sets up a market and runs `ledgers` ledgers, checking the invariants after each close and
/// calling `each` with the ledger, the market and the ledger's index.
fn run(config: MarketConfig, ledgers: u64, mut each: impl FnMut(&Ledger, &Market, u64)) -> (Ledger, Market) {
    let mut ledger = Ledger::new(LedgerConfig::default());
    let mut market = Market::new(config, &mut ledger, NOW).expect("market set up");
    ledger.close_ledger(NOW);
    for i in 1..=ledgers {
        let now = NOW + i * CLOSE_SECONDS;
        market.step(&mut ledger, now);
        ledger.close_ledger(now);
        if let Err(why) = ledger.check_invariants() {
            panic!("ledger {i}: {why}");
        }
        each(&ledger, &market, i);
    }
    (ledger, market)
}

fn history(seed: u64, ledgers: u64) -> History {
    run(config(seed), ledgers, |_, _, _| {}).0.history().clone()
}

/// Whether an ask (asset per XLM) and a bid (XLM per asset) cross: `ask × bid ≤ 1`.
fn crossed(ask: Price, bid: Price) -> bool {
    i128::from(ask.n()) * i128::from(bid.n()) <= i128::from(ask.d()) * i128::from(bid.d())
}

/// The book's lowest ask and highest bid (as a price in XLM per asset, lowest is best), by
/// exact value.
fn top_of_book(ledger: &Ledger, asset: &Asset) -> (Option<Price>, Option<Price>) {
    let best = |selling: &Asset, buying: &Asset| {
        ledger
            .book()
            .iter()
            .filter(|o| o.selling == *selling && o.buying == *buying)
            .map(|o| o.price)
            .min_by(|a, b| a.cmp_value(*b))
    };
    (best(&Asset::Native, asset), best(asset, &Asset::Native))
}

#[test]
fn the_same_seed_makes_the_same_market() {
    let a = history(42, 200);
    let b = history(42, 200);
    assert!(a.transactions.len() > 200, "{} transactions", a.transactions.len());
    assert!(a == b, "same seed, different histories");
    let c = history(43, 200);
    assert!(a != c, "different seeds, same history");
}

#[test]
fn the_market_trades_and_keeps_a_two_sided_book() {
    let ledgers = 600;
    let mut two_sided = 0;
    let mut trades_at = Vec::new();
    let (start_mid, scale) = (MID_SCALE / 10, MID_SCALE);
    let (ledger, market) = run(config(7), ledgers, |ledger, market, i| {
        let (mid, denominator) = market.mid();
        assert_eq!(denominator, scale);
        assert!(mid > 0 && mid >= start_mid / 16 && mid <= start_mid * 16, "ledger {i}: mid {mid}");
        let (ask, bid) = top_of_book(ledger, &market.asset());
        if let (Some(ask), Some(bid)) = (ask, bid) {
            two_sided += 1;
            assert!(!crossed(ask, bid), "ledger {i}: crossed book, ask {ask} bid {bid}");
        }
        // Each maker's own ladder is uncrossed, and not more than its levels per side.
        for maker in market.makers() {
            let offers = ledger.book().offers_by(&maker);
            assert!(offers.len() <= 2 * market.config().levels, "ledger {i}: {} offers", offers.len());
        }
        trades_at.push(ledger.history().trades.len());
    });
    let trades = ledger.history().trades.len();
    assert!(trades > 100, "{trades} trades in {ledgers} ledgers");
    assert!(two_sided * 100 >= ledgers * 95, "two-sided at {two_sided} of {ledgers} closes");
    // Trading goes on: every quarter of the run adds trades.
    for quarter in trades_at.chunks(ledgers as usize / 4) {
        let (first, last) = (quarter[0], quarter[quarter.len() - 1]);
        assert!(last > first, "no trades between {first} and {last}");
    }
    // Takers and makers both trade.
    let takers = market.takers();
    assert!(ledger.history().trades.iter().any(|t| takers.contains(&t.taker)));
    let successful = ledger.history().transactions.iter().filter(|t| t.successful).count();
    assert!(successful * 10 >= ledger.history().transactions.len() * 9, "most transactions succeed");
}

#[test]
fn the_market_runs_for_thousands_of_ledgers() {
    let ledgers = 3_000;
    let mut ledger = Ledger::new(LedgerConfig::default());
    let mut market = Market::new(config(1), &mut ledger, NOW).unwrap();
    ledger.close_ledger(NOW);
    // Only `step` and `close_ledger` are timed; the invariants are checked every 10 ledgers.
    let mut elapsed = std::time::Duration::ZERO;
    for i in 1..=ledgers {
        let now = NOW + i * CLOSE_SECONDS;
        let started = std::time::Instant::now();
        market.step(&mut ledger, now);
        ledger.close_ledger(now);
        elapsed += started.elapsed();
        if i % 10 == 0 {
            ledger.check_invariants().unwrap_or_else(|why| panic!("ledger {i}: {why}"));
        }
    }
    println!(
        "{ledgers} ledgers of step + close_ledger in {elapsed:?}: {:.0} ledgers/s; {} transactions, {} trades, mid {}/{}",
        ledgers as f64 / elapsed.as_secs_f64(),
        ledger.history().transactions.len(),
        ledger.history().trades.len(),
        market.mid().0,
        market.mid().1
    );
    let transactions = ledger.history().transactions.len();
    let failed = ledger.history().transactions.iter().filter(|t| !t.successful).count();
    assert!(failed * 100 <= transactions, "{failed} of {transactions} transactions failed");
    let (ask, bid) = top_of_book(&ledger, &market.asset());
    assert!(ask.is_some() && bid.is_some(), "the book is two-sided at the end");
    let late = ledger.history().trades.iter().filter(|t| t.ledger > ledger.ledger_seq() - 500).count();
    assert!(late > 0, "trades in the last 500 ledgers");
}

#[test]
fn grant_pays_the_asset_to_a_trustline() {
    let mut ledger = Ledger::new(LedgerConfig::default());
    let mut market = Market::new(config(3), &mut ledger, NOW).unwrap();
    let asset = market.asset();
    let strategy: Key = key(200);
    assert!(ledger.fund(&strategy.id, 1_000 * XLM).succeeded());

    // No trustline yet: an error, no panic.
    let err = market.grant(&mut ledger, &strategy.id, 50 * XLM, NOW).unwrap_err();
    assert!(matches!(err, MarketError::Failed { .. }), "{err}");
    assert!(err.to_string().contains("NoTrust"), "{err}");

    let trust = tx(&ledger, &strategy, vec![op(change_trust(&asset, i64::MAX))]);
    let envelope = sign_for(ledger.network(), trust, &[&strategy]);
    assert!(ledger.submit(&envelope, NOW).unwrap().succeeded());
    let granted = market.grant(&mut ledger, &strategy.id, 50 * XLM, NOW).unwrap();
    assert!(granted.succeeded());
    assert_eq!(ledger.balance(&strategy.id, &asset), Some(50 * XLM));

    // Bad amounts and unknown accounts are errors.
    assert!(market.grant(&mut ledger, &strategy.id, 0, NOW).is_err());
    assert!(market.grant(&mut ledger, &strategy.id, -5, NOW).is_err());
    assert!(matches!(market.grant(&mut ledger, &key(201).id, 5, NOW), Err(MarketError::NoAccount(_))));
    ledger.close_ledger(NOW + 10);
    assert!(matches!(market.grant(&mut ledger, &strategy.id, 5, NOW), Err(MarketError::TimeBeforeLastClose { .. })));
    ledger.check_invariants().unwrap();

    // A strategy trading against the market gets fills.
    market.step(&mut ledger, NOW + 15);
    ledger.close_ledger(NOW + 15);
    let (_, bid) = top_of_book(&ledger, &asset);
    let bid = bid.expect("the makers bid");
    // Sell 10 XLM at a tenth of the bid's price: marketable.
    let sell = xdr_sell(&Asset::Native, &asset, 10 * XLM, Price::new(bid.d(), bid.n().saturating_mul(2)).unwrap());
    let order = tx(&ledger, &strategy, vec![op(sell)]);
    let envelope = sign_for(ledger.network(), order, &[&strategy]);
    assert!(ledger.submit(&envelope, NOW + 20).unwrap().succeeded());
    assert!(ledger.history().trades.iter().any(|t| t.taker == strategy.id));
    ledger.check_invariants().unwrap();
}

fn xdr_sell(selling: &Asset, buying: &Asset, amount: i64, price: Price) -> stellar_xdr::OperationBody {
    use starlog_adapters::stellar::{asset_to_xdr, price_to_xdr};
    stellar_xdr::OperationBody::ManageSellOffer(stellar_xdr::ManageSellOfferOp {
        selling: asset_to_xdr(selling),
        buying: asset_to_xdr(buying),
        amount,
        price: price_to_xdr(price),
        offer_id: 0,
    })
}

#[test]
fn bad_configurations_are_errors() {
    let bad = [
        MarketConfig { makers: 0, ..config(1) },
        MarketConfig { makers: 1_000, ..config(1) },
        MarketConfig { takers: 1_000, ..config(1) },
        MarketConfig { mid_price: (0, 10), ..config(1) },
        MarketConfig { mid_price: (1, 0), ..config(1) },
        MarketConfig { mid_price: (-1, 10), ..config(1) },
        MarketConfig { mid_price: (1, i32::MAX), ..config(1) },
        MarketConfig { mid_price: (i32::MAX, 1), ..config(1) },
        MarketConfig { levels: 0, ..config(1) },
        MarketConfig { levels: 1_000, ..config(1) },
        MarketConfig { tick_bps: 0, ..config(1) },
        MarketConfig { tick_bps: 2_000, ..config(1) },
        MarketConfig { volatility_bps: 100_000, ..config(1) },
        MarketConfig { order_size_stroops: 0, ..config(1) },
        MarketConfig { order_size_stroops: -1, ..config(1) },
        MarketConfig { order_size_stroops: i64::MAX, ..config(1) },
        MarketConfig { taker_probability_pct: 101, ..config(1) },
        MarketConfig { asset_code: String::new(), ..config(1) },
        MarketConfig { asset_code: "WAY-TOO-LONG-CODE".to_owned(), ..config(1) },
        MarketConfig { asset_code: "US D".to_owned(), ..config(1) },
    ];
    for config in bad {
        let mut ledger = Ledger::new(LedgerConfig::default());
        let before = ledger.history().clone();
        let err = Market::new(config.clone(), &mut ledger, NOW).expect_err(&format!("{config:?}"));
        assert!(matches!(err, MarketError::Config(_)), "{config:?}: {err}");
        assert!(!err.to_string().is_empty());
        assert!(ledger.history() == &before, "{config:?}: nothing submitted");
    }
}

#[test]
fn setup_failures_are_errors() {
    // The same market twice on one ledger: its accounts exist already.
    let mut ledger = Ledger::new(LedgerConfig::default());
    Market::new(config(5), &mut ledger, NOW).unwrap();
    let err = Market::new(config(5), &mut ledger, NOW).unwrap_err();
    assert!(matches!(err, MarketError::Failed { .. }), "{err}");
    assert!(err.to_string().contains("funding the issuer"), "{err}");

    // A supply too small to fund the market.
    let mut poor = Ledger::new(LedgerConfig { total_coins_stroops: 1_000 * XLM, ..LedgerConfig::default() });
    let err = Market::new(config(5), &mut poor, NOW).unwrap_err();
    assert!(matches!(err, MarketError::Failed { .. }), "{err}");

    // Time before the last close.
    let mut ledger = Ledger::new(LedgerConfig::default());
    ledger.close_ledger(NOW);
    let err = Market::new(config(5), &mut ledger, NOW - 1).unwrap_err();
    assert!(matches!(err, MarketError::TimeBeforeLastClose { .. }), "{err}");
}

#[test]
fn a_step_in_the_past_does_nothing() {
    let mut ledger = Ledger::new(LedgerConfig::default());
    let mut market = Market::new(config(9), &mut ledger, NOW).unwrap();
    ledger.close_ledger(NOW + 5);
    assert!(market.step(&mut ledger, NOW).is_empty());
    assert!(!market.step(&mut ledger, NOW + 5).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn any_market_keeps_the_ledger_sound(
        seed in any::<u64>(),
        makers in 1usize..5,
        takers in 0usize..4,
        levels in 1usize..8,
        tick_bps in 1u32..60,
        volatility_bps in 0u32..200,
        order_size_stroops in 100i64..10_000 * XLM,
        taker_probability_pct in 0u8..=100,
        mid_n in 1i32..1_000,
        mid_d in 1i32..1_000,
    ) {
        let config = MarketConfig {
            seed,
            asset_code: "EURT".to_owned(),
            mid_price: (mid_n, mid_d),
            makers,
            takers,
            levels,
            tick_bps,
            volatility_bps,
            order_size_stroops,
            taker_probability_pct,
        };
        let mut ledger = Ledger::new(LedgerConfig::default());
        let mut market = Market::new(config, &mut ledger, NOW).expect("a valid configuration sets up");
        ledger.close_ledger(NOW);
        for i in 1..=50u64 {
            let now = NOW + i * CLOSE_SECONDS;
            market.step(&mut ledger, now);
            ledger.close_ledger(now);
            prop_assert!(ledger.check_invariants().is_ok(), "ledger {}: {:?}", i, ledger.check_invariants());
            prop_assert!(market.mid().0 > 0);
            let (ask, bid) = top_of_book(&ledger, &market.asset());
            if let (Some(ask), Some(bid)) = (ask, bid) {
                prop_assert!(!crossed(ask, bid), "ledger {}: crossed book {} / {}", i, ask, bid);
            }
        }
    }
}

#[test]
fn makers_drained_by_a_strategy_are_topped_up() {
    let mut ledger = Ledger::new(LedgerConfig::default());
    let mut market = Market::new(config(11), &mut ledger, NOW).unwrap();
    let asset = market.asset();
    let strategy: Key = key(210);
    assert!(ledger.fund(&strategy.id, 1_000 * XLM).succeeded());
    let trust = tx(&ledger, &strategy, vec![op(change_trust(&asset, i64::MAX))]);
    assert!(ledger.submit(&sign_for(ledger.network(), trust, &[&strategy]), NOW).unwrap().succeeded());
    market.grant(&mut ledger, &strategy.id, i64::MAX / 4, NOW).unwrap();
    ledger.close_ledger(NOW);
    let setup_payments = ledger.history().transactions.iter().filter(|t| t.source == market.issuer()).count();

    // The strategy buys all the XLM offered, at up to 100 asset per XLM (a thousand times the mid).
    let greedy = Price::new(1, 100).unwrap();
    let mut placed = false;
    for i in 1..=100u64 {
        let now = NOW + i * CLOSE_SECONDS;
        market.step(&mut ledger, now);
        if !placed {
            let order = tx(&ledger, &strategy, vec![op(xdr_sell(&asset, &Asset::Native, i64::MAX / 8, greedy))]);
            placed = ledger.submit(&sign_for(ledger.network(), order, &[&strategy]), now).unwrap().succeeded();
        }
        ledger.close_ledger(now);
        ledger.check_invariants().unwrap_or_else(|why| panic!("ledger {i}: {why}"));
    }
    assert!(placed);
    let payments = ledger.history().transactions.iter().filter(|t| t.source == market.issuer()).count();
    assert!(payments > setup_payments + 10, "{payments} issuer transactions, {setup_payments} at setup");
    assert!(ledger.history().trades.iter().filter(|t| t.taker == strategy.id || t.maker == strategy.id).count() > 100);
}
