//! A generator worker's side of the socket layer: its UDP sockets (one per camera, or shared
//! by many), its cameras' TCP connections, its timer wheel and its interval snapshot. It is
//! the [`Host`] the camera driver hands each camera's output to; every protocol decision is
//! the cameras'.

use crate::camera::driver::Host;
use crate::camera::{Record, Transport};
use crate::clock::Time;
use crate::net::batch::{BATCH, SendBatch};
use crate::net::tcp::{self, Conn};
use crate::net::udp::UdpSock;
use crate::profile::Plan;
use crate::stats::Snapshot;
use crate::timer::TimerWheel;
use mio::{Interest, Poll, Token};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::Arc;

/// Sockets, connections, timers and counters of one worker.
pub struct Io {
    /// The worker's poll instance.
    pub poll: Poll,
    /// UDP sockets; camera slot `j` uses socket [`Io::udp_socket`] (`j / cps` unless a device
    /// file mixes transports).
    pub udp: Vec<UdpSock>,
    /// TCP connection of each camera slot.
    pub tcp: Vec<Option<Conn>>,
    /// Bumped on every connect of a slot, so a handler that replaced the connection it was
    /// called for is noticed.
    pub generation: Vec<u32>,
    /// One timer per camera slot.
    pub wheel: TimerWheel,
    /// This interval's measurements.
    pub snap: Box<Snapshot>,
    /// Slots whose transport failed during the last calls; they learn it next.
    pub refused: Vec<usize>,
    /// Datagrams for shared (unconnected) UDP sockets, sent together by
    /// [`Io::flush_udp`]: one `sendmmsg` per socket and batch instead of a `sendto` each.
    pub sendq: SendBatch,
    /// Cameras per UDP socket.
    pub cps: usize,
    /// When a device file mixes transports: each slot's rank among the UDP slots
    /// ([`NOT_UDP`] for a TCP camera), and the slot of each rank. Empty when every camera
    /// uses the fleet's transport.
    pub udp_rank: Vec<u32>,
    /// See `udp_rank`.
    pub udp_slots: Vec<u32>,
    /// Source addresses to spread connections over.
    pub plan: Arc<Plan>,
    /// Source address when the plan names none.
    pub default_ip: IpAddr,
    /// This worker's index and the number of workers (slot `j` is fleet camera
    /// `j * workers + index`).
    pub index: usize,
    /// See `index`.
    pub workers: usize,
}

/// Datagrams queued for shared sockets before they are sent even though the worker is still
/// busy: a tick's starts or a batch's answers spread over a few sockets.
pub const SEND_QUEUE: usize = 4 * BATCH;

/// A slot's [`Io::udp_rank`] when its camera uses TCP.
pub const NOT_UDP: u32 = u32::MAX;

/// The ranks of a worker's slots among its UDP slots and the slots of the ranks (see
/// [`Io::udp_rank`]), when the transports are mixed; empty otherwise.
pub fn udp_ranks(transports: impl Iterator<Item = Transport>) -> (Vec<u32>, Vec<u32>) {
    let (mut rank, mut slots) = (Vec::new(), Vec::new());
    for (slot, t) in transports.enumerate() {
        if t == Transport::Udp {
            rank.push(slots.len() as u32);
            slots.push(slot as u32);
        } else {
            rank.push(NOT_UDP);
        }
    }
    (rank, slots)
}

/// The source address of socket or connection number `n`: the plan's list round-robin, or
/// the route's source address.
pub fn pick_ip(plan: &Plan, default_ip: IpAddr, n: usize) -> IpAddr {
    if plan.local_ips.is_empty() {
        default_ip
    } else {
        plan.local_ips[n % plan.local_ips.len()]
    }
}

impl Io {
    /// The transport of camera `slot` (fleet camera `slot * workers + index`).
    pub fn transport(&self, slot: usize) -> Transport {
        self.plan
            .camera
            .transport_of((slot * self.workers + self.index) as u32)
    }

    /// The UDP socket of camera `slot`; none for a TCP camera.
    pub fn udp_socket(&self, slot: usize) -> Option<usize> {
        if self.udp_rank.is_empty() {
            (self.transport(slot) == Transport::Udp).then_some(slot / self.cps)
        } else {
            let r = *self.udp_rank.get(slot)?;
            (r != NOT_UDP).then_some(r as usize / self.cps)
        }
    }

    /// The camera on UDP socket `s` when sockets are not shared (`cps == 1`).
    pub fn udp_only_slot(&self, s: usize) -> Option<usize> {
        if self.udp_slots.is_empty() {
            Some(s)
        } else {
            self.udp_slots.get(s).map(|&j| j as usize)
        }
    }

    /// The poll token of camera `slot`'s TCP connection: numbered after the UDP sockets'.
    pub fn tcp_token(&self, slot: usize) -> Token {
        Token(self.udp.len() + slot)
    }

    /// The address camera `slot` sends from (Via and Contact).
    pub fn local(&self, slot: usize) -> SocketAddr {
        match self.transport(slot) {
            Transport::Udp => self
                .udp_socket(slot)
                .and_then(|s| self.udp.get(s))
                .map_or(SocketAddr::new(self.default_ip, 0), |s| s.local),
            Transport::Tcp => self
                .tcp
                .get(slot)
                .and_then(Option::as_ref)
                .map_or(SocketAddr::new(self.default_ip, 0), |c| c.local),
        }
    }

    /// Sends what is queued for shared sockets; a datagram the kernel refuses counts as a
    /// send error, or (refused by the peer) as its camera's transport error, as a direct send
    /// would have.
    pub fn flush_udp(&mut self) {
        let Io {
            sendq,
            udp,
            refused,
            snap,
            ..
        } = self;
        sendq.flush(
            |s| udp.get(s as usize).map(|u| u.sock.as_fd()),
            |slot, e| match e.kind() {
                io::ErrorKind::ConnectionRefused => refused.push(slot as usize),
                _ => snap.send_errors += 1,
            },
        );
    }

    fn send_udp(&mut self, slot: usize, dest: SocketAddr, bytes: &[u8]) {
        let Some(i) = self.udp_socket(slot) else {
            return;
        };
        let Some(s) = self.udp.get_mut(i) else {
            return;
        };
        let Some(peer) = s.peer else {
            // A shared socket: queued, and sent with the others (see `flush_udp`). A camera's
            // own connected socket sends at once: a batch there would hold one camera's
            // datagrams, and a redirect reconnects it between two of them.
            self.sendq.push(i as u32, slot as u32, dest, bytes);
            if self.sendq.is_full() {
                self.flush_udp();
            }
            return;
        };
        let r = if peer == dest {
            s.sock.send(bytes)
        } else {
            match s.sock.connect(dest) {
                Ok(()) => {
                    s.peer = Some(dest);
                    s.sock.send(bytes)
                }
                Err(e) => Err(e),
            }
        };
        match r {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => self.refused.push(slot),
            Err(_) => self.snap.send_errors += 1,
        }
    }

    fn send_tcp(&mut self, slot: usize, bytes: &[u8]) {
        let token = self.tcp_token(slot);
        match self.tcp.get_mut(slot).and_then(Option::as_mut) {
            Some(c) if c.connected => {
                if c.send_via(self.poll.registry(), token, true, bytes)
                    .is_err()
                {
                    self.snap.send_errors += 1;
                    self.refused.push(slot);
                }
            }
            _ => self.snap.send_errors += 1,
        }
    }
}

impl Host for Io {
    fn record(&mut self, _slot: usize, _now: Time, record: &Record) {
        self.snap.record(record);
    }

    fn transmit(&mut self, slot: usize, dest: SocketAddr, bytes: &[u8]) {
        match self.transport(slot) {
            Transport::Udp => self.send_udp(slot, dest, bytes),
            Transport::Tcp => self.send_tcp(slot, bytes),
        }
    }

    fn connect(&mut self, slot: usize, server: SocketAddr) {
        self.close(slot);
        let ip = (!self.plan.local_ips.is_empty()).then(|| {
            pick_ip(
                &self.plan,
                self.default_ip,
                slot * self.workers + self.index,
            )
        });
        match tcp::connect(ip, server) {
            Ok(mut c) => {
                let interest = Interest::READABLE | Interest::WRITABLE;
                if c.register(self.poll.registry(), self.tcp_token(slot), interest)
                    .is_ok()
                {
                    if let Some(g) = self.generation.get_mut(slot) {
                        *g = g.wrapping_add(1);
                    }
                    self.tcp[slot] = Some(c);
                } else {
                    self.refused.push(slot);
                }
            }
            Err(_) => {
                self.snap.send_errors += 1;
                self.refused.push(slot);
            }
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut c) = self.tcp.get_mut(slot).and_then(Option::take) {
            c.deregister(self.poll.registry());
        }
    }

    fn arm(&mut self, slot: usize, wake: Option<Time>) {
        match wake {
            Some(t) => self.wheel.arm(slot as u32, t),
            None => self.wheel.cancel(slot as u32),
        }
    }
}
