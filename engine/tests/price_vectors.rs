//! Decimal → `n/d` vectors produced by the Python Stellar SDK (`Price.from_raw_price`); see
//! the header of `fixtures/price_vectors.txt` for how they were generated.

use starlog_engine::Price;

const VECTORS: &str = include_str!("fixtures/price_vectors.txt");

#[test]
fn python_sdk_price_vectors() {
    let mut checked = 0;
    for (line_no, line) in VECTORS.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let parsed = Price::from_decimal_str(fields[0]);
        match fields[1..] {
            ["error"] => assert!(parsed.is_err(), "line {}: {line}: got {parsed:?}", line_no + 1),
            [n, d] => {
                let price = parsed.unwrap_or_else(|e| panic!("line {}: {line}: {e}", line_no + 1));
                let expected = (n.parse::<i32>().unwrap(), d.parse::<i32>().unwrap());
                assert_eq!((price.n(), price.d()), expected, "line {}: {line}", line_no + 1);
            }
            _ => panic!("line {}: malformed vector {line:?}", line_no + 1),
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} vectors");
}
