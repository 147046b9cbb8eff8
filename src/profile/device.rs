//! The settings of what a device is and does beyond registering (`--channels`, Catalog
//! paging and names, the GB/T 28181 edition, channel flaps, alarms, recordings, TeleBoot's
//! delay), checked and written into the fleet's [`CameraConfig`]. Never reads a file or the
//! clock.

use super::{PlanError, Profile, bad};
use crate::camera::CameraConfig;

impl Profile {
    /// Checks the device-behaviour keys and sets them in `camera`, whose `run_id` is set
    /// (the flaps are seeded with it); the first problem is returned.
    pub(super) fn device_behaviour(&self, camera: &mut CameraConfig) -> Result<(), PlanError> {
        camera.reboot_delay_ms = self.reboot_delay.map_or(10_000, |s| s.0.as_millis() as u64);
        let segment = self.record_segment.map_or(1800, |s| s.0.as_secs());
        if segment < 1 {
            return bad("record-segment", "must be at least 1 s");
        }
        camera.record_segment_s =
            u32::try_from(segment).or_else(|_| bad("record-segment", "too large"))?;
        camera.channels = self.channels.unwrap_or(1);
        if let Some(name) = &self.channel_name {
            if name.trim().is_empty()
                || name.chars().count() > 64
                || name.chars().any(char::is_control)
            {
                return bad(
                    "channel-name",
                    format!(
                        "`{name}` is not a channel name: 1 to 64 characters, no control characters"
                    ),
                );
            }
            camera.channel_name = name.clone();
        }
        if let Some(year) = self.gb_version {
            camera.gb_version =
                crate::gb::GbVersion::parse(&year.to_string()).ok_or_else(|| PlanError {
                    key: "gb-version".into(),
                    message: format!("{year} is not a GB/T 28181 edition (use 2016 or 2022)"),
                })?;
        }
        camera.catalog_page = self.catalog_page.unwrap_or(20);
        if camera.catalog_page == 0 {
            return bad("catalog-page", "must be at least 1");
        }
        let flap = self.channel_flap_rate.unwrap_or(0.0);
        if !(0.0..=3_600_000.0).contains(&flap) {
            return bad(
                "channel-flap-rate",
                "must be between 0 and 3600000 flaps per device an hour",
            );
        }
        let alarm_rate = self.alarm_rate.unwrap_or(0.0);
        if !(0.0..=3_600_000.0).contains(&alarm_rate) {
            return bad(
                "alarm-rate",
                format!("{alarm_rate} is not between 0 and 3600000 alarms per device an hour"),
            );
        }
        camera.alarms = crate::camera::subscribe::Alarms {
            period: crate::camera::subscribe::Alarms::period_of(alarm_rate),
            burst: match &self.alarm_burst {
                Some(text) => Some(crate::camera::subscribe::Burst::parse(text).map_err(
                    |message| PlanError {
                        key: "alarm-burst".into(),
                        message,
                    },
                )?),
                None => None,
            },
        };
        camera.channel_flap = crate::camera::channels::Flap::per_hour(flap, camera.run_id);
        Ok(())
    }
}
