//! The play driver's lines in `gbswarm serve`'s output: one per second with `--stats`, and the
//! summary line at the end, whose `name=value` pairs are the counters of
//! [`PlayStats::counters`] (scripts and tests read them), then the gauges, the mean bitrate
//! and the two latency histograms.

use crate::server::play::stats::PlayStats;
use std::time::Duration;

/// Milliseconds, three decimals, from a histogram value in µs.
fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// The per-second line: what changed since `last`, over `span`, then the gauges and the
/// check failures so far.
pub fn interval_line(st: &PlayStats, last: &PlayStats, span: Duration) -> String {
    let d = |k: &str| st.get(k) - last.get(k);
    let secs = span.as_secs_f64().max(0.001);
    format!(
        "play: active {} | INVITE {} 200 {} 4xx {} 5xx {} timeouts {} | started {} ended {} | SSRC in use {} exhausted {} | RTP {} pkt/s {:.0} kbit/s | so far: lost {} reordered {} bad SSRC {} bad ts {} no PS {} no-RTP {}",
        st.active(),
        d("invites"),
        d("ok"),
        d("4xx"),
        d("5xx"),
        d("invite_timeouts"),
        d("streams_started"),
        d("streams_ended"),
        st.ssrc_in_use(),
        st.ssrc_exhausted,
        (d("rtp_packets") as f64 / secs).round(),
        d("rtp_bytes") as f64 * 8.0 / 1000.0 / secs,
        st.lost,
        st.reordered,
        st.bad_ssrc,
        st.bad_timestamp,
        st.missing_ps,
        st.no_rtp,
    )
}

/// The summary line, over a run of `span`.
pub fn summary(st: &PlayStats, span: Duration) -> String {
    let mut line = String::from("gbswarm serve: play");
    for (name, v) in st.counters() {
        line.push_str(&format!(" {name}={v}"));
    }
    line.push_str(&format!(
        " active={} ssrc_in_use={} mean_kbit_s={:.0}",
        st.active(),
        st.ssrc_in_use(),
        st.rtp_bytes as f64 * 8.0 / 1000.0 / span.as_secs_f64().max(0.001)
    ));
    for (name, h) in [
        ("invite_to_200_ms", &st.invite_to_ok_us),
        ("200_to_rtp_ms", &st.ok_to_rtp_us),
    ] {
        if h.is_empty() {
            line.push_str(&format!(" {name}=none"));
        } else {
            line.push_str(&format!(
                " {name}=p50:{},p99:{},max:{}",
                ms(h.value_at_quantile(0.5)),
                ms(h.value_at_quantile(0.99)),
                ms(h.max())
            ));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_counter_and_the_latencies() {
        let mut st = PlayStats {
            invites: 4,
            rtp_bytes: 125_000,
            ..PlayStats::default()
        };
        st.invite_to_ok_us.record(2_500).unwrap();
        st.gauge = None;
        st.set_gauges(0, 2, 3);
        let s = summary(&st, Duration::from_secs(1));
        assert!(
            s.starts_with("gbswarm serve: play invites=4 invite_retransmits=0"),
            "{s}"
        );
        assert!(
            s.contains(" active=2 ssrc_in_use=3 mean_kbit_s=1000 "),
            "{s}"
        );
        assert!(s.contains(" invite_to_200_ms=p50:2.50"), "{s}");
        assert!(s.ends_with(" 200_to_rtp_ms=none"), "{s}");
        let line = interval_line(&st, &PlayStats::default(), Duration::from_secs(1));
        assert!(line.starts_with("play: active 2 | INVITE 4 "), "{line}");
    }
}
