//! `gbswarm serve` under faults, over loopback and bounded: stopped mid-run and started again
//! 10 s later on the same port (every camera notices, waits, registers again), and flooded with garbage,
//! wrong passwords, replays, idle and slow TCP connections while a healthy fleet keeps working.

mod peers;

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::engine;
use gbswarm::engine::Stop;
use gbswarm::profile::{Profile, Span};
use gbswarm::server::registrar::Config;
use gbswarm::server::{ServeConfig, ServerHandle, start};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn serve_on(listen: SocketAddr) -> ServerHandle {
    start(ServeConfig {
        listen,
        cores: 2,
        registrar: Config {
            min_expires: 1,
            heartbeat_ms: 1000,
            ..Config::new("34020000002000000001".parse().unwrap(), "12345678")
        },
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(2),
        max_connections: 5000,
        max_half_open_per_source: 5000,
    })
    .unwrap()
}

/// Keeps a stopped server's TCP port from being handed to anyone else until the restart: a
/// bound, non-listening TCP socket (connections to it are refused, as to a stopped server).
/// UDP is left free so datagrams meet ICMP port-unreachable as they would. The port is below
/// the ephemeral range, so no outgoing connection or UDP socket of another test takes it, and
/// another test's `free_port` probe sees it taken.
fn hold_port(addr: SocketAddr) -> socket2::Socket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    // The stopped server's connections may linger in TIME_WAIT on this port.
    s.set_reuse_address(true).unwrap();
    s.bind(&addr.into()).unwrap();
    s
}

fn restart_mid_run(transport: Transport) {
    let first = serve_on(SocketAddr::from(([127, 0, 0, 1], peers::free_port())));
    let addr = first.local_addr();
    let mut holder = None;
    let cameras = 2000;
    let plan = Profile {
        target: Some(addr.to_string()),
        cameras: Some(cameras),
        transport: Some(transport),
        rate: Some(1000.0),
        duration: Some(Span(Duration::from_secs(22))),
        expires: Some(Span(Duration::from_secs(60))),
        heartbeat: Some(Span(Duration::from_secs(1))),
        retry_interval: Some(Span(Duration::from_secs(2))),
        retry_jitter: Some(0.5),
        grace: Some(Span(Duration::from_secs(5))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let mut server = Some(first);
    let mut online_before = 0;
    let mut online_while_down = u64::MAX;
    let result = engine::run(&plan, addr, &Stop::default(), |iv| {
        let t = iv.t_s as u64;
        if t == 3 {
            online_before = iv.snap.gauges.registered;
            if let Some(s) = server.take() {
                s.stop();
                holder = Some(hold_port(addr));
            }
        }
        if (9..13).contains(&t) {
            online_while_down = online_while_down.min(iv.snap.gauges.registered);
        }
        if t == 13 {
            // Ten seconds after it went away.
            drop(holder.take());
            server = Some(serve_on(addr));
        }
    })
    .unwrap();
    let st = server.expect("restarted").stop();
    let t = &result.total;
    assert_eq!(online_before, cameras);
    assert_eq!(
        online_while_down, 0,
        "{transport:?}: every camera noticed the loss"
    );
    assert_eq!(t.counters.offline, cameras, "one offline transition each");
    assert_eq!(t.counters.online, 2 * cameras, "and back online");
    assert_eq!(
        t.kind(TxnKind::Unregister).succeeded(),
        cameras,
        "online at the end"
    );
    assert_eq!(st.unregistrations, cameras);
    for k in TxnKind::ALL {
        let s = t.kind(k);
        assert_eq!(
            s.total(),
            s.succeeded() + s.rejected() + s.timeouts + s.transport_errors + s.abandoned
        );
    }
}

#[test]
fn serve_restart_mid_run_over_udp() {
    restart_mid_run(Transport::Udp);
}

#[test]
fn serve_restart_mid_run_over_tcp() {
    restart_mid_run(Transport::Tcp);
}

#[test]
fn flood_does_not_disturb_a_healthy_fleet() {
    let server = serve_on("127.0.0.1:0".parse().unwrap());
    let addr = server.local_addr();
    let rss_before = peers::rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    // 100,000 malformed datagrams, paced at about 25,000/s.
    let garbage = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let start = Instant::now();
            for i in 0..100_000u64 {
                let due = Duration::from_micros(i * 40);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
                let _ = s.send_to(format!("NOT SIP {i}\r\n\r\n").as_bytes(), addr);
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        })
    };
    // Wrong passwords and replayed credentials with made-up nonces: challenged, never let in.
    let intruders = std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut answered = 0;
        for i in 0..2_000u32 {
            let req = format!(
                "REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKi{i}\r\nFrom: <sip:34020000001329{i:06}@3402000000>;tag=x\r\nTo: <sip:34020000001329{i:06}@3402000000>\r\nCall-ID: intruder{i}\r\nCSeq: 1 REGISTER\r\nAuthorization: Digest username=\"34020000001329{i:06}\", realm=\"3402000000\", nonce=\"0000000000000001{:016x}\", uri=\"sip:x\", response=\"00000000000000000000000000000000\"\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
                i
            );
            let _ = s.send_to(req.as_bytes(), addr);
            let mut buf = [0u8; 2048];
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                assert!(
                    buf[..n].starts_with(b"SIP/2.0 401"),
                    "forged nonces are challenged"
                );
                answered += 1;
            }
        }
        answered
    });
    // 1,000 idle TCP connections and 20 slow-drip senders.
    let idle: Vec<TcpStream> = (0..1000)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    let mut slow: Vec<TcpStream> = (0..20)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    for s in &mut slow {
        let _ = s.write_all(b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\nVia:");
    }
    // Meanwhile, the fleet.
    let plan = Profile {
        target: Some(addr.to_string()),
        cameras: Some(100),
        rate: Some(100.0),
        duration: Some(Span(Duration::from_secs(5))),
        heartbeat: Some(Span(Duration::from_secs(1))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let result = engine::run(&plan, addr, &Stop::default(), |_| {}).unwrap();
    stop.store(true, Ordering::Relaxed);
    garbage.join().unwrap();
    let challenged = intruders.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let rss_after = peers::rss_kib();
    let st = server.stop();
    drop(idle);
    let t = &result.total;
    for k in [TxnKind::Register, TxnKind::Keepalive, TxnKind::Unregister] {
        let s = t.kind(k);
        assert_eq!(
            s.total(),
            s.succeeded() + s.abandoned,
            "{k:?}: every transaction of the fleet succeeded: {s:?}"
        );
    }
    assert_eq!(t.kind(TxnKind::Register).succeeded(), 100);
    assert_eq!(challenged, 2_000);
    assert_eq!(st.registrations, 100, "no intruder registered");
    // Every garbage datagram that reached the server was counted; the slow senders were cut.
    assert!(st.dropped_malformed >= 95_000, "{}", st.dropped_malformed);
    assert!(
        rss_after < rss_before + 200 * 1024,
        "memory stays bounded: {rss_before} KiB -> {rss_after} KiB"
    );
    eprintln!(
        "flood: {} malformed dropped, {challenged} forged credentials challenged, RSS {rss_before} -> {rss_after} KiB",
        st.dropped_malformed
    );
}

#[test]
fn ten_thousand_idle_tcp_connections() {
    // The server runs as its own process: one process cannot hold both ends of 10,000
    // connections within this machine's 20,000-descriptor limit.
    let dir = peers::TempDir::new("idle-tcp");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gbswarm"));
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--cores",
        "2",
        "--min-expires",
        "1s",
    ]);
    let mut serve = peers::Peer::spawn("serve", cmd, dir.path());
    // Serve picks a free port and names it first: "gbswarm serve: listening on A (...".
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr: SocketAddr = loop {
        let err = peers::read(&dir.path().join("serve.err"));
        if let Some(a) = err
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        {
            break a;
        }
        assert!(Instant::now() < deadline, "serve did not start: {err}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // 250 idle connections from each of 40 loopback addresses.
    let mut idle = Vec::new();
    for i in 0..10_000u32 {
        let src: SocketAddr = format!("127.0.1.{}:0", 2 + i % 40).parse().unwrap();
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&src.into()).unwrap();
        s.connect(&addr.into()).unwrap();
        idle.push(s);
    }
    let plan = Profile {
        target: Some(addr.to_string()),
        cameras: Some(100),
        transport: Some(Transport::Tcp),
        rate: Some(100.0),
        duration: Some(Span(Duration::from_secs(3))),
        heartbeat: Some(Span(Duration::from_secs(1))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let result = engine::run(&plan, addr, &Stop::default(), |_| {}).unwrap();
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", serve.pid())).unwrap_or_default();
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    let (rss, peak) = (kib("VmRSS:"), kib("VmHWM:"));
    drop(idle);
    // SIGTERM, like Ctrl-C, makes serve print its summary and exit.
    serve.stop();
    let summary = peers::read(&dir.path().join("serve.out"));
    let t = &result.total;
    for k in [TxnKind::Register, TxnKind::Keepalive, TxnKind::Unregister] {
        let s = t.kind(k);
        assert_eq!(s.total(), s.succeeded() + s.abandoned, "{k:?}: {s:?}");
    }
    assert_eq!(t.kind(TxnKind::Register).succeeded(), 100);
    assert!(summary.contains("refused connections 0"), "{summary}");
    assert!(
        peak < 512 * 1024,
        "bounded memory with 10,000 idle connections: peak {peak} KiB"
    );
    eprintln!("10,000 idle TCP connections: serve RSS {rss} KiB, peak {peak} KiB");
}
