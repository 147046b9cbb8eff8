//! Test doubles, behind the `testkit` cargo feature (always on for this crate's own unit
//! tests): the in-memory simulation that jumps virtual time, the scripted registrar whose
//! knobs mirror platforms in the field (and the queries and controls it can send a device),
//! and that registrar behind real loopback sockets.
//!
//! Tests, benches and examples use them; the default build does not ship them.

pub mod requests;
pub mod responder;
pub mod scripted;
pub mod sim;

pub use responder::Responder;
pub use scripted::{Script, ScriptedServer, Seen};
pub use sim::{Sim, SimServer, Tally, camera_addr};
