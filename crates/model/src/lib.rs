//! The component format: project manifest, components, config schema, handlers and steps.
//!
//! Parsing only; no I/O beyond reading the project directory in [`project`], no async.

pub mod catalog;
mod component;
mod config;
mod names;
mod project;
mod quantity;
mod rate;
mod schema;
mod step;

pub use component::{
    Component, HTTP_METHODS, HTTP_SETTINGS, HandlerSpec, Problem, RetentionSpec, RetrySpec, TRIGGER_TYPES, TriggerSpec,
};
pub use config::{CONFIG_TYPES, ConfigSpec, ConfigType, REDACTED};
pub use names::{ComponentName, ConfigKey, NameError};
pub use project::{CONNECTORS_DIR, LoadError, Manifest, Project, SourceFile, parse_component};
pub use quantity::{ByteSize, Duration, QuantityError};
pub use rate::Rate;
pub use schema::component_schema;
pub use step::{
    ACTION_KEYS, LogLevel, LogSpec, MAX_DELAY, OnError, STEP_ACTIONS, STEP_OPTIONS, Step, StepKind, is_identifier,
};
