//! Keepalives: one every interval with an increasing SN, missed keepalives taking a camera
//! offline and back, a heartbeat shorter than Timer F, and faults reported in keepalives (a
//! share of the fleet, or at once on a fault event).
//!
//! Never about keepalives around a stop (`stop`).

use super::*;

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
