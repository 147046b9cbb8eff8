//! `run --metrics` and `serve --metrics` as Prometheus sees them: the endpoint is scraped over
//! real loopback sockets while the command runs, and what it says agrees with the command's
//! own final report. Every port is chosen by the kernel (port 0) and read from the printed
//! address; every process started here is stopped here by its own PID.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed when dropped (also when the test fails).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Ctrl-C, as a user stops it: SIGINT to this process's own PID.
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn gbswarm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gbswarm"));
    c.stdin(Stdio::null());
    c
}

/// Reads stderr lines until one says where the metrics are (remembering the `listening on`
/// address on the way, for serve), then drains the rest in the background.
fn addresses(stderr: ChildStderr) -> (SocketAddr, Option<SocketAddr>) {
    let mut lines = BufReader::new(stderr).lines();
    let mut listening = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            listening = Some(rest.split(' ').next().unwrap().parse().unwrap());
        }
        if let Some(rest) = line.split("metrics on http://").nth(1) {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            std::thread::spawn(move || lines.for_each(drop));
            return (addr, listening);
        }
    }
    panic!("ended before printing the metrics address");
}

/// One scrape of `/metrics`: the body, after checking the status and content type.
fn scrape(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: gbswarm\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_string()
}

/// The value of the sample named exactly `series` (name and labels as exposed).
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

/// Scrapes until `done` holds for a page, and returns that page. The bound only keeps a
/// broken build from hanging; the waiting is for work that was started, not for time.
fn scrape_until(addr: SocketAddr, what: &str, done: impl Fn(&str) -> bool) -> String {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let page = scrape(addr);
        if done(&page) {
            return page;
        }
        assert!(
            Instant::now() < give_up,
            "never saw {what}; last page:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn seconds_as_us(x: f64) -> u64 {
    (x * 1e6).round() as u64
}

#[test]
fn run_metrics_agree_with_the_json_report() {
    let dir = std::env::temp_dir().join(format!("gbswarm-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    // Twenty cameras against the embedded registrar; keepalives are a minute away, so once
    // all are registered the run is quiet until it is stopped.
    let mut child = gbswarm()
        .args([
            "run",
            "-n",
            "20",
            "--rate",
            "200",
            "--duration",
            "10m",
            "--cores",
            "1",
        ])
        .args(["--metrics", "127.0.0.1:0", "--json", json.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let run = Proc(child);
    let (metrics, _) = addresses(stderr);

    let ok = "gbswarm_run_transactions_total{kind=\"register\",outcome=\"ok\"}";
    let page = scrape_until(metrics, "20 registrations", |p| {
        sample(p, ok) == Some(20.0) && sample(p, "gbswarm_run_in_flight") == Some(0.0)
    });
    assert_eq!(
        sample(&page, "gbswarm_run_cameras{state=\"registered\"}"),
        Some(20.0)
    );
    assert_eq!(
        sample(&page, "gbswarm_run_cameras{state=\"not_started\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &page,
            "gbswarm_run_latency_seconds_count{kind=\"register\"}"
        ),
        Some(20.0)
    );
    assert_eq!(
        sample(
            &page,
            "gbswarm_run_latency_seconds_bucket{kind=\"register\",le=\"+Inf\"}"
        ),
        Some(20.0)
    );

    run.interrupt();
    let mut run = run;
    let status = run.0.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted runs exit 130");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let reg = &report["kinds"]["register"];
    assert_eq!(reg["ok"], 20, "{reg}");
    for (outcome, key) in [
        ("ok", "ok"),
        ("rejected", "rejected"),
        ("timeout", "timeouts"),
        ("transport_error", "transport_errors"),
    ] {
        let series =
            format!("gbswarm_run_transactions_total{{kind=\"register\",outcome=\"{outcome}\"}}");
        assert_eq!(
            sample(&page, &series),
            reg[key].as_f64(),
            "{series} against the report's {key}"
        );
    }
    assert_eq!(
        sample(
            &page,
            "gbswarm_run_responses_total{kind=\"register\",code=\"200\"}"
        ),
        reg["statuses"]["200"].as_f64()
    );
    // The exact percentiles are the report's, to the microsecond.
    let latency = &reg["latency_us"];
    for (q, key) in [
        ("0.5", "p50"),
        ("0.9", "p90"),
        ("0.99", "p99"),
        ("0.999", "p99_9"),
        ("1", "max"),
    ] {
        let series =
            format!("gbswarm_run_latency_quantile_seconds{{kind=\"register\",quantile=\"{q}\"}}");
        let got = sample(&page, &series).map(seconds_as_us);
        assert_eq!(got, latency[key].as_u64(), "{series} against {key}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A number from serve's summary line: the text right after `label`, up to the next space,
/// comma, semicolon or closing parenthesis.
fn after(summary: &str, label: &str) -> u64 {
    let rest = summary
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no `{label}` in {summary}"));
    let end = rest.find([' ', ',', ';', ')']).unwrap_or(rest.len());
    rest[..end].parse().unwrap()
}

#[test]
fn serve_metrics_agree_with_its_summary() {
    let mut child = gbswarm()
        .args([
            "serve",
            "--cores",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let serve = Proc(child);
    let (metrics, listening) = addresses(stderr);
    let listening = listening.expect("serve says where it listens first");
    assert!(metrics.ip().is_loopback(), "a bare port means loopback");
    let idle = scrape(metrics);
    assert_eq!(sample(&idle, "gbswarm_serve_registered_devices"), Some(0.0));

    // Twelve cameras register and stay (no unregistration, no keepalive within the run), so
    // the registrar's last counted message is a twelfth registration.
    let out = gbswarm()
        .args([
            "run",
            "--target",
            &listening.to_string(),
            "-n",
            "12",
            "--rate",
            "200",
        ])
        .args([
            "--duration",
            "1s",
            "--cores",
            "1",
            "--no-unregister",
            "--json",
            "-",
        ])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kinds"]["register"]["ok"], 12, "{report}");

    let page = scrape_until(metrics, "12 registrations", |p| {
        sample(p, "gbswarm_serve_registrations_total") == Some(12.0)
    });
    serve.interrupt();
    let mut serve = serve;
    assert!(serve.0.wait().unwrap().success());
    let mut summary = String::new();
    stdout.read_to_string(&mut summary).unwrap();

    for (method, label) in [
        ("REGISTER", "(REGISTER "),
        ("MESSAGE", ", MESSAGE "),
        ("OPTIONS", ", OPTIONS "),
        ("other", ", other "),
    ] {
        let series = format!("gbswarm_serve_requests_total{{method=\"{method}\"}}");
        assert_eq!(
            sample(&page, &series),
            Some(after(&summary, label) as f64),
            "{series}"
        );
    }
    assert!(after(&summary, "(REGISTER ") >= 24, "{summary}");
    for code in ["200", "401"] {
        let series = format!("gbswarm_serve_responses_total{{code=\"{code}\"}}");
        assert_eq!(
            sample(&page, &series),
            Some(after(&summary, &format!(" {code}:")) as f64),
            "{series}"
        );
    }
    for (series, label) in [
        ("gbswarm_serve_registrations_total", "registrations "),
        ("gbswarm_serve_keepalives_total", "keepalives "),
    ] {
        assert_eq!(
            sample(&page, series),
            Some(after(&summary, label) as f64),
            "{series}"
        );
    }
    // `…; 12 registered, 12 online at exit`
    let registered: u64 = summary
        .split(" registered, ")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no devices at exit in {summary}"));
    assert_eq!(registered, 12, "{summary}");
    assert_eq!(
        sample(&page, "gbswarm_serve_registered_devices"),
        Some(registered as f64)
    );
    for (q, label) in [
        ("0.5", "service time p50 "),
        ("0.99", " µs p99 "),
        ("1", " µs max "),
    ] {
        let series = format!("gbswarm_serve_service_quantile_seconds{{quantile=\"{q}\"}}");
        let got = sample(&page, &series).map(seconds_as_us);
        assert_eq!(got, Some(after(&summary, label)), "{series}");
    }
}
