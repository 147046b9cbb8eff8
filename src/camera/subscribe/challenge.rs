//! Challenges to alarm MESSAGEs, answered as the camera answers those to its keepalives
//! ([`crate::camera::fsm`]'s `challenge`): a 401 or 407 gets the same MESSAGE again once,
//! with credentials in the header the challenge asks for, the same Call-ID and CSeq 2, as one
//! transaction (timed from the alarm, lag to the first send, the first's Timer F). A challenge
//! offering `qop=auth` is kept in the worker's [`Credentials`] (shared with the cameras' own
//! MESSAGEs, by device index), so the device's next MESSAGEs carry credentials at once. A
//! second challenge ends the MESSAGE with its status and forgets the kept one.

use super::slot::Txn;
use super::wire::{AlarmFrom, AlarmUri, write_alarm_message};
use super::{Ctx, Device, SubTable, Transmit, What};
use crate::camera::Transport;
use crate::clock::Time;
use crate::sip::{Message, digest};

impl SubTable {
    /// Writes credentials for a MESSAGE of `dev` into the table's `auth` from the challenge
    /// kept for it (its nonce with the next count); the header they go in, or none when
    /// nothing is kept.
    pub(super) fn reuse_credentials(
        &mut self,
        dev: &Device,
        ctx: &mut Ctx<'_>,
    ) -> Option<&'static [u8]> {
        let uri = AlarmUri::new(&ctx.cfg.server_id, ctx.cfg.domain.as_bytes());
        let user: (&[u8], &[u8]) = (dev.id.as_bytes(), ctx.cfg.password_of(dev.index));
        ctx.credentials
            .authorize(dev.index, user, uri.as_bytes(), &mut self.auth)
    }

    /// A 401 or 407 to alarm slot `a`'s MESSAGE: sends it again with credentials and
    /// returns true, or returns false when the response ends it (it answered a challenge
    /// already, no challenge can be answered, or its device is gone).
    pub(super) fn alarm_challenged(
        &mut self,
        a: usize,
        msg: &Message<'_, '_>,
        now: Time,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        let index = self.alarm_slots[a].device;
        if self.alarm_slots[a].authed {
            ctx.credentials.forget(index);
            return false;
        }
        let Ok(ch) = digest::choose(msg) else {
            ctx.credentials.forget(index);
            return false;
        };
        let Some(dev) = (ctx.devices)(index) else {
            return false;
        };
        // The same alarm again: its body is the kept MESSAGE's.
        let wire = self.pool.get(self.alarm_slots[a].wire);
        let body_at = memchr::memmem::find(wire, b"\r\n\r\n").map_or(wire.len(), |i| i + 4);
        self.body.clear();
        self.body
            .extend_from_slice(wire.get(body_at..).unwrap_or(b""));
        let cnonce = cnonce(self.cfg.salt, self.generation);
        let uri = AlarmUri::new(&ctx.cfg.server_id, ctx.cfg.domain.as_bytes());
        let user: (&[u8], &[u8]) = (dev.id.as_bytes(), ctx.cfg.password_of(index));
        let to = (uri.as_bytes(), cnonce);
        if !ctx.credentials.answer(index, &ch, user, to, &mut self.auth) {
            return false;
        }
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let from = AlarmFrom {
            device: &dev,
            server_id: &ctx.cfg.server_id,
            domain: ctx.cfg.domain.as_bytes(),
            run_id: ctx.cfg.run_id ^ self.cfg.salt,
            user_agent: self.cfg.user_agent.as_bytes(),
        };
        let ids = (a, generation, self.alarm_slots[a].call, 2);
        let auth = Some((ch.answer_header(), &self.auth[..]));
        write_alarm_message(&mut self.scratch, &from, ids, auth, &self.body);
        let slot = &mut self.alarm_slots[a];
        self.pool.release(slot.wire.take());
        slot.wire = Some(self.pool.put(&self.scratch));
        slot.generation = generation;
        slot.authed = true;
        let first = slot.txn;
        // One transaction over both requests: the first's send (the lag), Timer F and
        // retransmissions.
        let mut t = Txn::start(first.due, now, dev.transport == Transport::Udp);
        t.sent_at = first.sent_at;
        t.deadline = first.deadline;
        t.resends = first.resends;
        slot.txn = t;
        slot.to = dev.server;
        self.sends.push(Transmit {
            device: index,
            to: dev.server,
            what: What::Alarm(a),
        });
        self.rearm_alarm(a);
        true
    }
}

/// A client nonce of 8 hex digits from the table's salt and a request's generation.
fn cnonce(salt: u32, generation: u32) -> [u8; 8] {
    let v = salt.rotate_left(13) ^ generation.wrapping_mul(0x9e37_79b9);
    let mut cn = [0u8; 8];
    for (i, c) in cn.iter_mut().enumerate() {
        *c = b"0123456789abcdef"[((v >> (28 - 4 * i)) & 0xf) as usize];
    }
    cn
}
