//! Rate limits as written in YAML: `100/s`, `600/m`, `1000/h`, `5000/d` — N requests per
//! window, N of them at once (the burst is the whole allowance), the next within the window
//! refused.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer};

/// N requests per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub limit: u64,
    /// The window in seconds: 1, 60, 3600 or 86400.
    pub window_secs: u64,
}

impl Rate {
    /// The window as written: `s`, `m`, `h` or `d`.
    pub fn unit(&self) -> &'static str {
        match self.window_secs {
            1 => "s",
            60 => "m",
            3600 => "h",
            _ => "d",
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.limit, self.unit())
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a rate: write N/s, N/m, N/h or N/d (e.g. `100/s`, `1000/m`)");
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let limit: u64 = n.trim().parse().map_err(|_| bad())?;
        if limit == 0 {
            return Err(format!("`{s}`: a rate allows at least 1 request per window"));
        }
        let window_secs = match unit.trim() {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        Ok(Rate { limit, window_secs })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl schemars::JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "N requests per second, minute, hour or day: `100/s`, `1000/m`",
            "type": "string",
            "pattern": "^[1-9][0-9]*/(s|m|h|d)$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_with_their_window() {
        assert_eq!("10/s".parse::<Rate>().unwrap(), Rate { limit: 10, window_secs: 1 });
        assert_eq!("1000/m".parse::<Rate>().unwrap().window_secs, 60);
        assert_eq!("5/h".parse::<Rate>().unwrap().to_string(), "5/h");
        assert_eq!("7/d".parse::<Rate>().unwrap().window_secs, 86_400);
        for bad in ["10", "10/x", "/s", "ten/s", "-1/s", "10/sec"] {
            assert!(bad.parse::<Rate>().unwrap_err().contains("is not a rate"), "{bad}");
        }
        assert!("0/s".parse::<Rate>().unwrap_err().contains("at least 1"));
    }
}
