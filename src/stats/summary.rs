//! The end-of-run report: a human table for stdout and a JSON document with a stable schema
//! (`gbswarm.run/1`) that carries the full histograms, so that the reports of several
//! generator processes can be merged exactly (`gbswarm merge`).
//!
//! JSON schema `gbswarm.run/1` (fields are only ever added, never renamed or removed):
//! - `schema`: `"gbswarm.run/1"`
//! - `info`: `target`, `transport`, `cameras`, `cores`, `duration_s`, `stop_reason`,
//!   `cpu_s` (whole process, user + system) with `cpu_user_s` and `cpu_system_s`,
//!   `peak_rss_bytes`, `shard` (`"K/N"` or null), `run_id` (8 hex digits, random per run,
//!   the start of every Call-ID), `started_unix_s` and `started` (UTC, `…Z`), `host`,
//!   `version` and `commit` (of gbswarm), `settings` (every setting of the run as
//!   `{"key", "value"}` in profile-key names, in order: `jq '.info.settings | from_entries'`),
//!   `shards` (a merged report's runs, each with `shard`, `run_id`, `host`, `cameras`,
//!   `duration_s`, `started_unix_s`, `cpu_s`, `cpu_user_s`, `cpu_system_s`; empty for a run).
//!   Written by [`RunInfo::to_json`].
//! - `kinds`: an object keyed by `register`, `refresh`, `unregister`, `keepalive`,
//!   `query_response` (only kinds that happened), each with `sent`, `ok` (2xx), `rejected`
//!   (non-2xx), `statuses` (status code → count, every final response, 2xx included),
//!   `redirected` (transactions that followed a 302 and ended at the server it named; each is
//!   also counted once by its final outcome there, so a followed 302 is in no status and is
//!   never a rejection), `timeouts`, `transport_errors`, `pending_at_stop`, `retransmits`,
//!   `latency_us` (`count` timed, `p50`, `p90`, `p99`, `p99_9`, `max`, `mean`) and
//!   `histogram`: the latency histogram in µs as an HdrHistogram V2 deflate-compressed,
//!   base64-encoded blob (the format HdrHistogram tools read).
//!   `sent = ok + rejected + timeouts + transport_errors + pending_at_stop`.
//! - `counters`: `online`, `offline` (transitions), `stray`, `malformed`, `queries`,
//!   `queries_refused`, `request_retransmits`, `unrouted`, `send_errors`,
//!   `unanswerable_challenges` (401/407 with no Digest challenge of a supported algorithm)
//! - `gauges` (at the end): `cameras`, `started`, `registered`, `stopped`
//! - `timeline`: one entry per second: `t_s`; `kinds` (only kinds with something in that
//!   second) each with `ok`, `redirected`, `rejected`, `timeouts`, `transport_errors`,
//!   `pending_at_stop`, `retransmits`, and when timed `latency_us` (`p50`, `p90`, `p99`, `max`)
//!   and `histogram` (that second's, as above, so shards merge by second exactly);
//!   `retransmissions` (sent that second); `gauges` at its end (`cameras`, `started`,
//!   `registered`, `registering`, `stopped`, `in_flight`). Written by
//!   [`Second::to_json`](super::series::Second::to_json).

pub use super::info::{RunInfo, ShardInfo};
use super::series::Second;
use super::snapshot::{KindStats, new_histogram};
use super::{Gauges, Snapshot};
use crate::camera::{Counters, TxnKind};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn quantile(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

/// The stdout report.
pub fn render_text(info: &RunInfo, total: &Snapshot) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "gbswarm: {} cameras over {} to {}, {} worker(s), {:.1} s ({})",
        info.cameras, info.transport, info.target, info.cores, info.duration_s, info.stop_reason
    );
    let _ = writeln!(
        s,
        "\n{:<15} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} | {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "kind",
        "sent",
        "2xx",
        "rejected",
        "timeout",
        "transport",
        "pending",
        "retrans",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "mean ms"
    );
    let mut transactions = 0;
    for k in TxnKind::ALL {
        let st = total.kind(k);
        if st.total() == 0 {
            continue;
        }
        transactions += st.total();
        let h = &st.latency;
        let _ = writeln!(
            s,
            "{:<15} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} | {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            k.as_str(),
            st.total(),
            st.succeeded(),
            st.rejected(),
            st.timeouts,
            st.transport_errors,
            st.abandoned,
            st.retransmits,
            ms(quantile(h, 0.5)),
            ms(quantile(h, 0.9)),
            ms(quantile(h, 0.99)),
            ms(quantile(h, 0.999)),
            ms(if h.is_empty() { 0 } else { h.max() }),
            if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
        );
    }
    s.push('\n');
    for k in TxnKind::ALL {
        let st = total.kind(k);
        if st.total() == 0 {
            continue;
        }
        let codes: Vec<String> = st
            .statuses
            .iter()
            .filter(|(c, _)| !(200..300).contains(c))
            .map(|(c, n)| format!("{c}:{n}"))
            .collect();
        let _ = writeln!(
            s,
            "{:<15} sent {} = ok {} + rejected {}{} + timed out {} + transport errors {} + pending at stop {}; {:.0}/s",
            k.as_str(),
            st.total(),
            st.succeeded(),
            st.rejected(),
            if codes.is_empty() {
                String::new()
            } else {
                format!(" ({})", codes.join(" "))
            },
            st.timeouts,
            st.transport_errors,
            st.abandoned,
            st.total() as f64 / info.duration_s.max(1e-9)
        );
        let _ = writeln!(
            s,
            "{:<15} statuses {}; redirected {}",
            "",
            status_breakdown(st),
            st.redirected
        );
    }
    let c = &total.counters;
    let g = &total.gauges;
    let _ = writeln!(
        s,
        "\ncameras: {} in fleet, {} started, {} registered and {} stopped at the end; {} went online, {} went offline",
        g.cameras, g.started, g.registered, g.stopped, c.online, c.offline
    );
    let _ = writeln!(
        s,
        "platform queries answered {} (refused {}, retransmitted requests {}); stray responses {}, malformed {}, unrouted {}, send errors {}",
        c.queries,
        c.queries_refused,
        c.request_retransmits,
        c.stray,
        c.malformed,
        total.unrouted,
        total.send_errors
    );
    if c.unanswerable_challenges > 0 {
        let _ = writeln!(
            s,
            "challenges not answered: {} (no Digest challenge with a supported algorithm: MD5, SHA-256, SHA-512-256 or their -sess forms; each ended its transaction with the challenge's 401/407)",
            c.unanswerable_challenges
        );
    }
    let cpu = info.cpu.total().as_secs_f64();
    let _ = writeln!(
        s,
        "cpu {:.2} s (user {:.2}, system {:.2}; workers {:.2}), {:.1} µs per transaction{}",
        cpu,
        info.cpu.user.as_secs_f64(),
        info.cpu.system.as_secs_f64(),
        total.worker_cpu.as_secs_f64(),
        total.worker_cpu.as_secs_f64() * 1e6 / transactions.max(1) as f64,
        info.peak_rss_bytes
            .map(|b| format!(", peak RSS {} MiB", b >> 20))
            .unwrap_or_default()
    );
    s
}

/// Every final status of a kind with its count (`200:98 403:2`), `none` if there was none. A
/// followed 302 is not among them: the transaction is counted by where it ended.
fn status_breakdown(st: &KindStats) -> String {
    let codes: Vec<String> = st
        .statuses
        .iter()
        .map(|(c, n)| format!("{c}:{n}"))
        .collect();
    if codes.is_empty() {
        "none".into()
    } else {
        codes.join(" ")
    }
}

/// Encodes a histogram as base64 of its V2 deflate serialization.
pub fn histogram_to_base64(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// Decodes [`histogram_to_base64`].
pub fn histogram_from_base64(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))?;
    // Re-home into the standard bounds so merged histograms always add.
    let mut out = new_histogram();
    out.add(&h)
        .map_err(|e| format!("histogram out of range: {e:?}"))?;
    Ok(out)
}

fn kind_json(st: &KindStats) -> Value {
    let h = &st.latency;
    let statuses: Map<String, Value> = st
        .statuses
        .iter()
        .map(|(c, n)| (c.to_string(), json!(n)))
        .collect();
    json!({
        "sent": st.total(),
        "ok": st.succeeded(),
        "rejected": st.rejected(),
        "statuses": statuses,
        "redirected": st.redirected,
        "timeouts": st.timeouts,
        "transport_errors": st.transport_errors,
        "pending_at_stop": st.abandoned,
        "retransmits": st.retransmits,
        "latency_us": {
            "count": h.len(),
            "p50": quantile(h, 0.5),
            "p90": quantile(h, 0.9),
            "p99": quantile(h, 0.99),
            "p99_9": quantile(h, 0.999),
            "max": if h.is_empty() { 0 } else { h.max() },
            "mean": if h.is_empty() { 0.0 } else { h.mean() },
        },
        "histogram": histogram_to_base64(h),
    })
}

/// The JSON report.
pub fn to_json(info: &RunInfo, total: &Snapshot, timeline: &[Second]) -> Value {
    let mut kinds = Map::new();
    for k in TxnKind::ALL {
        let st = total.kind(k);
        if st.total() > 0 {
            kinds.insert(k.as_str().into(), kind_json(st));
        }
    }
    let c = &total.counters;
    let g = &total.gauges;
    let timeline: Vec<Value> = timeline.iter().map(Second::to_json).collect();
    json!({
        "schema": "gbswarm.run/1",
        "info": info.to_json(),
        "kinds": kinds,
        "counters": {
            "online": c.online, "offline": c.offline, "stray": c.stray, "malformed": c.malformed,
            "queries": c.queries, "queries_refused": c.queries_refused,
            "request_retransmits": c.request_retransmits, "retransmissions": c.retransmissions,
            "unanswerable_challenges": c.unanswerable_challenges,
            "unrouted": total.unrouted,
            "send_errors": total.send_errors,
        },
        "gauges": { "cameras": g.cameras, "started": g.started, "registered": g.registered, "stopped": g.stopped, "registering": g.registering, "in_flight": g.in_flight },
        "timeline": timeline,
    })
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Reads a JSON report back: its info and its numbers (histograms exact).
pub fn from_json(v: &Value) -> Result<(RunInfo, Snapshot), String> {
    if v.get("schema").and_then(Value::as_str) != Some("gbswarm.run/1") {
        return Err("not a gbswarm.run/1 report".into());
    }
    let mut snap = Snapshot::default();
    let kinds = v
        .get("kinds")
        .and_then(Value::as_object)
        .ok_or("no `kinds`")?;
    for k in TxnKind::ALL {
        let Some(kv) = kinds.get(k.as_str()) else {
            continue;
        };
        let st = &mut snap.kinds[k as usize];
        st.latency =
            histogram_from_base64(kv.get("histogram").and_then(Value::as_str).unwrap_or(""))
                .map_err(|e| format!("{}: {e}", k.as_str()))?;
        if let Some(statuses) = kv.get("statuses").and_then(Value::as_object) {
            for (code, n) in statuses {
                let code: u16 = code.parse().map_err(|_| format!("bad status `{code}`"))?;
                st.statuses.push((code, n.as_u64().unwrap_or(0)));
            }
            st.statuses.sort_unstable();
        }
        st.redirected = u(kv, "redirected");
        st.timeouts = u(kv, "timeouts");
        st.transport_errors = u(kv, "transport_errors");
        st.abandoned = u(kv, "pending_at_stop");
        st.retransmits = u(kv, "retransmits");
    }
    let c = v.get("counters").cloned().unwrap_or(Value::Null);
    snap.counters = Counters {
        online: u(&c, "online"),
        offline: u(&c, "offline"),
        stray: u(&c, "stray"),
        malformed: u(&c, "malformed"),
        queries: u(&c, "queries"),
        queries_refused: u(&c, "queries_refused"),
        request_retransmits: u(&c, "request_retransmits"),
        retransmissions: u(&c, "retransmissions"),
        unanswerable_challenges: u(&c, "unanswerable_challenges"),
    };
    snap.unrouted = u(&c, "unrouted");
    snap.send_errors = u(&c, "send_errors");
    let g = v.get("gauges").cloned().unwrap_or(Value::Null);
    snap.gauges = Gauges {
        cameras: u(&g, "cameras"),
        started: u(&g, "started"),
        registered: u(&g, "registered"),
        stopped: u(&g, "stopped"),
        registering: u(&g, "registering"),
        in_flight: u(&g, "in_flight"),
    };
    let info = RunInfo::from_json(v.get("info").unwrap_or(&Value::Null));
    Ok((info, snap))
}

/// Reads the `timeline` of a JSON report (empty if it has none).
pub fn timeline_from_json(v: &Value) -> Result<Vec<Second>, String> {
    v.get("timeline")
        .and_then(Value::as_array)
        .map_or(Ok(Vec::new()), |t| {
            t.iter().map(Second::from_json).collect()
        })
}

/// Merges several reports exactly: histograms and counts added, gauges summed (the shards
/// of one fleet); the infos as [`RunInfo::merge`] does.
pub fn merge(reports: &[(RunInfo, Snapshot)]) -> (RunInfo, Snapshot) {
    let infos: Vec<&RunInfo> = reports.iter().map(|(i, _)| i).collect();
    let mut total = Snapshot::default();
    for (_, s) in reports {
        total.merge(s);
    }
    (RunInfo::merge(&infos), total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Outcome, Record};
    use crate::clock::Span;

    fn sample(offset: u64) -> Snapshot {
        let mut s = Snapshot::default();
        for i in 0..500u64 {
            s.record(&Record {
                kind: TxnKind::Register,
                outcome: Outcome::Status(200),
                latency: Span::from_micros(400 + i * 3 + offset),
                lag: Span::ZERO,
                retransmits: (i % 7 == 0) as u8,
                redirected: false,
            });
        }
        s.record(&Record {
            kind: TxnKind::Register,
            outcome: Outcome::Status(403),
            latency: Span::from_micros(900),
            lag: Span::ZERO,
            retransmits: 0,
            redirected: false,
        });
        s.record(&Record {
            kind: TxnKind::Keepalive,
            outcome: Outcome::Timeout,
            latency: Span::from_micros(0),
            lag: Span::ZERO,
            retransmits: 3,
            redirected: false,
        });
        s.record(&Record {
            kind: TxnKind::Keepalive,
            outcome: Outcome::Abandoned,
            latency: Span::from_micros(0),
            lag: Span::ZERO,
            retransmits: 0,
            redirected: false,
        });
        s.counters.online = 500;
        s.gauges = Gauges {
            cameras: 500,
            started: 500,
            registered: 0,
            stopped: 500,
            ..Gauges::default()
        };
        s
    }

    fn info() -> RunInfo {
        RunInfo {
            target: "127.0.0.1:5060".into(),
            transport: "udp".into(),
            cameras: 500,
            cores: 2,
            duration_s: 10.0,
            stop_reason: "duration elapsed".into(),
            ..RunInfo::default()
        }
    }

    #[test]
    fn text_has_every_number_and_the_accounting() {
        let t = render_text(&info(), &sample(0));
        assert!(t.contains("register"), "{t}");
        assert!(t.contains("sent 501 = ok 500 + rejected 1 (403:1) + timed out 0 + transport errors 0 + pending at stop 0"), "{t}");
        assert!(
            t.contains(
                "sent 2 = ok 0 + rejected 0 + timed out 1 + transport errors 0 + pending at stop 1"
            ),
            "{t}"
        );
        assert!(t.contains("p99.9 ms") && t.contains("mean ms"));
        assert!(t.contains("statuses 200:500 403:1; redirected 0"), "{t}");
        assert!(t.contains("statuses none; redirected 0"), "{t}");
    }

    #[test]
    fn redirects_are_reported_apart_from_rejections() {
        let mut s = Snapshot::default();
        let mut r = Record {
            kind: TxnKind::Register,
            outcome: Outcome::Status(200),
            latency: Span::from_micros(8_000),
            lag: Span::ZERO,
            retransmits: 0,
            redirected: true,
        };
        for _ in 0..3 {
            s.record(&r);
        }
        // One 302 that could not be followed: a final status, so a rejection.
        r.outcome = Outcome::Status(302);
        r.redirected = false;
        s.record(&r);
        let t = render_text(&info(), &s);
        assert!(t.contains("sent 4 = ok 3 + rejected 1 (302:1) +"), "{t}");
        assert!(t.contains("statuses 200:3 302:1; redirected 3"), "{t}");
        let v = to_json(&info(), &s, &[]);
        let k = &v["kinds"]["register"];
        assert_eq!((k["sent"].as_u64(), k["ok"].as_u64()), (Some(4), Some(3)));
        assert_eq!(
            (k["rejected"].as_u64(), k["redirected"].as_u64()),
            (Some(1), Some(3))
        );
        assert_eq!(k["statuses"]["200"], 3);
        let (_, back) = from_json(&v).unwrap();
        assert_eq!(back.kind(TxnKind::Register).redirected, 3);
    }

    #[test]
    fn json_round_trips_exactly_and_merges() {
        let a = sample(0);
        let v = to_json(&info(), &a, &[Second::of(1, &a)]);
        assert_eq!(v["schema"], "gbswarm.run/1");
        assert_eq!(v["kinds"]["register"]["sent"], 501);
        assert_eq!(v["kinds"]["register"]["statuses"]["403"], 1);
        assert_eq!(v["kinds"]["keepalive"]["pending_at_stop"], 1);
        let text = serde_json::to_string(&v).unwrap();
        let (i2, b) = from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(i2.cameras, 500);
        let (ra, rb) = (a.kind(TxnKind::Register), b.kind(TxnKind::Register));
        assert_eq!(ra.latency.len(), rb.latency.len());
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                ra.latency.value_at_quantile(q),
                rb.latency.value_at_quantile(q)
            );
        }
        assert_eq!(ra.statuses, rb.statuses);
        assert_eq!(ra.retransmits, rb.retransmits);
        assert_eq!(b.kind(TxnKind::Keepalive).timeouts, 1);
        // Merging two shards adds histograms, not percentiles.
        let c = sample(1000);
        let (mi, m) = merge(&[(info(), a.clone()), (info(), c.clone())]);
        assert_eq!(mi.cameras, 1000);
        let mr = m.kind(TxnKind::Register);
        assert_eq!(mr.total(), 1002);
        let mut both = a.kind(TxnKind::Register).latency.clone();
        both.add(&c.kind(TxnKind::Register).latency).unwrap();
        assert_eq!(
            mr.latency.value_at_quantile(0.99),
            both.value_at_quantile(0.99)
        );
        assert_eq!(m.gauges.cameras, 1000);
        assert!(from_json(&json!({"schema": "other"})).is_err());
    }
}
