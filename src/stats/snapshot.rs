//! What a worker measured over an interval (or a whole run, once merged): per transaction kind a
//! latency histogram and outcome counts, plus camera counters and state gauges.
//!
//! Each worker records into its own `Snapshot` (nothing shared while recording) and hands it to
//! the reporter once a second, which merges them: histograms are added, never percentiles
//! averaged.

use crate::camera::{Counters, Outcome, Record, TxnKind};
use hdrhistogram::Histogram;

/// Highest latency tracked exactly, in microseconds (one hour); larger values saturate.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Outcomes and latency of one transaction kind.
#[derive(Clone)]
pub struct KindStats {
    /// Latency from when the request was due to its final response, in µs, for every
    /// transaction that got a final response (timeouts and transport errors are counted, not
    /// timed).
    pub latency: Histogram<u64>,
    /// Service time in µs, from when the first request was sent to its final response (the
    /// server's part of `latency`), for every transaction that got a final response.
    pub service: Histogram<u64>,
    /// Schedule lag in µs, from when the request was due to when it was sent (the
    /// generator's part of `latency`), for every transaction that ended.
    pub lag: Histogram<u64>,
    /// Transactions redirected (3xx) and followed to another server; each also ends with
    /// its final outcome there.
    pub redirected: u64,
    /// Final responses by status code, ascending.
    pub statuses: Vec<(u16, u64)>,
    /// No final response in time.
    pub timeouts: u64,
    /// Connection lost or datagram refused.
    pub transport_errors: u64,
    /// Still pending when the run stopped (or the camera went offline).
    pub abandoned: u64,
    /// UDP retransmissions sent.
    pub retransmits: u64,
}

impl std::fmt::Debug for KindStats {
    /// A summary: the raw histogram counts would fill a screen.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = |p| self.latency.value_at_quantile(p);
        f.debug_struct("KindStats")
            .field("total", &self.total())
            .field("statuses", &self.statuses)
            .field("timeouts", &self.timeouts)
            .field("transport_errors", &self.transport_errors)
            .field("abandoned", &self.abandoned)
            .field("retransmits", &self.retransmits)
            .field("timed", &self.latency.len())
            .field("p50_us", &q(0.5))
            .field("p99_us", &q(0.99))
            .field("max_us", &self.latency.max())
            .finish()
    }
}

impl Default for KindStats {
    fn default() -> Self {
        KindStats {
            latency: new_histogram(),
            service: new_histogram(),
            lag: new_histogram(),
            redirected: 0,
            statuses: Vec::new(),
            timeouts: 0,
            transport_errors: 0,
            abandoned: 0,
            retransmits: 0,
        }
    }
}

/// A latency histogram: 1 µs to one hour, three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant bounds are valid")
}

impl KindStats {
    /// Every transaction that ended, whatever the outcome.
    pub fn total(&self) -> u64 {
        self.statuses.iter().map(|(_, n)| n).sum::<u64>()
            + self.timeouts
            + self.transport_errors
            + self.abandoned
    }

    /// Transactions answered 2xx.
    pub fn succeeded(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(c, _)| (200..300).contains(c))
            .map(|(_, n)| n)
            .sum()
    }

    /// Transactions answered with a final non-2xx status.
    pub fn rejected(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(c, _)| !(200..300).contains(c))
            .map(|(_, n)| n)
            .sum()
    }

    /// Transactions answered with `code`.
    pub fn status(&self, code: u16) -> u64 {
        self.statuses
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0, |(_, n)| *n)
    }

    fn add_status(&mut self, code: u16, n: u64) {
        match self.statuses.binary_search_by_key(&code, |(c, _)| *c) {
            Ok(i) => self.statuses[i].1 += n,
            Err(i) => self.statuses.insert(i, (code, n)),
        }
    }

    /// Adds one finished transaction.
    pub fn record(&mut self, r: &Record) {
        self.retransmits += u64::from(r.retransmits);
        self.redirected += u64::from(r.redirected);
        let us = |s: crate::clock::Span| s.as_micros().clamp(1, MAX_LATENCY_US);
        self.lag.saturating_record(us(r.lag));
        match r.outcome {
            Outcome::Status(code) => {
                self.add_status(code, 1);
                self.latency.saturating_record(us(r.latency));
                self.service.saturating_record(us(r.latency - r.lag));
            }
            Outcome::Timeout => self.timeouts += 1,
            Outcome::TransportError => self.transport_errors += 1,
            Outcome::Abandoned => self.abandoned += 1,
        }
    }

    /// Empties the stats, keeping the histogram's memory.
    pub fn clear(&mut self) {
        let KindStats {
            latency,
            service,
            lag,
            redirected,
            statuses,
            timeouts,
            transport_errors,
            abandoned,
            retransmits,
        } = self;
        for h in [latency, service, lag] {
            if !h.is_empty() {
                h.reset();
            }
        }
        *redirected = 0;
        statuses.clear();
        *timeouts = 0;
        *transport_errors = 0;
        *abandoned = 0;
        *retransmits = 0;
    }

    /// Adds another interval's or worker's numbers (histograms added exactly).
    pub fn merge(&mut self, o: &KindStats) {
        // Both histograms share bounds; an add that fails would mean a foreign histogram.
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
        let _ = self.lag.add(&o.lag);
        self.redirected += o.redirected;
        for &(code, n) in &o.statuses {
            self.add_status(code, n);
        }
        self.timeouts += o.timeouts;
        self.transport_errors += o.transport_errors;
        self.abandoned += o.abandoned;
        self.retransmits += o.retransmits;
    }
}

/// Camera population at a point in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Cameras in the fleet.
    pub cameras: u64,
    /// Cameras started by the ramp so far.
    pub started: u64,
    /// Cameras registered now.
    pub registered: u64,
    /// Cameras stopped.
    pub stopped: u64,
    /// Started cameras not registered but registering now (see
    /// [`Camera::is_registering`](crate::camera::Camera::is_registering)).
    pub registering: u64,
    /// Client transactions in flight now, every kind.
    pub in_flight: u64,
    /// Live video streams sending now (started, not yet ended).
    pub streams: u64,
    /// Subscriptions the cameras hold now (Catalog, MobilePosition, Alarm).
    pub subscriptions: u64,
}

impl Gauges {
    /// Started cameras that are neither registered, registering nor stopped: waiting to
    /// retry after a failure or a lost server.
    pub fn offline(&self) -> u64 {
        self.started
            .saturating_sub(self.registered + self.stopped + self.registering)
    }

    /// The JSON object reports carry (`cameras`, `started`, `registered`, `registering`,
    /// `stopped`, `in_flight`, `streams`, `subscriptions`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "cameras": self.cameras, "started": self.started, "registered": self.registered,
            "registering": self.registering, "stopped": self.stopped, "in_flight": self.in_flight,
            "streams": self.streams, "subscriptions": self.subscriptions,
        })
    }

    /// Reads [`Gauges::to_json`] back; a missing field reads as 0 (older reports).
    pub fn from_json(v: &serde_json::Value) -> Gauges {
        let u = |key: &str| v.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Gauges {
            cameras: u("cameras"),
            started: u("started"),
            registered: u("registered"),
            registering: u("registering"),
            stopped: u("stopped"),
            in_flight: u("in_flight"),
            streams: u("streams"),
            subscriptions: u("subscriptions"),
        }
    }

    /// Both populations added (the workers of one instant, or the shards of one fleet).
    pub fn plus(self, o: Gauges) -> Gauges {
        Gauges {
            cameras: self.cameras + o.cameras,
            started: self.started + o.started,
            registered: self.registered + o.registered,
            stopped: self.stopped + o.stopped,
            registering: self.registering + o.registering,
            in_flight: self.in_flight + o.in_flight,
            streams: self.streams + o.streams,
            subscriptions: self.subscriptions + o.subscriptions,
        }
    }
}

/// Everything measured over an interval by one worker, or merged over workers and time.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Per transaction kind, indexed like [`TxnKind::ALL`].
    pub kinds: [KindStats; TxnKind::ALL.len()],
    /// Camera event counters accumulated over the interval.
    pub counters: Counters,
    /// Population at the end of the interval (summed over workers when merged).
    pub gauges: Gauges,
    /// Datagrams or TCP messages that reached no camera (unknown destination).
    pub unrouted: u64,
    /// Socket send errors other than refusals (buffer full, unreachable network).
    pub send_errors: u64,
    /// CPU time the generator's workers spent (their own threads, from the kernel).
    pub worker_cpu: std::time::Duration,
    /// Live video: INVITEs answered and what the streams sent.
    pub video: super::video::VideoCounters,
    /// Subscriptions and alarms: SUBSCRIBEs answered, NOTIFYs and alarms sent.
    pub subs: crate::camera::subscribe::SubCounters,
}

/// Index of a kind in [`Snapshot::kinds`].
pub fn kind_index(k: TxnKind) -> usize {
    k as usize
}

impl Snapshot {
    /// The stats of one kind.
    pub fn kind(&self, k: TxnKind) -> &KindStats {
        &self.kinds[kind_index(k)]
    }

    /// Adds one finished transaction.
    pub fn record(&mut self, r: &Record) {
        self.kinds[kind_index(r.kind)].record(r);
    }

    /// Adds the counters of a camera outbox (the difference since the last interval).
    pub fn add_counters(&mut self, c: &Counters) {
        let s = &mut self.counters;
        s.stray += c.stray;
        s.malformed += c.malformed;
        s.online += c.online;
        s.offline += c.offline;
        s.queries += c.queries;
        s.request_retransmits += c.request_retransmits;
        s.queries_refused += c.queries_refused;
        s.retransmissions += c.retransmissions;
        s.unanswerable_challenges += c.unanswerable_challenges;
        for (a, b) in s.controls.iter_mut().zip(c.controls) {
            *a += b;
        }
        s.reboots += c.reboots;
        s.bad_queries += c.bad_queries;
    }

    /// Empties the snapshot for reuse, keeping its histograms' memory (a fresh one costs
    /// about 1 MB of zeroed pages).
    pub fn clear(&mut self) {
        let Snapshot {
            kinds,
            counters,
            gauges,
            unrouted,
            send_errors,
            worker_cpu,
            video,
            subs,
        } = self;
        for k in kinds {
            k.clear();
        }
        *counters = Counters::default();
        *gauges = Gauges::default();
        *unrouted = 0;
        *send_errors = 0;
        *worker_cpu = std::time::Duration::ZERO;
        *video = super::video::VideoCounters::default();
        *subs = crate::camera::subscribe::SubCounters::default();
    }

    /// Adds another snapshot's transactions and counters; gauges are summed too (use for
    /// workers of the same instant, then overwrite gauges when merging over time).
    pub fn merge(&mut self, o: &Snapshot) {
        for (a, b) in self.kinds.iter_mut().zip(&o.kinds) {
            a.merge(b);
        }
        self.add_counters(&o.counters);
        self.gauges = self.gauges.plus(o.gauges);
        self.unrouted += o.unrouted;
        self.send_errors += o.send_errors;
        self.worker_cpu += o.worker_cpu;
        self.video.add(&o.video);
        self.subs.add(&o.subs);
    }
}

/// Counter differences `now - before`, for turning running totals into an interval.
pub fn counters_since(now: &Counters, before: &Counters) -> Counters {
    let mut controls = now.controls;
    for (a, b) in controls.iter_mut().zip(before.controls) {
        *a -= b.min(*a);
    }
    Counters {
        controls,
        reboots: now.reboots - before.reboots.min(now.reboots),
        bad_queries: now.bad_queries - before.bad_queries.min(now.bad_queries),
        stray: now.stray - before.stray.min(now.stray),
        malformed: now.malformed - before.malformed.min(now.malformed),
        online: now.online - before.online.min(now.online),
        offline: now.offline - before.offline.min(now.offline),
        queries: now.queries - before.queries.min(now.queries),
        request_retransmits: now.request_retransmits
            - before.request_retransmits.min(now.request_retransmits),
        queries_refused: now.queries_refused - before.queries_refused.min(now.queries_refused),
        retransmissions: now.retransmissions - before.retransmissions.min(now.retransmissions),
        unanswerable_challenges: now.unanswerable_challenges
            - before
                .unanswerable_challenges
                .min(now.unanswerable_challenges),
    }
}

impl super::handover::Interval for Snapshot {
    fn reset(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Span;

    fn rec(kind: TxnKind, outcome: Outcome, latency_us: u64) -> Record {
        Record {
            kind,
            outcome,
            latency: Span::from_micros(latency_us),
            lag: Span::ZERO,
            retransmits: 1,
            redirected: false,
        }
    }

    #[test]
    fn records_and_merges_exactly() {
        let mut a = Snapshot::default();
        let mut b = Snapshot::default();
        for i in 0..100 {
            a.record(&rec(TxnKind::Register, Outcome::Status(200), 1000 + i));
        }
        b.record(&rec(TxnKind::Register, Outcome::Status(403), 50));
        b.record(&rec(TxnKind::Register, Outcome::Timeout, 32_000_000));
        b.record(&rec(TxnKind::Keepalive, Outcome::Abandoned, 0));
        b.record(&rec(TxnKind::Keepalive, Outcome::TransportError, 0));
        a.merge(&b);
        let r = a.kind(TxnKind::Register);
        assert_eq!(
            (r.total(), r.succeeded(), r.rejected(), r.timeouts),
            (102, 100, 1, 1)
        );
        assert_eq!(r.status(403), 1);
        assert_eq!(r.latency.len(), 101, "timeouts are counted, not timed");
        assert_eq!(r.retransmits, 102);
        let k = a.kind(TxnKind::Keepalive);
        assert_eq!((k.abandoned, k.transport_errors, k.total()), (1, 1, 2));
        assert_eq!(r.latency.min(), 50);
    }

    #[test]
    fn a_followed_redirect_is_no_rejection() {
        let mut a = Snapshot::default();
        let mut redirected = rec(TxnKind::Register, Outcome::Status(200), 8_000);
        redirected.redirected = true;
        a.record(&redirected);
        a.record(&rec(TxnKind::Register, Outcome::Status(200), 4_000));
        let r = a.kind(TxnKind::Register);
        assert_eq!((r.total(), r.succeeded(), r.rejected()), (2, 2, 0));
        assert_eq!((r.redirected, r.status(302), r.latency.len()), (1, 0, 2));
        // A 302 that could not be followed is a final status like any other.
        let mut b = Snapshot::default();
        b.record(&rec(TxnKind::Register, Outcome::Status(302), 3_000));
        a.merge(&b);
        let r = a.kind(TxnKind::Register);
        assert_eq!(
            (r.total(), r.rejected(), r.status(302), r.redirected),
            (3, 1, 1, 1)
        );
        a.clear();
        assert_eq!(a.kind(TxnKind::Register).redirected, 0);
    }

    #[test]
    fn a_cleared_snapshot_reads_as_new() {
        let mut a = Snapshot::default();
        a.record(&rec(TxnKind::Register, Outcome::Status(200), 900));
        a.record(&rec(TxnKind::Keepalive, Outcome::Timeout, 0));
        a.add_counters(&Counters {
            stray: 3,
            ..Counters::default()
        });
        a.gauges.started = 4;
        a.unrouted = 1;
        a.send_errors = 2;
        a.worker_cpu = std::time::Duration::from_millis(5);
        a.clear();
        let fresh = Snapshot::default();
        assert_eq!(format!("{a:?}"), format!("{fresh:?}"));
        // Reused, it counts from zero again.
        a.record(&rec(TxnKind::Register, Outcome::Status(200), 40));
        let r = a.kind(TxnKind::Register);
        assert_eq!((r.total(), r.latency.len(), r.latency.max()), (1, 1, 40));
    }

    #[test]
    fn counters_difference() {
        let before = Counters {
            stray: 2,
            online: 5,
            ..Counters::default()
        };
        let now = Counters {
            stray: 7,
            online: 5,
            offline: 1,
            controls: [0, 3, 0, 0, 0, 0, 0, 0, 0],
            reboots: 3,
            ..Counters::default()
        };
        let d = counters_since(&now, &before);
        assert_eq!((d.stray, d.online, d.offline), (5, 0, 1));
        assert_eq!((d.controls[1], d.reboots), (3, 3));
    }
}
