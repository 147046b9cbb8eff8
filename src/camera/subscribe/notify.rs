//! After the SUBSCRIBE: which NOTIFY a subscription sends next (its state pages, alarms
//! waiting, the next MobilePosition tick or Catalog change, the final one), the timers that
//! retransmit NOTIFYs and alarm MESSAGEs and end them at Timer F, expiry, and the responses
//! that end them. A response is matched within its device's subscriptions (the device from
//! the branch the table wrote) by Call-ID, the camera's From tag and CSeq for NOTIFYs (one in
//! flight per subscription), and to its alarm slot by the branch for alarm MESSAGEs: never by
//! scanning the table. A timer pass visits only the slots due.

use super::body::{CatalogItem, position, write_bare, write_catalog, write_position};
use super::slot::{CALL_ID, State};
use super::wire::{SubState, alarm_counter, alarm_slot_of, write_notify};
use super::{Ctx, Kind, SubTable, Transmit, What};
use crate::camera::request::parse_branch;
use crate::camera::{CameraConfig, Outcome};
use crate::clock::{Span, Time};
use crate::gb::{DeviceId, GbVersion};
use crate::sip::{Message, Method};

impl SubTable {
    /// Sends subscription slot `i`'s next NOTIFY if none is in flight and one is due by
    /// `now`, then sets its wake-up.
    pub(super) fn pump(&mut self, i: usize, now: Time, cfg: &CameraConfig) {
        self.pump_now(i, now, cfg);
        self.rearm(i);
    }

    fn pump_now(&mut self, i: usize, now: Time, cfg: &CameraConfig) {
        let s = &self.slots[i];
        if s.state == State::Free || s.txn.active || self.halted {
            return;
        }
        if s.state == State::Ending {
            if s.final_pending && s.final_due <= now {
                let due = s.final_due;
                self.slots[i].final_pending = false;
                self.write_final_body(i, cfg);
                self.counters.notify_final += 1;
                self.notify(i, now, due, SubState::Terminated);
            }
            return;
        }
        if s.pages > 0 {
            let due = s.state_due;
            self.write_state_page(i, now, cfg);
            self.notify_active(i, now, due);
        } else if s.alarm_backlog > 0 {
            let (due, index, id) = (s.alarm_due, s.device, s.id);
            let Some(id) = id else { return };
            self.slots[i].alarm_backlog -= 1;
            self.alarm_body(cfg, index, &id, due);
            self.counters.notify_alarm += 1;
            self.notify_active(i, now, due);
        } else if s.next <= now {
            match s.kind {
                Kind::Catalog => self.catalog_change(i, now, cfg),
                Kind::MobilePosition => self.position_tick(i, now, cfg),
                Kind::Alarm => self.slots[i].next = Time::MAX,
            }
        }
    }

    /// The body of slot `i`'s final NOTIFY: the state in short (Catalog: no channel listed;
    /// MobilePosition: the position at the end; Alarm: no alarm).
    fn write_final_body(&mut self, i: usize, cfg: &CameraConfig) {
        let s = &self.slots[i];
        let (kind, index, due) = (s.kind, s.device, s.final_due);
        let Some(id) = s.id else { return };
        let sn = self.next_sn();
        let charset = cfg.gb_version.charset();
        match kind {
            Kind::Catalog => {
                let name = cfg.channel_name.as_str();
                write_catalog(&mut self.body, (charset, name), sn, &id, 0, [].into_iter());
            }
            Kind::MobilePosition => {
                let channel = first_channel(&id, cfg.channels_of(index));
                let form = (charset, cfg.gb_version == GbVersion::V2022);
                let (at, p) = (cfg.unix_ms(due), position(index, due));
                write_position(&mut self.body, form, sn, (&id, &channel), at, &p);
            }
            Kind::Alarm => write_bare(&mut self.body, charset, b"Alarm", sn, &id),
        }
    }

    /// The body of slot `i`'s next state NOTIFY: a Catalog page of the device's channels as
    /// they are at `now`, or none for an Alarm subscription.
    fn write_state_page(&mut self, i: usize, now: Time, cfg: &CameraConfig) {
        let s = &mut self.slots[i];
        s.pages -= 1;
        let page = s.page;
        s.page += 1;
        let (kind, index, id) = (s.kind, s.device, s.id);
        let Some(id) = id else { return };
        let charset = cfg.gb_version.charset();
        if kind != Kind::Catalog {
            let sn = self.next_sn();
            write_bare(&mut self.body, charset, b"Alarm", sn, &id);
            self.counters.notify_alarm += 1;
            return;
        }
        let channels = cfg.channels_of(index);
        let per = cfg.catalog_page.max(1);
        let first = page.saturating_mul(per).min(channels);
        let last = first.saturating_add(per).min(channels);
        let flap = cfg.channel_flap;
        let items = (first..last).map(|c| CatalogItem {
            number: c + 1,
            id: id.channel(c + 1, channels.max(1)),
            online: flap.online(index, c + 1, channels, now),
            event: b"ADD",
        });
        let sn = self.next_sn();
        let name = cfg.channel_name.as_str();
        write_catalog(&mut self.body, (charset, name), sn, &id, channels, items);
        self.counters.notify_catalog += 1;
    }

    fn next_sn(&mut self) -> u32 {
        self.alarm_sn = self.alarm_sn.wrapping_add(1);
        self.alarm_sn
    }

    /// Slot `i`'s Catalog change due now: one item, `Event` `ON`, or the outage's `OFF`,
    /// `VLOST` or `DEFECT` ([`Flap::event_at`](crate::camera::channels::Flap::event_at)); then
    /// the next.
    fn catalog_change(&mut self, i: usize, now: Time, cfg: &CameraConfig) {
        let s = &self.slots[i];
        let (due, (channel, online), index) = (s.next, s.change, s.device);
        let Some(id) = s.id else { return };
        let channels = cfg.channels_of(index);
        let item = CatalogItem {
            number: channel,
            id: id.channel(channel, channels.max(1)),
            online,
            event: cfg.channel_flap.event_at(index, due, online),
        };
        let sn = self.next_sn();
        let charset = cfg.gb_version.charset();
        let name = cfg.channel_name.as_str();
        write_catalog(
            &mut self.body,
            (charset, name),
            sn,
            &id,
            1,
            [item].into_iter(),
        );
        self.schedule_change(i, due, cfg);
        self.counters.notify_catalog += 1;
        self.notify_active(i, now, due);
    }

    /// Arms slot `i`'s next Catalog change, the first after `after`.
    pub(super) fn schedule_change(&mut self, i: usize, after: Time, cfg: &CameraConfig) {
        let s = &mut self.slots[i];
        let channels = cfg.channels_of(s.device);
        match cfg.channel_flap.next_change(s.device, channels, after) {
            Some(c) => {
                s.next = c.at;
                s.change = (c.channel, c.online);
            }
            None => s.next = Time::MAX,
        }
    }

    /// Slot `i`'s MobilePosition tick: the latest one due by `now` (earlier ones missed while
    /// a NOTIFY was unanswered are skipped), then the next a full interval on.
    fn position_tick(&mut self, i: usize, now: Time, cfg: &CameraConfig) {
        let s = &mut self.slots[i];
        let Some(id) = s.id else { return };
        let step = s.interval.as_micros().max(1);
        let missed = now.since(s.next).as_micros() / step;
        if missed > 0 {
            self.counters.positions_skipped += missed;
            s.next += Span::from_micros(missed.saturating_mul(step));
        }
        let (due, index) = (s.next, s.device);
        s.next = due + s.interval;
        let channel = first_channel(&id, cfg.channels_of(index));
        let p = position(index, due);
        let sn = self.next_sn();
        let form = (cfg.gb_version.charset(), cfg.gb_version == GbVersion::V2022);
        let at = cfg.unix_ms(due);
        write_position(&mut self.body, form, sn, (&id, &channel), at, &p);
        self.counters.notify_position += 1;
        self.notify_active(i, now, due);
    }

    /// Sends the body in the table's buffer as slot `i`'s next NOTIFY, active.
    fn notify_active(&mut self, i: usize, now: Time, due: Time) {
        let left = self.slots[i]
            .expires_at
            .since(now)
            .as_micros()
            .div_ceil(1_000_000);
        self.notify(i, now, due, SubState::Active(left));
    }

    /// Sends the body in the table's buffer as slot `i`'s next NOTIFY in `state`, for an
    /// event due at `due`.
    fn notify(&mut self, i: usize, now: Time, due: Time, state: SubState) {
        let salt = self.cfg.salt;
        self.notify_seq = self.notify_seq.wrapping_add(1);
        let seq = self.notify_seq;
        let s = &mut self.slots[i];
        let Some(id) = s.id else { return };
        s.cseq = s.cseq.wrapping_add(1);
        let ua = self.cfg.user_agent.as_bytes();
        write_notify(
            &mut self.scratch,
            (s, seq),
            (&id, salt),
            state,
            ua,
            &self.body,
        );
        self.pool.release(s.wire.take());
        s.wire = Some(self.pool.put(&self.scratch));
        s.txn = super::slot::Txn::start(due, now, s.udp);
        let (device, to) = (s.device, s.source);
        self.sends.push(Transmit {
            device,
            to,
            what: What::Notify(i),
        });
    }

    /// Fires every timer due by `now`: NOTIFY and alarm MESSAGE retransmissions and Timer F,
    /// expiries, NOTIFYs due (ticks, changes) and alarms due. Only the slots due are visited,
    /// in slot order (subscriptions, then alarm MESSAGEs).
    pub fn on_timer(&mut self, now: Time, ctx: &mut Ctx<'_>) {
        self.begin();
        let cfg = ctx.cfg;
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        self.timers.due(now, &mut fired);
        let alarms = self.alarm_slots.len() as u64;
        fired.sort_unstable_by_key(|&k| {
            let k = u64::from(k);
            if k < alarms { k + (1 << 32) } else { k }
        });
        for &key in &fired {
            match self.key_of(key) {
                Ok(i) => self.slot_timer(i, now, cfg),
                Err(a) => self.alarm_timer(a, now),
            }
        }
        self.fired = fired;
        self.raise_alarms(now, ctx);
    }

    /// Subscription slot `i`'s wake-up at `now`.
    fn slot_timer(&mut self, i: usize, now: Time, cfg: &CameraConfig) {
        let Some(s) = self.slots.get_mut(i) else {
            return;
        };
        if s.txn.active && s.txn.deadline <= now {
            let due = s.txn.due;
            self.end_notify(i, Outcome::Timeout, due, now);
            self.drop_subscription(i);
            return;
        }
        if s.txn.active && s.txn.next_retx <= now {
            s.txn.retransmitted(now);
            self.counters.retransmissions += 1;
            let (device, to) = (s.device, s.source);
            self.sends.push(Transmit {
                device,
                to,
                what: What::Notify(i),
            });
        }
        let s = &mut self.slots[i];
        if s.state == State::Active && s.expires_at <= now {
            s.state = State::Ending;
            s.final_pending = true;
            s.final_due = s.expires_at;
            self.counters.expired += 1;
        }
        self.pump(i, now, cfg);
    }

    /// Alarm slot `a`'s wake-up at `now`: a retransmission or Timer F.
    fn alarm_timer(&mut self, a: usize, now: Time) {
        let Some(s) = self.alarm_slots.get_mut(a) else {
            return;
        };
        if !s.txn.active {
            return;
        }
        if s.txn.deadline <= now {
            self.end_alarm(a, Outcome::Timeout, now);
        } else {
            s.txn.retransmitted(now);
            self.counters.retransmissions += 1;
            self.sends.push(Transmit {
                device: s.device,
                to: s.to,
                what: What::Alarm(a),
            });
            self.rearm_alarm(a);
        }
    }

    /// Ends slot `i`'s subscription without a final NOTIFY (its NOTIFY failed).
    fn drop_subscription(&mut self, i: usize) {
        if self.slots[i].state == State::Active {
            self.counters.dropped += 1;
        }
        self.free_slot(i);
    }

    /// True for a response the table must see: to a NOTIFY, or to an alarm MESSAGE (told
    /// by its branch). Cheap: no clock, no scan.
    pub fn wants_response(msg: &Message<'_, '_>) -> bool {
        match msg.cseq().map(|c| c.method) {
            Some(Method::Notify) => true,
            Some(Method::Message) => {
                msg.via()
                    .and_then(|v| v.branch())
                    .and_then(super::wire::table_branch)
                    == Some(true)
            }
            _ => false,
        }
    }

    /// Takes a response to a NOTIFY or an alarm MESSAGE: a final one ends its transaction
    /// (a NOTIFY's 481 or 408 its subscription too) and the next NOTIFY or waiting alarm
    /// goes; a provisional one slows retransmissions to T2; a first 401/407 to an alarm
    /// MESSAGE is answered with credentials. Others are ignored.
    pub fn on_response(&mut self, now: Time, msg: &Message<'_, '_>, ctx: &mut Ctx<'_>) {
        self.begin();
        let cfg = ctx.cfg;
        let (Some(code), Some(cseq), Some(call_id)) = (msg.status(), msg.cseq(), msg.call_id())
        else {
            return;
        };
        if cseq.method == Method::Message {
            let branch = msg.via().and_then(|v| v.branch()).unwrap_or(b"");
            let Some((index, counter)) = parse_branch(branch) else {
                return;
            };
            let a = alarm_slot_of(counter);
            let Some(s) = self.alarm_slots.get_mut(a).filter(|s| {
                s.txn.active && s.device == index && alarm_counter(a, s.generation) == counter
            }) else {
                return;
            };
            if code < 200 {
                s.txn.provisional(now);
                self.rearm_alarm(a);
                return;
            }
            if (code == 401 || code == 407) && self.alarm_challenged(a, msg, now, ctx) {
                return;
            }
            self.end_alarm(a, Outcome::Status(code), now);
            self.raise_alarms(now, ctx);
            return;
        }
        // The branch names the device; the NOTIFY's From tag (the camera's) tells
        // subscriptions sharing a Call-ID apart.
        let branch = msg.via().and_then(|v| v.branch()).unwrap_or(b"");
        let Some((index, _)) = parse_branch(branch) else {
            return;
        };
        let tag = msg.from().and_then(|f| f.tag()).unwrap_or(b"");
        let salt = self.cfg.salt;
        let Some(i) = self.find_of(index, |s| {
            s.txn.active
                && s.cseq == cseq.seq
                && s.key(CALL_ID) == call_id
                && tag == super::wire::tag(salt, s.generation)
        }) else {
            return;
        };
        if code < 200 {
            self.slots[i].txn.provisional(now);
            self.rearm(i);
            return;
        }
        let due = self.slots[i].txn.due;
        self.end_notify(i, Outcome::Status(code), due, now);
        let s = &self.slots[i];
        if s.state == State::Ending && !s.final_pending {
            self.free_slot(i);
        } else if code == 481 || code == 408 {
            self.drop_subscription(i);
        } else {
            self.pump(i, now, cfg);
        }
    }
}

/// The channel a device's position is reported for: its first, or itself without channels.
fn first_channel(id: &DeviceId, channels: u32) -> DeviceId {
    if channels == 0 {
        *id
    } else {
        id.channel(1, channels)
    }
}
