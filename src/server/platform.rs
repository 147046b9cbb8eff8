//! What one serve worker runs: the registrar, and with `--play` the play driver and with
//! `--subscribe`/`--query` the subscribe driver beside it, as one [`Service`] so all share the
//! worker's socket.
//!
//! Why one service and not a play thread of its own: a device hears the platform from the
//! address it registered with (a gbswarm camera's UDP socket is connected to the registrar, so
//! it hears nothing else), and the kernel spreads devices over the workers' SO_REUSEPORT
//! sockets by their address, so a device's answers come back to the worker that registered it.
//! Each worker therefore plays the devices it registered, from its own socket, and gets their
//! answers; its driver's timers and media ride the same loop ([`crate::net::host`]).
//!
//! Responses to the play driver's INVITEs and BYEs and the devices' BYEs go to the play driver;
//! responses to the subscribe driver's SUBSCRIBEs and queries, and every NOTIFY, to the
//! subscribe driver; everything else to the registrar. A REGISTER the registrar accepted adds
//! the device to both drivers' lists; a MANSCDP MESSAGE the registrar answered (an alarm, a
//! query's Response page) is shown to the subscribe driver too. Never reads a clock or touches
//! a socket.

use super::play::Play;
use super::play::stats::{PlayPublisher, PlayStats};
use super::registrar::Registrar;
use super::subscribe::Subscriber;
use super::subscribe::stats::{SubPublisher, SubStats};
use crate::clock::Time;
use crate::gb::DeviceId;
use crate::net::{After, HostEvent, Outbox, Service};
use crate::sip::{Batch, Message, Method, Transport};
use std::net::SocketAddr;

/// One worker's registrar and, if playing, its play driver.
pub struct Platform {
    registrar: Registrar,
    play: Option<(Play, Option<PlayPublisher>, u16)>,
    subs: Option<(Subscriber, Option<SubPublisher>)>,
}

impl Platform {
    /// The registrar alone.
    pub fn registrar(registrar: Registrar) -> Platform {
        Platform {
            registrar,
            play: None,
            subs: None,
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
            subs: None,
        }
    }

    /// Adds a subscribe driver that hands its counters to `publisher` on every tick.
    pub fn with_subscriber(
        mut self,
        subs: Subscriber,
        publisher: Option<SubPublisher>,
    ) -> Platform {
        self.subs = Some((subs, publisher));
        self
    }

    /// The subscribe driver's counters since the last hand-over, if it runs.
    pub fn sub_stats(&mut self) -> Option<&mut Box<SubStats>> {
        self.subs.as_mut().map(|(s, _)| s.stats_now())
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
        if let Some((subs, _)) = self.subs.as_mut() {
            let taken = if msg.is_request() {
                subs.handle_request(now, msg, from, out)
            } else {
                subs.handle_response(now, msg)
            };
            if taken {
                return After::Keep;
            }
        }
        if let Some((play, _, _)) = self.play.as_mut() {
            let taken = if msg.is_request() {
                play.handle_request(now, msg, from, out)
            } else {
                play.handle_response(now, msg, out)
            };
            if taken {
                return After::Keep;
            }
        }
        let after = self.registrar.handle_parsed(now, msg, from, transport, out);
        match msg.method() {
            Some(Method::Register) if self.play.is_some() || self.subs.is_some() => {
                let Some(id) = msg
                    .to()
                    .and_then(|t| t.user())
                    .and_then(|u| DeviceId::parse(u).ok())
                else {
                    return after;
                };
                let accepted = self.registrar.registry().get(&id).is_some_and(|e| {
                    e.addr == from && e.transport == transport && e.expires_at > now
                });
                if accepted {
                    if let Some((play, _, _)) = self.play.as_mut() {
                        play.device_registered(id);
                    }
                    if let Some((subs, _)) = self.subs.as_mut() {
                        subs.device_registered(id, now);
                    }
                }
            }
            Some(Method::Message) => {
                if let Some((subs, _)) = self.subs.as_mut()
                    && crate::gb::register::is_manscdp(msg)
                {
                    subs.device_message(now, msg);
                }
            }
            _ => {}
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
        if let Some((subs, Some(publisher))) = self.subs.as_mut() {
            publisher.publish(subs.stats_now());
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        let play = self.play.as_ref().and_then(|(p, _, _)| p.poll_timeout());
        let subs = self.subs.as_ref().and_then(|(s, _)| s.poll_timeout());
        match (play, subs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Time, out: &mut Outbox) {
        let registry = self.registrar.registry();
        let mut contact = |id: &DeviceId| {
            registry
                .get(id)
                .filter(|e| e.expires_at > now)
                .map(|e| (e.addr, e.transport))
        };
        if let Some((play, _, _)) = self.play.as_mut() {
            play.handle_timeout(now, &mut contact, out);
        }
        if let Some((subs, _)) = self.subs.as_mut() {
            subs.handle_timeout(now, &mut contact, out);
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
