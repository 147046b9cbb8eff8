//! Reading what tshark prints: a hex field back into bytes, and the elements of a MANSCDP
//! body the captures are judged by.

/// The bytes of a hex field (`udp.payload`, `tcp.payload`; separators ignored).
pub fn hex_to_bytes(h: &str) -> Vec<u8> {
    let h: String = h.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The text of the first `<tag>` in `xml`.
pub fn xml_element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + end])
}

/// The root element of a MANSCDP body (after its XML declaration).
pub fn xml_root(xml: &str) -> Option<&str> {
    let after = &xml[xml.find("?>")? + 2..];
    let start = after.find('<')? + 1;
    let end = after[start..].find('>')?;
    Some(&after[start..start + end])
}

/// A MANSCDP body as tshark showed it in one datagram: its body, root and `CmdType`.
pub struct Body {
    pub text: String,
    pub root: String,
    pub cmd: String,
}

/// Checks one captured datagram of frame `frame` (`raw` its hex payload, `cl` the
/// Content-Length tshark read, `xml` its `xml.tag` field): the headers end, the
/// Content-Length covers the rest exactly, and a body decodes as XML with a root and a
/// `CmdType`. The body, or none when the message has none.
pub fn datagram_body(frame: &str, raw: &str, cl: &str, xml: &str) -> Option<Body> {
    let bytes = hex_to_bytes(raw);
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("frame {frame}: no end of headers"))
        + 4;
    let cl: usize = cl.parse().unwrap_or_else(|_| panic!("frame {frame}: {cl}"));
    assert_eq!(head_end + cl, bytes.len(), "frame {frame}: Content-Length");
    if cl == 0 {
        return None;
    }
    assert!(
        xml.contains("CmdType"),
        "frame {frame}: body not decoded as XML: {xml}"
    );
    let text = String::from_utf8_lossy(&bytes[head_end..]).into_owned();
    let (Some(root), Some(cmd)) = (xml_root(&text), xml_element(&text, "CmdType")) else {
        panic!("frame {frame}: no root or CmdType: {text}");
    };
    let (root, cmd) = (root.to_string(), cmd.to_string());
    Some(Body { text, root, cmd })
}
