//! sipsak (Debian `sipsak`) as a second client of `gbswarm serve`, besides SIPp: devices from a
//! device file register with digest (sipsak answers serve's qop=auth challenge), send a
//! MANSCDP keepalive, are refused with a wrong password, and unregister, over UDP and TCP;
//! serve's counters and registry must say the same. The registrar runs in this process on
//! 127.0.0.1; each sipsak is its own process, waited for by its own handle.

mod peers;

use gbswarm::server::registrar::{Config, Passwords};
use gbswarm::server::{ServeConfig, load_passwords};
use peers::{Peer, TempDir, read};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const DEVICES: &str = "\
# device-id,password
34020000001320000001,pw-one
34020000001320000002,pw-two
";

/// Runs sipsak with `args` against `port` over `transport`; its exit code and output.
fn sipsak(dir: &Path, name: &'static str, transport: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new("sipsak");
    cmd.args(["-E", transport, "-vvv"]).args(args);
    let mut p = Peer::spawn(name, cmd, dir);
    let code = p.wait_exit(Duration::from_secs(20));
    p.stop();
    let out = read(&dir.join(format!("{name}.out"))) + &read(&dir.join(format!("{name}.err")));
    (code, out)
}

fn keepalive(dir: &Path, id: &str) -> std::path::PathBuf {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>1</SN>\r\n<DeviceID>{id}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
    );
    let msg = format!(
        "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\nFrom: <sip:{id}@3402000000>;tag=ka{id}\r\nTo: <sip:34020000002000000001@3402000000>\r\nCall-ID: ka-{id}@sipsak\r\nCSeq: 20 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let p = dir.join(format!("keepalive-{id}.sip"));
    std::fs::write(&p, msg).unwrap();
    p
}

fn against_serve(transport: &str) {
    if !peers::have("sipsak", "sipsak") {
        return;
    }
    let dir = TempDir::new(&format!("sipsak-{transport}"));
    let file = dir.path().join("fleet.csv");
    std::fs::write(&file, DEVICES).unwrap();
    let server = gbswarm::server::start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        registrar: Config {
            min_expires: 1,
            passwords: Passwords::PerDevice(load_passwords(&file).unwrap()),
            ..Config::new("34020000002000000001".parse().unwrap(), "unused")
        },
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(10),
        max_connections: 100,
        max_half_open_per_source: 100,
    })
    .unwrap();
    let addr = server.local_addr();
    let d = dir.path();
    let target = |id: &str| format!("sip:{id}@{addr}");
    let register = |name, id: &str, pw: &str, expires: &str| {
        let contact = format!("sip:{id}@127.0.0.1:5999");
        sipsak(
            d,
            name,
            transport,
            &[
                "-U",
                "-i",
                "-C",
                &contact,
                "-x",
                expires,
                "-s",
                &target(id),
                "-u",
                id,
                "-a",
                pw,
            ],
        )
    };
    let ids = ["34020000001320000001", "34020000001320000002"];
    for (id, pw) in ids.iter().zip(["pw-one", "pw-two"]) {
        let (code, out) = register("sipsak-register", id, pw, "60");
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains("X-GB-Ver: 3.0"),
            "serve's answer names its edition: {out}"
        );
    }
    let (registered, _) = server.stats().1;
    assert_eq!(registered, 2);
    // A keepalive MESSAGE (MANSCDP) from each registered device: 200.
    for id in ids {
        let ka = keepalive(d, id);
        let (code, out) = sipsak(
            d,
            "sipsak-keepalive",
            transport,
            &[
                "-L",
                "-f",
                ka.to_str().unwrap(),
                "-s",
                &target("34020000002000000001"),
                "-u",
                id,
                "-a",
                "unused",
            ],
        );
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("SIP/2.0 200 OK"), "{out}");
    }
    // A wrong password: refused, nothing registered.
    let (code, out) = register("sipsak-wrong", ids[0], "not-it", "60");
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("403"), "{out}");
    // Unregistered with Expires: 0.
    for (id, pw) in ids.iter().zip(["pw-one", "pw-two"]) {
        let (code, out) = register("sipsak-unregister", id, pw, "0");
        assert_eq!(code, Some(0), "{out}");
    }
    let (_, (registered, online)) = server.stats();
    let st = server.stop();
    assert_eq!((registered, online), (0, 0));
    assert_eq!(st.registrations, 2);
    assert_eq!(st.unregistrations, 2);
    assert_eq!(st.keepalives, 2);
    assert_eq!(st.response(403), 1);
    assert_eq!(st.response(401), 5, "every REGISTER flow challenged once");
    assert_eq!(st.gb_version(gbswarm::gb::version::Declared::None), 10);
    assert_eq!((st.dropped_malformed, st.replays), (0, 0));
}

#[test]
fn sipsak_registers_keeps_alive_and_unregisters_over_udp() {
    against_serve("udp");
}

#[test]
fn sipsak_registers_keeps_alive_and_unregisters_over_tcp() {
    against_serve("tcp");
}
