//! The subscribe and query driver's counters: each worker's driver owns one [`SubStats`] and
//! hands it over every interval like the play driver's (swapped for a cleared one, nothing
//! shared while counting); the server merges them exactly. Gauges (subscriptions active,
//! queries outstanding) are kept per worker, the latest value of each, and summed. Never
//! locks, never reads a clock.

use hdrhistogram::Histogram;

/// The subscription counters, as the summary line names them, in the slots of
/// [`SubStats::counts`] `0..SUBSCRIBE_COUNTERS`.
pub const SUBSCRIBE_NAMES: [&str; 19] = [
    "subscribes",
    "refreshes",
    "retransmits",
    "ok",
    "3xx",
    "4xx",
    "5xx",
    "6xx",
    "timeouts",
    "lost",
    "notify_catalog",
    "notify_mobile_position",
    "notify_alarm",
    "notify_unknown",
    "notify_terminated",
    "notify_bad_body",
    "alarm_messages",
    "position_early",
    "not_registered",
];

/// The query counters, as the summary line names them, in the slots of [`SubStats::counts`]
/// from `SUBSCRIBE_COUNTERS` on.
pub const QUERY_NAMES: [&str; 15] = [
    "queries",
    "retransmits",
    "ok",
    "3xx",
    "4xx",
    "5xx",
    "6xx",
    "timeouts",
    "answered",
    "incomplete",
    "pages",
    "items",
    "duplicate_pages",
    "unmatched_pages",
    "table_full",
];

/// How many subscription counters come first in [`SubStats::counts`].
pub const SUBSCRIBE_COUNTERS: usize = SUBSCRIBE_NAMES.len();
const ALL: usize = SUBSCRIBE_NAMES.len() + QUERY_NAMES.len();

/// A counter's slot in [`SubStats::counts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum C {
    Subscribes,
    Refreshes,
    SubRetransmits,
    SubOk,
    Sub3xx,
    Sub4xx,
    Sub5xx,
    Sub6xx,
    SubTimeouts,
    Lost,
    NotifyCatalog,
    NotifyPosition,
    NotifyAlarm,
    NotifyUnknown,
    NotifyTerminated,
    NotifyBadBody,
    AlarmMessages,
    PositionEarly,
    NotRegistered,
    Queries,
    QueryRetransmits,
    QueryOk,
    Query3xx,
    Query4xx,
    Query5xx,
    Query6xx,
    QueryTimeouts,
    Answered,
    Incomplete,
    Pages,
    Items,
    DuplicatePages,
    UnmatchedPages,
    TableFull,
}

/// Counters of one worker's subscribe and query driver (merged for reports).
#[derive(Clone, Debug)]
pub struct SubStats {
    /// Every counter, in the order of [`SUBSCRIBE_NAMES`] then [`QUERY_NAMES`].
    pub counts: [u64; ALL],
    /// SUBSCRIBE (first transmission) to its final response, µs: first ones and refreshes.
    pub subscribe_to_ok_us: Histogram<u64>,
    /// A subscription's 200 to its first NOTIFY, µs (0 when the NOTIFY overtook the 200).
    pub ok_to_first_notify_us: Histogram<u64>,
    /// MobilePosition lateness, µs: a NOTIFY's arrival minus the previous one's arrival plus
    /// the interval, 0 when it came on time or early.
    pub position_late_us: Histogram<u64>,
    /// A query's due time (when the rate scheduled it) to its last page, µs.
    pub query_to_last_page_us: Histogram<u64>,
    /// A query MESSAGE (first transmission) to its final response, µs.
    pub query_to_ok_us: Histogram<u64>,
    /// A worker's snapshot: (worker, subscriptions active, queries outstanding).
    pub gauge: Option<(usize, u64, u64)>,
    /// Merged: per worker, (subscriptions active, queries outstanding), the latest values.
    pub gauges: Vec<(u64, u64)>,
}

impl Default for SubStats {
    fn default() -> Self {
        let h = crate::stats::snapshot::new_histogram;
        SubStats {
            counts: [0; ALL],
            subscribe_to_ok_us: h(),
            ok_to_first_notify_us: h(),
            position_late_us: h(),
            query_to_last_page_us: h(),
            query_to_ok_us: h(),
            gauge: None,
            gauges: Vec::new(),
        }
    }
}

impl SubStats {
    /// Adds one to counter `c`.
    pub fn inc(&mut self, c: C) {
        self.counts[c as usize] += 1;
    }

    /// Adds `n` to counter `c`.
    pub fn add(&mut self, c: C, n: u64) {
        self.counts[c as usize] += n;
    }

    /// Counter `c`.
    pub fn get(&self, c: C) -> u64 {
        self.counts[c as usize]
    }

    /// The subscription counters with their names.
    pub fn subscribe_counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        SUBSCRIBE_NAMES.iter().copied().zip(self.counts)
    }

    /// The query counters with their names.
    pub fn query_counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        QUERY_NAMES
            .iter()
            .copied()
            .zip(self.counts[SUBSCRIBE_COUNTERS..].iter().copied())
    }

    /// Sets worker `worker`'s gauges in a merged total.
    pub fn set_gauges(&mut self, worker: usize, active: u64, outstanding: u64) {
        if self.gauges.len() <= worker {
            self.gauges.resize(worker + 1, (0, 0));
        }
        self.gauges[worker] = (active, outstanding);
    }

    /// Subscriptions active now (a 200 received, not ended), over all workers.
    pub fn active(&self) -> u64 {
        self.gauges.iter().map(|g| g.0).sum()
    }

    /// Queries outstanding now, over all workers.
    pub fn outstanding(&self) -> u64 {
        self.gauges.iter().map(|g| g.1).sum()
    }

    fn histograms_mut(&mut self) -> [&mut Histogram<u64>; 5] {
        [
            &mut self.subscribe_to_ok_us,
            &mut self.ok_to_first_notify_us,
            &mut self.position_late_us,
            &mut self.query_to_last_page_us,
            &mut self.query_to_ok_us,
        ]
    }

    fn histograms(&self) -> [&Histogram<u64>; 5] {
        [
            &self.subscribe_to_ok_us,
            &self.ok_to_first_notify_us,
            &self.position_late_us,
            &self.query_to_last_page_us,
            &self.query_to_ok_us,
        ]
    }

    /// Adds another snapshot: counters and histograms add up, gauges take the newer value.
    pub fn merge(&mut self, o: &SubStats) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        for (a, b) in self.histograms_mut().into_iter().zip(o.histograms()) {
            let _ = a.add(b);
        }
        for (w, g) in o.gauges.iter().enumerate() {
            self.set_gauges(w, g.0, g.1);
        }
        if let Some((w, a, q)) = o.gauge {
            self.set_gauges(w, a, q);
        }
    }

    /// Forgets every count (keeps the memory, and the gauges, which are not counts).
    pub fn clear(&mut self) {
        self.counts = [0; ALL];
        for h in self.histograms_mut() {
            h.reset();
        }
    }
}

impl crate::stats::handover::Interval for SubStats {
    fn reset(&mut self) {
        self.clear();
        self.gauge = None;
        self.gauges.clear();
    }
}

/// A worker's side of the hand-over of [`SubStats`].
#[derive(Clone, Debug)]
pub struct SubPublisher {
    /// Where interval snapshots go.
    pub tx: crossbeam::channel::Sender<Box<SubStats>>,
    /// Snapshots the collector is done with.
    pub spent: crossbeam::channel::Receiver<Box<SubStats>>,
}

impl SubPublisher {
    /// Sends `stats` (gauges included, so it goes every time) and leaves a cleared snapshot.
    pub fn publish(&self, stats: &mut Box<SubStats>) {
        let full = crate::stats::handover::swap_out(stats, &self.spent);
        let _ = self.tx.send(full);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_slots_and_merging_adds_up() {
        assert_eq!(C::NotRegistered as usize + 1, SUBSCRIBE_COUNTERS);
        assert_eq!(C::TableFull as usize + 1, ALL);
        let mut a = SubStats::default();
        a.inc(C::NotifyAlarm);
        a.add(C::Items, 5);
        a.gauge = Some((1, 3, 2));
        a.position_late_us.record(10).unwrap();
        let mut total = SubStats::default();
        total.merge(&a);
        total.merge(&a);
        let subs: Vec<_> = total.subscribe_counters().collect();
        assert!(subs.contains(&("notify_alarm", 2)));
        assert!(total.query_counters().any(|c| c == ("items", 10)));
        assert_eq!((total.active(), total.outstanding()), (3, 2));
        assert_eq!(total.position_late_us.len(), 2);
        total.clear();
        assert!(total.counts.iter().all(|&c| c == 0));
    }
}
