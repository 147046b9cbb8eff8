//! The one driver of a camera's output, shared by every host (the generator's workers and the
//! simulation): run a handler, then hand each finished transaction, each message (with its
//! destination resolved) and each connection action to the host, and re-arm the camera's
//! timer from [`Camera::poll_timeout`].
//!
//! This is where the camera's [contract](Camera#contract) is kept — drain the outbox after
//! every `handle_*`, re-arm from `poll_timeout`, never let `now` go back — so no host can
//! forget a step. It never touches a socket or a clock itself; the host does, behind
//! [`Host`].

use super::{Action, Camera, CameraConfig, Dest, Env, Outbox, Record};
use crate::clock::Time;
use std::net::SocketAddr;

/// What a host does with a camera's output.
pub trait Host {
    /// Camera `slot` finished a transaction at `now`.
    fn record(&mut self, slot: usize, now: Time, record: &Record);
    /// Camera `slot` sends `bytes` to `dest`.
    fn transmit(&mut self, slot: usize, dest: SocketAddr, bytes: &[u8]);
    /// Camera `slot` asks for a connection to `server` (its current registrar); the host
    /// later calls `handle_connected` or `handle_transport_error`.
    fn connect(&mut self, slot: usize, server: SocketAddr);
    /// Camera `slot`'s connection is to be closed; no event comes back.
    fn close(&mut self, slot: usize);
    /// Camera `slot` next needs `handle_timeout` at `wake`, or never.
    fn arm(&mut self, slot: usize, wake: Option<Time>);
}

/// A fleet's cameras with what every call needs besides the host.
pub struct Fleet<'a> {
    /// The cameras, by slot.
    pub cams: &'a mut [Camera],
    /// Fleet-wide behaviour.
    pub cfg: &'a CameraConfig,
    /// The outbox every call writes into (cleared here before each call).
    pub out: &'a mut Outbox,
    /// The configured registrar (a camera not redirected talks to it).
    pub target: SocketAddr,
}

impl Fleet<'_> {
    /// The registrar camera `slot` talks to now: the configured one, or the server a 302
    /// named.
    pub fn server_of(&self, slot: usize) -> SocketAddr {
        self.cams
            .get(slot)
            .and_then(Camera::redirect)
            .and_then(|r| self.out.redirects.get(r))
            .map_or(self.target, |(addr, _)| addr)
    }

    /// Runs `f` on camera `slot` at `now`, sending from `local`; `source` is the peer whose
    /// message is being handled (answers go back to it). Then carries out everything the
    /// camera asked for through `host`.
    pub fn call<H: Host>(
        &mut self,
        host: &mut H,
        slot: usize,
        now: Time,
        local: SocketAddr,
        source: Option<SocketAddr>,
        f: impl FnOnce(&mut Camera, Time, &mut Env<'_>),
    ) {
        let Some(cam) = self.cams.get_mut(slot) else {
            return;
        };
        self.out.clear();
        let mut env = Env {
            cfg: self.cfg,
            local,
            out: self.out,
        };
        f(cam, now, &mut env);
        for r in &self.out.records {
            host.record(slot, now, r);
        }
        let server = self.server_of(slot);
        for t in &self.out.sends {
            let dest = match t.dest {
                Dest::Server => server,
                Dest::Source => source.unwrap_or(server),
            };
            host.transmit(slot, dest, &self.out.data[t.start..t.end]);
        }
        for a in &self.out.actions {
            match a {
                Action::Connect => host.connect(slot, server),
                Action::Close => host.close(slot),
            }
        }
        host.arm(slot, self.cams[slot].poll_timeout());
    }
}
