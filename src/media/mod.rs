//! The live-video media pipeline of an emulated camera: an H.264/H.265 Annex-B elementary
//! stream split into access units ([`annexb`]), each packed into an MPEG-2 Program Stream the
//! way GB/T 28181 carries video ([`ps`]), cut into RTP packets ([`rtp`]), and the `y=` SSRC of
//! an SDP offer read as the RTP SSRC ([`ssrc`]).
//!
//! Why: thousands of streams from one machine cannot each run a muxer. A clip is packed once
//! at start into a shared [`Template`] of PS-over-RTP packets; a stream is then a few bytes of
//! state ([`Stream`]: SSRC, sequence number, timestamp base, position, loop count) and sending
//! a packet only writes a 12-byte header beside a borrowed payload.
//!
//! What it never does: open a socket, read a clock, or allocate per packet. The host decides
//! when a frame is due ([`Stream::due_us`] says when, relative to the stream's start) and moves
//! the bytes; everything here is pure functions of its inputs, and no input makes it panic.
//!
//! ```
//! use gbswarm::media::{Codec, Stream, Template, parse_ssrc};
//! // An H.264 IDR and a P slice (a real clip comes from `--media FILE` or tests/media/).
//! let es = [0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 1, 0x41, 0x9a, 0x02];
//! let clip = Template::from_annexb(&es, Codec::H264, 25)?;
//! let mut stream = Stream::new(parse_ssrc(b"0200003792")?, 1000, 0);
//! assert_eq!(stream.due_us(&clip), 0);
//! for p in stream.frame(&clip) {
//!     // UDP: send p.header then p.payload; TCP: p.tcp_header() then p.payload.
//!     assert_eq!((p.ssrc(), p.timestamp()), (0x0BEB_D0D0, 0));
//! }
//! assert_eq!(stream.due_us(&clip), 40_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod annexb;
pub mod ps;
pub mod receive;
pub mod rtp;
pub mod ssrc;

pub use annexb::{AccessUnits, Codec, Frame, NalUnits};
pub use rtp::{Packet, Stream, Template};
pub use ssrc::{SsrcError, format_ssrc, parse_ssrc};

/// Why a clip cannot become a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No access unit with a coded picture was found (no start code, or no slice).
    NoFrames,
    /// The clip is larger than [`rtp::MAX_CLIP_BYTES`].
    TooLarge(usize),
    /// The frame rate is outside 1..=[`rtp::MAX_FPS`].
    BadFps(u32),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NoFrames => f.write_str(
                "no video frame found: expected an H.264/H.265 Annex-B elementary stream \
                 (start codes 00 00 01) with at least one slice",
            ),
            Error::TooLarge(n) => write!(
                f,
                "media file of {n} bytes is larger than the {} bytes allowed",
                rtp::MAX_CLIP_BYTES
            ),
            Error::BadFps(n) => write!(f, "frame rate {n} is outside 1..={}", rtp::MAX_FPS),
        }
    }
}

impl std::error::Error for Error {}
