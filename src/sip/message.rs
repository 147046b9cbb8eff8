//! The parsed message: start line, method, header table and body, all borrowed.
//!
//! These are plain views into the received bytes and the caller's header storage, produced by
//! [`super::parse`]; typed header readers live in [`super::accessors`]. Nothing here parses,
//! allocates or copies.

use super::names::HeaderKind;

/// A SIP method; the ones gbswarm handles are variants, anything else is kept as bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// REGISTER (RFC 3261 §10).
    Register,
    /// MESSAGE (RFC 3428), used by GB28181 for MANSCDP.
    Message,
    /// OPTIONS.
    Options,
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// BYE.
    Bye,
    /// CANCEL.
    Cancel,
    /// SUBSCRIBE.
    Subscribe,
    /// NOTIFY.
    Notify,
    /// INFO.
    Info,
    /// Any other token.
    Other(&'a [u8]),
}

impl<'a> Method<'a> {
    /// Classifies a method token (methods are case-sensitive in SIP).
    pub fn from_bytes(b: &'a [u8]) -> Method<'a> {
        match b {
            b"REGISTER" => Method::Register,
            b"MESSAGE" => Method::Message,
            b"OPTIONS" => Method::Options,
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"INFO" => Method::Info,
            other => Method::Other(other),
        }
    }

    /// The method token as it goes on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Method::Register => b"REGISTER",
            Method::Message => b"MESSAGE",
            Method::Options => b"OPTIONS",
            Method::Invite => b"INVITE",
            Method::Ack => b"ACK",
            Method::Bye => b"BYE",
            Method::Cancel => b"CANCEL",
            Method::Subscribe => b"SUBSCRIBE",
            Method::Notify => b"NOTIFY",
            Method::Info => b"INFO",
            Method::Other(b) => b,
        }
    }
}

/// The first line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `METHOD request-uri SIP/2.0`
    Request {
        /// The request method.
        method: Method<'a>,
        /// The Request-URI, as written.
        uri: &'a [u8],
    },
    /// `SIP/2.0 code reason`
    Response {
        /// Status code, 100..=699.
        code: u16,
        /// Reason phrase, possibly empty.
        reason: &'a [u8],
    },
}

/// One header line: name and value as written (value trimmed; folded lines stay in the slice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The header name as written (may be a compact form such as `v`).
    pub name: &'a [u8],
    /// The value, surrounding whitespace trimmed; continuation lines keep their CRLF and indent.
    pub value: &'a [u8],
    /// The recognised header, compact forms folded into their long form.
    pub kind: HeaderKind,
}

impl Header<'_> {
    /// An empty slot, to initialise caller-owned header storage.
    pub const EMPTY: Header<'static> = Header {
        name: b"",
        value: b"",
        kind: HeaderKind::Other,
    };
}

/// A parsed message: borrowed start line, headers and body.
#[derive(Clone, Copy, Debug)]
pub struct Message<'b, 'h> {
    /// Request or status line.
    pub start: StartLine<'b>,
    /// Header lines in order of appearance.
    pub headers: &'h [Header<'b>],
    /// The body, exactly Content-Length bytes; without Content-Length, the rest of a datagram
    /// or nothing on a stream.
    pub body: &'b [u8],
}

impl<'b> Message<'b, '_> {
    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, if this is a request.
    pub fn method(&self) -> Option<Method<'b>> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, if this is a request.
    pub fn request_uri(&self) -> Option<&'b [u8]> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, if this is a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }
}
