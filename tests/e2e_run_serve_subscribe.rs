//! Subscriptions between the two peers on one machine: `gbswarm serve --subscribe` is the
//! platform and `gbswarm run` the devices. serve subscribes to every device that registers
//! (Catalog, MobilePosition, Alarm), refreshes the subscriptions in their dialogs, answers and
//! counts the NOTIFYs and the alarm MESSAGEs sent outside any subscription; the devices flap
//! their channels, move and raise alarms. The test waits (through serve's Prometheus metrics)
//! until NOTIFYs of every kind came and every subscription was refreshed, stops the run and
//! then serve by their PIDs (SIGINT), and checks serve's `subscribe` summary against the
//! run's JSON (`kinds` `notify` and `alarm`, the `subscriptions` counters): every NOTIFY and
//! alarm a device had answered was counted by serve, nothing was unknown, malformed or
//! refused, the NOTIFY each refresh is owed was not taken for an early position, and what
//! serve did not count was still in flight when the run stopped (at most one NOTIFY per
//! subscription, RFC 6665 §4.2.2).
//!
//! Over UDP with all three kinds, and over TCP (GB/T 28181-2022 bodies) with MobilePosition
//! only, an alarm storm sent as MESSAGEs and RecordInfo queries. Every port comes from port 0;
//! both processes are killed in Drop if the test fails first. Waits are bounded and check
//! behaviour, not speed.

mod serve_peer;

use serve_peer::{Proc, Serve, counts, interrupt, scrape, serve};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Devices in each run.
const DEVICES: u64 = 4;

/// Starts `gbswarm run` against `listen` with `args`, its JSON report to `json`.
fn run(listen: &str, json: &std::path::Path, args: &[&str]) -> Proc {
    let n = DEVICES.to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args(["run", "--target", listen, "-n", &n, "--cores", "1"])
        .args(["--duration", "120s", "--heartbeat", "60s", "--grace", "5s"])
        .args(["--json", json.to_str().unwrap()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proc(child)
}

/// Polls serve's subscribe counters until `done` holds of them (at most 60 s); the last seen.
fn wait_for(
    metrics: SocketAddr,
    done: impl Fn(&dyn Fn(&str) -> u64) -> bool,
) -> HashMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = HashMap::new();
    while Instant::now() < deadline {
        seen = scrape(metrics, "gbswarm_serve_subscribe_events_total");
        let q = scrape(metrics, "gbswarm_serve_query_events_total");
        for (k, v) in q {
            seen.insert(format!("query_{k}"), v);
        }
        let n = |k: &str| seen.get(k).copied().unwrap_or(0);
        if done(&n) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    seen
}

/// Once every subscription was refreshed (`seen`), waits for two more positions a device
/// (the NOTIFY its refresh is owed and the next tick), so the run stops after them.
fn after_refreshes(metrics: SocketAddr, seen: &HashMap<String, u64>) {
    let before = seen.get("notify_mobile_position").copied().unwrap_or(0);
    wait_for(metrics, |n: &dyn Fn(&str) -> u64| {
        n("notify_mobile_position") >= before + 2 * DEVICES
    });
}

/// Stops the run, then serve; serve's stdout and the run's JSON report.
fn stop(mut run: Proc, s: Serve, json: &std::path::Path) -> (String, serde_json::Value) {
    assert_eq!(interrupt(&mut run, Duration::from_secs(10)), Some(130));
    std::thread::sleep(Duration::from_millis(300));
    let (code, out) = s.stop(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let report = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    (out, report)
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A number in the JSON report.
fn at(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_u64().unwrap_or(0)
}

/// The subscription outcomes both sides must agree on whatever the transport: the
/// subscriptions made and refreshed, and every NOTIFY (by kind) counted by serve up to those
/// still in flight at the stop, none refused, unknown, malformed or early.
fn check_subscriptions(
    s: &HashMap<String, u64>,
    report: &serde_json::Value,
    kinds: u64,
    out: &str,
) {
    let num = |k: &str| -> u64 {
        *s.get(k)
            .unwrap_or_else(|| panic!("{k} not in the summary: {out}"))
    };
    let sub = &report["subscriptions"];
    let dev = |k: &str| at(sub, &[k]);
    let subs = DEVICES * kinds;
    // Made once each, accepted; refreshed in their dialogs, never lost.
    assert_eq!(num("subscribes"), subs, "{out}");
    assert_eq!(dev("accepted"), subs, "{sub}");
    assert!(num("refreshes") >= subs, "{out}");
    // A refresh in flight at the stop may have been answered and not yet counted by serve.
    assert!(
        num("refreshes") >= dev("refreshed") && dev("refreshed") + subs >= num("refreshes"),
        "{sub}\n{out}"
    );
    assert!(
        num("ok") + subs >= num("subscribes") + num("refreshes"),
        "{out}"
    );
    for zero in [
        "3xx",
        "4xx",
        "5xx",
        "6xx",
        "timeouts",
        "lost",
        "notify_unknown",
        "notify_terminated",
        "notify_bad_body",
        "not_registered",
    ] {
        assert_eq!(num(zero), 0, "{zero}: {out}");
    }
    // The NOTIFY each refresh is owed comes 0.8 s (UDP) or 0.9 s (TCP) before the next tick
    // was due: counted early, every position subscription would have one once refreshed. A
    // tick held up over 0.5 s on a loaded machine makes the next one early, so fewer than
    // one per subscription are let pass, not none.
    assert!(num("position_early") < DEVICES, "{out}");
    for zero in [
        "refused",
        "bad_event",
        "unknown_dialog",
        "malformed",
        "expired",
        "dropped",
        "notify_final",
    ] {
        assert_eq!(dev(zero), 0, "{zero}: {sub}");
    }
    // Each NOTIFY serve counted was sent by a device (retransmissions counted once); each
    // one a device sent and serve did not count was the one in flight in its subscription.
    let mut served = 0;
    for (serve_name, run_name) in [
        ("notify_catalog", "notify_catalog"),
        ("notify_mobile_position", "notify_position"),
        ("notify_alarm", "notify_alarm"),
    ] {
        let (got, sent) = (num(serve_name), dev(run_name));
        assert!(
            got <= sent && sent <= got + DEVICES,
            "{serve_name} {got} vs {run_name} {sent}: {sub}\n{out}"
        );
        served += got;
    }
    // Every NOTIFY a device saw answered, serve had counted: it answers 200 only then.
    let notify = &report["kinds"]["notify"];
    let answered = at(notify, &["ok"]);
    let pending = at(notify, &["pending_at_stop"]);
    assert!(answered <= served, "{notify}\n{out}");
    assert!(
        served <= answered + pending && pending <= subs,
        "{notify}\n{out}"
    );
    for zero in ["rejected", "timeouts", "transport_errors"] {
        assert_eq!(at(notify, &[zero]), 0, "{zero}: {notify}");
    }
}

#[test]
fn run_devices_serve_subscriptions_of_every_kind_over_udp_and_every_notify_adds_up() {
    let dir = temp_dir("run-serve-subscribe-udp");
    let json = dir.join("run.json");
    let s = serve(&[
        "--subscribe",
        "catalog,mobile-position:1,alarm",
        "--subscribe-expires",
        "12s",
    ]);
    let metrics = s.metrics;
    let r = run(
        &s.listen,
        &json,
        &[
            "--channels",
            "4",
            "--catalog-page",
            "2",
            "--channel-flap-rate",
            "3600",
            "--alarm-rate",
            "3600",
        ],
    );
    // Flaps every second per device, a position a second, an alarm a second; refreshed at
    // 85% of 12 s, 0.2 s into a position interval: the NOTIFY a refresh is owed comes 0.8 s
    // before the next tick was due, and restarts the ticks (no early one).
    let seen = wait_for(metrics, |n: &dyn Fn(&str) -> u64| {
        n("notify_catalog") >= 30
            && n("notify_mobile_position") >= 30
            && n("notify_alarm") >= 20
            && n("refreshes") >= 3 * DEVICES
    });
    after_refreshes(metrics, &seen);
    let (out, report) = stop(r, s, &json);
    let _ = std::fs::remove_dir_all(&dir);
    let n = |k: &str| seen.get(k).copied().unwrap_or(0);
    assert!(n("refreshes") >= 3 * DEVICES, "never refreshed: {seen:?}");
    let s = counts(&out, "gbswarm serve: subscribe ");
    check_subscriptions(&s, &report, 3, &out);
    let sub = &report["subscriptions"];
    // The first Catalog NOTIFY of each subscription is two pages (4 channels, 2 a page), then
    // one per change.
    assert!(at(sub, &["notify_catalog"]) > 2 * DEVICES, "{sub}");
    // Alarms: NOTIFYs in the Alarm subscriptions (each accept and refresh answered by one
    // with no alarm), MESSAGEs before they were made; serve counted each MESSAGE a device saw
    // answered.
    let alarms = at(sub, &["alarms"]);
    assert!(alarms >= 10, "{sub}");
    let states = DEVICES + at(sub, &["refreshed"]);
    assert!(
        at(sub, &["notify_alarm"]) + at(sub, &["alarm_messages"]) <= alarms + states,
        "{sub}"
    );
    // (Over UDP serve may count a retransmission again: it keeps only a device's last one.)
    let alarm = &report["kinds"]["alarm"];
    let messages = s["alarm_messages"];
    let sent = at(sub, &["alarm_messages"]) + at(sub, &["retransmissions"]);
    assert!(
        at(alarm, &["ok"]) <= messages && messages <= sent,
        "{alarm}\n{sub}\n{out}"
    );
}

#[test]
fn over_tcp_2022_positions_are_subscribed_an_alarm_storm_goes_as_messages_and_queries_add_up() {
    let dir = temp_dir("run-serve-subscribe-tcp");
    let json = dir.join("run.json");
    let s = serve(&[
        "--subscribe",
        "mobile-position:1",
        "--subscribe-expires",
        "6s",
        "--query",
        "record-info",
        "--query-rate",
        "4",
    ]);
    let metrics = s.metrics;
    let r = run(
        &s.listen,
        &json,
        &[
            "--transport",
            "tcp",
            "--gb-version",
            "2022",
            "--channels",
            "2",
            "--alarm-burst",
            "6@5s",
        ],
    );
    // Refreshed at 85% of 6 s, 0.1 s into a position interval (see the UDP case).
    let storm = 6 * DEVICES;
    let seen = wait_for(metrics, |n: &dyn Fn(&str) -> u64| {
        n("alarm_messages") >= storm && n("refreshes") >= DEVICES && n("query_answered") >= 4
    });
    after_refreshes(metrics, &seen);
    let (out, report) = stop(r, s, &json);
    let _ = std::fs::remove_dir_all(&dir);
    let n = |k: &str| seen.get(k).copied().unwrap_or(0);
    assert_eq!(n("alarm_messages"), storm, "the storm came: {seen:?}");
    let s = counts(&out, "gbswarm serve: subscribe ");
    check_subscriptions(&s, &report, 1, &out);
    let sub = &report["subscriptions"];
    // No Alarm subscription: the whole storm went as MESSAGEs, each answered and counted.
    assert_eq!(at(sub, &["alarms"]), storm, "{sub}");
    assert_eq!(at(sub, &["alarm_messages"]), storm, "{sub}");
    assert_eq!(s["alarm_messages"], storm, "{out}");
    assert_eq!(at(&report, &["kinds", "alarm", "ok"]), storm, "{report}");
    assert_eq!(s["notify_catalog"] + s["notify_alarm"], 0, "{out}");
    // Over TCP nothing is retransmitted either way.
    assert_eq!(s["retransmits"], 0, "{out}");
    assert_eq!(at(sub, &["retransmissions"]), 0, "{sub}");

    let q = counts(&out, "gbswarm serve: query ");
    assert!(q["answered"] >= 4 && q["items"] > 0, "{out}");
    for zero in [
        "4xx",
        "5xx",
        "6xx",
        "unmatched_pages",
        "duplicate_pages",
        "table_full",
    ] {
        assert_eq!(q[zero], 0, "{zero}: {out}");
    }
    let c = &report["counters"];
    assert!(at(c, &["queries"]) >= q["answered"], "{c}");
    assert_eq!(
        at(c, &["queries_refused"]) + at(c, &["bad_queries"]),
        0,
        "{c}"
    );
}
