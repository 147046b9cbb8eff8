//! `gbswarm merge`: add up the `--json` reports of several runs.

use super::Error;
use std::path::PathBuf;

/// Flags of `gbswarm merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// JSON reports written by `gbswarm run --json`.
    #[arg(required = true, num_args = 1..)]
    reports: Vec<PathBuf>,
    /// Also write the merged report as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

impl MergeArgs {
    /// Merges the reports, prints the result and writes it as JSON if asked.
    pub fn execute(&self) -> Result<(), Error> {
        crate::runner::merge(&self.reports, self.json.as_deref()).map_err(Error::failed("merge"))
    }
}
