//! Live video end to end over loopback: `gbswarm run` registers its cameras with a tiny
//! registrar in this test, which then acts as the platform from the same socket (as wvp does):
//! it INVITEs a camera with a wvp-shaped UDP offer, gets 100 and a 200 with the answer, ACKs,
//! receives the PS-over-RTP stream on its own media socket and checks it (RTP version 2, PT 96,
//! the SSRC of `y=`, consecutive sequence numbers, a marker per frame, about 25 frames a
//! second), gets 486 for a second INVITE beyond `--max-streams 1`, then BYEs and sees the
//! stream stop. A third camera streams until the run is interrupted and then sends its own
//! BYE; the JSON report counts all of it. Every port comes from port 0; the `gbswarm` process
//! is stopped by its PID (SIGINT, and killed if the test fails first).

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The run under test, killed (by its PID) when the test ends, passed or not.
struct Run(Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SERVER: &str = "34020000002000000001";
const SSRC_Y: &str = "0200003792";

/// A SIP message as text: start line, headers and body.
struct Sip {
    start: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Sip {
    fn parse(b: &[u8]) -> Option<Sip> {
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

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn is_request(&self) -> bool {
        !self.start.starts_with("SIP/2.0")
    }

    fn code(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The 200 to this request: its Via, From, To (with a tag), Call-ID and CSeq.
    fn ok(&self) -> String {
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

/// The platform: the registrar's socket, answering every REGISTER and MESSAGE 200 while it
/// waits for what the test is after.
struct Platform {
    sock: UdpSocket,
    /// Each registered camera: its ID and the address it registered from.
    cameras: Vec<(String, SocketAddr)>,
    /// The Call-IDs of the BYEs the cameras sent (answered 200).
    byes: Vec<String>,
}

impl Platform {
    /// The next response whose CSeq ends with `method`, answering requests meanwhile; none
    /// within `wait`.
    fn response(&mut self, method: &str, wait: Duration) -> Option<Sip> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65_536];
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let Ok((n, from)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let Some(m) = Sip::parse(&buf[..n]) else {
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
                    if !self.cameras.iter().any(|(c, _)| *c == id) {
                        self.cameras.push((id, from));
                    }
                }
                if m.start.starts_with("BYE") {
                    self.byes.push(m.header("call-id").to_string());
                }
                self.sock.send_to(m.ok().as_bytes(), from).unwrap();
            } else if m.header("cseq").ends_with(method) {
                return Some(m);
            }
        }
        None
    }

    fn send(&self, to: SocketAddr, msg: &str) {
        self.sock.send_to(msg.as_bytes(), to).unwrap();
    }
}

fn invite(dev: &str, cam: SocketAddr, me: SocketAddr, media: SocketAddr, call: &str) -> String {
    let offer = include_str!("fixtures/sdp/play-udp-wvp.sdp")
        .replace("192.168.1.3", &media.ip().to_string())
        .replace("30000", &media.port().to_string())
        .replace('\n', "\r\n");
    format!(
        "INVITE sip:{dev}@{cam} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};rport;branch=z9hG4bK{call}\r\n\
         From: <sip:{SERVER}@3402000000>;tag=p{call}\r\n\
         To: <sip:{dev}@3402000000>\r\n\
         Call-ID: {call}@test\r\n\
         CSeq: 20 INVITE\r\n\
         Contact: <sip:{SERVER}@{me}>\r\n\
         Max-Forwards: 70\r\n\
         Subject: {dev}:{SSRC_Y},{SERVER}:0\r\n\
         Content-Type: APPLICATION/SDP\r\n\
         Content-Length: {}\r\n\r\n{offer}",
        offer.len()
    )
}

fn in_dialog(
    method: &str,
    dev: &str,
    cam: SocketAddr,
    me: SocketAddr,
    call: &str,
    to: &str,
    cseq: u32,
) -> String {
    format!(
        "{method} sip:{dev}@{cam} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};rport;branch=z9hG4bK{call}{method}{cseq}\r\n\
         From: <sip:{SERVER}@3402000000>;tag=p{call}\r\n\
         To: {to}\r\n\
         Call-ID: {call}@test\r\n\
         CSeq: {cseq} {method}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// One received RTP packet: (marker, sequence number, timestamp, SSRC, when).
type Rtp = (bool, u16, u32, u32, Instant);

/// Every RTP packet `sock` receives for `span`; panics on one that is not RTP v2 PT 96.
fn receive_rtp(sock: &UdpSocket, span: Duration) -> Vec<Rtp> {
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

#[test]
fn a_camera_answers_invite_streams_rtp_over_udp_refuses_a_second_stream_and_stops_at_bye() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = sock.local_addr().unwrap();
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let media_addr = media.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-play-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let child = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args([
            "run",
            "--target",
            &me.to_string(),
            "-n",
            "3",
            "--cores",
            "1",
        ])
        .args([
            "--duration",
            "60s",
            "--heartbeat",
            "60s",
            "--max-streams",
            "1",
        ])
        .args(["--grace", "5s", "--json", json.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = Run(child);
    let mut p = Platform {
        sock,
        cameras: Vec::new(),
        byes: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.cameras.len() < 3 && Instant::now() < deadline {
        p.response("NOTHING", Duration::from_millis(200));
    }
    assert_eq!(p.cameras.len(), 3, "cameras registered: {:?}", p.cameras);
    let (dev, cam) = p.cameras[1].clone();

    p.send(cam, &invite(&dev, cam, me, media_addr, "play1"));
    let trying = p.response("INVITE", Duration::from_secs(5)).expect("100");
    assert_eq!(trying.code(), 100);
    let ok = p.response("INVITE", Duration::from_secs(5)).expect("200");
    assert_eq!(ok.code(), 200, "{}", ok.start);
    assert!(ok.body.contains("a=sendonly"), "{}", ok.body);
    assert!(ok.body.contains(&format!("y={SSRC_Y}")), "{}", ok.body);
    assert!(ok.body.contains("m=video "), "{}", ok.body);
    let to = ok.header("to").to_string();
    assert!(to.contains("tag="), "{to}");
    p.send(cam, &in_dialog("ACK", &dev, cam, me, "play1", &to, 20));

    // The stream: 1.5 s of it, checked packet by packet.
    let rtp = receive_rtp(&media, Duration::from_millis(1500));
    assert!(rtp.len() > 20, "{} RTP packets in 1.5 s", rtp.len());
    let ssrc = 200_003_792u32;
    assert!(rtp.iter().all(|r| r.3 == ssrc), "SSRC of y=");
    for w in rtp.windows(2) {
        assert_eq!(
            w[1].1,
            w[0].1.wrapping_add(1),
            "consecutive sequence numbers"
        );
        if w[0].0 {
            assert_ne!(
                w[1].2, w[0].2,
                "a new frame after a marker has a new timestamp"
            );
        } else {
            assert_eq!(w[1].2, w[0].2, "one timestamp until the frame's marker");
        }
    }
    let frames = rtp.iter().filter(|r| r.0).count();
    let spread = rtp[rtp.len() - 1].4 - rtp[0].4;
    let fps = frames as f64 / spread.as_secs_f64().max(0.001);
    assert!(
        (15.0..=40.0).contains(&fps),
        "{frames} frames in {spread:?}"
    );

    // A second stream of the same device is beyond --max-streams 1.
    p.send(cam, &invite(&dev, cam, me, media_addr, "play2"));
    let trying = p.response("INVITE", Duration::from_secs(5)).expect("100");
    assert_eq!(trying.code(), 100);
    let busy = p.response("INVITE", Duration::from_secs(5)).expect("486");
    assert_eq!(busy.code(), 486, "{}", busy.start);
    let busy_to = busy.header("to").to_string();
    p.send(cam, &in_dialog("ACK", &dev, cam, me, "play2", &busy_to, 20));

    // BYE: 200, and the stream stops.
    p.send(cam, &in_dialog("BYE", &dev, cam, me, "play1", &to, 21));
    let bye_ok = p
        .response("BYE", Duration::from_secs(5))
        .expect("200 to BYE");
    assert_eq!(bye_ok.code(), 200);
    let _in_flight = receive_rtp(&media, Duration::from_millis(300));
    let after = receive_rtp(&media, Duration::from_millis(700));
    assert!(
        after.is_empty(),
        "{} RTP packets after the BYE",
        after.len()
    );

    // Another camera streams until the run is interrupted: it then sends its BYE.
    let (dev3, cam3) = p.cameras[2].clone();
    p.send(cam3, &invite(&dev3, cam3, me, media_addr, "play3"));
    let ok3 = loop {
        let r = p.response("INVITE", Duration::from_secs(5)).expect("200");
        if r.code() >= 200 {
            break r;
        }
    };
    assert_eq!(ok3.code(), 200, "{}", ok3.start);
    let to3 = ok3.header("to").to_string();
    p.send(cam3, &in_dialog("ACK", &dev3, cam3, me, "play3", &to3, 20));
    let third = receive_rtp(&media, Duration::from_millis(500));
    assert!(!third.is_empty(), "the third stream sends");

    // Interrupted, the run unregisters (answered here) and reports what the video did.
    let ok = Command::new("kill")
        .args(["-INT", &run.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT");
    let deadline = Instant::now() + Duration::from_secs(30);
    while run.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
        p.response("NOTHING", Duration::from_millis(100));
    }
    let status = run
        .0
        .try_wait()
        .unwrap()
        .expect("the run ended after its interrupt");
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        p.byes,
        ["play3@test"],
        "the streaming camera's BYE at the stop"
    );
    let _in_flight = receive_rtp(&media, Duration::from_millis(300));
    let after = receive_rtp(&media, Duration::from_millis(300));
    assert!(
        after.is_empty(),
        "{} RTP packets after the run",
        after.len()
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let v = &report["video"];
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(
        [n("invites"), n("answered"), n("busy"), n("acked")],
        [3, 2, 1, 2],
        "{v}"
    );
    assert_eq!([n("streams_started"), n("streams_ended")], [2, 2], "{v}");
    assert!(n("rtp_packets") >= (rtp.len() + third.len()) as u64, "{v}");
    assert!(n("rtp_bytes") > 12 * n("rtp_packets"), "{v}");
}
