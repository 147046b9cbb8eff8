//! Parses one fixture in a loop, for profilers: `cargo run --release --example parse_loop FILE N`.
use gbswarm::sip::{Header, Limits, parse_datagram};
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .unwrap_or_else(|| "tests/fixtures/401-qop-auth-srs.sip".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let raw = std::fs::read(&file).expect("read fixture");
    let mut headers = [Header::EMPTY; 64];
    for _ in 0..n {
        let Ok(Some(m)) = parse_datagram(black_box(&raw), &mut headers, &Limits::default()) else {
            panic!("{file} does not parse");
        };
        black_box((
            m.via().and_then(|v| v.branch()),
            m.from().and_then(|f| f.tag()),
        ));
        black_box((
            m.to().and_then(|t| t.tag()),
            m.cseq(),
            m.call_id(),
            m.expires(),
        ));
        black_box(m.challenge().map(|c| (c.realm, c.nonce, c.qop)));
        black_box(
            m.authorization()
                .map(|a| (a.username, a.realm, a.nonce, a.uri, a.response)),
        );
    }
}
