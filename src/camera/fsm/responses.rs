//! Responses to the camera's own requests: finding the transaction a response belongs to (by
//! Via branch, camera index and CSeq method; anything else is stray), slowing retransmissions
//! on a provisional response, and what a final response or a failure means for each
//! transaction slot.
//!
//! It never starts a flow of its own: a REGISTER's answer goes to the registration flow, a
//! challenge to a MESSAGE to `challenge`, a keepalive's answer only clears its misses (and
//! sends a pending fault report), a query answer's moves the query queue on (the next page, or the next query).

use super::{Camera, FAULT_PENDING, HB_ANSWERED, Slot};
use crate::camera::request::parse_branch;
use crate::camera::{Env, Outcome};
use crate::clock::Time;
use crate::sip::{Message, Method};

impl Camera {
    pub(super) fn handle_response(&mut self, now: Time, msg: &Message<'_, '_>, env: &mut Env<'_>) {
        let (Some(code), Some(cseq), Some(via)) = (msg.status(), msg.cseq(), msg.via()) else {
            env.out.counters.malformed += 1;
            return;
        };
        let Some((index, branch)) = via.branch().and_then(parse_branch) else {
            env.out.counters.stray += 1;
            return;
        };
        let slot = [Slot::Reg, Slot::Hb, Slot::Query].into_iter().find(|&s| {
            let t = match s {
                Slot::Reg => &self.reg,
                Slot::Hb => &self.hb,
                Slot::Query => &self.q,
            };
            let method_ok = match s {
                Slot::Reg => cseq.method == Method::Register,
                _ => cseq.method == Method::Message,
            };
            t.active && t.branch == branch && method_ok
        });
        let Some(slot) = slot.filter(|_| index == self.index) else {
            env.out.counters.stray += 1;
            return;
        };
        if code < 200 {
            self.txn(slot).provisional(now);
            return;
        }
        if matches!(code, 401 | 407)
            && slot != Slot::Reg
            && self.message_challenged(slot, msg, now, env)
        {
            return;
        }
        match slot {
            Slot::Reg => self.register_response(now, code, msg, env),
            Slot::Hb => {
                let kind_ok = (200..300).contains(&code);
                self.end(Slot::Hb, Outcome::Status(code), now, env);
                if kind_ok {
                    self.flags |= HB_ANSWERED;
                    self.misses = 0;
                }
                if self.flags & FAULT_PENDING != 0 && self.is_registered() {
                    self.send_keepalive(now, now, env);
                }
            }
            Slot::Query => {
                self.end(Slot::Query, Outcome::Status(code), now, env);
                let more = (200..300).contains(&code)
                    && self.front_query(env).is_some_and(|f| f.more_pages(env.cfg));
                if more {
                    self.queue.page += 1;
                } else {
                    self.pop_query(env);
                }
                self.next_query(now, env);
            }
        }
    }

    /// A transaction failed (final error, Timer F, transport): record it and react.
    pub(super) fn txn_failed(
        &mut self,
        slot: Slot,
        outcome: Outcome,
        retry_after: u32,
        now: Time,
        env: &mut Env<'_>,
    ) {
        self.end(slot, outcome, now, env);
        match slot {
            Slot::Reg => self.flow_failed(now, retry_after, env),
            Slot::Hb => {}
            Slot::Query => {
                self.pop_query(env);
                self.next_query(now, env);
            }
        }
    }
}
