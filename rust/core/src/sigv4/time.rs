//! The signing instant and its two text forms (`YYYYMMDDTHHMMSSZ`, `YYYYMMDD`).

use super::SigningError;
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
        let t = self.civil();
        let mut out = String::with_capacity(16);
        push_digits(&mut out, t.year() as u32, 4);
        push_digits(&mut out, u8::from(t.month()).into(), 2);
        push_digits(&mut out, t.day().into(), 2);
        out.push('T');
        push_digits(&mut out, t.hour().into(), 2);
        push_digits(&mut out, t.minute().into(), 2);
        push_digits(&mut out, t.second().into(), 2);
        out.push('Z');
        out
    }

    /// `YYYYMMDD`
    pub fn date_stamp(self) -> String {
        let mut stamp = self.amz_date();
        stamp.truncate(8);
        stamp
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

fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
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
