//! How fast `gbswarm run` registers cameras with digest auth over UDP, and what it costs.
//!
//! Steps the ramp rate up; at each rate a fresh fleet of `3 s × rate` cameras registers
//! (REGISTER → 401 → REGISTER with Authorization → 200) against the in-process loopback
//! responder on the other core, with the generator on one worker. Reports per rate: the
//! registrations that succeeded, failures, register p50/p99, and the generator's own CPU
//! (its worker thread, from /proc) per 10,000 registrations. A rate is sustained when under
//! 0.1% fail.
//!
//! Run: `cargo bench --bench generator` (env `RATES=5000,10000` to choose the steps).

use gbswarm::camera::TxnKind;
use gbswarm::engine;
use gbswarm::profile::{Profile, Span};
use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use std::time::Duration;

fn main() {
    let rates: Vec<u64> = std::env::var("RATES")
        .ok()
        .map(|v| v.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![5_000, 10_000, 20_000, 40_000, 60_000, 80_000]);
    let server = "34020000002000000001".parse().expect("server id");
    println!(
        "| rate/s | cameras | registered | failed | p50 ms | p99 ms | generator CPU s | CPU s per 10k | sustained |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for rate in rates {
        let responder = Responder::start(
            server,
            Script {
                per_device: false,
                ..Script::default()
            },
        )
        .expect("responder");
        let cameras = rate * 3;
        let profile = Profile {
            target: Some(responder.addr().to_string()),
            cameras: Some(cameras),
            rate: Some(rate as f64),
            cores: Some(1),
            cameras_per_socket: Some((cameras / 12_000).max(8) as u32),
            duration: Some(Span(Duration::from_millis(4_500))),
            heartbeat: Some(Span(Duration::from_secs(3600))),
            expires: Some(Span(Duration::from_secs(3600))),
            no_unregister: Some(true),
            grace: Some(Span(Duration::from_millis(100))),
            ..Profile::default()
        };
        let plan = profile.plan().expect("plan");
        let result = engine::run(
            &plan,
            responder.addr(),
            &gbswarm::engine::Stop::default(),
            |_| {},
        )
        .expect("run");
        let cpu = result.total.worker_cpu;
        drop(responder);
        let reg = result.total.kind(TxnKind::Register);
        let ok = reg.succeeded();
        let failed = cameras - ok;
        let per_10k = cpu.as_secs_f64() / (ok.max(1) as f64) * 10_000.0;
        println!(
            "| {rate} | {cameras} | {ok} | {failed} | {:.2} | {:.2} | {:.2} | {:.3} | {} |",
            reg.latency.value_at_quantile(0.5) as f64 / 1000.0,
            reg.latency.value_at_quantile(0.99) as f64 / 1000.0,
            cpu.as_secs_f64(),
            per_10k,
            if failed * 1000 <= cameras {
                "yes"
            } else {
                "no"
            }
        );
    }
}
