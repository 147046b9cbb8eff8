//! The camera state machine: registration with digest auth, refresh, redirect, unregister,
//! keepalives with miss counting, platform queries, retries with backoff.

use super::pool::NONE;
use super::queries::{QueryKind, QueryQueue, write_response};
use super::request::{Ids, Target, parse_branch, request_uri, write_message, write_register};
use super::transaction::Txn;
use super::{Action, Dest, Env, Outcome, Record, Transport, TxnKind};
use crate::clock::{Span, Time};
use crate::gb::{DeviceId, Manscdp, Root, manscdp};
use crate::sip::{
    AuthParams, Header, Limits, Message, Method, Uri, digest, parse_datagram, response_to,
};
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Not started.
    Idle,
    /// Waiting for a TCP connection before sending the REGISTER of `purpose`.
    Connecting,
    /// A REGISTER transaction of `purpose` is in flight.
    Flow,
    /// Registered and idle; `wake` is the refresh time.
    Registered,
    /// Waiting until `wake` to register again.
    Backoff,
    /// Done.
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Purpose {
    Initial,
    Refresh,
    Unregister,
}

impl Purpose {
    fn kind(self) -> TxnKind {
        match self {
            Purpose::Initial => TxnKind::Register,
            Purpose::Refresh => TxnKind::Refresh,
            Purpose::Unregister => TxnKind::Unregister,
        }
    }
}

const REGISTERED: u16 = 1;
const STOPPING: u16 = 2;
const CONN_OPEN: u16 = 4;
const HB_ANSWERED: u16 = 8;
const FAULTY: u16 = 16;
const FAULT_PENDING: u16 = 32;
const STALE_RETRIED: u16 = 64;
const UNREG_OK: u16 = 128;
/// The REGISTER in flight carries credentials.
const AUTHED: u16 = 256;

/// Which transaction slot a response belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Reg,
    Hb,
    Query,
}

/// One emulated GB28181 device. See the [module docs](super) for the event/outbox contract.
#[derive(Clone, Debug)]
pub struct Camera {
    id: DeviceId,
    index: u32,
    rng: u32,
    reg_gen: u32,
    reg_cseq: u32,
    counter: u32,
    hb_sn: u32,
    granted: u32,
    flow_due: Time,
    wake: Time,
    hb_next: Time,
    reg: Txn,
    hb: Txn,
    q: Txn,
    queue: QueryQueue,
    last_req: u32,
    last_code: u16,
    redirect: u16,
    phase: Phase,
    purpose: Purpose,
    misses: u8,
    flags: u16,
}

fn hash32(parts: &[&[u8]]) -> u32 {
    // FNV-1a: identifies a retransmitted request; collisions only cost a duplicate answer.
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for &b in *p {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0193);
    }
    h | 1
}

impl Camera {
    /// A camera with `id`, the `index`-th of its fleet (indices must be unique in a run).
    pub fn new(id: DeviceId, index: u32, cfg: &super::CameraConfig) -> Camera {
        let mut seed = index.wrapping_mul(0x9e37_79b9) ^ cfg.run_id.rotate_left(16) ^ 0x5bd1_e995;
        if seed == 0 {
            seed = 1;
        }
        let mut cam = Camera {
            id,
            index,
            rng: seed,
            reg_gen: 0,
            reg_cseq: 0,
            counter: 0,
            hb_sn: 0,
            granted: 0,
            flow_due: Time::ZERO,
            wake: Time::ZERO,
            hb_next: Time::ZERO,
            reg: Txn::IDLE,
            hb: Txn::IDLE,
            q: Txn::IDLE,
            queue: QueryQueue::default(),
            last_req: 0,
            last_code: 0,
            redirect: 0,
            phase: Phase::Idle,
            purpose: Purpose::Initial,
            misses: 0,
            flags: 0,
        };
        cam.next_rand();
        if cam.next_rand() % 1000 < cfg.fault_permille {
            cam.flags |= FAULTY;
        }
        cam
    }

    /// The device ID.
    pub fn id(&self) -> &DeviceId {
        &self.id
    }

    /// The index given at creation.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// True while registered (including during a refresh).
    pub fn is_registered(&self) -> bool {
        self.flags & REGISTERED != 0
    }

    /// True once stopped (after the unregister, if any, ended).
    pub fn is_stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// True if it was started and has not stopped.
    pub fn is_started(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// True if the stop ended with a successful unregister.
    pub fn unregistered(&self) -> bool {
        self.flags & UNREG_OK != 0
    }

    /// True if this camera reports a faulty sub-device in its keepalives.
    pub fn is_faulty(&self) -> bool {
        self.flags & FAULTY != 0
    }

    /// Keepalives sent so far (the last SN).
    pub fn keepalives_sent(&self) -> u32 {
        self.hb_sn
    }

    /// The current 302 target as an index into [`super::Redirects`] (0 = the configured
    /// server).
    pub fn redirect(&self) -> u16 {
        self.redirect
    }

    /// The next time the camera needs [`handle_timeout`](Self::handle_timeout), if any.
    pub fn poll_timeout(&self) -> Option<Time> {
        let mut t = [self.reg.wake(), self.hb.wake(), self.q.wake()]
            .into_iter()
            .flatten()
            .min();
        let mut consider = |v: Time| t = Some(t.map_or(v, |c| c.min(v)));
        if matches!(self.phase, Phase::Backoff | Phase::Registered) {
            consider(self.wake);
        }
        if self.heartbeating() {
            consider(self.hb_next);
        }
        t
    }

    /// Keepalives run while registered, and not while the stop is unregistering.
    fn heartbeating(&self) -> bool {
        self.is_registered() && self.flags & STOPPING == 0
    }

    fn next_rand(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    /// Starts registering; `due` is when the ramp scheduled it (latency counts from there).
    pub fn handle_start(&mut self, now: Time, due: Time, env: &mut Env<'_>) {
        if self.phase != Phase::Idle {
            return;
        }
        self.flow_due = due;
        self.start_flow(Purpose::Initial, now, env);
    }

    /// A TCP connection the camera asked for is open.
    pub fn handle_connected(&mut self, now: Time, env: &mut Env<'_>) {
        self.flags |= CONN_OPEN;
        if self.phase == Phase::Connecting {
            self.send_register(now, None, env);
        }
    }

    /// The connection closed or could not be opened (TCP), or the network refused a datagram
    /// (ICMP unreachable on UDP): transactions in flight fail and the camera goes offline.
    pub fn handle_transport_error(&mut self, now: Time, env: &mut Env<'_>) {
        self.flags &= !CONN_OPEN;
        match self.phase {
            Phase::Idle | Phase::Stopped | Phase::Backoff => return,
            Phase::Connecting => self.record_flow(now, Outcome::TransportError, env),
            Phase::Flow | Phase::Registered => {}
        }
        let purpose = self.purpose;
        if self.reg.active {
            Self::finish(&mut self.reg, Outcome::TransportError, now, env);
        }
        self.end_txns(&[Slot::Hb, Slot::Query], Outcome::TransportError, now, env);
        if purpose == Purpose::Unregister && self.phase != Phase::Registered {
            self.stop_finish(now, env);
        } else {
            self.go_offline(now, 0, env);
        }
    }

    /// A fault appeared: report it at once in a keepalive (GB28181 §9.6: status report).
    pub fn handle_fault(&mut self, now: Time, env: &mut Env<'_>) {
        self.flags |= FAULTY;
        if !self.is_registered() {
            return;
        }
        if self.hb.active {
            self.flags |= FAULT_PENDING;
        } else {
            self.send_keepalive(now, now, env);
        }
    }

    /// Stops the camera: unregisters if registered (and configured to), then stops.
    pub fn handle_stop(&mut self, now: Time, env: &mut Env<'_>) {
        if self.phase == Phase::Stopped || self.flags & STOPPING != 0 {
            return;
        }
        self.flags |= STOPPING;
        // A keepalive or answer already sent was sent before the unregister, so its response
        // comes first: it completes as usual; only what is still in flight when the camera
        // stops is abandoned. Nothing new starts.
        self.queue.clear();
        if self.reg.active && self.purpose == Purpose::Refresh {
            // A refresh already sent completes too: its success unregisters (the STOPPING
            // check after a 2xx), its failure leaves the camera stopped offline.
            return;
        }
        if self.reg.active {
            Self::finish(&mut self.reg, Outcome::Abandoned, now, env);
        } else if self.phase == Phase::Connecting {
            self.record_flow(now, Outcome::Abandoned, env);
        }
        if self.is_registered() && env.cfg.unregister_on_stop {
            self.flow_due = now;
            self.flags &= !STALE_RETRIED;
            self.start_flow(Purpose::Unregister, now, env);
        } else {
            self.stop_finish(now, env);
        }
    }

    /// Gives up at once (the stop's grace period is over): every transaction still in flight
    /// is recorded as pending at stop, and the camera stops.
    pub fn handle_abort(&mut self, now: Time, env: &mut Env<'_>) {
        if self.phase == Phase::Stopped {
            return;
        }
        self.end_txns(
            &[Slot::Reg, Slot::Hb, Slot::Query],
            Outcome::Abandoned,
            now,
            env,
        );
        if self.phase == Phase::Connecting {
            self.record_flow(now, Outcome::Abandoned, env);
        }
        self.queue.clear();
        self.flags |= STOPPING;
        self.stop_finish(now, env);
    }

    /// Timers: retransmissions, Timer F, retries, refreshes and keepalive ticks due by `now`.
    pub fn handle_timeout(&mut self, now: Time, env: &mut Env<'_>) {
        for slot in [Slot::Reg, Slot::Hb, Slot::Query] {
            let t = *self.txn(slot);
            if !t.active {
                continue;
            }
            if now >= t.deadline {
                self.txn_failed(slot, Outcome::Timeout, 0, now, env);
            } else if t.retransmitting() && now >= t.next_retx {
                let out = &mut *env.out;
                out.msg.clear();
                out.msg.extend_from_slice(out.pool.get(t.buf));
                out.send_msg(Dest::Server);
                self.txn(slot).retransmitted(now);
            }
        }
        match self.phase {
            Phase::Backoff if now >= self.wake => {
                self.flow_due = self.wake;
                self.start_flow(Purpose::Initial, now, env);
            }
            Phase::Registered if now >= self.wake => {
                self.flow_due = self.wake;
                self.start_flow(Purpose::Refresh, now, env);
            }
            _ => {}
        }
        if self.heartbeating() && now >= self.hb_next {
            self.keepalive_tick(now, env);
        }
    }

    /// A SIP message from the network (one UDP datagram, or one framed TCP message).
    pub fn handle_message(&mut self, now: Time, bytes: &[u8], env: &mut Env<'_>) {
        let mut headers = [Header::EMPTY; 40];
        let limits = Limits {
            max_message: 64 * 1024,
            max_headers: 40,
        };
        let msg = match parse_datagram(bytes, &mut headers, &limits) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(_) => {
                env.out.counters.malformed += 1;
                return;
            }
        };
        self.handle_parsed(now, &msg, env);
    }

    /// A message the caller has parsed already (to route it, say): the same as
    /// [`Camera::handle_message`] without parsing twice.
    pub fn handle_parsed(&mut self, now: Time, msg: &Message<'_, '_>, env: &mut Env<'_>) {
        if msg.is_request() {
            self.handle_request(now, msg, env);
        } else {
            self.handle_response(now, msg, env);
        }
    }

    fn txn(&mut self, slot: Slot) -> &mut Txn {
        match slot {
            Slot::Reg => &mut self.reg,
            Slot::Hb => &mut self.hb,
            Slot::Query => &mut self.q,
        }
    }

    /// Ends a transaction with one record.
    fn finish(t: &mut Txn, outcome: Outcome, now: Time, env: &mut Env<'_>) {
        env.out.pool.release(t.buf);
        env.out.records.push(Record {
            kind: t.kind,
            outcome,
            latency: now.since(t.due),
            retransmits: t.retx,
        });
        *t = Txn::IDLE;
    }

    /// Records a registration flow that ended before any request was sent.
    fn record_flow(&mut self, now: Time, outcome: Outcome, env: &mut Env<'_>) {
        env.out.records.push(Record {
            kind: self.purpose.kind(),
            outcome,
            latency: now.since(self.flow_due),
            retransmits: 0,
        });
    }

    fn target<'b>(&self, env: &Env<'b>, host: &'b mut [u8; 64]) -> (DeviceId, usize) {
        if let Some((addr, id)) = env.out.redirects.get(self.redirect) {
            // SocketAddr's Display is the URI form (`1.2.3.4:5060`, `[::1]:5060`); 64 bytes
            // always hold it.
            let mut rest = &mut host[..];
            let _ = write!(rest, "{addr}");
            let n = 64 - rest.len();
            (id, n)
        } else {
            let d = env.cfg.domain.as_bytes();
            let n = d.len().min(host.len());
            host[..n].copy_from_slice(&d[..n]);
            (env.cfg.server_id, n)
        }
    }

    fn start_flow(&mut self, purpose: Purpose, now: Time, env: &mut Env<'_>) {
        self.purpose = purpose;
        if purpose == Purpose::Initial {
            self.reg_gen = self.reg_gen.wrapping_add(1);
            self.reg_cseq = 0;
        }
        if env.cfg.transport == Transport::Tcp && self.flags & CONN_OPEN == 0 {
            if self.phase != Phase::Connecting {
                env.out.actions.push(Action::Connect);
            }
            self.phase = Phase::Connecting;
            return;
        }
        self.send_register(now, None, env);
    }

    /// Sends a REGISTER for the current purpose, answering `challenge` if given.
    fn send_register(&mut self, now: Time, challenge: Option<&AuthParams<'_>>, env: &mut Env<'_>) {
        self.phase = Phase::Flow;
        self.reg_cseq = self.reg_cseq.wrapping_add(1);
        self.counter = self.counter.wrapping_add(1);
        let mut host = [0u8; 64];
        let (sid, host_len) = self.target(env, &mut host);
        let target = Target {
            server_id: &sid,
            host: &host[..host_len],
        };
        if let Some(ch) = challenge {
            let r = self.next_rand();
            let mut cn = [0u8; 8];
            for (i, c) in cn.iter_mut().enumerate() {
                *c = b"0123456789abcdef"[((r >> (28 - 4 * i)) & 0xf) as usize];
            }
            let out = &mut *env.out;
            request_uri(&mut out.body, &target);
            out.auth.clear();
            let answered = digest::write_authorization(
                &mut out.auth,
                ch,
                self.id.as_bytes(),
                env.cfg.password.as_bytes(),
                b"REGISTER",
                &out.body,
                1,
                &cn,
            );
            if answered.is_err() {
                // A challenge we cannot answer ends the flow as rejected.
                self.record_flow(now, Outcome::Status(401), env);
                self.flow_failed(now, 0, env);
                return;
            }
        }
        let expires = if self.purpose == Purpose::Unregister {
            0
        } else {
            env.cfg.expires
        };
        let ids = Ids {
            index: self.index,
            branch: self.counter,
            call: self.reg_gen,
            call_kind: b'r',
            cseq: self.reg_cseq,
        };
        write_register(env, &self.id, &target, &ids, expires, challenge.is_some());
        if challenge.is_some() {
            self.flags |= AUTHED;
        } else {
            self.flags &= !AUTHED;
        }
        let (buf, udp) = Self::transmit(env);
        let retx = self.reg.retx;
        self.reg = Txn::start(
            self.purpose.kind(),
            self.flow_due,
            now,
            self.counter,
            buf,
            udp,
        );
        if challenge.is_some() {
            // The whole flow counts as one transaction: carry the first leg's retransmissions.
            self.reg.retx = retx;
        }
    }

    fn send_message(&mut self, slot: Slot, kind: TxnKind, due: Time, now: Time, env: &mut Env<'_>) {
        self.counter = self.counter.wrapping_add(1);
        let mut host = [0u8; 64];
        let (sid, host_len) = self.target(env, &mut host);
        let target = Target {
            server_id: &sid,
            host: &host[..host_len],
        };
        let ids = Ids {
            index: self.index,
            branch: self.counter,
            call: self.counter,
            call_kind: b'm',
            cseq: self.counter,
        };
        write_message(env, &self.id, &target, &ids);
        let (buf, udp) = Self::transmit(env);
        *self.txn(slot) = Txn::start(kind, due, now, self.counter, buf, udp);
    }

    /// Sends the request in `env.out.msg` to the server, keeping a copy for retransmission
    /// over UDP; returns the copy's handle and whether it is UDP.
    fn transmit(env: &mut Env<'_>) -> (u32, bool) {
        let udp = env.cfg.transport == Transport::Udp;
        let buf = if udp {
            env.out.pool.put(&env.out.msg)
        } else {
            NONE
        };
        env.out.send_msg(Dest::Server);
        (buf, udp)
    }

    /// Ends every transaction in flight among `slots` with `outcome`.
    fn end_txns(&mut self, slots: &[Slot], outcome: Outcome, now: Time, env: &mut Env<'_>) {
        for &slot in slots {
            let t = self.txn(slot);
            if t.active {
                Self::finish(t, outcome, now, env);
            }
        }
    }

    fn send_keepalive(&mut self, due: Time, now: Time, env: &mut Env<'_>) {
        self.hb_sn = self.hb_sn.wrapping_add(1);
        self.flags &= !(HB_ANSWERED | FAULT_PENDING);
        if self.is_faulty() {
            let faulty = [self.id.channel(1, env.cfg.channels.max(1))];
            manscdp::write_keepalive(&mut env.out.body, self.hb_sn, &self.id, &faulty);
        } else {
            manscdp::write_keepalive(&mut env.out.body, self.hb_sn, &self.id, &[]);
        }
        self.send_message(Slot::Hb, TxnKind::Keepalive, due, now, env);
    }

    fn keepalive_tick(&mut self, now: Time, env: &mut Env<'_>) {
        let due = self.hb_next;
        let interval = env.cfg.heartbeat();
        while self.hb_next <= now {
            self.hb_next += interval;
        }
        if self.flags & HB_ANSWERED == 0 {
            self.misses = self.misses.saturating_add(1);
        }
        if self.hb.active {
            Self::finish(&mut self.hb, Outcome::Timeout, now, env);
        }
        if self.misses >= env.cfg.heartbeat_misses.max(1) {
            self.misses = 0;
            if self.reg.active {
                Self::finish(&mut self.reg, Outcome::Abandoned, now, env);
            }
            self.go_offline(now, 0, env);
            return;
        }
        self.send_keepalive(due, now, env);
    }

    fn handle_response(&mut self, now: Time, msg: &Message<'_, '_>, env: &mut Env<'_>) {
        let (Some(code), Some(cseq), Some(via)) = (msg.status(), msg.cseq(), msg.via()) else {
            env.out.counters.malformed += 1;
            return;
        };
        let Some((index, branch)) = via.branch().and_then(parse_branch) else {
            env.out.counters.stray += 1;
            return;
        };
        let slot = [Slot::Reg, Slot::Hb, Slot::Query].into_iter().find(|&s| {
            let t = match s {
                Slot::Reg => &self.reg,
                Slot::Hb => &self.hb,
                Slot::Query => &self.q,
            };
            let method_ok = match s {
                Slot::Reg => cseq.method == Method::Register,
                _ => cseq.method == Method::Message,
            };
            t.active && t.branch == branch && method_ok
        });
        let Some(slot) = slot.filter(|_| index == self.index) else {
            env.out.counters.stray += 1;
            return;
        };
        if code < 200 {
            self.txn(slot).provisional(now);
            return;
        }
        match slot {
            Slot::Reg => self.register_response(now, code, msg, env),
            Slot::Hb => {
                let kind_ok = (200..300).contains(&code);
                Self::finish(&mut self.hb, Outcome::Status(code), now, env);
                if kind_ok {
                    self.flags |= HB_ANSWERED;
                    self.misses = 0;
                }
                if self.flags & FAULT_PENDING != 0 && self.is_registered() {
                    self.send_keepalive(now, now, env);
                }
            }
            Slot::Query => {
                Self::finish(&mut self.q, Outcome::Status(code), now, env);
                let more = (200..300).contains(&code)
                    && self.queue.front().is_some_and(|(k, _)| {
                        k == QueryKind::Catalog
                            && (u32::from(self.queue.page) + 1)
                                .saturating_mul(env.cfg.catalog_page.max(1))
                                < env.cfg.channels
                    });
                if more {
                    self.queue.page += 1;
                } else {
                    self.queue.pop();
                }
                self.next_query(now, env);
            }
        }
    }

    fn register_response(
        &mut self,
        now: Time,
        code: u16,
        msg: &Message<'_, '_>,
        env: &mut Env<'_>,
    ) {
        let authed = self.flags & AUTHED != 0;
        match code {
            401 | 407 => {
                let ch = msg.challenge();
                let stale_retry =
                    ch.is_some_and(|c| c.is_stale()) && self.flags & STALE_RETRIED == 0;
                match ch {
                    Some(ch) if !authed || stale_retry => {
                        if authed {
                            self.flags |= STALE_RETRIED;
                        }
                        env.out.pool.release(self.reg.buf);
                        self.reg.buf = NONE;
                        self.reg.active = false;
                        self.send_register(now, Some(&ch), env);
                    }
                    _ => self.txn_failed(Slot::Reg, Outcome::Status(code), 0, now, env),
                }
            }
            200..=299 => {
                Self::finish(&mut self.reg, Outcome::Status(code), now, env);
                self.flags &= !STALE_RETRIED;
                if self.purpose == Purpose::Unregister {
                    self.flags |= UNREG_OK;
                    self.flags &= !REGISTERED;
                    self.stop_finish(now, env);
                    return;
                }
                let granted = msg
                    .contact()
                    .and_then(|c| c.expires())
                    .or_else(|| msg.expires())
                    .filter(|&g| g > 0)
                    .unwrap_or(env.cfg.expires);
                self.granted = granted;
                if !self.is_registered() {
                    self.flags |= REGISTERED | HB_ANSWERED;
                    self.misses = 0;
                    env.out.counters.online += 1;
                    self.hb_next = now + env.cfg.heartbeat();
                }
                let refresh = Span::from_secs(u64::from(granted))
                    .permille(env.cfg.refresh_permille.clamp(1, 1000));
                self.wake = now + refresh.max(Span::from_millis(1));
                self.phase = Phase::Registered;
                if self.flags & STOPPING != 0 {
                    // A stop arrived while this flow was being set up; unregister now.
                    self.flags &= !STOPPING;
                    self.handle_stop(now, env);
                }
            }
            302 if self.purpose != Purpose::Unregister && self.redirect == 0 => {
                let target = msg.contact().and_then(|c| {
                    let uri = Uri::parse(c.uri)?;
                    let id = DeviceId::parse(uri.user?).ok()?;
                    let host = std::str::from_utf8(uri.host_port.host).ok()?;
                    let host = host.trim_start_matches('[').trim_end_matches(']');
                    let ip: IpAddr = host.parse().ok()?;
                    Some((SocketAddr::new(ip, uri.host_port.port.unwrap_or(5060)), id))
                });
                let index = target.and_then(|(a, id)| env.out.redirects.intern(a, id));
                match index {
                    Some(i) => {
                        Self::finish(&mut self.reg, Outcome::Status(302), now, env);
                        self.redirect = i;
                        self.flags &= !REGISTERED;
                        if self.flags & CONN_OPEN != 0 {
                            env.out.actions.push(Action::Close);
                            self.flags &= !CONN_OPEN;
                        }
                        self.flow_due = now;
                        self.start_flow(Purpose::Initial, now, env);
                    }
                    None => self.txn_failed(Slot::Reg, Outcome::Status(302), 0, now, env),
                }
            }
            _ => {
                let retry_after = msg.retry_after().unwrap_or(0);
                self.txn_failed(Slot::Reg, Outcome::Status(code), retry_after, now, env);
            }
        }
    }

    /// A transaction failed (final error, Timer F, transport): record it and react.
    fn txn_failed(
        &mut self,
        slot: Slot,
        outcome: Outcome,
        retry_after: u32,
        now: Time,
        env: &mut Env<'_>,
    ) {
        Self::finish(self.txn(slot), outcome, now, env);
        match slot {
            Slot::Reg => self.flow_failed(now, retry_after, env),
            Slot::Hb => {}
            Slot::Query => {
                self.queue.pop();
                self.next_query(now, env);
            }
        }
    }

    fn flow_failed(&mut self, now: Time, retry_after: u32, env: &mut Env<'_>) {
        self.flags &= !STALE_RETRIED;
        if self.purpose == Purpose::Unregister {
            self.stop_finish(now, env);
        } else {
            self.go_offline(now, retry_after, env);
        }
    }

    /// Leaves the registered state and waits the retry interval before registering again
    /// (at the configured server: a 302 target that failed us is forgotten).
    fn go_offline(&mut self, now: Time, retry_after_s: u32, env: &mut Env<'_>) {
        if self.is_registered() {
            env.out.counters.offline += 1;
        }
        self.flags &= !(REGISTERED | STALE_RETRIED | FAULT_PENDING);
        self.end_txns(&[Slot::Hb, Slot::Query], Outcome::Abandoned, now, env);
        self.queue.clear();
        self.misses = 0;
        self.redirect = 0;
        if self.flags & CONN_OPEN != 0 {
            env.out.actions.push(Action::Close);
            self.flags &= !CONN_OPEN;
        }
        if self.flags & STOPPING != 0 {
            self.phase = Phase::Stopped;
            return;
        }
        let interval = env.cfg.retry_interval();
        let base = interval.max(Span::from_secs(u64::from(retry_after_s)));
        // The jitter is drawn in whole milliseconds, up to its share of the interval.
        let spread_ms = interval.permille(env.cfg.retry_jitter_permille).as_millis();
        let jitter = if spread_ms > 0 {
            Span::from_millis(u64::from(self.next_rand()) % (spread_ms + 1))
        } else {
            Span::ZERO
        };
        self.wake = now + base + jitter;
        self.phase = Phase::Backoff;
    }

    fn stop_finish(&mut self, now: Time, env: &mut Env<'_>) {
        self.end_txns(
            &[Slot::Reg, Slot::Hb, Slot::Query],
            Outcome::Abandoned,
            now,
            env,
        );
        self.queue.clear();
        self.flags &= !REGISTERED;
        if self.flags & CONN_OPEN != 0 {
            env.out.actions.push(Action::Close);
            self.flags &= !CONN_OPEN;
        }
        self.phase = Phase::Stopped;
    }

    fn handle_request(&mut self, now: Time, msg: &Message<'_, '_>, env: &mut Env<'_>) {
        let Some(method) = msg.method() else { return };
        if method == Method::Ack {
            return;
        }
        let (Some(cseq), Some(via), Some(call_id)) = (msg.cseq(), msg.via(), msg.call_id()) else {
            env.out.counters.malformed += 1;
            return;
        };
        let mut seq = [0u8; 4];
        seq.copy_from_slice(&cseq.seq.to_le_bytes());
        let key = hash32(&[
            via.branch().unwrap_or(b""),
            call_id,
            &seq,
            method.as_bytes(),
        ]);
        if key == self.last_req {
            env.out.counters.request_retransmits += 1;
            self.respond(msg, self.last_code, env);
            return;
        }
        let mut queued = false;
        let code = match method {
            Method::Message => match Manscdp::parse(msg.body) {
                Some(x) if x.root == Root::Query => match QueryKind::from_cmd(x.cmd_type) {
                    Some(kind) => {
                        if self.queue.push(kind, x.sn.unwrap_or(0)) {
                            env.out.counters.queries += 1;
                            queued = true;
                            200
                        } else {
                            env.out.counters.queries_refused += 1;
                            486
                        }
                    }
                    None => 200,
                },
                _ => 200,
            },
            Method::Options => 200,
            _ => 501,
        };
        self.last_req = key;
        self.last_code = code;
        self.respond(msg, code, env);
        if queued {
            self.next_query(now, env);
        }
    }

    fn respond(&mut self, msg: &Message<'_, '_>, code: u16, env: &mut Env<'_>) {
        let mut to_tag = [0u8; 9];
        to_tag[0] = b't';
        for (i, c) in to_tag[1..].iter_mut().enumerate() {
            *c = b"0123456789abcdef"[((self.index >> (28 - 4 * i)) & 0xf) as usize];
        }
        let out = &mut *env.out;
        let mut w = response_to(&mut out.msg, msg, code, Some(&to_tag), None);
        w.header(b"User-Agent", env.cfg.user_agent.as_bytes());
        w.finish(b"");
        out.send_msg(Dest::Source);
    }

    fn next_query(&mut self, now: Time, env: &mut Env<'_>) {
        if self.q.active {
            return;
        }
        let Some((kind, sn)) = self.queue.front() else {
            return;
        };
        let unix_ms = env.cfg.unix_ms(now);
        write_response(
            &mut env.out.body,
            env.cfg,
            &self.id,
            kind,
            sn,
            self.queue.page,
            unix_ms,
        );
        self.send_message(Slot::Query, TxnKind::QueryResponse, now, now, env);
    }
}
