//! The scripted in-memory registrar ([`crate::camera::sim::ScriptedServer`]) behind real
//! loopback sockets, UDP and TCP on one port: the small peer that engine tests and the
//! generator benchmark run against. One thread, one mio loop; stopped by its handle.

use crate::camera::sim::{Replies, Script, ScriptedServer};
use crate::gb::DeviceId;
use crate::sip::framing::StreamBuf;
use crate::sip::{Header, Limits, Parsed, parse_stream};
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const UDP: Token = Token(0);
const LISTENER: Token = Token(1);

/// A running responder; [`stop`](Self::stop) it to get what it saw.
pub struct Responder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    silent: Arc<AtomicBool>,
    thread: Option<JoinHandle<ScriptedServer>>,
}

/// A UDP socket on an ephemeral loopback port and a TCP listener on the same number; when
/// that number is taken for TCP, another port is tried.
fn bind_pair() -> io::Result<(std::net::UdpSocket, std::net::TcpListener, SocketAddr)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
        // Bursts (a stop unregisters a whole fleet at once) overflow the default buffer.
        let _ = sock.set_recv_buffer_size(4 << 20);
        let _ = sock.set_send_buffer_size(4 << 20);
        sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        sock.set_nonblocking(true)?;
        let udp: std::net::UdpSocket = sock.into();
        let addr = udp.local_addr()?;
        match std::net::TcpListener::bind(addr) {
            Ok(listener) => {
                listener.set_nonblocking(true)?;
                return Ok((udp, listener, addr));
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempt < 50 => {}
            Err(e) => return Err(e),
        }
    }
}

impl Responder {
    /// Starts a responder on `127.0.0.1`, an ephemeral port, UDP and TCP.
    pub fn start(id: DeviceId, script: Script) -> io::Result<Responder> {
        let (udp, listener, addr) = bind_pair()?;
        let stop = Arc::new(AtomicBool::new(false));
        let silent = Arc::new(AtomicBool::new(false));
        let flags = (stop.clone(), silent.clone());
        let server = ScriptedServer::new(addr, id, script);
        let thread = std::thread::Builder::new()
            .name("gbswarm-responder".into())
            .spawn(move || {
                serve(
                    UdpSocket::from_std(udp),
                    TcpListener::from_std(listener),
                    server,
                    &flags.0,
                    &flags.1,
                )
            })?;
        Ok(Responder {
            addr,
            stop,
            silent,
            thread: Some(thread),
        })
    }

    /// The address it listens on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// While silent, everything received is read and dropped (a hung server whose port is
    /// still open, unlike a stopped one).
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::Relaxed);
    }

    /// Stops the thread and returns the server with its observations.
    pub fn stop(mut self) -> Option<ScriptedServer> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take()?.join().ok()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Peer {
    stream: TcpStream,
    rbuf: StreamBuf,
}

fn serve(
    mut udp: UdpSocket,
    mut listener: TcpListener,
    mut server: ScriptedServer,
    stop: &AtomicBool,
    silent: &AtomicBool,
) -> ScriptedServer {
    let Ok(mut poll) = Poll::new() else {
        return server;
    };
    let reg = poll.registry();
    if reg.register(&mut udp, UDP, Interest::READABLE).is_err()
        || reg
            .register(&mut listener, LISTENER, Interest::READABLE)
            .is_err()
    {
        return server;
    }
    let start = Instant::now();
    let mut events = Events::with_capacity(256);
    let mut peers: Vec<Option<Peer>> = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let mut replies = Replies::default();
    while !stop.load(Ordering::Relaxed) {
        if poll
            .poll(&mut events, Some(Duration::from_millis(20)))
            .is_err()
        {
            continue;
        }
        let now = || start.elapsed().as_micros() as u64;
        for ev in events.iter() {
            match ev.token() {
                UDP => loop {
                    match udp.recv_from(&mut buf) {
                        Ok(_) if silent.load(Ordering::Relaxed) => {}
                        Ok((n, from)) => {
                            replies.clear();
                            server.handle(now(), &buf[..n], &mut replies);
                            for r in replies.iter() {
                                let _ = udp.send_to(r, from);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => continue,
                    }
                },
                LISTENER => {
                    while let Ok((mut stream, _)) = listener.accept() {
                        let slot = peers
                            .iter()
                            .position(Option::is_none)
                            .unwrap_or(peers.len());
                        if slot == peers.len() {
                            peers.push(None);
                        }
                        if poll
                            .registry()
                            .register(&mut stream, Token(slot + 2), Interest::READABLE)
                            .is_ok()
                        {
                            peers[slot] = Some(Peer {
                                stream,
                                rbuf: StreamBuf::new(64 * 1024),
                            });
                        }
                    }
                }
                Token(t) => {
                    let slot = t - 2;
                    let Some(peer) = peers.get_mut(slot).and_then(Option::as_mut) else {
                        continue;
                    };
                    let mut open = true;
                    loop {
                        let stream = &mut peer.stream;
                        match peer.rbuf.fill(|b| stream.read(b)) {
                            Ok(Some(0)) | Ok(None) => {
                                open = false;
                                break;
                            }
                            Ok(Some(_)) => {}
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(_) => {
                                open = false;
                                break;
                            }
                        }
                        loop {
                            let mut h = [Header::EMPTY; 40];
                            let pending = peer.rbuf.pending();
                            match parse_stream(pending, &mut h, &Limits::default()) {
                                Ok(Parsed::Complete { len, .. })
                                    if silent.load(Ordering::Relaxed) =>
                                {
                                    peer.rbuf.consume(len);
                                }
                                Ok(Parsed::Complete { len, .. }) => {
                                    replies.clear();
                                    server.handle(now(), &pending[..len], &mut replies);
                                    peer.rbuf.consume(len);
                                    for r in replies.iter() {
                                        // Replies are small; loopback buffers take them whole.
                                        let _ = peer.stream.write_all(r);
                                    }
                                }
                                Ok(Parsed::KeepAlive(n)) => peer.rbuf.consume(n),
                                Ok(Parsed::Partial) => break,
                                Err(_) => {
                                    open = false;
                                    break;
                                }
                            }
                        }
                        if !open {
                            break;
                        }
                    }
                    if !open && let Some(mut p) = peers[slot].take() {
                        let _ = poll.registry().deregister(&mut p.stream);
                    }
                }
            }
        }
    }
    server
}
