//! Wireshark's RFC 4571 RTP dissector (Debian package `tshark`) as the judge of the TCP media
//! a `gbswarm run` camera really sends. The test registers the camera and plays the platform
//! (`tests/play_peer`): a wvp-shaped TCP passive offer, the ACK, then it accepts the camera's
//! media connection and keeps what arrives for 1.5 s, as it arrived. Those bytes go into a
//! capture as TCP segments of 1,448 bytes (so packets straddle segments, as on a real link)
//! and tshark decodes the port as RTP (`-d tcp.port==P,rtp`): every framed packet must come
//! out as RTP version 2, PT 96, the offer's SSRC, with consecutive sequence numbers and none
//! malformed. Every port comes from port 0; the run is stopped by its PID.

mod peers;
mod play;
mod play_peer;

use peers::{Pcap, TempDir};
use play::Run;
use play_peer::{Platform, accept, interrupt, offer, read_raw_tcp, rfc4571_packets, wait_exit};
use std::net::TcpListener;
use std::time::Duration;

const PASSIVE: &str = include_str!("fixtures/sdp/play-tcp-passive-wvp.sdp");

#[test]
fn tshark_decodes_a_cameras_tcp_passive_stream_as_rfc4571_rtp() {
    if !peers::have("tshark", "tshark") {
        return;
    }
    let dir = TempDir::new("tshark-tcp-media");
    let mut p = Platform::udp();
    let mut run = Run::start(p.addr(), 1, &[]);
    p.wait_registered(1);
    let media = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = media.local_addr().unwrap().port();
    let ok = p.play(
        0,
        &offer(PASSIVE, 30002, media.local_addr().unwrap()),
        "tsh1",
    );
    assert!(ok.body.contains("a=setup:active"), "{}", ok.body);
    p.in_dialog(0, "ACK", "tsh1", &ok, 20);
    let mut conn = accept(&media, Duration::from_secs(5)).expect("the camera connects");
    let (raw, closed) = read_raw_tcp(&mut conn, Duration::from_millis(1500));
    assert!(!closed, "the camera kept its connection");
    drop(conn);
    interrupt(&run);
    assert_eq!(wait_exit(&mut run, &mut p), Some(130), "the run stops");

    let packets = rfc4571_packets(&raw);
    assert!(packets.len() > 20, "{} packets in 1.5 s", packets.len());
    // The whole frames only: a packet cut by the end of the read is not offered to tshark.
    let whole: usize = packets.iter().map(|p| 2 + p.len()).sum();
    let mut pcap = Pcap::new();
    let mut seq = 1u32;
    for (i, chunk) in raw[..whole].chunks(1448).enumerate() {
        pcap.ipv4(
            i as u64 * 100,
            6,
            &peers::tcp_segment(40_000, port, seq, chunk),
        );
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    let file = dir.path().join("tcp-media.pcap");
    std::fs::write(&file, &pcap.0).unwrap();
    let rows = peers::tshark_rtp(&file, &format!("tcp.port=={port},rtp"));
    assert_eq!(
        rows.len(),
        packets.len(),
        "every framed packet decodes as RTP"
    );
    for row in &rows {
        // y=0200003793 as a 32-bit integer; PT 96; version 2; not malformed.
        assert_eq!(
            [&row[0], &row[3], &row[4], &row[5]],
            ["0x0bebd0d1", "96", "2", ""],
            "{row:?}"
        );
    }
    let seqs: Vec<u16> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "consecutive sequence numbers: {seqs:?}"
    );
    assert!(
        rows.iter().filter(|r| r[2] == "1").count() >= 10,
        "a marker per frame, 25 frames a second"
    );
}
