//! `starlog ctl`: operate a running `starlog run` through its admin API (see
//! `adapters::admin`), and make the credentials its configuration needs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use starlog_adapters::admin::api;
use starlog_adapters::admin::auth::{self, TotpKey};
use starlog_adapters::admin::client::{self, AdminClient, Answer, ClientTls};
use starlog_adapters::keys::SecretSource;

use super::{CmdError, CmdResult, integer};

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The admin API (default: $STARLOG_API, else http://127.0.0.1:8700).
    #[arg(long, value_name = "URL")]
    api: Option<String>,
    /// Where the session token is kept between commands (default: $STARLOG_TOKEN_FILE, else
    /// ~/.starlog/token).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Trust this CA (PEM) for an https API.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Client certificate chain (PEM), when the API requires one.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    #[command(subcommand)]
    command: Ctl,
}

#[derive(Debug, Subcommand)]
pub enum Ctl {
    /// Log in; the token is saved to the token file.
    Login {
        #[arg(long)]
        operator: String,
        /// The current TOTP code (admins, and operators with a TOTP secret).
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
        /// Read the password from this environment variable (default: a prompt).
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// End the session; the token file is removed.
    Logout,
    /// The engine's state, open orders, balances, limits, incidents and journal position.
    Status,
    /// The Prometheus metrics page.
    Metrics,
    /// Stop placing orders (trader).
    Halt,
    /// Place orders again (trader).
    Resume,
    /// Cancel every offer of ours (trader).
    CancelAll,
    /// Acknowledge an open incident (trader).
    Ack { incident: String },
    /// Set a risk limit by name, e.g. `order_amount_stroops_max 50000000` (admin).
    SetLimit { limit: String, value: String },
    /// Set the validation level: BASIC, STANDARD, STRICT or PARANOID (admin).
    SetLevel { level: String },
    /// Lift a P0 lockdown (admin).
    Unlock,
    /// Print the Argon2id hash of a password, for `password_hash` in `[[admin.operators]]`.
    HashPassword {
        /// Read the password from this environment variable (default: a prompt).
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Make a TOTP secret: written to FILE (mode 0600) for `totp_secret = "file:FILE"`; the
    /// otpauth:// URI for an authenticator app is printed.
    TotpSecret {
        #[arg(long)]
        operator: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Make a bearer credential that may read /metrics only: written to FILE (mode 0600, for
    /// the scraper); its SHA-256 is printed for `scrape_token_sha256` in `[admin]`.
    ScrapeToken {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

fn password(var: Option<&str>, prompt: &str) -> Result<starlog_adapters::keys::Secret, Box<dyn std::error::Error>> {
    let source = match var {
        Some(var) => SecretSource::Env(var.to_owned()),
        None => SecretSource::Prompt(prompt.to_owned()),
    };
    Ok(source.read("password")?)
}

fn token_file(args: &CtlArgs) -> PathBuf {
    if let Some(path) = &args.token_file {
        return path.clone();
    }
    if let Some(path) = std::env::var_os("STARLOG_TOKEN_FILE") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".starlog").join("token")
}

/// A non-2xx answer as one error line.
fn failed(answer: &Answer) -> CmdError {
    CmdError::new(format!("HTTP {}: {}", answer.status, answer.error_message()))
}

pub fn run(args: CtlArgs) -> CmdResult {
    // Local commands first: they need no API.
    match &args.command {
        Ctl::HashPassword { password_env } => {
            let first = password(password_env.as_deref(), "new operator password: ")?;
            if first.expose().len() < 12 {
                return Err(CmdError::new("the password must be at least 12 characters").into());
            }
            if password_env.is_none() && password(None, "again: ")?.expose() != first.expose() {
                return Err(CmdError::new("the passwords differ").into());
            }
            println!("{}", auth::hash_password(first.expose().as_bytes()).map_err(CmdError::new)?);
            return Ok(ExitCode::SUCCESS);
        }
        Ctl::TotpSecret { operator, out } => {
            if !auth::valid_name(operator) {
                return Err(CmdError::flag("--operator", "1-64 of A-Z a-z 0-9 . _ -").into());
            }
            let key = TotpKey::generate().map_err(CmdError::new)?;
            let secret = key.to_base32();
            client::save_token(out, &secret).map_err(|e| CmdError::new(e.replace("token file", "--out")))?;
            println!(
                "otpauth://totp/starlog:{operator}?secret={}&issuer=starlog&digits={}&period={}",
                secret.as_str(),
                auth::TOTP_DIGITS,
                auth::TOTP_STEP_SECS
            );
            return Ok(ExitCode::SUCCESS);
        }
        Ctl::ScrapeToken { out } => {
            let token = api::new_scrape_token().map_err(CmdError::new)?;
            client::save_token(out, &token).map_err(|e| CmdError::new(e.replace("token file", "--out")))?;
            println!("{}", starlog_journal::hex(&api::scrape_digest(&token)));
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let api = args
        .api
        .clone()
        .or_else(|| std::env::var("STARLOG_API").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8700".to_owned());
    let tls = ClientTls { ca: args.ca.clone(), cert: args.cert.clone(), key: args.key.clone() };
    let api = AdminClient::new(&api, &tls).map_err(CmdError::new)?;
    let token_path = token_file(&args);
    if let Ctl::Login { operator, totp, password_env } = &args.command {
        let secret = password(password_env.as_deref(), &format!("password for {operator}: "))?;
        let body = serde_json::json!({ "operator": operator, "password": secret.expose(), "totp": totp });
        let answer = api.request("POST", "/v1/login", None, Some(&body.to_string())).map_err(CmdError::new)?;
        if answer.status != 200 {
            return Err(failed(&answer).into());
        }
        let v: serde_json::Value = serde_json::from_str(&answer.body).map_err(|e| CmdError::new(e.to_string()))?;
        let token = v["token"].as_str().ok_or_else(|| CmdError::new("the API sent no token"))?;
        client::save_token(&token_path, token).map_err(CmdError::new)?;
        println!(
            "{}",
            serde_json::json!({ "operator": v["operator"], "role": v["role"], "expires_at": v["expires_at"] })
        );
        return Ok(ExitCode::SUCCESS);
    }
    let token = client::load_token(&token_path).map_err(CmdError::new)?;
    let (method, path, body) = match &args.command {
        Ctl::Logout => ("POST", "/v1/logout".to_owned(), None),
        Ctl::Status => ("GET", "/v1/status".to_owned(), None),
        Ctl::Metrics => ("GET", "/metrics".to_owned(), None),
        Ctl::Halt => ("POST", "/v1/halt".to_owned(), None),
        Ctl::Resume => ("POST", "/v1/resume".to_owned(), None),
        Ctl::CancelAll => ("POST", "/v1/cancel-all".to_owned(), None),
        Ctl::Unlock => ("POST", "/v1/unlock".to_owned(), None),
        Ctl::Ack { incident } => ("POST", format!("/v1/incidents/{}/ack", integer::<u64>("INCIDENT", incident)?), None),
        Ctl::SetLimit { limit, value } => (
            "POST",
            "/v1/limits".to_owned(),
            Some(serde_json::json!({ "limit": limit, "value": integer::<i64>("VALUE", value)? }).to_string()),
        ),
        Ctl::SetLevel { level } => {
            ("POST", "/v1/validation-level".to_owned(), Some(serde_json::json!({ "level": level }).to_string()))
        }
        Ctl::Login { .. } | Ctl::HashPassword { .. } | Ctl::TotpSecret { .. } | Ctl::ScrapeToken { .. } => {
            unreachable!("handled above")
        }
    };
    let answer =
        api.request(method, &path, token.as_deref().map(String::as_str), body.as_deref()).map_err(CmdError::new)?;
    // A rotated token replaces the saved one even if the call then failed.
    if let Some(new) = &answer.token {
        client::save_token(&token_path, new).map_err(CmdError::new)?;
    }
    if answer.status == 401 && matches!(args.command, Ctl::Logout) {
        client::forget_token(&token_path).map_err(CmdError::new)?;
    }
    if !(200..300).contains(&answer.status) {
        return Err(failed(&answer).into());
    }
    match args.command {
        Ctl::Logout => client::forget_token(&token_path).map_err(CmdError::new)?,
        Ctl::Metrics => {
            print!("{}", answer.body);
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    // Tokens are not printed: they are in the token file.
    let mut value: serde_json::Value =
        serde_json::from_str(&answer.body).map_err(|e| CmdError::new(format!("the API's answer: {e}")))?;
    if let Some(object) = value.as_object_mut() {
        object.remove("token");
    }
    println!(
        "{}",
        if matches!(args.command, Ctl::Status) { serde_json::to_string_pretty(&value)? } else { value.to_string() }
    );
    Ok(ExitCode::SUCCESS)
}
