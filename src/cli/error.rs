//! What can go wrong in a command, as the user is told it, and the exit status that goes with
//! it.

use crate::inspect::InspectError;
use crate::profile::PlanError;
use std::fmt;
use std::path::PathBuf;

/// Why a command did not succeed. [`Display`](fmt::Display) gives the line printed on stderr
/// (prefixed `gbswarm` or `gbswarm COMMAND`); [`Error::exit_code`] the process status.
#[derive(Debug)]
pub enum Error {
    /// The load plan of `run` / `find-max` (profile file and flags) holds a value that cannot
    /// be used; nothing was started. Exit 2.
    Plan(PlanError),
    /// A flag of `command` holds a value that cannot be used; nothing was started. Exit 2.
    Invalid {
        /// The subcommand, e.g. `serve`.
        command: &'static str,
        /// The flag, without `--`.
        key: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// The input file of `command` could not be read; nothing was started. Exit 2.
    Unreadable {
        /// The subcommand, e.g. `inspect`.
        command: &'static str,
        /// The file (`-` for standard input).
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// `inspect` found no SIP message in its input. Exit 1.
    NoMessage,
    /// `inspect` found input that is not SIP. Exit 1.
    Malformed(InspectError),
    /// `command` could not run: it could not bind or start its sockets or the embedded
    /// registrar, or its target refused every connection. Exit 3.
    CannotRun {
        /// The subcommand, e.g. `run`.
        command: &'static str,
        /// What went wrong, for the user.
        message: String,
    },
    /// `command` ran but missed an objective (`run`), or no load held (`find-max`). Exit 1.
    Missed {
        /// The subcommand.
        command: &'static str,
        /// What was missed, a line each with the measured value.
        missed: Vec<String>,
    },
    /// `command` was cut short by Ctrl-C / SIGTERM (its report was still written). Exit 130.
    Interrupted {
        /// The subcommand.
        command: &'static str,
    },
    /// `command` started but could not finish: no sockets or signal handler, the engine or the
    /// embedded registrar failed, an output file could not be written, a report to merge is
    /// not a report, the search bounds are inconsistent. Exit 1.
    Failed {
        /// The subcommand, e.g. `run`.
        command: &'static str,
        /// What went wrong, for the user.
        message: String,
    },
}

impl Error {
    /// The process exit status: 0 is success (every objective held), 1 an objective missed
    /// or a command that failed or input `inspect` could not decode, 2 invalid input (nothing
    /// was started), 3 could not run, 130 interrupted.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Plan(_) | Error::Invalid { .. } | Error::Unreadable { .. } => 2,
            Error::NoMessage
            | Error::Malformed(_)
            | Error::Failed { .. }
            | Error::Missed { .. } => 1,
            Error::CannotRun { .. } => 3,
            Error::Interrupted { .. } => crate::runner::EXIT_INTERRUPTED,
        }
    }

    /// The error for a runner's ending or failure of `command` (none for a success).
    pub(crate) fn from_run(
        command: &'static str,
        r: Result<crate::runner::Ending, crate::runner::Failure>,
    ) -> Result<(), Error> {
        use crate::runner::{Ending, Failure};
        match r {
            Ok(Ending::Held) => Ok(()),
            Ok(Ending::Missed(missed)) => Err(Error::Missed { command, missed }),
            Ok(Ending::Interrupted) => Err(Error::Interrupted { command }),
            Err(Failure::BadOutput(b)) => Err(Error::Invalid {
                command,
                key: b.key,
                message: b.message,
            }),
            Err(Failure::CannotRun(message)) => Err(Error::CannotRun { command, message }),
            Err(Failure::Failed(message)) => Err(Error::Failed { command, message }),
        }
    }

    /// A [`Error::Failed`] of `command` (the lower layers report failures as text).
    pub(crate) fn failed(command: &'static str) -> impl FnOnce(String) -> Error {
        move |message| Error::Failed { command, message }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Plan(e) => write!(f, "gbswarm: {e}"),
            Error::Invalid {
                command,
                key,
                message,
            } => write!(f, "gbswarm {command}: invalid `{key}`: {message}"),
            Error::Unreadable {
                command,
                path,
                source,
            } => write!(
                f,
                "gbswarm {command}: cannot read {}: {source}",
                path.display()
            ),
            Error::NoMessage => write!(f, "gbswarm inspect: no SIP message in the input"),
            Error::Malformed(e) => write!(f, "gbswarm inspect: error: {e}"),
            Error::Failed { command, message } => write!(f, "gbswarm {command}: {message}"),
            Error::CannotRun { command, message } => {
                write!(f, "gbswarm {command}: could not run: {message}")
            }
            Error::Missed { command, missed } => {
                write!(
                    f,
                    "gbswarm {command}: objective missed: {}",
                    missed.join("; ")
                )
            }
            Error::Interrupted { command } => write!(f, "gbswarm {command}: interrupted"),
        }
    }
}

impl std::error::Error for Error {}

impl From<PlanError> for Error {
    fn from(e: PlanError) -> Error {
        Error::Plan(e)
    }
}
