//! Kamailio (Debian package `kamailio`) as the target of `gbswarm run`: a registrar with digest
//! auth, contacts in memory and MESSAGE answered 200 (tests/peers/kamailio.cfg). A few hundred
//! cameras register, refresh, send keepalives and unregister over UDP and over TCP, and both
//! sides' counters must agree.

mod peers;

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::engine;
use gbswarm::engine::Stop;
use gbswarm::profile::{Profile, Span};
use peers::{Kamailio, TempDir};
use std::time::Duration;

fn run_against_kamailio(transport: Transport) {
    if !peers::have("kamailio", "kamailio") || !peers::have("kamcmd", "kamailio") {
        return;
    }
    let dir = TempDir::new(match transport {
        Transport::Udp => "kam-udp",
        Transport::Tcp => "kam-tcp",
    });
    let mut k = Kamailio::start(dir.path(), peers::free_port(), 0);
    let cameras = 300;
    let plan = Profile {
        target: Some(format!("127.0.0.1:{}", k.port)),
        cameras: Some(cameras),
        transport: Some(transport),
        // The TCP run is GB/T 28181-2022 devices (`X-GB-Ver: 3.0` on every REGISTER).
        gb_version: Some(if transport == Transport::Tcp {
            2022
        } else {
            2016
        }),
        rate: Some(300.0),
        duration: Some(Span(Duration::from_secs(5))),
        expires: Some(Span(Duration::from_secs(3))),
        heartbeat: Some(Span(Duration::from_secs(2))),
        grace: Some(Span(Duration::from_secs(5))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let target = plan.target.unwrap();
    let mut online_seen_by_kamailio = -1;
    let result = engine::run(&plan, target, &Stop::default(), |iv| {
        if iv.t_s == 3.0 {
            online_seen_by_kamailio = k.stat("usrloc:registered_users");
        }
    })
    .unwrap();
    let t = &result.total;
    let reg = t.kind(TxnKind::Register);
    let refresh = t.kind(TxnKind::Refresh);
    let unreg = t.kind(TxnKind::Unregister);
    let ka = t.kind(TxnKind::Keepalive);
    // gbswarm's side: every transaction succeeded.
    assert_eq!(
        (reg.total(), reg.succeeded()),
        (cameras, cameras),
        "{reg:?}"
    );
    assert!(refresh.succeeded() >= cameras, "{refresh:?}");
    assert_eq!(refresh.total(), refresh.succeeded());
    assert_eq!(
        (unreg.total(), unreg.succeeded()),
        (cameras, cameras),
        "{unreg:?}"
    );
    assert!(ka.succeeded() >= cameras, "{ka:?}");
    assert_eq!(ka.total(), ka.succeeded() + ka.abandoned, "{ka:?}");
    // Kamailio's side: it saw the same registrations and unregistrations.
    let accepted = k.stat("registrar:accepted_regs");
    assert_eq!(
        accepted,
        (reg.succeeded() + refresh.succeeded() + unreg.succeeded()) as i64,
        "registrar:accepted_regs"
    );
    assert_eq!(k.stat("registrar:rejected_regs"), 0);
    assert_eq!(
        online_seen_by_kamailio, cameras as i64,
        "usrloc:registered_users mid-run"
    );
    assert_eq!(
        k.stat("usrloc:registered_users"),
        0,
        "every camera unregistered"
    );
    assert!(k.peer.stop(), "kamailio stops on SIGTERM");
}

#[test]
fn kamailio_registrar_over_udp() {
    run_against_kamailio(Transport::Udp);
}

#[test]
fn kamailio_registrar_over_tcp() {
    run_against_kamailio(Transport::Tcp);
}
