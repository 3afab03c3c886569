//! API types of accounts: named credential sets per environment.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Creates an account or changes some of its fields.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAccount {
    /// The account type (`http`…); changing it replaces every field.
    #[serde(rename = "type")]
    pub kind: String,
    /// Field → value (text; numbers and booleans are taken as such). An empty value removes the
    /// field; fields not given keep their value.
    pub fields: serde_json::Map<String, Value>,
}

/// An account as the API shows it: secret fields are never shown back.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountItem {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub environment: String,
    /// Field → value; secret fields read `[redacted]`.
    pub fields: BTreeMap<String, String>,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountDeleted {
    pub name: String,
    pub environment: String,
}

/// What `onset account test` proved.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountTested {
    pub name: String,
    pub environment: String,
    /// The call that was made and its answer (`GET https://… answered HTTP 200`).
    pub detail: String,
}

/// An account type and its fields.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountTypeInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub fields: Vec<AccountTypeField>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountTypeField {
    pub name: String,
    pub description: String,
    /// Sealed at rest and never shown back.
    pub secret: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}
