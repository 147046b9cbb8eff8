//! Fuzz what `serve --play` reads from the network: the bytes of a TCP media stream cut into
//! reads anywhere (RFC 4571 deframing), each frame and the whole input as an RTP packet for a
//! play driver with a stream up, and the input as a SIP message (a response or a device's
//! request) for that driver. Nothing may panic, the deframer may never hold more than one
//! frame, and the driver's stream counts may never go backwards.
#![no_main]

use gbswarm::clock::{Span, Time};
use gbswarm::gb::{DeviceId, MediaTransport};
use gbswarm::media::receive::{Deframer, MAX_FRAME, RtpView};
use gbswarm::net::Outbox;
use gbswarm::server::play::{Play, PlayConfig, wire::Me};
use gbswarm::sip::{Batch, Header, Limits, Transport, parse_datagram};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (Ok(id), Ok(dev)) = (
        DeviceId::parse(b"34020000002000000001"),
        DeviceId::parse(b"34020000001320000001"),
    ) else {
        return;
    };
    let me = Me {
        id,
        domain: "3402000000".into(),
        signal: ([10, 0, 0, 1], 5060).into(),
        media: ([10, 0, 0, 1], 30000).into(),
        transport: MediaTransport::Udp,
        salt: 1,
    };
    let cfg = PlayConfig {
        rate: 10,
        hold: Span::from_secs(30),
        transport: MediaTransport::Udp,
        max_streams: 2,
        media_port: 0,
    };
    let mut play = Play::new(&cfg, me, 0, 1, Time::ZERO);
    play.device_registered(dev);
    let cam = ([10, 0, 0, 9], 5060).into();
    let mut out = Outbox::default();
    play.handle_timeout(Time::ZERO, |_| Some((cam, Transport::Udp)), &mut out);

    let mut d = Deframer::new();
    let cut = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let now = Time::from_millis(10);
    for chunk in data.chunks(cut) {
        d.feed(chunk, |f| {
            let _ = RtpView::parse(f);
            play.handle_rtp(now, f);
        });
        assert!(d.pending() <= 2 + MAX_FRAME);
    }
    play.handle_rtp(now, data);
    let mut h = [Header::EMPTY; 32];
    if let Ok(Some(msg)) = parse_datagram(data, &mut h, &Limits::default()) {
        let mut batch = Batch::new();
        if msg.is_request() {
            play.handle_request(now, &msg, cam, &mut batch);
        } else {
            play.handle_response(now, &msg, &mut batch);
        }
    }
    out.clear();
    play.handle_timeout(Time::from_millis(70_000), |_| Some((cam, Transport::Udp)), &mut out);
    let st = play.stats_now();
    assert!(st.streams_ended <= st.streams_started);
});
