//! Building SIP messages into a caller-owned, reused `Vec<u8>`.
//!
//! Once the buffer has grown to the size of the largest message it holds, writing allocates
//! nothing: numbers are formatted by hand and every piece is appended in place. Pieces are
//! written as given, never checked (callers pass well-formed ones); a request is read only to
//! copy the headers a response must repeat.

use super::addr::{NameAddr, Via};
use super::message::{Message, Method};
use super::names::HeaderKind;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Appends the decimal form of `n`.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends `n` as exactly `width` hex digits (lowercase), as digest `nc` wants.
#[inline]
pub fn push_hex(out: &mut Vec<u8>, n: u64, width: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..width).rev() {
        let shift = i * 4;
        let d = if shift < 64 { (n >> shift) & 0xf } else { 0 };
        out.push(HEX[d as usize]);
    }
}

/// Appends an IP address (IPv6 in brackets, as in a URI or Via).
pub fn push_ip(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(_) => push_bare_ip(out, &addr.ip()),
        SocketAddr::V6(_) => {
            out.push(b'[');
            push_bare_ip(out, &addr.ip());
            out.push(b']');
        }
    }
}

/// Appends an IP address as written in SDP (IPv6 without brackets).
pub fn push_bare_ip(out: &mut Vec<u8>, ip: &IpAddr) {
    match ip {
        // Every request carries the local address twice: format IPv4 by hand.
        IpAddr::V4(a) => {
            for (i, octet) in a.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, u64::from(*octet));
            }
        }
        IpAddr::V6(a) => {
            // Formatting into a Vec through io::Write only grows the Vec; it cannot fail.
            let _ = write!(out, "{a}");
        }
    }
}

/// Appends `ip:port`.
pub fn push_addr(out: &mut Vec<u8>, addr: &SocketAddr) {
    push_ip(out, addr);
    out.push(b':');
    push_u64(out, u64::from(addr.port()));
}

/// Appends `sip:user@ip:port` — the URI of a GB28181 device or server at an address.
pub fn push_sip_uri(out: &mut Vec<u8>, user: &[u8], addr: &SocketAddr) {
    out.extend_from_slice(b"sip:");
    out.extend_from_slice(user);
    out.push(b'@');
    push_addr(out, addr);
}

/// Appends `<sip:user@ip:port>`, as in a Contact header.
pub fn push_name_addr(out: &mut Vec<u8>, user: &[u8], addr: &SocketAddr) {
    out.push(b'<');
    push_sip_uri(out, user, addr);
    out.push(b'>');
}

/// The standard reason phrase for the status codes gbswarm sends.
pub fn reason_phrase(code: u16) -> &'static [u8] {
    match code {
        100 => b"Trying",
        200 => b"OK",
        302 => b"Moved Temporarily",
        400 => b"Bad Request",
        401 => b"Unauthorized",
        403 => b"Forbidden",
        404 => b"Not Found",
        405 => b"Method Not Allowed",
        407 => b"Proxy Authentication Required",
        408 => b"Request Timeout",
        423 => b"Interval Too Brief",
        481 => b"Call/Transaction Does Not Exist",
        486 => b"Busy Here",
        487 => b"Request Terminated",
        488 => b"Not Acceptable Here",
        489 => b"Bad Event",
        500 => b"Server Internal Error",
        501 => b"Not Implemented",
        503 => b"Service Unavailable",
        _ => b"Unknown",
    }
}

/// Appends a message to a reused buffer: start line, headers, then `finish` with the body.
pub struct Writer<'v> {
    buf: &'v mut Vec<u8>,
}

impl<'v> Writer<'v> {
    /// Clears `buf` and writes a request line.
    pub fn request(buf: &'v mut Vec<u8>, method: Method<'_>, uri: &[u8]) -> Self {
        buf.clear();
        buf.extend_from_slice(method.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(uri);
        buf.extend_from_slice(b" SIP/2.0\r\n");
        Writer { buf }
    }

    /// Clears `buf` and writes a status line with the standard reason phrase.
    pub fn response(buf: &'v mut Vec<u8>, code: u16) -> Self {
        buf.clear();
        buf.extend_from_slice(b"SIP/2.0 ");
        push_u64(buf, u64::from(code));
        buf.push(b' ');
        buf.extend_from_slice(reason_phrase(code));
        buf.extend_from_slice(b"\r\n");
        Writer { buf }
    }

    /// Adds `Name: value`.
    #[inline]
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> &mut Self {
        self.header_with(name, |b| b.extend_from_slice(value))
    }

    /// Adds `Name: <decimal>`.
    #[inline]
    pub fn header_u64(&mut self, name: &[u8], value: u64) -> &mut Self {
        self.header_with(name, |b| push_u64(b, value))
    }

    /// Adds a header whose value the closure appends (so it can be assembled in place).
    #[inline]
    pub fn header_with(&mut self, name: &[u8], value: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.buf.extend_from_slice(name);
        self.buf.extend_from_slice(b": ");
        value(self.buf);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Bytes written so far (start line and headers), e.g. to remember where a header ends.
    pub fn written(&self) -> usize {
        self.buf.len()
    }

    /// Writes Content-Length, the blank line and the body; returns the message length.
    pub fn finish(self, body: &[u8]) -> usize {
        self.buf.extend_from_slice(b"Content-Length: ");
        push_u64(self.buf, body.len() as u64);
        self.buf.extend_from_slice(b"\r\n\r\n");
        self.buf.extend_from_slice(body);
        self.buf.len()
    }
}

/// Starts a response to `req` the way a UAS must (RFC 3261 §8.2.6): every Via copied in order
/// (the top one given `received`/`rport` from `source`), From, To (with `to_tag` added when
/// the request's To has none), Call-ID and CSeq. Add headers, then `finish`.
pub fn response_to<'v>(
    buf: &'v mut Vec<u8>,
    req: &Message<'_, '_>,
    code: u16,
    to_tag: Option<&[u8]>,
    source: Option<&SocketAddr>,
) -> Writer<'v> {
    let mut w = Writer::response(buf, code);
    let mut top_done = false;
    for h in req.headers {
        match h.kind {
            HeaderKind::Via => {
                w.header_with(b"Via", |b| {
                    if top_done {
                        b.extend_from_slice(h.value);
                    } else {
                        top_done = true;
                        write_top_via(b, h.value, source);
                    }
                });
            }
            HeaderKind::From => {
                w.header(b"From", h.value);
            }
            HeaderKind::To => {
                let has_tag = NameAddr::parse(h.value).is_some_and(|n| n.tag().is_some());
                w.header_with(b"To", |b| {
                    b.extend_from_slice(h.value);
                    if let (false, Some(tag)) = (has_tag, to_tag) {
                        b.extend_from_slice(b";tag=");
                        b.extend_from_slice(tag);
                    }
                });
            }
            HeaderKind::CallId => {
                w.header(b"Call-ID", h.value);
            }
            HeaderKind::CSeq => {
                w.header(b"CSeq", h.value);
            }
            _ => {}
        }
    }
    w
}

/// Copies a Via header line, rewriting its first value with `received` and a filled `rport`.
fn write_top_via(out: &mut Vec<u8>, line: &[u8], source: Option<&SocketAddr>) {
    let first_end = super::params::CommaValues::new(line)
        .next()
        .map(|v| v.as_ptr() as usize - line.as_ptr() as usize + v.len())
        .unwrap_or(line.len());
    let (first, rest) = line.split_at(first_end);
    match (source, Via::parse(first)) {
        (Some(src), Some(via)) => {
            let head_len = first.len() - via.params.len();
            out.extend_from_slice(&first[..head_len]);
            let mut rport = false;
            for p in via.params.split(|&b| b == b';') {
                let name = p.split(|&b| b == b'=').next().unwrap_or(b"");
                let name = super::bytes::trim(name);
                if name.is_empty() || name.eq_ignore_ascii_case(b"received") {
                    continue;
                }
                out.push(b';');
                if name.eq_ignore_ascii_case(b"rport") {
                    rport = true;
                    out.extend_from_slice(b"rport=");
                    push_u64(out, u64::from(src.port()));
                } else {
                    out.extend_from_slice(p);
                }
            }
            // RFC 3261 §18.2.1 and RFC 3581 §4: received whenever the address differs or rport
            // was asked for.
            let mut ip = [0u8; 48];
            let ip_len = {
                let mut cur = std::io::Cursor::new(&mut ip[..]);
                let _ = match src {
                    SocketAddr::V4(a) => write!(cur, "{}", a.ip()),
                    SocketAddr::V6(a) => write!(cur, "[{}]", a.ip()),
                };
                cur.position() as usize
            };
            if rport || via.sent_by.host != &ip[..ip_len] {
                out.extend_from_slice(b";received=");
                let unbracketed = &ip[..ip_len];
                let unbracketed = unbracketed
                    .strip_prefix(b"[")
                    .and_then(|s| s.strip_suffix(b"]"))
                    .unwrap_or(unbracketed);
                out.extend_from_slice(unbracketed);
            }
        }
        _ => out.extend_from_slice(first),
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Header, Limits, parse_datagram};

    #[test]
    fn addresses() {
        let mut b = Vec::new();
        push_addr(&mut b, &"10.0.255.7:5060".parse().unwrap());
        b.push(b' ');
        push_addr(&mut b, &"[::1]:5070".parse().unwrap());
        assert_eq!(b, b"10.0.255.7:5060 [::1]:5070");
    }

    #[test]
    fn numbers_and_hex() {
        let mut b = Vec::new();
        push_u64(&mut b, 0);
        b.push(b' ');
        push_u64(&mut b, 18446744073709551615);
        b.push(b' ');
        push_hex(&mut b, 1, 8);
        assert_eq!(b, b"0 18446744073709551615 00000001");
    }

    #[test]
    fn request_round_trip() {
        let mut buf = Vec::new();
        let mut w = Writer::request(
            &mut buf,
            Method::Message,
            b"sip:34020000002000000001@3402000000",
        );
        w.header(b"Via", b"SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bK1")
            .header(b"Call-ID", b"abc")
            .header_u64(b"CSeq", 7)
            .header(b"Content-Type", b"Application/MANSCDP+xml");
        let len = w.finish(b"<Notify/>");
        assert_eq!(len, buf.len());
        let mut h = [Header::EMPTY; 16];
        let m = parse_datagram(&buf, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(m.method(), Some(Method::Message));
        assert_eq!(m.call_id(), Some(&b"abc"[..]));
        assert_eq!(m.body, b"<Notify/>");
        assert_eq!(m.content_length(), Some(9));
    }

    #[test]
    fn response_copies_dialog_headers_and_fills_via() {
        let req = b"REGISTER sip:s@d SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.5:5060;rport;branch=z9hG4bKa, SIP/2.0/UDP proxy:5060;branch=z9hG4bKb\r\n\
v: SIP/2.0/UDP other:5060;branch=z9hG4bKc\r\n\
From: <sip:dev@d>;tag=f1\r\n\
To: <sip:dev@d>\r\n\
Call-ID: cid\r\n\
CSeq: 1 REGISTER\r\n\
Content-Length: 0\r\n\r\n";
        let mut h = [Header::EMPTY; 16];
        let m = parse_datagram(req, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        let src: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        let mut buf = Vec::new();
        let mut w = response_to(&mut buf, &m, 401, Some(b"t9"), Some(&src));
        w.header(b"WWW-Authenticate", b"Digest realm=\"r\", nonce=\"n\"");
        w.finish(b"");
        let mut h2 = [Header::EMPTY; 16];
        let r = parse_datagram(&buf, &mut h2, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(r.status(), Some(401));
        let vias: Vec<&[u8]> = r.values(HeaderKind::Via).collect();
        assert_eq!(vias.len(), 3);
        let top = r.via().unwrap();
        assert_eq!(top.rport(), Some(Some(40000)));
        assert_eq!(top.received(), Some(&b"10.1.2.3"[..]));
        assert_eq!(top.branch(), Some(&b"z9hG4bKa"[..]));
        assert_eq!(vias[1], b"SIP/2.0/UDP proxy:5060;branch=z9hG4bKb");
        assert_eq!(r.to().unwrap().tag(), Some(&b"t9"[..]));
        assert_eq!(r.from().unwrap().tag(), Some(&b"f1"[..]));
        assert_eq!(r.cseq().unwrap().seq, 1);
        assert_eq!(r.call_id(), Some(&b"cid"[..]));
    }
}
