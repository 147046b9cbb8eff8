//! After the INVITE: the ACK, CANCEL and BYE from the platform, the camera's own BYE (when
//! its source ends or Timer H fires) and the responses to it, media start and stop, and the
//! timers that drive retransmissions. Matching is by Call-ID and tags (dialogs) or Call-ID
//! and branch (the INVITE transaction), scanning the table.

use super::slot::{CALL_ID, State};
use super::{Action, PlayTable, SessionId, wire};
use crate::camera::{Outcome, T2, TIMER_F, TxnKind};
use crate::clock::Time;
use crate::gb::sdp::MediaTransport;
use crate::sip::Message;
use std::net::SocketAddr;

impl PlayTable {
    pub(super) fn start_media(&mut self, i: usize) {
        let session = self.session(i);
        let s = &mut self.slots[i];
        s.media_on = true;
        self.actions.push(Action::StartMedia {
            session,
            to: s.media_to,
            transport: s.transport,
            ssrc: s.ssrc,
            kind: s.kind,
        });
    }

    pub(super) fn stop_media(&mut self, i: usize) {
        if self.slots[i].media_on {
            self.slots[i].media_on = false;
            let session = self.session(i);
            self.actions.push(Action::StopMedia { session });
        }
    }

    /// Stops slot `i`'s media and sends the camera's BYE in its dialog.
    fn bye(&mut self, i: usize, now: Time) {
        self.stop_media(i);
        let s = &mut self.slots[i];
        if !s.ending {
            s.bye_due = now;
        }
        wire::write_bye(
            &mut self.scratch,
            s,
            self.cfg.salt,
            self.cfg.user_agent.as_bytes(),
        );
        std::mem::swap(&mut s.wire, &mut self.scratch);
        s.state = State::Byeing;
        s.ending = false;
        let udp = s.udp;
        s.arm(now, udp, TIMER_F);
        self.counters.byes_sent += 1;
        self.send_slot(i);
    }

    /// Takes an ACK: for a 200 the dialog is up (media starts unless it listened already);
    /// for an error response the transaction ends; anything else is absorbed.
    pub fn on_ack(&mut self, now: Time, msg: &Message<'_, '_>) {
        self.begin();
        let Some(i) = self.dialog_of(msg) else {
            return;
        };
        match self.slots[i].state {
            State::Answered => {
                let s = &mut self.slots[i];
                s.state = State::Confirmed;
                s.disarm();
                let after = now.since(s.invite_at);
                let (ending, tcp_active) = (s.ending, s.transport == MediaTransport::TcpActive);
                let due = s.invite_at;
                self.record(i, TxnKind::Invite, Outcome::Status(200), due, now);
                self.counters.acked += 1;
                let session = self.session(i);
                self.actions.push(Action::Acked { session, after });
                if ending {
                    self.bye(i, now);
                } else if !tcp_active {
                    self.start_media(i);
                }
            }
            State::Completed => self.slots[i].free(),
            _ => {}
        }
    }

    /// Takes a CANCEL from `source`: before the 200 the INVITE gets 487; either way the
    /// CANCEL gets 200 (481 when it matches no INVITE).
    pub fn on_cancel(&mut self, now: Time, msg: &Message<'_, '_>, source: SocketAddr) {
        self.begin();
        let i = match (msg.call_id(), msg.via()) {
            (Some(call_id), Some(via)) => self.transaction_of(call_id, via.branch().unwrap_or(b"")),
            _ => None,
        };
        let Some(i) = i else {
            self.counters.unknown_dialog += 1;
            self.respond(msg, 481, None, source);
            return;
        };
        let tag = self.tag(i);
        self.respond(msg, 200, Some(&tag), source);
        if matches!(self.slots[i].state, State::Trying | State::Listening) {
            self.refuse(i, now, 487);
        }
    }

    /// Takes a BYE from `source`: 200 and the session ends; 481 for an unknown dialog.
    pub fn on_bye(&mut self, _now: Time, msg: &Message<'_, '_>, source: SocketAddr) {
        self.begin();
        let i = self.dialog_of(msg).filter(|&i| {
            matches!(
                self.slots[i].state,
                State::Answered | State::Confirmed | State::Byeing
            )
        });
        let Some(i) = i else {
            self.counters.unknown_dialog += 1;
            self.respond(msg, 481, None, source);
            return;
        };
        self.counters.byes_received += 1;
        self.respond(msg, 200, None, source);
        self.stop_media(i);
        self.slots[i].free();
    }

    /// Takes a response; those to the camera's BYE end it (a provisional one slows its
    /// retransmissions to T2), others are ignored.
    pub fn on_response(&mut self, now: Time, msg: &Message<'_, '_>) {
        self.begin();
        let (Some(code), Some(call_id), Some(via)) = (msg.status(), msg.call_id(), msg.via())
        else {
            return;
        };
        let branch = via.branch().unwrap_or(b"");
        let salt = self.cfg.salt;
        let Some(i) = self.slots.iter().position(|s| {
            s.state == State::Byeing
                && s.key(CALL_ID) == call_id
                && branch == wire::bye_branch(salt, s.generation)
        }) else {
            return;
        };
        if code >= 200 {
            let due = self.slots[i].bye_due;
            self.record(i, TxnKind::Bye, Outcome::Status(code), due, now);
            self.slots[i].free();
            return;
        }
        let s = &mut self.slots[i];
        if s.next != Time::MAX {
            s.interval = T2;
            s.next = now + T2;
        }
    }

    /// The device's source for `session` ended (or its TCP media dropped, or could not
    /// listen): BYE now if the dialog is up, right after the ACK if the 200 is not
    /// acknowledged yet, 500 to the INVITE if its 200 waits for [`PlayTable::listening`];
    /// otherwise nothing.
    pub fn media_ended(&mut self, now: Time, session: SessionId) {
        self.begin();
        let i = session.slot();
        let state = self
            .slots
            .get(i)
            .filter(|s| s.generation == session.generation)
            .map(|s| s.state);
        match state {
            Some(State::Confirmed) => self.bye(i, now),
            Some(State::Answered) => {
                self.slots[i].ending = true;
                self.slots[i].bye_due = now;
                self.stop_media(i);
            }
            Some(State::Listening) => self.refuse(i, now, 500),
            _ => {}
        }
    }

    /// Device `index` went down (a TeleBoot reboot): its sessions end at once, their media
    /// stopped and no BYE sent (the device just went away; the platform's own BYE later gets
    /// 481), each counted in [`PlayCounters::dropped_on_reboot`](super::PlayCounters). An
    /// INVITE or BYE transaction still in flight is recorded as abandoned. False (and nothing
    /// done) when it held none.
    pub fn device_down(&mut self, now: Time, index: u32) -> bool {
        if !self
            .slots
            .iter()
            .any(|s| s.state != State::Free && s.device == index)
        {
            return false;
        }
        self.begin();
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if s.state == State::Free || s.device != index {
                continue;
            }
            let (state, invite_at, bye_due) = (s.state, s.invite_at, s.bye_due);
            match state {
                State::Trying | State::Listening | State::Answered => {
                    self.record(i, TxnKind::Invite, Outcome::Abandoned, invite_at, now);
                }
                State::Byeing => {
                    self.record(i, TxnKind::Bye, Outcome::Abandoned, bye_due, now);
                }
                State::Free | State::Confirmed | State::Completed => {}
            }
            if !matches!(state, State::Byeing | State::Completed) {
                self.counters.dropped_on_reboot += 1;
            }
            self.stop_media(i);
            self.slots[i].free();
        }
        true
    }

    /// Fires every timer due by `now`: answers after the delay, retransmissions, Timer H (BYE)
    /// and Timer F.
    pub fn on_timer(&mut self, now: Time) {
        self.begin();
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            if s.wake().is_none_or(|t| t > now) {
                continue;
            }
            match s.state {
                State::Trying => self.answer(i, now),
                State::Answered if s.deadline <= now => {
                    self.counters.ack_timeouts += 1;
                    let due = s.invite_at;
                    self.record(i, TxnKind::Invite, Outcome::Timeout, due, now);
                    self.bye(i, now);
                }
                State::Byeing if s.deadline <= now => {
                    self.counters.bye_timeouts += 1;
                    let due = s.bye_due;
                    self.record(i, TxnKind::Bye, Outcome::Timeout, due, now);
                    self.slots[i].free();
                }
                State::Completed if s.deadline <= now => s.free(),
                State::Answered | State::Byeing | State::Completed => {
                    s.retransmitted(now);
                    self.counters.retransmissions += 1;
                    self.send_slot(i);
                }
                State::Free | State::Confirmed | State::Listening => s.disarm(),
            }
        }
    }
}
