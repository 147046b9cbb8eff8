//! `find-max --report FILE.html`: the answer, the steps as a table, and latency and failures
//! against load (in the load's unit) with the objective's limits drawn across, built from the
//! generic pieces of [`crate::stats::html`]. When every step held up to `--max`, the page says
//! the answer may be higher.

use super::{Dimension, Outcome, Step};
use crate::stats::html::{COLORS, Chart, Rule, Series, esc, page, table};
use std::fmt::Write as _;

/// The self-contained HTML report of a find-max search.
pub fn render_html(title: &str, o: &Outcome) -> String {
    let unit = o.dimension.unit();
    let (kind, what) = match o.dimension {
        Dimension::Rate => (
            "register",
            "registrations per second, a fresh fleet each step",
        ),
        Dimension::Fleet => ("keepalive", "cameras online at the plan's heartbeat"),
    };
    let limit_ms = o.slo.max_p99.as_secs_f64() * 1000.0;
    let failure_pct = o.slo.max_failure_share * 100.0;
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<p>Load: {what}; each step measured on its {kind} transactions after the warm-up. \
         Objective: p99 &le; {limit_ms:.1} ms, failures &le; {failure_pct:.3}%, no timeouts.</p>"
    );
    let interrupted = o.interrupted();
    match (o.best, interrupted) {
        (Some(b), false) => {
            let _ = writeln!(body, "<p>Highest load that held: <b>{b} {unit}</b>.</p>");
        }
        (Some(b), true) => {
            let _ = writeln!(
                body,
                "<p><b>Interrupted</b>: the search did not finish. Highest load that held so \
                 far: <b>{b} {unit}</b>.</p>"
            );
        }
        (None, true) => body.push_str("<p><b>Interrupted</b> before any step held.</p>\n"),
        (None, false) => {
            let _ = writeln!(body, "<p>No step held: {}.</p>", esc(&o.why_none_held()));
        }
    }
    let broke = o.steps.iter().any(|s| !s.held && !s.interrupted);
    if let (Some(b), false, false) = (o.best, broke, interrupted) {
        let why = if b >= o.max {
            format!(
                "The search stopped at <code>--max</code> ({} {unit}) with every step held",
                o.max
            )
        } else {
            format!(
                "The search stopped after {} steps, every one held, before reaching \
                 <code>--max</code> ({} {unit})",
                o.steps.len(),
                o.max
            )
        };
        let _ = writeln!(
            body,
            "<p class=\"note\"><b>{why}: the server may hold more than {b} {unit}.</b> Raise \
             <code>--max</code> (or <code>--max-steps</code>) to find where it breaks.</p>"
        );
    }
    // Redirects only where a step had some: most servers never send a 302.
    let redirects = o.steps.iter().any(|s| s.redirected > 0);
    let rows: Vec<Vec<String>> = o
        .steps
        .iter()
        .map(|s| {
            let mut row = vec![
                s.load.to_string(),
                if s.interrupted {
                    "interrupted"
                } else if s.held {
                    "yes"
                } else {
                    "no"
                }
                .into(),
                s.measured.to_string(),
                s.ok.to_string(),
            ];
            if redirects {
                row.push(s.redirected.to_string());
            }
            row.extend([
                s.failures.to_string(),
                s.timeouts.to_string(),
                format!("{:.2}", s.p50_us as f64 / 1000.0),
                format!("{:.2}", s.p99_us as f64 / 1000.0),
                s.broke.clone().unwrap_or_default(),
            ]);
            row
        })
        .collect();
    let mut head = vec![unit, "held", "measured", "ok"];
    if redirects {
        head.push("redirected");
    }
    head.extend(["failures", "timeouts", "p50 ms", "p99 ms", "why it broke"]);
    body.push_str("<h2>Steps, in the order run</h2>\n");
    body.push_str(&table(&head, &rows));
    // An interrupted step measured a part of its window: not a point against load.
    let mut steps: Vec<&Step> = o.steps.iter().filter(|s| !s.interrupted).collect();
    steps.sort_by(|a, b| a.load.total_cmp(&b.load));
    let best_rule = |color| {
        o.best.map(|b| Rule {
            vertical: true,
            at: b,
            label: format!("highest that held: {b} {unit}"),
            color,
        })
    };
    let x_label = format!("load ({unit})");
    let mut lat = Chart::new(
        "latency",
        &format!("{kind} latency from due against load"),
        &x_label,
        "latency (ms)",
    );
    lat.markers = true;
    let ms = |us: u64| us as f64 / 1000.0;
    lat.series.extend([
        Series::new(
            "p99",
            COLORS[3],
            steps.iter().map(|s| (s.load, ms(s.p99_us))),
        ),
        Series::new(
            "p50",
            COLORS[0],
            steps.iter().map(|s| (s.load, ms(s.p50_us))),
        ),
    ]);
    lat.rules.push(Rule {
        vertical: false,
        at: limit_ms,
        label: format!("p99 limit {limit_ms} ms"),
        color: "#b00020",
    });
    lat.rules.extend(best_rule("#2ca02c"));
    body.push_str("<h2>Against load</h2>\n");
    body.push_str(&lat.render("No step was measured."));
    let mut fail = Chart::new(
        "failures",
        &format!("{kind} failures against load"),
        &x_label,
        "failed (%)",
    );
    fail.markers = true;
    fail.series.push(Series::new(
        "failed %",
        COLORS[3],
        steps
            .iter()
            .map(|s| (s.load, 100.0 * s.failures as f64 / s.measured.max(1) as f64)),
    ));
    fail.rules.push(Rule {
        vertical: false,
        at: failure_pct,
        label: format!("failure limit {failure_pct}%"),
        color: "#b00020",
    });
    fail.rules.extend(best_rule("#2ca02c"));
    body.push_str(&fail.render("No step was measured."));
    page(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findmax::Slo;
    use std::time::Duration;

    fn step(load: f64, held: bool) -> Step {
        Step {
            load,
            held,
            measured: 100,
            ok: if held { 100 } else { 90 },
            redirected: 0,
            failures: if held { 0 } else { 10 },
            timeouts: 0,
            p50_us: 500,
            p99_us: if held { 900 } else { 30_000 },
            broke: (!held).then(|| "p99 <too high>".into()),
            interrupted: false,
            unanswered: false,
        }
    }

    fn outcome(dimension: Dimension, best: Option<f64>, max: f64, steps: Vec<Step>) -> Outcome {
        Outcome {
            dimension,
            slo: Slo {
                max_p99: Duration::from_millis(20),
                max_failure_share: 0.001,
            },
            best,
            max,
            steps,
        }
    }

    #[test]
    fn report_has_the_steps_the_limits_and_the_unit() {
        let o = outcome(
            Dimension::Rate,
            Some(40_000.0),
            1e6,
            vec![
                step(10_000.0, true),
                step(20_000.0, true),
                step(40_000.0, true),
                step(80_000.0, false),
            ],
        );
        let html = render_html("gbswarm find-max", &o);
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("Highest load that held: <b>40000 registrations/s</b>"));
        assert!(html.contains("<td>p99 &lt;too high&gt;</td>"));
        assert!(html.contains(
            "<th>registrations/s</th><th>held</th><th>measured</th><th>ok</th><th>failures</th>"
        ));
        assert!(
            !html.contains("may hold more"),
            "a step broke: the answer is bounded"
        );
        for id in ["latency", "failures"] {
            let start = html.find(&format!("<figure id=\"{id}\">")).unwrap();
            let fig = &html[start..start + html[start..].find("</figure>").unwrap()];
            assert!(
                fig.contains("load (registrations/s)"),
                "{id}: unit on the axis"
            );
            assert!(fig.contains("class=\"rule\""), "{id}: the limit is drawn");
            assert!(fig.contains("highest that held: 40000 registrations/s"));
            // Load ticks at 1-2-5 steps: 0, 20k, 40k, 60k, 80k.
            assert!(
                fig.contains(">20k</text>") && fig.contains(">80k</text>"),
                "{id}"
            );
        }
        assert!(html.contains("p99 limit 20 ms"));
        assert!(html.contains("failure limit 0.1%"));
    }

    #[test]
    fn every_step_held_up_to_max_says_the_answer_may_be_higher() {
        let o = outcome(
            Dimension::Fleet,
            Some(5000.0),
            5000.0,
            vec![
                step(1000.0, true),
                step(2000.0, true),
                step(4000.0, true),
                step(5000.0, true),
            ],
        );
        let html = render_html("gbswarm find-max", &o);
        assert!(html.contains("stopped at <code>--max</code> (5000 cameras)"));
        assert!(html.contains("the server may hold more than 5000 cameras"));
        assert!(html.contains("load (cameras)"));
        let none = render_html(
            "t",
            &outcome(Dimension::Rate, None, 1e6, vec![step(1.0, false)]),
        );
        assert!(none.contains("No step held: even the first load (1) broke the objective"));
        assert!(!none.contains("may hold more"));
        // Interrupted while every step so far held: not an answer at --max.
        let mut cut = step(4.0, false);
        (cut.interrupted, cut.broke) = (true, None);
        let html = render_html(
            "t",
            &outcome(Dimension::Rate, Some(2.0), 4.0, vec![step(2.0, true), cut]),
        );
        assert!(html.contains("<b>Interrupted</b>: the search did not finish"));
        assert!(html.contains("<td>interrupted</td>"));
        assert!(!html.contains("may hold more"));
        // Redirects get a column when a step had some.
        let mut redirected = step(2.0, true);
        redirected.redirected = 7;
        let html = render_html(
            "t",
            &outcome(Dimension::Rate, Some(2.0), 4.0, vec![redirected]),
        );
        assert!(html.contains("<th>ok</th><th>redirected</th><th>failures</th>"));
        assert!(html.contains("<td>100</td><td>7</td><td>0</td>"));
    }
}
