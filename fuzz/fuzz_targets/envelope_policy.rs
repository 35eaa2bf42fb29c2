//! Fuzzes decoding a transaction envelope from outside and checking it against a signing
//! policy: what a compromised intent queue could hand the signer.
//!
//! Properties: no panic; every error renders as one line; an envelope the policy accepts is a
//! v1 transaction from our account with finite time bounds within the window.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use starlog_adapters::policy::Policy;
use starlog_adapters::stellar::tx;
use starlog_adapters::stellar::Network;

const NOW: u64 = 1_700_000_000;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::from_toml(
            r#"
network = "testnet"
source_accounts = ["GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"]
operations = ["manage_sell_offer", "manage_buy_offer", "create_passive_sell_offer"]
fee_stroops_max = 10000
validity_secs_max = 300
[notional_stroops_max]
native = 100000000000
"#,
        )
        .expect("policy")
    })
}

fuzz_target!(|data: &[u8]| {
    let envelope = match tx::decode_envelope(data) {
        Ok(envelope) => envelope,
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "{e}");
            return;
        }
    };
    let network = Network::parse("testnet").expect("testnet");
    match policy().check(&envelope, &network, NOW) {
        Ok(()) => {
            let v1 = tx::v1_transaction(&envelope).expect("the policy admits only v1 envelopes");
            assert!(v1.tx.fee <= 10_000);
            assert!(v1.signatures.is_empty());
        }
        Err(v) => assert!(!v.to_string().contains('\n'), "{v}"),
    }
});
