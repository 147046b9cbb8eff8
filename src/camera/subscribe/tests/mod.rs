//! The subscription table in virtual time: a [`Bench`] plays the platform (SUBSCRIBEs written
//! as wvp-GB28181-pro writes them, 200s to NOTIFYs) and reads what the table sends back as
//! owned messages. `dialog`: SUBSCRIBE, refresh, unsubscribe, refusals, retransmissions,
//! Timer F, expiry; `events`: MobilePosition ticks, Catalog changes, alarms and bursts;
//! `props`: arbitrary input; `scale`: tens of thousands of subscriptions, slots reused.

mod dialog;
mod events;
mod props;
mod scale;

use super::*;
use crate::camera::CameraConfig;
use crate::camera::channels::Flap;
use crate::sip::{Header, Limits, Message, parse_datagram, response_to};

const PLATFORM: &str = "34020000002000000001";
const DEV: &str = "34020000001320000001";
const MS: Span = Span::from_millis(1);

fn at(ms: u64) -> Time {
    Time::ZERO + ms * MS
}

fn platform() -> SocketAddr {
    "10.0.0.1:5060".parse().unwrap()
}

/// One message the table sent, owned.
#[derive(Clone, Debug)]
struct Sent {
    to: SocketAddr,
    device: u32,
    bytes: Vec<u8>,
}

impl Sent {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn with<R>(&self, f: impl FnOnce(&Message<'_, '_>) -> R) -> R {
        let mut h = [Header::EMPTY; 40];
        let m = parse_datagram(&self.bytes, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        f(&m)
    }

    fn header(&self, name: &str) -> String {
        self.with(|m| {
            String::from_utf8_lossy(m.header_named(name.as_bytes()).unwrap_or(b"")).into_owned()
        })
    }

    fn first_line(&self) -> String {
        self.text().lines().next().unwrap_or("").to_string()
    }

    fn body(&self) -> Vec<u8> {
        self.with(|m| m.body.to_vec())
    }

    fn element(&self, tag: &str) -> Option<String> {
        let body = self.body();
        crate::gb::manscdp::element(&body, tag.as_bytes())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The To tag of a response.
    fn to_tag(&self) -> String {
        self.with(|m| String::from_utf8_lossy(m.to().unwrap().tag().unwrap()).into_owned())
    }

    /// A response to this request from the platform.
    fn answer(&self, code: u16) -> Vec<u8> {
        self.with(|m| {
            let mut out = Vec::new();
            response_to(&mut out, m, code, Some(b"plat"), None).finish(b"");
            out
        })
    }
}

/// A SUBSCRIBE from the platform.
struct Sub<'a> {
    call: &'a str,
    branch: &'a str,
    cseq: u32,
    to_tag: Option<&'a str>,
    expires: Option<u32>,
    event: &'a str,
    cmd: &'a str,
    extra_body: &'a str,
}

impl<'a> Sub<'a> {
    fn new(cmd: &'a str) -> Sub<'a> {
        Sub {
            call: "sub-call-1",
            branch: "z9hG4bKsub1",
            cseq: 1,
            to_tag: None,
            expires: Some(3600),
            event: if cmd == "Catalog" {
                "Catalog;id=7"
            } else {
                "presence"
            },
            cmd,
            extra_body: "",
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Query>\r\n<CmdType>{}</CmdType>\r\n<SN>11</SN>\r\n<DeviceID>{DEV}</DeviceID>\r\n{}</Query>\r\n",
            self.cmd, self.extra_body
        );
        let to_tag = self.to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let expires = self
            .expires
            .map(|e| format!("Expires: {e}\r\n"))
            .unwrap_or_default();
        format!(
            "SUBSCRIBE sip:{DEV}@10.0.0.7:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch={}\r\n\
             From: <sip:{PLATFORM}@3402000000>;tag=wvp1\r\n\
             To: <sip:{DEV}@3402000000>{to_tag}\r\n\
             Call-ID: {}\r\n\
             CSeq: {} SUBSCRIBE\r\n\
             Contact: <sip:{PLATFORM}@10.0.0.1:5060>\r\n\
             Max-Forwards: 70\r\n\
             {expires}Event: {}\r\n\
             Content-Type: Application/MANSCDP+xml\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.branch,
            self.call,
            self.cseq,
            self.event,
            body.len()
        )
        .into_bytes()
    }
}

/// A table, its fleet's config and one device, driven by hand.
struct Bench {
    table: SubTable,
    cfg: CameraConfig,
    devs: Vec<Device>,
    credentials: crate::camera::credentials::Credentials,
}

impl Bench {
    fn new(devices: u32, capacity: usize) -> Bench {
        let mut cfg = CameraConfig::new(PLATFORM.parse().unwrap());
        cfg.channels = 4;
        cfg.catalog_page = 2;
        let devs = (0..devices)
            .map(|k| Device {
                index: k,
                id: crate::gb::DeviceId::parse(format!("3402000000132{:07}", k + 1).as_bytes())
                    .unwrap(),
                signal: format!("10.0.0.7:{}", 5060 + k).parse().unwrap(),
                transport: Transport::Udp,
                server: platform(),
                online: true,
            })
            .collect();
        let table = SubTable::new(SubConfig {
            capacity,
            alarm_slots: 4,
            salt: 0xabcd,
            devices,
            fleet: u64::from(devices),
            ..SubConfig::default()
        });
        let mut b = Bench {
            table,
            cfg,
            devs,
            credentials: Default::default(),
        };
        b.table.start(Time::ZERO);
        b
    }

    /// Sets the alarm schedule (the table is made again with it; nothing else is kept).
    fn alarms(&mut self, alarms: Alarms, alarm_slots: usize) {
        let mut cfg = self.table.cfg.clone();
        cfg.alarms = alarms;
        cfg.alarm_slots = alarm_slots;
        self.table = SubTable::new(cfg);
        self.table.start(Time::ZERO);
    }

    fn flap(&mut self, per_hour: f64) {
        self.cfg.channel_flap = Flap::per_hour(per_hour, 3);
    }

    fn sent(&self) -> Vec<Sent> {
        self.table
            .sends()
            .iter()
            .map(|t| Sent {
                to: t.to,
                device: t.device,
                bytes: self.table.bytes(t).to_vec(),
            })
            .collect()
    }

    fn subscribe(&mut self, now: Time, sub: &Sub<'_>) -> Vec<Sent> {
        self.subscribe_to(now, sub, 0)
    }

    /// A SUBSCRIBE to device `k`.
    fn subscribe_to(&mut self, now: Time, sub: &Sub<'_>, k: usize) -> Vec<Sent> {
        let bytes = sub.bytes();
        let mut h = [Header::EMPTY; 40];
        let m = parse_datagram(&bytes, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        let dev = self.devs[k];
        self.table
            .on_subscribe(now, &m, platform(), &dev, &self.cfg);
        self.sent()
    }

    fn respond(&mut self, now: Time, bytes: &[u8]) -> Vec<Sent> {
        let mut h = [Header::EMPTY; 40];
        let m = parse_datagram(bytes, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert!(SubTable::wants_response(&m));
        let devs = &self.devs;
        let look = move |k: u32| devs.get(k as usize).copied();
        let mut ctx = Ctx {
            cfg: &self.cfg,
            devices: &look,
            credentials: &mut self.credentials,
        };
        self.table.on_response(now, &m, &mut ctx);
        self.sent()
    }

    fn timer(&mut self, now: Time) -> Vec<Sent> {
        let devs = &self.devs;
        let look = move |k: u32| devs.get(k as usize).copied();
        let mut ctx = Ctx {
            cfg: &self.cfg,
            devices: &look,
            credentials: &mut self.credentials,
        };
        self.table.on_timer(now, &mut ctx);
        self.sent()
    }

    /// Subscribes to `cmd` at `now` and answers the state NOTIFYs 200 at once; returns the
    /// 200 to the SUBSCRIBE and the NOTIFYs.
    fn subscribed(&mut self, now: Time, sub: &Sub<'_>) -> (Sent, Vec<Sent>) {
        let mut got = self.subscribe(now, sub);
        let ok = got.remove(0);
        assert!(ok.first_line().starts_with("SIP/2.0 200"), "{}", ok.text());
        let mut notifies = vec![];
        while let Some(n) = got.pop() {
            notifies.push(n.clone());
            got = self.respond(now, &n.answer(200));
        }
        (ok, notifies)
    }
}
