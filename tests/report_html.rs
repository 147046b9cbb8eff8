//! The HTML report as a person sees it: a real run writes `--report`, headless Chromium
//! (Debian package `chromium`) renders it, and every chart in the rendered DOM has drawn lines.

mod peers;

use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use std::process::Command;

#[test]
fn run_report_renders_in_chromium_with_non_empty_charts() {
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
            "40",
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
    let profile = dir.path().join("chromium-profile");
    let dom = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in ["latency", "throughput", "online", "errors"] {
        let start = dom
            .find(&format!("<figure id=\"{id}\">"))
            .unwrap_or_else(|| panic!("chart {id} missing from the rendered DOM"));
        let end = start + dom[start..].find("</figure>").unwrap();
        let chart = &dom[start..end];
        let lines: Vec<&str> = chart.split("<polyline").skip(1).collect();
        assert!(!lines.is_empty(), "chart {id} has no series");
        for l in lines {
            let points = l
                .split("points=\"")
                .nth(1)
                .and_then(|p| p.split('"').next())
                .unwrap_or("");
            assert!(
                points.split(' ').count() >= 2,
                "chart {id}: a series with fewer than two points"
            );
        }
    }
    assert!(dom.contains("<td>register</td>"));
}
