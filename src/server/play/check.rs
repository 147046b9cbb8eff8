//! What the platform checks in each received stream, packet by packet, as a media server
//! would: the sequence numbers run on (loss and reordering counted, across the 16-bit wrap),
//! the 90 kHz timestamps hold within a frame and advance between frames (and keep roughly to
//! wall time), and each frame starts with the PS pack header `00 00 01 BA`. The SSRC is
//! checked before a packet gets here: the driver finds the stream by it.
//!
//! A [`StreamCheck`] is a few dozen bytes of state per stream; checking a packet allocates
//! nothing and never panics. It never reads a clock (`now` is given) or touches a socket.

use super::stats::PlayStats;
use crate::clock::{Span, Time};
use crate::media::receive::RtpView;

/// The PS pack header start code every frame begins with.
const PACK_START: [u8; 4] = [0, 0, 1, 0xba];

/// The RTP clock of GB/T 28181 video.
const HZ: u64 = 90_000;

/// A timestamp step between frames larger than this (10 s) is a jump.
const MAX_STEP: u64 = 10 * HZ;

/// How far a stream's media time may stray from wall time before it counts: this much plus a
/// quarter of the time elapsed (loose: a loaded sender bursts and stalls).
const DRIFT_SLACK: Span = Span::from_secs(2);

/// One stream's receive state.
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamCheck {
    started: bool,
    /// Highest sequence number seen, extended past 16 bits.
    max_seq: u64,
    /// The first sequence number, extended.
    base_seq: u64,
    received: u64,
    /// Timestamp of the highest packet, and the stream's first, extended past 32 bits.
    ts: u64,
    ts0: u64,
    last_marker: bool,
    first_at: Time,
    drifted: bool,
}

impl StreamCheck {
    /// True once a packet came.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Checks one packet of this stream received at `now`, counting into `st`; returns true
    /// for the stream's first packet.
    pub fn packet(&mut self, now: Time, p: &RtpView<'_>, bytes: usize, st: &mut PlayStats) -> bool {
        st.rtp_packets += 1;
        st.rtp_bytes += bytes as u64;
        self.received += 1;
        if !self.started {
            self.started = true;
            self.max_seq = u64::from(p.seq) + (1 << 16);
            self.base_seq = self.max_seq;
            self.ts = u64::from(p.timestamp) + (1 << 32);
            self.ts0 = self.ts;
            self.last_marker = p.marker;
            self.first_at = now;
            if !p.payload.starts_with(&PACK_START) {
                st.missing_ps += 1;
            }
            return true;
        }
        let step = i64::from(p.seq.wrapping_sub(self.max_seq as u16) as i16);
        if step <= 0 {
            // Late (or repeated): counted, and not checked against the frame in progress.
            st.reordered += 1;
            return false;
        }
        let in_order = step == 1;
        self.max_seq = self.max_seq.saturating_add_signed(step);
        let dts = i64::from(p.timestamp.wrapping_sub(self.ts as u32) as i32);
        if in_order && self.last_marker {
            // A new frame.
            if !p.payload.starts_with(&PACK_START) {
                st.missing_ps += 1;
            }
            if dts <= 0 || dts as u64 > MAX_STEP {
                st.bad_timestamp += 1;
            }
        } else if in_order && dts != 0 {
            st.bad_timestamp += 1;
        }
        self.ts = self.ts.saturating_add_signed(dts);
        self.last_marker = p.marker;
        if in_order && dts > 0 && !self.drifted {
            let media = Span::from_micros((self.ts - self.ts0) * 1_000_000 / HZ);
            let wall = now.since(self.first_at);
            let slack = DRIFT_SLACK + wall / 4;
            if media > wall + slack || wall > media + slack {
                self.drifted = true;
                st.bad_timestamp += 1;
            }
        }
        false
    }

    /// Packets expected by sequence number and not received, for when the stream ends.
    pub fn lost(&self) -> u64 {
        if !self.started {
            return 0;
        }
        (self.max_seq - self.base_seq + 1).saturating_sub(self.received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets of `frames` frames of `per` packets each from sequence `seq0` and timestamp
    /// `ts0`, 3600 ticks (25 fps) apart.
    fn stream(seq0: u16, ts0: u32, frames: u32, per: u16) -> Vec<(u16, u32, bool, Vec<u8>)> {
        let mut out = Vec::new();
        let mut seq = seq0;
        for f in 0..frames {
            for i in 0..per {
                let payload = if i == 0 {
                    vec![0, 0, 1, 0xba, 0x44]
                } else {
                    vec![7; 10]
                };
                out.push((seq, ts0.wrapping_add(f * 3600), i + 1 == per, payload));
                seq = seq.wrapping_add(1);
            }
        }
        out
    }

    fn feed(c: &mut StreamCheck, st: &mut PlayStats, pkts: &[(u16, u32, bool, Vec<u8>)]) {
        for (i, (seq, ts, marker, payload)) in pkts.iter().enumerate() {
            let v = RtpView {
                marker: *marker,
                payload_type: 96,
                seq: *seq,
                timestamp: *ts,
                ssrc: 1,
                payload,
            };
            // 25 frames a second of wall time, whatever the packets per frame.
            let now = Time::from_micros(1_000_000 + 40_000 * (i as u64 / 3));
            c.packet(now, &v, 12 + payload.len(), st);
        }
    }

    #[test]
    fn a_clean_stream_across_both_wraps_counts_nothing_wrong() {
        let pkts = stream(65_000, u32::MAX - 10 * 3600, 900, 3);
        let (mut c, mut st) = (StreamCheck::default(), PlayStats::default());
        feed(&mut c, &mut st, &pkts);
        assert_eq!(st.rtp_packets, 2700);
        assert_eq!(
            (c.lost(), st.reordered, st.bad_timestamp, st.missing_ps),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn loss_and_reordering_are_counted() {
        let mut pkts = stream(65_530, 0, 10, 3);
        pkts.remove(12); // lost
        pkts.swap(3, 4); // reordered: the later one comes first
        let (mut c, mut st) = (StreamCheck::default(), PlayStats::default());
        feed(&mut c, &mut st, &pkts);
        assert_eq!((c.lost(), st.reordered), (1, 1));
    }

    #[test]
    fn timestamps_and_pack_headers_are_checked() {
        let mut pkts = stream(1, 0, 6, 3);
        pkts[1].1 += 1; // changes within a frame
        pkts[6].1 = pkts[5].1; // a new frame with the old timestamp
        pkts[9].3 = vec![1, 2, 3]; // a frame without a pack header
        let (mut c, mut st) = (StreamCheck::default(), PlayStats::default());
        feed(&mut c, &mut st, &pkts);
        assert_eq!(st.missing_ps, 1);
        assert!(st.bad_timestamp >= 2, "{}", st.bad_timestamp);
    }

    #[test]
    fn media_time_far_ahead_of_wall_time_counts_once() {
        // Frames 10 s apart in media time, 40 ms apart in wall time.
        let mut pkts = stream(1, 0, 20, 3);
        for (i, p) in pkts.iter_mut().enumerate() {
            p.1 = (i as u32 / 3) * 9 * 90_000;
        }
        let (mut c, mut st) = (StreamCheck::default(), PlayStats::default());
        feed(&mut c, &mut st, &pkts);
        assert_eq!(st.bad_timestamp, 1);
    }
}
