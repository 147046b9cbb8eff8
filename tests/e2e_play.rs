//! Live video end to end over loopback: `gbswarm run` registers its cameras with a tiny
//! registrar in this test, which then acts as the platform from the same socket (as wvp does):
//! it INVITEs a camera with a wvp-shaped UDP offer, gets 100 and a 200 with the answer, ACKs,
//! receives the PS-over-RTP stream on its own media socket and checks it (RTP version 2, PT 96,
//! the SSRC of `y=`, consecutive sequence numbers, a marker per frame, about 25 frames a
//! second), gets 486 for a second INVITE beyond `--max-streams 1`, then BYEs and sees the
//! stream stop. A third camera streams until the run is interrupted and then sends its own
//! BYE; the JSON report counts all of it. Also: a camera rebooting on TeleBoot drops its
//! stream without a BYE (the platform's BYE gets 481), and cameras sharing one socket
//! (`--cameras-per-socket`) answer INVITEs to their channel IDs. Every port comes from port
//! 0; the `gbswarm` process is stopped by its PID (SIGINT, and killed if the test fails
//! first).

mod play;
mod play_peer;

use play::*;
use play_peer::{Platform, interrupt, wait_exit};
use std::net::UdpSocket;
use std::time::Duration;

#[test]
fn a_camera_answers_invite_streams_rtp_over_udp_refuses_a_second_stream_and_stops_at_bye() {
    let mut p = Platform::udp();
    let me = p.addr();
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let media_addr = media.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-play-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let csv = dir.join("run.csv");
    let mut run = Run::start(
        me,
        3,
        // One datagram per packet here; interop_sipp_invite covers the GSO sends.
        &[
            "--json",
            json.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--no-gso",
        ],
    );
    p.wait_registered(3);
    let (dev, to_cam, cam) = p.cameras[1].clone();

    p.send(to_cam, &invite(&dev, cam, me, media_addr, "play1"));
    let trying = p.response("INVITE", Duration::from_secs(5)).expect("100");
    assert_eq!(trying.code(), 100);
    let ok = p.response("INVITE", Duration::from_secs(5)).expect("200");
    assert_eq!(ok.code(), 200, "{}", ok.start);
    assert!(ok.body.contains("a=sendonly"), "{}", ok.body);
    assert!(ok.body.contains(&format!("y={SSRC_Y}")), "{}", ok.body);
    assert!(ok.body.contains("m=video "), "{}", ok.body);
    let to = ok.header("to").to_string();
    assert!(to.contains("tag="), "{to}");
    p.send(to_cam, &in_dialog("ACK", &dev, cam, me, "play1", &to, 20));

    // The stream: 1.5 s of it, checked packet by packet.
    let rtp = receive_rtp(&media, Duration::from_millis(1500));
    assert!(rtp.len() > 20, "{} RTP packets in 1.5 s", rtp.len());
    let ssrc = 200_003_792u32;
    assert!(rtp.iter().all(|r| r.3 == ssrc), "SSRC of y=");
    for w in rtp.windows(2) {
        assert_eq!(
            w[1].1,
            w[0].1.wrapping_add(1),
            "consecutive sequence numbers"
        );
        if w[0].0 {
            assert_ne!(
                w[1].2, w[0].2,
                "a new frame after a marker has a new timestamp"
            );
        } else {
            assert_eq!(w[1].2, w[0].2, "one timestamp until the frame's marker");
        }
    }
    let frames = rtp.iter().filter(|r| r.0).count();
    let spread = rtp[rtp.len() - 1].4 - rtp[0].4;
    let fps = frames as f64 / spread.as_secs_f64().max(0.001);
    assert!(
        (15.0..=40.0).contains(&fps),
        "{frames} frames in {spread:?}"
    );

    // A second stream of the same device is beyond --max-streams 1.
    p.send(to_cam, &invite(&dev, cam, me, media_addr, "play2"));
    let trying = p.response("INVITE", Duration::from_secs(5)).expect("100");
    assert_eq!(trying.code(), 100);
    let busy = p.response("INVITE", Duration::from_secs(5)).expect("486");
    assert_eq!(busy.code(), 486, "{}", busy.start);
    let busy_to = busy.header("to").to_string();
    p.send(
        to_cam,
        &in_dialog("ACK", &dev, cam, me, "play2", &busy_to, 20),
    );

    // BYE: 200, and the stream stops.
    p.send(to_cam, &in_dialog("BYE", &dev, cam, me, "play1", &to, 21));
    let bye_ok = p
        .response("BYE", Duration::from_secs(5))
        .expect("200 to BYE");
    assert_eq!(bye_ok.code(), 200);
    let _in_flight = receive_rtp(&media, Duration::from_millis(300));
    let after = receive_rtp(&media, Duration::from_millis(700));
    assert!(
        after.is_empty(),
        "{} RTP packets after the BYE",
        after.len()
    );

    // Another camera streams until the run is interrupted: it then sends its BYE.
    let (dev3, to_cam3, cam3) = p.cameras[2].clone();
    p.send(to_cam3, &invite(&dev3, cam3, me, media_addr, "play3"));
    let ok3 = loop {
        let r = p.response("INVITE", Duration::from_secs(5)).expect("200");
        if r.code() >= 200 {
            break r;
        }
    };
    assert_eq!(ok3.code(), 200, "{}", ok3.start);
    let to3 = ok3.header("to").to_string();
    p.send(
        to_cam3,
        &in_dialog("ACK", &dev3, cam3, me, "play3", &to3, 20),
    );
    let third = receive_rtp(&media, Duration::from_millis(500));
    assert!(!third.is_empty(), "the third stream sends");

    // Interrupted, the run unregisters (answered here) and reports what the video did.
    interrupt(&run);
    assert_eq!(wait_exit(&mut run, &mut p), Some(130));
    assert_eq!(
        p.byes
            .iter()
            .map(|(call, _)| call.as_str())
            .collect::<Vec<_>>(),
        ["play3@test"],
        "the streaming camera's BYE at the stop"
    );
    let _in_flight = receive_rtp(&media, Duration::from_millis(300));
    let after = receive_rtp(&media, Duration::from_millis(300));
    assert!(
        after.is_empty(),
        "{} RTP packets after the run",
        after.len()
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let series = std::fs::read_to_string(&csv).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // The time series: some second ended with a stream up and carried its bitrate.
    let header: Vec<&str> = series.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (streams, kbps) = (col("streams"), col("rtp_kbps"));
    assert!(
        series.lines().skip(1).any(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            cells[streams].parse::<u64>().unwrap() >= 1 && cells[kbps].parse::<f64>().unwrap() > 0.0
        }),
        "a second with a stream and its bitrate: {series}"
    );
    let timeline = report["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|s| s["video"]["rtp_packets"].as_u64() > Some(0)),
        "the JSON timeline carries each second's video"
    );
    let v = &report["video"];
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(
        [n("invites"), n("answered"), n("busy"), n("acked")],
        [3, 2, 1, 2],
        "{v}"
    );
    assert_eq!([n("streams_started"), n("streams_ended")], [2, 2], "{v}");
    // As transactions: two INVITEs acknowledged and one refused, the camera's BYE answered.
    let kinds = &report["kinds"];
    let invite = &kinds["invite"];
    assert_eq!(
        (&invite["sent"], &invite["ok"], &invite["statuses"]["486"]),
        (
            &serde_json::json!(3),
            &serde_json::json!(2),
            &serde_json::json!(1)
        ),
        "{invite}"
    );
    assert!(invite["latency_us"]["max"].as_u64() > Some(0), "{invite}");
    let bye = &kinds["bye"];
    assert_eq!(
        (&bye["sent"], &bye["ok"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{bye}"
    );
    assert!(n("rtp_packets") >= (rtp.len() + third.len()) as u64, "{v}");
    assert!(n("rtp_bytes") > 12 * n("rtp_packets"), "{v}");
}

#[test]
fn a_camera_rebooting_on_teleboot_drops_its_stream_without_a_bye_and_the_platforms_bye_gets_481() {
    let mut p = Platform::udp();
    let me = p.addr();
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let media_addr = media.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-play-boot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let mut run = Run::start(
        me,
        1,
        &["--json", json.to_str().unwrap(), "--reboot-delay", "1s"],
    );
    p.wait_registered(1);
    let (dev, to_cam, cam) = p.cameras[0].clone();
    p.send(to_cam, &invite(&dev, cam, me, media_addr, "boot1"));
    let ok = p.final_response(Duration::from_secs(5)).expect("200");
    assert_eq!(ok.code(), 200, "{}", ok.start);
    let to = ok.header("to").to_string();
    p.send(to_cam, &in_dialog("ACK", &dev, cam, me, "boot1", &to, 20));
    assert!(!receive_rtp(&media, Duration::from_millis(500)).is_empty());

    // TeleBoot: 200, then the device goes away with its stream and sends no BYE.
    let boot = teleboot(&dev, cam, me);
    p.send(to_cam, &boot);
    let answer = p.response("MESSAGE", Duration::from_secs(5)).expect("200");
    assert_eq!(answer.code(), 200, "{}", answer.start);
    let _in_flight = receive_rtp(&media, Duration::from_millis(300));
    let after = receive_rtp(&media, Duration::from_millis(700));
    assert!(
        after.is_empty(),
        "{} RTP packets after the reboot",
        after.len()
    );
    // Down, it answers nothing; back up (registered again 1 s on), the platform's BYE finds
    // no dialog.
    p.send(to_cam, &in_dialog("BYE", &dev, cam, me, "boot1", &to, 21));
    assert!(p.response("BYE", Duration::from_millis(200)).is_none());
    let up = std::time::Instant::now() + Duration::from_millis(2500);
    while std::time::Instant::now() < up {
        p.response("NOTHING", Duration::from_millis(100));
    }
    p.send(to_cam, &in_dialog("BYE", &dev, cam, me, "boot1", &to, 22));
    let gone = p.response("BYE", Duration::from_secs(5)).expect("481");
    assert_eq!(gone.code(), 481, "{}", gone.start);

    interrupt(&run);
    assert_eq!(wait_exit(&mut run, &mut p), Some(130));
    assert!(p.byes.is_empty(), "no BYE from the device: {:?}", p.byes);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let v = &report["video"];
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(
        [n("answered"), n("acked"), n("dropped_on_reboot")],
        [1, 1, 1],
        "{v}"
    );
    assert_eq!([n("streams_started"), n("streams_ended")], [1, 1], "{v}");
    assert_eq!(report["counters"]["reboots"], 1, "{}", report["counters"]);
    // Registered, unregistered for the reboot, registered again, unregistered at the stop.
    let ok = |k: &str| report["kinds"][k]["ok"].as_u64();
    assert_eq!((ok("register"), ok("unregister")), (Some(2), Some(2)));
}

/// Four cameras on one socket (`extra` says how many channels each has: `channels` of its
/// ID): an INVITE to the last channel of each reaches that camera, which answers 200 and
/// streams; a channel none of them has is routed nowhere.
fn invite_channels_on_a_shared_socket(extra: &[&str], channels: &dyn Fn(&str) -> u32) {
    let mut p = Platform::udp();
    let me = p.addr();
    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let media_addr = media.local_addr().unwrap();
    let mut args = vec!["--cameras-per-socket", "4"];
    args.extend_from_slice(extra);
    let mut run = Run::start(me, 4, &args);
    p.wait_registered(4);
    let cam = p.cameras[0].2;
    assert!(p.cameras.iter().all(|c| c.2 == cam), "one shared socket");
    // The channel ID in the Request-URI says which camera it is for, as wvp's INVITEs name
    // the channel.
    for (i, (dev, to_cam, cam)) in p.cameras.clone().into_iter().enumerate() {
        let id: gbswarm::gb::DeviceId = dev.parse().unwrap();
        let n = channels(&dev);
        let channel = id.channel(n, n).to_string();
        let call = format!("chan{i}");
        p.send(to_cam, &invite(&channel, cam, me, media_addr, &call));
        let ok = p.final_response(Duration::from_secs(5)).expect("200");
        // A 200 only from the camera the channel belongs to (any other answers 404).
        assert_eq!(ok.code(), 200, "{channel} of {dev}: {}", ok.start);
        let to = ok.header("to").to_string();
        p.send(to_cam, &in_dialog("ACK", &channel, cam, me, &call, &to, 20));
        assert!(!receive_rtp(&media, Duration::from_millis(200)).is_empty());
        p.send(to_cam, &in_dialog("BYE", &channel, cam, me, &call, &to, 21));
        let bye_ok = p.response("BYE", Duration::from_secs(5)).expect("200");
        assert_eq!(bye_ok.code(), 200, "{}", bye_ok.start);
        let _in_flight = receive_rtp(&media, Duration::from_millis(200));
    }
    // A channel none of the cameras has is routed nowhere: no answer at all.
    let (dev, to_cam, cam) = p.cameras[0].clone();
    let far: gbswarm::gb::DeviceId = format!("{}0999999", &dev[..13]).parse().unwrap();
    let stranger = far.channel(1, 3).to_string();
    p.send(to_cam, &invite(&stranger, cam, me, media_addr, "chanx"));
    assert!(p.final_response(Duration::from_millis(700)).is_none());
    interrupt(&run);
    assert_eq!(wait_exit(&mut run, &mut p), Some(130));
}

#[test]
fn cameras_sharing_a_socket_answer_invites_to_their_channel_ids() {
    invite_channels_on_a_shared_socket(&["--channels", "3"], &|_| 3);
}

#[test]
fn cameras_of_a_device_file_sharing_a_socket_answer_invites_to_their_channel_ids() {
    let dir = std::env::temp_dir().join(format!("gbswarm-e2e-play-chan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("devices.csv");
    // Own IDs (an NVR, a DVR, cameras), own channel counts, one the fleet's.
    let rows = [
        ("34020000001180000042", "5"),
        ("44010000001110000007", "2"),
        ("34020000001320000900", ""),
        ("34020000001320000003", "1"),
    ];
    let text: String = rows
        .iter()
        .map(|(id, n)| format!("{id},pw,{n}\n"))
        .collect();
    std::fs::write(&file, text).unwrap();
    let counts = move |dev: &str| {
        let n = rows.iter().find(|(id, _)| *id == dev).map_or("", |r| r.1);
        n.parse().unwrap_or(4)
    };
    let path = file.to_str().unwrap().to_string();
    invite_channels_on_a_shared_socket(&["--devices", &path, "--channels", "4"], &counts);
    let _ = std::fs::remove_dir_all(&dir);
}
