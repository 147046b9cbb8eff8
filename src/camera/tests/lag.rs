//! What a record's three times mean: latency from when the request was due (what a user of the
//! server sees), schedule lag from then to the first send (the generator's own), and service
//! time from the first send to the final answer (`latency - lag`, the server's part): a host
//! that fires a timer late, a flow with two round trips, a flow that never sent anything, a
//! challenge the camera cannot answer; and the due times the camera sets falling on the timer
//! wheel's ticks, so a host that fires with its wheel sends on time.
//!
//! Never about when requests are due (`registration`, `keepalive`) or retransmission timing
//! (`transport`).

use super::*;
use crate::sip::Batch;
use crate::stats::snapshot::KindStats;
use crate::testkit::ScriptedServer;

/// The scripted registrar's one answer to `request` at `now`.
fn answer(srv: &mut ScriptedServer, now: Time, request: &[u8]) -> Vec<u8> {
    let mut replies = Batch::new();
    srv.handle(now, camera_addr(0), request, &mut replies);
    replies.get(0).expect("an answer").to_vec()
}

/// A camera by hand and the scripted registrar (401 with qop, then 200).
fn bench(cfg: CameraConfig) -> (Bench1, ScriptedServer) {
    let srv = ScriptedServer::new(camera_addr(99), cfg.server_id, Script::default());
    (Bench1::new(cfg), srv)
}

/// Registers the camera at `at`, every answer at once.
fn register_at(b: &mut Bench1, srv: &mut ScriptedServer, at: Time) {
    let sent = b.call(|c, env| c.handle_start(at, at, env));
    let challenge = answer(srv, at, &sent[0]);
    let sent = b.call(|c, env| c.handle_message(at, &challenge, env));
    let ok = answer(srv, at, &sent[0]);
    b.call(|c, env| c.handle_message(at, &ok, env));
    assert!(b.cam.is_registered());
}

/// The one record the last call produced, and the stats it makes: the value in µs each of
/// the latency, service and lag histograms holds (its lowest equivalent, as histograms keep
/// three significant digits; 0 when a histogram stayed empty).
fn one_record(b: &Bench1) -> (Record, [u64; 3]) {
    assert_eq!(b.out.records.len(), 1, "{:?}", b.out.records);
    let r = b.out.records[0];
    let mut st = KindStats::default();
    st.record(&r);
    (r, [&st.latency, &st.service, &st.lag].map(|h| h.min()))
}

#[test]
fn a_keepalive_fired_late_by_its_host_is_lag_not_service() {
    let (mut b, mut srv) = bench(cfg());
    register_at(&mut b, &mut srv, T0);
    let due = b.cam.poll_timeout().unwrap();
    assert_eq!(due, T0 + 60 * S, "the first keepalive");
    // The host wakes 700 µs late; the server answers 300 µs after the keepalive left.
    let late = due + 700 * US;
    let sent = b.call(|c, env| c.handle_timeout(late, env));
    assert_eq!(sent.len(), 1);
    let ok = answer(&mut srv, late, &sent[0]);
    b.call(|c, env| c.handle_message(late + 300 * US, &ok, env));
    let (r, [latency, service, lag]) = one_record(&b);
    assert_eq!(
        r,
        Record {
            kind: TxnKind::Keepalive,
            outcome: Outcome::Status(200),
            latency: 1000 * US,
            lag: 700 * US,
            retransmits: 0,
            redirected: false,
        }
    );
    assert_eq!((latency, service, lag), (1000, 300, 700));
}

#[test]
fn a_challenged_register_serves_both_round_trips_and_lags_to_its_first_send() {
    let (mut b, mut srv) = bench(cfg());
    // Due at zero, started 400 µs late; each round trip takes 1 ms.
    let start = T0 + 400 * US;
    let first = b.call(|c, env| c.handle_start(start, T0, env));
    let challenge = answer(&mut srv, start, &first[0]);
    let second = b.call(|c, env| c.handle_message(start + MS, &challenge, env));
    assert_eq!(second.len(), 1, "the answer to the challenge");
    let ok = answer(&mut srv, start + MS, &second[0]);
    b.call(|c, env| c.handle_message(start + 2 * MS, &ok, env));
    assert!(b.cam.is_registered());
    let (r, [latency, service, lag]) = one_record(&b);
    assert_eq!(
        r,
        Record {
            kind: TxnKind::Register,
            outcome: Outcome::Status(200),
            latency: 2400 * US,
            lag: 400 * US,
            retransmits: 0,
            redirected: false,
        }
    );
    assert_eq!((latency, service, lag), (2400, 2000, 400));
}

#[test]
fn a_challenged_refresh_fired_late_lags_to_its_first_send() {
    let mut c = cfg();
    c.expires = 100;
    c.heartbeat_ms = 200_000;
    let (mut b, mut srv) = bench(c);
    register_at(&mut b, &mut srv, T0);
    let due = b.cam.poll_timeout().unwrap();
    assert_eq!(due, T0 + 85 * S, "the refresh at 85% of 100 s");
    let late = due + 250 * US;
    let first = b.call(|c, env| c.handle_timeout(late, env));
    assert_eq!(first.len(), 1);
    let challenge = answer(&mut srv, late, &first[0]);
    let second = b.call(|c, env| c.handle_message(late + 500 * US, &challenge, env));
    let ok = answer(&mut srv, late + 500 * US, &second[0]);
    b.call(|c, env| c.handle_message(late + MS, &ok, env));
    let (r, [latency, service, lag]) = one_record(&b);
    assert_eq!(
        (r.kind, r.outcome),
        (TxnKind::Refresh, Outcome::Status(200))
    );
    assert_eq!((r.latency, r.lag), (1250 * US, 250 * US));
    assert_eq!((latency, service, lag), (1250, 1000, 250));
}

#[test]
fn a_flow_that_never_sent_is_all_lag() {
    let mut c = cfg();
    c.transport = Transport::Tcp;
    // The connect fails 3 ms after the start was due.
    let (mut b, _) = bench(c.clone());
    assert!(
        b.call(|c, env| c.handle_start(T0 + 100 * US, T0, env))
            .is_empty()
    );
    assert_eq!(b.out.actions, vec![Action::Connect]);
    b.call(|c, env| c.handle_transport_error(T0 + 3 * MS, env));
    let (r, [latency, service, lag]) = one_record(&b);
    assert_eq!(
        r,
        Record {
            kind: TxnKind::Register,
            outcome: Outcome::TransportError,
            latency: 3 * MS,
            lag: 3 * MS,
            retransmits: 0,
            redirected: false,
        }
    );
    // Unanswered: counted and its lag kept, neither latency nor service timed.
    assert_eq!((latency, service, lag), (0, 0, 3000));
    // Stopped before the connection opened: abandoned, all lag too.
    let (mut b, _) = bench(c);
    b.call(|c, env| c.handle_start(T0, T0, env));
    b.call(|c, env| c.handle_abort(T0 + 5 * MS, env));
    let (r, _) = one_record(&b);
    assert_eq!(
        (r.outcome, r.latency, r.lag),
        (Outcome::Abandoned, 5 * MS, 5 * MS)
    );
}

#[test]
fn a_challenge_it_cannot_answer_lags_only_to_the_first_send() {
    let (mut b, _) = bench(cfg());
    let start = T0 + 200 * US;
    let req = b.call(|c, env| c.handle_start(start, T0, env)).remove(0);
    let mut h = [Header::EMPTY; 40];
    let m = parse_datagram(&req, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    let mut challenge = Vec::new();
    let mut w = crate::sip::response_to(&mut challenge, &m, 401, Some(b"srv"), None);
    w.header(
        b"WWW-Authenticate",
        b"Digest realm=\"3402000000\", nonce=\"n\", algorithm=AKAv1-MD5",
    );
    w.finish(b"");
    assert!(
        b.call(|c, env| c.handle_message(start + MS, &challenge, env))
            .is_empty()
    );
    let (r, _) = one_record(&b);
    assert_eq!(
        (r.kind, r.outcome, r.latency, r.lag),
        (TxnKind::Register, Outcome::Status(401), 1200 * US, 200 * US)
    );
}

#[test]
fn a_host_that_fires_with_the_wheel_sends_on_time_and_service_is_the_round_trips() {
    let mut c = cfg();
    c.expires = 100;
    let mut sim = sim(3, c, Script::default());
    // A delay off the wheel's ticks, so answers arrive between them; the keepalives and
    // refreshes they schedule are still due on ticks, where the wheel fires them.
    sim.net.delay = 1337 * US;
    let rtt = 2 * sim.net.delay;
    sim.start_all(7 * MS);
    sim.run_until(T0 + 200 * S);
    let mut seen = [0; 3];
    for (_, _, r) in &sim.net.records {
        assert_eq!(r.outcome, Outcome::Status(200), "{r:?}");
        let service = r.latency - r.lag;
        let (i, round_trips) = match r.kind {
            // A challenge and its answer: two round trips.
            TxnKind::Register => (0, 2),
            // At 85 s and 170 s, challenged too.
            TxnKind::Refresh => (1, 2),
            TxnKind::Keepalive => (2, 1),
            _ => panic!("{r:?}"),
        };
        assert_eq!((r.lag, service), (Span::ZERO, round_trips * rtt), "{r:?}");
        seen[i] += 1;
    }
    assert_eq!(seen, [3, 6, 9]);
}

#[test]
fn due_times_the_camera_sets_fall_on_ticks() {
    let mut c = cfg();
    c.expires = 100;
    c.retry_jitter_permille = 200;
    let (mut b, mut srv) = bench(c);
    // Registered at an odd microsecond: the keepalive and the refresh are due on ticks.
    let at = T0 + 1_234_567 * US;
    register_at(&mut b, &mut srv, at);
    let on_tick = crate::timer::on_tick;
    let keepalive = at + 60 * S;
    assert_eq!(b.cam.poll_timeout(), Some(on_tick(keepalive)));
    assert!(on_tick(keepalive) > keepalive && on_tick(keepalive) < keepalive + TICK);
    let sent = b.call(|c, env| c.handle_timeout(on_tick(keepalive), env));
    let ok = answer(&mut srv, on_tick(keepalive), &sent[0]);
    b.call(|c, env| c.handle_message(on_tick(keepalive) + 333 * US, &ok, env));
    // The refresh at 85 s comes before the next keepalive.
    assert_eq!(b.cam.poll_timeout(), Some(on_tick(at + 85 * S)));
    // The network fails at an odd time: the retry (interval plus jitter) is due on a tick.
    let failed = at + 61 * S + 777 * US;
    b.call(|c, env| c.handle_transport_error(failed, env));
    assert!(!b.cam.is_registered());
    let retry = b.cam.poll_timeout().unwrap();
    assert!(retry >= failed + 60 * S, "{retry:?}");
    assert_eq!(on_tick(retry), retry);
}

/// Answers what the camera sent at `at` until its transaction ends, each answer arriving
/// `rtt` after the request it answers.
fn settle(
    b: &mut Bench1,
    srv: &mut ScriptedServer,
    mut sent: Vec<Vec<u8>>,
    mut at: Time,
    rtt: Span,
) {
    while let Some(req) = sent.first() {
        let reply = answer(srv, at, req);
        at += rtt;
        sent = b.call(|c, env| c.handle_message(at, &reply, env));
    }
}

#[test]
fn an_unregister_sent_after_its_stop_was_due_is_lag() {
    let (mut b, mut srv) = bench(cfg());
    register_at(&mut b, &mut srv, T0);
    // The stop's schedule made this camera due at T0 + 10 s; its host got to it 2 ms later,
    // and the registrar challenges the unregister too (two round trips of 250 µs).
    let due = T0 + 10 * S;
    let late = due + 2000 * US;
    let sent = b.call(|c, env| c.handle_stop(late, due, env));
    assert_eq!(sent.len(), 1, "the unregister");
    settle(&mut b, &mut srv, sent, late, 250 * US);
    let (r, [latency, service, lag]) = one_record(&b);
    assert_eq!(
        (r.kind, r.outcome),
        (TxnKind::Unregister, Outcome::Status(200))
    );
    assert_eq!((latency, service, lag), (2500, 500, 2000));
    // A due time in the future is no excuse: latency never counts from after the send.
    let (mut b, mut srv) = bench(cfg());
    register_at(&mut b, &mut srv, T0);
    let now = T0 + 5 * S;
    let sent = b.call(|c, env| c.handle_stop(now, now + 3 * S, env));
    settle(&mut b, &mut srv, sent, now, 50 * US);
    let (_, [latency, service, lag]) = one_record(&b);
    assert_eq!((latency, service, lag), (100, 100, 1));
}
