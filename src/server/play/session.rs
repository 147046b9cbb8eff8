//! One play session slot of the driver's table: where the session is in its life, its
//! timers, the dialog's keys and the stream's check. Slots are reused and keep their buffers,
//! so once warm a session allocates nothing. Only state; the transitions are the driver's.

use super::check::StreamCheck;
use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::sip::Transport;
use std::net::SocketAddr;

/// RFC 3261 T1: the first retransmission interval.
pub const T1: Span = Span::from_millis(500);
/// RFC 3261 T2: the cap of a non-INVITE request's retransmission interval.
pub const T2: Span = Span::from_secs(4);
/// Timer B and F: 64 × T1, how long a client transaction waits for a final response.
pub const TIMER_B: Span = Span::from_millis(32_000);
/// wvp-GB28181-pro gives a play up when no 200 came this long after the INVITE.
pub const PLAY_TIMEOUT: Span = Span::from_secs(10);
/// ZLMediaKit closes a stream with no RTP for this long.
pub const NO_RTP: Span = Span::from_secs(15);
/// How long an ended session keeps its SSRC, so packets still in flight are not taken for a
/// stranger's.
pub const LINGER: Span = Span::from_millis(500);

/// Where a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Unused.
    Free,
    /// INVITE sent, retransmitted (Timer A) until a response.
    Calling,
    /// A provisional response came: waiting for the final one.
    Proceeding,
    /// No 200 within [`PLAY_TIMEOUT`]: given up; a late 200 is still ACKed and BYEd until
    /// Timer B.
    GaveUp,
    /// 200 ACKed: the stream is held until the hold ends or no RTP comes.
    Streaming,
    /// BYE sent, retransmitted until a final response or Timer F.
    Byeing,
    /// Ended; its SSRC kept for [`LINGER`].
    Linger,
}

/// A session slot.
#[derive(Debug)]
pub struct Session {
    /// Its index in the table.
    pub slot: usize,
    /// Bumped on every use, so a message of an earlier use matches nothing.
    pub generation: u32,
    /// Where it is.
    pub state: State,
    /// The device played, and its index in the driver's list.
    pub device: DeviceId,
    /// See `device`.
    pub cand: usize,
    /// The device's signalling address, and how it registered.
    pub dest: SocketAddr,
    /// See `dest`.
    pub transport: Transport,
    /// The SSRC offered, the one in use (adopted from the answer if it differed), and the
    /// pool sequence behind the offered one.
    pub offered: u32,
    /// See `offered`.
    pub ssrc: u32,
    /// See `offered`.
    pub pool_seq: u16,
    /// When the INVITE went out, and the 200 came.
    pub invite_at: Time,
    /// See `invite_at`.
    pub ok_at: Option<Time>,
    /// The last RTP packet (or the 200, before the first).
    pub last_rtp: Time,
    /// The next retransmission, and the interval after it.
    pub next: Time,
    /// See `next`.
    pub interval: Span,
    /// The state's deadline: the play timeout, Timer B or F, the end of the hold, the end of
    /// the linger.
    pub deadline: Time,
    /// Counted as a started stream (so its end is counted once).
    pub started: bool,
    /// It went wrong or the device ended it: its device waits a hold before it is played
    /// again.
    pub backoff: bool,
    /// The Request-URI of in-dialog requests (the INVITE's until the 200 gives a Contact).
    pub target: Vec<u8>,
    /// The To of the 200, with the device's tag.
    pub to: Vec<u8>,
    /// The INVITE or the BYE, kept for retransmission.
    pub wire: Vec<u8>,
    /// The stream's checks.
    pub check: StreamCheck,
}

impl Session {
    /// A free slot `slot` (`nobody` fills the device until it is used).
    pub fn new(slot: usize, nobody: DeviceId) -> Session {
        Session {
            slot,
            generation: 0,
            state: State::Free,
            device: nobody,
            cand: 0,
            dest: SocketAddr::from(([0, 0, 0, 0], 0)),
            transport: Transport::Udp,
            offered: 0,
            ssrc: 0,
            pool_seq: 0,
            invite_at: Time::ZERO,
            ok_at: None,
            last_rtp: Time::ZERO,
            next: Time::MAX,
            interval: T1,
            deadline: Time::MAX,
            started: false,
            backoff: false,
            // Grown on the slot's first use, then kept.
            target: Vec::new(),
            to: Vec::new(),
            wire: Vec::new(),
            check: StreamCheck::default(),
        }
    }

    /// When this session next needs the driver, if ever.
    pub fn wake(&self) -> Option<Time> {
        match self.state {
            State::Free => None,
            State::Calling | State::Byeing => Some(self.next.min(self.deadline)),
            State::Streaming => Some(self.deadline.min(self.last_rtp + NO_RTP)),
            State::Proceeding | State::GaveUp | State::Linger => Some(self.deadline),
        }
    }

    /// True while it takes one of the driver's concurrent places (Linger does not).
    pub fn in_flight(&self) -> bool {
        !matches!(self.state, State::Free | State::Linger)
    }
}
