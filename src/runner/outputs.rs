//! Where a run's results go, opened before anything starts so a typo fails in the first
//! second instead of after an hour: `--json` (a file, or `-` for stdout, which moves the text
//! report to stderr), `--report` (HTML, written at the end), and the streams written as the
//! run goes — `--csv` (a row per second per kind) and `--hdr-log` — flushed every second, so
//! every finished second is on disk even after `kill -9`.

use crate::stats::Snapshot;
use crate::stats::hdr::HdrLog;
use crate::stats::series::{self, Second};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// An output flag whose path cannot be used; nothing was started.
#[derive(Debug)]
pub struct BadOutput {
    /// The flag / profile key, e.g. `json`.
    pub key: &'static str,
    /// What is wrong, for the user.
    pub message: String,
}

/// Creates (truncating) the file `path` given as `--key`.
pub fn create(key: &'static str, path: &Path) -> Result<File, BadOutput> {
    if path.as_os_str() == "-" {
        return Err(BadOutput {
            key,
            message: "`-` (standard output) is only for --json".into(),
        });
    }
    File::create(path).map_err(|e| BadOutput {
        key,
        message: format!("cannot create {}: {e}", path.display()),
    })
}

/// Where the JSON report goes.
pub enum JsonSink {
    /// Standard output (`--json -`); the text report then goes to stderr.
    Stdout,
    /// This file, created before the run.
    File(PathBuf, File),
}

impl JsonSink {
    /// The sink for `--json PATH`.
    pub fn open(path: &Path) -> Result<JsonSink, BadOutput> {
        if path.as_os_str() == "-" {
            Ok(JsonSink::Stdout)
        } else {
            Ok(JsonSink::File(path.to_path_buf(), create("json", path)?))
        }
    }

    /// Writes the document; the error names the file.
    pub fn write(self, text: &str) -> Result<(), String> {
        match self {
            JsonSink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .and_then(|()| out.flush())
                    .map_err(|e| format!("cannot write the JSON report to stdout: {e}"))
            }
            JsonSink::File(path, mut f) => f
                .write_all(text.as_bytes())
                .and_then(|()| f.flush())
                .map_err(|e| format!("cannot write {}: {e}", path.display())),
        }
    }

    /// True when the JSON takes stdout (so the text report must not).
    pub fn is_stdout(&self) -> bool {
        matches!(self, JsonSink::Stdout)
    }
}

/// Every output of one `run`, open.
pub struct Outputs {
    /// `--json`.
    pub json: Option<JsonSink>,
    /// `--report`, written at the end.
    pub report: Option<(PathBuf, File)>,
    csv: Option<(PathBuf, BufWriter<File>)>,
    hdr: Option<(PathBuf, HdrLog)>,
    /// The first streaming error, reported once; the run goes on without that stream.
    stream_error: Option<String>,
}

impl Outputs {
    /// Opens every output `plan` names; a run that started at `started` (for the HDR log's
    /// header).
    pub fn open(plan: &crate::profile::Plan, started: SystemTime) -> Result<Outputs, BadOutput> {
        let json = plan.json.as_deref().map(JsonSink::open).transpose()?;
        let report = match &plan.report {
            Some(p) => Some((p.clone(), create("report", p)?)),
            None => None,
        };
        let csv = match &plan.csv {
            Some(p) => {
                let mut w = BufWriter::new(create("csv", p)?);
                w.write_all(series::CSV_HEADER.as_bytes())
                    .and_then(|()| w.flush())
                    .map_err(|e| BadOutput {
                        key: "csv",
                        message: format!("cannot write {}: {e}", p.display()),
                    })?;
                Some((p.clone(), w))
            }
            None => None,
        };
        let hdr = match &plan.hdr_log {
            Some(p) => {
                if p.as_os_str() == "-" {
                    return Err(BadOutput {
                        key: "hdr-log",
                        message: "`-` (standard output) is only for --json".into(),
                    });
                }
                let log = HdrLog::create(p, started).map_err(|e| BadOutput {
                    key: "hdr-log",
                    message: format!("cannot create {}: {e}", p.display()),
                })?;
                Some((p.clone(), log))
            }
            None => None,
        };
        Ok(Outputs {
            json,
            report,
            csv,
            hdr,
            stream_error: None,
        })
    }

    /// Appends second `sec` (measured as `snap`) to the streams and flushes them. A stream
    /// that fails is closed and named once on stderr; the run and the other outputs go on.
    pub fn second(&mut self, sec: &Second, snap: &Snapshot, line: &mut String) {
        if let Some((path, w)) = &mut self.csv {
            line.clear();
            series::write_csv(sec, line);
            if let Err(e) = w.write_all(line.as_bytes()).and_then(|()| w.flush()) {
                let msg = format!(
                    "cannot write {}: {e}; the CSV stream stops here",
                    path.display()
                );
                self.fail(msg);
                self.csv = None;
            }
        }
        if let Some((path, log)) = &mut self.hdr {
            let start = Duration::from_secs(sec.t_s.saturating_sub(1));
            if let Err(e) = log.write_interval(start, Duration::from_secs(1), snap) {
                let msg = format!(
                    "cannot write {}: {e}; the HDR log stops here",
                    path.display()
                );
                self.fail(msg);
                self.hdr = None;
            }
        }
    }

    fn fail(&mut self, message: String) {
        eprintln!("\ngbswarm: {message}");
        self.stream_error.get_or_insert(message);
    }

    /// Closes the streams; the first error any of them had, if one did.
    pub fn close_streams(&mut self) -> Option<String> {
        if let Some((path, log)) = self.hdr.take()
            && let Err(e) = log.finish()
        {
            self.stream_error
                .get_or_insert(format!("cannot write {}: {e}", path.display()));
        }
        self.csv = None;
        self.stream_error.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unusable_path_names_its_flag() {
        let e = create("report", Path::new("/nonexistent-dir/r.html")).unwrap_err();
        assert_eq!(e.key, "report");
        assert!(
            e.message
                .starts_with("cannot create /nonexistent-dir/r.html: "),
            "{}",
            e.message
        );
        let e = create("csv", Path::new("-")).unwrap_err();
        assert_eq!(
            (e.key, e.message.as_str()),
            ("csv", "`-` (standard output) is only for --json")
        );
        assert!(JsonSink::open(Path::new("-")).unwrap().is_stdout());
    }
}
