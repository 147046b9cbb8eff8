//! Registration: digest auth with and without qop and opaque, Call-ID and CSeq across the
//! flow, latency counted from when a request was due, the refresh at the granted expiry
//! (challenged or not), and what a rejection or a timeout leads to: the retry interval, its
//! jitter, Retry-After.
//!
//! Never about stopping or unregistering (`stop`), 302 (`redirect`) or retransmission
//! timing (`transport`).

use super::*;
use crate::sip::Batch;
use crate::testkit::ScriptedServer;
use std::collections::HashSet;

#[test]
fn register_with_qop_auth_keeps_call_id_and_bumps_cseq() {
    let mut b = Bench1::new(cfg());
    let sent = b.call(|c, env| c.handle_start(T0, T0, env));
    assert_eq!(sent.len(), 1);
    let first = &sent[0];
    assert_eq!(field(first, |m| m.cseq().map(|c| c.seq.to_string())), "1");
    assert!(field(first, |m| m.authorization().map(|_| "x".into())).is_empty());
    let mut srv = ScriptedServer::new(camera_addr(99), cfg().server_id, Script::default());
    let mut replies = Batch::new();
    srv.handle(T0, camera_addr(0), first, &mut replies);
    let sent2 = b.call(|c, env| c.handle_message(T0 + 2 * MS, replies.get(0).unwrap(), env));
    assert_eq!(sent2.len(), 1);
    let second = &sent2[0];
    assert_eq!(field(second, |m| m.cseq().map(|c| c.seq.to_string())), "2");
    for get in [
        |m: &crate::sip::Message<'_, '_>| m.call_id().map(s),
        |m: &crate::sip::Message<'_, '_>| m.from().and_then(|f| f.tag()).map(s),
    ] {
        assert_eq!(field(first, get), field(second, get));
    }
    assert_eq!(
        field(second, |m| m
            .authorization()
            .and_then(|a| a.qop)
            .map(|q| s(q.raw()))),
        "auth"
    );
    replies.clear();
    srv.handle(T0 + 3 * MS, camera_addr(0), second, &mut replies);
    assert_eq!(srv.seen.authorized, 1);
    b.call(|c, env| c.handle_message(T0 + 5 * MS, replies.get(0).unwrap(), env));
    assert!(b.cam.is_registered());
    assert_eq!(
        b.out.records,
        vec![Record {
            kind: TxnKind::Register,
            outcome: Outcome::Status(200),
            latency: 5 * MS,
            lag: Span::ZERO,
            retransmits: 0,
            redirected: false,
        }]
    );
}

#[test]
fn register_without_qop_and_with_opaque() {
    for (qop, opaque) in [(false, false), (true, true), (false, true)] {
        let mut sim = sim(
            3,
            cfg(),
            Script {
                qop,
                opaque,
                ..Script::default()
            },
        );
        sim.start_all(10 * MS);
        sim.run_until(T0 + 5 * S);
        assert_eq!(
            sim.servers[0].seen.authorized, 3,
            "qop {qop} opaque {opaque}"
        );
        assert_eq!(sim.servers[0].seen.bad_auth, 0);
        assert_eq!(
            sim.net.tally.get(TxnKind::Register, Outcome::Status(200)),
            3
        );
        assert!(sim.cams.iter().all(|c| c.is_registered()));
    }
}

#[test]
fn latency_counts_from_when_the_request_was_due() {
    let mut b = Bench1::new(cfg());
    // Due at 1 s, but the worker only got to it at 1.5 s.
    b.call(|c, env| c.handle_start(T0 + 1_500 * MS, T0 + 1_000 * MS, env));
    b.call(|c, env| c.handle_timeout(T0 + 1_500 * MS + 32 * S, env));
    let r = b.out.records[0];
    assert_eq!(r.outcome, Outcome::Timeout);
    assert_eq!(r.latency, 500 * MS + 32 * S);
}

#[test]
fn granted_expiry_drives_the_refresh() {
    // Asked 3600, granted 600: refresh at 85% of 600 s = 510 s.
    let mut sim = sim(
        1,
        cfg(),
        Script {
            grant: Some(600),
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 509 * S);
    assert_eq!(sim.servers[0].seen.registrations, 1);
    sim.run_until(T0 + 511 * S);
    assert_eq!(sim.servers[0].seen.registrations, 2);
    assert_eq!(sim.net.tally.get(TxnKind::Refresh, Outcome::Status(200)), 1);
    let times = &sim.servers[0].seen.register_times[sim.cams[0].id()];
    // Initial: unauthenticated + authenticated; refresh: challenged again (no wvp shortcut).
    assert_eq!(times.len(), 4);
    assert!(
        (T0 + 510 * S..T0 + 510 * S + 10 * MS).contains(&times[2]),
        "{times:?}"
    );
}

#[test]
fn refresh_answered_without_challenge_like_wvp() {
    let mut c = cfg();
    c.expires = 100;
    let mut sim = sim(
        1,
        c,
        Script {
            refresh_without_challenge: true,
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 300 * S);
    // Refreshes at 85, 170, 255 s, each a single REGISTER answered 200 directly.
    assert_eq!(sim.net.tally.get(TxnKind::Refresh, Outcome::Status(200)), 3);
    assert_eq!(sim.servers[0].seen.challenges, 1);
    assert!(sim.cams[0].is_registered());
}

#[test]
fn refresh_keeps_call_id_and_increments_cseq() {
    let mut c = cfg();
    c.expires = 100;
    c.heartbeat_ms = 600_000;
    let mut b = Bench1::new(c);
    let mut srv = ScriptedServer::new(camera_addr(9), cfg().server_id, Script::default());
    let mut now = T0;
    let mut wire: Vec<Vec<u8>> = Vec::new();
    let mut pending = b.call(|c, env| c.handle_start(T0, T0, env));
    while let Some(req) = pending.pop() {
        wire.push(req.clone());
        let mut replies = Batch::new();
        now += MS;
        srv.handle(now, camera_addr(0), &req, &mut replies);
        for r in replies.iter() {
            pending.extend(b.call(|c, env| c.handle_message(now, r, env)));
        }
    }
    assert!(b.cam.is_registered());
    let t = b.cam.poll_timeout().unwrap();
    assert_eq!(t, T0 + 2 * MS + 85 * S);
    assert_eq!(now, T0 + 2 * MS);
    let refresh = b.call(|c, env| c.handle_timeout(t, env));
    assert_eq!(refresh.len(), 1);
    let call = |raw: &[u8]| field(raw, |m| m.call_id().map(s));
    let cseq = |raw: &[u8]| field(raw, |m| m.cseq().map(|c| c.seq.to_string()));
    assert_eq!(call(&refresh[0]), call(&wire[0]));
    assert_eq!(cseq(&refresh[0]), "3");
}

#[test]
fn rejection_waits_the_retry_interval_with_jitter() {
    let mut c = cfg();
    c.retry_jitter_permille = 200;
    let mut sim = sim(
        20,
        c,
        Script {
            reject: Some(403),
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 400 * S);
    for cam in &sim.cams {
        let times = &sim.servers[0].seen.register_times[cam.id()];
        // Each attempt = 2 REGISTERs; attempts spaced by 60..=72 s.
        let starts: Vec<Time> = times.iter().step_by(2).copied().collect();
        assert!(starts.len() >= 5, "{starts:?}");
        for w in starts.windows(2) {
            let gap = w[1] - w[0];
            assert!((60 * S..=72 * S + 10 * MS).contains(&gap), "gap {gap:?}");
        }
    }
    // Jitter spreads the fleet: not every camera retries at the same instant.
    let second: HashSet<Time> = sim
        .cams
        .iter()
        .map(|c| sim.servers[0].seen.register_times[c.id()][2])
        .collect();
    assert!(second.len() > 10);
    assert_eq!(
        sim.net.tally.get(TxnKind::Register, Outcome::Status(403)),
        sim.net.tally.total(TxnKind::Register)
    );
}

#[test]
fn retry_after_is_honoured_and_never_shortens_the_interval() {
    for (code, retry_after, min_gap) in [(503, 120, 120), (486, 30, 60)] {
        let mut sim = sim(
            1,
            cfg(),
            Script {
                reject: Some(code),
                retry_after: Some(retry_after),
                ..Script::default()
            },
        );
        sim.start_all(Span::ZERO);
        sim.run_until(T0 + 1000 * S);
        let times = &sim.servers[0].seen.register_times[sim.cams[0].id()];
        let starts: Vec<Time> = times.iter().step_by(2).copied().collect();
        for w in starts.windows(2) {
            assert!(w[1] - w[0] >= min_gap * S, "{code}: gap {:?}", w[1] - w[0]);
            assert!(w[1] - w[0] < (min_gap + 1) * S);
        }
        assert!(starts.len() >= 3);
    }
}

#[test]
fn timeout_then_retry() {
    let mut sim = sim(
        1,
        cfg(),
        Script {
            silent: true,
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 130 * S);
    // Timer F at 32 s; the retry 60 s later (92 s) times out at 124 s.
    assert_eq!(sim.net.tally.get(TxnKind::Register, Outcome::Timeout), 2);
    let (first, second) = (sim.net.records[0], sim.net.records[1]);
    assert_eq!(
        (first.1, first.2.latency, first.2.retransmits),
        (T0 + 32 * S, 32 * S, 10)
    );
    assert_eq!((second.1, second.2.latency), (T0 + 124 * S, 32 * S));
}
