//! The MANSCDP bodies of a device's NOTIFYs and alarm MESSAGEs (root `<Notify>`), and the
//! device's moving position.
//!
//! - Catalog: `SumNum` and a `DeviceList` of channel items, each with its `Status` and the
//!   `Event` that reports it (`ADD` for the state sent after a SUBSCRIBE; `ON`, `OFF`, `VLOST`
//!   or `DEFECT` for a change; the 2022 event names, which 2016 shares).
//! - MobilePosition: 2016's flat form (`Time`, `Longitude`, `Latitude`, `Speed`, `Direction`,
//!   `Altitude` under the root) or the 2022 list form (`SumNum` and an `ItemList` of items
//!   holding the same fields and the channel's `DeviceID`).
//! - Alarm: priority, method, time, description, position and `Info/AlarmType`.
//!
//! Writes into reused buffers; never allocates once they are warm, never reads a clock.

use crate::clock::Time;
use crate::gb::manscdp::{ChannelItem, open_root, tag, tag_with, write_channel_list};
use crate::gb::time::write_datetime;
use crate::gb::{Charset, DeviceId};
use crate::sip::write::push_u64;
use std::io::Write as _;

fn open(out: &mut Vec<u8>, charset: Charset, cmd: &[u8], sn: u32, device: &DeviceId) {
    open_root(out, charset, b"Notify", cmd, sn, device);
}

/// Writes a NOTIFY body of `cmd` with nothing but its root, SN and DeviceID (an Alarm
/// subscription's state: no alarm).
pub(super) fn write_bare(
    out: &mut Vec<u8>,
    charset: Charset,
    cmd: &[u8],
    sn: u32,
    device: &DeviceId,
) {
    open(out, charset, cmd, sn, device);
    out.extend_from_slice(b"</Notify>\r\n");
}

/// A channel in a Catalog NOTIFY: its number (for its name), ID, status, and the event.
pub(super) struct CatalogItem {
    pub number: u32,
    pub id: DeviceId,
    pub online: bool,
    pub event: &'static [u8],
}

/// Writes a Catalog NOTIFY of `sum_num` channels holding `items` (a page of them).
pub(super) fn write_catalog(
    out: &mut Vec<u8>,
    (charset, name): (Charset, &str),
    sn: u32,
    device: &DeviceId,
    sum_num: u32,
    items: impl ExactSizeIterator<Item = CatalogItem>,
) {
    let items = items.map(|it| ChannelItem {
        number: it.number,
        id: it.id,
        online: it.online,
        event: Some(it.event),
    });
    write_channel_list(out, (b"Notify", charset, name), sn, device, sum_num, items);
}

/// Where a device is and how it moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    /// Degrees east.
    pub longitude: f64,
    /// Degrees north.
    pub latitude: f64,
    /// km/h.
    pub speed: f64,
    /// Heading, degrees clockwise from north.
    pub direction: f64,
    /// Metres.
    pub altitude: f64,
}

/// Seconds a device takes to go once round its circle.
pub const LAP_SECS: f64 = 600.0;
/// The circle's radius in metres.
pub const RADIUS_M: f64 = 200.0;
const METRES_PER_DEGREE: f64 = 111_320.0;

/// Device `index`'s position at host time `now`: it drives anticlockwise round a circle of
/// [`RADIUS_M`] once every [`LAP_SECS`], centred on a point of its own near Beijing (spread
/// on a grid by index), starting at an angle of its own; speed and heading follow the motion.
pub fn position(index: u32, now: Time) -> Position {
    let (col, row) = (f64::from(index % 1000), f64::from((index / 1000) % 1000));
    let (lon0, lat0) = (116.0 + col * 0.01, 39.5 + row * 0.01);
    let start = f64::from(index.wrapping_mul(0x9e37_79b9) >> 8) / f64::from(1u32 << 24);
    let turns = now.as_micros() as f64 / 1e6 / LAP_SECS + start;
    let theta = std::f64::consts::TAU * turns.fract();
    let r = RADIUS_M / METRES_PER_DEGREE;
    let latitude = lat0 + r * theta.sin();
    let longitude = lon0 + r * theta.cos() / lat0.to_radians().cos();
    // Anticlockwise: the heading is the radius's angle turned a quarter left, as a bearing.
    let direction = (360.0 - theta.to_degrees()).rem_euclid(360.0);
    let speed = std::f64::consts::TAU * RADIUS_M / LAP_SECS * 3.6;
    Position {
        longitude,
        latitude,
        speed,
        direction,
        altitude: 50.0,
    }
}

fn position_fields(out: &mut Vec<u8>, unix_ms: u64, p: &Position) {
    tag_with(out, b"Time", |o| write_datetime(o, unix_ms, false));
    tag_with(out, b"Longitude", |o| {
        let _ = write!(o, "{:.6}", p.longitude);
    });
    tag_with(out, b"Latitude", |o| {
        let _ = write!(o, "{:.6}", p.latitude);
    });
    tag_with(out, b"Speed", |o| {
        let _ = write!(o, "{:.1}", p.speed);
    });
    tag_with(out, b"Direction", |o| {
        let _ = write!(o, "{:.1}", p.direction);
    });
    tag_with(out, b"Altitude", |o| {
        let _ = write!(o, "{:.1}", p.altitude);
    });
}

/// Writes a MobilePosition NOTIFY of `device` at `p`, observed at `unix_ms`: the 2016 flat
/// form, or with `list` the 2022 list form (one item, for `channel`).
pub(super) fn write_position(
    out: &mut Vec<u8>,
    (charset, list): (Charset, bool),
    sn: u32,
    (device, channel): (&DeviceId, &DeviceId),
    unix_ms: u64,
    p: &Position,
) {
    open(out, charset, b"MobilePosition", sn, device);
    if list {
        tag(out, b"SumNum", b"1");
        out.extend_from_slice(b"<ItemList Num=\"1\">\r\n<Item>\r\n");
        tag(out, b"DeviceID", channel.as_bytes());
        position_fields(out, unix_ms, p);
        out.extend_from_slice(b"</Item>\r\n</ItemList>\r\n");
    } else {
        position_fields(out, unix_ms, p);
    }
    out.extend_from_slice(b"</Notify>\r\n");
}

/// Writes alarm number `sn` of `device`, raised by `source` (a channel, or the device) at
/// `unix_ms` where it stands (`p`): priority 1 to 4 and the video alarm method (5), motion
/// detection (type 2), in turn by `sn`.
pub(super) fn write_alarm(
    out: &mut Vec<u8>,
    charset: Charset,
    sn: u32,
    source: &DeviceId,
    unix_ms: u64,
    p: &Position,
) {
    open(out, charset, b"Alarm", sn, source);
    tag_with(out, b"AlarmPriority", |o| {
        push_u64(o, u64::from(1 + sn % 4))
    });
    tag(out, b"AlarmMethod", b"5");
    tag_with(out, b"AlarmTime", |o| write_datetime(o, unix_ms, false));
    tag(out, b"AlarmDescription", b"gbswarm motion alarm");
    tag_with(out, b"Longitude", |o| {
        let _ = write!(o, "{:.6}", p.longitude);
    });
    tag_with(out, b"Latitude", |o| {
        let _ = write!(o, "{:.6}", p.latitude);
    });
    out.extend_from_slice(b"<Info>\r\n");
    tag(out, b"AlarmType", b"2");
    out.extend_from_slice(b"</Info>\r\n</Notify>\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Span;
    use crate::gb::manscdp::{Manscdp, Root, element};

    fn dev() -> DeviceId {
        "34020000001320000003".parse().unwrap()
    }

    #[test]
    fn the_position_moves_round_a_circle_at_a_steady_speed() {
        let a = position(7, Time::ZERO);
        let b = position(7, Time::ZERO + Span::from_secs(5));
        let c = position(7, Time::ZERO + Span::from_secs(600));
        assert_ne!((a.longitude, a.latitude), (b.longitude, b.latitude));
        // A lap later it is back where it was.
        assert!((a.longitude - c.longitude).abs() < 1e-9 && (a.latitude - c.latitude).abs() < 1e-9);
        // 5 s at the speed, in metres, is about the distance covered.
        let dy = (b.latitude - a.latitude) * METRES_PER_DEGREE;
        let dx = (b.longitude - a.longitude) * METRES_PER_DEGREE * 39.5f64.to_radians().cos();
        let moved = (dx * dx + dy * dy).sqrt();
        assert!(
            (moved - a.speed / 3.6 * 5.0).abs() < 1.0,
            "{moved} vs {}",
            a.speed
        );
        assert!((0.0..360.0).contains(&a.direction));
        assert_ne!(position(8, Time::ZERO), a);
    }

    #[test]
    fn bodies_parse_with_their_fields() {
        let mut out = Vec::new();
        let p = position(1, Time::ZERO);
        write_position(
            &mut out,
            (Charset::Gb2312, false),
            3,
            (&dev(), &dev()),
            0,
            &p,
        );
        let m = Manscdp::parse(&out).unwrap();
        assert_eq!(
            (m.root, m.cmd_type, m.sn),
            (Root::Notify, &b"MobilePosition"[..], Some(3))
        );
        assert_eq!(element(&out, b"Time"), Some(&b"1970-01-01T00:00:00"[..]));
        assert!(element(&out, b"ItemList").is_none());
        write_position(
            &mut out,
            (Charset::Gb18030, true),
            4,
            (&dev(), &dev()),
            0,
            &p,
        );
        assert!(out.windows(20).any(|w| w == b"<ItemList Num=\"1\">\r\n"));
        assert!(element(element(&out, b"Item").unwrap(), b"Longitude").is_some());
        write_alarm(&mut out, Charset::Gb2312, 6, &dev(), 0, &p);
        let m = Manscdp::parse(&out).unwrap();
        assert_eq!((m.cmd_type, m.sn), (&b"Alarm"[..], Some(6)));
        assert_eq!(element(&out, b"AlarmPriority"), Some(&b"3"[..]));
        assert_eq!(element(&out, b"AlarmType"), Some(&b"2"[..]));
        let items = [CatalogItem {
            number: 2,
            id: dev().channel(2, 4),
            online: false,
            event: b"OFF",
        }];
        write_catalog(
            &mut out,
            (Charset::Gb2312, "Camera"),
            9,
            &dev(),
            1,
            items.into_iter(),
        );
        assert_eq!(element(&out, b"Status"), Some(&b"OFF"[..]));
        assert_eq!(element(&out, b"Event"), Some(&b"OFF"[..]));
        assert_eq!(element(&out, b"Name"), Some(&b"Camera 2"[..]));
        assert!(out.windows(18).any(|w| w == b"<DeviceList Num=\"1"));
    }
}
