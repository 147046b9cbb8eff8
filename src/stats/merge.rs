//! `gbswarm merge`: the `--json` reports of several runs (the shards of one fleet) added up
//! exactly — histograms added, never percentiles averaged; the time series by second; each
//! run's facts and CPU kept beside the sums — printed, and written as JSON and HTML if asked.
//!
//! A run is known by its run id and shard ([`RunInfo::runs`]; a merged report holds several).
//! A run given twice, or two runs of the same shard, would count the same cameras twice: the
//! merge is refused, naming both files.

use super::Snapshot;
use super::info::{RunInfo, ShardInfo};
use super::series::{Second, merge_by_second};
use super::summary::{from_json, render_text, timeline_from_json, to_json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why a merge did not happen.
#[derive(Debug)]
pub enum MergeError {
    /// The inputs hold the same run twice, or two runs of one shard: bad input, nothing was
    /// merged.
    Duplicate(String),
    /// A file could not be read, is not a report, or an output could not be written.
    Failed(String),
}

/// One report to merge, as read from its file.
#[derive(Debug)]
pub struct Report {
    /// The file it came from.
    pub file: PathBuf,
    /// What ran.
    pub info: RunInfo,
    /// Its totals.
    pub total: Snapshot,
    /// Its time series.
    pub timeline: Vec<Second>,
    /// For a report without run ids (written before they existed): a digest of its text,
    /// so that the same file given twice is still caught.
    content: u64,
}

impl Report {
    /// Reads a JSON report written by `run --json` or `merge --json`.
    pub fn read(file: &Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        Report::parse(file, &text)
    }

    /// Parses the text of a report read from `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Report, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
        let (info, total) = from_json(&v).map_err(|e| format!("{}: {e}", file.display()))?;
        let timeline = timeline_from_json(&v).map_err(|e| format!("{}: {e}", file.display()))?;
        let content = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut h);
            h.finish()
        };
        Ok(Report {
            file: file.to_path_buf(),
            info,
            total,
            timeline,
            content,
        })
    }

    /// The runs it holds, each with what identifies it.
    fn identified(&self) -> Vec<(String, ShardInfo)> {
        self.info
            .runs()
            .into_iter()
            .map(|r| {
                let id = if r.run_id.is_empty() {
                    format!("content {:016x}", self.content)
                } else {
                    format!("run {} {:?}", r.run_id, r.shard)
                };
                (id, r)
            })
            .collect()
    }
}

/// Refuses inputs that hold the same run twice, or two runs of the same shard `K/N`.
pub fn check_distinct(reports: &[Report]) -> Result<(), String> {
    let both = |a: &Report, b: &Report| {
        if a.file == b.file {
            format!("{} is given twice", a.file.display())
        } else {
            format!("{} and {}", a.file.display(), b.file.display())
        }
    };
    for (j, b) in reports.iter().enumerate() {
        for a in &reports[..j] {
            for (ida, ra) in a.identified() {
                for (idb, rb) in b.identified() {
                    if ida == idb {
                        let what = if ra.run_id.is_empty() {
                            "the same report".to_string()
                        } else {
                            format!("the same run ({})", describe(&ra))
                        };
                        return Err(format!(
                            "{}: both hold {what}; merging would count its cameras twice",
                            both(a, b)
                        ));
                    }
                    if let (Some(sa), Some(sb)) = (&ra.shard, &rb.shard)
                        && sa == sb
                    {
                        return Err(format!(
                            "{}: both hold shard {sa} (runs {} and {}); merging would count \
                             its cameras twice: merge one run per shard",
                            both(a, b),
                            ra.run_id,
                            rb.run_id
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn describe(r: &ShardInfo) -> String {
    match &r.shard {
        Some(s) => format!("run {}, shard {s}", r.run_id),
        None => format!("run {}", r.run_id),
    }
}

/// The reports added up: info as [`RunInfo::merge`], totals exactly, time series by second.
pub fn merge(reports: &[Report]) -> Result<(RunInfo, Snapshot, Vec<Second>), String> {
    let infos: Vec<&RunInfo> = reports.iter().map(|r| &r.info).collect();
    let mut total = Snapshot::default();
    for r in reports {
        total.merge(&r.total);
    }
    let timelines: Vec<Vec<Second>> = reports.iter().map(|r| r.timeline.clone()).collect();
    let timeline = merge_by_second(&timelines)?;
    Ok((RunInfo::merge(&infos), total, timeline))
}

/// One line per run merged (its shard, run id, host, cameras, length, CPU and file), then the
/// CPU of all of them.
pub fn runs_text(reports: &[Report], merged: &RunInfo) -> String {
    let mut s = format!("\nruns merged: {}\n", merged.shards.len());
    for r in reports {
        for run in r.info.runs() {
            let _ = writeln!(
                s,
                "  {:<12} run {:<8} on {}: {} cameras, {:.1} s, cpu {:.2} s (user {:.2}, system {:.2}) [{}]",
                run.shard.as_deref().unwrap_or("-"),
                if run.run_id.is_empty() {
                    "?"
                } else {
                    &run.run_id
                },
                if run.host.is_empty() { "?" } else { &run.host },
                run.cameras,
                run.duration_s,
                run.cpu.total().as_secs_f64(),
                run.cpu.user.as_secs_f64(),
                run.cpu.system.as_secs_f64(),
                r.file.display()
            );
        }
    }
    let _ = writeln!(
        s,
        "  all: {} cameras, cpu {:.2} s (user {:.2}, system {:.2})",
        merged.cameras,
        merged.cpu.total().as_secs_f64(),
        merged.cpu.user.as_secs_f64(),
        merged.cpu.system.as_secs_f64()
    );
    s
}

/// `gbswarm merge`: reads `inputs`, refuses duplicates, prints the merged report with each
/// run's CPU, and writes it as JSON (`json_out`) and HTML (`report_out`) if asked.
pub fn run(
    inputs: &[PathBuf],
    json_out: Option<&Path>,
    report_out: Option<&Path>,
) -> Result<(), MergeError> {
    let reports = inputs
        .iter()
        .map(|p| Report::read(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(MergeError::Failed)?;
    check_distinct(&reports).map_err(MergeError::Duplicate)?;
    let (info, total, timeline) = merge(&reports).map_err(MergeError::Failed)?;
    print!("{}", render_text(&info, &total));
    print!("{}", runs_text(&reports, &info));
    let write = |path: &Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| MergeError::Failed(format!("cannot write {}: {e}", path.display())))
    };
    if let Some(path) = json_out {
        let v = to_json(&info, &total, &timeline);
        let text =
            serde_json::to_string_pretty(&v).map_err(|e| MergeError::Failed(e.to_string()))?;
        write(path, text)?;
    }
    if let Some(path) = report_out {
        write(
            path,
            super::html::render_run("gbswarm merge", &info, &total, &timeline),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Outcome, Record, TxnKind};
    use crate::clock::Span;
    use std::time::{Duration, SystemTime};

    /// A shard's report as text: `n` registrations in each of `seconds` seconds.
    fn report(shard: &str, run: u32, n: u64, seconds: u64, cpu_ms: u64) -> String {
        let mut total = Snapshot::default();
        let mut timeline = Vec::new();
        for t in 1..=seconds {
            let mut s = Snapshot::default();
            for i in 0..n {
                s.record(&Record {
                    kind: TxnKind::Register,
                    outcome: Outcome::Status(200),
                    latency: Span::from_micros(100 * run as u64 + i),
                    lag: Span::ZERO,
                    retransmits: 0,
                    redirected: false,
                });
            }
            s.gauges.started = n * t;
            total.merge(&s);
            timeline.push(Second::of(t, &s));
        }
        let info = RunInfo {
            cameras: n * seconds,
            shard: Some(shard.into()),
            cpu: crate::stats::CpuTime {
                user: Duration::from_millis(cpu_ms),
                system: Duration::ZERO,
            },
            ..RunInfo::stamp(run, SystemTime::now())
        };
        serde_json::to_string(&to_json(&info, &total, &timeline)).unwrap()
    }

    fn parse(name: &str, text: &str) -> Report {
        Report::parse(Path::new(name), text).unwrap()
    }

    #[test]
    fn shards_merge_by_second_with_each_runs_cpu() {
        let a = parse("a.json", &report("0/2", 1, 10, 3, 700));
        let b = parse("b.json", &report("1/2", 2, 20, 2, 300));
        let reports = [a, b];
        check_distinct(&reports).unwrap();
        let (info, total, timeline) = merge(&reports).unwrap();
        assert_eq!(total.kind(TxnKind::Register).succeeded(), 30 + 40);
        let ok: Vec<u64> = timeline
            .iter()
            .map(|s| s.kind(TxnKind::Register).ok)
            .collect();
        assert_eq!(
            ok,
            [30, 30, 10],
            "second by second, the second shard ran 2 s"
        );
        assert_eq!(info.cpu.total(), Duration::from_millis(1000));
        let cpus: Vec<u128> = info
            .shards
            .iter()
            .map(|s| s.cpu.total().as_millis())
            .collect();
        assert_eq!(cpus, [700, 300]);
        let text = runs_text(&reports, &info);
        assert!(text.contains("0/2          run 00000001"), "{text}");
        assert!(
            text.contains("cpu 0.70 s (user 0.70, system 0.00) [a.json]"),
            "{text}"
        );
        assert!(text.contains("all: 70 cameras, cpu 1.00 s"), "{text}");
        // The merged JSON keeps the runs and the time series.
        let v = to_json(&info, &total, &timeline);
        assert_eq!(v["info"]["shards"][1]["cpu_s"], 0.3);
        assert_eq!(v["timeline"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn the_same_run_twice_is_refused_naming_both_files() {
        let a = report("0/2", 1, 10, 1, 1);
        let e = check_distinct(&[parse("a.json", &a), parse("a.json", &a)]).unwrap_err();
        assert_eq!(
            e,
            "a.json is given twice: both hold the same run (run 00000001, shard 0/2); merging would count its cameras twice"
        );
        let e = check_distinct(&[parse("a.json", &a), parse("copy.json", &a)]).unwrap_err();
        assert!(
            e.starts_with("a.json and copy.json: both hold the same run"),
            "{e}"
        );
        // Another run of the same shard.
        let again = report("0/2", 9, 10, 1, 1);
        let e = check_distinct(&[parse("a.json", &a), parse("b.json", &again)]).unwrap_err();
        assert!(
            e.starts_with("a.json and b.json: both hold shard 0/2 (runs 00000001 and 00000009)"),
            "{e}"
        );
        // A merged report already holding a run.
        let b = report("1/2", 2, 10, 1, 1);
        let (info, total, timeline) = merge(&[parse("a.json", &a), parse("b.json", &b)]).unwrap();
        let merged = serde_json::to_string(&to_json(&info, &total, &timeline)).unwrap();
        let e = check_distinct(&[parse("m.json", &merged), parse("b.json", &b)]).unwrap_err();
        assert!(e.contains("run 00000002, shard 1/2"), "{e}");
        // Reports without run ids: the same text is the same report.
        let old = r#"{"schema": "gbswarm.run/1", "kinds": {}, "info": {"cameras": 5}}"#;
        let e = check_distinct(&[parse("x.json", old), parse("y.json", old)]).unwrap_err();
        assert!(
            e.starts_with("x.json and y.json: both hold the same report"),
            "{e}"
        );
    }
}
