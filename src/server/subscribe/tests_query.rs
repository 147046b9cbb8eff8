//! Virtual-time tests of the driver's queries: RecordInfo, Catalog and DeviceInfo MESSAGEs at
//! the rate, their 200s and their paged Responses.

use super::tests::{CAM, DEV, UNIX_ZERO_MS, cfg, feed, header, ms, respond, run, tick};
use super::*;

fn queries(kinds: &[QueryKind], rate: u32) -> Subscriber {
    let mut c = cfg(&[], 3600);
    c.queries = kinds.to_vec();
    c.query_rate = rate;
    super::tests::driver(&c)
}

fn get(s: &mut Subscriber, c: C) -> u64 {
    s.stats_now().get(c)
}

/// The device's Response page to `query` listing `n` of `sum` items (`sum` none: no SumNum).
fn page(query: &str, cseq: u32, n: usize, sum: Option<u32>) -> String {
    page_as(query, cseq, n, sum, None)
}

/// [`page`], its CmdType `cmd` if given.
fn page_as(query: &str, cseq: u32, n: usize, sum: Option<u32>, cmd: Option<&str>) -> String {
    let body = query.split("\r\n\r\n").nth(1).unwrap();
    let m = Manscdp::parse(body.as_bytes()).unwrap();
    let sn = m.sn.unwrap();
    let cmd = cmd.map_or_else(
        || String::from_utf8_lossy(m.cmd_type).into_owned(),
        String::from,
    );
    let items: String = (0..n)
        .map(|i| format!("<Item><DeviceID>{DEV}</DeviceID><Name>r{i}</Name></Item>\r\n"))
        .collect();
    let sum = sum.map_or(String::new(), |s| format!("<SumNum>{s}</SumNum>\r\n"));
    let xml = format!(
        "<?xml version=\"1.0\"?>\r\n<Response>\r\n<CmdType>{cmd}</CmdType>\r\n<SN>{sn}</SN>\r\n\
<DeviceID>{DEV}</DeviceID>\r\n{sum}<RecordList Num=\"{n}\">\r\n{items}</RecordList>\r\n</Response>\r\n"
    );
    format!(
        "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP {CAM};branch=z9hG4bKp{cseq}\r\n\
From: <sip:{DEV}@3402000000>;tag=dev\r\nTo: <sip:34020000002000000001@3402000000>\r\n\
Call-ID: page{cseq}@10.0.0.9\r\nCSeq: {cseq} MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\n\
Content-Length: {}\r\n\r\n{xml}",
        xml.len()
    )
}

#[test]
fn a_record_info_query_asks_for_the_last_day_and_completes_over_three_pages() {
    let mut s = queries(&[QueryKind::RecordInfo], 1);
    let sent = tick(&mut s, ms(1_000));
    assert_eq!(sent.len(), 1);
    let q = &sent[0];
    assert!(
        q.starts_with(&format!("MESSAGE sip:{DEV}@{CAM} SIP/2.0\r\n")),
        "{q}"
    );
    assert!(header(q, "Call-ID").ends_with("@gbswarm-query"));
    assert_eq!(header(q, "Content-Type"), "Application/MANSCDP+xml");
    // Time zero is 2026-11-23T23:16:12Z; the query goes at 1 s.
    assert!(
        q.contains("<StartTime>2026-11-22T23:16:13</StartTime>"),
        "{q}"
    );
    assert!(q.contains("<EndTime>2026-11-23T23:16:13</EndTime>"), "{q}");
    assert!(q.contains("<Type>all</Type>"), "{q}");
    assert_eq!(UNIX_ZERO_MS % 1000, 0);
    assert!(feed(&mut s, ms(1_010), &respond(q, 200, "")).0);
    // Pages: 2 + 2 + 1 of 5, the second one retransmitted by the device.
    for (at, cseq, n) in [(1_100, 1, 2), (1_200, 2, 2), (1_250, 2, 2), (1_300, 3, 1)] {
        let (taken, _) = feed(&mut s, ms(at), &page(q, cseq, n, Some(5)));
        assert!(!taken, "the registrar answers pages");
    }
    let st = s.stats_now();
    assert_eq!(st.get(C::Queries), 1);
    assert_eq!(st.get(C::QueryOk), 1);
    assert_eq!(st.get(C::Pages), 3);
    assert_eq!(st.get(C::DuplicatePages), 1);
    assert_eq!(st.get(C::Items), 5);
    assert_eq!(st.get(C::Answered), 1);
    assert_eq!(st.get(C::Incomplete), 0);
    assert_eq!(st.query_to_last_page_us.len(), 1);
    // Due at 0, when the device registered (this host came a second late), done at 1.3 s.
    assert_eq!(st.query_to_last_page_us.max() / 1000, 1300);
    assert_eq!(st.query_to_ok_us.max() / 1000, 10);
    assert_eq!(st.gauge, Some((0, 0, 0)), "nothing outstanding");
    // Nothing more is due for it: no retransmission, no timeout.
    let later = run(&mut s, 1_301, 1_999);
    assert!(later.is_empty(), "{later:?}");
}

#[test]
fn an_incomplete_answer_times_out_and_a_silent_device_is_retransmitted_to() {
    let mut s = queries(&[QueryKind::RecordInfo], 1);
    let q = tick(&mut s, ms(0)).remove(0);
    // No 200: T1 doubling to T2 until the query is given up at 30 s.
    let sent = run(&mut s, 1, 999);
    assert_eq!(sent.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [500]);
    assert_eq!(sent[0].1, q);
    assert!(feed(&mut s, ms(600), &respond(&q, 200, "")).0);
    feed(&mut s, ms(700), &page(&q, 1, 2, Some(5)));
    feed(&mut s, ms(800), &page(&q, 2, 2, Some(5)));
    assert_eq!(s.stats_now().gauge, Some((0, 0, 1)));
    // Queries go on at 1 a second (to the one device, round robin); the device answers none.
    let sent = run(&mut s, 801, 30_000);
    assert_eq!(sent.iter().filter(|(t, _)| *t % 1000 == 0).count(), 30);
    let second = &sent[0].1;
    let again: Vec<u64> = sent
        .iter()
        .filter(|(_, m)| m == second)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        again,
        [
            1000, 1500, 2500, 4500, 8500, 12500, 16500, 20500, 24500, 28500
        ],
        "T1 doubling to T2"
    );
    let st = s.stats_now();
    assert_eq!(st.get(C::Incomplete), 1, "the first, at 30 s");
    assert_eq!(st.get(C::QueryTimeouts), 0, "the first had its 200");
    assert_eq!(st.get(C::Answered), 0);
    assert_eq!(
        st.get(C::QueryRetransmits),
        1 + sent.iter().filter(|(t, _)| *t % 1000 == 500).count() as u64
    );
    // The second is given up at 31 s with neither a 200 nor its pages.
    let _ = tick(&mut s, ms(31_000));
    let st = s.stats_now();
    assert_eq!((st.get(C::Incomplete), st.get(C::QueryTimeouts)), (2, 1));
    // The first query's last page, late: its slot is gone.
    feed(&mut s, ms(30_001), &page(&q, 3, 1, Some(5)));
    assert_eq!(get(&mut s, C::UnmatchedPages), 1);
}

#[test]
fn device_info_completes_with_one_response_and_kinds_take_turns() {
    let mut s = queries(&[QueryKind::DeviceInfo, QueryKind::Catalog], 2);
    let sent = run(&mut s, 0, 600);
    assert_eq!(sent.len(), 3, "two queries and a retransmission");
    let info = &sent[0].1;
    let catalog = &sent[2].1;
    assert!(info.contains("<CmdType>DeviceInfo</CmdType>"));
    assert!(catalog.contains("<CmdType>Catalog</CmdType>"));
    assert!(!info.contains("<StartTime>"));
    feed(&mut s, ms(550), &page(info, 1, 0, None));
    assert!(feed(&mut s, ms(560), &respond(info, 200, "")).0);
    // A page naming the DeviceInfo query's SN but another command is not its page.
    feed(
        &mut s,
        ms(570),
        &page_as(info, 2, 3, Some(3), Some("Catalog")),
    );
    let st = s.stats_now();
    assert_eq!((st.get(C::Answered), st.get(C::UnmatchedPages)), (1, 1));
    assert_eq!(st.gauge, Some((0, 0, 1)), "the Catalog query is out");
    // The 200 came after the page: the latency is still the last page's.
    assert_eq!(st.query_to_last_page_us.max() / 1000, 550);
}

#[test]
fn a_full_table_is_counted_and_refusals_end_queries() {
    let mut s = queries(&[QueryKind::RecordInfo], 1_000_000);
    let sent = tick(&mut s, ms(0));
    assert_eq!(sent.len(), 1);
    let refused = sent[0].clone();
    assert!(feed(&mut s, ms(1), &respond(&refused, 404, "")).0);
    let sent = tick(&mut s, ms(5));
    assert_eq!(sent.len(), query::MAX_QUERIES);
    let st = s.stats_now();
    assert_eq!(st.get(C::Query4xx), 1);
    assert_eq!(st.get(C::TableFull), 5_000 - query::MAX_QUERIES as u64);
    assert_eq!(st.gauge, Some((0, 0, query::MAX_QUERIES as u64)));
}
