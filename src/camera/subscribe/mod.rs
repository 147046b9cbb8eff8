//! The camera's side of GB/T 28181 subscriptions (RFC 6665 as GB28181 uses it) and its own
//! alarms: a sans-IO table of subscriptions, one per worker, like the
//! [`PlayTable`](super::invite::PlayTable) of INVITE dialogs.
//!
//! A platform's SUBSCRIBE names what it wants in its body's `CmdType` (`Catalog`,
//! `MobilePosition`, `Alarm`; the `Event` header is only echoed back in every NOTIFY). It is
//! answered 200 with the camera's To tag, `Expires` (granted: the request's, at most
//! [`MAX_EXPIRES`], [`DEFAULT_EXPIRES`] when it names none; any expiry from 1 s is granted, so
//! there is no floor and no 423) and a Contact. A SUBSCRIBE in the dialog refreshes it; one
//! with `Expires: 0` ends it. Refusals: an unknown `CmdType` gets 489 Bad Event (RFC 6665
//! §8.3.2 for an event package the notifier does not serve), an in-dialog SUBSCRIBE for no
//! known dialog 481, a full table 503 with `Retry-After: 60` (nothing to keep the subscription
//! in), a request without Call-ID, Via, CSeq, From or To 400. A retransmitted SUBSCRIBE
//! (same Call-ID, branch and CSeq) gets the kept answer again and nothing more.
//!
//! Every accepted or refreshed subscription gets a NOTIFY at once (RFC 6665 §4.2.1.2): a
//! Catalog subscription the device's channels with their status now (`Event` `ADD`), paged
//! like Catalog answers (the fleet's catalog page size per NOTIFY, `SumNum` in each); a
//! MobilePosition one the position now; an Alarm one a `<Notify>` of `CmdType` `Alarm` with
//! no alarm in it (no `AlarmPriority`, `AlarmTime`...: state known, no alarm yet). Every
//! NOTIFY has a body whose root is `Notify` and whose `CmdType` is the subscription's, which
//! is what platforms check a NOTIFY by. After that:
//! - MobilePosition: a NOTIFY every `Interval` seconds from the SUBSCRIBE (the body's
//!   `<Interval>`, [`DEFAULT_INTERVAL`] when absent, at least [`MIN_INTERVAL`]), with the
//!   device's moving position ([`position`]), in the 2016 flat form or the 2022 list form by
//!   the fleet's `gb_version`. A tick due while the previous NOTIFY is unanswered is skipped
//!   (a position is state, not an event; counted in
//!   [`SubCounters::positions_skipped`]), so the next goes on the next tick.
//! - Catalog: a NOTIFY at every change of a channel's status
//!   ([`Flap::next_change`](super::channels::Flap::next_change)), `Event` `ON`, or the cause of
//!   the outage (`OFF`, `VLOST`, `DEFECT`: [`Outage`](super::channels::Outage)) with `Status`
//!   `OFF`; changes are never skipped: one due while a NOTIFY is in flight goes
//!   when it is answered (its latency counts from the change).
//! - Alarm: the device's alarms ([`Alarms`]: `--alarm-rate`, `--alarm-burst`) go as NOTIFYs
//!   in each Alarm subscription of the device; a device without one sends each alarm as a
//!   MESSAGE `<Notify><CmdType>Alarm</CmdType>` to its registrar (GB/T 28181 §9.4), at most
//!   [`SubConfig::alarm_slots`] in flight per worker (more wait, their lag counted). A
//!   401/407 to an alarm MESSAGE is answered once with credentials (same Call-ID, CSeq 2,
//!   one transaction), and a challenge offering `qop=auth` is kept so the device's next
//!   MESSAGEs carry credentials at once, as its keepalives do ([`crate::camera::credentials`]).
//!
//! One NOTIFY per subscription is in flight at a time (RFC 6665 §4.2.2); each is a non-INVITE
//! client transaction in the dialog (UDP: retransmitted at T1 doubling to T2, Timer F; TCP:
//! Timer F only) and ends in a [`Record`] of [`TxnKind::Notify`], timed from the event's due
//! time (the SUBSCRIBE for the first, the tick, the flap change, the alarm) to its final
//! response, lag to its first send. Alarm MESSAGEs end in [`TxnKind::Alarm`] records the same
//! way. A 481 or 408 to a NOTIFY, or its Timer F, ends the subscription (RFC 6665 §4.2.2).
//!
//! A subscription ends with a final NOTIFY, `Subscription-State: terminated;reason=timeout`,
//! its body the state in short (Catalog: `SumNum` 0 and an empty `DeviceList`;
//! MobilePosition: the position then; Alarm: no alarm), when the platform unsubscribes
//! (`Expires: 0`) and when it expires without a refresh (RFC 6665 §4.2.2, as the shared wire
//! contract says for both); then the slot is free. A SUBSCRIBE with `Expires: 0` outside a
//! dialog (a fetch) gets 200 and that final NOTIFY alone. When the run stops the host
//! [halts](SubTable::halt) the table: nothing new is sent, the NOTIFYs and MESSAGEs in flight
//! finish, and what is still in flight at the very end is [abandoned](SubTable::abandon).
//!
//! At scale (tens of thousands of subscriptions per worker; the host's capacity is three per
//! camera): slots are made as platforms take them, up to the capacity, and reused from a free
//! list; each device's slots are linked, so a SUBSCRIBE, a response, an alarm or
//! a reboot looks only at its device's; every slot has one wake-up on a timer wheel
//! (the `timers` module), so [`poll_timeout`](SubTable::poll_timeout) is exact without a scan and a
//! timer pass visits only the slots due. At rest a slot keeps its dialog's identifiers and
//! schedule: a NOTIFY's copy for retransmission lives in a shared pool only while it is in
//! flight, and the 200 to a retransmitted SUBSCRIBE is written again rather than kept.
//!
//! What it never does: open a socket, read a clock (every call takes `now`), allocate once
//! its buffers are warm (the pool's, a reused slot's, the output's), scan the whole table
//! for a message or a timer, or touch the camera's registration: the host routes SUBSCRIBE and
//! the responses to NOTIFYs and alarm MESSAGEs here and sends each [`Transmit`] from the
//! device's own signalling socket.

mod alarm;
mod body;
mod challenge;
mod counters;
mod index;
mod notify;
mod request;
mod slot;
#[cfg(test)]
mod tests;
mod timers;
mod wire;

pub use alarm::{Alarms, Burst};
pub use body::{LAP_SECS, Position, RADIUS_M, position};
pub use counters::SubCounters;

use crate::camera::pool::BufPool;
use crate::camera::{Outcome, Record, Transport, TxnKind};
use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use slot::{AlarmSlot, Slot, State};
use std::net::SocketAddr;

/// Longest expiry granted, in seconds (one day); a longer one asked for is shortened to it.
pub const MAX_EXPIRES: u32 = 86_400;
/// Expiry granted to a SUBSCRIBE without `Expires`, in seconds.
pub const DEFAULT_EXPIRES: u32 = 3600;
/// MobilePosition interval when the SUBSCRIBE names none, in seconds.
pub const DEFAULT_INTERVAL: u32 = 5;
/// Shortest MobilePosition interval, in seconds (a shorter one asked for is raised to it).
pub const MIN_INTERVAL: u32 = 1;
/// Most alarm MESSAGE slots a table has (their branches name the slot in 14 bits).
pub const MAX_ALARM_SLOTS: usize = 1 << 14;

/// What a subscription is to, from the SUBSCRIBE body's `CmdType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Catalog changes: channels going off line and back.
    Catalog,
    /// The device's position every `Interval` seconds.
    MobilePosition,
    /// The device's alarms.
    Alarm,
}

impl Kind {
    /// The kind a `CmdType` names.
    pub fn of_cmd(cmd: &[u8]) -> Option<Kind> {
        match cmd {
            b"Catalog" => Some(Kind::Catalog),
            b"MobilePosition" => Some(Kind::MobilePosition),
            b"Alarm" => Some(Kind::Alarm),
            _ => None,
        }
    }
}

/// The device a SUBSCRIBE reached or an alarm is raised by, as the host knows it now.
#[derive(Clone, Copy, Debug)]
pub struct Device {
    /// Its index in the fleet.
    pub index: u32,
    /// Its ID.
    pub id: DeviceId,
    /// Its signalling address (Via and Contact).
    pub signal: SocketAddr,
    /// UDP (NOTIFYs and alarm MESSAGEs retransmitted) or TCP.
    pub transport: Transport,
    /// Its current registrar (alarm MESSAGEs go there).
    pub server: SocketAddr,
    /// Registered now: a device that is not raises no alarm.
    pub online: bool,
}

/// What the host lends the table for a call that may raise or answer alarms: the fleet's
/// config, what it knows of a device now, and the worker's kept challenges (alarm MESSAGEs
/// reuse them like the cameras' other MESSAGEs, see [`crate::camera::credentials`]).
pub struct Ctx<'a> {
    /// The fleet's config.
    pub cfg: &'a crate::camera::CameraConfig,
    /// Fleet device `k` now, if it is one of the table's.
    pub devices: &'a dyn Fn(u32) -> Option<Device>,
    /// The worker's kept challenges to its cameras' MESSAGEs.
    pub credentials: &'a mut crate::camera::credentials::Credentials,
}

/// Settings of a table.
#[derive(Clone, Debug)]
pub struct SubConfig {
    /// Most subscriptions held at once (their slots are made as they are taken); beyond them
    /// a SUBSCRIBE gets 503.
    pub capacity: usize,
    /// Most alarm MESSAGEs in flight at once; further alarms wait for one to end. At most
    /// [`MAX_ALARM_SLOTS`] (a MESSAGE's branch names its slot).
    pub alarm_slots: usize,
    /// Makes the camera's tags, Call-IDs and branches unique across tables and runs.
    pub salt: u32,
    /// User-Agent header value.
    pub user_agent: String,
    /// The worker's devices: fleet index `k` is local device `k / workers` of worker
    /// `k % workers`; this worker is `worker` and has `devices` of them.
    pub workers: u32,
    /// This worker's index.
    pub worker: u32,
    /// This worker's devices.
    pub devices: u32,
    /// Devices in the whole fleet (spreads the alarm schedule over it).
    pub fleet: u64,
    /// The device's alarms.
    pub alarms: Alarms,
}

impl Default for SubConfig {
    fn default() -> Self {
        SubConfig {
            capacity: 64,
            alarm_slots: 64,
            salt: 0,
            user_agent: String::from("gbswarm"),
            workers: 1,
            worker: 0,
            devices: 1,
            fleet: 1,
            alarms: Alarms::default(),
        }
    }
}

/// Bytes to send; read them with [`SubTable::bytes`] before the next call on the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The fleet index of the device that sends it (from its signalling socket).
    pub device: u32,
    /// Where to: the SUBSCRIBE's source (answers, NOTIFYs) or the registrar (alarm MESSAGEs).
    pub to: SocketAddr,
    what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    /// A range of the table's output buffer.
    Out(usize, usize),
    /// A subscription slot's NOTIFY in flight.
    Notify(usize),
    /// An alarm slot's MESSAGE.
    Alarm(usize),
}

/// The subscriptions and alarm MESSAGEs of one worker's devices. See the module docs.
#[derive(Debug)]
pub struct SubTable {
    /// The subscription slots made so far (at most `cfg.capacity`); see [`index`].
    slots: Vec<Slot>,
    /// Slots free for reuse.
    free: Vec<u32>,
    /// Per local device, its first slot (`u32::MAX`: none).
    dev_heads: Vec<u32>,
    /// Subscriptions held (slots not free).
    held: usize,
    alarm_slots: Vec<AlarmSlot>,
    /// Alarm slots with no MESSAGE in flight.
    alarm_free: Vec<u32>,
    /// One wake-up per alarm slot (keys `0..alarm_slots`) and per subscription slot (after).
    timers: timers::Timers,
    /// Keys due in a timer pass.
    fired: Vec<u32>,
    /// The copies of NOTIFYs and alarm MESSAGEs in flight.
    pool: BufPool,
    cfg: SubConfig,
    out: Vec<u8>,
    scratch: Vec<u8>,
    body: Vec<u8>,
    sends: Vec<Transmit>,
    records: Vec<Record>,
    counters: SubCounters,
    generation: u32,
    /// NOTIFYs written (their branches).
    notify_seq: u32,
    /// The alarm schedule's cursors (see [`alarm`]).
    schedule: alarm::Schedule,
    /// The run is ending: no new NOTIFY or alarm starts.
    halted: bool,
    /// The next alarm waits for a free alarm slot (no wake-up for it until one ends).
    alarm_blocked: bool,
    /// Alarm SN (and which channel raises it).
    alarm_sn: u32,
    /// Credentials being written for an alarm MESSAGE.
    auth: Vec<u8>,
}

impl SubTable {
    /// A table with the capacities of `cfg`. Subscription slots are made as platforms
    /// subscribe (up to `cfg.capacity`), and a NOTIFY's copy is kept only while it is in
    /// flight, so memory follows the subscriptions held.
    pub fn new(cfg: SubConfig) -> SubTable {
        let alarm_slots = cfg.alarm_slots.min(MAX_ALARM_SLOTS);
        SubTable {
            slots: Vec::new(),
            free: Vec::new(),
            dev_heads: vec![index::NONE; cfg.devices as usize],
            held: 0,
            alarm_slots: (0..alarm_slots).map(|_| AlarmSlot::new()).collect(),
            alarm_free: (0..alarm_slots as u32).rev().collect(),
            timers: timers::Timers::new(),
            fired: Vec::with_capacity(64),
            pool: BufPool::default(),
            out: Vec::with_capacity(4096),
            scratch: Vec::with_capacity(2048),
            body: Vec::with_capacity(2048),
            sends: Vec::with_capacity(64),
            records: Vec::with_capacity(64),
            schedule: alarm::Schedule::default(),
            cfg,
            counters: SubCounters::default(),
            generation: 0,
            notify_seq: 0,
            halted: false,
            alarm_blocked: false,
            alarm_sn: 0,
            auth: Vec::with_capacity(512),
        }
    }

    /// The counters.
    pub fn counters(&self) -> &SubCounters {
        &self.counters
    }

    /// Subscriptions held now (being ended included).
    pub fn active(&self) -> usize {
        self.held
    }

    /// Most subscriptions it holds at once (a SUBSCRIBE beyond them gets 503).
    pub fn capacity(&self) -> usize {
        self.cfg.capacity
    }

    /// What the last call sends, in order (valid until the next call).
    pub fn sends(&self) -> &[Transmit] {
        &self.sends
    }

    /// The transactions the last call ended (valid until the next call).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The bytes of a [`Transmit`] from the last call.
    pub fn bytes(&self, t: &Transmit) -> &[u8] {
        match t.what {
            What::Out(a, b) => self.out.get(a..b).unwrap_or(b""),
            What::Notify(i) => self
                .slots
                .get(i)
                .map_or(&b""[..], |s| self.pool.get(s.wire)),
            What::Alarm(i) => self
                .alarm_slots
                .get(i)
                .map_or(&b""[..], |s| self.pool.get(s.wire)),
        }
    }

    /// Starts the alarm schedule: the run (and `--alarm-burst`'s time) counts from `t0`.
    /// Like every call, it clears what the last one sent and ended.
    pub fn start(&mut self, t0: Time) {
        self.begin();
        self.schedule = alarm::Schedule::new(t0);
    }

    /// The run is ending: no NOTIFY or alarm starts from now on; those in flight finish.
    /// Like every call, it clears what the last one sent and ended.
    pub fn halt(&mut self) {
        self.begin();
        self.halted = true;
        // Only the NOTIFYs in flight keep a wake-up now (once, over every slot).
        for i in 0..self.slots.len() {
            self.rearm(i);
        }
    }

    /// Device `index` went down (a TeleBoot reboot): its subscriptions end at once, without a
    /// final NOTIFY (a rebooted device has forgotten them; the platform learns it from the 481
    /// to its next refresh), a NOTIFY in flight recorded as abandoned. False (and nothing
    /// cleared) when it held none. Its alarm MESSAGEs in flight finish; it raises no new alarm
    /// while it is not registered.
    pub fn device_down(&mut self, now: Time, index: u32) -> bool {
        let mut i = self.first_of(index);
        if i == index::NONE {
            return false;
        }
        self.begin();
        while let Some(s) = self.slots.get(i as usize) {
            let next = s.dev_next;
            let u = i as usize;
            if s.txn.active {
                let due = s.txn.due;
                self.end_notify(u, Outcome::Abandoned, due, now);
            }
            if self.slots[u].state == State::Active {
                self.counters.dropped += 1;
            }
            self.free_slot(u);
            i = next;
        }
        true
    }

    /// Ends every transaction still in flight as abandoned (the run is over).
    pub fn abandon(&mut self, now: Time) {
        self.begin();
        for i in 0..self.slots.len() {
            if self.slots[i].txn.active {
                let due = self.slots[i].txn.due;
                self.end_notify(i, Outcome::Abandoned, due, now);
                self.rearm(i);
            }
        }
        for a in 0..self.alarm_slots.len() {
            if self.alarm_slots[a].txn.active {
                self.end_alarm(a, Outcome::Abandoned, now);
            }
        }
    }

    /// The next time [`on_timer`](Self::on_timer) has work; `None` for none. Exact, and
    /// cheap: the earliest of the slots' wake-ups is kept, and the alarm
    /// schedule's next alarm is one computation.
    pub fn poll_timeout(&self) -> Option<Time> {
        let slots = self.timers.earliest();
        let schedule = if self.halted || self.alarm_blocked {
            None
        } else {
            self.schedule.next_due(&self.cfg)
        };
        [slots, schedule].into_iter().flatten().min()
    }

    fn begin(&mut self) {
        self.out.clear();
        self.sends.clear();
        self.records.clear();
    }

    /// Ends subscription slot `i`'s NOTIFY with `outcome`, due at `due`, and lets its copy
    /// go.
    fn end_notify(&mut self, i: usize, outcome: Outcome, due: Time, now: Time) {
        let s = &mut self.slots[i];
        self.records
            .push(s.txn.record(TxnKind::Notify, outcome, due, now));
        s.txn.active = false;
        self.pool.release(s.wire.take());
    }

    /// Ends alarm slot `a`'s MESSAGE with `outcome`; the slot is free again.
    fn end_alarm(&mut self, a: usize, outcome: Outcome, now: Time) {
        let s = &mut self.alarm_slots[a];
        let due = s.txn.due;
        self.records
            .push(s.txn.record(TxnKind::Alarm, outcome, due, now));
        s.txn.active = false;
        self.pool.release(s.wire.take());
        self.alarm_free.push(a as u32);
        self.alarm_blocked = false;
        self.rearm_alarm(a);
    }

    /// The fleet index of the worker's local device `j`.
    fn fleet_index(&self, j: u64) -> u64 {
        j * u64::from(self.cfg.workers.max(1)) + u64::from(self.cfg.worker)
    }

    fn span_secs(s: u32) -> Span {
        Span::from_secs(u64::from(s))
    }
}
