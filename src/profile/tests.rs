//! Profiles and flags into plans: defaults, overrides, every validation message.
use super::*;

#[test]
fn spans() {
    for (s, ms) in [
        ("30", 30_000),
        ("500ms", 500),
        ("20s", 20_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("1.5s", 1500),
    ] {
        assert_eq!(s.parse::<Span>().unwrap().0.as_millis() as u64, ms, "{s}");
    }
    assert!("5 parsecs".parse::<Span>().is_err());
    assert!("".parse::<Span>().is_err());
}

#[test]
fn toml_profile_with_flag_overrides() {
    let p: Profile = toml::from_str(
        r#"
        target = "127.0.0.1:5060"
        cameras = 100
        transport = "tcp"
        duration = "20s"
        heartbeat = 10
        local-ip = ["127.0.0.1-127.0.0.3"]
        "#,
    )
    .unwrap();
    let flags = Profile {
        cameras: Some(5),
        ..Profile::default()
    };
    let plan = p.overlay(flags).plan().unwrap();
    assert_eq!(plan.ids.len(), 5);
    assert_eq!(plan.camera.transport, Transport::Tcp);
    assert_eq!(plan.duration, Duration::from_secs(20));
    assert_eq!(plan.camera.heartbeat_ms, 10_000);
    assert_eq!(plan.local_ips.len(), 3);
    assert_eq!(plan.target, Some("127.0.0.1:5060".parse().unwrap()));
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let e = toml::from_str::<Profile>("camras = 5")
        .unwrap_err()
        .to_string();
    assert!(e.contains("camras"), "{e}");
    let e = toml::from_str::<Profile>("transport = \"sctp\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("sctp") || e.contains("transport"), "{e}");
    let cases: &[(Profile, &str)] = &[
        (
            Profile {
                cameras: Some(0),
                ..Default::default()
            },
            "cameras",
        ),
        (
            Profile {
                rate: Some(-1.0),
                ..Default::default()
            },
            "rate",
        ),
        (
            Profile {
                retry_jitter: Some(2.0),
                ..Default::default()
            },
            "retry-jitter",
        ),
        (
            Profile {
                server_id: Some("123".into()),
                ..Default::default()
            },
            "server-id",
        ),
        (
            Profile {
                id_prefix: Some("34020000001320000001".into()),
                cameras: Some(10),
                ..Default::default()
            },
            "id-prefix",
        ),
        (
            Profile {
                local_ip: Some(vec!["10.0.0.9-10.0.0.1".into()]),
                ..Default::default()
            },
            "local-ip",
        ),
        (
            Profile {
                heartbeat_misses: Some(0),
                ..Default::default()
            },
            "heartbeat-misses",
        ),
        (
            Profile {
                target: Some("nohost".into()),
                ..Default::default()
            },
            "target",
        ),
    ];
    for (p, key) in cases {
        assert_eq!(p.plan().unwrap_err().key, *key);
    }
}

#[test]
fn every_key_overlays() {
    let top = Profile {
        shard: Some("1/2".into()),
        report: Some("r.html".into()),
        json: Some("r.json".into()),
        cameras: Some(4),
        ..Profile::default()
    };
    let base = Profile {
        cameras: Some(9),
        rate: Some(5.0),
        ..Profile::default()
    };
    let merged = base.overlay(top);
    assert_eq!(merged.shard.as_deref(), Some("1/2"));
    assert_eq!(merged.report, Some(PathBuf::from("r.html")));
    assert_eq!(merged.cameras, Some(4));
    assert_eq!(merged.rate, Some(5.0));
}

#[test]
fn shards_split_the_fleet() {
    let base = Profile {
        cameras: Some(10),
        ..Profile::default()
    };
    let mut all = Vec::new();
    for k in 0..3 {
        let p = Profile {
            shard: Some(format!("{k}/3")),
            ..base.clone()
        };
        all.extend(p.plan().unwrap().ids.iter());
    }
    assert_eq!(all, base.plan().unwrap().ids.iter().collect::<Vec<_>>());
    for bad_shard in ["3/3", "1", "a/b", "0/0", "0/11"] {
        let p = Profile {
            shard: Some(bad_shard.into()),
            ..base.clone()
        };
        assert_eq!(p.plan().unwrap_err().key, "shard", "{bad_shard}");
    }
}

#[test]
fn defaults_match_the_field() {
    let plan = Profile::default().plan().unwrap();
    assert_eq!(plan.target, None);
    assert_eq!(plan.camera.server_id.to_string(), "34020000002000000001");
    assert_eq!(plan.camera.domain, "3402000000");
    assert_eq!(plan.camera.password, "12345678");
    assert_eq!(plan.camera.expires, 3600);
    assert_eq!(plan.camera.heartbeat_ms, 60_000);
    assert_eq!(plan.ids.get(0).unwrap().to_string(), "34020000001320000001");
    assert_eq!(plan.ramp, Ramp::Rate(100.0));
}

#[test]
fn camera_numbers_that_do_not_fit_blame_the_key_that_was_given() {
    let cases: &[(Profile, &str, &str)] = &[
        (
            Profile {
                first_id: Some(99_999_999_999),
                ..Default::default()
            },
            "first-id",
            "99999999999 does not fit: after the 13-digit id-prefix `3402000000132` a camera number has at most 7 digits (0 to 9999999)",
        ),
        (
            Profile {
                first_id: Some(9_999_990),
                ..Default::default()
            },
            "cameras",
            "100 cameras from first-id 9999990 do not fit: after the 13-digit id-prefix `3402000000132` a camera number has at most 7 digits (0 to 9999999), so at most 10 cameras",
        ),
        (
            Profile {
                id_prefix: Some("34020000001320000".into()),
                cameras: Some(1000),
                ..Default::default()
            },
            "cameras",
            "1000 cameras from first-id 1 do not fit: after the 17-digit id-prefix `34020000001320000` a camera number has at most 3 digits (0 to 999), so at most 999 cameras",
        ),
        (
            Profile {
                id_prefix: Some("3402x".into()),
                ..Default::default()
            },
            "id-prefix",
            "`3402x` is not 0 to 20 digits (a camera ID has 20)",
        ),
    ];
    for (p, key, message) in cases {
        let e = p.plan().unwrap_err();
        assert_eq!((e.key.as_str(), e.message.as_str()), (*key, *message));
    }
    // What the messages say fits does fit.
    let edge = Profile {
        first_id: Some(9_999_990),
        cameras: Some(10),
        ..Default::default()
    };
    assert_eq!(
        edge.plan().unwrap().ids.get(9).unwrap().to_string(),
        "34020000001329999999"
    );
}

#[test]
fn a_target_needs_a_port_and_may_be_a_name() {
    let at = |t: &str| {
        Profile {
            target: Some(t.into()),
            ..Default::default()
        }
        .plan()
    };
    let e = at("127.0.0.1:0").unwrap_err();
    assert_eq!(e.key, "target");
    assert!(e.message.contains("port 0"), "{}", e.message);
    // `localhost` is the IPv4 loopback for `run --target` and `serve --listen` alike.
    assert_eq!(
        at("localhost:5060").unwrap().target,
        Some("127.0.0.1:5060".parse().unwrap())
    );
    assert_eq!(
        resolve("localhost:0").unwrap(),
        "127.0.0.1:0".parse().unwrap()
    );
    assert!(resolve("localhost").is_err());
}

#[test]
fn alarm_rate_and_bursts_are_read_and_checked() {
    let p: Profile = toml::from_str("alarm-rate = 1.5\nalarm-burst = \"4 at 30s\"").unwrap();
    let plan = p.plan().unwrap();
    let a = plan.camera.alarms;
    assert_eq!(a.period, crate::clock::Span::from_millis(2_400_000));
    let b = a.burst.unwrap();
    assert_eq!((b.count, b.at), (4, crate::clock::Span::from_secs(30)));
    let settings = super::settings::of(&plan);
    let get = |k: &str| settings.iter().find(|(key, _)| key == k).unwrap().1.clone();
    assert_eq!(
        (get("alarm-rate"), get("alarm-burst")),
        ("1.5".into(), "4@30s".into())
    );
    for (p, key) in [
        (
            Profile {
                alarm_rate: Some(-1.0),
                ..Default::default()
            },
            "alarm-rate",
        ),
        (
            Profile {
                alarm_burst: Some("lots".into()),
                ..Default::default()
            },
            "alarm-burst",
        ),
    ] {
        assert_eq!(p.plan().unwrap_err().key, key);
    }
    assert!(!Profile::default().plan().unwrap().camera.alarms.is_on());
}
