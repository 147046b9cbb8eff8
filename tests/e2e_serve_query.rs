//! RecordInfo, Catalog and DeviceInfo between the two peers on one machine: `gbswarm serve
//! --query` is the platform and `gbswarm run` the 4-channel devices. serve queries the
//! registered devices at a rate, matches each Response page to its query by SN and DeviceID
//! and sums the items to SumNum; the devices answer with their paged synthetic recordings,
//! catalogs and device info. The test checks serve's `query` summary (queries answered in
//! full, no page unmatched or repeated, no error status) against the run's JSON counters
//! (every query taken, none refused or bad). Every port comes from port 0; both processes are
//! killed by their PIDs in Drop if the test fails first; waits are bounded.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A process killed (by its PID) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to `wait` for `p` to end; its exit code.
fn wait_for(p: &mut Proc, wait: Duration) -> Option<i32> {
    let end = Instant::now() + wait;
    while Instant::now() < end {
        if let Some(s) = p.0.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The `key=value` pairs of serve's `gbswarm serve: query` summary line.
fn query_summary(stdout: &str) -> HashMap<String, String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("gbswarm serve: query "))
        .unwrap_or_else(|| panic!("no query summary in\n{stdout}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn serve_queries_run_devices_and_every_answer_adds_up() {
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-serve-query-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args(["serve", "--listen", "127.0.0.1:0", "--cores", "1"])
        .args([
            "--query",
            "record-info,catalog,device-info",
            "--query-rate",
            "20",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut serve = Proc(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut listen = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while listen.is_none() && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Some(rest) = line.split("listening on ").nth(1) {
            listen = rest.split(' ').next().map(str::to_string);
        }
    }
    let listen = listen.expect("serve listens");

    let run = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args(["run", "--target", &listen, "-n", "5", "--cores", "1"])
        .args(["--channels", "4", "--catalog-page", "3"])
        .args(["--duration", "5s", "--heartbeat", "2s", "--grace", "5s"])
        .args(["--json", json.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = Proc(run);
    assert_eq!(
        wait_for(&mut run, Duration::from_secs(60)),
        Some(0),
        "the run ends"
    );
    std::thread::sleep(Duration::from_millis(300));
    let ok = Command::new("kill")
        .args(["-INT", &serve.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT");
    assert_eq!(wait_for(&mut serve, Duration::from_secs(10)), Some(0));
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let s = query_summary(&out);
    let num = |k: &str| -> u64 {
        s.get(k)
            .unwrap_or_else(|| panic!("{k} not in the summary: {out}"))
            .parse()
            .unwrap()
    };
    assert!(num("answered") >= 20, "{out}");
    assert!(
        num("pages") > num("answered"),
        "some answers span pages: {out}"
    );
    assert!(num("items") > num("pages"), "{out}");
    for zero in [
        "4xx",
        "5xx",
        "6xx",
        "unmatched_pages",
        "duplicate_pages",
        "table_full",
    ] {
        assert_eq!(num(zero), 0, "{zero}: {out}");
    }

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let c = &report["counters"];
    assert!(c["queries"].as_u64().unwrap() >= num("answered"), "{c}");
    assert_eq!(c["queries_refused"], 0, "{c}");
    assert_eq!(c["bad_queries"], 0, "{c}");
    let _ = std::fs::remove_dir_all(&dir);
}
