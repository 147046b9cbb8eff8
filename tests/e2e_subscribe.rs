//! Subscriptions and alarms end to end over loopback: `gbswarm run` registers two cameras
//! with a tiny registrar written here, which then plays the platform from the same socket (as
//! wvp does): it SUBSCRIBEs one camera to MobilePosition with a 1 s `Interval`, gets the 200
//! with a To tag and the granted Expires, receives NOTIFYs in the subscription's dialog (the
//! platform's Call-ID and tag, the camera's tag, the echoed Event, `Subscription-State`, a
//! rising CSeq, a moving position) no faster than the interval, answers them 200, then
//! unsubscribes (`Expires: 0`) and gets the final `terminated` NOTIFY. Meanwhile the cameras'
//! `--alarm-rate` alarms arrive as MESSAGEs (no Alarm subscription). The JSON report counts
//! it all. Over TCP (the platform of `play_peer`, which answers every NOTIFY 200) the
//! report shows the NOTIFYs answered in the connection. A camera down for a TeleBoot restart
//! answers no SUBSCRIBE, and takes one once back. Every port comes from port 0; the
//! `gbswarm` process is stopped by its PID.

mod play;
mod play_peer;

use play::{Run, SERVER, Sip, teleboot};
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// The platform: one UDP socket that answers REGISTER and MESSAGE 200 and keeps what the
/// test looks at.
struct Platform {
    sock: UdpSocket,
    /// Each registered camera: its ID and address.
    cameras: Vec<(String, SocketAddr)>,
    /// Alarm MESSAGEs received.
    alarms: usize,
}

impl Platform {
    fn new() -> Platform {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Platform {
            sock,
            cameras: Vec::new(),
            alarms: 0,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    fn send(&self, to: SocketAddr, msg: &str) {
        self.sock.send_to(msg.as_bytes(), to).unwrap();
    }

    /// The next message within `wait` that is neither a REGISTER nor an alarm MESSAGE (those
    /// are answered 200 and counted here), with when it came.
    fn next(&mut self, wait: Duration) -> Option<(Sip, SocketAddr, Instant)> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65_536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let Ok((n, from)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let Some(m) = Sip::parse(&buf[..n]) else {
                continue;
            };
            if m.start.starts_with("REGISTER") {
                let id = m
                    .header("to")
                    .split("sip:")
                    .nth(1)
                    .and_then(|u| u.split('@').next())
                    .unwrap_or("")
                    .to_string();
                if !self.cameras.iter().any(|(c, _)| *c == id) {
                    self.cameras.push((id, from));
                }
                self.send(from, &m.ok());
            } else if m.start.starts_with("MESSAGE") {
                if m.body.contains("<CmdType>Alarm</CmdType>") {
                    assert!(m.body.contains("<Notify>"), "{}", m.body);
                    self.alarms += 1;
                }
                self.send(from, &m.ok());
            } else {
                return Some((m, from, Instant::now()));
            }
        }
    }

    fn wait_registered(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.cameras.len() < n && Instant::now() < deadline {
            if let Some((m, from, _)) = self.next(Duration::from_millis(200))
                && m.is_request()
            {
                self.send(from, &m.ok());
            }
        }
        assert_eq!(self.cameras.len(), n, "cameras registered");
    }
}

fn subscribe(dev: &str, me: SocketAddr, to_tag: &str, cseq: u32, expires: u32) -> String {
    subscribe_over("UDP", dev, me, to_tag, cseq, expires)
}

fn subscribe_over(
    via: &str,
    dev: &str,
    me: SocketAddr,
    to_tag: &str,
    cseq: u32,
    expires: u32,
) -> String {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Query>\r\n<CmdType>MobilePosition</CmdType>\r\n<SN>77</SN>\r\n<DeviceID>{dev}</DeviceID>\r\n<Interval>1</Interval>\r\n</Query>\r\n"
    );
    format!(
        "SUBSCRIBE sip:{dev}@3402000000 SIP/2.0\r\n\
         Via: SIP/2.0/{via} {me};rport;branch=z9hG4bKsub{cseq}\r\n\
         From: <sip:{SERVER}@3402000000>;tag=plat1\r\n\
         To: <sip:{dev}@3402000000>{to_tag}\r\n\
         Call-ID: sub1@test\r\n\
         CSeq: {cseq} SUBSCRIBE\r\n\
         Contact: <sip:{SERVER}@{me}>\r\n\
         Max-Forwards: 70\r\n\
         Expires: {expires}\r\n\
         Event: presence\r\n\
         Content-Type: Application/MANSCDP+xml\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn element<'a>(body: &'a str, tag: &str) -> &'a str {
    body.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|r| r.split(&format!("</{tag}>")).next())
        .unwrap_or("")
}

#[test]
fn a_camera_on_its_own_socket_takes_a_subscription_notifies_each_interval_and_ends_it() {
    subscription_round_trip("own", "1");
}

#[test]
fn a_camera_on_a_shared_socket_takes_a_subscription_notifies_each_interval_and_ends_it() {
    subscription_round_trip("shared", "2");
}

/// The whole exchange with `per_socket` cameras per UDP socket (`name` keeps the runs'
/// files apart).
fn subscription_round_trip(name: &str, per_socket: &str) {
    let mut p = Platform::new();
    let me = p.addr();
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-sub-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let mut run = Run::start(
        me,
        2,
        &[
            "--json",
            json.to_str().unwrap(),
            "--alarm-rate",
            "3600",
            "--cameras-per-socket",
            per_socket,
        ],
    );
    p.wait_registered(2);
    let (dev, cam) = p.cameras[0].clone();

    p.send(cam, &subscribe(&dev, me, "", 1, 60));
    let ok = loop {
        let (m, _, _) = p.next(Duration::from_secs(5)).expect("the 200");
        if !m.is_request() && m.header("cseq").ends_with("SUBSCRIBE") {
            break m;
        }
    };
    assert_eq!(ok.code(), 200, "{}", ok.start);
    assert_eq!(ok.header("expires"), "60");
    assert!(
        ok.header("contact").contains(&dev),
        "{}",
        ok.header("contact")
    );
    let to = ok.header("to").to_string();
    let tag = to.split("tag=").nth(1).expect("a To tag").to_string();

    // NOTIFYs: the position now, then one a second.
    let mut notifies: Vec<(Sip, Instant)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while notifies.len() < 4 && Instant::now() < deadline {
        let Some((m, from, at)) = p.next(Duration::from_millis(500)) else {
            continue;
        };
        if m.start.starts_with("NOTIFY") {
            assert_eq!(from, cam, "from the camera's own socket");
            p.send(from, &m.ok());
            notifies.push((m, at));
        } else if m.is_request() {
            p.send(from, &m.ok());
        }
    }
    assert_eq!(notifies.len(), 4, "four NOTIFYs within 20 s");
    let mut last_pos = String::new();
    for (i, (n, _)) in notifies.iter().enumerate() {
        assert_eq!(n.start, format!("NOTIFY sip:{SERVER}@{me} SIP/2.0"));
        assert_eq!(n.header("call-id"), "sub1@test");
        assert!(
            n.header("from").ends_with(&format!("tag={tag}")),
            "{}",
            n.header("from")
        );
        assert!(n.header("to").ends_with("tag=plat1"), "{}", n.header("to"));
        assert_eq!(n.header("event"), "presence");
        assert!(
            n.header("subscription-state")
                .starts_with("active;expires="),
            "{}",
            n.header("subscription-state")
        );
        assert_eq!(n.header("cseq"), format!("{} NOTIFY", i + 1));
        assert!(
            n.body.contains("<CmdType>MobilePosition</CmdType>"),
            "{}",
            n.body
        );
        let pos = format!(
            "{} {}",
            element(&n.body, "Longitude"),
            element(&n.body, "Latitude")
        );
        assert_ne!(pos, last_pos, "the position moves");
        last_pos = pos;
    }
    for w in notifies.windows(2) {
        let gap = w[1].1 - w[0].1;
        assert!(gap >= Duration::from_millis(500), "NOTIFYs {gap:?} apart");
    }

    // Unsubscribe: 200 with Expires 0, then the final NOTIFY.
    p.send(cam, &subscribe(&dev, me, &format!(";tag={tag}"), 2, 0));
    let mut got_ok = false;
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !(got_ok && last.is_some()) {
        let Some((m, from, _)) = p.next(Duration::from_millis(500)) else {
            continue;
        };
        if !m.is_request() && m.header("cseq") == "2 SUBSCRIBE" {
            assert_eq!((m.code(), m.header("expires")), (200, "0"));
            got_ok = true;
        } else if m.start.starts_with("NOTIFY") {
            p.send(from, &m.ok());
            let state = m.header("subscription-state").to_string();
            if state.starts_with("terminated") {
                last = Some(state);
            }
        } else if m.is_request() {
            p.send(from, &m.ok());
        }
    }
    assert!(got_ok, "the 200 to the unsubscribe");
    assert_eq!(last.as_deref(), Some("terminated;reason=timeout"));

    // Alarms at 1 a second per camera came as MESSAGEs all along.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if let Some((m, from, _)) = p.next(Duration::from_millis(200))
            && m.is_request()
        {
            p.send(from, &m.ok());
        }
    }
    assert!(p.alarms >= 2, "{} alarm MESSAGEs", p.alarms);

    let ok = Command::new("kill")
        .args(["-INT", &run.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while run.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
        if let Some((m, from, _)) = p.next(Duration::from_millis(100))
            && m.is_request()
        {
            p.send(from, &m.ok());
        }
    }
    assert_eq!(run.0.try_wait().unwrap().and_then(|s| s.code()), Some(130));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let s = &report["subscriptions"];
    let n = |k: &str| s[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(
        [
            n("subscribes"),
            n("accepted"),
            n("unsubscribed"),
            n("notify_final")
        ],
        [2, 1, 1, 1],
        "{s}"
    );
    assert!(n("notify_position") >= 4, "{s}");
    assert!(n("alarm_messages") >= p.alarms as u64, "{s}");
    let notify = &report["kinds"]["notify"];
    assert!(notify["ok"].as_u64() >= Some(5), "{notify}");
    let alarm = &report["kinds"]["alarm"];
    assert!(alarm["ok"].as_u64() >= Some(2), "{alarm}");
}

#[test]
fn a_camera_over_tcp_notifies_in_its_connection() {
    let mut p = play_peer::Platform::tcp();
    let me = p.addr();
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-sub-tcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let mut run = Run::start(
        me,
        1,
        &["--json", json.to_str().unwrap(), "--transport", "tcp"],
    );
    p.wait_registered(1);
    let (dev, peer, _) = p.cameras[0].clone();
    p.send(peer, &subscribe_over("TCP", &dev, me, "", 1, 60));
    let ok = p
        .response("SUBSCRIBE", Duration::from_secs(5))
        .expect("the 200");
    assert_eq!((ok.code(), ok.header("expires")), (200, "60"));
    // NOTIFYs come and are answered 200 (by the platform) for 3.5 s: four or so.
    p.response("NOTHING", Duration::from_millis(3500));
    play_peer::interrupt(&run);
    assert_eq!(play_peer::wait_exit(&mut run, &mut p), Some(130));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let s = &report["subscriptions"];
    assert_eq!(s["accepted"].as_u64(), Some(1), "{s}");
    assert!(s["notify_position"].as_u64() >= Some(3), "{s}");
    assert_eq!(s["retransmissions"].as_u64(), Some(0), "{s}");
    let notify = &report["kinds"]["notify"];
    assert!(notify["ok"].as_u64() >= Some(3), "{notify}");
}

#[test]
fn a_camera_down_for_a_teleboot_answers_no_subscribe_and_takes_one_once_back() {
    let mut p = Platform::new();
    let me = p.addr();
    let run = Run::start(me, 1, &["--reboot-delay", "5s"]);
    p.wait_registered(1);
    let (dev, cam) = p.cameras[0].clone();
    let boot = teleboot(&dev, cam, me);
    p.send(cam, &boot);
    let answer = loop {
        let (m, _, _) = p.next(Duration::from_secs(5)).expect("the TeleBoot's 200");
        if !m.is_request() && m.header("cseq").ends_with("MESSAGE") {
            break m;
        }
    };
    assert_eq!(answer.code(), 200, "{}", answer.start);
    // Down for 5 s: a SUBSCRIBE now gets no answer at all.
    p.send(cam, &subscribe(&dev, me, "", 1, 60));
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        if let Some((m, from, _)) = p.next(Duration::from_millis(100)) {
            assert!(
                m.is_request(),
                "an answer while down for the restart: {}",
                m.start
            );
            p.send(from, &m.ok());
        }
    }
    // Back up and registered again, it takes a subscription (a new transaction each try).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut cseq = 1;
    let ok = loop {
        assert!(
            Instant::now() < deadline,
            "no 200 to a SUBSCRIBE after the restart"
        );
        cseq += 1;
        p.send(cam, &subscribe(&dev, me, "", cseq, 60));
        let until = Instant::now() + Duration::from_secs(1);
        let mut got = None;
        while got.is_none() && Instant::now() < until {
            match p.next(Duration::from_millis(100)) {
                Some((m, _, _)) if !m.is_request() && m.header("cseq").ends_with("SUBSCRIBE") => {
                    got = Some(m)
                }
                Some((m, from, _)) if m.is_request() => p.send(from, &m.ok()),
                _ => {}
            }
        }
        if let Some(m) = got {
            break m;
        }
    };
    assert_eq!(ok.code(), 200, "{}", ok.start);
    drop(run);
}
