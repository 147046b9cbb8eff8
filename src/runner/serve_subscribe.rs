//! The subscribe driver's lines in `gbswarm serve`'s output: a `subscribe:` and a `query:`
//! line per second with `--stats`, and the summary lines at the end, whose `name=value` pairs
//! are the counters of [`SUBSCRIBE_NAMES`](crate::server::subscribe::stats::SUBSCRIBE_NAMES)
//! and [`QUERY_NAMES`](crate::server::subscribe::stats::QUERY_NAMES) (scripts and tests read
//! them), then the gauge and the latency histograms.

use crate::server::subscribe::stats::{C, SubStats};
use hdrhistogram::Histogram;

/// `p50:..,p99:..,max:..` in milliseconds (three decimals), or `none`.
fn percentiles(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "none".into();
    }
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    format!(
        "p50:{},p99:{},max:{}",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// The per-second `subscribe:` line: what changed since `last` (a second ago), then the gauge and the
/// failures so far.
pub fn subscribe_line(st: &SubStats, last: &SubStats) -> String {
    let d = |c: C| st.get(c) - last.get(c);
    format!(
        "subscribe: active {} | SUBSCRIBE {} refresh {} 200 {} 4xx {} 5xx {} timeouts {} | NOTIFY catalog {} position {} alarm {} unknown {} | alarm MESSAGE {} | so far: lost {} terminated {} not registered {}",
        st.active(),
        d(C::Subscribes),
        d(C::Refreshes),
        d(C::SubOk),
        d(C::Sub4xx),
        d(C::Sub5xx),
        d(C::SubTimeouts),
        d(C::NotifyCatalog),
        d(C::NotifyPosition),
        d(C::NotifyAlarm),
        d(C::NotifyUnknown),
        d(C::AlarmMessages),
        st.get(C::Lost),
        st.get(C::NotifyTerminated),
        st.get(C::NotRegistered),
    )
}

/// The per-second `query:` line: what changed since `last` (a second ago), then the gauge and the failures
/// so far.
pub fn query_line(st: &SubStats, last: &SubStats) -> String {
    let d = |c: C| st.get(c) - last.get(c);
    format!(
        "query: outstanding {} | sent {} 200 {} 4xx {} answered {} incomplete {} timeouts {} | pages {} items {} | so far: table full {} unmatched pages {}",
        st.outstanding(),
        d(C::Queries),
        d(C::QueryOk),
        d(C::Query4xx),
        d(C::Answered),
        d(C::Incomplete),
        d(C::QueryTimeouts),
        d(C::Pages),
        d(C::Items),
        st.get(C::TableFull),
        st.get(C::UnmatchedPages),
    )
}

/// The `gbswarm serve: subscribe ...` summary line.
pub fn subscribe_summary(st: &SubStats) -> String {
    let mut line = String::from("gbswarm serve: subscribe");
    for (name, v) in st.subscribe_counters() {
        line.push_str(&format!(" {name}={v}"));
    }
    line.push_str(&format!(" active={}", st.active()));
    for (name, h) in [
        ("subscribe_to_200_ms", &st.subscribe_to_ok_us),
        ("200_to_first_notify_ms", &st.ok_to_first_notify_us),
        ("position_late_ms", &st.position_late_us),
    ] {
        line.push_str(&format!(" {name}={}", percentiles(h)));
    }
    line
}

/// The `gbswarm serve: query ...` summary line.
pub fn query_summary(st: &SubStats) -> String {
    let mut line = String::from("gbswarm serve: query");
    for (name, v) in st.query_counters() {
        line.push_str(&format!(" {name}={v}"));
    }
    line.push_str(&format!(" outstanding={}", st.outstanding()));
    for (name, h) in [
        ("query_to_200_ms", &st.query_to_ok_us),
        ("query_to_last_page_ms", &st.query_to_last_page_us),
    ] {
        line.push_str(&format!(" {name}={}", percentiles(h)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summaries_name_every_counter_and_the_latencies() {
        let mut st = SubStats::default();
        st.add(C::Subscribes, 3);
        st.add(C::NotifyPosition, 9);
        st.add(C::Items, 12);
        st.set_gauges(0, 3, 1);
        st.ok_to_first_notify_us.record(2_500).unwrap();
        let s = subscribe_summary(&st);
        assert!(
            s.starts_with("gbswarm serve: subscribe subscribes=3 refreshes=0 retransmits=0 ok=0"),
            "{s}"
        );
        assert!(s.contains(" notify_mobile_position=9 "), "{s}");
        assert!(
            s.contains(" active=3 subscribe_to_200_ms=none 200_to_first_notify_ms=p50:2.50"),
            "{s}"
        );
        assert!(s.ends_with(" position_late_ms=none"), "{s}");
        let q = query_summary(&st);
        assert!(
            q.starts_with("gbswarm serve: query queries=0 retransmits=0 ok=0"),
            "{q}"
        );
        assert!(q.contains(" items=12 "), "{q}");
        assert!(q.contains(" outstanding=1 query_to_200_ms=none"), "{q}");
        let line = subscribe_line(&st, &SubStats::default());
        assert!(
            line.starts_with("subscribe: active 3 | SUBSCRIBE 3 refresh 0"),
            "{line}"
        );
        assert!(line.contains("position 9"), "{line}");
        let line = query_line(&st, &SubStats::default());
        assert!(line.starts_with("query: outstanding 1 | sent 0"), "{line}");
    }
}
