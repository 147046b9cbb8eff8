//! Digest challenges to a camera's MESSAGEs (keepalives, query answers), kept per worker so
//! that the camera's next MESSAGEs carry credentials at once: the same nonce with the next
//! nonce count (RFC 7616 3.4, RFC 2617 3.2.2), rather than being challenged every time.
//!
//! The table lives in the worker's [`Outbox`](super::Outbox), keyed by camera index, not in
//! the camera: a nonce may be hundreds of bytes and a camera is at most 256 bytes. Only
//! cameras whose MESSAGEs a registrar challenged have an entry, each at most
//! [`MAX_CHALLENGE`] bytes and reused in place when challenged again; only challenges
//! offering `qop=auth` are kept (without a nonce count a reused nonce is a replay). A
//! registrar that challenges only REGISTER, as GB28181 platforms do, leaves it empty.

use crate::sip::AuthParams;
use crate::sip::digest::{self, Algorithm};
use std::collections::HashMap;

/// Longest challenge kept (realm, nonce and opaque written back as a challenge); a longer one
/// is answered but not reused.
pub const MAX_CHALLENGE: usize = 1024;

/// One kept challenge.
#[derive(Debug)]
struct Entry {
    /// The challenge as a header value (the registrar's realm, nonce and opaque).
    value: Vec<u8>,
    /// It came in Proxy-Authenticate.
    proxy: bool,
    /// The client nonce of the first answer, kept so a `-sess` HA1 stays the same.
    cnonce: [u8; 8],
    /// The last nonce count used.
    nc: u32,
}

/// The kept challenges of one worker's cameras.
#[derive(Debug, Default)]
pub struct Credentials {
    entries: HashMap<u32, Entry>,
}

/// A kept challenge, ready to be answered again.
pub(crate) struct Reuse<'a> {
    /// The challenge's parameters.
    pub params: AuthParams<'a>,
    /// Answer in Proxy-Authorization.
    pub proxy: bool,
    /// The client nonce to use.
    pub cnonce: &'a [u8; 8],
    /// The nonce count to use.
    pub nc: u32,
}

impl Credentials {
    /// Keeps `challenge` (answered with nonce count 1 and `cnonce`) for camera `index`, if it
    /// offers `qop=auth` and fits; otherwise forgets what was kept.
    pub(crate) fn keep(
        &mut self,
        index: u32,
        challenge: &AuthParams<'_>,
        algorithm: Algorithm,
        proxy: bool,
        cnonce: [u8; 8],
    ) {
        let (Some(realm), Some(nonce)) = (challenge.realm, challenge.nonce) else {
            self.forget(index);
            return;
        };
        let opaque = challenge.opaque.map(|o| o.raw());
        let len = realm.raw().len() + nonce.raw().len() + opaque.map_or(0, <[u8]>::len);
        if !challenge.offers_qop_auth() || len > MAX_CHALLENGE - 100 {
            self.forget(index);
            return;
        }
        let e = self.entries.entry(index).or_insert_with(|| Entry {
            value: Vec::new(),
            proxy,
            cnonce,
            nc: 1,
        });
        e.value.clear();
        let (realm, nonce) = (realm.raw(), nonce.raw());
        digest::write_challenge(&mut e.value, realm, nonce, opaque, true, false, algorithm);
        e.proxy = proxy;
        e.cnonce = cnonce;
        e.nc = 1;
    }

    /// The challenge kept for camera `index` with the next nonce count, counted as used.
    pub(crate) fn reuse(&mut self, index: u32) -> Option<Reuse<'_>> {
        let e = self.entries.get_mut(&index)?;
        e.nc = e.nc.checked_add(1)?;
        Some(Reuse {
            params: AuthParams::parse(&e.value)?,
            proxy: e.proxy,
            cnonce: &e.cnonce,
            nc: e.nc,
        })
    }

    /// Writes into `out` the credentials of camera `index` (`user`, `password`) for a
    /// MESSAGE to `uri`, answering its kept challenge with the next nonce count; the header
    /// they go in (`Authorization` or `Proxy-Authorization`), or none when nothing is kept or
    /// it cannot be answered (then it is forgotten). Keepalives, query answers and alarm
    /// MESSAGEs all come here.
    pub(crate) fn authorize(
        &mut self,
        index: u32,
        (user, password): (&[u8], &[u8]),
        uri: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<&'static [u8]> {
        let r = self.reuse(index)?;
        out.clear();
        let written = digest::write_authorization(
            out, &r.params, user, password, b"MESSAGE", uri, r.nc, r.cnonce,
        );
        let header: &'static [u8] = if r.proxy {
            b"Proxy-Authorization"
        } else {
            b"Authorization"
        };
        if written.is_err() {
            self.forget(index);
            return None;
        }
        Some(header)
    }

    /// Writes into `out` the answer of camera `index` (`user`, `password`) to a fresh
    /// challenge `ch` to its MESSAGE to `uri` (nonce count 1, client nonce `cnonce`) and keeps
    /// the challenge for its next MESSAGEs ([`keep`](Self::keep)); false if it cannot be
    /// answered.
    pub(crate) fn answer(
        &mut self,
        index: u32,
        ch: &digest::Chosen<'_>,
        (user, password): (&[u8], &[u8]),
        (uri, cnonce): (&[u8], [u8; 8]),
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        let written = digest::write_authorization(
            out, &ch.params, user, password, b"MESSAGE", uri, 1, &cnonce,
        );
        if written.is_err() {
            return false;
        }
        self.keep(index, &ch.params, ch.algorithm, ch.proxy, cnonce);
        true
    }

    /// Forgets camera `index`'s challenge (it stopped, went offline, or the reuse failed).
    pub(crate) fn forget(&mut self, index: u32) {
        self.entries.remove(&index);
    }

    /// Cameras with a kept challenge.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no challenge is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_qop_challenges_and_counts_on() {
        let mut c = Credentials::default();
        let ch = AuthParams::parse(
            br#"Digest realm="r", nonce="n1", opaque="o", qop="auth,auth-int", algorithm=SHA-256"#,
        )
        .unwrap();
        c.keep(7, &ch, Algorithm::SHA256, true, *b"0123abcd");
        for nc in 2..5 {
            let r = c.reuse(7).unwrap();
            assert_eq!(r.params.nonce.unwrap().raw(), b"n1");
            assert_eq!(r.params.opaque.unwrap().raw(), b"o");
            assert_eq!(Algorithm::of(&r.params), Some(Algorithm::SHA256));
            assert!(r.params.offers_qop_auth() && r.proxy);
            assert_eq!((r.nc, r.cnonce), (nc, b"0123abcd"));
        }
        assert!(c.reuse(8).is_none());
        // A new challenge starts the count again; one without qop is not kept.
        c.keep(7, &ch, Algorithm::SHA256, false, *b"ffffffff");
        assert_eq!(c.reuse(7).unwrap().nc, 2);
        let no_qop = AuthParams::parse(br#"Digest realm="r", nonce="n2""#).unwrap();
        c.keep(7, &no_qop, Algorithm::MD5, false, *b"ffffffff");
        assert!(c.reuse(7).is_none() && c.is_empty());
        // Nor is an oversized one.
        let big = format!(
            r#"Digest realm="r", nonce="{}", qop="auth""#,
            "n".repeat(2000)
        );
        c.keep(
            1,
            &AuthParams::parse(big.as_bytes()).unwrap(),
            Algorithm::MD5,
            false,
            [b'0'; 8],
        );
        assert_eq!(c.len(), 0);
    }
}
