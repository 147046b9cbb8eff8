//! The camera's side of live video signalling: an INVITE server (RFC 3261 UAS with the GB/T
//! 28181 rules) as a sans-IO table of play sessions, one table per worker.
//!
//! A platform's INVITE gets 100 Trying, then a 200 OK with the SDP answer (after an optional
//! answer delay), retransmitted at T1 doubling to T2 until the ACK; Timer H without an ACK
//! ends the session with a BYE. A retransmitted INVITE gets the last response again; a CANCEL
//! before the 200 gets 200 and the INVITE 487, after it only 200. The INVITE is refused 404
//! when it addresses neither the device nor one of its channels (Request-URI user, else the
//! `Subject` channel), 488 when its offer cannot be met and 486 beyond the device's stream cap
//! (or when the table is full). BYE from the platform ends a session (200; unknown dialogs
//! 481); the device ends one with [`PlayTable::media_ended`], which sends a BYE retransmitted
//! as a non-INVITE client transaction until a final response or Timer F.
//!
//! TCP active media (the platform connects): the camera must listen before its 200, and the
//! 200's `m=video` names the port it listens on, which only the host can pick. So the table
//! asks for the listener ([`Action::StartMedia`] with [`MediaTransport::TcpActive`]) and holds
//! the 200 until the host calls [`PlayTable::listening`] with the port; the answer is written
//! then, from the offer kept in the slot. A host that cannot listen calls
//! [`PlayTable::media_ended`] and the INVITE gets 500.
//!
//! Why a table: sessions are few next to cameras, so they live in one fixed-size table per
//! worker instead of in every camera; slots are reused and each keeps its buffers, so once warm
//! no message allocates. Lookups scan the table (INVITE, ACK, CANCEL and BYE are rare next to
//! media packets); [`PlayTable::poll_timeout`] is the one wake-up a host arms.
//!
//! A device that reboots (TeleBoot) forgets its sessions: the host calls
//! [`PlayTable::device_down`], which stops their media and frees them without a BYE.
//!
//! Each INVITE transaction and each BYE of the camera's ends in a [`Record`] (kinds
//! [`TxnKind::Invite`] and [`TxnKind::Bye`]) read with [`PlayTable::records`], so the run
//! reports how long platforms take to acknowledge and to answer, as for the camera's own
//! transactions.
//!
//! What it never does: open a socket, read a clock (every call takes `now`), or send or
//! receive media. It says what the media side must do through [`Action::StartMedia`] and
//! [`Action::StopMedia`], and the caller sends each [`Action::Send`]. It does not touch the
//! camera's registration or keepalives; the generator's worker feeds it the INVITE, ACK,
//! CANCEL and BYE addressed to its cameras and the responses to their BYEs.

mod answer;
mod dialog;
mod slot;
#[cfg(test)]
mod tests;
mod wire;

pub use slot::TIMER_H;

use crate::camera::{Outcome, Record, Transport, TxnKind};
use crate::clock::{Span, Time};
use crate::gb::DeviceId;
use crate::gb::sdp::{MediaTransport, Offer, SessionKind, Ssrc};
use crate::gb::subject::{Subject, addressed_channel};
use crate::sip::{HeaderKind, Message, NameAddr, Uri, response_to};
use slot::{BRANCH, CALL_ID, FROM_TAG, Slot, State};
use std::net::SocketAddr;

/// A session: its slot in the table and that slot's use, so a stale handle matches nothing
/// (the default one, of no use, matches nothing either).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionId {
    slot: u32,
    generation: u32,
}

impl SessionId {
    /// The slot index, below the table's capacity (for the caller's per-session arrays).
    pub fn slot(self) -> usize {
        self.slot as usize
    }
}

/// Bytes to send; read them with [`PlayTable::bytes`] before the next call on the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send: the address the INVITE (or the request answered) came from.
    pub to: SocketAddr,
    what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    /// A range of the table's output buffer.
    Out(usize, usize),
    /// A slot's kept message.
    Slot(usize),
}

/// What the caller must do after a call, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a message to the platform.
    Send(Transmit),
    /// Start the stream. Over UDP, send to `to` now (after the ACK). With
    /// [`MediaTransport::TcpPassive`] connect to `to` now (after the ACK). With
    /// [`MediaTransport::TcpActive`] this comes before the 200, which waits: listen now on the
    /// camera's media IP (a port of its own) and tell the table the port with
    /// [`PlayTable::listening`] (it goes into the answer's `m=video`; if the host cannot
    /// listen it calls [`PlayTable::media_ended`] and the INVITE gets 500); stream once the
    /// platform connects.
    StartMedia {
        /// The session.
        session: SessionId,
        /// Where the platform receives (the offer's `c=` and `m=video` port).
        to: SocketAddr,
        /// UDP, or TCP and which side connects (named from the offer's side).
        transport: MediaTransport,
        /// The SSRC for the RTP headers (the offer's `y=`, else the Subject's, else 0).
        ssrc: u32,
        /// Live, playback, download.
        kind: SessionKind,
    },
    /// Stop the stream (and close its connection or listener).
    StopMedia {
        /// The session.
        session: SessionId,
    },
    /// The 200 was acknowledged; `after` is the time from the INVITE to its ACK.
    Acked {
        /// The session.
        session: SessionId,
        /// INVITE to ACK.
        after: Span,
    },
}

/// Which SSRC a camera streams with and puts in its answer's `y=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsrcAnswer {
    /// The offer's `y=` (else the `Subject`'s): what platforms expect.
    Offered,
    /// One of the camera's own for each session (first digit 0 live, 1 playback or
    /// download, then nine digits of its own): the platform must adopt it, as GB/T 28181
    /// allows and some devices do.
    Own,
}

/// The camera's own SSRC for a session: ten decimal digits, the first 0 for live video and
/// 1 for history (playback, download), the rest from the table's salt and the session's
/// generation, so sessions of one run seldom share one.
pub fn own_ssrc(salt: u32, generation: u32, kind: SessionKind) -> u32 {
    // splitmix64's finaliser: neighbouring generations give unrelated digits.
    let mut x = (u64::from(salt) << 32) | u64::from(generation);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let digits = (x % 1_000_000_000) as u32;
    match kind {
        SessionKind::Playback | SessionKind::Download => 1_000_000_000 + digits,
        _ => digits,
    }
}

/// Settings of a table.
#[derive(Clone, Debug)]
pub struct PlayConfig {
    /// Most concurrent sessions per device (NVR-style); beyond it the INVITE gets 486.
    pub max_streams: u32,
    /// How long after the 100 Trying the 200 goes out (zero: at once).
    pub answer_delay: Span,
    /// Which SSRC the answer's `y=` carries.
    pub answer_ssrc: SsrcAnswer,
    /// The answer's `f=` (for example `v/2/5/25/1/1024a///`), if any.
    pub format: Option<String>,
    /// User-Agent header value.
    pub user_agent: String,
    /// Makes the camera's To tags and BYE branches unique across tables (worker and run).
    pub salt: u32,
    /// Bytes the table's own buffers start with (a 200 with SDP is about 900); a slot's grow
    /// to what its messages need on its first use.
    pub slot_bytes: usize,
    /// Accept offers of TCP media; when false they get 488 (a host that streams over UDP
    /// only must not answer 200 to what it cannot serve).
    pub tcp_media: bool,
}

impl Default for PlayConfig {
    fn default() -> Self {
        PlayConfig {
            max_streams: 1,
            answer_delay: Span::ZERO,
            answer_ssrc: SsrcAnswer::Offered,
            format: None,
            user_agent: String::from("gbswarm"),
            salt: 0,
            slot_bytes: 1536,
            tcp_media: true,
        }
    }
}

/// The device an INVITE reached, as the caller knows it.
#[derive(Clone, Copy, Debug)]
pub struct Device<'a> {
    /// The camera's index in its fleet (the stream cap counts per index).
    pub index: u32,
    /// The camera's ID: INVITEs to it are always accepted.
    pub id: &'a DeviceId,
    /// The camera's SIP address (Contact and Via).
    pub signal: SocketAddr,
    /// How the INVITE arrived (over UDP errors and the BYE are retransmitted).
    pub transport: Transport,
    /// The camera's media address, written into the answer.
    pub media: SocketAddr,
}

/// What a table has done, counted since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlayCounters {
    /// New INVITEs (retransmissions not counted).
    pub invites: u64,
    /// 200 OKs sent (first sends).
    pub answered: u64,
    /// 486 Busy Here (stream cap or full table).
    pub busy: u64,
    /// 488 Not Acceptable Here.
    pub not_acceptable: u64,
    /// 404 Not Found.
    pub not_found: u64,
    /// 487 Request Terminated after a CANCEL.
    pub cancelled: u64,
    /// ACKs of a 200.
    pub acked: u64,
    /// Timer H fired on a 200 without an ACK.
    pub ack_timeouts: u64,
    /// BYEs from the platform answered 200.
    pub byes_received: u64,
    /// BYEs the camera sent (first sends).
    pub byes_sent: u64,
    /// The camera's BYEs that got no final response before Timer F.
    pub bye_timeouts: u64,
    /// Retransmitted INVITEs answered again.
    pub invite_retransmits: u64,
    /// INVITEs answered 500 because the media ended before the 200 (TCP active: the host
    /// could not listen).
    pub server_errors: u64,
    /// Requests for no known dialog or transaction (481).
    pub unknown_dialog: u64,
    /// Requests without the headers a transaction needs (400).
    pub malformed: u64,
    /// Messages sent again by a timer.
    pub retransmissions: u64,
    /// Sessions (answered or being answered) a reboot of their device ended: media stopped,
    /// no BYE ([`PlayTable::device_down`]).
    pub dropped_on_reboot: u64,
}

/// A new INVITE's identifiers, read once.
struct Invite<'a, 'b, 'h> {
    msg: &'a Message<'b, 'h>,
    call_id: &'b [u8],
    branch: &'b [u8],
    cseq: u32,
    from: NameAddr<'b>,
    source: SocketAddr,
}

/// The play sessions of one worker. See the module docs.
#[derive(Debug)]
pub struct PlayTable {
    slots: Vec<Slot>,
    cfg: PlayConfig,
    out: Vec<u8>,
    scratch: Vec<u8>,
    body: Vec<u8>,
    actions: Vec<Action>,
    records: Vec<Record>,
    counters: PlayCounters,
    generation: u32,
}

impl PlayTable {
    /// A table of `capacity` sessions; the slots' buffers are allocated on their first use.
    pub fn new(capacity: usize, cfg: PlayConfig) -> PlayTable {
        let bytes = cfg.slot_bytes.max(256);
        PlayTable {
            slots: (0..capacity).map(|_| Slot::new()).collect(),
            out: Vec::with_capacity(4 * bytes),
            scratch: Vec::with_capacity(bytes),
            body: Vec::with_capacity(bytes),
            // At most three actions per slot from one timer pass, plus a request's own.
            actions: Vec::with_capacity(3 * capacity + 8),
            // At most one record per slot from one timer pass, plus a request's own.
            records: Vec::with_capacity(capacity + 8),
            cfg,
            counters: PlayCounters::default(),
            generation: 0,
        }
    }

    /// The counters.
    pub fn counters(&self) -> &PlayCounters {
        &self.counters
    }

    /// Sessions in use (any state but free).
    pub fn in_use(&self) -> usize {
        self.slots.iter().filter(|s| s.state != State::Free).count()
    }

    /// What the last call asks the caller to do, in order (valid until the next call).
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// The transactions the last call ended, to be counted like the camera's own (valid until
    /// the next call).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Ends a transaction of slot `i`: `kind` due at `due`, its message first sent at `sent`.
    fn record(&mut self, i: usize, kind: TxnKind, outcome: Outcome, due: Time, now: Time) {
        let s = &self.slots[i];
        let sent = s.sent_at.max(due);
        self.records.push(Record {
            kind,
            outcome,
            latency: now.since(due),
            lag: sent.min(now).since(due),
            retransmits: s.resends,
            redirected: false,
        });
    }

    /// The bytes of a [`Transmit`] from the last call.
    pub fn bytes(&self, t: &Transmit) -> &[u8] {
        match t.what {
            What::Out(a, b) => self.out.get(a..b).unwrap_or(b""),
            What::Slot(i) => self.slots.get(i).map_or(&b""[..], |s| &s.wire),
        }
    }

    /// The fleet index of the device a [`Transmit`] of a kept message (the INVITE's final
    /// response or the camera's BYE) is from; `None` for a response written on the spot, whose
    /// device the caller knows from the request it passed.
    pub fn device_of(&self, t: &Transmit) -> Option<u32> {
        match t.what {
            What::Slot(i) => self.slots.get(i).map(|s| s.device),
            What::Out(..) => None,
        }
    }

    /// The next time [`on_timer`](Self::on_timer) has work; `None` for none.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.slots.iter().filter_map(Slot::wake).min()
    }

    fn begin(&mut self) {
        self.out.clear();
        self.actions.clear();
        self.records.clear();
    }

    fn session(&self, i: usize) -> SessionId {
        SessionId {
            slot: i as u32,
            generation: self.slots[i].generation,
        }
    }

    /// Sends a response to `msg` written now (not kept).
    fn respond(&mut self, msg: &Message<'_, '_>, code: u16, tag: Option<&[u8]>, to: SocketAddr) {
        // response_to clears its buffer: write into the scratch, then append.
        let mut w = response_to(&mut self.scratch, msg, code, tag, Some(&to));
        w.header(b"User-Agent", self.cfg.user_agent.as_bytes());
        w.finish(b"");
        let start = self.out.len();
        self.out.extend_from_slice(&self.scratch);
        self.actions.push(Action::Send(Transmit {
            to,
            what: What::Out(start, self.out.len()),
        }));
    }

    /// Sends slot `i`'s kept message.
    fn send_slot(&mut self, i: usize) {
        let to = self.slots[i].source;
        self.actions.push(Action::Send(Transmit {
            to,
            what: What::Slot(i),
        }));
    }

    fn tag(&self, i: usize) -> [u8; wire::TAG_LEN] {
        wire::tag(self.cfg.salt, self.slots[i].generation)
    }

    /// The slot whose dialog `msg` is in (Call-ID, From tag, and the camera's To tag).
    fn dialog_of(&self, msg: &Message<'_, '_>) -> Option<usize> {
        let call_id = msg.call_id()?;
        let from_tag = msg.from()?.tag().unwrap_or(b"");
        let to_tag = msg.to()?.tag()?;
        self.slots.iter().position(|s| {
            s.state != State::Free
                && s.key(CALL_ID) == call_id
                && s.key(FROM_TAG) == from_tag
                && to_tag == wire::tag(self.cfg.salt, s.generation)
        })
    }

    /// The slot of the INVITE transaction `call_id` and `branch` name.
    fn transaction_of(&self, call_id: &[u8], branch: &[u8]) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.state != State::Free && s.key(CALL_ID) == call_id && s.key(BRANCH) == branch
        })
    }

    /// Takes an INVITE that arrived at `now` from `source` for `dev`; `is_channel` says which
    /// IDs are the device's channels (the device's own ID is always accepted).
    pub fn on_invite(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        source: SocketAddr,
        dev: &Device<'_>,
        is_channel: impl Fn(&DeviceId) -> bool,
    ) {
        self.begin();
        let (Some(call_id), Some(via), Some(cseq), Some(from)) =
            (msg.call_id(), msg.via(), msg.cseq(), msg.from())
        else {
            self.counters.malformed += 1;
            self.respond(msg, 400, None, source);
            return;
        };
        let branch = via.branch().unwrap_or(b"");
        if let Some(i) = self.transaction_of(call_id, branch)
            && self.slots[i].cseq == cseq.seq
        {
            self.counters.invite_retransmits += 1;
            match self.slots[i].state {
                State::Trying | State::Listening => self.respond(msg, 100, None, source),
                // Its wire holds the camera's BYE now: the INVITE is over.
                State::Byeing => {}
                _ => self.send_slot(i),
            }
            return;
        }
        if msg.to().is_some_and(|t| t.tag().is_some()) {
            // A re-INVITE: sessions are not changed once up.
            let code = if self.dialog_of(msg).is_some() {
                488
            } else {
                self.counters.unknown_dialog += 1;
                481
            };
            self.respond(msg, code, None, source);
            return;
        }
        self.counters.invites += 1;
        self.respond(msg, 100, None, source);
        let known = |id: &DeviceId| id == dev.id || is_channel(id);
        let by_uri = msg
            .request_uri()
            .and_then(Uri::parse)
            .and_then(|u| u.user)
            .and_then(|u| DeviceId::parse(u).ok());
        let subject = msg
            .header_named(b"Subject")
            .and_then(|v| Subject::parse(v).ok());
        let channel = addressed_channel(by_uri, subject.map(|s| s.channel), known);
        let offer = Offer::parse(msg.body);
        let streams = self
            .slots
            .iter()
            .filter(|s| s.device == dev.index && s.streaming())
            .count();
        let code = match (&channel, &offer) {
            (None, _) => 404,
            (_, Err(_)) => 488,
            (_, Ok(o)) if !self.cfg.tcp_media && o.transport != MediaTransport::Udp => 488,
            _ if streams as u64 >= u64::from(self.cfg.max_streams) => 486,
            _ => 200,
        };
        let free = self.slots.iter().position(|s| s.state == State::Free);
        let code = if free.is_none() && code == 200 {
            486
        } else {
            code
        };
        self.count_error(code);
        let Some(i) = free else {
            // No slot to keep the answer in: a retransmitted INVITE is decided again.
            self.respond(msg, code, None, source);
            self.records.push(Record {
                kind: TxnKind::Invite,
                outcome: Outcome::Status(code),
                latency: Span::ZERO,
                lag: Span::ZERO,
                retransmits: 0,
                redirected: false,
            });
            return;
        };
        let answer = match (code, channel, offer) {
            (200, Some(channel), Ok(offer)) => Some((channel, offer, subject.and_then(|s| s.ssrc))),
            _ => None,
        };
        let inv = Invite {
            msg,
            call_id,
            branch,
            cseq: cseq.seq,
            from,
            source,
        };
        self.keep(i, now, &inv, dev, code, answer);
    }

    /// Keeps `inv` in free slot `i` and sends its final response `code` (now, or after the
    /// answer delay for a 200, which carries the answer to the offer from the channel; the
    /// Subject's SSRC stands in for a missing `y=`).
    fn keep(
        &mut self,
        i: usize,
        now: Time,
        inv: &Invite<'_, '_, '_>,
        dev: &Device<'_>,
        code: u16,
        answer: Option<(DeviceId, Offer<'_>, Option<Ssrc<'_>>)>,
    ) {
        let msg = inv.msg;
        self.generation = self.generation.wrapping_add(1);
        let target = msg.contact().map_or(inv.from.uri, |c| c.uri);
        let to = msg.header(HeaderKind::To).unwrap_or(b"");
        let from_value = msg.header(HeaderKind::From).unwrap_or(b"");
        let s = &mut self.slots[i];
        s.generation = self.generation;
        s.device = dev.index;
        s.cseq = inv.cseq;
        s.source = inv.source;
        s.signal = dev.signal;
        s.udp = dev.transport == Transport::Udp;
        s.invite_at = now;
        s.set_keys([
            inv.call_id,
            inv.branch,
            inv.from.tag().unwrap_or(b""),
            from_value,
            to,
            target,
            if answer.is_some() { msg.body } else { b"" },
        ]);
        let tag = self.tag(i);
        // The response's head only: a 200 gets its Contact and answer from `write_ok`.
        let mut w = response_to(&mut self.scratch, msg, code, Some(&tag), Some(&inv.source));
        let head_end = w.written();
        w.header(b"User-Agent", self.cfg.user_agent.as_bytes());
        w.finish(b"");
        let s = &mut self.slots[i];
        std::mem::swap(&mut s.wire, &mut self.scratch);
        s.head_end = head_end;
        s.ids = None;
        if let Some((channel, offer, subject_ssrc)) = answer {
            s.ids = Some((*dev.id, channel));
            s.media = dev.media;
            s.media_to = offer.media;
            s.transport = offer.transport;
            s.kind = offer.kind;
            s.ssrc = match self.cfg.answer_ssrc {
                SsrcAnswer::Own => own_ssrc(self.cfg.salt, s.generation, offer.kind),
                SsrcAnswer::Offered => offer.ssrc.or(subject_ssrc).map_or(0, |s| s.value),
            };
        }
        if code != 200 {
            self.complete(i, now, code);
        } else if self.cfg.answer_delay == Span::ZERO {
            self.answer(i, now);
        } else {
            let s = &mut self.slots[i];
            s.state = State::Trying;
            s.next = now + self.cfg.answer_delay;
            s.deadline = Time::MAX;
        }
    }
}
