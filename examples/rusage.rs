//! Runs a command and writes its CPU time, user and system apart, from the kernel's
//! accounting of the waited-for child (`getrusage(RUSAGE_CHILDREN)`, in microseconds, where
//! `/usr/bin/time` prints hundredths): the same measurement for any binary, so two builds of
//! gbswarm (or gbswarm and another program) are compared the same way.
//!
//! `rusage OUT CMD [ARGS...]`: runs CMD with this process's stdin, stdout and stderr, writes
//! `USER_SECONDS SYSTEM_SECONDS` (one line) to OUT when it ends, and exits with its status.
//! Signals sent to CMD's own process id (`pgrep -P` of this one) reach it alone.

use nix::sys::resource::{UsageWho, getrusage};
use std::process::{Command, ExitCode};

fn seconds(t: nix::sys::time::TimeVal) -> f64 {
    t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, cmd, rest @ ..] = args.as_slice() else {
        eprintln!("usage: rusage OUT CMD [ARGS...]");
        return ExitCode::from(2);
    };
    let status = match Command::new(cmd).args(rest).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rusage: cannot run {cmd}: {e}");
            return ExitCode::from(127);
        }
    };
    let usage = match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("rusage: getrusage: {e}");
            return ExitCode::from(1);
        }
    };
    let line = format!(
        "{:.6} {:.6}\n",
        seconds(usage.user_time()),
        seconds(usage.system_time())
    );
    if let Err(e) = std::fs::write(out, line) {
        eprintln!("rusage: cannot write {out}: {e}");
        return ExitCode::from(1);
    }
    ExitCode::from(status.code().map_or(1, |c| c as u8))
}
