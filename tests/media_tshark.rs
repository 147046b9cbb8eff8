//! Wireshark's RTP dissector (Debian package `tshark`) as the judge of the RTP packets of the
//! media template: one loop and a bit of the H.264 test clip, written into a capture file as
//! UDP datagrams and as an RFC 4571-framed TCP stream, must decode as RTP version 2, payload
//! type 96, the offered SSRC, continuous sequence numbers, the marker on each frame's last
//! packet, and no malformed packet.

mod peers;

use gbswarm::media::{Codec, Packet, Stream, Template};
use peers::{Pcap, TempDir};

const CLIP: &[u8] = include_bytes!("media/testsrc-640x360-25fps-2s.h264");
const PORT: u16 = 30_000;
const SSRC: u32 = 0x0BEB_D0D0;

/// The packets of one loop of the clip and ten more, with the time each frame is due.
fn packets(t: &Template) -> Vec<(u64, Packet<'_>)> {
    let mut s = Stream::new(SSRC, 65_500, 0);
    (0..t.packets() + 10)
        .map(|_| (s.due_us(t), s.next_packet(t).unwrap()))
        .collect()
}

/// Writes `pcap` into `dir` and reads its RTP packets back with tshark (see
/// [`peers::tshark_rtp`]).
fn tshark_rtp(dir: &TempDir, pcap: &Pcap, decode: &str) -> Vec<Vec<String>> {
    let file = dir.path().join("media.pcap");
    std::fs::write(&file, &pcap.0).unwrap();
    peers::tshark_rtp(&file, decode)
}

fn assert_decoded(rows: &[Vec<String>], sent: &[(u64, Packet<'_>)]) {
    assert_eq!(rows.len(), sent.len(), "every packet decodes as RTP");
    for (row, (_, p)) in rows.iter().zip(sent) {
        let marker = if p.marker() { "1" } else { "0" };
        let want = [
            "0x0bebd0d0".to_string(),
            p.seq().to_string(),
            marker.to_string(),
            "96".to_string(),
            "2".to_string(),
            String::new(),
        ];
        assert_eq!(row[..], want[..]);
    }
    // Sequence numbers wrap at 65,535 and go on across the loop's end.
    let seqs: Vec<u16> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    assert!(seqs.contains(&65_535) && seqs.contains(&0));
}

/// Writes the packets into a capture, each made into a transport segment by `segment`
/// (protocol number and bytes), and checks what tshark decodes with `-d decode`.
fn judge(tag: &str, decode: &str, mut segment: impl FnMut(&Packet<'_>) -> (u8, Vec<u8>)) {
    if !peers::have("tshark", "tshark") {
        return;
    }
    let t = Template::from_annexb(CLIP, Codec::H264, 25).unwrap();
    let sent = packets(&t);
    let mut pcap = Pcap::new();
    for (us, p) in &sent {
        let (proto, l4) = segment(p);
        pcap.ipv4(*us, proto, &l4);
    }
    let dir = TempDir::new(tag);
    let rows = tshark_rtp(&dir, &pcap, decode);
    assert_decoded(&rows, &sent);
}

#[test]
fn wireshark_decodes_the_udp_rtp_packets() {
    judge("media-tshark-udp", &format!("udp.port=={PORT},rtp"), |p| {
        let mut udp = Vec::with_capacity(8 + p.len());
        udp.extend_from_slice(&40_000u16.to_be_bytes());
        udp.extend_from_slice(&PORT.to_be_bytes());
        udp.extend_from_slice(&((8 + p.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(&p.header);
        udp.extend_from_slice(p.payload);
        (17, udp)
    });
}

#[test]
fn wireshark_decodes_the_rfc4571_framed_tcp_stream() {
    // Wireshark's "rtp" on a TCP port is its RFC 4571 (length-prefixed) RTP dissector.
    let mut seq = 1u32;
    judge("media-tshark-tcp", &format!("tcp.port=={PORT},rtp"), |p| {
        let mut framed = Vec::with_capacity(2 + p.len());
        framed.extend_from_slice(&p.tcp_header());
        framed.extend_from_slice(p.payload);
        let tcp = peers::tcp_segment(40_000, PORT, seq, &framed);
        seq = seq.wrapping_add(framed.len() as u32);
        (6, tcp)
    });
}
