//! `gbswarm serve`'s subscription and query flags (`--subscribe`, `--query` and their rates)
//! and how they become a [`SubscribeConfig`]: values checked here, every refusal naming its
//! flag (exit 2).

use super::Error;
use crate::gb::subscribe::{EventKind, QueryKind};
use crate::profile::Span;
use crate::server::subscribe::SubscribeConfig;
use std::net::SocketAddr;

/// Flags of `gbswarm serve` that subscribe to and query the registered devices.
#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// Subscribe to every device that registers, as wvp-GB28181-pro does (each worker those
    /// it registered; over TCP down their connection): one SUBSCRIBE per device and kind,
    /// `catalog` (Event: Catalog), `mobile-position[:SECONDS]` (Event: presence, asking a
    /// NOTIFY every SECONDS, default 5) and `alarm` (Event: presence), sent at
    /// --subscribe-rate, retransmitted over UDP, refreshed in the dialog at 85% of the expiry
    /// the device granted; a subscription that fails or is terminated is made again 30 s
    /// later. Every NOTIFY is answered (200, or 481 outside a known subscription) and counted
    /// by kind, with the time from the SUBSCRIBE to its 200, from the 200 to the first NOTIFY
    /// and, for mobile-position, each NOTIFY's lateness against the previous one plus the
    /// interval (the NOTIFY a refresh is owed restarts that schedule). Alarm MESSAGEs sent outside a subscription are answered 200 and counted too.
    /// Figures go to --stats (a `subscribe:` line), the summary (`gbswarm serve: subscribe
    /// ...`) and --metrics.
    #[arg(long, value_delimiter = ',', value_name = "KIND[:SECONDS],...")]
    subscribe: Vec<String>,
    /// First SUBSCRIBEs per second, over all workers (refreshes go when due).
    #[arg(long, default_value_t = 200, requires = "subscribe", value_name = "N")]
    subscribe_rate: u32,
    /// The expiry each SUBSCRIBE asks (whole seconds, at least 1).
    #[arg(
        long,
        default_value = "3600s",
        requires = "subscribe",
        value_name = "DURATION"
    )]
    subscribe_expires: Span,
    /// Query the registered devices at --query-rate, round robin, the kinds given in turn:
    /// `record-info` (RecordInfo over the last --query-span), `catalog`, `device-info`. Each
    /// query is a MESSAGE retransmitted over UDP until its final response; the device's
    /// Response MESSAGEs (answered 200) are matched by SN and DeviceID and their items summed
    /// until SumNum. A query not fully answered 30 s after it was due counts as incomplete (or
    /// as a timeout with no final response at all); at most 4096 are outstanding per worker.
    /// Figures go to --stats (a `query:` line), the summary (`gbswarm serve: query ...`) and
    /// --metrics.
    #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
    query: Vec<String>,
    /// Queries per second, over all workers.
    #[arg(long, default_value_t = 10, requires = "query", value_name = "N")]
    query_rate: u32,
    /// How far back a RecordInfo query asks, ending now (wall-clock time, UTC).
    #[arg(
        long,
        default_value = "24h",
        requires = "query",
        value_name = "DURATION"
    )]
    query_span: Span,
}

/// Default seconds between MobilePosition NOTIFYs.
const DEFAULT_INTERVAL_S: u32 = 5;

fn bad(key: &'static str, message: String) -> Error {
    Error::Invalid {
        command: "serve",
        key,
        message,
    }
}

/// One `--subscribe` item: its kind and the interval it gives (mobile-position only).
fn parse_kind(item: &str) -> Result<(EventKind, Option<u32>), Error> {
    let (name, interval) = match item.split_once(':') {
        Some((n, i)) => (n.trim(), Some(i.trim())),
        None => (item.trim(), None),
    };
    let kind = EventKind::ALL
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            bad(
                "subscribe",
                format!(
                    "`{item}` is not a subscription (use catalog, mobile-position[:SECONDS] or alarm)"
                ),
            )
        })?;
    let Some(interval) = interval else {
        return Ok((kind, None));
    };
    if kind != EventKind::MobilePosition {
        return Err(bad(
            "subscribe",
            format!("`{item}`: only mobile-position takes an interval"),
        ));
    }
    match interval.parse::<u32>() {
        Ok(s) if s >= 1 => Ok((kind, Some(s))),
        _ => Err(bad(
            "subscribe",
            format!("`{item}`: the interval is whole seconds, at least 1 (mobile-position:5)"),
        )),
    }
}

impl SubscribeArgs {
    /// The subscribe driver's configuration with `--subscribe` or `--query` (`None` with
    /// neither), or the first flag that cannot be used; `listen` is where the platform is.
    pub fn config(&self, listen: SocketAddr) -> Result<Option<SubscribeConfig>, Error> {
        if self.subscribe.is_empty() && self.query.is_empty() {
            return Ok(None);
        }
        let mut kinds = Vec::new();
        let mut interval_s = DEFAULT_INTERVAL_S;
        for item in &self.subscribe {
            let (kind, interval) = parse_kind(item)?;
            if kinds.contains(&kind) {
                return Err(bad(
                    "subscribe",
                    format!("`{}` is given twice", kind.name()),
                ));
            }
            kinds.push(kind);
            interval_s = interval.unwrap_or(interval_s);
        }
        let mut queries = Vec::new();
        for item in &self.query {
            let q = [
                QueryKind::RecordInfo,
                QueryKind::Catalog,
                QueryKind::DeviceInfo,
            ]
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(item.trim()))
            .ok_or_else(|| {
                bad(
                    "query",
                    format!("`{item}` is not a query (use record-info, catalog or device-info)"),
                )
            })?;
            if queries.contains(&q) {
                return Err(bad("query", format!("`{}` is given twice", q.name())));
            }
            queries.push(q);
        }
        if listen.ip().is_unspecified() {
            let flag = if kinds.is_empty() {
                "--query"
            } else {
                "--subscribe"
            };
            return Err(bad(
                "listen",
                format!(
                    "{flag} needs a --listen address devices can reach, not {listen}: the Via and Contact name it"
                ),
            ));
        }
        if self.subscribe_rate == 0 {
            return Err(bad(
                "subscribe-rate",
                "--subscribe-rate 0 would never subscribe: give at least 1 per second".into(),
            ));
        }
        let expires = self.subscribe_expires.0;
        if expires.as_secs() < 1 || expires.subsec_nanos() != 0 || expires.as_secs() > 1 << 31 {
            return Err(bad(
                "subscribe-expires",
                format!(
                    "--subscribe-expires {:?} is not whole seconds from 1 s (a SUBSCRIBE's Expires is whole seconds; 0 would end the subscription)",
                    expires
                ),
            ));
        }
        if self.query_rate == 0 {
            return Err(bad(
                "query-rate",
                "--query-rate 0 would never query: give at least 1 per second".into(),
            ));
        }
        if self.query_span.0.is_zero() {
            return Err(bad(
                "query-span",
                "--query-span 0 asks for no time at all: give a duration such as 24h".into(),
            ));
        }
        Ok(Some(SubscribeConfig {
            kinds,
            interval_s,
            rate: self.subscribe_rate,
            expires_s: expires.as_secs() as u32,
            queries,
            query_rate: self.query_rate,
            query_span: crate::clock::Span::from_duration(self.query_span.0),
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use crate::gb::subscribe::{EventKind, QueryKind};
    use clap::Parser;

    fn config(a: &[&str]) -> Result<Option<crate::server::subscribe::SubscribeConfig>, String> {
        let cli = Cli::try_parse_from(["gbswarm", "serve"].iter().chain(a))
            .map_err(|e| format!("clap {}: {e}", e.exit_code()))?;
        let Command::Serve(s) = cli.command else {
            unreachable!()
        };
        let listen = s.config().map_err(|e| e.to_string())?.listen;
        s.subscribe_config(listen).map_err(|e| {
            assert_eq!(e.exit_code(), 2);
            e.to_string()
        })
    }

    #[test]
    fn subscribe_and_query_flags_are_read() {
        let c = config(&[
            "--subscribe",
            "catalog,mobile-position:7,alarm",
            "--subscribe-rate",
            "50",
            "--subscribe-expires",
            "600s",
            "--query",
            "record-info,device-info",
            "--query-rate",
            "3",
            "--query-span",
            "2h",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            c.kinds,
            [
                EventKind::Catalog,
                EventKind::MobilePosition,
                EventKind::Alarm
            ]
        );
        assert_eq!((c.interval_s, c.rate, c.expires_s), (7, 50, 600));
        assert_eq!(c.queries, [QueryKind::RecordInfo, QueryKind::DeviceInfo]);
        assert_eq!((c.query_rate, c.query_span.as_secs()), (3, 7200));
        let d = config(&["--subscribe", "mobile-position"])
            .unwrap()
            .unwrap();
        assert_eq!((d.interval_s, d.rate, d.expires_s), (5, 200, 3600));
        assert!(d.queries.is_empty());
        let q = config(&["--query", "catalog"]).unwrap().unwrap();
        assert!(q.kinds.is_empty());
        assert_eq!((q.query_rate, q.query_span.as_secs()), (10, 86_400));
        assert!(config(&[]).unwrap().is_none());
    }

    #[test]
    fn bad_values_are_refused_naming_the_flag() {
        for (flags, text) in [
            (
                &["--subscribe", "presence"][..],
                "invalid `subscribe`: `presence` is not a subscription",
            ),
            (
                &["--subscribe", "alarm:5"],
                "only mobile-position takes an interval",
            ),
            (&["--subscribe", "mobile-position:0"], "at least 1"),
            (&["--subscribe", "mobile-position:x"], "whole seconds"),
            (
                &["--subscribe", "catalog,catalog"],
                "`catalog` is given twice",
            ),
            (
                &["--subscribe", "alarm", "--subscribe-rate", "0"],
                "invalid `subscribe-rate`",
            ),
            (
                &["--subscribe", "alarm", "--subscribe-expires", "0s"],
                "invalid `subscribe-expires`",
            ),
            (
                &["--subscribe", "alarm", "--subscribe-expires", "1.5s"],
                "invalid `subscribe-expires`",
            ),
            (&["--query", "ptz"], "invalid `query`: `ptz` is not a query"),
            (
                &["--query", "catalog", "--query-rate", "0"],
                "invalid `query-rate`",
            ),
            (
                &["--query", "record-info", "--query-span", "0s"],
                "invalid `query-span`",
            ),
            (
                &["--subscribe", "alarm", "--listen", "0.0.0.0:5060"],
                "invalid `listen`: --subscribe needs",
            ),
        ] {
            let e = config(flags).unwrap_err();
            assert!(e.contains(text), "{flags:?}: {e}");
            assert!(e.starts_with("gbswarm serve: invalid `"), "{e}");
        }
        for flags in [
            &["--subscribe-rate", "5"][..],
            &["--query-rate", "5"],
            &["--query-span", "1h"],
            &["--subscribe-expires", "60s"],
            &["--subscribe", "alarm", "--subscribe-rate", "-1"],
        ] {
            let e = config(flags).unwrap_err();
            assert!(e.starts_with("clap 2:"), "{flags:?}: {e}");
        }
    }
}
