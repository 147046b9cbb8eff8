//! The registrar's counters: each worker's core owns one [`Stats`] and hands it over once an
//! interval (swapped for a cleared one, nothing shared while counting); the server merges them
//! exactly. Never locks, never reads a clock.

use crate::sip::digest::Algorithm;
use crossbeam::channel::{Receiver, Sender};

/// Counters of one worker (merged for reports).
#[derive(Clone, Debug)]
pub struct Stats {
    /// Requests by method: REGISTER, MESSAGE, OPTIONS, other.
    pub requests: [u64; 4],
    /// Responses sent by status code.
    pub responses: Vec<(u16, u64)>,
    /// Accepted registrations and refreshes.
    pub registrations: u64,
    /// Accepted unregistrations.
    pub unregistrations: u64,
    /// Keepalives from registered devices.
    pub keepalives: u64,
    /// 302 redirects sent.
    pub redirects: u64,
    /// Input that did not parse, or lacked what a response needs: dropped.
    pub dropped_malformed: u64,
    /// Replayed credentials refused.
    pub replays: u64,
    /// Digest answers that failed verification (wrong password, user, realm or algorithm):
    /// the attempts the bans count.
    pub auth_failures: u64,
    /// Bans started: per device ID, per source address.
    pub bans: [u64; 2],
    /// Authenticated REGISTERs refused (403 or silence) because the device ID, or the source
    /// address, was banned.
    pub refused_banned: [u64; 2],
    /// Requests and unparsable datagrams over the per-source rate limit (answered 503 or
    /// dropped).
    pub rate_limited: u64,
    /// Digest answers accepted, per algorithm in [`Algorithm::ALL`] order (replays and wrong
    /// passwords excluded).
    pub digest: [u64; 6],
    /// TCP connections refused over the limit.
    pub refused_connections: u64,
    /// Catalog queries sent (with `query_catalog`).
    pub queries_sent: u64,
    /// Catalog response messages received, and the items they listed.
    pub catalog_responses: u64,
    /// See `catalog_responses`.
    pub catalog_items: u64,
    /// REGISTER requests by the GB/T 28181 edition their `X-GB-Ver` declared, in the slots of
    /// [`Declared`](crate::gb::version::Declared): 3.0, 2.0, none, other.
    pub gb_versions: [u64; 4],
    /// Time spent handling each message, µs (measured by the workers).
    pub service_us: hdrhistogram::Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            requests: [0; 4],
            responses: Vec::new(),
            registrations: 0,
            unregistrations: 0,
            keepalives: 0,
            redirects: 0,
            dropped_malformed: 0,
            replays: 0,
            auth_failures: 0,
            bans: [0; 2],
            refused_banned: [0; 2],
            rate_limited: 0,
            digest: [0; 6],
            refused_connections: 0,
            queries_sent: 0,
            catalog_responses: 0,
            catalog_items: 0,
            gb_versions: [0; 4],
            service_us: crate::stats::snapshot::new_histogram(),
        }
    }
}

impl Stats {
    /// Counts one response sent with `code`.
    pub fn responded(&mut self, code: u16) {
        match self.responses.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => self.responses.push((code, 1)),
        }
    }

    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &Stats) {
        for (a, b) in self.requests.iter_mut().zip(o.requests) {
            *a += b;
        }
        for &(c, n) in &o.responses {
            match self.responses.iter_mut().find(|(x, _)| *x == c) {
                Some((_, m)) => *m += n,
                None => self.responses.push((c, n)),
            }
        }
        self.responses.sort_unstable();
        self.registrations += o.registrations;
        self.unregistrations += o.unregistrations;
        self.keepalives += o.keepalives;
        self.redirects += o.redirects;
        self.dropped_malformed += o.dropped_malformed;
        self.replays += o.replays;
        self.auth_failures += o.auth_failures;
        for (a, b) in self.bans.iter_mut().zip(o.bans) {
            *a += b;
        }
        for (a, b) in self.refused_banned.iter_mut().zip(o.refused_banned) {
            *a += b;
        }
        self.rate_limited += o.rate_limited;
        for (a, b) in self.digest.iter_mut().zip(o.digest) {
            *a += b;
        }
        self.refused_connections += o.refused_connections;
        self.queries_sent += o.queries_sent;
        self.catalog_responses += o.catalog_responses;
        self.catalog_items += o.catalog_items;
        for (a, b) in self.gb_versions.iter_mut().zip(o.gb_versions) {
            *a += b;
        }
        let _ = self.service_us.add(&o.service_us);
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.requests == [0; 4]
            && self.responses.is_empty()
            && self.dropped_malformed == 0
            && self.rate_limited == 0
            && self.refused_connections == 0
            && self.service_us.is_empty()
            && self.catalog_responses == 0
    }

    /// Forgets every count (keeps the memory).
    pub fn clear(&mut self) {
        let Stats {
            requests,
            responses,
            registrations,
            unregistrations,
            keepalives,
            redirects,
            dropped_malformed,
            replays,
            auth_failures,
            bans,
            refused_banned,
            rate_limited,
            digest,
            refused_connections,
            queries_sent,
            catalog_responses,
            catalog_items,
            gb_versions,
            service_us,
        } = self;
        *requests = [0; 4];
        *gb_versions = [0; 4];
        *digest = [0; 6];
        *bans = [0; 2];
        *refused_banned = [0; 2];
        responses.clear();
        for n in [
            registrations,
            unregistrations,
            keepalives,
            redirects,
            dropped_malformed,
            replays,
            auth_failures,
            rate_limited,
            refused_connections,
            queries_sent,
            catalog_responses,
            catalog_items,
        ] {
            *n = 0;
        }
        service_us.reset();
    }

    /// The REGISTERs whose `X-GB-Ver` said `d`.
    pub fn gb_version(&self, d: crate::gb::version::Declared) -> u64 {
        self.gb_versions[d.slot()]
    }

    /// The editions REGISTERs declared, for a summary: `3.0 ×12, none ×3` (only those seen).
    pub fn gb_versions_text(&self) -> String {
        let seen: Vec<String> = crate::gb::version::Declared::ALL
            .iter()
            .filter(|d| self.gb_version(**d) > 0)
            .map(|d| format!("{} ×{}", d.label(), self.gb_version(*d)))
            .collect();
        if seen.is_empty() {
            "none seen".into()
        } else {
            seen.join(", ")
        }
    }

    /// Digest answers accepted with `alg`.
    pub fn digest_answers(&self, alg: Algorithm) -> u64 {
        self.digest[alg.index()]
    }

    /// Responses with this code.
    pub fn response(&self, code: u16) -> u64 {
        self.responses
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0, |(_, n)| *n)
    }
}

/// A worker's side of the interval hand-over ([`crate::stats::handover`], as the generator's
/// workers do): full counters go out on `tx`, spent ones come back on `spent` to be reused.
#[derive(Clone, Debug)]
pub struct Publisher {
    /// Where interval snapshots go.
    pub tx: Sender<Box<Stats>>,
    /// Snapshots the collector is done with.
    pub spent: Receiver<Box<Stats>>,
}

impl Publisher {
    /// Sends `stats` (if anything was counted) and leaves a cleared snapshot in its place.
    pub fn publish(&self, stats: &mut Box<Stats>) {
        if stats.is_empty() {
            return;
        }
        let full = crate::stats::handover::swap_out(stats, &self.spent);
        let _ = self.tx.send(full);
    }
}

impl crate::stats::handover::Interval for Stats {
    fn reset(&mut self) {
        self.clear();
    }
}
