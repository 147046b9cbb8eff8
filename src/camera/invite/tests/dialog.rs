//! After the answer: ACK and Timer H, CANCEL on either side of the 200, BYE from the platform
//! and from the device (retransmitted until answered, Timer F).

use super::*;

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
fn a_cancel_before_the_200_gets_200_and_the_invite_487_whose_ack_is_absorbed() {
    let cfg = config(1, Span::from_secs(1));
    let mut b = Bench::new(2, cfg);
    b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let mut cancel = Req::invite("c1", "");
    cancel.method = "CANCEL";
    cancel.extra = "";
    let got = b.feed(at(100), &cancel.bytes());
    assert_eq!(codes(&got), [200, 487]);
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
    assert_eq!(codes(&c), [200]);
    assert_eq!(header(&c[0], "CSeq"), "20 CANCEL");
    let after = b.feed(at(20), &ack("c1", &got[1]));
    assert!(matches!(after[1], Got::Start(..)));
    assert_eq!(b.t.counters().cancelled, 0);
    // A CANCEL for nothing: 481.
    let mut stray = Req::invite("c9", "");
    stray.method = "CANCEL";
    assert_eq!(codes(&b.feed(at(30), &stray.bytes())), [481]);
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
fn over_tcp_the_200_is_still_retransmitted_but_errors_and_the_bye_are_not() {
    let mut b = Bench::std();
    b.sip = Transport::Tcp;
    let ok = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes())[1].clone();
    // RFC 3261 §13.3.1.4: the UAS core retransmits a 2xx over any transport.
    let fired = b.run_until(at(1500));
    assert_eq!(fired, [(500, vec![ok.clone()]), (1500, vec![ok.clone()])]);
    let Got::Acked(s, _) = b.feed(at(1600), &ack("c1", &ok))[0] else {
        panic!()
    };
    let busy = b.feed(at(1700), &Req::invite("c2", UDP_OFFER).bytes());
    assert_eq!(codes(&busy), [100, 486]);
    let bye = b.ended(at(2000), s);
    assert!(bye[1].text().starts_with("BYE "));
    assert!(header(&bye[1], "Via").starts_with("SIP/2.0/TCP 10.0.0.9:5060;"));
    // Nothing more until Timer H frees the 486 and Timer F the BYE.
    let fired = b.run_until(at(60_000));
    assert_eq!(fired, [(33_700, vec![]), (34_000, vec![])]);
    assert_eq!(b.t.in_use(), 0);
    assert_eq!(b.t.counters().bye_timeouts, 1);
}

#[test]
fn a_rebooting_device_drops_its_sessions_without_a_bye_and_the_platforms_bye_gets_481() {
    let mut b = Bench::new(4, config(2, Span::ZERO));
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let Got::Acked(s, _) = b.feed(at(10), &ack("c1", &got[1]))[0] else {
        panic!()
    };
    // A second INVITE answered, not yet acknowledged.
    assert_eq!(
        codes(&b.feed(at(20), &Req::invite("c2", UDP_OFFER).bytes())),
        [100, 200]
    );
    assert!(!b.t.device_down(at(900), 8), "another device's: nothing");
    assert!(b.t.device_down(at(1000), 7));
    // The live stream stops; nothing is sent (the device just went away).
    assert_eq!(b.settle(at(1000)), [Got::Stop(s)]);
    let r = b.t.records();
    assert_eq!(r.len(), 1, "the unacknowledged INVITE: {r:?}");
    assert_eq!(
        (r[0].kind, r[0].outcome),
        (TxnKind::Invite, Outcome::Abandoned)
    );
    assert_eq!((b.t.in_use(), b.t.poll_timeout()), (0, None));
    assert_eq!(b.t.counters().dropped_on_reboot, 2);
    assert_eq!(b.t.counters().byes_sent, 0);
    assert!(!b.t.device_down(at(1100), 7), "nothing left");
    // The platform's BYE later finds no dialog.
    let tag = to_tag(&got[1]);
    let bye = Req::in_dialog("BYE", "c1", &tag, 21);
    assert_eq!(codes(&b.feed(at(2000), &bye.bytes())), [481]);
}
