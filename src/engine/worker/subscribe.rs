//! A generator worker's subscriptions and alarms: its cameras' [`SubTable`].
//!
//! SUBSCRIBEs addressed to the worker's cameras, and the responses to their NOTIFYs and alarm
//! MESSAGEs, go to the table instead of the camera (UDP, shared or own sockets, and TCP alike);
//! what the table sends leaves from the device's own signalling socket, as its other messages
//! do. The table has one key on the worker's timer wheel, after the play side's. Its records
//! go to the stats like the cameras' own, its counters into the interval's `subs` and the
//! subscriptions it holds into the gauges. Nothing here decides anything about the protocol.

use super::Worker;
use crate::camera::driver::Host;
use crate::camera::subscribe::{Ctx, Device, SubConfig, SubTable};
use crate::clock::Time;
use crate::sip::{Message, Method};

/// Subscriptions one worker holds per camera: a platform's Catalog, MobilePosition and
/// Alarm subscription to each. The table makes its slots as they are taken, so a worker
/// whose cameras nobody subscribes to costs nothing for them.
pub const SUBSCRIPTIONS_PER_CAMERA: usize = 3;
/// Most alarm MESSAGEs one worker has in flight: `min(cameras, this)`.
pub const MAX_ALARMS_IN_FLIGHT: usize = 1024;

/// The table for a worker's `devices` cameras of a fleet of `fleet`.
pub(super) fn table(
    cfg: &crate::camera::CameraConfig,
    (worker, workers): (usize, usize),
    devices: usize,
    fleet: u64,
) -> SubTable {
    SubTable::new(SubConfig {
        capacity: devices.saturating_mul(SUBSCRIPTIONS_PER_CAMERA),
        alarm_slots: devices.min(MAX_ALARMS_IN_FLIGHT),
        salt: cfg.run_id.rotate_left(8) ^ (worker as u32).wrapping_mul(0x85eb_ca6b) ^ 0x5ab5,
        user_agent: cfg.user_agent.clone(),
        workers: workers as u32,
        worker: worker as u32,
        devices: devices as u32,
        fleet,
        alarms: cfg.alarms,
    })
}

/// What the table may know of the worker's cameras, borrowed apart from the table itself.
struct View<'a> {
    cams: &'a [crate::camera::Camera],
    io: &'a crate::engine::io::Io,
    redirects: &'a crate::camera::Redirects,
    target: std::net::SocketAddr,
    workers: usize,
    index: usize,
}

impl View<'_> {
    /// Fleet device `k` now, if it is one of this worker's.
    fn device(&self, k: u32) -> Option<Device> {
        let k_us = k as usize;
        if k_us % self.workers != self.index {
            return None;
        }
        let j = k_us / self.workers;
        let cam = self.cams.get(j)?;
        let server = cam
            .redirect()
            .and_then(|r| self.redirects.get(r))
            .map_or(self.target, |(addr, _)| addr);
        Some(Device {
            index: k,
            id: *cam.id(),
            signal: self.io.local(j),
            transport: self.io.transport(j),
            server,
            online: cam.is_registered(),
        })
    }
}

impl Worker {
    /// Hands `msg` (from `source`, for camera `slot`) to the subscription table if it is a
    /// SUBSCRIBE or a response to a NOTIFY or alarm MESSAGE; false if the camera should take
    /// it. A SUBSCRIBE to a camera down for a TeleBoot restart is dropped unanswered.
    pub(super) fn subs_message(
        &mut self,
        slot: usize,
        source: std::net::SocketAddr,
        msg: &Message<'_, '_>,
    ) -> bool {
        let handled = if msg.is_request() {
            msg.method() == Some(Method::Subscribe)
        } else {
            SubTable::wants_response(msg)
        };
        if !handled {
            return false;
        }
        // A camera down for a TeleBoot restart answers no SUBSCRIBE (as it answers no INVITE
        // and none of its own requests then); its subscriptions are gone already.
        if msg.is_request() && self.cams.get(slot).is_some_and(|c| c.is_rebooting()) {
            return true;
        }
        let now = self.now();
        let k = (slot * self.workers + self.index) as u32;
        let view = View {
            cams: &self.cams,
            io: &self.io,
            redirects: &self.out.redirects,
            target: self.target,
            workers: self.workers,
            index: self.index,
        };
        if msg.is_request() {
            if let Some(dev) = view.device(k) {
                self.subs.on_subscribe(now, msg, source, &dev, &self.cfg);
            }
        } else {
            let mut ctx = Ctx {
                cfg: &self.cfg,
                devices: &|k| view.device(k),
                credentials: &mut self.out.credentials,
            };
            self.subs.on_response(now, msg, &mut ctx);
        }
        self.subs_actions();
        true
    }

    /// Fires the table's timer if `key` is its key; false otherwise.
    pub(super) fn subs_timer(&mut self, key: u32, now: Time) -> bool {
        if key != self.subs_key {
            return false;
        }
        let view = View {
            cams: &self.cams,
            io: &self.io,
            redirects: &self.out.redirects,
            target: self.target,
            workers: self.workers,
            index: self.index,
        };
        let mut ctx = Ctx {
            cfg: &self.cfg,
            devices: &|k| view.device(k),
            credentials: &mut self.out.credentials,
        };
        self.subs.on_timer(now, &mut ctx);
        self.subs_actions();
        true
    }

    /// Camera `slot` is rebooting (a TeleBoot): its subscriptions end with it.
    pub(super) fn subs_device_down(&mut self, slot: usize, now: Time) {
        let k = (slot * self.workers + self.index) as u32;
        if self.subs.device_down(now, k) {
            self.subs_actions();
        }
    }

    /// Books what the table's last call ended, sends what it wrote, and re-arms its timer.
    pub(super) fn subs_actions(&mut self) {
        for r in self.subs.records() {
            self.io.snap.record(r);
        }
        for t in self.subs.sends() {
            let k = t.device as usize;
            if k % self.workers != self.index {
                continue;
            }
            let from = k / self.workers;
            if from < self.cams.len() {
                self.io.transmit(from, t.to, self.subs.bytes(t));
            }
        }
        match self.subs.poll_timeout() {
            Some(t) => self.io.wheel.arm(self.subs_key, t),
            None => self.io.wheel.cancel(self.subs_key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_holds_three_subscriptions_per_camera_however_many_cameras() {
        let cfg = crate::camera::CameraConfig::new("34020000002000000001".parse().unwrap());
        for cameras in [1, 1_366, 20_000, 500_000] {
            let t = table(&cfg, (0, 1), cameras, cameras as u64);
            assert_eq!(t.capacity(), 3 * cameras);
            assert_eq!(t.active(), 0);
        }
    }
}
