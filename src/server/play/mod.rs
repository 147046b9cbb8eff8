//! The platform's play driver (`serve --play`): a sans-IO core that INVITEs registered
//! devices at a rate, holds each live stream, BYEs it and plays again (churn), and checks the
//! PS-over-RTP it receives, as wvp-GB28181-pro and ZLMediaKit together would.
//!
//! - Which device next: the devices this worker registered, round robin, skipping those
//!   already playing; their current address and transport come from the shared registry
//!   through the caller (`contact`), so one unregistered or expired is skipped. A device
//!   registered over TCP is played down its connection (the host finds it by the address),
//!   with no retransmissions.
//! - The INVITE (RFC 3261 UAC): `sip:<device>@<address>`, `Subject: <device>:<ssrc>,<server>:0`,
//!   a wvp-shaped offer ([`crate::gb::sdp_offer`]), retransmitted from T1 doubling (Timer A);
//!   a provisional response stops that. No 200 within 10 s: given up as wvp does (no CANCEL; a
//!   200 that still comes before Timer B is ACKed and BYEd). A final error is ACKed (also when
//!   retransmitted, statelessly) and counted. A 200 is ACKed (again for each retransmission),
//!   its SDP read (a `y=` that differs is adopted and counted).
//! - The stream: held `hold`, then BYE (retransmitted T1 doubling to T2, Timer F); no RTP for
//!   15 s (ZLMediaKit) ends it with a BYE and counts. The device's own BYE gets 200. A device
//!   whose session went wrong (an error, a timeout) or that ended it itself (a source that
//!   stopped, a device shutting down) is not played again for a hold's time. An ended
//!   session keeps its SSRC for [`session::LINGER`], then gives it back to the [`ssrc::Pool`].
//! - Media: every packet is found by its SSRC in a table sized once (ZLMediaKit's single-port
//!   mode) and checked ([`check`]); a packet of no stream counts as a bad SSRC.
//!
//! Where messages go: answers to what a device sent (ACKs to its responses, the 200 to its
//! BYE) into the caller's [`Batch`], which the host sends back to the sender — a gbswarm
//! camera answers from its signalling address, its Contact; what the driver sends on its own
//! (INVITEs, BYEs, retransmissions) into an [`Outbox`] with each destination.
//!
//! What it never does: read a clock (every call takes `now`), touch a socket, or allocate per
//! message or packet once its slots are warm.

pub mod check;
pub mod session;
pub mod ssrc;
pub mod stats;
#[cfg(test)]
mod tests;
pub mod wire;

use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::gb::sdp::{MediaTransport, Offer};
use crate::media::receive::RtpView;
use crate::net::Outbox;
use crate::sip::{Batch, Message, Method, NameAddr, Transport, response_to};
use session::{LINGER, NO_RTP, PLAY_TIMEOUT, Session, State, T1, T2, TIMER_B};
use stats::PlayStats;
use std::collections::HashMap;
use std::net::SocketAddr;
use wire::Me;

/// Most devices one worker keeps in its list to play.
pub const MAX_DEVICES: usize = 1 << 20;

/// How `serve --play` plays.
#[derive(Clone, Debug)]
pub struct PlayConfig {
    /// INVITEs per second, over all workers.
    pub rate: u32,
    /// How long each stream is held before the BYE.
    pub hold: Span,
    /// UDP, or TCP and which side connects (named from the platform's side).
    pub transport: MediaTransport,
    /// Most concurrent sessions, over all workers.
    pub max_streams: usize,
    /// The media port asked for (0: any); worker `i` takes this plus `i`.
    pub media_port: u16,
}

/// One worker's play driver.
#[derive(Debug)]
pub struct Play {
    me: Me,
    hold: Span,
    period: Span,
    max_in_flight: usize,
    worker: usize,
    sessions: Vec<Session>,
    free: Vec<usize>,
    by_ssrc: HashMap<u32, usize>,
    pool: ssrc::Pool,
    /// Each device: its ID, whether a session has it, and when it may be played again.
    devices: Vec<(DeviceId, bool, Time)>,
    known: HashMap<DeviceId, usize>,
    cursor: usize,
    next_invite: Time,
    /// The earliest a session needs the driver (lowered when one is armed, recomputed when
    /// the sessions are scanned).
    session_wake: Time,
    /// Sessions that take a concurrent place ([`Session::in_flight`]).
    in_flight: usize,
    connects: Vec<SocketAddr>,
    body: Vec<u8>,
    stats: Box<PlayStats>,
}

impl Play {
    /// Worker `worker` of `workers`' driver for the platform `me` (its media address is set
    /// once bound, see [`set_media`](Self::set_media)); its INVITEs start at `start`.
    pub fn new(cfg: &PlayConfig, me: Me, worker: usize, workers: usize, start: Time) -> Play {
        let workers = workers.max(1);
        let max_in_flight = cfg.max_streams.div_ceil(workers).max(1);
        // Slots for the sessions in flight, and for those lingering after them: at most every
        // session just ended plus what the rate starts within a linger (0.5 s).
        let rate = (cfg.rate as usize).div_ceil(workers);
        let capacity = 2 * max_in_flight + rate / 2 + 4;
        let nobody = me.id;
        Play {
            hold: cfg.hold,
            period: Span::from_micros(1_000_000 * workers as u64 / u64::from(cfg.rate.max(1))),
            max_in_flight,
            worker,
            sessions: (0..capacity).map(|i| Session::new(i, nobody)).collect(),
            free: (0..capacity).rev().collect(),
            by_ssrc: HashMap::with_capacity(capacity),
            pool: ssrc::Pool::new(&me.domain, worker, workers),
            devices: Vec::new(),
            known: HashMap::new(),
            cursor: 0,
            next_invite: start,
            session_wake: Time::MAX,
            in_flight: 0,
            connects: Vec::new(),
            body: Vec::with_capacity(512),
            stats: Box::default(),
            me,
        }
    }

    /// Sets where media is received (the offer's `c=` and `m=`).
    pub fn set_media(&mut self, addr: SocketAddr) {
        self.me.media = addr;
    }

    /// The counters since the last hand-over, gauges set to now's.
    pub fn stats_now(&mut self) -> &mut Box<PlayStats> {
        let active = self
            .sessions
            .iter()
            .filter(|s| matches!(s.state, State::Streaming | State::Byeing))
            .count();
        self.stats.gauge = Some((self.worker, active as u64, self.pool.in_use() as u64));
        &mut self.stats
    }

    /// A device registered with this worker: it is played from now on (once; the list holds
    /// at most [`MAX_DEVICES`]).
    pub fn device_registered(&mut self, id: DeviceId) {
        if self.known.contains_key(&id) || self.devices.len() >= MAX_DEVICES {
            return;
        }
        self.known.insert(id, self.devices.len());
        self.devices.push((id, false, Time::ZERO));
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Time> {
        let mut wake = self.session_wake;
        if !self.connects.is_empty() {
            wake = Time::ZERO;
        }
        if !self.devices.is_empty() {
            wake = wake.min(self.next_invite);
        }
        (wake != Time::MAX).then_some(wake)
    }

    /// TCP media connections to make (active TCP): taken by the caller.
    pub fn take_connects(&mut self, out: &mut Outbox) {
        for to in self.connects.drain(..) {
            out.connect(to);
        }
    }

    /// Fires every timer due by `now` and sends the INVITEs due; `contact` gives a device's
    /// current address and transport (none: not registered now).
    pub fn handle_timeout(
        &mut self,
        now: Time,
        mut contact: impl FnMut(&DeviceId) -> Option<(SocketAddr, Transport)>,
        out: &mut Outbox,
    ) {
        self.take_connects(out);
        if self.session_wake <= now {
            // One scan fires what is due and finds the next wake-up; an INVITE tick alone
            // scans nothing.
            let mut wake = Time::MAX;
            for i in 0..self.sessions.len() {
                if self.sessions[i].wake().is_some_and(|t| t <= now) {
                    self.fire(i, now, out);
                }
                if let Some(t) = self.sessions[i].wake() {
                    wake = wake.min(t);
                }
            }
            self.session_wake = wake;
        }
        // At most a second's worth at once: a late host does not burst.
        let mut budget = (1_000_000 / self.period.as_micros().max(1)).max(1);
        while self.next_invite <= now && budget > 0 {
            budget -= 1;
            self.next_invite += self.period;
            if !self.invite(now, &mut contact, out) {
                break;
            }
        }
        if self.next_invite <= now {
            self.next_invite = now + self.period;
        }
    }

    /// Sends an INVITE to the next device free to play; false when none can be.
    fn invite(
        &mut self,
        now: Time,
        contact: &mut impl FnMut(&DeviceId) -> Option<(SocketAddr, Transport)>,
        out: &mut Outbox,
    ) -> bool {
        if self.in_flight >= self.max_in_flight || self.free.is_empty() {
            return false;
        }
        let n = self.devices.len();
        let mut pick = None;
        for k in 0..n {
            let c = (self.cursor + k) % n;
            let (id, busy, not_before) = self.devices[c];
            if busy || now < not_before {
                continue;
            }
            if let Some((addr, transport)) = contact(&id) {
                pick = Some((c, id, addr, transport));
                break;
            }
        }
        let Some((cand, device, dest, transport)) = pick else {
            return false;
        };
        let Some((ssrc, pool_seq)) = self.pool.take() else {
            self.stats.ssrc_exhausted += 1;
            return false;
        };
        let Some(i) = self.free.pop() else {
            self.pool.give_back(pool_seq);
            return false;
        };
        self.cursor = (cand + 1) % n;
        self.devices[cand].1 = true;
        self.by_ssrc.insert(ssrc, i);
        let s = &mut self.sessions[i];
        s.generation = s.generation.wrapping_add(1);
        s.state = State::Calling;
        s.device = device;
        s.cand = cand;
        s.dest = dest;
        s.transport = transport;
        s.offered = ssrc;
        s.ssrc = ssrc;
        s.pool_seq = pool_seq;
        s.invite_at = now;
        s.ok_at = None;
        s.started = false;
        s.backoff = false;
        s.interval = T1;
        // Over TCP nothing is retransmitted (RFC 3261 §17.1.1.2): only the timeouts run.
        s.next = if transport == Transport::Udp {
            now + T1
        } else {
            Time::MAX
        };
        s.deadline = now + PLAY_TIMEOUT;
        s.check = Default::default();
        s.to.clear();
        wire::set_request_uri(s);
        let mut buf = std::mem::take(&mut s.wire);
        wire::write_invite(&mut buf, &mut self.body, &self.me, s);
        s.wire = buf;
        out.push_with(dest, transport, |b| b.extend_from_slice(&s.wire));
        self.session_wake = self.session_wake.min(s.next);
        self.in_flight += 1;
        self.stats.invites += 1;
        true
    }

    /// Session `i`'s timer is due.
    fn fire(&mut self, i: usize, now: Time, out: &mut Outbox) {
        let s = &self.sessions[i];
        let (state, deadline, last_rtp) = (s.state, s.deadline, s.last_rtp);
        match state {
            State::Calling | State::Proceeding if now >= deadline => {
                self.stats.invite_timeouts += 1;
                let s = &mut self.sessions[i];
                s.backoff = true;
                s.state = State::GaveUp;
                s.deadline = s.invite_at + TIMER_B;
            }
            State::Calling => {
                let s = &mut self.sessions[i];
                s.interval = s.interval * 2;
                s.next = now + s.interval;
                self.stats.invite_retransmits += 1;
                out.push_with(s.dest, s.transport, |b| b.extend_from_slice(&s.wire));
            }
            State::Streaming => {
                if now >= last_rtp + NO_RTP {
                    self.stats.no_rtp += 1;
                    self.sessions[i].backoff = true;
                }
                self.start_bye(i, now);
                let s = &self.sessions[i];
                out.push_with(s.dest, s.transport, |b| b.extend_from_slice(&s.wire));
            }
            State::Byeing if now >= deadline => {
                self.stats.bye_timeouts += 1;
                self.sessions[i].backoff = true;
                self.end(i, now);
            }
            State::Byeing => {
                let s = &mut self.sessions[i];
                s.interval = (s.interval * 2).min(T2);
                s.next = now + s.interval;
                self.stats.bye_retransmits += 1;
                out.push_with(s.dest, s.transport, |b| b.extend_from_slice(&s.wire));
            }
            State::GaveUp | State::Linger => self.release(i, now),
            State::Proceeding | State::Free => {}
        }
    }

    /// Writes session `i`'s BYE into its wire (a non-INVITE client transaction, retransmitted
    /// from there): the caller sends it.
    fn start_bye(&mut self, i: usize, now: Time) {
        let s = &mut self.sessions[i];
        let mut buf = std::mem::take(&mut s.wire);
        wire::write_bye(&mut buf, &self.me, s);
        s.wire = buf;
        s.state = State::Byeing;
        s.interval = T1;
        s.next = if s.transport == Transport::Udp {
            now + T1
        } else {
            Time::MAX
        };
        s.deadline = now + TIMER_B;
        self.session_wake = self.session_wake.min(s.next);
        self.stats.byes += 1;
    }

    /// Session `i`'s stream ended: counted, its SSRC kept a little longer.
    fn end(&mut self, i: usize, now: Time) {
        let s = &mut self.sessions[i];
        if s.in_flight() {
            self.in_flight -= 1;
        }
        if s.started {
            s.started = false;
            self.stats.streams_ended += 1;
            self.stats.lost += s.check.lost();
        }
        s.state = State::Linger;
        s.deadline = now + LINGER;
        self.session_wake = self.session_wake.min(s.deadline);
    }

    /// Frees session `i`: its SSRC back to the pool, its device free to play again (after a
    /// hold's time if the session went wrong or the device ended it).
    fn release(&mut self, i: usize, now: Time) {
        let s = &mut self.sessions[i];
        if s.state == State::Free {
            return;
        }
        if s.in_flight() {
            self.in_flight -= 1;
        }
        s.state = State::Free;
        if self.by_ssrc.get(&s.ssrc) == Some(&i) {
            self.by_ssrc.remove(&s.ssrc);
        }
        self.pool.give_back(s.pool_seq);
        if let Some(d) = self.devices.get_mut(s.cand) {
            d.1 = false;
            d.2 = if s.backoff { now + self.hold } else { now };
        }
        self.free.push(i);
    }

    /// The live session a Call-ID names.
    fn session_of(&self, call_id: &[u8]) -> Option<usize> {
        let (i, generation) = wire::parse_call_id(self.me.salt, call_id)?;
        let s = self.sessions.get(i)?;
        (s.generation == generation && s.state != State::Free).then_some(i)
    }

    /// Takes a response from `from`; false when it is no play session's (not an INVITE's or
    /// a BYE's of this driver), for the caller to handle. ACKs go into `out`, to `from`.
    pub fn handle_response(&mut self, now: Time, msg: &Message<'_, '_>, out: &mut Batch) -> bool {
        let (Some(code), Some(cseq), Some(call_id)) = (msg.status(), msg.cseq(), msg.call_id())
        else {
            return false;
        };
        if !matches!(cseq.method, Method::Invite | Method::Bye)
            || wire::parse_call_id(self.me.salt, call_id).is_none()
        {
            return false;
        }
        let Some(i) = self.session_of(call_id) else {
            if cseq.method == Method::Invite && code >= 300 {
                // A retransmitted final error of a session already over: ACKed again.
                let uri = msg.to().map_or(&b""[..], |t| t.uri);
                out.push_with(|b| wire::write_ack_error(b, msg, uri));
                self.stats.acks += 1;
            }
            return true;
        };
        if cseq.method == Method::Bye {
            let s = &mut self.sessions[i];
            if s.state == State::Byeing {
                if code >= 200 {
                    self.end(i, now);
                } else if s.next != Time::MAX {
                    s.interval = T2;
                }
            }
            return true;
        }
        match code {
            100..=199 => {
                self.stats.provisional += 1;
                let s = &mut self.sessions[i];
                if s.state == State::Calling {
                    s.state = State::Proceeding;
                }
            }
            200..=299 => self.on_ok(i, now, msg, out),
            _ => {
                let s = &mut self.sessions[i];
                out.push_with(|b| wire::write_ack_error(b, msg, &s.target));
                self.stats.acks += 1;
                if matches!(s.state, State::Calling | State::Proceeding | State::GaveUp) {
                    let class = usize::from(code / 100).clamp(3, 6) - 3;
                    self.stats.failed[class] += 1;
                    if code == 486 {
                        self.stats.busy += 1;
                    }
                    s.backoff = true;
                    self.release(i, now);
                }
            }
        }
        true
    }

    /// A 2xx to session `i`'s INVITE.
    fn on_ok(&mut self, i: usize, now: Time, msg: &Message<'_, '_>, out: &mut Batch) {
        let s = &mut self.sessions[i];
        let first = matches!(s.state, State::Calling | State::Proceeding | State::GaveUp);
        if first {
            s.to.clear();
            s.to.extend_from_slice(msg.header(crate::sip::HeaderKind::To).unwrap_or(b""));
            if let Some(c) = msg.contact() {
                s.target.clear();
                s.target.extend_from_slice(c.uri);
            }
        }
        out.push_with(|b| wire::write_ack_ok(b, &self.me, s));
        self.stats.acks += 1;
        if !first {
            return;
        }
        let answer = Offer::parse(msg.body);
        if s.state == State::GaveUp || answer.is_err() {
            s.backoff = true;
            if s.state == State::GaveUp {
                self.stats.late_ok += 1;
            } else {
                self.stats.ok += 1;
                self.stats.bad_answers += 1;
            }
            self.start_bye(i, now);
            out.push(&self.sessions[i].wire);
            return;
        }
        self.stats.ok += 1;
        let took = now.since(s.invite_at).as_micros().max(1);
        let _ = self.stats.invite_to_ok_us.record(took);
        if let Ok(answer) = answer {
            if let Some(y) = answer.ssrc
                && y.value != s.ssrc
            {
                self.stats.ssrc_adopted += 1;
                if self.by_ssrc.get(&s.ssrc) == Some(&i) {
                    self.by_ssrc.remove(&s.ssrc);
                }
                s.ssrc = y.value;
                self.by_ssrc.insert(y.value, i);
            }
            if self.me.transport == MediaTransport::TcpActive {
                self.connects.push(answer.media);
            }
        }
        s.state = State::Streaming;
        s.started = true;
        s.ok_at = Some(now);
        s.last_rtp = now;
        s.deadline = now + self.hold;
        self.stats.streams_started += 1;
        self.session_wake = self.session_wake.min(s.deadline).min(now + NO_RTP);
    }

    /// Takes a request from `from`; false when it is not for a play session (the caller
    /// handles it). A device's BYE ends its session with 200 (481 for a dialog not known).
    pub fn handle_request(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        from: SocketAddr,
        out: &mut Batch,
    ) -> bool {
        if msg.method() != Some(Method::Bye) {
            return false;
        }
        let session = msg.call_id().and_then(|c| self.session_of(c));
        let ours = msg
            .call_id()
            .is_some_and(|c| wire::parse_call_id(self.me.salt, c).is_some());
        if !ours {
            return false;
        }
        let code = match session {
            Some(i) if self.sessions[i].state != State::Linger => {
                self.stats.device_byes += 1;
                self.sessions[i].backoff = true;
                self.end(i, now);
                200
            }
            Some(_) => 200,
            None => 481,
        };
        let to_tag = msg.to().and_then(|t: NameAddr<'_>| t.tag()).is_none();
        out.push_with(|b| {
            let w = response_to(b, msg, code, to_tag.then_some(&b"gbs"[..]), Some(&from));
            w.finish(b"");
        });
        true
    }

    /// One RTP packet received at `now` (`len` bytes on the wire).
    pub fn handle_rtp(&mut self, now: Time, packet: &[u8]) {
        let Some(p) = RtpView::parse(packet) else {
            self.stats.bad_rtp += 1;
            return;
        };
        if p.payload_type != crate::media::rtp::PAYLOAD_TYPE {
            self.stats.bad_rtp += 1;
            return;
        }
        let Some(&i) = self.by_ssrc.get(&p.ssrc) else {
            self.stats.bad_ssrc += 1;
            return;
        };
        let s = &mut self.sessions[i];
        s.last_rtp = now;
        if s.check.packet(now, &p, packet.len(), &mut self.stats)
            && let Some(ok) = s.ok_at
        {
            let _ = self
                .stats
                .ok_to_rtp_us
                .record(now.since(ok).as_micros().max(1));
        }
    }

    /// The in-flight count kept matches the sessions' states.
    #[cfg(test)]
    fn in_flight_matches(&self) -> bool {
        self.in_flight == self.sessions.iter().filter(|s| s.in_flight()).count()
    }

    /// Counts a TCP media connection made or accepted.
    pub fn tcp_connected(&mut self) {
        self.stats.tcp_connections += 1;
    }
}
