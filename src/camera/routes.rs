//! Which camera a request on a shared UDP socket (`--cameras-per-socket` above 1) is for when
//! its Request-URI names one of the camera's channels rather than the camera itself, as
//! wvp-GB28181-pro's INVITEs do. An ID range with the fleet's uniform `--channels` needs no
//! table: the channel's serial gives its device ([`IdRange::channel_owner`]). A device file's
//! IDs are arbitrary and its rows may have channel counts of their own, so a worker indexes
//! the channels of its own cameras once at start: (camera, channel) pairs sorted by the
//! channel's ID, searched by bisection, at most [`MAX_INDEXED_CHANNELS`] of them (8 bytes
//! each); channels past that are not indexed, counted by [`ChannelRoutes::unindexed`], and a
//! request to one stays unrouted.
//!
//! What it never does: allocate once built, scan the fleet per request, or decide whether a
//! camera serves the channel (the camera and its tables check the ID again).

use crate::gb::{DeviceId, Ids};

/// Most channels one worker indexes for a device file.
pub const MAX_INDEXED_CHANNELS: usize = 1 << 20;

/// The channel routes of one worker's cameras. See the module docs.
#[derive(Debug, Default)]
pub struct ChannelRoutes {
    /// The fleet's channels per device (a range's; a device file's rows without their own).
    channels: u32,
    /// Device file: (fleet index, channel from 1) of each channel, sorted by channel ID.
    index: Vec<(u32, u32)>,
    /// Channels of a device file left out of the index.
    unindexed: u64,
}

impl ChannelRoutes {
    /// The routes of the cameras `own` (fleet indices) of the fleet `ids`, whose devices have
    /// `channels` channels each unless a device file says otherwise.
    pub fn new(ids: &Ids, channels: u32, own: &[u64]) -> ChannelRoutes {
        Self::bounded(ids, channels, own, MAX_INDEXED_CHANNELS)
    }

    /// [`new`](Self::new) with at most `cap` channels indexed.
    fn bounded(ids: &Ids, channels: u32, own: &[u64], cap: usize) -> ChannelRoutes {
        let mut r = ChannelRoutes {
            channels,
            ..ChannelRoutes::default()
        };
        let Ids::Listed(d) = ids else {
            return r;
        };
        let total: u64 = own.iter().map(|&k| u64::from(r.channels_of(ids, k))).sum();
        r.index.reserve_exact(total.min(cap as u64) as usize);
        for &k in own {
            let Ok(k32) = u32::try_from(k) else { continue };
            if d.id(k as usize).is_none() {
                continue;
            }
            for c in 1..=r.channels_of(ids, k) {
                if r.index.len() == cap {
                    r.unindexed += 1;
                } else {
                    r.index.push((k32, c));
                }
            }
        }
        let mut index = std::mem::take(&mut r.index);
        index.sort_by_cached_key(|&(k, c)| r.channel_id(ids, k, c));
        r.index = index;
        r
    }

    /// Device `k`'s channel count.
    fn channels_of(&self, ids: &Ids, k: u64) -> u32 {
        ids.devices()
            .and_then(|d| d.channels(usize::try_from(k).ok()?))
            .unwrap_or(self.channels)
    }

    /// The ID of channel `c` of device `k` (none past the fleet's end).
    fn channel_id(&self, ids: &Ids, k: u32, c: u32) -> Option<DeviceId> {
        let dev = ids.get(u64::from(k))?;
        Some(dev.channel(c, self.channels_of(ids, u64::from(k))))
    }

    /// The fleet index of the camera one of whose channels is `ch`, if it is one of the
    /// indexed cameras' (a device file) or of the range's devices.
    pub fn owner(&self, ids: &Ids, ch: &DeviceId) -> Option<u64> {
        if ch.type_code() != 131 {
            return None;
        }
        match ids {
            Ids::Range(r) => r.channel_owner(ch, self.channels),
            Ids::Listed(_) => {
                let i = self
                    .index
                    .binary_search_by(|&(k, c)| self.channel_id(ids, k, c).as_ref().cmp(&Some(ch)))
                    .ok()?;
                self.index.get(i).map(|&(k, _)| u64::from(k))
            }
        }
    }

    /// Channels of a device file not indexed (past [`MAX_INDEXED_CHANNELS`]).
    pub fn unindexed(&self) -> u64 {
        self.unindexed
    }
}

/// How many channels of the fleet `ids` the indexes of `workers` workers will leave out
/// (workers take every `workers`-th camera), so a run can say so before it starts; 0 for a
/// range, whose channels need no index.
pub fn unindexed_channels(ids: &Ids, channels: u32, workers: usize) -> u64 {
    let Some(d) = ids.devices() else { return 0 };
    let workers = workers.max(1);
    let mut per = vec![0u64; workers];
    for k in 0..d.len() {
        per[k % workers] += u64::from(d.channels(k).unwrap_or(channels));
    }
    per.iter()
        .map(|&n| n.saturating_sub(MAX_INDEXED_CHANNELS as u64))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::{Devices, IdRange};
    use std::sync::Arc;

    fn listed() -> Ids {
        let csv = "34020000001320000001,pw,3\n44010000001180000042,pw,\n\
34020000001110000007,pw,2\n34020000001320000002,pw,0\n";
        Ids::Listed(Arc::new(Devices::parse(csv).unwrap()))
    }

    #[test]
    fn a_device_files_channels_find_their_camera_and_others_nothing() {
        let ids = listed();
        let own = [0, 1, 2, 3];
        let r = ChannelRoutes::new(&ids, 4, &own);
        // 3 + 4 (the fleet's) + 2 + 0.
        assert_eq!((r.index.len(), r.unindexed()), (9, 0));
        let cases = [(0, 3), (1, 4), (2, 2)];
        for (k, n) in cases {
            let dev = ids.get(k).unwrap();
            for c in 1..=n {
                assert_eq!(r.owner(&ids, &dev.channel(c, n)), Some(k), "{k}/{c}");
            }
            assert_eq!(r.owner(&ids, &dev), None, "a device ID is no channel");
        }
        let stranger = DeviceId::parse(b"34020000001320000099").unwrap();
        assert_eq!(r.owner(&ids, &stranger.channel(1, 4)), None);
        // Only this worker's cameras are indexed.
        let mine = ChannelRoutes::new(&ids, 4, &[1, 3]);
        let dev0 = ids.get(0).unwrap();
        assert_eq!(mine.owner(&ids, &dev0.channel(1, 3)), None);
        let dev1 = ids.get(1).unwrap();
        assert_eq!(mine.owner(&ids, &dev1.channel(4, 4)), Some(1));
    }

    #[test]
    fn the_index_is_bounded_and_counts_what_it_left_out() {
        let ids = listed();
        let r = ChannelRoutes::bounded(&ids, 4, &[0, 1, 2, 3], 5);
        assert_eq!((r.index.len(), r.unindexed()), (5, 4));
        let dev0 = ids.get(0).unwrap();
        assert_eq!(r.owner(&ids, &dev0.channel(3, 3)), Some(0));
        assert_eq!(unindexed_channels(&ids, 4, 2), 0);
        let big = "34020000001320000001,pw,1048000\n34020000001320000002,pw,1000\n\
34020000001320000003,pw,1000\n";
        let big = Ids::Listed(Arc::new(Devices::parse(big).unwrap()));
        // Worker 0 holds rows 0 and 2: 1 049 000 channels, 424 past the bound.
        assert_eq!(unindexed_channels(&big, 4, 2), 1_049_000 - (1 << 20));
        assert_eq!(unindexed_channels(&big, 4, 3), 0);
        let range = Ids::Range(IdRange::new("3402000000132", 1, 10).unwrap());
        assert_eq!(unindexed_channels(&range, 9_999_999, 1), 0);
    }

    #[test]
    fn a_range_needs_no_index() {
        let ids = Ids::Range(IdRange::new("3402000000132", 1, 10).unwrap());
        let r = ChannelRoutes::new(&ids, 4, &[0, 2, 4]);
        assert!(r.index.is_empty());
        let dev = ids.get(7).unwrap();
        assert_eq!(r.owner(&ids, &dev.channel(4, 4)), Some(7));
        assert_eq!(r.owner(&ids, &dev), None);
    }

    #[test]
    fn a_request_to_a_channel_is_addressed_to_its_camera() {
        use crate::sip::{Header, Limits, parse_datagram};
        let ids = Ids::Range(IdRange::new("3402000000132", 1, 10).unwrap());
        let r = ChannelRoutes::new(&ids, 2, &[]);
        let ch = ids.get(5).unwrap().channel(2, 2);
        let invite = format!(
            "INVITE sip:{ch}@10.0.0.9:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa\r\n\
From: <sip:34020000002000000001@3402000000>;tag=a\r\nTo: <sip:{ch}@3402000000>\r\n\
Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        let mut h = [Header::EMPTY; 16];
        let msg = parse_datagram(invite.as_bytes(), &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(crate::camera::addressed_index(&msg, &ids, &r), Some(5));
        let other = invite.replace(ch.as_str(), "34020000001310000999");
        let msg = parse_datagram(other.as_bytes(), &mut h, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(crate::camera::addressed_index(&msg, &ids, &r), None);
    }
}
