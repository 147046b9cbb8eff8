//! One play session's slot in the table: where it is in the INVITE exchange, the identifiers
//! that match later requests to it, its timers, and its own buffers (the last response to the
//! INVITE or the camera's BYE, kept for retransmission). A slot is reused after its session
//! ends; its buffers keep their capacity, so a warm slot costs no allocation.

use crate::camera::dialog_keys::DialogKeys;
use crate::camera::{T1, T2};
use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::gb::sdp::{MediaTransport, SessionKind};
use std::net::{Ipv4Addr, SocketAddr};

/// RFC 3261 Timer H (and Timer F for the camera's BYE): 64·T1, how long a final response waits
/// for its ACK.
pub const TIMER_H: Span = T1.times(64);

/// Where a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Unused.
    Free,
    /// 100 sent; the 200 goes out at `next` (the answer delay).
    Trying,
    /// TCP active media: StartMedia asked the host to listen; the 200 is written and sent
    /// when it says on which port ([`PlayTable::listening`](super::PlayTable::listening)).
    Listening,
    /// 200 sent, retransmitted at `next` until ACK or Timer H at `deadline`.
    Answered,
    /// ACK received: the dialog is up.
    Confirmed,
    /// A final error (404, 486, 487, 488) sent, retransmitted over UDP until ACK or Timer H.
    Completed,
    /// The camera's BYE in flight, retransmitted over UDP until a final response or Timer F.
    Byeing,
}

/// Indexes of the INVITE's identifiers kept in a slot.
pub(super) const CALL_ID: usize = 0;
/// The INVITE's top Via branch.
pub(super) const BRANCH: usize = 1;
/// The platform's From tag.
pub(super) const FROM_TAG: usize = 2;
/// The INVITE's From value as written (the camera's BYE puts it in To).
pub(super) const FROM: usize = 3;
/// The INVITE's To value as written, without a tag (the camera's BYE puts it in From).
pub(super) const TO: usize = 4;
/// The platform's Contact URI (the camera's BYE goes to it).
pub(super) const TARGET: usize = 5;
/// The INVITE's SDP offer (the 200's answer is written from it).
pub(super) const OFFER: usize = 6;
const PARTS: usize = 7;

/// One session.
#[derive(Debug)]
pub(super) struct Slot {
    pub state: State,
    /// Distinguishes this use of the slot from earlier ones (also makes the To tag).
    pub generation: u32,
    /// The camera's index in its fleet.
    pub device: u32,
    /// The INVITE's CSeq number.
    pub cseq: u32,
    /// Where the INVITE came from: every message of the session goes back there.
    pub source: SocketAddr,
    /// The camera's signalling address (Via of its BYE).
    pub signal: SocketAddr,
    /// Signalling over UDP (retransmit errors and the BYE), not TCP.
    pub udp: bool,
    /// Where the platform receives the video.
    pub media_to: SocketAddr,
    /// The camera's media address for the answer (its port replaced by the listening port
    /// for TCP active media).
    pub media: SocketAddr,
    /// The device's ID (the 200's Contact) and the channel the INVITE addressed (the
    /// answer's `o=`); set for a 200.
    pub ids: Option<(DeviceId, DeviceId)>,
    pub transport: MediaTransport,
    pub ssrc: u32,
    pub kind: SessionKind,
    /// StartMedia was emitted and StopMedia not yet.
    pub media_on: bool,
    /// The device's source ended before the ACK: send BYE once it comes (RFC 3261 §15).
    pub ending: bool,
    /// When the INVITE arrived.
    pub invite_at: Time,
    /// When the kept message (the 200, or the camera's BYE) was first sent.
    pub sent_at: Time,
    /// When the camera decided to end the session (its BYE's due time).
    pub bye_due: Time,
    /// Retransmissions of the kept message so far (saturating).
    pub resends: u8,
    /// The next retransmission (or the answer, in `Trying`); `Time::MAX` for none.
    pub next: Time,
    /// The current retransmission interval.
    pub interval: Span,
    /// Timer H or F; `Time::MAX` for none.
    pub deadline: Time,
    /// The last response to the INVITE, or the BYE in `Byeing`.
    pub wire: Vec<u8>,
    /// Where the INVITE response's copied headers (Via to CSeq) end in `wire`.
    pub head_end: usize,
    keys: DialogKeys<PARTS>,
}

impl Slot {
    /// A free slot. Its buffers are empty: they grow on its first use and keep their
    /// capacity, so an idle table (a run no platform plays) costs only the slot itself.
    pub fn new() -> Slot {
        let nowhere = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        Slot {
            state: State::Free,
            generation: 0,
            device: 0,
            cseq: 0,
            source: nowhere,
            signal: nowhere,
            udp: true,
            media_to: nowhere,
            media: nowhere,
            ids: None,
            transport: MediaTransport::Udp,
            ssrc: 0,
            kind: SessionKind::Play,
            media_on: false,
            ending: false,
            invite_at: Time::ZERO,
            sent_at: Time::ZERO,
            bye_due: Time::ZERO,
            resends: 0,
            next: Time::MAX,
            interval: T1,
            deadline: Time::MAX,
            wire: Vec::new(),
            head_end: 0,
            keys: DialogKeys::new(),
        }
    }

    /// Stores the identifiers, in the order of the index constants.
    pub fn set_keys(&mut self, parts: [&[u8]; PARTS]) {
        self.keys.set(parts);
    }

    /// One stored identifier.
    pub fn key(&self, i: usize) -> &[u8] {
        self.keys.get(i)
    }

    /// True while the session holds one of its device's streams.
    pub fn streaming(&self) -> bool {
        matches!(
            self.state,
            State::Trying | State::Listening | State::Answered | State::Confirmed
        )
    }

    /// The earliest time the slot needs `on_timer`.
    pub fn wake(&self) -> Option<Time> {
        let t = self.next.min(self.deadline);
        (self.state != State::Free && t != Time::MAX).then_some(t)
    }

    /// Arms a retransmitted message sent at `now`: first again after T1 if `retransmit`, and
    /// `limit` (Timer H or F) from now.
    pub fn arm(&mut self, now: Time, retransmit: bool, limit: Span) {
        self.sent_at = now;
        self.resends = 0;
        self.interval = T1;
        self.next = if retransmit { now + T1 } else { Time::MAX };
        self.deadline = now + limit;
    }

    /// Schedules the next retransmission after one went out at `now`: T1 doubling up to T2.
    pub fn retransmitted(&mut self, now: Time) {
        self.resends = self.resends.saturating_add(1);
        self.interval = (2 * self.interval).min(T2);
        self.next = now + self.interval;
    }

    /// Stops every timer.
    pub fn disarm(&mut self) {
        self.next = Time::MAX;
        self.deadline = Time::MAX;
    }

    /// Frees the slot (its buffers keep their capacity).
    pub fn free(&mut self) {
        self.state = State::Free;
        self.media_on = false;
        self.ending = false;
        self.disarm();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_and_timers_double_to_t2() {
        let mut s = Slot::new();
        s.set_keys([
            b"cid",
            b"z9hG4bKa",
            b"",
            b"<sip:p@d>;tag=f",
            b"<sip:c@d>",
            b"sip:p@h",
            b"v=0\r\n",
        ]);
        assert_eq!(s.key(CALL_ID), b"cid");
        assert_eq!(s.key(FROM_TAG), b"");
        assert_eq!(s.key(TARGET), b"sip:p@h");
        assert_eq!(s.wake(), None);
        s.state = State::Answered;
        s.arm(Time::ZERO, true, TIMER_H);
        let mut sends = vec![];
        while let Some(w) = s.wake()
            && w < s.deadline
        {
            sends.push(w.as_millis());
            s.retransmitted(w);
        }
        assert_eq!(&sends[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(sends.last(), Some(&31500));
        assert_eq!(s.wake(), Some(Time::ZERO + TIMER_H));
        s.free();
        assert_eq!(s.wake(), None);
    }
}
