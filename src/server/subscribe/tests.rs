//! Virtual-time tests of the subscribe driver: a device that answers as the test says, time
//! jumped by hand, every message read back from the outbox or the batch.

use super::*;
use crate::sip::{Header, Limits, parse_datagram};

pub(super) const DEV: &str = "34020000001320000001";
pub(super) const CAM: &str = "10.0.0.9:5060";
const SERVER: &str = "34020000002000000001";
/// 2026-11-23T23:16:12Z at time zero.
pub(super) const UNIX_ZERO_MS: u64 = 1_795_475_772_000;

pub(super) fn ms(n: u64) -> Time {
    Time::from_millis(n)
}

pub(super) fn me() -> Me {
    Me {
        id: DeviceId::parse(SERVER.as_bytes()).unwrap(),
        domain: "3402000000".into(),
        signal: "10.0.0.1:5060".parse().unwrap(),
        salt: 7,
        charset: crate::gb::Charset::Gb18030,
    }
}

pub(super) fn cfg(kinds: &[EventKind], expires_s: u32) -> SubscribeConfig {
    SubscribeConfig {
        kinds: kinds.to_vec(),
        interval_s: 5,
        rate: 10,
        expires_s,
        queries: Vec::new(),
        query_rate: 1,
        query_span: Span::from_secs(86_400),
    }
}

/// A driver over one device registered at [`CAM`].
pub(super) fn driver(c: &SubscribeConfig) -> Subscriber {
    let mut s = Subscriber::new(c, me(), (0, 1), ms(0), UNIX_ZERO_MS);
    s.device_registered(DeviceId::parse(DEV.as_bytes()).unwrap(), ms(0));
    s
}

/// Fires what is due at `now`; the messages sent, as text.
pub(super) fn tick(s: &mut Subscriber, now: Time) -> Vec<String> {
    let mut out = Outbox::default();
    let cam: SocketAddr = CAM.parse().unwrap();
    s.handle_timeout(now, &mut |_| Some((cam, Transport::Udp)), &mut out);
    assert!(s.active_matches());
    out.messages()
        .map(|(to, t, m)| {
            assert_eq!((to, t), (cam, Transport::Udp));
            String::from_utf8_lossy(m).into_owned()
        })
        .collect()
}

/// Runs every wake-up from `from` to `to` (ms); the messages sent, with their times.
pub(super) fn run(s: &mut Subscriber, from: u64, to: u64) -> Vec<(u64, String)> {
    let mut sent = Vec::new();
    for t in from..=to {
        if s.poll_timeout().is_some_and(|w| w <= ms(t)) {
            sent.extend(tick(s, ms(t)).into_iter().map(|m| (t, m)));
        }
    }
    sent
}

/// A header's value in a message's text.
pub(super) fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.split("\r\n")
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

/// The device's response `code` to `req`, with a To tag, Contact and `extra` headers.
pub(super) fn respond(req: &str, code: u16, extra: &str) -> String {
    let mut r = format!("SIP/2.0 {code} X\r\n");
    for h in ["Via", "From", "Call-ID", "CSeq"] {
        r.push_str(&format!("{h}: {}\r\n", header(req, h)));
    }
    let to = header(req, "To");
    if to.contains("tag=") {
        r.push_str(&format!("To: {to}\r\n"));
    } else {
        r.push_str(&format!("To: {to};tag=cam1\r\n"));
    }
    r.push_str(&format!("Contact: <sip:{DEV}@10.0.0.9:5062>\r\n{extra}"));
    r.push_str("Content-Length: 0\r\n\r\n");
    r
}

/// The device's NOTIFY number `n` in the dialog `sub` (a SUBSCRIBE) started, with `body`.
fn notify(sub: &str, n: u32, state: &str, body: &str) -> String {
    let to = header(sub, "To");
    let from = if to.contains("tag=") {
        to.to_string()
    } else {
        format!("{to};tag=cam1")
    };
    format!(
        "NOTIFY sip:{SERVER}@10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CAM};branch=z9hG4bKn{n}\r\n\
From: {from}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {n} NOTIFY\r\nEvent: {}\r\n\
Subscription-State: {state}\r\nContent-Type: Application/MANSCDP+xml\r\n\
Content-Length: {}\r\n\r\n{body}",
        header(sub, "From"),
        header(sub, "Call-ID"),
        header(sub, "Event"),
        body.len()
    )
}

pub(super) fn position_body() -> String {
    format!(
        "<?xml version=\"1.0\"?>\r\n<Notify>\r\n<CmdType>MobilePosition</CmdType>\r\n<SN>1</SN>\r\n\
<DeviceID>{DEV}</DeviceID>\r\n<Time>2026-11-23T23:16:12</Time>\r\n<Longitude>116.3</Longitude>\r\n\
<Latitude>39.9</Latitude>\r\n</Notify>\r\n"
    )
}

/// Hands `text` to the driver at `now` as the platform does (a MESSAGE the driver does not
/// take goes to [`Subscriber::device_message`]); whether it took it, and what it answered.
pub(super) fn feed(s: &mut Subscriber, now: Time, text: &str) -> (bool, Vec<String>) {
    let mut h = [Header::EMPTY; 32];
    let msg = parse_datagram(text.as_bytes(), &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    let mut out = Batch::new();
    let taken = if msg.is_request() {
        let taken = s.handle_request(now, &msg, CAM.parse().unwrap(), &mut out);
        if !taken && msg.method() == Some(Method::Message) {
            s.device_message(now, &msg);
        }
        taken
    } else {
        s.handle_response(now, &msg)
    };
    assert!(s.active_matches());
    let msgs = out
        .iter()
        .map(|m| String::from_utf8(m.to_vec()).unwrap())
        .collect();
    (taken, msgs)
}

fn get(s: &mut Subscriber, c: C) -> u64 {
    s.stats_now().get(c)
}

/// A driver subscribed to MobilePosition: its SUBSCRIBE, answered 200 at 20 ms.
fn subscribed(expires_s: u32, granted: u32) -> (Subscriber, String) {
    let mut s = driver(&cfg(&[EventKind::MobilePosition], expires_s));
    let sub = tick(&mut s, ms(0)).remove(0);
    let (taken, answers) = feed(
        &mut s,
        ms(20),
        &respond(&sub, 200, &format!("Expires: {granted}\r\n")),
    );
    assert!(taken && answers.is_empty());
    (s, sub)
}

#[test]
fn the_subscribe_is_wvp_shaped() {
    let mut s = driver(&cfg(&[EventKind::MobilePosition], 3600));
    let sent = tick(&mut s, ms(0));
    assert_eq!(sent.len(), 1);
    let sub = &sent[0];
    assert!(
        sub.starts_with(&format!("SUBSCRIBE sip:{DEV}@{CAM} SIP/2.0\r\n")),
        "{sub}"
    );
    assert!(header(sub, "Via").starts_with("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK"));
    assert!(header(sub, "From").starts_with(&format!("<sip:{SERVER}@3402000000>;tag=s")));
    assert_eq!(header(sub, "To"), format!("<sip:{DEV}@3402000000>"));
    assert!(header(sub, "Call-ID").ends_with("@gbswarm-sub"));
    assert_eq!(header(sub, "CSeq"), "1 SUBSCRIBE");
    assert_eq!(
        header(sub, "Contact"),
        format!("<sip:{SERVER}@10.0.0.1:5060>")
    );
    assert_eq!(header(sub, "Expires"), "3600");
    assert_eq!(header(sub, "Event"), "presence;id=0");
    assert_eq!(header(sub, "Content-Type"), "Application/MANSCDP+xml");
    let body = sub.split("\r\n\r\n").nth(1).unwrap();
    let m = Manscdp::parse(body.as_bytes()).unwrap();
    assert_eq!((m.root, m.cmd_type), (Root::Query, &b"MobilePosition"[..]));
    assert_eq!(m.device_id, Some(DEV.as_bytes()));
    assert!(body.contains("<Interval>5</Interval>"), "{body}");
    assert_eq!(get(&mut s, C::Subscribes), 1);
}

#[test]
fn each_kind_is_subscribed_at_the_rate_with_its_event() {
    let mut s = driver(&cfg(
        &[
            EventKind::Catalog,
            EventKind::MobilePosition,
            EventKind::Alarm,
        ],
        3600,
    ));
    // 10 per second: one every 100 ms.
    let sent = run(&mut s, 0, 250);
    let at: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(at, [0, 100, 200]);
    let events: Vec<&str> = sent.iter().map(|(_, m)| header(m, "Event")).collect();
    assert_eq!(events, ["Catalog;id=0", "presence;id=1", "presence;id=2"]);
    let alarm = &sent[2].1;
    assert!(alarm.contains("<CmdType>Alarm</CmdType>"));
    assert!(alarm.contains("<StartAlarmTime>2026-11-23T23:16:12</StartAlarmTime>"));
    assert!(alarm.contains("<EndAlarmTime>2026-11-24T00:16:12</EndAlarmTime>"));
}

#[test]
fn notifies_at_the_interval_are_answered_counted_and_timed() {
    let (mut s, sub) = subscribed(3600, 3600);
    assert_eq!(s.active(), 1);
    let body = position_body();
    // The first NOTIFY 10 ms after the 200, then every 5 s, the fourth 700 ms late and the
    // fifth 2 s early.
    for (n, at) in [(1, 30), (2, 5_030), (3, 10_030), (4, 15_730), (5, 18_730)] {
        let (taken, answers) = feed(
            &mut s,
            ms(at),
            &notify(&sub, n, "active;expires=3500", &body),
        );
        assert!(taken);
        assert_eq!(answers.len(), 1);
        assert!(
            answers[0].starts_with("SIP/2.0 200 OK\r\n"),
            "{}",
            answers[0]
        );
        assert_eq!(header(&answers[0], "CSeq"), format!("{n} NOTIFY"));
        assert!(header(&answers[0], "To").contains(";tag=s"));
    }
    let st = s.stats_now();
    assert_eq!(st.get(C::NotifyPosition), 5);
    assert_eq!(st.get(C::NotifyBadBody), 0);
    assert_eq!(st.get(C::PositionEarly), 1);
    assert_eq!(st.get(C::SubOk), 1);
    assert_eq!(st.subscribe_to_ok_us.max() / 1000, 20);
    assert_eq!(st.ok_to_first_notify_us.len(), 1);
    assert_eq!(st.ok_to_first_notify_us.max() / 1000, 10);
    assert_eq!(st.position_late_us.len(), 4);
    assert_eq!(st.position_late_us.max() / 1000, 700);
    assert_eq!(st.gauge, Some((0, 1, 0)));
}

#[test]
fn a_lost_200_is_retransmitted_at_t1_doubling_and_a_silent_device_times_out() {
    let mut s = driver(&cfg(&[EventKind::Catalog], 3600));
    let first = tick(&mut s, ms(0)).remove(0);
    let sent = run(&mut s, 1, 3_000);
    let at: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(at, [500, 1500]);
    assert!(
        sent.iter().all(|(_, m)| *m == first),
        "the same request again"
    );
    assert!(feed(&mut s, ms(1600), &respond(&first, 200, "")).0);
    assert!(run(&mut s, 3_001, 10_000).is_empty(), "answered: no more");
    assert_eq!(get(&mut s, C::SubRetransmits), 2);

    // A device that never answers: retransmitted up to T2, given up at Timer F (32 s), tried
    // again 30 s later as a new dialog.
    let mut s = driver(&cfg(&[EventKind::Catalog], 3600));
    let first = tick(&mut s, ms(0)).remove(0);
    let sent = run(&mut s, 1, 62_100);
    let at: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        at,
        [
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 62_000
        ]
    );
    assert_eq!(get(&mut s, C::SubTimeouts), 1);
    let again = &sent.last().unwrap().1;
    assert_ne!(header(again, "Call-ID"), header(&first, "Call-ID"));
    assert_eq!(get(&mut s, C::Subscribes), 2);
}

#[test]
fn the_subscription_is_refreshed_in_its_dialog_before_it_expires() {
    let (mut s, sub) = subscribed(60, 60);
    // 85% of the 60 s granted, from the 200 at 20 ms.
    assert!(run(&mut s, 21, 51_019).is_empty());
    let refresh = tick(&mut s, ms(51_020));
    assert_eq!(refresh.len(), 1, "{refresh:?}");
    let r = &refresh[0];
    assert!(
        r.starts_with(&format!("SUBSCRIBE sip:{DEV}@10.0.0.9:5062 SIP/2.0\r\n")),
        "to the Contact of the 200: {r}"
    );
    assert_eq!(header(r, "Call-ID"), header(&sub, "Call-ID"));
    assert_eq!(header(r, "From"), header(&sub, "From"));
    assert_eq!(header(r, "To"), format!("<sip:{DEV}@3402000000>;tag=cam1"));
    assert_eq!(header(r, "CSeq"), "2 SUBSCRIBE");
    assert_ne!(header(r, "Via"), header(&sub, "Via"), "a new transaction");
    // A late 200 of the first SUBSCRIBE changes nothing.
    assert!(feed(&mut s, ms(51_030), &respond(&sub, 200, "Expires: 60\r\n")).0);
    assert!(feed(&mut s, ms(51_040), &respond(r, 200, "Expires: 30\r\n")).0);
    assert_eq!(s.active(), 1);
    // The next refresh at 85% of the 30 s now granted.
    assert!(run(&mut s, 51_041, 76_539).is_empty());
    assert_eq!(tick(&mut s, ms(76_540)).len(), 1);
    let st = s.stats_now();
    assert_eq!((st.get(C::Refreshes), st.get(C::SubOk)), (2, 2));
}

#[test]
fn a_refused_refresh_loses_the_subscription_and_it_starts_again_later() {
    let (mut s, _) = subscribed(60, 60);
    let refresh = tick(&mut s, ms(51_020)).remove(0);
    assert!(feed(&mut s, ms(51_030), &respond(&refresh, 481, "")).0);
    assert_eq!(s.active(), 0);
    assert!(run(&mut s, 51_031, 81_029).is_empty());
    let again = tick(&mut s, ms(81_030));
    assert_eq!(again.len(), 1);
    assert_eq!(header(&again[0], "To"), format!("<sip:{DEV}@3402000000>"));
    let st = s.stats_now();
    assert_eq!((st.get(C::Sub4xx), st.get(C::Lost)), (1, 1));
}

#[test]
fn a_notify_of_no_known_subscription_gets_481() {
    let (mut s, sub) = subscribed(3600, 3600);
    let stranger = notify(&sub, 1, "active", &position_body())
        .replace(header(&sub, "Call-ID"), "somebody-else@10.0.0.9");
    let (taken, answers) = feed(&mut s, ms(100), &stranger);
    assert!(taken);
    assert!(answers[0].starts_with("SIP/2.0 481 "), "{}", answers[0]);
    // Our Call-ID, but not our tag.
    let from = header(&sub, "From").to_string();
    let wrong_tag = notify(&sub, 2, "active", &position_body())
        .replace(&from, &format!("<sip:{SERVER}@3402000000>;tag=other"));
    let (_, answers) = feed(&mut s, ms(110), &wrong_tag);
    assert!(answers[0].starts_with("SIP/2.0 481 "), "{}", answers[0]);
    // No Via: nothing to answer to, left to the registrar (which drops it).
    let no_via: String = notify(&sub, 3, "active", &position_body())
        .split("\r\n")
        .filter(|l| !l.starts_with("Via:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    assert_eq!(feed(&mut s, ms(120), &no_via), (false, vec![]));
    let st = s.stats_now();
    assert_eq!(
        (st.get(C::NotifyUnknown), st.get(C::NotifyPosition)),
        (2, 0)
    );
}

#[test]
fn a_terminating_notify_ends_the_subscription_until_it_is_made_again() {
    let (mut s, sub) = subscribed(3600, 3600);
    let end = notify(&sub, 1, "terminated;reason=timeout", &position_body());
    let (_, answers) = feed(&mut s, ms(100), &end);
    assert!(answers[0].starts_with("SIP/2.0 200 "));
    assert_eq!(s.active(), 0);
    // Its dialog is over: another NOTIFY in it is unknown.
    let (_, answers) = feed(
        &mut s,
        ms(200),
        &notify(&sub, 2, "active", &position_body()),
    );
    assert!(answers[0].starts_with("SIP/2.0 481 "));
    let again = run(&mut s, 201, 30_100);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].0, 30_100);
    let st = s.stats_now();
    assert_eq!((st.get(C::NotifyTerminated), st.get(C::Subscribes)), (1, 2));
}

#[test]
fn a_notify_before_the_200_counts_with_no_wait_and_a_wrong_body_is_counted() {
    let mut s = driver(&cfg(&[EventKind::Catalog], 3600));
    let sub = tick(&mut s, ms(0)).remove(0);
    let (_, answers) = feed(&mut s, ms(5), &notify(&sub, 1, "active", &position_body()));
    assert!(answers[0].starts_with("SIP/2.0 200 "));
    assert!(feed(&mut s, ms(8), &respond(&sub, 200, "")).0);
    let st = s.stats_now();
    assert_eq!(st.get(C::NotifyCatalog), 1);
    assert_eq!(
        st.get(C::NotifyBadBody),
        1,
        "a MobilePosition body in a Catalog dialog"
    );
    assert_eq!(st.ok_to_first_notify_us.max(), 0);
}

#[test]
fn alarm_messages_outside_a_dialog_are_counted_and_a_device_not_registered_waits() {
    let mut s = driver(&cfg(&[EventKind::Alarm], 3600));
    let alarm = format!(
        "MESSAGE sip:{SERVER}@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP {CAM};branch=z9hG4bKa\r\n\
From: <sip:{DEV}@3402000000>;tag=a\r\nTo: <sip:{SERVER}@3402000000>\r\nCall-ID: a1\r\n\
CSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: 93\r\n\r\n\
<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>{DEV}</DeviceID></Notify>\r\n\r\n\r\n\r\n"
    );
    let (taken, _) = feed(&mut s, ms(1), &alarm);
    assert!(!taken, "the registrar answers it");
    assert_eq!(get(&mut s, C::AlarmMessages), 1);
    // Its retransmission is not another alarm; the device's next one is, as is another
    // device's (not registered here: nothing to tell a retransmission by).
    feed(&mut s, ms(501), &alarm);
    assert_eq!(get(&mut s, C::AlarmMessages), 1);
    feed(
        &mut s,
        ms(601),
        &alarm.replace("Call-ID: a1", "Call-ID: a2"),
    );
    let other = alarm.replace(
        &format!("From: <sip:{DEV}@"),
        "From: <sip:34020000001320000002@",
    );
    feed(&mut s, ms(701), &other);
    feed(&mut s, ms(702), &other);
    assert_eq!(get(&mut s, C::AlarmMessages), 4);

    let mut out = Outbox::default();
    s.handle_timeout(ms(2), &mut |_| None, &mut out);
    assert!(out.is_empty());
    assert_eq!(get(&mut s, C::NotRegistered), 1);
    assert!(run(&mut s, 3, 30_001).is_empty(), "waits 30 s");
    assert_eq!(tick(&mut s, ms(30_002)).len(), 1);
}

#[test]
fn over_tcp_the_subscribe_goes_down_the_connection_and_is_not_retransmitted() {
    let mut s = driver(&cfg(&[EventKind::Alarm], 3600));
    let cam: SocketAddr = CAM.parse().unwrap();
    let mut out = Outbox::default();
    s.handle_timeout(ms(0), &mut |_| Some((cam, Transport::Tcp)), &mut out);
    let sent: Vec<(SocketAddr, Transport, String)> = out
        .messages()
        .map(|(a, t, m)| (a, t, String::from_utf8_lossy(m).into_owned()))
        .collect();
    assert_eq!(sent.len(), 1);
    let (to, transport, sub) = &sent[0];
    assert_eq!((*to, *transport), (cam, Transport::Tcp));
    assert!(
        header(sub, "Via").starts_with("SIP/2.0/TCP 10.0.0.1:5060;"),
        "{sub}"
    );
    assert_eq!(
        header(sub, "Contact"),
        format!("<sip:{SERVER}@10.0.0.1:5060;transport=tcp>")
    );
    // Nothing until Timer F, then a timeout.
    for t in [500, 1_500, 31_999] {
        out.clear();
        s.handle_timeout(ms(t), &mut |_| Some((cam, Transport::Tcp)), &mut out);
        assert!(out.is_empty(), "at {t} ms");
    }
    s.handle_timeout(ms(32_000), &mut |_| Some((cam, Transport::Tcp)), &mut out);
    let st = s.stats_now();
    assert_eq!((st.get(C::SubRetransmits), st.get(C::SubTimeouts)), (0, 1));
}

/// MobilePosition NOTIFYs every 3 s from 30 ms, a refresh sent at 51 020 ms (85% of 60 s).
fn position_every_3s() -> (Subscriber, String) {
    let mut c = cfg(&[EventKind::MobilePosition], 60);
    c.interval_s = 3;
    let mut s = driver(&c);
    let sub = tick(&mut s, ms(0)).remove(0);
    assert!(feed(&mut s, ms(20), &respond(&sub, 200, "Expires: 60\r\n")).0);
    let body = position_body();
    for n in 1..=17 {
        let at = 30 + 3_000 * u64::from(n - 1);
        let (_, a) = feed(&mut s, ms(at), &notify(&sub, n, "active", &body));
        assert!(a[0].starts_with("SIP/2.0 200 "), "{}", a[0]);
    }
    (s, sub)
}

#[test]
fn the_notify_answering_a_refresh_restarts_the_position_schedule_and_is_not_early() {
    let (mut s, sub) = position_every_3s();
    assert!(run(&mut s, 48_031, 51_019).is_empty());
    let refresh = tick(&mut s, ms(51_020)).remove(0);
    let body = position_body();
    // A tick the device sent before it got the refresh, on time (due 51 030).
    feed(&mut s, ms(51_030), &notify(&sub, 18, "active", &body));
    assert!(
        feed(
            &mut s,
            ms(51_040),
            &respond(&refresh, 200, "Expires: 60\r\n")
        )
        .0
    );
    // The NOTIFY the refresh is owed (RFC 6665 §4.2.1.2), 2.9 s before the next tick's due
    // time; then the device's ticks go every 3 s from it.
    feed(&mut s, ms(51_045), &notify(&sub, 19, "active", &body));
    for (n, at) in [(20, 54_045), (21, 57_045)] {
        feed(&mut s, ms(at), &notify(&sub, n, "active", &body));
    }
    let st = s.stats_now();
    assert_eq!(st.get(C::NotifyPosition), 21);
    assert_eq!(
        st.get(C::PositionEarly),
        0,
        "the refresh's NOTIFY is no tick"
    );
    // Timed: every tick but the first and the refresh's, none late.
    assert_eq!(st.position_late_us.len(), 19);
    assert_eq!(st.position_late_us.max(), 0);
}

#[test]
fn after_the_notify_a_refresh_is_owed_an_early_tick_counts_again() {
    let (mut s, sub) = position_every_3s();
    let refresh = tick(&mut s, ms(51_020)).remove(0);
    assert!(
        feed(
            &mut s,
            ms(51_040),
            &respond(&refresh, 200, "Expires: 60\r\n")
        )
        .0
    );
    let body = position_body();
    feed(&mut s, ms(51_045), &notify(&sub, 18, "active", &body));
    // Only that one NOTIFY is let off: a tick 2 s early after it counts.
    feed(&mut s, ms(54_045), &notify(&sub, 19, "active", &body));
    feed(&mut s, ms(55_045), &notify(&sub, 20, "active", &body));
    assert_eq!(get(&mut s, C::PositionEarly), 1);
}

#[test]
fn a_retransmitted_notify_is_answered_again_and_counted_once() {
    let (mut s, sub) = subscribed(3600, 3600);
    let n1 = notify(&sub, 1, "active;expires=3500", &position_body());
    for at in [30, 530, 1_530] {
        let (taken, answers) = feed(&mut s, ms(at), &n1);
        assert!(taken && answers[0].starts_with("SIP/2.0 200 "));
    }
    let n2 = notify(&sub, 2, "active;expires=3495", &position_body());
    feed(&mut s, ms(5_030), &n2);
    let st = s.stats_now();
    assert_eq!(st.get(C::NotifyPosition), 2);
    assert_eq!(
        st.get(C::PositionEarly),
        0,
        "the retransmissions are no ticks"
    );
    assert_eq!(st.position_late_us.len(), 1);
}
