//! GB28181 SDP offers and answers: offers in the shape wvp-GB28181-pro sends (see
//! tests/fixtures/sdp/README.md) read as expected; no input panics the offer or `Subject`
//! readers; and an answer written to any valid offer reads back with the offer's session,
//! times, payload type and SSRC, the camera's address, `a=sendonly` and the inverse TCP setup.

mod mutate;

use gbswarm::gb::sdp::{Direction, TimeRange};
use gbswarm::gb::{
    AnswerSsrc, DeviceId, Local, MediaTransport, Offer, SessionKind, Subject, write_answer,
};
use gbswarm::sip::sdp::Lines;
use mutate::Mutation;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const PLAY_UDP: &[u8] = include_bytes!("fixtures/sdp/play-udp-wvp.sdp");
const PLAY_TCP_PASSIVE: &[u8] = include_bytes!("fixtures/sdp/play-tcp-passive-wvp.sdp");
const PLAY_TCP_ACTIVE: &[u8] = include_bytes!("fixtures/sdp/play-tcp-active-senior-wvp.sdp");
const PLAYBACK: &[u8] = include_bytes!("fixtures/sdp/playback-udp-wvp.sdp");
const DOWNLOAD: &[u8] = include_bytes!("fixtures/sdp/download-tcp-passive-wvp.sdp");
const OFFERS: [&[u8]; 5] = [
    PLAY_UDP,
    PLAY_TCP_PASSIVE,
    PLAY_TCP_ACTIVE,
    PLAYBACK,
    DOWNLOAD,
];

const PLATFORM: &str = "192.168.1.3";

fn device() -> DeviceId {
    DeviceId::parse(b"34020000001320000001").unwrap()
}

#[test]
fn wvp_offers_read_as_sent() {
    let cases = [
        (
            PLAY_UDP,
            SessionKind::Play,
            30000,
            MediaTransport::Udp,
            0x0BEB_D0D0,
        ),
        (
            PLAY_TCP_PASSIVE,
            SessionKind::Play,
            30002,
            MediaTransport::TcpPassive,
            200_003_793,
        ),
        (
            PLAY_TCP_ACTIVE,
            SessionKind::Play,
            30004,
            MediaTransport::TcpActive,
            200_003_794,
        ),
        (
            PLAYBACK,
            SessionKind::Playback,
            30006,
            MediaTransport::Udp,
            1_200_000_001,
        ),
        (
            DOWNLOAD,
            SessionKind::Download,
            30008,
            MediaTransport::TcpPassive,
            1_200_000_002,
        ),
    ];
    for (body, kind, port, transport, ssrc) in cases {
        let o = Offer::parse(body).unwrap();
        let ip: IpAddr = PLATFORM.parse().unwrap();
        assert_eq!(o.kind, kind);
        assert_eq!(o.media, SocketAddr::new(ip, port));
        assert_eq!(o.transport, transport);
        assert_eq!(o.ps_payload, 96);
        assert_eq!(o.direction, Some(Direction::RecvOnly));
        assert_eq!(o.ssrc.map(|s| s.value), Some(ssrc));
        let tcp = transport != MediaTransport::Udp;
        assert_eq!(o.connection, tcp.then_some(&b"new"[..]));
        let history = matches!(kind, SessionKind::Playback | SessionKind::Download);
        assert_eq!(o.ssrc.unwrap().is_history(), history);
        assert_eq!(o.uri, history.then_some(&b"34020000001320000001:0"[..]));
        let time = if history {
            TimeRange {
                start: 1_700_000_000,
                stop: 1_700_003_600,
            }
        } else {
            TimeRange::default()
        };
        assert_eq!(o.time, time);
        assert_eq!(
            o.download_speed,
            (kind == SessionKind::Download).then_some(4)
        );
    }
}

#[test]
fn answers_to_wvp_offers_read_back() {
    let dev = device();
    let mut out = Vec::with_capacity(512);
    for body in OFFERS {
        let offer = Offer::parse(body).unwrap();
        let local = Local {
            device: &dev,
            media: "10.0.0.9:15000".parse().unwrap(),
            ssrc: AnswerSsrc::Offered,
            format: Some(b"v/2/5/25/1/1024a///"),
        };
        out.clear();
        write_answer(&mut out, &offer, &local);
        check_answer(&offer, &local, &out);
    }
}

/// The answer reads back as the offer asked, and `y=`/`f=` come after every `m=`/`a=` line.
fn check_answer(offer: &Offer<'_>, local: &Local<'_>, answer: &[u8]) {
    let back = Offer::parse(answer).unwrap();
    assert_eq!(back.session, offer.session);
    assert_eq!(back.time, offer.time);
    assert_eq!(back.media, local.media);
    assert_eq!(back.ps_payload, offer.ps_payload);
    assert_eq!(back.direction, Some(Direction::SendOnly));
    let inverse = match offer.transport {
        MediaTransport::Udp => MediaTransport::Udp,
        MediaTransport::TcpActive => MediaTransport::TcpPassive,
        MediaTransport::TcpPassive => MediaTransport::TcpActive,
    };
    assert_eq!(back.transport, inverse);
    let tcp = offer.transport != MediaTransport::Udp;
    assert_eq!(back.connection, tcp.then_some(&b"new"[..]));
    let ssrc = match local.ssrc {
        AnswerSsrc::Offered => offer.ssrc.map(|s| s.value),
        AnswerSsrc::Own(n) => Some(n),
    };
    assert_eq!(back.ssrc.map(|s| s.value), ssrc);
    assert_eq!(back.format, local.format);
    let lines: Vec<u8> = Lines::new(answer, 64).map(|l| l.kind).collect();
    let last_ma = lines.iter().rposition(|&k| k == b'm' || k == b'a');
    let first_yf = lines.iter().position(|&k| k == b'y' || k == b'f');
    if let (Some(ma), Some(yf)) = (last_ma, first_yf) {
        assert!(ma < yf, "y=/f= before an m=/a= line: {lines:?}");
    }
    assert_eq!(lines.first(), Some(&b'v'));
}

#[derive(Clone, Debug)]
struct OfferSpec {
    session: &'static str,
    ip: Ipv4Addr,
    port: u16,
    transport: u8,
    pts: Vec<u8>,
    ps: u8,
    ssrc: Option<u32>,
    time: (u64, u64),
    audio_first: bool,
    lf_only: bool,
}

fn offer_spec() -> impl Strategy<Value = OfferSpec> {
    (
        prop_oneof![
            Just("Play"),
            Just("Playback"),
            Just("Download"),
            Just("Talk"),
            Just("x")
        ],
        any::<u32>(),
        1..=u16::MAX,
        0..4u8,
        proptest::collection::vec(0..=127u8, 0..6),
        0..=127u8,
        proptest::option::of(any::<u32>()),
        (any::<u32>(), any::<u32>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(session, ip, port, transport, pts, ps, ssrc, time, audio_first, lf_only)| OfferSpec {
                session,
                ip: Ipv4Addr::from(ip),
                port,
                transport,
                pts,
                ps,
                ssrc,
                time: (u64::from(time.0), u64::from(time.1)),
                audio_first,
                lf_only,
            },
        )
}

/// An offer text for `s`: PS at `s.ps` among other payload types, maybe an audio section
/// first (with its own `c=` and setup), the TCP setup chosen by `s.transport`.
fn offer_text(s: &OfferSpec) -> String {
    let mut t = format!(
        "v=0\r\no=34020000002000000001 0 0 IN IP4 {ip}\r\ns={}\r\nc=IN IP4 {ip}\r\nt={} {}\r\n",
        s.session,
        s.time.0,
        s.time.1,
        ip = s.ip
    );
    if s.audio_first {
        t.push_str("m=audio 9 RTP/AVP 8\r\nc=IN IP4 1.1.1.1\r\na=setup:active\r\n");
    }
    let proto = if s.transport == 0 {
        "RTP/AVP"
    } else {
        "TCP/RTP/AVP"
    };
    let mut pts = s.pts.clone();
    pts.insert(pts.len() / 2, s.ps);
    let list: Vec<String> = pts.iter().map(u8::to_string).collect();
    t.push_str(&format!(
        "m=video {} {proto} {}\r\na=recvonly\r\n",
        s.port,
        list.join(" ")
    ));
    for pt in &s.pts {
        if *pt != s.ps {
            t.push_str(&format!("a=rtpmap:{pt} H264/90000\r\n"));
        }
    }
    t.push_str(&format!("a=rtpmap:{} PS/90000\r\n", s.ps));
    t.push_str(match s.transport {
        1 => "a=setup:passive\r\na=connection:new\r\n",
        2 => "a=setup:active\r\na=connection:new\r\n",
        3 => "a=setup:actpass\r\n",
        _ => "",
    });
    if let Some(y) = s.ssrc {
        t.push_str(&format!("y={y:010}\r\n"));
    }
    if s.lf_only {
        t = t.replace("\r\n", "\n");
    }
    t
}

fn mutation() -> impl Strategy<Value = Mutation> {
    mutate::mutation(prop_oneof![
        Just(b'\r'),
        Just(b'\n'),
        Just(b'='),
        Just(b':'),
        Just(b' '),
        Just(b'/'),
        Just(b','),
        Just(b'0'),
        Just(b'9'),
        Just(0xff),
        any::<u8>()
    ])
}

fn read_everything(raw: &[u8]) {
    if let Ok(o) = Offer::parse(raw) {
        let dev = device();
        let local = Local {
            device: &dev,
            media: "10.0.0.9:15000".parse().unwrap(),
            ssrc: AnswerSsrc::Offered,
            format: None,
        };
        let mut out = Vec::new();
        write_answer(&mut out, &o, &local);
        // Whatever was accepted, the answer to it is itself readable.
        assert!(
            Offer::parse(&out).is_ok(),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
    let _ = Subject::parse(raw);
    assert!(Lines::new(raw, 16).count() <= 16);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        read_everything(&raw);
    }

    #[test]
    fn mutated_offers_never_panic(
        which in 0..OFFERS.len(),
        muts in proptest::collection::vec(mutation(), 1..8),
    ) {
        let raw = mutate::apply(OFFERS[which].to_vec(), &muts);
        read_everything(&raw);
    }

    #[test]
    fn generated_offers_read_and_their_answers_read_back(
        spec in offer_spec(),
        own in proptest::option::of(any::<u32>()),
        cam_ip: u32,
        cam_port in 1..=u16::MAX,
    ) {
        let text = offer_text(&spec);
        let offer = Offer::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(offer.session, spec.session.as_bytes());
        prop_assert_eq!(offer.media, SocketAddr::new(IpAddr::V4(spec.ip), spec.port));
        prop_assert_eq!(offer.ps_payload, spec.ps);
        prop_assert_eq!(offer.ssrc.map(|s| s.value), spec.ssrc);
        prop_assert_eq!((offer.time.start, offer.time.stop), spec.time);
        let transport = match spec.transport {
            0 => MediaTransport::Udp,
            1 | 3 => MediaTransport::TcpPassive,
            _ => MediaTransport::TcpActive,
        };
        prop_assert_eq!(offer.transport, transport);
        let dev = device();
        let local = Local {
            device: &dev,
            media: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(cam_ip)), cam_port),
            ssrc: own.map_or(AnswerSsrc::Offered, AnswerSsrc::Own),
            format: Some(b"v/2/5/25/1/1024a///"),
        };
        let mut out = Vec::new();
        write_answer(&mut out, &offer, &local);
        check_answer(&offer, &local, &out);
    }
}
