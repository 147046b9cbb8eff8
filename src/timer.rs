//! A hierarchical timer wheel: one pending deadline per key, O(1) arm and cancel, one tick
//! ([`TICK`], a millisecond) of resolution, sized for a million keys per core.
//!
//! Keys are dense indices (a worker's camera slots); each key has at most one deadline, which
//! is all a sans-IO state machine needs since it reports only its earliest wake-up. Six levels
//! of 64 slots cover 64^6 ticks (about 795 days); the top level is a ring whose slots behind
//! the current one hold the next rotation, and deadlines more than 63 of its 64 slots ahead
//! (about 783 days) are clamped to that horizon: they fire early there, never late and never
//! in a loop.
//!
//! The wheel speaks [`Time`] like its hosts and the cameras; inside, it counts ticks. A
//! deadline is rounded *up* to its tick and the time given to [`TimerWheel::advance`] *down*,
//! so a key never fires before its deadline, and at most a tick after it. A deadline on a
//! whole tick ([`on_tick`]) fires exactly at it: that is how the schedules that start
//! transactions (the ramp, the stop, the cameras' keepalives, refreshes and retries) are
//! kept to the microsecond by a host that wakes when the wheel says, while the transactions
//! due in one tick still share one wake-up. The wheel never reads the clock: time moves only
//! when [`TimerWheel::advance`] is called.

use crate::clock::{Span, Time};

/// Microseconds per tick.
const TICK_US: u64 = 1000;
/// The wheel's resolution: a deadline fires at most this long after it, and a deadline on a
/// whole tick ([`on_tick`]) fires at it.
pub const TICK: Span = Span::from_micros(TICK_US);
const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 6;
const NIL: u32 = u32::MAX;
/// Ticks covered by one rotation of the top level.
const HORIZON: u64 = 1 << (BITS as usize * LEVELS);
/// Ticks covered by one slot of the top level.
const TOP_SLOT: u64 = HORIZON / SLOTS as u64;
/// The furthest deadline allowed relative to the wheel's current tick: one top-level slot
/// short of a rotation, so a deadline in the next rotation never lands in the current slot
/// (where it would be taken for this rotation's, and cascade into itself forever).
const REACH: u64 = HORIZON - TOP_SLOT;

/// `t` rounded up to a whole [`TICK`]: when the wheel fires a deadline at `t`. A schedule
/// whose due times are on ticks is kept to the tick by a host that wakes when the wheel says,
/// and the timers due in one tick share one wake-up.
pub fn on_tick(t: Time) -> Time {
    t.round_up(TICK)
}

/// The tick a deadline falls in, rounded up: it fires at that tick.
fn tick_at_or_after(t: Time) -> u64 {
    t.as_micros().div_ceil(TICK_US)
}

/// The last tick that has fully begun by `t`, rounded down: everything in it is due.
fn tick_by(t: Time) -> u64 {
    t.as_micros() / TICK_US
}

/// The time a tick begins.
fn tick_time(tick: u64) -> Time {
    Time::from_micros(tick.saturating_mul(TICK_US))
}

#[derive(Clone, Copy, Debug)]
struct Node {
    /// The tick it fires at.
    deadline: u64,
    prev: u32,
    next: u32,
    /// `level * SLOTS + slot` while linked, `NIL` otherwise.
    slot: u32,
}

const UNLINKED: Node = Node {
    deadline: 0,
    prev: NIL,
    next: NIL,
    slot: NIL,
};

/// Timers for keys `0..capacity`, each with at most one pending deadline.
#[derive(Debug)]
pub struct TimerWheel {
    nodes: Vec<Node>,
    heads: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    /// The current tick.
    elapsed: u64,
    len: usize,
}

impl TimerWheel {
    /// A wheel at time `now` for keys `0..capacity` (grows with [`ensure_key`](Self::ensure_key)).
    pub fn new(capacity: usize, now: Time) -> Self {
        TimerWheel {
            nodes: vec![UNLINKED; capacity],
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            elapsed: tick_by(now),
            len: 0,
        }
    }

    /// Makes room for `key` (for fleets that grow while running).
    pub fn ensure_key(&mut self, key: u32) {
        if key as usize >= self.nodes.len() {
            self.nodes.resize(key as usize + 1, UNLINKED);
        }
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The wheel's current time (the start of its current tick): everything due at or before
    /// it has fired.
    pub fn now(&self) -> Time {
        tick_time(self.elapsed)
    }

    /// When `key` fires, if it is armed: its deadline rounded up to a whole [`TICK`].
    pub fn deadline(&self, key: u32) -> Option<Time> {
        let n = self.nodes.get(key as usize)?;
        (n.slot != NIL).then_some(tick_time(n.deadline))
    }

    /// Sets `key` to fire at `at` (rounded up to a whole [`TICK`]), replacing its pending
    /// deadline; a deadline in the past fires at the next [`advance`](Self::advance).
    pub fn arm(&mut self, key: u32, at: Time) {
        self.ensure_key(key);
        self.cancel(key);
        let deadline = tick_at_or_after(at).clamp(self.elapsed, self.elapsed + REACH);
        self.nodes[key as usize].deadline = deadline;
        self.link(key);
        self.len += 1;
    }

    /// Removes the pending deadline of `key`, if any.
    pub fn cancel(&mut self, key: u32) {
        let Some(node) = self.nodes.get(key as usize).copied() else {
            return;
        };
        if node.slot == NIL {
            return;
        }
        let (level, slot) = (node.slot as usize / SLOTS, node.slot as usize % SLOTS);
        if node.prev == NIL {
            self.heads[level][slot] = node.next;
        } else {
            self.nodes[node.prev as usize].next = node.next;
        }
        if node.next != NIL {
            self.nodes[node.next as usize].prev = node.prev;
        }
        if self.heads[level][slot] == NIL {
            self.occupied[level] &= !(1u64 << slot);
        }
        let n = &mut self.nodes[key as usize];
        n.prev = NIL;
        n.next = NIL;
        n.slot = NIL;
        self.len -= 1;
    }

    fn level_for(&self, deadline: u64) -> usize {
        let masked = (self.elapsed ^ deadline) | (SLOTS as u64 - 1);
        let significant = 63 - masked.leading_zeros() as usize;
        (significant / BITS as usize).min(LEVELS - 1)
    }

    fn link(&mut self, key: u32) {
        let deadline = self.nodes[key as usize].deadline;
        let level = self.level_for(deadline);
        let slot = ((deadline >> (level * BITS as usize)) as usize) & (SLOTS - 1);
        let head = self.heads[level][slot];
        if head != NIL {
            self.nodes[head as usize].prev = key;
        }
        let n = &mut self.nodes[key as usize];
        n.next = head;
        n.prev = NIL;
        n.slot = (level * SLOTS + slot) as u32;
        self.heads[level][slot] = key;
        self.occupied[level] |= 1u64 << slot;
    }

    /// The start tick of the earliest occupied slot, and where it is.
    fn next_slot(&self) -> Option<(u64, usize, usize)> {
        for level in 0..LEVELS {
            let shift = level * BITS as usize;
            let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            let level_span = 1u64 << (shift + BITS as usize);
            let level_start = self.elapsed & !(level_span - 1);
            let ahead = self.occupied[level] & (!0u64 << now_slot);
            let (slot, rotation_start) = if ahead != 0 {
                (ahead.trailing_zeros() as usize, level_start)
            } else if level == LEVELS - 1 && self.occupied[level] != 0 {
                // Only the top level holds deadlines past its own rotation (a lower level's
                // entries share every higher digit with the current tick): its slots behind
                // the current one are the next rotation's.
                let slot = self.occupied[level].trailing_zeros() as usize;
                (slot, level_start + level_span)
            } else {
                continue;
            };
            let start = rotation_start + ((slot as u64) << shift);
            return Some((start.max(self.elapsed), level, slot));
        }
        None
    }

    /// A lower bound on the earliest pending deadline (exact when it is within 64 ticks, about
    /// 4 ms), for sizing a poll timeout: advancing to it fires something or moves the wheel
    /// closer.
    pub fn next_deadline(&self) -> Option<Time> {
        self.next_slot().map(|(t, _, _)| tick_time(t))
    }

    /// Calls `f` with every key of the earliest occupied slot. Every key whose deadline is
    /// the earliest is among them (keys due in one tick share a slot), with the other keys
    /// of that slot, which a coarse slot spans: for a host that keeps its keys' exact times
    /// and needs the earliest of them, at the cost of that one slot.
    pub fn for_each_next(&self, mut f: impl FnMut(u32)) {
        let Some((_, level, slot)) = self.next_slot() else {
            return;
        };
        let mut key = self.heads[level][slot];
        while key != NIL {
            f(key);
            key = self.nodes.get(key as usize).map_or(NIL, |n| n.next);
        }
    }

    /// Moves time to `now` and appends every key whose deadline is at or before it to `fired`
    /// (in deadline order across slots). Fired keys are disarmed.
    pub fn advance(&mut self, now: Time, fired: &mut Vec<u32>) {
        let now = tick_by(now);
        while let Some((start, level, slot)) = self.next_slot() {
            if start > now {
                break;
            }
            self.elapsed = start;
            let mut key = self.heads[level][slot];
            self.heads[level][slot] = NIL;
            self.occupied[level] &= !(1u64 << slot);
            while key != NIL {
                let next = self.nodes[key as usize].next;
                let n = &mut self.nodes[key as usize];
                n.prev = NIL;
                n.next = NIL;
                n.slot = NIL;
                if level == 0 || n.deadline <= now {
                    // Level-0 slots are one tick wide; a coarser entry already due fires now
                    // rather than cascading.
                    self.len -= 1;
                    fired.push(key);
                } else {
                    // Cascade into a finer level relative to the slot's start.
                    self.link(key);
                }
                key = next;
            }
        }
        if now > self.elapsed {
            self.elapsed = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const MS: Span = Span::from_millis(1);
    const US: Span = Span::from_micros(1);

    /// The start of tick `n`.
    fn tk(n: u64) -> Time {
        Time::ZERO + n * TICK
    }

    fn fire(w: &mut TimerWheel, now: Time) -> Vec<u32> {
        let mut v = Vec::new();
        w.advance(now, &mut v);
        v.sort_unstable();
        v
    }

    #[test]
    fn nothing_at_t_minus_1_fires_at_t() {
        // From one tick to a day, across every level's boundary.
        for n in [
            1u64,
            63,
            64,
            65,
            4095,
            4096,
            4097,
            262_143,
            262_144,
            56_250_000,
            1_350_000_000,
        ] {
            let t = tk(n);
            let mut w = TimerWheel::new(4, Time::ZERO);
            w.arm(2, t);
            assert!(fire(&mut w, t.minus(TICK)).is_empty(), "{t:?}");
            assert!(fire(&mut w, t.minus(US)).is_empty(), "{t:?}");
            assert_eq!(fire(&mut w, t), vec![2], "{t:?}");
            assert!(w.is_empty());
            assert!(fire(&mut w, t + 100 * Span::from_secs(1)).is_empty());
        }
    }

    #[test]
    fn a_deadline_between_ticks_fires_at_the_next_tick_never_before() {
        let mut w = TimerWheel::new(1, Time::ZERO);
        let t = tk(1) + 20 * US;
        w.arm(0, t);
        assert_eq!(w.deadline(0), Some(tk(2)));
        assert!(fire(&mut w, t).is_empty());
        assert!(fire(&mut w, tk(2).minus(US)).is_empty());
        assert_eq!(fire(&mut w, tk(2)), vec![0]);
        // A deadline on a tick needs no rounding.
        w.arm(0, tk(5));
        assert_eq!(w.deadline(0), Some(tk(5)));
        assert_eq!(w.next_deadline(), Some(tk(5)));
        // on_tick is the time a deadline fires at.
        for (t, fires) in [
            (tk(7), tk(7)),
            (tk(7) + US, tk(8)),
            (tk(8).minus(US), tk(8)),
        ] {
            w.arm(0, t);
            assert_eq!((on_tick(t), w.deadline(0)), (fires, Some(fires)));
        }
    }

    #[test]
    fn cancel_and_rearm() {
        let at = |ms: u64| Time::ZERO + ms * MS;
        let mut w = TimerWheel::new(4, at(1000));
        assert_eq!(w.now(), at(1000));
        w.arm(0, at(1500));
        w.arm(1, at(1500));
        w.cancel(0);
        w.arm(1, at(9000));
        assert_eq!(w.deadline(1), Some(at(9000)));
        assert!(fire(&mut w, at(8999)).is_empty());
        assert_eq!(fire(&mut w, at(9000)), vec![1]);
        w.arm(3, at(10)); // in the past: fires at once
        assert_eq!(fire(&mut w, at(9000)), vec![3]);
    }

    #[test]
    fn the_horizon_is_ample() {
        // A top-level rotation less one slot: two years, far past any expiry or interval.
        assert!(REACH * TICK > 730 * 24 * 3600 * Span::from_secs(1));
    }

    #[test]
    fn a_deadline_past_the_horizon_is_clamped_and_fires_once() {
        // Regression: a deadline clamped to the horizon used to land in the top level's
        // current slot and cascade into itself forever on the next advance.
        let mut w = TimerWheel::new(1, tk(9000));
        w.arm(0, Time::MAX);
        let due = w.deadline(0).unwrap();
        assert_eq!(due, tk(9000 + REACH));
        assert!(fire(&mut w, tk(9001)).is_empty());
        assert!(fire(&mut w, due.minus(US)).is_empty());
        assert_eq!(fire(&mut w, due), vec![0]);
    }

    #[test]
    fn deadlines_across_a_top_level_rotation_fire_on_time() {
        // Regression: a deadline just past the top level's rotation was missed by the
        // advance that reached it.
        let start = HORIZON - 10;
        for (key, n) in [(0u32, 60_000u64), (1, 5), (2, 3 * TOP_SLOT), (3, REACH)] {
            let mut w = TimerWheel::new(4, tk(start));
            let t = tk(start + n);
            w.arm(key, t);
            assert_eq!(w.next_deadline().map(|n| n <= t), Some(true));
            assert!(fire(&mut w, t.minus(US)).is_empty(), "{n}");
            assert_eq!(fire(&mut w, t), vec![key], "{n}");
        }
    }

    #[test]
    fn next_deadline_is_a_lower_bound() {
        let mut w = TimerWheel::new(2, Time::ZERO);
        assert_eq!(w.next_deadline(), None);
        w.arm(0, tk(50));
        assert_eq!(w.next_deadline(), Some(tk(50)));
        w.arm(1, tk(100_000));
        w.cancel(0);
        let nd = w.next_deadline().unwrap();
        assert!(nd <= tk(100_000) && nd > Time::ZERO);
    }

    #[test]
    fn the_next_slot_holds_every_key_due_first() {
        let mut w = TimerWheel::new(8, Time::ZERO);
        assert!({
            let mut none = true;
            w.for_each_next(|_| none = false);
            none
        });
        // Two keys due at one far tick, linked at different times (the second after the
        // wheel moved): both in the slot visited, the later key not.
        w.arm(0, tk(300_000));
        w.arm(5, tk(900_000));
        let mut fired = Vec::new();
        w.advance(tk(200_000), &mut fired);
        w.arm(3, tk(300_000));
        let mut seen = Vec::new();
        w.for_each_next(|k| seen.push(k));
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 3]);
    }

    #[test]
    fn a_million_keys() {
        let mut w = TimerWheel::new(1_000_000, Time::ZERO);
        for k in 0..1_000_000u32 {
            w.arm(k, tk(60_000 + u64::from(k % 60_000)));
        }
        assert_eq!(w.len(), 1_000_000);
        let mut fired = Vec::new();
        w.advance(tk(89_999), &mut fired);
        // k % 60_000 < 30_000 for 16 full cycles of 60_000 plus 30_000 of the last 40_000.
        assert_eq!(fired.len(), 16 * 30_000 + 30_000);
        w.advance(tk(120_000), &mut fired);
        assert_eq!(fired.len(), 1_000_000);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Arm(u32, u64),
        Cancel(u32),
        Advance(u64),
    }

    fn ops(deadlines: u64, steps: u64) -> impl Strategy<Value = Vec<Op>> {
        proptest::collection::vec(
            prop_oneof![
                (0u32..16, 0..deadlines).prop_map(|(k, d)| Op::Arm(k, d)),
                (0u32..16).prop_map(Op::Cancel),
                (0..steps).prop_map(Op::Advance),
            ],
            1..200,
        )
    }

    proptest! {
        /// Against a map of deadlines on whole ticks, from zero and across the end of the top
        /// level's rotation.
        #[test]
        fn matches_a_naive_model(start in prop_oneof![Just(0u64), (HORIZON - 400_000)..HORIZON],
                                 ops in ops(300_000, 100_000)) {
            // From zero, or close before the top level's first rotation ends.
            let mut now = tk(start);
            let mut w = TimerWheel::new(16, now);
            let mut model: BTreeMap<u32, Time> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Arm(k, d) => { let d = now + d * TICK; w.arm(k, d); model.insert(k, d); }
                    Op::Cancel(k) => { w.cancel(k); model.remove(&k); }
                    Op::Advance(dt) => {
                        now += dt * TICK;
                        let got = fire(&mut w, now);
                        let mut want: Vec<u32> = model.iter().filter(|(_, d)| **d <= now).map(|(k, _)| *k).collect();
                        want.sort_unstable();
                        model.retain(|_, d| *d > now);
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(w.len(), model.len());
                for (k, d) in &model {
                    prop_assert_eq!(w.deadline(*k), Some(*d));
                }
            }
        }

        /// Deadlines and times anywhere between ticks (in µs): a key never fires before its
        /// deadline, and is never still pending a whole tick after it.
        #[test]
        fn fires_within_a_tick_of_any_deadline(start in 0u64..1_000_000,
                                               ops in ops(10_000_000, 3_000)) {
            let mut now = Time::ZERO + start * US;
            let mut w = TimerWheel::new(16, now);
            let mut model: BTreeMap<u32, Time> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Arm(k, d) => { let d = now + d * US; w.arm(k, d); model.insert(k, d); }
                    Op::Cancel(k) => { w.cancel(k); model.remove(&k); }
                    Op::Advance(dt) => {
                        now += dt * US;
                        for k in fire(&mut w, now) {
                            let d = model.remove(&k);
                            prop_assert!(d.is_some_and(|d| d <= now), "{k} fired early: {d:?} > {now:?}");
                        }
                        for (k, d) in &model {
                            prop_assert!(now < *d + TICK, "{k} due {d:?} still pending at {now:?}");
                        }
                    }
                }
                prop_assert_eq!(w.len(), model.len());
            }
        }
    }
}
