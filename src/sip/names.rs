//! Header names: which header a name is, with compact forms and letter case folded in.
//!
//! [`HeaderKind::of`] classifies a name with one multiply and one compare against a perfect-hash
//! table built at compile time; the parser feeds the same table a 16-byte load taken straight
//! from the message (`FOLD_ALL`, `HeaderKind::of_folded`). This file only names headers: it
//! never looks at a header value, never allocates and holds no state.

/// The headers gbswarm recognises; everything else is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HeaderKind {
    /// Via / v
    Via,
    /// From / f
    From,
    /// To / t
    To,
    /// Call-ID / i
    CallId,
    /// CSeq
    CSeq,
    /// Contact / m
    Contact,
    /// Expires
    Expires,
    /// Max-Forwards
    MaxForwards,
    /// Content-Length / l
    ContentLength,
    /// Content-Type / c
    ContentType,
    /// Date
    Date,
    /// WWW-Authenticate
    WwwAuthenticate,
    /// Authorization
    Authorization,
    /// Proxy-Authenticate
    ProxyAuthenticate,
    /// Proxy-Authorization
    ProxyAuthorization,
    /// Retry-After
    RetryAfter,
    /// User-Agent
    UserAgent,
    /// Supported / k
    Supported,
    /// Subject / s
    Subject,
    /// Content-Encoding / e
    ContentEncoding,
    /// Allow
    Allow,
    /// Min-Expires
    MinExpires,
    /// Any other header.
    Other,
}

/// `fold` of 16 bytes at once: every byte OR 0x20.
pub(crate) const FOLD_ALL: u128 = u128::from_le_bytes([0x20; 16]);

/// Folds up to 16 token characters into one word for case-insensitive matching: OR-ing 0x20
/// maps exactly `A-Z` to `a-z` among RFC 3261 token characters (no other token character
/// lands on a letter), and the zero padding keeps lengths apart.
#[inline]
pub(crate) const fn fold(s: &[u8]) -> u128 {
    let mut a = [0u8; 16];
    let mut i = 0;
    while i < s.len() && i < 16 {
        a[i] = s[i] | 0x20;
        i += 1;
    }
    u128::from_le_bytes(a)
}

/// Every recognised name (folded) with its kind, compact forms included.
const KIND_NAMES: [(&[u8], HeaderKind); 30] = {
    use HeaderKind::*;
    [
        (b"Via", Via),
        (b"From", From),
        (b"To", To),
        (b"Call-ID", CallId),
        (b"CSeq", CSeq),
        (b"Contact", Contact),
        (b"Expires", Expires),
        (b"Max-Forwards", MaxForwards),
        (b"Content-Length", ContentLength),
        (b"Content-Type", ContentType),
        (b"Date", Date),
        (b"WWW-Authenticate", WwwAuthenticate),
        (b"Authorization", Authorization),
        (b"Retry-After", RetryAfter),
        (b"User-Agent", UserAgent),
        (b"Supported", Supported),
        (b"Subject", Subject),
        (b"Content-Encoding", ContentEncoding),
        (b"Allow", Allow),
        (b"Min-Expires", MinExpires),
        (b"v", Via),
        (b"f", From),
        (b"t", To),
        (b"i", CallId),
        (b"m", Contact),
        (b"l", ContentLength),
        (b"c", ContentType),
        (b"k", Supported),
        (b"s", Subject),
        (b"e", ContentEncoding),
    ]
};

/// Multiplier that sends each of [`KIND_NAMES`] to its own slot of [`KIND_TABLE`] (found by
/// search; the table's construction fails to compile if two names ever share a slot).
const KIND_MAGIC: u64 = 0xa161_acdf_fb88_c1db;

/// The only slot of [`KIND_TABLE`] a folded name can be in.
#[inline(always)]
const fn kind_slot(word: u128) -> usize {
    let x = (word as u64) ^ ((word >> 64) as u64);
    (x.wrapping_mul(KIND_MAGIC) >> 58) as usize
}

/// [`KIND_NAMES`] by slot; empty slots hold the word 0 (no name folds to it) and `Other`.
const KIND_TABLE: [(u128, HeaderKind); 64] = {
    let mut table = [(0u128, HeaderKind::Other); 64];
    let mut i = 0;
    while i < KIND_NAMES.len() {
        let word = fold(KIND_NAMES[i].0);
        let slot = kind_slot(word);
        assert!(
            table[slot].0 == 0,
            "two header names share a slot: pick another KIND_MAGIC"
        );
        table[slot] = (word, KIND_NAMES[i].1);
        i += 1;
    }
    table
};

impl HeaderKind {
    /// Classifies a header name (case-insensitive, compact forms included).
    pub fn of(name: &[u8]) -> HeaderKind {
        use HeaderKind::*;
        if name.len() > 16 {
            return match name.len() {
                18 if name.eq_ignore_ascii_case(b"Proxy-Authenticate") => ProxyAuthenticate,
                19 if name.eq_ignore_ascii_case(b"Proxy-Authorization") => ProxyAuthorization,
                _ => Other,
            };
        }
        Self::of_folded(fold(name))
    }

    /// Classifies a name already folded with [`fold`] (names of at most 16 bytes): one
    /// multiply picks the only slot the name can be in, one compare confirms it.
    #[inline]
    pub(crate) fn of_folded(word: u128) -> HeaderKind {
        let (key, kind) = KIND_TABLE[kind_slot(word)];
        if key == word { kind } else { HeaderKind::Other }
    }
}

/// Byte equality for short strings, inlined (slice `==` calls out to `memcmp`).
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names() {
        assert_eq!(HeaderKind::of(b"v"), HeaderKind::Via);
        assert_eq!(HeaderKind::of(b"VIA"), HeaderKind::Via);
        assert_eq!(HeaderKind::of(b"call-id"), HeaderKind::CallId);
        assert_eq!(HeaderKind::of(b"I"), HeaderKind::CallId);
        assert_eq!(HeaderKind::of(b"l"), HeaderKind::ContentLength);
        assert_eq!(
            HeaderKind::of(b"www-authenticate"),
            HeaderKind::WwwAuthenticate
        );
        assert_eq!(HeaderKind::of(b"X-Foo"), HeaderKind::Other);
        assert_eq!(HeaderKind::of(b"cONTENT-lENGTH"), HeaderKind::ContentLength);
        assert_eq!(HeaderKind::of(b"Vi_"), HeaderKind::Other);
        assert_eq!(HeaderKind::of(b"Via2"), HeaderKind::Other);
        assert_eq!(
            HeaderKind::of(b"proxy-authorization"),
            HeaderKind::ProxyAuthorization
        );
        assert_eq!(HeaderKind::of(b"Content-Encodingx"), HeaderKind::Other);
    }

    /// The slow, obvious classification the table lookup must agree with.
    fn reference_kind(name: &[u8]) -> HeaderKind {
        let long: [(&[u8], HeaderKind); 2] = [
            (b"Proxy-Authenticate", HeaderKind::ProxyAuthenticate),
            (b"Proxy-Authorization", HeaderKind::ProxyAuthorization),
        ];
        KIND_NAMES
            .iter()
            .chain(long.iter())
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(HeaderKind::Other, |&(_, k)| k)
    }

    #[test]
    fn every_known_name_in_any_case() {
        for &(name, kind) in &KIND_NAMES {
            assert_eq!(HeaderKind::of(name), kind);
            assert_eq!(HeaderKind::of(&name.to_ascii_uppercase()), kind);
            assert_eq!(HeaderKind::of(&name.to_ascii_lowercase()), kind);
        }
        assert_eq!(HeaderKind::of(b""), HeaderKind::Other);
    }

    proptest::proptest! {
        #[test]
        fn classification_agrees_with_the_reference(
            name in "(?i)(via|from|to|call-id|cseq|contact|expires|content-(length|type|encoding)|[a-z]|[a-z-]{0,18})",
        ) {
            proptest::prop_assert_eq!(HeaderKind::of(name.as_bytes()), reference_kind(name.as_bytes()));
        }
    }
}
