//! The transport under the transactions: UDP retransmission (Timer E doubling to T2, T2 after
//! a provisional response), Timer F alone over TCP, a lost connection or a failed connect,
//! and stray, duplicate or malformed input that must leave the state as it was.
//!
//! Never about what a final response means for a flow (`registration`, `redirect`).

use super::*;
use crate::sip::Batch;
use crate::testkit::ScriptedServer;

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
