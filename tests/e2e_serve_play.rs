//! The whole live-video path on one machine: `gbswarm serve --play` is the platform and
//! `gbswarm run` the cameras. The cameras register over UDP; serve INVITEs them at a rate with
//! a wvp-shaped offer, they answer and stream PS over RTP to serve's media port, serve checks
//! every packet, holds each stream 2 s, BYEs it and plays it again. The test waits (through
//! serve's Prometheus metrics) until streams have started, ended and started again, stops the
//! run and then serve by their PIDs (SIGINT), and checks serve's summary line and the run's
//! JSON `video` counters against each other.
//!
//! The signalling and media transports are parameters: cameras registered over UDP and over
//! TCP (serve INVITEs the latter down their connections), and media over UDP, TCP passive
//! (the cameras connect to serve's media port) and TCP active (serve connects to the port each
//! camera answers), RFC 4571 framed. Every port comes from port 0; both processes
//! are killed in Drop if the test fails first. Waits are bounded and check behaviour, not
//! speed.

mod serve_peer;

use serve_peer::{Proc, interrupt, scrape, serve, summary};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Plays cameras that register over `signalling` (udp or tcp) with media over `transport`.
fn play_over(signalling: &str, transport: &str) {
    play(signalling, transport, "offered");
}

/// Plays run cameras that answer with SSRC `answer_ssrc` (offered or own).
fn play(signalling: &str, transport: &str, answer_ssrc: &str) {
    let dir = std::env::temp_dir().join(format!(
        "gbswarm-e2e-serve-play-{signalling}-{transport}-{answer_ssrc}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let serve = serve(&[
        "--play",
        "--play-rate",
        "20",
        "--play-hold",
        "2s",
        "--play-transport",
        transport,
    ]);
    let (listen, metrics) = (serve.listen.clone(), serve.metrics);

    let run = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args(["run", "--target", &listen, "-n", "3", "--cores", "1"])
        .args(["--transport", signalling, "--answer-ssrc", answer_ssrc])
        .args(["--duration", "60s", "--heartbeat", "60s", "--grace", "5s"])
        .args(["--json", json.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = Proc(run);

    // Streams start, are held 2 s, end with serve's BYE and are played again.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = HashMap::new();
    while Instant::now() < deadline {
        seen = scrape(metrics, "gbswarm_serve_play_events_total");
        let n = |k: &str| seen.get(k).copied().unwrap_or(0);
        if n("streams_started") >= 6 && n("byes") >= 3 && n("streams_ended") >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let n = |k: &str| seen.get(k).copied().unwrap_or(0);
    assert!(
        n("streams_started") >= 6 && n("streams_ended") >= 3,
        "streams never churned: {seen:?}"
    );

    // The run first (its cameras BYE their streams and unregister), then serve.
    assert_eq!(interrupt(&mut run, Duration::from_secs(8)), Some(130));
    std::thread::sleep(Duration::from_millis(300));
    let (code, out) = serve.stop(Duration::from_secs(5));
    assert_eq!(code, Some(0));
    let s = summary(&out, "gbswarm serve: play ");
    let num = |k: &str| -> u64 {
        s.get(k)
            .unwrap_or_else(|| panic!("{k} not in the summary"))
            .parse()
            .unwrap()
    };
    assert!(num("streams_started") >= 6, "{out}");
    assert!(num("byes") >= 3 && num("streams_ended") >= 3, "{out}");
    assert!(
        num("rtp_packets") > 0 && num("rtp_bytes") > 12 * num("rtp_packets"),
        "{out}"
    );
    for zero in [
        "lost",
        "bad_ssrc",
        "missing_ps",
        "bad_rtp",
        "invite_timeouts",
        "no_rtp",
        "bye_timeouts",
        "bad_answers",
        "ssrc_exhausted",
        "4xx",
        "5xx",
    ] {
        assert_eq!(num(zero), 0, "{zero}: {out}");
    }
    if answer_ssrc == "own" {
        // Every 200 named the camera's own SSRC; serve took it and found every packet.
        assert_eq!(num("ssrc_adopted"), num("ok"), "{out}");
    } else {
        assert_eq!(num("ssrc_adopted"), 0, "{out}");
    }
    assert!(s["invite_to_200_ms"].starts_with("p50:"), "{out}");
    assert!(s["200_to_rtp_ms"].starts_with("p50:"), "{out}");

    // The cameras' side of the same story.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let v = &report["video"];
    let cam = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    // Every stream serve saw was sent by a camera, packet for packet: the run ended first,
    // so nothing was in flight when serve stopped.
    assert_eq!(cam("rtp_packets"), num("rtp_packets"), "{v}\n{out}");
    assert_eq!(cam("rtp_bytes"), num("rtp_bytes"), "{v}\n{out}");
    assert_eq!(cam("rtp_send_errors"), 0, "{v}");
    if transport == "udp" {
        assert_eq!(num("tcp_connections"), 0, "{out}");
    } else {
        // One media connection per stream (the last may not have been made by the stop),
        // none dropped, refused or behind.
        assert!(
            num("tcp_connections") >= 3 && num("tcp_connections") + 3 >= num("streams_started"),
            "{out}"
        );
        for k in [
            "tcp_reconnects",
            "tcp_connect_failures",
            "tcp_frames_skipped",
        ] {
            assert_eq!(cam(k), 0, "{k}: {v}");
        }
    }
    // INVITEs, 200s and ACKs: every one a camera saw came from serve; serve may have sent one
    // more as the run was stopping.
    assert!(
        cam("invites") <= num("invites") && num("invites") <= cam("invites") + 3,
        "{v}\n{out}"
    );
    assert!(
        num("ok") <= cam("answered") && cam("answered") <= num("ok") + 3,
        "{v}\n{out}"
    );
    assert!(cam("acked") <= num("acks"), "{v}\n{out}");
    assert!(
        cam("streams_started") >= num("streams_started").saturating_sub(3),
        "{v}\n{out}"
    );
    assert_eq!(
        cam("busy") + cam("not_found") + cam("not_acceptable"),
        0,
        "{v}"
    );
    // Streams serve ended with its BYE (answered), or the cameras with theirs at the run's stop.
    assert!(
        num("streams_ended") <= num("byes") + num("device_byes"),
        "{out}"
    );
    assert!(num("streams_ended") + 3 >= num("streams_started"), "{out}");
}

#[test]
fn serve_plays_run_cameras_over_udp_with_churn_and_checks_every_packet() {
    play_over("udp", "udp");
}

#[test]
fn serve_plays_cameras_registered_over_tcp_down_their_connections() {
    play_over("tcp", "udp");
}

#[test]
fn serve_plays_over_tcp_passive_media_the_cameras_connecting_to_its_media_port() {
    play_over("udp", "tcp-passive");
}

#[test]
fn serve_plays_over_tcp_active_media_connecting_to_each_cameras_port() {
    play_over("udp", "tcp-active");
}

#[test]
fn serve_adopts_the_ssrc_cameras_answer_with_when_it_is_their_own() {
    play("udp", "udp", "own");
}
