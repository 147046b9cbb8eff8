//! The run as a time series: what each second measured, per transaction kind, as the progress
//! line, the `--csv` stream, the JSON timeline, `merge` and the HTML charts read it.
//!
//! A [`Second`] keeps counts and percentiles, never a live histogram (an hour would hold 18,000
//! of them); for an exact merge of shards by second it also keeps each kind's latency histogram
//! of that second, compressed ([`KindSecond::histogram`]), which [`Second::merge`] decodes,
//! adds and re-reads. This module never reads a clock or writes a file.

use super::snapshot::{KindStats, new_histogram};
use super::summary::{histogram_from_base64, histogram_to_base64};
use super::video::VideoCounters;
use super::{Gauges, Snapshot};
use crate::camera::TxnKind;
use crate::camera::subscribe::SubCounters;
use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

/// Latency percentiles of one kind over one second, µs (from the due time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quantiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Quantiles {
    /// The percentiles of `h`; none without samples (a quiet second has no latency, not 0).
    pub fn of(h: &Histogram<u64>) -> Option<Quantiles> {
        (!h.is_empty()).then(|| Quantiles {
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        })
    }
}

/// One kind's transactions that ended during one second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KindSecond {
    /// Answered 2xx.
    pub ok: u64,
    /// Redirected (3xx) and followed.
    pub redirected: u64,
    /// Answered with a final non-2xx status.
    pub rejected: u64,
    /// No final response in time.
    pub timeouts: u64,
    /// Connection lost or datagram refused.
    pub transport_errors: u64,
    /// Still pending when the camera stopped.
    pub abandoned: u64,
    /// Retransmissions of the transactions that ended.
    pub retransmits: u64,
    /// Latency from the due time; none without a timed answer.
    pub latency: Option<Quantiles>,
    /// That latency histogram, as [`histogram_to_base64`] (empty without samples).
    pub histogram: String,
}

impl KindSecond {
    /// Summarises one kind's interval.
    pub fn of(k: &KindStats) -> KindSecond {
        KindSecond {
            ok: k.succeeded(),
            redirected: k.redirected,
            rejected: k.rejected(),
            timeouts: k.timeouts,
            transport_errors: k.transport_errors,
            abandoned: k.abandoned,
            retransmits: k.retransmits,
            latency: Quantiles::of(&k.latency),
            histogram: if k.latency.is_empty() {
                String::new()
            } else {
                histogram_to_base64(&k.latency)
            },
        }
    }

    /// Transactions that ended, whatever the outcome.
    pub fn ended(&self) -> u64 {
        self.ok + self.rejected + self.timeouts + self.transport_errors + self.abandoned
    }

    /// Ended without success: rejected, timed out or lost (pending at stop excluded).
    pub fn failed(&self) -> u64 {
        self.rejected + self.timeouts + self.transport_errors
    }

    /// The latency histogram back (empty if none was kept).
    pub fn latency_histogram(&self) -> Result<Histogram<u64>, String> {
        if self.histogram.is_empty() {
            Ok(new_histogram())
        } else {
            histogram_from_base64(&self.histogram)
        }
    }
}

/// One second of a run: per kind what ended in it, and the population at its end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Second {
    /// Seconds since the start (the second that ended then).
    pub t_s: u64,
    /// Per transaction kind, indexed like [`TxnKind::ALL`].
    pub kinds: [KindSecond; TxnKind::ALL.len()],
    /// Cameras and transactions in flight at the end of the second.
    pub gauges: Gauges,
    /// Retransmissions sent during the second (counted as sent, not when their transaction
    /// ended).
    pub retransmissions: u64,
    /// Live video during the second: INVITEs answered, streams started and ended, RTP sent.
    pub video: VideoCounters,
    /// Subscriptions and alarms during the second: SUBSCRIBEs answered, NOTIFYs sent, alarms.
    pub subs: SubCounters,
}

impl Second {
    /// Summarises the interval that ended at second `t_s`.
    pub fn of(t_s: u64, s: &Snapshot) -> Second {
        Second {
            t_s,
            kinds: std::array::from_fn(|i| KindSecond::of(&s.kinds[i])),
            gauges: s.gauges,
            retransmissions: s.counters.retransmissions,
            video: s.video,
            subs: s.subs,
        }
    }

    /// One kind's numbers.
    pub fn kind(&self, k: TxnKind) -> &KindSecond {
        &self.kinds[k as usize]
    }

    /// Adds the same second of another shard: counts and gauges added, latency percentiles
    /// re-read from the sum of both histograms (exact, never averaged).
    pub fn merge(&mut self, o: &Second) -> Result<(), String> {
        for (a, b) in self.kinds.iter_mut().zip(&o.kinds) {
            a.ok += b.ok;
            a.redirected += b.redirected;
            a.rejected += b.rejected;
            a.timeouts += b.timeouts;
            a.transport_errors += b.transport_errors;
            a.abandoned += b.abandoned;
            a.retransmits += b.retransmits;
            if b.histogram.is_empty() {
                continue;
            }
            let mut h = a.latency_histogram()?;
            h.add(b.latency_histogram()?)
                .map_err(|e| format!("histogram out of range: {e:?}"))?;
            a.latency = Quantiles::of(&h);
            a.histogram = histogram_to_base64(&h);
        }
        self.gauges = self.gauges.plus(o.gauges);
        self.retransmissions += o.retransmissions;
        self.video.add(&o.video);
        self.subs.add(&o.subs);
        Ok(())
    }

    /// The JSON timeline entry (schema in [`super::summary`]).
    pub fn to_json(&self) -> Value {
        let mut kinds = Map::new();
        for k in TxnKind::ALL {
            let s = self.kind(k);
            if s.ended() == 0 && s.redirected == 0 {
                continue;
            }
            let mut v = json!({
                "ok": s.ok, "redirected": s.redirected, "rejected": s.rejected,
                "timeouts": s.timeouts, "transport_errors": s.transport_errors,
                "pending_at_stop": s.abandoned, "retransmits": s.retransmits,
            });
            if let Some(q) = s.latency {
                v["latency_us"] = json!({"p50": q.p50, "p90": q.p90, "p99": q.p99, "max": q.max});
                v["histogram"] = json!(s.histogram);
            }
            kinds.insert(k.as_str().into(), v);
        }
        let mut v = json!({
            "t_s": self.t_s,
            "kinds": kinds,
            "retransmissions": self.retransmissions,
            "gauges": self.gauges.to_json(),
        });
        if !self.video.is_empty() {
            v["video"] = self.video.to_json();
        }
        if !self.subs.is_empty() {
            v["subscriptions"] = self.subs.to_json();
        }
        v
    }

    /// Reads a timeline entry written by [`Second::to_json`].
    pub fn from_json(v: &Value) -> Result<Second, String> {
        let u = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
        let mut s = Second {
            t_s: v
                .get("t_s")
                .and_then(Value::as_u64)
                .ok_or("a timeline entry without `t_s`")?,
            retransmissions: u(v, "retransmissions"),
            ..Second::default()
        };
        if let Some(kinds) = v.get("kinds").and_then(Value::as_object) {
            for k in TxnKind::ALL {
                let Some(kv) = kinds.get(k.as_str()) else {
                    continue;
                };
                let ks = &mut s.kinds[k as usize];
                ks.ok = u(kv, "ok");
                ks.redirected = u(kv, "redirected");
                ks.rejected = u(kv, "rejected");
                ks.timeouts = u(kv, "timeouts");
                ks.transport_errors = u(kv, "transport_errors");
                ks.abandoned = u(kv, "pending_at_stop");
                ks.retransmits = u(kv, "retransmits");
                ks.histogram = kv
                    .get("histogram")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                ks.latency = Quantiles::of(
                    &ks.latency_histogram()
                        .map_err(|e| format!("second {}: {}: {e}", s.t_s, k.as_str()))?,
                );
            }
        }
        s.gauges = Gauges::from_json(v.get("gauges").unwrap_or(&Value::Null));
        s.video = VideoCounters::from_json(v.get("video").unwrap_or(&Value::Null));
        s.subs = SubCounters::from_json(v.get("subscriptions").unwrap_or(&Value::Null));
        Ok(s)
    }
}

/// Merges the timelines of several shards by second: the entries of the same second are
/// added (see [`Second::merge`]); a second only some shards reached is kept as they have it.
pub fn merge_by_second(timelines: &[Vec<Second>]) -> Result<Vec<Second>, String> {
    let mut out: std::collections::BTreeMap<u64, Second> = std::collections::BTreeMap::new();
    for t in timelines {
        for s in t {
            match out.get_mut(&s.t_s) {
                Some(m) => m.merge(s)?,
                None => {
                    out.insert(s.t_s, s.clone());
                }
            }
        }
    }
    Ok(out.into_values().collect())
}

/// The `--csv` columns: one row per second per kind, in [`TxnKind::ALL`] order.
pub const CSV_HEADER: &str = "t_s,kind,ok,redirected,rejected,timeouts,transport_errors,\
pending_at_stop,retransmits,p50_ms,p90_ms,p99_ms,max_ms,in_flight,registered,registering,\
offline,started,stopped,retransmissions_sent,streams,rtp_packets,rtp_kbps\n";

/// The `--csv` rows of one second (every kind, so each kind's series has every second;
/// percentile cells are empty when the kind had no timed answer). The columns after the
/// kind's own are the second's, repeated on each of its rows: the population at its end, the
/// retransmissions and RTP packets sent in it, the live streams at its end and the RTP
/// bitrate over it (kbit/s, headers included).
pub fn write_csv(s: &Second, out: &mut String) {
    use std::fmt::Write as _;
    let g = &s.gauges;
    for k in TxnKind::ALL {
        let ks = s.kind(k);
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},",
            s.t_s,
            k.as_str(),
            ks.ok,
            ks.redirected,
            ks.rejected,
            ks.timeouts,
            ks.transport_errors,
            ks.abandoned,
            ks.retransmits
        );
        match ks.latency {
            Some(q) => {
                let ms = |us: u64| us as f64 / 1000.0;
                let _ = write!(
                    out,
                    "{:.3},{:.3},{:.3},{:.3},",
                    ms(q.p50),
                    ms(q.p90),
                    ms(q.p99),
                    ms(q.max)
                );
            }
            None => out.push_str(",,,,"),
        }
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{:.1}",
            g.in_flight,
            g.registered,
            g.registering,
            g.offline(),
            g.started,
            g.stopped,
            s.retransmissions,
            g.streams,
            s.video.rtp_packets,
            s.video.rtp_bytes as f64 * 8.0 / 1000.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Outcome, Record};
    use crate::clock::Span;

    fn snap(latencies_us: &[u64], registered: u64) -> Snapshot {
        let mut s = Snapshot::default();
        for &l in latencies_us {
            s.record(&Record {
                kind: TxnKind::Keepalive,
                outcome: Outcome::Status(200),
                latency: Span::from_micros(l),
                lag: Span::ZERO,
                redirected: false,
                retransmits: 0,
            });
        }
        s.record(&Record {
            kind: TxnKind::Register,
            outcome: Outcome::Timeout,
            latency: Span::from_secs(32),
            lag: Span::ZERO,
            redirected: false,
            retransmits: 6,
        });
        s.gauges.registered = registered;
        s.gauges.started = registered + 1;
        s.counters.retransmissions = 2;
        s
    }

    #[test]
    fn a_quiet_kind_has_no_percentiles_and_empty_csv_cells() {
        let s = Second::of(3, &snap(&[], 5));
        assert_eq!(s.kind(TxnKind::Keepalive).latency, None);
        let r = s.kind(TxnKind::Register);
        assert_eq!((r.timeouts, r.retransmits, r.failed()), (1, 6, 1));
        let mut csv = String::new();
        write_csv(&s, &mut csv);
        assert_eq!(csv.lines().count(), TxnKind::ALL.len());
        assert!(
            csv.lines()
                .any(|l| l == "3,keepalive,0,0,0,0,0,0,0,,,,,0,5,0,1,6,0,2,0,0,0.0"),
            "{csv}"
        );
        assert_eq!(
            CSV_HEADER.trim_end().split(',').count(),
            csv.lines().next().unwrap().split(',').count()
        );
    }

    #[test]
    fn a_second_of_video_has_streams_and_bitrate_in_csv_and_survives_json_and_merge() {
        let mut v = snap(&[100], 3);
        v.gauges.streams = 2;
        v.video.streams_started = 2;
        v.video.rtp_packets = 90;
        v.video.rtp_bytes = 125_000;
        let s = Second::of(7, &v);
        let mut csv = String::new();
        write_csv(&s, &mut csv);
        assert!(
            csv.lines().all(|l| l.ends_with(",2,2,90,1000.0")),
            "retransmissions 2, streams 2, 90 packets, 125,000 bytes = 1,000 kbit/s: {csv}"
        );
        let back = Second::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert!(s.to_json().get("video").is_some());
        assert!(
            Second::of(1, &snap(&[], 1))
                .to_json()
                .get("video")
                .is_none()
        );
        let m = merge_by_second(&[vec![s.clone()], vec![back]]).unwrap();
        assert_eq!((m[0].gauges.streams, m[0].video.rtp_bytes), (4, 250_000));
    }

    #[test]
    fn a_second_of_subscriptions_survives_json_and_merge() {
        let mut v = snap(&[100], 3);
        v.gauges.subscriptions = 5;
        v.subs.accepted = 5;
        v.subs.notify_position = 12;
        let s = Second::of(3, &v);
        let json = s.to_json();
        assert_eq!(json["subscriptions"]["notify_position"], 12);
        assert_eq!(json["gauges"]["subscriptions"], 5);
        let back = Second::from_json(&json).unwrap();
        assert_eq!(back, s);
        assert!(
            Second::of(1, &snap(&[], 1))
                .to_json()
                .get("subscriptions")
                .is_none()
        );
        let m = merge_by_second(&[vec![s.clone()], vec![back]]).unwrap();
        assert_eq!((m[0].gauges.subscriptions, m[0].subs.accepted), (10, 10));
    }

    #[test]
    fn shards_merge_by_second_exactly_and_round_trip_through_json() {
        let fast: Vec<u64> = (0..100).map(|i| 100 + i).collect();
        let slow: Vec<u64> = (0..100).map(|i| 10_000 + i).collect();
        let a = vec![
            Second::of(1, &snap(&fast, 10)),
            Second::of(2, &snap(&fast, 10)),
        ];
        let b = vec![Second::of(1, &snap(&slow, 20))];
        let back: Vec<Second> = b
            .iter()
            .map(|s| Second::from_json(&s.to_json()).unwrap())
            .collect();
        assert_eq!(back, b);
        let m = merge_by_second(&[a, back]).unwrap();
        assert_eq!(m.len(), 2);
        let k = m[0].kind(TxnKind::Keepalive);
        assert_eq!(k.ok, 200);
        let mut both = crate::stats::snapshot::new_histogram();
        for &l in fast.iter().chain(&slow) {
            both.record(l).unwrap();
        }
        assert_eq!(k.latency, Quantiles::of(&both), "percentiles of the sum");
        assert_eq!((m[0].gauges.registered, m[0].retransmissions), (30, 4));
        assert_eq!(
            m[1].kind(TxnKind::Keepalive).ok,
            100,
            "second 2 from one shard"
        );
    }
}
