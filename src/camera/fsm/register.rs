//! The registration flow: the REGISTER, the digest challenge and its answer (a stale nonce
//! retried once), a 423's Min-Expires asked for at once, a 302 followed to the server it
//! names, the refresh at its share of the granted expiry, the unregister at stop, and what a
//! failure leads to: back off and register again (at the configured server), or stop.
//!
//! A flow is one transaction however many legs it takes (challenge, 423, 302): one record,
//! timed from when the flow was due, with the retransmissions of every leg; a followed 302
//! marks the record [`redirected`](crate::camera::Record::redirected) and is no outcome.
//!
//! It never decides when a flow begins — the events in the parent module do — and never runs
//! keepalives or queries; going offline or stopping only ends those still in flight.

use super::{
    AUTHED, CONN_OPEN, Camera, EXPIRY_RAISED, FAULT_PENDING, HB_ANSWERED, Phase, Purpose,
    REDIRECTED, REGISTERED, STALE_RETRIED, STOPPING, Slot, UNREG_OK,
};
use crate::camera::request::{Ids, Target, UriBuf, write_register};
use crate::camera::transaction::Txn;
use crate::camera::{Action, Env, Outcome, Record, RedirectId, Transport};
use crate::clock::{Span, Time};
use crate::gb::register as gbreg;
use crate::sip::Message;
use crate::sip::digest::{self, Chosen};
use crate::timer::on_tick;

impl Camera {
    /// Begins a registration flow for `purpose`, due at `flow_due` (set by the caller).
    pub(super) fn start_flow(&mut self, purpose: Purpose, now: Time, env: &mut Env<'_>) {
        self.purpose = purpose;
        self.flow_sent = Time::MAX;
        self.flags &= !(REDIRECTED | EXPIRY_RAISED);
        if purpose == Purpose::Initial {
            // Up again after a TeleBoot, if it was one.
            self.dev &= !super::device::REBOOTING;
            // Registering afresh: at the configured server (a 302 target that failed us was
            // kept only while its binding might be unregistered).
            self.redirect = None;
            self.new_call();
        }
        self.open_leg(now, env);
    }

    /// A new Call-ID for the registrations that follow (CSeq from 1).
    fn new_call(&mut self) {
        self.reg_gen = self.reg_gen.wrapping_add(1);
        self.reg_cseq = 0;
    }

    /// Sends the flow's next REGISTER, asking for a connection first if TCP has none.
    fn open_leg(&mut self, now: Time, env: &mut Env<'_>) {
        if env.cfg.transport_of(self.index) == Transport::Tcp && self.flags & CONN_OPEN == 0 {
            if self.phase != Phase::Connecting {
                env.out.actions.push(Action::Connect);
            }
            self.phase = Phase::Connecting;
            return;
        }
        self.send_register(now, None, env);
    }

    /// Sends a REGISTER for the current purpose, answering `challenge` if given (in
    /// `Proxy-Authorization` for a 407's `Proxy-Authenticate`, RFC 3261 22.3).
    pub(super) fn send_register(
        &mut self,
        now: Time,
        challenge: Option<&Chosen<'_>>,
        env: &mut Env<'_>,
    ) {
        self.phase = Phase::Flow;
        self.reg_cseq = self.reg_cseq.wrapping_add(1);
        self.counter = self.counter.wrapping_add(1);
        let mut host = [0u8; 64];
        let (sid, host_len) = self.target(env, &mut host);
        let target = Target {
            server_id: &sid,
            host: &host[..host_len],
        };
        if let Some(ch) = challenge {
            let cn = self.cnonce();
            let uri = UriBuf::new(&target);
            let out = &mut *env.out;
            out.auth.clear();
            let answered = digest::write_authorization(
                &mut out.auth,
                &ch.params,
                self.id.as_bytes(),
                env.cfg.password_of(self.index),
                b"REGISTER",
                uri.as_bytes(),
                1,
                &cn,
            );
            if answered.is_err() {
                // A challenge we cannot answer ends the flow as rejected, saying why.
                out.counters.unanswerable_challenges += 1;
                let code = if ch.proxy { 407 } else { 401 };
                self.record_flow(now, Outcome::Status(code), env);
                self.flow_failed(now, 0, env);
                return;
            }
        }
        let expires = if self.purpose == Purpose::Unregister {
            0
        } else {
            self.asked(env)
        };
        let ids = Ids {
            index: self.index,
            branch: self.counter,
            call: self.reg_gen,
            call_kind: b'r',
            cseq: self.reg_cseq,
        };
        let auth = challenge.map(Chosen::answer_header);
        write_register(env, &self.id, &target, &ids, expires, auth);
        if challenge.is_some() {
            self.flags |= AUTHED;
        } else {
            self.flags &= !AUTHED;
        }
        let (buf, udp) = self.transmit(env);
        let (kind, retx) = (self.reg.kind, self.reg.retx);
        self.reg = Txn::start(
            self.purpose.kind(),
            self.flow_due,
            now,
            self.counter,
            buf,
            udp,
        );
        if self.flow_sent == Time::MAX {
            self.flow_sent = now;
        } else {
            // The whole flow counts as one transaction: carry its kind (a refresh redirected
            // stays a refresh) and the earlier legs' retransmissions.
            self.reg.kind = kind;
            self.reg.retx = retx;
        }
    }

    /// The expiry a REGISTER asks for: the configured one, or a 423's larger floor.
    fn asked(&self, env: &Env<'_>) -> u32 {
        env.cfg.expires.max(self.min_expires)
    }

    /// Ends the REGISTER leg in flight without a record: the flow goes on with another.
    fn end_leg(&mut self, env: &mut Env<'_>) {
        env.out.pool.release(self.reg.buf);
        self.reg.buf = None;
        self.reg.active = false;
    }

    pub(super) fn register_response(
        &mut self,
        now: Time,
        code: u16,
        msg: &Message<'_, '_>,
        env: &mut Env<'_>,
    ) {
        let authed = self.flags & AUTHED != 0;
        match code {
            401 | 407 => match digest::choose(msg) {
                Ok(ch) => {
                    let stale_retry = ch.params.is_stale() && self.flags & STALE_RETRIED == 0;
                    if !authed || stale_retry {
                        if authed {
                            self.flags |= STALE_RETRIED;
                        }
                        self.end_leg(env);
                        self.send_register(now, Some(&ch), env);
                    } else {
                        self.txn_failed(Slot::Reg, Outcome::Status(code), 0, now, env);
                    }
                }
                Err(_) => {
                    // Counted by name so the report says why this 401/407 was final.
                    env.out.counters.unanswerable_challenges += 1;
                    self.txn_failed(Slot::Reg, Outcome::Status(code), 0, now, env);
                }
            },
            200..=299 => {
                self.end(Slot::Reg, Outcome::Status(code), now, env);
                self.flags &= !STALE_RETRIED;
                if self.purpose == Purpose::Unregister {
                    self.flags &= !REGISTERED;
                    self.bound_until_s = 0;
                    if self.rebooting() {
                        self.reboot_wait(now, env);
                    } else {
                        self.flags |= UNREG_OK;
                        self.stop_finish(now, env);
                    }
                    return;
                }
                // This camera's own binding among those listed (RFC 3261 10.2.4), else
                // Expires, else what it asked for.
                let granted = gbreg::granted(msg, &self.id, &env.local)
                    .filter(|&g| g > 0)
                    .unwrap_or(self.asked(env));
                // Rounded up: a binding a second past its lapse is unregistered needlessly,
                // never one still held left behind.
                let until = (now + Span::from_secs(u64::from(granted)))
                    .as_millis()
                    .div_ceil(1000);
                self.bound_until_s = u32::try_from(until).unwrap_or(u32::MAX);
                if !self.is_registered() {
                    self.flags |= REGISTERED | HB_ANSWERED;
                    self.misses = 0;
                    env.out.counters.online += 1;
                    self.hb_next = on_tick(now + env.cfg.heartbeat());
                }
                let refresh = Span::from_secs(u64::from(granted))
                    .permille(env.cfg.refresh_permille.clamp(1, 1000));
                self.wake = on_tick(now + refresh.max(Span::from_millis(1)));
                self.phase = Phase::Registered;
                if self.flags & STOPPING != 0 {
                    // A stop arrived while this flow was being set up; unregister now.
                    self.flags &= !STOPPING;
                    self.handle_stop(now, now, env);
                }
            }
            // One redirect per flow: a 302 from the server a 302 named, a Contact that names
            // no server, or a worker out of room for targets, fails with its status.
            302 if self.purpose != Purpose::Unregister && self.redirect.is_none() => {
                let target = gbreg::redirect_target(msg);
                match target.and_then(|(a, id)| env.out.redirects.intern(a, id)) {
                    Some(to) => self.follow_redirect(to, now, env),
                    None => self.txn_failed(Slot::Reg, Outcome::Status(302), 0, now, env),
                }
            }
            // RFC 3261 10.2.8: ask again at once for at least Min-Expires, once per flow.
            423 if self.purpose != Purpose::Unregister && self.flags & EXPIRY_RAISED == 0 => {
                match msg.min_expires().filter(|&m| m > self.asked(env)) {
                    Some(floor) => {
                        self.flags |= EXPIRY_RAISED;
                        self.min_expires = floor;
                        self.end_leg(env);
                        self.send_register(now, None, env);
                    }
                    None => self.txn_failed(Slot::Reg, Outcome::Status(423), 0, now, env),
                }
            }
            _ => {
                let retry_after = msg.retry_after().unwrap_or(0);
                self.txn_failed(Slot::Reg, Outcome::Status(code), retry_after, now, env);
            }
        }
    }

    /// Registers with the server a 302 named, in the same flow: a new Call-ID there,
    /// challenged afresh, over a new connection if TCP.
    fn follow_redirect(&mut self, to: RedirectId, now: Time, env: &mut Env<'_>) {
        self.end_leg(env);
        self.redirect = Some(to);
        self.min_expires = 0;
        env.out.credentials.forget(self.index);
        self.flags |= REDIRECTED;
        self.flags &= !(REGISTERED | EXPIRY_RAISED | STALE_RETRIED);
        if self.flags & CONN_OPEN != 0 {
            env.out.actions.push(Action::Close);
            self.flags &= !CONN_OPEN;
        }
        self.purpose = Purpose::Initial;
        self.new_call();
        self.open_leg(now, env);
    }

    /// Records a registration flow that ended with no request in flight: none sent yet (the
    /// whole latency is lag), or between legs (waiting for a connection to a 302's server).
    pub(super) fn record_flow(&mut self, now: Time, outcome: Outcome, env: &mut Env<'_>) {
        let (kind, retransmits) = if self.flow_sent == Time::MAX {
            (self.purpose.kind(), 0)
        } else {
            (self.reg.kind, self.reg.retx)
        };
        env.out.records.push(Record {
            kind,
            outcome,
            latency: now.since(self.flow_due),
            lag: self.flow_sent.min(now).since(self.flow_due),
            retransmits,
            redirected: self.flags & REDIRECTED != 0,
        });
    }

    pub(super) fn flow_failed(&mut self, now: Time, retry_after: u32, env: &mut Env<'_>) {
        self.flags &= !STALE_RETRIED;
        if self.purpose == Purpose::Unregister && self.rebooting() {
            // The restart goes on whether the registrar took the unregister or not.
            self.reboot_wait(now, env);
        } else if self.purpose == Purpose::Unregister {
            self.stop_finish(now, env);
        } else {
            self.go_offline(now, retry_after, env);
        }
    }

    /// Leaves the registered state and waits the retry interval before registering again
    /// (at the configured server: a 302 target that failed us is forgotten).
    pub(super) fn go_offline(&mut self, now: Time, retry_after_s: u32, env: &mut Env<'_>) {
        if self.is_registered() {
            env.out.counters.offline += 1;
        }
        self.flags &= !(REGISTERED | STALE_RETRIED | FAULT_PENDING);
        self.end_txns(&[Slot::Hb, Slot::Query], Outcome::Abandoned, now, env);
        self.clear_queries(env);
        self.misses = 0;
        env.out.credentials.forget(self.index);
        if !self.holds_binding(now) {
            // Back to the configured server next time; a 302 target that holds this
            // camera's binding is kept until then, for the stop's unregister.
            self.redirect = None;
        }
        self.min_expires = 0;
        if self.flags & CONN_OPEN != 0 {
            env.out.actions.push(Action::Close);
            self.flags &= !CONN_OPEN;
        }
        if self.flags & STOPPING != 0 {
            self.phase = Phase::Stopped;
            return;
        }
        let interval = env.cfg.retry_interval();
        let base = interval.max(Span::from_secs(u64::from(retry_after_s)));
        // The jitter is drawn in whole milliseconds, up to its share of the interval.
        let spread_ms = interval.permille(env.cfg.retry_jitter_permille).as_millis();
        let jitter = if spread_ms > 0 {
            Span::from_millis(u64::from(self.next_rand()) % (spread_ms + 1))
        } else {
            Span::ZERO
        };
        self.wake = on_tick(now + base + jitter);
        self.phase = Phase::Backoff;
    }

    pub(super) fn stop_finish(&mut self, now: Time, env: &mut Env<'_>) {
        self.end_txns(
            &[Slot::Reg, Slot::Hb, Slot::Query],
            Outcome::Abandoned,
            now,
            env,
        );
        self.clear_queries(env);
        self.flags &= !REGISTERED;
        env.out.credentials.forget(self.index);
        if self.flags & CONN_OPEN != 0 {
            env.out.actions.push(Action::Close);
            self.flags &= !CONN_OPEN;
        }
        self.phase = Phase::Stopped;
    }

    /// True while the registrar holds a binding of this camera, as far as it knows: a 2xx
    /// granted one that has not lapsed and was not unregistered. Going offline does not end
    /// it (the registrar keeps it until it expires).
    pub(super) fn holds_binding(&self, now: Time) -> bool {
        now.as_secs() < u64::from(self.bound_until_s)
    }
}
