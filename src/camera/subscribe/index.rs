//! Where the table's subscriptions are: slots made as platforms subscribe (up to the
//! capacity, then reused from a free list), a list of each device's slots (so a SUBSCRIBE, a
//! response to a NOTIFY, an alarm or a reboot looks at its device's few subscriptions, not at
//! the table), and each slot's one wake-up on the table's [`Timers`](super::timers::Timers),
//! set again after every change that can move it.
//!
//! It never decides anything about the protocol: the handlers do, then call
//! [`rearm`](SubTable::rearm).

use super::SubTable;
use super::slot::{Slot, State};

/// No slot (end of a device's list).
pub(super) const NONE: u32 = u32::MAX;

/// Slots made at a time when the table grows (doubling, up to the capacity).
const FIRST_GROWTH: usize = 16;

impl SubTable {
    /// The worker's local index of fleet device `index`, if it is one of the table's.
    fn local(&self, index: u32) -> Option<usize> {
        let workers = self.cfg.workers.max(1);
        if index % workers != self.cfg.worker {
            return None;
        }
        let j = (index / workers) as usize;
        (j < self.dev_heads.len()).then_some(j)
    }

    /// The first slot of device `index` (`NONE` for none); the next ones follow
    /// [`Slot::dev_next`].
    pub(super) fn first_of(&self, index: u32) -> u32 {
        self.local(index)
            .and_then(|j| self.dev_heads.get(j).copied())
            .unwrap_or(NONE)
    }

    /// The slot of device `index` for which `f` holds, if any.
    pub(super) fn find_of(&self, index: u32, f: impl Fn(&Slot) -> bool) -> Option<usize> {
        let mut i = self.first_of(index);
        while let Some(s) = self.slots.get(i as usize) {
            if f(s) {
                return Some(i as usize);
            }
            i = s.dev_next;
        }
        None
    }

    /// A free slot for a new subscription of device `index`, linked to its list and counted
    /// as held (the caller fills it); `None` when the table is full or the device is not
    /// the table's.
    pub(super) fn take_slot(&mut self, index: u32) -> Option<usize> {
        let j = self.local(index)?;
        let i = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                let len = self.slots.len();
                if len >= self.cfg.capacity {
                    return None;
                }
                if len == self.slots.capacity() {
                    let more = len.max(FIRST_GROWTH).min(self.cfg.capacity - len);
                    self.slots.reserve_exact(more);
                    // Every slot made can be free at once: the free list never grows later.
                    self.free
                        .reserve_exact(self.slots.capacity().saturating_sub(self.free.len()));
                }
                self.slots.push(Slot::new());
                len
            }
        };
        let s = self.slots.get_mut(i)?;
        s.device = index;
        s.dev_next = self.dev_heads[j];
        self.dev_heads[j] = i as u32;
        self.held += 1;
        Some(i)
    }

    /// Frees slot `i`: out of its device's list, its NOTIFY's copy released, its wake-up
    /// cleared, onto the free list.
    pub(super) fn free_slot(&mut self, i: usize) {
        let Some(s) = self.slots.get(i) else { return };
        if s.state == State::Free {
            return;
        }
        let (index, next) = (s.device, s.dev_next);
        if let Some(j) = self.local(index) {
            let mut at = self.dev_heads[j];
            if at == i as u32 {
                self.dev_heads[j] = next;
            } else {
                while let Some(p) = self.slots.get(at as usize) {
                    if p.dev_next == i as u32 {
                        self.slots[at as usize].dev_next = next;
                        break;
                    }
                    at = p.dev_next;
                }
            }
        }
        let s = &mut self.slots[i];
        self.pool.release(s.wire.take());
        s.free();
        s.dev_next = NONE;
        self.held = self.held.saturating_sub(1);
        self.free.push(i as u32);
        self.rearm(i);
    }

    /// The timer key of subscription slot `i` (alarm slots come first).
    fn slot_key(&self, i: usize) -> u32 {
        (self.alarm_slots.len() + i) as u32
    }

    /// What timer key `key` is: `Ok(subscription slot)` or `Err(alarm slot)`.
    pub(super) fn key_of(&self, key: u32) -> Result<usize, usize> {
        let key = key as usize;
        key.checked_sub(self.alarm_slots.len()).ok_or(key)
    }

    /// Sets slot `i`'s wake-up from its state now (halted, only its NOTIFY in flight's).
    pub(super) fn rearm(&mut self, i: usize) {
        let Some(s) = self.slots.get(i) else { return };
        let wake = if self.halted { s.txn.wake() } else { s.wake() };
        let key = self.slot_key(i);
        self.timers.set(key, wake);
    }

    /// Sets alarm slot `a`'s wake-up from its MESSAGE in flight.
    pub(super) fn rearm_alarm(&mut self, a: usize) {
        let wake = self.alarm_slots.get(a).and_then(|s| s.txn.wake());
        self.timers.set(a as u32, wake);
    }
}
