//! What one serve worker runs: the registrar, and with `--play` the play driver beside it,
//! as one [`Service`] so both share the worker's socket.
//!
//! Why one service and not a play thread of its own: a device hears the platform from the
//! address it registered with (a gbswarm camera's UDP socket is connected to the registrar, so
//! it hears nothing else), and the kernel spreads devices over the workers' SO_REUSEPORT
//! sockets by their address, so a device's answers come back to the worker that registered it.
//! Each worker therefore plays the devices it registered, from its own socket, and gets their
//! answers; its driver's timers and media ride the same loop ([`crate::net::host`]).
//!
//! Responses to the driver's INVITEs and BYEs and the devices' BYEs go to the driver;
//! everything else to the registrar. A REGISTER the registrar accepted adds the device to the
//! driver's list. Never reads a clock or touches a socket.

use super::play::Play;
use super::play::stats::{PlayPublisher, PlayStats};
use super::registrar::Registrar;
use crate::clock::Time;
use crate::gb::DeviceId;
use crate::net::{After, HostEvent, Outbox, Service};
use crate::sip::{Batch, Message, Method, Transport};
use std::net::SocketAddr;

/// One worker's registrar and, if playing, its play driver.
pub struct Platform {
    registrar: Registrar,
    play: Option<(Play, Option<PlayPublisher>, u16)>,
}

impl Platform {
    /// The registrar alone.
    pub fn registrar(registrar: Registrar) -> Platform {
        Platform {
            registrar,
            play: None,
        }
    }

    /// The registrar with a play driver that receives media on `media_port` (0: any) and
    /// hands its counters to `publisher` on every tick.
    pub fn with_play(
        registrar: Registrar,
        play: Play,
        publisher: Option<PlayPublisher>,
        media_port: u16,
    ) -> Platform {
        Platform {
            registrar,
            play: Some((play, publisher, media_port)),
        }
    }

    /// The play driver's counters since the last hand-over, if it plays.
    pub fn play_stats(&mut self) -> Option<&mut Box<PlayStats>> {
        self.play.as_mut().map(|(p, _, _)| p.stats_now())
    }
}

impl Service for Platform {
    fn handle_parsed(
        &mut self,
        now: Time,
        msg: &Message<'_, '_>,
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After {
        let Some((play, _, _)) = self.play.as_mut() else {
            return self.registrar.handle_parsed(now, msg, from, transport, out);
        };
        let taken = if msg.is_request() {
            play.handle_request(now, msg, from, out)
        } else {
            play.handle_response(now, msg, out)
        };
        if taken {
            return After::Keep;
        }
        let after = self.registrar.handle_parsed(now, msg, from, transport, out);
        if msg.method() == Some(Method::Register)
            && let Some(id) = msg
                .to()
                .and_then(|t| t.user())
                .and_then(|u| DeviceId::parse(u).ok())
            && self
                .registrar
                .registry()
                .get(&id)
                .is_some_and(|e| e.addr == from && e.transport == transport && e.expires_at > now)
        {
            play.device_registered(id);
        }
        after
    }

    fn handle_malformed(
        &mut self,
        now: Time,
        bytes: &[u8],
        from: SocketAddr,
        transport: Transport,
        out: &mut Batch,
    ) -> After {
        self.registrar
            .handle_malformed(now, bytes, from, transport, out)
    }

    fn host_event(&mut self, event: HostEvent) {
        match (event, self.play.as_mut()) {
            (HostEvent::MediaConnection, Some((play, _, _))) => play.tcp_connected(),
            _ => self.registrar.host_event(event),
        }
    }

    fn tick(&mut self, now: Time) {
        self.registrar.tick(now);
        if let Some((play, Some(publisher), _)) = self.play.as_mut() {
            publisher.publish(play.stats_now());
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.play.as_ref().and_then(|(p, _, _)| p.poll_timeout())
    }

    fn handle_timeout(&mut self, now: Time, out: &mut Outbox) {
        let registry = self.registrar.registry();
        if let Some((play, _, _)) = self.play.as_mut() {
            let contact = |id: &DeviceId| {
                registry
                    .get(id)
                    .filter(|e| e.expires_at > now)
                    .map(|e| (e.addr, e.transport))
            };
            play.handle_timeout(now, contact, out);
        }
    }

    fn media_port(&self) -> Option<u16> {
        self.play.as_ref().map(|(_, _, port)| *port)
    }

    fn media_bound(&mut self, addr: SocketAddr) {
        if let Some((play, _, _)) = self.play.as_mut() {
            play.set_media(addr);
        }
    }

    fn handle_media(&mut self, now: Time, packet: &[u8], _from: SocketAddr) {
        if let Some((play, _, _)) = self.play.as_mut() {
            play.handle_rtp(now, packet);
        }
    }
}
