//! The platform's messages of a play session, written into reused buffers: the INVITE with
//! its `Subject` and SDP offer, the ACK to a 200 (a new transaction, RFC 3261 §13.2.2.4) and
//! to a final error (part of the INVITE transaction, §17.1.1.3), and the BYE. The Call-ID,
//! From tag and branches are derived from the worker's salt, the session's slot and its
//! generation, so nothing is stored for them and a response finds its session by its Call-ID
//! alone. Only writes; deciding what to send is the driver's.

use super::session::Session;
use crate::gb::DeviceId;
use crate::gb::sdp_offer::{OfferSpec, write_offer};
use crate::media::format_ssrc;
use crate::sip::write::{push_addr, push_name_addr, push_sip_uri};
use crate::sip::{Message, Method, Writer};
use std::net::SocketAddr;

/// Length of the hex part of a Call-ID: salt, slot and generation, 8 digits each.
const ID_HEX: usize = 24;
/// What follows it.
const CALL_ID_SUFFIX: &[u8] = b"@gbswarm";

/// What every message of a worker's sessions says about the platform.
#[derive(Clone, Debug)]
pub struct Me {
    /// The platform's ID (From, Contact, `o=`, Subject).
    pub id: DeviceId,
    /// The SIP domain (From and To hosts).
    pub domain: String,
    /// Where the platform's SIP socket is (Via, Contact).
    pub signal: SocketAddr,
    /// Where it receives media (the offer's `c=` and `m=`).
    pub media: SocketAddr,
    /// UDP or TCP media, and which side connects.
    pub transport: crate::gb::MediaTransport,
    /// Makes Call-IDs, tags and branches unique across workers and runs.
    pub salt: u32,
}

/// The hex of a session's identity: salt, slot, generation.
pub fn ident(salt: u32, slot: usize, generation: u32) -> [u8; ID_HEX] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; ID_HEX];
    for (k, v) in [salt, slot as u32, generation].into_iter().enumerate() {
        for i in 0..8 {
            out[k * 8 + i] = HEX[((v >> (28 - 4 * i)) & 0xf) as usize];
        }
    }
    out
}

/// The (slot, generation) a Call-ID of this worker names; `None` for any other Call-ID.
pub fn parse_call_id(salt: u32, call_id: &[u8]) -> Option<(usize, u32)> {
    let (hex, suffix) = call_id.split_at_checked(ID_HEX)?;
    if suffix != CALL_ID_SUFFIX {
        return None;
    }
    let mut v = [0u32; 3];
    for (k, chunk) in hex.chunks(8).enumerate() {
        for &c in chunk {
            let d = (c as char).to_digit(16)?;
            v[k] = (v[k] << 4) | d;
        }
    }
    (v[0] == salt).then_some((v[1] as usize, v[2]))
}

fn push_call_id(b: &mut Vec<u8>, me: &Me, s: &Session) {
    b.extend_from_slice(&ident(me.salt, s.slot, s.generation));
    b.extend_from_slice(CALL_ID_SUFFIX);
}

fn push_via(b: &mut Vec<u8>, me: &Me, s: &Session, kind: u8) {
    b.extend_from_slice(match s.transport {
        crate::sip::Transport::Udp => b"SIP/2.0/UDP ",
        crate::sip::Transport::Tcp => b"SIP/2.0/TCP ",
    });
    push_addr(b, &me.signal);
    b.extend_from_slice(b";rport;branch=z9hG4bK");
    b.extend_from_slice(&ident(me.salt, s.slot, s.generation));
    b.push(kind);
}

fn push_from(b: &mut Vec<u8>, me: &Me, s: &Session) {
    b.extend_from_slice(b"<sip:");
    b.extend_from_slice(me.id.as_bytes());
    b.push(b'@');
    b.extend_from_slice(me.domain.as_bytes());
    b.extend_from_slice(b">;tag=p");
    b.extend_from_slice(&ident(me.salt, s.slot, s.generation)[8..]);
}

fn push_to(b: &mut Vec<u8>, me: &Me, s: &Session) {
    b.extend_from_slice(b"<sip:");
    b.extend_from_slice(s.device.as_bytes());
    b.push(b'@');
    b.extend_from_slice(me.domain.as_bytes());
    b.push(b'>');
}

/// Writes the session's INVITE into `out`: to `sip:<device>@<its address>`, offering media
/// at `me.media` with the session's SSRC.
pub fn write_invite(out: &mut Vec<u8>, body: &mut Vec<u8>, me: &Me, s: &Session) {
    body.clear();
    write_offer(
        body,
        &OfferSpec {
            platform: &me.id,
            media: me.media,
            transport: me.transport,
            ssrc: s.offered,
        },
    );
    let mut w = Writer::request(out, Method::Invite, &s.target);
    w.header_with(b"Via", |b| push_via(b, me, s, b'i'));
    w.header_with(b"From", |b| push_from(b, me, s));
    w.header_with(b"To", |b| push_to(b, me, s));
    w.header_with(b"Call-ID", |b| push_call_id(b, me, s));
    w.header(b"CSeq", b"1 INVITE");
    w.header_with(b"Contact", |b| {
        push_name_addr(b, me.id.as_bytes(), &me.signal);
        if s.transport == crate::sip::Transport::Tcp {
            // Inside the brackets: `<sip:id@ip:port;transport=tcp>`.
            b.pop();
            b.extend_from_slice(b";transport=tcp>");
        }
    });
    w.header(b"Max-Forwards", b"70");
    w.header(b"User-Agent", b"gbswarm-play");
    w.header_with(b"Subject", |b| {
        b.extend_from_slice(s.device.as_bytes());
        b.push(b':');
        b.extend_from_slice(&format_ssrc(s.offered));
        b.push(b',');
        b.extend_from_slice(me.id.as_bytes());
        b.extend_from_slice(b":0");
    });
    w.header(b"Content-Type", b"APPLICATION/SDP");
    w.finish(body);
}

/// Sets the session's target to the INVITE's Request-URI, `sip:<device>@<its address>`.
pub fn set_request_uri(s: &mut Session) {
    s.target.clear();
    push_sip_uri(&mut s.target, s.device.as_bytes(), &s.dest);
}

/// Writes the ACK to the session's 200 into `out`: to the remote target, in the dialog (the
/// To with the device's tag), a branch of its own.
pub fn write_ack_ok(out: &mut Vec<u8>, me: &Me, s: &Session) {
    in_dialog(out, me, s, Method::Ack, b'a', b"1 ACK").finish(b"");
}

/// Starts a request of `method` in the session's dialog: to the remote target, a Via branch
/// of its own (`branch` tells it apart), From, the To with the device's tag, the Call-ID, CSeq
/// `cseq` and Max-Forwards.
fn in_dialog<'v>(
    out: &'v mut Vec<u8>,
    me: &Me,
    s: &Session,
    method: Method<'_>,
    branch: u8,
    cseq: &[u8],
) -> Writer<'v> {
    let mut w = Writer::request(out, method, &s.target);
    w.header_with(b"Via", |b| push_via(b, me, s, branch));
    w.header_with(b"From", |b| push_from(b, me, s));
    w.header(b"To", &s.to);
    w.header_with(b"Call-ID", |b| push_call_id(b, me, s));
    w.header(b"CSeq", cseq);
    w.header(b"Max-Forwards", b"70");
    w
}

/// Writes the ACK to a final error response `resp` of an INVITE whose Request-URI was `uri`:
/// its top Via (same branch), From and Call-ID, the response's To.
pub fn write_ack_error(out: &mut Vec<u8>, resp: &Message<'_, '_>, uri: &[u8]) {
    use crate::sip::HeaderKind;
    let mut w = Writer::request(out, Method::Ack, uri);
    if let Some(v) = resp.header(HeaderKind::Via) {
        let first = crate::sip::params::CommaValues::new(v).next().unwrap_or(v);
        w.header(b"Via", first);
    }
    for (kind, name) in [
        (HeaderKind::From, &b"From"[..]),
        (HeaderKind::To, b"To"),
        (HeaderKind::CallId, b"Call-ID"),
    ] {
        if let Some(v) = resp.header(kind) {
            w.header(name, v);
        }
    }
    let seq = resp.cseq().map_or(1, |c| c.seq);
    w.header_with(b"CSeq", |b| {
        crate::sip::write::push_u64(b, u64::from(seq));
        b.extend_from_slice(b" ACK");
    });
    w.header(b"Max-Forwards", b"70");
    w.finish(b"");
}

/// Writes the session's BYE into `out`: in the dialog, CSeq 2.
pub fn write_bye(out: &mut Vec<u8>, me: &Me, s: &Session) {
    let mut w = in_dialog(out, me, s, Method::Bye, b'b', b"2 BYE");
    w.header(b"User-Agent", b"gbswarm-play");
    w.finish(b"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_name_their_slot_and_generation_for_this_salt_only() {
        let id = ident(0xdead_beef, 17, 3);
        assert_eq!(&id, b"deadbeef0000001100000003");
        let mut call = id.to_vec();
        call.extend_from_slice(CALL_ID_SUFFIX);
        assert_eq!(parse_call_id(0xdead_beef, &call), Some((17, 3)));
        assert_eq!(parse_call_id(1, &call), None);
        assert_eq!(
            parse_call_id(0xdead_beef, b"deadbeef00000011000000zz@gbswarm"),
            None
        );
        assert_eq!(parse_call_id(0xdead_beef, b"short"), None);
        assert_eq!(parse_call_id(0xdead_beef, &call[..ID_HEX]), None);
    }
}
