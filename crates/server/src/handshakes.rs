//! Handshakes answered for a trigger (the verifier says which and how) and the secret one may
//! hand over (Asana's `X-Hook-Secret`), sealed as trigger state so every node and every restart
//! verifies with it.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::deploy::Deployed;
use crate::error::ApiError;
use onset_sources::HandshakeAnswer;

const STATE_KEY: &str = "handshake_secret";

#[derive(Serialize, Deserialize)]
struct Stored {
    key_id: String,
    sealed: String,
    /// The deployment that took it: after each new deployment one new handshake is accepted.
    deployment: String,
}

/// The sealed secret of an earlier handshake, opened, if there is one.
async fn stored(app: &App, deployed: &Deployed) -> Option<Stored> {
    crate::registration::load_state::<Stored>(app, deployed.name(), &deployed.environment, STATE_KEY).await.ok()?
}

/// Gives the verifier the secret an earlier handshake handed over (on any node).
pub async fn load_learned(app: &App, deployed: &Deployed) {
    let Some(s) = stored(app, deployed).await else { return };
    let keyring = app.keyring();
    let Some(key) = keyring.get(&s.key_id) else {
        tracing::warn!(component = deployed.name(), "the handshake secret is sealed with a master key this node lacks");
        return;
    };
    match key.open(deployed.name(), &deployed.environment, STATE_KEY, &s.sealed) {
        Ok(secret) => deployed.verifier.learn(secret.as_bytes()),
        Err(e) => tracing::warn!(component = deployed.name(), "cannot open the handshake secret: {e}"),
    }
}

/// The HTTP answer to a handshake; a handed-over secret is sealed and stored first.
pub async fn respond(app: &App, deployed: &Deployed, answer: HandshakeAnswer) -> Result<Response, ApiError> {
    if let Some(secret) = &answer.learned {
        if let Some(held) = stored(app, deployed).await
            && held.deployment == deployed.id
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "handshake_secret_held",
                format!(
                    "`{}` in `{}` already took a handshake secret in this deployment; to accept a new one (a \
                     re-created webhook), deploy the component again, then create the webhook",
                    deployed.name(),
                    deployed.environment
                ),
            ));
        }
        let keyring = app.keyring();
        let key = keyring.sealing();
        let sealed = key
            .seal(deployed.name(), &deployed.environment, STATE_KEY, secret)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "seal_failed", e))?;
        let stored = Stored { key_id: key.id.clone(), sealed, deployment: deployed.id.clone() };
        let text = serde_json::to_string(&stored).expect("plain struct");
        app.store
            .set_trigger_state(deployed.name().to_string(), deployed.environment.clone(), STATE_KEY.into(), Some(text))
            .await
            .map_err(|e| {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string());
                err.retry_after = Some(1);
                err
            })?;
        deployed.verifier.learn(secret.as_bytes());
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Some(ct) = answer.content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    for (name, value) in answer.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    Ok(response)
}
