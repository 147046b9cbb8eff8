//! Facts about a run shown with its numbers: where the load went, how it was configured, which
//! gbswarm build ran it on which machine and when, what it cost; and, for a report merged from
//! several runs (the shards of one fleet), the same facts of each of them.
//!
//! Written to and read from the `info` object of the JSON report (schema in
//! [`super::summary`]); [`RunInfo::merge`] combines the infos of the reports `gbswarm merge`
//! adds up.

use super::CpuTime;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// This gbswarm's version (from Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this gbswarm was built from (short hash), or `unknown` for a build outside
/// a git checkout (see `build.rs`).
pub const COMMIT: &str = env!("GBSWARM_COMMIT");

/// Facts about a run shown with its numbers.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// Where the load went.
    pub target: String,
    /// `udp` or `tcp`.
    pub transport: String,
    /// Fleet size of this process.
    pub cameras: u64,
    /// Worker threads.
    pub cores: usize,
    /// From the start to the last worker's end, seconds.
    pub duration_s: f64,
    /// Why it stopped.
    pub stop_reason: String,
    /// CPU of the whole process.
    pub cpu: CpuTime,
    /// Peak RSS, if known.
    pub peak_rss_bytes: Option<u64>,
    /// `K/N` for a shard.
    pub shard: Option<String>,
    /// Identifies the run: drawn at random once per run, the 8 hex digits every Call-ID of
    /// the run starts with. Empty in reports written before it existed.
    pub run_id: String,
    /// Start of the run, seconds since the Unix epoch (0: unknown).
    pub started_unix_s: u64,
    /// Name of the machine that ran it.
    pub host: String,
    /// gbswarm version that ran it.
    pub version: String,
    /// git commit of that gbswarm ([`COMMIT`]).
    pub commit: String,
    /// Every setting of the run as (profile key, value), in the order to show them.
    pub settings: Vec<(String, String)>,
    /// The runs a merged report was added up from (empty for a single run).
    pub shards: Vec<ShardInfo>,
}

/// One of the runs a merged report holds, with its own cost.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardInfo {
    /// `K/N` if it ran a shard.
    pub shard: Option<String>,
    /// Its [`RunInfo::run_id`].
    pub run_id: String,
    /// The machine it ran on.
    pub host: String,
    /// Its fleet size.
    pub cameras: u64,
    /// Its length, seconds.
    pub duration_s: f64,
    /// Its start, seconds since the Unix epoch (0: unknown).
    pub started_unix_s: u64,
    /// CPU of its whole process.
    pub cpu: CpuTime,
}

impl ShardInfo {
    /// How the run is named to a person: its shard, or its run id.
    pub fn label(&self) -> String {
        match (&self.shard, self.run_id.is_empty()) {
            (Some(s), _) => format!("shard {s}"),
            (None, false) => format!("run {}", self.run_id),
            (None, true) => "a run".into(),
        }
    }
}

/// The name of this machine (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `unknown`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// `unix_s` as ISO 8601 in UTC: `YYYY-MM-DDThh:mm:ssZ`.
fn iso(unix_s: u64) -> String {
    let t = crate::gb::time::DateTime::new(unix_s.saturating_mul(1000), false);
    format!("{}Z", String::from_utf8_lossy(t.as_bytes()))
}

/// `unix_s` as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc(unix_s: u64) -> String {
    iso(unix_s).replace('T', " ").replace('Z', " UTC")
}

fn cpu_json(cpu: &CpuTime) -> (f64, f64, f64) {
    (
        cpu.total().as_secs_f64(),
        cpu.user.as_secs_f64(),
        cpu.system.as_secs_f64(),
    )
}

fn cpu_from_json(v: &Value) -> CpuTime {
    let secs = |key: &str| {
        v.get(key)
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    };
    match (secs("cpu_user_s"), secs("cpu_system_s")) {
        (Some(user), Some(system)) => CpuTime { user, system },
        // Reports before the split carry only the total.
        _ => CpuTime {
            user: secs("cpu_s").unwrap_or_default(),
            system: Duration::ZERO,
        },
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The distinct non-empty values, in first-seen order, joined by `, `.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values {
        if !v.is_empty() && !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join(", ")
}

impl RunInfo {
    /// What identifies a run before it starts: `run_id` (the plan's, see
    /// [`CameraConfig::run_id`](crate::camera::CameraConfig::run_id)), this machine, this
    /// build, and `started`. The caller fills in the rest.
    pub fn stamp(run_id: u32, started: SystemTime) -> RunInfo {
        RunInfo {
            run_id: format!("{run_id:08x}"),
            started_unix_s: started
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            host: host_name(),
            version: VERSION.into(),
            commit: COMMIT.into(),
            ..RunInfo::default()
        }
    }

    /// The start as `YYYY-MM-DD hh:mm:ss UTC`, if known.
    pub fn started_utc(&self) -> Option<String> {
        (self.started_unix_s > 0).then(|| utc(self.started_unix_s))
    }

    /// This run as one of the runs of a merged report.
    pub fn as_shard(&self) -> ShardInfo {
        ShardInfo {
            shard: self.shard.clone(),
            run_id: self.run_id.clone(),
            host: self.host.clone(),
            cameras: self.cameras,
            duration_s: self.duration_s,
            started_unix_s: self.started_unix_s,
            cpu: self.cpu,
        }
    }

    /// The runs this report holds: its [`RunInfo::shards`] if merged, else itself.
    pub fn runs(&self) -> Vec<ShardInfo> {
        if self.shards.is_empty() {
            vec![self.as_shard()]
        } else {
            self.shards.clone()
        }
    }

    /// The `info` object of the JSON report.
    pub fn to_json(&self) -> Value {
        let (cpu_s, cpu_user_s, cpu_system_s) = cpu_json(&self.cpu);
        let settings: Vec<Value> = self
            .settings
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let shards: Vec<Value> = self
            .shards
            .iter()
            .map(|s| {
                let (cpu_s, cpu_user_s, cpu_system_s) = cpu_json(&s.cpu);
                json!({
                    "shard": s.shard, "run_id": s.run_id, "host": s.host, "cameras": s.cameras,
                    "duration_s": s.duration_s, "started_unix_s": s.started_unix_s,
                    "cpu_s": cpu_s, "cpu_user_s": cpu_user_s, "cpu_system_s": cpu_system_s,
                })
            })
            .collect();
        json!({
            "target": self.target, "transport": self.transport, "cameras": self.cameras,
            "cores": self.cores, "duration_s": self.duration_s, "stop_reason": self.stop_reason,
            "cpu_s": cpu_s, "cpu_user_s": cpu_user_s, "cpu_system_s": cpu_system_s,
            "peak_rss_bytes": self.peak_rss_bytes, "shard": self.shard,
            "run_id": self.run_id, "started_unix_s": self.started_unix_s,
            "started": (self.started_unix_s > 0).then(|| iso(self.started_unix_s)),
            "host": self.host, "version": self.version, "commit": self.commit,
            "settings": settings,
            "shards": shards,
        })
    }

    /// Reads the `info` object written by [`RunInfo::to_json`] (missing fields read as empty,
    /// so older reports still load).
    pub fn from_json(i: &Value) -> RunInfo {
        let settings = i
            .get("settings")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|kv| (text(kv, "key"), text(kv, "value")))
                    .filter(|(k, _)| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let shards = i
            .get("shards")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|s| ShardInfo {
                        shard: s.get("shard").and_then(Value::as_str).map(String::from),
                        run_id: text(s, "run_id"),
                        host: text(s, "host"),
                        cameras: num(s, "cameras"),
                        duration_s: s.get("duration_s").and_then(Value::as_f64).unwrap_or(0.0),
                        started_unix_s: num(s, "started_unix_s"),
                        cpu: cpu_from_json(s),
                    })
                    .collect()
            })
            .unwrap_or_default();
        RunInfo {
            target: text(i, "target"),
            transport: text(i, "transport"),
            cameras: num(i, "cameras"),
            cores: num(i, "cores") as usize,
            duration_s: i.get("duration_s").and_then(Value::as_f64).unwrap_or(0.0),
            stop_reason: text(i, "stop_reason"),
            cpu: cpu_from_json(i),
            peak_rss_bytes: i.get("peak_rss_bytes").and_then(Value::as_u64),
            shard: i.get("shard").and_then(Value::as_str).map(String::from),
            run_id: text(i, "run_id"),
            started_unix_s: num(i, "started_unix_s"),
            host: text(i, "host"),
            version: text(i, "version"),
            commit: text(i, "commit"),
            settings,
            shards,
        }
    }

    /// The info of several reports added up (the shards of one fleet): cameras, cores and
    /// CPU summed, the longest duration, the earliest start, every run kept in
    /// [`RunInfo::shards`]; a fact or setting on which they differ lists each value with the
    /// runs that had it.
    pub fn merge(infos: &[&RunInfo]) -> RunInfo {
        let shards: Vec<ShardInfo> = infos.iter().flat_map(|i| i.runs()).collect();
        let mut m = RunInfo {
            stop_reason: "merged".into(),
            target: distinct(infos.iter().map(|i| i.target.as_str())),
            transport: distinct(infos.iter().map(|i| i.transport.as_str())),
            run_id: distinct(shards.iter().map(|s| s.run_id.as_str())).replace(", ", "+"),
            host: distinct(infos.iter().map(|i| i.host.as_str())),
            version: distinct(infos.iter().map(|i| i.version.as_str())),
            commit: distinct(infos.iter().map(|i| i.commit.as_str())),
            started_unix_s: infos
                .iter()
                .map(|i| i.started_unix_s)
                .filter(|&s| s > 0)
                .min()
                .unwrap_or(0),
            settings: merge_settings(infos),
            ..RunInfo::default()
        };
        for i in infos {
            m.cameras += i.cameras;
            m.cores += i.cores;
            m.duration_s = m.duration_s.max(i.duration_s);
            m.cpu.user += i.cpu.user;
            m.cpu.system += i.cpu.system;
        }
        m.shards = shards;
        m
    }
}

/// Settings of several runs: a key's value where all agree, else each value with the runs
/// that had it (`34 (shard 0/3); 33 (shard 1/3, shard 2/3)`).
fn merge_settings(infos: &[&RunInfo]) -> Vec<(String, String)> {
    let mut keys: Vec<&str> = Vec::new();
    for i in infos {
        for (k, _) in &i.settings {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    keys.into_iter()
        .map(|k| {
            // (value, labels of the runs that had it), in first-seen order.
            let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
            for i in infos {
                let v = i
                    .settings
                    .iter()
                    .find(|(key, _)| key == k)
                    .map_or("(not set)", |(_, v)| v.as_str());
                let label = i.runs().iter().map(ShardInfo::label).collect::<Vec<_>>();
                match groups.iter_mut().find(|(g, _)| *g == v) {
                    Some((_, labels)) => labels.extend(label),
                    None => groups.push((v, label)),
                }
            }
            let value = if groups.len() == 1 {
                groups[0].0.to_string()
            } else {
                groups
                    .iter()
                    .map(|(v, labels)| format!("{v} ({})", labels.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            (k.to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(k: u64, run: u32, cameras: u64, cpu_ms: u64) -> RunInfo {
        RunInfo {
            target: "127.0.0.1:5060".into(),
            transport: "udp".into(),
            cameras,
            cores: 1,
            duration_s: 3.0 + k as f64,
            stop_reason: "duration elapsed".into(),
            cpu: CpuTime {
                user: Duration::from_millis(cpu_ms),
                system: Duration::from_millis(10),
            },
            shard: Some(format!("{k}/3")),
            settings: vec![
                ("cameras".into(), cameras.to_string()),
                ("rate".into(), "100/s".into()),
            ],
            ..RunInfo::stamp(run, SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 + k))
        }
    }

    #[test]
    fn stamp_names_the_run_the_build_and_the_start() {
        let i = RunInfo::stamp(0xab, SystemTime::UNIX_EPOCH + Duration::from_secs(86_400));
        assert_eq!(i.run_id, "000000ab");
        assert_eq!(i.started_utc().as_deref(), Some("1970-01-02 00:00:00 UTC"));
        assert_eq!(i.version, env!("CARGO_PKG_VERSION"));
        assert!(!i.commit.is_empty() && !i.host.is_empty());
        assert_eq!(RunInfo::default().started_utc(), None);
    }

    #[test]
    fn info_round_trips_through_json_and_old_reports_still_load() {
        let a = shard(0, 7, 34, 400);
        let back = RunInfo::from_json(&a.to_json());
        assert_eq!(back.run_id, "00000007");
        assert_eq!(back.settings, a.settings);
        assert_eq!(back.cpu, a.cpu);
        assert_eq!(back.as_shard(), a.as_shard());
        assert_eq!(a.to_json()["started"], "1970-01-01T00:16:40Z");
        let old = RunInfo::from_json(&json!({"cpu_s": 1.5, "cameras": 3}));
        assert_eq!(
            (old.cpu.total(), old.cameras),
            (Duration::from_millis(1500), 3)
        );
        assert!(old.run_id.is_empty() && old.settings.is_empty());
    }

    #[test]
    fn merge_keeps_each_run_and_says_where_settings_differ() {
        let (a, b, c) = (
            shard(0, 1, 34, 400),
            shard(1, 2, 33, 300),
            shard(2, 3, 33, 200),
        );
        let m = RunInfo::merge(&[&a, &b, &c]);
        assert_eq!((m.cameras, m.cores, m.duration_s), (100, 3, 5.0));
        assert_eq!(m.cpu.total(), Duration::from_millis(900 + 30));
        assert_eq!(m.started_unix_s, 1_000);
        assert_eq!(m.run_id, "00000001+00000002+00000003");
        let cpus: Vec<u128> = m.shards.iter().map(|s| s.cpu.user.as_millis()).collect();
        assert_eq!(cpus, [400, 300, 200]);
        assert_eq!(
            m.settings,
            [
                (
                    "cameras".to_string(),
                    "34 (shard 0/3); 33 (shard 1/3, shard 2/3)".to_string()
                ),
                ("rate".to_string(), "100/s".to_string()),
            ]
        );
        // A merged report merged again keeps the runs it holds, not itself.
        let again = RunInfo::merge(&[&RunInfo::from_json(&m.to_json())]);
        assert_eq!(again.shards, m.shards);
    }
}
