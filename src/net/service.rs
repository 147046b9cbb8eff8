//! [`Service`]: the sans-IO shape every server core has — the registrar and the scripted test
//! registrar alike — so one host loop ([`super::host`]) and one simulation drive them all.
//!
//! A service is handed each message once, already parsed (UDP datagram or TCP frame alike),
//! with `now`, the sender and the transport, and writes what it sends back into a [`Batch`].
//! It never touches a socket and never reads a clock.
//!
//! A service that also acts on its own (the platform's play driver) says when it next needs
//! the host ([`Service::poll_timeout`]) and writes what it sends then into an [`Outbox`]
//! ([`Service::handle_timeout`]); one that receives media asks the host for a media port
//! ([`Service::media_port`]) and is handed every RTP packet that arrives there, from UDP or
//! unframed from RFC 4571 TCP ([`Service::handle_media`]). A plain registrar uses none of it.

use crate::clock::Time;
use crate::sip::{Batch, Header, Limits, Message, Transport, parse_datagram};
use std::net::SocketAddr;

/// What the host does with the connection after sending a service's batch (TCP only; UDP
/// has no connection to close).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Keep the connection.
    Keep,
    /// Close it once the batch is written (the peer sent something unanswerable).
    Close,
}

/// Something the host saw that a service may count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostEvent {
    /// One message was handled in this many microseconds (wall clock, handler only).
    Served {
        /// Microseconds spent in the handler.
        micros: u64,
    },
    /// A TCP connection was refused (connection or half-open limit).
    Refused,
    /// A TCP connection was closed for idling or for dripping a partial message too long.
    Stale,
    /// A TCP media connection was accepted or made (see [`Service::media_port`]).
    MediaConnection,
}

/// Messages a service sends on its own (not as answers), each to its address over UDP or
/// down the open TCP connection from that address, and TCP media connections it wants made. The host drains it after every
/// [`Service::handle_timeout`]; the memory stays.
#[derive(Debug, Default)]
pub struct Outbox {
    msgs: Batch,
    to: Vec<(SocketAddr, Transport)>,
    connects: Vec<SocketAddr>,
}

impl Outbox {
    /// Queues the message `write` puts into the buffer it is given (which it may clear) for
    /// `to` over `transport` (TCP: the connection from `to`; none open, it is dropped);
    /// writing nothing queues nothing.
    pub fn push_with(
        &mut self,
        to: SocketAddr,
        transport: Transport,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        let before = self.msgs.len();
        self.msgs.push_with(write);
        if self.msgs.len() > before {
            self.to.push((to, transport));
        }
    }

    /// Asks for a TCP media connection to `to` (its bytes come back through
    /// [`Service::handle_media`]).
    pub fn connect(&mut self, to: SocketAddr) {
        self.connects.push(to);
    }

    /// The messages queued, each with its destination and transport.
    pub fn messages(&self) -> impl Iterator<Item = (SocketAddr, Transport, &[u8])> {
        self.to
            .iter()
            .zip(self.msgs.iter())
            .map(|(&(to, t), m)| (to, t, m))
    }

    /// The connections asked for.
    pub fn connects(&self) -> &[SocketAddr] {
        &self.connects
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.to.is_empty() && self.connects.is_empty()
    }

    /// Forgets everything queued (keeps the memory).
    pub fn clear(&mut self) {
        self.msgs.clear();
        self.to.clear();
        self.connects.clear();
    }
}

/// A server core driven by a host loop or a simulation.
///
/// Contract: the caller sends the messages a `handle_*` call added to the batch to `from` over
/// the same transport, in order, before it hands the service anything from the next receive
/// (a UDP host gathers the answers to one batch of datagrams and sends them together); `now`
/// never goes back. The batch may hold messages of earlier calls: a service appends to it and
/// never clears it or reads what it did not write.
pub trait Service: Send + 'static {
    /// Handles one parsed message (request or response) from `from`.
    fn handle_parsed(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After;

    /// Handles bytes that did not parse: a whole datagram, or (TCP) the unframeable rest of a
    /// stream, after which the host closes the connection whatever is returned.
    fn handle_malformed(
        &mut self,
        now: Time,
        bytes: &[u8],
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After;

    /// Counts an event of the host's (default: ignored).
    fn host_event(&mut self, _event: HostEvent) {}

    /// Called by the host about every 200 ms and once when it stops: the place to publish
    /// interval statistics.
    fn tick(&mut self, _now: Time) {}

    /// When the service next wants [`handle_timeout`](Self::handle_timeout) (default: never).
    fn poll_timeout(&self) -> Option<Time> {
        None
    }

    /// Fires what is due by `now`, writing what it sends into `out` (default: nothing).
    fn handle_timeout(&mut self, _now: Time, _out: &mut Outbox) {}

    /// The media port this worker should receive on, UDP and TCP on the listen IP (`Some(0)`:
    /// any); `None` (the default) for a service that takes no media.
    fn media_port(&self) -> Option<u16> {
        None
    }

    /// Where the host bound the media port asked for.
    fn media_bound(&mut self, _addr: SocketAddr) {}

    /// One RTP packet from `from` (a UDP datagram, or a frame of an RFC 4571 TCP stream).
    fn handle_media(&mut self, _now: Time, _packet: &[u8], _from: SocketAddr) {}

    /// Parses one datagram and hands it to [`handle_parsed`](Self::handle_parsed) or
    /// [`handle_malformed`](Self::handle_malformed); a CR/LF keep-alive is ignored.
    fn handle_datagram(
        &mut self,
        now: Time,
        bytes: &[u8],
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After {
        let mut h = [Header::EMPTY; 64];
        match parse_datagram(bytes, &mut h, &Limits::default()) {
            Ok(Some(msg)) => self.handle_parsed(now, &msg, from, transport, out),
            Ok(None) => After::Keep,
            Err(_) => self.handle_malformed(now, bytes, from, transport, out),
        }
    }
}
