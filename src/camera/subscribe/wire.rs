//! The SIP messages of subscriptions beyond plain responses: the camera's To tag (from the
//! table's salt and a slot's generation, so nothing is stored for it), the 200 to a SUBSCRIBE,
//! the NOTIFY in a subscription's dialog, and the out-of-dialog alarm MESSAGE. Branches carry
//! the device's fleet index in the camera's own form ([`push_branch`]) so a shared socket
//! routes their responses to the device; their counter has its top bit set, which the
//! camera's own counter (from 1 up) never reaches in a run.

use super::slot::{CALL_ID, EVENT, FROM, Slot, TARGET, TO};
use crate::camera::Transport;
use crate::camera::request::{parse_branch, push_branch};
use crate::gb::DeviceId;
use crate::gb::manscdp::CONTENT_TYPE;
use crate::sip::write::{push_addr, push_hex, push_name_addr, push_u64};
use crate::sip::{Message, Method, Writer, response_to};
use std::net::SocketAddr;

/// Length of a To tag.
pub(super) const TAG_LEN: usize = 16;

/// The camera's To tag for a subscription.
pub(super) fn tag(salt: u32, generation: u32) -> [u8; TAG_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = (u64::from(salt) << 32) | u64::from(generation);
    let mut t = [0u8; TAG_LEN];
    for (i, d) in t.iter_mut().enumerate() {
        *d = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
    t
}

/// The branch counter of the table's NOTIFY number `seq` (30 bits of a table-wide count: the
/// NOTIFYs of one device never share a branch, however many slots the table has).
pub(super) fn notify_counter(seq: u32) -> u32 {
    0x8000_0000 | (seq & 0x3fff_ffff)
}

/// The branch counter of alarm slot `slot`'s MESSAGE of `generation`.
pub(super) fn alarm_counter(slot: usize, generation: u32) -> u32 {
    0xc000_0000 | ((slot as u32 & 0x3fff) << 16) | (generation & 0xffff)
}

/// The alarm slot an alarm MESSAGE's branch counter names.
pub(super) fn alarm_slot_of(counter: u32) -> usize {
    ((counter >> 16) & 0x3fff) as usize
}

/// What a branch the table wrote is: `Some(true)` an alarm MESSAGE's, `Some(false)` a
/// NOTIFY's, `None` none of the table's (the camera's own).
pub fn table_branch(branch: &[u8]) -> Option<bool> {
    let (_, counter) = parse_branch(branch)?;
    (counter & 0x8000_0000 != 0).then_some(counter & 0x4000_0000 != 0)
}

fn via(b: &mut Vec<u8>, udp: bool, signal: &SocketAddr, index: u32, counter: u32) {
    b.extend_from_slice(if udp {
        b"SIP/2.0/UDP "
    } else {
        b"SIP/2.0/TCP "
    });
    push_addr(b, signal);
    b.extend_from_slice(b";rport;branch=");
    push_branch(b, index, counter);
}

/// Writes into `out` the 200 to `msg`: the camera's To tag, the granted `expires`, the
/// device's Contact and the User-Agent.
pub(super) fn write_ok(
    out: &mut Vec<u8>,
    msg: &Message<'_, '_>,
    to_tag: &[u8],
    source: SocketAddr,
    expires: u32,
    (device, signal): (&DeviceId, &SocketAddr),
    user_agent: &[u8],
) {
    let mut w = response_to(out, msg, 200, Some(to_tag), Some(&source));
    w.header_u64(b"Expires", u64::from(expires));
    w.header_with(b"Contact", |b| push_name_addr(b, device.as_bytes(), signal));
    w.header(b"User-Agent", user_agent);
    w.finish(b"");
}

/// The `Subscription-State` of a NOTIFY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SubState {
    /// Active, this many seconds left.
    Active(u64),
    /// Ended: `terminated;reason=timeout`.
    Terminated,
}

/// Writes into `out` a NOTIFY in `slot`'s dialog, the table's NOTIFY number `seq` (its
/// branch): to the platform's Contact, From the
/// SUBSCRIBE's To with the camera's tag, To the SUBSCRIBE's From, the camera's CSeq, the
/// echoed Event, `state`, and `body` (MANSCDP) if any.
pub(super) fn write_notify(
    out: &mut Vec<u8>,
    (slot, seq): (&Slot, u32),
    (device, salt): (&DeviceId, u32),
    state: SubState,
    user_agent: &[u8],
    body: &[u8],
) {
    let mut w = Writer::request(out, Method::Notify, slot.key(TARGET));
    let counter = notify_counter(seq);
    w.header_with(b"Via", |b| {
        via(b, slot.udp, &slot.signal, slot.device, counter)
    });
    w.header_with(b"From", |b| {
        b.extend_from_slice(slot.key(TO));
        b.extend_from_slice(b";tag=");
        b.extend_from_slice(&tag(salt, slot.generation));
    });
    w.header(b"To", slot.key(FROM));
    w.header(b"Call-ID", slot.key(CALL_ID));
    w.header_with(b"CSeq", |b| {
        push_u64(b, u64::from(slot.cseq));
        b.extend_from_slice(b" NOTIFY");
    });
    w.header(b"Max-Forwards", b"70");
    w.header_with(b"Contact", |b| {
        push_name_addr(b, device.as_bytes(), &slot.signal)
    });
    w.header(b"Event", slot.key(EVENT));
    w.header_with(b"Subscription-State", |b| match state {
        SubState::Active(left) => {
            b.extend_from_slice(b"active;expires=");
            push_u64(b, left);
        }
        SubState::Terminated => b.extend_from_slice(b"terminated;reason=timeout"),
    });
    w.header(b"User-Agent", user_agent);
    if !body.is_empty() {
        w.header(b"Content-Type", CONTENT_TYPE);
    }
    w.finish(body);
}

/// Who sends an alarm MESSAGE and to whom.
pub(super) struct AlarmFrom<'a> {
    pub device: &'a super::Device,
    pub server_id: &'a DeviceId,
    pub domain: &'a [u8],
    pub run_id: u32,
    pub user_agent: &'a [u8],
}

/// The Request-URI of an alarm MESSAGE, `sip:` the registrar's ID `@` the domain, on the
/// stack (the domain is cut at 100 bytes).
pub(super) struct AlarmUri {
    bytes: [u8; 128],
    len: usize,
}

impl AlarmUri {
    pub fn new(server_id: &DeviceId, domain: &[u8]) -> AlarmUri {
        let mut u = AlarmUri {
            bytes: [0; 128],
            len: 0,
        };
        for part in [&b"sip:"[..], server_id.as_bytes(), b"@", domain] {
            let k = part.len().min(u.bytes.len() - u.len);
            u.bytes[u.len..u.len + k].copy_from_slice(&part[..k]);
            u.len += k;
        }
        u
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Writes into `out` alarm slot `slot`'s MESSAGE carrying `body`, as the camera's other
/// MESSAGEs go: to the registrar's ID at the domain (after a 302 too: the datagram goes to
/// the redirect target), From the device with a tag, a Call-ID of its own from `call`, the
/// branch from `generation`, CSeq `cseq`, and `auth` (header name, value) if given.
pub(super) fn write_alarm_message(
    out: &mut Vec<u8>,
    f: &AlarmFrom<'_>,
    (slot, generation, call, cseq): (usize, u32, u32, u32),
    auth: Option<(&[u8], &[u8])>,
    body: &[u8],
) {
    let d = f.device;
    let uri = AlarmUri::new(f.server_id, f.domain);
    let uri = uri.as_bytes();
    let counter = alarm_counter(slot, generation);
    let first = alarm_counter(slot, call);
    let mut w = Writer::request(out, Method::Message, uri);
    let udp = d.transport == Transport::Udp;
    w.header_with(b"Via", |b| via(b, udp, &d.signal, d.index, counter));
    w.header_with(b"From", |b| {
        b.extend_from_slice(b"<sip:");
        b.extend_from_slice(d.id.as_bytes());
        b.push(b'@');
        b.extend_from_slice(f.domain);
        b.extend_from_slice(b">;tag=a");
        push_hex(b, u64::from(first), 8);
    });
    w.header_with(b"To", |b| {
        b.push(b'<');
        b.extend_from_slice(uri);
        b.push(b'>');
    });
    w.header_with(b"Call-ID", |b| {
        push_hex(b, u64::from(f.run_id), 8);
        push_hex(b, u64::from(d.index), 8);
        b.push(b'a');
        push_hex(b, u64::from(first), 8);
        push_hex(b, u64::from(call), 8);
        b.extend_from_slice(b"@gbswarm");
    });
    w.header_with(b"CSeq", |b| {
        push_u64(b, u64::from(cseq));
        b.extend_from_slice(b" MESSAGE");
    });
    w.header(b"Max-Forwards", b"70");
    w.header(b"User-Agent", f.user_agent);
    if let Some((name, value)) = auth {
        w.header(name, value);
    }
    w.header(b"Content-Type", CONTENT_TYPE);
    w.finish(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_hex_and_branches_say_whose_they_are() {
        assert_eq!(&tag(0xdead_beef, 7), b"deadbeef00000007");
        let mut b = Vec::new();
        push_branch(&mut b, 5, notify_counter(u32::MAX));
        assert_eq!(table_branch(&b), Some(false));
        assert_eq!(parse_branch(&b).map(|p| p.0), Some(5));
        b.clear();
        push_branch(&mut b, 5, alarm_counter(3, 9));
        assert_eq!(table_branch(&b), Some(true));
        assert_eq!(alarm_slot_of(alarm_counter(1023, 9)), 1023);
        b.clear();
        push_branch(&mut b, 5, 12);
        assert_eq!(table_branch(&b), None);
        assert_eq!(table_branch(b"z9hG4bKforeign"), None);
    }
}
