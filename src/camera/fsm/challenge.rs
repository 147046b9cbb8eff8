//! Challenges to the camera's MESSAGEs (keepalives, query answers). A registrar that
//! authenticates every request answers them 401 or 407 (RFC 3261 8.1.3.5, 22.2): the camera
//! sends the same request again once, with credentials in the header the challenge asks for,
//! the same Call-ID and the CSeq one higher. Both requests are one transaction with one record,
//! timed from when the first was due, with the first one's send as its lag and its Timer F.
//!
//! A challenge offering `qop=auth` is kept per worker ([`crate::camera::credentials`]), so the
//! camera's next MESSAGEs carry credentials at once: the same nonce with the next `nc`. A
//! second challenge to the same request ends it with that status and forgets the kept one.

use super::{Camera, HB_AUTHED, Q_AUTHED, Slot};
use crate::camera::Env;
use crate::camera::request::{Ids, Target, UriBuf, write_message};
use crate::camera::transaction::Txn;
use crate::clock::Time;
use crate::sip::{Message, digest};

impl Camera {
    /// The flag that marks the request in flight in `slot` as the answer to a challenge.
    pub(super) fn authed_flag(slot: Slot) -> u16 {
        match slot {
            Slot::Hb => HB_AUTHED,
            Slot::Query => Q_AUTHED,
            // The registration flow keeps its own (`AUTHED`).
            Slot::Reg => 0,
        }
    }

    /// A fresh client nonce: 8 hex digits.
    pub(super) fn cnonce(&mut self) -> [u8; 8] {
        let r = self.next_rand();
        let mut cn = [0u8; 8];
        for (i, c) in cn.iter_mut().enumerate() {
            *c = b"0123456789abcdef"[((r >> (28 - 4 * i)) & 0xf) as usize];
        }
        cn
    }

    /// Writes credentials for a MESSAGE to `target` into `env.out.auth` from the challenge
    /// kept for this camera (its nonce with the next count); the header they go in, or none
    /// when nothing is kept.
    pub(super) fn reuse_credentials(
        &mut self,
        target: &Target<'_>,
        env: &mut Env<'_>,
    ) -> Option<&'static [u8]> {
        let out = &mut *env.out;
        let uri = UriBuf::new(target);
        let user: (&[u8], &[u8]) = (self.id.as_bytes(), env.cfg.password_of(self.index));
        out.credentials
            .authorize(self.index, user, uri.as_bytes(), &mut out.auth)
    }

    /// A 401 or 407 to the MESSAGE in `slot`: sends it again with credentials and returns
    /// true, or returns false when the response ends the transaction (the request already
    /// answered a challenge, or none can be answered: counted in
    /// [`unanswerable_challenges`](crate::camera::Counters::unanswerable_challenges)).
    pub(super) fn message_challenged(
        &mut self,
        slot: Slot,
        msg: &Message<'_, '_>,
        now: Time,
        env: &mut Env<'_>,
    ) -> bool {
        let flag = Self::authed_flag(slot);
        if flag == 0 || self.flags & flag != 0 {
            // Our credentials were refused: the next MESSAGE starts afresh.
            env.out.credentials.forget(self.index);
            return false;
        }
        let ch = match digest::choose(msg) {
            Ok(ch) => ch,
            Err(_) => {
                env.out.counters.unanswerable_challenges += 1;
                env.out.credentials.forget(self.index);
                return false;
            }
        };
        // The same request again: its body rewritten (same SN, same query page).
        let body = match slot {
            Slot::Hb => {
                self.write_keepalive_body(env);
                true
            }
            Slot::Query => self.write_query_body(now, env),
            Slot::Reg => false,
        };
        if !body {
            return false;
        }
        let mut host = [0u8; 64];
        let (sid, host_len) = self.target(env, &mut host);
        let target = Target {
            server_id: &sid,
            host: &host[..host_len],
        };
        let uri = UriBuf::new(&target);
        let cnonce = self.cnonce();
        let out = &mut *env.out;
        let user: (&[u8], &[u8]) = (self.id.as_bytes(), env.cfg.password_of(self.index));
        let to = (uri.as_bytes(), cnonce);
        if !out
            .credentials
            .answer(self.index, &ch, user, to, &mut out.auth)
        {
            out.counters.unanswerable_challenges += 1;
            return false;
        }
        let first = *self.txn(slot);
        env.out.pool.release(first.buf);
        self.counter = self.counter.wrapping_add(1);
        // The first request's Call-ID (its counter) and CSeq one higher, a new branch.
        let ids = Ids {
            index: self.index,
            branch: self.counter,
            call: first.branch,
            call_kind: b'm',
            cseq: first.branch.wrapping_add(1),
        };
        write_message(env, &self.id, &target, &ids, Some(ch.answer_header()));
        let (buf, udp) = self.transmit(env);
        let mut t = Txn::start(first.kind, first.due, now, self.counter, buf, udp);
        // One transaction over both requests: the first one's send (the lag) and Timer F,
        // and its retransmissions.
        t.deadline = first.deadline;
        t.retx = first.retx;
        *self.txn(slot) = t;
        self.flags |= flag;
        true
    }
}
