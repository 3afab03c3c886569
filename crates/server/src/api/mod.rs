//! The control plane under `/api/v1`, health and metrics: typed handlers registered together
//! with their OpenAPI description ([`doc`]), so the document at `/api/v1/openapi.json` always
//! lists every route.

mod access;
mod accounts;
mod alerts;
mod catalog;
mod components;
mod config;
mod deployments;
pub mod doc;
mod events;
mod gateway;
mod health;
pub mod oauth2;
pub mod portal;
mod series;
mod studio;
pub mod types;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::MethodRouter;
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::error::ApiError;
use doc::Op;

/// Query parameters of type `T`, or 400 `invalid_query` naming the problem.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Q(v))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()).at("query"))
    }
}

/// A JSON body of type `T`, or 400 `malformed_body` saying what is wrong with it.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        crate::error::json_body(axum::Json::<T>::from_request(req, state).await).map(Body)
    }
}

/// A JSON body of type `T` that may be left out entirely (then `T::default()`).
pub struct OptionalBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let empty = req.headers().get(axum::http::header::CONTENT_LENGTH).is_some_and(|v| v == "0")
            || (req.headers().get(axum::http::header::CONTENT_TYPE).is_none()
                && req.headers().get(axum::http::header::TRANSFER_ENCODING).is_none()
                && req.headers().get(axum::http::header::CONTENT_LENGTH).is_none());
        if empty {
            return Ok(OptionalBody(T::default()));
        }
        Body::<T>::from_request(req, state).await.map(|Body(v)| OptionalBody(v))
    }
}

/// A list filter's environment: none, or a known one ([`crate::service::environment`]).
fn environment_filter(app: &App, given: Option<&str>) -> Result<Option<String>, ApiError> {
    Ok(crate::service::environment_filter(app, given)?)
}

fn limit(given: Option<u32>) -> Result<u32, ApiError> {
    Ok(crate::service::limit(given)?)
}

/// Routes and their descriptions, built together.
struct Table {
    public: Router<Arc<App>>,
    authenticated: Router<Arc<App>>,
    ops: Vec<Op>,
}

impl Table {
    fn add(mut self, op: Op, route: MethodRouter<Arc<App>>) -> Table {
        if op.authenticated {
            self.authenticated = self.authenticated.route(op.path, route);
        } else {
            self.public = self.public.route(op.path, route);
        }
        self.ops.push(op);
        self
    }
}

fn table() -> Table {
    let t = Table { public: Router::new(), authenticated: Router::new(), ops: Vec::new() };
    let t = health::routes(t);
    let t = catalog::routes(t);
    let t = components::routes(t);
    let t = events::routes(t);
    let t = deployments::routes(t);
    let t = access::routes(t);
    let t = series::routes(t);
    let t = alerts::routes(t);
    let t = accounts::routes(t);
    let t = studio::routes(t);
    let t = gateway::routes(t);
    let t = oauth2::routes(t);
    config::routes(t)
}

/// The OpenAPI document of every route (`onset openapi`, `GET /api/v1/openapi.json`).
pub fn openapi() -> serde_json::Value {
    doc::document(&table().ops)
}

/// The control plane's router: authenticated routes behind a token, the rest open.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    let Table { public, authenticated, .. } = table();
    let authenticated =
        authenticated.route_layer(axum::middleware::from_fn_with_state(app, crate::auth::require_token));
    public.merge(authenticated)
}
