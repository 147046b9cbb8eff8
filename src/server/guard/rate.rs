//! A per-source request-rate limit, as Kamailio's pike module puts in front of a registrar: a
//! token bucket per source address, kept as its theoretical arrival time (GCRA), so one
//! record is one `u64`. A source may send `burst` messages at once and `per_second` after
//! that; above it its messages are refused (503 with Retry-After) or dropped.
//!
//! Records live in a fixed [`Table`]; when a bucket is full, the source whose bucket is
//! fullest (furthest from its limit) is forgotten first: a forgotten source starts again with
//! a full bucket, so forgetting a full one loses nothing, and the sources being limited are
//! the ones kept.

use super::table::{Record, Table};
use crate::clock::{Span, Time};

/// What to do with a message over the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// Answer requests `503 Service Unavailable` with `Retry-After` (devices back off by it).
    Reject,
    /// Drop silently (nothing reflected to a spoofed source).
    Drop,
}

/// A per-source rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained messages per second per source (at least 1).
    pub per_second: u32,
    /// Messages a source may send at once (at least 1).
    pub burst: u32,
    /// What happens above it.
    pub over: Over,
}

impl RateLimit {
    /// The limit `serve` applies when it listens beyond loopback and none is given: 1,000
    /// messages/s and bursts of 2,000 per source. A site of 20,000 cameras behind one
    /// address, keepalives every 60 s, sends about 350/s; a load generator sending more from
    /// one address turns it off.
    pub const DEFAULT: RateLimit = RateLimit {
        per_second: 1_000,
        burst: 2_000,
        over: Over::Reject,
    };

    fn interval(&self) -> Span {
        Span::from_micros(1_000_000 / u64::from(self.per_second.max(1))).max(Span::from_micros(1))
    }
}

/// One source's bucket: the time at which it would be full again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    tat: Time,
}

impl Record for Bucket {
    fn spent(&self, now: Time) -> bool {
        self.tat <= now
    }

    fn worth(&self, now: Time) -> u64 {
        (self.tat - now).as_micros()
    }
}

/// Buckets of every source.
pub struct Limiter {
    limit: RateLimit,
    table: Table<Bucket>,
}

impl Limiter {
    /// A limiter for `limit` over a table of at least `capacity` sources.
    pub fn new(limit: RateLimit, capacity: usize) -> Limiter {
        Limiter {
            limit,
            table: Table::random(capacity),
        }
    }

    /// The limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes one message from `key` at `now`: `Ok` if within the limit, else the whole
    /// seconds (at least 1) until the source may send again.
    pub fn admit(&self, key: u128, now: Time) -> Result<(), u32> {
        let t = self.limit.interval();
        let tau = t.times(u64::from(self.limit.burst.max(1)));
        let (verdict, _) = self.table.upsert(key, now, |b| {
            let next = b.tat.max(now) + t;
            if next - now > tau {
                let wait = (next - now) - tau;
                Err(wait.as_micros().div_ceil(1_000_000).clamp(1, 3600) as u32)
            } else {
                b.tat = next;
                Ok(())
            }
        });
        verdict
    }

    /// The sources' buckets (their number, capacity and evictions).
    pub fn table(&self) -> &Table<Bucket> {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Span = Span::from_millis(1);

    fn limiter(per_second: u32, burst: u32) -> Limiter {
        Limiter::new(
            RateLimit {
                per_second,
                burst,
                over: Over::Reject,
            },
            64,
        )
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let l = limiter(10, 5);
        let t0 = Time::ZERO + 1000 * MS;
        for _ in 0..5 {
            assert_eq!(l.admit(1, t0), Ok(()));
        }
        assert_eq!(l.admit(1, t0), Err(1), "the sixth at once is over");
        assert_eq!(l.admit(2, t0), Ok(()), "another source has its own bucket");
        // One token every 100 ms: nothing at T−1, one at T.
        assert_eq!(l.admit(1, t0 + 99 * MS), Err(1));
        assert_eq!(l.admit(1, t0 + 100 * MS), Ok(()));
        assert_eq!(l.admit(1, t0 + 100 * MS), Err(1));
        // An hour at exactly the rate is never limited.
        let mut now = t0 + 200 * MS;
        for _ in 0..36_000 {
            assert_eq!(l.admit(1, now), Ok(()));
            now += 100 * MS;
        }
        // Idle for a second: the whole burst again.
        now += 1000 * MS;
        for _ in 0..5 {
            assert_eq!(l.admit(1, now), Ok(()));
        }
    }

    #[test]
    fn retry_after_says_when_a_message_would_pass() {
        let l = limiter(1, 1);
        let t0 = Time::ZERO;
        assert_eq!(l.admit(9, t0), Ok(()));
        assert_eq!(l.admit(9, t0), Err(1));
        let slow = limiter(1, 1);
        slow.admit(9, t0).unwrap();
        assert_eq!(slow.admit(9, t0 + 999 * MS), Err(1));
        assert_eq!(slow.admit(9, t0 + 1000 * MS), Ok(()));
    }

    #[test]
    fn spoofed_sources_cannot_grow_the_table_or_free_a_limited_one() {
        let l = limiter(1, 2);
        let t0 = Time::ZERO;
        let hot = 77u128;
        while l.admit(hot, t0).is_ok() {}
        for k in 0..200_000u128 {
            let _ = l.admit(1_000 + k, t0);
        }
        assert!(l.table().live(t0) <= l.table().capacity());
        assert!(l.table().evictions() > 0);
        assert!(l.admit(hot, t0).is_err(), "still limited");
    }
}
