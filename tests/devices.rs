//! Per-device identities (`run --devices FILE`, `serve --passwords FILE`): one file gives every
//! camera its ID, password, channel count and transport, and the registrar its passwords. In
//! virtual time against the real registrar core, over loopback with UDP and TCP cameras mixed
//! on shared sockets, and as a user runs the two commands. Servers are started here on
//! 127.0.0.1 and stopped by their own handle or PID.

use gbswarm::camera::{CameraConfig, Outcome, Transport, TxnKind};
use gbswarm::clock::{Span, Time};
use gbswarm::gb::{DeviceId, Devices};
use gbswarm::profile::Profile;
use gbswarm::server::registrar::{Config, Passwords, Registrar};
use gbswarm::server::registry::Registry;
use gbswarm::testkit::Sim;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const S: Span = Span::from_secs(1);
const MS: Span = Span::from_millis(1);

fn id(s: &str) -> DeviceId {
    s.parse().unwrap()
}

/// `n` rows: device `i` has password `pw-i`, `1 + i % 5` channels, and every third one TCP.
fn fleet_csv(n: u32) -> String {
    let mut s = String::from("# device-id,password,channels,transport\n");
    for i in 1..=n {
        let t = if i % 3 == 0 { "tcp" } else { "" };
        s.push_str(&format!("3402000000132{i:07},pw-{i},{},{t}\n", 1 + i % 5));
    }
    s
}

fn channels_of(n: u32) -> u64 {
    (1..=n).map(|i| u64::from(1 + i % 5)).sum()
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("gbswarm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn each_camera_registers_with_its_own_password_and_lists_its_own_channels() {
    const N: u32 = 30;
    let cams = Devices::parse(&fleet_csv(N)).unwrap();
    // The registrar knows every device, but device 7's password there is another one.
    let server_rows =
        fleet_csv(N).replace("34020000001320000007,pw-7,", "34020000001320000007,other,");
    let server = Devices::parse(&server_rows).unwrap();
    let reg = Registrar::new(
        Config {
            query_catalog: true,
            passwords: Passwords::PerDevice(server.password_map()),
            via_host: Sim::<Registrar>::SERVER.to_string(),
            ..Config::new(id("34020000002000000001"), "unused")
        },
        Arc::new(Registry::new(4)),
        [3; 16],
    );
    let mut cfg = CameraConfig::new(id("34020000002000000001"));
    cfg.retry_interval_ms = 3_600_000;
    cfg.identities = Some(Arc::new(cams));
    let mut sim = Sim::with_devices(cfg, reg);
    sim.start_all(10 * MS);
    sim.run_until(Time::ZERO + 120 * S);
    let t = &sim.net.tally;
    assert_eq!(
        t.get(TxnKind::Register, Outcome::Status(200)),
        u64::from(N - 1)
    );
    assert_eq!(t.get(TxnKind::Register, Outcome::Status(403)), 1);
    assert!(
        !sim.cams[6].is_registered(),
        "device 7 has the wrong password"
    );
    assert!(
        sim.cams
            .iter()
            .enumerate()
            .all(|(i, c)| i == 6 || c.is_registered())
    );
    // The platform's Catalog query, answered by each camera with its own channel count.
    let st = sim.servers[0].stats();
    assert_eq!(st.catalog_responses, u64::from(N - 1));
    assert_eq!(st.catalog_items, channels_of(N) - (1 + 7 % 5));
    // Every third camera went over TCP: the registrar saw it so.
    let now = sim.now();
    let reg = &sim.servers[0];
    for i in [3u32, 6, 9] {
        let e = reg
            .registry()
            .get(&id(&format!("3402000000132{i:07}")))
            .unwrap();
        assert_eq!(e.transport, Transport::Tcp, "device {i}");
    }
    let e = reg.registry().get(&id("34020000001320000001")).unwrap();
    assert_eq!(e.transport, Transport::Udp);
    assert_eq!(reg.registry().counts(now, 3600 * S).0, u64::from(N - 1));
}

#[test]
fn udp_and_tcp_cameras_of_one_file_share_a_run_over_loopback() {
    const N: u32 = 24;
    let dir = Dir::new("devices-loopback");
    let file = dir.write("fleet.csv", &fleet_csv(N));
    let server = gbswarm::server::start(gbswarm::server::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        registrar: Config {
            query_catalog: true,
            min_expires: 1,
            passwords: Passwords::PerDevice(gbswarm::server::load_passwords(&file).unwrap()),
            ..Config::new(id("34020000002000000001"), "unused")
        },
        tcp_idle: Duration::from_secs(60),
        tcp_partial: Duration::from_secs(10),
        max_connections: 1000,
        max_half_open_per_source: 1000,
    })
    .unwrap();
    let addr = server.local_addr();
    let p = Profile {
        target: Some(addr.to_string()),
        devices: Some(file.clone()),
        // UDP cameras four to a socket: the platform's queries are routed by device ID.
        cameras_per_socket: Some(4),
        cores: Some(2),
        rate: Some(200.0),
        duration: Some(gbswarm::profile::Span(Duration::from_millis(2500))),
        heartbeat: Some(gbswarm::profile::Span(Duration::from_secs(1))),
        grace: Some(gbswarm::profile::Span(Duration::from_secs(3))),
        ..Profile::default()
    };
    let plan = p.plan().unwrap();
    assert_eq!(plan.ids.len(), u64::from(N));
    assert_eq!(plan.transport_label(), "udp (16) and tcp (8)");
    let result =
        gbswarm::engine::run(&plan, addr, &gbswarm::engine::Stop::default(), |_| {}).unwrap();
    let st = server.stop();
    let t = &result.total;
    let reg = t.kind(TxnKind::Register);
    assert_eq!((reg.total(), reg.succeeded()), (u64::from(N), u64::from(N)));
    let q = t.kind(TxnKind::QueryResponse);
    assert_eq!(
        q.succeeded(),
        u64::from(N),
        "every Catalog query reached its camera"
    );
    let unreg = t.kind(TxnKind::Unregister);
    assert_eq!(unreg.succeeded(), u64::from(N));
    assert_eq!(
        (t.unrouted, t.counters.stray, t.counters.malformed),
        (0, 0, 0)
    );
    assert_eq!(st.registrations, u64::from(N));
    assert_eq!(st.unregistrations, u64::from(N));
    assert_eq!(st.catalog_items, channels_of(N));
    assert_eq!(st.response(403), 0);
}

fn gbswarm(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gbswarm"));
    c.args(args).stdin(Stdio::null());
    c
}

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = gbswarm(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

#[test]
fn one_file_for_run_devices_and_serve_passwords() {
    const N: u32 = 12;
    let dir = Dir::new("devices-cli");
    let file = dir.write("fleet.csv", &fleet_csv(N));
    let file = file.to_str().unwrap();
    let mut serve = gbswarm(&[
        "serve",
        "--cores",
        "1",
        "--listen",
        "127.0.0.1:0",
        "--passwords",
        file,
        "--min-expires",
        "1s",
        "--gb-version",
        "2016",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = serve.id();
    let stop = |child: &mut std::process::Child| {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().unwrap()
    };
    let mut lines = BufReader::new(serve.stderr.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            assert!(line.contains(&format!("{N} device passwords")), "{line}");
            assert!(line.contains("GB/T 28181-2016 (X-GB-Ver 2.0)"), "{line}");
            addr = Some(rest.split(' ').next().unwrap().to_string());
            break;
        }
    }
    let Some(addr) = addr else {
        stop(&mut serve);
        panic!("serve ended before listening");
    };
    let out = gbswarm(&[
        "run",
        "--target",
        &addr,
        "--devices",
        file,
        "--cores",
        "1",
        "--rate",
        "100",
        "--duration",
        "1500ms",
        "--heartbeat",
        "1s",
        "--grace",
        "3s",
        "--gb-version",
        "2022",
    ])
    .output()
    .unwrap();
    let status = stop(&mut serve);
    assert_eq!(serve.id(), pid);
    let mut summary = String::new();
    serve
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut summary)
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    assert!(
        err.contains(&format!("{N} cameras over udp (8) and tcp (4)")),
        "{err}"
    );
    assert!(status.success() || status.code().is_none(), "{status:?}");
    assert!(
        summary.contains(&format!("registrations {N}, unregistrations {N}")),
        "{summary}"
    );
    // Every REGISTER of the 2022 cameras declared 3.0, and the registrar counted them so.
    assert!(summary.contains("REGISTER X-GB-Ver: 3.0 ×"), "{summary}");
    assert!(!summary.contains("none ×"), "{summary}");
}

#[test]
fn bad_device_files_and_conflicting_flags_exit_2_naming_the_line_or_key() {
    let dir = Dir::new("devices-bad");
    let bad = dir.write(
        "bad.csv",
        "34020000001320000001,pw\n# two\n34020000001320000001,again\n",
    );
    let bad = bad.to_str().unwrap();
    let good = dir.write("good.csv", &fleet_csv(3));
    let good = good.to_str().unwrap();
    let (code, err) = stderr_of(&["run", "--devices", bad]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err,
        format!(
            "gbswarm: invalid `devices`: {bad}:3: device 34020000001320000001 is listed again (first on line 1)"
        )
    );
    let (code, err) = stderr_of(&["serve", "--passwords", bad]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.ends_with(&format!(
            "{bad}:3: device 34020000001320000001 is listed again (first on line 1)"
        )),
        "{err}"
    );
    let (code, err) = stderr_of(&["run", "--devices", good, "--password", "x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "invalid `password`: `devices` ({good}) gives every camera its ID and password: leave out `password`"
        )),
        "{err}"
    );
    let (code, err) = stderr_of(&["run", "--devices", good, "--cameras", "4"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "invalid `cameras`: 4 cameras, but {good} lists 3 devices"
        )),
        "{err}"
    );
    let (code, err) = stderr_of(&["run", "--devices", &format!("{good}.absent")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn shards_and_cameras_take_rows_of_the_file() {
    let dir = Dir::new("devices-shards");
    let file = dir.write("fleet.csv", &fleet_csv(10));
    let plan = |shard: Option<&str>, cameras: Option<u64>| {
        Profile {
            devices: Some(file.clone()),
            shard: shard.map(str::to_string),
            cameras,
            ..Profile::default()
        }
        .plan()
        .unwrap()
    };
    let all: Vec<DeviceId> = plan(None, None).ids.iter().collect();
    assert_eq!(all.len(), 10);
    let mut joined = Vec::new();
    for k in 0..3 {
        let p = plan(Some(&format!("{k}/3")), None);
        let d = p.camera.identities.clone().unwrap();
        // Each shard's cameras carry their own rows: index i is the shard's row i.
        for (i, id) in p.ids.iter().enumerate() {
            let n = (id.number() % 10_000) as u32;
            assert_eq!(p.camera.password_of(i as u32), format!("pw-{n}").as_bytes());
            assert_eq!(p.camera.channels_of(i as u32), 1 + n % 5);
            assert_eq!(d.id(i), Some(id));
        }
        joined.extend(p.ids.iter());
    }
    assert_eq!(joined, all);
    assert_eq!(plan(Some("0/3"), None).ids.len(), 4);
    let first = plan(None, Some(4));
    assert_eq!(first.ids.iter().collect::<Vec<_>>(), all[..4]);
    assert_eq!(first.transport_label(), "udp (3) and tcp (1)");
    assert_eq!(
        first.camera.transport_of(2),
        Transport::Tcp,
        "row 3 says tcp"
    );
}
