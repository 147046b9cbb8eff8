//! Live Prometheus metrics for `run --metrics` and `serve --metrics`: a page of numbers in the
//! Prometheus text format (version 0.0.4, encoded by `prometheus-client`), rebuilt once a
//! second from what the reporter already merged, and served by a small loopback HTTP endpoint.
//!
//! Off the hot path by construction: the workers never see any of this. The reporter thread
//! (the one that draws the progress line) turns its per-second numbers into a [`Page`],
//! encodes it and hands the text to the [`Endpoint`], whose own thread only copies the latest
//! text to each scraper. Nothing here locks a worker or reads a socket a worker reads.
//!
//! Latencies are exported twice: as Prometheus histograms with fixed buckets (aggregatable
//! across instances, e.g. shards), and as the exact HdrHistogram percentiles of the run so
//! far as gauges (the numbers the final report prints).

mod endpoint;
mod page;
pub mod run;
pub mod serve;

pub use endpoint::Endpoint;
pub use page::Page;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Bucket upper bounds for transaction latencies, µs: 0.5 ms to 32 s (the UDP transaction
/// timeout, Timer F), then `+Inf`.
pub const LATENCY_BUCKETS_US: [u64; 15] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 32_000_000,
];

/// Bucket upper bounds for the registrar's time to handle one message, µs: 5 µs to 100 ms,
/// then `+Inf`.
pub const SERVICE_BUCKETS_US: [u64; 13] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000,
];

/// The percentiles exported as gauges (`1` is the largest value seen).
pub const QUANTILES: [(f64, &str); 5] = [
    (0.5, "0.5"),
    (0.9, "0.9"),
    (0.99, "0.99"),
    (0.999, "0.999"),
    (1.0, "1"),
];

/// Reads the `--metrics` address: `HOST:PORT`, or a bare port meaning loopback
/// (`9464` → `127.0.0.1:9464`); port 0 picks a free port.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let port = text
            .parse::<u16>()
            .map_err(|_| format!("`{text}` is not a port (0 to 65535)"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    crate::profile::resolve(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_means_loopback_and_a_host_is_resolved() {
        assert_eq!(
            parse_addr("9464").unwrap(),
            "127.0.0.1:9464".parse().unwrap()
        );
        assert_eq!(parse_addr("0").unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(
            parse_addr("0.0.0.0:9464").unwrap(),
            "0.0.0.0:9464".parse().unwrap()
        );
        assert_eq!(
            parse_addr("localhost:9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert!(parse_addr("70000").unwrap_err().contains("not a port"));
        assert!(parse_addr("").is_err());
        assert!(parse_addr("nohost").is_err());
    }
}
