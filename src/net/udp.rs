//! UDP client sockets: non-blocking, bound to a chosen source address, connected when one
//! camera owns the socket (so the kernel reports ICMP port-unreachable as a refusal).

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};

/// One UDP socket of a worker.
#[derive(Debug)]
pub struct UdpSock {
    /// The mio socket.
    pub sock: mio::net::UdpSocket,
    /// Its bound address (what cameras put in Via and Contact).
    pub local: SocketAddr,
    /// The peer it is connected to, if it is connected.
    pub peer: Option<SocketAddr>,
}

/// Creates a socket bound to `ip` (port chosen by the kernel); connected to `connect_to` if
/// given. `shared` sockets get large buffers since many cameras burst through them.
pub fn open(ip: IpAddr, connect_to: Option<SocketAddr>, shared: bool) -> io::Result<UdpSock> {
    let sock = Socket::new(
        Domain::for_address(SocketAddr::new(ip, 0)),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    sock.set_nonblocking(true)?;
    if shared {
        // Best effort: the kernel caps these at net.core.{r,w}mem_max.
        let _ = sock.set_recv_buffer_size(4 << 20);
        let _ = sock.set_send_buffer_size(4 << 20);
    }
    sock.bind(&SocketAddr::new(ip, 0).into())?;
    if let Some(peer) = connect_to {
        sock.connect(&peer.into())?;
    }
    let std: std::net::UdpSocket = sock.into();
    let local = std.local_addr()?;
    Ok(UdpSock {
        sock: mio::net::UdpSocket::from_std(std),
        local,
        peer: connect_to,
    })
}

/// The source address the kernel would use to reach `target` (for Via and Contact).
pub fn route_source(target: SocketAddr) -> io::Result<IpAddr> {
    let probe = std::net::UdpSocket::bind(match target {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    })?;
    probe.connect(target)?;
    Ok(probe.local_addr()?.ip())
}
