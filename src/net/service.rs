//! [`Service`]: the sans-IO shape every server core has — the registrar and the scripted test
//! registrar alike — so one host loop ([`super::host`]) and one simulation drive them all.
//!
//! A service is handed each message once, already parsed (UDP datagram or TCP frame alike),
//! with `now`, the sender and the transport, and writes what it sends back into a [`Batch`].
//! It never touches a socket and never reads a clock.

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
