//! Line charts as inline SVG that scale with the page (a `viewBox`, drawn at the width of
//! their box): axes from zero with ticks at 1-2-5 steps (0, 5, 10, 15 s; never 4.8, 8.6),
//! gaps where a series has no value, horizontal or vertical rules for thresholds, an HTML
//! legend that wraps, and a sentence in place of a chart that would have nothing to draw.

use super::esc;
use std::fmt::Write as _;

/// One data series of a chart.
pub(crate) struct Series {
    /// Legend label.
    pub(crate) name: String,
    /// Stroke colour (CSS).
    pub(crate) color: &'static str,
    /// (x, y) points in drawing order; `None` is a gap (no value there, not zero).
    pub(crate) points: Vec<(f64, Option<f64>)>,
}

impl Series {
    /// A series without gaps.
    pub(crate) fn new(
        name: impl Into<String>,
        color: &'static str,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> Series {
        Series {
            name: name.into(),
            color,
            points: points.into_iter().map(|(x, y)| (x, Some(y))).collect(),
        }
    }
}

/// A straight line across a chart at a value of one axis, e.g. an objective's limit.
pub(crate) struct Rule {
    /// True for a vertical line at an x value, false for a horizontal one at a y value.
    pub(crate) vertical: bool,
    /// Where.
    pub(crate) at: f64,
    /// Shown beside the line.
    pub(crate) label: String,
    /// Stroke colour (CSS).
    pub(crate) color: &'static str,
}

/// A chart to draw: [`Chart::render`] writes it as a `<figure>`.
pub(crate) struct Chart {
    /// `id` of the figure.
    pub(crate) id: String,
    /// Caption.
    pub(crate) title: String,
    /// Title of the x axis, with its unit.
    pub(crate) x_label: String,
    /// Title of the y axis, with its unit.
    pub(crate) y_label: String,
    /// Plot x on a log10 axis labelled as percentiles (x = 1/(1-q)).
    pub(crate) log_x: bool,
    /// A dot on every point (for few points, e.g. find-max steps).
    pub(crate) markers: bool,
    /// The lines.
    pub(crate) series: Vec<Series>,
    /// Threshold lines.
    pub(crate) rules: Vec<Rule>,
}

const W: f64 = 760.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// A "nice" step (1, 2 or 5 times a power of ten) that cuts `0..=max` into about `target`
/// parts, and the axis end: the first multiple of the step at or above `max`.
pub(crate) fn nice_axis(max: f64, target: u32) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / f64::from(target.max(1));
    let e = raw.log10().floor() as i32;
    // Scaled by an exact power of ten, so 0.1 is the literal 0.1, not 0.1 + 2e-17.
    let scale = |m: f64| {
        if e >= 0 {
            m * 10f64.powi(e)
        } else {
            m / 10f64.powi(-e)
        }
    };
    let n = raw / scale(1.0);
    let step = scale(if n <= 1.0 + 1e-9 {
        1.0
    } else if n <= 2.0 + 1e-9 {
        2.0
    } else if n <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    });
    let top = (max / step - 1e-9).ceil().max(1.0) * step;
    (step, top)
}

/// Tick values of an axis from 0 to `top` by `step`.
pub(crate) fn ticks(step: f64, top: f64) -> Vec<f64> {
    let n = (top / step).round() as u32;
    (0..=n).map(|i| f64::from(i) * step).collect()
}

/// A tick label on an axis ending at `top`, with no more decimals than the step needs: `15`,
/// `2.5`, `0.05`; thousands as `20k` and millions as `1.5M` when the step allows.
pub(crate) fn tick_label(v: f64, step: f64, top: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let (v, step, suffix) = if top >= 1e6 && step >= 1e5 {
        (v / 1e6, step / 1e6, "M")
    } else if top >= 1e4 && step >= 1e3 {
        (v / 1e3, step / 1e3, "k")
    } else {
        (v, step, "")
    };
    let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
    format!("{v:.decimals$}{suffix}")
}

/// `1/(1-q)` back to a percentile label: 10 → 90%, 100 → 99%, 1000 → 99.9%.
pub(crate) fn percentile_label(inv: f64) -> String {
    let q = 100.0 * (1.0 - 1.0 / inv.max(1.0));
    if q == q.trunc() {
        format!("{q:.0}%")
    } else {
        let s = format!("{q:.4}");
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

impl Chart {
    /// A chart without series yet.
    pub(crate) fn new(id: &str, title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart {
            id: id.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            markers: false,
            series: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// True when some series has a value somewhere.
    pub(crate) fn has_data(&self) -> bool {
        self.series
            .iter()
            .any(|s| s.points.iter().any(|(_, y)| y.is_some()))
    }

    /// True when every value of every series is zero (or there is none).
    pub(crate) fn all_zero(&self) -> bool {
        self.series
            .iter()
            .flat_map(|s| &s.points)
            .all(|(_, y)| y.is_none_or(|y| y == 0.0))
    }

    /// The figure: the chart, or `empty` as a sentence when there is nothing to draw.
    pub(crate) fn render(&self, empty: &str) -> String {
        let mut s = format!(
            "<figure id=\"{}\"><figcaption>{}</figcaption>",
            esc(&self.id),
            esc(&self.title)
        );
        if !self.has_data() {
            let _ = writeln!(s, "<p class=\"empty\">{}</p></figure>", esc(empty));
            return s;
        }
        s.push_str("<ul class=\"legend\">");
        for se in &self.series {
            let _ = write!(
                s,
                "<li><span style=\"background:{}\"></span>{}</li>",
                se.color,
                esc(&se.name)
            );
        }
        for r in &self.rules {
            let _ = write!(
                s,
                "<li><span class=\"rule\" style=\"border-color:{}\"></span>{}</li>",
                r.color,
                esc(&r.label)
            );
        }
        s.push_str("</ul>");
        self.svg(&mut s);
        s.push_str("</figure>\n");
        s
    }

    fn svg(&self, s: &mut String) {
        let fx = |x: f64| if self.log_x { x.max(1e-9).log10() } else { x };
        let values = || self.series.iter().flat_map(|se| &se.points);
        let (mut x_lo, mut x_hi, mut y_hi) = (f64::MAX, f64::MIN, 0f64);
        for &(x, y) in values() {
            x_lo = x_lo.min(fx(x));
            x_hi = x_hi.max(fx(x));
            y_hi = y_hi.max(y.unwrap_or(0.0));
        }
        for r in &self.rules {
            if r.vertical {
                x_hi = x_hi.max(fx(r.at));
            } else {
                y_hi = y_hi.max(r.at);
            }
        }
        let (x_ticks, x_step, x_top) = if self.log_x {
            // 1/(1-0.99999) is 100000.000001: not a reason for another decade.
            let (lo, hi) = (
                (x_lo + 1e-6).floor(),
                (x_hi - 1e-6).ceil().max((x_lo + 1e-6).floor() + 1.0),
            );
            (x_lo, x_hi) = (lo, hi);
            ((lo as i32..=hi as i32).map(f64::from).collect(), 1.0, hi)
        } else {
            let (step, top) = nice_axis(x_hi, 6);
            (x_lo, x_hi) = (0.0, top);
            (ticks(step, top), step, top)
        };
        let (y_step, y_top) = nice_axis(y_hi, 5);
        let px = |x: f64| LEFT + (fx(x) - x_lo) / (x_hi - x_lo) * (W - LEFT - RIGHT);
        let pxl = |lx: f64| LEFT + (lx - x_lo) / (x_hi - x_lo) * (W - LEFT - RIGHT);
        let py = |y: f64| TOP + (1.0 - y / y_top) * (H - TOP - BOTTOM);
        let _ = write!(
            s,
            r##"<svg class="chart" viewBox="0 0 {W} {H}" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}"><rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="#fafafa" stroke="#ccc"/>"##,
            esc(&self.title),
            W - LEFT - RIGHT,
            H - TOP - BOTTOM
        );
        for y in ticks(y_step, y_top) {
            let yy = py(y);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e4e4e4"/><text class="tick y" x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                yy + 4.0,
                tick_label(y, y_step, y_top)
            );
        }
        for t in x_ticks {
            let (xx, label) = if self.log_x {
                (pxl(t), percentile_label(10f64.powf(t)))
            } else {
                (px(t), tick_label(t, x_step, x_top))
            };
            let _ = write!(
                s,
                r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{}" stroke="#999"/><text class="tick x" x="{xx:.1}" y="{}" font-size="11" text-anchor="middle">{label}</text>"##,
                H - BOTTOM,
                H - BOTTOM + 4.0,
                H - BOTTOM + 16.0
            );
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text><text x="14" y="{mid:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {mid:.1})">{}</text>"#,
            (LEFT + W - RIGHT) / 2.0,
            H - 8.0,
            esc(&self.x_label),
            esc(&self.y_label),
            mid = (TOP + H - BOTTOM) / 2.0,
        );
        for r in &self.rules {
            let (x1, x2, y1, y2, lx, ly, anchor) = if r.vertical {
                let x = px(r.at);
                (x, x, TOP, H - BOTTOM, x - 4.0, TOP + 28.0, "end")
            } else {
                let y = py(r.at);
                (LEFT, W - RIGHT, y, y, W - RIGHT - 4.0, y - 4.0, "end")
            };
            let _ = write!(
                s,
                r#"<line class="rule" x1="{x1:.1}" x2="{x2:.1}" y1="{y1:.1}" y2="{y2:.1}" stroke="{c}" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{lx:.1}" y="{ly:.1}" font-size="11" text-anchor="{anchor}" fill="{c}">{}</text>"#,
                esc(&r.label),
                c = r.color
            );
        }
        for se in &self.series {
            self.path(s, se, &px, &py);
        }
        s.push_str("</svg>");
    }

    /// One series: a path broken at every gap, and a dot where a value stands alone (or on
    /// every point with [`Chart::markers`]).
    fn path(&self, s: &mut String, se: &Series, px: &dyn Fn(f64) -> f64, py: &dyn Fn(f64) -> f64) {
        let mut d = String::new();
        let mut dots = Vec::new();
        let pts = &se.points;
        for (i, &(x, y)) in pts.iter().enumerate() {
            let Some(y) = y else { continue };
            let (xx, yy) = (px(x), py(y));
            let after_gap = i == 0 || pts[i - 1].1.is_none();
            let before_gap = pts.get(i + 1).is_none_or(|p| p.1.is_none());
            let _ = write!(d, "{}{xx:.1},{yy:.1}", if after_gap { "M" } else { "L" });
            if self.markers || (after_gap && before_gap) {
                dots.push((xx, yy));
            }
        }
        let _ = write!(
            s,
            r#"<path class="series" data-name="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round" d="{d}"/>"#,
            esc(&se.name),
            se.color
        );
        for (x, y) in dots {
            let _ = write!(
                s,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}"/>"#,
                se.color
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_step_by_one_two_five() {
        assert_eq!(nice_axis(19.0, 5), (5.0, 20.0));
        assert_eq!(nice_axis(8.6, 5), (2.0, 10.0));
        assert_eq!(nice_axis(20.0, 5), (5.0, 20.0));
        assert_eq!(nice_axis(0.0, 5), (0.2, 1.0));
        assert_eq!(nice_axis(75_000.0, 6), (20_000.0, 80_000.0));
        let (step, top) = nice_axis(0.37, 5);
        assert_eq!((step, top), (0.1, 0.4));
        let labels = |step: f64, top: f64| -> Vec<String> {
            ticks(step, top)
                .iter()
                .map(|&v| tick_label(v, step, top))
                .collect()
        };
        assert_eq!(labels(step, top), ["0", "0.1", "0.2", "0.3", "0.4"]);
        assert_eq!(labels(5.0, 20.0), ["0", "5", "10", "15", "20"]);
        assert_eq!(
            labels(20_000.0, 80_000.0),
            ["0", "20k", "40k", "60k", "80k"]
        );
        assert_eq!(labels(500_000.0, 1.5e6), ["0", "0.5M", "1.0M", "1.5M"]);
        assert_eq!(labels(500.0, 2000.0), ["0", "500", "1000", "1500", "2000"]);
    }

    #[test]
    fn percentile_labels() {
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(1000.0), "99.9%");
    }

    #[test]
    fn gaps_break_the_line_and_a_lone_value_gets_a_dot() {
        let mut c = Chart::new("c", "t", "x", "y");
        c.series.push(Series {
            name: "p99".into(),
            color: "red",
            points: vec![
                (1.0, Some(2.0)),
                (2.0, Some(3.0)),
                (3.0, None),
                (4.0, Some(1.0)),
                (5.0, None),
            ],
        });
        let html = c.render("nothing");
        let d = html
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert_eq!(html.matches("<circle").count(), 1);
        assert!(!html.contains("nothing"));
        let empty = Chart::new("c", "t", "x", "y").render("no keepalive was answered");
        assert!(empty.contains("<p class=\"empty\">no keepalive was answered</p>"));
        assert!(!empty.contains("<svg"));
    }

    #[test]
    fn a_rule_is_inside_the_axis() {
        let mut c = Chart::new("c", "t", "load", "ms");
        c.series
            .push(Series::new("p99", "red", [(1.0, 5.0), (2.0, 9.0)]));
        c.rules.push(Rule {
            vertical: false,
            at: 20.0,
            label: "p99 limit 20 ms".into(),
            color: "red",
        });
        let html = c.render("");
        // The y axis reaches the limit: its top tick is 20 (steps of 5).
        assert!(html.contains(">20</text>"), "{html}");
        assert!(html.contains("p99 limit 20 ms"));
        assert!(html.contains("class=\"rule\""));
    }
}
