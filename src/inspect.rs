//! `gbswarm inspect`: decode raw SIP messages (one datagram, or a TCP stream holding several)
//! and describe each as a JSON object, so people can check what a device or server really sent.

use crate::gb::{Manscdp, Root};
use crate::sip::{self, Header, Limits, Message, Parsed, StartLine};
use serde_json::{Value, json};

/// A decoding failure, located in the whole input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InspectError {
    /// What the parser found wrong.
    pub kind: sip::ErrorKind,
    /// Byte offset from the start of the input.
    pub offset: usize,
    /// How many messages decoded cleanly before the failure.
    pub decoded: usize,
}

impl std::fmt::Display for InspectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at byte offset {} (after {} good message{})",
            self.kind.as_str(),
            self.offset,
            self.decoded,
            if self.decoded == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for InspectError {}

/// Decodes every message in `input` and calls `emit` with each one's JSON description.
///
/// The input is read as a stream framed by Content-Length; a last message without a complete
/// Content-Length framing is read as a datagram (its body is the rest of the input).
pub fn inspect(input: &[u8], mut emit: impl FnMut(Value)) -> Result<usize, InspectError> {
    let limits = Limits::default();
    let mut pos = 0;
    let mut decoded = 0;
    let fail = |e: sip::Error, at: usize, decoded: usize| InspectError {
        kind: e.kind,
        offset: at + e.offset,
        decoded,
    };
    while pos < input.len() {
        let mut headers = [Header::EMPTY; 64];
        let rest = &input[pos..];
        match sip::parse_stream(rest, &mut headers, &limits) {
            Ok(Parsed::Complete { msg, len }) => {
                emit(describe(&msg, pos));
                decoded += 1;
                pos += len;
            }
            Ok(Parsed::KeepAlive(n)) => pos += n,
            Ok(Parsed::Partial) => {
                let mut headers = [Header::EMPTY; 64];
                match sip::parse_datagram(rest, &mut headers, &limits) {
                    Ok(Some(msg)) => {
                        emit(describe(&msg, pos));
                        decoded += 1;
                    }
                    Ok(None) => {}
                    Err(e) => return Err(fail(e, pos, decoded)),
                }
                break;
            }
            Err(e) => return Err(fail(e, pos, decoded)),
        }
    }
    Ok(decoded)
}

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

fn opt_text(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, text)
}

/// The JSON description of one message found at `offset`.
pub fn describe(m: &Message<'_, '_>, offset: usize) -> Value {
    let mut v = json!({ "offset": offset });
    let o = v.as_object_mut().expect("json! object literal");
    match m.start {
        StartLine::Request { method, uri } => {
            o.insert("kind".into(), "request".into());
            o.insert("method".into(), text(method.as_bytes()));
            o.insert("request_uri".into(), text(uri));
        }
        StartLine::Response { code, reason } => {
            o.insert("kind".into(), "response".into());
            o.insert("status".into(), code.into());
            o.insert("reason".into(), text(reason));
        }
    }
    o.insert("call_id".into(), opt_text(m.call_id()));
    o.insert(
        "cseq".into(),
        m.cseq().map_or(
            Value::Null,
            |c| json!({ "seq": c.seq, "method": text(c.method.as_bytes()) }),
        ),
    );
    for (key, na) in [("from", m.from()), ("to", m.to())] {
        o.insert(
            key.into(),
            na.map_or(Value::Null, |n| {
                json!({ "uri": text(n.uri), "user": opt_text(n.user()), "tag": opt_text(n.tag()) })
            }),
        );
    }
    o.insert(
        "via".into(),
        m.via().map_or(Value::Null, |via| {
            json!({
                "transport": text(via.transport),
                "sent_by": text(via.sent_by.host),
                "port": via.sent_by.port,
                "branch": opt_text(via.branch()),
                "received": opt_text(via.received()),
                "rport": via.rport().map(|p| p.map_or(Value::Bool(true), Value::from)),
            })
        }),
    );
    o.insert(
        "via_count".into(),
        m.values(sip::HeaderKind::Via).count().into(),
    );
    o.insert("expires".into(), m.expires().into());
    o.insert(
        "contact".into(),
        m.contact().map_or(
            Value::Null,
            |c| json!({ "uri": text(c.uri), "user": opt_text(c.user()), "expires": c.expires() }),
        ),
    );
    if let Some(a) = m.challenge().or_else(|| m.authorization()) {
        let q = |p: Option<sip::QStr<'_>>| {
            p.map_or(Value::Null, |s| {
                let mut b = Vec::new();
                s.write_to(&mut b);
                text(&b)
            })
        };
        o.insert(
            "auth".into(),
            json!({
                "scheme": text(a.scheme), "realm": q(a.realm), "nonce": q(a.nonce),
                "qop": q(a.qop), "algorithm": q(a.algorithm), "opaque": q(a.opaque),
                "username": q(a.username), "uri": q(a.uri), "response": q(a.response),
                "nc": q(a.nc), "cnonce": q(a.cnonce),
            }),
        );
    }
    o.insert("date".into(), opt_text(m.date()));
    o.insert("content_type".into(), opt_text(m.content_type()));
    o.insert("content_length".into(), m.content_length().into());
    o.insert("body_length".into(), m.body.len().into());
    o.insert("header_count".into(), m.headers.len().into());
    if let Some(x) = Manscdp::parse(m.body) {
        let root = match x.root {
            Root::Query => "Query",
            Root::Notify => "Notify",
            Root::Response => "Response",
            Root::Control => "Control",
            Root::Other => "Other",
        };
        o.insert(
            "manscdp".into(),
            json!({ "root": root, "cmd_type": text(x.cmd_type), "sn": x.sn, "device_id": opt_text(x.device_id) }),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_of_two_then_error_offset() {
        let one = b"MESSAGE sip:a SIP/2.0\r\nCall-ID: 1\r\nCSeq: 2 MESSAGE\r\nContent-Length: 3\r\n\r\nabc";
        let mut input = one.to_vec();
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(one);
        let mut got = Vec::new();
        assert_eq!(inspect(&input, |v| got.push(v)), Ok(2));
        assert_eq!(got[1]["offset"], one.len() + 2);
        assert_eq!(got[0]["cseq"]["seq"], 2);
        assert_eq!(got[0]["body_length"], 3);
        input.extend_from_slice(b"BROKEN\r\n\r\n");
        let e = inspect(&input, |_| {}).unwrap_err();
        assert_eq!(e.kind, sip::ErrorKind::StartLine);
        assert_eq!(e.offset, 2 * one.len() + 2);
        assert_eq!(e.decoded, 2);
    }
}
