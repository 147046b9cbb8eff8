//! Failed-authentication bans, as real platforms keep them (Monibuca bans a device for 600 s
//! after 3 failures): per key (a device ID or a source address) the failures within a window;
//! at the rule's count the key is banned for the ban time, refused even with the right
//! password.
//!
//! The window is fixed, starting at the first failure it counts: a device that fails once per
//! retry interval (a camera with a stale password, retrying every 60 s as GB28181 asks) is
//! never banned by a rule of 5 in 60 s; only hammering is. Records live in a fixed
//! [`Table`]; when a bucket is full the least worth is forgotten: a key without a ban and with
//! the fewest failures first, a ban ending soonest last. A success does not clear failures:
//! the fast path only reads.

use super::table::{Record, Table};
use crate::clock::{Span, Time};
use std::sync::atomic::{AtomicU64, Ordering};

/// When failures lead to a ban.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BanRule {
    /// Failures within the window that ban (at least 1).
    pub after: u32,
    /// The window the failures are counted in, from the first.
    pub window: Span,
    /// How long a ban lasts.
    pub ban_for: Span,
}

impl BanRule {
    /// Monibuca's rule: a device is banned for 600 s after 3 failed attempts (counted within
    /// the same 600 s).
    pub const MONIBUCA: BanRule = BanRule {
        after: 3,
        window: Span::from_secs(600),
        ban_for: Span::from_secs(600),
    };
}

/// One key's failures and ban.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strikes {
    /// Failures counted in the current window.
    pub count: u32,
    /// End of the current window.
    pub window_end: Time,
    /// End of the ban (`Time::ZERO` if never banned).
    pub banned_until: Time,
}

impl Record for Strikes {
    fn spent(&self, now: Time) -> bool {
        now >= self.window_end && now >= self.banned_until
    }

    fn worth(&self, now: Time) -> u64 {
        if now < self.banned_until {
            // Any ban outweighs any count; a later end outweighs an earlier one.
            (1 << 63) | self.banned_until.as_micros() >> 1
        } else {
            u64::from(self.count)
        }
    }
}

/// What one failure did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Counted, below the rule's threshold.
    Counted,
    /// It reached the threshold: the key is banned from now.
    Banned,
}

/// Bans of one kind of key under one rule.
pub struct Bans {
    rule: BanRule,
    table: Table<Strikes>,
    /// The latest end of any ban set (µs): before it no probe is needed to know nothing is
    /// banned, so the authenticated fast path costs one atomic load while nobody is banned.
    horizon: AtomicU64,
}

impl Bans {
    /// Bans under `rule` in a table of at least `capacity` keys.
    pub fn new(rule: BanRule, capacity: usize) -> Bans {
        Bans {
            rule,
            table: Table::random(capacity),
            horizon: AtomicU64::new(0),
        }
    }

    /// The rule.
    pub fn rule(&self) -> BanRule {
        self.rule
    }

    /// True when `key` is banned at `now`: one atomic load while no ban can be in force, else
    /// one table probe.
    pub fn banned(&self, key: u128, now: Time) -> bool {
        if now.as_micros() >= self.horizon.load(Ordering::Relaxed) {
            return false;
        }
        self.table.get(key).is_some_and(|s| now < s.banned_until)
    }

    /// Counts one failed authentication of `key` at `now`.
    pub fn fail(&self, key: u128, now: Time) -> Failure {
        let rule = self.rule;
        let (failure, _) = self.table.upsert(key, now, |s| {
            if now >= s.window_end {
                s.count = 0;
                s.window_end = now + rule.window;
            }
            s.count = s.count.saturating_add(1);
            if s.count >= rule.after.max(1) && now >= s.banned_until {
                s.banned_until = now + rule.ban_for;
                s.count = 0;
                s.window_end = now;
                Failure::Banned
            } else {
                Failure::Counted
            }
        });
        if failure == Failure::Banned {
            self.horizon
                .fetch_max((now + rule.ban_for).as_micros(), Ordering::Relaxed);
        }
        failure
    }

    /// The keys' records (their number, capacity and evictions).
    pub fn table(&self) -> &Table<Strikes> {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Span = Span::from_secs(1);

    fn at(s: u64) -> Time {
        Time::ZERO + s * S
    }

    fn rule(after: u32, window: u64, ban_for: u64) -> BanRule {
        BanRule {
            after,
            window: window * S,
            ban_for: ban_for * S,
        }
    }

    #[test]
    fn the_nth_failure_within_the_window_bans_for_the_ban_time() {
        let b = Bans::new(rule(5, 60, 600), 64);
        for i in 0..4 {
            assert_eq!(b.fail(7, at(i)), Failure::Counted);
            assert!(!b.banned(7, at(i)));
        }
        assert_eq!(b.fail(7, at(10)), Failure::Banned);
        // Nothing at T−1, free at T: banned from the fifth failure for exactly 600 s.
        assert!(b.banned(7, at(10)));
        assert!(b.banned(7, at(610).minus(Span::from_micros(1))));
        assert!(!b.banned(7, at(610)));
        assert!(!b.banned(8, at(10)), "other keys are not");
        // Failing while banned does not extend the ban.
        for i in 0..10 {
            assert_eq!(b.fail(7, at(20 + i)), Failure::Counted);
        }
        assert!(!b.banned(7, at(610)));
    }

    #[test]
    fn failures_spaced_by_the_retry_interval_never_ban() {
        // A camera with a stale password retrying every 60 s for ten hours: 600 failures,
        // never five within one 60 s window.
        let b = Bans::new(rule(5, 60, 600), 64);
        for i in 0..600 {
            assert_eq!(b.fail(1, at(60 * i)), Failure::Counted);
            assert!(!b.banned(1, at(60 * i + 1)));
        }
        // Monibuca's three within 600 s do ban such a camera.
        let m = Bans::new(BanRule::MONIBUCA, 64);
        assert_eq!(m.fail(1, at(0)), Failure::Counted);
        assert_eq!(m.fail(1, at(60)), Failure::Counted);
        assert_eq!(m.fail(1, at(120)), Failure::Banned);
        assert!(m.banned(1, at(719)));
        assert!(!m.banned(1, at(720)));
    }

    #[test]
    fn a_window_that_ran_out_starts_counting_again() {
        let b = Bans::new(rule(3, 60, 600), 64);
        b.fail(1, at(0));
        b.fail(1, at(59));
        assert_eq!(
            b.fail(1, at(60)),
            Failure::Counted,
            "the first window ended"
        );
        b.fail(1, at(61));
        assert_eq!(b.fail(1, at(62)), Failure::Banned);
    }

    #[test]
    fn a_flood_of_new_keys_does_not_lift_a_ban() {
        let b = Bans::new(rule(2, 60, 600), 256);
        b.fail(42, at(0));
        assert_eq!(b.fail(42, at(0)), Failure::Banned);
        // A million keys failing once each, far more than the table holds.
        for k in 0..1_000_000u128 {
            b.fail(1_000 + k, at(1));
        }
        assert!(b.banned(42, at(2)), "a ban outweighs any single failure");
        assert!(b.table().live(at(2)) <= b.table().capacity());
        assert!(b.table().evictions() >= 1_000_000 - b.table().capacity() as u64);
    }

    #[test]
    fn nothing_is_probed_while_no_ban_is_in_force() {
        let b = Bans::new(rule(1, 60, 10), 64);
        assert_eq!(b.horizon.load(Ordering::Relaxed), 0);
        assert_eq!(b.fail(3, at(5)), Failure::Banned);
        assert_eq!(b.horizon.load(Ordering::Relaxed), at(15).as_micros());
        assert!(b.banned(3, at(14)));
        assert!(!b.banned(3, at(15)));
    }
}
