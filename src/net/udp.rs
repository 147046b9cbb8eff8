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

/// Turns on UDP generic segmentation offload (`UDP_SEGMENT`, Linux 4.18+) for every send on
/// `sock`: a datagram longer than `segment` bytes leaves as consecutive datagrams of `segment`
/// bytes each (the last may be shorter), so a video frame of equal-sized RTP packets crosses
/// the stack once instead of once per packet. A datagram of at most `segment` bytes goes as
/// it is. Errors when the kernel lacks it; the caller then sends packet by packet.
pub fn set_gso(sock: &impl std::os::fd::AsFd, segment: u16) -> io::Result<()> {
    nix::sys::socket::setsockopt(
        sock,
        nix::sys::socket::sockopt::UdpGsoSegment,
        &i32::from(segment),
    )
    .map_err(io::Error::from)
}

/// Most segments one GSO send may carry (the kernel's `UDP_MAX_SEGMENTS` on the oldest
/// kernels that have GSO); a send must also stay within one 64 KiB datagram.
pub const GSO_MAX_SEGMENTS: usize = 64;

/// The source address the kernel would use to reach `target` (for Via and Contact).
pub fn route_source(target: SocketAddr) -> io::Result<IpAddr> {
    let probe = std::net::UdpSocket::bind(match target {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    })?;
    probe.connect(target)?;
    Ok(probe.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gso_send_arrives_as_datagrams_of_the_segment_size() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        if set_gso(&tx, 100).is_err() {
            eprintln!("SKIPPED: this kernel has no UDP GSO");
            return;
        }
        let mut buf: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
        tx.send_to(&buf, rx.local_addr().unwrap()).unwrap();
        // A datagram no longer than a segment goes as it is.
        tx.send_to(&buf[..40], rx.local_addr().unwrap()).unwrap();
        let mut got = vec![];
        let mut b = [0u8; 1000];
        for _ in 0..4 {
            let n = rx.recv(&mut b).unwrap();
            got.push(b[..n].to_vec());
        }
        let lens: Vec<usize> = got.iter().map(Vec::len).collect();
        assert_eq!(lens, [100, 100, 50, 40]);
        assert_eq!(got[..3].concat(), buf);
        buf.truncate(40);
        assert_eq!(got[3], buf);
    }
}
