//! Helpers for tests against real third-party peers: find them, start them on loopback in
//! their own process group, stop them by PID (even when an assertion fails), skip with a
//! clear message on a developer machine that lacks them, fail in CI.

#![allow(dead_code)]

pub mod fields;

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

/// True when Perl can load `module`; in CI a missing module fails the test, elsewhere the test
/// prints SKIPPED.
pub fn have_perl_module(module: &str, package: &str) -> bool {
    let found = Command::new("perl")
        .args([&format!("-M{module}"), "-e", "1"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "Perl's {module} is missing in CI: .ci/run must install the Debian package `{package}`"
            );
        }
        eprintln!(
            "SKIPPED: Perl's {module} not found; install the Debian package `{package}` to run this test"
        );
    }
    found
}

/// A port free on 127.0.0.1 for both UDP and TCP (at the time of asking), chosen below the
/// kernel's ephemeral range: a peer restarted on it must not find it taken by some other
/// test's outgoing connection, which only ever gets an ephemeral port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (lo, hi) = (10_000u32, ephemeral_low.max(10_001));
    // Start somewhere different in every test process, then walk.
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    for _ in 0..1000 {
        let n = NEXT.fetch_add(7919, Ordering::Relaxed);
        let port = (lo + seed.wrapping_add(n) % (hi - lo)) as u16;
        let Ok(_udp) = std::net::UdpSocket::bind(("127.0.0.1", port)) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 below {ephemeral_low}");
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

/// This process's resident memory, KiB (0 where /proc does not say).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
            l.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Runs a peer's command to completion and returns its standard output; fails the test with
/// its standard error if it exits unsuccessfully.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Reads a file written by a peer, or an empty string.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Kamailio started from tests/peers/kamailio.cfg on a loopback port (UDP and TCP), with its
/// control socket for kamcmd; stopped by process group on drop.
pub struct Kamailio {
    pub peer: Peer,
    pub ctl: String,
    pub port: u16,
}

impl Kamailio {
    /// Starts it on `port` with files in `dir` (`n` keeps restarts apart) and waits until its
    /// control socket answers.
    pub fn start(dir: &Path, port: u16, n: usize) -> Kamailio {
        let ctl = format!("unix:{}/ctl{n}.sock", dir.display());
        let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/kamailio.cfg");
        let mut cmd = Command::new("kamailio");
        cmd.args(["-f", cfg, "-DD", "-E", "-m", "64", "-M", "8"])
            // The default allocator is slow on a fresh process; tlsf is what production uses.
            .args(["-x", "tlsf", "-X", "tlsf"])
            .arg("-P")
            .arg(dir.join(format!("kamailio{n}.pid")))
            .arg("-w")
            .arg(dir)
            .args([
                "-l",
                &format!("udp:127.0.0.1:{port}"),
                "-l",
                &format!("tcp:127.0.0.1:{port}"),
            ])
            .args(["-A", &format!("CTL_SOCK=\"{ctl}\"")]);
        let name = if n == 0 {
            "kamailio"
        } else {
            "kamailio-restarted"
        };
        let k = Kamailio {
            peer: Peer::spawn(name, cmd, dir),
            ctl,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while k.stats().is_none() {
            assert!(
                Instant::now() < deadline,
                "kamailio did not come up:\n{}",
                read(&dir.join(format!("{name}.err")))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        k
    }

    /// Every `name = value` counter from the control socket.
    pub fn stats(&self) -> Option<Vec<(String, i64)>> {
        let out = Command::new("kamcmd")
            .args(["-s", &self.ctl, "stats.get_statistics", "all"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let stats: Vec<(String, i64)> = text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(" = ")?;
                Some((k.trim().to_string(), v.trim().parse().ok()?))
            })
            .collect();
        (!stats.is_empty()).then_some(stats)
    }

    /// One counter, or -1 if absent.
    pub fn stat(&self, name: &str) -> i64 {
        self.stats()
            .and_then(|s| s.into_iter().find(|(k, _)| k == name).map(|(_, v)| v))
            .unwrap_or(-1)
    }
}

/// Net::SIP's Registrar behind its Authorize (tests/peers/netsip-registrar.pl) on a loopback
/// port, UDP and TCP; stopped by process group on drop.
pub struct NetSip {
    pub peer: Peer,
    pub port: u16,
    status: PathBuf,
}

/// What Net::SIP reports about itself (its status file).
#[derive(Debug, Default)]
pub struct NetSipStatus {
    /// Contacts in the Registrar's store after its own expiry pass.
    pub bindings: i64,
    /// `(method, count)` of requests its Authorize answered 401.
    pub challenged: Vec<(String, i64)>,
    /// `(method, status, count)` of requests answered otherwise.
    pub answered: Vec<(String, u16, i64)>,
}

impl NetSipStatus {
    /// Requests of `method` challenged.
    pub fn challenged(&self, method: &str) -> i64 {
        self.challenged
            .iter()
            .find(|(m, _)| m == method)
            .map_or(0, |(_, n)| *n)
    }

    /// Requests of `method` answered `status`.
    pub fn answered(&self, method: &str, status: u16) -> i64 {
        self.answered
            .iter()
            .find(|(m, s, _)| m == method && *s == status)
            .map_or(0, |(_, _, n)| *n)
    }
}

impl NetSip {
    /// Starts it on `port` with files in `dir`: `auth` is `register` or `all`; expiries
    /// granted between `min` and `max` s; the passwords of `devices` (a device file).
    pub fn start(dir: &Path, port: u16, auth: &str, min: u32, max: u32, devices: &Path) -> NetSip {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/netsip-registrar.pl"
        );
        let status = dir.join("netsip.status");
        let _ = std::fs::remove_file(&status);
        let mut cmd = Command::new("perl");
        cmd.arg(script)
            .arg(port.to_string())
            .arg(&status)
            .arg(devices)
            .args([auth, &min.to_string(), &max.to_string()]);
        let n = NetSip {
            peer: Peer::spawn("netsip", cmd, dir),
            port,
            status,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !n.status.exists() {
            assert!(
                Instant::now() < deadline,
                "Net::SIP did not come up:\n{}",
                read(&dir.join("netsip.err"))
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }

    /// Its numbers now (rewritten by it every 100 ms).
    pub fn status(&self) -> NetSipStatus {
        let mut s = NetSipStatus::default();
        for line in read(&self.status).lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["bindings", n] => s.bindings = n.parse().unwrap_or(-1),
                ["challenged", m, n] => s.challenged.push((m.to_string(), n.parse().unwrap_or(-1))),
                ["answered", m, code, n] => s.answered.push((
                    m.to_string(),
                    code.parse().unwrap_or(0),
                    n.parse().unwrap_or(-1),
                )),
                _ => {}
            }
        }
        s
    }

    /// Its numbers once the next rewrite has happened (after what was sent has been handled).
    pub fn settled_status(&self) -> NetSipStatus {
        std::thread::sleep(Duration::from_millis(300));
        self.status()
    }
}

/// `gbswarm serve --listen 127.0.0.1:0 ARGS` as its own process (stopped on drop), and the
/// address it names on stderr once listening.
pub fn serve_process(dir: &std::path::Path, args: &[&str]) -> (Peer, std::net::SocketAddr) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gbswarm"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--cores", "1"])
        .args(args);
    let peer = Peer::spawn("serve", cmd, dir);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let err = read(&dir.join("serve.err"));
        if let Some(a) = err
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        {
            return (peer, a);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not start: {err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A pcap file (LINKTYPE_RAW: IPv4 packets) of one UDP datagram per payload, 10.0.0.9:5060 to
/// 192.168.1.3:5060. Checksums are zero (UDP: none); tshark does not verify IP checksums by
/// default.
pub fn pcap(payloads: &[Vec<u8>]) -> Vec<u8> {
    pcap_udp(payloads, 5060, 5060)
}

/// [`pcap`] with other UDP ports: `from` to `to`.
pub fn pcap_udp(payloads: &[Vec<u8>], from: u16, to: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, p) in payloads.iter().enumerate() {
        let total = u16::try_from(20 + 8 + p.len()).unwrap();
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 9, 192, 168, 1, 3,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[4..6].copy_from_slice(&u16::try_from(i).unwrap().to_be_bytes());
        let mut udp = vec![0; 8];
        udp[0..2].copy_from_slice(&from.to_be_bytes());
        udp[2..4].copy_from_slice(&to.to_be_bytes());
        udp[4..6].copy_from_slice(&(total - 20).to_be_bytes());
        let len = u32::from(total);
        for v in [1_700_000_000 + u32::try_from(i).unwrap(), 0, len, len] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&ip);
        f.extend_from_slice(&udp);
        f.extend_from_slice(p);
    }
    f
}

/// Decodes `payloads` (written by [`pcap`] into a file in a fresh temporary directory called
/// after `name`) with tshark as SIP on port 5060 and returns its text: a row per packet, the
/// `fields` separated by `|`, repeated occurrences of one field joined by `,`.
pub fn tshark_sip(name: &str, payloads: &[Vec<u8>], fields: &[&str]) -> String {
    let dir = TempDir::new(name);
    let file = dir.path().join("capture.pcap");
    std::fs::write(&file, pcap(payloads)).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(&file);
    cmd.args([
        "-d",
        "udp.port==5060,sip",
        "-T",
        "fields",
        "-E",
        "separator=|",
    ]);
    cmd.args(["-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    stdout_of(&mut cmd)
}

/// A pcap file (LINKTYPE_IPV4) being built in memory, for tshark to judge.
pub struct Pcap(pub Vec<u8>);

impl Pcap {
    pub fn new() -> Pcap {
        let mut b = Vec::new();
        b.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65_535u32.to_le_bytes());
        b.extend_from_slice(&228u32.to_le_bytes());
        Pcap(b)
    }

    /// One IPv4 packet from 127.0.0.1 to 127.0.0.2 of `proto` carrying `l4` at `us` µs.
    pub fn ipv4(&mut self, us: u64, proto: u8, l4: &[u8]) {
        let total = 20 + l4.len();
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&[127, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[127, 0, 0, 2]);
        let sum = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let sum = (sum & 0xFFFF) + (sum >> 16);
        ip[10..12].copy_from_slice(&(!((sum & 0xFFFF) + (sum >> 16)) as u16).to_be_bytes());
        self.0
            .extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        self.0
            .extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&(total as u32).to_le_bytes());
        self.0.extend_from_slice(&(total as u32).to_le_bytes());
        self.0.extend_from_slice(&ip);
        self.0.extend_from_slice(l4);
    }
}

/// A TCP segment (no options; PSH and ACK) from port `from` to `to` with sequence number `seq`
/// carrying `payload`; the checksum is left zero (tshark does not verify it by default).
pub fn tcp_segment(from: u16, to: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&from.to_be_bytes());
    tcp.extend_from_slice(&to.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&1u32.to_be_bytes());
    // Data offset 5 words; PSH and ACK; window; checksum (not verified) and urgent 0.
    tcp.extend_from_slice(&[0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    tcp
}

/// `tshark -r FILE -d DECODE` fields of every RTP packet in `file`, a row each: ssrc, seq,
/// marker, payload type, version, malformed (empty when not). A captured frame that carries
/// several RTP packets (TCP segments of an RFC 4571 stream) gives a row for each.
pub fn tshark_rtp(file: &Path, decode: &str) -> Vec<Vec<String>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args([
            "-d",
            decode,
            "-Y",
            "rtp",
            "-T",
            "fields",
            "-E",
            "separator=,",
        ])
        .args(["-E", "occurrence=a", "-E", "aggregator=;"])
        .args(["-e", "rtp.ssrc", "-e", "rtp.seq", "-e", "rtp.marker"])
        .args([
            "-e",
            "rtp.p_type",
            "-e",
            "rtp.version",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<Vec<&str>> = line.split(',').map(|f| f.split(';').collect()).collect();
        let packets = fields.first().map_or(0, Vec::len);
        for i in 0..packets {
            rows.push(
                fields
                    .iter()
                    .enumerate()
                    .map(|(k, f)| {
                        // The malformed mark is the captured frame's, not a packet's.
                        if k == 5 {
                            f.join(";")
                        } else {
                            f.get(i).copied().unwrap_or("").to_string()
                        }
                    })
                    .collect(),
            );
        }
    }
    rows
}

/// Asserts that a tshark row's `_ws.malformed` field is empty and its `_ws.expert.severity`
/// values are below error level (severities are numeric; errors are 0x00800000 and above).
pub fn assert_decoded_cleanly(malformed: &str, severities: &str, text: &str) {
    assert!(malformed.is_empty(), "malformed: {text}");
    for s in severities.split(',').filter(|s| !s.is_empty()) {
        let level: u64 = s.parse().unwrap_or(u64::MAX);
        assert!(level < 8_388_608, "expert error {s}: {text}");
    }
}
