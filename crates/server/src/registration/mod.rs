//! Registration with the event source at deploy and undeploy. A trigger type registers itself
//! (`Trigger::register`: GitHub repository webhooks, Google Calendar watch channels) through the
//! server as its host; a type registered by hand (Slack) gets its Request URL shown. Whatever is registered is kept per (component, environment) in the store,
//! so a later deploy updates it instead of creating another.

use crate::app::App;
use crate::deploy::Deployed;

pub use onset_sources::triggers::registration::hook_url;

/// A trigger's JSON state value for this component and environment, if it has one.
pub(crate) async fn load_state<T: serde::de::DeserializeOwned>(
    app: &App,
    component: &str,
    environment: &str,
    key: &str,
) -> Result<Option<T>, String> {
    let stored = app
        .store
        .trigger_state(component.to_string(), environment.to_string(), key.to_string())
        .await
        .map_err(|e| e.to_string())?;
    Ok(stored.and_then(|v| serde_json::from_str(&v).ok()))
}

/// Registers the deployment with its provider; returns what was done, for the deployment log.
/// A failure raises an alert (resolved by the next registration that works).
pub async fn register(app: &App, deployed: &Deployed) -> Result<Vec<String>, String> {
    let result = register_with_provider(app, deployed).await;
    let key = format!("registration_failed:{}/{}", deployed.environment, deployed.name());
    match &result {
        Ok(_) => crate::alerts::resolve(app, &key).await,
        Err(e) => {
            let subject =
                crate::alerts::Subject { component: Some(deployed.name()), environment: Some(&deployed.environment) };
            let message = format!(
                "`{}` could not be registered with its provider in `{}`: {e}",
                deployed.name(),
                deployed.environment
            );
            let detail = serde_json::json!({ "deployment_id": deployed.id, "error": e });
            crate::alerts::raise(app, crate::alerts::Kind::RegistrationFailed, key, subject, message, detail).await;
        }
    }
    result
}

async fn register_with_provider(app: &App, deployed: &Deployed) -> Result<Vec<String>, String> {
    let host = crate::timed::host::RegistrationHost::borrowed(app, deployed);
    if let Some(registering) = deployed.trigger.register(&host) {
        return registering.await;
    }
    let url = app.config.public_url.as_deref().map_or_else(
        || format!("<public address>/hooks/{}/{}", deployed.environment, deployed.name()),
        |p| hook_url(p, &deployed.environment, deployed.name()),
    );
    // Nothing to register (the trigger connects out, or is its own ingress), or by hand.
    Ok(deployed.trigger.manual_registration(&url).into_iter().collect())
}

/// Removes what [`register`] created for the active deployment `deployed`.
pub async fn unregister(app: &App, deployed: &Deployed) -> Result<Vec<String>, String> {
    let host = crate::timed::host::RegistrationHost::borrowed(app, deployed);
    if let Some(unregistering) = deployed.trigger.unregister(&host) {
        return unregistering.await;
    }
    Ok(Vec::new())
}
