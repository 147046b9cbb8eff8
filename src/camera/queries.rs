//! Platform queries a camera answers — Catalog, DeviceInfo, DeviceStatus, ConfigDownload,
//! RecordInfo, the 2022 queries (HomePositionQuery, CruiseTrackListQuery, CruiseTrackQuery,
//! PTZPosition, SDCardStatus) — and the Response to a DeviceControl that asks for one or to a
//! DeviceConfig: a small fixed queue of pending answers, and the bodies of their Response
//! messages.
//!
//! A query names the device or one of its channels in `<DeviceID>` and is answered for it
//! (the Response's DeviceID is the one asked). Catalog and RecordInfo answers are paged at the
//! camera's catalog page size, every page with the same SN and `SumNum`; a total of 0 is one
//! message with an empty list. What a query asks beyond its kind and SN lives in the worker's
//! [`QueryArgs`](super::query_args::QueryArgs).
//!
//! It never parses a request or sends anything; the platform module does.

use super::CameraConfig;
use super::query_args::Args;
use crate::clock::Time;
use crate::gb::query2022::{self, Query2022};
use crate::gb::records::{RecordRange, Recordings, write_record_info};
use crate::gb::status::{self, BasicParam, ConfigTypes, Duty, Status};
use crate::gb::{DeviceId, DeviceType, control, manscdp};

/// The answers gbswarm queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum QueryKind {
    Catalog = 1,
    DeviceInfo = 2,
    DeviceStatus = 3,
    ConfigDownload = 4,
    RecordInfo = 5,
    HomePosition = 6,
    CruiseTrackList = 7,
    CruiseTrack = 8,
    PtzPosition = 9,
    SdCardStatus = 10,
    /// The Response to a DeviceControl that asks for one (Result OK).
    ControlResponse = 11,
    /// The Response to a DeviceConfig (Result OK).
    ConfigResponse = 12,
}

impl QueryKind {
    const ALL: [QueryKind; 12] = [
        QueryKind::Catalog,
        QueryKind::DeviceInfo,
        QueryKind::DeviceStatus,
        QueryKind::ConfigDownload,
        QueryKind::RecordInfo,
        QueryKind::HomePosition,
        QueryKind::CruiseTrackList,
        QueryKind::CruiseTrack,
        QueryKind::PtzPosition,
        QueryKind::SdCardStatus,
        QueryKind::ControlResponse,
        QueryKind::ConfigResponse,
    ];

    /// The query a `<Query>` CmdType asks for, and what it asks beyond its target (`a`, `b`
    /// of [`Args`]): None for a query gbswarm does not answer; `Err(())` for one whose
    /// arguments are malformed (a RecordInfo without a valid range).
    #[allow(clippy::result_unit_err)]
    pub fn from_query(cmd: &[u8], body: &[u8]) -> Option<Result<(QueryKind, u32, u32), ()>> {
        let plain = |k| Some(Ok((k, 0, 0)));
        match cmd {
            b"Catalog" => plain(QueryKind::Catalog),
            b"DeviceInfo" => plain(QueryKind::DeviceInfo),
            b"DeviceStatus" => plain(QueryKind::DeviceStatus),
            b"ConfigDownload" => {
                // BasicParam alone is the default (no argument stored).
                let t = ConfigTypes::parse(body).0;
                let a = if t == ConfigTypes::BASIC {
                    0
                } else {
                    u32::from(t)
                };
                Some(Ok((QueryKind::ConfigDownload, a, 0)))
            }
            b"RecordInfo" => Some(
                RecordRange::parse(body)
                    .map(|r| (QueryKind::RecordInfo, r.start, r.end))
                    .ok_or(()),
            ),
            _ => match Query2022::from_cmd(cmd, body)? {
                Query2022::HomePosition => plain(QueryKind::HomePosition),
                Query2022::CruiseTrackList => plain(QueryKind::CruiseTrackList),
                Query2022::CruiseTrack(n) => Some(Ok((QueryKind::CruiseTrack, u32::from(n), 0))),
                Query2022::PtzPosition => plain(QueryKind::PtzPosition),
                Query2022::SdCardStatus => plain(QueryKind::SdCardStatus),
            },
        }
    }

    fn from_u8(v: u8) -> Option<QueryKind> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }
}

/// Capacity of a camera's query queue; more concurrent queries are refused with 486.
pub(crate) const QUEUE: usize = 4;

/// A queue entry's kind byte has this bit when its [`Args`] are in the worker's table.
const HAS_ARGS: u8 = 0x80;

/// Pending queries in arrival order, and the page being sent for the first one.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct QueryQueue {
    kinds: [u8; QUEUE],
    sns: [u32; QUEUE],
    len: u8,
    /// Next page (0-based) of the query at the front.
    pub page: u16,
}

impl QueryQueue {
    /// Queued entries.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Appends a query; `args` says its arguments are in the worker's table. False if full.
    pub fn push(&mut self, kind: QueryKind, sn: u32, args: bool) -> bool {
        let n = usize::from(self.len);
        if n >= QUEUE {
            return false;
        }
        self.kinds[n] = kind as u8 | if args { HAS_ARGS } else { 0 };
        self.sns[n] = sn;
        self.len += 1;
        true
    }

    /// The front query: its kind, SN, and whether its arguments are in the table.
    pub fn front(&self) -> Option<(QueryKind, u32, bool)> {
        if self.len == 0 {
            return None;
        }
        let k = self.kinds[0];
        Some((
            QueryKind::from_u8(k & !HAS_ARGS)?,
            self.sns[0],
            k & HAS_ARGS != 0,
        ))
    }

    /// True if any queued entry has arguments in the table.
    pub fn has_args(&self) -> bool {
        self.kinds[..self.len()].iter().any(|k| k & HAS_ARGS != 0)
    }

    pub fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        self.kinds.copy_within(1.., 0);
        self.sns.copy_within(1.., 0);
        self.len -= 1;
        self.kinds[usize::from(self.len)] = 0;
        self.page = 0;
    }

    pub fn clear(&mut self) {
        self.kinds = [0; QUEUE];
        self.len = 0;
        self.page = 0;
    }
}

/// What a camera keeps that its answers report: recording (`RecordCmd`) and guard
/// (`GuardCmd`) state, per device.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DeviceState {
    pub recording: bool,
    pub guarded: bool,
}

/// The query being answered: which camera, what, and which page.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Front<'a> {
    pub index: u32,
    pub id: &'a DeviceId,
    pub kind: QueryKind,
    pub sn: u32,
    pub args: Args,
    pub page: u16,
    pub state: DeviceState,
}

impl Front<'_> {
    /// The ID the answer is for: the device, or its channel `args.target`.
    fn target(&self, cfg: &CameraConfig) -> DeviceId {
        let n = cfg.channels_of(self.index);
        if self.args.target == 0 {
            *self.id
        } else {
            self.id.channel(self.args.target, n.max(1))
        }
    }

    /// Items of a paged answer in all (None for an answer of one message).
    fn total(&self, cfg: &CameraConfig) -> Option<u32> {
        match self.kind {
            QueryKind::Catalog if self.args.target == 0 => Some(cfg.channels_of(self.index)),
            // A channel has no sub-devices.
            QueryKind::Catalog => Some(0),
            QueryKind::RecordInfo => Some(self.recordings(cfg).count()),
            _ => None,
        }
    }

    fn recordings(&self, cfg: &CameraConfig) -> Recordings {
        let range = RecordRange {
            start: self.args.a,
            end: self.args.b.max(self.args.a.saturating_add(1)),
        };
        let seed = self.target(cfg).number() as u64 ^ u64::from(cfg.run_id) << 40;
        Recordings::new(range, cfg.record_segment_s, seed)
    }

    /// True if pages follow the current one.
    pub fn more_pages(&self, cfg: &CameraConfig) -> bool {
        let per = cfg.catalog_page.max(1);
        self.total(cfg)
            .is_some_and(|t| (u32::from(self.page) + 1).saturating_mul(per) < t)
    }

    /// Writes the current page of the answer at `now` into `out`.
    pub fn write(&self, out: &mut Vec<u8>, cfg: &CameraConfig, now: Time) {
        let channels = cfg.channels_of(self.index);
        let charset = cfg.gb_version.charset();
        let target = self.target(cfg);
        let (sn, id) = (self.sn, self.id);
        let per = cfg.catalog_page.max(1);
        let first = u32::from(self.page).saturating_mul(per);
        let page = |total: u32| first.min(total)..first.saturating_add(per).min(total);
        match self.kind {
            QueryKind::Catalog => {
                let total = self.total(cfg).unwrap_or(0);
                let per_device = channels.max(1);
                let items = page(total).map(|i| {
                    let online = cfg.channel_flap.online(self.index, i + 1, total, now);
                    (i + 1, id.channel(i + 1, per_device), online)
                });
                manscdp::write_catalog(out, charset, &cfg.channel_name, sn, &target, total, items);
            }
            QueryKind::DeviceInfo => {
                let (kind, model, n): (&[u8], &[u8], u32) = if self.args.target != 0 {
                    (b"Camera", b"IPC-sim", 1)
                } else {
                    match id.device_type() {
                        DeviceType::Dvr => (b"DVR", b"DVR-sim", channels),
                        DeviceType::Nvr => (b"NVR", b"NVR-sim", channels),
                        _ if channels > 1 => (b"NVR", b"NVR-sim", channels),
                        _ => (b"IPC", b"IPC-sim", channels),
                    }
                };
                status::write_device_info(out, charset, sn, &target, kind, model, n);
            }
            QueryKind::DeviceStatus => {
                let t = crate::gb::time::DateTime::new(cfg.unix_ms(now), false);
                let online = self.args.target == 0
                    || cfg
                        .channel_flap
                        .online(self.index, self.args.target, channels, now);
                let st = Status {
                    online,
                    recording: self.state.recording,
                    device_time: t.as_bytes(),
                };
                let duty = if self.state.guarded {
                    Duty::OnDuty
                } else {
                    Duty::OffDuty
                };
                // A device lists its channels' guard state (at most a page of them); a
                // channel its own.
                let listed = if self.args.target == 0 {
                    1..channels.min(per).saturating_add(1)
                } else {
                    self.args.target..self.args.target + 1
                };
                let items = listed.map(|i| (id.channel(i, channels.max(1)), duty));
                status::write_device_status(out, charset, sn, &target, &st, items);
            }
            QueryKind::ConfigDownload => {
                let types = match self.args.a {
                    0 => ConfigTypes(ConfigTypes::BASIC),
                    t => ConfigTypes(t as u8),
                };
                let basic = BasicParam {
                    server_id: &cfg.server_id,
                    domain: cfg.domain.as_bytes(),
                    expires: cfg.expires,
                    heartbeat_interval: cfg.heartbeat().as_secs() as u32,
                    heartbeat_count: u32::from(cfg.heartbeat_misses),
                };
                status::write_config_download(out, charset, sn, &target, types, &basic);
            }
            QueryKind::RecordInfo => {
                let rec = self.recordings(cfg);
                let total = rec.count();
                let items = page(total).filter_map(|i| rec.get(i));
                let number = self.args.target.max(1);
                let name = &cfg.channel_name;
                // filter_map loses the exact size; every index below the count has a record.
                let items = Exact(items, page(total).len());
                write_record_info(out, charset, sn, &target, name, number, total, items);
            }
            QueryKind::HomePosition => q2022(out, cfg, sn, &target, Query2022::HomePosition),
            QueryKind::CruiseTrackList => q2022(out, cfg, sn, &target, Query2022::CruiseTrackList),
            QueryKind::CruiseTrack => {
                let n = u8::try_from(self.args.a).unwrap_or(u8::MAX);
                q2022(out, cfg, sn, &target, Query2022::CruiseTrack(n))
            }
            QueryKind::PtzPosition => q2022(out, cfg, sn, &target, Query2022::PtzPosition),
            QueryKind::SdCardStatus => q2022(out, cfg, sn, &target, Query2022::SdCardStatus),
            QueryKind::ControlResponse => {
                let c = control::Control::Ptz;
                control::write_control_response(out, charset, sn, &target, c, true)
            }
            QueryKind::ConfigResponse => {
                let c = control::Control::Config;
                control::write_control_response(out, charset, sn, &target, c, true)
            }
        }
    }
}

fn q2022(out: &mut Vec<u8>, cfg: &CameraConfig, sn: u32, target: &DeviceId, q: Query2022) {
    query2022::write_answer(out, cfg.gb_version.charset(), sn, target, q);
}

/// An iterator with a known length (the records of a page).
struct Exact<I>(I, usize);

impl<I: Iterator> Iterator for Exact<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        let v = self.0.next()?;
        self.1 = self.1.saturating_sub(1);
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, Some(self.1))
    }
}

impl<I: Iterator> ExactSizeIterator for Exact<I> {}
