//! A fixed-capacity table of small records keyed by a 128-bit key (a device ID's number or a
//! source address), shared by every worker: the memory the registrar's bans and rate limits
//! may use, allocated once, whatever arrives.
//!
//! Sharded behind short-lived locks like the registry; within a shard the table is
//! set-associative: a key may live in one of [`WAYS`] slots of its bucket, found by a keyed
//! hash (a per-process secret, so a sender cannot aim a flood at one bucket). A new key takes
//! a free slot of its bucket, else a slot whose record is spent (says nothing any more), else
//! evicts the record its type says is worth least. A shard's slots are allocated the first
//! time a key is written there (a registrar nobody attacks spends nothing on them), at most
//! once per shard, so the table never holds more than its capacity; it never reads a clock and
//! never panics on any key.

use crate::clock::Time;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Slots per bucket: how many keys sharing a bucket are kept side by side.
pub const WAYS: usize = 8;

/// A record a [`Table`] can keep: fixed size, and able to say when it is spent and how much it
/// is worth keeping when a bucket is full.
pub trait Record: Copy + Default {
    /// True when the record holds nothing any more at `now` (its window and any ban are
    /// over): its slot is reused as if empty.
    fn spent(&self, now: Time) -> bool;
    /// How much keeping the record matters at `now`; a full bucket evicts its lowest.
    fn worth(&self, now: Time) -> u64;
}

#[derive(Clone, Copy, Default)]
struct Slot<V> {
    used: bool,
    key: u128,
    value: V,
}

/// What [`Table::upsert`] did to make room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    /// The key was there, or took a free or spent slot.
    Free,
    /// The bucket was full of live records: the one worth least was forgotten.
    Evicted,
}

/// A shard's buckets' slots, side by side (none until first written).
type Slots<V> = Option<Box<[Slot<V>]>>;

/// One shard behind its lock.
type Shard<V> = Mutex<Slots<V>>;

/// Records of type `V` by 128-bit key, in a fixed number of slots.
pub struct Table<V> {
    shards: Box<[Shard<V>]>,
    buckets: usize,
    keys: [u64; 3],
    evictions: AtomicU64,
}

fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl<V: Record> Table<V> {
    /// A table of at least `capacity` slots (rounded up to whole buckets over its shards),
    /// hashing with `secret`.
    pub fn new(capacity: usize, secret: [u64; 3]) -> Table<V> {
        let shards = (capacity / (WAYS * 16)).clamp(1, 64).next_power_of_two();
        let buckets = capacity.div_ceil(shards * WAYS).max(1);
        Table {
            shards: (0..shards).map(|_| Mutex::new(None)).collect(),
            buckets,
            keys: secret,
            evictions: AtomicU64::new(0),
        }
    }

    /// A table of at least `capacity` slots with a random per-process secret.
    pub fn random(capacity: usize) -> Table<V> {
        let r = crate::seed::random_u64;
        Table::new(capacity, [r(), r(), r()])
    }

    /// Slots in all.
    pub fn capacity(&self) -> usize {
        self.shards.len() * self.buckets * WAYS
    }

    fn hash(&self, key: u128) -> u64 {
        let [k0, k1, k2] = self.keys;
        let h = fold((key as u64) ^ k0, ((key >> 64) as u64) ^ k1);
        fold(h ^ k2, 0x9e37_79b9_7f4a_7c15)
    }

    /// The shard lock of `key` and the index of its bucket's first slot.
    fn locked(&self, key: u128) -> (MutexGuard<'_, Slots<V>>, usize) {
        let h = self.hash(key);
        let shard = &self.shards[(h as usize) & (self.shards.len() - 1)];
        // A poisoned lock only means another worker panicked mid-update; every update is a
        // plain write of a `Copy` record, so the slots are still consistent.
        let g = shard.lock().unwrap_or_else(|e| e.into_inner());
        (g, ((h >> 32) as usize) % self.buckets * WAYS)
    }

    /// The record of `key`, if it is kept.
    pub fn get(&self, key: u128) -> Option<V> {
        let (g, first) = self.locked(key);
        g.as_ref()?[first..first + WAYS]
            .iter()
            .find(|s| s.used && s.key == key)
            .map(|s| s.value)
    }

    /// Runs `f` on the record of `key`, making one (from `V::default()`) if there is none; a
    /// spent record is handed over as a fresh default. Also says whether a live record had to
    /// be forgotten to make room.
    pub fn upsert<R>(&self, key: u128, now: Time, f: impl FnOnce(&mut V) -> R) -> (R, Room) {
        let (mut g, first) = self.locked(key);
        let n = self.buckets * WAYS;
        let all = g.get_or_insert_with(|| vec![Slot::default(); n].into_boxed_slice());
        let slots = &mut all[first..first + WAYS];
        let (i, room) = match slots.iter().position(|s| s.used && s.key == key) {
            Some(i) => (i, Room::Free),
            None => match slots.iter().position(|s| !s.used || s.value.spent(now)) {
                Some(i) => (i, Room::Free),
                None => {
                    let i = (0..WAYS)
                        .min_by_key(|&i| slots[i].value.worth(now))
                        .unwrap_or(0);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                    (i, Room::Evicted)
                }
            },
        };
        let slot = &mut slots[i];
        if !slot.used || slot.key != key || slot.value.spent(now) {
            *slot = Slot {
                used: true,
                key,
                value: V::default(),
            };
        }
        (f(&mut slot.value), room)
    }

    /// Live records forgotten so far to make room for new keys.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Records not spent at `now` (a walk over every slot, for reports and tests).
    pub fn live(&self, now: Time) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let g = s.lock().unwrap_or_else(|e| e.into_inner());
                g.iter()
                    .flat_map(|slots| slots.iter())
                    .filter(|s| s.used && !s.value.spent(now))
                    .count()
            })
            .sum()
    }
}

/// What reports read of a table whatever its records: occupancy, capacity, evictions.
pub trait TableView {
    /// Records not spent at `now`.
    fn live(&self, now: Time) -> usize;
    /// Slots in all.
    fn capacity(&self) -> usize;
    /// Live records forgotten so far to make room.
    fn evictions(&self) -> u64;
}

impl<V: Record> TableView for Table<V> {
    fn live(&self, now: Time) -> usize {
        Table::live(self, now)
    }
    fn capacity(&self) -> usize {
        Table::capacity(self)
    }
    fn evictions(&self) -> u64 {
        Table::evictions(self)
    }
}

/// The table key of a source address: IPv4 as its IPv4-mapped IPv6 form, so one key space
/// holds both families.
pub fn ip_key(ip: std::net::IpAddr) -> u128 {
    match ip {
        std::net::IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        std::net::IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record live until `until` (seconds) and worth `worth`.
    #[derive(Clone, Copy, Default, Debug, PartialEq)]
    struct Rec {
        until: u64,
        worth: u64,
    }

    impl Record for Rec {
        fn spent(&self, now: Time) -> bool {
            now.as_secs() >= self.until
        }
        fn worth(&self, _now: Time) -> u64 {
            self.worth
        }
    }

    #[test]
    fn keeps_what_fits_reuses_spent_slots_and_evicts_the_least_worth() {
        let t: Table<Rec> = Table::new(1, [1, 2, 3]);
        assert_eq!(t.capacity(), WAYS, "one bucket");
        let now = Time::from_millis(0);
        for k in 0..WAYS as u128 {
            let (_, room) = t.upsert(k, now, |r| {
                *r = Rec {
                    until: 100,
                    worth: 10 + k as u64,
                }
            });
            assert_eq!(room, Room::Free);
        }
        assert_eq!(t.live(now), WAYS);
        // Full of live records: the new key evicts the one worth least (key 0).
        let (_, room) = t.upsert(99, now, |r| {
            *r = Rec {
                until: 100,
                worth: 50,
            }
        });
        assert_eq!(room, Room::Evicted);
        assert_eq!(t.get(0), None);
        assert_eq!(t.get(1).map(|r| r.worth), Some(11));
        assert_eq!(t.get(99).map(|r| r.worth), Some(50));
        // Once every record is spent, new keys take their slots without evicting anything,
        // and a spent record of a returning key starts afresh.
        let later = Time::from_millis(100_000);
        assert_eq!(t.live(later), 0);
        let (seen, room) = t.upsert(1, later, |r| *r);
        assert_eq!((seen, room), (Rec::default(), Room::Free));
        let (_, room) = t.upsert(1234, later, |_| ());
        assert_eq!(room, Room::Free);
    }

    #[test]
    fn capacity_is_fixed_whatever_the_keys() {
        let t: Table<Rec> = Table::new(1000, [5, 6, 7]);
        let cap = t.capacity();
        assert!((1000..1000 + 64 * WAYS).contains(&cap), "{cap}");
        let now = Time::ZERO;
        let mut evicted = 0;
        for k in 0..20_000u128 {
            let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834);
            if t.upsert(key, now, |r| *r = Rec { until: 1, worth: 1 }).1 == Room::Evicted {
                evicted += 1;
            }
        }
        assert_eq!(t.live(now), cap);
        assert_eq!(evicted, 20_000 - cap);
        assert_eq!(t.evictions(), evicted as u64);
        assert_eq!(t.capacity(), cap);
    }

    #[test]
    fn address_families_share_one_key_space_without_colliding() {
        let v4: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let v6: std::net::IpAddr = "::1".parse().unwrap();
        let mapped: std::net::IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_ne!(ip_key(v4), ip_key(v6));
        assert_eq!(ip_key(v4), ip_key(mapped));
    }
}
