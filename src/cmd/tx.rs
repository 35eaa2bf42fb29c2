//! `starlog tx manage-sell-offer | manage-buy-offer`: an offline transaction builder. It prints
//! `{"hash": "<hex>", "envelope_xdr": "<base64>"}`, byte-identical to what the Stellar SDKs
//! build from the same inputs. With `--policy FILE` it signs only what the policy allows.
//!
//! Values are taken as text and parsed here, not by clap, so that an error never echoes a
//! secret seed pasted into the wrong flag (the domain parsers redact `S…` strings).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use starlog_adapters::keys::multisig::AccountSigners;
use starlog_adapters::keys::{self, KeyUri};
use starlog_adapters::policy::{GuardedSigner, Policy};
use starlog_adapters::stellar::Network;
use starlog_adapters::stellar::tx::{self, OfferKind, OfferOp, TxParams};
use starlog_engine::{Amount, Asset, OfferRef, Price};
use stellar_xdr::WriteXdr;

use super::{CmdError, CmdResult, SecretArgs};

#[derive(Debug, Subcommand)]
pub enum Tx {
    /// Sell --amount of --selling for --buying at --price (buying per selling).
    ManageSellOffer(OfferArgs),
    /// Buy --amount of --buying with --selling at --price (selling per buying).
    ManageBuyOffer(OfferArgs),
}

#[derive(Debug, Args)]
pub struct OfferArgs {
    /// Signing key URI: env:VAR, file:PATH, pkcs11:…, vault:URL/MOUNT/keys/NAME.
    #[arg(long, value_name = "URI", allow_hyphen_values = true)]
    key: String,
    /// testnet, public, or a network passphrase.
    #[arg(long, value_name = "NETWORK", allow_hyphen_values = true)]
    network: String,
    /// The transaction's sequence number (the account's current sequence plus one).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    sequence: String,
    /// The transaction's fee, in stroops.
    #[arg(long, value_name = "STROOPS", allow_hyphen_values = true)]
    fee: String,
    /// Not valid before this UNIX time (seconds).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    min_time: String,
    /// Not valid after this UNIX time (seconds).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    max_time: String,
    /// `native` or CODE:ISSUER.
    #[arg(long, value_name = "ASSET", allow_hyphen_values = true)]
    selling: String,
    /// `native` or CODE:ISSUER.
    #[arg(long, value_name = "ASSET", allow_hyphen_values = true)]
    buying: String,
    /// Decimal, at most 7 places; 0 deletes the offer named by --offer-id.
    #[arg(long, value_name = "DEC", allow_hyphen_values = true)]
    amount: String,
    /// A decimal or N/D.
    #[arg(long, value_name = "DEC|N/D", allow_hyphen_values = true)]
    price: String,
    /// The offer to update or delete; 0 (the default) creates a new one.
    #[arg(long, value_name = "ID", default_value = "0", allow_hyphen_values = true)]
    offer_id: String,
    /// Sign only what this signing policy (TOML) allows, checked against the system clock.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    secrets: SecretArgs,
}

pub fn run(cmd: Tx) -> CmdResult {
    let (kind, args) = match cmd {
        Tx::ManageSellOffer(args) => (OfferKind::ManageSell, args),
        Tx::ManageBuyOffer(args) => (OfferKind::ManageBuy, args),
    };
    // Everything that can be checked without the key is checked before the store is opened.
    let network = Network::parse(&args.network)?;
    let op = OfferOp {
        kind,
        selling: args.selling.parse::<Asset>().map_err(|e| CmdError::flag("--selling", e))?,
        buying: args.buying.parse::<Asset>().map_err(|e| CmdError::flag("--buying", e))?,
        amount: args.amount.parse::<Amount>().map_err(|e| CmdError::flag("--amount", e))?,
        price: args.price.parse::<Price>().map_err(|e| CmdError::flag("--price", e))?,
        offer: args.offer_id.parse::<OfferRef>().map_err(|e| CmdError::flag("--offer-id", e))?,
    };
    let sequence = super::integer::<i64>("--sequence", &args.sequence)?;
    let fee_stroops = super::integer::<u32>("--fee", &args.fee)?;
    let min_time = super::integer::<u64>("--min-time", &args.min_time)?;
    let max_time = super::integer::<u64>("--max-time", &args.max_time)?;
    let policy = args.policy.as_deref().map(Policy::load).transpose()?;
    let uri = KeyUri::parse(&args.key)?;

    let signer = keys::open_signer(&uri, &args.secrets.open_options()?)?;
    let params = TxParams { source: signer.public_key(), sequence, fee_stroops, min_time, max_time };
    let built = tx::build(&params, &[op])?;
    let signed = match policy {
        None => {
            let mut signer = signer;
            tx::sign(built, &network, &mut [&mut *signer])?
        }
        Some(policy) => {
            let account = AccountSigners::master_only(params.source);
            let mut guarded = GuardedSigner::new(policy, vec![signer], &account)?;
            let unsigned = stellar_xdr::TransactionEnvelope::Tx(stellar_xdr::TransactionV1Envelope {
                tx: built,
                signatures: Default::default(),
            });
            let bytes = unsigned.to_xdr(stellar_xdr::Limits::none()).expect("encoding to memory cannot fail");
            guarded.sign(&bytes, &network, super::unix_now_secs())?
        }
    };
    println!("{}", signed.to_json());
    Ok(ExitCode::SUCCESS)
}
