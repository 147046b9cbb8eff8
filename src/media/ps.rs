//! MPEG-2 Program Stream (ISO/IEC 13818-1 §2.5) as GB/T 28181 carries video: every frame
//! starts with a pack header (`00 00 01 BA`); a key frame is preceded by a system header
//! (`00 00 01 BB`) and a program stream map (`00 00 01 BC`, with its CRC-32); the frame itself
//! follows in PES packets of stream id `0xE0`, the first with PTS and DTS.
//!
//! Used once per clip, when a [`Template`](super::Template) is built: it appends to a `Vec`.

/// The elementary stream id of the (only) video stream.
pub const VIDEO_STREAM_ID: u8 = 0xE0;

/// The most elementary-stream bytes put in one PES packet (`PES_packet_length` is 16 bits).
pub const MAX_PES_PAYLOAD: usize = 65_000;

/// Length of a pack header with no stuffing.
pub const PACK_HEADER_LEN: usize = 14;

/// Length of the system header written before key frames (one stream).
pub const SYSTEM_HEADER_LEN: usize = 15;

/// Length of the program stream map written before key frames (one stream, no descriptors).
pub const PSM_LEN: usize = 20;

/// How one frame is stamped and announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Presentation (and decoding) time, 90 kHz; also the pack's SCR. Taken modulo 2^33.
    pub pts: u64,
    /// True when a system header and a PSM precede the frame.
    pub key: bool,
    /// PSM `stream_type`: 0x1B for H.264, 0x24 for H.265.
    pub stream_type: u8,
    /// `program_mux_rate` and `rate_bound`, in units of 50 bytes/s (clamped to 1..=2^22-1).
    pub mux_rate: u32,
}

/// Appends one frame (an access unit, start codes included) as Program Stream to `out`.
pub fn write_frame(out: &mut Vec<u8>, es: &[u8], f: FrameInfo) {
    let pts = f.pts & 0x1_FFFF_FFFF;
    let rate = f.mux_rate.clamp(1, 0x3F_FFFF);
    out.extend_from_slice(&pack_header(pts, rate));
    if f.key {
        out.extend_from_slice(&system_header(rate));
        out.extend_from_slice(&psm(f.stream_type));
    }
    let mut chunks = es.chunks(MAX_PES_PAYLOAD);
    // An empty frame still gets one PES, so its timestamp is announced.
    let first = chunks.next().unwrap_or_default();
    write_pes(out, first, Some(pts));
    for chunk in chunks {
        write_pes(out, chunk, None);
    }
}

/// The 14-byte MPEG-2 pack header: SCR = `scr` (90 kHz, extension 0), mux rate, no stuffing.
pub fn pack_header(scr: u64, mux_rate: u32) -> [u8; PACK_HEADER_LEN] {
    let s = scr & 0x1_FFFF_FFFF;
    let r = mux_rate & 0x3F_FFFF;
    [
        0,
        0,
        1,
        0xBA,
        // '01', SCR[32..30], marker, SCR[29..28]
        0x44 | ((s >> 27) & 0x38) as u8 | ((s >> 28) & 0x03) as u8,
        (s >> 20) as u8,
        // SCR[19..15], marker, SCR[14..13]
        0x04 | ((s >> 12) & 0xF8) as u8 | ((s >> 13) & 0x03) as u8,
        (s >> 5) as u8,
        // SCR[4..0], marker, SCR_extension[8..7] (0)
        0x04 | ((s << 3) & 0xF8) as u8,
        // SCR_extension[6..0] (0), marker
        0x01,
        (r >> 14) as u8,
        (r >> 6) as u8,
        // mux_rate[5..0], two markers
        ((r << 2) & 0xFC) as u8 | 0x03,
        // reserved '11111', pack_stuffing_length 0
        0xF8,
    ]
}

/// The system header for one video stream.
fn system_header(rate_bound: u32) -> [u8; SYSTEM_HEADER_LEN] {
    let r = rate_bound & 0x3F_FFFF;
    // P-STD buffer size bound in units of 1024 bytes (scale 1 for video): 1 MiB.
    let buffer: u16 = 1024;
    [
        0,
        0,
        1,
        0xBB,
        0,
        (SYSTEM_HEADER_LEN - 6) as u8,
        // marker, rate_bound[21..15]
        0x80 | (r >> 15) as u8,
        (r >> 7) as u8,
        // rate_bound[6..0], marker
        ((r << 1) & 0xFE) as u8 | 0x01,
        // audio_bound 0, fixed_flag 0, CSPS_flag 0
        0x00,
        // system_audio_lock, system_video_lock, marker, video_bound 1
        0xE1,
        // packet_rate_restriction_flag 0, reserved '1111111'
        0x7F,
        VIDEO_STREAM_ID,
        // '11', P-STD_buffer_bound_scale 1, P-STD_buffer_size_bound[12..8]
        0xE0 | ((buffer >> 8) & 0x1F) as u8,
        buffer as u8,
    ]
}

/// The program stream map naming one video stream of `stream_type` on id 0xE0, CRC-32 last.
pub fn psm(stream_type: u8) -> [u8; PSM_LEN] {
    let mut m = [
        0,
        0,
        1,
        0xBC,
        0,
        (PSM_LEN - 6) as u8,
        // current_next_indicator 1, reserved '11', version 0
        0xE0,
        // reserved '1111111', marker
        0xFF,
        // program_stream_info_length 0
        0,
        0,
        // elementary_stream_map_length: one entry of 4 bytes
        0,
        4,
        stream_type,
        VIDEO_STREAM_ID,
        // elementary_stream_info_length 0
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    let crc = crc32_mpeg2(&m[..PSM_LEN - 4]);
    m[PSM_LEN - 4..].copy_from_slice(&crc.to_be_bytes());
    m
}

/// Appends one PES packet of the video stream carrying `payload` (≤ [`MAX_PES_PAYLOAD`]),
/// with PTS = DTS = `pts` when given.
fn write_pes(out: &mut Vec<u8>, payload: &[u8], pts: Option<u64>) {
    let header_data = if pts.is_some() { 10 } else { 0 };
    let len = (3 + header_data + payload.len()).min(usize::from(u16::MAX)) as u16;
    out.extend_from_slice(&[0, 0, 1, VIDEO_STREAM_ID]);
    out.extend_from_slice(&len.to_be_bytes());
    match pts {
        Some(t) => {
            // '10', not scrambled, data_alignment_indicator 1; PTS_DTS_flags '11'.
            out.extend_from_slice(&[0x84, 0xC0, header_data as u8]);
            out.extend_from_slice(&timestamp(0x3, t));
            out.extend_from_slice(&timestamp(0x1, t));
        }
        None => out.extend_from_slice(&[0x80, 0x00, 0]),
    }
    out.extend_from_slice(payload);
}

/// A 33-bit PTS or DTS in its 5-byte PES form, after the 4-bit `prefix`.
/// A 33-bit PES timestamp (90 kHz) in its 5-byte form, behind the 4-bit `prefix` (`0x3`: PTS
/// of a PTS and DTS pair, `0x1`: that DTS).
pub fn timestamp(prefix: u8, t: u64) -> [u8; 5] {
    let t = t & 0x1_FFFF_FFFF;
    [
        (prefix << 4) | ((t >> 29) & 0x0E) as u8 | 0x01,
        (t >> 22) as u8,
        ((t >> 14) & 0xFE) as u8 | 0x01,
        (t >> 7) as u8,
        ((t << 1) & 0xFE) as u8 | 0x01,
    ]
}

/// CRC-32/MPEG-2 (polynomial 0x04C11DB7, initial 0xFFFFFFFF, not reflected, no final XOR):
/// the PSM's, and zero over a PSM with its CRC appended.
pub fn crc32_mpeg2(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0xFFFF_FFFF, |crc, &b| {
        CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)] ^ (crc << 8)
    })
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Reads back the 33-bit SCR base of a pack header.
    pub(crate) fn scr(h: &[u8]) -> u64 {
        (u64::from(h[4] & 0x38) << 27)
            | (u64::from(h[4] & 0x03) << 28)
            | (u64::from(h[5]) << 20)
            | (u64::from(h[6] & 0xF8) << 12)
            | (u64::from(h[6] & 0x03) << 13)
            | (u64::from(h[7]) << 5)
            | u64::from(h[8] >> 3)
    }

    /// Reads back a 5-byte PES timestamp.
    pub(crate) fn pts(b: &[u8]) -> u64 {
        (u64::from(b[0] & 0x0E) << 29)
            | (u64::from(b[1]) << 22)
            | (u64::from(b[2] & 0xFE) << 14)
            | (u64::from(b[3]) << 7)
            | u64::from(b[4] >> 1)
    }

    #[test]
    fn crc_check_value_and_psm_residue() {
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
        for st in [0x1B, 0x24] {
            let m = psm(st);
            assert_eq!(crc32_mpeg2(&m), 0, "CRC over the PSM with its CRC is zero");
            assert_eq!(m[12], st);
        }
    }

    #[test]
    fn pack_header_bytes_and_scr_round_trip() {
        // SCR 0, mux rate 2500 (125,000 B/s): the fixed bits alone.
        assert_eq!(
            pack_header(0, 2500),
            [
                0, 0, 1, 0xBA, 0x44, 0, 0x04, 0, 0x04, 0x01, 0x00, 0x27, 0x13, 0xF8
            ]
        );
        for s in [1, 3600, 0x1_2345_6789, 0x1_FFFF_FFFF, 0x2_0000_0E10] {
            let h = pack_header(s, 1);
            assert_eq!(scr(&h), s & 0x1_FFFF_FFFF);
            assert_eq!(h[4] & 0xC4, 0x44);
            assert_eq!(h[6] & 0x04, 0x04);
            assert_eq!(h[8] & 0x04, 0x04);
        }
    }

    #[test]
    fn system_header_layout() {
        let h = system_header(2500);
        assert_eq!(&h[..4], &[0, 0, 1, 0xBB]);
        assert_eq!(usize::from(u16::from_be_bytes([h[4], h[5]])), h.len() - 6);
        let rate = (u32::from(h[6] & 0x7F) << 15) | (u32::from(h[7]) << 7) | u32::from(h[8] >> 1);
        assert_eq!(rate, 2500);
        assert_eq!(h[12], 0xE0);
    }

    #[test]
    fn key_frame_layout_and_pes_lengths() {
        let es: Vec<u8> = (0..150_000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        let info = FrameInfo {
            pts: 7200,
            key: true,
            stream_type: 0x1B,
            mux_rate: 2500,
        };
        write_frame(&mut out, &es, info);
        assert_eq!(&out[..4], &[0, 0, 1, 0xBA]);
        assert_eq!(&out[14..18], &[0, 0, 1, 0xBB]);
        assert_eq!(&out[29..33], &[0, 0, 1, 0xBC]);
        // Three PES: 65,000 + 65,000 + 20,000 bytes; the first stamped.
        let mut at = 49;
        let mut payload = Vec::new();
        for (i, want) in [65_000, 65_000, 20_000].into_iter().enumerate() {
            assert_eq!(&out[at..at + 4], &[0, 0, 1, 0xE0]);
            let len = usize::from(u16::from_be_bytes([out[at + 4], out[at + 5]]));
            let hdr = usize::from(out[at + 8]);
            assert_eq!(hdr, if i == 0 { 10 } else { 0 });
            assert_eq!(len, 3 + hdr + want);
            if i == 0 {
                assert_eq!(out[at + 7], 0xC0);
                assert_eq!(out[at + 9] >> 4, 0x3);
                assert_eq!(out[at + 14] >> 4, 0x1);
                assert_eq!(pts(&out[at + 9..]), 7200);
                assert_eq!(pts(&out[at + 14..]), 7200);
            }
            payload.extend_from_slice(&out[at + 9 + hdr..at + 6 + len]);
            at += 6 + len;
        }
        assert_eq!(at, out.len());
        assert_eq!(payload, es);
    }

    #[test]
    fn non_key_frame_has_only_a_pack_header_before_its_pes() {
        let mut out = Vec::new();
        let info = FrameInfo {
            pts: 3600,
            key: false,
            stream_type: 0x24,
            mux_rate: 0,
        };
        write_frame(&mut out, &[0, 0, 1, 0x02, 0x01], info);
        assert_eq!(out.len(), 14 + 19 + 5);
        assert_eq!(&out[14..18], &[0, 0, 1, 0xE0]);
        // A zero mux rate is raised to the smallest legal one.
        assert_eq!(&out[10..13], &[0, 0, 0x07]);
    }
}
