//! Runs the scripted loopback responder until Ctrl-C, printing its address:
//! `cargo run --release --example responder`.
use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;

fn main() {
    let id = "34020000002000000001".parse().expect("server id");
    let r = Responder::start(
        id,
        Script {
            per_device: false,
            ..Script::default()
        },
    )
    .expect("start responder");
    println!("{}", r.addr());
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
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
}
