//! SIPp (Debian package `sip-tester`) against gbswarm, both ways.
//!
//! SIPp as the registrar (tests/peers/sipp-uas-register.xml): it challenges every REGISTER
//! with qop=auth, verifies gbswarm's digest itself, and answers 200 — or 403, which fails its
//! call. Both must agree that every device registered and unregistered, and a wrong password
//! must fail on both sides. SIPp as the devices (tests/peers/sipp-uac-register-keepalive.xml)
//! against `gbswarm serve`: every call (register with digest, then a keepalive) succeeds.

mod peers;

use gbswarm::camera::TxnKind;
use gbswarm::engine;
use gbswarm::engine::Stop;
use gbswarm::profile::{Profile, Span};
use peers::{Peer, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// SIPp's cumulative counters from its `-trace_stat` CSV (last line).
fn sipp_stat(file: &Path, column: &str) -> i64 {
    let text = peers::read(file);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(';').collect();
    let last: Vec<&str> = lines.last().unwrap_or("").split(';').collect();
    header
        .iter()
        .position(|h| *h == column)
        .and_then(|i| last.get(i)?.trim().parse().ok())
        .unwrap_or(-1)
}

fn start_sipp_uas(dir: &TempDir, port: u16, calls: u64) -> Peer {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sipp-uas-register.xml"
    );
    let mut cmd = Command::new("sipp");
    cmd.current_dir(dir.path())
        .args(["-sf", scenario, "-i", "127.0.0.1", "-p", &port.to_string()])
        .args([
            "-m",
            &calls.to_string(),
            "-nostdin",
            "-buff_size",
            "4194304",
        ])
        .args(["-timeout", "60s", "-trace_stat", "-fd", "1", "-stf"])
        .arg(dir.path().join("stat.csv"))
        .args(["-trace_err", "-error_file"])
        .arg(dir.path().join("errors.log"));
    let peer = Peer::spawn("sipp", cmd, dir.path());
    // SIPp writes its first statistics line when it enters its main loop, after binding:
    // that is when it is ready to answer.
    let stat = dir.path().join("stat.csv");
    let deadline = Instant::now() + Duration::from_secs(10);
    while peers::read(&stat).lines().count() < 2 {
        assert!(
            Instant::now() < deadline,
            "sipp did not start: {}",
            peers::read(&dir.path().join("sipp.err"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    peer
}

fn run_gbswarm(port: u16, cameras: u64, password: &str) -> gbswarm::engine::RunResult {
    let plan = Profile {
        target: Some(format!("127.0.0.1:{port}")),
        cameras: Some(cameras),
        rate: Some(200.0),
        password: Some(password.into()),
        duration: Some(Span(Duration::from_secs(2))),
        // The scenario covers register and unregister; keepalives would be new calls to SIPp.
        heartbeat: Some(Span(Duration::from_secs(3600))),
        retry_interval: Some(Span(Duration::from_secs(3600))),
        grace: Some(Span(Duration::from_secs(5))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    engine::run(&plan, plan.target.unwrap(), &Stop::default(), |_| {}).unwrap()
}

#[test]
fn sipp_registrar_verifies_gbswarm_digest() {
    if !peers::have("sipp", "sip-tester") {
        return;
    }
    let dir = TempDir::new("sipp-uas");
    let port = peers::free_port();
    let mut sipp = start_sipp_uas(&dir, port, 40);
    let result = run_gbswarm(port, 40, "12345678");
    let code = sipp.wait_exit(Duration::from_secs(20));
    let reg = result.total.kind(TxnKind::Register);
    let unreg = result.total.kind(TxnKind::Unregister);
    assert_eq!((reg.total(), reg.succeeded()), (40, 40), "{reg:?}");
    assert_eq!((unreg.total(), unreg.succeeded()), (40, 40), "{unreg:?}");
    assert_eq!(
        code,
        Some(0),
        "sipp: every call successful; errors: {}",
        peers::read(&dir.path().join("errors.log"))
    );
    let stat = dir.path().join("stat.csv");
    assert_eq!(sipp_stat(&stat, "SuccessfulCall(C)"), 40);
    assert_eq!(sipp_stat(&stat, "FailedCall(C)"), 0);
    assert_eq!(sipp_stat(&stat, "OutOfCallMsgs(C)"), 0);
    assert_eq!(sipp_stat(&stat, "DeadCallMsgs(C)"), 0);
}

#[test]
fn sipp_registrar_rejects_a_wrong_password() {
    if !peers::have("sipp", "sip-tester") {
        return;
    }
    let dir = TempDir::new("sipp-uas-bad");
    let port = peers::free_port();
    let mut sipp = start_sipp_uas(&dir, port, 10);
    let result = run_gbswarm(port, 10, "wrong-password");
    let code = sipp.wait_exit(Duration::from_secs(20));
    let reg = result.total.kind(TxnKind::Register);
    assert_eq!((reg.total(), reg.status(403)), (10, 10), "{reg:?}");
    assert_eq!(
        result.total.kind(TxnKind::Unregister).total(),
        0,
        "never registered"
    );
    assert_eq!(
        code,
        Some(1),
        "sipp counts the rejected devices as failed calls"
    );
    assert_eq!(sipp_stat(&dir.path().join("stat.csv"), "FailedCall(C)"), 10);
}

#[test]
fn sipp_devices_register_and_keep_alive_with_gbswarm_serve() {
    if !peers::have("sipp", "sip-tester") {
        return;
    }
    use gbswarm::server::registrar::Config;
    let server = gbswarm::server::start(gbswarm::server::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cores: 2,
        registrar: Config::new("34020000002000000001".parse().unwrap(), "12345678"),
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(10),
        max_connections: 1000,
        max_half_open_per_source: 1000,
    })
    .unwrap();
    let dir = TempDir::new("sipp-uac");
    let csv = dir.path().join("devices.csv");
    let mut lines = String::from("SEQUENTIAL\n");
    for i in 1..=50 {
        let id = format!("3402000000132{i:07}");
        lines.push_str(&format!(
            "{id};[authentication username={id} password=12345678];\n"
        ));
    }
    std::fs::write(&csv, lines).unwrap();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sipp-uac-register-keepalive.xml"
    );
    let mut cmd = Command::new("sipp");
    cmd.current_dir(dir.path())
        .arg(server.local_addr().to_string())
        .args(["-sf", scenario, "-inf"])
        .arg(&csv)
        .args([
            "-auth_uri",
            "34020000002000000001@3402000000",
            "-i",
            "127.0.0.1",
        ])
        .args([
            "-p",
            &peers::free_port().to_string(),
            "-r",
            "50",
            "-m",
            "50",
            "-nostdin",
        ])
        .args([
            "-buff_size",
            "4194304",
            "-timeout",
            "30s",
            "-trace_stat",
            "-stf",
        ])
        .arg(dir.path().join("stat.csv"));
    let mut sipp = Peer::spawn("sipp", cmd, dir.path());
    let code = sipp.wait_exit(Duration::from_secs(30));
    let st = server.stop();
    let stat = dir.path().join("stat.csv");
    assert_eq!(
        code,
        Some(0),
        "every call successful: {}",
        peers::read(&dir.path().join("sipp.err"))
    );
    assert_eq!(sipp_stat(&stat, "SuccessfulCall(C)"), 50);
    assert_eq!(sipp_stat(&stat, "FailedCall(C)"), 0);
    assert_eq!(sipp_stat(&stat, "FailedUnexpectedMessage(C)"), 0);
    assert_eq!(st.registrations, 50);
    assert_eq!(st.keepalives, 50);
}
