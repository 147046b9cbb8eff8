//! The camera state machine: its state, the events it takes (the `handle_*` methods), the one
//! wake-up it reports ([`Camera::poll_timeout`]), and the sending and bookkeeping every flow
//! shares. What an event sets off lives beside it, one job per file: the registration flow
//! (`register`: digest auth, 423 Min-Expires, refresh, redirect, unregister, retries with
//! backoff), keepalives with miss counting (`keepalive`), requests from the platform and the
//! answers to its queries (`platform`), what a query or control asks and TeleBoot's restart
//! (`device`), the responses to the camera's own requests (`responses`), and the stop and
//! the abort (`stop`).
//!
//! Nothing here touches a socket or reads a clock: time comes in as `now`, everything goes
//! out through the [`Outbox`](super::Outbox) in [`Env`].

mod challenge;
mod device;
mod keepalive;
mod platform;
mod register;
mod responses;
mod stop;

use super::pool::BufId;
use super::queries::QueryQueue;
use super::request::{Ids, Target, write_message};
use super::transaction::Txn;
use super::{Dest, Env, Outcome, Record, RedirectId, Transport, TxnKind};
use crate::clock::Time;
use crate::gb::DeviceId;
use crate::sip::{Header, Limits, Message, parse_datagram};
use std::io::Write as _;

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
/// The registration flow in flight followed a 302.
const REDIRECTED: u16 = 512;
/// The registration flow in flight was answered 423 once and asked again for more.
const EXPIRY_RAISED: u16 = 1024;
/// The keepalive in flight answers a challenge (one per keepalive).
const HB_AUTHED: u16 = 2048;
/// The query answer in flight answers a challenge (one per answer).
const Q_AUTHED: u16 = 4096;

/// Which transaction slot a response belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Reg,
    Hb,
    Query,
}

/// One emulated GB28181 device, as a sans-IO state machine: it never touches a socket and
/// never reads a clock.
///
/// # Contract
///
/// Whoever drives a camera (a *host*) keeps these rules, as with quinn-proto's `Connection`:
///
/// 1. **Inputs are the `handle_*` methods**, each given `now`, the host clock's current
///    [`Time`]: [`handle_start`](Self::handle_start) once,
///    [`handle_message`](Self::handle_message) (or [`handle_parsed`](Self::handle_parsed)) for
///    every SIP message addressed to this camera,
///    [`handle_timeout`](Self::handle_timeout) when its timer fires,
///    [`handle_connected`](Self::handle_connected) and
///    [`handle_transport_error`](Self::handle_transport_error) for the connection it asked
///    for (the latter also when the network refuses a datagram),
///    [`handle_fault`](Self::handle_fault), [`handle_stop`](Self::handle_stop) and
///    [`handle_abort`](Self::handle_abort).
/// 2. **Outputs are drained from the [`Outbox`](super::Outbox) after every `handle_*`**, in
///    order: each [`Transmit`](super::Transmit) in `sends` goes to its
///    [`Dest`] (`Server` is the current registrar: the configured one or the
///    [`redirect`](Self::redirect) target), each [`Action`](super::Action) is carried out
///    (connect and report back, or close), each [`Record`] goes to the stats.
///    The outbox is cleared before the next call ([`Outbox::clear`](super::Outbox::clear);
///    its counters and retransmission pool live on).
/// 3. **Then the timer is re-armed from [`poll_timeout`](Self::poll_timeout)**: the camera's
///    one next wake-up, replacing any earlier one; `None` disarms it. A `handle_timeout`
///    earlier than asked for does nothing; a late one delays retransmissions and shows in the
///    latencies, as schedule lag. The transactions the camera starts on its own (keepalives,
///    refreshes, retries) are due on whole ticks of the [timer wheel](crate::timer::TICK), so
///    a host that wakes when its wheel says sends them on time and those due in one tick
///    together.
/// 4. **`now` never goes back** from one call to the next: deadlines, retries and latencies
///    are measured on it. (A start's `due` may be earlier than its `now`; latency counts from
///    `due`.)
///
/// The one driver that keeps this contract for every host — the generator's workers and the
/// simulation — is [`Fleet`](super::driver::Fleet): a host implements
/// [`Host`](super::driver::Host) and never calls `handle_*` itself. Driving a camera by hand,
/// as below, is for tests and examples.
///
/// # Example
///
/// A camera's first registration, driven by hand: the REGISTER goes out, a 401 challenge
/// comes back, the camera answers it with credentials.
///
/// ```rust
/// use gbswarm::camera::{Camera, CameraConfig, Dest, Env, Outbox, T1};
/// use gbswarm::clock::{Span, Time};
/// use gbswarm::sip::{Header, Limits, digest, parse_datagram, response_to};
///
/// let cfg = CameraConfig::new("34020000002000000001".parse().unwrap());
/// let mut cam = Camera::new("34020000001320000001".parse().unwrap(), 0, &cfg);
/// let mut out = Outbox::default();
/// let local = "10.0.0.7:5060".parse().unwrap();
///
/// // Input: start now. Output: one REGISTER to the server, without credentials.
/// let now = Time::ZERO;
/// out.clear();
/// cam.handle_start(now, now, &mut Env { cfg: &cfg, local, out: &mut out });
/// assert_eq!(out.sends.len(), 1);
/// assert_eq!(out.sends[0].dest, Dest::Server);
/// assert!(out.actions.is_empty() && out.records.is_empty());
/// let register = out.bytes(&out.sends[0]).to_vec();
/// let mut headers = [Header::EMPTY; 40];
/// let req = parse_datagram(&register, &mut headers, &Limits::default()).unwrap().unwrap();
/// assert!(req.authorization().is_none());
/// // Timer: over UDP, the REGISTER is sent again at T1 unless answered.
/// assert_eq!(cam.poll_timeout(), Some(now + T1));
///
/// // The registrar's 401 challenge, written with the crate's SIP writer.
/// let mut www = Vec::new();
/// digest::write_challenge(&mut www, b"3402000000", b"n0nce", None, true, false, digest::Algorithm::MD5);
/// let mut challenge = Vec::new();
/// let mut w = response_to(&mut challenge, &req, 401, Some(b"srv"), None);
/// w.header(b"WWW-Authenticate", &www);
/// w.finish(b"");
///
/// // It arrives 2 ms later: the camera answers at once, with a valid Authorization.
/// let now = now + Span::from_millis(2);
/// out.clear();
/// cam.handle_message(now, &challenge, &mut Env { cfg: &cfg, local, out: &mut out });
/// assert_eq!(out.sends.len(), 1);
/// let mut headers = [Header::EMPTY; 40];
/// let answer = parse_datagram(out.bytes(&out.sends[0]), &mut headers, &Limits::default())
///     .unwrap()
///     .unwrap();
/// let auth = answer.authorization().expect("an Authorization header");
/// let (realm, password) = (auth.realm.unwrap(), cfg.password_of(0));
/// let ha1 = digest::ha1(digest::Algorithm::MD5, cam.id().as_bytes(), &realm, password);
/// assert!(digest::verify(&auth, b"REGISTER", &ha1));
/// // The flow is one transaction, still in flight: no record yet, and the timer moves to the
/// // answer's first retransmission.
/// assert!(out.records.is_empty());
/// assert_eq!(cam.poll_timeout(), Some(now + T1));
/// assert!(!cam.is_registered());
/// ```
#[derive(Clone, Debug)]
pub struct Camera {
    id: DeviceId,
    index: u32,
    rng: u32,
    reg_gen: u32,
    reg_cseq: u32,
    counter: u32,
    hb_sn: u32,
    /// When the registrar's binding of this camera lapses, in whole seconds of host time (0:
    /// none held): set by a 2xx to REGISTER, cleared by a successful unregister. The stop
    /// unregisters a camera that holds one, online or not.
    bound_until_s: u32,
    /// The expiry a 423 named as the registrar's floor (0: none); asked instead of a shorter
    /// configured one until the camera leaves that registrar.
    min_expires: u32,
    flow_due: Time,
    /// When the registration flow's first request went out ([`Time::MAX`] before that).
    flow_sent: Time,
    wake: Time,
    hb_next: Time,
    reg: Txn,
    hb: Txn,
    q: Txn,
    queue: QueryQueue,
    last_req: u32,
    last_code: u16,
    redirect: Option<RedirectId>,
    phase: Phase,
    purpose: Purpose,
    misses: u8,
    flags: u16,
    /// Device state the platform sets: the `device` module's recording, guard and reboot
    /// bits.
    dev: u8,
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
            bound_until_s: 0,
            min_expires: 0,
            flow_due: Time::ZERO,
            flow_sent: Time::MAX,
            wake: Time::ZERO,
            hb_next: Time::ZERO,
            reg: Txn::IDLE,
            hb: Txn::IDLE,
            q: Txn::IDLE,
            queue: QueryQueue::default(),
            last_req: 0,
            last_code: 0,
            redirect: None,
            phase: Phase::Idle,
            purpose: Purpose::Initial,
            misses: 0,
            flags: 0,
            dev: 0,
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

    /// True while trying to register for the first time or again after losing the server: a
    /// REGISTER flow (or its TCP connect) is under way and the camera is not registered.
    pub fn is_registering(&self) -> bool {
        !self.is_registered()
            && self.purpose == Purpose::Initial
            && matches!(self.phase, Phase::Connecting | Phase::Flow)
    }

    /// Client transactions in flight now (registration, keepalive, query answer): 0 to 3.
    pub fn in_flight(&self) -> u32 {
        u32::from(self.reg.active) + u32::from(self.hb.active) + u32::from(self.q.active)
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

    /// True while a TeleBoot restart is under way (unregistering, then down until it
    /// registers again): what a host keeps for the device (live video, subscriptions) should
    /// end too.
    pub fn is_rebooting(&self) -> bool {
        self.rebooting()
    }

    /// True if this camera reports a faulty sub-device in its keepalives.
    pub fn is_faulty(&self) -> bool {
        self.flags & FAULTY != 0
    }

    /// Keepalives sent so far (the last SN).
    pub fn keepalives_sent(&self) -> u32 {
        self.hb_sn
    }

    /// The current 302 target in the worker's [`super::Redirects`]; none while the camera
    /// talks to the configured server.
    pub fn redirect(&self) -> Option<RedirectId> {
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
            self.end(Slot::Reg, Outcome::TransportError, now, env);
        }
        self.end_txns(&[Slot::Hb, Slot::Query], Outcome::TransportError, now, env);
        if purpose == Purpose::Unregister && self.phase != Phase::Registered && self.rebooting() {
            self.reboot_wait(now, env);
        } else if purpose == Purpose::Unregister && self.phase != Phase::Registered {
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
                out.counters.retransmissions += 1;
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

    /// The transaction in `slot`.
    fn txn(&mut self, slot: Slot) -> &mut Txn {
        match slot {
            Slot::Reg => &mut self.reg,
            Slot::Hb => &mut self.hb,
            Slot::Query => &mut self.q,
        }
    }

    /// Ends the transaction in `slot` with one record. A registration counts as one
    /// transaction over all its legs (challenge, 423, 302): its lag runs to the flow's first
    /// request.
    fn end(&mut self, slot: Slot, outcome: Outcome, now: Time, env: &mut Env<'_>) {
        let (flow_sent, redirected) = (self.flow_sent, self.flags & REDIRECTED != 0);
        let t = self.txn(slot);
        let (sent, redirected) = match slot {
            Slot::Reg => (flow_sent.min(t.sent()), redirected),
            Slot::Hb | Slot::Query => (t.sent(), false),
        };
        env.out.pool.release(t.buf);
        env.out.records.push(Record {
            kind: t.kind,
            outcome,
            latency: now.since(t.due),
            lag: sent.since(t.due).min(now.since(t.due)),
            retransmits: t.retx,
            redirected,
        });
        *t = Txn::IDLE;
    }

    /// Where the camera's requests go now: the registrar's ID, and the host part of the
    /// Request-URI (the domain, or a 302 target's `ip:port`) written into `host`, whose used
    /// length is returned.
    fn target<'b>(&self, env: &Env<'b>, host: &'b mut [u8; 64]) -> (DeviceId, usize) {
        if let Some((addr, id)) = self.redirect.and_then(|r| env.out.redirects.get(r)) {
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

    /// Sends a MESSAGE carrying `env.out.body` as a new transaction in `slot` (a keepalive or
    /// a query answer), due at `due`; with credentials when a registrar challenged this
    /// camera's MESSAGEs before (see [`crate::camera::credentials`]).
    fn send_message(&mut self, slot: Slot, kind: TxnKind, due: Time, now: Time, env: &mut Env<'_>) {
        self.counter = self.counter.wrapping_add(1);
        self.flags &= !Self::authed_flag(slot);
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
        let auth = self.reuse_credentials(&target, env);
        write_message(env, &self.id, &target, &ids, auth);
        let (buf, udp) = self.transmit(env);
        *self.txn(slot) = Txn::start(kind, due, now, self.counter, buf, udp);
    }

    /// Sends the request in `env.out.msg` to the server, keeping a copy for retransmission
    /// over UDP; returns the copy's handle and whether it is UDP.
    fn transmit(&self, env: &mut Env<'_>) -> (Option<BufId>, bool) {
        let udp = env.cfg.transport_of(self.index) == Transport::Udp;
        let buf = udp.then(|| env.out.pool.put(&env.out.msg));
        env.out.send_msg(Dest::Server);
        (buf, udp)
    }

    /// Ends every transaction in flight among `slots` with `outcome`.
    fn end_txns(&mut self, slots: &[Slot], outcome: Outcome, now: Time, env: &mut Env<'_>) {
        for &slot in slots {
            if self.txn(slot).active {
                self.end(slot, outcome, now, env);
            }
        }
    }
}
