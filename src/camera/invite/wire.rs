//! The session messages a camera writes beyond plain responses: the To tag and BYE branch it
//! derives from the table's salt and a slot's generation (so nothing is stored for them), final
//! responses rebuilt from the headers an earlier response to the same INVITE copied (the 200
//! with its answer, the 487 after a CANCEL, the 500 when the camera cannot listen), and the
//! camera's BYE in the dialog.

use super::slot::{FROM, Slot, TARGET, TO};
use crate::sip::write::{push_addr, push_name_addr, push_u64, reason_phrase};
use crate::sip::{Method, Writer};

/// Length of a To tag.
pub(super) const TAG_LEN: usize = 16;
/// Length of a BYE branch.
pub(super) const BRANCH_LEN: usize = 7 + 16 + 1;

/// Writes `salt` and `generation` as 16 hex digits into `out`.
fn hex16(out: &mut [u8], salt: u32, generation: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = (u64::from(salt) << 32) | u64::from(generation);
    for (i, d) in out.iter_mut().enumerate() {
        *d = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
}

/// The camera's To tag for a session.
pub(super) fn tag(salt: u32, generation: u32) -> [u8; TAG_LEN] {
    let mut t = [0u8; TAG_LEN];
    hex16(&mut t, salt, generation);
    t
}

/// The Via branch of the camera's BYE for a session.
pub(super) fn bye_branch(salt: u32, generation: u32) -> [u8; BRANCH_LEN] {
    let mut b = [0u8; BRANCH_LEN];
    b[..7].copy_from_slice(b"z9hG4bK");
    hex16(&mut b[7..23], salt, generation);
    b[23] = b'b';
    b
}

/// Writes into `out` a final response `code` to the INVITE whose earlier response is in
/// `slot.wire`: its status line replaced, its copied headers (Via to CSeq, To with the tag)
/// kept, no body.
pub(super) fn rewrite_final(out: &mut Vec<u8>, slot: &Slot, code: u16, user_agent: &[u8]) {
    status_and_head(out, slot, code, user_agent);
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// Writes into `out` the 200 to the INVITE whose earlier response is in `slot.wire` (its
/// copied headers kept), with the camera's Contact (`user` at its signalling address) and the
/// SDP answer `sdp` as its body.
pub(super) fn rewrite_ok(
    out: &mut Vec<u8>,
    slot: &Slot,
    user_agent: &[u8],
    user: &[u8],
    sdp: &[u8],
) {
    status_and_head(out, slot, 200, user_agent);
    out.extend_from_slice(b"Contact: ");
    push_name_addr(out, user, &slot.signal);
    out.extend_from_slice(b"\r\nContent-Type: application/sdp\r\nContent-Length: ");
    push_u64(out, sdp.len() as u64);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(sdp);
}

/// Clears `out` and writes the status line of `code`, the headers an earlier response to the
/// same INVITE copied (kept in `slot.wire`) and the User-Agent.
fn status_and_head(out: &mut Vec<u8>, slot: &Slot, code: u16, user_agent: &[u8]) {
    let head_start = memchr::memchr(b'\n', &slot.wire).map_or(0, |i| i + 1);
    let head = slot.wire.get(head_start..slot.head_end).unwrap_or(b"");
    out.clear();
    out.extend_from_slice(b"SIP/2.0 ");
    push_u64(out, u64::from(code));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(code));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(head);
    out.extend_from_slice(b"User-Agent: ");
    out.extend_from_slice(user_agent);
    out.extend_from_slice(b"\r\n");
}

/// Writes into `out` the camera's BYE in `slot`'s dialog: to the platform's Contact, From the
/// INVITE's To with the camera's tag, To the INVITE's From, the camera's own CSeq 1.
pub(super) fn write_bye(out: &mut Vec<u8>, slot: &Slot, salt: u32, user_agent: &[u8]) {
    let mut w = Writer::request(out, Method::Bye, slot.key(TARGET));
    w.header_with(b"Via", |b| {
        b.extend_from_slice(if slot.udp {
            b"SIP/2.0/UDP "
        } else {
            b"SIP/2.0/TCP "
        });
        push_addr(b, &slot.signal);
        b.extend_from_slice(b";rport;branch=");
        b.extend_from_slice(&bye_branch(salt, slot.generation));
    });
    w.header_with(b"From", |b| {
        b.extend_from_slice(slot.key(TO));
        b.extend_from_slice(b";tag=");
        b.extend_from_slice(&tag(salt, slot.generation));
    });
    w.header(b"To", slot.key(FROM));
    w.header(b"Call-ID", slot.key(super::slot::CALL_ID));
    w.header(b"CSeq", b"1 BYE");
    w.header(b"Max-Forwards", b"70");
    w.header(b"User-Agent", user_agent);
    w.finish(b"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_branches_are_hex_of_salt_and_generation() {
        assert_eq!(&tag(0xdead_beef, 7), b"deadbeef00000007");
        assert_eq!(&bye_branch(1, 0xffff_ffff), b"z9hG4bK00000001ffffffffb");
    }
}
