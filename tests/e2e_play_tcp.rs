//! Live video over TCP media end to end over loopback: `gbswarm run` registers with a tiny
//! registrar in this test, which then plays the platform (wvp-shaped offers from the SDP
//! fixtures) and receives the RFC 4571-framed PS-over-RTP stream itself:
//! - platform passive: the test listens, the camera answers `a=setup:active` and connects
//!   after the ACK; BYE closes the connection;
//! - platform active: the camera listens before its 200 (whose `m=video` names the port) and
//!   the test connects after the ACK; the listener takes one connection only, and a platform
//!   that never connects gets the camera's BYE after 10 s;
//! - the platform drops the connection: the camera reconnects a second later and the stream
//!   goes on; if the platform refuses reconnects the camera tries again (Annex D: at least 3
//!   times, 1 s apart) and then sends its BYE;
//! - signalling over TCP: the INVITE comes on the camera's registration connection and is
//!   answered there.
//!
//! Each stream is checked packet by packet (RTP version 2, PT 96, the SSRC of `y=`,
//! consecutive sequence numbers, a marker per frame, a PS pack header at each frame's start);
//! the JSON report's TCP counters are checked after the run is interrupted. Every port comes
//! from port 0; the `gbswarm` process is stopped by its PID.

mod play;
mod play_peer;

use play::{Run, Sip};
use play_peer::{
    Platform, accept, check_stream, interrupt, media_port, offer, read_rtp_tcp, video_report,
    wait_exit,
};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const PASSIVE: &str = include_str!("fixtures/sdp/play-tcp-passive-wvp.sdp");
const ACTIVE: &str = include_str!("fixtures/sdp/play-tcp-active-senior-wvp.sdp");

/// `y=0200003793` and `y=0200003794` as RTP SSRCs.
const SSRC_PASSIVE: u32 = 200_003_793;
const SSRC_ACTIVE: u32 = 200_003_794;

/// A directory for this test's report, removed when the test ends.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("gbswarm-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn json(&self) -> PathBuf {
        self.0.join("run.json")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

fn body_has(ok: &Sip, lines: &[&str]) {
    for l in lines {
        assert!(
            ok.body.lines().any(|b| b.trim_end() == *l),
            "no `{l}` in\n{}",
            ok.body
        );
    }
}

/// Interrupts the run and returns its report's `video` object once it has exited.
fn stop(mut run: Run, p: &mut Platform, dir: &Dir) -> serde_json::Value {
    interrupt(&run);
    assert_eq!(
        wait_exit(&mut run, p),
        Some(130),
        "the run ends at its interrupt"
    );
    video_report(&dir.json())
}

fn n(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn tcp_passive_and_active_streams_carry_checked_rtp_and_end_at_bye() {
    let dir = Dir::new("e2e-play-tcp");
    let mut p = Platform::udp();
    let json = dir.json();
    let run = Run::start(p.addr(), 2, &["--json", json.to_str().unwrap()]);
    p.wait_registered(2);

    // Platform passive: the test listens; the camera connects after the ACK.
    let media = loopback();
    let ok = p.play(
        0,
        &offer(PASSIVE, 30002, media.local_addr().unwrap()),
        "pas1",
    );
    body_has(
        &ok,
        &[
            "a=setup:active",
            "a=connection:new",
            "a=sendonly",
            "y=0200003793",
        ],
    );
    assert!(ok.body.contains(" TCP/RTP/AVP 96"), "{}", ok.body);
    p.in_dialog(0, "ACK", "pas1", &ok, 20);
    let mut conn = accept(&media, Duration::from_secs(5)).expect("the camera connects");
    let (rtp, closed) = read_rtp_tcp(&mut conn, Duration::from_millis(1500));
    assert!(!closed);
    let frames = check_stream(&rtp, SSRC_PASSIVE);
    assert!(frames >= 10, "{frames} frames in 1.5 s");

    // Platform active: the camera listens before its 200, on the port in its m=video.
    let ok2 = p.play(
        1,
        &offer(ACTIVE, 30004, "127.0.0.1:9".parse().unwrap()),
        "act1",
    );
    body_has(
        &ok2,
        &["a=setup:passive", "a=connection:new", "y=0200003794"],
    );
    let port = media_port(&ok2);
    assert!(port > 0, "{}", ok2.body);
    p.in_dialog(1, "ACK", "act1", &ok2, 20);
    let cam_media = SocketAddr::from(([127, 0, 0, 1], port));
    let mut conn2 = TcpStream::connect(cam_media).expect("the camera listens");
    let (rtp2, closed2) = read_rtp_tcp(&mut conn2, Duration::from_millis(1500));
    assert!(!closed2);
    let frames2 = check_stream(&rtp2, SSRC_ACTIVE);
    assert!(frames2 >= 10, "{frames2} frames in 1.5 s");
    // One connection per listener: it closed once the platform connected.
    assert!(
        TcpStream::connect_timeout(&cam_media, Duration::from_secs(2)).is_err(),
        "a second connection to the camera's media port"
    );

    // BYE: 200, and the camera closes each connection.
    for (cam, call, ok, conn) in [(0, "pas1", &ok, &mut conn), (1, "act1", &ok2, &mut conn2)] {
        p.in_dialog(cam, "BYE", call, ok, 21);
        let bye_ok = p
            .response("BYE", Duration::from_secs(5))
            .expect("200 to BYE");
        assert_eq!(bye_ok.code(), 200);
        let (_, closed) = read_rtp_tcp(conn, Duration::from_secs(5));
        assert!(
            closed,
            "the camera closed the media connection of {call} at the BYE"
        );
    }

    let v = stop(run, &mut p, &dir);
    assert_eq!(
        [n(&v, "invites"), n(&v, "answered"), n(&v, "acked")],
        [2, 2, 2],
        "{v}"
    );
    assert_eq!(
        [n(&v, "streams_started"), n(&v, "streams_ended")],
        [2, 2],
        "{v}"
    );
    assert_eq!(n(&v, "tcp_connects"), 2, "{v}");
    assert_eq!(
        [n(&v, "tcp_reconnects"), n(&v, "tcp_connect_failures")],
        [0, 0],
        "{v}"
    );
    assert_eq!(n(&v, "not_acceptable"), 0, "{v}");
    assert!(
        n(&v, "rtp_packets") >= (rtp.len() + rtp2.len()) as u64,
        "{v}"
    );
}

/// One camera (a run of its own, reporting to `dir`) streaming to a passive platform: the
/// listener, the camera's connection, the 200 and the first 0.5 s of checked RTP.
fn passive_stream(
    dir: &str,
    call: &str,
) -> (
    Dir,
    Platform,
    Run,
    TcpListener,
    TcpStream,
    Sip,
    Vec<play_peer::Rtp>,
) {
    let dir = Dir::new(dir);
    let mut p = Platform::udp();
    let json = dir.json();
    let run = Run::start(p.addr(), 1, &["--json", json.to_str().unwrap()]);
    p.wait_registered(1);
    let media = loopback();
    let ok = p.play(0, &offer(PASSIVE, 30002, media.local_addr().unwrap()), call);
    p.in_dialog(0, "ACK", call, &ok, 20);
    let mut conn = accept(&media, Duration::from_secs(5)).expect("the camera connects");
    let (rtp, _) = read_rtp_tcp(&mut conn, Duration::from_millis(500));
    check_stream(&rtp, SSRC_PASSIVE);
    (dir, p, run, media, conn, ok, rtp)
}

#[test]
fn a_dropped_passive_stream_is_retried_three_times_a_second_apart_then_the_camera_byes() {
    let (dir, mut p, run, media, conn, _, _) = passive_stream("e2e-play-tcp-drop", "drop1");

    // The platform goes away: its connection and its listener close; reconnects are refused.
    drop(conn);
    drop(media);
    let gone = Instant::now();
    let bye = p.wait_bye("drop1", Duration::from_secs(20));
    let bye = bye.expect("the camera's BYE after its reconnects failed");
    let after = bye.duration_since(gone);
    // Three reconnects at least 1 s apart, the first 1 s after the drop.
    assert!(
        after >= Duration::from_secs(3),
        "BYE {after:?} after the drop"
    );

    let v = stop(run, &mut p, &dir);
    assert_eq!(n(&v, "tcp_connects"), 1, "{v}");
    assert_eq!(n(&v, "tcp_reconnects"), 3, "{v}");
    assert_eq!(n(&v, "tcp_connect_failures"), 3, "{v}");
    assert_eq!(
        [n(&v, "streams_started"), n(&v, "streams_ended")],
        [1, 1],
        "{v}"
    );
}

#[test]
fn a_dropped_passive_stream_reconnects_a_second_later_and_goes_on_frame_by_frame() {
    let (dir, mut p, run, media, conn, ok, rtp) =
        passive_stream("e2e-play-tcp-reconnect", "again1");
    // The platform drops the connection but still listens: the camera comes back.
    drop(conn);
    let dropped = Instant::now();
    let mut conn = accept(&media, Duration::from_secs(10)).expect("the camera reconnects");
    let after = dropped.elapsed();
    assert!(
        after >= Duration::from_secs(1),
        "reconnected {after:?} after the drop"
    );
    let (rtp2, closed) = read_rtp_tcp(&mut conn, Duration::from_millis(1000));
    assert!(!closed);
    // The new connection starts at a frame's start and the stream goes on.
    assert!(check_stream(&rtp2, SSRC_PASSIVE) >= 5);
    let last = rtp.last().expect("RTP before the drop");
    assert!(
        rtp2[0].seq.wrapping_sub(last.seq) < 1000,
        "sequence numbers go on: {} then {}",
        last.seq,
        rtp2[0].seq
    );
    assert!(p.byes.is_empty(), "no BYE: {:?}", p.byes);
    p.in_dialog(0, "BYE", "again1", &ok, 21);
    assert_eq!(
        p.response("BYE", Duration::from_secs(5)).map(|r| r.code()),
        Some(200)
    );
    let v = stop(run, &mut p, &dir);
    assert_eq!(n(&v, "tcp_connects"), 2, "{v}");
    assert_eq!(n(&v, "tcp_reconnects"), 1, "{v}");
    assert_eq!(n(&v, "tcp_connect_failures"), 0, "{v}");
    assert_eq!(
        [n(&v, "streams_started"), n(&v, "streams_ended")],
        [1, 1],
        "{v}"
    );
}

#[test]
fn over_tcp_signalling_the_invite_comes_on_the_registration_connection_and_is_answered_there() {
    let dir = Dir::new("e2e-play-tcp-sip");
    let mut p = Platform::tcp();
    let json = dir.json();
    let run = Run::start(
        p.addr(),
        1,
        &["--transport", "tcp", "--json", json.to_str().unwrap()],
    );
    p.wait_registered(1);
    assert_eq!(p.cameras[0].1, play_peer::Peer::Tcp(0));
    let media = loopback();
    let ok = p.play(
        0,
        &offer(PASSIVE, 30002, media.local_addr().unwrap()),
        "sip1",
    );
    assert!(
        ok.header("via").starts_with("SIP/2.0/TCP "),
        "{:?}",
        ok.headers
    );
    body_has(&ok, &["a=setup:active", "a=connection:new"]);
    p.in_dialog(0, "ACK", "sip1", &ok, 20);
    let mut conn = accept(&media, Duration::from_secs(5)).expect("the camera connects");
    let (rtp, _) = read_rtp_tcp(&mut conn, Duration::from_millis(1000));
    assert!(check_stream(&rtp, SSRC_PASSIVE) >= 5);
    p.in_dialog(0, "BYE", "sip1", &ok, 21);
    let bye_ok = p
        .response("BYE", Duration::from_secs(5))
        .expect("200 to BYE");
    assert_eq!(bye_ok.code(), 200);
    let (_, closed) = read_rtp_tcp(&mut conn, Duration::from_secs(5));
    assert!(closed);
    let v = stop(run, &mut p, &dir);
    assert_eq!(
        [n(&v, "invites"), n(&v, "answered"), n(&v, "acked")],
        [1, 1, 1],
        "{v}"
    );
    assert_eq!(n(&v, "tcp_connects"), 1, "{v}");
}

#[test]
fn a_platform_that_never_connects_to_the_listening_camera_gets_its_bye_after_10_s() {
    let dir = Dir::new("e2e-play-tcp-listen");
    let mut p = Platform::udp();
    let json = dir.json();
    let run = Run::start(p.addr(), 1, &["--json", json.to_str().unwrap()]);
    p.wait_registered(1);
    let ok = p.play(
        0,
        &offer(ACTIVE, 30004, "127.0.0.1:9".parse().unwrap()),
        "idle1",
    );
    let acked = Instant::now();
    p.in_dialog(0, "ACK", "idle1", &ok, 20);
    let port = media_port(&ok);
    let bye = p.wait_bye("idle1", Duration::from_secs(25));
    let after = bye.expect("the camera's BYE").duration_since(acked);
    assert!(
        after >= Duration::from_secs(9),
        "BYE {after:?} after the ACK"
    );
    // The listener is closed with the session.
    let cam_media = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(TcpStream::connect_timeout(&cam_media, Duration::from_secs(2)).is_err());
    let v = stop(run, &mut p, &dir);
    assert_eq!(n(&v, "tcp_connects"), 0, "{v}");
    assert_eq!(n(&v, "tcp_connect_failures"), 1, "{v}");
    assert_eq!(
        [n(&v, "streams_started"), n(&v, "streams_ended")],
        [1, 1],
        "{v}"
    );
}
