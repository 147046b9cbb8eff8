//! The INVITE server in virtual time: each call is given `now`, and what the table asks for is
//! read back as owned values ([`Got`]) so the tests compare whole exchanges. `answer`: what an
//! INVITE gets; `dialog`: ACK, CANCEL, BYE both ways and the timers; `listen`: the 200 that
//! waits for the host's listening port (TCP active); `records`: the timed transactions for
//! the report; `props`: arbitrary input.

mod answer;
mod dialog;
mod listen;
mod props;
mod records;

use super::*;
use crate::sip::{Header, Limits, parse_datagram};

const PLATFORM: &str = "34020000002000000001";
const DEV: &str = "34020000001320000001";
const CH: &str = "34020000001310000001";
const MS: Span = Span::from_millis(1);
const T0: Time = Time::ZERO;
/// The port the bench listens on for TCP active media.
const LISTEN_PORT: u16 = 15002;

fn at(ms: u64) -> Time {
    T0 + ms * MS
}

fn platform() -> SocketAddr {
    "10.0.0.1:5060".parse().unwrap()
}

fn id(s: &str) -> DeviceId {
    s.parse().unwrap()
}

const UDP_OFFER: &str = "v=0\r\no=34020000002000000001 0 0 IN IP4 10.0.0.50\r\ns=Play\r\n\
c=IN IP4 10.0.0.50\r\nt=0 0\r\nm=video 30000 RTP/AVP 96 98\r\na=recvonly\r\n\
a=rtpmap:96 PS/90000\r\na=rtpmap:98 H264/90000\r\ny=0200003792\r\n";

fn tcp_offer(setup: &str) -> String {
    UDP_OFFER
        .replace("RTP/AVP 96 98", "TCP/RTP/AVP 96 98")
        .replace("y=", &format!("a=setup:{setup}\r\na=connection:new\r\ny="))
}

/// One request from the platform.
struct Req<'a> {
    method: &'a str,
    user: &'a str,
    call: &'a str,
    branch: &'a str,
    cseq: u32,
    to_tag: Option<&'a str>,
    extra: &'a str,
    body: &'a str,
}

impl<'a> Req<'a> {
    fn invite(call: &'a str, body: &'a str) -> Req<'a> {
        Req {
            method: "INVITE",
            user: CH,
            call,
            branch: "z9hG4bKinv",
            cseq: 20,
            to_tag: None,
            extra: "Content-Type: application/sdp\r\n",
            body,
        }
    }

    /// An in-dialog request of `method` in the dialog a 200 (or 487) set up.
    fn in_dialog(method: &'a str, call: &'a str, to_tag: &'a str, cseq: u32) -> Req<'a> {
        Req {
            method,
            user: CH,
            call,
            branch: "z9hG4bKdlg",
            cseq,
            to_tag: Some(to_tag),
            extra: "",
            body: "",
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let to = self.to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        format!(
            "{m} sip:{u}@10.0.0.9:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch={b}\r\n\
From: <sip:{PLATFORM}@3402000000>;tag=pf1\r\n\
To: <sip:{u}@3402000000>{to}\r\n\
Call-ID: {c}\r\nCSeq: {n} {m}\r\n\
Contact: <sip:{PLATFORM}@10.0.0.1:5060>\r\nMax-Forwards: 70\r\n\
{x}Content-Length: {len}\r\n\r\n{body}",
            m = self.method,
            u = self.user,
            b = self.branch,
            c = self.call,
            n = self.cseq,
            x = self.extra,
            len = self.body.len(),
            body = self.body,
        )
        .into_bytes()
    }
}

/// What the table asked for, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Sent(String),
    Start(SessionId, MediaTransport, SocketAddr, u32),
    Stop(SessionId),
    Acked(SessionId, Span),
}

impl Got {
    fn text(&self) -> &str {
        match self {
            Got::Sent(s) => s,
            _ => "",
        }
    }
}

/// Status code of a sent response.
fn status(g: &Got) -> u16 {
    g.text()
        .strip_prefix("SIP/2.0 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The status codes of what was sent (0 for requests and other actions).
fn codes(got: &[Got]) -> Vec<u16> {
    got.iter().map(status).collect()
}

/// A header value of a sent message.
fn header<'a>(g: &'a Got, name: &str) -> &'a str {
    g.text()
        .split("\r\n")
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or("")
}

/// The To tag of a sent response.
fn to_tag(g: &Got) -> String {
    let to = header(g, "To");
    to.split(";tag=").nth(1).unwrap_or("").to_string()
}

/// The body of a sent message.
fn body(g: &Got) -> &str {
    g.text().split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// A table's settings with this stream cap and answer delay.
fn config(max_streams: u32, answer_delay: Span) -> PlayConfig {
    PlayConfig {
        max_streams,
        answer_delay,
        ..PlayConfig::default()
    }
}

struct Bench {
    t: PlayTable,
    /// How the platform's requests arrive.
    sip: Transport,
    /// The port the bench "listens" on when asked to for TCP active media (told to the table
    /// at once, as the worker does); `None` leaves the 200 waiting.
    listen: Option<u16>,
}

impl Bench {
    fn new(capacity: usize, cfg: PlayConfig) -> Bench {
        Bench {
            t: PlayTable::new(capacity, cfg),
            sip: Transport::Udp,
            listen: Some(LISTEN_PORT),
        }
    }

    fn std() -> Bench {
        Bench::new(4, PlayConfig::default())
    }

    fn collect(&self) -> Vec<Got> {
        self.t
            .actions()
            .iter()
            .map(|a| match a {
                Action::Send(t) => {
                    assert_eq!(t.to, platform());
                    Got::Sent(String::from_utf8(self.t.bytes(t).to_vec()).unwrap())
                }
                Action::StartMedia {
                    session,
                    to,
                    transport,
                    ssrc,
                    ..
                } => Got::Start(*session, *transport, *to, *ssrc),
                Action::StopMedia { session } => Got::Stop(*session),
                Action::Acked { session, after } => Got::Acked(*session, *after),
            })
            .collect()
    }

    /// What the last call asked for, and for a StartMedia to listen, what telling the table
    /// the bench's listening port then asks for.
    fn settle(&mut self, now: Time) -> Vec<Got> {
        let mut got = self.collect();
        let listens: Vec<SessionId> = got
            .iter()
            .filter_map(|g| match g {
                Got::Start(s, MediaTransport::TcpActive, ..) => Some(*s),
                _ => None,
            })
            .collect();
        if let Some(port) = self.listen {
            for s in listens {
                self.t.listening(now, s, port);
                got.extend(self.collect());
            }
        }
        got
    }

    fn feed(&mut self, now: Time, raw: &[u8]) -> Vec<Got> {
        let dev = id(DEV);
        let device = Device {
            index: 7,
            id: &dev,
            signal: "10.0.0.9:5060".parse().unwrap(),
            transport: self.sip,
            media: "10.0.0.9:15000".parse().unwrap(),
        };
        let mut h = [Header::EMPTY; 32];
        let msg = parse_datagram(raw, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        match msg.method() {
            None => self.t.on_response(now, &msg),
            Some(crate::sip::Method::Invite) => {
                self.t
                    .on_invite(now, &msg, platform(), &device, |i| *i == id(CH))
            }
            Some(crate::sip::Method::Ack) => self.t.on_ack(now, &msg),
            Some(crate::sip::Method::Cancel) => self.t.on_cancel(now, &msg, platform()),
            Some(_) => self.t.on_bye(now, &msg, platform()),
        }
        self.settle(now)
    }

    fn timer(&mut self, now: Time) -> Vec<Got> {
        self.t.on_timer(now);
        self.settle(now)
    }

    fn ended(&mut self, now: Time, s: SessionId) -> Vec<Got> {
        self.t.media_ended(now, s);
        self.settle(now)
    }

    /// Fires timers until `until`, returning when each batch went out and what it was.
    fn run_until(&mut self, until: Time) -> Vec<(u64, Vec<Got>)> {
        let mut fired = vec![];
        while let Some(t) = self.t.poll_timeout()
            && t <= until
        {
            fired.push((t.as_millis(), self.timer(t)));
        }
        fired
    }
}

/// The ACK of a response `g` to the INVITE `call` (a 2xx ACK has its own branch).
fn ack(call: &str, g: &Got) -> Vec<u8> {
    let tag = to_tag(g);
    let mut r = Req::in_dialog("ACK", call, &tag, 20);
    if status(g) != 200 {
        r.branch = "z9hG4bKinv";
    }
    r.bytes()
}
