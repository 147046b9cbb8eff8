//! The driver's queries (`serve --query`): a MESSAGE `<Query>` (RecordInfo over the last
//! `--query-span`, Catalog or DeviceInfo, in turn) to the registered devices round robin at
//! the worker's share of the rate, retransmitted over UDP from T1 doubling to T2 until a final
//! response; the devices' Response MESSAGEs (answered 200 by the registrar) are matched to
//! their query by SN (which names the slot) and DeviceID, and their items summed until
//! `SumNum` (a Response without `SumNum`, as DeviceInfo's, completes its query).
//!
//! A query is given up [`QUERY_TIMEOUT`] after it was due: counted as a timeout if no final
//! response came, as incomplete if its pages did not add up. The table holds at most
//! [`MAX_QUERIES`] queries per worker; a query due when it is full is not sent and counted
//! (`table_full`). A page retransmitted by the device (same Call-ID and CSeq) is counted
//! once (the first [`PAGES_REMEMBERED`] pages of a query are remembered).
//!
//! Never reads a clock, never touches a socket; slots and their buffers are made once.

use super::Contact;
use super::stats::{C, SubStats};
use super::sub::{T1, T2};
use super::wire::{self, Me, QUERY_SUFFIX};
use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::gb::Manscdp;
use crate::gb::subscribe::{QueryKind, items, sum_num};
use crate::net::Outbox;
use crate::sip::{Message, Transport};
use crate::timer::TimerWheel;
use std::net::SocketAddr;

/// Most queries outstanding per worker.
pub const MAX_QUERIES: usize = 4096;
/// A query not fully answered this long after it was due is given up.
pub const QUERY_TIMEOUT: Span = Span::from_secs(30);
/// Pages of one query remembered to tell a retransmitted page from a new one.
pub const PAGES_REMEMBERED: usize = 16;

/// One outstanding query.
#[derive(Debug)]
struct Slot {
    generation: u32,
    busy: bool,
    kind: QueryKind,
    device: DeviceId,
    dest: SocketAddr,
    transport: Transport,
    due: Time,
    sent_at: Time,
    next: Time,
    interval: Span,
    /// A final response came.
    answered_tx: bool,
    /// Every page came.
    complete: bool,
    items: u64,
    pages: [u64; PAGES_REMEMBERED],
    npages: usize,
    wire: Vec<u8>,
}

/// What the queries need of the driver.
pub struct Ctx<'a> {
    /// The platform.
    pub me: &'a Me,
    /// The Unix time at time zero, ms.
    pub unix_zero_ms: u64,
    /// The devices to query, round robin.
    pub devices: &'a [DeviceId],
}

/// One worker's query table.
#[derive(Debug)]
pub struct Queries {
    kinds: Vec<QueryKind>,
    span_ms: u64,
    period: Span,
    next: Time,
    cursor: usize,
    turn: usize,
    slots: Vec<Slot>,
    free: Vec<u32>,
    timers: TimerWheel,
    fired: Vec<u32>,
    outstanding: usize,
    body: Vec<u8>,
}

fn hash(call_id: &[u8], cseq: u32) -> u64 {
    let h = call_id.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    });
    h ^ u64::from(cseq).rotate_left(40)
}

impl Queries {
    /// The table for `cfg`'s queries on one of `workers` workers, due from `start` (empty and
    /// never due when no query is asked).
    pub fn new(cfg: &super::SubscribeConfig, workers: u64, start: Time) -> Queries {
        let n = if cfg.queries.is_empty() {
            0
        } else {
            MAX_QUERIES
        };
        let nobody = DeviceId::parse(b"00000000000000000000").ok();
        let slots = nobody
            .map(|d| {
                (0..n)
                    .map(|_| Slot {
                        generation: 0,
                        busy: false,
                        kind: QueryKind::RecordInfo,
                        device: d,
                        dest: SocketAddr::from(([0, 0, 0, 0], 0)),
                        transport: Transport::Udp,
                        due: Time::ZERO,
                        sent_at: Time::ZERO,
                        next: Time::MAX,
                        interval: T1,
                        answered_tx: false,
                        complete: false,
                        items: 0,
                        pages: [0; PAGES_REMEMBERED],
                        npages: 0,
                        wire: Vec::new(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Queries {
            kinds: cfg.queries.clone(),
            span_ms: cfg.query_span.as_millis(),
            period: Span::from_micros(1_000_000 * workers / u64::from(cfg.query_rate.max(1))),
            next: start,
            cursor: 0,
            turn: 0,
            slots,
            free: (0..n as u32).rev().collect(),
            timers: TimerWheel::new(n, start),
            fired: Vec::with_capacity(64),
            outstanding: 0,
            body: Vec::with_capacity(512),
        }
    }

    /// The first device came at `now`: queries are due from then.
    pub fn start(&mut self, now: Time) {
        self.next = self.next.max(now);
    }

    /// Queries sent and not yet over.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// When the table next needs the driver (`devices`: some device is known to query).
    pub fn poll_timeout(&self, devices: bool) -> Time {
        let mut wake = self.timers.next_deadline().unwrap_or(Time::MAX);
        if devices && !self.kinds.is_empty() {
            wake = wake.min(self.next);
        }
        wake
    }

    fn arm(&mut self, i: usize) {
        let s = &self.slots[i];
        if s.busy {
            self.timers.arm(i as u32, s.next.min(s.due + QUERY_TIMEOUT));
        } else {
            self.timers.cancel(i as u32);
        }
    }

    fn release(&mut self, i: usize) {
        let s = &mut self.slots[i];
        if s.busy {
            s.busy = false;
            self.outstanding -= 1;
            self.free.push(i as u32);
        }
        self.arm(i);
    }

    /// Fires the retransmissions and timeouts due by `now` and sends the queries due.
    pub fn handle_timeout(
        &mut self,
        now: Time,
        ctx: &Ctx<'_>,
        contact: Contact<'_>,
        out: &mut Outbox,
        stats: &mut SubStats,
    ) {
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        self.timers.advance(now, &mut fired);
        for &i in &fired {
            let i = i as usize;
            let Some(s) = self.slots.get_mut(i) else {
                continue;
            };
            if !s.busy {
                continue;
            }
            if now >= s.due + QUERY_TIMEOUT {
                if !s.answered_tx {
                    stats.inc(C::QueryTimeouts);
                }
                if !s.complete {
                    stats.inc(C::Incomplete);
                }
                self.release(i);
                continue;
            }
            if now >= s.next {
                s.interval = (s.interval * 2).min(T2);
                s.next = now + s.interval;
                stats.inc(C::QueryRetransmits);
                out.push_with(s.dest, s.transport, |b| b.extend_from_slice(&s.wire));
            }
            self.arm(i);
        }
        self.fired = fired;
        if self.kinds.is_empty() || ctx.devices.is_empty() {
            return;
        }
        let mut budget = (1_000_000 / self.period.as_micros().max(1)).max(1);
        while self.next <= now && budget > 0 {
            budget -= 1;
            let due = self.next;
            self.next += self.period;
            self.send(now, due, ctx, contact, out, stats);
        }
        if self.next <= now {
            self.next = now + self.period;
        }
    }

    /// Sends the query due at `due` to the next registered device, if a slot is free.
    fn send(
        &mut self,
        now: Time,
        due: Time,
        ctx: &Ctx<'_>,
        contact: Contact<'_>,
        out: &mut Outbox,
        stats: &mut SubStats,
    ) {
        let n = ctx.devices.len();
        let mut pick = None;
        for k in 0..n {
            let c = (self.cursor + k) % n;
            if let Some(to) = contact(&ctx.devices[c]) {
                pick = Some((c, to));
                break;
            }
        }
        let Some((c, (dest, transport))) = pick else {
            return;
        };
        let Some(i) = self.free.pop() else {
            stats.inc(C::TableFull);
            return;
        };
        self.cursor = (c + 1) % n;
        let kind = self.kinds[self.turn % self.kinds.len()];
        self.turn = self.turn.wrapping_add(1);
        let i = i as usize;
        let s = &mut self.slots[i];
        s.generation = s.generation.wrapping_add(1);
        s.busy = true;
        s.kind = kind;
        s.device = ctx.devices[c];
        s.dest = dest;
        s.transport = transport;
        s.due = due;
        s.sent_at = now;
        s.interval = T1;
        s.next = if transport == Transport::Udp {
            now + T1
        } else {
            Time::MAX
        };
        s.answered_tx = false;
        s.complete = false;
        s.items = 0;
        s.npages = 0;
        let end = ctx.unix_zero_ms + now.as_millis();
        let span = (end.saturating_sub(self.span_ms), end);
        let mut buf = std::mem::take(&mut s.wire);
        wire::write_query(
            &mut buf,
            &mut self.body,
            ctx.me,
            (i, s.generation),
            kind,
            wire::query_sn(i, s.generation),
            &s.device,
            &dest,
            transport,
            span,
        );
        s.wire = buf;
        out.push_with(dest, transport, |b| b.extend_from_slice(&s.wire));
        self.outstanding += 1;
        stats.inc(C::Queries);
        self.arm(i);
    }

    /// Takes a response to a MESSAGE; false when it is not one of these queries'.
    pub fn handle_response(
        &mut self,
        now: Time,
        code: u16,
        call_id: &[u8],
        me: &Me,
        stats: &mut SubStats,
    ) -> bool {
        let Some((i, generation)) = wire::parse_call_id(me.salt, call_id, QUERY_SUFFIX) else {
            return false;
        };
        let Some(s) = self
            .slots
            .get_mut(i)
            .filter(|s| s.busy && s.generation == generation && !s.answered_tx)
        else {
            return true;
        };
        match code {
            100..=199 => {
                if s.next != Time::MAX {
                    s.interval = T2;
                }
                return true;
            }
            200..=299 => {
                stats.inc(C::QueryOk);
                let _ = stats
                    .query_to_ok_us
                    .record(now.since(s.sent_at).as_micros().max(1));
                s.answered_tx = true;
                s.next = Time::MAX;
                if s.complete {
                    self.release(i);
                } else {
                    self.arm(i);
                }
            }
            _ => {
                let class = usize::from(code / 100).clamp(3, 6) - 3;
                stats.inc([C::Query3xx, C::Query4xx, C::Query5xx, C::Query6xx][class]);
                // Refused: no pages will come.
                self.release(i);
            }
        }
        true
    }

    /// A Response page a device sent at `now` (`body` read from `msg`).
    pub fn page(
        &mut self,
        now: Time,
        body: &Manscdp<'_>,
        msg: &Message<'_, '_>,
        stats: &mut SubStats,
    ) {
        if QueryKind::of_cmd(body.cmd_type).is_none() {
            return;
        }
        let Some((i, generation)) = body.sn.and_then(wire::parse_query_sn) else {
            // Not one of ours (the registrar's own Catalog query, or another platform's).
            return;
        };
        let matched = self.slots.get_mut(i).filter(|s| {
            s.busy
                && wire::same_generation(generation, s.generation)
                && s.kind.cmd_type() == body.cmd_type
                && body.device_id == Some(s.device.as_bytes())
        });
        let Some(s) = matched else {
            stats.inc(C::UnmatchedPages);
            return;
        };
        let key = hash(
            msg.call_id().unwrap_or(b""),
            msg.cseq().map_or(0, |c| c.seq),
        );
        if s.pages[..s.npages].contains(&key) {
            stats.inc(C::DuplicatePages);
            return;
        }
        if s.npages < PAGES_REMEMBERED {
            s.pages[s.npages] = key;
            s.npages += 1;
        }
        stats.inc(C::Pages);
        let n = u64::from(items(body.body));
        stats.add(C::Items, n);
        if s.complete {
            return;
        }
        s.items += n;
        if sum_num(body.body).is_none_or(|sum| s.items >= u64::from(sum)) {
            s.complete = true;
            stats.inc(C::Answered);
            stats
                .query_to_last_page_us
                .saturating_record(now.since(s.due).as_micros());
            if s.answered_tx {
                self.release(i);
            }
        }
    }
}
