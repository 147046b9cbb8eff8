//! `--report FILE.html`: one self-contained page (inline CSS and SVG; no script, no network)
//! that reads at any width from 900 px up without scrolling sideways: charts scale with the
//! page, wide tables scroll inside their own box, long values wrap.
//!
//! The generic pieces (page, table, settings list, charts in `chart.rs`) know nothing of runs;
//! the run report is [`render_run`] (in `run.rs`), find-max's is built from the same pieces in
//! `findmax::report`.

use std::fmt::Write as _;

mod chart;
mod run;

pub(crate) use chart::{Chart, Rule, Series};
pub use run::{VerdictRow, render_judged, render_run};

/// Series colours, in the order of [`TxnKind::ALL`](crate::camera::TxnKind::ALL).
pub(crate) const COLORS: [&str; 9] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22",
];

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,sans-serif;margin:0 auto;padding:16px 24px;color:#222;max-width:1040px;line-height:1.4}\
h2{margin-top:28px;border-bottom:1px solid #ddd}\
.scroll{overflow-x:auto;max-width:100%}\
table{border-collapse:collapse;margin:8px 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
table.facts td{text-align:left;overflow-wrap:anywhere}table.facts td:first-child{white-space:nowrap}\
dl.settings{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:2px 24px;margin:8px 0}\
dl.settings div{display:flex;gap:8px;border-bottom:1px dotted #ddd;min-width:0}\
dl.settings dt{font-weight:600;white-space:nowrap}dl.settings dd{margin:0 0 0 auto;text-align:right;overflow-wrap:anywhere;min-width:0}\
figure{margin:20px 0}figcaption{font-weight:600;margin-bottom:4px}\
svg.chart{display:block;width:100%;height:auto}\
ul.legend{list-style:none;padding:0;margin:2px 0 4px;display:flex;flex-wrap:wrap;gap:2px 18px;font-size:13px}\
ul.legend span{display:inline-block;width:14px;height:4px;margin-right:6px;vertical-align:middle}\
ul.legend span.rule{height:0;border-top:2px dashed}\
p.empty{color:#555;font-style:italic}p.note{color:#444;font-size:14px}\
dl.terms dt{font-weight:600}dl.terms dd{margin:0 0 6px 16px}\
footer{margin-top:32px;color:#666;font-size:13px}";

/// A whole HTML document: `title` as title and heading, then `body`, then a footer naming the
/// gbswarm build that wrote it.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head>\n<body><h1>{t}</h1>\n{body}<footer>Written by gbswarm {} (commit {}).</footer></body></html>\n",
        esc(super::info::VERSION),
        esc(super::info::COMMIT),
        t = esc(title),
    )
}

/// An HTML table in a box that scrolls sideways if the table is wider than the page; no
/// header row if `head` is empty. Cells are escaped.
pub(crate) fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    table_of("", head, rows)
}

/// [`table`] with a CSS class (`facts`: two columns of label and value, values wrap).
pub(crate) fn table_of(class: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<div class=\"scroll\"><table");
    if !class.is_empty() {
        let _ = write!(s, " class=\"{}\"", esc(class));
    }
    s.push('>');
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
    s.push_str("</table></div>\n");
    s
}

/// (key, value) pairs as a list that flows into as many columns as the width allows.
pub(crate) fn settings_list(pairs: &[(String, String)]) -> String {
    let mut s = String::from("<dl class=\"settings\">");
    for (k, v) in pairs {
        let _ = write!(s, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), esc(v));
    }
    s.push_str("</dl>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_escape_and_scroll_in_their_own_box() {
        let t = table(&["a<b"], &[vec!["x&y".into()]]);
        assert!(t.starts_with("<div class=\"scroll\"><table>"));
        assert!(t.contains("<th>a&lt;b</th>") && t.contains("<td>x&amp;y</td>"));
        let p = page("t<", "<p>b</p>");
        assert!(p.contains("<title>t&lt;</title>") && p.contains("<h1>t&lt;</h1>"));
        assert!(p.contains(&format!("gbswarm {}", super::super::info::VERSION)));
        let l = settings_list(&[("rate".into(), "100".into())]);
        assert!(l.contains("<dt>rate</dt><dd>100</dd>"));
    }
}
