//! Fuzz the SIP parser, its accessors, digest handling, MANSCDP reading and `inspect`:
//! any input must give a message or a typed error, never a panic.
#![no_main]

use gbswarm::gb::Manscdp;
use gbswarm::sip::{Header, HeaderKind, Limits, Parsed, digest, parse_datagram, parse_stream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut h = [Header::EMPTY; 64];
    if let Ok(Some(m)) = parse_datagram(data, &mut h, &limits) {
        let _ = (m.via().map(|v| (v.branch(), v.rport(), v.received())), m.cseq(), m.call_id());
        let _ = m.values(HeaderKind::Via).count();
        for n in [m.from(), m.to(), m.contact()].into_iter().flatten() {
            let _ = (n.tag(), n.user(), n.expires());
        }
        let _ = (m.expires(), m.content_length(), m.retry_after());
        let _ = digest::choose(&m);
        for a in [m.challenge(), m.authorization()].into_iter().flatten() {
            let mut out = Vec::new();
            let _ = digest::write_authorization(&mut out, &a, b"u", b"p", b"REGISTER", b"sip:x", 1, b"c");
            for alg in digest::Algorithm::ALL {
                let ha1 = digest::ha1(alg, b"u", &gbswarm::sip::QStr::new(b"r"), b"p");
                let _ = digest::verify(&a, b"REGISTER", &ha1);
            }
        }
        let _ = Manscdp::parse(m.body);
    }
    let mut h = [Header::EMPTY; 64];
    if let Ok(Parsed::Complete { len, .. }) = parse_stream(data, &mut h, &limits) {
        assert!(len <= data.len());
    }
    let _ = gbswarm::inspect::inspect(data, |_| {});
});
