//! A generator worker's live video: the INVITE server of its cameras (one [`PlayTable`] for
//! the worker) and the RTP streams its sessions send, over UDP or TCP.
//!
//! The INVITE, ACK, CANCEL and BYE addressed to the worker's cameras, and the responses to
//! their BYEs, go to the table instead of the camera; what the table sends leaves from the
//! camera's own signalling socket, as the camera's other messages do. A session's media leaves
//! from one UDP socket per worker (its port is the answer's `m=video` port): each stream is a
//! [`Stream`] over the clip packed once at start ([`crate::profile::Video`]), its next frame
//! due on the worker's timer wheel, its packets queued in one [`SendBatch`] and sent with
//! `sendmmsg` before the worker waits. TCP media (a connection or a listener per session,
//! reconnects per Annex D) is in [`super::tcp_media`].
//!
//! A camera that reboots (TeleBoot) forgets its sessions ([`PlayTable::device_down`]: media
//! stopped, no BYE) and answers no INVITE, ACK, CANCEL or BYE until it is back; then the
//! platform's BYE of a forgotten session gets 481.
//!
//! Timer keys: the cameras' slots come first, then the table's, then one per session slot (its
//! next frame, or its TCP link's next retry or timeout). Poll tokens: the UDP sockets, the
//! cameras' TCP connections, then one per session slot (its media connection or listener).
//! Nothing here allocates after start for UDP media: the table, the stream slots and the send
//! queue are sized once (a TCP stream's write queue grows only while its platform is slow).

use super::Worker;
use super::tcp_media::{Ctx, TcpMedia};
use super::udp_media::{GSO_MOST, GSO_SEGMENT, flush};
use crate::camera::driver::Host;
use crate::camera::invite::{Action, Device, PlayConfig, PlayTable, SessionId};
use crate::clock::{Span, Time};
use crate::gb::sdp::MediaTransport;
use crate::media::{Stream, Template};
use crate::net::batch::{BATCH, SendBatch};
use crate::net::udp::{self, UdpSock};
use crate::profile::Video;
use crate::sip::{Message, Method};
use crate::stats::video::VideoCounters;
use crate::timer::TimerWheel;
use mio::{Registry, Token};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Most play sessions one worker holds: its table is `min(cameras × max-streams, this)`.
pub const MAX_SESSIONS_PER_WORKER: usize = 4096;

/// Frames one stream sends in one firing when it is behind; the rest follow on the next
/// turn, so a late worker catches up without starving its other work.
const CATCH_UP_FRAMES: u32 = 4;

/// What the worker's live video has done, counted since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaCounters {
    /// Streams started (UDP, after the ACK).
    pub streams_started: u64,
    /// Streams stopped (BYE either way, Timer H, the run's end).
    pub streams_ended: u64,
    /// RTP packets queued for sending.
    pub rtp_packets: u64,
    /// RTP bytes (header and payload) queued for sending.
    pub rtp_bytes: u64,
    /// UDP sends the kernel refused (a packet, or with GSO a frame's packets in one send), or
    /// frames a TCP connection refused.
    pub send_errors: u64,
    /// TCP media connections made.
    pub tcp_connects: u64,
    /// TCP media reconnect attempts.
    pub tcp_reconnects: u64,
    /// TCP media connects that failed, listeners never connected to or not opened.
    pub tcp_connect_failures: u64,
    /// Whole frames skipped on a full TCP write queue.
    pub tcp_frames_skipped: u64,
}

/// One live stream.
#[derive(Debug)]
pub(super) struct Live {
    /// Its session in the table.
    pub session: SessionId,
    /// Where the platform receives (for TCP passive, where the camera connects).
    pub to: SocketAddr,
    /// Its place in the clip.
    pub stream: Stream,
    /// When its frame 0 was due (moved on when a TCP link comes up, so frames start then).
    pub start: Time,
    /// TCP media; `None` for UDP.
    pub tcp: Option<TcpMedia>,
}

/// The worker's play sessions and their media.
pub(super) struct Play {
    /// The INVITE server of the worker's cameras.
    pub table: PlayTable,
    clip: Arc<Template>,
    media: UdpSock,
    /// UDP media goes as one GSO send per frame (else one datagram per packet).
    gso: bool,
    streams: Vec<Option<Live>>,
    sendq: SendBatch,
    rng: u64,
    /// The table's timer key; session slot `i` uses `key + 1 + i`.
    key: u32,
    /// The poll token of session slot 0's media socket (TCP); slot `i` uses `token + i`.
    token: usize,
    /// One frame, RFC 4571-framed, on its way to a TCP connection.
    frame: Vec<u8>,
    /// TCP active sessions the table waits to hear the listening port of (`None`: no
    /// listener could be opened).
    listens: Vec<(SessionId, Option<u16>)>,
    /// Sessions whose TCP media gave up: the table ends them with a BYE.
    ends: Vec<SessionId>,
    /// What the media side did.
    pub counters: MediaCounters,
}

impl Play {
    /// A table for `cameras` cameras of `max_streams` streams each (bounded), its media socket
    /// bound on `ip`, its timers keyed from `key` on, its poll tokens from `token` on.
    pub fn new(
        cameras: usize,
        video: &Video,
        ip: IpAddr,
        (key, token): (u32, usize),
        salt: u32,
    ) -> io::Result<Play> {
        let max_streams = video.max_streams;
        let capacity = cameras
            .saturating_mul(max_streams as usize)
            .min(MAX_SESSIONS_PER_WORKER);
        let cfg = PlayConfig {
            max_streams,
            answer_ssrc: video.answer_ssrc,
            salt,
            user_agent: concat!("gbswarm/", env!("CARGO_PKG_VERSION")).into(),
            ..PlayConfig::default()
        };
        let media = udp::open(ip, None, true)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open media socket: {e}")))?;
        // Every packet but a frame's last is full: a frame goes as one send of them.
        let gso = video.gso && udp::set_gso(&media.sock, GSO_SEGMENT as u16).is_ok();
        Ok(Play {
            table: PlayTable::new(capacity, cfg),
            clip: video.clip.clone(),
            media,
            gso,
            streams: (0..capacity).map(|_| None).collect(),
            sendq: SendBatch::new(4 * BATCH),
            rng: crate::seed::random_u64() | 1,
            key,
            token,
            frame: Vec::new(),
            listens: Vec::new(),
            ends: Vec::new(),
            counters: MediaCounters::default(),
        })
    }

    /// Timer keys the play side uses (the table's and one per session slot).
    pub fn keys(&self) -> usize {
        1 + self.streams.len()
    }

    /// The address media leaves from (the answer's `c=` and port).
    pub fn media_addr(&self) -> SocketAddr {
        self.media.local
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: the sequence and timestamp bases need only be unpredictable-ish.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Re-arms the table's timer from its next wake-up.
    fn arm_table(&self, wheel: &mut TimerWheel) {
        match self.table.poll_timeout() {
            Some(t) => wheel.arm(self.key, t),
            None => wheel.cancel(self.key),
        }
    }

    fn start(
        &mut self,
        session: SessionId,
        to: SocketAddr,
        ssrc: u32,
        now: Time,
        tcp: Option<TcpMedia>,
    ) {
        let r = self.next_random();
        let Some(slot) = self.streams.get_mut(session.slot()) else {
            return;
        };
        *slot = Some(Live {
            session,
            to,
            stream: Stream::new(ssrc, r as u16, (r >> 32) as u32),
            start: now,
            tcp,
        });
        self.counters.streams_started += 1;
    }

    /// What session slot `i`'s TCP media needs from the worker.
    fn ctx<'a>(&'a mut self, i: usize, registry: &'a Registry) -> Ctx<'a> {
        Ctx {
            registry,
            token: Token(self.token + i),
            ip: self.media.local.ip(),
            counters: &mut self.counters,
            ends: &mut self.ends,
        }
    }

    /// Starts a TCP media session: the camera connects to `to` (platform passive), or
    /// listens (platform active) and the table is told the port.
    fn start_tcp(
        &mut self,
        session: SessionId,
        (to, transport, ssrc): (SocketAddr, MediaTransport, u32),
        now: Time,
        registry: &Registry,
    ) {
        let i = session.slot();
        if i >= self.streams.len() {
            return;
        }
        let mut cx = self.ctx(i, registry);
        let media = if transport == MediaTransport::TcpActive {
            let (media, port) = TcpMedia::server(now, &mut cx);
            self.listens.push((session, port));
            port.map(|_| media)
        } else {
            Some(TcpMedia::client(now, to, session, &mut cx))
        };
        if let Some(media) = media {
            self.start(session, to, ssrc, now, Some(media));
        }
    }

    fn stop(&mut self, session: SessionId, wheel: &mut TimerWheel, registry: &Registry) {
        let i = session.slot();
        if let Some(slot) = self.streams.get_mut(i)
            && slot.as_ref().is_some_and(|l| l.session == session)
        {
            if let Some(m) = slot.as_mut().and_then(|l| l.tcp.as_mut()) {
                m.close(registry);
            }
            *slot = None;
            self.counters.streams_ended += 1;
            wheel.cancel(self.key + 1 + i as u32);
        }
    }

    /// A poll event on session slot `i`'s media socket; a link that comes up starts its
    /// frames now.
    fn media_event(&mut self, i: usize, now: Time, ev: (bool, bool, bool), registry: &Registry) {
        let Play {
            streams,
            clip,
            counters,
            ends,
            media,
            token,
            ..
        } = self;
        let Some(live) = streams.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let mut cx = Ctx {
            registry,
            token: Token(*token + i),
            ip: media.local.ip(),
            counters,
            ends,
        };
        let (to, session) = (live.to, live.session);
        if let Some(m) = live.tcp.as_mut()
            && m.on_event(now, ev, to, session, &mut cx)
        {
            live.start = now.minus(Span::from_micros(live.stream.due_us(clip)));
        }
    }

    /// Sends the frames of stream slot `i` due by `now` (for TCP after its link's due timer)
    /// and arms its next frame or link timer.
    fn pump(&mut self, i: usize, now: Time, wheel: &mut TimerWheel, registry: &Registry) {
        let timer = self.key + 1 + i as u32;
        let Play {
            clip,
            streams,
            sendq,
            counters,
            media,
            gso,
            token,
            frame,
            ends,
            ..
        } = self;
        let Some(live) = streams.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        if live.tcp.is_some() {
            let mut cx = Ctx {
                registry,
                token: Token(*token + i),
                ip: media.local.ip(),
                counters,
                ends,
            };
            let (to, session) = (live.to, live.session);
            if let Some(m) = live.tcp.as_mut() {
                m.on_timer(now, to, session, &mut cx);
            }
            TcpMedia::send_frames(live, clip, now, CATCH_UP_FRAMES, frame, &mut cx);
            let due = live.start + Span::from_micros(live.stream.due_us(clip));
            let link = live.tcp.as_ref().map(|m| m.link);
            let wake = match link {
                Some(l) if l.is_up() => Some(due.max(now)),
                Some(l) => l.poll_timeout(),
                None => None,
            };
            match wake {
                Some(t) => wheel.arm(timer, t),
                None => wheel.cancel(timer),
            }
            return;
        }
        for _ in 0..CATCH_UP_FRAMES {
            if live.start + Span::from_micros(live.stream.due_us(clip)) > now {
                break;
            }
            let mut frame = live.stream.frame(clip).peekable();
            while frame.peek().is_some() {
                // One datagram, or with GSO one send of several: full packets, each of
                // GSO_SEGMENT bytes, and at most one shorter packet last.
                let most = if *gso { GSO_MOST } else { 1 };
                let (mut n, mut bytes) = (0, 0);
                sendq.push_with(0, i as u32, live.to, |b| {
                    b.push_appending(|v| {
                        for p in frame.by_ref() {
                            p.write(v);
                            n += 1;
                            bytes += p.len();
                            if n == most || p.len() != GSO_SEGMENT {
                                break;
                            }
                        }
                    })
                });
                counters.rtp_packets += n;
                counters.rtp_bytes += bytes as u64;
                if sendq.is_full() {
                    flush(sendq, media, counters, gso);
                }
            }
        }
        let due = live.start + Span::from_micros(live.stream.due_us(clip));
        wheel.arm(timer, due.max(now));
    }

    /// Everything counted since the worker started.
    pub fn totals(&self) -> VideoCounters {
        let t = self.table.counters();
        let m = &self.counters;
        VideoCounters {
            invites: t.invites,
            answered: t.answered,
            busy: t.busy,
            not_acceptable: t.not_acceptable,
            not_found: t.not_found,
            acked: t.acked,
            streams_started: m.streams_started,
            streams_ended: m.streams_ended,
            rtp_packets: m.rtp_packets,
            rtp_bytes: m.rtp_bytes,
            rtp_send_errors: m.send_errors,
            tcp_connects: m.tcp_connects,
            tcp_reconnects: m.tcp_reconnects,
            tcp_connect_failures: m.tcp_connect_failures,
            tcp_frames_skipped: m.tcp_frames_skipped,
            dropped_on_reboot: t.dropped_on_reboot,
        }
    }

    /// Sends the queued RTP packets.
    pub fn flush(&mut self) {
        flush(
            &mut self.sendq,
            &self.media,
            &mut self.counters,
            &mut self.gso,
        );
    }
}

impl Worker {
    /// The local slot of fleet camera `k`, if it is this worker's.
    fn slot_of(&self, k: u32) -> Option<usize> {
        let k = k as usize;
        (k % self.workers == self.index)
            .then_some(k / self.workers)
            .filter(|&j| j < self.cams.len())
    }

    /// Hands `msg` (from `source`, for camera `slot`) to the INVITE server if it is one of
    /// its requests or a response to a camera's BYE; false if the camera should take it.
    pub(super) fn play_message(
        &mut self,
        slot: usize,
        source: SocketAddr,
        msg: &Message<'_, '_>,
    ) -> bool {
        // Most of what a camera receives is answers to its own requests: tell those apart
        // before reading the clock.
        let handled = if msg.is_request() {
            matches!(
                msg.method(),
                Some(Method::Invite | Method::Ack | Method::Cancel | Method::Bye)
            )
        } else {
            msg.cseq().is_some_and(|c| c.method == Method::Bye)
        };
        if !handled {
            return false;
        }
        if msg.is_request() && self.cams.get(slot).is_some_and(|c| c.is_rebooting()) {
            // Down for a restart (TeleBoot): nothing answers, as for the camera's own requests.
            return true;
        }
        let now = self.now();
        let table = &mut self.play.table;
        if msg.is_request() {
            match msg.method() {
                Some(Method::Invite) => {
                    let Some(cam) = self.cams.get(slot) else {
                        return false;
                    };
                    let k = (slot * self.workers + self.index) as u32;
                    let id = *cam.id();
                    let channels = self.cfg.channels_of(k);
                    let dev = Device {
                        index: k,
                        id: &id,
                        signal: self.io.local(slot),
                        transport: self.io.transport(slot),
                        media: self.play.media_addr(),
                    };
                    self.play.table.on_invite(now, msg, source, &dev, |c| {
                        (1..=channels).any(|i| id.channel(i, channels.max(1)) == *c)
                    });
                }
                Some(Method::Ack) => table.on_ack(now, msg),
                Some(Method::Cancel) => table.on_cancel(now, msg, source),
                Some(Method::Bye) => table.on_bye(now, msg, source),
                _ => return false,
            }
        } else {
            table.on_response(now, msg);
        }
        self.play_actions(Some(slot), now);
        true
    }

    /// Carries out what the table asked for in its last call; `slot` is the camera whose
    /// request it was given (its on-the-spot responses leave from that camera's socket).
    fn play_actions(&mut self, slot: Option<usize>, now: Time) {
        for r in self.play.table.records() {
            self.io.snap.record(r);
        }
        for n in 0..self.play.table.actions().len() {
            let Some(&action) = self.play.table.actions().get(n) else {
                break;
            };
            match action {
                Action::Send(t) => {
                    let from = match self.play.table.device_of(&t) {
                        Some(k) => self.slot_of(k),
                        None => slot,
                    };
                    if let Some(from) = from {
                        self.io.transmit(from, t.to, self.play.table.bytes(&t));
                    }
                }
                Action::StartMedia {
                    session,
                    to,
                    transport,
                    ssrc,
                    ..
                } => {
                    let registry = self.io.poll.registry();
                    if transport == MediaTransport::Udp {
                        self.play.start(session, to, ssrc, now, None);
                    } else {
                        self.play
                            .start_tcp(session, (to, transport, ssrc), now, registry);
                    }
                    self.play
                        .pump(session.slot(), now, &mut self.io.wheel, registry);
                }
                Action::StopMedia { session } => {
                    let registry = self.io.poll.registry();
                    self.play.stop(session, &mut self.io.wheel, registry);
                }
                Action::Acked { .. } => {}
            }
        }
        self.play.arm_table(&mut self.io.wheel);
        self.play_followups(now);
    }

    /// Tells the table what the media side learned meanwhile: the ports TCP active sessions
    /// listen on (their 200s go out; 500 where no listener opened), and the sessions whose
    /// TCP media gave up (their BYEs go out).
    fn play_followups(&mut self, now: Time) {
        while let Some((session, port)) = self.play.listens.pop() {
            match port {
                Some(port) => self.play.table.listening(now, session, port),
                None => self.play.table.media_ended(now, session),
            }
            self.play_actions(None, now);
        }
        while let Some(session) = self.play.ends.pop() {
            self.play.table.media_ended(now, session);
            self.play_actions(None, now);
        }
    }

    /// A poll event on session slot `i`'s TCP media socket (connect done, accept, writable,
    /// hang-up).
    pub(super) fn media_event(&mut self, i: usize, readable: bool, writable: bool, closed: bool) {
        let now = self.now();
        let registry = self.io.poll.registry();
        self.play
            .media_event(i, now, (readable, writable, closed), registry);
        self.play.pump(i, now, &mut self.io.wheel, registry);
        self.play_followups(now);
    }

    /// Fires timer `key` of the play side (the table's or a stream's); false if `key` is not
    /// one of its keys.
    pub(super) fn play_timer(&mut self, key: u32, now: Time) -> bool {
        let Some(k) = key.checked_sub(self.play.key) else {
            return false;
        };
        if k == 0 {
            self.play.table.on_timer(now);
            self.play_actions(None, now);
        } else if (k as usize) <= self.play.streams.len() {
            let registry = self.io.poll.registry();
            self.play
                .pump(k as usize - 1, now, &mut self.io.wheel, registry);
            self.play_followups(now);
        } else {
            return false;
        }
        true
    }

    /// Camera `slot` is rebooting (a TeleBoot): its sessions end with it, their media
    /// stopped and no BYE sent.
    pub(super) fn play_device_down(&mut self, slot: usize, now: Time) {
        let k = (slot * self.workers + self.index) as u32;
        if self.play.table.device_down(now, k) {
            self.play_actions(None, now);
        }
    }

    /// The run is ending: every live stream ends, with the camera's BYE to its platform.
    pub(super) fn end_streams(&mut self) {
        let now = self.now();
        for i in 0..self.play.streams.len() {
            let Some(session) = self.play.streams[i].as_ref().map(|l| l.session) else {
                continue;
            };
            self.play.table.media_ended(now, session);
            self.play_actions(None, now);
        }
    }
}
