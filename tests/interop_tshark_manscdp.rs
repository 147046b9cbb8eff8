//! Wireshark's SIP and XML dissectors (Debian package `tshark`) as the judge of the MANSCDP
//! bodies of #19's messages: loopback is captured during a small run of 3-channel devices
//! that a scripted platform sends RecordInfo, the 2022 queries (HomePositionQuery,
//! CruiseTrackListQuery, CruiseTrackQuery, PTZPosition, SDCardStatus), ConfigDownload of
//! every block, and the DeviceControls (PTZ, IFrame, DragZoom, HomePosition, RecordCmd,
//! GuardCmd, AlarmCmd, TeleBoot) and a DeviceConfig one at a time. Every packet must decode as SIP, none may be
//! flagged malformed, every body must decode as XML, and every new message type — each query,
//! its Response, each Control and the DeviceControl Response — must be among them.

mod peers;

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::engine;
use gbswarm::engine::Stop;
use gbswarm::profile::{Profile, Span};
use gbswarm::testkit::{Responder, Script};
use peers::{Peer, TempDir};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

const REQUESTS: &[&str] = &[
    "ConfigDownload:all",
    "RecordInfo",
    "HomePositionQuery",
    "CruiseTrackListQuery",
    "CruiseTrackQuery",
    "PTZPosition",
    "SDCardStatus",
    "DeviceControl:PTZCmd",
    "DeviceControl:IFrameCmd",
    "DeviceControl:DragZoom",
    "DeviceControl:HomePosition",
    "DeviceControl:RecordCmd",
    "DeviceControl:GuardCmd",
    "DeviceControl:AlarmCmd",
    "DeviceControl:DeviceConfig",
    "DeviceControl:TeleBoot",
];

#[test]
fn wireshark_decodes_every_new_manscdp_body_as_xml() {
    if !peers::have("tshark", "tshark") {
        return;
    }
    let dir = TempDir::new("tshark-manscdp");
    let script = Script {
        queries: REQUESTS.to_vec(),
        channels: 3,
        one_at_a_time: true,
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
    std::thread::sleep(Duration::from_millis(300));
    let plan = Profile {
        target: Some(responder.addr().to_string()),
        cameras: Some(4),
        transport: Some(Transport::Udp),
        rate: Some(100.0),
        channels: Some(3),
        gb_version: Some(2022),
        duration: Some(Span(Duration::from_secs(4))),
        heartbeat: Some(Span(Duration::from_secs(1))),
        reboot_delay: Some(Span(Duration::from_secs(1))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let result = engine::run(&plan, responder.addr(), &Stop::default(), |_| {}).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(tshark.stop(), "tshark stops on SIGTERM");
    drop(responder);
    let t = &result.total;
    assert_eq!(t.counters.reboots, 4, "each device restarted once");
    // First registration and the one after the restart, for every device.
    assert_eq!(t.kind(TxnKind::Register).succeeded(), 8);
    assert_eq!(t.counters.queries_refused, 0);

    let text = peers::stdout_of(
        Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-d", &format!("udp.port=={port},sip")])
            .args(["-d", "media_type==application/manscdp+xml,xml"])
            .args(["-Y", "udp.payload", "-T", "fields", "-E", "separator=|"])
            .args(["-E", "occurrence=a", "-E", "aggregator=,"])
            .args([
                "-e",
                "frame.number",
                "-e",
                "sip.Method",
                "-e",
                "sip.Status-Code",
            ])
            .args([
                "-e",
                "sip.Content-Length",
                "-e",
                "_ws.malformed",
                "-e",
                "xml.tag",
            ])
            .args(["-e", "udp.payload"]),
    );
    assert!(!text.contains("Malformed"), "{text}");
    let mut kinds = BTreeSet::new();
    let mut bodies = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 7, "{line}");
        let (frame, method, status, cl, malformed, xml, raw) =
            (f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
        assert!(malformed.is_empty(), "frame {frame} is malformed: {line}");
        assert!(
            !method.is_empty() || !status.is_empty(),
            "frame {frame} is not SIP"
        );
        let Some(b) = peers::fields::datagram_body(frame, raw, cl, xml) else {
            continue;
        };
        bodies += 1;
        kinds.insert(format!("{}/{}", b.root, b.cmd));
    }
    assert!(bodies > 100, "{bodies} bodies");
    for want in [
        "Query/RecordInfo",
        "Response/RecordInfo",
        "Query/ConfigDownload",
        "Response/ConfigDownload",
        "Control/DeviceControl",
        "Response/DeviceControl",
        "Control/DeviceConfig",
        "Response/DeviceConfig",
    ]
    .into_iter()
    .map(String::from)
    .chain(
        [
            "HomePositionQuery",
            "CruiseTrackListQuery",
            "CruiseTrackQuery",
            "PTZPosition",
            "SDCardStatus",
        ]
        .iter()
        .flat_map(|c| [format!("Query/{c}"), format!("Response/{c}")]),
    ) {
        assert!(kinds.contains(&want), "{want} not seen among {kinds:?}");
    }
}
