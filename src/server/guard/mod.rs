//! The registrar's defences against password guessing and floods, kept in the sans-IO core
//! and shared by every worker: failed-authentication bans per device ID and per source
//! address ([`ban`]), and a per-source request-rate limit ([`rate`]), all in
//! fixed-capacity tables ([`table`]), so no flood of random device IDs or spoofed sources can
//! grow memory beyond them.
//!
//! The registrar asks the guard once per authenticated REGISTER whether the device or its
//! source is banned (an atomic load while no ban is in force), reports each failed digest
//! verification, and, when a rate limit is set, asks it once per message.

pub mod ban;
pub mod rate;
pub mod table;

use crate::clock::{Span, Time};
use crate::gb::DeviceId;
pub use ban::{BanRule, Bans, Failure};
pub use rate::{Limiter, Over, RateLimit};
use std::net::IpAddr;
use table::TableView;

/// How the registrar defends itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// Bans per device ID, or none.
    pub device: Option<BanRule>,
    /// Bans per source address, or none.
    pub source: Option<BanRule>,
    /// Refuse banned requests with silence instead of 403 (the sender cannot tell a ban from a
    /// lost datagram).
    pub silent: bool,
    /// Per-source request-rate limit, or none.
    pub rate: Option<RateLimit>,
    /// Device IDs the device bans remember at most.
    pub device_slots: usize,
    /// Source addresses the source bans and the rate limit each remember at most.
    pub source_slots: usize,
}

impl GuardConfig {
    /// Per device: 5 failures within 60 s ban for 600 s. A device that keeps GB28181's retry
    /// interval (60 s) fails at most once a window and is never banned; svcrack's guesses
    /// several a second are.
    pub const DEVICE_RULE: BanRule = BanRule {
        after: 5,
        window: Span::from_secs(60),
        ban_for: Span::from_secs(600),
    };

    /// Per source: 100 failures within 60 s ban for 600 s. Guessing the shared password over
    /// ever new device IDs from one address is stopped by it; a correct fleet, however large,
    /// fails no digest at all, and 100 misconfigured cameras behind one address retrying
    /// every 60 s stay below it.
    pub const SOURCE_RULE: BanRule = BanRule {
        after: 100,
        window: Span::from_secs(60),
        ban_for: Span::from_secs(600),
    };

    /// The defaults: [`DEVICE_RULE`](Self::DEVICE_RULE) and
    /// [`SOURCE_RULE`](Self::SOURCE_RULE), banned requests answered 403, no rate limit;
    /// 65,536 device IDs and 16,384 sources remembered (at most about 4.5 MB in all, taken
    /// shard by shard as failures arrive).
    pub fn new() -> GuardConfig {
        GuardConfig {
            device: Some(Self::DEVICE_RULE),
            source: Some(Self::SOURCE_RULE),
            silent: false,
            rate: None,
            device_slots: 65_536,
            source_slots: 16_384,
        }
    }

    /// As Monibuca v4 behaves, for platform-behaviour tests: a device is banned for 600 s
    /// after 3 failures ([`BanRule::MONIBUCA`]); no source bans, no rate limit.
    pub fn monibuca() -> GuardConfig {
        GuardConfig {
            device: Some(BanRule::MONIBUCA),
            source: None,
            ..GuardConfig::new()
        }
    }

    /// No bans and no rate limit.
    pub fn off() -> GuardConfig {
        GuardConfig {
            device: None,
            source: None,
            ..GuardConfig::new()
        }
    }
}

/// The defences in a few words, for serve's start-up line: `bans: device 5 failures in 60 s
/// ban 600 s, source off; rate limit off`.
impl std::fmt::Display for GuardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ban = |f: &mut std::fmt::Formatter<'_>, r: &Option<BanRule>| match r {
            Some(r) => write!(
                f,
                "{} failures in {} s ban {} s",
                r.after,
                r.window.as_secs(),
                r.ban_for.as_secs()
            ),
            None => write!(f, "off"),
        };
        write!(f, "bans: device ")?;
        ban(f, &self.device)?;
        write!(f, ", source ")?;
        ban(f, &self.source)?;
        if self.silent {
            write!(f, ", silent")?;
        }
        match &self.rate {
            Some(r) => write!(
                f,
                "; rate limit {}/s burst {} per source ({})",
                r.per_second,
                r.burst,
                match r.over {
                    Over::Reject => "503",
                    Over::Drop => "drop",
                }
            ),
            None => write!(f, "; rate limit off"),
        }
    }
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig::new()
    }
}

/// Why a request was refused before its credentials were checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Banned {
    /// The device ID is banned.
    Device = 0,
    /// The source address is banned.
    Source = 1,
}

/// What one failed authentication started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewBans {
    /// The device ID is banned from now.
    pub device: bool,
    /// The source address is banned from now.
    pub source: bool,
}

/// The shared state of the defences: fixed-capacity tables, their shards allocated on first
/// use.
pub struct Guard {
    cfg: GuardConfig,
    devices: Option<Bans>,
    sources: Option<Bans>,
    limiter: Option<Limiter>,
}

/// The table key of a device ID.
fn device_key(dev: &DeviceId) -> u128 {
    dev.number()
}

impl Guard {
    /// The tables `cfg` asks for.
    pub fn new(cfg: &GuardConfig) -> Guard {
        Guard {
            devices: cfg.device.map(|r| Bans::new(r, cfg.device_slots)),
            sources: cfg.source.map(|r| Bans::new(r, cfg.source_slots)),
            limiter: cfg.rate.map(|r| Limiter::new(r, cfg.source_slots)),
            cfg: cfg.clone(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GuardConfig {
        &self.cfg
    }

    /// Whether `dev` or the source `ip` is banned at `now`.
    pub fn banned(&self, dev: &DeviceId, ip: IpAddr, now: Time) -> Option<Banned> {
        if let Some(d) = &self.devices
            && d.banned(device_key(dev), now)
        {
            return Some(Banned::Device);
        }
        if let Some(s) = &self.sources
            && s.banned(table::ip_key(ip), now)
        {
            return Some(Banned::Source);
        }
        None
    }

    /// Counts one failed digest verification of `dev` from `ip` at `now`.
    pub fn failed(&self, dev: &DeviceId, ip: IpAddr, now: Time) -> NewBans {
        let hit =
            |b: &Option<Bans>, key| b.as_ref().map(|b| b.fail(key, now)) == Some(Failure::Banned);
        NewBans {
            device: hit(&self.devices, device_key(dev)),
            source: hit(&self.sources, table::ip_key(ip)),
        }
    }

    /// Takes one message from `ip` at `now` under the rate limit: `Ok` when within it (or
    /// there is none), else what to do and the seconds to wait.
    pub fn admit(&self, ip: IpAddr, now: Time) -> Result<(), (Over, u32)> {
        match &self.limiter {
            None => Ok(()),
            Some(l) => l
                .admit(table::ip_key(ip), now)
                .map_err(|wait| (l.limit().over, wait)),
        }
    }

    /// The tables in use: device bans, source bans, rate buckets (each `None` when off).
    fn tables(&self) -> [Option<&dyn TableView>; 3] {
        [
            self.devices.as_ref().map(|b| b.table() as &dyn TableView),
            self.sources.as_ref().map(|b| b.table() as &dyn TableView),
            self.limiter.as_ref().map(|l| l.table() as &dyn TableView),
        ]
    }

    /// Keys remembered at `now` (device bans, source bans, rate buckets), each at most its
    /// table's capacity; walks the tables.
    pub fn live(&self, now: Time) -> [usize; 3] {
        self.tables().map(|t| t.map_or(0, |t| t.live(now)))
    }

    /// Slots of the tables (device bans, source bans, rate buckets); fixed at start.
    pub fn capacity(&self) -> [usize; 3] {
        self.tables().map(|t| t.map_or(0, |t| t.capacity()))
    }

    /// Records forgotten to make room so far, all tables together.
    pub fn evictions(&self) -> u64 {
        self.tables().iter().flatten().map(|t| t.evictions()).sum()
    }
}
