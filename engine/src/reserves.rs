//! Balances, liabilities and reserves, the Stellar way: how much an account can still commit to
//! new offers, and the bookkeeping that keeps the engine's view conservative between account
//! snapshots: reserve when an order is accepted; settle each fill as the network does (the sold
//! amount leaves the balance and the liabilities, the bought amount arrives), unless the
//! snapshot already shows it ([`Balances::fill`]); release what is left when the order ends.
//!
//! The rules (stellar-core since protocol 10, CAP-0003 liabilities):
//! - minimum balance = (2 + subentries + sponsoring − sponsored) × base reserve;
//! - native available to sell = balance − minimum balance − selling liabilities;
//!   a credit asset's = balance − selling liabilities;
//! - room to receive = trustline limit − balance − buying liabilities (native: `i64::MAX`);
//! - a new offer is one more subentry; it adds its amount to the selling asset's selling
//!   liabilities and amount × price to the buying asset's buying liabilities.
//!
//! The engine's checks are at least as strict as the network's: buying liabilities are rounded up
//! and a check refuses what stellar-core would refuse (`op_sell_no_trust`, `op_buy_no_trust`,
//! `op_low_reserve`, `op_underfunded`, `op_line_full`), in that precedence.

use core::fmt;

use crate::amount::{AMOUNT_STROOPS_MAX, Amount};
use crate::asset::Asset;
use crate::error::AmountOverflow;
use crate::price::Price;

/// Minimum balance is this many base reserves plus one per subentry.
pub const ACCOUNT_BASE_RESERVES: i64 = 2;

/// One balance line: native, or a trustline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Line {
    pub asset: Asset,
    pub balance: Amount,
    pub buying_liabilities: Amount,
    pub selling_liabilities: Amount,
    /// Trustline limit; `Amount::MAX` for native.
    pub limit: Amount,
}

/// What an offer commits: liabilities on both sides and the subentry it occupies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Commitment {
    pub selling: Asset,
    pub buying: Asset,
    pub selling_liabilities: Amount,
    pub buying_liabilities: Amount,
    /// 1 for a new offer, 0 for a modification of a resting one.
    pub subentries: u32,
}

/// Why an account cannot carry an offer; each maps to the network's refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shortfall {
    /// No trustline for the asset to sell (`op_sell_no_trust`).
    SellNoTrust,
    /// No trustline for the asset to buy (`op_buy_no_trust`).
    BuyNoTrust,
    /// One more subentry would take the native balance under the minimum (`op_low_reserve`).
    LowReserve { minimum_balance: Amount, balance: Amount },
    /// Not enough of the selling asset beyond liabilities and reserve (`op_underfunded`).
    Underfunded { needed: Amount, available: Amount },
    /// The trustline cannot take what the offer would buy (`op_line_full`).
    LineFull { needed: Amount, room: Amount },
    /// An amount computation overflowed (amount × price beyond `i64`).
    Overflow,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shortfall::SellNoTrust => f.write_str("no trustline for the selling asset"),
            Shortfall::BuyNoTrust => f.write_str("no trustline for the buying asset"),
            Shortfall::LowReserve { minimum_balance, balance } => {
                write!(f, "one more offer needs a minimum balance of {minimum_balance} XLM; the balance is {balance}")
            }
            Shortfall::Underfunded { needed, available } => {
                write!(f, "the offer sells {needed} but only {available} is available")
            }
            Shortfall::LineFull { needed, room } => {
                write!(f, "the offer may buy {needed} but the trustline has room for {room}")
            }
            Shortfall::Overflow => f.write_str("amount × price overflows"),
        }
    }
}

impl From<AmountOverflow> for Shortfall {
    fn from(_: AmountOverflow) -> Shortfall {
        Shortfall::Overflow
    }
}

/// Up to this many balance lines, a line is found by a linear scan (a binary search above).
const LINES_SCANNED_MAX: usize = 8;

/// An account's balances as the engine tracks them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Balances {
    pub base_reserve: Amount,
    pub subentries: u32,
    pub num_sponsoring: u32,
    pub num_sponsored: u32,
    /// The ledger the account snapshot these balances come from reflects (0: unknown): a fill
    /// of a later ledger is not in them yet, one of this ledger or earlier is.
    pub ledger: u32,
    /// The newest ledger whose fills were settled on top of the snapshot ([`Balances::fill`]):
    /// a snapshot older than it would bring back what those fills sold.
    pub settled_ledger: u32,
    /// Sorted by asset, native first; at most one line per asset.
    lines: Vec<Line>,
}

impl Balances {
    /// Balances from an account snapshot; lines in any order (kept sorted), duplicates refused.
    pub fn new(
        base_reserve: Amount,
        subentries: u32,
        num_sponsoring: u32,
        num_sponsored: u32,
        mut lines: Vec<Line>,
    ) -> Option<Balances> {
        lines.sort_by_key(|l| l.asset);
        if lines.windows(2).any(|w| matches!(w, [a, b] if a.asset == b.asset)) {
            return None;
        }
        Some(Balances { base_reserve, subentries, num_sponsoring, num_sponsored, ledger: 0, settled_ledger: 0, lines })
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    pub fn line(&self, asset: &Asset) -> Option<&Line> {
        self.position(asset).and_then(|i| self.lines.get(i))
    }

    fn line_mut(&mut self, asset: &Asset) -> Option<&mut Line> {
        self.position(asset).and_then(|i| self.lines.get_mut(i))
    }

    // Inlined: called several times per placement, and its prologue and epilogue (saved
    // registers) cost as much as the lookup itself.
    #[inline(always)]
    fn position(&self, asset: &Asset) -> Option<usize> {
        // Native sorts first: the line every order looks at (reserves) needs no search.
        if asset.is_native() {
            return self.lines.first().is_some_and(|l| l.asset.is_native()).then_some(0);
        }
        // An account trading a pair or two has a handful of lines: comparing for equality
        // beats ordering comparisons of 36–44-byte assets.
        if self.lines.len() <= LINES_SCANNED_MAX {
            return self.lines.iter().position(|l| l.asset == *asset);
        }
        self.lines.binary_search_by(|l| l.asset.cmp(asset)).ok()
    }

    /// (2 + subentries + sponsoring − sponsored) × base reserve, with `extra` more subentries.
    pub fn minimum_balance(&self, extra_subentries: u32) -> Result<Amount, AmountOverflow> {
        let entries = ACCOUNT_BASE_RESERVES
            + i64::from(self.subentries)
            + i64::from(extra_subentries)
            + i64::from(self.num_sponsoring)
            - i64::from(self.num_sponsored);
        let stroops = entries.max(0).checked_mul(self.base_reserve.stroops()).ok_or(AmountOverflow)?;
        Amount::from_stroops(stroops)
    }

    /// What can still be committed to selling `asset` (0 if reserves or liabilities exceed it).
    pub fn available_to_sell(&self, asset: &Asset, extra_subentries: u32) -> Result<Amount, AmountOverflow> {
        self.available_in(self.line(asset), extra_subentries)
    }

    fn available_in(&self, line: Option<&Line>, extra_subentries: u32) -> Result<Amount, AmountOverflow> {
        let Some(line) = line else { return Ok(Amount::ZERO) };
        let mut held = line.selling_liabilities;
        if line.asset.is_native() {
            held = held.checked_add(self.minimum_balance(extra_subentries)?)?;
        }
        Ok(line.balance.checked_sub(held).unwrap_or(Amount::ZERO))
    }

    /// How much more of `asset` the account can receive.
    pub fn room_to_buy(&self, asset: &Asset) -> Amount {
        room_in(self.line(asset))
    }

    /// What a sell offer of `amount` of `selling` at `price` (buying per selling) commits, or
    /// why the account cannot carry it. `new_offer` is false when modifying a resting offer
    /// (whose own commitment the caller has released first).
    pub fn commitment(
        &self,
        selling: Asset,
        buying: Asset,
        amount: Amount,
        price: Price,
        new_offer: bool,
    ) -> Result<Commitment, Shortfall> {
        // Each line is looked up once.
        let (sell_line, buy_line) = (self.line(&selling), self.line(&buying));
        if !selling.is_native() && sell_line.is_none() {
            return Err(Shortfall::SellNoTrust);
        }
        if !buying.is_native() && buy_line.is_none() {
            return Err(Shortfall::BuyNoTrust);
        }
        let subentries = u32::from(new_offer);
        if new_offer {
            let minimum_balance = self.minimum_balance(1)?;
            let native = self.line(&Asset::Native);
            let balance = native.map_or(Amount::ZERO, |l| l.balance);
            let held = native.map_or(Amount::ZERO, |l| l.selling_liabilities);
            if balance.checked_sub(held).map_or(true, |free| free < minimum_balance) {
                return Err(Shortfall::LowReserve { minimum_balance, balance });
            }
        }
        let available = self.available_in(sell_line, subentries)?;
        if amount > available {
            return Err(Shortfall::Underfunded { needed: amount, available });
        }
        let buying_liabilities = price.notional_ceil(amount)?;
        let room = room_in(buy_line);
        if buying_liabilities > room {
            return Err(Shortfall::LineFull { needed: buying_liabilities, room });
        }
        Ok(Commitment { selling, buying, selling_liabilities: amount, buying_liabilities, subentries })
    }

    /// Phase one: hold what an accepted order commits.
    pub fn reserve(&mut self, c: &Commitment) -> Result<(), AmountOverflow> {
        // Every sum is checked before anything changes: all or nothing.
        let (sell, buy) = (self.position(&c.selling), self.position(&c.buying));
        let line = |i: Option<usize>| i.and_then(|i| self.lines.get(i));
        let selling = line(sell).map(|l| l.selling_liabilities.checked_add(c.selling_liabilities)).transpose()?;
        let buying = line(buy).map(|l| l.buying_liabilities.checked_add(c.buying_liabilities)).transpose()?;
        let subentries = self.subentries.checked_add(c.subentries).ok_or(AmountOverflow)?;
        if let (Some(v), Some(l)) = (selling, sell.and_then(|i| self.lines.get_mut(i))) {
            l.selling_liabilities = v;
        }
        if let (Some(v), Some(l)) = (buying, buy.and_then(|i| self.lines.get_mut(i))) {
            l.buying_liabilities = v;
        }
        self.subentries = subentries;
        Ok(())
    }

    /// Part of an order filled: it sold `sold` of `c.selling` and received `received` of
    /// `c.buying`, in `ledger` (`None`: a fill known to have happened at a ledger not known — an
    /// offer found gone). The order's commitment `c` shrinks by what the fill settled, so that
    /// releasing it when the order ends gives back only the rest.
    ///
    /// The lines change as the network changed them, for a fill the balances do not reflect
    /// yet: one after their snapshot's ledger takes `sold` off the selling line's balance and
    /// liabilities, and adds `received` to the buying line's balance, off its liabilities. One at
    /// or before it is in the snapshot already: the lines stay. One at an unknown ledger gets the
    /// selling side only — if the snapshot had it, the balance and the liabilities both drop by
    /// `sold` once more, which leaves what is available to sell as it was — and nothing is
    /// credited until a snapshot shows it.
    pub fn fill(&mut self, c: &mut Commitment, sold: Amount, received: Amount, ledger: Option<u32>) {
        let selling_settled = sold.min(c.selling_liabilities);
        let buying_settled = received.min(c.buying_liabilities);
        c.selling_liabilities = c.selling_liabilities.checked_sub(selling_settled).unwrap_or(Amount::ZERO);
        c.buying_liabilities = c.buying_liabilities.checked_sub(buying_settled).unwrap_or(Amount::ZERO);
        // A snapshot of an unknown ledger (0) may or may not hold any fill: as for a fill of an
        // unknown ledger, only the selling side.
        let (selling_side, buying_side) = match ledger {
            Some(l) if self.ledger != 0 && l > self.ledger => (true, true),
            Some(_) if self.ledger != 0 => (false, false),
            _ => (true, false),
        };
        if let Some(l) = ledger
            && selling_side
        {
            self.settled_ledger = self.settled_ledger.max(l);
        }
        if selling_side && let Some(l) = self.line_mut(&c.selling) {
            l.balance = l.balance.checked_sub(sold).unwrap_or(Amount::ZERO);
            l.selling_liabilities = l.selling_liabilities.checked_sub(selling_settled).unwrap_or(Amount::ZERO);
        }
        if buying_side && let Some(l) = self.line_mut(&c.buying) {
            l.balance = l.balance.checked_add(received).unwrap_or(Amount::MAX);
            l.buying_liabilities = l.buying_liabilities.checked_sub(buying_settled).unwrap_or(Amount::ZERO);
        }
    }

    /// Phase two: give back (part of) a commitment when the order fills, is cancelled or is
    /// rejected. Releasing more than is held saturates at zero (a snapshot may have arrived in
    /// between and already reflect it).
    pub fn release(&mut self, c: &Commitment) {
        if let Some(l) = self.line_mut(&c.selling) {
            l.selling_liabilities = l.selling_liabilities.checked_sub(c.selling_liabilities).unwrap_or(Amount::ZERO);
        }
        if let Some(l) = self.line_mut(&c.buying) {
            l.buying_liabilities = l.buying_liabilities.checked_sub(c.buying_liabilities).unwrap_or(Amount::ZERO);
        }
        self.subentries = self.subentries.saturating_sub(c.subentries);
    }
}

/// How much more a line's asset the account can receive (nothing without a line).
fn room_in(line: Option<&Line>) -> Amount {
    let Some(line) = line else { return Amount::ZERO };
    let limit = if line.asset.is_native() { Amount::MAX } else { line.limit };
    limit.checked_sub(line.balance).and_then(|r| r.checked_sub(line.buying_liabilities)).unwrap_or(Amount::ZERO)
}

impl Balances {
    /// Snapshot encoding (see [`crate::snapshot`]): base reserve, subentry counts, the
    /// snapshot's ledger and the newest ledger settled on top of it, then each
    /// line (asset, balance, buying and selling liabilities, limit) in asset order.
    pub(crate) fn encode_snapshot(&self, out: &mut Vec<u8>) {
        use crate::snapshot::{put_amount, put_asset, put_len, put_u32};
        put_amount(out, self.base_reserve);
        put_u32(out, self.subentries);
        put_u32(out, self.num_sponsoring);
        put_u32(out, self.num_sponsored);
        put_u32(out, self.ledger);
        put_u32(out, self.settled_ledger);
        put_len(out, self.lines.len());
        for l in &self.lines {
            put_asset(out, l.asset);
            put_amount(out, l.balance);
            put_amount(out, l.buying_liabilities);
            put_amount(out, l.selling_liabilities);
            put_amount(out, l.limit);
        }
    }

    /// The balances [`Balances::encode_snapshot`] wrote; lines must be in strictly ascending
    /// asset order (one encoding per state).
    pub(crate) fn decode_snapshot(
        r: &mut crate::snapshot::Reader<'_>,
    ) -> Result<Balances, crate::snapshot::SnapshotError> {
        use crate::snapshot::corrupt;
        let base_reserve = r.amount()?;
        let (subentries, num_sponsoring, num_sponsored) = (r.u32()?, r.u32()?, r.u32()?);
        let (ledger, settled_ledger) = (r.u32()?, r.u32()?);
        let n = r.len(33)?;
        let mut lines: Vec<Line> = Vec::with_capacity(n);
        for _ in 0..n {
            let line = Line {
                asset: r.asset()?,
                balance: r.amount()?,
                buying_liabilities: r.amount()?,
                selling_liabilities: r.amount()?,
                limit: r.amount()?,
            };
            if lines.last().is_some_and(|prev| prev.asset >= line.asset) {
                return Err(corrupt("balance lines out of asset order"));
            }
            lines.push(line);
        }
        Ok(Balances { base_reserve, subentries, num_sponsoring, num_sponsored, ledger, settled_ledger, lines })
    }
}

const _: () = assert!(AMOUNT_STROOPS_MAX == i64::MAX);

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

    fn usd() -> Asset {
        format!("USD:{ISSUER}").parse().unwrap()
    }
    fn eur() -> Asset {
        format!("EUR:{ISSUER}").parse().unwrap()
    }
    fn a(s: &str) -> Amount {
        s.parse().unwrap()
    }
    fn p(s: &str) -> Price {
        s.parse().unwrap()
    }
    fn line(asset: Asset, balance: &str, limit: &str) -> Line {
        Line {
            asset,
            balance: a(balance),
            buying_liabilities: Amount::ZERO,
            selling_liabilities: Amount::ZERO,
            limit: a(limit),
        }
    }
    proptest::proptest! {
        /// Whatever the number of lines (scanned up to LINES_SCANNED_MAX, searched above), a
        /// lookup finds exactly the line of that asset, and nothing for an asset without one.
        #[test]
        fn a_line_is_found_by_its_asset(codes in proptest::collection::btree_set(0u16..400, 0..20), native in proptest::bool::ANY, probe in 0u16..400) {
            let asset = |c: u16| -> Asset { format!("C{c}:{ISSUER}").parse().unwrap() };
            let mut lines: Vec<Line> = codes.iter().map(|&c| line(asset(c), "1", "10")).collect();
            if native {
                lines.push(line(Asset::Native, "5", "0"));
            }
            let b = Balances::new(a("0.5"), 0, 0, 0, lines).unwrap();
            for wanted in [asset(probe), Asset::Native] {
                let naive = b.lines().iter().find(|l| l.asset == wanted);
                proptest::prop_assert_eq!(b.line(&wanted), naive);
            }
        }
    }

    /// 100 XLM, 1000 USD (limit 5000), 0.5 XLM base reserve, 1 subentry (the USD trustline).
    fn account() -> Balances {
        Balances::new(
            a("0.5"),
            1,
            0,
            0,
            vec![line(usd(), "1000", "5000"), line(Asset::Native, "100", "922337203685.4775807")],
        )
        .unwrap()
    }

    #[test]
    fn minimum_balance_and_availability() {
        let b = account();
        assert_eq!(b.minimum_balance(0).unwrap(), a("1.5"));
        assert_eq!(b.minimum_balance(1).unwrap(), a("2"));
        assert_eq!(b.available_to_sell(&Asset::Native, 1).unwrap(), a("98"));
        assert_eq!(b.available_to_sell(&usd(), 1).unwrap(), a("1000"));
        assert_eq!(b.room_to_buy(&usd()), a("4000"));
        assert_eq!(b.available_to_sell(&eur(), 0).unwrap(), Amount::ZERO);
        let sponsored = Balances { num_sponsored: 5, ..b.clone() };
        assert_eq!(sponsored.minimum_balance(0).unwrap(), Amount::ZERO, "never below zero");
    }

    #[test]
    fn refusals_in_the_networks_precedence() {
        let b = account();
        assert_eq!(b.commitment(eur(), usd(), a("1"), p("1"), true), Err(Shortfall::SellNoTrust));
        assert_eq!(b.commitment(usd(), eur(), a("1"), p("1"), true), Err(Shortfall::BuyNoTrust));
        assert_eq!(
            b.commitment(Asset::Native, usd(), a("98.0000001"), p("1"), true),
            Err(Shortfall::Underfunded { needed: a("98.0000001"), available: a("98") })
        );
        assert!(b.commitment(Asset::Native, usd(), a("98"), p("1"), true).is_ok());
        // Buying 98 XLM × 50 = 4900 USD does not fit a line with room for 4000.
        assert_eq!(
            b.commitment(Asset::Native, usd(), a("98"), p("50"), true),
            Err(Shortfall::LineFull { needed: a("4900"), room: a("4000") })
        );
        let poor =
            Balances::new(a("0.5"), 1, 0, 0, vec![line(Asset::Native, "1.9", "1"), line(usd(), "1", "10")]).unwrap();
        assert_eq!(
            poor.commitment(usd(), Asset::Native, a("1"), p("1"), true),
            Err(Shortfall::LowReserve { minimum_balance: a("2"), balance: a("1.9") })
        );
        // Modifying a resting offer takes no new subentry.
        assert!(poor.commitment(usd(), Asset::Native, a("1"), p("1"), false).is_ok());
    }

    #[test]
    fn buying_liabilities_round_up() {
        let b = account();
        // 0.0000001 XLM at 1/3 USD per XLM: exact 0.0000000333…, held as one stroop.
        let c = b.commitment(Asset::Native, usd(), a("0.0000001"), p("1/3"), true).unwrap();
        assert_eq!(c.buying_liabilities, a("0.0000001"));
    }

    #[test]
    fn reserve_then_release_is_the_identity() {
        let mut b = account();
        let before = b.clone();
        let c = b.commitment(Asset::Native, usd(), a("10"), p("2"), true).unwrap();
        b.reserve(&c).unwrap();
        assert_eq!(b.subentries, 2);
        assert_eq!(b.line(&Asset::Native).unwrap().selling_liabilities, a("10"));
        assert_eq!(b.line(&usd()).unwrap().buying_liabilities, a("20"));
        // 100 − 10 held − minimum (2 + 2 subentries) × 0.5.
        assert_eq!(b.available_to_sell(&Asset::Native, 0).unwrap(), a("88"));
        // A second order sees the first one's hold, and its own subentry.
        assert!(b.commitment(Asset::Native, usd(), a("87.5000001"), p("1"), true).is_err());
        assert!(b.commitment(Asset::Native, usd(), a("87.5"), p("1"), true).is_ok());
        b.release(&c);
        assert_eq!(b, before);
    }

    #[test]
    fn duplicate_lines_are_refused() {
        assert!(Balances::new(a("0.5"), 0, 0, 0, vec![line(usd(), "1", "2"), line(usd(), "3", "4")]).is_none());
    }
}
