//! The table's wake-ups: one exact deadline per key (a subscription slot or an alarm slot) on
//! a [`TimerWheel`], so arming and cancelling are O(1) and a timer pass visits only the keys
//! due, whatever the number of subscriptions.
//!
//! The wheel keeps deadlines to the millisecond tick; the exact times are kept beside it, so
//! a key is never reported due before its exact time (a key due later in the tick the wheel
//! fired is armed again) and [`Timers::earliest`] is exact. The earliest time is cached with
//! the number of keys that share it; it is found again, from the keys of the wheel's
//! earliest slot only, when the last of those keys moves. Dense keys: the vector of exact
//! times grows to the highest key used, never shrinks.
//!
//! It never reads a clock or knows what a key stands for.

use crate::clock::Time;
use crate::timer::{TimerWheel, on_tick};
use std::cell::Cell;

/// The earliest exact deadline and how many keys have it (`Time::MAX` and 0: none armed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Earliest {
    at: Time,
    keys: u32,
}

/// Exact deadlines for dense keys over a timer wheel.
#[derive(Debug)]
pub(super) struct Timers {
    wheel: TimerWheel,
    /// Each key's exact deadline; `Time::MAX` for none.
    at: Vec<Time>,
    /// The earliest deadline, when known.
    earliest: Cell<Option<Earliest>>,
}

impl Timers {
    /// No key armed; the wheel starts at time zero.
    pub fn new() -> Timers {
        Timers {
            wheel: TimerWheel::new(0, Time::ZERO),
            at: Vec::new(),
            earliest: Cell::new(Some(Earliest {
                at: Time::MAX,
                keys: 0,
            })),
        }
    }

    /// Key `key`'s exact deadline, if armed.
    #[cfg(test)]
    pub fn get(&self, key: u32) -> Option<Time> {
        self.at
            .get(key as usize)
            .copied()
            .filter(|t| *t != Time::MAX)
    }

    /// Sets (or with `None` clears) key `key`'s deadline.
    pub fn set(&mut self, key: u32, at: Option<Time>) {
        let new = at.unwrap_or(Time::MAX);
        let k = key as usize;
        if k >= self.at.len() {
            if new == Time::MAX {
                return;
            }
            self.at.resize(k + 1, Time::MAX);
        }
        let old = std::mem::replace(&mut self.at[k], new);
        if old == new {
            return;
        }
        if new == Time::MAX {
            self.wheel.cancel(key);
        } else {
            self.wheel.arm(key, new);
        }
        self.moved(old, new);
    }

    /// Keeps the cached earliest time right after a key moved from `old` to `new`.
    fn moved(&self, old: Time, new: Time) {
        let Some(mut e) = self.earliest.get() else {
            return;
        };
        if old != Time::MAX && old == e.at {
            e.keys = e.keys.saturating_sub(1);
            if e.keys == 0 {
                // The last key at the earliest time moved: found again when asked.
                let empty = self.wheel.is_empty();
                self.earliest.set(empty.then_some(Earliest {
                    at: Time::MAX,
                    keys: 0,
                }));
                return;
            }
        }
        if new != Time::MAX {
            if new < e.at {
                e = Earliest { at: new, keys: 1 };
            } else if new == e.at {
                e.keys = e.keys.saturating_add(1);
            }
        }
        self.earliest.set(Some(e));
    }

    /// The earliest exact deadline of any key; `None` when none is armed.
    pub fn earliest(&self) -> Option<Time> {
        let e = match self.earliest.get() {
            Some(e) => e,
            None => {
                let mut e = Earliest {
                    at: Time::MAX,
                    keys: 0,
                };
                self.wheel.for_each_next(|k| {
                    let t = self.at.get(k as usize).copied().unwrap_or(Time::MAX);
                    if t < e.at {
                        e = Earliest { at: t, keys: 1 };
                    } else if t == e.at && t != Time::MAX {
                        e.keys += 1;
                    }
                });
                self.earliest.set(Some(e));
                e
            }
        };
        (e.at != Time::MAX).then_some(e.at)
    }

    /// Appends to `due` every key whose exact deadline is at or before `now`, in no set
    /// order, and disarms them; a key due later in the wheel's current tick stays armed.
    pub fn due(&mut self, now: Time, due: &mut Vec<u32>) {
        let start = due.len();
        self.wheel.advance(on_tick(now), due);
        let mut kept = start;
        for r in start..due.len() {
            let key = due[r];
            let at = self.at.get(key as usize).copied().unwrap_or(Time::MAX);
            if at <= now {
                if let Some(t) = self.at.get_mut(key as usize) {
                    *t = Time::MAX;
                }
                self.moved(at, Time::MAX);
                due[kept] = key;
                kept += 1;
            } else if at != Time::MAX {
                self.wheel.arm(key, at);
            }
        }
        due.truncate(kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Span;

    fn us(n: u64) -> Time {
        Time::ZERO + Span::from_micros(n)
    }

    fn due(t: &mut Timers, now: Time) -> Vec<u32> {
        let mut v = Vec::new();
        t.due(now, &mut v);
        v.sort_unstable();
        v
    }

    #[test]
    fn exact_to_the_microsecond_and_never_early() {
        let mut t = Timers::new();
        t.set(4, Some(us(1_500_300)));
        t.set(2, Some(us(3_600_000_000)));
        assert_eq!(t.earliest(), Some(us(1_500_300)));
        assert!(due(&mut t, us(1_500_299)).is_empty());
        assert_eq!(t.earliest(), Some(us(1_500_300)));
        assert_eq!(due(&mut t, us(1_500_300)), vec![4]);
        assert_eq!(t.earliest(), Some(us(3_600_000_000)));
        assert_eq!(t.get(4), None);
        t.set(2, None);
        assert_eq!(t.earliest(), None);
    }

    #[test]
    fn the_earliest_follows_moves_and_ties() {
        let mut t = Timers::new();
        for k in 0..10 {
            t.set(k, Some(us(5_000_000)));
        }
        t.set(10, Some(us(9_000_000)));
        for k in 0..9 {
            t.set(k, Some(us(20_000_000 + u64::from(k))));
            assert_eq!(t.earliest(), Some(us(5_000_000)));
        }
        t.set(9, None);
        assert_eq!(t.earliest(), Some(us(9_000_000)));
        t.set(10, Some(us(30_000_000)));
        assert_eq!(t.earliest(), Some(us(20_000_000)));
        t.set(3, Some(us(1)));
        assert_eq!(t.earliest(), Some(us(1)));
        assert_eq!(due(&mut t, us(20_000_001)), vec![0, 1, 3]);
        assert_eq!(t.earliest(), Some(us(20_000_002)));
    }

    #[test]
    fn matches_a_scan_over_random_moves() {
        // A small generator, so the test needs no seed from outside.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut t = Timers::new();
        let mut model = vec![Time::MAX; 64];
        let mut now = Time::ZERO;
        for _ in 0..20_000 {
            let r = next();
            let k = (r % 64) as u32;
            match (r >> 8) % 4 {
                0 => {
                    t.set(k, None);
                    model[k as usize] = Time::MAX;
                }
                1 => {
                    now += Span::from_micros(next() % 3_000_000);
                    let got = due(&mut t, now);
                    let mut want: Vec<u32> =
                        (0..64u32).filter(|&k| model[k as usize] <= now).collect();
                    want.sort_unstable();
                    for &k in &want {
                        model[k as usize] = Time::MAX;
                    }
                    assert_eq!(got, want);
                }
                _ => {
                    let at = now + Span::from_micros(next() % 600_000_000);
                    t.set(k, Some(at));
                    model[k as usize] = at;
                }
            }
            let want = model.iter().copied().filter(|t| *t != Time::MAX).min();
            assert_eq!(t.earliest(), want);
        }
    }
}
