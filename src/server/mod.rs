//! `gbswarm serve`: a GB28181 registrar on the same SIP core as the cameras.
//!
//! One worker per core, each pinned, each with its own UDP socket and TCP listener bound to
//! the same address with SO_REUSEPORT so the kernel spreads devices over cores. Decisions are
//! the sans-IO [`registrar::Registrar`]'s; workers only move bytes. It is also the embedded
//! default target of `gbswarm run`.

pub mod nonce;
pub mod registrar;
pub mod registry;

use crate::sip::framing::StreamBuf;
use crate::sip::{Header, Limits, Parsed, parse_stream};
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use registrar::{Config, Registrar, Reply, Stats};
use registry::Registry;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Reads `device-id password` lines (`#` starts a comment) into a password map.
pub fn load_passwords(
    path: &std::path::Path,
) -> Result<std::collections::HashMap<crate::gb::DeviceId, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut m = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut it = line.split_whitespace();
        let (Some(id), Some(pw), None) = (it.next(), it.next(), it.next()) else {
            return Err(format!(
                "{}:{}: expected `device-id password`",
                path.display(),
                n + 1
            ));
        };
        let id = id
            .parse()
            .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        m.insert(id, pw.to_string());
    }
    Ok(m)
}

/// How to run the registrar.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address for UDP and TCP.
    pub listen: SocketAddr,
    /// Worker threads.
    pub cores: usize,
    /// Registrar behaviour.
    pub registrar: Config,
    /// A TCP peer silent this long is closed.
    pub tcp_idle: Duration,
    /// A TCP peer with a partial message pending this long is closed (slow drip).
    pub tcp_partial: Duration,
    /// Most TCP connections per worker; more are refused.
    pub max_connections: usize,
    /// Most half-open TCP connections (connected, no complete message yet) per source
    /// address and worker; more are refused.
    pub max_half_open_per_source: usize,
}

/// A running registrar; [`stop`](Self::stop) it to join the workers.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    stats: Vec<Arc<Mutex<Stats>>>,
    registrar: Arc<Registrar>,
    epoch: Instant,
}

const UDP: Token = Token(0);
const LISTENER: Token = Token(1);

fn reuseport_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s)
}

/// Binds a UDP socket and a TCP listener per worker on `listen`. With port 0 the kernel picks
/// a free UDP port, which may be taken for TCP (by any TCP socket using that number): then the
/// pair is tried again on another port.
fn bind_all(listen: SocketAddr, cores: usize) -> io::Result<(SocketAddr, Vec<(Socket, Socket)>)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut addr = listen;
        let mut sockets = Vec::new();
        let result = (|| -> io::Result<()> {
            for _ in 0..cores {
                let udp = reuseport_socket(addr, Type::DGRAM, Protocol::UDP)?;
                // With port 0, the first bind picks the port; the others join it.
                if addr.port() == 0 {
                    addr = udp.local_addr()?.as_socket().unwrap_or(addr);
                }
                let tcp = reuseport_socket(addr, Type::STREAM, Protocol::TCP)?;
                tcp.listen(1024)?;
                sockets.push((udp, tcp));
            }
            Ok(())
        })();
        match result {
            Ok(()) => return Ok((addr, sockets)),
            Err(e)
                if listen.port() == 0 && e.kind() == io::ErrorKind::AddrInUse && attempt < 50 => {}
            Err(e) => return Err(e),
        }
    }
}

/// Binds every worker's sockets (so address errors are returned here) and starts them.
pub fn start(cfg: ServeConfig) -> io::Result<ServerHandle> {
    let cores = cfg.cores.max(1);
    let registry = Arc::new(Registry::new(64));
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let (addr, sockets) = bind_all(cfg.listen, cores)?;
    let mut rcfg = cfg.registrar.clone();
    rcfg.via_host = addr.to_string();
    let registrar = Arc::new(Registrar::new(
        rcfg,
        registry,
        nonce::Nonces::random_secret(),
    ));
    let core_ids = core_affinity::get_core_ids().unwrap_or_default();
    let mut threads = Vec::new();
    let mut stats = Vec::new();
    for (i, (udp, tcp)) in sockets.into_iter().enumerate() {
        let st = Arc::new(Mutex::new(Stats::default()));
        stats.push(st.clone());
        let worker = Worker {
            udp: UdpSocket::from_std(udp.into()),
            listener: TcpListener::from_std(std::net::TcpListener::from(tcp)),
            registrar: registrar.clone(),
            stop: stop.clone(),
            stats: st,
            epoch,
            cfg: cfg.clone(),
            core: (!core_ids.is_empty()).then(|| core_ids[i % core_ids.len()]),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("gbswarm-srv{i}"))
                .spawn(move || worker.run())?,
        );
    }
    Ok(ServerHandle {
        addr,
        stop,
        threads,
        stats,
        registrar,
        epoch,
    })
}

impl ServerHandle {
    /// The address it listens on (the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Counters of all workers so far, and (registered, online) devices now.
    pub fn stats(&self) -> (Stats, (u64, u64)) {
        let mut total = Stats::default();
        for s in &self.stats {
            total.merge(&s.lock().unwrap_or_else(|e| e.into_inner()));
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        let counts = self
            .registrar
            .registry()
            .counts(now, self.registrar.max_silence_ms());
        (total, counts)
    }

    /// Stops the workers and returns the final counters.
    pub fn stop(mut self) -> Stats {
        self.shutdown();
        self.stats().0
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Conn {
    stream: TcpStream,
    rbuf: StreamBuf,
    peer: SocketAddr,
    last_read: Instant,
    partial_since: Option<Instant>,
    /// No complete message received yet (counted per source until one is).
    half_open: bool,
    /// Complete messages received.
    messages: u64,
}

impl Conn {
    fn answered(&self) -> bool {
        self.messages > 0
    }
}

/// Open connections of one worker, with the half-open ones counted per source address.
struct Conns {
    slots: Vec<Option<Conn>>,
    /// Empty slots, so an accept takes one in O(1) rather than scanning every connection.
    free: Vec<usize>,
    open: usize,
    half_open: std::collections::HashMap<std::net::IpAddr, usize>,
}

impl Conns {
    fn close(&mut self, slot: usize, poll: &Poll) {
        if let Some(mut c) = self.slots.get_mut(slot).and_then(Option::take) {
            let _ = poll.registry().deregister(&mut c.stream);
            self.free.push(slot);
            self.open -= 1;
            if c.half_open {
                self.settled(c.peer);
            }
        }
    }

    /// A connection from `peer` left the half-open state.
    fn settled(&mut self, peer: SocketAddr) {
        if let Some(n) = self.half_open.get_mut(&peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.half_open.remove(&peer.ip());
            }
        }
    }
}

struct Worker {
    udp: UdpSocket,
    listener: TcpListener,
    registrar: Arc<Registrar>,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<Stats>>,
    epoch: Instant,
    cfg: ServeConfig,
    core: Option<core_affinity::CoreId>,
}

impl Worker {
    fn run(mut self) {
        if let Some(c) = self.core {
            core_affinity::set_for_current(c);
        }
        let Ok(mut poll) = Poll::new() else { return };
        if poll
            .registry()
            .register(&mut self.udp, UDP, Interest::READABLE)
            .is_err()
            || poll
                .registry()
                .register(&mut self.listener, LISTENER, Interest::READABLE)
                .is_err()
        {
            return;
        }
        let mut events = Events::with_capacity(1024);
        let mut conns = Conns {
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            half_open: std::collections::HashMap::new(),
        };
        let mut buf = vec![0u8; 65_536];
        let mut out = Vec::with_capacity(2048);
        let mut local = Stats::default();
        let mut last_flush = Instant::now();
        let mut last_sweep = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            if poll
                .poll(&mut events, Some(Duration::from_millis(50)))
                .is_err()
            {
                continue;
            }
            let now_ms = self.epoch.elapsed().as_millis() as u64;
            let unix_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            for ev in events.iter() {
                match ev.token() {
                    UDP => loop {
                        match self.udp.recv_from(&mut buf) {
                            Ok((n, from)) => {
                                out.clear();
                                let t0 = Instant::now();
                                let r = self.registrar.handle(
                                    now_ms,
                                    unix_ms,
                                    &buf[..n],
                                    from,
                                    false,
                                    &mut out,
                                    &mut local,
                                );
                                local
                                    .service_us
                                    .saturating_record(t0.elapsed().as_micros().max(1) as u64);
                                match r {
                                    Reply::Send | Reply::SendAndClose => {
                                        let _ = self.udp.send_to(&out, from);
                                    }
                                    Reply::SendTwo(split) => {
                                        let _ = self.udp.send_to(&out[..split], from);
                                        let _ = self.udp.send_to(&out[split..], from);
                                    }
                                    Reply::Nothing | Reply::Close => {}
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(_) => continue,
                        }
                    },
                    LISTENER => {
                        while let Ok((mut stream, peer)) = self.listener.accept() {
                            let half_open = conns.half_open.get(&peer.ip()).copied().unwrap_or(0);
                            if conns.open >= self.cfg.max_connections
                                || half_open >= self.cfg.max_half_open_per_source
                            {
                                local.refused_connections += 1;
                                drop(stream);
                                continue;
                            }
                            let slot = conns.free.pop().unwrap_or_else(|| {
                                conns.slots.push(None);
                                conns.slots.len() - 1
                            });
                            let _ = stream.set_nodelay(true);
                            if poll
                                .registry()
                                .register(&mut stream, Token(slot + 2), Interest::READABLE)
                                .is_err()
                            {
                                conns.free.push(slot);
                            } else {
                                conns.slots[slot] = Some(Conn {
                                    stream,
                                    rbuf: StreamBuf::new(64 * 1024),
                                    peer,
                                    last_read: Instant::now(),
                                    partial_since: None,
                                    half_open: true,
                                    messages: 0,
                                });
                                conns.open += 1;
                                *conns.half_open.entry(peer.ip()).or_insert(0) += 1;
                            }
                        }
                    }
                    Token(t) => {
                        let slot = t - 2;
                        let (keep, settled) =
                            match conns.slots.get_mut(slot).and_then(Option::as_mut) {
                                Some(c) => {
                                    let keep =
                                        self.serve_conn(c, now_ms, unix_ms, &mut out, &mut local);
                                    let settled = c.half_open && c.answered();
                                    if settled {
                                        c.half_open = false;
                                    }
                                    (keep, settled.then_some(c.peer))
                                }
                                None => continue,
                            };
                        if let Some(peer) = settled {
                            conns.settled(peer);
                        }
                        if !keep {
                            conns.close(slot, &poll);
                        }
                    }
                }
            }
            if last_sweep.elapsed() >= Duration::from_millis(500) {
                last_sweep = Instant::now();
                for slot in 0..conns.slots.len() {
                    let stale = conns.slots[slot].as_ref().is_some_and(|c| {
                        c.last_read.elapsed() > self.cfg.tcp_idle
                            || c.partial_since
                                .is_some_and(|p| p.elapsed() > self.cfg.tcp_partial)
                    });
                    if stale {
                        conns.close(slot, &poll);
                    }
                }
            }
            if last_flush.elapsed() >= Duration::from_millis(200) {
                last_flush = Instant::now();
                self.stats
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .merge(&local);
                local = Stats::default();
            }
        }
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .merge(&local);
    }

    /// Reads and answers what a connection sent; false when it must close.
    fn serve_conn(
        &self,
        c: &mut Conn,
        now_ms: u64,
        unix_ms: u64,
        out: &mut Vec<u8>,
        stats: &mut Stats,
    ) -> bool {
        loop {
            let stream = &mut c.stream;
            match c.rbuf.fill(|b| stream.read(b)) {
                Ok(Some(0)) | Ok(None) => return false,
                Ok(Some(_)) => c.last_read = Instant::now(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
            loop {
                let mut h = [Header::EMPTY; 64];
                let pending = c.rbuf.pending();
                match parse_stream(pending, &mut h, &Limits::default()) {
                    Ok(Parsed::Complete { len, .. }) => {
                        c.messages += 1;
                        out.clear();
                        let t0 = Instant::now();
                        let r = self.registrar.handle(
                            now_ms,
                            unix_ms,
                            &pending[..len],
                            c.peer,
                            true,
                            out,
                            stats,
                        );
                        stats
                            .service_us
                            .saturating_record(t0.elapsed().as_micros().max(1) as u64);
                        c.rbuf.consume(len);
                        match r {
                            Reply::Send | Reply::SendTwo(_) => {
                                if c.stream.write_all(out).is_err() {
                                    return false;
                                }
                            }
                            Reply::SendAndClose => {
                                let _ = c.stream.write_all(out);
                                return false;
                            }
                            Reply::Close => return false,
                            Reply::Nothing => {}
                        }
                    }
                    Ok(Parsed::KeepAlive(n)) => {
                        // RFC 5626: answer a double-CRLF ping with a single CRLF.
                        if n >= 4 {
                            let _ = c.stream.write_all(b"\r\n");
                        }
                        c.rbuf.consume(n);
                    }
                    Ok(Parsed::Partial) => break,
                    Err(_) => {
                        stats.dropped_malformed += 1;
                        return false;
                    }
                }
            }
            c.partial_since = if c.rbuf.pending().is_empty() {
                c.rbuf.release_if_empty();
                None
            } else {
                c.partial_since.or(Some(Instant::now()))
            };
        }
        true
    }
}
