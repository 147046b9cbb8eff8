//! The registrar under hostile input without sockets: arbitrary bytes and mutated valid
//! requests never panic, every answer is a well-formed SIP response, nothing is answered that
//! is not a request, and output stays bounded. A fixed-seed bounded fuzz run of the same
//! handler, as `cargo fuzz run registrar` does open-ended.

use gbswarm::clock::Time;
use gbswarm::net::Service;
use gbswarm::server::registrar::{Config, Registrar, Stats};
use gbswarm::server::registry::Registry;
use gbswarm::sip::{Batch, Header, Limits, Transport, parse_datagram};
use proptest::prelude::*;
use std::sync::Arc;

const SAMPLES: &[&[u8]] = &[
    include_bytes!("fixtures/register-initial-ipcamera.sip"),
    include_bytes!("fixtures/register-authorization-spvmn.sip"),
    include_bytes!("fixtures/keepalive-ipcamera.sip"),
    include_bytes!("fixtures/catalog-response-nvr.sip"),
];

fn registrar() -> Registrar {
    let cfg = Config::new("34020000002000000001".parse().unwrap(), "12345678");
    Registrar::new(cfg, Arc::new(Registry::new(4)), [9; 16]).with_unix_zero(1_795_474_772_123)
}

fn check(r: &mut Registrar, bytes: &[u8], stats: &mut Stats) {
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut out = Batch::new();
        r.handle_datagram(
            Time::from_millis(1_000_000),
            bytes,
            "127.0.0.1:9".parse().unwrap(),
            transport,
            &mut out,
        );
        stats.merge(&r.take_stats());
        assert!(
            out.bytes().len() <= 4 * bytes.len() + 2048,
            "bounded output"
        );
        for (i, m) in out.iter().enumerate() {
            let mut h = [Header::EMPTY; 64];
            let m = parse_datagram(m, &mut h, &Limits::default())
                .expect("what we send parses")
                .expect("not empty");
            if i == 0 {
                let code = m.status().expect("the first message is a response");
                assert!((200..700).contains(&code));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..700)) {
        let mut r = registrar();
        let mut st = Stats::default();
        check(&mut r, &raw, &mut st);
    }

    #[test]
    fn mutated_requests(which in 0..SAMPLES.len(), edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..10)) {
        let mut raw = SAMPLES[which].to_vec();
        for (i, b, op) in edits {
            let n = raw.len().max(1);
            match op {
                0 => { if !raw.is_empty() { raw[i % n] = b; } }
                1 => raw.insert(i % (raw.len() + 1), b),
                _ => { if !raw.is_empty() { raw.remove(i % n); } }
            }
        }
        let mut r = registrar();
        let mut st = Stats::default();
        check(&mut r, &raw, &mut st);
    }
}

#[test]
fn bounded_fuzz_run_with_a_fixed_seed() {
    // 200,000 inputs from a xorshift stream: splices of the samples with random bytes.
    let mut r = registrar();
    let mut st = Stats::default();
    let mut x: u64 = 0x5eed_1234_abcd_ef01;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..200_000 {
        let base = SAMPLES[(next() % SAMPLES.len() as u64) as usize];
        let mut raw = base.to_vec();
        for _ in 0..(next() % 6) {
            let i = (next() as usize) % raw.len().max(1);
            match next() % 3 {
                0 if !raw.is_empty() => raw[i] = next() as u8,
                1 => raw.insert(i.min(raw.len()), next() as u8),
                _ if !raw.is_empty() => {
                    raw.truncate(i);
                }
                _ => {}
            }
        }
        check(&mut r, &raw, &mut st);
    }
    assert!(st.dropped_malformed > 0 && st.responses.iter().map(|(_, n)| n).sum::<u64>() > 0);
}
