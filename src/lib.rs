//! gbswarm: a load simulator for GB/T 28181 video-surveillance SIP servers, and a registrar fast
//! path built on the same SIP core.
//!
//! Two peers, one shape: the emulated camera and the registrar are sans-IO cores of the same
//! form (`now` and one parsed message in, messages out), driven by host loops that only move
//! bytes and fire timers, over one socket layer.
//!
//! ```text
//!        profile (TOML + flags → one validated Plan)         cli (flags → plans, configs, errors)
//!               │                                                   │
//!   engine: generator host (one pinned mio loop per core)   server: serve host (net::host, one
//!     │ drives cameras through camera::driver                 │ loop per core, SO_REUSEPORT)
//!     ▼                                                       ▼
//!   camera (sans-IO device)                        server::registrar (sans-IO, a net::Service)
//!     │             ▲                                         │
//!     ▼             │                                         ▼
//!   gb (20-digit IDs, MANSCDP bodies, the REGISTER and query rules once, Date format)
//!     │
//!   sip (zero-copy parse, typed headers, writer, Batch, framing, digest) ── net (every socket:
//!                                                                           UDP, TCP with bounded
//!   stats (per-worker histograms swapped each second → reports)             write queues,
//!   timer (one wheel per worker)    clock (Time and Span, µs)               listeners, limits)
//!   testkit (feature: simulation in virtual time, scripted registrar, loopback responder)
//! ```
//!
//! - [`sip`]: the wire format only; never allocates per message, never keeps state.
//! - [`gb`]: what GB/T 28181 adds to SIP, written once for both peers.
//! - [`camera`]: the device state machine and the one driver of its output.
//! - [`server`]: the registrar core, its registry and nonces, and `gbswarm serve`.
//! - [`net`]: every socket both hosts use, and the server host loop.
//! - [`engine`]: the generator's workers, the camera host.
//! - [`media`]: H.264/H.265 frames → MPEG-2 PS → RTP packets, a shared template per clip.
//! - [`clock`], [`timer`], [`stats`]: time, timers and measurements.
//! - [`metrics`]: the live Prometheus endpoint of `run --metrics` and `serve --metrics`.
//! - [`profile`], [`findmax`], [`runner`], [`inspect`], [`cli`]: runs, searches, reports and
//!   the command line (`main.rs` only parses and calls [`cli::run`]).
//! - `testkit` (cargo feature `testkit`): test doubles for tests, benches and examples.

#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod camera;
pub mod cli;
pub mod clock;
pub mod engine;
pub mod findmax;
pub mod gb;
pub mod inspect;
pub mod media;
pub mod metrics;
pub mod net;
pub mod profile;
pub mod runner;
pub mod seed;
pub mod server;
pub mod sip;
pub mod stats;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod timer;
pub mod verdict;
