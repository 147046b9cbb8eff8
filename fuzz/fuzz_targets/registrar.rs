//! Fuzz the registrar's request handling (bytes in, response bytes out, no sockets): any input
//! must give a response or nothing, never a panic, and never unbounded output.
#![no_main]

use gbswarm::clock::Time;
use gbswarm::net::Service;
use gbswarm::server::registrar::{Config, Registrar};
use gbswarm::server::registry::Registry;
use gbswarm::sip::{Batch, Transport};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let cfg = Config::new("34020000002000000001".parse().unwrap(), "12345678");
    let mut r = Registrar::new(cfg, Arc::new(Registry::new(4)), [1; 16]);
    let mut out = Batch::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        out.clear();
        let from = "127.0.0.1:9".parse().unwrap();
        let _ = r.handle_datagram(Time::from_millis(1_000_000), data, from, transport, &mut out);
        assert!(out.bytes().len() <= 4 * data.len() + 2048);
    }
});
