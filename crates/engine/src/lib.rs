//! Runs one handler's steps for one event.
//!
//! A component is compiled once per build ([`CompiledComponent::compile`]); a run only evaluates.
//! Connectors are behind the [`Connectors`] trait, so the engine needs no network in tests.

mod compile;
mod connector;
mod record;
mod respond;
mod run;
mod scope;
mod secrets;
pub mod shape;
pub mod trace;
mod validate;

pub use compile::{CompileError, CompiledComponent, CompiledHandler};
pub use connector::{AccountUse, CallError, CallFuture, Connectors, NoConnectors, OperationInfo, ScriptFuture};
pub use onset_expr::{Value, from_json, to_json};
pub use record::{MAX_RECORDED_BYTES, StepRecord, StepStatus};
pub use respond::Responder;
pub use run::{RunFailure, RunInput, RunOutcome, backoff};
pub use secrets::{REDACTED, Secrets};
pub use validate::{Diagnostic, validate_component};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
