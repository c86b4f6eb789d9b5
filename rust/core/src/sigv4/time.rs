//! The signing instant and its two text forms (`YYYYMMDDTHHMMSSZ`, `YYYYMMDD`).

use super::SigningError;
use std::cell::Cell;
use std::fmt;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// The instant a request is signed at, to the second (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SigningTime {
    unix_secs: i64,
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range a four-digit
/// year in an X-Amz-Date can express.
const MIN_UNIX_SECS: i64 = -62_135_596_800;
const MAX_UNIX_SECS: i64 = 253_402_300_799;

impl SigningTime {
    pub fn from_unix(unix_secs: i64) -> SigningTime {
        SigningTime { unix_secs }
    }

    pub fn unix_secs(self) -> i64 {
        self.unix_secs
    }

    pub fn now() -> SigningTime {
        let secs = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => since.as_secs() as i64,
            // A clock set before 1970: still a valid (if odd) instant.
            Err(before) => -(before.duration().as_secs() as i64),
        };
        SigningTime { unix_secs: secs }
    }

    /// Parses `YYYYMMDDTHHMMSSZ`.
    pub fn parse_amz_date(s: &str) -> Result<SigningTime, SigningError> {
        let bad =
            || SigningError::MalformedDate(format!("{:?} is not YYYYMMDDTHHMMSSZ", snippet(s)));
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return Err(bad());
        }
        let num = |range: std::ops::Range<usize>| -> Result<u32, SigningError> {
            b[range].iter().try_fold(0u32, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + u32::from(c - b'0'))
                } else {
                    Err(bad())
                }
            })
        };
        let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
        let month = u8::try_from(month)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(bad)?;
        let date = Date::from_calendar_date(year as i32, month, day as u8).map_err(|_| bad())?;
        let time = Time::from_hms(hour as u8, minute as u8, second as u8).map_err(|_| bad())?;
        let instant = PrimitiveDateTime::new(date, time).assume_utc();
        Ok(SigningTime {
            unix_secs: instant.unix_timestamp(),
        })
    }

    /// `YYYYMMDDTHHMMSSZ`
    pub fn amz_date(self) -> String {
        self.amz_date_text().as_str().to_owned()
    }

    /// `YYYYMMDDTHHMMSSZ`, without allocating. Each thread remembers the
    /// last second it formatted: requests signed in a burst share it.
    pub fn amz_date_text(self) -> AmzDate {
        thread_local! {
            static LAST: Cell<Option<(i64, AmzDate)>> = const { Cell::new(None) };
        }
        // (`try_with`: during thread teardown there is no cache, only work.)
        LAST.try_with(|last| match last.get() {
            Some((secs, text)) if secs == self.unix_secs => text,
            _ => {
                let text = self.format_amz_date();
                last.set(Some((self.unix_secs, text)));
                text
            }
        })
        .unwrap_or_else(|_| self.format_amz_date())
    }

    fn format_amz_date(self) -> AmzDate {
        let t = self.civil();
        let mut out = [0u8; 16];
        put_digits(&mut out[0..4], t.year() as u32);
        put_digits(&mut out[4..6], u8::from(t.month()).into());
        put_digits(&mut out[6..8], t.day().into());
        out[8] = b'T';
        put_digits(&mut out[9..11], t.hour().into());
        put_digits(&mut out[11..13], t.minute().into());
        put_digits(&mut out[13..15], t.second().into());
        out[15] = b'Z';
        AmzDate(out)
    }

    /// `YYYYMMDD`
    pub fn date_stamp(self) -> String {
        self.amz_date_text().date().to_owned()
    }

    /// Whether the instant has a four-digit-year X-Amz-Date; signing refuses
    /// any other rather than sign a date the server would read differently.
    pub fn check_representable(self) -> Result<(), SigningError> {
        if (MIN_UNIX_SECS..=MAX_UNIX_SECS).contains(&self.unix_secs) {
            Ok(())
        } else {
            Err(SigningError::MalformedDate(format!(
                "unix time {} is outside years 0001-9999",
                self.unix_secs
            )))
        }
    }

    fn civil(self) -> OffsetDateTime {
        let secs = self.unix_secs.clamp(MIN_UNIX_SECS, MAX_UNIX_SECS);
        OffsetDateTime::from_unix_timestamp(secs).expect("clamped to the representable range")
    }
}

/// `value` in decimal, zero-padded to fill `out`.
fn put_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// An X-Amz-Date value, `YYYYMMDDTHHMMSSZ`, held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AmzDate([u8; 16]);

impl AmzDate {
    pub fn as_str(&self) -> &str {
        // (Read several times per signing: not re-checked each time.)
        // SAFETY: the field is private and `format_amz_date` is the only
        // place an AmzDate is made: it writes an ASCII digit, 'T' or 'Z'
        // into each of the 16 bytes, and ASCII is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The `YYYYMMDD` part (the credential scope's date).
    pub fn date(&self) -> &str {
        &self.as_str()[..8]
    }
}

impl fmt::Debug for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// At most 40 characters of untrusted text, for error messages.
pub(crate) fn snippet(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_the_suite_date() {
        // 2015-08-30T12:36:00Z, the time of the AWS test suite.
        let t = SigningTime::from_unix(1_440_938_160);
        assert_eq!(t.amz_date(), "20150830T123600Z");
        assert_eq!(t.date_stamp(), "20150830");
        // Formatted again (not from the per-thread cache) it is the same.
        assert_eq!(t.format_amz_date().as_str(), "20150830T123600Z");
        assert_eq!(t.amz_date_text().date(), "20150830");
        assert_eq!(SigningTime::parse_amz_date("20150830T123600Z"), Ok(t));
    }

    #[test]
    fn range_edges() {
        let lo = SigningTime::parse_amz_date("00010101T000000Z").unwrap();
        let hi = SigningTime::parse_amz_date("99991231T235959Z").unwrap();
        assert_eq!(lo.unix_secs(), MIN_UNIX_SECS);
        assert_eq!(hi.unix_secs(), MAX_UNIX_SECS);
        assert_eq!(hi.amz_date(), "99991231T235959Z");
        assert!(SigningTime::from_unix(MAX_UNIX_SECS + 1)
            .check_representable()
            .is_err());
        assert!(SigningTime::from_unix(MIN_UNIX_SECS - 1)
            .check_representable()
            .is_err());
        assert!(SigningTime::from_unix(0).check_representable().is_ok());
        assert_eq!(SigningTime::from_unix(0).amz_date(), "19700101T000000Z");
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "+0150830T123600Z",
            "20150830T123600Zextra",
            "２0150830T123600Z",
        ] {
            assert!(
                matches!(
                    SigningTime::parse_amz_date(bad),
                    Err(SigningError::MalformedDate(_))
                ),
                "{bad:?}"
            );
        }
    }
}
