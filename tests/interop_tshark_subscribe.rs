//! Wireshark's SIP dissector (Debian package `tshark`) as the judge of the subscription
//! messages a camera writes: the 200 to a SUBSCRIBE, Catalog NOTIFYs (state pages and a
//! channel's change), MobilePosition NOTIFYs in the 2016 flat and 2022 list forms, the Alarm
//! NOTIFYs, the final `terminated` NOTIFY, an alarm MESSAGE to the registrar, and the 489 and
//! 503 refusals. Every one must decode as SIP, none may be flagged malformed, and every
//! MANSCDP body must decode as XML with its `CmdType`.

mod peers;

use gbswarm::camera::channels::Flap;
use gbswarm::camera::credentials::Credentials;
use gbswarm::camera::subscribe::{Alarms, Ctx, Device, SubConfig, SubTable};
use gbswarm::camera::{CameraConfig, Transport};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::GbVersion;
use gbswarm::sip::{Header, Limits, parse_datagram, response_to};
use std::process::Command;

const DEV: &str = "34020000001320000001";

fn subscribe(cmd: &str, call: &str, to_tag: &str, expires: u32) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Query>\r\n<CmdType>{cmd}</CmdType>\r\n<SN>1</SN>\r\n<DeviceID>{DEV}</DeviceID>\r\n<Interval>1</Interval>\r\n</Query>\r\n"
    );
    format!(
        "SUBSCRIBE sip:{DEV}@10.0.0.7:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call}{expires}\r\n\
         From: <sip:34020000002000000001@3402000000>;tag=p{call}\r\n\
         To: <sip:{DEV}@3402000000>{to_tag}\r\nCall-ID: {call}\r\nCSeq: {} SUBSCRIBE\r\n\
         Contact: <sip:34020000002000000001@10.0.0.1:5060>\r\nExpires: {expires}\r\n\
         Event: {}\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n{body}",
        if to_tag.is_empty() { 1 } else { 2 },
        if cmd == "Catalog" {
            "Catalog"
        } else {
            "presence"
        },
        body.len()
    )
    .into_bytes()
}

/// Everything the table sends in a short life of subscriptions of every kind, answered 200.
fn messages(version: GbVersion) -> Vec<Vec<u8>> {
    let mut cfg = CameraConfig::new("34020000002000000001".parse().unwrap());
    cfg.channels = 3;
    cfg.catalog_page = 2;
    cfg.gb_version = version;
    cfg.channel_flap = Flap::per_hour(1800.0, 1);
    let devices: [Device; 2] = [0u32, 1].map(|k| Device {
        index: k,
        id: format!("3402000000132000000{}", k + 1).parse().unwrap(),
        signal: "10.0.0.7:5060".parse().unwrap(),
        transport: Transport::Udp,
        server: "10.0.0.1:5060".parse().unwrap(),
        online: true,
    });
    let mut table = SubTable::new(SubConfig {
        capacity: 3,
        alarm_slots: 2,
        devices: 2,
        fleet: 2,
        alarms: Alarms {
            period: Alarms::period_of(1800.0),
            burst: None,
        },
        ..SubConfig::default()
    });
    table.start(Time::ZERO);
    let mut credentials = Credentials::default();
    let look = |k: u32| devices.get(k as usize).copied();
    let from = "10.0.0.1:5060".parse().unwrap();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut to_answer: Vec<Vec<u8>> = Vec::new();
    let keep = |table: &SubTable, out: &mut Vec<Vec<u8>>, to_answer: &mut Vec<Vec<u8>>| {
        for t in table.sends() {
            let b = table.bytes(t).to_vec();
            if !b.starts_with(b"SIP/2.0") {
                to_answer.push(b.clone());
            }
            out.push(b);
        }
    };
    let mut tags = Vec::new();
    for (cmd, call) in [
        ("Catalog", "a"),
        ("MobilePosition", "b"),
        ("Alarm", "c"),
        ("Nope", "d"),
    ] {
        let raw = subscribe(cmd, call, "", 600);
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&raw, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        table.on_subscribe(Time::ZERO, &m, from, &devices[0], &cfg);
        if let Some(ok) = table.sends().first() {
            let mut h = [Header::EMPTY; 32];
            let bytes = table.bytes(ok).to_vec();
            let r = parse_datagram(&bytes, &mut h, &Limits::default())
                .unwrap()
                .unwrap();
            let tag = r.to().and_then(|t| t.tag()).unwrap_or(b"");
            tags.push((cmd, call, String::from_utf8_lossy(tag).into_owned()));
        }
        keep(&table, &mut out, &mut to_answer);
    }
    let mut now = Time::ZERO;
    for step in 0..240u64 {
        while let Some(req) = to_answer.pop() {
            let mut h = [Header::EMPTY; 32];
            let m = parse_datagram(&req, &mut h, &Limits::default())
                .unwrap()
                .unwrap();
            let mut answer = Vec::new();
            response_to(&mut answer, &m, 200, Some(b"plat"), None).finish(b"");
            let mut h2 = [Header::EMPTY; 32];
            let r = parse_datagram(&answer, &mut h2, &Limits::default())
                .unwrap()
                .unwrap();
            let mut ctx = Ctx {
                cfg: &cfg,
                devices: &look,
                credentials: &mut credentials,
            };
            table.on_response(now, &r, &mut ctx);
            keep(&table, &mut out, &mut to_answer);
        }
        if step == 200 {
            // The MobilePosition subscription ends: its final NOTIFY.
            let (_, call, tag) = &tags[1];
            let raw = subscribe("MobilePosition", call, &format!(";tag={tag}"), 0);
            let mut h = [Header::EMPTY; 32];
            let m = parse_datagram(&raw, &mut h, &Limits::default())
                .unwrap()
                .unwrap();
            table.on_subscribe(now, &m, from, &devices[0], &cfg);
            keep(&table, &mut out, &mut to_answer);
        }
        now += Span::from_millis(500);
        let mut ctx = Ctx {
            cfg: &cfg,
            devices: &look,
            credentials: &mut credentials,
        };
        table.on_timer(now, &mut ctx);
        keep(&table, &mut out, &mut to_answer);
    }
    // One more fills the slot the ended one left; the next finds the table full.
    for call in ["e", "f"] {
        let raw = subscribe("Alarm", call, "", 600);
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&raw, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        table.on_subscribe(now, &m, from, &devices[0], &cfg);
        keep(&table, &mut out, &mut to_answer);
    }
    out
}

fn judge(name: &str, version: GbVersion) {
    if !peers::have("tshark", "tshark") {
        return;
    }
    let payloads = messages(version);
    let text_of = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    let has = |s: &str| payloads.iter().filter(|p| text_of(p).contains(s)).count();
    // Every kind of message is there.
    for what in [
        "<CmdType>Catalog</CmdType>",
        "<Event>OFF</Event>",
        "<Event>ADD</Event>",
        "<CmdType>MobilePosition</CmdType>",
        "<AlarmPriority>",
        "terminated;reason=timeout",
        "MESSAGE sip:",
        "SIP/2.0 489",
        "SIP/2.0 503",
    ] {
        assert!(has(what) > 0, "{name}: no message with {what}");
    }
    assert_eq!(
        has("<ItemList Num=\"1\">") > 0,
        version == GbVersion::V2022,
        "{name}: the 2022 list form"
    );
    let dir = peers::TempDir::new(name);
    let file = dir.path().join("capture.pcap");
    std::fs::write(&file, peers::pcap(&payloads)).unwrap();
    let text = peers::stdout_of(
        Command::new("tshark")
            .arg("-r")
            .arg(&file)
            .args(["-d", "udp.port==5060,sip"])
            .args(["-d", "media_type==application/manscdp+xml,xml"])
            .args(["-T", "fields", "-E", "separator=|"])
            .args(["-E", "occurrence=a", "-E", "aggregator=,"])
            .args([
                "-e",
                "frame.number",
                "-e",
                "sip.Method",
                "-e",
                "sip.Status-Code",
            ])
            .args([
                "-e",
                "sip.Content-Length",
                "-e",
                "_ws.malformed",
                "-e",
                "xml.tag",
            ]),
    );
    assert!(!text.contains("Malformed"), "{text}");
    let mut bodies = 0;
    for (line, payload) in text.lines().zip(&payloads) {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 6, "{line}");
        let (frame, method, status, cl, malformed, xml) = (f[0], f[1], f[2], f[3], f[4], f[5]);
        assert!(malformed.is_empty(), "frame {frame} is malformed: {line}");
        assert!(
            !method.is_empty() || !status.is_empty(),
            "frame {frame} is not SIP: {line}"
        );
        let body_len = payload
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |i| payload.len() - i - 4);
        assert_eq!(cl, body_len.to_string(), "frame {frame}: Content-Length");
        if body_len > 0 {
            assert!(
                xml.contains("CmdType"),
                "frame {frame}: body not decoded as XML: {line}"
            );
            bodies += 1;
        }
    }
    assert_eq!(text.lines().count(), payloads.len());
    assert!(bodies > 50, "{bodies} bodies");
}

#[test]
fn wireshark_decodes_every_subscription_message_2016() {
    judge("tshark-subscribe-2016", GbVersion::V2016);
}

#[test]
fn wireshark_decodes_every_subscription_message_2022() {
    judge("tshark-subscribe-2022", GbVersion::V2022);
}
