//! The camera's SDP answer to a GB/T 28181 offer, written into a caller's reused buffer.
//!
//! The answer sends PS over RTP (`a=sendonly`, `a=rtpmap:<pt> PS/90000`, the offer's PS payload
//! type) from the camera's address, repeats the offer's `s=` and `t=`, takes the other side of
//! a TCP `a=setup` with `a=connection:new`, and puts `y=` and `f=` after every `m=`/`a=` line,
//! because wvp-GB28181-pro cuts the SDP at `y=` before handing it to its SDP parser. Once the
//! buffer has grown, writing allocates nothing; the body's length is the buffer's. This file
//! only writes: whether to answer at all (486, 488) is the camera's decision.

use super::id::DeviceId;
use super::sdp::{MediaTransport, Offer};
use crate::sip::write::{push_bare_ip, push_u64};
use std::net::{IpAddr, SocketAddr};

/// Which SSRC the answer's `y=` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerSsrc {
    /// The offer's `y=` as written (no `y=` line if the offer had none).
    Offered,
    /// The camera's own, written as 10 digits; the platform must adopt it.
    Own(u32),
}

/// What the camera says about itself in an answer.
#[derive(Clone, Copy, Debug)]
pub struct Local<'a> {
    /// The camera's (or channel's) ID, for `o=`.
    pub device: &'a DeviceId,
    /// The camera's media address: its IP goes in `o=` and `c=`, its port in `m=` (the port it
    /// sends from over UDP, connects from when the platform is passive, or listens on when the
    /// platform is active; see [`MediaTransport`]).
    pub media: SocketAddr,
    /// The `y=` to write.
    pub ssrc: AnswerSsrc,
    /// The `f=` to write (for example `v/2/5/25/1/1024a///`), if any.
    pub format: Option<&'a [u8]>,
}

/// Appends the answer to `offer` to `out` (which is not cleared).
pub fn write_answer(out: &mut Vec<u8>, offer: &Offer<'_>, local: &Local<'_>) {
    let ip = local.media.ip();
    out.extend_from_slice(b"v=0\r\no=");
    out.extend_from_slice(local.device.as_bytes());
    out.extend_from_slice(b" 0 0 ");
    push_net_ip(out, ip);
    out.extend_from_slice(b"\r\ns=");
    out.extend_from_slice(offer.session);
    out.extend_from_slice(b"\r\nc=");
    push_net_ip(out, ip);
    out.extend_from_slice(b"\r\nt=");
    push_u64(out, offer.time.start);
    out.push(b' ');
    push_u64(out, offer.time.stop);
    out.extend_from_slice(b"\r\nm=video ");
    push_u64(out, u64::from(local.media.port()));
    out.extend_from_slice(match offer.transport {
        MediaTransport::Udp => b" RTP/AVP ".as_slice(),
        _ => b" TCP/RTP/AVP ",
    });
    push_u64(out, u64::from(offer.ps_payload));
    out.extend_from_slice(b"\r\na=sendonly\r\na=rtpmap:");
    push_u64(out, u64::from(offer.ps_payload));
    out.extend_from_slice(b" PS/90000\r\n");
    match offer.transport {
        MediaTransport::Udp => {}
        MediaTransport::TcpActive => out.extend_from_slice(b"a=setup:passive\r\n"),
        MediaTransport::TcpPassive => out.extend_from_slice(b"a=setup:active\r\n"),
    }
    if offer.transport != MediaTransport::Udp {
        out.extend_from_slice(b"a=connection:new\r\n");
    }
    match local.ssrc {
        AnswerSsrc::Offered => {
            if let Some(s) = offer.ssrc {
                out.extend_from_slice(b"y=");
                out.extend_from_slice(s.text);
                out.extend_from_slice(b"\r\n");
            }
        }
        AnswerSsrc::Own(n) => {
            out.extend_from_slice(b"y=");
            push_ssrc(out, n);
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Some(f) = local.format {
        out.extend_from_slice(b"f=");
        out.extend_from_slice(f);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends an SSRC as GB28181 writes it: 10 decimal digits, zero-padded.
pub fn push_ssrc(out: &mut Vec<u8>, n: u32) {
    let mut digits = [b'0'; 10];
    let mut v = n;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits);
}

/// Appends `IN IP4 <addr>` or `IN IP6 <addr>` (the answer's and the offer's `o=` and `c=`).
pub(super) fn push_net_ip(out: &mut Vec<u8>, ip: IpAddr) {
    out.extend_from_slice(match ip {
        IpAddr::V4(_) => b"IN IP4 ",
        IpAddr::V6(_) => b"IN IP6 ",
    });
    push_bare_ip(out, &ip);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::sdp::{Direction, SessionKind};

    const UDP_OFFER: &[u8] = b"v=0\r\no=34020000002000000001 0 0 IN IP4 192.168.1.3\r\ns=Play\r\n\
c=IN IP4 192.168.1.3\r\nt=0 0\r\nm=video 30000 RTP/AVP 96 97 98 99\r\na=recvonly\r\n\
a=rtpmap:96 PS/90000\r\na=rtpmap:98 H264/90000\r\ny=0200003792\r\n";

    fn offer(transport: &str, setup: &str) -> String {
        let s = std::str::from_utf8(UDP_OFFER).unwrap();
        s.replace("RTP/AVP 96", &format!("{transport} 96"))
            .replace("y=", &format!("{setup}y="))
    }

    fn answer(offer: &Offer<'_>, ssrc: AnswerSsrc, format: Option<&[u8]>) -> Vec<u8> {
        let device = DeviceId::parse(b"34020000001320000001").unwrap();
        let local = Local {
            device: &device,
            media: "10.1.2.3:15060".parse().unwrap(),
            ssrc,
            format,
        };
        let mut out = Vec::new();
        write_answer(&mut out, offer, &local);
        out
    }

    #[test]
    fn answers_a_udp_offer_with_the_offered_ssrc() {
        let o = Offer::parse(UDP_OFFER).unwrap();
        let a = answer(&o, AnswerSsrc::Offered, Some(b"v/2/5/25/1/1024a///"));
        assert_eq!(
            std::str::from_utf8(&a).unwrap(),
            "v=0\r\no=34020000001320000001 0 0 IN IP4 10.1.2.3\r\ns=Play\r\n\
c=IN IP4 10.1.2.3\r\nt=0 0\r\nm=video 15060 RTP/AVP 96\r\na=sendonly\r\n\
a=rtpmap:96 PS/90000\r\ny=0200003792\r\nf=v/2/5/25/1/1024a///\r\n"
        );
    }

    #[test]
    fn a_tcp_answer_takes_the_other_setup_and_reads_back() {
        for (setup, answered) in [
            ("a=setup:passive\r\n", MediaTransport::TcpActive),
            ("a=setup:active\r\n", MediaTransport::TcpPassive),
            ("a=setup:actpass\r\n", MediaTransport::TcpActive),
            ("", MediaTransport::TcpPassive),
        ] {
            let body = offer("TCP/RTP/AVP", setup);
            let o = Offer::parse(body.as_bytes()).unwrap();
            let a = answer(&o, AnswerSsrc::Own(42), None);
            let back = Offer::parse(&a).unwrap();
            assert_eq!(back.transport, answered, "{setup}");
            assert_eq!(back.connection, Some(&b"new"[..]));
            assert_eq!(back.direction, Some(Direction::SendOnly));
            assert_eq!(back.media, "10.1.2.3:15060".parse().unwrap());
            assert_eq!(
                back.ssrc.map(|s| (s.text, s.value)),
                Some((&b"0000000042"[..], 42))
            );
            assert_eq!(back.format, None);
            let text = std::str::from_utf8(&a).unwrap();
            let y = text.find("\r\ny=").unwrap();
            assert!(text.rfind("\r\nm=").unwrap() < y && text.rfind("\r\na=").unwrap() < y);
        }
    }

    #[test]
    fn repeats_the_session_name_and_times_and_may_write_no_ssrc() {
        let body = offer("RTP/AVP", "")
            .replace("s=Play", "s=Playback")
            .replace("t=0 0", "t=1700000000 1700003600")
            .replace("y=0200003792\r\n", "");
        let o = Offer::parse(body.as_bytes()).unwrap();
        let a = answer(&o, AnswerSsrc::Offered, None);
        let back = Offer::parse(&a).unwrap();
        assert_eq!(
            (back.kind, back.time, back.ssrc),
            (SessionKind::Playback, o.time, None)
        );
        assert!(!a.windows(2).any(|w| w == b"y="));
    }

    #[test]
    fn writes_ssrcs_as_ten_digits_and_ipv6_plainly() {
        let mut out = Vec::new();
        push_ssrc(&mut out, u32::MAX);
        push_ssrc(&mut out, 0x0BEB_D0D0);
        push_ssrc(&mut out, 0);
        assert_eq!(out, b"429496729502000037920000000000");
        let o = Offer::parse(UDP_OFFER).unwrap();
        let device = DeviceId::parse(b"34020000001320000001").unwrap();
        let local = Local {
            device: &device,
            media: "[2001:db8::7]:9000".parse().unwrap(),
            ssrc: AnswerSsrc::Offered,
            format: None,
        };
        out.clear();
        write_answer(&mut out, &o, &local);
        let back = Offer::parse(&out).unwrap();
        assert_eq!(back.media, "[2001:db8::7]:9000".parse().unwrap());
    }
}
