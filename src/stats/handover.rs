//! The per-worker interval hand-over both hosts use (the generator's snapshots and the
//! registrar's counters): a worker counts into a value it owns, and once an interval swaps it
//! for a cleared one — a spent one the collector sent back if there is one, so a steady run
//! allocates nothing — and sends the full one away. Nothing is shared while counting.

use crossbeam::channel::Receiver;

/// Something counted over an interval and reused after it.
pub trait Interval: Default {
    /// Forgets every count, keeping the memory.
    fn reset(&mut self);
}

/// Takes the interval's values out of `current`, leaving a cleared one in their place (a
/// spent one from `spent` when there is one).
pub fn swap_out<T: Interval>(current: &mut Box<T>, spent: &Receiver<Box<T>>) -> Box<T> {
    let fresh = match spent.try_recv() {
        Ok(mut used) => {
            used.reset();
            used
        }
        Err(_) => Box::default(),
    };
    std::mem::replace(current, fresh)
}
