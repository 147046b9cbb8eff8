//! `gbswarm serve`'s defences as flags: failed-authentication bans per device ID and per
//! source address, and the per-source rate limit, and how they become a [`GuardConfig`].

use super::Error;
use crate::clock;
use crate::profile::Span;
use crate::server::guard::{BanRule, GuardConfig, Over, RateLimit};
use std::net::SocketAddr;

/// Failures within a window (`COUNT/WINDOW`), or none (`off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold(Option<(u32, clock::Span)>);

/// `5/60s` or `off`.
fn parse_threshold(s: &str) -> Result<Threshold, String> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(Threshold(None));
    }
    let (count, window) = s.split_once('/').ok_or_else(|| {
        format!("`{s}` is not COUNT/WINDOW (e.g. 5/60s: five failures within 60 s) or off")
    })?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{count}` in `{s}` is not a count of at least 1"))?;
    let window: Span = window.parse()?;
    if window.0.is_zero() {
        return Err(format!("the window of `{s}` is empty"));
    }
    Ok(Threshold(Some((
        count,
        clock::Span::from_duration(window.0),
    ))))
}

/// Requests per second, or none (`off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate(Option<u32>);

/// `1000/s`, `1000` or `off`.
fn parse_rate(s: &str) -> Result<Rate, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(Rate(None));
    }
    t.strip_suffix("/s")
        .unwrap_or(t)
        .parse::<u32>()
        .ok()
        .filter(|&n| n > 0)
        .map(|n| Rate(Some(n)))
        .ok_or_else(|| format!("`{s}` is not a rate such as 1000/s, or off"))
}

/// A platform whose banning `--ban-like` reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BanLike {
    /// Monibuca v4: a device is banned for 600 s after 3 failures; no source bans.
    Monibuca,
}

/// The defence flags of `gbswarm serve`.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Defences (failed-authentication bans, per-source rate limit)")]
pub struct GuardArgs {
    /// Ban a device ID after COUNT failed digest verifications within WINDOW (counted from
    /// the first), or `off`. A banned device is refused (403, or silence with --ban-silent)
    /// even with the right password until the ban ends. A device that keeps GB28181's 60 s
    /// retry interval fails at most once a window and is never banned; a password guesser is.
    #[arg(long, default_value = "5/60s", value_name = "COUNT/WINDOW|off", value_parser = parse_threshold)]
    ban_after: Threshold,
    /// How long a device ban lasts.
    #[arg(long, default_value = "600s", value_name = "SPAN")]
    ban_for: Span,
    /// Ban a source address after COUNT failed digest verifications from it within WINDOW,
    /// whatever the device IDs, or `off`: stops guessing a shared password over ever new IDs.
    /// A correct fleet fails none, however large; keep it above --ban-after.
    #[arg(long, default_value = "100/60s", value_name = "COUNT/WINDOW|off", value_parser = parse_threshold)]
    source_ban_after: Threshold,
    /// How long a source ban lasts.
    #[arg(long, default_value = "600s", value_name = "SPAN")]
    source_ban_for: Span,
    /// Ban as a real platform does, for platform-behaviour tests: `monibuca` bans a device for
    /// 600 s after 3 failures (within 600 s) and never a source. Replaces --ban-after,
    /// --ban-for, --source-ban-after and --source-ban-for.
    #[arg(long, value_enum, value_name = "PLATFORM", conflicts_with_all = ["ban_after", "ban_for", "source_ban_after", "source_ban_for"])]
    ban_like: Option<BanLike>,
    /// Refuse a banned device or source with silence instead of 403: it cannot tell a ban
    /// from lost datagrams.
    #[arg(long)]
    ban_silent: bool,
    /// Limit the requests each source address may send, RATE/s (a token bucket per address,
    /// like Kamailio's pike), or `off`; above it requests get 503 with Retry-After (or are
    /// dropped with --rate-limit-drop) and are counted. [default: off when --listen is a
    /// loopback address, 1000/s otherwise; a load generator on another host sending more from
    /// one address needs `--rate-limit off` or a higher rate]
    #[arg(long, value_name = "RATE/s|off", value_parser = parse_rate)]
    rate_limit: Option<Rate>,
    /// Requests a source may send at once under --rate-limit [default: two seconds' worth].
    #[arg(long, value_name = "N")]
    rate_burst: Option<u32>,
    /// Drop requests over --rate-limit instead of answering 503: nothing is sent back to a
    /// spoofed source.
    #[arg(long)]
    rate_limit_drop: bool,
}

impl GuardArgs {
    /// The defences for a registrar listening on `listen`, or the first flag that cannot be
    /// used.
    pub fn config(&self, listen: SocketAddr) -> Result<GuardConfig, Error> {
        let bad = |key: &'static str, message: String| Error::Invalid {
            command: "serve",
            key,
            message,
        };
        let rule = |t: Threshold, ban_for: Span, key: &'static str| {
            let Some((after, window)) = t.0 else {
                return Ok(None);
            };
            if ban_for.0.is_zero() {
                return Err(bad(
                    key,
                    "a ban of 0 s bans nothing; turn the ban off with `off` instead".into(),
                ));
            }
            Ok(Some(BanRule {
                after,
                window,
                ban_for: clock::Span::from_duration(ban_for.0),
            }))
        };
        let mut cfg = match self.ban_like {
            Some(BanLike::Monibuca) => GuardConfig::monibuca(),
            None => GuardConfig {
                device: rule(self.ban_after, self.ban_for, "ban-for")?,
                source: rule(self.source_ban_after, self.source_ban_for, "source-ban-for")?,
                ..GuardConfig::new()
            },
        };
        cfg.silent = self.ban_silent;
        let rate = match self.rate_limit {
            Some(Rate(r)) => r,
            None if listen.ip().is_loopback() => None,
            None => Some(RateLimit::DEFAULT.per_second),
        };
        cfg.rate = match rate {
            Some(per_second) => Some(RateLimit {
                per_second,
                burst: match self.rate_burst {
                    Some(0) => return Err(bad("rate-burst", "a burst of 0 admits nothing".into())),
                    Some(b) => b,
                    None => per_second.saturating_mul(2),
                },
                over: if self.rate_limit_drop {
                    Over::Drop
                } else {
                    Over::Reject
                },
            }),
            None if self.rate_burst.is_some() || self.rate_limit_drop => {
                return Err(bad(
                    if self.rate_burst.is_some() {
                        "rate-burst"
                    } else {
                        "rate-limit-drop"
                    },
                    format!(
                        "there is no rate limit to apply it to ({}); give --rate-limit RATE/s",
                        if self.rate_limit.is_some() {
                            "--rate-limit off"
                        } else {
                            "--listen is a loopback address, where it is off by default"
                        }
                    ),
                ));
            }
            None => None,
        };
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn guard(listen: &str, args: &[&str]) -> Result<GuardConfig, Error> {
        let cli = Cli::try_parse_from(["gbswarm", "serve", "--listen", listen].iter().chain(args))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::Serve(s) = cli.command else {
            unreachable!()
        };
        s.config().map(|c| c.registrar.guard)
    }

    #[test]
    fn defaults_ban_devices_and_sources_and_limit_only_beyond_loopback() {
        let g = guard("127.0.0.1:5060", &[]).unwrap();
        assert_eq!(g, GuardConfig::new());
        assert_eq!(g.device, Some(GuardConfig::DEVICE_RULE));
        assert_eq!(g.rate, None, "off on loopback");
        let g = guard("0.0.0.0:5060", &[]).unwrap();
        assert_eq!(g.rate, Some(RateLimit::DEFAULT));
        let g = guard("0.0.0.0:5060", &["--rate-limit", "off"]).unwrap();
        assert_eq!(g.rate, None, "disabled on purpose");
        let g = guard(
            "127.0.0.1:5060",
            &["--rate-limit", "50/s", "--rate-limit-drop"],
        )
        .unwrap();
        assert_eq!(
            g.rate,
            Some(RateLimit {
                per_second: 50,
                burst: 100,
                over: Over::Drop
            })
        );
    }

    #[test]
    fn ban_flags_and_the_monibuca_mode() {
        let g = guard(
            "127.0.0.1:5060",
            &[
                "--ban-after",
                "3/10m",
                "--ban-for",
                "1h",
                "--source-ban-after",
                "off",
                "--ban-silent",
            ],
        )
        .unwrap();
        assert_eq!(
            g.device,
            Some(BanRule {
                after: 3,
                window: clock::Span::from_secs(600),
                ban_for: clock::Span::from_secs(3600)
            })
        );
        assert_eq!((g.source, g.silent), (None, true));
        let g = guard("127.0.0.1:5060", &["--ban-like", "monibuca"]).unwrap();
        assert_eq!((g.device, g.source), (Some(BanRule::MONIBUCA), None));
        let g = guard(
            "127.0.0.1:5060",
            &["--ban-after", "off", "--source-ban-after", "off"],
        );
        assert_eq!(g.unwrap().device, None);
    }

    #[test]
    fn unusable_values_are_refused_naming_the_flag() {
        let parse_err = |args: &[&str]| {
            Cli::try_parse_from(["gbswarm", "serve"].iter().chain(args))
                .unwrap_err()
                .to_string()
        };
        let e = parse_err(&["--ban-after", "5"]);
        assert!(e.contains("`5` is not COUNT/WINDOW"), "{e}");
        let e = parse_err(&["--ban-after", "0/60s"]);
        assert!(e.contains("not a count of at least 1"), "{e}");
        let e = parse_err(&["--rate-limit", "fast"]);
        assert!(e.contains("`fast` is not a rate such as 1000/s"), "{e}");
        let e = parse_err(&["--ban-like", "monibuca", "--ban-after", "2/1s"]);
        assert!(e.contains("cannot be used with"), "{e}");
        let e = guard("127.0.0.1:5060", &["--rate-burst", "10"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("invalid `rate-burst`: there is no rate limit"),
            "{e}"
        );
        let e = guard("127.0.0.1:5060", &["--ban-for", "0s"]).unwrap_err();
        assert!(e.to_string().contains("invalid `ban-for`"), "{e}");
    }
}
