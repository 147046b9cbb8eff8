//! `gbswarm serve`: the registrar's flags and how they become a [`ServeConfig`].

use super::Error;
use crate::gb::DeviceId;
use crate::profile::Span;
use crate::server::ServeConfig;
use crate::server::registrar::{Config, Passwords, Redirect};
use std::path::PathBuf;

/// Flags of `gbswarm serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address for UDP and TCP.
    #[arg(long, default_value = "127.0.0.1:5060")]
    listen: std::net::SocketAddr,
    /// Worker threads [default: all cores].
    #[arg(long)]
    cores: Option<usize>,
    /// The server's 20-digit ID.
    #[arg(long, default_value = "34020000002000000001")]
    server_id: String,
    /// Digest realm [default: the first 10 digits of the server ID].
    #[arg(long)]
    realm: Option<String>,
    /// The password every device uses.
    #[arg(long, default_value = "12345678", conflicts_with = "passwords")]
    password: String,
    /// A file of `device-id password` lines (`#` comments): only these devices may register.
    #[arg(long, value_name = "FILE")]
    passwords: Option<PathBuf>,
    /// Shortest expiry accepted; below it: 423 Interval Too Brief.
    #[arg(long, default_value = "60s")]
    min_expires: Span,
    /// Longest expiry granted; longer requests are clamped.
    #[arg(long, default_value = "3600s")]
    max_expires: Span,
    /// Keepalive interval of the devices.
    #[arg(long, default_value = "60s")]
    heartbeat: Span,
    /// Missed keepalives after which a device counts as offline.
    #[arg(long, default_value_t = 3)]
    heartbeat_misses: u32,
    /// Challenge without qop=auth (plain RFC 2069-style digest).
    #[arg(long)]
    no_qop: bool,
    /// Answer MESSAGEs from unregistered devices with 200 instead of 403.
    #[arg(long)]
    allow_unregistered: bool,
    /// Redirect mode (GB28181-2022): answer authenticated REGISTERs with 302 to one of these,
    /// each `SERVERID@HOST:PORT`.
    #[arg(long, value_delimiter = ',', value_name = "ID@ADDR,...")]
    redirect_to: Vec<String>,
    /// Choose redirect targets round-robin instead of by a stable hash of the device ID.
    #[arg(long)]
    round_robin: bool,
    /// Lifetime of a digest nonce; older ones get 401 with stale=true.
    #[arg(long, default_value = "300s")]
    nonce_ttl: Span,
    /// Close TCP connections silent this long.
    #[arg(long, default_value = "120s")]
    tcp_idle: Span,
    /// Most TCP connections per worker.
    #[arg(long, default_value_t = 100_000)]
    max_connections: usize,
    /// Most half-open TCP connections (no complete message yet) per source address and
    /// worker.
    #[arg(long, default_value_t = 256)]
    max_half_open: usize,
    /// After a device's first registration, send it a Catalog query as platforms do, and
    /// count the Catalog answers.
    #[arg(long)]
    query_catalog: bool,
    /// Print a line of counters every second.
    #[arg(long)]
    stats: bool,
}

impl ServeArgs {
    /// The registrar configuration, or the first flag that cannot be used.
    pub fn config(&self) -> Result<ServeConfig, Error> {
        let bad = |key: &'static str, message: String| Error::Invalid {
            command: "serve",
            key,
            message,
        };
        let server_id = self
            .server_id
            .parse::<DeviceId>()
            .map_err(|e| bad("server-id", e.to_string()))?;
        let passwords = match &self.passwords {
            None => Passwords::Shared(self.password.clone()),
            Some(path) => Passwords::PerDevice(
                crate::server::load_passwords(path).map_err(|e| bad("passwords", e))?,
            ),
        };
        let mut redirect = Vec::new();
        for t in &self.redirect_to {
            let parsed = t
                .split_once('@')
                .and_then(|(id, addr)| Some((id.parse().ok()?, addr.parse().ok()?)));
            match parsed {
                Some(p) => redirect.push(p),
                None => {
                    return Err(bad("redirect-to", format!("`{t}` is not SERVERID@IP:PORT")));
                }
            }
        }
        Ok(ServeConfig {
            listen: self.listen,
            cores: self
                .cores
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            registrar: Config {
                server_id,
                realm: self
                    .realm
                    .clone()
                    .unwrap_or_else(|| self.server_id[..10].to_string()),
                passwords,
                min_expires: self.min_expires.0.as_secs() as u32,
                max_expires: self.max_expires.0.as_secs() as u32,
                heartbeat_ms: self.heartbeat.0.as_millis() as u64,
                heartbeat_misses: self.heartbeat_misses,
                qop: !self.no_qop,
                allow_unregistered: self.allow_unregistered,
                redirect: (!redirect.is_empty()).then_some(Redirect {
                    targets: redirect,
                    round_robin: self.round_robin,
                }),
                nonce_ttl_s: self.nonce_ttl.0.as_secs(),
                query_catalog: self.query_catalog,
                via_host: String::new(),
            },
            tcp_idle: self.tcp_idle.0,
            tcp_partial: std::time::Duration::from_secs(10),
            max_connections: self.max_connections,
            max_half_open_per_source: self.max_half_open,
        })
    }

    /// Runs the registrar until Ctrl-C / SIGTERM, then prints a summary.
    pub fn execute(self) -> Result<(), Error> {
        let cfg = self.config()?;
        crate::runner::serve(cfg, self.stats).map_err(Error::failed("serve"))
    }
}
