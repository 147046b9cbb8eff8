//! The generator under faults, over loopback, bounded in time: packet loss through a seeded
//! lossy relay, an overloaded registrar answering 503 with Retry-After, and a registrar that
//! dies and comes back (Kamailio, killed and restarted by PID).

mod peers;

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::clock::{self, Time};
use gbswarm::engine;
use gbswarm::engine::Stop;
use gbswarm::profile::{Profile, Span};
use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

fn span(ms: u64) -> Option<Span> {
    Some(Span(Duration::from_millis(ms)))
}

fn server_id() -> gbswarm::gb::DeviceId {
    "34020000002000000001".parse().unwrap()
}

/// A loopback UDP socket with buffers large enough that bursts are never lost in the kernel
/// (only the relay's own drops may count).
fn big_udp() -> std::net::UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_recv_buffer_size(4 << 20).unwrap();
    s.set_send_buffer_size(4 << 20).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    s.set_nonblocking(true).unwrap();
    s.into()
}

/// A UDP relay that drops a share of datagrams in both directions with a fixed seed: one
/// socket faces the cameras, and each camera gets its own upstream socket (so replies find
/// their way back).
struct LossyRelay {
    addr: SocketAddr,
    lossy: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    relayed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LossyRelay {
    fn start(upstream: SocketAddr, loss_permille: u64) -> LossyRelay {
        let mut down = UdpSocket::from_std(big_udp());
        let addr = down.local_addr().unwrap();
        let lossy = Arc::new(AtomicBool::new(true));
        let dropped = Arc::new(AtomicU64::new(0));
        let relayed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, d, r, s) = (
            lossy.clone(),
            dropped.clone(),
            relayed.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut poll = Poll::new().unwrap();
            poll.registry()
                .register(&mut down, Token(0), Interest::READABLE)
                .unwrap();
            let mut ups: Vec<(SocketAddr, UdpSocket)> = Vec::new();
            let mut by_client: HashMap<SocketAddr, usize> = HashMap::new();
            let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
            let drop_now = |rng: &mut u64| {
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                l.load(Ordering::Relaxed) && *rng % 1000 < loss_permille
            };
            let mut events = Events::with_capacity(256);
            let mut buf = vec![0u8; 65_536];
            while !s.load(Ordering::Relaxed) {
                let _ = poll.poll(&mut events, Some(Duration::from_millis(20)));
                for ev in events.iter() {
                    if ev.token() == Token(0) {
                        while let Ok((n, client)) = down.recv_from(&mut buf) {
                            let i = *by_client.entry(client).or_insert_with(|| {
                                let mut u = UdpSocket::from_std(big_udp());
                                poll.registry()
                                    .register(&mut u, Token(ups.len() + 1), Interest::READABLE)
                                    .unwrap();
                                ups.push((client, u));
                                ups.len() - 1
                            });
                            if drop_now(&mut rng) {
                                d.fetch_add(1, Ordering::Relaxed);
                            } else {
                                r.fetch_add(1, Ordering::Relaxed);
                                let _ = ups[i].1.send_to(&buf[..n], upstream);
                            }
                        }
                    } else {
                        let i = ev.token().0 - 1;
                        while let Ok((n, _)) = ups[i].1.recv_from(&mut buf) {
                            if drop_now(&mut rng) {
                                d.fetch_add(1, Ordering::Relaxed);
                            } else {
                                r.fetch_add(1, Ordering::Relaxed);
                                let _ = down.send_to(&buf[..n], ups[i].0);
                            }
                        }
                    }
                }
            }
        });
        LossyRelay {
            addr,
            lossy,
            dropped,
            relayed,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn five_percent_loss_is_absorbed_by_retransmissions() {
    let responder = Responder::start(server_id(), Script::default()).unwrap();
    let relay = LossyRelay::start(responder.addr(), 50);
    let plan = Profile {
        target: Some(relay.addr.to_string()),
        cameras: Some(200),
        rate: Some(200.0),
        duration: span(9_000),
        expires: span(3_000),
        heartbeat: span(1_000),
        grace: span(5_000),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let lossy = relay.lossy.clone();
    let result = engine::run(&plan, relay.addr, &Stop::default(), |iv| {
        // Loss stops 4 s before the stop so every retransmission it caused has happened.
        if iv.t_s >= 5.0 {
            lossy.store(false, Ordering::Relaxed);
        }
    })
    .unwrap();
    let t = &result.total;
    let dropped = relay.dropped.load(Ordering::Relaxed);
    let relayed = relay.relayed.load(Ordering::Relaxed);
    assert!(dropped > 100, "5% of thousands of datagrams: {dropped}");
    assert!(
        dropped * 100 < relayed * 8,
        "about 5% lost: {dropped} of {relayed}"
    );
    let reg = t.kind(TxnKind::Register);
    assert_eq!((reg.total(), reg.succeeded()), (200, 200), "{reg:?}");
    let unreg = t.kind(TxnKind::Unregister);
    assert_eq!(unreg.succeeded(), 200, "{unreg:?}");
    let retransmits: u64 = TxnKind::ALL.iter().map(|&k| t.kind(k).retransmits).sum();
    // Each lost request or response costs its transaction one retransmission (round trips
    // are far shorter than T1), except the last loss of a keepalive that is still unanswered
    // when the next one is due: that keepalive ends there as a timeout instead.
    let ka = t.kind(TxnKind::Keepalive);
    assert_eq!(
        retransmits + ka.timeouts,
        dropped,
        "retransmissions + unanswered keepalives = datagrams the relay dropped"
    );
    assert!(ka.timeouts * 100 < ka.total(), "{ka:?}");
    for k in TxnKind::ALL {
        let s = t.kind(k);
        assert_eq!(s.transport_errors + s.rejected(), 0, "{k:?}: {s:?}");
        // A stop abandons what a camera has in flight (a refresh or keepalive just sent, its
        // answer due in well under a millisecond): rare, never more than a few.
        let in_flight_at_stop = matches!(k, TxnKind::Refresh | TxnKind::Keepalive);
        assert!(
            s.abandoned == 0 || (in_flight_at_stop && s.abandoned <= 5),
            "{k:?}: {s:?}"
        );
        if k != TxnKind::Keepalive {
            assert_eq!(s.timeouts, 0, "{k:?}: {s:?}");
        }
    }
}

#[test]
fn overload_with_retry_after_is_respected() {
    let script = Script {
        reject: Some(503),
        retry_after: Some(2),
        ..Script::default()
    };
    let responder = Responder::start(server_id(), script).unwrap();
    let plan = Profile {
        target: Some(responder.addr().to_string()),
        cameras: Some(30),
        rate: Some(300.0),
        duration: span(7_000),
        retry_interval: span(1_000),
        retry_jitter: Some(0.0),
        grace: span(500),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let result = engine::run(&plan, responder.addr(), &Stop::default(), |_| {}).unwrap();
    let seen = responder.stop().unwrap().seen;
    let reg = result.total.kind(TxnKind::Register);
    assert_eq!(reg.succeeded(), 0);
    assert_eq!(reg.status(503), reg.total());
    assert_eq!(seen.register_times.len(), 30);
    for (dev, times) in &seen.register_times {
        // Each attempt is REGISTER + authenticated REGISTER; attempts at least 2 s apart
        // (Retry-After beats the 1 s retry interval), so at most 4 in 7 s.
        let starts: Vec<Time> = times.iter().step_by(2).copied().collect();
        assert!(starts.len() <= 4 && starts.len() >= 3, "{dev}: {starts:?}");
        for w in starts.windows(2) {
            assert!(
                w[1] - w[0] >= clock::Span::from_secs(2),
                "{dev} retried after {:?}",
                w[1] - w[0]
            );
        }
    }
}

fn restart_mid_run(transport: Transport) {
    if !peers::have("kamailio", "kamailio") {
        return;
    }
    let dir = peers::TempDir::new(match transport {
        Transport::Udp => "restart-udp",
        Transport::Tcp => "restart-tcp",
    });
    let port = peers::free_port();
    let first = peers::Kamailio::start(dir.path(), port, 0);
    let cameras = 2000;
    let plan = Profile {
        target: Some(format!("127.0.0.1:{port}")),
        cameras: Some(cameras),
        transport: Some(transport),
        rate: Some(1000.0),
        duration: span(22_000),
        expires: span(60_000),
        heartbeat: span(1_000),
        retry_interval: span(2_000),
        retry_jitter: Some(0.5),
        grace: span(5_000),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let mut server = Some(first);
    let mut second = None;
    let mut online_before_kill = 0;
    let mut online_while_down = u64::MAX;
    let result = engine::run(&plan, plan.target.unwrap(), &Stop::default(), |iv| {
        let t = iv.t_s as u64;
        if t == 3 {
            online_before_kill = iv.snap.gauges.registered;
            // Kill it hard, as a crash would.
            if let Some(mut k) = server.take() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", k.peer.pid())])
                    .status();
                let _ = k.peer.child.wait();
            }
        }
        if (10..13).contains(&t) {
            online_while_down = online_while_down.min(iv.snap.gauges.registered);
        }
        if t == 13 {
            second = Some(peers::Kamailio::start(dir.path(), port, 1));
        }
    })
    .unwrap();
    let t = &result.total;
    assert_eq!(online_before_kill, cameras);
    assert_eq!(online_while_down, 0, "every camera noticed the loss");
    assert_eq!(
        t.counters.offline, cameras,
        "one offline transition per camera"
    );
    assert!(
        t.counters.online >= 2 * cameras,
        "online again after the restart"
    );
    let reg = t.kind(TxnKind::Register);
    assert!(reg.succeeded() >= 2 * cameras, "{reg:?}");
    assert!(
        reg.transport_errors + reg.timeouts > 0,
        "attempts while it was down failed"
    );
    let unreg = t.kind(TxnKind::Unregister);
    assert_eq!(
        unreg.succeeded(),
        cameras,
        "all online again at the end: {unreg:?}"
    );
    // Totals add up for every kind.
    for k in TxnKind::ALL {
        let s = t.kind(k);
        assert_eq!(
            s.total(),
            s.succeeded() + s.rejected() + s.timeouts + s.transport_errors + s.abandoned
        );
    }
    let k = second.expect("restarted");
    assert_eq!(
        k.stat("usrloc:registered_users"),
        0,
        "unregistered at the end"
    );
}

#[test]
fn kamailio_restart_mid_run_over_udp() {
    restart_mid_run(Transport::Udp);
}

#[test]
fn kamailio_restart_mid_run_over_tcp() {
    restart_mid_run(Transport::Tcp);
}
