//! `run --metrics`: the generator's numbers as Prometheus metrics, from the per-second
//! snapshots the reporter already merges for the progress line.
//!
//! Counters and histograms are totals of the run so far (the second's snapshot added to a
//! running total here, on the reporter thread), gauges are of the end of the last second, so
//! the last page of a run carries the numbers of its final report.

use super::{Endpoint, LATENCY_BUCKETS_US, Page};
use crate::camera::TxnKind;
use crate::stats::Snapshot;
use std::net::SocketAddr;

/// The run's metrics so far, published each second.
pub struct RunMetrics {
    endpoint: Endpoint,
    total: Snapshot,
}

impl RunMetrics {
    /// Starts the endpoint on `addr`, serving an empty run until the first second.
    pub fn start(addr: SocketAddr) -> std::io::Result<RunMetrics> {
        let total = Snapshot::default();
        let endpoint = Endpoint::start(addr, page(&total).encode())?;
        Ok(RunMetrics { endpoint, total })
    }

    /// Where scrapers connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr()
    }

    /// Adds one second's merged numbers and publishes the page.
    pub fn second(&mut self, snap: &Snapshot) {
        add_second(&mut self.total, snap);
        self.endpoint.publish(page(&self.total).encode());
    }
}

/// Adds one second to the run's totals: transactions and counters add up, gauges are the
/// second's own (the population now, not a sum over time).
fn add_second(total: &mut Snapshot, snap: &Snapshot) {
    total.merge(snap);
    total.gauges = snap.gauges;
}

/// The page for a run's totals `t` (gauges of its last second).
pub fn page(t: &Snapshot) -> Page {
    let mut p = Page::new();
    let g = &t.gauges;
    for (state, n) in [
        ("registered", g.registered),
        ("registering", g.registering),
        ("offline", g.offline()),
        ("stopped", g.stopped),
        ("not_started", g.cameras.saturating_sub(g.started)),
    ] {
        p.gauge(
            "gbswarm_run_cameras",
            "Cameras by state at the end of the last second.",
            &[("state", state)],
            n as f64,
        );
    }
    p.gauge(
        "gbswarm_run_in_flight",
        "Client transactions in flight at the end of the last second.",
        &[],
        g.in_flight as f64,
    );
    p.gauge(
        "gbswarm_run_video_streams",
        "Live video streams sending at the end of the last second.",
        &[],
        g.streams as f64,
    );
    for (what, n) in t.video.fields() {
        p.counter(
            "gbswarm_run_video",
            "Live video: INVITEs received and how they were answered, streams started and ended, RTP packets and bytes sent, TCP media connects, reconnects, connect failures and skipped frames (JSON report names).",
            &[("what", what)],
            n,
        );
    }
    p.gauge(
        "gbswarm_run_subscriptions",
        "Subscriptions the cameras held at the end of the last second.",
        &[],
        g.subscriptions as f64,
    );
    for (what, n) in t.subs.fields() {
        p.counter(
            "gbswarm_run_subscription_events",
            "Subscriptions and alarms: SUBSCRIBEs and how they were answered and ended, NOTIFYs sent by kind, alarms raised and sent as MESSAGEs (JSON report `subscriptions` names).",
            &[("what", what)],
            n,
        );
    }
    let c = &t.counters;
    for (command, n) in crate::gb::control::Control::NAMES.iter().zip(c.controls) {
        p.counter(
            "gbswarm_run_device_controls",
            "DeviceControl and DeviceConfig commands the cameras took, by command.",
            &[("command", command)],
            n,
        );
    }
    p.counter(
        "gbswarm_run_reboots",
        "TeleBoot restarts: the camera unregistered and registered again after --reboot-delay.",
        &[],
        c.reboots,
    );
    p.counter(
        "gbswarm_run_bad_queries",
        "Queries and controls refused 400: a DeviceID neither the device nor one of its channels, or a bad time range.",
        &[],
        c.bad_queries,
    );
    p.counter(
        "gbswarm_run_retransmissions",
        "UDP retransmissions sent (counted as sent).",
        &[],
        t.counters.retransmissions,
    );
    for kind in TxnKind::ALL {
        let k = t.kind(kind);
        let name = kind.as_str();
        for (outcome, n) in [
            ("ok", k.succeeded()),
            ("rejected", k.rejected()),
            ("timeout", k.timeouts),
            ("transport_error", k.transport_errors),
            ("pending_at_stop", k.abandoned),
        ] {
            p.counter(
                "gbswarm_run_transactions",
                "Transactions that ended, by kind and outcome (ok: 2xx; rejected: another final status).",
                &[("kind", name), ("outcome", outcome)],
                n,
            );
        }
        for &(code, n) in &k.statuses {
            p.counter(
                "gbswarm_run_responses",
                "Final responses by transaction kind and status code.",
                &[("kind", name), ("code", &code.to_string())],
                n,
            );
        }
        p.histogram(
            "gbswarm_run_latency_seconds",
            "Latency from when the request was due to its final response (corrected for coordinated omission).",
            &[("kind", name)],
            &k.latency,
            &LATENCY_BUCKETS_US,
        );
        p.histogram(
            "gbswarm_run_service_seconds",
            "Service time, from when the request was first sent to its final response.",
            &[("kind", name)],
            &k.service,
            &LATENCY_BUCKETS_US,
        );
        p.quantiles(
            "gbswarm_run_latency_quantile_seconds",
            "Exact latency percentiles of the run so far (HdrHistogram, as the report prints them; quantile 1 is the largest).",
            &[("kind", name)],
            &k.latency,
        );
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Outcome, Record};
    use crate::clock::Span;

    use crate::stats::Gauges;

    /// A second that ended these transactions (kind, outcome, latency µs), sent `retrans`
    /// retransmissions and ended with population `gauges`.
    fn second(ended: &[(TxnKind, Outcome, u64)], retrans: u64, gauges: Gauges) -> Snapshot {
        let mut s = Snapshot::default();
        for &(kind, outcome, us) in ended {
            s.record(&Record {
                kind,
                outcome,
                latency: Span::from_micros(us),
                lag: Span::ZERO,
                redirected: false,
                retransmits: 0,
            });
        }
        s.counters.retransmissions = retrans;
        s.gauges = gauges;
        s
    }

    #[test]
    fn seconds_add_up_and_gauges_are_of_the_last_second() {
        use Outcome::{Status, Timeout};
        use TxnKind::{Keepalive, Register};
        let mut first = second(
            &[
                (Register, Status(200), 2_000),
                (Register, Status(403), 3_000),
            ],
            4,
            Gauges {
                cameras: 10,
                started: 5,
                registered: 1,
                in_flight: 3,
                ..Gauges::default()
            },
        );
        let mut last = second(
            &[(Register, Status(200), 1_000), (Keepalive, Timeout, 0)],
            1,
            Gauges {
                cameras: 10,
                started: 10,
                registered: 6,
                registering: 2,
                ..Gauges::default()
            },
        );
        first.video.rtp_packets = 10;
        last.video.rtp_packets = 5;
        last.video.invites = 1;
        last.gauges.streams = 4;
        let mut total = Snapshot::default();
        add_second(&mut total, &first);
        add_second(&mut total, &last);
        let text = page(&total).encode();
        for line in [
            "gbswarm_run_cameras{state=\"registered\"} 6.0",
            "gbswarm_run_cameras{state=\"registering\"} 2.0",
            "gbswarm_run_cameras{state=\"offline\"} 2.0",
            "gbswarm_run_cameras{state=\"not_started\"} 0.0",
            "gbswarm_run_in_flight 0.0",
            "gbswarm_run_video_streams 4.0",
            "gbswarm_run_video_total{what=\"rtp_packets\"} 15",
            "gbswarm_run_video_total{what=\"invites\"} 1",
            "gbswarm_run_retransmissions_total 5",
            "gbswarm_run_reboots_total 0",
            "gbswarm_run_transactions_total{kind=\"register\",outcome=\"ok\"} 2",
            "gbswarm_run_transactions_total{kind=\"register\",outcome=\"rejected\"} 1",
            "gbswarm_run_transactions_total{kind=\"keepalive\",outcome=\"timeout\"} 1",
            "gbswarm_run_responses_total{kind=\"register\",code=\"403\"} 1",
            "gbswarm_run_latency_seconds_count{kind=\"register\"} 3",
            "gbswarm_run_latency_seconds_bucket{kind=\"register\",le=\"0.001\"} 1",
            "gbswarm_run_latency_seconds_bucket{kind=\"register\",le=\"0.0025\"} 2",
            "gbswarm_run_latency_quantile_seconds{kind=\"register\",quantile=\"1\"} 0.003001",
            "gbswarm_run_latency_seconds_count{kind=\"keepalive\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(
            !text.contains("gbswarm_run_latency_quantile_seconds{kind=\"keepalive\""),
            "a timeout is counted, not timed"
        );
    }
}
