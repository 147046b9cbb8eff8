//! The pieces inside a header value: comma-separated values, `;name=value` parameters and
//! quoted strings.
//!
//! Splitting respects double quotes (with backslash escapes) and `<...>`, so a comma or
//! semicolon inside a quoted display name or a URI does not cut a value. Everything borrows
//! from the value it was given: this file never allocates, never copies (a [`QStr`] reads its
//! escapes in place) and knows nothing about which header the value came from.

use super::bytes::{trim, trim_start};
use super::scan;

/// Splits a header value into its comma-separated values, respecting quotes and `<...>`.
#[derive(Clone, Debug)]
pub struct CommaValues<'a> {
    rest: &'a [u8],
}

impl<'a> CommaValues<'a> {
    /// Iterates over the values of one header line.
    pub fn new(value: &'a [u8]) -> Self {
        CommaValues { rest: value }
    }
}

impl<'a> Iterator for CommaValues<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (end, next) = match find_unquoted(self.rest, b',') {
                Some(i) => (i, i + 1),
                None => (self.rest.len(), self.rest.len()),
            };
            let item = trim(&self.rest[..end]);
            self.rest = &self.rest[next..];
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Finds `needle` outside double quotes and angle brackets, jumping with memchr.
pub(super) fn find_unquoted(s: &[u8], needle: u8) -> Option<usize> {
    find_unquoted2(s, needle, needle)
}

/// Finds `a` or `b` outside double quotes and angle brackets (neither may be `"`; `<` only
/// as both, to find the bracket itself).
#[inline]
pub(super) fn find_unquoted2(s: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        // Short runs (parameters) are faster without the vectorised search's set-up.
        let found = if rest.len() < 64 {
            if a == b {
                scan::find3(a, b'"', b'<', rest)
            } else {
                scan::find4(a, b, b'"', b'<', rest)
            }
        } else if a == b {
            memchr::memchr3(a, b'"', b'<', rest)
        } else {
            memchr::memchr3(a, b, b'"', rest).map(|k| {
                // `<` is rare; look for one before the hit only when the hit is not it.
                scan::find(b'<', &rest[..k]).unwrap_or(k)
            })
        };
        let j = i + found?;
        match s[j] {
            b'"' => i = after_quoted(s, j)?,
            b'<' if a != b'<' => i = after_angled(s, j)?,
            _ => return Some(j),
        }
    }
    None
}

/// The offset just past the quoted string opening at `s[open]`, honouring backslash escapes;
/// `None` if it is not terminated.
fn after_quoted(s: &[u8], open: usize) -> Option<usize> {
    let mut k = open + 1;
    loop {
        let q = k + scan::find2(b'"', b'\\', s.get(k..)?)?;
        if s[q] == b'"' {
            return Some(q + 1);
        }
        k = q + 2;
    }
}

/// The offset just past the `>` closing the `<` at `s[open]`; `None` if there is none.
fn after_angled(s: &[u8], open: usize) -> Option<usize> {
    Some(open + 1 + scan::find(b'>', s.get(open + 1..)?)? + 1)
}

/// `;name[=value]` parameters, as on Via, From/To, Contact and URIs.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// Iterates over a parameter list that starts at (or just before) its first `;`.
    pub fn new(s: &'a [u8]) -> Self {
        Params { rest: s }
    }

    /// The first parameter called `name` (case-insensitive): `Some(None)` if it has no value.
    pub fn get(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        // Same answer as searching the iterator, without splitting parameters it passes over.
        if name.is_empty() {
            return self.clone().find(|(n, _)| n.is_empty()).map(|(_, v)| v);
        }
        let s = self.rest;
        // The list usually starts with its `;`: step over it rather than split off an empty item.
        let mut i = usize::from(s.first() == Some(&b';'));
        while i < s.len() {
            let end = find_unquoted(&s[i..], b';').map_or(s.len(), |e| i + e);
            if let Some(v) = param_named(&s[i..end], name) {
                return Some(v);
            }
            i = end + 1;
        }
        None
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (end, next) = match find_unquoted(self.rest, b';') {
                Some(i) => (i, i + 1),
                None => (self.rest.len(), self.rest.len()),
            };
            let item = trim(&self.rest[..end]);
            self.rest = &self.rest[next..];
            if item.is_empty() {
                continue;
            }
            return Some(match scan::find(b'=', item) {
                Some(eq) => {
                    let v = trim(&item[eq + 1..]);
                    let v = unquote(v).unwrap_or(v);
                    (trim(&item[..eq]), Some(v))
                }
                None => (item, None),
            });
        }
    }
}

/// The value of one `name[=value]` parameter item if it is called `name` (case-insensitive):
/// `Some(None)` when it has no value.
#[inline]
pub(super) fn param_named<'a>(item: &'a [u8], name: &[u8]) -> Option<Option<&'a [u8]>> {
    let (head, rest) = trim_start(item).split_at_checked(name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    match trim_start(rest) {
        [] => Some(None),
        [b'=', v @ ..] => {
            let v = trim(v);
            Some(Some(unquote(v).unwrap_or(v)))
        }
        _ => None,
    }
}

/// The inside of `v` if it is wrapped in double quotes.
pub(super) fn unquote(v: &[u8]) -> Option<&[u8]> {
    if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        Some(&v[1..v.len() - 1])
    } else {
        None
    }
}

/// A parameter value that may be a quoted string with backslash escapes, read without copying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QStr<'a> {
    // Visible to `auth`, which finds the quotes and escapes in the same walk that splits
    // the parameters.
    /// The bytes as written, escapes included.
    pub(super) raw: &'a [u8],
    /// True if `raw` holds a backslash, so reading it must unescape.
    pub(super) escaped: bool,
}

impl<'a> QStr<'a> {
    /// Wraps an unquoted token or the inside of a quoted string.
    pub fn new(raw: &'a [u8]) -> Self {
        QStr {
            raw,
            escaped: scan::find(b'\\', raw).is_some(),
        }
    }

    /// The bytes as written (escapes included).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The unescaped value in pieces, to hash or copy without an intermediate buffer.
    pub fn chunks(&self) -> QChunks<'a> {
        QChunks {
            rest: self.raw,
            escaped: self.escaped,
        }
    }

    /// True if the unescaped value equals `other`.
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        if !self.escaped {
            return self.raw == other;
        }
        let mut o = other;
        for c in self.chunks() {
            if o.len() < c.len() || &o[..c.len()] != c {
                return false;
            }
            o = &o[c.len()..];
        }
        o.is_empty()
    }

    /// Appends the unescaped value to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for c in self.chunks() {
            out.extend_from_slice(c);
        }
    }
}

/// Pieces of a [`QStr`] with escapes removed.
#[derive(Clone, Debug)]
pub struct QChunks<'a> {
    rest: &'a [u8],
    escaped: bool,
}

impl<'a> Iterator for QChunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        if !self.escaped {
            let all = self.rest;
            self.rest = b"";
            return Some(all);
        }
        // The first byte is part of the chunk even if it is an escaped backslash.
        let cut = scan::find(b'\\', &self.rest[1..]).map_or(self.rest.len(), |i| i + 1);
        let chunk = &self.rest[..cut];
        self.rest = self.rest.get(cut + 1..).unwrap_or(b"");
        Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_values_respect_quotes() {
        let v: Vec<&[u8]> = CommaValues::new(b"<sip:a,b>;x=1, \"q,r\" <sip:c>, sip:d").collect();
        assert_eq!(v, vec![&b"<sip:a,b>;x=1"[..], b"\"q,r\" <sip:c>", b"sip:d"]);
    }
}
