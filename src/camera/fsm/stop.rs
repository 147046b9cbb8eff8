//! How a camera stops: at the stop's schedule it unregisters if the registrar holds its
//! binding (online or not), letting what was already sent complete; at the end of the grace
//! period everything still in flight is abandoned at once. A TeleBoot goes down the same way
//! (`abandon_all`). Never touches a socket or a clock.

use super::{Camera, Phase, Purpose, STALE_RETRIED, STOPPING, Slot, device};
use crate::camera::{Env, Outcome};
use crate::clock::Time;

impl Camera {
    /// Stops the camera: unregisters if the registrar holds its binding, online or not (and
    /// configured to), then stops. `due` is when the host's stop schedule made this camera's
    /// stop due (its unregister's latency counts from there); `now` if it has none.
    pub fn handle_stop(&mut self, now: Time, due: Time, env: &mut Env<'_>) {
        if self.phase == Phase::Stopped || self.flags & STOPPING != 0 {
            return;
        }
        self.flags |= STOPPING;
        // A restart under way ends here: its unregister, if in flight, is the stop's.
        self.dev &= !device::REBOOTING;
        // A keepalive or answer already sent was sent before the unregister, so its response
        // comes first: it completes as usual; only what is still in flight when the camera
        // stops is abandoned. Nothing new starts.
        self.clear_queries(env);
        if self.reg.active && self.purpose == Purpose::Refresh {
            // A refresh already sent completes too: its success unregisters (the STOPPING
            // check after a 2xx), its failure leaves the camera stopped offline.
            return;
        }
        if self.reg.active {
            self.end(Slot::Reg, Outcome::Abandoned, now, env);
        } else if self.phase == Phase::Connecting {
            self.record_flow(now, Outcome::Abandoned, env);
        }
        // Every camera the registrar holds a binding of is unregistered, online or not (one
        // that went offline keeps its binding there until it expires).
        if self.holds_binding(now) && env.cfg.unregister_on_stop {
            // The unregister's latency counts from when the stop's schedule made it due.
            self.flow_due = due.min(now);
            self.flags &= !STALE_RETRIED;
            self.start_flow(Purpose::Unregister, now, env);
        } else {
            self.stop_finish(now, env);
        }
    }

    /// Gives up at once (the stop's grace period is over): every transaction still in flight
    /// is recorded as pending at stop, and the camera stops.
    pub fn handle_abort(&mut self, now: Time, env: &mut Env<'_>) {
        if self.phase == Phase::Stopped {
            return;
        }
        self.abandon_all(now, env);
        self.flags |= STOPPING;
        self.stop_finish(now, env);
    }

    /// Records every transaction in flight (and a connect under way) as abandoned and drops
    /// the queued queries: the camera stops or goes down at once.
    pub(super) fn abandon_all(&mut self, now: Time, env: &mut Env<'_>) {
        self.end_txns(
            &[Slot::Reg, Slot::Hb, Slot::Query],
            Outcome::Abandoned,
            now,
            env,
        );
        if self.phase == Phase::Connecting {
            self.record_flow(now, Outcome::Abandoned, env);
        }
        self.clear_queries(env);
    }
}
