//! Property tests of what a device reads from a platform's queries and controls: no body
//! panics the readers (time stamps, RecordInfo ranges, ConfigType lists, DeviceControl
//! commands, the 2022 queries) or a camera answering it; what the platform-side writers
//! write reads back; synthetic recordings tile the asked range; and whatever a camera was
//! asked, once its answers are acknowledged it holds no argument slot.

mod mutate;

use gbswarm::camera::{Camera, CameraConfig, Env, Outbox};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::control::{self, Control};
use gbswarm::gb::query2022::{self, Query2022};
use gbswarm::gb::records::{MAX_RECORDS, RecordRange, Recordings, write_record_query};
use gbswarm::gb::status::ConfigTypes;
use gbswarm::gb::time::{DateTime, parse_datetime};
use gbswarm::gb::{Charset, DeviceId, manscdp};
use gbswarm::sip::{Header, Limits, parse_datagram, response_to};
use mutate::Mutation;
use proptest::prelude::*;

const DEV: &str = "34020000001320000001";

fn dev() -> DeviceId {
    DEV.parse().unwrap()
}

/// Bodies as platforms write them, to mutate.
fn samples() -> Vec<Vec<u8>> {
    let ch = dev().channel(2, 4);
    let mut out = Vec::new();
    let mut b = Vec::new();
    let range = RecordRange {
        start: 1_795_392_000,
        end: 1_795_399_200,
    };
    write_record_query(&mut b, Charset::Gb2312, 1, &ch, range);
    out.push(b.clone());
    for c in [
        Control::Ptz,
        Control::TeleBoot,
        Control::Record(true),
        Control::Guard(false),
    ] {
        control::write_control(&mut b, Charset::Gb2312, 2, &ch, c);
        out.push(b.clone());
    }
    for q in [Query2022::CruiseTrack(1), Query2022::SdCardStatus] {
        query2022::write_query(&mut b, Charset::Gb18030, 3, &ch, q);
        out.push(b.clone());
    }
    manscdp::write_query(&mut b, Charset::Gb2312, b"ConfigDownload", 4, &ch);
    out.push(b);
    out.push(format!("<Query><CmdType>ConfigDownload</CmdType><SN>5</SN><DeviceID>{DEV}</DeviceID><ConfigType>BasicParam/VideoParamOpt/OSDConfig</ConfigType></Query>").into_bytes());
    out
}

fn read_everything(body: &[u8]) {
    let _ = RecordRange::parse(body);
    let _ = ConfigTypes::parse(body);
    let _ = (
        Control::parse(body),
        Control::from_cmd(b"DeviceControl", body),
    );
    for cmd in [&b"CruiseTrackQuery"[..], b"PTZPosition"] {
        let _ = Query2022::from_cmd(cmd, body);
    }
    let _ = parse_datetime(body);
}

fn message(body: &[u8], n: u32) -> Vec<u8> {
    let mut m = format!(
        "MESSAGE sip:{DEV}@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch=z9hG4bKp{n}\r\nFrom: <sip:34020000002000000001@3402000000>;tag=p{n}\r\nTo: <sip:{DEV}@3402000000>\r\nCall-ID: p{n}\r\nCSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body);
    m
}

/// A 4-channel camera is sent `bodies` one after another; every MESSAGE it sends the
/// registrar is answered 200 at once. Each request gets a final response (but while a
/// TeleBoot has the device down); at the end nothing is queued and no argument slot is held.
fn camera_answers(bodies: &[Vec<u8>]) {
    let mut cfg = CameraConfig::new("34020000002000000001".parse().unwrap());
    cfg.channels = 4;
    cfg.catalog_page = 3;
    cfg.record_segment_s = 900;
    let mut cam = Camera::new(dev(), 0, &cfg);
    let mut out = Outbox::default();
    let local = "10.0.0.7:5060".parse().unwrap();
    let mut now = Time::ZERO;
    for (n, body) in bodies.iter().enumerate() {
        out.clear();
        cam.handle_message(
            now,
            &message(body, n as u32),
            &mut Env {
                cfg: &cfg,
                local,
                out: &mut out,
            },
        );
        let mut pending: Vec<Vec<u8>> = out.sends.iter().map(|t| out.bytes(t).to_vec()).collect();
        // Every request gets a final response, unless a TeleBoot took the device down.
        if pending.is_empty() {
            assert!(out.counters.reboots > 0, "unanswered while up");
            continue;
        }
        pending.remove(0);
        let mut rounds = 0;
        while let Some(req) = pending.pop() {
            rounds += 1;
            assert!(rounds <= MAX_RECORDS as usize, "answers end");
            let mut h = [Header::EMPTY; 40];
            let Ok(Some(m)) = parse_datagram(&req, &mut h, &Limits::default()) else {
                panic!("the camera sent what it cannot parse");
            };
            if m.method().is_none() {
                continue;
            }
            let mut ok = Vec::new();
            let w = response_to(&mut ok, &m, 200, Some(b"srv"), None);
            w.finish(b"");
            now += Span::from_millis(1);
            out.clear();
            cam.handle_message(
                now,
                &ok,
                &mut Env {
                    cfg: &cfg,
                    local,
                    out: &mut out,
                },
            );
            pending.extend(out.sends.iter().map(|t| out.bytes(t).to_vec()));
        }
        now += Span::from_millis(1);
    }
    assert_eq!(cam.in_flight(), 0);
    assert!(out.query_args.is_empty());
}

fn mutation() -> impl Strategy<Value = Mutation> {
    mutate::mutation(prop_oneof![
        Just(b'<'),
        Just(b'>'),
        Just(b'/'),
        Just(b'-'),
        Just(b':'),
        Just(b'T'),
        Just(b'0'),
        Just(b'9'),
        Just(b' '),
        any::<u8>()
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
        read_everything(&raw);
        camera_answers(&[raw]);
    }

    #[test]
    fn mutated_samples_never_panic_and_leave_nothing_behind(
        picks in proptest::collection::vec((0usize..10, proptest::collection::vec(mutation(), 0..6)), 1..6),
    ) {
        let samples = samples();
        let bodies: Vec<Vec<u8>> = picks
            .iter()
            .map(|(i, muts)| mutate::apply(samples[i % samples.len()].clone(), muts))
            .collect();
        for b in &bodies {
            read_everything(b);
        }
        camera_answers(&bodies);
    }

    #[test]
    fn time_stamps_read_back(secs in 0u64..253_402_300_800) {
        let t = DateTime::new(secs * 1000, false);
        prop_assert_eq!(parse_datetime(t.as_bytes()), Some(secs));
    }

    #[test]
    fn recordings_tile_the_range(
        start in 0u32..4_000_000_000,
        len in 1u32..10_000_000,
        segment in 1u32..100_000,
        seed in any::<u64>(),
    ) {
        let range = RecordRange { start, end: start.saturating_add(len).max(start + 1) };
        let r = Recordings::new(range, segment, seed);
        let n = r.count();
        prop_assert!((1..=MAX_RECORDS).contains(&n));
        let mut at = u64::from(range.start);
        for i in 0..n {
            let (s, e) = r.get(i).unwrap();
            prop_assert_eq!(s, at);
            prop_assert!(e > s && e - s <= u64::from(segment));
            at = e;
        }
        if n < MAX_RECORDS {
            prop_assert_eq!(at, u64::from(range.end));
        }
        prop_assert!(r.get(n).is_none());
    }
}
