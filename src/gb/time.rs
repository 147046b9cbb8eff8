//! GB28181 time stamps (`YYYY-MM-DDThh:mm:ss[.mmm]`, as in the `Date` header of a 200 OK, in
//! DeviceTime and in a RecordInfo query's StartTime/EndTime), rendered from Unix milliseconds
//! and read back to Unix seconds without a date library or an allocation.

/// A rendered time stamp on the stack, for callers that must not allocate.
#[derive(Clone, Copy, Debug)]
pub struct DateTime {
    buf: [u8; 23],
    len: usize,
}

impl DateTime {
    /// Renders `unix_ms` as `YYYY-MM-DDThh:mm:ss` and, if `millis`, `.mmm` (UTC).
    pub fn new(unix_ms: u64, millis: bool) -> Self {
        let mut v = Sink {
            buf: [0; 23],
            len: 0,
        };
        render(&mut v, unix_ms, millis);
        DateTime {
            buf: v.buf,
            len: v.len,
        }
    }

    /// The rendered bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

struct Sink {
    buf: [u8; 23],
    len: usize,
}

impl Sink {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
}

/// Appends `unix_ms` as `YYYY-MM-DDThh:mm:ss` and, if `millis`, `.mmm` (UTC).
pub fn write_datetime(out: &mut Vec<u8>, unix_ms: u64, millis: bool) {
    out.extend_from_slice(DateTime::new(unix_ms, millis).as_bytes());
}

fn render(out: &mut Sink, unix_ms: u64, millis: bool) {
    let secs = unix_ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let two = |out: &mut Sink, n: u64| {
        out.push(b'0' + (n / 10 % 10) as u8);
        out.push(b'0' + (n % 10) as u8);
    };
    let y = y.clamp(0, 9999) as u64;
    two(out, y / 100);
    two(out, y % 100);
    out.push(b'-');
    two(out, u64::from(m));
    out.push(b'-');
    two(out, u64::from(d));
    out.push(b'T');
    two(out, rem / 3600);
    out.push(b':');
    two(out, rem / 60 % 60);
    out.push(b':');
    two(out, rem % 60);
    if millis {
        let ms = unix_ms % 1000;
        out.push(b'.');
        out.push(b'0' + (ms / 100) as u8);
        two(out, ms % 100);
    }
}

/// Reads a GB28181 time stamp as Unix seconds (UTC): `YYYY-MM-DDThh:mm:ss`, with a space
/// allowed for the `T` (some platforms write one), a `.fff` fraction (dropped) and a trailing
/// `Z`. None unless every field is in range (month 1-12, a day the month has, 00:00:00 to
/// 23:59:59, years 1970-9999): a platform's malformed time is refused, never guessed at.
pub fn parse_datetime(s: &[u8]) -> Option<u64> {
    let s = crate::sip::bytes::trim(s);
    let s = s.strip_suffix(b"Z").unwrap_or(s);
    let (main, frac) = match s.get(19) {
        None => (s, &b""[..]),
        Some(b'.') => (s.get(..19)?, s.get(20..)?),
        Some(_) => return None,
    };
    if main.len() != 19
        || !frac.iter().all(u8::is_ascii_digit)
        || frac.len() > 9
        || (s.len() > 19 && frac.is_empty())
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = main.get(r)?;
        d.iter().try_fold(0u32, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| main.get(i) != Some(&c)) || !matches!(main[10], b'T' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1970..=9999).contains(&y) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d)?;
    let secs = days.checked_mul(86_400)? + i64::from(h * 3600 + mi * 60 + sec);
    u64::try_from(secs).ok()
}

/// (year, month, day) to days since 1970-01-01 (H. Hinnant's algorithm); None for a month
/// or day that does not exist (checked by converting back).
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ms: u64, millis: bool) -> String {
        let mut v = Vec::new();
        write_datetime(&mut v, ms, millis);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(fmt(0, false), "1970-01-01T00:00:00");
        // 2026-11-23T23:16:12.123Z, the example in DESIGN.md.
        assert_eq!(fmt(1_795_475_772_123, true), "2026-11-23T23:16:12.123");
        // 2000-02-29 (leap day) 12:00:00.005
        assert_eq!(fmt(951_825_600_005, true), "2000-02-29T12:00:00.005");
    }

    #[test]
    fn reads_what_it_writes_and_refuses_the_rest() {
        for ms in [0u64, 951_825_600_000, 1_795_475_772_000, 4_102_444_799_000] {
            assert_eq!(parse_datetime(fmt(ms, false).as_bytes()), Some(ms / 1000));
            assert_eq!(
                parse_datetime(fmt(ms + 123, true).as_bytes()),
                Some(ms / 1000)
            );
        }
        assert_eq!(
            parse_datetime(b" 2026-11-23 23:16:12Z "),
            Some(1_795_475_772)
        );
        for bad in [
            &b""[..],
            b"2026-11-23T23:16",
            b"2026-02-30T00:00:00",
            b"2026-13-01T00:00:00",
            b"2026-11-23T24:00:00",
            b"1969-12-31T23:59:59",
            b"2026-11-23T23:16:12.",
            b"2026-11-23T23:16:12x",
            b"2026/11/23T23:16:12",
            b"2026-11-23T23:1a:12",
        ] {
            assert_eq!(
                parse_datetime(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
