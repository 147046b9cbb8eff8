use super::*;
use crate::gb::GbVersion;

fn position_sub<'a>() -> Sub<'a> {
    Sub {
        extra_body: "<Interval>5</Interval>\r\n",
        ..Sub::new("MobilePosition")
    }
}

fn positions(version: GbVersion) {
    let mut b = Bench::new(1, 4);
    b.cfg.gb_version = version;
    let (_, first) = b.subscribed(at(0), &position_sub());
    assert_eq!(first.len(), 1, "the position at once");
    let list = version == GbVersion::V2022;
    let coords = |n: &Sent| {
        let body = n.body();
        let scope = if list {
            crate::gb::manscdp::element(&body, b"Item")
                .unwrap()
                .to_vec()
        } else {
            body.clone()
        };
        let get = |t: &[u8]| {
            String::from_utf8_lossy(crate::gb::manscdp::element(&scope, t).unwrap()).into_owned()
        };
        (get(b"Longitude"), get(b"Latitude"), get(b"Direction"))
    };
    let mut last = coords(&first[0]);
    assert_eq!(first[0].text().contains("<ItemList Num=\"1\">"), list);
    // Flat: the fields under the root; list: inside the item.
    let text = first[0].text();
    let inside = text
        .find("<Item>")
        .is_some_and(|i| text.find("<Longitude>") > Some(i));
    assert_eq!(inside, list);
    for tick in 1..=3u64 {
        let due = at(tick * 5000);
        assert_eq!(b.table.poll_timeout(), Some(due));
        // Nothing at T-1, the NOTIFY at T.
        assert!(b.timer(due.minus(Span::from_micros(1))).is_empty());
        let got = b.timer(due);
        assert_eq!(got.len(), 1);
        let n = &got[0];
        assert_eq!(n.header("CSeq"), format!("{} NOTIFY", tick + 1));
        assert_eq!(n.header("Event"), "presence");
        assert_eq!(n.element("CmdType").as_deref(), Some("MobilePosition"));
        let now = coords(n);
        assert_ne!(now, last, "it moved");
        last = now;
        b.respond(due + 20 * MS, &n.answer(200));
        let r = b.table.records()[0];
        assert_eq!(
            (r.kind, r.latency, r.lag),
            (TxnKind::Notify, 20 * MS, Span::ZERO)
        );
    }
    assert_eq!(b.table.counters().notify_position, 4);
}

#[test]
fn mobile_position_notifies_every_interval_with_a_moving_position_2016_flat() {
    positions(GbVersion::V2016);
}

#[test]
fn mobile_position_notifies_every_interval_with_a_moving_position_2022_list() {
    positions(GbVersion::V2022);
}

#[test]
fn a_tick_missed_while_a_notify_is_unanswered_is_skipped() {
    let mut b = Bench::new(1, 4);
    let got = b.subscribe(at(0), &position_sub());
    let first = got[1].clone();
    // Unanswered for 12 s (retransmitted meanwhile): the ticks at 5 s and 10 s wait.
    let mut t = at(0);
    while let Some(w) = b.table.poll_timeout()
        && w <= at(12_000)
    {
        t = w;
        for s in b.timer(w) {
            assert_eq!(s.bytes, first.bytes, "only retransmissions");
        }
    }
    assert!(t >= at(10_000));
    let got = b.respond(at(12_000), &first.answer(200));
    assert_eq!(got.len(), 1, "the 10 s tick, late");
    b.respond(at(12_001), &got[0].answer(200));
    let r = b.table.records()[0];
    assert_eq!((r.latency, r.lag), (2001 * MS, 2000 * MS));
    assert_eq!(b.table.counters().positions_skipped, 1);
    assert_eq!(b.table.poll_timeout(), Some(at(15_000)));
}

#[test]
fn a_catalog_subscription_reports_a_channel_going_off_then_on() {
    let mut b = Bench::new(1, 4);
    b.flap(60.0);
    b.subscribed(at(0), &Sub::new("Catalog"));
    let flap = b.cfg.channel_flap;
    let mut now = at(0);
    for _ in 0..2 {
        let c = flap.next_change(0, 4, now).unwrap();
        assert_eq!(b.table.poll_timeout(), Some(c.at));
        assert!(b.timer(c.at.minus(Span::from_micros(1))).is_empty());
        let got = b.timer(c.at);
        assert_eq!(got.len(), 1);
        let n = &got[0];
        let (status, event) = if c.online {
            ("ON", "ON")
        } else {
            ("OFF", std::str::from_utf8(c.cause.event()).unwrap())
        };
        assert_eq!(n.element("Event").as_deref(), Some(event));
        assert_eq!(n.element("Status").as_deref(), Some(status));
        assert_eq!(n.element("SumNum").as_deref(), Some("1"));
        let dev: crate::gb::DeviceId = DEV.parse().unwrap();
        let ch = dev.channel(c.channel, 4);
        assert_eq!(n.element("DeviceID").as_deref(), Some(DEV));
        assert!(n.text().contains(&format!("<DeviceID>{ch}</DeviceID>")));
        b.respond(c.at + MS, &n.answer(200));
        now = c.at;
    }
    // The first change after the SUBSCRIBE takes a channel off line (or brings back the one
    // that was off); either way the two changes are opposite and 30 s apart once started.
    assert_eq!(b.table.counters().notify_catalog, 2 + 2);
}

#[test]
fn an_alarm_without_a_subscription_goes_as_a_message_to_the_registrar() {
    let mut b = Bench::new(1, 4);
    b.alarms(
        Alarms {
            period: Alarms::period_of(3600.0),
            burst: None,
        },
        4,
    );
    assert_eq!(b.table.poll_timeout(), Some(at(0)));
    let got = b.timer(at(0));
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.to, platform());
    assert_eq!(
        m.first_line(),
        format!("MESSAGE sip:{PLATFORM}@3402000000 SIP/2.0")
    );
    assert_eq!(m.element("CmdType").as_deref(), Some("Alarm"));
    assert!(m.text().contains("<Notify>"));
    assert!(m.element("AlarmTime").is_some() && m.element("AlarmType").is_some());
    assert_eq!(
        b.table.poll_timeout(),
        Some(at(500)),
        "its retransmission first"
    );
    b.respond(at(7), &m.answer(200));
    let r = b.table.records()[0];
    assert_eq!(
        (r.kind, r.outcome, r.latency),
        (TxnKind::Alarm, Outcome::Status(200), 7 * MS)
    );
    assert_eq!(b.table.poll_timeout(), Some(at(1000)), "the next alarm");
    let c = b.table.counters();
    assert_eq!((c.alarms, c.alarm_messages), (1, 1));
}

#[test]
fn an_alarm_with_a_subscription_goes_as_a_notify_in_it() {
    let mut b = Bench::new(1, 4);
    b.alarms(
        Alarms {
            period: Alarms::period_of(3600.0),
            burst: None,
        },
        4,
    );
    let (ok, _) = b.subscribed(at(0), &Sub::new("Alarm"));
    let got = b.timer(at(0));
    assert_eq!(got.len(), 1);
    let n = &got[0];
    assert!(n.first_line().starts_with("NOTIFY "));
    assert!(n.header("From").ends_with(&ok.to_tag()));
    assert_eq!(n.element("CmdType").as_deref(), Some("Alarm"));
    assert_eq!(n.header("CSeq"), "2 NOTIFY");
    b.respond(at(3), &n.answer(200));
    assert_eq!(b.table.records()[0].kind, TxnKind::Notify);
    let c = b.table.counters();
    assert_eq!((c.alarms, c.alarm_messages, c.notify_alarm), (1, 0, 2));
    // A device that is not registered raises none.
    b.devs[0].online = false;
    assert!(b.timer(at(1000)).is_empty());
    assert_eq!(b.table.counters().alarms_offline, 1);
}

#[test]
fn a_burst_raises_n_alarms_per_device_at_once_as_slots_allow() {
    let mut b = Bench::new(2, 4);
    b.alarms(
        Alarms {
            period: Span::ZERO,
            burst: Some(Burst {
                count: 3,
                at: Span::from_secs(10),
            }),
        },
        4,
    );
    assert_eq!(b.table.poll_timeout(), Some(at(10_000)));
    assert!(b.timer(at(9_999)).is_empty());
    let first = b.timer(at(10_000));
    assert_eq!(first.len(), 4, "as many as there are alarm slots");
    assert_eq!(
        first.iter().map(|s| s.device).collect::<Vec<_>>(),
        [0, 0, 0, 1]
    );
    // The rest wait for a slot, not for a timer.
    assert_eq!(b.table.poll_timeout(), Some(at(10_500)));
    let more = b.respond(at(10_040), &first[0].answer(200));
    assert_eq!(more.len(), 1);
    let more2 = b.respond(at(10_050), &first[1].answer(200));
    assert_eq!(more2.len(), 1);
    assert_eq!([more[0].device, more2[0].device], [1, 1]);
    assert!(b.respond(at(10_060), &first[2].answer(200)).is_empty());
    b.respond(at(10_070), &more2[0].answer(200));
    let r = b.table.records()[0];
    // Due at 10 s, sent at 10.05 s when a slot freed, answered at 10.07 s.
    assert_eq!((r.latency, r.lag), (70 * MS, 50 * MS));
    assert_eq!(b.table.counters().alarms, 6);
    assert_eq!(b.table.poll_timeout(), Some(at(10_500)));
}

#[test]
fn a_challenged_alarm_message_is_sent_again_with_credentials_which_the_next_reuses() {
    use crate::sip::digest;
    let mut b = Bench::new(1, 4);
    b.alarms(
        Alarms {
            period: Alarms::period_of(3600.0),
            burst: None,
        },
        4,
    );
    let first = b.timer(at(0)).remove(0);
    assert!(first.header("Authorization").is_empty());
    let challenge = |m: &Sent| {
        m.with(|req| {
            let mut www = Vec::new();
            digest::write_challenge(
                &mut www,
                b"3402000000",
                b"n0nce",
                None,
                true,
                false,
                digest::Algorithm::MD5,
            );
            let mut out = Vec::new();
            let mut w = response_to(&mut out, req, 401, Some(b"srv"), None);
            w.header(b"WWW-Authenticate", &www);
            w.finish(b"");
            out
        })
    };
    let again = b.respond(at(5), &challenge(&first));
    assert_eq!(again.len(), 1);
    let a = &again[0];
    assert_eq!(a.header("Call-ID"), first.header("Call-ID"));
    assert_eq!(a.header("CSeq"), "2 MESSAGE");
    assert_ne!(a.header("Via"), first.header("Via"), "a new branch");
    assert_eq!(a.body(), first.body(), "the same alarm");
    let ok = a.with(|m| {
        let auth = m.authorization().expect("credentials");
        let dev = b.devs[0].id;
        let ha1 = digest::ha1(
            digest::Algorithm::MD5,
            dev.as_bytes(),
            &auth.realm.unwrap(),
            b.cfg.password_of(0),
        );
        digest::verify(&auth, b"MESSAGE", &ha1)
    });
    assert!(ok, "valid credentials");
    assert!(b.table.records().is_empty(), "one transaction over both");
    b.respond(at(9), &a.answer(200));
    let r = b.table.records()[0];
    assert_eq!(
        (r.kind, r.outcome, r.latency, r.lag),
        (TxnKind::Alarm, Outcome::Status(200), 9 * MS, Span::ZERO)
    );
    // The next alarm carries credentials at once (the nonce's next count)...
    let next = b.timer(at(1000)).remove(0);
    assert!(
        next.header("Authorization").contains("nc=00000002"),
        "{}",
        next.text()
    );
    // ...and a challenge to an answer ends it with its status.
    let again = b.respond(at(1002), &challenge(&next));
    let last = &again[0];
    assert!(b.respond(at(1004), &challenge(last)).is_empty());
    let r = b.table.records()[0];
    assert_eq!((r.kind, r.outcome), (TxnKind::Alarm, Outcome::Status(401)));
}

#[test]
fn a_position_refresh_sends_the_position_at_once_and_restarts_the_ticks_from_itself() {
    let mut b = Bench::new(1, 4);
    let (ok, first) = b.subscribed(at(0), &position_sub());
    b.respond(at(1), &first[0].answer(200));
    let got = b.timer(at(5000));
    b.respond(at(5001), &got[0].answer(200));
    // Refreshed 2.2 s into an interval: the position at once, the next tick 5 s later, not at
    // the old schedule's 10 s (a platform times its ticks from the refresh's NOTIFY).
    let tag = ok.to_tag();
    let refresh = Sub {
        branch: "z9hG4bKsub2",
        cseq: 2,
        to_tag: Some(&tag),
        ..position_sub()
    };
    let got = b.subscribe(at(7200), &refresh);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].element("CmdType").as_deref(), Some("MobilePosition"));
    b.respond(at(7201), &got[1].answer(200));
    assert_eq!(b.table.poll_timeout(), Some(at(12_200)));
    assert!(b.timer(at(10_000)).is_empty());
    assert_eq!(b.timer(at(12_200)).len(), 1);
    assert_eq!(b.table.counters().notify_position, 4);
}
