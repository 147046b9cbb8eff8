//! Arbitrary INVITEs (Request-URI user, Subject, From tag, body) and dialog requests in any
//! order never panic, every message sent parses, and the table never holds more than it can.

use super::*;
use proptest::prelude::*;

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
