//! Simulated time for cameras: a scripted in-memory registrar, a seeded lossy network and a
//! driver that jumps virtual time to the next wake-up, so hours of protocol run in
//! milliseconds and every run with the same seed is identical.
//!
//! Used by the camera's tests and by `benches/camera.rs`; nothing here touches a socket or
//! reads a clock.

use super::{Action, Camera, CameraConfig, Dest, Env, Outbox, Outcome, Record, TxnKind};
use crate::gb::{DeviceId, Manscdp, Root, manscdp};
use crate::sip::{
    Header, Limits, Message, Method, QStr, Writer, digest, parse_datagram, response_to,
};
use crate::timer::TimerWheel;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// How the scripted registrar behaves; the knobs mirror platforms in the field.
#[derive(Clone, Debug)]
pub struct Script {
    /// Realm of the challenge.
    pub realm: String,
    /// The password it checks.
    pub password: String,
    /// Challenge with `qop="auth"` (wvp, Monibuca v5) or without (Monibuca v4).
    pub qop: bool,
    /// Add an `opaque` the client must echo (Monibuca v5).
    pub opaque: bool,
    /// Grant this expiry whatever was asked (Monibuca v4: 3600).
    pub grant: Option<u32>,
    /// Answer a REGISTER on a known Call-ID with 200 at once (wvp).
    pub refresh_without_challenge: bool,
    /// Answer authenticated REGISTERs with this code instead of 200.
    pub reject: Option<u16>,
    /// Retry-After seconds to add to rejections.
    pub retry_after: Option<u32>,
    /// Answer authenticated REGISTERs with 302 to this server.
    pub redirect_to: Option<(SocketAddr, DeviceId)>,
    /// Queries to send right after a device registers on a new Call-ID (`Catalog`,
    /// `DeviceInfo`, ...).
    pub queries: Vec<&'static str>,
    /// Answer nothing at all (a dead server).
    pub silent: bool,
    /// Answer no keepalive (a server that lost the device).
    pub ignore_keepalives: bool,
    /// Keep per-device observations (`register_times`, `last_sn`); off in benches.
    pub per_device: bool,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            realm: "3402000000".into(),
            password: "12345678".into(),
            qop: true,
            opaque: false,
            grant: None,
            refresh_without_challenge: false,
            reject: None,
            retry_after: None,
            redirect_to: None,
            queries: Vec::new(),
            silent: false,
            ignore_keepalives: false,
            per_device: true,
        }
    }
}

/// What the scripted registrar saw, for assertions.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// REGISTERs without credentials.
    pub challenges: u64,
    /// REGISTERs with valid credentials.
    pub authorized: u64,
    /// REGISTERs with wrong credentials.
    pub bad_auth: u64,
    /// Accepted registrations and refreshes (200 sent, Expires > 0).
    pub registrations: u64,
    /// Accepted unregistrations.
    pub unregistrations: u64,
    /// Keepalive MESSAGEs received (answered or not).
    pub keepalives: u64,
    /// Keepalives that listed faulty sub-devices.
    pub fault_reports: u64,
    /// Query response MESSAGEs received.
    pub query_responses: u64,
    /// Catalog items received over all Catalog responses.
    pub catalog_items: u64,
    /// Responses to the queries it sent.
    pub query_acks: u64,
    /// Times (µs) of every REGISTER, per device, to check retry spacing.
    pub register_times: HashMap<DeviceId, Vec<u64>>,
    /// Highest keepalive SN per device.
    pub last_sn: HashMap<DeviceId, u32>,
}

/// Messages a scripted server sends back, in one reused buffer.
#[derive(Debug, Default)]
pub struct Replies {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Replies {
    fn push(&mut self, msg: &[u8]) {
        self.data.extend_from_slice(msg);
        self.ends.push(self.data.len());
    }

    /// Forgets every reply (keeps the memory).
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Number of replies.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True if there is no reply.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Reply `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    /// Every reply in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// An in-memory GB28181 registrar following a [`Script`].
#[derive(Debug)]
pub struct ScriptedServer {
    /// The address cameras send to.
    pub addr: SocketAddr,
    /// Its 20-digit ID.
    pub id: DeviceId,
    /// Behaviour.
    pub script: Script,
    /// Observations.
    pub seen: Seen,
    nonce: u64,
    known_calls: HashSet<Vec<u8>>,
    query_sn: u32,
    buf: Vec<u8>,
    body: Vec<u8>,
}

impl ScriptedServer {
    /// A registrar at `addr` with ID `id`.
    pub fn new(addr: SocketAddr, id: DeviceId, script: Script) -> Self {
        ScriptedServer {
            addr,
            id,
            script,
            seen: Seen::default(),
            nonce: 0,
            known_calls: HashSet::new(),
            query_sn: 0,
            buf: Vec::with_capacity(1024),
            body: Vec::with_capacity(512),
        }
    }

    /// Handles one message from `from`; appends what it sends back to `from` to `replies`.
    pub fn handle(&mut self, now: u64, bytes: &[u8], replies: &mut Replies) {
        if self.script.silent {
            return;
        }
        let mut h = [Header::EMPTY; 40];
        let Ok(Some(m)) = parse_datagram(bytes, &mut h, &Limits::default()) else {
            return;
        };
        match m.method() {
            Some(Method::Register) => self.register(now, &m, replies),
            Some(Method::Message) => self.message(&m, replies),
            Some(_) => self.reply(&m, 405, |_| {}, replies),
            None => self.seen.query_acks += u64::from(m.status().is_some_and(|c| c < 300)),
        }
    }

    fn reply(
        &mut self,
        m: &Message<'_, '_>,
        code: u16,
        extra: impl FnOnce(&mut Writer<'_>),
        replies: &mut Replies,
    ) {
        let mut w = response_to(&mut self.buf, m, code, Some(b"srv"), None);
        extra(&mut w);
        w.finish(b"");
        replies.push(&self.buf);
    }

    fn register(&mut self, now: u64, m: &Message<'_, '_>, replies: &mut Replies) {
        let Some(dev) = m
            .from()
            .and_then(|f| f.user())
            .and_then(|u| DeviceId::parse(u).ok())
        else {
            return;
        };
        if self.script.per_device {
            self.seen.register_times.entry(dev).or_default().push(now);
        }
        let call_id = m.call_id().unwrap_or(b"").to_vec();
        let expires = m
            .contact()
            .and_then(|c| c.expires())
            .or(m.expires())
            .unwrap_or(3600);
        let known = self.known_calls.contains(&call_id);
        let Some(auth) = m.authorization() else {
            if self.script.refresh_without_challenge && known && expires > 0 {
                self.accept(m, expires, replies);
                return;
            }
            self.seen.challenges += 1;
            self.nonce += 1;
            let mut nonce = Vec::new();
            crate::sip::write::push_hex(&mut nonce, self.nonce, 16);
            let mut ch = Vec::new();
            let opaque = self.script.opaque.then_some(&b"0paque"[..]);
            digest::write_challenge(
                &mut ch,
                self.script.realm.as_bytes(),
                &nonce,
                opaque,
                self.script.qop,
                false,
            );
            self.reply(
                m,
                401,
                |w| {
                    w.header(b"WWW-Authenticate", &ch);
                },
                replies,
            );
            return;
        };
        let ha1 = digest::ha1(
            dev.as_bytes(),
            &QStr::new(self.script.realm.as_bytes()),
            self.script.password.as_bytes(),
        );
        let opaque_ok = !self.script.opaque || auth.opaque.is_some_and(|o| o.eq_bytes(b"0paque"));
        if !digest::verify(&auth, b"REGISTER", &ha1) || !opaque_ok {
            self.seen.bad_auth += 1;
            self.reply(m, 403, |_| {}, replies);
            return;
        }
        self.seen.authorized += 1;
        if let Some(code) = self.script.reject {
            let ra = self.script.retry_after;
            self.reply(
                m,
                code,
                |w| {
                    if let Some(s) = ra {
                        w.header_u64(b"Retry-After", u64::from(s));
                    }
                },
                replies,
            );
            return;
        }
        if let Some((addr, id)) = self.script.redirect_to {
            self.reply(
                m,
                302,
                |w| {
                    w.header_with(b"Contact", |b| {
                        crate::sip::write::push_name_addr(b, id.as_bytes(), &addr)
                    });
                    w.header(b"Expires", b"3600");
                },
                replies,
            );
            return;
        }
        if expires == 0 {
            self.known_calls.remove(&call_id);
            self.seen.unregistrations += 1;
            self.reply(
                m,
                200,
                |w| {
                    w.header(b"Expires", b"0");
                },
                replies,
            );
            return;
        }
        let first = self.known_calls.insert(call_id);
        self.accept(m, expires, replies);
        // Platforms query a device right after it registers, not after each refresh.
        let queries = if first {
            self.script.queries.clone()
        } else {
            Vec::new()
        };
        for q in queries {
            self.query_sn += 1;
            manscdp::write_query(&mut self.body, q.as_bytes(), self.query_sn, &dev);
            let mut w = Writer::request(&mut self.buf, Method::Message, b"sip:device@3402000000");
            w.header(b"Via", b"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKsrvq")
                .header(b"From", b"<sip:34020000002000000001@3402000000>;tag=q")
                .header(b"To", b"<sip:device@3402000000>")
                .header_with(b"Call-ID", |b| {
                    crate::sip::write::push_u64(b, u64::from(self.query_sn))
                })
                .header(b"CSeq", b"1 MESSAGE")
                .header(b"Content-Type", manscdp::CONTENT_TYPE);
            w.finish(&self.body);
            replies.push(&self.buf);
        }
    }

    fn accept(&mut self, m: &Message<'_, '_>, asked: u32, replies: &mut Replies) {
        self.seen.registrations += 1;
        let granted = self.script.grant.unwrap_or(asked);
        self.reply(
            m,
            200,
            |w| {
                w.header_u64(b"Expires", u64::from(granted));
                w.header(b"Date", b"2026-11-23T23:16:12.123");
            },
            replies,
        );
    }

    fn message(&mut self, m: &Message<'_, '_>, replies: &mut Replies) {
        let x = Manscdp::parse(m.body);
        match x {
            Some(x) if x.root == Root::Notify && x.cmd_type == b"Keepalive" => {
                self.seen.keepalives += 1;
                if manscdp::element(m.body, b"Info").is_some_and(|i| !i.is_empty()) {
                    self.seen.fault_reports += 1;
                }
                let dev = x.device_id.filter(|_| self.script.per_device);
                if let Some(dev) = dev.and_then(|d| DeviceId::parse(d).ok()) {
                    let sn = x.sn.unwrap_or(0);
                    let last = self.seen.last_sn.entry(dev).or_insert(0);
                    *last = (*last).max(sn);
                }
                if self.script.ignore_keepalives {
                    return;
                }
            }
            Some(x) if x.root == Root::Response => {
                self.seen.query_responses += 1;
                if x.cmd_type == b"Catalog" {
                    let items = m.body.windows(6).filter(|w| w == b"<Item>").count();
                    self.seen.catalog_items += items as u64;
                }
            }
            _ => {}
        }
        self.reply(m, 200, |_| {}, replies);
    }
}

/// Where a simulated packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum To {
    Camera(u32),
    Server(usize),
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    at: u64,
    seq: u64,
    kind: EventKind,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    /// Packet `buf` (index in the arena) from `from` to a camera or a server.
    Packet {
        to_camera: bool,
        target: u32,
        from: u32,
        buf: u32,
    },
    /// A TCP connect of camera `cam` completes (or fails if the server is silent).
    Connected { cam: u32 },
}

/// Counts of finished transactions by kind and outcome.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    // A handful of distinct (kind, outcome) pairs: a linear scan beats hashing.
    counts: Vec<((TxnKind, Outcome), u64)>,
    /// Sum of retransmissions over all records.
    pub retransmits: u64,
}

impl Tally {
    /// Records of this kind with this outcome.
    pub fn get(&self, kind: TxnKind, outcome: Outcome) -> u64 {
        self.counts
            .iter()
            .find(|(k, _)| *k == (kind, outcome))
            .map_or(0, |(_, n)| *n)
    }

    /// All records of this kind.
    pub fn total(&self, kind: TxnKind) -> u64 {
        self.counts
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, n)| n)
            .sum()
    }

    fn add(&mut self, r: &Record) {
        let key = (r.kind, r.outcome);
        match self.counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((key, 1)),
        }
        self.retransmits += u64::from(r.retransmits);
    }
}

/// A fleet of cameras, scripted servers and a lossy network in virtual time.
pub struct Sim {
    /// Current virtual time (µs).
    pub now: u64,
    /// Fleet config.
    pub cfg: CameraConfig,
    /// The cameras; index = camera index.
    pub cams: Vec<Camera>,
    /// Servers; 0 is the configured target.
    pub servers: Vec<ScriptedServer>,
    /// One-way network delay (µs).
    pub delay_us: u64,
    /// Probability in thousandths that a packet is lost.
    pub loss_permille: u32,
    /// Finished transactions.
    pub tally: Tally,
    /// Every record with its camera and time, if `keep_records`.
    pub records: Vec<(u32, u64, Record)>,
    /// Keep every record in `records` (tests) or only count them (benches).
    pub keep_records: bool,
    /// Packets delivered (both directions).
    pub delivered: u64,
    /// Packets lost on purpose.
    pub dropped: u64,
    /// Measure the time spent inside camera handlers (adds two clock reads per call).
    pub time_cameras: bool,
    /// Time spent inside camera handlers, if `time_cameras`.
    pub camera_time: std::time::Duration,
    /// The worker-side outbox (counters live here).
    pub out: Outbox,
    wheel: TimerWheel,
    events: BinaryHeap<Reverse<Event>>,
    seq: u64,
    rng: u64,
    arena: Vec<Vec<u8>>,
    free: Vec<u32>,
    replies: Replies,
    fired: Vec<u32>,
    /// Server each camera's TCP connection goes to (None = closed).
    conns: Vec<Option<usize>>,
}

/// The address camera `i` sends from in the simulation.
pub fn camera_addr(i: u32) -> SocketAddr {
    let [_, a, b, c] = i.to_be_bytes();
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, a, b, c)), 5060)
}

impl Sim {
    /// `n` cameras with consecutive IDs from `first`, all targeting one server with `script`.
    pub fn new(cfg: CameraConfig, first: DeviceId, n: u32, script: Script) -> Sim {
        let server_addr: SocketAddr = "10.255.0.1:5060".parse().unwrap_or_else(|_| camera_addr(0));
        let cams = (0..n)
            .map(|i| {
                let id = DeviceId::from_number(first.number() + u128::from(i)).unwrap_or(first);
                Camera::new(id, i, &cfg)
            })
            .collect();
        Sim {
            now: 0,
            servers: vec![ScriptedServer::new(server_addr, cfg.server_id, script)],
            cfg,
            cams,
            delay_us: 1_000,
            loss_permille: 0,
            tally: Tally::default(),
            records: Vec::new(),
            keep_records: true,
            delivered: 0,
            dropped: 0,
            time_cameras: false,
            camera_time: std::time::Duration::ZERO,
            out: Outbox::default(),
            wheel: TimerWheel::new(n as usize, 0),
            events: BinaryHeap::new(),
            seq: 0,
            rng: 0x2545_f491_4f6c_dd1d,
            arena: Vec::new(),
            free: Vec::new(),
            replies: Replies::default(),
            fired: Vec::new(),
            conns: vec![None; n as usize],
        }
    }

    /// Adds another server (a 302 target); returns its index.
    pub fn add_server(&mut self, addr: SocketAddr, id: DeviceId, script: Script) -> usize {
        self.servers.push(ScriptedServer::new(addr, id, script));
        self.servers.len() - 1
    }

    /// Starts camera `i` at time `at` (its registration is due then).
    pub fn start_at(&mut self, i: u32, at: u64) {
        self.run_until(at);
        self.with_cam(i, |c, now, env| c.handle_start(now, now, env));
    }

    /// Starts every camera, `spacing_us` apart from now on.
    pub fn start_all(&mut self, spacing_us: u64) {
        let t0 = self.now;
        for i in 0..self.cams.len() as u32 {
            self.start_at(i, t0 + u64::from(i) * spacing_us);
        }
    }

    /// Stops every camera now.
    pub fn stop_all(&mut self) {
        for i in 0..self.cams.len() as u32 {
            self.with_cam(i, |c, now, env| c.handle_stop(now, env));
        }
    }

    /// Reports a fault on camera `i` now.
    pub fn fault(&mut self, i: u32) {
        self.with_cam(i, |c, now, env| c.handle_fault(now, env));
    }

    /// Closes camera `i`'s TCP connection from the server side.
    pub fn drop_connection(&mut self, i: u32) {
        if self.conns[i as usize].take().is_some() {
            self.with_cam(i, |c, now, env| c.handle_transport_error(now, env));
        }
    }

    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn alloc(&mut self, bytes: &[u8]) -> u32 {
        match self.free.pop() {
            Some(i) => {
                let b = &mut self.arena[i as usize];
                b.clear();
                b.extend_from_slice(bytes);
                i
            }
            None => {
                self.arena.push(bytes.to_vec());
                (self.arena.len() - 1) as u32
            }
        }
    }

    fn push_event(&mut self, at: u64, kind: EventKind) {
        self.seq += 1;
        self.events.push(Reverse(Event {
            at,
            seq: self.seq,
            kind,
        }));
    }

    fn send(&mut self, to: To, from: u32, bytes: &[u8]) {
        if self.loss_permille > 0 && self.next_rand() % 1000 < u64::from(self.loss_permille) {
            self.dropped += 1;
            return;
        }
        let buf = self.alloc(bytes);
        let (to_camera, target) = match to {
            To::Camera(i) => (true, i),
            To::Server(s) => (false, s as u32),
        };
        self.push_event(
            self.now + self.delay_us,
            EventKind::Packet {
                to_camera,
                target,
                from,
                buf,
            },
        );
    }

    fn server_for(&self, cam: u32) -> usize {
        let r = self.cams[cam as usize].redirect();
        match self.out.redirects.get(r) {
            Some((addr, _)) => self
                .servers
                .iter()
                .position(|s| s.addr == addr)
                .unwrap_or(0),
            None => 0,
        }
    }

    /// Runs one camera handler, then routes its output and re-arms its timer.
    fn with_cam(&mut self, i: u32, f: impl FnOnce(&mut Camera, u64, &mut Env<'_>)) {
        self.with_cam_from(i, None, f);
    }

    fn with_cam_from(
        &mut self,
        i: u32,
        source: Option<usize>,
        f: impl FnOnce(&mut Camera, u64, &mut Env<'_>),
    ) {
        self.out.clear();
        let now = self.now;
        {
            let mut env = Env {
                cfg: &self.cfg,
                local: camera_addr(i),
                out: &mut self.out,
            };
            if self.time_cameras {
                let t0 = std::time::Instant::now();
                f(&mut self.cams[i as usize], now, &mut env);
                self.camera_time += t0.elapsed();
            } else {
                f(&mut self.cams[i as usize], now, &mut env);
            }
        }
        for r in &self.out.records {
            self.tally.add(r);
        }
        if self.keep_records {
            let recs: Vec<_> = self.out.records.iter().map(|r| (i, now, *r)).collect();
            self.records.extend(recs);
        }
        let actions: Vec<Action> = self.out.actions.clone();
        for a in actions {
            match a {
                Action::Connect => {
                    self.push_event(now + self.delay_us * 2, EventKind::Connected { cam: i })
                }
                Action::Close => self.conns[i as usize] = None,
            }
        }
        let sends = std::mem::take(&mut self.out.sends);
        let data = std::mem::take(&mut self.out.data);
        for t in &sends {
            let server = match t.dest {
                Dest::Server => self.server_for(i),
                Dest::Source => source.unwrap_or_else(|| self.server_for(i)),
            };
            self.send(To::Server(server), i, &data[t.start..t.end]);
        }
        self.out.sends = sends;
        self.out.data = data;
        match self.cams[i as usize].poll_timeout() {
            Some(t) => self.wheel.arm(i, t.div_ceil(1000)),
            None => self.wheel.cancel(i),
        }
    }

    /// Runs until virtual time `until` (µs), delivering packets and firing timers in order.
    pub fn run_until(&mut self, until: u64) {
        loop {
            let next_event = self.events.peek().map(|Reverse(e)| e.at);
            let next_timer = self.wheel.next_deadline().map(|ms| ms * 1000);
            let next = match (next_event, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_timer == Some(next) {
                let mut fired = std::mem::take(&mut self.fired);
                fired.clear();
                self.wheel.advance(next / 1000, &mut fired);
                for &i in &fired {
                    self.with_cam(i, |c, now, env| c.handle_timeout(now, env));
                }
                self.fired = fired;
                continue;
            }
            let Some(Reverse(ev)) = self.events.pop() else {
                break;
            };
            self.deliver(ev.kind);
        }
        self.now = self.now.max(until);
    }

    fn deliver(&mut self, kind: EventKind) {
        match kind {
            EventKind::Connected { cam } => {
                let s = self.server_for(cam);
                if self.servers[s].script.silent {
                    self.with_cam(cam, |c, now, env| c.handle_transport_error(now, env));
                } else {
                    self.conns[cam as usize] = Some(s);
                    self.with_cam(cam, |c, now, env| c.handle_connected(now, env));
                }
            }
            EventKind::Packet {
                to_camera,
                target,
                from,
                buf,
            } => {
                self.delivered += 1;
                let bytes = std::mem::take(&mut self.arena[buf as usize]);
                if to_camera {
                    self.with_cam_from(target, Some(from as usize), |c, now, env| {
                        c.handle_message(now, &bytes, env)
                    });
                } else {
                    let s = target as usize;
                    let mut replies = std::mem::take(&mut self.replies);
                    replies.clear();
                    self.servers[s].handle(self.now, &bytes, &mut replies);
                    for i in 0..replies.len() {
                        self.send(To::Camera(from), s as u32, replies.get(i));
                    }
                    self.replies = replies;
                }
                self.arena[buf as usize] = bytes;
                self.free.push(buf);
            }
        }
    }
}
