//! Helpers for tests against real third-party peers: find them, start them on loopback in
//! their own process group, stop them by PID (even when an assertion fails), skip with a
//! clear message on a developer machine that lacks them, fail in CI.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when a peer binary is on PATH; in CI (`CI=true`) a missing peer fails the test.
pub fn have(binary: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{binary} is missing in CI: .ci/run must install the Debian package `{package}`"
            );
        }
        eprintln!(
            "SKIPPED: {binary} not found; install the Debian package `{package}` to run this test"
        );
    }
    found
}

/// A port free on 127.0.0.1 for both UDP and TCP (at the time of asking).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "gbswarm-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A peer process in its own process group, stopped (SIGTERM to the group, then SIGKILL) on
/// drop.
pub struct Peer {
    pub child: Child,
    pub name: &'static str,
}

impl Peer {
    /// Starts `cmd` in a new process group with stdout/stderr to files in `log_dir`.
    pub fn spawn(name: &'static str, mut cmd: Command, log_dir: &Path) -> Peer {
        let out = std::fs::File::create(log_dir.join(format!("{name}.out"))).unwrap();
        let err = std::fs::File::create(log_dir.join(format!("{name}.err"))).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Peer { child, name }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the peer's whole process group.
    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.pid())])
            .stderr(Stdio::null())
            .status();
    }

    /// Stops the group and waits for the leader; true if it exited by itself after SIGTERM.
    pub fn stop(&mut self) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            return true;
        }
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // Children of the group may linger a moment after the leader.
                std::thread::sleep(Duration::from_millis(200));
                self.signal_group("-KILL");
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group("-KILL");
        let _ = self.child.wait();
        false
    }

    /// Exits on its own (e.g. SIPp after its call count) within `limit`: the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads a file written by a peer, or an empty string.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}
