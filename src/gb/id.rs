//! GB/T 28181 20-digit device codes: validation, the fields they encode, and ranges of
//! consecutive IDs for a fleet.

use std::fmt;

/// A validated 20-digit GB28181 code (device, channel or server).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId([u8; 20]);

/// Why a device ID or ID range is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdError {
    /// Not exactly 20 characters.
    Length(usize),
    /// A character that is not an ASCII digit, at this index.
    NotDigit(usize),
    /// A range prefix longer than 20 digits or not made of digits.
    Prefix,
    /// The range runs past the digits the prefix leaves free.
    RangeOverflow,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Length(n) => write!(f, "a GB28181 ID has 20 digits, this has {n} characters"),
            IdError::NotDigit(i) => write!(f, "character {} of the ID is not a digit", i + 1),
            IdError::Prefix => f.write_str("the ID prefix must be 0 to 20 digits"),
            IdError::RangeOverflow => {
                f.write_str("the ID range does not fit in the digits after the prefix")
            }
        }
    }
}

impl std::error::Error for IdError {}

/// The device type encoded in digits 11–13.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceType {
    /// 111 DVR
    Dvr,
    /// 118 NVR
    Nvr,
    /// 131 camera (channel)
    Camera,
    /// 132 IP camera
    IpCamera,
    /// 200 central SIP server
    SipServer,
    /// 215 business group, 216 virtual organisation and any other code.
    Other(u16),
}

impl DeviceId {
    /// Validates 20 ASCII digits.
    pub fn parse(s: &[u8]) -> Result<DeviceId, IdError> {
        if s.len() != 20 {
            return Err(IdError::Length(s.len()));
        }
        if let Some(i) = s.iter().position(|b| !b.is_ascii_digit()) {
            return Err(IdError::NotDigit(i));
        }
        let mut a = [0u8; 20];
        a.copy_from_slice(s);
        Ok(DeviceId(a))
    }

    /// The ID for the number `n` (zero-padded), if it fits in 20 digits.
    pub fn from_number(mut n: u128) -> Option<DeviceId> {
        if n >= 10u128.pow(20) {
            return None;
        }
        let mut a = [b'0'; 20];
        for slot in a.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        Some(DeviceId(a))
    }

    /// The ID as a number (for ranges and arithmetic).
    pub fn number(&self) -> u128 {
        self.0
            .iter()
            .fold(0u128, |acc, &d| acc * 10 + u128::from(d - b'0'))
    }

    /// The 20 digits.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The 20 digits as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The first 10 digits: the SIP domain (centre code and administrative area).
    pub fn domain(&self) -> &[u8] {
        &self.0[..10]
    }

    /// Digits 11–13 as a number (132 = IP camera, 200 = SIP server, ...).
    pub fn type_code(&self) -> u16 {
        self.0[10..13]
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'))
    }

    /// The device type of digits 11–13.
    pub fn device_type(&self) -> DeviceType {
        match self.type_code() {
            111 => DeviceType::Dvr,
            118 => DeviceType::Nvr,
            131 => DeviceType::Camera,
            132 => DeviceType::IpCamera,
            200 => DeviceType::SipServer,
            n => DeviceType::Other(n),
        }
    }

    /// The ID of channel `index` (from 1) of this device: same domain, type 131, and a serial
    /// derived from the device's so that channels of different devices stay apart while the
    /// fleet has fewer than 10^7 / `per_device` devices.
    ///
    /// Why 131: GB/T 28181-2022 Annex E codes 131 as a camera (摄像机) and 132 as a network
    /// camera (网络摄像机, a device registering on its own). A channel of an NVR or DVR is a
    /// camera behind it, not a device on the network, which is what NVRs in the field list
    /// (and what wvp files as a channel); a stand-alone IPC registers with its own 132 ID and
    /// lists its one channel as 131 too. The channel's `ParentID` in a Catalog is the device.
    pub fn channel(&self, index: u32, per_device: u32) -> DeviceId {
        let serial = self.number() % 10_000_000;
        let per = u128::from(per_device.max(1));
        let ch_serial = (serial * per + u128::from(index.saturating_sub(1)) % per) % 10_000_000;
        let mut a = self.0;
        a[10..13].copy_from_slice(b"131");
        let mut s = ch_serial;
        for slot in a[13..].iter_mut().rev() {
            *slot = b'0' + (s % 10) as u8;
            s /= 10;
        }
        DeviceId(a)
    }
}

impl DeviceId {
    /// Which channel (from 1) of this device `ch` is, for a device with `channels` channels:
    /// the inverse of [`channel`](Self::channel), so a query or INVITE naming a channel finds
    /// it without a scan. None if `ch` is none of them.
    pub fn channel_index(&self, ch: &DeviceId, channels: u32) -> Option<u32> {
        if channels == 0 || ch.0[..10] != self.0[..10] || ch.type_code() != 131 {
            return None;
        }
        let per = u128::from(channels);
        let base = (self.number() % 10_000_000) * per % 10_000_000;
        let serial = ch.number() % 10_000_000;
        let offset = (serial + 10_000_000 - base) % 10_000_000;
        let index = u32::try_from(offset).ok()?.checked_add(1)?;
        (index <= channels && self.channel(index, channels) == *ch).then_some(index)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.as_str())
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeviceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        DeviceId::parse(s.as_bytes())
    }
}

/// `(start, len)` of slice `k` of `n` (0-based) of `count` items: contiguous, disjoint,
/// covering, sizes differing by at most one (the first `count % n` slices one longer).
pub fn shard_bounds(count: u64, k: u64, n: u64) -> (u64, u64) {
    let n = n.max(1);
    let k = k.min(n - 1);
    let base = count / n;
    let extra = count % n;
    (k * base + k.min(extra), base + u64::from(k < extra))
}

/// `count` consecutive IDs: a fixed digit prefix and a zero-padded number after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    first: u128,
    count: u64,
}

/// Most candidate devices [`IdRange::channel_owner`] checks for one channel ID.
pub const MAX_CHANNEL_CANDIDATES: u32 = 1024;

impl IdRange {
    /// IDs `prefix` + `first`, `first + 1`, ... padded to 20 digits
    /// (`"3402000000132"`, 1, 3 gives `...1320000001` to `...1320000003`).
    pub fn new(prefix: &str, first: u64, count: u64) -> Result<IdRange, IdError> {
        if prefix.len() > 20 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Prefix);
        }
        let width = 20 - prefix.len() as u32;
        let span = 10u128.pow(width);
        let last = u128::from(first) + u128::from(count.max(1)) - 1;
        if last >= span {
            return Err(IdError::RangeOverflow);
        }
        let base: u128 = prefix
            .bytes()
            .fold(0u128, |acc, d| acc * 10 + u128::from(d - b'0'));
        Ok(IdRange {
            first: base * span + u128::from(first),
            count,
        })
    }

    /// How many IDs the range holds.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True if the range is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`-th ID (from 0), if within the range.
    pub fn get(&self, i: u64) -> Option<DeviceId> {
        if i >= self.count {
            return None;
        }
        DeviceId::from_number(self.first + u128::from(i))
    }

    /// The sub-range of shard `k` of `n` (0-based): disjoint, covering, sizes differing by ≤ 1.
    pub fn shard(&self, k: u64, n: u64) -> IdRange {
        let (start, len) = shard_bounds(self.count, k, n);
        IdRange {
            first: self.first + u128::from(start),
            count: len,
        }
    }

    /// The index of `id` in the range, if it is in it.
    pub fn index_of(&self, id: &DeviceId) -> Option<u64> {
        let i = u64::try_from(id.number().checked_sub(self.first)?).ok()?;
        (i < self.count).then_some(i)
    }

    /// Iterates over the IDs in order.
    pub fn iter(&self) -> impl Iterator<Item = DeviceId> + '_ {
        (0..self.count).filter_map(|i| self.get(i))
    }

    /// The index of the device in the range one of whose `channels` channels is `ch`
    /// ([`DeviceId::channel`]), found by arithmetic, not a scan: the channel's serial is the
    /// device's times `channels` plus the channel's offset, modulo 10^7, so the candidates
    /// are the range's serials `(serial + m × 10^7) / channels`; each is checked with
    /// [`DeviceId::channel_index`]. There is one candidate per 10^7 / `channels` devices of
    /// the range (one while the fleet's channel IDs do not wrap around). When they wrap,
    /// several devices share a channel ID and the first found is given; at most
    /// [`MAX_CHANNEL_CANDIDATES`] are tried (a fleet wrapping that often has each channel ID
    /// on as many devices, and nothing to tell them apart by).
    pub fn channel_owner(&self, ch: &DeviceId, channels: u32) -> Option<u64> {
        const SERIALS: u128 = 10_000_000;
        let mut budget = MAX_CHANNEL_CANDIDATES;
        if channels == 0 || self.count == 0 || ch.type_code() != 131 {
            return None;
        }
        let per = u128::from(channels);
        let last = self.first + u128::from(self.count) - 1;
        let serial = ch.number() % SERIALS;
        let (low, high) = (self.first / SERIALS, last / SERIALS);
        // The range's IDs by their first 13 digits (one prefix unless it crosses a serial
        // wrap), and in each the serials it holds.
        for prefix in low..=high {
            let first = if prefix == low {
                self.first % SERIALS
            } else {
                0
            };
            let end = if prefix == high {
                last % SERIALS
            } else {
                SERIALS - 1
            };
            // d = (serial + m·10^7) / per lies in first..=end for m in m_low..=m_high.
            let Some(top) = ((end + 1) * per - 1).checked_sub(serial) else {
                continue;
            };
            let m_low = (first * per).saturating_sub(serial).div_ceil(SERIALS);
            for m in m_low..=top / SERIALS {
                if budget == 0 {
                    return None;
                }
                budget -= 1;
                let d = (serial + m * SERIALS) / per;
                let Some(dev) = DeviceId::from_number(prefix * SERIALS + d) else {
                    continue;
                };
                if (first..=end).contains(&d) && dev.channel_index(ch, channels).is_some() {
                    return self.index_of(&dev);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_decodes() {
        let id = DeviceId::parse(b"34020000001320000001").unwrap();
        assert_eq!(id.domain(), b"3402000000");
        assert_eq!(id.type_code(), 132);
        assert_eq!(id.device_type(), DeviceType::IpCamera);
        assert_eq!(
            DeviceId::parse(b"34020000002000000001")
                .unwrap()
                .device_type(),
            DeviceType::SipServer
        );
        assert_eq!(DeviceId::parse(b"3402"), Err(IdError::Length(4)));
        assert_eq!(
            DeviceId::parse(b"3402000000132000000x"),
            Err(IdError::NotDigit(19))
        );
        assert_eq!(id.to_string(), "34020000001320000001");
        assert_eq!(DeviceId::from_number(id.number()), Some(id));
    }

    #[test]
    fn ranges_and_shards() {
        let r = IdRange::new("3402000000132", 1, 3).unwrap();
        let ids: Vec<String> = r.iter().map(|i| i.to_string()).collect();
        assert_eq!(
            ids,
            [
                "34020000001320000001",
                "34020000001320000002",
                "34020000001320000003"
            ]
        );
        assert_eq!(
            IdRange::new("3402000000132", 9_999_999, 2),
            Err(IdError::RangeOverflow)
        );
        assert_eq!(IdRange::new("34x", 1, 1), Err(IdError::Prefix));
        let big = IdRange::new("3402000000132", 1, 10).unwrap();
        let mut all = Vec::new();
        for k in 0..3 {
            all.extend(big.shard(k, 3).iter());
        }
        assert_eq!(all, big.iter().collect::<Vec<_>>());
        assert_eq!(big.shard(0, 3).len(), 4);
        assert_eq!(big.shard(2, 3).len(), 3);
    }

    #[test]
    fn a_channel_id_finds_its_device_in_a_range_by_arithmetic() {
        let ranges = [
            (IdRange::new("3402000000132", 1, 50).unwrap(), [1, 4, 16]),
            // Channel serials wrap past 10^7 (2 500 000 × 4): still each finds its device.
            (
                IdRange::new("3402000000132", 2_499_998, 4).unwrap(),
                [1, 4, 3],
            ),
            // The range crosses into the next 13-digit prefix.
            (
                IdRange::new("340200000013", 9_999_998, 4).unwrap(),
                [1, 2, 5],
            ),
        ];
        for (r, counts) in ranges {
            for per in counts {
                for (i, dev) in r.iter().enumerate() {
                    for c in 1..=per {
                        let ch = dev.channel(c, per);
                        let k = r.channel_owner(&ch, per).expect("found");
                        // Its device, or (wrapped IDs) another of the range with that channel.
                        let owner = r.get(k).unwrap();
                        assert!(owner.channel_index(&ch, per).is_some(), "{ch} of {dev}");
                        if per * (r.len() as u32) < 10_000_000 {
                            assert_eq!(k, i as u64, "{ch} of {dev}");
                        }
                    }
                }
                let first = r.get(0).unwrap();
                assert_eq!(
                    r.channel_owner(&first, per),
                    None,
                    "a device ID is no channel"
                );
            }
        }
        let r = IdRange::new("3402000000132", 1, 3).unwrap();
        let outside = DeviceId::parse(b"34020000001320000009")
            .unwrap()
            .channel(1, 4);
        assert_eq!(r.channel_owner(&outside, 4), None);
        let other_domain = DeviceId::parse(b"34020000011320000001")
            .unwrap()
            .channel(1, 4);
        assert_eq!(r.channel_owner(&other_domain, 4), None);
        assert_eq!(r.channel_owner(&r.get(0).unwrap().channel(1, 4), 0), None);
        // Channel 3 of 4 of the first is, in a 2-channel fleet, channel 1 of the third.
        assert_eq!(
            r.channel_owner(&r.get(0).unwrap().channel(3, 4), 2),
            Some(2)
        );
    }

    #[test]
    fn channels_are_cameras_of_the_same_domain() {
        let id = DeviceId::parse(b"34020000001320000007").unwrap();
        let c1 = id.channel(1, 4);
        let c4 = id.channel(4, 4);
        assert_eq!(c1.type_code(), 131);
        assert_eq!(c1.domain(), id.domain());
        assert_ne!(c1, c4);
        let next = DeviceId::parse(b"34020000001320000008").unwrap();
        assert_ne!(next.channel(1, 4), c4);
        for n in [1u32, 4, 64, 5000] {
            for i in [1, n / 2 + 1, n] {
                assert_eq!(id.channel_index(&id.channel(i, n), n), Some(i));
            }
            assert_eq!(id.channel_index(&id, n), None);
            assert_eq!(id.channel_index(&next.channel(1, n), n), None);
        }
        assert_eq!(id.channel_index(&id.channel(5, 8), 4), None);
        assert_eq!(id.channel_index(&c1, 0), None);
    }
}
