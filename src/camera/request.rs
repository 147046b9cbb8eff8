//! Wire forms of the requests a camera sends, and the identifiers (branch, Call-ID, tags) it
//! derives from its index instead of storing.

use super::{Env, Transport};
use crate::gb::{DeviceId, GbVersion};
use crate::sip::write::{push_addr, push_hex, push_name_addr};
use crate::sip::{Method, Writer};

/// Via branch: the RFC 3261 magic cookie, the camera index and a per-camera counter.
pub(crate) fn push_branch(out: &mut Vec<u8>, index: u32, counter: u32) {
    out.extend_from_slice(b"z9hG4bK");
    push_hex(out, u64::from(index), 8);
    push_hex(out, u64::from(counter), 8);
}

/// Reads back `(index, counter)` from a branch made by [`push_branch`].
pub(crate) fn parse_branch(b: &[u8]) -> Option<(u32, u32)> {
    let hex = b.strip_prefix(b"z9hG4bK")?;
    if hex.len() != 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in hex {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(((v >> 32) as u32, v as u32))
}

/// Where a request goes: the registrar's ID and the host part of its Request-URI.
pub(crate) struct Target<'a> {
    pub server_id: &'a DeviceId,
    /// `domain` for the configured server, `ip:port` for a 302 target.
    pub host: &'a [u8],
}

/// The identifiers of one request.
pub(crate) struct Ids {
    pub index: u32,
    /// Branch counter.
    pub branch: u32,
    /// Call-ID discriminator: registration generation or message counter.
    pub call: u32,
    /// Whether the Call-ID is a registration's (`r`) or a message's (`m`).
    pub call_kind: u8,
    pub cseq: u32,
}

fn push_request_uri(out: &mut Vec<u8>, t: &Target<'_>) {
    out.extend_from_slice(b"sip:");
    out.extend_from_slice(t.server_id.as_bytes());
    out.push(b'@');
    out.extend_from_slice(t.host);
}

/// A Request-URI (`sip:` + 20-digit ID + `@` + host) on the stack: hosts are bounded by 64.
pub(crate) struct UriBuf {
    bytes: [u8; 96],
    len: usize,
}

impl UriBuf {
    /// The Request-URI of a request to `t`.
    pub fn new(t: &Target<'_>) -> UriBuf {
        let mut u = UriBuf {
            bytes: [0; 96],
            len: 0,
        };
        for part in [&b"sip:"[..], t.server_id.as_bytes(), b"@", t.host] {
            let n = part.len().min(u.bytes.len() - u.len);
            u.bytes[u.len..u.len + n].copy_from_slice(&part[..n]);
            u.len += n;
        }
        u
    }

    /// The URI's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Writes the common request headers: Via, From, To, Call-ID, CSeq, Max-Forwards, User-Agent.
fn start_request<'v>(
    buf: &'v mut Vec<u8>,
    env_local: &std::net::SocketAddr,
    cfg: &super::CameraConfig,
    method: Method<'_>,
    id: &DeviceId,
    t: &Target<'_>,
    ids: &Ids,
) -> Writer<'v> {
    // A REGISTER's To is the device itself (its address of record); a MESSAGE goes to the
    // server.
    let to_server = method != Method::Register;
    let uri = UriBuf::new(t);
    let mut w = Writer::request(buf, method, uri.as_bytes());
    let transport: &[u8] = match cfg.transport_of(ids.index) {
        Transport::Udp => b"UDP",
        Transport::Tcp => b"TCP",
    };
    w.header_with(b"Via", |b| {
        b.extend_from_slice(b"SIP/2.0/");
        b.extend_from_slice(transport);
        b.push(b' ');
        push_addr(b, env_local);
        b.extend_from_slice(b";rport;branch=");
        push_branch(b, ids.index, ids.branch);
    });
    w.header_with(b"From", |b| {
        b.extend_from_slice(b"<sip:");
        b.extend_from_slice(id.as_bytes());
        b.push(b'@');
        b.extend_from_slice(cfg.domain.as_bytes());
        b.extend_from_slice(b">;tag=");
        push_hex(b, u64::from(ids.index), 8);
        b.push(ids.call_kind);
        push_hex(b, u64::from(ids.call), 8);
    });
    w.header_with(b"To", |b| {
        b.push(b'<');
        if to_server {
            push_request_uri(b, t);
        } else {
            b.extend_from_slice(b"sip:");
            b.extend_from_slice(id.as_bytes());
            b.push(b'@');
            b.extend_from_slice(cfg.domain.as_bytes());
        }
        b.push(b'>');
    });
    w.header_with(b"Call-ID", |b| {
        push_hex(b, u64::from(cfg.run_id), 8);
        push_hex(b, u64::from(ids.index), 8);
        b.push(ids.call_kind);
        push_hex(b, u64::from(ids.call), 8);
        b.extend_from_slice(b"@gbswarm");
    });
    w.header_with(b"CSeq", |b| {
        crate::sip::write::push_u64(b, u64::from(ids.cseq));
        b.push(b' ');
        b.extend_from_slice(method.as_bytes());
    });
    w.header(b"Max-Forwards", b"70");
    w.header(b"User-Agent", cfg.user_agent.as_bytes());
    w
}

/// Writes a REGISTER into `env.out.msg`, with `env.out.auth` as the value of the header named
/// `auth` (`Authorization` or `Proxy-Authorization`) if given.
pub(crate) fn write_register(
    env: &mut Env<'_>,
    id: &DeviceId,
    t: &Target<'_>,
    ids: &Ids,
    expires: u32,
    auth: Option<&[u8]>,
) {
    let out = &mut *env.out;
    let mut w = start_request(
        &mut out.msg,
        &env.local,
        env.cfg,
        Method::Register,
        id,
        t,
        ids,
    );
    w.header_with(b"Contact", |b| push_name_addr(b, id.as_bytes(), &env.local));
    if env.cfg.gb_version == GbVersion::V2022 {
        w.header(crate::gb::version::HEADER, GbVersion::V2022.header_value());
    }
    if let Some(name) = auth {
        w.header(name, &out.auth);
    }
    w.header_u64(b"Expires", u64::from(expires));
    w.finish(b"");
}

/// Writes a MESSAGE carrying `env.out.body` (MANSCDP) into `env.out.msg`, with `env.out.auth`
/// as the value of the header named `auth` if given.
pub(crate) fn write_message(
    env: &mut Env<'_>,
    id: &DeviceId,
    t: &Target<'_>,
    ids: &Ids,
    auth: Option<&[u8]>,
) {
    let out = &mut *env.out;
    let mut w = start_request(
        &mut out.msg,
        &env.local,
        env.cfg,
        Method::Message,
        id,
        t,
        ids,
    );
    if let Some(name) = auth {
        w.header(name, &out.auth);
    }
    w.header(b"Content-Type", crate::gb::manscdp::CONTENT_TYPE);
    w.finish(&out.body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_round_trip() {
        let mut b = Vec::new();
        push_branch(&mut b, 0xdead_beef, 7);
        assert_eq!(b, b"z9hG4bKdeadbeef00000007");
        assert_eq!(parse_branch(&b), Some((0xdead_beef, 7)));
        assert_eq!(parse_branch(b"z9hG4bK123"), None);
        assert_eq!(parse_branch(b"z9hG4bKDEADBEEF00000007"), None);
    }
}
