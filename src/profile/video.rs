//! The live-video part of a plan: how many streams a device serves at once and the clip every
//! stream sends, read and packed once at start (`max-streams`, `media`, `media-codec`, `fps`,
//! `no-gso`, `answer-ssrc`).
//!
//! Why here: a missing or unusable clip is bad input like any other key, reported before the
//! run starts with the key it came from.

use super::{PlanError, Profile, bad};
use crate::camera::invite::SsrcAnswer;
use crate::media::{Codec, Template};
use std::sync::Arc;

/// The clip used when no `media` file is given: 2 s of H.264 test pattern, 640x360 at 25 fps.
pub const EMBEDDED_CLIP: &[u8] = include_bytes!("../../tests/media/testsrc-640x360-25fps-2s.h264");

/// Most streams one device may serve at once (`max-streams`).
pub const MAX_STREAMS_LIMIT: u32 = 64;

/// Live video settings of a run.
#[derive(Clone, Debug)]
pub struct Video {
    /// Concurrent streams per device; an INVITE beyond them gets 486 Busy Here.
    pub max_streams: u32,
    /// The clip every stream loops, packed once and shared by the workers.
    pub clip: Arc<Template>,
    /// Where the clip came from (for the report's settings).
    pub source: String,
    /// Send a UDP frame's packets as one segmentation-offload (GSO) send where the kernel
    /// has it (`no-gso` turns it off: one datagram per packet).
    pub gso: bool,
    /// The SSRC the cameras answer with (`answer-ssrc`).
    pub answer_ssrc: SsrcAnswer,
}

impl Video {
    /// Validates the profile's video keys and packs the clip.
    pub(super) fn from_profile(p: &Profile) -> Result<Video, PlanError> {
        let max_streams = p.max_streams.unwrap_or(1);
        if !(1..=MAX_STREAMS_LIMIT).contains(&max_streams) {
            return bad(
                "max-streams",
                format!("{max_streams} is outside 1..={MAX_STREAMS_LIMIT}"),
            );
        }
        let codec = match p.media_codec.as_deref().map(str::to_ascii_lowercase) {
            None => Codec::H264,
            Some(c) if c == "h264" => Codec::H264,
            Some(c) if c == "h265" => Codec::H265,
            Some(c) => return bad("media-codec", format!("`{c}` is not h264 or h265")),
        };
        let answer_ssrc = match p.answer_ssrc.as_deref().map(str::to_ascii_lowercase) {
            None => SsrcAnswer::Offered,
            Some(a) if a == "offered" => SsrcAnswer::Offered,
            Some(a) if a == "own" => SsrcAnswer::Own,
            Some(a) => return bad("answer-ssrc", format!("`{a}` is not offered or own")),
        };
        let fps = p.fps.unwrap_or(25);
        if !(1..=crate::media::rtp::MAX_FPS).contains(&fps) {
            return bad(
                "fps",
                format!("{fps} is outside 1..={}", crate::media::rtp::MAX_FPS),
            );
        }
        let (bytes, source) = match &p.media {
            None => {
                if codec != Codec::H264 {
                    return bad("media-codec", "h265 needs a --media file");
                }
                (
                    std::borrow::Cow::Borrowed(EMBEDDED_CLIP),
                    "embedded H.264 test clip".to_string(),
                )
            }
            Some(path) => {
                let len = std::fs::metadata(path)
                    .map_err(|e| PlanError {
                        key: "media".into(),
                        message: format!("cannot read {}: {e}", path.display()),
                    })?
                    .len();
                let max = crate::media::rtp::MAX_CLIP_BYTES as u64;
                if len > max {
                    return bad(
                        "media",
                        format!("{} is {len} bytes, more than {max}", path.display()),
                    );
                }
                let b = std::fs::read(path).map_err(|e| PlanError {
                    key: "media".into(),
                    message: format!("cannot read {}: {e}", path.display()),
                })?;
                (std::borrow::Cow::Owned(b), path.display().to_string())
            }
        };
        let clip = Template::from_annexb(&bytes, codec, fps).map_err(|e| PlanError {
            key: "media".into(),
            message: format!("{source}: {e}"),
        })?;
        Ok(Video {
            max_streams,
            clip: Arc::new(clip),
            source,
            gso: !p.no_gso.unwrap_or(false),
            answer_ssrc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_one_stream_of_the_embedded_clip() {
        let v = Video::from_profile(&Profile::default()).unwrap();
        assert_eq!(v.max_streams, 1);
        assert_eq!(v.clip.fps(), 25);
        assert_eq!(v.clip.frames(), 50);
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |p: Profile| Video::from_profile(&p).unwrap_err().key;
        let p = |f: fn(&mut Profile)| {
            let mut p = Profile::default();
            f(&mut p);
            p
        };
        assert_eq!(key(p(|p| p.max_streams = Some(0))), "max-streams");
        assert_eq!(key(p(|p| p.fps = Some(0))), "fps");
        assert_eq!(
            key(p(|p| p.answer_ssrc = Some("mine".into()))),
            "answer-ssrc"
        );
        assert_eq!(
            key(p(|p| p.media_codec = Some("vp8".into()))),
            "media-codec"
        );
        assert_eq!(
            key(p(|p| p.media = Some("/nonexistent/clip".into()))),
            "media"
        );
        let dir = std::env::temp_dir().join(format!("gbswarm-video-{}", std::process::id()));
        std::fs::write(&dir, b"not video").unwrap();
        let err = Video::from_profile(&p_with(&dir)).unwrap_err();
        let _ = std::fs::remove_file(&dir);
        assert_eq!(err.key, "media");
        assert!(err.message.contains("no video frame"), "{}", err.message);
    }

    fn p_with(path: &std::path::Path) -> Profile {
        Profile {
            media: Some(path.to_path_buf()),
            ..Profile::default()
        }
    }
}
