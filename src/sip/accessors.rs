//! Typed accessors on [`Message`]: a header found by kind, then read with the types of
//! [`super::addr`] and [`super::auth`].
//!
//! A lookup is a byte compare per header (names were classified once, at parse time). Every
//! accessor borrows from the received bytes; none allocates, copies or changes the message.

use super::addr::{CSeq, NameAddr, Via};
use super::auth::AuthParams;
use super::bytes::parse_decimal;
use super::message::{Header, Message};
use super::names::HeaderKind;
use super::params::CommaValues;

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

    /// Min-Expires in seconds: the shortest expiry a registrar accepts (a 423's floor).
    pub fn min_expires(&self) -> Option<u32> {
        parse_decimal(self.header(HeaderKind::MinExpires)?)
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

    /// Every challenge of one kind, in order: the `Proxy-Authenticate` headers (`proxy`) or the
    /// `WWW-Authenticate` ones, one challenge per header (RFC 3261 20.44, 20.28); headers
    /// without a scheme are skipped. [`crate::sip::digest::choose`] picks the one to answer.
    pub fn challenges(&self, proxy: bool) -> impl Iterator<Item = AuthParams<'b>> + use<'b, 'h> {
        let kind = if proxy {
            HeaderKind::ProxyAuthenticate
        } else {
            HeaderKind::WwwAuthenticate
        };
        self.headers
            .iter()
            .filter(move |h| h.kind == kind)
            .filter_map(|h| AuthParams::parse(h.value))
    }

    /// The Authorization (or Proxy-Authorization) credentials of a request.
    pub fn authorization(&self) -> Option<AuthParams<'b>> {
        let v = self
            .header(HeaderKind::Authorization)
            .or_else(|| self.header(HeaderKind::ProxyAuthorization))?;
        AuthParams::parse(v)
    }
}
