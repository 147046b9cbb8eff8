//! The play driver's counters: each worker's driver owns one [`PlayStats`] and hands it over
//! every interval like the registrar's counters (swapped for a cleared one, nothing shared
//! while counting); the server merges them exactly. Gauges (streams active, SSRCs in use) are
//! kept per worker, the latest value of each, and summed. Never locks, never reads a clock.

use hdrhistogram::Histogram;

/// Counters of one worker's play driver (merged for reports).
#[derive(Clone, Debug)]
pub struct PlayStats {
    /// INVITEs sent (first transmissions).
    pub invites: u64,
    /// INVITE retransmissions (Timer A).
    pub invite_retransmits: u64,
    /// Provisional responses to INVITEs.
    pub provisional: u64,
    /// 200 OK to INVITEs (first ones; retransmissions are ACKed again, not counted).
    pub ok: u64,
    /// Final error responses to INVITEs: 3xx, 4xx, 5xx, 6xx.
    pub failed: [u64; 4],
    /// 486 Busy Here among the 4xx.
    pub busy: u64,
    /// No 200 within 10 s of the INVITE (wvp's play timeout): given up.
    pub invite_timeouts: u64,
    /// A 200 that came after the INVITE was given up: ACKed and ended with a BYE.
    pub late_ok: u64,
    /// ACKs sent (to 2xx, and to final errors).
    pub acks: u64,
    /// 200s whose SDP could not be read: ACKed and ended with a BYE.
    pub bad_answers: u64,
    /// Answers whose `y=` differed from the offer's: the device's SSRC was adopted.
    pub ssrc_adopted: u64,
    /// INVITEs not sent because every SSRC was in use.
    pub ssrc_exhausted: u64,
    /// Streams started (200 and ACK) and ended (any way).
    pub streams_started: u64,
    /// See `streams_started`.
    pub streams_ended: u64,
    /// BYEs sent (first transmissions) and their retransmissions.
    pub byes: u64,
    /// See `byes`.
    pub bye_retransmits: u64,
    /// BYEs with no final response before Timer F.
    pub bye_timeouts: u64,
    /// BYEs the devices sent (answered 200).
    pub device_byes: u64,
    /// Streams ended because no RTP came for 15 s (ZLMediaKit's timeout).
    pub no_rtp: u64,
    /// RTP packets and bytes received for known streams.
    pub rtp_packets: u64,
    /// See `rtp_packets`.
    pub rtp_bytes: u64,
    /// Packets missing at streams' ends (expected by sequence number, never received).
    pub lost: u64,
    /// Packets that came after a later one.
    pub reordered: u64,
    /// Packets whose SSRC is no stream's (neither offered nor adopted).
    pub bad_ssrc: u64,
    /// Timestamps breaking the 90 kHz rules (changing within a frame, not advancing between
    /// frames, jumping, or drifting from wall time).
    pub bad_timestamp: u64,
    /// First packets of frames without the PS pack start code `00 00 01 BA`.
    pub missing_ps: u64,
    /// Datagrams or frames that are not RTP version 2, or not payload type 96.
    pub bad_rtp: u64,
    /// TCP media connections accepted or made.
    pub tcp_connections: u64,
    /// INVITE sent to 200 received, µs.
    pub invite_to_ok_us: Histogram<u64>,
    /// 200 received to the stream's first RTP packet, µs.
    pub ok_to_rtp_us: Histogram<u64>,
    /// A worker's snapshot: (worker, streams active, SSRCs in use) when it was taken.
    pub gauge: Option<(usize, u64, u64)>,
    /// Merged: per worker, (streams active, SSRCs in use), the latest value each reported.
    pub gauges: Vec<(u64, u64)>,
}

impl Default for PlayStats {
    fn default() -> Self {
        PlayStats {
            invites: 0,
            invite_retransmits: 0,
            provisional: 0,
            ok: 0,
            failed: [0; 4],
            busy: 0,
            invite_timeouts: 0,
            late_ok: 0,
            acks: 0,
            bad_answers: 0,
            ssrc_adopted: 0,
            ssrc_exhausted: 0,
            streams_started: 0,
            streams_ended: 0,
            byes: 0,
            bye_retransmits: 0,
            bye_timeouts: 0,
            device_byes: 0,
            no_rtp: 0,
            rtp_packets: 0,
            rtp_bytes: 0,
            lost: 0,
            reordered: 0,
            bad_ssrc: 0,
            bad_timestamp: 0,
            missing_ps: 0,
            bad_rtp: 0,
            tcp_connections: 0,
            invite_to_ok_us: crate::stats::snapshot::new_histogram(),
            ok_to_rtp_us: crate::stats::snapshot::new_histogram(),
            gauge: None,
            gauges: Vec::new(),
        }
    }
}

impl PlayStats {
    /// The plain counters, named as reports print them, in one order (so merging, clearing
    /// and printing cannot miss one).
    pub fn counters(&self) -> [(&'static str, u64); 31] {
        [
            ("invites", self.invites),
            ("invite_retransmits", self.invite_retransmits),
            ("provisional", self.provisional),
            ("ok", self.ok),
            ("3xx", self.failed[0]),
            ("4xx", self.failed[1]),
            ("5xx", self.failed[2]),
            ("6xx", self.failed[3]),
            ("busy", self.busy),
            ("invite_timeouts", self.invite_timeouts),
            ("late_ok", self.late_ok),
            ("acks", self.acks),
            ("bad_answers", self.bad_answers),
            ("ssrc_adopted", self.ssrc_adopted),
            ("ssrc_exhausted", self.ssrc_exhausted),
            ("streams_started", self.streams_started),
            ("streams_ended", self.streams_ended),
            ("byes", self.byes),
            ("bye_retransmits", self.bye_retransmits),
            ("bye_timeouts", self.bye_timeouts),
            ("device_byes", self.device_byes),
            ("no_rtp", self.no_rtp),
            ("rtp_packets", self.rtp_packets),
            ("rtp_bytes", self.rtp_bytes),
            ("lost", self.lost),
            ("reordered", self.reordered),
            ("bad_ssrc", self.bad_ssrc),
            ("bad_timestamp", self.bad_timestamp),
            ("missing_ps", self.missing_ps),
            ("bad_rtp", self.bad_rtp),
            ("tcp_connections", self.tcp_connections),
        ]
    }

    fn counters_mut(&mut self) -> [&mut u64; 31] {
        let [f3, f4, f5, f6] = &mut self.failed;
        [
            &mut self.invites,
            &mut self.invite_retransmits,
            &mut self.provisional,
            &mut self.ok,
            f3,
            f4,
            f5,
            f6,
            &mut self.busy,
            &mut self.invite_timeouts,
            &mut self.late_ok,
            &mut self.acks,
            &mut self.bad_answers,
            &mut self.ssrc_adopted,
            &mut self.ssrc_exhausted,
            &mut self.streams_started,
            &mut self.streams_ended,
            &mut self.byes,
            &mut self.bye_retransmits,
            &mut self.bye_timeouts,
            &mut self.device_byes,
            &mut self.no_rtp,
            &mut self.rtp_packets,
            &mut self.rtp_bytes,
            &mut self.lost,
            &mut self.reordered,
            &mut self.bad_ssrc,
            &mut self.bad_timestamp,
            &mut self.missing_ps,
            &mut self.bad_rtp,
            &mut self.tcp_connections,
        ]
    }

    /// The counter named `name` (as in [`counters`](Self::counters)), 0 if there is none.
    pub fn get(&self, name: &str) -> u64 {
        self.counters()
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Sets worker `worker`'s gauges in a merged total.
    pub fn set_gauges(&mut self, worker: usize, active: u64, ssrc_in_use: u64) {
        if self.gauges.len() <= worker {
            self.gauges.resize(worker + 1, (0, 0));
        }
        self.gauges[worker] = (active, ssrc_in_use);
    }

    /// Streams active now, over all workers.
    pub fn active(&self) -> u64 {
        self.gauges.iter().map(|g| g.0).sum()
    }

    /// SSRCs in use now, over all workers.
    pub fn ssrc_in_use(&self) -> u64 {
        self.gauges.iter().map(|g| g.1).sum()
    }

    /// Adds another snapshot: counters and histograms add up, gauges take the newer value.
    pub fn merge(&mut self, o: &PlayStats) {
        for (a, (_, b)) in self.counters_mut().into_iter().zip(o.counters()) {
            *a += b;
        }
        let _ = self.invite_to_ok_us.add(&o.invite_to_ok_us);
        let _ = self.ok_to_rtp_us.add(&o.ok_to_rtp_us);
        for (w, g) in o.gauges.iter().enumerate() {
            self.set_gauges(w, g.0, g.1);
        }
        if let Some((w, active, in_use)) = o.gauge {
            self.set_gauges(w, active, in_use);
        }
    }

    /// Forgets every count (keeps the memory, and the gauges, which are not counts).
    pub fn clear(&mut self) {
        for c in self.counters_mut() {
            *c = 0;
        }
        self.invite_to_ok_us.reset();
        self.ok_to_rtp_us.reset();
    }
}

impl crate::stats::handover::Interval for PlayStats {
    fn reset(&mut self) {
        self.clear();
        self.gauge = None;
        self.gauges.clear();
    }
}

/// A worker's side of the hand-over of [`PlayStats`] (as [`super::super::stats::Publisher`]
/// does for the registrar's).
#[derive(Clone, Debug)]
pub struct PlayPublisher {
    /// Where interval snapshots go.
    pub tx: crossbeam::channel::Sender<Box<PlayStats>>,
    /// Snapshots the collector is done with.
    pub spent: crossbeam::channel::Receiver<Box<PlayStats>>,
}

impl PlayPublisher {
    /// Sends `stats` (gauges included, so it goes every time) and leaves a cleared snapshot.
    pub fn publish(&self, stats: &mut Box<PlayStats>) {
        let full = crate::stats::handover::swap_out(stats, &self.spent);
        let _ = self.tx.send(full);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_counts_and_keeps_each_workers_latest_gauges() {
        let mut total = PlayStats::default();
        let mut a = PlayStats {
            invites: 3,
            ..PlayStats::default()
        };
        a.failed[1] = 1;
        a.gauge = Some((0, 5, 6));
        a.invite_to_ok_us.record(1000).unwrap();
        let b = PlayStats {
            invites: 2,
            gauge: Some((1, 1, 1)),
            ..PlayStats::default()
        };
        total.merge(&a);
        total.merge(&b);
        assert_eq!((total.invites, total.get("4xx")), (5, 1));
        assert_eq!((total.active(), total.ssrc_in_use()), (6, 7));
        let a2 = PlayStats {
            gauge: Some((0, 0, 2)),
            ..PlayStats::default()
        };
        total.merge(&a2);
        assert_eq!((total.active(), total.ssrc_in_use()), (1, 3));
        assert_eq!(total.invite_to_ok_us.len(), 1);
        total.clear();
        assert!(total.counters().iter().all(|(_, v)| *v == 0));
    }
}
