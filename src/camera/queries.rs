//! Platform queries a camera must answer (Catalog, DeviceInfo, DeviceStatus, ConfigDownload):
//! a small fixed queue of pending queries and the bodies of their Response messages.

use super::CameraConfig;
use crate::clock::Time;
use crate::gb::{DeviceId, manscdp};

/// The queries gbswarm answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum QueryKind {
    Catalog = 1,
    DeviceInfo = 2,
    DeviceStatus = 3,
    ConfigDownload = 4,
}

impl QueryKind {
    pub fn from_cmd(cmd: &[u8]) -> Option<QueryKind> {
        match cmd {
            b"Catalog" => Some(QueryKind::Catalog),
            b"DeviceInfo" => Some(QueryKind::DeviceInfo),
            b"DeviceStatus" => Some(QueryKind::DeviceStatus),
            b"ConfigDownload" => Some(QueryKind::ConfigDownload),
            _ => None,
        }
    }

    fn from_u8(v: u8) -> Option<QueryKind> {
        match v {
            1 => Some(QueryKind::Catalog),
            2 => Some(QueryKind::DeviceInfo),
            3 => Some(QueryKind::DeviceStatus),
            4 => Some(QueryKind::ConfigDownload),
            _ => None,
        }
    }
}

/// Capacity of a camera's query queue; more concurrent queries are refused with 486.
pub(crate) const QUEUE: usize = 4;

/// Pending queries in arrival order, and the Catalog page being sent for the first one.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct QueryQueue {
    kinds: [u8; QUEUE],
    sns: [u32; QUEUE],
    len: u8,
    /// Next Catalog page (0-based) of the query at the front.
    pub page: u16,
}

impl QueryQueue {
    pub fn push(&mut self, kind: QueryKind, sn: u32) -> bool {
        let n = usize::from(self.len);
        if n >= QUEUE {
            return false;
        }
        self.kinds[n] = kind as u8;
        self.sns[n] = sn;
        self.len += 1;
        true
    }

    pub fn front(&self) -> Option<(QueryKind, u32)> {
        if self.len == 0 {
            return None;
        }
        Some((QueryKind::from_u8(self.kinds[0])?, self.sns[0]))
    }

    pub fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        self.kinds.copy_within(1.., 0);
        self.sns.copy_within(1.., 0);
        self.len -= 1;
        self.page = 0;
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.page = 0;
    }
}

/// Writes camera `index`'s Response body for `kind` at `now` into `out` (a channel's status
/// is [`CameraConfig::channel_flap`]'s); returns true if more Catalog pages follow.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_response(
    out: &mut Vec<u8>,
    cfg: &CameraConfig,
    index: u32,
    id: &DeviceId,
    kind: QueryKind,
    sn: u32,
    page: u16,
    now: Time,
) -> bool {
    let unix_ms = cfg.unix_ms(now);
    let channels = cfg.channels_of(index);
    let charset = cfg.gb_version.charset();
    match kind {
        QueryKind::Catalog => {
            let total = channels;
            let per = cfg.catalog_page.max(1);
            let first = u32::from(page).saturating_mul(per);
            let last = first.saturating_add(per).min(total);
            let per_device = total.max(1);
            let items = (first..last).map(|i| {
                let online = cfg.channel_flap.online(index, i + 1, total, now);
                (i + 1, id.channel(i + 1, per_device), online)
            });
            manscdp::write_catalog(out, charset, &cfg.channel_name, sn, id, total, items);
            last < total
        }
        QueryKind::DeviceInfo => {
            manscdp::write_device_info(out, charset, sn, id, channels);
            false
        }
        QueryKind::DeviceStatus => {
            let t = crate::gb::time::DateTime::new(unix_ms, false);
            manscdp::write_device_status(out, charset, sn, id, t.as_bytes());
            false
        }
        QueryKind::ConfigDownload => {
            manscdp::write_config_download(
                out,
                charset,
                sn,
                id,
                cfg.expires,
                cfg.heartbeat().as_secs() as u32,
                u32::from(cfg.heartbeat_misses),
            );
            false
        }
    }
}
