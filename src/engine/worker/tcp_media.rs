//! A generator worker's TCP media (RFC 4571 framing): per session either a connection the
//! camera makes (platform passive) or a listener of its own that accepts the platform's one
//! connection and then closes (platform active).
//!
//! When to connect, retry and give up is the [`TcpLink`]'s decision (GB/T 28181-2022 Annex D);
//! this file only carries it out and moves bytes. Each frame is written into one reused buffer
//! as whole RFC 4571-framed packets and handed to the connection at once; when the
//! connection's write queue is backed up past [`MEDIA_QUEUE`] the whole frame is skipped
//! (counted), so a slow platform never gets half a packet and a stream's memory stays bounded.
//! The write queue grows only while the platform is slow and is released once drained: an idle
//! or keeping-up stream holds no buffer. What is received on a media connection is read and
//! dropped (only a hang-up matters).
//!
//! What it never does: decide when to connect, retry or give up (the link does), end a
//! session itself (it hands the session to the table, which sends the BYE), or parse what the
//! platform sends.

use super::play::{Live, MediaCounters};
use crate::camera::invite::SessionId;
use crate::camera::media_link::{LinkAction, LinkState, TcpLink};
use crate::clock::{Span, Time};
use crate::media::Template;
use crate::net::tcp::{self, Conn, MAX_WRITE_QUEUE};
use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};

/// Unsent bytes a media connection may hold before whole frames are skipped: a few frames of
/// a 1 Mbit/s stream (a key frame larger than this is still sent when the queue is empty).
pub const MEDIA_QUEUE: usize = 64 * 1024;

/// Reads of a media connection per readable event (what arrives there is dropped).
const READS_PER_EVENT: usize = 16;

/// One session's TCP media: its link state and its socket (a connection, or a listener
/// before the platform connects).
#[derive(Debug)]
pub(super) struct TcpMedia {
    /// When to connect, retry, give up.
    pub link: TcpLink,
    conn: Option<Conn>,
    listener: Option<TcpListener>,
}

/// What a media socket operation needs from the worker: the poll registry, the session's
/// token, the media IP, the counters and where to put a session that must end.
pub(super) struct Ctx<'a> {
    /// The worker's poll registry.
    pub registry: &'a Registry,
    /// The session slot's poll token (its connection or listener).
    pub token: Token,
    /// The worker's media IP: connects leave from it, listeners bind on it.
    pub ip: IpAddr,
    /// The worker's media counters.
    pub counters: &'a mut MediaCounters,
    /// Sessions whose link gave up, for the table to end with a BYE.
    pub ends: &'a mut Vec<SessionId>,
}

impl TcpMedia {
    /// The camera connects to `to` (platform passive); the first connect starts now.
    pub fn client(now: Time, to: SocketAddr, session: SessionId, cx: &mut Ctx<'_>) -> TcpMedia {
        let (link, first) = TcpLink::client(now);
        let mut m = TcpMedia {
            link,
            conn: None,
            listener: None,
        };
        m.act(Some(first), now, to, session, cx);
        m
    }

    /// The camera listens on the media IP, a port of its own (platform active): the port, or
    /// `None` if no listener could be opened.
    pub fn server(now: Time, cx: &mut Ctx<'_>) -> (TcpMedia, Option<u16>) {
        let mut m = TcpMedia {
            link: TcpLink::server(now),
            conn: None,
            listener: None,
        };
        let port = match TcpListener::bind(SocketAddr::new(cx.ip, 0)) {
            Ok(mut l) => match (
                cx.registry.register(&mut l, cx.token, Interest::READABLE),
                l.local_addr(),
            ) {
                (Ok(()), Ok(a)) => {
                    m.listener = Some(l);
                    Some(a.port())
                }
                _ => None,
            },
            Err(_) => None,
        };
        if port.is_none() {
            cx.counters.tcp_connect_failures += 1;
        }
        (m, port)
    }

    /// Closes the socket (the session ends).
    pub fn close(&mut self, registry: &Registry) {
        self.drop_conn(registry);
        if let Some(mut l) = self.listener.take() {
            let _ = registry.deregister(&mut l);
        }
    }

    fn drop_conn(&mut self, registry: &Registry) {
        if let Some(mut c) = self.conn.take() {
            c.deregister(registry);
        }
    }

    /// Carries out what the link asked for; a connect that fails at once is reported back to
    /// it, which may ask again (ending, or waiting for the next attempt).
    fn act(
        &mut self,
        mut action: Option<LinkAction>,
        now: Time,
        to: SocketAddr,
        session: SessionId,
        cx: &mut Ctx<'_>,
    ) {
        while let Some(a) = action.take() {
            match a {
                LinkAction::Connect { retry } => {
                    cx.counters.tcp_reconnects += u64::from(retry);
                    self.drop_conn(cx.registry);
                    let started = tcp::connect(Some(cx.ip), to).and_then(|mut c| {
                        let interest = Interest::READABLE | Interest::WRITABLE;
                        c.register(cx.registry, cx.token, interest).map(|()| c)
                    });
                    match started {
                        Ok(c) => self.conn = Some(c),
                        Err(_) => {
                            cx.counters.tcp_connect_failures += 1;
                            action = self.link.failed(now);
                        }
                    }
                }
                LinkAction::Abandon => {
                    cx.counters.tcp_connect_failures += 1;
                    self.drop_conn(cx.registry);
                }
                LinkAction::End => {
                    self.close(cx.registry);
                    cx.ends.push(session);
                }
            }
        }
    }

    /// The connection failed or dropped: closed, and the link decides what next.
    fn lost(&mut self, now: Time, to: SocketAddr, session: SessionId, cx: &mut Ctx<'_>) {
        self.drop_conn(cx.registry);
        let action = self.link.failed(now);
        self.act(action, now, to, session, cx);
    }

    /// Fires the link's timer if due (retry, connect timeout, listen timeout).
    pub fn on_timer(&mut self, now: Time, to: SocketAddr, session: SessionId, cx: &mut Ctx<'_>) {
        let listening = self.link.state() == LinkState::Listening;
        let action = self.link.on_timer(now);
        if listening && action == Some(LinkAction::End) {
            cx.counters.tcp_connect_failures += 1;
        }
        self.act(action, now, to, session, cx);
    }

    /// Handles a poll event on the session's socket; true if the link just came up.
    pub fn on_event(
        &mut self,
        now: Time,
        ev: (bool, bool, bool),
        to: SocketAddr,
        session: SessionId,
        cx: &mut Ctx<'_>,
    ) -> bool {
        let (readable, writable, closed) = ev;
        if let Some(l) = &self.listener {
            let accepted = loop {
                match l.accept() {
                    Ok(a) => break Ok(a),
                    // A connection reset before it was accepted: look for another.
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => break Err(e),
                }
            };
            return match accepted {
                Ok((stream, peer)) => {
                    self.close(cx.registry);
                    let mut c = tcp::accepted(stream, peer);
                    if c.register(cx.registry, cx.token, Interest::READABLE)
                        .is_err()
                    {
                        self.lost(now, to, session, cx);
                        return false;
                    }
                    self.conn = Some(c);
                    self.up(now, cx)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                Err(_) => {
                    self.lost(now, to, session, cx);
                    false
                }
            };
        }
        let Some(c) = self.conn.as_mut() else {
            return false;
        };
        if !c.connected {
            return match c.finish_connect() {
                Ok(true) if c.set_interest(cx.registry, cx.token, true).is_ok() => self.up(now, cx),
                // Still pending (a hang-up flag without an error may be a stale event of the
                // slot's previous socket): the connect timeout is the backstop.
                Ok(false) => false,
                _ => {
                    cx.counters.tcp_connect_failures += 1;
                    self.lost(now, to, session, cx);
                    false
                }
            };
        }
        let mut gone = writable
            && (c.flush().is_err() || c.set_interest(cx.registry, cx.token, true).is_err());
        if !gone && (readable || closed) {
            gone = drain(c);
        }
        if gone {
            self.lost(now, to, session, cx);
        }
        false
    }

    fn up(&mut self, now: Time, cx: &mut Ctx<'_>) -> bool {
        self.link.connected(now);
        cx.counters.tcp_connects += 1;
        self.link.is_up()
    }

    /// Sends `live`'s frames due by `now` (at most `frames`), each whole or skipped; `buf` is
    /// the worker's frame buffer.
    pub fn send_frames(
        live: &mut Live,
        clip: &Template,
        now: Time,
        frames: u32,
        buf: &mut Vec<u8>,
        cx: &mut Ctx<'_>,
    ) {
        let (to, session) = (live.to, live.session);
        let Some(m) = live.tcp.as_mut() else {
            return;
        };
        for _ in 0..frames {
            if !m.link.is_up() || live.start + Span::from_micros(live.stream.due_us(clip)) > now {
                break;
            }
            let Some(c) = m.conn.as_mut().filter(|c| c.connected) else {
                break;
            };
            let mut next = live.stream;
            buf.clear();
            let (mut packets, mut bytes) = (0u64, 0u64);
            for p in next.frame(clip) {
                p.write_tcp(buf);
                packets += 1;
                bytes += p.len() as u64;
            }
            let queued = c.queued();
            if buf.len() > MAX_WRITE_QUEUE || (queued > 0 && queued + buf.len() > MEDIA_QUEUE) {
                live.stream.skip_frame(clip);
                cx.counters.tcp_frames_skipped += 1;
                continue;
            }
            if c.send_via(cx.registry, cx.token, true, buf).is_err() {
                cx.counters.send_errors += 1;
                m.lost(now, to, session, cx);
                break;
            }
            live.stream = next;
            cx.counters.rtp_packets += packets;
            cx.counters.rtp_bytes += bytes;
        }
    }
}

/// Reads and drops what the platform sent; true if the connection is gone.
fn drain(c: &mut Conn) -> bool {
    let mut buf = [0u8; 2048];
    for _ in 0..READS_PER_EVENT {
        match c.stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Codec, Stream};
    use crate::profile::video::EMBEDDED_CLIP;
    use mio::{Events, Poll};
    use std::time::{Duration, Instant};

    const TOKEN: Token = Token(7);

    fn cx<'a>(
        poll: &'a Poll,
        counters: &'a mut MediaCounters,
        ends: &'a mut Vec<SessionId>,
    ) -> Ctx<'a> {
        Ctx {
            registry: poll.registry(),
            token: TOKEN,
            ip: IpAddr::from([127, 0, 0, 1]),
            counters,
            ends,
        }
    }

    /// Polls for the media token's events and hands them to the link, until `done` or a
    /// generous deadline.
    fn drive(
        poll: &mut Poll,
        live: &mut Live,
        counters: &mut MediaCounters,
        mut done: impl FnMut(&mut Live, &MediaCounters) -> bool,
    ) {
        let mut events = Events::with_capacity(8);
        let mut ends = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(live, counters) && Instant::now() < deadline {
            poll.poll(&mut events, Some(Duration::from_millis(10)))
                .unwrap();
            let evs: Vec<_> = events
                .iter()
                .map(|e| (e.is_readable(), e.is_writable(), e.is_read_closed()))
                .collect();
            let (to, session) = (live.to, live.session);
            for ev in evs {
                if let Some(m) = live.tcp.as_mut() {
                    let mut c = cx(poll, counters, &mut ends);
                    m.on_event(Time::ZERO, ev, to, session, &mut c);
                }
            }
        }
        assert!(done(live, counters), "not done before the deadline");
    }

    #[test]
    fn a_platform_that_stops_reading_gets_whole_frames_only_and_the_others_are_skipped() {
        let clip = Template::from_annexb(EMBEDDED_CLIP, Codec::H264, 25).unwrap();
        let mut poll = Poll::new().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to = listener.local_addr().unwrap();
        let (mut counters, mut ends) = (MediaCounters::default(), Vec::new());
        let session = SessionId::default();
        let m = TcpMedia::client(
            Time::ZERO,
            to,
            session,
            &mut cx(&poll, &mut counters, &mut ends),
        );
        let (mut peer, _) = listener.accept().unwrap();
        let mut live = Live {
            session,
            to,
            stream: Stream::new(0x0BEB_D0D0, 0, 0),
            start: Time::ZERO,
            tcp: Some(m),
        };
        drive(&mut poll, &mut live, &mut counters, |l, _| {
            l.tcp.as_ref().is_some_and(|m| m.link.is_up())
        });
        assert_eq!(counters.tcp_connects, 1);
        // Four minutes of frames due at once, none read: the kernel's buffers and then the
        // write queue fill, and the rest are skipped whole.
        let frames = 6000;
        let mut buf = Vec::new();
        let now = Time::ZERO + Span::from_secs(240);
        let mut c = cx(&poll, &mut counters, &mut ends);
        TcpMedia::send_frames(&mut live, &clip, now, frames, &mut buf, &mut c);
        assert!(ends.is_empty());
        assert!(counters.tcp_frames_skipped > 0, "{counters:?}");
        assert_eq!(counters.send_errors, 0);
        let queued = live
            .tcp
            .as_ref()
            .and_then(|m| m.conn.as_ref())
            .map_or(0, Conn::queued);
        assert!(
            queued <= MEDIA_QUEUE + MAX_WRITE_QUEUE,
            "{queued} bytes queued"
        );
        // The platform reads again: everything sent arrives, in whole packets, frame by frame.
        peer.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 65_536];
        let sent = counters.rtp_bytes + 2 * counters.rtp_packets;
        drive(&mut poll, &mut live, &mut counters, |_, _| {
            while let Ok(n) = peer.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
            }
            got.len() as u64 >= sent
        });
        assert_eq!(got.len() as u64, sent);
        let queued = live
            .tcp
            .as_ref()
            .and_then(|m| m.conn.as_ref())
            .map_or(1, Conn::queued);
        assert_eq!(queued, 0, "the write queue drained");
        let (mut at, mut packets, mut frame_start) = (0, 0u64, true);
        let mut seq = None;
        while at < got.len() {
            let len = usize::from(u16::from_be_bytes([got[at], got[at + 1]]));
            let p = &got[at + 2..at + 2 + len];
            assert_eq!(p[0] >> 6, 2);
            let s = u16::from_be_bytes([p[2], p[3]]);
            if let Some(prev) = seq {
                assert_eq!(s, u16::wrapping_add(prev, 1), "packet {packets}");
            }
            seq = Some(s);
            if frame_start {
                assert_eq!(&p[12..16], &[0, 0, 1, 0xBA], "packet {packets}");
            }
            frame_start = p[1] & 0x80 != 0;
            at += 2 + len;
            packets += 1;
        }
        assert!(frame_start, "the last packet ends a frame");
        assert_eq!(packets, counters.rtp_packets);
        let sent_frames = u64::from(frames) - counters.tcp_frames_skipped;
        assert_eq!(live.stream.frame_number(&clip), u64::from(frames));
        assert!(sent_frames > 0 && packets >= sent_frames);
    }

    #[test]
    fn a_stream_slot_takes_at_most_512_bytes() {
        let size = std::mem::size_of::<Option<Live>>();
        // The budget is 4 KiB of generator memory per stream beyond the clip; a
        // slot (256 bytes when this was written) is a small part of it, and a TCP stream's
        // write queue holds bytes only while its platform is behind.
        assert!(size <= 512, "{size} bytes per stream slot");
    }

    #[test]
    fn a_refused_connect_waits_a_second_and_a_listener_accepts_one_connection() {
        let mut poll = Poll::new().unwrap();
        let (mut counters, mut ends) = (MediaCounters::default(), Vec::new());
        // Nothing listens on a port just freed: refused, at once or on an event.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to = free.local_addr().unwrap();
        drop(free);
        let session = SessionId::default();
        let m = TcpMedia::client(
            Time::ZERO,
            to,
            session,
            &mut cx(&poll, &mut counters, &mut ends),
        );
        let mut live = Live {
            session,
            to,
            stream: Stream::new(1, 0, 0),
            start: Time::ZERO,
            tcp: Some(m),
        };
        drive(&mut poll, &mut live, &mut counters, |l, _| {
            l.tcp
                .as_ref()
                .is_some_and(|m| m.link.state() != LinkState::Connecting)
        });
        let Some(m) = live.tcp.take() else {
            panic!("no link")
        };
        assert_eq!(m.link.state(), LinkState::Waiting);
        assert_eq!(m.link.poll_timeout(), Some(Time::ZERO + Span::from_secs(1)));
        assert_eq!(counters.tcp_connect_failures, 1);
        // Listening: one connection accepted, then the port is closed.
        let (mut m, port) = TcpMedia::server(Time::ZERO, &mut cx(&poll, &mut counters, &mut ends));
        let port = port.expect("a listener");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let _platform = std::net::TcpStream::connect(addr).unwrap();
        let mut c = cx(&poll, &mut counters, &mut ends);
        assert!(m.on_event(Time::ZERO, (true, false, false), addr, session, &mut c));
        assert!(m.listener.is_none() && m.conn.is_some());
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "a second connection"
        );
        m.close(poll.registry());
        assert!(ends.is_empty());
    }
}
