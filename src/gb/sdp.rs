//! The GB/T 28181 SDP offer a platform sends in its INVITE, read into what a camera needs to
//! answer it: where to send the video, over UDP or which way round over TCP, the PS payload
//! type, the SSRC of `y=`, the session kind of `s=` and the time range of `t=`.
//!
//! GB28181 adds lines that plain SDP does not have (`y=` SSRC, `f=` media format) and gives
//! `s=` and `u=` a fixed meaning; those rules live here once, on top of the generic line reader
//! in `sip::sdp`. Everything borrows from the body, nothing allocates, at most [`MAX_LINES`]
//! lines are read, and any input gives an [`Offer`] or an [`SdpError`] saying why the offer
//! cannot be met (the camera's 488), never a panic. Only the first `m=video` section counts;
//! lines inside other media sections (audio) are ignored. This file decides nothing about
//! dialogs or sockets.

use crate::sip::sdp::{Lines, Media, RtpMap, attribute, connection, decimal, port};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The most lines an offer may have; wvp's have about 15, a body with more is refused.
pub const MAX_LINES: usize = 128;

/// What the platform asks for, from `s=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// `s=Play`: live video.
    Play,
    /// `s=Playback`: a recording between the `t=` times, paced in real time.
    Playback,
    /// `s=Download`: a recording as fast as `a=downloadspeed` allows.
    Download,
    /// `s=Talk`: voice intercom.
    Talk,
    /// Any other session name.
    Other,
}

impl SessionKind {
    /// The kind named by an `s=` value (case-insensitive).
    pub fn of(name: &[u8]) -> SessionKind {
        const KINDS: [(&[u8], SessionKind); 4] = [
            (b"Play", SessionKind::Play),
            (b"Playback", SessionKind::Playback),
            (b"Download", SessionKind::Download),
            (b"Talk", SessionKind::Talk),
        ];
        KINDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(SessionKind::Other, |&(_, k)| k)
    }
}

/// How the media travels, named from the offer's side (the platform's `a=setup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaTransport {
    /// `RTP/AVP`: the camera sends datagrams to the offer's address.
    Udp,
    /// `TCP/RTP/AVP` with `a=setup:active` (or no `a=setup`, RFC 4145's default): the platform
    /// connects, so the camera listens before it answers and answers `a=setup:passive`.
    TcpActive,
    /// `TCP/RTP/AVP` with `a=setup:passive` or `actpass`: the platform listens and the camera
    /// connects after the ACK, answering `a=setup:active`.
    TcpPassive,
}

/// The direction attribute of the video section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `a=recvonly`: the platform only receives (every Play/Playback/Download offer).
    RecvOnly,
    /// `a=sendonly`: the platform only sends (the camera's answer).
    SendOnly,
    /// `a=sendrecv`: both ways (Talk).
    SendRecv,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The direction named by an attribute, if it is one.
    fn of(name: &[u8]) -> Option<Direction> {
        match name {
            b"recvonly" => Some(Direction::RecvOnly),
            b"sendonly" => Some(Direction::SendOnly),
            b"sendrecv" => Some(Direction::SendRecv),
            b"inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// A GB28181 SSRC: the `y=` text (1 to 10 decimal digits, normally 10) and its value, which
/// goes into every RTP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ssrc<'a> {
    /// The digits as written.
    pub text: &'a [u8],
    /// Their value: `0200003792` is `0x0BEB_D0D0`.
    pub value: u32,
}

impl<'a> Ssrc<'a> {
    /// Reads 1 to 10 ASCII digits worth at most `u32::MAX`; `None` otherwise.
    pub fn parse(text: &'a [u8]) -> Option<Ssrc<'a>> {
        if text.len() > 10 {
            return None;
        }
        let value = u32::try_from(decimal(text)?).ok()?;
        Some(Ssrc { text, value })
    }

    /// True for a history stream (playback or download): a 10-digit SSRC starting with `1`.
    pub fn is_history(&self) -> bool {
        self.text.len() == 10 && self.text[0] == b'1'
    }
}

/// The `t=` start and stop times (seconds since 1900 per RFC 4566, or Unix seconds as GB28181
/// platforms write them); `0 0` for a live stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// First field.
    pub start: u64,
    /// Second field.
    pub stop: u64,
}

/// A platform's SDP offer, borrowed from the INVITE body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer<'a> {
    /// The `s=` value as written (the answer repeats it).
    pub session: &'a [u8],
    /// What `s=` asks for.
    pub kind: SessionKind,
    /// The `o=` value as written, if any (its first field is the platform's ID).
    pub origin: Option<&'a [u8]>,
    /// Where the platform receives the video: the video section's `c=` (else the session's)
    /// and the `m=video` port.
    pub media: SocketAddr,
    /// UDP, or TCP and which side connects.
    pub transport: MediaTransport,
    /// The payload type mapped to `PS/90000` (usually 96).
    pub ps_payload: u8,
    /// The video section's direction (else the session's), if any.
    pub direction: Option<Direction>,
    /// The `a=connection:` value (`new` or `existing`), if any.
    pub connection: Option<&'a [u8]>,
    /// The `t=` times (`0 0` when absent).
    pub time: TimeRange,
    /// The `u=` value (`<channel>:0` in playback and download), if any.
    pub uri: Option<&'a [u8]>,
    /// The `y=` SSRC, if any.
    pub ssrc: Option<Ssrc<'a>>,
    /// The `f=` media format as written, if any.
    pub format: Option<&'a [u8]>,
    /// `a=downloadspeed:` (a multiple of real time), if any.
    pub download_speed: Option<u32>,
    /// `a=filesize:` in bytes, if any.
    pub file_size: Option<u64>,
}

/// Why an offer cannot be answered (the camera answers 488 Not Acceptable Here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdpError {
    /// More than [`MAX_LINES`] lines.
    TooManyLines,
    /// No `m=video` line.
    NoVideo,
    /// The video port is not a number from 1 to 65535.
    BadPort,
    /// The video protocol is neither `RTP/AVP` nor `TCP/RTP/AVP`.
    BadProto,
    /// No `c=` line for the video section or the session.
    NoConnection,
    /// A `c=` line that is not `IN IP4 <address>` (or `IP6`).
    BadConnection,
    /// No `a=rtpmap:<pt> PS/90000` for a payload type listed on `m=video`.
    NoPs,
    /// `y=` is not 1 to 10 digits worth at most `u32::MAX`.
    BadSsrc,
    /// `t=` is not two decimal numbers.
    BadTime,
    /// `a=setup:` is not `active`, `passive` or `actpass`.
    BadSetup,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SdpError::TooManyLines => "the SDP has too many lines",
            SdpError::NoVideo => "the SDP offers no m=video",
            SdpError::BadPort => "the m=video port is not 1 to 65535",
            SdpError::BadProto => "the m=video protocol is neither RTP/AVP nor TCP/RTP/AVP",
            SdpError::NoConnection => "the SDP has no c= line for the video",
            SdpError::BadConnection => "a c= line is not IN IP4/IP6 <address>",
            SdpError::NoPs => "the SDP offers no PS/90000 payload type",
            SdpError::BadSsrc => "y= is not a decimal SSRC of at most 10 digits",
            SdpError::BadTime => "t= is not two decimal times",
            SdpError::BadSetup => "a=setup is not active, passive or actpass",
        })
    }
}

impl std::error::Error for SdpError {}

/// Which section a line belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Session,
    Video,
    /// Another media section, or a second video one.
    Other,
}

/// Attributes read from one section (the session, then the video section over it).
#[derive(Clone, Copy, Default)]
struct Attrs<'a> {
    conn: Option<IpAddr>,
    setup: Option<&'a [u8]>,
    direction: Option<Direction>,
    connection: Option<&'a [u8]>,
}

impl<'a> Offer<'a> {
    /// Reads an offer from an INVITE body.
    pub fn parse(body: &'a [u8]) -> Result<Offer<'a>, SdpError> {
        let mut lines = Lines::new(body, MAX_LINES);
        let mut section = Section::Session;
        let (mut session_attrs, mut video_attrs) = (Attrs::default(), Attrs::default());
        let mut video: Option<Media<'a>> = None;
        let mut ps_maps = [false; 128];
        let (mut session, mut origin, mut uri, mut format) = (None, None, None, None);
        let (mut time, mut ssrc) = (None, None);
        let (mut download_speed, mut file_size) = (None, None);
        // What lines of a section that is not the video's would write to; never read.
        let mut ignored = Attrs::default();
        for line in lines.by_ref() {
            let v = line.value;
            let attrs = match section {
                Section::Session => &mut session_attrs,
                Section::Video => &mut video_attrs,
                Section::Other => &mut ignored,
            };
            match line.kind {
                b's' => {
                    session.get_or_insert(v);
                }
                b'o' => {
                    origin.get_or_insert(v);
                }
                b'u' => {
                    uri.get_or_insert(v);
                }
                b'f' => {
                    format.get_or_insert(v);
                }
                b'y' if ssrc.is_none() => ssrc = Some(Ssrc::parse(v).ok_or(SdpError::BadSsrc)?),
                b't' if time.is_none() => time = Some(parse_time(v)?),
                b'c' if section != Section::Other && attrs.conn.is_none() => {
                    attrs.conn = Some(connection(v).ok_or(SdpError::BadConnection)?);
                }
                b'm' => {
                    let m = Media::parse(v);
                    section = match m {
                        Some(m) if video.is_none() && m.media == b"video" => {
                            video = Some(m);
                            Section::Video
                        }
                        _ => Section::Other,
                    };
                }
                b'a' if section != Section::Other => {
                    let (name, value) = attribute(v);
                    match (name, value) {
                        (b"rtpmap", Some(map)) => {
                            if let Some(map) = RtpMap::parse(map)
                                && map.encoding.eq_ignore_ascii_case(b"PS")
                                && map.clock == 90_000
                            {
                                ps_maps[usize::from(map.pt)] = true;
                            }
                        }
                        (b"setup", Some(s)) => attrs.setup = Some(s),
                        (b"connection", Some(c)) => attrs.connection = Some(c),
                        (b"downloadspeed", Some(s)) => download_speed = decimal(s).map(clamp_u32),
                        (b"filesize", Some(s)) => file_size = decimal(s),
                        (name, None) => {
                            if let Some(d) = Direction::of(name) {
                                attrs.direction = Some(d);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        if !lines.exhausted() {
            return Err(SdpError::TooManyLines);
        }
        let video = video.ok_or(SdpError::NoVideo)?;
        let port = port(video.port).ok_or(SdpError::BadPort)?;
        let setup = video_attrs.setup.or(session_attrs.setup);
        let transport = transport(video.proto, setup)?;
        let ip = video_attrs
            .conn
            .or(session_attrs.conn)
            .ok_or(SdpError::NoConnection)?;
        let ps_payload = video
            .formats()
            .filter_map(|f| decimal(f).and_then(|n| u8::try_from(n).ok()))
            .find(|&pt| ps_maps.get(usize::from(pt)) == Some(&true))
            .ok_or(SdpError::NoPs)?;
        let session = session.unwrap_or_default();
        Ok(Offer {
            session,
            kind: SessionKind::of(session),
            origin,
            media: SocketAddr::new(ip, port),
            transport,
            ps_payload,
            direction: video_attrs.direction.or(session_attrs.direction),
            connection: video_attrs.connection.or(session_attrs.connection),
            time: time.unwrap_or_default(),
            uri,
            ssrc,
            format,
            download_speed,
            file_size,
        })
    }
}

/// `u64` to `u32`, saturating.
fn clamp_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `t=<start> <stop>`.
fn parse_time(v: &[u8]) -> Result<TimeRange, SdpError> {
    let mut f = crate::sip::sdp::fields(v);
    let mut next = || f.next().and_then(decimal).ok_or(SdpError::BadTime);
    Ok(TimeRange {
        start: next()?,
        stop: next()?,
    })
}

/// The transport for an `m=video` protocol and the `a=setup` that applies to it.
fn transport(proto: &[u8], setup: Option<&[u8]>) -> Result<MediaTransport, SdpError> {
    if proto.eq_ignore_ascii_case(b"RTP/AVP") {
        return Ok(MediaTransport::Udp);
    }
    if !proto.eq_ignore_ascii_case(b"TCP/RTP/AVP") {
        return Err(SdpError::BadProto);
    }
    match setup {
        None => Ok(MediaTransport::TcpActive),
        Some(s) if s.eq_ignore_ascii_case(b"active") => Ok(MediaTransport::TcpActive),
        Some(s) if s.eq_ignore_ascii_case(b"passive") || s.eq_ignore_ascii_case(b"actpass") => {
            Ok(MediaTransport::TcpPassive)
        }
        Some(_) => Err(SdpError::BadSetup),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What wvp-GB28181-pro sends for a live view over UDP (payload types in its order).
    pub(crate) const WVP_UDP_PLAY: &[u8] = b"v=0\r\n\
o=34020000001320000001 0 0 IN IP4 192.168.1.3\r\n\
s=Play\r\n\
c=IN IP4 192.168.1.3\r\n\
t=0 0\r\n\
m=video 30000 RTP/AVP 96 97 98 99\r\n\
a=recvonly\r\n\
a=rtpmap:96 PS/90000\r\n\
a=rtpmap:98 H264/90000\r\n\
a=rtpmap:97 MPEG4/90000\r\n\
a=rtpmap:99 H265/90000\r\n\
y=0200003792\r\n";

    fn tcp_play(setup: &str) -> Vec<u8> {
        let s = std::str::from_utf8(WVP_UDP_PLAY).unwrap();
        s.replace("RTP/AVP 96", "TCP/RTP/AVP 96")
            .replace(
                "a=rtpmap:99 H265/90000\r\n",
                &format!("a=rtpmap:99 H265/90000\r\na=setup:{setup}\r\na=connection:new\r\n"),
            )
            .into_bytes()
    }

    #[test]
    fn reads_a_udp_live_offer() {
        let o = Offer::parse(WVP_UDP_PLAY).unwrap();
        assert_eq!(o.kind, SessionKind::Play);
        assert_eq!(o.session, b"Play");
        assert_eq!(o.media, "192.168.1.3:30000".parse().unwrap());
        assert_eq!(o.transport, MediaTransport::Udp);
        assert_eq!(o.ps_payload, 96);
        assert_eq!(o.direction, Some(Direction::RecvOnly));
        assert_eq!(o.time, TimeRange { start: 0, stop: 0 });
        let ssrc = o.ssrc.unwrap();
        assert_eq!((ssrc.text, ssrc.value), (&b"0200003792"[..], 0x0BEB_D0D0));
        assert!(!ssrc.is_history());
        assert_eq!(
            o.origin,
            Some(&b"34020000001320000001 0 0 IN IP4 192.168.1.3"[..])
        );
        assert_eq!((o.uri, o.format, o.connection), (None, None, None));
    }

    #[test]
    fn reads_tcp_passive_and_active_offers() {
        let body = tcp_play("passive");
        let o = Offer::parse(&body).unwrap();
        assert_eq!(o.transport, MediaTransport::TcpPassive);
        assert_eq!(o.connection, Some(&b"new"[..]));
        let body = tcp_play("active");
        assert_eq!(
            Offer::parse(&body).unwrap().transport,
            MediaTransport::TcpActive
        );
        let body = tcp_play("actpass");
        assert_eq!(
            Offer::parse(&body).unwrap().transport,
            MediaTransport::TcpPassive
        );
        let body = tcp_play("holdconn");
        assert_eq!(Offer::parse(&body), Err(SdpError::BadSetup));
        // No a=setup at all: RFC 4145's default for an offer is active.
        let s = String::from_utf8(tcp_play("active")).unwrap();
        let body = s.replace("a=setup:active\r\n", "");
        assert_eq!(
            Offer::parse(body.as_bytes()).unwrap().transport,
            MediaTransport::TcpActive
        );
    }

    #[test]
    fn reads_playback_and_download_offers() {
        let playback = b"v=0\r\no=34020000002000000001 0 0 IN IP4 10.0.0.5\r\ns=Playback\r\n\
u=34020000001320000001:0\r\nc=IN IP4 10.0.0.5\r\nt=1700000000 1700003600\r\n\
m=video 30002 RTP/AVP 96 98 97\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\n\
a=rtpmap:98 H264/90000\r\na=rtpmap:97 MPEG4/90000\r\ny=1200000001\r\nf=\r\n";
        let o = Offer::parse(playback).unwrap();
        assert_eq!(o.kind, SessionKind::Playback);
        assert_eq!(o.uri, Some(&b"34020000001320000001:0"[..]));
        assert_eq!(
            o.time,
            TimeRange {
                start: 1_700_000_000,
                stop: 1_700_003_600
            }
        );
        assert!(o.ssrc.unwrap().is_history());
        assert_eq!(o.format, Some(&b""[..]));
        let download = b"v=0\no=34020000002000000001 0 0 IN IP4 10.0.0.5\ns=Download\n\
u=34020000001320000001:0\nc=IN IP4 10.0.0.5\nt=1700000000 1700003600\n\
m=video 30004 TCP/RTP/AVP 96\na=recvonly\na=rtpmap:96 PS/90000\na=setup:passive\n\
a=connection:new\na=downloadspeed:4\na=filesize:1048576\ny=1200000002";
        let o = Offer::parse(download).unwrap();
        assert_eq!(o.kind, SessionKind::Download);
        assert_eq!((o.download_speed, o.file_size), (Some(4), Some(1_048_576)));
        assert_eq!(o.transport, MediaTransport::TcpPassive);
        assert_eq!(o.ssrc.map(|s| s.value), Some(1_200_000_002));
    }

    #[test]
    fn the_video_section_wins_and_audio_sections_do_not_count() {
        let body = b"v=0\r\ns=Play\r\nc=IN IP4 1.1.1.1\r\na=setup:active\r\nt=0 0\r\n\
m=audio 8000 TCP/RTP/AVP 8 96\r\nc=IN IP4 2.2.2.2\r\na=rtpmap:96 PS/90000\r\n\
a=setup:passive\r\na=sendrecv\r\n\
m=video 9000 TCP/RTP/AVP 96 98\r\nc=IN IP4 3.3.3.3\r\na=recvonly\r\n\
a=rtpmap:98 H264/90000\r\na=rtpmap:96 PS/90000\r\n\
m=video 9002 RTP/AVP 97\r\nc=IN IP4 4.4.4.4\r\na=setup:passive\r\n";
        let o = Offer::parse(body).unwrap();
        assert_eq!(o.media, "3.3.3.3:9000".parse().unwrap());
        assert_eq!(o.transport, MediaTransport::TcpActive);
        assert_eq!(o.direction, Some(Direction::RecvOnly));
        assert_eq!(o.kind, SessionKind::Play);
        assert_eq!(o.ssrc, None);
        // Without its own c=, the video takes the session's, not the audio's.
        let s = std::str::from_utf8(body)
            .unwrap()
            .replace("c=IN IP4 3.3.3.3\r\n", "");
        let o = Offer::parse(s.as_bytes()).unwrap();
        assert_eq!(o.media, "1.1.1.1:9000".parse().unwrap());
        // PS mapped only in the audio section is not PS for the video.
        let s = std::str::from_utf8(body)
            .unwrap()
            .replace("a=rtpmap:96 PS/90000\r\nm=video 9002", "m=video 9002");
        assert_eq!(Offer::parse(s.as_bytes()), Err(SdpError::NoPs));
    }

    #[test]
    fn says_what_is_wrong() {
        let with = |from: &str, to: &str| -> Result<SessionKind, SdpError> {
            let s = std::str::from_utf8(WVP_UDP_PLAY).unwrap().replace(from, to);
            Offer::parse(s.as_bytes()).map(|o| o.kind)
        };
        use SdpError::*;
        let cases: [(&str, &str, Result<SessionKind, SdpError>); 17] = [
            ("m=video", "m=audio", Err(NoVideo)),
            ("c=IN IP4 192.168.1.3\r\n", "", Err(NoConnection)),
            (
                "IN IP4 192.168.1.3\r\nt",
                "IN IP4 host\r\nt",
                Err(BadConnection),
            ),
            ("a=rtpmap:96 PS/90000", "a=rtpmap:96 PS/8000", Err(NoPs)),
            ("96 97 98 99", "97 98 99", Err(NoPs)),
            ("30000", "70000", Err(BadPort)),
            ("30000", "0", Err(BadPort)),
            ("RTP/AVP", "RTP/SAVP", Err(BadProto)),
            ("y=0200003792", "y=02000x3792", Err(BadSsrc)),
            ("y=0200003792", "y=4294967296", Err(BadSsrc)),
            ("y=0200003792", "y=42949672950", Err(BadSsrc)),
            ("y=0200003792", "y=4294967295", Ok(SessionKind::Play)),
            ("t=0 0", "t=0", Err(BadTime)),
            ("s=Play", "s=Talk", Ok(SessionKind::Talk)),
            ("s=Play", "s=-", Ok(SessionKind::Other)),
            (
                "a=recvonly",
                "a=recvonly  \r\nzz\r\nx-junk",
                Ok(SessionKind::Play),
            ),
            ("v=0\r\n", &"a=x\r\n".repeat(MAX_LINES), Err(TooManyLines)),
        ];
        for (from, to, want) in cases {
            assert_eq!(with(from, to), want, "{from:?} -> {to:?}");
        }
        assert_eq!(Offer::parse(b""), Err(SdpError::NoVideo));
    }
}
