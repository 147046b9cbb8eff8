//! GB28181 time stamps (`YYYY-MM-DDThh:mm:ss[.mmm]`, as in the `Date` header of a 200 OK and
//! in DeviceTime), rendered from Unix milliseconds without a date library.

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
}
