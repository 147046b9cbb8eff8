//! Which edition of GB/T 28181 a peer follows, and what follows from it on the wire: the
//! `X-GB-Ver` header GB/T 28181-2022 adds to REGISTER and its answer (`3.0` for 2022, `2.0`
//! for 2016), and the charset MANSCDP bodies declare and are written in (GB2312 for 2016,
//! GB18030 for 2022).

/// The header naming the edition (GB/T 28181-2022 §9.1.2.1).
pub const HEADER: &[u8] = b"X-GB-Ver";

/// A GB/T 28181 edition.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum GbVersion {
    /// GB/T 28181-2016: no `X-GB-Ver` from devices, GB2312 bodies.
    #[default]
    #[serde(rename = "2016")]
    V2016,
    /// GB/T 28181-2022: `X-GB-Ver: 3.0` on every REGISTER, GB18030 bodies.
    #[serde(rename = "2022")]
    V2022,
}

impl GbVersion {
    /// `2016` or `2022`, as users write it.
    pub fn parse(s: &str) -> Option<GbVersion> {
        match s.trim() {
            "2016" => Some(GbVersion::V2016),
            "2022" => Some(GbVersion::V2022),
            _ => None,
        }
    }

    /// The year, as users write it.
    pub fn year(self) -> u16 {
        match self {
            GbVersion::V2016 => 2016,
            GbVersion::V2022 => 2022,
        }
    }

    /// The `X-GB-Ver` value that names this edition: `2.0` or `3.0`.
    pub fn header_value(self) -> &'static [u8] {
        match self {
            GbVersion::V2016 => b"2.0",
            GbVersion::V2022 => b"3.0",
        }
    }

    /// The charset the edition names for MANSCDP bodies.
    pub fn charset(self) -> Charset {
        match self {
            GbVersion::V2016 => Charset::Gb2312,
            GbVersion::V2022 => Charset::Gb18030,
        }
    }
}

/// What a REGISTER's `X-GB-Ver` said, as a registrar counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Declared {
    /// No `X-GB-Ver` (a 2016 device, or a plain SIP client).
    None,
    /// `2.0`: GB/T 28181-2016.
    V2016,
    /// `3.0`: GB/T 28181-2022.
    V2022,
    /// Anything else.
    Other,
}

impl Declared {
    /// Every value, in the order a report lists them.
    pub const ALL: [Declared; 4] = [
        Declared::V2022,
        Declared::V2016,
        Declared::None,
        Declared::Other,
    ];

    /// Reads an `X-GB-Ver` value (absent: `None`). Case and surrounding space do not matter;
    /// `3`, `3.0` and `3.0.0` alike name 2022.
    pub fn of(value: Option<&[u8]>) -> Declared {
        let Some(v) = value else {
            return Declared::None;
        };
        let v = crate::sip::bytes::trim(v);
        let major = v.split(|&b| b == b'.').next().unwrap_or(b"");
        let rest_zero = v
            .get(major.len()..)
            .is_some_and(|r| r.iter().all(|&b| b == b'.' || b == b'0'));
        match (major, rest_zero) {
            (b"2", true) => Declared::V2016,
            (b"3", true) => Declared::V2022,
            _ => Declared::Other,
        }
    }

    /// Its slot in a counter array (the order of [`ALL`](Self::ALL)).
    pub fn slot(self) -> usize {
        match self {
            Declared::V2022 => 0,
            Declared::V2016 => 1,
            Declared::None => 2,
            Declared::Other => 3,
        }
    }

    /// How a report names it.
    pub fn label(self) -> &'static str {
        match self {
            Declared::V2022 => "3.0",
            Declared::V2016 => "2.0",
            Declared::None => "none",
            Declared::Other => "other",
        }
    }
}

/// The charset of a MANSCDP body: declared in its XML declaration and used for its text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Charset {
    /// GB2312 (GB/T 28181-2016), written with encoding_rs's GBK, the superset the WHATWG
    /// label `gb2312` names; a character outside it becomes a numeric character reference.
    #[default]
    Gb2312,
    /// GB18030 (GB/T 28181-2022): every Unicode character.
    Gb18030,
}

impl Charset {
    /// The name in `<?xml ... encoding="..."?>`.
    pub fn label(self) -> &'static [u8] {
        match self {
            Charset::Gb2312 => b"GB2312",
            Charset::Gb18030 => b"GB18030",
        }
    }

    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Charset::Gb2312 => encoding_rs::GBK,
            Charset::Gb18030 => encoding_rs::GB18030,
        }
    }

    /// Appends `text` to `out` encoded in this charset, with `&`, `<`, `>` and `"` escaped
    /// for XML. ASCII is copied as it is; anything else goes through encoding_rs into the
    /// vector's spare capacity, so a buffer that has grown before does not allocate again.
    pub fn push_xml_text(self, out: &mut Vec<u8>, text: &str) {
        let mut enc = None;
        let mut rest = text;
        while !rest.is_empty() {
            let cut = rest.find(['&', '<', '>', '"']).unwrap_or(rest.len());
            let (plain, tail) = rest.split_at(cut);
            if plain.is_ascii() {
                out.extend_from_slice(plain.as_bytes());
            } else {
                let e = enc.get_or_insert_with(|| self.encoding().new_encoder());
                let mut src = plain;
                loop {
                    // Room for the text at four bytes a character, or a character reference.
                    out.reserve(src.len() * 2 + 16);
                    let (result, read, _) = e.encode_from_utf8_to_vec(src, out, false);
                    src = &src[read..];
                    if result == encoding_rs::CoderResult::InputEmpty {
                        break;
                    }
                }
            }
            let Some(special) = tail.chars().next() else {
                break;
            };
            out.extend_from_slice(match special {
                '&' => b"&amp;",
                '<' => b"&lt;",
                '>' => b"&gt;",
                _ => b"&quot;",
            });
            rest = &tail[1..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_their_header_value_and_charset() {
        assert_eq!(GbVersion::parse("2022"), Some(GbVersion::V2022));
        assert_eq!(GbVersion::parse("2016"), Some(GbVersion::V2016));
        assert_eq!(GbVersion::parse("2011"), None);
        assert_eq!(GbVersion::default(), GbVersion::V2016);
        assert_eq!(GbVersion::V2022.header_value(), b"3.0");
        assert_eq!(GbVersion::V2016.header_value(), b"2.0");
        assert_eq!(GbVersion::V2022.charset().label(), b"GB18030");
        assert_eq!(GbVersion::V2016.charset().label(), b"GB2312");
    }

    #[test]
    fn declared_versions_are_read_leniently() {
        assert_eq!(Declared::of(None), Declared::None);
        assert_eq!(Declared::of(Some(b"3.0")), Declared::V2022);
        assert_eq!(Declared::of(Some(b" 3 ")), Declared::V2022);
        assert_eq!(Declared::of(Some(b"2.0")), Declared::V2016);
        assert_eq!(Declared::of(Some(b"3.1")), Declared::Other);
        assert_eq!(Declared::of(Some(b"30")), Declared::Other);
        assert_eq!(Declared::of(Some(b"")), Declared::Other);
    }

    #[test]
    fn text_is_encoded_in_the_charset_and_escaped() {
        let mut out = Vec::new();
        // 摄像机 ("camera"): GB2312 and GB18030 agree on it.
        Charset::Gb2312.push_xml_text(&mut out, "摄像机 <1> & \"2\"");
        assert_eq!(
            out,
            b"\xc9\xe3\xcf\xf1\xbb\xfa &lt;1&gt; &amp; &quot;2&quot;".to_vec()
        );
        let (back, _, bad) = encoding_rs::GBK.decode(&out[..6]);
        assert_eq!((back.as_ref(), bad), ("摄像机", false));
        out.clear();
        // U+20000 is in GB18030 (four bytes), not in GBK: a character reference there.
        Charset::Gb18030.push_xml_text(&mut out, "\u{20000}");
        assert_eq!(out, b"\x95\x32\x82\x36");
        out.clear();
        Charset::Gb2312.push_xml_text(&mut out, "\u{20000}");
        assert_eq!(out, b"&#131072;");
        out.clear();
        Charset::Gb18030.push_xml_text(&mut out, "Camera");
        assert_eq!(out, b"Camera");
    }
}
