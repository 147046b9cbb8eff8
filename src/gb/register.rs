//! The GB28181 rules of REGISTER and MESSAGE that both peers apply, written once: which
//! device a request is from, the expiry asked for or granted, the 302 redirect's Contact, how
//! many channels a Catalog answer lists, and the query MESSAGE a platform sends a device.
//!
//! Used by the camera, the registrar and the scripted test registrar alike. Reads parsed
//! messages and writes into caller-owned buffers; never allocates, never keeps state.

use super::version::Charset;
use super::{DeviceId, manscdp};
use crate::sip::write::{push_name_addr, push_sip_uri, push_u64};
use crate::sip::{HeaderKind, Message, Method, NameAddr, Transport, Uri, Writer};
use std::net::{IpAddr, SocketAddr};

/// Expiry a device asks for when a REGISTER names none (GB28181 and RFC 3261 default).
pub const DEFAULT_EXPIRES: u32 = 3600;

/// The device a request is from: the user part of From, as a 20-digit ID.
pub fn device_of(msg: &Message<'_, '_>) -> Option<DeviceId> {
    DeviceId::parse(msg.from()?.user()?).ok()
}

/// The expiry a REGISTER asks for, or a 2xx grants: the Contact's `expires` parameter, else
/// the Expires header (RFC 3261 10.2.1.1, 10.3).
pub fn expiry(msg: &Message<'_, '_>) -> Option<u32> {
    msg.contact().and_then(|c| c.expires()).or(msg.expires())
}

/// The expiry a 2xx to REGISTER grants device `id`, whose Contact is `contact`: the `expires`
/// of its own binding among the Contacts listed (a registrar lists every binding of the
/// address of record, other devices' and other addresses' included: RFC 3261 10.2.4), else
/// the Expires header. Its own binding is the Contact with its user and address; failing
/// that, the only Contact with its user (a registrar that rewrote the address).
pub fn granted(msg: &Message<'_, '_>, id: &DeviceId, contact: &SocketAddr) -> Option<u32> {
    let mut by_user = None;
    let mut users = 0;
    for v in msg.values(HeaderKind::Contact) {
        let Some(c) = NameAddr::parse(v) else {
            continue;
        };
        let Some(uri) = Uri::parse(c.uri).filter(|u| u.user == Some(id.as_bytes())) else {
            continue;
        };
        let host = std::str::from_utf8(uri.host_port.host).unwrap_or("");
        let ip = host.trim_start_matches('[').trim_end_matches(']').parse();
        if ip == Ok(contact.ip()) && uri.host_port.port.unwrap_or(5060) == contact.port() {
            return c.expires().or(msg.expires());
        }
        users += 1;
        by_user = c.expires();
    }
    by_user.filter(|_| users == 1).or(msg.expires())
}

/// True when a MESSAGE carries MANSCDP: its Content-Type is `Application/MANSCDP+xml` in any
/// letter case, parameters aside. Only such a MESSAGE is a keepalive, a query or an answer; any
/// other is refused with 415 and [`manscdp::CONTENT_TYPE`] as `Accept`.
pub fn is_manscdp(msg: &Message<'_, '_>) -> bool {
    msg.content_type().is_some_and(|v| {
        let media = v.split(|&b| b == b';').next().unwrap_or(b"");
        media
            .trim_ascii()
            .eq_ignore_ascii_case(manscdp::CONTENT_TYPE)
    })
}

/// Adds the Contact and Expires of a 302 that sends a device to server `id` at `addr`
/// (GB28181-2022 9.1.2.3).
pub fn write_redirect(w: &mut Writer<'_>, id: &DeviceId, addr: &SocketAddr, expires: u32) {
    w.header_with(b"Contact", |b| push_name_addr(b, id.as_bytes(), addr));
    w.header_u64(b"Expires", u64::from(expires));
}

/// The server a 302 names in its Contact: its address and 20-digit ID.
pub fn redirect_target(msg: &Message<'_, '_>) -> Option<(SocketAddr, DeviceId)> {
    let uri = Uri::parse(msg.contact()?.uri)?;
    let id = DeviceId::parse(uri.user?).ok()?;
    let host = std::str::from_utf8(uri.host_port.host).ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host.parse().ok()?;
    Some((SocketAddr::new(ip, uri.host_port.port.unwrap_or(5060)), id))
}

/// Channels listed in a Catalog response body (its `<Item>` elements).
pub fn catalog_items(body: &[u8]) -> usize {
    memchr::memmem::find_iter(body, b"<Item>").count()
}

/// Who sends a query and how it reaches the device.
#[derive(Clone, Copy, Debug)]
pub struct QueryFrom<'a> {
    /// The platform's 20-digit ID (From).
    pub server_id: &'a DeviceId,
    /// The platform's SIP domain (From's host).
    pub realm: &'a [u8],
    /// The platform's `host:port` for Via.
    pub via_host: &'a [u8],
    /// Transport of the Via.
    pub transport: Transport,
    /// The charset the query body declares (the platform's edition's).
    pub charset: Charset,
}

/// Writes a MANSCDP query MESSAGE (`cmd` = `Catalog`, `DeviceInfo`, ...) with serial number
/// `sn` to `device` at `addr` into `msg`, using `body` as scratch (both cleared first). The
/// Via branch, From tag and Call-ID derive from `sn`, so queries with distinct `sn` are
/// distinct transactions.
pub fn write_query(
    msg: &mut Vec<u8>,
    body: &mut Vec<u8>,
    from: &QueryFrom<'_>,
    cmd: &[u8],
    sn: u32,
    device: &DeviceId,
    addr: &SocketAddr,
) {
    body.clear();
    manscdp::write_query(body, from.charset, cmd, sn, device);
    write_manscdp_message(msg, body, from, sn, device, addr);
}

/// Writes a MESSAGE from the platform carrying the MANSCDP body already in `body` (any query
/// or control, such as [`crate::gb::records::write_record_query`] writes) to `device` at
/// `addr` into `msg`, addressed and numbered as [`write_query`] does; `body` is used as
/// scratch after the XML.
pub fn write_manscdp_message(
    msg: &mut Vec<u8>,
    body: &mut Vec<u8>,
    from: &QueryFrom<'_>,
    sn: u32,
    device: &DeviceId,
    addr: &SocketAddr,
) {
    // The Request-URI is written after the XML in the same buffer: no allocation.
    let xml_len = body.len();
    push_sip_uri(body, device.as_bytes(), addr);
    let (xml, uri) = body.split_at(xml_len);
    let mut w = Writer::request(msg, Method::Message, uri);
    w.header_with(b"Via", |b| {
        b.extend_from_slice(from.transport.via_prefix());
        b.extend_from_slice(from.via_host);
        b.extend_from_slice(b";rport;branch=z9hG4bKq");
        push_u64(b, u64::from(sn));
    })
    .header_with(b"From", |b| {
        b.extend_from_slice(b"<sip:");
        b.extend_from_slice(from.server_id.as_bytes());
        b.push(b'@');
        b.extend_from_slice(from.realm);
        b.extend_from_slice(b">;tag=q");
        push_u64(b, u64::from(sn));
    })
    .header_with(b"To", |b| {
        b.push(b'<');
        b.extend_from_slice(uri);
        b.push(b'>');
    })
    .header_with(b"Call-ID", |b| {
        b.extend_from_slice(b"q");
        push_u64(b, u64::from(sn));
        b.extend_from_slice(b"@gbswarm-serve");
    })
    .header(b"CSeq", b"1 MESSAGE")
    .header(b"Max-Forwards", b"70")
    .header(b"Content-Type", manscdp::CONTENT_TYPE);
    w.finish(xml);
}
