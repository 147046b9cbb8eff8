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
//!   `query_response`, `invite`, `bye`, `notify`, `alarm` (only kinds that happened), each with `sent`, `ok` (2xx), `rejected`
//!   (non-2xx), `statuses` (status code → count, every final response, 2xx included),
//!   `redirected` (transactions that followed a 302 and ended at the server it named; each is
//!   also counted once by its final outcome there, so a followed 302 is in no status and is
//!   never a rejection), `timeouts`, `transport_errors`, `pending_at_stop`, `retransmits`,
//!   `latency_us` (`count` timed, `p50`, `p90`, `p99`, `p99_9`, `max`, `mean`) and
//!   `histogram`: the latency histogram in µs as an HdrHistogram V2 deflate-compressed,
//!   base64-encoded blob (the format HdrHistogram tools read).
//!   `sent = ok + rejected + timeouts + transport_errors + pending_at_stop`.
//!   Latency runs from when a request was *due* to its final answer (what a user of the server
//!   sees, corrected for coordinated omission) and splits in two, each with the same summary
//!   and a blob: `service_us` and `service_histogram`, the service time from the first request
//!   sent to the final answer (the server's part; answered transactions, like latency), and
//!   `lag_us` and `lag_histogram`, the schedule lag from due to the first request sent (the
//!   generator's own; every transaction that ended, the whole wait if nothing was sent).
//!   Reports written before these were added read back with both empty.
//! - `counters`: `online`, `offline` (transitions), `stray`, `malformed`, `queries`,
//!   `queries_refused`, `request_retransmits`, `controls` (by command), `reboots`,
//!   `bad_queries`, `unrouted`, `send_errors`,
//!   `unanswerable_challenges` (401/407 with no Digest challenge of a supported algorithm)
//! - `gauges` (at the end): `cameras`, `started`, `registered`, `registering`, `stopped`,
//!   `in_flight`, `streams` (live video streams sending), `subscriptions` (held by the
//!   cameras)
//! - `video`: live video totals: `invites`, `answered`, `busy`, `not_acceptable`,
//!   `not_found`, `acked`, `streams_started`, `streams_ended`, `rtp_packets`, `rtp_bytes`,
//!   `rtp_send_errors`, and for TCP media `tcp_connects`, `tcp_reconnects`,
//!   `tcp_connect_failures`, `tcp_frames_skipped`, and `dropped_on_reboot` (sessions a
//!   TeleBoot reboot ended, no BYE sent; reports written before these were added read back
//!   with zeros)
//! - `subscriptions`: the cameras' subscriptions and alarms (see
//!   [`SubCounters`](crate::camera::subscribe::SubCounters)): `subscribes`, `accepted`,
//!   `refreshed`, `unsubscribed`, `expired`, `dropped`, `refused`, `bad_event`,
//!   `unknown_dialog`, `malformed`, `retransmits`, `notify_catalog`, `notify_position`,
//!   `notify_alarm`, `notify_final`, `positions_skipped`, `alarms`, `alarm_messages`,
//!   `alarms_offline`, `retransmissions` (NOTIFY and alarm MESSAGE latencies are the kinds
//!   `notify` and `alarm`)
//! - `timeline`: one entry per second: `t_s`; `kinds` (only kinds with something in that
//!   second) each with `ok`, `redirected`, `rejected`, `timeouts`, `transport_errors`,
//!   `pending_at_stop`, `retransmits`, and when timed `latency_us` (`p50`, `p90`, `p99`, `max`)
//!   and `histogram` (that second's, as above, so shards merge by second exactly);
//!   `retransmissions` (sent that second); `gauges` at its end (`cameras`, `started`,
//!   `registered`, `registering`, `stopped`, `in_flight`, `streams`); `video` (that second's
//!   live video counts, as the run's `video`; only in a second with any); `subscriptions`
//!   (that second's, as the run's `subscriptions`; only in a second with any). Written by
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
    render_split(&mut s, total);
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
    if c.controls.iter().any(|&n| n > 0) || c.reboots > 0 || c.bad_queries > 0 {
        let mut line = String::from("device controls:");
        for (name, n) in crate::gb::control::Control::NAMES.iter().zip(c.controls) {
            if n > 0 {
                let _ = write!(line, " {name} {n}");
            }
        }
        let _ = writeln!(
            s,
            "{line}; reboots {}; bad queries (unknown DeviceID or range) {}",
            c.reboots, c.bad_queries
        );
    }
    if !total.video.is_empty() {
        let _ = writeln!(s, "{}", total.video.line());
    }
    if !total.subs.is_empty() {
        let _ = writeln!(s, "{}", total.subs.line());
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

/// The second table: per kind, the latency from due beside its two parts, service time and
/// schedule lag, so a slow generator cannot pass for a slow server.
fn render_split(s: &mut String, total: &Snapshot) {
    let groups = [
        ("latency from due, ms", "(what a user sees)"),
        ("service time, ms", "(sent→answer)"),
        ("schedule lag, ms", "(due→sent, the generator's)"),
    ];
    s.push('\n');
    for line in [0, 1] {
        let mut l = format!("{:<15}", "");
        for (title, note) in groups {
            let _ = write!(l, " | {:<26}", if line == 0 { title } else { note });
        }
        let _ = writeln!(s, "{}", l.trim_end());
    }
    let _ = write!(s, "{:<15}", "kind");
    for _ in groups {
        let _ = write!(s, " | {:>8} {:>8} {:>8}", "p50", "p99", "max");
    }
    s.push('\n');
    for k in TxnKind::ALL {
        let st = total.kind(k);
        if st.total() == 0 {
            continue;
        }
        let _ = write!(s, "{:<15}", k.as_str());
        for h in [&st.latency, &st.service, &st.lag] {
            let max = if h.is_empty() { 0 } else { h.max() };
            let _ = write!(
                s,
                " | {:>8.2} {:>8.2} {:>8.2}",
                ms(quantile(h, 0.5)),
                ms(quantile(h, 0.99)),
                ms(max)
            );
        }
        s.push('\n');
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

/// A histogram's summary in µs: `count`, `p50`, `p90`, `p99`, `p99_9`, `max`, `mean`.
fn summary_json(h: &Histogram<u64>) -> Value {
    json!({
        "count": h.len(),
        "p50": quantile(h, 0.5),
        "p90": quantile(h, 0.9),
        "p99": quantile(h, 0.99),
        "p99_9": quantile(h, 0.999),
        "max": if h.is_empty() { 0 } else { h.max() },
        "mean": if h.is_empty() { 0.0 } else { h.mean() },
    })
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
        "latency_us": summary_json(h),
        "histogram": histogram_to_base64(h),
        "service_us": summary_json(&st.service),
        "service_histogram": histogram_to_base64(&st.service),
        "lag_us": summary_json(&st.lag),
        "lag_histogram": histogram_to_base64(&st.lag),
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
            "controls": crate::gb::control::Control::NAMES
                .iter()
                .zip(c.controls)
                .map(|(k, n)| ((*k).to_string(), Value::from(n)))
                .collect::<Map<String, Value>>(),
            "reboots": c.reboots, "bad_queries": c.bad_queries,
            "unrouted": total.unrouted,
            "send_errors": total.send_errors,
        },
        "gauges": total.gauges.to_json(),
        "video": total.video.to_json(),
        "subscriptions": total.subs.to_json(),
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
        // Absent from reports written before they were added: read as empty.
        for (key, h) in [
            ("service_histogram", &mut st.service),
            ("lag_histogram", &mut st.lag),
        ] {
            if let Some(b64) = kv.get(key).and_then(Value::as_str) {
                *h =
                    histogram_from_base64(b64).map_err(|e| format!("{} {key}: {e}", k.as_str()))?;
            }
        }
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
        controls: std::array::from_fn(|i| {
            let name = crate::gb::control::Control::NAMES[i];
            c.get("controls").map_or(0, |m| u(m, name))
        }),
        reboots: u(&c, "reboots"),
        bad_queries: u(&c, "bad_queries"),
    };
    snap.unrouted = u(&c, "unrouted");
    snap.send_errors = u(&c, "send_errors");
    snap.gauges = Gauges::from_json(v.get("gauges").unwrap_or(&Value::Null));
    snap.video = super::video::VideoCounters::from_json(v.get("video").unwrap_or(&Value::Null));
    snap.subs = crate::camera::subscribe::SubCounters::from_json(
        v.get("subscriptions").unwrap_or(&Value::Null),
    );
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
mod tests;
