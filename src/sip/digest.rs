//! HTTP Digest authentication for SIP: RFC 2617 (MD5, with and without `qop=auth`) and RFC 7616
//! / RFC 8760 (SHA-256 and SHA-512/256), each also in its `-sess` form.
//!
//! Client side: pick the challenge to answer from a 401 or 407 ([`choose`]: the first whose
//! algorithm is supported, RFC 8760 3) and answer it ([`write_authorization`]). Server side:
//! issue a challenge per algorithm offered ([`write_challenge`]) and check an answer
//! ([`verify`]) in constant time against a stored or precomputed HA1. Nothing here allocates
//! (hex digests live in fixed arrays) or parses a header: the parameters come from
//! [`super::auth`].

use super::auth::AuthParams;
use super::message::Message;
use super::params::QStr;
use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

/// The hash function behind a digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hash {
    /// MD5 (RFC 2617; 32 hex digits).
    Md5,
    /// SHA-256 (RFC 7616; 64 hex digits).
    Sha256,
    /// SHA-512/256 (RFC 7616; 64 hex digits).
    Sha512_256,
}

impl Hash {
    /// Hex digits of one digest: 32 for MD5, 64 for the SHA-2 functions.
    pub const fn hex_len(self) -> usize {
        match self {
            Hash::Md5 => 32,
            Hash::Sha256 | Hash::Sha512_256 => 64,
        }
    }
}

/// A digest algorithm: its hash, and whether HA1 is computed per session (`-sess`, RFC 7616
/// 3.4.2: HA1 = H(H(user:realm:password):nonce:cnonce)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Algorithm {
    /// The hash function.
    pub hash: Hash,
    /// The `-sess` variant.
    pub sess: bool,
}

impl Algorithm {
    /// `MD5`, also what a challenge without `algorithm` means.
    pub const MD5: Algorithm = Algorithm::new(Hash::Md5, false);
    /// `MD5-sess`.
    pub const MD5_SESS: Algorithm = Algorithm::new(Hash::Md5, true);
    /// `SHA-256`.
    pub const SHA256: Algorithm = Algorithm::new(Hash::Sha256, false);
    /// `SHA-256-sess`.
    pub const SHA256_SESS: Algorithm = Algorithm::new(Hash::Sha256, true);
    /// `SHA-512-256`.
    pub const SHA512_256: Algorithm = Algorithm::new(Hash::Sha512_256, false);
    /// `SHA-512-256-sess`.
    pub const SHA512_256_SESS: Algorithm = Algorithm::new(Hash::Sha512_256, true);
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::MD5,
        Algorithm::MD5_SESS,
        Algorithm::SHA256,
        Algorithm::SHA256_SESS,
        Algorithm::SHA512_256,
        Algorithm::SHA512_256_SESS,
    ];

    /// Its position in [`Algorithm::ALL`] (for counters kept per algorithm).
    pub const fn index(self) -> usize {
        let h = match self.hash {
            Hash::Md5 => 0,
            Hash::Sha256 => 2,
            Hash::Sha512_256 => 4,
        };
        h + self.sess as usize
    }

    const fn new(hash: Hash, sess: bool) -> Algorithm {
        Algorithm { hash, sess }
    }

    /// The token as written in `algorithm=` (RFC 7616 3.3 spelling).
    pub const fn name(self) -> &'static str {
        match (self.hash, self.sess) {
            (Hash::Md5, false) => "MD5",
            (Hash::Md5, true) => "MD5-sess",
            (Hash::Sha256, false) => "SHA-256",
            (Hash::Sha256, true) => "SHA-256-sess",
            (Hash::Sha512_256, false) => "SHA-512-256",
            (Hash::Sha512_256, true) => "SHA-512-256-sess",
        }
    }

    /// The algorithm a token names (case-insensitive); `None` for one not supported.
    pub fn parse(token: &[u8]) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().as_bytes().eq_ignore_ascii_case(token))
    }

    /// The algorithm of a challenge or an answer: its `algorithm` parameter, MD5 when absent;
    /// `None` when it names one not supported.
    pub fn of(p: &AuthParams<'_>) -> Option<Algorithm> {
        match p.algorithm {
            None => Some(Algorithm::MD5),
            Some(a) => Algorithm::parse(a.raw()),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;

    /// Parses a token such as `md5` or `SHA-256-sess`, naming the supported ones on error.
    fn from_str(s: &str) -> Result<Algorithm, String> {
        Algorithm::parse(s.trim().as_bytes()).ok_or_else(|| {
            let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            format!(
                "`{s}` is not a digest algorithm gbswarm supports ({})",
                names.join(", ")
            )
        })
    }
}

/// A lowercase hex digest (HA1, HA2 or a response) and the hash that made it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex {
    digits: [u8; 64],
    hash: Hash,
}

impl Hex {
    /// The hex digits (32 or 64).
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..self.hash.hex_len()]
    }

    /// The hash function that made it.
    pub fn hash(&self) -> Hash {
        self.hash
    }
}

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}({})",
            self.hash,
            String::from_utf8_lossy(self.as_bytes())
        )
    }
}

/// Why a challenge cannot be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestError {
    /// The response carries no WWW-Authenticate or Proxy-Authenticate challenge.
    NoChallenge,
    /// The scheme is not Digest.
    NotDigest,
    /// An algorithm other than those of [`Algorithm::ALL`] (absent means MD5).
    UnsupportedAlgorithm,
    /// The challenge lacks realm or nonce.
    MissingParam,
}

impl DigestError {
    /// How much the error tells about the challenges offered: [`choose`] reports the most
    /// telling one it met.
    fn weight(self) -> u8 {
        match self {
            DigestError::NoChallenge => 0,
            DigestError::NotDigest => 1,
            DigestError::MissingParam => 2,
            DigestError::UnsupportedAlgorithm => 3,
        }
    }
}

impl std::fmt::Display for DigestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DigestError::NoChallenge => "no challenge in the response",
            DigestError::NotDigest => "challenge scheme is not Digest",
            DigestError::UnsupportedAlgorithm => "unsupported digest algorithm",
            DigestError::MissingParam => "challenge lacks realm or nonce",
        })
    }
}

impl std::error::Error for DigestError {}

/// One of the hash functions, running.
enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
    Sha512_256(Sha512_256),
}

impl Hasher {
    fn new(h: Hash) -> Hasher {
        match h {
            Hash::Md5 => Hasher::Md5(Md5::new()),
            Hash::Sha256 => Hasher::Sha256(Sha256::new()),
            Hash::Sha512_256 => Hasher::Sha512_256(Sha512_256::new()),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512_256(h) => h.update(b),
        }
    }

    fn feed(&mut self, q: &QStr<'_>) {
        for c in q.chunks() {
            self.update(c);
        }
    }

    fn finish(self) -> Hex {
        match self {
            Hasher::Md5(h) => to_hex(Hash::Md5, &h.finalize()),
            Hasher::Sha256(h) => to_hex(Hash::Sha256, &h.finalize()),
            Hasher::Sha512_256(h) => to_hex(Hash::Sha512_256, &h.finalize()),
        }
    }
}

fn to_hex(hash: Hash, d: &[u8]) -> Hex {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 64];
    for (pair, b) in digits.chunks_exact_mut(2).zip(d) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
    Hex { digits, hash }
}

/// HA1 = H(username:realm:password) with the algorithm's hash; servers may store this instead
/// of the password. For a `-sess` algorithm this is the stored part: the session HA1 is
/// derived from it per nonce and cnonce when a response is computed.
pub fn ha1(alg: Algorithm, username: &[u8], realm: &QStr<'_>, password: &[u8]) -> Hex {
    let mut h = Hasher::new(alg.hash);
    h.update(username);
    h.update(b":");
    h.feed(realm);
    h.update(b":");
    h.update(password);
    h.finish()
}

/// The qop-dependent inputs of a response.
struct QopParts<'a> {
    nc: QStr<'a>,
    cnonce: QStr<'a>,
}

/// The inputs of a response besides HA1.
struct Inputs<'a> {
    alg: Algorithm,
    nonce: QStr<'a>,
    qop: Option<QopParts<'a>>,
    /// The client nonce a `-sess` HA1 is bound to (the qop one when qop is used).
    cnonce: Option<QStr<'a>>,
    method: &'a [u8],
    uri: QStr<'a>,
}

/// response = H(HA1':nonce\[:nc:cnonce:auth\]:H(method:uri)), where HA1' is HA1, or for `-sess`
/// H(HA1:nonce:cnonce). `None` when a `-sess` response has no cnonce to bind to.
fn response(ha1: &Hex, i: &Inputs<'_>) -> Option<Hex> {
    let hash = i.alg.hash;
    let session;
    let ha1 = if i.alg.sess {
        let mut h = Hasher::new(hash);
        h.update(ha1.as_bytes());
        h.update(b":");
        h.feed(&i.nonce);
        h.update(b":");
        h.feed(&i.cnonce?);
        session = h.finish();
        &session
    } else {
        ha1
    };
    let mut h2 = Hasher::new(hash);
    h2.update(i.method);
    h2.update(b":");
    h2.feed(&i.uri);
    let ha2 = h2.finish();
    let mut h = Hasher::new(hash);
    h.update(ha1.as_bytes());
    h.update(b":");
    h.feed(&i.nonce);
    h.update(b":");
    if let Some(q) = &i.qop {
        h.feed(&q.nc);
        h.update(b":");
        h.feed(&q.cnonce);
        h.update(b":auth:");
    }
    h.update(ha2.as_bytes());
    Some(h.finish())
}

/// Checks that a challenge can be answered: Digest, a supported algorithm, realm and nonce.
fn answerable(p: &AuthParams<'_>) -> Result<Algorithm, DigestError> {
    if !p.is_digest() {
        return Err(DigestError::NotDigest);
    }
    let alg = Algorithm::of(p).ok_or(DigestError::UnsupportedAlgorithm)?;
    if p.realm.is_none() || p.nonce.is_none() {
        return Err(DigestError::MissingParam);
    }
    Ok(alg)
}

/// A challenge picked from a 401 or 407 response, and where its answer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chosen<'a> {
    /// The challenge's parameters.
    pub params: AuthParams<'a>,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// It came in `Proxy-Authenticate`, so the answer goes in `Proxy-Authorization`;
    /// otherwise `WWW-Authenticate` and `Authorization` (RFC 3261 22.3, 20.27, 20.28).
    pub proxy: bool,
}

impl Chosen<'_> {
    /// The header name the answer goes in.
    pub fn answer_header(&self) -> &'static [u8] {
        if self.proxy {
            b"Proxy-Authorization"
        } else {
            b"Authorization"
        }
    }
}

/// Picks the challenge to answer in a 401 or 407: the first, in order, whose scheme is Digest
/// with a supported algorithm, realm and nonce (RFC 8760 3, RFC 7616 3.7). A 407's
/// `Proxy-Authenticate` headers come first, a 401's `WWW-Authenticate` ones; the other kind is
/// tried after. The error says why none would do (the most telling reason met).
pub fn choose<'b>(msg: &Message<'b, '_>) -> Result<Chosen<'b>, DigestError> {
    let proxy_first = msg.status() == Some(407);
    let mut why = DigestError::NoChallenge;
    for proxy in [proxy_first, !proxy_first] {
        for params in msg.challenges(proxy) {
            match answerable(&params) {
                Ok(algorithm) => {
                    return Ok(Chosen {
                        params,
                        algorithm,
                        proxy,
                    });
                }
                Err(e) if e.weight() > why.weight() => why = e,
                Err(_) => {}
            }
        }
    }
    Err(why)
}

fn push_hex_u32(out: &mut [u8; 8], v: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = HEX[((v >> (28 - 4 * i)) & 0xf) as usize];
    }
}

/// Appends the value of an `Authorization` (or `Proxy-Authorization`) header answering
/// `challenge`.
///
/// Uses `qop=auth` when the challenge offers it (with `nc` as 8 hex digits and `cnonce`), echoes
/// `opaque`, and always states the algorithm (`MD5` when the challenge named none). A `-sess`
/// answer carries `cnonce` even without qop, since its HA1 is bound to it.
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
    let alg = answerable(challenge)?;
    let (Some(realm), Some(nonce)) = (challenge.realm, challenge.nonce) else {
        return Err(DigestError::MissingParam);
    };
    let ha1 = ha1(alg, username, &realm, password);
    let mut nc_hex = [0u8; 8];
    push_hex_u32(&mut nc_hex, nc);
    let qop = challenge.offers_qop_auth().then(|| QopParts {
        nc: QStr::new(&nc_hex),
        cnonce: QStr::new(cnonce),
    });
    let with_cnonce = qop.is_some() || alg.sess;
    let inputs = Inputs {
        alg,
        nonce,
        qop,
        cnonce: Some(QStr::new(cnonce)),
        method,
        uri: QStr::new(uri),
    };
    let Some(resp) = response(&ha1, &inputs) else {
        return Err(DigestError::MissingParam);
    };
    out.extend_from_slice(b"Digest username=\"");
    out.extend_from_slice(username);
    out.extend_from_slice(b"\", realm=\"");
    out.extend_from_slice(realm.raw());
    out.extend_from_slice(b"\", nonce=\"");
    out.extend_from_slice(nonce.raw());
    out.extend_from_slice(b"\", uri=\"");
    out.extend_from_slice(uri);
    out.extend_from_slice(b"\", response=\"");
    out.extend_from_slice(resp.as_bytes());
    out.extend_from_slice(b"\", algorithm=");
    out.extend_from_slice(alg.name().as_bytes());
    if inputs.qop.is_some() {
        out.extend_from_slice(b", qop=auth, nc=");
        out.extend_from_slice(&nc_hex);
    }
    if with_cnonce {
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

/// Appends the value of a `WWW-Authenticate` (or `Proxy-Authenticate`) header offering
/// `algorithm`; a server offering several writes one header per algorithm, in order of
/// preference, with the same nonce.
pub fn write_challenge(
    out: &mut Vec<u8>,
    realm: &[u8],
    nonce: &[u8],
    opaque: Option<&[u8]>,
    qop: bool,
    stale: bool,
    algorithm: Algorithm,
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
    out.extend_from_slice(b", algorithm=");
    out.extend_from_slice(algorithm.name().as_bytes());
}

/// Checks an `Authorization` answer against HA1 for `method`; constant time in the response,
/// no allocation.
///
/// The answer's algorithm must use HA1's hash (a `-sess` one needs its cnonce). Realm, nonce
/// freshness, username and whether the algorithm was offered are the caller's to check: this
/// verifies only that the response was computed from HA1 over the nonce, uri (and nc/cnonce
/// when qop=auth) it names.
pub fn verify(auth: &AuthParams<'_>, method: &[u8], ha1: &Hex) -> bool {
    if !auth.is_digest() {
        return false;
    }
    let Some(alg) = Algorithm::of(auth).filter(|a| a.hash == ha1.hash) else {
        return false;
    };
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
    let inputs = Inputs {
        alg,
        nonce,
        qop,
        cnonce: auth.cnonce,
        method,
        uri,
    };
    response(ha1, &inputs).is_some_and(|expected| ct_eq_hex(expected.as_bytes(), given.raw()))
}

/// Compares a lowercase hex digest with a received one (any case) without early exit.
fn ct_eq_hex(expected: &[u8], given: &[u8]) -> bool {
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
mod tests;
