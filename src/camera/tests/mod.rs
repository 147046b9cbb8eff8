//! Every device behaviour, one area per file: registration, the transport under the
//! transactions, 302 redirects, 423 and Min-Expires, keepalives, platform queries, stopping,
//! and what a record's latency, schedule lag and service time mean (`lag`). A test drives one
//! camera by hand ([`Bench1`], each call returning what it sent) or a fleet in simulated time
//! against the scripted registrar ([`Sim`]). This file holds what they share — the time
//! constants, configs, [`Bench1`], message field readers — and the camera's size budget.
//!
//! Nothing here opens a socket or reads a clock: every test is deterministic.

mod device;
mod gb_version;
mod interop;
mod keepalive;
mod lag;
mod min_expires;
mod queries;
mod redirect;
mod registration;
mod stop;
mod transport;

use super::*;
use crate::clock::{Span, Time};
use crate::sip::{Header, Limits, parse_datagram};
use crate::testkit::{Script, Sim, camera_addr};
use crate::timer::TICK;

const T0: Time = Time::ZERO;
const S: Span = Span::from_secs(1);
const MS: Span = Span::from_millis(1);
const US: Span = Span::from_micros(1);

/// A device ID from its 20 digits.
fn id(s: &str) -> DeviceId {
    s.parse().unwrap()
}

/// The fleet config most tests use: the defaults without retry jitter, so times are exact.
fn cfg() -> CameraConfig {
    let mut c = CameraConfig::new(id("34020000002000000001"));
    c.retry_jitter_permille = 0;
    c
}

/// `n` cameras against the scripted registrar, in virtual time from zero.
fn sim(n: u32, cfg: CameraConfig, script: Script) -> Sim {
    Sim::new(cfg, id("34020000001320000001"), n, script)
}

/// Drives one camera by hand: each call returns what it sent.
struct Bench1 {
    cam: Camera,
    cfg: CameraConfig,
    out: Outbox,
}

impl Bench1 {
    fn new(cfg: CameraConfig) -> Self {
        let cam = Camera::new(id("34020000001320000001"), 0, &cfg);
        Bench1 {
            cam,
            cfg,
            out: Outbox::default(),
        }
    }

    fn call(&mut self, f: impl FnOnce(&mut Camera, &mut Env<'_>)) -> Vec<Vec<u8>> {
        self.out.clear();
        let mut env = Env {
            cfg: &self.cfg,
            local: camera_addr(0),
            out: &mut self.out,
        };
        f(&mut self.cam, &mut env);
        self.out
            .sends
            .iter()
            .map(|t| self.out.bytes(t).to_vec())
            .collect()
    }
}

/// One field of a message on the wire, as text (empty if absent).
fn field(raw: &[u8], f: impl FnOnce(&crate::sip::Message<'_, '_>) -> Option<String>) -> String {
    let mut h = [Header::EMPTY; 40];
    let m = parse_datagram(raw, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    f(&m).unwrap_or_default()
}

/// A response with `code` to the request `req`, with `headers` added.
fn answer(req: &[u8], code: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut h = [Header::EMPTY; 40];
    let m = parse_datagram(req, &mut h, &Limits::default())
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    let mut w = crate::sip::response_to(&mut out, &m, code, Some(b"srv"), None);
    for (name, value) in headers {
        w.header(name.as_bytes(), value.as_bytes());
    }
    w.finish(b"");
    out
}

/// Bytes as text.
fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn state_fits_the_budget() {
    assert!(
        std::mem::size_of::<Camera>() <= 256,
        "Camera is {} bytes",
        std::mem::size_of::<Camera>()
    );
}
