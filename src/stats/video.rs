//! Live video counters of a run: what the cameras' INVITE server answered and what their
//! streams sent, summed over workers and seconds like the camera counters, printed in the
//! summary and carried in the JSON report (`video`), from which they are read back.

use serde_json::{Value, json};

/// What the play sessions did over an interval (or a whole run, once merged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VideoCounters {
    /// New INVITEs received (retransmissions not counted).
    pub invites: u64,
    /// INVITEs answered 200 with SDP.
    pub answered: u64,
    /// INVITEs answered 486 Busy Here (stream cap or full table).
    pub busy: u64,
    /// INVITEs answered 488 Not Acceptable Here (an offer that cannot be met).
    pub not_acceptable: u64,
    /// INVITEs answered 404 (neither the device nor one of its channels).
    pub not_found: u64,
    /// 200s acknowledged.
    pub acked: u64,
    /// Streams started.
    pub streams_started: u64,
    /// Streams ended (BYE either way, Timer H, the run's end).
    pub streams_ended: u64,
    /// RTP packets sent.
    pub rtp_packets: u64,
    /// RTP bytes sent (header and payload).
    pub rtp_bytes: u64,
    /// RTP sends refused: UDP sends the kernel refused (a packet, or a frame with GSO), TCP
    /// frames a connection refused.
    pub rtp_send_errors: u64,
    /// TCP media connections made (connects completed, platforms' connections accepted).
    pub tcp_connects: u64,
    /// TCP media connect attempts after a failed connect or a dropped connection.
    pub tcp_reconnects: u64,
    /// TCP media connects that failed (refused, error, timed out), and listeners the
    /// platform never connected to or that could not be opened.
    pub tcp_connect_failures: u64,
    /// Whole frames not sent because a TCP media connection's write queue was full.
    pub tcp_frames_skipped: u64,
    /// Sessions a TeleBoot reboot of their device ended (media stopped, no BYE).
    pub dropped_on_reboot: u64,
}

impl VideoCounters {
    /// The fields with their JSON names, in order (the JSON, CSV and metrics use these).
    pub fn fields(&self) -> [(&'static str, u64); 16] {
        [
            ("invites", self.invites),
            ("answered", self.answered),
            ("busy", self.busy),
            ("not_acceptable", self.not_acceptable),
            ("not_found", self.not_found),
            ("acked", self.acked),
            ("streams_started", self.streams_started),
            ("streams_ended", self.streams_ended),
            ("rtp_packets", self.rtp_packets),
            ("rtp_bytes", self.rtp_bytes),
            ("rtp_send_errors", self.rtp_send_errors),
            ("tcp_connects", self.tcp_connects),
            ("tcp_reconnects", self.tcp_reconnects),
            ("tcp_connect_failures", self.tcp_connect_failures),
            ("tcp_frames_skipped", self.tcp_frames_skipped),
            ("dropped_on_reboot", self.dropped_on_reboot),
        ]
    }

    /// Applies `f` to each pair of fields of `self` and `o`.
    fn zip(&mut self, o: &VideoCounters, f: impl Fn(u64, u64) -> u64) {
        let VideoCounters {
            invites,
            answered,
            busy,
            not_acceptable,
            not_found,
            acked,
            streams_started,
            streams_ended,
            rtp_packets,
            rtp_bytes,
            rtp_send_errors,
            tcp_connects,
            tcp_reconnects,
            tcp_connect_failures,
            tcp_frames_skipped,
            dropped_on_reboot,
        } = self;
        *invites = f(*invites, o.invites);
        *answered = f(*answered, o.answered);
        *busy = f(*busy, o.busy);
        *not_acceptable = f(*not_acceptable, o.not_acceptable);
        *not_found = f(*not_found, o.not_found);
        *acked = f(*acked, o.acked);
        *streams_started = f(*streams_started, o.streams_started);
        *streams_ended = f(*streams_ended, o.streams_ended);
        *rtp_packets = f(*rtp_packets, o.rtp_packets);
        *rtp_bytes = f(*rtp_bytes, o.rtp_bytes);
        *rtp_send_errors = f(*rtp_send_errors, o.rtp_send_errors);
        *tcp_connects = f(*tcp_connects, o.tcp_connects);
        *tcp_reconnects = f(*tcp_reconnects, o.tcp_reconnects);
        *tcp_connect_failures = f(*tcp_connect_failures, o.tcp_connect_failures);
        *tcp_frames_skipped = f(*tcp_frames_skipped, o.tcp_frames_skipped);
        *dropped_on_reboot = f(*dropped_on_reboot, o.dropped_on_reboot);
    }

    /// Adds `o`.
    pub fn add(&mut self, o: &VideoCounters) {
        self.zip(o, u64::saturating_add);
    }

    /// The difference `self - before` of running totals (an interval's counts).
    pub fn since(&self, before: &VideoCounters) -> VideoCounters {
        let mut d = *self;
        d.zip(before, u64::saturating_sub);
        d
    }

    /// True when nothing happened (no line in the summary).
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| *v == 0)
    }

    /// The JSON object.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in self.fields() {
            m.insert(k.into(), json!(v));
        }
        Value::Object(m)
    }

    /// Reads [`to_json`](Self::to_json)'s object back (missing fields are 0).
    pub fn from_json(v: &Value) -> VideoCounters {
        let u = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        VideoCounters {
            invites: u("invites"),
            answered: u("answered"),
            busy: u("busy"),
            not_acceptable: u("not_acceptable"),
            not_found: u("not_found"),
            acked: u("acked"),
            streams_started: u("streams_started"),
            streams_ended: u("streams_ended"),
            rtp_packets: u("rtp_packets"),
            rtp_bytes: u("rtp_bytes"),
            rtp_send_errors: u("rtp_send_errors"),
            tcp_connects: u("tcp_connects"),
            tcp_reconnects: u("tcp_reconnects"),
            tcp_connect_failures: u("tcp_connect_failures"),
            tcp_frames_skipped: u("tcp_frames_skipped"),
            dropped_on_reboot: u("dropped_on_reboot"),
        }
    }

    /// The summary's line (the TCP media counts only when there was TCP media).
    pub fn line(&self) -> String {
        let mut line = format!(
            "live video: INVITEs {} (answered {}, busy {}, not acceptable {}, not found {}, acked {}); streams started {}, ended {}; RTP packets {}, bytes {}, send errors {}",
            self.invites,
            self.answered,
            self.busy,
            self.not_acceptable,
            self.not_found,
            self.acked,
            self.streams_started,
            self.streams_ended,
            self.rtp_packets,
            self.rtp_bytes,
            self.rtp_send_errors
        );
        if self.dropped_on_reboot > 0 {
            line.push_str(&format!(
                "; sessions dropped by reboots {}",
                self.dropped_on_reboot
            ));
        }
        if self.tcp_connects + self.tcp_reconnects + self.tcp_connect_failures > 0 {
            line.push_str(&format!(
                "; TCP media connects {}, reconnects {}, connect failures {}, frames skipped {}",
                self.tcp_connects,
                self.tcp_reconnects,
                self.tcp_connect_failures,
                self.tcp_frames_skipped
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_subtracts_and_round_trips_through_json() {
        let a = VideoCounters {
            invites: 3,
            answered: 2,
            busy: 1,
            rtp_packets: 100,
            rtp_bytes: 140_000,
            tcp_reconnects: 3,
            tcp_frames_skipped: 2,
            dropped_on_reboot: 1,
            ..VideoCounters::default()
        };
        let mut b = a;
        b.add(&a);
        assert_eq!(b.invites, 6);
        assert_eq!(b.since(&a), a);
        assert_eq!(a.since(&b), VideoCounters::default());
        assert_eq!(VideoCounters::from_json(&b.to_json()), b);
        assert!(VideoCounters::default().is_empty() && !a.is_empty());
        assert!(a.line().contains("busy 1"), "{}", a.line());
        assert!(
            a.line().ends_with(
                "; TCP media connects 0, reconnects 3, connect failures 0, frames skipped 2"
            ),
            "{}",
            a.line()
        );
        let udp = VideoCounters {
            tcp_reconnects: 0,
            tcp_frames_skipped: 0,
            ..a
        };
        assert!(!udp.line().contains("TCP"), "{}", udp.line());
        assert_eq!(b.to_json()["tcp_reconnects"], 6);
    }
}
