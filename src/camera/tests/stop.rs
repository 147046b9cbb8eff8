//! Stopping: the unregister (answered or timed out), a keepalive or refresh already in
//! flight when the stop comes, the abort at the end of the grace period, and, over a long
//! lossy run that ends in a stop, every transaction ending in exactly one record.
//!
//! Never about what happens before the stop (the other files).

use super::*;

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
