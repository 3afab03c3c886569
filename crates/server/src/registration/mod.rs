//! Registration with the event source at deploy and undeploy. A trigger type registers itself
//! (`Trigger::register`: GitHub repository webhooks) through the server as its host; Google
//! Calendar watch channels are still opened here; a type registered by hand (Slack) gets its
//! Request URL shown. Whatever is registered is kept per (component, environment) in the store,
//! so a later deploy updates it instead of creating another.

use crate::app::App;
use crate::deploy::Deployed;
use onset_sources::triggers::GoogleCalendar;

pub use onset_sources::triggers::registration::hook_url;

/// The public base URL, or the error that says how to give it.
pub(crate) fn public_url<'a>(app: &'a App, deployed: &Deployed, what: &str) -> Result<&'a str, String> {
    app.config.public_url.as_deref().ok_or_else(|| {
        format!(
            "component `{}`: {what} needs the address the provider can reach: start the server with \
             --public-url https://your.host (or ONSET_PUBLIC_URL)",
            deployed.name()
        )
    })
}

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
    let host = crate::timed::host::RegistrationHost { app, deployed };
    if let Some(registering) = deployed.trigger.register(&host) {
        return registering.await;
    }
    let trigger = deployed.trigger.as_any();
    if let Some(settings) = trigger.downcast_ref::<GoogleCalendar>() {
        return crate::google::channel::register(app, deployed, settings).await;
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
    let host = crate::timed::host::RegistrationHost { app, deployed };
    if let Some(unregistering) = deployed.trigger.unregister(&host) {
        return unregistering.await;
    }
    let trigger = deployed.trigger.as_any();
    if let Some(settings) = trigger.downcast_ref::<GoogleCalendar>() {
        return crate::google::channel::unregister(app, deployed, settings).await;
    }
    Ok(Vec::new())
}
