//! API management at the ingress, before anything is stored: rate limits (the API's, the
//! resource's, per client address, and the subscription's plan and quotas), API keys and OAuth2
//! access tokens, each refusal answered the way the ingress answers (`Rejection`).

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, Uri};

use super::Rejection;
use crate::app::App;
use crate::deploy::Deployed;
use crate::error::ApiError;

/// The API's and the resource's rate limits, taken together before anything is stored: over
/// either, 429 with `Retry-After`, `RateLimit-Policy` and `RateLimit`.
pub(super) async fn rate_limit(
    app: &App,
    deployed: &Deployed,
    pattern: &str,
    method: &str,
    plan: Option<&onset_gateway::Quota>,
    quotas: &[onset_gateway::Quota],
) -> Result<(), onset_gateway::Refusal> {
    let resource = deployed.resource_quotas.iter().find(|(p, m, _)| p == pattern && m == method).map(|(_, _, q)| q);
    let mut limits = [deployed.api_quota.as_ref(), resource, plan, quotas.first(), quotas.get(1), quotas.get(2)]
        .into_iter()
        .flatten();
    let Some(first) = limits.next() else { return Ok(()) };
    // At most six, on the stack.
    let mut taken = [first; 6];
    let mut n = 1;
    for q in limits {
        taken[n] = q;
        n += 1;
    }
    // On a shared database the limits hold across the nodes.
    if app.store.shared() {
        crate::quotas::acquire(app, &taken[..n]).await
    } else {
        app.limiter.acquire(&taken[..n], std::time::Instant::now())
    }
}

/// The client's address: from `--client-ip-header` when set and given (the last entry of a list,
/// the one the nearest proxy added), else the connection's peer.
pub(super) fn client_ip(app: &App, headers: &HeaderMap, peer: Option<std::net::IpAddr>) -> Option<std::net::IpAddr> {
    let from_proxy = app.config.client_ip_header.as_deref().and_then(|name| {
        let value = headers.get_all(name).iter().rev().find_map(|v| v.to_str().ok())?;
        value.rsplit(',').next()?.trim().parse().ok()
    });
    from_proxy.or(peer)
}

/// `trigger.with.security: { scheme: api_key }`: the request's key must be a subscribed
/// application's, of the environment's kind; answers the subscription's plan limit. No key or an
/// unknown one is 401, a key that may not call this API here 403 — before anything is stored.
pub(super) async fn api_key(
    app: &App,
    deployed: &Deployed,
    headers: &HeaderMap,
    uri: &Uri,
    environment: &str,
    component: &str,
) -> Result<Allowance, Rejection> {
    use onset_gateway::security::{KeyIn, Security};
    let Security::ApiKey(place) = &deployed.security else { return Ok((None, Vec::new())) };
    let (given, location) = match place {
        KeyIn::Header(name) => {
            (headers.get(name.as_str()).and_then(|v| v.to_str().ok()).map(str::to_string), format!("header {name}"))
        }
        KeyIn::Query(name) => (
            uri.query().and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
            }),
            format!("query {name}"),
        ),
    };
    let unauthorized = |code: &'static str, message: String| {
        ("unauthorized", ApiError::new(StatusCode::UNAUTHORIZED, code, message).at(location.clone()))
    };
    let Some(key) = given.filter(|k| !k.trim().is_empty()) else {
        return Err(unauthorized("api_key_missing", format!("this API needs an application's key in {location}")));
    };
    let access = crate::keys::KeyCache::access(app, key.trim(), environment, component)
        .await
        .map_err(|e| ("error", ApiError::from(crate::service::ServiceError::from(e))))?;
    let forbidden = |code: &'static str, message: String| {
        ("forbidden", ApiError::new(StatusCode::FORBIDDEN, code, message).at(location.clone()))
    };
    match access {
        crate::keys::Access::Allowed { quota, subscription, daily, monthly } => {
            Ok(allowance(quota, &subscription, daily, monthly))
        }
        crate::keys::Access::Unknown => {
            Err(unauthorized("api_key_invalid", "the API key is unknown or was replaced".into()))
        }
        crate::keys::Access::WrongEnvironment { kind } => Err(forbidden(
            "api_key_environment",
            format!(
                "a {kind} key does not call `{environment}`: sandbox keys call development, production keys production"
            ),
        )),
        crate::keys::Access::NotSubscribed { application } => Err(forbidden(
            "not_subscribed",
            format!("application `{application}` is not subscribed to `{component}` in `{environment}`"),
        )),
    }
}

/// What a subscription allows: its plan's limit and its period quotas.
pub(super) type Allowance = (Option<Arc<onset_gateway::Quota>>, Vec<onset_gateway::Quota>);

fn allowance(
    quota: Option<Arc<onset_gateway::Quota>>,
    subscription: &str,
    daily: Option<u64>,
    monthly: Option<u64>,
) -> Allowance {
    let periods = if daily.is_some() || monthly.is_some() {
        crate::keys::period_quotas(subscription, daily, monthly, jiff::Timestamp::now())
    } else {
        Vec::new()
    };
    (quota, periods)
}

/// `trigger.with.security: { scheme: oauth2 }`: a bearer JWT of Onset's authorization server or
/// the external issuer, for this API, with the scopes its resource and method need. Onset's
/// tokens also need the application's subscription here (whose plan then applies). 401 for a
/// missing or bad token, 403 for a good one that may not do this — before anything is stored.
pub(super) async fn bearer(
    app: &App,
    scheme: &onset_gateway::security::OAuth2,
    headers: &HeaderMap,
    (pattern, method): (&str, &str),
    environment: &str,
    component: &str,
) -> Result<Allowance, Rejection> {
    let challenge = |error: Option<(&str, &str)>| -> String {
        match error {
            None => r#"Bearer realm="onset""#.to_string(),
            Some((code, detail)) => {
                format!(r#"Bearer realm="onset", error="{code}", error_description="{}""#, detail.replace('"', "'"))
            }
        }
    };
    let unauthorized = |code: &'static str, message: String, rfc: Option<&str>| {
        let value = challenge(rfc.map(|r| (r, message.as_str())));
        let e = ApiError::new(StatusCode::UNAUTHORIZED, code, message).at("header authorization");
        ("unauthorized", e.with_header(axum::http::header::WWW_AUTHENTICATE, value))
    };
    let given = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (kind, token) = v.split_once(' ')?;
        kind.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let Some(token) = given.filter(|t| !t.is_empty()) else {
        return Err(unauthorized(
            "token_missing",
            "this API needs an OAuth2 access token: `Authorization: Bearer <token>`".into(),
            None,
        ));
    };
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok());
    let base = crate::service::components::ingress_base(app, host);
    let api_url = format!("{base}/hooks/{environment}/{component}");
    let claims = match crate::oauth2::check(app, scheme, token, &base, &api_url).await {
        Ok(c) => c,
        Err(crate::oauth2::Refused::Token(e)) => return Err(unauthorized(e.code, e.message, Some("invalid_token"))),
        Err(crate::oauth2::Refused::Unavailable(detail)) => {
            tracing::warn!(%detail, component, "cannot check an access token");
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "issuer_unavailable",
                "the token issuer's keys cannot be fetched now; retry later",
            );
            e.retry_after = Some(5);
            return Err(("error", e));
        }
    };
    let missing: Vec<&str> =
        scheme.required(pattern, method).filter(|s| !claims.scopes.iter().any(|c| c == s)).collect();
    if !missing.is_empty() {
        let all: Vec<&str> = scheme.required(pattern, method).collect();
        let message =
            format!("{method} {pattern} needs the scope{} {}", if all.len() == 1 { "" } else { "s" }, all.join(" "));
        let challenge = format!(r#"Bearer realm="onset", error="insufficient_scope", scope="{}""#, all.join(" "));
        let e = ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", message)
            .at("header authorization")
            .with_header(axum::http::header::WWW_AUTHENTICATE, challenge);
        return Err(("forbidden", e));
    }
    if scheme.external.is_some() {
        return Ok((None, Vec::new()));
    }
    let client_id = claims.client_id.unwrap_or_default();
    let access = crate::keys::KeyCache::client_access(app, &client_id, environment, component)
        .await
        .map_err(|e| ("error", ApiError::from(crate::service::ServiceError::from(e))))?;
    match access {
        crate::keys::Access::Allowed { quota, subscription, daily, monthly } => {
            Ok(allowance(quota, &subscription, daily, monthly))
        }
        crate::keys::Access::Unknown | crate::keys::Access::WrongEnvironment { .. } => {
            Err(unauthorized("token_invalid", "the token's application no longer exists".into(), Some("invalid_token")))
        }
        crate::keys::Access::NotSubscribed { application } => Err((
            "forbidden",
            ApiError::new(
                StatusCode::FORBIDDEN,
                "not_subscribed",
                format!("application `{application}` is not subscribed to `{component}` in `{environment}`"),
            )
            .at("header authorization"),
        )),
    }
}

/// The 429 of a refused request.
pub(super) fn rate_limited(refusal: onset_gateway::Refusal) -> Rejection {
    let what = match refusal.policy {
        "api" => "the API",
        "resource" => "this resource",
        "plan" => "the subscription's plan",
        "daily" => "the subscription's daily quota",
        "ip" => "this API, per client address,",
        _ => "the subscription's monthly quota",
    };
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "{what} takes {} requests per {}s; retry after {} s",
            refusal.limit,
            refusal.window.as_secs(),
            refusal.retry_after_secs
        ),
    );
    e.rate_limited = Some(Box::new(refusal));
    ("rate_limited", e)
}
