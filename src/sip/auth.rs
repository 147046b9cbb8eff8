//! The parameters of an authentication header: a `WWW-Authenticate` or `Proxy-Authenticate`
//! challenge, an `Authorization` or `Proxy-Authorization` answer.
//!
//! [`AuthParams::parse`] reads the scheme and the Digest parameters in one walk, keeping quoted
//! values as [`QStr`] slices of the header. It only reads: no hashing (that is [`super::digest`]),
//! no allocation, no copy.

use super::bytes::{is_token, trim};
use super::names::{FOLD_ALL, fold};
use super::params::{QStr, find_unquoted};
use super::scan;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
