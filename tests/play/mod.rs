//! What the live video tests share: the run under test stopped by its PID, SIP messages as
//! text, a wvp-shaped INVITE and in-dialog requests, and RTP receivers over UDP. The platform
//! that registers the cameras and plays them is `play_peer`'s.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The run under test, killed (by its PID) when the test ends, passed or not.
pub struct Run(pub Child);

impl Run {
    /// `gbswarm run` of `cameras` cameras (one worker, one stream each, 60 s heartbeats, a 5 s
    /// grace at the stop) against the registrar at `target`, with `extra` flags.
    pub fn start(target: SocketAddr, cameras: u32, extra: &[&str]) -> Run {
        let child = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
            .args(["run", "--target", &target.to_string()])
            .args(["-n", &cameras.to_string(), "--cores", "1"])
            .args([
                "--duration",
                "60s",
                "--heartbeat",
                "60s",
                "--max-streams",
                "1",
            ])
            .args(["--grace", "5s"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Run(child)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub const SERVER: &str = "34020000002000000001";
pub const SSRC_Y: &str = "0200003792";

/// A SIP message as text: start line, headers and body.
pub struct Sip {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Sip {
    pub fn parse(b: &[u8]) -> Option<Sip> {
        let text = std::str::from_utf8(b).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?.to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Some(Sip {
            start,
            headers,
            body: body.to_string(),
        })
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn is_request(&self) -> bool {
        !self.start.starts_with("SIP/2.0")
    }

    pub fn code(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The 200 to this request: its Via, From, To (with a tag), Call-ID and CSeq.
    pub fn ok(&self) -> String {
        let mut r = String::from("SIP/2.0 200 OK\r\n");
        for h in ["via", "from", "to", "call-id", "cseq"] {
            let mut v = self.header(h).to_string();
            if h == "to" && !v.contains("tag=") {
                v.push_str(";tag=reg1");
            }
            r.push_str(&format!("{h}: {v}\r\n"));
        }
        if self.start.starts_with("REGISTER") {
            r.push_str("Expires: 3600\r\n");
        }
        r.push_str("Content-Length: 0\r\n\r\n");
        r
    }
}

/// One leg of a test's play: the platform at `me`, sending over `via` ("UDP" or "TCP"), and
/// camera `dev` at `cam`, in call `call`.
pub struct Leg<'a> {
    pub via: &'a str,
    pub dev: &'a str,
    pub cam: SocketAddr,
    pub me: SocketAddr,
    pub call: &'a str,
}

impl Leg<'_> {
    /// The INVITE, as wvp sends it, carrying `offer` (CRLF lines) whose SSRC is `ssrc`.
    pub fn invite(&self, ssrc: &str, offer: &str) -> String {
        let (via, dev, cam, me, call) = (self.via, self.dev, self.cam, self.me, self.call);
        format!(
            "INVITE sip:{dev}@{cam} SIP/2.0\r\n\
             Via: SIP/2.0/{via} {me};rport;branch=z9hG4bK{call}\r\n\
             From: <sip:{SERVER}@3402000000>;tag=p{call}\r\n\
             To: <sip:{dev}@3402000000>\r\n\
             Call-ID: {call}@test\r\n\
             CSeq: 20 INVITE\r\n\
             Contact: <sip:{SERVER}@{me}>\r\n\
             Max-Forwards: 70\r\n\
             Subject: {dev}:{ssrc},{SERVER}:0\r\n\
             Content-Type: APPLICATION/SDP\r\n\
             Content-Length: {}\r\n\r\n{offer}",
            offer.len()
        )
    }

    /// `method` (ACK, BYE) in the dialog whose To (with the camera's tag) is `to`.
    pub fn request(&self, method: &str, to: &str, cseq: u32) -> String {
        let (via, dev, cam, me, call) = (self.via, self.dev, self.cam, self.me, self.call);
        format!(
            "{method} sip:{dev}@{cam} SIP/2.0\r\n\
             Via: SIP/2.0/{via} {me};rport;branch=z9hG4bK{call}{method}{cseq}\r\n\
             From: <sip:{SERVER}@3402000000>;tag=p{call}\r\n\
             To: {to}\r\n\
             Call-ID: {call}@test\r\n\
             CSeq: {cseq} {method}\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }
}

/// A UDP INVITE of `dev` at `cam` from `me` with the wvp UDP offer, its media to `media`.
pub fn invite(dev: &str, cam: SocketAddr, me: SocketAddr, media: SocketAddr, call: &str) -> String {
    let offer = include_str!("../fixtures/sdp/play-udp-wvp.sdp")
        .replace("192.168.1.3", &media.ip().to_string())
        .replace("30000", &media.port().to_string())
        .replace('\n', "\r\n");
    let leg = Leg {
        via: "UDP",
        dev,
        cam,
        me,
        call,
    };
    leg.invite(SSRC_Y, &offer)
}

/// A platform's DeviceControl TeleBoot MESSAGE to camera `dev` at `cam`, from `me`.
pub fn teleboot(dev: &str, cam: SocketAddr, me: SocketAddr) -> String {
    let xml = format!(
        "<?xml version=\"1.0\"?>\r\n<Control>\r\n<CmdType>DeviceControl</CmdType>\r\n<SN>7</SN>\r\n\
<DeviceID>{dev}</DeviceID>\r\n<TeleBoot>Boot</TeleBoot>\r\n</Control>\r\n"
    );
    format!(
        "MESSAGE sip:{dev}@{cam} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch=z9hG4bKboot\r\n\
From: <sip:{SERVER}@3402000000>;tag=pboot\r\nTo: <sip:{dev}@3402000000>\r\n\
Call-ID: boot@test\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
Content-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n{xml}",
        xml.len()
    )
}

/// A UDP `method` in the dialog of [`invite`]'s call.
pub fn in_dialog(
    method: &str,
    dev: &str,
    cam: SocketAddr,
    me: SocketAddr,
    call: &str,
    to: &str,
    cseq: u32,
) -> String {
    let leg = Leg {
        via: "UDP",
        dev,
        cam,
        me,
        call,
    };
    leg.request(method, to, cseq)
}

/// One received RTP packet: (marker, sequence number, timestamp, SSRC, when).
pub type Rtp = (bool, u16, u32, u32, Instant);

/// Every RTP packet `sock` receives for `span`; panics on one that is not RTP v2 PT 96.
pub fn receive_rtp(sock: &UdpSocket, span: Duration) -> Vec<Rtp> {
    let end = Instant::now() + span;
    let mut got = Vec::new();
    let mut buf = [0u8; 65_536];
    while Instant::now() < end {
        let left = end.saturating_duration_since(Instant::now());
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let Ok(n) = sock.recv(&mut buf) else { continue };
        assert!(n > 12, "a {n}-byte datagram is no RTP packet with payload");
        assert_eq!(buf[0] >> 6, 2, "RTP version");
        assert_eq!(buf[1] & 0x7f, 96, "payload type");
        got.push((
            buf[1] & 0x80 != 0,
            u16::from_be_bytes([buf[2], buf[3]]),
            u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            Instant::now(),
        ));
    }
    got
}

/// Every datagram `sock` receives, as received, from the first until none has come for
/// `quiet` (or `limit` passed): a stream that was stopped.
pub fn receive_until_quiet(sock: &UdpSocket, quiet: Duration, limit: Duration) -> Vec<Vec<u8>> {
    let end = Instant::now() + limit;
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut last = Instant::now();
    let mut buf = [0u8; 65_536];
    while Instant::now() < end && (got.is_empty() || last.elapsed() < quiet) {
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(buf[..n].to_vec());
            last = Instant::now();
        }
    }
    got
}
