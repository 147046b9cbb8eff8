use super::*;
use crate::camera::{T1, TIMER_F};

#[test]
fn a_catalog_subscribe_gets_200_then_its_channels_page_by_page_in_the_dialog() {
    let mut b = Bench::new(1, 4);
    let got = b.subscribe(at(0), &Sub::new("Catalog"));
    assert_eq!(got.len(), 2, "the 200, then the first NOTIFY");
    let ok = &got[0];
    assert!(ok.first_line().starts_with("SIP/2.0 200"));
    assert_eq!(ok.header("Expires"), "3600");
    assert!(ok.header("Contact").contains(DEV) && ok.header("Contact").contains("10.0.0.7"));
    let tag = ok.to_tag();
    assert_eq!(tag.len(), 16);
    let n = &got[1];
    assert_eq!(n.to, platform());
    assert_eq!(n.device, 0);
    assert_eq!(
        n.first_line(),
        format!("NOTIFY sip:{PLATFORM}@10.0.0.1:5060 SIP/2.0")
    );
    assert_eq!(
        n.header("From"),
        format!("<sip:{DEV}@3402000000>;tag={tag}")
    );
    assert_eq!(
        n.header("To"),
        format!("<sip:{PLATFORM}@3402000000>;tag=wvp1")
    );
    assert_eq!(n.header("Call-ID"), "sub-call-1");
    assert_eq!(n.header("CSeq"), "1 NOTIFY");
    assert_eq!(n.header("Event"), "Catalog;id=7");
    assert_eq!(n.header("Subscription-State"), "active;expires=3600");
    assert_eq!(n.header("Content-Type"), "Application/MANSCDP+xml");
    assert_eq!(n.element("CmdType").as_deref(), Some("Catalog"));
    assert_eq!(n.element("SumNum").as_deref(), Some("4"));
    assert_eq!(n.element("Event").as_deref(), Some("ADD"));
    assert!(n.text().contains("<DeviceList Num=\"2\">"));
    // One NOTIFY in flight: the second page waits for the first's 200.
    let next = b.respond(at(3), &n.answer(200));
    assert_eq!(b.table.records().len(), 1);
    let r = b.table.records()[0];
    assert_eq!(
        (r.kind, r.outcome, r.latency),
        (TxnKind::Notify, Outcome::Status(200), 3 * MS)
    );
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].header("CSeq"), "2 NOTIFY");
    assert!(next[0].text().contains("<Name>Camera 3</Name>"));
    let done = b.respond(at(4), &next[0].answer(200));
    assert!(done.is_empty());
    assert_eq!(b.table.active(), 1);
    assert_eq!(b.table.counters().notify_catalog, 2);
    assert_eq!(b.table.counters().accepted, 1);
    // Nothing more until the subscription expires (no flaps).
    assert_eq!(b.table.poll_timeout(), Some(at(3_600_000)));
}

#[test]
fn a_retransmitted_subscribe_gets_the_same_answer_and_nothing_more() {
    let mut b = Bench::new(1, 4);
    let first = b.subscribe(at(0), &Sub::new("Alarm"));
    let again = b.subscribe(at(500), &Sub::new("Alarm"));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].bytes, first[0].bytes);
    assert_eq!(b.table.counters().retransmits, 1);
    assert_eq!(b.table.counters().subscribes, 1);
}

#[test]
fn a_refresh_grants_the_new_expiry_and_sends_the_state_again() {
    let mut b = Bench::new(1, 4);
    let (ok, _) = b.subscribed(at(0), &Sub::new("Alarm"));
    let tag = ok.to_tag();
    let refresh = Sub {
        branch: "z9hG4bKsub2",
        cseq: 2,
        to_tag: Some(&tag),
        expires: Some(600),
        ..Sub::new("Alarm")
    };
    let got = b.subscribe(at(1000), &refresh);
    assert_eq!(got.len(), 2);
    assert!(got[0].first_line().starts_with("SIP/2.0 200"));
    assert_eq!(got[0].header("Expires"), "600");
    assert_eq!(got[1].header("Subscription-State"), "active;expires=600");
    assert_eq!(got[1].header("CSeq"), "2 NOTIFY");
    assert_eq!(got[1].element("CmdType").as_deref(), Some("Alarm"));
    assert!(
        got[1].element("AlarmPriority").is_none(),
        "the Alarm state NOTIFY has no alarm"
    );
    assert_eq!(b.table.counters().refreshed, 1);
    b.respond(at(1001), &got[1].answer(200));
    assert_eq!(b.table.poll_timeout(), Some(at(601_000)));
}

#[test]
fn expires_zero_ends_it_with_a_terminated_notify() {
    let mut b = Bench::new(1, 4);
    let (ok, _) = b.subscribed(at(0), &Sub::new("MobilePosition"));
    let tag = ok.to_tag();
    let bye = Sub {
        branch: "z9hG4bKsub3",
        cseq: 2,
        to_tag: Some(&tag),
        expires: Some(0),
        ..Sub::new("MobilePosition")
    };
    let got = b.subscribe(at(2000), &bye);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("Expires"), "0");
    assert_eq!(
        got[1].header("Subscription-State"),
        "terminated;reason=timeout"
    );
    assert_eq!(got[1].element("CmdType").as_deref(), Some("MobilePosition"));
    assert!(
        got[1].element("Longitude").is_some(),
        "the position at the end"
    );
    assert_eq!(b.table.active(), 1, "until the final NOTIFY is answered");
    assert!(b.respond(at(2001), &got[1].answer(200)).is_empty());
    assert_eq!(b.table.active(), 0);
    assert_eq!(b.table.poll_timeout(), None);
    assert_eq!(b.table.counters().unsubscribed, 1);
    // The dialog is gone: another refresh gets 481.
    let late = Sub {
        branch: "z9hG4bKsub4",
        cseq: 3,
        to_tag: Some(&tag),
        ..Sub::new("MobilePosition")
    };
    let got = b.subscribe(at(3000), &late);
    assert!(got[0].first_line().starts_with("SIP/2.0 481"));
}

#[test]
fn refusals_unknown_dialog_unknown_event_full_table() {
    let mut b = Bench::new(1, 1);
    let stray = Sub {
        to_tag: Some("nope"),
        ..Sub::new("Catalog")
    };
    assert!(
        b.subscribe(at(0), &stray)[0]
            .first_line()
            .starts_with("SIP/2.0 481")
    );
    let weird = Sub::new("RecordInfo");
    let got = b.subscribe(at(0), &weird);
    assert_eq!(got[0].first_line(), "SIP/2.0 489 Bad Event");
    assert_eq!(got[0].header("Allow-Events"), "Catalog, presence");
    b.subscribed(at(0), &Sub::new("Catalog"));
    let second = Sub {
        call: "sub-call-2",
        ..Sub::new("Alarm")
    };
    let got = b.subscribe(at(1), &second);
    assert!(got[0].first_line().starts_with("SIP/2.0 503"));
    assert_eq!(got[0].header("Retry-After"), "60");
    let c = b.table.counters();
    assert_eq!((c.unknown_dialog, c.bad_event, c.refused), (1, 1, 1));
}

#[test]
fn an_unanswered_notify_is_retransmitted_then_times_out_and_ends_the_subscription() {
    let mut b = Bench::new(1, 4);
    let got = b.subscribe(at(0), &Sub::new("Alarm"));
    let notify = got[1].bytes.clone();
    assert_eq!(b.table.poll_timeout(), Some(at(0) + T1));
    // Nothing just before T1; the same NOTIFY at T1, then at 1.5 s, 3.5 s...
    assert!(b.timer(at(499)).is_empty());
    let mut sends = vec![];
    while let Some(t) = b.table.poll_timeout()
        && t < at(0) + TIMER_F
    {
        let got = b.timer(t);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bytes, notify);
        sends.push(t.as_millis());
    }
    assert_eq!(&sends[..4], &[500, 1500, 3500, 7500]);
    assert!(b.timer(at(0) + TIMER_F).is_empty());
    let r = b.table.records()[0];
    assert_eq!((r.kind, r.outcome), (TxnKind::Notify, Outcome::Timeout));
    assert_eq!(r.retransmits as usize, sends.len());
    assert_eq!(b.table.active(), 0);
    assert_eq!(b.table.counters().dropped, 1);
}

#[test]
fn a_subscription_not_refreshed_expires_with_a_terminated_notify() {
    let mut b = Bench::new(1, 4);
    let sub = Sub {
        expires: Some(60),
        ..Sub::new("Alarm")
    };
    b.subscribed(at(0), &sub);
    assert_eq!(b.table.poll_timeout(), Some(at(60_000)));
    assert!(b.timer(at(59_999)).is_empty());
    let got = b.timer(at(60_000));
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("Subscription-State"),
        "terminated;reason=timeout"
    );
    b.respond(at(60_010), &got[0].answer(200));
    assert_eq!(b.table.active(), 0);
    assert_eq!(b.table.counters().expired, 1);
    // A Catalog one ends with its kind's body too: no channel listed.
    let sub = Sub {
        call: "sub-call-2",
        expires: Some(30),
        ..Sub::new("Catalog")
    };
    b.subscribed(at(61_000), &sub);
    let got = b.timer(at(91_000));
    assert_eq!(
        got[0].header("Subscription-State"),
        "terminated;reason=timeout"
    );
    assert_eq!(got[0].element("SumNum").as_deref(), Some("0"));
    assert!(got[0].text().contains("<DeviceList Num=\"0\">"));
}

#[test]
fn a_481_to_a_notify_ends_the_subscription() {
    let mut b = Bench::new(1, 4);
    let got = b.subscribe(at(0), &Sub::new("Alarm"));
    b.respond(at(5), &got[1].answer(481));
    assert_eq!(b.table.active(), 0);
    assert_eq!(b.table.counters().dropped, 1);
}

#[test]
fn halting_sends_nothing_more_and_repeats_nothing_of_the_last_call() {
    let mut b = Bench::new(1, 4);
    let got = b.subscribe(at(0), &Sub::new("MobilePosition"));
    b.respond(at(1), &got[1].answer(200));
    assert_eq!(b.table.records().len(), 1);
    b.table.halt();
    assert!(b.table.sends().is_empty() && b.table.records().is_empty());
    // The tick at 5 s does not go, and nothing wakes the host any more.
    assert_eq!(b.table.poll_timeout(), None);
    assert!(b.timer(at(5000)).is_empty());
    assert_eq!(b.table.poll_timeout(), None);
    // What is still in flight at the end is abandoned, and booked once.
    let mut b = Bench::new(1, 4);
    b.subscribe(at(0), &Sub::new("Alarm"));
    b.table.abandon(at(100));
    let r = b.table.records()[0];
    assert_eq!((r.kind, r.outcome), (TxnKind::Notify, Outcome::Abandoned));
}

#[test]
fn over_tcp_a_notify_is_not_retransmitted_and_times_out_at_timer_f() {
    let mut b = Bench::new(1, 4);
    b.devs[0].transport = Transport::Tcp;
    let got = b.subscribe(at(0), &Sub::new("Alarm"));
    assert!(got[1].header("Via").starts_with("SIP/2.0/TCP "));
    assert_eq!(b.table.poll_timeout(), Some(at(0) + TIMER_F));
    assert!(b.timer((at(0) + TIMER_F).minus(MS)).is_empty());
    assert!(b.timer(at(0) + TIMER_F).is_empty());
    let r = b.table.records()[0];
    assert_eq!((r.outcome, r.retransmits), (Outcome::Timeout, 0));
}

#[test]
fn a_provisional_answer_slows_retransmissions_to_t2() {
    let mut b = Bench::new(1, 4);
    let got = b.subscribe(at(0), &Sub::new("Alarm"));
    assert!(b.respond(at(100), &got[1].answer(100)).is_empty());
    assert_eq!(b.table.poll_timeout(), Some(at(4100)));
    assert_eq!(b.timer(at(4100)).len(), 1);
    assert_eq!(b.table.poll_timeout(), Some(at(8100)));
}

#[test]
fn a_rebooting_device_forgets_its_subscriptions() {
    let mut b = Bench::new(1, 4);
    b.subscribed(at(0), &Sub::new("Catalog"));
    let second = Sub {
        call: "sub-call-2",
        ..Sub::new("MobilePosition")
    };
    let (ok, _) = b.subscribed(at(0), &second);
    // The next position NOTIFY is in flight when the device goes down.
    assert_eq!(b.timer(at(5000)).len(), 1);
    assert!(!b.table.device_down(at(5100), 7), "another device: nothing");
    assert!(b.table.device_down(at(5100), 0));
    assert!(b.table.sends().is_empty(), "no final NOTIFY");
    let r = b.table.records();
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].kind, r[0].outcome),
        (TxnKind::Notify, Outcome::Abandoned)
    );
    assert_eq!((b.table.active(), b.table.counters().dropped), (0, 2));
    assert_eq!(b.table.poll_timeout(), None);
    // The platform's refresh then finds no subscription.
    let tag = ok.to_tag();
    let refresh = Sub {
        branch: "z9hG4bKsub9",
        cseq: 2,
        to_tag: Some(&tag),
        ..second
    };
    assert!(
        b.subscribe(at(6000), &refresh)[0]
            .first_line()
            .starts_with("SIP/2.0 481")
    );
}
