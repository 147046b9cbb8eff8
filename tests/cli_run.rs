//! `gbswarm run` as a user runs it: bad flags and profiles fail fast, naming the key, with exit
//! status 2; a good run against a loopback responder prints a report.

use std::process::Command;

fn gbswarm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gbswarm"))
}

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = gbswarm().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_flags_name_the_key_and_exit_2() {
    for (args, key) in [
        (&["run", "--cameras", "0"][..], "cameras"),
        (&["run", "--rate=0"][..], "rate"),
        (&["run", "--server-id", "12"][..], "server-id"),
        (&["run", "--retry-jitter", "3"][..], "retry-jitter"),
        (&["run", "--local-ip", "1.2.3"][..], "local-ip"),
        (&["run", "--target", "127.0.0.1:0"][..], "target"),
        (&["find-max", "--target", "127.0.0.1:0"][..], "target"),
        (&["run", "--first-id", "99999999999"][..], "first-id"),
        (&["run", "--gb-version", "2019"][..], "gb-version"),
        (&["run", "--channel-name", " "][..], "channel-name"),
    ] {
        let (code, err) = stderr_of(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(&format!("invalid `{key}`")), "{args:?}: {err}");
    }
    let (code, err) = stderr_of(&["run", "--transport", "sctp"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("sctp"), "{err}");
    let (code, err) = stderr_of(&["run", "--duration", "5 parsecs"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("duration"), "{err}");
}

#[test]
fn bad_profiles_name_the_file_and_key() {
    let dir = std::env::temp_dir().join(format!("gbswarm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "camras = 5\n").unwrap();
    let (code, err) = stderr_of(&["run", "--profile", typo.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("camras") && err.contains("typo.toml"), "{err}");
    let (code, err) = stderr_of(&["run", "--profile", "/nonexistent/p.toml"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_explains_run() {
    let out = gbswarm().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--target",
        "--cameras",
        "--transport",
        "--rate",
        "--burst",
        "--duration",
        "--profile",
        "--json",
        "--hdr-log",
        "--cameras-per-socket",
        "--local-ip",
        "--devices",
        "--gb-version",
        "--channel-name",
        "--record-segment",
        "--reboot-delay",
    ] {
        assert!(help.contains(flag), "{flag} missing from help");
    }
}
