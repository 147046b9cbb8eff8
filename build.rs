//! Stamps the build with the git commit it came from, for the reports and `--version`
//! (`GBSWARM_COMMIT`, the short hash of HEAD). Without a `.git` beside Cargo.toml or a working
//! `git` (a source tarball, a container build context), the `GBSWARM_COMMIT` environment
//! variable says it if set (the Dockerfile passes its build argument), else `unknown`.
//! Rebuilt when HEAD moves: a branch switch or a new commit.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GBSWARM_COMMIT");
    // Only this crate's own repository: a copy vendored inside another repository must not
    // take that repository's commit. (`.git` is a file in a worktree, a directory otherwise.)
    let commit = if Path::new(".git").exists() {
        // HEAD, the branch it points to and packed-refs: whichever moves on a commit or a
        // checkout. A branch only in packed-refs (after `git gc`) gets its file on the next
        // commit: then its directory is watched. A path that does not exist is left out
        // (cargo would rerun the script on every build).
        let mut watch = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        watch.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
            && let Some(file) = git(&["rev-parse", "--git-path", &branch])
        {
            let packed = !Path::new(&file).exists();
            let dir = Path::new(&file).parent().map(|d| d.display().to_string());
            watch.push(if packed { dir } else { Some(file) });
        }
        for p in watch.into_iter().flatten() {
            if Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
        git(&["rev-parse", "--short", "HEAD"])
    } else {
        None
    };
    let given = std::env::var("GBSWARM_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty());
    let commit = commit.or(given);
    println!(
        "cargo:rustc-env=GBSWARM_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
}
