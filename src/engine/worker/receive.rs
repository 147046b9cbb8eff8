//! How a generator worker takes in what the network brings: datagrams on its UDP sockets
//! (parsed once, to route them to a camera and for the camera), and its cameras' TCP streams
//! (connect completion, queued writes, frames parsed once in place). Everything received goes
//! to a camera through the worker's one driver call; nothing here decides anything about
//! the protocol.

use super::Worker;
use crate::net::batch::Datagram;
use crate::sip::{Header, Limits, Message, Parsed, parse_datagram, parse_stream};
use std::io::{self, Read};

impl Worker {
    /// Takes UDP socket `s`'s datagrams a batch at a time (one `recvmmsg` each) and hands
    /// each to its camera. A shared socket is read until a batch comes back short (the
    /// kernel had no more); a camera's own connected socket until it would block, so an ICMP
    /// refusal the kernel holds back after some datagrams still reaches the camera now.
    pub(super) fn udp_readable(&mut self, s: usize) {
        let Some(mut rb) = self.rb.take() else {
            return;
        };
        let connected = self.io.udp.get(s).is_some_and(|u| u.peer.is_some());
        while let Some(sock) = self.io.udp.get(s) {
            match rb.recv(&sock.sock) {
                Ok(_) => {
                    for d in rb.iter() {
                        self.datagram(s, d);
                    }
                    if rb.drained() && !connected {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    if self.io.cps == 1
                        && let Some(slot) =
                            self.io.udp_only_slot(s).filter(|&j| j < self.cams.len())
                    {
                        self.io.refused.push(slot);
                    }
                }
                Err(_) => {
                    self.io.snap.send_errors += 1;
                    break;
                }
            }
        }
        self.rb = Some(rb);
        self.drain_refused();
    }

    /// Hands one datagram of socket `s` to its camera, parsed once here both to route it and
    /// for the camera; a truncated one is malformed (its tail is lost).
    fn datagram(&mut self, s: usize, d: Datagram<'_>) {
        let mut h = [Header::EMPTY; 40];
        let parsed = if d.truncated {
            Err(())
        } else {
            parse_datagram(d.bytes, &mut h, &Limits::default()).map_err(|_| ())
        };
        let msg = match parsed {
            Ok(Some(m)) => m,
            Ok(None) => return, // a CRLF keep-alive
            Err(())
                if self.io.cps == 1
                    && self
                        .io
                        .udp_only_slot(s)
                        .is_some_and(|j| j < self.cams.len()) =>
            {
                self.out.counters.malformed += 1;
                return;
            }
            Err(()) => {
                self.io.snap.unrouted += 1;
                return;
            }
        };
        let slot = if self.io.cps == 1 {
            self.io.udp_only_slot(s)
        } else {
            self.route(&msg)
        };
        match slot.filter(|&j| j < self.cams.len()) {
            Some(slot) => {
                if self.play_message(slot, d.from, &msg) || self.subs_message(slot, d.from, &msg) {
                    return;
                }
                self.call(slot, Some(d.from), |c, now, env| {
                    c.handle_parsed(now, &msg, env)
                });
            }
            None => self.io.snap.unrouted += 1,
        }
    }

    /// The local slot of the camera a datagram on a shared socket is for.
    fn route(&self, msg: &Message<'_, '_>) -> Option<usize> {
        let k = crate::camera::addressed_index(msg, &self.plan.ids, &self.routes)? as usize;
        (k % self.workers == self.index).then_some(k / self.workers)
    }

    pub(super) fn tcp_event(&mut self, slot: usize, readable: bool, writable: bool, closed: bool) {
        let token = self.io.tcp_token(slot);
        let Some(c) = self.io.tcp.get_mut(slot).and_then(|c| c.as_mut()) else {
            return;
        };
        if !c.connected {
            match c.finish_connect() {
                Ok(true) => {
                    if c.set_interest(self.io.poll.registry(), token, true)
                        .is_err()
                    {
                        self.io.refused.push(slot);
                        self.drain_refused();
                        return;
                    }
                    self.call(slot, None, |cam, now, env| cam.handle_connected(now, env));
                    self.drain_refused();
                }
                Ok(false) if !closed => {}
                _ => {
                    self.io.refused.push(slot);
                    self.drain_refused();
                    return;
                }
            }
        } else if writable {
            let registry = self.io.poll.registry();
            if c.flush().is_err() || c.set_interest(registry, token, true).is_err() {
                self.io.refused.push(slot);
            }
        }
        if readable || closed {
            self.tcp_read(slot);
        }
        self.drain_refused();
    }

    fn tcp_read(&mut self, slot: usize) {
        let mut lost = false;
        loop {
            let Some(c) = self.io.tcp.get_mut(slot).and_then(|c| c.as_mut()) else {
                return;
            };
            let stream = &mut c.stream;
            match c.rbuf.fill(|b| stream.read(b)) {
                Ok(Some(0)) => {
                    lost = true;
                    break;
                }
                Ok(Some(_)) => {}
                // A peer that fills the buffer without a complete message is refused.
                Ok(None) => {
                    lost = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    lost = true;
                    break;
                }
            }
            if !self.deliver_frames(slot) {
                lost = true;
                break;
            }
        }
        if !lost && !self.deliver_frames(slot) {
            lost = true;
        }
        if lost && self.io.tcp.get(slot).is_some_and(|c| c.is_some()) {
            self.io.refused.push(slot);
        }
    }

    /// Hands every complete message in the connection's buffer to its camera, each parsed
    /// once, in place; false if the stream is not SIP.
    fn deliver_frames(&mut self, slot: usize) -> bool {
        loop {
            let Some(c) = self.io.tcp.get_mut(slot).and_then(|c| c.as_mut()) else {
                return true;
            };
            // The buffer is lent out while its camera handles the message (the handler may
            // close or replace the connection), and returned if the connection is the same.
            let rbuf = std::mem::take(&mut c.rbuf);
            let peer = c.peer;
            let generation = self.io.generation.get(slot).copied();
            let mut h = [Header::EMPTY; 40];
            let pending = rbuf.pending();
            let (len, ok) = match parse_stream(pending, &mut h, &Limits::default()) {
                Ok(Parsed::Complete { msg, len }) => {
                    if !self.play_message(slot, peer, &msg) && !self.subs_message(slot, peer, &msg)
                    {
                        self.call(slot, Some(peer), |cam, now, env| {
                            cam.handle_parsed(now, &msg, env)
                        });
                    }
                    (len, true)
                }
                Ok(Parsed::KeepAlive(n)) => (n, true),
                Ok(Parsed::Partial) => (0, true),
                Err(_) => {
                    self.out.counters.malformed += 1;
                    (0, false)
                }
            };
            let mut rbuf = rbuf;
            rbuf.consume(len);
            let same = self.io.generation.get(slot).copied() == generation;
            let Some(c) = self
                .io
                .tcp
                .get_mut(slot)
                .and_then(|c| c.as_mut())
                .filter(|_| same)
            else {
                return true;
            };
            c.rbuf = rbuf;
            if !ok {
                return false;
            }
            if len == 0 {
                c.rbuf.release_if_empty();
                return true;
            }
        }
    }
}
