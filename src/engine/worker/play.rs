//! A generator worker's live video: the INVITE server of its cameras (one [`PlayTable`] for
//! the worker) and the RTP/UDP streams its sessions send.
//!
//! The INVITE, ACK, CANCEL and BYE addressed to the worker's cameras, and the responses to
//! their BYEs, go to the table instead of the camera; what the table sends leaves from the
//! camera's own signalling socket, as the camera's other messages do. A session's media leaves
//! from one UDP socket per worker (its port is the answer's `m=video` port): each stream is a
//! [`Stream`] over the clip packed once at start ([`crate::profile::Video`]), its next frame
//! due on the worker's timer wheel, its packets queued in one [`SendBatch`] and sent with
//! `sendmmsg` before the worker waits.
//!
//! Only UDP media is served: a TCP offer is answered 488 (see [`PlayConfig::tcp_media`]).
//! Timer keys: the cameras' slots come first, then the table's, then one per session slot.
//! Nothing here allocates after start: the table, the stream slots and the send queue are
//! sized once.

use super::Worker;
use crate::camera::driver::Host;
use crate::camera::invite::{Action, Device, PlayConfig, PlayTable, SessionId};
use crate::clock::{Span, Time};
use crate::gb::sdp::MediaTransport;
use crate::media::{Stream, Template};
use crate::net::batch::{BATCH, SendBatch};
use crate::net::udp::{self, UdpSock};
use crate::sip::{Message, Method};
use crate::stats::video::VideoCounters;
use crate::timer::TimerWheel;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
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
    /// RTP packets the kernel refused.
    pub send_errors: u64,
}

/// One live stream.
#[derive(Debug)]
struct Live {
    session: SessionId,
    to: SocketAddr,
    stream: Stream,
    start: Time,
}

/// The worker's play sessions and their media.
pub(super) struct Play {
    /// The INVITE server of the worker's cameras.
    pub table: PlayTable,
    clip: Arc<Template>,
    media: UdpSock,
    streams: Vec<Option<Live>>,
    sendq: SendBatch,
    rng: u64,
    /// The table's timer key; session slot `i` uses `key + 1 + i`.
    key: u32,
    /// What the media side did.
    pub counters: MediaCounters,
}

impl Play {
    /// A table for `cameras` cameras of `max_streams` streams each (bounded), its media socket
    /// bound on `ip`, its timers keyed from `key` on.
    pub fn new(
        cameras: usize,
        max_streams: u32,
        clip: Arc<Template>,
        ip: IpAddr,
        key: u32,
        salt: u32,
    ) -> io::Result<Play> {
        let capacity = cameras
            .saturating_mul(max_streams as usize)
            .min(MAX_SESSIONS_PER_WORKER);
        let cfg = PlayConfig {
            max_streams,
            salt,
            tcp_media: false,
            user_agent: concat!("gbswarm/", env!("CARGO_PKG_VERSION")).into(),
            ..PlayConfig::default()
        };
        let media = udp::open(ip, None, true)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open media socket: {e}")))?;
        Ok(Play {
            table: PlayTable::new(capacity, cfg),
            clip,
            media,
            streams: (0..capacity).map(|_| None).collect(),
            sendq: SendBatch::new(4 * BATCH),
            rng: crate::seed::random_u64() | 1,
            key,
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

    fn start(&mut self, session: SessionId, to: SocketAddr, ssrc: u32, now: Time) {
        let r = self.next_random();
        let Some(slot) = self.streams.get_mut(session.slot()) else {
            return;
        };
        *slot = Some(Live {
            session,
            to,
            stream: Stream::new(ssrc, r as u16, (r >> 32) as u32),
            start: now,
        });
        self.counters.streams_started += 1;
    }

    fn stop(&mut self, session: SessionId, wheel: &mut TimerWheel) {
        let i = session.slot();
        if let Some(slot) = self.streams.get_mut(i)
            && slot.as_ref().is_some_and(|l| l.session == session)
        {
            *slot = None;
            self.counters.streams_ended += 1;
            wheel.cancel(self.key + 1 + i as u32);
        }
    }

    /// Queues the frames of stream slot `i` due by `now` and arms its next frame.
    fn pump(&mut self, i: usize, now: Time, wheel: &mut TimerWheel) {
        let Play {
            clip,
            streams,
            sendq,
            counters,
            media,
            key,
            ..
        } = self;
        let Some(live) = streams.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        for _ in 0..CATCH_UP_FRAMES {
            if live.start + Span::from_micros(live.stream.due_us(clip)) > now {
                break;
            }
            for p in live.stream.frame(clip) {
                sendq.push_with(0, i as u32, live.to, |b| b.push_with(|v| p.write(v)));
                counters.rtp_packets += 1;
                counters.rtp_bytes += p.len() as u64;
                if sendq.is_full() {
                    flush(sendq, media, counters);
                }
            }
        }
        let due = live.start + Span::from_micros(live.stream.due_us(clip));
        wheel.arm(*key + 1 + i as u32, due.max(now));
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
        }
    }

    /// Sends the queued RTP packets.
    pub fn flush(&mut self) {
        flush(&mut self.sendq, &self.media, &mut self.counters);
    }
}

fn flush(sendq: &mut SendBatch, media: &UdpSock, counters: &mut MediaCounters) {
    sendq.flush(
        |_| Some(media.sock.as_fd()),
        |_, _| counters.send_errors += 1,
    );
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
                    transport: MediaTransport::Udp,
                    ssrc,
                    ..
                } => {
                    self.play.start(session, to, ssrc, now);
                    self.play.pump(session.slot(), now, &mut self.io.wheel);
                }
                // Never asked for: the table answers TCP offers 488.
                Action::StartMedia { .. } => {}
                Action::StopMedia { session } => self.play.stop(session, &mut self.io.wheel),
                Action::Acked { .. } => {}
            }
        }
        self.play.arm_table(&mut self.io.wheel);
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
            self.play.pump(k as usize - 1, now, &mut self.io.wheel);
        } else {
            return false;
        }
        true
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
