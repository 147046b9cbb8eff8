//! The report of a run, or of the shards of a fleet merged: what ran (every setting, the
//! build, the machine, the date), how each transaction ended (every final status), the three
//! latencies and what each means, and the run second by second: registrations offered against
//! achieved, p50 and p99 per kind, throughput, cameras, failures.

use super::{COLORS, Chart, Series, esc, page, settings_list, table, table_of};
use crate::camera::TxnKind;
use crate::stats::info::{RunInfo, utc};
use crate::stats::series::Second;
use crate::stats::{KindStats, Snapshot};
use hdrhistogram::Histogram;
use std::fmt::Write as _;

const TIME: &str = "time since start (s)";

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn or_unknown(s: &str) -> String {
    if s.is_empty() {
        "not recorded".into()
    } else {
        s.into()
    }
}

fn cpu(c: &crate::stats::CpuTime) -> String {
    format!(
        "{:.2} s (user {:.2}, system {:.2})",
        c.total().as_secs_f64(),
        c.user.as_secs_f64(),
        c.system.as_secs_f64()
    )
}

/// What ran where and when.
fn about(info: &RunInfo) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        vec!["target".into(), info.target.clone()],
        vec!["run id".into(), or_unknown(&info.run_id)],
    ];
    if let Some(s) = &info.shard {
        rows.push(vec!["shard".into(), s.clone()]);
    }
    rows.extend([
        vec![
            "started".into(),
            info.started_utc().unwrap_or_else(|| "not recorded".into()),
        ],
        vec!["host".into(), or_unknown(&info.host)],
        vec![
            "gbswarm".into(),
            if info.version.is_empty() {
                "not recorded".into()
            } else {
                format!("{} (commit {})", info.version, or_unknown(&info.commit))
            },
        ],
        vec!["cameras".into(), info.cameras.to_string()],
        vec!["transport".into(), info.transport.clone()],
        vec!["workers".into(), info.cores.to_string()],
        vec!["duration".into(), format!("{:.1} s", info.duration_s)],
        vec!["stopped".into(), info.stop_reason.clone()],
        vec!["cpu".into(), cpu(&info.cpu)],
    ]);
    if let Some(b) = info.peak_rss_bytes {
        rows.push(vec!["peak RSS".into(), format!("{} MiB", b >> 20)]);
    }
    let mut s = table_of("facts", &[], &rows);
    if !info.shards.is_empty() {
        let _ = write!(
            s,
            "<h3>The {} runs merged</h3>\n<p class=\"note\">Each run's own cost; the CPU above is their sum.</p>\n",
            info.shards.len()
        );
        let mut rows: Vec<Vec<String>> = info
            .shards
            .iter()
            .map(|r| {
                vec![
                    r.shard.clone().unwrap_or_else(|| "-".into()),
                    or_unknown(&r.run_id),
                    or_unknown(&r.host),
                    if r.started_unix_s > 0 {
                        utc(r.started_unix_s)
                    } else {
                        "not recorded".into()
                    },
                    r.cameras.to_string(),
                    format!("{:.1}", r.duration_s),
                    format!("{:.2}", r.cpu.total().as_secs_f64()),
                    format!("{:.2}", r.cpu.user.as_secs_f64()),
                    format!("{:.2}", r.cpu.system.as_secs_f64()),
                ]
            })
            .collect();
        rows.push(vec![
            "all".into(),
            String::new(),
            String::new(),
            String::new(),
            info.cameras.to_string(),
            format!("{:.1}", info.duration_s),
            format!("{:.2}", info.cpu.total().as_secs_f64()),
            format!("{:.2}", info.cpu.user.as_secs_f64()),
            format!("{:.2}", info.cpu.system.as_secs_f64()),
        ]);
        s.push_str(&table(
            &[
                "shard", "run id", "host", "started", "cameras", "s", "cpu s", "user", "system",
            ],
            &rows,
        ));
    }
    s
}

/// Every kind's outcomes: each final status, timeouts, transport errors, pending at stop.
fn outcomes(total: &Snapshot) -> String {
    let kinds: Vec<(TxnKind, &KindStats)> = TxnKind::ALL
        .iter()
        .map(|&k| (k, total.kind(k)))
        .filter(|(_, s)| s.total() > 0)
        .collect();
    let mut codes: Vec<u16> = kinds
        .iter()
        .flat_map(|(_, s)| s.statuses.iter().map(|(c, _)| *c))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let code_heads: Vec<String> = codes.iter().map(u16::to_string).collect();
    let mut head: Vec<&str> = vec!["kind", "sent"];
    head.extend(code_heads.iter().map(String::as_str));
    head.extend([
        "timeouts",
        "transport errors",
        "pending at stop",
        "redirected",
        "retransmits",
    ]);
    let rows: Vec<Vec<String>> = kinds
        .iter()
        .map(|(k, s)| {
            let mut r = vec![k.as_str().to_string(), s.total().to_string()];
            r.extend(codes.iter().map(|&c| s.status(c).to_string()));
            r.extend([
                s.timeouts.to_string(),
                s.transport_errors.to_string(),
                s.abandoned.to_string(),
                s.redirected.to_string(),
                s.retransmits.to_string(),
            ]);
            r
        })
        .collect();
    let mut s = String::from(
        "<p class=\"note\">Each transaction ends in exactly one outcome: a final status (the \
         numbered columns), a timeout, a transport error (connection lost, datagram refused), \
         or still pending when its camera stopped; <i>sent</i> is their sum. \
         <i>Redirected</i> counts transactions sent on to another server by a 3xx; each also \
         ended there with one of the outcomes, so redirects are not added in. \
         <i>Retransmits</i> are UDP retransmissions of the transactions that ended.</p>\n",
    );
    if rows.is_empty() {
        s.push_str("<p class=\"empty\">No transaction ended in this run.</p>\n");
    } else {
        s.push_str(&table(&head, &rows));
    }
    s
}

fn quantiles(h: &Histogram<u64>) -> [String; 6] {
    if h.is_empty() {
        return ["0", "-", "-", "-", "-", "-"].map(String::from);
    }
    [
        h.len().to_string(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
    ]
}

/// The three latencies per kind, with what each means, and the percentile curves.
fn latency(total: &Snapshot) -> String {
    let mut s = String::from(
        "<dl class=\"terms\">\
         <dt>latency from due</dt><dd>from when the request was due on the schedule to its \
         final response: what a camera waits, and the headline number (a generator that falls \
         behind cannot hide a slow server)</dd>\
         <dt>service time</dt><dd>from when the request was first sent to its final response: \
         the server's and the network's part</dd>\
         <dt>schedule lag</dt><dd>from when the request was due to when it was sent: the \
         generator's own part; when it grows, the generator is the bottleneck, not the \
         server</dd></dl>\n",
    );
    let mut rows = Vec::new();
    let mut missing = false;
    for k in TxnKind::ALL {
        let st = total.kind(k);
        if st.total() == 0 {
            continue;
        }
        missing |= !st.latency.is_empty() && st.service.is_empty() && st.lag.is_empty();
        for (name, h) in [
            ("latency from due", &st.latency),
            ("service time", &st.service),
            ("schedule lag", &st.lag),
        ] {
            let mut r = vec![k.as_str().to_string(), name.to_string()];
            r.extend(quantiles(h));
            rows.push(r);
        }
    }
    if missing {
        s.push_str(
            "<p class=\"note\">This report does not carry service-time and schedule-lag \
             histograms (it was read back from JSON), so only the latency from due is \
             shown.</p>\n",
        );
    }
    s.push_str(&table(
        &[
            "kind", "measure", "samples", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
        ],
        &rows,
    ));
    let mut c = Chart::new(
        "percentiles",
        "Latency from due by percentile (whole run)",
        "percentile",
        "latency (ms)",
    );
    c.log_x = true;
    for (i, k) in TxnKind::ALL.iter().enumerate() {
        let h = &total.kind(*k).latency;
        if h.is_empty() {
            continue;
        }
        let qs = [
            0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 0.99999,
        ];
        c.series.push(Series::new(
            k.as_str(),
            COLORS[i],
            qs.iter()
                .map(|&q| (1.0 / (1.0 - q), h.value_at_quantile(q) as f64 / 1000.0)),
        ));
    }
    s.push_str(&c.render("No transaction was answered in this run."));
    s
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The run second by second.
fn over_time(total: &Snapshot, timeline: &[Second]) -> String {
    if timeline.is_empty() {
        return "<p class=\"empty\">This report has no per-second data.</p>\n".into();
    }
    let at = |f: &dyn Fn(&Second) -> f64| -> Vec<(f64, f64)> {
        timeline.iter().map(|r| (r.t_s as f64, f(r))).collect()
    };
    let mut s = String::new();
    let reg = TxnKind::Register as usize;
    let mut c = Chart::new(
        "offered",
        "Registrations offered and achieved",
        TIME,
        "per second",
    );
    let mut before = 0;
    let offered = timeline
        .iter()
        .map(|r| {
            let n = r.gauges.started.saturating_sub(before);
            before = r.gauges.started;
            (r.t_s as f64, n as f64)
        })
        .collect::<Vec<_>>();
    c.series.push(Series::new(
        "offered: cameras started/s",
        COLORS[0],
        offered,
    ));
    c.series.push(Series::new(
        "achieved: register 2xx/s",
        COLORS[2],
        at(&|r| r.kinds[reg].ok as f64),
    ));
    if c.all_zero() {
        s.push_str(
            &Chart::new("offered", &c.title, "", "")
                .render("No camera was started and no registration succeeded in this run."),
        );
    } else {
        s.push_str(&c.render(""));
        s.push_str(
            "<p class=\"note\">Offered: cameras the ramp started in that second, each \
             offering its first registration. Achieved: registration flows (challenge \
             included) answered 2xx in that second, retries and re-registrations \
             included.</p>\n",
        );
    }
    let mut absent = Vec::new();
    for (i, k) in TxnKind::ALL.iter().enumerate() {
        let st = total.kind(*k);
        if st.total() == 0 {
            absent.push(k.as_str());
            continue;
        }
        let name = k.as_str();
        let mut c = Chart::new(
            &format!("latency-{name}"),
            &format!("{name}: latency from due over time"),
            TIME,
            "latency (ms)",
        );
        for (label, color, p99) in [("p50", COLORS[0], false), ("p99", COLORS[3], true)] {
            c.series.push(Series {
                name: format!("{name} {label}"),
                color,
                // A second without an answer is a gap, not a zero.
                points: timeline
                    .iter()
                    .map(|r| {
                        let v = r.kinds[i].latency.map(|q| if p99 { q.p99 } else { q.p50 });
                        (r.t_s as f64, v.map(|us| us as f64 / 1000.0))
                    })
                    .collect(),
            });
        }
        s.push_str(&c.render(&format!(
            "No {name} was answered in this run ({} sent: {} timed out, {} transport errors, {} pending at stop).",
            st.total(),
            st.timeouts,
            st.transport_errors,
            st.abandoned
        )));
    }
    if !absent.is_empty() {
        let _ = writeln!(
            s,
            "<p class=\"empty\">No {} transaction in this run.</p>",
            esc(&or_list(&absent))
        );
    }
    let mut c = Chart::new("throughput", "Answered 2xx per second", TIME, "per second");
    for (i, k) in TxnKind::ALL.iter().enumerate() {
        if timeline.iter().any(|r| r.kinds[i].ok > 0) {
            c.series.push(Series::new(
                format!("{} 2xx/s", k.as_str()),
                COLORS[i],
                at(&|r| r.kinds[i].ok as f64),
            ));
        }
    }
    s.push_str(&c.render("No transaction was answered 2xx in this run."));
    let mut c = Chart::new("cameras", "Cameras", TIME, "cameras");
    c.series.extend([
        Series::new("started", COLORS[0], at(&|r| r.gauges.started as f64)),
        Series::new("registered", COLORS[2], at(&|r| r.gauges.registered as f64)),
        Series::new(
            "registering",
            COLORS[1],
            at(&|r| r.gauges.registering as f64),
        ),
        Series::new(
            "offline (waiting to retry)",
            COLORS[3],
            at(&|r| r.gauges.offline() as f64),
        ),
    ]);
    s.push_str(&c.render(""));
    if timeline
        .iter()
        .any(|r| r.gauges.streams > 0 || !r.video.is_empty())
    {
        video_over_time(&mut s, timeline);
    }
    let mut c = Chart::new(
        "failures",
        "Failures and retransmissions",
        TIME,
        "per second",
    );
    c.series.extend([
        Series::new(
            "failed/s (rejected, timed out, transport)",
            COLORS[3],
            at(&|r| r.kinds.iter().map(|k| k.failed()).sum::<u64>() as f64),
        ),
        Series::new(
            "timeouts/s",
            COLORS[4],
            at(&|r| r.kinds.iter().map(|k| k.timeouts).sum::<u64>() as f64),
        ),
        Series::new(
            "retransmissions sent/s",
            COLORS[1],
            at(&|r| r.retransmissions as f64),
        ),
    ]);
    if c.all_zero() {
        s.push_str(&Chart::new("failures", &c.title, "", "").render(
            "No transaction failed or timed out, and nothing was retransmitted, in this run.",
        ));
    } else {
        s.push_str(&c.render(""));
    }
    s
}

/// Live video second by second: streams sending, what the cameras answered, and the RTP
/// bitrate they sent.
fn video_over_time(s: &mut String, timeline: &[Second]) {
    let at = |f: &dyn Fn(&Second) -> f64| -> Vec<(f64, f64)> {
        timeline.iter().map(|r| (r.t_s as f64, f(r))).collect()
    };
    let mut c = Chart::new("streams", "Live video streams", TIME, "streams");
    c.series.push(Series::new(
        "sending at the end of the second",
        COLORS[2],
        at(&|r| r.gauges.streams as f64),
    ));
    c.series.push(Series::new(
        "INVITEs received/s",
        COLORS[0],
        at(&|r| r.video.invites as f64),
    ));
    c.series.push(Series::new(
        "refused/s (486, 488, 404)",
        COLORS[3],
        at(&|r| (r.video.busy + r.video.not_acceptable + r.video.not_found) as f64),
    ));
    s.push_str(&c.render(""));
    let mut c = Chart::new("bitrate", "RTP sent", TIME, "Mbit/s");
    c.series.push(Series::new(
        "RTP Mbit/s (headers included)",
        COLORS[1],
        at(&|r| r.video.rtp_bytes as f64 * 8.0 / 1e6),
    ));
    s.push_str(&c.render("No RTP was sent in this run."));
}

/// The cameras' subscriptions and alarms, counted (their NOTIFYs and alarm MESSAGEs are the
/// kinds `notify` and `alarm` above).
fn subscriptions(total: &Snapshot) -> String {
    let rows: Vec<Vec<String>> = total
        .subs
        .fields()
        .iter()
        .map(|(k, v)| vec![k.replace('_', " "), v.to_string()])
        .collect();
    let mut s = String::from(
        "<h2>Subscriptions and alarms</h2>\n<p class=\"note\">SUBSCRIBEs the cameras answered \
         and how their subscriptions ended; NOTIFYs sent by what they reported; alarms raised \
         (as NOTIFYs in Alarm subscriptions or as MESSAGEs). Their latencies are the kinds \
         <i>notify</i> and <i>alarm</i>.</p>\n",
    );
    s.push_str(&table(&["what", "count"], &rows));
    s
}

/// The controls the cameras took, by command, their TeleBoot restarts and the queries they
/// refused for naming neither the device nor one of its channels (or a bad time range).
fn controls(total: &Snapshot) -> String {
    let c = &total.counters;
    let mut rows: Vec<Vec<String>> = crate::gb::control::Control::NAMES
        .iter()
        .zip(c.controls)
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| vec![(*name).to_string(), n.to_string()])
        .collect();
    rows.push(vec!["TeleBoot restarts".into(), c.reboots.to_string()]);
    rows.push(vec![
        "queries refused 400 (unknown DeviceID or range)".into(),
        c.bad_queries.to_string(),
    ]);
    let mut s = String::from(
        "<h2>Device controls</h2>\n<p class=\"note\">DeviceControl and DeviceConfig commands \
         the cameras took, by command (the Responses they sent are in <i>query_response</i>), \
         restarts after TeleBoot, and queries refused 400.</p>\n",
    );
    s.push_str(&table(&["what", "count"], &rows));
    s
}

/// The report of a run (or of merged shards): `info` says what ran, `total` the whole run,
/// `timeline` each second.
pub fn render_run(title: &str, info: &RunInfo, total: &Snapshot, timeline: &[Second]) -> String {
    render_judged(title, info, total, timeline, &[])
}

/// One objective as the report shows it: as written, whether it held, what was measured.
pub type VerdictRow<'a> = (&'a str, bool, &'a str);

/// [`render_run`] with the run's objectives and whether each held, first on the page.
pub fn render_judged(
    title: &str,
    info: &RunInfo,
    total: &Snapshot,
    timeline: &[Second],
    verdict: &[VerdictRow<'_>],
) -> String {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<p>{} cameras over {} to {}, {:.1} s ({}){}.</p>",
        info.cameras,
        esc(&info.transport),
        esc(&info.target),
        info.duration_s,
        esc(&info.stop_reason),
        info.started_utc()
            .map(|d| format!(", started {d} on {}", esc(&info.host)))
            .unwrap_or_default()
    );
    if !verdict.is_empty() {
        let missed = verdict.iter().filter(|(_, held, _)| !held).count();
        let _ = writeln!(
            body,
            "<h2>Verdict</h2>\n<p><b>{}</b> (the exit status is 1 if one is missed).</p>",
            if missed == 0 {
                "Every objective held".to_string()
            } else {
                format!("{missed} of {} objectives missed", verdict.len())
            }
        );
        let rows: Vec<Vec<String>> = verdict
            .iter()
            .map(|(o, held, measured)| {
                vec![
                    (*o).to_string(),
                    if *held { "held" } else { "MISSED" }.to_string(),
                    (*measured).to_string(),
                ]
            })
            .collect();
        body.push_str(&super::table(&["objective", "verdict", "measured"], &rows));
    }
    body.push_str("<h2>Run</h2>\n");
    body.push_str(&about(info));
    body.push_str("<h2>Settings</h2>\n");
    if info.settings.is_empty() {
        body.push_str("<p class=\"empty\">This report does not list its settings.</p>\n");
    } else {
        body.push_str(&settings_list(&info.settings));
    }
    body.push_str("<h2>Outcomes</h2>\n");
    body.push_str(&outcomes(total));
    if !total.subs.is_empty() {
        body.push_str(&subscriptions(total));
    }
    let c = &total.counters;
    if c.controls.iter().any(|&n| n > 0) || c.reboots > 0 || c.bad_queries > 0 {
        body.push_str(&controls(total));
    }
    body.push_str("<h2>Latency</h2>\n");
    body.push_str(&latency(total));
    body.push_str("<h2>Second by second</h2>\n");
    body.push_str(&over_time(total, timeline));
    page(title, &body)
}

#[cfg(test)]
mod tests;
