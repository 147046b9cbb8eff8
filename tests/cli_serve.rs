//! `gbswarm serve` as a user runs it: a second serve on a port the first holds is refused
//! with exit status 3 and a message that names the port and what to do; `--reuse-port` runs
//! them side by side on purpose. Every server is started here on 127.0.0.1 and stopped by its
//! own process handle.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A `gbswarm serve` process, killed when dropped (also when the test fails).
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gbswarm(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gbswarm"));
    c.args(args).stdin(Stdio::null()).stdout(Stdio::null());
    c
}

/// Starts `serve --cores 1 ARGS` and waits for its "listening on ADDR" line.
fn start(args: &[&str]) -> (Serve, SocketAddr) {
    let mut child = gbswarm(&[&["serve", "--cores", "1"][..], args].concat())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let serve = Serve(child);
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split(' ').next().unwrap().parse().unwrap();
            return (serve, addr);
        }
    }
    panic!("serve {args:?} ended before listening");
}

fn refused(args: &[&str]) -> (Option<i32>, String) {
    let out = gbswarm(&[&["serve", "--cores", "1"][..], args].concat())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

#[test]
fn a_second_serve_on_a_held_port_is_refused_unless_reuse_port() {
    let (first, addr) = start(&["--listen", "127.0.0.1:0"]);
    let port = addr.port();
    let (code, err) = refused(&["--listen", &addr.to_string()]);
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(
        err,
        format!(
            "gbswarm serve: could not run: cannot listen on {addr}: UDP and TCP port {port} is already held by another process (another `gbswarm serve`?), which would silently share its traffic with this one; stop it or choose another port with --listen, or give every serve process on this port --reuse-port to run them side by side on purpose"
        )
    );
    // The same port by name.
    let (code, err) = refused(&["--listen", &format!("localhost:{port}")]);
    assert_eq!(code, Some(3), "{err}");
    // On purpose, it joins the first.
    let (second, shared) = start(&["--listen", &addr.to_string(), "--reuse-port"]);
    assert_eq!(shared, addr);
    drop(second);
    drop(first);
}

#[test]
fn bad_serve_flags_exit_2_naming_them() {
    let (code, err) = refused(&["--min-expires", "3600s", "--max-expires", "60s"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--min-expires 3600 s is above --max-expires 60 s"),
        "{err}"
    );
    let (code, err) = refused(&["--listen", "localhost"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid `listen`"), "{err}");
}

/// What `gbswarm serve --help` prints.
fn serve_help() -> String {
    let out = gbswarm(&["serve", "--help"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_documents_reuse_port() {
    let help = serve_help();
    assert!(
        help.contains("--reuse-port") && help.contains("several serve processes on one port"),
        "{help}"
    );
}

#[test]
fn help_documents_the_defences_and_the_start_line_names_them() {
    let help = serve_help();
    for flag in [
        "--ban-after <COUNT/WINDOW|off>",
        "--ban-for <SPAN>",
        "--source-ban-after <COUNT/WINDOW|off>",
        "--ban-like <PLATFORM>",
        "--ban-silent",
        "--rate-limit <RATE/s|off>",
        "--rate-burst <N>",
        "--rate-limit-drop",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    assert!(
        help.contains("[default: 5/60s]") && help.contains("[default: 100/60s]"),
        "{help}"
    );
    assert!(
        help.contains("off when --listen is a") && help.contains("monibuca"),
        "{help}"
    );
    // The start-up line says which rules hold.
    let mut child = gbswarm(&[
        "serve",
        "--cores",
        "1",
        "--listen",
        "127.0.0.1:0",
        "--ban-like",
        "monibuca",
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let serve = Serve(child);
    let line = BufReader::new(stderr).lines().next().unwrap().unwrap();
    drop(serve);
    assert!(
        line.contains("bans: device 3 failures in 600 s ban 600 s, source off; rate limit off"),
        "{line}"
    );
    let (code, err) = refused(&["--rate-burst", "5"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid `rate-burst`"), "{err}");
}

#[test]
fn help_documents_subscribe_and_query_and_bad_values_exit_2() {
    let help = serve_help();
    for text in [
        "--subscribe <KIND[:SECONDS],...>",
        "mobile-position[:SECONDS]",
        "--subscribe-rate <N>",
        "--subscribe-expires <DURATION>",
        "--query <KIND,...>",
        "record-info",
        "--query-rate <N>",
        "--query-span <DURATION>",
        "gbswarm serve: subscribe",
    ] {
        assert!(help.contains(text), "{text} not in\n{help}");
    }
    for (args, text) in [
        (
            &["--subscribe", "gps"][..],
            "invalid `subscribe`: `gps` is not a subscription",
        ),
        (
            &["--subscribe", "alarm", "--subscribe-rate", "0"],
            "invalid `subscribe-rate`",
        ),
        (
            &["--query", "record-info", "--query-span", "0s"],
            "invalid `query-span`",
        ),
        (&["--query-rate", "5"], "--query"),
    ] {
        let (code, err) = refused(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(text), "{args:?}: {err}");
    }
}
