//! sipvicious (Debian `sipvicious`: `svcrack`, `svwar`) as an attacker of `gbswarm serve`,
//! each tool and each serve its own process on loopback, stopped by its own PID: svcrack
//! finds a password in its dictionary range when bans are off and does not once the ban
//! threshold is below the password's position (per device, per source, Monibuca's rule);
//! svwar cannot tell registered device IDs from others; and while the attacker's address is
//! banned, a `gbswarm run` fleet from another loopback address registers and keeps alive
//! without a single failure.

mod peers;

use peers::{Peer, TempDir, read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The device svcrack attacks, guessing its user name first and then 12345670-12345680: the
/// password, 12345678, is its 10th guess of 12.
const DEV: &str = "34020000001320000001";
const RANGE: &str = "12345670-12345680";

/// Runs sipvicious `tool` from 127.0.0.1 against `addr` with `args`; its output, stdout and
/// stderr.
fn sipvicious(dir: &Path, tool: &'static str, addr: SocketAddr, args: &[&str]) -> String {
    let mut cmd = Command::new(tool);
    // Bound to 127.0.0.1 from a port below the ephemeral range (it walks up if taken).
    cmd.args(["-b", "127.0.0.1", "-P", &peers::free_port().to_string()])
        .args(["-p", &addr.port().to_string()])
        .args(args)
        .arg(addr.ip().to_string());
    let mut p = Peer::spawn(tool, cmd, dir);
    let code = p.wait_exit(Duration::from_secs(60));
    p.stop();
    let out = read(&dir.join(format!("{tool}.out"))) + &read(&dir.join(format!("{tool}.err")));
    assert!(code.is_some(), "{tool} did not finish: {out}");
    out
}

/// svcrack's guesses for `DEV` over `RANGE`: true when it reports the password.
fn cracked(dir: &Path, addr: SocketAddr) -> (bool, String) {
    let out = sipvicious(
        dir,
        "svcrack",
        addr,
        &[&format!("-u{DEV}"), &format!("-r{RANGE}")],
    );
    let found = out.contains(&format!("| {DEV} | 12345678 |"));
    assert!(
        found || out.contains("found nothing"),
        "svcrack neither found nor gave up: {out}"
    );
    (found, out)
}

/// Stops serve and returns its summary line.
fn summary(serve: &mut Peer, dir: &Path) -> String {
    assert!(serve.stop(), "serve ends by itself on SIGTERM");
    read(&dir.join("serve.out"))
}

#[test]
fn svcrack_finds_the_password_only_without_bans() {
    if !peers::have("svcrack", "sipvicious") {
        return;
    }
    for (flags, found, counted) in [
        // Without bans the attack works: 9 wrong guesses, then the password.
        (
            &["--ban-after", "off", "--source-ban-after", "off"][..],
            true,
            "auth failures 9, bans device 0 source 0, refused while banned device 0 source 0,",
        ),
        // The defaults: the 5th failure bans the device; the password itself is refused.
        // Every guess after the ban, the right one among them, is refused by it.
        (
            &[][..],
            false,
            "auth failures 5, bans device 1 source 0, refused while banned device 7 source 0,",
        ),
        (
            &["--ban-like", "monibuca"][..],
            false,
            "auth failures 3, bans device 1 source 0, refused while banned device 9 source 0,",
        ),
        // Per source only: the attacker's address is banned after its 4th failure.
        (
            &["--ban-after", "off", "--source-ban-after", "4/60s"][..],
            false,
            "auth failures 4, bans device 0 source 1, refused while banned device 0 source 8,",
        ),
    ] {
        let dir = TempDir::new("svcrack");
        let (mut serve, addr) = peers::serve_process(dir.path(), flags);
        let (cracked, out) = cracked(dir.path(), addr);
        let summary = summary(&mut serve, dir.path());
        assert_eq!(cracked, found, "{flags:?}: {out}\n{summary}");
        assert!(summary.contains(counted), "{flags:?}: {summary}");
        let registered = if found {
            "registrations 1,"
        } else {
            "registrations 0,"
        };
        assert!(summary.contains(registered), "{flags:?}: {summary}");
    }
}

#[test]
fn svwar_cannot_tell_registered_devices_from_others() {
    if !peers::have("svwar", "sipvicious") {
        return;
    }
    let dir = TempDir::new("svwar");
    // Two of the ten IDs scanned exist, each with its own password.
    let devices = dir.path().join("devices.csv");
    std::fs::write(
        &devices,
        "34020000001320000003,pw-three\n34020000001320000007,pw-seven\n",
    )
    .unwrap();
    let (mut serve, addr) =
        peers::serve_process(dir.path(), &["--passwords", devices.to_str().unwrap()]);
    let out = sipvicious(
        dir.path(),
        "svwar",
        addr,
        &[
            "-m",
            "REGISTER",
            "-e34020000001320000001-34020000001320000010",
        ],
    );
    let summary = summary(&mut serve, dir.path());
    // svwar lists each ID it thinks exists with what it saw; every one looked alike.
    let listed: Vec<(&str, &str)> = out
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() == 4 && cells[1].starts_with("3402000000132"))
                .then(|| (cells[1], cells[2]))
        })
        .collect();
    assert!(
        listed.is_empty() || listed.len() == 10,
        "svwar told some IDs from others: {listed:?}\n{out}"
    );
    assert!(
        listed.windows(2).all(|w| w[0].1 == w[1].1),
        "different answers: {listed:?}"
    );
    // Every device ID scanned got the same 401 challenge.
    assert!(summary.contains("401:10"), "{summary}");
    assert!(summary.contains("registrations 0,"), "{summary}");
}

#[test]
fn a_fleet_from_another_address_registers_while_the_attacker_is_banned() {
    if !peers::have("svcrack", "sipvicious") {
        return;
    }
    let dir = TempDir::new("svcrack-fleet");
    // Source bans only, so the fleet may even hold the device attacked.
    let (mut serve, addr) = peers::serve_process(
        dir.path(),
        &[
            "--ban-after",
            "off",
            "--source-ban-after",
            "4/60s",
            "--min-expires",
            "1s",
        ],
    );
    let (found, out) = cracked(dir.path(), addr);
    assert!(!found, "{out}");
    // The attacker (127.0.0.1) is banned for 600 s; 20 cameras from 127.0.0.2, the attacked
    // device the first of them, register, send keepalives and unregister.
    let run = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args([
            "run",
            "--target",
            &addr.to_string(),
            "--local-ip",
            "127.0.0.2",
        ])
        // IDs 3402000000132 + 0000001 onwards: the first is DEV.
        .args(["--cameras", "20", "--rate", "100"])
        .args(["--duration", "3s", "--cores", "1", "--expires", "2s"])
        .args(["--heartbeat", "1s", "--grace", "2s"])
        .output()
        .unwrap();
    // Still banned afterwards: the same guesses find nothing again.
    let (again, out) = cracked(dir.path(), addr);
    let summary = summary(&mut serve, dir.path());
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!again, "{out}");
    for kind in ["register       ", "keepalive      ", "unregister     "] {
        let line = text
            .lines()
            .find(|l| l.starts_with(kind) && l.contains(" sent "))
            .unwrap_or_else(|| panic!("no {kind} line: {text}"));
        let sent: u64 = line
            .split("sent ")
            .nth(1)
            .and_then(|s| s.split(' ').next()?.parse().ok())
            .unwrap_or(0);
        assert!(sent >= 20, "{line}");
        assert!(
            line.contains(&format!(
                "sent {sent} = ok {sent} + rejected 0 + timed out 0"
            )),
            "{line}"
        );
    }
    assert!(summary.contains("bans device 0 source 1"), "{summary}");
    assert!(
        summary.contains("refused while banned device 0 source 20,"),
        "8 guesses after the ban, then all 12 again: {summary}"
    );
}
