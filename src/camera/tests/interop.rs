//! Plain RFC 3261 registrars, as found beyond GB28181 platforms: a 407 answered in
//! Proxy-Authorization, several challenges of which the first supported is answered (MD5,
//! SHA-256, SHA-512-256 and their `-sess` forms), a challenge that cannot be answered counted
//! by name, a 200 OK listing other bindings besides the camera's own, challenged keepalives and
//! query answers, a keepalive answered 405 or 404, and the stop unregistering a camera that
//! went offline but still holds a binding.
//!
//! Never about GB28181 platforms' own habits (`registration`, `keepalive`, `redirect`).

use super::*;
use crate::sip::Batch;
use crate::sip::digest::Algorithm;
use crate::testkit::ScriptedServer;

/// One REGISTER exchange with the scripted server by hand: the camera's first REGISTER, the
/// challenge, and the camera's answer to it (none if it sent nothing).
fn answer_to(script: Script) -> (Bench1, Vec<u8>, Option<Vec<u8>>) {
    let mut b = Bench1::new(cfg());
    let first = b.call(|c, env| c.handle_start(T0, T0, env)).remove(0);
    let mut srv = ScriptedServer::new(camera_addr(99), cfg().server_id, script);
    let mut replies = Batch::new();
    srv.handle(T0, camera_addr(0), &first, &mut replies);
    let challenge = replies.get(0).unwrap().to_vec();
    let sent = b.call(|c, env| c.handle_message(T0 + 2 * MS, &challenge, env));
    (b, challenge, sent.into_iter().next())
}

/// A header's value in a message on the wire (empty if absent).
fn header(raw: &[u8], name: &str) -> String {
    field(raw, |m| m.header_named(name.as_bytes()).map(s))
}

#[test]
fn a_407_is_answered_in_proxy_authorization() {
    let (_, challenge, answer) = answer_to(Script {
        challenge_code: 407,
        ..Script::default()
    });
    assert!(s(&challenge).starts_with("SIP/2.0 407"));
    let answer = answer.expect("an answer to the 407");
    assert!(header(&answer, "Proxy-Authorization").starts_with("Digest username="));
    assert_eq!(header(&answer, "Authorization"), "");
    // A fleet against such a registrar, over UDP and TCP, registers and unregisters.
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut c = cfg();
        c.transport = transport;
        let script = Script {
            challenge_code: 407,
            ..Script::default()
        };
        let mut sim = sim(3, c, script);
        sim.start_all(10 * MS);
        sim.run_until(T0 + 5 * S);
        sim.stop_all();
        sim.run_until(T0 + 10 * S);
        let seen = &sim.servers[0].seen;
        assert_eq!(
            (seen.authorized, seen.wrong_auth_header),
            (6, 0),
            "{transport:?}"
        );
        assert_eq!(seen.unregistrations, 3);
        assert_eq!(
            sim.net.tally.get(TxnKind::Register, Outcome::Status(200)),
            3
        );
    }
}

#[test]
fn the_first_challenge_with_a_supported_algorithm_is_answered() {
    // SHA-256 first, MD5 second (the case that sent no credentials at all): SHA-256.
    let (_, challenge, answer) = answer_to(Script {
        algorithms: vec!["SHA-256", "MD5"],
        ..Script::default()
    });
    assert_eq!(s(&challenge).matches("WWW-Authenticate:").count(), 2);
    let answer = answer.expect("credentials");
    let alg = field(&answer, |m| {
        m.authorization()?.algorithm.map(|a| s(a.raw()))
    });
    assert_eq!(alg, "SHA-256");
    // An unsupported one first: the next; no `algorithm` at all means MD5.
    for (offered, chosen) in [
        (vec!["SHA-1", "SHA-512-256-sess"], "SHA-512-256-sess"),
        (vec!["SHA-1", ""], "MD5"),
    ] {
        let (_, _, answer) = answer_to(Script {
            algorithms: offered.clone(),
            ..Script::default()
        });
        let answer = answer.expect("credentials");
        let alg = field(&answer, |m| {
            m.authorization()?.algorithm.map(|a| s(a.raw()))
        });
        assert_eq!(alg, chosen, "{offered:?}");
    }
    // Every supported algorithm, with and without qop, registers a fleet.
    for alg in Algorithm::ALL {
        for qop in [true, false] {
            let script = Script {
                algorithms: vec![alg.name()],
                qop,
                ..Script::default()
            };
            let mut sim = sim(2, cfg(), script);
            sim.start_all(10 * MS);
            sim.run_until(T0 + 5 * S);
            let seen = &sim.servers[0].seen;
            assert_eq!((seen.authorized, seen.bad_auth), (2, 0), "{alg} qop {qop}");
            assert!(
                sim.cams.iter().all(|c| c.is_registered()),
                "{alg} qop {qop}"
            );
        }
    }
}

#[test]
fn a_challenge_that_cannot_be_answered_is_counted_by_name() {
    let script = Script {
        algorithms: vec!["SHA-1", "AKAv1-MD5"],
        ..Script::default()
    };
    let (b, _, answer) = answer_to(script.clone());
    assert!(answer.is_none(), "nothing to send");
    assert_eq!(b.out.counters.unanswerable_challenges, 1);
    assert_eq!(b.out.records[0].outcome, Outcome::Status(401));
    // In a fleet: every flow ends 401 with the reason counted, and is retried after the
    // retry interval, not at once.
    let mut sim = sim(2, cfg(), script);
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 59 * S);
    assert_eq!(
        sim.net.tally.get(TxnKind::Register, Outcome::Status(401)),
        2
    );
    assert_eq!(sim.out.counters.unanswerable_challenges, 2);
    let seen = &sim.servers[0].seen;
    assert_eq!((seen.challenges, seen.authorized + seen.bad_auth), (2, 0));
    sim.run_until(T0 + 61 * S);
    assert_eq!(sim.out.counters.unanswerable_challenges, 4);
}

/// The camera's refresh times against a 200 OK shaped by `script`.
fn refreshes(mut c: CameraConfig, script: Script) -> Vec<Time> {
    c.expires = 40;
    let mut sim = sim(1, c, script);
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 60 * S);
    let times = &sim.servers[0].seen.register_times[sim.cams[0].id()];
    // Two REGISTERs per flow (the challenge, the answer): the refreshes' first ones.
    times.iter().skip(2).step_by(2).copied().collect()
}

#[test]
fn the_refresh_follows_the_cameras_own_binding() {
    let other = "sip:34020000001320000999@10.1.1.1:5060".to_string();
    let own_id_elsewhere = "sip:34020000001320000001@10.9.9.9:5060".to_string();
    let at = |secs_x100: u64| T0 + secs_x100 * 10 * MS;
    // Another device's binding first with expires=5, the camera's own with 20: refresh at
    // 85% of 20 s (17 s) and every 17 s, not every 4.25 s.
    let own_20 = Script {
        grant: Some(20),
        other_bindings: vec![(other.clone(), 5), (own_id_elsewhere.clone(), 7)],
        own_binding: true,
        expires_header: false,
        ..Script::default()
    };
    let t = refreshes(cfg(), own_20.clone());
    assert_eq!(t.len(), 3, "{t:?}");
    assert!((at(1700)..at(1710)).contains(&t[0]), "{t:?}");
    // The other binding long (3600 s): the camera's own still rules.
    let t = refreshes(
        cfg(),
        Script {
            other_bindings: vec![(other.clone(), 3600)],
            ..own_20
        },
    );
    assert!((at(1700)..at(1710)).contains(&t[0]), "{t:?}");
    // No binding of its own listed: the Expires header (30 s: at 25.5 s).
    let t = refreshes(
        cfg(),
        Script {
            grant: Some(30),
            other_bindings: vec![(other.clone(), 5)],
            ..Script::default()
        },
    );
    assert!((at(2550)..at(2560)).contains(&t[0]), "{t:?}");
    // Neither: what it asked for (40 s: at 34 s).
    let t = refreshes(
        cfg(),
        Script {
            grant: Some(30),
            other_bindings: vec![(other, 5)],
            expires_header: false,
            ..Script::default()
        },
    );
    assert!((at(3400)..at(3410)).contains(&t[0]), "{t:?}");
}

#[test]
fn challenged_keepalives_are_answered_and_reuse_the_nonce() {
    for (qop, code) in [(true, 401), (true, 407), (false, 401)] {
        let script = Script {
            qop,
            challenge_code: code,
            challenge_messages: true,
            ..Script::default()
        };
        let mut sim = sim(2, cfg(), script);
        sim.start_all(Span::ZERO);
        sim.run_until(T0 + 10 * 60 * S + 10 * MS);
        let what = format!("qop {qop} {code}");
        assert!(sim.cams.iter().all(|c| c.is_registered()), "{what}");
        let seen = &sim.servers[0].seen;
        // Ten keepalives each, every one accepted with credentials.
        assert_eq!(seen.message_authorized, 20, "{what}");
        assert_eq!(seen.wrong_auth_header, 0, "{what}");
        // With qop: challenged once, then the nonce reused with the next nc; without, the
        // nonce is not reused and every keepalive is challenged.
        let (challenges, reuses) = if qop { (2, 18) } else { (20, 0) };
        assert_eq!(
            (seen.message_challenges, seen.nonce_reuses),
            (challenges, reuses),
            "{what}"
        );
        // One record per keepalive, from its due time to the final answer.
        let t = &sim.net.tally;
        assert_eq!(t.total(TxnKind::Keepalive), 20, "{what}");
        assert_eq!(
            t.get(TxnKind::Keepalive, Outcome::Status(200)),
            20,
            "{what}"
        );
        let first = sim
            .net
            .records
            .iter()
            .find(|(_, _, r)| r.kind == TxnKind::Keepalive)
            .unwrap()
            .2;
        // Challenged: two round trips of 2 ms from when it was due, no lag.
        assert_eq!((first.latency, first.lag), (4 * MS, Span::ZERO), "{what}");
        assert_eq!(sim.out.counters.stray, 0);
    }
}

#[test]
fn challenged_query_answers_are_answered() {
    let script = Script {
        challenge_messages: true,
        queries: vec!["Catalog", "DeviceInfo"],
        ..Script::default()
    };
    let mut sim = sim(2, cfg(), script);
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 5 * S);
    assert_eq!(sim.servers[0].seen.query_responses, 4);
    let t = &sim.net.tally;
    assert_eq!(t.get(TxnKind::QueryResponse, Outcome::Status(200)), 4);
    assert_eq!(t.total(TxnKind::QueryResponse), 4);
}

#[test]
fn a_kept_challenge_the_registrar_no_longer_takes() {
    let mut sim = sim(
        1,
        cfg(),
        Script {
            challenge_messages: true,
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 61 * S);
    assert_eq!(sim.out.credentials.len(), 1);
    // Now it challenges with 407: the kept credentials (in Authorization) are not looked at,
    // the 407 is answered in Proxy-Authorization, and the keepalive still ends 200, once.
    sim.servers[0].script.challenge_code = 407;
    sim.run_until(T0 + 121 * S);
    let seen = &sim.servers[0].seen;
    assert_eq!((seen.wrong_auth_header, seen.message_challenges), (1, 2));
    let t = &sim.net.tally;
    assert_eq!(t.get(TxnKind::Keepalive, Outcome::Status(200)), 2);
    // A wrong password: the kept credentials get 403, recorded as such, one per keepalive.
    sim.servers[0].script.password = "changed".into();
    sim.run_until(T0 + 181 * S);
    let t = &sim.net.tally;
    assert_eq!(t.get(TxnKind::Keepalive, Outcome::Status(403)), 1);
    assert_eq!(t.total(TxnKind::Keepalive), 3);
}

#[test]
fn keepalives_answered_405_or_404_are_reported_as_such() {
    for code in [405, 404] {
        let mut sim = sim(
            1,
            cfg(),
            Script {
                keepalive_status: Some(code),
                ..Script::default()
            },
        );
        sim.start_all(Span::ZERO);
        sim.run_until(T0 + 150 * S);
        let t = &sim.net.tally;
        assert_eq!(
            t.get(TxnKind::Keepalive, Outcome::Status(code)),
            2,
            "{code}"
        );
        assert_eq!(t.total(TxnKind::Keepalive), 2, "{code}");
        let mut snap = crate::stats::Snapshot::default();
        for (_, _, r) in &sim.net.records {
            snap.record(r);
        }
        assert_eq!(snap.kind(TxnKind::Keepalive).status(code), 2);
    }
}

#[test]
fn a_camera_that_went_offline_is_unregistered_at_the_stop() {
    // Keepalives unanswered from 120 s: offline after three misses (at 300 s), the binding
    // (3600 s) still held; the retry would be at 360 s.
    let mut sim = sim(2, cfg(), Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 61 * S);
    sim.servers[0].script.ignore_keepalives = true;
    sim.run_until(T0 + 310 * S);
    assert!(sim.cams.iter().all(|c| !c.is_registered()));
    assert_eq!(sim.out.counters.offline, 2);
    sim.stop_all();
    sim.run_until(T0 + 320 * S);
    assert!(sim.cams.iter().all(|c| c.is_stopped() && c.unregistered()));
    assert_eq!(sim.servers[0].seen.unregistrations, 2);
    assert_eq!(
        sim.net.tally.get(TxnKind::Unregister, Outcome::Status(200)),
        2
    );
}

#[test]
fn a_lapsed_binding_is_not_unregistered() {
    // Granted 100 s, then the server goes silent: the refresh at 85 s times out, the
    // binding lapses at 100 s; a stop at 200 s sends nothing.
    let mut sim = sim(
        1,
        cfg(),
        Script {
            grant: Some(100),
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 10 * S);
    sim.servers[0].script.silent = true;
    sim.run_until(T0 + 200 * S);
    sim.stop_all();
    sim.run_until(T0 + 260 * S);
    assert!(sim.cams[0].is_stopped() && !sim.cams[0].unregistered());
    assert_eq!(sim.net.tally.total(TxnKind::Unregister), 0);
}

#[test]
fn a_binding_in_its_last_second_is_unregistered() {
    // Granted 2 s: registered at 4 ms, refreshed at 1.704 s (85%), held until 3.708 s. A
    // stop at 3.1 s unregisters it (the lapse is kept rounded up to whole seconds, never
    // down).
    let mut c = cfg();
    c.expires = 2;
    let mut sim = sim(1, c, Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 3100 * MS);
    assert_eq!(sim.net.tally.get(TxnKind::Refresh, Outcome::Status(200)), 1);
    sim.stop_all();
    sim.run_until(T0 + 4 * S);
    assert!(sim.cams[0].unregistered());
}
