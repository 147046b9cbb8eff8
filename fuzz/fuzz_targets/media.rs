//! Fuzz the media pipeline: any bytes, read as an H.264 or H.265 Annex-B stream, must give
//! access units that tile the input, a template or a typed error, and packets that keep the
//! RTP rules (payload at most 1,400 bytes, marker on each frame's last packet, one timestamp
//! per frame), never a panic. The first byte picks the codec and frame rate.
#![no_main]

use gbswarm::media::rtp::MAX_PAYLOAD;
use gbswarm::media::{AccessUnits, Codec, Stream, Template, parse_ssrc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, es)) = data.split_first() else {
        return;
    };
    let codec = if pick & 1 == 0 {
        Codec::H264
    } else {
        Codec::H265
    };
    let fps = u32::from(pick >> 1);
    let _ = parse_ssrc(es);
    let frames = AccessUnits::new(es, codec).count();
    match Template::from_annexb(es, codec, fps) {
        Ok(t) => {
            assert_eq!(t.frames() as usize, frames);
            let mut s = Stream::new(0x0BEB_D0D0, u16::MAX, u32::MAX);
            // One loop and one frame more: the loop boundary included.
            for _ in 0..=t.frames() {
                let mut last: Option<(u32, bool)> = None;
                for p in s.frame(&t) {
                    assert!(!p.payload.is_empty() && p.payload.len() <= MAX_PAYLOAD);
                    if let Some((ts, marker)) = last {
                        assert!(!marker);
                        assert_eq!(p.timestamp(), ts);
                    }
                    last = Some((p.timestamp(), p.marker()));
                }
                assert!(last.is_some_and(|(_, marker)| marker));
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
