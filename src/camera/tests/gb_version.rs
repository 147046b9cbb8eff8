//! The GB/T 28181 edition on the wire, camera and real registrar together: a 2022 camera's
//! every REGISTER carries `X-GB-Ver: 3.0` (a 2016 camera's none), the registrar answers every
//! REGISTER with its own `X-GB-Ver` and counts what the devices declared, and keepalives and
//! Catalog answers declare the edition's charset and are written in it when a channel name is
//! not ASCII.

use super::*;
use crate::gb::GbVersion;
use crate::gb::version::Declared;
use crate::net::Service;
use crate::server::registrar::{Config, Registrar};
use crate::server::registry::Registry;
use crate::sip::Batch;
use std::sync::Arc;

fn registrar(edition: GbVersion) -> Registrar {
    Registrar::new(
        Config {
            gb_version: edition,
            ..Config::new(id("34020000002000000001"), "12345678")
        },
        Arc::new(Registry::new(1)),
        [9; 16],
    )
}

/// Registers the bench's camera with `reg`: every request it sent and every answer, in order.
fn register(b: &mut Bench1, reg: &mut Registrar) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut requests, mut answers) = (Vec::new(), Vec::new());
    let mut now = T0;
    let mut sent = b.call(|c, env| c.handle_start(now, now, env));
    while let Some(req) = sent.pop() {
        let mut out = Batch::new();
        reg.handle_datagram(now, &req, camera_addr(0), Transport::Udp, &mut out);
        let answer = out.get(0).unwrap().to_vec();
        requests.push(req);
        answers.push(answer.clone());
        now += MS;
        sent = b.call(|c, env| c.handle_message(now, &answer, env));
    }
    (requests, answers)
}

fn gb_ver(raw: &[u8]) -> String {
    field(raw, |m| m.header_named(b"X-GB-Ver").map(s))
}

fn body(raw: &[u8]) -> Vec<u8> {
    let mut h = [Header::EMPTY; 40];
    let m = parse_datagram(raw, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    m.body.to_vec()
}

#[test]
fn a_2022_camera_declares_3_0_on_every_register_and_the_registrar_answers_its_own() {
    let mut c = cfg();
    c.gb_version = GbVersion::V2022;
    let mut b = Bench1::new(c);
    let mut reg = registrar(GbVersion::V2022);
    let (requests, answers) = register(&mut b, &mut reg);
    assert!(b.cam.is_registered());
    assert_eq!(requests.len(), 2, "the challenge, then the answer to it");
    for r in &requests {
        assert_eq!(gb_ver(r), "3.0");
    }
    for a in &answers {
        assert_eq!(gb_ver(a), "3.0", "{}", s(a));
    }
    assert_eq!(reg.stats().gb_version(Declared::V2022), 2);
    assert_eq!(reg.stats().gb_versions_text(), "3.0 ×2");
    // The unregister at the stop declares it too.
    let sent = b.call(|c, env| c.handle_stop(T0 + S, T0 + S, env));
    assert_eq!(gb_ver(&sent[0]), "3.0");
    assert_eq!(field(&sent[0], |m| m.expires().map(|e| e.to_string())), "0");
}

#[test]
fn a_2016_camera_declares_nothing_and_a_2016_registrar_answers_2_0() {
    let mut b = Bench1::new(cfg());
    assert_eq!(b.cfg.gb_version, GbVersion::V2016, "the default");
    let mut reg = registrar(GbVersion::V2016);
    let (requests, answers) = register(&mut b, &mut reg);
    assert!(b.cam.is_registered());
    for r in &requests {
        assert_eq!(gb_ver(r), "");
    }
    for a in &answers {
        assert_eq!(gb_ver(a), "2.0");
    }
    assert_eq!(reg.stats().gb_version(Declared::None), 2);
    assert_eq!(reg.stats().gb_versions_text(), "none ×2");
    // A 2016 registrar asked by a 2022 camera still says what it is.
    let mut c = cfg();
    c.gb_version = GbVersion::V2022;
    let mut b = Bench1::new(c);
    let (_, answers) = register(&mut b, &mut reg);
    assert_eq!(gb_ver(&answers[1]), "2.0");
    assert_eq!(reg.stats().gb_versions_text(), "3.0 ×2, none ×2");
}

#[test]
fn keepalives_and_catalogs_declare_the_editions_charset_and_are_written_in_it() {
    for (edition, label, gate) in [
        (GbVersion::V2016, "GB2312", &b"\xb4\xf3\xc3\xc5"[..]),
        (GbVersion::V2022, "GB18030", &b"\xb4\xf3\xc3\xc5"[..]),
    ] {
        let mut c = cfg();
        c.gb_version = edition;
        c.channels = 2;
        c.channel_name = "大门".into();
        let mut b = Bench1::new(c);
        let mut reg = registrar(edition);
        register(&mut b, &mut reg);
        let decl = format!("<?xml version=\"1.0\" encoding=\"{label}\"?>");
        let ka = b.call(|c, env| c.handle_timeout(T0 + 61 * S, env));
        assert!(body(&ka[0]).starts_with(decl.as_bytes()), "{}", s(&ka[0]));
        let mut out = Batch::new();
        reg.handle_datagram(
            T0 + 61 * S,
            &ka[0],
            camera_addr(0),
            Transport::Udp,
            &mut out,
        );
        assert_eq!(
            field(out.get(0).unwrap(), |m| m.status().map(|c| c.to_string())),
            "200"
        );
        let q = "<?xml version=\"1.0\"?>\r\n<Query><CmdType>Catalog</CmdType><SN>3</SN><DeviceID>34020000001320000001</DeviceID></Query>\r\n";
        let query = format!(
            "MESSAGE sip:34020000001320000001@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch=z9hG4bKc\r\nFrom: <sip:34020000002000000001@3402000000>;tag=a\r\nTo: <sip:34020000001320000001@3402000000>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n{q}",
            q.len()
        );
        let sent = b.call(|c, env| c.handle_message(T0 + 62 * S, query.as_bytes(), env));
        assert_eq!(sent.len(), 2, "200 OK, then the Catalog");
        let catalog = body(&sent[1]);
        assert!(catalog.starts_with(decl.as_bytes()), "{}", s(&catalog));
        let mut name = gate.to_vec();
        name.extend_from_slice(b" 2");
        assert_eq!(
            crate::gb::manscdp::element(&catalog[catalog.len() - 400..], b"Name"),
            Some(&name[..]),
            "the second item's name, in {label}"
        );
        assert_eq!(
            field(&sent[1], |m| m.content_length().map(|l| l.to_string())),
            catalog.len().to_string()
        );
    }
}
