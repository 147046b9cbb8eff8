//! The arguments of queued platform queries beyond their kind and SN — the channel a query
//! names, a RecordInfo's time range, a ConfigDownload's blocks — kept per worker, not per
//! camera.
//!
//! Why a side table: a camera's state has a size budget (a fleet of a million must fit in
//! memory), and most queries need no argument (wvp's DeviceInfo, Catalog and ConfigDownload
//! name the device and ask for `BasicParam`). So a camera's queue keeps a bit per entry saying
//! "arguments in the table", and the worker keeps one fixed table, allocated once on first
//! use and never grown, of the few cameras whose queued queries have some: open addressing
//! by camera index, linear probing, backward-shift deletion. When it is full a query that
//! needs a slot is refused (486), like one that finds its camera's queue full.
//!
//! It never decides what a query means; the camera writes and reads its entries.

use super::queries::QUEUE;

/// What one queued query asks beyond its kind and SN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Args {
    /// The channel named (from 1); 0: the device itself.
    pub target: u32,
    /// RecordInfo: start (Unix s). ConfigDownload: the ConfigType bits. CruiseTrackQuery:
    /// the track number.
    pub a: u32,
    /// RecordInfo: end (Unix s).
    pub b: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    /// The camera's index plus one; 0: free.
    owner: u32,
    args: [Args; QUEUE],
}

/// Per-worker table of queued queries' arguments (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct QueryArgs {
    slots: Vec<Entry>,
    used: usize,
}

impl QueryArgs {
    /// Cameras with arguments queued at once, per worker.
    pub const CAP: usize = 2048;
    const MASK: usize = Self::CAP - 1;

    /// Cameras holding a slot now.
    pub fn len(&self) -> usize {
        self.used
    }

    /// True if no camera holds a slot.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    fn home(index: u32) -> usize {
        (index.wrapping_mul(0x9e37_79b1) >> 5) as usize & Self::MASK
    }

    fn find(&self, index: u32) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = Self::home(index);
        loop {
            let owner = self.slots.get(i)?.owner;
            if owner == 0 {
                return None;
            }
            if owner == index.wrapping_add(1) {
                return Some(i);
            }
            i = (i + 1) & Self::MASK;
        }
    }

    /// Stores `args` for queue position `pos` of camera `index`; false if the table is full.
    pub(crate) fn set(&mut self, index: u32, pos: usize, args: Args) -> bool {
        if pos >= QUEUE {
            return false;
        }
        let slot = match self.find(index) {
            Some(i) => i,
            None => {
                // One slot stays free, so a probe always ends.
                if self.used + 1 >= Self::CAP {
                    return false;
                }
                if self.slots.is_empty() {
                    self.slots = vec![Entry::default(); Self::CAP];
                }
                let mut i = Self::home(index);
                while self.slots[i].owner != 0 {
                    i = (i + 1) & Self::MASK;
                }
                self.used += 1;
                self.slots[i] = Entry {
                    owner: index.wrapping_add(1),
                    args: [Args::default(); QUEUE],
                };
                i
            }
        };
        self.slots[slot].args[pos] = args;
        true
    }

    /// The arguments at queue position `pos` of camera `index` (none stored: the defaults).
    pub(crate) fn get(&self, index: u32, pos: usize) -> Args {
        self.find(index)
            .and_then(|i| self.slots[i].args.get(pos).copied())
            .unwrap_or_default()
    }

    /// The camera's queue moved on by one: its positions shift down.
    pub(crate) fn shift(&mut self, index: u32) {
        if let Some(i) = self.find(index) {
            let a = &mut self.slots[i].args;
            a.copy_within(1.., 0);
            a[QUEUE - 1] = Args::default();
        }
    }

    /// Frees camera `index`'s slot, if it holds one.
    pub(crate) fn remove(&mut self, index: u32) {
        let Some(mut i) = self.find(index) else {
            return;
        };
        self.used -= 1;
        // Backward-shift deletion: later entries of the probe run move into the hole unless
        // their home lies cyclically after it.
        loop {
            self.slots[i].owner = 0;
            let mut j = i;
            loop {
                j = (j + 1) & Self::MASK;
                let owner = self.slots[j].owner;
                if owner == 0 {
                    return;
                }
                let h = Self::home(owner - 1);
                let stays = if i <= j {
                    i < h && h <= j
                } else {
                    i < h || h <= j
                };
                if !stays {
                    self.slots[i] = self.slots[j];
                    i = j;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn a(n: u32) -> Args {
        Args {
            target: n,
            a: n * 2,
            b: n * 3,
        }
    }

    #[test]
    fn behaves_like_a_map_under_churn() {
        let mut t = QueryArgs::default();
        let mut model: HashMap<u32, [Args; QUEUE]> = HashMap::new();
        let mut x = 12345u32;
        for step in 0..100_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Indices crowd a few homes, so probe runs wrap and deletions shift.
            let index = (x % 1500) * 2048;
            let pos = (x >> 20) as usize % QUEUE;
            match x % 4 {
                0 | 1 => {
                    let ok = t.set(index, pos, a(step));
                    assert_eq!(
                        ok,
                        model.contains_key(&index) || model.len() + 1 < QueryArgs::CAP
                    );
                    if ok {
                        model.entry(index).or_default()[pos] = a(step);
                    }
                }
                2 => {
                    t.remove(index);
                    model.remove(&index);
                }
                _ => {
                    t.shift(index);
                    if let Some(m) = model.get_mut(&index) {
                        m.copy_within(1.., 0);
                        m[QUEUE - 1] = Args::default();
                    }
                }
            }
            assert_eq!(t.len(), model.len());
            if step % 997 == 0 {
                for (&k, v) in &model {
                    for (p, want) in v.iter().enumerate() {
                        assert_eq!(t.get(k, p), *want);
                    }
                }
            }
        }
        assert_eq!(t.get(7, 0), Args::default());
    }

    #[test]
    fn refuses_when_full_and_never_grows() {
        let mut t = QueryArgs::default();
        for i in 0..QueryArgs::CAP as u32 - 1 {
            assert!(t.set(i, 0, a(1)));
        }
        assert!(!t.set(u32::MAX - 1, 0, a(1)));
        assert!(t.set(5, 1, a(2)), "a camera holding a slot still writes");
        assert_eq!(t.slots.capacity(), QueryArgs::CAP);
        t.remove(5);
        assert!(t.set(u32::MAX - 1, 0, a(1)));
        assert!(!t.set(0, QUEUE, a(1)));
    }
}
