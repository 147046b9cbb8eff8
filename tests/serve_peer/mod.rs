//! `gbswarm serve` and `gbswarm run` as processes for the end-to-end tests that run both on one
//! machine: serve started on port 0 with its metrics on port 0 and its addresses read from its
//! stderr, every process stopped by its PID (SIGINT, and killed on drop if a test fails first),
//! serve's summary lines and metrics read back.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A process killed (by its PID) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to `wait` for `p` to end; its exit code.
pub fn wait_exit(p: &mut Proc, wait: Duration) -> Option<i32> {
    let end = Instant::now() + wait;
    while Instant::now() < end {
        if let Some(s) = p.0.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Sends SIGINT to `p` and waits up to `wait` for it to end; its exit code.
pub fn interrupt(p: &mut Proc, wait: Duration) -> Option<i32> {
    let ok = Command::new("kill")
        .args(["-INT", &p.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT");
    wait_exit(p, wait)
}

/// The counters of metric family `family` (labelled `what`) serve's metrics show now.
pub fn scrape(metrics: SocketAddr, family: &str) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    let Ok(mut s) = TcpStream::connect_timeout(&metrics, Duration::from_secs(2)) else {
        return counts;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let prefix = format!("{family}{{what=\"");
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        if let Some((what, n)) = rest.split_once("\"} ") {
            counts.insert(what.to_string(), n.trim().parse().unwrap_or(0));
        }
    }
    counts
}

/// serve's summary line starting `prefix` (`gbswarm serve: play `), as `name=value` pairs.
pub fn summary(stdout: &str, prefix: &str) -> HashMap<String, String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` summary in\n{stdout}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The numeric pairs of [`summary`] (latencies and the like left out).
pub fn counts(stdout: &str, prefix: &str) -> HashMap<String, u64> {
    summary(stdout, prefix)
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect()
}

/// A started serve: the process, its stdout, where it listens and its metrics address.
pub struct Serve {
    pub proc: Proc,
    pub stdout: ChildStdout,
    pub listen: String,
    pub metrics: SocketAddr,
}

/// Starts `gbswarm serve --listen 127.0.0.1:0 --cores 1 --metrics 127.0.0.1:0 ARGS` and
/// waits (at most 10 s) until it names both addresses.
pub fn serve(args: &[&str]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args(["serve", "--listen", "127.0.0.1:0", "--cores", "1"])
        .args(["--metrics", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let proc = Proc(child);
    // serve's stderr, read on a thread so it never blocks: the addresses it prints.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut listen, mut metrics) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while (listen.is_none() || metrics.is_none()) && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Some(rest) = line.split("listening on ").nth(1) {
            listen = rest.split(' ').next().map(str::to_string);
        }
        if let Some(rest) = line.split("metrics on http://").nth(1) {
            metrics = rest
                .split('/')
                .next()
                .and_then(|a| a.parse::<SocketAddr>().ok());
        }
    }
    Serve {
        proc,
        stdout,
        listen: listen.expect("serve listens"),
        metrics: metrics.expect("metrics"),
    }
}

impl Serve {
    /// Interrupts serve (SIGINT, at most `wait`): its exit code and everything it printed on
    /// stdout.
    pub fn stop(mut self, wait: Duration) -> (Option<i32>, String) {
        let code = interrupt(&mut self.proc, wait);
        let mut out = String::new();
        self.stdout.read_to_string(&mut out).unwrap();
        (code, out)
    }
}
