//! Multi-machine runs on one machine: three `gbswarm run --shard K/3` processes share a fleet
//! against one loopback responder, each writes `--json`, and `gbswarm merge` adds them exactly:
//! totals, the time series second by second, each run's CPU beside the sum, an HTML report;
//! and refuses a run given twice.

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
        .arg("--report")
        .arg(dir.join("merged.html"))
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("register"));
    // The time series, merged by second: every registration is in some second.
    let timeline = merged["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 3, "{} seconds", timeline.len());
    let by_second: u64 = timeline
        .iter()
        .map(|s| s["kinds"]["register"]["ok"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(by_second, 100);
    // Each run's CPU beside the sum, in the JSON and on stdout.
    let runs = merged["info"]["shards"].as_array().unwrap();
    let labels: Vec<&str> = runs.iter().map(|r| r["shard"].as_str().unwrap()).collect();
    assert_eq!(labels, ["0/3", "1/3", "2/3"]);
    let each: f64 = runs.iter().map(|r| r["cpu_s"].as_f64().unwrap()).sum();
    assert!((each - merged["info"]["cpu_s"].as_f64().unwrap()).abs() < 1e-6);
    assert_eq!(runs[0]["run_id"], shard0["info"]["run_id"]);
    assert!(stdout.contains("runs merged: 3"), "{stdout}");
    for k in 0..3 {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{k}/3 ")))
            .unwrap_or_else(|| panic!("no line for shard {k}/3 in {stdout}"));
        assert!(
            line.contains(" cpu ") && line.contains(&format!("{k}.json")),
            "{line}"
        );
    }
    let html = std::fs::read_to_string(dir.join("merged.html")).unwrap();
    assert!(html.contains("<h3>The 3 runs merged</h3>"));
    let offered = html.split("<figure id=\"offered\">").nth(1).unwrap();
    assert!(offered.split("</figure>").next().unwrap().contains("<svg"));

    // The same run twice is bad input (exit 2), named by both files, whatever they are called.
    std::fs::copy(dir.join("0.json"), dir.join("copy.json")).unwrap();
    for (inputs, names) in [
        (&["0.json", "0.json"][..], "0.json is given twice"),
        (&["0.json", "1.json", "copy.json"][..], "0.json and "),
        (&["merged.json", "2.json"][..], "merged.json and "),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
            .arg("merge")
            .args(inputs.iter().map(|f| dir.join(f)))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{inputs:?}: {err}");
        assert!(err.contains("gbswarm merge: invalid `reports`: "), "{err}");
        assert!(err.contains(names), "{inputs:?}: {err}");
        assert!(err.contains("would count its cameras twice"), "{err}");
        assert!(out.stdout.is_empty(), "nothing merged");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
