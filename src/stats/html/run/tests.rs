use super::*;
use crate::camera::{Outcome, Record};
use crate::clock::Span;
use std::time::{Duration, SystemTime};

fn rec(kind: TxnKind, outcome: Outcome, latency_us: u64, lag_us: u64) -> Record {
    Record {
        kind,
        outcome,
        latency: Span::from_micros(latency_us),
        lag: Span::from_micros(lag_us),
        retransmits: 0,
        redirected: false,
    }
}

/// One second: `registered` cameras started and registered, keepalives answered only when
/// `answered`, one 403.
fn second(started: u64, answered: bool) -> Snapshot {
    let mut s = Snapshot::default();
    for i in 0..100u64 {
        s.record(&rec(TxnKind::Register, Outcome::Status(200), 500 + i, 20));
        if answered {
            s.record(&rec(TxnKind::Keepalive, Outcome::Status(200), 300 + i, 10));
        }
    }
    s.record(&rec(TxnKind::Register, Outcome::Status(403), 900, 20));
    s.gauges.started = started;
    s.gauges.registered = started;
    s
}

fn info() -> RunInfo {
    RunInfo {
        target: "127.0.0.1:5060".into(),
        transport: "udp".into(),
        cameras: 2000,
        cores: 1,
        duration_s: 19.0,
        stop_reason: "duration elapsed".into(),
        settings: vec![
            ("rate".into(), "100".into()),
            ("json".into(), "/a/very/long/path/".repeat(12)),
        ],
        ..RunInfo::stamp(
            0xbeef,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        )
    }
}

/// 19 seconds; keepalives are answered in seconds 1-5 and 8-19, not in 6 and 7.
fn run() -> (Snapshot, Vec<Second>) {
    let mut total = Snapshot::default();
    let mut timeline = Vec::new();
    for t in 1..=19u64 {
        let s = second(100 * t, !(6..=7).contains(&t));
        total.merge(&s);
        timeline.push(Second::of(t, &s));
    }
    total.gauges = timeline.last().unwrap().gauges;
    (total, timeline)
}

fn figure<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<figure id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no figure {id}"));
    let end = start + html[start..].find("</figure>").unwrap();
    &html[start..end]
}

#[test]
fn run_report_is_self_contained_and_says_what_ran() {
    let (total, timeline) = run();
    let html = render_run("gbswarm <run>", &info(), &total, &timeline);
    assert!(html.starts_with("<!doctype html>"));
    // Nothing is fetched: the only URL is the SVG namespace name.
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_ns.contains("http"), "no external resource");
    assert!(!html.contains("<script"));
    assert!(html.contains("gbswarm &lt;run&gt;"));
    for fact in [
        "<td>run id</td><td>0000beef</td>",
        "<td>started</td><td>2026-09-21 14:13:20 UTC</td>",
        &format!("<td>host</td><td>{}</td>", esc(&info().host)),
        &format!(
            "<td>gbswarm</td><td>{} (commit {})</td>",
            crate::stats::info::VERSION,
            crate::stats::info::COMMIT
        ),
        "<dt>rate</dt><dd>100</dd>",
    ] {
        assert!(html.contains(fact), "{fact}");
    }
}

#[test]
fn every_final_status_and_the_three_latencies_are_shown() {
    let (total, timeline) = run();
    let html = render_run("r", &info(), &total, &timeline);
    assert!(html.contains(
        "<tr><th>kind</th><th>sent</th><th>200</th><th>403</th><th>timeouts</th>\
         <th>transport errors</th><th>pending at stop</th><th>redirected</th>"
    ));
    assert!(html.contains("<td>register</td><td>1919</td><td>1900</td><td>19</td>"));
    for m in ["latency from due", "service time", "schedule lag"] {
        assert!(html.contains(&format!("<dt>{m}</dt>")), "{m} is explained");
        assert!(
            html.contains(&format!("<td>register</td><td>{m}</td>")),
            "{m}"
        );
    }
    // Lag was 20 µs for every registration.
    assert!(html.contains("<td>register</td><td>schedule lag</td><td>1919</td><td>0.02</td>"));
    assert!(html.contains("99.9%"), "percentile axis");
}

#[test]
fn latency_over_time_has_gaps_not_zeros() {
    let (total, timeline) = run();
    let html = render_run("r", &info(), &total, &timeline);
    let ka = figure(&html, "latency-keepalive");
    let p99 = ka
        .split("data-name=\"keepalive p99\"")
        .nth(1)
        .and_then(|p| p.split(" d=\"").nth(1))
        .and_then(|p| p.split('"').next())
        .unwrap();
    assert_eq!(
        p99.matches('M').count(),
        2,
        "one break for seconds 6-7: {p99}"
    );
    assert_eq!(p99.matches('L').count(), 4 + 11, "{p99}");
    let reg = figure(&html, "latency-register");
    assert!(reg.contains("register p50") && reg.contains("register p99"));
    // Time ticks at 1-2-5 steps from zero.
    let offered = figure(&html, "offered");
    let ticks: Vec<&str> = offered
        .split("class=\"tick x\"")
        .skip(1)
        .map(|t| t.split('>').nth(1).unwrap().split('<').next().unwrap())
        .collect();
    assert_eq!(ticks, ["0", "5", "10", "15", "20"]);
    assert!(offered.contains("offered: cameras started/s"));
    assert!(offered.contains("achieved: register 2xx/s"));
    assert!(html.contains(
        "No refresh, unregister, query_response, invite, bye, notify or alarm transaction in this run."
    ));
    for id in ["percentiles", "throughput", "cameras"] {
        assert!(figure(&html, id).contains("<svg"), "{id}");
    }
    assert!(
        figure(&html, "failures").contains("<svg"),
        "a 403 each second"
    );
}

#[test]
fn nothing_failed_is_a_sentence_not_a_flat_line() {
    let mut s = Snapshot::default();
    s.record(&rec(TxnKind::Register, Outcome::Status(200), 500, 10));
    let timeline = vec![Second::of(1, &s), Second::of(2, &s)];
    let html = render_run("r", &info(), &s, &timeline);
    assert!(figure(&html, "failures").contains(
        "<p class=\"empty\">No transaction failed or timed out, and nothing was retransmitted"
    ));
}

#[test]
fn a_kind_never_answered_is_a_sentence_not_an_empty_chart() {
    let mut total = second(100, false);
    total.record(&rec(TxnKind::Keepalive, Outcome::Timeout, 0, 0));
    let timeline = vec![Second::of(1, &total)];
    let html = render_run("r", &info(), &total, &timeline);
    let ka = figure(&html, "latency-keepalive");
    assert!(!ka.contains("<svg"));
    assert!(ka.contains("No keepalive was answered in this run (1 sent: 1 timed out"));
    assert!(
        figure(&html, "failures").contains("<svg"),
        "a timeout is drawn"
    );
    let none = render_run("r", &RunInfo::default(), &total, &[]);
    assert!(none.contains("This report has no per-second data."));
    assert!(none.contains("This report does not list its settings."));
    assert!(none.contains("<td>run id</td><td>not recorded</td>"));
}

#[test]
fn a_merged_report_lists_each_run_and_its_cpu() {
    let (total, timeline) = run();
    let mut a = info();
    a.shard = Some("0/2".into());
    a.cpu.user = Duration::from_millis(1500);
    let mut b = info();
    b.shard = Some("1/2".into());
    b.run_id = "00000002".into();
    b.cpu.user = Duration::from_millis(500);
    let m = RunInfo::merge(&[&a, &b]);
    let html = render_run("merged", &m, &total, &timeline);
    assert!(html.contains("<h3>The 2 runs merged</h3>"));
    assert!(html.contains("<td>0/2</td><td>0000beef</td>"));
    assert!(html.contains("<td>1/2</td><td>00000002</td>"));
    assert!(html.contains("<td>all</td>"));
    assert!(html.contains("<td>cpu</td><td>2.00 s (user 2.00, system 0.00)</td>"));
}

#[test]
fn the_verdict_comes_first_with_every_objective() {
    let total = Snapshot::default();
    let html = render_judged(
        "r",
        &info(),
        &total,
        &[],
        &[
            ("register.p99<=50ms", true, "1.20 ms"),
            ("timeouts==0", false, "3"),
        ],
    );
    let verdict = html.find("<h2>Verdict</h2>").expect("a verdict section");
    assert!(verdict < html.find("<h2>Run</h2>").unwrap());
    assert!(html.contains("1 of 2 objectives missed"), "{html}");
    assert!(
        html.contains("<td>timeouts==0</td><td>MISSED</td><td>3</td>"),
        "{html}"
    );
    assert!(!render_run("r", &info(), &total, &[]).contains("Verdict"));
}

#[test]
fn video_charts_appear_only_for_a_run_with_live_video() {
    let (total, timeline) = run();
    let html = render_run("r", &info(), &total, &timeline);
    assert!(
        !html.contains("<figure id=\"streams\">"),
        "no video, no chart"
    );
    let mut s = Snapshot::default();
    s.record(&rec(TxnKind::Register, Outcome::Status(200), 500, 10));
    s.gauges.streams = 3;
    s.video.invites = 3;
    s.video.rtp_bytes = 375_000;
    let timeline = vec![Second::of(1, &s), Second::of(2, &s)];
    let html = render_run("r", &info(), &s, &timeline);
    let streams = figure(&html, "streams");
    assert!(
        streams.contains("sending at the end of the second"),
        "{streams}"
    );
    let bitrate = figure(&html, "bitrate");
    assert!(bitrate.contains("Mbit/s"), "{bitrate}");
    assert!(!bitrate.contains("No RTP was sent"), "{bitrate}");
}

#[test]
fn subscriptions_are_listed_only_for_a_run_that_had_some() {
    let (total, timeline) = run();
    let html = render_run("r", &info(), &total, &timeline);
    assert!(!html.contains("Subscriptions and alarms"));
    let mut s = Snapshot::default();
    s.record(&rec(TxnKind::Notify, Outcome::Status(200), 800, 0));
    s.subs.accepted = 2;
    s.subs.notify_position = 17;
    let timeline = vec![Second::of(1, &s)];
    let html = render_run("r", &info(), &s, &timeline);
    assert!(html.contains("<h2>Subscriptions and alarms</h2>"), "{html}");
    assert!(
        html.contains("<td>notify position</td><td>17</td>"),
        "{html}"
    );
    assert!(html.contains(">notify<"), "the kind in the outcomes");
}

#[test]
fn device_controls_are_listed_only_for_a_run_that_had_some() {
    let (total, timeline) = run();
    let html = render_run("r", &info(), &total, &timeline);
    assert!(!html.contains("Device controls"));
    let mut s = Snapshot::default();
    s.record(&rec(TxnKind::QueryResponse, Outcome::Status(200), 800, 0));
    let names = crate::gb::control::Control::NAMES;
    s.counters.controls[1] = 4;
    s.counters.reboots = 2;
    let timeline = vec![Second::of(1, &s)];
    let html = render_run("r", &info(), &s, &timeline);
    assert!(html.contains("<h2>Device controls</h2>"), "{html}");
    assert!(
        html.contains(&format!("<td>{}</td><td>4</td>", names[1])),
        "{html}"
    );
    assert!(
        html.contains("<td>TeleBoot restarts</td><td>2</td>"),
        "{html}"
    );
    assert!(!html.contains(&format!("<td>{}</td><td>0</td>", names[0])));
}
