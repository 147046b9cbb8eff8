//! The `run` and `find-max` commands end to end: open every output first, pick the target (or
//! start the embedded registrar), run the engine with the live view on stderr and Ctrl-C
//! handled, then print the report, judge the objectives and write the files asked for.
//! `serve` in the foreground is in [`serve()`].
//!
//! What a command's end means for its exit status is decided here ([`Ending`], [`Failure`])
//! and mapped to numbers by the command line.

mod interrupt;
mod outputs;
mod progress;
mod serve;
mod serve_play;
mod serve_subscribe;

pub use interrupt::EXIT_INTERRUPTED;
pub use outputs::BadOutput;
pub use serve::serve;

use crate::engine::{self, Interval, Stop};
use crate::profile::{Plan, Ramp};
use crate::stats::Snapshot;
use crate::stats::series::Second;
use crate::verdict::Judgement;
use outputs::{JsonSink, Outputs};
use progress::{Phase, Progress, View};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a command that ran to its end finished.
#[derive(Debug)]
pub enum Ending {
    /// Every objective held (find-max: a load held).
    Held,
    /// What was missed, a line each with the measured value (exit 1).
    Missed(Vec<String>),
    /// Ctrl-C / SIGTERM cut it short; its report was still written (exit 130).
    Interrupted,
}

/// Why a command could not run or could not finish.
#[derive(Debug)]
pub enum Failure {
    /// An output path cannot be used; nothing was started (exit 2).
    BadOutput(BadOutput),
    /// The run could not start (no sockets, no embedded registrar), or the target refused
    /// every connection or datagram (exit 3).
    CannotRun(String),
    /// It started but could not finish (an output could not be written, ...) (exit 1).
    Failed(String),
}

/// How long a stop asked for now may take at most: the unregistrations are sent at the
/// stop's pace (never slower than within the grace), then answers are awaited for the grace.
fn stop_bound_s(plan: &Plan, cameras: u64) -> u64 {
    let grace = plan.grace.as_secs_f64();
    let sending = match plan.stop_ramp {
        Ramp::Burst => 0.0,
        Ramp::Rate(r) => (cameras as f64 / r).min(grace),
    };
    (sending + grace).ceil() as u64
}

/// Watches Ctrl-C / SIGTERM for a run of `plan`, telling the user what happens next;
/// `population` holds the cameras a stop would unregister (updated each second).
fn watch_run(
    plan: &Plan,
    stop: &Arc<Stop>,
    population: &Arc<AtomicU64>,
) -> Result<interrupt::Watcher, Failure> {
    let plan = plan.clone();
    let population = population.clone();
    let clear = if std::io::stderr().is_terminal() {
        "\r\x1b[2K"
    } else {
        ""
    };
    interrupt::watch(stop.clone(), move |n| {
        let cameras = population.load(Ordering::Relaxed);
        if n == 1 {
            let what = if plan.camera.unregister_on_stop {
                format!("unregistering {cameras} cameras")
            } else {
                "not unregistering (no-unregister), waiting for the last answers".into()
            };
            eprintln!(
                "{clear}gbswarm: stopping: {what}, at most {} s; Ctrl-C again to quit now",
                stop_bound_s(&plan, cameras)
            );
        } else {
            eprintln!(
                "{clear}gbswarm: quitting now: transactions in flight count as pending; Ctrl-C again to exit without a report"
            );
        }
    })
    .map_err(Failure::Failed)
}

/// Every transaction answered with a status, of every kind.
fn answered(t: &Snapshot) -> u64 {
    t.kinds
        .iter()
        .flat_map(|k| k.statuses.iter().map(|(_, n)| n))
        .sum()
}

/// The objectives' verdict, for the text report.
fn verdict_text(judgements: &[Judgement], interrupted: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("\nobjectives (the exit status is 1 if one is missed):\n");
    let width = judgements
        .iter()
        .map(|j| j.objective.text.len())
        .max()
        .unwrap_or(0);
    for j in judgements {
        let _ = writeln!(
            s,
            "  {:<width$}  {:<6}  measured {}",
            j.objective.text,
            if j.held { "held" } else { "MISSED" },
            j.measured
        );
    }
    let missed = judgements.iter().filter(|j| !j.held).count();
    let _ = writeln!(
        s,
        "verdict: {}{}",
        if missed == 0 {
            "every objective held".to_string()
        } else {
            format!("{missed} of {} objectives missed", judgements.len())
        },
        if interrupted {
            " (interrupted: exit status 130)"
        } else {
            ""
        }
    );
    s
}

/// Runs `plan` as `gbswarm run` does: outputs opened first, live view on stderr (and live
/// Prometheus metrics on `metrics`, if given), the report on stdout (stderr with `--json -`),
/// the objectives judged.
pub fn run(plan: &Plan, metrics: Option<SocketAddr>) -> Result<Ending, Failure> {
    let started = std::time::SystemTime::now();
    let mut outputs = Outputs::open(plan, started).map_err(Failure::BadOutput)?;
    let mut metrics = metrics.map(start_run_metrics).transpose()?;
    let stop = Arc::new(Stop::default());
    let population = Arc::new(AtomicU64::new(0));
    let watcher = watch_run(plan, &stop, &population)?;
    let (target, _embedded) = target_or_embedded(plan).map_err(Failure::CannotRun)?;
    let tty = std::io::stderr().is_terminal();
    eprintln!(
        "gbswarm: {} cameras over {} to {target}, {} worker(s), for {} s (progress every second{})",
        plan.ids.len(),
        plan.transport_label(),
        plan.cores,
        plan.duration.as_secs_f64(),
        if tty { "" } else { "; a line every 10 s" }
    );
    if plan.cameras_per_socket > 1 {
        let left = crate::camera::routes::unindexed_channels(
            &plan.ids,
            plan.camera.channels,
            plan.cores.max(1).min(plan.ids.len().max(1) as usize),
        );
        if left > 0 {
            eprintln!(
                "gbswarm: warning: {left} channels of the device file are past the index of channel IDs on shared sockets ({} per worker): requests to them go unrouted",
                crate::camera::routes::MAX_INDEXED_CHANNELS
            );
        }
    }
    let cpu0 = crate::stats::CpuTime::now();
    let mut progress = Progress::new(tty);
    let mut timeline = Vec::new();
    let mut line = String::new();
    let total_s = plan.duration.as_secs_f64().ceil() as u64;
    let result = engine::run(plan, target, &stop, |iv: Interval<'_>| {
        let t = iv.t_s as u64;
        let sec = Second::of(t, iv.snap);
        outputs.second(&sec, iv.snap, &mut line);
        let g = iv.snap.gauges;
        population.store(g.registered + g.registering, Ordering::Relaxed);
        let phase = if stop.is_requested() || t > total_s {
            Phase::Stopping
        } else if g.started < g.cameras {
            Phase::Ramp
        } else {
            Phase::Steady
        };
        progress.update(&View {
            t_s: t,
            total_s,
            phase,
            sec: &sec,
            snap: iv.snap,
        });
        if let Some(m) = &mut metrics {
            m.second(iv.snap);
        }
        timeline.push(sec);
    })
    .map_err(Failure::CannotRun)?;
    progress.finish();
    drop(watcher);
    let stream_error = outputs.close_streams();
    let t = &result.total;
    let interrupted = result.reason.interrupted();
    let info = crate::stats::summary::RunInfo {
        target: target.to_string(),
        transport: plan.transport_label(),
        cameras: plan.ids.len(),
        cores: plan.cores,
        duration_s: result.elapsed.as_secs_f64(),
        stop_reason: result.reason.as_str().to_string(),
        cpu: crate::stats::CpuTime::now().since(&cpu0),
        peak_rss_bytes: crate::stats::peak_rss_bytes(),
        shard: plan.shard.map(|(k, n)| format!("{k}/{n}")),
        settings: crate::profile::settings::of(plan),
        ..crate::stats::summary::RunInfo::stamp(plan.camera.run_id, started)
    };
    let judgements = crate::verdict::judge_all(&crate::verdict::or_default(&plan.objectives), t);
    let refused = answered(t) == 0 && t.kinds.iter().any(|k| k.transport_errors > 0);
    let mut text = crate::stats::summary::render_text(&info, t);
    if !refused {
        text.push_str(&verdict_text(&judgements, interrupted));
    }
    let json_to_stdout = outputs.json.as_ref().is_some_and(JsonSink::is_stdout);
    if json_to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    if let Some(sink) = outputs.json.take() {
        let mut v = crate::stats::summary::to_json(&info, t, &timeline);
        v["objectives"] = judgements
            .iter()
            .map(|j| {
                serde_json::json!({
                    "objective": j.objective.text, "held": j.held, "measured": j.measured,
                })
            })
            .collect();
        v["verdict"] = serde_json::json!(if refused {
            "could not run"
        } else if interrupted {
            "interrupted"
        } else if judgements.iter().all(|j| j.held) {
            "held"
        } else {
            "missed"
        });
        let text = serde_json::to_string_pretty(&v).map_err(|e| Failure::Failed(e.to_string()))?;
        sink.write(&text).map_err(Failure::Failed)?;
    }
    if let Some((path, mut file)) = outputs.report.take() {
        let rows: Vec<crate::stats::html::VerdictRow<'_>> = judgements
            .iter()
            .filter(|_| !refused)
            .map(|j| (j.objective.text.as_str(), j.held, j.measured.as_str()))
            .collect();
        let html = crate::stats::html::render_judged("gbswarm run", &info, t, &timeline, &rows);
        std::io::Write::write_all(&mut file, html.as_bytes())
            .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(e) = stream_error {
        return Err(Failure::Failed(e));
    }
    if interrupted {
        return Ok(Ending::Interrupted);
    }
    if refused {
        let lost: u64 = t.kinds.iter().map(|k| k.transport_errors).sum();
        return Err(Failure::CannotRun(format!(
            "{target} refused every {} ({lost} transport errors, not one answer): is a SIP server listening there?",
            match plan.transport_counts() {
                (_, 0) => "datagram",
                (0, _) => "connection",
                _ => "datagram and connection",
            }
        )));
    }
    let missed: Vec<String> = judgements
        .iter()
        .filter(|j| !j.held)
        .map(|j| j.to_string())
        .collect();
    Ok(if missed.is_empty() {
        Ending::Held
    } else {
        Ending::Missed(missed)
    })
}

/// Runs a find-max search as `gbswarm find-max` does: steps on stderr, the table on stdout
/// (stderr with `--json -`), the JSON and HTML where asked.
pub fn find_max(search: &crate::findmax::Search) -> Result<Ending, Failure> {
    let json = search
        .base
        .json
        .as_deref()
        .map(JsonSink::open)
        .transpose()
        .map_err(Failure::BadOutput)?;
    let report = match &search.base.report {
        Some(p) => Some((
            p.clone(),
            outputs::create("report", p).map_err(Failure::BadOutput)?,
        )),
        None => None,
    };
    let stop = Arc::new(Stop::default());
    let watcher = interrupt::watch(stop.clone(), |n| {
        if n == 1 {
            eprintln!(
                "gbswarm: stopping: this step ends now and is marked interrupted; Ctrl-C again to quit at once"
            );
        } else {
            eprintln!("gbswarm: quitting now");
        }
    })
    .map_err(Failure::Failed)?;
    let (target, _embedded) = target_or_embedded(&search.base).map_err(Failure::CannotRun)?;
    let outcome = search
        .run(
            target,
            &stop,
            |load| eprintln!("step: load {load} starts"),
            |st| {
                eprintln!(
                    "step: load {} -> {} (p50 {:.2} ms, p99 {:.2} ms, {} of {} failed){}",
                    st.load,
                    if st.interrupted {
                        "interrupted"
                    } else if st.held {
                        "held"
                    } else {
                        "broke"
                    },
                    st.p50_us as f64 / 1000.0,
                    st.p99_us as f64 / 1000.0,
                    st.failures,
                    st.measured,
                    st.broke
                        .as_deref()
                        .map(|b| format!(": {b}"))
                        .unwrap_or_default()
                );
            },
        )
        .map_err(Failure::CannotRun)?;
    drop(watcher);
    let table = crate::findmax::table(&outcome);
    if json.as_ref().is_some_and(JsonSink::is_stdout) {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    if let Some((path, mut file)) = report {
        let html = crate::findmax::render_html("gbswarm find-max", &outcome);
        std::io::Write::write_all(&mut file, html.as_bytes())
            .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(sink) = json {
        let text =
            serde_json::to_string_pretty(&outcome).map_err(|e| Failure::Failed(e.to_string()))?;
        sink.write(&text).map_err(Failure::Failed)?;
    }
    Ok(if outcome.interrupted() || stop.is_requested() {
        Ending::Interrupted
    } else if outcome.best.is_none() {
        Ending::Missed(vec![format!("no step held: {}", outcome.why_none_held())])
    } else {
        Ending::Held
    })
}

/// Starts `run --metrics` on `addr` and says where; an address that cannot be bound could
/// not run.
fn start_run_metrics(addr: SocketAddr) -> Result<crate::metrics::run::RunMetrics, Failure> {
    let m = crate::metrics::run::RunMetrics::start(addr)
        .map_err(|e| Failure::CannotRun(format!("cannot serve metrics on {addr}: {e}")))?;
    eprintln!(
        "gbswarm: metrics on http://{}/metrics (Prometheus text, updated every second)",
        m.local_addr()
    );
    Ok(m)
}

/// The server to load: the plan's target, or the embedded `gbswarm serve` registrar started
/// here on a loopback port (kept alive by the returned handle).
fn target_or_embedded(
    plan: &Plan,
) -> Result<(SocketAddr, Option<crate::server::ServerHandle>), String> {
    if let Some(t) = plan.target {
        return Ok((t, None));
    }
    let cfg = crate::server::ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        cores: 1,
        registrar: crate::server::registrar::Config {
            realm: plan.camera.domain.clone(),
            min_expires: 1,
            max_expires: 86_400,
            heartbeat_ms: plan.camera.heartbeat_ms,
            heartbeat_misses: u32::from(plan.camera.heartbeat_misses),
            // The cameras' own passwords when a device file gives them.
            passwords: match plan.ids.devices() {
                Some(d) => crate::server::registrar::Passwords::PerDevice(d.password_map()),
                None => crate::server::registrar::Passwords::Shared(plan.camera.password.clone()),
            },
            ..crate::server::registrar::Config::new(plan.camera.server_id, &plan.camera.password)
        },
        tcp_idle: std::time::Duration::from_secs(3600),
        tcp_partial: std::time::Duration::from_secs(10),
        max_connections: 1_000_000,
        max_half_open_per_source: 1_000_000,
    };
    let h = crate::server::start(cfg)
        .map_err(|e| format!("cannot start the embedded registrar: {e}"))?;
    eprintln!(
        "gbswarm: no --target: started the embedded registrar (gbswarm serve) on {} (UDP and TCP, realm {}, digest auth)",
        h.local_addr(),
        plan.camera.domain
    );
    Ok((h.local_addr(), Some(h)))
}
