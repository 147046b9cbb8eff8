//! Per-process random numbers for identifiers and keys: the standard library's randomly keyed
//! hasher over the clock and the PID, so no two processes (runs, shards, servers) share them.

use std::hash::{BuildHasher, Hasher};

/// A fresh 64-bit random number.
pub fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn differs_between_calls() {
        assert_ne!(super::random_u64(), super::random_u64());
    }
}
