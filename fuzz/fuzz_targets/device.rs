//! Fuzz what a device reads from a platform's MESSAGE bodies (queries and DeviceControl):
//! the readers of time stamps, RecordInfo ranges, ConfigType lists, control commands and the
//! 2022 queries, and a 4-channel camera answering the body with every answer acknowledged —
//! never a panic, answers that end, and no argument slot left held.
#![no_main]

use gbswarm::camera::{Camera, CameraConfig, Env, Outbox};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::control::Control;
use gbswarm::gb::query2022::Query2022;
use gbswarm::gb::records::RecordRange;
use gbswarm::gb::status::ConfigTypes;
use gbswarm::sip::{Header, Limits, parse_datagram, response_to};
use libfuzzer_sys::fuzz_target;

const DEV: &str = "34020000001320000001";

fuzz_target!(|data: &[u8]| {
    let _ = (RecordRange::parse(data), ConfigTypes::parse(data), Control::parse(data));
    let _ = Query2022::from_cmd(b"CruiseTrackQuery", data);
    let _ = Control::from_cmd(b"DeviceControl", data);
    let _ = gbswarm::gb::time::parse_datetime(data);

    let mut cfg = CameraConfig::new("34020000002000000001".parse().unwrap());
    cfg.channels = 4;
    cfg.catalog_page = 3;
    let mut cam = Camera::new(DEV.parse().unwrap(), 0, &cfg);
    let mut out = Outbox::default();
    let local = "10.0.0.7:5060".parse().unwrap();
    let mut msg = format!(
        "MESSAGE sip:{DEV}@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch=z9hG4bKf\r\nFrom: <sip:34020000002000000001@3402000000>;tag=f\r\nTo: <sip:{DEV}@3402000000>\r\nCall-ID: f\r\nCSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    msg.extend_from_slice(data);
    let mut now = Time::ZERO;
    cam.handle_message(now, &msg, &mut Env { cfg: &cfg, local, out: &mut out });
    let mut pending: Vec<Vec<u8>> = out.sends.iter().skip(1).map(|t| out.bytes(t).to_vec()).collect();
    let mut rounds = 0;
    while let Some(req) = pending.pop() {
        rounds += 1;
        assert!(rounds <= 2000, "answers end");
        let mut h = [Header::EMPTY; 40];
        let Ok(Some(m)) = parse_datagram(&req, &mut h, &Limits::default()) else {
            panic!("the camera sent what it cannot parse");
        };
        if m.method().is_none() {
            continue;
        }
        let mut ok = Vec::new();
        response_to(&mut ok, &m, 200, Some(b"srv"), None).finish(b"");
        now += Span::from_millis(1);
        out.clear();
        cam.handle_message(now, &ok, &mut Env { cfg: &cfg, local, out: &mut out });
        pending.extend(out.sends.iter().map(|t| out.bytes(t).to_vec()));
    }
    assert!(out.query_args.is_empty());
});
