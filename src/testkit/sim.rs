//! Simulated time for cameras: a fleet, one or more servers (the scripted registrar or the
//! real registrar core, anything that is a [`Service`]) and a seeded lossy network, driven by
//! jumping virtual time to the next wake-up, so hours of protocol run in milliseconds and
//! every run with the same seed is identical.
//!
//! Cameras are driven through the same [`Fleet`] driver as the generator's workers. Nothing
//! here touches a socket or reads a clock.

use super::scripted::{Script, ScriptedServer};
use crate::camera::driver::{Fleet, Host};
use crate::camera::{Camera, CameraConfig, Env, Outbox, Outcome, Record, TxnKind};
use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::net::Service;
use crate::sip::Batch;
use crate::timer::TimerWheel;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A server the simulation can run: a [`Service`] that may refuse connections.
pub trait SimServer: Service {
    /// False while the server would not accept a TCP connection (a dead server).
    fn accepts(&self) -> bool {
        true
    }
}

impl SimServer for ScriptedServer {
    fn accepts(&self) -> bool {
        !self.script.silent
    }
}

impl SimServer for crate::server::registrar::Registrar {}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    at: Time,
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
    /// A TCP connect of camera `cam` to server `server` completes (or fails if the server
    /// refuses).
    Connected { cam: u32, server: u32 },
}

/// Counts of finished transactions by kind and outcome.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    // A handful of distinct (kind, outcome) pairs: a linear scan beats hashing.
    counts: Vec<((TxnKind, Outcome), u64)>,
    /// Sum of retransmissions over all records.
    pub retransmits: u64,
    /// Records of transactions that followed a 302 (each also counted by its outcome).
    pub redirected: u64,
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

    /// Counts one record.
    pub fn add(&mut self, r: &Record) {
        let key = (r.kind, r.outcome);
        match self.counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((key, 1)),
        }
        self.retransmits += u64::from(r.retransmits);
        self.redirected += u64::from(r.redirected);
    }
}

/// The network and bookkeeping side of the simulation: what the camera driver hands its
/// output to.
#[derive(Debug)]
pub struct Net {
    /// Current virtual time.
    pub now: Time,
    /// One-way network delay.
    pub delay: Span,
    /// Probability in thousandths that a packet is lost.
    pub loss_permille: u32,
    /// Finished transactions.
    pub tally: Tally,
    /// Every record with its camera and time, if `keep_records`.
    pub records: Vec<(u32, Time, Record)>,
    /// Keep every record in `records` (tests) or only count them (benches).
    pub keep_records: bool,
    /// Packets delivered (both directions).
    pub delivered: u64,
    /// Packets lost on purpose.
    pub dropped: u64,
    /// Server address of each index (0 is the configured target).
    addrs: Vec<SocketAddr>,
    wheel: TimerWheel,
    events: BinaryHeap<Reverse<Event>>,
    seq: u64,
    rng: u64,
    arena: Vec<Vec<u8>>,
    free: Vec<u32>,
    /// Server each camera's TCP connection goes to (None = closed).
    conns: Vec<Option<u32>>,
}

/// The address camera `i` sends from in the simulation.
pub fn camera_addr(i: u32) -> SocketAddr {
    let [_, a, b, c] = i.to_be_bytes();
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, a, b, c)), 5060)
}

impl Net {
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

    fn push_event(&mut self, at: Time, kind: EventKind) {
        self.seq += 1;
        self.events.push(Reverse(Event {
            at,
            seq: self.seq,
            kind,
        }));
    }

    /// Sends `bytes` from `from` to a camera or a server, subject to loss and delay.
    fn send(&mut self, to_camera: bool, target: u32, from: u32, bytes: &[u8]) {
        if self.loss_permille > 0 && self.next_rand() % 1000 < u64::from(self.loss_permille) {
            self.dropped += 1;
            return;
        }
        let buf = self.alloc(bytes);
        self.push_event(
            self.now + self.delay,
            EventKind::Packet {
                to_camera,
                target,
                from,
                buf,
            },
        );
    }

    fn server_index(&self, addr: SocketAddr) -> u32 {
        self.addrs.iter().position(|a| *a == addr).unwrap_or(0) as u32
    }
}

impl Host for Net {
    fn record(&mut self, slot: usize, now: Time, record: &Record) {
        self.tally.add(record);
        if self.keep_records {
            self.records.push((slot as u32, now, *record));
        }
    }

    fn transmit(&mut self, slot: usize, dest: SocketAddr, bytes: &[u8]) {
        let server = self.server_index(dest);
        self.send(false, server, slot as u32, bytes);
    }

    fn connect(&mut self, slot: usize, server: SocketAddr) {
        let server = self.server_index(server);
        self.push_event(
            self.now + 2 * self.delay,
            EventKind::Connected {
                cam: slot as u32,
                server,
            },
        );
    }

    fn close(&mut self, slot: usize) {
        self.conns[slot] = None;
    }

    fn arm(&mut self, slot: usize, wake: Option<Time>) {
        match wake {
            Some(t) => self.wheel.arm(slot as u32, t),
            None => self.wheel.cancel(slot as u32),
        }
    }
}

/// A fleet of cameras, servers and a lossy network in virtual time.
pub struct Sim<S: SimServer = ScriptedServer> {
    /// Fleet config.
    pub cfg: CameraConfig,
    /// The cameras; index = camera index.
    pub cams: Vec<Camera>,
    /// Servers; 0 is the configured target.
    pub servers: Vec<S>,
    /// The network: virtual time, delay, loss, what was recorded.
    pub net: Net,
    /// Measure the time spent inside camera handlers (adds two clock reads per call).
    pub time_cameras: bool,
    /// Time spent inside camera handlers, if `time_cameras`.
    pub camera_time: std::time::Duration,
    /// The worker-side outbox (counters live here).
    pub out: Outbox,
    replies: Batch,
    fired: Vec<u32>,
}

impl Sim<ScriptedServer> {
    /// `n` cameras with consecutive IDs from `first`, all targeting one scripted server.
    pub fn new(cfg: CameraConfig, first: DeviceId, n: u32, script: Script) -> Sim {
        let addr = Self::SERVER;
        let server = ScriptedServer::new(addr, cfg.server_id, script);
        Sim::with_server(cfg, first, n, server)
    }

    /// Adds another scripted server (a 302 target); returns its index.
    pub fn add_server(&mut self, addr: SocketAddr, id: DeviceId, script: Script) -> usize {
        self.add_peer(addr, ScriptedServer::new(addr, id, script))
    }
}

impl<S: SimServer> Sim<S> {
    /// The address of server 0, the cameras' configured target.
    pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1)), 5060);

    /// `n` cameras with consecutive IDs from `first`, all targeting `server` at
    /// [`SERVER`](Self::SERVER).
    pub fn with_server(cfg: CameraConfig, first: DeviceId, n: u32, server: S) -> Sim<S> {
        let ids = (0..n)
            .map(|i| DeviceId::from_number(first.number() + u128::from(i)).unwrap_or(first))
            .collect();
        Sim::of_ids(cfg, ids, server)
    }

    /// One camera per row of `cfg.identities` (with its own password, channels and
    /// transport), all targeting `server`; none without a device table.
    pub fn with_devices(cfg: CameraConfig, server: S) -> Sim<S> {
        let ids = cfg
            .identities
            .as_deref()
            .map(|d| d.ids().to_vec())
            .unwrap_or_default();
        Sim::of_ids(cfg, ids, server)
    }

    fn of_ids(cfg: CameraConfig, ids: Vec<DeviceId>, server: S) -> Sim<S> {
        let n = ids.len() as u32;
        let cams = ids
            .into_iter()
            .zip(0..)
            .map(|(id, i)| Camera::new(id, i, &cfg))
            .collect();
        Sim {
            servers: vec![server],
            cfg,
            cams,
            net: Net {
                now: Time::ZERO,
                delay: Span::from_millis(1),
                loss_permille: 0,
                tally: Tally::default(),
                records: Vec::new(),
                keep_records: true,
                delivered: 0,
                dropped: 0,
                addrs: vec![Self::SERVER],
                wheel: TimerWheel::new(n as usize, Time::ZERO),
                events: BinaryHeap::new(),
                seq: 0,
                rng: 0x2545_f491_4f6c_dd1d,
                arena: Vec::new(),
                free: Vec::new(),
                conns: vec![None; n as usize],
            },
            time_cameras: false,
            camera_time: std::time::Duration::ZERO,
            out: Outbox::default(),
            replies: Batch::new(),
            fired: Vec::new(),
        }
    }

    /// Adds another server at `addr`; returns its index.
    pub fn add_peer(&mut self, addr: SocketAddr, server: S) -> usize {
        self.servers.push(server);
        self.net.addrs.push(addr);
        self.servers.len() - 1
    }

    /// Current virtual time.
    pub fn now(&self) -> Time {
        self.net.now
    }

    /// Starts camera `i` at time `at` (its registration is due then).
    pub fn start_at(&mut self, i: u32, at: Time) {
        self.run_until(at);
        self.with_cam(i, |c, now, env| c.handle_start(now, now, env));
    }

    /// Starts every camera, `spacing` apart from now on.
    pub fn start_all(&mut self, spacing: Span) {
        let t0 = self.net.now;
        for i in 0..self.cams.len() as u32 {
            self.start_at(i, t0 + u64::from(i) * spacing);
        }
    }

    /// Stops every camera now.
    pub fn stop_all(&mut self) {
        for i in 0..self.cams.len() as u32 {
            self.with_cam(i, |c, now, env| c.handle_stop(now, now, env));
        }
    }

    /// Reports a fault on camera `i` now.
    pub fn fault(&mut self, i: u32) {
        self.with_cam(i, |c, now, env| c.handle_fault(now, env));
    }

    /// Closes camera `i`'s TCP connection from the server side.
    pub fn drop_connection(&mut self, i: u32) {
        if self.net.conns[i as usize].take().is_some() {
            self.with_cam(i, |c, now, env| c.handle_transport_error(now, env));
        }
    }

    /// Runs one camera handler through the shared driver.
    fn with_cam(&mut self, i: u32, f: impl FnOnce(&mut Camera, Time, &mut Env<'_>)) {
        self.with_cam_from(i, None, f);
    }

    fn with_cam_from(
        &mut self,
        i: u32,
        source: Option<SocketAddr>,
        f: impl FnOnce(&mut Camera, Time, &mut Env<'_>),
    ) {
        let mut fleet = Fleet {
            cams: &mut self.cams,
            cfg: &self.cfg,
            out: &mut self.out,
            target: Self::SERVER,
        };
        let now = self.net.now;
        let local = camera_addr(i);
        if self.time_cameras {
            let spent = &mut self.camera_time;
            let timed = |c: &mut Camera, now, env: &mut Env<'_>| {
                let t = std::time::Instant::now();
                f(c, now, env);
                *spent += t.elapsed();
            };
            fleet.call(&mut self.net, i as usize, now, local, source, timed);
        } else {
            fleet.call(&mut self.net, i as usize, now, local, source, f);
        }
    }

    /// Runs until virtual time `until`, delivering packets and firing timers in order.
    pub fn run_until(&mut self, until: Time) {
        loop {
            let next_event = self.net.events.peek().map(|Reverse(e)| e.at);
            let next_timer = self.net.wheel.next_deadline();
            let next = match (next_event, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.net.now = self.net.now.max(next);
            if next_timer == Some(next) {
                let mut fired = std::mem::take(&mut self.fired);
                fired.clear();
                self.net.wheel.advance(next, &mut fired);
                for &i in &fired {
                    self.with_cam(i, |c, now, env| c.handle_timeout(now, env));
                }
                self.fired = fired;
                continue;
            }
            let Some(Reverse(ev)) = self.net.events.pop() else {
                break;
            };
            self.deliver(ev.kind);
        }
        self.net.now = self.net.now.max(until);
    }

    fn deliver(&mut self, kind: EventKind) {
        match kind {
            EventKind::Connected { cam, server } => {
                let s = server as usize;
                if self.servers.get(s).is_some_and(SimServer::accepts) {
                    self.net.conns[cam as usize] = Some(server);
                    self.with_cam(cam, |c, now, env| c.handle_connected(now, env));
                } else {
                    self.with_cam(cam, |c, now, env| c.handle_transport_error(now, env));
                }
            }
            EventKind::Packet {
                to_camera,
                target,
                from,
                buf,
            } => {
                self.net.delivered += 1;
                let bytes = std::mem::take(&mut self.net.arena[buf as usize]);
                if to_camera {
                    let source = self.net.addrs.get(from as usize).copied();
                    self.with_cam_from(target, source, |c, now, env| {
                        c.handle_message(now, &bytes, env)
                    });
                } else if let Some(server) = self.servers.get_mut(target as usize) {
                    let transport = self.cfg.transport_of(from);
                    let mut replies = std::mem::take(&mut self.replies);
                    replies.clear();
                    let now = self.net.now;
                    server.handle_datagram(now, &bytes, camera_addr(from), transport, &mut replies);
                    for r in replies.iter() {
                        self.net.send(true, from, target, r);
                    }
                    self.replies = replies;
                }
                self.net.arena[buf as usize] = bytes;
                self.net.free.push(buf);
            }
        }
    }
}
