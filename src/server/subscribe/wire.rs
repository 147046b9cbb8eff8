//! The platform's SUBSCRIBEs and query MESSAGEs, written into reused buffers. A
//! subscription's Call-ID, From tag and Via branches derive from the worker's salt, the slot
//! and its generation (as the play driver's do, with a suffix of their own), so a response or a
//! NOTIFY finds its slot by its Call-ID alone and nothing is stored for them. Only writes and
//! reads identities; deciding what to send is the driver's.

use crate::gb::DeviceId;
use crate::gb::subscribe::{EventKind, QueryKind, SubscribeBody};
use crate::gb::version::Charset;
use crate::server::play::wire::ident;
use crate::sip::write::{push_addr, push_name_addr, push_sip_uri, push_u64};
use crate::sip::{Method, Transport, Writer};
use std::net::SocketAddr;

/// Length of the hex part of an identity: salt, slot and generation, 8 digits each.
const ID_HEX: usize = 24;
/// What follows a subscription's Call-ID hex.
pub const SUB_SUFFIX: &[u8] = b"@gbswarm-sub";
/// What follows a query's Call-ID hex.
pub const QUERY_SUFFIX: &[u8] = b"@gbswarm-query";
/// A query's SN is this plus its slot times 10 000 plus its generation modulo 10 000: nine
/// digits, as MANSCDP readers take (the registrar's own Catalog query, `--query-catalog`,
/// counts up from 1 and is far below it).
pub const SN_BASE: u32 = 900_000_000;
/// Generations an SN tells apart.
const SN_GENERATIONS: u32 = 10_000;

/// What every message of a worker's subscriptions and queries says about the platform.
#[derive(Clone, Debug)]
pub struct Me {
    /// The platform's ID (From, Contact).
    pub id: DeviceId,
    /// The SIP domain (From and To hosts).
    pub domain: String,
    /// Where the platform's SIP socket is (Via, Contact).
    pub signal: SocketAddr,
    /// Makes Call-IDs, tags and branches unique across workers and runs.
    pub salt: u32,
    /// The charset the bodies declare (the platform's edition's).
    pub charset: Charset,
}

/// The (slot, generation) a Call-ID of this worker with `suffix` names; `None` for any other.
pub fn parse_call_id(salt: u32, call_id: &[u8], suffix: &[u8]) -> Option<(usize, u32)> {
    let (hex, rest) = call_id.split_at_checked(ID_HEX)?;
    if rest != suffix {
        return None;
    }
    let mut v = [0u32; 3];
    for (k, chunk) in hex.chunks(8).enumerate() {
        for &c in chunk {
            v[k] = (v[k] << 4) | (c as char).to_digit(16)?;
        }
    }
    (v[0] == salt).then_some((v[1] as usize, v[2]))
}

/// The From tag of a slot's messages: `s` or `q`, then its slot and generation in hex.
pub fn push_tag(b: &mut Vec<u8>, me: &Me, slot: usize, generation: u32, kind: u8) {
    b.push(kind);
    b.extend_from_slice(&ident(me.salt, slot, generation)[8..]);
}

/// True when `tag` is the From tag [`push_tag`] writes for this slot.
pub fn is_our_tag(tag: &[u8], me: &Me, slot: usize, generation: u32, kind: u8) -> bool {
    tag.len() == 17 && tag[0] == kind && tag[1..] == ident(me.salt, slot, generation)[8..]
}

fn push_via(b: &mut Vec<u8>, me: &Me, transport: Transport, id: &[u8; ID_HEX], seq: u32) {
    b.extend_from_slice(transport.via_prefix());
    push_addr(b, &me.signal);
    b.extend_from_slice(b";rport;branch=z9hG4bK");
    b.extend_from_slice(id);
    b.push(b'.');
    push_u64(b, u64::from(seq));
}

fn push_from(b: &mut Vec<u8>, me: &Me, slot: usize, generation: u32, kind: u8) {
    b.extend_from_slice(b"<sip:");
    b.extend_from_slice(me.id.as_bytes());
    b.push(b'@');
    b.extend_from_slice(me.domain.as_bytes());
    b.extend_from_slice(b">;tag=");
    push_tag(b, me, slot, generation, kind);
}

fn push_contact(b: &mut Vec<u8>, me: &Me, transport: Transport) {
    push_name_addr(b, me.id.as_bytes(), &me.signal);
    if transport == Transport::Tcp {
        b.pop();
        b.extend_from_slice(b";transport=tcp>");
    }
}

/// One SUBSCRIBE: its dialog, its kind and what it asks.
#[derive(Clone, Copy, Debug)]
pub struct SubscribeSpec<'a> {
    /// The slot and its generation (Call-ID, tags, branch).
    pub slot: usize,
    /// See `slot`.
    pub generation: u32,
    /// The device subscribed to.
    pub device: &'a DeviceId,
    /// The Request-URI: `sip:<device>@<address>` at first, the device's Contact in the dialog.
    pub target: &'a [u8],
    /// The To: empty for the first SUBSCRIBE (written without a tag), the 200's To (with the
    /// device's tag) in the dialog.
    pub to: &'a [u8],
    /// Its transport (Via, Contact).
    pub transport: Transport,
    /// CSeq number.
    pub cseq: u32,
    /// Expires asked (0 ends the subscription).
    pub expires: u32,
    /// The kind.
    pub kind: EventKind,
    /// The body's SN.
    pub sn: u32,
    /// What the body asks.
    pub ask: SubscribeBody,
}

/// Writes a SUBSCRIBE into `out`, using `body` as scratch (both cleared first).
pub fn write_subscribe(out: &mut Vec<u8>, body: &mut Vec<u8>, me: &Me, s: &SubscribeSpec<'_>) {
    crate::gb::subscribe::write_subscribe(body, me.charset, s.kind, s.sn, s.device, &s.ask);
    let id = ident(me.salt, s.slot, s.generation);
    let mut w = Writer::request(out, Method::Subscribe, s.target);
    w.header_with(b"Via", |b| push_via(b, me, s.transport, &id, s.cseq));
    w.header_with(b"From", |b| push_from(b, me, s.slot, s.generation, b's'));
    w.header_with(b"To", |b| {
        if s.to.is_empty() {
            b.extend_from_slice(b"<sip:");
            b.extend_from_slice(s.device.as_bytes());
            b.push(b'@');
            b.extend_from_slice(me.domain.as_bytes());
            b.push(b'>');
        } else {
            b.extend_from_slice(s.to);
        }
    });
    w.header_with(b"Call-ID", |b| {
        b.extend_from_slice(&id);
        b.extend_from_slice(SUB_SUFFIX);
    });
    w.header_with(b"CSeq", |b| {
        push_u64(b, u64::from(s.cseq));
        b.extend_from_slice(b" SUBSCRIBE");
    });
    w.header_with(b"Contact", |b| push_contact(b, me, s.transport));
    w.header(b"Max-Forwards", b"70");
    w.header(b"User-Agent", b"gbswarm-subscribe");
    w.header_u64(b"Expires", u64::from(s.expires));
    w.header_with(b"Event", |b| {
        b.extend_from_slice(s.kind.event());
        b.extend_from_slice(b";id=");
        push_u64(b, s.slot as u64);
    });
    w.header(b"Content-Type", crate::gb::manscdp::CONTENT_TYPE);
    w.finish(body);
}

/// Writes query slot `slot`'s MESSAGE of `kind` (SN `sn`, the window `span` in Unix ms) to
/// `device` at `dest` into `out`, using `body` as scratch (both cleared first).
#[allow(clippy::too_many_arguments)]
pub fn write_query(
    out: &mut Vec<u8>,
    body: &mut Vec<u8>,
    me: &Me,
    (slot, generation): (usize, u32),
    kind: QueryKind,
    sn: u32,
    device: &DeviceId,
    dest: &SocketAddr,
    transport: Transport,
    span: (u64, u64),
) {
    crate::gb::subscribe::write_query(body, me.charset, kind, sn, device, span);
    let xml_len = body.len();
    push_sip_uri(body, device.as_bytes(), dest);
    let (xml, uri) = body.split_at(xml_len);
    let id = ident(me.salt, slot, generation);
    let mut w = Writer::request(out, Method::Message, uri);
    w.header_with(b"Via", |b| push_via(b, me, transport, &id, 1));
    w.header_with(b"From", |b| push_from(b, me, slot, generation, b'q'));
    w.header_with(b"To", |b| {
        b.extend_from_slice(b"<sip:");
        b.extend_from_slice(device.as_bytes());
        b.push(b'@');
        b.extend_from_slice(me.domain.as_bytes());
        b.push(b'>');
    });
    w.header_with(b"Call-ID", |b| {
        b.extend_from_slice(&id);
        b.extend_from_slice(QUERY_SUFFIX);
    });
    w.header(b"CSeq", b"1 MESSAGE");
    w.header(b"Max-Forwards", b"70");
    w.header(b"User-Agent", b"gbswarm-query");
    w.header(b"Content-Type", crate::gb::manscdp::CONTENT_TYPE);
    w.finish(xml);
}

/// A query's SN: [`SN_BASE`], its slot (below 9 999) and its generation modulo 10 000.
pub fn query_sn(slot: usize, generation: u32) -> u32 {
    SN_BASE + (slot as u32 % 9_999) * SN_GENERATIONS + generation % SN_GENERATIONS
}

/// The (slot, generation modulo 10 000) a query SN names; `None` for an SN not ours.
pub fn parse_query_sn(sn: u32) -> Option<(usize, u32)> {
    let n = sn.checked_sub(SN_BASE)?;
    (n < 9_999 * SN_GENERATIONS).then_some(((n / SN_GENERATIONS) as usize, n % SN_GENERATIONS))
}

/// True when an SN's generation part is `generation`'s.
pub fn same_generation(part: u32, generation: u32) -> bool {
    part == generation % SN_GENERATIONS
}

/// A request's transaction key (its Call-ID and CSeq number, FNV-1a): a retransmission has
/// the same one, a new request of the device another.
pub fn request_key(call_id: &[u8], seq: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in call_id.iter().chain(&seq.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_and_sns_name_their_slot() {
        let mut call = ident(9, 300, 4).to_vec();
        call.extend_from_slice(SUB_SUFFIX);
        assert_eq!(parse_call_id(9, &call, SUB_SUFFIX), Some((300, 4)));
        assert_eq!(parse_call_id(9, &call, QUERY_SUFFIX), None);
        assert_eq!(parse_call_id(8, &call, SUB_SUFFIX), None);
        assert_eq!(parse_query_sn(query_sn(4095, 10_002)), Some((4095, 2)));
        assert!(query_sn(9_998, 9_999) < 1_000_000_000);
        assert_eq!(parse_query_sn(12), None);
    }
}
