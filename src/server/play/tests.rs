//! Virtual-time tests of the play driver: a device that answers as the test says, time
//! jumped by hand, every message read back from the outbox or the batch.

use super::*;
use crate::sip::{Header, Limits, parse_datagram};

const DEV: &str = "34020000001320000001";
const DEV2: &str = "34020000001320000002";
const CAM: &str = "10.0.0.9:5060";
const SERVER: &str = "34020000002000000001";

fn ms(n: u64) -> Time {
    Time::from_millis(n)
}

fn me(transport: MediaTransport) -> Me {
    Me {
        id: DeviceId::parse(SERVER.as_bytes()).unwrap(),
        domain: "3402000000".into(),
        signal: "10.0.0.1:5060".parse().unwrap(),
        media: "10.0.0.1:30000".parse().unwrap(),
        transport,
        salt: 7,
    }
}

fn cfg(hold_ms: u64) -> PlayConfig {
    PlayConfig {
        rate: 10,
        hold: Span::from_millis(hold_ms),
        transport: MediaTransport::Udp,
        max_streams: 4,
        media_port: 0,
    }
}

/// A driver over one device registered at [`CAM`], its INVITEs due from time 0.
fn driver(hold_ms: u64) -> Play {
    let mut p = Play::new(&cfg(hold_ms), me(MediaTransport::Udp), 0, 1, ms(0));
    p.device_registered(DeviceId::parse(DEV.as_bytes()).unwrap());
    p
}

/// Fires what is due at `now`; the messages sent, as text.
fn tick(p: &mut Play, now: Time) -> Vec<String> {
    let mut out = Outbox::default();
    let cam: SocketAddr = CAM.parse().unwrap();
    p.handle_timeout(now, |_| Some((cam, Transport::Udp)), &mut out);
    assert!(p.in_flight_matches());
    out.messages()
        .map(|(to, t, m)| {
            assert_eq!((to, t), (cam, Transport::Udp));
            String::from_utf8_lossy(m).into_owned()
        })
        .collect()
}

/// A header's value in a message's text.
fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.split("\r\n")
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

/// The device's answer SDP, with `y=`.
fn answer_sdp(y: &str) -> String {
    format!(
        "v=0\r\no={DEV} 0 0 IN IP4 10.0.0.9\r\ns=Play\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
m=video 40000 RTP/AVP 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\ny={y}\r\n"
    )
}

/// The device's response `code` to `req` (with a To tag and, for a 200, Contact and `body`).
fn respond(req: &str, code: u16, body: &str) -> String {
    let mut r = format!("SIP/2.0 {code} X\r\n");
    for h in ["Via", "From", "Call-ID", "CSeq"] {
        r.push_str(&format!("{h}: {}\r\n", header(req, h)));
    }
    r.push_str(&format!("To: {};tag=cam1\r\n", header(req, "To")));
    if code == 200 && !body.is_empty() {
        r.push_str(&format!(
            "Contact: <sip:{DEV}@{CAM}>\r\nContent-Type: application/sdp\r\n"
        ));
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r
}

/// Hands `text` to the driver at `now`; whether it took it, and what it answered.
fn feed(p: &mut Play, now: Time, text: &str) -> (bool, Vec<String>) {
    let mut h = [Header::EMPTY; 32];
    let msg = parse_datagram(text.as_bytes(), &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    let mut out = Batch::new();
    let taken = if msg.is_request() {
        p.handle_request(now, &msg, CAM.parse().unwrap(), &mut out)
    } else {
        p.handle_response(now, &msg, &mut out)
    };
    assert!(p.in_flight_matches());
    let msgs = out
        .iter()
        .map(|m| String::from_utf8(m.to_vec()).unwrap())
        .collect();
    (taken, msgs)
}

fn ssrc_of(invite: &str) -> u32 {
    let y = invite.split("y=").nth(1).unwrap().trim();
    crate::media::parse_ssrc(y.as_bytes()).unwrap()
}

fn rtp(p: &mut Play, now: Time, seq: u16, ts: u32, ssrc: u32, marker: bool) {
    let mut pkt = crate::media::rtp::rtp_header(marker, seq, ts, ssrc).to_vec();
    pkt.extend_from_slice(&[0, 0, 1, 0xba, 0x44, 0, 0]);
    p.handle_rtp(now, &pkt);
}

/// A driver with a session up: its INVITE and the 200's ACK.
fn streaming(hold_ms: u64) -> (Play, String) {
    let mut p = driver(hold_ms);
    let inv = tick(&mut p, ms(0)).remove(0);
    let (taken, acks) = feed(
        &mut p,
        ms(20),
        &respond(&inv, 200, &answer_sdp(&inv_y(&inv))),
    );
    assert!(taken && acks.len() == 1);
    (p, inv)
}

fn inv_y(inv: &str) -> String {
    inv.split("y=").nth(1).unwrap().trim().to_string()
}

#[test]
fn the_invite_is_wvp_shaped() {
    let mut p = driver(30_000);
    let sent = tick(&mut p, ms(0));
    assert_eq!(sent.len(), 1);
    let inv = &sent[0];
    assert!(
        inv.starts_with(&format!("INVITE sip:{DEV}@{CAM} SIP/2.0\r\n")),
        "{inv}"
    );
    assert!(header(inv, "Via").starts_with("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK"));
    assert!(header(inv, "From").starts_with(&format!("<sip:{SERVER}@3402000000>;tag=")));
    assert_eq!(header(inv, "To"), format!("<sip:{DEV}@3402000000>"));
    assert_eq!(
        header(inv, "Contact"),
        format!("<sip:{SERVER}@10.0.0.1:5060>")
    );
    assert_eq!(header(inv, "CSeq"), "1 INVITE");
    assert_eq!(
        header(inv, "Subject"),
        format!("{DEV}:0200000001,{SERVER}:0")
    );
    let body = inv.split("\r\n\r\n").nth(1).unwrap();
    let offer = Offer::parse(body.as_bytes()).unwrap();
    assert_eq!(offer.media, "10.0.0.1:30000".parse().unwrap());
    assert_eq!(offer.ssrc.map(|s| s.text), Some(&b"0200000001"[..]));
    assert_eq!(p.stats_now().invites, 1);
}

#[test]
fn the_invite_is_retransmitted_at_t1_doubling_until_given_up_at_10_s() {
    let mut p = driver(30_000);
    assert_eq!(tick(&mut p, ms(0)).len(), 1);
    let mut at = Vec::new();
    for t in (1..=12_000).step_by(1) {
        if p.poll_timeout().is_some_and(|w| w <= ms(t)) {
            let sent = tick(&mut p, ms(t));
            if sent.iter().any(|m| m.starts_with("INVITE")) {
                at.push(t);
            }
        }
    }
    assert_eq!(at, [500, 1500, 3500, 7500], "T1, then doubling");
    let st = p.stats_now();
    assert_eq!((st.invite_retransmits, st.invite_timeouts), (4, 1));
    // Given up, the device stays busy until Timer B, then waits a hold (30 s) before it is
    // played again.
    assert!(tick(&mut p, ms(31_999)).is_empty());
    assert!(tick(&mut p, ms(32_000)).is_empty(), "released at Timer B");
    assert!(tick(&mut p, ms(61_999)).is_empty(), "backing off");
    let again = tick(&mut p, ms(62_100));
    assert_eq!(again.len(), 1);
    assert_ne!(ssrc_of(&again[0]), 200_000_001, "a new SSRC");
}

#[test]
fn a_provisional_response_stops_retransmissions() {
    let mut p = driver(30_000);
    let inv = tick(&mut p, ms(0)).remove(0);
    assert!(feed(&mut p, ms(10), &respond(&inv, 100, "")).0);
    assert!(tick(&mut p, ms(500)).is_empty());
    assert!(tick(&mut p, ms(9_999)).is_empty());
    assert!(tick(&mut p, ms(10_000)).is_empty());
    assert_eq!(p.stats_now().invite_timeouts, 1, "no 200 in 10 s");
}

#[test]
fn a_200_is_acked_and_a_retransmitted_200_acked_again() {
    let mut p = driver(30_000);
    let inv = tick(&mut p, ms(0)).remove(0);
    let ok = respond(&inv, 200, &answer_sdp(&inv_y(&inv)));
    let (taken, acks) = feed(&mut p, ms(40), &ok);
    assert!(taken);
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert!(
        ack.starts_with(&format!("ACK sip:{DEV}@{CAM} SIP/2.0")),
        "{ack}"
    );
    assert_eq!(header(ack, "CSeq"), "1 ACK");
    assert!(header(ack, "To").ends_with(";tag=cam1"));
    assert_eq!(header(ack, "Call-ID"), header(&inv, "Call-ID"));
    assert_ne!(
        header(ack, "Via"),
        header(&inv, "Via"),
        "a 2xx ACK has its own branch"
    );
    let (_, again) = feed(&mut p, ms(540), &ok);
    assert_eq!(again, acks);
    assert!(
        tick(&mut p, ms(600)).is_empty(),
        "no INVITE retransmission after the 200"
    );
    let st = p.stats_now();
    assert_eq!((st.ok, st.acks, st.streams_started), (1, 2, 1));
    // 40 ms, to the histogram's three significant digits.
    assert!(
        st.invite_to_ok_us
            .equivalent(st.invite_to_ok_us.max(), 40_000)
    );
}

#[test]
fn busy_and_not_found_are_acked_counted_and_free_the_ssrc() {
    let mut p = driver(30_000);
    let inv = tick(&mut p, ms(0)).remove(0);
    let busy = respond(&inv, 486, "");
    let (_, acks) = feed(&mut p, ms(5), &busy);
    let ack = &acks[0];
    assert!(
        ack.starts_with(&format!("ACK sip:{DEV}@{CAM} SIP/2.0")),
        "{ack}"
    );
    assert_eq!(
        header(ack, "Via"),
        header(&inv, "Via"),
        "same branch as the INVITE"
    );
    assert_eq!(header(ack, "CSeq"), "1 ACK");
    assert!(header(ack, "To").ends_with(";tag=cam1"));
    let (_, again) = feed(&mut p, ms(505), &busy);
    assert_eq!(again.len(), 1, "a retransmitted 486 is ACKed again");
    let st = p.stats_now();
    assert_eq!((st.failed[1], st.busy, st.acks), (1, 1, 2));
    assert_eq!(st.gauge, Some((0, 0, 0)), "the SSRC is back");
    assert!(
        tick(&mut p, ms(100)).is_empty(),
        "a busy device waits a hold"
    );
    let inv2 = tick(&mut p, ms(30_005)).remove(0);
    feed(&mut p, ms(30_010), &respond(&inv2, 404, ""));
    let st = p.stats_now();
    assert_eq!((st.failed[1], st.busy), (2, 1));
}

#[test]
fn the_stream_is_held_then_byed_and_played_again() {
    let (mut p, inv) = streaming(2_000);
    let ssrc = ssrc_of(&inv);
    for i in 0..40u16 {
        let t = 20 + 40 * u64::from(i);
        rtp(&mut p, ms(t), i, u32::from(i) * 3600, ssrc, true);
    }
    assert!(tick(&mut p, ms(2_019)).is_empty());
    let bye = tick(&mut p, ms(2_020)).remove(0);
    assert!(
        bye.starts_with(&format!("BYE sip:{DEV}@{CAM} SIP/2.0")),
        "{bye}"
    );
    assert_eq!(header(&bye, "CSeq"), "2 BYE");
    assert!(header(&bye, "To").ends_with(";tag=cam1"));
    assert_eq!(
        tick(&mut p, ms(2_520)),
        std::slice::from_ref(&bye),
        "retransmitted at T1"
    );
    let (taken, none) = feed(&mut p, ms(2_600), &respond(&bye, 200, ""));
    assert!(taken && none.is_empty());
    assert!(
        tick(&mut p, ms(3_020)).is_empty(),
        "no retransmission after the 200"
    );
    let st = p.stats_now();
    assert_eq!((st.streams_started, st.streams_ended, st.byes), (1, 1, 1));
    assert_eq!(
        (st.rtp_packets, st.lost, st.bad_ssrc, st.missing_ps),
        (40, 0, 0, 0)
    );
    assert_eq!(st.ok_to_rtp_us.len(), 1);
    // The SSRC lingers, then the device is played again with another.
    assert!(
        tick(&mut p, ms(3_099))
            .iter()
            .all(|m| !m.starts_with("INVITE"))
    );
    let again: Vec<String> = tick(&mut p, ms(3_200));
    assert_eq!(again.len(), 1, "{again:?}");
    assert_ne!(ssrc_of(&again[0]), ssrc);
}

#[test]
fn a_bye_unanswered_ends_at_timer_f() {
    let (mut p, _) = streaming(1_000);
    let mut byes = 0;
    for t in 1_020..=33_100 {
        if p.poll_timeout().is_some_and(|w| w <= ms(t)) {
            byes += tick(&mut p, ms(t))
                .iter()
                .filter(|m| m.starts_with("BYE"))
                .count();
        }
    }
    let st = p.stats_now();
    // At 0.5, 1.5, 3.5, 7.5 s, then every 4 s to 32 s.
    assert_eq!((st.byes, st.bye_retransmits, st.bye_timeouts), (1, 10, 1));
    assert_eq!(byes, 11);
    assert_eq!(st.streams_ended, 1);
}

#[test]
fn no_rtp_for_15_s_ends_the_stream_with_a_bye() {
    let (mut p, _) = streaming(60_000);
    assert!(tick(&mut p, ms(15_019)).is_empty());
    let sent = tick(&mut p, ms(15_020));
    assert!(sent[0].starts_with("BYE"), "{sent:?}");
    assert_eq!(p.stats_now().no_rtp, 1);
}

#[test]
fn the_devices_bye_gets_200_and_unknown_dialogs_481() {
    let (mut p, inv) = streaming(60_000);
    let call = header(&inv, "Call-ID");
    let bye = format!(
        "BYE sip:{SERVER}@10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CAM};branch=z9hG4bKcam\r\n\
From: <sip:{DEV}@3402000000>;tag=cam1\r\nTo: {}\r\nCall-ID: {call}\r\nCSeq: 1 BYE\r\n\
Content-Length: 0\r\n\r\n",
        header(&inv, "From")
    );
    let (taken, out) = feed(&mut p, ms(100), &bye);
    assert!(taken);
    assert!(out[0].starts_with("SIP/2.0 200 OK"), "{}", out[0]);
    assert_eq!(header(&out[0], "CSeq"), "1 BYE");
    let st = p.stats_now();
    assert_eq!((st.device_byes, st.streams_ended), (1, 1));
    let stale = bye.replace(&call[..24], "000000070000000000000063");
    let (taken, out) = feed(&mut p, ms(200), &stale);
    assert!(taken && out[0].starts_with("SIP/2.0 481"), "{out:?}");
    let (taken, out) = feed(&mut p, ms(200), &bye.replace(call, "someone-else@x"));
    assert!(
        !taken && out.is_empty(),
        "not a play dialog: left to the registrar"
    );
    // The device ended it: released after the linger, then not played for a hold (60 s).
    assert!(tick(&mut p, ms(600)).is_empty());
    assert!(tick(&mut p, ms(60_599)).is_empty());
    assert!(tick(&mut p, ms(60_700))[0].starts_with("INVITE"));
}

#[test]
fn a_different_answered_ssrc_is_adopted_and_counted() {
    let mut p = driver(30_000);
    let inv = tick(&mut p, ms(0)).remove(0);
    feed(
        &mut p,
        ms(10),
        &respond(&inv, 200, &answer_sdp("0123456789")),
    );
    rtp(&mut p, ms(20), 1, 0, 123_456_789, true);
    rtp(&mut p, ms(60), 2, 3600, ssrc_of(&inv), true);
    let st = p.stats_now();
    assert_eq!((st.ssrc_adopted, st.rtp_packets, st.bad_ssrc), (1, 1, 1));
}

#[test]
fn an_exhausted_ssrc_pool_is_counted() {
    // 9999 workers: this one's pool holds one SSRC; four sessions allowed.
    let c = PlayConfig {
        rate: 99_990,
        max_streams: 4 * 9999,
        ..cfg(30_000)
    };
    let mut p = Play::new(&c, me(MediaTransport::Udp), 0, 9999, ms(0));
    p.device_registered(DeviceId::parse(DEV.as_bytes()).unwrap());
    p.device_registered(DeviceId::parse(DEV2.as_bytes()).unwrap());
    assert_eq!(tick(&mut p, ms(0)).len(), 1);
    assert!(tick(&mut p, ms(100)).is_empty());
    let st = p.stats_now();
    assert_eq!((st.ssrc_exhausted, st.gauge), (1, Some((0, 0, 1))));
}

#[test]
fn tcp_active_connects_to_the_answered_address_after_the_200() {
    let mut p = Play::new(&cfg(30_000), me(MediaTransport::TcpActive), 0, 1, ms(0));
    p.device_registered(DeviceId::parse(DEV.as_bytes()).unwrap());
    let inv = tick(&mut p, ms(0)).remove(0);
    assert!(inv.contains("m=video 30000 TCP/RTP/AVP 96 97 98 99\r\n"));
    assert!(inv.contains("a=setup:active\r\na=connection:new\r\n"));
    let sdp = answer_sdp(&inv_y(&inv)).replace("RTP/AVP 96", "TCP/RTP/AVP 96");
    feed(&mut p, ms(10), &respond(&inv, 200, &sdp));
    assert!(p.poll_timeout().is_some_and(|t| t <= ms(10)), "due at once");
    let mut out = Outbox::default();
    p.handle_timeout(ms(10), |_| None, &mut out);
    assert_eq!(out.connects(), ["10.0.0.9:40000".parse().unwrap()]);
}

#[test]
fn a_device_no_longer_registered_is_not_invited() {
    let mut p = driver(30_000);
    let mut out = Outbox::default();
    p.handle_timeout(ms(0), |_| None, &mut out);
    assert!(out.is_empty());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A driver with a session up, and the 200 that started it.
    fn up() -> (Play, String) {
        let (p, inv) = streaming(30_000);
        let ok = respond(&inv, 200, &answer_sdp(&inv_y(&inv)));
        (p, ok)
    }

    proptest! {
        #[test]
        fn any_bytes_as_a_message_or_a_packet_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (mut p, _) = up();
            let mut h = [Header::EMPTY; 32];
            if let Ok(Some(msg)) = parse_datagram(&b, &mut h, &Limits::default()) {
                let mut out = Batch::new();
                if msg.is_request() {
                    p.handle_request(ms(50), &msg, CAM.parse().unwrap(), &mut out);
                } else {
                    p.handle_response(ms(50), &msg, &mut out);
                }
            }
            p.handle_rtp(ms(60), &b);
            let _ = tick(&mut p, ms(70_000));
            prop_assert!(p.in_flight_matches());
        }

        #[test]
        fn a_mangled_200_never_panics_and_is_acked_or_ignored(at in 0usize..700, byte in any::<u8>(), cut in 0usize..700) {
            let mut p = driver(30_000);
            let inv = tick(&mut p, ms(0)).remove(0);
            let mut ok = respond(&inv, 200, &answer_sdp(&inv_y(&inv))).into_bytes();
            if let Some(b) = ok.get_mut(at) {
                *b = byte;
            }
            ok.truncate(cut.max(1));
            let mut h = [Header::EMPTY; 32];
            if let Ok(Some(msg)) = parse_datagram(&ok, &mut h, &Limits::default()) {
                let mut out = Batch::new();
                p.handle_response(ms(10), &msg, &mut out);
                prop_assert!(out.len() <= 2, "an ACK, and a BYE for an unreadable answer");
            }
            let _ = tick(&mut p, ms(40_000));
            prop_assert!(p.in_flight_matches());
        }
    }
}

#[test]
fn a_device_on_tcp_is_invited_down_its_connection_without_retransmissions() {
    let mut p = driver(1_000);
    let cam: SocketAddr = CAM.parse().unwrap();
    let tcp = |p: &mut Play, now: Time| {
        let mut out = Outbox::default();
        p.handle_timeout(now, |_| Some((cam, Transport::Tcp)), &mut out);
        out.messages()
            .map(|(to, t, m)| {
                assert_eq!((to, t), (cam, Transport::Tcp));
                String::from_utf8_lossy(m).into_owned()
            })
            .collect::<Vec<_>>()
    };
    let inv = tcp(&mut p, ms(0)).remove(0);
    assert!(
        header(&inv, "Via").starts_with("SIP/2.0/TCP 10.0.0.1:5060;"),
        "{inv}"
    );
    assert_eq!(
        header(&inv, "Contact"),
        format!("<sip:{SERVER}@10.0.0.1:5060;transport=tcp>")
    );
    assert!(tcp(&mut p, ms(600)).is_empty(), "no Timer A over TCP");
    let (_, acks) = feed(
        &mut p,
        ms(700),
        &respond(&inv, 200, &answer_sdp(&inv_y(&inv))),
    );
    assert!(header(&acks[0], "Via").starts_with("SIP/2.0/TCP "));
    let bye = tcp(&mut p, ms(1_700)).remove(0);
    assert!(bye.starts_with("BYE "), "{bye}");
    assert!(tcp(&mut p, ms(2_200)).is_empty(), "no Timer E over TCP");
    assert!(tcp(&mut p, ms(33_700)).is_empty());
    let st = p.stats_now();
    assert_eq!(
        (st.bye_retransmits, st.bye_timeouts, st.invite_retransmits),
        (0, 1, 0)
    );
}

#[test]
fn a_200_after_the_play_timeout_is_acked_and_byed() {
    let mut p = driver(30_000);
    let inv = tick(&mut p, ms(0)).remove(0);
    feed(&mut p, ms(10), &respond(&inv, 100, ""));
    assert!(tick(&mut p, ms(10_000)).is_empty());
    let (_, out) = feed(
        &mut p,
        ms(12_000),
        &respond(&inv, 200, &answer_sdp(&inv_y(&inv))),
    );
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out[0].starts_with("ACK ") && out[1].starts_with("BYE "),
        "{out:?}"
    );
    let st = p.stats_now();
    assert_eq!(
        (st.invite_timeouts, st.late_ok, st.ok, st.streams_started),
        (1, 1, 0, 0)
    );
    // The BYE is retransmitted from the driver's timer like any other.
    assert!(tick(&mut p, ms(12_500))[0].starts_with("BYE "));
}

#[test]
fn a_200_whose_sdp_cannot_be_read_is_acked_and_byed() {
    let mut p = driver(30_000);
    let inv = tick(&mut p, ms(0)).remove(0);
    let (_, out) = feed(&mut p, ms(10), &respond(&inv, 200, "v=0\r\ns=Play\r\n"));
    assert!(
        out[0].starts_with("ACK ") && out[1].starts_with("BYE "),
        "{out:?}"
    );
    let st = p.stats_now();
    assert_eq!((st.ok, st.bad_answers, st.streams_started), (1, 1, 0));
}
