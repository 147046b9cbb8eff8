//! The `gbswarm` command line: argument parsing only; the work is done by the library.

use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Load simulator for GB/T 28181 video-surveillance SIP servers.
///
/// Emulates fleets of IP cameras that register with digest auth, refresh, send keepalives and
/// answer platform queries over UDP and TCP, and reports latency histograms.
#[derive(Parser)]
#[command(name = "gbswarm", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode raw SIP messages and print each one's fields as JSON (one object per line).
    ///
    /// The input is one message (a UDP payload) or a TCP byte stream holding several,
    /// framed by Content-Length. On invalid input, prints the error and its byte offset to
    /// stderr and exits with status 1.
    Inspect {
        /// File to read, or `-` for standard input.
        file: PathBuf,
        /// Pretty-print each JSON object over several lines.
        #[arg(long)]
        pretty: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { file, pretty } => inspect(&file, pretty),
    }
}

fn inspect(file: &PathBuf, pretty: bool) -> ExitCode {
    let input = if file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map(|_| b)
    } else {
        std::fs::read(file)
    };
    let input = match input {
        Ok(b) => b,
        Err(e) => {
            eprintln!("gbswarm inspect: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = gbswarm::inspect::inspect(&input, |v| {
        let s = if pretty {
            serde_json::to_string_pretty(&v)
        } else {
            serde_json::to_string(&v)
        };
        let _ = writeln!(out, "{}", s.unwrap_or_default());
    });
    match result {
        Ok(0) => {
            eprintln!("gbswarm inspect: no SIP message in the input");
            ExitCode::from(1)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gbswarm inspect: error: {e}");
            ExitCode::from(1)
        }
    }
}
