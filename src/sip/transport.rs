//! [`Transport`]: which SIP transport a message travels over (the `SIP/2.0/UDP` or `/TCP` of
//! a Via), shared by the camera, the registrar and the socket layer. Wire vocabulary only.

/// SIP over UDP or over TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Datagrams: RFC 3261 §17.1.2 retransmissions, no connection.
    Udp,
    /// A byte stream framed by Content-Length: one persistent connection per device.
    Tcp,
}

impl Transport {
    /// The lowercase name users write and reports show: `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }

    /// The Via protocol token: `SIP/2.0/UDP ` or `SIP/2.0/TCP ` (with the trailing space).
    pub fn via_prefix(self) -> &'static [u8] {
        match self {
            Transport::Udp => b"SIP/2.0/UDP ",
            Transport::Tcp => b"SIP/2.0/TCP ",
        }
    }
}
