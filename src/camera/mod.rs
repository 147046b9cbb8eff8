//! The emulated GB28181 device as a sans-IO state machine.
//!
//! A [`Camera`] is fed `now` (a [`Time`] on its host's clock, real or virtual) and events — start,
//! bytes received, timer fired, connection opened or closed, fault, stop — and answers through
//! an [`Outbox`]: bytes to send and where, connection actions, and one stats [`Record`] per
//! finished transaction. It never touches a socket, never reads a clock and holds no heap
//! buffer at rest (UDP retransmission copies live in the worker's [`pool::BufPool`] only while
//! a transaction is in flight), so a fleet of a million fits in memory and hours of protocol
//! run in milliseconds of simulated time.
//!
//! The rules a host keeps when driving a camera (inputs, draining the outbox, re-arming the
//! timer, time never going back) are written on [`Camera`], with an example;
//! [`driver::Fleet`] keeps them for every host.

pub mod channels;
pub mod credentials;
mod dialog_keys;
pub mod driver;
mod fsm;
pub mod invite;
pub mod media_link;
pub mod pool;
mod queries;
pub mod query_args;
mod request;
pub mod routes;
pub mod subscribe;
#[cfg(test)]
mod tests;
mod transaction;

pub use fsm::Camera;
pub use transaction::{T1, T2, TIMER_F};

use crate::clock::{Span, Time};
use crate::gb::{DeviceId, Devices, GbVersion, Ids};
use std::net::SocketAddr;
use std::sync::Arc;

/// Transport a camera uses to reach its server (the wire's own [`crate::sip::Transport`]).
pub use crate::sip::Transport;

/// Behaviour shared by every camera of a fleet.
#[derive(Clone, Debug)]
pub struct CameraConfig {
    /// The SIP server's 20-digit ID (Request-URI and To of requests to it).
    pub server_id: DeviceId,
    /// The SIP domain used in URIs (usually the first 10 digits of the server ID).
    pub domain: String,
    /// The password every camera authenticates with.
    pub password: String,
    /// UDP or TCP.
    pub transport: Transport,
    /// Registration expiry asked for, in seconds.
    pub expires: u32,
    /// When to refresh, in thousandths of the granted expiry (850 = at 85%).
    pub refresh_permille: u32,
    /// Wait after a failed registration or a lost server, in milliseconds (never shortened;
    /// read it as a [`Span`] through [`CameraConfig::retry_interval`]).
    pub retry_interval_ms: u64,
    /// Random extra wait added to each retry, up to this many thousandths of the interval.
    pub retry_jitter_permille: u32,
    /// Keepalive interval in milliseconds (read it as a [`Span`] through
    /// [`CameraConfig::heartbeat`]).
    pub heartbeat_ms: u64,
    /// Consecutive missed keepalives after which the server counts as offline.
    pub heartbeat_misses: u8,
    /// Channels listed in a Catalog response.
    pub channels: u32,
    /// What the channels are called in a Catalog response: this text and the channel's number
    /// (`Camera 1`); written in the charset of `gb_version`.
    pub channel_name: String,
    /// The GB/T 28181 edition the cameras follow: 2022 sends `X-GB-Ver: 3.0` on every
    /// REGISTER; the charset bodies declare and are written in is GB2312 (2016) or GB18030
    /// (2022).
    pub gb_version: GbVersion,
    /// Most Catalog items per response message.
    pub catalog_page: u32,
    /// How the channels go off line and back (`--channel-flap-rate`): Catalog answers and
    /// Catalog NOTIFYs report the status it gives.
    pub channel_flap: channels::Flap,
    /// The devices' own alarms (`--alarm-rate`, `--alarm-burst`), sent as NOTIFYs in Alarm
    /// subscriptions or as MESSAGEs (see [`subscribe`]).
    pub alarms: subscribe::Alarms,
    /// Thousandths of the fleet that report a faulty sub-device in every keepalive.
    pub fault_permille: u32,
    /// Length of the synthetic recordings a RecordInfo answer lists, in seconds
    /// (`--record-segment`): contiguous segments of this length, clipped to the asked range.
    pub record_segment_s: u32,
    /// How long a device stays down after a TeleBoot before registering again, in
    /// milliseconds (`--reboot-delay`; read it as a [`Span`] through
    /// [`CameraConfig::reboot_delay`]).
    pub reboot_delay_ms: u64,
    /// Send an unregister (Expires: 0) when stopped.
    pub unregister_on_stop: bool,
    /// Distinguishes this run's Call-IDs and tags from earlier runs against the same server.
    pub run_id: u32,
    /// User-Agent header value.
    pub user_agent: String,
    /// Wall-clock time (Unix ms) at the host clock's zero, for DeviceTime in answers (see
    /// [`CameraConfig::unix_ms`]).
    pub epoch_unix_ms: u64,
    /// Per-device identities (`run --devices`), by camera index: each camera's own password,
    /// and its channel count and transport where the file gives them. None: every camera
    /// uses `password`, `channels` and `transport`. Read them through
    /// [`password_of`](Self::password_of), [`channels_of`](Self::channels_of) and
    /// [`transport_of`](Self::transport_of), never the shared fields directly.
    pub identities: Option<Arc<Devices>>,
}

impl CameraConfig {
    /// Field defaults for a fleet registering with `server_id`.
    pub fn new(server_id: DeviceId) -> Self {
        CameraConfig {
            domain: String::from_utf8_lossy(server_id.domain()).into_owned(),
            server_id,
            password: "12345678".into(),
            transport: Transport::Udp,
            expires: 3600,
            refresh_permille: 850,
            retry_interval_ms: 60_000,
            retry_jitter_permille: 200,
            heartbeat_ms: 60_000,
            heartbeat_misses: 3,
            channels: 1,
            channel_name: "Camera".into(),
            gb_version: GbVersion::V2016,
            catalog_page: 20,
            channel_flap: channels::Flap::default(),
            alarms: subscribe::Alarms::default(),
            fault_permille: 0,
            record_segment_s: 1800,
            reboot_delay_ms: 10_000,
            unregister_on_stop: true,
            run_id: 1,
            user_agent: concat!("gbswarm/", env!("CARGO_PKG_VERSION")).into(),
            epoch_unix_ms: 0,
            identities: None,
        }
    }

    /// The password camera `index` authenticates with: its own from the device file, or the
    /// fleet's.
    pub fn password_of(&self, index: u32) -> &[u8] {
        self.identities
            .as_deref()
            .and_then(|d| d.password(index as usize))
            .unwrap_or(&self.password)
            .as_bytes()
    }

    /// The channels camera `index` lists: its own from the device file, or the fleet's.
    pub fn channels_of(&self, index: u32) -> u32 {
        self.identities
            .as_deref()
            .and_then(|d| d.channels(index as usize))
            .unwrap_or(self.channels)
    }

    /// The transport camera `index` uses: its own from the device file, or the fleet's.
    pub fn transport_of(&self, index: u32) -> Transport {
        self.identities
            .as_deref()
            .and_then(|d| d.transport(index as usize))
            .unwrap_or(self.transport)
    }

    /// The keepalive interval (at least a millisecond).
    pub fn heartbeat(&self) -> Span {
        Span::from_millis(self.heartbeat_ms.max(1))
    }

    /// How long a device stays down after a TeleBoot before it registers again.
    pub fn reboot_delay(&self) -> Span {
        Span::from_millis(self.reboot_delay_ms)
    }

    /// The wait after a failed registration or a lost server, before jitter.
    pub fn retry_interval(&self) -> Span {
        Span::from_millis(self.retry_interval_ms)
    }

    /// The wall-clock time (Unix ms) at host time `now`.
    pub fn unix_ms(&self, now: Time) -> u64 {
        self.epoch_unix_ms + now.as_millis()
    }
}

/// What a transaction was for; each kind has its own histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TxnKind {
    /// The whole first registration, challenge included.
    Register,
    /// A refresh of an existing registration (challenge included if any).
    Refresh,
    /// The unregistration (Expires: 0) at stop.
    Unregister,
    /// A keepalive MESSAGE.
    Keepalive,
    /// A MESSAGE answering a platform query.
    QueryResponse,
    /// A platform's INVITE, as the camera answered it: timed from its arrival to the ACK of
    /// the 200 (lag: to the 200's first send; service: the platform's ACK), or to the final
    /// error sent; no ACK by Timer H is a timeout. See [`invite::PlayTable::records`].
    Invite,
    /// The camera's own BYE (its source ended, no ACK came, the run stopped): from when it
    /// decided to end the session to the platform's final response; Timer F is a timeout.
    Bye,
    /// A NOTIFY in one of the device's subscriptions (Catalog, MobilePosition, Alarm): from
    /// when its event was due (the SUBSCRIBE, the interval's tick, the channel's change, the
    /// alarm) to the platform's final response; Timer F is a timeout. See [`subscribe`].
    Notify,
    /// An alarm the device sent as a MESSAGE to its registrar (no Alarm subscription): from
    /// the alarm's time to the final response.
    Alarm,
}

impl TxnKind {
    /// Every kind, in report order.
    pub const ALL: [TxnKind; 9] = [
        TxnKind::Register,
        TxnKind::Refresh,
        TxnKind::Unregister,
        TxnKind::Keepalive,
        TxnKind::QueryResponse,
        TxnKind::Invite,
        TxnKind::Bye,
        TxnKind::Notify,
        TxnKind::Alarm,
    ];

    /// Stable lowercase name for reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TxnKind::Register => "register",
            TxnKind::Refresh => "refresh",
            TxnKind::Unregister => "unregister",
            TxnKind::Keepalive => "keepalive",
            TxnKind::QueryResponse => "query_response",
            TxnKind::Invite => "invite",
            TxnKind::Bye => "bye",
            TxnKind::Notify => "notify",
            TxnKind::Alarm => "alarm",
        }
    }
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A final response with this status code (2xx = success). A 302 that was followed is
    /// not an outcome (see [`Record::redirected`]); one that could not be is.
    Status(u16),
    /// No final response in time (Timer F, or a keepalive still unanswered at the next tick).
    Timeout,
    /// The connection closed or the network refused the message.
    TransportError,
    /// Still pending when the camera was stopped or went offline.
    Abandoned,
}

/// One finished transaction, for the stats layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// What the transaction was for.
    pub kind: TxnKind,
    /// How it ended.
    pub outcome: Outcome,
    /// From when the request was due (not when it was sent) to its end: the latency a user
    /// of the server sees, corrected for coordinated omission.
    pub latency: Span,
    /// From when the request was due to when its first message was sent: the generator's own
    /// schedule lag (the whole latency if nothing was sent). `latency - lag` is the service
    /// time.
    pub lag: Span,
    /// UDP retransmissions sent.
    pub retransmits: u8,
    /// The request was redirected (a 302 followed to the server it names) and ended there:
    /// one transaction, timed from when the first request was due. A 302 that could not be
    /// followed is no redirect but this record's final status.
    pub redirected: bool,
}

/// Where to send bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// The camera's current registrar: the configured target, or the server a 302 named
    /// (see [`Camera::redirect`]).
    Server,
    /// Back to the peer whose request is being answered.
    Source,
}

/// One message to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub dest: Dest,
    /// Byte range in [`Outbox::data`].
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

/// A connection-level request to the engine (TCP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to the current registrar and call `handle_connected` (or
    /// `handle_transport_error`) when done.
    Connect,
    /// Close the camera's connection; no event is expected back.
    Close,
}

/// Per-worker counters of things that are not transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Responses matching no transaction in flight (late, duplicate or foreign).
    pub stray: u64,
    /// Messages that failed to parse or lacked what we need; dropped.
    pub malformed: u64,
    /// Transitions into the registered state.
    pub online: u64,
    /// Transitions out of it other than by unregistering.
    pub offline: u64,
    /// Platform queries received (retransmissions excluded).
    pub queries: u64,
    /// Retransmitted requests from the platform answered again.
    pub request_retransmits: u64,
    /// Device controls received, by command ([`crate::gb::control::Control::index`]; names
    /// in [`crate::gb::control::Control::NAMES`]); retransmissions excluded.
    pub controls: [u64; crate::gb::control::Control::KINDS],
    /// TeleBoots acted on: the device unregistered and registers again after
    /// [`CameraConfig::reboot_delay`].
    pub reboots: u64,
    /// Queries and controls refused with 400: a `DeviceID` that is neither the device nor one
    /// of its channels, or a RecordInfo without a valid time range.
    pub bad_queries: u64,
    /// Queries refused because the camera's queue was full.
    pub queries_refused: u64,
    /// UDP request retransmissions sent, counted as they are sent (a transaction's
    /// [`Record::retransmits`] is booked only when it ends).
    pub retransmissions: u64,
    /// 401/407 challenges the camera could not answer: no Digest challenge with a supported
    /// algorithm (MD5, SHA-256, SHA-512-256, or their `-sess` forms), realm and nonce. The
    /// transaction ends with the challenge's status; this says why.
    pub unanswerable_challenges: u64,
}

/// A 302 target interned in a worker's [`Redirects`] (its index plus one, so a camera's
/// `Option<RedirectId>` — none meaning the configured server — takes two bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RedirectId(std::num::NonZeroU16);

/// Redirect targets named by 302 responses, interned per worker so a camera stores a
/// [`RedirectId`].
#[derive(Clone, Debug, Default)]
pub struct Redirects {
    targets: Vec<(SocketAddr, DeviceId)>,
}

impl Redirects {
    /// At most this many distinct targets are remembered; more are treated as a failure.
    pub const MAX: usize = 4096;

    /// The handle of a target, adding it if new; none once [`MAX`](Self::MAX) are held.
    pub fn intern(&mut self, addr: SocketAddr, id: DeviceId) -> Option<RedirectId> {
        let index = match self.targets.iter().position(|t| *t == (addr, id)) {
            Some(i) => i,
            None if self.targets.len() < Self::MAX => {
                self.targets.push((addr, id));
                self.targets.len() - 1
            }
            None => return None,
        };
        let n = u16::try_from(index + 1).ok()?;
        std::num::NonZeroU16::new(n).map(RedirectId)
    }

    /// The target behind a handle.
    pub fn get(&self, r: RedirectId) -> Option<(SocketAddr, DeviceId)> {
        self.targets.get(usize::from(r.0.get() - 1)).copied()
    }
}

/// Everything a camera writes while handling one event; owned by the worker and reused.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Bytes of the messages in `sends`.
    pub data: Vec<u8>,
    /// Messages to send, in order.
    pub sends: Vec<Transmit>,
    /// Connection actions, in order.
    pub actions: Vec<Action>,
    /// Finished transactions.
    pub records: Vec<Record>,
    /// Event counters (never reset by the camera).
    pub counters: Counters,
    /// In-flight UDP request copies for retransmission.
    pub pool: pool::BufPool,
    /// Interned 302 targets.
    pub redirects: Redirects,
    /// Challenges to the cameras' MESSAGEs, reused by their next ones.
    pub credentials: credentials::Credentials,
    /// Arguments of the cameras' queued queries (channel, time range, ...).
    pub query_args: query_args::QueryArgs,
    pub(crate) msg: Vec<u8>,
    pub(crate) body: Vec<u8>,
    pub(crate) auth: Vec<u8>,
}

impl Outbox {
    /// Forgets the sends, actions and records of the last event (counters and pools stay).
    pub fn clear(&mut self) {
        self.data.clear();
        self.sends.clear();
        self.actions.clear();
        self.records.clear();
    }

    /// The bytes of one transmit.
    pub fn bytes(&self, t: &Transmit) -> &[u8] {
        &self.data[t.start..t.end]
    }

    pub(crate) fn send_msg(&mut self, dest: Dest) {
        let start = self.data.len();
        self.data.extend_from_slice(&self.msg);
        self.sends.push(Transmit {
            dest,
            start,
            end: self.data.len(),
        });
    }
}

/// Per-call context: the fleet's config, the camera's local address and the worker's outbox.
pub struct Env<'a> {
    /// Fleet-wide behaviour.
    pub cfg: &'a CameraConfig,
    /// The address this camera sends from (Via and Contact).
    pub local: SocketAddr,
    /// Where results go.
    pub out: &'a mut Outbox,
}

/// Which camera (by fleet index) a message from the network is for: a response carries the
/// index in its Via branch; a request names the device in its Request-URI, looked up in the
/// fleet's `ids` (a range, or a device file's sorted index; no allocation), or one of the
/// device's channels, looked up in `channels` ([`routes`]). Used to share one socket among
/// many cameras.
pub fn addressed_index(
    msg: &crate::sip::Message<'_, '_>,
    ids: &Ids,
    channels: &routes::ChannelRoutes,
) -> Option<u32> {
    if msg.is_request() {
        let uri = crate::sip::Uri::parse(msg.request_uri()?)?;
        let id = DeviceId::parse(uri.user?).ok()?;
        let k = ids.index_of(&id).or_else(|| channels.owner(ids, &id))?;
        u32::try_from(k).ok()
    } else {
        let (index, _) = request::parse_branch(msg.via()?.branch()?)?;
        Some(index)
    }
}
