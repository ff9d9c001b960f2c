//! Lengths of time as people write them in config and read them in chat: `90s`, `15m`, `1h30m`, `2d`.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A non-negative length of time with one-second precision, written like `15m` or `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval(u64);

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// The longest interval accepted: ten years. Anything longer is a typo, and keeping every
/// interval this short means adding one to a date can never overflow.
pub const MAX_SECS: u64 = 3_650 * 86_400;

impl Interval {
    /// An interval of `seconds` seconds.
    pub const fn from_secs(seconds: u64) -> Self {
        Self(seconds)
    }

    /// The interval in whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// The interval as a chrono delta.
    pub fn as_delta(self) -> TimeDelta {
        TimeDelta::try_seconds(i64::try_from(self.0).unwrap_or(i64::MAX))
            .expect("intervals are at most MAX_SECS long")
    }
}

/// Why a text is not an [`Interval`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIntervalError {
    /// Not in the `1h30m` form.
    #[error("'{0}' is not a length of time (write it like 90s, 15m, 1h30m or 2d)")]
    Form(String),
    /// Longer than [`MAX_SECS`].
    #[error("'{0}' is longer than ten years")]
    TooLong(String),
}

impl FromStr for Interval {
    type Err = ParseIntervalError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = || ParseIntervalError::Form(text.to_owned());
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail());
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in trimmed.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let (_, unit) = UNITS.iter().find(|(u, _)| *u == c).ok_or_else(fail)?;
            let n: u64 = digits.parse().map_err(|_| fail())?;
            total = n
                .checked_mul(*unit)
                .and_then(|s| total.checked_add(s))
                .ok_or_else(fail)?;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(fail());
        }
        if total > MAX_SECS {
            return Err(ParseIntervalError::TooLong(text.to_owned()));
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Interval {
    /// Compact form, the inverse of parsing: `0s`, `15m`, `1h30m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, size) in UNITS {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Interval;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a length of time such as \"90s\", \"15m\", \"1h30m\" or \"2d\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Interval, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Renders an elapsed time for people: `45s`, `12m`, `1h 05m`, `2d 3h`.
pub fn humanize(delta: TimeDelta) -> String {
    let secs = delta.num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3_600, (s % 3_600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_same_text() {
        for text in ["0s", "15m", "1h30m", "2d", "1d2h3m4s"] {
            let interval: Interval = text.parse().expect("valid interval");
            assert_eq!(interval.to_string(), text, "round trip of {text}");
        }
        assert_eq!("90s".parse::<Interval>().unwrap().to_string(), "1m30s");
    }

    #[test]
    fn refuses_text_that_is_not_a_length_of_time() {
        for text in [
            "",
            "15",
            "m",
            "15x",
            "1.5h",
            "-5m",
            "99999999999999999999d",
            "5 m",
            "3651d",
            "99999999999999s",
        ] {
            let err = text.parse::<Interval>().expect_err(text);
            assert!(err.to_string().contains(&format!("'{text}'")), "{err}");
        }
        assert_eq!(
            "3651d".parse::<Interval>().unwrap_err().to_string(),
            "'3651d' is longer than ten years"
        );
        let longest: Interval = "3650d".parse().unwrap();
        assert_eq!(longest.as_delta(), TimeDelta::days(3_650));
    }

    #[test]
    fn humanizes_elapsed_time() {
        assert_eq!(humanize(TimeDelta::seconds(-5)), "0s");
        assert_eq!(humanize(TimeDelta::seconds(42)), "42s");
        assert_eq!(humanize(TimeDelta::minutes(12)), "12m");
        assert_eq!(humanize(TimeDelta::minutes(65)), "1h 05m");
        assert_eq!(humanize(TimeDelta::hours(51)), "2d 3h");
    }
}
