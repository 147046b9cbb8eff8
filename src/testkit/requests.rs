//! The platform requests a [`Script`](super::Script) can send a device, by name: the queries
//! and controls a platform such as wvp sends, written with the crate's MANSCDP writers.
//!
//! Names: `Catalog`, `DeviceInfo`, `DeviceStatus`, `ConfigDownload` (BasicParam),
//! `ConfigDownload:all` (every block gbswarm knows), `RecordInfo` (channel 1, two hours from
//! 2026-11-23T00:00:00Z), the 2022 queries `HomePositionQuery`, `CruiseTrackListQuery`,
//! `CruiseTrackQuery` (track 0), `PTZPosition`, `SDCardStatus` (channel 1), and the
//! DeviceControls `DeviceControl:PTZCmd`, `:IFrameCmd`, `:DragZoom`, `:HomePosition`,
//! `:RecordCmd`, `:StopRecord` (channel 1), `:GuardCmd`, `:ResetGuard`, `:AlarmCmd`,
//! `:TeleBoot`, and `DeviceControl:DeviceConfig` (a DeviceConfig of BasicParam) (the
//! device). Channel 1 is the device's first channel for the script's
//! `channels` per device. Any other name is sent as a plain query of that CmdType.
//!
//! Test double only: it never decides when a request is sent.

use crate::gb::control::{self, Control};
use crate::gb::query2022::{self, Query2022};
use crate::gb::records::{self, RecordRange};
use crate::gb::{Charset, DeviceId, manscdp};

/// 2026-11-23T00:00:00Z, where scripted RecordInfo ranges start.
pub const RECORD_DAY: u32 = 1_795_392_000;

/// The control a `DeviceControl:` name sends.
fn control_named(name: &str) -> Option<Control> {
    Some(match name {
        "PTZCmd" => Control::Ptz,
        "IFrameCmd" => Control::IFrame,
        "DragZoom" => Control::DragZoom,
        "HomePosition" => Control::HomePosition,
        "RecordCmd" => Control::Record(true),
        "StopRecord" => Control::Record(false),
        "GuardCmd" => Control::Guard(true),
        "ResetGuard" => Control::Guard(false),
        "AlarmCmd" => Control::AlarmReset,
        "TeleBoot" => Control::TeleBoot,
        "DeviceConfig" => Control::Config,
        _ => return None,
    })
}

/// True if the device answers request `name` with a Response message (every query, and the
/// controls the standard answers: [`Control::needs_response`]).
pub fn is_answered(name: &str) -> bool {
    match name.strip_prefix("DeviceControl:") {
        Some(c) => control_named(c).is_some_and(Control::needs_response),
        None => true,
    }
}

/// True for the names that restart the device (sent once per device by a script).
pub fn is_reboot(name: &str) -> bool {
    name == "DeviceControl:TeleBoot"
}

/// Writes the body of request `name` (see the module docs) with `sn` for `device`, whose
/// channels number `channels`, into `body` (cleared first).
pub fn write_body(
    body: &mut Vec<u8>,
    charset: Charset,
    name: &str,
    sn: u32,
    device: &DeviceId,
    channels: u32,
) {
    let ch = device.channel(1, channels.max(1));
    if let Some(c) = name.strip_prefix("DeviceControl:").and_then(control_named) {
        let target = match c {
            Control::Guard(_) | Control::AlarmReset | Control::TeleBoot | Control::Config => device,
            _ => &ch,
        };
        control::write_control(body, charset, sn, target, c);
        return;
    }
    match name {
        "RecordInfo" => {
            let range = RecordRange {
                start: RECORD_DAY,
                end: RECORD_DAY + 7200,
            };
            records::write_record_query(body, charset, sn, &ch, range);
        }
        "ConfigDownload:all" => {
            manscdp::open_root(body, charset, b"Query", b"ConfigDownload", sn, device);
            manscdp::tag(
                body,
                b"ConfigType",
                b"BasicParam/VideoParamOpt/VideoParamAttribute/VideoRecordPlan/FrameMirror/OSDConfig",
            );
            manscdp::close_root(body, b"Query");
        }
        _ => match Query2022::from_cmd(name.as_bytes(), b"") {
            Some(q) => query2022::write_query(body, charset, sn, &ch, q),
            None => manscdp::write_query(body, charset, name.as_bytes(), sn, device),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::{Manscdp, Root};

    #[test]
    fn every_name_writes_its_request() {
        let dev: DeviceId = "34020000001320000001".parse().unwrap();
        let mut body = Vec::new();
        for (name, root, cmd) in [
            ("Catalog", Root::Query, "Catalog"),
            ("ConfigDownload:all", Root::Query, "ConfigDownload"),
            ("RecordInfo", Root::Query, "RecordInfo"),
            ("PTZPosition", Root::Query, "PTZPosition"),
            ("CruiseTrackQuery", Root::Query, "CruiseTrackQuery"),
            ("DeviceControl:TeleBoot", Root::Control, "DeviceControl"),
            ("DeviceControl:RecordCmd", Root::Control, "DeviceControl"),
        ] {
            write_body(&mut body, Charset::Gb2312, name, 7, &dev, 4);
            let m = Manscdp::parse(&body).unwrap();
            assert_eq!((m.root, m.cmd_type), (root, cmd.as_bytes()), "{name}");
        }
        write_body(&mut body, Charset::Gb2312, "RecordInfo", 7, &dev, 4);
        let m = Manscdp::parse(&body).unwrap();
        assert_eq!(m.device_id, Some(&dev.channel(1, 4).as_bytes()[..]));
        assert!(is_reboot("DeviceControl:TeleBoot") && !is_reboot("Catalog"));
        assert!(is_answered("RecordInfo") && is_answered("DeviceControl:GuardCmd"));
        assert!(!is_answered("DeviceControl:PTZCmd") && !is_answered("DeviceControl:TeleBoot"));
    }
}
