//! 423 Interval Too Brief (RFC 3261 10.2.8): the REGISTER asked again at once for the
//! registrar's Min-Expires in the same flow (one transaction, timed from when it was due),
//! refreshes asking for that expiry and timed from the granted one, and the 423s that fail:
//! without a usable Min-Expires, or a second one in the same flow.
//!
//! Never about the challenge itself (`registration`).

use super::*;
use crate::sip::Batch;
use crate::testkit::ScriptedServer;

fn expires(raw: &[u8]) -> String {
    field(raw, |m| m.expires().map(|e| e.to_string()))
}

#[test]
fn a_423_is_asked_again_at_once_with_min_expires_in_the_same_flow() {
    let mut srv = ScriptedServer::new(
        Sim::<ScriptedServer>::SERVER,
        cfg().server_id,
        Script {
            min_expires: Some(7200),
            ..Script::default()
        },
    );
    let mut b = Bench1::new(cfg());
    // Due at 1 s, sent 2 ms late; every exchange takes 2 ms.
    let due = T0 + S;
    let mut now = due + 2 * MS;
    let mut pending = b.call(|c, env| c.handle_start(now, due, env));
    let (mut wire, mut records) = (Vec::new(), Vec::new());
    while let Some(req) = pending.pop() {
        wire.push(req.clone());
        let mut replies = Batch::new();
        now += MS;
        srv.handle(now, camera_addr(0), &req, &mut replies);
        now += MS;
        for r in replies.iter() {
            pending.extend(b.call(|c, env| c.handle_message(now, r, env)));
            records.extend_from_slice(&b.out.records);
        }
    }
    assert!(b.cam.is_registered());
    assert_eq!(srv.seen.too_brief, 1);
    // 3600 asked, 423; 7200 asked at once (challenged again), then with credentials.
    let asked: Vec<String> = wire.iter().map(|r| expires(r)).collect();
    assert_eq!(asked, ["3600", "7200", "7200"]);
    let cseq = |raw: &[u8]| field(raw, |m| m.cseq().map(|c| c.seq.to_string()));
    assert_eq!(
        wire.iter().map(|r| cseq(r)).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    let call = |raw: &[u8]| field(raw, |m| m.call_id().map(s));
    assert!(wire.iter().all(|r| call(r) == call(&wire[0])));
    assert_eq!(
        records,
        vec![Record {
            kind: TxnKind::Register,
            outcome: Outcome::Status(200),
            latency: 2 * MS + 3 * (2 * MS),
            lag: 2 * MS,
            retransmits: 0,
            redirected: false,
        }]
    );
}

#[test]
fn refreshes_ask_for_the_raised_expiry_and_follow_the_granted_one() {
    let mut c = cfg();
    c.expires = 60;
    let mut sim = sim(
        1,
        c,
        Script {
            min_expires: Some(100),
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 300 * S);
    // Refreshes at 85% of the 100 s granted (about 85, 170 and 255 s), never too brief again.
    assert_eq!(sim.servers[0].seen.too_brief, 1);
    let t = &sim.net.tally;
    assert_eq!(t.get(TxnKind::Register, Outcome::Status(200)), 1);
    assert_eq!(t.total(TxnKind::Register), 1);
    assert_eq!(t.get(TxnKind::Refresh, Outcome::Status(200)), 3);
    assert_eq!(t.total(TxnKind::Refresh), 3);
    assert!(sim.cams[0].is_registered());
}

#[test]
fn a_423_without_a_usable_min_expires_or_a_second_one_fails() {
    // No Min-Expires, one that is no larger than what was asked, one that is no number.
    for min in [None, Some("3600"), Some("60"), Some("soon")] {
        let mut b = Bench1::new(cfg());
        let req = b.call(|c, env| c.handle_start(T0, T0, env)).remove(0);
        let headers: Vec<(&str, &str)> = min.iter().map(|m| ("Min-Expires", *m)).collect();
        let resp = answer(&req, 423, &headers);
        assert!(
            b.call(|c, env| c.handle_message(T0 + MS, &resp, env))
                .is_empty(),
            "{min:?}"
        );
        assert_eq!(b.out.records.len(), 1);
        assert_eq!(b.out.records[0].outcome, Outcome::Status(423));
        assert_eq!(
            b.cam.poll_timeout(),
            Some(T0 + MS + 60 * S),
            "the retry interval"
        );
    }
    // A second 423 in the same flow: one record for the whole flow, then the retry interval.
    let mut b = Bench1::new(cfg());
    let req = b.call(|c, env| c.handle_start(T0, T0, env)).remove(0);
    let resp = answer(&req, 423, &[("Min-Expires", "7200")]);
    let again = b.call(|c, env| c.handle_message(T0 + MS, &resp, env));
    assert_eq!(expires(&again[0]), "7200");
    let resp = answer(&again[0], 423, &[("Min-Expires", "9000")]);
    assert!(
        b.call(|c, env| c.handle_message(T0 + 2 * MS, &resp, env))
            .is_empty()
    );
    let r = b.out.records[0];
    assert_eq!(b.out.records.len(), 1);
    assert_eq!((r.outcome, r.latency), (Outcome::Status(423), 2 * MS));
    assert!(!b.cam.is_registered());
    assert_eq!(b.cam.poll_timeout(), Some(T0 + 2 * MS + 60 * S));
}
