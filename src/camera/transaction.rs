//! Non-INVITE client transactions (RFC 3261 §17.1.2) as plain data driven by the camera.
//!
//! Over UDP the request is retransmitted at T1, doubling up to T2 (T2 at once after a
//! provisional response); over TCP it is not. Either way Timer F ends it after 64·T1.

use super::TxnKind;
use super::pool::BufId;
use crate::clock::{Span, Time};

/// RFC 3261 T1: round-trip estimate, 500 ms.
pub const T1: Span = Span::from_millis(500);
/// RFC 3261 T2: longest retransmit interval for non-INVITE requests, 4 s.
pub const T2: Span = Span::from_secs(4);
/// RFC 3261 Timer F: 64·T1 = 32 s.
pub const TIMER_F: Span = T1.times(64);

/// One client transaction in flight (or idle when `active` is false).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Txn {
    /// When the request was due (latency is measured from here).
    pub due: Time,
    /// Next retransmission time; [`Time::MAX`] if none (TCP).
    pub next_retx: Time,
    /// Timer F.
    pub deadline: Time,
    /// Retransmission copy in the worker pool (UDP only).
    pub buf: Option<BufId>,
    /// Branch counter: the Via branch is derived from the camera index and this.
    pub branch: u32,
    /// Current retransmission interval in whole milliseconds (T1..=T2 fit in a `u16`, which
    /// keeps three transactions per camera small); read and written as a [`Span`] through
    /// [`Txn::interval`] and [`Txn::set_interval`].
    interval_ms: u16,
    /// Retransmissions sent.
    pub retx: u8,
    /// What it is for.
    pub kind: TxnKind,
    /// In flight.
    pub active: bool,
}

impl Txn {
    pub const IDLE: Txn = Txn {
        due: Time::ZERO,
        next_retx: Time::MAX,
        deadline: Time::ZERO,
        buf: None,
        branch: 0,
        interval_ms: 0,
        retx: 0,
        kind: TxnKind::Keepalive,
        active: false,
    };

    /// Starts a transaction sent at `now`; `udp` arms retransmissions.
    pub fn start(
        kind: TxnKind,
        due: Time,
        now: Time,
        branch: u32,
        buf: Option<BufId>,
        udp: bool,
    ) -> Txn {
        let mut t = Txn {
            due,
            next_retx: if udp { now + T1 } else { Time::MAX },
            deadline: now + TIMER_F,
            buf,
            branch,
            interval_ms: 0,
            retx: 0,
            kind,
            active: true,
        };
        t.set_interval(T1);
        t
    }

    /// The current retransmission interval.
    fn interval(&self) -> Span {
        Span::from_millis(u64::from(self.interval_ms))
    }

    /// Stores a retransmission interval (at most T2, so it fits).
    fn set_interval(&mut self, interval: Span) {
        self.interval_ms = interval.min(T2).as_millis() as u16;
    }

    /// When the request was sent (Timer F runs from there).
    pub fn sent(&self) -> Time {
        self.deadline.minus(TIMER_F)
    }

    /// True if the request is retransmitted (UDP).
    pub fn retransmitting(&self) -> bool {
        self.next_retx != Time::MAX
    }

    /// The earliest time this transaction needs attention.
    pub fn wake(&self) -> Option<Time> {
        self.active.then(|| self.next_retx.min(self.deadline))
    }

    /// Schedules the next retransmission after one was sent at `now` (Timer E doubling).
    pub fn retransmitted(&mut self, now: Time) {
        self.retx = self.retx.saturating_add(1);
        self.set_interval((2 * self.interval()).min(T2));
        self.next_retx = now + self.interval();
    }

    /// A provisional response: keep retransmitting, but every T2 (§17.1.2.2).
    pub fn provisional(&mut self, now: Time) {
        if self.retransmitting() {
            self.set_interval(T2);
            self.next_retx = now + T2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Span = Span::from_millis(1);

    #[test]
    fn timer_e_doubles_to_t2() {
        let mut t = Txn::start(TxnKind::Keepalive, Time::ZERO, Time::ZERO, 1, None, true);
        let mut sends = vec![];
        while let Some(w) = t.wake() {
            if w >= t.deadline {
                break;
            }
            sends.push(w);
            t.retransmitted(w);
        }
        let at = |ms: u64| Time::ZERO + ms * MS;
        assert_eq!(
            &sends[..6],
            &[at(500), at(1500), at(3500), at(7500), at(11500), at(15500)]
        );
        assert_eq!(*sends.last().unwrap(), at(31500));
        assert_eq!(t.retx as usize, sends.len());
        let tcp = Txn::start(TxnKind::Keepalive, Time::ZERO, Time::ZERO, 1, None, false);
        assert_eq!(tcp.wake(), Some(Time::ZERO + TIMER_F));
    }
}
