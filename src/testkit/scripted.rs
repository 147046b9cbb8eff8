//! A scripted in-memory GB28181 registrar whose knobs mirror platforms in the field (wvp,
//! Monibuca v4/v5, dead or forgetful servers), with counters of what it saw for assertions.
//! A [`Service`] like the real registrar, so the simulation and the server host loop run it
//! alike. Test double only: never reads a clock, never touches a socket.

use crate::clock::Time;
use crate::gb::register::{self as gbreg, QueryFrom};
use crate::gb::{DeviceId, Manscdp, Root, manscdp};
use crate::net::{After, Service};
use crate::sip::{Batch, Message, Method, QStr, Transport, Writer, digest, response_to};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

/// How the scripted registrar behaves; the knobs mirror platforms in the field.
#[derive(Clone, Debug)]
pub struct Script {
    /// Realm of the challenge.
    pub realm: String,
    /// The password it checks.
    pub password: String,
    /// Challenge with `qop="auth"` (wvp, Monibuca v5) or without (Monibuca v4).
    pub qop: bool,
    /// Add an `opaque` the client must echo (Monibuca v5).
    pub opaque: bool,
    /// Grant this expiry whatever was asked (Monibuca v4: 3600).
    pub grant: Option<u32>,
    /// Answer a REGISTER on a known Call-ID with 200 at once (wvp).
    pub refresh_without_challenge: bool,
    /// Answer authenticated REGISTERs with this code instead of 200.
    pub reject: Option<u16>,
    /// Retry-After seconds to add to rejections.
    pub retry_after: Option<u32>,
    /// Answer authenticated REGISTERs with 302 to this server.
    pub redirect_to: Option<(SocketAddr, DeviceId)>,
    /// Answer a REGISTER asking for less than this (and not 0) with 423 and this as
    /// Min-Expires, before any challenge (as the real registrar does).
    pub min_expires: Option<u32>,
    /// Queries to send right after a device registers on a new Call-ID (`Catalog`,
    /// `DeviceInfo`, ...).
    pub queries: Vec<&'static str>,
    /// Answer nothing at all (a dead server).
    pub silent: bool,
    /// Answer no keepalive (a server that lost the device).
    pub ignore_keepalives: bool,
    /// Keep per-device observations (`register_times`, `last_sn`); off in benches.
    pub per_device: bool,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            realm: "3402000000".into(),
            password: "12345678".into(),
            qop: true,
            opaque: false,
            grant: None,
            refresh_without_challenge: false,
            reject: None,
            retry_after: None,
            redirect_to: None,
            min_expires: None,
            queries: Vec::new(),
            silent: false,
            ignore_keepalives: false,
            per_device: true,
        }
    }
}

/// What the scripted registrar saw, for assertions.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// REGISTERs without credentials.
    pub challenges: u64,
    /// REGISTERs with valid credentials.
    pub authorized: u64,
    /// REGISTERs with wrong credentials.
    pub bad_auth: u64,
    /// REGISTERs answered 423 Interval Too Brief.
    pub too_brief: u64,
    /// Accepted registrations and refreshes (200 sent, Expires > 0).
    pub registrations: u64,
    /// Accepted unregistrations.
    pub unregistrations: u64,
    /// Keepalive MESSAGEs received (answered or not).
    pub keepalives: u64,
    /// Keepalives that listed faulty sub-devices.
    pub fault_reports: u64,
    /// Query response MESSAGEs received.
    pub query_responses: u64,
    /// Catalog items received over all Catalog responses.
    pub catalog_items: u64,
    /// Responses to the queries it sent.
    pub query_acks: u64,
    /// Times of every REGISTER, per device, to check retry spacing.
    pub register_times: HashMap<DeviceId, Vec<Time>>,
    /// Highest keepalive SN per device.
    pub last_sn: HashMap<DeviceId, u32>,
    /// Input that did not parse.
    pub malformed: u64,
}

/// An in-memory GB28181 registrar following a [`Script`].
#[derive(Debug)]
pub struct ScriptedServer {
    /// The address cameras send to.
    pub addr: SocketAddr,
    /// Its 20-digit ID.
    pub id: DeviceId,
    /// Behaviour.
    pub script: Script,
    /// Observations.
    pub seen: Seen,
    nonce: u64,
    known_calls: HashSet<Vec<u8>>,
    query_sn: u32,
    buf: Vec<u8>,
    body: Vec<u8>,
}

impl Service for ScriptedServer {
    fn handle_parsed(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After {
        if self.script.silent {
            return After::Keep;
        }
        match msg.method() {
            Some(Method::Register) => self.register(now, msg, from, transport, out),
            Some(Method::Message) => self.message(msg, out),
            Some(_) => self.reply(msg, 405, |_| {}, out),
            None => self.seen.query_acks += u64::from(msg.status().is_some_and(|c| c < 300)),
        }
        After::Keep
    }

    fn handle_malformed(
        &mut self,
        _now: Time,
        _bytes: &[u8],
        _from: SocketAddr,
        _transport: Transport,
        _out: &mut Batch,
    ) -> After {
        self.seen.malformed += 1;
        After::Close
    }
}

impl ScriptedServer {
    /// A registrar at `addr` with ID `id`.
    pub fn new(addr: SocketAddr, id: DeviceId, script: Script) -> Self {
        ScriptedServer {
            addr,
            id,
            script,
            seen: Seen::default(),
            nonce: 0,
            known_calls: HashSet::new(),
            query_sn: 0,
            buf: Vec::with_capacity(1024),
            body: Vec::with_capacity(512),
        }
    }

    /// Handles one UDP datagram (from a camera at `from`) at `now`; what it sends back goes
    /// into `out`.
    pub fn handle(&mut self, now: Time, from: SocketAddr, bytes: &[u8], out: &mut Batch) {
        self.handle_datagram(now, bytes, from, Transport::Udp, out);
    }

    fn reply(
        &mut self,
        m: &Message<'_, '_>,
        code: u16,
        extra: impl FnOnce(&mut Writer<'_>),
        out: &mut Batch,
    ) {
        out.push_with(|b| {
            let mut w = response_to(b, m, code, Some(b"srv"), None);
            extra(&mut w);
            w.finish(b"");
        });
    }

    fn register(
        &mut self,
        now: Time,
        m: &Message<'_, '_>,
        from_addr: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) {
        let Some(dev) = gbreg::device_of(m) else {
            return;
        };
        if self.script.per_device {
            let times = self.seen.register_times.entry(dev).or_default();
            times.push(now);
        }
        let call_id = m.call_id().unwrap_or(b"").to_vec();
        let expires = gbreg::expiry(m).unwrap_or(gbreg::DEFAULT_EXPIRES);
        let known = self.known_calls.contains(&call_id);
        if let Some(min) = self.script.min_expires
            && expires != 0
            && expires < min
        {
            self.seen.too_brief += 1;
            self.reply(
                m,
                423,
                |w| {
                    w.header_u64(b"Min-Expires", u64::from(min));
                },
                out,
            );
            return;
        }
        let Some(auth) = m.authorization() else {
            if self.script.refresh_without_challenge && known && expires > 0 {
                self.accept(m, expires, out);
                return;
            }
            self.seen.challenges += 1;
            self.nonce += 1;
            let mut nonce = Vec::new();
            crate::sip::write::push_hex(&mut nonce, self.nonce, 16);
            let mut ch = Vec::new();
            let opaque = self.script.opaque.then_some(&b"0paque"[..]);
            digest::write_challenge(
                &mut ch,
                self.script.realm.as_bytes(),
                &nonce,
                opaque,
                self.script.qop,
                false,
            );
            self.reply(
                m,
                401,
                |w| {
                    w.header(b"WWW-Authenticate", &ch);
                },
                out,
            );
            return;
        };
        let ha1 = digest::ha1(
            dev.as_bytes(),
            &QStr::new(self.script.realm.as_bytes()),
            self.script.password.as_bytes(),
        );
        let opaque_ok = !self.script.opaque || auth.opaque.is_some_and(|o| o.eq_bytes(b"0paque"));
        if !digest::verify(&auth, b"REGISTER", &ha1) || !opaque_ok {
            self.seen.bad_auth += 1;
            self.reply(m, 403, |_| {}, out);
            return;
        }
        self.seen.authorized += 1;
        if let Some(code) = self.script.reject {
            let ra = self.script.retry_after;
            self.reply(
                m,
                code,
                |w| {
                    if let Some(s) = ra {
                        w.header_u64(b"Retry-After", u64::from(s));
                    }
                },
                out,
            );
            return;
        }
        if let Some((addr, id)) = self.script.redirect_to {
            self.reply(m, 302, |w| gbreg::write_redirect(w, &id, &addr, 3600), out);
            return;
        }
        if expires == 0 {
            self.known_calls.remove(&call_id);
            self.seen.unregistrations += 1;
            self.reply(
                m,
                200,
                |w| {
                    w.header(b"Expires", b"0");
                },
                out,
            );
            return;
        }
        let first = self.known_calls.insert(call_id);
        self.accept(m, expires, out);
        // Platforms query a device right after it registers, not after each refresh.
        let queries = if first {
            self.script.queries.clone()
        } else {
            Vec::new()
        };
        let from = QueryFrom {
            server_id: &self.id,
            realm: self.script.realm.as_bytes(),
            via_host: b"10.0.0.1:5060",
            transport,
            charset: crate::gb::Charset::Gb2312,
        };
        for q in queries {
            self.query_sn += 1;
            let (sn, msg, body) = (self.query_sn, &mut self.buf, &mut self.body);
            gbreg::write_query(msg, body, &from, q.as_bytes(), sn, &dev, &from_addr);
            out.push(&self.buf);
        }
    }

    fn accept(&mut self, m: &Message<'_, '_>, asked: u32, out: &mut Batch) {
        self.seen.registrations += 1;
        let granted = self.script.grant.unwrap_or(asked);
        self.reply(
            m,
            200,
            |w| {
                w.header_u64(b"Expires", u64::from(granted));
                w.header(b"Date", b"2026-11-23T23:16:12.123");
            },
            out,
        );
    }

    fn message(&mut self, m: &Message<'_, '_>, out: &mut Batch) {
        let x = Manscdp::parse(m.body);
        match x {
            Some(x) if x.root == Root::Notify && x.cmd_type == b"Keepalive" => {
                self.seen.keepalives += 1;
                if manscdp::element(m.body, b"Info").is_some_and(|i| !i.is_empty()) {
                    self.seen.fault_reports += 1;
                }
                let dev = x.device_id.filter(|_| self.script.per_device);
                if let Some(dev) = dev.and_then(|d| DeviceId::parse(d).ok()) {
                    let sn = x.sn.unwrap_or(0);
                    let last = self.seen.last_sn.entry(dev).or_insert(0);
                    *last = (*last).max(sn);
                }
                if self.script.ignore_keepalives {
                    return;
                }
            }
            Some(x) if x.root == Root::Response => {
                self.seen.query_responses += 1;
                if x.cmd_type == b"Catalog" {
                    self.seen.catalog_items += gbreg::catalog_items(m.body) as u64;
                }
            }
            _ => {}
        }
        self.reply(m, 200, |_| {}, out);
    }
}
