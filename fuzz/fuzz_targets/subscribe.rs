//! Fuzz both ends of GB28181 subscriptions with what they read from the network. The device's
//! subscription table takes the input as a SIP message (a SUBSCRIBE, or a response to one of
//! its NOTIFYs) and as the MANSCDP body of a well-formed SUBSCRIBE, then lives an hour of
//! NOTIFYs, each answered. `serve --subscribe`'s driver takes it as a SIP message (a NOTIFY
//! or a response), as the body of a NOTIFY in a live dialog and as the body of a device's
//! MESSAGE. Nothing may panic, everything either sends must parse as SIP, and neither may
//! hold more subscriptions than it can.
#![no_main]

use gbswarm::camera::CameraConfig;
use gbswarm::camera::channels::Flap;
use gbswarm::camera::credentials::Credentials;
use gbswarm::camera::subscribe::{Ctx, Device, SubConfig, SubTable};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::subscribe::{EventKind, QueryKind};
use gbswarm::gb::{Charset, DeviceId};
use gbswarm::net::Outbox;
use gbswarm::server::subscribe::wire::Me;
use gbswarm::server::subscribe::{SubscribeConfig, Subscriber};
use gbswarm::sip::{Batch, Header, Limits, Message, Transport, parse_datagram, response_to};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

const SERVER: &[u8] = b"34020000002000000001";
const DEV: &[u8] = b"34020000001320000001";

fn parses(bytes: &[u8]) -> bool {
    let mut h = [Header::EMPTY; 64];
    matches!(
        parse_datagram(bytes, &mut h, &Limits::default()),
        Ok(Some(_))
    )
}

/// Runs `f` on `bytes` parsed as a SIP message, if they are one.
fn with_msg(bytes: &[u8], f: impl FnOnce(&Message<'_, '_>)) {
    let mut h = [Header::EMPTY; 40];
    if let Ok(Some(m)) = parse_datagram(bytes, &mut h, &Limits::default()) {
        f(&m);
    }
}

fn subscribe_with_body(body: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "SUBSCRIBE sip:34020000001320000001@10.0.0.9:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfz1\r\n\
         From: <sip:34020000002000000001@3402000000>;tag=plat\r\n\
         To: <sip:34020000001320000001@3402000000>\r\n\
         Call-ID: fuzz-sub\r\nCSeq: 1 SUBSCRIBE\r\n\
         Contact: <sip:34020000002000000001@10.0.0.1:5060>\r\n\
         Event: presence\r\nExpires: 3600\r\n\
         Content-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body);
    m
}

fn device_side(data: &[u8], id: DeviceId) {
    let mut cfg = CameraConfig::new(DeviceId::parse(SERVER).unwrap_or(id));
    cfg.channels = 3;
    cfg.catalog_page = 2;
    cfg.channel_flap = Flap::per_hour(3600.0, 1);
    let capacity = 4;
    let mut table = SubTable::new(SubConfig {
        capacity,
        ..SubConfig::default()
    });
    table.start(Time::ZERO);
    let platform: SocketAddr = ([10, 0, 0, 1], 5060).into();
    let dev = Device {
        index: 0,
        id,
        signal: ([10, 0, 0, 9], 5060).into(),
        transport: Transport::Udp,
        server: platform,
        online: true,
    };
    let lookup = move |k: u32| (k == 0).then_some(dev);
    let mut credentials = Credentials::default();
    let mut answers: Vec<Vec<u8>> = Vec::new();
    let collect = |table: &SubTable, answers: &mut Vec<Vec<u8>>| {
        for s in table.sends() {
            let bytes = table.bytes(s);
            assert!(parses(bytes), "{}", String::from_utf8_lossy(bytes));
            with_msg(bytes, |m| {
                if m.is_request() {
                    let mut a = Vec::new();
                    response_to(&mut a, m, 200, Some(b"plat"), None).finish(b"");
                    answers.push(a);
                }
            });
        }
    };
    let now = Time::from_millis(1);
    with_msg(data, |m| {
        if m.is_request() {
            table.on_subscribe(now, m, platform, &dev, &cfg);
        } else {
            let mut ctx = Ctx {
                cfg: &cfg,
                devices: &lookup,
                credentials: &mut credentials,
            };
            table.on_response(now, m, &mut ctx);
        }
    });
    collect(&table, &mut answers);
    let sub = subscribe_with_body(data);
    with_msg(&sub, |m| table.on_subscribe(now, m, platform, &dev, &cfg));
    collect(&table, &mut answers);
    for ms in [
        2u64, 600, 1_600, 5_000, 30_000, 600_000, 3_600_000, 3_700_000,
    ] {
        let now = Time::from_millis(ms);
        let mut ctx = Ctx {
            cfg: &cfg,
            devices: &lookup,
            credentials: &mut credentials,
        };
        for a in std::mem::take(&mut answers) {
            with_msg(&a, |m| table.on_response(now, m, &mut ctx));
        }
        table.on_timer(now, &mut ctx);
        collect(&table, &mut answers);
        assert!(table.active() <= capacity);
    }
}

fn notify_in(subscribe: &Message<'_, '_>, body: &[u8]) -> Vec<u8> {
    let call = subscribe.call_id().unwrap_or(b"");
    let tag = subscribe.from().and_then(|f| f.tag()).unwrap_or(b"");
    let mut m = Vec::new();
    m.extend_from_slice(
        b"NOTIFY sip:34020000002000000001@10.0.0.1:5060 SIP/2.0\r\n\
          Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKfzn\r\n\
          From: <sip:34020000001320000001@3402000000>;tag=dev\r\nTo: <sip:34020000002000000001@3402000000>;tag=",
    );
    m.extend_from_slice(tag);
    m.extend_from_slice(b"\r\nCall-ID: ");
    m.extend_from_slice(call);
    m.extend_from_slice(
        b"\r\nCSeq: 2 NOTIFY\r\nEvent: presence\r\nSubscription-State: active;expires=3600\r\n\
          Content-Type: Application/MANSCDP+xml\r\nContent-Length: ",
    );
    m.extend_from_slice(body.len().to_string().as_bytes());
    m.extend_from_slice(b"\r\n\r\n");
    m.extend_from_slice(body);
    m
}

fn platform_side(data: &[u8], id: DeviceId) {
    let Ok(server) = DeviceId::parse(SERVER) else {
        return;
    };
    let cfg = SubscribeConfig {
        kinds: vec![
            EventKind::Catalog,
            EventKind::MobilePosition,
            EventKind::Alarm,
        ],
        interval_s: 5,
        rate: 1000,
        expires_s: 3600,
        queries: vec![QueryKind::RecordInfo],
        query_rate: 1000,
        query_span: Span::from_secs(86_400),
    };
    let me = Me {
        id: server,
        domain: "3402000000".into(),
        signal: ([10, 0, 0, 1], 5060).into(),
        salt: 3,
        charset: Charset::Gb2312,
    };
    let mut s = Subscriber::new(&cfg, me, (0, 1), Time::ZERO, 1_795_475_772_000);
    s.device_registered(id, Time::ZERO);
    let cam: SocketAddr = ([10, 0, 0, 9], 5060).into();
    let mut out = Outbox::default();
    let mut sent: Vec<Vec<u8>> = Vec::new();
    for ms in [0u64, 2, 4, 10] {
        out.clear();
        s.handle_timeout(
            Time::from_millis(ms),
            &mut |_| Some((cam, Transport::Udp)),
            &mut out,
        );
        for (_, _, m) in out.messages() {
            assert!(parses(m), "{}", String::from_utf8_lossy(m));
            sent.push(m.to_vec());
        }
    }
    let now = Time::from_millis(20);
    let mut batch = Batch::new();
    with_msg(data, |m| {
        if m.is_request() {
            s.handle_request(now, m, cam, &mut batch);
            s.device_message(now, m);
        } else {
            s.handle_response(now, m);
        }
    });
    for m in &sent {
        with_msg(m, |sub| {
            if sub.method().is_some_and(|x| x.as_bytes() == b"SUBSCRIBE") {
                let mut ok = Vec::new();
                response_to(&mut ok, sub, 200, Some(b"dev"), None).finish(b"");
                with_msg(&ok, |r| {
                    s.handle_response(now, r);
                });
                let n = notify_in(sub, data);
                with_msg(&n, |r| {
                    s.handle_request(now, r, cam, &mut batch);
                });
            } else {
                // A query: its Response page carries the input.
                let page = n_message(data);
                with_msg(&page, |r| s.device_message(now, r));
            }
        });
    }
    for m in batch.iter() {
        assert!(parses(m));
    }
    out.clear();
    s.handle_timeout(
        Time::from_millis(4_000_000),
        &mut |_| Some((cam, Transport::Udp)),
        &mut out,
    );
    assert!(s.active() <= cfg.kinds.len());
}

/// A device's MESSAGE carrying `body`.
fn n_message(body: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKfzm\r\n\
         From: <sip:34020000001320000001@3402000000>;tag=dev\r\n\
         To: <sip:34020000002000000001@3402000000>\r\n\
         Call-ID: fuzz-msg\r\nCSeq: 3 MESSAGE\r\n\
         Content-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body);
    m
}

fuzz_target!(|data: &[u8]| {
    let Ok(id) = DeviceId::parse(DEV) else {
        return;
    };
    device_side(data, id);
    platform_side(data, id);
});
