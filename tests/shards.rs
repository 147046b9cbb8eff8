//! Multi-machine runs on one machine: three `gbswarm run --shard K/3` processes share a fleet
//! against one loopback responder, each writes `--json`, and `gbswarm merge` adds them exactly.

use gbswarm::testkit::Responder;
use gbswarm::testkit::Script;
use std::process::Command;

#[test]
fn three_shards_merge_into_one_fleet() {
    let responder =
        Responder::start("34020000002000000001".parse().unwrap(), Script::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("gbswarm-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let children: Vec<_> = (0..3)
        .map(|k| {
            Command::new(env!("CARGO_BIN_EXE_gbswarm"))
                .args([
                    "run",
                    "--target",
                    &responder.addr().to_string(),
                    "-n",
                    "100",
                    "--rate",
                    "100",
                ])
                .args([
                    "--duration",
                    "3s",
                    "--heartbeat",
                    "1s",
                    "--cores",
                    "1",
                    "--shard",
                    &format!("{k}/3"),
                    "--json",
                ])
                .arg(dir.join(format!("{k}.json")))
                .arg("--hdr-log")
                .arg(dir.join(format!("{k}.hlog")))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let seen = responder.stop().unwrap().seen;
    let out = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .arg("merge")
        .args((0..3).map(|k| dir.join(format!("{k}.json"))))
        .arg("--json")
        .arg(dir.join("merged.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("merged.json")).unwrap()).unwrap();
    // 100 cameras split 34 + 33 + 33, disjoint: the responder saw 100 distinct devices.
    assert_eq!(merged["gauges"]["cameras"], 100);
    assert_eq!(merged["kinds"]["register"]["ok"], 100);
    assert_eq!(seen.register_times.len(), 100);
    assert_eq!(merged["kinds"]["unregister"]["ok"], 100);
    assert_eq!(
        merged["kinds"]["keepalive"]["ok"].as_u64().unwrap()
            + merged["kinds"]["keepalive"]["pending_at_stop"]
                .as_u64()
                .unwrap(),
        seen.keepalives
    );
    let shard0: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("0.json")).unwrap()).unwrap();
    assert_eq!(shard0["info"]["shard"], "0/3");
    assert_eq!(shard0["gauges"]["cameras"], 34);
    // The merged histogram holds every timed registration of the three.
    assert_eq!(merged["kinds"]["register"]["latency_us"]["count"], 100);
    assert!(
        std::fs::read_to_string(dir.join("1.hlog"))
            .unwrap()
            .contains("Tag=register")
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("register"));
    std::fs::remove_dir_all(&dir).unwrap();
}
