//! What the table reports as transactions: each INVITE timed from its arrival to the ACK of
//! the 200 (or to its final error), Timer H as a timeout, and the camera's BYE timed from when
//! it decided to end the session to the final response, Timer F as a timeout.

use super::*;

/// The records of the last call as (kind, outcome, latency ms, lag ms, retransmits).
fn recs(b: &Bench) -> Vec<(TxnKind, Outcome, u64, u64, u8)> {
    b.t.records()
        .iter()
        .map(|r| {
            (
                r.kind,
                r.outcome,
                r.latency.as_millis(),
                r.lag.as_millis(),
                r.retransmits,
            )
        })
        .collect()
}

/// The platform's 200 to the camera's BYE `bye`.
fn bye_ok(bye: &Got) -> Vec<u8> {
    format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\n\
Content-Length: 0\r\n\r\n",
        header(bye, "Via"),
        header(bye, "From"),
        header(bye, "To"),
        header(bye, "Call-ID")
    )
    .into_bytes()
}

#[test]
fn an_invite_is_timed_from_its_arrival_to_the_ack_with_the_answer_delay_as_lag() {
    let mut b = Bench::new(2, config(1, Span::from_millis(40)));
    b.feed(at(0), &Req::invite("c1", UDP_OFFER).bytes());
    assert!(recs(&b).is_empty(), "nothing ends with the 100");
    let ok = b.timer(at(40));
    assert_eq!(status(&ok[0]), 200);
    assert!(recs(&b).is_empty(), "nor with the 200");
    // Lost once: the 200 goes again at T1, then the ACK comes.
    let again = b.timer(at(540));
    assert_eq!(again, ok);
    b.feed(at(600), &ack("c1", &ok[0]));
    assert_eq!(
        recs(&b),
        [(TxnKind::Invite, Outcome::Status(200), 600, 40, 1)]
    );
    // A retransmitted ACK ends nothing again.
    b.feed(at(610), &ack("c1", &ok[0]));
    assert!(recs(&b).is_empty());
}

#[test]
fn refusals_are_timed_to_their_send_and_a_missing_ack_is_a_timeout() {
    let mut b = Bench::new(3, config(1, Span::ZERO));
    let ok = b.feed(at(0), &Req::invite("c1", UDP_OFFER).bytes());
    assert!(recs(&b).is_empty());
    // Beyond the stream cap: 486 at once.
    let mut second = Req::invite("c2", UDP_OFFER);
    second.branch = "z9hG4bKinv2";
    b.feed(at(5), &second.bytes());
    assert_eq!(recs(&b), [(TxnKind::Invite, Outcome::Status(486), 0, 0, 0)]);
    // No ACK for the first 200: Timer H (64·T1) ends it as a timeout, and the BYE goes out.
    let mut timeouts = vec![];
    while let Some(t) = b.t.poll_timeout()
        && t <= at(32_000)
    {
        b.timer(t);
        timeouts.extend(recs(&b));
    }
    assert_eq!(
        timeouts,
        [(TxnKind::Invite, Outcome::Timeout, 32_000, 0, 10)],
        "ten retransmissions of the 200 before Timer H"
    );
    assert_eq!(status(&ok[1]), 200);
}

#[test]
fn the_cameras_bye_is_timed_from_its_decision_and_timer_f_is_a_timeout() {
    let mut b = Bench::std();
    let got = b.feed(at(0), &Req::invite("c1", UDP_OFFER).bytes());
    let Got::Acked(s, _) = b.feed(at(10), &ack("c1", &got[1]))[0] else {
        panic!("acked")
    };
    let ended = b.ended(at(1000), s);
    assert!(recs(&b).is_empty(), "the BYE is in flight");
    b.feed(at(1030), &bye_ok(&ended[1]));
    assert_eq!(recs(&b), [(TxnKind::Bye, Outcome::Status(200), 30, 0, 0)]);

    // The next session's BYE is never answered: Timer F, 64·T1 after it was sent.
    let mut second = Req::invite("c2", UDP_OFFER);
    second.branch = "z9hG4bKinv2";
    let got = b.feed(at(2000), &second.bytes());
    let Got::Acked(s, _) = b.feed(at(2010), &ack("c2", &got[1]))[0] else {
        panic!("acked")
    };
    b.ended(at(3000), s);
    let mut ends = vec![];
    while let Some(t) = b.t.poll_timeout()
        && t <= at(40_000)
    {
        b.timer(t);
        ends.extend(recs(&b));
    }
    assert_eq!(ends, [(TxnKind::Bye, Outcome::Timeout, 32_000, 0, 10)]);
}

#[test]
fn a_source_ending_before_the_ack_times_the_bye_from_then() {
    let mut b = Bench::std();
    let got = b.feed(at(0), &Req::invite("c1", UDP_OFFER).bytes());
    // The stream would start at the ACK; the source ends first, at 5 ms.
    let session = SessionId {
        slot: 0,
        generation: b.t.slots[0].generation,
    };
    b.ended(at(5), session);
    let acked = b.feed(at(25), &ack("c1", &got[1]));
    assert_eq!(
        recs(&b),
        [(TxnKind::Invite, Outcome::Status(200), 25, 0, 0)]
    );
    let bye = acked.iter().find(|g| g.text().starts_with("BYE ")).unwrap();
    b.feed(at(45), &bye_ok(bye));
    assert_eq!(
        recs(&b),
        [(TxnKind::Bye, Outcome::Status(200), 40, 20, 0)],
        "due at 5 ms, sent at the ACK (25 ms), answered at 45 ms"
    );
}
