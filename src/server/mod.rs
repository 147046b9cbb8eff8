//! `gbswarm serve`: a GB28181 registrar on the same SIP core as the cameras.
//!
//! One worker per core on the shared server host loop ([`crate::net::host`]), each pinned,
//! each with its own UDP socket and TCP listener bound to the same address with SO_REUSEPORT
//! so the kernel spreads devices over cores. Decisions are the sans-IO
//! [`registrar::Registrar`]'s; workers only move bytes. Counters come from each worker's
//! interval hand-over: no worker takes a lock to count. It is also the embedded default
//! target of `gbswarm run`. With `--play` each worker also runs the platform's play driver
//! ([`play`]) beside its registrar ([`platform`]); with `--subscribe` or `--query`, the
//! subscribe driver ([`subscribe`]).

pub mod config;
pub mod guard;
pub mod nonce;
pub mod platform;
pub mod play;
pub mod registrar;
pub mod registry;
pub mod stats;
pub mod subscribe;
#[cfg(test)]
mod tests;

use crate::clock::Clock;
use crate::net::{Host, HostConfig};
use crossbeam::channel::{Receiver, Sender};
use platform::Platform;
use play::stats::{PlayPublisher, PlayStats};
use registrar::{Config, Registrar, Stats};
use registry::Registry;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subscribe::stats::{SubPublisher, SubStats};

/// Reads a device file (the format of [`crate::gb::devices`], shared with `run --devices`:
/// `device-id,password[,channels[,transport]]` or `device-id password` lines, `#` comments)
/// into a password map; errors name the file and the line.
pub fn load_passwords(
    path: &std::path::Path,
) -> Result<std::collections::HashMap<crate::gb::DeviceId, String>, String> {
    Ok(crate::gb::Devices::load(path)?.password_map())
}

/// How to run the registrar.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address for UDP and TCP.
    pub listen: SocketAddr,
    /// Worker threads.
    pub cores: usize,
    /// Registrar behaviour.
    pub registrar: Config,
    /// A TCP peer silent this long is closed.
    pub tcp_idle: Duration,
    /// A TCP peer with a partial message pending this long is closed (slow drip).
    pub tcp_partial: Duration,
    /// Most TCP connections per worker; more are refused.
    pub max_connections: usize,
    /// Most half-open TCP connections (connected, no complete message yet) per source
    /// address and worker; more are refused.
    pub max_half_open_per_source: usize,
}

/// A running registrar; [`stop`](Self::stop) it to join the workers.
pub struct ServerHandle {
    host: Host<Platform>,
    /// A registrar over the shared registry, for presence counts.
    view: Registrar,
    clock: Clock,
    /// Every worker's counters so far, merged by the collector thread.
    total: Arc<Mutex<Stats>>,
    collector: Option<std::thread::JoinHandle<()>>,
    /// The play driver's counters merged, and their collector, with `--play`.
    play: Option<(Arc<Mutex<PlayStats>>, std::thread::JoinHandle<()>)>,
    /// The subscribe driver's counters merged, and their collector, with `--subscribe`.
    subs: Option<(Arc<Mutex<SubStats>>, std::thread::JoinHandle<()>)>,
}

/// Merges every snapshot the workers hand over into `total` and sends it back to be reused,
/// as they arrive, until every worker's publisher is gone. It runs whether or not anybody
/// reads the counters, so snapshots never pile up in the channel (they did: a `serve`
/// without `--stats`, or the embedded registrar, grew by a snapshot's histograms every
/// 200 ms).
fn collect<T>(
    rx: Receiver<Box<T>>,
    spent: Sender<Box<T>>,
    total: Arc<Mutex<T>>,
    merge: fn(&mut T, &T),
) {
    while let Ok(s) = rx.recv() {
        merge(&mut total.lock().unwrap_or_else(|e| e.into_inner()), &s);
        let _ = spent.send(s);
    }
}

/// Binds every worker's sockets (so address errors are returned here) and starts them.
pub fn start(cfg: ServeConfig) -> io::Result<ServerHandle> {
    start_with_play(cfg, None)
}

/// [`start`], and with `play` each worker also plays the devices it registers (see
/// [`platform`]).
pub fn start_with_play(
    cfg: ServeConfig,
    play: Option<play::PlayConfig>,
) -> io::Result<ServerHandle> {
    start_platform(cfg, play, None)
}

/// [`start_with_play`], and with `subs` each worker also subscribes to and queries the
/// devices it registers (see [`subscribe`]).
pub fn start_platform(
    cfg: ServeConfig,
    play: Option<play::PlayConfig>,
    subs: Option<subscribe::SubscribeConfig>,
) -> io::Result<ServerHandle> {
    let cores = cfg.cores.max(1);
    let clock = Clock::start();
    let (tx, rx) = crossbeam::channel::unbounded();
    let (spent, spent_rx) = crossbeam::channel::unbounded();
    let publisher = stats::Publisher {
        tx,
        spent: spent_rx,
    };
    // Bound first: the Via of our queries names the port the kernel chose.
    let (addr, bound) = crate::net::listen::bind(cfg.listen, cores)?;
    let mut rcfg = cfg.registrar.clone();
    rcfg.via_host = addr.to_string();
    let mut first = Registrar::new(
        rcfg,
        Arc::new(Registry::new(64)),
        nonce::Nonces::random_secret(),
    )
    .with_unix_zero(clock.zero_unix_ms());
    first.publish_to(publisher);
    let view = first.worker();
    let play_total = Arc::new(Mutex::new(PlayStats::default()));
    let mut play_collector = None;
    let mut play_publisher = None;
    if play.is_some() {
        let (tx, rx) = crossbeam::channel::unbounded();
        let (spent, spent_rx) = crossbeam::channel::unbounded();
        play_publisher = Some(PlayPublisher {
            tx,
            spent: spent_rx,
        });
        let merged = play_total.clone();
        play_collector = Some(
            std::thread::Builder::new()
                .name("gbswarm-play-stats".into())
                .spawn(move || collect(rx, spent, merged, PlayStats::merge))?,
        );
    }
    let sub_total = Arc::new(Mutex::new(SubStats::default()));
    let mut sub_collector = None;
    let mut sub_publisher = None;
    if subs.is_some() {
        let (tx, rx) = crossbeam::channel::unbounded();
        let (spent, spent_rx) = crossbeam::channel::unbounded();
        sub_publisher = Some(SubPublisher {
            tx,
            spent: spent_rx,
        });
        let merged = sub_total.clone();
        sub_collector = Some(
            std::thread::Builder::new()
                .name("gbswarm-sub-stats".into())
                .spawn(move || collect(rx, spent, merged, SubStats::merge))?,
        );
    }
    let salt0 = std::process::id().wrapping_mul(0x9e37_79b9);
    let signal = addr;
    let me = |i: usize, p: &play::PlayConfig| play::wire::Me {
        id: cfg.registrar.server_id,
        domain: cfg.registrar.realm.clone(),
        signal,
        media: SocketAddr::new(signal.ip(), 0),
        transport: p.transport,
        salt: salt0 ^ (i as u32),
    };
    let sub_me = |i: usize| subscribe::wire::Me {
        id: cfg.registrar.server_id,
        domain: cfg.registrar.realm.clone(),
        signal,
        // Not the play driver's salt: the two tell their Call-IDs apart by suffix anyway.
        salt: salt0.rotate_left(16) ^ (i as u32),
        charset: cfg.registrar.gb_version.charset(),
    };
    let unix_zero_ms = clock.zero_unix_ms();
    let make = |i: usize| {
        let platform = match &play {
            None => Platform::registrar(first.worker()),
            Some(p) => Platform::with_play(
                first.worker(),
                play::Play::new(p, me(i, p), i, cores, clock.now()),
                play_publisher.clone(),
                p.media_port,
            ),
        };
        match &subs {
            None => platform,
            Some(s) => platform.with_subscriber(
                subscribe::Subscriber::new(s, sub_me(i), (i, cores), clock.now(), unix_zero_ms),
                sub_publisher.clone(),
            ),
        }
    };
    let host_cfg = HostConfig {
        tcp_idle: cfg.tcp_idle,
        tcp_partial: cfg.tcp_partial,
        max_connections: cfg.max_connections,
        max_half_open_per_source: cfg.max_half_open_per_source,
        pin: true,
        name: "gbswarm-srv",
    };
    let host = crate::net::host::start_bound(addr, bound, host_cfg, clock, make)?;
    drop(first);
    drop(play_publisher);
    drop(sub_publisher);
    let total = Arc::new(Mutex::new(Stats::default()));
    let merged = total.clone();
    let collector = std::thread::Builder::new()
        .name("gbswarm-srv-stats".into())
        .spawn(move || collect(rx, spent, merged, Stats::merge))?;
    Ok(ServerHandle {
        host,
        view,
        clock,
        total,
        collector: Some(collector),
        play: play_collector.map(|c| (play_total, c)),
        subs: sub_collector.map(|c| (sub_total, c)),
    })
}

impl ServerHandle {
    /// The address it listens on (the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// Counters of all workers so far (handed over every 200 ms), and (registered, online)
    /// devices now.
    pub fn stats(&self) -> (Stats, (u64, u64)) {
        let counts = self
            .view
            .registry()
            .counts(self.clock.now(), self.view.max_silence());
        let total = self.total.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (total, counts)
    }

    /// The bans and rate limit the workers share (their tables' occupancy and evictions).
    pub fn guard(&self) -> &guard::Guard {
        self.view.guard()
    }

    /// The play driver's counters so far (handed over every 200 ms), with `--play`.
    pub fn play_stats(&self) -> Option<PlayStats> {
        self.play
            .as_ref()
            .map(|(t, _)| t.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// The subscribe driver's counters so far (handed over every 200 ms), with `--subscribe`
    /// or `--query`.
    pub fn sub_stats(&self) -> Option<SubStats> {
        self.subs
            .as_ref()
            .map(|(t, _)| t.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Stops the workers and returns the final counters.
    pub fn stop(self) -> Stats {
        self.stop_all().0
    }

    /// Stops the workers and returns the final counters, the play driver's too.
    pub fn stop_all(self) -> (Stats, Option<PlayStats>) {
        let (st, play, _) = self.stop_every();
        (st, play)
    }

    /// Stops the workers and returns the final counters: the registrar's, the play
    /// driver's and the subscribe driver's.
    pub fn stop_every(mut self) -> (Stats, Option<PlayStats>, Option<SubStats>) {
        let collector = self.collector.take();
        let ServerHandle {
            host,
            view,
            clock: _,
            total,
            collector: _,
            play,
            subs,
        } = self;
        // Each worker hands over its last counters as it stops; the collector ends once the
        // last publisher (the view's among them) is gone, having merged everything.
        drop(host.stop());
        drop(view);
        if let Some(c) = collector {
            let _ = c.join();
        }
        let play = play.map(|(t, c)| {
            let _ = c.join();
            std::mem::take(&mut *t.lock().unwrap_or_else(|e| e.into_inner()))
        });
        let subs = subs.map(|(t, c)| {
            let _ = c.join();
            std::mem::take(&mut *t.lock().unwrap_or_else(|e| e.into_inner()))
        });
        (
            std::mem::take(&mut *total.lock().unwrap_or_else(|e| e.into_inner())),
            play,
            subs,
        )
    }
}

#[cfg(test)]
mod collector_tests {
    use super::{Stats, collect};
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_collector_merges_every_snapshot_and_returns_it_for_reuse() {
        let (tx, rx) = crossbeam::channel::unbounded();
        let (spent_tx, spent_rx) = crossbeam::channel::unbounded();
        let total = Arc::new(Mutex::new(Stats::default()));
        let merged = total.clone();
        let t = std::thread::spawn(move || collect(rx, spent_tx, merged, Stats::merge));
        for i in 1..=3u64 {
            let mut s = Box::<Stats>::default();
            s.keepalives = i;
            s.requests[1] = i;
            tx.send(s).unwrap();
        }
        // The collector ends once the last publisher is gone, with nothing left queued.
        drop(tx);
        t.join().unwrap();
        let total = total.lock().unwrap();
        assert_eq!(total.keepalives, 6);
        assert_eq!(total.requests[1], 6);
        assert_eq!(spent_rx.try_iter().count(), 3);
    }
}
