//! A run's verdict as CI reads it: the exit status of the `gbswarm` binary and what it says,
//! for objectives held and missed, a target that refuses everything, a bad output path,
//! `--json -`, a streamed CSV that survives `kill -9`, and Ctrl-C once and twice. Every run is
//! on loopback and bounded; every process a test starts is stopped by it, by its PID.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn gbswarm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gbswarm"))
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = gbswarm().args(args).output().unwrap();
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gbswarm-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A short run against the embedded registrar.
const SMALL: [&str; 7] = ["run", "-n", "5", "--duration", "2s", "--cores", "1"];

#[test]
fn objectives_held_exit_0_and_a_missed_one_exits_1_naming_it() {
    let (code, out, err) = run(&SMALL);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("verdict: every objective held"), "{out}");
    assert!(
        out.contains("register.failures==0"),
        "the defaults are shown: {out}"
    );

    let mut args = SMALL.to_vec();
    args.extend(["--slo", "register.p99<=1us", "--slo", "failures<=0.1%"]);
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("verdict: 1 of 2 objectives missed"), "{out}");
    assert!(
        err.contains("gbswarm run: objective missed: register.p99<=1us MISSED (measured "),
        "{err}"
    );
    let (code, _, err) = run(&["run", "--slo", "register.p98<=1ms"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("invalid `slo`") && err.contains("unknown metric `p98`"),
        "{err}"
    );
}

#[test]
fn a_target_that_refuses_everything_could_not_run_exit_3() {
    // Nothing in the tests listens on 127.77.0.1: every datagram is refused by the kernel.
    let (code, out, err) = run(&[
        "run",
        "-n",
        "3",
        "--duration",
        "2s",
        "--cores",
        "1",
        "--target",
        "127.77.0.1:5060",
    ]);
    assert_eq!(code, Some(3), "{out}\n{err}");
    assert!(
        err.contains("could not run: 127.77.0.1:5060 refused every datagram"),
        "{err}"
    );
    assert!(
        out.contains("register"),
        "the report is still printed: {out}"
    );
}

#[test]
fn find_max_against_a_dead_target_exits_1_and_says_so() {
    let (code, out, err) = run(&[
        "find-max",
        "--target",
        "127.77.0.1:5060",
        "--start",
        "10",
        "--step",
        "1s",
        "--warmup",
        "1s",
        "--cores",
        "1",
    ]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains("no step held: the target answered nothing"),
        "{out}"
    );
    assert!(!out.contains("lower --start"), "{out}");
}

#[test]
fn output_paths_are_checked_before_the_run_and_json_can_go_to_stdout() {
    let started = Instant::now();
    let (code, _, err) = run(&[
        "run",
        "--duration",
        "1h",
        "--report",
        "/nonexistent-dir/r.html",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("gbswarm run: invalid `report`: cannot create /nonexistent-dir/r.html"),
        "{err}"
    );
    assert!(!err.contains("cameras over"), "nothing started: {err}");
    assert!(started.elapsed() < Duration::from_secs(600));

    let mut args = SMALL.to_vec();
    args.extend(["--json", "-"]);
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is the JSON report");
    assert_eq!(v["verdict"], "held");
    assert_eq!(v["objectives"][0]["objective"], "register.failures==0");
    assert!(
        err.contains("verdict: every objective held"),
        "text on stderr: {err}"
    );
    assert!(!std::path::Path::new("-").exists(), "no file named -");
}

/// Waits (bounded) until `pred` holds for the text `rx` has delivered so far.
fn wait_for(rx: &mpsc::Receiver<String>, seen: &mut String, pred: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pred(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => panic!("gave up waiting; stderr so far:\n{seen}"),
        }
    }
}

/// Starts `gbswarm ARGS`, its stderr lines arriving on the returned channel.
fn spawn(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = gbswarm()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Starts a long run of five cameras, with `extra` flags.
fn spawn_long(extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut args = vec!["run", "-n", "5", "--duration", "10m", "--cores", "1"];
    args.extend(extra);
    spawn(&args)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

#[test]
fn ctrl_c_says_what_happens_then_stops_gracefully_with_status_130() {
    let (mut child, rx) = spawn_long(&[]);
    let mut seen = String::new();
    wait_for(&rx, &mut seen, |s| s.contains("online 5"));
    signal(&child, "-INT");
    wait_for(&rx, &mut seen, |s| s.contains("gbswarm: stopping:"));
    let status = child.wait().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    // 5 unregistrations at the ramp's 100/s, then the 10 s grace.
    assert!(
        seen.contains(
            "gbswarm: stopping: unregistering 5 cameras, at most 11 s; Ctrl-C again to quit now"
        ),
        "{seen}"
    );
    assert!(out.contains("(interrupted: exit status 130)"), "{out}");
    assert!(out.contains("unregister"), "the stop unregistered: {out}");
}

#[test]
fn a_second_ctrl_c_quits_at_once() {
    // A grace far longer than the test: only quitting at once ends it soon.
    let (mut child, rx) = spawn_long(&["--grace", "10m", "--no-unregister"]);
    let mut seen = String::new();
    wait_for(&rx, &mut seen, |s| s.contains("online 5"));
    signal(&child, "-INT");
    wait_for(&rx, &mut seen, |s| s.contains("gbswarm: stopping:"));
    signal(&child, "-INT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
}

#[test]
fn the_csv_keeps_every_finished_second_after_kill_9() {
    let dir = temp_dir("csv");
    let csv = dir.join("run.csv");
    let (mut child, _rx) = spawn_long(&["--csv", csv.to_str().unwrap()]);
    // Three whole seconds of five kinds, then the process dies without a chance to flush.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count()) < 16 {
        assert!(Instant::now() < deadline, "no third second in the CSV");
        std::thread::sleep(Duration::from_millis(100));
    }
    signal(&child, "-KILL");
    let _ = child.wait();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("t_s,kind,ok,"), "{header}");
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() >= 15, "three seconds of five kinds: {text}");
    for r in &rows {
        assert_eq!(r.split(',').count(), header.split(',').count(), "{r}");
    }
    assert!(
        rows.iter().any(|r| r.starts_with("1,register,5,")),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn find_max_interrupted_mid_step_marks_it_and_exits_130() {
    // A step of 2 registrations/s for 10 min plans 1,202 cameras: on shared sockets, so the
    // test holds a handful of ports, not a thousand.
    let (mut child, rx) = spawn(&[
        "find-max",
        "--start",
        "2",
        "--step",
        "10m",
        "--warmup",
        "1s",
        "--cores",
        "1",
        "--cameras-per-socket",
        "100",
    ]);
    let mut seen = String::new();
    // Mid-step: once the step has started (a signal before it would end the search before
    // any step, which is not this test's case).
    wait_for(&rx, &mut seen, |s| s.contains("step: load 2 starts"));
    signal(&child, "-INT");
    let status = child.wait().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert_eq!(status.code(), Some(130), "{seen}\n{out}");
    assert!(out.contains("| 2 | interrupted |"), "{out}");
    assert!(out.contains("interrupted before any step held"), "{out}");
    assert!(seen.contains("step: load 2 -> interrupted"), "{seen}");
}
