//! `--report FILE.html`: one self-contained page (inline CSS and SVG; no script, no network)
//! with latency percentile curves per transaction kind, throughput and online cameras over
//! time, and errors over time.
//!
//! The generic pieces (page, table, line chart, palette) know nothing of runs; reports of
//! higher layers (find-max's, in `findmax::report`) are built from them.

use super::Snapshot;
use super::series::Second;
use crate::camera::TxnKind;
use std::fmt::Write as _;

/// Series colours, in the order of [`TxnKind::ALL`].
pub(crate) const COLORS: [&str; 5] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One data series of a chart.
pub(crate) struct Series {
    /// Legend label.
    pub(crate) name: String,
    /// Stroke colour (CSS).
    pub(crate) color: &'static str,
    /// (x, y) points in drawing order.
    pub(crate) points: Vec<(f64, f64)>,
}

/// A line chart as inline SVG; `log_x` plots x on a log10 axis (for percentile curves).
pub(crate) fn line_chart(
    id: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 300.0, 64.0, 36.0, 28.0, 44.0);
    let fx = |x: f64| if log_x { x.max(1e-9).log10() } else { x };
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(fx(x));
        x1 = x1.max(fx(x));
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    if y1 <= 0.0 {
        y1 = 1.0;
    }
    y1 *= 1.08;
    let px = |x: f64| left + (fx(x) - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| top + (1.0 - y / y1) * (h - top - bottom);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure id="{id}"><figcaption>{}</figcaption><svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}">"#,
        esc(title),
        esc(title)
    );
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="#fafafa" stroke="#ccc"/>"##,
        w - left - right,
        h - top - bottom
    );
    for i in 0..=4 {
        let y = y1 / 1.08 * f64::from(i) / 4.0;
        let yy = py(y);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e4e4e4"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            w - right,
            left - 6.0,
            yy + 4.0,
            short(y)
        );
    }
    let ticks: Vec<f64> = if log_x {
        (x0.floor() as i32..=x1.ceil() as i32)
            .map(|e| 10f64.powi(e))
            .filter(|v| fx(*v) >= x0 - 1e-9 && fx(*v) <= x1 + 1e-9)
            .collect()
    } else {
        (0..=5)
            .map(|i| x0 + (x1 - x0) * f64::from(i) / 5.0)
            .collect()
    };
    for t in ticks {
        let xx = px(t);
        let label = if log_x { percentile_label(t) } else { short(t) };
        let _ = write!(
            s,
            r#"<text x="{xx:.1}" y="{}" font-size="11" text-anchor="middle">{label}</text>"#,
            h - bottom + 16.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
        (left + w - right) / 2.0,
        h - 8.0,
        esc(x_label)
    );
    let _ = write!(
        s,
        r#"<text x="14" y="{}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0,
        esc(y_label)
    );
    for (i, se) in series.iter().enumerate() {
        let points: Vec<String> = se
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="series" data-name="{}" fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            esc(&se.name),
            se.color,
            points.join(" ")
        );
        let lx = left + 10.0 + (i as f64) * 140.0;
        let _ = write!(
            s,
            r#"<rect x="{lx:.0}" y="8" width="12" height="4" fill="{}"/><text x="{:.0}" y="14" font-size="11">{}</text>"#,
            se.color,
            lx + 16.0,
            esc(&se.name)
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

/// Compact number for axis labels.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// `1/(1-q)` back to a percentile label: 10 → 90%, 100 → 99%, 1000 → 99.9%.
fn percentile_label(inv: f64) -> String {
    let q = 100.0 * (1.0 - 1.0 / inv.max(1.0));
    if q == q.trunc() {
        format!("{q:.0}%")
    } else {
        let s = format!("{q:.4}");
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}\
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:16px 0}\
figcaption{font-weight:600;margin-bottom:4px}";

/// A whole HTML document: `title` as title and heading, then `body`.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head>\n<body><h1>{}</h1>\n{body}</body></html>\n",
        esc(title),
        esc(title)
    )
}

/// An HTML table; no header row if `head` is empty. Cells are escaped.
pub(crate) fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table>");
    if !head.is_empty() {
        s.push_str("<tr>");
        for h in head {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s.push_str("</tr>");
    }
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>\n");
    s
}

/// The report of a run: `facts` are (label, value) lines shown first.
pub fn render_run(
    title: &str,
    facts: &[(String, String)],
    total: &Snapshot,
    timeline: &[Second],
) -> String {
    let mut body = String::new();
    body.push_str(&table(
        &[],
        &facts
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect::<Vec<_>>(),
    ));
    let ms = |us: u64| format!("{:.2}", us as f64 / 1000.0);
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (i, k) in TxnKind::ALL.iter().enumerate() {
        let s = total.kind(*k);
        if s.total() == 0 {
            continue;
        }
        let h = &s.latency;
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        rows.push(vec![
            k.as_str().to_string(),
            s.total().to_string(),
            s.succeeded().to_string(),
            s.rejected().to_string(),
            s.timeouts.to_string(),
            s.transport_errors.to_string(),
            s.abandoned.to_string(),
            s.retransmits.to_string(),
            ms(q(0.5)),
            ms(q(0.99)),
            ms(q(0.999)),
            ms(if h.is_empty() { 0 } else { h.max() }),
        ]);
        if !h.is_empty() {
            let points = [
                0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 0.99999,
            ]
            .iter()
            .map(|&p| (1.0 / (1.0 - p), h.value_at_quantile(p) as f64 / 1000.0))
            .collect();
            curves.push(Series {
                name: k.as_str().into(),
                color: COLORS[i],
                points,
            });
        }
    }
    body.push_str("<h2>Transactions</h2>\n");
    body.push_str(&table(
        &[
            "kind",
            "sent",
            "2xx",
            "rejected",
            "timeouts",
            "transport",
            "pending at stop",
            "retransmits",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
        ],
        &rows,
    ));
    body.push_str(&line_chart(
        "latency",
        "Latency by percentile",
        "percentile",
        "latency (ms)",
        &curves,
        true,
    ));
    let over_time = |f: &dyn Fn(&Second) -> f64| {
        timeline
            .iter()
            .map(|r| (r.t_s as f64, f(r)))
            .collect::<Vec<_>>()
    };
    let mut tput = Vec::new();
    for (i, k) in TxnKind::ALL.iter().enumerate() {
        if timeline.iter().any(|r| r.kinds[i].ok > 0) {
            tput.push(Series {
                name: format!("{} ok/s", k.as_str()),
                color: COLORS[i],
                points: over_time(&|r| r.kinds[i].ok as f64),
            });
        }
    }
    body.push_str(&line_chart(
        "throughput",
        "Throughput over time",
        "seconds",
        "answered per second",
        &tput,
        false,
    ));
    let online = vec![
        Series {
            name: "registered".into(),
            color: COLORS[2],
            points: over_time(&|r| r.gauges.registered as f64),
        },
        Series {
            name: "started".into(),
            color: COLORS[0],
            points: over_time(&|r| r.gauges.started as f64),
        },
    ];
    body.push_str(&line_chart(
        "online",
        "Cameras online over time",
        "seconds",
        "cameras",
        &online,
        false,
    ));
    let errors = vec![
        Series {
            name: "errors/s".into(),
            color: COLORS[3],
            points: over_time(&|r| r.kinds.iter().map(|k| k.failed()).sum::<u64>() as f64),
        },
        Series {
            name: "timeouts/s".into(),
            color: COLORS[4],
            points: over_time(&|r| r.kinds.iter().map(|k| k.timeouts).sum::<u64>() as f64),
        },
        Series {
            name: "retransmits/s".into(),
            color: COLORS[1],
            points: over_time(&|r| r.retransmissions as f64),
        },
    ];
    body.push_str(&line_chart(
        "errors",
        "Errors over time",
        "seconds",
        "per second",
        &errors,
        false,
    ));
    page(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Outcome, Record};
    use crate::clock::Span;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        for i in 0..1000u64 {
            s.record(&Record {
                kind: TxnKind::Register,
                outcome: Outcome::Status(200),
                latency: Span::from_micros(500 + i),
                lag: Span::ZERO,
                retransmits: 0,
                redirected: false,
            });
            s.record(&Record {
                kind: TxnKind::Keepalive,
                outcome: Outcome::Status(200),
                latency: Span::from_micros(300 + i / 2),
                lag: Span::ZERO,
                retransmits: 0,
                redirected: false,
            });
        }
        s.record(&Record {
            kind: TxnKind::Register,
            outcome: Outcome::Timeout,
            latency: Span::from_micros(0),
            lag: Span::ZERO,
            retransmits: 10,
            redirected: false,
        });
        s.gauges.registered = 1000;
        s.gauges.started = 1000;
        s
    }

    #[test]
    fn run_report_is_self_contained_with_charts() {
        let s = snapshot();
        let timeline: Vec<Second> = (1..=5).map(|t| Second::of(t, &s)).collect();
        let html = render_run(
            "gbswarm <run>",
            &[("target".into(), "127.0.0.1:5060".into())],
            &s,
            &timeline,
        );
        assert!(html.starts_with("<!doctype html>"));
        // Nothing is fetched: the only URL is the SVG namespace name.
        let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!without_ns.contains("http"), "no external resource");
        assert!(!html.contains("<script"));
        assert!(html.contains("gbswarm &lt;run&gt;"));
        for id in ["latency", "throughput", "online", "errors"] {
            assert!(html.contains(&format!("<figure id=\"{id}\">")), "{id}");
        }
        assert!(html.matches("<polyline").count() >= 2 + 2 + 2 + 3);
        assert!(html.contains("99.9%"));
    }

    #[test]
    fn labels() {
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(short(12_500.0), "12k");
        assert_eq!(short(0.25), "0.250");
    }
}
