//! The server host's accepted TCP connections: each with what the host tracks about it, in
//! slots reused as they free, with half-open connections counted per source address. Only
//! book-keeping; reading, framing and closing policy are the host loop's.

use super::tcp::Conn;
use mio::Registry;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// One accepted connection and what the host tracks about it.
pub(super) struct Peer {
    pub(super) conn: Conn,
    pub(super) last_active: Instant,
    pub(super) partial_since: Option<Instant>,
    /// No complete message received yet (counted per source until one is).
    pub(super) half_open: bool,
    /// Not read while its write queue drains.
    pub(super) paused: bool,
    /// Close once the write queue is empty.
    pub(super) closing: bool,
}

/// Open connections of one worker, with free slots listed and half-open ones counted per
/// source address.
#[derive(Default)]
pub(super) struct Peers {
    pub(super) slots: Vec<Option<Peer>>,
    pub(super) free: Vec<usize>,
    pub(super) open: usize,
    pub(super) half_open: HashMap<IpAddr, usize>,
    /// The slot of each open connection by its peer's address, for what a service sends on
    /// its own to a device connected over TCP.
    pub(super) by_addr: HashMap<SocketAddr, usize>,
}

impl Peers {
    pub(super) fn insert(&mut self, p: Peer) -> usize {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        *self.half_open.entry(p.conn.peer.ip()).or_insert(0) += 1;
        self.by_addr.insert(p.conn.peer, slot);
        self.slots[slot] = Some(p);
        self.open += 1;
        slot
    }

    pub(super) fn close(&mut self, slot: usize, registry: &Registry) {
        if let Some(mut p) = self.slots.get_mut(slot).and_then(Option::take) {
            p.conn.deregister(registry);
            if self.by_addr.get(&p.conn.peer) == Some(&slot) {
                self.by_addr.remove(&p.conn.peer);
            }
            self.free.push(slot);
            self.open -= 1;
            if p.half_open {
                self.settled(p.conn.peer.ip());
            }
        }
    }

    /// A connection from `ip` left the half-open state.
    pub(super) fn settled(&mut self, ip: IpAddr) {
        if let Some(n) = self.half_open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.half_open.remove(&ip);
            }
        }
    }
}
