//! Trigger types as plug-ins. Each `trigger.type` implements [`TriggerSource`]: it parses and
//! checks its settings, builds the verifier and the running [`Trigger`], and says how its events
//! come in ([`Intake`]); its catalog data stays in `crates/model`. The registry holds the types
//! this build has (brokers per cargo feature); the server asks it and routes what it returns.

mod github_hooks;
mod google;
mod host;
mod providers;
pub mod registration;
mod stream;
mod timed;

use std::sync::LazyLock;

use bytes::Bytes;
use serde_json::{Map, Value};

pub use host::{GoogleCredentials, Host, Member, SyncChanges, now_ms};
pub use providers::{GitHub, GoogleAccount, GoogleCalendar, Http, Slack};
pub use stream::{Stream, StreamCommon};
pub use timed::{Poll, PollTemplates, Schedule, Timing};

use crate::{Delivery, PayloadError, Verifier};

/// How a trigger's events come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// Requests to the handlers' own resources and methods under the component's URL (`http`).
    Resources,
    /// A provider's deliveries, by POST to the component's URL, named by the trigger.
    Provider,
    /// Change notices: the server fetches what changed (Google Calendar push channels).
    Notification,
    /// A task the server runs: a schedule, a poller or a broker consumer.
    Task,
}

/// Why a notification was refused: the HTTP status, a stable code, a message and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub location: String,
}

/// One trigger type.
pub trait TriggerSource: Send + Sync {
    /// The `trigger.type` it implements.
    fn kind(&self) -> &'static str;
    fn intake(&self) -> Intake;
    /// Settings left unrendered at deploy (templates evaluated per message or poll).
    fn deferred(&self) -> &'static [&'static str] {
        &[]
    }
    /// Builds the trigger from its rendered settings (`redact_headers` may be among them and is
    /// the server's); `deferred` holds the unrendered ones.
    fn build(&self, with: &Value, deferred: &Map<String, Value>) -> Result<Built, String>;
    /// Whether runs see the broker's own fields of a message as `meta.message`.
    fn message_meta(&self) -> bool {
        false
    }
    /// How a handler is named in the API: `Channel.event`.
    fn handler_name(&self, channel: &str, event: &str) -> String {
        format!("{channel}.{event}")
    }
}

/// What a deploy builds from a trigger's settings.
#[derive(Debug)]
pub struct Built {
    pub verifier: Verifier,
    pub trigger: Box<dyn Trigger>,
}

/// A deployed trigger with its settings.
pub trait Trigger: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> &'static str;
    /// Must run on one node at a time in a cluster (a due time fires once, one MQTT session, …).
    fn single(&self) -> bool {
        false
    }
    /// An unsigned probe answered `200` and never stored (Slack's `ssl_check`).
    fn is_probe(&self, _content_type: Option<&str>, _body: &[u8]) -> bool {
        false
    }
    /// Names a verified provider delivery ([`Intake::Provider`]).
    fn classify(
        &self,
        _headers: &http::HeaderMap,
        _content_type: Option<&str>,
        _body: Bytes,
    ) -> Result<Delivery, PayloadError> {
        Err(crate::delivery::malformed("this trigger does not take provider deliveries".to_string()))
    }
    /// What the deploy log says about registering with the provider when that is done by hand.
    fn manual_registration(&self, _url: &str) -> Option<String> {
        None
    }
    /// Registers the deployment with its provider (a repository webhook…); answers what was
    /// done, for the deployment log. `None`: nothing to register here.
    fn register<'a>(
        &'a self,
        _host: &'a dyn Host,
    ) -> Option<futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>> {
        None
    }
    /// Renews what registration made before it expires (a watch channel): what was done, empty
    /// when nothing was due. `None`: nothing to renew.
    fn renew<'a>(
        &'a self,
        _host: &'a dyn Host,
    ) -> Option<futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>> {
        None
    }
    /// A change notice ([`Intake::Notification`]): checked, answered at once (the ingest
    /// outcome), and the changes fetched in the background through `host`.
    fn notify(
        &self,
        _host: std::sync::Arc<dyn Host>,
        _headers: &http::HeaderMap,
        _headers_json: String,
    ) -> Option<futures_util::future::BoxFuture<'static, Result<&'static str, Refusal>>> {
        None
    }
    /// Removes what [`Trigger::register`] created.
    fn unregister<'a>(
        &'a self,
        _host: &'a dyn Host,
    ) -> Option<futures_util::future::BoxFuture<'a, Result<Vec<String>, String>>> {
        None
    }
    /// The broker consumer of a stream trigger.
    fn stream(&self) -> Option<&Stream> {
        None
    }
    /// The task the server runs for a trigger of [`Intake::Task`]: it stores what its source
    /// produces through `host` until `stop`.
    fn run(
        &self,
        _host: std::sync::Arc<dyn Host>,
        _stop: tokio_util::sync::CancellationToken,
    ) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        None
    }
}

static REGISTRY: LazyLock<Vec<Box<dyn TriggerSource>>> = LazyLock::new(|| {
    let mut all: Vec<Box<dyn TriggerSource>> = vec![
        Box::new(providers::HttpSource),
        Box::new(providers::GitHubSource),
        Box::new(providers::SlackSource),
        Box::new(providers::GoogleCalendarSource),
        Box::new(timed::ScheduleSource),
        Box::new(timed::PollSource),
    ];
    all.extend(stream::sources());
    all
});

/// Every trigger type this build has.
pub fn registry() -> impl Iterator<Item = &'static dyn TriggerSource> {
    REGISTRY.iter().map(|s| s.as_ref())
}

/// The trigger type named `kind`, if this build has it.
pub fn source(kind: &str) -> Option<&'static dyn TriggerSource> {
    registry().find(|s| s.kind() == kind)
}

/// Settings a trigger type takes, checked before parsing so the error names the unknown one.
pub(crate) fn only(kind: &str, with: &Value, allowed: &[&str]) -> Result<(), String> {
    if let Some(unknown) =
        with.as_object().and_then(|m| m.keys().find(|k| !allowed.contains(&k.as_str()) && *k != "redact_headers"))
    {
        return Err(format!("trigger setting `{unknown}` is not a {kind} setting ({})", allowed.join(", ")));
    }
    Ok(())
}

/// The provider's own settings; `redact_headers`, common to every type, is the server's.
pub(crate) fn settings<T: serde::de::DeserializeOwned>(kind: &str, with: &Value) -> Result<T, String> {
    let mut own = with.clone();
    if let Some(map) = own.as_object_mut() {
        map.remove("redact_headers");
    }
    serde_json::from_value(own).map_err(|e| {
        let names: Vec<&str> =
            onset_model::catalog::settings(kind).unwrap_or_default().iter().map(|s| s.name).collect();
        format!("trigger.with: {e} (a {kind} trigger takes {})", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_type_is_registered_once() {
        let kinds: Vec<&str> = registry().map(|s| s.kind()).collect();
        for kind in onset_model::TRIGGER_TYPES {
            let stream = onset_model::catalog::STREAM_TYPES.contains(kind);
            assert!(stream || kinds.contains(kind), "`{kind}` is in the catalog but not registered");
        }
        let mut sorted = kinds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), kinds.len(), "a type is registered twice");
    }

    #[test]
    fn unknown_settings_are_named() {
        let err = source("schedule").unwrap().build(&serde_json::json!({ "every": "1m" }), &Map::new()).unwrap_err();
        assert!(err.contains("`every` is not a schedule setting"), "{err}");
    }
}
