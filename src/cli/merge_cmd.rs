//! `gbswarm merge`: add up the `--json` reports of several runs.

use super::Error;
use crate::stats::merge::MergeError;
use std::path::PathBuf;

/// Flags of `gbswarm merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// JSON reports written by `gbswarm run --json` (or by `merge --json`), each run once.
    #[arg(required = true, num_args = 1..)]
    reports: Vec<PathBuf>,
    /// Also write the merged report as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write the merged report as a self-contained HTML page with charts.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

impl MergeArgs {
    /// Merges the reports, prints the result and writes it as JSON and HTML if asked. The
    /// same run given twice (or two runs of one shard) is invalid input: exit 2.
    pub fn execute(&self) -> Result<(), Error> {
        crate::stats::merge::run(&self.reports, self.json.as_deref(), self.report.as_deref())
            .map_err(|e| match e {
                MergeError::Duplicate(message) => Error::Invalid {
                    command: "merge",
                    key: "reports",
                    message,
                },
                MergeError::Failed(message) => Error::failed("merge")(message),
            })
    }
}
