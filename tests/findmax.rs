//! `find-max` over real loopback sockets: a small search against the scripted responder stops
//! by itself and reports the highest rate that held, with every step's evidence; against a
//! redirecting registrar, steps hold when the redirected registrations succeed.

use gbswarm::engine::Stop;
use gbswarm::findmax::{Dimension, Search, Slo};
use gbswarm::profile::{Profile, Span};
use gbswarm::server::registrar::{Config, Redirect};
use gbswarm::server::{ServeConfig, ServerHandle};
use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use std::time::Duration;

#[test]
fn search_against_a_loopback_responder() {
    let responder =
        Responder::start("34020000002000000001".parse().unwrap(), Script::default()).unwrap();
    let base = Profile {
        target: Some(responder.addr().to_string()),
        heartbeat: Some(Span(Duration::from_secs(3600))),
        grace: Some(Span(Duration::from_millis(500))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let search = Search {
        base,
        dimension: Dimension::Rate,
        start: 200.0,
        factor: 2.0,
        max: 800.0,
        precision: 0.1,
        step: Duration::from_millis(1500),
        warmup: Duration::from_millis(500),
        slo: Slo {
            max_p99: Duration::from_secs(1),
            max_failure_share: 0.01,
        },
        max_steps: 5,
    };
    let (mut started, mut seen) = (Vec::new(), 0);
    let o = search
        .run(
            responder.addr(),
            &Stop::default(),
            |load| started.push(load),
            |_| seen += 1,
        )
        .unwrap();
    assert_eq!(seen, o.steps.len());
    assert_eq!(o.best, Some(800.0), "{o:?}");
    let loads: Vec<f64> = o.steps.iter().map(|s| s.load).collect();
    assert_eq!(loads, vec![200.0, 400.0, 800.0]);
    // Each step was announced as it started, with its load.
    assert_eq!(started, loads);
    for s in &o.steps {
        // About step × rate registrations measured, all answered.
        assert!(s.measured as f64 >= s.load * 1.2, "{s:?}");
        assert_eq!(s.failures, 0);
        assert!(s.p99_us > 0);
    }
}

fn serve(id: &str, redirect: Option<Redirect>) -> ServerHandle {
    gbswarm::server::start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        registrar: Config {
            redirect,
            ..Config::new(id.parse().unwrap(), "12345678")
        },
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(1),
        max_connections: 1000,
        max_half_open_per_source: 256,
    })
    .unwrap()
}

#[test]
fn steps_hold_against_a_redirecting_registrar() {
    let a = serve("34020000002000000002", None);
    let redirector = serve(
        "34020000002000000001",
        Some(Redirect {
            targets: vec![("34020000002000000002".parse().unwrap(), a.local_addr())],
            round_robin: false,
        }),
    );
    let base = Profile {
        target: Some(redirector.local_addr().to_string()),
        heartbeat: Some(Span(Duration::from_secs(3600))),
        grace: Some(Span(Duration::from_millis(500))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let search = Search {
        base,
        dimension: Dimension::Rate,
        start: 100.0,
        factor: 2.0,
        max: 200.0,
        precision: 0.1,
        step: Duration::from_millis(1000),
        warmup: Duration::from_millis(500),
        slo: Slo {
            max_p99: Duration::from_secs(1),
            max_failure_share: 0.01,
        },
        max_steps: 3,
    };
    let o = search.run(redirector.local_addr(), &Stop::default(), |_| {}, |_| {});
    let (at_redirector, at_a) = (redirector.stop(), a.stop());
    let o = o.unwrap();
    assert_eq!(o.best, Some(200.0), "{o:?}");
    for s in &o.steps {
        // Every registration measured was redirected and ended with A's 200: none failed.
        assert!(s.held && s.measured > 0, "{s:?}");
        assert_eq!(
            (s.ok, s.redirected, s.failures),
            (s.measured, s.measured, 0),
            "{s:?}"
        );
    }
    assert!(at_redirector.redirects > 0 && at_a.registrations >= at_redirector.redirects);
}
