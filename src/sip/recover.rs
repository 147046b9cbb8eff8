//! Answering a request that failed to parse: a `400 Bad Request` built only from the headers
//! that can be recovered and checked one by one.
//!
//! When [`parse_datagram`](super::parse_datagram) rejects a request, the sender may still be
//! owed a 400 (RFC 3261 §8.2.6 needs Via, From, To, Call-ID and CSeq to build any response).
//! [`write_bad_request`] looks for those five lines in the raw bytes and copies each only if it
//! is printable ASCII and passes the strict reader for its kind, so nothing else from the bad
//! message is ever reflected back. It never reads a clock, never touches a socket and never
//! allocates beyond the caller's output buffer.

use super::addr::{CSeq, NameAddr, Via};
use super::bytes::trim;
use super::message::{Header, Message, Method, StartLine};
use super::names::HeaderKind;
use super::write::response_to;
use std::net::SocketAddr;

/// Writes into `out` (cleared first) a `400 Bad Request` answering `bytes`, a request that
/// failed to parse, the way [`response_to`] answers a parsed one: the top Via gets
/// `received`/`rport` from `source` when there is one, and To gets the tag `gbs` when it has
/// none.
///
/// Only Via, From, To, Call-ID and CSeq lines that are themselves well formed are copied: the
/// value printable ASCII, a Via with a branch, From and To readable as name-addr, a Call-ID of
/// 1 to 128 bytes, a CSeq with number and method; the first good line of each kind wins, and
/// nothing else from `bytes` is reflected. The lines are looked for up to the first `CRLFCRLF`
/// (or in the first 8 KiB when there is none).
///
/// Returns false, leaving `out` untouched, when the first line does not end in `SIP/2.0` (so a
/// status line is never answered) or when any of the five headers is missing or bad.
pub fn write_bad_request(bytes: &[u8], source: Option<&SocketAddr>, out: &mut Vec<u8>) -> bool {
    let head_end = memchr::memmem::find(bytes, b"\r\n\r\n").unwrap_or(bytes.len().min(8192));
    let head = &bytes[..head_end];
    // Only a request line of a SIP request is answered.
    let first = head.split(|&b| b == b'\n').next().unwrap_or(b"");
    if !first.ends_with(b"SIP/2.0\r") && !first.ends_with(b"SIP/2.0") {
        return false;
    }
    let mut hdrs = [Header::EMPTY; 8];
    let mut n = 0;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = trim(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = trim(&line[..colon]);
        let value = trim(&line[colon + 1..]);
        let kind = HeaderKind::of(name);
        if !value.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            continue;
        }
        let valid = match kind {
            HeaderKind::Via => Via::parse(value).is_some_and(|v| v.branch().is_some()),
            HeaderKind::From | HeaderKind::To => NameAddr::parse(value).is_some(),
            HeaderKind::CallId => !value.is_empty() && value.len() <= 128,
            HeaderKind::CSeq => CSeq::parse(value).is_some(),
            _ => false,
        };
        if valid && n < hdrs.len() && !hdrs[..n].iter().any(|h| h.kind == kind) {
            hdrs[n] = Header { name, value, kind };
            n += 1;
        }
    }
    if n < 5 {
        return false;
    }
    let msg = Message {
        start: StartLine::Request {
            method: Method::Other(b""),
            uri: b"",
        },
        headers: &hdrs[..n],
        body: b"",
    };
    response_to(out, &msg, 400, Some(b"gbs"), source).finish(b"");
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Limits, parse_datagram};

    const SOURCE: &str = "10.1.2.3:40000";
    /// A line without a colon: enough to make the parser refuse the whole message.
    const BAD_LINE: &str = "Bad header line without a colon\r\n";

    /// A REGISTER whose five dialog headers are good, with `before` inserted ahead of them and
    /// `after` behind them; the result must fail to parse for a test to mean anything.
    fn request_with(before: &str, after: &str) -> Vec<u8> {
        let raw = format!(
            "REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n\
{before}\
Via: SIP/2.0/UDP 192.168.1.5:5060;rport;branch=z9hG4bKa\r\n\
From: <sip:34020000001320000001@3402000000>;tag=f1\r\n\
To: <sip:34020000001320000001@3402000000>\r\n\
Call-ID: cid-1\r\n\
CSeq: 7 REGISTER\r\n\
{after}\
Content-Length: 0\r\n\r\n"
        );
        let mut h = [Header::EMPTY; 16];
        assert!(
            parse_datagram(raw.as_bytes(), &mut h, &Limits::default()).is_err(),
            "the test request must not parse"
        );
        raw.into_bytes()
    }

    /// Answers `raw` and parses the answer back; `None` when there is no answer.
    fn answer(raw: &[u8]) -> Option<Vec<u8>> {
        let src: SocketAddr = SOURCE.parse().unwrap();
        let mut out = Vec::new();
        write_bad_request(raw, Some(&src), &mut out).then_some(out)
    }

    fn header_names(msg: &Message<'_, '_>) -> Vec<Vec<u8>> {
        msg.headers.iter().map(|h| h.name.to_vec()).collect()
    }

    #[test]
    fn well_formed_headers_are_copied() {
        let raw = request_with("", BAD_LINE);
        let out = answer(&raw).expect("a 400");
        let mut h = [Header::EMPTY; 16];
        let r = parse_datagram(&out, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(r.status(), Some(400));
        let via = r.via().unwrap();
        assert_eq!(via.branch(), Some(&b"z9hG4bKa"[..]));
        assert_eq!(via.rport(), Some(Some(40000)));
        assert_eq!(via.received(), Some(&b"10.1.2.3"[..]));
        assert_eq!(r.from().unwrap().tag(), Some(&b"f1"[..]));
        assert_eq!(r.to().unwrap().tag(), Some(&b"gbs"[..]));
        assert_eq!(r.call_id(), Some(&b"cid-1"[..]));
        let cseq = r.cseq().unwrap();
        assert_eq!((cseq.seq, cseq.method), (7, Method::Register));
        assert_eq!(
            header_names(&r),
            [
                &b"Via"[..],
                b"From",
                b"To",
                b"Call-ID",
                b"CSeq",
                b"Content-Length"
            ]
        );
        assert!(r.body.is_empty());
    }

    #[test]
    fn garbage_headers_are_not_reflected() {
        // Bad lines of the five kinds come first, so only their checks keep them out.
        let raw = request_with(
            "Via: SIP/2.0/UDP evil.example:5060\r\n\
From: \"evil\" <sip:unclosed\r\n\
To: <sip:evil-to\r\n\
Call-ID:\r\n\
CSeq: x REGISTER\r\n\
X-Evil: <script>alert(1)</script>\r\n\
Subject: reflected?\r\n",
            BAD_LINE,
        );
        let out = answer(&raw).expect("a 400");
        for needle in [
            &b"evil"[..],
            b"unclosed",
            b"<script>",
            b"Subject",
            b"x REGISTER",
            b"without a colon",
            b"REGISTER sip:",
        ] {
            assert!(
                memchr::memmem::find(&out, needle).is_none(),
                "{} reflected in {}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&out)
            );
        }
        let mut h = [Header::EMPTY; 16];
        let r = parse_datagram(&out, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(r.call_id(), Some(&b"cid-1"[..]));
        assert_eq!(r.cseq().unwrap().seq, 7);
    }

    #[test]
    fn a_missing_call_id_means_no_answer() {
        let raw = request_with("", BAD_LINE);
        let text = String::from_utf8(raw).unwrap();
        let without = text.replace("Call-ID: cid-1\r\n", "");
        let src: SocketAddr = SOURCE.parse().unwrap();
        let mut out = b"untouched".to_vec();
        assert!(!write_bad_request(without.as_bytes(), Some(&src), &mut out));
        assert_eq!(out, b"untouched");
        // A Via without a branch is as good as none.
        let no_branch = text.replace(";rport;branch=z9hG4bKa", ";rport");
        assert!(answer(no_branch.as_bytes()).is_none());
    }

    #[test]
    fn a_response_is_never_answered() {
        let raw = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.168.1.5:5060;rport;branch=z9hG4bKa\r\n\
From: <sip:a@b>;tag=f1\r\n\
To: <sip:a@b>\r\n\
Call-ID: cid-1\r\n\
CSeq: 7 REGISTER\r\n\
Bad header line without a colon\r\n\
Content-Length: 0\r\n\r\n";
        assert!(answer(raw).is_none());
        assert!(answer(b"").is_none());
        assert!(answer(b"REGISTER sip:a SIP/3.0\r\n\r\n").is_none());
    }

    #[test]
    fn a_non_printable_value_is_skipped() {
        // The first Call-ID carries a control byte: it is passed over for the good one after it.
        let raw = request_with(
            "",
            "Call-ID: evil\x01id\r\nBad header line without a colon\r\n",
        );
        let text = String::from_utf8(raw).unwrap();
        let raw = text.replacen("Call-ID: cid-1\r\n", "", 1).replacen(
            "Bad header",
            "Call-ID: cid-2\r\nBad header",
            1,
        );
        let out = answer(raw.as_bytes()).expect("a 400");
        assert!(memchr::memmem::find(&out, b"evil").is_none());
        let mut h = [Header::EMPTY; 16];
        let r = parse_datagram(&out, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(r.call_id(), Some(&b"cid-2"[..]));
        // With only the non-printable one there is no Call-ID, so no answer.
        let only_bad = text.replacen("Call-ID: cid-1\r\n", "", 1);
        assert!(answer(only_bad.as_bytes()).is_none());
    }

    #[test]
    fn without_a_source_the_via_is_copied_as_written() {
        let raw = request_with("", BAD_LINE);
        let mut out = Vec::new();
        assert!(write_bad_request(&raw, None, &mut out));
        let mut h = [Header::EMPTY; 16];
        let r = parse_datagram(&out, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            r.header(HeaderKind::Via),
            Some(&b"SIP/2.0/UDP 192.168.1.5:5060;rport;branch=z9hG4bKa"[..])
        );
    }
}
