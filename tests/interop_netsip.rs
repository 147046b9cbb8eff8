//! Net::SIP (Debian `libnet-sip-perl`) as the target of `gbswarm run`: its own Registrar behind
//! its own Authorize (tests/peers/netsip-registrar.pl), in two configurations — digest on
//! REGISTER only, and on every request (keepalive MESSAGEs challenged too, as RFC 3261 lets a
//! server do) — over UDP and TCP. A fleet from a device file (a password per camera)
//! registers, refreshes, keeps alive and unregisters; Net::SIP's own count of bindings is read
//! before the run, during it and after the stop.
//!
//! Net::SIP's 423 carries no Min-Expires (RFC 3261 10.3 says it must), so a camera cannot learn
//! its floor: the fleet asks 4 s, inside the bounds the registrar is started with (2 to 60 s).
//! The last test shows what happens outside them. Net::SIP also dates a binding from the whole
//! second it arrived in, so it lapses up to a second before the expiry it granted: the fleet
//! refreshes at half the expiry.

mod peers;

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::engine::{self, Stop};
use gbswarm::profile::{Profile, Span};
use peers::{NetSip, TempDir};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CAMERAS: u64 = 40;

fn device_file(dir: &Path) -> PathBuf {
    let text: String = (1..=CAMERAS)
        .map(|i| format!("3402000000132{i:07},secret-{i}\n"))
        .collect();
    let p = dir.join("fleet.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn have_netsip() -> bool {
    peers::have("perl", "perl") && peers::have_perl_module("Net::SIP", "libnet-sip-perl")
}

/// Runs the fleet against Net::SIP in `auth` mode; returns the run, Net::SIP's bindings
/// before, at 3 s and after the stop, and its final status.
fn run(
    transport: Transport,
    auth: &str,
    expires_s: u64,
) -> Option<(engine::RunResult, [i64; 3], peers::NetSipStatus)> {
    if !have_netsip() {
        return None;
    }
    let dir = TempDir::new(&format!("netsip-{auth}-{}", transport.as_str()));
    let devices = device_file(dir.path());
    let ns = NetSip::start(dir.path(), peers::free_port(), auth, 2, 60, &devices);
    let before = ns.status().bindings;
    let plan = Profile {
        target: Some(format!("127.0.0.1:{}", ns.port)),
        devices: Some(devices),
        transport: Some(transport),
        // The TCP runs are GB/T 28181-2022 devices (`X-GB-Ver: 3.0` on every REGISTER).
        gb_version: Some(if transport == Transport::Tcp {
            2022
        } else {
            2016
        }),
        rate: Some(40.0),
        duration: Some(Span(Duration::from_secs(5))),
        expires: Some(Span(Duration::from_secs(expires_s))),
        // Net::SIP counts a binding's life from the whole second it was registered in
        // (`int(looptime)`), so it lapses up to 1 s early: refresh at half the expiry.
        refresh_at: Some(0.5),
        heartbeat: Some(Span(Duration::from_secs(2))),
        retry_interval: Some(Span(Duration::from_secs(2))),
        grace: Some(Span(Duration::from_secs(5))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let mut during = -1;
    let result = engine::run(&plan, plan.target.unwrap(), &Stop::default(), |iv| {
        if iv.t_s == 3.0 {
            during = ns.status().bindings;
        }
    })
    .unwrap();
    let status = ns.settled_status();
    let after = status.bindings;
    Some((result, [before, during, after], status))
}

/// What both configurations must show for registrations, with Net::SIP's bindings.
fn registrations_held(result: &engine::RunResult, bindings: [i64; 3], ns: &peers::NetSipStatus) {
    let t = &result.total;
    let (reg, refresh, unreg) = (
        t.kind(TxnKind::Register),
        t.kind(TxnKind::Refresh),
        t.kind(TxnKind::Unregister),
    );
    assert_eq!(
        (reg.total(), reg.succeeded()),
        (CAMERAS, CAMERAS),
        "{reg:?}"
    );
    assert!(
        refresh.succeeded() >= CAMERAS,
        "refreshed at 2 s of 4: {refresh:?}"
    );
    assert_eq!(refresh.total(), refresh.succeeded(), "{refresh:?}");
    assert_eq!(
        (unreg.total(), unreg.succeeded()),
        (CAMERAS, CAMERAS),
        "every camera unregistered at the stop: {unreg:?}"
    );
    // Net::SIP's own numbers: nothing before, every camera bound mid-run, none after the stop.
    assert_eq!(
        bindings,
        [0, CAMERAS as i64, 0],
        "Net::SIP bindings before / at 3 s / after"
    );
    // Every REGISTER it accepted is one gbswarm counted as accepted; each flow was challenged.
    assert_eq!(
        ns.answered("REGISTER", 200) as u64,
        reg.succeeded() + refresh.succeeded() + unreg.succeeded()
    );
    assert!(ns.challenged("REGISTER") as u64 >= CAMERAS);
    assert_eq!(ns.answered("REGISTER", 423), 0);
    assert_eq!(
        (t.counters.stray, t.counters.malformed, t.unrouted),
        (0, 0, 0)
    );
}

fn register_only(transport: Transport) {
    let Some((result, bindings, ns)) = run(transport, "register", 4) else {
        return;
    };
    registrations_held(&result, bindings, &ns);
    let ka = result.total.kind(TxnKind::Keepalive);
    assert!(ka.succeeded() >= CAMERAS, "{ka:?}");
    assert_eq!(ka.total(), ka.succeeded() + ka.abandoned, "{ka:?}");
    assert_eq!(ns.challenged("MESSAGE"), 0);
    let answered = ns.answered("MESSAGE", 200) as u64;
    assert!(
        (ka.succeeded()..=ka.total()).contains(&answered),
        "Net::SIP answered {answered} keepalives: {ka:?}"
    );
}

fn every_method(transport: Transport) {
    let Some((result, bindings, ns)) = run(transport, "all", 4) else {
        return;
    };
    registrations_held(&result, bindings, &ns);
    let ka = result.total.kind(TxnKind::Keepalive);
    // Net::SIP challenged the keepalives.
    assert!(ns.challenged("MESSAGE") as u64 >= CAMERAS, "{ns:?}");
    // RFC 3261 22.2: a challenged request is sent again with credentials, and answered.
    assert!(ka.succeeded() >= CAMERAS, "{ka:?}");
    assert_eq!(ka.total(), ka.succeeded() + ka.abandoned, "{ka:?}");
    assert!(
        ns.answered("MESSAGE", 200) as u64 >= ka.succeeded(),
        "{ns:?}"
    );
}

#[test]
fn netsip_registrar_with_digest_on_register_over_udp() {
    register_only(Transport::Udp);
}

#[test]
fn netsip_registrar_with_digest_on_register_over_tcp() {
    register_only(Transport::Tcp);
}

#[test]
fn netsip_registrar_with_digest_on_every_request_over_udp() {
    every_method(Transport::Udp);
}

#[test]
fn netsip_registrar_with_digest_on_every_request_over_tcp() {
    every_method(Transport::Tcp);
}

/// Below Net::SIP's floor its 423 names none (no Min-Expires): the camera cannot ask again with
/// a longer expiry, so each attempt ends rejected 423 and is retried after the retry interval,
/// never at once.
#[test]
fn netsip_423_without_min_expires_is_a_rejection_retried_after_the_interval() {
    if !have_netsip() {
        return;
    }
    let dir = TempDir::new("netsip-423");
    let devices = device_file(dir.path());
    let ns = NetSip::start(dir.path(), peers::free_port(), "register", 30, 60, &devices);
    let plan = Profile {
        target: Some(format!("127.0.0.1:{}", ns.port)),
        devices: Some(devices),
        cameras: Some(5),
        rate: Some(50.0),
        duration: Some(Span(Duration::from_secs(3))),
        expires: Some(Span(Duration::from_secs(10))),
        retry_interval: Some(Span(Duration::from_secs(2))),
        retry_jitter: Some(0.0),
        grace: Some(Span(Duration::from_secs(2))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let result = engine::run(&plan, plan.target.unwrap(), &Stop::default(), |_| {}).unwrap();
    let st = ns.settled_status();
    let reg = result.total.kind(TxnKind::Register);
    assert_eq!(reg.succeeded(), 0, "{reg:?}");
    // At 0 s and again 2 s later: two attempts each in 3 s, not a loop.
    assert_eq!(reg.status(423), 10, "{reg:?}");
    assert_eq!(st.answered("REGISTER", 423), 10, "{st:?}");
    assert_eq!(st.bindings, 0);
}
