//! Load profiles: a TOML file and command-line flags with the same keys, merged (flags win) and
//! validated into one [`Plan`] that the engine runs.
//!
//! Every invalid value is reported with the key it came from and what is allowed, so a typo in
//! a profile fails fast instead of running the wrong load.

use crate::camera::{CameraConfig, Transport};
use crate::gb::{DeviceId, Ids};
use ids::{id_range, listed};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validation failure: the key and what is wrong with its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// The profile key / flag name (without `--`).
    pub key: String,
    /// What is allowed.
    pub message: String,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for PlanError {}

fn bad<T>(key: &str, message: impl Into<String>) -> Result<T, PlanError> {
    Err(PlanError {
        key: key.into(),
        message: message.into(),
    })
}

/// One key set, from a TOML profile or from flags; `None` means "not given here".
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    /// Server to load, `host:port`; absent = the embedded registrar.
    pub target: Option<String>,
    /// The server's 20-digit ID.
    pub server_id: Option<String>,
    /// SIP domain (defaults to the first 10 digits of the server ID).
    pub domain: Option<String>,
    /// Password of every camera.
    pub password: Option<String>,
    /// Digits that begin every camera ID.
    pub id_prefix: Option<String>,
    /// Number after the prefix of the first camera.
    pub first_id: Option<u64>,
    /// A device file (`device-id,password[,channels[,transport]]` rows, see
    /// [`crate::gb::devices`]): every camera's ID and password, in place of `id-prefix`,
    /// `first-id` and `password`; `cameras` then takes the first rows.
    pub devices: Option<PathBuf>,
    /// Fleet size.
    pub cameras: Option<u64>,
    /// `udp` or `tcp`.
    pub transport: Option<Transport>,
    /// New registrations per second during the ramp.
    pub rate: Option<f64>,
    /// Start every camera at once.
    pub burst: Option<bool>,
    /// How long to run before stopping.
    pub duration: Option<Span>,
    /// Registration expiry asked for.
    pub expires: Option<Span>,
    /// Keepalive interval.
    pub heartbeat: Option<Span>,
    /// Missed keepalives that mean the server is gone.
    pub heartbeat_misses: Option<u8>,
    /// Wait after a failure before registering again.
    pub retry_interval: Option<Span>,
    /// Random extra wait, as a share of the retry interval (0 to 1).
    pub retry_jitter: Option<f64>,
    /// When to refresh, as a share of the granted expiry (0 to 1).
    pub refresh_at: Option<f64>,
    /// Channels per camera listed in Catalog answers.
    pub channels: Option<u32>,
    /// What channels are called in Catalog answers (`NAME 1`, `NAME 2`, ...); any text, written
    /// in the charset of `gb-version`.
    pub channel_name: Option<String>,
    /// The GB/T 28181 edition: 2016 or 2022 (`X-GB-Ver: 3.0` on every REGISTER, GB18030
    /// bodies).
    pub gb_version: Option<u16>,
    /// Catalog items per answer message.
    pub catalog_page: Option<u32>,
    /// Channel flaps per device an hour: one channel goes off line, and back half a period
    /// later (see [`crate::camera::channels`]).
    pub channel_flap_rate: Option<f64>,
    /// Length of the synthetic recordings RecordInfo answers list (whole seconds).
    pub record_segment: Option<Span>,
    /// How long a device stays down after a TeleBoot before it registers again.
    pub reboot_delay: Option<Span>,
    /// Share of cameras reporting a faulty sub-device (0 to 1).
    pub fault_share: Option<f64>,
    /// Alarms per device an hour (see [`crate::camera::subscribe::Alarms`]).
    pub alarm_rate: Option<f64>,
    /// An alarm storm, `N@T` or `N at T`: every device raises N alarms T after the run's
    /// start.
    pub alarm_burst: Option<String>,
    /// Worker threads (one per core).
    pub cores: Option<usize>,
    /// Cameras sharing one UDP socket.
    pub cameras_per_socket: Option<u32>,
    /// Local source addresses: a list or ranges such as `127.0.0.1-127.0.0.8`.
    pub local_ip: Option<Vec<String>>,
    /// Do not unregister at stop.
    pub no_unregister: Option<bool>,
    /// How long to wait for unregistrations at stop.
    pub grace: Option<Span>,
    /// Write the JSON report here.
    pub json: Option<PathBuf>,
    /// Write an HdrHistogram interval log here.
    pub hdr_log: Option<PathBuf>,
    /// This process's slice of the fleet, `K/N` (0-based K): for multi-machine runs.
    pub shard: Option<String>,
    /// Write a self-contained HTML report with charts here.
    pub report: Option<PathBuf>,
    /// Stream a per-second time series as CSV here, flushed every second.
    pub csv: Option<PathBuf>,
    /// Objectives the run is judged by, e.g. `["register.p99<=50ms", "failures<=0.1%"]`
    /// (syntax in [`crate::verdict`]); flags add to these and replace one on the same metric.
    pub slo: Option<Vec<String>>,
    /// Concurrent live streams per device; an INVITE beyond them gets 486.
    pub max_streams: Option<u32>,
    /// The H.264/H.265 Annex-B clip streams send (default: the embedded test clip).
    pub media: Option<PathBuf>,
    /// The clip's codec: h264 or h265.
    pub media_codec: Option<String>,
    /// The clip's frame rate.
    pub fps: Option<u32>,
    /// Send UDP media one datagram per RTP packet instead of one segmentation-offload (GSO)
    /// send per frame.
    pub no_gso: Option<bool>,
    /// The SSRC cameras answer with: `offered` (the offer's `y=`) or `own`.
    pub answer_ssrc: Option<String>,
}

impl Profile {
    /// Reads a TOML profile; errors name the file and the offending key.
    pub fn load(path: &Path) -> Result<Profile, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|e| PlanError {
            key: "profile".into(),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        toml::from_str(&text).map_err(|e| PlanError {
            key: "profile".into(),
            message: format!("{}: {}", path.display(), e.to_string().trim()),
        })
    }

    /// Keys set in `top` replace those here (flags over a profile). The destructuring is
    /// exhaustive, so a new key cannot be forgotten here.
    pub fn overlay(self, top: Profile) -> Profile {
        let Profile {
            target,
            server_id,
            domain,
            password,
            id_prefix,
            first_id,
            devices,
            cameras,
            transport,
            rate,
            burst,
            duration,
            expires,
            heartbeat,
            heartbeat_misses,
            retry_interval,
            retry_jitter,
            refresh_at,
            channels,
            channel_name,
            gb_version,
            catalog_page,
            channel_flap_rate,
            record_segment,
            reboot_delay,
            fault_share,
            alarm_rate,
            alarm_burst,
            cores,
            cameras_per_socket,
            local_ip,
            no_unregister,
            grace,
            json,
            hdr_log,
            shard,
            report,
            csv,
            slo,
            max_streams,
            media,
            media_codec,
            fps,
            no_gso,
            answer_ssrc,
        } = top;
        Profile {
            target: target.or(self.target),
            server_id: server_id.or(self.server_id),
            domain: domain.or(self.domain),
            password: password.or(self.password),
            id_prefix: id_prefix.or(self.id_prefix),
            first_id: first_id.or(self.first_id),
            devices: devices.or(self.devices),
            cameras: cameras.or(self.cameras),
            transport: transport.or(self.transport),
            rate: rate.or(self.rate),
            burst: burst.or(self.burst),
            duration: duration.or(self.duration),
            expires: expires.or(self.expires),
            heartbeat: heartbeat.or(self.heartbeat),
            heartbeat_misses: heartbeat_misses.or(self.heartbeat_misses),
            retry_interval: retry_interval.or(self.retry_interval),
            retry_jitter: retry_jitter.or(self.retry_jitter),
            refresh_at: refresh_at.or(self.refresh_at),
            channels: channels.or(self.channels),
            channel_name: channel_name.or(self.channel_name),
            gb_version: gb_version.or(self.gb_version),
            catalog_page: catalog_page.or(self.catalog_page),
            channel_flap_rate: channel_flap_rate.or(self.channel_flap_rate),
            record_segment: record_segment.or(self.record_segment),
            reboot_delay: reboot_delay.or(self.reboot_delay),
            fault_share: fault_share.or(self.fault_share),
            alarm_rate: alarm_rate.or(self.alarm_rate),
            alarm_burst: alarm_burst.or(self.alarm_burst),
            cores: cores.or(self.cores),
            cameras_per_socket: cameras_per_socket.or(self.cameras_per_socket),
            local_ip: local_ip.or(self.local_ip),
            no_unregister: no_unregister.or(self.no_unregister),
            grace: grace.or(self.grace),
            json: json.or(self.json),
            hdr_log: hdr_log.or(self.hdr_log),
            shard: shard.or(self.shard),
            report: report.or(self.report),
            csv: csv.or(self.csv),
            max_streams: max_streams.or(self.max_streams),
            media: media.or(self.media),
            media_codec: media_codec.or(self.media_codec),
            fps: fps.or(self.fps),
            no_gso: no_gso.or(self.no_gso),
            answer_ssrc: answer_ssrc.or(self.answer_ssrc),
            slo: match (self.slo, slo) {
                (Some(mut base), Some(top)) => {
                    base.extend(top);
                    Some(base)
                }
                (base, top) => top.or(base),
            },
        }
    }
}

/// How cameras are started.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ramp {
    /// This many new registrations per second, on an absolute schedule.
    Rate(f64),
    /// All at once (the flash crowd after a platform restart).
    Burst,
}

/// A validated run: everything the engine needs, nothing left to default.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Server to load; `None` = start the embedded registrar.
    pub target: Option<SocketAddr>,
    /// Behaviour of every camera.
    pub camera: CameraConfig,
    /// Camera IDs: a range, or a device file's rows (set both this and
    /// `camera.identities` through [`Plan::set_ids`]).
    pub ids: Ids,
    /// Start schedule.
    pub ramp: Ramp,
    /// Schedule of the stop's unregistrations: the ramp's by default, so they offer the
    /// server no more than the registrations did.
    pub stop_ramp: Ramp,
    /// Run length before the stop.
    pub duration: Duration,
    /// Time allowed for unregistrations after the stop.
    pub grace: Duration,
    /// Worker threads.
    pub cores: usize,
    /// Cameras per UDP socket.
    pub cameras_per_socket: u32,
    /// Source addresses, used round-robin.
    pub local_ips: Vec<IpAddr>,
    /// JSON report path.
    pub json: Option<PathBuf>,
    /// HdrHistogram log path.
    pub hdr_log: Option<PathBuf>,
    /// `(k, n)` when this process runs shard `k` of `n` (IDs already narrowed to it).
    pub shard: Option<(u64, u64)>,
    /// HTML report path.
    pub report: Option<PathBuf>,
    /// Per-second CSV path.
    pub csv: Option<PathBuf>,
    /// The objectives given (profile, then flags, settled); empty means the defaults
    /// ([`crate::verdict::or_default`]).
    pub objectives: Vec<crate::verdict::Objective>,
    /// Live video: streams per device and the clip.
    pub video: Video,
}

impl Plan {
    /// Sets the fleet's IDs, and with a device file each camera's identity (password,
    /// channels, transport) from the same rows.
    pub fn set_ids(&mut self, ids: Ids) {
        self.camera.identities = ids.devices().cloned();
        self.ids = ids;
    }

    /// How many cameras use UDP and how many TCP.
    pub fn transport_counts(&self) -> (u64, u64) {
        match self.ids.devices() {
            Some(d) => d.transport_counts(self.camera.transport),
            None if self.camera.transport == Transport::Tcp => (0, self.ids.len()),
            None => (self.ids.len(), 0),
        }
    }

    /// The transport for reports: `udp`, `tcp`, or both with their counts when a device file
    /// mixes them.
    pub fn transport_label(&self) -> String {
        match self.transport_counts() {
            (_, 0) => Transport::Udp.as_str().into(),
            (0, _) => Transport::Tcp.as_str().into(),
            (udp, tcp) => format!("udp ({udp}) and tcp ({tcp})"),
        }
    }
}

fn share(key: &str, v: Option<f64>, default: f64) -> Result<u32, PlanError> {
    let v = v.unwrap_or(default);
    if !(0.0..=1.0).contains(&v) {
        return bad(key, format!("{v} is not a share between 0 and 1"));
    }
    Ok((v * 1000.0).round() as u32)
}

/// Resolves `HOST:PORT` (an IP address or a name such as `localhost`) to one socket address,
/// the first IPv4 one when the name has several, so `localhost` means the same address to a
/// `serve --listen` and a `run --target`. The error says why, for the user.
pub fn resolve(text: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("`{text}` is not a reachable host:port ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
}

/// Expands `127.0.0.1-127.0.0.8` (last octet/segment range) or a single address.
fn parse_ips(items: &[String]) -> Result<Vec<IpAddr>, PlanError> {
    let mut out = Vec::new();
    for item in items.iter().flat_map(|s| s.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let bad_ip = || PlanError {
            key: "local-ip".into(),
            message: format!("`{item}` is not an address or a range like 127.0.0.1-127.0.0.8"),
        };
        match item.split_once('-') {
            None => out.push(item.parse().map_err(|_| bad_ip())?),
            Some((a, b)) => {
                let (IpAddr::V4(a), IpAddr::V4(b)) = (
                    a.trim().parse().map_err(|_| bad_ip())?,
                    b.trim().parse().map_err(|_| bad_ip())?,
                ) else {
                    return Err(bad_ip());
                };
                let (lo, hi) = (u32::from(a), u32::from(b));
                if hi < lo || hi - lo > 65_535 {
                    return Err(bad_ip());
                }
                out.extend((lo..=hi).map(|n| IpAddr::V4(n.into())));
            }
        }
    }
    Ok(out)
}

impl Profile {
    /// Checks every value and fills defaults; the first problem is returned.
    pub fn plan(&self) -> Result<Plan, PlanError> {
        let target = match &self.target {
            None => None,
            Some(t) => {
                let addr = resolve(t).map_err(|message| PlanError {
                    key: "target".into(),
                    message,
                })?;
                if addr.port() == 0 {
                    return bad(
                        "target",
                        format!("`{t}`: port 0 is not a port a server listens on; give its port"),
                    );
                }
                Some(addr)
            }
        };
        let server_id: DeviceId = match &self.server_id {
            Some(s) => s.parse().map_err(|e| PlanError {
                key: "server-id".into(),
                message: format!("`{s}`: {e}"),
            })?,
            None => DeviceId::parse(b"34020000002000000001").map_err(|e| PlanError {
                key: "server-id".into(),
                message: e.to_string(),
            })?,
        };
        let mut camera = CameraConfig::new(server_id);
        if let Some(d) = &self.domain {
            if d.is_empty() || d.bytes().any(|b| b <= b' ' || b == b'>' || b == b'<') {
                return bad("domain", format!("`{d}` is not a SIP domain"));
            }
            camera.domain = d.clone();
        }
        if let Some(p) = &self.password {
            camera.password = p.clone();
        }
        camera.transport = self.transport.unwrap_or(Transport::Udp);
        let secs = |key: &str, v: Option<Span>, default: u64, min: u64| -> Result<u64, PlanError> {
            let s = v.map_or(default, |s| s.0.as_secs());
            if s < min {
                return bad(key, format!("must be at least {min} s"));
            }
            Ok(s)
        };
        camera.expires = u32::try_from(secs("expires", self.expires, 3600, 1)?)
            .or_else(|_| bad("expires", "too large"))?;
        let ms =
            |key: &str, v: Option<Span>, default: u64, min_ms: u64| -> Result<u64, PlanError> {
                let m = v.map_or(default * 1000, |s| s.0.as_millis() as u64);
                if m < min_ms {
                    return bad(key, format!("must be at least {min_ms} ms"));
                }
                Ok(m)
            };
        camera.heartbeat_ms = ms("heartbeat", self.heartbeat, 60, 100)?;
        camera.retry_interval_ms = ms("retry-interval", self.retry_interval, 60, 0)?;
        camera.heartbeat_misses = self.heartbeat_misses.unwrap_or(3);
        if camera.heartbeat_misses == 0 {
            return bad("heartbeat-misses", "must be at least 1");
        }
        camera.retry_jitter_permille = share("retry-jitter", self.retry_jitter, 0.2)?;
        camera.refresh_permille = share("refresh-at", self.refresh_at, 0.85)?;
        if camera.refresh_permille == 0 {
            return bad("refresh-at", "must be above 0");
        }
        camera.fault_permille = share("fault-share", self.fault_share, 0.0)?;
        camera.unregister_on_stop = !self.no_unregister.unwrap_or(false);
        // Call-IDs and tags must not repeat across runs or across the shards of one run.
        camera.run_id = crate::seed::random_u64() as u32;
        self.device_behaviour(&mut camera)?;

        if self.cameras == Some(0) || self.cameras > Some(u64::from(u32::MAX)) {
            return bad("cameras", "must be between 1 and 4294967295");
        }
        let ids = match &self.devices {
            Some(path) => listed(self, path, self.cameras)?,
            None => Ids::Range(id_range(
                self.id_prefix.as_deref(),
                self.first_id,
                self.cameras.unwrap_or(100),
            )?),
        };
        let cameras = ids.len();
        let shard = match &self.shard {
            None => None,
            Some(text) => {
                let parsed = text.split_once('/').and_then(|(k, n)| {
                    Some((k.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?))
                });
                match parsed {
                    Some((k, n)) if n > 0 && k < n && n <= ids.len() => Some((k, n)),
                    _ => {
                        return bad(
                            "shard",
                            format!("`{text}` is not K/N with 0 <= K < N <= cameras ({cameras})"),
                        );
                    }
                }
            }
        };
        let ids = match shard {
            Some((k, n)) => ids.shard(k, n),
            None => ids,
        };
        let ramp = match (self.burst.unwrap_or(false), self.rate) {
            (true, _) => Ramp::Burst,
            (false, Some(r)) if r.is_finite() && r > 0.0 => Ramp::Rate(r),
            (false, Some(r)) => return bad("rate", format!("{r} is not a positive rate")),
            (false, None) => Ramp::Rate(100.0),
        };
        let duration = self.duration.map_or(Duration::from_secs(60), |s| s.0);
        if duration.is_zero() {
            return bad("duration", "must be above 0");
        }
        let grace = self.grace.map_or(Duration::from_secs(10), |s| s.0);
        let available = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cores = self.cores.unwrap_or(available);
        if cores == 0 || cores > 1024 {
            return bad(
                "cores",
                format!("must be between 1 and 1024 (this machine has {available})"),
            );
        }
        let cameras_per_socket = self.cameras_per_socket.unwrap_or(1);
        if cameras_per_socket == 0 {
            return bad("cameras-per-socket", "must be at least 1");
        }
        let local_ips = match &self.local_ip {
            Some(list) => parse_ips(list)?,
            None => Vec::new(),
        };
        if self.local_ip.is_some() && local_ips.is_empty() {
            return bad("local-ip", "the list is empty");
        }
        camera.identities = ids.devices().cloned();
        Ok(Plan {
            target,
            camera,
            ids,
            ramp,
            stop_ramp: ramp,
            duration,
            grace,
            cores,
            cameras_per_socket,
            local_ips,
            json: self.json.clone(),
            hdr_log: self.hdr_log.clone(),
            shard,
            report: self.report.clone(),
            csv: self.csv.clone(),
            objectives: self.objectives()?,
            video: Video::from_profile(self)?,
        })
    }

    /// The objectives given (profile then flags), parsed and settled.
    fn objectives(&self) -> Result<Vec<crate::verdict::Objective>, PlanError> {
        let mut given = Vec::new();
        for text in self.slo.iter().flatten() {
            given.push(text.parse().map_err(|message| PlanError {
                key: "slo".into(),
                message,
            })?);
        }
        Ok(crate::verdict::settle(given))
    }
}

mod device;
mod ids;
pub mod settings;
mod span;
pub mod video;

pub use span::Span;
pub use video::Video;

#[cfg(test)]
mod tests;
