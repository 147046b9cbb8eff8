//! `serve --metrics`: the registrar's counters as Prometheus metrics, from the totals the
//! serve loop already collects once a second (the workers hand theirs over on their own; this
//! only reads the merged copy). With `--play`, the play driver's counters, gauges and
//! latency percentiles too; with `--subscribe` or `--query`, the subscribe driver's.

use super::{Endpoint, Page, SERVICE_BUCKETS_US};
use crate::server::play::stats::PlayStats;
use crate::server::registrar::Stats;
use crate::server::subscribe::stats::SubStats;
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
        let first = page(&Stats::default(), (0, 0), None, None).encode();
        Ok(ServeMetrics {
            endpoint: Endpoint::start(addr, first)?,
        })
    }

    /// Where scrapers connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr()
    }

    /// Publishes the totals `st`, the devices (registered, online) now and the play and
    /// subscribe drivers' totals, if they run.
    pub fn update(
        &self,
        st: &Stats,
        devices: (u64, u64),
        play: Option<&PlayStats>,
        subs: Option<&SubStats>,
    ) {
        self.endpoint
            .publish(page(st, devices, play, subs).encode());
    }
}

/// The page for the registrar's totals `st`, its (registered, online) devices and the play
/// and subscribe drivers' totals.
pub fn page(
    st: &Stats,
    (registered, online): (u64, u64),
    play: Option<&PlayStats>,
    subs: Option<&SubStats>,
) -> Page {
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
    if let Some(play) = play {
        play_metrics(&mut p, play);
    }
    if let Some(subs) = subs {
        sub_metrics(&mut p, subs);
    }
    p
}

/// The subscribe driver's figures: the subscription counters under one family and the query
/// counters under another, each labelled `what` with the summary line's names, the gauges,
/// and the exact latency percentiles.
fn sub_metrics(p: &mut Page, st: &SubStats) {
    for (what, n) in st.subscribe_counters() {
        p.counter(
            "gbswarm_serve_subscribe_events",
            "Subscribe driver counts by what happened (subscribes, refreshes, ok, 4xx, timeouts, notify_catalog, notify_mobile_position, notify_alarm, notify_unknown, alarm_messages, ...).",
            &[("what", what)],
            n,
        );
    }
    for (what, n) in st.query_counters() {
        p.counter(
            "gbswarm_serve_query_events",
            "Query counts by what happened (queries, ok, answered, incomplete, timeouts, pages, items, table_full, ...).",
            &[("what", what)],
            n,
        );
    }
    p.gauge(
        "gbswarm_serve_subscriptions_active",
        "Subscriptions up now (a 2xx came, not ended).",
        &[],
        st.active() as f64,
    );
    p.gauge(
        "gbswarm_serve_queries_outstanding",
        "Queries sent and not yet over now.",
        &[],
        st.outstanding() as f64,
    );
    for (name, help, h) in [
        (
            "gbswarm_serve_subscribe_to_ok_seconds",
            "SUBSCRIBE sent to its final 2xx, exact percentiles (quantile 1 is the largest).",
            &st.subscribe_to_ok_us,
        ),
        (
            "gbswarm_serve_subscribe_first_notify_seconds",
            "A subscription's 200 to its first NOTIFY, exact percentiles.",
            &st.ok_to_first_notify_us,
        ),
        (
            "gbswarm_serve_subscribe_position_late_seconds",
            "MobilePosition NOTIFY lateness against the previous one plus the interval, exact percentiles.",
            &st.position_late_us,
        ),
        (
            "gbswarm_serve_query_to_ok_seconds",
            "Query MESSAGE sent to its 2xx, exact percentiles.",
            &st.query_to_ok_us,
        ),
        (
            "gbswarm_serve_query_last_page_seconds",
            "A query's due time to its last Response page, exact percentiles.",
            &st.query_to_last_page_us,
        ),
    ] {
        p.quantiles(name, help, &[], h);
    }
}

/// The play driver's figures: every counter of [`PlayStats::counters`] under one family
/// labelled `what`, the gauges, and the exact latency percentiles.
fn play_metrics(p: &mut Page, st: &PlayStats) {
    for (what, n) in st.counters() {
        p.counter(
            "gbswarm_serve_play_events",
            "Play driver counts by what happened (invites, ok, 4xx, streams_started, rtp_packets, lost, bad_ssrc, ...).",
            &[("what", what)],
            n,
        );
    }
    p.gauge(
        "gbswarm_serve_play_streams_active",
        "Play streams up now (200 ACKed, BYE not answered).",
        &[],
        st.active() as f64,
    );
    p.gauge(
        "gbswarm_serve_play_ssrc_in_use",
        "SSRCs of the pool in use now.",
        &[],
        st.ssrc_in_use() as f64,
    );
    p.quantiles(
        "gbswarm_serve_play_invite_to_ok_seconds",
        "INVITE sent to 200 received, exact percentiles (quantile 1 is the largest).",
        &[],
        &st.invite_to_ok_us,
    );
    p.quantiles(
        "gbswarm_serve_play_ok_to_rtp_seconds",
        "200 received to the stream's first RTP packet, exact percentiles.",
        &[],
        &st.ok_to_rtp_us,
    );
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
        let text = page(&st, (3, 2), None, None).encode();
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
        assert!(
            !text.contains("gbswarm_serve_play"),
            "no play figures without --play"
        );
        assert!(
            !text.contains("gbswarm_serve_subscri") && !text.contains("gbswarm_serve_quer"),
            "no subscribe figures without --subscribe"
        );
    }

    #[test]
    fn play_figures_with_play() {
        let mut play = PlayStats {
            invites: 5,
            lost: 2,
            ..PlayStats::default()
        };
        play.set_gauges(0, 3, 4);
        play.invite_to_ok_us.record(1500).unwrap();
        let text = page(&Stats::default(), (0, 0), Some(&play), None).encode();
        for line in [
            "gbswarm_serve_play_events_total{what=\"invites\"} 5",
            "gbswarm_serve_play_events_total{what=\"lost\"} 2",
            "gbswarm_serve_play_streams_active 3.0",
            "gbswarm_serve_play_ssrc_in_use 4.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(
            text.contains("gbswarm_serve_play_invite_to_ok_seconds{quantile="),
            "{text}"
        );
    }

    #[test]
    fn subscribe_and_query_figures_with_subscribe() {
        use crate::server::subscribe::stats::C;
        let mut subs = SubStats::default();
        subs.add(C::NotifyAlarm, 4);
        subs.add(C::Items, 7);
        subs.set_gauges(0, 2, 1);
        subs.position_late_us.record(1500).unwrap();
        let text = page(&Stats::default(), (0, 0), None, Some(&subs)).encode();
        for line in [
            "gbswarm_serve_subscribe_events_total{what=\"notify_alarm\"} 4",
            "gbswarm_serve_subscribe_events_total{what=\"subscribes\"} 0",
            "gbswarm_serve_query_events_total{what=\"items\"} 7",
            "gbswarm_serve_subscriptions_active 2.0",
            "gbswarm_serve_queries_outstanding 1.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(
            text.contains("gbswarm_serve_subscribe_position_late_seconds{quantile="),
            "{text}"
        );
    }
}
