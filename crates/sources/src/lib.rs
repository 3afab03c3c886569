//! Event sources: how an inbound request becomes a trusted event.
//!
//! Verifiers check signatures, tokens and credentials over the raw body bytes; the normaliser
//! turns a body into the JSON payload handlers see; redaction keeps credentials out of storage.

mod payload;
mod redact;
mod secret;
mod verify;

pub use payload::{PayloadError, normalize_payload};
pub use redact::{REDACTED, Redactor};
pub use secret::Secret;
pub use verify::{Verifier, VerifierBuildError, VerifyError, VerifySpec};
