//! SIPp (Debian package `sip-tester`) as a GB28181 platform asking a `gbswarm run` camera for
//! live video (tests/peers/sipp-uac-invite.xml): INVITE with a wvp-shaped UDP offer, the 200
//! checked by SIPp itself (sendonly, PS/90000, `m=video … RTP/AVP 96`, a 10-digit `y=`), ACK,
//! two seconds of stream, BYE and its 200; SIPp's exit status says every step passed. The
//! datagrams the camera sent meanwhile are then judged by TShark (`-d udp.port==P,rtp`):
//! every one RTP version 2, PT 96, the offered SSRC, consecutive sequence numbers, none
//! malformed; the camera sends each frame as one GSO send (the default), which must arrive
//! as one datagram per packet. The registrar is this test's own socket (it learns where the camera is). A
//! camera's UDP socket is connected to its registrar, so a platform INVITEs from the
//! registrar's address (as wvp-GB28181-pro does): once the camera has registered, the test
//! closes that socket and SIPp binds the same port, then the test takes it back to answer the
//! unregistration. Every port comes from port 0 or [`peers::free_port`] (below the ephemeral
//! range, so no outgoing socket takes it meanwhile); every process is stopped by its PID.

mod peers;
mod play;
mod play_peer;

use peers::{Peer, TempDir};
use play::{Run, SSRC_Y};
use play_peer::{Platform, interrupt, wait_exit};
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

#[test]
fn sipp_invites_a_camera_acks_and_byes_and_tshark_decodes_the_stream_as_rtp() {
    if !peers::have("sipp", "sip-tester") || !peers::have("tshark", "tshark") {
        return;
    }
    let dir = TempDir::new("sipp-invite");
    let port = peers::free_port();
    let me = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut p = Platform::udp_on(me);
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp_port = media.local_addr().unwrap().port();
    let json = dir.path().join("run.json");
    let mut run = Run::start(me, 1, &["--json", json.to_str().unwrap()]);
    p.wait_registered(1);
    let (dev, _, cam) = p.cameras[0].clone();
    // SIPp takes the registrar's port for the call.
    drop(p);

    let receiver = std::thread::spawn(move || {
        play::receive_until_quiet(&media, Duration::from_millis(1500), Duration::from_secs(30))
    });
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sipp-uac-invite.xml"
    );
    let mut cmd = Command::new("sipp");
    cmd.current_dir(dir.path())
        .arg(cam.to_string())
        .args(["-sf", scenario, "-s", &dev, "-m", "1", "-nostdin"])
        .args([
            "-key",
            "ssrc",
            SSRC_Y,
            "-key",
            "rtp_port",
            &rtp_port.to_string(),
        ])
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-timeout", "30s", "-trace_err", "-error_file"])
        .arg(dir.path().join("errors.log"))
        .args(["-trace_msg", "-message_file"])
        .arg(dir.path().join("messages.log"));
    let mut sipp = Peer::spawn("sipp", cmd, dir.path());
    let code = sipp.wait_exit(Duration::from_secs(40));
    assert_eq!(
        code,
        Some(0),
        "sipp: the call passed every check; errors: {}\nmessages: {}",
        peers::read(&dir.path().join("errors.log")),
        peers::read(&dir.path().join("messages.log"))
    );
    let datagrams = receiver.join().unwrap();
    assert!(
        datagrams.len() > 25,
        "{} datagrams in two seconds of stream",
        datagrams.len()
    );

    let file = dir.path().join("media.pcap");
    std::fs::write(&file, peers::pcap_udp(&datagrams, 40_000, rtp_port)).unwrap();
    let rows = peers::tshark_rtp(&file, &format!("udp.port=={rtp_port},rtp"));
    assert_eq!(rows.len(), datagrams.len(), "every datagram decodes as RTP");
    for row in &rows {
        // 0200003792 as a 32-bit integer; version 2; PT 96; not malformed.
        assert_eq!(
            [&row[0], &row[3], &row[4], &row[5]],
            ["0x0bebd0d0", "96", "2", ""],
            "{row:?}"
        );
    }
    let seqs: Vec<u16> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "consecutive sequence numbers: {seqs:?}"
    );
    let frames = rows.iter().filter(|r| r[2] == "1").count();
    assert!(
        frames >= 25,
        "{frames} frames (markers) in two seconds at 25 fps"
    );

    // The camera counted the same exchange; the registrar takes its port back for the
    // unregistration.
    let mut p = Platform::udp_on(me);
    interrupt(&run);
    assert_eq!(wait_exit(&mut run, &mut p), Some(130));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let v = &report["video"];
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!([n("invites"), n("answered"), n("acked")], [1, 1, 1], "{v}");
    assert_eq!([n("streams_started"), n("streams_ended")], [1, 1], "{v}");
    assert_eq!(n("rtp_packets"), datagrams.len() as u64, "{v}");
    let invite = &report["kinds"]["invite"];
    assert_eq!(
        (invite["sent"].as_u64(), invite["ok"].as_u64()),
        (Some(1), Some(1)),
        "SIPp's INVITE, timed to its ACK: {invite}"
    );
}
