//! `find-max --report FILE.html`: the steps as a table and latency and failures against load,
//! drawn with the generic pieces of [`crate::stats::html`].

use super::{Outcome, Step};
use crate::stats::html::{COLORS, Series, line_chart, page, table};
use std::fmt::Write as _;

/// The self-contained HTML report of a find-max search.
pub fn render_html(title: &str, o: &Outcome) -> String {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<p>Highest load that held: <b>{}</b> (p99 &le; {:.1} ms, failures &le; {:.3}%, no timeouts).</p>",
        o.best.map_or("none".into(), |b| b.to_string()),
        o.slo.max_p99.as_secs_f64() * 1000.0,
        o.slo.max_failure_share * 100.0
    );
    let mut steps: Vec<&Step> = o.steps.iter().collect();
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            vec![
                s.load.to_string(),
                if s.held { "yes" } else { "no" }.into(),
                s.measured.to_string(),
                s.failures.to_string(),
                format!("{:.2}", s.p50_us as f64 / 1000.0),
                format!("{:.2}", s.p99_us as f64 / 1000.0),
                s.broke.clone().unwrap_or_default(),
            ]
        })
        .collect();
    body.push_str(&table(
        &[
            "load",
            "held",
            "measured",
            "failures",
            "p50 ms",
            "p99 ms",
            "why it broke",
        ],
        &rows,
    ));
    steps.sort_by(|a, b| a.load.total_cmp(&b.load));
    let lat = vec![
        Series {
            name: "p99 ms".into(),
            color: COLORS[3],
            points: steps
                .iter()
                .map(|s| (s.load, s.p99_us as f64 / 1000.0))
                .collect(),
        },
        Series {
            name: "p50 ms".into(),
            color: COLORS[0],
            points: steps
                .iter()
                .map(|s| (s.load, s.p50_us as f64 / 1000.0))
                .collect(),
        },
    ];
    body.push_str(&line_chart(
        "latency",
        "Latency against load",
        "load",
        "latency (ms)",
        &lat,
        false,
    ));
    let fail = vec![Series {
        name: "failed %".into(),
        color: COLORS[3],
        points: steps
            .iter()
            .map(|s| (s.load, 100.0 * s.failures as f64 / s.measured.max(1) as f64))
            .collect(),
    }];
    body.push_str(&line_chart(
        "failures",
        "Failures against load",
        "load",
        "failed (%)",
        &fail,
        false,
    ));
    page(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findmax::{Dimension, Slo};
    use std::time::Duration;

    #[test]
    fn report_has_the_steps_and_both_charts() {
        let step = |load: f64, held: bool| Step {
            load,
            held,
            measured: 100,
            ok: if held { 100 } else { 90 },
            redirected: 0,
            failures: if held { 0 } else { 10 },
            timeouts: 0,
            p50_us: 500,
            p99_us: 900,
            broke: (!held).then(|| "p99 <too high>".into()),
            interrupted: false,
            unanswered: false,
        };
        let o = Outcome {
            dimension: Dimension::Rate,
            slo: Slo {
                max_p99: Duration::from_millis(50),
                max_failure_share: 0.001,
            },
            best: Some(1000.0),
            steps: vec![step(1000.0, true), step(2000.0, false)],
        };
        let html = render_html("gbswarm find-max", &o);
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("Highest load that held: <b>1000</b>"));
        assert!(html.contains("<td>p99 &lt;too high&gt;</td>"));
        for id in ["latency", "failures"] {
            assert!(html.contains(&format!("<figure id=\"{id}\">")), "{id}");
        }
    }
}
