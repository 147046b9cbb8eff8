//! The registrar's decisions, sans-IO: one request's bytes, its source and the time in; the
//! response bytes (or nothing) out. No sockets, no clock, no allocation per message beyond a
//! registry entry on a device's first registration.

use super::nonce::{Check, Nonces};
use super::registry::{Entry, Registry};
use crate::gb::{DeviceId, Manscdp, Root};
use crate::sip::write::push_u64;
use crate::sip::{Header, Limits, Message, Method, QStr, digest, parse_datagram, response_to};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
}

impl Config {
    /// A registrar for `server_id` with one shared `password`, realm = the ID's domain, and
    /// the field defaults: expiry 60 s to 1 h, 60 s keepalives with 3 misses, qop=auth,
    /// 5-minute nonces, no redirect, no catalog queries.
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
            allow_unregistered: false,
            redirect: None,
            nonce_ttl_s: 300,
            query_catalog: false,
            via_host: String::new(),
        }
    }
}

/// Counters of one worker (merged for reports).
#[derive(Clone, Debug)]
pub struct Stats {
    /// Requests by method: REGISTER, MESSAGE, OPTIONS, other.
    pub requests: [u64; 4],
    /// Responses sent by status code.
    pub responses: Vec<(u16, u64)>,
    /// Accepted registrations and refreshes.
    pub registrations: u64,
    /// Accepted unregistrations.
    pub unregistrations: u64,
    /// Keepalives from registered devices.
    pub keepalives: u64,
    /// 302 redirects sent.
    pub redirects: u64,
    /// Input that did not parse, or lacked what a response needs: dropped.
    pub dropped_malformed: u64,
    /// Replayed credentials refused.
    pub replays: u64,
    /// TCP connections refused over the limit.
    pub refused_connections: u64,
    /// Catalog queries sent (with `query_catalog`).
    pub queries_sent: u64,
    /// Catalog response messages received, and the items they listed.
    pub catalog_responses: u64,
    /// See `catalog_responses`.
    pub catalog_items: u64,
    /// Time spent handling each message, µs (measured by the workers).
    pub service_us: hdrhistogram::Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            requests: [0; 4],
            responses: Vec::new(),
            registrations: 0,
            unregistrations: 0,
            keepalives: 0,
            redirects: 0,
            dropped_malformed: 0,
            replays: 0,
            refused_connections: 0,
            queries_sent: 0,
            catalog_responses: 0,
            catalog_items: 0,
            service_us: crate::stats::snapshot::new_histogram(),
        }
    }
}

impl Stats {
    fn responded(&mut self, code: u16) {
        match self.responses.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => self.responses.push((code, 1)),
        }
    }

    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &Stats) {
        for (a, b) in self.requests.iter_mut().zip(o.requests) {
            *a += b;
        }
        for &(c, n) in &o.responses {
            match self.responses.iter_mut().find(|(x, _)| *x == c) {
                Some((_, m)) => *m += n,
                None => self.responses.push((c, n)),
            }
        }
        self.responses.sort_unstable();
        self.registrations += o.registrations;
        self.unregistrations += o.unregistrations;
        self.keepalives += o.keepalives;
        self.redirects += o.redirects;
        self.dropped_malformed += o.dropped_malformed;
        self.replays += o.replays;
        self.refused_connections += o.refused_connections;
        self.queries_sent += o.queries_sent;
        self.catalog_responses += o.catalog_responses;
        self.catalog_items += o.catalog_items;
        let _ = self.service_us.add(&o.service_us);
    }

    /// Responses with this code.
    pub fn response(&self, code: u16) -> u64 {
        self.responses
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0, |(_, n)| *n)
    }
}

/// What the transport should do after `handle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send `out` to the source.
    Send,
    /// Send nothing.
    Nothing,
    /// Send `out`, then close the connection (TCP) — the peer sent garbage.
    SendAndClose,
    /// Close without answering (TCP) — nothing to answer to.
    Close,
    /// Send `out[..n]` (the response) and then `out[n..]` (a request of ours) to the source.
    SendTwo(usize),
}

/// Writes a 400 for a request that failed to parse, copying only Via, From, To, Call-ID and
/// CSeq lines that are themselves well formed (printable, parsed by the strict accessors), so
/// nothing else from the bad message is reflected. False if any of them is missing or bad.
fn bad_request(bytes: &[u8], source: SocketAddr, out: &mut Vec<u8>) -> bool {
    use crate::sip::{CSeq, HeaderKind, NameAddr, StartLine, Via};
    let head_end = memchr::memmem::find(bytes, b"\r\n\r\n").unwrap_or(bytes.len().min(8192));
    let head = &bytes[..head_end];
    // Only a request line of a SIP request is answered.
    let first = head.split(|&b| b == b'\n').next().unwrap_or(b"");
    if !first.ends_with(b"SIP/2.0\r") && !first.ends_with(b"SIP/2.0") {
        return false;
    }
    let mut hdrs = [Header::EMPTY; 8];
    let mut n = 0;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = crate::sip::parse::trim(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = crate::sip::parse::trim(&line[..colon]);
        let value = crate::sip::parse::trim(&line[colon + 1..]);
        let kind = HeaderKind::of(name);
        if !value.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            continue;
        }
        let valid = match kind {
            HeaderKind::Via => Via::parse(value).is_some_and(|v| v.branch().is_some()),
            HeaderKind::From | HeaderKind::To => NameAddr::parse(value).is_some(),
            HeaderKind::CallId => !value.is_empty() && value.len() <= 128,
            HeaderKind::CSeq => CSeq::parse(value).is_some(),
            _ => false,
        };
        if valid && n < hdrs.len() && !hdrs[..n].iter().any(|h| h.kind == kind) {
            hdrs[n] = Header { name, value, kind };
            n += 1;
        }
    }
    if n < 5 {
        return false;
    }
    let msg = Message {
        start: StartLine::Request {
            method: Method::Other(b""),
            uri: b"",
        },
        headers: &hdrs[..n],
        body: b"",
    };
    response_to(out, &msg, 400, Some(b"gbs"), Some(&source)).finish(b"");
    true
}

/// The registrar core shared by all workers.
pub struct Registrar {
    cfg: Config,
    nonces: Nonces,
    registry: Arc<Registry>,
    rr: AtomicUsize,
    salt: std::sync::atomic::AtomicU32,
}

fn hash64(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

impl Registrar {
    /// A registrar over `registry` with nonces keyed by `secret`.
    pub fn new(cfg: Config, registry: Arc<Registry>, secret: [u8; 16]) -> Registrar {
        Registrar {
            nonces: Nonces::new(secret, cfg.nonce_ttl_s),
            cfg,
            registry,
            rr: AtomicUsize::new(0),
            salt: std::sync::atomic::AtomicU32::new(1),
        }
    }

    /// The device registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Keepalive silence after which a device is offline (ms).
    pub fn max_silence_ms(&self) -> u64 {
        self.cfg
            .heartbeat_ms
            .saturating_mul(u64::from(self.cfg.heartbeat_misses.max(1)))
    }

    /// Handles one message (a datagram or a framed TCP message) from `source` at `now_ms`
    /// (server clock) and `unix_ms` (wall clock, for the Date header); the response goes into
    /// `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn handle(
        &self,
        now_ms: u64,
        unix_ms: u64,
        bytes: &[u8],
        source: SocketAddr,
        tcp: bool,
        out: &mut Vec<u8>,
        stats: &mut Stats,
    ) -> Reply {
        let mut headers = [Header::EMPTY; 64];
        let msg = match parse_datagram(bytes, &mut headers, &Limits::default()) {
            Ok(Some(m)) => m,
            Ok(None) => return Reply::Nothing,
            Err(_) => {
                // Answer 400 when the headers a response needs can still be recovered and
                // validated; otherwise there is no one safe to answer.
                if bad_request(bytes, source, out) {
                    stats.responded(400);
                    return if tcp {
                        Reply::SendAndClose
                    } else {
                        Reply::Send
                    };
                }
                stats.dropped_malformed += 1;
                return if tcp { Reply::Close } else { Reply::Nothing };
            }
        };
        let Some(method) = msg.method() else {
            // A response to a query we sent: nothing to answer.
            return Reply::Nothing;
        };
        // Anything we answer needs these; without them there is no one to answer to.
        if msg.via().is_none()
            || msg.cseq().is_none()
            || msg.call_id().is_none()
            || msg.from().is_none()
        {
            stats.dropped_malformed += 1;
            return if tcp { Reply::Close } else { Reply::Nothing };
        }
        stats.requests[match method {
            Method::Register => 0,
            Method::Message => 1,
            Method::Options => 2,
            _ => 3,
        }] += 1;
        let mut new_device = None;
        let code = match method {
            Method::Register => {
                let (code, new) = self.register(now_ms, unix_ms, &msg, source, tcp, out, stats);
                new_device = new;
                code
            }
            Method::Message => self.message(now_ms, &msg, source, out, stats),
            Method::Options => self.simple(&msg, 200, source, out),
            Method::Ack => return Reply::Nothing,
            _ => {
                let mut w = response_to(out, &msg, 405, Some(b"gbs"), Some(&source));
                w.header(b"Allow", b"REGISTER, MESSAGE, OPTIONS, ACK");
                w.finish(b"");
                405
            }
        };
        stats.responded(code);
        if let (Some(dev), true) = (new_device, self.cfg.query_catalog) {
            let split = out.len();
            self.write_catalog_query(&dev, source, tcp, out);
            stats.queries_sent += 1;
            return Reply::SendTwo(split);
        }
        if code == 400 && tcp {
            Reply::SendAndClose
        } else {
            Reply::Send
        }
    }

    /// Appends a Catalog query MESSAGE to `dev` at `source`.
    fn write_catalog_query(
        &self,
        dev: &DeviceId,
        source: SocketAddr,
        tcp: bool,
        out: &mut Vec<u8>,
    ) {
        let sn = self.salt.fetch_add(1, Ordering::Relaxed);
        let mut body = Vec::with_capacity(256);
        crate::gb::manscdp::write_query(&mut body, b"Catalog", sn, dev);
        let mut uri = Vec::with_capacity(64);
        crate::sip::write::push_sip_uri(&mut uri, dev.as_bytes(), &source);
        let mut msg = Vec::with_capacity(768);
        let mut w = crate::sip::Writer::request(&mut msg, Method::Message, &uri);
        w.header_with(b"Via", |b| {
            b.extend_from_slice(if tcp {
                b"SIP/2.0/TCP "
            } else {
                b"SIP/2.0/UDP "
            });
            b.extend_from_slice(self.cfg.via_host.as_bytes());
            b.extend_from_slice(b";rport;branch=z9hG4bKq");
            push_u64(b, u64::from(sn));
        })
        .header_with(b"From", |b| {
            b.extend_from_slice(b"<sip:");
            b.extend_from_slice(self.cfg.server_id.as_bytes());
            b.push(b'@');
            b.extend_from_slice(self.cfg.realm.as_bytes());
            b.extend_from_slice(b">;tag=q");
            push_u64(b, u64::from(sn));
        })
        .header_with(b"To", |b| {
            b.push(b'<');
            b.extend_from_slice(&uri);
            b.push(b'>');
        })
        .header_with(b"Call-ID", |b| {
            b.extend_from_slice(b"q");
            push_u64(b, u64::from(sn));
            b.extend_from_slice(b"@gbswarm-serve");
        })
        .header(b"CSeq", b"1 MESSAGE")
        .header(b"Max-Forwards", b"70")
        .header(b"Content-Type", crate::gb::manscdp::CONTENT_TYPE);
        w.finish(&body);
        out.extend_from_slice(&msg);
    }

    fn simple(
        &self,
        msg: &Message<'_, '_>,
        code: u16,
        source: SocketAddr,
        out: &mut Vec<u8>,
    ) -> u16 {
        response_to(out, msg, code, Some(b"gbs"), Some(&source)).finish(b"");
        code
    }

    fn challenge(
        &self,
        msg: &Message<'_, '_>,
        now_ms: u64,
        stale: bool,
        source: SocketAddr,
        out: &mut Vec<u8>,
    ) -> u16 {
        let salt = self.salt.fetch_add(1, Ordering::Relaxed);
        let nonce = self
            .nonces
            .mint(now_ms / 1000, salt, self.cfg.realm.as_bytes());
        let mut w = response_to(out, msg, 401, Some(b"gbs"), Some(&source));
        w.header_with(b"WWW-Authenticate", |b| {
            digest::write_challenge(
                b,
                self.cfg.realm.as_bytes(),
                &nonce,
                None,
                self.cfg.qop,
                stale,
            )
        });
        w.finish(b"");
        401
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        &self,
        now_ms: u64,
        unix_ms: u64,
        msg: &Message<'_, '_>,
        source: SocketAddr,
        tcp: bool,
        out: &mut Vec<u8>,
        stats: &mut Stats,
    ) -> (u16, Option<DeviceId>) {
        let Some(dev) = msg
            .from()
            .and_then(|f| f.user())
            .and_then(|u| DeviceId::parse(u).ok())
        else {
            return (self.simple(msg, 400, source, out), None);
        };
        let asked = msg
            .contact()
            .and_then(|c| c.expires())
            .or(msg.expires())
            .unwrap_or(3600);
        if asked != 0 && asked < self.cfg.min_expires {
            let mut w = response_to(out, msg, 423, Some(b"gbs"), Some(&source));
            w.header_u64(b"Min-Expires", u64::from(self.cfg.min_expires));
            w.finish(b"");
            return (423, None);
        }
        let Some(auth) = msg.authorization() else {
            return (self.challenge(msg, now_ms, false, source, out), None);
        };
        let nonce_ts = match auth.nonce.map(|n| {
            self.nonces
                .check(n.raw(), now_ms / 1000, self.cfg.realm.as_bytes())
        }) {
            Some(Check::Fresh(ts)) => ts,
            Some(Check::Stale) => return (self.challenge(msg, now_ms, true, source, out), None),
            _ => return (self.challenge(msg, now_ms, false, source, out), None),
        };
        let realm_ok = auth
            .realm
            .is_some_and(|r| r.eq_bytes(self.cfg.realm.as_bytes()));
        let user_ok = auth.username.is_some_and(|u| u.eq_bytes(dev.as_bytes()));
        let password = match &self.cfg.passwords {
            Passwords::Shared(p) => Some(p.as_str()),
            Passwords::PerDevice(m) => m.get(&dev).map(String::as_str),
        };
        let verified = realm_ok
            && user_ok
            && password.is_some_and(|p| {
                let ha1 = digest::ha1(
                    dev.as_bytes(),
                    &QStr::new(self.cfg.realm.as_bytes()),
                    p.as_bytes(),
                );
                digest::verify(&auth, b"REGISTER", &ha1)
            });
        if !verified {
            return (self.simple(msg, 403, source, out), None);
        }
        // Replays: a nonce count must grow within a nonce (qop=auth); without qop a nonce may
        // be used once per registration (Call-ID). A retransmission of the accepted request
        // itself (same Call-ID and CSeq) is answered again.
        let nc = auth
            .nc
            .and_then(|n| {
                std::str::from_utf8(n.raw())
                    .ok()
                    .and_then(|s| u32::from_str_radix(s, 16).ok())
            })
            .unwrap_or(0);
        let call = hash64(msg.call_id().unwrap_or(b""));
        let cseq = msg.cseq().map_or(0, |c| c.seq);
        let call_cseq = call ^ u64::from(cseq).rotate_left(40);
        let replay = self.registry.get(&dev).is_some_and(|e| {
            let retransmission = e.call_id == call_cseq;
            e.nonce_ts == nonce_ts && nc <= e.nc && !retransmission
        });
        if replay {
            stats.replays += 1;
            return (self.challenge(msg, now_ms, false, source, out), None);
        }
        if asked == 0 {
            self.registry.with(&dev, |m| m.remove(&dev));
            stats.unregistrations += 1;
            let mut w = response_to(out, msg, 200, Some(b"gbs"), Some(&source));
            w.header(b"Expires", b"0");
            w.finish(b"");
            return (200, None);
        }
        let granted = asked.clamp(self.cfg.min_expires.max(1), self.cfg.max_expires.max(1));
        if let Some(r) = &self.cfg.redirect
            && !r.targets.is_empty()
        {
            let i = if r.round_robin {
                self.rr.fetch_add(1, Ordering::Relaxed) % r.targets.len()
            } else {
                (dev.number() % r.targets.len() as u128) as usize
            };
            let (id, addr) = r.targets[i];
            let mut w = response_to(out, msg, 302, Some(b"gbs"), Some(&source));
            w.header_with(b"Contact", |b| {
                crate::sip::write::push_name_addr(b, id.as_bytes(), &addr)
            });
            w.header_u64(b"Expires", u64::from(granted));
            w.finish(b"");
            stats.redirects += 1;
            return (302, None);
        }
        let entry = Entry {
            expires_at: now_ms + u64::from(granted) * 1000,
            last_seen: now_ms,
            addr: source,
            tcp,
            call_id: call_cseq,
            nonce_ts,
            nc,
        };
        let previous = self.registry.with(&dev, |m| m.insert(dev, entry));
        let new_device = previous.is_none_or(|p| now_ms >= p.expires_at);
        stats.registrations += 1;
        let contact = msg.contact().map(|c| c.uri).unwrap_or(b"");
        let mut w = response_to(out, msg, 200, Some(b"gbs"), Some(&source));
        w.header_with(b"Contact", |b| {
            b.push(b'<');
            b.extend_from_slice(contact);
            b.extend_from_slice(b">;expires=");
            push_u64(b, u64::from(granted));
        });
        w.header_u64(b"Expires", u64::from(granted));
        w.header(
            b"Date",
            crate::gb::time::DateTime::new(unix_ms, true).as_bytes(),
        );
        w.finish(b"");
        (200, new_device.then_some(dev))
    }

    fn message(
        &self,
        now_ms: u64,
        msg: &Message<'_, '_>,
        source: SocketAddr,
        out: &mut Vec<u8>,
        stats: &mut Stats,
    ) -> u16 {
        let dev = msg
            .from()
            .and_then(|f| f.user())
            .and_then(|u| DeviceId::parse(u).ok());
        let registered = dev.is_some_and(|d| {
            self.registry.with(&d, |m| match m.get_mut(&d) {
                Some(e) if now_ms < e.expires_at => {
                    e.last_seen = now_ms;
                    true
                }
                _ => false,
            })
        });
        let body = Manscdp::parse(msg.body);
        let keepalive = body.is_some_and(|x| x.root == Root::Notify && x.cmd_type == b"Keepalive");
        if body.is_some_and(|x| x.root == Root::Response && x.cmd_type == b"Catalog") {
            stats.catalog_responses += 1;
            stats.catalog_items += msg.body.windows(6).filter(|w| w == b"<Item>").count() as u64;
        }
        if !registered && !self.cfg.allow_unregistered {
            return self.simple(msg, 403, source, out);
        }
        if keepalive && registered {
            stats.keepalives += 1;
        }
        self.simple(msg, 200, source, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{AuthParams, Writer};

    const NOW: u64 = 1_000_000;
    const UNIX: u64 = 1_795_475_772_123;

    fn cfg() -> Config {
        Config::new("34020000002000000001".parse().unwrap(), "12345678")
    }

    fn registrar(c: Config) -> Registrar {
        Registrar::new(c, Arc::new(Registry::new(4)), [3; 16])
    }

    fn src() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    /// A REGISTER from device `dev`, with `auth` as Authorization if given.
    fn register(dev: &str, cseq: u32, expires: u32, auth: Option<&[u8]>) -> Vec<u8> {
        let mut b = Vec::new();
        let mut w = Writer::request(
            &mut b,
            Method::Register,
            b"sip:34020000002000000001@3402000000",
        );
        w.header(b"Via", b"SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bK1")
            .header_with(b"From", |x| {
                x.extend_from_slice(b"<sip:");
                x.extend_from_slice(dev.as_bytes());
                x.extend_from_slice(b"@3402000000>;tag=1");
            })
            .header_with(b"To", |x| {
                x.extend_from_slice(b"<sip:");
                x.extend_from_slice(dev.as_bytes());
                x.extend_from_slice(b"@3402000000>");
            })
            .header(b"Call-ID", b"c1")
            .header_with(b"CSeq", |x| {
                push_u64(x, u64::from(cseq));
                x.extend_from_slice(b" REGISTER");
            })
            .header(b"Contact", b"<sip:dev@127.0.0.1:40000>")
            .header_u64(b"Expires", u64::from(expires));
        if let Some(a) = auth {
            w.header(b"Authorization", a);
        }
        w.finish(b"");
        b
    }

    fn handle(r: &Registrar, now: u64, bytes: &[u8], stats: &mut Stats) -> (u16, Vec<u8>) {
        let mut out = Vec::new();
        let reply = r.handle(now, UNIX, bytes, src(), false, &mut out, stats);
        if reply == Reply::Nothing {
            return (0, out);
        }
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(&out, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        (m.status().unwrap(), out.clone())
    }

    /// Answers the challenge in `resp` for `dev` with `password`, nonce count `nc`.
    fn answer(resp: &[u8], dev: &str, password: &str, nc: u32) -> Vec<u8> {
        let mut h = [Header::EMPTY; 32];
        let m = parse_datagram(resp, &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        let ch: AuthParams<'_> = m.challenge().unwrap();
        let mut a = Vec::new();
        digest::write_authorization(
            &mut a,
            &ch,
            dev.as_bytes(),
            password.as_bytes(),
            b"REGISTER",
            b"sip:34020000002000000001@3402000000",
            nc,
            b"cn",
        )
        .unwrap();
        a
    }

    const DEV: &str = "34020000001320000001";

    #[test]
    fn full_registration_refresh_and_unregister() {
        for qop in [true, false] {
            let r = registrar(Config { qop, ..cfg() });
            let mut st = Stats::default();
            let (code, ch) = handle(&r, NOW, &register(DEV, 1, 3600, None), &mut st);
            assert_eq!(code, 401);
            let auth = answer(&ch, DEV, "12345678", 1);
            let (code, ok) = handle(&r, NOW + 5, &register(DEV, 2, 7200, Some(&auth)), &mut st);
            assert_eq!(code, 200);
            let text = String::from_utf8_lossy(&ok).into_owned();
            assert!(
                text.contains("Expires: 3600"),
                "clamped to max-expires: {text}"
            );
            assert!(text.contains(";expires=3600"));
            assert!(text.contains("Date: 2026-11-23T23:16:12.123"));
            assert_eq!(r.registry().counts(NOW + 10, r.max_silence_ms()), (1, 1));
            let auth2 = answer(&ch, DEV, "12345678", 2);
            let (code, _) = handle(&r, NOW + 10, &register(DEV, 3, 0, Some(&auth2)), &mut st);
            if qop {
                assert_eq!(code, 200, "unregister with the next nonce count");
                assert_eq!(r.registry().counts(NOW + 20, r.max_silence_ms()), (0, 0));
                assert_eq!((st.registrations, st.unregistrations), (1, 1));
            } else {
                assert_eq!(code, 401, "without qop a nonce serves one registration");
            }
        }
    }

    #[test]
    fn two_challenges_in_one_second_are_both_answerable() {
        let r = registrar(cfg());
        let mut st = Stats::default();
        let (_, ch1) = handle(&r, NOW, &register(DEV, 1, 3600, None), &mut st);
        assert_eq!(
            handle(
                &r,
                NOW + 1,
                &register(DEV, 2, 3600, Some(&answer(&ch1, DEV, "12345678", 1))),
                &mut st
            )
            .0,
            200
        );
        // Unregistering within the same second: a new challenge, nc starts again at 1.
        let (_, ch2) = handle(&r, NOW + 2, &register(DEV, 3, 0, None), &mut st);
        assert_ne!(ch1, ch2);
        assert_eq!(
            handle(
                &r,
                NOW + 3,
                &register(DEV, 4, 0, Some(&answer(&ch2, DEV, "12345678", 1))),
                &mut st
            )
            .0,
            200
        );
        assert_eq!(st.replays, 0);
    }

    #[test]
    fn wrong_password_stale_nonce_and_replay() {
        let r = registrar(cfg());
        let mut st = Stats::default();
        let (_, ch) = handle(&r, NOW, &register(DEV, 1, 3600, None), &mut st);
        let bad = answer(&ch, DEV, "wrong", 1);
        assert_eq!(
            handle(&r, NOW, &register(DEV, 2, 3600, Some(&bad)), &mut st).0,
            403
        );
        let good = answer(&ch, DEV, "12345678", 1);
        // After the nonce's 300 s lifetime: 401 with stale=true.
        let (code, resp) = handle(
            &r,
            NOW + 301_000,
            &register(DEV, 2, 3600, Some(&good)),
            &mut st,
        );
        assert_eq!(code, 401);
        assert!(String::from_utf8_lossy(&resp).contains("stale=true"));
        assert_eq!(
            handle(
                &r,
                NOW + 1000,
                &register(DEV, 2, 3600, Some(&good)),
                &mut st
            )
            .0,
            200
        );
        // The same request again (a retransmission) is answered the same way...
        assert_eq!(
            handle(
                &r,
                NOW + 1500,
                &register(DEV, 2, 3600, Some(&good)),
                &mut st
            )
            .0,
            200
        );
        // ...but the same credentials on a new request are a replay: challenged again.
        assert_eq!(
            handle(
                &r,
                NOW + 2000,
                &register(DEV, 3, 3600, Some(&good)),
                &mut st
            )
            .0,
            401
        );
        assert_eq!(st.replays, 1);
        // A forged nonce is simply challenged.
        let forged = String::from_utf8(good.clone())
            .unwrap()
            .replace("nonce=\"", "nonce=\"0");
        assert_eq!(
            handle(
                &r,
                NOW,
                &register(DEV, 4, 3600, Some(forged.as_bytes())),
                &mut st
            )
            .0,
            401
        );
    }

    #[test]
    fn interval_too_brief_bad_device_and_unknown_method() {
        let r = registrar(cfg());
        let mut st = Stats::default();
        let (code, resp) = handle(&r, NOW, &register(DEV, 1, 30, None), &mut st);
        assert_eq!(code, 423);
        assert!(String::from_utf8_lossy(&resp).contains("Min-Expires: 60"));
        assert_eq!(
            handle(&r, NOW, &register("12345", 1, 3600, None), &mut st).0,
            400
        );
        let invite = String::from_utf8(register(DEV, 1, 3600, None))
            .unwrap()
            .replacen("REGISTER sip", "INVITE sip", 1);
        let (code, resp) = handle(&r, NOW, invite.as_bytes(), &mut st);
        assert_eq!(code, 405);
        assert!(String::from_utf8_lossy(&resp).contains("Allow: REGISTER, MESSAGE, OPTIONS"));
        assert_eq!(
            handle(&r, NOW, b"garbage\r\n\r\n", &mut st).0,
            0,
            "unanswerable input is dropped"
        );
        // A broken header line, but the headers a response needs are intact: 400, echoing
        // only those.
        let broken = String::from_utf8(register(DEV, 1, 3600, None))
            .unwrap()
            .replacen("Contact: <sip:dev@127.0.0.1:40000>", "Contact <script>", 1);
        assert!(broken.contains("Contact <script>"));
        let (code, resp) = handle(&r, NOW, broken.as_bytes(), &mut st);
        assert_eq!(code, 400);
        let text = String::from_utf8_lossy(&resp).into_owned();
        assert!(
            !text.contains("script")
                && text.contains("Call-ID: c1")
                && text.contains("CSeq: 1 REGISTER"),
            "{text}"
        );
        assert_eq!(
            handle(
                &r,
                NOW,
                b"MESSAGE sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n",
                &mut st
            )
            .0,
            0
        );
        assert_eq!(st.dropped_malformed, 2);
        let mut out = Vec::new();
        assert_eq!(
            r.handle(
                NOW,
                UNIX,
                b"garbage\r\n\r\n",
                src(),
                true,
                &mut out,
                &mut st
            ),
            Reply::Close
        );
    }

    #[test]
    fn keepalives_need_a_registration() {
        let r = registrar(cfg());
        let mut st = Stats::default();
        let mut body = Vec::new();
        crate::gb::manscdp::write_keepalive(&mut body, 1, &DEV.parse().unwrap(), &[]);
        let mut ka = Vec::new();
        let mut w = Writer::request(
            &mut ka,
            Method::Message,
            b"sip:34020000002000000001@3402000000",
        );
        w.header(b"Via", b"SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK2")
            .header(b"From", format!("<sip:{DEV}@3402000000>;tag=2").as_bytes())
            .header(b"To", b"<sip:34020000002000000001@3402000000>")
            .header(b"Call-ID", b"k1")
            .header(b"CSeq", b"1 MESSAGE")
            .header(b"Content-Type", b"Application/MANSCDP+xml");
        w.finish(&body);
        assert_eq!(handle(&r, NOW, &ka, &mut st).0, 403);
        let (_, ch) = handle(&r, NOW, &register(DEV, 1, 3600, None), &mut st);
        handle(
            &r,
            NOW,
            &register(DEV, 2, 3600, Some(&answer(&ch, DEV, "12345678", 1))),
            &mut st,
        );
        assert_eq!(handle(&r, NOW + 200_000, &ka, &mut st).0, 200);
        assert_eq!(st.keepalives, 1);
        // Silent for 3 × 60 s: offline; the keepalive above kept it online until then.
        assert_eq!(
            r.registry().counts(NOW + 380_000, r.max_silence_ms()),
            (1, 1)
        );
        assert_eq!(
            r.registry().counts(NOW + 380_001, r.max_silence_ms()),
            (1, 0)
        );
        let open = registrar(Config {
            allow_unregistered: true,
            ..cfg()
        });
        assert_eq!(handle(&open, NOW, &ka, &mut st).0, 200);
    }

    #[test]
    fn redirect_by_hash_or_round_robin() {
        let a: (DeviceId, SocketAddr) = (
            "34020000002000000002".parse().unwrap(),
            "127.0.0.1:5071".parse().unwrap(),
        );
        let b: (DeviceId, SocketAddr) = (
            "34020000002000000003".parse().unwrap(),
            "127.0.0.1:5072".parse().unwrap(),
        );
        for round_robin in [false, true] {
            let r = registrar(Config {
                redirect: Some(Redirect {
                    targets: vec![a, b],
                    round_robin,
                }),
                ..cfg()
            });
            let mut st = Stats::default();
            let mut targets = Vec::new();
            for _ in 0..2 {
                let (_, ch) = handle(&r, NOW, &register(DEV, 1, 3600, None), &mut st);
                let (code, resp) = handle(
                    &r,
                    NOW,
                    &register(DEV, 2, 3600, Some(&answer(&ch, DEV, "12345678", 1))),
                    &mut st,
                );
                assert_eq!(code, 302);
                let text = String::from_utf8_lossy(&resp).into_owned();
                targets.push(text.contains("34020000002000000002@127.0.0.1:5071"));
            }
            assert_eq!(
                targets[0] == targets[1],
                !round_robin,
                "hash is stable, round-robin alternates"
            );
            assert_eq!(st.redirects, 2);
            assert_eq!(
                r.registry().counts(NOW, u64::MAX),
                (0, 0),
                "redirected devices are not registered here"
            );
        }
    }
}
