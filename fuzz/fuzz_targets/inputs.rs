//! Fuzz what users type and files they hand over: device files (`run --devices`,
//! `serve --passwords`), objectives (`--slo`), durations and GB28181 editions; any input must
//! give a value or an error that says what is wrong, never a panic.
#![no_main]

use gbswarm::gb::GbVersion;
use gbswarm::gb::devices::Devices;
use gbswarm::profile::Span;
use gbswarm::verdict::Objective;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Devices::parse(text) {
        assert!(!e.to_string().is_empty());
    }
    if let Err(e) = text.parse::<Objective>() {
        assert!(!e.is_empty());
    }
    let _ = text.parse::<Span>();
    let _ = GbVersion::parse(text);
});
