//! Batched datagram I/O over loopback (`gbswarm::net::batch`): datagrams from several sources
//! come back each with its own source, more than a batch's worth in full and partial batches;
//! answers queued for several sources and sockets reach each source from the right socket, in
//! order; a datagram longer than its room is flagged truncated; errors come back as the
//! socket's (a refusal on a connected socket, a socket index nobody resolves). And the server
//! host loop, which receives and answers a batch at a time, answers every datagram of a burst
//! from several sources to its own source.

use gbswarm::clock::{Clock, Time};
use gbswarm::net::batch::{BATCH, RecvBatch, SendBatch};
use gbswarm::net::{After, HostConfig, Service};
use gbswarm::sip::{Batch, Message, Transport};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

fn bind() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn nonblocking() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

/// Receives on `server` until `total` datagrams came, or the time limit; each call's count.
fn receive_all(
    rb: &mut RecvBatch,
    server: &UdpSocket,
    total: usize,
    mut each: impl FnMut(&[u8], SocketAddr, bool),
) -> Vec<usize> {
    let start = Instant::now();
    let mut calls = Vec::new();
    let mut got = 0;
    while got < total && start.elapsed() < LIMIT {
        match rb.recv(server) {
            Ok(n) => {
                assert_eq!(rb.len(), n);
                assert_eq!(rb.iter().count(), n);
                for d in rb.iter() {
                    each(d.bytes, d.from, d.truncated);
                }
                got += n;
                calls.push(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
    assert_eq!(got, total, "every datagram arrives");
    calls
}

#[test]
fn a_burst_from_several_sources_is_received_with_each_source_and_answered_to_each() {
    const PER: usize = 25;
    let server = nonblocking();
    let to = server.local_addr().unwrap();
    let clients: Vec<UdpSocket> = (0..4).map(|_| bind()).collect();
    // Interleaved, so consecutive datagrams of a batch come from different sources.
    for i in 0..PER {
        for (k, c) in clients.iter().enumerate() {
            c.send_to(format!("c{k} n{i}").as_bytes(), to).unwrap();
        }
    }
    let total = PER * clients.len();
    let mut rb = RecvBatch::default();
    let mut sendq = SendBatch::new(total);
    let mut seen: HashMap<usize, Vec<usize>> = HashMap::new();
    let calls = receive_all(&mut rb, &server, total, |bytes, from, truncated| {
        assert!(!truncated);
        let text = std::str::from_utf8(bytes).unwrap();
        let (k, i) = text.split_once(' ').unwrap();
        let k: usize = k[1..].parse().unwrap();
        let i: usize = i[1..].parse().unwrap();
        assert_eq!(from, clients[k].local_addr().unwrap(), "{text}");
        seen.entry(k).or_default().push(i);
        sendq.push(0, k as u32, from, format!("re {text}").as_bytes());
    });
    assert!(calls.len() >= total.div_ceil(BATCH), "{calls:?}");
    assert!(calls.iter().all(|&n| (1..=BATCH).contains(&n)), "{calls:?}");
    for k in 0..clients.len() {
        assert_eq!(
            seen[&k],
            (0..PER).collect::<Vec<_>>(),
            "client {k} in order"
        );
    }
    // More answers than one system call takes: sent BATCH at a time, every one reported.
    assert_eq!(sendq.len(), total);
    assert!(sendq.is_full());
    let mut failures = 0;
    sendq.flush(|_| Some(server.as_fd()), |_, _| failures += 1);
    assert_eq!(failures, 0);
    assert!(sendq.is_empty());
    let mut buf = [0u8; 256];
    for (k, c) in clients.iter().enumerate() {
        for i in 0..PER {
            let (n, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!(from, to);
            assert_eq!(&buf[..n], format!("re c{k} n{i}").as_bytes());
        }
    }
}

#[test]
fn answers_queued_for_several_sockets_leave_each_from_its_own_in_order() {
    let servers: Vec<UdpSocket> = (0..3).map(|_| nonblocking()).collect();
    let clients: Vec<UdpSocket> = (0..2).map(|_| bind()).collect();
    let mut sendq = SendBatch::new(1000);
    // 3 sockets × 2 clients × 40, interleaved: each socket's run spans two system calls.
    for i in 0..40 {
        for (s, _) in servers.iter().enumerate() {
            for (k, c) in clients.iter().enumerate() {
                let text = format!("s{s} c{k} n{i}");
                sendq.push(s as u32, k as u32, c.local_addr().unwrap(), text.as_bytes());
            }
        }
    }
    assert_eq!(sendq.len(), 240);
    assert_eq!(
        sendq.get(1).map(|(b, to)| (b.to_vec(), to)),
        Some((b"s0 c1 n0".to_vec(), clients[1].local_addr().unwrap()))
    );
    sendq.flush(
        |s| servers.get(s as usize).map(|u| u.as_fd()),
        |tag, e| panic!("{tag}: {e}"),
    );
    let mut buf = [0u8; 64];
    for (k, c) in clients.iter().enumerate() {
        let mut next = [0usize; 3];
        for _ in 0..120 {
            let (n, from) = c.recv_from(&mut buf).unwrap();
            let text = std::str::from_utf8(&buf[..n]).unwrap().to_string();
            let s = servers
                .iter()
                .position(|u| u.local_addr().unwrap() == from)
                .unwrap();
            // Per socket, in the order queued.
            assert_eq!(text, format!("s{s} c{k} n{}", next[s]));
            next[s] += 1;
        }
        assert_eq!(next, [40; 3]);
    }
}

#[test]
fn a_datagram_longer_than_its_room_is_flagged_truncated() {
    let server = nonblocking();
    let to = server.local_addr().unwrap();
    let client = bind();
    let long = vec![b'x'; 100];
    client.send_to(&long, to).unwrap();
    client.send_to(b"short", to).unwrap();
    client.send_to(&long[..64], to).unwrap();
    let mut rb = RecvBatch::new(2, 64);
    assert_eq!(rb.room(), 64);
    let mut got = Vec::new();
    receive_all(&mut rb, &server, 3, |bytes, from, truncated| {
        assert_eq!(from, client.local_addr().unwrap());
        got.push((bytes.len(), truncated));
    });
    // The first keeps its room's worth; one that fits exactly is whole.
    assert_eq!(got, [(64, true), (5, false), (64, false)]);
}

#[test]
fn errors_are_the_sockets() {
    // ICMP port unreachable on a connected socket is a refusal, as recv would report it.
    let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = gone.local_addr().unwrap();
    drop(gone);
    let client = nonblocking();
    client.connect(dead).unwrap();
    client.send(b"anyone?").unwrap();
    let mut rb = RecvBatch::new(4, 256);
    let start = Instant::now();
    let err = loop {
        match rb.recv(&client) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && start.elapsed() < LIMIT => {
                std::thread::sleep(Duration::from_millis(2))
            }
            other => break other.unwrap_err(),
        }
    };
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    assert!(rb.is_empty());
    assert!(matches!(rb.recv(&client), Err(e) if e.kind() == io::ErrorKind::WouldBlock));
    // A socket index the owner cannot resolve: each of its datagrams is reported with its
    // tag, and the others still go.
    let server = nonblocking();
    let receiver = bind();
    let mut sendq = SendBatch::new(8);
    sendq.push(7, 70, receiver.local_addr().unwrap(), b"lost");
    sendq.push(0, 1, receiver.local_addr().unwrap(), b"sent");
    sendq.push(7, 71, receiver.local_addr().unwrap(), b"lost");
    let mut failed = Vec::new();
    sendq.flush(
        |s| (s == 0).then(|| server.as_fd()),
        |tag, e| failed.push((tag, e.kind())),
    );
    assert_eq!(
        failed,
        [(70, io::ErrorKind::NotFound), (71, io::ErrorKind::NotFound)]
    );
    let mut buf = [0u8; 16];
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"sent");
}

/// Answers every OPTIONS with one datagram naming the source the host handed it and the
/// request's Call-ID; a malformed datagram with `bad <source>`.
struct Echo;

impl Service for Echo {
    fn handle_parsed(
        &mut self,
        _now: Time,
        msg: &Message<'_, '_>,
        from: SocketAddr,
        _transport: Transport,
        out: &mut Batch,
    ) -> After {
        let call = String::from_utf8_lossy(msg.call_id().unwrap_or(b"?")).into_owned();
        out.push(format!("{from} {call}").as_bytes());
        After::Keep
    }

    fn handle_malformed(
        &mut self,
        _now: Time,
        _bytes: &[u8],
        from: SocketAddr,
        _transport: Transport,
        out: &mut Batch,
    ) -> After {
        out.push(format!("bad {from}").as_bytes());
        After::Keep
    }
}

fn options(call: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK{call}\r\n\
         From: <sip:a@b>;tag=1\r\nTo: <sip:x@b>\r\nCall-ID: {call}\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn the_server_host_answers_a_burst_from_several_sources_each_to_its_source() {
    const PER: usize = 40;
    let host = gbswarm::net::host::start(
        "127.0.0.1:0".parse().unwrap(),
        1,
        HostConfig::default(),
        Clock::start(),
        |_| Echo,
    )
    .unwrap();
    let to = host.local_addr();
    let clients: Vec<UdpSocket> = (0..5).map(|_| bind()).collect();
    for i in 0..PER {
        for (k, c) in clients.iter().enumerate() {
            c.send_to(&options(&format!("c{k}-{i}")), to).unwrap();
        }
    }
    for c in &clients {
        c.send_to(b"not sip at all", to).unwrap();
    }
    let mut buf = [0u8; 256];
    for (k, c) in clients.iter().enumerate() {
        let me = c.local_addr().unwrap();
        let mut answers = Vec::new();
        for _ in 0..=PER {
            let (n, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!(from, to);
            answers.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let mut want: Vec<String> = (0..PER).map(|i| format!("{me} c{k}-{i}")).collect();
        want.push(format!("bad {me}"));
        assert_eq!(
            answers, want,
            "client {k}: every answer, in order, to its source"
        );
    }
    host.stop();
}
