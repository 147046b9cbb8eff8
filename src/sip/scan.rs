//! Byte search tuned for SIP's short spans.
//!
//! SIP lines and parameters are mostly 5–60 bytes long, so the byte sought is near. For those,
//! the setup and indirect call of a vectorised `memchr` cost more than the search; eight bytes
//! at a time in a plain `u64` (no `unsafe`, inlined into the caller) is faster. Searches that
//! may run far (header values of 64 bytes or more, XML bodies) use `memchr` instead. This file
//! only finds bytes: it knows no SIP syntax and never allocates.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of the result is set where `word` has a byte equal to `byte`; the lowest
/// set bit is exact (bits above it may be false positives, which callers never read).
#[inline(always)]
pub(crate) fn zero_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (LO * u64::from(byte));
    x.wrapping_sub(LO) & !x & HI
}

/// Eight bytes at a time while `$hits` (bit 7 of each matching byte of word `$w`, lowest
/// exact) finds none, then the tail byte by byte with `$is`. A macro, not a generic function
/// taking closures: that version measured 2–4% slower on the parse benchmark.
macro_rules! first_hit {
    ($hay:expr, |$w:ident| $hits:expr, |$b:ident| $is:expr) => {{
        let mut chunks = $hay.chunks_exact(8);
        let mut base = 0;
        let mut found = None;
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let $w = u64::from_le_bytes(word);
            let h = $hits;
            if h != 0 {
                found = Some(base + (h.trailing_zeros() / 8) as usize);
                break;
            }
            base += 8;
        }
        match found {
            Some(i) => Some(i),
            None => chunks
                .remainder()
                .iter()
                .position(|&$b| $is)
                .map(|i| base + i),
        }
    }};
}

/// The offset of the first `needle` in `hay`, for a byte expected near the start.
#[inline]
pub fn find(needle: u8, hay: &[u8]) -> Option<usize> {
    first_hit!(hay, |w| zero_bytes(w, needle), |b| b == needle)
}

/// The offset of the first byte of `hay` equal to `a` or `b`, expected near the start.
#[inline]
pub fn find2(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    first_hit!(hay, |w| zero_bytes(w, a) | zero_bytes(w, b), |x| x == a
        || x == b)
}

/// The offset of the first byte of `hay` equal to `a`, `b` or `c`, expected near the start.
#[inline]
pub fn find3(a: u8, b: u8, c: u8, hay: &[u8]) -> Option<usize> {
    first_hit!(
        hay,
        |w| zero_bytes(w, a) | zero_bytes(w, b) | zero_bytes(w, c),
        |x| x == a || x == b || x == c
    )
}

/// The offset of the first byte of `hay` equal to any of `a`, `b`, `c`, `d`, expected near the
/// start.
#[inline]
pub fn find4(a: u8, b: u8, c: u8, d: u8, hay: &[u8]) -> Option<usize> {
    first_hit!(
        hay,
        |w| zero_bytes(w, a) | zero_bytes(w, b) | zero_bytes(w, c) | zero_bytes(w, d),
        |x| x == a || x == b || x == c || x == d
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_first_in_every_position() {
        for len in 0..200 {
            for at in 0..len {
                let mut hay = vec![b'x'; len];
                hay[at] = b'\n';
                if at + 3 < len {
                    hay[at + 3] = b'\n';
                }
                assert_eq!(find(b'\n', &hay), Some(at), "len {len} at {at}");
                assert_eq!(find2(b';', b'\n', &hay), Some(at), "len {len} at {at}");
                assert_eq!(
                    find3(b'"', b';', b'\n', &hay),
                    Some(at),
                    "len {len} at {at}"
                );
                assert_eq!(
                    find4(b'<', b'"', b';', b'\n', &hay),
                    Some(at),
                    "len {len} at {at}"
                );
            }
            assert_eq!(find(b'\n', &vec![b'x'; len]), None);
        }
    }

    #[test]
    fn bytes_next_to_the_needle_are_not_hits() {
        // 0x0b and 0x09 sit either side of '\n'; 0x8a differs only in bit 7.
        let hay = [0x0b, 0x09, 0x8a, 0x0b, 0x09, 0x8a, 0x00, 0xff, 0x0a];
        assert_eq!(find(b'\n', &hay), Some(8));
        assert_eq!(find(0x80, &[0x00, 0x7f, 0x81, 0x80]), Some(3));
        assert_eq!(find(0x00, &[0x01, 0x80, 0xff, 0x00, 0x00]), Some(3));
    }

    proptest! {
        #[test]
        fn agrees_with_memchr(hay in proptest::collection::vec(any::<u8>(), 0..300), a: u8, b: u8) {
            prop_assert_eq!(find(a, &hay), memchr::memchr(a, &hay));
            prop_assert_eq!(find2(a, b, &hay), memchr::memchr2(a, b, &hay));
            prop_assert_eq!(find3(a, b, b'"', &hay), memchr::memchr3(a, b, b'"', &hay));
            prop_assert_eq!(
                find4(a, b, b'"', b'<', &hay),
                hay.iter().position(|&x| x == a || x == b || x == b'"' || x == b'<')
            );
        }

        #[test]
        fn agrees_with_memchr_on_sparse_bytes(
            hay in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b';'), Just(0x8a), Just(0x0b), any::<u8>()], 0..300),
        ) {
            prop_assert_eq!(find(b'\n', &hay), memchr::memchr(b'\n', &hay));
            prop_assert_eq!(find2(b';', b'\n', &hay), memchr::memchr2(b';', b'\n', &hay));
            prop_assert_eq!(find3(b';', 0x8a, b'\n', &hay), memchr::memchr3(b';', 0x8a, b'\n', &hay));
        }
    }
}
