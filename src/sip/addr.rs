//! Addresses and the small headers built from them: `host:port`, SIP URIs, name-addr values
//! (From, To, Contact), Via and CSeq.
//!
//! Each type parses one header value (or a whole header line, for Via) into borrowed parts and
//! answers `None` for what it cannot read. Nothing here allocates, copies or looks at any
//! header other than the one value it is given.

use super::bytes::{is_token, parse_decimal, trim};
use super::message::Method;
use super::params::{Params, find_unquoted, find_unquoted2, param_named, unquote};
use super::scan;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::params::CommaValues;

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
