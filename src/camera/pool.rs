//! Copies of in-flight UDP requests, kept only until their transaction ends.
//!
//! Buffers are recycled, so once the pool has grown to the worker's peak number of concurrent
//! transactions, retransmission costs no allocation; a camera holds only a `u32` handle.

/// Handle value meaning "no buffer".
pub const NONE: u32 = u32::MAX;

/// A recycling store of byte buffers addressed by `u32` handles.
#[derive(Debug, Default)]
pub struct BufPool {
    bufs: Vec<Vec<u8>>,
    free: Vec<u32>,
}

impl BufPool {
    /// Stores a copy of `bytes` and returns its handle.
    pub fn put(&mut self, bytes: &[u8]) -> u32 {
        match self.free.pop() {
            Some(h) => {
                let b = &mut self.bufs[h as usize];
                b.clear();
                b.extend_from_slice(bytes);
                h
            }
            None => {
                self.bufs.push(bytes.to_vec());
                (self.bufs.len() - 1) as u32
            }
        }
    }

    /// The bytes behind a handle (empty for `NONE` or a released handle).
    pub fn get(&self, h: u32) -> &[u8] {
        self.bufs.get(h as usize).map_or(&[], |b| b.as_slice())
    }

    /// Returns a handle's buffer to the pool; `NONE` is ignored.
    pub fn release(&mut self, h: u32) {
        if h != NONE && (h as usize) < self.bufs.len() {
            self.bufs[h as usize].clear();
            self.free.push(h);
        }
    }

    /// Buffers currently holding a request.
    pub fn in_use(&self) -> usize {
        self.bufs.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycles_handles() {
        let mut p = BufPool::default();
        let a = p.put(b"one");
        let b = p.put(b"two");
        assert_eq!(p.get(a), b"one");
        p.release(a);
        let c = p.put(b"three");
        assert_eq!(c, a);
        assert_eq!(p.get(c), b"three");
        assert_eq!(p.get(b), b"two");
        assert_eq!(p.in_use(), 2);
        p.release(NONE);
        assert_eq!(p.get(NONE), b"");
    }
}
