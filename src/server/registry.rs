//! Registered devices, sharded by device ID behind short-lived locks so every worker can
//! serve any device; per device only a fixed-size record, no heap beyond the map entry.

use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::sip::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

/// What the registrar remembers about one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Registration end on the server clock.
    pub expires_at: Time,
    /// Last keepalive or registration.
    pub last_seen: Time,
    /// Where it registered from.
    pub addr: SocketAddr,
    /// How it registered.
    pub transport: Transport,
    /// Hash of the accepted REGISTER's Call-ID and CSeq: a retransmission of that request
    /// (same Call-ID and CSeq) is answered again rather than taken for a replay.
    pub call_cseq: u64,
    /// Identity of the nonce last accepted, and the highest nonce count seen for it:
    /// an Authorization that repeats or goes back is a replay.
    pub nonce_ts: u64,
    /// See `nonce_ts`.
    pub nc: u32,
}

/// Devices by ID over `N` shards.
pub struct Registry {
    shards: Vec<Mutex<HashMap<DeviceId, Entry>>>,
}

/// Whether a device counts as online.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Registered and heard from within the allowed keepalive gap.
    Online,
    /// Registered but silent for too long, or registration expired.
    Offline,
    /// Never registered (or unregistered).
    Unknown,
}

impl Registry {
    /// An empty registry with `shards` locks (at least 1).
    pub fn new(shards: usize) -> Registry {
        Registry {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    fn shard(&self, id: &DeviceId) -> &Mutex<HashMap<DeviceId, Entry>> {
        let n = id.number();
        &self.shards[(n % self.shards.len() as u128) as usize]
    }

    /// Runs `f` on the device's entry slot under its shard lock.
    pub fn with<R>(&self, id: &DeviceId, f: impl FnOnce(&mut HashMap<DeviceId, Entry>) -> R) -> R {
        // A poisoned lock only means another worker panicked mid-update; the map is still
        // consistent (every update is a single insert or field write).
        let mut g = self.shard(id).lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// The device's entry.
    pub fn get(&self, id: &DeviceId) -> Option<Entry> {
        self.with(id, |m| m.get(id).copied())
    }

    /// Online, offline or unknown at `now`, given the keepalive gap that means offline.
    pub fn presence(&self, id: &DeviceId, now: Time, max_silence: Span) -> Presence {
        match self.get(id) {
            None => Presence::Unknown,
            Some(e) if now >= e.expires_at || now - e.last_seen > max_silence => Presence::Offline,
            Some(_) => Presence::Online,
        }
    }

    /// Counts (registered, online) at `now`.
    pub fn counts(&self, now: Time, max_silence: Span) -> (u64, u64) {
        let mut registered = 0;
        let mut online = 0;
        for s in &self.shards {
            let g = s.lock().unwrap_or_else(|e| e.into_inner());
            for e in g.values() {
                if now < e.expires_at {
                    registered += 1;
                    if now - e.last_seen <= max_silence {
                        online += 1;
                    }
                }
            }
        }
        (registered, online)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_follows_expiry_and_keepalives() {
        let r = Registry::new(4);
        let id: DeviceId = "34020000001320000001".parse().unwrap();
        let ms = Time::from_millis;
        let gap = Span::from_millis(180_000);
        assert_eq!(r.presence(&id, ms(0), gap), Presence::Unknown);
        let e = Entry {
            expires_at: ms(3_600_000),
            last_seen: ms(0),
            addr: "127.0.0.1:5060".parse().unwrap(),
            transport: Transport::Udp,
            call_cseq: 1,
            nonce_ts: 0,
            nc: 1,
        };
        r.with(&id, |m| m.insert(id, e));
        assert_eq!(r.presence(&id, ms(180_000), gap), Presence::Online);
        assert_eq!(
            r.presence(&id, ms(180_001), gap),
            Presence::Offline,
            "three missed keepalives"
        );
        assert_eq!(
            r.presence(&id, ms(3_600_000), Span::from_micros(u64::MAX)),
            Presence::Offline,
            "expired"
        );
        assert_eq!(r.counts(ms(1000), gap), (1, 1));
        assert_eq!(r.counts(ms(200_000), gap), (1, 0));
    }
}
