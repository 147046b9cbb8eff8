//! Non-INVITE client transactions (RFC 3261 §17.1.2) as plain data driven by the camera.
//!
//! Over UDP the request is retransmitted at T1, doubling up to T2 (T2 at once after a
//! provisional response); over TCP it is not. Either way Timer F ends it after 64·T1.

use super::TxnKind;
use super::pool::NONE;

/// RFC 3261 T1: round-trip estimate, 500 ms.
pub const T1_US: u64 = 500_000;
/// RFC 3261 T2: longest retransmit interval for non-INVITE requests, 4 s.
pub const T2_US: u64 = 4_000_000;
/// RFC 3261 Timer F: 64·T1 = 32 s.
pub const TIMER_F_US: u64 = 64 * T1_US;

/// One client transaction in flight (or idle when `active` is false).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Txn {
    /// When the request was due (latency is measured from here).
    pub due: u64,
    /// Next retransmission time, 0 if none (TCP).
    pub next_retx: u64,
    /// Timer F.
    pub deadline: u64,
    /// Retransmission copy in the worker pool.
    pub buf: u32,
    /// Branch counter: the Via branch is derived from the camera index and this.
    pub branch: u32,
    /// Current retransmission interval in milliseconds.
    pub interval_ms: u16,
    /// Retransmissions sent.
    pub retx: u8,
    /// What it is for.
    pub kind: TxnKind,
    /// In flight.
    pub active: bool,
}

impl Txn {
    pub const IDLE: Txn = Txn {
        due: 0,
        next_retx: 0,
        deadline: 0,
        buf: NONE,
        branch: 0,
        interval_ms: 0,
        retx: 0,
        kind: TxnKind::Keepalive,
        active: false,
    };

    /// Starts a transaction sent at `now`; `udp` arms retransmissions.
    pub fn start(kind: TxnKind, due: u64, now: u64, branch: u32, buf: u32, udp: bool) -> Txn {
        Txn {
            due,
            next_retx: if udp { now + T1_US } else { 0 },
            deadline: now + TIMER_F_US,
            buf,
            branch,
            interval_ms: (T1_US / 1000) as u16,
            retx: 0,
            kind,
            active: true,
        }
    }

    /// The earliest time this transaction needs attention.
    pub fn wake(&self) -> Option<u64> {
        if !self.active {
            return None;
        }
        Some(if self.next_retx != 0 {
            self.next_retx.min(self.deadline)
        } else {
            self.deadline
        })
    }

    /// Schedules the next retransmission after one was sent at `now` (Timer E doubling).
    pub fn retransmitted(&mut self, now: u64) {
        self.retx = self.retx.saturating_add(1);
        let doubled = (u64::from(self.interval_ms) * 2).min(T2_US / 1000);
        self.interval_ms = doubled as u16;
        self.next_retx = now + doubled * 1000;
    }

    /// A provisional response: keep retransmitting, but every T2 (§17.1.2.2).
    pub fn provisional(&mut self, now: u64) {
        if self.next_retx != 0 {
            self.interval_ms = (T2_US / 1000) as u16;
            self.next_retx = now + T2_US;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_e_doubles_to_t2() {
        let mut t = Txn::start(TxnKind::Keepalive, 0, 0, 1, NONE, true);
        let mut sends = vec![];
        while let Some(w) = t.wake() {
            if w >= t.deadline {
                break;
            }
            sends.push(w / 1000);
            t.retransmitted(w);
        }
        assert_eq!(&sends[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(*sends.last().unwrap(), 31500);
        assert_eq!(t.retx as usize, sends.len());
        let tcp = Txn::start(TxnKind::Keepalive, 0, 0, 1, NONE, false);
        assert_eq!(tcp.wake(), Some(TIMER_F_US));
    }
}
