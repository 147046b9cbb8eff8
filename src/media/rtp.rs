//! PS over RTP (RFC 3550; GB/T 28181): a clip packed once into a shared [`Template`] of
//! packets, and per-stream [`Stream`] state that stamps them.
//!
//! Version 2, payload type 96, 90 kHz clock; all packets of a frame share its timestamp and
//! the last carries the marker; payloads are at most [`MAX_PAYLOAD`] bytes and never span two
//! frames. Sequence numbers and timestamps go on across loops of the clip (the timestamp by
//! the clip's length each loop). The PS inside a [`Packet`]'s `payload` is the template's, its
//! SCR and PTS those of the first loop; [`Packet::write`] (and [`Packet::write_tcp`]) copy the
//! packet out with the SCR and PTS/DTS of a frame's first packet moved on by the loops done, so
//! a receiver that reads the PS clock (ZLMediaKit does) sees it go on too. For TCP, RFC 4571
//! puts a 2-byte big-endian length before each packet.

use super::annexb::{AccessUnits, Codec};
use super::{Error, ps};

/// The largest RTP payload produced, bytes.
pub const MAX_PAYLOAD: usize = 1400;

/// The RTP payload type of PS in GB/T 28181 SDP (`a=rtpmap:96 PS/90000`).
pub const PAYLOAD_TYPE: u8 = 96;

/// The RTP clock rate, Hz.
pub const CLOCK_RATE: u32 = 90_000;

/// The largest media file accepted, bytes.
pub const MAX_CLIP_BYTES: usize = 64 << 20;

/// The highest frame rate accepted.
pub const MAX_FPS: u32 = 240;

/// Where one packet's payload lies in the template, and what its header says.
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: u32,
    frame: u32,
    len: u16,
    marker: bool,
    /// On a frame's first packet, where its first PES header starts in the payload (after the
    /// pack header, and the system header and PSM of a key frame); 0 on the others.
    pes_at: u8,
}

/// A clip as PS-over-RTP packets, built once and shared read-only by every stream.
#[derive(Debug, Clone)]
pub struct Template {
    ps: Vec<u8>,
    slots: Vec<Slot>,
    frames: u32,
    fps: u32,
    frame_ticks: u32,
}

impl Template {
    /// Splits an Annex-B elementary stream of `codec` into frames shown at `fps`, packs each
    /// into PS (timestamps from 0, one frame every 90,000/`fps` ticks, rounded) and cuts the
    /// PS into packets.
    pub fn from_annexb(es: &[u8], codec: Codec, fps: u32) -> Result<Template, Error> {
        if !(1..=MAX_FPS).contains(&fps) {
            return Err(Error::BadFps(fps));
        }
        if es.len() > MAX_CLIP_BYTES {
            return Err(Error::TooLarge(es.len()));
        }
        let (mut frames, mut es_bytes) = (0u64, 0u64);
        for f in AccessUnits::new(es, codec) {
            frames += 1;
            es_bytes += f.bytes.len() as u64;
        }
        if frames == 0 {
            return Err(Error::NoFrames);
        }
        // The clip's average rate with 5% for PS headers, in the 50-byte units of mux_rate.
        let bytes_per_s = es_bytes * u64::from(fps) / frames;
        let mux_rate = u32::try_from(bytes_per_s * 21 / 20 / 50 + 1).unwrap_or(u32::MAX);
        let frame_ticks = (CLOCK_RATE + fps / 2) / fps;
        let mut ps = Vec::with_capacity(es.len() + es.len() / 64 + 64);
        let mut slots = Vec::new();
        for (i, f) in (0u32..).zip(AccessUnits::new(es, codec)) {
            let begin = ps.len();
            let info = ps::FrameInfo {
                pts: u64::from(i) * u64::from(frame_ticks),
                key: f.key,
                stream_type: codec.stream_type(),
                mux_rate,
            };
            ps::write_frame(&mut ps, f.bytes, info);
            let mut pes_at = ps::PACK_HEADER_LEN;
            if f.key {
                pes_at += ps::SYSTEM_HEADER_LEN + ps::PSM_LEN;
            }
            let mut at = begin;
            while at < ps.len() {
                let len = (ps.len() - at).min(MAX_PAYLOAD);
                slots.push(Slot {
                    // In range: the PS of a clip within MAX_CLIP_BYTES is far below 4 GiB.
                    start: u32::try_from(at).unwrap_or(u32::MAX),
                    frame: i,
                    len: len as u16,
                    marker: at + len == ps.len(),
                    // At most 49: the headers before the first PES.
                    pes_at: if at == begin { pes_at as u8 } else { 0 },
                });
                at += len;
            }
        }
        Ok(Template {
            ps,
            slots,
            frames: frames as u32,
            fps,
            frame_ticks,
        })
    }

    /// Frames in one loop of the clip.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// RTP packets in one loop of the clip.
    pub fn packets(&self) -> usize {
        self.slots.len()
    }

    /// The Program Stream of one loop, every packet's payload back to back.
    pub fn ps(&self) -> &[u8] {
        &self.ps
    }

    /// Frames per second.
    pub fn fps(&self) -> u32 {
        self.fps
    }

    /// Timestamp ticks (90 kHz) between frames.
    pub fn frame_ticks(&self) -> u32 {
        self.frame_ticks
    }

    /// Timestamp ticks (90 kHz) one loop of the clip lasts.
    pub fn clip_ticks(&self) -> u32 {
        self.frames.wrapping_mul(self.frame_ticks)
    }

    /// Bytes this template holds (PS and packet table), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.ps.capacity() + self.slots.capacity() * std::mem::size_of::<Slot>()
    }
}

/// One packet to send: its 12-byte RTP header and its payload, borrowed from the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'t> {
    /// The RTP fixed header (no CSRC, no extension).
    pub header: [u8; 12],
    /// The PS bytes it carries, as the template holds them (the first loop's SCR and PTS).
    pub payload: &'t [u8],
    /// On a frame's first packet: where its PES header starts, and the frame's PS time (90 kHz,
    /// counted from the stream's start) to stamp there and in the pack header.
    restamp: Option<(u8, u64)>,
}

impl Packet<'_> {
    /// Appends the packet as sent over UDP (header and payload) to `out`, the PS clock of a
    /// frame's first packet (pack header SCR, PES PTS and DTS) set to the frame's time since
    /// the stream's start, so it goes on across loops of the clip.
    pub fn write(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&self.header);
        out.extend_from_slice(self.payload);
        let Some((pes, t)) = self.restamp else {
            return;
        };
        let p = at + 12;
        let pes = p + usize::from(pes);
        // SCR: bytes 4..10 of the pack header; the mux rate after them is left as it is.
        let scr = ps::pack_header(t, 0);
        if let Some(dst) = out.get_mut(p + 4..p + 10) {
            dst.copy_from_slice(&scr[4..10]);
        }
        // PTS and DTS: 9 and 14 bytes into the PES header (start code, length, flags).
        if let Some(dst) = out.get_mut(pes + 9..pes + 14) {
            dst.copy_from_slice(&ps::timestamp(0x3, t));
        }
        if let Some(dst) = out.get_mut(pes + 14..pes + 19) {
            dst.copy_from_slice(&ps::timestamp(0x1, t));
        }
    }

    /// Appends the packet as sent over TCP: the RFC 4571 length, then as [`write`](Self::write).
    pub fn write_tcp(&self, out: &mut Vec<u8>) {
        // At most 12 + MAX_PAYLOAD bytes: fits 16 bits.
        out.extend_from_slice(&(self.len() as u16).to_be_bytes());
        self.write(out);
    }

    /// Bytes on the wire (header and payload) over UDP.
    pub fn len(&self) -> usize {
        12 + self.payload.len()
    }

    /// Never empty: a packet has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True on the last packet of a frame.
    pub fn marker(&self) -> bool {
        self.header[1] & 0x80 != 0
    }

    /// The sequence number.
    pub fn seq(&self) -> u16 {
        u16::from_be_bytes([self.header[2], self.header[3]])
    }

    /// The 90 kHz timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([
            self.header[4],
            self.header[5],
            self.header[6],
            self.header[7],
        ])
    }

    /// The SSRC.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([
            self.header[8],
            self.header[9],
            self.header[10],
            self.header[11],
        ])
    }

    /// The RFC 4571 length prefix and the RTP header, to write before the payload on TCP.
    pub fn tcp_header(&self) -> [u8; 14] {
        let mut h = [0u8; 14];
        // At most 12 + MAX_PAYLOAD bytes: fits 16 bits.
        h[..2].copy_from_slice(&(self.len() as u16).to_be_bytes());
        h[2..].copy_from_slice(&self.header);
        h
    }
}

/// The 12-byte RTP header: version 2, no padding, extension or CSRC, payload type 96.
pub fn rtp_header(marker: bool, seq: u16, ts: u32, ssrc: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = 0x80;
    h[1] = (u8::from(marker) << 7) | PAYLOAD_TYPE;
    h[2..4].copy_from_slice(&seq.to_be_bytes());
    h[4..8].copy_from_slice(&ts.to_be_bytes());
    h[8..12].copy_from_slice(&ssrc.to_be_bytes());
    h
}

/// One stream's place in a shared [`Template`]: all the per-stream state there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    ssrc: u32,
    /// Timestamp of the current loop's first frame.
    ts_base: u32,
    /// Index of the next packet to send in the template.
    next: u32,
    /// Loops of the clip completed.
    loops: u32,
    /// Sequence number of the next packet.
    seq: u16,
}

impl Stream {
    /// A stream at the clip's start: first packet numbered `seq0`, first frame stamped `ts0`.
    pub fn new(ssrc: u32, seq0: u16, ts0: u32) -> Stream {
        Stream {
            ssrc,
            ts_base: ts0,
            next: 0,
            loops: 0,
            seq: seq0,
        }
    }

    /// The SSRC in every header.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet gets.
    pub fn seq(&self) -> u16 {
        self.seq
    }

    /// Loops of the clip completed.
    pub fn loops(&self) -> u32 {
        self.loops
    }

    /// Frames begun so far across loops: the index, counted from the stream's start, of the
    /// frame the next packet belongs to.
    pub fn frame_number(&self, t: &Template) -> u64 {
        let in_loop = t
            .slots
            .get(self.next as usize)
            .map_or(0, |s| u64::from(s.frame));
        u64::from(self.loops) * u64::from(t.frames) + in_loop
    }

    /// When the frame of the next packet is due, µs after the stream's start (frame `k` at
    /// `k / fps` s): the host compares it with its own clock.
    pub fn due_us(&self, t: &Template) -> u64 {
        self.frame_number(t).saturating_mul(1_000_000) / u64::from(t.fps.max(1))
    }

    /// The next packet, stamped; the stream moves past it (to the clip's start, one more loop
    /// completed, after its last packet). `None` only for a template shorter than the one the
    /// stream has been following (`from_annexb` never builds one without packets).
    pub fn next_packet<'t>(&mut self, t: &'t Template) -> Option<Packet<'t>> {
        let s = *t.slots.get(self.next as usize)?;
        let ts = self
            .ts_base
            .wrapping_add(s.frame.wrapping_mul(t.frame_ticks));
        let start = s.start as usize;
        let payload = t.ps.get(start..start + usize::from(s.len))?;
        let header = rtp_header(s.marker, self.seq, ts, self.ssrc);
        let frame = u64::from(self.loops) * u64::from(t.frames) + u64::from(s.frame);
        let restamp = (s.pes_at > 0).then(|| (s.pes_at, frame * u64::from(t.frame_ticks)));
        self.seq = self.seq.wrapping_add(1);
        self.next += 1;
        if self.next as usize >= t.slots.len() {
            self.next = 0;
            self.loops = self.loops.wrapping_add(1);
            self.ts_base = self.ts_base.wrapping_add(t.clip_ticks());
        }
        Some(Packet {
            header,
            payload,
            restamp,
        })
    }

    /// Moves past the current frame without sending it (a sender whose connection is backed
    /// up skips whole frames): its sequence numbers stay unused, so the receiver sees no RTP
    /// loss, and the next frame keeps its own timestamp.
    pub fn skip_frame(&mut self, t: &Template) {
        let seq = self.seq;
        for _ in self.frame(t) {}
        self.seq = seq;
    }

    /// The rest of the current frame's packets, up to and including its marker packet. A
    /// caller that stops early (a full socket) resumes where it stopped on the next call.
    pub fn frame<'s, 't>(&'s mut self, t: &'t Template) -> FramePackets<'s, 't> {
        FramePackets {
            stream: self,
            template: t,
            done: false,
        }
    }
}

/// The packets of one frame of a [`Stream`]; see [`Stream::frame`].
#[derive(Debug)]
pub struct FramePackets<'s, 't> {
    stream: &'s mut Stream,
    template: &'t Template,
    done: bool,
}

impl<'t> Iterator for FramePackets<'_, 't> {
    type Item = Packet<'t>;

    fn next(&mut self) -> Option<Packet<'t>> {
        if self.done {
            return None;
        }
        let p = self.stream.next_packet(self.template)?;
        self.done = p.marker();
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three frames: an IDR of 3,000 bytes, two P slices of 10 and 1,500 bytes.
    fn clip() -> Vec<u8> {
        let mut es = vec![
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88,
        ];
        es.extend(std::iter::repeat_n(0x11, 3000));
        es.extend_from_slice(&[0, 0, 1, 0x41, 0x9a, 1, 2, 3, 4, 5, 6, 7, 8]);
        es.extend_from_slice(&[0, 0, 1, 0x41, 0x9a]);
        es.extend(std::iter::repeat_n(0x22, 1500));
        es
    }

    #[test]
    fn header_fields() {
        let h = rtp_header(true, 0x1234, 0xDEAD_BEEF, 0x0BEB_D0D0);
        assert_eq!(
            h,
            [
                0x80, 0xE0, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x0B, 0xEB, 0xD0, 0xD0
            ]
        );
        let p = Packet {
            header: h,
            payload: &[9; 100],
            restamp: None,
        };
        assert_eq!(&p.tcp_header()[..2], &[0, 112]);
        assert_eq!(
            (p.marker(), p.seq(), p.timestamp(), p.ssrc()),
            (true, 0x1234, 0xDEAD_BEEF, 0x0BEB_D0D0)
        );
    }

    #[test]
    fn frames_cut_into_packets_with_marker_and_one_timestamp() {
        let t = Template::from_annexb(&clip(), Codec::H264, 25).unwrap();
        assert_eq!(
            (t.frames(), t.frame_ticks(), t.clip_ticks()),
            (3, 3600, 10_800)
        );
        let mut s = Stream::new(7, 65_534, u32::MAX - 100);
        let mut payload = Vec::new();
        let mut per_frame = Vec::new();
        for f in 0..3 {
            let pkts: Vec<_> = s.frame(&t).collect();
            assert!(pkts.iter().all(|p| p.payload.len() <= MAX_PAYLOAD));
            assert!(pkts[..pkts.len() - 1].iter().all(|p| !p.marker()));
            assert!(pkts[pkts.len() - 1].marker());
            let want = (u32::MAX - 100).wrapping_add(f * 3600);
            assert!(pkts.iter().all(|p| p.timestamp() == want && p.ssrc() == 7));
            pkts.iter()
                .for_each(|p| payload.extend_from_slice(p.payload));
            per_frame.push(pkts.len());
        }
        // 3,000+ bytes of IDR with PS headers: 3 packets; the small P: 1; the 1,500 P: 2.
        assert_eq!(per_frame, [3, 1, 2]);
        assert_eq!(payload, t.ps());
        assert!(t.heap_bytes() >= t.ps().len() + t.packets() * 12);
        assert_eq!(s.seq(), 65_534u16.wrapping_add(6));
    }

    #[test]
    fn seq_and_timestamp_go_on_across_loops_and_due_times_follow_frames() {
        let t = Template::from_annexb(&clip(), Codec::H264, 25).unwrap();
        let mut s = Stream::new(1, 100, 5000);
        let mut last: Option<Packet> = None;
        for _ in 0..t.packets() * 3 + 2 {
            let due = s.due_us(&t);
            let p = s.next_packet(&t).unwrap();
            if let Some(l) = last {
                assert_eq!(p.seq(), l.seq().wrapping_add(1));
                let step = p.timestamp().wrapping_sub(l.timestamp());
                assert_eq!(step, if l.marker() { 3600 } else { 0 });
            }
            assert_eq!(u64::from(p.timestamp() - 5000) / 3600 * 40_000, due);
            last = Some(p);
        }
        assert_eq!(s.loops(), 3);
        assert_eq!(s.frame_number(&t), 9);
        let mut s = Stream::new(1, 0, 0);
        for _ in 0..t.packets() {
            assert!(s.next_packet(&t).is_some());
        }
        assert_eq!(
            (s.loops(), s.frame_number(&t), s.due_us(&t)),
            (1, 3, 120_000)
        );
    }

    #[test]
    fn a_skipped_frame_uses_no_sequence_numbers_and_the_next_keeps_its_time() {
        let t = Template::from_annexb(&clip(), Codec::H264, 25).unwrap();
        let mut s = Stream::new(1, 100, 5000);
        s.skip_frame(&t);
        assert_eq!(
            (s.seq(), s.frame_number(&t), s.due_us(&t)),
            (100, 1, 40_000)
        );
        let p: Vec<Packet> = s.frame(&t).collect();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].seq(), p[0].timestamp()), (100, 5000 + 3600));
        assert!(p[0].marker());
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(
            Template::from_annexb(&clip(), Codec::H264, 0).unwrap_err(),
            Error::BadFps(0)
        );
        assert_eq!(
            Template::from_annexb(&[1, 2, 3], Codec::H264, 25).unwrap_err(),
            Error::NoFrames
        );
        assert!(Error::NoFrames.to_string().contains("Annex-B"));
    }

    #[test]
    fn written_packets_carry_a_ps_clock_that_goes_on_across_loops() {
        use crate::media::ps::tests::{pts, scr};
        let t = Template::from_annexb(&clip(), Codec::H264, 25).unwrap();
        let mut s = Stream::new(7, 0, 0);
        let (mut out, mut firsts) = (Vec::new(), 0);
        // Three loops of three frames: frame k (from the stream's start) is stamped k × 3600.
        for k in 0..9u64 {
            let mut first = true;
            for p in s.frame(&t) {
                out.clear();
                p.write(&mut out);
                assert_eq!(out.len(), p.len());
                assert_eq!(&out[..12], &p.header);
                let ps = &out[12..];
                if first {
                    firsts += 1;
                    assert_eq!(&ps[..4], &[0, 0, 1, 0xBA]);
                    assert_eq!(scr(ps), k * 3600, "frame {k}");
                    // The clip's frame 0 is a key frame: system header and PSM before its PES.
                    let pes = if k % 3 == 0 { 14 + 15 + 20 } else { 14 };
                    assert_eq!(&ps[pes..pes + 4], &[0, 0, 1, 0xE0]);
                    assert_eq!(pts(&ps[pes + 9..]), k * 3600, "PTS of frame {k}");
                    assert_eq!(pts(&ps[pes + 14..]), k * 3600, "DTS of frame {k}");
                    // The PES header's prefixes survive: '0011' PTS, '0001' DTS.
                    assert_eq!((ps[pes + 9] >> 4, ps[pes + 14] >> 4), (3, 1));
                } else {
                    // Later packets of a frame are the template's bytes.
                    assert_eq!(ps, p.payload);
                }
                first = false;
                let mut tcp = Vec::new();
                p.write_tcp(&mut tcp);
                assert_eq!(&tcp[..2], &(out.len() as u16).to_be_bytes());
                assert_eq!(&tcp[2..], &out[..]);
            }
        }
        assert_eq!(firsts, 9);
    }

    #[test]
    fn stream_state_is_small() {
        assert!(std::mem::size_of::<Stream>() <= 20);
    }
}
