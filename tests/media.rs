//! The media pipeline end to end on the repository's test clips, H.264 and H.265
//! (tests/media/README.md says how they were made): frames and key frames, the Program
//! Stream's structure, the RTP packets' rules across loops, RFC 4571 framing, FFprobe decoding
//! the PS carried by one loop, and arbitrary input never panicking the reader, muxer or
//! packetizer.

mod peers;

use gbswarm::media::ps::crc32_mpeg2;
use gbswarm::media::rtp::MAX_PAYLOAD;
use gbswarm::media::{AccessUnits, Codec, Stream, Template};
use proptest::prelude::*;
use std::process::Command;

/// Made by (see tests/media/README.md):
/// `ffmpeg -f lavfi -i testsrc=size=640x360:rate=25 -t 2 -pix_fmt yuv420p -c:v libx264
/// -preset medium -profile:v baseline -threads 1 -b:v 1M -minrate 1M -maxrate 1M -bufsize 1M
/// -x264-params nal-hrd=cbr -g 25 -keyint_min 25 -sc_threshold 0 -f h264
/// testsrc-640x360-25fps-2s.h264` (237,500 bytes).
const CLIP: &[u8] = include_bytes!("media/testsrc-640x360-25fps-2s.h264");

/// Made by (see tests/media/README.md): `ffmpeg -f lavfi -i testsrc=size=640x360:rate=25 -t 2
/// -pix_fmt yuv420p -c:v libx265 -preset medium -x265-params
/// keyint=25:min-keyint=25:scenecut=0:bframes=0:pools=1:frame-threads=1:log-level=error
/// -b:v 400k -f hevc testsrc-640x360-25fps-2s.h265` (34,128 bytes).
const CLIP_H265: &[u8] = include_bytes!("media/testsrc-640x360-25fps-2s.h265");

fn template() -> Template {
    Template::from_annexb(CLIP, Codec::H264, 25).unwrap()
}

#[test]
fn clips_have_50_frames_with_key_frames_every_25() {
    for (clip, codec) in [(CLIP, Codec::H264), (CLIP_H265, Codec::H265)] {
        let frames: Vec<_> = AccessUnits::new(clip, codec).collect();
        assert_eq!(frames.len(), 50, "{codec:?}");
        let keys: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].key).collect();
        assert_eq!(keys, [0, 25], "{codec:?}");
        // Frames tile the clip: each begins where the previous ended, the first at byte 0.
        let joined: Vec<u8> = frames
            .iter()
            .flat_map(|f| f.bytes.iter().copied())
            .collect();
        assert_eq!(joined, clip, "{codec:?}");
    }
}

/// One PS packet: its stream id (`0xBA`, `0xBB`, `0xBC`, `0xE0`…) and its bytes.
fn ps_packets(ps: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < ps.len() {
        assert_eq!(&ps[at..at + 3], &[0, 0, 1], "start code at {at}");
        let id = ps[at + 3];
        let len = if id == 0xBA {
            14 + usize::from(ps[at + 13] & 0x07)
        } else {
            6 + usize::from(u16::from_be_bytes([ps[at + 4], ps[at + 5]]))
        };
        out.push((id, &ps[at..at + len]));
        at += len;
    }
    out
}

#[test]
fn program_stream_structure() {
    let t = template();
    let packets = ps_packets(t.ps());
    let mut frames: Vec<Vec<(u8, &[u8])>> = Vec::new();
    for p in packets {
        if p.0 == 0xBA {
            frames.push(Vec::new());
        }
        frames
            .last_mut()
            .expect("the PS starts with a pack header")
            .push(p);
    }
    assert_eq!(frames.len(), 50);
    let mut es = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let ids: Vec<u8> = f.iter().map(|p| p.0).collect();
        let key = i == 0 || i == 25;
        let head: &[u8] = if key { &[0xBA, 0xBB, 0xBC] } else { &[0xBA] };
        assert_eq!(&ids[..head.len()], head, "frame {i}");
        assert!(ids[head.len()..].iter().all(|&id| id == 0xE0), "frame {i}");
        assert!(ids.len() > head.len(), "frame {i} has a PES");
        if key {
            let psm = f[2].1;
            assert_eq!(crc32_mpeg2(psm), 0, "PSM CRC of frame {i}");
            assert_eq!((psm[12], psm[13]), (0x1B, 0xE0));
        }
        for (n, (_, pes)) in f[head.len()..].iter().enumerate() {
            let hdr = usize::from(pes[8]);
            assert_eq!(hdr, if n == 0 { 10 } else { 0 });
            if n == 0 {
                // PTS = DTS = frame index × 3,600, and the pack's SCR says the same.
                let pts = (u64::from(pes[9] & 0x0E) << 29)
                    | (u64::from(pes[10]) << 22)
                    | (u64::from(pes[11] & 0xFE) << 14)
                    | (u64::from(pes[12]) << 7)
                    | u64::from(pes[13] >> 1);
                assert_eq!(pts, i as u64 * 3600);
                assert_eq!(&pes[9..14], &{
                    let mut d = [0u8; 5];
                    d.copy_from_slice(&pes[14..19]);
                    d[0] = (d[0] & 0x0F) | 0x30;
                    d
                });
            }
            es.extend_from_slice(&pes[9 + hdr..]);
        }
    }
    assert_eq!(es, CLIP, "the PES payloads carry the clip unchanged");
}

#[test]
fn rtp_rules_hold_across_loop_boundaries() {
    let t = template();
    let mut s = Stream::new(0x0BEB_D0D0, 65_000, u32::MAX - 50_000);
    let mut prev: Option<(u16, u32, bool)> = None;
    let mut frames = 0u32;
    let mut ts_of_frame = Vec::new();
    for _ in 0..(50 * 3 + 7) {
        let pkts: Vec<_> = s.frame(&t).collect();
        let ts = pkts[0].timestamp();
        for (i, p) in pkts.iter().enumerate() {
            assert!(p.payload.len() <= MAX_PAYLOAD && !p.payload.is_empty());
            assert_eq!(p.header[0], 0x80);
            assert_eq!(p.header[1] & 0x7F, 96);
            assert_eq!(p.ssrc(), 0x0BEB_D0D0);
            assert_eq!(p.timestamp(), ts, "one timestamp per frame");
            assert_eq!(p.marker(), i == pkts.len() - 1, "marker on the last only");
            if let Some((seq, pts, marker)) = prev {
                assert_eq!(p.seq(), seq.wrapping_add(1));
                let step = p.timestamp().wrapping_sub(pts);
                assert_eq!(step, if marker { 3600 } else { 0 });
            }
            prev = Some((p.seq(), p.timestamp(), p.marker()));
        }
        ts_of_frame.push(ts);
        frames += 1;
    }
    assert_eq!(s.loops(), 3);
    assert_eq!(frames, 157);
    assert_eq!(
        ts_of_frame[150].wrapping_sub(ts_of_frame[0]),
        3 * t.clip_ticks()
    );
    assert_eq!(t.clip_ticks(), 180_000);
}

#[test]
fn rfc4571_framing_round_trips() {
    let t = template();
    let mut s = Stream::new(1, 0, 0);
    let mut wire = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..t.packets() + 10 {
        let p = s.next_packet(&t).unwrap();
        wire.extend_from_slice(&p.tcp_header());
        wire.extend_from_slice(p.payload);
        sent.push((p.header, p.payload.to_vec()));
    }
    let mut at = 0;
    for (header, payload) in sent {
        let len = usize::from(u16::from_be_bytes([wire[at], wire[at + 1]]));
        assert_eq!(len, 12 + payload.len());
        assert_eq!(&wire[at + 2..at + 14], &header);
        assert_eq!(&wire[at + 14..at + 2 + len], &payload[..]);
        at += 2 + len;
    }
    assert_eq!(at, wire.len());
}

/// FFprobe reads the PS that one loop of `clip`'s RTP payloads carry as one `name` video
/// stream, 640x360, of 50 frames, without a complaint. Skipped (with a message) when ffprobe
/// is missing outside CI.
fn assert_ffprobe_decodes(clip: &[u8], codec: Codec, name: &str) {
    if !peers::have("ffprobe", "ffmpeg") {
        return;
    }
    let t = Template::from_annexb(clip, codec, 25).unwrap();
    let mut s = Stream::new(0x0BEB_D0D0, 0, 0);
    let mut ps = Vec::new();
    for _ in 0..t.packets() {
        ps.extend_from_slice(s.next_packet(&t).unwrap().payload);
    }
    assert_eq!(s.loops(), 1);
    let dir = peers::TempDir::new(&format!("media-{name}"));
    let file = dir.path().join("loop.ps");
    std::fs::write(&file, &ps).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-f",
            "mpeg",
            "-show_streams",
            "-count_frames",
        ])
        .args(["-select_streams", "v"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffprobe failed: {err}");
    assert!(err.trim().is_empty(), "ffprobe complained: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let codec_line = format!("codec_name={name}");
    for want in [&codec_line, "width=640", "height=360", "nb_read_frames=50"] {
        assert!(
            text.lines().any(|l| l == want),
            "{want} missing in:\n{text}"
        );
    }
}

#[test]
fn ffprobe_decodes_the_ps_of_one_loop_of_rtp_payloads() {
    assert_ffprobe_decodes(CLIP, Codec::H264, "h264");
}

#[test]
fn ffprobe_decodes_h265_in_ps() {
    assert_ffprobe_decodes(CLIP_H265, Codec::H265, "hevc");
}

fn check_template(es: &[u8], codec: Codec) {
    let frames = AccessUnits::new(es, codec).count();
    match Template::from_annexb(es, codec, 25) {
        Ok(t) => {
            assert_eq!(t.frames() as usize, frames);
            let mut s = Stream::new(9, 0, 0);
            for _ in 0..t.frames() + 1 {
                let pkts: Vec<_> = s.frame(&t).collect();
                assert!(pkts.last().unwrap().marker());
                assert!(pkts.iter().all(|p| p.payload.len() <= MAX_PAYLOAD));
            }
        }
        Err(_) => assert_eq!(frames, 0),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2000)) {
        check_template(&raw, Codec::H264);
        check_template(&raw, Codec::H265);
    }

    #[test]
    fn start_codes_among_arbitrary_bytes_never_panic(
        parts in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..40)
    ) {
        let mut es = Vec::new();
        for (nal_header, body) in parts {
            es.extend_from_slice(&[0, 0, 1, nal_header]);
            es.extend_from_slice(&body);
        }
        check_template(&es, Codec::H264);
        check_template(&es, Codec::H265);
    }

    #[test]
    fn a_damaged_clip_never_panics(at in 0..CLIP.len(), junk in proptest::collection::vec(any::<u8>(), 1..64)) {
        let mut es = CLIP[..at].to_vec();
        es.extend_from_slice(&junk);
        es.extend_from_slice(&CLIP[at..(at + 4000).min(CLIP.len())]);
        check_template(&es, Codec::H264);
    }
}
