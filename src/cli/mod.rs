//! The `gbswarm` command line as a library: the clap argument structs, their validation into
//! the plans and configurations the lower layers run, and one [`run`] that executes a parsed
//! command, so the binary only parses, calls [`run`] and exits, and tests can drive commands
//! in-process.
//!
//! Exit status: 0 on success (a run stopped by Ctrl-C / SIGTERM included: its report is still
//! printed); 1 when a command started but failed, or `inspect` could not decode its input; 2
//! for invalid flags, profile keys or unreadable input (clap's own usage errors also exit 2).
//! See [`Error::exit_code`].

use clap::{Parser, Subcommand};

mod error;
mod find_max_cmd;
mod inspect_cmd;
mod merge_cmd;
mod run_cmd;
mod serve_cmd;

pub use error::Error;
pub use find_max_cmd::FindMaxArgs;
pub use inspect_cmd::InspectArgs;
pub use merge_cmd::MergeArgs;
pub use run_cmd::RunArgs;
pub use serve_cmd::ServeArgs;

/// Load simulator for GB/T 28181 video-surveillance SIP servers.
///
/// Emulates fleets of IP cameras that register with digest auth, refresh, send keepalives and
/// answer platform queries over UDP and TCP, and reports latency histograms.
#[derive(Debug, Parser)]
#[command(name = "gbswarm", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Emulate a fleet of cameras against a SIP server and report latency and outcomes.
    ///
    /// Keys come from `--profile FILE` (TOML, same names as the flags) and are overridden by
    /// flags. Without `--target`, an embedded gbswarm registrar is started on a loopback port.
    /// Progress goes to stderr once a second; the report goes to stdout at the end. Stops after
    /// `--duration`, or on Ctrl-C / SIGTERM, unregistering every camera first (at the ramp rate).
    Run(Box<RunArgs>),
    /// Find the highest load a server holds within a latency and failure objective.
    ///
    /// Raises the registration rate (or the fleet size, with --by fleet) by --factor per step
    /// until the objective breaks, then bisects between the last load that held and the first
    /// that broke. Each step is a fresh run of --warmup + --step; only --step is measured.
    /// Takes every `run` flag for the cameras and the target. Prints a table of every step and
    /// the answer; --json writes the same.
    FindMax(Box<FindMaxArgs>),
    /// Run a GB28181 registrar: digest auth, keepalives, optional 302 redirect.
    ///
    /// One worker per core, each with its own UDP socket and TCP listener on --listen
    /// (SO_REUSEPORT). Listens on loopback unless told otherwise. Stops on Ctrl-C / SIGTERM
    /// and prints a summary.
    Serve(Box<ServeArgs>),
    /// Merge the --json reports of several runs (e.g. the shards of one fleet) exactly:
    /// histograms and counts are added, never percentiles averaged.
    Merge(MergeArgs),
    /// Decode raw SIP messages and print each one's fields as JSON (one object per line).
    ///
    /// The input is one message (a UDP payload) or a TCP byte stream holding several,
    /// framed by Content-Length. On invalid input, prints the error and its byte offset to
    /// stderr and exits with status 1.
    Inspect(InspectArgs),
}

/// Executes a parsed command line; the error says what to print and which status to exit with.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => args.execute(),
        Command::FindMax(args) => args.execute(),
        Command::Serve(args) => args.execute(),
        Command::Merge(args) => args.execute(),
        Command::Inspect(args) => args.execute(),
    }
}
