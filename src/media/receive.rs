//! The receiving side of PS over RTP, for the platform (`serve --play`): an RTP header read as
//! a borrowed view ([`RtpView`]), and RFC 4571 framing of RTP over TCP (a 2-byte big-endian
//! length before each packet) undone by a [`Deframer`] with a fixed buffer.
//!
//! Both take any bytes: a short or malformed packet is `None`, a partial TCP frame waits for
//! the rest (partial is not an error), nothing panics, and the deframer's buffer never holds
//! more than one frame ([`MAX_FRAME`] plus its length prefix). It never reads a clock, opens a
//! socket or allocates after [`Deframer::new`]; what a packet means for a stream is the
//! checker's business.

/// The largest RTP packet an RFC 4571 frame can carry (the length field's maximum).
pub const MAX_FRAME: usize = u16::MAX as usize;

/// The fixed RTP header fields of a packet and its payload, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpView<'a> {
    /// The marker bit (last packet of a frame in GB/T 28181 video).
    pub marker: bool,
    /// Payload type (96 for PS).
    pub payload_type: u8,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp (90 kHz for video).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The payload after the header, CSRCs and extension, without padding.
    pub payload: &'a [u8],
}

impl<'a> RtpView<'a> {
    /// Reads an RTP version 2 packet; `None` for anything shorter than its header, of another
    /// version, or whose CSRC list, extension or padding run past its end.
    pub fn parse(b: &'a [u8]) -> Option<RtpView<'a>> {
        let head = b.get(..12)?;
        if head[0] >> 6 != 2 {
            return None;
        }
        let csrcs = usize::from(head[0] & 0x0f);
        let mut at = 12 + 4 * csrcs;
        if head[0] & 0x10 != 0 {
            let ext = b.get(at..at + 4)?;
            at += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        }
        let mut end = b.len();
        if head[0] & 0x20 != 0 {
            let pad = usize::from(*b.last()?);
            end = end.checked_sub(pad)?;
        }
        let payload = b.get(at..end)?;
        Some(RtpView {
            marker: head[1] & 0x80 != 0,
            payload_type: head[1] & 0x7f,
            seq: u16::from_be_bytes([head[2], head[3]]),
            timestamp: u32::from_be_bytes([head[4], head[5], head[6], head[7]]),
            ssrc: u32::from_be_bytes([head[8], head[9], head[10], head[11]]),
            payload,
        })
    }
}

/// RFC 4571 framing undone over a byte stream: feed it what a TCP read gave, get each whole
/// frame once. Frames found whole in the input are handed out in place; only a frame split
/// across reads is copied into the buffer, which is sized once for the largest frame.
#[derive(Debug)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Default for Deframer {
    fn default() -> Self {
        Deframer::new()
    }
}

impl Deframer {
    /// A deframer with room for one whole frame (about 64 KiB, allocated here once).
    pub fn new() -> Deframer {
        Deframer {
            buf: Vec::with_capacity(2 + MAX_FRAME),
        }
    }

    /// Bytes of a partial frame held (length prefix included).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The buffer's capacity: what [`pending`](Self::pending) never exceeds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Takes the next bytes of the stream and calls `frame` with each frame completed, in
    /// order (a zero-length frame is passed too); the rest waits for the next call.
    pub fn feed(&mut self, mut input: &[u8], mut frame: impl FnMut(&[u8])) {
        if !self.buf.is_empty() {
            let need = loop {
                if self.buf.len() >= 2 {
                    break 2 + usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
                }
                let Some((&b, rest)) = input.split_first() else {
                    return;
                };
                self.buf.push(b);
                input = rest;
            };
            let take = (need - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.buf.len() < need {
                return;
            }
            frame(&self.buf[2..]);
            self.buf.clear();
        }
        while let Some(len) = input.get(..2) {
            let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let Some(body) = input.get(2..2 + n) else {
                break;
            };
            frame(body);
            input = &input[2 + n..];
        }
        // Less than one frame is left, so it fits the buffer sized for one.
        self.buf.extend_from_slice(input);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn packet(marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = crate::media::rtp::rtp_header(marker, seq, ts, ssrc).to_vec();
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn reads_the_header_the_camera_writes() {
        let p = packet(true, 65535, 0xdead_beef, 0x0BEB_D0D0, &[0, 0, 1, 0xba, 9]);
        let v = RtpView::parse(&p).unwrap();
        assert_eq!(
            (v.marker, v.payload_type, v.seq, v.timestamp, v.ssrc),
            (true, 96, 65535, 0xdead_beef, 0x0BEB_D0D0)
        );
        assert_eq!(v.payload, [0, 0, 1, 0xba, 9]);
    }

    #[test]
    fn skips_csrcs_extension_and_padding_and_refuses_what_runs_past_the_end() {
        // Version 2, padding, extension, one CSRC.
        let mut p = vec![0xb1, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        p.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 7, 7, 7, 7]); // extension of one word
        p.extend_from_slice(b"ps");
        p.extend_from_slice(&[0, 2]); // two bytes of padding
        assert_eq!(RtpView::parse(&p).unwrap().payload, b"ps");
        assert_eq!(RtpView::parse(&p[..11]), None, "short header");
        let mut v1 = p.clone();
        v1[0] = 0x71;
        assert_eq!(RtpView::parse(&v1), None, "version 1");
        let mut big_pad = p.clone();
        *big_pad.last_mut().unwrap() = 200;
        assert_eq!(RtpView::parse(&big_pad), None, "padding past the start");
        assert_eq!(RtpView::parse(&p[..18]), None, "extension cut");
    }

    #[test]
    fn frames_split_anywhere_come_out_whole_and_in_order() {
        let frames: Vec<Vec<u8>> = vec![
            packet(false, 1, 0, 7, &[1; 1400]),
            packet(true, 2, 0, 7, &[2; 3]),
            Vec::new(),
            packet(false, 3, 3600, 7, &[3; 100]),
        ];
        let mut stream = Vec::new();
        for f in &frames {
            stream.extend_from_slice(&(f.len() as u16).to_be_bytes());
            stream.extend_from_slice(f);
        }
        for cut in [1, 2, 3, 7, 13, 1000, stream.len()] {
            let mut d = Deframer::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(cut) {
                d.feed(chunk, |f| got.push(f.to_vec()));
            }
            assert_eq!(got, frames, "reads of {cut} bytes");
            assert_eq!(d.pending(), 0);
        }
        let mut d = Deframer::new();
        let mut n = 0;
        d.feed(&stream[..stream.len() - 1], |_| n += 1);
        assert_eq!(
            (n, d.pending()),
            (3, 2 + 100 + 12 - 1),
            "a partial frame waits"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_or_outgrow_the_buffer(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40),
            big_len in any::<u16>(),
        ) {
            let mut d = Deframer::new();
            let cap = d.capacity();
            d.feed(&big_len.to_be_bytes(), |_| {});
            for c in &chunks {
                d.feed(c, |f| {
                    assert!(f.len() <= MAX_FRAME);
                    let _ = RtpView::parse(f);
                });
                prop_assert!(d.pending() <= 2 + MAX_FRAME);
                prop_assert_eq!(d.capacity(), cap);
            }
        }

        #[test]
        fn any_packet_parses_or_not_without_panicking(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Some(v) = RtpView::parse(&b) {
                prop_assert!(v.payload.len() + 12 <= b.len());
            }
        }
    }
}
