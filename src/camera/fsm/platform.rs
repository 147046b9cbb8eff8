//! Requests from the platform: a MESSAGE query (Catalog, DeviceInfo, DeviceStatus,
//! ConfigDownload, RecordInfo, the 2022 queries) is answered 200 and queued, a DeviceControl
//! or DeviceConfig 200 (and a Response queued where the standard asks for one; see `device`), OPTIONS 200,
//! anything else 501; a retransmitted request gets the same answer again and nothing more.
//! Queued answers go one MESSAGE at a time (Catalog and RecordInfo page by page). While a
//! TeleBoot restart is under way the device is down: new requests go unanswered.
//!
//! It never reads a MANSCDP body itself (`device` reads what a query asks), and never sends a
//! request the platform did not ask for.

use super::device::Then;
use super::{Camera, Slot};
use crate::camera::{Dest, Env, TxnKind};
use crate::clock::Time;
use crate::gb::{Manscdp, Root};
use crate::sip::{Message, Method, response_to};

fn hash32(parts: &[&[u8]]) -> u32 {
    // FNV-1a: identifies a retransmitted request; collisions only cost a duplicate answer.
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for &b in *p {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0193);
    }
    h | 1
}

impl Camera {
    pub(super) fn handle_request(&mut self, now: Time, msg: &Message<'_, '_>, env: &mut Env<'_>) {
        let Some(method) = msg.method() else { return };
        if method == Method::Ack {
            return;
        }
        let (Some(cseq), Some(via), Some(call_id)) = (msg.cseq(), msg.via(), msg.call_id()) else {
            env.out.counters.malformed += 1;
            return;
        };
        let mut seq = [0u8; 4];
        seq.copy_from_slice(&cseq.seq.to_le_bytes());
        let key = hash32(&[
            via.branch().unwrap_or(b""),
            call_id,
            &seq,
            method.as_bytes(),
        ]);
        if key == self.last_req {
            env.out.counters.request_retransmits += 1;
            self.respond(msg, self.last_code, env);
            return;
        }
        if self.rebooting() {
            // Down for a restart: nothing answers.
            return;
        }
        let (code, then) = match method {
            Method::Message => match Manscdp::parse(msg.body) {
                Some(x) if x.root == Root::Query => self.take_query(&x, env),
                Some(x) if x.root == Root::Control => self.take_control(&x, env),
                _ => (200, Then::Nothing),
            },
            Method::Options => (200, Then::Nothing),
            _ => (501, Then::Nothing),
        };
        self.last_req = key;
        self.last_code = code;
        self.respond(msg, code, env);
        match then {
            Then::Nothing => {}
            Then::Answer => self.next_query(now, env),
            Then::Reboot => self.reboot(now, env),
        }
    }

    pub(super) fn respond(&mut self, msg: &Message<'_, '_>, code: u16, env: &mut Env<'_>) {
        let mut to_tag = [0u8; 9];
        to_tag[0] = b't';
        for (i, c) in to_tag[1..].iter_mut().enumerate() {
            *c = b"0123456789abcdef"[((self.index >> (28 - 4 * i)) & 0xf) as usize];
        }
        let out = &mut *env.out;
        let mut w = response_to(&mut out.msg, msg, code, Some(&to_tag), None);
        w.header(b"User-Agent", env.cfg.user_agent.as_bytes());
        w.finish(b"");
        out.send_msg(Dest::Source);
    }

    pub(super) fn next_query(&mut self, now: Time, env: &mut Env<'_>) {
        if self.q.active || !self.write_query_body(now, env) {
            return;
        }
        self.send_message(Slot::Query, TxnKind::QueryResponse, now, now, env);
    }

    /// The answer to the query at the front of the queue (its current page) into
    /// `env.out.body`; false when none is queued.
    pub(super) fn write_query_body(&self, now: Time, env: &mut Env<'_>) -> bool {
        let Some(front) = self.front_query(env) else {
            return false;
        };
        front.write(&mut env.out.body, env.cfg, now);
        true
    }
}
