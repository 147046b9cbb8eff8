//! The socket layer both peers share: client UDP sockets and TCP connections for the camera
//! host (the generator's workers), listeners and the server host loop for the registrar and
//! the test responder, the descriptor and port checks a large fleet needs, and the alarm that
//! wakes a host's poll on time.
//!
//! Everything that touches a socket lives here or in the two hosts that call it; the sans-IO
//! cores above it (camera, registrar) never do. Nothing here parses SIP beyond framing.

pub mod alarm;
pub mod batch;
pub mod host;
mod host_media;
mod host_peers;
pub mod limits;
pub mod listen;
pub mod service;
pub mod tcp;
pub mod udp;

pub use host::{Host, HostConfig};
pub use service::{After, HostEvent, Outbox, Service};
