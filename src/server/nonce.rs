//! Stateless digest nonces: the issue time, a per-challenge salt and a keyed hash over both
//! and the realm, so the registrar keeps no memory per challenge yet can tell its own fresh
//! nonces from forged, foreign-realm or expired ones, and no two challenges share a nonce.

use md5::{Digest, Md5};

/// Mints and checks nonces with a per-process secret.
#[derive(Clone)]
pub struct Nonces {
    secret: [u8; 16],
    ttl_s: u64,
}

/// What a presented nonce turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Ours, for this realm, within its lifetime; carries its identity (issue time in the
    /// high 32 bits, salt in the low).
    Fresh(u64),
    /// Ours but too old: challenge again with `stale=true`.
    Stale,
    /// Not ours (forged, another realm, garbled).
    Invalid,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Nonces {
    /// A nonce source with `secret` and a lifetime of `ttl_s` seconds.
    pub fn new(secret: [u8; 16], ttl_s: u64) -> Nonces {
        Nonces { secret, ttl_s }
    }

    /// A random per-process secret.
    pub fn random_secret() -> [u8; 16] {
        let mut out = [0u8; 16];
        for half in out.chunks_mut(8) {
            half.copy_from_slice(&crate::seed::random_u64().to_le_bytes());
        }
        out
    }

    fn mac(&self, id: u64, realm: &[u8]) -> [u8; 16] {
        let mut h = Md5::new();
        h.update(self.secret);
        h.update(id.to_be_bytes());
        h.update(realm);
        h.finalize().into()
    }

    /// A nonce issued at `now_s` with `salt` for `realm`: 8 hex digits of time, 8 of salt,
    /// 16 of MAC.
    pub fn mint(&self, now_s: u64, salt: u32, realm: &[u8]) -> [u8; 32] {
        let id = ((now_s & 0xffff_ffff) << 32) | u64::from(salt);
        let mut out = [0u8; 32];
        for (i, slot) in out[..16].iter_mut().enumerate() {
            *slot = HEX[((id >> (60 - 4 * i)) & 0xf) as usize];
        }
        let mac = self.mac(id, realm);
        for (i, b) in mac[..8].iter().enumerate() {
            out[16 + 2 * i] = HEX[usize::from(b >> 4)];
            out[17 + 2 * i] = HEX[usize::from(b & 0xf)];
        }
        out
    }

    /// Checks a presented nonce at `now_s` (constant time in the MAC).
    pub fn check(&self, nonce: &[u8], now_s: u64, realm: &[u8]) -> Check {
        if nonce.len() != 32 {
            return Check::Invalid;
        }
        let mut id = 0u64;
        for &c in &nonce[..16] {
            let Some(d) = (c as char).to_digit(16) else {
                return Check::Invalid;
            };
            id = (id << 4) | u64::from(d);
        }
        let ts = id >> 32;
        let expected = self.mint(ts, id as u32, realm);
        let diff = expected[16..]
            .iter()
            .zip(&nonce[16..])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if std::hint::black_box(diff) != 0 || ts > now_s + 5 {
            return Check::Invalid;
        }
        if now_s.saturating_sub(ts) > self.ttl_s {
            Check::Stale
        } else {
            Check::Fresh(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_stale_forged_and_foreign() {
        let n = Nonces::new([7; 16], 300);
        let nonce = n.mint(1000, 7, b"3402000000");
        let id = (1000 << 32) | 7;
        assert_eq!(n.check(&nonce, 1000, b"3402000000"), Check::Fresh(id));
        assert_eq!(n.check(&nonce, 1300, b"3402000000"), Check::Fresh(id));
        assert_ne!(
            nonce,
            n.mint(1000, 8, b"3402000000"),
            "each challenge its own nonce"
        );
        assert_eq!(n.check(&nonce, 1301, b"3402000000"), Check::Stale);
        assert_eq!(
            n.check(&nonce, 1000, b"4401000000"),
            Check::Invalid,
            "bound to the realm"
        );
        let mut forged = nonce;
        forged[31] = if forged[31] == b'0' { b'1' } else { b'0' };
        assert_eq!(n.check(&forged, 1000, b"3402000000"), Check::Invalid);
        let other = Nonces::new([8; 16], 300);
        assert_eq!(
            other.check(&nonce, 1000, b"3402000000"),
            Check::Invalid,
            "another secret"
        );
        assert_eq!(n.check(b"short", 1000, b"r"), Check::Invalid);
        assert_eq!(
            n.check(&n.mint(2000, 1, b"r"), 1000, b"r"),
            Check::Invalid,
            "from the future"
        );
    }
}
