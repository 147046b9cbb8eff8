//! The GB/T 28181 SSRC: the SDP `y=` line's 10 decimal digits (first 0 live, 1 history; five
//! from the SIP domain; a four-digit sequence) are the RTP SSRC as a 32-bit integer, so
//! `0200003792` is `0x0BEBD0D0`.

/// Why a `y=` value is not an SSRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsrcError {
    /// Empty, or more than 10 characters.
    Length(usize),
    /// A character other than `0`–`9`, at this offset.
    NotDigit(usize),
    /// The number is above `u32::MAX` (4294967295).
    TooLarge,
}

impl std::fmt::Display for SsrcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SsrcError::Length(n) => write!(f, "SSRC of {n} characters: expected 1 to 10 digits"),
            SsrcError::NotDigit(i) => write!(f, "SSRC has a non-digit at offset {i}"),
            SsrcError::TooLarge => f.write_str("SSRC above 4294967295 does not fit 32 bits"),
        }
    }
}

impl std::error::Error for SsrcError {}

/// The SSRC of a `y=` value: 1 to 10 ASCII digits (GB/T 28181 writes 10) up to `u32::MAX`.
pub fn parse_ssrc(y: &[u8]) -> Result<u32, SsrcError> {
    if y.is_empty() || y.len() > 10 {
        return Err(SsrcError::Length(y.len()));
    }
    let mut n: u64 = 0;
    for (i, &c) in y.iter().enumerate() {
        if !c.is_ascii_digit() {
            return Err(SsrcError::NotDigit(i));
        }
        n = n * 10 + u64::from(c - b'0');
    }
    u32::try_from(n).map_err(|_| SsrcError::TooLarge)
}

/// The 10-digit, zero-padded `y=` form of an SSRC.
pub fn format_ssrc(ssrc: u32) -> [u8; 10] {
    let mut out = [b'0'; 10];
    let mut n = ssrc;
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb28181_examples() {
        assert_eq!(parse_ssrc(b"0200003792"), Ok(0x0BEB_D0D0));
        assert_eq!(parse_ssrc(b"1100000001"), Ok(1_100_000_001));
        assert_eq!(parse_ssrc(b"4294967295"), Ok(u32::MAX));
        assert_eq!(parse_ssrc(b"7"), Ok(7));
        assert_eq!(&format_ssrc(0x0BEB_D0D0), b"0200003792");
        assert_eq!(&format_ssrc(0), b"0000000000");
        assert_eq!(&format_ssrc(u32::MAX), b"4294967295");
    }

    #[test]
    fn rejects_what_is_not_a_32_bit_number() {
        assert_eq!(parse_ssrc(b"4294967296"), Err(SsrcError::TooLarge));
        assert_eq!(parse_ssrc(b"9999999999"), Err(SsrcError::TooLarge));
        assert_eq!(parse_ssrc(b""), Err(SsrcError::Length(0)));
        assert_eq!(parse_ssrc(b"02000037920"), Err(SsrcError::Length(11)));
        assert_eq!(parse_ssrc(b"02000x3792"), Err(SsrcError::NotDigit(5)));
        assert_eq!(parse_ssrc(b"-200003792"), Err(SsrcError::NotDigit(0)));
        assert_eq!(parse_ssrc(b"020000379 "), Err(SsrcError::NotDigit(9)));
    }

    #[test]
    fn round_trips() {
        for n in [
            0,
            1,
            9,
            10,
            200_003_792,
            999_999_999,
            1_000_000_000,
            u32::MAX,
        ] {
            assert_eq!(parse_ssrc(&format_ssrc(n)), Ok(n));
        }
    }
}
