//! The scripted loopback responder (a registrar that answers every REGISTER and keepalive at
//! once, with digest auth), for `gbswarm run` and `find-max` without a real platform:
//!
//! ```sh
//! cargo run --release --example responder -- [PORT [SECONDS]]
//! ```
//!
//! `PORT`: where it listens, UDP and TCP on 127.0.0.1 (default 5060; 0 picks a free port; a
//! port another process holds is refused). `SECONDS`: how long it runs (default 60). It prints
//! its address on stdout at the start, and on stopping prints to stderr what it saw:
//! `(authorized, registrations, keepalives, unregistrations)`. Exit status 2 for arguments
//! that are not numbers, 3 when it cannot listen.
use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use std::net::SocketAddr;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: u64| -> Option<u64> {
        args.get(i).map_or(Some(default), |s| s.parse().ok())
    };
    let (Some(port), Some(secs)) = (number(0, 5060), number(1, 60)) else {
        eprintln!("usage: responder [PORT [SECONDS]] (defaults: 5060, 60)");
        return ExitCode::from(2);
    };
    let Ok(port) = u16::try_from(port) else {
        eprintln!("responder: {port} is not a port");
        return ExitCode::from(2);
    };
    let id = "34020000002000000001".parse().expect("server id");
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let script = Script {
        per_device: false,
        ..Script::default()
    };
    let r = match Responder::start_on(listen, id, script) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("responder: cannot listen on {listen}: {e}");
            return ExitCode::from(3);
        }
    };
    println!("{}", r.addr());
    std::thread::sleep(std::time::Duration::from_secs(secs));
    if let Some(s) = r.stop() {
        eprintln!(
            "{:?}",
            (
                s.seen.authorized,
                s.seen.registrations,
                s.seen.keepalives,
                s.seen.unregistrations
            )
        );
    }
    ExitCode::SUCCESS
}
