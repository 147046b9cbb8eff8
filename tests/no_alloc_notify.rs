//! Once its buffers are warm, a worker's subscription table answers, notifies and raises
//! alarms without allocating: MobilePosition ticks (2022 list form), Catalog changes and
//! alarm MESSAGEs, each answered 200, over many rounds. The counting allocator is in
//! `counting/`.

mod counting;

use counting::allocs;
use gbswarm::camera::channels::Flap;
use gbswarm::camera::credentials::Credentials;
use gbswarm::camera::subscribe::{Alarms, Ctx, Device, SubConfig, SubTable};
use gbswarm::camera::{CameraConfig, Transport};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::GbVersion;
use gbswarm::sip::{Header, Limits, parse_datagram, response_to};

const DEV: &str = "34020000001320000001";

fn subscribe(cmd: &str, call: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\"?>\r\n<Query>\r\n<CmdType>{cmd}</CmdType>\r\n<SN>1</SN>\r\n<DeviceID>{DEV}</DeviceID>\r\n<Interval>1</Interval>\r\n</Query>\r\n"
    );
    format!(
        "SUBSCRIBE sip:{DEV}@10.0.0.7:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call}\r\n\
         From: <sip:34020000002000000001@3402000000>;tag=p{call}\r\n\
         To: <sip:{DEV}@3402000000>\r\nCall-ID: {call}\r\nCSeq: 1 SUBSCRIBE\r\n\
         Contact: <sip:34020000002000000001@10.0.0.1:5060>\r\nExpires: 86400\r\n\
         Event: presence\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn notifies_and_alarms_do_not_allocate_once_warm() {
    let mut cfg = CameraConfig::new("34020000002000000001".parse().unwrap());
    cfg.channels = 8;
    cfg.gb_version = GbVersion::V2022;
    // A change every 5 s.
    cfg.channel_flap = Flap::per_hour(360.0, 1);
    let devices: [Device; 2] = [0u32, 1].map(|k| Device {
        index: k,
        id: format!("3402000000132000000{}", k + 1).parse().unwrap(),
        signal: "10.0.0.7:5060".parse().unwrap(),
        transport: Transport::Udp,
        server: "10.0.0.1:5060".parse().unwrap(),
        online: true,
    });
    let mut table = SubTable::new(SubConfig {
        capacity: 4,
        alarm_slots: 4,
        devices: 2,
        fleet: 2,
        alarms: Alarms {
            // Device 0 has an Alarm subscription (NOTIFYs), device 1 none (MESSAGEs).
            period: Alarms::period_of(3600.0),
            burst: None,
        },
        ..SubConfig::default()
    });
    table.start(Time::ZERO);
    let mut credentials = Credentials::default();
    let look = |k: u32| devices.get(k as usize).copied();
    let from = "10.0.0.1:5060".parse().unwrap();
    for (cmd, call) in [("MobilePosition", "a"), ("Catalog", "b"), ("Alarm", "c")] {
        let raw = subscribe(cmd, call);
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&raw, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        table.on_subscribe(Time::ZERO, &m, from, &devices[0], &cfg);
    }
    // Answers every request the table sends, 200, as they come: each call's requests are
    // copied into a pool of warm buffers (a stack of the ones to answer), since answering one
    // starts the table's next call.
    let mut pool: Vec<Vec<u8>> = (0..64).map(|_| Vec::with_capacity(4096)).collect();
    let mut todo: Vec<usize> = Vec::with_capacity(64);
    let mut free: Vec<usize> = (0..64).collect();
    let mut answer: Vec<u8> = Vec::with_capacity(2048);
    let mut answered = 0u64;
    let take = |table: &SubTable,
                todo: &mut Vec<usize>,
                free: &mut Vec<usize>,
                pool: &mut Vec<Vec<u8>>| {
        for t in table.sends() {
            let b = table.bytes(t);
            if b.starts_with(b"SIP/2.0") {
                continue;
            }
            let i = free.pop().expect("a free buffer");
            pool[i].clear();
            pool[i].extend_from_slice(b);
            todo.push(i);
        }
    };
    let mut run = |table: &mut SubTable, now: Time, credentials: &mut Credentials| -> u64 {
        let mut n = 0;
        let mut ctx = Ctx {
            cfg: &cfg,
            devices: &look,
            credentials,
        };
        table.on_timer(now, &mut ctx);
        take(table, &mut todo, &mut free, &mut pool);
        while let Some(i) = todo.pop() {
            let mut h = [Header::EMPTY; 32];
            let req = parse_datagram(&pool[i], &mut h, &Limits::default())
                .unwrap()
                .unwrap();
            response_to(&mut answer, &req, 200, Some(b"plat"), None).finish(b"");
            free.push(i);
            let mut h2 = [Header::EMPTY; 32];
            let resp = parse_datagram(&answer, &mut h2, &Limits::default())
                .unwrap()
                .unwrap();
            let mut ctx = Ctx {
                cfg: &cfg,
                devices: &look,
                credentials,
            };
            table.on_response(now, &resp, &mut ctx);
            take(table, &mut todo, &mut free, &mut pool);
            n += 1;
        }
        n
    };
    let second = Span::from_secs(1);
    let mut now = Time::ZERO;
    // Warm-up: every kind of message goes out and is answered a few times.
    for _ in 0..30 {
        now += second;
        answered += run(&mut table, now, &mut credentials);
    }
    let warm = answered;
    let before = allocs();
    for _ in 0..120 {
        now += second;
        answered += run(&mut table, now, &mut credentials);
    }
    let after = allocs();
    let c = *table.counters();
    assert!(answered - warm >= 240, "{} answered", answered - warm);
    assert!(
        c.notify_position > 100 && c.notify_catalog > 20 && c.notify_alarm > 100,
        "{c:?}"
    );
    assert!(c.alarm_messages > 100, "{c:?}");
    assert_eq!(after - before, 0, "allocations once warm");
}

/// A SUBSCRIBE to device `k` of many (its own Call-ID and tags).
fn subscribe_to(k: u32, cmd: &str) -> Vec<u8> {
    let text = String::from_utf8(subscribe(cmd, &format!("{cmd}{k}"))).unwrap();
    text.replace(DEV, &format!("3402000000132{:07}", k + 1))
        .into_bytes()
}

/// The platform of the many-subscriptions test: warm copies of the requests to answer (a
/// stack) and the answer being written.
struct Platform {
    bufs: Vec<Vec<u8>>,
    todo: Vec<usize>,
    free: Vec<usize>,
    answer: Vec<u8>,
    answered: u64,
}

impl Platform {
    fn new(n: usize) -> Platform {
        Platform {
            bufs: (0..n).map(|_| Vec::with_capacity(2048)).collect(),
            todo: Vec::with_capacity(n),
            free: (0..n).collect(),
            answer: Vec::with_capacity(2048),
            answered: 0,
        }
    }

    /// Copies the requests the table's last call sent.
    fn take(&mut self, table: &SubTable) {
        for t in table.sends() {
            let b = table.bytes(t);
            if b.starts_with(b"SIP/2.0") {
                continue;
            }
            let i = self.free.pop().expect("a free buffer");
            self.bufs[i].clear();
            self.bufs[i].extend_from_slice(b);
            self.todo.push(i);
        }
    }

    /// Answers 200 every request taken, and those the answers bring on.
    fn drain(&mut self, table: &mut SubTable, now: Time, ctx: &mut Ctx<'_>) {
        while let Some(i) = self.todo.pop() {
            let mut h = [Header::EMPTY; 32];
            let req = parse_datagram(&self.bufs[i], &mut h, &Limits::default())
                .unwrap()
                .unwrap();
            response_to(&mut self.answer, &req, 200, Some(b"plat"), None).finish(b"");
            self.free.push(i);
            let mut h2 = [Header::EMPTY; 32];
            let resp = parse_datagram(&self.answer, &mut h2, &Limits::default())
                .unwrap()
                .unwrap();
            table.on_response(now, &resp, ctx);
            self.take(table);
            self.answered += 1;
        }
    }
}

#[test]
fn thousands_of_subscriptions_do_not_allocate_once_warm() {
    // 1,500 devices with a Catalog, MobilePosition (every second) and Alarm subscription
    // each: more than the 4,096 a worker held before; the slots, the timer wheel, the device
    // lists and the pool of NOTIFY copies grow while warming and never after.
    const DEVICES: u32 = 1500;
    let mut cfg = CameraConfig::new("34020000002000000001".parse().unwrap());
    cfg.channels = 4;
    cfg.channel_flap = Flap::per_hour(360.0, 1);
    let devices: Vec<Device> = (0..DEVICES)
        .map(|k| Device {
            index: k,
            id: format!("3402000000132{:07}", k + 1).parse().unwrap(),
            signal: "10.0.0.7:5060".parse().unwrap(),
            transport: Transport::Udp,
            server: "10.0.0.1:5060".parse().unwrap(),
            online: true,
        })
        .collect();
    let mut table = SubTable::new(SubConfig {
        capacity: 3 * DEVICES as usize,
        alarm_slots: 64,
        devices: DEVICES,
        fleet: u64::from(DEVICES),
        alarms: Alarms {
            period: Alarms::period_of(720.0),
            burst: None,
        },
        ..SubConfig::default()
    });
    table.start(Time::ZERO);
    let mut credentials = Credentials::default();
    let look = |k: u32| devices.get(k as usize).copied();
    let mut ctx = Ctx {
        cfg: &cfg,
        devices: &look,
        credentials: &mut credentials,
    };
    let from = "10.0.0.1:5060".parse().unwrap();
    let mut p = Platform::new(8192);
    for k in 0..DEVICES {
        for cmd in ["MobilePosition", "Catalog", "Alarm"] {
            let raw = subscribe_to(k, cmd);
            let mut h = [Header::EMPTY; 32];
            let m = parse_datagram(&raw, &mut h, &Limits::default())
                .unwrap()
                .unwrap();
            table.on_subscribe(Time::ZERO, &m, from, &devices[k as usize], &cfg);
            p.take(&table);
            p.drain(&mut table, Time::ZERO, &mut ctx);
        }
    }
    assert_eq!(table.active(), 3 * DEVICES as usize);
    let step = |table: &mut SubTable, p: &mut Platform, until: Time, ctx: &mut Ctx<'_>| {
        while let Some(t) = table.poll_timeout()
            && t <= until
        {
            table.on_timer(t, ctx);
            p.take(table);
            p.drain(table, t, ctx);
        }
    };
    step(
        &mut table,
        &mut p,
        Time::ZERO + Span::from_secs(20),
        &mut ctx,
    );
    let warm = *table.counters();
    let answered = p.answered;
    let before = allocs();
    step(
        &mut table,
        &mut p,
        Time::ZERO + Span::from_secs(40),
        &mut ctx,
    );
    let after = allocs();
    let c = table.counters().since(&warm);
    assert!(c.notify_position >= 20 * u64::from(DEVICES), "{c:?}");
    assert!(c.notify_catalog > 100 && c.notify_alarm > 1000, "{c:?}");
    assert_eq!((c.dropped, c.refused), (0, 0));
    assert!(p.answered - answered >= c.notify_position);
    assert_eq!(after - before, 0, "allocations once warm");
}
