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
