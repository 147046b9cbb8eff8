//! RecordInfo (GB/T 28181-2022 §A.2.4.5 query, §A.2.6.7 answer): reading the asked time range,
//! the synthetic recordings a device reports over it, and the paged Response.
//!
//! A device's recordings are a pure function of the channel and the range: contiguous
//! segments of a fixed length on boundaries shifted by a per-channel phase, clipped to the
//! range, at most [`MAX_RECORDS`] of them. So any page of the answer is computed on its own —
//! nothing is listed or kept between pages — and two answers to the same query agree.
//!
//! It never reads a clock, keeps no state and writes into the caller's reused buffer.

use super::id::DeviceId;
use super::manscdp::{close_root, element, open_root, tag, tag_u64};
use super::time::{DateTime, parse_datetime};
use super::version::Charset;

/// Most recordings one answer lists: a query over a long range with short segments is
/// answered with the first this many, and `SumNum` says so (it counts what is sent).
pub const MAX_RECORDS: u32 = 1000;

/// The range a RecordInfo query asks about, in Unix seconds: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRange {
    /// `StartTime`.
    pub start: u32,
    /// `EndTime`.
    pub end: u32,
}

impl RecordRange {
    /// Reads `StartTime` and `EndTime` of a RecordInfo query; None if either is missing or
    /// malformed, or the range is empty or reversed, or past 2106 (Unix seconds in a `u32`).
    pub fn parse(body: &[u8]) -> Option<RecordRange> {
        let t = |tag: &[u8]| {
            let v = parse_datetime(element(body, tag)?)?;
            u32::try_from(v).ok()
        };
        let (start, end) = (t(b"StartTime")?, t(b"EndTime")?);
        (start < end).then_some(RecordRange { start, end })
    }
}

/// The recordings of one channel over one range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recordings {
    range: RecordRange,
    segment: u64,
    phase: u64,
}

impl Recordings {
    /// Segments of `segment_s` seconds (at least 1) of the channel `seed` names, over
    /// `range`.
    pub fn new(range: RecordRange, segment_s: u32, seed: u64) -> Recordings {
        let segment = u64::from(segment_s.max(1));
        // splitmix64's finaliser: each channel's boundaries fall elsewhere.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Recordings {
            range,
            segment,
            phase: (z ^ (z >> 31)) % segment,
        }
    }

    /// The segment number holding second `t`.
    fn segment_of(&self, t: u64) -> u64 {
        (t + self.segment - self.phase) / self.segment
    }

    /// How many recordings the answer lists: the segments meeting the range, at most
    /// [`MAX_RECORDS`].
    pub fn count(&self) -> u32 {
        let first = self.segment_of(u64::from(self.range.start));
        let last = self.segment_of(u64::from(self.range.end) - 1);
        u32::try_from(last - first + 1)
            .unwrap_or(u32::MAX)
            .min(MAX_RECORDS)
    }

    /// Recording `i` (from 0): its start and end, Unix seconds.
    pub fn get(&self, i: u32) -> Option<(u64, u64)> {
        if i >= self.count() {
            return None;
        }
        let k = self.segment_of(u64::from(self.range.start)) + u64::from(i);
        // Segment k covers [phase + (k-1)·segment, phase + k·segment).
        let seg_end = k * self.segment + self.phase;
        let start = seg_end
            .saturating_sub(self.segment)
            .max(u64::from(self.range.start));
        let end = seg_end.min(u64::from(self.range.end));
        Some((start, end))
    }
}

/// Bytes a second of recording takes (4 Mbit/s), for `FileSize`.
const BYTES_PER_SECOND: u64 = 512 * 1024;

/// Writes one RecordInfo answer message for `channel` listing `items` (a page of the
/// `sum_num` recordings, start and end in Unix seconds), named `name` and the channel's
/// number in the charset the body declares.
#[allow(clippy::too_many_arguments)]
pub fn write_record_info(
    out: &mut Vec<u8>,
    charset: Charset,
    sn: u32,
    channel: &DeviceId,
    name: &str,
    number: u32,
    sum_num: u32,
    items: impl ExactSizeIterator<Item = (u64, u64)>,
) {
    open_root(out, charset, b"Response", b"RecordInfo", sn, channel);
    let write_name = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"<Name>");
        charset.push_xml_text(out, name);
        out.push(b' ');
        crate::sip::write::push_u64(out, u64::from(number));
        out.extend_from_slice(b"</Name>\r\n");
    };
    write_name(out);
    tag_u64(out, b"SumNum", u64::from(sum_num));
    out.extend_from_slice(b"<RecordList Num=\"");
    crate::sip::write::push_u64(out, items.len() as u64);
    out.extend_from_slice(b"\">\r\n");
    for (start, end) in items {
        out.extend_from_slice(b"<Item>\r\n");
        tag(out, b"DeviceID", channel.as_bytes());
        write_name(out);
        out.extend_from_slice(b"<FilePath>/record/");
        out.extend_from_slice(channel.as_bytes());
        out.push(b'/');
        crate::sip::write::push_u64(out, start);
        out.extend_from_slice(b".ps</FilePath>\r\n");
        tag(out, b"Address", b"Address");
        tag(
            out,
            b"StartTime",
            DateTime::new(start * 1000, false).as_bytes(),
        );
        tag(out, b"EndTime", DateTime::new(end * 1000, false).as_bytes());
        tag(out, b"Secrecy", b"0");
        tag(out, b"Type", b"time");
        tag_u64(out, b"FileSize", (end - start) * BYTES_PER_SECOND);
        out.extend_from_slice(b"</Item>\r\n");
    }
    out.extend_from_slice(b"</RecordList>\r\n");
    close_root(out, b"Response");
}

/// Writes a RecordInfo query as a platform sends it (wvp's form), for `channel` over
/// `range`.
pub fn write_record_query(
    out: &mut Vec<u8>,
    charset: Charset,
    sn: u32,
    channel: &DeviceId,
    range: RecordRange,
) {
    open_root(out, charset, b"Query", b"RecordInfo", sn, channel);
    let t = |s: u32| DateTime::new(u64::from(s) * 1000, false);
    tag(out, b"StartTime", t(range.start).as_bytes());
    tag(out, b"EndTime", t(range.end).as_bytes());
    tag(out, b"Secrecy", b"0");
    tag(out, b"Type", b"all");
    close_root(out, b"Query");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::Manscdp;

    const DAY: u32 = 1_795_392_000; // 2026-11-23T00:00:00Z

    fn range(start: u32, end: u32) -> RecordRange {
        RecordRange { start, end }
    }

    #[test]
    fn segments_tile_the_range_exactly() {
        for (seg, seed, len) in [(1800, 1, 86_400), (600, 7, 3599), (3600, 3, 1), (1, 9, 40)] {
            let r = Recordings::new(range(DAY + 17, DAY + 17 + len), seg, seed);
            let n = r.count();
            assert!(n >= 1);
            let mut at = u64::from(DAY + 17);
            for i in 0..n {
                let (s, e) = r.get(i).unwrap();
                assert_eq!(s, at, "contiguous");
                assert!(e > s && e - s <= u64::from(seg));
                at = e;
            }
            assert_eq!(at, u64::from(DAY + 17 + len), "clipped to the end");
            assert_eq!(r.get(n), None);
        }
        // A day in 30-minute segments: 48, or 49 when the phase cuts one at each end.
        let day = Recordings::new(range(DAY, DAY + 86_400), 1800, 5);
        assert!(matches!(day.count(), 48 | 49));
        // A year in one-second segments is capped, and the cap is what is listed.
        let long = Recordings::new(range(DAY, DAY + 31_536_000), 1, 5);
        assert_eq!(long.count(), MAX_RECORDS);
        assert!(long.get(MAX_RECORDS - 1).is_some());
    }

    #[test]
    fn channels_differ_and_answers_repeat() {
        let a = Recordings::new(range(DAY, DAY + 86_400), 1800, 1);
        let b = Recordings::new(range(DAY, DAY + 86_400), 1800, 2);
        assert_eq!(a, Recordings::new(range(DAY, DAY + 86_400), 1800, 1));
        assert_ne!(a.get(0), b.get(0));
    }

    #[test]
    fn query_and_answer_round_trip() {
        let ch: DeviceId = "34020000001310000001".parse().unwrap();
        let mut out = Vec::new();
        write_record_query(&mut out, Charset::Gb2312, 5, &ch, range(DAY, DAY + 3600));
        assert_eq!(RecordRange::parse(&out), Some(range(DAY, DAY + 3600)));
        let q = Manscdp::parse(&out).unwrap();
        assert_eq!((q.cmd_type, q.sn), (&b"RecordInfo"[..], Some(5)));
        assert_eq!(
            element(&out, b"StartTime"),
            Some(&b"2026-11-23T00:00:00"[..])
        );
        let rec = Recordings::new(range(DAY, DAY + 3600), 1800, 3);
        let items: Vec<_> = (0..rec.count()).filter_map(|i| rec.get(i)).collect();
        let items = items.into_iter();
        write_record_info(
            &mut out,
            Charset::Gb2312,
            5,
            &ch,
            "Camera",
            1,
            rec.count(),
            items,
        );
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(text.contains(&format!("<RecordList Num=\"{}\">", rec.count())));
        assert_eq!(element(&out, b"Type"), Some(&b"time"[..]));
        assert_eq!(element(&out, b"Name"), Some(&b"Camera 1"[..]));
        assert_eq!(
            element(&out, b"StartTime"),
            Some(&b"2026-11-23T00:00:00"[..])
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        let q = |s: &str, e: &str| {
            RecordRange::parse(
                format!("<Query><StartTime>{s}</StartTime><EndTime>{e}</EndTime></Query>")
                    .as_bytes(),
            )
        };
        assert!(q("2026-11-23T00:00:00", "2026-11-23T00:00:01").is_some());
        assert_eq!(q("2026-11-23T00:00:00", "2026-11-23T00:00:00"), None);
        assert_eq!(q("2026-11-23T10:00:00", "2026-11-23T09:00:00"), None);
        assert_eq!(q("2026-11-23", "2026-11-24"), None);
        assert_eq!(q("2107-01-01T00:00:00", "2107-01-02T00:00:00"), None);
        assert_eq!(RecordRange::parse(b"<Query/>"), None);
    }
}
