//! Subcommands. Each returns its exit status, or an error that `main` prints as one line.

pub mod audit;

use std::process::ExitCode;

/// Errors from subcommands, printed by `main` as `starlog: <message>`.
pub type CmdResult = Result<ExitCode, Box<dyn std::error::Error>>;

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
            eprintln!("starlog: {}", line.trim_start_matches("error: "));
            ExitCode::from(2)
        }
    }
}
