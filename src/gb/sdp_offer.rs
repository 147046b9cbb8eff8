//! The platform's SDP offer for a live view, written into a caller's reused buffer in the
//! shape wvp-GB28181-pro sends: `o=<platform id> 0 0 IN IP4 <ip>`, `s=Play`, `c=`, `t=0 0`,
//! `m=video <port> RTP/AVP 96 97 98 99` (`TCP/RTP/AVP` for TCP), `a=recvonly`, the four
//! `a=rtpmap` lines (96 PS, 98 H264, 97 MPEG4, 99 H265), for TCP `a=setup:passive|active` and
//! `a=connection:new`, then `y=<10-digit SSRC>` last (wvp cuts SDP at `y=`; cameras expect it
//! there).
//!
//! Once the buffer has grown, writing allocates nothing. This file only writes; reading an
//! offer or an answer is [`super::sdp`]'s job, and choosing the port or the SSRC is the
//! caller's.

use super::id::DeviceId;
use super::sdp::MediaTransport;
use super::sdp_answer::push_net_ip;
use crate::sip::write::push_u64;
use std::net::SocketAddr;

/// What the platform offers.
#[derive(Clone, Copy, Debug)]
pub struct OfferSpec<'a> {
    /// The platform's ID, for `o=`.
    pub platform: &'a DeviceId,
    /// Where the platform receives: its IP goes in `o=` and `c=`, its port in `m=`.
    pub media: SocketAddr,
    /// UDP, or TCP and which side connects (named from the platform's side, as
    /// [`MediaTransport`] is: `TcpPassive` writes `a=setup:passive`, the platform listens).
    pub transport: MediaTransport,
    /// The SSRC for `y=`, written as 10 digits.
    pub ssrc: u32,
}

/// Appends the offer to `out` (which is not cleared).
pub fn write_offer(out: &mut Vec<u8>, spec: &OfferSpec<'_>) {
    let ip = spec.media.ip();
    out.extend_from_slice(b"v=0\r\no=");
    out.extend_from_slice(spec.platform.as_bytes());
    out.extend_from_slice(b" 0 0 ");
    push_net_ip(out, ip);
    out.extend_from_slice(b"\r\ns=Play\r\nc=");
    push_net_ip(out, ip);
    out.extend_from_slice(b"\r\nt=0 0\r\nm=video ");
    push_u64(out, u64::from(spec.media.port()));
    out.extend_from_slice(match spec.transport {
        MediaTransport::Udp => b" RTP/AVP 96 97 98 99\r\n".as_slice(),
        _ => b" TCP/RTP/AVP 96 97 98 99\r\n",
    });
    out.extend_from_slice(
        b"a=recvonly\r\na=rtpmap:96 PS/90000\r\na=rtpmap:98 H264/90000\r\n\
a=rtpmap:97 MPEG4/90000\r\na=rtpmap:99 H265/90000\r\n",
    );
    match spec.transport {
        MediaTransport::Udp => {}
        MediaTransport::TcpPassive => out.extend_from_slice(b"a=setup:passive\r\n"),
        MediaTransport::TcpActive => out.extend_from_slice(b"a=setup:active\r\n"),
    }
    if spec.transport != MediaTransport::Udp {
        out.extend_from_slice(b"a=connection:new\r\n");
    }
    out.extend_from_slice(b"y=");
    super::sdp_answer::push_ssrc(out, spec.ssrc);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::sdp::{Direction, Offer, SessionKind};

    fn write(transport: MediaTransport, media: &str, ssrc: u32) -> Vec<u8> {
        let platform = DeviceId::parse(b"34020000002000000001").unwrap();
        let mut out = Vec::new();
        write_offer(
            &mut out,
            &OfferSpec {
                platform: &platform,
                media: media.parse().unwrap(),
                transport,
                ssrc,
            },
        );
        out
    }

    #[test]
    fn a_udp_offer_is_wvps_byte_for_byte() {
        let got = write(MediaTransport::Udp, "192.168.1.3:30000", 200_003_792);
        let fixture = include_str!("../../tests/fixtures/sdp/play-udp-wvp.sdp");
        assert_eq!(std::str::from_utf8(&got).unwrap(), fixture);
    }

    #[test]
    fn a_tcp_passive_offer_is_wvps_byte_for_byte() {
        let got = write(MediaTransport::TcpPassive, "192.168.1.3:30002", 200_003_793);
        let fixture = include_str!("../../tests/fixtures/sdp/play-tcp-passive-wvp.sdp");
        assert_eq!(std::str::from_utf8(&got).unwrap(), fixture);
    }

    #[test]
    fn every_offer_reads_back_as_what_was_asked() {
        for (t, addr) in [
            (MediaTransport::Udp, "10.0.0.1:1"),
            (MediaTransport::TcpPassive, "127.0.0.1:65535"),
            (MediaTransport::TcpActive, "[2001:db8::1]:9000"),
        ] {
            let body = write(t, addr, 7);
            let o = Offer::parse(&body).unwrap();
            assert_eq!(o.transport, t);
            assert_eq!(o.media, addr.parse().unwrap());
            assert_eq!(o.kind, SessionKind::Play);
            assert_eq!(o.direction, Some(Direction::RecvOnly));
            assert_eq!(o.ps_payload, 96);
            assert_eq!(
                o.ssrc.map(|s| (s.text, s.value)),
                Some((&b"0000000007"[..], 7))
            );
            assert_eq!(
                o.origin.map(|v| &v[..20]),
                Some(&b"34020000002000000001"[..])
            );
            let text = std::str::from_utf8(&body).unwrap();
            assert!(text.ends_with("y=0000000007\r\n"), "{text}");
        }
    }
}
