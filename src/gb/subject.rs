//! The GB/T 28181 `Subject` header of an INVITE, `<channel>:<ssrc>,<platform>:0`, and the rule
//! for which channel an INVITE addresses.
//!
//! Platforms put the channel in the Request-URI, but some (monibuca as an upper platform) rely on
//! `Subject` instead, so a camera reads both: the Request-URI user when it names a known ID,
//! else the Subject's channel. The reader borrows from the header value and never allocates;
//! this file knows nothing of dialogs or of which IDs a camera has (the caller's predicate).

use super::id::DeviceId;
use super::sdp::Ssrc;
use crate::sip::bytes::trim;

/// A parsed `Subject` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The media sender: the channel asked for.
    pub channel: DeviceId,
    /// The SSRC after the channel, if one is written.
    pub ssrc: Option<Ssrc<'a>>,
    /// The media receiver as written (normally the platform's 20-digit ID), empty if absent.
    pub platform: &'a [u8],
}

/// Why a `Subject` value is not `<channel>:<ssrc>,<platform>:<n>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectError {
    /// The first ID is not 20 digits.
    BadChannel,
    /// Something other than 1 to 10 digits follows the channel's `:`.
    BadSsrc,
}

impl std::fmt::Display for SubjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SubjectError::BadChannel => "the Subject's channel is not a 20-digit ID",
            SubjectError::BadSsrc => "the Subject's SSRC is not 1 to 10 digits",
        })
    }
}

impl std::error::Error for SubjectError {}

impl<'a> Subject<'a> {
    /// Reads `34020000001320000001:0200000001,34020000002000000001:0` (blanks around the parts
    /// allowed; the SSRC and the receiver part may be missing).
    pub fn parse(value: &'a [u8]) -> Result<Subject<'a>, SubjectError> {
        let (sender, receiver) = match memchr::memchr(b',', value) {
            Some(i) => (&value[..i], &value[i + 1..]),
            None => (value, &b""[..]),
        };
        let (channel, ssrc) = split_colon(sender);
        let channel = DeviceId::parse(channel).map_err(|_| SubjectError::BadChannel)?;
        let ssrc = match ssrc {
            None | Some(b"") => None,
            Some(s) => Some(Ssrc::parse(s).ok_or(SubjectError::BadSsrc)?),
        };
        Ok(Subject {
            channel,
            ssrc,
            platform: split_colon(receiver).0,
        })
    }
}

/// The trimmed parts before and after the first `:`.
fn split_colon(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b':', s) {
        Some(i) => (trim(&s[..i]), Some(trim(&s[i + 1..]))),
        None => (trim(s), None),
    }
}

/// The channel an INVITE addresses: the Request-URI user's ID if `is_known`, else the Subject's
/// channel if `is_known`, else none (the camera answers 404).
pub fn addressed_channel(
    request_uri: Option<DeviceId>,
    subject: Option<DeviceId>,
    is_known: impl Fn(&DeviceId) -> bool,
) -> Option<DeviceId> {
    request_uri
        .filter(|id| is_known(id))
        .or_else(|| subject.filter(|id| is_known(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DeviceId {
        DeviceId::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn reads_the_forms_platforms_send() {
        let s = Subject::parse(b"34020000001320000001:0200000001,34020000002000000001:0").unwrap();
        assert_eq!(s.channel, id("34020000001320000001"));
        assert_eq!(
            s.ssrc.map(|x| (x.text, x.value)),
            Some((&b"0200000001"[..], 200_000_001))
        );
        assert_eq!(s.platform, b"34020000002000000001");
        let s = Subject::parse(b" 34020000001320000001 : , 34020000002000000001:0 ").unwrap();
        assert_eq!((s.ssrc, s.platform), (None, &b"34020000002000000001"[..]));
        let s = Subject::parse(b"34020000001320000001").unwrap();
        assert_eq!((s.ssrc, s.platform), (None, &b""[..]));
    }

    #[test]
    fn refuses_a_bad_channel_or_ssrc() {
        let cases: [(&[u8], SubjectError); 5] = [
            (b"", SubjectError::BadChannel),
            (b"3402000000132000000:1,x:0", SubjectError::BadChannel),
            (
                b"34020000001320000001:02000000011,x:0",
                SubjectError::BadSsrc,
            ),
            (
                b"34020000001320000001:4294967296,x:0",
                SubjectError::BadSsrc,
            ),
            (
                b"34020000001320000001:02x0000001,x:0",
                SubjectError::BadSsrc,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(Subject::parse(value), Err(want), "{value:?}");
        }
    }

    #[test]
    fn the_request_uri_wins_when_known_else_the_subject() {
        let (dev, ch, other) = (
            id("34020000001320000001"),
            id("34020000001310000001"),
            id("34020000001310000099"),
        );
        let known = |i: &DeviceId| *i == dev || *i == ch;
        assert_eq!(addressed_channel(Some(ch), Some(dev), known), Some(ch));
        assert_eq!(addressed_channel(Some(other), Some(ch), known), Some(ch));
        assert_eq!(addressed_channel(None, Some(ch), known), Some(ch));
        assert_eq!(addressed_channel(Some(other), Some(other), known), None);
        assert_eq!(addressed_channel(Some(other), None, known), None);
        assert_eq!(addressed_channel(None, None, known), None);
    }
}
