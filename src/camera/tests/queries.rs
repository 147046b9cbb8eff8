//! Requests from the platform: the queries a camera answers (a Catalog in pages, DeviceInfo,
//! DeviceStatus, ConfigDownload), OPTIONS, unknown methods, and a retransmitted request
//! answered again without being acted on twice.
//!
//! Never about the camera's own requests (`registration`, `keepalive`).

use super::*;

#[test]
fn answers_platform_queries_with_paged_catalog() {
    let mut c = cfg();
    c.channels = 45;
    c.catalog_page = 20;
    let script = Script {
        queries: vec!["DeviceInfo", "DeviceStatus", "ConfigDownload", "Catalog"],
        ..Script::default()
    };
    let mut sim = sim(2, c, script);
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 10 * S);
    let seen = &sim.servers[0].seen;
    // 3 single responses + 3 Catalog pages (20 + 20 + 5) per camera.
    assert_eq!(seen.query_responses, 2 * 6);
    assert_eq!(seen.catalog_items, 2 * 45);
    assert_eq!(seen.query_acks, 2 * 4, "each query answered 200 first");
    assert_eq!(
        sim.net
            .tally
            .get(TxnKind::QueryResponse, Outcome::Status(200)),
        12
    );
    assert_eq!(sim.out.counters.queries, 8);
}

#[test]
fn unknown_requests_get_501_options_200_and_retransmissions_the_same_answer() {
    let mut b = Bench1::new(cfg());
    let req = |method: &str, branch: &str| {
        format!(
            "{method} sip:34020000001320000001@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch={branch}\r\nFrom: <sip:34020000002000000001@3402000000>;tag=a\r\nTo: <sip:34020000001320000001@3402000000>\r\nCall-ID: c-{branch}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    };
    let status = |raw: &[u8]| field(raw, |m| m.status().map(|c| c.to_string()));
    let r = b.call(|c, env| c.handle_message(T0, &req("INVITE", "z9hG4bKi"), env));
    assert_eq!(status(&r[0]), "501");
    let r = b.call(|c, env| c.handle_message(T0, &req("OPTIONS", "z9hG4bKo"), env));
    assert_eq!(status(&r[0]), "200");
    assert_eq!(b.out.sends[0].dest, Dest::Source);
    let query = b"MESSAGE sip:34020000001320000001@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch=z9hG4bKq\r\nFrom: <sip:34020000002000000001@3402000000>;tag=a\r\nTo: <sip:34020000001320000001@3402000000>\r\nCall-ID: q1\r\nCSeq: 5 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: 120\r\n\r\n<?xml version=\"1.0\"?>\r\n<Query><CmdType>DeviceInfo</CmdType><SN>7</SN><DeviceID>34020000001320000001</DeviceID></Query>\r\n";
    let first = b.call(|c, env| c.handle_message(T0, query, env));
    assert_eq!(first.len(), 2, "200 OK and the DeviceInfo response");
    let again = b.call(|c, env| c.handle_message(T0 + 500 * MS, query, env));
    assert_eq!(again.len(), 1, "only the 200 again; no second answer");
    assert_eq!(again[0], first[0]);
    assert_eq!(b.out.counters.request_retransmits, 1);
    assert_eq!(b.out.counters.queries, 1);
    assert_eq!(
        field(&first[1], |m| m.method().map(|m| s(m.as_bytes()))),
        "MESSAGE"
    );
    assert!(s(&first[1]).contains("<CmdType>DeviceInfo</CmdType>"));
    assert!(s(&first[1]).contains("<SN>7</SN>"));
}
