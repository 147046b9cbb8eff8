//! What a device says about itself (GB/T 28181-2022 §A.2.6.5, §A.2.6.6, §A.2.6.9): the
//! DeviceInfo, DeviceStatus and ConfigDownload answers, and the reader of a ConfigDownload
//! query's `ConfigType` list.
//!
//! The writers take the facts as arguments (which device or channel, on line or not,
//! recording or not, each channel's guard state): this file never decides them, keeps no
//! state, and writes into the caller's reused buffer.

use super::id::DeviceId;
use super::manscdp::{close_root, element, open_root, tag, tag_u64};
use super::version::Charset;

/// A channel's guard (布防) state in DeviceStatus' `Alarmstatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duty {
    /// Guarded (after `GuardCmd` `SetGuard`).
    OnDuty,
    /// Not guarded (the default; after `ResetGuard`).
    OffDuty,
}

/// Writes a DeviceInfo answer for `target` (the device or one of its channels):
/// `device_type` (`IPC`, `NVR`, ...), its model and its number of channels.
pub fn write_device_info(
    out: &mut Vec<u8>,
    charset: Charset,
    sn: u32,
    target: &DeviceId,
    device_type: &[u8],
    model: &[u8],
    channels: u32,
) {
    open_root(out, charset, b"Response", b"DeviceInfo", sn, target);
    out.extend_from_slice(b"<DeviceName>gbswarm ");
    out.extend_from_slice(device_type);
    out.extend_from_slice(b"</DeviceName>\r\n");
    tag(out, b"Result", b"OK");
    tag(out, b"DeviceType", device_type);
    tag(out, b"Manufacturer", b"gbswarm");
    tag(out, b"Model", model);
    tag(out, b"Firmware", env!("CARGO_PKG_VERSION").as_bytes());
    tag_u64(out, b"Channel", u64::from(channels));
    close_root(out, b"Response");
}

/// The state a DeviceStatus answer reports.
#[derive(Clone, Copy, Debug)]
pub struct Status<'a> {
    /// The target is on line (a channel may be off line while its device answers).
    pub online: bool,
    /// Recording (after `RecordCmd` `Record`).
    pub recording: bool,
    /// `YYYY-MM-DDThh:mm:ss` on the device's clock.
    pub device_time: &'a [u8],
}

/// Writes a DeviceStatus answer for `target` with `duty` listing channels' guard states
/// in `Alarmstatus`.
pub fn write_device_status(
    out: &mut Vec<u8>,
    charset: Charset,
    sn: u32,
    target: &DeviceId,
    st: &Status<'_>,
    duty: impl ExactSizeIterator<Item = (DeviceId, Duty)>,
) {
    open_root(out, charset, b"Response", b"DeviceStatus", sn, target);
    tag(out, b"Result", b"OK");
    tag(
        out,
        b"Online",
        if st.online { b"ONLINE" } else { b"OFFLINE" },
    );
    tag(out, b"Status", if st.online { b"OK" } else { b"ERROR" });
    tag(out, b"Encode", if st.online { b"ON" } else { b"OFF" });
    tag(out, b"Record", if st.recording { b"ON" } else { b"OFF" });
    tag(out, b"DeviceTime", st.device_time);
    out.extend_from_slice(b"<Alarmstatus Num=\"");
    crate::sip::write::push_u64(out, duty.len() as u64);
    out.extend_from_slice(b"\">\r\n");
    for (id, d) in duty {
        out.extend_from_slice(b"<Item>\r\n");
        tag(out, b"DeviceID", id.as_bytes());
        let s: &[u8] = match d {
            Duty::OnDuty => b"ONDUTY",
            Duty::OffDuty => b"OFFDUTY",
        };
        tag(out, b"DutyStatus", s);
        out.extend_from_slice(b"</Item>\r\n");
    }
    out.extend_from_slice(b"</Alarmstatus>\r\n");
    close_root(out, b"Response");
}

/// The configuration blocks a ConfigDownload asks for (`ConfigType`, `/`-separated names),
/// as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfigTypes(pub u8);

impl ConfigTypes {
    /// `BasicParam`: name, IDs, registration expiry and heartbeat.
    pub const BASIC: u8 = 1;
    /// `VideoParamOpt`: download speeds and resolutions offered.
    pub const VIDEO_OPT: u8 = 2;
    /// `VideoParamAttribute` (2022): each stream's format, resolution, rate and bit rate.
    pub const VIDEO_ATTR: u8 = 4;
    /// `VideoRecordPlan` (2022): the recording schedule.
    pub const RECORD_PLAN: u8 = 8;
    /// `FrameMirror` (2022): picture mirroring.
    pub const FRAME_MIRROR: u8 = 16;
    /// `OSDConfig` (2022): on-screen text.
    pub const OSD: u8 = 32;
    /// `SVACEncodeConfig`/`SVACDecodeConfig` (answered as not supported: no block).
    pub const SVAC: u8 = 64;

    const NAMES: [(&'static [u8], u8); 8] = [
        (b"BasicParam", Self::BASIC),
        (b"VideoParamOpt", Self::VIDEO_OPT),
        (b"VideoParamAttribute", Self::VIDEO_ATTR),
        (b"VideoRecordPlan", Self::RECORD_PLAN),
        (b"FrameMirror", Self::FRAME_MIRROR),
        (b"OSDConfig", Self::OSD),
        (b"SVACEncodeConfig", Self::SVAC),
        (b"SVACDecodeConfig", Self::SVAC),
    ];

    /// Reads a ConfigDownload query's `ConfigType`; unknown names are skipped, and a query
    /// with none known (or no `ConfigType`) asks for `BasicParam`, as wvp's does.
    pub fn parse(body: &[u8]) -> ConfigTypes {
        let mut bits = 0;
        if let Some(list) = element(body, b"ConfigType") {
            for name in list.split(|&b| b == b'/') {
                let name = crate::sip::bytes::trim(name);
                if let Some(&(_, b)) = Self::NAMES.iter().find(|(n, _)| *n == name) {
                    bits |= b;
                }
            }
        }
        ConfigTypes(if bits == 0 { Self::BASIC } else { bits })
    }

    /// True if `bit` is asked for.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// The values of a device's `BasicParam` block.
#[derive(Clone, Copy, Debug)]
pub struct BasicParam<'a> {
    /// The SIP server it registers with.
    pub server_id: &'a DeviceId,
    /// The SIP domain.
    pub domain: &'a [u8],
    /// Registration expiry, seconds.
    pub expires: u32,
    /// Keepalive interval, seconds.
    pub heartbeat_interval: u32,
    /// Missed keepalives before the server counts the device off line.
    pub heartbeat_count: u32,
}

/// Writes a ConfigDownload answer for `target` with the blocks `types` asks for.
pub fn write_config_download(
    out: &mut Vec<u8>,
    charset: Charset,
    sn: u32,
    target: &DeviceId,
    types: ConfigTypes,
    basic: &BasicParam<'_>,
) {
    open_root(out, charset, b"Response", b"ConfigDownload", sn, target);
    tag(out, b"Result", b"OK");
    if types.has(ConfigTypes::BASIC) {
        out.extend_from_slice(b"<BasicParam>\r\n");
        tag(out, b"Name", b"gbswarm camera");
        tag(out, b"DeviceID", target.as_bytes());
        tag(out, b"SIPServerID", basic.server_id.as_bytes());
        tag(out, b"DomainName", basic.domain);
        tag_u64(out, b"Expiration", u64::from(basic.expires));
        tag_u64(
            out,
            b"HeartBeatInterval",
            u64::from(basic.heartbeat_interval),
        );
        tag_u64(out, b"HeartBeatCount", u64::from(basic.heartbeat_count));
        tag(out, b"PositionCapability", b"0");
        out.extend_from_slice(b"</BasicParam>\r\n");
    }
    if types.has(ConfigTypes::VIDEO_OPT) {
        // Download speeds 1x/2x/4x; resolutions 1080P (6), D1 (4), 4CIF (3) (§A.2.6.9).
        out.extend_from_slice(b"<VideoParamOpt>\r\n");
        tag(out, b"DownloadSpeed", b"1/2/4");
        tag(out, b"Resolution", b"6/4/3");
        out.extend_from_slice(b"</VideoParamOpt>\r\n");
    }
    if types.has(ConfigTypes::VIDEO_ATTR) {
        // A main stream (H.264 1080P 25 fps 4 Mbit/s CBR) and a sub-stream (D1 2 Mbit/s).
        out.extend_from_slice(b"<VideoParamAttribute Num=\"2\">\r\n");
        for (n, res, rate) in [(b"0", b"6", b"4096"), (b"1", b"4", b"2048")] {
            out.extend_from_slice(b"<Item>\r\n");
            tag(out, b"StreamNumber", n);
            tag(out, b"VideoFormat", b"2");
            tag(out, b"Resolution", res);
            tag(out, b"FrameRate", b"25");
            tag(out, b"BitRateType", b"1");
            tag(out, b"VideoBitRate", rate);
            out.extend_from_slice(b"</Item>\r\n");
        }
        out.extend_from_slice(b"</VideoParamAttribute>\r\n");
    }
    if types.has(ConfigTypes::RECORD_PLAN) {
        // Recording all day, every day, on the main stream.
        out.extend_from_slice(b"<VideoRecordPlan>\r\n");
        tag(out, b"RecordEnable", b"1");
        tag(out, b"RecordScheduleSumNum", b"7");
        for day in 1..=7u64 {
            out.extend_from_slice(b"<RecordSchedule>\r\n");
            tag_u64(out, b"WeekDayNum", day);
            tag(out, b"TimeSegmentSumNum", b"1");
            out.extend_from_slice(b"<TimeSegment>\r\n");
            for (name, v) in [
                (&b"StartHour"[..], 0u64),
                (b"StartMin", 0),
                (b"StartSec", 0),
                (b"StopHour", 23),
                (b"StopMin", 59),
                (b"StopSec", 59),
            ] {
                tag_u64(out, name, v);
            }
            out.extend_from_slice(b"</TimeSegment>\r\n</RecordSchedule>\r\n");
        }
        tag(out, b"StreamNumber", b"0");
        out.extend_from_slice(b"</VideoRecordPlan>\r\n");
    }
    if types.has(ConfigTypes::FRAME_MIRROR) {
        tag(out, b"FrameMirror", b"0");
    }
    if types.has(ConfigTypes::OSD) {
        out.extend_from_slice(b"<OSDConfig>\r\n");
        for (name, v) in [
            (&b"Length"[..], &b"1920"[..]),
            (b"Width", b"1080"),
            (b"TimeX", b"10"),
            (b"TimeY", b"10"),
            (b"TimeEnable", b"1"),
            (b"TimeType", b"1"),
            (b"TextEnable", b"0"),
            (b"SumNum", b"0"),
        ] {
            tag(out, name, v);
        }
        out.extend_from_slice(b"</OSDConfig>\r\n");
    }
    close_root(out, b"Response");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::Manscdp;

    fn id(s: &str) -> DeviceId {
        s.parse().unwrap()
    }

    #[test]
    fn info_and_status_say_what_they_are_given() {
        let dev = id("34020000001180000003");
        let mut out = Vec::new();
        write_device_info(&mut out, Charset::Gb2312, 1, &dev, b"NVR", b"NVR-sim", 16);
        assert_eq!(Manscdp::parse(&out).unwrap().cmd_type, b"DeviceInfo");
        assert_eq!(element(&out, b"DeviceType"), Some(&b"NVR"[..]));
        assert_eq!(element(&out, b"Channel"), Some(&b"16"[..]));
        let st = Status {
            online: false,
            recording: true,
            device_time: b"2026-11-24T10:00:00",
        };
        let duty = (1..3).map(|i| (dev.channel(i, 2), Duty::OnDuty));
        write_device_status(&mut out, Charset::Gb2312, 2, &dev, &st, duty);
        assert_eq!(element(&out, b"Online"), Some(&b"OFFLINE"[..]));
        assert_eq!(element(&out, b"Record"), Some(&b"ON"[..]));
        assert!(s(&out).contains("<Alarmstatus Num=\"2\">"));
        assert_eq!(element(&out, b"DutyStatus"), Some(&b"ONDUTY"[..]));
    }

    fn s(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn config_types_are_read_from_the_list() {
        let q = |t: &str| {
            ConfigTypes::parse(format!("<Query><ConfigType>{t}</ConfigType></Query>").as_bytes())
        };
        assert_eq!(q("BasicParam"), ConfigTypes(ConfigTypes::BASIC));
        assert_eq!(
            q("VideoParamOpt/ OSDConfig /Nonsense"),
            ConfigTypes(ConfigTypes::VIDEO_OPT | ConfigTypes::OSD)
        );
        assert_eq!(q(""), ConfigTypes(ConfigTypes::BASIC));
        assert_eq!(
            ConfigTypes::parse(b"<Query/>"),
            ConfigTypes(ConfigTypes::BASIC)
        );
    }

    #[test]
    fn config_download_writes_each_asked_block() {
        let dev = id("34020000001320000003");
        let server = id("34020000002000000001");
        let basic = BasicParam {
            server_id: &server,
            domain: b"3402000000",
            expires: 3600,
            heartbeat_interval: 60,
            heartbeat_count: 3,
        };
        let mut out = Vec::new();
        let all = ConfigTypes(0x7f);
        write_config_download(&mut out, Charset::Gb18030, 3, &dev, all, &basic);
        let text = s(&out);
        assert_eq!(element(&out, b"SIPServerID"), Some(&server.as_bytes()[..]));
        assert_eq!(element(&out, b"HeartBeatInterval"), Some(&b"60"[..]));
        for block in [
            "VideoParamOpt",
            "VideoParamAttribute",
            "VideoRecordPlan",
            "OSDConfig",
        ] {
            assert!(text.contains(&format!("</{block}>")), "{block}");
        }
        assert_eq!(text.matches("<RecordSchedule>").count(), 7);
        let only = ConfigTypes(ConfigTypes::VIDEO_OPT);
        write_config_download(&mut out, Charset::Gb18030, 4, &dev, only, &basic);
        assert!(element(&out, b"BasicParam").is_none());
        assert_eq!(element(&out, b"Resolution"), Some(&b"6/4/3"[..]));
    }
}
