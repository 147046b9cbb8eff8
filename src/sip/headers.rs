//! Typed, allocation-free views of the headers gbswarm uses.
//!
//! Every accessor borrows from the received bytes. Header names are matched case-insensitively
//! and compact forms (`v f t i m l c k s e`) are folded into their long form once, at parse time
//! ([`HeaderKind`]), so a lookup is a byte compare per header. Quoted strings keep their escapes
//! in the slice; [`QStr`] reads them without copying.

use super::bytes::{is_token, parse_decimal, trim, trim_start};
use super::message::{Header, Message, Method};
use super::names::{FOLD_ALL, HeaderKind, fold};
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
fn find_unquoted(s: &[u8], needle: u8) -> Option<usize> {
    find_unquoted2(s, needle, needle)
}

/// Finds `a` or `b` outside double quotes and angle brackets (neither may be `"`; `<` only
/// as both, to find the bracket itself).
#[inline]
fn find_unquoted2(s: &[u8], a: u8, b: u8) -> Option<usize> {
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
fn param_named<'a>(item: &'a [u8], name: &[u8]) -> Option<Option<&'a [u8]>> {
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

fn unquote(v: &[u8]) -> Option<&[u8]> {
    if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        Some(&v[1..v.len() - 1])
    } else {
        None
    }
}

/// A host and optional port, as in a Via sent-by or a URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPort<'a> {
    /// Host name or address (IPv6 keeps its brackets).
    pub host: &'a [u8],
    /// Port, if written.
    pub port: Option<u16>,
}

impl<'a> HostPort<'a> {
    /// Splits `host[:port]`, handling `[v6]:port`; `None` if the port is not a number.
    pub fn parse(s: &'a [u8]) -> Option<Self> {
        let s = trim(s);
        if s.is_empty() {
            return None;
        }
        let (host, port) = if s[0] == b'[' {
            let close = scan::find(b']', s)?;
            let host = &s[..=close];
            match &s[close + 1..] {
                [] => (host, None),
                [b':', p @ ..] => (host, Some(p)),
                _ => return None,
            }
        } else {
            match scan::find(b':', s) {
                Some(c) => (&s[..c], Some(&s[c + 1..])),
                None => (s, None),
            }
        };
        let port = match port {
            Some(p) => Some(u16::try_from(parse_decimal(p)?).ok()?),
            None => None,
        };
        Some(HostPort { host, port })
    }
}

/// The topmost (or any one) Via value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// The whole value, as written.
    pub raw: &'a [u8],
    /// Transport token: `UDP`, `TCP`, ...
    pub transport: &'a [u8],
    /// sent-by host and port.
    pub sent_by: HostPort<'a>,
    /// The parameters after sent-by, starting with `;`.
    pub params: &'a [u8],
    branch: Option<&'a [u8]>,
}

impl<'a> Via<'a> {
    /// Parses `SIP/2.0/UDP host:port;params`, stopping at a comma that starts another Via
    /// (so it accepts a whole header line as well as one value).
    pub fn parse(v: &'a [u8]) -> Option<Self> {
        let v = trim(v);
        let ws = v.iter().position(|b| b.is_ascii_whitespace())?;
        let transport = match v[..ws] {
            // The usual spelling, checked in one piece.
            [s, i, p, b'/', b'2', b'.', b'0', b'/', ref t @ ..]
                if [s, i, p].eq_ignore_ascii_case(b"SIP") && !t.contains(&b'/') =>
            {
                t
            }
            _ => return None,
        };
        let rest = &v[ws..];
        // sent-by runs to the first `;` (parameters) or `,` (the next Via).
        let mut end = scan::find2(b';', b',', rest).unwrap_or(rest.len());
        let sent_by = HostPort::parse(&rest[..end])?;
        let params_start = end;
        // One walk over the parameters finds where this Via ends (a comma outside quotes) and
        // picks up the branch on the way, so `branch()` costs nothing.
        let mut branch = None;
        while rest.get(end) == Some(&b';') {
            let from = end + 1;
            end = find_unquoted2(&rest[from..], b';', b',').map_or(rest.len(), |k| from + k);
            if branch.is_none() {
                branch = param_named(&rest[from..end], b"branch");
            }
        }
        let params = trim(&rest[params_start..end]);
        let raw_len = params.as_ptr() as usize + params.len() - v.as_ptr() as usize;
        Some(Via {
            raw: &v[..raw_len.max(ws)],
            transport,
            sent_by,
            params,
            branch: branch.flatten(),
        })
    }

    /// The `branch` parameter (the transaction ID).
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.branch
    }

    /// `rport`: `Some(None)` when requested without a value, `Some(Some(p))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        let v = Params::new(self.params).get(b"rport")?;
        Some(v.and_then(|p| parse_decimal(p).and_then(|n| u16::try_from(n).ok())))
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&'a [u8]> {
        Params::new(self.params).get(b"received").flatten()
    }
}

/// A SIP URI split into its parts (`sip:user@host:port;params`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The scheme, `sip` or `sips` usually.
    pub scheme: &'a [u8],
    /// The user part, if any.
    pub user: Option<&'a [u8]>,
    /// Host and port.
    pub host_port: HostPort<'a>,
    /// URI parameters and headers after the host, starting with `;` or `?`.
    pub params: &'a [u8],
}

impl<'a> Uri<'a> {
    /// Parses a URI; `None` if it has no scheme or host.
    pub fn parse(u: &'a [u8]) -> Option<Self> {
        let u = trim(u);
        let colon = scan::find(b':', u)?;
        let scheme = &u[..colon];
        let rest = &u[colon + 1..];
        let end = rest
            .iter()
            .position(|&b| b == b';' || b == b'?')
            .unwrap_or(rest.len());
        let (userinfo_host, params) = rest.split_at(end);
        let (user, host) = match memchr::memrchr(b'@', userinfo_host) {
            Some(at) => {
                let ui = &userinfo_host[..at];
                // A password after ':' in the userinfo is not used by gbswarm.
                let user = &ui[..scan::find(b':', ui).unwrap_or(ui.len())];
                (Some(user), &userinfo_host[at + 1..])
            }
            None => (None, userinfo_host),
        };
        Some(Uri {
            scheme,
            user,
            host_port: HostPort::parse(host)?,
            params,
        })
    }
}

/// A From, To or Contact value: optional display name, URI and header parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name, quotes removed, if any.
    pub display: Option<&'a [u8]>,
    /// The URI inside `<...>`, or the bare URI.
    pub uri: &'a [u8],
    /// Header parameters (`;tag=...`, `;expires=...`), starting with `;`.
    pub params: &'a [u8],
}

impl<'a> NameAddr<'a> {
    /// Parses `["name"] <uri>;params` or `uri;params`.
    pub fn parse(v: &'a [u8]) -> Option<Self> {
        let v = trim(v);
        if v.is_empty() {
            return None;
        }
        // Usually the value starts with its `<`; otherwise look past a display name.
        let lt = if v[0] == b'<' {
            Some(0)
        } else {
            find_unquoted(v, b'<')
        };
        if let Some(lt) = lt {
            let gt = lt + scan::find(b'>', &v[lt..])?;
            let display = trim(&v[..lt]);
            let display = unquote(display).unwrap_or(display);
            Some(NameAddr {
                display: (!display.is_empty()).then_some(display),
                uri: &v[lt + 1..gt],
                params: &v[gt + 1..],
            })
        } else {
            let semi = scan::find(b';', v).unwrap_or(v.len());
            Some(NameAddr {
                display: None,
                uri: trim(&v[..semi]),
                params: &v[semi..],
            })
        }
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&'a [u8]> {
        Params::new(self.params).get(b"tag").flatten()
    }

    /// The `expires` parameter (Contact).
    pub fn expires(&self) -> Option<u32> {
        Params::new(self.params)
            .get(b"expires")
            .flatten()
            .and_then(parse_decimal)
    }

    /// The URI's user part (the device or server ID in GB28181).
    pub fn user(&self) -> Option<&'a [u8]> {
        Uri::parse(self.uri).and_then(|u| u.user)
    }
}

/// `CSeq: <number> <method>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// Sequence number.
    pub seq: u32,
    /// The method it counts.
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parses `1 REGISTER`.
    pub fn parse(v: &'a [u8]) -> Option<Self> {
        let v = trim(v);
        let ws = v.iter().position(|b| b.is_ascii_whitespace())?;
        let seq = parse_decimal(&v[..ws])?;
        let method = trim(&v[ws..]);
        if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
            return None;
        }
        Some(CSeq {
            seq,
            method: Method::from_bytes(method),
        })
    }
}

/// A parameter value that may be a quoted string with backslash escapes, read without copying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QStr<'a> {
    raw: &'a [u8],
    escaped: bool,
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

/// The parameters of a `WWW-Authenticate` challenge or an `Authorization` answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthParams<'a> {
    /// The scheme (`Digest`).
    pub scheme: &'a [u8],
    /// realm
    pub realm: Option<QStr<'a>>,
    /// nonce
    pub nonce: Option<QStr<'a>>,
    /// opaque (echoed back by the client)
    pub opaque: Option<QStr<'a>>,
    /// qop: a list in a challenge, one value in an answer
    pub qop: Option<QStr<'a>>,
    /// algorithm; absent means MD5
    pub algorithm: Option<QStr<'a>>,
    /// stale=true marks an expired nonce
    pub stale: Option<QStr<'a>>,
    /// username
    pub username: Option<QStr<'a>>,
    /// digest-uri
    pub uri: Option<QStr<'a>>,
    /// response (hex digest)
    pub response: Option<QStr<'a>>,
    /// cnonce
    pub cnonce: Option<QStr<'a>>,
    /// nc (nonce count, 8 hex digits)
    pub nc: Option<QStr<'a>>,
}

impl<'a> AuthParams<'a> {
    /// Parses `Digest k=v, k="v", ...`; `None` if there is no scheme.
    pub fn parse(v: &'a [u8]) -> Option<Self> {
        let v = trim(v);
        let sp = v
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(v.len());
        let scheme = &v[..sp];
        if scheme.is_empty() || !scheme.iter().all(|&b| is_token(b)) {
            return None;
        }
        let mut p = AuthParams {
            scheme,
            ..AuthParams::default()
        };
        // One pass over `name = value | name = "quoted"` items separated by commas.
        let rest = &v[sp..];
        let n = rest.len();
        let lws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        let mut i = 0;
        loop {
            while i < n && (lws(rest[i]) || rest[i] == b',') {
                i += 1;
            }
            if i >= n {
                break;
            }
            let name_start = i;
            while i < n && is_token(rest[i]) {
                i += 1;
            }
            let name = &rest[name_start..i];
            while i < n && lws(rest[i]) {
                i += 1;
            }
            if name.is_empty() || i >= n || rest[i] != b'=' {
                // Not a parameter: skip to the next comma outside quotes.
                match find_unquoted(&rest[i..], b',') {
                    Some(c) => {
                        i += c + 1;
                        continue;
                    }
                    None => break,
                }
            }
            i += 1;
            while i < n && lws(rest[i]) {
                i += 1;
            }
            let val = if i < n && rest[i] == b'"' {
                let start = i + 1;
                let mut k = start;
                let mut escaped = false;
                loop {
                    // An unterminated quoted string ends the parameter list.
                    let Some(q) = rest.get(k..).and_then(|r| scan::find2(b'"', b'\\', r)) else {
                        return Some(p);
                    };
                    let q = k + q;
                    if rest[q] == b'"' {
                        i = q + 1;
                        break QStr {
                            raw: &rest[start..q],
                            escaped,
                        };
                    }
                    escaped = true;
                    k = q + 2;
                }
            } else {
                let start = i;
                while i < n && !lws(rest[i]) && rest[i] != b',' {
                    i += 1;
                }
                QStr {
                    raw: &rest[start..i],
                    escaped: false,
                }
            };
            const NC: u128 = fold(b"nc");
            const URI: u128 = fold(b"uri");
            const QOP: u128 = fold(b"qop");
            const REALM: u128 = fold(b"realm");
            const NONCE: u128 = fold(b"nonce");
            const STALE: u128 = fold(b"stale");
            const OPAQUE: u128 = fold(b"opaque");
            const CNONCE: u128 = fold(b"cnonce");
            const USERNAME: u128 = fold(b"username");
            const RESPONSE: u128 = fold(b"response");
            const ALGORITHM: u128 = fold(b"algorithm");
            if name.len() > 16 {
                continue;
            }
            // One 16-byte load from the header when it reaches that far, masked to the name.
            let word = if name_start + 16 <= n {
                let mut w = [0u8; 16];
                w.copy_from_slice(&rest[name_start..name_start + 16]);
                let mask = if name.len() == 16 {
                    u128::MAX
                } else {
                    (1u128 << (8 * name.len())) - 1
                };
                (u128::from_le_bytes(w) | FOLD_ALL) & mask
            } else {
                fold(name)
            };
            let slot = match word {
                NC => &mut p.nc,
                URI => &mut p.uri,
                QOP => &mut p.qop,
                REALM => &mut p.realm,
                NONCE => &mut p.nonce,
                STALE => &mut p.stale,
                OPAQUE => &mut p.opaque,
                CNONCE => &mut p.cnonce,
                USERNAME => &mut p.username,
                RESPONSE => &mut p.response,
                ALGORITHM => &mut p.algorithm,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(val);
            }
        }
        Some(p)
    }

    /// True if the scheme is Digest (case-insensitive).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// True if a challenge offers `qop=auth` (possibly among others).
    pub fn offers_qop_auth(&self) -> bool {
        self.qop.is_some_and(|q| {
            q.raw()
                .split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(b"auth"))
        })
    }

    /// True if `stale=true`.
    pub fn is_stale(&self) -> bool {
        self.stale
            .is_some_and(|s| s.raw().eq_ignore_ascii_case(b"true"))
    }
}

/// Iterator over the values of every header of one kind, split at commas.
pub struct ValuesOf<'b, 'h> {
    headers: std::slice::Iter<'h, Header<'b>>,
    kind: HeaderKind,
    current: CommaValues<'b>,
}

impl<'b> Iterator for ValuesOf<'b, '_> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        loop {
            if let Some(v) = self.current.next() {
                return Some(v);
            }
            let h = self.headers.find(|h| h.kind == self.kind)?;
            self.current = CommaValues::new(h.value);
        }
    }
}

impl<'b, 'h> Message<'b, 'h> {
    /// The value of the first header of this kind.
    #[inline]
    pub fn header(&self, kind: HeaderKind) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| h.kind == kind)
            .map(|h| h.value)
    }

    /// The value of the first header with this name (case-insensitive; compact forms match).
    pub fn header_named(&self, name: &[u8]) -> Option<&'b [u8]> {
        match HeaderKind::of(name) {
            HeaderKind::Other => self
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value),
            kind => self.header(kind),
        }
    }

    /// Every comma-separated value of every header of this kind, in order (e.g. all Vias).
    pub fn values(&self, kind: HeaderKind) -> ValuesOf<'b, 'h> {
        ValuesOf {
            headers: self.headers.iter(),
            kind,
            current: CommaValues::new(b""),
        }
    }

    /// The topmost Via.
    pub fn via(&self) -> Option<Via<'b>> {
        // Via::parse stops at the first comma, so the first header line will do.
        Via::parse(self.header(HeaderKind::Via)?)
    }

    /// The From header.
    pub fn from(&self) -> Option<NameAddr<'b>> {
        NameAddr::parse(self.header(HeaderKind::From)?)
    }

    /// The To header.
    pub fn to(&self) -> Option<NameAddr<'b>> {
        NameAddr::parse(self.header(HeaderKind::To)?)
    }

    /// The first Contact (`*` is returned as a URI of `*`).
    pub fn contact(&self) -> Option<NameAddr<'b>> {
        NameAddr::parse(self.values(HeaderKind::Contact).next()?)
    }

    /// Call-ID.
    pub fn call_id(&self) -> Option<&'b [u8]> {
        self.header(HeaderKind::CallId)
    }

    /// CSeq.
    pub fn cseq(&self) -> Option<CSeq<'b>> {
        CSeq::parse(self.header(HeaderKind::CSeq)?)
    }

    /// The Expires header in seconds.
    pub fn expires(&self) -> Option<u32> {
        parse_decimal(self.header(HeaderKind::Expires)?)
    }

    /// Max-Forwards.
    pub fn max_forwards(&self) -> Option<u32> {
        parse_decimal(self.header(HeaderKind::MaxForwards)?)
    }

    /// Content-Length as declared (the parser already checked it).
    pub fn content_length(&self) -> Option<u32> {
        parse_decimal(self.header(HeaderKind::ContentLength)?)
    }

    /// Content-Type, as written.
    pub fn content_type(&self) -> Option<&'b [u8]> {
        self.header(HeaderKind::ContentType)
    }

    /// Date, as written (GB28181 uses `YYYY-MM-DDThh:mm:ss.mmm`).
    pub fn date(&self) -> Option<&'b [u8]> {
        self.header(HeaderKind::Date)
    }

    /// Retry-After in seconds (comments and parameters ignored).
    pub fn retry_after(&self) -> Option<u32> {
        let v = self.header(HeaderKind::RetryAfter)?;
        let end = v
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(v.len());
        parse_decimal(&v[..end])
    }

    /// The challenge of a 401 (WWW-Authenticate) or, failing that, of a 407.
    pub fn challenge(&self) -> Option<AuthParams<'b>> {
        let v = self
            .header(HeaderKind::WwwAuthenticate)
            .or_else(|| self.header(HeaderKind::ProxyAuthenticate))?;
        AuthParams::parse(v)
    }

    /// The Authorization (or Proxy-Authorization) credentials of a request.
    pub fn authorization(&self) -> Option<AuthParams<'b>> {
        let v = self
            .header(HeaderKind::Authorization)
            .or_else(|| self.header(HeaderKind::ProxyAuthorization))?;
        AuthParams::parse(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The branch found in Via's one walk is the one the general parameter reader finds,
        /// and the Via ends where the comma splitter says its first value ends.
        #[test]
        fn via_walk_agrees_with_params_and_commas(
            params in r#"(;[ ]?(branch|Branch|rport|received|x)([ ]?=[ ]?([a-z0-9.,;]{0,6}|"[a-z,;\\]{0,5}"))?){0,5}"#,
            next in "(, ?SIP/2.0/TCP h2;branch=b2)?",
        ) {
            let line = format!("SIP/2.0/UDP 10.0.0.1:5060{params}{next}");
            let v = Via::parse(line.as_bytes()).expect("valid Via");
            proptest::prop_assert_eq!(v.branch(), Params::new(v.params).get(b"branch").flatten());
            let first = CommaValues::new(line.as_bytes()).next().expect("one value");
            proptest::prop_assert_eq!(v.raw, first);
        }
    }

    #[test]
    fn via_parts() {
        let v = Via::parse(
            b"SIP/2.0/UDP 192.168.1.3:5061;rport=61378;received=10.0.0.1;branch=z9hG4bK80",
        )
        .unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.sent_by.host, b"192.168.1.3");
        assert_eq!(v.sent_by.port, Some(5061));
        assert_eq!(v.branch(), Some(&b"z9hG4bK80"[..]));
        assert_eq!(v.rport(), Some(Some(61378)));
        assert_eq!(v.received(), Some(&b"10.0.0.1"[..]));
        let v =
            Via::parse(b"SIP/2.0/UDP h;x=\"a;branch=no,\";branch=yes , SIP/2.0/UDP h2;branch=b2")
                .unwrap();
        assert_eq!(v.branch(), Some(&b"yes"[..]));
        assert_eq!(v.params, b";x=\"a;branch=no,\";branch=yes");
        let v = Via::parse(b"SIP/2.0/TCP [::1]:5060;rport").unwrap();
        assert_eq!(v.transport, b"TCP");
        assert_eq!(v.sent_by.host, b"[::1]");
        assert_eq!(v.rport(), Some(None));
        assert!(Via::parse(b"garbage").is_none());
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(b"\"Cam, 1\" <sip:34020000001320000001@3402000000:5060>;tag=abc")
            .unwrap();
        assert_eq!(n.display, Some(&b"Cam, 1"[..]));
        assert_eq!(n.user(), Some(&b"34020000001320000001"[..]));
        assert_eq!(n.tag(), Some(&b"abc"[..]));
        let n = NameAddr::parse(b"sip:alice@host;tag=1;expires=60").unwrap();
        assert_eq!(n.uri, b"sip:alice@host");
        assert_eq!(n.tag(), Some(&b"1"[..]));
        assert_eq!(n.expires(), Some(60));
    }

    #[test]
    fn comma_values_respect_quotes() {
        let v: Vec<&[u8]> = CommaValues::new(b"<sip:a,b>;x=1, \"q,r\" <sip:c>, sip:d").collect();
        assert_eq!(v, vec![&b"<sip:a,b>;x=1"[..], b"\"q,r\" <sip:c>", b"sip:d"]);
    }

    #[test]
    fn auth_params_with_escapes() {
        let a = AuthParams::parse(
            br#"Digest realm="a\"b", nonce="n1",qop="auth,auth-int", algorithm=MD5, opaque="o""#,
        )
        .unwrap();
        assert!(a.is_digest());
        let realm = a.realm.unwrap();
        assert_eq!(realm.raw(), br#"a\"b"#);
        assert!(realm.eq_bytes(b"a\"b"));
        assert!(!realm.eq_bytes(b"a\\\"b"));
        let mut out = Vec::new();
        realm.write_to(&mut out);
        assert_eq!(out, b"a\"b");
        assert!(a.offers_qop_auth());
        assert_eq!(a.algorithm.unwrap().raw(), b"MD5");
        assert_eq!(a.opaque.unwrap().raw(), b"o");
        let q = QStr::new(br"x\\y");
        assert!(q.eq_bytes(br"x\y"));
    }

    #[test]
    fn cseq_and_uri() {
        let c = CSeq::parse(b"20 MESSAGE").unwrap();
        assert_eq!(c.seq, 20);
        assert_eq!(c.method, Method::Message);
        assert!(CSeq::parse(b"x MESSAGE").is_none());
        let u = Uri::parse(b"sip:34020000002000000001@3402000000:5060;transport=udp").unwrap();
        assert_eq!(u.user, Some(&b"34020000002000000001"[..]));
        assert_eq!(u.host_port.host, b"3402000000");
        assert_eq!(u.host_port.port, Some(5060));
        assert_eq!(u.params, b";transport=udp");
    }
}
