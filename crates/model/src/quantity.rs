//! Durations (`250ms`, `2s`, `1h30m`) and sizes (`25MiB`) as they are written in YAML and on the
//! command line. A bare number is rejected: the unit is always explicit.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("`{0}` has no unit: write a duration such as `250ms`, `2s`, `5m` or `1h`")]
    DurationWithoutUnit(String),
    #[error("`{0}` is not a duration: expected digits followed by ms, s, m, h or d (e.g. `2s`, `1h30m`)")]
    BadDuration(String),
    #[error("`{0}` has no unit: write a size such as `512KiB`, `25MiB` or `1GB`")]
    SizeWithoutUnit(String),
    #[error("`{0}` is not a size: expected digits followed by B, KB, KiB, MB, MiB, GB or GiB (e.g. `25MiB`)")]
    BadSize(String),
}

/// A length of time written with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
    pub const fn from_secs(s: u64) -> Self {
        Self(std::time::Duration::from_secs(s))
    }
    pub const fn as_std(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(QuantityError::DurationWithoutUnit(text.to_string()));
        }
        let bad = || QuantityError::BadDuration(text.to_string());
        let mut total: u128 = 0;
        let mut rest = s;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let value: u128 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit_ms: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total = total.checked_add(value.checked_mul(unit_ms).ok_or_else(bad)?).ok_or_else(bad)?;
        }
        let ms = u64::try_from(total).map_err(|_| bad())?;
        Ok(Self::from_millis(ms))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1_000) && ms > 0 {
            write!(f, "{}s", ms / 1_000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// A number of bytes written with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QuantityError::SizeWithoutUnit(text.to_string()));
        }
        let bad = || QuantityError::BadSize(text.to_string());
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let value: u64 = s[..digits].parse().map_err(|_| bad())?;
        let unit: u64 = match s[digits..].trim() {
            "B" => 1,
            "KB" | "kB" => 1_000,
            "KiB" => 1 << 10,
            "MB" => 1_000_000,
            "MiB" => 1 << 20,
            "GB" => 1_000_000_000,
            "GiB" => 1 << 30,
            _ => return Err(bad()),
        };
        value.checked_mul(unit).map(Self).ok_or_else(bad)
    }
}

struct QuantityVisitor<T>(std::marker::PhantomData<T>, &'static str);

impl<T> Visitor<'_> for QuantityVisitor<T>
where
    T: FromStr<Err = QuantityError>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(QuantityVisitor(std::marker::PhantomData, "a duration such as `2s`"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(QuantityVisitor(std::marker::PhantomData, "a size such as `25MiB`"))
    }
}

impl schemars::JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(ms|s|m|h|d))+$",
            "description": "A duration with a unit: 250ms, 2s, 5m, 1h, 1h30m"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!("250ms".parse::<Duration>().unwrap(), Duration::from_millis(250));
        assert_eq!("2s".parse::<Duration>().unwrap(), Duration::from_secs(2));
        assert_eq!("5m".parse::<Duration>().unwrap(), Duration::from_secs(300));
        assert_eq!("1h30m".parse::<Duration>().unwrap(), Duration::from_secs(5400));
        assert!(matches!("30".parse::<Duration>(), Err(QuantityError::DurationWithoutUnit(_))));
        assert!(matches!("2 parsecs".parse::<Duration>(), Err(QuantityError::BadDuration(_))));
        assert!("".parse::<Duration>().is_err());
        assert_eq!(Duration::from_secs(300).to_string(), "5m");
    }

    #[test]
    fn sizes_need_a_unit() {
        assert_eq!("25MiB".parse::<ByteSize>().unwrap(), ByteSize(25 << 20));
        assert_eq!("1KB".parse::<ByteSize>().unwrap(), ByteSize(1000));
        assert!(matches!("1024".parse::<ByteSize>(), Err(QuantityError::SizeWithoutUnit(_))));
        assert!("1 parsec".parse::<ByteSize>().is_err());
    }

    #[test]
    fn yaml_numbers_are_rejected_with_the_fix() {
        let err = yaml_serde::from_str::<Duration>("30").unwrap_err().to_string();
        assert!(err.contains("has no unit"), "{err}");
    }
}
