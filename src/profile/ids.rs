//! Where a plan's camera IDs come from: a prefix and a sequence (`id-prefix`, `first-id`,
//! `cameras`) or the rows of a device file (`devices`), each refused with the key to blame.

use super::{PlanError, Profile, bad};
use crate::gb::{Devices, IdRange, Ids};
use std::path::Path;

/// The camera IDs, or the key to blame (`id-prefix`, `first-id` or `cameras`) with what fits.
pub(super) fn id_range(
    prefix: Option<&str>,
    first_id: Option<u64>,
    cameras: u64,
) -> Result<IdRange, PlanError> {
    let prefix = prefix.unwrap_or("3402000000132");
    if prefix.len() > 20 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return bad(
            "id-prefix",
            format!("`{prefix}` is not 0 to 20 digits (a camera ID has 20)"),
        );
    }
    let width = 20 - prefix.len() as u32;
    // 10^19 - 1 is the largest for an empty prefix and fits a u64.
    let max = 10u64.checked_pow(width).map_or(u64::MAX, |span| span - 1);
    let first = first_id.unwrap_or(1);
    let after = format!(
        "after the {}-digit id-prefix `{prefix}` a camera number has at most {width} digits (0 to {max})",
        prefix.len()
    );
    if first > max {
        if first_id.is_none() {
            return bad(
                "id-prefix",
                format!(
                    "`{prefix}` has 20 digits and leaves none for the camera number: use at most 19"
                ),
            );
        }
        return bad("first-id", format!("{first} does not fit: {after}"));
    }
    let room = max - first + 1;
    if cameras > room {
        return bad(
            "cameras",
            format!(
                "{cameras} cameras from first-id {first} do not fit: {after}, so at most {room} cameras"
            ),
        );
    }
    IdRange::new(prefix, first, cameras).map_err(|e| PlanError {
        key: "id-prefix".into(),
        message: format!("`{prefix}` with first-id {first} and {cameras} cameras: {e}"),
    })
}

/// The cameras of a device file: its first `cameras` rows (all by default), or the key to
/// blame. The file gives every ID and password, so the keys it replaces are refused.
pub(super) fn listed(
    profile: &Profile,
    path: &Path,
    cameras: Option<u64>,
) -> Result<Ids, PlanError> {
    for (key, given) in [
        ("id-prefix", profile.id_prefix.is_some()),
        ("first-id", profile.first_id.is_some()),
        ("password", profile.password.is_some()),
    ] {
        if given {
            return bad(
                key,
                format!(
                    "`devices` ({}) gives every camera its ID and password: leave out `{key}`",
                    path.display()
                ),
            );
        }
    }
    let d = Devices::load(path).map_err(|message| PlanError {
        key: "devices".into(),
        message,
    })?;
    let rows = d.len() as u64;
    let d = match cameras {
        None => d,
        Some(n) if n <= rows => d.slice(0, n as usize),
        Some(n) => {
            return bad(
                "cameras",
                format!(
                    "{n} cameras, but {} lists {rows} devices: give at most {rows}, or leave `cameras` out to run them all",
                    path.display()
                ),
            );
        }
    };
    Ok(Ids::Listed(std::sync::Arc::new(d)))
}
