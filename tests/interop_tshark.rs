//! Wireshark's SIP dissector (Debian package `tshark`) as the judge of gbswarm's wire format:
//! loopback is captured during a small run over UDP and over TCP (registrations, refreshes,
//! keepalives, platform queries and their MANSCDP answers, unregistrations), then every packet
//! must decode as SIP, none may be flagged malformed, MANSCDP bodies must decode as XML, and —
//! since the dissector is lenient — every Content-Length must equal the real body length and
//! every request must carry an RFC 3261 branch.

mod peers;

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::engine;
use gbswarm::engine::Stop;
use gbswarm::profile::{Profile, Span};
use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use peers::{Peer, TempDir};
use std::process::Command;
use std::time::{Duration, Instant};

fn capture_run(transport: Transport) {
    if !peers::have("tshark", "tshark") {
        return;
    }
    let dir = TempDir::new(match transport {
        Transport::Udp => "tshark-udp",
        Transport::Tcp => "tshark-tcp",
    });
    let script = Script {
        queries: vec!["Catalog", "DeviceInfo"],
        ..Script::default()
    };
    let responder = Responder::start("34020000002000000001".parse().unwrap(), script).unwrap();
    let port = responder.addr().port();
    let pcap = dir.path().join("run.pcap");
    let mut cmd = Command::new("tshark");
    cmd.args(["-i", "lo", "-f", &format!("port {port}"), "-w"])
        .arg(&pcap);
    let mut tshark = Peer::spawn("tshark", cmd, dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !peers::read(&dir.path().join("tshark.err")).contains("Capturing on") {
        assert!(Instant::now() < deadline, "tshark did not start capturing");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Capture has begun; give the kernel filter a moment to attach.
    std::thread::sleep(Duration::from_millis(300));
    let plan = Profile {
        target: Some(responder.addr().to_string()),
        cameras: Some(8),
        transport: Some(transport),
        rate: Some(100.0),
        channels: Some(3),
        duration: Some(Span(Duration::from_secs(3))),
        expires: Some(Span(Duration::from_secs(2))),
        heartbeat: Some(Span(Duration::from_secs(1))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let result = engine::run(&plan, responder.addr(), &Stop::default(), |_| {}).unwrap();
    assert_eq!(result.total.kind(TxnKind::QueryResponse).succeeded(), 16);
    std::thread::sleep(Duration::from_millis(500));
    assert!(tshark.stop(), "tshark stops on SIGTERM");
    drop(responder);

    let decode = [
        "-d".to_string(),
        format!("udp.port=={port},sip"),
        "-d".to_string(),
        format!("tcp.port=={port},sip"),
        "-d".to_string(),
        "media_type==application/manscdp+xml,xml".to_string(),
    ];
    let payload = match transport {
        Transport::Udp => "udp.payload",
        Transport::Tcp => "tcp.payload",
    };
    let text = peers::stdout_of(
        Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(&decode)
            .args([
                "-Y",
                payload,
                "-T",
                "fields",
                "-E",
                "separator=|",
                "-E",
                "occurrence=a",
                "-E",
                "aggregator=,",
            ])
            .args([
                "-e",
                "frame.number",
                "-e",
                "sip.Method",
                "-e",
                "sip.Status-Code",
                "-e",
                "sip.Via.branch",
            ])
            .args([
                "-e",
                "sip.Content-Length",
                "-e",
                "_ws.malformed",
                "-e",
                "xml.tag",
                "-e",
                payload,
            ]),
    );
    assert!(!text.contains("Malformed"), "{text}");
    let (mut frames, mut requests, mut responses, mut xml_bodies) = (0, 0, 0, 0u64);
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 8, "{line}");
        let (frame, method, status, branch, cl, malformed, xml, raw) =
            (f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
        frames += 1;
        assert!(malformed.is_empty(), "frame {frame} is malformed: {line}");
        assert!(
            !method.is_empty() || !status.is_empty(),
            "frame {frame} is not SIP: {line}"
        );
        // A TCP segment may carry several messages: walk them with the Content-Length values
        // the dissector read, in order; they must tile the payload exactly.
        let bytes = peers::fields::hex_to_bytes(raw);
        let mut pos = 0;
        let mut bodies = 0;
        for cl in cl.split(',') {
            let cl: usize = cl
                .parse()
                .unwrap_or_else(|_| panic!("frame {frame}: Content-Length `{cl}`"));
            let head_end = pos
                + bytes[pos..]
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .unwrap_or_else(|| panic!("frame {frame}: no end of headers"));
            pos = head_end + 4 + cl;
            assert!(
                pos <= bytes.len(),
                "frame {frame}: Content-Length past the end"
            );
            bodies += usize::from(cl > 0);
        }
        assert_eq!(
            pos,
            bytes.len(),
            "frame {frame}: Content-Length does not match the bodies"
        );
        for b in branch.split(',') {
            assert!(b.starts_with("z9hG4bK"), "frame {frame}: branch {b}");
        }
        if bodies > 0 {
            assert!(
                xml.contains("CmdType"),
                "frame {frame}: body not decoded as XML: {line}"
            );
            xml_bodies += bodies as u64;
        }
        if method.is_empty() {
            responses += 1;
        } else {
            requests += 1;
        }
    }
    let t = &result.total;
    let expected_bodies =
        t.kind(TxnKind::Keepalive).total() + t.kind(TxnKind::QueryResponse).total() + 16;
    assert!(frames > 100, "{frames} frames");
    assert!(responses > 50 && requests > 50);
    assert_eq!(
        xml_bodies, expected_bodies,
        "keepalives, query answers and the queries"
    );
}

#[test]
fn wireshark_decodes_every_udp_packet() {
    capture_run(Transport::Udp);
}

#[test]
fn wireshark_decodes_every_tcp_packet() {
    capture_run(Transport::Tcp);
}
