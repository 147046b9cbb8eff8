//! The server host's media side over loopback, with a service that only records: RTP
//! datagrams to the media port reach it one by one; a TCP connection to the same port (the
//! camera connecting: TCP passive) and one the service asks for (the platform connecting: TCP
//! active) are undone from RFC 4571 framing, whatever the segment boundaries; an unsolicited
//! message the service writes on its timer leaves from the worker's SIP socket (UDP) or goes
//! down the connection of the peer it names (TCP). This is
//! what `serve --play` rides on; the cameras do not stream over TCP yet, so this is where
//! the TCP receive path is tested.

use gbswarm::clock::{Clock, Time};
use gbswarm::net::{After, HostConfig, HostEvent, Outbox, Service};
use gbswarm::sip::{Batch, Message, Transport};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Seen {
    media_addr: Option<SocketAddr>,
    packets: Vec<Vec<u8>>,
    connections: u32,
}

struct Recorder {
    seen: Arc<Mutex<Seen>>,
    /// Where to connect (TCP active) and whom to greet over UDP, on the first timer.
    todo: Option<(SocketAddr, SocketAddr)>,
    /// A peer that sent a message over TCP, to be greeted down its connection.
    tcp_peer: Option<SocketAddr>,
}

impl Service for Recorder {
    fn handle_parsed(
        &mut self,
        _: Time,
        _: &Message<'_, '_>,
        from: SocketAddr,
        transport: Transport,
        _: &mut Batch,
    ) -> After {
        if transport == Transport::Tcp {
            self.tcp_peer = Some(from);
        }
        After::Keep
    }

    fn handle_malformed(
        &mut self,
        _: Time,
        _: &[u8],
        _: SocketAddr,
        _: Transport,
        _: &mut Batch,
    ) -> After {
        After::Keep
    }

    fn host_event(&mut self, event: HostEvent) {
        if event == HostEvent::MediaConnection {
            self.seen.lock().unwrap().connections += 1;
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        (self.todo.is_some() || self.tcp_peer.is_some()).then_some(Time::ZERO)
    }

    fn handle_timeout(&mut self, _: Time, out: &mut Outbox) {
        if let Some(peer) = self.tcp_peer.take() {
            out.push_with(peer, Transport::Tcp, |b| {
                b.extend_from_slice(b"OPTIONS tcp")
            });
        }
        if let Some((connect, greet)) = self.todo.take() {
            out.connect(connect);
            out.push_with(greet, Transport::Udp, |b| {
                b.extend_from_slice(b"OPTIONS hello")
            });
        }
    }

    fn media_port(&self) -> Option<u16> {
        Some(0)
    }

    fn media_bound(&mut self, addr: SocketAddr) {
        self.seen.lock().unwrap().media_addr = Some(addr);
    }

    fn handle_media(&mut self, _: Time, packet: &[u8], _: SocketAddr) {
        self.seen.lock().unwrap().packets.push(packet.to_vec());
    }
}

/// Waits up to 10 s for `cond` on what the service saw.
fn wait_for(seen: &Arc<Mutex<Seen>>, what: &str, cond: impl Fn(&Seen) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if cond(&seen.lock().unwrap()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what}: not seen");
}

/// `n` RFC 4571 frames of distinct packets, and the packets.
fn framed(tag: u8, n: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut stream = Vec::new();
    let mut packets = Vec::new();
    for i in 0..n {
        let p = vec![tag; 12 + i * 97 % 1400];
        stream.extend_from_slice(&(p.len() as u16).to_be_bytes());
        stream.extend_from_slice(&p);
        packets.push(p);
    }
    (stream, packets)
}

/// Writes `bytes` in pieces of awkward sizes, pausing between some.
fn dribble(s: &mut TcpStream, bytes: &[u8]) {
    for (i, chunk) in bytes.chunks(333).enumerate() {
        s.write_all(chunk).unwrap();
        if i % 7 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[test]
fn media_arrives_over_udp_tcp_passive_and_tcp_active() {
    let active = TcpListener::bind("127.0.0.1:0").unwrap();
    let greeted = UdpSocket::bind("127.0.0.1:0").unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let svc = Recorder {
        seen: seen.clone(),
        todo: Some((active.local_addr().unwrap(), greeted.local_addr().unwrap())),
        tcp_peer: None,
    };
    let mut svc = Some(svc);
    let host = gbswarm::net::host::start(
        "127.0.0.1:0".parse().unwrap(),
        1,
        HostConfig::default(),
        Clock::start(),
        |_| svc.take().unwrap(),
    )
    .unwrap();
    let sip = host.local_addr();
    wait_for(&seen, "the media port", |s| s.media_addr.is_some());
    let media = seen.lock().unwrap().media_addr.unwrap();
    assert_eq!(media.ip(), sip.ip());
    assert_ne!(media.port(), sip.port());

    // The timer's message leaves from the SIP socket.
    greeted
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = greeted.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"OPTIONS hello"[..], sip));

    // A device connected over TCP hears the service's own message down its connection.
    let mut dev = TcpStream::connect(sip).unwrap();
    dev.write_all(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKa\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").unwrap();
    dev.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = [0u8; 11];
    std::io::Read::read_exact(&mut dev, &mut got).unwrap();
    assert_eq!(&got, b"OPTIONS tcp");

    // UDP.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..5u8 {
        udp.send_to(&[i; 40], media).unwrap();
    }
    wait_for(&seen, "5 datagrams", |s| s.packets.len() == 5);
    assert_eq!(seen.lock().unwrap().packets[4], [4u8; 40]);

    // TCP passive: the camera connects to the media port.
    let (stream, want) = framed(0xaa, 50);
    let mut cam = TcpStream::connect(media).unwrap();
    dribble(&mut cam, &stream);
    wait_for(&seen, "50 passive frames", |s| s.packets.len() == 55);
    assert_eq!(seen.lock().unwrap().packets[5..], want[..]);

    // TCP active: the host connected where the service asked.
    let (mut conn, _) = active.accept().unwrap();
    let (stream, want) = framed(0xbb, 30);
    dribble(&mut conn, &stream);
    wait_for(&seen, "30 active frames", |s| s.packets.len() == 85);
    let s = seen.lock().unwrap();
    assert_eq!(s.packets[55..], want[..]);
    assert_eq!(s.connections, 2);
    drop(s);
    drop(host);
}
