//! Wireshark's SIP and SDP dissectors (Debian package `tshark`) as the judge of the camera's
//! SDP answer: a 200 OK to an INVITE, carrying the answer to each wvp-shaped offer, is written
//! into a pcap file as a UDP datagram; every packet must decode as SIP with an SDP body, none
//! may be flagged malformed or carry an error-level expert item, and the dissector must read
//! the answer's connection address, media port and protocol, `a=sendonly`, the PS rtpmap and,
//! over TCP, the inverse setup with `a=connection:new`.

mod peers;

use gbswarm::gb::{AnswerSsrc, DeviceId, Local, MediaTransport, Offer, write_answer};
use peers::TempDir;
use std::process::Command;

const OFFERS: [&[u8]; 5] = [
    include_bytes!("fixtures/sdp/play-udp-wvp.sdp"),
    include_bytes!("fixtures/sdp/play-tcp-passive-wvp.sdp"),
    include_bytes!("fixtures/sdp/play-tcp-active-senior-wvp.sdp"),
    include_bytes!("fixtures/sdp/playback-udp-wvp.sdp"),
    include_bytes!("fixtures/sdp/download-tcp-passive-wvp.sdp"),
];

/// A 200 OK to a GB28181 INVITE carrying `sdp`.
fn ok_with(sdp: &[u8], n: usize) -> Vec<u8> {
    let mut m = format!(
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.168.1.3:5060;rport=5060;branch=z9hG4bK{n}\r\n\
From: <sip:34020000002000000001@3402000000>;tag=p{n}\r\n\
To: <sip:34020000001320000001@3402000000>;tag=c{n}\r\n\
Call-ID: call-{n}@192.168.1.3\r\n\
CSeq: 20 INVITE\r\n\
Contact: <sip:34020000001320000001@10.0.0.9:5060>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n",
        sdp.len()
    )
    .into_bytes();
    m.extend_from_slice(sdp);
    m
}

/// A pcap file (LINKTYPE_RAW: IPv4 packets) of one UDP datagram per payload, 10.0.0.9:5060 to
/// 192.168.1.3:5060. Checksums are zero (UDP: none); tshark does not verify IP checksums by
/// default.
fn pcap(payloads: &[Vec<u8>]) -> Vec<u8> {
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
        let mut udp = vec![0x13, 0xc4, 0x13, 0xc4, 0, 0, 0, 0];
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

#[test]
fn wireshark_decodes_every_answer() {
    if !peers::have("tshark", "tshark") {
        return;
    }
    let device = DeviceId::parse(b"34020000001320000001").unwrap();
    let mut packets = Vec::new();
    let mut protos = Vec::new();
    for (n, body) in OFFERS.iter().enumerate() {
        let offer = Offer::parse(body).unwrap();
        let local = Local {
            device: &device,
            media: "10.0.0.9:15000".parse().unwrap(),
            ssrc: if n % 2 == 0 {
                AnswerSsrc::Offered
            } else {
                AnswerSsrc::Own(200_000_001)
            },
            format: Some(b"v/2/5/25/1/1024a///"),
        };
        let mut sdp = Vec::new();
        write_answer(&mut sdp, &offer, &local);
        packets.push(ok_with(&sdp, n));
        protos.push(match offer.transport {
            MediaTransport::Udp => ("RTP/AVP", None),
            MediaTransport::TcpActive => ("TCP/RTP/AVP", Some("setup:passive")),
            MediaTransport::TcpPassive => ("TCP/RTP/AVP", Some("setup:active")),
        });
    }
    let dir = TempDir::new("tshark-sdp");
    let file = dir.path().join("answers.pcap");
    std::fs::write(&file, pcap(&packets)).unwrap();
    let text = peers::stdout_of(
        Command::new("tshark")
            .arg("-r")
            .arg(&file)
            .args([
                "-d",
                "udp.port==5060,sip",
                "-T",
                "fields",
                "-E",
                "separator=|",
            ])
            .args(["-E", "occurrence=a", "-E", "aggregator=,"])
            .args([
                "-e",
                "frame.number",
                "-e",
                "sip.Status-Code",
                "-e",
                "sdp.version",
            ])
            .args(["-e", "sdp.connection_info.address", "-e", "sdp.media.port"])
            .args([
                "-e",
                "sdp.media.proto",
                "-e",
                "sdp.media_attr",
                "-e",
                "_ws.malformed",
            ])
            .args(["-e", "_ws.expert.severity", "-e", "_ws.expert.message"]),
    );
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), OFFERS.len(), "{text}");
    for (row, (proto, setup)) in rows.iter().zip(protos) {
        assert_eq!(row.len(), 10, "{text}");
        assert_eq!(
            row[1..6],
            ["200", "0", "10.0.0.9", "15000", proto],
            "{text}"
        );
        let attrs: Vec<&str> = row[6].split(',').collect();
        assert_eq!(attrs[..2], ["sendonly", "rtpmap:96 PS/90000"], "{text}");
        let tcp: Vec<&str> = setup
            .into_iter()
            .chain(setup.map(|_| "connection:new"))
            .collect();
        assert_eq!(attrs[2..], tcp[..], "{text}");
        assert!(row[7].is_empty(), "malformed: {text}");
        // Expert severities are numeric; errors are 0x00800000 (8388608) and above.
        for s in row[8].split(',').filter(|s| !s.is_empty()) {
            let level: u64 = s.parse().unwrap_or(u64::MAX);
            assert!(level < 8_388_608, "expert error {s}: {text}");
        }
    }
}
