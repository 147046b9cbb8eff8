//! The registrar's decisions, sans-IO, in the same shape as the camera: each worker owns a
//! [`Registrar`] and hands it every message once, already parsed, with `now`, the sender and
//! the transport; responses (and the Catalog query a platform sends a newly registered device)
//! go into a [`Batch`]. All workers share the device registry and the nonce secret.
//!
//! No sockets, no clock, no allocation per message (a registry entry on a device's first
//! registration is the only one). Its counters go out through the per-worker interval
//! hand-over of [`super::stats`].

pub use super::config::{Config, Passwords, Redirect};
use super::guard::{Banned, Guard, Over};
use super::nonce::{Check, Nonces};
use super::registry::{Entry, Registry};
use super::stats::Publisher;
pub use super::stats::Stats;
use crate::clock::{Span, Time};
use crate::gb::register::{self as gbreg, QueryFrom};
use crate::gb::version::Declared;
use crate::gb::{DeviceId, Manscdp, Root};
use crate::net::{After, HostEvent, Service};
use crate::sip::digest::{self, Algorithm};
use crate::sip::write::push_u64;
use crate::sip::{Batch, Message, Method, QStr, Transport, Writer, response_to};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Adds our `X-GB-Ver` to an answer to a REGISTER (GB/T 28181-2022 §9.1.2.1).
fn gb_ver(w: &mut Writer<'_>, cfg: &Config) {
    w.header(crate::gb::version::HEADER, cfg.gb_version.header_value());
}

/// What every worker's registrar shares.
struct Shared {
    cfg: Config,
    nonces: Nonces,
    registry: Arc<Registry>,
    guard: Guard,
    rr: AtomicUsize,
    salt: AtomicU32,
    /// Unix time (ms) at the server clock's zero, for the Date header.
    unix_zero_ms: u64,
}

/// One worker's registrar: the shared registry and nonce secret, this worker's counters and
/// scratch buffers.
pub struct Registrar {
    shared: Arc<Shared>,
    stats: Box<Stats>,
    publisher: Option<Publisher>,
    msg: Vec<u8>,
    body: Vec<u8>,
}

fn hash64(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

impl Registrar {
    /// A registrar over `registry` with nonces keyed by `secret`, whose clock zero is the
    /// Unix epoch (see [`with_unix_zero`](Self::with_unix_zero)).
    pub fn new(cfg: Config, registry: Arc<Registry>, secret: [u8; 16]) -> Registrar {
        Registrar {
            shared: Arc::new(Shared {
                nonces: Nonces::new(secret, cfg.nonce_ttl_s),
                guard: Guard::new(&cfg.guard),
                cfg,
                registry,
                rr: AtomicUsize::new(0),
                salt: AtomicU32::new(1),
                unix_zero_ms: 0,
            }),
            stats: Box::default(),
            publisher: None,
            msg: Vec::with_capacity(1024),
            body: Vec::with_capacity(512),
        }
    }

    /// Sets the Unix time (ms) at the server clock's zero, for the `Date` header. Call before
    /// making [`worker`](Self::worker)s.
    pub fn with_unix_zero(mut self, unix_ms: u64) -> Registrar {
        if let Some(s) = Arc::get_mut(&mut self.shared) {
            s.unix_zero_ms = unix_ms;
        }
        self
    }

    /// Another worker's registrar over the same registry and secret, with counters of its own.
    pub fn worker(&self) -> Registrar {
        Registrar {
            shared: self.shared.clone(),
            stats: Box::default(),
            publisher: self.publisher.clone(),
            msg: Vec::with_capacity(1024),
            body: Vec::with_capacity(512),
        }
    }

    /// Hands this worker's counters to `publisher` on every [`Service::tick`].
    pub fn publish_to(&mut self, publisher: Publisher) {
        self.publisher = Some(publisher);
    }

    /// Counters since the last hand-over.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Takes the counters since the last hand-over, leaving cleared ones.
    pub fn take_stats(&mut self) -> Box<Stats> {
        std::mem::take(&mut self.stats)
    }

    /// The device registry.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// The bans and rate limit every worker shares.
    pub fn guard(&self) -> &Guard {
        &self.shared.guard
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.shared.cfg
    }

    /// Keepalive silence after which a device is offline.
    pub fn max_silence(&self) -> Span {
        let c = &self.shared.cfg;
        Span::from_millis(c.heartbeat_ms).times(u64::from(c.heartbeat_misses.max(1)))
    }

    fn answer(&self, msg: &Message<'_, '_>, code: u16, source: SocketAddr, out: &mut Batch) -> u16 {
        let register = msg.method() == Some(Method::Register);
        out.push_with(|b| {
            let mut w = response_to(b, msg, code, Some(b"gbs"), Some(&source));
            if register {
                gb_ver(&mut w, &self.shared.cfg);
            }
            w.finish(b"");
        });
        code
    }

    fn challenge(
        &self,
        msg: &Message<'_, '_>,
        now: Time,
        stale: bool,
        source: SocketAddr,
        out: &mut Batch,
    ) -> u16 {
        let s = &self.shared;
        let salt = s.salt.fetch_add(1, Ordering::Relaxed);
        let nonce = s.nonces.mint(now.as_secs(), salt, s.cfg.realm.as_bytes());
        out.push_with(|b| {
            let mut w = response_to(b, msg, 401, Some(b"gbs"), Some(&source));
            gb_ver(&mut w, &s.cfg);
            for &alg in s.cfg.algorithms() {
                w.header_with(b"WWW-Authenticate", |b| {
                    let realm = s.cfg.realm.as_bytes();
                    digest::write_challenge(b, realm, &nonce, None, s.cfg.qop, stale, alg)
                });
            }
            w.finish(b"");
        });
        401
    }

    /// Appends a Catalog query MESSAGE to `dev` at `source`.
    fn query_catalog(
        &mut self,
        dev: &DeviceId,
        source: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) {
        let s = &self.shared;
        let sn = s.salt.fetch_add(1, Ordering::Relaxed);
        let from = QueryFrom {
            server_id: &s.cfg.server_id,
            realm: s.cfg.realm.as_bytes(),
            via_host: s.cfg.via_host.as_bytes(),
            transport,
            charset: s.cfg.gb_version.charset(),
        };
        gbreg::write_query(
            &mut self.msg,
            &mut self.body,
            &from,
            b"Catalog",
            sn,
            dev,
            &source,
        );
        out.push(&self.msg);
        self.stats.queries_sent += 1;
    }

    fn register(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        source: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> (u16, Option<DeviceId>) {
        let Some(dev) = gbreg::device_of(msg) else {
            return (self.answer(msg, 400, source, out), None);
        };
        let s = &*self.shared;
        let asked = gbreg::expiry(msg).unwrap_or(gbreg::DEFAULT_EXPIRES);
        if asked != 0 && asked < s.cfg.min_expires {
            out.push_with(|b| {
                let mut w = response_to(b, msg, 423, Some(b"gbs"), Some(&source));
                gb_ver(&mut w, &s.cfg);
                w.header_u64(b"Min-Expires", u64::from(s.cfg.min_expires));
                w.finish(b"");
            });
            return (423, None);
        }
        let Some(auth) = msg.authorization() else {
            return (self.challenge(msg, now, false, source, out), None);
        };
        let realm = s.cfg.realm.as_bytes();
        let nonce_ts = match auth
            .nonce
            .map(|n| s.nonces.check(n.raw(), now.as_secs(), realm))
        {
            Some(Check::Fresh(ts)) => ts,
            Some(Check::Stale) => return (self.challenge(msg, now, true, source, out), None),
            _ => return (self.challenge(msg, now, false, source, out), None),
        };
        if let Some(why) = s.guard.banned(&dev, source.ip(), now) {
            self.stats.refused_banned[why as usize] += 1;
            if s.cfg.guard.silent {
                return (0, None);
            }
            return (self.answer(msg, 403, source, out), None);
        }
        let realm_ok = auth.realm.is_some_and(|r| r.eq_bytes(realm));
        let user_ok = auth.username.is_some_and(|u| u.eq_bytes(dev.as_bytes()));
        let password = match &s.cfg.passwords {
            Passwords::Shared(p) => Some(p.as_str()),
            Passwords::PerDevice(m) => m.get(&dev).map(String::as_str),
        };
        let offered = Algorithm::of(&auth).filter(|a| s.cfg.algorithms().contains(a));
        let verified = realm_ok
            && user_ok
            && offered.zip(password).is_some_and(|(alg, p)| {
                let ha1 = digest::ha1(alg, dev.as_bytes(), &QStr::new(realm), p.as_bytes());
                digest::verify(&auth, b"REGISTER", &ha1)
            });
        let Some(alg) = offered.filter(|_| verified) else {
            self.stats.auth_failures += 1;
            let new = s.guard.failed(&dev, source.ip(), now);
            self.stats.bans[Banned::Device as usize] += u64::from(new.device);
            self.stats.bans[Banned::Source as usize] += u64::from(new.source);
            return (self.answer(msg, 403, source, out), None);
        };
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
        let replay = s.registry.get(&dev).is_some_and(|e| {
            let retransmission = e.call_cseq == call_cseq;
            e.nonce_ts == nonce_ts && nc <= e.nc && !retransmission
        });
        if replay {
            self.stats.replays += 1;
            return (self.challenge(msg, now, false, source, out), None);
        }
        self.stats.digest[alg.index()] += 1;
        if asked == 0 {
            s.registry.with(&dev, |m| m.remove(&dev));
            self.stats.unregistrations += 1;
            out.push_with(|b| {
                let mut w = response_to(b, msg, 200, Some(b"gbs"), Some(&source));
                gb_ver(&mut w, &s.cfg);
                w.header(b"Expires", b"0");
                w.finish(b"");
            });
            return (200, None);
        }
        let granted = asked.clamp(s.cfg.min_expires.max(1), s.cfg.max_expires.max(1));
        if let Some(r) = &s.cfg.redirect
            && !r.targets.is_empty()
        {
            let i = if r.round_robin {
                s.rr.fetch_add(1, Ordering::Relaxed) % r.targets.len()
            } else {
                (dev.number() % r.targets.len() as u128) as usize
            };
            let (id, addr) = r.targets[i];
            out.push_with(|b| {
                let mut w = response_to(b, msg, 302, Some(b"gbs"), Some(&source));
                gb_ver(&mut w, &s.cfg);
                gbreg::write_redirect(&mut w, &id, &addr, granted);
                w.finish(b"");
            });
            self.stats.redirects += 1;
            return (302, None);
        }
        let entry = Entry {
            expires_at: now + Span::from_secs(u64::from(granted)),
            last_seen: now,
            addr: source,
            transport,
            call_cseq,
            nonce_ts,
            nc,
        };
        let previous = s.registry.with(&dev, |m| m.insert(dev, entry));
        let new_device = previous.is_none_or(|p| now >= p.expires_at);
        self.stats.registrations += 1;
        let contact = msg.contact().map(|c| c.uri).unwrap_or(b"");
        let date = crate::gb::time::DateTime::new(s.unix_zero_ms + now.as_millis(), true);
        out.push_with(|b| {
            let mut w = response_to(b, msg, 200, Some(b"gbs"), Some(&source));
            gb_ver(&mut w, &s.cfg);
            w.header_with(b"Contact", |b| {
                b.push(b'<');
                b.extend_from_slice(contact);
                b.extend_from_slice(b">;expires=");
                push_u64(b, u64::from(granted));
            });
            w.header_u64(b"Expires", u64::from(granted));
            w.header(b"Date", date.as_bytes());
            w.finish(b"");
        });
        (200, new_device.then_some(dev))
    }

    fn message(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        source: SocketAddr,
        out: &mut Batch,
    ) -> u16 {
        let s = &*self.shared;
        // Only a MANSCDP MESSAGE is a keepalive or an answer, and only it shows presence.
        let manscdp = gbreg::is_manscdp(msg);
        let registered = gbreg::device_of(msg).is_some_and(|d| {
            s.registry.with(&d, |m| match m.get_mut(&d) {
                Some(e) if now < e.expires_at => {
                    if manscdp {
                        e.last_seen = now;
                    }
                    true
                }
                _ => false,
            })
        });
        let body = Manscdp::parse(msg.body).filter(|_| manscdp);
        let keepalive = body.is_some_and(|x| x.root == Root::Notify && x.cmd_type == b"Keepalive");
        if body.is_some_and(|x| x.root == Root::Response && x.cmd_type == b"Catalog") {
            self.stats.catalog_responses += 1;
            self.stats.catalog_items += gbreg::catalog_items(msg.body) as u64;
        }
        if !registered && !s.cfg.allow_unregistered {
            return self.answer(msg, 403, source, out);
        }
        if !manscdp {
            out.push_with(|b| {
                let mut w = response_to(b, msg, 415, Some(b"gbs"), Some(&source));
                w.header(b"Accept", crate::gb::manscdp::CONTENT_TYPE);
                w.finish(b"");
            });
            return 415;
        }
        if keepalive && registered {
            self.stats.keepalives += 1;
        }
        self.answer(msg, 200, source, out)
    }
}

impl Service for Registrar {
    fn handle_parsed(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After {
        let Some(method) = msg.method() else {
            // A response to a query we sent: nothing to answer.
            return After::Keep;
        };
        // Anything we answer needs these; without them there is no one to answer to.
        if msg.via().is_none()
            || msg.cseq().is_none()
            || msg.call_id().is_none()
            || msg.from().is_none()
        {
            self.stats.dropped_malformed += 1;
            return After::Close;
        }
        self.stats.requests[match method {
            Method::Register => 0,
            Method::Message => 1,
            Method::Options => 2,
            _ => 3,
        }] += 1;
        if let Err((over, wait)) = self.shared.guard.admit(from.ip(), now) {
            self.stats.rate_limited += 1;
            if over == Over::Reject && method != Method::Ack {
                self.stats.responded(503);
                out.push_with(|b| {
                    let mut w = response_to(b, msg, 503, Some(b"gbs"), Some(&from));
                    w.header_u64(b"Retry-After", u64::from(wait));
                    w.finish(b"");
                });
            }
            return After::Keep;
        }
        let mut new_device = None;
        let code = match method {
            Method::Register => {
                let declared = Declared::of(msg.header_named(crate::gb::version::HEADER));
                self.stats.gb_versions[declared.slot()] += 1;
                let (code, new) = self.register(now, msg, from, transport, out);
                new_device = new;
                code
            }
            Method::Message => self.message(now, msg, from, out),
            Method::Options => self.answer(msg, 200, from, out),
            Method::Ack => return After::Keep,
            _ => {
                out.push_with(|b| {
                    let mut w = response_to(b, msg, 405, Some(b"gbs"), Some(&from));
                    w.header(b"Allow", b"REGISTER, MESSAGE, OPTIONS, ACK");
                    w.finish(b"");
                });
                405
            }
        };
        if code != 0 {
            self.stats.responded(code);
        }
        if let (Some(dev), true) = (new_device, self.shared.cfg.query_catalog) {
            self.query_catalog(&dev, from, transport, out);
        }
        if code == 400 {
            After::Close
        } else {
            After::Keep
        }
    }

    fn handle_malformed(
        &mut self,
        now: Time,
        bytes: &[u8],
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After {
        // A datagram that does not parse is answered 400 when the headers a response needs
        // can still be recovered and validated. A stream that cannot be framed has no message
        // boundary to answer at: it is closed. Over the rate limit, nothing is answered.
        if self.shared.guard.admit(from.ip(), now).is_err() {
            self.stats.rate_limited += 1;
            return After::Close;
        }
        if transport == Transport::Udp {
            let before = out.len();
            out.push_with(|b| {
                if !crate::sip::write_bad_request(bytes, Some(&from), b) {
                    b.clear();
                }
            });
            if out.len() > before {
                self.stats.responded(400);
                return After::Keep;
            }
        }
        self.stats.dropped_malformed += 1;
        After::Close
    }

    fn host_event(&mut self, event: HostEvent) {
        match event {
            HostEvent::Served { micros } => self.stats.service_us.saturating_record(micros),
            HostEvent::Refused => self.stats.refused_connections += 1,
            HostEvent::Stale | HostEvent::MediaConnection => {}
        }
    }

    fn tick(&mut self, _now: Time) {
        if let Some(p) = &self.publisher {
            p.publish(&mut self.stats);
        }
    }
}
