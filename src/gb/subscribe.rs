//! The MANSCDP bodies a platform writes to subscribe to a device and to query its records,
//! and the few fields it reads back from NOTIFYs and paged Responses (GB/T 28181-2022 §9.7,
//! §9.11, A.2.4; the shapes wvp-GB28181-pro sends).
//!
//! - SUBSCRIBE bodies: `<Query><CmdType>Catalog|MobilePosition|Alarm</CmdType>...`, with
//!   `<Interval>` for MobilePosition and the priority, method and time window for Alarm.
//! - Queries: RecordInfo with a time window, and the plain Catalog and DeviceInfo queries.
//! - Readers: `SumNum`, the items a page lists, and the `Subscription-State` header.
//!
//! Writes into caller-owned buffers and reads borrowed bytes: never allocates, never keeps
//! state, never reads a clock (times come in as Unix milliseconds).

use super::DeviceId;
use super::manscdp::{element, open_root, tag_with};
use super::time::write_datetime;
use super::version::Charset;
use crate::sip::bytes::parse_decimal;
use crate::sip::write::push_u64;

/// What a subscription is to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Catalog changes (channels on or off line, added, removed).
    Catalog,
    /// The device's position every `Interval` seconds.
    MobilePosition,
    /// Alarms.
    Alarm,
}

impl EventKind {
    /// Every kind, in the order counters list them.
    pub const ALL: [EventKind; 3] = [
        EventKind::Catalog,
        EventKind::MobilePosition,
        EventKind::Alarm,
    ];

    /// The body's `CmdType` (what the device decides the kind by).
    pub fn cmd_type(self) -> &'static [u8] {
        match self {
            EventKind::Catalog => b"Catalog",
            EventKind::MobilePosition => b"MobilePosition",
            EventKind::Alarm => b"Alarm",
        }
    }

    /// The `Event` header's package, as wvp-GB28181-pro sends it: `Catalog`, else `presence`.
    pub fn event(self) -> &'static [u8] {
        match self {
            EventKind::Catalog => b"Catalog",
            EventKind::MobilePosition | EventKind::Alarm => b"presence",
        }
    }

    /// The name on the command line and in reports: `catalog`, `mobile-position`, `alarm`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Catalog => "catalog",
            EventKind::MobilePosition => "mobile-position",
            EventKind::Alarm => "alarm",
        }
    }

    /// The kind a `CmdType` names.
    pub fn of_cmd(cmd: &[u8]) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.cmd_type() == cmd)
    }

    /// Its index in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A query the platform sends as a MESSAGE out of any dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryKind {
    /// RecordInfo over a time window: paged Responses with `SumNum`.
    RecordInfo,
    /// Catalog: paged Responses with `SumNum`.
    Catalog,
    /// DeviceInfo: one Response.
    DeviceInfo,
}

impl QueryKind {
    /// The body's `CmdType`.
    pub fn cmd_type(self) -> &'static [u8] {
        match self {
            QueryKind::RecordInfo => b"RecordInfo",
            QueryKind::Catalog => b"Catalog",
            QueryKind::DeviceInfo => b"DeviceInfo",
        }
    }

    /// The name on the command line: `record-info`, `catalog`, `device-info`.
    pub fn name(self) -> &'static str {
        match self {
            QueryKind::RecordInfo => "record-info",
            QueryKind::Catalog => "catalog",
            QueryKind::DeviceInfo => "device-info",
        }
    }

    /// The kind a `CmdType` names.
    pub fn of_cmd(cmd: &[u8]) -> Option<QueryKind> {
        [
            QueryKind::RecordInfo,
            QueryKind::Catalog,
            QueryKind::DeviceInfo,
        ]
        .into_iter()
        .find(|k| k.cmd_type() == cmd)
    }
}

fn open_query(out: &mut Vec<u8>, charset: Charset, cmd: &[u8], sn: u32, device: &DeviceId) {
    open_root(out, charset, b"Query", cmd, sn, device);
}

/// What a SUBSCRIBE body asks besides its kind.
#[derive(Clone, Copy, Debug)]
pub struct SubscribeBody {
    /// MobilePosition: seconds between NOTIFYs.
    pub interval_s: u32,
    /// Alarm: the window's start and end, Unix milliseconds (written as GB28181 times, UTC).
    pub from_unix_ms: u64,
    /// See `from_unix_ms`.
    pub to_unix_ms: u64,
}

/// Writes the body of a SUBSCRIBE of `kind` to `device` with serial number `sn` into `out`
/// (cleared first): Catalog plain, MobilePosition with `<Interval>`, Alarm with every priority
/// (`0`: all), every method and the time window.
pub fn write_subscribe(
    out: &mut Vec<u8>,
    charset: Charset,
    kind: EventKind,
    sn: u32,
    device: &DeviceId,
    ask: &SubscribeBody,
) {
    open_query(out, charset, kind.cmd_type(), sn, device);
    match kind {
        EventKind::Catalog => {}
        EventKind::MobilePosition => {
            tag_with(out, b"Interval", |b| push_u64(b, u64::from(ask.interval_s)));
        }
        EventKind::Alarm => {
            tag_with(out, b"StartAlarmPriority", |b| b.push(b'0'));
            tag_with(out, b"EndAlarmPriority", |b| b.push(b'0'));
            tag_with(out, b"AlarmMethod", |b| b.push(b'0'));
            tag_with(out, b"StartAlarmTime", |b| {
                write_datetime(b, ask.from_unix_ms, false)
            });
            tag_with(out, b"EndAlarmTime", |b| {
                write_datetime(b, ask.to_unix_ms, false)
            });
        }
    }
    out.extend_from_slice(b"</Query>\r\n");
}

/// Writes a query of `kind` to `device` with serial number `sn` into `out` (cleared first);
/// RecordInfo asks for every record (`<Secrecy>0</Secrecy><Type>all</Type>`) between the
/// Unix milliseconds `from` and `to`.
pub fn write_query(
    out: &mut Vec<u8>,
    charset: Charset,
    kind: QueryKind,
    sn: u32,
    device: &DeviceId,
    (from, to): (u64, u64),
) {
    open_query(out, charset, kind.cmd_type(), sn, device);
    if kind == QueryKind::RecordInfo {
        tag_with(out, b"StartTime", |b| write_datetime(b, from, false));
        tag_with(out, b"EndTime", |b| write_datetime(b, to, false));
        tag_with(out, b"Secrecy", |b| b.push(b'0'));
        tag_with(out, b"Type", |b| b.extend_from_slice(b"all"));
    }
    out.extend_from_slice(b"</Query>\r\n");
}

/// The `SumNum` of a Response page: the total number of items over all its pages.
pub fn sum_num(body: &[u8]) -> Option<u32> {
    element(body, b"SumNum").and_then(parse_decimal)
}

/// The items a Response page lists (its `<Item>` elements).
pub fn items(body: &[u8]) -> u32 {
    memchr::memmem::find_iter(body, b"<Item>").count() as u32
}

/// A `Subscription-State` header's state (RFC 6665 §8.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubState {
    /// `active` or `pending`, with `expires` if given.
    Active(Option<u32>),
    /// `terminated`: the subscription is over.
    Terminated,
}

/// Reads a `Subscription-State` value (none or unreadable: active, as the NOTIFY's existence
/// says).
pub fn subscription_state(value: Option<&[u8]>) -> SubState {
    let Some(v) = value else {
        return SubState::Active(None);
    };
    let mut parts = v.split(|&b| b == b';');
    let state = crate::sip::bytes::trim(parts.next().unwrap_or(b""));
    if state.eq_ignore_ascii_case(b"terminated") {
        return SubState::Terminated;
    }
    let expires = parts.find_map(|p| {
        let (k, val) = p.split_at(p.iter().position(|&b| b == b'=')?);
        crate::sip::bytes::trim(k)
            .eq_ignore_ascii_case(b"expires")
            .then(|| parse_decimal(crate::sip::bytes::trim(&val[1..])))
            .flatten()
    });
    SubState::Active(expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gb::Manscdp;

    fn dev() -> DeviceId {
        DeviceId::parse(b"34020000001320000001").unwrap()
    }

    #[test]
    fn subscribe_bodies_carry_their_kind_and_what_it_asks() {
        let mut b = Vec::new();
        let ask = SubscribeBody {
            interval_s: 5,
            from_unix_ms: 0,
            to_unix_ms: 3_600_000,
        };
        write_subscribe(
            &mut b,
            Charset::Gb18030,
            EventKind::MobilePosition,
            7,
            &dev(),
            &ask,
        );
        let m = Manscdp::parse(&b).unwrap();
        assert_eq!((m.cmd_type, m.sn), (&b"MobilePosition"[..], Some(7)));
        assert_eq!(element(&b, b"Interval"), Some(&b"5"[..]));
        write_subscribe(&mut b, Charset::Gb2312, EventKind::Alarm, 8, &dev(), &ask);
        assert_eq!(
            element(&b, b"EndAlarmTime"),
            Some(&b"1970-01-01T01:00:00"[..])
        );
        assert!(b.starts_with(b"<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Query>"));
        write_subscribe(&mut b, Charset::Gb2312, EventKind::Catalog, 9, &dev(), &ask);
        assert_eq!(element(&b, b"Interval"), None);
        assert_eq!(EventKind::of_cmd(b"Alarm"), Some(EventKind::Alarm));
    }

    #[test]
    fn record_info_asks_for_a_window_of_every_record() {
        let mut b = Vec::new();
        write_query(
            &mut b,
            Charset::Gb2312,
            QueryKind::RecordInfo,
            3,
            &dev(),
            (86_400_000, 2 * 86_400_000),
        );
        let m = Manscdp::parse(&b).unwrap();
        assert_eq!(m.cmd_type, b"RecordInfo");
        assert_eq!(m.device_id, Some(&dev().as_bytes()[..]));
        assert_eq!(element(&b, b"StartTime"), Some(&b"1970-01-02T00:00:00"[..]));
        assert_eq!(element(&b, b"EndTime"), Some(&b"1970-01-03T00:00:00"[..]));
        assert_eq!(element(&b, b"Type"), Some(&b"all"[..]));
        write_query(
            &mut b,
            Charset::Gb2312,
            QueryKind::DeviceInfo,
            3,
            &dev(),
            (0, 0),
        );
        assert_eq!(element(&b, b"StartTime"), None);
    }

    #[test]
    fn pages_and_subscription_states_are_read() {
        let page = b"<Response><CmdType>RecordInfo</CmdType><SumNum>12</SumNum>\
<RecordList Num=\"2\"><Item><Name/></Item><Item><Name/></Item></RecordList></Response>";
        assert_eq!((sum_num(page), items(page)), (Some(12), 2));
        assert_eq!(subscription_state(None), SubState::Active(None));
        assert_eq!(
            subscription_state(Some(b"active;expires=3599")),
            SubState::Active(Some(3599))
        );
        assert_eq!(
            subscription_state(Some(b"terminated;reason=timeout")),
            SubState::Terminated
        );
    }
}
