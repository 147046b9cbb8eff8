//! The registrar's defences driven through its core in virtual time: failed-authentication
//! bans per device and per source (403 or silence, even for the right password, until the
//! ban ends), Monibuca's rule, and the per-source rate limit (503 with Retry-After, or
//! nothing).

use super::registrar_core::{DEV, NOW, answer, cfg, handle_from, register, registrar};
use crate::net::Service;
use crate::server::guard::{BanRule, GuardConfig, Over, RateLimit};
use crate::server::registrar::{Config, Registrar, Stats};
use crate::sip::{Batch, Header, Limits, Transport, parse_datagram};
use std::net::SocketAddr;

const OTHER: &str = "34020000001320000002";

fn from(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 5060)
}

/// A registrar with `guard`, counters to add its answers to, and the address attacks come
/// from.
fn guarded(guard: GuardConfig) -> (Registrar, Stats, SocketAddr) {
    (
        registrar(Config { guard, ..cfg() }),
        Stats::default(),
        from("10.0.0.1"),
    )
}

/// One registration attempt of `dev` from `src` at `now` ms with `password`: the challenge,
/// then the answer to it; the status of the second answer (0 if none).
fn attempt(
    r: &mut Registrar,
    now: u64,
    dev: &str,
    password: &str,
    src: SocketAddr,
    st: &mut Stats,
) -> u16 {
    let (code, ch) = handle_from(r, now, &register(dev, 1, 3600, None), src, st);
    assert_eq!(
        code, 401,
        "every first REGISTER is challenged, banned or not"
    );
    let auth = answer(&ch, dev, password, 1);
    handle_from(r, now, &register(dev, 2, 3600, Some(&auth)), src, st).0
}

#[test]
fn five_failures_ban_the_device_even_with_the_right_password_until_the_ban_ends() {
    let (mut r, mut st, a) = guarded(GuardConfig::new());
    for i in 0..4 {
        assert_eq!(
            attempt(&mut r, NOW + i * 1000, DEV, "wrong", a, &mut st),
            403
        );
    }
    assert_eq!(st.bans, [0, 0]);
    let banned_at = NOW + 10_000;
    assert_eq!(attempt(&mut r, banned_at, DEV, "wrong", a, &mut st), 403);
    assert_eq!((st.auth_failures, st.bans), (5, [1, 0]));
    // The right password, from anywhere: refused while the ban lasts.
    assert_eq!(
        attempt(&mut r, banned_at + 1, DEV, "12345678", a, &mut st),
        403
    );
    let b = from("10.0.0.2");
    let last = banned_at + 600_000 - 1;
    assert_eq!(attempt(&mut r, last, DEV, "12345678", b, &mut st), 403);
    assert_eq!(st.refused_banned, [2, 0]);
    assert_eq!(st.auth_failures, 5, "a refusal is no new failure");
    // Another device from the attacker's own address is not concerned.
    assert_eq!(
        attempt(&mut r, banned_at + 2, OTHER, "12345678", a, &mut st),
        200
    );
    // At the end of the ban, the right password is taken.
    assert_eq!(
        attempt(&mut r, banned_at + 600_000, DEV, "12345678", b, &mut st),
        200
    );
    assert_eq!(st.registrations, 2);
}

#[test]
fn a_silent_ban_answers_nothing_and_counts_no_response() {
    let (mut r, mut st, a) = guarded(GuardConfig {
        silent: true,
        ..GuardConfig::new()
    });
    for i in 0..5 {
        assert_eq!(attempt(&mut r, NOW + i, DEV, "wrong", a, &mut st), 403);
    }
    let before = st.responses.iter().map(|(_, n)| n).sum::<u64>();
    assert_eq!(attempt(&mut r, NOW + 10, DEV, "12345678", a, &mut st), 0);
    let after = st.responses.iter().map(|(_, n)| n).sum::<u64>();
    assert_eq!(after, before + 1, "only the 401 was answered");
    assert_eq!(st.refused_banned, [1, 0]);
}

#[test]
fn failures_over_many_device_ids_ban_the_source_and_only_it() {
    let (mut r, mut st, _) = guarded(GuardConfig::new());
    let attacker = from("10.0.0.66");
    // One wrong guess each for 100 device IDs: no device reaches 5, the source reaches 100.
    for i in 0..100u64 {
        let dev = format!("340200000013201{i:05}");
        assert_eq!(
            attempt(&mut r, NOW + i, &dev, "guess", attacker, &mut st),
            403
        );
    }
    assert_eq!(st.bans, [0, 1]);
    assert_eq!(
        attempt(&mut r, NOW + 200, DEV, "12345678", attacker, &mut st),
        403
    );
    assert_eq!(st.refused_banned, [0, 1]);
    assert_eq!(
        attempt(
            &mut r,
            NOW + 200,
            DEV,
            "12345678",
            from("10.0.0.7"),
            &mut st
        ),
        200,
        "the same device from elsewhere"
    );
}

#[test]
fn monibuca_mode_bans_after_three_failures_for_600_s() {
    let (mut r, mut st, a) = guarded(GuardConfig::monibuca());
    // Three failures a retry interval apart, as a camera with a stale password makes them.
    for i in 0..3 {
        assert_eq!(
            attempt(&mut r, NOW + i * 60_000, DEV, "old", a, &mut st),
            403
        );
    }
    assert_eq!(st.bans, [1, 0]);
    let banned_at = NOW + 120_000;
    assert_eq!(
        attempt(&mut r, banned_at + 599_999, DEV, "12345678", a, &mut st),
        403
    );
    assert_eq!(
        attempt(&mut r, banned_at + 600_000, DEV, "12345678", a, &mut st),
        200
    );
    // No source bans in this mode: 200 failures over new IDs from one address ban nothing.
    for i in 0..200u64 {
        let dev = format!("340200000013201{i:05}");
        attempt(&mut r, banned_at + 700_000 + i, &dev, "guess", a, &mut st);
    }
    assert_eq!(st.bans, [1, 0]);
}

#[test]
fn without_defences_nothing_is_ever_banned() {
    let (mut r, mut st, a) = guarded(GuardConfig::off());
    for i in 0..50 {
        assert_eq!(attempt(&mut r, NOW + i, DEV, "wrong", a, &mut st), 403);
    }
    assert_eq!(attempt(&mut r, NOW + 100, DEV, "12345678", a, &mut st), 200);
    assert_eq!(
        (st.auth_failures, st.bans, st.refused_banned),
        (50, [0, 0], [0, 0])
    );
}

/// The status of the answer to `bytes` from `src` at `now` ms, and its Retry-After.
fn limited(
    r: &mut Registrar,
    now: u64,
    bytes: &[u8],
    src: SocketAddr,
    st: &mut Stats,
) -> (u16, u64) {
    let (code, resp) = handle_from(r, now, bytes, src, st);
    if resp.is_empty() {
        return (code, 0);
    }
    let mut h = [Header::EMPTY; 32];
    let m = parse_datagram(&resp, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    let retry = m
        .header_named(b"Retry-After")
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
        .unwrap_or(0);
    (code, retry)
}

#[test]
fn over_the_rate_limit_requests_get_503_with_retry_after_or_nothing() {
    for over in [Over::Reject, Over::Drop] {
        let (mut r, mut st, a) = guarded(GuardConfig {
            rate: Some(RateLimit {
                per_second: 10,
                burst: 5,
                over,
            }),
            ..GuardConfig::new()
        });
        let req = register(DEV, 1, 3600, None);
        for _ in 0..5 {
            assert_eq!(limited(&mut r, NOW, &req, a, &mut st), (401, 0));
        }
        let expect = if over == Over::Reject {
            (503, 1)
        } else {
            (0, 0)
        };
        assert_eq!(limited(&mut r, NOW, &req, a, &mut st), expect, "{over:?}");
        assert_eq!(
            limited(&mut r, NOW, &req, from("10.0.0.2"), &mut st),
            (401, 0),
            "another source has its own bucket"
        );
        // Garbage over the limit is not answered either.
        let mut out = Batch::new();
        r.handle_datagram(
            super::registrar_core::t(NOW),
            b"NOT SIP\r\n\r\n",
            a,
            Transport::Udp,
            &mut out,
        );
        assert_eq!(out.len(), 0);
        st.merge(&r.take_stats());
        // One request every 100 ms afterwards: nothing at T−1, admitted at T.
        assert_eq!(limited(&mut r, NOW + 99, &req, a, &mut st).0, expect.0);
        assert_eq!(limited(&mut r, NOW + 100, &req, a, &mut st), (401, 0));
        assert_eq!(st.rate_limited, 3, "{over:?}");
        assert_eq!(st.response(503), u64::from(over == Over::Reject) * 2);
    }
}

#[test]
fn a_device_ban_rule_of_one_failure_refuses_the_next_attempt() {
    let (mut r, mut st, a) = guarded(GuardConfig {
        device: Some(BanRule {
            after: 1,
            ..GuardConfig::DEVICE_RULE
        }),
        ..GuardConfig::new()
    });
    assert_eq!(attempt(&mut r, NOW, DEV, "wrong", a, &mut st), 403);
    assert_eq!(attempt(&mut r, NOW + 1, DEV, "12345678", a, &mut st), 403);
    assert_eq!((st.bans, st.refused_banned), ([1, 0], [1, 0]));
}
