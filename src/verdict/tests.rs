use super::*;
use crate::camera::{Outcome, Record};
use crate::clock::Span;

fn run(register_ms: &[u64], failures: u64, timeouts: u64) -> Snapshot {
    let mut s = Snapshot::default();
    for &ms in register_ms {
        s.record(&Record {
            kind: TxnKind::Register,
            outcome: Outcome::Status(200),
            latency: Span::from_millis(ms),
            lag: Span::from_millis(1),
            redirected: false,
            retransmits: 0,
        });
    }
    for _ in 0..failures {
        s.record(&Record {
            kind: TxnKind::Register,
            outcome: Outcome::Status(403),
            latency: Span::from_millis(1),
            lag: Span::ZERO,
            redirected: false,
            retransmits: 0,
        });
    }
    for _ in 0..timeouts {
        s.record(&Record {
            kind: TxnKind::Keepalive,
            outcome: Outcome::Timeout,
            latency: Span::from_secs(32),
            lag: Span::ZERO,
            redirected: false,
            retransmits: 6,
        });
    }
    s
}

fn obj(s: &str) -> Objective {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn objectives_parse_with_kind_clock_and_units() {
    let o = obj("register.p99 <= 50ms");
    assert_eq!(o.text, "register.p99<=50ms");
    assert_eq!(o.kind, Some(TxnKind::Register));
    assert_eq!(o.metric, Metric::Quantile(Clock::Latency, 0.99));
    assert_eq!((o.op, o.limit), (Op::Le, Limit::Micros(50_000.0)));
    let o = obj("keepalive.service.p99.9<1.5s");
    assert_eq!(o.metric, Metric::Quantile(Clock::Service, 0.999));
    assert_eq!((o.op, o.limit), (Op::Lt, Limit::Micros(1_500_000.0)));
    let o = obj("failures<=0.1%");
    assert_eq!((o.kind, o.metric), (None, Metric::Count(Count::Failures)));
    assert_eq!(o.limit, Limit::Share(0.001));
    assert_eq!(obj("timeouts==0").limit, Limit::Number(0.0));
    assert_eq!(
        obj("lag.max<=800us").metric,
        Metric::Quantile(Clock::Lag, 1.0)
    );
    assert_eq!(obj("ok>=10").op, Op::Ge);
}

#[test]
fn a_bad_objective_says_what_is_wrong() {
    for (s, says) in [
        ("register.p99", "has no comparison"),
        ("register.p98<=5ms", "unknown metric `p98`"),
        ("registr.p99<=5ms", "`registr` is neither a kind"),
        ("p99<=5", "`5` is not a duration"),
        ("failures<=lots", "not a count or a percentage"),
        ("failures<=150%", "not a percentage"),
        ("service.failures<=1", "a count has no clock"),
        ("p99=>5ms", "`=>5ms` is not a comparison"),
        (
            "register.service.x.p99<=1ms",
            "is not [KIND.][CLOCK.]METRIC",
        ),
    ] {
        let e = s.parse::<Objective>().unwrap_err();
        assert!(e.contains(says), "{s}: {e}");
    }
}

#[test]
fn judgements_read_the_totals_and_say_what_was_measured() {
    let t = run(&[2, 3, 4, 100], 1, 2);
    let j = judge(&obj("register.p50<=5ms"), &t);
    assert!(j.held, "{j}");
    assert!(
        j.to_string()
            .starts_with("register.p50<=5ms held (measured 3."),
        "{j}"
    );
    let j = judge(&obj("register.max<50ms"), &t);
    assert!(!j.held);
    assert!(j.to_string().contains("MISSED (measured 100."), "{j}");
    // Service time is latency minus the lag (1 ms here).
    let j = judge(&obj("register.service.p50<=2ms"), &t);
    assert!(j.held, "{j}");
    let j = judge(&obj("register.failures<=10%"), &t);
    assert_eq!((j.held, j.measured.as_str()), (false, "20.000% (1 of 5)"));
    assert!(judge(&obj("failures<=3"), &t).held);
    assert!(!judge(&obj("timeouts==0"), &t).held);
    // Nothing timed: a latency objective is not vouched for.
    let j = judge(&obj("refresh.p99<=1s"), &t);
    assert_eq!((j.held, j.measured.as_str()), (false, "no samples"));
}

#[test]
fn the_default_wants_every_registration_to_succeed_and_no_timeout() {
    let d = default_objectives();
    assert_eq!(d.len(), 3);
    assert!(judge_all(&d, &run(&[1, 2], 0, 0)).iter().all(|j| j.held));
    let missed = |t: &Snapshot| -> Vec<String> {
        judge_all(&d, t)
            .into_iter()
            .filter(|j| !j.held)
            .map(|j| j.objective.text)
            .collect()
    };
    assert_eq!(missed(&run(&[1], 1, 0)), ["register.failures==0"]);
    assert_eq!(missed(&run(&[1], 0, 1)), ["timeouts==0"]);
    assert_eq!(missed(&Snapshot::default()), ["register.ok>=1"]);
}

#[test]
fn flags_replace_the_profiles_objective_on_the_same_metric() {
    let c = settle(vec![
        obj("register.p99<=50ms"),
        obj("timeouts==0"),
        obj("register.p99<=20ms"),
    ]);
    let texts: Vec<&str> = c.iter().map(|o| o.text.as_str()).collect();
    assert_eq!(texts, ["timeouts==0", "register.p99<=20ms"]);
    assert!(settle(vec![]).is_empty());
    assert_eq!(or_default(&[]), default_objectives());
    assert_eq!(or_default(&c), c);
}

proptest::proptest! {
    /// Whatever is typed after `--slo`, the answer is an objective or a message, never a
    /// panic; a parsed objective prints back as it was written (spaces dropped).
    #[test]
    fn any_text_is_an_objective_or_a_message(s in "[a-z_.0-9 <>=%µ]{0,40}") {
        match s.parse::<Objective>() {
            Ok(o) => proptest::prop_assert_eq!(o.text, s.replace(' ', "")),
            Err(e) => proptest::prop_assert!(!e.is_empty()),
        }
    }
}
