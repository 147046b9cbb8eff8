//! 302 redirects: registering at the server a 302 names, and back to the configured server
//! (challenged again) when that one rejects the camera or stops answering its keepalives.
//!
//! Never about the registration exchange itself (`registration`).

use super::*;

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
            .all(|c| c.is_registered() && c.redirect().is_some())
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
