//! Durations as profiles and flags write them: seconds (`60`) or a number with a unit
//! (`500ms`, `20s`, `5m`, `1h`), parsed with an error that says what is allowed. It never
//! validates what a duration is for; the keys that take one do.

use serde::Deserialize;
use std::time::Duration;

/// A duration written as seconds (`60`) or with a unit (`500ms`, `20s`, `5m`, `1h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "DurationRepr")]
pub struct Span(pub Duration);

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationRepr {
    Secs(u64),
    Float(f64),
    Text(String),
}

impl TryFrom<DurationRepr> for Span {
    type Error = String;
    fn try_from(r: DurationRepr) -> Result<Self, String> {
        match r {
            DurationRepr::Secs(s) => Ok(Span(Duration::from_secs(s))),
            DurationRepr::Float(f) if f.is_finite() && f >= 0.0 => {
                Ok(Span(Duration::from_secs_f64(f)))
            }
            DurationRepr::Float(f) => Err(format!("{f} is not a duration")),
            DurationRepr::Text(t) => t.parse(),
        }
    }
}

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (use 30, 30s, 500ms, 5m or 1h)"))?;
        let secs = match unit.trim() {
            "" | "s" => n,
            "ms" => n / 1000.0,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{s}` (use ms, s, m or h)"
                ));
            }
        };
        if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
            return Err(format!("`{s}` is out of range"));
        }
        Ok(Span(Duration::from_secs_f64(secs)))
    }
}
