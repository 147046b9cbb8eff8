//! Wireshark's SIP dissector (Debian package `tshark`) as the judge of what the camera's INVITE
//! server sends: 100 Trying and the 200 OK with its SDP answer, the 200 to a CANCEL and the
//! INVITE's 487, a 404, a 481, and the camera's own BYE, each written into a pcap file as a
//! UDP datagram. Every packet must decode as the SIP message meant, with the CSeq method of its
//! transaction, and none may be malformed or carry an error-level expert item.

mod peers;

use gbswarm::camera::Transport;
use gbswarm::camera::invite::{Action, Device, PlayConfig, PlayTable, SessionId};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::DeviceId;
use gbswarm::sip::{Header, Limits, parse_datagram};
use std::net::SocketAddr;

const OFFER: &str = include_str!("fixtures/sdp/play-udp-wvp.sdp");
const CH: &str = "34020000001310000001";

/// A request from the platform (`to_tag` for in-dialog ones).
fn request(method: &str, user: &str, call: &str, to_tag: &str, body: &str) -> Vec<u8> {
    let tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    format!(
        "{method} sip:{user}@10.0.0.9:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.3:5060;rport;branch=z9hG4bK{call}\r\n\
From: <sip:34020000002000000001@3402000000>;tag=pf{call}\r\n\
To: <sip:{user}@3402000000>{tag}\r\nCall-ID: {call}@192.168.1.3\r\nCSeq: 20 {method}\r\n\
Contact: <sip:34020000002000000001@192.168.1.3:5060>\r\nMax-Forwards: 70\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Drives a table and keeps every message it sends (and the sessions acknowledged).
struct Run {
    table: PlayTable,
    sent: Vec<Vec<u8>>,
    acked: Vec<SessionId>,
}

impl Run {
    fn take(&mut self) {
        for a in self.table.actions() {
            match a {
                Action::Send(t) => self.sent.push(self.table.bytes(t).to_vec()),
                Action::Acked { session, .. } => self.acked.push(*session),
                _ => {}
            }
        }
    }

    fn feed(&mut self, now: Time, raw: &[u8]) {
        let (dev, ch) = (
            DeviceId::parse(b"34020000001320000001").unwrap(),
            DeviceId::parse(CH.as_bytes()).unwrap(),
        );
        let device = Device {
            index: 0,
            id: &dev,
            signal: "10.0.0.9:5060".parse().unwrap(),
            transport: Transport::Udp,
            media: "10.0.0.9:15000".parse().unwrap(),
        };
        let platform: SocketAddr = "192.168.1.3:5060".parse().unwrap();
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(raw, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        match raw.split(|&b| b == b' ').next() {
            Some(b"INVITE") => self
                .table
                .on_invite(now, &m, platform, &device, |i| *i == ch),
            Some(b"ACK") => self.table.on_ack(now, &m),
            Some(b"CANCEL") => self.table.on_cancel(now, &m, platform),
            _ => self.table.on_bye(now, &m, platform),
        }
        self.take();
    }

    /// The camera's To tag in the last message sent.
    fn last_tag(&self) -> String {
        let text = String::from_utf8(self.sent.last().unwrap().clone()).unwrap();
        let to = text.lines().find(|l| l.starts_with("To: ")).unwrap();
        to.split(";tag=").nth(1).unwrap().to_string()
    }
}

#[test]
fn wireshark_decodes_what_the_invite_server_sends() {
    if !peers::have("tshark", "tshark") {
        return;
    }
    let cfg = PlayConfig {
        max_streams: 4,
        answer_delay: Span::from_millis(100),
        ..PlayConfig::default()
    };
    let mut run = Run {
        table: PlayTable::new(4, cfg),
        sent: vec![],
        acked: vec![],
    };
    let ms = |n: u64| Time::ZERO + Span::from_millis(n);
    // A played session: 100, 200 (after the delay), ACK, then the device ends it with BYE.
    run.feed(ms(0), &request("INVITE", CH, "a1", "", OFFER));
    run.table.on_timer(ms(100));
    run.take();
    let tag = run.last_tag();
    run.feed(ms(110), &request("ACK", CH, "a1", &tag, ""));
    run.table.media_ended(ms(200), run.acked[0]);
    run.take();
    // A cancelled one: 100, then 200 to the CANCEL and 487 to the INVITE.
    run.feed(ms(300), &request("INVITE", CH, "b2", "", OFFER));
    run.feed(ms(350), &request("CANCEL", CH, "b2", "", ""));
    // An unknown channel (100, 404) and a BYE for no dialog (481).
    run.feed(
        ms(400),
        &request("INVITE", "34020000001310000099", "c3", "", OFFER),
    );
    run.feed(ms(500), &request("BYE", CH, "d4", "nosuchtag", ""));
    let text = peers::tshark_sip(
        "tshark-invite",
        &run.sent,
        &[
            "sip.Status-Code",
            "sip.Method",
            "sip.CSeq.method",
            "sdp.media.port",
            "_ws.malformed",
            "_ws.expert.severity",
        ],
    );
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    let want = [
        ("100", "", "INVITE", ""),
        ("200", "", "INVITE", "15000"),
        ("", "BYE", "BYE", ""),
        ("100", "", "INVITE", ""),
        ("200", "", "CANCEL", ""),
        ("487", "", "INVITE", ""),
        ("100", "", "INVITE", ""),
        ("404", "", "INVITE", ""),
        ("481", "", "BYE", ""),
    ];
    assert_eq!(rows.len(), want.len(), "{text}");
    for (row, (code, method, cseq, port)) in rows.iter().zip(want) {
        assert_eq!(row.len(), 6, "{text}");
        assert_eq!(row[..4], [code, method, cseq, port], "{text}");
        peers::assert_decoded_cleanly(row[4], row[5], &text);
    }
}
