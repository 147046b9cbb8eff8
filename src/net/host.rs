//! The server host loop: one thread per worker, each with its own mio loop over a UDP socket
//! and a TCP listener bound to the same address (SO_REUSEPORT), driving one [`Service`].
//!
//! It only moves bytes: it frames TCP streams, parses each message once (UDP and TCP alike),
//! hands it to the service and sends the service's [`Batch`] back through the shared socket
//! layer — over UDP a batch at a time ([`super::batch`]: the datagrams one `recvmmsg` took are
//! answered, each to its source, by one `sendmmsg`), over TCP through each connection's bounded
//! write queue. A connection whose queue
//! passes [`PAUSE_AT`] is not read until the peer has taken most of it, so a client that
//! pipelines requests and reads slowly is slowed down, never cut off mid-message. It also
//! enforces the connection limits (total, half-open per source, idle, slow drip). Every
//! protocol decision is the service's.
//!
//! A service that acts on its own (the platform's play driver) is woken at its
//! [`Service::poll_timeout`] and what it then sends goes out from the same UDP socket, so a
//! device hears the platform's INVITE from the address it registered with (a camera whose
//! socket is connected to the registrar hears nothing else) and answers to this worker, whose
//! service sent it; one that receives media gets its own port and connections
//! ([`super::host_media`]) on this worker's loop.

use super::batch::{BATCH, RecvBatch, SendBatch};
use super::host_media::{MEDIA_CONN, MEDIA_LISTENER, MEDIA_UDP, MediaIo};
use super::host_peers::{Peer, Peers};
use super::listen::{self, Bound};
use super::service::{After, HostEvent, Outbox, Service};
use super::tcp;

mod conns;
use crate::clock::{Clock, Time};
use crate::sip::{Batch, Header, Limits, Parsed, Transport, parse_stream};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Queued reply bytes at which a connection stops being read until the peer catches up.
pub const PAUSE_AT: usize = 64 * 1024;

/// UDP answers queued before they are sent even within a batch: a batch's answers are about
/// one per datagram (two when a registration brings a query).
const SEND_QUEUE: usize = 4 * BATCH;

const UDP: Token = Token(0);
const LISTENER: Token = Token(1);
const FIRST_CONN: usize = 2;

/// Limits and habits of a host.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// A TCP peer silent this long is closed.
    pub tcp_idle: Duration,
    /// A TCP peer with a partial message pending this long is closed (slow drip).
    pub tcp_partial: Duration,
    /// Most TCP connections per worker; more are refused.
    pub max_connections: usize,
    /// Most half-open TCP connections (connected, no complete message yet) per source
    /// address and worker; more are refused.
    pub max_half_open_per_source: usize,
    /// Pin worker `i` to the `i`-th core counted from the last one (round robin). A
    /// generator's workers count from the first, so a registrar and a generator on one
    /// machine, one worker each, get a core each instead of sharing the first.
    pub pin: bool,
    /// Thread name prefix.
    pub name: &'static str,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            tcp_idle: Duration::from_secs(300),
            tcp_partial: Duration::from_secs(10),
            max_connections: 100_000,
            max_half_open_per_source: 256,
            pin: false,
            name: "gbswarm-host",
        }
    }
}

/// Running workers; [`stop`](Self::stop) returns their services.
pub struct Host<S: Service> {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<S>>,
}

/// Binds `workers` socket pairs on `listen` (errors are returned here) and starts one worker
/// per pair, each driving the service `make(i)` returns.
pub fn start<S: Service>(
    listen: SocketAddr,
    workers: usize,
    cfg: HostConfig,
    clock: Clock,
    make: impl FnMut(usize) -> S,
) -> io::Result<Host<S>> {
    let (addr, bound) = listen::bind(listen, workers)?;
    start_bound(addr, bound, cfg, clock, make)
}

/// Starts one worker per socket pair already bound on `addr` (see [`listen::bind`]).
pub fn start_bound<S: Service>(
    addr: SocketAddr,
    bound: Vec<Bound>,
    cfg: HostConfig,
    clock: Clock,
    mut make: impl FnMut(usize) -> S,
) -> io::Result<Host<S>> {
    let stop = Arc::new(AtomicBool::new(false));
    let cores = if cfg.pin {
        core_affinity::get_core_ids().unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut threads = Vec::new();
    for (i, b) in bound.into_iter().enumerate() {
        let worker = Worker::new(i, b, make(i), cfg.clone(), clock, stop.clone())?;
        let core = from_last(&cores, i).copied();
        let spawned = std::thread::Builder::new()
            .name(format!("{}{i}", cfg.name))
            .spawn(move || {
                if let Some(c) = core {
                    core_affinity::set_for_current(c);
                }
                worker.run()
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                for t in threads {
                    let _ = t.join();
                }
                return Err(e);
            }
        }
    }
    Ok(Host {
        addr,
        stop,
        threads,
    })
}

impl<S: Service> Host<S> {
    /// The address it listens on (the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the workers and returns their services, in worker order.
    pub fn stop(mut self) -> Vec<S> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .drain(..)
            .filter_map(|t| t.join().ok())
            .collect()
    }
}

impl<S: Service> Drop for Host<S> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct Worker<S> {
    bound: Bound,
    service: S,
    cfg: HostConfig,
    clock: Clock,
    stop: Arc<AtomicBool>,
    poll: Poll,
    peers: Peers,
    sendq: SendBatch,
    out: Batch,
    media: Option<MediaIo>,
    outbox: Outbox,
}

impl<S: Service> Worker<S> {
    fn new(
        index: usize,
        mut bound: Bound,
        mut service: S,
        cfg: HostConfig,
        clock: Clock,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut bound.udp, UDP, Interest::READABLE)?;
        poll.registry()
            .register(&mut bound.tcp, LISTENER, Interest::READABLE)?;
        // Worker i of a fixed media port takes that port plus i.
        let media = match service.media_port() {
            Some(p) => {
                let port = if p == 0 {
                    0
                } else {
                    p.saturating_add(index as u16)
                };
                let ip = bound.udp.local_addr()?.ip();
                let (m, addr) = MediaIo::bind(ip, port, poll.registry())?;
                service.media_bound(addr);
                Some(m)
            }
            None => None,
        };
        Ok(Worker {
            bound,
            service,
            cfg,
            clock,
            stop,
            poll,
            peers: Peers::default(),
            sendq: SendBatch::new(SEND_QUEUE),
            out: Batch::new(),
            media,
            outbox: Outbox::default(),
        })
    }

    fn run(mut self) -> S {
        let mut events = Events::with_capacity(1024);
        // Made here: its system call headers hold pointers and stay on this thread.
        let mut rb = RecvBatch::default();
        let mut media_rb = self.media.as_ref().map(|_| MediaIo::recv_batch());
        let mut last_tick = Instant::now();
        let mut last_sweep = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            let mut wait = Duration::from_millis(50);
            if let Some(t) = self.service.poll_timeout() {
                let left = t.as_micros().saturating_sub(self.clock.now().as_micros());
                wait = wait.min(Duration::from_micros(left));
            }
            if let Err(e) = self.poll.poll(&mut events, Some(wait))
                && e.kind() != io::ErrorKind::Interrupted
            {
                break;
            }
            let now = self.clock.now();
            for ev in events.iter() {
                match ev.token() {
                    UDP => self.udp_readable(&mut rb, now),
                    LISTENER => self.accept(),
                    t @ (MEDIA_UDP | MEDIA_LISTENER) => self.media_event(t, &mut media_rb, now),
                    t @ Token(n) if n >= MEDIA_CONN => self.media_event(t, &mut media_rb, now),
                    Token(t) => {
                        let slot = t - FIRST_CONN;
                        let keep = self.conn_event(slot, now, ev.is_writable());
                        if !keep {
                            self.peers.close(slot, self.poll.registry());
                        }
                    }
                }
            }
            self.timers();
            if last_sweep.elapsed() >= Duration::from_millis(500) {
                last_sweep = Instant::now();
                self.sweep();
            }
            if last_tick.elapsed() >= Duration::from_millis(200) {
                last_tick = Instant::now();
                self.service.tick(self.clock.now());
            }
        }
        self.service.tick(self.clock.now());
        self.service
    }

    /// Hands a media token's readiness to the media side.
    fn media_event(&mut self, token: Token, rb: &mut Option<RecvBatch>, now: Time) {
        if let (Some(m), Some(rb)) = (self.media.as_mut(), rb.as_mut()) {
            m.event(token, rb, self.poll.registry(), &mut self.service, now);
        }
    }

    /// Fires the service's timers when due and sends what it wrote, from the UDP socket or
    /// down the peer's TCP connection, and starts the media connections it asked for.
    fn timers(&mut self) {
        // A service with no timer (a plain registrar) costs no clock read here.
        let Some(due) = self.service.poll_timeout() else {
            return;
        };
        let now = self.clock.now();
        if due > now {
            return;
        }
        self.outbox.clear();
        self.service.handle_timeout(now, &mut self.outbox);
        let udp = &self.bound.udp;
        let registry = self.poll.registry();
        let mut failed = None;
        for (to, transport, bytes) in self.outbox.messages() {
            if transport == Transport::Tcp {
                // A device connected over TCP hears the platform on its own connection; one
                // whose write queue is full or that is gone loses the message (the service
                // times it out).
                let Some(&slot) = self.peers.by_addr.get(&to) else {
                    continue;
                };
                if let Some(p) = self.peers.slots.get_mut(slot).and_then(Option::as_mut) {
                    let token = Token(slot + FIRST_CONN);
                    let read = !p.paused && !p.closing;
                    if p.conn.send_via(registry, token, read, bytes).is_err() {
                        failed = Some(slot);
                    }
                }
                continue;
            }
            self.sendq.push(0, 0, to, bytes);
            if self.sendq.is_full() {
                self.sendq.flush(|_| Some(udp.as_fd()), |_, _| {});
            }
        }
        self.sendq.flush(|_| Some(udp.as_fd()), |_, _| {});
        if let Some(slot) = failed {
            self.peers.close(slot, self.poll.registry());
        }
        if let Some(m) = self.media.as_mut() {
            for &to in self.outbox.connects() {
                m.connect(to, self.poll.registry(), &mut self.service);
            }
        }
    }

    /// Takes the socket's datagrams a batch at a time, hands each to the service (a
    /// truncated one as malformed: its tail is lost) and sends the answers of each batch
    /// together, each to the datagram's source.
    fn udp_readable(&mut self, rb: &mut RecvBatch, now: Time) {
        let Worker {
            sendq,
            service,
            bound,
            ..
        } = self;
        let udp = &bound.udp;
        // A reply the kernel refuses is lost, as one to a vanished peer would be; the client
        // retransmits.
        let send = |q: &mut SendBatch| q.flush(|_| Some(udp.as_fd()), |_, _| {});
        loop {
            match rb.recv(udp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            }
            for d in rb.iter() {
                let t0 = Instant::now();
                sendq.push_with(0, 0, d.from, |out| {
                    if d.truncated {
                        service.handle_malformed(now, d.bytes, d.from, Transport::Udp, out);
                    } else {
                        service.handle_datagram(now, d.bytes, d.from, Transport::Udp, out);
                    }
                });
                let micros = (t0.elapsed().as_micros() as u64).max(1);
                service.host_event(HostEvent::Served { micros });
                if sendq.is_full() {
                    send(sendq);
                }
            }
            send(sendq);
            if rb.drained() {
                break;
            }
        }
    }
}

/// The core for worker `i` of a host: counted from the last of `cores` down, round robin.
fn from_last<T>(cores: &[T], i: usize) -> Option<&T> {
    let n = cores.len();
    (n > 0).then(|| &cores[n - 1 - i % n])
}

#[cfg(test)]
mod tests {
    use super::from_last;

    #[test]
    fn host_workers_take_cores_from_the_last_down() {
        let cores = [0, 1, 2];
        let got: Vec<_> = (0..5).map(|i| from_last(&cores, i).copied()).collect();
        assert_eq!(got, [Some(2), Some(1), Some(0), Some(2), Some(1)]);
        assert_eq!(from_last::<u8>(&[], 0), None);
    }
}
