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

/// Checks that `sockets` client sockets fit the descriptor limit and the ports of `ips`.
pub fn check(
    sockets: u64,
    tcp: bool,
    ips: &[IpAddr],
    cameras_per_socket: u32,
) -> Result<(), String> {
    let limit = raise_nofile();
    // Room for the poll instances, the embedded server and stdio.
    let needed = sockets + 256;
    if needed > limit {
        let advice = if tcp {
            "TCP needs one connection per camera: run fewer cameras per process (see --shard) or raise the hard limit (ulimit -Hn)".to_string()
        } else {
            let cps = (sockets * u64::from(cameras_per_socket))
                .div_ceil(limit.saturating_sub(256).max(1));
            format!("use --cameras-per-socket {cps} or more, or raise the hard limit (ulimit -Hn)")
        };
        return Err(format!(
            "the fleet needs {needed} file descriptors but this process may open {limit}: {advice}"
        ));
    }
    let (lo, hi) = ephemeral_ports();
    let per_ip = u64::from(hi.saturating_sub(lo)) + 1;
    let n_ips = ips.len().max(1) as u64;
    if sockets.div_ceil(n_ips) > per_ip {
        return Err(format!(
            "{sockets} sockets over {n_ips} local address(es) need more than the {per_ip} ephemeral ports each address has ({lo}-{hi}): add addresses with --local-ip (e.g. 127.0.0.1-127.0.0.8){}",
            if tcp {
                ""
            } else {
                " or raise --cameras-per-socket"
            }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_explained() {
        assert!(check(10, false, &[], 1).is_ok());
        let e = check(10_000_000, false, &[], 1).unwrap_err();
        assert!(e.contains("--cameras-per-socket"), "{e}");
        let e = check(10_000_000, true, &[], 1).unwrap_err();
        assert!(e.contains("file descriptors"), "{e}");
        let (lo, hi) = ephemeral_ports();
        assert!(lo < hi);
    }
}
