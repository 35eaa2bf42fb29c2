//! Property tests of the domain types against naive reference models.

use std::cmp::Ordering;
use std::hash::{DefaultHasher, Hash, Hasher};

use proptest::prelude::*;
use starlog_engine::{
    AccountId, Amount, Asset, ClientOrderId, OfferId, OfferRef, PRICE_DECIMALS_MAX, Pair, ParseErrorKind, Price,
    SignedAmount,
};

const MAX: i128 = i32::MAX as i128;

/// The SDKs' loop, written naively over reduced fractions `(num, den)`, the way the Python
/// SDK writes it with `Decimal`: `a = floor(x); f = x - a; ...; x = 1 / f`.
fn reference_approximation(num: i128, den: i128) -> Option<(i128, i128)> {
    fn gcd(a: i128, b: i128) -> i128 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    fn reduce((n, d): (i128, i128)) -> (i128, i128) {
        let g = gcd(n, d);
        (n / g, d / g)
    }
    let mut x = reduce((num, den));
    let mut fractions = vec![(0i128, 1i128), (1, 0)];
    loop {
        // x > int32_max
        if x.0 > MAX * x.1 {
            break;
        }
        let a = x.0.div_euclid(x.1);
        let f = reduce((x.0 - a * x.1, x.1));
        let (h1, k1) = fractions[fractions.len() - 1];
        let (h0, k0) = fractions[fractions.len() - 2];
        let (h, k) = (a * h1 + h0, a * k1 + k0);
        if h > MAX || k > MAX {
            break;
        }
        fractions.push((h, k));
        if f.0 == 0 {
            break;
        }
        x = (f.1, f.0);
    }
    let (n, d) = fractions[fractions.len() - 1];
    if n == 0 || d == 0 { None } else { Some((n, d)) }
}

/// Compares `a/b` with `c/d` (all positive) without multiplying: by integer parts, then by
/// the reciprocals of the remainders.
fn naive_cmp(a: i64, b: i64, c: i64, d: i64) -> Ordering {
    let (qa, qc) = (a / b, c / d);
    if qa != qc {
        return qa.cmp(&qc);
    }
    let (ra, rc) = (a % b, c % d);
    match (ra, rc) {
        (0, 0) => Ordering::Equal,
        (0, _) => Ordering::Less,
        (_, 0) => Ordering::Greater,
        // a/b = q + ra/b and c/d = q + rc/d: compare ra/b with rc/d, i.e. d/rc with b/ra.
        _ => naive_cmp(d, rc, b, ra),
    }
}

fn hash_of<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// `(text, p, q)`: a decimal without a redundant leading zero and its exact value `p/q`,
/// with at most `frac_digits_max` decimals; dense near the edges 1/i32::MAX and i32::MAX.
fn decimal_text(frac_digits_max: usize) -> impl Strategy<Value = (String, i128, i128)> {
    prop_oneof![
        "(0|[1-9][0-9]{0,10})(\\.[0-9]{1,28})?",
        "0\\.0{0,12}[1-9][0-9]{0,16}",
        "0\\.00000000046566128[0-9]{0,10}",
        "214748364[0-9](\\.[0-9]{1,10})?",
    ]
    .prop_map(move |text: String| {
        // At most 38 digits in all, so that p fits in an i128 (11 + 28 could overflow it).
        let text = match text.split_once('.') {
            Some((int, frac)) if frac.len() > frac_digits_max.min(38 - int.len()) => {
                format!("{int}.{}", &frac[..frac_digits_max.min(38 - int.len()).max(1)])
            }
            _ => text,
        };
        let (mut p, mut q) = (0i128, 1i128);
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        for digit in int.bytes().chain(frac.bytes()) {
            p = p * 10 + i128::from(digit - b'0');
        }
        for _ in 0..frac.len() {
            q *= 10;
        }
        (text, p, q)
    })
}

fn price() -> impl Strategy<Value = Price> {
    prop_oneof![
        (1..=i32::MAX, 1..=i32::MAX),
        (1..=100i32, 1..=100i32),
        (i32::MAX - 100..=i32::MAX, i32::MAX - 100..=i32::MAX),
    ]
    .prop_map(|(n, d)| Price::new(n, d).unwrap())
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![0..=i64::MAX, 0..=1_000i64, i64::MAX - 1_000..=i64::MAX]
        .prop_map(|stroops| Amount::from_stroops(stroops).unwrap())
}

fn asset() -> impl Strategy<Value = Asset> {
    prop_oneof![
        Just(Asset::Native),
        ("[A-Za-z0-9]{1,12}", any::<[u8; 32]>())
            .prop_map(|(code, issuer)| { Asset::credit(&code, AccountId::from_bytes(issuer)).unwrap() }),
    ]
}

proptest! {
    #[test]
    fn amount_display_parse_round_trips(stroops in 0..=i64::MAX) {
        let amount = Amount::from_stroops(stroops).unwrap();
        let text = amount.to_string();
        prop_assert_eq!(text.parse::<Amount>(), Ok(amount));
        // Always 7 decimals.
        prop_assert_eq!(text.split_once('.').map(|(_, frac)| frac.len()), Some(7));
    }

    #[test]
    fn signed_amount_display_parse_round_trips(stroops in any::<i64>()) {
        let amount = SignedAmount::from_stroops(stroops);
        prop_assert_eq!(amount.to_string().parse::<SignedAmount>(), Ok(amount));
    }

    #[test]
    fn amount_parse_display_is_canonical(
        int in prop_oneof![0u64..10, 0u64..=922_337_203_685],
        frac in "[0-9]{0,7}",
    ) {
        let text = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
        let Ok(amount) = text.parse::<Amount>() else {
            // Only values above the maximum may fail.
            prop_assert!(int == 922_337_203_685);
            return Ok(());
        };
        let canonical = format!("{int}.{frac:0<7}");
        prop_assert_eq!(amount.to_string(), canonical.clone());
        prop_assert_eq!(canonical.parse::<Amount>(), Ok(amount));
        let signed = format!("-{text}").parse::<SignedAmount>().unwrap();
        prop_assert_eq!(signed.checked_neg().and_then(SignedAmount::to_amount), Ok(amount));
    }

    #[test]
    fn ratio_round_trips(n in 1..=i32::MAX, d in 1..=i32::MAX) {
        let text = format!("{n}/{d}");
        let price: Price = text.parse().unwrap();
        prop_assert_eq!((price.n(), price.d()), (n, d));
        prop_assert_eq!(price.to_string(), text);
    }

    #[test]
    fn decimal_price_matches_reference((text, p, q) in decimal_text(PRICE_DECIMALS_MAX as usize)) {
        let parsed = Price::from_decimal_str(&text);
        match reference_approximation(p, q) {
            Some((n, d)) => {
                let price = parsed.unwrap();
                prop_assert_eq!((i128::from(price.n()), i128::from(price.d())), (n, d));
            }
            None => {
                let kind = parsed.unwrap_err().kind();
                if p == 0 {
                    prop_assert_eq!(kind, ParseErrorKind::PriceZero);
                } else if p > MAX * q {
                    prop_assert_eq!(kind, ParseErrorKind::PriceTooLarge);
                } else {
                    prop_assert_eq!(kind, ParseErrorKind::PriceTooSmall);
                    // x < 1/i32::MAX
                    prop_assert!(p * MAX < q);
                }
            }
        }
    }

    #[test]
    fn decimal_price_is_exact_or_within_bound((text, p, q) in decimal_text(18)) {
        let Ok(price) = Price::from_decimal_str(&text) else { return Ok(()) };
        let (n, d) = (i128::from(price.n()), i128::from(price.d()));
        let (g_p, g_q) = {
            let (mut a, mut b) = (p, q);
            while b != 0 { (a, b) = (b, a % b); }
            (p / a, q / a)
        };
        if g_p <= MAX && g_q <= MAX {
            // Exactly representable: exact, in lowest terms.
            prop_assert_eq!((n, d), (g_p, g_q));
        } else {
            // A convergent: |p/q - n/d| < 1/d^2, i.e. |p*d - n*q| * d < q (p*d < 2^125).
            let diff = (p * d - n * q).abs();
            prop_assert!(diff.checked_mul(d).is_some_and(|lhs| lhs < q), "{text} -> {price}");
        }
    }

    #[test]
    fn cmp_value_agrees_with_naive(a in price(), b in price()) {
        let naive = naive_cmp(a.n().into(), a.d().into(), b.n().into(), b.d().into());
        prop_assert_eq!(a.cmp_value(b), naive);
        prop_assert_eq!(a.cmp(&b), naive);
        prop_assert_eq!(a == b, naive == Ordering::Equal);
        prop_assert_eq!(b.cmp_value(a), naive.reverse());
        if a == b {
            prop_assert_eq!(hash_of(&a), hash_of(&b));
        }
    }

    #[test]
    fn equal_values_are_eq_and_hash_alike(n in 1..=1000i32, d in 1..=1000i32, k in 1..=1000i32) {
        let a = Price::new(n, d).unwrap();
        let b = Price::new(n * k, d * k).unwrap();
        prop_assert_eq!(a, b);
        prop_assert_eq!(a.cmp(&b), Ordering::Equal);
        prop_assert_eq!(hash_of(&a), hash_of(&b));
        prop_assert_eq!(a.reduced(), b.reduced());
        prop_assert_eq!((b.reduced().n(), b.reduced().d()), (a.reduced().n(), a.reduced().d()));
    }

    #[test]
    fn notional_floor_le_exact_le_ceil(amount in amount(), price in price()) {
        let exact = i128::from(amount.stroops()) * i128::from(price.n());
        let d = i128::from(price.d());
        let fits = exact / d <= i128::from(i64::MAX);
        match price.notional_floor(amount) {
            Ok(floor) => {
                let floor = i128::from(floor.stroops());
                prop_assert!(floor * d <= exact && exact < (floor + 1) * d);
            }
            Err(_) => prop_assert!(!fits),
        }
        match (price.notional_floor(amount), price.notional_ceil(amount)) {
            (Ok(floor), Ok(ceil)) => {
                let ceil_i = i128::from(ceil.stroops());
                prop_assert!((ceil_i - 1) * d < exact && exact <= ceil_i * d);
                let gap = ceil.stroops() - floor.stroops();
                prop_assert_eq!(gap, i64::from(exact % d != 0));
            }
            (Ok(floor), Err(_)) => prop_assert_eq!(floor, Amount::MAX),
            (Err(_), ceil) => prop_assert!(ceil.is_err()),
        }
    }

    #[test]
    fn asset_and_pair_round_trip(selling in asset(), buying in asset()) {
        prop_assert_eq!(selling.to_string().parse::<Asset>(), Ok(selling));
        match Pair::new(selling, buying) {
            Ok(pair) => {
                prop_assert_eq!(pair.to_string().parse::<Pair>(), Ok(pair));
                prop_assert_eq!(pair.inverse().inverse(), pair);
            }
            Err(e) => {
                prop_assert_eq!(selling, buying);
                prop_assert_eq!(e.kind(), ParseErrorKind::PairSameAsset);
            }
        }
    }

    #[test]
    fn id_round_trips(id in 1..=i64::MAX, client in any::<u64>()) {
        let offer = OfferId::new(id).unwrap();
        prop_assert_eq!(offer.to_string().parse::<OfferId>(), Ok(offer));
        let offer_ref = OfferRef::from_xdr(id).unwrap();
        prop_assert_eq!(offer_ref.to_string().parse::<OfferRef>(), Ok(offer_ref));
        let client = ClientOrderId::new(client);
        prop_assert_eq!(client.to_string().parse::<ClientOrderId>(), Ok(client));
    }

    /// The fuzz target's property, on strings that look like our inputs and on any strings:
    /// no parser panics, errors render on one line, and what parses round-trips.
    #[test]
    fn parsers_never_panic_and_round_trip(
        input in prop_oneof![
            "[-+0-9./eE]{0,32}",
            "[-+0-9./:A-Za-z \u{a0}٣]{0,70}",
            any::<String>(),
        ]
    ) {
        fn check<T>(input: &str) -> Result<(), TestCaseError>
        where
            T: std::str::FromStr<Err = starlog_engine::ParseError>
                + std::fmt::Display
                + std::fmt::Debug
                + PartialEq,
        {
            match input.parse::<T>() {
                Ok(value) => {
                    let text = value.to_string();
                    prop_assert_eq!(text.parse::<T>(), Ok(value));
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(!message.contains('\n') && !message.contains('\r'), "{}", message);
                }
            }
            Ok(())
        }
        check::<Amount>(&input)?;
        check::<SignedAmount>(&input)?;
        check::<Price>(&input)?;
        check::<AccountId>(&input)?;
        check::<Asset>(&input)?;
        check::<Pair>(&input)?;
        check::<OfferId>(&input)?;
        check::<OfferRef>(&input)?;
        check::<ClientOrderId>(&input)?;
        if let Ok(price) = input.parse::<Price>() {
            // Display is n/d as stored, so the representation round-trips too.
            let again: Price = price.to_string().parse().unwrap();
            prop_assert_eq!((again.n(), again.d()), (price.n(), price.d()));
        }
    }
}
