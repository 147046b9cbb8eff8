//! Byte helpers shared by the parser and the header readers: SIP whitespace trimming, RFC 3261
//! `token` characters and short decimals.
//!
//! Small, `#[inline]` functions on byte slices; they never allocate, never copy and know nothing
//! about SIP messages or headers.

/// Parses an unsigned decimal of at most 9 digits (no sign, no spaces).
pub(crate) fn parse_decimal(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 {
        return None;
    }
    let mut n: u32 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    Some(n)
}

/// RFC 3261 `token` characters, as a lookup table.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// True for RFC 3261 `token` characters.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// Drops trailing spaces, tabs, CRs and LFs.
#[inline]
pub(crate) fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if matches!(*last, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Drops trailing spaces and tabs (the blanks allowed between a header name and its colon).
#[inline]
pub(crate) fn trim_blanks_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Drops leading spaces, tabs, CRs and LFs.
#[inline]
pub(crate) fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if matches!(*first, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Drops spaces, tabs, CRs and LFs at both ends.
#[inline]
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    trim_end(trim_start(s))
}
