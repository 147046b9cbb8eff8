//! The final response to a kept INVITE: the 200 written from the offer kept in the slot
//! (at once, after the answer delay, or for TCP active media once the host listens), and the
//! errors that end the INVITE before its 200 (487 after a CANCEL, 500 when the host cannot
//! listen), each kept for retransmission until the ACK or Timer H. It never picks the
//! listening port: the host does, and says which with [`PlayTable::listening`].

use super::slot::{OFFER, State};
use super::{PlayTable, SessionId, SsrcAnswer, TIMER_H, wire};
use crate::camera::{Outcome, TxnKind};
use crate::clock::Time;
use crate::gb::sdp::{MediaTransport, Offer};
use crate::gb::sdp_answer::{AnswerSsrc, Local, write_answer};

impl PlayTable {
    /// Writes slot `i`'s 200 into its wire: the kept head, the Contact and the answer to the
    /// kept offer from the slot's media address; false if there is no answer to write.
    pub(super) fn write_ok(&mut self, i: usize) -> bool {
        let s = &self.slots[i];
        let (Some((id, channel)), Ok(offer)) = (s.ids, Offer::parse(s.key(OFFER))) else {
            return false;
        };
        self.body.clear();
        let local = Local {
            device: &channel,
            media: s.media,
            ssrc: match self.cfg.answer_ssrc {
                SsrcAnswer::Offered => AnswerSsrc::Offered,
                SsrcAnswer::Own => AnswerSsrc::Own(s.ssrc),
            },
            format: self.cfg.format.as_deref().map(str::as_bytes),
        };
        write_answer(&mut self.body, &offer, &local);
        wire::rewrite_ok(
            &mut self.scratch,
            s,
            self.cfg.user_agent.as_bytes(),
            id.as_bytes(),
            &self.body,
        );
        std::mem::swap(&mut self.slots[i].wire, &mut self.scratch);
        true
    }

    /// Counts a final error response.
    pub(super) fn count_error(&mut self, code: u16) {
        let c = &mut self.counters;
        match code {
            404 => c.not_found += 1,
            486 => c.busy += 1,
            487 => c.cancelled += 1,
            488 => c.not_acceptable += 1,
            500 => c.server_errors += 1,
            _ => {}
        }
    }

    /// Slot `i`'s final error is in its wire: send it, kept until ACK or Timer H.
    pub(super) fn complete(&mut self, i: usize, now: Time, code: u16) {
        let s = &mut self.slots[i];
        s.state = State::Completed;
        let udp = s.udp;
        s.arm(now, udp, TIMER_H);
        let due = s.invite_at;
        self.record(i, TxnKind::Invite, Outcome::Status(code), due, now);
        self.send_slot(i);
    }

    /// Answers slot `i`: its 200 now, or for TCP active media first StartMedia (listen) and
    /// the 200 once the host says where ([`listening`](Self::listening)).
    pub(super) fn answer(&mut self, i: usize, now: Time) {
        if self.slots[i].transport == MediaTransport::TcpActive {
            self.start_media(i);
            let s = &mut self.slots[i];
            s.state = State::Listening;
            s.disarm();
        } else {
            self.send_ok(i, now);
        }
    }

    /// Writes and sends slot `i`'s 200, retransmitted until the ACK.
    fn send_ok(&mut self, i: usize, now: Time) {
        if !self.write_ok(i) {
            self.refuse(i, now, 500);
            return;
        }
        self.counters.answered += 1;
        let s = &mut self.slots[i];
        s.state = State::Answered;
        // The UAS core retransmits a 2xx over every transport (RFC 3261 §13.3.1.4).
        s.arm(now, true, TIMER_H);
        self.send_slot(i);
    }

    /// Ends slot `i`'s INVITE before its 200 with the final error `code` (its media stopped).
    pub(super) fn refuse(&mut self, i: usize, now: Time, code: u16) {
        self.stop_media(i);
        wire::rewrite_final(
            &mut self.scratch,
            &self.slots[i],
            code,
            self.cfg.user_agent.as_bytes(),
        );
        std::mem::swap(&mut self.slots[i].wire, &mut self.scratch);
        self.count_error(code);
        self.complete(i, now, code);
    }

    /// The host listens for `session`'s TCP media (StartMedia with
    /// [`MediaTransport::TcpActive`]) on `port` of the camera's media IP: the 200 goes out
    /// now with that port in its `m=video`. A stale or unknown session is ignored.
    pub fn listening(&mut self, now: Time, session: SessionId, port: u16) {
        self.begin();
        let i = session.slot();
        let Some(s) = self
            .slots
            .get_mut(i)
            .filter(|s| s.generation == session.generation && s.state == State::Listening)
        else {
            return;
        };
        s.media.set_port(port);
        self.send_ok(i, now);
    }
}
