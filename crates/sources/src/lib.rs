//! Event sources: how an inbound request becomes a trusted event.
//!
//! Verifiers check signatures, tokens and credentials over the raw body bytes; the normaliser
//! turns a body into the JSON payload handlers see; redaction keeps credentials out of storage.

pub mod catalog;
mod delivery;
pub mod github;
mod payload;
pub mod presets;
mod redact;
pub mod schedule;
pub mod schema;
mod secret;
pub mod slack;
pub mod stream;
pub mod triggers;
pub mod verify;

pub use delivery::{Answer, Delivery};
pub use payload::{PayloadError, check_json, normalize_payload};
pub use redact::{REDACTED, Redactor};
pub use secret::Secret;
pub use verify::{Handshake, HandshakeAnswer, Request, Verifier, VerifierBuildError, VerifyError, VerifySpec};
