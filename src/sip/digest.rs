//! HTTP Digest authentication for SIP (RFC 2617, MD5, with and without `qop=auth`).
//!
//! Client side: answer a challenge ([`write_authorization`]). Server side: issue a challenge
//! ([`write_challenge`]) and check an answer ([`verify`]) in constant time against a stored or
//! precomputed HA1. Nothing here allocates (hex digests live in fixed arrays) or parses a
//! header: the parameters come from [`super::auth`].

use super::auth::AuthParams;
use super::params::QStr;
use md5::{Digest, Md5};

/// A lowercase hex MD5 digest (HA1, HA2 or a response).
pub type Hex = [u8; 32];

/// Why a challenge cannot be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestError {
    /// The scheme is not Digest.
    NotDigest,
    /// An algorithm other than MD5 (absent means MD5).
    UnsupportedAlgorithm,
    /// The challenge lacks realm or nonce.
    MissingParam,
}

impl std::fmt::Display for DigestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DigestError::NotDigest => "challenge scheme is not Digest",
            DigestError::UnsupportedAlgorithm => "unsupported digest algorithm",
            DigestError::MissingParam => "challenge lacks realm or nonce",
        })
    }
}

impl std::error::Error for DigestError {}

fn to_hex(d: [u8; 16]) -> Hex {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, b) in d.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    out
}

fn feed(h: &mut Md5, q: &QStr<'_>) {
    for c in q.chunks() {
        h.update(c);
    }
}

fn finish(h: Md5) -> Hex {
    let d: [u8; 16] = h.finalize().into();
    to_hex(d)
}

/// HA1 = MD5(username:realm:password); servers may store this instead of the password.
pub fn ha1(username: &[u8], realm: &QStr<'_>, password: &[u8]) -> Hex {
    let mut h = Md5::new();
    h.update(username);
    h.update(b":");
    feed(&mut h, realm);
    h.update(b":");
    h.update(password);
    finish(h)
}

/// The qop-dependent inputs of a response.
struct QopParts<'a> {
    nc: QStr<'a>,
    cnonce: QStr<'a>,
}

/// response = MD5(HA1:nonce[:nc:cnonce:auth]:MD5(method:uri)).
fn response(
    ha1: &Hex,
    nonce: &QStr<'_>,
    qop: Option<&QopParts<'_>>,
    method: &[u8],
    uri: &QStr<'_>,
) -> Hex {
    let mut h2 = Md5::new();
    h2.update(method);
    h2.update(b":");
    feed(&mut h2, uri);
    let ha2 = finish(h2);
    let mut h = Md5::new();
    h.update(ha1);
    h.update(b":");
    feed(&mut h, nonce);
    h.update(b":");
    if let Some(q) = qop {
        feed(&mut h, &q.nc);
        h.update(b":");
        feed(&mut h, &q.cnonce);
        h.update(b":auth:");
    }
    h.update(ha2);
    finish(h)
}

fn algorithm_ok(p: &AuthParams<'_>) -> bool {
    p.algorithm
        .is_none_or(|a| a.raw().eq_ignore_ascii_case(b"MD5"))
}

/// Appends the value of an `Authorization` header answering `challenge`.
///
/// Uses `qop=auth` when the challenge offers it (with `nc` as 8 hex digits and `cnonce`), echoes
/// `opaque`, and always states `algorithm=MD5`.
#[allow(clippy::too_many_arguments)]
pub fn write_authorization(
    out: &mut Vec<u8>,
    challenge: &AuthParams<'_>,
    username: &[u8],
    password: &[u8],
    method: &[u8],
    uri: &[u8],
    nc: u32,
    cnonce: &[u8],
) -> Result<(), DigestError> {
    if !challenge.is_digest() {
        return Err(DigestError::NotDigest);
    }
    if !algorithm_ok(challenge) {
        return Err(DigestError::UnsupportedAlgorithm);
    }
    let (Some(realm), Some(nonce)) = (challenge.realm, challenge.nonce) else {
        return Err(DigestError::MissingParam);
    };
    let ha1 = ha1(username, &realm, password);
    let mut nc_hex = [0u8; 8];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, slot) in nc_hex.iter_mut().enumerate() {
        *slot = HEX[((nc >> (28 - 4 * i)) & 0xf) as usize];
    }
    let qop = challenge.offers_qop_auth().then(|| QopParts {
        nc: QStr::new(&nc_hex),
        cnonce: QStr::new(cnonce),
    });
    let resp = response(&ha1, &nonce, qop.as_ref(), method, &QStr::new(uri));
    out.extend_from_slice(b"Digest username=\"");
    out.extend_from_slice(username);
    out.extend_from_slice(b"\", realm=\"");
    out.extend_from_slice(realm.raw());
    out.extend_from_slice(b"\", nonce=\"");
    out.extend_from_slice(nonce.raw());
    out.extend_from_slice(b"\", uri=\"");
    out.extend_from_slice(uri);
    out.extend_from_slice(b"\", response=\"");
    out.extend_from_slice(&resp);
    out.extend_from_slice(b"\", algorithm=MD5");
    if qop.is_some() {
        out.extend_from_slice(b", qop=auth, nc=");
        out.extend_from_slice(&nc_hex);
        out.extend_from_slice(b", cnonce=\"");
        out.extend_from_slice(cnonce);
        out.push(b'"');
    }
    if let Some(opaque) = challenge.opaque {
        out.extend_from_slice(b", opaque=\"");
        out.extend_from_slice(opaque.raw());
        out.push(b'"');
    }
    Ok(())
}

/// Appends the value of a `WWW-Authenticate` header.
pub fn write_challenge(
    out: &mut Vec<u8>,
    realm: &[u8],
    nonce: &[u8],
    opaque: Option<&[u8]>,
    qop: bool,
    stale: bool,
) {
    out.extend_from_slice(b"Digest realm=\"");
    out.extend_from_slice(realm);
    out.extend_from_slice(b"\", nonce=\"");
    out.extend_from_slice(nonce);
    out.push(b'"');
    if let Some(o) = opaque {
        out.extend_from_slice(b", opaque=\"");
        out.extend_from_slice(o);
        out.push(b'"');
    }
    if qop {
        out.extend_from_slice(b", qop=\"auth\"");
    }
    if stale {
        out.extend_from_slice(b", stale=true");
    }
    out.extend_from_slice(b", algorithm=MD5");
}

/// Checks an `Authorization` answer against HA1 for `method`; constant time in the response.
///
/// Realm, nonce freshness and username are the caller's to check: this verifies only that the
/// response was computed from HA1 over the nonce, uri (and nc/cnonce when qop=auth) it names.
pub fn verify(auth: &AuthParams<'_>, method: &[u8], ha1: &Hex) -> bool {
    if !auth.is_digest() || !algorithm_ok(auth) {
        return false;
    }
    let (Some(nonce), Some(uri), Some(given)) = (auth.nonce, auth.uri, auth.response) else {
        return false;
    };
    let qop = match auth.qop {
        None => None,
        Some(q) if q.raw().eq_ignore_ascii_case(b"auth") => match (auth.nc, auth.cnonce) {
            (Some(nc), Some(cnonce)) => Some(QopParts { nc, cnonce }),
            _ => return false,
        },
        Some(_) => return false,
    };
    let expected = response(ha1, &nonce, qop.as_ref(), method, &uri);
    ct_eq_hex(&expected, given.raw())
}

/// Compares a lowercase hex digest with a received one (any case) without early exit.
fn ct_eq_hex(expected: &Hex, given: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let mut diff = 0u8;
    for (e, g) in expected.iter().zip(given) {
        diff |= e ^ g.to_ascii_lowercase();
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example() {
        // RFC 2617 §3.5: Mufasa / Circle Of Life, GET /dir/index.html, qop=auth.
        let ch = AuthParams::parse(
            br#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let mut out = Vec::new();
        write_authorization(
            &mut out,
            &ch,
            b"Mufasa",
            b"Circle Of Life",
            b"GET",
            b"/dir/index.html",
            1,
            b"0a4f113b",
        )
        .unwrap();
        let a = AuthParams::parse(&out).unwrap();
        assert_eq!(
            a.response.unwrap().raw(),
            b"6629fae49393a05397450978507c4ef1"
        );
        assert_eq!(a.nc.unwrap().raw(), b"00000001");
        assert_eq!(a.opaque.unwrap().raw(), b"5ccc069c403ebaf9f0171e9517f40e41");
        let h = ha1(
            b"Mufasa",
            &QStr::new(b"testrealm@host.com"),
            b"Circle Of Life",
        );
        assert!(verify(&a, b"GET", &h));
        assert!(!verify(&a, b"POST", &h));
        let wrong = ha1(
            b"Mufasa",
            &QStr::new(b"testrealm@host.com"),
            b"circle of life",
        );
        assert!(!verify(&a, b"GET", &wrong));
    }

    #[test]
    fn no_qop_and_missing_algorithm_mean_plain_md5() {
        let ch =
            AuthParams::parse(br#"Digest realm="3402000000",nonce="c98f6d56cb2ab8e6""#).unwrap();
        let mut out = Vec::new();
        write_authorization(
            &mut out,
            &ch,
            b"34020000001320000001",
            b"123456",
            b"REGISTER",
            b"sip:34020000002000000001@3402000000:5060",
            1,
            b"x",
        )
        .unwrap();
        let a = AuthParams::parse(&out).unwrap();
        // The response the SPVMN sample device sent for password 123456.
        assert_eq!(
            a.response.unwrap().raw(),
            b"79d8846430436131196c50746cd97fa5"
        );
        assert!(a.qop.is_none() && a.cnonce.is_none());
    }

    #[test]
    fn rejects_what_it_cannot_answer() {
        let mut out = Vec::new();
        let basic = AuthParams::parse(b"Basic realm=\"x\"").unwrap();
        assert_eq!(
            write_authorization(&mut out, &basic, b"u", b"p", b"REGISTER", b"sip:x", 1, b"c"),
            Err(DigestError::NotDigest)
        );
        let sha = AuthParams::parse(b"Digest realm=\"x\", nonce=\"n\", algorithm=SHA-256").unwrap();
        assert_eq!(
            write_authorization(&mut out, &sha, b"u", b"p", b"REGISTER", b"sip:x", 1, b"c"),
            Err(DigestError::UnsupportedAlgorithm)
        );
        let no_nonce = AuthParams::parse(b"Digest realm=\"x\"").unwrap();
        assert_eq!(
            write_authorization(
                &mut out,
                &no_nonce,
                b"u",
                b"p",
                b"REGISTER",
                b"sip:x",
                1,
                b"c"
            ),
            Err(DigestError::MissingParam)
        );
    }

    #[test]
    fn challenge_round_trip_and_verify_variants() {
        let mut c = Vec::new();
        write_challenge(&mut c, b"3402000000", b"abc", Some(b"op"), true, true);
        let ch = AuthParams::parse(&c).unwrap();
        assert!(ch.offers_qop_auth() && ch.is_stale());
        let mut a = Vec::new();
        write_authorization(
            &mut a,
            &ch,
            b"dev",
            b"12345678",
            b"REGISTER",
            b"sip:s@d",
            7,
            b"cn",
        )
        .unwrap();
        let auth = AuthParams::parse(&a).unwrap();
        let h = ha1(b"dev", &QStr::new(b"3402000000"), b"12345678");
        assert!(verify(&auth, b"REGISTER", &h));
        // Uppercase hex in the response is accepted.
        let upper = String::from_utf8(a.clone()).unwrap();
        let r = std::str::from_utf8(auth.response.unwrap().raw())
            .unwrap()
            .to_string();
        let upper = upper.replace(&r, &r.to_uppercase());
        assert!(verify(
            &AuthParams::parse(upper.as_bytes()).unwrap(),
            b"REGISTER",
            &h
        ));
        // qop=auth without cnonce is refused.
        let stripped = String::from_utf8(a).unwrap().replace(", cnonce=\"cn\"", "");
        assert!(!verify(
            &AuthParams::parse(stripped.as_bytes()).unwrap(),
            b"REGISTER",
            &h
        ));
    }
}
