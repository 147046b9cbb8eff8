//! One worker: a pinned thread with its own mio loop, its shard of cameras, its timer wheel,
//! its sockets and its stats. It only moves bytes and fires timers; every protocol decision is
//! the cameras'. Once a second it hands its interval's numbers to the reporter.
//!
//! It wakes when its next timer is due, to the microsecond rather than the poll timeout's
//! rounded-up millisecond: an [`Alarm`] (a timerfd in the same poll) is set for the next
//! wake-up, and the timeout stays as a backstop. A late wake-up would be counted in every
//! timer-started transaction's latency from its due time. Due times (the ramp's, the stop's,
//! the cameras' own) fall on the wheel's ticks, so the wheel fires them at their due time and
//! all those of one tick share a wake-up.

mod play;
mod receive;
mod subscribe;
mod tcp_media;
mod udp_media;

use super::io::{Io, SEND_QUEUE, pick_ip};
use crate::camera::driver::{Fleet, Host};
use crate::camera::{Camera, CameraConfig, Env, Outbox, Transport};
use crate::clock::{Clock, Span, Time};
use crate::net::alarm::Alarm;
use crate::net::batch::{RecvBatch, SendBatch};
use crate::net::udp;
use crate::profile::{Plan, Ramp};
use crate::stats::Snapshot;
use crate::stats::snapshot::counters_since;
use crate::timer::{TimerWheel, on_tick};
use crossbeam::channel::{Receiver, Sender};
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// What a worker tells the reporter.
#[derive(Debug)]
pub enum Msg {
    /// Sockets are set up; waiting for the start signal.
    Ready(usize),
    /// Setup failed; the run cannot start.
    Failed(usize, String),
    /// The numbers of interval `tick` (second `tick` after the start).
    Interval {
        /// Worker index.
        worker: usize,
        /// Interval number from 1.
        tick: u64,
        /// Measurements of that second.
        snap: Box<Snapshot>,
    },
    /// The worker finished; the numbers since its last interval.
    Done {
        /// Worker index.
        worker: usize,
        /// Measurements of the last partial interval.
        snap: Box<Snapshot>,
    },
}

/// Everything a worker needs to start.
pub struct Setup {
    /// This worker's index.
    pub index: usize,
    /// How many workers share the fleet.
    pub workers: usize,
    /// The run.
    pub plan: Arc<Plan>,
    /// The registrar.
    pub target: SocketAddr,
    /// Source address when the plan names none.
    pub default_ip: IpAddr,
    /// The clock all workers share (one zero, one Unix time at it).
    pub clock: Clock,
    /// When the run's stop began (µs on the clock; `u64::MAX` while running): the ramp ends
    /// and cameras unregister on the stop's schedule, due from that instant.
    pub stop: Arc<AtomicU64>,
    /// Set when the run must end at once (a second interrupt): in-flight transactions are
    /// abandoned, nothing more is sent.
    pub quit: Arc<AtomicBool>,
    /// Reports to the reporter.
    pub tx: Sender<Msg>,
    /// The start time, sent once every worker is ready.
    pub go: Receiver<Time>,
    /// Core to pin to.
    pub core: Option<core_affinity::CoreId>,
    /// Snapshots the reporter is done with, to reuse instead of allocating a fresh one a
    /// second.
    pub spent: Receiver<Box<Snapshot>>,
}

const MAX_STARTS_PER_TURN: usize = 2000;
/// The poll token of the worker's [`Alarm`] (socket tokens are slot or socket indices).
const ALARM: Token = Token(usize::MAX);

/// Runs a worker to completion on the current thread.
pub fn run(setup: Setup) {
    if let Some(core) = setup.core {
        core_affinity::set_for_current(core);
    }
    let tx = setup.tx.clone();
    let index = setup.index;
    match Worker::new(&setup) {
        Ok(mut w) => {
            if tx.send(Msg::Ready(index)).is_err() {
                return;
            }
            let Ok(t0) = setup.go.recv() else { return };
            w.run(t0);
        }
        Err(e) => {
            let _ = tx.send(Msg::Failed(index, e.to_string()));
        }
    }
}

struct Worker {
    index: usize,
    workers: usize,
    plan: Arc<Plan>,
    cfg: CameraConfig,
    target: SocketAddr,
    clock: Clock,
    stop: Arc<AtomicU64>,
    quit: Arc<AtomicBool>,
    tx: Sender<Msg>,
    cams: Vec<Camera>,
    /// Which of the cameras a request to a channel ID is for (shared sockets only).
    routes: crate::camera::routes::ChannelRoutes,
    /// The cameras' INVITE server and the streams it started.
    play: play::Play,
    /// The cameras' subscriptions and alarms.
    subs: crate::camera::subscribe::SubTable,
    /// The subscription table's timer key (after the play side's).
    subs_key: u32,
    /// The table's totals at the last interval.
    subs_seen: crate::camera::subscribe::SubCounters,
    out: Outbox,
    io: Io,
    /// Wakes the poll on time; `None` if the kernel would not give one (the poll timeout,
    /// whole milliseconds rounded up, then decides alone).
    alarm: Option<Alarm>,
    spent: Receiver<Box<Snapshot>>,
    counters_seen: crate::camera::Counters,
    /// The play side's totals at the last interval.
    video_seen: crate::stats::video::VideoCounters,
    /// Where UDP datagrams are received, a batch per system call; lent out while its
    /// datagrams are handled.
    rb: Option<RecvBatch>,
    fired: Vec<u32>,
    ready: Vec<(Token, bool, bool, bool)>,
    t0: Time,
    next_start: usize,
    cpu_seen: Duration,
}

impl Worker {
    fn new(s: &Setup) -> io::Result<Worker> {
        let plan = s.plan.clone();
        let n_total = plan.ids.len();
        let shard: Vec<u64> = (s.index as u64..n_total).step_by(s.workers).collect();
        let mut cfg = plan.camera.clone();
        cfg.epoch_unix_ms = s.clock.zero_unix_ms();
        let cams: Vec<Camera> = shard
            .iter()
            .filter_map(|&k| Some(Camera::new(plan.ids.get(k)?, k as u32, &cfg)))
            .collect();
        let poll = Poll::new()?;
        let cps = plan.cameras_per_socket.max(1) as usize;
        // A device file that names transports may mix them: UDP sockets for its UDP cameras
        // only.
        let (udp_rank, udp_slots) = if cfg
            .identities
            .as_ref()
            .is_some_and(|d| d.names_transports())
        {
            crate::engine::io::udp_ranks(shard.iter().map(|&k| cfg.transport_of(k as u32)))
        } else {
            (Vec::new(), Vec::new())
        };
        let udp_cameras = match (udp_rank.is_empty(), cfg.transport) {
            (false, _) => udp_slots.len(),
            (true, Transport::Udp) => cams.len(),
            (true, Transport::Tcp) => 0,
        };
        let mut udp = Vec::new();
        {
            let sockets = udp_cameras.div_ceil(cps);
            for i in 0..sockets {
                let ip = pick_ip(&plan, s.default_ip, s.index + i * s.workers);
                let connect = (cps == 1).then_some(s.target);
                let mut sock = udp::open(ip, connect, cps > 1).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot open UDP socket {i} on {ip}: {e}"))
                })?;
                poll.registry()
                    .register(&mut sock.sock, Token(i), Interest::READABLE)?;
                udp.push(sock);
            }
        }
        let routes = match cps {
            1 => crate::camera::routes::ChannelRoutes::default(),
            _ => crate::camera::routes::ChannelRoutes::new(&plan.ids, cfg.channels, &shard),
        };
        let alarm = Alarm::new(poll.registry(), ALARM, &s.clock).ok();
        let n = cams.len();
        let play = play::Play::new(
            n,
            &plan.video,
            pick_ip(&plan, s.default_ip, s.index),
            (n as u32, udp.len() + n),
            cfg.run_id ^ (s.index as u32).wrapping_mul(0x9E37_79B9),
        )?;
        Ok(Worker {
            index: s.index,
            workers: s.workers,
            target: s.target,
            clock: s.clock,
            stop: s.stop.clone(),
            quit: s.quit.clone(),
            tx: s.tx.clone(),
            io: Io {
                poll,
                udp,
                tcp: (0..n).map(|_| None).collect(),
                generation: vec![0; n],
                wheel: TimerWheel::new(n + play.keys() + 1, Time::ZERO),
                snap: Box::default(),
                refused: Vec::new(),
                sendq: SendBatch::new(SEND_QUEUE),
                cps,
                udp_rank,
                udp_slots,
                plan: plan.clone(),
                default_ip: s.default_ip,
                index: s.index,
                workers: s.workers,
            },
            subs: subscribe::table(&cfg, (s.index, s.workers), n, n_total),
            subs_key: (n + play.keys()) as u32,
            subs_seen: crate::camera::subscribe::SubCounters::default(),
            cfg,
            cams,
            routes,
            play,
            out: Outbox::default(),
            alarm,
            spent: s.spent.clone(),
            counters_seen: crate::camera::Counters::default(),
            video_seen: crate::stats::video::VideoCounters::default(),
            rb: Some(RecvBatch::default()),
            fired: Vec::new(),
            ready: Vec::new(),
            t0: Time::ZERO,
            next_start: 0,
            cpu_seen: Duration::ZERO,
            plan,
        })
    }

    fn now(&self) -> Time {
        self.clock.now()
    }

    /// When camera slot `j` is due to start: on the ramp, rounded up to the wheel's tick like
    /// every due time the cameras set themselves, so the starts of one tick go out together.
    fn due(&self, j: usize) -> Time {
        on_tick(match self.plan.ramp {
            Ramp::Burst => self.t0,
            Ramp::Rate(r) => {
                let k = (j * self.workers + self.index) as f64;
                self.t0 + Span::from_secs_f64(k / r)
            }
        })
    }

    /// When the `j`-th of this worker's cameras is told to stop, for a stop that began at
    /// `since`, on the plan's stop schedule.
    fn stop_due(&self, since: Time, j: usize) -> Time {
        on_tick(
            since
                + stop_offset(
                    j,
                    self.workers,
                    self.plan.stop_ramp,
                    self.next_start * self.workers,
                    self.plan.grace,
                ),
        )
    }

    fn run(&mut self, t0: Time) {
        self.t0 = t0;
        self.subs.start(t0);
        self.subs_actions();
        self.cpu_seen = crate::stats::this_thread_cpu();
        let mut events = Events::with_capacity(1024);
        let mut tick = 1u64;
        let mut stopping = None;
        let mut next_stop = 0usize;
        let mut grace_end = Time::MAX;
        let mut next_check = Time::ZERO;
        let mut streams_ended = false;
        loop {
            let now = self.now();
            // The end of the duration is known here: the stop begins at it without waiting for
            // the reporter to notice; an interrupt (or a failure) comes from the reporter.
            let planned_end = self.t0 + Span::from_duration(self.plan.duration);
            let stop_at = self.stop.load(Ordering::Relaxed);
            if stopping.is_none() && stop_at != u64::MAX {
                stopping = Some(Time::from_micros(stop_at).min(now));
            } else if stopping.is_none() && now >= planned_end {
                stopping = Some(planned_end);
            }
            if stopping.is_some() && !streams_ended {
                streams_ended = true;
                self.end_streams();
                self.subs.halt();
                self.subs_actions();
            }
            if let Some(since) = stopping
                && next_stop < self.next_start
            {
                while next_stop < self.next_start && self.stop_due(since, next_stop) <= now {
                    let due = self.stop_due(since, next_stop);
                    self.call(next_stop, None, |c, now, env| c.handle_stop(now, due, env));
                    next_stop += 1;
                }
                self.drain_refused();
                if next_stop == self.next_start {
                    // The grace period runs from the last stop sent.
                    grace_end = now + Span::from_duration(self.plan.grace);
                }
            }
            if self.quit.load(Ordering::Relaxed) {
                for slot in 0..self.next_start {
                    self.call(slot, None, |c, now, env| c.handle_abort(now, env));
                }
                self.finish();
                return;
            }
            let stopping_all = stopping.is_some() && next_stop == self.next_start;
            if stopping_all && now >= next_check {
                next_check = now + Span::from_millis(50);
                let all_done = self.cams[..self.next_start].iter().all(|c| c.is_stopped());
                if all_done || now >= grace_end {
                    if !all_done {
                        for slot in 0..self.next_start {
                            self.call(slot, None, |c, now, env| c.handle_abort(now, env));
                        }
                    }
                    self.finish();
                    return;
                }
            }
            if stopping.is_none() {
                self.start_due(now);
            }
            self.fire_timers(now);
            if now >= self.t0 + Span::from_secs(tick) {
                self.send_interval(tick);
                tick += 1;
            }
            let mut wake = self.t0 + Span::from_secs(tick);
            if let Some(t) = self.io.wheel.next_deadline() {
                wake = wake.min(t);
            }
            if stopping.is_none() {
                wake = wake.min(planned_end);
            }
            if stopping.is_none() && self.next_start < self.cams.len() {
                wake = wake.min(self.due(self.next_start));
            }
            if let Some(since) = stopping
                && next_stop < self.next_start
            {
                wake = wake.min(self.stop_due(since, next_stop));
            }
            self.flush_sends();
            let now = self.now();
            if let Some(alarm) = &mut self.alarm
                && alarm.wake_by(wake, now).is_err()
            {
                self.alarm = None;
            }
            let timeout = wake.since(now).min(Span::from_millis(100)).to_duration();
            if let Err(e) = self.io.poll.poll(&mut events, Some(timeout))
                && e.kind() != io::ErrorKind::Interrupted
            {
                let _ = self
                    .tx
                    .send(Msg::Failed(self.index, format!("poll failed: {e}")));
                return;
            }
            self.ready.clear();
            for ev in events.iter().filter(|e| e.token() != ALARM) {
                self.ready.push((
                    ev.token(),
                    ev.is_readable(),
                    ev.is_writable(),
                    ev.is_error() || ev.is_read_closed(),
                ));
            }
            for i in 0..self.ready.len() {
                let (token, readable, writable, closed) = self.ready[i];
                // UDP sockets first, then the cameras' TCP connections (see `Io::tcp_token`),
                // then the play sessions' media sockets.
                match token.0.checked_sub(self.io.udp.len()) {
                    None => self.udp_readable(token.0),
                    Some(slot) if slot < self.cams.len() => {
                        self.tcp_event(slot, readable, writable, closed)
                    }
                    Some(slot) => {
                        self.media_event(slot - self.cams.len(), readable, writable, closed)
                    }
                }
            }
        }
    }

    fn start_due(&mut self, now: Time) {
        let mut started = 0;
        while self.next_start < self.cams.len() && started < MAX_STARTS_PER_TURN {
            let due = self.due(self.next_start);
            if due > now {
                break;
            }
            let slot = self.next_start;
            self.next_start += 1;
            started += 1;
            self.call(slot, None, |c, now, env| c.handle_start(now, due, env));
            self.drain_refused();
        }
    }

    fn fire_timers(&mut self, now: Time) {
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        self.io.wheel.advance(now, &mut fired);
        for &slot in &fired {
            if self.play_timer(slot, now) || self.subs_timer(slot, now) {
                continue;
            }
            self.call(slot as usize, None, |c, now, env| {
                c.handle_timeout(now, env)
            });
        }
        self.fired = fired;
        self.drain_refused();
    }

    /// Runs one camera handler through the shared driver, which carries out what it asked.
    fn call(
        &mut self,
        slot: usize,
        source: Option<SocketAddr>,
        f: impl FnOnce(&mut Camera, Time, &mut Env<'_>),
    ) {
        let now = self.now();
        let local = self.io.local(slot);
        let mut fleet = Fleet {
            cams: &mut self.cams,
            cfg: &self.cfg,
            out: &mut self.out,
            target: self.target,
        };
        fleet.call(&mut self.io, slot, now, local, source, f);
        if self.cams.get(slot).is_some_and(Camera::is_rebooting) {
            self.play_device_down(slot, now);
            self.subs_device_down(slot, now);
        }
    }

    /// Sends what the cameras queued for shared sockets, before the worker waits: those
    /// whose datagrams were refused learn it (and what they send then goes out too).
    fn flush_sends(&mut self) {
        // A refused camera waits before it sends again, so this ends at once; the bound only
        // keeps a surprise from spinning.
        self.play.flush();
        for _ in 0..4 {
            self.io.flush_udp();
            if self.io.refused.is_empty() {
                break;
            }
            self.drain_refused();
        }
    }

    /// Cameras whose transport failed during the last calls learn it now.
    fn drain_refused(&mut self) {
        while let Some(slot) = self.io.refused.pop() {
            self.io.close(slot);
            self.call(slot, None, |c, now, env| c.handle_transport_error(now, env));
        }
    }

    fn gauges(&self) -> crate::stats::Gauges {
        let started = &self.cams[..self.next_start];
        let mut g = crate::stats::Gauges {
            cameras: self.cams.len() as u64,
            started: started.len() as u64,
            streams: (self.play.counters.streams_started)
                .saturating_sub(self.play.counters.streams_ended),
            subscriptions: self.subs.active() as u64,
            ..crate::stats::Gauges::default()
        };
        for c in started {
            g.registered += u64::from(c.is_registered());
            g.stopped += u64::from(c.is_stopped());
            g.registering += u64::from(c.is_registering());
            g.in_flight += u64::from(c.in_flight());
        }
        g
    }

    fn take_interval(&mut self) -> Box<Snapshot> {
        let mut snap = crate::stats::handover::swap_out(&mut self.io.snap, &self.spent);
        snap.add_counters(&counters_since(&self.out.counters, &self.counters_seen));
        self.counters_seen = self.out.counters;
        let video = self.play.totals();
        snap.video = video.since(&self.video_seen);
        self.video_seen = video;
        let subs = *self.subs.counters();
        snap.subs = subs.since(&self.subs_seen);
        self.subs_seen = subs;
        snap.gauges = self.gauges();
        let cpu = crate::stats::this_thread_cpu();
        snap.worker_cpu = cpu.saturating_sub(self.cpu_seen);
        self.cpu_seen = cpu;
        snap
    }

    fn send_interval(&mut self, tick: u64) {
        let snap = self.take_interval();
        let _ = self.tx.send(Msg::Interval {
            worker: self.index,
            tick,
            snap,
        });
    }

    fn finish(&mut self) {
        let now = self.now();
        self.subs.abandon(now);
        self.subs_actions();
        self.flush_sends();
        for slot in 0..self.io.tcp.len() {
            self.io.close(slot);
        }
        let snap = self.take_interval();
        let _ = self.tx.send(Msg::Done {
            worker: self.index,
            snap,
        });
    }
}

/// How long after the stop began the `j`-th camera of one of `workers` workers is told to
/// stop: at the stop ramp's rate, but never slower than sending all `started` unregistrations
/// within `grace`, so an interrupted run with a slow ramp still ends in at most twice the grace.
fn stop_offset(j: usize, workers: usize, ramp: Ramp, started: usize, grace: Duration) -> Span {
    let Ramp::Rate(rate) = ramp else {
        return Span::ZERO;
    };
    let grace_s = grace.as_secs_f64();
    if grace_s <= 0.0 {
        return Span::ZERO;
    }
    let rate = rate.max(started as f64 / grace_s);
    Span::from_secs_f64(j as f64 * workers as f64 / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_follows_the_ramp_rate_within_the_grace() {
        const S: Span = Span::from_secs(1);
        const MS: Span = Span::from_millis(1);
        let g10 = Duration::from_secs(10);
        // 2,000 cameras at 1,000/s on one worker: the 1,000th stops 1 s after the first.
        assert_eq!(stop_offset(1000, 1, Ramp::Rate(1000.0), 2000, g10), S);
        // Two workers share the rate: each one's 500th camera is the fleet's 1,000th.
        assert_eq!(stop_offset(500, 2, Ramp::Rate(1000.0), 2000, g10), S);
        // 100,000 cameras at 100/s would take 1,000 s: sped up to fit in the 10 s grace.
        let last = stop_offset(99_999, 1, Ramp::Rate(100.0), 100_000, g10);
        assert!((9_999 * MS..=10 * S).contains(&last), "{last:?}");
        assert_eq!(stop_offset(7, 1, Ramp::Burst, 100, g10), Span::ZERO);
        assert_eq!(
            stop_offset(7, 1, Ramp::Rate(1.0), 100, Duration::ZERO),
            Span::ZERO
        );
    }
}
