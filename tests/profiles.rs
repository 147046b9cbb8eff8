//! Every shipped profile parses and validates.

use gbswarm::profile::Profile;

#[test]
fn shipped_profiles_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let plan = Profile::load(&path)
                .and_then(|p| p.plan())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(plan.ids.len() >= 100, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 5, "smoke, 10k-udp, 10k-tcp, flash-crowd, soak-100k");
}

/// The README's first command, `run --profile profiles/smoke.toml`, is meant to work against
/// a `gbswarm serve` started with its defaults too, not only against the embedded registrar
/// (which accepts any expiry): in virtual time, the smoke fleet against the registrar core
/// configured exactly as `gbswarm serve` configures it registers without a 423, refreshes,
/// keeps alive and unregisters within the profile's 20 s.
#[test]
fn smoke_shows_every_flow_against_a_default_serve() {
    use clap::Parser;
    use gbswarm::camera::{Outcome, TxnKind};
    use gbswarm::cli::{Cli, Command};
    use gbswarm::clock::{Span, Time};
    use gbswarm::profile::Ramp;
    use gbswarm::server::registrar::Registrar;
    use gbswarm::server::registry::Registry;
    use gbswarm::testkit::Sim;

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/smoke.toml");
    let plan = Profile::load(path.as_ref()).unwrap().plan().unwrap();
    let Command::Serve(serve) = Cli::try_parse_from(["gbswarm", "serve"]).unwrap().command else {
        unreachable!()
    };
    let mut cfg = serve.config().unwrap().registrar;
    cfg.via_host = Sim::<Registrar>::SERVER.to_string();
    let registrar = Registrar::new(cfg, std::sync::Arc::new(Registry::new(4)), [7; 16]);
    let n = plan.ids.len() as u32;
    let mut cam = plan.camera.clone();
    cam.retry_jitter_permille = 0;
    let mut sim = Sim::with_server(cam, plan.ids.get(0).unwrap(), n, registrar);
    let Ramp::Rate(rate) = plan.ramp else {
        panic!("smoke ramps up at a rate")
    };
    sim.start_all(Span::from_micros((1e6 / rate) as u64));
    sim.run_until(Time::ZERO + Span::from_micros(plan.duration.as_micros() as u64));
    let t = &sim.net.tally;
    let all = u64::from(n);
    assert_eq!(t.get(TxnKind::Register, Outcome::Status(423)), 0);
    assert_eq!(t.get(TxnKind::Register, Outcome::Status(200)), all);
    assert_eq!(t.total(TxnKind::Register), all);
    assert_eq!(t.get(TxnKind::Refresh, Outcome::Status(200)), all);
    let keepalives = t.get(TxnKind::Keepalive, Outcome::Status(200));
    assert!(keepalives >= 3 * all, "{keepalives}");
    sim.stop_all();
    sim.run_until(sim.now() + Span::from_secs(10));
    assert_eq!(
        sim.net.tally.get(TxnKind::Unregister, Outcome::Status(200)),
        all
    );
}
