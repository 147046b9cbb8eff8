//! `gbswarm run`'s engine over real loopback sockets against the scripted responder: whole
//! fleets register, refresh, keep alive and unregister, and the report agrees with what the
//! responder saw. Each run is a few seconds, on 127.0.0.1 only.

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::engine::Stop;
use gbswarm::engine::{self, StopReason};
use gbswarm::profile::{Profile, Span};
use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use std::time::Duration;

fn span(ms: u64) -> Option<Span> {
    Some(Span(Duration::from_millis(ms)))
}

fn profile(target: std::net::SocketAddr, cameras: u64, transport: Transport) -> Profile {
    Profile {
        target: Some(target.to_string()),
        cameras: Some(cameras),
        transport: Some(transport),
        rate: Some(500.0),
        duration: span(3_000),
        expires: span(2_000),
        heartbeat: span(1_000),
        grace: span(3_000),
        ..Profile::default()
    }
}

fn server_id() -> gbswarm::gb::DeviceId {
    "34020000002000000001".parse().unwrap()
}

fn full_lifecycle(transport: Transport, cameras_per_socket: u32) {
    let responder = Responder::start(server_id(), Script::default()).unwrap();
    let mut p = profile(responder.addr(), 60, transport);
    p.cameras_per_socket = Some(cameras_per_socket);
    let plan = p.plan().unwrap();
    let mut intervals = 0;
    let result = engine::run(&plan, responder.addr(), &Stop::default(), |_| {
        intervals += 1
    })
    .unwrap();
    let seen = responder.stop().unwrap().seen;
    let t = &result.total;
    assert_eq!(result.reason, StopReason::Duration);
    assert!(intervals >= 2, "progress once a second");
    let reg = t.kind(TxnKind::Register);
    let refresh = t.kind(TxnKind::Refresh);
    let unreg = t.kind(TxnKind::Unregister);
    let ka = t.kind(TxnKind::Keepalive);
    assert_eq!((reg.total(), reg.succeeded()), (60, 60), "{reg:?}");
    assert!(
        refresh.succeeded() >= 60,
        "refresh at 85% of 2 s: {refresh:?}"
    );
    assert_eq!(refresh.total(), refresh.succeeded());
    assert_eq!((unreg.total(), unreg.succeeded()), (60, 60));
    assert!(ka.succeeded() >= 60, "{ka:?}");
    assert_eq!(
        ka.total(),
        ka.succeeded() + ka.abandoned,
        "keepalives in flight at the stop are pending, nothing else"
    );
    // Every answered transaction is timed three ways: latency from due, its service time,
    // and every ended one its schedule lag; service never exceeds latency.
    for st in [reg, refresh, unreg, ka] {
        let answered = st.succeeded() + st.rejected();
        assert_eq!((st.latency.len(), st.service.len()), (answered, answered));
        assert_eq!(st.lag.len(), st.total());
        for q in [0.5, 0.99, 1.0] {
            let (s, l) = (
                st.service.value_at_quantile(q),
                st.latency.value_at_quantile(q),
            );
            assert!(s <= l, "q {q}: service {s} µs > latency {l} µs");
        }
    }
    // The report and the responder agree.
    assert_eq!(seen.registrations, reg.succeeded() + refresh.succeeded());
    assert_eq!(seen.unregistrations, unreg.succeeded());
    assert_eq!(seen.keepalives, ka.succeeded() + ka.abandoned);
    assert_eq!(t.gauges.cameras, 60);
    assert_eq!(t.gauges.stopped, 60);
    assert_eq!(t.gauges.registered, 0);
    assert_eq!(t.counters.online, 60);
    assert_eq!(
        (t.counters.stray, t.counters.malformed, t.unrouted),
        (0, 0, 0),
        "{:?}",
        t.kind(TxnKind::Keepalive)
    );
}

#[test]
fn udp_fleet_lifecycle() {
    full_lifecycle(Transport::Udp, 1);
}

#[test]
fn udp_fleet_on_shared_sockets() {
    full_lifecycle(Transport::Udp, 7);
}

#[test]
fn tcp_fleet_lifecycle() {
    full_lifecycle(Transport::Tcp, 1);
}

#[test]
fn unreachable_udp_target_is_a_transport_error_not_a_hang() {
    // A port nobody listens on: ICMP port-unreachable comes back on the connected sockets.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = closed.local_addr().unwrap();
    drop(closed);
    let mut p = profile(target, 10, Transport::Udp);
    p.duration = span(1_500);
    p.grace = span(500);
    let plan = p.plan().unwrap();
    let started = std::time::Instant::now();
    let result = engine::run(&plan, target, &Stop::default(), |_| {}).unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let reg = result.total.kind(TxnKind::Register);
    assert_eq!(reg.succeeded(), 0);
    assert_eq!(reg.transport_errors, 10, "{reg:?}");
}

#[test]
fn unreachable_tcp_target_is_a_transport_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = closed.local_addr().unwrap();
    drop(closed);
    let mut p = profile(target, 10, Transport::Tcp);
    p.duration = span(1_000);
    p.grace = span(500);
    let plan = p.plan().unwrap();
    let result = engine::run(&plan, target, &Stop::default(), |_| {}).unwrap();
    let reg = result.total.kind(TxnKind::Register);
    assert_eq!((reg.succeeded(), reg.transport_errors), (0, 10), "{reg:?}");
}

#[test]
fn interrupt_stops_early_and_unregisters() {
    let responder = Responder::start(server_id(), Script::default()).unwrap();
    let mut p = profile(responder.addr(), 20, Transport::Udp);
    p.duration = span(60_000);
    let plan = p.plan().unwrap();
    let interrupt = Stop::default();
    let mut ticks = 0;
    let result = engine::run(&plan, responder.addr(), &interrupt, |_| {
        ticks += 1;
        if ticks == 2 {
            interrupt.request();
        }
    })
    .unwrap();
    assert_eq!(result.reason, StopReason::Interrupted);
    assert!(result.elapsed < Duration::from_secs(10));
    assert_eq!(result.total.kind(TxnKind::Unregister).succeeded(), 20);
    assert_eq!(responder.stop().unwrap().seen.unregistrations, 20);
}

#[test]
fn a_second_interrupt_quits_at_once_and_counts_the_unanswered_as_pending() {
    let responder = Responder::start(server_id(), Script::default()).unwrap();
    let mut p = profile(responder.addr(), 5, Transport::Udp);
    p.duration = span(600_000);
    p.expires = span(3_600_000);
    p.heartbeat = span(600_000);
    // A grace far longer than the test may take: only quitting at once ends it.
    p.grace = span(600_000);
    let plan = p.plan().unwrap();
    let interrupt = Stop::default();
    let mut ticks = 0;
    let result = engine::run(&plan, responder.addr(), &interrupt, |_| {
        ticks += 1;
        match ticks {
            1 => {
                // Registered; now the server hangs and the user presses Ctrl-C.
                responder.set_silent(true);
                interrupt.request();
            }
            3 => {
                interrupt.request();
            }
            _ => {}
        }
    })
    .unwrap();
    assert_eq!(result.reason, StopReason::Quit);
    assert!(
        result.elapsed < Duration::from_secs(60),
        "did not wait the grace"
    );
    assert_eq!(result.total.kind(TxnKind::Register).succeeded(), 5);
    let unreg = result.total.kind(TxnKind::Unregister);
    assert_eq!((unreg.total(), unreg.abandoned), (5, 5), "{unreg:?}");
    responder.stop().unwrap();
}

#[test]
fn hung_server_leaves_unregisters_pending_after_grace() {
    let responder = Responder::start(server_id(), Script::default()).unwrap();
    let mut p = profile(responder.addr(), 5, Transport::Udp);
    // Registered within 10 ms; the server hangs at the first interval (1 s), a whole second
    // before the stop (a stop at the same instant raced the hang and could be answered).
    // No refresh falls inside the run.
    p.duration = span(2_000);
    p.expires = span(3_600_000);
    p.heartbeat = span(60_000);
    // A whole second of the grace falls inside the run: the unanswered show in flight.
    p.grace = span(1_500);
    let plan = p.plan().unwrap();
    let interrupt = Stop::default();
    let (mut retransmissions, mut most_in_flight) = (0, 0);
    let result = engine::run(&plan, responder.addr(), &interrupt, |iv| {
        responder.set_silent(true);
        retransmissions += iv.snap.counters.retransmissions;
        most_in_flight = most_in_flight.max(iv.snap.gauges.in_flight);
    })
    .unwrap();
    let unreg = result.total.kind(TxnKind::Unregister);
    assert_eq!(result.total.kind(TxnKind::Register).succeeded(), 5);
    // The live count (as sent, second by second) agrees with what the ended transactions
    // booked, and the unanswered were seen in flight.
    let booked: u64 = result.total.kinds.iter().map(|k| k.retransmits).sum();
    assert_eq!(retransmissions, booked);
    assert!(most_in_flight > 0);
    assert_eq!(
        (unreg.total(), unreg.succeeded(), unreg.abandoned),
        (5, 0, 5),
        "{unreg:?}"
    );
    assert!(
        unreg.retransmits > 0,
        "unanswered UDP requests are retransmitted"
    );
    assert_eq!(result.total.gauges.stopped, 5);
    drop(responder);
}

#[test]
fn stop_unregisters_at_the_ramp_rate() {
    let responder = Responder::start(server_id(), Script::default()).unwrap();
    let mut p = profile(responder.addr(), 40, Transport::Udp);
    // 40 cameras at 20/s: two seconds of registrations, then two of unregistrations.
    p.rate = Some(20.0);
    p.duration = span(3_000);
    p.expires = span(3_600_000);
    p.heartbeat = span(60_000);
    let plan = p.plan().unwrap();
    let mut most_in_one_second = 0;
    let result = engine::run(&plan, responder.addr(), &Stop::default(), |iv| {
        most_in_one_second = most_in_one_second.max(iv.snap.kind(TxnKind::Unregister).total());
    })
    .unwrap();
    let unreg = result.total.kind(TxnKind::Unregister);
    assert_eq!((unreg.total(), unreg.succeeded()), (40, 40), "{unreg:?}");
    assert_eq!(responder.stop().unwrap().seen.unregistrations, 40);
    assert!(
        result.elapsed >= Duration::from_millis(3_000 + 39 * 1000 / 20),
        "the last camera is told to stop 39/20 s after the first: {:?}",
        result.elapsed
    );
    assert!(
        (1..=25).contains(&most_in_one_second),
        "about 20 a second after the stop, not one burst of 40: {most_in_one_second}"
    );
}

/// Answers every datagram with bytes that are not SIP (plus a CRLF keep-alive, which is no
/// error) for `answer_for`, then stays silent; returns how many garbage answers it sent.
fn garbage_peer(sock: std::net::UdpSocket, answer_for: Duration) -> u64 {
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let start = std::time::Instant::now();
    let mut sent = 0;
    let mut buf = [0u8; 4096];
    while start.elapsed() < answer_for {
        if let Ok((_, from)) = sock.recv_from(&mut buf) {
            sock.send_to(b"\r\n\r\n", from).unwrap();
            sock.send_to(b"HELLO WORLD\r\n\r\n", from).unwrap();
            sent += 1;
        }
    }
    sent
}

#[test]
fn garbage_is_malformed_for_a_socket_of_its_own_and_unrouted_on_a_shared_one() {
    for cps in [1, 4] {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = sock.local_addr().unwrap();
        let peer = std::thread::spawn(move || garbage_peer(sock, Duration::from_millis(1_200)));
        let mut p = profile(target, 8, Transport::Udp);
        p.cameras_per_socket = Some(cps);
        p.duration = span(2_000);
        p.grace = span(300);
        p.no_unregister = Some(true);
        let plan = p.plan().unwrap();
        let result = engine::run(&plan, target, &Stop::default(), |_| {}).unwrap();
        let garbage = peer.join().unwrap();
        // Every camera's REGISTER and its first retransmission, 0.5 s later.
        assert!(garbage >= 8, "cps {cps}: {garbage}");
        let t = &result.total;
        let expected = if cps == 1 { (garbage, 0) } else { (0, garbage) };
        assert_eq!(
            (t.counters.malformed, t.unrouted),
            expected,
            "cps {cps}: (malformed, unrouted)"
        );
    }
}
