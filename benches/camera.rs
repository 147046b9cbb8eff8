//! 10,000 sans-IO cameras through 24 simulated hours (registration with digest auth, a refresh
//! every ~51 minutes, a keepalive every 60 s) against the in-memory scripted registrar, and the
//! CPU it takes. Target: under 10 s of CPU on the 2-core reference machine.
//!
//! Run: `cargo bench --bench camera` (env `CAMERAS` and `HOURS` change the size;
//! `NO_CAMERA_TIMING=1` drops the clock reads around camera handlers).
//! The CPU figure covers everything in the process: cameras, the scripted registrar parsing and
//! answering every message, and the simulated network.

use gbswarm::camera::{CameraConfig, Outcome, TxnKind};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::DeviceId;
use gbswarm::stats::{CpuTime, peak_rss_bytes};
use gbswarm::testkit::{Script, Sim};
use std::time::Instant;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let cameras = env_or("CAMERAS", 10_000) as u32;
    let hours = env_or("HOURS", 24);
    let server: DeviceId = "34020000002000000001".parse().expect("server id");
    let first: DeviceId = "34020000001320000001".parse().expect("first id");
    let cfg = CameraConfig::new(server);
    let script = Script {
        per_device: false,
        ..Script::default()
    };
    let mut sim = Sim::new(cfg, first, cameras, script);
    sim.net.keep_records = false;
    sim.time_cameras = std::env::var("NO_CAMERA_TIMING").is_err();

    let cpu0 = CpuTime::now();
    let wall0 = Instant::now();
    // Ramp the fleet up over 100 s, then let it run.
    sim.start_all(Span::from_secs(100) / u64::from(cameras.max(1)));
    sim.run_until(Time::ZERO + hours * Span::from_secs(3600));
    let wall = wall0.elapsed();
    let cpu = CpuTime::now().since(&cpu0);

    let t = &sim.net.tally;
    let ok = |k| t.get(k, Outcome::Status(200));
    println!("cameras {cameras}, simulated {hours} h");
    println!(
        "wall {:.2} s, cpu {:.2} s (user {:.2}, system {:.2}), peak RSS {} MiB",
        wall.as_secs_f64(),
        cpu.total().as_secs_f64(),
        cpu.user.as_secs_f64(),
        cpu.system.as_secs_f64(),
        peak_rss_bytes().unwrap_or(0) >> 20
    );
    println!(
        "messages {} ({:.2} M/s of CPU), registrations {}, refreshes {}, keepalives {}",
        sim.net.delivered,
        sim.net.delivered as f64 / cpu.total().as_secs_f64().max(1e-9) / 1e6,
        ok(TxnKind::Register),
        ok(TxnKind::Refresh),
        ok(TxnKind::Keepalive),
    );
    if sim.time_cameras {
        println!(
            "time inside camera handlers: {:.2} s (the rest is the scripted registrar and the \
             simulated network)",
            sim.camera_time.as_secs_f64()
        );
    }
    let failures: u64 = TxnKind::ALL.iter().map(|&k| t.total(k) - ok(k)).sum();
    println!("transactions not answered 200: {failures}");
    assert_eq!(failures, 0, "a clean 24 h run has no failures");
}
