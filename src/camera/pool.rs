//! Copies of in-flight UDP requests, kept only until their transaction ends.
//!
//! Buffers are recycled, so once the pool has grown to the worker's peak number of concurrent
//! transactions, retransmission costs no allocation; a camera holds only an `Option<BufId>`,
//! as small as a `u32`.

use std::num::NonZeroU32;

/// A handle to one buffer of the pool (its index plus one, so `Option<BufId>` is four bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufId(NonZeroU32);

impl BufId {
    fn new(index: usize) -> BufId {
        let n = u32::try_from(index).map_or(u32::MAX, |i| i.saturating_add(1));
        BufId(NonZeroU32::new(n).unwrap_or(NonZeroU32::MAX))
    }

    fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
}

/// A recycling store of byte buffers addressed by `u32` handles.
#[derive(Debug, Default)]
pub struct BufPool {
    bufs: Vec<Vec<u8>>,
    free: Vec<BufId>,
}

impl BufPool {
    /// Stores a copy of `bytes` and returns its handle.
    pub fn put(&mut self, bytes: &[u8]) -> BufId {
        if let Some(h) = self.free.pop()
            && let Some(b) = self.bufs.get_mut(h.index())
        {
            b.clear();
            b.extend_from_slice(bytes);
            return h;
        }
        self.bufs.push(bytes.to_vec());
        BufId::new(self.bufs.len() - 1)
    }

    /// The bytes behind a handle (empty for none or a released handle).
    pub fn get(&self, h: Option<BufId>) -> &[u8] {
        h.and_then(|h| self.bufs.get(h.index()))
            .map_or(&[], |b| b.as_slice())
    }

    /// Returns a handle's buffer to the pool; none is ignored.
    pub fn release(&mut self, h: Option<BufId>) {
        if let Some(h) = h
            && let Some(b) = self.bufs.get_mut(h.index())
        {
            b.clear();
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
        assert_eq!(p.get(Some(a)), b"one");
        p.release(Some(a));
        let c = p.put(b"three");
        assert_eq!(c, a);
        assert_eq!(p.get(Some(c)), b"three");
        assert_eq!(p.get(Some(b)), b"two");
        assert_eq!(p.in_use(), 2);
        p.release(None);
        assert_eq!(p.get(None), b"");
        assert_eq!(p.in_use(), 2);
        assert_eq!(std::mem::size_of::<Option<BufId>>(), 4);
    }
}
