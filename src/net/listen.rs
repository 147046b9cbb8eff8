//! Server sockets: a UDP socket and a TCP listener on the same address for each worker, with
//! SO_REUSEPORT so the kernel spreads peers over the workers. One bind helper for every server
//! host (the registrar and the test responder alike).

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// Socket buffer size asked for (the kernel caps it at `net.core.{r,w}mem_max`): bursts such
/// as a fleet unregistering at once overflow the default.
pub const BUFFER_BYTES: usize = 4 << 20;

/// One worker's pair of sockets.
#[derive(Debug)]
pub struct Bound {
    /// Datagrams.
    pub udp: mio::net::UdpSocket,
    /// Connections.
    pub tcp: mio::net::TcpListener,
}

fn socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    let _ = s.set_recv_buffer_size(BUFFER_BYTES);
    let _ = s.set_send_buffer_size(BUFFER_BYTES);
    s.bind(&addr.into())?;
    Ok(s)
}

/// A port on `listen`'s address that no UDP or TCP socket uses right now. Binding port 0
/// with SO_REUSEPORT is no good for this: the kernel may hand out a port another process of
/// the same user holds with SO_REUSEPORT, and the two servers would then share its traffic.
/// Exclusive probes find a port nobody holds; it is released for the real bind at once.
fn free_port(listen: SocketAddr) -> io::Result<SocketAddr> {
    let udp = Socket::new(
        Domain::for_address(listen),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    udp.bind(&listen.into())?;
    let addr = udp.local_addr()?.as_socket().unwrap_or(listen);
    let tcp = Socket::new(
        Domain::for_address(listen),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    tcp.bind(&addr.into())?;
    Ok(addr)
}

/// Binds `workers` pairs of a UDP socket and a TCP listener on `listen` and returns the
/// address actually bound. With port 0 the port is one that exclusive probes found no socket
/// holding (a plain SO_REUSEPORT bind of port 0 may share another server's port); if another
/// process takes it between the probe and the bind, the set is tried on another port, up to
/// 50 times.
pub fn bind(listen: SocketAddr, workers: usize) -> io::Result<(SocketAddr, Vec<Bound>)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut bound = Vec::new();
        let result = (|| -> io::Result<SocketAddr> {
            let addr = if listen.port() == 0 {
                free_port(listen)?
            } else {
                listen
            };
            for _ in 0..workers.max(1) {
                let udp = socket(addr, Type::DGRAM, Protocol::UDP)?;
                let tcp = socket(addr, Type::STREAM, Protocol::TCP)?;
                tcp.listen(1024)?;
                bound.push(Bound {
                    udp: mio::net::UdpSocket::from_std(udp.into()),
                    tcp: mio::net::TcpListener::from_std(std::net::TcpListener::from(tcp)),
                });
            }
            Ok(addr)
        })();
        match result {
            Ok(addr) => return Ok((addr, bound)),
            Err(e)
                if listen.port() == 0 && e.kind() == io::ErrorKind::AddrInUse && attempt < 50 => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_binds_every_worker_on_one_port() {
        let (addr, bound) = bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        assert_ne!(addr.port(), 0);
        assert_eq!(bound.len(), 2);
        for b in &bound {
            assert_eq!(b.udp.local_addr().unwrap(), addr);
            assert_eq!(b.tcp.local_addr().unwrap(), addr);
        }
    }
}
