//! 302 redirects: registering at the server a 302 names as one transaction from when the
//! registration was due (the 302 is no outcome of its own), a 302 that cannot be followed
//! failing with its status, and back to the configured server (challenged again) when the
//! named one rejects the camera or stops answering its keepalives.
//!
//! Never about the registration exchange itself (`registration`).

use super::*;
use crate::sip::Batch;
use crate::testkit::ScriptedServer;

const A_ADDR: &str = "10.255.0.2:5070";
const A_ID: &str = "34020000002000000002";

fn redirect_sim(transport: Transport) -> Sim {
    let a_addr: SocketAddr = A_ADDR.parse().unwrap();
    let a_id = id(A_ID);
    let mut c = cfg();
    c.transport = transport;
    let mut sim = sim(
        4,
        c,
        Script {
            redirect_to: Some((a_addr, a_id)),
            ..Script::default()
        },
    );
    sim.add_server(a_addr, a_id, Script::default());
    sim
}

#[test]
fn redirect_302_registers_at_server_a() {
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut sim = redirect_sim(transport);
        sim.start_all(MS);
        sim.run_until(T0 + 200 * S);
        let t = &sim.net.tally;
        assert_eq!(t.get(TxnKind::Register, Outcome::Status(200)), 4);
        assert_eq!(t.get(TxnKind::Register, Outcome::Status(302)), 0);
        assert_eq!((t.total(TxnKind::Register), t.redirected), (4, 4));
        assert_eq!(sim.servers[1].seen.authorized, 4);
        assert!(sim.servers[1].seen.keepalives >= 8, "keepalives go to A");
        assert_eq!(sim.servers[0].seen.keepalives, 0);
        assert!(
            sim.cams
                .iter()
                .all(|c| c.is_registered() && c.redirect().is_some())
        );
        // One record per registration, timed from its due time to the 200 from A: two
        // challenged exchanges of 2 ms each (UDP); over TCP a connect of 2 ms before each,
        // the first of them schedule lag.
        let (latency, lag) = match transport {
            Transport::Udp => (8 * MS, Span::ZERO),
            Transport::Tcp => (12 * MS, 2 * MS),
        };
        let first: Vec<Record> = sim
            .net
            .records
            .iter()
            .filter(|(cam, _, r)| *cam == 0 && r.kind == TxnKind::Register)
            .map(|(_, _, r)| *r)
            .collect();
        assert_eq!(
            first,
            vec![Record {
                kind: TxnKind::Register,
                outcome: Outcome::Status(200),
                latency,
                lag,
                retransmits: 0,
                redirected: true,
            }],
            "{transport:?}"
        );
    }
}

#[test]
fn a_redirected_registration_is_timed_from_its_due_time_with_every_retransmission() {
    let a_addr: SocketAddr = A_ADDR.parse().unwrap();
    let script = Script {
        redirect_to: Some((a_addr, id(A_ID))),
        ..Script::default()
    };
    let mut servers = [
        ScriptedServer::new(Sim::<ScriptedServer>::SERVER, cfg().server_id, script),
        ScriptedServer::new(a_addr, id(A_ID), Script::default()),
    ];
    let mut b = Bench1::new(cfg());
    let mut records = Vec::new();
    // Due at 1 s, sent 2 ms late; the first REGISTER is lost and goes again at T1.
    let due = T0 + S;
    let mut now = due + 2 * MS;
    b.call(|c, env| c.handle_start(now, due, env));
    now += T1;
    let mut pending = b.call(|c, env| c.handle_timeout(now, env));
    let mut to_a = Vec::new();
    while let Some(req) = pending.pop() {
        let server = usize::from(b.cam.redirect().is_some());
        to_a.push(server == 1 && s(&req).starts_with(&format!("REGISTER sip:{A_ID}@{A_ADDR} ")));
        let mut replies = Batch::new();
        now += MS;
        servers[server].handle(now, camera_addr(0), &req, &mut replies);
        now += MS;
        for r in replies.iter() {
            pending.extend(b.call(|c, env| c.handle_message(now, r, env)));
            records.extend_from_slice(&b.out.records);
        }
    }
    assert_eq!(
        to_a,
        [false, false, true, true],
        "challenged at both servers"
    );
    assert!(b.cam.is_registered());
    assert_eq!(
        records,
        vec![Record {
            kind: TxnKind::Register,
            outcome: Outcome::Status(200),
            latency: 2 * MS + T1 + 4 * (2 * MS),
            lag: 2 * MS,
            retransmits: 1,
            redirected: true,
        }]
    );
}

#[test]
fn a_302_that_cannot_be_followed_fails_with_its_status() {
    let a_contact = format!("<sip:{A_ID}@{A_ADDR}>");
    // No Contact, a Contact naming no server (no 20-digit ID, a host name), a worker out of
    // room for targets.
    for (contact, full) in [
        (None, false),
        (Some("<sip:a.example.com:5070>".to_string()), false),
        (Some(format!("<sip:{A_ID}@a.example.com:5070>")), false),
        (Some(a_contact.clone()), true),
    ] {
        let mut b = Bench1::new(cfg());
        if full {
            for port in 0..Redirects::MAX as u16 {
                let addr = SocketAddr::from(([10, 9, 9, 9], port));
                b.out.redirects.intern(addr, id(A_ID)).unwrap();
            }
        }
        let req = b.call(|c, env| c.handle_start(T0, T0, env)).remove(0);
        let headers: Vec<(&str, &str)> = contact.iter().map(|c| ("Contact", c.as_str())).collect();
        let resp = answer(&req, 302, &headers);
        assert!(
            b.call(|c, env| c.handle_message(T0 + MS, &resp, env))
                .is_empty()
        );
        let r = b.out.records[0];
        assert_eq!(b.out.records.len(), 1, "{contact:?}");
        assert_eq!((r.outcome, r.redirected), (Outcome::Status(302), false));
        assert_eq!(b.cam.redirect(), None);
        assert_eq!(
            b.cam.poll_timeout(),
            Some(T0 + MS + 60 * S),
            "the retry interval"
        );
    }
    // A second 302 in the same flow (from the server the first named) is not followed: the
    // flow was redirected and failed there.
    let mut b = Bench1::new(cfg());
    let req = b.call(|c, env| c.handle_start(T0, T0, env)).remove(0);
    let resp = answer(&req, 302, &[("Contact", &a_contact)]);
    let at_a = b.call(|c, env| c.handle_message(T0 + MS, &resp, env));
    assert!(b.out.records.is_empty() && b.cam.redirect().is_some());
    let elsewhere = "<sip:34020000002000000003@10.255.0.3:5060>";
    let resp = answer(&at_a[0], 302, &[("Contact", elsewhere)]);
    assert!(
        b.call(|c, env| c.handle_message(T0 + 2 * MS, &resp, env))
            .is_empty()
    );
    let r = b.out.records[0];
    assert_eq!(
        (r.outcome, r.redirected, r.latency),
        (Outcome::Status(302), true, 2 * MS)
    );
    assert_eq!(
        b.cam.redirect(),
        None,
        "back to the configured server next time"
    );
}

#[test]
fn redirect_restarts_at_the_redirect_server_when_a_rejects() {
    let mut sim = redirect_sim(Transport::Udp);
    sim.servers[1].script.reject = Some(403);
    sim.start_all(MS);
    sim.run_until(T0 + 100 * S);
    // First flow: 302 from the redirect server, 403 from A; after 60 s, back to the redirect
    // server (its second challenge).
    assert_eq!(sim.servers[0].seen.challenges, 8);
    assert_eq!(
        sim.servers[1].seen.bad_auth + sim.servers[1].seen.authorized,
        8
    );
}

#[test]
fn redirect_restarts_when_a_stops_answering_keepalives() {
    let mut sim = redirect_sim(Transport::Udp);
    sim.start_all(MS);
    sim.run_until(T0 + 70 * S);
    assert!(sim.cams.iter().all(|c| c.is_registered()));
    sim.servers[1].script.ignore_keepalives = true;
    sim.servers[1].script.reject = Some(403);
    // Misses counted at 180, 240 and 300 s (keepalives at 120, 180, 240 unanswered): offline
    // at 300 s, back at the redirect server 60 s later.
    sim.run_until(T0 + 299 * S);
    assert_eq!(sim.out.counters.offline, 0);
    sim.run_until(T0 + 301 * S);
    assert_eq!(sim.out.counters.offline, 4);
    let before = sim.servers[0].seen.challenges;
    sim.run_until(T0 + 362 * S);
    assert_eq!(sim.servers[0].seen.challenges, before + 4);
}
