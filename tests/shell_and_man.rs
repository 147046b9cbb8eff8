//! What `gbswarm completions`, `gbswarm man` and `--version` give a user: completion scripts
//! that their shells accept and that complete the real subcommands and flags, a manual page
//! that roff renders without warnings and that lists every subcommand, and a version line
//! naming the commit the binary was built from.
//!
//! bash is always there; zsh, fish and groff are installed by `.ci/run`. A check whose shell
//! or tool is missing prints SKIPPED and why on a developer machine, and fails in CI.

mod peers;

use std::io::Write;
use std::process::{Command, Output, Stdio};

const SUBCOMMANDS: [&str; 7] = [
    "run",
    "find-max",
    "serve",
    "merge",
    "inspect",
    "completions",
    "man",
];

fn gbswarm(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gbswarm"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    out
}

/// Runs `program args` with `input` on stdin; `None` when the program (from the Debian
/// `package`) is not installed (see [`peers::have`]).
fn pipe(program: &str, package: &str, args: &[&str], input: &[u8]) -> Option<Output> {
    if !peers::have(program, package) {
        return None;
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    Some(child.wait_with_output().unwrap())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_bash_script_parses_and_completes_subcommands_and_flags() {
    let script = gbswarm(&["completions", "bash"]).stdout;
    let out = pipe("bash", "bash", &["-n"], &script).unwrap();
    assert!(out.status.success(), "bash -n: {}", text(&out.stderr));
    // Load the script and ask it what it offers, as bash does on Tab.
    let mut session = script.clone();
    session.extend_from_slice(
        b"\nCOMP_WORDS=(gbswarm ser); COMP_CWORD=1; _gbswarm gbswarm ser gbswarm; echo \"${COMPREPLY[*]}\"\n\
          COMP_WORDS=(gbswarm run --metr); COMP_CWORD=2; _gbswarm gbswarm --metr run; echo \"${COMPREPLY[*]}\"\n\
          COMP_WORDS=(gbswarm completions ''); COMP_CWORD=2; _gbswarm gbswarm '' completions; echo \"${COMPREPLY[*]}\"\n",
    );
    let out = pipe("bash", "bash", &[], &session).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines[0], "serve");
    assert_eq!(lines[1], "--metrics");
    for shell in ["bash", "zsh", "fish"] {
        assert!(lines[2].split(' ').any(|w| w == shell), "{lines:?}");
    }
}

#[test]
fn the_zsh_and_fish_scripts_parse_and_fish_completes() {
    let zsh = gbswarm(&["completions", "zsh"]).stdout;
    assert!(text(&zsh).starts_with("#compdef gbswarm"));
    if let Some(out) = pipe("zsh", "zsh", &["-n"], &zsh) {
        assert!(out.status.success(), "zsh -n: {}", text(&out.stderr));
    }
    let fish = gbswarm(&["completions", "fish"]).stdout;
    if let Some(out) = pipe("fish", "fish", &["--no-execute"], &fish) {
        assert!(out.status.success(), "fish -n: {}", text(&out.stderr));
        let mut session = fish.clone();
        session.extend_from_slice(
            b"\ncomplete -C 'gbswarm ser'\ncomplete -C 'gbswarm serve --metr'\n",
        );
        let out = pipe("fish", "fish", &[], &session).unwrap();
        let offered = text(&out.stdout);
        assert!(
            offered.lines().any(|l| l.starts_with("serve\t")),
            "{offered}"
        );
        assert!(
            offered.lines().any(|l| l.starts_with("--metrics\t")),
            "{offered}"
        );
    }
}

#[test]
fn the_man_page_lists_every_subcommand_and_renders_cleanly() {
    let roff = text(&gbswarm(&["man"]).stdout);
    assert!(roff.contains(".TH gbswarm 1"), "{roff}");
    let subcommands = roff
        .split(".SH SUBCOMMANDS")
        .nth(1)
        .expect("a SUBCOMMANDS section");
    for name in SUBCOMMANDS {
        assert!(
            subcommands.contains(&format!("gbswarm\\-{}(1)", name.replace('-', "\\-"))),
            "{name} missing from\n{subcommands}"
        );
    }
    if let Some(out) = pipe(
        "groff",
        "groff-base",
        &["-man", "-Tutf8", "-ww", "-z"],
        roff.as_bytes(),
    ) {
        assert!(out.status.success());
        assert_eq!(text(&out.stderr), "", "groff warnings");
    }

    // --dir writes the page of every subcommand too, each with its own flags.
    let dir = std::env::temp_dir().join(format!("gbswarm-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    gbswarm(&["man", "--dir", dir.to_str().unwrap()]);
    let page = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(page("gbswarm.1"), roff);
    for name in SUBCOMMANDS {
        assert!(page(&format!("gbswarm-{name}.1")).contains(".TH gbswarm-"));
    }
    assert!(page("gbswarm-run.1").contains("\\-\\-metrics"));
    assert!(page("gbswarm-serve.1").contains("\\-\\-metrics"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let line = text(&gbswarm(&["--version"]).stdout);
    let root = env!("CARGO_MANIFEST_DIR");
    // build.rs stamps every target of the crate alike, this test among them.
    let stamped = env!("GBSWARM_COMMIT");
    assert_eq!(
        line.trim(),
        format!("gbswarm {} (commit {stamped})", env!("CARGO_PKG_VERSION"))
    );
    // In a git checkout the stamp is a commit of this repository (HEAD when it was built: not
    // compared with HEAD now, which a commit made while the tests run would move).
    if std::path::Path::new(root).join(".git").exists() {
        let commit = Command::new("git")
            .args(["-C", root, "cat-file", "-t", stamped])
            .output()
            .map(|o| text(&o.stdout).trim().to_string());
        assert_eq!(commit.ok().as_deref(), Some("commit"), "stamp {stamped}");
    }
}
