//! What a platform asks of a device beyond Catalog: queries naming one of its channels,
//! RecordInfo paged over several messages, the 2022 queries, DeviceControl with and without a
//! Response message, DeviceConfig's Response, and TeleBoot's unregister and re-register after exactly the delay.
//!
//! Never about the camera's own registration or keepalives beyond what TeleBoot does to them.

use super::*;
use crate::gb::control::{self, Control};
use crate::gb::manscdp::element;
use crate::gb::query2022::{self, Query2022};
use crate::gb::records::{self, RecordRange};
use crate::gb::{Charset, Manscdp, Root, manscdp};

const DEV: &str = "34020000001320000001";

/// A MESSAGE from the platform carrying `body`, on its own transaction (`n`).
fn message(body: &[u8], n: u32) -> Vec<u8> {
    let mut m = format!(
        "MESSAGE sip:{DEV}@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch=z9hG4bKd{n}\r\nFrom: <sip:34020000002000000001@3402000000>;tag=p{n}\r\nTo: <sip:{DEV}@3402000000>\r\nCall-ID: d{n}\r\nCSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body);
    m
}

fn status(raw: &[u8]) -> String {
    field(raw, |m| m.status().map(|c| c.to_string()))
}

fn body_of(raw: &[u8]) -> Vec<u8> {
    let mut h = [Header::EMPTY; 40];
    let m = parse_datagram(raw, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    m.body.to_vec()
}

/// Sends `body` at `now`: the camera's final response and what else it sent.
fn ask(b: &mut Bench1, now: Time, body: &[u8], n: u32) -> (String, Vec<Vec<u8>>) {
    let sent = b.call(|c, env| c.handle_message(now, &message(body, n), env));
    let code = status(&sent[0]);
    (code, sent[1..].to_vec())
}

/// Answers the MESSAGE `req` with 200 at `now`; what the camera sends next.
fn ack(b: &mut Bench1, now: Time, req: &[u8]) -> Vec<Vec<u8>> {
    let ok = answer(req, 200, &[]);
    b.call(|c, env| c.handle_message(now, &ok, env))
}

fn dev() -> DeviceId {
    id(DEV)
}

fn nvr(channels: u32) -> Bench1 {
    let mut c = cfg();
    c.channels = channels;
    c.catalog_page = 5;
    c.record_segment_s = 600;
    Bench1::new(c)
}

#[test]
fn record_info_is_paged_with_one_sn_and_sum_num_over_three_pages() {
    let mut b = nvr(4);
    let ch = dev().channel(2, 4);
    let range = RecordRange {
        start: crate::testkit::requests::RECORD_DAY + 100,
        end: crate::testkit::requests::RECORD_DAY + 100 + 7200,
    };
    let mut q = Vec::new();
    records::write_record_query(&mut q, Charset::Gb2312, 77, &ch, range);
    let (code, mut sent) = ask(&mut b, T0, &q, 1);
    assert_eq!(code, "200");
    let mut pages = Vec::new();
    let mut now = T0;
    while let Some(page) = sent.pop() {
        assert!(sent.is_empty());
        pages.push(body_of(&page));
        now += MS;
        sent = ack(&mut b, now, &page);
    }
    // 7200 s in 600 s segments, shifted by the channel's phase: 12 or 13 records.
    assert_eq!(pages.len(), 3, "5 + 5 + the rest");
    let sum: u32 = s(element(&pages[0], b"SumNum").unwrap()).parse().unwrap();
    assert!(sum == 12 || sum == 13, "{sum}");
    let mut listed = 0;
    let mut at = u64::from(range.start);
    for p in &pages {
        let m = Manscdp::parse(p).unwrap();
        assert_eq!(
            (m.root, m.cmd_type, m.sn),
            (Root::Response, &b"RecordInfo"[..], Some(77))
        );
        assert_eq!(m.device_id, Some(&ch.as_bytes()[..]));
        assert_eq!(element(p, b"SumNum"), element(&pages[0], b"SumNum"));
        let text = s(p);
        let n = text.matches("<Item>").count();
        assert!(text.contains(&format!("<RecordList Num=\"{n}\">")));
        for item in text.split("<Item>").skip(1) {
            let start =
                crate::gb::time::parse_datetime(element(item.as_bytes(), b"StartTime").unwrap());
            assert_eq!(start, Some(at), "contiguous from the asked start");
            at = crate::gb::time::parse_datetime(element(item.as_bytes(), b"EndTime").unwrap())
                .unwrap();
        }
        listed += n as u32;
    }
    assert_eq!(listed, sum, "SumNum tells what was sent");
    assert_eq!(at, u64::from(range.end), "clipped to the asked end");
    assert!(b.out.query_args.is_empty(), "the arguments' slot is freed");
}

#[test]
fn queries_naming_a_channel_are_answered_for_it_and_strangers_get_400() {
    let mut b = nvr(4);
    let ch3 = dev().channel(3, 4);
    let mut q = Vec::new();
    manscdp::write_query(&mut q, Charset::Gb2312, b"DeviceStatus", 5, &ch3);
    let (code, sent) = ask(&mut b, T0, &q, 1);
    assert_eq!(code, "200");
    let a = body_of(&sent[0]);
    assert_eq!(
        Manscdp::parse(&a).unwrap().device_id,
        Some(&ch3.as_bytes()[..])
    );
    assert_eq!(element(&a, b"Online"), Some(&b"ONLINE"[..]));
    assert!(
        s(&a).contains("<Alarmstatus Num=\"1\">"),
        "the channel's own duty"
    );
    ack(&mut b, T0 + MS, &sent[0]);

    manscdp::write_query(&mut q, Charset::Gb2312, b"DeviceInfo", 6, &ch3);
    let (_, sent) = ask(&mut b, T0 + 2 * MS, &q, 2);
    let a = body_of(&sent[0]);
    assert_eq!(element(&a, b"DeviceType"), Some(&b"Camera"[..]));
    assert_eq!(element(&a, b"DeviceID"), Some(&ch3.as_bytes()[..]));
    ack(&mut b, T0 + 3 * MS, &sent[0]);

    // A channel lists no sub-devices: one Catalog message with none.
    manscdp::write_query(&mut q, Charset::Gb2312, b"Catalog", 7, &ch3);
    let (_, sent) = ask(&mut b, T0 + 4 * MS, &q, 3);
    let a = body_of(&sent[0]);
    assert_eq!(element(&a, b"SumNum"), Some(&b"0"[..]));
    assert!(s(&a).contains("<DeviceList Num=\"0\">"));
    assert!(ack(&mut b, T0 + 5 * MS, &sent[0]).is_empty());

    // The device itself: an NVR of 4 channels.
    manscdp::write_query(&mut q, Charset::Gb2312, b"DeviceInfo", 8, &dev());
    let (_, sent) = ask(&mut b, T0 + 6 * MS, &q, 4);
    let a = body_of(&sent[0]);
    assert_eq!(element(&a, b"DeviceType"), Some(&b"NVR"[..]));
    assert_eq!(element(&a, b"Channel"), Some(&b"4"[..]));
    ack(&mut b, T0 + 7 * MS, &sent[0]);

    // Another device's channel, a channel past the last, garbage: 400 and nothing more.
    let other = id("34020000001320000002").channel(1, 4);
    for (n, target) in [other, dev().channel(5, 8)].iter().enumerate() {
        manscdp::write_query(&mut q, Charset::Gb2312, b"DeviceStatus", 9, target);
        let (code, sent) = ask(&mut b, T0 + 8 * MS, &q, 10 + n as u32);
        assert_eq!((code.as_str(), sent.len()), ("400", 0));
    }
    let junk = b"<Query><CmdType>DeviceInfo</CmdType><SN>1</SN><DeviceID>1</DeviceID></Query>";
    assert_eq!(ask(&mut b, T0 + 9 * MS, junk, 20).0, "400");
    let no_range =
        format!("<Query><CmdType>RecordInfo</CmdType><SN>1</SN><DeviceID>{ch3}</DeviceID></Query>");
    assert_eq!(ask(&mut b, T0 + 9 * MS, no_range.as_bytes(), 21).0, "400");
    assert_eq!(b.out.counters.bad_queries, 4);
    assert_eq!(b.out.counters.queries, 4);
}

#[test]
fn each_2022_query_is_answered_under_its_cmd_type() {
    let mut c = cfg();
    c.gb_version = crate::gb::GbVersion::V2022;
    c.channels = 2;
    let mut b = Bench1::new(c);
    let ch = dev().channel(1, 2);
    let mut q = Vec::new();
    let mut now = T0;
    for (n, query) in [
        Query2022::HomePosition,
        Query2022::CruiseTrackList,
        Query2022::CruiseTrack(1),
        Query2022::PtzPosition,
        Query2022::SdCardStatus,
    ]
    .into_iter()
    .enumerate()
    {
        query2022::write_query(&mut q, Charset::Gb18030, 30 + n as u32, &ch, query);
        let (code, sent) = ask(&mut b, now, &q, n as u32);
        assert_eq!((code.as_str(), sent.len()), ("200", 1), "{query:?}");
        let a = body_of(&sent[0]);
        assert!(a.starts_with(b"<?xml version=\"1.0\" encoding=\"GB18030\"?>"));
        let m = Manscdp::parse(&a).unwrap();
        assert_eq!(
            (m.root, m.cmd_type, m.sn, m.device_id),
            (
                Root::Response,
                query.cmd(),
                Some(30 + n as u32),
                Some(&ch.as_bytes()[..])
            )
        );
        if query == Query2022::CruiseTrack(1) {
            assert_eq!(element(&a, b"Number"), Some(&b"1"[..]));
        }
        now += MS;
        assert!(ack(&mut b, now, &sent[0]).is_empty());
    }
    assert_eq!(b.out.counters.queries, 5);
}

#[test]
fn controls_are_answered_200_and_a_response_only_where_the_standard_asks() {
    let mut b = nvr(2);
    let ch = dev().channel(1, 2);
    let mut q = Vec::new();
    let mut now = T0;
    for (n, c) in [
        Control::Ptz,
        Control::IFrame,
        Control::DragZoom,
        Control::HomePosition,
        Control::Record(true),
        Control::Guard(true),
        Control::AlarmReset,
        Control::Config,
    ]
    .into_iter()
    .enumerate()
    {
        let target = if matches!(c, Control::Guard(_) | Control::AlarmReset | Control::Config) {
            dev()
        } else {
            ch
        };
        control::write_control(&mut q, Charset::Gb2312, 40 + n as u32, &target, c);
        let (code, sent) = ask(&mut b, now, &q, n as u32);
        assert_eq!(code, "200", "{c:?}");
        assert_eq!(sent.len(), usize::from(c.needs_response()), "{c:?}");
        if let Some(r) = sent.first() {
            let a = body_of(r);
            let m = Manscdp::parse(&a).unwrap();
            assert_eq!(
                (m.root, m.cmd_type, m.sn, m.device_id),
                (
                    Root::Response,
                    c.cmd(),
                    Some(40 + n as u32),
                    Some(&target.as_bytes()[..])
                )
            );
            assert_eq!(element(&a, b"Result"), Some(&b"OK"[..]));
            now += MS;
            assert!(ack(&mut b, now, r).is_empty());
        }
        now += MS;
    }
    let counted = b.out.counters.controls;
    assert_eq!(counted, [1, 0, 1, 1, 1, 1, 1, 1, 1]);
    // Recording and guard are what DeviceStatus reports now.
    manscdp::write_query(&mut q, Charset::Gb2312, b"DeviceStatus", 50, &dev());
    let (_, sent) = ask(&mut b, now, &q, 50);
    let a = body_of(&sent[0]);
    assert_eq!(element(&a, b"Record"), Some(&b"ON"[..]));
    assert_eq!(s(&a).matches("<DutyStatus>ONDUTY</DutyStatus>").count(), 2);
    ack(&mut b, now + MS, &sent[0]);
    control::write_control(&mut q, Charset::Gb2312, 51, &ch, Control::Record(false));
    let (_, sent) = ask(&mut b, now + 2 * MS, &q, 51);
    ack(&mut b, now + 3 * MS, &sent[0]);
    manscdp::write_query(&mut q, Charset::Gb2312, b"DeviceStatus", 52, &dev());
    let (_, sent) = ask(&mut b, now + 4 * MS, &q, 52);
    assert_eq!(element(&body_of(&sent[0]), b"Record"), Some(&b"OFF"[..]));
}

#[test]
fn config_download_answers_the_asked_blocks_with_the_real_server_id() {
    let mut b = nvr(1);
    let q = format!(
        "<Query><CmdType>ConfigDownload</CmdType><SN>3</SN><DeviceID>{DEV}</DeviceID><ConfigType>BasicParam/VideoParamOpt</ConfigType></Query>"
    );
    let (_, sent) = ask(&mut b, T0, q.as_bytes(), 1);
    let a = body_of(&sent[0]);
    assert_eq!(
        element(&a, b"SIPServerID"),
        Some(&b"34020000002000000001"[..])
    );
    assert!(element(&a, b"VideoParamOpt").is_some());
    assert!(element(&a, b"VideoRecordPlan").is_none());
}

/// A registered camera (a 200 to its first REGISTER at 1 ms).
fn registered(cfg: CameraConfig) -> Bench1 {
    let mut b = Bench1::new(cfg);
    let reg = b.call(|c, env| c.handle_start(T0, T0, env));
    let ok = answer(&reg[0], 200, &[("Expires", "3600")]);
    b.call(|c, env| c.handle_message(T0 + MS, &ok, env));
    assert!(b.cam.is_registered());
    b
}

fn expires(raw: &[u8]) -> String {
    field(raw, |m| m.header_named(b"Expires").map(s))
}

#[test]
fn teleboot_unregisters_then_registers_again_after_exactly_the_delay() {
    let mut c = cfg();
    c.reboot_delay_ms = 10_000;
    let mut b = registered(c);
    let t = T0 + 5 * S;
    let mut q = Vec::new();
    control::write_control(&mut q, Charset::Gb2312, 9, &dev(), Control::TeleBoot);
    let sent = b.call(|c, env| c.handle_message(t, &message(&q, 1), env));
    assert_eq!(sent.len(), 2, "200, then the unregister");
    assert_eq!(status(&sent[0]), "200");
    assert_eq!(
        field(&sent[1], |m| m.method().map(|m| s(m.as_bytes()))),
        "REGISTER"
    );
    assert_eq!(expires(&sent[1]), "0");
    assert!(!b.cam.is_registered());
    let ok = answer(&sent[1], 200, &[("Expires", "0")]);
    b.call(|c, env| c.handle_message(t + 2 * MS, &ok, env));
    assert_eq!(b.out.records.len(), 1);
    assert_eq!(b.out.records[0].kind, TxnKind::Unregister);
    assert!(!b.cam.is_stopped(), "down, not stopped");
    assert!(b.cam.is_rebooting());
    // Down: a query goes unanswered.
    let mut dq = Vec::new();
    manscdp::write_query(&mut dq, Charset::Gb2312, b"DeviceInfo", 10, &dev());
    assert!(
        b.call(|c, env| c.handle_message(t + S, &message(&dq, 2), env))
            .is_empty()
    );
    let due = t + 10 * S;
    assert_eq!(b.cam.poll_timeout(), Some(due));
    assert!(
        b.call(|c, env| c.handle_timeout(t + 9_999 * MS, env))
            .is_empty(),
        "nothing at T-1"
    );
    let again = b.call(|c, env| c.handle_timeout(due, env));
    assert_eq!(again.len(), 1, "the REGISTER at T");
    assert_eq!(expires(&again[0]), "3600");
    assert_ne!(
        field(&again[0], |m| m.call_id().map(s)),
        field(&sent[1], |m| m.call_id().map(s)),
        "a new registration, on a new Call-ID"
    );
    let ok = answer(&again[0], 200, &[("Expires", "3600")]);
    b.call(|c, env| c.handle_message(due + MS, &ok, env));
    assert_eq!(b.out.records[0].kind, TxnKind::Register);
    assert_eq!(b.out.records[0].latency, MS, "timed from T");
    assert!(b.cam.is_registered() && !b.cam.is_rebooting());
    assert_eq!(b.out.counters.reboots, 1);
    assert_eq!(b.out.counters.controls[Control::TeleBoot.index()], 1);
    assert_eq!(
        b.out.counters.offline, 0,
        "a requested restart is no lost server"
    );
    // Up again: queries are answered.
    let r = b.call(|c, env| c.handle_message(due + 2 * MS, &message(&dq, 3), env));
    assert_eq!(r.len(), 2);
}

#[test]
fn teleboot_while_unregistered_only_waits_and_a_stop_ends_the_wait() {
    let mut b = Bench1::new(cfg());
    let mut q = Vec::new();
    control::write_control(&mut q, Charset::Gb2312, 9, &dev(), Control::TeleBoot);
    let reg = b.call(|c, env| c.handle_start(T0, T0, env));
    assert_eq!(reg.len(), 1);
    // Rebooted before the first registration was answered: the flow is abandoned.
    let sent = b.call(|c, env| c.handle_message(T0 + MS, &message(&q, 1), env));
    assert_eq!(sent.len(), 1, "only the 200: no binding to unregister");
    assert_eq!(b.out.records[0].outcome, Outcome::Abandoned);
    assert_eq!(b.cam.poll_timeout(), Some(T0 + MS + 10 * S));
    let stop = b.call(|c, env| c.handle_stop(T0 + 2 * S, T0 + 2 * S, env));
    assert!(stop.is_empty());
    assert!(b.cam.is_stopped());
}

#[test]
fn a_fleet_answers_a_scripted_platform_one_request_at_a_time_and_reboots_once() {
    let mut c = cfg();
    c.channels = 3;
    c.reboot_delay_ms = 5_000;
    let queries = vec![
        "ConfigDownload:all",
        "RecordInfo",
        "HomePositionQuery",
        "CruiseTrackListQuery",
        "CruiseTrackQuery",
        "PTZPosition",
        "SDCardStatus",
        "DeviceControl:PTZCmd",
        "DeviceControl:RecordCmd",
        "DeviceControl:GuardCmd",
        "DeviceControl:AlarmCmd",
        "DeviceControl:DeviceConfig",
        "DeviceControl:IFrameCmd",
        "DeviceControl:TeleBoot",
    ];
    let script = Script {
        queries,
        channels: 3,
        one_at_a_time: true,
        ..Script::default()
    };
    let mut sim = sim(3, c, script);
    sim.start_all(Span::ZERO);
    sim.run_until(T0 + 60 * S);
    let seen = &sim.servers[0].seen;
    // Every device answered every query twice (before and after its restart), the three
    // controls that ask for one with a Response, and restarted once.
    for cmd in [
        "ConfigDownload",
        "RecordInfo",
        "HomePositionQuery",
        "CruiseTrackListQuery",
        "CruiseTrackQuery",
        "PTZPosition",
        "SDCardStatus",
    ] {
        assert_eq!(seen.responses_by_cmd.get(cmd), Some(&6), "{cmd}");
    }
    assert_eq!(seen.control_responses, 3 * 3 * 2);
    assert_eq!(seen.responses_by_cmd.get("DeviceConfig"), Some(&6));
    // Two hours in 30-minute segments: 4, or 5 when the channel's phase cuts one at each end.
    assert!((2 * 3 * 4..=2 * 3 * 5).contains(&seen.record_items));
    assert_eq!(sim.out.counters.reboots, 3);
    assert_eq!(seen.unregistrations, 3);
    assert_eq!(
        sim.net.tally.get(TxnKind::Register, Outcome::Status(200)),
        6
    );
    assert_eq!(sim.out.counters.queries_refused, 0);
    assert_eq!(sim.out.counters.bad_queries, 0);
    assert!(sim.out.query_args.is_empty());
    assert!(sim.cams.iter().all(Camera::is_registered));
}

#[test]
fn a_stop_during_the_restarts_unregister_stops_for_good() {
    let mut b = registered(cfg());
    let mut q = Vec::new();
    control::write_control(&mut q, Charset::Gb2312, 9, &dev(), Control::TeleBoot);
    let t = T0 + S;
    let sent = b.call(|c, env| c.handle_message(t, &message(&q, 1), env));
    assert_eq!(expires(&sent[1]), "0");
    // Stopped while the restart's unregister is unanswered: a new unregister, then stopped.
    let stop = b.call(|c, env| c.handle_stop(t + MS, t + MS, env));
    assert_eq!(stop.len(), 1);
    assert_eq!(expires(&stop[0]), "0");
    let ok = answer(&stop[0], 200, &[("Expires", "0")]);
    b.call(|c, env| c.handle_message(t + 2 * MS, &ok, env));
    assert!(b.cam.is_stopped() && b.cam.unregistered());
    assert_eq!(
        b.cam.poll_timeout(),
        None,
        "no registration after the delay"
    );
}

#[test]
fn over_tcp_a_teleboot_closes_the_connection_and_reconnects_at_the_delay() {
    let mut c = cfg();
    c.transport = Transport::Tcp;
    c.reboot_delay_ms = 3_000;
    let mut b = Bench1::new(c);
    b.call(|c, env| c.handle_start(T0, T0, env));
    assert_eq!(b.out.actions, vec![Action::Connect]);
    let reg = b.call(|c, env| c.handle_connected(T0 + MS, env));
    let ok = answer(&reg[0], 200, &[("Expires", "3600")]);
    b.call(|c, env| c.handle_message(T0 + 2 * MS, &ok, env));
    assert!(b.cam.is_registered());
    let mut q = Vec::new();
    control::write_control(&mut q, Charset::Gb2312, 9, &dev(), Control::TeleBoot);
    let t = T0 + S;
    let sent = b.call(|c, env| c.handle_message(t, &message(&q, 1), env));
    assert_eq!(
        expires(&sent[1]),
        "0",
        "unregistered over the open connection"
    );
    let ok = answer(&sent[1], 200, &[("Expires", "0")]);
    b.call(|c, env| c.handle_message(t + MS, &ok, env));
    assert_eq!(
        b.out.actions,
        vec![Action::Close],
        "down: the connection goes"
    );
    assert!(
        b.call(|c, env| c.handle_timeout(t + 2_999 * MS, env))
            .is_empty()
    );
    b.call(|c, env| c.handle_timeout(t + 3 * S, env));
    assert_eq!(
        b.out.actions,
        vec![Action::Connect],
        "up: a new connection at T"
    );
    let reg = b.call(|c, env| c.handle_connected(t + 3 * S + MS, env));
    assert_eq!(expires(&reg[0]), "3600");
}
