//! The live view on stderr: one line a second that fits the terminal, redrawn in place; a plain
//! line every 10 s when stderr is not a terminal.
//!
//! Every number on it is of the last second (rates are rates) or a gauge of now (cameras by
//! state, transactions in flight); retransmissions count as they are sent, so a hung server
//! shows at once. A percentile with no sample reads `-`. Nothing here measures anything.

use crate::camera::TxnKind;
use crate::stats::Snapshot;
use crate::stats::series::Second;
use std::io::Write;

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Cameras are still being started.
    Ramp,
    /// Every camera started; the load is steady.
    Steady,
    /// The run is unregistering and waiting for the last answers.
    Stopping,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Ramp => "ramp",
            Phase::Steady => "steady",
            Phase::Stopping => "stopping",
        }
    }
}

/// What one line shows.
pub struct View<'a> {
    /// Seconds since the start.
    pub t_s: u64,
    /// The planned duration, seconds.
    pub total_s: u64,
    /// The phase.
    pub phase: Phase,
    /// That second's numbers.
    pub sec: &'a Second,
    /// That second's full measurements (for percentiles over every kind).
    pub snap: &'a Snapshot,
}

fn ms(us: Option<u64>) -> String {
    us.map_or("-".into(), |us| format!("{:.2}", us as f64 / 1000.0))
}

/// The pieces of a line, most important first; [`fit`] keeps as many as the width allows.
pub fn pieces(v: &View<'_>) -> Vec<String> {
    let g = &v.sec.gauges;
    let k = |kind: TxnKind| v.sec.kind(kind);
    let mut all = crate::stats::snapshot::new_histogram();
    let mut codes: Vec<(u16, u64)> = Vec::new();
    for st in &v.snap.kinds {
        let _ = all.add(&st.latency);
        for &(c, n) in &st.statuses {
            match codes.iter_mut().find(|(x, _)| *x == c) {
                Some(e) => e.1 += n,
                None => codes.push((c, n)),
            }
        }
    }
    codes.sort_unstable();
    let q = |p: f64| (!all.is_empty()).then(|| all.value_at_quantile(p));
    let failed: u64 = v.sec.kinds.iter().map(|s| s.failed()).sum();
    let timeouts: u64 = v.sec.kinds.iter().map(|s| s.timeouts).sum();
    let redirected: u64 = v.sec.kinds.iter().map(|s| s.redirected).sum();
    let mut p = vec![
        format!("[{} {}/{}s]", v.phase.as_str(), v.t_s, v.total_s),
        format!(
            "online {} registering {} offline {}",
            g.registered,
            g.registering,
            g.offline()
        ),
        format!(
            "reg {}/s ka {}/s",
            k(TxnKind::Register).ok + k(TxnKind::Refresh).ok,
            k(TxnKind::Keepalive).ok
        ),
        format!("failed {failed}/s timeouts {timeouts}/s"),
        format!("p50 {} p99 {} ms", ms(q(0.5)), ms(q(0.99))),
        format!(
            "in flight {} retrans {}/s",
            g.in_flight, v.sec.retransmissions
        ),
    ];
    if redirected > 0 {
        p.push(format!("redirected {redirected}/s"));
    }
    if !codes.is_empty() {
        let list: Vec<String> = codes.iter().map(|(c, n)| format!("{c}:{n}")).collect();
        p.push(format!("codes {}", list.join(" ")));
    }
    p
}

/// Joins pieces with ` | ` while the line stays under `width` characters (the first piece
/// always, cut if it must be).
pub fn fit(pieces: &[String], width: usize) -> String {
    let mut line = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let extra = if i == 0 { 0 } else { 3 } + piece.chars().count();
        if i > 0 && line.chars().count() + extra > width {
            break;
        }
        if i > 0 {
            line.push_str(" | ");
        }
        line.push_str(piece);
    }
    line.chars().take(width.max(1)).collect()
}

/// The terminal's width in columns, if stderr is one.
fn terminal_width() -> Option<usize> {
    let ws = rustix::termios::tcgetwinsize(std::io::stderr()).ok()?;
    (ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// The live view's state.
pub struct Progress {
    tty: bool,
    last_plain: Option<u64>,
    drawn: bool,
}

impl Progress {
    /// A view on stderr; `tty` redraws one line in place, otherwise a plain line every 10 s.
    pub fn new(tty: bool) -> Progress {
        Progress {
            tty,
            last_plain: None,
            drawn: false,
        }
    }

    /// Shows second `v.t_s`.
    pub fn update(&mut self, v: &View<'_>) {
        let pieces = pieces(v);
        let mut err = std::io::stderr().lock();
        if self.tty {
            // One column short of the width: a line that fills it would wrap on some terminals.
            let width = terminal_width().unwrap_or(80).saturating_sub(1);
            let _ = write!(err, "\r\x1b[2K{}", fit(&pieces, width));
            let _ = err.flush();
            self.drawn = true;
        } else if self.last_plain.is_none_or(|t| v.t_s >= t + 10) {
            let _ = writeln!(err, "{}", pieces.join(" | "));
            self.last_plain = Some(v.t_s);
        }
    }

    /// Leaves the live line in place and moves below it.
    pub fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Outcome, Record};
    use crate::clock::Span;

    fn view_of(snap: &Snapshot, phase: Phase) -> Vec<String> {
        let sec = Second::of(12, snap);
        pieces(&View {
            t_s: 12,
            total_s: 60,
            phase,
            sec: &sec,
            snap,
        })
    }

    #[test]
    fn a_quiet_second_reads_dash_and_a_hung_server_shows_its_retransmissions() {
        let mut s = Snapshot::default();
        s.gauges.started = 100;
        s.gauges.registered = 60;
        s.gauges.registering = 30;
        s.gauges.in_flight = 40;
        s.counters.retransmissions = 75;
        let p = view_of(&s, Phase::Ramp);
        assert_eq!(p[0], "[ramp 12/60s]");
        assert_eq!(p[1], "online 60 registering 30 offline 10");
        assert!(p.contains(&"p50 - p99 - ms".to_string()), "{p:?}");
        assert!(
            p.contains(&"in flight 40 retrans 75/s".to_string()),
            "{p:?}"
        );
    }

    #[test]
    fn rates_are_of_the_second_and_codes_are_listed() {
        let mut s = Snapshot::default();
        for code in [200, 200, 403] {
            s.record(&Record {
                kind: TxnKind::Register,
                outcome: Outcome::Status(code),
                latency: Span::from_micros(1500),
                lag: Span::ZERO,
                redirected: false,
                retransmits: 0,
            });
        }
        let p = view_of(&s, Phase::Steady);
        assert!(p.contains(&"reg 2/s ka 0/s".to_string()), "{p:?}");
        assert!(p.contains(&"failed 1/s timeouts 0/s".to_string()), "{p:?}");
        assert!(p.contains(&"p50 1.50 p99 1.50 ms".to_string()), "{p:?}");
        assert_eq!(p.last().unwrap(), "codes 200:2 403:1");
    }

    #[test]
    fn the_line_fits_the_width_keeping_the_first_pieces() {
        let pieces: Vec<String> = ["[steady 5/60s]", "online 10", "reg 3/s", "p50 1.00 ms"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            fit(&pieces, 80),
            "[steady 5/60s] | online 10 | reg 3/s | p50 1.00 ms"
        );
        assert_eq!(fit(&pieces, 40), "[steady 5/60s] | online 10 | reg 3/s");
        assert_eq!(fit(&pieces, 20), "[steady 5/60s]");
        assert_eq!(fit(&pieces, 8), "[steady ");
        for w in 1..90 {
            assert!(fit(&pieces, w).chars().count() <= w);
        }
    }
}
