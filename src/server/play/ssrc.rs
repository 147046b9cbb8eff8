//! SSRCs allocated the way GB28181 platforms do: 10 decimal digits, the first `0` for live
//! video, the next five from the SIP domain (wvp-GB28181-pro takes characters 4 to 8 of it),
//! the last four a sequence from 0001 to 9999 taken from a pool and given back when the
//! session ends. Platforms that leak sessions run this pool dry ("ssrc已经用完"); here an
//! exhausted pool is counted by the caller, never papered over.
//!
//! With several workers each takes every n-th sequence, so no two workers hand out the same
//! SSRC. Sequences come back to the end of a first-in first-out queue, so one just returned is
//! the last to be handed out again (packets of the old stream still in flight are not taken
//! for the new one's). Never allocates after [`Pool::new`].

use std::collections::VecDeque;

/// The highest sequence of the four-digit field.
pub const MAX_SEQUENCE: u16 = 9999;

/// The five digits a domain contributes: its characters 4 to 8 when they are digits, else
/// `00000`.
pub fn domain_digits(domain: &str) -> [u8; 5] {
    match domain.as_bytes().get(3..8) {
        Some(d) if d.iter().all(u8::is_ascii_digit) => [d[0], d[1], d[2], d[3], d[4]],
        _ => *b"00000",
    }
}

/// One worker's share of the live SSRCs of a domain.
#[derive(Debug)]
pub struct Pool {
    /// The live SSRC with sequence 0: `0DDDDD0000` as a number.
    base: u32,
    free: VecDeque<u16>,
    size: usize,
}

impl Pool {
    /// The sequences `s` in 1..=9999 with `(s - 1) % workers == worker`, under `domain`'s
    /// five digits.
    pub fn new(domain: &str, worker: usize, workers: usize) -> Pool {
        let workers = workers.max(1);
        let d = domain_digits(domain);
        let base = d.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0')) * 10_000;
        let free: VecDeque<u16> = (1..=MAX_SEQUENCE)
            .filter(|s| usize::from(s - 1) % workers == worker % workers)
            .collect();
        Pool {
            base,
            size: free.len(),
            free,
        }
    }

    /// An SSRC and its sequence, or `None` when every one is in use.
    pub fn take(&mut self) -> Option<(u32, u16)> {
        let s = self.free.pop_front()?;
        Some((self.base + u32::from(s), s))
    }

    /// Gives a sequence back (one not taken, or given back twice, is ignored).
    pub fn give_back(&mut self, seq: u16) {
        if self.free.len() < self.size && (1..=MAX_SEQUENCE).contains(&seq) {
            self.free.push_back(seq);
        }
    }

    /// SSRCs handed out and not given back.
    pub fn in_use(&self) -> usize {
        self.size - self.free.len()
    }

    /// How many this pool holds.
    pub fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::format_ssrc;

    #[test]
    fn ssrcs_are_live_domain_digits_and_a_sequence() {
        assert_eq!(&domain_digits("3402000000"), b"20000");
        assert_eq!(&domain_digits("4401020049"), b"10200");
        assert_eq!(&domain_digits("ab"), b"00000");
        assert_eq!(&domain_digits("340x000000"), b"00000");
        let mut p = Pool::new("4401020049", 0, 1);
        let (ssrc, seq) = p.take().unwrap();
        assert_eq!((&format_ssrc(ssrc), seq), (b"0102000001", 1));
        assert_eq!(&format_ssrc(p.take().unwrap().0), b"0102000002");
        assert_eq!(p.in_use(), 2);
    }

    #[test]
    fn the_pool_runs_dry_at_9999_and_refills_as_sessions_end() {
        let mut p = Pool::new("3402000000", 0, 1);
        let mut got = Vec::new();
        while let Some((ssrc, seq)) = p.take() {
            assert_eq!(ssrc, 200_000_000 + u32::from(seq));
            got.push(seq);
        }
        assert_eq!(got.len(), 9999);
        assert_eq!(got.last(), Some(&9999));
        assert_eq!((p.in_use(), p.take()), (9999, None), "exhausted");
        p.give_back(17);
        p.give_back(4);
        assert_eq!(p.in_use(), 9997);
        assert_eq!(
            p.take(),
            Some((200_000_017, 17)),
            "first returned, first reused"
        );
        assert_eq!(p.take(), Some((200_000_004, 4)));
        assert_eq!(p.take(), None);
    }

    #[test]
    fn a_just_returned_sequence_is_reused_last_and_bad_returns_are_ignored() {
        let mut p = Pool::new("3402000000", 0, 1);
        let (_, a) = p.take().unwrap();
        p.give_back(a);
        assert_ne!(p.take().unwrap().1, a);
        p.give_back(0);
        p.give_back(10_000);
        let mut q = Pool::new("3402000000", 0, 1);
        q.give_back(5);
        assert_eq!(q.in_use(), 0, "a pool never grows past its size");
    }

    #[test]
    fn workers_share_the_sequences_without_overlap() {
        let mut seen = std::collections::HashSet::new();
        let mut total = 0;
        for w in 0..3 {
            let mut p = Pool::new("3402000000", w, 3);
            total += p.size();
            while let Some((ssrc, _)) = p.take() {
                assert!(seen.insert(ssrc), "{ssrc} twice");
            }
        }
        assert_eq!(total, 9999);
    }
}
