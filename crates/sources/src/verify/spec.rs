//! `trigger.with.verify` as written: the settings every scheme takes, deserialized from the
//! rendered component (after config templates). `super` turns them into a ready verifier.

use onset_model::Duration;
use serde::Deserialize;

use super::keys::SecretEncoding;
use crate::secret::Secret;

/// One secret or several (several while a secret is being rotated).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Secrets {
    One(Secret),
    Many(Vec<Secret>),
}

impl Secrets {
    pub(super) fn list(&self) -> Vec<&Secret> {
        match self {
            Secrets::One(s) => vec![s],
            Secrets::Many(v) => v.iter().collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

/// What a `signature` scheme signs with.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureAlgorithm {
    HmacSha1,
    HmacSha256,
    HmacSha512,
    Ed25519,
    EcdsaP256Sha256,
    RsaSha256,
}

/// Where a value is read: a header or a body field (`a.b.c`, JSON or form).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Locator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `t=…,v1=…`-style values: entries split by `separator`, each `key` `assign` `value`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFormat {
    #[serde(default = "comma")]
    pub separator: String,
    #[serde(default = "equals")]
    pub assign: String,
    /// The key of signature entries (several may be present).
    #[serde(default = "v1")]
    pub key: String,
}

fn comma() -> String {
    ",".into()
}
fn equals() -> String {
    "=".into()
}
fn v1() -> String {
    "v1".into()
}

/// Where the signature is and how it is written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureLocator {
    #[serde(default)]
    pub header: Option<String>,
    /// Several headers, each holding a signature (DocuSign: one per key).
    #[serde(default)]
    pub headers: Option<Vec<String>>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default)]
    pub list: Option<ListFormat>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TimestampFormat {
    #[default]
    Seconds,
    Milliseconds,
    Rfc3339,
}

/// Where the timestamp is: a header, a body field, or an entry of the signature list (`t`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampLocator {
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub list_key: Option<String>,
    #[serde(default)]
    pub format: TimestampFormat,
    /// How far from now a timestamp may be (default 5m).
    #[serde(default)]
    pub tolerance: Option<Duration>,
}

/// The generic scheme every preset is written in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    pub algorithm: SignatureAlgorithm,
    #[serde(default)]
    pub secret: Option<Secrets>,
    #[serde(default)]
    pub secret_encoding: SecretEncoding,
    #[serde(default)]
    pub public_key: Option<Secrets>,
    pub signature: SignatureLocator,
    #[serde(default)]
    pub timestamp: Option<TimestampLocator>,
    /// The signed string (default `{body}`).
    #[serde(default)]
    pub signed: Option<String>,
}

/// `trigger.with.verify` as written (after config templates are rendered), without the keys
/// every scheme takes (`preset`, `id`, `handshake`, `verify_token`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
pub enum VerifySpec {
    None,
    Hmac {
        header: String,
        #[serde(default)]
        algorithm: Algorithm,
        #[serde(default)]
        encoding: Encoding,
        #[serde(default)]
        prefix: Option<String>,
        secret: Secrets,
        #[serde(default)]
        timestamp_header: Option<String>,
        #[serde(default)]
        tolerance: Option<Duration>,
        #[serde(default)]
        signed: Option<String>,
    },
    StandardWebhooks {
        #[serde(default)]
        secret: Option<Secrets>,
        #[serde(default)]
        public_key: Option<Secrets>,
    },
    Token {
        header: String,
        secret: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
    Signature(Box<SignatureSpec>),
}
