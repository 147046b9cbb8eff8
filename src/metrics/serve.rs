//! `serve --metrics`: the registrar's counters as Prometheus metrics, from the totals the
//! serve loop already collects once a second (the workers hand theirs over on their own; this
//! only reads the merged copy).

use super::{Endpoint, Page, SERVICE_BUCKETS_US};
use crate::server::registrar::Stats;
use std::net::SocketAddr;

/// The request methods counted, in the slots of [`Stats::requests`].
const METHODS: [&str; 4] = ["REGISTER", "MESSAGE", "OPTIONS", "other"];

/// The registrar's metrics, published each second.
pub struct ServeMetrics {
    endpoint: Endpoint,
}

impl ServeMetrics {
    /// Starts the endpoint on `addr`, serving a registrar that has seen nothing yet.
    pub fn start(addr: SocketAddr) -> std::io::Result<ServeMetrics> {
        let first = page(&Stats::default(), (0, 0)).encode();
        Ok(ServeMetrics {
            endpoint: Endpoint::start(addr, first)?,
        })
    }

    /// Where scrapers connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr()
    }

    /// Publishes the totals `st` and the devices (registered, online) now.
    pub fn update(&self, st: &Stats, devices: (u64, u64)) {
        self.endpoint.publish(page(st, devices).encode());
    }
}

/// The page for the registrar's totals `st` and its (registered, online) devices.
pub fn page(st: &Stats, (registered, online): (u64, u64)) -> Page {
    let mut p = Page::new();
    for (method, n) in METHODS.iter().zip(st.requests) {
        p.counter(
            "gbswarm_serve_requests",
            "Requests received, by method.",
            &[("method", method)],
            n,
        );
    }
    for &(code, n) in &st.responses {
        p.counter(
            "gbswarm_serve_responses",
            "Responses sent, by status code.",
            &[("code", &code.to_string())],
            n,
        );
    }
    p.gauge(
        "gbswarm_serve_registered_devices",
        "Devices with a live registration now.",
        &[],
        registered as f64,
    );
    p.gauge(
        "gbswarm_serve_online_devices",
        "Registered devices whose keepalives are on time now.",
        &[],
        online as f64,
    );
    for (name, help, n) in [
        (
            "gbswarm_serve_keepalives",
            "Keepalives from registered devices.",
            st.keepalives,
        ),
        (
            "gbswarm_serve_registrations",
            "Registrations and refreshes accepted.",
            st.registrations,
        ),
        (
            "gbswarm_serve_unregistrations",
            "Unregistrations accepted.",
            st.unregistrations,
        ),
        (
            "gbswarm_serve_redirects",
            "302 redirects sent.",
            st.redirects,
        ),
        (
            "gbswarm_serve_dropped_malformed",
            "Input that did not parse or lacked what a response needs, dropped.",
            st.dropped_malformed,
        ),
        (
            "gbswarm_serve_replays",
            "Replayed credentials refused.",
            st.replays,
        ),
        (
            "gbswarm_serve_refused_connections",
            "TCP connections refused over the limits.",
            st.refused_connections,
        ),
        (
            "gbswarm_serve_auth_failures",
            "Digest answers that failed verification (the attempts bans count).",
            st.auth_failures,
        ),
        (
            "gbswarm_serve_rate_limited",
            "Requests over the per-source rate limit (answered 503 or dropped).",
            st.rate_limited,
        ),
    ] {
        p.counter(name, help, &[], n);
    }
    for (key, i) in [("device", 0), ("source", 1)] {
        p.counter(
            "gbswarm_serve_bans",
            "Bans started after failed authentications, by what was banned.",
            &[("by", key)],
            st.bans[i],
        );
        p.counter(
            "gbswarm_serve_refused_banned",
            "Authenticated REGISTERs refused because the device ID or source was banned.",
            &[("by", key)],
            st.refused_banned[i],
        );
    }
    p.histogram(
        "gbswarm_serve_service_seconds",
        "Time the registrar spent handling each message.",
        &[],
        &st.service_us,
        &SERVICE_BUCKETS_US,
    );
    p.quantiles(
        "gbswarm_serve_service_quantile_seconds",
        "Exact service time percentiles so far (HdrHistogram; quantile 1 is the largest).",
        &[],
        &st.service_us,
    );
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_by_method_responses_by_code_and_devices() {
        let mut st = Stats {
            requests: [6, 2, 1, 0],
            keepalives: 2,
            auth_failures: 7,
            bans: [1, 0],
            refused_banned: [4, 2],
            rate_limited: 9,
            ..Stats::default()
        };
        st.responded(401);
        st.responded(200);
        st.responded(200);
        for us in [3, 7, 40] {
            st.service_us.record(us).unwrap();
        }
        let text = page(&st, (3, 2)).encode();
        for line in [
            "gbswarm_serve_requests_total{method=\"REGISTER\"} 6",
            "gbswarm_serve_requests_total{method=\"other\"} 0",
            "gbswarm_serve_responses_total{code=\"200\"} 2",
            "gbswarm_serve_responses_total{code=\"401\"} 1",
            "gbswarm_serve_registered_devices 3.0",
            "gbswarm_serve_online_devices 2.0",
            "gbswarm_serve_keepalives_total 2",
            "gbswarm_serve_service_seconds_count 3",
            "gbswarm_serve_service_seconds_bucket{le=\"5e-06\"} 1",
            "gbswarm_serve_service_seconds_bucket{le=\"5e-05\"} 3",
            "gbswarm_serve_service_quantile_seconds{quantile=\"1\"} 0.00004",
            "gbswarm_serve_auth_failures_total 7",
            "gbswarm_serve_rate_limited_total 9",
            "gbswarm_serve_bans_total{by=\"device\"} 1",
            "gbswarm_serve_bans_total{by=\"source\"} 0",
            "gbswarm_serve_refused_banned_total{by=\"device\"} 4",
            "gbswarm_serve_refused_banned_total{by=\"source\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
