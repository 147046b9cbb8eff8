//! MANSCDP XML bodies (GB/T 28181 §A): written into reused buffers and read without allocating.
//!
//! The reader is deliberately not a general XML parser: GB28181 bodies are flat, small and
//! machine-written, so it finds the root element and the few child elements gbswarm needs by
//! tag, which is both zero-copy and robust to the whitespace and encodings devices use.

use super::id::DeviceId;
use super::version::Charset;
use crate::sip::bytes::parse_decimal;
use crate::sip::names::same;
use crate::sip::write::push_u64;

/// The `Content-Type` GB28181 uses for MANSCDP bodies.
pub const CONTENT_TYPE: &[u8] = b"Application/MANSCDP+xml";

/// The root element of a MANSCDP body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// `<Query>`: the platform asks.
    Query,
    /// `<Notify>`: keepalive, alarms.
    Notify,
    /// `<Response>`: an answer to a query.
    Response,
    /// `<Control>`: device control.
    Control,
    /// Any other root element.
    Other,
}

/// A zero-copy view of a MANSCDP body: root, CmdType, SN and DeviceID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Manscdp<'a> {
    /// The root element.
    pub root: Root,
    /// The `CmdType` text (`Keepalive`, `Catalog`, `DeviceInfo`, ...).
    pub cmd_type: &'a [u8],
    /// The `SN` number, if present and numeric.
    pub sn: Option<u32>,
    /// The `DeviceID` text, if present.
    pub device_id: Option<&'a [u8]>,
    /// The whole body, for further [`element`] look-ups.
    pub body: &'a [u8],
}

impl<'a> Manscdp<'a> {
    /// Reads a body; `None` if there is no root element or no CmdType.
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let root_name = root_element(body)?;
        let root = match root_name {
            b"Query" => Root::Query,
            b"Notify" => Root::Notify,
            b"Response" => Root::Response,
            b"Control" => Root::Control,
            _ => Root::Other,
        };
        let cmd_type = element(body, b"CmdType")?;
        Some(Manscdp {
            root,
            cmd_type,
            sn: element(body, b"SN").and_then(parse_decimal),
            device_id: element(body, b"DeviceID"),
            body,
        })
    }
}

/// The name of the first element after the XML declaration and comments.
fn root_element(body: &[u8]) -> Option<&[u8]> {
    let mut rest = body;
    loop {
        let lt = memchr::memchr(b'<', rest)?;
        rest = &rest[lt + 1..];
        match rest.first()? {
            b'?' | b'!' => {
                let gt = memchr::memchr(b'>', rest)?;
                rest = &rest[gt + 1..];
            }
            _ => {
                let end = rest
                    .iter()
                    .position(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace())?;
                return Some(&rest[..end]);
            }
        }
    }
}

/// The trimmed text of the first `<tag>...</tag>` in `body` (tag names are case-sensitive).
///
/// MANSCDP bodies are a few hundred bytes with a few dozen `<`: hopping between them is
/// cheaper than building a substring searcher per look-up.
pub fn element<'a>(body: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    let start = open_tag_end(body, tag)?;
    let rest = &body[start..];
    for lt in memchr::memchr_iter(b'<', rest) {
        let after = &rest[lt + 1..];
        if after.first() == Some(&b'/')
            && after.get(1..=tag.len()).is_some_and(|t| same(t, tag))
            && after.get(1 + tag.len()) == Some(&b'>')
        {
            return Some(crate::sip::bytes::trim(&rest[..lt]));
        }
    }
    None
}

/// Offset just past the first `<tag>`.
fn open_tag_end(body: &[u8], tag: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'<', body).find_map(|lt| {
        let after = &body[lt + 1..];
        (after.get(..tag.len()).is_some_and(|t| same(t, tag))
            && after.get(tag.len()) == Some(&b'>'))
        .then_some(lt + 2 + tag.len())
    })
}

/// Appends `<Tag>value</Tag>\r\n`.
pub(crate) fn tag(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    tag_with(out, name, |o| o.extend_from_slice(value));
}

/// Appends `<Tag>`, what `value` writes, and `</Tag>\r\n`.
pub(crate) fn tag_with(out: &mut Vec<u8>, name: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
    out.push(b'<');
    out.extend_from_slice(name);
    out.push(b'>');
    value(out);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name);
    out.extend_from_slice(b">\r\n");
}

/// Appends `<Tag>n</Tag>\r\n`.
pub(crate) fn tag_u64(out: &mut Vec<u8>, name: &[u8], value: u64) {
    tag_with(out, name, |o| push_u64(o, value));
}

/// Clears `out` and writes the XML declaration, `<Root>`, CmdType, SN and DeviceID.
pub(crate) fn open_root(
    out: &mut Vec<u8>,
    charset: Charset,
    root: &[u8],
    cmd: &[u8],
    sn: u32,
    device: &DeviceId,
) {
    out.clear();
    out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"");
    out.extend_from_slice(charset.label());
    out.extend_from_slice(b"\"?>\r\n");
    out.push(b'<');
    out.extend_from_slice(root);
    out.extend_from_slice(b">\r\n");
    tag(out, b"CmdType", cmd);
    tag_u64(out, b"SN", u64::from(sn));
    tag(out, b"DeviceID", device.as_bytes());
}

/// Appends `</Root>`.
pub(crate) fn close_root(out: &mut Vec<u8>, root: &[u8]) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(root);
    out.extend_from_slice(b">\r\n");
}

/// Writes a Keepalive notify declaring `charset`; `faults` lists sub-devices reported faulty
/// in `<Info>`.
pub fn write_keepalive(
    out: &mut Vec<u8>,
    charset: Charset,
    sn: u32,
    device: &DeviceId,
    faults: &[DeviceId],
) {
    open_root(out, charset, b"Notify", b"Keepalive", sn, device);
    tag(out, b"Status", b"OK");
    if !faults.is_empty() {
        out.extend_from_slice(b"<Info>\r\n");
        for f in faults {
            tag(out, b"DeviceID", f.as_bytes());
        }
        out.extend_from_slice(b"</Info>\r\n");
    }
    close_root(out, b"Notify");
}

/// Writes a query (`Catalog`, `DeviceInfo`, ...) as a platform sends it.
pub fn write_query(out: &mut Vec<u8>, charset: Charset, cmd: &[u8], sn: u32, device: &DeviceId) {
    open_root(out, charset, b"Query", cmd, sn, device);
    if cmd == b"ConfigDownload" {
        tag(out, b"ConfigType", b"BasicParam");
    }
    close_root(out, b"Query");
}

/// Writes one Catalog response message holding `channels` (a slice of the full list of
/// `sum_num` channels, so a large catalog can span several messages: number, ID, on line),
/// each named `name` and its number (`Camera 1`), the text encoded in `charset` (which the
/// body declares).
pub fn write_catalog(
    out: &mut Vec<u8>,
    charset: Charset,
    name: &str,
    sn: u32,
    device: &DeviceId,
    sum_num: u32,
    channels: impl ExactSizeIterator<Item = (u32, DeviceId, bool)>,
) {
    let items = channels.map(|(number, id, online)| ChannelItem {
        number,
        id,
        online,
        event: None,
    });
    write_channel_list(
        out,
        (b"Response", charset, name),
        sn,
        device,
        sum_num,
        items,
    );
}

/// A channel in a Catalog list: its number (for its name), ID, whether it is on line, and
/// the `<Event>` a Catalog NOTIFY reports (none in a Response).
pub(crate) struct ChannelItem {
    pub number: u32,
    pub id: DeviceId,
    pub online: bool,
    pub event: Option<&'static [u8]>,
}

/// Writes a Catalog body under `root` (`Response` to a query, `Notify` to a subscription)
/// of `sum_num` channels holding `items` (a page of them), named `name` and their number in
/// `charset`: what a Catalog answer and a Catalog NOTIFY share.
pub(crate) fn write_channel_list(
    out: &mut Vec<u8>,
    (root, charset, name): (&[u8], Charset, &str),
    sn: u32,
    device: &DeviceId,
    sum_num: u32,
    items: impl ExactSizeIterator<Item = ChannelItem>,
) {
    open_root(out, charset, root, b"Catalog", sn, device);
    tag_u64(out, b"SumNum", u64::from(sum_num));
    out.extend_from_slice(b"<DeviceList Num=\"");
    push_u64(out, items.len() as u64);
    out.extend_from_slice(b"\">\r\n");
    for it in items {
        out.extend_from_slice(b"<Item>\r\n");
        tag(out, b"DeviceID", it.id.as_bytes());
        tag_with(out, b"Name", |o| {
            charset.push_xml_text(o, name);
            o.push(b' ');
            push_u64(o, u64::from(it.number));
        });
        tag(out, b"Manufacturer", b"gbswarm");
        tag(out, b"Model", b"IPC-sim");
        tag(out, b"Owner", b"Owner");
        tag(out, b"CivilCode", &device.domain()[..6]);
        tag(out, b"Address", b"Address");
        tag(out, b"Parental", b"0");
        tag(out, b"ParentID", device.as_bytes());
        tag(out, b"SafetyWay", b"0");
        tag(out, b"RegisterWay", b"1");
        tag(out, b"Secrecy", b"0");
        tag(out, b"Status", if it.online { b"ON" } else { b"OFF" });
        if let Some(event) = it.event {
            tag(out, b"Event", event);
        }
        out.extend_from_slice(b"</Item>\r\n");
    }
    out.extend_from_slice(b"</DeviceList>\r\n");
    close_root(out, root);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DeviceId {
        s.parse().unwrap()
    }

    #[test]
    fn keepalive_round_trip() {
        let dev = id("34020000001320000003");
        let mut out = Vec::new();
        write_keepalive(
            &mut out,
            Charset::Gb2312,
            42,
            &dev,
            &[id("34020000001310000001")],
        );
        let m = Manscdp::parse(&out).unwrap();
        assert_eq!(m.root, Root::Notify);
        assert_eq!(m.cmd_type, b"Keepalive");
        assert_eq!(m.sn, Some(42));
        assert_eq!(m.device_id, Some(&b"34020000001320000003"[..]));
        assert_eq!(
            element(&out, b"Info"),
            Some(&b"<DeviceID>34020000001310000001</DeviceID>"[..])
        );
        assert!(out.starts_with(b"<?xml version=\"1.0\" encoding=\"GB2312\"?>"));
        write_keepalive(&mut out, Charset::Gb18030, 43, &dev, &[]);
        assert!(out.starts_with(b"<?xml version=\"1.0\" encoding=\"GB18030\"?>"));
        assert!(element(&out, b"Info").is_none());
    }

    #[test]
    fn catalog_round_trip() {
        let dev = id("34020000001320000003");
        let mut out = Vec::new();
        let chans = (1..4u32).map(|i| (i, dev.channel(i, 3), i != 2));
        write_catalog(&mut out, Charset::Gb2312, "Camera", 7, &dev, 5, chans);
        let m = Manscdp::parse(&out).unwrap();
        assert_eq!(
            (m.root, m.cmd_type, m.sn),
            (Root::Response, &b"Catalog"[..], Some(7))
        );
        assert_eq!(element(&out, b"SumNum"), Some(&b"5"[..]));
        assert_eq!(out.windows(6).filter(|w| w == b"<Item>").count(), 3);
        assert!(out.windows(20).any(|w| w == b"<DeviceList Num=\"3\">"));
        assert_eq!(element(&out, b"Name"), Some(&b"Camera 1"[..]));
        let status: Vec<&[u8]> = out
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"<Status>"))
            .collect();
        assert_eq!(
            status,
            [
                &b"<Status>ON</Status>\r"[..],
                b"<Status>OFF</Status>\r",
                b"<Status>ON</Status>\r"
            ]
        );
    }

    #[test]
    fn catalog_names_are_written_in_the_declared_charset() {
        let dev = id("34020000001320000003");
        let mut out = Vec::new();
        // 2022: GB18030, declared and used; 大门 ("main gate").
        let chans = (1..3u32).map(|i| (i, dev.channel(i, 2), true));
        write_catalog(&mut out, Charset::Gb18030, "大门", 1, &dev, 2, chans);
        assert!(out.starts_with(b"<?xml version=\"1.0\" encoding=\"GB18030\"?>"));
        let name = element(&out, b"Name").unwrap();
        assert_eq!(name, b"\xb4\xf3\xc3\xc5 1");
        let (text, _, bad) = encoding_rs::GB18030.decode(name);
        assert_eq!((text.as_ref(), bad), ("大门 1", false));
        // A warm buffer takes the next page without growing.
        let cap = out.capacity();
        let chans = (1..3u32).map(|i| (i, dev.channel(i, 2), true));
        write_catalog(&mut out, Charset::Gb18030, "大门", 2, &dev, 2, chans);
        assert_eq!(out.capacity(), cap);
    }

    #[test]
    fn queries_as_a_platform_writes_them() {
        let dev = id("34020000001320000003");
        let mut out = Vec::new();
        write_query(&mut out, Charset::Gb2312, b"ConfigDownload", 9, &dev);
        let q = Manscdp::parse(&out).unwrap();
        assert_eq!(
            (q.root, q.cmd_type, q.sn),
            (Root::Query, &b"ConfigDownload"[..], Some(9))
        );
        assert_eq!(element(&out, b"ConfigType"), Some(&b"BasicParam"[..]));
    }

    #[test]
    fn reads_field_samples_and_rejects_garbage() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- c -->\r\n<Query>\r\n    <CmdType>Catalog</CmdType>\r\n    <SN>419315752</SN>\r\n    <DeviceID>34020000001110000001</DeviceID>\r\n</Query>\r\n";
        let q = Manscdp::parse(body).unwrap();
        assert_eq!(q.root, Root::Query);
        assert_eq!(q.sn, Some(419315752));
        assert!(Manscdp::parse(b"").is_none());
        assert!(Manscdp::parse(b"<Query><SN>1</SN></Query>").is_none());
        assert!(Manscdp::parse(b"<Query><CmdType>x").is_none());
        assert!(element(b"<a>", &[b'a'; 60]).is_none());
        assert_eq!(element(b"<a><ab>x</ab></a>", b"ab"), Some(&b"x"[..]));
        assert_eq!(element(b"<ab>1</a></ab>", b"ab"), Some(&b"1</a>"[..]));
        assert!(element(b"<SN>1", b"SN").is_none());
    }
}
