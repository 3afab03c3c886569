//! The config schema a component declares: what must be supplied per environment at deploy.

use serde::{Deserialize, Serialize};

/// The config types, as written in YAML.
/// What a secret value (or a credential header) reads as wherever it would otherwise be shown.
pub const REDACTED: &str = "[redacted]";

pub const CONFIG_TYPES: &[&str] = &["string", "secret", "number", "integer", "boolean", "json", "account"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConfigType {
    String,
    Secret,
    Number,
    Integer,
    Boolean,
    Json,
    Account,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    #[serde(rename = "type")]
    pub kind: ConfigType,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub example: Option<serde_json::Value>,
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    #[serde(default)]
    pub required: Option<bool>,
    /// For `account` values: the connector the account belongs to.
    #[serde(default)]
    pub connector: Option<String>,
}

impl ConfigSpec {
    /// A key is required unless it has a default or says `required: false`.
    pub fn is_required(&self) -> bool {
        self.default.is_none() && self.required.unwrap_or(true)
    }
}
