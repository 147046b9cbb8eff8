//! Cameras against the real registrar core in virtual time, no sockets (as quinn-proto's
//! `Pair` runs two endpoints): both peers are the production sans-IO cores, joined by the
//! simulation's in-memory network. Hours of protocol — digest registration, refreshes across
//! nonce expiry, keepalives, the Catalog query and its answer, a 302 redirect, the final
//! unregistration — in milliseconds, with the same outcome every run; and a camera the
//! registrar bans (Monibuca's rule) keeping its retry interval.

use gbswarm::camera::{CameraConfig, Outcome, TxnKind};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::DeviceId;
use gbswarm::server::guard::GuardConfig;
use gbswarm::server::registrar::{Config, Redirect, Registrar};
use gbswarm::server::registry::Registry;
use gbswarm::testkit::Sim;
use std::net::SocketAddr;
use std::sync::Arc;

const T0: Time = Time::ZERO;
const S: Span = Span::from_secs(1);
const MS: Span = Span::from_millis(1);

fn id(s: &str) -> DeviceId {
    s.parse().unwrap()
}

fn camera_cfg() -> CameraConfig {
    let mut c = CameraConfig::new(id("34020000002000000001"));
    c.retry_jitter_permille = 0;
    c
}

fn registrar(cfg: Config) -> Registrar {
    Registrar::new(cfg, Arc::new(Registry::new(4)), [7; 16]).with_unix_zero(1_795_475_772_123)
}

#[test]
fn three_hours_of_a_fleet_against_the_real_registrar() {
    const N: u32 = 50;
    let reg = registrar(Config {
        query_catalog: true,
        via_host: Sim::<Registrar>::SERVER.to_string(),
        ..Config::new(id("34020000002000000001"), "12345678")
    });
    let mut sim = Sim::with_server(camera_cfg(), id("34020000001320000001"), N, reg);
    sim.start_all(20 * MS);
    sim.run_until(T0 + 3 * 3600 * S);
    let t = &sim.net.tally;
    assert_eq!(t.get(TxnKind::Register, Outcome::Status(200)), u64::from(N));
    assert_eq!(t.total(TxnKind::Register), u64::from(N));
    // Granted 3600 s, refreshed at 85%: at 3060, 6120 and 9180 s. Each refresh outlives the
    // 300 s nonce, so the registrar says stale and the camera answers the fresh challenge.
    assert_eq!(
        t.get(TxnKind::Refresh, Outcome::Status(200)),
        3 * u64::from(N)
    );
    assert_eq!(t.total(TxnKind::Refresh), 3 * u64::from(N));
    // A keepalive every 60 s for three hours, each answered.
    let ka = t.get(TxnKind::Keepalive, Outcome::Status(200));
    assert_eq!(t.total(TxnKind::Keepalive), ka);
    assert!(ka >= 179 * u64::from(N), "{ka}");
    // The platform's Catalog query right after registration, answered with one channel each.
    assert_eq!(
        t.get(TxnKind::QueryResponse, Outcome::Status(200)),
        u64::from(N)
    );
    let st = sim.servers[0].stats();
    assert_eq!(st.queries_sent, u64::from(N));
    assert_eq!(
        (st.catalog_responses, st.catalog_items),
        (u64::from(N), u64::from(N))
    );
    assert_eq!(st.keepalives, ka);
    assert_eq!(st.replays, 0);
    assert_eq!(sim.out.counters.malformed + sim.out.counters.stray, 0);
    let now = sim.now();
    let gap = sim.servers[0].max_silence();
    assert_eq!(
        sim.servers[0].registry().counts(now, gap),
        (u64::from(N), u64::from(N))
    );
    sim.stop_all();
    sim.run_until(T0 + 3 * 3600 * S + 10 * S);
    let t = &sim.net.tally;
    assert_eq!(
        t.get(TxnKind::Unregister, Outcome::Status(200)),
        u64::from(N)
    );
    assert_eq!(sim.servers[0].registry().counts(now, gap), (0, 0));
    assert!(sim.cams.iter().all(|c| c.is_stopped()));
}

#[test]
fn a_302_from_the_real_registrar_sends_the_fleet_to_server_a() {
    const N: u32 = 20;
    let a_addr: SocketAddr = "10.255.0.2:5070".parse().unwrap();
    let a_id = id("34020000002000000002");
    let redirector = registrar(Config {
        redirect: Some(Redirect {
            targets: vec![(a_id, a_addr)],
            round_robin: false,
        }),
        ..Config::new(id("34020000002000000001"), "12345678")
    });
    let mut sim = Sim::with_server(camera_cfg(), id("34020000001320000001"), N, redirector);
    sim.add_peer(a_addr, registrar(Config::new(a_id, "12345678")));
    sim.start_all(10 * MS);
    sim.run_until(T0 + 600 * S);
    let t = &sim.net.tally;
    // One transaction per camera, ended by A's 200 and marked redirected; the 302 is none.
    assert_eq!(t.get(TxnKind::Register, Outcome::Status(302)), 0);
    assert_eq!(t.get(TxnKind::Register, Outcome::Status(200)), u64::from(N));
    assert_eq!(
        (t.total(TxnKind::Register), t.redirected),
        (u64::from(N), u64::from(N))
    );
    assert_eq!(sim.servers[0].stats().redirects, u64::from(N));
    assert_eq!(sim.servers[0].stats().keepalives, 0);
    assert!(
        sim.servers[1].stats().keepalives >= 9 * u64::from(N),
        "keepalives go to A"
    );
    let now = sim.now();
    let everyone = 3600 * S;
    assert_eq!(sim.servers[0].registry().counts(now, everyone), (0, 0));
    assert_eq!(
        sim.servers[1].registry().counts(now, everyone),
        (u64::from(N), u64::from(N))
    );
    assert!(
        sim.cams
            .iter()
            .all(|c| c.is_registered() && c.redirect().is_some())
    );
}

#[test]
fn a_423_from_the_real_registrar_is_asked_again_with_its_min_expires() {
    const N: u32 = 10;
    let mut c = camera_cfg();
    c.expires = 30;
    let reg = registrar(Config {
        min_expires: 120,
        ..Config::new(id("34020000002000000001"), "12345678")
    });
    let mut sim = Sim::with_server(c, id("34020000001320000001"), N, reg);
    sim.start_all(10 * MS);
    sim.run_until(T0 + 250 * S);
    // Asked 30 s, told 120: asked again at once in the same flow (one record each); granted
    // 120 s, refreshed at 102 and 204 s asking 120, never too brief again.
    let t = &sim.net.tally;
    assert_eq!(t.get(TxnKind::Register, Outcome::Status(200)), u64::from(N));
    assert_eq!(t.total(TxnKind::Register), u64::from(N));
    assert_eq!(
        t.get(TxnKind::Refresh, Outcome::Status(200)),
        2 * u64::from(N)
    );
    assert_eq!(t.total(TxnKind::Refresh), 2 * u64::from(N));
    assert_eq!(sim.servers[0].stats().response(423), u64::from(N));
    assert!(sim.cams.iter().all(|c| c.is_registered()));
}

#[test]
fn the_registrar_offering_sha256_then_md5_is_answered_with_sha256() {
    use gbswarm::sip::digest::Algorithm;
    const N: u32 = 20;
    for (offered, qop) in [
        (vec![Algorithm::SHA256, Algorithm::MD5], true),
        (vec![Algorithm::SHA512_256_SESS], true),
        (vec![Algorithm::SHA256_SESS], false),
    ] {
        let reg = registrar(Config {
            digest: offered.clone(),
            qop,
            ..Config::new(id("34020000002000000001"), "12345678")
        });
        let mut sim = Sim::with_server(camera_cfg(), id("34020000001320000001"), N, reg);
        sim.start_all(10 * MS);
        // Past a refresh (at 3060 s), challenged again after the 300 s nonce went stale.
        sim.run_until(T0 + 3100 * S);
        sim.stop_all();
        sim.run_until(T0 + 3110 * S);
        let t = &sim.net.tally;
        let what = format!("{offered:?} qop {qop}");
        for kind in [TxnKind::Register, TxnKind::Refresh, TxnKind::Unregister] {
            assert_eq!(
                t.get(kind, Outcome::Status(200)),
                u64::from(N),
                "{what} {kind:?}"
            );
            assert_eq!(t.total(kind), u64::from(N), "{what} {kind:?}");
        }
        let st = sim.servers[0].stats();
        assert_eq!(st.response(403), 0, "{what}");
        // Every answer (registration, refresh, unregistration) used the first challenge.
        for alg in Algorithm::ALL {
            let n = if alg == offered[0] {
                3 * u64::from(N)
            } else {
                0
            };
            assert_eq!(st.digest_answers(alg), n, "{what} {alg}");
        }
    }
}

#[test]
fn a_camera_the_registrar_bans_keeps_its_retry_interval() {
    // Cameras with a stale password against Monibuca's rule (600 s ban after 3 failures) for
    // two hours: banned again and again, refused with 403 or with silence, each camera still
    // tries once per retry interval (60 s) and no sooner, never hammering the platform.
    const N: u32 = 5;
    const HOURS2: u64 = 2 * 3600;
    for silent in [false, true] {
        let reg = registrar(Config {
            guard: GuardConfig {
                silent,
                ..GuardConfig::monibuca()
            },
            ..Config::new(id("34020000002000000001"), "12345678")
        });
        let mut c = camera_cfg();
        c.password = "stale".into();
        let mut sim = Sim::with_server(c, id("34020000001320000001"), N, reg);
        sim.start_all(10 * MS);
        sim.run_until(T0 + HOURS2 * S);
        let st = sim.servers[0].stats();
        assert_eq!(st.registrations, 0, "silent {silent}");
        // Three failures, then refusals until the ban ends, about every 12 attempts.
        let bans = st.bans[0];
        assert!(
            (9 * u64::from(N)..=11 * u64::from(N)).contains(&bans),
            "silent {silent}: {bans} bans"
        );
        assert!(st.refused_banned[0] >= 6 * bans, "silent {silent}: {st:?}");
        for cam in 0..N {
            let mut starts: Vec<Time> = sim
                .net
                .records
                .iter()
                .filter(|(c, _, r)| *c == cam && r.kind == TxnKind::Register)
                .map(|(_, end, r)| end.minus(r.latency))
                .collect();
            starts.sort();
            for w in starts.windows(2) {
                assert!(w[1] - w[0] >= 60 * S, "silent {silent}: {:?}", w[1] - w[0]);
            }
            let n = starts.len() as u64;
            assert!(
                (HOURS2 / (60 + 32) - 1..=HOURS2 / 60 + 1).contains(&n),
                "silent {silent}: {n} attempts"
            );
        }
        let t = &sim.net.tally;
        let refused = t.get(TxnKind::Register, Outcome::Status(403));
        let timeouts = t.get(TxnKind::Register, Outcome::Timeout);
        assert_eq!(refused + timeouts, t.total(TxnKind::Register));
        if silent {
            // A silent refusal is a transaction that times out: the request and its
            // retransmissions (Timer E, at most 10 in Timer F's 32 s) are all it sends, each
            // refused by the ban.
            let sent: u64 = sim
                .net
                .records
                .iter()
                .filter(|(_, _, r)| r.outcome == Outcome::Timeout)
                .map(|(_, _, r)| 1 + u64::from(r.retransmits))
                .sum();
            assert_eq!(sent, st.refused_banned[0]);
            assert!(sim.net.records.iter().all(|(_, _, r)| r.retransmits <= 10));
        } else {
            assert_eq!(timeouts, 0);
        }
    }
}
