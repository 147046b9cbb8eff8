//! Every device behaviour, driven by simulated time against the scripted registrar.

use super::*;
use crate::clock::{Span, Time};
use crate::sip::Batch;
use crate::sip::{Header, Limits, parse_datagram};
use crate::testkit::{Script, ScriptedServer, Sim, camera_addr};
use std::collections::HashSet;

const T0: Time = Time::ZERO;
const S: Span = Span::from_secs(1);
const MS: Span = Span::from_millis(1);
const US: Span = Span::from_micros(1);

fn id(s: &str) -> DeviceId {
    s.parse().unwrap()
}

fn cfg() -> CameraConfig {
    let mut c = CameraConfig::new(id("34020000002000000001"));
    c.retry_jitter_permille = 0;
    c
}

fn sim(n: u32, cfg: CameraConfig, script: Script) -> Sim {
    Sim::new(cfg, id("34020000001320000001"), n, script)
}

/// Drives one camera by hand: each call returns what it sent.
struct Bench1 {
    cam: Camera,
    cfg: CameraConfig,
    out: Outbox,
}

impl Bench1 {
    fn new(cfg: CameraConfig) -> Self {
        let cam = Camera::new(id("34020000001320000001"), 0, &cfg);
        Bench1 {
            cam,
            cfg,
            out: Outbox::default(),
        }
    }

    fn call(&mut self, f: impl FnOnce(&mut Camera, &mut Env<'_>)) -> Vec<Vec<u8>> {
        self.out.clear();
        let mut env = Env {
            cfg: &self.cfg,
            local: camera_addr(0),
            out: &mut self.out,
        };
        f(&mut self.cam, &mut env);
        self.out
            .sends
            .iter()
            .map(|t| self.out.bytes(t).to_vec())
            .collect()
    }
}

fn field(raw: &[u8], f: impl FnOnce(&crate::sip::Message<'_, '_>) -> Option<String>) -> String {
    let mut h = [Header::EMPTY; 40];
    let m = parse_datagram(raw, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    f(&m).unwrap_or_default()
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn state_fits_the_budget() {
    assert!(
        std::mem::size_of::<Camera>() <= 256,
        "Camera is {} bytes",
        std::mem::size_of::<Camera>()
    );
}

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
            retransmits: 0
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

#[test]
fn udp_retransmission_nothing_at_t_minus_1_then_at_t() {
    let mut b = Bench1::new(cfg());
    assert_eq!(b.call(|c, env| c.handle_start(T0, T0, env)).len(), 1);
    let mut at = T0;
    for interval in [500u64, 1000, 2000, 4000, 4000, 4000] {
        at += interval * MS;
        assert!(
            b.call(|c, env| c.handle_timeout(at.minus(US), env))
                .is_empty(),
            "at {at:?}"
        );
        assert_eq!(b.cam.poll_timeout(), Some(at));
        let again = b.call(|c, env| c.handle_timeout(at, env));
        assert_eq!(again.len(), 1);
    }
}

#[test]
fn provisional_response_slows_retransmission_to_t2() {
    let mut b = Bench1::new(cfg());
    let req = b.call(|c, env| c.handle_start(T0, T0, env)).remove(0);
    let mut h = [Header::EMPTY; 40];
    let m = parse_datagram(&req, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    let mut trying = Vec::new();
    crate::sip::response_to(&mut trying, &m, 100, None, None).finish(b"");
    b.call(|c, env| c.handle_message(T0 + 100 * MS, &trying, env));
    assert_eq!(b.cam.poll_timeout(), Some(T0 + 100 * MS + 4 * S));
}

#[test]
fn stray_duplicate_and_malformed_responses_are_counted_and_ignored() {
    let mut b = Bench1::new(cfg());
    let req = b.call(|c, env| c.handle_start(T0, T0, env)).remove(0);
    let mut srv = ScriptedServer::new(camera_addr(9), cfg().server_id, Script::default());
    let mut replies = Batch::new();
    srv.handle(T0, camera_addr(0), &req, &mut replies);
    let challenge = replies.get(0).unwrap().to_vec();
    b.call(|c, env| c.handle_message(T0 + MS, &challenge, env));
    // The same 401 again: its transaction is gone.
    assert!(
        b.call(|c, env| c.handle_message(T0 + 2 * MS, &challenge, env))
            .is_empty()
    );
    assert_eq!(b.out.counters.stray, 1);
    for junk in [
        &b"garbage"[..],
        b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKother\r\nCSeq: 1 REGISTER\r\n\r\n",
    ] {
        assert!(
            b.call(|c, env| c.handle_message(T0 + 3 * MS, junk, env))
                .is_empty()
        );
    }
    assert_eq!(b.out.counters.malformed, 2);
    assert_eq!(b.out.counters.stray, 2);
    // Still waiting for the authenticated REGISTER's answer, retransmitting.
    assert_eq!(b.cam.poll_timeout(), Some(T0 + MS + 500 * MS));
}

#[test]
fn unregister_on_stop() {
    let mut sim = sim(5, cfg(), Script::default());
    sim.start_all(MS);
    sim.run_until(T0 + 10 * S);
    sim.stop_all();
    sim.run_until(T0 + 20 * S);
    assert!(sim.cams.iter().all(|c| c.is_stopped() && c.unregistered()));
    assert_eq!(sim.servers[0].seen.unregistrations, 5);
    assert_eq!(
        sim.net.tally.get(TxnKind::Unregister, Outcome::Status(200)),
        5
    );
}

#[test]
fn unregister_that_times_out_is_reported() {
    let mut sim = sim(1, cfg(), Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 5 * S);
    sim.servers[0].script.silent = true;
    sim.stop_all();
    sim.run_until(T0 + 60 * S);
    assert!(sim.cams[0].is_stopped());
    assert!(!sim.cams[0].unregistered());
    assert_eq!(sim.net.tally.get(TxnKind::Unregister, Outcome::Timeout), 1);
}

fn redirect_sim() -> Sim {
    let a_addr: SocketAddr = "10.255.0.2:5070".parse().unwrap();
    let a_id = id("34020000002000000002");
    let mut sim = sim(
        4,
        cfg(),
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
    let mut sim = redirect_sim();
    sim.start_all(MS);
    sim.run_until(T0 + 200 * S);
    assert_eq!(
        sim.net.tally.get(TxnKind::Register, Outcome::Status(302)),
        4
    );
    assert_eq!(
        sim.net.tally.get(TxnKind::Register, Outcome::Status(200)),
        4
    );
    assert_eq!(sim.servers[1].seen.authorized, 4);
    assert!(sim.servers[1].seen.keepalives >= 8, "keepalives go to A");
    assert_eq!(sim.servers[0].seen.keepalives, 0);
    assert!(
        sim.cams
            .iter()
            .all(|c| c.is_registered() && c.redirect() != 0)
    );
}

#[test]
fn redirect_restarts_at_the_redirect_server_when_a_rejects() {
    let mut sim = redirect_sim();
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
    let mut sim = redirect_sim();
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

#[test]
fn keepalives_every_interval_with_increasing_sn() {
    let mut sim = sim(3, cfg(), Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 10 * 60 * S + 10 * MS);
    assert_eq!(sim.servers[0].seen.keepalives, 30);
    assert_eq!(
        sim.net.tally.get(TxnKind::Keepalive, Outcome::Status(200)),
        30
    );
    for c in &sim.cams {
        assert_eq!(sim.servers[0].seen.last_sn[c.id()], 10);
    }
    let times: Vec<Time> = sim
        .net
        .records
        .iter()
        .filter(|(i, _, r)| *i == 0 && r.kind == TxnKind::Keepalive)
        .map(|(_, t, _)| *t)
        .collect();
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], 60 * S);
    }
}

#[test]
fn three_missed_keepalives_mean_offline_then_reregister() {
    let mut sim = sim(2, cfg(), Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 61 * S);
    sim.servers[0].script.ignore_keepalives = true;
    // Keepalives at 120, 180, 240 s go unanswered; counted missed at 180, 240, 300 s.
    sim.run_until(T0 + 299 * S);
    assert!(sim.cams.iter().all(|c| c.is_registered()));
    sim.run_until(T0 + 301 * S);
    assert!(sim.cams.iter().all(|c| !c.is_registered()));
    assert_eq!(sim.out.counters.offline, 2);
    // Unanswered keepalives ended as timeouts (Timer F at 32 s).
    assert_eq!(sim.net.tally.get(TxnKind::Keepalive, Outcome::Timeout), 6);
    sim.servers[0].script.ignore_keepalives = false;
    sim.run_until(T0 + 362 * S);
    assert!(sim.cams.iter().all(|c| c.is_registered()));
    assert_eq!(sim.out.counters.online, 4);
}

#[test]
fn short_heartbeat_counts_a_miss_before_timer_f() {
    let mut c = cfg();
    c.heartbeat_ms = 10_000;
    let mut sim = sim(
        1,
        c,
        Script {
            ignore_keepalives: true,
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    // Keepalives at 10, 20, 30 s; misses counted at 20, 30, 40 s: offline at 40 s, long
    // before three 32 s Timer Fs would have run out.
    sim.run_until(T0 + 39 * S);
    assert!(sim.cams[0].is_registered());
    sim.run_until(T0 + 41 * S);
    assert!(!sim.cams[0].is_registered());
    // Each keepalive still pending at the next tick ends there as a timeout.
    assert_eq!(sim.net.tally.get(TxnKind::Keepalive, Outcome::Timeout), 3);
}

#[test]
fn faulty_share_and_fault_event_reported_at_once() {
    let mut c = cfg();
    c.fault_permille = 500;
    let mut sim = sim(200, c, Script::default());
    let faulty = sim.cams.iter().filter(|c| c.is_faulty()).count();
    assert!((60..140).contains(&faulty), "{faulty}");
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 61 * S);
    assert_eq!(sim.servers[0].seen.fault_reports, faulty as u64);
    let healthy = sim.cams.iter().position(|c| !c.is_faulty()).unwrap() as u32;
    let before = sim.servers[0].seen.keepalives;
    sim.run_until(T0 + 90 * S);
    sim.fault(healthy);
    sim.run_until(T0 + 90 * S + 10 * MS);
    assert_eq!(sim.servers[0].seen.keepalives, before + 1);
    assert_eq!(sim.servers[0].seen.fault_reports, faulty as u64 + 1);
}

#[test]
fn answers_platform_queries_with_paged_catalog() {
    let mut c = cfg();
    c.channels = 45;
    c.catalog_page = 20;
    let script = Script {
        queries: vec!["DeviceInfo", "DeviceStatus", "ConfigDownload", "Catalog"],
        ..Script::default()
    };
    let mut sim = sim(2, c, script);
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 10 * S);
    let seen = &sim.servers[0].seen;
    // 3 single responses + 3 Catalog pages (20 + 20 + 5) per camera.
    assert_eq!(seen.query_responses, 2 * 6);
    assert_eq!(seen.catalog_items, 2 * 45);
    assert_eq!(seen.query_acks, 2 * 4, "each query answered 200 first");
    assert_eq!(
        sim.net
            .tally
            .get(TxnKind::QueryResponse, Outcome::Status(200)),
        12
    );
    assert_eq!(sim.out.counters.queries, 8);
}

#[test]
fn unknown_requests_get_501_options_200_and_retransmissions_the_same_answer() {
    let mut b = Bench1::new(cfg());
    let req = |method: &str, branch: &str| {
        format!(
            "{method} sip:34020000001320000001@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch={branch}\r\nFrom: <sip:34020000002000000001@3402000000>;tag=a\r\nTo: <sip:34020000001320000001@3402000000>\r\nCall-ID: c-{branch}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    };
    let status = |raw: &[u8]| field(raw, |m| m.status().map(|c| c.to_string()));
    let r = b.call(|c, env| c.handle_message(T0, &req("INVITE", "z9hG4bKi"), env));
    assert_eq!(status(&r[0]), "501");
    let r = b.call(|c, env| c.handle_message(T0, &req("OPTIONS", "z9hG4bKo"), env));
    assert_eq!(status(&r[0]), "200");
    assert_eq!(b.out.sends[0].dest, Dest::Source);
    let query = b"MESSAGE sip:34020000001320000001@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch=z9hG4bKq\r\nFrom: <sip:34020000002000000001@3402000000>;tag=a\r\nTo: <sip:34020000001320000001@3402000000>\r\nCall-ID: q1\r\nCSeq: 5 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: 96\r\n\r\n<?xml version=\"1.0\"?>\r\n<Query><CmdType>DeviceInfo</CmdType><SN>7</SN><DeviceID>1</DeviceID></Query>\r\n";
    let first = b.call(|c, env| c.handle_message(T0, query, env));
    assert_eq!(first.len(), 2, "200 OK and the DeviceInfo response");
    let again = b.call(|c, env| c.handle_message(T0 + 500 * MS, query, env));
    assert_eq!(again.len(), 1, "only the 200 again; no second answer");
    assert_eq!(again[0], first[0]);
    assert_eq!(b.out.counters.request_retransmits, 1);
    assert_eq!(b.out.counters.queries, 1);
    assert_eq!(
        field(&first[1], |m| m.method().map(|m| s(m.as_bytes()))),
        "MESSAGE"
    );
    assert!(s(&first[1]).contains("<CmdType>DeviceInfo</CmdType>"));
    assert!(s(&first[1]).contains("<SN>7</SN>"));
}

#[test]
fn tcp_has_no_retransmissions_but_timer_f() {
    let mut c = cfg();
    c.transport = Transport::Tcp;
    let mut b = Bench1::new(c);
    assert!(b.call(|c, env| c.handle_start(T0, T0, env)).is_empty());
    assert_eq!(b.out.actions, vec![Action::Connect]);
    let sent = b.call(|c, env| c.handle_connected(T0 + MS, env));
    assert_eq!(sent.len(), 1);
    assert!(s(&sent[0]).contains("SIP/2.0/TCP"));
    assert_eq!(b.cam.poll_timeout(), Some(T0 + MS + 32 * S));
    assert!(
        b.call(|c, env| c.handle_timeout((T0 + MS + 32 * S).minus(US), env))
            .is_empty()
    );
    b.call(|c, env| c.handle_timeout(T0 + MS + 32 * S, env));
    assert_eq!(b.out.records[0].outcome, Outcome::Timeout);
    assert_eq!(b.out.records[0].retransmits, 0);
    assert_eq!(b.out.actions, vec![Action::Close]);
}

#[test]
fn tcp_connection_loss_means_offline_and_reregister_after_retry() {
    let mut c = cfg();
    c.transport = Transport::Tcp;
    let mut sim = sim(3, c, Script::default());
    sim.start_all(MS);
    sim.run_until(T0 + 5 * S);
    assert!(sim.cams.iter().all(|c| c.is_registered()));
    sim.drop_connection(1);
    assert!(!sim.cams[1].is_registered());
    assert_eq!(sim.out.counters.offline, 1);
    sim.run_until(T0 + 64 * S);
    assert!(!sim.cams[1].is_registered());
    sim.run_until(T0 + 66 * S);
    assert!(sim.cams[1].is_registered());
    assert_eq!(
        sim.net.tally.get(TxnKind::Register, Outcome::Status(200)),
        4
    );
}

#[test]
fn tcp_connect_failure_is_a_transport_error() {
    let mut c = cfg();
    c.transport = Transport::Tcp;
    let mut sim = sim(
        1,
        c,
        Script {
            silent: true,
            ..Script::default()
        },
    );
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + S);
    assert_eq!(
        sim.net
            .tally
            .get(TxnKind::Register, Outcome::TransportError),
        1
    );
    sim.run_until(T0 + 62 * S);
    assert_eq!(
        sim.net
            .tally
            .get(TxnKind::Register, Outcome::TransportError),
        2
    );
}

#[test]
fn every_transaction_ends_in_exactly_one_record() {
    let mut c = cfg();
    c.expires = 300;
    c.heartbeat_ms = 20_000;
    let mut sim = sim(
        50,
        c,
        Script {
            queries: vec!["Catalog"],
            ..Script::default()
        },
    );
    sim.net.loss_permille = 50;
    sim.start_all(10 * MS);
    sim.run_until(T0 + 1200 * S);
    sim.stop_all();
    sim.run_until(T0 + 1300 * S);
    assert!(sim.cams.iter().all(|c| c.is_stopped()));
    // Every keepalive a camera sent (its SN) ended in exactly one record, lost or not.
    let sent: u64 = sim
        .cams
        .iter()
        .map(|c| u64::from(c.keepalives_sent()))
        .sum();
    assert!(sent > 50 * 50);
    assert_eq!(sim.net.tally.total(TxnKind::Keepalive), sent);
    // No retransmission copy outlives its transaction.
    assert_eq!(sim.out.pool.in_use(), 0);
    assert!(
        sim.net.tally.retransmits > 0,
        "5% loss forces retransmissions"
    );
    assert_eq!(sim.net.tally.total(TxnKind::Unregister), 50);
}

#[test]
fn malformed_input_from_the_server_keeps_state() {
    let mut sim = sim(1, cfg(), Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 5 * S);
    let mut b = Bench1::new(cfg());
    b.cam = sim.cams[0].clone();
    for junk in [
        &b"\x00\x01\x02"[..],
        b"SIP/2.0 200 OK\r\nbroken\r\n\r\n",
        b"MESSAGE x SIP/2.0\r\n\r\n",
    ] {
        b.call(|c, env| c.handle_message(T0 + 6 * S, junk, env));
    }
    assert!(b.cam.is_registered());
    assert_eq!(b.out.counters.malformed, 3);
    assert_eq!(b.cam.poll_timeout(), sim.cams[0].poll_timeout());
}

#[test]
fn abort_records_pending_transactions_and_stops() {
    let mut sim = sim(2, cfg(), Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 5 * S);
    sim.servers[0].script.silent = true;
    sim.stop_all();
    sim.run_until(T0 + 6 * S);
    assert!(sim.cams.iter().all(|c| !c.is_stopped()));
    let mut b = Bench1::new(cfg());
    b.cam = sim.cams[0].clone();
    b.call(|c, env| c.handle_abort(T0 + 7 * S, env));
    assert!(b.cam.is_stopped() && !b.cam.unregistered());
    assert_eq!(b.out.records.len(), 1);
    assert_eq!(b.out.records[0].kind, TxnKind::Unregister);
    assert_eq!(b.out.records[0].outcome, Outcome::Abandoned);
    assert_eq!(b.cam.poll_timeout(), None);
}

#[test]
fn no_keepalive_while_unregistering_and_every_keepalive_recorded() {
    let mut sim = sim(1, cfg(), Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 5 * S);
    let hb_next = sim.cams[0].poll_timeout().unwrap();
    // Stop 1 ms before the keepalive is due; the unregister takes two round trips (4 ms).
    sim.run_until(hb_next.minus(MS));
    sim.stop_all();
    sim.run_until(hb_next + 10 * S);
    assert!(sim.cams[0].is_stopped() && sim.cams[0].unregistered());
    assert_eq!(sim.servers[0].seen.keepalives, 0);
    assert_eq!(
        sim.net.tally.total(TxnKind::Keepalive),
        u64::from(sim.cams[0].keepalives_sent())
    );
}

#[test]
fn keepalive_in_flight_at_the_stop_completes() {
    let mut sim = sim(1, cfg(), Script::default());
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 5 * S);
    let hb_next = sim.cams[0].poll_timeout().unwrap();
    // The keepalive has just gone out; its answer is a round trip away when the stop comes.
    sim.run_until(hb_next);
    let sent = sim.cams[0].keepalives_sent();
    assert!(sent > 0);
    sim.stop_all();
    sim.run_until(hb_next + 10 * S);
    assert!(sim.cams[0].is_stopped() && sim.cams[0].unregistered());
    assert_eq!(
        sim.cams[0].keepalives_sent(),
        sent,
        "nothing new after the stop"
    );
    assert_eq!(
        sim.net.tally.get(TxnKind::Keepalive, Outcome::Status(200)),
        u64::from(sent),
        "the keepalive sent before the stop completes"
    );
    assert_eq!(sim.net.tally.get(TxnKind::Keepalive, Outcome::Abandoned), 0);
    assert_eq!(sim.out.counters.stray, 0, "its answer is not stray");
}

#[test]
fn refresh_in_flight_at_the_stop_completes_then_unregisters() {
    let script = Script {
        grant: Some(600),
        ..Script::default()
    };
    let mut sim = sim(1, cfg(), script);
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 509 * S);
    // The refresh is due at 510 s (85% of 600 s); stop the moment it has gone out.
    let due = sim.cams[0].poll_timeout().unwrap();
    sim.run_until(due);
    assert_eq!(
        sim.servers[0].seen.registrations, 1,
        "refresh not answered yet"
    );
    sim.stop_all();
    sim.run_until(due + 10 * S);
    assert!(sim.cams[0].is_stopped() && sim.cams[0].unregistered());
    assert_eq!(sim.net.tally.get(TxnKind::Refresh, Outcome::Status(200)), 1);
    assert_eq!(sim.net.tally.get(TxnKind::Refresh, Outcome::Abandoned), 0);
    assert_eq!(
        sim.net.tally.get(TxnKind::Unregister, Outcome::Status(200)),
        1
    );
    assert_eq!(sim.out.counters.stray, 0);
}
