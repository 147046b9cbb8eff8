//! A scripted in-memory GB28181 registrar whose knobs mirror platforms in the field (wvp,
//! Monibuca v4/v5, dead or forgetful servers), with counters of what it saw for assertions.
//! A [`Service`] like the real registrar, so the simulation and the server host loop run it
//! alike. Test double only: never reads a clock, never touches a socket.

use crate::clock::Time;
use crate::gb::register::{self as gbreg, QueryFrom};
use crate::gb::{DeviceId, Manscdp, Root, manscdp};
use crate::net::{After, Service};
use crate::sip::digest::{self, Algorithm};
use crate::sip::{Batch, HeaderKind, Message, Method, QStr, Transport, Writer, response_to};
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
    /// Queries and controls to send right after a device registers on a new Call-ID
    /// (`Catalog`, `DeviceInfo`, `RecordInfo`, `DeviceControl:PTZCmd`, ...: the names of
    /// [`super::requests`]); a `DeviceControl:TeleBoot` goes to each device once.
    pub queries: Vec<&'static str>,
    /// Channels per device, to address channel 1 in the queries and controls that name a
    /// channel.
    pub channels: u32,
    /// Send a device its queries one at a time, the next after each Response message (as a
    /// platform polling a device does), instead of all at once.
    pub one_at_a_time: bool,
    /// Answer nothing at all (a dead server).
    pub silent: bool,
    /// Answer no keepalive (a server that lost the device).
    pub ignore_keepalives: bool,
    /// Keep per-device observations (`register_times`, `last_sn`); off in benches.
    pub per_device: bool,
    /// The challenge's status: 401 (`WWW-Authenticate`, answered in `Authorization`) or 407
    /// (`Proxy-Authenticate`, answered in `Proxy-Authorization`, as ejabberd); credentials in
    /// the other header are not looked at.
    pub challenge_code: u16,
    /// One challenge per entry, in order, each naming this `algorithm` (`""`: none, which
    /// means MD5). Unsupported names (`SHA-1`) can be listed; answers must use one listed.
    pub algorithms: Vec<&'static str>,
    /// Challenge MESSAGEs too (keepalives and query answers), as a plain SIP registrar that
    /// authenticates every request does.
    pub challenge_messages: bool,
    /// Other bindings of the address of record listed in the 200 OK before the device's own:
    /// `(Contact URI, expires)`.
    pub other_bindings: Vec<(String, u32)>,
    /// List the device's own binding (its Contact with `;expires=`) in the 200 OK.
    pub own_binding: bool,
    /// Put the granted expiry in an Expires header of the 200 OK.
    pub expires_header: bool,
    /// Answer keepalives with this status instead of 200 (405, 404: a registrar that does
    /// not take MESSAGE, or does not know the device).
    pub keepalive_status: Option<u16>,
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
            channels: 1,
            one_at_a_time: false,
            silent: false,
            ignore_keepalives: false,
            per_device: true,
            challenge_code: 401,
            algorithms: vec!["MD5"],
            challenge_messages: false,
            other_bindings: Vec::new(),
            own_binding: false,
            expires_header: true,
            keepalive_status: None,
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
    /// RecordInfo items received over all RecordInfo responses.
    pub record_items: u64,
    /// DeviceControl Response messages received.
    pub control_responses: u64,
    /// Response messages by CmdType.
    pub responses_by_cmd: HashMap<String, u64>,
    /// Responses to the queries it sent.
    pub query_acks: u64,
    /// Times of every REGISTER, per device, to check retry spacing.
    pub register_times: HashMap<DeviceId, Vec<Time>>,
    /// Highest keepalive SN per device.
    pub last_sn: HashMap<DeviceId, u32>,
    /// Input that did not parse.
    pub malformed: u64,
    /// MESSAGEs challenged (with `challenge_messages`).
    pub message_challenges: u64,
    /// MESSAGEs with valid credentials.
    pub message_authorized: u64,
    /// MESSAGEs with valid credentials reusing a nonce (nonce count above 1).
    pub nonce_reuses: u64,
    /// Credentials in the header the challenge did not ask for (Authorization after a 407,
    /// Proxy-Authorization after a 401), ignored.
    pub wrong_auth_header: u64,
    /// MESSAGEs that are not MANSCDP (answered 415).
    pub not_manscdp: u64,
}

/// What a request's credentials turned out to be.
enum Creds {
    /// None, or in the wrong header.
    Missing,
    /// Wrong: 403.
    Bad,
    /// Good, with this nonce count (0 without qop).
    Good(u32),
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
    rebooted: HashSet<DeviceId>,
    /// Devices with scripted queries still to send: the next one's index, and where and how.
    pending: HashMap<DeviceId, (usize, SocketAddr, Transport)>,
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
            rebooted: HashSet::new(),
            pending: HashMap::new(),
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
        let creds = self.credentials(m, b"REGISTER", &dev);
        match creds {
            Creds::Missing => {
                if self.script.refresh_without_challenge && known && expires > 0 {
                    self.accept(m, expires, out);
                    return;
                }
                self.seen.challenges += 1;
                self.challenge(m, out);
                return;
            }
            Creds::Bad => {
                self.seen.bad_auth += 1;
                self.reply(m, 403, |_| {}, out);
                return;
            }
            Creds::Good(_) => {}
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
        if first && !self.script.queries.is_empty() {
            self.pending.insert(dev, (0, from_addr, transport));
            self.send_queries(dev, out);
        }
    }

    /// Sends device `dev` its next scripted queries: all of them, or with
    /// `one_at_a_time` up to and including the next one that is answered by a Response
    /// message (the rest follow each Response).
    fn send_queries(&mut self, dev: DeviceId, out: &mut Batch) {
        let Some(&(mut next, addr, transport)) = self.pending.get(&dev) else {
            return;
        };
        let from = QueryFrom {
            server_id: &self.id,
            realm: self.script.realm.as_bytes(),
            via_host: b"10.0.0.1:5060",
            transport,
            charset: crate::gb::Charset::Gb2312,
        };
        while let Some(&q) = self.script.queries.get(next) {
            next += 1;
            if super::requests::is_reboot(q) && !self.rebooted.insert(dev) {
                continue;
            }
            self.query_sn += 1;
            let (sn, msg, body) = (self.query_sn, &mut self.buf, &mut self.body);
            let charset = from.charset;
            super::requests::write_body(body, charset, q, sn, &dev, self.script.channels);
            gbreg::write_manscdp_message(msg, body, &from, sn, &dev, &addr);
            out.push(&self.buf);
            if self.script.one_at_a_time && super::requests::is_answered(q) {
                break;
            }
        }
        if next >= self.script.queries.len() {
            self.pending.remove(&dev);
        } else if let Some(p) = self.pending.get_mut(&dev) {
            p.0 = next;
        }
    }

    fn accept(&mut self, m: &Message<'_, '_>, asked: u32, out: &mut Batch) {
        self.seen.registrations += 1;
        let granted = self.script.grant.unwrap_or(asked);
        let own = m
            .contact()
            .map(|c| c.uri)
            .filter(|_| self.script.own_binding);
        let (others, expires_header) = (&self.script.other_bindings, self.script.expires_header);
        out.push_with(|b| {
            let mut w = response_to(b, m, 200, Some(b"srv"), None);
            let bindings = others.iter().map(|(uri, e)| (uri.as_bytes(), *e));
            for (uri, e) in bindings.chain(own.map(|u| (u, granted))) {
                w.header_with(b"Contact", |b| {
                    b.push(b'<');
                    b.extend_from_slice(uri);
                    b.extend_from_slice(b">;expires=");
                    crate::sip::write::push_u64(b, u64::from(e));
                });
            }
            if expires_header {
                w.header_u64(b"Expires", u64::from(granted));
            }
            w.header(b"Date", b"2026-11-23T23:16:12.123");
            w.finish(b"");
        });
    }

    /// A 401 (or 407) with one challenge per scripted algorithm, all with a fresh nonce.
    fn challenge(&mut self, m: &Message<'_, '_>, out: &mut Batch) {
        self.nonce += 1;
        let mut nonce = Vec::new();
        crate::sip::write::push_hex(&mut nonce, self.nonce, 16);
        let opaque = self.script.opaque.then_some(&b"0paque"[..]);
        let proxy = self.script.challenge_code == 407;
        let name: &[u8] = if proxy {
            b"Proxy-Authenticate"
        } else {
            b"WWW-Authenticate"
        };
        let mut values = Vec::new();
        for &alg in &self.script.algorithms {
            let mut ch = Vec::new();
            let realm = self.script.realm.as_bytes();
            digest::write_challenge(
                &mut ch,
                realm,
                &nonce,
                opaque,
                self.script.qop,
                false,
                Algorithm::MD5,
            );
            // Rewrite the algorithm as scripted (any name, or none).
            ch.truncate(ch.len() - b", algorithm=MD5".len());
            if !alg.is_empty() {
                ch.extend_from_slice(b", algorithm=");
                ch.extend_from_slice(alg.as_bytes());
            }
            values.push(ch);
        }
        let code = self.script.challenge_code;
        self.reply(
            m,
            code,
            |w| {
                for v in &values {
                    w.header(name, v);
                }
            },
            out,
        );
    }

    /// Reads and checks the credentials of `m` for `method`, in the header the scripted
    /// challenge asks for, with an algorithm it offered.
    fn credentials(&mut self, m: &Message<'_, '_>, method: &[u8], dev: &DeviceId) -> Creds {
        let (asked, other) = if self.script.challenge_code == 407 {
            (HeaderKind::ProxyAuthorization, HeaderKind::Authorization)
        } else {
            (HeaderKind::Authorization, HeaderKind::ProxyAuthorization)
        };
        let Some(auth) = m.header(asked).and_then(crate::sip::AuthParams::parse) else {
            if m.header(other).is_some() {
                self.seen.wrong_auth_header += 1;
            }
            return Creds::Missing;
        };
        let offered = Algorithm::of(&auth).filter(|a| {
            self.script
                .algorithms
                .iter()
                .any(|o| Algorithm::parse(o.as_bytes()).unwrap_or(Algorithm::MD5) == *a)
        });
        let realm = QStr::new(self.script.realm.as_bytes());
        let password = self.script.password.as_bytes();
        let opaque_ok = !self.script.opaque || auth.opaque.is_some_and(|o| o.eq_bytes(b"0paque"));
        let good = offered.is_some_and(|alg| {
            let ha1 = digest::ha1(alg, dev.as_bytes(), &realm, password);
            digest::verify(&auth, method, &ha1)
        });
        if !good || !opaque_ok {
            return Creds::Bad;
        }
        let nc = auth.nc.and_then(|n| {
            let s = std::str::from_utf8(n.raw()).ok()?;
            u32::from_str_radix(s, 16).ok()
        });
        Creds::Good(nc.unwrap_or(0))
    }

    fn message(&mut self, m: &Message<'_, '_>, out: &mut Batch) {
        if !gbreg::is_manscdp(m) {
            self.seen.not_manscdp += 1;
            self.reply(
                m,
                415,
                |w| {
                    w.header(b"Accept", manscdp::CONTENT_TYPE);
                },
                out,
            );
            return;
        }
        if self.script.challenge_messages {
            let dev = gbreg::device_of(m);
            let creds = match dev {
                Some(d) => self.credentials(m, b"MESSAGE", &d),
                None => Creds::Bad,
            };
            match creds {
                Creds::Missing => {
                    self.seen.message_challenges += 1;
                    self.challenge(m, out);
                    return;
                }
                Creds::Bad => {
                    self.reply(m, 403, |_| {}, out);
                    return;
                }
                Creds::Good(nc) => {
                    self.seen.message_authorized += 1;
                    self.seen.nonce_reuses += u64::from(nc > 1);
                }
            }
        }
        let x = Manscdp::parse(m.body);
        let mut code = 200;
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
                code = self.script.keepalive_status.unwrap_or(200);
            }
            Some(x) if x.root == Root::Response => {
                self.seen.query_responses += 1;
                if x.cmd_type == b"Catalog" {
                    self.seen.catalog_items += gbreg::catalog_items(m.body) as u64;
                }
                if x.cmd_type == b"RecordInfo" {
                    self.seen.record_items += gbreg::catalog_items(m.body) as u64;
                }
                if x.cmd_type == b"DeviceControl" {
                    self.seen.control_responses += 1;
                }
                if self.script.per_device {
                    let cmd = String::from_utf8_lossy(x.cmd_type).into_owned();
                    *self.seen.responses_by_cmd.entry(cmd).or_default() += 1;
                }
                if let Some(dev) = gbreg::device_of(m).filter(|_| self.script.one_at_a_time) {
                    self.reply(m, 200, |_| {}, out);
                    self.send_queries(dev, out);
                    return;
                }
            }
            _ => {}
        }
        self.reply(m, code, |_| {}, out);
    }
}
