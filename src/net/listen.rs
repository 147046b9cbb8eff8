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

/// What stands in the way of listening on a fixed port (see [`probe`]).
#[derive(Debug)]
pub enum Conflict {
    /// Another socket holds the port.
    Held {
        /// On which transports: `"UDP"`, `"TCP"` or `"UDP and TCP"`.
        transports: &'static str,
        /// Whether an SO_REUSEPORT bind would have joined the holder and split the traffic
        /// with it (another `gbswarm serve`, or any server of this user that set
        /// SO_REUSEPORT); false when the holder does not share its port at all.
        joinable: bool,
    },
    /// The address cannot be bound for another reason (not a local address, a privileged
    /// port).
    Other(io::Error),
}

/// Checks, before [`bind`], that `listen` can be bound as a server wants it. With `share`
/// false, no other socket may hold its port on UDP or TCP: exclusive probe binds (UDP without
/// SO_REUSEADDR and SO_REUSEPORT; TCP with SO_REUSEADDR only, so connections of an earlier
/// server left in TIME_WAIT do not count but a listener does) are refused by any holder,
/// SO_REUSEPORT or not, on the same address or a wildcard one, where [`bind`]'s SO_REUSEPORT
/// sockets would quietly join a holder of the same user and take part of its traffic. With
/// `share` true, the port may be shared with SO_REUSEPORT sockets but not with a holder that
/// refuses sharing. Port 0 always passes (`bind` picks a port nobody holds). The probes are
/// closed before returning; a process that binds the port between this check and `bind` is
/// not seen.
pub fn probe(listen: SocketAddr, share: bool) -> Result<(), Conflict> {
    if listen.port() == 0 {
        return Ok(());
    }
    let shared = |ty, proto| socket(listen, ty, proto).map(drop);
    let exclusive = |ty: Type, proto| -> io::Result<()> {
        let s = Socket::new(Domain::for_address(listen), ty, Some(proto))?;
        s.set_reuse_address(ty == Type::STREAM)?;
        s.bind(&listen.into())
    };
    let try_both = |bind: &dyn Fn(Type, Protocol) -> io::Result<()>| {
        [
            bind(Type::DGRAM, Protocol::UDP),
            bind(Type::STREAM, Protocol::TCP),
        ]
    };
    let held = |results: [io::Result<()>; 2]| -> Result<[bool; 2], Conflict> {
        let mut held = [false; 2];
        for (h, r) in held.iter_mut().zip(results) {
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => *h = true,
                Err(e) => return Err(Conflict::Other(e)),
            }
        }
        Ok(held)
    };
    let transports = |held: [bool; 2]| match held {
        [true, true] => "UDP and TCP",
        [true, false] => "UDP",
        _ => "TCP",
    };
    let joined = held(try_both(&shared))?;
    if joined.contains(&true) {
        return Err(Conflict::Held {
            transports: transports(joined),
            joinable: false,
        });
    }
    if share {
        return Ok(());
    }
    let alone = held(try_both(&exclusive))?;
    if alone.contains(&true) {
        return Err(Conflict::Held {
            transports: transports(alone),
            joinable: true,
        });
    }
    Ok(())
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

    fn held(r: Result<(), Conflict>) -> (&'static str, bool) {
        match r {
            Err(Conflict::Held {
                transports,
                joinable,
            }) => (transports, joinable),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn probe_sees_a_server_that_sharing_would_join() {
        let (addr, bound) = bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        assert_eq!(held(probe(addr, false)), ("UDP and TCP", true));
        // With sharing asked for, it may join them, as it would have before the probe.
        assert!(probe(addr, true).is_ok());
        drop(bound);
        // Port 0 has nothing to check: `bind` picks a port nobody holds.
        assert!(probe("127.0.0.1:0".parse().unwrap(), false).is_ok());
    }

    #[test]
    fn probe_sees_holders_that_do_not_share() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        for share in [false, true] {
            let (transports, joinable) = held(probe(addr, share));
            assert!(transports.contains("UDP") && !joinable, "{transports}");
        }
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        for share in [false, true] {
            let (transports, joinable) = held(probe(addr, share));
            assert!(transports.contains("TCP") && !joinable, "{transports}");
        }
    }

    /// A server restarted on its port must not be refused for the connections its previous
    /// run closed (TIME_WAIT and FIN_WAIT2 sockets still carry the port).
    #[test]
    fn closed_connections_of_an_earlier_server_do_not_hold_the_port() {
        use std::io::Read;
        let (addr, bound) = bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let accepted = loop {
            match bound[0].tcp.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        };
        // The server closes first, so its side of the connection lingers on the port.
        drop(accepted);
        assert_eq!(client.read(&mut [0; 1]).unwrap(), 0);
        drop(client);
        drop(bound);
        let strict = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        assert_eq!(
            strict.bind(&addr.into()).unwrap_err().kind(),
            io::ErrorKind::AddrInUse,
            "the closed connection still carries the port"
        );
        assert!(probe(addr, false).is_ok());
    }
}
