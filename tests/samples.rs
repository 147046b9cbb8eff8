//! Every real-world sample in tests/fixtures parses, and its key fields read as expected.

use gbswarm::gb::{DeviceId, Manscdp, Root};
use gbswarm::sip::{Header, HeaderKind, Limits, Message, Method, QStr, digest, parse_datagram};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn with_msg(name: &str, check: impl FnOnce(&Message<'_, '_>)) {
    let raw = fixture(name);
    let mut h = [Header::EMPTY; 64];
    let m = parse_datagram(&raw, &mut h, &Limits::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .unwrap();
    assert_eq!(
        m.content_length().map(|n| n as usize),
        Some(m.body.len()),
        "{name}"
    );
    check(&m);
}

#[test]
fn register_initial() {
    with_msg("register-initial-ipcamera.sip", |m| {
        assert_eq!(m.method(), Some(Method::Register));
        assert_eq!(
            m.request_uri(),
            Some(&b"sip:34020000002000000001@3402000000"[..])
        );
        let via = m.via().unwrap();
        assert_eq!(via.transport, b"UDP");
        assert_eq!(via.sent_by.port, Some(5060));
        assert_eq!(via.branch(), Some(&b"z9hG4bK1371463273"[..]));
        assert_eq!(via.rport(), Some(None));
        assert_eq!(m.from().unwrap().tag(), Some(&b"2043466181"[..]));
        assert_eq!(m.from().unwrap().user(), Some(&b"34020000001320000003"[..]));
        assert_eq!(m.to().unwrap().tag(), None);
        assert_eq!(m.call_id(), Some(&b"1011047669"[..]));
        let cseq = m.cseq().unwrap();
        assert_eq!((cseq.seq, cseq.method), (1, Method::Register));
        assert_eq!(
            m.contact().unwrap().uri,
            b"sip:34020000001320000003@192.168.137.11:5060"
        );
        assert_eq!(m.expires(), Some(3600));
        assert_eq!(m.max_forwards(), Some(70));
        assert!(m.authorization().is_none());
        let id = DeviceId::parse(m.from().unwrap().user().unwrap()).unwrap();
        assert_eq!(id.type_code(), 132);
    });
}

#[test]
fn register_with_authorization_verifies() {
    with_msg("register-authorization-spvmn.sip", |m| {
        assert_eq!(m.cseq().unwrap().seq, 2);
        let via = m.via().unwrap();
        assert_eq!(via.rport(), Some(Some(5060)));
        assert_eq!(via.received(), Some(&b"172.16.23.205"[..]));
        let a = m.authorization().unwrap();
        assert!(a.is_digest());
        assert_eq!(a.username.unwrap().raw(), b"34020000001320000001");
        assert_eq!(a.realm.unwrap().raw(), b"3402000000");
        assert_eq!(a.nonce.unwrap().raw(), b"c98f6d56cb2ab8e6");
        assert_eq!(
            a.uri.unwrap().raw(),
            b"sip:34020000002000000001@3402000000:5060"
        );
        assert_eq!(a.algorithm.unwrap().raw(), b"MD5");
        assert!(a.qop.is_none());
        // SOURCES.md: the response matches password 123456.
        let ha1 = digest::ha1(
            digest::Algorithm::MD5,
            b"34020000001320000001",
            &QStr::new(b"3402000000"),
            b"123456",
        );
        assert!(digest::verify(&a, b"REGISTER", &ha1));
        let wrong = digest::ha1(
            digest::Algorithm::MD5,
            b"34020000001320000001",
            &QStr::new(b"3402000000"),
            b"12345678",
        );
        assert!(!digest::verify(&a, b"REGISTER", &wrong));
    });
}

#[test]
fn challenge_without_qop() {
    with_msg("401-no-qop-spvmn.sip", |m| {
        assert_eq!(m.status(), Some(401));
        assert!(m.to().unwrap().tag().is_some());
        let c = m.challenge().unwrap();
        assert_eq!(c.realm.unwrap().raw(), b"3402000000");
        assert_eq!(c.nonce.unwrap().raw(), b"c98f6d56cb2ab8e6");
        assert!(!c.offers_qop_auth());
        assert!(c.algorithm.is_none());
    });
}

#[test]
fn challenge_with_qop_auth() {
    with_msg("401-qop-auth-srs.sip", |m| {
        assert_eq!(m.status(), Some(401));
        let via = m.via().unwrap();
        assert_eq!(via.rport(), Some(Some(61378)));
        assert_eq!(via.received(), Some(&b"192.168.1.13"[..]));
        let c = m.challenge().unwrap();
        assert!(c.offers_qop_auth());
        assert_eq!(c.nonce.unwrap().raw(), b"f1da98bd160f3e2efe954c6eedf5f75a");
        assert_eq!(
            m.header(HeaderKind::UserAgent),
            Some(&b"SRS/4.0.4(Leo)"[..])
        );
    });
}

#[test]
fn ok_with_gb_date() {
    with_msg("200-register-date-spvmn.sip", |m| {
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.date(), Some(&b"2020-04-21T10:52:55.103"[..]));
        assert_eq!(m.expires(), Some(3600));
        assert_eq!(m.header_named(b"timerevise"), Some(&b"20200421105255"[..]));
    });
}

#[test]
fn keepalive_body() {
    with_msg("keepalive-ipcamera.sip", |m| {
        assert_eq!(m.method(), Some(Method::Message));
        assert_eq!(m.content_type(), Some(&b"Application/MANSCDP+xml"[..]));
        let x = Manscdp::parse(m.body).unwrap();
        assert_eq!(
            (x.root, x.cmd_type, x.sn),
            (Root::Notify, &b"Keepalive"[..], Some(1))
        );
        assert_eq!(x.device_id, Some(&b"34020000001320000003"[..]));
    });
}

#[test]
fn catalog_query_and_response() {
    with_msg("catalog-query.sip", |m| {
        let x = Manscdp::parse(m.body).unwrap();
        assert_eq!(
            (x.root, x.cmd_type, x.sn),
            (Root::Query, &b"Catalog"[..], Some(419315752))
        );
        assert_eq!(m.cseq().unwrap().seq, 32);
    });
    with_msg("catalog-response-nvr.sip", |m| {
        let x = Manscdp::parse(m.body).unwrap();
        assert_eq!((x.root, x.cmd_type), (Root::Response, &b"Catalog"[..]));
        assert_eq!(
            gbswarm::gb::manscdp::element(m.body, b"SumNum"),
            Some(&b"8"[..])
        );
        assert_eq!(m.body.windows(6).filter(|w| w == b"<Item>").count(), 2);
    });
}
