//! [`Batch`]: messages to send, written back to back into one reused buffer.
//!
//! Both sans-IO cores answer through one: a registrar's response and the query it sends right
//! after, a scripted peer's replies. The host drains it after every call and clears it; the
//! memory stays, so a steady load allocates nothing here. It never decides where bytes go.

/// Outgoing messages in one buffer, with where each ends.
#[derive(Debug, Default)]
pub struct Batch {
    data: Vec<u8>,
    ends: Vec<usize>,
    /// Where messages after the first are written before being appended.
    spare: Vec<u8>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Appends the message `write` puts into the buffer it is given, which it may clear
    /// first (as [`super::Writer`] does). The first message is written in place; later ones
    /// are written aside and copied after it. Writing nothing adds no message.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if self.data.is_empty() {
            write(&mut self.data);
        } else {
            self.spare.clear();
            write(&mut self.spare);
            self.data.extend_from_slice(&self.spare);
        }
        if self.data.len() > self.ends.last().copied().unwrap_or(0) {
            self.ends.push(self.data.len());
        }
    }

    /// Appends the message `write` adds to the end of the buffer it is given, written in
    /// place (no copy): `write` must only append, never clear or change what is there.
    /// Writing nothing adds nothing.
    pub fn push_appending(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.data.len();
        write(&mut self.data);
        if self.data.len() > start {
            self.ends.push(self.data.len());
        }
    }

    /// Appends a copy of `msg`.
    pub fn push(&mut self, msg: &[u8]) {
        self.push_with(|b| b.extend_from_slice(msg));
    }

    /// Forgets every message (keeps the memory).
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True if there is no message.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Message `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.data.get(start..end)
    }

    /// Every message, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// All messages as one byte run (what a stream transport writes).
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_back_in_order_and_empty_writes_add_nothing() {
        let mut b = Batch::new();
        b.push(b"one");
        b.push_with(|_| {});
        b.push_with(|v| {
            v.clear();
            v.extend_from_slice(b"two")
        });
        assert_eq!(b.len(), 2);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![&b"one"[..], b"two"]);
        assert_eq!(b.bytes(), b"onetwo");
        assert_eq!(b.get(2), None);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.bytes(), b"");
    }
}
