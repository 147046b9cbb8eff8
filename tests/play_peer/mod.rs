//! A test platform for live video over TCP end to end: the registrar `gbswarm run` registers
//! with over UDP or TCP, which then plays the platform from the same socket or connection (as
//! wvp does), and an RFC 4571 reader for TCP media with the stream checks. The run and the SIP
//! text come from `play` (shared with `e2e_play`); everything is bounded by timeouts and every
//! port comes from port 0.

#![allow(dead_code)]

use crate::play::{Leg, Run, Sip};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// Sends SIGINT to the run (by its PID).
pub fn interrupt(run: &Run) {
    let ok = Command::new("kill")
        .args(["-INT", &run.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT");
}

/// The `m=video` port of a message's SDP body.
pub fn media_port(m: &Sip) -> u16 {
    m.body
        .lines()
        .find_map(|l| l.strip_prefix("m=video "))
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// Where a camera is reached: its UDP address, or the index of its TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Udp(SocketAddr),
    Tcp(usize),
}

/// The registrar's transport.
pub enum Wire {
    Udp(UdpSocket),
    Tcp {
        listener: TcpListener,
        /// Each accepted connection, its peer, and bytes read and not yet framed.
        conns: Vec<(TcpStream, SocketAddr, Vec<u8>)>,
    },
}

/// The platform: the registrar's socket or listener, answering every REGISTER, MESSAGE and
/// BYE 200 while it waits for what the test is after.
pub struct Platform {
    pub wire: Wire,
    /// Each registered camera: its ID, where it is reached, the address it registered from.
    pub cameras: Vec<(String, Peer, SocketAddr)>,
    /// The Call-IDs of the BYEs the cameras sent (answered 200), and when each came.
    pub byes: Vec<(String, Instant)>,
}

impl Platform {
    /// A UDP registrar on loopback.
    pub fn udp() -> Platform {
        Platform::udp_on(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// A UDP registrar on `addr`.
    pub fn udp_on(addr: SocketAddr) -> Platform {
        Platform::on(Wire::Udp(UdpSocket::bind(addr).unwrap()))
    }

    /// A TCP registrar on loopback.
    pub fn tcp() -> Platform {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Platform::on(Wire::Tcp {
            listener,
            conns: Vec::new(),
        })
    }

    fn on(wire: Wire) -> Platform {
        Platform {
            wire,
            cameras: Vec::new(),
            byes: Vec::new(),
        }
    }

    /// The registrar's address.
    pub fn addr(&self) -> SocketAddr {
        match &self.wire {
            Wire::Udp(s) => s.local_addr().unwrap(),
            Wire::Tcp { listener, .. } => listener.local_addr().unwrap(),
        }
    }

    /// "UDP" or "TCP", for Via headers.
    pub fn via(&self) -> &'static str {
        match self.wire {
            Wire::Udp(_) => "UDP",
            Wire::Tcp { .. } => "TCP",
        }
    }

    /// The next message from a camera within `wait`.
    fn recv(&mut self, wait: Duration) -> Option<(Sip, Peer, SocketAddr)> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65_536];
        match &mut self.wire {
            Wire::Udp(sock) => loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .unwrap();
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(m) = Sip::parse(&buf[..n]) {
                    return Some((m, Peer::Udp(from), from));
                }
            },
            Wire::Tcp { listener, conns } => loop {
                if let Ok((s, from)) = listener.accept() {
                    s.set_nonblocking(true).unwrap();
                    conns.push((s, from, Vec::new()));
                }
                for (i, (s, from, pending)) in conns.iter_mut().enumerate() {
                    if let Ok(n) = s.read(&mut buf)
                        && n > 0
                    {
                        pending.extend_from_slice(&buf[..n]);
                    }
                    if let Some(len) = frame_len(pending) {
                        let m = Sip::parse(&pending[..len]);
                        pending.drain(..len);
                        if let Some(m) = m {
                            return Some((m, Peer::Tcp(i), *from));
                        }
                    }
                }
                if Instant::now() >= deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(2));
            },
        }
    }

    /// Sends `msg` to a camera.
    pub fn send(&mut self, to: Peer, msg: &str) {
        match (&mut self.wire, to) {
            (Wire::Udp(s), Peer::Udp(a)) => {
                s.send_to(msg.as_bytes(), a).unwrap();
            }
            (Wire::Tcp { conns, .. }, Peer::Tcp(i)) => {
                let s = &mut conns[i].0;
                s.set_nonblocking(false).unwrap();
                s.write_all(msg.as_bytes()).unwrap();
                s.set_nonblocking(true).unwrap();
            }
            _ => panic!("no such peer {to:?}"),
        }
    }

    /// The next response whose CSeq ends with `method` (from anyone), answering requests
    /// meanwhile; none within `wait`.
    pub fn response(&mut self, method: &str, wait: Duration) -> Option<Sip> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some((m, peer, from)) = self.recv(left) else {
                continue;
            };
            if m.is_request() {
                if m.start.starts_with("REGISTER") {
                    let user = m.header("to");
                    let id = user
                        .split("sip:")
                        .nth(1)
                        .and_then(|u| u.split('@').next())
                        .unwrap_or("")
                        .to_string();
                    if !self.cameras.iter().any(|(c, ..)| *c == id) {
                        self.cameras.push((id, peer, from));
                    }
                }
                if m.start.starts_with("BYE") {
                    self.byes
                        .push((m.header("call-id").to_string(), Instant::now()));
                }
                self.send(peer, &m.ok());
            } else if m.header("cseq").ends_with(method) {
                return Some(m);
            }
        }
        None
    }

    /// The final response to an INVITE (100 Trying skipped).
    pub fn final_response(&mut self, wait: Duration) -> Option<Sip> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = self.response("INVITE", left)?;
            if r.code() >= 200 {
                return Some(r);
            }
        }
    }

    /// Waits (answering) until `n` cameras registered.
    pub fn wait_registered(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.cameras.len() < n && Instant::now() < deadline {
            self.response("NOTHING", Duration::from_millis(200));
        }
        assert_eq!(
            self.cameras.len(),
            n,
            "cameras registered: {:?}",
            self.cameras
        );
    }

    /// Answers requests until the camera's BYE of `call` comes, within `wait`: when it came.
    pub fn wait_bye(&mut self, call: &str, wait: Duration) -> Option<Instant> {
        let deadline = Instant::now() + wait;
        let call = format!("{call}@test");
        while Instant::now() < deadline {
            if let Some((_, t)) = self.byes.iter().find(|(c, _)| *c == call) {
                return Some(*t);
            }
            self.response("NOTHING", Duration::from_millis(100));
        }
        self.byes.iter().find(|(c, _)| *c == call).map(|b| b.1)
    }

    /// INVITEs camera `cam` with `offer` (an SDP fixture's text; CRLF made here) in call
    /// `call`, expecting the 100 and a 200: the 200.
    pub fn play(&mut self, cam: usize, offer: &str, call: &str) -> Sip {
        let (dev, peer, from) = self.cameras[cam].clone();
        let me = self.addr();
        let offer = offer.replace("\r\n", "\n").replace('\n', "\r\n");
        let ssrc = offer
            .lines()
            .find_map(|l| l.strip_prefix("y="))
            .unwrap_or("0000000000")
            .to_string();
        let msg = Leg {
            via: self.via(),
            dev: &dev,
            cam: from,
            me,
            call,
        }
        .invite(&ssrc, &offer);
        self.send(peer, &msg);
        let trying = self
            .response("INVITE", Duration::from_secs(5))
            .expect("100");
        assert_eq!(trying.code(), 100, "{}", trying.start);
        let ok = self.final_response(Duration::from_secs(5)).expect("200");
        assert_eq!(ok.code(), 200, "{}", ok.start);
        ok
    }

    /// Sends `method` (ACK or BYE) in the dialog the 200 `ok` to INVITE `call` of camera
    /// `cam` set up.
    pub fn in_dialog(&mut self, cam: usize, method: &str, call: &str, ok: &Sip, cseq: u32) {
        let (dev, peer, from) = self.cameras[cam].clone();
        let me = self.addr();
        let msg = Leg {
            via: self.via(),
            dev: &dev,
            cam: from,
            me,
            call,
        }
        .request(method, ok.header("to"), cseq);
        self.send(peer, &msg);
    }
}

/// The length of the first whole SIP message in `b` (headers and Content-Length body), if
/// it is all there; CRLF keep-alives count as messages of their own.
fn frame_len(b: &[u8]) -> Option<usize> {
    let lead = b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count();
    if lead > 0 {
        return Some(lead);
    }
    let end = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&b[..end]).ok()?;
    let len = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length") || k.trim() == "l")
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (b.len() >= end + len).then_some(end + len)
}

/// An SDP fixture with its media address set to `media` (the fixtures use 192.168.1.3 and
/// the `m=video` port `port_in_fixture`).
pub fn offer(fixture: &str, port_in_fixture: u16, media: SocketAddr) -> String {
    fixture
        .replace("192.168.1.3", &media.ip().to_string())
        .replace(
            &format!("m=video {port_in_fixture} "),
            &format!("m=video {} ", media.port()),
        )
}

/// One RTP packet read from a TCP media connection.
#[derive(Debug, Clone)]
pub struct Rtp {
    pub version: u8,
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    /// The first four payload bytes.
    pub head: [u8; 4],
}

/// Reads what arrives on `s` for `span` (or until it closes), as it arrived: the bytes, and
/// whether the connection closed.
pub fn read_raw_tcp(s: &mut TcpStream, span: Duration) -> (Vec<u8>, bool) {
    let end = Instant::now() + span;
    let mut got: Vec<u8> = Vec::new();
    let mut buf = [0u8; 65_536];
    while Instant::now() < end {
        let left = end.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (got, true),
        }
    }
    (got, false)
}

/// The RTP packets of an RFC 4571 stream's whole frames (a cut last one is left out), each
/// as its bytes.
pub fn rfc4571_packets(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        if bytes.len() < 2 + len {
            break;
        }
        out.push(&bytes[2..2 + len]);
        bytes = &bytes[2 + len..];
    }
    out
}

/// Reads RFC 4571-framed RTP from `s` for `span` (or until it closes): the packets, and
/// whether the connection closed.
pub fn read_rtp_tcp(s: &mut TcpStream, span: Duration) -> (Vec<Rtp>, bool) {
    let (raw, closed) = read_raw_tcp(s, span);
    let got = rfc4571_packets(&raw)
        .into_iter()
        .map(|p| {
            assert!(
                p.len() > 16,
                "a {}-byte RTP packet with no PS payload",
                p.len()
            );
            Rtp {
                version: p[0] >> 6,
                pt: p[1] & 0x7f,
                marker: p[1] & 0x80 != 0,
                seq: u16::from_be_bytes([p[2], p[3]]),
                ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
                ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
                head: [p[12], p[13], p[14], p[15]],
            }
        })
        .collect();
    (got, closed)
}

/// Checks a stream read from its first packet: RTP version 2, PT 96, the SSRC, consecutive
/// sequence numbers, one timestamp per frame ending in a marker, and a PS pack header at each
/// frame's start. Returns the number of whole frames.
pub fn check_stream(rtp: &[Rtp], ssrc: u32) -> usize {
    assert!(!rtp.is_empty(), "no RTP");
    let mut frame_start = true;
    for (i, p) in rtp.iter().enumerate() {
        assert_eq!((p.version, p.pt), (2, 96), "packet {i}: version and PT");
        assert_eq!(p.ssrc, ssrc, "packet {i}: the SSRC of y=");
        if frame_start {
            assert_eq!(
                p.head,
                [0, 0, 1, 0xBA],
                "packet {i}: a frame starts with a pack header"
            );
        }
        if let Some(prev) = i.checked_sub(1).map(|j| &rtp[j]) {
            assert_eq!(
                p.seq,
                prev.seq.wrapping_add(1),
                "packet {i}: consecutive sequence"
            );
            if prev.marker {
                assert_ne!(p.ts, prev.ts, "packet {i}: a new frame has a new timestamp");
            } else {
                assert_eq!(p.ts, prev.ts, "packet {i}: one timestamp until the marker");
            }
        }
        frame_start = p.marker;
    }
    rtp.iter().filter(|p| p.marker).count()
}

/// Reads the JSON report at `path`'s `video` object.
pub fn video_report(path: &std::path::Path) -> serde_json::Value {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    report["video"].clone()
}

/// Accepts one connection on `l` within `wait`.
pub fn accept(l: &TcpListener, wait: Duration) -> Option<TcpStream> {
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Ok((s, _)) = l.accept() {
            s.set_nonblocking(false).unwrap();
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Waits (answering the cameras) until `run` exits after its interrupt: its exit code.
pub fn wait_exit(run: &mut Run, p: &mut Platform) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while run.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
        p.response("NOTHING", Duration::from_millis(100));
    }
    run.0.try_wait().unwrap().and_then(|s| s.code())
}
