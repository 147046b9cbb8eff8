//! Time as every layer sees it: [`Time`], a point on a host's monotonic clock in microseconds
//! since that clock's zero, and [`Span`], a length of time in microseconds; [`Clock`] is the
//! one place a host loop reads the real clock.
//!
//! The sans-IO cores (camera, registrar) and the timer wheel take `Time` values and never read
//! a clock themselves, so a simulation can feed them virtual time. Both types are one `u64`,
//! so they cost nothing over the bare integers they replace, and arithmetic saturates rather
//! than wrapping or panicking.

use std::ops::{Add, AddAssign, Div, Mul, Sub};
use std::time::{Duration, Instant};

/// A point in time: microseconds since the host clock's zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(u64);

/// A length of time in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(u64);

impl Time {
    /// The clock's zero.
    pub const ZERO: Time = Time(0);
    /// Later than any time a run reaches ("never").
    pub const MAX: Time = Time(u64::MAX);

    /// The time `us` microseconds after zero.
    pub const fn from_micros(us: u64) -> Time {
        Time(us)
    }

    /// The time `ms` milliseconds after zero.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms.saturating_mul(1000))
    }

    /// Microseconds since zero.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since zero (rounded down).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }

    /// Whole seconds since zero (rounded down).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub const fn since(self, earlier: Time) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }

    /// `self - span`, never before zero.
    pub const fn minus(self, span: Span) -> Time {
        Time(self.0.saturating_sub(span.0))
    }

    /// The first whole multiple of `step` at or after `self` (`self` for a zero step; the last
    /// multiple below [`Time::MAX`] where the next would overflow).
    pub const fn round_up(self, step: Span) -> Time {
        if step.0 == 0 {
            return self;
        }
        match self.0.checked_next_multiple_of(step.0) {
            Some(t) => Time(t),
            None => Time(self.0 / step.0 * step.0),
        }
    }
}

impl Span {
    /// No time at all.
    pub const ZERO: Span = Span(0);

    /// `us` microseconds.
    pub const fn from_micros(us: u64) -> Span {
        Span(us)
    }

    /// `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Span {
        Span(ms.saturating_mul(1000))
    }

    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Span {
        Span(s.saturating_mul(1_000_000))
    }

    /// `s` seconds given as a float, truncated to whole microseconds (negative or NaN gives
    /// zero, too large saturates).
    pub fn from_secs_f64(s: f64) -> Span {
        Span((s * 1e6) as u64)
    }

    /// The span of a [`Duration`] (saturating at about 584,000 years).
    pub fn from_duration(d: Duration) -> Span {
        Span(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// Microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Whole milliseconds (rounded down).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }

    /// Whole seconds (rounded down).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// `self * n`, saturating.
    pub const fn times(self, n: u64) -> Span {
        Span(self.0.saturating_mul(n))
    }

    /// `p` thousandths of `self`, rounded down (`permille(850)` is 85%).
    pub const fn permille(self, p: u32) -> Span {
        Span(self.0.saturating_mul(p as u64) / 1000)
    }

    /// As a [`Duration`].
    pub const fn to_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }
}

impl Add<Span> for Time {
    type Output = Time;
    fn add(self, s: Span) -> Time {
        Time(self.0.saturating_add(s.0))
    }
}

impl AddAssign<Span> for Time {
    fn add_assign(&mut self, s: Span) {
        *self = *self + s;
    }
}

impl Sub<Time> for Time {
    type Output = Span;
    /// Saturating: a later `rhs` gives zero.
    fn sub(self, rhs: Time) -> Span {
        self.since(rhs)
    }
}

impl Add for Span {
    type Output = Span;
    fn add(self, s: Span) -> Span {
        Span(self.0.saturating_add(s.0))
    }
}

/// `span - other`, saturating at zero (a span is never negative).
impl Sub for Span {
    type Output = Span;
    fn sub(self, s: Span) -> Span {
        Span(self.0.saturating_sub(s.0))
    }
}

/// `span * n`, saturating (the same as [`Span::times`]).
impl Mul<u64> for Span {
    type Output = Span;
    fn mul(self, n: u64) -> Span {
        self.times(n)
    }
}

/// `n * span`, saturating, so a test reads `Time::ZERO + 10 * S`.
impl Mul<Span> for u64 {
    type Output = Span;
    fn mul(self, s: Span) -> Span {
        s.times(self)
    }
}

/// `span / n`, rounded down; a zero `n` gives zero rather than a panic.
impl Div<u64> for Span {
    type Output = Span;
    fn div(self, n: u64) -> Span {
        Span(self.0.checked_div(n).unwrap_or(0))
    }
}

/// A host's clock: the monotonic [`Instant`] of its zero and the Unix wall-clock time then,
/// so a [`Time`] converts to the Unix milliseconds a `Date` header needs without another
/// clock read.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    zero: Instant,
    zero_unix_ms: u64,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Clock {
        Clock::from_zero(Instant::now())
    }

    /// A clock whose zero is `zero` (hosts that share one epoch).
    pub fn from_zero(zero: Instant) -> Clock {
        let unix_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Clock {
            zero,
            zero_unix_ms: unix_now.saturating_sub(zero.elapsed().as_millis() as u64),
        }
    }

    /// The current time.
    pub fn now(&self) -> Time {
        Time(u64::try_from(self.zero.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    /// The Unix time (ms) at the clock's zero.
    pub fn zero_unix_ms(&self) -> u64 {
        self.zero_unix_ms
    }

    /// The Unix time (ms) at `t`.
    pub fn unix_ms(&self, t: Time) -> u64 {
        self.zero_unix_ms + t.as_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_millis(5);
        assert_eq!(t.as_micros(), 5000);
        assert_eq!((t + Span::from_secs(1)).as_millis(), 1005);
        assert_eq!(Time::ZERO - t, Span::ZERO);
        assert_eq!(t - Time::ZERO, Span::from_millis(5));
        assert_eq!(Time::MAX + Span::from_secs(1), Time::MAX);
        assert_eq!(t.minus(Span::from_secs(1)), Time::ZERO);
        assert_eq!(Span::from_millis(3).times(4), Span::from_millis(12));
        assert_eq!(3 * Span::from_millis(4), Span::from_millis(4) * 3);
        assert_eq!(u64::MAX * Span::from_secs(1), Span::from_micros(u64::MAX));
        assert_eq!(Span::from_secs(600).permille(850), Span::from_secs(510));
        assert_eq!(Span::from_secs(100) / 3, Span::from_micros(33_333_333));
        assert_eq!(Span::from_secs(1) / 0, Span::ZERO);
        assert_eq!(Span::from_micros(999).permille(1), Span::ZERO);
        assert_eq!(Span::from_secs_f64(1.5), Span::from_millis(1500));
        assert_eq!(Span::from_secs_f64(-1.0), Span::ZERO);
        let step = Span::from_micros(250);
        assert_eq!(
            Time::from_micros(1001).round_up(step),
            Time::from_micros(1250)
        );
        assert_eq!(
            Time::from_micros(1250).round_up(step),
            Time::from_micros(1250)
        );
        assert_eq!(Time::ZERO.round_up(step), Time::ZERO);
        assert_eq!(t.round_up(Span::ZERO), t);
        assert!(Time::MAX.round_up(step) <= Time::MAX);
    }

    #[test]
    fn the_clock_moves_forward_and_knows_the_wall_time() {
        let c = Clock::start();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
        assert!(c.unix_ms(b) >= c.zero_unix_ms());
        assert!(c.zero_unix_ms() > 1_600_000_000_000);
    }
}
