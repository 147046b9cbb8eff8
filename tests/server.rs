//! `gbswarm serve` over real loopback sockets: whole fleets from the engine over UDP and TCP,
//! the 302 flow between two registrars (and what `gbswarm run` reports of it), and hostile
//! input (garbage, oversize, slow drip).

mod peers;

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::engine;
use gbswarm::engine::Stop;
use gbswarm::profile::{Profile, Span};
use gbswarm::server::registrar::{Config, Redirect};
use gbswarm::server::{ServeConfig, ServerHandle, start};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn serve(redirect: Option<Redirect>, server_id: &str) -> ServerHandle {
    serve_with(redirect, server_id, false)
}

fn serve_with(redirect: Option<Redirect>, server_id: &str, query_catalog: bool) -> ServerHandle {
    start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cores: 2,
        registrar: Config {
            min_expires: 1,
            heartbeat_ms: 1000,
            redirect,
            query_catalog,
            ..Config::new(server_id.parse().unwrap(), "12345678")
        },
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(1),
        max_connections: 10_000,
        max_half_open_per_source: 256,
    })
    .unwrap()
}

fn fleet(target: SocketAddr, transport: Transport, password: &str) -> engine::RunResult {
    let plan = Profile {
        target: Some(target.to_string()),
        cameras: Some(100),
        transport: Some(transport),
        rate: Some(200.0),
        password: Some(password.into()),
        duration: Some(Span(Duration::from_secs(3))),
        expires: Some(Span(Duration::from_secs(2))),
        heartbeat: Some(Span(Duration::from_secs(1))),
        retry_interval: Some(Span(Duration::from_secs(3600))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    engine::run(&plan, target, &Stop::default(), |_| {}).unwrap()
}

#[test]
fn fleets_register_refresh_keepalive_and_unregister() {
    for transport in [Transport::Udp, Transport::Tcp] {
        let server = serve(None, "34020000002000000001");
        let r = fleet(server.local_addr(), transport, "12345678");
        let (_, (registered, _)) = server.stats();
        let st = server.stop();
        let t = &r.total;
        let (reg, refresh, unreg, ka) = (
            t.kind(TxnKind::Register),
            t.kind(TxnKind::Refresh),
            t.kind(TxnKind::Unregister),
            t.kind(TxnKind::Keepalive),
        );
        assert_eq!(
            (reg.total(), reg.succeeded()),
            (100, 100),
            "{transport:?} {reg:?}"
        );
        assert_eq!(refresh.total(), refresh.succeeded());
        assert_eq!(
            (unreg.total(), unreg.succeeded()),
            (100, 100),
            "{transport:?} {unreg:?}"
        );
        assert_eq!(ka.total(), ka.succeeded() + ka.abandoned);
        // Both sides agree.
        assert_eq!(st.registrations, reg.succeeded() + refresh.succeeded());
        assert_eq!(st.unregistrations, 100);
        assert_eq!(st.keepalives, ka.succeeded() + ka.abandoned);
        assert_eq!(st.replays, 0);
        assert_eq!(registered, 0);
    }
}

#[test]
fn wrong_password_is_refused_with_403() {
    let server = serve(None, "34020000002000000001");
    let r = fleet(server.local_addr(), Transport::Udp, "nope");
    let st = server.stop();
    assert_eq!(r.total.kind(TxnKind::Register).status(403), 100);
    assert_eq!(st.response(403), 100);
    assert_eq!(st.registrations, 0);
}

#[test]
fn redirect_302_to_server_a() {
    let a = serve(None, "34020000002000000002");
    let target_a: (gbswarm::gb::DeviceId, SocketAddr) =
        ("34020000002000000002".parse().unwrap(), a.local_addr());
    let redirector = serve(
        Some(Redirect {
            targets: vec![target_a],
            round_robin: false,
        }),
        "34020000002000000001",
    );
    let r = fleet(redirector.local_addr(), Transport::Udp, "12345678");
    let at_redirector = redirector.stop();
    let at_a = a.stop();
    let reg = r.total.kind(TxnKind::Register);
    // One transaction per camera, from its due time to the 200 at A, marked redirected: the
    // 302 is neither a status of its own nor a rejection.
    assert_eq!(
        (reg.total(), reg.succeeded(), reg.redirected),
        (100, 100, 100),
        "{reg:?}"
    );
    assert_eq!((reg.rejected(), reg.status(302)), (0, 0), "{reg:?}");
    assert_eq!(at_redirector.redirects, 100);
    assert_eq!(at_redirector.keepalives, 0);
    assert!(at_a.keepalives >= 100, "keepalives go to A");
    assert_eq!(at_a.unregistrations, 100);
}

#[test]
fn hostile_input_is_dropped_or_closed_and_counted() {
    let server = serve(None, "34020000002000000001");
    let addr = server.local_addr();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    // Garbage and an oversize datagram: no answer, counted.
    udp.send_to(b"\x00\x01garbage\r\n\r\n", addr).unwrap();
    udp.send_to(&vec![b'A'; 65_000], addr).unwrap();
    let mut buf = [0u8; 2048];
    assert!(udp.recv_from(&mut buf).is_err(), "no answer to garbage");
    // An unknown method from a well-formed request: 405 with Allow.
    let req = b"SUBSCRIBE sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nFrom: <sip:34020000001320000001@3402000000>;tag=1\r\nTo: <sip:34020000002000000001@3402000000>\r\nCall-ID: s1\r\nCSeq: 1 SUBSCRIBE\r\nContent-Length: 0\r\n\r\n";
    udp.send_to(req, addr).unwrap();
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(
        text.starts_with("SIP/2.0 405") && text.contains("Allow: REGISTER, MESSAGE, OPTIONS"),
        "{text}"
    );
    // TCP: garbage closes the connection.
    let mut t = TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    t.write_all(b"HELLO\r\n\r\n").unwrap();
    assert_eq!(t.read(&mut buf).unwrap_or(0), 0, "closed");
    // TCP slow drip: a partial message left pending is closed after the limit (1 s here).
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    slow.write_all(b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/TCP")
        .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(slow.read(&mut buf).unwrap_or(0), 0, "closed");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // A CRLF keep-alive ping gets a CRLF pong.
    let mut ping = TcpStream::connect(addr).unwrap();
    ping.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    ping.write_all(b"\r\n\r\n").unwrap();
    let n = ping.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\r\n");
    std::thread::sleep(Duration::from_millis(300));
    let st = server.stop();
    assert!(st.dropped_malformed >= 3, "{st:?}");
    assert_eq!(st.response(405), 1);
}

#[test]
fn catalog_queries_after_registration_are_answered() {
    let server = serve_with(None, "34020000002000000001", true);
    let plan = Profile {
        target: Some(server.local_addr().to_string()),
        cameras: Some(50),
        rate: Some(200.0),
        channels: Some(5),
        duration: Some(Span(Duration::from_secs(2))),
        heartbeat: Some(Span(Duration::from_secs(3600))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let r = engine::run(&plan, server.local_addr(), &Stop::default(), |_| {}).unwrap();
    let st = server.stop();
    assert_eq!(st.queries_sent, 50);
    assert_eq!(st.catalog_responses, 50);
    assert_eq!(st.catalog_items, 250);
    assert_eq!(r.total.counters.queries, 50);
    assert_eq!(r.total.kind(TxnKind::QueryResponse).succeeded(), 50);
    assert!(!st.service_us.is_empty());
}

/// A scripted UDP client: sends `req` and returns the response.
fn exchange(sock: &UdpSocket, to: SocketAddr, req: &[u8]) -> Vec<u8> {
    sock.send_to(req, to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    buf[..n].to_vec()
}

fn register_req(cseq: u32, auth: Option<&[u8]>) -> Vec<u8> {
    let mut b = Vec::new();
    let mut w = gbswarm::sip::Writer::request(
        &mut b,
        gbswarm::sip::Method::Register,
        b"sip:34020000002000000001@3402000000",
    );
    w.header(
        b"Via",
        format!("SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK{cseq}").as_bytes(),
    )
    .header(b"From", b"<sip:34020000001320000009@3402000000>;tag=a")
    .header(b"To", b"<sip:34020000001320000009@3402000000>")
    .header(b"Call-ID", b"scripted")
    .header(b"CSeq", format!("{cseq} REGISTER").as_bytes())
    .header(b"Contact", b"<sip:34020000001320000009@127.0.0.1:9>")
    .header(b"Expires", b"3600");
    if let Some(a) = auth {
        w.header(b"Authorization", a);
    }
    w.finish(b"");
    b
}

fn status_and_auth(resp: &[u8]) -> (u16, Option<Vec<u8>>, bool) {
    let mut h = [gbswarm::sip::Header::EMPTY; 32];
    let m = gbswarm::sip::parse_datagram(resp, &mut h, &gbswarm::sip::Limits::default())
        .unwrap()
        .unwrap();
    let ch = m.challenge();
    let auth = ch.map(|c| {
        let mut a = Vec::new();
        gbswarm::sip::digest::write_authorization(
            &mut a,
            &c,
            b"34020000001320000009",
            b"12345678",
            b"REGISTER",
            b"sip:34020000002000000001@3402000000",
            1,
            b"cn",
        )
        .unwrap();
        a
    });
    (m.status().unwrap(), auth, ch.is_some_and(|c| c.is_stale()))
}

#[test]
fn stale_nonce_and_replayed_credentials_over_udp() {
    let server = start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        registrar: Config {
            nonce_ttl_s: 1,
            ..Config::new("34020000002000000001".parse().unwrap(), "12345678")
        },
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(1),
        max_connections: 10,
        max_half_open_per_source: 10,
    })
    .unwrap();
    let to = server.local_addr();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let (code, auth, _) = status_and_auth(&exchange(&sock, to, &register_req(1, None)));
    assert_eq!(code, 401);
    let auth = auth.unwrap();
    assert_eq!(
        status_and_auth(&exchange(&sock, to, &register_req(2, Some(&auth)))).0,
        200
    );
    // The same credentials on a new request: a replay, challenged again.
    assert_eq!(
        status_and_auth(&exchange(&sock, to, &register_req(3, Some(&auth)))).0,
        401
    );
    // A nonce answered after its lifetime: 401 with stale=true.
    let (_, fresh, _) = status_and_auth(&exchange(&sock, to, &register_req(4, None)));
    std::thread::sleep(Duration::from_millis(2100));
    let (code, _, stale) = status_and_auth(&exchange(
        &sock,
        to,
        &register_req(5, Some(&fresh.unwrap())),
    ));
    assert_eq!((code, stale), (401, true));
    let st = server.stop();
    assert_eq!(st.replays, 1);
}

/// A registrar with one worker (every connection in the same slot table) and generous TCP
/// timeouts.
fn serve_one_worker(max_half_open_per_source: usize) -> ServerHandle {
    start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        registrar: Config::new("34020000002000000001".parse().unwrap(), "12345678"),
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(60),
        max_connections: 10_000,
        max_half_open_per_source,
    })
    .unwrap()
}

#[test]
fn half_open_connections_are_limited_per_source() {
    let server = serve_one_worker(50);
    let addr = server.local_addr();
    let mut conns: Vec<TcpStream> = (0..80).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut refused = 0;
    for c in &mut conns {
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut b = [0u8; 16];
        if matches!(c.read(&mut b), Ok(0)) {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 30,
        "the 51st half-open connection from one address on is refused"
    );
    // A connection that has sent a whole message no longer counts as half-open.
    let opts = b"OPTIONS sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKo\r\nFrom: <sip:34020000001320000001@3402000000>;tag=1\r\nTo: <sip:34020000002000000001@3402000000>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    conns[0].write_all(opts).unwrap();
    conns[0]
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut b = [0u8; 512];
    let n = conns[0].read(&mut b).unwrap();
    assert!(b[..n].starts_with(b"SIP/2.0 200"));
    std::thread::sleep(Duration::from_millis(100));
    let mut extra = TcpStream::connect(addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        extra.read(&mut b).is_err(),
        "room for one more half-open connection"
    );
    let st = server.stop();
    assert_eq!(st.refused_connections, 30);
}

/// Sends an OPTIONS with its own Call-ID on `c` and returns the Call-ID of the answer.
fn options_answer(c: &mut TcpStream, call_id: &str) -> String {
    let req = format!(
        "OPTIONS sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{call_id}\r\nFrom: <sip:34020000001320000001@3402000000>;tag=1\r\nTo: <sip:34020000002000000001@3402000000>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    c.write_all(req.as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut b = [0u8; 1024];
    let n = c.read(&mut b).unwrap();
    let mut h = [gbswarm::sip::Header::EMPTY; 32];
    let m = gbswarm::sip::parse_datagram(&b[..n], &mut h, &gbswarm::sip::Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(m.status(), Some(200));
    String::from_utf8(m.call_id().unwrap().to_vec()).unwrap()
}

#[test]
fn closed_connection_slots_are_reused_without_mixing_connections() {
    let server = serve_one_worker(256);
    let addr = server.local_addr();
    let mut a = TcpStream::connect(addr).unwrap();
    let mut b = TcpStream::connect(addr).unwrap();
    assert_eq!(options_answer(&mut a, "a"), "a");
    assert_eq!(options_answer(&mut b, "b"), "b");
    // A's slot is freed, then taken by one newcomer only.
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    let mut c = TcpStream::connect(addr).unwrap();
    let mut d = TcpStream::connect(addr).unwrap();
    for round in 0..3 {
        assert_eq!(
            options_answer(&mut d, &format!("d{round}")),
            format!("d{round}")
        );
        assert_eq!(
            options_answer(&mut c, &format!("c{round}")),
            format!("c{round}")
        );
        assert_eq!(
            options_answer(&mut b, &format!("b{round}")),
            format!("b{round}")
        );
    }
    // Many short connections, one after another, each answered on its own.
    for i in 0..50 {
        let mut e = TcpStream::connect(addr).unwrap();
        assert_eq!(options_answer(&mut e, &format!("e{i}")), format!("e{i}"));
    }
    server.stop();
}

/// An OPTIONS over TCP with Call-ID `call_id`.
fn options_request(call_id: &str) -> String {
    format!(
        "OPTIONS sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK{call_id}\r\nFrom: <sip:34020000001320000001@3402000000>;tag=1\r\nTo: <sip:34020000002000000001@3402000000>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Reads what `stream` has (at most `max` bytes in one call) onto `buf` and checks every
/// complete answer there: a 200 whose Call-ID is `p{next}`, in order. Panics if the
/// connection ends.
fn read_answers(stream: &mut TcpStream, buf: &mut Vec<u8>, next: &mut usize, max: usize) {
    let at = buf.len();
    buf.resize(at + max, 0);
    match stream.read(&mut buf[at..]) {
        Ok(0) => panic!("the server closed the connection after {next} answers"),
        Ok(n) => buf.truncate(at + n),
        Err(e) => panic!("read failed after {next} answers: {e:?}"),
    }
    let mut used = 0;
    loop {
        let mut h = [gbswarm::sip::Header::EMPTY; 32];
        let limits = gbswarm::sip::Limits::default();
        let len = match gbswarm::sip::parse_stream(&buf[used..], &mut h, &limits).unwrap() {
            gbswarm::sip::Parsed::Complete { msg, len } => {
                assert_eq!(msg.status(), Some(200));
                assert_eq!(msg.call_id().unwrap(), format!("p{next}").as_bytes());
                *next += 1;
                len
            }
            gbswarm::sip::Parsed::KeepAlive(n) => n,
            gbswarm::sip::Parsed::Partial => break,
        };
        used += len;
    }
    buf.drain(..used);
}

#[test]
fn a_client_that_pipelines_and_reads_late_and_slowly_gets_every_answer_in_order() {
    // More answers than the server's socket send buffer (twice `net.core.wmem_max`, as the
    // kernel doubles what serve asks for) and the client's receive window hold: the server
    // must queue, stop reading this client while the queue is long, and go on as the client
    // reads; never drop the rest or cut the connection. The client, with a 4 KiB receive
    // buffer, first reads nothing for 1.5 s, then reads slowly (4 KiB every 5 ms) for 1 s, so
    // the server pauses and resumes many times, then reads the rest.
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4 << 20);
    let n = (2 * wmem_max + (1 << 20)) / 300 + 1000;
    let server = start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        registrar: Config::new("34020000002000000001".parse().unwrap(), "12345678"),
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(60),
        max_connections: 100,
        max_half_open_per_source: 256,
    })
    .unwrap();
    let addr = server.local_addr();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = sock.into();
    let mut writer = stream.try_clone().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut all = Vec::new();
            for i in 0..n {
                all.extend_from_slice(options_request(&format!("p{i}")).as_bytes());
            }
            writer.write_all(&all).unwrap();
            // Then, like a device, it is never silent for long: one more request every
            // 300 ms until the reader has everything.
            let mut sent = n;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(300));
                writer
                    .write_all(options_request(&format!("p{sent}")).as_bytes())
                    .unwrap();
                sent += 1;
            }
            sent
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = Vec::new();
    let mut next = 0;
    let slow = std::time::Instant::now();
    while next < n && slow.elapsed() < Duration::from_secs(1) {
        read_answers(&mut stream, &mut buf, &mut next, 4096);
        std::thread::sleep(Duration::from_millis(5));
    }
    while next < n {
        read_answers(&mut stream, &mut buf, &mut next, 256 * 1024);
    }
    done.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap();
    while next < sent {
        read_answers(&mut stream, &mut buf, &mut next, 256 * 1024);
    }
    assert!(buf.is_empty());
    // The connection is still open and still answered.
    assert_eq!(options_answer(&mut stream, "after"), "after");
    let st = server.stop();
    assert_eq!(st.requests[2], sent as u64 + 1);
}

#[test]
fn run_against_serve_redirect_to_reports_redirects_and_no_rejections() {
    // What a user runs and reads: `gbswarm run` against `gbswarm serve --redirect-to A`.
    let a = serve(None, "34020000002000000002");
    let dir = peers::TempDir::new("redirect-report");
    let to = format!("34020000002000000002@{}", a.local_addr());
    let (mut redirector, addr) = peers::serve_process(dir.path(), &["--redirect-to", &to]);
    let json = dir.path().join("run.json");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args(["run", "--target", &addr.to_string(), "--cameras", "40"])
        .args(["--rate", "100", "--duration", "2s", "--cores", "1"])
        .args(["--heartbeat", "1h", "--grace", "2s", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    redirector.stop();
    let at_a = a.stop();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        text.contains("register        sent 40 = ok 40 + rejected 0 + timed out 0"),
        "{text}"
    );
    assert!(text.contains("statuses 200:40; redirected 40"), "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let reg = &v["kinds"]["register"];
    assert_eq!(
        (reg["sent"].as_u64(), reg["ok"].as_u64()),
        (Some(40), Some(40)),
        "{reg}"
    );
    assert_eq!(
        (reg["rejected"].as_u64(), reg["redirected"].as_u64()),
        (Some(0), Some(40))
    );
    assert!(reg["statuses"].get("302").is_none(), "{reg}");
    assert_eq!(at_a.registrations, 40);
}
