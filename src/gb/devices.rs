//! Per-device identities from a file: `gbswarm run --devices FILE` (each camera's ID, password
//! and, optionally, its channel count and transport, as SIPp's `-inf` injection files give each
//! call its own fields) and `gbswarm serve --passwords FILE` (who may register, with which
//! password) read the same format through the one parser here.
//!
//! # Format
//!
//! One device per line: `device-id,password[,channels[,transport]]`.
//!
//! - Fields are separated by commas (CSV); a line with no comma is split on whitespace instead
//!   (`device-id password`, the form `serve --passwords` has always read).
//! - A field may be quoted (`"a,b"`, `""` for a quote inside), so a password may hold commas,
//!   `#` or spaces; unquoted fields are trimmed.
//! - `#` starts a comment (outside quotes); blank lines are skipped; a first line whose first
//!   field is `device-id` (or `device_id`, `id`) is a header and skipped.
//! - `channels` (0 to 9,999,999) and `transport` (`udp` or `tcp`) may be empty or left out:
//!   the run's `--channels` and `--transport` apply. `serve` reads only the ID and password.
//! - A device listed twice, a bad ID, an empty password or a bad value is refused with its line
//!   number.
//!
//! The table keeps what a fleet needs and nothing per row beyond it (an ID, an offset into
//! one string of passwords, a channel count, a transport byte, a slot of the sorted index:
//! about 33 bytes plus the password), so a million devices take tens of megabytes, and looking
//! up a device by ID (routing a request on a shared socket) is a binary search, without
//! allocating.

use super::id::{DeviceId, IdRange, shard_bounds};
use crate::sip::Transport;
use std::sync::Arc;

/// The most channels one device may list: a channel ID keeps 7 digits of serial.
pub const MAX_CHANNELS: u32 = 9_999_999;

const NO_CHANNELS: u32 = u32::MAX;

/// Why a device file was refused: the line (from 1) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicesError {
    /// Line number from 1 (0 when the file as a whole is at fault).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for DevicesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for DevicesError {}

/// Devices read from a file: IDs, passwords and optional per-device channels and transports,
/// by row (the fleet index of a camera is its row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Devices {
    ids: Vec<DeviceId>,
    /// End offset of row `i`'s password in `secrets` (row `i` starts where `i - 1` ends).
    ends: Vec<u32>,
    secrets: String,
    channels: Vec<u32>,
    /// 0: the run's transport; 1 UDP; 2 TCP.
    transports: Vec<u8>,
    /// Row numbers ordered by ID, for [`Devices::index_of`].
    sorted: Vec<u32>,
}

/// The fields of one line (at most five are kept: one more than allowed, to refuse it).
fn split(line: &str) -> Result<Vec<String>, &'static str> {
    let comma = {
        let mut quoted = false;
        let mut found = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                '#' if !quoted => break,
                ',' if !quoted => {
                    found = true;
                    break;
                }
                _ => {}
            }
        }
        found
    };
    let is_sep = |c: char| if comma { c == ',' } else { c.is_whitespace() };
    let mut fields = Vec::new();
    let mut cur = String::new();
    let (mut in_quotes, mut was_quoted, mut after_quote) = (false, false, false);
    let mut chars = line.chars().peekable();
    let finish = |cur: &mut String, was_quoted: bool, fields: &mut Vec<String>| {
        let f = if was_quoted {
            std::mem::take(cur)
        } else {
            let t = cur.trim().to_string();
            cur.clear();
            t
        };
        fields.push(f);
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    in_quotes = false;
                    after_quote = true;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        if c == '#' {
            break;
        }
        if is_sep(c) {
            if !comma && cur.is_empty() && !was_quoted {
                continue; // runs of whitespace are one separator
            }
            finish(&mut cur, was_quoted, &mut fields);
            (was_quoted, after_quote) = (false, false);
            if fields.len() > 4 {
                return Ok(fields);
            }
        } else if after_quote {
            if !c.is_whitespace() {
                return Err("text after a closing quote (put the whole field in quotes)");
            }
        } else if c == '"' && cur.trim().is_empty() {
            cur.clear();
            (in_quotes, was_quoted) = (true, true);
        } else {
            cur.push(c);
        }
    }
    if in_quotes {
        return Err("a quote is not closed");
    }
    if comma || !cur.is_empty() || was_quoted {
        finish(&mut cur, was_quoted, &mut fields);
    }
    Ok(fields)
}

fn is_header(first: &str) -> bool {
    ["device-id", "device_id", "deviceid", "id"]
        .iter()
        .any(|h| first.eq_ignore_ascii_case(h))
}

impl Devices {
    /// Reads the table from `text` (see the [module docs](self) for the format).
    pub fn parse(text: &str) -> Result<Devices, DevicesError> {
        let mut d = Devices::default();
        let mut lines: Vec<u32> = Vec::new();
        let err = |line: usize, message: String| DevicesError { line, message };
        for (n, raw) in text.lines().enumerate() {
            let line_no = n + 1;
            let fields = split(raw).map_err(|m| err(line_no, m.to_string()))?;
            if fields.is_empty() || (fields.len() == 1 && fields[0].is_empty()) {
                continue;
            }
            if d.ids.is_empty() && is_header(&fields[0]) {
                continue;
            }
            if !(2..=4).contains(&fields.len()) {
                return Err(err(
                    line_no,
                    format!(
                        "{} field{}; expected `device-id,password[,channels[,transport]]`",
                        if fields.len() > 4 {
                            "more than 4".to_string()
                        } else {
                            fields.len().to_string()
                        },
                        if fields.len() == 1 { "" } else { "s" }
                    ),
                ));
            }
            let id = DeviceId::parse(fields[0].as_bytes())
                .map_err(|e| err(line_no, format!("`{}` is not a device ID: {e}", fields[0])))?;
            let password = &fields[1];
            if password.is_empty() {
                return Err(err(line_no, format!("the password of {id} is empty")));
            }
            let channels = match fields.get(2).map(String::as_str) {
                None | Some("") => NO_CHANNELS,
                Some(c) => match c.parse::<u32>() {
                    Ok(v) if v <= MAX_CHANNELS => v,
                    _ => {
                        return Err(err(
                            line_no,
                            format!("`{c}` is not a channel count (0 to {MAX_CHANNELS})"),
                        ));
                    }
                },
            };
            let transport = match fields.get(3).map(String::as_str) {
                None | Some("") => 0,
                Some(t) if t.eq_ignore_ascii_case("udp") => 1,
                Some(t) if t.eq_ignore_ascii_case("tcp") => 2,
                Some(t) => {
                    return Err(err(
                        line_no,
                        format!("`{t}` is not a transport (udp or tcp)"),
                    ));
                }
            };
            if d.ids.len() >= u32::MAX as usize
                || d.secrets.len() + password.len() > u32::MAX as usize
            {
                return Err(err(line_no, "too many devices for one file".into()));
            }
            d.ids.push(id);
            d.secrets.push_str(password);
            d.ends.push(d.secrets.len() as u32);
            d.channels.push(channels);
            d.transports.push(transport);
            lines.push(line_no as u32);
        }
        if d.ids.is_empty() {
            return Err(err(0, "no devices listed".into()));
        }
        d.index();
        if let Some(w) = d
            .sorted
            .windows(2)
            .find(|w| d.ids[w[0] as usize] == d.ids[w[1] as usize])
        {
            let (a, b) = (lines[w[0] as usize], lines[w[1] as usize]);
            let (first, again) = (a.min(b), a.max(b));
            return Err(err(
                again as usize,
                format!(
                    "device {} is listed again (first on line {first})",
                    d.ids[w[0] as usize]
                ),
            ));
        }
        d.shrink();
        Ok(d)
    }

    /// Reads `path`; errors name the file and the line (`devices.csv:7: ...`).
    pub fn load(path: &std::path::Path) -> Result<Devices, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Devices::parse(&text).map_err(|e| {
            if e.line == 0 {
                format!("{}: {}", path.display(), e.message)
            } else {
                format!("{}:{}: {}", path.display(), e.line, e.message)
            }
        })
    }

    fn index(&mut self) {
        let ids = &self.ids;
        let mut sorted: Vec<u32> = (0..ids.len() as u32).collect();
        // Stable, so of two equal IDs the earlier row comes first.
        sorted.sort_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]));
        self.sorted = sorted;
    }

    fn shrink(&mut self) {
        self.ids.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.secrets.shrink_to_fit();
        self.channels.shrink_to_fit();
        self.transports.shrink_to_fit();
        self.sorted.shrink_to_fit();
    }

    /// How many devices.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True if there are none (a parsed table never is).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ID of row `i`.
    pub fn id(&self, i: usize) -> Option<DeviceId> {
        self.ids.get(i).copied()
    }

    /// Every ID, in row order.
    pub fn ids(&self) -> &[DeviceId] {
        &self.ids
    }

    /// The password of row `i`.
    pub fn password(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.secrets.get(start..end)
    }

    /// Row `i`'s own channel count, if the file gave one.
    pub fn channels(&self, i: usize) -> Option<u32> {
        self.channels.get(i).copied().filter(|&c| c != NO_CHANNELS)
    }

    /// Row `i`'s own transport, if the file gave one.
    pub fn transport(&self, i: usize) -> Option<Transport> {
        match self.transports.get(i) {
            Some(1) => Some(Transport::Udp),
            Some(2) => Some(Transport::Tcp),
            _ => None,
        }
    }

    /// How many devices use UDP and how many TCP, when those without one use `default`.
    pub fn transport_counts(&self, default: Transport) -> (u64, u64) {
        let tcp = (0..self.len())
            .filter(|&i| self.transport(i).unwrap_or(default) == Transport::Tcp)
            .count() as u64;
        (self.len() as u64 - tcp, tcp)
    }

    /// True if any row names its own transport.
    pub fn names_transports(&self) -> bool {
        self.transports.iter().any(|&t| t != 0)
    }

    /// The row of `id`, by binary search (no allocation).
    pub fn index_of(&self, id: &DeviceId) -> Option<usize> {
        let pos = self
            .sorted
            .binary_search_by(|&r| self.ids[r as usize].cmp(id))
            .ok()?;
        Some(self.sorted[pos] as usize)
    }

    /// Rows `start..start + len` as a table of their own (row `start` becomes row 0).
    pub fn slice(&self, start: usize, len: usize) -> Devices {
        let end = start.saturating_add(len).min(self.len());
        let start = start.min(end);
        let base = if start == 0 {
            0
        } else {
            self.ends[start - 1] as usize
        };
        let top = if end == 0 {
            0
        } else {
            self.ends[end - 1] as usize
        };
        let mut d = Devices {
            ids: self.ids[start..end].to_vec(),
            ends: self.ends[start..end]
                .iter()
                .map(|&e| e - base as u32)
                .collect(),
            secrets: self.secrets[base..top].to_string(),
            channels: self.channels[start..end].to_vec(),
            transports: self.transports[start..end].to_vec(),
            sorted: Vec::new(),
        };
        d.index();
        d
    }

    /// Slice `k` of `n` (0-based), split as [`IdRange::shard`] splits a range: contiguous,
    /// disjoint, covering, sizes differing by at most one.
    pub fn shard(&self, k: u64, n: u64) -> Devices {
        let (start, len) = shard_bounds(self.len() as u64, k, n);
        self.slice(start as usize, len as usize)
    }

    /// A password per device, for a registrar.
    pub fn password_map(&self) -> std::collections::HashMap<DeviceId, String> {
        (0..self.len())
            .filter_map(|i| Some((self.ids[i], self.password(i)?.to_string())))
            .collect()
    }
}

/// A fleet's camera IDs: a range (`--id-prefix`, `--first-id`, `--cameras`) or the rows of a
/// device file (`--devices`). The index of a camera is its position here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ids {
    /// Consecutive IDs.
    Range(IdRange),
    /// The rows of a device file, with their passwords, channels and transports.
    Listed(Arc<Devices>),
}

impl From<IdRange> for Ids {
    fn from(r: IdRange) -> Ids {
        Ids::Range(r)
    }
}

impl Ids {
    /// How many cameras.
    pub fn len(&self) -> u64 {
        match self {
            Ids::Range(r) => r.len(),
            Ids::Listed(d) => d.len() as u64,
        }
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th ID (from 0).
    pub fn get(&self, i: u64) -> Option<DeviceId> {
        match self {
            Ids::Range(r) => r.get(i),
            Ids::Listed(d) => d.id(usize::try_from(i).ok()?),
        }
    }

    /// Every ID in order.
    pub fn iter(&self) -> impl Iterator<Item = DeviceId> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The index of `id`, if it is one of these (no allocation).
    pub fn index_of(&self, id: &DeviceId) -> Option<u64> {
        match self {
            Ids::Range(r) => r.index_of(id),
            Ids::Listed(d) => d.index_of(id).map(|i| i as u64),
        }
    }

    /// Slice `k` of `n` (0-based): disjoint, covering, sizes differing by at most one.
    pub fn shard(&self, k: u64, n: u64) -> Ids {
        match self {
            Ids::Range(r) => Ids::Range(r.shard(k, n)),
            Ids::Listed(d) => Ids::Listed(Arc::new(d.shard(k, n))),
        }
    }

    /// The device table, when the IDs came from a file.
    pub fn devices(&self) -> Option<&Arc<Devices>> {
        match self {
            Ids::Range(_) => None,
            Ids::Listed(d) => Some(d),
        }
    }
}

#[cfg(test)]
mod tests;
