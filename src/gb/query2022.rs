//! The queries GB/T 28181-2022 added (§A.2.4.10-14) and their answers (§A.2.6.12-16): guard
//! position (`HomePositionQuery`), cruise tracks (`CruiseTrackListQuery`, `CruiseTrackQuery`),
//! the precise PTZ state (`PTZPosition`) and the storage cards (`SDCardStatus`). The answer's
//! CmdType is the query's.
//!
//! The values are those of a plausible PTZ camera with one SD card: a guard position on
//! preset 1, two cruise tracks of three presets each, a PTZ position derived from the
//! target's ID (so channels differ and answers repeat). It never keeps state or reads a
//! clock; it writes into the caller's reused buffer.

use super::id::DeviceId;
use super::manscdp::{close_root, element, open_root, tag, tag_u64};
use super::version::Charset;
use crate::sip::bytes::parse_decimal;

/// One of the 2022 queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query2022 {
    /// `HomePositionQuery`.
    HomePosition,
    /// `CruiseTrackListQuery`.
    CruiseTrackList,
    /// `CruiseTrackQuery` with its `Number` (0: the first track).
    CruiseTrack(u8),
    /// `PTZPosition`.
    PtzPosition,
    /// `SDCardStatus`.
    SdCardStatus,
}

/// Cruise tracks a device reports.
const TRACKS: u8 = 2;

impl Query2022 {
    /// The query a `<Query>` body with CmdType `cmd` asks (`body` for CruiseTrackQuery's
    /// `Number`, 0 when absent or not a number).
    pub fn from_cmd(cmd: &[u8], body: &[u8]) -> Option<Query2022> {
        Some(match cmd {
            b"HomePositionQuery" => Query2022::HomePosition,
            b"CruiseTrackListQuery" => Query2022::CruiseTrackList,
            b"CruiseTrackQuery" => {
                let n = element(body, b"Number")
                    .and_then(parse_decimal)
                    .unwrap_or(0);
                Query2022::CruiseTrack(u8::try_from(n).unwrap_or(u8::MAX))
            }
            b"PTZPosition" => Query2022::PtzPosition,
            b"SDCardStatus" => Query2022::SdCardStatus,
            _ => return None,
        })
    }

    /// The CmdType of the query and of its answer.
    pub fn cmd(self) -> &'static [u8] {
        match self {
            Query2022::HomePosition => b"HomePositionQuery",
            Query2022::CruiseTrackList => b"CruiseTrackListQuery",
            Query2022::CruiseTrack(_) => b"CruiseTrackQuery",
            Query2022::PtzPosition => b"PTZPosition",
            Query2022::SdCardStatus => b"SDCardStatus",
        }
    }
}

/// Writes the answer to `q` for `target`.
pub fn write_answer(out: &mut Vec<u8>, charset: Charset, sn: u32, target: &DeviceId, q: Query2022) {
    open_root(out, charset, b"Response", q.cmd(), sn, target);
    match q {
        Query2022::HomePosition => {
            out.extend_from_slice(b"<HomePosition>\r\n");
            tag(out, b"Enabled", b"1");
            tag(out, b"ResetTime", b"300");
            tag(out, b"PresetIndex", b"1");
            out.extend_from_slice(b"</HomePosition>\r\n");
        }
        Query2022::CruiseTrackList => {
            tag(out, b"Result", b"OK");
            tag_u64(out, b"SumNum", u64::from(TRACKS));
            out.extend_from_slice(b"<CruiseTrackList Num=\"2\">\r\n");
            for n in 0..TRACKS {
                out.extend_from_slice(b"<CruiseTrack>\r\n");
                tag_u64(out, b"Number", u64::from(n));
                out.extend_from_slice(b"<Name>Track ");
                crate::sip::write::push_u64(out, u64::from(n) + 1);
                out.extend_from_slice(b"</Name>\r\n</CruiseTrack>\r\n");
            }
            out.extend_from_slice(b"</CruiseTrackList>\r\n");
        }
        Query2022::CruiseTrack(n) if n < TRACKS => {
            tag(out, b"Result", b"OK");
            tag_u64(out, b"Number", u64::from(n));
            out.extend_from_slice(b"<Name>Track ");
            crate::sip::write::push_u64(out, u64::from(n) + 1);
            out.extend_from_slice(b"</Name>\r\n");
            tag(out, b"SumNum", b"3");
            out.extend_from_slice(b"<CruisePointList Num=\"3\">\r\n");
            for p in 1..=3u64 {
                out.extend_from_slice(b"<CruisePoint>\r\n");
                tag_u64(out, b"PresetIndex", u64::from(n) * 3 + p);
                tag(out, b"StayTime", b"10");
                tag(out, b"Speed", b"5");
                out.extend_from_slice(b"</CruisePoint>\r\n");
            }
            out.extend_from_slice(b"</CruisePointList>\r\n");
        }
        Query2022::CruiseTrack(_) => {
            // No such track: the query fails.
            tag(out, b"Result", b"ERROR");
        }
        Query2022::PtzPosition => {
            let seed = target.number() as u64;
            tag(out, b"Result", b"OK");
            // Pan 0-360°, tilt -30-90°, zoom 1-30×: fixed per target.
            let pan = seed % 3600;
            write_tenths(out, b"Pan", pan as i64);
            write_tenths(out, b"Tilt", (seed / 3600 % 1200) as i64 - 300);
            tag_u64(out, b"Zoom", 1 + seed / 7 % 30);
            tag(out, b"HorizontalFieldAngle", b"56.8");
            tag(out, b"VerticalFieldAngle", b"33.4");
            tag(out, b"MaxViewDistance", b"150");
        }
        Query2022::SdCardStatus => {
            tag(out, b"Result", b"OK");
            tag(out, b"SumNum", b"1");
            out.extend_from_slice(b"<SDCardStatusInfo>\r\n<Item>\r\n");
            tag(out, b"ID", b"1");
            tag(out, b"HddName", b"SD Card 1");
            tag(out, b"Status", b"ok");
            tag(out, b"FormatProgress", b"0");
            tag(out, b"Capacity", b"65536");
            tag(out, b"FreeSpace", b"24576");
            out.extend_from_slice(b"</Item>\r\n</SDCardStatusInfo>\r\n");
        }
    }
    close_root(out, b"Response");
}

/// `<Tag>-12.3</Tag>` from tenths.
fn write_tenths(out: &mut Vec<u8>, name: &[u8], tenths: i64) {
    out.push(b'<');
    out.extend_from_slice(name);
    out.push(b'>');
    if tenths < 0 {
        out.push(b'-');
    }
    let v = tenths.unsigned_abs();
    crate::sip::write::push_u64(out, v / 10);
    out.push(b'.');
    crate::sip::write::push_u64(out, v % 10);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name);
    out.extend_from_slice(b">\r\n");
}

/// Writes a 2022 query as a platform sends it (CruiseTrackQuery with its `Number`).
pub fn write_query(out: &mut Vec<u8>, charset: Charset, sn: u32, target: &DeviceId, q: Query2022) {
    open_root(out, charset, b"Query", q.cmd(), sn, target);
    if let Query2022::CruiseTrack(n) = q {
        tag_u64(out, b"Number", u64::from(n));
    }
    close_root(out, b"Query");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::{Manscdp, Root};

    #[test]
    fn each_query_is_answered_under_its_own_cmd_type() {
        let ch: DeviceId = "34020000001310000001".parse().unwrap();
        let mut q = Vec::new();
        let mut a = Vec::new();
        for query in [
            Query2022::HomePosition,
            Query2022::CruiseTrackList,
            Query2022::CruiseTrack(1),
            Query2022::PtzPosition,
            Query2022::SdCardStatus,
        ] {
            write_query(&mut q, Charset::Gb18030, 4, &ch, query);
            let m = Manscdp::parse(&q).unwrap();
            assert_eq!(m.root, Root::Query);
            assert_eq!(Query2022::from_cmd(m.cmd_type, &q), Some(query));
            write_answer(&mut a, Charset::Gb18030, 4, &ch, query);
            let r = Manscdp::parse(&a).unwrap();
            assert_eq!(
                (r.root, r.cmd_type, r.sn),
                (Root::Response, query.cmd(), Some(4))
            );
            assert_eq!(r.device_id, Some(&ch.as_bytes()[..]));
        }
        write_answer(&mut a, Charset::Gb18030, 4, &ch, Query2022::PtzPosition);
        assert!(element(&a, b"Pan").is_some() && element(&a, b"Zoom").is_some());
        write_answer(&mut a, Charset::Gb18030, 4, &ch, Query2022::CruiseTrack(1));
        assert_eq!(element(&a, b"PresetIndex"), Some(&b"4"[..]));
        write_answer(&mut a, Charset::Gb18030, 4, &ch, Query2022::CruiseTrack(7));
        assert_eq!(element(&a, b"Result"), Some(&b"ERROR"[..]));
        write_answer(&mut a, Charset::Gb18030, 4, &ch, Query2022::SdCardStatus);
        assert_eq!(element(&a, b"Status"), Some(&b"ok"[..]));
        assert_eq!(Query2022::from_cmd(b"Catalog", b""), None);
    }

    #[test]
    fn tenths_are_signed_decimals() {
        let mut out = Vec::new();
        write_tenths(&mut out, b"T", -305);
        assert_eq!(out, b"<T>-30.5</T>\r\n");
    }
}
