//! The INVITE server in virtual time: each call is given `now`, and what the table asks for is
//! read back as owned values ([`Got`]) so the tests compare whole exchanges.

use super::*;
use crate::gb::sdp::Direction;
use crate::sip::{Header, Limits, parse_datagram};
use proptest::prelude::*;

const PLATFORM: &str = "34020000002000000001";
const DEV: &str = "34020000001320000001";
const CH: &str = "34020000001310000001";
const MS: Span = Span::from_millis(1);
const T0: Time = Time::ZERO;

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
}

impl Bench {
    fn new(capacity: usize, cfg: PlayConfig) -> Bench {
        Bench {
            t: PlayTable::new(capacity, cfg),
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

    fn feed(&mut self, now: Time, raw: &[u8]) -> Vec<Got> {
        let dev = id(DEV);
        let device = Device {
            index: 7,
            id: &dev,
            signal: "10.0.0.9:5060".parse().unwrap(),
            transport: Transport::Udp,
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
        self.collect()
    }

    fn timer(&mut self, now: Time) -> Vec<Got> {
        self.t.on_timer(now);
        self.collect()
    }

    fn ended(&mut self, now: Time, s: SessionId) -> Vec<Got> {
        self.t.media_ended(now, s);
        self.collect()
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

#[test]
fn an_invite_gets_100_then_a_200_with_the_answer_and_udp_media_starts_at_the_ack() {
    let mut b = Bench::std();
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    assert_eq!(got.iter().map(status).collect::<Vec<_>>(), [100, 200]);
    assert_eq!(to_tag(&got[0]), "");
    let ok = &got[1];
    assert_eq!(to_tag(ok).len(), 16);
    assert_eq!(header(ok, "CSeq"), "20 INVITE");
    assert_eq!(header(ok, "Contact"), format!("<sip:{DEV}@10.0.0.9:5060>"));
    assert_eq!(header(ok, "Content-Type"), "application/sdp");
    let answer = Offer::parse(body(ok).as_bytes()).unwrap();
    assert_eq!(answer.direction, Some(Direction::SendOnly));
    assert_eq!(answer.media, "10.0.0.9:15000".parse().unwrap());
    assert_eq!(answer.ssrc.map(|s| s.text), Some(&b"0200003792"[..]));
    assert!(body(ok).contains(&format!("o={CH} ")));
    let got = b.feed(at(30), &ack("c1", ok));
    let Got::Acked(s, after) = got[0].clone() else {
        panic!("{got:?}")
    };
    assert_eq!(after, 30 * MS);
    assert_eq!(
        got[1],
        Got::Start(
            s,
            MediaTransport::Udp,
            "10.0.0.50:30000".parse().unwrap(),
            0x0BEB_D0D0
        )
    );
    assert_eq!(got.len(), 2);
    assert_eq!(b.t.poll_timeout(), None);
    let c = b.t.counters();
    assert_eq!((c.invites, c.answered, c.acked), (1, 1, 1));
    // A retransmitted ACK is absorbed.
    assert!(b.feed(at(40), &ack("c1", ok)).is_empty());
}

#[test]
fn the_200_is_retransmitted_at_t1_doubling_to_t2_until_the_ack() {
    let mut b = Bench::std();
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let fired = b.run_until(at(12_000));
    let times: Vec<u64> = fired.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [500, 1500, 3500, 7500, 11500]);
    for (_, sent) in &fired {
        assert_eq!(sent, &[got[1].clone()]);
    }
    assert_eq!(b.t.counters().retransmissions, 5);
    b.feed(at(12_000), &ack("c1", &got[1]));
    assert_eq!(b.t.poll_timeout(), None);
}

#[test]
fn timer_h_without_an_ack_stops_listening_and_sends_a_bye_until_timer_f() {
    let mut b = Bench::std();
    let offer = tcp_offer("active");
    let got = b.feed(T0, &Req::invite("c1", &offer).bytes());
    let session = match &got[1] {
        Got::Start(s, MediaTransport::TcpActive, _, _) => *s,
        other => panic!("{other:?}"),
    };
    assert_eq!(status(&got[2]), 200);
    let fired = b.run_until(at(32_000));
    let (last_t, last) = fired.last().unwrap();
    assert_eq!(*last_t, 32_000);
    assert_eq!(last[0], Got::Stop(session));
    let bye = &last[1];
    assert!(
        bye.text()
            .starts_with(&format!("BYE sip:{PLATFORM}@10.0.0.1:5060 SIP/2.0\r\n"))
    );
    assert_eq!(
        header(bye, "From"),
        format!("<sip:{CH}@3402000000>;tag={}", to_tag(&got[2]))
    );
    assert_eq!(
        header(bye, "To"),
        format!("<sip:{PLATFORM}@3402000000>;tag=pf1")
    );
    assert_eq!(
        (header(bye, "Call-ID"), header(bye, "CSeq")),
        ("c1", "1 BYE")
    );
    let c = b.t.counters();
    assert_eq!((c.ack_timeouts, c.byes_sent), (1, 1));
    // The BYE: T1 doubling to T2 from 32 s, then Timer F 32 s later frees the slot.
    let fired = b.run_until(at(70_000));
    let times: Vec<u64> = fired.iter().map(|(t, _)| *t - 32_000).collect();
    assert_eq!(&times[..4], &[500, 1500, 3500, 7500]);
    assert_eq!(*times.last().unwrap(), 32_000);
    assert!(fired.last().unwrap().1.is_empty());
    assert!(
        fired[..fired.len() - 1]
            .iter()
            .all(|(_, g)| g == std::slice::from_ref(bye))
    );
    assert_eq!(b.t.counters().bye_timeouts, 1);
    assert_eq!(b.t.in_use(), 0);
}

#[test]
fn tcp_passive_media_connects_after_the_ack_and_tcp_active_listens_before_the_200() {
    let cfg = config(2, Span::ZERO);
    let mut b = Bench::new(2, cfg);
    let offer = tcp_offer("passive");
    let got = b.feed(T0, &Req::invite("c1", &offer).bytes());
    assert_eq!(got.iter().map(status).collect::<Vec<_>>(), [100, 200]);
    assert!(body(&got[1]).contains("a=setup:active\r\n"));
    let after = b.feed(at(5), &ack("c1", &got[1]));
    assert!(matches!(
        after[1],
        Got::Start(_, MediaTransport::TcpPassive, _, _)
    ));
    let offer = tcp_offer("active");
    let got = b.feed(at(10), &Req::invite("c2", &offer).bytes());
    assert!(matches!(
        got[1],
        Got::Start(_, MediaTransport::TcpActive, _, _)
    ));
    assert!(body(&got[2]).contains("a=setup:passive\r\n"));
    let after = b.feed(at(15), &ack("c2", &got[2]));
    assert_eq!(after.len(), 1, "{after:?}");
}

#[test]
fn a_retransmitted_invite_gets_the_last_response_again_and_no_second_session() {
    let cfg = config(4, 200 * MS);
    let mut b = Bench::new(4, cfg);
    let invite = Req::invite("c1", UDP_OFFER).bytes();
    let got = b.feed(T0, &invite);
    assert_eq!(got.iter().map(status).collect::<Vec<_>>(), [100]);
    assert_eq!(
        b.feed(at(100), &invite)
            .iter()
            .map(status)
            .collect::<Vec<_>>(),
        [100]
    );
    let answered = b.run_until(at(200));
    assert_eq!(answered[0].0, 200);
    let ok = answered[0].1[0].clone();
    assert_eq!(status(&ok), 200);
    assert_eq!(b.feed(at(300), &invite), std::slice::from_ref(&ok));
    let c = b.t.counters();
    assert_eq!((c.invites, c.answered, c.invite_retransmits), (1, 1, 2));
    assert_eq!(b.t.in_use(), 1);
    // A new CSeq in the same transaction's Call-ID and branch is a new INVITE.
    let mut again = Req::invite("c1", UDP_OFFER);
    again.cseq = 21;
    assert_eq!(b.feed(at(400), &again.bytes()).len(), 1);
    assert_eq!(b.t.in_use(), 2);
}

#[test]
fn a_cancel_before_the_200_gets_200_and_the_invite_487_whose_ack_is_absorbed() {
    let cfg = config(1, Span::from_secs(1));
    let mut b = Bench::new(2, cfg);
    b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let mut cancel = Req::invite("c1", "");
    cancel.method = "CANCEL";
    cancel.extra = "";
    let got = b.feed(at(100), &cancel.bytes());
    assert_eq!(got.iter().map(status).collect::<Vec<_>>(), [200, 487]);
    assert_eq!(header(&got[0], "CSeq"), "20 CANCEL");
    assert_eq!(header(&got[1], "CSeq"), "20 INVITE");
    assert_eq!(
        header(&got[1], "Via"),
        "SIP/2.0/UDP 10.0.0.1:5060;rport=5060;branch=z9hG4bKinv;received=10.0.0.1"
    );
    assert_eq!(to_tag(&got[1]).len(), 16);
    assert_eq!(body(&got[1]), "");
    // The 487 is retransmitted (Timer G) until its ACK; the 200 never goes out.
    let fired = b.run_until(at(600));
    assert_eq!(fired, [(600, vec![got[1].clone()])]);
    assert!(b.feed(at(700), &ack("c1", &got[1])).is_empty());
    assert_eq!(b.t.in_use(), 0);
    assert_eq!(b.t.poll_timeout(), None);
    let c = b.t.counters();
    assert_eq!((c.cancelled, c.answered), (1, 0));
}

#[test]
fn a_cancel_after_the_200_gets_200_only_and_the_session_goes_on() {
    let mut b = Bench::std();
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let mut cancel = Req::invite("c1", "");
    cancel.method = "CANCEL";
    let c = b.feed(at(10), &cancel.bytes());
    assert_eq!(c.iter().map(status).collect::<Vec<_>>(), [200]);
    assert_eq!(header(&c[0], "CSeq"), "20 CANCEL");
    let after = b.feed(at(20), &ack("c1", &got[1]));
    assert!(matches!(after[1], Got::Start(..)));
    assert_eq!(b.t.counters().cancelled, 0);
    // A CANCEL for nothing: 481.
    let mut stray = Req::invite("c9", "");
    stray.method = "CANCEL";
    assert_eq!(
        b.feed(at(30), &stray.bytes())
            .iter()
            .map(status)
            .collect::<Vec<_>>(),
        [481]
    );
}

#[test]
fn busy_beyond_the_stream_cap_and_the_slot_is_reused_after_bye() {
    let mut b = Bench::new(2, PlayConfig::default());
    let a = b.feed(T0, &Req::invite("a", UDP_OFFER).bytes());
    let acked = b.feed(at(1), &ack("a", &a[1]));
    let Got::Acked(first, _) = acked[0] else {
        panic!()
    };
    let busy = b.feed(at(2), &Req::invite("b", UDP_OFFER).bytes());
    assert_eq!(busy.iter().map(status).collect::<Vec<_>>(), [100, 486]);
    assert!(b.feed(at(3), &ack("b", &busy[1])).is_empty());
    let tag = to_tag(&a[1]);
    let bye = b.feed(at(4), &Req::in_dialog("BYE", "a", &tag, 21).bytes());
    assert_eq!(bye[0].text().lines().next(), Some("SIP/2.0 200 OK"));
    assert_eq!(header(&bye[0], "CSeq"), "21 BYE");
    assert_eq!(bye[1], Got::Stop(first));
    assert_eq!(b.t.in_use(), 0);
    // The same BYE again: the dialog is gone.
    let again = b.feed(at(5), &Req::in_dialog("BYE", "a", &tag, 21).bytes());
    assert_eq!(again.iter().map(status).collect::<Vec<_>>(), [481]);
    let c = b.feed(at(6), &Req::invite("c", UDP_OFFER).bytes());
    assert_eq!(status(&c[1]), 200);
    let Got::Acked(second, _) = b.feed(at(7), &ack("c", &c[1]))[0] else {
        panic!()
    };
    assert_eq!(second.slot(), first.slot());
    assert_ne!(second, first);
    // A stale handle ends nothing.
    assert!(b.ended(at(8), first).is_empty());
    let k = b.t.counters();
    assert_eq!((k.busy, k.byes_received, k.unknown_dialog), (1, 1, 1));
}

#[test]
fn a_full_table_answers_486_without_keeping_anything() {
    let cfg = config(9, Span::ZERO);
    let mut b = Bench::new(1, cfg);
    b.feed(T0, &Req::invite("a", UDP_OFFER).bytes());
    let got = b.feed(at(1), &Req::invite("b", UDP_OFFER).bytes());
    assert_eq!(got.iter().map(status).collect::<Vec<_>>(), [100, 486]);
    assert_eq!(to_tag(&got[1]), "");
    assert_eq!(b.t.in_use(), 1);
}

#[test]
fn an_offer_that_cannot_be_met_gets_488() {
    let no_ps = UDP_OFFER.replace("a=rtpmap:96 PS/90000\r\n", "");
    let bad_port = UDP_OFFER.replace("30000", "70000");
    for body in ["", "garbage", &no_ps, &bad_port] {
        let mut b = Bench::std();
        let got = b.feed(T0, &Req::invite("c1", body).bytes());
        assert_eq!(
            got.iter().map(status).collect::<Vec<_>>(),
            [100, 488],
            "{body}"
        );
        assert_eq!(b.t.counters().not_acceptable, 1);
    }
}

#[test]
fn the_channel_comes_from_the_request_uri_else_the_subject_else_404() {
    let mut b = Bench::std();
    let other = "34020000001310000099";
    let mut r = Req::invite("c1", UDP_OFFER);
    r.user = other;
    let got = b.feed(T0, &r.bytes());
    assert_eq!(status(&got[1]), 404);
    assert_eq!(b.t.counters().not_found, 1);
    let subject =
        format!("Subject: {CH}:0200003792,{PLATFORM}:0\r\nContent-Type: application/sdp\r\n");
    let mut r = Req::invite("c2", UDP_OFFER);
    r.user = other;
    r.extra = &subject;
    let got = b.feed(at(1), &r.bytes());
    assert_eq!(status(&got[1]), 200);
    assert!(body(&got[1]).contains(&format!("o={CH} ")));
    // The device's own ID is always accepted.
    let mut r = Req::invite("c3", UDP_OFFER);
    r.user = DEV;
    let cfg = config(4, Span::ZERO);
    let mut b = Bench::new(4, cfg);
    let got = b.feed(at(2), &r.bytes());
    assert!(body(&got[1]).contains(&format!("o={DEV} ")));
}

#[test]
fn the_device_ends_a_session_with_a_bye_retransmitted_until_answered() {
    let mut b = Bench::std();
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let Got::Acked(s, _) = b.feed(at(10), &ack("c1", &got[1]))[0] else {
        panic!()
    };
    let ended = b.ended(at(1000), s);
    assert_eq!(ended[0], Got::Stop(s));
    let bye = ended[1].clone();
    assert!(bye.text().starts_with("BYE "));
    let fired = b.run_until(at(2500));
    assert_eq!(
        fired,
        [(1500, vec![bye.clone()]), (2500, vec![bye.clone()])]
    );
    // The platform's 200 to the BYE ends it.
    let via = header(&bye, "Via");
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: c1\r\nCSeq: 1 BYE\r\n\
Content-Length: 0\r\n\r\n",
        header(&bye, "From"),
        header(&bye, "To")
    );
    assert!(b.feed(at(2600), ok.as_bytes()).is_empty());
    assert_eq!((b.t.in_use(), b.t.poll_timeout()), (0, None));
    assert_eq!(b.t.counters().byes_sent, 1);
}

#[test]
fn a_source_ending_before_the_ack_sends_bye_after_it() {
    let mut b = Bench::std();
    let offer = tcp_offer("active");
    let got = b.feed(T0, &Req::invite("c1", &offer).bytes());
    let Got::Start(s, ..) = got[1] else { panic!() };
    assert_eq!(b.ended(at(5), s), [Got::Stop(s)]);
    let after = b.feed(at(10), &ack("c1", &got[2]));
    assert!(matches!(after[0], Got::Acked(..)));
    assert!(after[1].text().starts_with("BYE "), "{after:?}");
}

#[test]
fn a_re_invite_is_refused_and_requests_without_identifiers_get_400() {
    let mut b = Bench::std();
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let tag = to_tag(&got[1]);
    let mut re = Req::invite("c1", UDP_OFFER);
    re.to_tag = Some(&tag);
    re.branch = "z9hG4bKre";
    re.cseq = 21;
    assert_eq!(
        b.feed(at(1), &re.bytes())
            .iter()
            .map(status)
            .collect::<Vec<_>>(),
        [488]
    );
    re.call = "c9";
    assert_eq!(
        b.feed(at(2), &re.bytes())
            .iter()
            .map(status)
            .collect::<Vec<_>>(),
        [481]
    );
    let raw = format!(
        "INVITE sip:{CH}@10.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx\r\n\
From: <sip:{PLATFORM}@d>;tag=a\r\nTo: <sip:{CH}@d>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        b.feed(at(3), raw.as_bytes())
            .iter()
            .map(status)
            .collect::<Vec<_>>(),
        [400]
    );
    assert_eq!(b.t.counters().malformed, 1);
}

fn sipish() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~]{0,40}").unwrap()
}

proptest! {
    #[test]
    fn arbitrary_invites_and_dialog_requests_never_panic(
        call in "[a-z0-9]{1,8}",
        user in prop_oneof![Just(CH.to_string()), Just(DEV.to_string()), sipish()],
        subject in sipish(),
        from_tag in sipish(),
        body in prop_oneof![Just(UDP_OFFER.to_string()), Just(tcp_offer("active")), sipish(),
            proptest::collection::vec(sipish(), 0..12).prop_map(|l| l.join("\r\n"))],
        steps in proptest::collection::vec(0u8..6, 1..12),
    ) {
        let mut b = Bench::new(2, PlayConfig::default());
        let mut now = T0;
        let mut last = None;
        for step in steps {
            now += 300 * MS;
            let got = match step {
                0 => {
                    let extra = format!("Subject: {subject}\r\nContent-Type: application/sdp\r\n");
                    let raw = format!(
                        "INVITE sip:{user}@10.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call}\r\n\
From: <sip:{PLATFORM}@d>;tag={from_tag}\r\nTo: <sip:{user}@d>\r\nCall-ID: {call}\r\nCSeq: 1 INVITE\r\n\
{extra}Content-Length: {}\r\n\r\n{body}", body.len());
                    let mut h = [Header::EMPTY; 32];
                    match parse_datagram(raw.as_bytes(), &mut h, &Limits::default()) {
                        Ok(Some(_)) => b.feed(now, raw.as_bytes()),
                        _ => vec![],
                    }
                }
                1 => match &last { Some(g) => b.feed(now, &ack(&call, g)), None => vec![] },
                2 => {
                    let mut c = Req::invite(&call, "");
                    c.method = "CANCEL";
                    c.branch = "z9hG4bKx";
                    b.feed(now, &c.bytes())
                }
                3 => match &last {
                    Some(g) => {
                        let tag = to_tag(g);
                        b.feed(now, &Req::in_dialog("BYE", &call, &tag, 9).bytes())
                    }
                    None => vec![],
                },
                4 => b.ended(now, SessionId { slot: 0, generation: 1 }),
                _ => b.timer(now),
            };
            for g in &got {
                if let Got::Sent(text) = g {
                    let mut h = [Header::EMPTY; 32];
                    prop_assert!(parse_datagram(text.as_bytes(), &mut h, &Limits::default()).is_ok());
                    if status(g) >= 200 {
                        last = Some(g.clone());
                    }
                }
            }
            prop_assert!(b.t.in_use() <= 2);
        }
    }
}
