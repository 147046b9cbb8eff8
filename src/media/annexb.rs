//! H.264 and H.265 Annex-B elementary streams: NAL units by start code ([`NalUnits`]) and
//! access units, one coded picture each ([`AccessUnits`]), as borrowed slices of the input.
//!
//! An access unit starts at an access unit delimiter, at a parameter set or SEI that follows a
//! slice of the current unit, or at a slice that begins a new picture (H.264
//! `first_mb_in_slice == 0`, H.265 `first_slice_segment_in_pic_flag`). Key frames are those
//! with an IDR picture (H.264 type 5) or an IRAP picture (H.265 types 16..=21). Bytes before
//! the first start code and units without a slice are skipped; nothing here panics or copies.

/// The video codec of an elementary stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264 / AVC (PS stream type 0x1B).
    H264,
    /// H.265 / HEVC (PS stream type 0x24).
    H265,
}

impl Codec {
    /// The MPEG-2 PS/TS `stream_type` of this codec.
    pub fn stream_type(self) -> u8 {
        match self {
            Codec::H264 => 0x1B,
            Codec::H265 => 0x24,
        }
    }

    /// What a NAL unit (its bytes after the start code) means for access-unit grouping.
    fn classify(self, nal: &[u8]) -> Kind {
        let Some(&b0) = nal.first() else {
            return Kind::Other;
        };
        match self {
            Codec::H264 => match b0 & 0x1f {
                // Slice, data partition A, IDR slice: first_mb_in_slice is the first ue(v)
                // after the 1-byte header, and it is 0 exactly when its first bit is 1.
                t @ (1 | 2 | 5) => Kind::Slice {
                    first: nal.get(1).is_some_and(|b| b & 0x80 != 0),
                    key: t == 5,
                },
                9 => Kind::Delimiter,
                // SEI, SPS, PPS, and 14..=18 (prefix NAL, subset SPS, reserved) precede slices.
                6 | 7 | 8 | 14..=18 => Kind::Prefix,
                _ => Kind::Other,
            },
            Codec::H265 => match (b0 >> 1) & 0x3f {
                // VCL: first_slice_segment_in_pic_flag is the first bit after the 2-byte header.
                t @ 0..=31 => Kind::Slice {
                    first: nal.get(2).is_some_and(|b| b & 0x80 != 0),
                    key: (16..=21).contains(&t),
                },
                35 => Kind::Delimiter,
                // VPS, SPS, PPS, prefix SEI, reserved 41..=44 and unspecified 48..=55.
                32..=34 | 39 | 41..=44 | 48..=55 => Kind::Prefix,
                _ => Kind::Other,
            },
        }
    }
}

/// A NAL unit's role in access-unit grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A coded slice; `first` when it begins a picture, `key` for IDR/IRAP.
    Slice { first: bool, key: bool },
    /// An access unit delimiter: always the first unit of an access unit.
    Delimiter,
    /// Parameter sets and SEI: start a new access unit when they follow a slice.
    Prefix,
    /// Everything else (end of sequence, filler, suffix SEI…): stays in the current unit.
    Other,
}

/// One NAL unit: where its start code begins in the input, and its bytes after the start code
/// (trailing zero bytes removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nal<'a> {
    /// Offset in the input of its start code (of the 4-byte form when there is one).
    pub start: usize,
    /// The NAL unit: header and payload, no start code, no trailing zeros.
    pub data: &'a [u8],
}

/// NAL units of an Annex-B byte stream, split at `00 00 01` / `00 00 00 01`.
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    input: &'a [u8],
    /// Offset of the next start code's `00 00 01`, or `None` when there is no more.
    next: Option<usize>,
}

impl<'a> NalUnits<'a> {
    /// The NAL units of `input`; bytes before the first start code are skipped.
    pub fn new(input: &'a [u8]) -> NalUnits<'a> {
        NalUnits {
            input,
            next: find_start_code(input, 0),
        }
    }
}

/// Offset of the first `00 00 01` at or after `from`.
fn find_start_code(input: &[u8], from: usize) -> Option<usize> {
    let rest = input.get(from..)?;
    memchr::memmem::find(rest, &[0, 0, 1]).map(|i| from + i)
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = Nal<'a>;

    fn next(&mut self) -> Option<Nal<'a>> {
        let code = self.next?;
        let body = code + 3;
        let following = find_start_code(self.input, body);
        self.next = following;
        let end = following.unwrap_or(self.input.len());
        let mut data = self.input.get(body..end).unwrap_or_default();
        while let [rest @ .., 0] = data {
            data = rest;
        }
        let start = if code > 0 && self.input.get(code - 1) == Some(&0) {
            code - 1
        } else {
            code
        };
        Some(Nal { start, data })
    }
}

/// One access unit: a coded picture with the parameter sets, SEI and delimiters around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The unit's bytes as they stand in the stream, start codes included.
    pub bytes: &'a [u8],
    /// True for an IDR (H.264) or IRAP (H.265) picture: decodable on its own.
    pub key: bool,
}

/// Access units of an Annex-B byte stream, in stream (decoding) order.
#[derive(Debug, Clone)]
pub struct AccessUnits<'a> {
    input: &'a [u8],
    codec: Codec,
    nals: NalUnits<'a>,
    /// A NAL unit read ahead that begins the next access unit.
    pending: Option<Nal<'a>>,
}

impl<'a> AccessUnits<'a> {
    /// The access units of `input`, an elementary stream of `codec`.
    pub fn new(input: &'a [u8], codec: Codec) -> AccessUnits<'a> {
        AccessUnits {
            input,
            codec,
            nals: NalUnits::new(input),
            pending: None,
        }
    }
}

impl<'a> Iterator for AccessUnits<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        loop {
            let first = self.pending.take().or_else(|| self.nals.next())?;
            let begin = first.start;
            let (mut slice, mut key) = (false, false);
            let mut end = self.input.len();
            let mut nal = Some(first);
            let mut at_first = true;
            while let Some(n) = nal {
                let kind = self.codec.classify(n.data);
                let starts_new = match kind {
                    Kind::Delimiter => !at_first,
                    Kind::Prefix => slice,
                    Kind::Slice { first, .. } => slice && first,
                    Kind::Other => false,
                };
                if starts_new {
                    end = n.start;
                    self.pending = Some(n);
                    break;
                }
                if let Kind::Slice { key: k, .. } = kind {
                    slice = true;
                    key |= k;
                }
                at_first = false;
                nal = self.nals.next();
            }
            if slice {
                let bytes = self.input.get(begin..end).unwrap_or_default();
                return Some(Frame { bytes, key });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], codec: Codec) -> Vec<(Vec<u8>, bool)> {
        AccessUnits::new(input, codec)
            .map(|f| (f.bytes.to_vec(), f.key))
            .collect()
    }

    /// The access units of `s` are exactly `want`: (start, end, key) ranges of `s`.
    fn assert_units(s: &[u8], codec: Codec, want: &[(usize, usize, bool)]) {
        let want: Vec<_> = want
            .iter()
            .map(|&(a, b, key)| (s[a..b].to_vec(), key))
            .collect();
        assert_eq!(frames(s, codec), want);
    }

    #[test]
    fn nal_units_by_3_and_4_byte_start_codes() {
        let s = [
            9, 9, 0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 0, 0, 1, 0x65, 3,
        ];
        let n: Vec<_> = NalUnits::new(&s).collect();
        assert_eq!(n.len(), 3);
        assert_eq!((n[0].start, n[0].data), (2, &[0x67, 1][..]));
        assert_eq!((n[1].start, n[1].data), (8, &[0x68, 2][..]));
        // Trailing zeros of the PPS belong to the next 4-byte start code, not to the NAL.
        assert_eq!((n[2].start, n[2].data), (14, &[0x65, 3][..]));
    }

    #[test]
    fn h264_groups_by_first_mb_and_parameter_sets() {
        // SPS PPS IDR(first_mb=0) IDR(first_mb≠0) | P(first_mb=0) | SEI P(first_mb=0) filler
        let s: &[u8] = &[
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x65, 0x40,
            0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x06, 0x05, 0, 0, 1, 0x41, 0x9b, 0, 0, 1, 0x0c, 0xff,
        ];
        assert_units(
            s,
            Codec::H264,
            &[(0, 21, true), (21, 26, false), (26, 41, false)],
        );
    }

    #[test]
    fn h264_delimiter_starts_a_unit_and_units_without_slices_are_skipped() {
        // AUD P AUD P(first_mb≠0: still a new unit, the delimiter says so) AUD SPS (no slice)
        let s: &[u8] = &[
            0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x40, 0,
            0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 0x42,
        ];
        assert_units(s, Codec::H264, &[(0, 10, false), (10, 20, false)]);
    }

    #[test]
    fn h265_groups_by_first_slice_flag_and_irap_is_key() {
        // VPS SPS PPS IDR_W_RADL(first) IDR(not first) | TRAIL_R(first) | AUD TRAIL_R(first)
        let s: &[u8] = &[
            0, 0, 0, 1, 0x40, 0x01, 0x0c, 0, 0, 1, 0x42, 0x01, 0x01, 0, 0, 1, 0x44, 0x01, 0xc1, 0,
            0, 1, 0x26, 0x01, 0xaf, 0, 0, 1, 0x26, 0x01, 0x20, 0, 0, 1, 0x02, 0x01, 0xd0, 0, 0, 1,
            0x46, 0x01, 0x50, 0, 0, 1, 0x02, 0x01, 0xd0,
        ];
        assert_units(
            s,
            Codec::H265,
            &[(0, 31, true), (31, 37, false), (37, 49, false)],
        );
    }

    #[test]
    fn garbage_and_truncated_headers_give_no_frames_or_short_ones() {
        assert!(frames(&[], Codec::H264).is_empty());
        assert!(frames(&[0, 0, 1], Codec::H265).is_empty());
        assert!(frames(&[1, 2, 3, 4, 5], Codec::H264).is_empty());
        // A slice header cut after its first byte is still a slice (not first in picture).
        assert_eq!(frames(&[0, 0, 1, 0x65], Codec::H264).len(), 1);
    }
}
