//! Wireshark's SIP and SDP dissectors (Debian package `tshark`) as the judge of the camera's
//! SDP answer: a 200 OK to an INVITE, carrying the answer to each wvp-shaped offer, is written
//! into a pcap file as a UDP datagram; every packet must decode as SIP with an SDP body, none
//! may be flagged malformed or carry an error-level expert item, and the dissector must read
//! the answer's connection address, media port and protocol, `a=sendonly`, the PS rtpmap and,
//! over TCP, the inverse setup with `a=connection:new`.

mod peers;

use gbswarm::gb::{AnswerSsrc, DeviceId, Local, MediaTransport, Offer, write_answer};

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
    let text = peers::tshark_sip(
        "tshark-sdp",
        &packets,
        &[
            "frame.number",
            "sip.Status-Code",
            "sdp.version",
            "sdp.connection_info.address",
            "sdp.media.port",
            "sdp.media.proto",
            "sdp.media_attr",
            "_ws.malformed",
            "_ws.expert.severity",
            "_ws.expert.message",
        ],
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
        peers::assert_decoded_cleanly(row[7], row[8], &text);
    }
}
