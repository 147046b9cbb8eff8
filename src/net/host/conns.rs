//! A server host worker's TCP connections: accepting them within the limits (total, half-open
//! per source), reading, framing and handing each message to the service, writing the
//! service's answers through each connection's bounded write queue, and the sweep that
//! closes idle and slow-drip connections. It only moves bytes; every protocol decision is the
//! service's.

use super::*;

impl<S: Service> Worker<S> {
    pub(super) fn accept(&mut self) {
        while let Ok((stream, peer)) = self.bound.tcp.accept() {
            let half_open = self.peers.half_open.get(&peer.ip()).copied().unwrap_or(0);
            if self.peers.open >= self.cfg.max_connections
                || half_open >= self.cfg.max_half_open_per_source
            {
                self.service.host_event(HostEvent::Refused);
                drop(stream);
                continue;
            }
            // The slot decides the token: insert first, register under it, undo on failure.
            let slot = self.peers.insert(Peer {
                conn: tcp::accepted(stream, peer),
                last_active: Instant::now(),
                partial_since: None,
                half_open: true,
                paused: false,
                closing: false,
            });
            let registry = self.poll.registry();
            let token = Token(slot + FIRST_CONN);
            let registered = self.peers.slots[slot]
                .as_mut()
                .is_some_and(|p| p.conn.register(registry, token, Interest::READABLE).is_ok());
            if !registered {
                self.peers.close(slot, registry);
            }
        }
    }

    /// Handles readiness of connection `slot`; false when it must close.
    pub(super) fn conn_event(&mut self, slot: usize, now: Time, writable: bool) -> bool {
        let Some(p) = self.peers.slots.get_mut(slot).and_then(Option::as_mut) else {
            return true;
        };
        if writable && p.conn.queued() > 0 {
            if p.conn.flush().is_err() {
                return false;
            }
            p.last_active = Instant::now();
        }
        if p.closing {
            return p.conn.queued() > 0;
        }
        if p.paused {
            if p.conn.queued() > PAUSE_AT / 4 {
                return true;
            }
            p.paused = false;
        }
        if !self.serve_conn(slot, now) {
            return false;
        }
        let Some(p) = self.peers.slots.get_mut(slot).and_then(Option::as_mut) else {
            return false;
        };
        if p.closing && p.conn.queued() == 0 {
            return false;
        }
        let read = !p.paused && !p.closing;
        p.conn
            .set_interest(self.poll.registry(), Token(slot + FIRST_CONN), read)
            .is_ok()
    }

    /// Reads what a connection sent and answers every complete message; false when it must
    /// close.
    pub(super) fn serve_conn(&mut self, slot: usize, now: Time) -> bool {
        loop {
            match self.frames(slot, now) {
                Some(true) => {}
                Some(false) => return false,
                // Paused or closing: leave the rest in the kernel's buffer for now.
                None => return true,
            }
            let Some(p) = self.peers.slots.get_mut(slot).and_then(Option::as_mut) else {
                return false;
            };
            let stream = &mut p.conn.stream;
            match p.conn.rbuf.fill(|b| stream.read(b)) {
                // End of stream, or a full buffer with no complete message in it.
                Ok(Some(0)) | Ok(None) => return false,
                Ok(Some(_)) => p.last_active = Instant::now(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Answers the complete messages buffered for `slot`: `Some(true)` when all are done and
    /// more may be read, `Some(false)` when the connection must close, `None` when it is
    /// paused (write queue full) or closing.
    pub(super) fn frames(&mut self, slot: usize, now: Time) -> Option<bool> {
        let registry = self.poll.registry();
        let token = Token(slot + FIRST_CONN);
        loop {
            let p = self.peers.slots.get_mut(slot).and_then(Option::as_mut)?;
            if p.closing {
                return None;
            }
            if p.conn.queued() >= PAUSE_AT {
                // Not reading from here on: a partial message pending is not the peer's drip.
                p.paused = true;
                p.partial_since = None;
                return None;
            }
            let peer = p.conn.peer;
            let pending = p.conn.rbuf.pending();
            let mut h = [Header::EMPTY; 64];
            self.out.clear();
            let t0 = Instant::now();
            let (len, after, settled) = match parse_stream(pending, &mut h, &Limits::default()) {
                Ok(Parsed::Complete { msg, len }) => {
                    let after =
                        self.service
                            .handle_parsed(now, &msg, peer, Transport::Tcp, &mut self.out);
                    (len, after, true)
                }
                Ok(Parsed::KeepAlive(n)) => {
                    // RFC 5626: a double-CRLF ping gets a single CRLF back.
                    if n >= 4 {
                        self.out.push(b"\r\n");
                    }
                    (n, After::Keep, false)
                }
                Ok(Parsed::Partial) => {
                    p.partial_since = if pending.is_empty() {
                        p.conn.rbuf.release_if_empty();
                        None
                    } else {
                        p.partial_since.or(Some(Instant::now()))
                    };
                    return Some(true);
                }
                Err(_) => {
                    self.service.handle_malformed(
                        now,
                        pending,
                        peer,
                        Transport::Tcp,
                        &mut self.out,
                    );
                    let len = pending.len();
                    (len, After::Close, false)
                }
            };
            if settled {
                let micros = (t0.elapsed().as_micros() as u64).max(1);
                self.service.host_event(HostEvent::Served { micros });
            }
            let p = self.peers.slots.get_mut(slot).and_then(Option::as_mut)?;
            p.conn.rbuf.consume(len);
            p.partial_since = None;
            if settled && p.half_open {
                p.half_open = false;
                let ip = peer.ip();
                self.peers.settled(ip);
            }
            let p = self.peers.slots.get_mut(slot).and_then(Option::as_mut)?;
            if !self.out.is_empty()
                && p.conn
                    .send_via(registry, token, true, self.out.bytes())
                    .is_err()
            {
                return Some(false);
            }
            if after == After::Close {
                if p.conn.queued() == 0 {
                    return Some(false);
                }
                p.closing = true;
                return None;
            }
        }
    }

    /// Closes connections idle too long or dripping a partial message too long. A connection
    /// with replies queued is not idle while its peer reads them: the kernel only signals
    /// writable again once half its send buffer has drained, which a slow reader may take
    /// longer than the idle limit to do, so the queue is flushed here and any progress counts
    /// as activity (and may let a paused connection read again).
    pub(super) fn sweep(&mut self) {
        for slot in 0..self.peers.slots.len() {
            let Some(p) = self.peers.slots[slot].as_mut() else {
                continue;
            };
            let queued = p.conn.queued();
            if queued > 0 {
                match p.conn.flush() {
                    Ok(()) if p.conn.queued() < queued => {
                        p.last_active = Instant::now();
                        let now = self.clock.now();
                        if !self.conn_event(slot, now, false) {
                            self.peers.close(slot, self.poll.registry());
                        }
                        continue;
                    }
                    Ok(()) => {}
                    Err(_) => {
                        self.peers.close(slot, self.poll.registry());
                        continue;
                    }
                }
            }
            let stale = self.peers.slots[slot].as_ref().is_some_and(|p| {
                p.last_active.elapsed() > self.cfg.tcp_idle
                    || (!p.paused
                        && p.partial_since
                            .is_some_and(|t| t.elapsed() > self.cfg.tcp_partial))
            });
            if stale {
                self.service.host_event(HostEvent::Stale);
                self.peers.close(slot, self.poll.registry());
            }
        }
    }
}
