//! Bounded receive buffer for one SIP-over-TCP connection.
//!
//! Bytes are read in with [`StreamBuf::fill`] and whole messages are cut from the
//! front with [`super::parse_stream`]. The buffer never grows past its limit (the caller treats
//! a full buffer as an oversize message and closes the connection), and it can drop its memory
//! when idle so that thousands of quiet connections cost nothing at rest. It never parses:
//! finding where a message ends is [`super::parse_stream`]'s job.

/// A growable, bounded byte queue for stream framing.
#[derive(Debug, Default)]
pub struct StreamBuf {
    data: Vec<u8>,
    start: usize,
    limit: usize,
}

/// How many bytes a read asks for at least, so small messages do not cost one syscall each.
const READ_CHUNK: usize = 4096;

impl StreamBuf {
    /// An empty buffer that will hold at most `limit` unconsumed bytes.
    pub fn new(limit: usize) -> Self {
        StreamBuf {
            data: Vec::new(),
            start: 0,
            limit,
        }
    }

    /// The bytes received and not yet consumed.
    #[inline]
    pub fn pending(&self) -> &[u8] {
        &self.data[self.start..]
    }

    /// Drops `n` bytes from the front (a parsed message or keep-alive padding).
    #[inline]
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.data.len());
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }

    /// Reads once into free room with `read` (e.g. `|b| stream.read(b)`); `Ok(None)` when
    /// `limit` unconsumed bytes are already held, so the caller can refuse the peer.
    pub fn fill<E>(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Option<usize>, E> {
        let pending = self.data.len() - self.start;
        if pending >= self.limit {
            return Ok(None);
        }
        if self.start > 0 {
            self.data.copy_within(self.start.., 0);
            self.data.truncate(pending);
            self.start = 0;
        }
        let want = READ_CHUNK.min(self.limit - pending);
        self.data.resize(pending + want, 0);
        let got = read(&mut self.data[pending..]);
        let n = *got.as_ref().unwrap_or(&0);
        self.data.truncate(pending + n.min(want));
        got.map(Some)
    }

    /// Frees the heap memory if nothing is pending (for idle connections).
    pub fn release_if_empty(&mut self) {
        if self.start == self.data.len() {
            self.data = Vec::new();
            self.start = 0;
        }
    }

    /// Heap bytes currently held.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Header, Limits, Parsed, parse_stream};

    fn feed(sb: &mut StreamBuf, mut input: &[u8]) -> usize {
        let mut fed = 0;
        while !input.is_empty() {
            let r = sb.fill(|spare| -> Result<usize, ()> {
                let n = spare.len().min(input.len());
                spare[..n].copy_from_slice(&input[..n]);
                Ok(n)
            });
            let Ok(Some(n)) = r else { break };
            input = &input[n..];
            fed += n;
        }
        fed
    }

    #[test]
    fn messages_cut_in_any_chunks() {
        let one = b"MESSAGE sip:a SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 3\r\n\r\nabc";
        let mut stream = Vec::new();
        stream.extend_from_slice(one);
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(one);
        for chunk in 1..stream.len() {
            let mut sb = StreamBuf::new(1024);
            let mut bodies = 0;
            for piece in stream.chunks(chunk) {
                assert_eq!(feed(&mut sb, piece), piece.len());
                loop {
                    let mut h = [Header::EMPTY; 8];
                    match parse_stream(sb.pending(), &mut h, &Limits::default()).unwrap() {
                        Parsed::Complete { msg, len } => {
                            assert_eq!(msg.body, b"abc");
                            bodies += 1;
                            sb.consume(len);
                        }
                        Parsed::KeepAlive(n) => sb.consume(n),
                        Parsed::Partial => break,
                    }
                }
            }
            assert_eq!(bodies, 2, "chunk size {chunk}");
            assert!(sb.pending().is_empty());
        }
    }

    #[test]
    fn bounded_by_limit_and_released_when_idle() {
        let mut sb = StreamBuf::new(100);
        assert_eq!(feed(&mut sb, &[b'x'; 500]), 100);
        assert_eq!(sb.fill(|_| -> Result<usize, ()> { Ok(1) }), Ok(None));
        sb.consume(100);
        sb.release_if_empty();
        assert_eq!(sb.capacity(), 0);
    }
}
