//! Parsing a REGISTER and reading every accessor allocates nothing; so does choosing among
//! several challenges and answering one (MD5, SHA-256, SHA-512-256, `-sess`), verifying an
//! answer, or answering a request that failed to parse, into a buffer that has already grown;
//! and so does the registrar core answering refreshes, keepalives, challenges and bad requests
//! once its buffers are warm, offering MD5 or SHA-256 and MD5; and so does batched datagram
//! I/O (`recvmmsg` and `sendmmsg` over loopback, answers queued per source) in steady state;
//! and so does a warm camera answering RecordInfo pages, a DeviceControl's Response, a 2022
//! query and a ConfigDownload of several blocks addressed to its channels.
//! Live video's paths are in `no_alloc_media.rs`; the counting allocator is in `counting/`.

mod counting;

use counting::allocs;
use gbswarm::gb::Manscdp;
use gbswarm::sip::{
    Header, Limits, Method, Writer, digest, parse_datagram, parse_stream, write_bad_request,
};
use std::hint::black_box;

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
    use gbswarm::camera::routes::ChannelRoutes;
    use gbswarm::gb::{DeviceId, Devices, Ids};
    let text: String = (1..=1000)
        .map(|i| format!("3402000000132{i:07},pw-{i},{}\n", 1 + i % 4))
        .collect();
    let ids = Ids::Listed(std::sync::Arc::new(Devices::parse(&text).unwrap()));
    let own: Vec<u64> = (0..1000).collect();
    let routes = ChannelRoutes::new(&ids, 1, &own);
    let dev: DeviceId = "34020000001320000777".parse().unwrap();
    let channel = dev.channel(2, 2);
    let query = |to: &str| {
        format!(
            "MESSAGE sip:{to}@10.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.2:5060;rport;branch=z9hG4bK1\r\n\
From: <sip:34020000002000000001@3402000000>;tag=1\r\n\
To: <sip:{to}@3402000000>\r\n\
Call-ID: q1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let (to_device, to_channel) = (query(dev.as_str()), query(channel.as_str()));
    let route = |q: &str| {
        let mut h = [Header::EMPTY; 16];
        let m = parse_datagram(q.as_bytes(), &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        gbswarm::camera::addressed_index(&m, &ids, &routes)
    };
    assert_eq!(route(&to_device), Some(776), "row 777 is fleet index 776");
    assert_eq!(route(&to_channel), Some(776), "its channel 2 of 2");
    let before = allocs();
    for _ in 0..100 {
        black_box(route(&to_device));
        black_box(route(&to_channel));
    }
    assert_eq!(allocs() - before, 0);
}

#[test]
fn a_catalog_page_with_a_chinese_channel_name_does_not_allocate_once_warm() {
    use gbswarm::gb::{Charset, DeviceId, manscdp};
    let dev: DeviceId = "34020000001320000001".parse().unwrap();
    let mut out = Vec::new();
    let page = |out: &mut Vec<u8>, charset| {
        let items = (1..21u32).map(|i| (i, dev.channel(i, 20), true));
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
fn a_camera_answers_records_controls_and_2022_queries_without_allocating_once_warm() {
    use gbswarm::camera::{Camera, CameraConfig, Dest, Env, Outbox};
    use gbswarm::clock::{Span, Time};
    use gbswarm::gb::control::{self, Control};
    use gbswarm::gb::query2022::{self, Query2022};
    use gbswarm::gb::records::{RecordRange, write_record_query};
    use gbswarm::gb::{Charset, DeviceId};
    let dev: DeviceId = "34020000001320000001".parse().unwrap();
    let (ch1, ch2) = (dev.channel(1, 4), dev.channel(2, 4));
    let mut bodies = Vec::new();
    let mut b = Vec::new();
    let range = RecordRange {
        start: 1_795_392_000,
        end: 1_795_399_200,
    };
    write_record_query(&mut b, Charset::Gb2312, 1, &ch2, range);
    bodies.push(b.clone());
    control::write_control(&mut b, Charset::Gb2312, 2, &ch1, Control::Record(true));
    bodies.push(b.clone());
    query2022::write_query(&mut b, Charset::Gb2312, 3, &ch1, Query2022::PtzPosition);
    bodies.push(b.clone());
    bodies.push(format!("<Query><CmdType>ConfigDownload</CmdType><SN>4</SN><DeviceID>{dev}</DeviceID><ConfigType>BasicParam/VideoParamAttribute/VideoRecordPlan</ConfigType></Query>").into_bytes());
    let requests: Vec<Vec<u8>> = bodies
        .iter()
        .enumerate()
        .map(|(n, body)| {
            let mut m = format!(
                "MESSAGE sip:{dev}@10.0.0.0:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.255.0.1:5060;branch=z9hG4bKa{n}\r\nFrom: <sip:34020000002000000001@3402000000>;tag=a{n}\r\nTo: <sip:{dev}@3402000000>\r\nCall-ID: a{n}\r\nCSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            m.extend_from_slice(body);
            m
        })
        .collect();
    let mut cfg = CameraConfig::new("34020000002000000001".parse().unwrap());
    cfg.channels = 4;
    cfg.catalog_page = 4;
    cfg.record_segment_s = 900;
    let mut cam = Camera::new(dev, 0, &cfg);
    let mut out = Outbox::default();
    let local = "10.0.0.7:5060".parse().unwrap();
    let (mut cur, mut ok) = (Vec::with_capacity(8192), Vec::with_capacity(1024));
    let mut now = Time::ZERO;
    let mut answers = 0u32;
    let mut cycle = |now: &mut Time, answers: &mut u32| {
        for req in &requests {
            out.clear();
            cam.handle_message(
                *now,
                req,
                &mut Env {
                    cfg: &cfg,
                    local,
                    out: &mut out,
                },
            );
            while let Some(t) = out.sends.iter().find(|t| t.dest == Dest::Server) {
                cur.clear();
                cur.extend_from_slice(out.bytes(t));
                *answers += 1;
                let mut h = [Header::EMPTY; 40];
                let m = parse_datagram(&cur, &mut h, &Limits::default())
                    .unwrap()
                    .unwrap();
                ok.clear();
                gbswarm::sip::response_to(&mut ok, &m, 200, Some(b"srv"), None).finish(b"");
                *now += Span::from_millis(1);
                out.clear();
                cam.handle_message(
                    *now,
                    &ok,
                    &mut Env {
                        cfg: &cfg,
                        local,
                        out: &mut out,
                    },
                );
            }
        }
    };
    cycle(&mut now, &mut answers);
    let warm = answers;
    assert!(
        warm >= 6,
        "pages of records, the control's Response, PTZ and config: {warm}"
    );
    let before = allocs();
    for _ in 0..10 {
        cycle(&mut now, &mut answers);
    }
    assert_eq!(allocs() - before, 0);
    assert_eq!(answers, 11 * warm);
}
