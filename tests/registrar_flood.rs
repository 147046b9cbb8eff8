//! The registrar's defences under a flood, without sockets: a million failed authentications
//! from random device IDs and random (spoofed) source addresses, driven straight into the
//! sans-IO core. The ban and rate-limit tables stay within their fixed capacity, nothing is
//! registered, a ban set before the flood still holds after it, and the process's resident
//! memory grows by no more than the tables' fixed capacity (taken shard by shard as the flood
//! arrives).
//! Alone in its own test binary, so no other test's memory is counted.

mod peers;

use gbswarm::clock::Time;
use gbswarm::net::Service;
use gbswarm::server::guard::{GuardConfig, Over, RateLimit};
use gbswarm::server::registrar::{Config, Registrar};
use gbswarm::server::registry::Registry;
use gbswarm::sip::{Batch, Transport};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// A REGISTER of `dev` from `via` into `buf`, with credentials for `nonce` in `realm` whose
/// response is `response` (32 hex digits).
fn register(
    buf: &mut String,
    dev: &str,
    via: SocketAddr,
    nonce: &str,
    realm: &str,
    response: &str,
) {
    buf.clear();
    let _ = write!(
        buf,
        "REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bKf\r\nFrom: <sip:{dev}@3402000000>;tag=f\r\nTo: <sip:{dev}@3402000000>\r\nCall-ID: flood\r\nCSeq: 2 REGISTER\r\nAuthorization: Digest username=\"{dev}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"sip:34020000002000000001@3402000000\", response=\"{response}\", algorithm=MD5\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
    );
}

/// The status of the first message in `out`, or 0.
fn status(out: &Batch) -> u16 {
    out.get(0)
        .and_then(|m| m.strip_prefix(b"SIP/2.0 ")?.get(..3))
        .and_then(|c| std::str::from_utf8(c).ok()?.parse().ok())
        .unwrap_or(0)
}

const REALM: &str = "3402000000";

#[test]
fn a_million_failures_from_random_ids_and_sources_stay_in_fixed_tables() {
    const ATTEMPTS: u64 = 1_000_000;
    let guard = GuardConfig {
        device_slots: 65_536,
        source_slots: 16_384,
        rate: Some(RateLimit {
            per_second: 1_000,
            burst: 2_000,
            over: Over::Reject,
        }),
        ..GuardConfig::new()
    };
    let mut r = Registrar::new(
        Config {
            guard,
            qop: false,
            ..Config::new("34020000002000000001".parse().unwrap(), "12345678")
        },
        Arc::new(Registry::new(4)),
        [9; 16],
    );
    let mut out = Batch::new();
    let mut buf = String::with_capacity(1024);
    let t0 = Time::from_millis(1_000_000);
    // A fresh nonce: nonces are stateless, any of ours serves for every device.
    let home: SocketAddr = "10.0.0.1:5060".parse().unwrap();
    let first = "REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK0\r\nFrom: <sip:34020000001320000001@3402000000>;tag=f\r\nTo: <sip:34020000001320000001@3402000000>\r\nCall-ID: flood\r\nCSeq: 1 REGISTER\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n";
    r.handle_datagram(t0, first.as_bytes(), home, Transport::Udp, &mut out);
    let challenge = String::from_utf8_lossy(out.get(0).unwrap()).into_owned();
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let wrong = "0".repeat(32);
    // A device banned before the flood.
    let victim = "34020000001320000001";
    for _ in 0..5 {
        out.clear();
        register(&mut buf, victim, home, &nonce, REALM, &wrong);
        r.handle_datagram(t0, buf.as_bytes(), home, Transport::Udp, &mut out);
        assert_eq!(status(&out), 403);
    }
    assert_eq!(r.take_stats().bans, [1, 0]);
    let caps = r.guard().capacity();
    assert!(
        caps[0] >= 65_536 && caps[1] >= 16_384 && caps[2] >= 16_384,
        "{caps:?}"
    );

    let rss_before = peers::rss_kib();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut dev = String::with_capacity(20);
    let mut refused = 0u64;
    for i in 0..ATTEMPTS {
        let n = next();
        dev.clear();
        let _ = write!(dev, "34020000001{:09}", n % 1_000_000_000);
        let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::from((n >> 32) as u32)), 5060);
        // A wrong realm fails verification before any digest is computed: the same failure
        // to the guard as a wrong password, cheap enough for a million in a debug build.
        register(&mut buf, &dev, src, &nonce, "guess", &wrong);
        out.clear();
        let now = t0 + gbswarm::clock::Span::from_micros(i);
        r.handle_datagram(now, buf.as_bytes(), src, Transport::Udp, &mut out);
        if status(&out) == 403 {
            refused += 1;
        }
    }
    let rss_after = peers::rss_kib();
    let now = t0 + gbswarm::clock::Span::from_micros(ATTEMPTS);
    let live = r.guard().live(now);
    let st = r.take_stats();
    assert!(refused >= ATTEMPTS - 10, "every guess refused: {refused}");
    assert_eq!(
        st.auth_failures + st.refused_banned.iter().sum::<u64>(),
        ATTEMPTS,
        "each a failure, or refused by a ban a random repeat earned"
    );
    for (table, (l, c)) in ["device bans", "source bans", "rate buckets"]
        .iter()
        .zip(live.iter().zip(caps))
    {
        assert!(*l <= c, "{table}: {l} kept in {c} slots");
    }
    assert_eq!(
        live[0], caps[0],
        "the device table filled up and stayed at its size"
    );
    assert!(
        r.guard().evictions() >= ATTEMPTS - (caps[0] as u64),
        "{}",
        r.guard().evictions()
    );
    assert_eq!(r.registry().counts(now, r.max_silence()), (0, 0));
    // The flood did not lift the ban set before it.
    let good = {
        out.clear();
        r.handle_datagram(now, first.as_bytes(), home, Transport::Udp, &mut out);
        status(&out)
    };
    assert_eq!(good, 401);
    out.clear();
    register(&mut buf, victim, home, &nonce, REALM, &wrong);
    r.handle_datagram(now, buf.as_bytes(), home, Transport::Udp, &mut out);
    assert_eq!(r.stats().refused_banned, [1, 0], "still banned");
    // A million records in growable maps would take tens of MB; the tables take their fixed
    // capacity (about 4.3 MiB for these three), whatever the flood.
    assert!(
        rss_after < rss_before + 8 * 1024,
        "memory stays bounded: {rss_before} KiB -> {rss_after} KiB"
    );
    eprintln!(
        "a million failures: RSS {rss_before} -> {rss_after} KiB, tables {live:?} of {caps:?}, {} evictions",
        r.guard().evictions()
    );
}
