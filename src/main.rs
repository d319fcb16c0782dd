//! The `gocred` binary (also installed as `git-credential-gocred`): parse, run, print the error
//! once, exit with its code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let parsed = match gocred::cli::parse_credential_operation() {
        Some(cli) => Ok(cli),
        None => gocred::cli::Cli::try_parse(),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match gocred::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(gocred::error::Error::ChildStatus(code)) => ExitCode::from(code),
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "gocred: {e}");
            if let Some(hint) = e.hint() {
                let _ = writeln!(err, "gocred: hint: {hint}");
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
