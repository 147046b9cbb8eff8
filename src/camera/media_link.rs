//! The camera's TCP media connection as a sans-IO state machine: when to connect, when to try
//! again, when to give up (GB/T 28181-2022 Annex D).
//!
//! With a passive platform (`a=setup:passive` in the offer) the camera is the TCP client: it
//! connects after the ACK; a refused, failed or timed-out connect is tried again
//! [`RETRY_INTERVAL`] later, [`RETRIES`] times, and a connection that drops is reconnected the
//! same way (its first attempt [`RETRY_INTERVAL`] after the drop). When every retry has failed
//! the session ends ([`LinkAction::End`]: the host calls
//! [`PlayTable::media_ended`](crate::camera::invite::PlayTable::media_ended), which sends the
//! camera's BYE). With an active platform the camera listens: the platform must connect within
//! [`ACCEPT_TIMEOUT`], and a drop ends the session (reconnecting is the platform's job).
//!
//! What it never does: open, accept or close a socket, or read a clock. The host starts a
//! connect when told ([`LinkAction::Connect`]), closes a pending one when told
//! ([`LinkAction::Abandon`]), reports what the socket did ([`TcpLink::connected`],
//! [`TcpLink::failed`]) and fires [`TcpLink::on_timer`] at [`TcpLink::poll_timeout`].

use crate::clock::{Span, Time};

/// Time between two connect attempts (Annex D: at least 1 s).
pub const RETRY_INTERVAL: Span = Span::from_secs(1);

/// Connect attempts after a failed connect or a drop before the session ends (Annex D: at
/// least 3).
pub const RETRIES: u8 = 3;

/// How long a connect may stay pending before it counts as failed (a platform that drops
/// SYNs would otherwise hold it for the kernel's two minutes).
pub const CONNECT_TIMEOUT: Span = Span::from_secs(3);

/// How long a listening camera waits for the platform's connection (wvp gives up on a stream
/// 10 s after its INVITE).
pub const ACCEPT_TIMEOUT: Span = Span::from_secs(10);

/// Where a media connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// A connect is pending (until the deadline).
    Connecting,
    /// Waiting to connect again (at the deadline).
    Waiting,
    /// Listening for the platform (until the deadline).
    Listening,
    /// Connected: media flows.
    Up,
    /// Given up: the session ends.
    Ended,
}

/// What the host must do for a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAction {
    /// Start a non-blocking connect to the platform; `retry` is false for the first one.
    Connect {
        /// A reconnect (after a failure or a drop), not the session's first connect.
        retry: bool,
    },
    /// Close the pending connect: it took longer than [`CONNECT_TIMEOUT`] (a failed attempt).
    Abandon,
    /// Give up: end the session with the camera's BYE.
    End,
}

/// One session's TCP media connection. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLink {
    state: LinkState,
    /// The camera connects (platform passive), rather than listens.
    client: bool,
    /// Reconnect attempts since the link was last up.
    retries: u8,
    /// The state's timer; `Time::MAX` for none.
    deadline: Time,
}

impl TcpLink {
    /// The camera connects (the offer was `a=setup:passive`): a first attempt starts now.
    pub fn client(now: Time) -> (TcpLink, LinkAction) {
        let link = TcpLink {
            state: LinkState::Connecting,
            client: true,
            retries: 0,
            deadline: now + CONNECT_TIMEOUT,
        };
        (link, LinkAction::Connect { retry: false })
    }

    /// The camera listens (the offer was `a=setup:active`) from now.
    pub fn server(now: Time) -> TcpLink {
        TcpLink {
            state: LinkState::Listening,
            client: false,
            retries: 0,
            deadline: now + ACCEPT_TIMEOUT,
        }
    }

    /// Where the link is.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// True while media can be sent.
    pub fn is_up(&self) -> bool {
        self.state == LinkState::Up
    }

    /// The next time [`on_timer`](Self::on_timer) has work; `None` for none.
    pub fn poll_timeout(&self) -> Option<Time> {
        match self.state {
            LinkState::Connecting | LinkState::Waiting | LinkState::Listening => {
                Some(self.deadline)
            }
            LinkState::Up | LinkState::Ended => None,
        }
    }

    /// The pending connect completed, or the platform's connection was accepted.
    pub fn connected(&mut self, _now: Time) {
        if matches!(self.state, LinkState::Connecting | LinkState::Listening) {
            self.state = LinkState::Up;
            self.retries = 0;
            self.deadline = Time::MAX;
        }
    }

    /// The pending connect failed, the connection dropped, or the listener failed.
    pub fn failed(&mut self, now: Time) -> Option<LinkAction> {
        match self.state {
            LinkState::Connecting => self.retry_or_end(now),
            LinkState::Up if self.client => {
                self.retries = 0;
                self.wait(now);
                None
            }
            LinkState::Up | LinkState::Listening => self.end(),
            LinkState::Waiting | LinkState::Ended => None,
        }
    }

    /// Fires the state's timer if it is due by `now`.
    pub fn on_timer(&mut self, now: Time) -> Option<LinkAction> {
        if self.poll_timeout().is_none_or(|t| t > now) {
            return None;
        }
        match self.state {
            LinkState::Waiting => {
                self.retries += 1;
                self.state = LinkState::Connecting;
                self.deadline = now + CONNECT_TIMEOUT;
                Some(LinkAction::Connect { retry: true })
            }
            LinkState::Connecting => match self.retry_or_end(now) {
                None => Some(LinkAction::Abandon),
                end => end,
            },
            LinkState::Listening => self.end(),
            LinkState::Up | LinkState::Ended => None,
        }
    }

    /// After a failed attempt: wait for the next, or end once the retries are spent.
    fn retry_or_end(&mut self, now: Time) -> Option<LinkAction> {
        if self.retries >= RETRIES {
            self.end()
        } else {
            self.wait(now);
            None
        }
    }

    fn wait(&mut self, now: Time) {
        self.state = LinkState::Waiting;
        self.deadline = now + RETRY_INTERVAL;
    }

    fn end(&mut self) -> Option<LinkAction> {
        self.state = LinkState::Ended;
        self.deadline = Time::MAX;
        Some(LinkAction::End)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Span = Span::from_millis(1);

    fn at(ms: u64) -> Time {
        Time::ZERO + ms * MS
    }

    /// Fires the link's timer until `until`, failing each connect it starts at once (a refused
    /// connect): when each action came and what it was.
    fn refuse_until(link: &mut TcpLink, until: Time) -> Vec<(u64, LinkAction)> {
        let mut got = vec![];
        while let Some(t) = link.poll_timeout()
            && t <= until
        {
            let Some(a) = link.on_timer(t) else { continue };
            got.push((t.as_millis(), a));
            if a == (LinkAction::Connect { retry: true }) {
                let refused = t + MS;
                if let Some(a) = link.failed(refused) {
                    got.push((refused.as_millis(), a));
                }
            }
        }
        got
    }

    #[test]
    fn a_refused_first_connect_is_tried_three_more_times_a_second_apart_then_ends() {
        let (mut link, first) = TcpLink::client(at(0));
        assert_eq!(first, LinkAction::Connect { retry: false });
        assert_eq!(link.failed(at(1)), None);
        assert_eq!(link.state(), LinkState::Waiting);
        let got = refuse_until(&mut link, at(60_000));
        let retry = LinkAction::Connect { retry: true };
        assert_eq!(
            got,
            [
                (1001, retry),
                (2002, retry),
                (3003, retry),
                (3004, LinkAction::End)
            ]
        );
        assert_eq!(
            (link.state(), link.poll_timeout()),
            (LinkState::Ended, None)
        );
    }

    #[test]
    fn a_dropped_connection_reconnects_after_a_second_and_a_success_resets_the_retries() {
        let (mut link, _) = TcpLink::client(at(0));
        link.connected(at(20));
        assert!(link.is_up());
        assert_eq!(link.poll_timeout(), None);
        // Dropped at 5 s: reconnect at 6 s, refused; again at 7 s, which connects.
        assert_eq!(link.failed(at(5_000)), None);
        assert!(!link.is_up());
        assert_eq!(link.poll_timeout(), Some(at(6_000)));
        assert_eq!(link.on_timer(at(5_999)), None);
        assert_eq!(
            link.on_timer(at(6_000)),
            Some(LinkAction::Connect { retry: true })
        );
        assert_eq!(link.failed(at(6_001)), None);
        assert_eq!(
            link.on_timer(at(7_001)),
            Some(LinkAction::Connect { retry: true })
        );
        link.connected(at(7_002));
        assert!(link.is_up());
        // Dropped again: three fresh retries, then the end.
        assert_eq!(link.failed(at(9_000)), None);
        let got = refuse_until(&mut link, at(60_000));
        let retries = got
            .iter()
            .filter(|(_, a)| *a == LinkAction::Connect { retry: true })
            .count();
        assert_eq!(retries, 3, "{got:?}");
        assert_eq!(got.first().map(|g| g.0), Some(10_000));
        assert_eq!(got.last(), Some(&(12_003, LinkAction::End)));
    }

    #[test]
    fn a_connect_that_hangs_is_abandoned_and_counts_as_a_failed_attempt() {
        let (mut link, _) = TcpLink::client(at(0));
        assert_eq!(link.poll_timeout(), Some(at(3_000)));
        assert_eq!(link.on_timer(at(3_000)), Some(LinkAction::Abandon));
        assert_eq!(link.poll_timeout(), Some(at(4_000)));
        // Every attempt hangs: three retries, each abandoned, then the end.
        let mut got = vec![];
        while let Some(t) = link.poll_timeout() {
            if let Some(a) = link.on_timer(t) {
                got.push((t.as_millis(), a));
            }
        }
        let retry = LinkAction::Connect { retry: true };
        let abandon = LinkAction::Abandon;
        assert_eq!(
            got,
            [
                (4_000, retry),
                (7_000, abandon),
                (8_000, retry),
                (11_000, abandon),
                (12_000, retry),
                (15_000, LinkAction::End)
            ]
        );
    }

    #[test]
    fn a_listening_camera_waits_ten_seconds_for_the_platform_and_ends_on_a_drop() {
        let mut link = TcpLink::server(at(0));
        assert_eq!(link.state(), LinkState::Listening);
        assert_eq!(link.poll_timeout(), Some(at(10_000)));
        assert_eq!(link.on_timer(at(9_999)), None);
        assert_eq!(link.on_timer(at(10_000)), Some(LinkAction::End));
        assert_eq!(link.poll_timeout(), None);
        // Connected in time: no timer; a drop ends the session, no reconnect.
        let mut link = TcpLink::server(at(0));
        link.connected(at(2_000));
        assert!(link.is_up());
        assert_eq!(link.poll_timeout(), None);
        assert_eq!(link.failed(at(3_000)), Some(LinkAction::End));
        assert_eq!(link.failed(at(3_001)), None, "ended once");
        // A listener that fails ends it too.
        let mut link = TcpLink::server(at(0));
        assert_eq!(link.failed(at(1)), Some(LinkAction::End));
    }

    #[test]
    fn events_out_of_place_change_nothing() {
        let (mut link, _) = TcpLink::client(at(0));
        assert_eq!(link.failed(at(1)), None);
        let waiting = link;
        link.connected(at(2));
        assert_eq!(link.failed(at(3)), None);
        assert_eq!(link, waiting, "a late connect or failure while waiting");
    }
}
