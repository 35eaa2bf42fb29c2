//! Fuzzes the simulated ledger's transaction application on a small pre-funded ledger (an
//! issuer, two traders with trustlines and balances, one resting offer).
//!
//! First byte even: the rest is an envelope as a client would send it (hostile XDR).
//! First byte odd: the rest is a script of well-signed transactions (payments, trustlines,
//! data entries, offers, account creation, with fuzzed amounts, prices and offer ids), so
//! that application paths beyond validation are reached.
//!
//! Properties: no panic; after every submission the ledger's invariants hold (native coins
//! conserved with the fee pool, balances and liabilities in range, subentry counts matching
//! the entries); a rejected transaction leaves the accounts unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use starlog_adapters::keys::{Seed, SeedSigner, Signer, StoreKind};
use starlog_adapters::stellar::tx as stx;
use starlog_adapters::stellar::{account_to_xdr, asset_to_xdr, muxed_to_xdr};
use starlog_engine::{AccountId, Asset};
use starlog_sim::ledger::{Ledger, LedgerConfig};
use stellar_xdr as xdr;

/// Accounts with known seeds: issuer, trader A, trader B, and one never funded.
const SEEDS: [[u8; 32]; 4] = [[1; 32], [2; 32], [3; 32], [4; 32]];
/// Close time of every submission.
const NOW: u64 = 1_700_000_000;
/// Most transactions in one structured input.
const TXS_PER_INPUT_MAX: usize = 8;

fn id(n: usize) -> AccountId {
    Seed::from_bytes(SEEDS[n]).public_key()
}

fn usd() -> Asset {
    Asset::credit("USD", id(0)).expect("valid code")
}

fn op(body: xdr::OperationBody) -> xdr::Operation {
    xdr::Operation { source_account: None, body }
}

fn change_trust(asset: &Asset, limit: i64) -> xdr::OperationBody {
    let line = match asset_to_xdr(asset) {
        xdr::Asset::Native => xdr::ChangeTrustAsset::Native,
        xdr::Asset::CreditAlphanum4(a) => xdr::ChangeTrustAsset::CreditAlphanum4(a),
        xdr::Asset::CreditAlphanum12(a) => xdr::ChangeTrustAsset::CreditAlphanum12(a),
    };
    xdr::OperationBody::ChangeTrust(xdr::ChangeTrustOp { line, limit })
}

fn payment(to: usize, asset: &Asset, amount: i64) -> xdr::OperationBody {
    xdr::OperationBody::Payment(xdr::PaymentOp {
        destination: muxed_to_xdr(&id(to)),
        asset: asset_to_xdr(asset),
        amount,
    })
}

/// Signs and submits `ops` from account `source` with the next sequence number.
fn submit(ledger: &mut Ledger, source: usize, ops: Vec<xdr::Operation>, fee: u32) -> starlog_sim::ledger::Submission {
    let seq = ledger.account(&id(source)).map_or(1, |a| a.seq_num + 1);
    let tx = xdr::Transaction {
        source_account: muxed_to_xdr(&id(source)),
        fee,
        seq_num: xdr::SequenceNumber(seq),
        cond: xdr::Preconditions::None,
        memo: xdr::Memo::None,
        operations: ops.try_into().expect("at most 100 operations"),
        ext: xdr::TransactionExt::V0,
    };
    let mut signer = SeedSigner::new(&Seed::from_bytes(SEEDS[source]), StoreKind::Env, "fuzz".into());
    let network = ledger.network().clone();
    let signed = stx::sign(tx, &network, &mut [&mut signer as &mut dyn Signer]).expect("signs");
    ledger.submit(&signed.to_xdr(), NOW).expect("decodes")
}

fn template() -> &'static Ledger {
    static LEDGER: OnceLock<Ledger> = OnceLock::new();
    LEDGER.get_or_init(|| {
        let mut ledger = Ledger::new(LedgerConfig::default());
        for n in 0..3 {
            assert!(ledger.fund(&id(n), 1_000_0000000).succeeded());
        }
        for n in 1..3 {
            assert!(submit(&mut ledger, n, vec![op(change_trust(&usd(), 1_000_000_0000000))], 100).succeeded());
            assert!(submit(&mut ledger, 0, vec![op(payment(n, &usd(), 500_0000000))], 100).succeeded());
        }
        let sell = xdr::OperationBody::ManageSellOffer(xdr::ManageSellOfferOp {
            selling: asset_to_xdr(&usd()),
            buying: xdr::Asset::Native,
            amount: 100_0000000,
            price: xdr::Price { n: 2, d: 1 },
            offer_id: 0,
        });
        assert!(submit(&mut ledger, 1, vec![op(sell)], 100).succeeded());
        ledger.close_ledger(NOW);
        ledger.check_invariants().expect("template is consistent");
        ledger
    })
}

/// Reads fuzz bytes as small numbers.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }

    fn i64(&mut self) -> i64 {
        let mut v = 0i64;
        for _ in 0..8 {
            v = (v << 8) | i64::from(self.byte());
        }
        v
    }

    /// Mostly small amounts, sometimes anything.
    fn amount(&mut self) -> i64 {
        match self.byte() % 4 {
            0 => self.i64(),
            1 => i64::from(self.byte()),
            _ => i64::from(self.byte()) * 1_0000000,
        }
    }

    fn asset(&mut self) -> Asset {
        match self.byte() % 3 {
            0 => Asset::Native,
            1 => usd(),
            _ => Asset::credit("EUR", id(1)).expect("valid code"),
        }
    }
}

fn structured(ledger: &mut Ledger, mut input: Bytes<'_>) {
    for _ in 0..TXS_PER_INPUT_MAX {
        if input.0.is_empty() {
            break;
        }
        let source = usize::from(input.byte() % 4);
        let ops_count = 1 + usize::from(input.byte() % 3);
        let mut ops = Vec::with_capacity(ops_count);
        for _ in 0..ops_count {
            let body = match input.byte() % 7 {
                0 => xdr::OperationBody::CreateAccount(xdr::CreateAccountOp {
                    destination: account_to_xdr(&id(usize::from(input.byte() % 4))),
                    starting_balance: input.amount(),
                }),
                1 => {
                    let to = usize::from(input.byte() % 4);
                    let asset = input.asset();
                    payment(to, &asset, input.amount())
                }
                2 => {
                    let asset = input.asset();
                    change_trust(&asset, input.amount())
                }
                3 => xdr::OperationBody::ManageData(xdr::ManageDataOp {
                    data_name: xdr::String64(vec![b'a' + input.byte() % 3].try_into().expect("short name")),
                    data_value: (input.byte() % 2 == 0).then(|| xdr::DataValue(vec![1].try_into().expect("short"))),
                }),
                kind => {
                    let (selling, buying) = (input.asset(), input.asset());
                    let amount = input.amount();
                    let price = xdr::Price { n: i32::from(input.byte()) - 8, d: i32::from(input.byte()) - 8 };
                    let offer_id = i64::from(input.byte() % 4);
                    let (selling, buying) = (asset_to_xdr(&selling), asset_to_xdr(&buying));
                    match kind {
                        4 => xdr::OperationBody::ManageSellOffer(xdr::ManageSellOfferOp {
                            selling,
                            buying,
                            amount,
                            price,
                            offer_id,
                        }),
                        5 => xdr::OperationBody::ManageBuyOffer(xdr::ManageBuyOfferOp {
                            selling,
                            buying,
                            buy_amount: amount,
                            price,
                            offer_id,
                        }),
                        _ => xdr::OperationBody::CreatePassiveSellOffer(xdr::CreatePassiveSellOfferOp {
                            selling,
                            buying,
                            amount,
                            price,
                        }),
                    }
                }
            };
            ops.push(op(body));
        }
        let fee = 100 * ops.len() as u32;
        let before = ledger.account(&id(source)).cloned();
        let s = submit(ledger, source, ops, fee);
        if !s.applied() {
            assert_eq!(ledger.account(&id(source)).cloned(), before, "rejected transactions change nothing");
        }
        ledger.check_invariants().expect("invariants hold");
        if input.byte() % 4 == 0 {
            ledger.close_ledger(NOW);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut ledger = template().clone();
    let Some((mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let before = ledger.history().transactions.len();
        if let Ok(s) = ledger.submit(rest, NOW) {
            assert_eq!(ledger.history().transactions.len(), before + usize::from(s.applied()));
        }
        ledger.check_invariants().expect("invariants hold");
    } else {
        structured(&mut ledger, Bytes(rest));
    }
});
