//! The scripted registrar ([`ScriptedServer`]) behind real loopback sockets, UDP and TCP on
//! one port: the small peer that engine tests and the generator benchmark run against. It is
//! a thin adapter: the same server host loop as `gbswarm serve` ([`crate::net::host`]), one
//! worker, driving the scripted server behind a switch that can make it hang.

use super::scripted::{Script, ScriptedServer};
use crate::clock::{Clock, Time};
use crate::gb::DeviceId;
use crate::net::{After, Host, HostConfig, Service};
use crate::sip::{Batch, Message, Transport};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A running responder; [`stop`](Self::stop) it to get what it saw.
pub struct Responder {
    host: Option<Host<Switched>>,
    silent: Arc<AtomicBool>,
}

/// The scripted server behind the hang switch.
struct Switched {
    server: ScriptedServer,
    silent: Arc<AtomicBool>,
}

impl Service for Switched {
    fn handle_parsed(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After {
        if self.silent.load(Ordering::Relaxed) {
            return After::Keep;
        }
        self.server.handle_parsed(now, msg, from, transport, out)
    }

    fn handle_malformed(
        &mut self,
        now: Time,
        bytes: &[u8],
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After {
        self.server
            .handle_malformed(now, bytes, from, transport, out)
    }
}

impl Responder {
    /// Starts a responder on `127.0.0.1`, a free port, UDP and TCP.
    pub fn start(id: DeviceId, script: Script) -> io::Result<Responder> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), id, script)
    }

    /// Starts a responder on `listen`, UDP and TCP (port 0: a free port). A port another
    /// process holds is refused with [`io::ErrorKind::AddrInUse`] rather than shared.
    pub fn start_on(listen: SocketAddr, id: DeviceId, script: Script) -> io::Result<Responder> {
        use crate::net::listen::{Conflict, probe};
        match probe(listen, false) {
            Ok(()) => {}
            Err(Conflict::Other(e)) => return Err(e),
            Err(Conflict::Held { transports, .. }) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{transports} port {} is held by another process",
                        listen.port()
                    ),
                ));
            }
        }
        let silent = Arc::new(AtomicBool::new(false));
        let (addr, bound) = crate::net::listen::bind(listen, 1)?;
        let cfg = HostConfig {
            name: "gbswarm-responder",
            ..HostConfig::default()
        };
        let switch = silent.clone();
        let host = crate::net::host::start_bound(addr, bound, cfg, Clock::start(), |_| Switched {
            server: ScriptedServer::new(addr, id, script.clone()),
            silent: switch.clone(),
        })?;
        Ok(Responder {
            host: Some(host),
            silent,
        })
    }

    /// The address it listens on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.host
            .as_ref()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), Host::local_addr)
    }

    /// While silent, everything received is read and dropped (a hung server whose port is
    /// still open, unlike a stopped one).
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::Relaxed);
    }

    /// Stops the worker and returns the server with its observations.
    pub fn stop(mut self) -> Option<ScriptedServer> {
        Some(self.host.take()?.stop().into_iter().next()?.server)
    }
}
