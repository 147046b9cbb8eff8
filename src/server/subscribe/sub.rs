//! One subscription slot of the driver's table (a device and a kind): where the subscription
//! is in its life, its transaction's timers, the dialog's keys and what its NOTIFYs showed.
//! Slots are made when a device registers and reused for every subscription to it; they keep
//! their two small buffers (the target and the To), so once warm nothing allocates, and no
//! copy of the request: it is written again for a retransmission. Only state; the transitions are the
//! driver's.

use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::gb::subscribe::EventKind;
use crate::sip::Transport;
use std::net::SocketAddr;

/// RFC 3261 T1: the first retransmission interval.
pub const T1: Span = Span::from_millis(500);
/// RFC 3261 T2: the cap of a non-INVITE request's retransmission interval.
pub const T2: Span = Span::from_secs(4);
/// Timer F: 64 × T1, how long a non-INVITE client transaction waits for a final response.
pub const TIMER_F: Span = Span::from_millis(32_000);
/// How long a subscription that failed (an error, a timeout, a terminating NOTIFY) or whose
/// device was not registered waits before it is tried again.
pub const RETRY: Span = Span::from_secs(30);
/// A refresh is sent at this share (per mille) of the expiry the 200 granted.
pub const REFRESH_PERMILLE: u32 = 850;

/// Where a subscription is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not subscribed: queued to be, or waiting [`RETRY`] first.
    Idle,
    /// The first SUBSCRIBE sent, retransmitted until a final response or Timer F.
    Subscribing,
    /// Subscribed (a 2xx came): refreshed before it expires.
    Active,
    /// Subscribed, a refresh in flight.
    Refreshing,
}

/// A subscription slot.
#[derive(Debug)]
pub struct Sub {
    /// Bumped on every new subscription, so a message of an earlier one matches nothing.
    pub generation: u32,
    /// Where it is.
    pub state: State,
    /// True while it sits in the driver's queue of subscriptions to send.
    pub queued: bool,
    /// The device and the kind.
    pub device: DeviceId,
    /// See `device`.
    pub kind: EventKind,
    /// The device's signalling address, and how it registered.
    pub dest: SocketAddr,
    /// See `dest`.
    pub transport: Transport,
    /// The CSeq of the SUBSCRIBE in flight (or the last one).
    pub cseq: u32,
    /// When the SUBSCRIBE in flight was first sent.
    pub sent_at: Time,
    /// The next retransmission, and the interval after it.
    pub next: Time,
    /// See `next`.
    pub interval: Span,
    /// Timer F of the transaction in flight; when Active, the refresh time; when Idle, the end
    /// of the wait.
    pub deadline: Time,
    /// When the first 2xx came.
    pub ok_at: Option<Time>,
    /// A NOTIFY came in this subscription.
    pub notified: bool,
    /// The last MobilePosition NOTIFY's arrival: the schedule the next one's lateness is
    /// measured against.
    pub last_position: Option<Time>,
    /// A refresh was sent and the NOTIFY the device owes for it (RFC 6665 §4.2.1.2) has not
    /// come yet: that one is not a tick, it restarts the schedule.
    pub resync: bool,
    /// The highest NOTIFY CSeq number taken in this dialog: one not above it is a
    /// retransmission (answered again, not counted again).
    pub notify_cseq: u32,
    /// The Request-URI of in-dialog requests (the first SUBSCRIBE's until a 2xx gives a
    /// Contact).
    pub target: Vec<u8>,
    /// The 2xx's To, with the device's tag (empty before).
    pub to: Vec<u8>,
}

impl Sub {
    /// An idle slot for `device`'s `kind` subscription.
    pub fn new(device: DeviceId, kind: EventKind) -> Sub {
        Sub {
            generation: 0,
            state: State::Idle,
            queued: false,
            device,
            kind,
            dest: SocketAddr::from(([0, 0, 0, 0], 0)),
            transport: Transport::Udp,
            cseq: 0,
            sent_at: Time::ZERO,
            next: Time::MAX,
            interval: T1,
            deadline: Time::MAX,
            ok_at: None,
            notified: false,
            last_position: None,
            resync: false,
            notify_cseq: 0,
            // Grown on the slot's first use, then kept.
            target: Vec::new(),
            to: Vec::new(),
        }
    }

    /// When this slot next needs the driver, if ever.
    pub fn wake(&self) -> Option<Time> {
        match self.state {
            State::Idle if self.queued => None,
            State::Subscribing | State::Refreshing => Some(self.next.min(self.deadline)),
            State::Idle | State::Active => (self.deadline != Time::MAX).then_some(self.deadline),
        }
    }

    /// True while a NOTIFY in its dialog is expected: a SUBSCRIBE sent and not failed.
    pub fn live(&self) -> bool {
        self.state != State::Idle
    }
}
