//! Parsing a REGISTER and reading every accessor allocates nothing; so does choosing among
//! several challenges and answering one (MD5, SHA-256, SHA-512-256, `-sess`), verifying an
//! answer, or answering a request that failed to parse, into a buffer that has already grown;
//! and so does the registrar core answering refreshes, keepalives, challenges and bad requests
//! once its buffers are warm, offering MD5 or SHA-256 and MD5; and so does batched datagram
//! I/O (`recvmmsg` and `sendmmsg` over loopback, answers queued per source) in steady state;
//! and so does reading a GB28181 SDP offer and an INVITE's `Subject`, and writing the SDP answer
//! into a warm buffer; and so do reading a clip's access units and stamping PS-over-RTP packets
//! from its shared template, over UDP or RFC 4571 TCP framing, across loops of the clip; and
//! so does a warm play table answering INVITE, ACK and BYE; and so does a warm play driver
//! (`serve --play`) sending an INVITE, ACKing the 200, checking RTP and ending with a BYE.

use gbswarm::gb::Manscdp;
use gbswarm::sip::{
    Header, Limits, Method, Writer, digest, parse_datagram, parse_stream, write_bad_request,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

fn count() {
    // try_with: the slot may already be gone while a thread is being torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const REGISTER: &[u8] = include_bytes!("fixtures/register-authorization-spvmn.sip");
const CHALLENGE: &[u8] = include_bytes!("fixtures/401-qop-auth-srs.sip");
const KEEPALIVE: &[u8] = include_bytes!("fixtures/keepalive-ipcamera.sip");

fn touch_all(raw: &[u8]) {
    let mut h = [Header::EMPTY; 64];
    let m = parse_datagram(raw, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    black_box(m.method());
    black_box(m.request_uri());
    let via = m.via().unwrap();
    black_box((
        via.transport,
        via.sent_by,
        via.branch(),
        via.rport(),
        via.received(),
    ));
    let f = m.from().unwrap();
    black_box((f.uri, f.user(), f.tag()));
    black_box(m.to().map(|t| (t.user(), t.tag())));
    black_box((m.call_id(), m.cseq(), m.expires(), m.max_forwards()));
    black_box((
        m.content_length(),
        m.content_type(),
        m.date(),
        m.retry_after(),
    ));
    black_box(m.contact().map(|c| (c.uri, c.expires(), c.user())));
    if let Some(a) = m.authorization().or_else(|| m.challenge()) {
        black_box((
            a.realm,
            a.nonce,
            a.uri,
            a.response,
            a.username,
            a.offers_qop_auth(),
        ));
    }
    black_box(Manscdp::parse(m.body));
    black_box(parse_stream(raw, &mut h, &Limits::default()).unwrap());
}

#[test]
fn parsing_and_accessors_do_not_allocate() {
    // Warm up anything lazily initialised by the test harness.
    touch_all(REGISTER);
    let before = allocs();
    for raw in [REGISTER, CHALLENGE, KEEPALIVE] {
        touch_all(raw);
    }
    assert_eq!(allocs() - before, 0);
}

#[test]
fn answering_a_challenge_into_a_warm_buffer_does_not_allocate() {
    let mut h = [Header::EMPTY; 64];
    let ch = parse_datagram(CHALLENGE, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    let challenge = ch.challenge().unwrap();
    let mut buf = Vec::with_capacity(2048);
    let mut auth = Vec::with_capacity(512);
    let build = |buf: &mut Vec<u8>, auth: &mut Vec<u8>| {
        auth.clear();
        digest::write_authorization(
            auth,
            &challenge,
            b"34020000001320000004",
            b"12345678",
            b"REGISTER",
            b"sip:34020000002000000001@3402000000",
            2,
            b"abcdef",
        )
        .unwrap();
        let mut w = Writer::request(
            buf,
            Method::Register,
            b"sip:34020000002000000001@3402000000",
        );
        w.header(b"Via", b"SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bK1")
            .header_u64(b"CSeq", 2)
            .header(b"Authorization", auth);
        w.finish(b"");
    };
    build(&mut buf, &mut auth);
    let before = allocs();
    build(&mut buf, &mut auth);
    assert_eq!(allocs() - before, 0);
}

#[test]
fn choosing_answering_and_verifying_every_algorithm_does_not_allocate() {
    use digest::Algorithm;
    // A 407 with four Proxy-Authenticate challenges: unsupported, then SHA-256 first.
    let mut resp = b"SIP/2.0 407 Proxy Authentication Required\r\nCSeq: 1 MESSAGE\r\n".to_vec();
    for alg in ["SHA-1", "SHA-256", "MD5", "SHA-512-256-sess"] {
        resp.extend_from_slice(
            format!("Proxy-Authenticate: Digest realm=\"3402000000\", nonce=\"n0nce\", qop=\"auth\", algorithm={alg}\r\n").as_bytes(),
        );
    }
    resp.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let mut h = [Header::EMPTY; 16];
    let m = parse_datagram(&resp, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    let mut auth = Vec::with_capacity(1024);
    let uri = b"sip:34020000002000000001@3402000000";
    let user = b"34020000001320000004";
    let round = |auth: &mut Vec<u8>, alg: Option<Algorithm>| {
        let chosen = digest::choose(&m).unwrap();
        assert_eq!(chosen.answer_header(), b"Proxy-Authorization");
        // The chosen one, or the same challenge under another algorithm.
        let mut challenge = chosen.params;
        let name = alg.map(Algorithm::name);
        if let Some(n) = name {
            challenge.algorithm = Some(gbswarm::sip::QStr::new(n.as_bytes()));
        }
        let alg = alg.unwrap_or(chosen.algorithm);
        auth.clear();
        digest::write_authorization(
            auth,
            &challenge,
            user,
            b"12345678",
            b"MESSAGE",
            uri,
            2,
            b"cn",
        )
        .unwrap();
        let a = gbswarm::sip::AuthParams::parse(auth).unwrap();
        let realm = gbswarm::sip::QStr::new(b"3402000000");
        let ha1 = digest::ha1(alg, user, &realm, b"12345678");
        assert!(digest::verify(&a, b"MESSAGE", &ha1));
        black_box(a);
    };
    round(&mut auth, None);
    let before = allocs();
    round(&mut auth, None);
    for alg in Algorithm::ALL {
        round(&mut auth, Some(alg));
    }
    assert_eq!(allocs() - before, 0);
}

#[test]
fn answering_a_bad_request_into_a_warm_buffer_does_not_allocate() {
    // A line without a colon makes the REGISTER unparsable; its dialog headers stay good.
    let mut bad = b"Bad header line\r\n".to_vec();
    let at = start_line_len(REGISTER) + 2;
    bad.splice(0..0, REGISTER[..at].iter().copied());
    bad.extend_from_slice(&REGISTER[at..]);
    let mut h = [Header::EMPTY; 64];
    assert!(parse_datagram(&bad, &mut h, &Limits::default()).is_err());
    let v4 = "10.1.2.3:40000".parse().unwrap();
    let v6 = "[2001:db8::7]:40000".parse().unwrap();
    let mut out = Vec::with_capacity(2048);
    assert!(write_bad_request(&bad, Some(&v4), &mut out));
    let before = allocs();
    for source in [Some(&v4), Some(&v6), None] {
        assert!(write_bad_request(&bad, source, &mut out));
    }
    assert_eq!(allocs() - before, 0);
}

/// The offset of the first CRLF (the end of the start line).
fn start_line_len(raw: &[u8]) -> usize {
    raw.windows(2).position(|w| w == b"\r\n").unwrap()
}

/// A REGISTER from `dev` with CSeq `cseq`, and `auth` as its Authorization if given.
fn register_from(dev: &str, cseq: u64, auth: Option<&[u8]>) -> Vec<u8> {
    let mut b = Vec::new();
    let uri = b"sip:34020000002000000001@3402000000";
    let mut w = Writer::request(&mut b, Method::Register, uri);
    w.header(b"Via", b"SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bK7")
        .header(b"From", format!("<sip:{dev}@3402000000>;tag=7").as_bytes())
        .header(b"To", format!("<sip:{dev}@3402000000>").as_bytes())
        .header(b"Call-ID", b"alloc-test")
        .header(b"CSeq", format!("{cseq} REGISTER").as_bytes())
        .header(
            b"Contact",
            format!("<sip:{dev}@127.0.0.1:40000>").as_bytes(),
        )
        .header(b"Expires", b"3600");
    if let Some(a) = auth {
        w.header(b"Authorization", a);
    }
    w.finish(b"");
    b
}

#[test]
fn the_registrar_answers_without_allocating_once_warm() {
    for digest in [
        vec![digest::Algorithm::MD5],
        vec![digest::Algorithm::SHA256, digest::Algorithm::MD5],
    ] {
        registrar_answers_without_allocating_once_warm(digest);
    }
}

fn registrar_answers_without_allocating_once_warm(digest: Vec<digest::Algorithm>) {
    use gbswarm::clock::Time;
    use gbswarm::net::Service;
    use gbswarm::server::registrar::{Config, Registrar};
    use gbswarm::server::registry::Registry;
    use gbswarm::sip::{Batch, Transport};
    const DEV: &str = "34020000001320000001";
    let cfg = Config {
        query_catalog: true,
        via_host: "127.0.0.1:5060".into(),
        digest,
        ..Config::new("34020000002000000001".parse().unwrap(), "12345678")
    };
    let mut r = Registrar::new(cfg, std::sync::Arc::new(Registry::new(4)), [5; 16]);
    let from = "127.0.0.1:40000".parse().unwrap();
    let now = Time::from_millis(1_000_000);
    let mut out = Batch::new();
    let send = |r: &mut Registrar, msg: &[u8], out: &mut Batch| {
        out.clear();
        r.handle_datagram(now, msg, from, Transport::Udp, out);
    };
    // Register the device (the registry entry and the buffers' growth happen here).
    send(&mut r, &register_from(DEV, 1, None), &mut out);
    let challenge = out.get(0).unwrap().to_vec();
    let mut h = [Header::EMPTY; 32];
    let ch = parse_datagram(&challenge, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    // The camera's choice: the first challenge (SHA-256 when offered first).
    let ch = digest::choose(&ch).unwrap().params;
    let answer = |nc: u32| {
        let mut a = Vec::new();
        let uri = b"sip:34020000002000000001@3402000000";
        digest::write_authorization(
            &mut a,
            &ch,
            DEV.as_bytes(),
            b"12345678",
            b"REGISTER",
            uri,
            nc,
            b"c",
        )
        .unwrap();
        a
    };
    // Every request of the measured loop is built before it: only the registrar is counted.
    let refreshes: Vec<Vec<u8>> = (2..=101u32)
        .map(|nc| register_from(DEV, u64::from(nc), Some(&answer(nc))))
        .collect();
    let keepalive = {
        let mut body = Vec::new();
        gbswarm::gb::manscdp::write_keepalive(
            &mut body,
            gbswarm::gb::Charset::Gb2312,
            1,
            &DEV.parse().unwrap(),
            &[],
        );
        let mut b = Vec::new();
        let mut w = Writer::request(
            &mut b,
            Method::Message,
            b"sip:34020000002000000001@3402000000",
        );
        w.header(b"Via", b"SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bK8")
            .header(b"From", format!("<sip:{DEV}@3402000000>;tag=8").as_bytes())
            .header(b"To", b"<sip:34020000002000000001@3402000000>")
            .header(b"Call-ID", b"ka")
            .header(b"CSeq", b"20 MESSAGE")
            .header(b"Content-Type", b"Application/MANSCDP+xml");
        w.finish(&body);
        b
    };
    let stranger = register_from("34020000001320000999", 1, None);
    let mut bad = b"Bad header line\r\n".to_vec();
    let at = start_line_len(&stranger) + 2;
    bad.splice(0..0, stranger[..at].iter().copied());
    bad.extend_from_slice(&stranger[at..]);
    send(&mut r, &register_from(DEV, 1, Some(&answer(1))), &mut out);
    assert!(out.get(0).unwrap().starts_with(b"SIP/2.0 200"));
    assert_eq!(out.len(), 2, "the 200 and the Catalog query");
    for m in [&keepalive, &stranger, &bad, &refreshes[0]] {
        send(&mut r, m, &mut out);
    }
    let before = allocs();
    for refresh in &refreshes[1..] {
        send(&mut r, refresh, &mut out);
        assert!(out.get(0).unwrap().starts_with(b"SIP/2.0 200"));
        send(&mut r, &keepalive, &mut out);
        assert!(out.get(0).unwrap().starts_with(b"SIP/2.0 200"));
        send(&mut r, &stranger, &mut out);
        assert!(out.get(0).unwrap().starts_with(b"SIP/2.0 401"));
        send(&mut r, &bad, &mut out);
        assert!(out.get(0).unwrap().starts_with(b"SIP/2.0 400"));
    }
    assert_eq!(allocs() - before, 0);
    assert_eq!(r.stats().keepalives, 100);
}

#[test]
fn routing_a_platform_query_by_a_device_file_does_not_allocate() {
    use gbswarm::gb::{Devices, Ids};
    let text: String = (1..=1000)
        .map(|i| format!("3402000000132{i:07},pw-{i}\n"))
        .collect();
    let ids = Ids::Listed(std::sync::Arc::new(Devices::parse(&text).unwrap()));
    let query = b"MESSAGE sip:34020000001320000777@10.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.2:5060;rport;branch=z9hG4bK1\r\n\
From: <sip:34020000002000000001@3402000000>;tag=1\r\n\
To: <sip:34020000001320000777@3402000000>\r\n\
Call-ID: q1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
    let route = || {
        let mut h = [Header::EMPTY; 16];
        let m = parse_datagram(query, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        gbswarm::camera::addressed_index(&m, &ids)
    };
    assert_eq!(route(), Some(776), "row 777 is fleet index 776");
    let before = allocs();
    for _ in 0..100 {
        black_box(route());
    }
    assert_eq!(allocs() - before, 0);
}

#[test]
fn a_catalog_page_with_a_chinese_channel_name_does_not_allocate_once_warm() {
    use gbswarm::gb::{Charset, DeviceId, manscdp};
    let dev: DeviceId = "34020000001320000001".parse().unwrap();
    let mut out = Vec::new();
    let page = |out: &mut Vec<u8>, charset| {
        let items = (1..21u32).map(|i| (i, dev.channel(i, 20)));
        manscdp::write_catalog(out, charset, "东门摄像机", 1, &dev, 20, items);
    };
    for charset in [Charset::Gb18030, Charset::Gb2312] {
        page(&mut out, charset);
        let before = allocs();
        for _ in 0..10 {
            page(&mut out, charset);
        }
        assert_eq!(allocs() - before, 0, "{charset:?}");
    }
}

#[test]
fn batched_datagrams_are_received_and_answered_without_allocating_once_warm() {
    use gbswarm::net::batch::{RecvBatch, SendBatch};
    use std::net::UdpSocket;
    use std::os::fd::AsFd;
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_nonblocking(true).unwrap();
    let to = server.local_addr().unwrap();
    let clients: Vec<UdpSocket> = (0..3)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for c in &clients {
        c.connect(to).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
    }
    let mut rb = RecvBatch::default();
    let mut sendq = SendBatch::new(64);
    let mut buf = [0u8; 2048];
    // One round: every client sends 20 keepalives; the server takes them a batch at a time
    // and answers each into the queue (written in place, as a service writes into its
    // batch), then sends the answers; every client reads its 20.
    let mut round = |rb: &mut RecvBatch, sendq: &mut SendBatch| {
        for _ in 0..20 {
            for c in &clients {
                c.send(KEEPALIVE).unwrap();
            }
        }
        let mut got = 0;
        let start = std::time::Instant::now();
        while got < 60 && start.elapsed() < std::time::Duration::from_secs(20) {
            match rb.recv(&server) {
                Ok(n) => got += n,
                Err(_) => std::thread::yield_now(),
            }
            for d in rb.iter() {
                sendq.push_with(0, 0, d.from, |out| {
                    out.push_with(|b| {
                        b.clear();
                        b.extend_from_slice(b"SIP/2.0 200 OK\r\n");
                        b.extend_from_slice(&d.bytes[..40]);
                    })
                });
                if sendq.is_full() {
                    sendq.flush(|_| Some(server.as_fd()), |_, _| panic!("send"));
                }
            }
        }
        assert_eq!(got, 60);
        sendq.flush(|_| Some(server.as_fd()), |_, _| panic!("send"));
        for c in &clients {
            for _ in 0..20 {
                let n = c.recv(&mut buf).unwrap();
                assert!(buf[..n].starts_with(b"SIP/2.0 200 OK\r\n"));
            }
        }
    };
    round(&mut rb, &mut sendq);
    let before = allocs();
    for _ in 0..5 {
        round(&mut rb, &mut sendq);
    }
    assert_eq!(allocs() - before, 0);
}

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
