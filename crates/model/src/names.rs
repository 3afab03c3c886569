//! Names that carry their invariants: component names and config keys.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("component name `{0}` is invalid: use lower-case letters, digits and `-` (e.g. `github-issues`)")]
    Component(String),
    #[error("config key `{0}` is invalid: start with a lower-case letter, then letters, digits or `_`")]
    ConfigKey(String),
}

/// A component name: `[a-z0-9-]+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ComponentName(String);

impl ComponentName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(Self(s.to_string())) } else { Err(NameError::Component(s.to_string())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ComponentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ComponentName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A config key: `[a-z][a-z0-9_]*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConfigKey(String);

impl ConfigKey {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let mut bytes = s.bytes();
        let ok = matches!(bytes.next(), Some(b'a'..=b'z'))
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok { Ok(Self(s.to_string())) } else { Err(NameError::ConfigKey(s.to_string())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConfigKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for ComponentName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ComponentName".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[a-z0-9-]{1,63}$" })
    }
}

impl schemars::JsonSchema for ConfigKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ConfigKey".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[a-z][a-z0-9_]*$" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names() {
        assert!(ComponentName::parse("github-issues").is_ok());
        assert!(ComponentName::parse("Orders").is_err());
        assert!(ComponentName::parse("").is_err());
        assert!(ComponentName::parse("a/b").is_err());
    }

    #[test]
    fn config_keys() {
        assert!(ConfigKey::parse("webhook_secret").is_ok());
        assert!(ConfigKey::parse("1key").is_err());
        assert!(ConfigKey::parse("Key").is_err());
        assert!(ConfigKey::parse("a-b").is_err());
    }
}
