//! A wake-up to the microsecond for a mio loop: a Linux `timerfd` on the monotonic clock,
//! registered in the loop's [`mio::Poll`] under a token of its own.
//!
//! A poll's own timeout counts whole milliseconds, rounded up (epoll), and the kernel adds
//! the thread's timer slack on top, so a loop that sleeps until its next timer by timeout
//! alone wakes up to a millisecond or more after it; a timerfd fires on a high-resolution
//! timer with no slack. The alarm is armed at an absolute [`Time`] of the host's [`Clock`],
//! and only when the wake-up wanted is earlier than the one armed or the armed one has gone
//! off: a loop woken by its sockets turn after turn makes no system call for its alarm on
//! most turns, at the price of an occasional early wake-up that finds nothing due. The host
//! keeps its poll timeout as a backstop, so an alarm that cannot be armed costs precision,
//! never a missed timer.
//!
//! Nothing here reads the host's clock (the host passes `now`) or any socket; the timerfd is
//! never read either: re-arming it clears its readiness, and the edge-triggered poll reports
//! each expiry afresh.

use crate::clock::{Clock, Time};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use rustix::time::{
    ClockId, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, clock_gettime,
    timerfd_create, timerfd_settime,
};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

const NS_PER_S: u64 = 1_000_000_000;

/// A timerfd registered in a poll, armed for one [`Time`] at a time.
#[derive(Debug)]
pub struct Alarm {
    fd: OwnedFd,
    /// The monotonic clock's reading at the host clock's zero, in nanoseconds.
    zero_ns: u64,
    /// When it is armed to go off; [`Time::MAX`] when it is not armed.
    armed: Time,
}

impl Alarm {
    /// A disarmed alarm for times of `clock` (whose zero is an [`std::time::Instant`], which
    /// on Linux reads the same monotonic clock), registered in `registry` under `token`: the
    /// poll reports `token` readable when it goes off.
    pub fn new(registry: &Registry, token: Token, clock: &Clock) -> io::Result<Alarm> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(Alarm {
            fd,
            zero_ns: zero_ns(clock),
            armed: Time::MAX,
        })
    }

    /// When it is armed to go off, if it is.
    pub fn armed(&self) -> Option<Time> {
        (self.armed != Time::MAX).then_some(self.armed)
    }

    /// Makes the poll return by `at`, the host's time being `now`: arms the timer for `at`
    /// unless it is armed for an earlier time still to come (the host wakes then, early, and
    /// asks again). A time already due needs no alarm (the host polls without waiting).
    pub fn wake_by(&mut self, at: Time, now: Time) -> io::Result<()> {
        if at <= now || (self.armed <= at && self.armed > now) {
            return Ok(());
        }
        let ns = self
            .zero_ns
            .saturating_add(at.as_micros().saturating_mul(1000));
        let it_value = Timespec {
            tv_sec: (ns / NS_PER_S) as _,
            tv_nsec: (ns % NS_PER_S) as _,
        };
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value,
        };
        self.armed = Time::MAX;
        timerfd_settime(&self.fd, TimerfdTimerFlags::ABSTIME, &spec)?;
        self.armed = at;
        Ok(())
    }
}

/// The monotonic clock's reading at `clock`'s zero, never below the true one: a reading of
/// `clock` taken between two monotonic readings (the closest pair of a few tries), counted
/// back from the later one. An alarm armed with it never goes off before its time by `clock`,
/// and late by no more than that pair's gap and a microsecond.
fn zero_ns(clock: &Clock) -> u64 {
    let mut best = (u64::MAX, 0);
    for _ in 0..3 {
        let before = nanos(clock_gettime(ClockId::Monotonic));
        let now = clock.now().as_micros().saturating_mul(1000);
        let after = nanos(clock_gettime(ClockId::Monotonic));
        let gap = after.saturating_sub(before);
        if gap < best.0 {
            best = (gap, after.saturating_sub(now));
        }
    }
    best.1
}

/// A monotonic reading in nanoseconds (it never is negative).
fn nanos(t: Timespec) -> u64 {
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(NS_PER_S)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Span;
    use mio::{Events, Poll};
    use std::time::Duration;

    const ALARM: Token = Token(7);

    /// Polls until the alarm's token is reported, for at most 10 s: the time it was seen.
    fn wait(poll: &mut Poll, clock: &Clock) -> Option<Time> {
        let mut events = Events::with_capacity(4);
        let give_up = clock.now() + Span::from_secs(10);
        while clock.now() < give_up {
            poll.poll(&mut events, Some(Duration::from_secs(1))).ok()?;
            if events.iter().any(|e| e.token() == ALARM) {
                return Some(clock.now());
            }
        }
        None
    }

    #[test]
    fn goes_off_never_before_its_time_and_again_when_rearmed() {
        let clock = Clock::start();
        let mut poll = Poll::new().unwrap();
        let mut alarm = Alarm::new(poll.registry(), ALARM, &clock).unwrap();
        assert_eq!(alarm.armed(), None);
        for _ in 0..3 {
            // Never read: re-arming alone makes it go off again.
            let now = clock.now();
            let at = now + Span::from_millis(2);
            alarm.wake_by(at, now).unwrap();
            assert_eq!(alarm.armed(), Some(at));
            let seen = wait(&mut poll, &clock).expect("the alarm went off");
            assert!(seen >= at, "{seen:?} < {at:?}");
        }
    }

    #[test]
    fn rearms_only_for_an_earlier_time_or_once_gone_off() {
        let clock = Clock::start();
        let poll = Poll::new().unwrap();
        let mut alarm = Alarm::new(poll.registry(), ALARM, &clock).unwrap();
        let now = Time::ZERO + Span::from_secs(1);
        let s = Span::from_secs(1);
        alarm.wake_by(now + 5 * s, now).unwrap();
        // Later: the earlier alarm stands (one early wake-up, no system call).
        alarm.wake_by(now + 9 * s, now).unwrap();
        assert_eq!(alarm.armed(), Some(now + 5 * s));
        // Earlier: re-armed.
        alarm.wake_by(now + 3 * s, now).unwrap();
        assert_eq!(alarm.armed(), Some(now + 3 * s));
        // Due already: nothing to arm.
        alarm.wake_by(now, now).unwrap();
        assert_eq!(alarm.armed(), Some(now + 3 * s));
        // Once the armed time has passed, any later time re-arms.
        let later = now + 4 * s;
        alarm.wake_by(later + 5 * s, later).unwrap();
        assert_eq!(alarm.armed(), Some(later + 5 * s));
    }
}
