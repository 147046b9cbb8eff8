//! TCP active media: the 200 waits until the host listens, and carries the listening port.

use super::*;

/// The `m=video` line of a sent message's body.
fn m_line(g: &Got) -> &str {
    body(g)
        .split("\r\n")
        .find(|l| l.starts_with("m=video "))
        .unwrap_or("")
}

#[test]
fn the_200_waits_for_the_listening_port_and_carries_it_in_m_video() {
    let mut b = Bench::std();
    b.listen = None;
    let got = b.feed(T0, &Req::invite("c1", &tcp_offer("active")).bytes());
    assert_eq!(codes(&got), [100, 0], "{got:?}");
    let Got::Start(s, MediaTransport::TcpActive, to, ssrc) = got[1] else {
        panic!("{got:?}")
    };
    assert_eq!(
        (to, ssrc),
        ("10.0.0.50:30000".parse().unwrap(), 200_003_792)
    );
    assert_eq!(b.t.poll_timeout(), None, "no timer while the host listens");
    assert_eq!(b.t.counters().answered, 0);
    // A retransmitted INVITE meanwhile gets 100 again.
    let again = b.feed(at(100), &Req::invite("c1", &tcp_offer("active")).bytes());
    assert_eq!(codes(&again), [100]);
    b.t.listening(at(120), s, 40_123);
    let ok = b.collect();
    assert_eq!(codes(&ok), [200]);
    assert_eq!(m_line(&ok[0]), "m=video 40123 TCP/RTP/AVP 96");
    assert!(body(&ok[0]).contains("a=setup:passive\r\na=connection:new\r\n"));
    assert!(body(&ok[0]).contains("c=IN IP4 10.0.0.9\r\n"));
    assert_eq!(
        header(&ok[0], "Contact"),
        format!("<sip:{DEV}@10.0.0.9:5060>")
    );
    assert_eq!(
        header(&ok[0], "Content-Length"),
        body(&ok[0]).len().to_string()
    );
    assert_eq!(header(&ok[0], "CSeq"), "20 INVITE");
    assert_eq!(b.t.counters().answered, 1);
    // Retransmitted until the ACK, the same 200 each time.
    let fired = b.run_until(at(700));
    assert_eq!(fired, [(620, ok.clone())]);
    let after = b.feed(at(800), &ack("c1", &ok[0]));
    assert!(matches!(after[..], [Got::Acked(..)]), "{after:?}");
    // A second listening for the same session changes nothing.
    b.t.listening(at(900), s, 1);
    assert!(b.collect().is_empty());
}

#[test]
fn the_udp_and_passive_answers_carry_the_devices_media_port() {
    let mut b = Bench::new(2, config(2, Span::ZERO));
    for (call, offer) in [("c1", UDP_OFFER.to_string()), ("c2", tcp_offer("passive"))] {
        let got = b.feed(T0, &Req::invite(call, &offer).bytes());
        assert_eq!(codes(&got), [100, 200]);
        assert!(
            m_line(&got[1]).starts_with("m=video 15000 "),
            "{}",
            m_line(&got[1])
        );
    }
}

#[test]
fn a_cancel_while_listening_stops_the_listener_and_gets_487() {
    let mut b = Bench::std();
    b.listen = None;
    let got = b.feed(T0, &Req::invite("c1", &tcp_offer("active")).bytes());
    let Got::Start(s, ..) = got[1] else { panic!() };
    let mut cancel = Req::in_dialog("CANCEL", "c1", "", 20);
    cancel.to_tag = None;
    cancel.branch = "z9hG4bKinv";
    let got = b.feed(at(50), &cancel.bytes());
    assert_eq!(codes(&got), [200, 0, 487], "{got:?}");
    assert_eq!(got[1], Got::Stop(s));
    assert_eq!(b.t.counters().cancelled, 1);
    // Too late now: the host's listening is ignored.
    b.t.listening(at(60), s, 40_000);
    assert!(b.collect().is_empty());
}

#[test]
fn a_host_that_cannot_listen_ends_the_invite_with_500() {
    let mut b = Bench::std();
    b.listen = None;
    let got = b.feed(T0, &Req::invite("c1", &tcp_offer("active")).bytes());
    let Got::Start(s, ..) = got[1] else { panic!() };
    let got = b.ended(at(1), s);
    assert_eq!(codes(&got), [0, 500], "{got:?}");
    assert_eq!(got[0], Got::Stop(s));
    assert!(body(&got[1]).is_empty());
    assert_eq!(b.t.counters().server_errors, 1);
    assert_eq!(b.t.counters().answered, 0);
    // The 500 waits for its ACK like any error, and the slot is then free.
    b.feed(at(5), &ack("c1", &got[1]));
    assert_eq!(b.t.in_use(), 0);
}

#[test]
fn with_an_answer_delay_the_listen_comes_when_the_delay_ends() {
    let mut b = Bench::new(2, config(1, 300 * MS));
    b.listen = None;
    let got = b.feed(T0, &Req::invite("c1", &tcp_offer("active")).bytes());
    assert_eq!(codes(&got), [100]);
    let fired = b.run_until(at(1000));
    assert_eq!(fired.len(), 1);
    let (t, got) = &fired[0];
    assert_eq!(*t, 300);
    let Got::Start(s, MediaTransport::TcpActive, ..) = got[0] else {
        panic!("{got:?}")
    };
    b.t.listening(at(301), s, 40_001);
    assert_eq!(codes(&b.collect()), [200]);
}
