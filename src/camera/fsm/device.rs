//! What a platform's query or control asks of the device, and TeleBoot's restart.
//!
//! A query or control names its target in `<DeviceID>`: the device, one of its channels
//! (found by [`DeviceId::channel_index`], no scan), or — absent — the device. Any other ID is
//! refused with 400 Bad Request and no Response message, as wvp's own lower-platform handlers
//! answer a query for a channel they do not have; so is a RecordInfo without a valid
//! StartTime/EndTime. A query is queued with what it asks (target, range, blocks) in the
//! worker's [`QueryArgs`](crate::camera::query_args::QueryArgs) when it asks more than the
//! defaults.
//!
//! DeviceControl: RecordCmd and GuardCmd set the device's recording and guard bits (reported
//! by DeviceStatus); the commands the standard answers with a Response message queue one
//! ([`Control::needs_response`]), as does a DeviceConfig (its values are not applied); TeleBoot restarts the device: it drops what it was doing,
//! unregisters (REGISTER Expires: 0, an Unregister record) if the registrar holds its
//! binding, stays down (requests go unanswered) and registers again — a Register record —
//! [`reboot_delay`](crate::camera::CameraConfig::reboot_delay) after the TeleBoot arrived,
//! on the timer wheel's tick.
//!
//! It never writes an answer body (the queries module does) and never decides how a
//! registration flow runs (the register module does).

use super::{CONN_OPEN, FAULT_PENDING, STALE_RETRIED};
use super::{Camera, Phase, Purpose, REGISTERED, Slot};
use crate::camera::queries::{DeviceState, Front, QueryKind};
use crate::camera::query_args::Args;
use crate::camera::{Action, Env, Outcome};
use crate::clock::Time;
use crate::gb::control::Control;
use crate::gb::{DeviceId, Manscdp};
use crate::timer::on_tick;

/// `dev` bit: recording (`RecordCmd` `Record`; reported in DeviceStatus).
const RECORDING: u8 = 1;
/// `dev` bit: guarded (`GuardCmd` `SetGuard`; reported in DeviceStatus' Alarmstatus).
const GUARDED: u8 = 2;
/// `dev` bit: a TeleBoot is under way — unregistering, then down until `wake`.
pub(super) const REBOOTING: u8 = 4;

/// What the camera does with a MESSAGE after its final response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Then {
    /// Nothing more.
    Nothing,
    /// Send the front query's answer if none is in flight.
    Answer,
    /// Restart (TeleBoot).
    Reboot,
}

impl Camera {
    /// The target a body's `<DeviceID>` names: 0 for the device (or none named), `n` for
    /// channel `n`; None for any other ID.
    fn target_of(&self, device_id: Option<&[u8]>, env: &Env<'_>) -> Option<u32> {
        let Some(raw) = device_id else {
            return Some(0);
        };
        let named = DeviceId::parse(raw).ok()?;
        if named == self.id {
            return Some(0);
        }
        self.id
            .channel_index(&named, env.cfg.channels_of(self.index))
    }

    /// Queues an answer of `kind` with `args`; false (486) if the camera's queue or the
    /// worker's argument table is full.
    fn enqueue(&mut self, kind: QueryKind, sn: u32, args: Args, env: &mut Env<'_>) -> bool {
        let pos = self.queue.len();
        if pos >= crate::camera::queries::QUEUE {
            return false;
        }
        let stored = args != Args::default();
        if stored && !env.out.query_args.set(self.index, pos, args) {
            return false;
        }
        self.queue.push(kind, sn, stored)
    }

    /// A `<Query>`: its status code, and whether an answer was queued.
    pub(super) fn take_query(&mut self, x: &Manscdp<'_>, env: &mut Env<'_>) -> (u16, Then) {
        let Some(parsed) = QueryKind::from_query(x.cmd_type, x.body) else {
            // Not a query gbswarm answers: accepted, nothing follows.
            return (200, Then::Nothing);
        };
        let target = self.target_of(x.device_id, env);
        let (Some(target), Ok((kind, a, b))) = (target, parsed) else {
            env.out.counters.bad_queries += 1;
            return (400, Then::Nothing);
        };
        let args = Args { target, a, b };
        if self.enqueue(kind, x.sn.unwrap_or(0), args, env) {
            env.out.counters.queries += 1;
            (200, Then::Answer)
        } else {
            env.out.counters.queries_refused += 1;
            (486, Then::Nothing)
        }
    }

    /// A `<Control>` (DeviceControl or DeviceConfig): its status code and what follows.
    pub(super) fn take_control(&mut self, x: &Manscdp<'_>, env: &mut Env<'_>) -> (u16, Then) {
        let Some(c) = Control::from_cmd(x.cmd_type, x.body) else {
            // Not a command gbswarm knows: accepted, nothing follows.
            return (200, Then::Nothing);
        };
        let Some(target) = self.target_of(x.device_id, env) else {
            env.out.counters.bad_queries += 1;
            return (400, Then::Nothing);
        };
        if let Some(n) = env.out.counters.controls.get_mut(c.index()) {
            *n += 1;
        }
        match c {
            Control::Record(on) => self.set_dev(RECORDING, on),
            Control::Guard(on) => self.set_dev(GUARDED, on),
            Control::TeleBoot => return (200, Then::Reboot),
            _ => {}
        }
        if !c.needs_response() {
            return (200, Then::Nothing);
        }
        let args = Args {
            target,
            ..Args::default()
        };
        let kind = if c == Control::Config {
            QueryKind::ConfigResponse
        } else {
            QueryKind::ControlResponse
        };
        if self.enqueue(kind, x.sn.unwrap_or(0), args, env) {
            (200, Then::Answer)
        } else {
            env.out.counters.queries_refused += 1;
            (486, Then::Nothing)
        }
    }

    fn set_dev(&mut self, bit: u8, on: bool) {
        if on {
            self.dev |= bit;
        } else {
            self.dev &= !bit;
        }
    }

    /// The query at the front of the queue, with its arguments.
    pub(super) fn front_query<'a>(&'a self, env: &Env<'_>) -> Option<Front<'a>> {
        let (kind, sn, stored) = self.queue.front()?;
        let args = if stored {
            env.out.query_args.get(self.index, 0)
        } else {
            Args::default()
        };
        Some(Front {
            index: self.index,
            id: &self.id,
            kind,
            sn,
            args,
            page: self.queue.page,
            state: DeviceState {
                recording: self.dev & RECORDING != 0,
                guarded: self.dev & GUARDED != 0,
            },
        })
    }

    /// Drops the front query (answered, or its answer failed).
    pub(super) fn pop_query(&mut self, env: &mut Env<'_>) {
        if self.queue.has_args() {
            env.out.query_args.shift(self.index);
        }
        self.queue.pop();
        if !self.queue.has_args() {
            env.out.query_args.remove(self.index);
        }
    }

    /// Drops every queued query.
    pub(super) fn clear_queries(&mut self, env: &mut Env<'_>) {
        if self.queue.has_args() {
            env.out.query_args.remove(self.index);
        }
        self.queue.clear();
    }

    /// True while a TeleBoot is under way.
    pub(super) fn rebooting(&self) -> bool {
        self.dev & REBOOTING != 0
    }

    /// TeleBoot (its 200 already sent): the device goes down — what it was doing ends, it
    /// unregisters if the registrar holds its binding — and registers again
    /// `reboot_delay` after `now`.
    pub(super) fn reboot(&mut self, now: Time, env: &mut Env<'_>) {
        if self.rebooting() || matches!(self.phase, Phase::Idle | Phase::Stopped) {
            return;
        }
        env.out.counters.reboots += 1;
        // A restart forgets what the platform set.
        self.dev = REBOOTING;
        self.wake = on_tick(now + env.cfg.reboot_delay());
        self.abandon_all(now, env);
        // Going down on request is no loss of the server: not counted offline.
        self.flags &= !REGISTERED;
        if self.holds_binding(now) {
            self.flow_due = now;
            self.start_flow(Purpose::Unregister, now, env);
        } else {
            self.reboot_wait(now, env);
        }
    }

    /// The device is down until `wake` (set by [`reboot`](Self::reboot)); then the backoff
    /// timer registers it afresh.
    pub(super) fn reboot_wait(&mut self, now: Time, env: &mut Env<'_>) {
        self.flags &= !(REGISTERED | STALE_RETRIED | FAULT_PENDING);
        self.end_txns(&[Slot::Hb, Slot::Query], Outcome::Abandoned, now, env);
        self.clear_queries(env);
        self.misses = 0;
        env.out.credentials.forget(self.index);
        self.redirect = None;
        self.min_expires = 0;
        if self.flags & CONN_OPEN != 0 {
            env.out.actions.push(Action::Close);
            self.flags &= !CONN_OPEN;
        }
        self.phase = Phase::Backoff;
    }
}
