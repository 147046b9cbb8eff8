//! One subscription's slot in the table (its dialog's identifiers, its schedule, its NOTIFY in
//! flight), one alarm MESSAGE's slot, and the non-INVITE client
//! transaction both run (RFC 3261 §17.1.2: T1 doubling to T2 over UDP, Timer F). A slot is
//! reused after its subscription ends; its identifiers' buffer keeps its capacity, so a warm
//! slot costs no allocation. At rest a slot holds its dialog's identifiers and schedule only:
//! the copy of a NOTIFY in flight lives in the table's shared pool until its transaction ends.

use super::Kind;
use crate::camera::dialog_keys::DialogKeys;
use crate::camera::pool::BufId;
use crate::camera::{Outcome, Record, T1, T2, TIMER_F, TxnKind};
use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use std::net::{Ipv4Addr, SocketAddr};

/// A NOTIFY or alarm MESSAGE in flight (or none, when `active` is false).
#[derive(Clone, Copy, Debug)]
pub(super) struct Txn {
    pub active: bool,
    /// When the event it reports was due (its latency counts from there).
    pub due: Time,
    /// When it was first sent.
    pub sent_at: Time,
    /// Next retransmission; `Time::MAX` for none (TCP, or after a provisional response the
    /// T2 pace).
    pub next_retx: Time,
    pub interval: Span,
    /// Timer F.
    pub deadline: Time,
    pub resends: u8,
}

impl Txn {
    pub const IDLE: Txn = Txn {
        active: false,
        due: Time::ZERO,
        sent_at: Time::ZERO,
        next_retx: Time::MAX,
        interval: T1,
        deadline: Time::MAX,
        resends: 0,
    };

    /// Starts one sent at `now` for an event due at `due`; `udp` arms retransmissions.
    pub fn start(due: Time, now: Time, udp: bool) -> Txn {
        Txn {
            active: true,
            due,
            sent_at: now,
            next_retx: if udp { now + T1 } else { Time::MAX },
            interval: T1,
            deadline: now + TIMER_F,
            resends: 0,
        }
    }

    /// The earliest time it needs attention.
    pub fn wake(&self) -> Option<Time> {
        self.active.then(|| self.next_retx.min(self.deadline))
    }

    /// Schedules the next retransmission after one went out at `now`: T1 doubling up to T2.
    pub fn retransmitted(&mut self, now: Time) {
        self.resends = self.resends.saturating_add(1);
        self.interval = (2 * self.interval).min(T2);
        self.next_retx = now + self.interval;
    }

    /// A provisional response: retransmit every T2 from now on (§17.1.2.2).
    pub fn provisional(&mut self, now: Time) {
        if self.next_retx != Time::MAX {
            self.interval = T2;
            self.next_retx = now + T2;
        }
    }

    /// Its record, ended at `now` with `outcome`, timed from `due`.
    pub fn record(&self, kind: TxnKind, outcome: Outcome, due: Time, now: Time) -> Record {
        let sent = self.sent_at.max(due);
        Record {
            kind,
            outcome,
            latency: now.since(due),
            lag: sent.min(now).since(due),
            retransmits: self.resends,
            redirected: false,
        }
    }
}

/// Where a subscription is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Unused.
    Free,
    /// Accepted, NOTIFYs going out.
    Active,
    /// Ended (unsubscribed or expired): its final NOTIFY is due or in flight; free after it.
    Ending,
}

/// Indexes of the SUBSCRIBE's identifiers kept in a slot.
pub(super) const CALL_ID: usize = 0;
/// The platform's From tag.
pub(super) const FROM_TAG: usize = 1;
/// The SUBSCRIBE's From value as written (the NOTIFY's To).
pub(super) const FROM: usize = 2;
/// The SUBSCRIBE's To value as written, without a tag (the NOTIFY's From, with the camera's).
pub(super) const TO: usize = 3;
/// The platform's Contact URI (the NOTIFY's Request-URI).
pub(super) const TARGET: usize = 4;
/// The SUBSCRIBE's Event header value (echoed in every NOTIFY).
pub(super) const EVENT: usize = 5;
/// The last SUBSCRIBE's top Via branch (tells a retransmission).
pub(super) const BRANCH: usize = 6;
const PARTS: usize = 7;

/// One subscription.
#[derive(Debug)]
pub(super) struct Slot {
    pub state: State,
    /// Distinguishes this use of the slot from earlier ones (also makes the To tag).
    pub generation: u32,
    /// The device's fleet index.
    pub device: u32,
    /// The device's ID (set while in use).
    pub id: Option<DeviceId>,
    pub kind: Kind,
    /// Signalling over UDP (NOTIFYs retransmitted).
    pub udp: bool,
    /// Where the SUBSCRIBE came from: NOTIFYs go there.
    pub source: SocketAddr,
    /// The device's signalling address (Via and Contact).
    pub signal: SocketAddr,
    /// When the subscription lapses without a refresh.
    pub expires_at: Time,
    /// MobilePosition: the time between NOTIFYs.
    pub interval: Span,
    /// The next event: a MobilePosition tick, a Catalog change; `Time::MAX` for none.
    pub next: Time,
    /// Catalog: the channel that changes at `next` and whether it comes back on line.
    pub change: (u32, bool),
    /// NOTIFYs of the current state still to send (Catalog pages, the first Alarm one) and
    /// the first of them (`pages` counts down; `page` is the next page's number).
    pub pages: u32,
    pub page: u32,
    /// When the state NOTIFYs were due (the SUBSCRIBE that asked for them).
    pub state_due: Time,
    /// Alarms waiting for the NOTIFY in flight, and when the oldest was due (the later ones
    /// are timed from it too: exact for a burst, an over-estimate when one device's alarms at
    /// a rate queue up behind a slow answer).
    pub alarm_backlog: u32,
    pub alarm_due: Time,
    /// The final NOTIFY is still to send (in `Ending`), and when it became due.
    pub final_pending: bool,
    pub final_due: Time,
    /// The last SUBSCRIBE's CSeq number (a retransmission repeats it).
    pub sub_cseq: u32,
    /// The camera's NOTIFY CSeq: the last one sent.
    pub cseq: u32,
    /// The NOTIFY in flight.
    pub txn: Txn,
    /// The NOTIFY in flight, kept for retransmission in the table's pool.
    pub wire: Option<BufId>,
    /// The next slot of the same device (the table's per-device list), or none.
    pub dev_next: u32,
    keys: DialogKeys<PARTS>,
}

impl Slot {
    /// A free slot; its buffers grow on first use and keep their capacity.
    pub fn new() -> Slot {
        let nowhere = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        Slot {
            state: State::Free,
            generation: 0,
            device: 0,
            id: None,
            kind: Kind::Catalog,
            udp: true,
            source: nowhere,
            signal: nowhere,
            expires_at: Time::MAX,
            interval: Span::from_secs(u64::from(super::DEFAULT_INTERVAL)),
            next: Time::MAX,
            change: (0, false),
            pages: 0,
            page: 0,
            state_due: Time::ZERO,
            alarm_backlog: 0,
            alarm_due: Time::ZERO,
            final_pending: false,
            final_due: Time::ZERO,
            sub_cseq: 0,
            cseq: 0,
            txn: Txn::IDLE,
            wire: None,
            dev_next: u32::MAX,
            keys: DialogKeys::new(),
        }
    }

    /// Stores the identifiers, in the order of the index constants.
    pub fn set_keys(&mut self, parts: [&[u8]; PARTS]) {
        self.keys.set(parts);
    }

    /// Replaces the kept branch (the last, refreshing, SUBSCRIBE's) in place.
    pub fn set_branch(&mut self, branch: &[u8]) {
        self.keys.set_last(branch);
    }

    /// One stored identifier.
    pub fn key(&self, i: usize) -> &[u8] {
        self.keys.get(i)
    }

    /// True if it has something to send now or later with no NOTIFY in flight.
    fn next_event(&self) -> Time {
        if self.state == State::Ending {
            return if self.final_pending {
                self.final_due
            } else {
                Time::MAX
            };
        }
        if self.pages > 0 {
            return self.state_due;
        }
        if self.alarm_backlog > 0 {
            return self.alarm_due;
        }
        self.next
    }

    /// The earliest time the slot needs the timer pass.
    pub fn wake(&self) -> Option<Time> {
        if self.state == State::Free {
            return None;
        }
        let mut t = if self.txn.active {
            self.txn.wake().unwrap_or(Time::MAX)
        } else {
            self.next_event()
        };
        if self.state == State::Active {
            t = t.min(self.expires_at);
        }
        (t != Time::MAX).then_some(t)
    }

    /// Frees the slot (its identifiers' buffer keeps its capacity; the table releases its
    /// NOTIFY's copy first).
    pub fn free(&mut self) {
        self.state = State::Free;
        self.txn = Txn::IDLE;
        self.next = Time::MAX;
        self.pages = 0;
        self.alarm_backlog = 0;
        self.final_pending = false;
        self.expires_at = Time::MAX;
    }
}

/// One alarm MESSAGE sent outside any dialog.
#[derive(Debug)]
pub(super) struct AlarmSlot {
    pub txn: Txn,
    /// Distinguishes this request of the slot (its branch).
    pub generation: u32,
    /// The MESSAGE's Call-ID discriminator (the first request's generation; kept by the
    /// answer to a challenge).
    pub call: u32,
    /// The request in flight answers a challenge (a second one ends it).
    pub authed: bool,
    /// The device's fleet index.
    pub device: u32,
    /// The registrar it went to.
    pub to: SocketAddr,
    /// The MESSAGE in flight, kept for retransmission in the table's pool.
    pub wire: Option<BufId>,
}

impl AlarmSlot {
    /// A free one.
    pub fn new() -> AlarmSlot {
        AlarmSlot {
            txn: Txn::IDLE,
            generation: 0,
            call: 0,
            authed: false,
            device: 0,
            to: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            wire: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_and_a_refresh_replaces_the_branch() {
        let mut s = Slot::new();
        s.set_keys([
            b"cid",
            b"ft",
            b"<sip:p@d>;tag=ft",
            b"<sip:c@d>",
            b"sip:p@h",
            b"Catalog",
            b"z9hG4bK1",
        ]);
        assert_eq!(s.key(CALL_ID), b"cid");
        assert_eq!(s.key(EVENT), b"Catalog");
        s.set_branch(b"z9hG4bKlonger");
        assert_eq!(s.key(BRANCH), b"z9hG4bKlonger");
        assert_eq!(s.key(TARGET), b"sip:p@h");
        assert_eq!(s.wake(), None);
    }

    #[test]
    fn a_slot_at_rest_is_small() {
        // Its identifiers' bytes (a few hundred) are on the heap beside it; no copy of a
        // NOTIFY or an answer is kept in it.
        let size = std::mem::size_of::<Slot>();
        assert!(size <= 320, "{size}");
    }

    #[test]
    fn notify_retransmits_double_to_t2_until_timer_f() {
        let mut t = Txn::start(Time::ZERO, Time::ZERO, true);
        let mut sends = vec![];
        while let Some(w) = t.wake()
            && w < t.deadline
        {
            sends.push(w.as_millis());
            t.retransmitted(w);
        }
        assert_eq!(&sends[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(sends.last(), Some(&31500));
        assert_eq!(t.wake(), Some(Time::ZERO + TIMER_F));
        let tcp = Txn::start(Time::ZERO, Time::ZERO, false);
        assert_eq!(tcp.wake(), Some(Time::ZERO + TIMER_F));
    }
}
