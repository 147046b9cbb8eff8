//! Kamailio (Debian package `kamailio`) as the target of `gbswarm run`: a registrar with digest
//! auth, contacts in memory and MESSAGE answered 200 (tests/peers/kamailio.cfg). A few hundred
//! cameras register, refresh, send keepalives and unregister over UDP and over TCP, and both
//! sides' counters must agree.

mod peers;

use gbswarm::camera::{Transport, TxnKind};
use gbswarm::engine;
use gbswarm::profile::{Profile, Span};
use peers::{Peer, TempDir};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

struct Kamailio {
    peer: Peer,
    ctl: String,
    port: u16,
    _dir: TempDir,
}

impl Kamailio {
    fn start(tag: &str) -> Kamailio {
        let dir = TempDir::new(tag);
        let port = peers::free_port();
        let ctl = format!("unix:{}/ctl.sock", dir.path().display());
        let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/kamailio.cfg");
        let mut cmd = Command::new("kamailio");
        cmd.args(["-f", cfg, "-DD", "-E", "-m", "64", "-M", "8"])
            .arg("-P")
            .arg(dir.path().join("kamailio.pid"))
            .arg("-w")
            .arg(dir.path())
            .args([
                "-l",
                &format!("udp:127.0.0.1:{port}"),
                "-l",
                &format!("tcp:127.0.0.1:{port}"),
            ])
            .args(["-A", &format!("CTL_SOCK=\"{ctl}\"")])
            // The default allocator is slow on a fresh process; tlsf is what production uses.
            .args(["-x", "tlsf", "-X", "tlsf"]);
        let peer = Peer::spawn("kamailio", cmd, dir.path());
        let k = Kamailio {
            peer,
            ctl,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while k.stats().is_none() {
            assert!(
                Instant::now() < deadline,
                "kamailio did not come up:\n{}",
                peers::read(&k._dir.path().join("kamailio.err"))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        k
    }

    /// `name = value` counters from the control socket.
    fn stats(&self) -> Option<Vec<(String, i64)>> {
        let out = Command::new("kamcmd")
            .args(["-s", &self.ctl, "stats.get_statistics", "all"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let stats: Vec<(String, i64)> = text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(" = ")?;
                Some((k.trim().to_string(), v.trim().parse().ok()?))
            })
            .collect();
        (!stats.is_empty()).then_some(stats)
    }

    fn stat(&self, name: &str) -> i64 {
        self.stats()
            .and_then(|s| s.into_iter().find(|(k, _)| k == name).map(|(_, v)| v))
            .unwrap_or(-1)
    }
}

fn run_against_kamailio(transport: Transport) {
    if !peers::have("kamailio", "kamailio") || !peers::have("kamcmd", "kamailio") {
        return;
    }
    let mut k = Kamailio::start(match transport {
        Transport::Udp => "kam-udp",
        Transport::Tcp => "kam-tcp",
    });
    let cameras = 300;
    let plan = Profile {
        target: Some(format!("127.0.0.1:{}", k.port)),
        cameras: Some(cameras),
        transport: Some(transport),
        rate: Some(300.0),
        duration: Some(Span(Duration::from_secs(5))),
        expires: Some(Span(Duration::from_secs(3))),
        heartbeat: Some(Span(Duration::from_secs(2))),
        grace: Some(Span(Duration::from_secs(5))),
        ..Profile::default()
    }
    .plan()
    .unwrap();
    let target = plan.target.unwrap();
    let mut online_seen_by_kamailio = -1;
    let result = engine::run(&plan, target, &AtomicBool::new(false), |iv| {
        if iv.t_s == 3.0 {
            online_seen_by_kamailio = k.stat("usrloc:registered_users");
        }
    })
    .unwrap();
    let t = &result.total;
    let reg = t.kind(TxnKind::Register);
    let refresh = t.kind(TxnKind::Refresh);
    let unreg = t.kind(TxnKind::Unregister);
    let ka = t.kind(TxnKind::Keepalive);
    // gbswarm's side: every transaction succeeded.
    assert_eq!(
        (reg.total(), reg.succeeded()),
        (cameras, cameras),
        "{reg:?}"
    );
    assert!(refresh.succeeded() >= cameras, "{refresh:?}");
    assert_eq!(refresh.total(), refresh.succeeded());
    assert_eq!(
        (unreg.total(), unreg.succeeded()),
        (cameras, cameras),
        "{unreg:?}"
    );
    assert!(ka.succeeded() >= cameras, "{ka:?}");
    assert_eq!(ka.total(), ka.succeeded() + ka.abandoned, "{ka:?}");
    // Kamailio's side: it saw the same registrations and unregistrations.
    let accepted = k.stat("registrar:accepted_regs");
    assert_eq!(
        accepted,
        (reg.succeeded() + refresh.succeeded() + unreg.succeeded()) as i64,
        "registrar:accepted_regs"
    );
    assert_eq!(k.stat("registrar:rejected_regs"), 0);
    assert_eq!(
        online_seen_by_kamailio, cameras as i64,
        "usrloc:registered_users mid-run"
    );
    assert_eq!(
        k.stat("usrloc:registered_users"),
        0,
        "every camera unregistered"
    );
    assert!(k.peer.stop(), "kamailio stops on SIGTERM");
}

#[test]
fn kamailio_registrar_over_udp() {
    run_against_kamailio(Transport::Udp);
}

#[test]
fn kamailio_registrar_over_tcp() {
    run_against_kamailio(Transport::Tcp);
}
