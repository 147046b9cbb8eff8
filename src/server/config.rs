//! How a registrar behaves: its identity, passwords, expiry bounds, digest, redirect, the
//! edition it answers as, and its defences. One value, shared read-only by every worker.

use super::guard::GuardConfig;
use crate::gb::{DeviceId, GbVersion};
use crate::sip::digest::Algorithm;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Where passwords come from.
#[derive(Clone, Debug)]
pub enum Passwords {
    /// One password for every device.
    Shared(String),
    /// A password per device; unknown devices are refused.
    PerDevice(HashMap<DeviceId, String>),
}

/// GB28181-2022 redirect: answer authenticated REGISTERs with 302 to one of these servers.
#[derive(Clone, Debug)]
pub struct Redirect {
    /// `(server id, address)` of each target.
    pub targets: Vec<(DeviceId, SocketAddr)>,
    /// Round-robin instead of a stable hash of the device ID.
    pub round_robin: bool,
}

/// Registrar behaviour.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server's 20-digit ID.
    pub server_id: DeviceId,
    /// Digest realm.
    pub realm: String,
    /// Passwords.
    pub passwords: Passwords,
    /// Below this requested expiry (and not 0): 423 Interval Too Brief.
    pub min_expires: u32,
    /// Granted expiries are clamped down to this.
    pub max_expires: u32,
    /// Keepalive interval devices use (ms).
    pub heartbeat_ms: u64,
    /// Missed keepalives after which a device is offline.
    pub heartbeat_misses: u32,
    /// Challenge with qop=auth.
    pub qop: bool,
    /// Digest algorithms offered, in order of preference: one `WWW-Authenticate` each, with
    /// the same nonce (RFC 8760 3); an answer with any other algorithm is refused (403).
    pub digest: Vec<Algorithm>,
    /// Answer MESSAGEs from unregistered devices 200 instead of 403.
    pub allow_unregistered: bool,
    /// Redirect mode.
    pub redirect: Option<Redirect>,
    /// Nonce lifetime (s).
    pub nonce_ttl_s: u64,
    /// After a device's first registration, send it a Catalog query as platforms do.
    pub query_catalog: bool,
    /// Our `host:port` for the Via of the queries we send.
    pub via_host: String,
    /// The GB/T 28181 edition we follow: our `X-GB-Ver` on every answer to a REGISTER, and
    /// the charset of our queries.
    pub gb_version: GbVersion,
    /// Failed-authentication bans and the per-source rate limit.
    pub guard: GuardConfig,
}

impl Config {
    /// A registrar for `server_id` with one shared `password`, realm = the ID's domain, and
    /// the field defaults: expiry 60 s to 1 h, 60 s keepalives with 3 misses, qop=auth, MD5,
    /// 5-minute nonces, no redirect, no catalog queries, GB/T 28181-2022 (`X-GB-Ver: 3.0`),
    /// the default bans ([`GuardConfig::new`]) and no rate limit.
    pub fn new(server_id: DeviceId, password: &str) -> Config {
        Config {
            server_id,
            realm: String::from_utf8_lossy(server_id.domain()).into_owned(),
            passwords: Passwords::Shared(password.into()),
            min_expires: 60,
            max_expires: 3600,
            heartbeat_ms: 60_000,
            heartbeat_misses: 3,
            qop: true,
            digest: vec![Algorithm::MD5],
            allow_unregistered: false,
            redirect: None,
            nonce_ttl_s: 300,
            query_catalog: false,
            via_host: String::new(),
            gb_version: GbVersion::V2022,
            guard: GuardConfig::new(),
        }
    }

    /// The digest algorithms offered, in order: [`digest`](Self::digest), or MD5 if it is
    /// empty.
    pub fn algorithms(&self) -> &[Algorithm] {
        if self.digest.is_empty() {
            &[Algorithm::MD5]
        } else {
            &self.digest
        }
    }
}
