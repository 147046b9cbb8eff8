//! The SIP wire format, shared by the emulated cameras and the registrar.
//!
//! [`parse`] turns bytes into borrowed [`Message`] views ([`message`]) without allocating;
//! [`names`] tells which header a name is; [`headers`] gives typed accessors; [`write`] builds
//! messages into reused buffers; [`framing`] cuts a TCP stream into messages; [`digest`] does
//! RFC 2617 authentication for both sides.
//! Nothing in this layer reads a clock, touches a socket or allocates per message.

pub(crate) mod bytes;
pub mod digest;
pub mod framing;
pub mod headers;
pub mod message;
pub mod names;
pub mod parse;
pub(crate) mod scan;
pub mod write;

pub use headers::{AuthParams, CSeq, HostPort, NameAddr, Params, QStr, Uri, Via};
pub use message::{Header, Message, Method, StartLine};
pub use names::HeaderKind;
pub use parse::{Error, ErrorKind, Limits, Parsed, parse_datagram, parse_stream};
pub use write::{Writer, response_to};
