//! The `run` command end to end: pick the target (or start the embedded registrar), run the
//! engine with live progress on stderr, then print the report and write the files asked for.

use crate::camera::TxnKind;
use crate::camera::sim::Script;
use crate::engine::responder::Responder;
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
        let html = crate::stats::html::render_findmax("gbswarm find-max", &outcome);
        std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &search.base.json {
        let json = serde_json::to_string_pretty(&outcome).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The server to load: the plan's target, or an embedded loopback registrar started here
/// (kept alive by the returned handle).
fn target_or_embedded(plan: &Plan) -> Result<(SocketAddr, Option<Responder>), String> {
    if let Some(t) = plan.target {
        return Ok((t, None));
    }
    let script = Script {
        realm: plan.camera.domain.clone(),
        password: plan.camera.password.clone(),
        per_device: false,
        ..Script::default()
    };
    let r = Responder::start(plan.camera.server_id, script)
        .map_err(|e| format!("cannot start the embedded registrar: {e}"))?;
    eprintln!(
        "gbswarm: no --target: started the embedded registrar on {} (UDP and TCP, realm {}, digest auth)",
        r.addr(),
        plan.camera.domain
    );
    Ok((r.addr(), Some(r)))
}

/// Runs `plan` as `gbswarm run` does; errors are for the user (no target, no sockets, ...).
pub fn run(plan: &Plan) -> Result<(), String> {
    let interrupt = interrupt_flag()?;
    let (target, _embedded) = target_or_embedded(plan)?;
    eprintln!(
        "gbswarm: {} cameras over {:?} to {target}, {} worker(s), for {:?}",
        plan.ids.len(),
        plan.camera.transport,
        plan.cores,
        plan.duration
    );
    let mut stderr = std::io::stderr();
    let mut timeline = Vec::new();
    let result = engine::run(plan, target, &interrupt, |iv: Interval<'_>| {
        timeline.push(crate::stats::html::TimelineRow::of(iv.t_s, iv.snap));
        let g = iv.snap.gauges;
        let regs = iv.snap.kind(TxnKind::Register).succeeded();
        let kas = iv.snap.kind(TxnKind::Keepalive).succeeded();
        let _ = writeln!(
            stderr,
            "[{:>5.0}s] registered {} / started {} | reg/s {regs} | ka/s {kas}",
            iv.t_s, g.registered, g.started
        );
    })?;
    let t = &result.total;
    if let Some(path) = &plan.report {
        let facts = vec![
            ("target".to_string(), target.to_string()),
            ("cameras".to_string(), plan.ids.len().to_string()),
            (
                "transport".to_string(),
                format!("{:?}", plan.camera.transport),
            ),
            (
                "duration".to_string(),
                format!("{:.1} s", result.elapsed.as_secs_f64()),
            ),
            ("stopped".to_string(), result.reason.as_str().to_string()),
        ];
        let html = crate::stats::html::render_run("gbswarm run", &facts, t, &timeline);
        std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    println!(
        "stopped: {} after {:.1} s",
        result.reason.as_str(),
        result.elapsed.as_secs_f64()
    );
    for k in TxnKind::ALL {
        let s = t.kind(k);
        if s.total() == 0 {
            continue;
        }
        println!(
            "{:<15} sent {:>8} ok {:>8} rejected {:>6} timeouts {:>6} transport {:>6} pending {:>6} retx {:>6} p50 {:.3} ms p99 {:.3} ms",
            k.as_str(),
            s.total(),
            s.succeeded(),
            s.rejected(),
            s.timeouts,
            s.transport_errors,
            s.abandoned,
            s.retransmits,
            s.latency.value_at_quantile(0.5) as f64 / 1000.0,
            s.latency.value_at_quantile(0.99) as f64 / 1000.0,
        );
    }
    Ok(())
}
