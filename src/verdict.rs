//! A run's objectives and its verdict: `--slo register.p99<=50ms --slo failures<=0.1%`, judged
//! against the run's totals, so a CI job can gate on the exit status.
//!
//! An objective is `[KIND.][CLOCK.]METRIC OP VALUE`:
//! - KIND: `register`, `refresh`, `unregister`, `keepalive`, `query_response`, `invite`,
//!   `bye`, `notify`, `alarm`; none = every kind together.
//! - CLOCK (latency metrics only): `latency` (default: from the due time, what a user of the
//!   server sees), `service` (from the send to the answer) or `lag` (from the due time to the
//!   send: the generator's own delay).
//! - METRIC: a latency `p50`, `p90`, `p95`, `p99`, `p99.9`, `max`, `mean` compared with a
//!   duration (`50ms`, `1.5s`, `800us`); or a count `sent` (ended), `ok`, `failures` (rejected,
//!   timed out or lost to transport errors), `rejected`, `timeouts`, `transport_errors`,
//!   `redirected`, `pending` (at stop), compared with a number or a share of `sent` (`0.1%`).
//! - OP: `<=`, `<`, `>=`, `>`, `==`.
//!
//! With no objective given, [`default_objectives`] holds: no failed registration, no
//! timeout, and at least one registration answered 2xx. This module never prints or exits.

use crate::camera::TxnKind;
use crate::stats::{KindStats, Snapshot};
use hdrhistogram::Histogram;
use std::fmt;

/// Which latency clock a latency metric reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// From the due time to the final answer.
    Latency,
    /// From the first send to the final answer.
    Service,
    /// From the due time to the first send.
    Lag,
}

/// What an objective measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A latency quantile (0.5 = median, 1.0 = max) of a clock, in µs.
    Quantile(Clock, f64),
    /// The mean of a clock, in µs.
    Mean(Clock),
    /// A transaction count.
    Count(Count),
}

/// A transaction count an objective may bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// Every transaction that ended.
    Sent,
    /// Answered 2xx.
    Ok,
    /// Rejected, timed out or lost.
    Failures,
    /// Answered with a final non-2xx status.
    Rejected,
    /// No final answer in time.
    Timeouts,
    /// Connection lost or datagram refused.
    TransportErrors,
    /// Redirected and followed.
    Redirected,
    /// Still pending when the run stopped.
    Pending,
}

const COUNTS: [(&str, Count); 8] = [
    ("sent", Count::Sent),
    ("ok", Count::Ok),
    ("failures", Count::Failures),
    ("rejected", Count::Rejected),
    ("timeouts", Count::Timeouts),
    ("transport_errors", Count::TransportErrors),
    ("redirected", Count::Redirected),
    ("pending", Count::Pending),
];

const QUANTILES: [(&str, f64); 6] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("max", 1.0),
];

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `==`
    Eq,
}

impl Op {
    const ALL: [(&'static str, Op); 5] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Op::Le => measured <= limit,
            Op::Lt => measured < limit,
            Op::Ge => measured >= limit,
            Op::Gt => measured > limit,
            Op::Eq => measured == limit,
        }
    }
}

/// The right-hand side of an objective.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    /// Microseconds (latency metrics).
    Micros(f64),
    /// A number of transactions.
    Number(f64),
    /// A share of the transactions that ended, 0 to 1 (written as a percentage).
    Share(f64),
}

/// One objective, as written and as understood.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    /// The text it was parsed from, normalised (no spaces), for reports.
    pub text: String,
    /// The kind it reads; none = every kind together.
    pub kind: Option<TxnKind>,
    /// What it measures.
    pub metric: Metric,
    /// How it compares.
    pub op: Op,
    /// With what.
    pub limit: Limit,
}

/// The objectives that hold when none is given.
pub fn default_objectives() -> Vec<Objective> {
    ["register.failures==0", "timeouts==0", "register.ok>=1"]
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect()
}

fn parse_duration_us(s: &str) -> Option<f64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let us = match unit {
        "us" | "µs" => n,
        "ms" => n * 1e3,
        "s" => n * 1e6,
        _ => return None,
    };
    (us.is_finite() && us >= 0.0).then_some(us)
}

impl std::str::FromStr for Objective {
    type Err = String;

    /// Parses `[KIND.][CLOCK.]METRIC OP VALUE`; the error says what is wrong, for the user.
    fn from_str(s: &str) -> Result<Objective, String> {
        let text: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let at = text
            .find(['<', '>', '='])
            .ok_or_else(|| format!("`{s}` has no comparison (use <=, <, >=, > or ==)"))?;
        let (left, rest) = text.split_at(at);
        let (op_text, op) = Op::ALL
            .iter()
            .find(|(t, _)| rest.starts_with(t))
            .copied()
            .ok_or_else(|| {
                format!("`{s}`: `{rest}` is not a comparison (use <=, <, >=, > or ==)")
            })?;
        let value = &rest[op_text.len()..];
        let mut parts: Vec<&str> = left.split('.').collect();
        // `p99.9` holds a dot of its own.
        if parts.len() >= 2 && parts[parts.len() - 2] == "p99" && parts[parts.len() - 1] == "9" {
            parts.pop();
            let n = parts.len();
            parts[n - 1] = "p99.9";
        }
        let mut kind = None;
        if parts.len() > 1
            && let Some(k) = TxnKind::ALL.iter().find(|k| k.as_str() == parts[0])
        {
            kind = Some(*k);
            parts.remove(0);
        }
        let mut clock = None;
        if parts.len() > 1 {
            clock = Some(match parts[0] {
                "latency" => Clock::Latency,
                "service" => Clock::Service,
                "lag" => Clock::Lag,
                other => {
                    return Err(format!(
                        "`{s}`: `{other}` is neither a kind (register, refresh, unregister, keepalive, query_response, invite, bye, notify, alarm) nor a clock (latency, service, lag)"
                    ));
                }
            });
            parts.remove(0);
        }
        let [name] = parts[..] else {
            return Err(format!(
                "`{s}` is not [KIND.][CLOCK.]METRIC (e.g. register.p99<=50ms)"
            ));
        };
        let metric = if let Some((_, q)) = QUANTILES.iter().find(|(n, _)| *n == name) {
            Metric::Quantile(clock.unwrap_or(Clock::Latency), *q)
        } else if name == "mean" {
            Metric::Mean(clock.unwrap_or(Clock::Latency))
        } else if let Some((_, c)) = COUNTS.iter().find(|(n, _)| *n == name) {
            if clock.is_some() {
                return Err(format!("`{s}`: a count has no clock; drop it"));
            }
            Metric::Count(*c)
        } else {
            return Err(format!(
                "`{s}`: unknown metric `{name}` (use p50, p90, p95, p99, p99.9, max, mean, sent, ok, failures, rejected, timeouts, transport_errors, redirected or pending)"
            ));
        };
        let limit = match metric {
            Metric::Quantile(..) | Metric::Mean(_) => {
                Limit::Micros(parse_duration_us(value).ok_or_else(|| {
                    format!("`{s}`: `{value}` is not a duration (use e.g. 50ms, 1.5s, 800us)")
                })?)
            }
            Metric::Count(_) => match value.strip_suffix('%') {
                Some(p) => match p.parse::<f64>() {
                    Ok(v) if (0.0..=100.0).contains(&v) => Limit::Share(v / 100.0),
                    _ => {
                        return Err(format!(
                            "`{s}`: `{value}` is not a percentage from 0% to 100%"
                        ));
                    }
                },
                None => match value.parse::<u64>() {
                    Ok(v) => Limit::Number(v as f64),
                    Err(_) => {
                        return Err(format!(
                            "`{s}`: `{value}` is not a count or a percentage (use e.g. 0, 10 or 0.1%)"
                        ));
                    }
                },
            },
        };
        Ok(Objective {
            text,
            kind,
            metric,
            op,
            limit,
        })
    }
}

/// An objective judged against a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// The objective.
    pub objective: Objective,
    /// Whether the run met it.
    pub held: bool,
    /// What was measured, in the objective's unit (`1.23 ms`, `12`, `0.41% (3 of 731)`);
    /// `no samples` for a latency with nothing timed.
    pub measured: String,
}

impl fmt::Display for Judgement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (measured {})",
            self.objective.text,
            if self.held { "held" } else { "MISSED" },
            self.measured
        )
    }
}

fn count(st: &KindStats, c: Count) -> u64 {
    match c {
        Count::Sent => st.total(),
        Count::Ok => st.succeeded(),
        Count::Failures => st.rejected() + st.timeouts + st.transport_errors,
        Count::Rejected => st.rejected(),
        Count::Timeouts => st.timeouts,
        Count::TransportErrors => st.transport_errors,
        Count::Redirected => st.redirected,
        Count::Pending => st.abandoned,
    }
}

fn clock_of(st: &KindStats, c: Clock) -> &Histogram<u64> {
    match c {
        Clock::Latency => &st.latency,
        Clock::Service => &st.service,
        Clock::Lag => &st.lag,
    }
}

/// Judges one objective against a run's totals.
pub fn judge(o: &Objective, total: &Snapshot) -> Judgement {
    let kinds: Vec<&KindStats> = match o.kind {
        Some(k) => vec![total.kind(k)],
        None => total.kinds.iter().collect(),
    };
    let (value, measured) = match o.metric {
        Metric::Count(c) => {
            let n: u64 = kinds.iter().map(|k| count(k, c)).sum();
            match o.limit {
                Limit::Share(_) => {
                    let sent: u64 = kinds.iter().map(|k| k.total()).sum();
                    let share = if sent == 0 {
                        0.0
                    } else {
                        n as f64 / sent as f64
                    };
                    (
                        Some(share),
                        format!("{:.3}% ({n} of {sent})", share * 100.0),
                    )
                }
                _ => (Some(n as f64), n.to_string()),
            }
        }
        Metric::Quantile(c, _) | Metric::Mean(c) => {
            let mut h = crate::stats::snapshot::new_histogram();
            for k in &kinds {
                // Same bounds everywhere: an add cannot fail.
                let _ = h.add(clock_of(k, c));
            }
            if h.is_empty() {
                (None, "no samples".to_string())
            } else {
                let us = match o.metric {
                    Metric::Quantile(_, q) if q >= 1.0 => h.max() as f64,
                    Metric::Quantile(_, q) => h.value_at_quantile(q) as f64,
                    _ => h.mean(),
                };
                (Some(us), format!("{:.2} ms", us / 1000.0))
            }
        }
    };
    let limit = match o.limit {
        Limit::Micros(v) | Limit::Number(v) | Limit::Share(v) => v,
    };
    // A latency objective with nothing timed is not met: there is nothing to vouch for.
    let held = value.is_some_and(|v| o.op.holds(v, limit));
    Judgement {
        objective: o.clone(),
        held,
        measured,
    }
}

/// Judges every objective, in order.
pub fn judge_all(objectives: &[Objective], total: &Snapshot) -> Vec<Judgement> {
    objectives.iter().map(|o| judge(o, total)).collect()
}

/// The objectives a run is judged by, from those given in order (the profile's, then the
/// flags'): a later objective replaces an earlier one on the same left side (`register.p99`),
/// so a flag overrides the profile.
pub fn settle(given: Vec<Objective>) -> Vec<Objective> {
    let left = |o: &Objective| o.text.split(['<', '>', '=']).next().map(str::to_string);
    let mut out: Vec<Objective> = Vec::new();
    for o in given {
        out.retain(|p| left(p) != left(&o));
        out.push(o);
    }
    out
}

/// The objectives a run is judged by: those given, or [`default_objectives`] if none was.
pub fn or_default(given: &[Objective]) -> Vec<Objective> {
    if given.is_empty() {
        default_objectives()
    } else {
        given.to_vec()
    }
}

#[cfg(test)]
mod tests;
