//! The load generator's I/O: one pinned worker per core, each a mio loop over its shard of
//! cameras; the calling thread merges their per-second numbers and decides when to stop.
//!
//! Nothing is shared on the hot path: each worker owns its cameras, sockets, timers and
//! histograms, and hands an interval's snapshot to the reporter over a channel once a second.

pub mod io;
pub mod worker;

use crate::clock::{Clock, Span, Time};
use crate::profile::Plan;
use crate::stats::Snapshot;
use crossbeam::channel;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;
use worker::Msg;

/// How the caller asks a run to end early, shared with a signal handler: asked once, the
/// run stops as at the end of its duration (cameras unregister, answers are awaited within
/// the grace); asked again, it ends at once and counts what was in flight as pending.
#[derive(Debug, Default)]
pub struct Stop(AtomicU8);

impl Stop {
    /// Asks once more (Ctrl-C, SIGTERM, or a test); returns how many times it was asked.
    pub fn request(&self) -> u8 {
        let n = self.0.load(Ordering::Relaxed).saturating_add(1);
        self.0.store(n, Ordering::Relaxed);
        n
    }

    /// How many times the stop was asked for.
    pub fn requests(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    /// Asked at least once: stop gracefully.
    pub fn is_requested(&self) -> bool {
        self.requests() >= 1
    }

    /// Asked twice or more: end now.
    pub fn is_urgent(&self) -> bool {
        self.requests() >= 2
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The planned duration elapsed.
    Duration,
    /// Ctrl-C, SIGTERM or the caller's [`Stop`]: the stop ran its course.
    Interrupted,
    /// Asked to stop a second time: ended at once, in-flight transactions counted as pending.
    Quit,
}

impl StopReason {
    /// Lowercase name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Duration => "duration elapsed",
            StopReason::Interrupted => "interrupted",
            StopReason::Quit => "interrupted twice: quit at once",
        }
    }

    /// True when the user (or the caller) cut the run short.
    pub fn interrupted(self) -> bool {
        self != StopReason::Duration
    }
}

/// The merged numbers of one second of the run, as the reporter sees them; the last one of a
/// run holds what ended after its last whole second (the stop's tail, a partial second), so
/// the intervals add up to the run's totals.
pub struct Interval<'a> {
    /// Seconds since the start.
    pub t_s: f64,
    /// Measurements of that second, all workers merged (gauges at its end).
    pub snap: &'a Snapshot,
}

/// What a finished run measured.
#[derive(Debug)]
pub struct RunResult {
    /// Every transaction of the run, merged.
    pub total: Snapshot,
    /// From the start signal to the last worker's end.
    pub elapsed: Duration,
    /// Why it stopped.
    pub reason: StopReason,
}

/// Runs `plan` against `target` until its duration elapses or `interrupt` asks it to stop,
/// calling `on_interval` once a second with the merged numbers of that second, and once at
/// the end with the partial last one.
pub fn run(
    plan: &Plan,
    target: SocketAddr,
    interrupt: &Stop,
    mut on_interval: impl FnMut(Interval<'_>),
) -> Result<RunResult, String> {
    let workers = plan.cores.max(1).min(plan.ids.len().max(1) as usize);
    let (udp, tcp) = plan.transport_counts();
    let sockets = udp.div_ceil(u64::from(plan.cameras_per_socket.max(1))) + tcp;
    crate::net::limits::check(sockets, tcp > 0, &plan.local_ips, plan.cameras_per_socket)
        .map_err(|e| e.to_string())?;
    let default_ip =
        crate::net::udp::route_source(target).map_err(|e| format!("no route to {target}: {e}"))?;
    let plan = Arc::new(plan.clone());
    let clock = Clock::start();
    // When the stop began (µs on the run's clock), or `u64::MAX` while running: the stop's
    // schedule, and the unregistrations' due times, count from it.
    let stop = Arc::new(AtomicU64::new(u64::MAX));
    let quit = Arc::new(AtomicBool::new(false));
    let (tx, rx) = channel::unbounded::<Msg>();
    // Interval snapshots go back to the workers once merged (a few spare per worker).
    let (spent_tx, spent_rx) = channel::bounded::<Box<Snapshot>>(2 * workers + 2);
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut gos = Vec::new();
    let mut handles = Vec::new();
    for index in 0..workers {
        let (go_tx, go_rx) = channel::bounded::<Time>(1);
        gos.push(go_tx);
        let setup = worker::Setup {
            index,
            workers,
            plan: plan.clone(),
            target,
            default_ip,
            clock,
            stop: stop.clone(),
            quit: quit.clone(),
            tx: tx.clone(),
            go: go_rx,
            core: (!cores.is_empty()).then(|| cores[index % cores.len()]),
            spent: spent_rx.clone(),
        };
        let h = std::thread::Builder::new()
            .name(format!("gbswarm-w{index}"))
            .spawn(move || worker::run(setup))
            .map_err(|e| format!("cannot start worker thread: {e}"))?;
        handles.push(h);
    }
    drop(tx);
    let stop_all = |gos: Vec<channel::Sender<Time>>, handles: Vec<std::thread::JoinHandle<()>>| {
        drop(gos);
        for h in handles {
            let _ = h.join();
        }
    };
    let mut ready = 0;
    while ready < workers {
        match rx.recv() {
            Ok(Msg::Ready(_)) => ready += 1,
            Ok(Msg::Failed(w, e)) => {
                stop_all(gos, handles);
                return Err(format!("worker {w}: {e}"));
            }
            Ok(_) => {}
            Err(_) => {
                stop_all(gos, handles);
                return Err("a worker ended during setup".into());
            }
        }
    }
    let t0 = clock.now() + Span::from_millis(1);
    for g in &gos {
        let _ = g.send(t0);
    }
    let deadline = t0 + Span::from_duration(plan.duration);
    let mut reason = None;
    let mut total = Snapshot::default();
    let mut pending: BTreeMap<u64, (usize, Box<Snapshot>)> = BTreeMap::new();
    let mut done = 0;
    let mut failure = None;
    let mut final_gauges = crate::stats::Gauges::default();
    // What ended after the last whole second every worker reported: the stop's tail.
    let mut tail = Snapshot::default();
    let mut last_tick = 0;
    while done < workers {
        if interrupt.is_urgent() && reason != Some(StopReason::Quit) {
            reason = Some(StopReason::Quit);
            begin_stop(&stop, clock.now());
            quit.store(true, Ordering::Relaxed);
        }
        if reason.is_none() {
            if interrupt.is_requested() {
                reason = Some(StopReason::Interrupted);
                begin_stop(&stop, clock.now());
            } else if clock.now() >= deadline {
                reason = Some(StopReason::Duration);
                // Due at the deadline, however late this loop noticed it.
                begin_stop(&stop, deadline);
            }
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Msg::Interval { tick, snap, .. }) => {
                match pending.entry(tick) {
                    Entry::Vacant(v) => {
                        v.insert((1, snap));
                    }
                    Entry::Occupied(mut o) => {
                        let (n, merged) = o.get_mut();
                        *n += 1;
                        merged.merge(&snap);
                        let _ = spent_tx.try_send(snap);
                    }
                }
                while let Some(first) = pending.first_entry() {
                    if first.get().0 < workers {
                        break;
                    }
                    let (tick, (_, snap)) = first.remove_entry();
                    last_tick = tick;
                    // Gauges summed into the total here are replaced by the final ones.
                    total.merge(&snap);
                    on_interval(Interval {
                        t_s: tick as f64,
                        snap: &snap,
                    });
                    let _ = spent_tx.try_send(snap);
                }
            }
            Ok(Msg::Done { snap, .. }) => {
                done += 1;
                final_gauges = final_gauges.plus(snap.gauges);
                tail.merge(&snap);
            }
            Ok(Msg::Failed(w, e)) => {
                failure = Some(format!("worker {w}: {e}"));
                begin_stop(&stop, clock.now());
            }
            Ok(Msg::Ready(_)) => {}
            Err(channel::RecvTimeoutError::Timeout) => {}
            Err(channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    let elapsed = clock.now().since(t0).to_duration();
    // Intervals some worker never completed (it finished first) count in the tail, which is
    // reported as one last (partial) second, so the seconds add up to the totals.
    for (_, (_, snap)) in pending {
        tail.merge(&snap);
    }
    tail.gauges = final_gauges;
    total.merge(&tail);
    total.gauges = final_gauges;
    on_interval(Interval {
        t_s: (last_tick + 1) as f64,
        snap: &tail,
    });
    stop_all(gos, handles);
    if let Some(f) = failure {
        return Err(f);
    }
    Ok(RunResult {
        total,
        elapsed,
        reason: reason.unwrap_or(StopReason::Duration),
    })
}

/// Tells the workers the stop began at `at` (the first time only).
fn begin_stop(stop: &AtomicU64, at: Time) {
    let _ = stop.compare_exchange(
        u64::MAX,
        at.as_micros(),
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
}
