//! Device control (GB/T 28181-2022 §A.2.3.1 `<Control><CmdType>DeviceControl</CmdType>`, §9.3)
//! and configuration (§A.2.3.2 `DeviceConfig`): which command a platform sent, whether the
//! standard asks the device for a Response message (§A.2.6.2, §A.2.6.8) after the MESSAGE's
//! 200, and that Response. A DeviceConfig (wvp's `deviceBasicConfigCmd` waits for its answer)
//! is always answered.
//!
//! Which commands get a Response: those whose outcome the platform waits for — RecordCmd,
//! GuardCmd, AlarmCmd and HomePosition (wvp's `recordCmd`, `guardCmd`, `alarmResetCmd` and
//! `homePositionCmd` wait for one, matched by SN); PTZCmd, DragZoom and IFrameCmd take
//! effect without one (wvp sends them fire-and-forget), and TeleBoot gets none because the
//! device restarts (it unregisters and registers again).
//!
//! It only classifies and writes: never acts on a command, keeps no state.

use super::id::DeviceId;
use super::manscdp::{close_root, element, open_root, tag};
use super::version::Charset;

/// One device control command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// `PTZCmd`: pan, tilt, zoom, focus, iris, presets, cruises (the 8-byte hex command).
    Ptz,
    /// `TeleBoot` `Boot`: restart.
    TeleBoot,
    /// `RecordCmd` `Record` (true) or `StopRecord`.
    Record(bool),
    /// `GuardCmd` `SetGuard` (true) or `ResetGuard`.
    Guard(bool),
    /// `AlarmCmd` `ResetAlarm`.
    AlarmReset,
    /// `IFrameCmd` `Send` (wvp writes the element `IFameCmd`; both are read).
    IFrame,
    /// `DragZoomIn` / `DragZoomOut`.
    DragZoom,
    /// `HomePosition`: set the guard position.
    HomePosition,
    /// A `DeviceConfig` (its own CmdType, not a DeviceControl): BasicParam and the like.
    Config,
}

impl Control {
    /// How many kinds [`index`](Self::index) tells apart.
    pub const KINDS: usize = 9;

    /// Stable lowercase names, by [`index`](Self::index), for reports.
    pub const NAMES: [&'static str; Self::KINDS] = [
        "ptz",
        "tele_boot",
        "record",
        "guard",
        "alarm_reset",
        "i_frame",
        "drag_zoom",
        "home_position",
        "device_config",
    ];

    /// Which command a `<Control>` body with CmdType `cmd` carries: `DeviceConfig` is
    /// [`Control::Config`], a `DeviceControl` is read by [`parse`](Self::parse); None for
    /// anything else.
    pub fn from_cmd(cmd: &[u8], body: &[u8]) -> Option<Control> {
        match cmd {
            b"DeviceConfig" => Some(Control::Config),
            b"DeviceControl" => Self::parse(body),
            _ => None,
        }
    }

    /// Which command a DeviceControl body carries; None for none known (or a value that is
    /// none of the command's, such as `<RecordCmd>Later</RecordCmd>`).
    pub fn parse(body: &[u8]) -> Option<Control> {
        if element(body, b"PTZCmd").is_some() {
            return Some(Control::Ptz);
        }
        if element(body, b"TeleBoot").is_some() {
            return Some(Control::TeleBoot);
        }
        if let Some(v) = element(body, b"RecordCmd") {
            return match v {
                b"Record" => Some(Control::Record(true)),
                b"StopRecord" => Some(Control::Record(false)),
                _ => None,
            };
        }
        if let Some(v) = element(body, b"GuardCmd") {
            return match v {
                b"SetGuard" => Some(Control::Guard(true)),
                b"ResetGuard" => Some(Control::Guard(false)),
                _ => None,
            };
        }
        if element(body, b"AlarmCmd").is_some() {
            return Some(Control::AlarmReset);
        }
        if element(body, b"IFrameCmd").is_some() || element(body, b"IFameCmd").is_some() {
            return Some(Control::IFrame);
        }
        if element(body, b"DragZoomIn").is_some() || element(body, b"DragZoomOut").is_some() {
            return Some(Control::DragZoom);
        }
        if element(body, b"HomePosition").is_some() {
            return Some(Control::HomePosition);
        }
        None
    }

    /// The command's kind, for counting (`Record(true)` and `Record(false)` are one kind).
    pub fn index(self) -> usize {
        match self {
            Control::Ptz => 0,
            Control::TeleBoot => 1,
            Control::Record(_) => 2,
            Control::Guard(_) => 3,
            Control::AlarmReset => 4,
            Control::IFrame => 5,
            Control::DragZoom => 6,
            Control::HomePosition => 7,
            Control::Config => 8,
        }
    }

    /// True if the device answers with a DeviceControl Response message after the 200.
    pub fn needs_response(self) -> bool {
        matches!(
            self,
            Control::Record(_)
                | Control::Guard(_)
                | Control::AlarmReset
                | Control::HomePosition
                | Control::Config
        )
    }

    /// The CmdType of the command and of its Response.
    pub fn cmd(self) -> &'static [u8] {
        if self == Control::Config {
            b"DeviceConfig"
        } else {
            b"DeviceControl"
        }
    }

    /// The element and value a platform writes for this command (for test platforms).
    pub fn element(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Control::Ptz => (b"PTZCmd", b"A50F010800FA00B7"),
            Control::TeleBoot => (b"TeleBoot", b"Boot"),
            Control::Record(true) => (b"RecordCmd", b"Record"),
            Control::Record(false) => (b"RecordCmd", b"StopRecord"),
            Control::Guard(true) => (b"GuardCmd", b"SetGuard"),
            Control::Guard(false) => (b"GuardCmd", b"ResetGuard"),
            Control::AlarmReset => (b"AlarmCmd", b"ResetAlarm"),
            Control::IFrame => (b"IFrameCmd", b"Send"),
            Control::DragZoom => (b"DragZoomIn", b"<Length>1920</Length><Width>1080</Width><MidPointX>960</MidPointX><MidPointY>540</MidPointY><LengthX>100</LengthX><LengthY>100</LengthY>"),
            Control::HomePosition => (b"HomePosition", b"<Enabled>1</Enabled><ResetTime>300</ResetTime><PresetIndex>1</PresetIndex>"),
            Control::Config => (b"BasicParam", b"<Name>gate</Name><Expiration>3600</Expiration><HeartBeatInterval>60</HeartBeatInterval><HeartBeatCount>3</HeartBeatCount>"),
        }
    }
}

/// Writes a DeviceControl (or DeviceConfig) command as a platform sends it to `target`.
pub fn write_control(out: &mut Vec<u8>, charset: Charset, sn: u32, target: &DeviceId, c: Control) {
    open_root(out, charset, b"Control", c.cmd(), sn, target);
    let (name, value) = c.element();
    tag(out, name, value);
    if c == Control::AlarmReset {
        out.extend_from_slice(b"<Info>\r\n<AlarmMethod>2</AlarmMethod>\r\n</Info>\r\n");
    }
    close_root(out, b"Control");
}

/// Writes the Response to control `c` for `target` (§A.2.6.2 DeviceControl, §A.2.6.8
/// DeviceConfig): `Result` OK or ERROR.
pub fn write_control_response(
    out: &mut Vec<u8>,
    charset: Charset,
    sn: u32,
    target: &DeviceId,
    c: Control,
    ok: bool,
) {
    open_root(out, charset, b"Response", c.cmd(), sn, target);
    tag(out, b"Result", if ok { b"OK" } else { b"ERROR" });
    close_root(out, b"Response");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::{Manscdp, Root};

    #[test]
    fn every_command_reads_back_what_a_platform_writes() {
        let dev: DeviceId = "34020000001320000001".parse().unwrap();
        let all = [
            Control::Ptz,
            Control::TeleBoot,
            Control::Record(true),
            Control::Record(false),
            Control::Guard(true),
            Control::Guard(false),
            Control::AlarmReset,
            Control::IFrame,
            Control::DragZoom,
            Control::HomePosition,
            Control::Config,
        ];
        let mut out = Vec::new();
        for c in all {
            write_control(&mut out, Charset::Gb2312, 3, &dev, c);
            let m = Manscdp::parse(&out).unwrap();
            assert_eq!((m.root, m.cmd_type), (Root::Control, c.cmd()));
            assert_eq!(Control::from_cmd(m.cmd_type, &out), Some(c));
            assert!(c.index() < Control::KINDS);
        }
        let wvp = b"<Control><CmdType>DeviceControl</CmdType><SN>1</SN><DeviceID>1</DeviceID><IFameCmd>Send</IFameCmd></Control>";
        assert_eq!(Control::parse(wvp), Some(Control::IFrame));
        assert_eq!(
            Control::parse(b"<Control><RecordCmd>x</RecordCmd></Control>"),
            None
        );
        assert_eq!(
            Control::parse(b"<Control><CmdType>DeviceControl</CmdType></Control>"),
            None
        );
        let answered: Vec<_> = all.iter().filter(|c| c.needs_response()).collect();
        assert_eq!(answered.len(), 7);
        assert_eq!(Control::from_cmd(b"Catalog", b""), None);
        assert!(!Control::TeleBoot.needs_response() && !Control::Ptz.needs_response());
    }

    #[test]
    fn response_says_the_result() {
        let dev: DeviceId = "34020000001310000001".parse().unwrap();
        let mut out = Vec::new();
        write_control_response(
            &mut out,
            Charset::Gb18030,
            9,
            &dev,
            Control::Guard(true),
            true,
        );
        let m = Manscdp::parse(&out).unwrap();
        assert_eq!(
            (m.root, m.cmd_type, m.sn),
            (Root::Response, &b"DeviceControl"[..], Some(9))
        );
        assert_eq!(element(&out, b"Result"), Some(&b"OK"[..]));
        write_control_response(&mut out, Charset::Gb18030, 9, &dev, Control::Config, false);
        assert_eq!(Manscdp::parse(&out).unwrap().cmd_type, b"DeviceConfig");
        assert_eq!(element(&out, b"Result"), Some(&b"ERROR"[..]));
    }
}
