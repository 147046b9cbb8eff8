//! gbswarm: a load simulator for GB/T 28181 video-surveillance SIP servers, and a registrar fast
//! path built on the same SIP core.
//!
//! ```text
//! profiles/*.toml ─► profile ─► engine (one mio loop per core) ─► sockets (socket2, SO_REUSEPORT)
//!                                   │ drives                               │
//!                                   ▼                                      ▼
//!                   camera state machines (sans-IO) ◄──── sip (zero-copy parse / write / digest)
//!                                   │                                      ▲
//!                                   ▼                                      │
//!                           stats (hdrhistogram) ─► report     server fast path (same sip core)
//! ```
//!
//! Layers present today:
//! - [`sip`]: zero-copy parsing, typed headers, writing into reused buffers, TCP framing and
//!   digest authentication; shared by client and server, never allocates per message.
//! - [`gb`]: GB28181 device IDs and MANSCDP bodies.
//! - [`inspect`]: decode captured messages to JSON for humans and scripts.
//! - [`cli`]: the `gbswarm` command line: flags, their validation into plans and configs, and
//!   typed errors with their exit status; `main.rs` only parses and calls [`cli::run`].

pub mod camera;
pub mod cli;
pub mod engine;
pub mod findmax;
pub mod gb;
pub mod inspect;
pub mod profile;
pub mod runner;
pub mod seed;
pub mod server;
pub mod sip;
pub mod stats;
pub mod timer;
