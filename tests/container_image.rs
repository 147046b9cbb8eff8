//! The container image of the `Dockerfile`: its `prebuilt` stage built around a statically
//! linked gbswarm holds that one file and nothing else, and gbswarm runs in it (`--version`,
//! and a short run against the embedded registrar on the container's loopback).
//!
//! The static binary is built here (debug profile, `+crt-static`, its own target directory,
//! offline from the crates `cargo test` already fetched) and checked on its own: no program
//! interpreter, so it needs no shared library, and it runs. The image is built with buildah
//! (`--isolation chroot`, vfs storage in a directory of this test's own, removed at the end):
//! no base image is pulled and no daemon is needed. Without buildah (`.ci/run` installs it)
//! the image part prints SKIPPED and why, and the binary is still checked; in CI a missing
//! buildah fails the test.

mod peers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ok(what: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Builds the static binary the image ships, and returns its path.
fn static_binary(tmp: &Path) -> PathBuf {
    let target_dir = tmp.join("static-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ok(
        "cargo build (static)",
        Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--offline", "--locked", "--bin", "gbswarm"])
            .args(["--target", "x86_64-unknown-linux-gnu"])
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .env("CARGO_PROFILE_DEV_DEBUG", "0")
            .env("CARGO_TARGET_DIR", &target_dir)
            .output(),
    );
    target_dir.join("x86_64-unknown-linux-gnu/debug/gbswarm")
}

/// True when the ELF file asks for a program interpreter (a dynamic loader): a dynamically
/// linked program does, a static (or static-pie) one does not.
fn needs_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let p = phoff + i * phentsize;
        u32::from_le_bytes(elf[p..p + 4].try_into().unwrap()) == 3 // PT_INTERP
    })
}

/// buildah with this test's own storage, under `root` (removed with everything in it when
/// dropped, the build context included).
struct Buildah {
    root: PathBuf,
}

impl Buildah {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(self.root.join("root"))
            .arg("--runroot")
            .arg(self.root.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        ok(&format!("buildah {args:?}"), self.cmd(args).output())
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "--all"]).output();
        let _ = self.cmd(&["rmi", "--all", "--force"]).output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_image_holds_only_the_static_binary_and_runs_it() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let binary = static_binary(tmp);
    assert!(
        !needs_interpreter(&std::fs::read(&binary).unwrap()),
        "{} is dynamically linked",
        binary.display()
    );
    if let Ok(out) = Command::new("ldd").arg(&binary).output() {
        let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("statically linked") || said.contains("not a dynamic executable"),
            "ldd: {said}"
        );
    }
    let version = stdout(&ok(
        "static --version",
        Command::new(&binary).arg("--version").output(),
    ));
    assert!(version.starts_with("gbswarm "), "{version}");

    if !peers::have("buildah", "buildah") {
        eprintln!("SKIPPED: the image build and run (the static binary alone was checked)");
        return;
    }
    let work = tmp.join(format!("image-{}", std::process::id()));
    let context = work.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy(&binary, context.join("gbswarm")).unwrap();
    let buildah = Buildah { root: work.clone() };
    let tag = format!("localhost/gbswarm-test:{}", std::process::id());
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile");
    buildah.run(&[
        "bud",
        "--isolation",
        "chroot",
        "--target",
        "prebuilt",
        "--build-arg",
        "GBSWARM_BINARY=gbswarm",
        "-f",
        dockerfile.to_str().unwrap(),
        "-t",
        &tag,
        context.to_str().unwrap(),
    ]);
    let config = buildah.run(&["inspect", "--format", "{{.OCIv1.Config.Entrypoint}}", &tag]);
    assert_eq!(stdout(&config), "[/gbswarm]");

    let container = stdout(&buildah.run(&["from", &tag]));
    // Nothing in the image but the binary.
    let mount = PathBuf::from(stdout(&buildah.run(&["mount", &container])));
    let files: Vec<String> = std::fs::read_dir(&mount)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    buildah.run(&["umount", &container]);
    assert_eq!(files, ["gbswarm"]);

    let inside = |args: &[&str]| {
        let all = [
            &["run", "--isolation", "chroot", &container, "--"][..],
            args,
        ]
        .concat();
        buildah.run(&all)
    };
    assert_eq!(stdout(&inside(&["/gbswarm", "--version"])), version);
    // A real run in the image: sockets, worker threads and the embedded registrar.
    let run = inside(&[
        "/gbswarm",
        "run",
        "-n",
        "5",
        "--rate",
        "100",
        "--duration",
        "1s",
        "--cores",
        "1",
        "--json",
        "-",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["kinds"]["register"]["ok"], 5, "{report}");
    assert_eq!(report["verdict"], "held");
}
