//! The media side of a server host worker, for a service that receives RTP (the platform's
//! play driver): one UDP socket and one TCP listener on the same port (ZLMediaKit's single
//! port: every stream arrives there and the service tells them apart by SSRC), the TCP media
//! connections the listener accepts (the camera connects: TCP passive) or the service asks
//! for (the platform connects: TCP active), each undone from RFC 4571 framing with a
//! [`Deframer`] of fixed size.
//!
//! It only moves bytes: every packet goes to [`Service::handle_media`] as it arrived. It never
//! parses RTP, never sends on a media connection and never decides when one ends (the peer
//! closes it, or it fails).

use super::batch::RecvBatch;
use super::service::{HostEvent, Service};
use crate::clock::Time;
use crate::media::receive::Deframer;
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};

/// The media UDP socket's token.
pub(super) const MEDIA_UDP: Token = Token(usize::MAX - 1);
/// The media TCP listener's token.
pub(super) const MEDIA_LISTENER: Token = Token(usize::MAX - 2);
/// Media connection `i` has token `MEDIA_CONN + i`.
pub(super) const MEDIA_CONN: usize = 1 << 40;
/// Most media connections per worker.
pub const MAX_MEDIA_CONNECTIONS: usize = 65_536;
/// Room for one RTP datagram (the camera's are at most 1,412 bytes).
const DATAGRAM_ROOM: usize = 2048;

struct MediaConn {
    stream: TcpStream,
    peer: SocketAddr,
    deframer: Deframer,
}

/// A worker's media socket, listener and connections.
pub(super) struct MediaIo {
    udp: UdpSocket,
    listener: TcpListener,
    conns: Vec<Option<MediaConn>>,
    free: Vec<usize>,
    buf: Vec<u8>,
}

impl MediaIo {
    /// Binds UDP and TCP on `ip:port` (port 0: one free for both) and registers them.
    pub(super) fn bind(
        ip: IpAddr,
        port: u16,
        registry: &Registry,
    ) -> io::Result<(Self, SocketAddr)> {
        let mut last = io::Error::other("no media port");
        for _ in 0..16 {
            let udp = socket2::Socket::new(
                socket2::Domain::for_address(SocketAddr::new(ip, port)),
                socket2::Type::DGRAM,
                Some(socket2::Protocol::UDP),
            )?;
            // Every stream of the worker lands here: as large a buffer as the kernel allows.
            let _ = udp.set_recv_buffer_size(super::listen::BUFFER_BYTES);
            udp.bind(&SocketAddr::new(ip, port).into())?;
            let udp: std::net::UdpSocket = udp.into();
            let addr = udp.local_addr()?;
            match std::net::TcpListener::bind(addr) {
                Ok(tcp) => {
                    udp.set_nonblocking(true)?;
                    tcp.set_nonblocking(true)?;
                    let mut udp = UdpSocket::from_std(udp);
                    let mut listener = TcpListener::from_std(tcp);
                    registry.register(&mut udp, MEDIA_UDP, Interest::READABLE)?;
                    registry.register(&mut listener, MEDIA_LISTENER, Interest::READABLE)?;
                    let io = MediaIo {
                        udp,
                        listener,
                        conns: Vec::new(),
                        free: Vec::new(),
                        buf: vec![0; 64 * 1024],
                    };
                    return Ok((io, addr));
                }
                // The kernel's free UDP port is taken for TCP: try another.
                Err(e) if port == 0 => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// A batch to receive media datagrams with (made on the worker's thread).
    pub(super) fn recv_batch() -> RecvBatch {
        RecvBatch::new(super::batch::BATCH, DATAGRAM_ROOM)
    }

    /// Handles readiness of a media token.
    pub(super) fn event<S: Service>(
        &mut self,
        token: Token,
        rb: &mut RecvBatch,
        registry: &Registry,
        service: &mut S,
        now: Time,
    ) {
        match token {
            MEDIA_UDP => loop {
                match rb.recv(&self.udp) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => continue,
                }
                for d in rb.iter() {
                    service.handle_media(now, d.bytes, d.from);
                }
                if rb.drained() {
                    break;
                }
            },
            MEDIA_LISTENER => {
                while let Ok((stream, peer)) = self.listener.accept() {
                    self.add(stream, peer, registry, service);
                }
            }
            Token(t) if t >= MEDIA_CONN => {
                let i = t - MEDIA_CONN;
                if !self.read(i, service, now) {
                    self.close(i, registry);
                }
            }
            _ => {}
        }
    }

    /// Starts a TCP media connection to `to` (the platform connects: TCP active).
    pub(super) fn connect<S: Service>(
        &mut self,
        to: SocketAddr,
        registry: &Registry,
        service: &mut S,
    ) {
        if let Ok(conn) = super::tcp::connect(None, to) {
            self.add(conn.stream, to, registry, service);
        }
    }

    fn add<S: Service>(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        registry: &Registry,
        service: &mut S,
    ) {
        let open = self.conns.len() - self.free.len();
        if open >= MAX_MEDIA_CONNECTIONS {
            service.host_event(HostEvent::Refused);
            return;
        }
        let _ = stream.set_nodelay(true);
        let i = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        let mut conn = MediaConn {
            stream,
            peer,
            deframer: Deframer::new(),
        };
        if registry
            .register(&mut conn.stream, Token(MEDIA_CONN + i), Interest::READABLE)
            .is_ok()
        {
            self.conns[i] = Some(conn);
            service.host_event(HostEvent::MediaConnection);
        } else {
            self.free.push(i);
        }
    }

    /// Reads what connection `i` has; false when it must close.
    fn read<S: Service>(&mut self, i: usize, service: &mut S, now: Time) -> bool {
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return true;
        };
        loop {
            match c.stream.read(&mut self.buf) {
                Ok(0) => return false,
                Ok(n) => {
                    let peer = c.peer;
                    c.deframer
                        .feed(&self.buf[..n], |f| service.handle_media(now, f, peer));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    fn close(&mut self, i: usize, registry: &Registry) {
        if let Some(mut c) = self.conns.get_mut(i).and_then(Option::take) {
            let _ = registry.deregister(&mut c.stream);
            self.free.push(i);
        }
    }
}
