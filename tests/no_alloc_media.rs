//! Reading a GB28181 SDP offer and an INVITE's `Subject` and writing the SDP answer into a
//! warm buffer allocates nothing; nor do reading a clip's access units and stamping
//! PS-over-RTP packets from its shared template, over UDP or RFC 4571 TCP framing, across
//! loops of the clip; nor a warm play table answering INVITE, ACK and BYE; nor a warm play
//! driver (`serve --play`) sending an INVITE, ACKing the 200, checking RTP and ending with a
//! BYE. The counting allocator is in `counting/`.

mod counting;

use counting::allocs;
use gbswarm::sip::{Header, Limits, parse_datagram};
use std::hint::black_box;

#[test]
fn reading_sdp_offers_and_subjects_and_answering_do_not_allocate() {
    use gbswarm::gb::{AnswerSsrc, DeviceId, Local, Offer, Subject, write_answer};
    const OFFERS: [&[u8]; 3] = [
        include_bytes!("fixtures/sdp/play-udp-wvp.sdp"),
        include_bytes!("fixtures/sdp/play-tcp-active-senior-wvp.sdp"),
        include_bytes!("fixtures/sdp/download-tcp-passive-wvp.sdp"),
    ];
    let device = DeviceId::parse(b"34020000001320000001").unwrap();
    let local = Local {
        device: &device,
        media: "10.0.0.9:15000".parse().unwrap(),
        ssrc: AnswerSsrc::Offered,
        format: Some(b"v/2/5/25/1/1024a///"),
    };
    let mut out = Vec::with_capacity(1024);
    let subject = b"34020000001320000001:0200000001,34020000002000000001:0";
    let before = allocs();
    for body in OFFERS {
        let offer = black_box(Offer::parse(black_box(body)).unwrap());
        black_box(Subject::parse(black_box(subject)).unwrap());
        out.clear();
        write_answer(&mut out, &offer, &local);
        black_box(&out);
    }
    assert_eq!(allocs() - before, 0);
}

#[test]
fn reading_frames_and_stamping_rtp_packets_does_not_allocate() {
    use gbswarm::media::{AccessUnits, Codec, Stream, Template};
    const CLIP: &[u8] = include_bytes!("media/testsrc-640x360-25fps-2s.h264");
    let t = Template::from_annexb(CLIP, Codec::H264, 25).unwrap();
    let mut streams: Vec<Stream> = (0..100u32)
        .map(|i| Stream::new(i, i as u16, i * 7))
        .collect();
    assert!(std::mem::size_of::<Stream>() < 64);
    let mut wire = Vec::with_capacity(2048);
    let before = allocs();
    let mut keys = 0;
    for f in AccessUnits::new(CLIP, Codec::H264) {
        keys += usize::from(f.key);
        black_box(f.bytes);
    }
    let (mut packets, mut bytes) = (0usize, 0usize);
    // Three loops of the clip for each of 100 streams, frame by frame as a host paces them.
    for _ in 0..150 {
        for s in streams.iter_mut() {
            black_box(s.due_us(&t));
            for p in s.frame(&t) {
                wire.clear();
                p.write_tcp(&mut wire);
                black_box(&wire);
                let tcp = black_box(p.tcp_header());
                packets += 1;
                bytes += usize::from(u16::from_be_bytes([tcp[0], tcp[1]])) + black_box(p.len());
            }
        }
    }
    assert_eq!(allocs() - before, 0);
    assert_eq!(keys, 2);
    assert_eq!(packets, 300 * t.packets());
    assert!(
        streams
            .iter()
            .all(|s| s.loops() == 3 && s.frame_number(&t) == 150)
    );
    assert!(bytes > 0);
}

/// One play session's messages from the platform: INVITE, ACK of the 200, BYE.
fn play_messages(call: &str, to_tag: &str) -> [Vec<u8>; 3] {
    let offer = include_str!("fixtures/sdp/play-udp-wvp.sdp");
    let ch = "34020000001310000001";
    let head = |method: &str, branch: &str, tag: &str, cseq: u32, len: usize| {
        format!(
            "{method} sip:{ch}@10.0.0.9:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch={branch}\r\n\
From: <sip:34020000002000000001@3402000000>;tag=pf1\r\nTo: <sip:{ch}@3402000000>{tag}\r\n\
Call-ID: {call}\r\nCSeq: {cseq} {method}\r\nContact: <sip:34020000002000000001@10.0.0.1:5060>\r\n\
Subject: {ch}:0200000001,34020000002000000001:0\r\nContent-Type: application/sdp\r\n\
Content-Length: {len}\r\n\r\n"
        )
    };
    let tag = format!(";tag={to_tag}");
    let mut invite = head("INVITE", &format!("z9hG4bK{call}"), "", 20, offer.len()).into_bytes();
    invite.extend_from_slice(offer.as_bytes());
    [
        invite,
        head("ACK", "z9hG4bKack", &tag, 20, 0).into_bytes(),
        head("BYE", "z9hG4bKbye", &tag, 21, 0).into_bytes(),
    ]
}

#[test]
fn a_warm_play_table_answers_invite_ack_and_bye_without_allocating() {
    use gbswarm::camera::Transport;
    use gbswarm::camera::invite::{Action, Device, PlayConfig, PlayTable};
    use gbswarm::clock::{Span, Time};
    use gbswarm::gb::DeviceId;
    let mut table = PlayTable::new(8, PlayConfig::default());
    let (dev, ch) = (
        DeviceId::parse(b"34020000001320000001").unwrap(),
        DeviceId::parse(b"34020000001310000001").unwrap(),
    );
    let device = Device {
        index: 3,
        id: &dev,
        signal: "10.0.0.9:5060".parse().unwrap(),
        transport: Transport::Udp,
        media: "10.0.0.9:15000".parse().unwrap(),
    };
    let platform = "10.0.0.1:5060".parse().unwrap();
    // The table's To tags are the salt (0) and a generation counting sessions from 1.
    let sessions: Vec<[Vec<u8>; 3]> = (1..=4u32)
        .map(|n| play_messages(&format!("call{n}"), &format!("{:016x}", n)))
        .collect();
    let mut now = Time::ZERO;
    // Plays one session at `now` (INVITE, the 200 again at T1, ACK, BYE); returns the sends.
    let session = |table: &mut PlayTable, msgs: &[Vec<u8>; 3], now: &mut Time| {
        let mut sent = 0;
        let mut count = |table: &PlayTable| {
            for a in table.actions() {
                if let Action::Send(t) = a {
                    black_box(table.bytes(t));
                    sent += 1;
                }
            }
        };
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&msgs[0], &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        table.on_invite(*now, &m, platform, &device, |i| *i == ch);
        count(table);
        *now += Span::from_millis(500);
        table.on_timer(*now);
        count(table);
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&msgs[1], &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        table.on_ack(*now, &m);
        assert!(
            table
                .actions()
                .iter()
                .any(|a| matches!(a, Action::StartMedia { .. }))
        );
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&msgs[2], &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        table.on_bye(*now, &m, platform);
        assert!(
            table
                .actions()
                .iter()
                .any(|a| matches!(a, Action::StopMedia { .. }))
        );
        count(table);
        sent
    };
    session(&mut table, &sessions[0], &mut now);
    let before = allocs();
    for msgs in &sessions[1..] {
        // 100, 200, the 200 again at T1, 200 to the BYE.
        assert_eq!(session(&mut table, msgs, &mut now), 4);
    }
    assert_eq!(allocs() - before, 0);
    assert_eq!(table.counters().acked, 4);
}

/// The device's response `code` to the request `req` (text), with a To tag, and for a 200 a
/// Contact and an SDP answer echoing `y=`.
fn device_answer(req: &str, code: u16) -> Vec<u8> {
    let header = |name: &str| {
        req.split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or("")
            .to_string()
    };
    let mut r = format!("SIP/2.0 {code} OK\r\n");
    for h in ["Via", "From", "Call-ID", "CSeq"] {
        r.push_str(&format!("{h}: {}\r\n", header(h)));
    }
    let to = header("To");
    r.push_str(&format!(
        "To: {to}{}\r\n",
        if to.contains("tag=") { "" } else { ";tag=cam" }
    ));
    let body = if req.starts_with("INVITE") {
        let y = req.split("y=").nth(1).unwrap().trim();
        r.push_str("Contact: <sip:34020000001320000001@10.0.0.9:5060>\r\n");
        format!(
            "v=0\r\no=34020000001320000001 0 0 IN IP4 10.0.0.9\r\ns=Play\r\nc=IN IP4 10.0.0.9\r\n\
t=0 0\r\nm=video 40000 RTP/AVP 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\ny={y}\r\n"
        )
    } else {
        String::new()
    };
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r.into_bytes()
}

#[test]
fn a_warm_play_driver_invites_checks_rtp_and_byes_without_allocating() {
    use gbswarm::clock::{Span, Time};
    use gbswarm::gb::{DeviceId, MediaTransport};
    use gbswarm::net::Outbox;
    use gbswarm::server::play::{Play, PlayConfig, wire::Me};
    use gbswarm::sip::Batch;
    let me = Me {
        id: DeviceId::parse(b"34020000002000000001").unwrap(),
        domain: "3402000000".into(),
        signal: "10.0.0.1:5060".parse().unwrap(),
        media: "10.0.0.1:30000".parse().unwrap(),
        transport: MediaTransport::Udp,
        salt: 9,
    };
    let cfg = PlayConfig {
        rate: 10,
        hold: Span::from_secs(2),
        transport: MediaTransport::Udp,
        max_streams: 4,
        media_port: 0,
    };
    let mut play = Play::new(&cfg, me, 0, 1, Time::ZERO);
    play.device_registered(DeviceId::parse(b"34020000001320000001").unwrap());
    let cam = "10.0.0.9:5060".parse().unwrap();
    let (mut out, mut batch) = (Outbox::default(), Batch::new());
    let mut now = Time::ZERO;
    let mut pkt = Vec::with_capacity(64);
    // One session: INVITE, 200 (ACKed), 50 packets, BYE at the hold's end, its 200, and the
    // linger; the second time round, counted.
    for round in 0..2 {
        out.clear();
        let before = allocs();
        play.handle_timeout(now, |_| Some((cam, gbswarm::sip::Transport::Udp)), &mut out);
        let invite_allocs = allocs() - before;
        let invite = String::from_utf8(out.messages().next().unwrap().2.to_vec()).unwrap();
        let ok = device_answer(&invite, 200);
        let ssrc: u32 = invite.split("y=").nth(1).unwrap().trim().parse().unwrap();
        let started = now;
        let before = allocs();
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&ok, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        batch.clear();
        assert!(play.handle_response(now, &m, &mut batch));
        for i in 0..50u16 {
            now = started + Span::from_millis(40 * u64::from(i));
            pkt.clear();
            pkt.extend_from_slice(&gbswarm::media::rtp::rtp_header(
                true,
                i,
                u32::from(i) * 3600,
                ssrc,
            ));
            pkt.extend_from_slice(&[0, 0, 1, 0xba, 0x44]);
            play.handle_rtp(now, &pkt);
        }
        now = started + Span::from_secs(2);
        out.clear();
        play.handle_timeout(now, |_| Some((cam, gbswarm::sip::Transport::Udp)), &mut out);
        let session_allocs = allocs() - before;
        let bye = String::from_utf8(out.messages().next().unwrap().2.to_vec()).unwrap();
        assert!(bye.starts_with("BYE"), "{bye}");
        let bye_ok = device_answer(&bye, 200);
        let before = allocs();
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&bye_ok, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert!(play.handle_response(now, &m, &mut batch));
        now += Span::from_secs(1);
        out.clear();
        play.handle_timeout(now, |_| Some((cam, gbswarm::sip::Transport::Udp)), &mut out);
        let end_allocs = allocs() - before;
        if round == 1 {
            assert_eq!(
                (invite_allocs, session_allocs, end_allocs),
                (0, 0, 0),
                "INVITE; 200, ACK and RTP; BYE, its 200 and the next INVITE"
            );
        }
        now += Span::from_secs(1);
    }
    let st = play.stats_now();
    assert_eq!(
        (
            st.streams_started,
            st.streams_ended,
            st.rtp_packets,
            st.lost
        ),
        (2, 2, 100, 0)
    );
}
