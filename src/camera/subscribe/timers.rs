//! The table's wake-ups: one exact deadline per key (a subscription slot or an alarm slot) on
//! a [`TimerWheel`], so arming and cancelling are O(1) and a timer pass visits only the keys
//! due, whatever the number of subscriptions.
//!
//! The wheel keeps deadlines to the millisecond tick; the exact times are kept beside it, so
//! a key is never reported due before its exact time (a key due later in the tick the wheel
//! fired is armed again) and [`Timers::earliest`] is exact. The two earliest times are cached
//! with the number of keys at each, so the earliest is known again at once when the last key
//! at it moves (a NOTIFY answered, its slot back to a far expiry); only when neither is known
//! is it found again, from the keys of the wheel's earliest slot alone. Dense keys: the
//! vector of exact times grows to the highest key used, never shrinks.
//!
//! It never reads a clock or knows what a key stands for.

use crate::clock::Time;
use crate::timer::{TimerWheel, on_tick};
use std::cell::Cell;

/// A deadline and how many keys have it (`Time::MAX` and 0: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tier {
    at: Time,
    keys: u32,
}

const NO_KEY: Tier = Tier {
    at: Time::MAX,
    keys: 0,
};

/// Exact deadlines for dense keys over a timer wheel.
#[derive(Debug)]
pub(super) struct Timers {
    wheel: TimerWheel,
    /// Each key's exact deadline; `Time::MAX` for none.
    at: Vec<Time>,
    /// The earliest deadline, when known.
    first: Cell<Option<Tier>>,
    /// The earliest after it (`NO_KEY`: no later key), when known; unknown when `first` is.
    second: Cell<Option<Tier>>,
}

impl Timers {
    /// No key armed; the wheel starts at time zero.
    pub fn new() -> Timers {
        Timers {
            wheel: TimerWheel::new(0, Time::ZERO),
            at: Vec::new(),
            first: Cell::new(Some(NO_KEY)),
            second: Cell::new(Some(NO_KEY)),
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

    /// Keeps the cached tiers right after a key moved from `old` to `new` (`Time::MAX`: not
    /// armed).
    fn moved(&self, old: Time, new: Time) {
        let Some(mut first) = self.first.get() else {
            return;
        };
        let mut second = self.second.get();
        if old != Time::MAX {
            if old == first.at {
                first.keys = first.keys.saturating_sub(1);
                if first.keys == 0 {
                    // The next tier, if known, is the earliest now.
                    let Some(next) = second else {
                        self.forget();
                        return;
                    };
                    first = next;
                    second = None;
                }
            } else if let Some(mut s) = second
                && old == s.at
            {
                s.keys = s.keys.saturating_sub(1);
                second = (s.keys > 0).then_some(s);
            }
        }
        if new != Time::MAX {
            if new < first.at {
                second = Some(first);
                first = Tier { at: new, keys: 1 };
            } else if new == first.at {
                first.keys = first.keys.saturating_add(1);
            } else if let Some(mut s) = second {
                if new < s.at {
                    s = Tier { at: new, keys: 1 };
                } else if new == s.at {
                    s.keys = s.keys.saturating_add(1);
                }
                second = Some(s);
            }
        }
        if first == NO_KEY {
            // Nothing armed: nothing after it either.
            second = Some(NO_KEY);
        }
        self.first.set(Some(first));
        self.second.set(second);
    }

    /// Neither tier is known: found again when asked (known at once when nothing is armed).
    fn forget(&self) {
        let empty = self.wheel.is_empty();
        self.first.set(empty.then_some(NO_KEY));
        self.second.set(empty.then_some(NO_KEY));
    }

    /// The earliest exact deadline of any key; `None` when none is armed.
    pub fn earliest(&self) -> Option<Time> {
        let first = match self.first.get() {
            Some(f) => f,
            None => {
                // The keys of the wheel's earliest slot are earlier than every other key, so
                // the two earliest times among them are the two earliest of all (the second
                // only if that slot has a later key, or no key is anywhere else).
                let (mut first, mut second) = (NO_KEY, NO_KEY);
                self.wheel.for_each_next(|k| {
                    let t = self.at.get(k as usize).copied().unwrap_or(Time::MAX);
                    if t == Time::MAX {
                        return;
                    }
                    if t < first.at {
                        second = first;
                        first = Tier { at: t, keys: 1 };
                    } else if t == first.at {
                        first.keys += 1;
                    } else if t < second.at {
                        second = Tier { at: t, keys: 1 };
                    } else if t == second.at {
                        second.keys += 1;
                    }
                });
                let alone = first.keys as usize + second.keys as usize == self.wheel.len();
                self.first.set(Some(first));
                self.second
                    .set((second != NO_KEY || alone).then_some(second));
                first
            }
        };
        (first.at != Time::MAX).then_some(first.at)
    }

    /// Appends to `due` every key whose exact deadline is at or before `now`, in no set
    /// order, and disarms them; a key due later in the wheel's current tick stays armed.
    pub fn due(&mut self, now: Time, due: &mut Vec<u32>) {
        let start = due.len();
        self.wheel.advance(on_tick(now), due);
        // Those due later in this tick go back on the wheel first, so the cache sees every
        // armed key while the due ones are taken off.
        let mut kept = start;
        for r in start..due.len() {
            let key = due[r];
            let at = self.at.get(key as usize).copied().unwrap_or(Time::MAX);
            if at <= now {
                due[kept] = key;
                kept += 1;
            } else if at != Time::MAX {
                self.wheel.arm(key, at);
            }
        }
        for &key in &due[start..kept] {
            if let Some(t) = self.at.get_mut(key as usize) {
                let at = std::mem::replace(t, Time::MAX);
                self.moved(at, Time::MAX);
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
    fn a_key_due_later_in_the_tick_stays_known_while_the_due_one_goes() {
        let mut t = Timers::new();
        t.set(0, Some(us(2_000_100)));
        t.set(1, Some(us(2_000_900)));
        assert_eq!(due(&mut t, us(2_000_500)), vec![0]);
        assert_eq!(t.earliest(), Some(us(2_000_900)));
        assert_eq!(due(&mut t, us(2_000_900)), vec![1]);
        assert_eq!(t.earliest(), None);
    }

    #[test]
    fn the_next_tier_takes_over_without_a_search() {
        // One near key over many far ones (a NOTIFY in flight over the expiries): when it
        // goes, the earliest far one is known from the second tier.
        let mut t = Timers::new();
        for k in 1..100 {
            t.set(k, Some(us(3_600_000_000 + u64::from(k))));
        }
        assert_eq!(t.earliest(), Some(us(3_600_000_001)));
        t.set(0, Some(us(500_000)));
        assert_eq!(t.earliest(), Some(us(500_000)));
        t.set(0, Some(us(3_700_000_000)));
        assert!(t.first.get().is_some(), "known without a search");
        assert_eq!(t.earliest(), Some(us(3_600_000_001)));
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
                    // Half on whole seconds, so that keys share deadlines (ties).
                    let r = next();
                    let span = if r % 2 == 0 {
                        Span::from_secs(r % 20)
                    } else {
                        Span::from_micros(r % 600_000_000)
                    };
                    let at = now + span;
                    t.set(k, Some(at));
                    model[k as usize] = at;
                }
            }
            let want = model.iter().copied().filter(|t| *t != Time::MAX).min();
            assert_eq!(t.earliest(), want);
        }
    }
}
