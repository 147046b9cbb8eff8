//! `gbswarm find-max`: the `run` flags plus the search's own, assembled into a [`Search`].

use super::{Error, RunArgs};
use crate::findmax::{Dimension, Search, Slo};
use crate::profile::{PlanError, Span};

/// Flags of `gbswarm find-max`.
#[derive(Debug, clap::Args)]
pub struct FindMaxArgs {
    #[command(flatten)]
    run: RunArgs,
    /// What to grow: `rate` (registrations per second) or `fleet` (cameras online).
    #[arg(long, default_value = "rate", value_parser = parse_dimension)]
    by: Dimension,
    /// First load (registrations/s or cameras).
    #[arg(long, default_value_t = 1000.0)]
    start: f64,
    /// Growth per step until the first break.
    #[arg(long, default_value_t = 2.0)]
    factor: f64,
    /// Never try more than this load.
    #[arg(long, default_value_t = 1_000_000.0)]
    max: f64,
    /// Stop when the gap between held and broke is below this share of the held load.
    #[arg(long, default_value_t = 0.1)]
    precision: f64,
    /// Measured length of each step.
    #[arg(long, default_value = "10s")]
    step: Span,
    /// Unmeasured start of each step.
    #[arg(long, default_value = "2s")]
    warmup: Span,
    /// Objective: highest acceptable p99 latency.
    #[arg(long, default_value = "50ms")]
    max_p99: Span,
    /// Objective: highest acceptable share of failed transactions (timeouts always break).
    #[arg(long, default_value_t = 0.001)]
    max_failures: f64,
    /// At most this many steps.
    #[arg(long, default_value_t = 20)]
    max_steps: usize,
}

impl FindMaxArgs {
    /// The search to run: the base plan from the `run` flags, then the search bounds.
    pub fn search(self) -> Result<Search, Error> {
        let metrics = self.run.metrics.is_some();
        let base = self.run.plan()?;
        // Run-only outputs and objectives would be accepted and silently ignored.
        for (given, key, why) in [
            (
                !base.objectives.is_empty(),
                "slo",
                "find-max judges each step by --max-p99 and --max-failures (and any timeout)",
            ),
            (
                base.csv.is_some(),
                "csv",
                "find-max streams no CSV; each step is on stderr and the table on stdout",
            ),
            (
                metrics,
                "metrics",
                "find-max serves no live metrics; run and serve do",
            ),
        ] {
            if given {
                return Err(Error::Invalid {
                    command: "find-max",
                    key,
                    message: format!("not a find-max setting: {why}"),
                });
            }
        }
        if !(0.0..=1.0).contains(&self.max_failures) {
            return Err(Error::Plan(PlanError {
                key: "max-failures".into(),
                message: format!("{} is not a share between 0 and 1", self.max_failures),
            }));
        }
        Ok(Search {
            base,
            dimension: self.by,
            start: self.start,
            factor: self.factor,
            max: self.max,
            precision: self.precision,
            step: self.step.0,
            warmup: self.warmup.0,
            slo: Slo {
                max_p99: self.max_p99.0,
                max_failure_share: self.max_failures,
            },
            max_steps: self.max_steps,
        })
    }

    /// Runs the search: each step on stderr, the table on stdout, the files asked for.
    pub fn execute(self) -> Result<(), Error> {
        let search = self.search()?;
        Error::from_run("find-max", crate::runner::find_max(&search))
    }
}

fn parse_dimension(s: &str) -> Result<Dimension, String> {
    match s {
        "rate" => Ok(Dimension::Rate),
        "fleet" => Ok(Dimension::Fleet),
        _ => Err(format!("`{s}` is not rate or fleet")),
    }
}
