//! The `gbswarm` command line: parses the arguments, hands them to [`gbswarm::cli::run`], and
//! prints its error and exits with the error's status.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match gbswarm::cli::run(gbswarm::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
