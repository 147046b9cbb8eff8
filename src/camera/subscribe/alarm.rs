//! The devices' own alarms (`--alarm-rate`, `--alarm-burst`) as a schedule with no state per
//! device, and how each alarm leaves: as a NOTIFY in each Alarm subscription of its device,
//! else as a MESSAGE to its registrar.
//!
//! The schedule counts from the run's start `t0` (not each device's start, so a burst is one
//! storm over the fleet). At a rate of `R` alarms per device an hour the period is
//! `P = 3600 s / R`, and device `k` of a fleet of `N` raises its alarms at
//! `t0 + k·P/N + m·P` (m = 0, 1, ...): each device exactly every `P`, the fleet's alarms evenly
//! spread over it. A burst of `n` at `T` has every device raise `n` alarms at `t0 + T`. A
//! worker's share of either is walked with one cursor (its devices in index order, round after
//! round), so nothing is kept per device. An alarm of a device that is not registered at its
//! time is not raised (counted); the others wait, in order, when every alarm MESSAGE slot is
//! taken (their lag shows it).

use super::body::{position, write_alarm};
use super::slot::{State, Txn};
use super::wire::{AlarmFrom, write_alarm_message};
use super::{Ctx, Device, Kind, SubConfig, SubTable, Transmit, What};
use crate::camera::{CameraConfig, Transport};
use crate::clock::{Span, Time};
use crate::gb::DeviceId;

/// Most alarms one call raises; the rest follow on the next pass (the wake-up is due at once).
const MOST_PER_PASS: usize = 4096;

/// How a fleet's devices raise alarms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alarms {
    /// Time between two alarms of one device; zero: none at a rate.
    pub period: Span,
    /// Every device raises this many at once at one time.
    pub burst: Option<Burst>,
}

/// An alarm storm: every device raises `count` alarms at once, `at` after the run's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Burst {
    /// Alarms per device.
    pub count: u32,
    /// When, from the run's start.
    pub at: Span,
}

impl Alarms {
    /// The period of `per_hour` alarms per device an hour (0 or less: none); whole
    /// milliseconds, at least 1.
    pub fn period_of(per_hour: f64) -> Span {
        if per_hour > 0.0 && per_hour.is_finite() {
            Span::from_millis(((3_600_000.0 / per_hour) as u64).max(1))
        } else {
            Span::ZERO
        }
    }

    /// True if any alarm is ever raised.
    pub fn is_on(&self) -> bool {
        self.period != Span::ZERO || self.burst.is_some_and(|b| b.count > 0)
    }
}

impl Burst {
    /// Reads `N at T` or `N@T` (`T` a duration such as `30s`, `2m`, `1500ms`; `N` at least 1).
    pub fn parse(text: &str) -> Result<Burst, String> {
        let bad =
            || format!("`{text}` is not `N at T` or `N@T` (N alarms per device, T such as 30s)");
        let (n, t) = text
            .split_once('@')
            .or_else(|| text.split_once(" at "))
            .ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!("`{text}`: N must be at least 1"));
        }
        let at: crate::profile::Span = t.trim().parse().map_err(|_| bad())?;
        Ok(Burst {
            count,
            at: Span::from_duration(at.0),
        })
    }
}

/// Where a worker is in its share of the schedule.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Schedule {
    /// The run's start; none before [`SubTable::start`].
    t0: Option<Time>,
    /// Rate: the round and the local device next to raise one.
    round: u64,
    next: u64,
    /// Burst: the local device next to raise, and how many it raised so far.
    burst_dev: u64,
    burst_done: u32,
}

impl Schedule {
    pub fn new(t0: Time) -> Schedule {
        Schedule {
            t0: Some(t0),
            ..Schedule::default()
        }
    }

    fn rate_due(&self, cfg: &SubConfig) -> Option<Time> {
        let t0 = self.t0?;
        let p = cfg.alarms.period.as_micros();
        if p == 0 || cfg.devices == 0 {
            return None;
        }
        let k = self.next * u64::from(cfg.workers.max(1)) + u64::from(cfg.worker);
        let offset = (u128::from(p) * u128::from(k) / u128::from(cfg.fleet.max(1))) as u64;
        let at = self.round.saturating_mul(p).saturating_add(offset);
        Some(t0 + Span::from_micros(at))
    }

    fn burst_due(&self, cfg: &SubConfig) -> Option<Time> {
        let b = cfg.alarms.burst?;
        (b.count > 0 && self.burst_dev < u64::from(cfg.devices)).then_some(self.t0? + b.at)
    }

    /// The next alarm: its due time, the local device, and whether it is the burst's.
    fn peek(&self, cfg: &SubConfig) -> Option<(Time, u64, bool)> {
        let rate = self.rate_due(cfg).map(|t| (t, self.next, false));
        let burst = self.burst_due(cfg).map(|t| (t, self.burst_dev, true));
        match (rate, burst) {
            (Some(r), Some(b)) => Some(if b.0 <= r.0 { b } else { r }),
            (r, b) => r.or(b),
        }
    }

    /// When the next alarm is due.
    pub fn next_due(&self, cfg: &SubConfig) -> Option<Time> {
        self.peek(cfg).map(|p| p.0)
    }

    fn advance(&mut self, cfg: &SubConfig, burst: bool) {
        if burst {
            self.burst_done += 1;
            if self.burst_done >= cfg.alarms.burst.map_or(0, |b| b.count) {
                self.burst_done = 0;
                self.burst_dev += 1;
            }
        } else {
            self.next += 1;
            if self.next >= u64::from(cfg.devices) {
                self.next = 0;
                self.round += 1;
            }
        }
    }
}

impl SubTable {
    /// Alarm number `sn` of `dev` into the table's body buffer: raised by one of its
    /// channels in turn (the device itself if it has none) at `due`.
    pub(super) fn alarm_body(&mut self, cfg: &CameraConfig, index: u32, id: &DeviceId, due: Time) {
        self.alarm_sn = self.alarm_sn.wrapping_add(1);
        let sn = self.alarm_sn;
        let channels = cfg.channels_of(index);
        let source = if channels == 0 {
            *id
        } else {
            id.channel(1 + sn % channels, channels)
        };
        let p = position(index, due);
        let charset = cfg.gb_version.charset();
        write_alarm(&mut self.body, charset, sn, &source, cfg.unix_ms(due), &p);
    }

    /// Raises every alarm due by `now`, as NOTIFYs in the device's Alarm subscriptions or as
    /// MESSAGEs while a slot is free. `devices` tells what the host knows of device `k` now.
    pub(super) fn raise_alarms(&mut self, now: Time, ctx: &mut Ctx<'_>) {
        let cfg = ctx.cfg;
        if self.halted || self.alarm_blocked {
            return;
        }
        for _ in 0..MOST_PER_PASS {
            let Some((due, j, burst)) = self.schedule.peek(&self.cfg) else {
                return;
            };
            if due > now {
                return;
            }
            let k = u32::try_from(self.fleet_index(j)).unwrap_or(u32::MAX);
            let dev = (ctx.devices)(k).filter(|d| d.online);
            let Some(dev) = dev else {
                self.counters.alarms_offline += 1;
                self.schedule.advance(&self.cfg, burst);
                continue;
            };
            let mut subscribed = false;
            let mut i = self.first_of(k);
            while let Some(s) = self.slots.get_mut(i as usize) {
                let next = s.dev_next;
                if s.state == State::Active && s.kind == Kind::Alarm {
                    if s.alarm_backlog == 0 {
                        s.alarm_due = due;
                    }
                    s.alarm_backlog = s.alarm_backlog.saturating_add(1);
                    subscribed = true;
                    self.pump(i as usize, now, cfg);
                }
                i = next;
            }
            if !subscribed && !self.send_alarm(now, due, &dev, ctx) {
                self.alarm_blocked = true;
                return;
            }
            self.counters.alarms += 1;
            self.schedule.advance(&self.cfg, burst);
        }
    }

    /// Sends an alarm of `dev` due at `due` as a MESSAGE to its registrar; false if no
    /// alarm slot is free.
    fn send_alarm(&mut self, now: Time, due: Time, dev: &Device, ctx: &mut Ctx<'_>) -> bool {
        let cfg = ctx.cfg;
        let Some(a) = self.alarm_free.pop().map(|a| a as usize) else {
            return false;
        };
        self.alarm_body(cfg, dev.index, &dev.id, due);
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let auth = self.reuse_credentials(dev, ctx);
        let from = AlarmFrom {
            device: dev,
            server_id: &cfg.server_id,
            domain: cfg.domain.as_bytes(),
            run_id: cfg.run_id ^ self.cfg.salt,
            user_agent: self.cfg.user_agent.as_bytes(),
        };
        let auth = auth.map(|h| (h, &self.auth[..]));
        let ids = (a, generation, generation, 1);
        write_alarm_message(&mut self.scratch, &from, ids, auth, &self.body);
        let slot = &mut self.alarm_slots[a];
        self.pool.release(slot.wire.take());
        slot.wire = Some(self.pool.put(&self.scratch));
        slot.generation = generation;
        slot.call = generation;
        slot.authed = false;
        slot.device = dev.index;
        slot.to = dev.server;
        slot.txn = Txn::start(due, now, dev.transport == Transport::Udp);
        self.counters.alarm_messages += 1;
        self.sends.push(Transmit {
            device: dev.index,
            to: dev.server,
            what: What::Alarm(a),
        });
        self.rearm_alarm(a);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_read_both_ways() {
        let b = Burst::parse("5 at 30s").unwrap();
        assert_eq!((b.count, b.at), (5, Span::from_secs(30)));
        assert_eq!(
            Burst::parse("2@1500ms").unwrap().at,
            Span::from_millis(1500)
        );
        for bad in ["", "5", "0@1s", "x@1s", "5@soon", "5 at"] {
            assert!(Burst::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_rate_spreads_a_fleet_evenly_and_repeats_each_period() {
        // 2 workers, 4 devices: worker 1 has fleet devices 1 and 3; 60 an hour = every 60 s.
        let cfg = SubConfig {
            workers: 2,
            worker: 1,
            devices: 2,
            fleet: 4,
            alarms: Alarms {
                period: Alarms::period_of(60.0),
                burst: Some(Burst {
                    count: 2,
                    at: Span::from_secs(20),
                }),
            },
            ..SubConfig::default()
        };
        let mut s = Schedule::new(Time::ZERO);
        let mut seen = vec![];
        for _ in 0..8 {
            let (t, j, burst) = s.peek(&cfg).unwrap();
            seen.push((t.as_secs(), j, burst));
            s.advance(&cfg, burst);
        }
        assert_eq!(
            seen,
            [
                (15, 0, false),
                (20, 0, true),
                (20, 0, true),
                (20, 1, true),
                (20, 1, true),
                (45, 1, false),
                (75, 0, false),
                (105, 1, false)
            ]
        );
        assert!(!Alarms::default().is_on());
        assert_eq!(Alarms::period_of(0.0), Span::ZERO);
    }
}
