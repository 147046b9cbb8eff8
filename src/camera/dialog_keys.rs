//! A dialog's identifiers (Call-ID, tags, From and To as written, the peer's Contact, ...)
//! kept in one buffer with where each ends, so a table slot that is reused keeps the buffer's
//! capacity and costs no allocation once warm. The INVITE server's sessions and the
//! subscription table's dialogs both keep theirs this way.
//!
//! It never parses anything: the caller decides what the identifiers are and in which order
//! (its own index constants).

/// `N` identifiers in one buffer.
#[derive(Debug)]
pub(crate) struct DialogKeys<const N: usize> {
    bytes: Vec<u8>,
    /// Where each identifier ends in `bytes` (u32: a SIP message is far shorter).
    ends: [u32; N],
}

fn len32(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap_or(u32::MAX)
}

impl<const N: usize> DialogKeys<N> {
    /// None kept; the buffer grows on first use.
    pub const fn new() -> Self {
        DialogKeys {
            bytes: Vec::new(),
            ends: [0; N],
        }
    }

    /// Stores `parts`, in the order of the caller's index constants.
    pub fn set(&mut self, parts: [&[u8]; N]) {
        self.bytes.clear();
        for (end, part) in self.ends.iter_mut().zip(parts) {
            self.bytes.extend_from_slice(part);
            *end = len32(&self.bytes);
        }
    }

    /// Replaces the last identifier in place (the others stay).
    pub fn set_last(&mut self, value: &[u8]) {
        let Some(last) = N.checked_sub(1) else {
            return;
        };
        let start = last
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .map_or(0, |e| *e as usize);
        self.bytes.truncate(start);
        self.bytes.extend_from_slice(value);
        self.ends[last] = len32(&self.bytes);
    }

    /// Identifier `i` (empty if there is none).
    pub fn get(&self, i: usize) -> &[u8] {
        let start = i
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .map_or(0, |e| *e as usize);
        let end = self.ends.get(i).map_or(0, |e| *e as usize);
        self.bytes.get(start..end).unwrap_or(b"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_part_and_replaces_the_last() {
        let mut k = DialogKeys::<3>::new();
        assert_eq!(k.get(0), b"");
        k.set([b"call", b"", b"branch1"]);
        assert_eq!(
            (k.get(0), k.get(1), k.get(2)),
            (&b"call"[..], &b""[..], &b"branch1"[..])
        );
        k.set_last(b"b2");
        assert_eq!((k.get(0), k.get(2)), (&b"call"[..], &b"b2"[..]));
        assert_eq!(k.get(3), b"");
        let cap = k.bytes.capacity();
        k.set([b"c", b"t", b"b"]);
        assert_eq!(
            (k.get(0), k.get(1), k.get(2)),
            (&b"c"[..], &b"t"[..], &b"b"[..])
        );
        assert_eq!(k.bytes.capacity(), cap, "reused, not reallocated");
    }
}
