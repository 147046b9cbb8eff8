//! Zero-copy parsing of SIP requests and responses.
//!
//! The parser never allocates and never copies: a [`Message`] is a set of borrowed slices into
//! the received bytes, with the header table stored in caller-owned memory (`&mut [Header]`).
//! It reads no clock and keeps no state between calls, so it serves UDP datagrams, TCP streams
//! (see [`parse_stream`]) and offline inspection alike.
//!
//! Leniency follows what devices in the field send: bare `LF` line ends and folded header lines
//! are accepted, and so are keep-alives, taken as any run of CR and LF bytes in front of a
//! message (RFC 5626 sends `CRLFCRLF`): [`parse_stream`] hands such a run back as
//! [`Parsed::KeepAlive`] for the caller to drop, [`parse_datagram`] steps over it. Everything
//! else that is malformed becomes a typed [`Error`] with the byte offset where parsing stopped.
//! It never allocates or copies, and of the header values it reads only Content-Length, for
//! framing; typed reading of the others is [`super::accessors`]'s job.

use super::bytes::{is_token, parse_decimal, trim_blanks_end, trim_end};
use super::message::{Header, Message, Method, StartLine};
use super::names::{FOLD_ALL, HeaderKind};
use super::scan;

/// What went wrong while parsing; `Copy` so it can be counted and passed around freely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The first line is neither `METHOD uri SIP/2.0` nor `SIP/2.0 code reason`.
    StartLine,
    /// A SIP version other than 2.0.
    Version,
    /// A status code that is not three digits in 100..=699.
    StatusCode,
    /// A header line without a colon or with an invalid name, or a continuation line with no
    /// header before it.
    HeaderLine,
    /// More headers than the limit or the caller's storage allows.
    TooManyHeaders,
    /// The message is larger than the configured limit.
    TooLarge,
    /// Content-Length is not a number, repeated with different values, or over the limit.
    ContentLength,
    /// A datagram that ends before the headers end or before its Content-Length is reached.
    Truncated,
}

impl ErrorKind {
    /// A short lowercase description, stable for logs and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::StartLine => "malformed start line",
            ErrorKind::Version => "unsupported SIP version",
            ErrorKind::StatusCode => "invalid status code",
            ErrorKind::HeaderLine => "malformed header line",
            ErrorKind::TooManyHeaders => "too many headers",
            ErrorKind::TooLarge => "message too large",
            ErrorKind::ContentLength => "invalid Content-Length",
            ErrorKind::Truncated => "truncated message",
        }
    }
}

/// A parse failure: what and where (byte offset into the input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// Offset of the offending line or byte in the buffer given to the parser.
    pub offset: usize,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.kind.as_str(), self.offset)
    }
}

impl std::error::Error for Error {}

fn err<T>(kind: ErrorKind, offset: usize) -> Result<T, Error> {
    Err(Error { kind, offset })
}

/// Hard limits that bound what one message may cost; exceeding them is an error, not a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message, headers and body together, in bytes.
    pub max_message: usize,
    /// Largest accepted number of headers, continuation lines not counted (also bounded by the
    /// caller's storage).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 64 * 1024,
            max_headers: 64,
        }
    }
}

/// Result of parsing the front of a byte stream.
#[derive(Clone, Copy, Debug)]
pub enum Parsed<'b, 'h> {
    /// A whole message at the very front of the buffer (keep-alive padding before a message is
    /// never part of it: that comes back first, as [`Parsed::KeepAlive`]).
    Complete {
        /// The message.
        msg: Message<'b, 'h>,
        /// The message's length: start line, headers, blank line and Content-Length bytes of
        /// body. Drop this many bytes from the front of the buffer to reach the next message.
        len: usize,
    },
    /// The buffer starts with this many CR and LF bytes (keep-alive padding, in any mix and
    /// however long): drop them and call again.
    KeepAlive(usize),
    /// Not enough bytes yet for a whole message; read more and call again.
    Partial,
}

/// Parses the message at the front of a TCP byte stream, framing it by Content-Length.
///
/// Without Content-Length the body is empty. Every strict prefix of a valid message yields
/// [`Parsed::Partial`]; a stream that grows past `limits.max_message` without completing a
/// message yields [`ErrorKind::TooLarge`], so a caller that buffers only while this returns
/// `Partial` holds at most `max_message` bytes.
pub fn parse_stream<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<Parsed<'b, 'h>, Error> {
    let pad = leading_crlf(buf);
    if pad > 0 {
        return Ok(Parsed::KeepAlive(pad));
    }
    let Some(head) = parse_head(buf, headers, limits)? else {
        if buf.len() >= limits.max_message {
            return err(ErrorKind::TooLarge, limits.max_message);
        }
        return Ok(Parsed::Partial);
    };
    let body_len = head.content_length.unwrap_or(0);
    let total = head.body_start + body_len;
    if total > limits.max_message {
        return err(ErrorKind::TooLarge, head.body_start);
    }
    if buf.len() < total {
        return Ok(Parsed::Partial);
    }
    Ok(Parsed::Complete {
        msg: Message {
            start: head.start,
            headers: &headers[..head.count],
            body: &buf[head.body_start..total],
        },
        len: total,
    })
}

/// Parses one UDP datagram; `Ok(None)` for a keep-alive, a datagram holding nothing but CR and
/// LF bytes (or nothing at all).
///
/// CR and LF bytes before the message are skipped (error offsets still count from the start of
/// `buf`). Without Content-Length the body is the rest of the datagram; with one, bytes past it
/// are ignored and a datagram shorter than it is [`ErrorKind::Truncated`] (RFC 3261 §18.3).
pub fn parse_datagram<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<Option<Message<'b, 'h>>, Error> {
    if buf.len() > limits.max_message {
        return err(ErrorKind::TooLarge, limits.max_message);
    }
    let pad = leading_crlf(buf);
    if pad == buf.len() {
        return Ok(None);
    }
    let buf_from = &buf[pad..];
    let Some(head) = parse_head(buf_from, headers, limits).map_err(|e| Error {
        kind: e.kind,
        offset: e.offset + pad,
    })?
    else {
        return err(ErrorKind::Truncated, buf.len());
    };
    let body = match head.content_length {
        Some(n) => {
            let end = head.body_start + n;
            if end > buf_from.len() {
                return err(ErrorKind::Truncated, buf.len());
            }
            &buf_from[head.body_start..end]
        }
        None => &buf_from[head.body_start..],
    };
    Ok(Some(Message {
        start: head.start,
        headers: &headers[..head.count],
        body,
    }))
}

/// How many CR and LF bytes `buf` starts with (keep-alive padding).
fn leading_crlf(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

struct Head<'b> {
    start: StartLine<'b>,
    count: usize,
    body_start: usize,
    content_length: Option<usize>,
}

/// One line: its content (without CR/LF) and the offset just past its LF.
#[inline]
fn next_line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let nl = pos + scan::find(b'\n', &buf[pos..])?;
    let end = if nl > pos && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((&buf[pos..end], nl + 1))
}

/// Parses start line and headers; `Ok(None)` when the header block is not complete yet.
fn parse_head<'b>(
    buf: &'b [u8],
    headers: &mut [Header<'b>],
    limits: &Limits,
) -> Result<Option<Head<'b>>, Error> {
    let window = &buf[..buf.len().min(limits.max_message)];
    let Some((first, mut pos)) = next_line(window, 0) else {
        return Ok(None);
    };
    let start = parse_start_line(first)?;
    let cap = headers.len().min(limits.max_headers);
    let mut count = 0usize;
    let mut content_length: Option<usize> = None;
    // Offset where the value of the last header began, to extend it over folded lines.
    let mut last_value_start = 0usize;
    loop {
        let line_start = pos;
        let Some(nl) = scan::find(b'\n', &window[pos..]) else {
            return Ok(None);
        };
        let nl = pos + nl;
        pos = nl + 1;
        let end = if nl > line_start && window[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let line = &window[line_start..end];
        let Some(&first) = line.first() else {
            break;
        };
        if first == b' ' || first == b'\t' {
            // Folded continuation of the previous header (RFC 3261 §7.3.1).
            if count == 0 {
                return err(ErrorKind::HeaderLine, line_start);
            }
            let value_end = line_start + trim_end(line).len();
            if value_end > last_value_start {
                headers[count - 1].value = &buf[last_value_start..value_end];
            }
            continue;
        }
        // Name, optional blanks, then the colon.
        let Some(colon) = scan::find(b':', line) else {
            return err(ErrorKind::HeaderLine, line_start);
        };
        let name = trim_blanks_end(&line[..colon]);
        let name_len = name.len();
        let raw_value = &line[colon + 1..];
        let lead = raw_value
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let value = trim_end(&raw_value[lead..]);
        if count >= cap {
            return err(ErrorKind::TooManyHeaders, line_start);
        }
        let (kind, spelled) = if name_len <= 16 && line_start + 16 <= window.len() {
            // One 16-byte load from the message, masked to the name, folded and matched.
            let mut word = [0u8; 16];
            word.copy_from_slice(&window[line_start..line_start + 16]);
            let mask = if name_len == 16 {
                u128::MAX
            } else {
                (1u128 << (8 * name_len)) - 1
            };
            let raw = u128::from_le_bytes(word) & mask;
            match HeaderKind::of_folded((raw | FOLD_ALL) & mask) {
                // A known name folds only from letters and `-`, or from CR in place of `-`.
                kind if kind != HeaderKind::Other && !has_cr(raw, mask) => (kind, true),
                _ => (HeaderKind::Other, false),
            }
        } else {
            (HeaderKind::of(name), false)
        };
        // A name matched by the folded load is a valid spelling; any other is checked byte by
        // byte.
        if !spelled && (name_len == 0 || !name.iter().all(|&b| is_token(b))) {
            return err(ErrorKind::HeaderLine, line_start);
        }
        if kind == HeaderKind::ContentLength {
            let n = parse_content_length(value, limits).ok_or(Error {
                kind: ErrorKind::ContentLength,
                offset: line_start,
            })?;
            if content_length.is_some_and(|old| old != n) {
                return err(ErrorKind::ContentLength, line_start);
            }
            content_length = Some(n);
        }
        last_value_start = line_start + colon + 1 + lead;
        headers[count] = Header { name, value, kind };
        count += 1;
    }
    Ok(Some(Head {
        start,
        count,
        body_start: pos,
        content_length,
    }))
}

fn parse_content_length(v: &[u8], limits: &Limits) -> Option<usize> {
    let n = parse_decimal(v)?;
    usize::try_from(n).ok().filter(|&n| n <= limits.max_message)
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, Error> {
    if line.len() >= 8 && line[..8].eq_ignore_ascii_case(b"SIP/2.0 ") {
        let rest = &line[8..];
        if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
            return err(ErrorKind::StatusCode, 8);
        }
        let code = u16::from(rest[0] - b'0') * 100
            + u16::from(rest[1] - b'0') * 10
            + u16::from(rest[2] - b'0');
        if !(100..=699).contains(&code) {
            return err(ErrorKind::StatusCode, 8);
        }
        let reason = match rest.get(3) {
            None => &rest[3..],
            Some(b' ') => &rest[4..],
            Some(_) => return err(ErrorKind::StatusCode, 8),
        };
        return Ok(StartLine::Response { code, reason });
    }
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return err(ErrorKind::Version, 0);
    }
    let Some(sp1) = scan::find(b' ', line) else {
        return err(ErrorKind::StartLine, 0);
    };
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return err(ErrorKind::StartLine, 0);
    }
    let rest = &line[sp1 + 1..];
    let Some(sp2) = scan::find(b' ', rest) else {
        return err(ErrorKind::StartLine, sp1 + 1);
    };
    let uri = &rest[..sp2];
    if uri.is_empty() || !uri.iter().all(|&b| b > b' ' && b != 0x7f) {
        return err(ErrorKind::StartLine, sp1 + 1);
    }
    let version = &rest[sp2 + 1..];
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        return err(ErrorKind::Version, sp1 + sp2 + 2);
    }
    Ok(StartLine::Request {
        method: Method::from_bytes(method),
        uri,
    })
}

/// True if a byte of `raw` within `mask` is CR.
#[inline]
fn has_cr(raw: u128, mask: u128) -> bool {
    // Outside the mask, force a non-CR byte so padding cannot match.
    let x = raw | !mask;
    scan::zero_bytes(x as u64, b'\r') | scan::zero_bytes((x >> 64) as u64, b'\r') != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &[u8] = b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.137.11:5060;rport;branch=z9hG4bK1371463273\r\n\
From: <sip:34020000001320000003@3402000000>;tag=2043466181\r\n\
To: <sip:34020000001320000003@3402000000>\r\n\
Call-ID: 1011047669\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:34020000001320000003@192.168.137.11:5060>\r\n\
Max-Forwards: 70\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\r\n";

    fn storage() -> [Header<'static>; 64] {
        [Header::EMPTY; 64]
    }

    #[test]
    fn request_line_and_headers() {
        let mut h = storage();
        let m = parse_datagram(REG, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(m.method(), Some(Method::Register));
        assert_eq!(
            m.request_uri(),
            Some(&b"sip:34020000002000000001@3402000000"[..])
        );
        assert_eq!(m.headers.len(), 9);
        assert_eq!(m.headers[3].name, b"Call-ID");
        assert_eq!(m.headers[3].value, b"1011047669");
        assert_eq!(m.headers[3].kind, HeaderKind::CallId);
        assert!(m.body.is_empty());
    }

    #[test]
    fn every_strict_prefix_is_partial() {
        let mut msg = REG.to_vec();
        // Replace the empty body with a small one to cover body framing too.
        let cl = msg
            .windows(17)
            .position(|w| w == b"Content-Length: 0")
            .unwrap();
        msg.splice(cl..cl + 17, b"Content-Length: 5".iter().copied());
        msg.extend_from_slice(b"hello");
        for n in 1..msg.len() {
            let mut h = storage();
            match parse_stream(&msg[..n], &mut h, &Limits::default()) {
                Ok(Parsed::Partial) => {}
                other => panic!("prefix {n}: {other:?}"),
            }
        }
        let mut h = storage();
        match parse_stream(&msg, &mut h, &Limits::default()).unwrap() {
            Parsed::Complete { msg: m, len } => {
                assert_eq!(len, msg.len());
                assert_eq!(m.body, b"hello");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keepalive_padding_is_skipped() {
        let mut h = storage();
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(REG);
        match parse_stream(&stream, &mut h, &Limits::default()).unwrap() {
            Parsed::KeepAlive(4) => {}
            other => panic!("{other:?}"),
        }
        assert!(
            parse_datagram(b"\r\n\r\n", &mut h, &Limits::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn folded_header_and_bare_lf() {
        let raw = b"SIP/2.0 200 OK\nVia: SIP/2.0/UDP a;branch=z9hG4bK1,\n  SIP/2.0/UDP b;branch=z9hG4bK2\nCall-ID: x\nContent-Length: 0\n\n";
        let mut h = storage();
        let m = parse_datagram(raw, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(
            m.headers[0].value,
            b"SIP/2.0/UDP a;branch=z9hG4bK1,\n  SIP/2.0/UDP b;branch=z9hG4bK2"
        );
        assert_eq!(m.headers[1].value, b"x");
    }

    #[test]
    fn errors_are_typed_with_offsets() {
        let limits = Limits::default();
        let cases: &[(&[u8], ErrorKind)] = &[
            (b"HELLO\r\n\r\n", ErrorKind::StartLine),
            (b"REGISTER sip:x SIP/3.0\r\n\r\n", ErrorKind::Version),
            (b"SIP/2.0 20 OK\r\n\r\n", ErrorKind::StatusCode),
            (b"SIP/2.0 900 OK\r\n\r\n", ErrorKind::StatusCode),
            (b"SIP/2.0 200 OK\r\nNoColon\r\n\r\n", ErrorKind::HeaderLine),
            // CR folds onto `-`: a known name spelled with it is still not a token.
            (
                b"SIP/2.0 200 OK\r\nCall\rID: 1\r\nSubject: padding past 16 bytes\r\n\r\n",
                ErrorKind::HeaderLine,
            ),
            (b"SIP/2.0 200 OK\r\nVia x: 1\r\n\r\n", ErrorKind::HeaderLine),
            (b"SIP/2.0 200 OK\r\n: 1\r\n\r\n", ErrorKind::HeaderLine),
            (b"SIP/2.0 200 OK\r\nVi@: 1\r\n\r\n", ErrorKind::HeaderLine),
            (
                b"SIP/2.0 200 OK\r\n continuation\r\n\r\n",
                ErrorKind::HeaderLine,
            ),
            (
                b"SIP/2.0 200 OK\r\nContent-Length: x\r\n\r\n",
                ErrorKind::ContentLength,
            ),
            (
                b"SIP/2.0 200 OK\r\nContent-Length: 1\r\nl: 2\r\n\r\nab",
                ErrorKind::ContentLength,
            ),
            (
                b"SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nab",
                ErrorKind::Truncated,
            ),
            (b"SIP/2.0 200 OK\r\nVia: x\r\n", ErrorKind::Truncated),
        ];
        for (raw, kind) in cases {
            let mut h = storage();
            let e = parse_datagram(raw, &mut h, &limits).unwrap_err();
            assert_eq!(e.kind, *kind, "{}", String::from_utf8_lossy(raw));
            assert!(e.offset <= raw.len());
        }
        // Near the end of the buffer the name is classified without the 16-byte load.
        let mut h = storage();
        let e = parse_datagram(b"SIP/2.0 200 OK\r\nCall\rID:1\r\n\r\n", &mut h, &limits);
        assert_eq!(e.unwrap_err().kind, ErrorKind::HeaderLine);
        let mut h = storage();
        let m = parse_datagram(b"SIP/2.0 200 OK\r\ni \t:1\r\n\r\n", &mut h, &limits);
        assert_eq!(m.unwrap().unwrap().call_id(), Some(&b"1"[..]));
        let mut h = storage();
        let e =
            parse_datagram(b"SIP/2.0 200 OK\r\nA: 1\r\nB 2\r\n\r\n", &mut h, &limits).unwrap_err();
        assert_eq!(e.offset, 22);
    }

    #[test]
    fn limits_bound_headers_and_size() {
        let mut raw = b"SIP/2.0 200 OK\r\n".to_vec();
        for _ in 0..65 {
            raw.extend_from_slice(b"X-A: b\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        let mut h = storage();
        let e = parse_datagram(&raw, &mut h, &Limits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooManyHeaders);

        let small = Limits {
            max_message: 64,
            max_headers: 64,
        };
        let mut h = storage();
        let e = parse_stream(&[b'A'; 100], &mut h, &small).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        let big_body = b"SIP/2.0 200 OK\r\nContent-Length: 60\r\n\r\n";
        let e = parse_stream(big_body, &mut h, &small).unwrap_err();
        assert!(matches!(
            e.kind,
            ErrorKind::TooLarge | ErrorKind::ContentLength
        ));
    }

    #[test]
    fn datagram_body_without_content_length_takes_rest() {
        let raw = b"MESSAGE sip:a SIP/2.0\r\nCall-ID: 1\r\n\r\n<xml/>";
        let mut h = storage();
        let m = parse_datagram(raw, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(m.body, b"<xml/>");
        assert_eq!(m.method(), Some(Method::Message));
    }
}
