//! `gbswarm run` against `gbswarm serve --digest sha-256,md5`, both as their own processes on
//! loopback: the fleet answers the first challenge (SHA-256), registering, refreshing and
//! unregistering over UDP and TCP, and the registrar's summary counts every answer as SHA-256.

mod peers;

#[test]
fn run_against_serve_digest_sha256_md5_answers_sha256() {
    // `gbswarm serve --digest sha-256,md5` offers two challenges; `gbswarm run` answers the
    // first, over UDP and TCP, registering, refreshing and unregistering.
    for transport in ["udp", "tcp"] {
        let dir = peers::TempDir::new("digest-sha256");
        let (mut serve, addr) = peers::serve_process(
            dir.path(),
            &["--digest", "sha-256,md5", "--min-expires", "1s"],
        );
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_gbswarm"))
            .args(["run", "--target", &addr.to_string(), "--cameras", "30"])
            .args([
                "--transport",
                transport,
                "--rate",
                "100",
                "--duration",
                "3s",
            ])
            .args(["--cores", "1", "--expires", "2s", "--heartbeat", "1s"])
            .args(["--grace", "2s"])
            .output()
            .unwrap();
        assert!(serve.stop(), "serve ends by itself on SIGTERM");
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{transport}: {text}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            text.contains("register        sent 30 = ok 30 + rejected 0"),
            "{transport}: {text}"
        );
        assert!(
            text.contains("unregister      sent 30 = ok 30 + rejected 0"),
            "{transport}: {text}"
        );
        assert!(!text.contains("challenges not answered"), "{text}");
        let err = peers::read(&dir.path().join("serve.err"));
        assert!(err.contains("digest SHA-256, MD5"), "{err}");
        let summary = peers::read(&dir.path().join("serve.out"));
        let answers = summary
            .split("digest answers ")
            .nth(1)
            .and_then(|s| s.split(';').next())
            .unwrap_or("");
        // Registrations, refreshes and unregistrations: every one with SHA-256, none MD5.
        assert!(answers.starts_with("SHA-256:"), "{transport}: {summary}");
        assert!(!answers.contains("MD5"), "{transport}: {summary}");
        let n: u64 = answers["SHA-256:".len()..].trim().parse().unwrap();
        assert!(n >= 60, "{transport}: {summary}");
    }
}
