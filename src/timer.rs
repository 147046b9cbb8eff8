//! A hierarchical timer wheel: one pending deadline per key, O(1) arm and cancel, millisecond
//! resolution, sized for a million keys per core.
//!
//! Keys are dense indices (a worker's camera slots); each key has at most one deadline, which
//! is all a sans-IO state machine needs since it reports only its earliest wake-up. Six levels
//! of 64 slots cover 64^6 ms (about 795 days); later deadlines are clamped to that horizon.
//! The wheel never reads the clock: time moves only when [`TimerWheel::advance`] is called.

const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 6;
const NIL: u32 = u32::MAX;
/// The furthest deadline representable relative to the wheel's current time.
const HORIZON: u64 = 1 << (BITS as usize * LEVELS);

#[derive(Clone, Copy, Debug)]
struct Node {
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
    elapsed: u64,
    len: usize,
}

impl TimerWheel {
    /// A wheel at time `now` for keys `0..capacity` (grows with [`ensure_key`](Self::ensure_key)).
    pub fn new(capacity: usize, now: u64) -> Self {
        TimerWheel {
            nodes: vec![UNLINKED; capacity],
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            elapsed: now,
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

    /// The wheel's current time: everything due at or before it has fired.
    pub fn now(&self) -> u64 {
        self.elapsed
    }

    /// The pending deadline of `key`, if any.
    pub fn deadline(&self, key: u32) -> Option<u64> {
        let n = self.nodes.get(key as usize)?;
        (n.slot != NIL).then_some(n.deadline)
    }

    /// Sets `key` to fire at `deadline`, replacing its pending deadline; a deadline in the past
    /// fires at the next [`advance`](Self::advance).
    pub fn arm(&mut self, key: u32, deadline: u64) {
        self.ensure_key(key);
        self.cancel(key);
        let deadline = deadline.clamp(self.elapsed, self.elapsed + HORIZON - 1);
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

    /// The start time of the earliest occupied slot, and where it is.
    fn next_slot(&self) -> Option<(u64, usize, usize)> {
        for level in 0..LEVELS {
            let shift = level * BITS as usize;
            let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            let ahead = self.occupied[level] & (!0u64 << now_slot);
            if ahead == 0 {
                continue;
            }
            let slot = ahead.trailing_zeros() as usize;
            let level_span = 1u64 << (shift + BITS as usize);
            let level_start = self.elapsed & !(level_span - 1);
            let start = level_start + ((slot as u64) << shift);
            return Some((start.max(self.elapsed), level, slot));
        }
        None
    }

    /// A lower bound on the earliest pending deadline (exact when it is within 64 ms), for
    /// sizing a poll timeout.
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_slot().map(|(t, _, _)| t)
    }

    /// Moves time to `now` and appends every key whose deadline is at or before it to `fired`
    /// (in deadline order across slots). Fired keys are disarmed.
    pub fn advance(&mut self, now: u64, fired: &mut Vec<u32>) {
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
                    // Level-0 slots are one millisecond wide; a coarser entry already due
                    // fires now rather than cascading.
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

    fn fire(w: &mut TimerWheel, now: u64) -> Vec<u32> {
        let mut v = Vec::new();
        w.advance(now, &mut v);
        v.sort_unstable();
        v
    }

    #[test]
    fn nothing_at_t_minus_1_fires_at_t() {
        for deadline in [
            1u64, 63, 64, 65, 4095, 4096, 4097, 262_143, 3_600_000, 86_400_000,
        ] {
            let mut w = TimerWheel::new(4, 0);
            w.arm(2, deadline);
            assert!(fire(&mut w, deadline - 1).is_empty(), "{deadline}");
            assert_eq!(fire(&mut w, deadline), vec![2], "{deadline}");
            assert!(w.is_empty());
            assert!(fire(&mut w, deadline + 100_000).is_empty());
        }
    }

    #[test]
    fn cancel_and_rearm() {
        let mut w = TimerWheel::new(4, 1000);
        w.arm(0, 1500);
        w.arm(1, 1500);
        w.cancel(0);
        w.arm(1, 9000);
        assert_eq!(w.deadline(1), Some(9000));
        assert!(fire(&mut w, 8999).is_empty());
        assert_eq!(fire(&mut w, 9000), vec![1]);
        w.arm(3, 10); // in the past: fires at once
        assert_eq!(fire(&mut w, 9000), vec![3]);
    }

    #[test]
    fn next_deadline_is_a_lower_bound() {
        let mut w = TimerWheel::new(2, 0);
        assert_eq!(w.next_deadline(), None);
        w.arm(0, 50);
        assert_eq!(w.next_deadline(), Some(50));
        w.arm(1, 100_000);
        w.cancel(0);
        let nd = w.next_deadline().unwrap();
        assert!(nd <= 100_000 && nd > 0);
    }

    #[test]
    fn a_million_keys() {
        let mut w = TimerWheel::new(1_000_000, 0);
        for k in 0..1_000_000u32 {
            w.arm(k, 60_000 + u64::from(k % 60_000));
        }
        assert_eq!(w.len(), 1_000_000);
        let mut fired = Vec::new();
        w.advance(89_999, &mut fired);
        // k % 60_000 < 30_000 for 16 full cycles of 60_000 plus 30_000 of the last 40_000.
        assert_eq!(fired.len(), 16 * 30_000 + 30_000);
        w.advance(120_000, &mut fired);
        assert_eq!(fired.len(), 1_000_000);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Arm(u32, u64),
        Cancel(u32),
        Advance(u64),
    }

    proptest! {
        #[test]
        fn matches_a_naive_model(ops in proptest::collection::vec(prop_oneof![
            (0u32..16, 0u64..300_000).prop_map(|(k, d)| Op::Arm(k, d)),
            (0u32..16).prop_map(Op::Cancel),
            (0u64..100_000).prop_map(Op::Advance),
        ], 1..200)) {
            let mut w = TimerWheel::new(16, 0);
            let mut model: BTreeMap<u32, u64> = BTreeMap::new();
            let mut now = 0u64;
            for op in ops {
                match op {
                    Op::Arm(k, d) => { let d = now + d; w.arm(k, d); model.insert(k, d); }
                    Op::Cancel(k) => { w.cancel(k); model.remove(&k); }
                    Op::Advance(dt) => {
                        now += dt;
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
    }
}
