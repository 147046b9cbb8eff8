//! The SIP wire format, shared by the emulated cameras and the registrar.
//!
//! [`parse`] turns bytes into borrowed [`Message`] views ([`message`]) without allocating;
//! [`names`] tells which header a name is; [`params`], [`addr`] and [`auth`] read the inside of
//! a header value, and [`accessors`] puts them on `Message` as typed getters;
//! [`write`](mod@write) builds messages into reused buffers; [`recover`] answers 400 to a request
//! that would not parse; [`framing`] cuts a TCP stream into messages; [`digest`] does RFC 2617
//! authentication for both sides; [`batch`] holds outgoing messages back to back and
//! [`transport`] names UDP or TCP; [`sdp`] cuts an SDP body into lines and reads its generic
//! fields.
//!
//! Nothing in this layer reads a clock, touches a socket or allocates per message, and nothing
//! in it keeps dialog, registration or device state: it is the wire format only.
//!
//! Each file uses only files listed before it here: `scan`, `bytes`, `names`, `message`,
//! `parse`, `params`, `addr`, `auth`, `accessors`, `write`, `recover`, `digest`, `framing`
//! (`batch` and `transport` use none of them; `sdp` uses only `bytes`).

pub mod accessors;
pub mod addr;
pub mod auth;
pub mod batch;
pub(crate) mod bytes;
pub mod digest;
pub mod framing;
pub mod message;
pub mod names;
pub mod params;
pub mod parse;
pub mod recover;
pub(crate) mod scan;
pub mod sdp;
pub mod transport;
pub mod write;

pub use accessors::ValuesOf;
pub use addr::{CSeq, HostPort, NameAddr, Uri, Via};
pub use auth::AuthParams;
pub use batch::Batch;
pub use message::{Header, Message, Method, StartLine};
pub use names::HeaderKind;
pub use params::{CommaValues, Params, QChunks, QStr};
pub use parse::{Error, ErrorKind, Limits, Parsed, parse_datagram, parse_stream};
pub use recover::write_bad_request;
pub use transport::Transport;
pub use write::{Writer, response_to};
