//! Requests from the platform: a MESSAGE query (Catalog, DeviceInfo, DeviceStatus,
//! ConfigDownload) is answered 200 and queued, OPTIONS 200, anything else 501; a
//! retransmitted request gets the same answer again and nothing more. Queued queries are
//! answered one MESSAGE at a time (a Catalog page by page).
//!
//! It never reads a MANSCDP body beyond its type and SN, and never sends a request the
//! platform did not ask for.

use super::{Camera, Slot};
use crate::camera::queries::{QueryKind, write_response};
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
        let mut queued = false;
        let code = match method {
            Method::Message => match Manscdp::parse(msg.body) {
                Some(x) if x.root == Root::Query => match QueryKind::from_cmd(x.cmd_type) {
                    Some(kind) => {
                        if self.queue.push(kind, x.sn.unwrap_or(0)) {
                            env.out.counters.queries += 1;
                            queued = true;
                            200
                        } else {
                            env.out.counters.queries_refused += 1;
                            486
                        }
                    }
                    None => 200,
                },
                _ => 200,
            },
            Method::Options => 200,
            _ => 501,
        };
        self.last_req = key;
        self.last_code = code;
        self.respond(msg, code, env);
        if queued {
            self.next_query(now, env);
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
        let Some((kind, sn)) = self.queue.front() else {
            return false;
        };
        write_response(
            &mut env.out.body,
            env.cfg,
            self.index,
            &self.id,
            kind,
            sn,
            self.queue.page,
            now,
        );
        true
    }
}
