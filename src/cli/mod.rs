//! The `gbswarm` command line as a library: the clap argument structs, their validation into
//! the plans and configurations the lower layers run, and one [`run`] that executes a parsed
//! command, so the binary only parses, calls [`run`] and exits, and tests can drive commands
//! in-process.
//!
//! Exit status ([`EXIT_STATUS`], shown by `--help`): 0 every objective held; 1 an objective
//! missed (the report says which, with the measured value), find-max found no load that held,
//! a command failed on the way, or `inspect` could not decode its input; 2 invalid flags,
//! profile keys, output paths or unreadable input, nothing started (clap's own usage errors
//! also exit 2); 3 could not run (cannot bind, target refused every connection); 130
//! interrupted by Ctrl-C / SIGTERM (the report is still written). See [`Error::exit_code`].

use clap::{Parser, Subcommand};

mod completions_cmd;
mod error;
mod find_max_cmd;
mod guard_args;
mod inspect_cmd;
mod man_cmd;
mod merge_cmd;
mod run_cmd;
mod serve_cmd;
mod subscribe_args;

pub use completions_cmd::CompletionsArgs;
pub use error::Error;
pub use find_max_cmd::FindMaxArgs;
pub use inspect_cmd::InspectArgs;
pub use man_cmd::ManArgs;
pub use merge_cmd::MergeArgs;
pub use run_cmd::RunArgs;
pub use serve_cmd::ServeArgs;

/// The exit statuses, as `--help` shows them.
pub const EXIT_STATUS: &str = "\
Exit status:
  0    every objective held (run: --slo, default: no failed registration, no timeout, at
       least one registration answered 2xx; find-max: a load held)
  1    an objective missed (the report says which, with the measured value), or no
       find-max step held, or the command failed on the way
  2    bad input: an invalid flag, profile key or output path; nothing was started
  3    could not run: cannot bind or start, or the target refused every connection
  130  interrupted by Ctrl-C / SIGTERM (the report is still written)";

/// What `--version` prints after the name: the crate version and the git commit it was built
/// from (`unknown` outside a git checkout; see `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GBSWARM_COMMIT"),
    ")"
);

/// Load simulator for GB/T 28181 video-surveillance SIP servers.
///
/// Emulates fleets of IP cameras that register with digest auth, refresh, send keepalives and
/// answer platform queries over UDP and TCP, and reports latency histograms.
#[derive(Debug, Parser)]
#[command(name = "gbswarm", version = VERSION, about, long_about, after_help = EXIT_STATUS)]
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
    /// Progress goes to stderr once a second; the report goes to stdout at the end (stderr
    /// with `--json -`). Stops after `--duration`, or on Ctrl-C / SIGTERM, unregistering every
    /// camera first (at the ramp rate); a second Ctrl-C quits at once. The exit status is the
    /// verdict: 0 when every `--slo` objective held, 1 when one was missed (see below).
    #[command(after_help = EXIT_STATUS)]
    Run(Box<RunArgs>),
    /// Find the highest load a server holds within a latency and failure objective.
    ///
    /// Raises the registration rate (or the fleet size, with --by fleet) by --factor per step
    /// until the objective breaks, then bisects between the last load that held and the first
    /// that broke. Each step is a fresh run of --warmup + --step; only --step is measured.
    /// Takes every `run` flag for the cameras and the target. Prints a table of every step and
    /// the answer; --json writes the same. Exits 1 when no step held, 130 when interrupted
    /// (the interrupted step is marked so, and the table so far is printed).
    #[command(after_help = EXIT_STATUS)]
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
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    ///
    /// bash: `gbswarm completions bash > /etc/bash_completion.d/gbswarm` (or source it from
    /// ~/.bashrc); zsh: write `_gbswarm` into a directory on $fpath; fish:
    /// `gbswarm completions fish > ~/.config/fish/completions/gbswarm.fish`.
    Completions(CompletionsArgs),
    /// Print the manual page gbswarm(1) as roff (`gbswarm man | man -l -`), or write it and a
    /// page per subcommand into a directory with --dir.
    Man(ManArgs),
}

/// Executes a parsed command line; the error says what to print and which status to exit with.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => args.execute(),
        Command::FindMax(args) => args.execute(),
        Command::Serve(args) => args.execute(),
        Command::Merge(args) => args.execute(),
        Command::Inspect(args) => args.execute(),
        Command::Completions(args) => args.execute(),
        Command::Man(args) => args.execute(),
    }
}

/// Writes a generated document (`completions`, `man`) to stdout; a closed or full stdout is
/// reported as a failure of `command`.
fn print(command: &'static str, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Error::Failed {
            command,
            message: format!("cannot write to stdout: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Transport;
    use crate::profile::Ramp;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("gbswarm").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    /// Everything a command checks before it starts anything (never runs or listens).
    fn validate(cli: Cli) -> Result<(), Error> {
        match cli.command {
            Command::Run(args) => args.plan().map(drop),
            Command::FindMax(args) => args.search().map(drop),
            Command::Serve(args) => args.config().map(drop),
            Command::Merge(_) | Command::Inspect(_) | Command::Completions(_) | Command::Man(_) => {
                Ok(())
            }
        }
    }

    #[test]
    fn invalid_values_say_which_flag_and_exit_2() {
        for (args, line) in [
            (
                &["run", "--retry-jitter", "3"][..],
                "gbswarm: invalid `retry-jitter`: 3 is not a share between 0 and 1",
            ),
            (
                &["find-max", "--max-failures", "2", "--retry-jitter", "3"][..],
                "gbswarm: invalid `retry-jitter`: 3 is not a share between 0 and 1",
            ),
            (
                &["find-max", "--metrics", "9464"][..],
                "gbswarm find-max: invalid `metrics`: not a find-max setting: find-max serves no live metrics; run and serve do",
            ),
            (
                &["find-max", "--max-failures", "2"][..],
                "gbswarm: invalid `max-failures`: 2 is not a share between 0 and 1",
            ),
            (
                &["serve", "--server-id", "12", "--redirect-to", "foo"][..],
                "gbswarm serve: invalid `server-id`: a GB28181 ID has 20 digits, this has 2 characters",
            ),
            (
                &["serve", "--redirect-to", "34020000002000000002@1.2.3.4"][..],
                "gbswarm serve: invalid `redirect-to`: `34020000002000000002@1.2.3.4` is not SERVERID@IP:PORT",
            ),
        ] {
            let e = validate(parse(args)).unwrap_err();
            assert_eq!(
                (e.exit_code(), e.to_string().as_str()),
                (2, line),
                "{args:?}"
            );
        }
        // clap's own refusals use the same status.
        let e = Cli::try_parse_from(["gbswarm", "run", "--transport", "sctp"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("`sctp` is not a transport"), "{e}");
        for bad in [
            &["run", "--metrics", "70000"][..],
            &["serve", "--metrics", "nohost"],
        ] {
            let e = Cli::try_parse_from(std::iter::once("gbswarm").chain(bad.iter().copied()))
                .unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(e.to_string().contains("--metrics"), "{e}");
        }
    }

    #[test]
    fn flags_are_assembled_into_the_plan_and_the_registrar_config() {
        let Command::Run(args) =
            parse(&["run", "-n", "10", "--transport", "TCP", "--burst"]).command
        else {
            unreachable!()
        };
        let plan = args.plan().unwrap();
        assert_eq!(plan.ids.len(), 10);
        assert_eq!(plan.camera.transport, Transport::Tcp);
        assert!(matches!(plan.ramp, Ramp::Burst));
        let Command::Serve(args) = parse(&[
            "serve",
            "--cores",
            "2",
            "--no-qop",
            "--round-robin",
            "--redirect-to",
            "34020000002000000002@127.0.0.1:5062,34020000002000000003@127.0.0.1:5063",
        ])
        .command
        else {
            unreachable!()
        };
        let cfg = args.config().unwrap();
        assert_eq!(cfg.cores, 2);
        assert_eq!(cfg.registrar.realm, "3402000000");
        assert!(!cfg.registrar.qop);
        let redirect = cfg.registrar.redirect.unwrap();
        assert!(redirect.round_robin);
        assert_eq!(redirect.targets.len(), 2);
        assert_eq!(redirect.targets[1].1, "127.0.0.1:5063".parse().unwrap());
    }

    #[test]
    fn inspect_runs_in_process() {
        let Command::Inspect(args) =
            parse(&["inspect", &fixture("keepalive-ipcamera.sip")]).command
        else {
            unreachable!()
        };
        let mut out = Vec::new();
        args.write_to(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["method"], "MESSAGE");
        assert_eq!(v["manscdp"]["cmd_type"], "Keepalive");

        let e = run(parse(&["inspect", "/nonexistent/x.sip"])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .starts_with("gbswarm inspect: cannot read /nonexistent/x.sip: "),
            "{e}"
        );
        let e = run(parse(&["inspect", "/dev/null"])).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "gbswarm inspect: no SIP message in the input"
        );
        let e = run(parse(&[
            "inspect",
            &format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR")),
        ]))
        .unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().starts_with("gbswarm inspect: error: "), "{e}");
    }

    #[test]
    fn failures_after_the_start_exit_1() {
        let e = run(parse(&["merge", "/nonexistent/a.json"])).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(
            e.to_string()
                .starts_with("gbswarm merge: cannot read /nonexistent/a.json: "),
            "{e}"
        );
    }
}
