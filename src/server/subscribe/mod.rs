//! The platform's subscribe and query driver (`serve --subscribe`, `serve --query`): a
//! sans-IO core that subscribes to the devices a worker registered, as wvp-GB28181-pro does,
//! answers and counts their NOTIFYs, and queries them at a rate, counting the paged answers.
//!
//! - Subscriptions: one slot per registered device and kind asked (Catalog, MobilePosition,
//!   Alarm). New slots queue, and the queue is sent at the worker's share of the rate. The
//!   SUBSCRIBE (RFC 6665 as GB28181 uses it, [`wire::write_subscribe`]) goes to
//!   `sip:<device>@<address>` from the registry, retransmitted over UDP from T1 doubling to T2
//!   until a final response or Timer F (over TCP, down the device's connection, not
//!   retransmitted). A 2xx starts the dialog (the device's To tag and Contact); a refresh is
//!   sent in it at 85% of the expiry granted (the 2xx's `Expires`, else the one asked). An
//!   error, a timeout or a NOTIFY with `Subscription-State: terminated` ends the subscription;
//!   it is tried again, as a new dialog, [`sub::RETRY`] later (also when the device is not
//!   registered at its turn). Nothing is unsubscribed at shutdown: the host offers no last
//!   send, and the devices let the subscriptions expire.
//! - NOTIFYs: matched to their subscription by the Call-ID (slot and generation) and our From
//!   tag in their To, answered 200 and counted by kind (a retransmission, its CSeq not above
//!   the last one's, is answered again and not counted); one of no live subscription is
//!   answered 481 and counted. MobilePosition NOTIFYs are timed against the interval from the
//!   previous one, except the one a device owes a refresh (RFC 6665 §4.2.1.2), which restarts
//!   that schedule (the device's ticks restart from the refresh too). Alarm MESSAGEs outside
//!   any dialog are answered by the registrar and counted here
//!   ([`Subscriber::device_message`]; a retransmission of a device's last one is not).
//! - Queries ([`query`]): a MESSAGE at the worker's share of the query rate, devices round
//!   robin, its paged Responses summed until `SumNum`.
//!
//! What it never does: read a clock (every call takes `now`, and wall time comes as the Unix
//! milliseconds at time zero), touch a socket, or allocate per message once its slots are
//! warm (a device's slots are made when it first registers).

pub mod query;
pub mod stats;
pub mod sub;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_query;
pub mod wire;

use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::gb::subscribe::{EventKind, QueryKind, SubState, SubscribeBody, subscription_state};
use crate::gb::{Manscdp, Root};
use crate::net::Outbox;
use crate::sip::{Batch, Message, Method, NameAddr, Transport, response_to};
use crate::timer::TimerWheel;
use stats::{C, SubStats};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use sub::{REFRESH_PERMILLE, RETRY, State, Sub, T1, T2, TIMER_F};
use wire::{Me, SUB_SUFFIX, SubscribeSpec};

/// Most devices one worker subscribes to and queries.
pub const MAX_DEVICES: usize = 1 << 20;
/// A MobilePosition NOTIFY more than this before its due time counts as early.
pub const EARLY: Span = Span::from_millis(500);

/// How `serve --subscribe` and `serve --query` drive the devices.
#[derive(Clone, Debug)]
pub struct SubscribeConfig {
    /// The kinds subscribed to per device (none: only queries).
    pub kinds: Vec<EventKind>,
    /// MobilePosition: seconds between NOTIFYs asked.
    pub interval_s: u32,
    /// SUBSCRIBEs per second over all workers (first ones; refreshes come when due).
    pub rate: u32,
    /// The expiry asked, seconds.
    pub expires_s: u32,
    /// The queries sent, in turn (none: no queries).
    pub queries: Vec<QueryKind>,
    /// Queries per second over all workers.
    pub query_rate: u32,
    /// RecordInfo asks for this much time before now.
    pub query_span: Span,
}

/// A device's current signalling address and transport (none: not registered now).
pub type Contact<'a> = &'a mut dyn FnMut(&DeviceId) -> Option<(SocketAddr, Transport)>;

/// One worker's subscribe and query driver.
#[derive(Debug)]
pub struct Subscriber {
    me: Me,
    kinds: Vec<EventKind>,
    interval_s: u32,
    expires_s: u32,
    worker: usize,
    unix_zero_ms: u64,
    subs: Vec<Sub>,
    devices: Vec<DeviceId>,
    /// Per device, the key ([`wire::request_key`]) of its last alarm MESSAGE counted.
    alarm_keys: Vec<u64>,
    known: HashMap<DeviceId, usize>,
    ready: VecDeque<u32>,
    timers: TimerWheel,
    fired: Vec<u32>,
    period: Span,
    next_subscribe: Time,
    active: usize,
    body: Vec<u8>,
    queries: query::Queries,
    stats: Box<SubStats>,
}

impl Subscriber {
    /// Worker `worker` of `workers`' driver for the platform `me`, starting at `start`; the
    /// Unix time at time zero is `unix_zero_ms` (for the times the bodies carry).
    pub fn new(
        cfg: &SubscribeConfig,
        me: Me,
        (worker, workers): (usize, usize),
        start: Time,
        unix_zero_ms: u64,
    ) -> Subscriber {
        let workers = workers.max(1) as u64;
        Subscriber {
            kinds: cfg.kinds.clone(),
            interval_s: cfg.interval_s.max(1),
            expires_s: cfg.expires_s.max(1),
            worker,
            unix_zero_ms,
            subs: Vec::new(),
            devices: Vec::new(),
            alarm_keys: Vec::new(),
            known: HashMap::new(),
            ready: VecDeque::new(),
            timers: TimerWheel::new(0, start),
            fired: Vec::with_capacity(64),
            period: Span::from_micros(1_000_000 * workers / u64::from(cfg.rate.max(1))),
            next_subscribe: start,
            active: 0,
            body: Vec::with_capacity(512),
            queries: query::Queries::new(cfg, workers, start),
            stats: Box::default(),
            me,
        }
    }

    /// The counters since the last hand-over, gauges set to now's.
    pub fn stats_now(&mut self) -> &mut Box<SubStats> {
        self.stats.gauge = Some((
            self.worker,
            self.active as u64,
            self.queries.outstanding() as u64,
        ));
        &mut self.stats
    }

    /// A device registered with this worker at `now`: subscribed to (each kind, queued at
    /// the rate) and queried from now on (once; at most [`MAX_DEVICES`]).
    pub fn device_registered(&mut self, id: DeviceId, now: Time) {
        if self.known.contains_key(&id) || self.devices.len() >= MAX_DEVICES {
            return;
        }
        if self.devices.is_empty() {
            // Queries are due from the first device on, not from the start.
            self.queries.start(now);
        }
        self.known.insert(id, self.devices.len());
        self.devices.push(id);
        self.alarm_keys.push(0);
        for k in 0..self.kinds.len() {
            let kind = self.kinds[k];
            let i = self.subs.len() as u32;
            self.subs.push(Sub::new(id, kind));
            self.timers.ensure_key(i);
            self.enqueue(i as usize, now);
        }
    }

    /// Queues slot `i` to be subscribed. A queue that was empty starts pacing from `now`, so
    /// the time it stood empty is no credit for a burst.
    fn enqueue(&mut self, i: usize, now: Time) {
        if self.ready.is_empty() {
            self.next_subscribe = self.next_subscribe.max(now);
        }
        self.subs[i].queued = true;
        self.ready.push_back(i as u32);
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Time> {
        let mut wake = self.timers.next_deadline().unwrap_or(Time::MAX);
        if !self.ready.is_empty() {
            wake = wake.min(self.next_subscribe);
        }
        wake = wake.min(self.queries.poll_timeout(!self.devices.is_empty()));
        (wake != Time::MAX).then_some(wake)
    }

    /// Fires every timer due by `now`, sends the SUBSCRIBEs and queries due; `contact` gives
    /// a device's current address and transport.
    pub fn handle_timeout(&mut self, now: Time, contact: Contact<'_>, out: &mut Outbox) {
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        self.timers.advance(now, &mut fired);
        for &i in &fired {
            self.fire(i as usize, now, contact, out);
        }
        self.fired = fired;
        // At most a second's worth at once: a late host does not burst.
        let mut budget = (1_000_000 / self.period.as_micros().max(1)).max(1);
        while self.next_subscribe <= now && budget > 0 {
            let Some(i) = self.ready.pop_front() else {
                break;
            };
            budget -= 1;
            self.next_subscribe += self.period;
            self.subscribe(i as usize, now, contact, out);
        }
        if self.next_subscribe <= now && !self.ready.is_empty() {
            // The budget ran out: the rest from the next period on.
            self.next_subscribe = now + self.period;
        }
        let q = query::Ctx {
            me: &self.me,
            unix_zero_ms: self.unix_zero_ms,
            devices: &self.devices,
        };
        self.queries
            .handle_timeout(now, &q, contact, out, &mut self.stats);
    }

    /// Arms slot `i`'s timer at its next wake-up (or disarms it).
    fn arm(&mut self, i: usize) {
        match self.subs[i].wake() {
            Some(t) => self.timers.arm(i as u32, t),
            None => self.timers.cancel(i as u32),
        }
    }

    /// Slot `i`'s timer is due.
    fn fire(&mut self, i: usize, now: Time, contact: Contact<'_>, out: &mut Outbox) {
        let Some(s) = self.subs.get_mut(i) else {
            return;
        };
        match s.state {
            State::Idle => {
                // The wait after a failure is over: queued again.
                s.deadline = Time::MAX;
                self.enqueue(i, now);
            }
            State::Subscribing | State::Refreshing if now >= s.deadline => {
                self.stats.inc(C::SubTimeouts);
                if s.state == State::Refreshing {
                    self.stats.inc(C::Lost);
                }
                self.set_idle(i, now);
            }
            State::Subscribing | State::Refreshing => {
                s.interval = (s.interval * 2).min(T2);
                s.next = now + s.interval;
                self.stats.inc(C::SubRetransmits);
                self.transmit(i, out);
            }
            State::Active => {
                if let Some((addr, transport)) = contact(&s.device) {
                    s.dest = addr;
                    s.transport = transport;
                }
                s.state = State::Refreshing;
                s.cseq += 1;
                s.resync = true;
                self.stats.inc(C::Refreshes);
                self.send(i, now, out);
            }
        }
        self.arm(i);
    }

    /// Starts a new subscription in slot `i` (a new dialog), or waits [`RETRY`] when its
    /// device is not registered now.
    fn subscribe(&mut self, i: usize, now: Time, contact: Contact<'_>, out: &mut Outbox) {
        let Some(s) = self.subs.get_mut(i) else {
            return;
        };
        s.queued = false;
        let Some((dest, transport)) = contact(&s.device) else {
            self.stats.inc(C::NotRegistered);
            s.deadline = now + RETRY;
            self.arm(i);
            return;
        };
        s.generation = s.generation.wrapping_add(1);
        s.state = State::Subscribing;
        s.dest = dest;
        s.transport = transport;
        s.cseq = 1;
        s.target.clear();
        crate::sip::write::push_sip_uri(&mut s.target, s.device.as_bytes(), &dest);
        s.to.clear();
        s.ok_at = None;
        s.notified = false;
        s.last_position = None;
        s.resync = false;
        s.notify_cseq = 0;
        self.stats.inc(C::Subscribes);
        self.send(i, now, out);
        self.arm(i);
    }

    /// Sends slot `i`'s SUBSCRIBE (its current CSeq) and starts its transaction's timers.
    fn send(&mut self, i: usize, now: Time, out: &mut Outbox) {
        let s = &mut self.subs[i];
        s.sent_at = now;
        s.interval = T1;
        // Over TCP nothing is retransmitted (RFC 3261 §17.1.2.1): only Timer F runs.
        s.next = if s.transport == Transport::Udp {
            now + T1
        } else {
            Time::MAX
        };
        s.deadline = now + TIMER_F;
        self.transmit(i, out);
    }

    /// Writes slot `i`'s SUBSCRIBE straight into `out`. Everything in it derives from the
    /// slot (the alarm window from when the transaction started), so a retransmission is the
    /// same bytes and no slot keeps a copy: a million subscriptions do not hold a million
    /// requests.
    fn transmit(&mut self, i: usize, out: &mut Outbox) {
        let s = &self.subs[i];
        let from = self.unix_zero_ms + s.sent_at.as_millis();
        let spec = SubscribeSpec {
            slot: i,
            generation: s.generation,
            device: &s.device,
            target: &s.target,
            to: &s.to,
            transport: s.transport,
            cseq: s.cseq,
            expires: self.expires_s,
            kind: s.kind,
            sn: (i as u32).wrapping_add(s.cseq << 20),
            ask: SubscribeBody {
                interval_s: self.interval_s,
                from_unix_ms: from,
                to_unix_ms: from + u64::from(self.expires_s) * 1000,
            },
        };
        let (me, body) = (&self.me, &mut self.body);
        out.push_with(s.dest, s.transport, |b| {
            wire::write_subscribe(b, body, me, &spec)
        });
    }

    /// Ends slot `i`'s subscription: tried again after [`RETRY`].
    fn set_idle(&mut self, i: usize, now: Time) {
        let s = &mut self.subs[i];
        if matches!(s.state, State::Active | State::Refreshing) {
            self.active -= 1;
        }
        s.state = State::Idle;
        s.queued = false;
        s.next = Time::MAX;
        s.deadline = now + RETRY;
        self.arm(i);
    }

    /// The live slot a subscription Call-ID names.
    fn slot_of(&self, call_id: &[u8]) -> Option<usize> {
        let (i, generation) = wire::parse_call_id(self.me.salt, call_id, SUB_SUFFIX)?;
        let s = self.subs.get(i)?;
        (s.generation == generation && s.live()).then_some(i)
    }

    /// Takes a response; false when it is not to one of this driver's SUBSCRIBEs or queries
    /// (the caller handles it).
    pub fn handle_response(&mut self, now: Time, msg: &Message<'_, '_>) -> bool {
        let (Some(code), Some(cseq), Some(call_id)) = (msg.status(), msg.cseq(), msg.call_id())
        else {
            return false;
        };
        if cseq.method == Method::Message {
            return self
                .queries
                .handle_response(now, code, call_id, &self.me, &mut self.stats);
        }
        if cseq.method != Method::Subscribe
            || wire::parse_call_id(self.me.salt, call_id, SUB_SUFFIX).is_none()
        {
            return false;
        }
        let Some(i) = self.slot_of(call_id) else {
            return true;
        };
        let s = &mut self.subs[i];
        let in_flight = matches!(s.state, State::Subscribing | State::Refreshing);
        if !in_flight || cseq.seq != s.cseq {
            // A retransmitted response of a transaction already over.
            return true;
        }
        match code {
            100..=199 => {
                if s.next != Time::MAX {
                    s.interval = T2;
                }
            }
            200..=299 => {
                self.stats.inc(C::SubOk);
                let _ = self
                    .stats
                    .subscribe_to_ok_us
                    .record(now.since(s.sent_at).as_micros().max(1));
                if s.state == State::Subscribing {
                    s.to.clear();
                    s.to.extend_from_slice(msg.header(crate::sip::HeaderKind::To).unwrap_or(b""));
                    if let Some(c) = msg.contact() {
                        s.target.clear();
                        s.target.extend_from_slice(c.uri);
                    }
                    s.ok_at = Some(now);
                    self.active += 1;
                }
                let granted = msg.expires().unwrap_or(self.expires_s);
                if granted == 0 {
                    // Granted nothing: the device ended it.
                    self.stats.inc(C::Lost);
                    self.set_idle(i, now);
                    return true;
                }
                let s = &mut self.subs[i];
                s.state = State::Active;
                s.next = Time::MAX;
                s.deadline = now + Span::from_secs(u64::from(granted)).permille(REFRESH_PERMILLE);
                self.arm(i);
            }
            _ => {
                let class = usize::from(code / 100).clamp(3, 6) - 3;
                self.stats
                    .inc([C::Sub3xx, C::Sub4xx, C::Sub5xx, C::Sub6xx][class]);
                if s.state == State::Refreshing {
                    self.stats.inc(C::Lost);
                }
                self.set_idle(i, now);
            }
        }
        true
    }

    /// Takes a request; false when it is not a NOTIFY with the headers an answer needs (the
    /// caller handles it). A NOTIFY of a live subscription is answered 200 and counted by
    /// kind; any other, 481.
    pub fn handle_request(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        from: SocketAddr,
        out: &mut Batch,
    ) -> bool {
        // A NOTIFY without what an answer needs is left to the registrar, which drops it.
        if msg.method() != Some(Method::Notify)
            || msg.via().is_none()
            || msg.cseq().is_none()
            || msg.call_id().is_none()
            || msg.from().is_none()
        {
            return false;
        }
        let to_tag = msg.to().and_then(|t: NameAddr<'_>| t.tag());
        let slot = msg.call_id().and_then(|c| self.slot_of(c)).filter(|&i| {
            let s = &self.subs[i];
            to_tag.is_some_and(|t| wire::is_our_tag(t, &self.me, i, s.generation, b's'))
        });
        let code = match slot {
            Some(i) => {
                self.notified(i, now, msg);
                200
            }
            None => {
                self.stats.inc(C::NotifyUnknown);
                481
            }
        };
        out.push_with(|b| {
            let tag = to_tag.is_none().then_some(&b"gbs"[..]);
            response_to(b, msg, code, tag, Some(&from)).finish(b"");
        });
        true
    }

    /// A NOTIFY of slot `i`'s subscription came at `now`. A retransmission (a CSeq not above
    /// the last one taken) is answered again and counted nothing.
    fn notified(&mut self, i: usize, now: Time, msg: &Message<'_, '_>) {
        let s = &mut self.subs[i];
        let seq = msg.cseq().map_or(0, |c| c.seq);
        if s.notify_cseq != 0 && seq <= s.notify_cseq {
            return;
        }
        s.notify_cseq = seq;
        self.stats.inc(match s.kind {
            EventKind::Catalog => C::NotifyCatalog,
            EventKind::MobilePosition => C::NotifyPosition,
            EventKind::Alarm => C::NotifyAlarm,
        });
        let body = Manscdp::parse(msg.body);
        if !body.is_some_and(|b| b.root == Root::Notify && b.cmd_type == s.kind.cmd_type()) {
            self.stats.inc(C::NotifyBadBody);
        }
        if !s.notified {
            s.notified = true;
            let after_ok = s.ok_at.map_or(0, |ok| now.since(ok).as_micros());
            self.stats.ok_to_first_notify_us.saturating_record(after_ok);
        }
        if s.kind == EventKind::MobilePosition {
            self.position(i, now);
        }
        let state = subscription_state(msg.header_named(b"Subscription-State"));
        if state == SubState::Terminated {
            self.stats.inc(C::NotifyTerminated);
            self.set_idle(i, now);
        }
    }

    /// A MobilePosition NOTIFY of slot `i` came at `now`: timed against the schedule (the
    /// previous one's arrival plus the interval), except the one that answers a refresh
    /// (RFC 6665 §4.2.1.2), which is no tick but restarts the schedule, as the device's ticks
    /// restart from the refresh. It is told apart as the first NOTIFY after the refresh was
    /// sent that comes early: a tick the device sent before it got the refresh comes on time
    /// and is timed as one. One that comes on time once the refresh is answered ends the wait
    /// (the answer coincided with a tick's due time; nothing to tell apart).
    fn position(&mut self, i: usize, now: Time) {
        let s = &mut self.subs[i];
        if let Some(prev) = s.last_position {
            let due = prev + Span::from_secs(u64::from(self.interval_s));
            let early = now + EARLY < due;
            if s.resync && early {
                s.resync = false;
            } else {
                if early {
                    self.stats.inc(C::PositionEarly);
                }
                let late = if now > due {
                    now.since(due).as_micros()
                } else {
                    0
                };
                self.stats.position_late_us.saturating_record(late);
                if s.state == State::Active {
                    s.resync = false;
                }
            }
        }
        s.last_position = Some(now);
    }

    /// A MANSCDP MESSAGE a device sent (the registrar answered it): an alarm outside any
    /// dialog is counted (a retransmission of a registered device's last one is not), a
    /// Response page goes to its query.
    pub fn device_message(&mut self, now: Time, msg: &Message<'_, '_>) {
        let Some(body) = Manscdp::parse(msg.body) else {
            return;
        };
        match body.root {
            Root::Notify if body.cmd_type == b"Alarm" => {
                let device = msg.from().and_then(|f| f.user());
                let device = device.and_then(|u| DeviceId::parse(u).ok());
                let slot = device.and_then(|d| self.known.get(&d).copied());
                let key = wire::request_key(
                    msg.call_id().unwrap_or(b""),
                    msg.cseq().map_or(0, |c| c.seq),
                );
                if let Some(last) = slot.and_then(|i| self.alarm_keys.get_mut(i)) {
                    if *last == key {
                        return;
                    }
                    *last = key;
                }
                self.stats.inc(C::AlarmMessages);
            }
            Root::Response => self.queries.page(now, &body, msg, &mut self.stats),
            _ => {}
        }
    }

    /// Subscriptions active now (a 2xx came, not ended).
    pub fn active(&self) -> usize {
        self.active
    }

    /// The active count kept matches the slots' states.
    #[cfg(test)]
    fn active_matches(&self) -> bool {
        self.active
            == self
                .subs
                .iter()
                .filter(|s| matches!(s.state, State::Active | State::Refreshing))
                .count()
    }
}
