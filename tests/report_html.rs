//! The HTML reports as a person sees them: a real run writes `--report`, headless Chromium
//! (Debian package `chromium`) lays it out at 900 and 1400 px, and a probe added to a copy of
//! the page (the report itself has no script) reads the laid-out page: nothing wider than the
//! window, every chart drawn at the width of the page with lines in it, or a sentence where
//! there was nothing to draw. Find-max's page gets the same check.

mod peers;

use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use std::path::Path;
use std::process::Command;

/// Widths a report must read at without scrolling sideways.
const WIDTHS: [u32; 2] = [900, 1400];

/// Appended to a copy of the page: measures the layout and writes it into the DOM as
/// `<pre id="probe">` lines: the viewport and document widths, then one line per chart box.
const PROBE: &str = r#"<script>
(function () {
  var de = document.documentElement, out = [];
  out.push("page " + de.clientWidth + " " + de.scrollWidth);
  document.querySelectorAll("svg.chart").forEach(function (s) {
    var b = s.getBoundingClientRect();
    out.push("svg " + Math.round(b.left) + " " + Math.round(b.right) + " " + Math.round(b.height));
  });
  var p = document.createElement("pre");
  p.id = "probe";
  p.textContent = out.join("\n");
  document.body.appendChild(p);
})();
</script></body>"#;

/// The DOM of `page` after Chromium laid it out at `width` px, with the probe's lines.
fn render(page: &Path, width: u32, dir: &Path) -> (String, Vec<String>) {
    let html = std::fs::read_to_string(page).unwrap();
    assert!(!html.contains("<script"), "the report itself has no script");
    let probed = dir.join(format!("probed-{width}.html"));
    std::fs::write(&probed, html.replace("</body>", PROBE)).unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--dump-dom",
        ])
        .arg(format!("--window-size={width},1000"))
        .arg(format!(
            "--user-data-dir={}",
            dir.join(format!("profile-{width}")).display()
        ))
        .arg(format!("file://{}", probed.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let probe = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|p| p.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe did not run at {width} px"))
        .lines()
        .map(String::from)
        .collect();
    (dom, probe)
}

/// Checks the laid-out page at `width`: no sideways scrolling, every chart inside the page
/// and scaled to it, every figure a drawn chart or a sentence, and the figures `drawn` drawn
/// as charts. Returns the DOM.
fn check_layout(page: &Path, width: u32, dir: &Path, drawn: &[&str]) -> String {
    let (dom, probe) = render(page, width, dir);
    let nums = |line: &str| -> Vec<i64> {
        line.split(' ')
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let page_line = nums(&probe[0]);
    let (client, scroll) = (page_line[0], page_line[1]);
    assert!(
        client > width as i64 - 40,
        "laid out at {width} px: {probe:?}"
    );
    assert!(
        scroll <= client,
        "{width} px: the page scrolls sideways ({scroll} > {client})"
    );
    let svgs: Vec<Vec<i64>> = probe[1..].iter().map(|l| nums(l)).collect();
    assert_eq!(
        svgs.len(),
        dom.matches("<svg class=\"chart\"").count(),
        "{width} px: every chart laid out"
    );
    for s in &svgs {
        let (left, right, height) = (s[0], s[1], s[2]);
        assert!(
            left >= 0 && right <= client,
            "{width} px: a chart outside the page: {s:?}"
        );
        // Scaled to its box: as wide as the text column, not a fixed 760 px.
        let column = client.min(1040) - 48;
        assert!(
            (right - left - column).abs() <= 2,
            "{width} px: a chart {} px wide in a {column} px column",
            right - left
        );
        assert!(height > 100, "{width} px: a flattened chart: {s:?}");
    }
    let mut charts = Vec::new();
    for figure in dom.split("<figure id=\"").skip(1) {
        let figure = figure.split("</figure>").next().unwrap();
        let id = figure.split('"').next().unwrap();
        if figure.contains("<p class=\"empty\">") {
            assert!(!figure.contains("<svg"), "{id}: a sentence and a chart");
            continue;
        }
        let paths: Vec<&str> = figure
            .split("class=\"series\"")
            .skip(1)
            .map(|p| p.split(" d=\"").nth(1).unwrap().split('"').next().unwrap())
            .collect();
        assert!(!paths.is_empty(), "{id}: a chart without lines");
        // A line, or a dot for a value that stands alone.
        assert!(
            paths.iter().any(|d| d.contains('L')) || figure.contains("<circle"),
            "{id}: nothing drawn"
        );
        charts.push(id);
    }
    for id in drawn {
        assert!(
            charts.contains(id),
            "{width} px: chart {id} not drawn: {charts:?}"
        );
    }
    dom
}

#[test]
fn run_report_reads_at_900_and_1400_px_in_chromium() {
    if !peers::have("chromium", "chromium") {
        return;
    }
    let dir = peers::TempDir::new("html");
    let responder =
        Responder::start("34020000002000000001".parse().unwrap(), Script::default()).unwrap();
    let report = dir.path().join("run.html");
    let out = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args([
            "run",
            "--target",
            &responder.addr().to_string(),
            "-n",
            "80",
            "--rate",
            "40",
        ])
        .args([
            "--duration",
            "3s",
            "--heartbeat",
            "1s",
            "--expires",
            "2s",
            "--cores",
            "1",
            "--report",
        ])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(responder);
    // Refreshes, failures and retransmissions depend on timing: drawn or a sentence, either
    // is checked, neither is required.
    let drawn = [
        "percentiles",
        "offered",
        "latency-register",
        "latency-keepalive",
        "throughput",
        "cameras",
    ];
    for width in WIDTHS {
        let dom = check_layout(&report, width, dir.path(), &drawn);
        assert!(dom.contains("<td>register</td><td>latency from due</td>"));
        assert!(dom.contains("<td>register</td><td>service time</td>"));
        assert!(dom.contains("<td>register</td><td>schedule lag</td>"));
        assert!(dom.contains("<dt>rate</dt><dd>40</dd>"));
        assert!(dom.contains("<dt>heartbeat</dt><dd>1s</dd>"));
        assert!(dom.contains("<td>gbswarm</td><td>0."), "version and commit");
        assert!(dom.contains(" UTC</td>"), "the date of the start");
        assert!(dom.contains("achieved: register 2xx/s"));
        assert!(dom.contains("register p99"));
        assert!(dom.contains(">time since start (s)</text>"));
    }
}

#[test]
fn find_max_report_reads_at_900_and_1400_px_in_chromium() {
    use gbswarm::findmax::{Dimension, Outcome, Slo, Step};
    if !peers::have("chromium", "chromium") {
        return;
    }
    let dir = peers::TempDir::new("html-findmax");
    let step = |load: f64| Step {
        load,
        held: true,
        measured: 2 * load as u64,
        ok: 2 * load as u64,
        redirected: 0,
        failures: 0,
        timeouts: 0,
        p50_us: 600,
        p99_us: 1_000 + load as u64 / 10,
        broke: None,
        interrupted: false,
        unanswered: false,
    };
    let o = Outcome {
        dimension: Dimension::Rate,
        slo: Slo {
            max_p99: std::time::Duration::from_millis(20),
            max_failure_share: 0.001,
        },
        best: Some(40_000.0),
        max: 40_000.0,
        steps: vec![
            step(5_000.0),
            step(10_000.0),
            step(20_000.0),
            step(40_000.0),
        ],
    };
    let page = dir.path().join("find-max.html");
    std::fs::write(&page, gbswarm::findmax::render_html("gbswarm find-max", &o)).unwrap();
    for width in WIDTHS {
        let dom = check_layout(&page, width, dir.path(), &["latency", "failures"]);
        assert!(dom.contains("p99 limit 20 ms"));
        assert!(dom.contains(">load (registrations/s)</text>"));
        assert!(dom.contains("the server may hold more than 40000 registrations/s"));
    }
}
