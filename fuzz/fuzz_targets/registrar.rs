//! Fuzz the registrar's request handling (bytes in, response bytes out, no sockets): any input
//! must give a response or nothing, never a panic, and never unbounded output.
#![no_main]

use gbswarm::server::registrar::{Config, Registrar, Stats};
use gbswarm::server::registry::Registry;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let cfg = Config::new("34020000002000000001".parse().unwrap(), "12345678");
    let r = Registrar::new(cfg, Arc::new(Registry::new(4)), [1; 16]);
    let mut out = Vec::new();
    let mut stats = Stats::default();
    for tcp in [false, true] {
        out.clear();
        let _ = r.handle(1_000_000, 1_795_475_772_123, data, "127.0.0.1:9".parse().unwrap(), tcp, &mut out, &mut stats);
        assert!(out.len() <= 4 * data.len() + 2048);
    }
});
