//! Resource checks before a run: file descriptors and local ports, so an oversized fleet fails
//! with advice instead of half-starting.

use std::net::IpAddr;

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limit now in force.
pub fn raise_nofile() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft),
    }
}

/// The ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`), or Linux's default.
pub fn ephemeral_ports() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|v| v.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// Why a fleet does not fit this process or this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// More sockets than file descriptors the process may open.
    Descriptors {
        /// Descriptors the fleet needs (its sockets plus a reserve).
        needed: u64,
        /// Descriptors this process may open.
        limit: u64,
        /// TCP (one connection per camera) rather than UDP (sockets may be shared).
        tcp: bool,
        /// For UDP: the cameras per socket that would fit.
        cameras_per_socket: u64,
    },
    /// More sockets per local address than it has ephemeral ports.
    Ports {
        /// Sockets the fleet needs.
        sockets: u64,
        /// Local addresses they spread over.
        addresses: u64,
        /// The ephemeral range.
        range: (u16, u16),
        /// TCP rather than UDP.
        tcp: bool,
    },
}

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LimitError::Descriptors {
                needed,
                limit,
                tcp,
                cameras_per_socket,
            } => {
                write!(
                    f,
                    "the fleet needs {needed} file descriptors but this process may open {limit}: "
                )?;
                if tcp {
                    write!(
                        f,
                        "TCP needs one connection per camera: run fewer cameras per process (see --shard) or raise the hard limit (ulimit -Hn)"
                    )
                } else {
                    write!(
                        f,
                        "use --cameras-per-socket {cameras_per_socket} or more, or raise the hard limit (ulimit -Hn)"
                    )
                }
            }
            LimitError::Ports {
                sockets,
                addresses,
                range: (lo, hi),
                tcp,
            } => {
                let per_ip = u64::from(hi.saturating_sub(lo)) + 1;
                write!(
                    f,
                    "{sockets} sockets over {addresses} local address(es) need more than the {per_ip} ephemeral ports each address has ({lo}-{hi}): add addresses with --local-ip (e.g. 127.0.0.1-127.0.0.8){}",
                    if tcp {
                        ""
                    } else {
                        " or raise --cameras-per-socket"
                    }
                )
            }
        }
    }
}

impl std::error::Error for LimitError {}

/// Checks that `sockets` client sockets fit the descriptor limit and the ports of `ips`.
pub fn check(
    sockets: u64,
    tcp: bool,
    ips: &[IpAddr],
    cameras_per_socket: u32,
) -> Result<(), LimitError> {
    let limit = raise_nofile();
    // Room for the poll instances, the embedded server and stdio.
    let needed = sockets + 256;
    if needed > limit {
        return Err(LimitError::Descriptors {
            needed,
            limit,
            tcp,
            cameras_per_socket: (sockets * u64::from(cameras_per_socket))
                .div_ceil(limit.saturating_sub(256).max(1)),
        });
    }
    let range = ephemeral_ports();
    let per_ip = u64::from(range.1.saturating_sub(range.0)) + 1;
    let addresses = ips.len().max(1) as u64;
    if sockets.div_ceil(addresses) > per_ip {
        return Err(LimitError::Ports {
            sockets,
            addresses,
            range,
            tcp,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_explained() {
        assert!(check(10, false, &[], 1).is_ok());
        let e = check(10_000_000, false, &[], 1).unwrap_err().to_string();
        assert!(e.contains("--cameras-per-socket"), "{e}");
        let e = check(10_000_000, true, &[], 1).unwrap_err().to_string();
        assert!(e.contains("file descriptors"), "{e}");
        let many_ports = check(200_000, true, &["127.0.0.1".parse().unwrap()], 1);
        if raise_nofile() > 200_256 {
            assert!(matches!(many_ports, Err(LimitError::Ports { .. })));
        }
        let (lo, hi) = ephemeral_ports();
        assert!(lo < hi);
    }
}
