//! The `run` command end to end: pick the target (or start the embedded registrar), run the
//! engine with live progress on stderr, then print the report and write the files asked for.

use crate::camera::TxnKind;
use crate::engine::{self, Interval};
use crate::profile::Plan;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

fn interrupt_flag() -> Result<Arc<AtomicBool>, String> {
    let interrupt = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupt.clone())
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }
    Ok(interrupt)
}

/// Runs a find-max search as `gbswarm find-max` does: steps on stderr, the table on stdout,
/// the JSON to the plan's `json` path.
pub fn find_max(search: &crate::findmax::Search) -> Result<(), String> {
    let interrupt = interrupt_flag()?;
    let (target, _embedded) = target_or_embedded(&search.base)?;
    let outcome = search.run(target, &interrupt, |st| {
        eprintln!(
            "step: load {} -> {} (p50 {:.2} ms, p99 {:.2} ms, {} of {} failed){}",
            st.load,
            if st.held { "held" } else { "broke" },
            st.p50_us as f64 / 1000.0,
            st.p99_us as f64 / 1000.0,
            st.failures,
            st.measured,
            st.broke
                .as_deref()
                .map(|b| format!(": {b}"))
                .unwrap_or_default()
        );
    })?;
    print!("{}", crate::findmax::table(&outcome));
    if let Some(path) = &search.base.report {
        let html = crate::findmax::render_html("gbswarm find-max", &outcome);
        std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &search.base.json {
        let json = serde_json::to_string_pretty(&outcome).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
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

/// The live progress line: redrawn in place on a terminal, a plain line every 10 s otherwise.
struct Progress {
    tty: bool,
    last_plain: f64,
    drawn: bool,
}

impl Progress {
    fn line(t_s: f64, snap: &crate::stats::Snapshot) -> String {
        let g = snap.gauges;
        let ok = |k: TxnKind| snap.kind(k).succeeded();
        let mut timed = crate::stats::snapshot::new_histogram();
        let mut errors = 0;
        let mut retrans = 0;
        let mut timeouts = 0;
        for k in &snap.kinds {
            let _ = timed.add(&k.latency);
            errors += k.rejected() + k.transport_errors;
            retrans += k.retransmits;
            timeouts += k.timeouts;
        }
        let q = |p: f64| {
            if timed.is_empty() {
                0.0
            } else {
                timed.value_at_quantile(p) as f64 / 1000.0
            }
        };
        format!(
            "[{:>6.0}s] online {} / offline {} / started {} of {} | reg/s {} | ka/s {} | p50 {:.2} ms p99 {:.2} ms | errors {} timeouts {} retrans {}",
            t_s,
            g.registered,
            g.offline(),
            g.started,
            g.cameras,
            ok(TxnKind::Register) + ok(TxnKind::Refresh),
            ok(TxnKind::Keepalive),
            q(0.5),
            q(0.99),
            errors,
            timeouts,
            retrans
        )
    }

    /// Shows the line of second `t_s`; `last` forces a plain line out (the final state).
    fn update(&mut self, t_s: f64, snap: &crate::stats::Snapshot, last: bool) {
        let line = Self::line(t_s, snap);
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
            self.drawn = true;
        } else if last || t_s - self.last_plain >= 10.0 {
            let _ = writeln!(err, "{line}");
            self.last_plain = t_s;
        }
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}

/// Runs `plan` as `gbswarm run` does; errors are for the user (no target, no sockets, ...).
pub fn run(plan: &Plan) -> Result<(), String> {
    use std::io::IsTerminal;
    let interrupt = interrupt_flag()?;
    let (target, _embedded) = target_or_embedded(plan)?;
    eprintln!(
        "gbswarm: {} cameras over {:?} to {target}, {} worker(s), for {:?} (progress every second{})",
        plan.ids.len(),
        plan.camera.transport,
        plan.cores,
        plan.duration,
        if std::io::stderr().is_terminal() {
            ""
        } else {
            "; a line every 10 s"
        }
    );
    let started = std::time::SystemTime::now();
    let cpu0 = crate::stats::CpuTime::now();
    let mut hdr = match &plan.hdr_log {
        Some(p) => Some(
            crate::stats::hdr::HdrLog::create(p, started)
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let mut progress = Progress {
        tty: std::io::stderr().is_terminal(),
        last_plain: 0.0,
        drawn: false,
    };
    let mut timeline = Vec::new();
    let mut hdr_error = None;
    let result = engine::run(plan, target, &interrupt, |iv: Interval<'_>| {
        timeline.push(crate::stats::series::Second::of(iv.t_s as u64, iv.snap));
        progress.update(iv.t_s, iv.snap, false);
        if let Some(log) = hdr.as_mut() {
            let start = std::time::Duration::from_secs_f64((iv.t_s - 1.0).max(0.0));
            if let Err(e) = log.write_interval(start, std::time::Duration::from_secs(1), iv.snap) {
                hdr_error = Some(e.to_string());
            }
        }
    })?;
    progress.update(result.elapsed.as_secs_f64().ceil(), &result.total, true);
    progress.finish();
    let t = &result.total;
    let info = crate::stats::summary::RunInfo {
        target: target.to_string(),
        transport: format!("{:?}", plan.camera.transport).to_lowercase(),
        cameras: plan.ids.len(),
        cores: plan.cores,
        duration_s: result.elapsed.as_secs_f64(),
        stop_reason: result.reason.as_str().to_string(),
        cpu: crate::stats::CpuTime::now().since(&cpu0),
        peak_rss_bytes: crate::stats::peak_rss_bytes(),
        shard: plan.shard.map(|(k, n)| format!("{k}/{n}")),
    };
    print!("{}", crate::stats::summary::render_text(&info, t));
    let write = |path: &std::path::Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    if let Some(path) = &plan.json {
        let v = crate::stats::summary::to_json(&info, t, &timeline);
        write(
            path,
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?,
        )?;
    }
    if let Some(log) = hdr {
        log.finish()
            .map_err(|e| format!("cannot write the HDR log: {e}"))?;
    }
    if let Some(e) = hdr_error {
        return Err(format!("cannot write the HDR log: {e}"));
    }
    if let Some(path) = &plan.report {
        let facts = vec![
            ("target".to_string(), info.target.clone()),
            ("cameras".to_string(), info.cameras.to_string()),
            ("transport".to_string(), info.transport.clone()),
            ("duration".to_string(), format!("{:.1} s", info.duration_s)),
            ("stopped".to_string(), info.stop_reason.clone()),
            (
                "cpu".to_string(),
                format!("{:.2} s", info.cpu.total().as_secs_f64()),
            ),
        ];
        write(
            path,
            crate::stats::html::render_run("gbswarm run", &facts, t, &timeline),
        )?;
    }
    Ok(())
}

/// `gbswarm merge`: adds the JSON reports of several runs (the shards of one fleet) exactly,
/// prints the merged report and optionally writes it as JSON.
pub fn merge(
    inputs: &[std::path::PathBuf],
    json_out: Option<&std::path::Path>,
) -> Result<(), String> {
    let mut reports = Vec::new();
    for p in inputs {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))?;
        reports.push(
            crate::stats::summary::from_json(&v).map_err(|e| format!("{}: {e}", p.display()))?,
        );
    }
    let (info, total) = crate::stats::summary::merge(&reports);
    print!("{}", crate::stats::summary::render_text(&info, &total));
    if let Some(path) = json_out {
        let v = crate::stats::summary::to_json(&info, &total, &[]);
        let text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `gbswarm serve` until Ctrl-C / SIGTERM: says where it listens, optionally a counters line
/// each second, a summary at the end.
pub fn serve(cfg: crate::server::ServeConfig, every_second: bool) -> Result<(), String> {
    let interrupt = interrupt_flag()?;
    let listen = cfg.listen;
    let cores = cfg.cores;
    let realm = cfg.registrar.realm.clone();
    let mode = match &cfg.registrar.passwords {
        crate::server::registrar::Passwords::Shared(_) => "one shared password".to_string(),
        crate::server::registrar::Passwords::PerDevice(m) => {
            format!("{} device passwords", m.len())
        }
    };
    // Every TCP device holds a descriptor: take all the kernel allows.
    let nofile = crate::net::limits::raise_nofile();
    let handle =
        crate::server::start(cfg).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!(
        "gbswarm serve: listening on {} (UDP and TCP{}), {cores} worker(s), realm {realm}, {mode}, up to {nofile} descriptors",
        handle.local_addr(),
        if handle.local_addr().ip().is_loopback() {
            ", loopback only"
        } else {
            ""
        }
    );
    let mut last = crate::server::registrar::Stats::default();
    while !interrupt.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_secs(1));
        if every_second {
            let (st, (registered, online)) = handle.stats();
            let reqs: u64 = st.requests.iter().sum::<u64>() - last.requests.iter().sum::<u64>();
            eprintln!(
                "registered {registered} online {online} | requests/s {reqs} (REGISTER {} MESSAGE {}) | 200 {} 401 {} 403 {} | dropped {} replays {} | service p50 {} µs p99 {} µs",
                st.requests[0] - last.requests[0],
                st.requests[1] - last.requests[1],
                st.response(200),
                st.response(401),
                st.response(403),
                st.dropped_malformed,
                st.replays,
                st.service_us.value_at_quantile(0.5),
                st.service_us.value_at_quantile(0.99)
            );
            last = st;
        }
    }
    let (_, (registered, online)) = handle.stats();
    let st = handle.stop();
    let codes: Vec<String> = st
        .responses
        .iter()
        .map(|(c, n)| format!("{c}:{n}"))
        .collect();
    println!(
        "gbswarm serve: {} requests (REGISTER {}, MESSAGE {}, OPTIONS {}, other {}); responses {}; registrations {}, unregistrations {}, keepalives {}, redirects {}; catalog queries {} answered {} ({} items); dropped malformed {}, replays {}, refused connections {}; service time p50 {} µs p99 {} µs max {} µs; {registered} registered, {online} online at exit",
        st.requests.iter().sum::<u64>(),
        st.requests[0],
        st.requests[1],
        st.requests[2],
        st.requests[3],
        codes.join(" "),
        st.registrations,
        st.unregistrations,
        st.keepalives,
        st.redirects,
        st.queries_sent,
        st.catalog_responses,
        st.catalog_items,
        st.dropped_malformed,
        st.replays,
        st.refused_connections,
        st.service_us.value_at_quantile(0.5),
        st.service_us.value_at_quantile(0.99),
        st.service_us.max()
    );
    Ok(())
}
