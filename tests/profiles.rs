//! Every shipped profile parses and validates.

use gbswarm::profile::Profile;

#[test]
fn shipped_profiles_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let plan = Profile::load(&path)
                .and_then(|p| p.plan())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(plan.ids.len() >= 100, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 5, "smoke, 10k-udp, 10k-tcp, flash-crowd, soak-100k");
}
