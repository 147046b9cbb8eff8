//! `gbswarm man`: the manual page, rendered as roff by `clap_mangen` from the same clap
//! definitions the parser uses (every subcommand, flag, default and the exit statuses).

use super::{Cli, Error};
use clap::CommandFactory;
use std::path::PathBuf;

/// Flags of `gbswarm man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write gbswarm.1 and one page per subcommand (gbswarm-run.1, gbswarm-serve.1, ...) into
    /// this directory, instead of printing gbswarm(1) on stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// The command as the pages describe it: without clap's `help` subcommand, which has no page
/// (as `clap_mangen::generate_to` prepares it, so the printed page and `--dir`'s agree).
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// gbswarm(1) as roff.
pub fn page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command()).render(&mut out)?;
    Ok(out)
}

impl ManArgs {
    /// Prints gbswarm(1), or writes every page into `--dir`.
    pub fn execute(self) -> Result<(), Error> {
        let failed = |message: String| Error::Failed {
            command: "man",
            message,
        };
        match self.dir {
            None => super::print(
                "man",
                &page().map_err(|e| failed(format!("cannot render: {e}")))?,
            ),
            Some(dir) => clap_mangen::generate_to(command(), &dir)
                .map_err(|e| failed(format!("cannot write pages into {}: {e}", dir.display()))),
        }
    }
}
