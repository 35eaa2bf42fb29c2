//! Subcommands and what they share: one-line errors, strict integer flags, and the flags that
//! say where secrets come from (never the secrets themselves).

pub mod audit;
pub mod backtest;
pub mod ctl;
pub mod demo;
pub mod keys;
pub mod record;
pub mod replay;
pub mod run;
pub mod sim;
pub mod tx;

use std::fmt;
use std::process::ExitCode;

use clap::Args;
use starlog_adapters::keys::{OpenOptions, SecretSource, SecurityLevel};

/// Errors from subcommands, printed by `main` as `starlog: <message>`.
pub type CmdResult = Result<ExitCode, Box<dyn std::error::Error>>;

/// A bad flag value: `--flag: <why>`. `why` comes from a redacting parser.
#[derive(Debug)]
pub struct CmdError(String);

impl CmdError {
    pub fn flag(flag: &str, why: impl fmt::Display) -> CmdError {
        CmdError(format!("{flag}: {why}"))
    }

    pub fn new(message: impl Into<String>) -> CmdError {
        CmdError(message.into())
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CmdError {}

/// Parses a plain decimal integer (digits only, optional leading `-` for signed types).
pub fn integer<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, CmdError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let well_formed = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<T>() {
        Ok(value) if well_formed => Ok(value),
        _ => {
            let shown: String = text.chars().take(40).collect();
            let shown = starlog_adapters::keys::redact(&format!("{shown:?}"));
            Err(CmdError::flag(flag, format!("{shown} is not an integer in range for {}", std::any::type_name::<T>())))
        }
    }
}

/// Seconds since the UNIX epoch, from the system clock (the CLI is outside the deterministic core).
pub fn unix_now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Where the key file passphrase and the PKCS#11 PIN come from, and the security level.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// Read the key file passphrase from this environment variable (default: a prompt).
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// Read the PKCS#11 user PIN from this environment variable when the URI has no pin-source
    /// (default: a prompt).
    #[arg(long, value_name = "VAR")]
    pin_env: Option<String>,
    /// DEVELOPMENT, TESTING, STAGING or PRODUCTION: the levels above TESTING refuse env: keys.
    #[arg(long, value_name = "LEVEL", default_value = "DEVELOPMENT")]
    security_level: String,
}

impl SecretArgs {
    pub fn level(&self) -> Result<SecurityLevel, Box<dyn std::error::Error>> {
        Ok(self.security_level.parse::<SecurityLevel>()?)
    }

    pub fn passphrase(&self, prompt: &str) -> SecretSource {
        match &self.passphrase_env {
            Some(var) => SecretSource::Env(var.clone()),
            None => SecretSource::Prompt(prompt.to_owned()),
        }
    }

    pub fn open_options(&self) -> Result<OpenOptions, Box<dyn std::error::Error>> {
        Ok(OpenOptions {
            level: self.level()?,
            passphrase: self.passphrase("key file passphrase: "),
            pin: match &self.pin_env {
                Some(var) => SecretSource::Env(var.clone()),
                None => SecretSource::Prompt("token user PIN: ".to_owned()),
            },
        })
    }
}

/// Help and version go to stdout as clap renders them; a usage error becomes one line.
pub fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            // clap's first paragraph, folded onto one line.
            let rendered = e.render().to_string();
            let para: Vec<&str> =
                rendered.lines().skip_while(|l| l.trim().is_empty()).take_while(|l| !l.trim().is_empty()).collect();
            let line = para.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
            // clap quotes what it did not expect: a seed pasted in the wrong place must not reach a log.
            eprintln!("starlog: {}", starlog_adapters::keys::redact(line.trim_start_matches("error: ")));
            ExitCode::from(2)
        }
    }
}
