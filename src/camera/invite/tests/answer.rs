//! What an INVITE gets: 100 then 200 with the answer (retransmitted until the ACK), the same
//! response again for a retransmission, and 404, 486 and 488 when it cannot be served.

use super::*;
use crate::gb::sdp::Direction;

#[test]
fn an_invite_gets_100_then_a_200_with_the_answer_and_udp_media_starts_at_the_ack() {
    let mut b = Bench::std();
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    assert_eq!(codes(&got), [100, 200]);
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
fn tcp_passive_media_connects_after_the_ack_and_tcp_active_listens_before_the_200() {
    let cfg = config(2, Span::ZERO);
    let mut b = Bench::new(2, cfg);
    let offer = tcp_offer("passive");
    let got = b.feed(T0, &Req::invite("c1", &offer).bytes());
    assert_eq!(codes(&got), [100, 200]);
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
fn without_tcp_media_a_tcp_offer_gets_488_and_starts_nothing_while_udp_is_answered() {
    let cfg = PlayConfig {
        tcp_media: false,
        ..config(2, Span::ZERO)
    };
    // Each 488 keeps its slot until the ACK or Timer H: a third slot for the UDP offer.
    let mut b = Bench::new(3, cfg);
    for (call, setup) in [("c1", "passive"), ("c2", "active")] {
        let got = b.feed(T0, &Req::invite(call, &tcp_offer(setup)).bytes());
        assert_eq!(codes(&got), [100, 488], "{setup}");
        assert!(got.iter().all(|g| !matches!(g, Got::Start(..))), "{got:?}");
        let kept = b.t.actions().iter().find_map(|a| match a {
            Action::Send(t) if b.t.device_of(t).is_some() => b.t.device_of(t),
            _ => None,
        });
        assert_eq!(kept, Some(7), "the 488 is kept in the slot, from device 7");
    }
    assert_eq!(b.t.counters().not_acceptable, 2);
    let got = b.feed(at(5), &Req::invite("c3", UDP_OFFER).bytes());
    assert_eq!(codes(&got), [100, 200]);
}

#[test]
fn a_retransmitted_invite_gets_the_last_response_again_and_no_second_session() {
    let cfg = config(4, 200 * MS);
    let mut b = Bench::new(4, cfg);
    let invite = Req::invite("c1", UDP_OFFER).bytes();
    let got = b.feed(T0, &invite);
    assert_eq!(codes(&got), [100]);
    assert_eq!(codes(&b.feed(at(100), &invite)), [100]);
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
fn busy_beyond_the_stream_cap_and_the_slot_is_reused_after_bye() {
    let mut b = Bench::new(2, PlayConfig::default());
    let a = b.feed(T0, &Req::invite("a", UDP_OFFER).bytes());
    let acked = b.feed(at(1), &ack("a", &a[1]));
    let Got::Acked(first, _) = acked[0] else {
        panic!()
    };
    let busy = b.feed(at(2), &Req::invite("b", UDP_OFFER).bytes());
    assert_eq!(codes(&busy), [100, 486]);
    assert!(b.feed(at(3), &ack("b", &busy[1])).is_empty());
    let tag = to_tag(&a[1]);
    let bye = b.feed(at(4), &Req::in_dialog("BYE", "a", &tag, 21).bytes());
    assert_eq!(bye[0].text().lines().next(), Some("SIP/2.0 200 OK"));
    assert_eq!(header(&bye[0], "CSeq"), "21 BYE");
    assert_eq!(bye[1], Got::Stop(first));
    assert_eq!(b.t.in_use(), 0);
    // The same BYE again: the dialog is gone.
    let again = b.feed(at(5), &Req::in_dialog("BYE", "a", &tag, 21).bytes());
    assert_eq!(codes(&again), [481]);
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
    assert_eq!(codes(&got), [100, 486]);
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
        assert_eq!(codes(&got), [100, 488], "{body}");
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
fn a_re_invite_is_refused_and_requests_without_identifiers_get_400() {
    let mut b = Bench::std();
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let tag = to_tag(&got[1]);
    let mut re = Req::invite("c1", UDP_OFFER);
    re.to_tag = Some(&tag);
    re.branch = "z9hG4bKre";
    re.cseq = 21;
    assert_eq!(codes(&b.feed(at(1), &re.bytes())), [488]);
    re.call = "c9";
    assert_eq!(codes(&b.feed(at(2), &re.bytes())), [481]);
    let raw = format!(
        "INVITE sip:{CH}@10.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx\r\n\
From: <sip:{PLATFORM}@d>;tag=a\r\nTo: <sip:{CH}@d>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(codes(&b.feed(at(3), raw.as_bytes())), [400]);
    assert_eq!(b.t.counters().malformed, 1);
}

#[test]
fn wvp_offers_get_their_transport_ssrc_and_kind_in_start_media() {
    let offers: [(&str, MediaTransport, u16, u32, SessionKind); 5] = [
        (
            include_str!("../../../../tests/fixtures/sdp/play-udp-wvp.sdp"),
            MediaTransport::Udp,
            30000,
            200_003_792,
            SessionKind::Play,
        ),
        (
            include_str!("../../../../tests/fixtures/sdp/play-tcp-passive-wvp.sdp"),
            MediaTransport::TcpPassive,
            30002,
            200_003_793,
            SessionKind::Play,
        ),
        (
            include_str!("../../../../tests/fixtures/sdp/play-tcp-active-senior-wvp.sdp"),
            MediaTransport::TcpActive,
            30004,
            200_003_794,
            SessionKind::Play,
        ),
        (
            include_str!("../../../../tests/fixtures/sdp/playback-udp-wvp.sdp"),
            MediaTransport::Udp,
            30006,
            1_200_000_001,
            SessionKind::Playback,
        ),
        (
            include_str!("../../../../tests/fixtures/sdp/download-tcp-passive-wvp.sdp"),
            MediaTransport::TcpPassive,
            30008,
            1_200_000_002,
            SessionKind::Download,
        ),
    ];
    for (offer, transport, port, ssrc, kind) in offers {
        let mut b = Bench::std();
        let got = b.feed(T0, &Req::invite("c1", offer).bytes());
        let ok = got.iter().find(|g| status(g) == 200).unwrap().clone();
        let mut all = got;
        all.extend(b.feed(at(1), &ack("c1", &ok)));
        let start = all.iter().find_map(|g| match g {
            Got::Start(_, t, to, s) => Some((*t, to.port(), *s)),
            _ => None,
        });
        assert_eq!(start, Some((transport, port, ssrc)), "{offer}");
        let started = b.t.slots.iter().find(|s| s.media_on).map(|s| s.kind);
        assert_eq!(started, Some(kind));
    }
}

#[test]
fn without_y_the_ssrc_comes_from_the_subject() {
    let mut b = Bench::std();
    let offer = UDP_OFFER.replace("y=0200003792\r\n", "");
    let subject =
        format!("Subject: {CH}:0200000077,{PLATFORM}:0\r\nContent-Type: application/sdp\r\n");
    let mut r = Req::invite("c1", &offer);
    r.extra = &subject;
    let got = b.feed(T0, &r.bytes());
    assert!(!body(&got[1]).contains("y="));
    let after = b.feed(at(1), &ack("c1", &got[1]));
    assert!(
        matches!(after[1], Got::Start(_, _, _, 200_000_077)),
        "{after:?}"
    );
}

#[test]
fn a_camera_answering_with_its_own_ssrc_streams_with_it_live_0_and_history_1() {
    let cfg = PlayConfig {
        answer_ssrc: SsrcAnswer::Own,
        max_streams: 2,
        ..PlayConfig::default()
    };
    let mut b = Bench::new(4, cfg);
    let got = b.feed(T0, &Req::invite("c1", UDP_OFFER).bytes());
    let answer = Offer::parse(body(&got[1]).as_bytes()).unwrap();
    let own = answer.ssrc.expect("a y= line");
    assert_eq!(own.text.len(), 10);
    assert_eq!(own.text[0], b'0', "live");
    assert_ne!(own.text, b"0200003792", "not the offer's");
    let acked = b.feed(at(10), &ack("c1", &got[1]));
    let Got::Start(_, _, _, ssrc) = acked[1] else {
        panic!("{acked:?}")
    };
    assert_eq!(
        ssrc, own.value,
        "the stream carries the SSRC the answer named"
    );

    // Another session gets another; a playback's starts with 1.
    let playback = UDP_OFFER.replace("s=Play", "s=Playback");
    let mut second = Req::invite("c2", &playback);
    second.branch = "z9hG4bKinv2";
    second.user = DEV;
    let got = b.feed(at(20), &second.bytes());
    let history = Offer::parse(body(&got[1]).as_bytes())
        .unwrap()
        .ssrc
        .unwrap();
    assert_eq!(history.text[0], b'1', "history");
    assert_ne!(history.value % 1_000_000_000, own.value);
}
