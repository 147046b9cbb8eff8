//! Property tests: no input panics the parser or the accessors, TCP framing is independent of
//! how the stream is chunked, and what the writer writes the parser reads back.

mod mutate;

use gbswarm::gb::Manscdp;
use gbswarm::sip::framing::StreamBuf;
use gbswarm::sip::{
    Header, HeaderKind, Limits, Message, Method, Parsed, Writer, digest, parse_datagram,
    parse_stream,
};
use mutate::Mutation;
use proptest::prelude::*;

const FIXTURES: &[&[u8]] = &[
    include_bytes!("fixtures/200-register-date-spvmn.sip"),
    include_bytes!("fixtures/401-no-qop-spvmn.sip"),
    include_bytes!("fixtures/401-qop-auth-srs.sip"),
    include_bytes!("fixtures/catalog-query.sip"),
    include_bytes!("fixtures/catalog-response-nvr.sip"),
    include_bytes!("fixtures/keepalive-ipcamera.sip"),
    include_bytes!("fixtures/register-authorization-spvmn.sip"),
    include_bytes!("fixtures/register-initial-ipcamera.sip"),
];

/// Reads every accessor, as a consumer of untrusted input would.
fn exercise(m: &Message<'_, '_>) {
    let _ = (
        m.method(),
        m.request_uri(),
        m.status(),
        m.call_id(),
        m.cseq(),
    );
    if let Some(v) = m.via() {
        let _ = (v.branch(), v.rport(), v.received());
    }
    let _ = m.values(HeaderKind::Via).count();
    for n in [m.from(), m.to(), m.contact()].into_iter().flatten() {
        let _ = (n.tag(), n.user(), n.expires());
    }
    let _ = (
        m.expires(),
        m.max_forwards(),
        m.content_length(),
        m.retry_after(),
        m.date(),
    );
    let _ = digest::choose(m);
    for a in [m.challenge(), m.authorization()].into_iter().flatten() {
        let mut out = Vec::new();
        let _ =
            digest::write_authorization(&mut out, &a, b"u", b"p", b"REGISTER", b"sip:x", 1, b"c");
        for alg in digest::Algorithm::ALL {
            let ha1 = digest::ha1(alg, b"u", &gbswarm::sip::QStr::new(b"r"), b"p");
            let _ = digest::verify(&a, b"REGISTER", &ha1);
        }
        if let Some(r) = a.realm {
            r.write_to(&mut out);
            let _ = r.eq_bytes(b"x");
        }
    }
    if let Some(x) = Manscdp::parse(m.body) {
        let _ = (x.cmd_type, x.sn, x.device_id);
    }
}

fn parse_everything(raw: &[u8]) {
    let limits = Limits::default();
    let mut h = [Header::EMPTY; 64];
    if let Ok(Some(m)) = parse_datagram(raw, &mut h, &limits) {
        exercise(&m);
    }
    let mut h = [Header::EMPTY; 64];
    if let Ok(Parsed::Complete { msg, len }) = parse_stream(raw, &mut h, &limits) {
        assert!(len <= raw.len());
        exercise(&msg);
    }
    let _ = gbswarm::inspect::inspect(raw, |_| {});
}

fn mutation() -> impl Strategy<Value = Mutation> {
    mutate::mutation(prop_oneof![
        Just(b'\r'),
        Just(b'\n'),
        Just(b':'),
        Just(b';'),
        Just(b','),
        Just(b'"'),
        Just(b'\\'),
        Just(b'<'),
        Just(b'>'),
        Just(b' '),
        Just(b'='),
        Just(0u8),
        Just(0xff),
        any::<u8>()
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(&raw);
    }

    #[test]
    fn mutated_samples_never_panic(
        which in 0..FIXTURES.len(),
        muts in proptest::collection::vec(mutation(), 1..8),
    ) {
        let raw = mutate::apply(FIXTURES[which].to_vec(), &muts);
        parse_everything(&raw);
    }

    #[test]
    fn any_chunking_yields_the_same_messages(
        order in proptest::collection::vec(0..FIXTURES.len(), 1..6),
        cuts in proptest::collection::vec(1usize..200, 1..40),
        pings in proptest::collection::vec(any::<bool>(), 6),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            if pings[k] { stream.extend_from_slice(b"\r\n\r\n"); }
            stream.extend_from_slice(FIXTURES[i]);
            expected.push(FIXTURES[i].to_vec());
        }
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut sb = StreamBuf::new(64 * 1024);
        let mut rest = &stream[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let take = (*cut.next().unwrap()).min(rest.len());
            let (piece, tail) = rest.split_at(take);
            rest = tail;
            let mut piece = piece;
            while !piece.is_empty() {
                let n = sb.fill(|buf| -> Result<usize, ()> {
                    let n = buf.len().min(piece.len());
                    buf[..n].copy_from_slice(&piece[..n]);
                    Ok(n)
                }).unwrap().unwrap();
                piece = &piece[n..];
            }
            loop {
                let mut h = [Header::EMPTY; 64];
                let pending = sb.pending();
                match parse_stream(pending, &mut h, &Limits::default()).unwrap() {
                    Parsed::Complete { len, .. } => {
                        got.push(pending[..len].to_vec());
                        sb.consume(len);
                    }
                    Parsed::KeepAlive(n) => sb.consume(n),
                    Parsed::Partial => break,
                }
            }
        }
        prop_assert_eq!(got, expected);
        prop_assert!(sb.pending().is_empty());
    }

    #[test]
    fn written_requests_parse_back(
        call_id in "[a-zA-Z0-9.@-]{1,40}",
        tag in "[a-z0-9]{1,16}",
        cseq in 1u32..1_000_000_000,
        expires in 0u32..100_000,
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut buf = Vec::new();
        let mut w = Writer::request(&mut buf, Method::Register, b"sip:34020000002000000001@3402000000");
        w.header(b"Via", b"SIP/2.0/TCP 127.0.0.1:5060;rport;branch=z9hG4bKx")
            .header_with(b"From", |b| { b.extend_from_slice(b"<sip:d@3402000000>;tag="); b.extend_from_slice(tag.as_bytes()); })
            .header(b"Call-ID", call_id.as_bytes())
            .header_with(b"CSeq", |b| { gbswarm::sip::write::push_u64(b, u64::from(cseq)); b.extend_from_slice(b" REGISTER"); })
            .header_u64(b"Expires", u64::from(expires));
        w.finish(&body);
        let mut h = [Header::EMPTY; 64];
        let m = match parse_stream(&buf, &mut h, &Limits::default()).unwrap() {
            Parsed::Complete { msg, len } => { prop_assert_eq!(len, buf.len()); msg }
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(m.call_id(), Some(call_id.as_bytes()));
        prop_assert_eq!(m.from().unwrap().tag(), Some(tag.as_bytes()));
        prop_assert_eq!(m.cseq().unwrap().seq, cseq);
        prop_assert_eq!(m.expires(), Some(expires));
        prop_assert_eq!(m.body, &body[..]);
    }
}

#[test]
fn every_truncated_fixture_prefix_is_partial() {
    for raw in FIXTURES {
        for n in 1..raw.len() {
            let mut h = [Header::EMPTY; 64];
            match parse_stream(&raw[..n], &mut h, &Limits::default()) {
                Ok(Parsed::Partial) => {}
                other => panic!(
                    "prefix {n} of {}: {other:?}",
                    String::from_utf8_lossy(&raw[..40])
                ),
            }
        }
    }
}
