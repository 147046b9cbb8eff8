//! Which of a device's channels are on line at a time, as a pure function of the device, the
//! channel and `now` (`--channel-flap-rate`).
//!
//! A device with a flap period `P` has one *flap* every `P`, starting at a phase of its own
//! (spread over the fleet by its index and the run): flap `k` starts at
//! `t_k = phase + k·P`, takes one of its channels off line, and brings it back at
//! `t_k + P/2`. So at any time at most one channel of a device is off line, and which one, and
//! when the next change comes, follow from `(index, now)` alone. Each flap has a cause, the
//! GB/T 28181-2022 Catalog event that reports it ([`Outage`]): mostly the channel going off
//! line (`OFF`), sometimes its video lost (`VLOST`) or a fault (`DEFECT`); all three leave the
//! channel's status `OFF`, as wvp-GB28181-pro reads them, and the end of each is `ON`.
//!
//! Why a function and not state: the Catalog answer, the Catalog NOTIFY of a subscription and
//! the keepalive must agree on a channel's status, and a fleet of a million devices with
//! thousands of channels each cannot keep a status bit per channel per camera. Computing it
//! costs a hash, and there is nothing to keep in step.
//!
//! What it never does: read a clock (`now` is given), allocate, or decide anything about the
//! messages that report a change.

use crate::clock::{Span, Time};

/// How a fleet's channels flap: one flap per device every `period` (none when zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flap {
    /// Time between two flaps of one device; zero: channels never go off line.
    pub period: Span,
    /// Mixed into each device's phase and channel choice, so two runs flap differently.
    pub seed: u32,
}

/// Why a channel is off line: the 2022 Catalog event (`<Event>`) that reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Off line (`OFF`): seven flaps in ten.
    Off,
    /// Video lost (`VLOST`): two in ten.
    VideoLost,
    /// A fault (`DEFECT`): one in ten.
    Defect,
}

impl Outage {
    /// The `<Event>` text that reports it.
    pub fn event(self) -> &'static [u8] {
        match self {
            Outage::Off => b"OFF",
            Outage::VideoLost => b"VLOST",
            Outage::Defect => b"DEFECT",
        }
    }
}

/// A change of one channel's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// When it happens.
    pub at: Time,
    /// The channel (1-based).
    pub channel: u32,
    /// True: back on line; false: off line.
    pub online: bool,
    /// Why the channel is (or was, when it comes back) off line.
    pub cause: Outage,
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's finaliser: neighbouring inputs give unrelated outputs.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Flap {
    /// Flapping `per_hour` times per device an hour (0 or less: never); periods are whole
    /// milliseconds, at least 2.
    pub fn per_hour(per_hour: f64, seed: u32) -> Flap {
        let period = if per_hour > 0.0 && per_hour.is_finite() {
            Span::from_millis(((3_600_000.0 / per_hour) as u64).max(2))
        } else {
            Span::ZERO
        };
        Flap { period, seed }
    }

    /// True if channels ever flap.
    pub fn is_on(&self) -> bool {
        self.period != Span::ZERO
    }

    fn period_us(&self) -> u64 {
        self.period.as_micros()
    }

    fn phase_us(&self, index: u32) -> u64 {
        mix(u64::from(index) << 32 | u64::from(self.seed)) % self.period_us().max(1)
    }

    /// The channel (1..=`channels`) flap `k` of device `index` takes off line.
    fn channel_of(&self, index: u32, k: u64, channels: u32) -> u32 {
        let h = mix(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ (u64::from(index) << 20)
            ^ u64::from(self.seed));
        1 + (h % u64::from(channels.max(1))) as u32
    }

    /// The cause of flap `k` of device `index`.
    fn outage_of(&self, index: u32, k: u64) -> Outage {
        let h = mix(k.wrapping_mul(0xd6e8_feb8_6659_fd93)
            ^ u64::from(index)
            ^ (u64::from(self.seed) << 32));
        match h % 10 {
            0 => Outage::Defect,
            1 | 2 => Outage::VideoLost,
            _ => Outage::Off,
        }
    }

    /// The `<Event>` of a Catalog NOTIFY reporting device `index`'s change at `at` (a
    /// [`Change::at`]): `ON` when a channel came back, else its outage's event.
    pub fn event_at(&self, index: u32, at: Time, online: bool) -> &'static [u8] {
        let p = self.period_us();
        if online || p == 0 {
            return b"ON";
        }
        let k = at.as_micros().saturating_sub(self.phase_us(index)) / p;
        self.outage_of(index, k).event()
    }

    /// The channel of device `index` (of `channels`) that is off line at `now`, if any.
    pub fn offline(&self, index: u32, channels: u32, now: Time) -> Option<u32> {
        let p = self.period_us();
        if p == 0 || channels == 0 {
            return None;
        }
        let since = now.as_micros().checked_sub(self.phase_us(index))?;
        let (k, within) = (since / p, since % p);
        (within < p / 2).then(|| self.channel_of(index, k, channels))
    }

    /// True if channel `channel` of device `index` (of `channels`) is on line at `now`.
    pub fn online(&self, index: u32, channel: u32, channels: u32, now: Time) -> bool {
        self.offline(index, channels, now) != Some(channel)
    }

    /// The first change of device `index`'s channels strictly after `now`; none if they never
    /// flap.
    pub fn next_change(&self, index: u32, channels: u32, now: Time) -> Option<Change> {
        let p = self.period_us();
        if p == 0 || channels == 0 {
            return None;
        }
        let phase = self.phase_us(index);
        let t = now.as_micros();
        let (k, off) = if t < phase {
            (0, true)
        } else {
            let (k, within) = ((t - phase) / p, (t - phase) % p);
            if within < p / 2 {
                (k, false)
            } else {
                (k + 1, true)
            }
        };
        let start = phase.saturating_add(k.saturating_mul(p));
        let at = if off { start } else { start + p / 2 };
        Some(Change {
            at: Time::from_micros(at),
            channel: self.channel_of(index, k, channels),
            online: !off,
            cause: self.outage_of(index, k),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Time {
        Time::from_millis(v)
    }

    #[test]
    fn never_flaps_without_a_rate() {
        let f = Flap::per_hour(0.0, 7);
        assert!(!f.is_on());
        assert_eq!(f.offline(3, 16, ms(1_000_000)), None);
        assert_eq!(f.next_change(3, 16, ms(0)), None);
        assert_eq!(Flap::per_hour(f64::NAN, 1).period, Span::ZERO);
    }

    #[test]
    fn changes_alternate_and_agree_with_the_status() {
        // 60 an hour: one flap a minute, off for 30 s.
        let f = Flap::per_hour(60.0, 11);
        assert_eq!(f.period, Span::from_secs(60));
        for index in [0u32, 1, 99, 12_345] {
            let mut now = Time::ZERO;
            let mut last_online = None;
            for _ in 0..20 {
                let c = f.next_change(index, 8, now).unwrap();
                assert!(c.at > now);
                assert!((1..=8).contains(&c.channel));
                // Nothing changes before it, and it has happened at its time.
                let before = Time::from_micros(c.at.as_micros() - 1);
                assert_eq!(f.online(index, c.channel, 8, before), !c.online);
                assert_eq!(f.online(index, c.channel, 8, c.at), c.online);
                // Off and on again, in turn, 30 s apart once started.
                if let Some(prev) = last_online {
                    assert_ne!(prev, c.online);
                    assert_eq!(c.at.since(now), Span::from_secs(30));
                }
                last_online = Some(c.online);
                now = c.at;
            }
        }
    }

    #[test]
    fn at_most_one_channel_is_off_and_every_channel_flaps() {
        let f = Flap::per_hour(3600.0, 5);
        let mut seen = [false; 5];
        for s in 0..2_000u64 {
            let now = Time::from_millis(s * 250);
            let off: Vec<u32> = (1..=4).filter(|&c| !f.online(9, c, 4, now)).collect();
            assert!(off.len() <= 1, "{off:?} off at {s}");
            if let Some(&c) = off.first() {
                seen[c as usize] = true;
            }
        }
        assert_eq!(seen, [false, true, true, true, true]);
    }

    #[test]
    fn outages_have_the_2022_causes_and_the_event_names_them() {
        let f = Flap::per_hour(3600.0, 21);
        let (mut now, mut counts) = (Time::ZERO, [0u32; 3]);
        for _ in 0..2_000 {
            let c = f.next_change(4, 3, now).unwrap();
            let event = f.event_at(4, c.at, c.online);
            if c.online {
                assert_eq!(event, b"ON");
            } else {
                assert_eq!(event, c.cause.event());
                counts[c.cause as usize] += 1;
            }
            now = c.at;
        }
        // About 7:2:1 over a thousand outages.
        let [off, vlost, defect] = counts;
        assert_eq!(off + vlost + defect, 1_000);
        assert!((600..800).contains(&off), "{counts:?}");
        assert!((120..280).contains(&vlost), "{counts:?}");
        assert!((50..160).contains(&defect), "{counts:?}");
        assert_eq!(Flap::default().event_at(4, Time::ZERO, false), b"ON");
    }

    #[test]
    fn devices_start_at_their_own_phase() {
        let f = Flap::per_hour(1.0, 3);
        let firsts: Vec<Time> = (0..8)
            .map(|i| f.next_change(i, 2, Time::ZERO).unwrap().at)
            .collect();
        let mut sorted = firsts.clone();
        sorted.dedup();
        assert!(sorted.len() >= 7, "{firsts:?}");
        assert!(firsts.iter().all(|t| t.as_micros() < 3_600_000_000));
    }
}
