//! Wireshark's SIP and XML dissectors (Debian package `tshark`) as the judge of the whole
//! subscription and record-query path on the wire: `gbswarm serve --subscribe
//! catalog,mobile-position:1,alarm --query record-info` and `gbswarm run` cameras of 3
//! channels that flap and raise alarms, each as its own process, with loopback captured on
//! serve's port. Every packet must decode as SIP, none may be flagged malformed, every
//! Content-Length must match, every MANSCDP body must decode as XML, and every message type
//! of the path must be among them: serve's three SUBSCRIBE bodies and its RecordInfo query,
//! the cameras' Catalog, MobilePosition and Alarm NOTIFYs and their RecordInfo answers — in
//! the 2016 forms and in the 2022 ones (MobilePosition's list form).

mod peers;

use peers::{Peer, TempDir};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

/// Captures a run of cameras following `gb_version` against serve, and judges every packet.
fn judge(gb_version: &str) {
    if !peers::have("tshark", "tshark") {
        return;
    }
    let dir = TempDir::new(&format!("tshark-serve-{gb_version}"));
    let (mut serve, addr) = peers::serve_process(
        dir.path(),
        &[
            "--subscribe",
            "catalog,mobile-position:1,alarm",
            "--subscribe-rate",
            "100",
            "--query",
            "record-info",
            "--query-rate",
            "5",
            "--query-span",
            "2h",
        ],
    );
    let pcap = dir.path().join("run.pcap");
    let mut cmd = Command::new("tshark");
    cmd.args(["-i", "lo", "-f", &format!("udp port {}", addr.port()), "-w"])
        .arg(&pcap);
    let mut tshark = Peer::spawn("tshark", cmd, dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !peers::read(&dir.path().join("tshark.err")).contains("Capturing on") {
        assert!(Instant::now() < deadline, "tshark did not start capturing");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Capture has begun; give the kernel filter a moment to attach.
    std::thread::sleep(Duration::from_millis(300));
    let mut run_cmd = Command::new(env!("CARGO_BIN_EXE_gbswarm"));
    run_cmd
        .args([
            "run",
            "--target",
            &addr.to_string(),
            "-n",
            "4",
            "--cores",
            "1",
        ])
        .args(["--rate", "100", "--duration", "5s", "--heartbeat", "2s"])
        .args(["--channels", "3", "--catalog-page", "2"])
        .args(["--channel-flap-rate", "7200", "--alarm-rate", "3600"])
        .args(["--gb-version", gb_version, "--grace", "3s"]);
    let mut run = Peer::spawn("run", run_cmd, dir.path());
    let code = run.wait_exit(Duration::from_secs(30));
    assert!(
        code.is_some(),
        "the run did not end: {}",
        peers::read(&dir.path().join("run.err"))
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(tshark.stop(), "tshark stops on SIGTERM");
    serve.stop();

    let text = peers::stdout_of(
        Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-d", &format!("udp.port=={},sip", addr.port())])
            .args(["-d", "media_type==application/manscdp+xml,xml"])
            .args(["-Y", "udp.payload", "-T", "fields", "-E", "separator=|"])
            .args(["-E", "occurrence=a", "-E", "aggregator=,"])
            .args(["-e", "frame.number", "-e", "sip.Method"])
            .args(["-e", "sip.Status-Code", "-e", "sip.Content-Length"])
            .args(["-e", "_ws.malformed", "-e", "_ws.expert.severity"])
            .args(["-e", "xml.tag", "-e", "udp.payload"]),
    );
    assert!(!text.contains("Malformed"), "{text}");
    let (mut kinds, mut methods) = (BTreeSet::new(), BTreeSet::new());
    let mut bodies = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 8, "{line}");
        let (frame, method, status, cl, malformed, severity, xml, raw) =
            (f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
        peers::assert_decoded_cleanly(malformed, severity, line);
        assert!(
            !method.is_empty() || !status.is_empty(),
            "frame {frame} is not SIP: {line}"
        );
        methods.insert(method.to_string());
        let Some(b) = peers::fields::datagram_body(frame, raw, cl, xml) else {
            continue;
        };
        bodies += 1;
        let (body, r, cmd) = (&b.text, b.root.as_str(), b.cmd.as_str());
        kinds.insert(format!("{method}:{r}/{cmd}"));
        if gb_version == "2022" && method == "NOTIFY" && cmd == "MobilePosition" {
            // The list form: the position items under SumNum.
            assert!(
                peers::fields::xml_element(body, "SumNum").is_some(),
                "frame {frame}: {body}"
            );
        }
    }
    assert!(bodies > 50, "{bodies} bodies");
    for m in ["REGISTER", "SUBSCRIBE", "NOTIFY", "MESSAGE"] {
        assert!(methods.contains(m), "no {m} among {methods:?}");
    }
    for want in [
        "SUBSCRIBE:Query/Catalog",
        "SUBSCRIBE:Query/MobilePosition",
        "SUBSCRIBE:Query/Alarm",
        "NOTIFY:Notify/Catalog",
        "NOTIFY:Notify/MobilePosition",
        "NOTIFY:Notify/Alarm",
        "MESSAGE:Query/RecordInfo",
        "MESSAGE:Response/RecordInfo",
        "MESSAGE:Notify/Keepalive",
    ] {
        assert!(kinds.contains(want), "{want} not seen among {kinds:?}");
    }
}

#[test]
fn wireshark_decodes_serve_subscriptions_and_record_queries_with_2016_devices() {
    judge("2016");
}

#[test]
fn wireshark_decodes_serve_subscriptions_and_record_queries_with_2022_devices() {
    judge("2022");
}
