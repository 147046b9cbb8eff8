//! RecordInfo, Catalog and DeviceInfo between the two peers on one machine: `gbswarm serve
//! --query` is the platform and `gbswarm run` the 4-channel devices. serve queries the
//! registered devices at a rate, matches each Response page to its query by SN and DeviceID
//! and sums the items to SumNum; the devices answer with their paged synthetic recordings,
//! catalogs and device info. The test checks serve's `query` summary (queries answered in
//! full, no page unmatched or repeated, no error status) against the run's JSON counters
//! (every query taken, none refused or bad). Every port comes from port 0; both processes are
//! killed by their PIDs in Drop if the test fails first; waits are bounded.

mod serve_peer;

use serve_peer::{Proc, serve, summary, wait_exit};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn serve_queries_run_devices_and_every_answer_adds_up() {
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-serve-query-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let serve = serve(&[
        "--query",
        "record-info,catalog,device-info",
        "--query-rate",
        "20",
    ]);
    let listen = serve.listen.clone();

    let run = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args(["run", "--target", &listen, "-n", "5", "--cores", "1"])
        .args(["--channels", "4", "--catalog-page", "3"])
        .args(["--duration", "5s", "--heartbeat", "2s", "--grace", "5s"])
        .args(["--json", json.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = Proc(run);
    assert_eq!(
        wait_exit(&mut run, Duration::from_secs(60)),
        Some(0),
        "the run ends"
    );
    std::thread::sleep(Duration::from_millis(300));
    let (code, out) = serve.stop(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let s = summary(&out, "gbswarm serve: query ");
    let num = |k: &str| -> u64 {
        s.get(k)
            .unwrap_or_else(|| panic!("{k} not in the summary: {out}"))
            .parse()
            .unwrap()
    };
    assert!(num("answered") >= 20, "{out}");
    assert!(
        num("pages") > num("answered"),
        "some answers span pages: {out}"
    );
    assert!(num("items") > num("pages"), "{out}");
    for zero in [
        "4xx",
        "5xx",
        "6xx",
        "unmatched_pages",
        "duplicate_pages",
        "table_full",
    ] {
        assert_eq!(num(zero), 0, "{zero}: {out}");
    }

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let c = &report["counters"];
    assert!(c["queries"].as_u64().unwrap() >= num("answered"), "{c}");
    assert_eq!(c["queries_refused"], 0, "{c}");
    assert_eq!(c["bad_queries"], 0, "{c}");
    let _ = std::fs::remove_dir_all(&dir);
}
