//! `gbswarm inspect` as a user runs it: files, stdin, streams and bad input.

use std::io::Write;
use std::process::{Command, Stdio};

fn gbswarm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gbswarm"))
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn decodes_a_file_to_json() {
    let out = gbswarm()
        .args(["inspect", &fixture("keepalive-ipcamera.sip")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "request");
    assert_eq!(v["method"], "MESSAGE");
    assert_eq!(v["cseq"]["seq"], 20);
    assert_eq!(v["via"]["branch"], "z9hG4bK1066375804");
    assert_eq!(v["from"]["user"], "34020000001320000003");
    assert_eq!(v["manscdp"]["cmd_type"], "Keepalive");
    assert_eq!(v["manscdp"]["sn"], 1);
    assert_eq!(v["body_length"], 184);
}

#[test]
fn decodes_a_stream_from_stdin() {
    let mut stream = std::fs::read(fixture("401-no-qop-spvmn.sip")).unwrap();
    stream.extend(std::fs::read(fixture("register-authorization-spvmn.sip")).unwrap());
    stream.extend(std::fs::read(fixture("200-register-date-spvmn.sip")).unwrap());
    let mut child = gbswarm()
        .args(["inspect", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["status"], 401);
    assert_eq!(lines[0]["auth"]["nonce"], "c98f6d56cb2ab8e6");
    assert_eq!(lines[1]["auth"]["username"], "34020000001320000001");
    assert_eq!(lines[2]["date"], "2020-04-21T10:52:55.103");
}

#[test]
fn invalid_input_reports_offset_and_exits_1() {
    let mut child = gbswarm()
        .args(["inspect", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SIP/2.0 200 OK\r\nCall-ID: a\r\nbroken line\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("malformed header line at byte offset 28"),
        "{err}"
    );
}

#[test]
fn help_and_version() {
    let out = gbswarm().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("inspect"));
    let out = gbswarm().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("gbswarm "));
    let out = gbswarm().arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
