//! A platform's SUBSCRIBE: a new subscription (200, kept in a free slot, its state NOTIFY
//! sent), a refresh or an unsubscribe in the dialog, a retransmission (the kept answer
//! again), or a refusal (400, 481, 489, 503). See the module docs for the rules.

use super::slot::{BRANCH, CALL_ID, FROM_TAG, State};
use super::wire::{self, write_ok};
use super::{
    DEFAULT_EXPIRES, DEFAULT_INTERVAL, Device, Kind, MAX_EXPIRES, MIN_INTERVAL, SubTable, Transmit,
    What,
};
use crate::camera::{CameraConfig, Transport};
use crate::clock::{Span, Time};
use crate::gb::Manscdp;
use crate::gb::manscdp::element;
use crate::sip::bytes::parse_decimal;
use crate::sip::{HeaderKind, Message, response_to};
use std::net::SocketAddr;

impl SubTable {
    /// Sends a response to `msg` written now (not kept), from device `index`.
    fn refuse(&mut self, msg: &Message<'_, '_>, code: u16, index: u32, source: SocketAddr) {
        let mut w = response_to(&mut self.scratch, msg, code, None, Some(&source));
        if code == 503 {
            w.header(b"Retry-After", b"60");
        }
        if code == 489 {
            w.header(b"Allow-Events", b"Catalog, presence");
        }
        w.header(b"User-Agent", self.cfg.user_agent.as_bytes());
        w.finish(b"");
        let start = self.out.len();
        self.out.extend_from_slice(&self.scratch);
        self.sends.push(Transmit {
            device: index,
            to: source,
            what: What::Out(start, self.out.len()),
        });
    }

    /// The slot of device `index` whose dialog `msg` is in (Call-ID, From tag, and the
    /// camera's To tag).
    fn dialog_of(
        &self,
        index: u32,
        call_id: &[u8],
        from_tag: &[u8],
        to_tag: &[u8],
    ) -> Option<usize> {
        let salt = self.cfg.salt;
        self.find_of(index, |s| {
            s.key(CALL_ID) == call_id
                && s.key(FROM_TAG) == from_tag
                && to_tag == wire::tag(salt, s.generation)
        })
    }

    /// Takes a SUBSCRIBE that arrived at `now` from `source` for `dev`.
    pub fn on_subscribe(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        source: SocketAddr,
        dev: &Device,
        cfg: &CameraConfig,
    ) {
        self.begin();
        let (Some(call_id), Some(via), Some(cseq), Some(from), Some(to)) =
            (msg.call_id(), msg.via(), msg.cseq(), msg.from(), msg.to())
        else {
            self.counters.malformed += 1;
            self.refuse(msg, 400, dev.index, source);
            return;
        };
        let branch = via.branch().unwrap_or(b"");
        let from_tag = from.tag().unwrap_or(b"");
        let expires = msg.expires().unwrap_or(DEFAULT_EXPIRES).min(MAX_EXPIRES);
        if let Some(i) = self.find_of(dev.index, |s| {
            s.sub_cseq == cseq.seq
                && s.key(CALL_ID) == call_id
                && s.key(FROM_TAG) == from_tag
                && s.key(BRANCH) == branch
        }) {
            // The same request again: the same answer, written again (nothing kept for it).
            self.counters.retransmits += 1;
            let to = self.slots[i].source;
            self.answer(i, msg, to, expires);
            return;
        }
        self.counters.subscribes += 1;
        let interval = element(msg.body, b"Interval").and_then(parse_decimal);
        if let Some(to_tag) = to.tag() {
            let Some(i) = self
                .dialog_of(dev.index, call_id, from_tag, to_tag)
                .filter(|&i| self.slots[i].state == State::Active)
            else {
                self.counters.unknown_dialog += 1;
                self.refuse(msg, 481, dev.index, source);
                return;
            };
            self.answer(i, msg, source, expires);
            let s = &mut self.slots[i];
            s.sub_cseq = cseq.seq;
            s.set_branch(branch);
            if expires == 0 {
                self.counters.unsubscribed += 1;
                self.end_subscription(i, now);
            } else {
                self.counters.refreshed += 1;
                if let Some(v) = interval {
                    s.interval = Self::span_secs(v.max(MIN_INTERVAL));
                }
                self.start_state(i, now, expires, cfg);
            }
            self.pump(i, now, cfg);
            return;
        }
        let kind = Manscdp::parse(msg.body).and_then(|m| Kind::of_cmd(m.cmd_type));
        let Some(kind) = kind else {
            self.counters.bad_event += 1;
            self.refuse(msg, 489, dev.index, source);
            return;
        };
        let Some(i) = self.take_slot(dev.index) else {
            self.counters.refused += 1;
            self.refuse(msg, 503, dev.index, source);
            return;
        };
        self.generation = self.generation.wrapping_add(1);
        let target = msg.contact().map_or(from.uri, |c| c.uri);
        let s = &mut self.slots[i];
        s.generation = self.generation;
        s.device = dev.index;
        s.id = Some(dev.id);
        s.kind = kind;
        s.udp = dev.transport == Transport::Udp;
        s.source = source;
        s.signal = dev.signal;
        s.sub_cseq = cseq.seq;
        s.cseq = 0;
        s.interval = Self::span_secs(interval.unwrap_or(DEFAULT_INTERVAL).max(MIN_INTERVAL));
        s.set_keys([
            call_id,
            from_tag,
            msg.header(HeaderKind::From).unwrap_or(b""),
            msg.header(HeaderKind::To).unwrap_or(b""),
            target,
            msg.header_named(b"Event")
                .or_else(|| msg.header_named(b"o"))
                .unwrap_or(b""),
            branch,
        ]);
        s.state = State::Active;
        self.answer(i, msg, source, expires);
        self.counters.accepted += 1;
        if expires == 0 {
            self.end_subscription(i, now);
        } else {
            self.start_state(i, now, expires, cfg);
        }
        self.pump(i, now, cfg);
    }

    /// Writes and sends slot `i`'s 200 to `msg`, granting `expires` (a retransmission of
    /// `msg` gets it written again, the same bytes).
    fn answer(&mut self, i: usize, msg: &Message<'_, '_>, source: SocketAddr, expires: u32) {
        let tag = wire::tag(self.cfg.salt, self.slots[i].generation);
        let s = &self.slots[i];
        let Some(id) = s.id else { return };
        let ua = self.cfg.user_agent.as_bytes();
        write_ok(
            &mut self.scratch,
            msg,
            &tag,
            source,
            expires,
            (&id, &s.signal),
            ua,
        );
        let start = self.out.len();
        self.out.extend_from_slice(&self.scratch);
        self.sends.push(Transmit {
            device: s.device,
            to: source,
            what: What::Out(start, self.out.len()),
        });
    }

    /// Slot `i` (accepted or refreshed at `now` for `expires` seconds) owes the platform its
    /// current state: the Catalog pages, the position now, or the Alarm NOTIFY with no alarm.
    fn start_state(&mut self, i: usize, now: Time, expires: u32, cfg: &CameraConfig) {
        let s = &mut self.slots[i];
        s.expires_at = now + Self::span_secs(expires);
        s.state_due = now;
        s.page = 0;
        match s.kind {
            Kind::Catalog => {
                let channels = cfg.channels_of(s.device);
                s.pages = channels.div_ceil(cfg.catalog_page.max(1)).max(1);
                self.schedule_change(i, now, cfg);
            }
            Kind::MobilePosition => {
                s.pages = 0;
                s.next = now;
            }
            Kind::Alarm => {
                s.pages = 1;
                s.next = Time::MAX;
            }
        }
    }

    /// Slot `i` ends at `now`: its final NOTIFY goes once the one in flight, if any, is
    /// answered; nothing else is sent.
    fn end_subscription(&mut self, i: usize, now: Time) {
        let s = &mut self.slots[i];
        s.state = State::Ending;
        s.final_pending = true;
        s.final_due = now;
        s.pages = 0;
        s.alarm_backlog = 0;
        s.next = Time::MAX;
        s.expires_at = now + Span::ZERO;
    }
}
