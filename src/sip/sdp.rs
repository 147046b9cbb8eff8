//! SDP (RFC 4566) as lines: cut a message body into `<type>=<value>` lines and read the generic
//! fields inside them (`c=`, `m=`, `a=name:value`, `a=rtpmap:`).
//!
//! An offer/answer is carried in the body of a SIP message, so its reader lives beside the SIP
//! reader and works the same way: every value borrows from the body, nothing is copied, and the
//! number of lines read is capped so a hostile body costs bounded work. Lines may end in CRLF or
//! LF (or not at all, for the last); trailing blanks are dropped; lines that are not `x=...` are
//! skipped. This file knows no GB/T 28181 meaning (`y=`, `f=`, `s=Play`: see `gb::sdp`), never
//! allocates and never panics on any input.

use super::bytes::{trim, trim_end};
use std::net::IpAddr;

/// One `<type>=<value>` line: `kind` is the type letter, `value` has no trailing blanks or EOL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The type letter (`v`, `o`, `c`, `m`, `a`, ...).
    pub kind: u8,
    /// Everything after the `=`, trailing spaces, tabs and the line end removed.
    pub value: &'a [u8],
}

/// The lines of an SDP body, at most `max` of them (see [`Lines::exhausted`]).
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Lines<'a> {
    /// Iterates over the `x=value` lines of `body`, reading at most `max` physical lines.
    pub fn new(body: &'a [u8], max: usize) -> Self {
        Lines {
            rest: body,
            left: max,
        }
    }

    /// True when the whole body was read (false if the line cap stopped the iteration early).
    pub fn exhausted(&self) -> bool {
        trim(self.rest).is_empty()
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        while self.left > 0 && !self.rest.is_empty() {
            self.left -= 1;
            let (line, next) = match memchr::memchr(b'\n', self.rest) {
                Some(i) => (&self.rest[..i], i + 1),
                None => (self.rest, self.rest.len()),
            };
            self.rest = &self.rest[next..];
            if let [kind, b'=', value @ ..] = line
                && kind.is_ascii_alphabetic()
            {
                return Some(Line {
                    kind: *kind,
                    value: trim_end(value),
                });
            }
        }
        None
    }
}

/// Splits on runs of spaces, as SDP separates its sub-fields.
pub fn fields(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b' ').filter(|f| !f.is_empty())
}

/// The address of a `c=IN IP4 <addr>` (or `IP6`) value; a multicast `/ttl` suffix is ignored.
/// `None` if the network is not `IN`, the type is neither `IP4` nor `IP6` or does not match the
/// address, or the address is not a literal IP.
pub fn connection(value: &[u8]) -> Option<IpAddr> {
    let mut f = fields(value);
    let (net, ty, addr) = (f.next()?, f.next()?, f.next()?);
    if !net.eq_ignore_ascii_case(b"IN") {
        return None;
    }
    let addr = addr.split(|&b| b == b'/').next()?;
    let ip: IpAddr = std::str::from_utf8(addr).ok()?.parse().ok()?;
    match (ip, ty) {
        (IpAddr::V4(_), t) if t.eq_ignore_ascii_case(b"IP4") => Some(ip),
        (IpAddr::V6(_), t) if t.eq_ignore_ascii_case(b"IP6") => Some(ip),
        _ => None,
    }
}

/// An `m=<media> <port>[/<count>] <proto> <fmt> ...` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Media<'a> {
    /// `video`, `audio`, `application`, ...
    pub media: &'a [u8],
    /// The port as written (digits only, not checked for range; see [`port`]).
    pub port: &'a [u8],
    /// `RTP/AVP`, `TCP/RTP/AVP`, ...
    pub proto: &'a [u8],
    /// The format list (payload types for RTP), space-separated.
    pub formats: &'a [u8],
}

impl<'a> Media<'a> {
    /// Reads an `m=` value; `None` if it has fewer than three fields.
    pub fn parse(value: &'a [u8]) -> Option<Media<'a>> {
        let mut rest = trim(value);
        let mut next = || {
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            let field = &rest[..end];
            rest = trim(&rest[end..]);
            field
        };
        let (media, port, proto) = (next(), next(), next());
        if proto.is_empty() {
            return None;
        }
        let port = port.split(|&b| b == b'/').next().unwrap_or(port);
        Some(Media {
            media,
            port,
            proto,
            formats: rest,
        })
    }

    /// The format tokens.
    pub fn formats(&self) -> impl Iterator<Item = &'a [u8]> {
        fields(self.formats)
    }

    /// True if `pt` is in the format list (as a decimal token).
    pub fn offers(&self, pt: u8) -> bool {
        self.formats().any(|f| decimal(f) == Some(u64::from(pt)))
    }
}

/// A port of 1 to 65535 written in decimal; `None` otherwise.
pub fn port(s: &[u8]) -> Option<u16> {
    decimal(s)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&p| p != 0)
}

/// An unsigned decimal of 1 to 19 digits (no sign, no blanks).
pub fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Splits an `a=` value into its name and, after the first `:`, its value.
pub fn attribute(value: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b':', value) {
        Some(i) => (&value[..i], Some(trim(&value[i + 1..]))),
        None => (value, None),
    }
}

/// An `a=rtpmap:<pt> <encoding>/<clock>[/<params>]` value (the part after `rtpmap:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// The payload type.
    pub pt: u8,
    /// The encoding name as written (`PS`, `H264`, ...).
    pub encoding: &'a [u8],
    /// The clock rate in Hz.
    pub clock: u32,
}

impl<'a> RtpMap<'a> {
    /// Reads `96 PS/90000`; `None` if a part is missing or out of range (pt above 127).
    pub fn parse(v: &'a [u8]) -> Option<RtpMap<'a>> {
        let mut f = fields(v);
        let pt = decimal(f.next()?).and_then(|n| u8::try_from(n).ok())?;
        if pt > 127 {
            return None;
        }
        let mut enc = f.next()?.split(|&b| b == b'/');
        let encoding = enc.next()?;
        let clock = decimal(enc.next()?).and_then(|n| u32::try_from(n).ok())?;
        Some(RtpMap {
            pt,
            encoding,
            clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_take_crlf_lf_trailing_blanks_and_no_final_newline() {
        let body = b"v=0\r\ns=Play  \r\n\r\nnot a line\nc=IN IP4 1.2.3.4\t\r\nm=video 5 RTP/AVP 96";
        let got: Vec<_> = Lines::new(body, 64).map(|l| (l.kind, l.value)).collect();
        assert_eq!(
            got,
            vec![
                (b'v', &b"0"[..]),
                (b's', b"Play"),
                (b'c', b"IN IP4 1.2.3.4"),
                (b'm', b"video 5 RTP/AVP 96"),
            ]
        );
    }

    #[test]
    fn the_line_cap_stops_reading_and_says_so() {
        let body = b"a=1\na=2\na=3\n";
        let mut l = Lines::new(body, 2);
        assert_eq!(l.by_ref().count(), 2);
        assert!(!l.exhausted());
        let mut l = Lines::new(body, 3);
        assert_eq!(l.by_ref().count(), 3);
        assert!(l.exhausted());
    }

    #[test]
    fn connection_reads_ip4_ip6_and_rejects_the_rest() {
        assert_eq!(
            connection(b"IN IP4 192.168.1.10"),
            Some("192.168.1.10".parse().unwrap())
        );
        assert_eq!(
            connection(b"IN  IP4 224.2.1.1/127"),
            Some("224.2.1.1".parse().unwrap())
        );
        assert_eq!(connection(b"IN IP6 ::1"), Some("::1".parse().unwrap()));
        assert_eq!(connection(b"IN IP4 ::1"), None);
        assert_eq!(connection(b"IN IP4 media.example"), None);
        assert_eq!(connection(b"XX IP4 1.2.3.4"), None);
        assert_eq!(connection(b"IN IP4"), None);
    }

    #[test]
    fn media_reads_port_proto_and_formats() {
        let m = Media::parse(b"video 30000/2 TCP/RTP/AVP 96 97 98").unwrap();
        assert_eq!(
            (m.media, m.port, m.proto),
            (&b"video"[..], &b"30000"[..], &b"TCP/RTP/AVP"[..])
        );
        assert!(m.offers(96) && m.offers(98) && !m.offers(9));
        assert_eq!(Media::parse(b"video 1"), None);
        assert_eq!(port(b"65535"), Some(65535));
        assert_eq!(port(b"65536"), None);
        assert_eq!(port(b"0"), None);
        assert_eq!(port(b"-1"), None);
    }

    #[test]
    fn attributes_and_rtpmaps() {
        assert_eq!(attribute(b"recvonly"), (&b"recvonly"[..], None));
        assert_eq!(
            attribute(b"setup: passive"),
            (&b"setup"[..], Some(&b"passive"[..]))
        );
        assert_eq!(
            RtpMap::parse(b"96 PS/90000"),
            Some(RtpMap {
                pt: 96,
                encoding: b"PS",
                clock: 90000
            })
        );
        assert_eq!(RtpMap::parse(b"8 PCMA/8000/1").map(|r| r.clock), Some(8000));
        assert_eq!(RtpMap::parse(b"128 PS/90000"), None);
        assert_eq!(RtpMap::parse(b"96 PS"), None);
        assert_eq!(RtpMap::parse(b"96"), None);
    }
}
