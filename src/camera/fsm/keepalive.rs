//! Keepalives (GB28181 §9.6): the MESSAGE sent every heartbeat interval, with the faulty
//! sub-device listed when the camera is faulty; a keepalive still unanswered at the next tick
//! counts as missed, and too many misses in a row take the camera offline.
//!
//! It never handles a keepalive's response (`responses` does) and never registers; going
//! offline hands over to the registration flow's backoff.

use super::{Camera, FAULT_PENDING, HB_ANSWERED, Slot};
use crate::camera::{Env, Outcome, TxnKind};
use crate::clock::Time;
use crate::gb::manscdp;
use crate::timer::on_tick;

impl Camera {
    pub(super) fn send_keepalive(&mut self, due: Time, now: Time, env: &mut Env<'_>) {
        self.hb_sn = self.hb_sn.wrapping_add(1);
        self.flags &= !(HB_ANSWERED | FAULT_PENDING);
        self.write_keepalive_body(env);
        self.send_message(Slot::Hb, TxnKind::Keepalive, due, now, env);
    }

    /// The keepalive body with the current SN into `env.out.body` (also for sending it again
    /// with credentials), declaring and written in the edition's charset.
    pub(super) fn write_keepalive_body(&self, env: &mut Env<'_>) {
        let charset = env.cfg.gb_version.charset();
        if self.is_faulty() {
            let faulty = [self.id.channel(1, env.cfg.channels_of(self.index).max(1))];
            manscdp::write_keepalive(&mut env.out.body, charset, self.hb_sn, &self.id, &faulty);
        } else {
            manscdp::write_keepalive(&mut env.out.body, charset, self.hb_sn, &self.id, &[]);
        }
    }

    pub(super) fn keepalive_tick(&mut self, now: Time, env: &mut Env<'_>) {
        let due = self.hb_next;
        let interval = env.cfg.heartbeat();
        while self.hb_next <= now {
            self.hb_next = on_tick(self.hb_next + interval);
        }
        if self.flags & HB_ANSWERED == 0 {
            self.misses = self.misses.saturating_add(1);
        }
        if self.hb.active {
            self.end(Slot::Hb, Outcome::Timeout, now, env);
        }
        if self.misses >= env.cfg.heartbeat_misses.max(1) {
            self.misses = 0;
            if self.reg.active {
                self.end(Slot::Reg, Outcome::Abandoned, now, env);
            }
            self.go_offline(now, 0, env);
            return;
        }
        self.send_keepalive(due, now, env);
    }
}
