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
            lag: Span::from_micros(i % 50),
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
        lag: Span::from_micros(700),
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
    for label in [
        "latency from due, ms",
        "(what a user sees)",
        "service time, ms",
        "(sent→answer)",
        "schedule lag, ms",
        "(due→sent, the generator's)",
    ] {
        assert!(t.contains(label), "{label}: {t}");
    }
}

#[test]
fn text_splits_latency_into_service_and_lag() {
    let mut s = Snapshot::default();
    s.record(&Record {
        kind: TxnKind::Keepalive,
        outcome: Outcome::Status(200),
        latency: Span::from_micros(1200),
        lag: Span::from_micros(1000),
        retransmits: 0,
        redirected: false,
    });
    let t = render_text(&info(), &s);
    let row = t
        .lines()
        .find(|l| l.starts_with("keepalive") && l.matches('|').count() == 3)
        .unwrap_or_else(|| panic!("{t}"));
    let cells: Vec<String> = row
        .split('|')
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        cells,
        [
            "keepalive",
            "1.20 1.20 1.20",
            "0.20 0.20 0.20",
            "1.00 1.00 1.00"
        ],
        "{t}"
    );
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
    // Service time and lag come back exactly too.
    for (ha, hb) in [(&ra.service, &rb.service), (&ra.lag, &rb.lag)] {
        assert_eq!(ha.len(), rb.latency.len());
        for q in [0.0, 0.5, 0.99, 1.0] {
            assert_eq!(ha.value_at_quantile(q), hb.value_at_quantile(q));
        }
    }
    assert_eq!(v["kinds"]["register"]["lag_us"]["max"], 49);
    assert_eq!(v["kinds"]["register"]["service_us"]["count"], 501);
    assert_eq!(v["kinds"]["keepalive"]["lag_us"]["max"], 700);
    assert_eq!(v["kinds"]["keepalive"]["service_us"]["count"], 0);
    assert_eq!(b.kind(TxnKind::Keepalive).lag.len(), 2);
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
    let mut lags = a.kind(TxnKind::Register).lag.clone();
    lags.add(&c.kind(TxnKind::Register).lag).unwrap();
    assert_eq!(mr.lag.len(), lags.len());
    assert_eq!(mr.lag.value_at_quantile(0.9), lags.value_at_quantile(0.9));
    assert!(from_json(&json!({"schema": "other"})).is_err());
}

#[test]
fn a_report_without_service_and_lag_reads_them_as_empty() {
    let a = sample(0);
    let mut v = to_json(&info(), &a, &[]);
    for kv in v["kinds"].as_object_mut().unwrap().values_mut() {
        let kv = kv.as_object_mut().unwrap();
        for key in ["service_us", "service_histogram", "lag_us", "lag_histogram"] {
            kv.remove(key);
        }
    }
    let (_, b) = from_json(&v).unwrap();
    let r = b.kind(TxnKind::Register);
    assert_eq!(r.latency.len(), 501);
    assert!(r.service.is_empty() && r.lag.is_empty());
    v["kinds"]["register"]["lag_histogram"] = json!("not base64!");
    assert!(from_json(&v).unwrap_err().contains("lag_histogram"));
}

#[test]
fn device_controls_reboots_and_bad_queries_round_trip_and_are_reported() {
    let mut a = sample(0);
    a.counters.controls[crate::gb::control::Control::TeleBoot.index()] = 2;
    a.counters.controls[crate::gb::control::Control::Ptz.index()] = 7;
    a.counters.reboots = 2;
    a.counters.bad_queries = 1;
    let v = to_json(&info(), &a, &[]);
    assert_eq!(v["counters"]["controls"]["tele_boot"], 2);
    assert_eq!(v["counters"]["controls"]["ptz"], 7);
    assert_eq!(v["counters"]["reboots"], 2);
    let (_, b) = from_json(&v).unwrap();
    assert_eq!(b.counters.controls, a.counters.controls);
    assert_eq!((b.counters.reboots, b.counters.bad_queries), (2, 1));
    let text = render_text(&info(), &a);
    assert!(
        text.contains("device controls: ptz 7 tele_boot 2; reboots 2"),
        "{text}"
    );
}
